/*
 * The template cache and compiler that NetFlow v9 and IPFIX share.
 *
 * Templates live per exporter (floe_dec_exporter.state, one per source
 * address, observation domain and protocol), in a hash map keyed by
 * template id, so a data set finds its template in O(1). Each is also on
 * two lists ordered by last refresh: the exporter's and the global one in
 * floe_decoders. Bounds: at max_templates_per_exporter a new template
 * evicts the exporter's least recently refreshed one; at max_templates,
 * the least recently refreshed of all exporters. Both count in
 * d->template_evictions. A template not refreshed for template_timeout_ms
 * is dropped when next looked up or by sweep, counted in
 * d->template_expired, except over TCP (floe_dec_exporter.session): there
 * templates live until withdrawn or the session ends (RFC 7011 §8.4). d->templates_live and
 * ex->templates always equal what the maps hold.
 *
 * Compiling turns the declared fields into steps (see nf9ipfix.h): the
 * information-element table decides each field's op once, fields floe does
 * not decode become skips, and runs of fixed-length skips merge into one.
 */
#include "decoders/nf9ipfix.h"

#include <stdio.h>
#include <stdlib.h>

/* The width of each floe_record member, from fields.def. */
enum { W_U8 = 1, W_U16 = 2, W_U32 = 4, W_U64 = 8, W_ADDR = 16, W_MAC = 6, W_APP = 0 };

static const struct member_desc {
    uint16_t off;
    uint8_t width;
} members[FLOE_FI_COUNT] = {
#define FIELD(id, name, kind, member) {offsetof(floe_record, member), W_##kind},
#include "decoders/fields.def"
#undef FIELD
};

#define NF_MAX_SET_BODY (65535u - 4u) /* a record must fit in one set */

static uint64_t id_hash(uint16_t id)
{
    return (id + 1) * 0x9e3779b97f4a7c15ULL;
}

/* ---- the per-exporter state ------------------------------------------- */

static void global_lru_ready(floe_decoders *d)
{
    /* floe_decoders_init links the list; this covers a zeroed struct. */
    if (!d->template_lru.next)
        floe_list_init(&d->template_lru);
}

nf_state *dec__nf_state(floe_decoders *d, floe_dec_exporter *ex, int proto)
{
    nf_state *s = ex->state;
    if (s)
        return s;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (floe_hmap_init(&s->map, 16, 0) != 0) {
        free(s);
        return NULL;
    }
    floe_list_init(&s->lru);
    s->ex = ex;
    s->proto = proto;
    global_lru_ready(d);
    ex->state = s;
    ex->templates = 0;
    return s;
}

static nf_template *map_get(const nf_state *s, uint16_t id)
{
    uint64_t h = id_hash(id);
    for (floe_hnode *n = floe_hmap_bucket(&s->map, h); n; n = n->next) {
        nf_template *t = FLOE_CONTAINER_OF(n, nf_template, node);
        if (t->id == id)
            return t;
    }
    return NULL;
}

/* Unlinks and frees t, keeping every count exact. */
static void tmpl_drop(floe_decoders *d, nf_template *t)
{
    nf_state *s = t->owner;
    floe_hmap_remove(&s->map, &t->node);
    floe_list_remove(&t->ex_lru);
    floe_list_remove(&t->all_lru);
    if (s->last == t)
        s->last = NULL;
    s->ex->templates--;
    d->templates_live--;
    free(t);
}

static void tmpl_link(floe_decoders *d, nf_state *s, nf_template *t, uint64_t now_ms)
{
    t->owner = s;
    t->created_ms = t->refreshed_ms = now_ms;
    t->node.hash = id_hash(t->id);
    floe_hmap_insert(&s->map, &t->node);
    floe_list_push_tail(&s->lru, &t->ex_lru);
    floe_list_push_tail(&d->template_lru, &t->all_lru);
    s->ex->templates++;
    d->templates_live++;
}

static void tmpl_refresh(floe_decoders *d, nf_template *t, uint64_t now_ms)
{
    t->refreshed_ms = now_ms;
    floe_list_move_tail(&t->owner->lru, &t->ex_lru);
    floe_list_move_tail(&d->template_lru, &t->all_lru);
}

/* Evicts least recently refreshed templates until headroom more fit under
 * both bounds (a zero limit counts as 1: a cache that may keep no template
 * would decode nothing). */
static void evict_to(floe_decoders *d, nf_state *s, uint32_t headroom)
{
    uint32_t per = d->lim.max_templates_per_exporter ? d->lim.max_templates_per_exporter : 1;
    uint64_t all = d->lim.max_templates ? d->lim.max_templates : 1;
    while (s->ex->templates + headroom > per && !floe_list_empty(&s->lru)) {
        tmpl_drop(d, FLOE_CONTAINER_OF(s->lru.next, nf_template, ex_lru));
        d->template_evictions++;
    }
    while (d->templates_live + headroom > all && !floe_list_empty(&d->template_lru)) {
        tmpl_drop(d, FLOE_CONTAINER_OF(d->template_lru.next, nf_template, all_lru));
        d->template_evictions++;
    }
}

/* ---- compiling ----------------------------------------------------------- */

/*
 * What each kind of element becomes, and which lengths can carry it:
 * LEN_NUM is an unsigned of any reduced size (1..8 bytes, RFC 7011 §6.2),
 * LEN_ANY any length of at least 1 byte or a variable length, and any
 * other value that exact length. Two kinds depend on more than the length:
 * UINT takes the width of its record member, and SYSUP is v9's sysUptime
 * in v9 and an extra slot (resolved against systemInitTime) in IPFIX.
 */
enum { LEN_NUM = 0, LEN_ANY = 0xffff };

static const struct kind_desc {
    uint8_t op;
    uint16_t len;
} kinds[] = {
    [NF_KIND_SKIP] = {NF_OP_SKIP, LEN_ANY},
    [NF_KIND_UINT] = {NF_OP_U64, LEN_NUM},
    [NF_KIND_MS_US] = {NF_OP_MS_US, LEN_NUM},
    [NF_KIND_DSCP] = {NF_OP_DSCP, LEN_NUM},
    [NF_KIND_ADDR4] = {NF_OP_ADDR4, 4},
    [NF_KIND_ADDR6] = {NF_OP_ADDR6, 16},
    [NF_KIND_MAC] = {NF_OP_MAC, 6},
    [NF_KIND_APP] = {NF_OP_APP, LEN_ANY},
    [NF_KIND_T_SEC] = {NF_OP_T_SEC, LEN_NUM},
    [NF_KIND_T_MS] = {NF_OP_T_MS, LEN_NUM},
    [NF_KIND_T_NTP] = {NF_OP_T_NTP, 8},
    [NF_KIND_T_DELTA] = {NF_OP_T_DELTA, LEN_NUM},
    [NF_KIND_SYSUP] = {NF_OP_T_V9UP, LEN_NUM},
    [NF_KIND_X] = {NF_OP_X, LEN_NUM},
    [NF_KIND_NAME] = {NF_OP_NAME, LEN_ANY},
    [NF_KIND_FLAGS] = {NF_OP_FLAGS, LEN_NUM},
    [NF_KIND_MPLS] = {NF_OP_MPLS, LEN_ANY},
    [NF_KIND_SECTION] = {NF_OP_SECTION, LEN_ANY},
};

/* The op for an element sent with length len, or SKIP when that length
 * cannot carry it (e.g. a 2-byte IPv4 address). */
static int kind_op(const nf_ie *ie, uint16_t len, int proto)
{
    const struct kind_desc *k = &kinds[ie->kind];
    int fits = k->len == LEN_NUM   ? len >= 1 && len <= 8
               : k->len == LEN_ANY ? len >= 1
                                   : len == k->len;
    if (!fits)
        return NF_OP_SKIP;
    if (ie->kind == NF_KIND_UINT) {
        static const uint8_t by_width[9] = {
            [1] = NF_OP_U8, [2] = NF_OP_U16, [4] = NF_OP_U32, [8] = NF_OP_U64};
        uint8_t w = members[ie->target].width;
        return w <= 8 ? by_width[w] : NF_OP_SKIP;
    }
    if (ie->kind == NF_KIND_SYSUP && proto != FLOE_PROTO_V9)
        return NF_OP_X;
    if (ie->kind == NF_KIND_FLAGS && members[ie->target].width != W_U16)
        return NF_OP_SKIP;
    if (ie->kind == NF_KIND_MPLS && len < 3)
        return NF_OP_SKIP; /* a label stack entry is 3 bytes at least */
    return k->op;
}

/*
 * The step for one field. v9 scope fields are not information elements
 * (RFC 3954 §6.1: 1 System, 2 Interface, ...), so they are skipped.
 */
static nf_step field_step(const nf_field *f, int proto, int v9_scope, uint32_t *xmask)
{
    nf_step st = {f->len, NF_OP_SKIP, 0, 0, 0, 0};
    const nf_ie *ie = v9_scope ? NULL : dec__ie_find(f->pen, f->id);
    if (!ie)
        return st;
    st.op = (uint8_t)kind_op(ie, f->len, proto);
    if (st.op == NF_OP_X) {
        /* In IPFIX, flowStart/EndSysUpTime wait for systemInitTime. */
        uint16_t slot = ie->kind == NF_KIND_SYSUP
                            ? (ie->target == FLOE_FI_FIRST ? NF_X_UP_FIRST : NF_X_UP_LAST)
                            : ie->target;
        st.off = slot;
        *xmask |= 1u << slot;
    } else if (st.op == NF_OP_SECTION) {
        st.off = ie->target; /* enum nf_section */
        *xmask |= NF_XBIT(SECTION);
    } else if (st.op != NF_OP_SKIP) {
        st.off = members[ie->target].off;
        st.bit = ie->target;
        st.weak = (ie->flags & NF_IE_WEAK) != 0;
        /* A record of a template with reverse counters is counted in the
         * extras, so other templates' records pay nothing for them. */
        if (((uint64_t)1 << ie->target) & (FLOE_F(REV_BYTES) | FLOE_F(REV_PACKETS) |
                                           FLOE_F(REV_BYTES_TOTAL) | FLOE_F(REV_PACKETS_TOTAL)))
            *xmask |= NF_XBIT(REVERSE);
    }
    return st;
}

/* Appends st to steps[*n], merging a fixed-length skip into the one before
 * and dropping zero-length skips. */
static void push_step(nf_step *steps, uint16_t *n, nf_step st)
{
    if (st.op == NF_OP_SKIP && st.len == 0)
        return;
    nf_step *prev = *n ? &steps[*n - 1] : NULL;
    if (prev && st.op == NF_OP_SKIP && prev->op == NF_OP_SKIP && st.len != NF_VARLEN &&
        prev->len != NF_VARLEN && (uint32_t)prev->len + st.len < NF_VARLEN) {
        prev->len = (uint16_t)(prev->len + st.len);
        return;
    }
    steps[(*n)++] = st;
}

/*
 * Compiles a template, or returns NULL with *reason set (0: no memory).
 * The steps are built on the stack first so the template is allocated at
 * its exact size: a 200-field template of fields floe skips is one step.
 */
static nf_template *tmpl_compile(int proto, uint16_t id, int kind, const nf_field *f, uint16_t n,
                                 uint16_t n_scope, int *reason)
{
    nf_step steps[NF_MAX_FIELDS];
    uint16_t n_steps = 0;
    uint32_t min_len = 0, xmask = 0;
    int varlen = 0;
    *reason = FLOE_R_BAD_TEMPLATE;
    if (n == 0 || n > NF_MAX_FIELDS || n_scope > n)
        return NULL;
    for (uint16_t i = 0; i < n; i++) {
        int v9_scope = proto == FLOE_PROTO_V9 && i < n_scope;
        varlen |= f[i].len == NF_VARLEN;
        min_len += f[i].len == NF_VARLEN ? 1 : f[i].len;
        push_step(steps, &n_steps, field_step(&f[i], proto, v9_scope, &xmask));
    }
    if (min_len == 0 || min_len > NF_MAX_SET_BODY)
        return NULL;
    *reason = 0;
    nf_template *t = malloc(sizeof(*t) + n_steps * sizeof(nf_step) + n * sizeof(nf_field));
    if (!t)
        return NULL;
    memset(t, 0, sizeof(*t));
    memcpy(t->steps, steps, n_steps * sizeof(*steps));
    t->fields = (nf_field *)(void *)(t->steps + n_steps);
    memcpy(t->fields, f, n * sizeof(*f));
    t->id = id;
    t->kind = (uint8_t)kind;
    t->varlen = (uint8_t)varlen;
    t->n_fields = n;
    t->n_scope = n_scope;
    t->n_steps = n_steps;
    t->min_len = min_len;
    t->xmask = xmask;
    return t;
}

static int same_layout(const nf_template *t, int kind, const nf_field *f, uint16_t n,
                       uint16_t n_scope)
{
    return t->kind == kind && t->n_fields == n && t->n_scope == n_scope &&
           memcmp(t->fields, f, n * sizeof(*f)) == 0;
}

/* ---- the cache ------------------------------------------------------------ */

int dec__tmpl_define(floe_decoders *d, nf_state *s, uint16_t id, int kind, const nf_field *f,
                     uint16_t n, uint16_t n_scope, uint64_t now_ms)
{
    nf_template *old = map_get(s, id);
    if (old && same_layout(old, kind, f, n, n_scope)) {
        tmpl_refresh(d, old, now_ms);
        return 0;
    }
    /* A new layout for an id replaces the old one even if it is bad: data
     * under that id no longer has the old layout. */
    if (old)
        tmpl_drop(d, old);
    int reason;
    nf_template *t = tmpl_compile(s->proto, id, kind, f, n, n_scope, &reason);
    if (!t)
        return reason ? reason : -1;
    evict_to(d, s, 1); /* room for one more */
    tmpl_link(d, s, t, now_ms);
    return 0;
}

static int expired(const floe_decoders *d, const nf_template *t, uint64_t now_ms)
{
    uint64_t timeout = t->owner->ex->session ? 0 : d->lim.template_timeout_ms;
    return timeout && now_ms > t->refreshed_ms && now_ms - t->refreshed_ms > timeout;
}

nf_template *dec__tmpl_find(floe_decoders *d, nf_state *s, uint16_t id, uint64_t now_ms)
{
    nf_template *t = s->last;
    if (!t || t->id != id) {
        t = map_get(s, id);
        if (!t)
            return NULL;
    }
    if (expired(d, t, now_ms)) {
        tmpl_drop(d, t);
        d->template_expired++;
        return NULL;
    }
    s->last = t;
    return t;
}

int dec__tmpl_withdraw(floe_decoders *d, nf_state *s, uint16_t id)
{
    nf_template *t = map_get(s, id);
    if (!t)
        return 0;
    tmpl_drop(d, t);
    return 1;
}

void dec__tmpl_withdraw_all(floe_decoders *d, nf_state *s, int kind)
{
    floe_list *it = s->lru.next;
    while (it != &s->lru) {
        nf_template *t = FLOE_CONTAINER_OF(it, nf_template, ex_lru);
        it = it->next;
        if (t->kind == kind)
            tmpl_drop(d, t);
    }
}

void dec__nf_sweep(floe_decoders *d, floe_dec_exporter *ex, uint64_t now_ms)
{
    nf_state *s = ex->state;
    if (!s)
        return;
    /* The whole list, not just its head: capture clocks can step back. */
    floe_list *it = s->lru.next;
    while (it != &s->lru) {
        nf_template *t = FLOE_CONTAINER_OF(it, nf_template, ex_lru);
        it = it->next;
        if (expired(d, t, now_ms)) {
            tmpl_drop(d, t);
            d->template_expired++;
        }
    }
    evict_to(d, s, 0); /* a reloaded config may have lowered the bounds */
}

void dec__nf_state_free(floe_decoders *d, floe_dec_exporter *ex)
{
    nf_state *s = ex->state;
    if (!s)
        return;
    while (!floe_list_empty(&s->lru))
        tmpl_drop(d, FLOE_CONTAINER_OF(s->lru.next, nf_template, ex_lru));
    floe_hmap_close(&s->map);
    free(s);
    ex->state = NULL;
    ex->templates = 0;
}

/* ---- describe --------------------------------------------------------------- */

static void field_name_json(const floe_decoders *d, const nf_state *s, const nf_template *t,
                            uint16_t i, floe_json *j)
{
    static const char *const v9_scopes[] = {
        NULL, "scopeSystem", "scopeInterface", "scopeLineCard", "scopeCache", "scopeTemplate"};
    const nf_field *f = &t->fields[i];
    const char *name = NULL;
    char text[32];
    if (s->proto == FLOE_PROTO_V9 && i < t->n_scope)
        name = f->id < FLOE_ARRAY_LEN(v9_scopes) ? v9_scopes[f->id] : NULL;
    else
        name = dec__ie_name(d->infomodel, f->pen, f->id);
    if (!name) {
        snprintf(text, sizeof(text), "%u.%u", f->pen, f->id);
        name = text;
    }
    floe_json_str(j, name);
}

static void template_json(const floe_decoders *d, const nf_state *s, const nf_template *t,
                          uint64_t now_ms, floe_json *j)
{
    floe_json_obj_begin(j);
    floe_json_ku64(j, "id", t->id);
    floe_json_kstr(j, "kind", t->kind == NF_TMPL_OPTIONS ? "options" : "data");
    floe_json_ku64(j, "field_count", t->n_fields);
    floe_json_ku64(j, "scope_field_count", t->n_scope);
    floe_json_ku64(j, "record_length", t->min_len);
    floe_json_key(j, "variable_length");
    floe_json_bool(j, t->varlen);
    floe_json_ku64(j, "age_ms", now_ms > t->refreshed_ms ? now_ms - t->refreshed_ms : 0);
    floe_json_key(j, "fields");
    floe_json_arr_begin(j);
    for (uint16_t i = 0; i < t->n_fields; i++)
        field_name_json(d, s, t, i, j);
    floe_json_arr_end(j);
    floe_json_obj_end(j);
}

void dec__nf_describe(const floe_decoders *d, const floe_dec_exporter *ex, floe_json *j)
{
    const nf_state *s = ex->state;
    uint64_t now_ms = floe_time_ms();
    floe_json_key(j, "templates");
    floe_json_arr_begin(j);
    if (s)
        for (const floe_list *it = s->lru.next; it != &s->lru; it = it->next)
            template_json(d, s, FLOE_CONTAINER_OF(it, nf_template, ex_lru), now_ms, j);
    floe_json_arr_end(j);
    if (!s)
        return;
    floe_json_key(j, "sampling_options");
    floe_json_obj_begin(j);
    floe_json_ku64(j, "default_rate", s->default_rate);
    floe_json_key(j, "samplers");
    floe_json_arr_begin(j);
    for (uint32_t i = 0; i < s->n_samplers; i++) {
        floe_json_obj_begin(j);
        floe_json_ku64(j, "id", s->samplers[i].id);
        floe_json_ku64(j, "rate", s->samplers[i].rate);
        floe_json_obj_end(j);
    }
    floe_json_arr_end(j);
    floe_json_obj_end(j);
    if (s->sysinit_ms)
        floe_json_ku64(j, "system_init_ms", s->sysinit_ms);
}
