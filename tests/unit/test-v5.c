/*
 * NetFlow v5 through the ingest pipeline, on datagrams built by hand here
 * from the v5 layout (header 24 bytes, records 48), including truncated and
 * impossible ones.
 */
#include "engine/engine.h"
#include "tests/unit/runner.h"

typedef struct sink_state {
    floe_record recs[64];
    int n;
} sink_state;

static void collect(void *ud, const floe_record *r)
{
    sink_state *s = ud;
    if (s->n < 64)
        s->recs[s->n++] = *r;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* Builds a v5 datagram of count records; record i has src 10.0.0.(i+1). */
static size_t build_v5(uint8_t *b, uint16_t count, uint32_t seq, uint32_t uptime)
{
    memset(b, 0, 24 + (size_t)count * 48);
    put16(b, 5);
    put16(b + 2, count);
    put32(b + 4, uptime);
    put32(b + 8, 1700000000); /* unix_secs */
    put32(b + 12, 500000000); /* unix_nsecs: +500 ms */
    put32(b + 16, seq);
    b[20] = 1;             /* engine type */
    b[21] = 2;             /* engine id */
    put16(b + 22, 0x4064); /* mode 1, interval 100 */
    for (uint16_t i = 0; i < count; i++) {
        uint8_t *r = b + 24 + i * 48;
        r[0] = 10, r[3] = (uint8_t)(i + 1);
        r[4] = 192, r[5] = 0, r[6] = 2, r[7] = 7;
        r[8] = 10, r[11] = 254;
        put16(r + 12, 3);
        put16(r + 14, 4);
        put32(r + 16, 10 + i);   /* packets */
        put32(r + 20, 1000 + i); /* bytes */
        put32(r + 24, uptime - 2000);
        put32(r + 28, uptime - 1000);
        put16(r + 32, 40000);
        put16(r + 34, 443);
        r[37] = 0x1b;
        r[38] = 6;
        r[39] = 0x28;
        put16(r + 40, 64500);
        put16(r + 42, 15169);
    }
    return 24 + (size_t)count * 48;
}

typedef struct fixture {
    floe_config cfg;
    floe_log log;
    floe_ingest ing;
    sink_state sink;
    floe_addr src;
} fixture;

static void fx_init(fixture *f)
{
    memset(f, 0, sizeof(*f));
    ASSERT_EQ(floe_config_defaults(&f->cfg), 0);
    floe_log_init(&f->log, -1, 0); /* silent */
    ASSERT_EQ(floe_ingest_init(&f->ing, &f->cfg, &f->log), 0);
    f->ing.out.record = collect;
    f->ing.out.ud = &f->sink;
    floe_addr_parse(&f->src, "192.0.2.1");
}

static void fx_feed(fixture *f, const uint8_t *p, size_t n)
{
    floe_ingest_datagram(&f->ing, &f->src, 50000, p, n, 1700000001000ULL);
}

static void fx_close(fixture *f)
{
    floe_ingest_close(&f->ing);
    floe_config_free(&f->cfg);
}

TEST(decodes_every_field)
{
    fixture f;
    uint8_t b[24 + 48 * 2];
    char text[FLOE_ADDR_STRLEN];
    fx_init(&f);
    fx_feed(&f, b, build_v5(b, 2, 100, 3600000));
    ASSERT_EQ(f.sink.n, 2);
    const floe_record *r = &f.sink.recs[1];
    ASSERT_EQ(r->proto, FLOE_PROTO_V5);
    ASSERT_EQ(r->domain, 0x0102);
    ASSERT_STR_EQ(floe_addr_format(&r->src, text), "10.0.0.2");
    ASSERT_STR_EQ(floe_addr_format(&r->dst, text), "192.0.2.7");
    ASSERT_STR_EQ(floe_addr_format(&r->next_hop, text), "10.0.0.254");
    ASSERT_STR_EQ(floe_addr_format(&r->exporter, text), "192.0.2.1");
    ASSERT_EQ(r->in_if, 3);
    ASSERT_EQ(r->out_if, 4);
    ASSERT_EQ(r->packets, 11);
    ASSERT_EQ(r->bytes, 1001);
    /* export time is 1700000000.5 s; First is 2 s before the export uptime */
    ASSERT_U64_EQ(r->first_ms, 1700000000500ULL - 2000);
    ASSERT_U64_EQ(r->last_ms, 1700000000500ULL - 1000);
    ASSERT_EQ(r->sport, 40000);
    ASSERT_EQ(r->dport, 443);
    ASSERT_EQ(r->tcp_flags, 0x1b);
    ASSERT_EQ(r->ipproto, 6);
    ASSERT_EQ(r->tos, 0x28);
    ASSERT_EQ(r->src_as, 64500);
    ASSERT_EQ(r->dst_as, 15169);
    ASSERT_EQ(r->sampling, 100);
    ASSERT(r->has & FLOE_F(BYTES));
    ASSERT(!(r->has & FLOE_F(VLAN)));
    ASSERT_EQ(f.ing.proto[FLOE_PROTO_V5].records, 2);
    ASSERT_EQ(f.ing.proto[FLOE_PROTO_V5].bytes, 2001);
    ASSERT_EQ(f.ing.proto[FLOE_PROTO_V5].malformed, 0);
    fx_close(&f);
}

TEST(uptime_wrap_gives_past_times)
{
    fixture f;
    uint8_t b[24 + 48];
    fx_init(&f);
    build_v5(b, 1, 0, 500);          /* uptime 500 ms, flow started before the wrap */
    put32(b + 24 + 24, 0xfffffc18u); /* First = 2^32 - 1000 */
    fx_feed(&f, b, sizeof(b));
    ASSERT_EQ(f.sink.n, 1);
    ASSERT_U64_EQ(f.sink.recs[0].first_ms, 1700000000500ULL - 1500);
    fx_close(&f);
}

TEST(bad_counts_are_malformed)
{
    fixture f;
    uint8_t b[24 + 48 * 31];
    fx_init(&f);
    build_v5(b, 31, 0, 1000);
    fx_feed(&f, b, sizeof(b));
    build_v5(b, 1, 0, 1000);
    put16(b + 2, 0);
    fx_feed(&f, b, 24 + 48);
    ASSERT_EQ(f.sink.n, 0);
    ASSERT_EQ(f.ing.proto[FLOE_PROTO_V5].malformed, 2);
    ASSERT_EQ(f.ing.proto[FLOE_PROTO_V5].reason[FLOE_R_BAD_COUNT], 2);
    fx_close(&f);
}

TEST(every_truncation_is_rejected_whole)
{
    fixture f;
    uint8_t b[24 + 48 * 3];
    fx_init(&f);
    size_t n = build_v5(b, 3, 0, 1000);
    for (size_t len = 2; len < n; len++)
        fx_feed(&f, b, len);
    ASSERT_EQ(f.sink.n, 0);
    const floe_counters *c = &f.ing.proto[FLOE_PROTO_V5];
    ASSERT_EQ(c->malformed, n - 2);
    ASSERT_EQ(c->reason[FLOE_R_SHORT_HEADER], 24 - 2);
    ASSERT_EQ(c->reason[FLOE_R_TRUNCATED], n - 24);
    ASSERT_EQ(c->records, 0);
    fx_close(&f);
}

TEST(empty_and_random_are_malformed)
{
    fixture f;
    uint8_t junk[64];
    fx_init(&f);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(0xa5 ^ (i * 37));
    fx_feed(&f, junk, 0);
    fx_feed(&f, junk, sizeof(junk));
    ASSERT_EQ(f.ing.unknown.datagrams, 2);
    ASSERT_EQ(f.ing.unknown.reason[FLOE_R_EMPTY], 1);
    ASSERT_EQ(f.ing.unknown.reason[FLOE_R_UNKNOWN_VERSION], 1);
    ASSERT_EQ(f.sink.n, 0);
    fx_close(&f);
}

TEST(sequence_gap_counts_lost_records)
{
    fixture f;
    uint8_t b[24 + 48 * 2];
    fx_init(&f);
    fx_feed(&f, b, build_v5(b, 2, 10, 1000)); /* expects 12 next */
    fx_feed(&f, b, build_v5(b, 2, 12, 1000)); /* in order: expects 14 */
    fx_feed(&f, b, build_v5(b, 2, 19, 1000)); /* 5 records lost */
    fx_feed(&f, b, build_v5(b, 2, 3, 1000));  /* backwards: a reset */
    const floe_counters *c = &f.ing.proto[FLOE_PROTO_V5];
    ASSERT_EQ(c->seq_gaps, 1);
    ASSERT_EQ(c->lost, 5);
    ASSERT_EQ(c->seq_resets, 1);
    ASSERT_EQ(f.ing.exporters.map.count, 1);
    fx_close(&f);
}

TEST(engines_are_separate_exporters)
{
    fixture f;
    uint8_t b[24 + 48];
    fx_init(&f);
    build_v5(b, 1, 0, 1000);
    fx_feed(&f, b, sizeof(b));
    b[21] = 9; /* another engine id: another observation domain */
    fx_feed(&f, b, sizeof(b));
    ASSERT_EQ(f.ing.exporters.map.count, 2);
    ASSERT_EQ(f.ing.proto[FLOE_PROTO_V5].seq_gaps, 0);
    fx_close(&f);
}

TEST(ndjson_has_the_contract_keys)
{
    fixture f;
    uint8_t b[24 + 48];
    floe_buf out;
    floe_json j;
    fx_init(&f);
    fx_feed(&f, b, build_v5(b, 1, 0, 1000));
    floe_buf_init(&out);
    floe_json_init(&j, &out);
    floe_record_json(&j, &f.sink.recs[0]);
    ASSERT_CONTAINS(out.data, "\"proto\":\"v5\",\"exporter\":\"192.0.2.1\",\"domain\":258");
    ASSERT_CONTAINS(out.data, "\"src\":\"10.0.0.1\"");
    ASSERT_CONTAINS(out.data, "\"bytes\":1000,\"packets\":10");
    ASSERT_CONTAINS(out.data, "\"sampling\":100");
    floe_buf_close(&out);
    fx_close(&f);
}

TEST_MAIN(TEST_ENTRY(decodes_every_field), TEST_ENTRY(uptime_wrap_gives_past_times),
          TEST_ENTRY(bad_counts_are_malformed), TEST_ENTRY(every_truncation_is_rejected_whole),
          TEST_ENTRY(empty_and_random_are_malformed), TEST_ENTRY(sequence_gap_counts_lost_records),
          TEST_ENTRY(engines_are_separate_exporters), TEST_ENTRY(ndjson_has_the_contract_keys))
