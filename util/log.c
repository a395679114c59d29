/*
 * The logger: levels, stderr or syslog, and a per-call-site rate limit for
 * messages that packets can trigger. Counters are the primary signal; logs
 * say what changed and why.
 */
#include "util/util.h"

#include <stdio.h>
#include <syslog.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int level_syslog[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

void floe_log_init(floe_log *lg, int level, int use_syslog)
{
    memset(lg, 0, sizeof(*lg));
    lg->level = level;
    lg->use_syslog = use_syslog;
    lg->rl_burst = 5;
    lg->rl_window_ms = 60000;
    if (use_syslog)
        openlog("floe", LOG_PID, LOG_DAEMON);
}

int floe_log_level_parse(const char *name)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(level_names); i++)
        if (strcmp(name, level_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *floe_log_level_name(int level)
{
    if (level < 0 || level >= (int)FLOE_ARRAY_LEN(level_names))
        return "?";
    return level_names[level];
}

void floe_log_vwrite(floe_log *lg, int level, const char *fmt, va_list ap)
{
    if (lg && level > lg->level)
        return;
    if (level < 0)
        level = 0;
    if (level > FLOE_LOG_DEBUG)
        level = FLOE_LOG_DEBUG;
    if (lg && lg->use_syslog) {
        vsyslog(level_syslog[level], fmt, ap);
        return;
    }
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000,
                  level_names[level]);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    fprintf(stderr, "%s\n", line);
}

void floe_log_write(floe_log *lg, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    floe_log_vwrite(lg, level, fmt, ap);
    va_end(ap);
}

/* Picks the slot for a call site. Two sites sharing a slot share a budget,
 * which is acceptable: the limit exists to bound output, not to be exact. */
static floe_log_rl *rl_slot(floe_log *lg, const char *key)
{
    uintptr_t k = (uintptr_t)key;
    size_t i = (size_t)((k >> 4) ^ (k >> 12)) % FLOE_LOG_RL_SLOTS;
    return &lg->rl[i];
}

void floe_log_rl_write(floe_log *lg, int level, const char *fmt, ...)
{
    if (!lg || level > lg->level)
        return;
    floe_log_rl *s = rl_slot(lg, fmt);
    uint64_t now = floe_monotonic_ms();
    if (s->key != fmt || now - s->window_ms >= lg->rl_window_ms) {
        if (s->suppressed)
            floe_log_write(lg, level, "(%u similar messages suppressed in the last %u s)",
                           s->suppressed, lg->rl_window_ms / 1000);
        s->key = fmt;
        s->window_ms = now;
        s->count = 0;
        s->suppressed = 0;
    }
    if (s->count >= lg->rl_burst) {
        s->suppressed++;
        return;
    }
    s->count++;
    va_list ap;
    va_start(ap, fmt);
    floe_log_vwrite(lg, level, fmt, ap);
    va_end(ap);
}

uint64_t floe_time_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t floe_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct timespec floe_time_after(clockid_t clock, uint64_t ms)
{
    struct timespec at;
    clock_gettime(clock, &at);
    at.tv_sec += (time_t)(ms / 1000);
    at.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (at.tv_nsec >= 1000000000L) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000L;
    }
    return at;
}

/* ---- periods --------------------------------------------------------------- */

static const struct period {
    const char *name;
    uint64_t ms;
} periods[FLOE_PERIOD_COUNT] = {
#define PERIOD(id, name, seconds) {name, (uint64_t)(seconds)*1000},
#include "util/periods.def"
#undef PERIOD
};

const char *floe_period_name(int period)
{
    return period >= 0 && period < FLOE_PERIOD_COUNT ? periods[period].name : "?";
}

uint64_t floe_period_ms(int period)
{
    return period >= 0 && period < FLOE_PERIOD_COUNT ? periods[period].ms : 0;
}

int floe_period_parse(const char *name)
{
    for (int p = 0; p < FLOE_PERIOD_COUNT; p++)
        if (strcmp(name, periods[p].name) == 0)
            return p;
    return -1;
}
