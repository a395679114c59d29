/*
 * Internal to decoders/: the ops of each protocol and helpers they share.
 * Nothing outside decoders/ includes this file.
 */
#ifndef FLOE_DECODERS_INTERNAL_H
#define FLOE_DECODERS_INTERNAL_H

#include "decoders/decoders.h"

extern const floe_dec_ops dec__v5_ops;
extern const floe_dec_ops dec__v9_ops;
extern const floe_dec_ops dec__ipfix_ops;
extern const floe_dec_ops dec__sflow_ops;

/* ---- packet headers (packet.c) ------------------------------------------- */

/* What the packet-header parser found besides the record's fields. */
typedef struct dec_pkt {
    const uint8_t *l3; /* the IP header, or NULL if none was reached */
    uint32_t l3_len;   /* captured bytes from l3 on */
    uint32_t ip_len;   /* the IP packet's own length (header included), 0 if no IP */
    uint8_t ip_ver;    /* 4 or 6; 0 if no IP */
    uint8_t mpls;      /* MPLS labels passed on the way to IP */
    uint8_t tags;      /* 0x9100 tags passed: beyond what plain Ethernet peeling knows */
} dec_pkt;

/*
 * Parse a captured packet from its link layer (Ethernet), an MPLS label
 * stack, or its IP header (the version nibble decides), into r: addresses,
 * protocol, ToS, ports, TCP flags, MACs, VLAN and the top MPLS label, each
 * with its presence bit, as far as the n captured bytes go. out, zeroed by
 * the caller, says where IP starts and how long the packet was.
 */
void dec__pkt_ethernet(floe_record *r, const uint8_t *p, size_t n, dec_pkt *out);
void dec__pkt_mpls(floe_record *r, const uint8_t *p, size_t n, dec_pkt *out);
void dec__pkt_ip(floe_record *r, const uint8_t *p, size_t n, dec_pkt *out);
/* The transport header of IP protocol proto: ports, TCP flags, ICMP type. */
void dec__pkt_l4(floe_record *r, uint8_t proto, const uint8_t *p, size_t n);

/* Starts a record for a datagram: clears presence, sets the identity. */
static inline void dec__record_init(floe_record *r, const floe_dgram *dg, int proto,
                                    uint32_t domain)
{
    r->has = 0;
    r->exporter_id = dg->exporter_id;
    r->exporter = dg->src;
    r->domain = domain;
    r->proto = (uint8_t)proto;
    r->sampling = 1;
    r->sampled = NULL;
    r->sampled_len = 0;
    r->sampled_proto = 0;
}

/*
 * Turns a sysUptime stamp into an absolute time, given the export time and
 * the uptime at export. Uptime wraps at 2^32 ms; a stamp slightly after the
 * export uptime (exporter clock skew) is taken as being in the future.
 */
static inline uint64_t dec__uptime_to_ms(uint64_t export_ms, uint32_t uptime_ms, uint32_t stamp)
{
    uint32_t back = uptime_ms - stamp;
    if (back <= 0x80000000u)
        return export_ms >= back ? export_ms - back : 0;
    return export_ms + (uint32_t)(stamp - uptime_ms);
}

#endif
