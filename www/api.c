/*
 * The collector's JSON API and Prometheus metrics: status, exporters and
 * /metrics. Handlers run on the loop thread and read the tables directly.
 */
#include "engine/engine.h"
#include "history/history.h"
#include "rrd/rrd.h"
#include "www/www.h"

#include <stdio.h>
#include <stdlib.h>

static void counters_json(floe_json *j, const floe_counters *c)
{
    floe_json_obj_begin(j);
    floe_counters_json(j, c);
    floe_json_obj_end(j);
}

static void sources_json(floe_json *j, const floe_engine *e, uint64_t *drops_total)
{
    floe_json_key(j, "listeners");
    floe_json_arr_begin(j);
    for (const floe_list *it = e->sources.next; it != &e->sources; it = it->next) {
        const floe_source *s = FLOE_CONTAINER_OF(it, floe_source, link);
        uint64_t drops = s->drops ? s->drops(s) : 0;
        *drops_total += drops;
        floe_json_obj_begin(j);
        floe_json_kstr(j, "address", s->name);
        floe_json_kstr(j, "transport", s->transport ? s->transport : "udp");
        floe_json_ku64(j, "datagrams", s->datagrams);
        floe_json_ku64(j, "rcvbuf", (uint64_t)(s->rcvbuf / 2));
        floe_json_ku64(j, "socket_drops", drops);
        if (s->describe)
            s->describe(s, j);
        floe_json_obj_end(j);
    }
    floe_json_arr_end(j);
}

static void tables_json(floe_json *j, const floe_tables *t)
{
    floe_json_key(j, "tables");
    floe_json_obj_begin(j);
    floe_tables_stats_json(j, &t->st);
    floe_json_ku64(j, "interfaces", t->ifaces.count);
    floe_json_ku64(j, "max_flows", t->flow_pool.max);
    floe_json_ku64(j, "max_hosts", t->host_pool.max);
    floe_json_ku64(j, "memory_bytes", floe_tables_bytes(t));
    floe_json_obj_end(j);
}

static void scheduler_json(floe_json *j, const floe_sched *s)
{
    floe_json_key(j, "scheduler");
    floe_json_obj_begin(j);
    for (int p = 0; p < FLOE_PERIOD_COUNT; p++) {
        floe_json_key(j, floe_period_name(p));
        floe_json_obj_begin(j);
        floe_json_ku64(j, "ticks", s->ticks[p]);
        floe_json_ku64(j, "skipped", s->skipped[p]);
        floe_json_obj_end(j);
    }
    floe_json_obj_end(j);
}

static void plugins_status_json(floe_json *j, const floe_engine *e)
{
    floe_plugins_stats st;
    memset(&st, 0, sizeof(st));
    if (e->plugins)
        floe_plugins_stats_get(e->plugins, &st);
    floe_json_ku64(j, "plugins", st.plugins);
    floe_json_ku64(j, "alerts", e->n_alerts);
    if (e->alerts) {
        floe_json_key(j, "alert_store");
        floe_alerts_stats_json(e->alerts, j);
    }
    floe_json_key(j, "lua");
    floe_json_obj_begin(j);
    floe_json_ku64(j, "plugins_failed", st.plugins_failed);
    floe_json_ku64(j, "checks", st.checks);
    floe_json_ku64(j, "checks_disabled", st.checks_disabled);
    floe_json_ku64(j, "calls", st.calls);
    floe_json_ku64(j, "errors", st.errors);
    floe_json_ku64(j, "skipped", st.skipped);
    floe_json_ku64(j, "time_ns", st.ns);
    floe_json_ku64(j, "alerts_engaged", st.alerts_engaged);
    floe_json_ku64(j, "reloads", st.reloads);
    floe_json_obj_end(j);
}

/* The daemon's loop: how busy it is, and its longest turns. */
static void loop_json(floe_json *j, const floe_loop_stats *s)
{
    floe_json_key(j, "loop");
    floe_json_obj_begin(j);
    floe_json_ku64(j, "turns", s->turns);
    floe_json_ku64(j, "busy_ms", s->busy_ns / 1000000);
    floe_json_ku64(j, "idle_ms", s->idle_ns / 1000000);
    floe_json_ku64(j, "busy_pct", floe_loop_busy_pct(s));
    floe_json_ku64(j, "longest_turn_us", floe_loop_recent_longest_ns(s) / 1000);
    floe_json_ku64(j, "longest_turn_ever_us", s->longest_ns / 1000);
    floe_json_ku64(j, "longest_turn_at_ms", s->longest_at_ms);
    floe_json_obj_end(j);
}

static void on_status(floe_www_req *req, void *ud)
{
    floe_engine *e = ud;
    const floe_ingest *ing = &e->ing;
    floe_buf b;
    floe_json j;
    floe_counters total;
    uint64_t drops = 0;

    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_json_kstr(&j, "version", PACKAGE_VERSION);
    floe_json_ku64(&j, "uptime_s", (floe_time_ms() - e->start_ms) / 1000);
    floe_json_ku64(&j, "started_ms", e->start_ms);
    floe_json_key(&j, "protocols");
    floe_json_obj_begin(&j);
    for (int p = 0; p < FLOE_PROTO_COUNT; p++) {
        floe_json_key(&j, floe_proto_name(p));
        counters_json(&j, &ing->proto[p]);
    }
    floe_json_key(&j, "unknown");
    counters_json(&j, &ing->unknown);
    floe_json_obj_end(&j);
    floe_ingest_totals(ing, &total);
    floe_json_key(&j, "totals");
    counters_json(&j, &total);
    floe_json_ku64(&j, "exporters", ing->exporters.map.count);
    floe_json_ku64(&j, "exporter_evictions", ing->exporters.evictions);
    floe_json_ku64(&j, "templates", ing->dec.templates_live);
    floe_json_ku64(&j, "template_evictions", ing->dec.template_evictions);
    floe_json_ku64(&j, "template_expired", ing->dec.template_expired);
    floe_json_ku64(&j, "flows", e->tables_on ? e->tables.flows.count : 0);
    floe_json_ku64(&j, "hosts", e->tables_on ? e->tables.hosts.count : 0);
    if (e->tables_on)
        tables_json(&j, &e->tables);
    plugins_status_json(&j, e);
    floe_json_key(&j, "timeseries");
    floe_series_json(e, &j);
    if (e->history) {
        floe_json_key(&j, "history");
        floe_history_stats_json(e->history, &j);
    }
    scheduler_json(&j, &e->sched);
    sources_json(&j, e, &drops);
    floe_json_ku64(&j, "socket_drops", drops);
    floe_json_ku64(&j, "reloads", e->reloads);
    floe_json_ku64(&j, "reload_errors", e->reload_errors);
    loop_json(&j, &e->loop_stats);
    floe_json_obj_end(&j);
    floe_www_reply_json(req, 200, &b);
    floe_buf_close(&b);
}

static void exporter_json(floe_json *j, const floe_decoders *dec, const floe_exporter *ex)
{
    const floe_dec_ops *ops = floe_dec_ops_for((int)ex->key.proto);
    floe_json_obj_begin(j);
    floe_json_ku64(j, "id", ex->id);
    floe_json_key(j, "address");
    floe_json_addr(j, &ex->key.addr);
    if (ex->key.proto == FLOE_PROTO_SFLOW) {
        floe_json_key(j, "agent");
        floe_json_addr(j, &ex->key.agent);
    }
    floe_json_kstr(j, "proto", floe_proto_name((int)ex->key.proto));
    floe_json_ku64(j, "domain", ex->key.domain);
    floe_json_kstr(j, "transport", ex->key.session ? "tcp" : "udp");
    if (ex->key.session)
        floe_json_ku64(j, "session", ex->key.session);
    floe_json_ku64(j, "first_seen_ms", ex->first_seen_ms);
    floe_json_ku64(j, "last_seen_ms", ex->last_seen_ms);
    floe_json_ku64(j, "sampling", ex->dec.sampling ? ex->dec.sampling : 1);
    floe_json_ku64(j, "template_count", ex->dec.templates);
    floe_json_key(j, "sequence");
    floe_json_obj_begin(j);
    floe_json_ku64(j, "gaps", ex->c.seq_gaps);
    floe_json_ku64(j, "lost", ex->c.lost);
    floe_json_kstr(j, "lost_unit",
                   ex->key.proto == FLOE_PROTO_V5 || ex->key.proto == FLOE_PROTO_IPFIX
                       ? "records"
                       : "datagrams");
    floe_json_ku64(j, "resets", ex->c.seq_resets);
    floe_json_ku64(j, "next", ex->next_seq);
    floe_json_obj_end(j);
    floe_json_key(j, "counters");
    counters_json(j, &ex->c);
    if (ops && ops->describe)
        ops->describe(dec, &ex->dec, j);
    floe_json_obj_end(j);
}

static void on_exporters(floe_www_req *req, void *ud)
{
    floe_engine *e = ud;
    floe_buf b;
    floe_json j;
    floe_exporter *ex;

    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_json_ku64(&j, "count", e->ing.exporters.map.count);
    floe_json_ku64(&j, "max", e->ing.exporters.max);
    floe_json_ku64(&j, "evictions", e->ing.exporters.evictions);
    floe_json_key(&j, "exporters");
    floe_json_arr_begin(&j);
    FLOE_EXPORTERS_FOREACH(&e->ing.exporters, ex)
        exporter_json(&j, &e->ing.dec, ex);
    floe_json_arr_end(&j);
    floe_json_obj_end(&j);
    floe_www_reply_json(req, 200, &b);
    floe_buf_close(&b);
}

/* ---- Prometheus -------------------------------------------------------- */

static void metric_head(floe_buf *b, const char *name, const char *type, const char *help)
{
    floe_buf_printf(b, "# HELP floe_%s %s\n# TYPE floe_%s %s\n", name, help, name, type);
}

static void metrics_counters(floe_buf *b, const floe_engine *e)
{
    char labels[FLOE_PROTO_COUNT + 1][32];
    const char *lp[FLOE_PROTO_COUNT + 1];
    const floe_counters *cs[FLOE_PROTO_COUNT + 1];
    for (int p = 0; p <= FLOE_PROTO_COUNT; p++) {
        snprintf(labels[p], sizeof(labels[p]), "proto=\"%s\"", floe_proto_name(p));
        lp[p] = labels[p];
        cs[p] = p < FLOE_PROTO_COUNT ? &e->ing.proto[p] : &e->ing.unknown;
    }
    floe_counters_metrics(b, lp, cs, FLOE_PROTO_COUNT + 1);
    metric_head(b, "malformed_reason_total", "counter", "Rejects by protocol and reason.");
    for (int p = 0; p <= FLOE_PROTO_COUNT; p++) {
        for (int r = 1; r < FLOE_REASON_COUNT; r++)
            if (cs[p]->reason[r])
                floe_buf_printf(b, "floe_malformed_reason_total{proto=\"%s\",reason=\"%s\"} %llu\n",
                                floe_proto_name(p), floe_reason_name(r),
                                (unsigned long long)cs[p]->reason[r]);
    }
}

static void metrics_exporters(floe_buf *b, floe_engine *e)
{
    static const char *const names[] = {"datagrams", "records", "malformed", "lost"};
    char addr[FLOE_ADDR_STRLEN];
    for (size_t i = 0; i < FLOE_ARRAY_LEN(names); i++) {
        char name[64];
        floe_exporter *ex;
        snprintf(name, sizeof(name), "exporter_%s_total", names[i]);
        metric_head(b, name, "counter", "Per exporter; see the protocol totals for meaning.");
        FLOE_EXPORTERS_FOREACH(&e->ing.exporters, ex) {
            floe_buf_printf(b, "floe_%s{exporter=\"%s\",domain=\"%u\",proto=\"%s\"} %llu\n", name,
                            floe_addr_format(&ex->key.addr, addr), ex->key.domain,
                            floe_proto_name((int)ex->key.proto),
                            (unsigned long long)*floe_counters_find(&ex->c, names[i]));
        }
    }
}

static void on_metrics(floe_www_req *req, void *ud)
{
    floe_engine *e = ud;
    floe_buf b;
    floe_buf_init(&b);
    metric_head(&b, "uptime_seconds", "gauge", "Seconds since floe started.");
    floe_buf_printf(&b, "floe_uptime_seconds %llu\n",
                    (unsigned long long)((floe_time_ms() - e->start_ms) / 1000));
    metrics_counters(&b, e);
    metric_head(&b, "exporters", "gauge", "Exporters in the table.");
    floe_buf_printf(&b, "floe_exporters %zu\n", e->ing.exporters.map.count);
    metric_head(&b, "exporter_evictions_total", "counter", "Exporters evicted at the bound.");
    floe_buf_printf(&b, "floe_exporter_evictions_total %llu\n",
                    (unsigned long long)e->ing.exporters.evictions);
    metric_head(&b, "templates", "gauge", "Templates held.");
    floe_buf_printf(&b, "floe_templates %llu\n", (unsigned long long)e->ing.dec.templates_live);
    metric_head(&b, "template_evictions_total", "counter", "Templates evicted at a bound.");
    floe_buf_printf(&b, "floe_template_evictions_total %llu\n",
                    (unsigned long long)e->ing.dec.template_evictions);
    metric_head(&b, "socket_drops_total", "counter", "Datagrams the kernel dropped per socket.");
    for (const floe_list *it = e->sources.next; it != &e->sources; it = it->next) {
        const floe_source *src = FLOE_CONTAINER_OF(it, floe_source, link);
        floe_buf_printf(&b, "floe_socket_drops_total{listener=\"%s\"} %llu\n", src->name,
                        (unsigned long long)(src->drops ? src->drops(src) : 0));
    }
    if (e->tables_on)
        floe_tables_stats_metrics(&b, &e->tables.st);
    if (e->plugins)
        floe_plugins_metrics(e->plugins, &b);
    if (e->alerts)
        floe_alerts_metrics(e->alerts, &b);
    if (e->ts)
        floe_ts_stats_prometheus(e->ts, &b);
    if (e->history)
        floe_history_metrics(e->history, &b);
    metric_head(&b, "loop_turns_total", "counter", "Turns of the event loop.");
    floe_buf_printf(&b, "floe_loop_turns_total %llu\n", (unsigned long long)e->loop_stats.turns);
    metric_head(&b, "loop_busy_seconds_total", "counter",
                "Time the event loop spent working rather than waiting for events.");
    floe_buf_printf(&b, "floe_loop_busy_seconds_total %.6f\n", e->loop_stats.busy_ns / 1e9);
    metric_head(&b, "loop_longest_turn_seconds", "gauge",
                "The longest turn of the event loop in the last 10 to 20 seconds.");
    floe_buf_printf(&b, "floe_loop_longest_turn_seconds %.6f\n",
                    floe_loop_recent_longest_ns(&e->loop_stats) / 1e9);
    metric_head(&b, "scheduler_ticks_total", "counter", "Scheduler ticks fired, by period.");
    for (int p = 0; p < FLOE_PERIOD_COUNT; p++)
        floe_buf_printf(&b, "floe_scheduler_ticks_total{period=\"%s\"} %llu\n", floe_period_name(p),
                        (unsigned long long)e->sched.ticks[p]);
    metrics_exporters(&b, e);
    if (!floe_buf_ok(&b)) {
        floe_buf_close(&b);
        floe_www_reply_error(req, 500, "out of memory");
        return;
    }
    floe_www_reply(req, 200, "text/plain; version=0.0.4", b.data, b.len);
    floe_buf_close(&b);
}

/* Every route the server has, with whether it needs authentication: what
 * the test that every route asks for it walks. */
static void on_routes(floe_www_req *req, void *ud)
{
    (void)ud;
    floe_www *w = floe_www_server(req);
    floe_buf b;
    floe_json j;
    const char *method, *path;
    unsigned flags;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_json_key(&j, "routes");
    floe_json_arr_begin(&j);
    for (size_t i = 0; floe_www_route_at(w, i, &method, &path, &flags) == 0; i++) {
        floe_json_obj_begin(&j);
        floe_json_kstr(&j, "method", method);
        floe_json_kstr(&j, "path", path);
        floe_json_key(&j, "prefix");
        floe_json_bool(&j, (flags & FLOE_WWW_PREFIX) != 0);
        floe_json_key(&j, "public");
        floe_json_bool(&j, (flags & FLOE_WWW_PUBLIC) != 0);
        floe_json_obj_end(&j);
    }
    floe_json_arr_end(&j);
    floe_json_obj_end(&j);
    floe_www_reply_json(req, 200, &b);
    floe_buf_close(&b);
}

/* The routes, one row each. */
static const floe_www_route_def api_routes[] = {
    {"GET", "/api/v1/status", 0, on_status},
    {"GET", "/api/v1/exporters", 0, on_exporters},
    {"GET", "/metrics", 0, on_metrics},
    {"GET", "/api/v1/routes", 0, on_routes},
};

int floe_api_register(floe_www *w, floe_engine *e)
{
    int rc = floe_www_routes(w, api_routes, FLOE_ARRAY_LEN(api_routes), e);
    if (rc == 0)
        rc = floe_api_tables_register(w, e);
    if (rc == 0)
        rc = floe_api_plugins_register(w, e);
    if (rc == 0)
        rc = floe_api_alerts_register(w, e);
    if (rc == 0)
        rc = floe_api_history_register(w, e);
    return rc != 0 ? rc : floe_api_ts_register(w, e);
}
