/*
 * The collector's JSON API and Prometheus metrics: status, exporters and
 * /metrics. Handlers run on the loop thread and read the tables directly.
 */
#include "collector/collector.h"
#include "www/www.h"

#include <stdio.h>
#include <stdlib.h>

/* The counters every protocol and exporter has, in API order. */
static const struct counter_field {
    const char *name;
    size_t off;
    const char *help;
} counter_fields[] = {
#define CF(m, help) {#m, offsetof(floe_counters, m), help}
    CF(datagrams, "Datagrams received."),
    CF(records, "Flow records decoded (sFlow: flow samples)."),
    CF(options_records, "Options data records decoded."),
    CF(bytes, "Sum of the delta octet counters, as exported."),
    CF(packets, "Sum of the delta packet counters, as exported."),
    CF(templates, "Template records received."),
    CF(options_templates, "Options template records received."),
    CF(withdrawals, "IPFIX template withdrawals received."),
    CF(missing_template, "Data sets skipped because their template was not yet known."),
    CF(counter_samples, "sFlow counter samples decoded."),
    CF(sflow_drops, "Samples the sFlow agents reported dropping."),
    CF(sflow_discards, "sFlow discarded-packet samples received."),
    CF(malformed, "Datagrams, sets or samples rejected as malformed."),
    CF(dropped, "Datagrams floe could not process (out of memory)."),
    CF(seq_gaps, "Forward jumps in export sequence numbers."),
    CF(lost, "Records (v5, IPFIX) or datagrams (v9, sFlow) lost, as sequence numbers show."),
    CF(seq_resets, "Backward jumps in sequence numbers (reordering or exporter restarts)."),
#undef CF
};

static uint64_t counter_get(const floe_counters *c, const struct counter_field *f)
{
    return *(const uint64_t *)(const void *)((const char *)c + f->off);
}

static void counters_json(floe_json *j, const floe_counters *c)
{
    floe_json_obj_begin(j);
    for (size_t i = 0; i < FLOE_ARRAY_LEN(counter_fields); i++)
        floe_json_ku64(j, counter_fields[i].name, counter_get(c, &counter_fields[i]));
    floe_counters_reasons_json(j, c);
    floe_json_obj_end(j);
}

static void listeners_json(floe_json *j, const floe_daemon *d, uint64_t *drops_total)
{
    floe_json_key(j, "listeners");
    floe_json_arr_begin(j);
    for (const floe_list *it = d->listeners.next; it != &d->listeners; it = it->next) {
        const floe_listener *l = FLOE_CONTAINER_OF(it, floe_listener, link);
        uint64_t drops = floe_listener_drops(l);
        *drops_total += drops;
        floe_json_obj_begin(j);
        floe_json_kstr(j, "address", l->name);
        floe_json_ku64(j, "datagrams", l->datagrams);
        floe_json_ku64(j, "rcvbuf", (uint64_t)(l->rcvbuf / 2));
        floe_json_ku64(j, "socket_drops", drops);
        floe_json_obj_end(j);
    }
    floe_json_arr_end(j);
}

static void tables_json(floe_json *j, const floe_tables *t)
{
    static const struct {
        const char *name;
        size_t off;
    } stats[] = {
#define TS(m) {#m, offsetof(floe_tables_stats, m)}
        TS(records),        TS(records_skipped), TS(flows_created),   TS(flows_ended),
        TS(flows_idle),     TS(flows_exporter_end), TS(flow_evictions), TS(host_evictions),
        TS(host_full),      TS(iface_evictions), TS(dpi_packets),     TS(dpi_detected),
        TS(dpi_over_budget), TS(dpi_no_payload),
#undef TS
    };
    floe_json_key(j, "tables");
    floe_json_obj_begin(j);
    for (size_t i = 0; i < FLOE_ARRAY_LEN(stats); i++)
        floe_json_ku64(j, stats[i].name,
                       *(const uint64_t *)(const void *)((const char *)&t->st + stats[i].off));
    floe_json_ku64(j, "interfaces", t->ifaces.count);
    floe_json_ku64(j, "max_flows", t->flow_pool.max);
    floe_json_ku64(j, "max_hosts", t->host_pool.max);
    floe_json_ku64(j, "memory_bytes", floe_tables_bytes(t));
    floe_json_key(j, "labels");
    floe_json_obj_begin(j);
    for (int s = FLOE_APP_GUESS; s <= FLOE_APP_EXPORTER; s++)
        floe_json_ku64(j, floe_app_source_name(s), t->st.labels[s]);
    floe_json_obj_end(j);
    floe_json_obj_end(j);
}

static void on_status(floe_www_req *req, void *ud)
{
    floe_daemon *d = ud;
    const floe_ingest *ing = &d->ing;
    floe_buf b;
    floe_json j;
    floe_counters total;
    uint64_t drops = 0;

    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_json_kstr(&j, "version", PACKAGE_VERSION);
    floe_json_ku64(&j, "uptime_s", (floe_time_ms() - d->start_ms) / 1000);
    floe_json_ku64(&j, "started_ms", d->start_ms);
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
    floe_json_ku64(&j, "flows", d->tables_on ? d->tables.flows.count : 0);
    floe_json_ku64(&j, "hosts", d->tables_on ? d->tables.hosts.count : 0);
    if (d->tables_on)
        tables_json(&j, &d->tables);
    floe_json_ku64(&j, "plugins", 0);
    floe_json_ku64(&j, "alerts", 0);
    listeners_json(&j, d, &drops);
    floe_json_ku64(&j, "socket_drops", drops);
    floe_json_ku64(&j, "reloads", d->reloads);
    floe_json_ku64(&j, "reload_errors", d->reload_errors);
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
    floe_daemon *d = ud;
    floe_buf b;
    floe_json j;
    floe_exporter *ex;

    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_json_ku64(&j, "count", d->ing.exporters.map.count);
    floe_json_ku64(&j, "max", d->ing.exporters.max);
    floe_json_ku64(&j, "evictions", d->ing.exporters.evictions);
    floe_json_key(&j, "exporters");
    floe_json_arr_begin(&j);
    floe_exporters_foreach(&d->ing.exporters, ex) exporter_json(&j, &d->ing.dec, ex);
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

static void metrics_counters(floe_buf *b, const floe_daemon *d)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(counter_fields); i++) {
        const struct counter_field *f = &counter_fields[i];
        char name[64];
        snprintf(name, sizeof(name), "%s_total", f->name);
        metric_head(b, name, "counter", f->help);
        for (int p = 0; p < FLOE_PROTO_COUNT; p++)
            floe_buf_printf(b, "floe_%s{proto=\"%s\"} %llu\n", name, floe_proto_name(p),
                            (unsigned long long)counter_get(&d->ing.proto[p], f));
        floe_buf_printf(b, "floe_%s{proto=\"unknown\"} %llu\n", name,
                        (unsigned long long)counter_get(&d->ing.unknown, f));
    }
    metric_head(b, "malformed_reason_total", "counter", "Rejects by protocol and reason.");
    for (int p = 0; p <= FLOE_PROTO_COUNT; p++) {
        const floe_counters *c = p < FLOE_PROTO_COUNT ? &d->ing.proto[p] : &d->ing.unknown;
        for (int r = 1; r < FLOE_REASON_COUNT; r++)
            if (c->reason[r])
                floe_buf_printf(b, "floe_malformed_reason_total{proto=\"%s\",reason=\"%s\"} %llu\n",
                                floe_proto_name(p), floe_reason_name(r),
                                (unsigned long long)c->reason[r]);
    }
}

static void metrics_exporters(floe_buf *b, floe_daemon *d)
{
    static const char *const names[] = {"datagrams", "records", "malformed", "lost"};
    static const size_t offs[] = {offsetof(floe_counters, datagrams),
                                  offsetof(floe_counters, records),
                                  offsetof(floe_counters, malformed), offsetof(floe_counters, lost)};
    char addr[FLOE_ADDR_STRLEN];
    for (size_t i = 0; i < FLOE_ARRAY_LEN(names); i++) {
        char name[64];
        floe_exporter *ex;
        snprintf(name, sizeof(name), "exporter_%s_total", names[i]);
        metric_head(b, name, "counter", "Per exporter; see the protocol totals for meaning.");
        floe_exporters_foreach(&d->ing.exporters, ex)
        {
            uint64_t v = *(const uint64_t *)(const void *)((const char *)&ex->c + offs[i]);
            floe_buf_printf(b, "floe_%s{exporter=\"%s\",domain=\"%u\",proto=\"%s\"} %llu\n", name,
                            floe_addr_format(&ex->key.addr, addr), ex->key.domain,
                            floe_proto_name((int)ex->key.proto), (unsigned long long)v);
        }
    }
}

static void on_metrics(floe_www_req *req, void *ud)
{
    floe_daemon *d = ud;
    floe_buf b;
    floe_buf_init(&b);
    metric_head(&b, "uptime_seconds", "gauge", "Seconds since floe started.");
    floe_buf_printf(&b, "floe_uptime_seconds %llu\n",
                    (unsigned long long)((floe_time_ms() - d->start_ms) / 1000));
    metrics_counters(&b, d);
    metric_head(&b, "exporters", "gauge", "Exporters in the table.");
    floe_buf_printf(&b, "floe_exporters %zu\n", d->ing.exporters.map.count);
    metric_head(&b, "exporter_evictions_total", "counter", "Exporters evicted at the bound.");
    floe_buf_printf(&b, "floe_exporter_evictions_total %llu\n",
                    (unsigned long long)d->ing.exporters.evictions);
    metric_head(&b, "templates", "gauge", "Templates held.");
    floe_buf_printf(&b, "floe_templates %llu\n", (unsigned long long)d->ing.dec.templates_live);
    metric_head(&b, "template_evictions_total", "counter", "Templates evicted at a bound.");
    floe_buf_printf(&b, "floe_template_evictions_total %llu\n",
                    (unsigned long long)d->ing.dec.template_evictions);
    metric_head(&b, "socket_drops_total", "counter", "Datagrams the kernel dropped per socket.");
    for (const floe_list *it = d->listeners.next; it != &d->listeners; it = it->next) {
        const floe_listener *l = FLOE_CONTAINER_OF(it, floe_listener, link);
        floe_buf_printf(&b, "floe_socket_drops_total{listener=\"%s\"} %llu\n", l->name,
                        (unsigned long long)floe_listener_drops(l));
    }
    metrics_exporters(&b, d);
    if (!floe_buf_ok(&b)) {
        floe_buf_close(&b);
        floe_www_reply_error(req, 500, "out of memory");
        return;
    }
    floe_www_reply(req, 200, "text/plain; version=0.0.4", b.data, b.len);
    floe_buf_close(&b);
}

/* The routes, one row each. */
static const struct api_route {
    const char *method;
    const char *path;
    unsigned flags;
    floe_www_handler handler;
} api_routes[] = {
    {"GET", "/api/v1/status", 0, on_status},
    {"GET", "/api/v1/exporters", 0, on_exporters},
    {"GET", "/metrics", 0, on_metrics},
};

int floe_api_register(floe_www *w, floe_daemon *d)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(api_routes); i++) {
        const struct api_route *r = &api_routes[i];
        int rc = floe_www_route(w, r->method, r->path, r->flags, r->handler, d);
        if (rc != 0)
            return rc;
    }
    return floe_api_tables_register(w, d);
}
