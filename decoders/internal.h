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
