/*
 * sFlow v5. (Stub: being written.)
 */
#include "decoders/internal.h"

static int sflow_detect(const uint8_t *p, size_t n) { (void)p; (void)n; return 0; }
static int sflow_header(const uint8_t *p, size_t n, floe_hdr *h)
{
    (void)p; (void)n; memset(h, 0, sizeof(*h));
    return FLOE_R_SHORT_HEADER;
}
static void sflow_decode(floe_decoders *d, floe_dec_exporter *ex, const floe_dgram *dg,
                         const floe_hdr *h, floe_dec_stats *st, const floe_sink *sink)
{
    (void)d; (void)ex; (void)dg; (void)h; (void)st; (void)sink;
}

const floe_dec_ops dec__sflow_ops = {
    .proto = FLOE_PROTO_SFLOW, .name = "sflow", .detect = sflow_detect, .header = sflow_header,
    .decode = sflow_decode,
};
