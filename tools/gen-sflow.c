/*
 * floe-gen's sFlow v5 encoder (sflow.org/sflow_version_5.txt). A datagram
 * carries as many flow samples (enterprise 0, format 1) as fit in GEN_FILL
 * bytes; each holds one raw packet header record (format 1): the first 128
 * bytes of one packet of a conversation (Ethernet, IPv4 or IPv6, TCP or UDP,
 * then zero payload), as hsflowd samples by default, with frame_length
 * giving the size of the whole frame, so a collector can decode addresses,
 * ports and bytes from it. Frames are at least 132 bytes (128 and the FCS),
 * so every sample, and every full datagram, has the same size: a run of
 * them goes out as one GSO message. Everything is XDR: big-endian 32-bit
 * words, opaque data padded to 4 bytes.
 */
#include "tools/gen.h"

#include <string.h>

#define SF_FCS_LEN        4                 /* the frame check sequence, counted as stripped */
#define SF_SOURCE_IFINDEX 1                 /* each exporter samples one data source */
#define SF_HEADER_LEN     GEN_PACKET_HEADER /* sampled bytes of each packet */
#define SF_SAMPLE_LEN     (8 + 56 + SF_HEADER_LEN)

static uint8_t *sf_ethernet(uint8_t *p, const gen_rec *r, int v6)
{
    p = gen_put32(gen_put16(p, 0x0200), r->f.dst); /* locally administered MACs */
    p = gen_put32(gen_put16(p, 0x0200), r->f.src);
    return gen_put16(p, v6 ? 0x86dd : 0x0800);
}

static uint8_t *sf_ipv4(uint8_t *p, const gen_rec *r, uint32_t ip_len, uint16_t id)
{
    uint8_t *ip = p;
    p = gen_put8(gen_put8(p, 0x45), r->f.tos);
    p = gen_put16(gen_put16(p, ip_len), id);
    p = gen_put16(p, 0x4000); /* DF */
    p = gen_put8(gen_put8(p, 64), r->f.ipproto);
    p = gen_put16(p, 0);
    gen_host_v4(r->f.src, p);
    gen_host_v4(r->f.dst, p + 4);
    gen_put16(ip + 10, gen_csum_fold(gen_csum_add(0, ip, 20)));
    return p + 8;
}

static uint8_t *sf_ipv6(uint8_t *p, const gen_rec *r, uint32_t ip_len)
{
    p = gen_put32(p, 6u << 28 | (uint32_t)r->f.tos << 20 | (r->f.sport & 0xfffff));
    p = gen_put16(p, ip_len - 40);
    p = gen_put8(gen_put8(p, r->f.ipproto), 64);
    gen_host_v6(r->f.src, p);
    gen_host_v6(r->f.dst, p + 16);
    return p + 32;
}

static uint8_t *sf_l4(uint8_t *p, const gen_rec *r, uint32_t l4_len, uint32_t seq)
{
    p = gen_put16(gen_put16(p, r->f.sport), r->f.dport);
    if (r->f.ipproto != 6)
        return gen_put16(gen_put16(p, l4_len), 0); /* UDP, no checksum */
    p = gen_put32(gen_put32(p, seq), seq ^ 0x5a5a5a5au);
    p = gen_put16(p, 5u << 12 | 0x18); /* 20-byte header; PSH ACK */
    return gen_put32(gen_put16(p, 65535), 0);
}

uint32_t gen_packet_header(uint8_t *p, const gen_rec *r, int v6, uint32_t seq)
{
    uint32_t ip_hdr = v6 ? 40 : 20, l4_hdr = r->f.ipproto == 6 ? 20 : 8;
    uint32_t hdr_len = 14 + ip_hdr + l4_hdr, min_ip = GEN_PACKET_HEADER - 14;
    uint32_t ip_len = r->f.pkt_len < min_ip ? min_ip : r->f.pkt_len;
    uint8_t *h = sf_ethernet(p, r, v6);
    h = v6 ? sf_ipv6(h, r, ip_len) : sf_ipv4(h, r, ip_len, (uint16_t)seq);
    sf_l4(h, r, ip_len - ip_hdr, seq * 2654435761u);
    memset(p + hdr_len, 0, GEN_PACKET_HEADER - hdr_len);
    return 14 + ip_len;
}

/* Writes a flow sample of r at p; returns its end and the frame's length. */
static uint8_t *sf_flow_sample(uint8_t *p, gen_exporter *ex, const gen_rec *r, int v6,
                               uint32_t rate, uint32_t *frame_len)
{
    uint8_t hdr[GEN_PACKET_HEADER];
    *frame_len = gen_packet_header(hdr, r, v6, ex->sample_seq + 1) + SF_FCS_LEN;
    ex->sample_pool += rate;
    p = gen_put32(gen_put32(p, 1), SF_SAMPLE_LEN - 8); /* flow_sample and its length */
    p = gen_put32(gen_put32(p, ex->sample_seq++), SF_SOURCE_IFINDEX);
    p = gen_put32(gen_put32(p, rate), ex->sample_pool);
    p = gen_put32(gen_put32(p, 0), r->f.in_if);         /* no drops */
    p = gen_put32(gen_put32(p, r->f.out_if), 1);        /* one record */
    p = gen_put32(gen_put32(p, 1), 16 + SF_HEADER_LEN); /* raw packet header, length */
    p = gen_put32(gen_put32(p, 1), *frame_len);         /* Ethernet */
    p = gen_put32(gen_put32(p, SF_FCS_LEN), SF_HEADER_LEN);
    memcpy(p, hdr, SF_HEADER_LEN);
    return p + SF_HEADER_LEN;
}

static uint8_t *sf_header(uint8_t *p, const gen_exporter *ex, uint64_t now_ms, uint64_t boot_ms,
                          uint32_t samples)
{
    p = gen_put32(gen_put32(p, 5), ex->agent_v6 ? 2 : 1);
    memcpy(p, ex->agent, ex->agent_v6 ? 16 : 4);
    p += ex->agent_v6 ? 16 : 4;
    p = gen_put32(gen_put32(p, ex->domain), ex->seq);
    return gen_put32(gen_put32(p, (uint32_t)(now_ms - boot_ms)), samples);
}

static size_t sf_datagram(int v6, gen_exporter *ex, const gen_opts *o, uint64_t now_ms,
                          uint32_t max_records, uint8_t *buf, gen_sums *sums)
{
    uint32_t rate = o->sampling ? o->sampling : 1;
    size_t hdr_len = ex->agent_v6 ? 40 : 28;
    uint8_t *p = buf + hdr_len;
    uint32_t n = 0, frame_len;
    gen_rec r;
    for (; n < max_records && (size_t)(p - buf) + SF_SAMPLE_LEN <= GEN_FILL; n++) {
        gen_flows_next(&ex->flows, now_ms, &r);
        p = sf_flow_sample(p, ex, &r, v6, rate, &frame_len);
        sums->bytes += frame_len;
        sums->packets++;
    }
    sf_header(buf, ex, now_ms, o->start_ms - GEN_BOOT_MS, n);
    ex->seq++;
    ex->datagrams++;
    sums->datagrams++;
    sums->records += n;
    return (size_t)(p - buf);
}

size_t gen_sflow_datagram(gen_exporter *ex, const gen_opts *o, uint64_t now_ms,
                          uint32_t max_records, uint8_t *buf, gen_sums *sums)
{
    return sf_datagram(0, ex, o, now_ms, max_records, buf, sums);
}

size_t gen_sflow6_datagram(gen_exporter *ex, const gen_opts *o, uint64_t now_ms,
                           uint32_t max_records, uint8_t *buf, gen_sums *sums)
{
    return sf_datagram(1, ex, o, now_ms, max_records, buf, sums);
}
