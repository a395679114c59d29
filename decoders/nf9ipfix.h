/*
 * Internal to the NetFlow v9 / IPFIX decoder: the information-element table
 * (ie.c, listed in ie.def), the template cache and template compiler
 * (template.c), and the message path that runs compiled templates
 * (nf9ipfix.c). v9 and IPFIX share all three; only the headers and the
 * template-set layouts differ.
 *
 * A template is compiled once into an array of steps. Each step consumes
 * one field (or a run of skipped fixed-length fields) and says what to do
 * with its bytes, so decoding a record is one loop over the steps with a
 * switch on the step's op, and no lookups.
 */
#ifndef FLOE_DECODERS_NF9IPFIX_H
#define FLOE_DECODERS_NF9IPFIX_H

#include "decoders/internal.h"

#define NF_VARLEN       0xffffu /* RFC 7011 §7: the field length is in the record */
#define NF_MAX_FIELDS   1024u   /* fields in one template; more is rejected as absurd */
#define NF_MAX_SAMPLERS 16u     /* sampler id -> rate entries kept per exporter */
#define NF_NTOP_PEN     35632u  /* ntop's enterprise number (nProbe) */
#define NF_NTOP_V9_BASE 57472u  /* nProbe sends PEN 35632 element n as v9 type 57472 + n */
#define NF_REVERSE_PEN  29305u  /* RFC 5103: the reverse of IANA element n is 29305.n */
#define NF_CERT_PEN     6871u   /* CERT (YAF); its reverse elements are id | 0x4000 */

/* ---- the information-element table (ie.def) ---------------------------- */

/*
 * What a step does with a field's bytes. The U* ops store an unsigned value
 * of any length 1..8 (RFC 7011 §6.2 reduced-size encoding) into a record
 * member of that width; X stores into a per-record extra slot that is
 * resolved after the record (sampling, system init time, IPFIX sysUpTime).
 */
enum nf_op {
    NF_OP_SKIP,
    NF_OP_U8,
    NF_OP_U16,
    NF_OP_U32,
    NF_OP_U64,
    NF_OP_MS_US, /* milliseconds into a microseconds member (u32) */
    NF_OP_DSCP,  /* ipDiffServCodePoint into tos (dscp << 2) */
    NF_OP_ADDR4,
    NF_OP_ADDR6,
    NF_OP_MAC,
    NF_OP_APP,     /* applicationId: engine byte + selector (RFC 6759) */
    NF_OP_T_SEC,   /* dateTimeSeconds */
    NF_OP_T_MS,    /* dateTimeMilliseconds */
    NF_OP_T_NTP,   /* dateTimeMicro/Nanoseconds: NTP seconds + fraction */
    NF_OP_T_DELTA, /* microseconds before the export time (IE 158/159) */
    NF_OP_T_V9UP,  /* v9 sysUptime milliseconds (IE 21/22 in v9) */
    NF_OP_X,       /* into an extra slot */
    NF_OP_NAME,    /* applicationName: kept for the record's options sink */
    NF_OP_FLAGS,   /* TCP flags ORed into a u16 member (YAF's initial and union flags) */
    NF_OP_MPLS,    /* mplsTopLabelStackSection: the label of its first entry */
    NF_OP_SECTION, /* a packet section, parsed once the record is read */
    NF_OP_COUNT
};

/* What the .def table says about an element, before a template gives it a
 * length: NF_KIND_UINT becomes U8..U64 by the target member's width, and
 * NF_KIND_SYSUP becomes T_V9UP in v9 and an X slot in IPFIX. */
enum nf_kind {
    NF_KIND_SKIP,
    NF_KIND_UINT,
    NF_KIND_MS_US,
    NF_KIND_DSCP,
    NF_KIND_ADDR4,
    NF_KIND_ADDR6,
    NF_KIND_MAC,
    NF_KIND_APP,
    NF_KIND_T_SEC,
    NF_KIND_T_MS,
    NF_KIND_T_NTP,
    NF_KIND_T_DELTA,
    NF_KIND_SYSUP,
    NF_KIND_X,
    NF_KIND_NAME,
    NF_KIND_FLAGS,
    NF_KIND_MPLS,
    NF_KIND_SECTION,
};

/* What a packet section starts with (the target of NF_KIND_SECTION). */
enum nf_section {
    NF_SECT_L2,      /* 315 dataLinkFrameSection: the frame from its link header */
    NF_SECT_IP,      /* 313 ipHeaderPacketSection: the packet from its IP header */
    NF_SECT_PAYLOAD, /* 314 ipPayloadPacketSection: what follows the IP header */
};

/* Extra per-record slots, resolved once the whole record is read. */
enum nf_xslot {
    NF_X_SAMPLING_INTERVAL, /* 34 samplingInterval */
    NF_X_SAMPLER_RANDOM,    /* 50 samplerRandomInterval */
    NF_X_PKT_INTERVAL,      /* 305 samplingPacketInterval */
    NF_X_PKT_SPACE,         /* 306 samplingPacketSpace */
    NF_X_SAMPLE_SIZE,       /* 309 samplingSize */
    NF_X_SAMPLE_POP,        /* 310 samplingPopulation */
    NF_X_SAMPLER_ID,        /* 48 samplerId, 302 selectorId */
    NF_X_SYSINIT,           /* 160 systemInitTimeMilliseconds */
    NF_X_UP_FIRST,          /* IPFIX 22 flowStartSysUpTime */
    NF_X_UP_LAST,           /* IPFIX 21 flowEndSysUpTime */
    NF_X_REV_DELTA,         /* CERT 6871.21 reverseFlowDeltaMilliseconds */
    NF_X_FRAME_SIZE,        /* 312 dataLinkFrameSize */
    NF_X_SECTION,           /* no value: a packet section is in the record */
    NF_X_REVERSE,           /* no value: the template has reverse counters (RFC 5103) */
    NF_X_COUNT
};
#define NF_XBIT(slot) (1u << NF_X_##slot)

#define NF_IE_WEAK 1u /* fills its member only if no other element has */

typedef struct nf_ie {
    uint32_t pen;
    uint16_t id;
    uint16_t len; /* the element's nominal length (65535: variable) */
    const char *name;
    uint8_t type;   /* fixbuf's fbInfoElementDataType_t */
    uint8_t kind;   /* enum nf_kind */
    uint8_t target; /* FLOE_FI_* member, or enum nf_xslot for NF_KIND_X */
    uint8_t flags;  /* NF_IE_* */
} nf_ie;

/* The element for (pen, id), or NULL if floe does not decode it. */
const nf_ie *dec__ie_find(uint32_t pen, uint16_t id);
/* Every row of ie.def, and how many there are (for tests and docs). */
const nf_ie *dec__ie_table(size_t *n);
/* The element's name from fixbuf's information model (model may be NULL),
 * else from ie.def; NULL if neither knows it. */
const char *dec__ie_name(void *model, uint32_t pen, uint16_t id);

/* ---- compiled templates -------------------------------------------------- */

typedef struct nf_step {
    uint16_t len; /* bytes, or NF_VARLEN */
    uint8_t op;   /* enum nf_op */
    uint8_t weak; /* 1: skip if bit is already set in has */
    uint16_t off; /* offset of the record member, or the extra slot */
    uint8_t bit;  /* FLOE_FI_* presence bit of the member */
    uint8_t pad_;
} nf_step;

/* A field as the template declared it, kept for describe(). */
typedef struct nf_field {
    uint32_t pen;
    uint16_t id;
    uint16_t len;
} nf_field;

enum { NF_TMPL_DATA, NF_TMPL_OPTIONS };

struct nf_state;

typedef struct nf_template {
    floe_hnode node;   /* in the exporter's map, keyed by id */
    floe_list ex_lru;  /* the exporter's templates, least recently refreshed first */
    floe_list all_lru; /* every exporter's templates, in the same order */
    struct nf_state *owner;
    uint64_t created_ms, refreshed_ms;
    uint16_t id;
    uint8_t kind;   /* NF_TMPL_* */
    uint8_t varlen; /* 1 if any field is variable-length */
    uint16_t n_fields, n_scope, n_steps;
    uint32_t min_len; /* the record length; with varlen fields, its minimum */
    uint32_t xmask;   /* NF_XBIT()s that the steps write */
    nf_field *fields; /* n_fields, in the same allocation */
    nf_step steps[];  /* n_steps */
} nf_template;

typedef struct nf_sampler {
    uint64_t id;
    uint32_t rate;
    uint64_t learnt_ms;
} nf_sampler;

/* Per-exporter state: floe_dec_exporter.state points to one of these. */
typedef struct nf_state {
    floe_dec_exporter *ex; /* the owner, whose templates count we keep */
    int proto;             /* FLOE_PROTO_V9 or FLOE_PROTO_IPFIX */
    floe_hmap map;
    floe_list lru;
    nf_template *last;     /* the last template found: most sets reuse it */
    uint32_t default_rate; /* exporter-wide sampling rate from options, 0 = none */
    uint32_t n_samplers;
    nf_sampler samplers[NF_MAX_SAMPLERS];
    uint64_t sysinit_ms; /* systemInitTimeMilliseconds from options, 0 = unknown */
} nf_state;

/* The exporter's state, created on first use; NULL on allocation failure. */
nf_state *dec__nf_state(floe_decoders *d, floe_dec_exporter *ex, int proto);

/*
 * Compiles a template from its declared fields and stores it, replacing
 * any template with that id (or only refreshing it, if the layout is the
 * same). Evicts at the bounds. Returns 0, FLOE_R_BAD_TEMPLATE if the layout
 * is absurd (no bytes and no variable-length field, or a record longer
 * than a set can hold), or -1 on allocation failure.
 */
int dec__tmpl_define(floe_decoders *d, nf_state *s, uint16_t id, int kind, const nf_field *f,
                     uint16_t n, uint16_t n_scope, uint64_t now_ms);
/* The live template for id, or NULL (an expired one is dropped here). */
nf_template *dec__tmpl_find(floe_decoders *d, nf_state *s, uint16_t id, uint64_t now_ms);
/* Drops template id; returns 1 if there was one. */
int dec__tmpl_withdraw(floe_decoders *d, nf_state *s, uint16_t id);
/* Drops every template of one kind (RFC 7011 withdraw-all). */
void dec__tmpl_withdraw_all(floe_decoders *d, nf_state *s, int kind);

void dec__nf_state_free(floe_decoders *d, floe_dec_exporter *ex);
void dec__nf_sweep(floe_decoders *d, floe_dec_exporter *ex, uint64_t now_ms);
void dec__nf_describe(const floe_decoders *d, const floe_dec_exporter *ex, floe_json *j);

#endif
