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

/* ---- the loop's turns ------------------------------------------------- */

uint64_t floe_loop_turn(floe_loop_stats *s, uint64_t now_ns, uint64_t idle_ns, uint64_t wall_ms)
{
    if (!s->prev_now_ns || now_ns < s->prev_now_ns || idle_ns < s->prev_idle_ns) {
        /* The first report (or a clock that went back): a baseline only. */
        s->prev_now_ns = now_ns ? now_ns : 1;
        s->prev_idle_ns = idle_ns;
        s->cur.start_ns = now_ns;
        return 0;
    }
    uint64_t span = now_ns - s->prev_now_ns, idle = idle_ns - s->prev_idle_ns;
    uint64_t busy = span > idle ? span - idle : 0;
    s->prev_now_ns = now_ns;
    s->prev_idle_ns = idle_ns;
    s->turns++;
    s->busy_ns += busy;
    s->idle_ns += span - busy;
    if (busy > s->step_longest_ns)
        s->step_longest_ns = busy;
    if (busy > s->longest_ns) {
        s->longest_ns = busy;
        s->longest_at_ms = wall_ms;
    }
    if (now_ns - s->cur.start_ns >= FLOE_LOOP_WINDOW_NS) {
        s->last = s->cur;
        s->last.span_ns = now_ns - s->cur.start_ns;
        memset(&s->cur, 0, sizeof(s->cur));
        s->cur.start_ns = now_ns;
    }
    s->cur.turns++;
    s->cur.busy_ns += busy;
    if (busy > s->cur.longest_ns)
        s->cur.longest_ns = busy;
    return busy;
}

unsigned floe_loop_busy_pct(const floe_loop_stats *s)
{
    uint64_t busy = s->last.turns ? s->last.busy_ns : s->cur.busy_ns;
    uint64_t span = s->last.turns ? s->last.span_ns : s->prev_now_ns - s->cur.start_ns;
    if (!span)
        return 0;
    return busy >= span ? 100 : (unsigned)(busy * 100 / span);
}

uint64_t floe_loop_recent_longest_ns(const floe_loop_stats *s)
{
    return s->cur.longest_ns > s->last.longest_ns ? s->cur.longest_ns : s->last.longest_ns;
}
