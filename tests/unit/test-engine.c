/*
 * The engine: ingest and the tables wired together as the daemon, replay
 * and the fuzz harness use them.
 */
#include "engine/engine.h"
#include "tests/unit/runner.h"

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/*
 * An IPFIX message with a template (256: addresses, ports, protocol,
 * octets, applicationId as an NBAR-style 4-byte id) and one record of it,
 * a new conversation each time (sport = i).
 */
static size_t ipfix_with_app(uint8_t *b, uint32_t seq, uint16_t i)
{
    static const uint16_t fields[][2] = {{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {1, 8},
                                         {95, 4}};
    size_t n = 16;
    put16(b, 10);
    put32(b + 4, 1700000000u);
    put32(b + 8, seq);
    put32(b + 12, 0);
    size_t set = n;
    put16(b + n, 2), n += 4;
    put16(b + n, 256), put16(b + n + 2, (uint16_t)FLOE_ARRAY_LEN(fields)), n += 4;
    for (size_t k = 0; k < FLOE_ARRAY_LEN(fields); k++)
        put16(b + n, fields[k][0]), put16(b + n + 2, fields[k][1]), n += 4;
    put16(b + set + 2, (uint16_t)(n - set));
    set = n;
    put16(b + n, 256), n += 4;
    memcpy(b + n, (uint8_t[]){10, 0, 0, 1, 192, 0, 2, 9}, 8), n += 8;
    put16(b + n, (uint16_t)(1024 + i)), put16(b + n + 2, 80), n += 4;
    b[n++] = 6;
    memset(b + n, 0, 8), b[n + 7] = 100, n += 8;
    b[n] = 13, b[n + 1] = 0, b[n + 2] = 1, b[n + 3] = 0xc5, n += 4; /* NBAR engine 13 */
    put16(b + set + 2, (uint16_t)(n - set));
    put16(b + 2, (uint16_t)n);
    return n;
}

/*
 * Records wait in the tables' pipeline for up to 32 records, across the
 * datagrams of one receive batch. With exporters.max = 1, every datagram
 * from the other source evicts the exporter of the records still waiting;
 * applying them (labelling a new flow from IE 95 reads its exporter's
 * application names) must not touch the evicted exporter. Under ASan an
 * exporter pointer kept in the pipeline is a use after free.
 */
TEST(exporter_evicted_while_its_records_wait_in_the_pipeline)
{
    floe_config cfg;
    floe_log log;
    floe_engine e;
    char err[256];
    uint8_t b[512];
    ASSERT_EQ(floe_config_defaults(&cfg), 0);
    cfg.max_exporters = 1;
    floe_log_init(&log, -1, 0);
    ASSERT_EQ(floe_engine_init(&e, &cfg, &log, NULL, FLOE_ENGINE_OFFLINE, 0, err, sizeof(err)),
              0);
    floe_addr src[2];
    floe_addr_parse(&src[0], "192.0.2.1");
    floe_addr_parse(&src[1], "192.0.2.2");
    const uint16_t rounds = 64;
    /* One receive batch: no batch end until all of it is in. */
    for (uint16_t i = 0; i < rounds; i++) {
        size_t n = ipfix_with_app(b, i / 2u, i);
        floe_engine_datagram(&e, &src[i % 2], 4739, b, n, 1700000000000ULL + i);
    }
    floe_engine_batch_end(&e);
    ASSERT_EQ(e.ing.exporters.map.count, 1);
    ASSERT_EQ(e.ing.exporters.evictions, rounds - 1);
    ASSERT_EQ(e.tables.st.records, rounds);
    ASSERT_EQ(e.tables.flows.count, rounds);
    floe_engine_close(&e);
    floe_config_free(&cfg);
}

TEST_MAIN(TEST_ENTRY(exporter_evicted_while_its_records_wait_in_the_pipeline))
