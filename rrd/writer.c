/*
 * rrd/writer.c: the writer thread, the only code that writes series files.
 * It takes the append queue whole, merges each point into its series (a
 * write-back cache: a sorted handful of points per series), and at each step
 * end puts the series that are due on the write list. A series is due once
 * every batch_steps steps, at a phase of its own, so each step writes an
 * equal share of the series, each with batch_steps timestamps in one
 * rrd_update call; the list is then written at an even pace over most of
 * the step. Readers' flush requests, drains and migrations are served
 * between writes, and the cleanup walk runs in slices between them too.
 */
#include "rrd/internal.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rrd.h>
#include <rrd_client.h>

#define TS_SLICE_MS       50   /* longest run of writes between two looks at the queue */
#define TS_CLEANUP_SLICE  256  /* directory entries per cleanup slice */
#define TS_SERIES_CAP_MAX 1024 /* points one series may hold */

int ts__abspath(const floe_ts *ts, const char *rel, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s", ts->dir, rel);
    return n < 0 || (size_t)n >= outlen ? FLOE_ELIMIT : n;
}

/* ---- series -------------------------------------------------------------- */

static ts__series *ts_series_find(floe_ts *ts, const char *path, size_t n, uint64_t h)
{
    for (floe_hnode *x = floe_hmap_bucket(&ts->series, h); x; x = x->next) {
        ts__series *s = FLOE_CONTAINER_OF(x, ts__series, node);
        if (x->hash == h && strncmp(s->path, path, n) == 0 && s->path[n] == 0)
            return s;
    }
    return NULL;
}

static ts__series *ts_series_new(floe_ts *ts, const char *path, size_t n, uint64_t h,
                                 ts__schema *schema)
{
    if (ts->series.count >= ts->series_max)
        return NULL;
    ts__series *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strndup(path, n))) {
        free(s);
        return NULL;
    }
    s->node.hash = h;
    s->schema = schema;
    ts__schema_ref(schema);
    s->phase = (uint32_t)(h >> 32) % ts->batch;
    floe_list_init(&s->link);
    floe_hmap_insert(&ts->series, &s->node);
    return s;
}

static void ts_series_free(floe_ts *ts, ts__series *s)
{
    if (s->queued) {
        floe_list_remove(&s->link);
        ts->wlist_len--;
    }
    ts->cached_points -= s->n;
    floe_hmap_remove(&ts->series, &s->node);
    ts__schema_unref(s->schema);
    free(s->map);
    free(s->t);
    free(s->v);
    free(s->path);
    free(s);
}

/* Frees an empty series' point arrays. */
static void ts_series_shrink(ts__series *s)
{
    free(s->t);
    free(s->v);
    s->t = NULL;
    s->v = NULL;
    s->cap = 0;
}

static void ts_series_drop_first(floe_ts *ts, ts__series *s)
{
    unsigned m = s->schema->def.n_metrics;
    memmove(s->t, s->t + 1, (s->n - 1) * sizeof(*s->t));
    memmove(s->v, s->v + m, (s->n - 1) * m * sizeof(double));
    s->n--;
    ts->cached_points--;
    atomic_fetch_add(&ts->c_dropped, 1);
}

static void ts_write_series(floe_ts *ts, ts__series *s);

/* Room for one more point. A series holding TS_SERIES_CAP_MAX points, or
 * any series once the whole cache is at its bound (a replay feeding faster
 * than real time, a writer behind), is written at once; only if that
 * cannot be done (its file is locked) is its oldest point dropped. Else the
 * series grows. Returns 0 or -1 (no memory). */
static int ts_series_room(floe_ts *ts, ts__series *s)
{
    if (s->n < s->cap)
        return 0;
    size_t bound = ts->queue_max + ts->series.count * ts->batch; /* a backlog past the batches */
    if (s->n && (s->cap >= TS_SERIES_CAP_MAX || ts->cached_points >= bound))
        ts_write_series(ts, s);
    if (s->n < s->cap)
        return 0;
    if (s->n && (s->cap >= TS_SERIES_CAP_MAX || ts->cached_points >= bound)) {
        ts_series_drop_first(ts, s);
        return 0;
    }
    unsigned m = s->schema->def.n_metrics;
    unsigned cap = s->cap ? s->cap * 2 : ts->batch + 1;
    cap = cap > TS_SERIES_CAP_MAX ? TS_SERIES_CAP_MAX : cap;
    int64_t *t = realloc(s->t, cap * sizeof(*t));
    if (t)
        s->t = t;
    double *v = t ? realloc(s->v, (size_t)cap * m * sizeof(double)) : NULL;
    if (!v)
        return -1;
    s->v = v;
    s->cap = cap;
    return 0;
}

static double ts_add(double a, double b)
{
    return isnan(a) ? b : isnan(b) ? a : a + b;
}

/* Puts a point in t order; a second point for the same step adds (deltas)
 * or replaces (gauges). */
static void ts_series_put(floe_ts *ts, ts__series *s, int64_t t, const double *v)
{
    const floe_ts_schema *d = &s->schema->def;
    unsigned m = d->n_metrics, i = s->n;
    while (i > 0 && s->t[i - 1] > t)
        i--;
    if (i > 0 && s->t[i - 1] == t) {
        double *o = s->v + (size_t)(i - 1) * m;
        for (unsigned k = 0; k < m; k++)
            o[k] = d->metrics[k].type == FLOE_TS_DELTA ? ts_add(o[k], v[k]) : v[k];
        return;
    }
    if (ts_series_room(ts, s) != 0) {
        atomic_fetch_add(&ts->c_dropped, 1);
        return;
    }
    if (i > s->n)
        i = s->n; /* the oldest was dropped to make room */
    memmove(s->t + i + 1, s->t + i, (s->n - i) * sizeof(*s->t));
    memmove(s->v + (size_t)(i + 1) * m, s->v + (size_t)i * m, (s->n - i) * m * sizeof(double));
    s->t[i] = t;
    memcpy(s->v + (size_t)i * m, v, m * sizeof(double));
    s->n++;
    ts->cached_points++;
    if (t > s->last_seen)
        s->last_seen = t;
}

/* A point queued under another definition of the schema (a reload): what
 * the series holds is written under the old one first. */
static void ts_series_switch(floe_ts *ts, ts__series *s, ts__schema *schema)
{
    if (s->n)
        ts_write_series(ts, s);
    ts__schema_unref(s->schema);
    s->schema = schema;
    ts__schema_ref(schema);
    s->checked = 0;
    ts_series_shrink(s);
}

static void ts_merge_rec(floe_ts *ts, ts__rec *r)
{
    const char *path = ts__rec_path(r);
    uint64_t h = floe_hash(path, r->path_len, 0x7473);
    ts__series *s = ts_series_find(ts, path, r->path_len, h);
    if (!s)
        s = ts_series_new(ts, path, r->path_len, h, r->schema);
    if (!s)
        atomic_fetch_add(&ts->c_dropped, 1);
    else if (s->schema != r->schema)
        ts_series_switch(ts, s, r->schema);
    if (s && s->checked && r->t <= s->last_update)
        atomic_fetch_add(&ts->c_skipped, 1);
    else if (s)
        ts_series_put(ts, s, r->t, ts__rec_values(r));
    ts__schema_unref(r->schema);
}

static void ts_merge(floe_ts *ts, ts__chunk *c)
{
    while (c) {
        ts__chunk *next = c->next;
        for (size_t off = 0; off < c->used;) {
            ts__rec *r = (ts__rec *)(void *)(c->data + off);
            off += r->size;
            ts_merge_rec(ts, r);
        }
        if (!ts->free_chunk)
            ts->free_chunk = c;
        else
            free(c);
        c = next;
    }
}

/* ---- writing one series ---------------------------------------------------- */

/* Maps each schema metric to the file's DS of the same name. */
static int ts_build_map(ts__series *s, const ts__layout *l)
{
    const floe_ts_schema *d = &s->schema->def;
    free(s->map);
    s->map = malloc(d->n_metrics * sizeof(int));
    if (!s->map)
        return FLOE_ENOMEM;
    for (unsigned i = 0; i < d->n_metrics; i++) {
        s->map[i] = -1;
        for (unsigned k = 0; k < l->n_ds; k++)
            if (strcmp(l->ds[k], d->metrics[i].name) == 0)
                s->map[i] = (int)k;
    }
    s->n_file_ds = l->n_ds;
    return 0;
}

static void ts_report_mismatch(floe_ts *ts, const char *abs, const ts__layout *l,
                               const floe_ts_schema *d)
{
    char a[200], b[200];
    atomic_fetch_add(&ts->c_mismatched, 1);
    floe_ts_retention_format(&l->retention, a, sizeof(a));
    floe_ts_retention_format(&d->retention, b, sizeof(b));
    log_warn_rl(ts->log,
                "rrd: %s: layout differs from schema %s: file step %u s, %u metrics, "
                "retention %s; schema step %u s, %u metrics, retention %s; writing the metrics "
                "both have (floe rrd migrate rewrites it)",
                abs, d->name, l->step_s, l->n_ds, a, d->step_s, d->n_metrics, b);
}

/* Makes sure the file exists and its layout is known. Returns 0 or -1. */
static int ts_check_file(floe_ts *ts, ts__series *s, const char *abs)
{
    char err[600];
    const ts__schema *sc = s->schema;
    free(s->map);
    s->map = NULL;
    s->n_file_ds = sc->def.n_metrics;
    int rc = access(abs, F_OK) == 0
                 ? FLOE_EEXISTS
                 : ts__create(ts, abs, sc, s->t[0] - sc->def.step_s, err, sizeof(err));
    if (rc == 0) {
        atomic_fetch_add(&ts->c_created, 1);
        s->last_update = s->t[0] - sc->def.step_s;
        s->checked = 1;
        return 0;
    }
    if (rc != FLOE_EEXISTS) {
        ts__error(ts, "%s", err);
        return -1;
    }
    ts__layout l;
    if (ts__layout_read(abs, &l, err, sizeof(err)) != 0) {
        if (strstr(err, "lock"))
            return -2; /* busy: see ts_write_series */
        ts__error(ts, "%s", err);
        return -1;
    }
    if (!ts__layout_same(&l, &sc->def)) {
        ts_report_mismatch(ts, abs, &l, &sc->def);
        if (ts_build_map(s, &l) != 0)
            return -1;
    }
    s->last_update = l.last_update;
    if (ts->cached_addr) {
        /* The daemon may hold newer points than the file: ask it, rather
         * than flush (a flush waits for the daemon to write the file). */
        time_t last = rrdc_last(abs);
        if (last > s->last_update)
            s->last_update = last;
        rrd_clear_error();
    }
    s->checked = 1;
    return 0;
}

static void ts_put_value(floe_buf *b, double v)
{
    if (isfinite(v))
        floe_buf_printf(b, ":%.17g", v);
    else
        floe_buf_puts(b, ":U");
}

/* One update argument "t:v1:v2..." in the file's DS order; v NULL: unknown. */
static void ts_put_arg(floe_ts *ts, const ts__series *s, int64_t t, const double *v)
{
    floe_buf *b = &ts->ubuf;
    floe_buf_printf(b, "%lld", (long long)t);
    unsigned m = s->schema->def.n_metrics;
    if (!s->map) {
        for (unsigned k = 0; k < m; k++)
            ts_put_value(b, v ? v[k] : NAN);
    } else {
        for (unsigned f = 0; f < s->n_file_ds; f++) {
            double x = NAN;
            for (unsigned k = 0; v && k < m; k++)
                if (s->map[k] == (int)f)
                    x = v[k];
            ts_put_value(b, x);
        }
    }
    floe_buf_putc(b, 0);
}

/* Builds the update arguments; returns how many points they carry. An
 * unknown point goes in before a point that follows a gap, so that each
 * point covers its own step only (and a delta is never spread over the
 * steps nobody reported). */
static unsigned ts_build_args(floe_ts *ts, const ts__series *s, size_t *argc)
{
    int64_t step = s->schema->def.step_s, prev = s->last_update;
    unsigned m = s->schema->def.n_metrics, carried = 0;
    size_t offs[2 * TS_SERIES_CAP_MAX];
    floe_buf_reset(&ts->ubuf);
    *argc = 0;
    for (unsigned i = 0; i < s->n; i++) {
        if (s->t[i] <= prev) {
            atomic_fetch_add(&ts->c_skipped, 1);
            continue;
        }
        if (prev && s->t[i] - step > prev) {
            offs[(*argc)++] = ts->ubuf.len;
            ts_put_arg(ts, s, s->t[i] - step, NULL);
        }
        offs[(*argc)++] = ts->ubuf.len;
        ts_put_arg(ts, s, s->t[i], s->v + (size_t)i * m);
        prev = s->t[i];
        carried++;
    }
    if (*argc > ts->uargv_cap) {
        const char **a = realloc(ts->uargv, *argc * sizeof(*a));
        if (!a || !floe_buf_ok(&ts->ubuf))
            return 0;
        ts->uargv = a;
        ts->uargv_cap = *argc;
    }
    for (size_t i = 0; i < *argc; i++)
        ts->uargv[i] = ts->ubuf.data + offs[i];
    return carried;
}

static int ts_update(floe_ts *ts, const char *abs, size_t argc)
{
    rrd_clear_error();
    int rc;
    if (!ts->cached_addr) {
        rc = rrd_updatex_r(abs, NULL, RRD_SKIP_PAST_UPDATES, (int)argc, ts->uargv);
    } else {
        rc = rrdc_update(abs, (int)argc, ts->uargv);
        if (rc && !rrdc_is_connected(ts->cached_addr) && rrdc_connect(ts->cached_addr) == 0)
            rc = rrdc_update(abs, (int)argc, ts->uargv);
    }
    const char *why = rrd_test_error() ? rrd_get_error() : "failed";
    if (rc && strstr(why, "lock"))
        rc = -2; /* busy: see ts_write_series */
    else if (rc)
        ts__error(ts, "%s: update: %s", abs, why);
    rrd_clear_error();
    return rc;
}

static void ts_write_series(floe_ts *ts, ts__series *s)
{
    char *abs = ts->path;
    if (s->queued) {
        floe_list_remove(&s->link);
        ts->wlist_len--;
        s->queued = 0;
    }
    if (!s->n)
        return;
    size_t argc = 0;
    unsigned carried = 0;
    int busy = 0, rc = 0;
    /* A file locked by someone else (rrdcached writing it, a migration, an
     * rrdtool command) is busy: its points wait for the series' next turn. */
    if (ts__abspath(ts, s->path, abs, sizeof(ts->path)) < 0 ||
        (!s->checked && (rc = ts_check_file(ts, s, abs)) != 0)) {
        busy = rc == -2;
        atomic_fetch_add(busy ? &ts->c_busy : &ts->c_failed, busy ? 1 : s->n);
    } else if ((carried = ts_build_args(ts, s, &argc)) > 0) {
        if ((rc = ts_update(ts, abs, argc)) == 0) {
            atomic_fetch_add(&ts->c_written, carried);
            atomic_fetch_add(&ts->c_updates, 1);
            s->last_update = s->t[s->n - 1];
        } else {
            busy = rc == -2;
            atomic_fetch_add(busy ? &ts->c_busy : &ts->c_failed, busy ? 1 : carried);
            s->checked = busy; /* deleted or replaced under us: look again next time */
        }
    }
    if (busy)
        return;
    ts->cached_points -= s->n;
    s->n = 0;
    if (s->cap > 4 * (ts->batch + 1)) /* a backlog is over: give its room back */
        ts_series_shrink(s);
}

/* ---- scheduling ------------------------------------------------------------ */

static void ts_enqueue(floe_ts *ts, ts__series *s)
{
    if (s->queued || !s->n)
        return;
    s->queued = 1;
    floe_list_push_tail(&ts->wlist, &s->link);
    ts->wlist_len++;
}

/* Due at its phase; or, after a stall, once it holds twice its batch or
 * its oldest point is twice the batch old. Up to then a series that missed
 * its slot waits for the next one and writes more steps in the same single
 * call: a short stall costs no extra calls, where writing every series at
 * once on release would be a burst of all the files. */
static int ts_due(const floe_ts *ts, const ts__series *s, int64_t when)
{
    int64_t step = s->schema->def.step_s, k = when / step;
    return (uint64_t)(k + s->phase) % ts->batch == 0 || s->n > 2 * ts->batch ||
           s->t[0] <= when - 2 * (int64_t)ts->batch * step;
}

/* Visits every series: queues the due ones, frees the idle ones. */
static void ts_schedule(floe_ts *ts, int64_t when, int all)
{
    floe_hmap *m = &ts->series;
    for (size_t b = 0; b <= m->mask; b++) {
        floe_hnode *x = m->buckets[b];
        while (x) {
            ts__series *s = FLOE_CONTAINER_OF(x, ts__series, node);
            x = x->next;
            int64_t idle = (int64_t)(ts->batch + 3) * s->schema->def.step_s;
            if (s->n && (all || ts_due(ts, s, when)))
                ts_enqueue(ts, s);
            else if (!s->n && !all && when - s->last_seen > idle)
                ts_series_free(ts, s);
        }
    }
}

static void ts_on_step(floe_ts *ts, int64_t when)
{
    uint64_t now = floe_monotonic_ms();
    if (ts->step_mono_ms) {
        uint64_t iv = now - ts->step_mono_ms;
        ts->step_iv_ms = ts->step_iv_ms ? (3 * ts->step_iv_ms + iv) / 4 : iv;
        uint64_t u = atomic_load(&ts->c_updates);
        ts->updates_per_s = iv ? (double)(u - ts->step_updates0) * 1000.0 / (double)iv : 0;
        ts->step_updates0 = u;
    }
    ts->step_mono_ms = now;
    ts->step_now = when;
    ts->steps++;
    ts_schedule(ts, when, 0);
    uint64_t iv = ts->step_iv_ms && ts->step_iv_ms < 60000 ? ts->step_iv_ms : 60000;
    ts->win_start_ms = now;
    ts->win_len_ms = (uint64_t)(iv * TS__SPREAD_FRACTION);
    ts->win_total = ts->wlist_len;
    ts->win_done = 0;
}

#define TS_IDLE UINT64_MAX

/* Writes from the list for up to TS_SLICE_MS. Returns 0 when more is to be
 * written at once, how many ms to wait for the next paced write, or TS_IDLE
 * when the list is empty. */
static uint64_t ts_write_some(floe_ts *ts, int paced)
{
    uint64_t start = floe_monotonic_ms();
    while (!floe_list_empty(&ts->wlist)) {
        uint64_t now = floe_monotonic_ms();
        if (now - start >= TS_SLICE_MS)
            return 0;
        if (paced && ts->win_total) {
            uint64_t at = ts->win_start_ms + ts->win_len_ms * ts->win_done / ts->win_total;
            if (at > now)
                return at - now;
        }
        ts__series *s = FLOE_CONTAINER_OF(ts->wlist.next, ts__series, link);
        ts_write_series(ts, s);
        ts->win_done++;
    }
    return TS_IDLE;
}

/* ---- requests -------------------------------------------------------------- */

void ts__flush_path(floe_ts *ts, const char *rel)
{
    size_t n = strlen(rel);
    ts__series *s = ts_series_find(ts, rel, n, floe_hash(rel, n, 0x7473));
    if (s)
        ts_write_series(ts, s);
    if (ts->cached_addr && ts__abspath(ts, rel, ts->path, sizeof(ts->path)) > 0)
        rrdc_flush(ts->path);
}

void ts__forget_path(floe_ts *ts, const char *rel)
{
    size_t n = strlen(rel);
    ts__series *s = ts_series_find(ts, rel, n, floe_hash(rel, n, 0x7473));
    if (s)
        ts_series_free(ts, s);
}

/* Before a migration: writes and forgets every series below path. */
static void ts_release_below(floe_ts *ts, const char *path)
{
    char abs[TS__PATH_MAX];
    char *real = realpath(path, NULL);
    size_t n = real ? strlen(real) : 0;
    floe_hmap *m = &ts->series;
    for (size_t b = 0; real && b <= m->mask; b++) {
        floe_hnode *x = m->buckets[b];
        while (x) {
            ts__series *s = FLOE_CONTAINER_OF(x, ts__series, node);
            x = x->next;
            if (ts__abspath(ts, s->path, abs, sizeof(abs)) > 0 && strncmp(abs, real, n) == 0 &&
                (abs[n] == 0 || abs[n] == '/')) {
                ts_write_series(ts, s);
                ts_series_free(ts, s);
            }
        }
    }
    free(real);
}

static void ts_serve(floe_ts *ts, ts__req *r)
{
    switch (r->kind) {
    case TS__REQ_FLUSH:
        ts__flush_path(ts, r->path);
        r->rc = 0;
        break;
    case TS__REQ_DRAIN:
        ts_schedule(ts, ts->step_now, 1);
        while (ts_write_some(ts, 0) != TS_IDLE)
            ;
        r->rc = 0;
        break;
    case TS__REQ_MIGRATE:
        ts_release_below(ts, r->path);
        r->rc = ts__migrate_run(ts, r);
        break;
    }
}

/* ---- cleanup --------------------------------------------------------------- */

static void ts_walk_push(floe_ts *ts, size_t len)
{
    DIR *d = ts->walk_depth < (int)FLOE_ARRAY_LEN(ts->walk) ? opendir(ts->walk_path) : NULL;
    if (!d)
        return;
    ts->walk[ts->walk_depth].dir = d;
    ts->walk[ts->walk_depth].pathlen = len;
    ts->walk_depth++;
}

static void ts_walk_pop(floe_ts *ts)
{
    ts__dirframe *f = &ts->walk[--ts->walk_depth];
    closedir(f->dir);
    ts->walk_path[f->pathlen] = 0;
    if (ts->walk_depth > 0)
        rmdir(ts->walk_path); /* only succeeds when empty */
    if (ts->walk_depth > 0)
        ts->walk_path[ts->walk[ts->walk_depth - 1].pathlen] = 0;
}

static void ts_cleanup_file(floe_ts *ts, const struct stat *st, time_t now)
{
    if (st->st_mtime > now - (time_t)ts->cleanup_age_s)
        return;
    const char *rel = ts->walk_path + strlen(ts->dir) + 1;
    size_t n = strlen(rel);
    ts__series *s = ts_series_find(ts, rel, n, floe_hash(rel, n, 0x7473));
    if (s && s->n)
        return; /* points are waiting for it: alive */
    if (ts->cached_addr)
        rrdc_forget(ts->walk_path);
    if (unlink(ts->walk_path) == 0) {
        atomic_fetch_add(&ts->c_deleted, 1);
        log_debug(ts->log, "rrd: cleanup: deleted %s", ts->walk_path);
    }
    if (s)
        ts_series_free(ts, s);
}

static void ts_cleanup_slice(floe_ts *ts)
{
    uint64_t now_ms = floe_monotonic_ms();
    if (!ts->cleanup_age_s || (ts->walk_depth == 0 && now_ms < ts->walk_next_ms))
        return;
    if (ts->walk_depth == 0) {
        snprintf(ts->walk_path, sizeof(ts->walk_path), "%s", ts->dir);
        ts_walk_push(ts, strlen(ts->walk_path));
    }
    time_t now = time(NULL);
    for (int i = 0; i < TS_CLEANUP_SLICE && ts->walk_depth > 0; i++) {
        ts__dirframe *f = &ts->walk[ts->walk_depth - 1];
        struct dirent *e = readdir(f->dir);
        if (!e) {
            ts_walk_pop(ts);
            continue;
        }
        size_t len = f->pathlen, nl = strlen(e->d_name);
        if (e->d_name[0] == '.' || len + nl + 2 >= sizeof(ts->walk_path))
            continue;
        ts->walk_path[len] = '/';
        memcpy(ts->walk_path + len + 1, e->d_name, nl + 1);
        struct stat st;
        int ok = lstat(ts->walk_path, &st) == 0;
        if (ok && S_ISDIR(st.st_mode))
            ts_walk_push(ts, len + 1 + nl);
        else if (ok && S_ISREG(st.st_mode) && nl > 4 && !strcmp(e->d_name + nl - 4, ".rrd"))
            ts_cleanup_file(ts, &st, now);
        if (ts->walk[ts->walk_depth - 1].pathlen == len)
            ts->walk_path[len] = 0; /* still at this level: drop the entry's name */
    }
    if (ts->walk_depth == 0) {
        uint64_t period = (uint64_t)ts->cleanup_age_s * 1000 / 4;
        ts->walk_next_ms = now_ms + (period < 1000 ? 1000 : period > 3600000 ? 3600000 : period);
    }
}

/* ---- the shutdown ---------------------------------------------------------- */

#define TS_PROGRESS_MS 5000

/* Appends every cached point to the journal, one line each: schema, the
 * step's end, the values (comma-separated, %.17g, "nan" unknown) and the
 * series path, tab-separated; paths are tag-encoded, so hold no tab or
 * newline. The file is synced before the points leave the cache. Returns
 * the points saved, or -1 (logged; the points count as failed). */
static long ts_journal_save(floe_ts *ts)
{
    char abs[TS__PATH_MAX];
    long saved = 0;
    if (ts__abspath(ts, FLOE_TS_JOURNAL, abs, sizeof(abs)) < 0)
        return -1;
    FILE *f = fopen(abs, "a");
    int ok = f != NULL;
    if (ok && ftell(f) == 0)
        ok = fputs(TS__JOURNAL_HEAD, f) >= 0;
    floe_hmap *m = &ts->series;
    for (size_t b = 0; ok && b <= m->mask; b++)
        for (floe_hnode *x = m->buckets[b]; ok && x; x = x->next) {
            ts__series *s = FLOE_CONTAINER_OF(x, ts__series, node);
            unsigned nm = s->schema->def.n_metrics;
            for (unsigned i = 0; i < s->n; i++) {
                fprintf(f, "%s\t%lld\t", s->schema->def.name, (long long)s->t[i]);
                for (unsigned k = 0; k < nm; k++) {
                    double v = s->v[(size_t)i * nm + k];
                    if (k)
                        fputc(',', f);
                    if (isnan(v))
                        fputs("nan", f);
                    else
                        fprintf(f, "%.17g", v);
                }
                fprintf(f, "\t%s\n", s->path);
                saved++;
            }
        }
    if (f) {
        ok = ok && fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
        ok = fclose(f) == 0 && ok;
    }
    if (!ok) {
        ts__error(ts, "%s: cannot save the unwritten points: %s", abs, strerror(errno));
        return -1;
    }
    for (size_t b = 0; b <= m->mask; b++)
        for (floe_hnode *x = m->buckets[b]; x; x = x->next) {
            ts__series *s = FLOE_CONTAINER_OF(x, ts__series, node);
            if (s->queued) {
                floe_list_remove(&s->link);
                ts->wlist_len--;
                s->queued = 0;
            }
            ts->cached_points -= s->n;
            s->n = 0;
        }
    atomic_fetch_add(&ts->c_journaled, (uint64_t)saved);
    return saved;
}

/* The writer's last turn: everything queued and cached is written, with a
 * progress line every 5 s; past shutdown_ms the rest goes to the journal
 * (a first start after many new series can mean minutes of file creation,
 * longer than a service manager waits before it kills). */
static void ts_stop_write(floe_ts *ts)
{
    ts_schedule(ts, ts->step_now, 1);
    size_t total = ts->wlist_len;
    if (total == 0)
        return;
    uint64_t start = floe_monotonic_ms(), next_log = start + TS_PROGRESS_MS;
    log_info(ts->log, "timeseries: writing %zu series (%zu points) before exit", total,
             ts->cached_points);
    while (!floe_list_empty(&ts->wlist)) {
        ts_write_series(ts, FLOE_CONTAINER_OF(ts->wlist.next, ts__series, link));
        uint64_t now = floe_monotonic_ms();
        if (now >= next_log) {
            log_info(ts->log, "timeseries: %zu of %zu series written", total - ts->wlist_len,
                     total);
            next_log = now + TS_PROGRESS_MS;
        }
        if (ts->shutdown_ms && now - start >= ts->shutdown_ms && ts->wlist_len) {
            size_t left = ts->wlist_len;
            long saved = ts_journal_save(ts);
            if (saved >= 0)
                log_warn(ts->log,
                         "timeseries: %zu series not written after %.1f s; saved their %ld "
                         "points to %s, the next start writes them",
                         left, (double)ts->shutdown_ms / 1000.0, saved, FLOE_TS_JOURNAL);
            return;
        }
    }
    log_info(ts->log, "timeseries: all %zu series written in %.1f s", total,
             (double)(floe_monotonic_ms() - start) / 1000.0);
}

/* ---- the thread ------------------------------------------------------------ */

static void ts_wait(floe_ts *ts, uint64_t ms)
{
    struct timespec at = floe_time_after(CLOCK_MONOTONIC, ms);
    pthread_cond_timedwait(&ts->wake, &ts->qlock, &at);
}

static void ts_finish(floe_ts *ts)
{
    floe_hmap *m = &ts->series;
    for (size_t b = 0; b <= m->mask; b++)
        while (m->buckets[b]) {
            ts__series *s = FLOE_CONTAINER_OF(m->buckets[b], ts__series, node);
            atomic_fetch_add(&ts->c_failed, s->n); /* still locked by someone else */
            ts_series_free(ts, s);
        }
    while (ts->walk_depth > 0)
        ts_walk_pop(ts);
}

/* Takes the queue, the step end and the requests (under qlock). */
static ts__chunk *ts_take(floe_ts *ts, floe_list *reqs, int *step_new, int64_t *when)
{
    ts__chunk *c = ts->qhead;
    ts->qhead = ts->qtail = NULL;
    ts->qpoints = 0;
    *step_new = ts->step_new;
    *when = ts->step_when;
    ts->step_new = 0;
    floe_list_init(reqs);
    while (!floe_list_empty(&ts->reqs))
        floe_list_move_tail(reqs, ts->reqs.next);
    if (!ts->spare && ts->free_chunk) {
        ts->spare = ts->free_chunk;
        ts->free_chunk = NULL;
    }
    ts->pub_cached = ts->cached_points;
    ts->pub_series = ts->series.count;
    ts->pub_backlog = ts->wlist_len;
    return c;
}

void *ts__writer_main(void *arg)
{
    floe_ts *ts = arg;
    uint64_t wait_ms = TS_IDLE;
    pthread_mutex_lock(&ts->qlock);
    for (;;) {
        if (ts->walk_depth > 0 && wait_ms > 10)
            wait_ms = 10; /* a cleanup walk is under way */
        if (wait_ms && !ts->qhead && !ts->step_new && floe_list_empty(&ts->reqs) && !ts->stop)
            ts_wait(ts, wait_ms == TS_IDLE ? 1000 : wait_ms);
        if (ts->hold && floe_list_empty(&ts->reqs) && !ts->stop) {
            ts_wait(ts, 1000);
            continue;
        }
        floe_list reqs;
        int step_new, stop = ts->stop;
        int64_t when;
        ts__chunk *c = ts_take(ts, &reqs, &step_new, &when);
        pthread_mutex_unlock(&ts->qlock);
        ts_merge(ts, c);
        if (step_new)
            ts_on_step(ts, when);
        floe_list done;
        floe_list_init(&done);
        while (!floe_list_empty(&reqs)) {
            ts__req *r = FLOE_CONTAINER_OF(reqs.next, ts__req, link);
            floe_list_remove(&r->link);
            ts_serve(ts, r);
            floe_list_push_tail(&done, &r->link);
        }
        if (stop) {
            ts_stop_write(ts);
            ts_finish(ts);
        }
        wait_ms = stop ? TS_IDLE : ts_write_some(ts, ts->spread);
        if (!stop)
            ts_cleanup_slice(ts);
        pthread_mutex_lock(&ts->qlock);
        ts->pub_cached = ts->cached_points;
        ts->pub_series = ts->series.count;
        ts->pub_backlog = ts->wlist_len;
        ts->pub_steps = ts->steps;
        ts->pub_ups = ts->updates_per_s;
        while (!floe_list_empty(&done)) {
            ts__req *r = FLOE_CONTAINER_OF(done.next, ts__req, link);
            floe_list_remove(&r->link);
            r->done = 1;
        }
        pthread_cond_broadcast(&ts->done);
        if (stop)
            break;
    }
    pthread_mutex_unlock(&ts->qlock);
    return NULL;
}
