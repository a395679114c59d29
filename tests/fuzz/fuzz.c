/*
 * The fuzz harness body: an empty exporter table per input (so templates do
 * not leak between inputs and every crash reproduces from its input alone;
 * the decoder context, with fixbuf's information model, is built once),
 * and, for targets that ask, one long-lived table set with nDPI, bounded
 * small so evictions happen often.
 */
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>

#include "engine/engine.h"

typedef struct harness {
    floe_config cfg;
    floe_log log;
    floe_engine e;
    int ready;
    floe_sink engine_sink; /* the engine's own, which the harness forwards to */
    int tables;            /* this input wants the tables */
    floe_buf json;
    uint64_t clock;
} harness;

static void on_record(void *ud, const floe_record *r)
{
    harness *h = ud;
    floe_json j;
    /* Printing reads every present field: uninitialised or out-of-range
     * values show up under the sanitizers. */
    floe_buf_reset(&h->json);
    floe_json_init(&j, &h->json);
    floe_record_json(&j, r);
    if (h->tables && h->engine_sink.record)
        h->engine_sink.record(h->engine_sink.ud, r);
}

static void on_ifcounters(void *ud, const floe_ifcounters *c)
{
    harness *h = ud;
    if (h->tables && h->engine_sink.ifcounters)
        h->engine_sink.ifcounters(h->engine_sink.ud, c);
}

static void on_appname(void *ud, const floe_appname *a)
{
    harness *h = ud;
    if (h->tables && h->engine_sink.appname)
        h->engine_sink.appname(h->engine_sink.ud, a);
}

static harness *harness_get(void)
{
    static harness h; /* test code: one harness for the process */
    if (!h.ready) {
        char err[128];
        floe_config_defaults(&h.cfg);
        h.cfg.tables.max_flows = 512;
        h.cfg.tables.max_hosts = 256;
        h.cfg.tables.max_interfaces = 64;
        h.cfg.max_exporters = 8;
        h.cfg.max_templates_per_exporter = 64;
        h.cfg.max_templates = 128;
        h.cfg.tables.dpi_max_states = 32;
        h.cfg.tables.dpi_max_rate = 64;
        floe_log_init(&h.log, -1, 0);
        if (floe_engine_init(&h.e, &h.cfg, &h.log, NULL, FLOE_ENGINE_OFFLINE, 0, err,
                             sizeof(err)) != 0)
            abort();
        /* The same engine as the daemon's; the harness only looks at each
         * record on its way in. */
        h.engine_sink = h.e.ing.out;
        h.e.ing.out.record = on_record;
        h.e.ing.out.ifcounters = on_ifcounters;
        h.e.ing.out.appname = on_appname;
        h.e.ing.out.ud = &h;
        floe_buf_init(&h.json);
        h.ready = 1;
    }
    return &h;
}

static void feed_one(harness *h, const floe_addr *src, const uint8_t *p, size_t n)
{
    floe_engine_advance(&h->e, h->clock);
    floe_engine_housekeep(&h->e, h->clock, 1024);
    floe_engine_datagram(&h->e, src, 50000, p, n, h->clock);
    floe_engine_batch_end(&h->e);
}

int fuzz_feed(const uint8_t *data, size_t size, int tables)
{
    harness *h = harness_get();
    floe_ingest *ing = &h->e.ing;
    floe_addr src;
    /* The input's last byte picks one of four exporter addresses (so the
     * global template bound, below four exporters' worth, is reached) and
     * whether datagrams are 1 ms or 1 s apart (same-second paths such as
     * the nDPI budget, or idle expiry). It is still part of the last
     * datagram too. */
    uint8_t sel = size ? data[size - 1] : 0;
    uint8_t v4[4] = {192, 0, 2, (uint8_t)(1 + (sel & 3))};
    uint64_t step = (sel & 4) ? 1 : 1000;
    floe_addr_from_v4(&src, v4);
    floe_exporters_close(&ing->exporters);
    if (floe_exporters_init(&ing->exporters, h->cfg.max_exporters, &ing->dec) != 0)
        return 0;
    h->tables = tables;
    size_t off = 0;
    while (off + 2 <= size) {
        size_t n = (size_t)data[off] << 8 | data[off + 1];
        if (off + 2 + n > size)
            break;
        h->clock += step;
        feed_one(h, &src, data + off + 2, n);
        off += 2 + n;
    }
    if (off == 0) {
        h->clock++;
        feed_one(h, &src, data, size);
    }
    floe_ingest_sweep(ing, h->clock + 100000000);
    if (h->e.tables_on)
        floe_tables_expire(&h->e.tables, h->clock);
    return 0;
}
