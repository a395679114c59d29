/*
 * The JSON form of a normalized record. The field table generated from
 * fields.def drives it, so a new field is one line in fields.def.
 */
#include "decoders/decoders.h"

#include <stdio.h>

enum field_kind { K_ADDR, K_U8, K_U16, K_U32, K_U64, K_MAC, K_APP };

static const struct field_desc {
    const char *name;
    uint8_t kind;
    uint16_t offset;
} field_table[FLOE_FI_COUNT] = {
#define FIELD(id, name, kind, member) {name, K_##kind, offsetof(floe_record, member)},
#include "decoders/fields.def"
#undef FIELD
};

static void json_field(floe_json *j, const struct field_desc *f, const floe_record *r)
{
    const char *base = (const char *)r + f->offset;
    char text[64];

    floe_json_key(j, f->name);
    switch (f->kind) {
    case K_ADDR:
        floe_json_addr(j, (const floe_addr *)(const void *)base);
        break;
    case K_U8:
        floe_json_u64(j, *(const uint8_t *)base);
        break;
    case K_U16:
        floe_json_u64(j, *(const uint16_t *)(const void *)base);
        break;
    case K_U32:
        floe_json_u64(j, *(const uint32_t *)(const void *)base);
        break;
    case K_U64:
        floe_json_u64(j, *(const uint64_t *)(const void *)base);
        break;
    case K_MAC: {
        const uint8_t *m = (const uint8_t *)base;
        snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                 m[5]);
        floe_json_str(j, text);
        break;
    }
    case K_APP: {
        const floe_app *a = (const floe_app *)(const void *)base;
        snprintf(text, sizeof(text), "%u:%llu", a->engine, (unsigned long long)a->selector);
        floe_json_str(j, text);
        break;
    }
    }
}

void floe_record_json(floe_json *j, const floe_record *r)
{
    floe_json_obj_begin(j);
    floe_json_kstr(j, "proto", floe_proto_name(r->proto));
    floe_json_key(j, "exporter");
    floe_json_addr(j, &r->exporter);
    floe_json_ku64(j, "domain", r->domain);
    for (int i = 0; i < FLOE_FI_COUNT; i++)
        if (r->has & ((uint64_t)1 << i))
            json_field(j, &field_table[i], r);
    floe_json_ku64(j, "sampling", r->sampling);
    floe_json_obj_end(j);
}
