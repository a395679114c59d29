/*
 * NetFlow v9 and IPFIX: one template engine for both. (Stub: being written.)
 */
#include "decoders/internal.h"

static int v9_detect(const uint8_t *p, size_t n) { (void)p; (void)n; return 0; }
static int ipfix_detect(const uint8_t *p, size_t n) { (void)p; (void)n; return 0; }
static int stub_header(const uint8_t *p, size_t n, floe_hdr *h)
{
    (void)p; (void)n; memset(h, 0, sizeof(*h));
    return FLOE_R_SHORT_HEADER;
}
static void stub_decode(floe_decoders *d, floe_dec_exporter *ex, const floe_dgram *dg,
                        const floe_hdr *h, floe_dec_stats *st, const floe_sink *sink)
{
    (void)d; (void)ex; (void)dg; (void)h; (void)st; (void)sink;
}

const floe_dec_ops dec__v9_ops = {
    .proto = FLOE_PROTO_V9, .name = "v9", .detect = v9_detect, .header = stub_header,
    .decode = stub_decode,
};
const floe_dec_ops dec__ipfix_ops = {
    .proto = FLOE_PROTO_IPFIX, .name = "ipfix", .detect = ipfix_detect, .header = stub_header,
    .decode = stub_decode,
};
