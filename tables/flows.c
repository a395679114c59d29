/*
 * The flow and host tables. Records become bidirectional conversations
 * keyed by (exporter, VLAN, protocol, both endpoints); each conversation
 * points at its client and server hosts, so a record costs one hash lookup
 * for the flow, and host counters are updated through those pointers.
 * Memory is bounded by pools; the eviction policy is in collector.h.
 */
#include "tables/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define FLOW_SEED  0x666c6f77ULL /* "flow" */
#define HOST_SEED  0x686f7374ULL /* "host" */
#define POOL_CHUNK 4096

#define TCP_SYN 0x02
#define TCP_ACK 0x10

static const char *const event_names[FLOE_EV_COUNT] = {
#define HOOK(id, name) name,
#include "tables/hooks.def"
#undef HOOK
};

static const char *const app_source_names[] = {"none", "guess", "dpi", "exporter"};

const char *floe_flow_event_name(int ev)
{
    return ev >= 0 && ev < FLOE_EV_COUNT ? event_names[ev] : "?";
}

const char *floe_app_source_name(int src)
{
    return src >= 0 && src < (int)FLOE_ARRAY_LEN(app_source_names) ? app_source_names[src] : "?";
}

static void fire(floe_tables *t, int ev, floe_flow *f)
{
    if (t->hooks.wanted & (1u << ev))
        t->hooks.event(t->hooks.ud, ev, f);
}

/* flowEnd and the periodic update also go to the tap. Only these: the
 * record path (flowCreate, protocolDetected) stays as it was without one. */
static void fire_tap(floe_tables *t, int ev, floe_flow *f)
{
    fire(t, ev, f);
    if (t->tap.wanted & (1u << ev))
        t->tap.event(t->tap.ud, ev, f);
}

/* protocolDetected, once per flow. */
static void fire_detected(floe_tables *t, floe_flow *f)
{
    if (f->detected)
        return;
    f->detected = 1;
    fire(t, FLOE_EV_PROTOCOL_DETECTED, f);
}

/* ---- hosts --------------------------------------------------------------- */

static uint64_t host_hash(const floe_addr *a)
{
    return floe_hash(a, sizeof(*a), HOST_SEED);
}

static inline int host_is(const void *item, const void *addr)
{
    return floe_addr_eq(&((const floe_host *)item)->addr, addr);
}

static inline floe_host *host_find(const floe_tables *t, const floe_addr *a, uint64_t h)
{
    return floe_tmap_find(&t->hosts, h, host_is, a);
}

floe_host *floe_tables_host(floe_tables *t, const floe_addr *a)
{
    return host_find(t, a, host_hash(a));
}

static void host_free(floe_tables *t, floe_host *h)
{
    if (h->net >= 0)
        t->nets[h->net].hosts--;
    floe_tmap_remove(&t->hosts, host_hash(&h->addr), h);
    floe_list_remove(&h->lru);
    floe_pool_free(&t->host_pool, h);
}

static int find_net(const floe_tables *t, const floe_addr *a)
{
    for (size_t i = 0; i < t->n_nets; i++)
        if (floe_net_contains(&t->nets[i], a))
            return (int)i;
    return -1;
}

/* Finds or creates the host; NULL when the table is full of hosts that all
 * have live flows. */
static floe_host *host_get(floe_tables *t, const floe_addr *a, uint64_t hash, uint64_t now)
{
    floe_host *h = host_find(t, a, hash);
    if (h)
        return h;
    h = floe_pool_alloc(&t->host_pool);
    if (!h && !floe_list_empty(&t->host_idle)) {
        host_free(t, FLOE_CONTAINER_OF(t->host_idle.next, floe_host, lru));
        t->st.host_evictions++;
        h = floe_pool_alloc(&t->host_pool);
    }
    if (!h) {
        t->st.host_full++;
        return NULL;
    }
    h->addr = *a;
    h->first_ms = h->last_ms = now;
    h->net = find_net(t, a);
    h->ip_app = t->dpi ? floe_dpi_ip_app(t->dpi, a) : 0;
    if (h->net >= 0)
        t->nets[h->net].hosts++;
    floe_tmap_insert(&t->hosts, hash, h); /* cannot fail: the pool has the same bound */
    floe_list_init(&h->lru);
    floe_list_push_tail(&t->host_idle, &h->lru);
    return h;
}

/* A flow starts referring to the host: it leaves the idle list. With
 * count, the flow also counts in the host's totals. */
static void host_attach(floe_tables *t, floe_host *h, int server, int count)
{
    if (!h)
        return;
    if (h->active_client + h->active_server == 0)
        floe_list_remove(&h->lru); /* off the idle list: it cannot be evicted now */
    if (server) {
        h->active_server++;
        h->flows_server += (uint64_t)count;
    } else {
        h->active_client++;
        h->flows_client += (uint64_t)count;
    }
}

static void host_detach(floe_tables *t, floe_host *h, int server)
{
    if (!h)
        return;
    if (server)
        h->active_server--;
    else
        h->active_client--;
    if (h->active_client + h->active_server == 0)
        floe_list_push_tail(&t->host_idle, &h->lru);
}

/* The slot of app among the host's top applications, or -1. An empty slot
 * (no bytes) is nobody's, not application 0's. */
static inline int host_app_slot(const floe_host *h, uint16_t app)
{
#ifdef __SSE2__
    if (app) { /* ids other than 0 are in at most one slot: compare all eight at once */
        __m128i ids = _mm_loadu_si128((const __m128i *)(const void *)h->top_app);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi16(ids, _mm_set1_epi16((short)app)));
        return m ? __builtin_ctz(m) / 2 : -1;
    }
#endif
    for (int i = 0; i < FLOE_HOST_TOP_APPS; i++)
        if (h->top_app[i] == app && (h->top_bytes[i] || app))
            return i;
    return -1;
}

/* Space-saving top-N: a known app adds; a new one takes a free slot or
 * replaces the smallest, inheriting its count (an upper bound). */
static void host_app_bytes(floe_host *h, uint16_t app, uint64_t bytes)
{
    int i = host_app_slot(h, app);
    if (i < 0) {
        /* The smallest slot, without a branch on each count (which would
         * go either way, as the counts do): conditional moves. */
        uint64_t least = h->top_bytes[0];
        i = 0;
#pragma GCC unroll 8
        for (int k = 1; k < FLOE_HOST_TOP_APPS; k++) {
            uint64_t v = h->top_bytes[k];
            int lt = v < least;
            least = lt ? v : least;
            i = lt ? k : i;
        }
        h->top_app[i] = app;
    }
    h->top_bytes[i] += bytes;
}

/* ---- flows --------------------------------------------------------------- */

_Static_assert(sizeof(floe_flow_key) == 48 && offsetof(floe_flow_key, port_a) == 32 &&
                   offsetof(floe_flow_key, vlan) == 36 && offsetof(floe_flow_key, ipproto) == 38 &&
                   offsetof(floe_flow_key, exporter) == 40,
               "flow_key writes and flow_key_eq compares six words");
_Static_assert(sizeof(floe_flow) == 256 && offsetof(floe_flow, bytes) == 64 &&
                   offsetof(floe_flow, host) == 128 && offsetof(floe_flow, first_ms) == 192,
               "a flow is four lines, laid out by use (see tables.h)");
_Static_assert(offsetof(floe_host, lru) == 64 && offsetof(floe_host, top_bytes) == 128 &&
                   sizeof(floe_host) % 64 == 0,
               "a host's lines, laid out by use (see tables.h)");

/*
 * A key's hash, from its six words. Three independent 64 x 64 -> 128-bit
 * products, folded, then one more: about 12 cycles from the words to the
 * hash, where a chain through each word in turn took 40, which the next
 * records' work could not fill while their bucket prefetches held up the
 * reorder buffer. The seeds are drawn at random when the table is made:
 * with known ones, an exporter could send keys whose word equals its seed,
 * which zeroes a product whatever the other word holds, and pile any
 * number of flows on one bucket.
 */
static inline uint64_t flow_fold(uint64_t a, uint64_t b)
{
    unsigned __int128 m = (unsigned __int128)a * b;
    return (uint64_t)m ^ (uint64_t)(m >> 64);
}

static inline uint64_t flow_mix(const uint64_t s[8], const uint64_t w[6])
{
    uint64_t a = flow_fold(w[0] ^ s[0], w[1] ^ s[1]);
    uint64_t b = flow_fold(w[2] ^ s[2], w[3] ^ s[3]);
    uint64_t c = flow_fold(w[4] ^ s[4], w[5] ^ s[5]);
    return flow_fold(a ^ b ^ s[6], c ^ s[7]);
}

static void flow_seed_init(uint64_t s[8])
{
    static const uint64_t fixed[8] = {
        0xa0761d6478bd642fULL, 0xe7037ed1a0b428dbULL, 0x8ebc6af09c88c6e3ULL, 0x589965cc75374cc3ULL,
        0x1d8e4e27c47d124fULL, 0x9e3779b97f4a7c15ULL, 0xbf58476d1ce4e5b9ULL, FLOW_SEED};
    uint64_t r[8] = {0};
    if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        memset(r, 0, sizeof(r)); /* early boot: the fixed seeds alone */
    for (int i = 0; i < 8; i++)
        s[i] = fixed[i] ^ r[i];
}

/* The key's hash: the same as flow_key gives for the record it came from. */
static inline uint64_t flow_hash(const floe_tables *t, const floe_flow *f)
{
    uint64_t w[6];
    memcpy(w, &f->key, sizeof(w));
    return flow_mix(t->flow_seed, w);
}

static inline int flow_key_eq(const floe_flow_key *a, const floe_flow_key *b)
{
    uint64_t x[6], y[6];
    memcpy(x, a, sizeof(x));
    memcpy(y, b, sizeof(y));
    return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]) |
            (x[5] ^ y[5])) == 0;
}

/* A record's flow key and hash, worked out ahead of applying it. */
typedef struct record_prep {
    floe_flow_key key;
    uint64_t hash;
    int src_is_a;
    int chained;           /* its bucket overflowed: look again at stage 2 */
    int have_hosts;        /* host_hash is set */
    uint64_t host_hash[2]; /* of the record's source and destination */
} record_prep;

/* The hosts' hashes, once per record, for the prefetches and host_get. */
static inline void record_host_hashes(const floe_record *r, record_prep *p)
{
    if (!p->have_hosts) {
        p->host_hash[0] = host_hash(&r->src);
        p->host_hash[1] = host_hash(&r->dst);
        p->have_hosts = 1;
    }
}

static inline int flow_is(const void *item, const void *prep)
{
    const floe_flow *f = item;
    const record_prep *p = prep;
    return flow_key_eq(&f->key, &p->key); /* the tags have sorted out nearly all others */
}

static inline floe_flow *flow_find(const floe_tables *t, const record_prep *p)
{
    return floe_tmap_find(&t->flows, p->hash, flow_is, p);
}

const floe_addr *floe_flow_client(const floe_flow *f, uint16_t *port)
{
    if (port)
        *port = f->cli_is_a ? f->key.port_a : f->key.port_b;
    return f->cli_is_a ? &f->key.a : &f->key.b;
}

const floe_addr *floe_flow_server(const floe_flow *f, uint16_t *port)
{
    if (port)
        *port = f->cli_is_a ? f->key.port_b : f->key.port_a;
    return f->cli_is_a ? &f->key.b : &f->key.a;
}

/* Grows the application totals to hold id app; 0 or -1 (out of memory:
 * the bytes are not counted by application). */
static int apps_grow(floe_tables *t, uint16_t app)
{
    size_t n = t->n_apps ? t->n_apps : 512;
    while (n <= app)
        n *= 2;
    floe_app_totals *grown = realloc(t->apps, n * sizeof(*grown));
    if (!grown)
        return -1;
    memset(grown + t->n_apps, 0, (n - t->n_apps) * sizeof(*grown));
    t->apps = grown;
    t->n_apps = n;
    return 0;
}

static inline void app_account(floe_tables *t, uint16_t app, uint64_t bytes, uint64_t pkts)
{
    if (app >= t->n_apps && apps_grow(t, app) != 0)
        return;
    t->apps[app].bytes += bytes;
    t->apps[app].pkts += pkts;
}

/* Whether the flow's next flush adds its client's SYN to the server's
 * syns_rcvd (a line of the host that the flush reads for nothing else). */
static inline int flow_counts_syn(const floe_flow *f)
{
    return !f->syn_counted & ((f->tcp_flags[0] & TCP_SYN) != 0) & (f->key.ipproto == 6);
}

/* Adds a flow's pending counters to its hosts and networks. */
static void flow_flush(floe_tables *t, floe_flow *f)
{
    for (int dir = 0; dir < 2; dir++) {
        uint64_t b = f->pend_bytes[dir], p = f->pend_pkts[dir];
        if (!b && !p)
            continue;
        floe_host *from = f->host[dir], *to = f->host[!dir];
        if (from) {
            from->bytes_sent += b, from->pkts_sent += p, from->last_ms = f->last_ms;
            host_app_bytes(from, f->app.app, b);
        }
        if (to) {
            to->bytes_rcvd += b, to->pkts_rcvd += p, to->last_ms = f->last_ms;
            host_app_bytes(to, f->app.app, b);
        }
        tables__nets_account(t, from, to, b, p);
        tables__ifaces_account(t, f->key.exporter, f->ifs[dir], b, p, f->last_ms);
        app_account(t, f->app.app, b, p);
        t->st.bytes += b;
        t->st.packets += p;
        f->pend_bytes[dir] = f->pend_pkts[dir] = 0;
    }
    if (flow_counts_syn(f)) {
        f->syn_counted = 1;
        if (f->host[1])
            f->host[1]->syns_rcvd++;
    }
    if (f->dirty) {
        floe_fifo_clear_slot(&t->dirty, f->dirty_slot - 1);
        f->dirty_slot = 0;
        f->dirty = 0;
        t->n_dirty--;
    }
}

/* ---- statuses ------------------------------------------------------------ */

/* The flow's score moves by delta; so do its hosts'. */
static void flow_rescore(floe_flow *f)
{
    uint32_t sum = 0;
    for (uint16_t i = 0; f->status && i < f->status->n; i++)
        sum += f->status->s[i].score;
    uint16_t score = sum > 65535 ? 65535 : (uint16_t)sum;
    for (int i = 0; i < 2; i++)
        if (f->host[i])
            f->host[i]->score = f->host[i]->score - f->score + score;
    f->score = score;
}

static void flow_statuses_free(floe_flow *f)
{
    for (uint16_t i = 0; i < f->status->n; i++)
        free(f->status->s[i].info);
    free(f->status);
    f->status = NULL;
    flow_rescore(f);
}

const floe_flow_status *floe_flow_status_find(const floe_flow *f, uint32_t id)
{
    for (uint16_t i = 0; f->status && i < f->status->n; i++)
        if (f->status->s[i].id == id)
            return &f->status->s[i];
    return NULL;
}

const floe_flow_status *floe_flow_predominant(const floe_flow *f)
{
    const floe_flow_status *best = NULL;
    for (uint16_t i = 0; f->status && i < f->status->n; i++)
        if (!best || f->status->s[i].score > best->score)
            best = &f->status->s[i];
    return best;
}

/* Room for one more status; 0 or a negative code. */
static int status_room(floe_flow *f)
{
    floe_status_set *set = f->status;
    if (set && set->n < set->cap)
        return 0;
    uint16_t cap = set ? (uint16_t)(set->cap * 2) : 2;
    if (set && set->n >= FLOE_FLOW_STATUSES)
        return FLOE_ELIMIT;
    if (cap > FLOE_FLOW_STATUSES)
        cap = FLOE_FLOW_STATUSES;
    floe_status_set *grown = realloc(set, sizeof(*set) + cap * sizeof(set->s[0]));
    if (!grown)
        return FLOE_ENOMEM;
    if (!set)
        grown->n = 0;
    grown->cap = cap;
    f->status = grown;
    return 0;
}

int floe_flow_set_status(floe_flow *f, uint32_t id, uint16_t score, const char *info)
{
    char *copy = NULL;
    if (info && !(copy = strdup(info)))
        return FLOE_ENOMEM;
    floe_flow_status *st = (floe_flow_status *)floe_flow_status_find(f, id);
    int added = st == NULL;
    if (!st) {
        int rc = status_room(f);
        if (rc != 0) {
            free(copy);
            return rc;
        }
        st = &f->status->s[f->status->n++];
        st->id = id;
        st->info = NULL;
    }
    free(st->info);
    st->info = copy;
    st->score = score;
    flow_rescore(f);
    return added;
}

int floe_flow_clear_status(floe_flow *f, uint32_t id)
{
    floe_flow_status *st = (floe_flow_status *)floe_flow_status_find(f, id);
    if (!st)
        return 0;
    free(st->info);
    *st = f->status->s[--f->status->n];
    if (f->status->n == 0)
        flow_statuses_free(f);
    else
        flow_rescore(f);
    return 1;
}

/* Ends a flow whose key hashes to hash (flow_hash). */
static void flow_end_hashed(floe_tables *t, floe_flow *f, int reason, uint64_t hash)
{
    static const size_t counters[] = {
        offsetof(floe_tables_stats, flows_idle), offsetof(floe_tables_stats, flows_exporter_end),
        offsetof(floe_tables_stats, flow_evictions),
        offsetof(floe_tables_stats, flows_ended), /* shutdown: counted below only */
    };
    if (reason != FLOE_END_SHUTDOWN)
        (*(uint64_t *)(void *)((char *)&t->st + counters[reason]))++;
    t->st.flows_ended++;
    flow_flush(t, f);
    fire_detected(t, f); /* a flow whose sampled packets never gave a verdict */
    fire_tap(t, FLOE_EV_FLOW_END, f);
    if (f->dpi)
        floe_dpi_release(t->dpi, &f->dpi);
    if (f->status)
        flow_statuses_free(f);
    host_detach(t, f->host[0], 0);
    host_detach(t, f->host[1], 1);
    if (floe_tmap_remove(&t->flows, hash, f) != 0)
        floe_tmap_remove(&t->flows, flow_hash(t, f), f); /* not expected: a stale hash */
    floe_fifo_clear_slot(&t->flow_lru, f->lru_slot);
    if (f->periodic_slot)
        floe_fifo_clear_slot(&t->periodic, f->periodic_slot - 1);
    floe_pool_free(&t->flow_pool, f);
}

static void flow_end(floe_tables *t, floe_flow *f, int reason)
{
    flow_end_hashed(t, f, reason, flow_hash(t, f));
}

/* Well-known service ports beyond 1..1023, for deciding the server side;
 * floe_tables_init turns them into a bitmap. */
static const uint16_t services[] = {1194, 1433, 1521, 1883, 2049, 3128, 3306,  3389,
                                    5060, 5222, 5432, 5672, 5900, 6379, 6443,  8000,
                                    8080, 8443, 8883, 9000, 9092, 9200, 11211, 27017};

static void well_known_init(uint8_t *bits)
{
    memset(bits, 0, 8192);
    for (unsigned p = 1; p < 1024; p++)
        bits[p / 8] |= (uint8_t)(1u << (p % 8));
    for (size_t i = 0; i < FLOE_ARRAY_LEN(services); i++)
        bits[services[i] / 8] |= (uint8_t)(1u << (services[i] % 8));
}

static inline int well_known(const floe_tables *t, uint16_t port)
{
    return (t->well_known[port / 8] >> (port % 8)) & 1;
}

/* Whether a record is TCP with SYN among its flags, without a branch. */
static inline unsigned record_syn(const floe_record *r)
{
    return (r->ipproto == 6) & ((r->has & FLOE_F(TCP_FLAGS)) != 0) &
           ((r->tcp_flags & TCP_SYN) != 0);
}

/* Which side of a record is the client: 1 its source, 0 its destination,
 * -1 no evidence. *certain is set when a lone SYN or SYN-ACK decided it.
 * Whether a record is TCP, and which of its ports are services, goes
 * either way from record to record, so the evidence is weighed with
 * arithmetic and a table rather than with branches. */
static int src_is_client(const floe_tables *t, const floe_record *r, int *certain)
{
    /* RFC 5103 biflowDirection: 1 the source initiated, 2 the destination. */
    if (__builtin_expect((r->has & FLOE_F(BIFLOW_DIR)) != 0, 0) &&
        (r->biflow_dir == 1 || r->biflow_dir == 2)) {
        *certain = 1;
        return r->biflow_dir == 1;
    }
    unsigned fl = r->tcp_flags & 0x3f;
    unsigned syn = record_syn(r);
    unsigned lone = syn & ((fl & TCP_ACK) == 0), synack = syn & (fl == (TCP_SYN | TCP_ACK));
    unsigned sure = lone | synack;
    /* By the ports, indexed by bits: 1 the source's is a service, 2 the
     * destination's, 4 they are equal, 8 the destination's is lower. Only
     * one service: its side is the server; both: the lower port's; none,
     * or the same port: no evidence. */
    static const int8_t by_ports[16] = {-1, 0, 1, 0, -1, 0, 1, -1, -1, 0, 1, 1, -1, 0, 1, -1};
    unsigned i = well_known(t, r->sport) | well_known(t, r->dport) << 1 |
                 (unsigned)(r->sport == r->dport) << 2 | (unsigned)(r->dport < r->sport) << 3;
    *certain = (int)sure;
    return (by_ports[i] & -(int)(sure ^ 1)) | (int)lone;
}

/*
 * A record's flow key, and its hash. The hash is taken from the words as
 * they are built, in registers: reading the key back from memory right
 * after writing it in 1-, 2- and 16-byte pieces stalls on store
 * forwarding. It is flow_mix over the same six words.
 */
static inline __attribute__((always_inline)) uint64_t flow_key(const uint64_t seed[8],
                                                               const floe_record *r,
                                                               uint64_t exporter, floe_flow_key *k,
                                                               int *src_is_a)
{
    /* Word by word: the decoder wrote each address as two 8-byte words
     * (floe_addr_from_v4), which forward to 8-byte loads and not to one of
     * 16. */
    uint64_t s[2], d[2];
    for (int i = 0; i < 2; i++) {
        memcpy(&s[i], r->src.b + 8 * i, 8);
        memcpy(&d[i], r->dst.b + 8 * i, 8);
    }
    /* Which end is a: the lower address, then the lower port. Which it is
     * goes either way from record to record, so it is chosen with masks
     * rather than branches. */
    uint64_t sa = (s[0] < d[0]) |
                  ((s[0] == d[0]) & ((s[1] < d[1]) | ((s[1] == d[1]) & (r->sport <= r->dport))));
    *src_is_a = (int)sa;
    uint64_t m = -sa; /* all ones when the source is a */
    uint64_t vlan = (r->has & FLOE_F(VLAN)) ? r->vlan : 0;
    /* Two loads, as the decoder made two stores: one 4-byte load of both
     * ports (which GCC would make of this) waits for them to reach the
     * cache. */
    uint64_t sport = r->sport, dport = r->dport;
    __asm__("" : "+r"(sport));
    uint64_t ports = sport | dport << 16;
    uint64_t swapped = (ports >> 16) | (ports & 0xffff) << 16;
    uint64_t w[6] = {(s[0] & m) | (d[0] & ~m),
                     (s[1] & m) | (d[1] & ~m),
                     (d[0] & m) | (s[0] & ~m),
                     (d[1] & m) | (s[1] & ~m),
                     ((ports & m) | (swapped & ~m)) | vlan << 32 | (uint64_t)r->ipproto << 48,
                     exporter};
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The key is these six words, as they lie in memory: six stores,
     * from registers (one copy of the array went through the stack,
     * stored in 8-byte words and loaded in 16-byte ones, which the stores
     * could not forward). */
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
        uint64_t x = w[i];
        __asm__("" : "+r"(x));
        memcpy((char *)k + 8 * i, &x, 8);
    }
#else
    k->a = sa ? r->src : r->dst;
    k->b = sa ? r->dst : r->src;
    k->port_a = sa ? r->sport : r->dport;
    k->port_b = sa ? r->dport : r->sport;
    k->vlan = (uint16_t)vlan;
    k->ipproto = r->ipproto;
    k->pad = 0;
    k->exporter = exporter;
#endif
    return flow_mix(seed, w);
}

/* Labels a new flow from the exporter's word, else nDPI's guess. */
static void flow_label(floe_tables *t, floe_flow *f, const floe_record *r)
{
    if (!t->dpi)
        return;
    floe_app_label l;
    int src = FLOE_APP_NONE;
    if ((r->has & FLOE_F(L7_PROTO)) && floe_dpi_by_id(t->dpi, r->l7_proto, &l) == 0)
        src = FLOE_APP_EXPORTER;
    else if ((r->has & FLOE_F(APP)) &&
             tables__app_from_ie95(t, r->exporter_id, &r->app_id, &l) == 0)
        src = FLOE_APP_EXPORTER;
    if (src == FLOE_APP_NONE) {
        /* nDPI's guess, from its two cached halves: the server's port and
         * the IP-list service of either host (the server's first). */
        floe_app_label port;
        uint16_t sport, ip_app = 0;
        floe_flow_server(f, &sport);
        floe_dpi_port_label(t->dpi, f->key.ipproto, sport, &port);
        if (f->host[1] && f->host[1]->ip_app)
            ip_app = f->host[1]->ip_app;
        else if (f->host[0])
            ip_app = f->host[0]->ip_app;
        floe_dpi_compose(t->dpi, &port, ip_app, &l);
        src = l.app ? FLOE_APP_GUESS : FLOE_APP_NONE;
    }
    if (src == FLOE_APP_NONE)
        return;
    f->app = l;
    f->app_source = (uint8_t)src;
    t->st.labels[src]++;
}

/*
 * Will the flow be evicted when it comes to the head of the order, or
 * moved to the tail for its records since it took its place? Only records
 * in the newer half of its time in line count: a flow whose records
 * stopped soon after it was queued has been idle for at least half a round
 * of the table, and moving it would only bring it back, cold, a round
 * later. Most flows are short, so this spares most of them a second visit.
 */
static inline int flow_stale(const floe_flow *f, uint64_t now)
{
    uint64_t waited = now > f->queued_ms ? now - f->queued_ms : 0;
    return f->last_ms <= f->queued_ms + waited / 2;
}

static void lru_queue(floe_tables *t, floe_flow *f)
{
    f->queued_ms = f->last_ms;
    f->lru_slot = (uint32_t)(floe_fifo_push(&t->flow_lru, f) & t->flow_lru.mask);
}

/* Before a push: a ring full of holes moves its head flow to the tail
 * (keeping queued_ms) until skipping holes has made room. At most half the
 * ring is live flows, so this ends after a few steps on average. */
static void lru_make_room(floe_tables *t)
{
    floe_fifo *q = &t->flow_lru;
    floe_flow *f;
    while ((f = floe_fifo_blocking(q))) {
        floe_fifo_pop(q);
        f->lru_slot = (uint32_t)(floe_fifo_push(q, f) & q->mask);
    }
}

/* A periodic-queue position as a flow keeps it: its slot + 1 (0: none). */
static inline uint32_t periodic_slot(const floe_fifo *q, uint64_t pos)
{
    return (uint32_t)(pos & q->mask) + 1;
}

/* Joins the periodic-update queue, due periodic_ms after since. A ring
 * full of holes (flows that ended) moves its head to the tail, due as it
 * was: it fires a little late rather than the queue growing. */
static void periodic_queue(floe_tables *t, floe_flow *f, uint64_t since)
{
    floe_fifo *q = &t->periodic;
    floe_flow *old;
    while ((old = floe_fifo_blocking(q))) {
        floe_fifo_pop(q);
        old->periodic_slot = periodic_slot(q, floe_fifo_push(q, old));
    }
    f->periodic_ms = since;
    f->periodic_slot = periodic_slot(q, floe_fifo_push(q, f));
}

/* Fires the periodic updates that are due, at most budget; a flow with no
 * record since its last update is idle and is only queued again. */
static size_t periodic_some(floe_tables *t, uint64_t now, size_t budget)
{
    size_t n = 0;
    floe_flow *f;
    while (n < budget && t->periodic.slot && (f = floe_fifo_head(&t->periodic))) {
        uint64_t due = f->periodic_ms + t->periodic_ms;
        if (due > now)
            break;
        floe_fifo_pop(&t->periodic);
        f->periodic_slot = 0;
        if (f->last_ms > f->periodic_ms || f->periodic_ms == f->first_ms) { /* its first */
            t->st.periodic_updates++;
            fire_tap(t, FLOE_EV_PERIODIC_UPDATE, f);
        }
        periodic_queue(t, f, due);
        n++;
    }
    return n;
}

/* Fires at the smaller of the intervals asked for. */
static int periodic_apply(floe_tables *t)
{
    floe_flow *f;
    uint64_t a = t->periodic_want[0], b = t->periodic_want[1];
    uint64_t interval_ms = !a ? b : !b ? a : a < b ? a : b;
    if (interval_ms && !t->periodic.slot && floe_fifo_init(&t->periodic, t->flow_pool.max * 2) != 0)
        return FLOE_ENOMEM;
    if (interval_ms == 0 && t->periodic.slot)
        while ((f = floe_fifo_head(&t->periodic))) {
            floe_fifo_pop(&t->periodic);
            f->periodic_slot = 0;
        }
    t->periodic_ms = interval_ms;
    return 0;
}

int floe_tables_set_periodic(floe_tables *t, uint64_t interval_ms)
{
    t->periodic_want[0] = interval_ms;
    return periodic_apply(t);
}

int floe_tables_set_tap_periodic(floe_tables *t, uint64_t interval_ms)
{
    t->periodic_want[1] = interval_ms;
    return periodic_apply(t);
}

/* The lines a record and a flush use: the first three. */
FLOE_PREFETCHER void prefetch_flow(const void *f)
{
    for (size_t off = 0; off < offsetof(floe_flow, first_ms); off += 64)
        FLOE_PREFETCH((const char *)f + off);
}

/* All four, for an eviction. */
FLOE_PREFETCHER void prefetch_flow_all(const void *f)
{
    for (size_t off = 0; off < sizeof(floe_flow); off += 64)
        FLOE_PREFETCH((const char *)f + off);
}

/* What a flush reads of a host: the counters' line, and the top
 * applications' ids and counts in the next two (tables.h). A host that a
 * flow only lets go of needs its active counts and its idle-list link. */
#define HOST_FLUSH_LINES  (offsetof(floe_host, top_bytes) / 64 + 1)
#define HOST_DETACH_LINES (offsetof(floe_host, lru) / 64 + 1)

FLOE_PREFETCHER void prefetch_host(const floe_host *h, size_t lines)
{
    for (size_t i = 0; i < lines; i++)
        FLOE_PREFETCH((const char *)h + 64 * i);
}

FLOE_PREFETCHER void prefetch_hosts(const floe_flow *f, size_t lines)
{
    for (int i = 0; i < 2; i++)
        if (f->host[i])
            prefetch_host(f->host[i], lines);
}

/* The server's line with syns_rcvd, if the flush will add to it. Which
 * flows do goes either way from flow to flow, so the address is chosen
 * without a branch (the flow itself, in cache, otherwise). */
FLOE_PREFETCHER void prefetch_syn_host(const floe_flow *f)
{
    const char *h = (const char *)f->host[1];
    int want = flow_counts_syn(f) & (h != NULL);
    FLOE_PREFETCH(want ? h + offsetof(floe_host, syns_rcvd) : (const char *)f);
}

/*
 * At the bound every new flow evicts the oldest, whose lines are long out
 * of cache, and evictions come about a microsecond apart. The flows next in
 * line are read from the ring by position, so they are fetched ahead in
 * two steps, the second relying on the first, once per wave of the record
 * pipeline (below: up to 8 evictions, and the fetches of a wave issued
 * back to back so that their page walks overlap): 24 places ahead, the
 * flow's lines; 16 ahead, for a flow that will be evicted rather than
 * moved back, its bucket (the one line unlinking it touches) and its
 * hosts. When a flow comes to be evicted, nothing it touches is cold.
 */
static const uint64_t victim_distance[2] = {24, 16};

/* The second step hashes the victim's key to find its bucket, and keeps
 * the hash by the victim's place in the order (a place holds one flow
 * once), so that the eviction does not hash it again. */
FLOE_PREFETCHER void prefetch_victim(floe_tables *t, const floe_flow *f, int step, uint64_t now)
{
    if (step == 0) {
        prefetch_flow_all(f);
        /* The new flow that takes its place in the pool writes its AS
         * numbers there. */
        FLOE_PREFETCH(&t->flow_asn[floe_pool_slot(&t->flow_pool, f)]);
        return;
    }
    if (!flow_stale(f, now))
        return;
    uint64_t pos = t->victim_ahead[1] - 1, h = flow_hash(t, f);
    t->victim_hash[pos % FLOE_VICTIM_HASHES] = (struct floe_victim_hash){pos, h};
    FLOE_PREFETCH(floe_tmap_home(&t->flows, h));
    /* Most flows reach the bound flushed: their hosts are only let go. */
    int pending = (f->pend_bytes[0] | f->pend_bytes[1] | f->pend_pkts[0] | f->pend_pkts[1]) != 0;
    prefetch_hosts(f, pending ? HOST_FLUSH_LINES : HOST_DETACH_LINES);
    prefetch_syn_host(f);
}

FLOE_PREFETCHER void prefetch_victims(floe_tables *t, uint64_t now)
{
    const floe_flow *f;
    for (int step = 0; step < 2; step++)
        while ((f = floe_fifo_ahead(&t->flow_lru, &t->victim_ahead[step], victim_distance[step])))
            prefetch_victim(t, f, step, now);
}

/* The hash of the flow at the head of the order, kept by its prefetch if
 * there was one. */
static inline uint64_t head_hash(const floe_tables *t, const floe_flow *f)
{
    uint64_t pos = t->flow_lru.head;
    const struct floe_victim_hash *v = &t->victim_hash[pos % FLOE_VICTIM_HASHES];
    return v->pos == pos ? v->hash : flow_hash(t, f);
}

/* The head of the order after moving flows with newer records to the
 * tail; gives up after a bounded number of moves, so eviction stays O(1). */
static floe_flow *lru_oldest(floe_tables *t, uint64_t now)
{
    floe_flow *f = floe_fifo_head(&t->flow_lru);
    for (int moves = 0; f && !flow_stale(f, now) && moves < 64; moves++) {
        floe_fifo_pop(&t->flow_lru);
        lru_queue(t, f);
        f = floe_fifo_head(&t->flow_lru);
    }
    return f;
}

/* Will nDPI dissect this flow's sampled packets (so its protocol is not
 * known yet)? */
static inline int dpi_wanted(const floe_tables *t, const floe_flow *f, const floe_record *r)
{
    return t->dpi && r->sampled && f->app_source != FLOE_APP_EXPORTER &&
           f->app_source != FLOE_APP_DPI && f->dpi_packets < t->dpi_max_packets;
}

static floe_flow *flow_new(floe_tables *t, record_prep *p, const floe_record *r, uint64_t now)
{
    int src_is_a = p->src_is_a;
    floe_flow *f = floe_pool_alloc(&t->flow_pool);
    floe_flow *victim;
    if (!f && (victim = lru_oldest(t, now))) {
        flow_end_hashed(t, victim, FLOE_END_EVICTED, head_hash(t, victim));
        f = floe_pool_alloc(&t->flow_pool);
    }
    if (!f)
        return NULL;
    f->key = p->key;
    int certain, c = src_is_client(t, r, &certain);
    f->cli_is_a = (uint8_t)(c == 0 ? !src_is_a : src_is_a);
    f->dir_certain = (uint8_t)certain;
    f->first_ms = f->last_ms = now;
    if (r->has & (FLOE_F(SRC_AS) | FLOE_F(DST_AS)) && (r->src_as | r->dst_as)) {
        uint32_t *as = t->flow_asn[floe_pool_slot(&t->flow_pool, f)];
        as[!src_is_a] = (r->has & FLOE_F(SRC_AS)) ? r->src_as : 0;
        as[src_is_a] = (r->has & FLOE_F(DST_AS)) ? r->dst_as : 0;
        f->has_asn = 1;
    }
    floe_tmap_insert(&t->flows, p->hash, f); /* cannot fail: the pool has the same bound */
    lru_make_room(t);
    lru_queue(t, f);
    record_host_hashes(r, p);
    int cli_is_src = f->cli_is_a == src_is_a;
    f->host[0] = host_get(t, floe_flow_client(f, NULL), p->host_hash[!cli_is_src], now);
    f->host[1] = host_get(t, floe_flow_server(f, NULL), p->host_hash[cli_is_src], now);
    host_attach(t, f->host[0], 0, 1);
    host_attach(t, f->host[1], 1, 1);
    t->st.flows_created++;
    if (t->periodic_ms)
        periodic_queue(t, f, now);
    flow_label(t, f, r);
    return f;
}

uint32_t floe_flow_asn(const floe_tables *t, const floe_flow *f, int i)
{
    return f->has_asn ? t->flow_asn[floe_pool_slot(&t->flow_pool, f)][i] : 0;
}

/* A lone SYN from the side we took as the server: swap the roles. */
static void flow_flip(floe_tables *t, floe_flow *f)
{
    host_detach(t, f->host[0], 0);
    host_detach(t, f->host[1], 1);
    floe_host *h = f->host[0];
    f->host[0] = f->host[1];
    f->host[1] = h;
    host_attach(t, f->host[0], 0, 0);
    host_attach(t, f->host[1], 1, 0);
    /* Move the flow between each host's client and server totals. */
    if (f->host[0])
        f->host[0]->flows_server--, f->host[0]->flows_client++;
    if (f->host[1])
        f->host[1]->flows_client--, f->host[1]->flows_server++;
    f->cli_is_a = !f->cli_is_a;
    f->dir_certain = 1;
    uint64_t b = f->bytes[0], p = f->packets[0];
    f->bytes[0] = f->bytes[1], f->packets[0] = f->packets[1];
    f->bytes[1] = b, f->packets[1] = p;
    uint16_t fl = f->tcp_flags[0];
    f->tcp_flags[0] = f->tcp_flags[1];
    f->tcp_flags[1] = fl; /* Pending counters are per direction of the host pair: swap them too. */
    b = f->pend_bytes[0], p = f->pend_pkts[0];
    f->pend_bytes[0] = f->pend_bytes[1], f->pend_pkts[0] = f->pend_pkts[1];
    f->pend_bytes[1] = b, f->pend_pkts[1] = p;
    uint32_t rt = f->retrans[0];
    f->retrans[0] = f->retrans[1];
    f->retrans[1] = rt;
}

/*
 * Whether the dissection budget has one left: dpi.max_rate a second,
 * refilled as the clock moves, with bursts of at most a tenth of a
 * second's worth. A budget that started afresh each second was spent in
 * the first tenth of it at high sample rates, holding the loop at full
 * load for about 150 ms at every second's start.
 */
static int dpi_budget(floe_tables *t, uint64_t now)
{
    if (now > t->dpi_refill_ms) {
        uint64_t cap = (uint64_t)t->dpi_max_rate * 100 + 1000;
        uint64_t add = (now - t->dpi_refill_ms) * t->dpi_max_rate;
        t->dpi_tokens = add >= cap || t->dpi_tokens + add >= cap ? cap : t->dpi_tokens + add;
    }
    t->dpi_refill_ms = now;
    return t->dpi_tokens >= 1000;
}

/* Feeds an sFlow sampled header to nDPI until it labels the flow. */
static void flow_dpi(floe_tables *t, floe_flow *f, const floe_record *r, uint64_t now)
{
    if (!dpi_wanted(t, f, r))
        return;
    /* A flow that dissection cannot settle (samples without payload, the
     * budget or the state bound reached) gets its protocolDetected once it
     * has had as many records as nDPI would have had packets. */
    if (!f->detected && f->records >= t->dpi_max_packets)
        fire_detected(t, f);
    /* A budget keeps dissection from starving ingest at high sample rates;
     * flows past it keep their guess. */
    if (!dpi_budget(t, now)) {
        t->st.dpi_over_budget++;
        return;
    }
    floe_app_label l;
    int give_up = (uint32_t)f->dpi_packets + 1 >= t->dpi_max_packets;
    enum floe_dpi_result rc = floe_dpi_packet(t->dpi, &f->dpi, r->sampled, r->sampled_len,
                                              r->sampled_proto, now, give_up, &l, &f->risk);
    if (rc == FLOE_DPI_NO_PAYLOAD) {
        t->st.dpi_no_payload++;
        return;
    }
    t->dpi_tokens -= 1000;
    f->dpi_packets++;
    t->st.dpi_packets++;
    if (rc == FLOE_DPI_NO_STATE || rc == FLOE_DPI_PENDING)
        return;
    if (rc == FLOE_DPI_DETECTED)
        floe_dpi_release(t->dpi, &f->dpi);
    /* nDPI's give-up is only a guess too: a flow with a guess keeps its
     * first one. */
    if (rc == FLOE_DPI_DETECTED || f->app_source != FLOE_APP_GUESS) {
        if (f->app_source != FLOE_APP_NONE)
            t->st.labels[f->app_source]--;
        f->app = l;
        f->app_source = rc == FLOE_DPI_DETECTED ? FLOE_APP_DPI : FLOE_APP_GUESS;
        t->st.labels[f->app_source]++;
        t->st.dpi_detected += rc == FLOE_DPI_DETECTED;
    }
    fire_detected(t, f);
}

/* The flush reads a flow a second after its records, long out of cache:
 * fetch its lines 16 places ahead, and the hosts of those 6 ahead. */
FLOE_PREFETCHER void prefetch_dirty(floe_tables *t)
{
    const floe_flow *f;
    while ((f = floe_fifo_ahead(&t->dirty, &t->dirty_ahead[0], 16)))
        prefetch_flow_all(f); /* the last line has its place in this queue */
    while ((f = floe_fifo_ahead(&t->dirty, &t->dirty_ahead[1], 6))) {
        prefetch_hosts(f, HOST_FLUSH_LINES);
        prefetch_syn_host(f);
    }
}

/* Joins the flush queue, stamped now. Flows flushed out of turn leave
 * holes; should they fill the ring, the oldest are flushed early to make
 * room. */
static void dirty_queue(floe_tables *t, floe_flow *f, uint64_t now)
{
    floe_flow *old;
    while ((old = floe_fifo_blocking(&t->dirty)))
        flow_flush(t, old);
    uint64_t pos = floe_fifo_push(&t->dirty, f);
    t->dirty_stamp[pos & t->dirty.mask] = now;
    f->dirty_slot = (uint32_t)(pos & t->dirty.mask) + 1;
    f->dirty = 1;
    t->n_dirty++;
}

/* Retransmissions in direction dir reach the hosts at once: they are rare
 * (only some exporters send them), so this costs less than a flush would
 * keeping track of them. */
static void flow_retrans(floe_flow *f, int dir, uint32_t n)
{
    if (!n)
        return;
    f->retrans[dir] += n;
    if (f->host[dir])
        f->host[dir]->retrans_sent += n;
    if (f->host[!dir])
        f->host[!dir]->retrans_rcvd += n;
}

/*
 * A biflow record's reverse half (RFC 5103): what the record's destination
 * sent, counted in direction d (the other one than the record's), so that
 * hosts, interfaces and networks count it as sent by the destination and
 * received by the source when the flow is flushed.
 */
static void flow_account_reverse(floe_flow *f, int d, const floe_record *r, uint64_t s)
{
    uint64_t b = 0, p = 0;
    if (r->has & FLOE_F(REV_BYTES))
        b = r->rev.bytes * s;
    if (r->has & FLOE_F(REV_PACKETS))
        p = r->rev.packets * s;
    f->bytes[d] += b;
    f->packets[d] += p;
    f->pend_bytes[d] += b;
    f->pend_pkts[d] += p;
    if (r->has & FLOE_F(REV_TCP_FLAGS))
        f->tcp_flags[d] |= r->rev.tcp_flags;
    if (r->has & FLOE_F(REV_IN_IF))
        f->ifs[d][0] = r->rev.in_if;
    if (r->has & FLOE_F(REV_OUT_IF))
        f->ifs[d][1] = r->rev.out_if;
}

/* Adds the record's counters to the flow, its hosts and networks. */
static void flow_account(floe_tables *t, floe_flow *f, int c2s, const floe_record *r, uint64_t now,
                         int at_once)
{
    uint64_t s = r->sampling ? r->sampling : 1;
    /* Two scalars, not an array indexed by c2s: GCC added such an array
     * to the flow's counters with one 16-byte load just after the 8-byte
     * store, which the store cannot forward (a stall on every record). */
    uint64_t bytes0 = 0, bytes1 = 0, pkts = 0;
    if (r->has & FLOE_F(BYTES)) {
        uint64_t b = r->bytes * s;
        bytes0 = c2s ? b : 0;
        bytes1 = c2s ? 0 : b;
    } else if (r->has & (FLOE_F(INIT_BYTES) | FLOE_F(RESP_BYTES))) {
        bytes0 = r->initiator_bytes * s, bytes1 = r->responder_bytes * s;
    }
    if (r->has & FLOE_F(PACKETS))
        pkts = r->packets * s;
    int d = c2s ? 0 : 1;
    f->bytes[0] += bytes0;
    f->bytes[1] += bytes1;
    f->packets[d] += pkts;
    f->records++;
    f->last_ms = now;
    f->sampling = (uint32_t)s;
    if (r->has & FLOE_F(TCP_FLAGS))
        f->tcp_flags[d] |= r->tcp_flags;
    if (r->has & FLOE_F(TOS))
        f->tos = r->tos;
    if (r->has & (FLOE_F(IN_IF) | FLOE_F(OUT_IF))) {
        if (r->has & FLOE_F(IN_IF))
            f->ifs[d][0] = r->in_if;
        if (r->has & FLOE_F(OUT_IF))
            f->ifs[d][1] = r->out_if;
        /* Until a record of the other direction says, assume the path back
         * is the same (NSEL records carry both directions' bytes). */
        if (!f->ifs[!d][0] && !f->ifs[!d][1])
            f->ifs[!d][0] = f->ifs[d][1], f->ifs[!d][1] = f->ifs[d][0];
    }
    if (r->has & FLOE_F(CLI_LATENCY))
        f->cli_latency_us = r->cli_latency_us;
    if (r->has & FLOE_F(SRV_LATENCY))
        f->srv_latency_us = r->srv_latency_us;
    if (r->has & FLOE_F(RETRANS_IN))
        flow_retrans(f, d, r->retrans_in);
    if (r->has & FLOE_F(RETRANS_OUT))
        flow_retrans(f, !d, r->retrans_out);
    if (r->has & FLOE_F(L7_RISK))
        f->risk |= r->l7_risk;
    f->pend_bytes[0] += bytes0;
    f->pend_bytes[1] += bytes1;
    f->pend_pkts[d] += pkts;
    if (r->has & FLOE_F_REVERSE)
        flow_account_reverse(f, !d, r, s);
    if (at_once)
        flow_flush(t, f);
    else if (!f->dirty)
        dirty_queue(t, f, now);
}

void floe_tables_flush(floe_tables *t)
{
    floe_flow *f;
    while ((f = floe_fifo_head(&t->dirty)))
        flow_flush(t, f);
}

int floe_tables_flush_small(floe_tables *t, size_t max)
{
    if (t->n_dirty > max)
        return 0;
    floe_tables_flush(t);
    return 1;
}

static inline int record_has_endpoints(const floe_record *r)
{
    return (r->has & (FLOE_F(SRC) | FLOE_F(DST))) == (FLOE_F(SRC) | FLOE_F(DST));
}

static void record_prepare(const floe_tables *t, const floe_record *r, record_prep *p)
{
    p->hash = flow_key(t->flow_seed, r, r->exporter_id, &p->key, &p->src_is_a);
    p->chained = 0;
    p->have_hosts = 0;
}

static void record_apply(floe_tables *t, const floe_record *r, record_prep *p, uint64_t now)
{
    int src_is_a = p->src_is_a, created = 0;
    t->st.records++;
    floe_flow *f = flow_find(t, p);
    if (f) {
        /* Only a lone SYN, a SYN-ACK or a biflowDirection can overturn
         * roles taken from ports or first sight (src_is_client's certain
         * cases). A router's record carries the flow's flags ORed, SYN
         * with ACK and more, so most updates skip the call. */
        unsigned fl = r->tcp_flags & 0x3f;
        int may_decide = (r->has & FLOE_F(BIFLOW_DIR)) ||
                         ((r->has & FLOE_F(TCP_FLAGS)) &&
                          ((fl & (TCP_SYN | TCP_ACK)) == TCP_SYN || fl == (TCP_SYN | TCP_ACK)));
        if (!f->dir_certain && may_decide) {
            int certain, c = src_is_client(t, r, &certain);
            int src_is_cli = src_is_a == f->cli_is_a;
            if (certain && c == !src_is_cli)
                flow_flip(t, f);
        }
    } else if (!(f = flow_new(t, p, r, now))) {
        return;
    } else {
        created = 1;
    }
    int c2s = src_is_a == f->cli_is_a;
    int dissecting = dpi_wanted(t, f, r);
    /* A new flow takes its first record to its hosts at once, while the
     * lookup has them in cache, unless nDPI may still name its application.
     * Queued for the flush instead, it would be read again a second later,
     * cold, and at the bound often just before its eviction reads it once
     * more; most flows get no other record. */
    flow_account(t, f, c2s, r, now, created && !dissecting);
    /* A new flow's hooks see its first record counted. */
    if (created)
        fire(t, FLOE_EV_FLOW_NEW, f);
    flow_dpi(t, f, r, now);
    if (created && !dissecting)
        fire_detected(t, f); /* what the exporter said, or the guess, is all there is */
    if ((r->has & FLOE_F(END_REASON)) && (r->end_reason == 3 || r->end_reason == 4))
        flow_end(t, f, FLOE_END_EXPORTER);
}

void floe_tables_record(floe_tables *t, const floe_record *r, uint64_t now)
{
    record_prep p;
    if (!record_has_endpoints(r)) {
        t->st.records_skipped++;
        return;
    }
    record_prepare(t, r, &p);
    record_apply(t, r, &p, now);
}

/*
 * The record pipeline. A flow lookup in a busy table misses the cache
 * twice (the bucket, then the flow), and a new flow misses twice more for
 * each of its hosts. So records wait in a short queue and are worked on in
 * stages, 8 records apart, as they move through it; each stage reads only
 * what the stage before fetched:
 *   0  the flow's bucket;
 *   8  the flows whose tags match in that bucket, all their lines; or if
 *      none does and nothing overflowed past it (a new flow for sure), its
 *      hosts' buckets; or if something did, the next bucket;
 *   16 the hosts whose tags match in their buckets; or, after an
 *      overflow, the flow, or a new flow's hosts' buckets;
 *   24 the hosts, for those whose buckets came at 16;
 *   32 the record is applied, from cache.
 */
#define PIPE_STAGE 8

typedef struct tables__pipe_entry {
    floe_record rec;
    record_prep prep;
    int usable;
    int hosts; /* 0: not wanted, 1: buckets fetched, 2: hosts fetched */
} pipe_entry;

FLOE_PREFETCHER void prefetch_host_buckets(const floe_tables *t, const floe_record *r,
                                           record_prep *p)
{
    record_host_hashes(r, p);
    FLOE_PREFETCH(floe_tmap_home(&t->hosts, p->host_hash[0]));
    FLOE_PREFETCH(floe_tmap_home(&t->hosts, p->host_hash[1]));
}

/* The hosts whose tags match in the home bucket: the lines a new flow
 * reads of them, as it flushes at once (with syns_rcvd's for a SYN: which
 * end is the server is not known yet). */
FLOE_PREFETCHER void prefetch_host_matches(const floe_tmap *m, uint64_t hash, int syn)
{
    const floe_tmap_bucket *b = floe_tmap_home(m, hash);
    for (uint64_t x = floe_tmap_match(b, floe_tmap_tag(hash)); x; x &= x - 1) {
        const char *h = b->item[floe_tmap_slot(x)];
        prefetch_host((const floe_host *)h, HOST_FLUSH_LINES);
        FLOE_PREFETCH(syn ? h + offsetof(floe_host, syns_rcvd) : h); /* no branch */
    }
}

static pipe_entry *pipe_at(floe_tables *t, size_t back)
{
    return &t->pipe[(t->pipe_tail - 1 - back) & (FLOE_PIPE_LEN - 1)];
}

static void pipe_pop(floe_tables *t, uint64_t now)
{
    pipe_entry *e = &t->pipe[t->pipe_head++ & (FLOE_PIPE_LEN - 1)];
    t->pipe_len--;
    if (!e->usable)
        t->st.records_skipped++;
    else
        record_apply(t, &e->rec, &e->prep, now);
}

/* Stage 1: what the flow's bucket says. */
FLOE_PREFETCHER void pipe_stage_bucket(floe_tables *t, pipe_entry *e)
{
    const floe_tmap_bucket *b = floe_tmap_home(&t->flows, e->prep.hash);
    uint64_t x = floe_tmap_match(b, floe_tmap_tag(e->prep.hash));
    for (; x; x &= x - 1)
        prefetch_flow(b->item[floe_tmap_slot(x)]);
    if (floe_tmap_match(b, floe_tmap_tag(e->prep.hash)))
        return; /* most likely its flow, now on its way */
    if (b->over) {
        e->prep.chained = 1;
        FLOE_PREFETCH(floe_tmap_next(&t->flows, b));
        return;
    }
    prefetch_host_buckets(t, &e->rec, &e->prep);
    e->hosts = 1;
}

FLOE_PREFETCHER void pipe_stage(floe_tables *t, pipe_entry *e, int stage)
{
    if (!e->usable)
        return;
    if (stage == 1) {
        pipe_stage_bucket(t, e);
    } else if (e->hosts == 1) {
        int syn = (int)record_syn(&e->rec);
        prefetch_host_matches(&t->hosts, e->prep.host_hash[0], syn);
        prefetch_host_matches(&t->hosts, e->prep.host_hash[1], syn);
        e->hosts = 2;
    } else if (stage == 2 && e->prep.chained) {
        const floe_flow *f = flow_find(t, &e->prep);
        if (f) {
            prefetch_flow(f);
        } else {
            prefetch_host_buckets(t, &e->rec, &e->prep);
            e->hosts = 1;
        }
    }
}

/*
 * A wave: the stages of the PIPE_STAGE records that came in since the
 * last one, each stage for all of them back to back, then the records
 * their stages have made ready applied. Nearly every fetch here is a
 * random line of a table far larger than the TLB reaches, and on this VM
 * a prefetch that misses the TLB waits for its page walk before the
 * instructions after it can retire: one fetch per record, a record's
 * work apart, walked one at a time, which was a third of floe's time at
 * 3M new flows a second. Issued back to back, the walks overlap.
 *
 * The order is the one records took one at a time: stage k of a wave
 * works on the records that were in stage k - 1 in the wave before.
 */
static void pipe_wave(floe_tables *t, uint64_t now)
{
    size_t n = t->pipe_fresh;
    t->pipe_fresh = 0;
    for (size_t back = 0; back < n; back++) {
        const pipe_entry *e = pipe_at(t, back);
        if (e->usable)
            FLOE_PREFETCH(floe_tmap_home(&t->flows, e->prep.hash));
    }
    for (int stage = 1; stage <= 3; stage++)
        for (size_t back = n; back-- > 0;)
            if (t->pipe_len - back > (size_t)stage * PIPE_STAGE)
                pipe_stage(t, pipe_at(t, back + (size_t)stage * PIPE_STAGE), stage);
    prefetch_victims(t, now);
    for (size_t back = n; back-- > 0;)
        if (t->pipe_len - back > 4 * PIPE_STAGE)
            pipe_pop(t, now);
}

void floe_tables_push(floe_tables *t, const floe_record *r, uint64_t now)
{
    pipe_entry *e = &t->pipe[t->pipe_tail++ & (FLOE_PIPE_LEN - 1)];
    t->pipe_len++;
    if (r != &e->rec) { /* not built in place (floe_tables_slot) */
        /* Most records have no reverse half: copying it would cost them.
         * The length is hidden from the compiler, which would copy either
         * size with a slow-starting rep movsq, where libc's memcpy uses
         * wide moves. */
        size_t len = (r->has & FLOE_F_REVERSE) ? sizeof(*r) : FLOE_RECORD_FORWARD_LEN;
        __asm__("" : "+r"(len));
        memcpy(&e->rec, r, len);
    }
    e->usable = record_has_endpoints(r);
    e->hosts = 0;
    if (e->usable)
        record_prepare(t, r, &e->prep);
    if (++t->pipe_fresh == PIPE_STAGE)
        pipe_wave(t, now);
}

_Static_assert(5 * PIPE_STAGE + 1 < FLOE_PIPE_LEN,
               "the entry after the tail is never waiting: 4 stages and a wave's fresh records");

floe_record *floe_tables_slot(floe_tables *t)
{
    /* Free: the pipeline applies a record once more than 4 * PIPE_STAGE
     * wait, and the next wave comes within PIPE_STAGE more, well short of
     * FLOE_PIPE_LEN. */
    return &t->pipe[t->pipe_tail & (FLOE_PIPE_LEN - 1)].rec;
}

void floe_tables_drain(floe_tables *t, uint64_t now)
{
    if (t->pipe_fresh)
        pipe_wave(t, now);
    while (t->pipe_len)
        pipe_pop(t, now);
}

/* Ends idle flows, at most budget steps; returns the steps taken. */
static size_t expire_some(floe_tables *t, uint64_t now, size_t budget, size_t *ended)
{
    size_t n = 0;
    /* The list is ordered by queued_ms. Once the head was queued less than
     * a timeout ago, every flow behind it was too: none can be idle. */
    floe_flow *f;
    while (n < budget && (f = floe_fifo_head(&t->flow_lru))) {
        if (f->queued_ms + t->idle_timeout_ms > now)
            break;
        n++;
        prefetch_victims(t, now);
        if (f->last_ms + t->idle_timeout_ms > now) {
            floe_fifo_pop(&t->flow_lru); /* active since: back of the line */
            lru_queue(t, f);
            continue;
        }
        flow_end(t, f, FLOE_END_IDLE);
        (*ended)++;
    }
    return n;
}

size_t floe_tables_expire(floe_tables *t, uint64_t now)
{
    size_t ended = 0;
    expire_some(t, now, SIZE_MAX, &ended);
    return ended;
}

size_t floe_tables_housekeep(floe_tables *t, uint64_t now, size_t budget)
{
    size_t n = 0, ended = 0;
    floe_flow *f;
    /* New flows and hosts find their memory backed already. */
    floe_pool_prefault(&t->flow_pool);
    floe_pool_prefault(&t->host_pool);
    if (t->dpi)
        floe_pool_prefault(floe_dpi_state_pool(t->dpi));
    while (n < budget && (f = floe_fifo_head(&t->dirty))) {
        if (t->dirty_stamp[t->dirty.head & t->dirty.mask] + FLOE_FLUSH_AGE_MS > now)
            break;
        prefetch_dirty(t);
        flow_flush(t, f);
        n++;
    }
    n += periodic_some(t, now, budget - n);
    return n + expire_some(t, now, budget - n, &ended);
}

void floe_tables_end_all(floe_tables *t)
{
    floe_flow *f;
    while ((f = floe_fifo_head(&t->flow_lru)))
        flow_end(t, f, FLOE_END_SHUTDOWN);
}

/* ---- lifecycle ----------------------------------------------------------- */

void floe_tables_opts_defaults(floe_tables_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->max_flows = 1000000;
    o->flow_idle_timeout = 120;
    o->max_hosts = 200000;
    o->max_interfaces = 65536;
    o->dpi_enabled = 1;
    o->dpi_max_states = 65536;
    o->dpi_packets = 8;
    o->dpi_max_rate = 50000;
}

/*
 * Backs the flow, host and dissection-state pools to their bound now,
 * before any traffic.
 * Otherwise their memory is backed as the tables first fill, in 2 MiB
 * steps on the loop thread: on a VM whose host backs guest memory lazily
 * a step took 3-9 ms, and a first fill at a million new flows a second
 * spent most of its time there while exports spilled from the socket
 * buffer.
 */
static void tables_prefault(floe_tables *t)
{
    uint64_t start = floe_monotonic_ms();
    floe_pool *pools[] = {&t->flow_pool, &t->host_pool,
                          t->dpi ? floe_dpi_state_pool(t->dpi) : NULL};
    size_t bytes = 0;
    for (size_t i = 0; i < FLOE_ARRAY_LEN(pools) && pools[i]; i++) {
        if (floe_pool_populate(pools[i]) != 0) {
            log_warn(t->log, "tables: could not back their memory at start; it is backed as "
                             "they fill");
            return;
        }
        bytes += pools[i]->faulted;
    }
    size_t heap = t->dpi ? floe_dpi_warm_heap(t->dpi) : 0;
    log_info(t->log,
             "tables: %zu MiB backed for %zu flows and %zu hosts (and %zu nDPI states), and "
             "%zu MiB of heap for nDPI's buffers, in %.2f s",
             bytes >> 20, t->flow_pool.max, t->host_pool.max,
             t->dpi ? floe_dpi_state_pool(t->dpi)->max : 0, heap >> 20,
             (double)(floe_monotonic_ms() - start) / 1000.0);
}

int floe_tables_init(floe_tables *t, const floe_tables_opts *o, floe_log *log, char *err,
                     size_t errlen)
{
    memset(t, 0, sizeof(*t));
    t->log = log;
    flow_seed_init(t->flow_seed);
    t->idle_timeout_ms = (uint64_t)o->flow_idle_timeout * 1000;
    t->dpi_max_packets = o->dpi_packets;
    t->dpi_max_rate = o->dpi_max_rate;
    well_known_init(t->well_known);
    floe_list_init(&t->host_idle);
    floe_list_init(&t->iface_lru);
    floe_list_init(&t->appname_lru);
    if (floe_pool_init(&t->flow_pool, sizeof(floe_flow), POOL_CHUNK, o->max_flows) != 0 ||
        floe_pool_init(&t->host_pool, sizeof(floe_host), POOL_CHUNK, o->max_hosts) != 0 ||
        floe_pool_init(&t->iface_pool, sizeof(floe_iface), 256, o->max_interfaces) != 0 ||
        tables__appnames_init(t) != 0 || floe_tmap_init(&t->flows, o->max_flows) != 0 ||
        floe_fifo_init(&t->flow_lru, (size_t)o->max_flows * 2) != 0 ||
        floe_fifo_init(&t->dirty, o->max_flows) != 0 ||
        !(t->dirty_stamp = floe_table_calloc(t->dirty.mask + 1, sizeof(uint64_t))) ||
        !(t->flow_asn = floe_table_calloc(o->max_flows, sizeof(*t->flow_asn))) ||
        floe_tmap_init(&t->hosts, o->max_hosts) != 0 || floe_hmap_init(&t->ifaces, 1024, 0) != 0)
        goto nomem;
    if (tables__nets_init(t, o, err, errlen) != 0) {
        floe_tables_close(t);
        return FLOE_ECONFIG;
    }
    if (o->dpi_enabled && !(t->dpi = floe_dpi_new(o->dpi_max_states)))
        goto nomem;
    if (!(t->pipe = calloc(FLOE_PIPE_LEN, sizeof(*t->pipe))))
        goto nomem;
    if (o->prefault)
        tables_prefault(t);
    return 0;
nomem:
    snprintf(err, errlen, "out of memory for the tables");
    floe_tables_close(t);
    return FLOE_ENOMEM;
}

void floe_tables_close(floe_tables *t)
{
    /* Every live flow, by its slot in the pool. */
    for (size_t i = 0; t->flow_pool.base && i < floe_pool_slots(&t->flow_pool); i++) {
        floe_flow *f = floe_pool_at(&t->flow_pool, i);
        if (f && f->dpi)
            floe_dpi_release(t->dpi, &f->dpi);
    }
    floe_fifo_close(&t->flow_lru);
    floe_fifo_close(&t->dirty);
    free(t->dirty_stamp);
    free(t->flow_asn);
    floe_fifo_close(&t->periodic);
    floe_dpi_free(t->dpi);
    free(t->pipe);
    free(t->apps);
    floe_pool_close(&t->flow_pool);
    floe_pool_close(&t->host_pool);
    floe_pool_close(&t->iface_pool);
    floe_pool_close(&t->appname_pool);
    floe_hmap_close(&t->appnames);
    floe_tmap_close(&t->flows);
    floe_tmap_close(&t->hosts);
    floe_hmap_close(&t->ifaces);
    free(t->nets);
    memset(t, 0, sizeof(*t));
}

/* ---- walking ------------------------------------------------------------- */

static const floe_pool *kind_pool(const floe_tables *t, enum floe_table_kind kind)
{
    const floe_pool *pools[] = {&t->flow_pool, &t->host_pool, &t->iface_pool};
    return pools[kind];
}

size_t floe_tables_slots(const floe_tables *t, enum floe_table_kind kind)
{
    return floe_pool_slots(kind_pool(t, kind));
}

void *floe_tables_at(const floe_tables *t, enum floe_table_kind kind, size_t slot)
{
    return floe_pool_at(kind_pool(t, kind), slot);
}

size_t floe_tables_entry_size(enum floe_table_kind kind)
{
    static const size_t sizes[] = {sizeof(floe_flow), sizeof(floe_host), sizeof(floe_iface)};
    return sizes[kind];
}

size_t floe_tables_bytes(const floe_tables *t)
{
    return floe_pool_bytes(&t->flow_pool) + floe_pool_bytes(&t->host_pool) +
           floe_pool_bytes(&t->iface_pool) +
           (t->flows.mask + 1 + t->hosts.mask + 1) * sizeof(floe_tmap_bucket) +
           (t->ifaces.mask + 1) * sizeof(floe_hnode *) +
           (t->flow_lru.mask + 1 + 2 * (t->dirty.mask + 1) +
            (t->periodic.slot ? t->periodic.mask + 1 : 0)) *
               sizeof(void *) +
           (t->dpi ? floe_pool_bytes(floe_dpi_state_pool(t->dpi)) : 0);
}
