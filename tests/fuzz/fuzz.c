/*
 * The fuzz harness body: an empty exporter table per input (so templates do
 * not leak between inputs and every crash reproduces from its input alone;
 * the decoder context, with fixbuf's information model, is built once),
 * and, for targets that ask, one long-lived table set with nDPI, bounded
 * small so evictions happen often.
 */
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"

typedef struct harness {
    floe_config cfg;
    floe_log log;
    floe_engine e;
    int ready;
    floe_sink engine_sink; /* the engine's own, which the harness forwards to */
    int tables;            /* this input wants the tables */
    floe_record own;       /* where records are built when it does not */
    floe_buf json;
    uint64_t clock;
} harness;

/* The engine's place for the next record, so that decoders build it
 * there as in the daemon (the sink's ud is the harness now). */
static floe_record *on_slot(void *ud)
{
    harness *h = ud;
    return h->tables ? h->engine_sink.slot(h->engine_sink.ud) : &h->own;
}

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

static void harness_close(void);

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
        h.e.ing.out.slot = on_slot;
        h.e.ing.out.ifcounters = on_ifcounters;
        h.e.ing.out.appname = on_appname;
        h.e.ing.out.ud = &h;
        floe_buf_init(&h.json);
        h.ready = 1;
        /* The tables live in memory of their own (floe_pool's mapping),
         * which LeakSanitizer does not scan: close them at exit so that
         * nDPI states of live flows are released, not reported. */
        atexit(harness_close);
    }
    return &h;
}

static void harness_close(void)
{
    floe_engine_close(&harness_get()->e);
}

static void feed_one(harness *h, const floe_addr *src, const uint8_t *p, size_t n)
{
    floe_engine_advance(&h->e, h->clock);
    floe_engine_housekeep(&h->e, h->clock, 1024);
    floe_engine_datagram(&h->e, src, 50000, p, n, h->clock);
    floe_engine_batch_end(&h->e);
}

/* Empties the exporter table, so that nothing carries over between inputs. */
static int harness_reset(harness *h, int tables)
{
    floe_ingest *ing = &h->e.ing;
    floe_exporters_close(&ing->exporters);
    h->tables = tables;
    return floe_exporters_init(&ing->exporters, h->cfg.max_exporters, &ing->dec);
}

/* What every input ends with: template expiry and idle flows. */
static void harness_settle(harness *h)
{
    floe_ingest_sweep(&h->e.ing, h->clock + 100000000);
    if (h->e.tables_on)
        floe_tables_expire(&h->e.tables, h->clock);
}

int fuzz_feed_stream(const uint8_t *data, size_t size)
{
    harness *h = harness_get();
    floe_stream s;
    floe_addr src;
    uint8_t v4[4] = {192, 0, 2, 9};
    floe_addr_from_v4(&src, v4);
    if (harness_reset(h, 1) != 0 || floe_engine_stream_open(&h->e, &s, &src, 4739, h->clock) != 0)
        return 0;
    /* Reads of 1 to 255 bytes, or as large as the buffer takes. */
    size_t chunk = size && data[size - 1] ? data[size - 1] : SIZE_MAX;
    for (size_t off = 0; off < size;) {
        uint8_t *p;
        size_t room;
        floe_engine_stream_buffer(&s, &p, &room);
        size_t k = size - off < room ? size - off : room;
        k = k < chunk ? k : chunk;
        memcpy(p, data + off, k);
        off += k;
        h->clock += 1;
        floe_engine_advance(&h->e, h->clock);
        floe_engine_housekeep(&h->e, h->clock, 1024);
        if (floe_engine_stream_data(&h->e, &s, k, h->clock) != 0 ||
            floe_stream_expired(&s, h->clock, 60000, 5000) >= 0)
            break;
    }
    floe_engine_stream_close(&h->e, &s);
    harness_settle(h);
    return 0;
}

static void on_capture(void *ud, const floe_addr *src, uint16_t sport, const uint8_t *p, size_t n,
                       uint64_t ts_ms)
{
    harness *h = ud;
    (void)sport;
    if (ts_ms > h->clock)
        h->clock = ts_ms;
    feed_one(h, src, p, n);
}

int fuzz_feed_capture(const uint8_t *data, size_t size)
{
    harness *h = harness_get();
    floe_pcap_stats st;
    char err[256];
    if (size == 0 || harness_reset(h, 1) != 0)
        return 0;
    FILE *f = fmemopen((void *)(uintptr_t)data, size, "rb");
    if (!f)
        return 0;
    memset(&st, 0, sizeof(st));
    floe_capture_read(f, "fuzz input", on_capture, h, &st, err, sizeof(err));
    harness_settle(h);
    return 0;
}

int fuzz_feed(const uint8_t *data, size_t size, int tables)
{
    harness *h = harness_get();
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
    if (harness_reset(h, tables) != 0)
        return 0;
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
    harness_settle(h);
    return 0;
}
