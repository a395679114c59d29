/*
 * The exporter: rows in from the loop, blocks out to ClickHouse or the
 * spool, on one writer thread. The loop encodes each row straight into
 * its table's pending block under the lock (about a hundred bytes of
 * copying: nothing that can wait). The thread swaps a full or old enough
 * block for its spare buffer, compresses it, and either INSERTs it or,
 * when that fails or the spool already holds something (order), writes it
 * to the spool. Between blocks it replays the spool head first, once the
 * back-off after the last failure has run out. See history.h for the
 * contract.
 */
#include "history/internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_MS     1000
#define BACKOFF_MAX_MS     30000
#define STOP_TIMEOUT_MS    5000    /* an INSERT at shutdown waits this long at most */
#define RETENTION_EVERY_MS 3600000 /* partition drops, without TTL */
#define MAX_REJECTS        3       /* a spooled block the server refuses this often is dropped */

static const char *const table_names[HIST_TABLES] = {"flows", "alerts"};

static inline void add(hist__counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t get(const hist__counter *c)
{
    return atomic_load_explicit((hist__counter *)c, memory_order_relaxed);
}

static inline void set(hist__counter *c, uint64_t v)
{
    atomic_store_explicit(c, v, memory_order_relaxed);
}

/* ---- options -------------------------------------------------------------------- */

void floe_history_opts_defaults(floe_history_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->url = o->user = o->password = o->instance = o->cluster = o->spool_dir = "";
    o->database = "floe";
    o->batch_rows = 50000;
    o->batch_ms = 5000;
    o->queue_max = 500000;
    o->spool_max = (uint64_t)1024 << 20;
    o->retention_days = 90;
    o->apply_retention = 1;
    o->timeout_ms = 10000;
}

int floe_history_name_ok(const char *s, int ident)
{
    size_t n = s ? strlen(s) : 0;
    const char *set = ident ? "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
                            : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    return n >= 1 && n <= FLOE_HISTORY_NAME_MAX && strspn(s, set) == n;
}

int floe_history_opts_check(const floe_history_opts *o, char *err, size_t errlen)
{
    const char *url = o->url ? o->url : "";
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        snprintf(err, errlen, "key 'clickhouse.url' must start with http:// or https://");
        return FLOE_ECONFIG;
    }
    if (strcspn(url, " \t\r\n\"'<>\\") != strlen(url)) {
        snprintf(err, errlen, "key 'clickhouse.url' holds a space or a quote");
        return FLOE_ECONFIG;
    }
    if (!floe_history_name_ok(o->database, 1)) {
        snprintf(err, errlen, "key 'clickhouse.database' must be 1 to %d of [A-Za-z0-9_]",
                 FLOE_HISTORY_NAME_MAX);
        return FLOE_ECONFIG;
    }
    if (o->instance && o->instance[0] && !floe_history_name_ok(o->instance, 0)) {
        snprintf(err, errlen, "key 'clickhouse.instance' must be 1 to %d of [A-Za-z0-9._-]",
                 FLOE_HISTORY_NAME_MAX);
        return FLOE_ECONFIG;
    }
    if (o->cluster && o->cluster[0] && !floe_history_name_ok(o->cluster, 0)) {
        snprintf(err, errlen, "key 'clickhouse.cluster' must be 1 to %d of [A-Za-z0-9._-]",
                 FLOE_HISTORY_NAME_MAX);
        return FLOE_ECONFIG;
    }
    return 0;
}

/* ---- the loop's side --------------------------------------------------------------- */

static int push(floe_history *h, int table, const void *row)
{
    pthread_mutex_lock(&h->lock);
    if (h->queued >= h->o.queue_max) {
        pthread_mutex_unlock(&h->lock);
        add(&h->dropped, 1);
        return FLOE_ELIMIT;
    }
    hist__pending *p = &h->pend[table];
    if (p->rows == 0)
        p->since_ms = floe_monotonic_ms();
    if (table == HIST_FLOWS)
        hist__encode_flow(&p->buf, h->conn.instance, row);
    else
        hist__encode_alert(&p->buf, h->conn.instance, row);
    int rc = 0;
    if (!floe_buf_ok(&p->buf)) { /* the block is lost with this row */
        add(&h->dropped, p->rows + 1);
        h->queued -= p->rows;
        p->rows = 0;
        floe_buf_close(&p->buf);
        rc = FLOE_ENOMEM;
    } else {
        p->rows++;
        h->queued++;
        /* Wake the thread for a block's first row (it sets its deadline)
         * and for a full block. */
        if (p->rows == 1 || p->rows >= h->o.batch_rows)
            pthread_cond_signal(&h->cond);
    }
    set(&h->queued_rows, h->queued);
    pthread_mutex_unlock(&h->lock);
    return rc;
}

int floe_history_add_flow(floe_history *h, const floe_history_flow *row)
{
    return push(h, HIST_FLOWS, row);
}

int floe_history_add_alert(floe_history *h, const floe_history_alert *row)
{
    if (!h->o.alerts)
        return FLOE_EINVAL;
    return push(h, HIST_ALERTS, row);
}

/* ---- the thread: talking to the server ------------------------------------------------ */

static void set_error(floe_history *h, const char *why)
{
    pthread_mutex_lock(&h->lock);
    snprintf(h->last_error, sizeof(h->last_error), "%.199s", why);
    pthread_mutex_unlock(&h->lock);
}

static void mark_down(floe_history *h, const hist__reply *rep)
{
    add(&h->errors, 1);
    if (h->up || !h->backoff_ms)
        log_warn(&h->logc, "history: ClickHouse at %s: %s; spooling and retrying", h->conn.url,
                 rep->error);
    h->up = 0;
    set(&h->connected, 0);
    h->backoff_ms = h->backoff_ms ? h->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (h->backoff_ms > BACKOFF_MAX_MS)
        h->backoff_ms = BACKOFF_MAX_MS;
    /* Stopping, one failure is enough: the rest goes to the spool at once
     * rather than waiting out a timeout per block. */
    h->retry_at_ms = h->stopping ? UINT64_MAX : floe_monotonic_ms() + h->backoff_ms;
    if (rep->status != 0)
        h->schema_ready = 0; /* it answered: a table may be gone, set up again */
    set_error(h, rep->error);
}

static void mark_up(floe_history *h)
{
    if (!h->up && h->backoff_ms)
        log_info(&h->logc, "history: ClickHouse at %s answers again", h->conn.url);
    h->up = 1;
    h->backoff_ms = 0;
    set(&h->connected, 1);
}

static int may_try(const floe_history *h)
{
    return h->up || floe_monotonic_ms() >= h->retry_at_ms;
}

static int ensure_schema(floe_history *h)
{
    hist__reply rep;
    hist__server srv;
    if (h->schema_ready)
        return 0;
    hist__reply_init(&rep);
    int rc =
        hist__schema_setup(h->curl, &h->conn, h->o.alerts,
                           h->o.apply_retention ? (int64_t)h->o.retention_days : -1, &srv, &rep);
    if (rc != 0) {
        mark_down(h, &rep);
    } else {
        pthread_mutex_lock(&h->lock);
        h->srv = srv;
        h->srv_known = 1;
        pthread_mutex_unlock(&h->lock);
        h->schema_ready = 1;
        h->retention_at_ms = floe_monotonic_ms(); /* without TTL: drop old days now */
        log_info(&h->logc, "history: ClickHouse %s at %s, database %s, retention %u days by %s",
                 srv.version, h->conn.url, h->conn.database, h->o.retention_days,
                 srv.ttl ? "TTL" : "dropping day partitions");
        mark_up(h);
    }
    hist__reply_close(&rep);
    return rc;
}

/* One INSERT of a gzip'd block. 0, or -1 (marked down) with rep filled. */
static int insert(floe_history *h, int table, const floe_buf *gz, hist__reply *rep)
{
    char name[200];
    floe_buf q;
    floe_buf_init(&q);
    hist__table(&h->conn, table, 0, name, sizeof(name));
    floe_buf_printf(&q, "INSERT INTO %s ", name);
    hist__column_list(table, &q);
    floe_buf_puts(&q, " FORMAT RowBinary");
    uint32_t timeout = h->o.timeout_ms;
    if (h->stopping && timeout > STOP_TIMEOUT_MS)
        timeout = STOP_TIMEOUT_MS;
    int rc = floe_buf_ok(&q)
                 ? hist__post(h->curl, &h->conn, q.data, NULL, gz->data, gz->len, 1, timeout, rep)
                 : -1;
    floe_buf_close(&q);
    if (rc != 0) {
        mark_down(h, rep);
        return -1;
    }
    add(&h->batches, 1);
    add(&h->bytes_sent, gz->len);
    mark_up(h);
    return 0;
}

static void spool_counters(floe_history *h)
{
    set(&h->spool_files, hist__spool_count(&h->spool));
    set(&h->spool_bytes, h->spool.bytes);
}

static void spool_block(floe_history *h, int table, uint32_t rows, const floe_buf *gz)
{
    char err[300];
    if (hist__spool_push(&h->spool, table, rows, gz->data, gz->len, err, sizeof(err)) != 0) {
        add(&h->dropped, rows);
        log_warn(&h->logc, "history: %u %s rows dropped: %s", rows, table_names[table], err);
        set_error(h, err);
        return;
    }
    add(&h->spooled, rows);
    spool_counters(h);
}

/* A block taken from the loop: to the server when nothing is spooled and
 * the server may be tried, else to the spool. */
static void send_block(floe_history *h, int table, uint32_t rows)
{
    hist__reply rep;
    if (hist__gzip(h->work.data, h->work.len, &h->gz) != 0) {
        add(&h->dropped, rows);
        return;
    }
    hist__reply_init(&rep);
    int sent = hist__spool_count(&h->spool) == 0 && may_try(h) && ensure_schema(h) == 0 &&
               insert(h, table, &h->gz, &rep) == 0;
    hist__reply_close(&rep);
    if (sent)
        add(&h->exported, rows);
    else
        spool_block(h, table, rows, &h->gz);
}

/* A refusal that says the block itself is bad, not that the server is
 * unwell: ClickHouse answers 4xx for those in current releases, and 500
 * with "Cannot parse" in older ones. Authentication is not the block's
 * fault. */
static int rejected(const hist__reply *rep)
{
    if (rep->status == 401 || rep->status == 403 || rep->status == 0)
        return 0;
    return rep->status / 100 == 4 || strstr(rep->error, "Cannot parse") ||
           strstr(rep->error, "Code: 27,") || strstr(rep->error, "Code: 33,");
}

static void drop_head(floe_history *h, const char *why)
{
    hist__spool_file *f = hist__spool_head(&h->spool);
    log_error(&h->logc, "history: spooled block %llu (%u %s rows) dropped: %s",
              (unsigned long long)f->seq, f->rows, table_names[f->table], why);
    add(&h->dropped, f->rows);
    hist__spool_pop(&h->spool);
    spool_counters(h);
}

/* Replays the spool's head. */
static void replay_one(floe_history *h)
{
    hist__spool_file *f = hist__spool_head(&h->spool);
    hist__reply rep;
    if (f->version != FLOE_HISTORY_SCHEMA) {
        drop_head(h, "written for another schema version");
        return;
    }
    if (hist__spool_read_head(&h->spool, &h->file) != 0) {
        drop_head(h, strerror(errno));
        return;
    }
    if (ensure_schema(h) != 0)
        return;
    hist__reply_init(&rep);
    if (insert(h, f->table, &h->file, &rep) == 0) {
        add(&h->replayed, f->rows);
        hist__spool_pop(&h->spool);
        spool_counters(h);
    } else if (rejected(&rep) && ++f->rejects >= MAX_REJECTS) {
        drop_head(h, rep.error);
    }
    hist__reply_close(&rep);
}

static void retention(floe_history *h)
{
    hist__reply rep;
    hist__reply_init(&rep);
    h->retention_at_ms = floe_monotonic_ms() + RETENTION_EVERY_MS;
    if (hist__retention_drop(h->curl, &h->conn, h->o.alerts, h->o.retention_days,
                             floe_time_ms() / 1000, &rep) != 0)
        log_warn(&h->logc, "history: dropping old partitions: %s", rep.error);
    hist__reply_close(&rep);
}

/* ---- the thread's loop ------------------------------------------------------------------ */

/* A table whose pending block is due, or -1. Under lock. */
static int due_table(const floe_history *h, uint64_t now)
{
    for (int t = 0; t < HIST_TABLES; t++) {
        const hist__pending *p = &h->pend[t];
        if (p->rows &&
            (h->stop || p->rows >= h->o.batch_rows || now >= p->since_ms + h->o.batch_ms))
            return t;
    }
    return -1;
}

/* When the thread has something to do next without being woken (monotonic
 * ms), or UINT64_MAX. Under lock. */
static uint64_t next_wake(const floe_history *h)
{
    uint64_t at = UINT64_MAX;
    for (int t = 0; t < HIST_TABLES; t++)
        if (h->pend[t].rows && h->pend[t].since_ms + h->o.batch_ms < at)
            at = h->pend[t].since_ms + h->o.batch_ms;
    if (hist__spool_count(&h->spool) && h->retry_at_ms < at)
        at = h->retry_at_ms;
    if (h->schema_ready && !h->srv.ttl && h->o.apply_retention && h->o.retention_days &&
        h->retention_at_ms < at)
        at = h->retention_at_ms;
    return at;
}

static void wait_until(floe_history *h, uint64_t at_ms)
{
    if (at_ms == UINT64_MAX) {
        pthread_cond_wait(&h->cond, &h->lock);
        return;
    }
    uint64_t now = floe_monotonic_ms();
    if (at_ms <= now)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (at_ms - now) * 1000000ULL;
    ts.tv_sec += (time_t)(ns / 1000000000ULL);
    ts.tv_nsec = (long)(ns % 1000000000ULL);
    pthread_cond_timedwait(&h->cond, &h->lock, &ts);
}

/* What the thread does next, with the lock held on entry and exit: 1 when
 * it did something, 0 when it should wait, -1 when it should end. */
static int step(floe_history *h)
{
    uint64_t now = floe_monotonic_ms();
    int t = due_table(h, now);
    h->stopping = h->stop;
    if (t >= 0) {
        hist__pending *p = &h->pend[t];
        uint32_t rows = p->rows;
        floe_buf spare = h->work;
        floe_buf_reset(&spare);
        h->work = p->buf;
        p->buf = spare; /* the loop keeps filling a buffer that already has room */
        p->rows = 0;
        h->queued -= rows;
        set(&h->queued_rows, h->queued);
        pthread_mutex_unlock(&h->lock);
        send_block(h, t, rows);
        pthread_mutex_lock(&h->lock);
        return 1;
    }
    if (h->stop)
        return -1;
    int replay = hist__spool_count(&h->spool) && now >= h->retry_at_ms;
    int prune = h->schema_ready && !h->srv.ttl && h->o.apply_retention && h->o.retention_days &&
                now >= h->retention_at_ms;
    if (!replay && !prune)
        return 0;
    pthread_mutex_unlock(&h->lock);
    if (replay)
        replay_one(h);
    else
        retention(h);
    pthread_mutex_lock(&h->lock);
    return 1;
}

static void *writer_main(void *arg)
{
    floe_history *h = arg;
    char err[300];
    if (hist__spool_open(&h->spool, h->o.spool_dir, h->o.spool_max, err, sizeof(err)) != 0) {
        log_error(&h->logc, "history: %s; blocks that cannot be sent are dropped", err);
        h->spool.max_bytes = 0;
    } else if (hist__spool_count(&h->spool)) {
        log_info(&h->logc, "history: %zu spooled blocks to replay from %s",
                 hist__spool_count(&h->spool), h->o.spool_dir);
    }
    spool_counters(h);
    ensure_schema(h); /* the tables exist from the start, for queries too */
    pthread_mutex_lock(&h->lock);
    int rc;
    while ((rc = step(h)) >= 0)
        if (rc == 0)
            wait_until(h, next_wake(h));
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* ---- open and close ---------------------------------------------------------------------- */

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static int conn_init(hist__conn *c, const floe_history_opts *o)
{
    char host[FLOE_HISTORY_NAME_MAX + 1] = "floe";
    const char *inst = o->instance;
    if (!inst || !inst[0]) { /* the host name, when it is a name floe accepts */
        if (gethostname(host, sizeof(host)) != 0 || !floe_history_name_ok(host, 0))
            snprintf(host, sizeof(host), "floe");
        inst = host;
    }
    c->url = dup_or_empty(o->url);
    c->database = dup_or_empty(o->database);
    c->user = dup_or_empty(o->user);
    c->password = dup_or_empty(o->password);
    c->instance = dup_or_empty(inst);
    c->cluster = dup_or_empty(o->cluster);
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
    c->abort_at_ms = NULL; /* floe_history_open points it at the exporter's */
    return c->url && c->database && c->user && c->password && c->instance && c->cluster
               ? 0
               : FLOE_ENOMEM;
}

static void conn_close(hist__conn *c)
{
    free(c->url);
    free(c->database);
    free(c->user);
    free(c->password);
    free(c->instance);
    free(c->cluster);
}

static void history_free(floe_history *h)
{
    for (int t = 0; t < HIST_TABLES; t++)
        floe_buf_close(&h->pend[t].buf);
    floe_buf_close(&h->work);
    floe_buf_close(&h->gz);
    floe_buf_close(&h->file);
    if (h->curl)
        curl_easy_cleanup(h->curl);
    hist__spool_close(&h->spool);
    conn_close(&h->conn);
    free((char *)h->o.spool_dir);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    curl_global_cleanup();
    free(h);
}

floe_history *floe_history_open(const floe_history_opts *o, floe_log *log, char *err, size_t errlen)
{
    pthread_condattr_t ca;
    if (floe_history_opts_check(o, err, errlen) != 0)
        return NULL;
    floe_history *h = calloc(1, sizeof(*h));
    if (!h || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        free(h);
        snprintf(err, errlen, "history: out of memory");
        return NULL;
    }
    h->o = *o;
    h->logc = *log;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    h->o.spool_dir = strdup(o->spool_dir ? o->spool_dir : "");
    h->o.queue_max = o->queue_max ? o->queue_max : 1;
    h->o.batch_rows = o->batch_rows ? o->batch_rows : 1;
    if (!h->o.spool_dir || conn_init(&h->conn, o) != 0 || !(h->curl = curl_easy_init())) {
        snprintf(err, errlen, "history: out of memory");
        history_free(h);
        return NULL;
    }
    h->conn.abort_at_ms = &h->abort_at_ms;
    h->o.url = h->conn.url; /* the copies; the caller's strings may go */
    h->o.database = h->conn.database;
    h->o.user = h->conn.user;
    h->o.password = h->conn.password;
    h->o.instance = h->conn.instance;
    h->o.cluster = h->conn.cluster;
    if (pthread_create(&h->thread, NULL, writer_main, h) != 0) {
        snprintf(err, errlen, "history: cannot start the writer thread");
        history_free(h);
        return NULL;
    }
    h->started = 1;
    return h;
}

void floe_history_close(floe_history *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stop = 1;
    set(&h->abort_at_ms, floe_monotonic_ms() + STOP_TIMEOUT_MS);
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    if (h->started)
        pthread_join(h->thread, NULL);
    history_free(h);
}

/* ---- counters ------------------------------------------------------------------------------ */

void floe_history_stats_get(floe_history *h, floe_history_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->exported = get(&h->exported);
    out->spooled = get(&h->spooled);
    out->replayed = get(&h->replayed);
    out->dropped = get(&h->dropped);
    out->queued = get(&h->queued_rows);
    out->batches = get(&h->batches);
    out->errors = get(&h->errors);
    out->bytes_sent = get(&h->bytes_sent);
    out->spool_files = get(&h->spool_files);
    out->spool_bytes = get(&h->spool_bytes);
    out->connected = (int)get(&h->connected);
    pthread_mutex_lock(&h->lock);
    if (h->srv_known) {
        out->ttl = h->srv.ttl;
        snprintf(out->server_version, sizeof(out->server_version), "%s", h->srv.version);
    }
    snprintf(out->last_error, sizeof(out->last_error), "%s", h->last_error);
    pthread_mutex_unlock(&h->lock);
}

void floe_history_stats_json(floe_history *h, floe_json *j)
{
    floe_history_stats st;
    floe_history_stats_get(h, &st);
    floe_json_obj_begin(j);
    floe_json_kstr(j, "url", h->conn.url);
    floe_json_kstr(j, "database", h->conn.database);
    floe_json_kstr(j, "instance", h->conn.instance);
    floe_json_kstr(j, "cluster", h->conn.cluster);
    floe_json_kstr(j, "server_version", st.server_version);
    floe_json_key(j, "connected");
    floe_json_bool(j, st.connected);
    floe_json_kstr(j, "retention", !st.server_version[0] ? "" : st.ttl ? "ttl" : "partitions");
    floe_json_ku64(j, "exported", st.exported);
    floe_json_ku64(j, "spooled", st.spooled);
    floe_json_ku64(j, "replayed", st.replayed);
    floe_json_ku64(j, "dropped", st.dropped);
    floe_json_ku64(j, "queued", st.queued);
    floe_json_ku64(j, "batches", st.batches);
    floe_json_ku64(j, "errors", st.errors);
    floe_json_ku64(j, "bytes_sent", st.bytes_sent);
    floe_json_ku64(j, "spool_files", st.spool_files);
    floe_json_ku64(j, "spool_bytes", st.spool_bytes);
    floe_json_kstr(j, "last_error", st.last_error);
    floe_json_obj_end(j);
}

void floe_history_metrics(floe_history *h, floe_buf *b)
{
    floe_history_stats st;
    floe_history_stats_get(h, &st);
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } m[] = {
        {"exported_total", "counter", "Rows inserted into ClickHouse as they came.",
         offsetof(floe_history_stats, exported)},
        {"spooled_total", "counter", "Rows written to the on-disk spool.",
         offsetof(floe_history_stats, spooled)},
        {"replayed_total", "counter", "Rows inserted from the spool.",
         offsetof(floe_history_stats, replayed)},
        {"dropped_total", "counter", "Rows lost (queue or spool full, or refused).",
         offsetof(floe_history_stats, dropped)},
        {"errors_total", "counter", "Requests to ClickHouse that failed.",
         offsetof(floe_history_stats, errors)},
        {"queued_rows", "gauge", "Rows waiting in memory.", offsetof(floe_history_stats, queued)},
        {"spool_bytes", "gauge", "Bytes in the spool.", offsetof(floe_history_stats, spool_bytes)},
    };
    for (size_t i = 0; i < FLOE_ARRAY_LEN(m); i++) {
        uint64_t v = *(const uint64_t *)(const void *)((const char *)&st + m[i].off);
        floe_buf_printf(b, "# HELP floe_history_%s %s\n# TYPE floe_history_%s %s\n", m[i].name,
                        m[i].help, m[i].name, m[i].type);
        floe_buf_printf(b, "floe_history_%s %llu\n", m[i].name, (unsigned long long)v);
    }
    floe_buf_printf(b, "# HELP floe_history_connected 1 when the last request to ClickHouse "
                       "succeeded.\n# TYPE floe_history_connected gauge\n");
    floe_buf_printf(b, "floe_history_connected %d\n", st.connected);
}
