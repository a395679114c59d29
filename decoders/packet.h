/*
 * The packet-header parser that sFlow's raw packet headers and IPFIX's
 * packet sections (dataLinkFrameSection, ipHeaderPacketSection,
 * ipPayloadPacketSection) share: Ethernet with 802.1Q/802.1ad/QinQ tags,
 * MPLS label stacks, IPv4, IPv6 with its extension headers, then TCP, UDP,
 * SCTP, ICMP and ICMPv6. It fills only what the captured bytes hold and
 * stops quietly where they end: a short capture is normal for sampled
 * packets, not an error. Every read is preceded by a length check; nothing
 * is allocated and nothing is kept after the call.
 *
 * Internal to decoders/. The functions are static inline, in a header,
 * because the sFlow decoder runs them for every sample: out of line they
 * cost about 30 more instructions a sample (callgrind, 300,000 samples),
 * which is what the sampled-header parser inlined into sflow.c did not.
 */
#ifndef FLOE_DECODERS_PACKET_H
#define FLOE_DECODERS_PACKET_H

#include "decoders/internal.h"

/* What the packet-header parser found besides the record's fields; the
 * least it can say, since the sFlow path pays for every store. */
typedef struct dec_pkt {
    const uint8_t *l3; /* the IP header (version checked), or NULL if none was reached */
    uint8_t mpls;      /* MPLS labels passed on the way to IP */
    uint8_t tags;      /* 0x9100 tags passed: beyond what plain Ethernet peeling knows */
} dec_pkt;

/* The IP packet's own length from its header at l3 (dec_pkt.l3), header
 * included: IPv4's total length, IPv6's 40 + payload length. */
static inline uint32_t dec__pkt_ip_len(const uint8_t *l3)
{
    return l3[0] >> 4 == 4 ? floe_be16(l3 + 2) : 40u + floe_be16(l3 + 4);
}

#define PKT_ETH_IPV4   0x0800
#define PKT_ETH_IPV6   0x86dd
#define PKT_ETH_VLAN   0x8100
#define PKT_ETH_QINQ   0x88a8
#define PKT_ETH_QINQ_O 0x9100 /* the pre-standard QinQ tag */
#define PKT_ETH_MPLS   0x8847
#define PKT_ETH_MPLS_M 0x8848 /* multicast MPLS */

/* Deeper label stacks than this are not real traffic. */
#define PKT_MPLS_MAX_LABELS 16

/* The common path (Ethernet, IPv4, the transport header) is inlined into
 * its caller, where dec_pkt is a local whose unread members cost nothing. */
#define PKT_HOT static inline __attribute__((always_inline))

/*
 * dec__pkt_ethernet, dec__pkt_mpls and dec__pkt_ip parse a captured packet
 * from its link layer (Ethernet), an MPLS label stack, or its IP header
 * (the version nibble decides), into r: addresses, protocol, ToS, ports,
 * TCP flags, MACs, VLAN and the top MPLS label, each with its presence
 * bit, as far as the n captured bytes go. out, zeroed by the caller, says
 * where IP starts and what came before it. dec__pkt_l4 reads the
 * transport header of IP protocol proto: ports, TCP flags, ICMP type.
 */

PKT_HOT void dec__pkt_l4(floe_record *r, uint8_t proto, const uint8_t *p, size_t n)
{
    if (proto == 6 || proto == 17 || proto == 132) { /* TCP, UDP, SCTP */
        if (n < 4)
            return;
        r->sport = floe_be16(p);
        r->dport = floe_be16(p + 2);
        r->has |= FLOE_F(SPORT) | FLOE_F(DPORT);
        if (proto == 6 && n >= 14) {
            r->tcp_flags = p[13];
            r->has |= FLOE_F(TCP_FLAGS);
        }
    } else if (proto == 1 || proto == 58) { /* ICMP, ICMPv6 */
        if (n < 2)
            return;
        /* NetFlow exporters report ICMP type and code in the destination
         * port as type * 256 + code; floe does the same, so one query
         * finds ICMP flows from either kind of exporter. */
        r->dport = (uint16_t)(p[0] << 8 | p[1]);
        r->has |= FLOE_F(DPORT);
    }
}

PKT_HOT void pkt_ipv4(floe_record *r, const uint8_t *p, size_t n, dec_pkt *out)
{
    if (n < 20 || p[0] >> 4 != 4)
        return;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    out->l3 = p;
    r->tos = p[1];
    r->ipproto = p[9];
    floe_addr_from_v4(&r->src, p + 12);
    floe_addr_from_v4(&r->dst, p + 16);
    r->has |= FLOE_F(TOS) | FLOE_F(IPPROTO) | FLOE_F(SRC) | FLOE_F(DST);
    /* Only the first fragment (offset 0) carries the transport header. */
    if ((floe_be16(p + 6) & 0x1fff) != 0 || ihl < 20 || ihl > n)
        return;
    dec__pkt_l4(r, p[9], p + ihl, n - ihl);
}

/* How long the IPv6 extension header at p is, or 0 if nh is not one that
 * is skipped here. n >= 2. */
static inline size_t ipv6_ext_len(uint8_t nh, const uint8_t *p)
{
    switch (nh) {
    case 0:  /* hop-by-hop options */
    case 43: /* routing */
    case 60: /* destination options */
        return ((size_t)p[1] + 1) * 8;
    case 44: /* fragment */
        return 8;
    case 51: /* authentication header */
        return ((size_t)p[1] + 2) * 4;
    default:
        return 0;
    }
}

static void pkt_ipv6(floe_record *r, const uint8_t *p, size_t n, dec_pkt *out)
{
    if (n < 40 || p[0] >> 4 != 6)
        return;
    out->l3 = p;
    r->tos = (uint8_t)(floe_be16(p) >> 4); /* traffic class */
    floe_addr_from_v6(&r->src, p + 8);
    floe_addr_from_v6(&r->dst, p + 24);
    r->has |= FLOE_F(TOS) | FLOE_F(IPPROTO) | FLOE_F(SRC) | FLOE_F(DST);
    uint8_t nh = p[6];
    size_t off = 40;
    /* A bounded walk: eight extension headers is more than real traffic
     * carries, and each step must move forward. */
    for (int i = 0; i < 8 && n - off >= 2; i++) {
        size_t len = ipv6_ext_len(nh, p + off);
        if (len == 0)
            break;
        int later_fragment = nh == 44 && n - off >= 4 && (floe_be16(p + off + 2) & 0xfff8) != 0;
        nh = p[off];
        if (len > n - off || later_fragment) {
            r->ipproto = nh;
            return; /* the transport header is not in the capture */
        }
        off += len;
    }
    r->ipproto = nh;
    dec__pkt_l4(r, nh, p + off, n - off);
}

PKT_HOT void dec__pkt_ip(floe_record *r, const uint8_t *p, size_t n, dec_pkt *out)
{
    if (n >= 1 && p[0] >> 4 == 4)
        pkt_ipv4(r, p, n, out);
    else if (n >= 1 && p[0] >> 4 == 6)
        pkt_ipv6(r, p, n, out);
}

/*
 * An MPLS label stack (RFC 3032): 4-byte entries of label (20 bits),
 * traffic class, bottom-of-stack bit and TTL. The top label goes on the
 * record. What follows the bottom entry has no type field: it is taken as
 * IP when its first nibble says 4 or 6 (RFC 4928 keeps Ethernet
 * pseudowires from starting so, with a control word of 0).
 */
static void dec__pkt_mpls(floe_record *r, const uint8_t *p, size_t n, dec_pkt *out)
{
    size_t off = 0;
    for (int i = 0; i < PKT_MPLS_MAX_LABELS; i++) {
        if (n - off < 4)
            return;
        uint32_t e = floe_be32(p + off);
        off += 4;
        if (i == 0) {
            r->mpls_label = e >> 12;
            r->has |= FLOE_F(MPLS_LABEL);
        }
        out->mpls++;
        if (e & 0x100) { /* bottom of stack */
            dec__pkt_ip(r, p + off, n - off, out);
            return;
        }
    }
}

PKT_HOT void dec__pkt_ethernet(floe_record *r, const uint8_t *p, size_t n, dec_pkt *out)
{
    if (n < 14)
        return;
    memcpy(r->dst_mac, p, 6);
    memcpy(r->src_mac, p + 6, 6);
    r->has |= FLOE_F(SRC_MAC) | FLOE_F(DST_MAC);
    uint16_t type = floe_be16(p + 12);
    size_t off = 14;
    int tagged = 0;
    /* 802.1Q and 802.1ad (and the older 0x9100) tags: the outermost tag
     * with a VLAN id is the frame's VLAN; VLAN id 0 only carries a
     * priority. Every pass consumes 4 bytes, so the loop ends. */
    while ((type == PKT_ETH_VLAN || type == PKT_ETH_QINQ || type == PKT_ETH_QINQ_O) &&
           n - off >= 4) {
        uint16_t vid = floe_be16(p + off) & 0x0fff;
        if (!tagged && vid != 0) {
            r->vlan = vid;
            r->has |= FLOE_F(VLAN);
            tagged = 1;
        }
        out->tags += type == PKT_ETH_QINQ_O;
        type = floe_be16(p + off + 2);
        off += 4;
    }
    if (type == PKT_ETH_IPV4)
        pkt_ipv4(r, p + off, n - off, out);
    else if (type == PKT_ETH_IPV6)
        pkt_ipv6(r, p + off, n - off, out);
    else if (type == PKT_ETH_MPLS || type == PKT_ETH_MPLS_M)
        dec__pkt_mpls(r, p + off, n - off, out);
}

#endif
