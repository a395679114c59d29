/*
 * The table API: /api/v1/flows, /hosts, /hosts/{ip}, /interfaces and
 * /networks, each with limit, offset, sort and filters; and
 * /api/v1/applications, the active flows' traffic summed by application.
 *
 * A top-N page over a million flows must not stall the loop, so a request
 * becomes a scan job: the pool is walked in slices of about a millisecond
 * (SCAN_SLICE_NS) from a uv_idle callback, between which the loop goes back
 * to receiving datagrams. Matching entries go through a bounded min-heap of snapshots
 * (copies, because an entry may be freed before the scan ends); when the walk
 * is done the heap is sorted and sent. Small tables finish in the handler.
 */
#include "engine/engine.h"
#include "www/www.h"

#include <stdio.h>
#include <stdlib.h>

#define SCAN_SLICE_NS    1000000 /* a slice ends after about 1 ms of work */
#define SCAN_CLOCK_EVERY 256     /* slots between clock reads */
#define MAX_WINDOW       10000   /* offset + limit */
#define DEFAULT_LIMIT    50

enum sort_key { SORT_BYTES, SORT_PACKETS, SORT_FLOWS, SORT_SCORE, SORT_LAST_SEEN };
static const char *const sort_names[] = {"bytes", "packets", "flows", "score", "last_seen"};

typedef struct query {
    size_t limit, offset;
    int sort;
    int has_host;
    floe_net host; /* an address is a /32 or /128 */
    int has_exporter;
    uint64_t exporter_ids[64];
    size_t n_exporter_ids;
    int has_app;
    uint16_t app;
} query;

typedef struct table_spec table_spec;

/* Per-application sums for /api/v1/applications: an open-addressing table
 * by nDPI application id (nDPI knows a few hundred; past APP_SLOTS - 1
 * distinct ids the rest go to id 0, Unknown). */
#define APP_SLOTS 1024
typedef struct app_sum {
    uint32_t used;
    uint16_t app, category;
    uint64_t bytes, packets, flows;
} app_sum;

typedef struct scan_job {
    floe_engine *e;
    floe_www_req *req;
    const table_spec *spec;
    query q;
    size_t slot, k, n;
    uint64_t matched;
    uint64_t *keys; /* key of heap entry i */
    size_t *heap;   /* heap of entry indexes, smallest key at the root */
    char *snaps;    /* entry i's snapshot at snaps + i * floe_tables_entry_size(spec->kind) */
    uint32_t slices;
    double max_slice_ms;
    app_sum *apps; /* APP_SLOTS, for an aggregating scan */
    uv_idle_t idle;
} scan_job;

struct table_spec {
    const char *name;
    enum floe_table_kind kind;
    int (*match)(const scan_job *j, const void *item);
    uint64_t (*key)(const void *item, int sort);
    void (*emit)(floe_json *jw, const scan_job *j, const void *snap);
    unsigned filters; /* FILTER_* this table takes */
    /* An aggregating scan: each match goes to aggregate instead of the
     * top-k heap, and reply writes the answer. */
    void (*aggregate)(scan_job *j, const void *item);
    void (*reply)(scan_job *j);
};

enum { FILTER_HOST = 1, FILTER_EXPORTER = 2, FILTER_APP = 4 };

/* ---- query parsing ----------------------------------------------------- */

static int parse_size(const char *s, size_t max, size_t *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v > max || s[0] == '-')
        return -1;
    *out = (size_t)v;
    return 0;
}

static int parse_exporter(floe_engine *e, const char *text, query *q)
{
    floe_addr a;
    floe_exporter *ex;
    if (floe_addr_parse(&a, text) != 0)
        return -1;
    q->has_exporter = 1;
    FLOE_EXPORTERS_FOREACH(&e->ing.exporters, ex) {
        if (floe_addr_eq(&ex->key.addr, &a) && q->n_exporter_ids < FLOE_ARRAY_LEN(q->exporter_ids))
            q->exporter_ids[q->n_exporter_ids++] = ex->id;
    }
    return 0;
}

/* Fills q from the query string; on error replies 400 and returns -1. */
static int parse_query(floe_www_req *req, floe_engine *e, unsigned filters, query *q)
{
    const char *v;
    char msg[160];
    memset(q, 0, sizeof(*q));
    q->limit = DEFAULT_LIMIT;
    if ((v = floe_www_query(req, "limit")) && parse_size(v, MAX_WINDOW, &q->limit) != 0) {
        snprintf(msg, sizeof(msg), "limit must be an integer from 0 to %d", MAX_WINDOW);
        goto bad;
    }
    if ((v = floe_www_query(req, "offset")) && parse_size(v, MAX_WINDOW, &q->offset) != 0) {
        snprintf(msg, sizeof(msg), "offset must be an integer from 0 to %d", MAX_WINDOW);
        goto bad;
    }
    if (q->limit + q->offset > MAX_WINDOW) {
        snprintf(msg, sizeof(msg), "offset + limit must not exceed %d", MAX_WINDOW);
        goto bad;
    }
    if ((v = floe_www_query(req, "sort"))) {
        q->sort = -1;
        for (int i = 0; i < (int)FLOE_ARRAY_LEN(sort_names); i++)
            if (strcmp(v, sort_names[i]) == 0)
                q->sort = i;
        if (q->sort < 0) {
            snprintf(msg, sizeof(msg), "sort must be bytes, packets, flows, score or last_seen");
            goto bad;
        }
    }
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"host", FILTER_HOST}, {"exporter", FILTER_EXPORTER}, {"app", FILTER_APP}};
    for (size_t i = 0; i < FLOE_ARRAY_LEN(names); i++) {
        if (!(v = floe_www_query(req, names[i].name)))
            continue;
        if (!(filters & names[i].bit)) {
            snprintf(msg, sizeof(msg), "filter '%s' does not apply here", names[i].name);
            goto bad;
        }
        int bad = 0;
        floe_app_label l;
        if (names[i].bit == FILTER_HOST) {
            char cidr[80];
            snprintf(cidr, sizeof(cidr),
                     strchr(v, '/')   ? "%s"
                     : strchr(v, ':') ? "%s/128"
                                      : "%s/32",
                     v);
            bad = floe_net_parse(&q->host, cidr) != 0;
            q->has_host = 1;
        } else if (names[i].bit == FILTER_EXPORTER) {
            bad = parse_exporter(e, v, q) != 0;
        } else {
            bad = !e->tables.dpi || floe_dpi_by_name(e->tables.dpi, v, &l) != 0;
            q->has_app = 1;
            q->app = l.app;
        }
        if (bad) {
            snprintf(msg, sizeof(msg), "filter '%s': cannot use '%.60s'", names[i].name, v);
            goto bad;
        }
    }
    return 0;
bad:
    floe_www_reply_error(req, 400, msg);
    return -1;
}

static int exporter_match(const query *q, uint64_t id)
{
    for (size_t i = 0; i < q->n_exporter_ids; i++)
        if (q->exporter_ids[i] == id)
            return 1;
    return 0;
}

/* ---- the scan ---------------------------------------------------------- */

static int heap_less(const scan_job *j, size_t a, size_t b)
{
    return j->keys[j->heap[a]] < j->keys[j->heap[b]];
}

static void heap_sift_down(scan_job *j, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < j->n && heap_less(j, l, m))
            m = l;
        if (r < j->n && heap_less(j, r, m))
            m = r;
        if (m == i)
            return;
        size_t t = j->heap[i];
        j->heap[i] = j->heap[m];
        j->heap[m] = t;
        i = m;
    }
}

static void heap_sift_up(scan_job *j, size_t i)
{
    while (i > 0 && heap_less(j, i, (i - 1) / 2)) {
        size_t p = (i - 1) / 2, t = j->heap[i];
        j->heap[i] = j->heap[p];
        j->heap[p] = t;
        i = p;
    }
}

/* Offers one matching item to the top-k heap. */
static void heap_offer(scan_job *j, const void *item)
{
    uint64_t key = j->spec->key(item, j->q.sort);
    size_t e;
    if (j->k == 0)
        return;
    if (j->n < j->k) {
        e = j->n;
        j->heap[j->n] = e;
        j->keys[e] = key;
        memcpy(j->snaps + e * floe_tables_entry_size(j->spec->kind), item,
               floe_tables_entry_size(j->spec->kind));
        heap_sift_up(j, j->n++);
        return;
    }
    if (key <= j->keys[j->heap[0]])
        return;
    e = j->heap[0];
    j->keys[e] = key;
    memcpy(j->snaps + e * floe_tables_entry_size(j->spec->kind), item,
           floe_tables_entry_size(j->spec->kind));
    heap_sift_down(j, 0);
}

/* Walks slots for about SCAN_SLICE_NS; returns 1 when the pool is done. */
static int scan_slice(scan_job *j)
{
    uint64_t t0 = uv_hrtime();
    const floe_tables *t = &j->e->tables;
    size_t slots = floe_tables_slots(t, j->spec->kind);
    while (j->slot < slots) {
        size_t end = j->slot + SCAN_CLOCK_EVERY;
        if (end > slots)
            end = slots;
        for (; j->slot < end; j->slot++) {
            const void *item = floe_tables_at(t, j->spec->kind, j->slot);
            if (item && j->spec->match(j, item)) {
                j->matched++;
                if (j->spec->aggregate)
                    j->spec->aggregate(j, item);
                else
                    heap_offer(j, item);
            }
        }
        if (uv_hrtime() - t0 >= SCAN_SLICE_NS)
            break;
    }
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    if (ms > j->max_slice_ms)
        j->max_slice_ms = ms;
    j->slices++;
    return j->slot >= slots;
}

static int by_key_desc(const void *a, const void *b, void *ctx)
{
    const scan_job *j = ctx;
    uint64_t ka = j->keys[*(const size_t *)a], kb = j->keys[*(const size_t *)b];
    return ka < kb ? 1 : ka > kb ? -1 : 0;
}

static void scan_reply(scan_job *j)
{
    floe_buf b;
    floe_json jw;
    if (j->spec->reply) {
        j->spec->reply(j);
        return;
    }
    qsort_r(j->heap, j->n, sizeof(*j->heap), by_key_desc, j);
    floe_buf_init(&b);
    floe_json_init(&jw, &b);
    floe_json_obj_begin(&jw);
    floe_json_ku64(&jw, "total", j->matched);
    floe_json_ku64(&jw, "offset", j->q.offset);
    floe_json_ku64(&jw, "limit", j->q.limit);
    floe_json_kstr(&jw, "sort", sort_names[j->q.sort]);
    floe_json_key(&jw, "scan");
    floe_json_obj_begin(&jw);
    floe_json_ku64(&jw, "slices", j->slices);
    floe_json_key(&jw, "max_slice_ms");
    floe_json_double(&jw, j->max_slice_ms);
    floe_json_obj_end(&jw);
    floe_json_key(&jw, j->spec->name);
    floe_json_arr_begin(&jw);
    for (size_t i = j->q.offset; i < j->n; i++)
        j->spec->emit(&jw, j, j->snaps + j->heap[i] * floe_tables_entry_size(j->spec->kind));
    floe_json_arr_end(&jw);
    floe_json_obj_end(&jw);
    floe_www_reply_json(j->req, 200, &b);
    floe_buf_close(&b);
}

static void job_free(scan_job *j)
{
    free(j->apps);
    free(j->keys);
    free(j->heap);
    free(j->snaps);
    free(j);
}

static void on_idle_closed(uv_handle_t *h)
{
    job_free(h->data);
}

static void on_idle(uv_idle_t *h)
{
    scan_job *j = h->data;
    if (!scan_slice(j))
        return;
    scan_reply(j);
    uv_idle_stop(h);
    uv_close((uv_handle_t *)h, on_idle_closed);
}

static void on_cancel(void *ud)
{
    scan_job *j = ud;
    uv_idle_stop(&j->idle);
    uv_close((uv_handle_t *)&j->idle, on_idle_closed);
}

/* Hosts and networks catch up with their flows once a second; a request
 * brings them up to date first when that is cheap. */
#define FLUSH_ON_REQUEST_MAX 20000

static void table_request(floe_www_req *req, floe_engine *e, const table_spec *spec)
{
    if (!e->tables_on) {
        floe_www_reply_error(req, 503, "tables are turned off (tables.enabled = false)");
        return;
    }
    floe_tables_flush_small(&e->tables, FLUSH_ON_REQUEST_MAX);
    scan_job *j = calloc(1, sizeof(*j));
    if (!j) {
        floe_www_reply_error(req, 500, "out of memory");
        return;
    }
    j->e = e;
    j->req = req;
    j->spec = spec;
    if (parse_query(req, e, spec->filters, &j->q) != 0) {
        free(j);
        return;
    }
    j->k = j->q.offset + j->q.limit;
    j->keys = calloc(j->k ? j->k : 1, sizeof(*j->keys));
    j->heap = calloc(j->k ? j->k : 1, sizeof(*j->heap));
    j->snaps = calloc(j->k ? j->k : 1, floe_tables_entry_size(spec->kind));
    if (spec->aggregate)
        j->apps = calloc(APP_SLOTS, sizeof(*j->apps));
    if (!j->keys || !j->heap || !j->snaps || (spec->aggregate && !j->apps)) {
        job_free(j);
        floe_www_reply_error(req, 500, "out of memory");
        return;
    }
    if (scan_slice(j)) { /* small table: done in one slice */
        scan_reply(j);
        job_free(j);
        return;
    }
    floe_www_suspend(req, on_cancel, j);
    uv_idle_init(e->loop, &j->idle);
    j->idle.data = j;
    uv_idle_start(&j->idle, on_idle);
}

/* ---- flows ------------------------------------------------------------- */

static int flow_match(const scan_job *j, const void *item)
{
    const floe_flow *f = item;
    const query *q = &j->q;
    if (q->has_host && !floe_net_contains(&q->host, &f->key.a) &&
        !floe_net_contains(&q->host, &f->key.b))
        return 0;
    if (q->has_exporter && !exporter_match(q, f->key.exporter))
        return 0;
    if (q->has_app && f->app.app != q->app && f->app.master != q->app)
        return 0;
    return 1;
}

static uint64_t flow_key(const void *item, int sort)
{
    const floe_flow *f = item;
    switch (sort) {
    case SORT_PACKETS:
        return f->packets[0] + f->packets[1];
    case SORT_FLOWS:
        return f->records;
    case SORT_SCORE:
        return f->score;
    case SORT_LAST_SEEN:
        return f->last_ms;
    default:
        return f->bytes[0] + f->bytes[1];
    }
}

static void flow_emit(floe_json *jw, const scan_job *j, const void *snap)
{
    floe_flow_json(jw, &j->e->tables, snap);
}

/* ---- hosts ------------------------------------------------------------- */

static int host_match(const scan_job *j, const void *item)
{
    const floe_host *h = item;
    if (j->q.has_host && !floe_net_contains(&j->q.host, &h->addr))
        return 0;
    if (j->q.has_app) {
        for (int i = 0; i < FLOE_HOST_TOP_APPS; i++)
            if (h->top[i].bytes && h->top[i].app == j->q.app)
                return 1;
        return 0;
    }
    return 1;
}

static uint64_t host_key(const void *item, int sort)
{
    const floe_host *h = item;
    switch (sort) {
    case SORT_PACKETS:
        return h->pkts_sent + h->pkts_rcvd;
    case SORT_FLOWS:
        return (uint64_t)h->active_client + h->active_server;
    case SORT_SCORE:
        return h->score;
    case SORT_LAST_SEEN:
        return h->last_ms;
    default:
        return h->bytes_sent + h->bytes_rcvd;
    }
}

static void host_emit(floe_json *jw, const scan_job *j, const void *snap)
{
    floe_host_json(jw, &j->e->tables, snap);
}

/* ---- interfaces -------------------------------------------------------- */

static int iface_match(const scan_job *j, const void *item)
{
    const floe_iface *i = item;
    return !j->q.has_exporter || exporter_match(&j->q, i->exporter);
}

static uint64_t iface_key(const void *item, int sort)
{
    const floe_iface *i = item;
    switch (sort) {
    case SORT_PACKETS:
        return i->pkts_in + i->pkts_out;
    case SORT_LAST_SEEN:
        return i->last_ms;
    case SORT_FLOWS:
    case SORT_SCORE:
        return i->ifindex;
    default:
        return i->bytes_in + i->bytes_out;
    }
}

static void iface_emit(floe_json *jw, const scan_job *j, const void *snap)
{
    floe_iface_json(jw, &j->e->tables, snap);
}

/* ---- applications ------------------------------------------------------- */

static void app_aggregate(scan_job *j, const void *item)
{
    const floe_flow *f = item;
    uint16_t app = f->app.app;
    size_t i = (app * 2654435761u) & (APP_SLOTS - 1), probes = 0;
    while (j->apps[i].used && j->apps[i].app != app) {
        i = (i + 1) & (APP_SLOTS - 1);
        if (++probes >= APP_SLOTS - 1) { /* full: count it as Unknown */
            app = 0;
            i = 0;
            break;
        }
    }
    app_sum *s = &j->apps[i];
    if (!s->used) {
        s->used = 1;
        s->app = app;
        s->category = f->app.category;
    }
    s->bytes += f->bytes[0] + f->bytes[1];
    s->packets += f->packets[0] + f->packets[1];
    s->flows++;
}

static int app_bytes_desc(const void *a, const void *b)
{
    const app_sum *x = a, *y = b;
    if (x->used != y->used)
        return x->used ? -1 : 1;
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

static void app_reply(scan_job *j)
{
    floe_buf b;
    floe_json jw;
    floe_dpi *dpi = j->e->tables.dpi;
    uint64_t bytes = 0, n = 0;
    qsort(j->apps, APP_SLOTS, sizeof(*j->apps), app_bytes_desc);
    for (size_t i = 0; i < APP_SLOTS && j->apps[i].used; i++, n++)
        bytes += j->apps[i].bytes;
    floe_buf_init(&b);
    floe_json_init(&jw, &b);
    floe_json_obj_begin(&jw);
    floe_json_ku64(&jw, "total", n);
    floe_json_ku64(&jw, "flows", j->matched);
    floe_json_ku64(&jw, "bytes", bytes);
    floe_json_ku64(&jw, "offset", j->q.offset);
    floe_json_ku64(&jw, "limit", j->q.limit);
    floe_json_key(&jw, "applications");
    floe_json_arr_begin(&jw);
    for (size_t i = j->q.offset; i < n && i < j->q.offset + j->q.limit; i++) {
        const app_sum *s = &j->apps[i];
        floe_json_obj_begin(&jw);
        floe_json_kstr(&jw, "app", dpi ? floe_dpi_app_name(dpi, s->app) : "Unknown");
        floe_json_ku64(&jw, "app_id", s->app);
        floe_json_kstr(&jw, "category", dpi ? floe_dpi_category_name(dpi, s->category) : "");
        floe_json_ku64(&jw, "bytes", s->bytes);
        floe_json_ku64(&jw, "packets", s->packets);
        floe_json_ku64(&jw, "flows", s->flows);
        floe_json_obj_end(&jw);
    }
    floe_json_arr_end(&jw);
    floe_json_obj_end(&jw);
    floe_www_reply_json(j->req, 200, &b);
    floe_buf_close(&b);
}

static const table_spec apps_spec = {.name = "applications",
                                     .kind = FLOE_TABLE_FLOWS,
                                     .match = flow_match,
                                     .key = flow_key,
                                     .filters = FILTER_HOST | FILTER_EXPORTER,
                                     .aggregate = app_aggregate,
                                     .reply = app_reply};
static const table_spec flows_spec = {.name = "flows",
                                      .kind = FLOE_TABLE_FLOWS,
                                      .match = flow_match,
                                      .key = flow_key,
                                      .emit = flow_emit,
                                      .filters = FILTER_HOST | FILTER_EXPORTER | FILTER_APP};
static const table_spec hosts_spec = {.name = "hosts",
                                      .kind = FLOE_TABLE_HOSTS,
                                      .match = host_match,
                                      .key = host_key,
                                      .emit = host_emit,
                                      .filters = FILTER_HOST | FILTER_APP};
static const table_spec ifaces_spec = {.name = "interfaces",
                                       .kind = FLOE_TABLE_IFACES,
                                       .match = iface_match,
                                       .key = iface_key,
                                       .emit = iface_emit,
                                       .filters = FILTER_EXPORTER};

static void on_apps(floe_www_req *req, void *ud)
{
    table_request(req, ud, &apps_spec);
}
static void on_flows(floe_www_req *req, void *ud)
{
    table_request(req, ud, &flows_spec);
}
static void on_hosts(floe_www_req *req, void *ud)
{
    table_request(req, ud, &hosts_spec);
}
static void on_ifaces(floe_www_req *req, void *ud)
{
    table_request(req, ud, &ifaces_spec);
}

static void on_host(floe_www_req *req, void *ud)
{
    floe_engine *e = ud;
    floe_addr a;
    if (!e->tables_on) {
        floe_www_reply_error(req, 503, "tables are turned off (tables.enabled = false)");
        return;
    }
    if (floe_addr_parse(&a, floe_www_path_rest(req)) != 0) {
        floe_www_reply_error(req, 400, "expected /api/v1/hosts/{ip}");
        return;
    }
    floe_tables_flush_small(&e->tables, FLUSH_ON_REQUEST_MAX);
    floe_host *h = floe_tables_host(&e->tables, &a);
    if (!h) {
        floe_www_reply_error(req, 404, "host not in the table");
        return;
    }
    floe_buf b;
    floe_json jw;
    floe_buf_init(&b);
    floe_json_init(&jw, &b);
    floe_host_json(&jw, &e->tables, h);
    floe_www_reply_json(req, 200, &b);
    floe_buf_close(&b);
}

static void on_networks(floe_www_req *req, void *ud)
{
    floe_engine *e = ud;
    floe_buf b;
    floe_json jw;
    if (!e->tables_on) {
        floe_www_reply_error(req, 503, "tables are turned off (tables.enabled = false)");
        return;
    }
    floe_tables_flush_small(&e->tables, FLUSH_ON_REQUEST_MAX);
    floe_buf_init(&b);
    floe_json_init(&jw, &b);
    floe_json_obj_begin(&jw);
    floe_json_key(&jw, "networks");
    floe_json_arr_begin(&jw);
    const floe_net *n;
    FLOE_NETS_FOREACH(&e->tables, n)
        floe_net_json(&jw, n);
    floe_json_arr_end(&jw);
    floe_json_obj_end(&jw);
    floe_www_reply_json(req, 200, &b);
    floe_buf_close(&b);
}

/* The routes, one row each. */
static const struct {
    const char *path;
    unsigned flags;
    floe_www_handler handler;
} table_routes[] = {
    {"/api/v1/flows", 0, on_flows},
    {"/api/v1/hosts", 0, on_hosts},
    {"/api/v1/hosts/", FLOE_WWW_PREFIX, on_host},
    {"/api/v1/interfaces", 0, on_ifaces},
    {"/api/v1/networks", 0, on_networks},
    {"/api/v1/applications", 0, on_apps},
};

int floe_api_tables_register(floe_www *w, floe_engine *e)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(table_routes); i++) {
        int rc = floe_www_route(w, "GET", table_routes[i].path, table_routes[i].flags,
                                table_routes[i].handler, e);
        if (rc != 0)
            return rc;
    }
    return 0;
}
