/*
 * The fuzz harness body: an empty exporter table per input (so templates do
 * not leak between inputs and every crash reproduces from its input alone;
 * the decoder context, with fixbuf's information model, is built once),
 * and, for targets that ask, one long-lived table set with nDPI, bounded
 * small so evictions happen often.
 */
#include "tests/fuzz/fuzz.h"

#include "collector/collector.h"

typedef struct harness {
    floe_config cfg;
    floe_log log;
    floe_ingest ing;
    floe_tables tables;
    int tables_ready;
    floe_buf json;
    uint64_t clock;
} harness;

static harness *harness_get(void)
{
    static harness h; /* test code: one harness for the process */
    static int ready;
    if (!ready) {
        char err[128];
        floe_config_defaults(&h.cfg);
        h.cfg.max_flows = 512;
        h.cfg.max_hosts = 256;
        h.cfg.max_interfaces = 64;
        h.cfg.max_exporters = 8;
        h.cfg.max_templates_per_exporter = 64;
        h.cfg.max_templates = 128;
        h.cfg.dpi_max_states = 32;
        h.cfg.dpi_max_rate = 64;
        floe_log_init(&h.log, -1, 0);
        if (floe_tables_init(&h.tables, &h.cfg, &h.log, err, sizeof(err)) == 0)
            h.tables_ready = 1;
        floe_ingest_init(&h.ing, &h.cfg, &h.log);
        floe_buf_init(&h.json);
        ready = 1;
    }
    return &h;
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
    if (h->tables_ready)
        floe_tables_record(&h->tables, r, h->clock);
}

static void on_ifcounters(void *ud, const floe_ifcounters *c)
{
    harness *h = ud;
    if (h->tables_ready)
        floe_tables_ifcounters(&h->tables, c, h->clock);
}

static void on_appname(void *ud, const floe_appname *a)
{
    harness *h = ud;
    if (h->tables_ready)
        floe_tables_appname(&h->tables, a);
}

int fuzz_feed(const uint8_t *data, size_t size, int tables)
{
    harness *h = harness_get();
    floe_ingest *ing = &h->ing;
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
    ing->out.record = on_record;
    ing->out.ifcounters = tables ? on_ifcounters : NULL;
    ing->out.appname = tables ? on_appname : NULL;
    ing->out.ud = h;
    int saved = h->tables_ready;
    if (!tables)
        h->tables_ready = 0;
    size_t off = 0;
    while (off + 2 <= size) {
        size_t n = (size_t)data[off] << 8 | data[off + 1];
        if (off + 2 + n > size)
            break;
        h->clock += step;
        floe_ingest_datagram(ing, &src, 50000, data + off + 2, n, h->clock);
        off += 2 + n;
    }
    if (off == 0)
        floe_ingest_datagram(ing, &src, 50000, data, size, ++h->clock);
    floe_ingest_sweep(ing, h->clock + 100000000);
    if (h->tables_ready)
        floe_tables_expire(&h->tables, h->clock);
    h->tables_ready = saved;
    return 0;
}
