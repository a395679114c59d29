/*
 * The information-element table that NetFlow v9 and IPFIX share, built
 * from ie.def, and element names. Names come from fixbuf's information
 * model (about 900 IANA and CERT elements), so describe() can name fields
 * floe does not decode; ie.def supplies the vendor names fixbuf lacks.
 */
#include "decoders/nf9ipfix.h"

#include <fixbuf/public.h>

#define FI(x)   FLOE_FI_##x
#define XS(x)   NF_X_##x
#define SECT(x) NF_SECT_##x
#define NONE    0
#define WEAK    NF_IE_WEAK

static const nf_ie ie_table[] = {
#define IE(pen, id, name, type, len, kind, target, flags)                                          \
    {pen, id, len, name, FB_##type, NF_KIND_##kind, target, flags},
#include "decoders/ie.def"
#undef IE
};

const nf_ie *dec__ie_table(size_t *n)
{
    *n = FLOE_ARRAY_LEN(ie_table);
    return ie_table;
}

static int ie_cmp(uint32_t pen, uint16_t id, const nf_ie *e)
{
    if (pen != e->pen)
        return pen < e->pen ? -1 : 1;
    if (id != e->id)
        return id < e->id ? -1 : 1;
    return 0;
}

const nf_ie *dec__ie_find(uint32_t pen, uint16_t id)
{
    size_t lo = 0, hi = FLOE_ARRAY_LEN(ie_table);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ie_cmp(pen, id, &ie_table[mid]);
        if (c == 0)
            return &ie_table[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *dec__ie_name(void *model, uint32_t pen, uint16_t id)
{
    if (model) {
        const fbInfoElement_t *e = fbInfoModelGetElementByID(model, id, pen);
        if (e)
            return e->ref.name;
    }
    const nf_ie *ie = dec__ie_find(pen, id);
    return ie ? ie->name : NULL;
}
