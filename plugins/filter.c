/*
 * Check filters, the C side. A check declares which flows it wants (L4
 * protocols, applications or categories, server ports in or out, which
 * ends are local, nDPI risks, addresses inline or from a list file) as a
 * table, or as a function of its config that returns one. It is compiled
 * here into bitmaps and address ranges whenever the config changes, and
 * tested for each flow event before any Lua runs: a flow that matches no
 * check's filter costs no Lua call at all.
 *
 * Address sets are sorted, merged ranges of the 128-bit address space
 * (IPv4 as v4-mapped), searched in halves: a blacklist of a million entries
 * costs twenty comparisons per address.
 */
#include "plugins/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>

/* ---- address sets ------------------------------------------------------- */

/* The address as two numbers that compare as the address does. */
static void addr_words(const floe_addr *a, uint64_t w[2])
{
    memcpy(w, a->b, 16);
    w[0] = __builtin_bswap64(w[0]);
    w[1] = __builtin_bswap64(w[1]);
}

static int words_cmp(const uint64_t a[2], const uint64_t b[2])
{
    if (a[0] != b[0])
        return a[0] < b[0] ? -1 : 1;
    return a[1] < b[1] ? -1 : a[1] > b[1];
}

int plug__addrset_add(plug__addrset *s, const char *item, char *err, size_t errlen)
{
    char text[80];
    floe_net n;
    if (strlen(item) >= sizeof(text) - 5)
        goto bad;
    snprintf(text, sizeof(text),
             strchr(item, '/')   ? "%s"
             : strchr(item, ':') ? "%s/128"
                                 : "%s/32",
             item);
    if (floe_net_parse(&n, text) != 0)
        goto bad;
    if ((s->n & (s->n - 1)) == 0 || s->n == 0) { /* grow at powers of two */
        size_t cap = s->n ? s->n * 2 : 16;
        void *grown = realloc(s->r, cap * sizeof(*s->r));
        if (!grown) {
            snprintf(err, errlen, "out of memory");
            return FLOE_ENOMEM;
        }
        s->r = grown;
    }
    uint64_t lo[2], hi[2];
    addr_words(&n.prefix, lo);
    hi[0] = lo[0], hi[1] = lo[1];
    int host_bits = 128 - n.bits;
    if (host_bits >= 64) {
        hi[1] = ~(uint64_t)0;
        hi[0] |= host_bits == 128 ? ~(uint64_t)0 : (((uint64_t)1 << (host_bits - 64)) - 1);
    } else if (host_bits > 0) {
        hi[1] |= ((uint64_t)1 << host_bits) - 1;
    }
    memcpy(s->r[s->n].lo, lo, sizeof(lo));
    memcpy(s->r[s->n].hi, hi, sizeof(hi));
    s->n++;
    return 0;
bad:
    snprintf(err, errlen, "'%.60s' is not an address or ADDR/BITS", item);
    return FLOE_EINVAL;
}

static int range_cmp(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b; /* lo is first */
    return words_cmp(x, y);
}

void plug__addrset_finish(plug__addrset *s)
{
    if (s->n == 0)
        return;
    qsort(s->r, s->n, sizeof(*s->r), range_cmp);
    size_t out = 0;
    for (size_t i = 1; i < s->n; i++) {
        uint64_t next[2] = {s->r[out].hi[0], s->r[out].hi[1] + 1};
        if (next[1] == 0)
            next[0]++;
        if (words_cmp(s->r[i].lo, next) <= 0 ||
            (s->r[out].hi[0] == ~(uint64_t)0 && s->r[out].hi[1] == ~(uint64_t)0)) {
            if (words_cmp(s->r[i].hi, s->r[out].hi) > 0)
                memcpy(s->r[out].hi, s->r[i].hi, sizeof(s->r[i].hi));
        } else {
            s->r[++out] = s->r[i];
        }
    }
    s->n = out + 1;
}

int plug__addrset_parse(plug__addrset *s, const char *text, size_t len, char *err, size_t errlen)
{
    size_t line = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        line++;
        char item[128];
        size_t n = 0;
        for (const char *q = p; q < stop && *q != '#' && n < sizeof(item) - 1; q++)
            if (*q != ' ' && *q != '\t' && *q != '\r' && *q != ',' && *q != ';')
                item[n++] = *q;
        item[n] = '\0';
        char why[128];
        if (n && plug__addrset_add(s, item, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "line %zu: %s", line, why);
            return FLOE_EINVAL;
        }
        p = nl ? nl + 1 : end;
    }
    plug__addrset_finish(s);
    return 0;
}

int plug__addrset_has(const plug__addrset *s, const floe_addr *a)
{
    if (s->n == 0)
        return 0;
    uint64_t w[2];
    addr_words(a, w);
    size_t lo = 0, hi = s->n;
    while (lo < hi) { /* the first range whose lo is above w */
        size_t mid = lo + (hi - lo) / 2;
        if (words_cmp(s->r[mid].lo, w) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && words_cmp(w, s->r[lo - 1].hi) <= 0;
}

void plug__addrset_free(plug__addrset *s)
{
    free(s->r);
    s->r = NULL;
    s->n = 0;
}

/* ---- list files --------------------------------------------------------- */

#define LISTFILE_MAX (64u << 20)

/* Re-reads the file if it changed; a file that cannot be read or parsed
 * keeps the set it had, with the reason in error. */
void plug__listfile_reload(floe_plugins *P, plug__listfile *lf)
{
    struct stat st;
    if (stat(lf->path, &st) != 0) {
        snprintf(lf->error, sizeof(lf->error), "cannot read %s", lf->path);
        return;
    }
    uint64_t mtime = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
    if (mtime == lf->mtime_ns && (uint64_t)st.st_size == lf->size && !lf->error[0])
        return;
    FILE *f = fopen(lf->path, "rb");
    if (!f || st.st_size < 0 || (uint64_t)st.st_size > LISTFILE_MAX) {
        snprintf(lf->error, sizeof(lf->error), "cannot read %s (or over 64 MiB)", lf->path);
        if (f)
            fclose(f);
        return;
    }
    char *text = malloc((size_t)st.st_size + 1);
    size_t n = text ? fread(text, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    plug__addrset next = {NULL, 0};
    char why[256];
    if (!text || plug__addrset_parse(&next, text, n, why, sizeof(why)) != 0) {
        snprintf(lf->error, sizeof(lf->error), "%s: %s", lf->path, text ? why : "out of memory");
        plug__addrset_free(&next);
        free(text);
        log_warn(P->env.log, "plugins: list %s", lf->error);
        return;
    }
    free(text);
    plug__addrset_free(&lf->set);
    lf->set = next;
    lf->mtime_ns = mtime;
    lf->size = (uint64_t)st.st_size;
    lf->error[0] = '\0';
    log_info(P->env.log, "plugins: list %s: %zu ranges", lf->path, lf->set.n);
}

static plug__listfile *listfile_get(floe_plugins *P, const char *path)
{
    for (plug__listfile *lf = P->files; lf; lf = lf->next)
        if (strcmp(lf->path, path) == 0) {
            lf->refs++;
            return lf;
        }
    plug__listfile *lf = calloc(1, sizeof(*lf));
    if (!lf || !(lf->path = strdup(path))) {
        free(lf);
        return NULL;
    }
    lf->refs = 1;
    lf->next = P->files;
    P->files = lf;
    plug__listfile_reload(P, lf);
    plug__watch_listfile(P, lf);
    return lf;
}

void plug__listfiles_free(floe_plugins *P)
{
    while (P->files) {
        plug__listfile *lf = P->files;
        P->files = lf->next;
        plug__addrset_free(&lf->set);
        free(lf->path);
        free(lf);
    }
}

/* ---- compiling a filter --------------------------------------------------- */

static void bit_set(void *map, size_t bit)
{
    ((uint8_t *)map)[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

static int bit_get(const void *map, size_t bit)
{
    return (((const uint8_t *)map)[bit / 8] >> (bit % 8)) & 1;
}

/* Each item of the list at key in the table at idx, as a string or a
 * number; raises a Lua error naming the check and key on a bad one. */
typedef int (*item_fn)(floe_plugins *P, plug__filter *f, lua_State *L, const char *item,
                       lua_Integer n, int is_num, char *why, size_t whylen);

static void each_item(floe_plugins *P, plug__check *c, plug__filter *f, lua_State *L, int idx,
                      const char *key, item_fn fn)
{
    lua_getfield(L, idx, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "%s: filter '%s' must be a list", c->full, key);
    lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= len; i++) {
        char why[160] = "";
        lua_rawgeti(L, -1, i);
        int is_num = lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1);
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        if ((!s && !is_num) ||
            fn(P, f, L, s, is_num ? lua_tointeger(L, -1) : 0, is_num, why, sizeof(why)) != 0)
            luaL_error(L, "%s: filter '%s' item %d: %s", c->full, key, (int)i,
                       why[0] ? why : "not a name or number");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static int item_l4(floe_plugins *P, plug__filter *f, lua_State *L, const char *s, lua_Integer n,
                   int is_num, char *why, size_t whylen)
{
    static const struct {
        const char *name;
        int proto;
    } names[] = {{"tcp", 6},     {"udp", 17}, {"icmp", 1}, {"icmp6", 58},
                 {"icmpv6", 58}, {"gre", 47}, {"esp", 50}, {"sctp", 132}};
    (void)P, (void)L;
    if (is_num && n >= 0 && n < 256) {
        bit_set(f->l4, (size_t)n);
        return 0;
    }
    for (size_t i = 0; s && i < FLOE_ARRAY_LEN(names); i++)
        if (strcasecmp(s, names[i].name) == 0) {
            bit_set(f->l4, (size_t)names[i].proto);
            return 0;
        }
    snprintf(why, whylen, "unknown protocol (tcp, udp, icmp, ... or 0..255)");
    return -1;
}

static int item_app(floe_plugins *P, plug__filter *f, lua_State *L, const char *s, lua_Integer n,
                    int is_num, char *why, size_t whylen)
{
    floe_app_label l;
    (void)L, (void)n, (void)is_num;
    floe_dpi *d = P->env.tables ? P->env.tables->dpi : NULL;
    if (!d) {
        snprintf(why, whylen, "nDPI is off (dpi.enabled = false)");
        return -1;
    }
    if (!s || floe_dpi_by_name(d, s, &l) != 0) {
        snprintf(why, whylen, "'%s' is not an nDPI application name", s ? s : "?");
        return -1;
    }
    bit_set(f->apps, l.app);
    return 0;
}

static int item_cat(floe_plugins *P, plug__filter *f, lua_State *L, const char *s, lua_Integer n,
                    int is_num, char *why, size_t whylen)
{
    (void)L, (void)n, (void)is_num;
    floe_dpi *d = P->env.tables ? P->env.tables->dpi : NULL;
    int id = d && s ? floe_dpi_category_parse(d, s) : -1;
    if (id < 0) {
        snprintf(why, whylen, "'%s' is not an nDPI category", s ? s : "?");
        return -1;
    }
    bit_set(f->cats, (size_t)id);
    return 0;
}

static int item_risk(floe_plugins *P, plug__filter *f, lua_State *L, const char *s, lua_Integer n,
                     int is_num, char *why, size_t whylen)
{
    (void)P, (void)L, (void)n, (void)is_num;
    int r = s ? floe_dpi_risk_parse(s) : -1;
    if (r < 0) {
        snprintf(why, whylen, "'%s' is not an nDPI risk (see docs/plugins.md)", s ? s : "?");
        return -1;
    }
    f->risks |= (uint64_t)1 << r;
    return 0;
}

static int item_host(floe_plugins *P, plug__filter *f, lua_State *L, const char *s, lua_Integer n,
                     int is_num, char *why, size_t whylen)
{
    (void)P, (void)L, (void)n, (void)is_num;
    return s ? plug__addrset_add(&f->hosts, s, why, whylen) : -1;
}

/* Ports go into one of two bitmaps; the list is read by hand. */
static void ports_into(plug__check *c, lua_State *L, int idx, const char *key, uint8_t **map)
{
    lua_getfield(L, idx, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "%s: filter '%s' must be a list of ports", c->full, key);
    if (!*map && !(*map = calloc(8192, 1)))
        luaL_error(L, "out of memory");
    lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_rawgeti(L, -1, i);
        int ok = 0;
        lua_Integer p = lua_tointegerx(L, -1, &ok);
        if (!ok || p < 0 || p > 65535)
            luaL_error(L, "%s: filter '%s' item %d: a port is a number from 0 to 65535", c->full,
                       key, (int)i);
        bit_set(*map, (size_t)p);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static const char *const filter_keys[] = {
    "l4",    "apps",  "categories", "server_ports", "exclude_server_ports",
    "local", "risks", "hosts",      "hosts_file",   "measured",
};

/* measured = { "latency", "retransmissions" }: the flow carries them. */
static void parse_measured(plug__check *c, plug__filter *f, lua_State *L, int idx)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"latency", PLUG_MEASURED_LATENCY},
                 {"retransmissions", PLUG_MEASURED_RETRANSMISSIONS}};
    lua_getfield(L, idx, "measured");
    for (lua_Integer i = 1; lua_istable(L, -1) && i <= (lua_Integer)lua_rawlen(L, -1); i++) {
        lua_rawgeti(L, -1, i);
        const char *s = lua_tostring(L, -1);
        size_t k = 0;
        while (s && k < FLOE_ARRAY_LEN(names) && strcmp(s, names[k].name) != 0)
            k++;
        if (!s || k == FLOE_ARRAY_LEN(names))
            luaL_error(L, "%s: filter 'measured' takes \"latency\" and \"retransmissions\"",
                       c->full);
        f->measured |= names[k].bit;
        lua_pop(L, 1);
    }
    if (!lua_isnil(L, -1) && !lua_istable(L, -1))
        luaL_error(L, "%s: filter 'measured' must be a list", c->full);
    lua_pop(L, 1);
}

static void reject_unknown_keys(plug__check *c, lua_State *L, int idx)
{
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        size_t i = 0;
        while (k && i < FLOE_ARRAY_LEN(filter_keys) && strcmp(k, filter_keys[i]) != 0)
            i++;
        if (!k || i == FLOE_ARRAY_LEN(filter_keys))
            luaL_error(L, "%s: unknown filter key '%s'", c->full, k ? k : "?");
    }
}

static void parse_local(plug__check *c, plug__filter *f, lua_State *L, int idx)
{
    static const char *const names[] = {"any", "client", "server", "either", "both", "none"};
    lua_getfield(L, idx, "local");
    if (!lua_isnil(L, -1)) {
        const char *s = lua_tostring(L, -1);
        size_t i = 0;
        while (s && i < FLOE_ARRAY_LEN(names) && strcmp(s, names[i]) != 0)
            i++;
        if (!s || i == FLOE_ARRAY_LEN(names))
            luaL_error(L, "%s: filter 'local' must be any, client, server, either, both or none",
                       c->full);
        f->local = (int)i;
    }
    lua_pop(L, 1);
}

static void parse_risks(floe_plugins *P, plug__check *c, plug__filter *f, lua_State *L, int idx)
{
    lua_getfield(L, idx, "risks");
    int any = lua_type(L, -1) == LUA_TBOOLEAN && lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (any)
        f->any_risk = 1;
    else
        each_item(P, c, f, L, idx, "risks", item_risk);
}

/* Reads the filter table at idx into f; raises a Lua error naming the bad
 * key. Runs in protected mode. */
static void filter_read(floe_plugins *P, plug__check *c, plug__filter *f, lua_State *L, int idx)
{
    reject_unknown_keys(c, L, idx);
    lua_getfield(L, idx, "l4");
    int has_l4 = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (has_l4)
        each_item(P, c, f, L, idx, "l4", item_l4);
    else
        memset(f->l4, 0xff, sizeof(f->l4));
    lua_getfield(L, idx, "apps");
    int has_apps = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (has_apps) {
        size_t n = P->env.tables && P->env.tables->dpi ? floe_dpi_app_count(P->env.tables->dpi) : 1;
        f->app_words = (n + 63) / 64;
        if (!(f->apps = calloc(f->app_words, 8)))
            luaL_error(L, "out of memory");
        each_item(P, c, f, L, idx, "apps", item_app);
    }
    lua_getfield(L, idx, "categories");
    int has_cats = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (has_cats) {
        f->cat_words = 4;
        if (!(f->cats = calloc(f->cat_words, 8)))
            luaL_error(L, "out of memory");
        each_item(P, c, f, L, idx, "categories", item_cat);
    }
    ports_into(c, L, idx, "server_ports", &f->ports);
    ports_into(c, L, idx, "exclude_server_ports", &f->not_ports);
    parse_local(c, f, L, idx);
    parse_measured(c, f, L, idx);
    parse_risks(P, c, f, L, idx);
    each_item(P, c, f, L, idx, "hosts", item_host);
    plug__addrset_finish(&f->hosts);
    lua_getfield(L, idx, "hosts_file");
    if (!lua_isnil(L, -1)) {
        const char *path = lua_tostring(L, -1);
        if (!path || !path[0])
            luaL_error(L, "%s: filter 'hosts_file' must be a file name", c->full);
        if (!(f->file = listfile_get(P, path)))
            luaL_error(L, "out of memory");
    }
    lua_pop(L, 1);
}

void plug__filter_free(floe_plugins *P, plug__filter *f)
{
    free(f->apps);
    free(f->cats);
    free(f->ports);
    free(f->not_ports);
    plug__addrset_free(&f->hosts);
    if (f->file)
        f->file->refs--;
    (void)P;
    memset(f, 0, sizeof(*f));
}

typedef struct build_ctx {
    floe_plugins *P;
    plug__check *c;
    plug__filter *f;
} build_ctx;

/* In protected mode: the declared filter (a table, or a function of the
 * config that returns one) read into ctx->f. */
static int filter_build_protected(lua_State *L)
{
    build_ctx *b = lua_touserdata(L, 1);
    plug__check *c = b->c;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->filter_ref);
    if (lua_isfunction(L, -1)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->conf_ref);
        lua_call(L, 1, 1);
    }
    if (lua_isnil(L, -1)) {
        memset(b->f->l4, 0xff, sizeof(b->f->l4));
        return 0;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "%s: filter must be a table, or a function returning one", c->full);
    filter_read(b->P, c, b->f, L, lua_gettop(L));
    return 0;
}

int plug__filter_build(floe_plugins *P, plug__check *c, char *err, size_t errlen)
{
    plug__filter next;
    memset(&next, 0, sizeof(next));
    build_ctx b = {P, c, &next};
    floe_sandbox *sb = &c->p->sb;
    lua_pushcfunction(sb->L, filter_build_protected);
    lua_pushlightuserdata(sb->L, &b);
    int rc = floe_sandbox_call(sb, 1, 0, P->o.insn_limit, err, errlen);
    if (rc != 0) {
        plug__filter_free(P, &next);
        return FLOE_EINVAL;
    }
    int entities_all = c->filter.entities_all;
    plug__filter_free(P, &c->filter);
    c->filter = next;
    c->filter.entities_all = entities_all;
    return 0;
}

/* ---- matching ----------------------------------------------------------------- */

static int local_match(int local, const floe_flow *fl)
{
    int cl = fl->host[0] && fl->host[0]->net >= 0, sl = fl->host[1] && fl->host[1]->net >= 0;
    switch (local) {
    case LOCAL_CLIENT:
        return cl;
    case LOCAL_SERVER:
        return sl;
    case LOCAL_EITHER:
        return cl || sl;
    case LOCAL_BOTH:
        return cl && sl;
    case LOCAL_NONE:
        return !cl && !sl;
    default:
        return 1;
    }
}

int plug__flow_in_set(const plug__addrset *s, const floe_flow *fl)
{
    return plug__addrset_has(s, &fl->key.a) || plug__addrset_has(s, &fl->key.b);
}

int plug__filter_flow(const floe_plugins *P, const plug__filter *f, const floe_flow *fl)
{
    (void)P;
    if (!bit_get(f->l4, fl->key.ipproto))
        return 0;
    if (f->apps && !plug__app_in(f->apps, f->app_words, fl->app.app) &&
        !plug__app_in(f->apps, f->app_words, fl->app.master))
        return 0;
    if (f->cats && !plug__app_in(f->cats, f->cat_words, fl->app.category))
        return 0;
    if (f->ports || f->not_ports) {
        uint16_t port;
        floe_flow_server(fl, &port);
        if (f->ports && !bit_get(f->ports, port))
            return 0;
        if (f->not_ports && bit_get(f->not_ports, port))
            return 0;
    }
    if (f->local != LOCAL_ANY && !local_match(f->local, fl))
        return 0;
    if ((f->measured & PLUG_MEASURED_LATENCY) && !(fl->cli_latency_us | fl->srv_latency_us))
        return 0;
    if ((f->measured & PLUG_MEASURED_RETRANSMISSIONS) && !(fl->retrans[0] | fl->retrans[1]))
        return 0;
    if (f->any_risk && !fl->risk)
        return 0;
    if (f->risks && !(fl->risk & f->risks))
        return 0;
    if (f->hosts.n && !plug__flow_in_set(&f->hosts, fl))
        return 0;
    if (f->file && (!f->file->set.n || !plug__flow_in_set(&f->file->set, fl)))
        return 0;
    return 1;
}

/* ---- the prefilter ------------------------------------------------------------ */

static int words_or(uint64_t **dst, size_t *dst_words, const uint64_t *src, size_t words)
{
    if (*dst_words < words) {
        uint64_t *grown = realloc(*dst, words * 8);
        if (!grown)
            return -1;
        memset(grown + *dst_words, 0, (words - *dst_words) * 8);
        *dst = grown;
        *dst_words = words;
    }
    for (size_t i = 0; i < words; i++)
        (*dst)[i] |= src[i];
    return 0;
}

void plug__prefilter_add(plug__prefilter *pf, const plug__filter *f)
{
    for (size_t i = 0; i < sizeof(pf->l4); i++)
        pf->l4[i] |= f->l4[i];
    if (f->apps) {
        if (words_or(&pf->apps, &pf->app_words, f->apps, f->app_words) != 0)
            pf->always = 1;
    } else if (f->cats) {
        if (words_or(&pf->cats, &pf->cat_words, f->cats, f->cat_words) != 0)
            pf->always = 1;
    } else if (f->risks || f->any_risk) {
        pf->risks |= f->risks;
        pf->any_risk |= f->any_risk;
    } else if ((f->hosts.n || f->file) && pf->n_sets + 2 <= PREFILTER_SETS) {
        if (f->hosts.n)
            pf->sets[pf->n_sets++] = &f->hosts;
        if (f->file)
            pf->sets[pf->n_sets++] = &f->file->set;
    } else {
        pf->always = 1;
    }
}

void plug__prefilter_free(plug__prefilter *pf)
{
    free(pf->apps);
    free(pf->cats);
    memset(pf, 0, sizeof(*pf));
}
