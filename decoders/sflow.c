/*
 * sFlow version 5 (sflow.org/sflow_version_5.txt), with the discarded
 * packet samples of sflow.org/sflow_drops.txt. A datagram is a header
 * (agent address, sub-agent id, sequence, uptime, sample count) and a list
 * of samples, each (data_format, length, body); flow samples and counter
 * samples hold lists of records framed the same way. Every structure is XDR,
 * so every sample and record length is a multiple of 4. One flow sample
 * becomes one floe_record, filled from its records and from the sampled
 * packet header parsed here; a counter sample with generic interface
 * counters becomes one floe_ifcounters. Formats this file does not know,
 * and other enterprises' structures, are skipped by their length. A sample
 * that cannot be read whole is rejected alone: nothing of it is emitted, and
 * decoding goes on with the next sample when its length allows.
 */
#include "decoders/internal.h"
#include "decoders/packet.h"

#include <stdlib.h>

#define SF_HDR_V4_LEN 28
#define SF_HDR_V6_LEN 40
#define SF_IF_UNKNOWN 0x3FFFFFFFu /* ifIndex value meaning "not known" */

/* Sample formats (enterprise 0, so the data_format is the format). */
enum {
    SF_SAMPLE_FLOW = 1,
    SF_SAMPLE_COUNTERS = 2,
    SF_SAMPLE_FLOW_X = 3,     /* expanded */
    SF_SAMPLE_COUNTERS_X = 4, /* expanded */
    SF_SAMPLE_DISCARD = 5     /* sflow_drops.txt */
};

/* Header protocols of a raw packet header record. */
enum { SF_HP_ETHERNET = 1, SF_HP_IPV4 = 11, SF_HP_IPV6 = 12, SF_HP_MPLS = 13 };

/* ---- per-exporter state: drops by data source ------------------------- */

/*
 * The flow sample's drops field is cumulative per data source, so the last
 * value of each source is kept to turn it into an increase. The table is
 * bounded: 64 sets of 4 ways (256 sources, 4 KiB per exporter). A new
 * source takes a free way of its set, or evicts the way used least
 * recently. A source seen for the first time, or again after its eviction,
 * sets a baseline and adds nothing: its earlier drops were not seen here.
 */
#define SF_DROP_SETS 64
#define SF_DROP_WAYS 4

typedef struct sf_drop_slot {
    uint32_t type, index; /* the data source */
    uint32_t last;        /* its drops counter when last seen */
    uint32_t stamp;       /* 0: free; else the state clock when last used */
} sf_drop_slot;

typedef struct sflow_state {
    uint32_t clock;
    uint64_t drop_evictions;
    uint64_t discard_samples;
    sf_drop_slot drops[SF_DROP_SETS][SF_DROP_WAYS];
} sflow_state;

/* The exporter's state, made on first use; NULL if that allocation fails. */
static sflow_state *state_get(floe_dec_exporter *ex)
{
    if (!ex->state)
        ex->state = calloc(1, sizeof(sflow_state));
    return ex->state;
}

_Static_assert(SF_DROP_SETS == 64, "drop_set() returns 6 bits");

static uint32_t drop_set(uint32_t type, uint32_t index)
{
    return ((type * 0x9E3779B1u) ^ index) * 0x85EBCA6Bu >> 26; /* 6 bits */
}

/* Returns the increase of a source's drops counter since it was last seen. */
static uint32_t drops_increase(sflow_state *s, uint32_t type, uint32_t index, uint32_t drops)
{
    sf_drop_slot *set = s->drops[drop_set(type, index)], *victim = &set[0];
    /* Stamp 0 marks a free way, so the clock skips it when it wraps. */
    if (++s->clock == 0)
        s->clock = 1;
    for (int w = 0; w < SF_DROP_WAYS; w++) {
        sf_drop_slot *e = &set[w];
        if (e->stamp && e->type == type && e->index == index) {
            /* A decrease means the agent restarted its count. */
            uint32_t inc = drops >= e->last ? drops - e->last : drops;
            e->last = drops;
            e->stamp = s->clock;
            return inc;
        }
        if (e->stamp < victim->stamp)
            victim = e;
    }
    if (victim->stamp)
        s->drop_evictions++;
    *victim = (sf_drop_slot){type, index, drops, s->clock};
    return 0;
}

/* ---- framing ---------------------------------------------------------- */

/*
 * A handler reads one record or sample body of n bytes, n being at least
 * its kind's min_len and a multiple of 4. It returns 0, or the FLOE_R_*
 * reason that rejects the sample holding it.
 */
typedef int (*sf_body_fn)(void *ud, const uint8_t *p, uint32_t n);

/* One row per structure this file reads: its data_format, the length of
 * its fixed part, and its handler. */
typedef struct sf_kind {
    uint32_t format;
    uint32_t min_len;
    sf_body_fn fn;
} sf_kind;

static const sf_kind *kind_find(const sf_kind *kinds, size_t n, uint32_t format)
{
    for (size_t i = 0; i < n; i++)
        if (kinds[i].format == format)
            return &kinds[i];
    return NULL;
}

/*
 * Walks a record list: a count, then count records of (format, length,
 * body). Known formats go to their handler; the rest are skipped. Returns
 * 0, or a reason when the count or a length does not fit in p[0..n), a
 * length is not a multiple of 4, or a handler rejects its record.
 */
static int walk_records(const uint8_t *p, size_t n, const sf_kind *kinds, size_t nkinds, void *ud)
{
    if (n < 4)
        return FLOE_R_BAD_SAMPLE;
    uint32_t count = floe_be32(p);
    p += 4, n -= 4;
    if (count > n / 8)
        return FLOE_R_BAD_SAMPLE;
    for (uint32_t i = 0; i < count; i++) {
        if (n < 8)
            return FLOE_R_BAD_SAMPLE;
        uint32_t format = floe_be32(p), len = floe_be32(p + 4);
        p += 8, n -= 8;
        if (len > n || len % 4 != 0)
            return FLOE_R_BAD_SAMPLE;
        const sf_kind *k = kind_find(kinds, nkinds, format);
        if (k && len < k->min_len)
            return FLOE_R_BAD_SAMPLE;
        int reason = k ? k->fn(ud, p, len) : 0;
        if (reason)
            return reason;
        p += len, n -= len;
    }
    return 0;
}

/* A bounds-checked reader for the variable parts; a short read sets bad. */
typedef struct sf_cur {
    const uint8_t *p;
    size_t n;
    int bad;
} sf_cur;

static uint32_t cur_u32(sf_cur *c)
{
    if (c->n < 4) {
        c->bad = 1;
        return 0;
    }
    uint32_t v = floe_be32(c->p);
    c->p += 4, c->n -= 4;
    return v;
}

/* Skips count 32-bit words; sets bad if they are not all there. */
static void cur_skip_words(sf_cur *c, uint32_t count)
{
    if (count > c->n / 4) {
        c->bad = 1;
        return;
    }
    c->p += (size_t)count * 4, c->n -= (size_t)count * 4;
}

/* Sets a from alen (4 or 16) address bytes. */
static void addr_from(floe_addr *a, const uint8_t *p, size_t alen)
{
    if (alen == 4)
        floe_addr_from_v4(a, p);
    else
        floe_addr_from_v6(a, p);
}

/*
 * Reads an sFlow address: a type, then 4 (IPv4) or 16 (IPv6) bytes; type 0
 * ("unknown") has none. Sets *got to 1 when a was filled. Returns 0, or
 * the reason that rejects the sample: a short read or a type that does not
 * exist.
 */
static int cur_addr(sf_cur *c, floe_addr *a, int *got)
{
    uint32_t type = cur_u32(c);
    size_t len = type == 1 ? 4 : type == 2 ? 16 : 0;
    *got = 0;
    if (c->bad || len > c->n)
        return FLOE_R_BAD_SAMPLE;
    if (type > 2)
        return FLOE_R_BAD_ADDRESS;
    if (len)
        addr_from(a, c->p, len);
    c->p += len, c->n -= len;
    *got = len != 0;
    return 0;
}

/* ---- flow records ------------------------------------------------------ */

/* One flow sample being decoded. */
typedef struct sf_flow {
    floe_record r;
    uint32_t headers;     /* raw packet header records */
    uint64_t frame_bytes; /* their frame lengths, summed */
    int nh_from_router;   /* next_hop came from an extended router record */
} sf_flow;

/*
 * The raw packet header: what the sampled header says wins over the
 * ethernet, IPv4 and IPv6 data records, which only fill what it left
 * unknown, in whatever order the records come.
 */
static int rec_raw_header(void *ud, const uint8_t *p, uint32_t n)
{
    sf_flow *f = ud;
    floe_record *r = &f->r;
    uint32_t proto = floe_be32(p), frame = floe_be32(p + 4), hlen = floe_be32(p + 12);
    /* stripped (p + 8) counts the octets removed before the header was
     * taken (usually the 4-byte FCS). frame_length is the original length,
     * FCS included, and is reported as it is: tshark sums it unchanged. */
    if (hlen > n - 16)
        return FLOE_R_BAD_SAMPLE; /* n is a multiple of 4, so the padding fits too */
    const uint8_t *hdr = p + 16;
    r->sampled = hdr;
    r->sampled_len = hlen;
    r->sampled_proto = proto;
    r->bytes = frame;
    r->packets = 1;
    r->has |= FLOE_F(BYTES) | FLOE_F(PACKETS);
    f->headers++;
    f->frame_bytes += frame;
    dec_pkt pk;
    memset(&pk, 0, sizeof(pk));
    if (proto == SF_HP_ETHERNET)
        dec__pkt_ethernet(r, hdr, hlen, &pk);
    else if (proto == SF_HP_IPV4 || proto == SF_HP_IPV6)
        dec__pkt_ip(r, hdr, hlen, &pk);
    else if (proto == SF_HP_MPLS)
        dec__pkt_mpls(r, hdr, hlen, &pk);
    /* nDPI's stage peels plain Ethernet itself; past labels or old QinQ
     * tags it gets the IP packet. */
    if (pk.l3 && (pk.mpls || pk.tags)) {
        r->sampled = pk.l3;
        r->sampled_len = (uint32_t)(hlen - (size_t)(pk.l3 - hdr));
        r->sampled_proto = pk.l3[0] >> 4 == 4 ? SF_HP_IPV4 : SF_HP_IPV6;
    }
    return 0;
}

#define SF_UNKNOWN(r, id) (!((r)->has & FLOE_F(id)))

static int rec_ethernet(void *ud, const uint8_t *p, uint32_t n)
{
    floe_record *r = &((sf_flow *)ud)->r;
    (void)n;
    /* length (p), then each MAC padded to 8 bytes, then the ethertype */
    if (SF_UNKNOWN(r, SRC_MAC)) {
        memcpy(r->src_mac, p + 4, 6);
        r->has |= FLOE_F(SRC_MAC);
    }
    if (SF_UNKNOWN(r, DST_MAC)) {
        memcpy(r->dst_mac, p + 12, 6);
        r->has |= FLOE_F(DST_MAC);
    }
    return 0;
}

/*
 * The IPv4 and IPv6 data records: length, protocol, source, destination
 * (alen bytes each), source port, destination port, TCP flags, then ToS
 * (IPv4) or priority (IPv6). Each fills only what is still unknown.
 */
static void ip_data(floe_record *r, const uint8_t *p, size_t alen)
{
    const uint8_t *tail = p + 8 + 2 * alen;
    if (SF_UNKNOWN(r, SRC) && SF_UNKNOWN(r, DST)) {
        addr_from(&r->src, p + 8, alen);
        addr_from(&r->dst, p + 8 + alen, alen);
        r->has |= FLOE_F(SRC) | FLOE_F(DST);
    }
    if (SF_UNKNOWN(r, IPPROTO)) {
        r->ipproto = (uint8_t)floe_be32(p + 4);
        r->has |= FLOE_F(IPPROTO);
    }
    if (SF_UNKNOWN(r, SPORT)) {
        r->sport = (uint16_t)floe_be32(tail);
        r->has |= FLOE_F(SPORT);
    }
    if (SF_UNKNOWN(r, DPORT)) {
        r->dport = (uint16_t)floe_be32(tail + 4);
        r->has |= FLOE_F(DPORT);
    }
    if (SF_UNKNOWN(r, TCP_FLAGS) && r->ipproto == 6) {
        r->tcp_flags = (uint16_t)floe_be32(tail + 8);
        r->has |= FLOE_F(TCP_FLAGS);
    }
    if (SF_UNKNOWN(r, TOS)) {
        r->tos = (uint8_t)floe_be32(tail + 12);
        r->has |= FLOE_F(TOS);
    }
}

static int rec_ipv4(void *ud, const uint8_t *p, uint32_t n)
{
    (void)n;
    ip_data(&((sf_flow *)ud)->r, p, 4);
    return 0;
}

static int rec_ipv6(void *ud, const uint8_t *p, uint32_t n)
{
    (void)n;
    ip_data(&((sf_flow *)ud)->r, p, 16);
    return 0;
}

/* Extended switch: the source VLAN, unless the sampled header had a tag. */
static int rec_switch(void *ud, const uint8_t *p, uint32_t n)
{
    floe_record *r = &((sf_flow *)ud)->r;
    uint32_t src_vlan = floe_be32(p);
    (void)n;
    if (SF_UNKNOWN(r, VLAN) && src_vlan >= 1 && src_vlan <= 4095) {
        r->vlan = (uint16_t)src_vlan;
        r->has |= FLOE_F(VLAN);
    }
    return 0;
}

/*
 * Reads the next hop that starts the router and gateway records. The
 * router's is the IP next hop, which NetFlow's next hop field means too, so
 * it wins; the gateway's BGP next hop is kept only when no router record
 * gave one, whatever the order of the two records.
 */
static int next_hop(sf_flow *f, sf_cur *c, int from_router)
{
    floe_addr nh;
    int got, reason = cur_addr(c, &nh, &got);
    if (reason || !got || (!from_router && f->nh_from_router))
        return reason;
    f->r.next_hop = nh;
    f->r.has |= FLOE_F(NEXT_HOP);
    f->nh_from_router |= from_router;
    return 0;
}

/* Extended router: next hop, source and destination mask lengths. */
static int rec_router(void *ud, const uint8_t *p, uint32_t n)
{
    sf_cur c = {p, n, 0};
    return next_hop(ud, &c, 1);
}

/* Reads the AS path segments; returns the last AS, or dflt if none. */
static uint32_t as_path_last(sf_cur *c, uint32_t dflt)
{
    uint32_t segments = cur_u32(c), last = dflt;
    if (segments > c->n / 8) {
        c->bad = 1;
        return dflt;
    }
    for (uint32_t i = 0; i < segments && !c->bad; i++) {
        (void)cur_u32(c); /* segment type: AS_SET or AS_SEQUENCE */
        uint32_t count = cur_u32(c);
        if (count > 0 && count <= c->n / 4)
            last = floe_be32(c->p + ((size_t)count - 1) * 4);
        cur_skip_words(c, count);
    }
    return last;
}

/*
 * Extended gateway: BGP next hop, this router's AS, source AS, source peer
 * AS, then the destination AS path. Communities and local preference
 * follow; floe keeps neither.
 */
static int rec_gateway(void *ud, const uint8_t *p, uint32_t n)
{
    sf_flow *f = ud;
    sf_cur c = {p, n, 0};
    int reason = next_hop(f, &c, 0);
    if (reason)
        return reason;
    uint32_t as = cur_u32(&c), src_as = cur_u32(&c);
    (void)cur_u32(&c); /* src_peer_as: no record field */
    uint32_t dst_as = as_path_last(&c, as);
    if (c.bad)
        return FLOE_R_BAD_SAMPLE;
    f->r.src_as = src_as;
    f->r.dst_as = dst_as;
    f->r.has |= FLOE_F(SRC_AS) | FLOE_F(DST_AS);
    return 0;
}

static const sf_kind flow_kinds[] = {
    {1, 16, rec_raw_header}, /* protocol, frame_length, stripped, header<> */
    {2, 24, rec_ethernet},   /* length, src_mac, dst_mac, type */
    {3, 32, rec_ipv4},       /* length, protocol, src, dst, ports, flags, tos */
    {4, 56, rec_ipv6},       /* length, protocol, src, dst, ports, flags, priority */
    {1001, 16, rec_switch},  /* src vlan, src priority, dst vlan, dst priority */
    {1002, 12, rec_router},  /* next hop (at least an IPv4 one), masks */
    {1003, 32, rec_gateway}, /* next hop, as, src_as, src_peer_as, path<>, ... */
};

/* ---- samples ----------------------------------------------------------- */

/* One datagram being decoded. */
typedef struct sf_ctx {
    const floe_dgram *dg;
    const floe_hdr *h;
    floe_dec_exporter *ex;
    floe_dec_stats *st;
    const floe_sink *sink;
} sf_ctx;

/* The fixed part of a flow sample, compact or expanded, unpacked. */
typedef struct sf_flow_hdr {
    uint32_t src_type, src_index;
    uint32_t rate, drops;
    uint32_t in_format, in_value, out_format, out_value;
} sf_flow_hdr;

/* Sets an interface field when it names one ifIndex (format 0) that is
 * known; discarded (1) and multiple-interface (2) outputs leave it out. */
static void set_if(floe_record *r, uint64_t bit, uint32_t *field, uint32_t format, uint32_t value)
{
    if (format != 0 || value == SF_IF_UNKNOWN)
        return;
    *field = value;
    r->has |= bit;
}

static int flow_sample(sf_ctx *x, const sf_flow_hdr *fh, const uint8_t *recs, size_t n)
{
    sf_flow f;
    dec__record_init(&f.r, x->dg, FLOE_PROTO_SFLOW, x->h->domain);
    f.headers = 0;
    f.frame_bytes = 0;
    f.nh_from_router = 0;
    f.r.sampling = fh->rate ? fh->rate : 1;
    set_if(&f.r, FLOE_F(IN_IF), &f.r.in_if, fh->in_format, fh->in_value);
    set_if(&f.r, FLOE_F(OUT_IF), &f.r.out_if, fh->out_format, fh->out_value);
    int reason = walk_records(recs, n, flow_kinds, FLOE_ARRAY_LEN(flow_kinds), &f);
    if (reason)
        return reason;
    sflow_state *s = state_get(x->ex);
    if (s)
        x->st->sflow_drops += drops_increase(s, fh->src_type, fh->src_index, fh->drops);
    x->st->records++;
    x->st->bytes += f.frame_bytes;
    x->st->packets += f.headers;
    x->ex->sampling = f.r.sampling;
    if (x->sink->record)
        x->sink->record(x->sink->ud, &f.r);
    return 0;
}

/* sequence, source id (type:8 index:24), rate, pool, drops, input,
 * output (format:2 ifIndex:30), records<> */
static int sample_flow(void *ud, const uint8_t *p, uint32_t n)
{
    uint32_t src = floe_be32(p + 4), in = floe_be32(p + 20), out = floe_be32(p + 24);
    sf_flow_hdr fh = {
        .src_type = src >> 24,
        .src_index = src & 0x00ffffff,
        .rate = floe_be32(p + 8),
        .drops = floe_be32(p + 16),
        .in_format = in >> 30,
        .in_value = in & 0x3fffffff,
        .out_format = out >> 30,
        .out_value = out & 0x3fffffff,
    };
    return flow_sample(ud, &fh, p + 28, n - 28);
}

/* sequence, source type, source index, rate, pool, drops, input format,
 * input value, output format, output value, records<> */
static int sample_flow_expanded(void *ud, const uint8_t *p, uint32_t n)
{
    sf_flow_hdr fh = {
        .src_type = floe_be32(p + 4),
        .src_index = floe_be32(p + 8),
        .rate = floe_be32(p + 12),
        .drops = floe_be32(p + 20),
        .in_format = floe_be32(p + 24),
        .in_value = floe_be32(p + 28),
        .out_format = floe_be32(p + 32),
        .out_value = floe_be32(p + 36),
    };
    return flow_sample(ud, &fh, p + 40, n - 40);
}

/* A counter sample being decoded. */
typedef struct sf_counters {
    floe_ifcounters c;
    int generic; /* a generic interface counters record was read */
} sf_counters;

/* Generic interface counters: 88 bytes, the if-MIB counters in order. */
static int rec_if_counters(void *ud, const uint8_t *p, uint32_t n)
{
    sf_counters *k = ud;
    floe_ifcounters *c = &k->c;
    (void)n;
    c->ifindex = floe_be32(p);
    c->iftype = floe_be32(p + 4);
    c->speed = floe_be64(p + 8);
    c->direction = floe_be32(p + 16);
    c->status = floe_be32(p + 20);
    c->in_octets = floe_be64(p + 24);
    c->in_ucast = floe_be32(p + 32);
    c->in_mcast = floe_be32(p + 36);
    c->in_bcast = floe_be32(p + 40);
    c->in_discards = floe_be32(p + 44);
    c->in_errors = floe_be32(p + 48);
    c->in_unknown = floe_be32(p + 52);
    c->out_octets = floe_be64(p + 56);
    c->out_ucast = floe_be32(p + 64);
    c->out_mcast = floe_be32(p + 68);
    c->out_bcast = floe_be32(p + 72);
    c->out_discards = floe_be32(p + 76);
    c->out_errors = floe_be32(p + 80);
    /* p + 84 is ifPromiscuousMode, which floe does not keep. */
    k->generic = 1;
    return 0;
}

/* Ethernet counters: 13 dot3Stats counters; floe keeps four of them. */
static int rec_eth_counters(void *ud, const uint8_t *p, uint32_t n)
{
    floe_ifcounters *c = &((sf_counters *)ud)->c;
    (void)n;
    c->has_ethernet = 1;
    c->eth_alignment_errors = floe_be32(p);
    c->eth_fcs_errors = floe_be32(p + 4);
    c->eth_frame_too_long = floe_be32(p + 40);
    c->eth_symbol_errors = floe_be32(p + 48);
    return 0;
}

static const sf_kind counter_kinds[] = {
    {1, 88, rec_if_counters},  /* generic interface counters */
    {2, 52, rec_eth_counters}, /* ethernet interface counters */
};

static int counter_sample(sf_ctx *x, const uint8_t *recs, size_t n)
{
    sf_counters k;
    memset(&k, 0, sizeof(k));
    k.c.exporter_id = x->dg->exporter_id;
    k.c.exporter = x->dg->src;
    k.c.domain = x->h->domain;
    int reason = walk_records(recs, n, counter_kinds, FLOE_ARRAY_LEN(counter_kinds), &k);
    if (reason)
        return reason;
    x->st->counter_samples++;
    if (k.generic && x->sink->ifcounters)
        x->sink->ifcounters(x->sink->ud, &k.c);
    return 0;
}

/* sequence, source id, records<> */
static int sample_counters(void *ud, const uint8_t *p, uint32_t n)
{
    return counter_sample(ud, p + 8, n - 8);
}

/* sequence, source type, source index, records<> */
static int sample_counters_expanded(void *ud, const uint8_t *p, uint32_t n)
{
    return counter_sample(ud, p + 12, n - 12);
}

/*
 * A discarded packet (sflow_drops.txt): sequence, source type, source
 * index, drops, input ifIndex, output ifIndex, reason, records<>. It
 * describes a packet the device dropped, not traffic that flowed, so it
 * makes no flow record and adds nothing to bytes or packets; it is counted,
 * once its records are framed correctly. Its drops field counts lost
 * discard notifications, not lost flow samples, so sflow_drops leaves it
 * out.
 */
static int sample_discard(void *ud, const uint8_t *p, uint32_t n)
{
    sf_ctx *x = ud;
    int reason = walk_records(p + 28, n - 28, NULL, 0, NULL);
    if (reason)
        return reason;
    x->st->sflow_discards++;
    sflow_state *s = state_get(x->ex);
    if (s)
        s->discard_samples++;
    return 0;
}

static const sf_kind sample_kinds[] = {
    {SF_SAMPLE_FLOW, 32, sample_flow},
    {SF_SAMPLE_COUNTERS, 12, sample_counters},
    {SF_SAMPLE_FLOW_X, 44, sample_flow_expanded},
    {SF_SAMPLE_COUNTERS_X, 16, sample_counters_expanded},
    {SF_SAMPLE_DISCARD, 32, sample_discard},
};

/* ---- the datagram ------------------------------------------------------ */

/* The header's length given its agent address type; 0 for a bad type. */
static size_t header_len(uint32_t addr_type)
{
    return addr_type == 1 ? SF_HDR_V4_LEN : addr_type == 2 ? SF_HDR_V6_LEN : 0;
}

static int sflow_detect(const uint8_t *p, size_t n)
{
    return n >= 8 && floe_be32(p) == 5 && header_len(floe_be32(p + 4)) != 0;
}

static int sflow_header(const uint8_t *p, size_t n, floe_hdr *h)
{
    memset(h, 0, sizeof(*h));
    if (n < 8)
        return FLOE_R_SHORT_HEADER;
    uint32_t type = floe_be32(p + 4);
    size_t len = header_len(type);
    if (len == 0)
        return FLOE_R_BAD_ADDRESS;
    if (n < len)
        return FLOE_R_SHORT_HEADER;
    if (type == 1)
        floe_addr_from_v4(&h->agent, p + 8);
    else
        floe_addr_from_v6(&h->agent, p + 8);
    h->has_agent = 1;
    const uint8_t *q = p + len - 16;
    h->domain = floe_be32(q); /* sub_agent_id */
    h->seq = floe_be32(q + 4);
    h->uptime_ms = floe_be32(q + 8);
    h->count = floe_be32(q + 12);
    return 0;
}

/* Decodes one sample at p (n bytes left); returns the bytes it took, or 0
 * when the rest of the datagram cannot be framed. */
static size_t decode_sample(sf_ctx *x, const uint8_t *p, size_t n)
{
    if (n < 8) {
        floe_dec_reject(x->st, FLOE_R_TRUNCATED);
        return 0;
    }
    uint32_t format = floe_be32(p), len = floe_be32(p + 4);
    if (len > n - 8 || len % 4 != 0) {
        floe_dec_reject(x->st, FLOE_R_BAD_SAMPLE);
        return 0;
    }
    const sf_kind *k = kind_find(sample_kinds, FLOE_ARRAY_LEN(sample_kinds), format);
    int reason = 0;
    if (k)
        reason = len < k->min_len ? FLOE_R_BAD_SAMPLE : k->fn(x, p + 8, len);
    if (reason)
        floe_dec_reject(x->st, reason);
    return 8 + (size_t)len;
}

static void sflow_decode(floe_decoders *d, floe_dec_exporter *ex, const floe_dgram *dg,
                         const floe_hdr *h, floe_dec_stats *st, const floe_sink *sink)
{
    (void)d;
    sf_ctx x = {dg, h, ex, st, sink};
    size_t off = dg->len >= 8 ? header_len(floe_be32(dg->data + 4)) : 0;
    if (off == 0 || dg->len < off) {
        floe_dec_reject(st, FLOE_R_SHORT_HEADER);
        return;
    }
    const uint8_t *p = dg->data + off;
    size_t n = dg->len - off;
    /* Every sample takes at least its 8-byte format and length. A count
     * that cannot fit marks the whole datagram as garbage, sequence
     * number included, so seq_valid stays 0 for it. */
    if (h->count > n / 8) {
        floe_dec_reject(st, FLOE_R_BAD_COUNT);
        return;
    }
    /* The sFlow sequence number counts datagrams. */
    st->seq_advance = 1;
    st->seq_valid = 1;
    for (uint32_t i = 0; i < h->count; i++) {
        size_t used = decode_sample(&x, p, n);
        if (used == 0)
            return;
        p += used, n -= used;
    }
}

static void sflow_state_free(floe_decoders *d, floe_dec_exporter *ex)
{
    (void)d;
    free(ex->state);
    ex->state = NULL;
}

/* Adds an "sflow" object: discard samples seen, and the drops table. */
static void sflow_describe(const floe_decoders *d, const floe_dec_exporter *ex, floe_json *j)
{
    const sflow_state *s = ex->state;
    uint64_t sources = 0;
    (void)d;
    floe_json_key(j, "sflow");
    floe_json_obj_begin(j);
    if (s) {
        for (int i = 0; i < SF_DROP_SETS; i++)
            for (int w = 0; w < SF_DROP_WAYS; w++)
                sources += s->drops[i][w].stamp != 0;
    }
    floe_json_ku64(j, "discard_samples", s ? s->discard_samples : 0);
    floe_json_ku64(j, "drop_sources", sources);
    floe_json_ku64(j, "drop_sources_max", SF_DROP_SETS * SF_DROP_WAYS);
    floe_json_ku64(j, "drop_source_evictions", s ? s->drop_evictions : 0);
    floe_json_obj_end(j);
}

const floe_dec_ops dec__sflow_ops = {
    .proto = FLOE_PROTO_SFLOW,
    .name = "sflow",
    .detect = sflow_detect,
    .header = sflow_header,
    .decode = sflow_decode,
    .state_free = sflow_state_free,
    .describe = sflow_describe,
};
