/*
 * The built-in timeseries. At every minute the engine writes, for each
 * entity it keeps, how much its counters grew over that minute: the growth
 * since the entry's step mark (tables.h), after which the mark moves on. A
 * new entry's mark is zero, so its first minute counts everything it saw;
 * an evicted one simply stops. Points go to the timeseries store (rrd/),
 * which only queues them; the writer thread does the disk.
 *
 * The schemas are the rows of the table below. Interfaces and local hosts
 * are walked in slices between turns of the loop (a hundred thousand hosts
 * would hold it for tens of milliseconds); the system, the exporters, the
 * networks and the applications are few and written at the tick. Offline
 * (a replay) the whole walk runs at the tick, so every minute holds
 * exactly the records received in it.
 */
#include "engine/engine.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rrd/rrd.h"

/* Table slots visited per slice of the walk, live (about 2 ms of appends). */
#define WALK_SLICE 2048

enum builtin_id {
    S_SYSTEM_TRAFFIC,
    S_SYSTEM_INGEST,
    S_SYSTEM_TABLES,
    S_SYSTEM_ALERTS,
    S_SYSTEM_PLUGINS,
    S_SYSTEM_LOOP,
    S_EXPORTER,
    S_IFACE_TRAFFIC,
    S_IFACE_PACKETS,
    S_IFACE_COUNTERS,
    S_IFACE_ERRORS,
    S_NETWORK,
    S_APP,
    S_HOST_TRAFFIC,
    S_HOST_ACTIVITY,
    S_HOST_NDPI,
    S_COUNT
};

#define D FLOE_TS_DELTA
#define G FLOE_TS_GAUGE

static const struct builtin {
    const char *name, *title;
    const char *tags[2];
    struct {
        const char *name;
        floe_ts_type type;
        const char *unit, *title;
    } m[4];
} builtins[S_COUNT] = {
    [S_SYSTEM_TRAFFIC] = {"system:traffic", "Traffic", {NULL}, {{"bytes", D, "bytes", "Traffic"}}},
    [S_SYSTEM_INGEST] = {"system:ingest",
                         "Records and drops",
                         {NULL},
                         {{"records", D, "count", "Records"},
                          {"drops", D, "count", "Datagrams dropped (floe and the kernel)"},
                          {"malformed", D, "count", "Malformed"}}},
    [S_SYSTEM_TABLES] = {"system:tables",
                         "Active flows and hosts",
                         {NULL},
                         {{"flows", G, "count", "Flows"}, {"hosts", G, "count", "Hosts"}}},
    [S_SYSTEM_ALERTS] = {"system:alerts",
                         "Alerts raised",
                         {NULL},
                         {{"alerts", D, "count", "Alerts"}}},
    [S_SYSTEM_PLUGINS] = {"system:plugins",
                          "Time in plugins",
                          {NULL},
                          {{"lua_ms", G, "ms", "Lua time per minute"}}},
    [S_SYSTEM_LOOP] = {"system:loop",
                       "Collector loop",
                       {NULL},
                       {{"busy_pct", G, "%", "Busy (%)"},
                        {"longest_ms", G, "ms", "Longest turn (ms)"}}},
    [S_EXPORTER] = {"exporter:stats",
                    "Exporter",
                    {"exporter", "domain"},
                    {{"datagrams", D, "count", "Datagrams"},
                     {"records", D, "count", "Records"},
                     {"malformed", D, "count", "Malformed"},
                     {"lost", D, "count", "Lost"}}},
    [S_IFACE_TRAFFIC] = {"iface:traffic",
                         "Interface traffic (flows)",
                         {"exporter", "ifindex"},
                         {{"bytes_in", D, "bytes", "In"}, {"bytes_out", D, "bytes", "Out"}}},
    [S_IFACE_PACKETS] = {"iface:packets",
                         "Interface packets (flows)",
                         {"exporter", "ifindex"},
                         {{"packets_in", D, "packets", "In"},
                          {"packets_out", D, "packets", "Out"}}},
    [S_IFACE_COUNTERS] = {"iface:counters",
                          "Interface traffic (counters)",
                          {"exporter", "ifindex"},
                          {{"bytes_in", D, "bytes", "In"}, {"bytes_out", D, "bytes", "Out"}}},
    [S_IFACE_ERRORS] = {"iface:errors",
                        "Interface errors and discards (counters)",
                        {"exporter", "ifindex"},
                        {{"errors_in", D, "packets", "Errors in"},
                         {"errors_out", D, "packets", "Errors out"},
                         {"discards_in", D, "packets", "Discards in"},
                         {"discards_out", D, "packets", "Discards out"}}},
    [S_NETWORK] = {"network:traffic",
                   "Network traffic",
                   {"network"},
                   {{"bytes_in", D, "bytes", "In"},
                    {"bytes_out", D, "bytes", "Out"},
                    {"bytes_inner", D, "bytes", "Inside"}}},
    [S_APP] = {"app:traffic", "Application traffic", {"app"}, {{"bytes", D, "bytes", "Traffic"}}},
    [S_HOST_TRAFFIC] = {"host:traffic",
                        "Host traffic",
                        {"host"},
                        {{"bytes_sent", D, "bytes", "Sent"},
                         {"bytes_rcvd", D, "bytes", "Received"}}},
    [S_HOST_ACTIVITY] = {"host:activity",
                         "Host flows and score",
                         {"host"},
                         {{"flows_client", D, "count", "Flows as client"},
                          {"flows_server", D, "count", "Flows as server"},
                          {"score", G, "count", "Score"}}},
    [S_HOST_NDPI] = {"host:ndpi",
                     "Host applications",
                     {"host", "app"},
                     {{"bytes", D, "bytes", "Traffic"}}},
};

#undef D
#undef G

static unsigned n_metrics(const struct builtin *b)
{
    unsigned n = 0;
    while (n < FLOE_ARRAY_LEN(b->m) && b->m[n].name)
        n++;
    return n;
}

int floe_series_define(floe_engine *e, char *err, size_t errlen)
{
    for (size_t i = 0; i < S_COUNT; i++) {
        const struct builtin *b = &builtins[i];
        floe_ts_schema s;
        int rc = floe_ts_schema_init(&s, b->name, 60, err, errlen);
        snprintf(s.title, sizeof(s.title), "%s", b->title);
        for (size_t t = 0; rc == 0 && t < FLOE_ARRAY_LEN(b->tags) && b->tags[t]; t++)
            rc = floe_ts_schema_add_tag(&s, b->tags[t], err, errlen);
        for (unsigned m = 0; rc == 0 && m < n_metrics(b); m++)
            rc = floe_ts_schema_add_metric(&s, b->m[m].name, b->m[m].type, b->m[m].unit,
                                           b->m[m].title, err, errlen);
        const char *keep = floe_config_retention(e->cfg, b->name);
        if (rc == 0 && keep)
            rc = floe_ts_schema_set_retention(&s, keep, err, errlen);
        if (rc == 0)
            rc = floe_ts_define(e->ts, &s, err, errlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- writing points -------------------------------------------------------- */

/* The growth of a counter since its mark, which moves on; NaN (unknown)
 * when the counter went backwards (an exporter's counters reset). */
static double grow(uint64_t now, uint64_t *mark)
{
    double d = now >= *mark ? (double)(now - *mark) : NAN;
    *mark = now;
    return d;
}

static void put(floe_engine *e, int id, const char *const *tags, const double *v)
{
    floe_engine_ts_append(e, builtins[id].name, tags, v, n_metrics(&builtins[id]),
                          (uint64_t)e->series.step_s);
    e->series.points++;
}

static void put_system(floe_engine *e)
{
    floe_series *s = &e->series;
    floe_plugin_system sys;
    floe_engine_system(e, &sys);
    floe_plugins_stats ps = {0};
    if (e->plugins)
        floe_plugins_stats_get(e->plugins, &ps);
    double v[3];
    v[0] = grow(e->tables.st.bytes, &s->mark.bytes);
    put(e, S_SYSTEM_TRAFFIC, NULL, v);
    v[0] = grow(sys.records, &s->mark.records);
    v[1] = grow(sys.dropped + sys.socket_drops, &s->mark.drops);
    v[2] = grow(sys.malformed, &s->mark.malformed);
    put(e, S_SYSTEM_INGEST, NULL, v);
    v[0] = (double)sys.flows;
    v[1] = (double)sys.hosts;
    put(e, S_SYSTEM_TABLES, NULL, v);
    v[0] = grow(e->n_alerts, &s->mark.alerts);
    put(e, S_SYSTEM_ALERTS, NULL, v);
    v[0] = grow(ps.ns, &s->mark.lua_ns) / 1e6;
    put(e, S_SYSTEM_PLUGINS, NULL, v);
    /* The daemon's loop (a replay has none): its busy share and longest
     * turn over the step. */
    floe_loop_stats *l = &e->loop_stats;
    if (l->turns) {
        double busy = grow(l->busy_ns, &s->mark.loop_busy_ns);
        double idle = grow(l->idle_ns, &s->mark.loop_idle_ns);
        v[0] = busy + idle > 0 ? 100.0 * busy / (busy + idle) : NAN;
        v[1] = (double)l->step_longest_ns / 1e6;
        l->step_longest_ns = 0;
        put(e, S_SYSTEM_LOOP, NULL, v);
    }
}

static void put_exporters(floe_engine *e)
{
    floe_exporters *t = &e->ing.exporters;
    for (floe_list *it = t->lru.next; it != &t->lru; it = it->next) {
        floe_exporter *ex = FLOE_CONTAINER_OF(it, floe_exporter, lru);
        char addr[FLOE_ADDR_STRLEN], domain[16];
        const char *tags[2] = {floe_addr_format(&ex->key.addr, addr), domain};
        snprintf(domain, sizeof(domain), "%u", ex->key.domain);
        double v[4] = {grow(ex->c.datagrams, &ex->mark[0]), grow(ex->c.records, &ex->mark[1]),
                       grow(ex->c.malformed, &ex->mark[2]), grow(ex->c.lost, &ex->mark[3])};
        put(e, S_EXPORTER, tags, v);
    }
}

/* Sums the in (0) or out (1) packet counters of an sFlow counter sample. */
static uint64_t counter_pkts(const floe_ifcounters *c, int out)
{
    return out ? c->out_ucast + c->out_mcast + c->out_bcast
               : c->in_ucast + c->in_mcast + c->in_bcast;
}

static void put_iface(floe_engine *e, floe_iface *i)
{
    floe_iface_mark *m = &i->mark;
    floe_addr ex;
    char addr[FLOE_ADDR_STRLEN], ifindex[16];
    if (floe_engine_exporter_addr(e, i->exporter, &ex) != 0)
        return; /* its exporter was evicted */
    const char *tags[2] = {floe_addr_format(&ex, addr), ifindex};
    snprintf(ifindex, sizeof(ifindex), "%u", i->ifindex);
    double v[4] = {grow(i->bytes_in, &m->bytes_in), grow(i->bytes_out, &m->bytes_out)};
    put(e, S_IFACE_TRAFFIC, tags, v);
    v[0] = grow(i->pkts_in, &m->pkts_in);
    v[1] = grow(i->pkts_out, &m->pkts_out);
    put(e, S_IFACE_PACKETS, tags, v);
    if (!i->has_counters)
        return;
    /* Counter samples carry totals since the agent started: the first one
     * only sets the mark, and a minute without a new sample is unknown. */
    const floe_ifcounters *c = &i->counters;
    int fresh = i->counters_ms != m->counters_ms, first = m->counters_ms == 0;
    uint64_t now[8] = {c->in_octets, c->out_octets, counter_pkts(c, 0), counter_pkts(c, 1),
                       c->in_errors, c->out_errors, c->in_discards,     c->out_discards};
    uint64_t *mark[8] = {&m->octets[0], &m->octets[1], &m->pkts[0],     &m->pkts[1],
                         &m->errors[0], &m->errors[1], &m->discards[0], &m->discards[1]};
    double d[8];
    for (int k = 0; k < 8; k++)
        d[k] = fresh ? grow(now[k], mark[k]) : NAN;
    m->counters_ms = i->counters_ms;
    if (first)
        return;
    put(e, S_IFACE_COUNTERS, tags, d);
    put(e, S_IFACE_ERRORS, tags, d + 4);
}

static void put_nets_and_apps(floe_engine *e)
{
    floe_tables *t = &e->tables;
    floe_net *n;
    FLOE_NETS_FOREACH(t, n) {
        const char *tags[1] = {n->name};
        double v[3] = {grow(n->bytes_in, &n->mark[0]), grow(n->bytes_out, &n->mark[1]),
                       grow(n->bytes_inner, &n->mark[2])};
        put(e, S_NETWORK, tags, v);
    }
    for (size_t a = 0; a < t->n_apps; a++) {
        floe_app_totals *at = &t->apps[a];
        if (at->bytes == at->mark_bytes)
            continue; /* quiet this minute (or never seen) */
        const char *name = t->dpi ? floe_dpi_app_name(t->dpi, (uint16_t)a) : NULL;
        char id[16];
        if (!name) {
            snprintf(id, sizeof(id), "%u", (unsigned)(uint16_t)a);
            name = id;
        }
        const char *tags[1] = {name};
        double v[1] = {grow(at->bytes, &at->mark_bytes)};
        at->mark_pkts = at->pkts;
        put(e, S_APP, tags, v);
    }
}

static void put_host(floe_engine *e, floe_host *h)
{
    floe_host_mark *m = &h->mark;
    char addr[FLOE_ADDR_STRLEN];
    const char *tags[2] = {floe_addr_format(&h->addr, addr), NULL};
    double v[3] = {grow(h->bytes_sent, &m->bytes_sent), grow(h->bytes_rcvd, &m->bytes_rcvd)};
    put(e, S_HOST_TRAFFIC, tags, v);
    v[0] = grow(h->flows_client, &m->flows_client);
    v[1] = grow(h->flows_server, &m->flows_server);
    v[2] = (double)h->score;
    put(e, S_HOST_ACTIVITY, tags, v);
    /* Its timeseries.host_apps largest applications that moved. A slot
     * another application took over inherited a count (space-saving), so
     * its first minute is unknown and left out. Every slot's mark moves. */
    unsigned keep = 0;
    for (unsigned want = e->cfg->ts_host_apps; want; want--) {
        int best = -1;
        for (int k = 0; k < FLOE_HOST_TOP_APPS; k++)
            if (!(keep & (1u << k)) && h->top_bytes[k] &&
                (best < 0 || h->top_bytes[k] > h->top_bytes[best]))
                best = k;
        if (best < 0)
            break;
        keep |= 1u << best;
    }
    for (int k = 0; k < FLOE_HOST_TOP_APPS; k++) {
        uint16_t app = h->top_app[k];
        uint64_t bytes = h->top_bytes[k];
        int same = m->top_app[k] == app || m->top_bytes[k] == 0;
        uint64_t from = m->top_app[k] == app ? m->top_bytes[k] : 0;
        m->top_app[k] = app;
        m->top_bytes[k] = bytes;
        if (!same || bytes == from || !(keep & (1u << k)))
            continue;
        const char *name = e->tables.dpi ? floe_dpi_app_name(e->tables.dpi, app) : NULL;
        char id[16];
        if (!name) {
            snprintf(id, sizeof(id), "%u", app);
            name = id;
        }
        tags[1] = name;
        v[0] = (double)(bytes - from);
        put(e, S_HOST_NDPI, tags, v);
    }
}

/* Walks up to budget slots of the interfaces, then of the hosts; 1 while
 * slots remain. */
static int walk(floe_engine *e, size_t budget)
{
    floe_series *s = &e->series;
    size_t n_ifaces = floe_tables_slots(&e->tables, FLOE_TABLE_IFACES);
    for (; s->slot < n_ifaces && budget; s->slot++, budget--) {
        floe_iface *i = floe_tables_at(&e->tables, FLOE_TABLE_IFACES, s->slot);
        if (i)
            put_iface(e, i);
    }
    size_t end = n_ifaces + floe_tables_slots(&e->tables, FLOE_TABLE_HOSTS);
    for (; s->slot >= n_ifaces && s->slot < end && budget; s->slot++, budget--) {
        floe_host *h = floe_tables_at(&e->tables, FLOE_TABLE_HOSTS, s->slot - n_ifaces);
        if (h && h->net >= 0)
            put_host(e, h);
    }
    return s->slot < end;
}

static void step_done(floe_engine *e)
{
    floe_series *s = &e->series;
    s->walking = 0;
    if (e->ts)
        floe_ts_step_end(e->ts, s->step_s);
    s->steps++;
}

void floe_series_tick(floe_engine *e, uint64_t boundary_ms)
{
    floe_series *s = &e->series;
    if ((!e->ts && !e->tap.ts) || !e->tables_on)
        return;
    if (s->walking) { /* the previous minute's walk is still going: finish it */
        walk(e, SIZE_MAX);
        step_done(e);
        s->late++;
    }
    s->step_s = (int64_t)(boundary_ms / 1000);
    floe_tables_flush(&e->tables); /* the hosts, networks and interfaces catch up */
    put_system(e);
    put_exporters(e);
    put_nets_and_apps(e);
    s->slot = 0;
    s->walking = 1;
    if (e->mode != FLOE_ENGINE_LIVE) {
        walk(e, SIZE_MAX);
        step_done(e);
    }
}

int floe_series_run(floe_engine *e)
{
    floe_series *s = &e->series;
    if (!s->walking)
        return 0;
    if (walk(e, WALK_SLICE))
        return 1;
    step_done(e);
    return 0;
}

void floe_series_finish(floe_engine *e)
{
    if ((!e->ts && !e->tap.ts) || !e->tables_on)
        return;
    if (e->series.walking) {
        walk(e, SIZE_MAX);
        step_done(e);
    }
    /* Offline, the minute the input ended in is written too: a replay's
     * series then add up to its records. Live, a stop leaves it out, as the
     * next start could not add to a minute already written. */
    uint64_t step_ms = 60000;
    if (e->mode != FLOE_ENGINE_LIVE && e->now_ms % step_ms)
        floe_series_tick(e, (e->now_ms / step_ms + 1) * step_ms);
}

void floe_series_json(floe_engine *e, floe_json *j)
{
    floe_json_obj_begin(j);
    floe_json_ku64(j, "builtin_points", e->series.points);
    floe_json_ku64(j, "builtin_steps", e->series.steps);
    floe_json_ku64(j, "builtin_late", e->series.late);
    if (e->ts) {
        floe_json_key(j, "store");
        floe_ts_stats_json(e->ts, j);
    }
    floe_json_obj_end(j);
}
