/*
 * The engine object: the one place where ingest, the tables and the
 * scheduler are built and wired, for the daemon, replay and the fuzz
 * harness alike. Decoded records enter the tables' prefetching pipeline,
 * which the caller drains at the end of each batch of datagrams; the
 * scheduler runs on whatever clock the caller advances.
 */
#include "engine/engine.h"

#include <stdio.h>

/* Templates are swept for expiry every this often on the engine's clock. */
#define SWEEP_EVERY_MS 10000

static void on_record(void *ud, const floe_record *r)
{
    floe_engine *e = ud;
    floe_tables_push(&e->tables, r, e->ing.now_ms);
}

static void on_ifcounters(void *ud, const floe_ifcounters *c)
{
    floe_engine *e = ud;
    floe_tables_ifcounters(&e->tables, c, e->ing.now_ms);
}

static void on_appname(void *ud, const floe_appname *a)
{
    floe_engine *e = ud;
    floe_tables_drain(&e->tables, e->ing.now_ms); /* names apply to the records after them */
    floe_tables_appname(&e->tables, a);
}

/* Names a flow's exporter id for the tables' JSON. */
static int exporter_addr(void *ud, uint64_t id, floe_addr *out)
{
    floe_engine *e = ud;
    const floe_exporter *ex = floe_exporters_by_id(&e->ing.exporters, id);
    if (!ex)
        return FLOE_ENOTFOUND;
    *out = ex->key.addr;
    return 0;
}

static void on_tick(void *ud, int period, uint64_t boundary_ms)
{
    floe_engine *e = ud;
    log_debug(e->log, "engine: %s tick at %llu", floe_period_name(period),
              (unsigned long long)boundary_ms);
}

int floe_engine_init(floe_engine *e, const floe_config *cfg, floe_log *log, uv_loop_t *loop,
                     int mode, uint64_t now_ms, char *err, size_t errlen)
{
    memset(e, 0, sizeof(*e));
    e->cfg = cfg;
    e->log = log;
    e->loop = loop;
    e->mode = mode;
    e->start_ms = e->now_ms = now_ms;
    floe_list_init(&e->sources);
    floe_sched_init(&e->sched, on_tick, e);
    if (floe_ingest_init(&e->ing, cfg, log) != 0) {
        snprintf(err, errlen, "out of memory");
        return FLOE_ENOMEM;
    }
    if (cfg->tables_enabled) {
        int rc = floe_tables_init(&e->tables, &cfg->tables, log, err, errlen);
        if (rc != 0)
            return rc;
        e->tables_on = 1;
        e->tables.names.addr = exporter_addr;
        e->tables.names.ud = e;
        e->ing.out.record = on_record;
        e->ing.out.ifcounters = on_ifcounters;
        e->ing.out.appname = on_appname;
        e->ing.out.ud = e;
    }
    return 0;
}

void floe_engine_close(floe_engine *e)
{
    if (e->tables_on) {
        floe_engine_finish(e);
        floe_tables_close(&e->tables);
        e->tables_on = 0;
    }
    if (e->ing.exporters.map.buckets)
        floe_ingest_close(&e->ing);
}

void floe_engine_reconfigure(floe_engine *e)
{
    floe_ingest_reconfigure(&e->ing, e->cfg);
}

void floe_engine_datagram(floe_engine *e, const floe_addr *src, uint16_t sport, const uint8_t *p,
                          size_t n, uint64_t now_ms)
{
    floe_ingest_datagram(&e->ing, src, sport, p, n, now_ms);
}

void floe_engine_batch_end(floe_engine *e)
{
    if (e->tables_on)
        floe_tables_drain(&e->tables, e->ing.now_ms);
}

void floe_engine_advance(floe_engine *e, uint64_t now_ms)
{
    if (now_ms <= e->now_ms)
        return;
    if (now_ms / SWEEP_EVERY_MS != e->now_ms / SWEEP_EVERY_MS)
        floe_ingest_sweep(&e->ing, now_ms);
    e->now_ms = now_ms;
    floe_sched_advance(&e->sched, now_ms);
}

size_t floe_engine_housekeep(floe_engine *e, uint64_t now_ms, size_t budget)
{
    return e->tables_on ? floe_tables_housekeep(&e->tables, now_ms, budget) : 0;
}

void floe_engine_finish(floe_engine *e)
{
    if (!e->tables_on)
        return;
    floe_tables_drain(&e->tables, e->ing.now_ms);
    floe_tables_flush(&e->tables);
    floe_tables_end_all(&e->tables);
}

void floe_engine_add_source(floe_engine *e, floe_source *s)
{
    floe_list_push_tail(&e->sources, &s->link);
}

void floe_engine_remove_source(floe_engine *e, floe_source *s)
{
    floe_list_remove(&s->link);
}
