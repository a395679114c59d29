/*
 * The engine's side of the history export (history/): it opens the
 * exporter when clickhouse.url is set, listens to the tables' flow events
 * through their tap (beside the plugins' hooks), and turns a flow into a
 * row: on flowEnd, and at the periodic update every clickhouse.interval
 * seconds for a flow that lives that long, each row with the traffic since
 * the flow's previous row. What a flow already exported is kept in a side
 * table keyed by the flow's address, so the flow itself carries nothing
 * for it; only flows that outlive an interval have an entry, and flowEnd
 * always removes it.
 */
#include "history/history.h"
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>

#define MARK_SEED 0x68697374ULL /* "hist" */

/* What a flow's rows so far carried. */
typedef struct hist_mark {
    floe_hnode node;
    const floe_flow *f;
    uint64_t bytes[2], packets[2];
} hist_mark;

struct floe_engine_history {
    floe_engine *e;
    floe_hmap marks;
    floe_pool pool;
    uint64_t every_ms;
};

static uint64_t mark_hash(const floe_flow *f)
{
    return floe_hash(&f, sizeof(f), MARK_SEED);
}

static hist_mark *mark_find(struct floe_engine_history *x, const floe_flow *f)
{
    uint64_t h = mark_hash(f);
    for (floe_hnode *n = floe_hmap_bucket(&x->marks, h); n; n = n->next)
        if (n->hash == h && FLOE_CONTAINER_OF(n, hist_mark, node)->f == f)
            return FLOE_CONTAINER_OF(n, hist_mark, node);
    return NULL;
}

/* As the plugins do for their checks: a row at the periodic fires that
 * cross a multiple of the interval since the flow began. */
static int periodic_due(const struct floe_engine_history *x, const floe_flow *f)
{
    uint64_t step = x->e->tables.periodic_ms;
    if (!step || x->every_ms <= step)
        return 1;
    uint64_t prev = f->periodic_ms - f->first_ms, due = prev + step;
    return due / x->every_ms != prev / x->every_ms;
}

/* The client-to-server direction's interfaces, from the other direction's
 * when it has none. */
static void interfaces(const floe_flow *f, floe_history_flow *r)
{
    r->in_if = f->ifs[0][0] ? f->ifs[0][0] : f->ifs[1][1];
    r->out_if = f->ifs[0][1] ? f->ifs[0][1] : f->ifs[1][0];
}

static void row_fill(floe_engine *e, const floe_flow *f, const hist_mark *m, floe_history_flow *r,
                     char *app, size_t applen)
{
    memset(r, 0, sizeof(*r));
    r->time_ms = f->last_ms;
    r->first_ms = f->first_ms;
    floe_engine_exporter_addr(e, f->key.exporter, &r->exporter);
    interfaces(f, r);
    r->vlan = f->key.vlan;
    r->proto = f->key.ipproto;
    r->client = *floe_flow_client(f, &r->client_port);
    r->server = *floe_flow_server(f, &r->server_port);
    if (e->tables.dpi) {
        r->app = floe_dpi_label_name(e->tables.dpi, &f->app, app, applen);
        r->category = floe_dpi_category_name(e->tables.dpi, f->app.category);
    }
    for (int d = 0; d < 2; d++) {
        r->bytes[d] = f->bytes[d] - (m ? m->bytes[d] : 0);
        r->packets[d] = f->packets[d] - (m ? m->packets[d] : 0);
        r->tcp_flags[d] = f->tcp_flags[d];
    }
    r->client_as = floe_flow_asn(&e->tables, f, !f->cli_is_a);
    r->server_as = floe_flow_asn(&e->tables, f, f->cli_is_a);
    r->score = f->score;
}

static void on_flow_event(void *ud, int ev, floe_flow *f)
{
    struct floe_engine_history *x = ud;
    floe_engine *e = x->e;
    const char *statuses[FLOE_FLOW_STATUSES];
    char app[64];
    int final = ev == FLOE_EV_FLOW_END;
    if (!final && (ev != FLOE_EV_PERIODIC_UPDATE || !periodic_due(x, f)))
        return;
    hist_mark *m = mark_find(x, f);
    floe_history_flow r;
    row_fill(e, f, m, &r, app, sizeof(app));
    if (!final && !r.bytes[0] && !r.bytes[1] && !r.packets[0] && !r.packets[1])
        return; /* nothing new since its last row */
    if (!final && !m) {
        /* Bounded by flows.max like the flows; at the bound (never, with
         * flowEnd removing every entry) the flow waits for its last row. */
        if (!(m = floe_pool_alloc(&x->pool)))
            return;
        m->f = f;
        m->node.hash = mark_hash(f);
        floe_hmap_insert(&x->marks, &m->node);
    }
    size_t n = 0;
    for (uint16_t i = 0; f->status && e->plugins && i < f->status->n; i++) {
        const char *key = floe_plugins_status_key(e->plugins, f->status->s[i].id);
        if (key)
            statuses[n++] = key;
    }
    r.statuses = statuses;
    r.n_statuses = n;
    r.final = (uint8_t) final;
    floe_history_add_flow(e->history, &r);
    if (final && m) {
        floe_hmap_remove(&x->marks, &m->node);
        floe_pool_free(&x->pool, m);
    } else if (!final) {
        memcpy(m->bytes, f->bytes, sizeof(m->bytes));
        memcpy(m->packets, f->packets, sizeof(m->packets));
    }
}

void floe_engine_history_alert(floe_engine *e, const struct floe_alert *a)
{
    floe_history_alert r;
    if (!e->history || !e->cfg->ch_alerts)
        return;
    memset(&r, 0, sizeof(r));
    r.time_ms = a->when_ms;
    r.kind = floe_alert_kind_name(a->kind);
    r.type = a->type;
    r.check = a->check;
    r.entity_type = floe_entity_name(a->entity_type);
    r.entity = a->entity;
    r.severity = floe_severity_name(a->severity);
    r.score = a->score;
    r.info = a->info;
    if (a->has_flow) {
        r.client = a->cli;
        r.server = a->srv;
        r.client_port = a->cli_port;
        r.server_port = a->srv_port;
        r.proto = a->l4;
        r.app = a->app;
    }
    floe_history_add_alert(e->history, &r);
}

static void opts_from_config(const floe_config *cfg, floe_history_opts *o, char *spool,
                             size_t spoollen)
{
    const char *pw = cfg->ch_password[0] ? cfg->ch_password : getenv("FLOE_CLICKHOUSE_PASSWORD");
    floe_history_opts_defaults(o);
    snprintf(spool, spoollen, "%s/history-spool", cfg->data_dir);
    o->url = cfg->ch_url;
    o->database = cfg->ch_database;
    o->user = cfg->ch_user;
    o->password = pw ? pw : "";
    o->instance = cfg->ch_instance;
    o->cluster = cfg->ch_cluster;
    o->spool_dir = spool;
    o->batch_rows = cfg->ch_batch_rows;
    o->batch_ms = cfg->ch_batch_interval * 1000;
    o->queue_max = cfg->ch_queue_max;
    o->spool_max = (uint64_t)cfg->ch_spool_max << 20;
    o->retention_days = cfg->ch_retention;
    o->timeout_ms = cfg->ch_timeout * 1000;
    o->alerts = cfg->ch_alerts;
}

int floe_engine_history_open(floe_engine *e, char *err, size_t errlen)
{
    floe_history_opts o;
    char spool[4200];
    struct floe_engine_history *x = calloc(1, sizeof(*x));
    if (!x || floe_hmap_init(&x->marks, 1024, 0) != 0 ||
        floe_pool_init(&x->pool, sizeof(hist_mark), 1024, e->cfg->tables.max_flows) != 0) {
        if (x)
            floe_hmap_close(&x->marks);
        free(x);
        snprintf(err, errlen, "out of memory");
        return FLOE_ENOMEM;
    }
    x->e = e;
    x->every_ms = (uint64_t)e->cfg->ch_interval * 1000;
    e->hist = x;
    opts_from_config(e->cfg, &o, spool, sizeof(spool));
    /* A replay's rows carry the capture's time, which may be older than
     * the retention by the wall clock: keep them, and leave the TTL be. */
    o.apply_retention = e->mode == FLOE_ENGINE_LIVE;
    if (!(e->history = floe_history_open(&o, e->log, err, errlen)))
        return FLOE_ECONFIG;
    e->tables.tap.event = on_flow_event;
    e->tables.tap.ud = x;
    e->tables.tap.wanted = 1u << FLOE_EV_FLOW_END | 1u << FLOE_EV_PERIODIC_UPDATE;
    if (floe_tables_set_tap_periodic(&e->tables, x->every_ms) != 0) {
        snprintf(err, errlen, "out of memory");
        return FLOE_ENOMEM;
    }
    return 0;
}

void floe_engine_history_close(floe_engine *e)
{
    struct floe_engine_history *x = e->hist;
    if (e->tables_on) {
        e->tables.tap.wanted = 0;
        floe_tables_set_tap_periodic(&e->tables, 0);
    }
    floe_history_close(e->history); /* sends or spools what is queued */
    e->history = NULL;
    if (x) {
        floe_pool_close(&x->pool);
        floe_hmap_close(&x->marks);
        free(x);
    }
    e->hist = NULL;
}
