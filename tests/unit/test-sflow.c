/*
 * sFlow v5 through the ingest pipeline, and through the decoder's ops
 * directly where a counter is not summed by the collector. Every datagram
 * is built here, word by word, from the layouts in sflow_version_5.txt and
 * sflow_drops.txt; expected values come from those bytes.
 */
#include "engine/engine.h"
#include "tests/unit/runner.h"

/* ---- what the sinks saw ------------------------------------------------ */

#define MAX_SEEN 64

typedef struct sink_state {
    floe_record recs[MAX_SEEN];
    uint8_t sampled[MAX_SEEN][256]; /* the header bytes, copied in the call */
    int n;                          /* records kept, up to MAX_SEEN */
    int total;                      /* records seen */
    floe_ifcounters ifc[MAX_SEEN];
    int nifc;      /* kept */
    int total_ifc; /* seen */
} sink_state;

static void collect(void *ud, const floe_record *r)
{
    sink_state *s = ud;
    s->total++;
    if (s->n >= MAX_SEEN)
        return;
    s->recs[s->n] = *r;
    if (r->sampled && r->sampled_len <= sizeof(s->sampled[0]))
        memcpy(s->sampled[s->n], r->sampled, r->sampled_len);
    s->n++;
}

static void collect_ifc(void *ud, const floe_ifcounters *c)
{
    sink_state *s = ud;
    s->total_ifc++;
    if (s->nifc < MAX_SEEN)
        s->ifc[s->nifc++] = *c;
}

/* ---- building datagrams ------------------------------------------------ */

typedef struct bld {
    uint8_t b[4096];
    size_t n;
} bld;

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void w32(bld *b, uint32_t v)
{
    put32(b->b + b->n, v);
    b->n += 4;
}

/* Opaque bytes, zero-padded to 4 as XDR pads them. */
static void wbytes(bld *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
    while (b->n % 4)
        b->b[b->n++] = 0;
}

/* Starts a (format, length, body) structure; w_close fills its length. */
static size_t w_open(bld *b, uint32_t format)
{
    w32(b, format);
    w32(b, 0);
    return b->n - 4;
}

static void w_close(bld *b, size_t mark)
{
    put32(b->b + mark, (uint32_t)(b->n - mark - 4));
}

/* Header with IPv4 agent 10.0.0.1, sub-agent 7, uptime 5000 ms. */
static void w_header(bld *b, uint32_t seq, uint32_t count)
{
    b->n = 0;
    w32(b, 5);
    w32(b, 1);
    w32(b, 0x0a000001);
    w32(b, 7);
    w32(b, seq);
    w32(b, 5000);
    w32(b, count);
}

/* A compact flow sample's fixed part; w_close(b, mark) after its records. */
static size_t w_flow(bld *b, uint32_t source, uint32_t rate, uint32_t drops, uint32_t in,
                     uint32_t out, uint32_t nrec)
{
    size_t mark = w_open(b, 1);
    w32(b, 1); /* sequence */
    w32(b, source);
    w32(b, rate);
    w32(b, rate * 10); /* pool */
    w32(b, drops);
    w32(b, in);
    w32(b, out);
    w32(b, nrec);
    return mark;
}

/* A raw packet header record: protocol, frame length, stripped 4, header. */
static void w_raw(bld *b, uint32_t proto, uint32_t frame, const uint8_t *hdr, size_t hlen)
{
    size_t mark = w_open(b, 1);
    w32(b, proto);
    w32(b, frame);
    w32(b, 4);
    w32(b, (uint32_t)hlen);
    wbytes(b, hdr, hlen);
    w_close(b, mark);
}

/* One compact flow sample from source 5, with one raw packet header. */
static void w_flow_raw(bld *b, uint32_t rate, uint32_t in, uint32_t out, uint32_t proto,
                       uint32_t frame, const uint8_t *hdr, size_t hlen)
{
    size_t mark = w_flow(b, 5, rate, 0, in, out, 1);
    w_raw(b, proto, frame, hdr, hlen);
    w_close(b, mark);
}

/* ---- sampled headers ---------------------------------------------------- */

/* One protocol layer a line, so each field can be checked by eye. */
// clang-format off

/* Ethernet 66:77:88:99:aa:bb -> 00:11:22:33:44:55, 802.1Q priority 1
 * VLAN 100, IPv4 ToS 0xb8, DF, TCP 192.0.2.10:40000 -> 198.51.100.20:443
 * with SYN+ACK. 58 bytes, so the record carries 2 bytes of padding. */
static const uint8_t pkt_tcp[] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
    0x81, 0x00, 0x20, 0x64,
    0x08, 0x00,
    0x45, 0xb8, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
    192, 0, 2, 10, 198, 51, 100, 20,
    0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0,
    0x50, 0x12, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
};

/* Ethernet with an 802.1ad tag (VLAN 200) over an 802.1Q tag (VLAN 300),
 * IPv6 traffic class 0x2e, a hop-by-hop header, then UDP
 * 2001:db8::1:5353 -> 2001:db8::2:53. */
static const uint8_t pkt_udp6[] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
    0x88, 0xa8, 0x00, 0xc8,
    0x81, 0x00, 0x01, 0x2c,
    0x86, 0xdd,
    0x62, 0xe0, 0x00, 0x00, 0x00, 0x10, 0x00, 0x40,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
    17, 0, 0x01, 0x04, 0, 0, 0, 0,
    0x14, 0xe9, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00,
};

/* Bare IPv4 (header protocol 11): ICMP destination unreachable, port
 * unreachable (type 3 code 3), 203.0.113.5 -> 192.0.2.1. */
static const uint8_t pkt_icmp[] = {
    0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00,
    203, 0, 113, 5, 192, 0, 2, 1,
    0x03, 0x03, 0x00, 0x00, 0, 0, 0, 0,
};

/* Bare IPv6 (header protocol 12): ICMPv6 echo request (type 128 code 0),
 * 2001:db8::5 -> 2001:db8::6. */
static const uint8_t pkt_icmp6[] = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 58, 64,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6,
    0x80, 0x00, 0x00, 0x00, 0, 0, 0, 0,
};

/* Bare IPv4: a later fragment (offset 185 * 8) of a TCP packet, whose
 * first bytes are payload, not a TCP header. */
static const uint8_t pkt_frag[] = {
    0x45, 0x00, 0x00, 0x1c, 0x00, 0x02, 0x00, 0xb9, 0x40, 0x06, 0x00, 0x00,
    10, 0, 0, 1, 10, 0, 0, 2,
    0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0,
};

/* Ethernet 0x8847 (MPLS): label 1000 (TC 0, TTL 64), then label 2000 at
 * the bottom of the stack, then IPv4 TCP 10.1.1.1:1234 -> 10.2.2.2:80
 * with PSH+ACK and 4 payload bytes. */
static const uint8_t pkt_mpls[] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
    0x88, 0x47,
    0x00, 0x3e, 0x80, 0x40,
    0x00, 0x7d, 0x01, 0x40,
    0x45, 0x00, 0x00, 0x2c, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
    10, 1, 1, 1, 10, 2, 2, 2,
    0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 1,
    0x50, 0x18, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
    'G', 'E', 'T', ' ',
};

/* Header protocol 13 (MPLS): one label, 16 (bottom of stack), then IPv6
 * UDP 2001:db8::a:4000 -> 2001:db8::b:53. */
static const uint8_t pkt_mpls6[] = {
    0x00, 0x01, 0x01, 0x40,
    0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 17, 64,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
    0x0f, 0xa0, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00,
};

// clang-format on

/* ---- the fixture ------------------------------------------------------- */

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
    f->ing.out.ifcounters = collect_ifc;
    f->ing.out.ud = &f->sink;
    floe_addr_parse(&f->src, "192.0.2.99");
}

static void fx_feed(fixture *f, const bld *b)
{
    floe_ingest_datagram(&f->ing, &f->src, 50000, b->b, b->n, 1700000001000ULL);
}

static void fx_close(fixture *f)
{
    floe_ingest_close(&f->ing);
    floe_config_free(&f->cfg);
}

static const floe_counters *sflow_counters(const fixture *f)
{
    return &f->ing.proto[FLOE_PROTO_SFLOW];
}

/* Runs the decoder's own ops over b, outside the collector. */
static void decode_direct(const bld *b, floe_dec_exporter *ex, floe_dec_stats *st, sink_state *s)
{
    const floe_dec_ops *ops = floe_dec_ops_for(FLOE_PROTO_SFLOW);
    floe_sink sink = {.record = collect, .ifcounters = collect_ifc, .ud = s};
    floe_dgram dg;
    floe_hdr h;
    memset(&dg, 0, sizeof(dg));
    dg.data = b->b;
    dg.len = b->n;
    floe_addr_parse(&dg.src, "192.0.2.99");
    memset(st, 0, sizeof(*st));
    ASSERT(ops != NULL);
    ASSERT_EQ(ops->header(b->b, b->n, &h), 0);
    ops->decode(NULL, ex, &dg, &h, st, &sink);
}

static const char *addr_text(const floe_addr *a)
{
    static char text[FLOE_ADDR_STRLEN];
    return floe_addr_format(a, text);
}

static int mac_is(const uint8_t *m, const uint8_t *want)
{
    return memcmp(m, want, 6) == 0;
}

/* ---- tests -------------------------------------------------------------- */

TEST(compact_sample_ethernet_vlan_ipv4_tcp)
{
    static const uint8_t smac[6] = {0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
    static const uint8_t dmac[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
    fixture f;
    bld b;
    fx_init(&f);
    w_header(&b, 100, 1);
    w_flow_raw(&b, 400, 3, 4, 1, 1514, pkt_tcp, sizeof(pkt_tcp));
    fx_feed(&f, &b);

    ASSERT_EQ(f.sink.n, 1);
    const floe_record *r = &f.sink.recs[0];
    ASSERT_EQ(r->proto, FLOE_PROTO_SFLOW);
    ASSERT_EQ(r->domain, 7);
    ASSERT_STR_EQ(addr_text(&r->exporter), "192.0.2.99");
    ASSERT_STR_EQ(addr_text(&r->src), "192.0.2.10");
    ASSERT_STR_EQ(addr_text(&r->dst), "198.51.100.20");
    ASSERT_EQ(r->sport, 40000);
    ASSERT_EQ(r->dport, 443);
    ASSERT_EQ(r->ipproto, 6);
    ASSERT_EQ(r->tos, 0xb8);
    ASSERT_EQ(r->tcp_flags, 0x12);
    ASSERT_EQ(r->vlan, 100);
    ASSERT(mac_is(r->src_mac, smac));
    ASSERT(mac_is(r->dst_mac, dmac));
    ASSERT_EQ(r->in_if, 3);
    ASSERT_EQ(r->out_if, 4);
    ASSERT_EQ(r->sampling, 400);
    ASSERT_U64_EQ(r->bytes, 1514);
    ASSERT_U64_EQ(r->packets, 1);
    uint64_t want = FLOE_F(SRC) | FLOE_F(DST) | FLOE_F(SPORT) | FLOE_F(DPORT) | FLOE_F(IPPROTO) |
                    FLOE_F(TOS) | FLOE_F(TCP_FLAGS) | FLOE_F(VLAN) | FLOE_F(SRC_MAC) |
                    FLOE_F(DST_MAC) | FLOE_F(IN_IF) | FLOE_F(OUT_IF) | FLOE_F(BYTES) |
                    FLOE_F(PACKETS);
    ASSERT_U64_EQ(r->has, want);
    ASSERT_EQ(r->sampled_len, sizeof(pkt_tcp));
    ASSERT_EQ(r->sampled_proto, 1);
    ASSERT(memcmp(f.sink.sampled[0], pkt_tcp, sizeof(pkt_tcp)) == 0);

    const floe_counters *c = sflow_counters(&f);
    ASSERT_EQ(c->datagrams, 1);
    ASSERT_EQ(c->records, 1);
    ASSERT_EQ(f.ing.exporters.map.count, 1);
    floe_exporter *ex = FLOE_CONTAINER_OF(f.ing.exporters.lru.next, floe_exporter, lru);
    ASSERT_EQ(ex->dec.sampling, 400); /* shown by the exporters API */
    ASSERT_EQ(c->bytes, 1514);
    ASSERT_EQ(c->packets, 1);
    ASSERT_EQ(c->malformed, 0);
    fx_close(&f);
}

TEST(qinq_ipv6_udp_with_extension_header)
{
    fixture f;
    bld b;
    fx_init(&f);
    w_header(&b, 1, 1);
    w_flow_raw(&b, 1000, 0x3FFFFFFF, 9, 1, 90, pkt_udp6, sizeof(pkt_udp6));
    fx_feed(&f, &b);

    ASSERT_EQ(f.sink.n, 1);
    const floe_record *r = &f.sink.recs[0];
    ASSERT_STR_EQ(addr_text(&r->src), "2001:db8::1");
    ASSERT_STR_EQ(addr_text(&r->dst), "2001:db8::2");
    ASSERT_EQ(r->ipproto, 17); /* past the hop-by-hop header */
    ASSERT_EQ(r->sport, 5353);
    ASSERT_EQ(r->dport, 53);
    ASSERT_EQ(r->tos, 0x2e);
    ASSERT_EQ(r->vlan, 200); /* the outer (service) tag */
    ASSERT(!(r->has & FLOE_F(TCP_FLAGS)));
    ASSERT(!(r->has & FLOE_F(IN_IF))); /* 0x3FFFFFFF: not known */
    ASSERT_EQ(r->out_if, 9);
    ASSERT_U64_EQ(r->bytes, 90);
    fx_close(&f);
}

TEST(icmp_type_and_code_in_dport)
{
    fixture f;
    bld b;
    fx_init(&f);
    w_header(&b, 1, 3);
    w_flow_raw(&b, 1, 1, 2, 11, 70, pkt_icmp, sizeof(pkt_icmp));
    w_flow_raw(&b, 1, 1, 2, 12, 62, pkt_icmp6, sizeof(pkt_icmp6));
    w_flow_raw(&b, 1, 1, 2, 11, 1500, pkt_frag, sizeof(pkt_frag));
    fx_feed(&f, &b);

    ASSERT_EQ(f.sink.n, 3);
    const floe_record *r = &f.sink.recs[0];
    ASSERT_STR_EQ(addr_text(&r->src), "203.0.113.5");
    ASSERT_EQ(r->ipproto, 1);
    ASSERT_EQ(r->dport, 3 * 256 + 3);
    ASSERT(!(r->has & FLOE_F(SPORT)));
    ASSERT(!(r->has & FLOE_F(SRC_MAC))); /* no Ethernet in an IPv4 header */
    ASSERT_EQ(r->sampled_proto, 11);
    r = &f.sink.recs[1];
    ASSERT_STR_EQ(addr_text(&r->dst), "2001:db8::6");
    ASSERT_EQ(r->ipproto, 58);
    ASSERT_EQ(r->dport, 128 * 256);
    /* A later fragment: protocol and addresses, but its bytes are no ports. */
    r = &f.sink.recs[2];
    ASSERT_EQ(r->ipproto, 6);
    ASSERT_STR_EQ(addr_text(&r->dst), "10.0.0.2");
    ASSERT(!(r->has & (FLOE_F(SPORT) | FLOE_F(DPORT) | FLOE_F(TCP_FLAGS))));
    ASSERT_EQ(sflow_counters(&f)->bytes, 70 + 62 + 1500);
    fx_close(&f);
}

TEST(mpls_label_stacks_are_parsed_through_to_ip)
{
    fixture f;
    bld b;
    fx_init(&f);
    w_header(&b, 1, 2);
    w_flow_raw(&b, 10, 1, 2, 1, 1400, pkt_mpls, sizeof(pkt_mpls));
    w_flow_raw(&b, 10, 1, 2, 13, 200, pkt_mpls6, sizeof(pkt_mpls6));
    fx_feed(&f, &b);

    ASSERT_EQ(f.sink.n, 2);
    const floe_record *r = &f.sink.recs[0];
    ASSERT(r->has & FLOE_F(MPLS_LABEL));
    ASSERT_EQ(r->mpls_label, 1000); /* the top label, not the bottom one */
    ASSERT_STR_EQ(addr_text(&r->src), "10.1.1.1");
    ASSERT_STR_EQ(addr_text(&r->dst), "10.2.2.2");
    ASSERT_EQ(r->ipproto, 6);
    ASSERT_EQ(r->sport, 1234);
    ASSERT_EQ(r->dport, 80);
    ASSERT_EQ(r->tcp_flags, 0x18);
    ASSERT(r->has & FLOE_F(SRC_MAC));
    /* nDPI gets the IP packet: it does not peel labels itself. */
    ASSERT_EQ(r->sampled_proto, 11);
    ASSERT_EQ(r->sampled_len, sizeof(pkt_mpls) - 22);
    ASSERT(memcmp(f.sink.sampled[0], pkt_mpls + 22, sizeof(pkt_mpls) - 22) == 0);
    ASSERT_U64_EQ(r->bytes, 1400);

    r = &f.sink.recs[1];
    ASSERT_EQ(r->mpls_label, 16);
    ASSERT_STR_EQ(addr_text(&r->src), "2001:db8::a");
    ASSERT_EQ(r->ipproto, 17);
    ASSERT_EQ(r->sport, 4000);
    ASSERT_EQ(r->dport, 53);
    ASSERT(!(r->has & FLOE_F(SRC_MAC)));
    ASSERT_EQ(r->sampled_proto, 12);
    fx_close(&f);
}

TEST(mpls_stacks_cut_short_or_without_ip)
{
    fixture f;
    bld b;
    uint8_t cut[26], deep[14 + 4 * 20 + 20];
    fx_init(&f);
    /* Cut inside the second label entry: the top label, no addresses. */
    memcpy(cut, pkt_mpls, sizeof(cut));
    /* Twenty labels without a bottom: the walk stops at sixteen. */
    memcpy(deep, pkt_mpls, 14);
    for (int i = 0; i < 20; i++)
        deep[14 + 4 * i] = 0, deep[15 + 4 * i] = 0x10, deep[16 + 4 * i] = 0, deep[17 + 4 * i] = 64;
    memcpy(deep + 14 + 80, pkt_mpls + 22, 20);
    w_header(&b, 1, 2);
    w_flow_raw(&b, 1, 1, 2, 1, 100, cut, sizeof(cut));
    w_flow_raw(&b, 1, 1, 2, 1, 100, deep, sizeof(deep));
    fx_feed(&f, &b);
    ASSERT_EQ(f.sink.n, 2);
    ASSERT_EQ(f.sink.recs[0].mpls_label, 1000);
    ASSERT(!(f.sink.recs[0].has & (FLOE_F(SRC) | FLOE_F(DST))));
    ASSERT_EQ(f.sink.recs[0].sampled_proto, 1); /* no IP reached: the frame as it was */
    ASSERT_EQ(f.sink.recs[1].mpls_label, 256);
    ASSERT(!(f.sink.recs[1].has & FLOE_F(SRC)));
    ASSERT_EQ(sflow_counters(&f)->malformed, 0);
    fx_close(&f);
}

TEST(expanded_sample_with_ipv4_data_record)
{
    fixture f;
    bld b;
    fx_init(&f);
    w_header(&b, 1, 1);
    size_t m = w_open(&b, 3);
    w32(&b, 9);          /* sequence */
    w32(&b, 0);          /* source type */
    w32(&b, 0x01000005); /* source index, past 24 bits */
    w32(&b, 0);          /* sampling rate 0: taken as 1 */
    w32(&b, 0);          /* pool */
    w32(&b, 0);          /* drops */
    w32(&b, 0);          /* input: ifIndex format */
    w32(&b, 0x01000001);
    w32(&b, 2); /* output: multiple interfaces, 3 of them */
    w32(&b, 3);
    w32(&b, 1); /* records */
    size_t r3 = w_open(&b, 3);
    w32(&b, 1000);       /* length */
    w32(&b, 6);          /* protocol */
    w32(&b, 0x0a090807); /* 10.9.8.7 */
    w32(&b, 0x0a060504); /* 10.6.5.4 */
    w32(&b, 1234);
    w32(&b, 80);
    w32(&b, 0x18);
    w32(&b, 0x10);
    w_close(&b, r3);
    w_close(&b, m);
    fx_feed(&f, &b);

    ASSERT_EQ(f.sink.n, 1);
    const floe_record *r = &f.sink.recs[0];
    ASSERT_EQ(r->sampling, 1);
    ASSERT_EQ(r->in_if, 0x01000001);
    ASSERT(!(r->has & FLOE_F(OUT_IF)));
    ASSERT_STR_EQ(addr_text(&r->src), "10.9.8.7");
    ASSERT_STR_EQ(addr_text(&r->dst), "10.6.5.4");
    ASSERT_EQ(r->ipproto, 6);
    ASSERT_EQ(r->sport, 1234);
    ASSERT_EQ(r->dport, 80);
    ASSERT_EQ(r->tcp_flags, 0x18);
    ASSERT_EQ(r->tos, 0x10);
    /* No raw header: no frame length, so no bytes or packets. */
    ASSERT(!(r->has & (FLOE_F(BYTES) | FLOE_F(PACKETS))));
    ASSERT(r->sampled == NULL);
    ASSERT_EQ(sflow_counters(&f)->records, 1);
    ASSERT_EQ(sflow_counters(&f)->bytes, 0);
    ASSERT_EQ(sflow_counters(&f)->packets, 0);
    fx_close(&f);
}

/* Writes an extended gateway record: next hop, AS 65000, source AS 64512,
 * peer AS 64513, the given path, one community and a local preference. */
static void w_gateway(bld *b, uint32_t nh_type, const uint8_t *nh, const uint32_t *path,
                      uint32_t plen)
{
    size_t m = w_open(b, 1003);
    w32(b, nh_type);
    wbytes(b, nh, nh_type == 1 ? 4 : 16);
    w32(b, 65000);
    w32(b, 64512);
    w32(b, 64513);
    w32(b, plen ? 2 : 0); /* segments: a sequence of 2, then a set of the rest */
    if (plen) {
        w32(b, 2);
        w32(b, 2);
        w32(b, path[0]);
        w32(b, path[1]);
        w32(b, 1);
        w32(b, plen - 2);
        for (uint32_t i = 2; i < plen; i++)
            w32(b, path[i]);
    }
    w32(b, 1);
    w32(b, 0x12345678); /* community */
    w32(b, 100);        /* local preference */
    w_close(b, m);
}

TEST(extended_switch_router_gateway)
{
    static const uint8_t gw4[4] = {10, 2, 2, 2};
    static const uint8_t gw6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};
    static const uint32_t path[5] = {64600, 64601, 64700, 64701, 64702};
    fixture f;
    bld b;
    fx_init(&f);
    w_header(&b, 1, 2);
    /* Sample 1: untagged header, switch VLAN 42, router, then gateway: the
     * gateway's BGP next hop must not replace the router's. */
    size_t m = w_flow(&b, 5, 1, 0, 1, 2, 4);
    w_raw(&b, 1, 100, pkt_tcp, 14); /* MACs, and a tag type with no tag */
    size_t s = w_open(&b, 1001);
    w32(&b, 42), w32(&b, 0), w32(&b, 43), w32(&b, 0);
    w_close(&b, s);
    s = w_open(&b, 1002);
    w32(&b, 1), w32(&b, 0x0a010101), w32(&b, 24), w32(&b, 16);
    w_close(&b, s);
    w_gateway(&b, 1, gw4, path, 5);
    w_close(&b, m);
    /* Sample 2: a tagged header beats a switch record after it; a gateway
     * with an IPv6 next hop and an empty path. */
    m = w_flow(&b, 5, 1, 0, 1, 2, 3);
    w_raw(&b, 1, 100, pkt_tcp, sizeof(pkt_tcp));
    s = w_open(&b, 1001);
    w32(&b, 42), w32(&b, 0), w32(&b, 43), w32(&b, 0);
    w_close(&b, s);
    w_gateway(&b, 2, gw6, NULL, 0);
    w_close(&b, m);
    fx_feed(&f, &b);

    ASSERT_EQ(f.sink.n, 2);
    const floe_record *r = &f.sink.recs[0];
    ASSERT_EQ(r->vlan, 42);
    ASSERT_STR_EQ(addr_text(&r->next_hop), "10.1.1.1"); /* the router's, not the gateway's */
    ASSERT_EQ(r->src_as, 64512);
    ASSERT_EQ(r->dst_as, 64702); /* the last AS of the path */
    ASSERT(!(r->has & FLOE_F(SRC)));
    ASSERT(r->has & FLOE_F(SRC_MAC));
    r = &f.sink.recs[1];
    ASSERT_EQ(r->vlan, 100);
    ASSERT_STR_EQ(addr_text(&r->next_hop), "2001:db8::a");
    ASSERT_EQ(r->dst_as, 65000); /* empty path: the destination is this AS */
    ASSERT_EQ(sflow_counters(&f)->malformed, 0);
    fx_close(&f);
}

/* A generic interface counters record with recognisable values. */
static void w_if_counters(bld *b)
{
    size_t m = w_open(b, 1);
    w32(b, 7);                          /* ifIndex */
    w32(b, 6);                          /* ifType */
    w32(b, 0x2), w32(b, 0x540BE400);    /* ifSpeed 10^10 */
    w32(b, 1);                          /* ifDirection full duplex */
    w32(b, 3);                          /* admin and oper up */
    w32(b, 1), w32(b, 2);               /* ifInOctets 2^32 + 2 */
    for (uint32_t v = 10; v <= 15; v++) /* in ucast .. unknown protos */
        w32(b, v);
    w32(b, 0), w32(b, 999);             /* ifOutOctets */
    for (uint32_t v = 20; v <= 24; v++) /* out ucast .. errors */
        w32(b, v);
    w32(b, 1); /* promiscuous */
    w_close(b, m);
}

TEST(counter_samples_reach_ifcounters)
{
    fixture f;
    bld b;
    fx_init(&f);
    w_header(&b, 1, 2);
    size_t m = w_open(&b, 2);
    w32(&b, 1); /* sequence */
    w32(&b, 7); /* source: ifIndex 7 */
    w32(&b, 3); /* records */
    w_if_counters(&b);
    size_t e = w_open(&b, 2);
    for (uint32_t v = 101; v <= 113; v++)
        w32(&b, v);
    w_close(&b, e);
    e = w_open(&b, 2001); /* host adapters: skipped by its length */
    w32(&b, 1), w32(&b, 2), w32(&b, 3);
    w_close(&b, e);
    w_close(&b, m);
    /* An expanded counter sample with ethernet counters only: counted, but
     * with no generic record there is no ifIndex to deliver them under. */
    m = w_open(&b, 4);
    w32(&b, 2), w32(&b, 0), w32(&b, 8), w32(&b, 1);
    e = w_open(&b, 2);
    for (uint32_t v = 0; v < 13; v++)
        w32(&b, v);
    w_close(&b, e);
    w_close(&b, m);
    fx_feed(&f, &b);

    ASSERT_EQ(sflow_counters(&f)->counter_samples, 2);
    ASSERT_EQ(sflow_counters(&f)->records, 0);
    ASSERT_EQ(f.sink.nifc, 1);
    const floe_ifcounters *c = &f.sink.ifc[0];
    ASSERT_STR_EQ(addr_text(&c->exporter), "192.0.2.99");
    ASSERT_EQ(c->domain, 7);
    ASSERT_EQ(c->ifindex, 7);
    ASSERT_EQ(c->iftype, 6);
    ASSERT_U64_EQ(c->speed, 10000000000ULL);
    ASSERT_EQ(c->direction, 1);
    ASSERT_EQ(c->status, 3);
    ASSERT_U64_EQ(c->in_octets, 4294967298ULL);
    ASSERT_EQ(c->in_ucast, 10);
    ASSERT_EQ(c->in_mcast, 11);
    ASSERT_EQ(c->in_bcast, 12);
    ASSERT_EQ(c->in_discards, 13);
    ASSERT_EQ(c->in_errors, 14);
    ASSERT_EQ(c->in_unknown, 15);
    ASSERT_U64_EQ(c->out_octets, 999);
    ASSERT_EQ(c->out_ucast, 20);
    ASSERT_EQ(c->out_mcast, 21);
    ASSERT_EQ(c->out_bcast, 22);
    ASSERT_EQ(c->out_discards, 23);
    ASSERT_EQ(c->out_errors, 24);
    ASSERT_EQ(c->has_ethernet, 1);
    ASSERT_EQ(c->eth_alignment_errors, 101);
    ASSERT_EQ(c->eth_fcs_errors, 102);
    ASSERT_EQ(c->eth_frame_too_long, 111);
    ASSERT_EQ(c->eth_symbol_errors, 113);
    fx_close(&f);
}

TEST(ipv6_agent_address)
{
    fixture f;
    bld b;
    floe_hdr h;
    floe_addr want;
    fx_init(&f);
    b.n = 0;
    w32(&b, 5);
    w32(&b, 2); /* IPv6 agent 2001:db8::99 */
    w32(&b, 0x20010db8), w32(&b, 0), w32(&b, 0), w32(&b, 0x99);
    w32(&b, 3);    /* sub-agent */
    w32(&b, 77);   /* sequence */
    w32(&b, 4242); /* uptime */
    w32(&b, 1);
    w_flow_raw(&b, 10, 1, 2, 1, 64, pkt_tcp, sizeof(pkt_tcp));

    const floe_dec_ops *ops = floe_dec_detect(b.b, b.n);
    ASSERT(ops != NULL);
    ASSERT_EQ(ops->proto, FLOE_PROTO_SFLOW);
    ASSERT_EQ(ops->header(b.b, b.n, &h), 0);
    ASSERT_EQ(h.has_agent, 1);
    floe_addr_parse(&want, "2001:db8::99");
    ASSERT(floe_addr_eq(&h.agent, &want));
    ASSERT_EQ(h.domain, 3);
    ASSERT_EQ(h.seq, 77);
    ASSERT_EQ(h.uptime_ms, 4242);
    ASSERT_EQ(h.count, 1);
    ASSERT_EQ(ops->header(b.b, 39, &h), FLOE_R_SHORT_HEADER);

    fx_feed(&f, &b);
    ASSERT_EQ(f.sink.n, 1);
    ASSERT_EQ(f.sink.recs[0].domain, 3);
    floe_exporter_key key;
    memset(&key, 0, sizeof(key));
    key.addr = f.src;
    key.agent = want;
    key.domain = 3;
    key.proto = FLOE_PROTO_SFLOW;
    ASSERT(floe_exporters_find(&f.ing.exporters, &key) != NULL);
    /* Agent address type 3 does not exist. */
    put32(b.b + 4, 3);
    ASSERT(floe_dec_detect(b.b, b.n) == NULL);
    ASSERT_EQ(ops->header(b.b, b.n, &h), FLOE_R_BAD_ADDRESS);
    fx_close(&f);
}

TEST(discard_sample_counted_not_emitted)
{
    static const uint8_t reason[] = "NOT_SPECIFIED"; /* 13 bytes, padded to 16 */
    floe_dec_exporter ex;
    floe_dec_stats st;
    sink_state s;
    bld b;
    memset(&ex, 0, sizeof(ex));
    memset(&s, 0, sizeof(s));
    w_header(&b, 1, 1);
    size_t m = w_open(&b, 5);
    w32(&b, 1), w32(&b, 0), w32(&b, 2); /* sequence, source type, index */
    w32(&b, 1799);                      /* drops: lost notifications */
    w32(&b, 2), w32(&b, 0);             /* input, output */
    w32(&b, 289);                       /* reason */
    w32(&b, 2);                         /* records */
    size_t e = w_open(&b, 1042);
    w32(&b, 13);
    wbytes(&b, reason, 13);
    w_close(&b, e);
    w_raw(&b, 1, 60, pkt_tcp, sizeof(pkt_tcp));
    w_close(&b, m);
    decode_direct(&b, &ex, &st, &s);

    ASSERT_EQ(st.sflow_discards, 1);
    ASSERT_EQ(st.records, 0);
    ASSERT_EQ(st.counter_samples, 0);
    ASSERT_U64_EQ(st.bytes, 0);
    ASSERT_U64_EQ(st.sflow_drops, 0);
    ASSERT_EQ(st.malformed, 0);
    ASSERT_EQ(s.n, 0);

    floe_buf out;
    floe_json j;
    floe_buf_init(&out);
    floe_json_init(&j, &out);
    floe_json_obj_begin(&j);
    floe_dec_ops_for(FLOE_PROTO_SFLOW)->describe(NULL, &ex, &j);
    floe_json_obj_end(&j);
    ASSERT_CONTAINS(out.data, "\"discard_samples\":1");
    floe_buf_close(&out);

    /* A discard sample whose record runs past it is rejected. */
    put32(b.b + m + 4 + 32 + 4, 400);
    decode_direct(&b, &ex, &st, &s);
    ASSERT_EQ(st.sflow_discards, 0);
    ASSERT_EQ(st.reason[FLOE_R_BAD_SAMPLE], 1);
    floe_dec_ops_for(FLOE_PROTO_SFLOW)->state_free(NULL, &ex);
    ASSERT(ex.state == NULL);
}

TEST(unknown_samples_are_skipped)
{
    fixture f;
    bld b;
    fx_init(&f);
    w_header(&b, 1, 3);
    size_t m = w_open(&b, 9u << 12 | 1); /* enterprise 9, format 1 */
    w32(&b, 0xdeadbeef), w32(&b, 1);
    w_close(&b, m);
    m = w_open(&b, 99); /* enterprise 0, format 99 */
    w32(&b, 1000000);
    w_close(&b, m);
    m = w_flow(&b, 5, 1, 0, 1, 2, 2);
    size_t e = w_open(&b, 4242u << 12 | 1); /* an enterprise's flow record */
    w32(&b, 0xffffffff);
    w_close(&b, e);
    w_raw(&b, 1, 77, pkt_tcp, sizeof(pkt_tcp));
    w_close(&b, m);
    fx_feed(&f, &b);

    ASSERT_EQ(f.sink.n, 1);
    ASSERT_U64_EQ(f.sink.recs[0].bytes, 77);
    ASSERT_EQ(sflow_counters(&f)->records, 1);
    ASSERT_EQ(sflow_counters(&f)->malformed, 0);
    fx_close(&f);
}

/* A datagram of n flow samples, from n (source index, drops) pairs. */
static void w_drops(bld *b, uint32_t seq, const uint32_t *pairs, uint32_t n)
{
    w_header(b, seq, n);
    for (uint32_t i = 0; i < n; i++) {
        size_t m = w_flow(b, pairs[2 * i], 1, pairs[2 * i + 1], 1, 2, 0);
        w_close(b, m);
    }
}

TEST(drops_accumulate_per_source)
{
    static const uint32_t d1[] = {5, 5};
    static const uint32_t d2[] = {5, 12, 6, 3};
    static const uint32_t d3[] = {5, 2, 6, 4};
    fixture f;
    bld b;
    fx_init(&f);
    w_drops(&b, 1, d1, 1);
    fx_feed(&f, &b);
    ASSERT_EQ(sflow_counters(&f)->sflow_drops, 0); /* a first value is a baseline */
    w_drops(&b, 2, d2, 2);
    fx_feed(&f, &b);
    ASSERT_EQ(sflow_counters(&f)->sflow_drops, 7); /* 12 - 5; source 6 is new */
    w_drops(&b, 3, d3, 2);
    fx_feed(&f, &b);
    ASSERT_EQ(sflow_counters(&f)->sflow_drops, 7 + 2 + 1); /* 5 went back: a reset */
    ASSERT_EQ(sflow_counters(&f)->records, 5);
    ASSERT_EQ(sflow_counters(&f)->seq_gaps, 0);
    fx_close(&f);
}

TEST(drops_table_is_bounded)
{
    floe_dec_exporter ex;
    floe_dec_stats st;
    sink_state s;
    bld b;
    uint32_t pairs[200];
    memset(&ex, 0, sizeof(ex));
    memset(&s, 0, sizeof(s));
    for (uint32_t round = 0; round < 4; round++) {
        for (uint32_t i = 0; i < 100; i++)
            pairs[2 * i] = round * 100 + i, pairs[2 * i + 1] = 1;
        w_drops(&b, round, pairs, 100);
        decode_direct(&b, &ex, &st, &s);
        ASSERT_EQ(st.records, 100);
    }
    floe_buf out;
    floe_json j;
    floe_buf_init(&out);
    floe_json_init(&j, &out);
    floe_json_obj_begin(&j);
    floe_dec_ops_for(FLOE_PROTO_SFLOW)->describe(NULL, &ex, &j);
    floe_json_obj_end(&j);
    unsigned long long used = 0, evicted = 0;
    const char *u = strstr(out.data, "\"drop_sources\":");
    const char *e = strstr(out.data, "\"drop_source_evictions\":");
    ASSERT(u && e);
    sscanf(u, "\"drop_sources\":%llu", &used);
    sscanf(e, "\"drop_source_evictions\":%llu", &evicted);
    /* 400 sources into 256 ways: each one either took a free way or
     * evicted another, and none was dropped twice. */
    ASSERT_LE(used, 256);
    ASSERT_EQ(used + evicted, 400);
    ASSERT_CONTAINS(out.data, "\"drop_sources_max\":256");
    floe_buf_close(&out);
    floe_dec_ops_for(FLOE_PROTO_SFLOW)->state_free(NULL, &ex);
}

TEST(sequence_counts_datagrams)
{
    fixture f;
    bld b;
    fx_init(&f);
    w_header(&b, 10, 0);
    fx_feed(&f, &b);
    w_header(&b, 11, 0);
    fx_feed(&f, &b);
    w_header(&b, 14, 0); /* 12 and 13 lost */
    fx_feed(&f, &b);
    ASSERT_EQ(sflow_counters(&f)->seq_gaps, 1);
    ASSERT_EQ(sflow_counters(&f)->lost, 2);
    ASSERT_EQ(sflow_counters(&f)->malformed, 0);
    fx_close(&f);
}

TEST(sample_count_larger_than_datagram)
{
    fixture f;
    bld b;
    fx_init(&f);
    w_header(&b, 10, 0);
    fx_feed(&f, &b); /* expects 11 next */
    w_header(&b, 500, 2);
    size_t m = w_flow(&b, 5, 1, 0, 1, 2, 0);
    w_close(&b, m);
    put32(b.b + 24, 6); /* 6 samples cannot fit in 40 bytes */
    fx_feed(&f, &b);
    put32(b.b + 24, 0xffffffff);
    fx_feed(&f, &b);
    ASSERT_EQ(f.sink.n, 0);
    ASSERT_EQ(sflow_counters(&f)->malformed, 2);
    ASSERT_EQ(sflow_counters(&f)->reason[FLOE_R_BAD_COUNT], 2);
    /* The rejected datagrams' sequence number (500) is not trusted, so 11
     * is neither a gap nor a step back. */
    w_header(&b, 11, 0);
    fx_feed(&f, &b);
    ASSERT_EQ(sflow_counters(&f)->seq_gaps, 0);
    ASSERT_EQ(sflow_counters(&f)->seq_resets, 0);
    fx_close(&f);
}

TEST(record_lengths_past_their_sample)
{
    fixture f;
    bld b;
    fx_init(&f);
    /* Sample 1: its raw header record claims 200 bytes; the sample holds
     * fewer. Sample 2 is fine and still decoded, since sample 1's own
     * length frames it. */
    w_header(&b, 1, 2);
    size_t m = w_flow(&b, 5, 1, 0, 1, 2, 1);
    size_t rec = b.n;
    w_raw(&b, 1, 100, pkt_tcp, sizeof(pkt_tcp));
    w_close(&b, m);
    put32(b.b + rec + 4, 200);
    size_t second = b.n;
    w_flow_raw(&b, 1, 1, 2, 1, 333, pkt_tcp, sizeof(pkt_tcp));
    fx_feed(&f, &b);
    ASSERT_EQ(f.sink.n, 1);
    ASSERT_U64_EQ(f.sink.recs[0].bytes, 333);
    ASSERT_EQ(sflow_counters(&f)->reason[FLOE_R_BAD_SAMPLE], 1);

    /* A header length past its record; a record length that is not a
     * multiple of 4; a record count that cannot fit. */
    put32(b.b + rec + 4, 76);
    put32(b.b + rec + 20, 77);
    fx_feed(&f, &b);
    put32(b.b + rec + 20, sizeof(pkt_tcp));
    put32(b.b + rec + 4, 75);
    fx_feed(&f, &b);
    put32(b.b + rec + 4, 76);
    put32(b.b + rec - 4, 1000);
    fx_feed(&f, &b);
    ASSERT_EQ(f.sink.n, 4);
    ASSERT_EQ(sflow_counters(&f)->reason[FLOE_R_BAD_SAMPLE], 4);

    /* A sample whose length runs past the datagram stops the walk; the
     * sample before it stays emitted. */
    put32(b.b + rec - 4, 1);
    put32(b.b + second + 4, 4000); /* sample 2's length */
    fx_feed(&f, &b);
    ASSERT_EQ(f.sink.n, 5);
    ASSERT_U64_EQ(f.sink.recs[4].bytes, 100);
    ASSERT_EQ(sflow_counters(&f)->reason[FLOE_R_BAD_SAMPLE], 5);
    ASSERT_EQ(sflow_counters(&f)->malformed, 5);
    fx_close(&f);
}

TEST(structures_shorter_than_their_layout)
{
    fixture f;
    bld b;
    fx_init(&f);
    w_header(&b, 1, 4);
    /* A generic counters record one word short of its 88 bytes. */
    size_t m = w_open(&b, 2);
    w32(&b, 1), w32(&b, 7), w32(&b, 1);
    size_t e = w_open(&b, 1);
    for (int i = 0; i < 21; i++)
        w32(&b, 1);
    w_close(&b, e);
    w_close(&b, m);
    /* An extended switch record of 12 bytes instead of 16. */
    m = w_flow(&b, 5, 1, 0, 1, 2, 1);
    e = w_open(&b, 1001);
    w32(&b, 42), w32(&b, 0), w32(&b, 43);
    w_close(&b, e);
    w_close(&b, m);
    /* An extended router record whose IPv6 next hop is cut short. */
    m = w_flow(&b, 5, 1, 0, 1, 2, 1);
    e = w_open(&b, 1002);
    w32(&b, 2), w32(&b, 0x20010db8), w32(&b, 0);
    w_close(&b, e);
    w_close(&b, m);
    /* A flow sample that ends before its output interface. */
    m = w_open(&b, 1);
    for (int i = 0; i < 6; i++)
        w32(&b, 1);
    w_close(&b, m);
    fx_feed(&f, &b);
    ASSERT_EQ(f.sink.total, 0);
    ASSERT_EQ(f.sink.total_ifc, 0);
    ASSERT_EQ(sflow_counters(&f)->counter_samples, 0);
    ASSERT_EQ(sflow_counters(&f)->reason[FLOE_R_BAD_SAMPLE], 4);
    fx_close(&f);
}

TEST(every_truncation_is_safe)
{
    fixture f;
    bld b;
    size_t ends[3];
    fx_init(&f);
    w_header(&b, 1, 3);
    w_flow_raw(&b, 400, 3, 4, 1, 1514, pkt_tcp, sizeof(pkt_tcp));
    ends[0] = b.n;
    size_t m = w_open(&b, 2);
    w32(&b, 1), w32(&b, 7), w32(&b, 1);
    w_if_counters(&b);
    w_close(&b, m);
    ends[1] = b.n;
    m = w_flow(&b, 6, 400, 0, 3, 4, 1);
    w_raw(&b, 11, 70, pkt_icmp, sizeof(pkt_icmp));
    w_close(&b, m);
    ends[2] = b.n;

    size_t want_records = 0, want_ifc = 0;
    for (size_t len = 0; len < b.n; len++) {
        floe_ingest_datagram(&f.ing, &f.src, 50000, b.b, len, 1700000001000ULL);
        /* Only whole samples count: none, when the count cannot fit. */
        if (len >= 28 && (len - 28) / 8 >= 3) {
            want_records += (len >= ends[0]) + (len >= ends[2]);
            want_ifc += len >= ends[1];
        }
    }
    ASSERT_EQ(f.sink.total, want_records);
    ASSERT_EQ(f.sink.total_ifc, want_ifc);
    for (int i = 0; i < f.sink.n; i++) {
        const floe_record *r = &f.sink.recs[i];
        ASSERT_U64_EQ(r->bytes, 1514); /* only sample 1 ever completes */
        ASSERT_EQ(r->dport, 443);
    }
    const floe_counters *c = sflow_counters(&f);
    ASSERT_EQ(f.ing.unknown.datagrams, 8); /* shorter than version + address type */
    ASSERT_EQ(c->reason[FLOE_R_SHORT_HEADER], 28 - 8);
    ASSERT_EQ(c->malformed, b.n - 8); /* each truncation rejected exactly once */
    ASSERT_EQ(c->records, want_records);
    fx_close(&f);
}

TEST(ndjson_has_the_contract_keys)
{
    fixture f;
    bld b;
    floe_buf out;
    floe_json j;
    fx_init(&f);
    w_header(&b, 1, 1);
    w_flow_raw(&b, 400, 3, 4, 1, 1514, pkt_tcp, sizeof(pkt_tcp));
    fx_feed(&f, &b);
    ASSERT_EQ(f.sink.n, 1);
    floe_buf_init(&out);
    floe_json_init(&j, &out);
    floe_record_json(&j, &f.sink.recs[0]);
    ASSERT_CONTAINS(out.data, "\"proto\":\"sflow\",\"exporter\":\"192.0.2.99\",\"domain\":7");
    ASSERT_CONTAINS(out.data, "\"bytes\":1514,\"packets\":1");
    ASSERT_CONTAINS(out.data, "\"vlan\":100");
    ASSERT_CONTAINS(out.data, "\"sampling\":400");
    floe_buf_close(&out);
    fx_close(&f);
}

TEST_MAIN(TEST_ENTRY(compact_sample_ethernet_vlan_ipv4_tcp),
          TEST_ENTRY(mpls_label_stacks_are_parsed_through_to_ip),
          TEST_ENTRY(mpls_stacks_cut_short_or_without_ip),
          TEST_ENTRY(qinq_ipv6_udp_with_extension_header), TEST_ENTRY(icmp_type_and_code_in_dport),
          TEST_ENTRY(expanded_sample_with_ipv4_data_record),
          TEST_ENTRY(extended_switch_router_gateway), TEST_ENTRY(counter_samples_reach_ifcounters),
          TEST_ENTRY(ipv6_agent_address), TEST_ENTRY(discard_sample_counted_not_emitted),
          TEST_ENTRY(unknown_samples_are_skipped), TEST_ENTRY(drops_accumulate_per_source),
          TEST_ENTRY(drops_table_is_bounded), TEST_ENTRY(sequence_counts_datagrams),
          TEST_ENTRY(sample_count_larger_than_datagram),
          TEST_ENTRY(record_lengths_past_their_sample),
          TEST_ENTRY(structures_shorter_than_their_layout), TEST_ENTRY(every_truncation_is_safe),
          TEST_ENTRY(ndjson_has_the_contract_keys))
