/*
 * The counters of counters.def: summing a datagram's results, adding
 * totals, and their JSON, summary and Prometheus forms, all generated from
 * the one list so that a counter added there shows up everywhere.
 */
#include "engine/engine.h"

#include <stdio.h>

#define COUNTER(name, from, summary, help) +1
enum {
    N_COUNTERS = 0
#include "engine/counters.def"
};
#undef COUNTER

/* floe_counters_add and the tables below treat the struct as an array. */
_Static_assert(sizeof(floe_counters) == (N_COUNTERS + FLOE_REASON_COUNT) * sizeof(uint64_t),
               "floe_counters holds only the uint64_t counters of counters.def and reasons");

static const struct counter_field {
    const char *name;
    const char *summary;
    const char *help;
    size_t off;
} fields[] = {
#define COUNTER(name, from, summary, help) {#name, summary, help, offsetof(floe_counters, name)},
#include "engine/counters.def"
#undef COUNTER
};

static uint64_t get(const floe_counters *c, const struct counter_field *f)
{
    return *(const uint64_t *)(const void *)((const char *)c + f->off);
}

#define ADD_STATS(name) c->name += st->name;
#define ADD_SELF(name)
void floe_counters_add_stats(floe_counters *c, const floe_dec_stats *st)
{
    c->datagrams++;
#define COUNTER(name, from, summary, help) ADD_##from(name)
#include "engine/counters.def"
#undef COUNTER
    if (st->malformed)
        for (int i = 0; i < FLOE_REASON_COUNT; i++)
            c->reason[i] += st->reason[i];
}
#undef ADD_STATS
#undef ADD_SELF

void floe_counters_add(floe_counters *dst, const floe_counters *src)
{
    uint64_t *d = (uint64_t *)(void *)dst;
    const uint64_t *s = (const uint64_t *)(const void *)src;
    for (size_t i = 0; i < sizeof(*dst) / sizeof(uint64_t); i++)
        d[i] += s[i];
}

void floe_counters_reasons_json(floe_json *j, const floe_counters *c)
{
    floe_json_key(j, "malformed_reasons");
    floe_json_obj_begin(j);
    for (int r = 1; r < FLOE_REASON_COUNT; r++)
        if (c->reason[r])
            floe_json_ku64(j, floe_reason_name(r), c->reason[r]);
    floe_json_obj_end(j);
}

void floe_counters_json(floe_json *j, const floe_counters *c)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(fields); i++)
        floe_json_ku64(j, fields[i].name, get(c, &fields[i]));
    floe_counters_reasons_json(j, c);
}

void floe_counters_summary_json(floe_json *j, const floe_counters *c)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(fields); i++)
        if (fields[i].summary)
            floe_json_ku64(j, fields[i].summary, get(c, &fields[i]));
    floe_counters_reasons_json(j, c);
}

void floe_counters_metrics(floe_buf *b, const char *const *labels, const floe_counters *const *cs,
                           size_t n)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(fields); i++) {
        const struct counter_field *f = &fields[i];
        floe_buf_printf(b, "# HELP floe_%s_total %s\n# TYPE floe_%s_total counter\n", f->name,
                        f->help, f->name);
        for (size_t k = 0; k < n; k++)
            floe_buf_printf(b, "floe_%s_total{%s} %llu\n", f->name, labels[k],
                            (unsigned long long)get(cs[k], f));
    }
}

const uint64_t *floe_counters_find(const floe_counters *c, const char *name)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(fields); i++)
        if (strcmp(fields[i].name, name) == 0)
            return (const uint64_t *)(const void *)((const char *)c + fields[i].off);
    return NULL;
}
