/*
 * NetFlow v9 (RFC 3954) and IPFIX (RFC 7011): one message path for both,
 * over the template cache and compiler in template.c and the element table
 * in ie.def. The protocols differ only in the header, the template-set ids
 * and layouts (v9 options templates give scope and option lengths in bytes;
 * IPFIX has enterprise bits and withdrawals), and the sequence unit; those
 * differences are data in nf_proto and a few tests of it, not two decoders.
 *
 * Why the message path is floe's own and not libfixbuf's, measured with
 * libfixbuf 2.4.1 on Debian 12 (bench/fixbuf-probe.c; docs/decoders.md).
 * fixbuf decodes from memory through one session and fBuf per exporter,
 * which cost 65.8 KiB each (its 64 KiB message buffer): 642 MiB for 10,000
 * exporters, where this decoder keeps well under 1 KiB per exporter plus
 * its templates. A session bounds nothing: 5,000 template ids of 200
 * fields each all stay, 90.6 MiB (18.6 KiB a template) in one session. A
 * data set without a template is one g_warning ("Skipping set: Missing
 * external template"), with no counter and the same end-of-message result
 * as a clean message, so missing_template and the IPFIX sequence could not
 * be kept. And fixbuf cannot read NetFlow v9 from memory at all, so using
 * it would mean a second engine for v9, or rewriting each v9 datagram into
 * IPFIX before decoding it. floe does use fixbuf's information model, for
 * element names and types (ie.c).
 */
#include "decoders/nf9ipfix.h"
#include "decoders/packet.h"

#define V9_HDR_LEN      20
#define IPFIX_HDR_LEN   16
#define NTP_UNIX_OFFSET 2208988800ULL /* seconds from 1900 to 1970 */

/* What differs between the two protocols, as data. */
typedef struct nf_proto {
    int proto;
    size_t hdr_len;
    uint16_t tmpl_set; /* set id of template sets; also IPFIX's withdraw-all id */
    uint16_t opt_set;  /* set id of options template sets */
} nf_proto;

static const nf_proto v9_proto = {FLOE_PROTO_V9, V9_HDR_LEN, 0, 1};
static const nf_proto ipfix_proto = {FLOE_PROTO_IPFIX, IPFIX_HDR_LEN, 2, 3};

/* One record being decoded, with what goes with it until it is emitted. */
typedef struct nf_one {
    uint32_t xhas; /* NF_XBIT()s set in x */
    uint64_t x[NF_X_COUNT];
    const uint8_t *name; /* applicationName, in the datagram */
    size_t name_len;
    const uint8_t *sect; /* a packet section, in the datagram */
    uint32_t sect_len;
    uint8_t sect_kind; /* enum nf_section */
    floe_record rec;
} nf_one;

/* Records of one flow data set decoded together, a step at a time across
 * all of them: the step interpreter's dispatch then runs once per field of
 * the template, not once per field of every record. */
#define NF_BATCH 32

/* One message being decoded. The records and their extra slots (on the
 * decoder's stack) are reused for every data record, so decoding allocates
 * nothing. */
typedef struct nf_msg {
    floe_decoders *d;
    nf_state *s;
    const nf_proto *pp;
    const floe_dgram *dg;
    const floe_hdr *h;
    floe_dec_stats *st;
    const floe_sink *sink;
    uint32_t sampling;     /* the rate for records that name none */
    uint32_t data_records; /* flow and options records, the IPFIX sequence unit */
    int count_unknown;     /* a data set was skipped or abandoned */
    int sampled_set;       /* a packet section set a record's sampled */
    nf_one *batch;         /* NF_BATCH records */
    size_t batch_ready;    /* how many of them carry this datagram's exporter id */
    nf_one *one;           /* the record being emitted */
} nf_msg;

/* ---- headers ------------------------------------------------------------- */

static int v9_detect(const uint8_t *p, size_t n)
{
    return n >= 2 && floe_be16(p) == 9;
}

static int ipfix_detect(const uint8_t *p, size_t n)
{
    return n >= 2 && floe_be16(p) == 10;
}

/* version, count, sysUptime, unix_secs, sequence, source id */
static int v9_header(const uint8_t *p, size_t n, floe_hdr *h)
{
    if (n < V9_HDR_LEN)
        return FLOE_R_SHORT_HEADER;
    memset(h, 0, sizeof(*h));
    h->count = floe_be16(p + 2);
    h->uptime_ms = floe_be32(p + 4);
    h->export_ms = (uint64_t)floe_be32(p + 8) * 1000;
    h->seq = floe_be32(p + 12);
    h->domain = floe_be32(p + 16);
    return 0;
}

/* version, message length, export time, sequence, observation domain. A
 * datagram longer than the message is fine: the rest is ignored. */
static int ipfix_header(const uint8_t *p, size_t n, floe_hdr *h)
{
    if (n < IPFIX_HDR_LEN)
        return FLOE_R_SHORT_HEADER;
    uint16_t len = floe_be16(p + 2);
    if (len < IPFIX_HDR_LEN)
        return FLOE_R_BAD_LENGTH;
    if (len > n)
        return FLOE_R_TRUNCATED;
    memset(h, 0, sizeof(*h));
    h->export_ms = (uint64_t)floe_be32(p + 4) * 1000;
    h->seq = floe_be32(p + 8);
    h->domain = floe_be32(p + 12);
    return 0;
}

/* ---- field values ---------------------------------------------------------- */

static int nf_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* An unsigned of 1..8 bytes; the common widths without a loop. */
static inline uint64_t nf_uint(const uint8_t *p, size_t len)
{
    switch (len) {
    case 1:
        return p[0];
    case 2:
        return floe_be16(p);
    case 4:
        return floe_be32(p);
    case 8:
        return floe_be64(p);
    }
    return floe_beN(p, len);
}

/* dateTimeMicro/Nanoseconds: NTP seconds since 1900 and a binary fraction
 * (RFC 7011 §6.1.9-10). A clear top bit means NTP era 1, after 2036
 * (RFC 4330 §3). */
static uint64_t nf_ntp_ms(const uint8_t *p)
{
    uint64_t sec = floe_be32(p), frac = floe_be32(p + 4);
    if (sec < 0x80000000u)
        sec += 1ULL << 32;
    return (sec - NTP_UNIX_OFFSET) * 1000 + ((frac * 1000) >> 32);
}

/* flowStart/EndDeltaMicroseconds: microseconds before the export time. */
static uint64_t nf_delta_ms(uint64_t export_ms, uint64_t us)
{
    uint64_t export_us = export_ms * 1000;
    return export_us > us ? (export_us - us) / 1000 : 0;
}

/* applicationId: a classification engine byte, then the selector. */
static int nf_app(floe_app *a, const uint8_t *p, size_t len)
{
    if (len == 0)
        return 0;
    size_t sel = len - 1;
    a->engine = p[0];
    a->selector_len = (uint8_t)(sel > 255 ? 255 : sel);
    a->selector = floe_beN(p + 1, sel > 8 ? 8 : sel);
    return 1;
}

/* ---- running a compiled template ----------------------------------------- */

#define MEMBER(r, s, type) (*(type *)(void *)((char *)(r) + (s)->off))

/*
 * Applies one step to nb records: the first one's field is at p, each next
 * one's stride bytes further, every one len bytes long. The switch is the
 * dispatch table, and each case loops over the records.
 */
#define NF_EACH(...)                                                                               \
    for (size_t i_ = 0; i_ < nb; i_++) {                                                           \
        nf_one *one = &o[i_];                                                                      \
        floe_record *r = &one->rec;                                                                \
        const uint8_t *q = p + i_ * stride;                                                        \
        (void)one, (void)q;                                                                        \
        if (weak && (r->has & bit))                                                                \
            continue;                                                                              \
        __VA_ARGS__                                                                                \
    }
#define NF_SET(...) NF_EACH(__VA_ARGS__ r->has |= bit;)
/* An unsigned field as v, with the length's dispatch outside the loop. */
#define NF_UINTS(...)                                                                              \
    switch (len) {                                                                                 \
    case 1:                                                                                        \
        NF_SET(uint64_t v = q[0]; __VA_ARGS__)                                                     \
        break;                                                                                     \
    case 2:                                                                                        \
        NF_SET(uint64_t v = floe_be16(q); __VA_ARGS__)                                             \
        break;                                                                                     \
    case 4:                                                                                        \
        NF_SET(uint64_t v = floe_be32(q); __VA_ARGS__)                                             \
        break;                                                                                     \
    case 8:                                                                                        \
        NF_SET(uint64_t v = floe_be64(q); __VA_ARGS__)                                             \
        break;                                                                                     \
    default:                                                                                       \
        NF_SET(uint64_t v = floe_beN(q, len); __VA_ARGS__)                                         \
    }

static inline __attribute__((always_inline)) void nf_apply(const nf_msg *m, nf_one *o, size_t nb,
                                                           const nf_step *s, const uint8_t *p,
                                                           size_t stride, size_t len)
{
    uint64_t bit = (uint64_t)1 << s->bit;
    int weak = s->weak;
    switch (s->op) {
    case NF_OP_SKIP:
        return;
    case NF_OP_U8:
        NF_UINTS(MEMBER(r, s, uint8_t) = (uint8_t)v;)
        return;
    case NF_OP_U16:
        NF_UINTS(MEMBER(r, s, uint16_t) = (uint16_t)v;)
        return;
    case NF_OP_U32:
        NF_UINTS(MEMBER(r, s, uint32_t) = (uint32_t)v;)
        return;
    case NF_OP_U64:
        NF_UINTS(MEMBER(r, s, uint64_t) = v;)
        return;
    case NF_OP_MS_US:
        NF_SET(uint64_t v = nf_uint(q, len);
               MEMBER(r, s, uint32_t) = v > UINT32_MAX / 1000 ? UINT32_MAX : (uint32_t)(v * 1000);)
        return;
    case NF_OP_DSCP:
        NF_SET(MEMBER(r, s, uint8_t) = (uint8_t)(nf_uint(q, len) << 2);)
        return;
    /* Templates often carry both IPv4 and IPv6 addresses, one of them
     * zero: a zero address never replaces one already read. */
    case NF_OP_ADDR4:
        NF_SET(if ((r->has & bit) && nf_zero(q, 4)) continue;
               floe_addr_from_v4(&MEMBER(r, s, floe_addr), q);)
        return;
    case NF_OP_ADDR6:
        NF_SET(if ((r->has & bit) && nf_zero(q, 16)) continue;
               floe_addr_from_v6(&MEMBER(r, s, floe_addr), q);)
        return;
    case NF_OP_MAC:
        NF_SET(memcpy(&MEMBER(r, s, uint8_t), q, 6);)
        return;
    case NF_OP_APP:
        NF_SET(if (!nf_app(&MEMBER(r, s, floe_app), q, len)) continue;)
        return;
    case NF_OP_T_SEC:
        NF_UINTS(MEMBER(r, s, uint64_t) = v * 1000;)
        return;
    case NF_OP_T_MS:
        NF_UINTS(MEMBER(r, s, uint64_t) = v;)
        return;
    case NF_OP_T_NTP:
        NF_SET(MEMBER(r, s, uint64_t) = nf_ntp_ms(q);)
        return;
    case NF_OP_T_DELTA:
        NF_SET(MEMBER(r, s, uint64_t) = nf_delta_ms(m->h->export_ms, nf_uint(q, len));)
        return;
    case NF_OP_T_V9UP:
        NF_SET(MEMBER(r, s, uint64_t) =
                   dec__uptime_to_ms(m->h->export_ms, m->h->uptime_ms, (uint32_t)nf_uint(q, len));)
        return;
    case NF_OP_X:
        NF_EACH(one->x[s->off] = nf_uint(q, len); one->xhas |= 1u << s->off;)
        return;
    case NF_OP_NAME:
        NF_EACH(one->name = q; one->name_len = len;)
        return;
    /* The member may hold an earlier record's value until its bit is set. */
    case NF_OP_FLAGS:
        NF_SET(uint16_t old = (r->has & bit) ? MEMBER(r, s, uint16_t) : 0;
               MEMBER(r, s, uint16_t) = (uint16_t)(old | nf_uint(q, len));)
        return;
    case NF_OP_MPLS:
        NF_SET(if (len < 3) continue; MEMBER(r, s, uint32_t) = floe_beN(q, 3) >> 4;)
        return;
    case NF_OP_SECTION:
        NF_EACH(one->sect = q; one->sect_len = (uint32_t)len; one->sect_kind = (uint8_t)s->off;
                one->xhas |= NF_XBIT(SECTION);)
        return;
    }
}

#undef NF_UINTS
#undef NF_SET
#undef NF_EACH

/* Records of a template without variable-length fields: the caller has
 * checked that nb * t->min_len bytes are there, so no step checks again. */
static void nf_run_fixed(nf_msg *m, const nf_template *t, const uint8_t *p, size_t nb)
{
    for (const nf_step *s = t->steps, *e = s + t->n_steps; s < e; s++) {
        nf_apply(m, m->batch, nb, s, p, t->min_len, s->len);
        p += s->len;
    }
}

/* A record with variable-length fields (RFC 7011 §7: a length byte, or
 * 255 and a 16-bit length). Returns its length, or 0 if it runs past n. */
static size_t nf_run_var(nf_msg *m, const nf_template *t, const uint8_t *p, size_t n)
{
    const uint8_t *q = p, *end = p + n;
    for (const nf_step *s = t->steps, *e = s + t->n_steps; s < e; s++) {
        size_t len = s->len;
        if (len == NF_VARLEN) {
            if (q == end)
                return 0;
            len = *q++;
            if (len == 255) {
                if (end - q < 2)
                    return 0;
                len = floe_be16(q);
                q += 2;
            }
        }
        if ((size_t)(end - q) < len)
            return 0;
        nf_apply(m, m->batch, 1, s, q, 0, len);
        q += len;
    }
    return (size_t)(q - p);
}

/* ---- sampling and the other extras ------------------------------------------ */

static uint32_t clamp32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* The sampling rate the record itself states, or 0. */
static uint32_t nf_rate(const nf_one *o)
{
    const uint64_t *x = o->x;
    uint32_t has = o->xhas;
    if ((has & NF_XBIT(SAMPLING_INTERVAL)) && x[NF_X_SAMPLING_INTERVAL])
        return clamp32(x[NF_X_SAMPLING_INTERVAL]);
    if ((has & NF_XBIT(SAMPLER_RANDOM)) && x[NF_X_SAMPLER_RANDOM])
        return clamp32(x[NF_X_SAMPLER_RANDOM]);
    /* Count-based selection: interval packets out of every interval + space. */
    if ((has & NF_XBIT(PKT_INTERVAL)) && (has & NF_XBIT(PKT_SPACE)) && x[NF_X_PKT_INTERVAL])
        return clamp32((x[NF_X_PKT_INTERVAL] + x[NF_X_PKT_SPACE]) / x[NF_X_PKT_INTERVAL]);
    /* Random n-out-of-N: size packets out of every population. */
    if ((has & NF_XBIT(SAMPLE_SIZE)) && (has & NF_XBIT(SAMPLE_POP)) && x[NF_X_SAMPLE_SIZE])
        return clamp32(x[NF_X_SAMPLE_POP] / x[NF_X_SAMPLE_SIZE]);
    return 0;
}

static uint32_t sampler_rate(const nf_state *s, uint64_t id)
{
    for (uint32_t i = 0; i < s->n_samplers; i++)
        if (s->samplers[i].id == id)
            return s->samplers[i].rate;
    return 0;
}

/* Keeps id -> rate; when the table is full the least recently learnt goes. */
static void sampler_learn(nf_state *s, uint64_t id, uint32_t rate, uint64_t now_ms)
{
    nf_sampler *slot = NULL;
    for (uint32_t i = 0; i < s->n_samplers && !slot; i++)
        if (s->samplers[i].id == id)
            slot = &s->samplers[i];
    if (!slot && s->n_samplers < NF_MAX_SAMPLERS)
        slot = &s->samplers[s->n_samplers++];
    if (!slot) {
        slot = &s->samplers[0];
        for (uint32_t i = 1; i < s->n_samplers; i++)
            if (s->samplers[i].learnt_ms < slot->learnt_ms)
                slot = &s->samplers[i];
    }
    slot->id = id;
    slot->rate = rate;
    slot->learnt_ms = now_ms;
}

/* An options record: learn sampling and the system init time from it, and
 * pass on an application id's name. */
static void nf_learn(nf_msg *m)
{
    nf_state *s = m->s;
    const nf_one *o = m->one;
    uint32_t rate = nf_rate(o);
    if (rate && (o->xhas & NF_XBIT(SAMPLER_ID))) {
        sampler_learn(s, o->x[NF_X_SAMPLER_ID], rate, m->dg->now_ms);
    } else if (rate) {
        s->default_rate = rate;
        s->ex->sampling = rate;
        m->sampling = rate;
    }
    if (o->xhas & NF_XBIT(SYSINIT))
        s->sysinit_ms = o->x[NF_X_SYSINIT];
    if (o->name && (o->rec.has & FLOE_F(APP)) && m->sink->appname) {
        floe_appname a = {m->dg->exporter_id,    m->dg->src, m->h->domain, o->rec.app_id,
                          (const char *)o->name, o->name_len};
        m->sink->appname(m->sink->ud, &a);
    }
}

/* The width of each record member, for merging what a section yields. */
static const uint8_t member_width[FLOE_FI_COUNT] = {
#define FIELD(id, name, kind, member) sizeof(((floe_record *)0)->member),
#include "decoders/fields.def"
#undef FIELD
};

static const uint16_t member_off[FLOE_FI_COUNT] = {
#define FIELD(id, name, kind, member) offsetof(floe_record, member),
#include "decoders/fields.def"
#undef FIELD
};

/* Copies into r the fields of from that r does not have yet. */
static void nf_merge(floe_record *r, const floe_record *from)
{
    uint64_t add = from->has & ~r->has;
    while (add) {
        int i = __builtin_ctzll(add);
        add &= add - 1;
        memcpy((char *)r + member_off[i], (const char *)from + member_off[i], member_width[i]);
    }
    r->has |= from->has;
}

/*
 * A packet section (RFC 7133): parsed by the header parser sFlow's raw
 * headers use, into what the record's own elements left unknown. bytes is
 * dataLinkFrameSize, else the IP length; packets 1. The IP packet goes to
 * the tables for nDPI, as an sFlow sampled header does; a payload section
 * has no IP header to give it.
 */
static void nf_section(nf_one *o)
{
    floe_record *r = &o->rec, got;
    dec_pkt pk;
    got.has = 0;
    memset(&pk, 0, sizeof(pk));
    if (o->sect_kind == NF_SECT_L2)
        dec__pkt_ethernet(&got, o->sect, o->sect_len, &pk);
    else if (o->sect_kind == NF_SECT_IP)
        dec__pkt_ip(&got, o->sect, o->sect_len, &pk);
    else if (r->has & FLOE_F(IPPROTO))
        dec__pkt_l4(&got, r->ipproto, o->sect, o->sect_len);
    nf_merge(r, &got);
    uint64_t frame = (o->xhas & NF_XBIT(FRAME_SIZE)) ? o->x[NF_X_FRAME_SIZE]
                     : pk.l3                         ? dec__pkt_ip_len(pk.l3)
                                                     : 0;
    if (!(r->has & FLOE_F(BYTES)) && frame) {
        r->bytes = frame;
        r->has |= FLOE_F(BYTES);
    }
    if (!(r->has & FLOE_F(PACKETS))) {
        r->packets = 1;
        r->has |= FLOE_F(PACKETS);
    }
    if (pk.l3) {
        r->sampled = pk.l3;
        r->sampled_len = (uint32_t)(o->sect_len - (size_t)(pk.l3 - o->sect));
        r->sampled_proto = pk.l3[0] >> 4 == 4 ? 11 : 12; /* sFlow's IPv4 and IPv6 */
    }
}

/* A biflow's reverse counters count in the sums too, as tshark sums them
 * (it shows reverse elements under the forward element's field), and in
 * their own reverse_* sums. */
static void nf_count_reverse(floe_dec_stats *st, const floe_record *r)
{
    if (r->has & FLOE_F(REV_BYTES))
        st->bytes += r->rev.bytes, st->reverse_bytes += r->rev.bytes;
    if (r->has & FLOE_F(REV_PACKETS))
        st->packets += r->rev.packets, st->reverse_packets += r->rev.packets;
    if (r->has & FLOE_F(REV_BYTES_TOTAL))
        st->bytes_total += r->rev.bytes_total, st->reverse_bytes_total += r->rev.bytes_total;
    if (r->has & FLOE_F(REV_PACKETS_TOTAL))
        st->packets_total += r->rev.packets_total,
            st->reverse_packets_total += r->rev.packets_total;
}

/* A flow record's extras: IPFIX sysUpTime stamps, once systemInitTime is
 * known, YAF's reverse start, a packet section, the reverse counters, and
 * the sampling rate (its own, its sampler's, or the default). Only records
 * of templates with one of them come here, out of line: inlined into
 * nf_emit, its locals made every record save two more registers. */
__attribute__((noinline)) static void nf_resolve(nf_msg *m, const nf_template *t)
{
    nf_one *o = m->one;
    floe_record *r = &m->one->rec;
    uint32_t has = o->xhas;
    if (has & (NF_XBIT(UP_FIRST) | NF_XBIT(UP_LAST))) {
        uint64_t init = (has & NF_XBIT(SYSINIT)) ? o->x[NF_X_SYSINIT] : m->s->sysinit_ms;
        if (init && (has & NF_XBIT(UP_FIRST)) && !(r->has & FLOE_F(FIRST))) {
            r->first_ms = init + o->x[NF_X_UP_FIRST];
            r->has |= FLOE_F(FIRST);
        }
        if (init && (has & NF_XBIT(UP_LAST)) && !(r->has & FLOE_F(LAST))) {
            r->last_ms = init + o->x[NF_X_UP_LAST];
            r->has |= FLOE_F(LAST);
        }
    }
    if ((has & NF_XBIT(REV_DELTA)) && (r->has & FLOE_F(FIRST)) && !(r->has & FLOE_F(REV_FIRST))) {
        r->rev.first_ms = r->first_ms + o->x[NF_X_REV_DELTA];
        r->has |= FLOE_F(REV_FIRST);
    }
    if (has & NF_XBIT(SECTION)) {
        nf_section(o);
        m->sampled_set = 1;
    }
    if (t->xmask & NF_XBIT(REVERSE))
        nf_count_reverse(m->st, r);
    uint32_t rate = nf_rate(o);
    if (!rate && (has & NF_XBIT(SAMPLER_ID)))
        rate = sampler_rate(m->s, o->x[NF_X_SAMPLER_ID]);
    if (rate)
        r->sampling = rate;
}

/* ---- sets ---------------------------------------------------------------------- */

static void nf_reject(nf_msg *m, int reason)
{
    floe_dec_reject(m->st, reason);
}

/* Counts a decoded record and hands a flow record to the sink. */
static void nf_emit(nf_msg *m, const nf_template *t)
{
    floe_dec_stats *st = m->st;
    const floe_record *r = &m->one->rec;
    m->data_records++;
    if (t->kind == NF_TMPL_OPTIONS) {
        nf_learn(m);
        st->options_records++;
        return;
    }
    if (t->xmask)
        nf_resolve(m, t);
    st->records++;
    if (r->has & FLOE_F(BYTES))
        st->bytes += r->bytes;
    if (r->has & FLOE_F(PACKETS))
        st->packets += r->packets;
    if (r->has & FLOE_F(BYTES_TOTAL))
        st->bytes_total += r->bytes_total;
    if (r->has & FLOE_F(PACKETS_TOTAL))
        st->packets_total += r->packets_total;
    if (m->sink->record)
        m->sink->record(m->sink->ud, r);
}

/* Readies the first nb records of the batch. */
static void nf_records_start(nf_msg *m, size_t nb)
{
    for (; m->batch_ready < nb; m->batch_ready++)
        dec__record_init(&m->batch[m->batch_ready].rec, m->dg, m->pp->proto, m->h->domain);
    for (size_t i = 0; i < nb; i++) {
        nf_one *o = &m->batch[i];
        o->rec.has = 0;
        o->rec.sampling = m->sampling;
        o->xhas = 0;
        o->name = NULL;
    }
    /* Only packet sections set sampled: clear what they left. */
    for (size_t i = 0; m->sampled_set && i < m->batch_ready; i++)
        m->batch[i].rec.sampled = NULL;
    m->sampled_set = 0;
}

/*
 * A data set: records until what is left is shorter than the template's
 * minimum record, which is padding (RFC 7011 §3.3.1, RFC 3954 §5.3). A set
 * whose template is unknown is counted, not rejected: captures and
 * collectors that start mid-stream see them until the next template.
 */
static void nf_data_set(nf_msg *m, uint16_t id, const uint8_t *p, size_t n)
{
    nf_template *t = dec__tmpl_find(m->d, m->s, id, m->dg->now_ms);
    if (!t) {
        m->st->missing_template++;
        m->count_unknown = 1;
        return;
    }
    size_t off = 0;
    /* Options records go one by one: one may set the sampling rate for the
     * next. */
    int batched = !t->varlen && t->kind != NF_TMPL_OPTIONS;
    while (n - off >= t->min_len) {
        if (batched) {
            size_t nb = (n - off) / t->min_len;
            nb = nb < NF_BATCH ? nb : NF_BATCH;
            nf_records_start(m, nb);
            nf_run_fixed(m, t, p + off, nb);
            off += nb * t->min_len;
            for (size_t i = 0; i < nb; i++) {
                m->one = &m->batch[i];
                nf_emit(m, t);
            }
            continue;
        }
        nf_records_start(m, 1);
        m->one = &m->batch[0];
        if (!t->varlen) {
            nf_run_fixed(m, t, p + off, 1);
            off += t->min_len;
        } else {
            size_t used = nf_run_var(m, t, p + off, n - off);
            if (!used) {
                nf_reject(m, FLOE_R_BAD_RECORD);
                m->count_unknown = 1;
                return;
            }
            off += used;
        }
        nf_emit(m, t);
    }
}

/* The head of one template record. */
typedef struct nf_thead {
    uint16_t id, count, n_scope;
    int withdraw;
} nf_thead;

/*
 * Reads a template record head at p, n bytes before the set ends. Returns
 * its length, 0 when the rest is padding (too short for a head, or zeros),
 * or -1 when it is malformed.
 */
static int nf_template_head(const nf_msg *m, const uint8_t *p, size_t n, int kind, nf_thead *th)
{
    int v9 = m->pp->proto == FLOE_PROTO_V9;
    size_t head = kind == NF_TMPL_OPTIONS && v9 ? 6 : 4;
    if (n < head || nf_zero(p, n))
        return 0;
    th->id = floe_be16(p);
    th->count = floe_be16(p + 2);
    th->n_scope = 0;
    th->withdraw = !v9 && th->count == 0; /* RFC 7011 §8.1 */
    if (th->withdraw || kind == NF_TMPL_DATA)
        return 4;
    if (v9) {
        /* RFC 3954 §6.1: scope and option lengths in bytes, 4 per field. */
        uint16_t scope_len = th->count, opt_len = floe_be16(p + 4);
        if (scope_len % 4 || opt_len % 4)
            return -1;
        th->n_scope = scope_len / 4;
        th->count = (uint16_t)(th->n_scope + opt_len / 4);
        return 6;
    }
    if (n < 6)
        return -1;
    th->n_scope = floe_be16(p + 4);
    return 6;
}

/*
 * Reads count field specifiers; returns the bytes used, or 0 if they do not
 * fit in n. IPFIX marks an enterprise element with the top bit and a PEN;
 * v9 has no PENs, and nProbe sends its PEN 35632 elements as 57472 + id.
 */
static size_t nf_read_fields(const nf_msg *m, const uint8_t *p, size_t n, nf_field *f,
                             uint16_t count)
{
    int ipfix = m->pp->proto == FLOE_PROTO_IPFIX;
    size_t off = 0;
    for (uint16_t i = 0; i < count; i++) {
        if (n - off < 4)
            return 0;
        uint16_t id = floe_be16(p + off), len = floe_be16(p + off + 2);
        uint32_t pen = 0;
        off += 4;
        if (ipfix && (id & 0x8000)) {
            if (n - off < 4)
                return 0;
            pen = floe_be32(p + off);
            id &= 0x7fff;
            off += 4;
        } else if (!ipfix && id >= NF_NTOP_V9_BASE) {
            pen = NF_NTOP_PEN;
            id = (uint16_t)(id - NF_NTOP_V9_BASE);
        }
        f[i] = (nf_field){pen, id, len};
    }
    return off;
}

static void nf_withdraw(nf_msg *m, uint16_t id, int kind)
{
    if (id == (kind == NF_TMPL_DATA ? m->pp->tmpl_set : m->pp->opt_set)) {
        dec__tmpl_withdraw_all(m->d, m->s, kind);
    } else if (id >= 256) {
        dec__tmpl_withdraw(m->d, m->s, id);
    } else {
        nf_reject(m, FLOE_R_BAD_TEMPLATE);
        return;
    }
    m->st->withdrawals++;
}

/* A template or options template set. A malformed record ends the set,
 * since the next one's start is then unknown. */
static void nf_template_set(nf_msg *m, const uint8_t *p, size_t n, int kind)
{
    nf_field f[NF_MAX_FIELDS];
    size_t off = 0;
    for (;;) {
        nf_thead th;
        int head = nf_template_head(m, p + off, n - off, kind, &th);
        if (head == 0)
            return;
        if (head > 0 && th.withdraw) {
            nf_withdraw(m, th.id, kind);
            off += (size_t)head;
            continue;
        }
        size_t used = 0;
        if (head > 0 && th.id >= 256 && th.count > 0 && th.count <= NF_MAX_FIELDS)
            used = nf_read_fields(m, p + off + (size_t)head, n - off - (size_t)head, f, th.count);
        if (!used) {
            nf_reject(m, FLOE_R_BAD_TEMPLATE);
            return;
        }
        off += (size_t)head + used;
        int rc = dec__tmpl_define(m->d, m->s, th.id, kind, f, th.count, th.n_scope, m->dg->now_ms);
        if (rc == 0 && kind == NF_TMPL_DATA)
            m->st->templates++;
        else if (rc == 0)
            m->st->options_templates++;
        else if (rc > 0)
            nf_reject(m, rc);
    }
}

static void nf_set(nf_msg *m, uint16_t id, const uint8_t *p, size_t n)
{
    if (id >= 256)
        nf_data_set(m, id, p, n);
    else if (id == m->pp->tmpl_set)
        nf_template_set(m, p, n, NF_TMPL_DATA);
    else if (id == m->pp->opt_set)
        nf_template_set(m, p, n, NF_TMPL_OPTIONS);
    else
        nf_reject(m, FLOE_R_BAD_SET_ID); /* reserved: skipped by its length */
}

/*
 * Walks the sets of a message body of n bytes. A set length below 4 or
 * past the datagram abandons the rest; what was decoded before stays
 * decoded. Sets start inside the message, but one may end past it when the
 * datagram holds its bytes (avail > n): telegraf issue_14370's IPFIX header
 * says 290 bytes for a 292-byte message whose last set ends at 292. tshark
 * decodes that set too.
 *
 * v9 only: the header count bounds the flowsets. RFC 3954 counts records,
 * every flowset holds at least one, and the exporters that count flowsets
 * instead (Cisco WLC, FortiGate) still never exceed it, so flowsets beyond
 * the count mean the header is wrong (logstash's netflow9_test_invalid01:
 * count 2, six flowsets). tshark also stops there. Zero fill after the
 * last flowset (Palo Alto, Cisco ACI) is padding.
 */
static void nf_sets(nf_msg *m, const uint8_t *p, size_t n, size_t avail)
{
    int v9 = m->pp->proto == FLOE_PROTO_V9;
    uint32_t sets = 0;
    size_t off = 0;
    while (off < n) {
        size_t rest = avail - off;
        if (v9 && nf_zero(p + off, rest))
            return;
        if (v9 && sets == m->h->count) {
            nf_reject(m, FLOE_R_BAD_COUNT);
            return;
        }
        uint16_t len = rest >= 4 ? floe_be16(p + off + 2) : 0;
        if (len < 4 || len > rest) {
            nf_reject(m, FLOE_R_BAD_SET_LENGTH);
            m->count_unknown = 1;
            return;
        }
        nf_set(m, floe_be16(p + off), p + off + 4, len - 4u);
        off += len;
        sets++;
    }
}

static void nf_decode(const nf_proto *pp, floe_decoders *d, floe_dec_exporter *ex,
                      const floe_dgram *dg, const floe_hdr *h, floe_dec_stats *st,
                      const floe_sink *sink)
{
    nf_state *s = dec__nf_state(d, ex, pp->proto);
    if (!s)
        return; /* out of memory: nothing decoded, the sequence unknown */
    nf_msg m;
    m.d = d;
    m.s = s;
    m.pp = pp;
    m.dg = dg;
    m.h = h;
    m.st = st;
    m.sink = sink;
    m.sampling = s->default_rate ? s->default_rate : 1;
    m.data_records = 0;
    m.count_unknown = 0;
    m.sampled_set = 0;
    nf_one batch[NF_BATCH];
    m.batch = batch;
    m.batch_ready = 0;
    m.one = batch;
    /* header() checked the IPFIX length against the datagram. */
    size_t end = pp->proto == FLOE_PROTO_IPFIX ? floe_be16(dg->data + 2) : dg->len;
    nf_sets(&m, dg->data + pp->hdr_len, end - pp->hdr_len, dg->len - pp->hdr_len);
    if (pp->proto == FLOE_PROTO_V9) {
        st->seq_advance = 1; /* RFC 3954: the sequence counts export packets */
        st->seq_valid = 1;
    } else {
        st->seq_advance = m.data_records; /* RFC 7011: it counts data records */
        st->seq_valid = !m.count_unknown;
    }
}

static void v9_decode(floe_decoders *d, floe_dec_exporter *ex, const floe_dgram *dg,
                      const floe_hdr *h, floe_dec_stats *st, const floe_sink *sink)
{
    nf_decode(&v9_proto, d, ex, dg, h, st, sink);
}

static void ipfix_decode(floe_decoders *d, floe_dec_exporter *ex, const floe_dgram *dg,
                         const floe_hdr *h, floe_dec_stats *st, const floe_sink *sink)
{
    nf_decode(&ipfix_proto, d, ex, dg, h, st, sink);
}

const floe_dec_ops dec__v9_ops = {
    .proto = FLOE_PROTO_V9,
    .name = "v9",
    .detect = v9_detect,
    .header = v9_header,
    .decode = v9_decode,
    .state_free = dec__nf_state_free,
    .sweep = dec__nf_sweep,
    .describe = dec__nf_describe,
};

const floe_dec_ops dec__ipfix_ops = {
    .proto = FLOE_PROTO_IPFIX,
    .name = "ipfix",
    .detect = ipfix_detect,
    .header = ipfix_header,
    .decode = ipfix_decode,
    .state_free = dec__nf_state_free,
    .sweep = dec__nf_sweep,
    .describe = dec__nf_describe,
};
