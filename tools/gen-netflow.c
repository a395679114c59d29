/*
 * floe-gen's NetFlow encoders: v5 (fixed 48-byte records, 30 to a
 * datagram), and NetFlow v9 and IPFIX, which share one template-driven
 * record writer and differ in a small dialect struct (header, set ids,
 * options template layout, what the sequence number counts). Templates, and
 * the sampling options template with its record, go at the front of an
 * exporter's first datagram and of every template_refresh-th one after it.
 */
#include "tools/gen.h"
#include "util/util.h"

#define V5_HDR_LEN          24
#define V5_REC_LEN          48
#define V5_MAX_RECORDS      30
#define NF_DATA_TEMPLATE    256
#define NF_OPTIONS_TEMPLATE 257
#define NF_MAX_FIELDS       20

typedef struct nf_field {
    uint16_t ie; /* v9 field type or IPFIX information element; | NF_REV for its reverse */
    uint16_t len;
} nf_field;

/* RFC 5103's reverse of an IANA element: the enterprise bit, and the
 * reverse enterprise number after the field specifier. */
#define NF_REV         0x8000u
#define NF_REVERSE_PEN 29305u
/* RFC 7011 §7: the length is in the record. floe-gen's one variable-length
 * field always holds GEN_PACKET_HEADER bytes. */
#define NF_VARLEN 65535u

/*
 * A data template: the fields announced in the template set, and the
 * function that writes one record in that layout. Each writer is written
 * out by hand rather than driven by the field list, because encoding is
 * most of floe-gen's own CPU time; test_gen.py has tshark decode every
 * record of every template, so a writer that strays from its list fails.
 */
typedef struct nf_template {
    uint16_t n;
    nf_field f[NF_MAX_FIELDS];
    /* Writes one record; adds the bytes and packets it carries to sums. */
    uint8_t *(*write)(uint8_t *p, const gen_rec *r, uint64_t boot_ms, gen_sums *sums);
} nf_template;

static uint32_t nf_as(uint32_t host)
{
    return 64512 + (host & 1023); /* private ASNs */
}

static uint32_t nf_next_hop(const gen_rec *r)
{
    return 0x0aff0000u | r->f.out_if; /* 10.255.0.x */
}

/* What v5 records and the v9 template share, in v5's order and widths:
 * addresses, next hop, 16-bit interfaces, counters, uptime-relative times
 * and ports (36 bytes). */
static uint8_t *nf_classic_head(uint8_t *p, const gen_rec *r, uint64_t boot_ms)
{
    gen_host_v4(r->f.src, p);
    gen_host_v4(r->f.dst, p + 4);
    p = gen_put32(p + 8, nf_next_hop(r));
    p = gen_put16(gen_put16(p, r->f.in_if), r->f.out_if);
    p = gen_put32(gen_put32(p, r->packets), r->bytes);
    p = gen_put32(p, (uint32_t)(r->first_ms - boot_ms));
    p = gen_put32(p, (uint32_t)(r->last_ms - boot_ms));
    return gen_put16(gen_put16(p, r->f.sport), r->f.dport);
}

static void nf_count(gen_sums *sums, const gen_rec *r)
{
    sums->bytes += r->bytes;
    sums->packets += r->packets;
}

static uint8_t *v9_v4_write(uint8_t *p, const gen_rec *r, uint64_t boot_ms, gen_sums *sums)
{
    nf_count(sums, r);
    p = nf_classic_head(p, r, boot_ms);
    p = gen_put8(gen_put8(gen_put8(p, r->f.tcp_flags), r->f.ipproto), r->f.tos);
    p = gen_put32(gen_put32(p, nf_as(r->f.src)), nf_as(r->f.dst));
    return gen_put8(p, 0); /* ingress */
}

/* What IPFIX records have after their addresses. */
static uint8_t *ipfix_rest(uint8_t *p, const gen_rec *r)
{
    p = gen_put32(gen_put32(p, r->f.in_if), r->f.out_if);
    p = gen_put64(gen_put64(p, r->packets), r->bytes);
    p = gen_put64(gen_put64(p, r->first_ms), r->last_ms);
    p = gen_put16(gen_put16(p, r->f.sport), r->f.dport);
    p = gen_put8(gen_put8(gen_put16(p, r->f.tcp_flags), r->f.ipproto), r->f.tos);
    return gen_put32(gen_put32(p, nf_as(r->f.src)), nf_as(r->f.dst));
}

static uint8_t *ipfix_v4_write(uint8_t *p, const gen_rec *r, uint64_t boot_ms, gen_sums *sums)
{
    (void)boot_ms;
    nf_count(sums, r);
    gen_host_v4(r->f.src, p);
    gen_host_v4(r->f.dst, p + 4);
    return ipfix_rest(gen_put32(p + 8, nf_next_hop(r)), r);
}

static uint8_t *ipfix_v6_write(uint8_t *p, const gen_rec *r, uint64_t boot_ms, gen_sums *sums)
{
    (void)boot_ms;
    nf_count(sums, r);
    gen_host_v6(r->f.src, p);
    gen_host_v6(r->f.dst, p + 16);
    gen_host_v6(0xffff0000u | r->f.out_if, p + 32); /* 2001:db8::ffff:x */
    return ipfix_rest(p + 48, r);
}

/*
 * The reverse direction of a biflow (RFC 5103), appended to an IPFIX
 * record: what the destination sent back (about half as many packets, a
 * quarter of the bytes plus headers), its TCP flags, and biflowDirection
 * (1: the source began the conversation, 2: the destination did).
 */
static uint8_t *biflow_tail(uint8_t *p, const gen_rec *r, gen_sums *sums)
{
    uint32_t pkts = r->packets / 2 + 1, bytes = pkts * 40 + r->bytes / 4;
    sums->bytes += bytes;
    sums->packets += pkts;
    sums->reverse_bytes += bytes;
    sums->reverse_packets += pkts;
    p = gen_put64(gen_put64(p, bytes), pkts);
    p = gen_put16(p, r->f.ipproto == 6 ? 0x13 : 0); /* FIN SYN ACK */
    return gen_put8(p, r->f.reply ? 2 : 1);
}

static uint8_t *ipfix_v4_bi_write(uint8_t *p, const gen_rec *r, uint64_t boot_ms, gen_sums *sums)
{
    return biflow_tail(ipfix_v4_write(p, r, boot_ms, sums), r, sums);
}

static uint8_t *ipfix_v6_bi_write(uint8_t *p, const gen_rec *r, uint64_t boot_ms, gen_sums *sums)
{
    return biflow_tail(ipfix_v6_write(p, r, boot_ms, sums), r, sums);
}

/*
 * A packet section record (RFC 7133, as sampling routers export each
 * sampled packet): interfaces, direction, dataLinkFrameSize and the first
 * GEN_PACKET_HEADER bytes of the frame in dataLinkFrameSection, a
 * variable-length field. One packet, the frame's bytes.
 */
static uint8_t *section_write(uint8_t *p, const gen_rec *r, int v6, gen_sums *sums)
{
    uint8_t *frame = p + 4 + 4 + 1 + 2 + 1;
    uint32_t len = gen_packet_header(frame, r, v6, r->f.sport ^ (uint32_t)r->last_ms);
    sums->bytes += len;
    sums->packets++;
    p = gen_put32(gen_put32(p, r->f.in_if), r->f.out_if);
    p = gen_put16(gen_put8(p, 0), len); /* ingress */
    return gen_put8(p, GEN_PACKET_HEADER) + GEN_PACKET_HEADER;
}

static uint8_t *section_v4_write(uint8_t *p, const gen_rec *r, uint64_t boot_ms, gen_sums *sums)
{
    (void)boot_ms;
    return section_write(p, r, 0, sums);
}

static uint8_t *section_v6_write(uint8_t *p, const gen_rec *r, uint64_t boot_ms, gen_sums *sums)
{
    (void)boot_ms;
    return section_write(p, r, 1, sums);
}

/* v9: the classic Cisco layout, uptime-relative times, 48-byte records. */
static const nf_template nf_v9_v4 = {17,
                                     {{8, 4},
                                      {12, 4},
                                      {15, 4},
                                      {10, 2},
                                      {14, 2},
                                      {2, 4},
                                      {1, 4},
                                      {22, 4},
                                      {21, 4},
                                      {7, 2},
                                      {11, 2},
                                      {6, 1},
                                      {4, 1},
                                      {5, 1},
                                      {16, 4},
                                      {17, 4},
                                      {61, 1}},
                                     v9_v4_write};

/* IPFIX: 64-bit delta counters and absolute milliseconds, 68-byte records. */
static const nf_template nf_ipfix_v4 = {16,
                                        {{8, 4},
                                         {12, 4},
                                         {15, 4},
                                         {10, 4},
                                         {14, 4},
                                         {2, 8},
                                         {1, 8},
                                         {152, 8},
                                         {153, 8},
                                         {7, 2},
                                         {11, 2},
                                         {6, 2},
                                         {4, 1},
                                         {5, 1},
                                         {16, 4},
                                         {17, 4}},
                                        ipfix_v4_write};

/* IPFIX with IPv6 addresses, 104-byte records. */
static const nf_template nf_ipfix_v6 = {16,
                                        {{27, 16},
                                         {28, 16},
                                         {62, 16},
                                         {10, 4},
                                         {14, 4},
                                         {2, 8},
                                         {1, 8},
                                         {152, 8},
                                         {153, 8},
                                         {7, 2},
                                         {11, 2},
                                         {6, 2},
                                         {4, 1},
                                         {5, 1},
                                         {16, 4},
                                         {17, 4}},
                                        ipfix_v6_write};

/* The IPFIX layouts with the reverse direction: 87 and 123 bytes. */
#define NF_BIFLOW_FIELDS                                                                           \
    {NF_REV | 1, 8}, {NF_REV | 2, 8}, {NF_REV | 6, 2},                                             \
    {                                                                                              \
        239, 1                                                                                     \
    }
static const nf_template nf_ipfix_v4_bi = {20,
                                           {{8, 4},
                                            {12, 4},
                                            {15, 4},
                                            {10, 4},
                                            {14, 4},
                                            {2, 8},
                                            {1, 8},
                                            {152, 8},
                                            {153, 8},
                                            {7, 2},
                                            {11, 2},
                                            {6, 2},
                                            {4, 1},
                                            {5, 1},
                                            {16, 4},
                                            {17, 4},
                                            NF_BIFLOW_FIELDS},
                                           ipfix_v4_bi_write};
static const nf_template nf_ipfix_v6_bi = {20,
                                           {{27, 16},
                                            {28, 16},
                                            {62, 16},
                                            {10, 4},
                                            {14, 4},
                                            {2, 8},
                                            {1, 8},
                                            {152, 8},
                                            {153, 8},
                                            {7, 2},
                                            {11, 2},
                                            {6, 2},
                                            {4, 1},
                                            {5, 1},
                                            {16, 4},
                                            {17, 4},
                                            NF_BIFLOW_FIELDS},
                                           ipfix_v6_bi_write};

/* Packet sections: 140-byte records, the frame's length byte included. */
#define NF_SECTION_FIELDS                                                                          \
    {                                                                                              \
        {10, 4}, {14, 4}, {61, 1}, {312, 2},                                                       \
        {                                                                                          \
            315, NF_VARLEN                                                                         \
        }                                                                                          \
    }
static const nf_template nf_sect_v4 = {5, NF_SECTION_FIELDS, section_v4_write};
static const nf_template nf_sect_v6 = {5, NF_SECTION_FIELDS, section_v6_write};

/* Where NetFlow v9 and IPFIX differ. */
typedef struct nf_dialect {
    uint16_t version;
    uint16_t hdr_len;
    uint16_t template_set; /* 0 or 2 */
    int ipfix;
    const nf_template *t;
} nf_dialect;

static const nf_dialect nf_v9 = {9, 20, 0, 0, &nf_v9_v4};
static const nf_dialect nf_ipfix4 = {10, 16, 2, 1, &nf_ipfix_v4};
static const nf_dialect nf_ipfix6 = {10, 16, 2, 1, &nf_ipfix_v6};
static const nf_dialect nf_ipfix4_bi = {10, 16, 2, 1, &nf_ipfix_v4_bi};
static const nf_dialect nf_ipfix6_bi = {10, 16, 2, 1, &nf_ipfix_v6_bi};
static const nf_dialect nf_ipfix4_sect = {10, 16, 2, 1, &nf_sect_v4};
static const nf_dialect nf_ipfix6_sect = {10, 16, 2, 1, &nf_sect_v6};

static size_t nf_record_len(const nf_template *t)
{
    size_t n = 0;
    for (unsigned i = 0; i < t->n; i++)
        n += t->f[i].len == NF_VARLEN ? 1 + GEN_PACKET_HEADER : t->f[i].len;
    return n;
}

/* Pads a set to a 4-byte boundary and writes its header; returns the end. */
static uint8_t *nf_set_close(uint8_t *set, uint8_t *p, uint16_t set_id)
{
    while ((p - set) % 4)
        *p++ = 0;
    gen_put16(set, set_id);
    gen_put16(set + 2, (uint32_t)(p - set));
    return p;
}

static uint8_t *nf_template_set(uint8_t *p, const nf_dialect *d)
{
    uint8_t *set = p;
    p = gen_put16(p + 4, NF_DATA_TEMPLATE);
    p = gen_put16(p, d->t->n);
    for (unsigned i = 0; i < d->t->n; i++) {
        const nf_field *f = &d->t->f[i];
        p = gen_put16(gen_put16(p, f->ie), f->len);
        if (f->ie & NF_REV)
            p = gen_put32(p, NF_REVERSE_PEN);
    }
    return nf_set_close(set, p, d->template_set);
}

/*
 * The sampling options: a template whose scope is the exporter (v9 scope
 * type 1, System; IPFIX observationDomainId) and whose fields are
 * samplingInterval (34) and samplingAlgorithm (35), then one record.
 * IPFIX pads the record to 12 bytes with paddingOctets (210).
 */
static uint8_t *nf_options_sets(uint8_t *p, const nf_dialect *d, const gen_exporter *ex,
                                uint32_t rate)
{
    uint8_t *set = p;
    p = gen_put16(p + 4, NF_OPTIONS_TEMPLATE);
    if (d->ipfix) {
        p = gen_put16(gen_put16(p, 4), 1); /* four fields, one of them scope */
        p = gen_put32(gen_put32(p, 149u << 16 | 4), 34u << 16 | 4);
        p = gen_put32(gen_put32(p, 35u << 16 | 1), 210u << 16 | 3);
    } else {
        p = gen_put16(gen_put16(p, 4), 8); /* scope and option lengths, bytes */
        p = gen_put32(p, 1u << 16 | 4);
        p = gen_put32(gen_put32(p, 34u << 16 | 4), 35u << 16 | 1);
    }
    p = nf_set_close(set, p, d->template_set + 1);
    set = p;
    p = gen_put32(gen_put32(p + 4, ex->domain), rate);
    p = gen_put8(p, 1); /* deterministic 1-in-N */
    if (d->ipfix)
        p = gen_put16(gen_put8(p, 0), 0);
    return nf_set_close(set, p, NF_OPTIONS_TEMPLATE);
}

static void nf_header(uint8_t *buf, size_t len, const nf_dialect *d, const gen_exporter *ex,
                      uint64_t now_ms, uint64_t boot_ms, uint32_t count)
{
    uint8_t *p = gen_put16(buf, d->version);
    if (d->ipfix) {
        p = gen_put16(p, (uint32_t)len);
    } else {
        p = gen_put16(p, count);
        p = gen_put32(p, (uint32_t)(now_ms - boot_ms));
    }
    p = gen_put32(p, (uint32_t)(now_ms / 1000));
    p = gen_put32(p, ex->seq);
    gen_put32(p, ex->domain);
}

static size_t nf_datagram(const nf_dialect *d, gen_exporter *ex, const gen_opts *o, uint64_t now_ms,
                          uint32_t max_records, uint8_t *buf, gen_sums *sums)
{
    uint64_t boot_ms = o->start_ms - GEN_BOOT_MS;
    uint8_t *p = buf + d->hdr_len;
    uint32_t others = 0, options = 0;
    if (ex->datagrams == 0 || (o->template_refresh && ex->datagrams % o->template_refresh == 0)) {
        p = nf_template_set(p, d);
        others++;
        if (o->sampling) {
            p = nf_options_sets(p, d, ex, o->sampling);
            others++;
            options++;
        }
    }
    uint8_t *set = p;
    size_t rec_len = nf_record_len(d->t);
    uint32_t n = 0;
    gen_rec r;
    for (p += 4; n < max_records && (size_t)(p - buf) + rec_len <= GEN_FILL; n++) {
        gen_flows_next(&ex->flows, now_ms, &r);
        p = d->t->write(p, &r, boot_ms, sums);
    }
    p = nf_set_close(set, p, NF_DATA_TEMPLATE);
    size_t len = (size_t)(p - buf);
    nf_header(buf, len, d, ex, now_ms, boot_ms, n + others + options);
    /* v9 numbers datagrams; IPFIX numbers data records, options records included. */
    ex->seq += d->ipfix ? n + options : 1;
    ex->datagrams++;
    sums->datagrams++;
    sums->records += n;
    sums->options_records += options;
    sums->template_records += others;
    return len;
}

size_t gen_v9_datagram(gen_exporter *ex, const gen_opts *o, uint64_t now_ms, uint32_t max_records,
                       uint8_t *buf, gen_sums *sums)
{
    return nf_datagram(&nf_v9, ex, o, now_ms, max_records, buf, sums);
}

size_t gen_ipfix_datagram(gen_exporter *ex, const gen_opts *o, uint64_t now_ms,
                          uint32_t max_records, uint8_t *buf, gen_sums *sums)
{
    const nf_dialect *d = o->biflow ? &nf_ipfix4_bi : o->sections ? &nf_ipfix4_sect : &nf_ipfix4;
    return nf_datagram(d, ex, o, now_ms, max_records, buf, sums);
}

size_t gen_ipfix6_datagram(gen_exporter *ex, const gen_opts *o, uint64_t now_ms,
                           uint32_t max_records, uint8_t *buf, gen_sums *sums)
{
    const nf_dialect *d = o->biflow ? &nf_ipfix6_bi : o->sections ? &nf_ipfix6_sect : &nf_ipfix6;
    return nf_datagram(d, ex, o, now_ms, max_records, buf, sums);
}

/* ---- NetFlow v5 ---------------------------------------------------------- */

static uint8_t *v5_record(uint8_t *p, const gen_rec *r, uint64_t boot_ms)
{
    p = nf_classic_head(p, r, boot_ms);
    p = gen_put8(gen_put8(p, 0), r->f.tcp_flags);
    p = gen_put8(gen_put8(p, r->f.ipproto), r->f.tos);
    p = gen_put16(gen_put16(p, nf_as(r->f.src)), nf_as(r->f.dst));
    p = gen_put8(gen_put8(p, 16), 24); /* masks */
    return gen_put16(p, 0);
}

size_t gen_v5_datagram(gen_exporter *ex, const gen_opts *o, uint64_t now_ms, uint32_t max_records,
                       uint8_t *buf, gen_sums *sums)
{
    uint64_t boot_ms = o->start_ms - GEN_BOOT_MS;
    uint32_t n = max_records < V5_MAX_RECORDS ? max_records : V5_MAX_RECORDS;
    uint8_t *p = gen_put16(gen_put16(buf, 5), n);
    p = gen_put32(p, (uint32_t)(now_ms - boot_ms));
    p = gen_put32(p, (uint32_t)(now_ms / 1000));
    p = gen_put32(p, (uint32_t)(now_ms % 1000) * 1000000u);
    p = gen_put32(p, ex->seq); /* flows exported before this datagram */
    p = gen_put8(gen_put8(p, ex->domain >> 8), ex->domain);
    /* Sampling mode 1 (deterministic) in the top two bits, then the interval. */
    p = gen_put16(p, o->sampling ? 1u << 14 | (o->sampling & 0x3fff) : 0);
    gen_rec r;
    for (uint32_t i = 0; i < n; i++) {
        gen_flows_next(&ex->flows, now_ms, &r);
        p = v5_record(p, &r, boot_ms);
        sums->bytes += r.bytes;
        sums->packets += r.packets;
    }
    ex->seq += n;
    ex->datagrams++;
    sums->datagrams++;
    sums->records += n;
    return V5_HDR_LEN + (size_t)n * V5_REC_LEN;
}
