/*
 * The JSON form of table entries: flows, hosts and interfaces, shared by the
 * HTTP API and `floe replay`.
 */
#include "tables/tables.h"

#include <stdio.h>
#include <stdlib.h>

/* "key": {"<ka>": va, "<kb>": vb}: a counter each way. */
static void pair_json(floe_json *jw, const char *key, const char *ka, uint64_t va, const char *kb,
                      uint64_t vb)
{
    floe_json_key(jw, key);
    floe_json_obj_begin(jw);
    floe_json_ku64(jw, ka, va);
    floe_json_ku64(jw, kb, vb);
    floe_json_obj_end(jw);
}

static void two_way(floe_json *jw, const char *key, uint64_t c2s, uint64_t s2c)
{
    pair_json(jw, key, "c2s", c2s, "s2c", s2c);
}

static void exporter_addr_json(floe_json *jw, const floe_tables *t, uint64_t id)
{
    floe_addr a;
    if (t->names.addr && t->names.addr(t->names.ud, id, &a) == 0) {
        floe_json_key(jw, "exporter");
        floe_json_addr(jw, &a);
    }
}

static void app_json(floe_json *jw, floe_dpi *dpi, const floe_app_label *l, int source)
{
    char name[96];
    floe_json_kstr(jw, "app", floe_dpi_label_name(dpi, l, name, sizeof(name)));
    floe_json_ku64(jw, "app_id", l->app);
    floe_json_kstr(jw, "category", floe_dpi_category_name(dpi, l->category));
    floe_json_kstr(jw, "app_source", floe_app_source_name(source));
}

static void statuses_json(floe_json *jw, const floe_tables *t, const floe_flow *f)
{
    const floe_flow_status *top = floe_flow_predominant(f);
    const char *key;
    floe_json_key(jw, "status");
    if (top && t->names.status && (key = t->names.status(t->names.ud, top->id)))
        floe_json_str(jw, key);
    else
        floe_json_null(jw);
    floe_json_key(jw, "statuses");
    floe_json_arr_begin(jw);
    for (uint16_t i = 0; f->status && i < f->status->n; i++) {
        const floe_flow_status *st = &f->status->s[i];
        key = t->names.status ? t->names.status(t->names.ud, st->id) : NULL;
        floe_json_obj_begin(jw);
        floe_json_kstr(jw, "key", key ? key : "?");
        floe_json_ku64(jw, "score", st->score);
        floe_json_key(jw, "info");
        if (st->info)
            floe_json_raw(jw, st->info);
        else
            floe_json_null(jw);
        floe_json_obj_end(jw);
    }
    floe_json_arr_end(jw);
}

static void risks_json(floe_json *jw, uint64_t risk)
{
    floe_json_key(jw, "risks");
    floe_json_arr_begin(jw);
    for (int n = 1; n < 64 && risk >> n; n++)
        if ((risk >> n) & 1) {
            const char *name = floe_dpi_risk_name(n);
            if (name)
                floe_json_str(jw, name);
        }
    floe_json_arr_end(jw);
}

void floe_flow_json(floe_json *jw, floe_tables *t, const floe_flow *f)
{
    uint16_t cport, sport;
    const floe_addr *cli = floe_flow_client(f, &cport), *srv = floe_flow_server(f, &sport);
    floe_json_obj_begin(jw);
    floe_json_key(jw, "client");
    floe_json_addr(jw, cli);
    floe_json_ku64(jw, "client_port", cport);
    floe_json_key(jw, "server");
    floe_json_addr(jw, srv);
    floe_json_ku64(jw, "server_port", sport);
    floe_json_ku64(jw, "ipproto", f->key.ipproto);
    floe_json_ku64(jw, "vlan", f->key.vlan);
    exporter_addr_json(jw, t, f->key.exporter);
    floe_json_ku64(jw, "exporter_id", f->key.exporter);
    floe_json_ku64(jw, "first_seen_ms", f->first_ms);
    floe_json_ku64(jw, "last_seen_ms", f->last_ms);
    two_way(jw, "bytes", f->bytes[0], f->bytes[1]);
    two_way(jw, "packets", f->packets[0], f->packets[1]);
    two_way(jw, "tcp_flags", f->tcp_flags[0], f->tcp_flags[1]);
    two_way(jw, "retransmissions", f->retrans[0], f->retrans[1]);
    floe_json_ku64(jw, "client_latency_us", f->cli_latency_us);
    floe_json_ku64(jw, "server_latency_us", f->srv_latency_us);
    floe_json_ku64(jw, "records", f->records);
    floe_json_ku64(jw, "sampling", f->sampling);
    floe_json_ku64(jw, "in_if", f->ifs[0][0]);
    floe_json_ku64(jw, "out_if", f->ifs[0][1]);
    floe_json_ku64(jw, "tos", f->tos);
    if (t->dpi)
        app_json(jw, t->dpi, &f->app, f->app_source);
    floe_json_ku64(jw, "score", f->score);
    statuses_json(jw, t, f);
    risks_json(jw, f->risk);
    floe_json_obj_end(jw);
}

static int app_bytes_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void host_apps_json(floe_json *jw, floe_dpi *dpi, const floe_host *h)
{
    struct {
        uint64_t bytes;
        uint16_t app;
    } top[FLOE_HOST_TOP_APPS];
    size_t n = 0;
    for (int i = 0; i < FLOE_HOST_TOP_APPS; i++)
        if (h->top[i].bytes)
            top[n].bytes = h->top[i].bytes, top[n++].app = h->top[i].app;
    qsort(top, n, sizeof(top[0]), app_bytes_desc);
    floe_json_key(jw, "apps");
    floe_json_arr_begin(jw);
    for (size_t i = 0; i < n; i++) {
        floe_json_obj_begin(jw);
        floe_json_kstr(jw, "app", dpi ? floe_dpi_app_name(dpi, top[i].app) : "?");
        floe_json_ku64(jw, "bytes", top[i].bytes);
        floe_json_obj_end(jw);
    }
    floe_json_arr_end(jw);
}

void floe_host_json(floe_json *jw, floe_tables *t, const floe_host *h)
{
    floe_json_obj_begin(jw);
    floe_json_key(jw, "ip");
    floe_json_addr(jw, &h->addr);
    floe_json_key(jw, "local");
    floe_json_bool(jw, h->net >= 0);
    if (h->net >= 0)
        floe_json_kstr(jw, "network", t->nets[h->net].name);
    floe_json_ku64(jw, "first_seen_ms", h->first_ms);
    floe_json_ku64(jw, "last_seen_ms", h->last_ms);
    pair_json(jw, "bytes", "sent", h->bytes_sent, "rcvd", h->bytes_rcvd);
    pair_json(jw, "packets", "sent", h->pkts_sent, "rcvd", h->pkts_rcvd);
    pair_json(jw, "retransmissions", "sent", h->retrans_sent, "rcvd", h->retrans_rcvd);
    floe_json_ku64(jw, "syns_rcvd", h->syns_rcvd);
    floe_json_key(jw, "flows");
    floe_json_obj_begin(jw);
    floe_json_ku64(jw, "as_client", h->flows_client);
    floe_json_ku64(jw, "as_server", h->flows_server);
    floe_json_ku64(jw, "active_as_client", h->active_client);
    floe_json_ku64(jw, "active_as_server", h->active_server);
    floe_json_obj_end(jw);
    floe_json_ku64(jw, "score", h->score);
    host_apps_json(jw, t->dpi, h);
    floe_json_obj_end(jw);
}

static void counters_json(floe_json *jw, const floe_ifcounters *c, uint64_t at_ms)
{
    floe_json_key(jw, "counters");
    floe_json_obj_begin(jw);
    floe_json_ku64(jw, "at_ms", at_ms);
    floe_json_ku64(jw, "speed", c->speed);
    floe_json_ku64(jw, "status", c->status);
    floe_json_ku64(jw, "in_octets", c->in_octets);
    floe_json_ku64(jw, "in_ucast", c->in_ucast);
    floe_json_ku64(jw, "in_discards", c->in_discards);
    floe_json_ku64(jw, "in_errors", c->in_errors);
    floe_json_ku64(jw, "out_octets", c->out_octets);
    floe_json_ku64(jw, "out_ucast", c->out_ucast);
    floe_json_ku64(jw, "out_discards", c->out_discards);
    floe_json_ku64(jw, "out_errors", c->out_errors);
    floe_json_obj_end(jw);
}

void floe_iface_json(floe_json *jw, floe_tables *t, const floe_iface *i)
{
    floe_json_obj_begin(jw);
    exporter_addr_json(jw, t, i->exporter);
    floe_json_ku64(jw, "exporter_id", i->exporter);
    floe_json_ku64(jw, "ifindex", i->ifindex);
    floe_json_ku64(jw, "last_seen_ms", i->last_ms);
    pair_json(jw, "bytes", "in", i->bytes_in, "out", i->bytes_out);
    pair_json(jw, "packets", "in", i->pkts_in, "out", i->pkts_out);
    if (i->has_counters)
        counters_json(jw, &i->counters, i->counters_ms);
    floe_json_obj_end(jw);
}

static void three_way(floe_json *jw, const char *key, uint64_t in, uint64_t out, uint64_t inner)
{
    floe_json_key(jw, key);
    floe_json_obj_begin(jw);
    floe_json_ku64(jw, "in", in);
    floe_json_ku64(jw, "out", out);
    floe_json_ku64(jw, "inner", inner);
    floe_json_obj_end(jw);
}

void floe_net_json(floe_json *jw, const floe_net *n)
{
    floe_json_obj_begin(jw);
    floe_json_kstr(jw, "network", n->name);
    floe_json_ku64(jw, "hosts", n->hosts);
    three_way(jw, "bytes", n->bytes_in, n->bytes_out, n->bytes_inner);
    three_way(jw, "packets", n->pkts_in, n->pkts_out, n->pkts_inner);
    floe_json_obj_end(jw);
}

/* ---- the tables' counters ------------------------------------------------ */

static const struct tstat_field {
    const char *name;
    size_t off;
    const char *help;
} tstat_fields[] = {
#define TSTAT(name, help) {#name, offsetof(floe_tables_stats, name), help},
#include "tables/stats.def"
#undef TSTAT
};

static uint64_t tstat_get(const floe_tables_stats *st, const struct tstat_field *f)
{
    return *(const uint64_t *)(const void *)((const char *)st + f->off);
}

void floe_tables_stats_json(floe_json *j, const floe_tables_stats *st)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(tstat_fields); i++)
        floe_json_ku64(j, tstat_fields[i].name, tstat_get(st, &tstat_fields[i]));
    floe_json_key(j, "labels");
    floe_json_obj_begin(j);
    for (int s = FLOE_APP_GUESS; s <= FLOE_APP_EXPORTER; s++)
        floe_json_ku64(j, floe_app_source_name(s), st->labels[s]);
    floe_json_obj_end(j);
}

void floe_tables_stats_metrics(floe_buf *b, const floe_tables_stats *st)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(tstat_fields); i++) {
        const struct tstat_field *f = &tstat_fields[i];
        floe_buf_printf(b, "# HELP floe_tables_%s_total %s\n# TYPE floe_tables_%s_total counter\n",
                        f->name, f->help, f->name);
        floe_buf_printf(b, "floe_tables_%s_total %llu\n", f->name,
                        (unsigned long long)tstat_get(st, f));
    }
    floe_buf_printf(b, "# HELP floe_tables_labels_total Flows labelled, by source.\n"
                       "# TYPE floe_tables_labels_total counter\n");
    for (int s = FLOE_APP_GUESS; s <= FLOE_APP_EXPORTER; s++)
        floe_buf_printf(b, "floe_tables_labels_total{source=\"%s\"} %llu\n",
                        floe_app_source_name(s), (unsigned long long)st->labels[s]);
}
