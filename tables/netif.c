/*
 * The interface and network tables, and exporter application ids. An
 * interface is (exporter, ifIndex), counted from flow records and, for
 * sFlow, from the agent's own counter samples. A network is one of the
 * configured local networks, counted in, out and inner.
 */
#include "tables/internal.h"

#include <stdio.h>
#include <stdlib.h>

#define IFACE_SEED         0x69666163ULL /* "ifac" */
#define NTOP_PEN           35632
#define ENGINE_PANA_L7_PEN 20

/* ---- networks ------------------------------------------------------------ */

int floe_net_parse(floe_net *n, const char *text)
{
    char addr[64];
    const char *slash = strchr(text, '/');
    memset(n, 0, sizeof(*n));
    if (!slash || (size_t)(slash - text) >= sizeof(addr))
        return FLOE_EINVAL;
    memcpy(addr, text, (size_t)(slash - text));
    addr[slash - text] = '\0';
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    if (*end || slash[1] == '\0' || floe_addr_parse(&n->prefix, addr) != 0)
        return FLOE_EINVAL;
    long max = floe_addr_is_v4(&n->prefix) ? 32 : 128;
    if (bits < 0 || bits > max)
        return FLOE_EINVAL;
    n->bits = (uint8_t)(bits + (max == 32 ? 96 : 0));
    snprintf(n->name, sizeof(n->name), "%s", text);
    /* Clear host bits so "10.1.2.3/8" means 10.0.0.0/8. */
    for (int i = n->bits; i < 128; i++)
        n->prefix.b[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
    return 0;
}

int floe_net_contains(const floe_net *n, const floe_addr *a)
{
    int full = n->bits / 8, rest = n->bits % 8;
    if (memcmp(n->prefix.b, a->b, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return (a->b[full] & mask) == n->prefix.b[full];
}

int tables__nets_init(floe_tables *t, const floe_tables_opts *cfg, char *err, size_t errlen)
{
    t->nets = calloc(cfg->n_local_networks ? cfg->n_local_networks : 1, sizeof(*t->nets));
    if (!t->nets) {
        snprintf(err, errlen, "out of memory");
        return FLOE_ENOMEM;
    }
    for (size_t i = 0; i < cfg->n_local_networks; i++) {
        if (floe_net_parse(&t->nets[i], cfg->local_networks[i]) != 0) {
            snprintf(err, errlen, "key 'local_networks' item %zu '%s': expected ADDR/BITS", i + 1,
                     cfg->local_networks[i]);
            return FLOE_ECONFIG;
        }
    }
    t->n_nets = cfg->n_local_networks;
    return 0;
}

void tables__nets_account(floe_tables *t, const floe_host *from, const floe_host *to,
                          uint64_t bytes, uint64_t pkts)
{
    int nf = from ? from->net : -1, nt = to ? to->net : -1;
    if (nf >= 0 && nf == nt) {
        t->nets[nf].bytes_inner += bytes;
        t->nets[nf].pkts_inner += pkts;
        return;
    }
    if (nf >= 0) {
        t->nets[nf].bytes_out += bytes;
        t->nets[nf].pkts_out += pkts;
    }
    if (nt >= 0) {
        t->nets[nt].bytes_in += bytes;
        t->nets[nt].pkts_in += pkts;
    }
}

/* ---- interfaces ---------------------------------------------------------- */

typedef struct iface_key {
    uint64_t exporter;
    uint32_t ifindex;
    uint32_t pad;
} iface_key;

/* Where (exporter, ifindex) goes in the cache in front of the table: a
 * flow record names two interfaces, and a few dozen take most records. */
static inline floe_iface **iface_cache_slot(floe_tables *t, uint64_t exporter, uint32_t ifindex)
{
    uint64_t x = (exporter * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)ifindex * 0xbf58476d1ce4e5b9ULL);
    return &t->iface_cache[x >> 56];
}

/* Least recently updated first, to the millisecond: an interface already
 * updated in this millisecond keeps its place (a record names two, and
 * moving them for every record would touch their neighbours each time). */
static inline void iface_touch(floe_tables *t, floe_iface *i, uint64_t now)
{
    if (i->last_ms != now && t->iface_lru.prev != &i->lru)
        floe_list_move_tail(&t->iface_lru, &i->lru);
    i->last_ms = now;
}

static floe_iface *iface_evict_oldest(floe_tables *t)
{
    floe_iface *old = FLOE_CONTAINER_OF(t->iface_lru.next, floe_iface, lru);
    floe_iface **c = iface_cache_slot(t, old->exporter, old->ifindex);
    if (*c == old)
        *c = NULL;
    floe_hmap_remove(&t->ifaces, &old->node);
    floe_list_remove(&old->lru);
    floe_pool_free(&t->iface_pool, old);
    t->st.iface_evictions++;
    return floe_pool_alloc(&t->iface_pool);
}

/* The interface behind a miss of the cache: from the table, or new. Out of
 * line, so that the hit stays a few instructions in the caller. */
static __attribute__((noinline)) floe_iface *
iface_lookup(floe_tables *t, floe_iface **c, uint64_t exporter, uint32_t ifindex, uint64_t now)
{
    floe_iface *i;
    iface_key k = {exporter, ifindex, 0};
    uint64_t h = floe_hash(&k, sizeof(k), IFACE_SEED);
    for (floe_hnode *n = floe_hmap_bucket(&t->ifaces, h); n; n = n->next) {
        i = FLOE_CONTAINER_OF(n, floe_iface, node);
        if (n->hash == h && i->exporter == exporter && i->ifindex == ifindex) {
            iface_touch(t, i, now);
            *c = i;
            return i;
        }
    }
    i = floe_pool_alloc(&t->iface_pool);
    if (!i && !floe_list_empty(&t->iface_lru))
        i = iface_evict_oldest(t);
    if (!i)
        return NULL;
    i->exporter = exporter;
    i->ifindex = ifindex;
    i->last_ms = now;
    i->node.hash = h;
    floe_hmap_insert(&t->ifaces, &i->node);
    floe_list_init(&i->lru);
    floe_list_push_tail(&t->iface_lru, &i->lru);
    *c = i;
    return i;
}

static inline floe_iface *iface_get(floe_tables *t, uint64_t exporter, uint32_t ifindex,
                                    uint64_t now)
{
    floe_iface **c = iface_cache_slot(t, exporter, ifindex);
    floe_iface *i = *c;
    if (__builtin_expect(i && i->exporter == exporter && i->ifindex == ifindex, 1)) {
        iface_touch(t, i, now);
        return i;
    }
    return iface_lookup(t, c, exporter, ifindex, now);
}

void tables__ifaces_account(floe_tables *t, uint64_t exporter, const uint32_t ifs[2],
                            uint64_t bytes, uint64_t pkts, uint64_t now)
{
    floe_iface *i;
    if (ifs[0] && (i = iface_get(t, exporter, ifs[0], now))) {
        i->bytes_in += bytes;
        i->pkts_in += pkts;
    }
    if (ifs[1] && (i = iface_get(t, exporter, ifs[1], now))) {
        i->bytes_out += bytes;
        i->pkts_out += pkts;
    }
}

void floe_tables_ifcounters(floe_tables *t, const floe_ifcounters *c, uint64_t now)
{
    floe_iface *i = iface_get(t, c->exporter_id, c->ifindex, now);
    if (!i)
        return;
    i->has_counters = 1;
    i->counters_ms = now;
    i->counters = *c;
}

/* ---- exporter application ids -------------------------------------------- */

#define APPNAME_SEED 0x6170706eULL /* "appn" */

/* An exporter's (engine, selector) and the nDPI label its name maps to. */
typedef struct appname {
    floe_hnode node;
    floe_list lru;
    uint64_t exporter;
    uint64_t selector;
    uint8_t engine;
    uint8_t known; /* 0: the name matched no nDPI protocol */
    floe_app_label label;
} appname;

int tables__appnames_init(floe_tables *t)
{
    if (floe_pool_init(&t->appname_pool, sizeof(appname), 256, FLOE_APPNAMES_MAX) != 0)
        return FLOE_EINVAL;
    return floe_hmap_init(&t->appnames, 256, 0);
}

static uint64_t appname_hash(uint64_t exporter, uint8_t engine, uint64_t selector)
{
    uint64_t k[3] = {exporter, engine, selector};
    return floe_hash(k, sizeof(k), APPNAME_SEED);
}

static appname *appname_find(floe_tables *t, uint64_t exporter, const floe_app *app)
{
    uint64_t h = appname_hash(exporter, app->engine, app->selector);
    for (floe_hnode *n = floe_hmap_bucket(&t->appnames, h); n; n = n->next) {
        appname *a = FLOE_CONTAINER_OF(n, appname, node);
        if (n->hash == h && a->exporter == exporter && a->engine == app->engine &&
            a->selector == app->selector)
            return a;
    }
    return NULL;
}

void floe_tables_appname(floe_tables *t, const floe_appname *in)
{
    uint64_t id = in->exporter_id;
    char name[64];
    if (!t->dpi || in->name_len == 0)
        return;
    /* Names are padded with NULs or spaces in fixed-length fields. */
    size_t n = in->name_len < sizeof(name) - 1 ? in->name_len : sizeof(name) - 1;
    memcpy(name, in->name, n);
    name[n] = '\0';
    n = strlen(name);
    while (n && name[n - 1] == ' ')
        name[--n] = '\0';
    appname *a = appname_find(t, id, &in->app);
    if (!a) {
        a = floe_pool_alloc(&t->appname_pool);
        if (!a && !floe_list_empty(&t->appname_lru)) {
            appname *old = FLOE_CONTAINER_OF(t->appname_lru.next, appname, lru);
            floe_hmap_remove(&t->appnames, &old->node);
            floe_list_remove(&old->lru);
            floe_pool_free(&t->appname_pool, old);
            a = floe_pool_alloc(&t->appname_pool);
        }
        if (!a)
            return;
        a->exporter = id;
        a->engine = in->app.engine;
        a->selector = in->app.selector;
        a->node.hash = appname_hash(id, a->engine, a->selector);
        floe_hmap_insert(&t->appnames, &a->node);
        floe_list_init(&a->lru);
    }
    floe_list_move_tail(&t->appname_lru, &a->lru);
    a->known = floe_dpi_by_name(t->dpi, name, &a->label) == 0;
}

/* IE 95 (RFC 6759). With the PANA-L7-PEN engine and ntop's PEN the selector
 * is an nDPI protocol id, as nProbe exports it. Any other engine's ids are
 * named by the exporter's options records, learnt by floe_tables_appname. */
int tables__app_from_ie95(floe_tables *t, uint64_t exporter, const floe_app *app,
                          floe_app_label *out)
{
    if (app->engine == ENGINE_PANA_L7_PEN && app->selector_len > 4 && app->selector_len <= 8) {
        unsigned id_bytes = app->selector_len - 4u;
        uint64_t pen = app->selector >> (8 * id_bytes);
        uint64_t id =
            id_bytes == 8 ? app->selector : app->selector & ((((uint64_t)1) << (8 * id_bytes)) - 1);
        if (pen == NTOP_PEN)
            return floe_dpi_by_id(t->dpi, (uint32_t)id, out);
    }
    const appname *a = appname_find(t, exporter, app);
    if (a && a->known) {
        *out = a->label;
        return 0;
    }
    return FLOE_ENOTFOUND;
}
