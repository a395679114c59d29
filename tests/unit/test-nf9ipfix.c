/*
 * NetFlow v9 and IPFIX through the ingest pipeline, on datagrams built by
 * hand here from RFC 3954 and RFC 7011 layouts: templates, options and
 * sampling, withdrawal, redefinition, variable-length and reduced-size
 * fields, padding, every truncation, bad set lengths, a template bomb
 * against the bounds, expiry, the time forms, nProbe's enterprise fields,
 * and the element table against fixbuf's information model. Expected values
 * come from the bytes written here, never from running the decoder.
 */
#include <fixbuf/public.h>
#include <time.h>

#include "decoders/nf9ipfix.h"
#include "engine/engine.h"
#include "tests/unit/runner.h"

#define SECS      1700000000u /* export time in every header */
#define EXPORT_MS 1700000000000ULL
#define UPTIME    3600000u         /* v9 sysUptime at export */
#define NOW_MS    1700000001000ULL /* receive time */
#define MAX_RECS  256

/* ---- building datagrams ---------------------------------------------------- */

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

typedef struct pkt {
    uint8_t b[65536];
    size_t n;
    size_t set; /* offset of the open set's header */
    int ipfix;
} pkt;

static pkt P; /* 64 KiB: too big for the stack of every test */

static void u8(pkt *p, uint8_t v)
{
    p->b[p->n++] = v;
}
static void u16(pkt *p, uint16_t v)
{
    put16(p->b + p->n, v);
    p->n += 2;
}
static void u32(pkt *p, uint32_t v)
{
    put32(p->b + p->n, v);
    p->n += 4;
}
static void u64(pkt *p, uint64_t v)
{
    u32(p, (uint32_t)(v >> 32));
    u32(p, (uint32_t)v);
}
static void zeros(pkt *p, size_t n)
{
    memset(p->b + p->n, 0, n);
    p->n += n;
}
static void v4(pkt *p, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    u8(p, a), u8(p, b), u8(p, c), u8(p, d);
}

/* v9 header: count records, sysUptime UPTIME, unix_secs SECS. */
static void v9_begin(pkt *p, uint16_t count, uint32_t seq, uint32_t source_id)
{
    p->n = 0;
    p->ipfix = 0;
    u16(p, 9), u16(p, count), u32(p, UPTIME), u32(p, SECS), u32(p, seq), u32(p, source_id);
}

/* IPFIX header; the length is written by pkt_end. */
static void ipfix_begin(pkt *p, uint32_t seq, uint32_t domain)
{
    p->n = 0;
    p->ipfix = 1;
    u16(p, 10), u16(p, 0), u32(p, SECS), u32(p, seq), u32(p, domain);
}

static void set_begin(pkt *p, uint16_t id)
{
    p->set = p->n;
    u16(p, id), u16(p, 0);
}

static void set_end(pkt *p)
{
    put16(p->b + p->set + 2, (uint16_t)(p->n - p->set));
}

static size_t pkt_end(pkt *p)
{
    if (p->ipfix)
        put16(p->b + 2, (uint16_t)p->n);
    return p->n;
}

/* A template record head and its (id, length) field specifiers. */
static void tmpl(pkt *p, uint16_t id, uint16_t count)
{
    u16(p, id), u16(p, count);
}
static void fld(pkt *p, uint16_t id, uint16_t len)
{
    u16(p, id), u16(p, len);
}
static void fld_pen(pkt *p, uint16_t id, uint16_t len, uint32_t pen)
{
    u16(p, (uint16_t)(0x8000 | id)), u16(p, len), u32(p, pen);
}

/* ---- the fixture ------------------------------------------------------------ */

typedef struct fixture {
    floe_config cfg;
    floe_log log;
    floe_ingest ing;
    floe_record recs[MAX_RECS];
    int n;
    floe_addr src;
} fixture;

static void collect(void *ud, const floe_record *r)
{
    fixture *f = ud;
    if (f->n < MAX_RECS)
        f->recs[f->n] = *r;
    f->n++;
}

static void fx_init(fixture *f)
{
    memset(f, 0, sizeof(*f));
    ASSERT_EQ(floe_config_defaults(&f->cfg), 0);
    floe_log_init(&f->log, -1, 0); /* silent */
    ASSERT_EQ(floe_ingest_init(&f->ing, &f->cfg, &f->log), 0);
    f->ing.out.record = collect;
    f->ing.out.ud = f;
    floe_addr_parse(&f->src, "192.0.2.1");
}

static void fx_feed_at(fixture *f, const uint8_t *p, size_t n, uint64_t now_ms)
{
    floe_ingest_datagram(&f->ing, &f->src, 50000, p, n, now_ms);
}

static void fx_feed(fixture *f, pkt *p)
{
    fx_feed_at(f, p->b, pkt_end(p), NOW_MS);
}

static const floe_counters *fx_c(fixture *f, int proto)
{
    return &f->ing.proto[proto];
}

static floe_exporter *fx_exporter(fixture *f, int proto, uint32_t domain)
{
    floe_exporter_key k;
    memset(&k, 0, sizeof(k));
    k.addr = f->src;
    k.domain = domain;
    k.proto = (uint32_t)proto;
    return floe_exporters_find(&f->ing.exporters, &k);
}

static void fx_close(fixture *f)
{
    floe_ingest_close(&f->ing);
    floe_config_free(&f->cfg);
}

static char *addr(const floe_addr *a)
{
    static char text[4][FLOE_ADDR_STRLEN];
    static int i;
    return floe_addr_format(a, text[i++ & 3]);
}

/* ---- template then data ----------------------------------------------------- */

/* v9 template 256 with 21 fields, 59 bytes a record. */
static void v9_full_template(pkt *p)
{
    static const uint16_t f[][2] = {{8, 4},  {12, 4}, {15, 4}, {7, 2},  {11, 2}, {4, 1},  {6, 1},
                                    {5, 1},  {1, 4},  {2, 4},  {22, 4}, {21, 4}, {10, 2}, {14, 2},
                                    {16, 2}, {17, 2}, {61, 1}, {58, 2}, {56, 6}, {80, 6}, {136, 1}};
    set_begin(p, 0);
    tmpl(p, 256, 21);
    for (size_t i = 0; i < 21; i++)
        fld(p, f[i][0], f[i][1]);
    set_end(p);
}

static void v9_full_record(pkt *p, uint8_t i)
{
    static const uint8_t smac[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
    static const uint8_t dmac[6] = {0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
    v4(p, 10, 0, 0, (uint8_t)(i + 1)), v4(p, 192, 0, 2, 7), v4(p, 10, 0, 0, 254);
    u16(p, (uint16_t)(40000 + i)), u16(p, 443), u8(p, 6), u8(p, 0x1b), u8(p, 0x28);
    u32(p, 1000u + i), u32(p, 10u + i), u32(p, UPTIME - 2000), u32(p, UPTIME - 1000);
    u16(p, 3), u16(p, 4), u16(p, 64500), u16(p, 15169), u8(p, 1), u16(p, 100);
    memcpy(p->b + p->n, smac, 6), p->n += 6;
    memcpy(p->b + p->n, dmac, 6), p->n += 6;
    u8(p, 3);
}

TEST(v9_template_then_data)
{
    fixture f;
    fx_init(&f);
    v9_begin(&P, 3, 7, 42);
    v9_full_template(&P);
    set_begin(&P, 256);
    v9_full_record(&P, 0);
    v9_full_record(&P, 1);
    zeros(&P, 2); /* pads the set to 4 bytes; shorter than a record */
    set_end(&P);
    fx_feed(&f, &P);

    ASSERT_EQ(f.n, 2);
    const floe_record *r = &f.recs[1];
    ASSERT_EQ(r->proto, FLOE_PROTO_V9);
    ASSERT_EQ(r->domain, 42);
    ASSERT_STR_EQ(addr(&r->src), "10.0.0.2");
    ASSERT_STR_EQ(addr(&r->dst), "192.0.2.7");
    ASSERT_STR_EQ(addr(&r->next_hop), "10.0.0.254");
    ASSERT_EQ(r->sport, 40001);
    ASSERT_EQ(r->dport, 443);
    ASSERT_EQ(r->ipproto, 6);
    ASSERT_EQ(r->tcp_flags, 0x1b);
    ASSERT_EQ(r->tos, 0x28);
    ASSERT_EQ(r->bytes, 1001);
    ASSERT_EQ(r->packets, 11);
    /* RFC 3954: FIRST/LAST_SWITCHED are sysUptime ms; export is SECS. */
    ASSERT_U64_EQ(r->first_ms, EXPORT_MS - 2000);
    ASSERT_U64_EQ(r->last_ms, EXPORT_MS - 1000);
    ASSERT_EQ(r->in_if, 3);
    ASSERT_EQ(r->out_if, 4);
    ASSERT_EQ(r->src_as, 64500);
    ASSERT_EQ(r->dst_as, 15169);
    ASSERT_EQ(r->direction, 1);
    ASSERT_EQ(r->vlan, 100);
    ASSERT_EQ(r->src_mac[5], 0x55);
    ASSERT_EQ(r->dst_mac[0], 0x66);
    ASSERT_EQ(r->end_reason, 3);
    ASSERT_EQ(r->sampling, 1);
    ASSERT(!(r->has & FLOE_F(BYTES_TOTAL)));
    const floe_counters *c = fx_c(&f, FLOE_PROTO_V9);
    ASSERT_EQ(c->records, 2);
    ASSERT_EQ(c->bytes, 2001);
    ASSERT_EQ(c->packets, 21);
    ASSERT_EQ(c->templates, 1);
    ASSERT_EQ(c->malformed, 0);
    fx_close(&f);
}

TEST(ipfix_template_then_data)
{
    static const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    static const uint8_t b6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
    static const uint8_t nh[16] = {0xfe, 0x80, [15] = 9};
    static const uint8_t bgp[16] = {0xfe, 0x80, [15] = 7};
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 5);
    set_begin(&P, 2);
    tmpl(&P, 300, 9);
    fld(&P, 27, 16), fld(&P, 28, 16), fld(&P, 7, 2), fld(&P, 11, 2), fld(&P, 4, 1);
    fld(&P, 1, 8), fld(&P, 2, 8), fld(&P, 62, 16), fld(&P, 63, 16);
    tmpl(&P, 301, 2); /* only the BGP next hop: the weak element fills in */
    fld(&P, 27, 16), fld(&P, 63, 16);
    set_end(&P);
    set_begin(&P, 300);
    memcpy(P.b + P.n, a6, 16), P.n += 16;
    memcpy(P.b + P.n, b6, 16), P.n += 16;
    u16(&P, 5353), u16(&P, 53), u8(&P, 17), u64(&P, 5000000000ULL), u64(&P, 7);
    memcpy(P.b + P.n, nh, 16), P.n += 16;
    memcpy(P.b + P.n, bgp, 16), P.n += 16;
    set_end(&P);
    set_begin(&P, 301);
    memcpy(P.b + P.n, a6, 16), P.n += 16;
    memcpy(P.b + P.n, bgp, 16), P.n += 16;
    set_end(&P);
    fx_feed(&f, &P);

    ASSERT_EQ(f.n, 2);
    ASSERT_EQ(f.recs[0].proto, FLOE_PROTO_IPFIX);
    ASSERT_EQ(f.recs[0].domain, 5);
    ASSERT_STR_EQ(addr(&f.recs[0].src), "2001:db8::1");
    ASSERT_STR_EQ(addr(&f.recs[0].dst), "2001:db8::2");
    ASSERT_U64_EQ(f.recs[0].bytes, 5000000000ULL);
    ASSERT_EQ(f.recs[0].sport, 5353);
    ASSERT_STR_EQ(addr(&f.recs[0].next_hop), "fe80::9");
    ASSERT_STR_EQ(addr(&f.recs[1].next_hop), "fe80::7");
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_IPFIX)->records, 2);
    ASSERT_U64_EQ(fx_c(&f, FLOE_PROTO_IPFIX)->bytes, 5000000000ULL);
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_IPFIX)->templates, 2);
    fx_close(&f);
}

TEST(zero_addresses_and_whole_seconds_yield)
{
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 5};
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 0);
    set_begin(&P, 2);
    /* IPv4 and IPv6 sources, in both orders; seconds and milliseconds. */
    tmpl(&P, 320, 4), fld(&P, 8, 4), fld(&P, 27, 16), fld(&P, 150, 4), fld(&P, 152, 8);
    tmpl(&P, 321, 4), fld(&P, 27, 16), fld(&P, 8, 4), fld(&P, 152, 8), fld(&P, 150, 4);
    set_end(&P);
    set_begin(&P, 320);
    v4(&P, 10, 1, 2, 3), zeros(&P, 16), u32(&P, 1699999990), u64(&P, 1699999990250ULL);
    set_end(&P);
    set_begin(&P, 321);
    memcpy(P.b + P.n, v6, 16), P.n += 16;
    zeros(&P, 4), u64(&P, 1699999990250ULL), u32(&P, 1699999990);
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 2);
    ASSERT_STR_EQ(addr(&f.recs[0].src), "10.1.2.3");
    ASSERT_STR_EQ(addr(&f.recs[1].src), "2001:db8::5");
    ASSERT_U64_EQ(f.recs[0].first_ms, 1699999990250ULL);
    ASSERT_U64_EQ(f.recs[1].first_ms, 1699999990250ULL);
    fx_close(&f);
}

/* IPFIX template 256: sourceIPv4Address, octetDeltaCount (4 bytes). */
static void ipfix_t256(pkt *p)
{
    set_begin(p, 2);
    tmpl(p, 256, 2);
    fld(p, 8, 4), fld(p, 1, 4);
    set_end(p);
}

static void ipfix_d256(pkt *p, int records)
{
    set_begin(p, 256);
    for (int i = 0; i < records; i++)
        v4(p, 10, 0, 0, (uint8_t)(i + 1)), u32(p, 100u * (uint32_t)(i + 1));
    set_end(p);
}

/* Fixed-length data sets are decoded up to 32 records at a time, a step
 * at a time across them: 70 records cross two batch boundaries, and each
 * record keeps its own values and its own "zero address" rule. */
TEST(long_sets_decode_every_record_as_its_own)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 1);
    set_begin(&P, 2);
    tmpl(&P, 330, 6), fld(&P, 8, 4), fld(&P, 27, 16), fld(&P, 7, 2), fld(&P, 1, 4);
    fld(&P, 152, 8), fld(&P, 6, 1);
    set_end(&P);
    set_begin(&P, 330);
    for (int i = 0; i < 70; i++) {
        uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = (uint8_t)i};
        if (i % 5 == 0)
            zeros(&P, 20); /* both zero: 0.0.0.0, whatever came before */
        else if (i % 2 == 0)
            v4(&P, 10, 0, 0, (uint8_t)i), zeros(&P, 16);
        else
            zeros(&P, 4), memcpy(P.b + P.n, v6, 16), P.n += 16;
        u16(&P, (uint16_t)(1000 + i)), u32(&P, 100u * (uint32_t)i);
        u64(&P, 1700000000000ULL + (uint64_t)i), u8(&P, (uint8_t)(i & 0x3f));
    }
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 70);
    for (int i = 0; i < 70; i++) {
        char want[64];
        snprintf(want, sizeof(want),
                 i % 5 == 0   ? "0.0.0.0"
                 : i % 2 == 0 ? "10.0.0.%d"
                              : "2001:db8::%x",
                 i);
        ASSERT_STR_EQ(addr(&f.recs[i].src), want);
        ASSERT_EQ(f.recs[i].sport, 1000 + i);
        ASSERT_U64_EQ(f.recs[i].bytes, 100u * (uint64_t)i);
        ASSERT_U64_EQ(f.recs[i].first_ms, 1700000000000ULL + (uint64_t)i);
        ASSERT_EQ(f.recs[i].tcp_flags, i & 0x3f);
        ASSERT(f.recs[i].has & FLOE_F(SRC));
    }
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_IPFIX)->records, 70);
    fx_close(&f);
}

TEST(data_before_template_is_missing_not_malformed)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 1);
    ipfix_d256(&P, 3);
    ipfix_d256(&P, 1);
    fx_feed(&f, &P);
    const floe_counters *c = fx_c(&f, FLOE_PROTO_IPFIX);
    ASSERT_EQ(c->missing_template, 2); /* one per data set */
    ASSERT_EQ(c->malformed, 0);
    ASSERT_EQ(f.n, 0);

    ipfix_begin(&P, 0, 1);
    ipfix_t256(&P);
    ipfix_d256(&P, 3);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 3);
    ASSERT_EQ(f.recs[2].bytes, 300);
    ASSERT_EQ(c->missing_template, 2);
    ASSERT_EQ(c->malformed, 0);
    fx_close(&f);
}

/* ---- options and sampling ----------------------------------------------------- */

TEST(v9_options_teach_sampling)
{
    fixture f;
    fx_init(&f);
    v9_begin(&P, 9, 0, 0);
    set_begin(&P, 0);
    tmpl(&P, 402, 3); /* data: src, bytes, FLOW_SAMPLER_ID */
    fld(&P, 8, 4), fld(&P, 1, 4), fld(&P, 48, 1);
    tmpl(&P, 403, 4); /* data that states its own SAMPLING_INTERVAL */
    fld(&P, 8, 4), fld(&P, 1, 4), fld(&P, 48, 1), fld(&P, 34, 4);
    set_end(&P);
    set_begin(&P, 1);
    u16(&P, 400), u16(&P, 4), u16(&P, 12); /* scope System; sampler id, mode, interval */
    fld(&P, 1, 4), fld(&P, 48, 1), fld(&P, 49, 1), fld(&P, 50, 4);
    zeros(&P, 2);
    set_end(&P);
    set_begin(&P, 1);
    u16(&P, 401), u16(&P, 4), u16(&P, 8); /* scope System; SAMPLING_INTERVAL, ALGORITHM */
    fld(&P, 1, 4), fld(&P, 34, 4), fld(&P, 35, 1);
    zeros(&P, 2);
    set_end(&P);
    set_begin(&P, 400);
    u32(&P, 0), u8(&P, 3), u8(&P, 2), u32(&P, 100);
    u32(&P, 0), u8(&P, 5), u8(&P, 2), u32(&P, 1000);
    set_end(&P);
    set_begin(&P, 401);
    u32(&P, 0), u32(&P, 10), u8(&P, 1);
    set_end(&P);
    fx_feed(&f, &P);
    const floe_counters *c = fx_c(&f, FLOE_PROTO_V9);
    ASSERT_EQ(c->options_templates, 2);
    ASSERT_EQ(c->options_records, 3);
    ASSERT_EQ(c->records, 0);
    ASSERT_EQ(f.n, 0);
    ASSERT_EQ(fx_exporter(&f, FLOE_PROTO_V9, 0)->dec.sampling, 10);

    /* A later datagram: each record takes its sampler's rate, or the default. */
    v9_begin(&P, 4, 1, 0);
    set_begin(&P, 402);
    v4(&P, 10, 0, 0, 1), u32(&P, 1), u8(&P, 3);
    v4(&P, 10, 0, 0, 2), u32(&P, 1), u8(&P, 5);
    v4(&P, 10, 0, 0, 3), u32(&P, 1), u8(&P, 9); /* no rate for sampler 9 */
    set_end(&P);
    set_begin(&P, 403);
    v4(&P, 10, 0, 0, 4), u32(&P, 1), u8(&P, 3), u32(&P, 7);
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 4);
    ASSERT_EQ(f.recs[0].sampling, 100);
    ASSERT_EQ(f.recs[1].sampling, 1000);
    ASSERT_EQ(f.recs[2].sampling, 10);
    ASSERT_EQ(f.recs[3].sampling, 7);
    ASSERT_EQ(f.recs[0].bytes, 1); /* counters are never scaled */
    fx_close(&f);
}

TEST(ipfix_options_selector_rates)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 0);
    set_begin(&P, 3);
    tmpl(&P, 500, 3), u16(&P, 1); /* scope selectorId; packet interval and space */
    fld(&P, 302, 4), fld(&P, 305, 4), fld(&P, 306, 4);
    tmpl(&P, 501, 3), u16(&P, 1); /* scope selectorId; sampling size and population */
    fld(&P, 302, 4), fld(&P, 309, 4), fld(&P, 310, 4);
    set_end(&P);
    set_begin(&P, 2);
    tmpl(&P, 502, 3);
    fld(&P, 8, 4), fld(&P, 302, 4), fld(&P, 1, 4);
    set_end(&P);
    set_begin(&P, 500);
    u32(&P, 1), u32(&P, 1), u32(&P, 99); /* 1 in every 1 + 99 */
    set_end(&P);
    set_begin(&P, 501);
    u32(&P, 2), u32(&P, 1), u32(&P, 256); /* 1 out of 256 */
    set_end(&P);
    set_begin(&P, 502);
    v4(&P, 10, 0, 0, 1), u32(&P, 1), u32(&P, 50);
    v4(&P, 10, 0, 0, 2), u32(&P, 2), u32(&P, 60);
    v4(&P, 10, 0, 0, 3), u32(&P, 3), u32(&P, 70);
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 3);
    ASSERT_EQ(f.recs[0].sampling, 100);
    ASSERT_EQ(f.recs[1].sampling, 256);
    ASSERT_EQ(f.recs[2].sampling, 1); /* no rate for selector 3, no default */
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_IPFIX)->options_records, 2);
    ASSERT_EQ(fx_exporter(&f, FLOE_PROTO_IPFIX, 0)->dec.sampling, 0);
    fx_close(&f);
}

/* ---- withdrawal and redefinition ------------------------------------------------- */

TEST(ipfix_withdrawal_and_withdraw_all)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 0);
    set_begin(&P, 2);
    tmpl(&P, 256, 2), fld(&P, 8, 4), fld(&P, 1, 4);
    tmpl(&P, 257, 2), fld(&P, 8, 4), fld(&P, 2, 4);
    set_end(&P);
    set_begin(&P, 3);
    tmpl(&P, 258, 2), u16(&P, 1), fld(&P, 302, 4), fld(&P, 34, 4);
    set_end(&P);
    fx_feed(&f, &P);
    floe_exporter *ex = fx_exporter(&f, FLOE_PROTO_IPFIX, 0);
    ASSERT_EQ(ex->dec.templates, 3);
    ASSERT_EQ(f.ing.dec.templates_live, 3);

    ipfix_begin(&P, 0, 0);
    set_begin(&P, 2);
    tmpl(&P, 256, 0); /* RFC 7011 §8.1: withdraw 256 */
    set_end(&P);
    ipfix_d256(&P, 1);
    set_begin(&P, 257);
    v4(&P, 10, 0, 0, 9), u32(&P, 4);
    set_end(&P);
    fx_feed(&f, &P);
    const floe_counters *c = fx_c(&f, FLOE_PROTO_IPFIX);
    ASSERT_EQ(c->withdrawals, 1);
    ASSERT_EQ(c->missing_template, 1);
    ASSERT_EQ(f.n, 1);
    ASSERT_EQ(f.recs[0].packets, 4);
    ASSERT_EQ(ex->dec.templates, 2);

    ipfix_begin(&P, 0, 0);
    set_begin(&P, 2);
    tmpl(&P, 2, 0); /* withdraw every data template; options stay */
    set_end(&P);
    set_begin(&P, 257);
    v4(&P, 10, 0, 0, 9), u32(&P, 4);
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(c->withdrawals, 2);
    ASSERT_EQ(c->missing_template, 2);
    ASSERT_EQ(ex->dec.templates, 1);

    ipfix_begin(&P, 0, 0);
    set_begin(&P, 3);
    tmpl(&P, 3, 0); /* withdraw every options template */
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(c->withdrawals, 3);
    ASSERT_EQ(ex->dec.templates, 0);
    ASSERT_EQ(f.ing.dec.templates_live, 0);
    ASSERT_EQ(c->malformed, 0);
    fx_close(&f);
}

TEST(exporter_restart_redefines_templates)
{
    fixture f;
    fx_init(&f);
    v9_begin(&P, 2, 100, 0);
    set_begin(&P, 0);
    tmpl(&P, 256, 2), fld(&P, 8, 4), fld(&P, 1, 4);
    set_end(&P);
    set_begin(&P, 256);
    v4(&P, 10, 0, 0, 1), u32(&P, 500);
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 1);
    ASSERT_EQ(f.recs[0].bytes, 500);

    /* The exporter restarts: same id 256 with a new layout, and a new id. */
    v9_begin(&P, 4, 0, 0);
    set_begin(&P, 0);
    tmpl(&P, 256, 3), fld(&P, 1, 8), fld(&P, 12, 4), fld(&P, 8, 4);
    tmpl(&P, 257, 3), fld(&P, 7, 2), fld(&P, 11, 2), fld(&P, 1, 2);
    set_end(&P);
    set_begin(&P, 256);
    u64(&P, 7000), v4(&P, 192, 0, 2, 9), v4(&P, 10, 0, 0, 2);
    set_end(&P);
    set_begin(&P, 257);
    u16(&P, 53), u16(&P, 5353), u16(&P, 60);
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 3);
    ASSERT_EQ(f.recs[1].bytes, 7000);
    ASSERT_STR_EQ(addr(&f.recs[1].dst), "192.0.2.9");
    ASSERT_STR_EQ(addr(&f.recs[1].src), "10.0.0.2");
    ASSERT_EQ(f.recs[2].sport, 53);
    ASSERT_EQ(f.recs[2].dport, 5353);
    ASSERT_EQ(f.recs[2].bytes, 60);
    ASSERT(!(f.recs[2].has & FLOE_F(SRC)));
    ASSERT_EQ(f.ing.dec.templates_live, 2);

    /* The same layout again only refreshes. */
    v9_begin(&P, 1, 1, 0);
    set_begin(&P, 0);
    tmpl(&P, 257, 3), fld(&P, 7, 2), fld(&P, 11, 2), fld(&P, 1, 2);
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(f.ing.dec.templates_live, 2);
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_V9)->templates, 4);
    ASSERT_EQ(fx_exporter(&f, FLOE_PROTO_V9, 0)->dec.templates, 2);
    fx_close(&f);
}

/* ---- field encodings ---------------------------------------------------------------- */

TEST(variable_length_fields)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 0);
    set_begin(&P, 2);
    tmpl(&P, 600, 4);
    fld(&P, 8, 4), fld(&P, 95, 65535), fld(&P, 82, 65535), fld(&P, 1, 4);
    set_end(&P);
    set_begin(&P, 600);
    /* 1-byte lengths: applicationId 13:0x000150, interfaceName "eth". */
    v4(&P, 10, 0, 0, 1), u8(&P, 4), u8(&P, 13), u8(&P, 0), u8(&P, 1), u8(&P, 0x50);
    u8(&P, 3), u8(&P, 'e'), u8(&P, 't'), u8(&P, 'h'), u32(&P, 111);
    /* 3-byte lengths: 255 then a 16-bit length (RFC 7011 §7). */
    v4(&P, 10, 0, 0, 2), u8(&P, 255), u16(&P, 5), u8(&P, 20), u32(&P, 0x01020304);
    u8(&P, 255), u16(&P, 300);
    memset(P.b + P.n, 'x', 300), P.n += 300;
    u32(&P, 222);
    zeros(&P, 3); /* padding: less than the 10-byte minimum record */
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 2);
    ASSERT_EQ(f.recs[0].app_id.engine, 13);
    ASSERT_EQ(f.recs[0].app_id.selector, 0x150);
    ASSERT_EQ(f.recs[0].app_id.selector_len, 3);
    ASSERT_EQ(f.recs[0].bytes, 111);
    ASSERT_EQ(f.recs[1].app_id.engine, 20);
    ASSERT_EQ(f.recs[1].app_id.selector, 0x01020304);
    ASSERT_STR_EQ(addr(&f.recs[1].src), "10.0.0.2");
    ASSERT_EQ(f.recs[1].bytes, 222);
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_IPFIX)->malformed, 0);

    /* A length that runs past the set: rejected, and no partial record. */
    ipfix_begin(&P, 2, 0);
    set_begin(&P, 600);
    v4(&P, 10, 0, 0, 3), u8(&P, 200), u8(&P, 1), u8(&P, 2), u32(&P, 333);
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 2);
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_IPFIX)->reason[FLOE_R_BAD_RECORD], 1);
    fx_close(&f);
}

TEST(reduced_size_encoding)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 0);
    set_begin(&P, 2);
    tmpl(&P, 610, 6);
    fld(&P, 1, 4), fld(&P, 2, 2), fld(&P, 16, 2), fld(&P, 17, 4), fld(&P, 85, 3), fld(&P, 10, 1);
    set_end(&P);
    set_begin(&P, 610);
    u32(&P, 0x01020304), u16(&P, 0x0a0b), u16(&P, 64512), u32(&P, 4200000000u);
    u8(&P, 1), u8(&P, 2), u8(&P, 3), u8(&P, 7);
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 1);
    ASSERT_EQ(f.recs[0].bytes, 0x01020304);
    ASSERT_EQ(f.recs[0].packets, 0x0a0b);
    ASSERT_EQ(f.recs[0].src_as, 64512);
    ASSERT_U64_EQ(f.recs[0].dst_as, 4200000000u);
    ASSERT_EQ(f.recs[0].bytes_total, 0x010203);
    ASSERT_EQ(f.recs[0].in_if, 7);
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_IPFIX)->bytes_total, 0x010203);
    fx_close(&f);
}

TEST(padding_in_every_kind_of_set)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 0);
    set_begin(&P, 2);
    tmpl(&P, 256, 2), fld(&P, 8, 4), fld(&P, 1, 4);
    zeros(&P, 2);
    set_end(&P);
    set_begin(&P, 3);
    tmpl(&P, 258, 2), u16(&P, 1), fld(&P, 302, 4), fld(&P, 34, 4);
    zeros(&P, 2);
    set_end(&P);
    set_begin(&P, 256);
    v4(&P, 10, 0, 0, 1), u32(&P, 1), v4(&P, 10, 0, 0, 2), u32(&P, 2);
    zeros(&P, 7); /* less than one 8-byte record */
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 2);
    const floe_counters *c = fx_c(&f, FLOE_PROTO_IPFIX);
    ASSERT_EQ(c->templates, 1);
    ASSERT_EQ(c->options_templates, 1);
    ASSERT_EQ(c->malformed, 0);

    /* v9 zero fill after the last flowset (as Palo Alto sends) is padding. */
    v9_begin(&P, 2, 0, 0);
    set_begin(&P, 0);
    tmpl(&P, 256, 2), fld(&P, 8, 4), fld(&P, 1, 4);
    set_end(&P);
    set_begin(&P, 256);
    v4(&P, 10, 0, 0, 3), u32(&P, 3);
    set_end(&P);
    zeros(&P, 1200);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 3);
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_V9)->malformed, 0);
    fx_close(&f);
}

/* ---- hostile input ------------------------------------------------------------------- */

TEST(every_truncation_is_rejected_without_partial_records)
{
    fixture f;
    fx_init(&f);
    /* IPFIX: every cut leaves the header's length past the datagram. */
    ipfix_begin(&P, 0, 0);
    ipfix_t256(&P);
    ipfix_d256(&P, 3);
    size_t n = pkt_end(&P);
    for (size_t len = 0; len < n; len++) {
        uint8_t *copy = malloc(len ? len : 1); /* so ASan sees every overread */
        memcpy(copy, P.b, len);
        fx_feed_at(&f, copy, len, NOW_MS);
        free(copy);
    }
    const floe_counters *c = fx_c(&f, FLOE_PROTO_IPFIX);
    ASSERT_EQ(f.n, 0);
    ASSERT_EQ(c->reason[FLOE_R_SHORT_HEADER], 16 - 2);
    ASSERT_EQ(c->reason[FLOE_R_TRUNCATED], n - 16);

    /* v9 has no length: a cut inside a set is a bad set length, and a cut
     * on a set boundary is a shorter, valid datagram. The template flowset
     * starts with id 0, so its first 1-3 bytes alone are zero fill. */
    v9_begin(&P, 4, 0, 0);
    set_begin(&P, 0);
    tmpl(&P, 256, 2), fld(&P, 8, 4), fld(&P, 1, 4);
    set_end(&P);
    size_t boundary = P.n;
    set_begin(&P, 256);
    for (uint8_t i = 0; i < 3; i++)
        v4(&P, 10, 0, 0, (uint8_t)(i + 1)), u32(&P, 7);
    set_end(&P);
    n = P.n;
    for (size_t len = 2; len < n; len++) { /* 0 and 1 byte: no version, not v9's */
        uint8_t *copy = malloc(len);
        memcpy(copy, P.b, len);
        uint64_t before = fx_c(&f, FLOE_PROTO_V9)->malformed;
        fx_feed_at(&f, copy, len, NOW_MS);
        free(copy);
        uint64_t rejected = fx_c(&f, FLOE_PROTO_V9)->malformed - before;
        ASSERT_EQ(rejected, ((len >= 20 && len < 24) || len == boundary) ? 0 : 1);
    }
    ASSERT_EQ(f.n, 0);
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_V9)->reason[FLOE_R_SHORT_HEADER], 20 - 2);
    fx_feed_at(&f, P.b, n, NOW_MS);
    ASSERT_EQ(f.n, 3);
    fx_close(&f);
}

TEST(bad_set_lengths_and_reserved_set_ids)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 0);
    ipfix_t256(&P);
    ipfix_d256(&P, 2);
    set_begin(&P, 7); /* reserved: skipped by its length */
    u32(&P, 0xdeadbeef);
    set_end(&P);
    ipfix_d256(&P, 1);
    u16(&P, 256), u16(&P, 4000); /* runs past the message */
    zeros(&P, 8);
    fx_feed(&f, &P);
    const floe_counters *c = fx_c(&f, FLOE_PROTO_IPFIX);
    ASSERT_EQ(f.n, 3); /* what came before stays decoded */
    ASSERT_EQ(c->reason[FLOE_R_BAD_SET_ID], 1);
    ASSERT_EQ(c->reason[FLOE_R_BAD_SET_LENGTH], 1);
    ASSERT_EQ(c->malformed, 2);

    ipfix_begin(&P, 3, 0);
    u16(&P, 256), u16(&P, 2); /* shorter than a set header */
    ipfix_d256(&P, 1);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 3); /* the rest is abandoned */
    ASSERT_EQ(c->reason[FLOE_R_BAD_SET_LENGTH], 2);

    ipfix_begin(&P, 3, 0);
    ipfix_d256(&P, 1);
    u8(&P, 1); /* 1 byte left in the message: no room for a set */
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 4);
    ASSERT_EQ(c->reason[FLOE_R_BAD_SET_LENGTH], 3);
    fx_close(&f);
}

TEST(absurd_templates_are_rejected)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 0);
    set_begin(&P, 2);
    tmpl(&P, 256, 2), fld(&P, 8, 0), fld(&P, 1, 0); /* 0 bytes, no varlen */
    set_end(&P);
    set_begin(&P, 2);
    tmpl(&P, 257, 5000), fld(&P, 8, 4); /* more fields than the set holds */
    set_end(&P);
    set_begin(&P, 2);
    tmpl(&P, 100, 1), fld(&P, 8, 4); /* ids below 256 are not data templates */
    set_end(&P);
    set_begin(&P, 3);
    tmpl(&P, 258, 1), u16(&P, 2), fld(&P, 8, 4); /* more scope fields than fields */
    set_end(&P);
    set_begin(&P, 2);
    tmpl(&P, 259, 1), fld_pen(&P, 1, 4, 9); /* an enterprise field cut short */
    P.n -= 2;
    set_end(&P);
    fx_feed(&f, &P);
    const floe_counters *c = fx_c(&f, FLOE_PROTO_IPFIX);
    ASSERT_EQ(c->reason[FLOE_R_BAD_TEMPLATE], 5);
    ASSERT_EQ(c->templates, 0);
    ASSERT_EQ(f.ing.dec.templates_live, 0);

    /* v9 options template lengths must be whole field specifiers. */
    v9_begin(&P, 1, 0, 0);
    set_begin(&P, 1);
    u16(&P, 300), u16(&P, 4), u16(&P, 6), fld(&P, 1, 4), fld(&P, 34, 4), u16(&P, 0);
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_V9)->reason[FLOE_R_BAD_TEMPLATE], 1);
    fx_close(&f);
}

TEST(v9_flowsets_beyond_the_header_count)
{
    fixture f;
    fx_init(&f);
    v9_begin(&P, 1, 0, 0); /* count 1, but two flowsets */
    set_begin(&P, 0);
    tmpl(&P, 256, 2), fld(&P, 8, 4), fld(&P, 1, 4);
    set_end(&P);
    set_begin(&P, 256);
    v4(&P, 10, 0, 0, 1), u32(&P, 1);
    set_end(&P);
    fx_feed(&f, &P);
    const floe_counters *c = fx_c(&f, FLOE_PROTO_V9);
    ASSERT_EQ(c->templates, 1);
    ASSERT_EQ(f.n, 0);
    ASSERT_EQ(c->reason[FLOE_R_BAD_COUNT], 1);

    /* Counting flowsets instead of records (Cisco WLC) is within the bound. */
    v9_begin(&P, 1, 1, 0);
    set_begin(&P, 256);
    v4(&P, 10, 0, 0, 1), u32(&P, 1), v4(&P, 10, 0, 0, 2), u32(&P, 1);
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 2);
    ASSERT_EQ(c->malformed, 1);
    fx_close(&f);
}

TEST(headers)
{
    fixture f;
    uint8_t b[64];
    fx_init(&f);
    memset(b, 0, sizeof(b));
    put16(b, 10), put16(b + 2, 12); /* IPFIX length below its own header */
    fx_feed_at(&f, b, 40, NOW_MS);
    put16(b + 2, 41); /* longer than the datagram */
    fx_feed_at(&f, b, 40, NOW_MS);
    put16(b + 2, 16); /* a bare header, then trailing bytes: fine */
    fx_feed_at(&f, b, 40, NOW_MS);
    fx_feed_at(&f, b, 15, NOW_MS);
    const floe_counters *c = fx_c(&f, FLOE_PROTO_IPFIX);
    ASSERT_EQ(c->reason[FLOE_R_BAD_LENGTH], 1);
    ASSERT_EQ(c->reason[FLOE_R_TRUNCATED], 1);
    ASSERT_EQ(c->reason[FLOE_R_SHORT_HEADER], 1);
    ASSERT_EQ(c->malformed, 3);
    ASSERT_EQ(c->datagrams, 4);
    put16(b, 9);
    fx_feed_at(&f, b, 19, NOW_MS);
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_V9)->reason[FLOE_R_SHORT_HEADER], 1);

    floe_hdr h;
    uint8_t v9[20] = {0, 9, 0, 3, 0, 0, 0x10, 0, 0x65, 0x53, 0xf1, 0x00, 0, 0, 0, 9, 0, 0, 1, 2};
    ASSERT_EQ(floe_dec_ops_for(FLOE_PROTO_V9)->header(v9, sizeof(v9), &h), 0);
    ASSERT_EQ(h.count, 3);
    ASSERT_EQ(h.uptime_ms, 0x1000);
    ASSERT_U64_EQ(h.export_ms, 0x6553f100ULL * 1000);
    ASSERT_EQ(h.seq, 9);
    ASSERT_EQ(h.domain, 0x102);
    fx_close(&f);
}

/* Builds one IPFIX message with data, options and variable-length templates
 * and their records; mutations of it exercise every parsing path. */
static size_t fuzz_seed_ipfix(pkt *p)
{
    ipfix_begin(p, 0, 0);
    set_begin(p, 2);
    tmpl(p, 256, 3), fld(p, 8, 4), fld(p, 1, 4), fld(p, 95, 65535);
    tmpl(p, 257, 3), fld(p, 27, 16), fld_pen(p, 118, 2, 35632), fld(p, 152, 8);
    set_end(p);
    set_begin(p, 3);
    tmpl(p, 258, 3), u16(p, 1), fld(p, 302, 4), fld(p, 305, 4), fld(p, 306, 4);
    set_end(p);
    set_begin(p, 256);
    v4(p, 10, 0, 0, 1), u32(p, 10), u8(p, 2), u8(p, 3), u8(p, 4);
    v4(p, 10, 0, 0, 2), u32(p, 20), u8(p, 255), u16(p, 1), u8(p, 9);
    set_end(p);
    set_begin(p, 257);
    zeros(p, 16), u16(p, 7), u64(p, EXPORT_MS);
    set_end(p);
    set_begin(p, 258);
    u32(p, 1), u32(p, 1), u32(p, 9);
    set_end(p);
    return pkt_end(p);
}

static size_t fuzz_seed_v9(pkt *p)
{
    v9_begin(p, 6, 0, 0);
    set_begin(p, 0);
    tmpl(p, 256, 3), fld(p, 8, 4), fld(p, 22, 4), fld(p, 82, 65535);
    set_end(p);
    set_begin(p, 1);
    u16(p, 300), u16(p, 4), u16(p, 8), fld(p, 1, 4), fld(p, 48, 1), fld(p, 50, 4);
    zeros(p, 2);
    set_end(p);
    set_begin(p, 300);
    u32(p, 0), u8(p, 1), u32(p, 100), zeros(p, 3);
    set_end(p);
    set_begin(p, 256);
    v4(p, 10, 0, 0, 1), u32(p, 5), u8(p, 1), u8(p, 'a');
    set_end(p);
    return p->n;
}

/*
 * Random byte mutations and cuts of valid datagrams, under small bounds:
 * nothing may crash (the sanitizer build watches every read), and the
 * template counts must stay exact and within the bounds throughout.
 */
TEST(mutated_datagrams_do_no_harm)
{
    static pkt seeds[2];
    size_t len[2] = {fuzz_seed_ipfix(&seeds[0]), fuzz_seed_v9(&seeds[1])};
    fixture f;
    fx_init(&f);
    f.ing.dec.lim.max_templates_per_exporter = 4;
    f.ing.dec.lim.max_templates = 10;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 20000; i++) {
        const pkt *seed = &seeds[i & 1];
        size_t n = len[i & 1];
        uint8_t *b = malloc(n);
        memcpy(b, seed->b, n);
        int flips = 1 + (int)(x % 4);
        for (int k = 0; k < flips; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
            b[2 + x % (n - 2)] = (uint8_t)(x >> 32); /* keep the version */
        }
        size_t cut = (x >> 40) % 4 == 0 ? (x >> 20) % n : n;
        fx_feed_at(&f, b, cut, NOW_MS + (uint64_t)i);
        free(b);
        ASSERT_LE(f.ing.dec.templates_live, 10);
    }
    uint64_t held = 0;
    floe_exporter *ex;
    FLOE_EXPORTERS_FOREACH(&f.ing.exporters, ex) {
        ASSERT_LE(ex->dec.templates, 4);
        held += ex->dec.templates;
    }
    ASSERT_EQ(held, f.ing.dec.templates_live);
    ASSERT_GT(fx_c(&f, FLOE_PROTO_IPFIX)->records + fx_c(&f, FLOE_PROTO_V9)->records, 0);
    ASSERT_GT(fx_c(&f, FLOE_PROTO_IPFIX)->malformed + fx_c(&f, FLOE_PROTO_V9)->malformed, 0);
    fx_close(&f);
}

/* ---- bounds and expiry ------------------------------------------------------------------ */

/* Sends ids [first, first + count) of 200 one-byte fields, 80 a message. */
static void bomb(fixture *f, uint32_t domain, uint16_t first, int count)
{
    for (int done = 0; done < count;) {
        ipfix_begin(&P, 0, domain);
        set_begin(&P, 2);
        for (int k = 0; k < 80 && done < count; k++, done++) {
            tmpl(&P, (uint16_t)(first + done), 200);
            for (uint16_t i = 0; i < 200; i++)
                fld(&P, (uint16_t)(400 + i), 1);
        }
        set_end(&P);
        fx_feed(f, &P);
        floe_exporter *ex = fx_exporter(f, FLOE_PROTO_IPFIX, domain);
        ASSERT_LE(ex->dec.templates, 100);
        ASSERT_LE(f->ing.dec.templates_live, 150);
    }
}

static int bomb_data(fixture *f, uint32_t domain, uint16_t id)
{
    int before = f->n;
    ipfix_begin(&P, 0, domain);
    set_begin(&P, id);
    zeros(&P, 200);
    set_end(&P);
    fx_feed(f, &P);
    return f->n - before;
}

TEST(template_bomb_stays_within_bounds)
{
    fixture f;
    fx_init(&f);
    f.ing.dec.lim.max_templates_per_exporter = 100;
    f.ing.dec.lim.max_templates = 150;
    bomb(&f, 1, 256, 5000);
    ASSERT_EQ(fx_exporter(&f, FLOE_PROTO_IPFIX, 1)->dec.templates, 100);
    ASSERT_EQ(f.ing.dec.template_evictions, 4900);
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_IPFIX)->templates, 5000);
    ASSERT_EQ(bomb_data(&f, 1, 256 + 4999), 1);

    /* Another exporter: at the global bound, the oldest of all go first. */
    bomb(&f, 2, 256, 100);
    ASSERT_EQ(fx_exporter(&f, FLOE_PROTO_IPFIX, 2)->dec.templates, 100);
    ASSERT_EQ(fx_exporter(&f, FLOE_PROTO_IPFIX, 1)->dec.templates, 50);
    ASSERT_EQ(f.ing.dec.templates_live, 150);
    ASSERT_EQ(f.ing.dec.template_evictions, 4950);
    ASSERT_EQ(bomb_data(&f, 1, 256 + 4949), 0); /* evicted */
    ASSERT_EQ(bomb_data(&f, 1, 256 + 4950), 1);
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_IPFIX)->malformed, 0);

    /* A reload lowers the bounds: the next sweep evicts down to them. */
    f.ing.dec.lim.max_templates_per_exporter = 80;
    f.ing.dec.lim.max_templates = 120;
    floe_ingest_sweep(&f.ing, NOW_MS);
    ASSERT_EQ(fx_exporter(&f, FLOE_PROTO_IPFIX, 2)->dec.templates, 80);
    ASSERT_EQ(fx_exporter(&f, FLOE_PROTO_IPFIX, 1)->dec.templates, 40);
    ASSERT_EQ(f.ing.dec.templates_live, 120);
    ASSERT_EQ(f.ing.dec.template_evictions, 4980);
    fx_close(&f);
}

TEST(templates_expire_by_sweep_and_by_lookup)
{
    fixture f;
    fx_init(&f);
    f.ing.dec.lim.template_timeout_ms = 60000;
    uint64_t t0 = NOW_MS;
    ipfix_begin(&P, 0, 0);
    ipfix_t256(&P);
    fx_feed_at(&f, P.b, pkt_end(&P), t0);
    floe_ingest_sweep(&f.ing, t0 + 50000);
    ASSERT_EQ(f.ing.dec.templates_live, 1);
    fx_feed_at(&f, P.b, pkt_end(&P), t0 + 50000); /* refreshed */
    floe_ingest_sweep(&f.ing, t0 + 100000);
    ASSERT_EQ(f.ing.dec.templates_live, 1);
    floe_ingest_sweep(&f.ing, t0 + 111000);
    ASSERT_EQ(f.ing.dec.templates_live, 0);
    ASSERT_EQ(f.ing.dec.template_expired, 1);
    ASSERT_EQ(fx_exporter(&f, FLOE_PROTO_IPFIX, 0)->dec.templates, 0);

    ipfix_begin(&P, 0, 0);
    ipfix_t256(&P);
    fx_feed_at(&f, P.b, pkt_end(&P), t0 + 200000);
    ipfix_begin(&P, 0, 0);
    ipfix_d256(&P, 1);
    fx_feed_at(&f, P.b, pkt_end(&P), t0 + 230000);
    ASSERT_EQ(f.n, 1);
    fx_feed_at(&f, P.b, pkt_end(&P), t0 + 261000); /* no sweep in between */
    ASSERT_EQ(f.n, 1);
    ASSERT_EQ(f.ing.dec.template_expired, 2);
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_IPFIX)->missing_template, 1);
    fx_close(&f);
}

/* ---- time forms ---------------------------------------------------------------------------- */

/* One template of two 4- or 8-byte time fields and a record of them. */
static void time_pair(pkt *p, uint16_t id, uint16_t ie_start, uint16_t ie_end, uint16_t len,
                      uint64_t start, uint64_t end)
{
    set_begin(p, 2);
    tmpl(p, id, 2), fld(p, ie_start, len), fld(p, ie_end, len);
    set_end(p);
    set_begin(p, id);
    if (len == 4)
        u32(p, (uint32_t)start), u32(p, (uint32_t)end);
    else
        u64(p, start), u64(p, end);
    set_end(p);
}

#define NTP(unix_s, frac) ((((uint64_t)(unix_s) + 2208988800ULL) << 32) | (frac))

TEST(time_forms_give_absolute_times)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 0);
    time_pair(&P, 700, 150, 151, 4, 1699999990, 1699999995);
    time_pair(&P, 701, 152, 153, 8, 1699999990123ULL, 1699999995456ULL);
    time_pair(&P, 702, 154, 155, 8, NTP(1699999990, 0x80000000u), NTP(1699999995, 0x40000000u));
    time_pair(&P, 703, 156, 157, 8, NTP(1699999990, 0x20000000u), NTP(1699999995, 0));
    time_pair(&P, 704, 158, 159, 4, 10000000, 1500); /* microseconds before export */
    /* flowStart/EndSysUpTime before systemInitTime is known: no time. */
    time_pair(&P, 705, 22, 21, 4, 5000, 9000);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 6);
    ASSERT_U64_EQ(f.recs[0].first_ms, 1699999990000ULL);
    ASSERT_U64_EQ(f.recs[0].last_ms, 1699999995000ULL);
    ASSERT_U64_EQ(f.recs[1].first_ms, 1699999990123ULL);
    ASSERT_U64_EQ(f.recs[1].last_ms, 1699999995456ULL);
    ASSERT_U64_EQ(f.recs[2].first_ms, 1699999990500ULL); /* fraction 1/2 */
    ASSERT_U64_EQ(f.recs[2].last_ms, 1699999995250ULL);  /* fraction 1/4 */
    ASSERT_U64_EQ(f.recs[3].first_ms, 1699999990125ULL); /* fraction 1/8 */
    ASSERT_U64_EQ(f.recs[3].last_ms, 1699999995000ULL);
    ASSERT_U64_EQ(f.recs[4].first_ms, EXPORT_MS - 10000);
    ASSERT_U64_EQ(f.recs[4].last_ms, EXPORT_MS - 2); /* 1.5 ms back, floored */
    ASSERT(!(f.recs[5].has & (FLOE_F(FIRST) | FLOE_F(LAST))));

    /* systemInitTimeMilliseconds from an options record, then in a record. */
    ipfix_begin(&P, 6, 0);
    set_begin(&P, 3);
    tmpl(&P, 706, 2), u16(&P, 1), fld(&P, 149, 4), fld(&P, 160, 8);
    set_end(&P);
    set_begin(&P, 706);
    u32(&P, 0), u64(&P, 1699990000000ULL);
    set_end(&P);
    set_begin(&P, 705);
    u32(&P, 5000), u32(&P, 9000);
    set_end(&P);
    set_begin(&P, 2);
    tmpl(&P, 707, 3), fld(&P, 160, 8), fld(&P, 22, 4), fld(&P, 21, 4);
    set_end(&P);
    set_begin(&P, 707);
    u64(&P, 1600000000000ULL), u32(&P, 1), u32(&P, 2);
    set_end(&P);
    fx_feed(&f, &P);
    ASSERT_EQ(f.n, 8);
    ASSERT_U64_EQ(f.recs[6].first_ms, 1699990005000ULL);
    ASSERT_U64_EQ(f.recs[6].last_ms, 1699990009000ULL);
    ASSERT_U64_EQ(f.recs[7].first_ms, 1600000000001ULL);
    ASSERT_U64_EQ(f.recs[7].last_ms, 1600000000002ULL);
    fx_close(&f);
}

/* ---- nProbe -----------------------------------------------------------------------------------
 */

TEST(nprobe_enterprise_fields)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 0);
    set_begin(&P, 2);
    tmpl(&P, 800, 8);
    fld(&P, 8, 4);
    fld_pen(&P, 118, 2, 35632), fld_pen(&P, 123, 4, 35632), fld_pen(&P, 124, 4, 35632);
    fld_pen(&P, 109, 4, 35632), fld_pen(&P, 110, 4, 35632);
    fld_pen(&P, 999, 3, 35632); /* unknown to floe: skipped by length */
    fld_pen(&P, 1, 4, 9);       /* another vendor's element 1 is not octetDeltaCount */
    set_end(&P);
    set_begin(&P, 800);
    v4(&P, 10, 0, 0, 1), u16(&P, 7), u32(&P, 12), u32(&P, 34), u32(&P, 5), u32(&P, 6);
    u8(&P, 1), u8(&P, 2), u8(&P, 3), u32(&P, 999);
    set_end(&P);
    fx_feed(&f, &P);

    /* v9: nProbe sends PEN 35632 element n as field type 57472 + n. */
    v9_begin(&P, 2, 0, 0);
    set_begin(&P, 0);
    tmpl(&P, 801, 5);
    fld(&P, 57590, 2), fld(&P, 57595, 4), fld(&P, 57596, 4), fld(&P, 57581, 4), fld(&P, 57582, 4);
    set_end(&P);
    set_begin(&P, 801);
    u16(&P, 91), u32(&P, 1), u32(&P, 2), u32(&P, 3), u32(&P, 4);
    zeros(&P, 2);
    set_end(&P);
    fx_feed(&f, &P);

    ASSERT_EQ(f.n, 2);
    const floe_record *r = &f.recs[0];
    ASSERT_EQ(r->l7_proto, 7);
    ASSERT_EQ(r->cli_latency_us, 12000); /* nProbe sends milliseconds */
    ASSERT_EQ(r->srv_latency_us, 34000);
    ASSERT_EQ(r->retrans_in, 5);
    ASSERT_EQ(r->retrans_out, 6);
    ASSERT(!(r->has & FLOE_F(BYTES)));
    ASSERT(r->has & FLOE_F(L7_PROTO));
    r = &f.recs[1];
    ASSERT_EQ(r->l7_proto, 91);
    ASSERT_EQ(r->cli_latency_us, 1000);
    ASSERT_EQ(r->srv_latency_us, 2000);
    ASSERT_EQ(r->retrans_in, 3);
    ASSERT_EQ(r->retrans_out, 4);
    fx_close(&f);
}

/* ---- the element table, the sequence, describe ------------------------------------------------
 */

TEST(element_table_agrees_with_fixbuf)
{
    size_t n;
    const nf_ie *t = dec__ie_table(&n);
    fbInfoModel_t *model = fbInfoModelAlloc();
    int standard = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            ASSERT(t[i - 1].pen < t[i].pen || (t[i - 1].pen == t[i].pen && t[i - 1].id < t[i].id));
        ASSERT(dec__ie_find(t[i].pen, t[i].id) == &t[i]);
        if (t[i].pen != 0)
            continue;
        const fbInfoElement_t *e = fbInfoModelGetElementByID(model, t[i].id, 0);
        ASSERT(e != NULL);
        ASSERT_STR_EQ(e->ref.name, t[i].name);
        ASSERT_EQ(e->type, t[i].type);
        ASSERT_EQ(e->len, t[i].len);
        standard++;
    }
    ASSERT_GE(standard, 55);
    ASSERT(dec__ie_find(0, 3) == NULL);
    ASSERT_STR_EQ(dec__ie_name(model, 0, 84), "samplerName"); /* known to fixbuf only */
    ASSERT_STR_EQ(dec__ie_name(NULL, 35632, 118), "L7_PROTO");
    fbInfoModelFree(model);
}

TEST(ipfix_sequence_counts_data_records)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 100, 0);
    ipfix_t256(&P);
    ipfix_d256(&P, 3);
    fx_feed(&f, &P);
    ipfix_begin(&P, 103, 0); /* in order */
    ipfix_d256(&P, 2);
    fx_feed(&f, &P);
    const floe_counters *c = fx_c(&f, FLOE_PROTO_IPFIX);
    ASSERT_EQ(c->seq_gaps, 0);
    ipfix_begin(&P, 110, 0); /* 5 records lost */
    ipfix_d256(&P, 1);
    fx_feed(&f, &P);
    ASSERT_EQ(c->seq_gaps, 1);
    ASSERT_EQ(c->lost, 5);
    ipfix_begin(&P, 111, 0); /* a set without template: the advance is unknown */
    set_begin(&P, 999);
    zeros(&P, 8);
    set_end(&P);
    fx_feed(&f, &P);
    ipfix_begin(&P, 500, 0);
    ipfix_d256(&P, 1);
    fx_feed(&f, &P);
    ASSERT_EQ(c->seq_gaps, 1);

    v9_begin(&P, 0, 7, 0); /* v9 counts datagrams */
    fx_feed(&f, &P);
    v9_begin(&P, 0, 8, 0);
    fx_feed(&f, &P);
    v9_begin(&P, 0, 10, 0);
    fx_feed(&f, &P);
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_V9)->lost, 1);
    fx_close(&f);
}

TEST(describe_lists_templates_by_name)
{
    fixture f;
    floe_buf b;
    floe_json j;
    fx_init(&f);
    ipfix_begin(&P, 0, 0);
    ipfix_t256(&P);
    set_begin(&P, 3);
    tmpl(&P, 258, 2), u16(&P, 1), fld(&P, 302, 4), fld(&P, 34, 4);
    set_end(&P);
    set_begin(&P, 258);
    u32(&P, 4), u32(&P, 64);
    set_end(&P);
    fx_feed(&f, &P);
    floe_exporter *ex = fx_exporter(&f, FLOE_PROTO_IPFIX, 0);
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_dec_ops_for(FLOE_PROTO_IPFIX)->describe(&f.ing.dec, &ex->dec, &j);
    floe_json_obj_end(&j);
    ASSERT(floe_buf_ok(&b));
    ASSERT_CONTAINS(b.data, "\"templates\":[{\"id\":256,\"kind\":\"data\",\"field_count\":2");
    ASSERT_CONTAINS(b.data, "\"record_length\":8");
    ASSERT_CONTAINS(b.data, "\"fields\":[\"sourceIPv4Address\",\"octetDeltaCount\"]");
    ASSERT_CONTAINS(b.data, "\"id\":258,\"kind\":\"options\"");
    ASSERT_CONTAINS(b.data, "\"samplers\":[{\"id\":4,\"rate\":64}]");
    floe_buf_close(&b);
    fx_close(&f);
}

/* ---- biflows (RFC 5103) and packet sections (RFC 7133) ---------------------- */

#define REV 29305u

TEST(ipfix_biflow_reverse_elements)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 5);
    set_begin(&P, 2);
    tmpl(&P, 300, 17);
    fld(&P, 8, 4), fld(&P, 12, 4), fld(&P, 7, 2), fld(&P, 11, 2), fld(&P, 4, 1);
    fld(&P, 1, 8), fld(&P, 2, 8), fld_pen(&P, 1, 4, REV), fld_pen(&P, 2, 4, REV);
    fld(&P, 6, 2), fld_pen(&P, 6, 1, REV), fld(&P, 152, 8), fld_pen(&P, 152, 8, REV);
    fld_pen(&P, 10, 4, REV), fld_pen(&P, 14, 4, REV), fld_pen(&P, 195, 1, REV), fld(&P, 239, 1);
    set_end(&P);
    set_begin(&P, 300);
    for (uint8_t i = 0; i < 2; i++) {
        v4(&P, 10, 0, 0, 1), v4(&P, 10, 0, 0, 2), u16(&P, 40000), u16(&P, 443), u8(&P, 6);
        u64(&P, 1000 + i), u64(&P, 10), u32(&P, 5000), u32(&P, 7 + i);
        u16(&P, 0x02), u8(&P, 0x12), u64(&P, EXPORT_MS - 900), u64(&P, EXPORT_MS - 800);
        u32(&P, 9), u32(&P, 3), u8(&P, 10), u8(&P, 2);
    }
    set_end(&P);
    fx_feed(&f, &P);

    ASSERT_EQ(f.n, 2);
    const floe_record *r = &f.recs[1];
    ASSERT_U64_EQ(r->bytes, 1001);
    ASSERT_U64_EQ(r->packets, 10);
    ASSERT(r->has & FLOE_F(REV_BYTES));
    ASSERT_U64_EQ(r->rev.bytes, 5000); /* reduced-size encoding too */
    ASSERT_U64_EQ(r->rev.packets, 8);
    ASSERT_EQ(r->tcp_flags, 0x02);
    ASSERT_EQ(r->rev.tcp_flags, 0x12);
    ASSERT_U64_EQ(r->first_ms, EXPORT_MS - 900);
    ASSERT_U64_EQ(r->rev.first_ms, EXPORT_MS - 800);
    ASSERT_EQ(r->rev.in_if, 9);
    ASSERT_EQ(r->rev.out_if, 3);
    ASSERT_EQ(r->rev.tos, 10 << 2); /* a DSCP, as the forward one */
    ASSERT_EQ(r->biflow_dir, 2);
    ASSERT(!(r->has & (FLOE_F(IN_IF) | FLOE_F(REV_VLAN) | FLOE_F(REV_BYTES_TOTAL))));
    /* Both directions count in the sums, and apart in the reverse ones. */
    const floe_counters *c = fx_c(&f, FLOE_PROTO_IPFIX);
    ASSERT_U64_EQ(c->bytes, 1000 + 1001 + 5000 + 5000);
    ASSERT_U64_EQ(c->packets, 10 + 10 + 7 + 8);
    ASSERT_U64_EQ(c->reverse_bytes, 10000);
    ASSERT_U64_EQ(c->reverse_packets, 15);
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_record_json(&j, r);
    ASSERT_CONTAINS(b.data, "\"biflow_direction\":2,\"reverse_bytes\":5000,\"reverse_packets\":8,"
                            "\"reverse_first_ms\":");
    ASSERT_CONTAINS(b.data, "\"reverse_tcp_flags\":18,\"reverse_tos\":40,\"reverse_in_if\":9");
    floe_buf_close(&b);
    fx_close(&f);
}

TEST(yaf_flags_totals_and_reverse_start)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 0);
    set_begin(&P, 2);
    tmpl(&P, 301, 9);
    fld(&P, 152, 8), fld(&P, 85, 8), fld_pen(&P, 85, 8, REV), fld_pen(&P, 21, 4, 6871);
    fld_pen(&P, 14, 1, 6871), fld_pen(&P, 15, 1, 6871), fld_pen(&P, 16398, 1, 6871);
    fld_pen(&P, 16399, 1, 6871), fld_pen(&P, 58, 2, REV);
    set_end(&P);
    set_begin(&P, 301);
    u64(&P, EXPORT_MS - 5000), u64(&P, 172), u64(&P, 92), u32(&P, 25);
    u8(&P, 0xc2), u8(&P, 0x11), u8(&P, 0x12), u8(&P, 0x11), u16(&P, 7);
    set_end(&P);
    fx_feed(&f, &P);

    ASSERT_EQ(f.n, 1);
    const floe_record *r = &f.recs[0];
    ASSERT_EQ(r->tcp_flags, 0xd3); /* initial | union */
    ASSERT_EQ(r->rev.tcp_flags, 0x13);
    ASSERT_U64_EQ(r->rev.first_ms, EXPORT_MS - 5000 + 25);
    ASSERT_EQ(r->rev.vlan, 7);
    ASSERT(!(r->has & (FLOE_F(BYTES) | FLOE_F(REV_BYTES))));
    const floe_counters *c = fx_c(&f, FLOE_PROTO_IPFIX);
    ASSERT_U64_EQ(c->bytes, 0);
    ASSERT_U64_EQ(c->bytes_total, 172 + 92);
    ASSERT_U64_EQ(c->reverse_bytes_total, 92);
    fx_close(&f);
}

TEST(reverse_elements_agree_with_fixbuf)
{
    size_t n;
    const nf_ie *t = dec__ie_table(&n);
    fbInfoModel_t *model = fbInfoModelAlloc();
    int reverse = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].pen != REV)
            continue;
        /* fixbuf registers the reverse of every reversible IANA element. */
        const fbInfoElement_t *e = fbInfoModelGetElementByID(model, t[i].id, REV);
        const nf_ie *fwd = dec__ie_find(0, t[i].id);
        ASSERT(e != NULL);
        ASSERT_STR_EQ(e->ref.name, t[i].name);
        ASSERT_EQ(e->type, t[i].type);
        ASSERT_EQ(e->len, t[i].len);
        /* The same action as the forward element, into the reverse half. */
        ASSERT(fwd != NULL);
        ASSERT_EQ(fwd->kind, t[i].kind);
        ASSERT_EQ(fwd->flags, t[i].flags);
        ASSERT(((uint64_t)1 << t[i].target) & FLOE_F_REVERSE);
        reverse++;
    }
    ASSERT_GE(reverse, 25);
    fbInfoModelFree(model);
}

/* Ethernet, 802.1Q VLAN 42, IPv4 10.9.0.1 -> 10.9.0.2, TCP 5555 -> 80 SYN,
 * total length 40: 58 bytes. */
static const uint8_t sect_tcp[] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x81, 0x00, 0x00,
    0x2a, 0x08, 0x00, 0x45, 0x10, 0x00, 0x28, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
    10,   9,    0,    1,    10,   9,    0,    2,    0x15, 0xb3, 0x00, 0x50, 0,    0,    0,
    1,    0,    0,    0,    0,    0x50, 0x02, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00};

/* Ethernet, MPLS label 300 (bottom), IPv6 UDP 2001:db8::7:9999 -> ::8:53,
 * payload length 8: IP length 48. */
static const uint8_t sect_mpls6[] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x88, 0x47,
    0x00, 0x12, 0xc1, 0x40, 0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 17,   64,   0x20, 0x01,
    0x0d, 0xb8, 0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    7,
    0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0,    8,    0x27, 0x0f, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00};

static void varbytes(pkt *p, const uint8_t *b, size_t n)
{
    u8(p, (uint8_t)n);
    memcpy(p->b + p->n, b, n);
    p->n += n;
}

TEST(ipfix_data_link_frame_sections)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 0);
    set_begin(&P, 2);
    tmpl(&P, 310, 5);
    fld(&P, 10, 4), fld(&P, 61, 1), fld(&P, 34, 4), fld(&P, 312, 2), fld(&P, 315, 65535);
    tmpl(&P, 311, 2);
    fld(&P, 10, 4), fld(&P, 315, 65535);
    set_end(&P);
    set_begin(&P, 310);
    u32(&P, 7), u8(&P, 0), u32(&P, 1000), u16(&P, 1514), varbytes(&P, sect_tcp, sizeof(sect_tcp));
    set_end(&P);
    set_begin(&P, 311);
    u32(&P, 8), varbytes(&P, sect_mpls6, sizeof(sect_mpls6));
    set_end(&P);
    fx_feed(&f, &P);

    ASSERT_EQ(f.n, 2);
    const floe_record *r = &f.recs[0];
    ASSERT_STR_EQ(addr(&r->src), "10.9.0.1");
    ASSERT_STR_EQ(addr(&r->dst), "10.9.0.2");
    ASSERT_EQ(r->sport, 5555);
    ASSERT_EQ(r->dport, 80);
    ASSERT_EQ(r->ipproto, 6);
    ASSERT_EQ(r->tcp_flags, 0x02);
    ASSERT_EQ(r->tos, 0x10);
    ASSERT_EQ(r->vlan, 42);
    ASSERT_EQ(r->src_mac[0], 0x66);
    ASSERT_EQ(r->in_if, 7);
    ASSERT_EQ(r->sampling, 1000);
    ASSERT_U64_EQ(r->bytes, 1514); /* dataLinkFrameSize */
    ASSERT_U64_EQ(r->packets, 1);
    ASSERT_EQ(r->sampled_proto, 11); /* the IP packet, for nDPI */
    ASSERT_EQ(r->sampled_len, sizeof(sect_tcp) - 18);
    ASSERT(r->sampled[0] == 0x45);

    r = &f.recs[1];
    ASSERT_EQ(r->mpls_label, 300);
    ASSERT_STR_EQ(addr(&r->src), "2001:db8::7");
    ASSERT_EQ(r->sport, 9999);
    ASSERT_EQ(r->dport, 53);
    ASSERT_U64_EQ(r->bytes, 48); /* no frame size: the IP length */
    ASSERT_EQ(r->sampled_proto, 12);
    ASSERT_EQ(r->sampling, 1);
    const floe_counters *c = fx_c(&f, FLOE_PROTO_IPFIX);
    ASSERT_U64_EQ(c->bytes, 1514 + 48);
    ASSERT_U64_EQ(c->packets, 2);
    fx_close(&f);
}

TEST(ip_header_and_payload_sections)
{
    fixture f;
    fx_init(&f);
    ipfix_begin(&P, 0, 0);
    set_begin(&P, 2);
    tmpl(&P, 320, 2);
    fld(&P, 8, 4), fld(&P, 313, 65535);
    tmpl(&P, 321, 3);
    fld(&P, 4, 1), fld(&P, 2, 8), fld(&P, 314, 8);
    tmpl(&P, 322, 1);
    fld(&P, 70, 3);
    set_end(&P);
    set_begin(&P, 320);
    /* The record's own source address wins over the section's. */
    v4(&P, 192, 0, 2, 200), varbytes(&P, sect_tcp + 18, 40);
    set_end(&P);
    set_begin(&P, 321);
    u8(&P, 17), u64(&P, 3), u16(&P, 1111), u16(&P, 2222), u32(&P, 0); /* UDP header */
    u8(&P, 0), u16(&P, 0), u8(&P, 0);                                 /* shorter: padding */
    set_end(&P);
    set_begin(&P, 322);
    u8(&P, 0x01), u8(&P, 0x23), u8(&P, 0x41), u8(&P, 0);
    set_end(&P);
    fx_feed(&f, &P);

    ASSERT_EQ(f.n, 3);
    const floe_record *r = &f.recs[0];
    ASSERT_STR_EQ(addr(&r->src), "192.0.2.200");
    ASSERT_STR_EQ(addr(&r->dst), "10.9.0.2");
    ASSERT_EQ(r->dport, 80);
    ASSERT_U64_EQ(r->bytes, 40);
    ASSERT(!(r->has & FLOE_F(SRC_MAC)));
    r = &f.recs[1];
    ASSERT_EQ(r->sport, 1111);
    ASSERT_EQ(r->dport, 2222);
    ASSERT_U64_EQ(r->packets, 3); /* the record's own count wins too */
    ASSERT(!(r->has & FLOE_F(BYTES)));
    ASSERT(r->sampled == NULL); /* no IP header for nDPI */
    r = &f.recs[2];
    ASSERT_EQ(r->mpls_label, 0x1234);
    ASSERT_EQ(fx_c(&f, FLOE_PROTO_IPFIX)->malformed, 0);
    fx_close(&f);
}

TEST(sections_cut_anywhere_are_safe)
{
    /* Every length of the frame, in a record of its own: what is there is
     * read, nothing past it. */
    for (size_t cut = 0; cut <= sizeof(sect_mpls6); cut++) {
        fixture f;
        fx_init(&f);
        ipfix_begin(&P, 0, 0);
        set_begin(&P, 2);
        tmpl(&P, 330, 1);
        fld(&P, 315, 65535);
        set_end(&P);
        set_begin(&P, 330);
        varbytes(&P, sect_mpls6, cut);
        set_end(&P);
        fx_feed(&f, &P);
        ASSERT_EQ(f.n, 1);
        ASSERT_U64_EQ(f.recs[0].packets, 1);
        ASSERT_EQ((f.recs[0].has & FLOE_F(SRC)) != 0, cut >= 18 + 40);
        ASSERT_EQ((f.recs[0].has & FLOE_F(DPORT)) != 0, cut >= 18 + 44);
        ASSERT_EQ((f.recs[0].has & FLOE_F(MPLS_LABEL)) != 0, cut >= 18);
        fx_close(&f);
    }
}

TEST_MAIN(
    TEST_ENTRY(v9_template_then_data), TEST_ENTRY(ipfix_template_then_data),
    TEST_ENTRY(zero_addresses_and_whole_seconds_yield),
    TEST_ENTRY(long_sets_decode_every_record_as_its_own),
    TEST_ENTRY(data_before_template_is_missing_not_malformed),
    TEST_ENTRY(v9_options_teach_sampling), TEST_ENTRY(ipfix_options_selector_rates),
    TEST_ENTRY(ipfix_withdrawal_and_withdraw_all), TEST_ENTRY(exporter_restart_redefines_templates),
    TEST_ENTRY(variable_length_fields), TEST_ENTRY(reduced_size_encoding),
    TEST_ENTRY(padding_in_every_kind_of_set),
    TEST_ENTRY(every_truncation_is_rejected_without_partial_records),
    TEST_ENTRY(bad_set_lengths_and_reserved_set_ids), TEST_ENTRY(absurd_templates_are_rejected),
    TEST_ENTRY(v9_flowsets_beyond_the_header_count), TEST_ENTRY(headers),
    TEST_ENTRY(mutated_datagrams_do_no_harm), TEST_ENTRY(template_bomb_stays_within_bounds),
    TEST_ENTRY(templates_expire_by_sweep_and_by_lookup), TEST_ENTRY(time_forms_give_absolute_times),
    TEST_ENTRY(nprobe_enterprise_fields), TEST_ENTRY(element_table_agrees_with_fixbuf),
    TEST_ENTRY(ipfix_sequence_counts_data_records), TEST_ENTRY(describe_lists_templates_by_name),
    TEST_ENTRY(ipfix_biflow_reverse_elements), TEST_ENTRY(yaf_flags_totals_and_reverse_start),
    TEST_ENTRY(reverse_elements_agree_with_fixbuf), TEST_ENTRY(ipfix_data_link_frame_sections),
    TEST_ENTRY(ip_header_and_payload_sections), TEST_ENTRY(sections_cut_anywhere_are_safe))
