/*
 * The scheduler: minute, 5-minute, hour and day ticks on whatever clock the
 * engine is advanced with. Boundaries are multiples of each period's length
 * since the epoch, so a minute tick comes at :00 seconds wall time and a
 * day tick at 00:00 UTC, as in a replay of the same traffic.
 */
#include "engine/engine.h"

void floe_sched_init(floe_sched *s, floe_sched_fn fn, void *ud)
{
    memset(s, 0, sizeof(*s));
    s->fn = fn;
    s->ud = ud;
}

/* Fires the boundaries of one period in (from, to]. */
static void fire_period(floe_sched *s, int p, uint64_t from, uint64_t to)
{
    uint64_t len = floe_period_ms(p);
    uint64_t first = from / len + 1, last = to / len;
    if (last < first)
        return;
    if (last - first + 1 > FLOE_SCHED_CATCHUP) {
        s->skipped[p] += last - first + 1 - FLOE_SCHED_CATCHUP;
        first = last - FLOE_SCHED_CATCHUP + 1;
    }
    for (uint64_t k = first; k <= last; k++) {
        s->ticks[p]++;
        if (s->fn)
            s->fn(s->ud, p, k * len);
    }
}

void floe_sched_advance(floe_sched *s, uint64_t now_ms)
{
    if (s->now_ms == 0) {
        s->now_ms = now_ms;
        return;
    }
    if (now_ms <= s->now_ms)
        return;
    uint64_t from = s->now_ms;
    s->now_ms = now_ms;
    for (int p = 0; p < FLOE_PERIOD_COUNT; p++)
        fire_period(s, p, from, now_ms);
}
