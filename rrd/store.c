/*
 * rrd/store.c: the store's life and its producer side. floe_ts_new checks
 * the options and starts the writer; floe_ts_append packs a point into the
 * current queue chunk under qlock (a copy, nothing more), dropping the
 * oldest chunk when the queue is full; floe_ts_step_end and floe_ts_drain
 * wake the writer. The counters and their JSON and Prometheus forms live
 * here too.
 */
#include "rrd/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rrd.h>
#include <rrd_client.h>

void floe_ts_opts_default(floe_ts_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->dir = "timeseries";
    o->spread = 1;
}

static int ts_opts_check(floe_ts *ts, const floe_ts_opts *o, char *err, size_t errlen)
{
    char why[240];
    if (!o->dir || !o->dir[0] || strlen(o->dir) > TS__PATH_MAX - 400) {
        snprintf(err, errlen, "timeseries.dir: %s", o->dir && o->dir[0] ? "too long" : "missing");
        return FLOE_ECONFIG;
    }
    if (floe_ts_retention_parse(&ts->retention,
                                o->retention ? o->retention : FLOE_TS_DEFAULT_RETENTION, why,
                                sizeof(why))) {
        snprintf(err, errlen, "timeseries.%s", why);
        return FLOE_ECONFIG;
    }
    if (ts->retention.rra[0].res_s % 60) {
        snprintf(err, errlen, "timeseries.retention: resolutions must be whole minutes");
        return FLOE_ECONFIG;
    }
    if (o->batch_steps > 60) {
        snprintf(err, errlen, "timeseries.batch_steps: %u is over 60", o->batch_steps);
        return FLOE_ECONFIG;
    }
    if (o->rrdcached && o->rrdcached[0] &&
        (strchr(o->rrdcached, ' ') || strlen(o->rrdcached) > 200)) {
        snprintf(err, errlen, "timeseries.rrdcached: '%.60s' is not unix:/path or host:port",
                 o->rrdcached);
        return FLOE_ECONFIG;
    }
    return 0;
}

/* The store's directory as an absolute path (rrdcached wants them), made. */
static int ts_make_dir(floe_ts *ts, const char *dir, char *err, size_t errlen)
{
    char path[TS__PATH_MAX];
    snprintf(path, sizeof(path), "%s/", dir);
    if (ts__mkdir_p(path) != 0) {
        snprintf(err, errlen, "timeseries.dir: cannot create %s: %s", dir, strerror(errno));
        return FLOE_ECONFIG;
    }
    char *abs = realpath(dir, NULL);
    if (!abs) {
        snprintf(err, errlen, "timeseries.dir: %s: %s", dir, strerror(errno));
        return FLOE_ECONFIG;
    }
    ts->dir = abs;
    return 0;
}

static int ts_connect(floe_ts *ts, const char *addr, char *err, size_t errlen)
{
    if (!addr || !addr[0])
        return 0;
    ts->cached_addr = strdup(addr);
    if (!ts->cached_addr)
        return FLOE_ENOMEM;
    rrd_clear_error();
    if (rrdc_connect(addr) != 0 || !rrdc_is_connected(addr)) {
        snprintf(err, errlen, "timeseries.rrdcached: cannot connect to %s: %s", addr,
                 rrd_test_error() ? rrd_get_error() : "refused");
        rrd_clear_error();
        return FLOE_ECONFIG;
    }
    ts->cached_ok = 1;
    return 0;
}

static void ts_init_sync(floe_ts *ts)
{
    pthread_mutex_init(&ts->slock, NULL);
    pthread_mutex_init(&ts->qlock, NULL);
    pthread_mutex_init(&ts->elock, NULL);
    pthread_mutex_init(&ts->glock, NULL);
    pthread_mutex_init(&ts->rlock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ts->wake, &ca);
    pthread_cond_init(&ts->done, &ca);
    pthread_condattr_destroy(&ca);
    floe_list_init(&ts->reqs);
    floe_list_init(&ts->wlist);
    floe_list_init(&ts->gcache);
    floe_buf_init(&ts->ubuf);
}

static void ts_close_sync(floe_ts *ts)
{
    pthread_mutex_destroy(&ts->slock);
    pthread_mutex_destroy(&ts->qlock);
    pthread_mutex_destroy(&ts->elock);
    pthread_mutex_destroy(&ts->glock);
    pthread_mutex_destroy(&ts->rlock);
    pthread_cond_destroy(&ts->wake);
    pthread_cond_destroy(&ts->done);
    floe_buf_close(&ts->ubuf);
}

static void ts_free_parts(floe_ts *ts)
{
    ts__registry_close(ts);
    ts__gcache_close(ts);
    floe_hmap_close(&ts->series);
    ts_close_sync(ts);
    free(ts->uargv);
    free(ts->spare);
    free(ts->free_chunk);
    free(ts->cached_addr);
    free(ts->dir);
    free(ts);
}

floe_ts *floe_ts_new(const floe_ts_opts *o, floe_log *log, char *err, size_t errlen)
{
    floe_ts *ts = calloc(1, sizeof(*ts));
    if (!ts) {
        snprintf(err, errlen, "timeseries: out of memory");
        return NULL;
    }
    ts_init_sync(ts);
    ts->log = log;
    int rc = ts_opts_check(ts, o, err, errlen);
    if (!rc)
        rc = ts_make_dir(ts, o->dir, err, errlen);
    if (!rc)
        rc = ts_connect(ts, o->rrdcached, err, errlen);
    if (!rc && floe_hmap_init(&ts->series, 1024, 0) != 0)
        rc = FLOE_ENOMEM;
    if (rc) {
        if (rc == FLOE_ENOMEM)
            snprintf(err, errlen, "timeseries: out of memory");
        ts_free_parts(ts);
        return NULL;
    }
    ts->queue_max = o->queue_max ? o->queue_max : 1000000;
    ts->series_max = o->series_max ? o->series_max : 1000000;
    ts->cleanup_age_s = o->cleanup_age_s;
    ts->spread = o->spread;
    ts->shutdown_ms = o->shutdown_ms;
    ts->batch = o->batch_steps ? o->batch_steps : ts->cached_addr ? 1 : 5;
    ts->graph_cache_s = o->graph_cache_s ? o->graph_cache_s : 10;
    ts->graph_cache_max = o->graph_cache_max ? o->graph_cache_max : 64;
    if (pthread_create(&ts->thread, NULL, ts__writer_main, ts) != 0) {
        snprintf(err, errlen, "timeseries: cannot start the writer thread");
        ts_free_parts(ts);
        return NULL;
    }
    return ts;
}

void floe_ts_free(floe_ts *ts)
{
    if (!ts)
        return;
    /* The writer's last turn writes what is queued and cached (within
     * shutdown_ms, then the journal). */
    pthread_mutex_lock(&ts->qlock);
    ts->stop = 1;
    pthread_cond_signal(&ts->wake);
    pthread_mutex_unlock(&ts->qlock);
    pthread_join(ts->thread, NULL);
    if (ts->cached_addr)
        rrdc_disconnect();
    ts_free_parts(ts);
}

/* ---- the producer -------------------------------------------------------- */

static void ts_chunk_release(floe_ts *ts, ts__chunk *c)
{
    for (size_t off = 0; off < c->used;) {
        ts__rec *r = (ts__rec *)(void *)(c->data + off);
        ts__schema_unref(r->schema);
        off += r->size;
    }
    c->used = c->points = 0;
    c->next = NULL;
    if (!ts->spare)
        ts->spare = c;
    else
        free(c);
}

/* Drops the oldest chunk (under qlock). */
static void ts_drop_oldest(floe_ts *ts)
{
    ts__chunk *c = ts->qhead;
    ts->qhead = c->next;
    if (!ts->qhead)
        ts->qtail = NULL;
    ts->qpoints -= c->points;
    atomic_fetch_add(&ts->c_dropped, c->points);
    ts_chunk_release(ts, c);
}

/* Room for size bytes at the queue's tail (under qlock), or NULL. */
static ts__rec *ts_reserve(floe_ts *ts, size_t size)
{
    while (ts->qpoints >= ts->queue_max && ts->qhead)
        ts_drop_oldest(ts);
    ts__chunk *c = ts->qtail;
    if (!c || c->used + size > TS__CHUNK_BYTES) {
        c = ts->spare ? ts->spare : malloc(sizeof(*c));
        if (!c)
            return NULL;
        ts->spare = NULL;
        c->next = NULL;
        c->used = c->points = 0;
        if (ts->qtail)
            ts->qtail->next = c;
        else
            ts->qhead = c;
        ts->qtail = c;
    }
    ts__rec *r = (ts__rec *)(void *)(c->data + c->used);
    c->used += size;
    c->points++;
    ts->qpoints++;
    /* The writer takes the queue at each step end; wake it early when a
     * producer fills half the queue between two. */
    if (ts->qpoints == ts->queue_max / 2)
        pthread_cond_signal(&ts->wake);
    return r;
}

/* Queues a point for the step ending at t, taking over the reference to s.
 * With patient set, waits for the writer to take the queue rather than
 * drop the oldest points (under qlock). */
static int ts_queue(floe_ts *ts, ts__schema *s, int64_t t, const double *values, const char *path,
                    size_t plen, int patient)
{
    unsigned n_values = s->def.n_metrics;
    size_t size = sizeof(ts__rec) + n_values * sizeof(double) + plen + 1;
    size = (size + 7) & ~(size_t)7;
    pthread_mutex_lock(&ts->qlock);
    while (patient && ts->qpoints >= ts->queue_max / 2 && !ts->stop) {
        pthread_cond_signal(&ts->wake);
        pthread_cond_wait(&ts->done, &ts->qlock);
    }
    ts__rec *r = ts_reserve(ts, size);
    if (r) {
        r->schema = s;
        r->t = t;
        r->n_values = (uint16_t)n_values;
        r->path_len = (uint16_t)plen;
        r->size = (uint32_t)size;
        memcpy(ts__rec_values(r), values, n_values * sizeof(double));
        memcpy(ts__rec_path(r), path, plen + 1);
    }
    pthread_mutex_unlock(&ts->qlock);
    if (!r) {
        atomic_fetch_add(&ts->c_dropped, 1);
        ts__schema_unref(s);
        return FLOE_ENOMEM;
    }
    atomic_fetch_add(&ts->c_queued, 1);
    return 0;
}

int floe_ts_append(floe_ts *ts, const char *schema, const char *const *tag_values,
                   const double *values, unsigned n_values, int64_t when_s)
{
    char path[TS__PATH_MAX];
    ts__schema *s = schema ? ts__schema_get(ts, schema) : NULL;
    int rc = s ? 0 : FLOE_ENOTFOUND;
    int plen = 0;
    if (!rc &&
        (n_values != s->def.n_metrics || !values || when_s <= 0 || (s->def.n_tags && !tag_values)))
        rc = FLOE_EINVAL;
    if (!rc && (plen = ts__series_relpath(s, tag_values, path, sizeof(path), NULL, 0)) < 0)
        rc = FLOE_EINVAL;
    if (rc) {
        atomic_fetch_add(&ts->c_rejected, 1);
        ts__schema_unref(s);
        return rc;
    }
    int64_t step = s->def.step_s;
    return ts_queue(ts, s, (when_s + step - 1) / step * step, values, path, (size_t)plen, 0);
}

/* ---- the shutdown journal -------------------------------------------------- */

/* A path as the writer made it: relative, and never leaving the store. */
static int ts_journal_path_ok(const char *p, size_t n)
{
    if (n == 0 || n >= TS__PATH_MAX || p[0] == '/' || strncmp(p, "../", 3) == 0 ||
        strstr(p, "/../") != NULL || (n >= 3 && strcmp(p + n - 3, "/..") == 0))
        return 0;
    return 1;
}

/* One line of the journal (writer.c, ts_journal_save), its tabs cut into
 * NULs: queued, or 0 when it cannot be. */
static int ts_journal_line(floe_ts *ts, char *line)
{
    char *tab[3], *p = line;
    for (int i = 0; i < 3; i++) {
        if (!(p = strchr(p, '\t')))
            return 0;
        *p++ = 0;
        tab[i] = p;
    }
    char *path = tab[2], *end;
    size_t plen = strcspn(path, "\n");
    path[plen] = 0;
    long long t = strtoll(tab[0], &end, 10);
    if (end == tab[0] || *end != 0 || t <= 0 || !ts_journal_path_ok(path, plen))
        return 0;
    double v[FLOE_TS_MAX_METRICS];
    unsigned n = 0;
    for (p = tab[1];; p++) {
        if (n == FLOE_TS_MAX_METRICS)
            return 0;
        v[n++] = strtod(p, &end);
        if (end == p || (*end != ',' && *end != 0))
            return 0;
        if (*(p = end) == 0)
            break;
    }
    ts__schema *s = ts__schema_get(ts, line);
    if (!s || s->def.n_metrics != n) {
        ts__schema_unref(s);
        return 0;
    }
    return ts_queue(ts, s, (int64_t)t, v, path, plen, 1) == 0;
}

long floe_ts_journal_load(floe_ts *ts, char *err, size_t errlen)
{
    char abs[TS__PATH_MAX];
    if (ts__abspath(ts, FLOE_TS_JOURNAL, abs, sizeof(abs)) < 0)
        return 0;
    FILE *f = fopen(abs, "r");
    if (!f && errno == ENOENT)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    long queued = 0, rejected = 0;
    int rc = f && getline(&line, &cap, f) > 0 && strcmp(line, TS__JOURNAL_HEAD) == 0 ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", abs,
                 !f || ferror(f) ? strerror(errno) : "not a floe timeseries journal");
    while (rc == 0 && getline(&line, &cap, f) > 0) {
        if (ts_journal_line(ts, line))
            queued++;
        else
            rejected++;
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: %s", abs, strerror(errno));
        rc = -1;
    }
    free(line);
    if (f)
        fclose(f);
    atomic_fetch_add(&ts->c_restored, (uint64_t)queued);
    atomic_fetch_add(&ts->c_rejected, (uint64_t)rejected);
    if (rc != 0)
        return FLOE_EIO;
    if (unlink(abs) != 0) {
        snprintf(err, errlen, "%s: cannot delete it after queuing its points: %s", abs,
                 strerror(errno));
        return FLOE_EIO;
    }
    return queued;
}

void floe_ts_step_end(floe_ts *ts, int64_t when_s)
{
    pthread_mutex_lock(&ts->qlock);
    if (when_s > ts->step_when)
        ts->step_when = when_s;
    ts->step_new = 1;
    pthread_cond_signal(&ts->wake);
    pthread_mutex_unlock(&ts->qlock);
}

void floe_ts_hold(floe_ts *ts, int on)
{
    pthread_mutex_lock(&ts->qlock);
    ts->hold = on != 0;
    pthread_cond_signal(&ts->wake);
    pthread_mutex_unlock(&ts->qlock);
}

int floe_ts_drain(floe_ts *ts)
{
    ts__req req = {.kind = TS__REQ_DRAIN};
    return ts__request(ts, &req);
}

int ts__request(floe_ts *ts, ts__req *req)
{
    pthread_mutex_lock(&ts->qlock);
    floe_list_push_tail(&ts->reqs, &req->link);
    pthread_cond_signal(&ts->wake);
    while (!req->done)
        pthread_cond_wait(&ts->done, &ts->qlock);
    pthread_mutex_unlock(&ts->qlock);
    return req->rc;
}

void ts__error(floe_ts *ts, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&ts->elock);
    va_start(ap, fmt);
    vsnprintf(ts->last_error, sizeof(ts->last_error), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&ts->elock);
    atomic_fetch_add(&ts->c_errors, 1);
    log_warn_rl(ts->log, "rrd: %s", ts->last_error);
}

/* ---- counters ------------------------------------------------------------ */

void floe_ts_stats_get(floe_ts *ts, floe_ts_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->points_queued = atomic_load(&ts->c_queued);
    st->points_rejected = atomic_load(&ts->c_rejected);
    st->points_dropped = atomic_load(&ts->c_dropped);
    st->points_written = atomic_load(&ts->c_written);
    st->points_skipped = atomic_load(&ts->c_skipped);
    st->points_failed = atomic_load(&ts->c_failed);
    st->updates = atomic_load(&ts->c_updates);
    st->write_errors = atomic_load(&ts->c_errors);
    st->writes_busy = atomic_load(&ts->c_busy);
    st->files_created = atomic_load(&ts->c_created);
    st->files_mismatched = atomic_load(&ts->c_mismatched);
    st->cleanup_deleted = atomic_load(&ts->c_deleted);
    st->graphs_rendered = atomic_load(&ts->c_rendered);
    st->graphs_cached = atomic_load(&ts->c_gcached);
    st->points_journaled = atomic_load(&ts->c_journaled);
    st->points_restored = atomic_load(&ts->c_restored);
    pthread_mutex_lock(&ts->qlock);
    st->queue_len = ts->qpoints;
    st->cached_points = ts->pub_cached;
    st->series = ts->pub_series;
    st->backlog = ts->pub_backlog;
    st->steps = ts->pub_steps;
    st->updates_per_s = ts->pub_ups;
    pthread_mutex_unlock(&ts->qlock);
    pthread_mutex_lock(&ts->elock);
    memcpy(st->last_error, ts->last_error, sizeof(st->last_error));
    pthread_mutex_unlock(&ts->elock);
}

#define TS_COUNTERS(XX)                                                                            \
    XX(points_queued, "counter", "points accepted by append")                                      \
    XX(points_rejected, "counter", "points refused by append (unknown schema, bad tags)")          \
    XX(points_dropped, "counter", "points dropped when the queue or cache was full")               \
    XX(points_written, "counter", "points written to the files")                                   \
    XX(points_skipped, "counter", "points at or before a file's last update")                      \
    XX(points_failed, "counter", "points lost to write errors")                                    \
    XX(updates, "counter", "successful update calls")                                              \
    XX(write_errors, "counter", "failed create, update and check calls")                           \
    XX(writes_busy, "counter", "writes put off because another writer held the file's lock")       \
    XX(files_created, "counter", "series files created")                                           \
    XX(files_mismatched, "counter", "existing files whose layout differs from the schema")         \
    XX(cleanup_deleted, "counter", "series files deleted by the cleanup job")                      \
    XX(graphs_rendered, "counter", "charts drawn")                                                 \
    XX(graphs_cached, "counter", "charts served from the chart cache")                             \
    XX(points_journaled, "counter", "points saved to pending.journal at a shutdown's deadline")    \
    XX(points_restored, "counter", "points queued again from pending.journal at start")            \
    XX(queue_len, "gauge", "points waiting in the append queue")                                   \
    XX(cached_points, "gauge", "points held in the write-back cache")                              \
    XX(series, "gauge", "series tracked by the writer")                                            \
    XX(backlog, "gauge", "series due and not yet written")                                         \
    XX(steps, "counter", "step ends taken by the writer")

void floe_ts_stats_json(floe_ts *ts, floe_json *j)
{
    floe_ts_stats st;
    floe_ts_stats_get(ts, &st);
    floe_json_obj_begin(j);
#define XX(name, kind, help) floe_json_ku64(j, #name, st.name);
    TS_COUNTERS(XX)
#undef XX
    floe_json_key(j, "updates_per_s");
    floe_json_double(j, st.updates_per_s);
    floe_json_kstr(j, "last_error", st.last_error);
    floe_json_kstr(j, "mode", ts->cached_addr ? "rrdcached" : "direct");
    floe_json_obj_end(j);
}

void floe_ts_stats_prometheus(floe_ts *ts, floe_buf *out)
{
    floe_ts_stats st;
    floe_ts_stats_get(ts, &st);
#define XX(name, kind, help)                                                                       \
    floe_buf_printf(out, "# HELP floe_ts_%s %s\n# TYPE floe_ts_%s %s\nfloe_ts_%s %" PRIu64 "\n",   \
                    #name, help, #name, kind, #name, (uint64_t)st.name);
    TS_COUNTERS(XX)
#undef XX
    floe_buf_printf(out,
                    "# HELP floe_ts_updates_per_s update calls per second over the last "
                    "step\n# TYPE floe_ts_updates_per_s gauge\nfloe_ts_updates_per_s %.1f\n",
                    isfinite(st.updates_per_s) ? st.updates_per_s : 0.0);
}
