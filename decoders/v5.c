/*
 * NetFlow v5: a 24-byte header and up to 30 fixed 48-byte records. The
 * observation domain is engine_type << 8 | engine_id, and times in the
 * records are sysUptime milliseconds, turned into absolute times here.
 */
#include "decoders/internal.h"

#define V5_HDR_LEN   24
#define V5_REC_LEN   48
#define V5_MAX_COUNT 30

static int v5_detect(const uint8_t *p, size_t n)
{
    return n >= 2 && floe_be16(p) == 5;
}

static int v5_header(const uint8_t *p, size_t n, floe_hdr *h)
{
    if (n < V5_HDR_LEN)
        return FLOE_R_SHORT_HEADER;
    memset(h, 0, sizeof(*h));
    h->count = floe_be16(p + 2);
    h->uptime_ms = floe_be32(p + 4);
    h->export_ms = (uint64_t)floe_be32(p + 8) * 1000 + floe_be32(p + 12) / 1000000;
    h->seq = floe_be32(p + 16);
    h->domain = (uint32_t)p[20] << 8 | p[21];
    uint16_t si = floe_be16(p + 22);
    h->sampling_mode = (uint8_t)(si >> 14);
    h->sampling_interval = si & 0x3fff;
    return 0;
}

static void v5_record(const uint8_t *p, const floe_hdr *h, floe_record *r)
{
    floe_addr_from_v4(&r->src, p);
    floe_addr_from_v4(&r->dst, p + 4);
    floe_addr_from_v4(&r->next_hop, p + 8);
    r->in_if = floe_be16(p + 12);
    r->out_if = floe_be16(p + 14);
    r->packets = floe_be32(p + 16);
    r->bytes = floe_be32(p + 20);
    r->first_ms = dec__uptime_to_ms(h->export_ms, h->uptime_ms, floe_be32(p + 24));
    r->last_ms = dec__uptime_to_ms(h->export_ms, h->uptime_ms, floe_be32(p + 28));
    r->sport = floe_be16(p + 32);
    r->dport = floe_be16(p + 34);
    r->tcp_flags = p[37];
    r->ipproto = p[38];
    r->tos = p[39];
    r->src_as = floe_be16(p + 40);
    r->dst_as = floe_be16(p + 42);
    r->has = FLOE_F(SRC) | FLOE_F(DST) | FLOE_F(NEXT_HOP) | FLOE_F(IN_IF) | FLOE_F(OUT_IF) |
             FLOE_F(PACKETS) | FLOE_F(BYTES) | FLOE_F(FIRST) | FLOE_F(LAST) | FLOE_F(SPORT) |
             FLOE_F(DPORT) | FLOE_F(TCP_FLAGS) | FLOE_F(IPPROTO) | FLOE_F(TOS) | FLOE_F(SRC_AS) |
             FLOE_F(DST_AS);
}

static void v5_decode(floe_decoders *d, floe_dec_exporter *ex, const floe_dgram *dg,
                      const floe_hdr *h, floe_dec_stats *st, const floe_sink *sink)
{
    if (h->count == 0 || h->count > V5_MAX_COUNT) {
        floe_dec_reject(st, FLOE_R_BAD_COUNT);
        return;
    }
    if (dg->len < V5_HDR_LEN + (size_t)h->count * V5_REC_LEN) {
        floe_dec_reject(st, FLOE_R_TRUNCATED);
        return;
    }
    uint32_t sampling = h->sampling_interval ? h->sampling_interval : 1;
    ex->sampling = sampling;
    floe_record own;
    for (uint32_t i = 0; i < h->count; i++) {
        /* Built where the sink keeps it, if it offers a place: no copy. */
        floe_record *r = sink->slot ? sink->slot(sink->ud) : &own;
        dec__record_init(r, dg, FLOE_PROTO_V5, h->domain);
        r->sampling = sampling;
        v5_record(dg->data + V5_HDR_LEN + i * V5_REC_LEN, h, r);
        st->records++;
        st->bytes += r->bytes;
        st->packets += r->packets;
        if (sink->record)
            sink->record(sink->ud, r);
    }
    st->seq_advance = h->count;
    st->seq_valid = 1;
}

const floe_dec_ops dec__v5_ops = {
    .proto = FLOE_PROTO_V5,
    .name = "v5",
    .detect = v5_detect,
    .header = v5_header,
    .decode = v5_decode,
};
