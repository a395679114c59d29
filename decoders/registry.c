/*
 * The decoder table, and the names of protocols and reject reasons. A
 * datagram's decoder is the first whose detect() accepts it; the version
 * fields do not overlap (v5, v9 and IPFIX are 16-bit 5, 9 and 10; sFlow's
 * version is the 32-bit 5, whose first 16 bits are 0).
 */
#include "decoders/internal.h"

#include <fixbuf/public.h>

static const floe_dec_ops *const decoder_table[] = {
    &dec__v5_ops,
    &dec__v9_ops,
    &dec__ipfix_ops,
    &dec__sflow_ops,
};

static const char *const proto_names[FLOE_PROTO_COUNT] = {"v5", "v9", "ipfix", "sflow"};

static const char *const reason_names[FLOE_REASON_COUNT] = {
    "none",
#define REASON(id, name) name,
#include "decoders/reasons.def"
#undef REASON
};

const char *floe_proto_name(int proto)
{
    if (proto < 0 || proto >= FLOE_PROTO_COUNT)
        return "unknown";
    return proto_names[proto];
}

const char *floe_reason_name(int reason)
{
    if (reason < 0 || reason >= FLOE_REASON_COUNT)
        return "none";
    return reason_names[reason];
}

const floe_dec_ops *floe_dec_detect(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(decoder_table); i++)
        if (decoder_table[i]->detect(p, n))
            return decoder_table[i];
    return NULL;
}

const floe_dec_ops *floe_dec_ops_for(int proto)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(decoder_table); i++)
        if (decoder_table[i]->proto == proto)
            return decoder_table[i];
    return NULL;
}

int floe_decoders_init(floe_decoders *d, const floe_dec_limits *lim)
{
    memset(d, 0, sizeof(*d));
    d->lim = *lim;
    floe_list_init(&d->template_lru);
    /* Element names and types for v9/IPFIX (see decoders/ie.c). */
    d->infomodel = fbInfoModelAlloc();
    return d->infomodel ? 0 : FLOE_ENOMEM;
}

void floe_decoders_close(floe_decoders *d)
{
    if (d->infomodel)
        fbInfoModelFree(d->infomodel);
    d->infomodel = NULL;
}
