/* Unit tests for the exporter table: keys, the bound, LRU eviction. */
#include "engine/engine.h"
#include "tests/unit/runner.h"

static floe_exporter_key key_for(int i, uint32_t domain)
{
    floe_exporter_key k;
    uint8_t v4[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
    memset(&k, 0, sizeof(k));
    floe_addr_from_v4(&k.addr, v4);
    k.domain = domain;
    k.proto = FLOE_PROTO_V9;
    return k;
}

TEST(same_key_same_entry)
{
    floe_decoders dec;
    floe_dec_limits lim = {10, 100, 1000};
    floe_exporters t;
    floe_decoders_init(&dec, &lim);
    ASSERT_EQ(floe_exporters_init(&t, 10, &dec), 0);
    floe_exporter_key k = key_for(1, 7);
    floe_exporter *a = floe_exporters_get(&t, &k, 1);
    floe_exporter *b = floe_exporters_get(&t, &k, 2);
    ASSERT(a == b);
    ASSERT_EQ(a->last_seen_ms, 2);
    k.domain = 8;
    ASSERT(floe_exporters_get(&t, &k, 3) != a);
    ASSERT_EQ(t.map.count, 2);
    floe_exporters_close(&t);
}

TEST(bound_evicts_least_recently_seen)
{
    floe_decoders dec;
    floe_dec_limits lim = {10, 100, 1000};
    floe_exporters t;
    floe_decoders_init(&dec, &lim);
    ASSERT_EQ(floe_exporters_init(&t, 3, &dec), 0);
    for (int i = 0; i < 3; i++) {
        floe_exporter_key k = key_for(i, 0);
        floe_exporters_get(&t, &k, (uint64_t)i);
    }
    floe_exporter_key k0 = key_for(0, 0);
    floe_exporters_get(&t, &k0, 10); /* 0 is now the most recent; 1 is oldest */
    for (int i = 3; i < 10000; i++) {
        floe_exporter_key k = key_for(i, 0);
        floe_exporters_get(&t, &k, 10 + (uint64_t)i);
        ASSERT_LE(t.map.count, 3);
    }
    ASSERT_EQ(t.evictions, 10000 - 3);
    floe_exporter_key k1 = key_for(1, 0);
    ASSERT(floe_exporters_find(&t, &k1) == NULL);
    floe_exporters_set_max(&t, 1);
    ASSERT_EQ(t.map.count, 1);
    floe_exporter_key last = key_for(9999, 0);
    ASSERT(floe_exporters_find(&t, &last) != NULL);
    floe_exporters_close(&t);
}

TEST(sequence_wraps_without_a_gap)
{
    floe_exporter ex;
    floe_hdr h;
    floe_dec_stats st;
    floe_counters agg;
    memset(&ex, 0, sizeof(ex));
    memset(&h, 0, sizeof(h));
    memset(&st, 0, sizeof(st));
    memset(&agg, 0, sizeof(agg));
    st.seq_valid = 1;
    st.seq_advance = 10;
    h.seq = 0xfffffffa;
    floe_exporter_account(&ex, &h, &st, 1, &agg);
    h.seq = 4; /* 0xfffffffa + 10 wraps to 4 */
    floe_exporter_account(&ex, &h, &st, 2, &agg);
    ASSERT_EQ(ex.c.seq_gaps, 0);
    ASSERT_EQ(ex.c.seq_resets, 0);
    h.seq = 20; /* expected 14: 6 lost */
    floe_exporter_account(&ex, &h, &st, 3, &agg);
    ASSERT_EQ(ex.c.lost, 6);
    ASSERT_EQ(agg.lost, 6);
}

TEST_MAIN(TEST_ENTRY(same_key_same_entry), TEST_ENTRY(bound_evicts_least_recently_seen),
          TEST_ENTRY(sequence_wraps_without_a_gap))
