/*
 * alerts/writer.c: the writer thread, the only writer of alert rows besides
 * the API's ack and delete. It takes whole queue blocks, applies them in
 * one transaction with prepared statements, and only after the commit
 * updates the counters and hands new and released alerts to notification.
 * Engaged alerts are found by key (entity type, type, entity) in a map
 * restored from the database at start; one-shot repeats in a bounded LRU
 * map. A failed transaction is rolled back, the maps are rebuilt from the
 * database (they may hold ids of rows that were never committed), and the
 * batch is tried again after a pause. Retention runs between batches, a
 * small transaction at a time.
 */
#include "alerts/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The longest key: a digit, the type, the entity and two separators. */
#define KEY_MAX (3 + 64 + 80)

enum outcome { OUT_NONE, OUT_INSERTED, OUT_MERGED, OUT_RELEASED, OUT_UNMATCHED };

/* An engaged or one-shot key and the row it points at. */
typedef struct wkey {
    floe_hnode node;
    floe_list lru; /* one-shot keys only: most recent at the tail */
    int64_t id;
    uint64_t raised_ms; /* one-shot keys: the row's raised time, for the window */
    uint32_t klen;
    char key[];
} wkey;

typedef struct woutcome {
    int64_t id;
    int out;
} woutcome;

enum stmt_id {
    ST_INSERT,
    ST_BUMP_ENGAGED,
    ST_RELEASE,
    ST_BUMP_ONESHOT,
    ST_PRUNE_AGE,
    ST_PRUNE_ROWS,
    ST_ROW,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_INSERT] = "INSERT INTO alerts (state, kind, type, plugin, chk, entity_type, entity, addr,"
                  " severity, score, raised_ms, last_seen_ms, count, info, cli, srv, cli_bin,"
                  " srv_bin, cli_port, srv_port, l4, app, exporter, bytes, packets)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, 1, ?12, ?13, ?14,"
                  " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
    /* A repeat of an engaged alert carries its newest severity, score and
     * info: an engaged alert can escalate. */
    [ST_BUMP_ENGAGED] = "UPDATE alerts SET count = count + 1,"
                        " last_seen_ms = max(last_seen_ms, ?2), severity = ?3, score = ?4,"
                        " info = coalesce(?5, info) WHERE id = ?1 AND state = 0",
    [ST_RELEASE] = "UPDATE alerts SET state = 1, released_ms = ?2,"
                   " last_seen_ms = max(last_seen_ms, ?2) WHERE id = ?1 AND state = 0",
    [ST_BUMP_ONESHOT] = "UPDATE alerts SET count = count + 1,"
                        " last_seen_ms = max(last_seen_ms, ?2) WHERE id = ?1",
    [ST_PRUNE_AGE] = "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts"
                     " WHERE raised_ms < ?1 AND state = 1 LIMIT ?2)",
    [ST_PRUNE_ROWS] = "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts"
                      " WHERE state = 1 ORDER BY id LIMIT ?1)",
};

struct alerts__writer {
    sqlite3 *db;
    alerts__ckpt *ckpt;
    sqlite3_stmt *st[ST_COUNT];
    floe_hmap engaged;
    floe_hmap oneshot;
    floe_list oneshot_lru;
    woutcome *out; /* one per event of the current batch */
    size_t out_cap;
    floe_buf scratch; /* info wrapping and notification JSON */
    uint64_t seed;
    uint64_t next_prune_ms, rate_t0, rate_n0, last_log_ms;
    uint32_t log_suppressed;
    int prune_more;
};

/* ---- keys ----------------------------------------------------------------- */

/* entity type, type and entity, separated by 0x1f (which neither holds). */
static uint32_t make_key(char *k, const floe_alert *e)
{
    size_t t = strnlen(e->type, sizeof(e->type)), n = strnlen(e->entity, sizeof(e->entity));
    k[0] = (char)('0' + e->entity_type);
    k[1] = '\x1f';
    memcpy(k + 2, e->type, t);
    k[2 + t] = '\x1f';
    memcpy(k + 3 + t, e->entity, n);
    return (uint32_t)(3 + t + n);
}

static wkey *key_find(floe_hmap *m, const char *k, uint32_t klen, uint64_t h)
{
    for (floe_hnode *n = floe_hmap_bucket(m, h); n; n = n->next) {
        wkey *w = FLOE_CONTAINER_OF(n, wkey, node);
        if (n->hash == h && w->klen == klen && memcmp(w->key, k, klen) == 0)
            return w;
    }
    return NULL;
}

/* Links w (or a new node when w is NULL) under key k. */
static wkey *key_add(floe_hmap *m, wkey *w, const char *k, uint32_t klen, uint64_t h, int64_t id)
{
    if (!w && !(w = malloc(sizeof(*w) + KEY_MAX)))
        return NULL; /* the next repeat inserts a row instead of merging */
    w->node.hash = h;
    w->id = id;
    w->raised_ms = 0;
    w->klen = klen;
    memcpy(w->key, k, klen);
    floe_list_init(&w->lru);
    floe_hmap_insert(m, &w->node);
    return w;
}

/* Unlinks w from its map and list without freeing it. */
static void key_unlink(floe_hmap *m, wkey *w)
{
    floe_hmap_remove(m, &w->node);
    floe_list_remove(&w->lru);
}

static void key_del(floe_hmap *m, wkey *w)
{
    key_unlink(m, w);
    free(w);
}

static void map_clear(floe_hmap *m)
{
    for (size_t i = 0; m->buckets && i <= m->mask; i++) {
        floe_hnode *n = m->buckets[i];
        while (n) {
            floe_hnode *next = n->next;
            free(FLOE_CONTAINER_OF(n, wkey, node));
            n = next;
        }
        m->buckets[i] = NULL;
    }
    m->count = 0;
}

/* Rebuilds the engaged map from the database and forgets the one-shot
 * keys: after a rollback either may point at rows that do not exist. */
static int restore_engaged(alerts__writer *w)
{
    sqlite3_stmt *st = NULL;
    map_clear(&w->engaged);
    map_clear(&w->oneshot);
    floe_list_init(&w->oneshot_lru);
    if (sqlite3_prepare_v2(w->db,
                           "SELECT id, type, entity_type, entity FROM alerts"
                           " WHERE state = 0",
                           -1, &st, NULL) != SQLITE_OK)
        return FLOE_EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        floe_alert e;
        char k[KEY_MAX];
        snprintf(e.type, sizeof(e.type), "%s", (const char *)sqlite3_column_text(st, 1));
        e.entity_type = sqlite3_column_int(st, 2);
        snprintf(e.entity, sizeof(e.entity), "%s", (const char *)sqlite3_column_text(st, 3));
        uint32_t klen = make_key(k, &e);
        key_add(&w->engaged, NULL, k, klen, floe_hash(k, klen, w->seed),
                sqlite3_column_int64(st, 0));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : FLOE_EIO;
}

/* ---- applying one event ----------------------------------------------------- */

/* The entity's own address, for the addr column: the host, the network's
 * base, the exporter, or an interface's exporter. */
static int entity_addr(const floe_alert *e, floe_addr *a)
{
    char tmp[sizeof(e->entity)];
    floe_cidr c;
    switch (e->entity_type) {
    case FLOE_ENTITY_HOST:
    case FLOE_ENTITY_EXPORTER:
        return floe_addr_parse(a, e->entity) == 0;
    case FLOE_ENTITY_NETWORK:
        if (floe_cidr_parse(&c, e->entity) != 0)
            return 0;
        *a = c.addr;
        return 1;
    case FLOE_ENTITY_INTERFACE: {
        snprintf(tmp, sizeof(tmp), "%s", e->entity);
        char *slash = strrchr(tmp, '/');
        if (slash)
            *slash = '\0';
        return floe_addr_parse(a, tmp) == 0;
    }
    default:
        return 0;
    }
}

/* Replaces info the writer cannot inline as an object by a wrapper that
 * keeps the text: {"invalid_info":"..."}. */
static void normalize_info(alerts__writer *w, floe_alert *e)
{
    if (!e->info || alerts__json_is_object(e->info, strlen(e->info)))
        return;
    floe_json j;
    floe_buf_reset(&w->scratch);
    floe_json_init(&j, &w->scratch);
    floe_json_obj_begin(&j);
    floe_json_kstr(&j, "invalid_info", e->info);
    floe_json_obj_end(&j);
    char *text = floe_buf_ok(&w->scratch) ? strdup(w->scratch.data) : NULL;
    free((char *)e->info);
    e->info = text;
}

/* floe_addr_format, with IPv4 (nearly every address) done here rather
 * than through inet_ntop's printf: three addresses a flow alert. */
static char *addr_text(const floe_addr *a, char out[FLOE_ADDR_STRLEN])
{
    if (!floe_addr_is_v4(a))
        return floe_addr_format(a, out);
    char *p = out;
    for (int i = 12; i < 16; i++) {
        unsigned v = a->b[i];
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        *p++ = i < 15 ? '.' : '\0';
    }
    return out;
}

static void bind_flow(sqlite3_stmt *st, const floe_alert *e)
{
    char cli[FLOE_ADDR_STRLEN], srv[FLOE_ADDR_STRLEN], exp[FLOE_ADDR_STRLEN];
    sqlite3_bind_text(st, 13, addr_text(&e->cli, cli), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 14, addr_text(&e->srv, srv), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 15, e->cli.b, 16, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 16, e->srv.b, 16, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 17, e->cli_port);
    sqlite3_bind_int(st, 18, e->srv_port);
    sqlite3_bind_int(st, 19, e->l4);
    sqlite3_bind_text(st, 20, e->app, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 21, addr_text(&e->exporter, exp), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 22, (sqlite3_int64)e->bytes);
    sqlite3_bind_int64(st, 23, (sqlite3_int64)e->packets);
}

static int insert_row(alerts__writer *w, const floe_alert *e, int64_t *id)
{
    sqlite3_stmt *st = w->st[ST_INSERT];
    floe_addr a;
    sqlite3_clear_bindings(st);
    sqlite3_bind_int(st, 1, e->kind == FLOE_ALERT_ENGAGE ? 0 : 1);
    sqlite3_bind_int(st, 2, e->kind);
    sqlite3_bind_text(st, 3, e->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, e->plugin, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, e->check, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, e->entity_type);
    sqlite3_bind_text(st, 7, e->entity, -1, SQLITE_STATIC);
    if (!e->has_flow && entity_addr(e, &a))
        sqlite3_bind_blob(st, 8, a.b, 16, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 9, e->severity);
    sqlite3_bind_int64(st, 10, e->score);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)e->when_ms);
    if (e->info)
        sqlite3_bind_text(st, 12, e->info, -1, SQLITE_STATIC);
    if (e->has_flow)
        bind_flow(st, e);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return FLOE_EIO;
    *id = sqlite3_last_insert_rowid(w->db);
    return 0;
}

/* Runs an UPDATE bound by the caller; returns the rows changed or -1. */
static int run_update(alerts__writer *w, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? sqlite3_changes(w->db) : -1;
}

/* Runs statement st with ?1 = id and ?2 = ms (release, one-shot repeat). */
static int update_id_ms(alerts__writer *w, int st, int64_t id, uint64_t ms)
{
    sqlite3_bind_int64(w->st[st], 1, id);
    sqlite3_bind_int64(w->st[st], 2, (sqlite3_int64)ms);
    return run_update(w, w->st[st]);
}

static int apply_engage(alerts__writer *w, const floe_alert *e, woutcome *o)
{
    char k[KEY_MAX];
    uint32_t klen = make_key(k, e);
    uint64_t h = floe_hash(k, klen, w->seed);
    wkey *key = key_find(&w->engaged, k, klen, h);
    if (key) {
        sqlite3_stmt *st = w->st[ST_BUMP_ENGAGED];
        sqlite3_bind_int64(st, 1, key->id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)e->when_ms);
        sqlite3_bind_int(st, 3, e->severity);
        sqlite3_bind_int64(st, 4, e->score);
        if (e->info)
            sqlite3_bind_text(st, 5, e->info, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 5);
        int n = run_update(w, st);
        if (n < 0)
            return FLOE_EIO;
        if (n == 1) {
            *o = (woutcome){key->id, OUT_MERGED};
            return 0;
        }
        key_del(&w->engaged, key); /* the row was deleted through the API */
    }
    if (insert_row(w, e, &o->id) != 0)
        return FLOE_EIO;
    o->out = OUT_INSERTED;
    key_add(&w->engaged, NULL, k, klen, h, o->id);
    return 0;
}

static int apply_release(alerts__writer *w, const floe_alert *e, woutcome *o)
{
    char k[KEY_MAX];
    uint32_t klen = make_key(k, e);
    wkey *key = key_find(&w->engaged, k, klen, floe_hash(k, klen, w->seed));
    *o = (woutcome){0, OUT_UNMATCHED};
    if (!key)
        return 0;
    int n = update_id_ms(w, ST_RELEASE, key->id, e->when_ms);
    if (n < 0)
        return FLOE_EIO;
    if (n == 1)
        *o = (woutcome){key->id, OUT_RELEASED};
    key_del(&w->engaged, key);
    return 0;
}

/* The node for a new one-shot key: the old node of the same key, else the
 * least recently raised one when the map holds repeat_max keys (reused, so
 * a storm of distinct alerts allocates nothing here), else a new one. */
static wkey *oneshot_node(floe_alerts *s, alerts__writer *w, wkey *same)
{
    wkey *node = same;
    if (!node && w->oneshot.count >= s->o.repeat_max && !floe_list_empty(&w->oneshot_lru))
        node = FLOE_CONTAINER_OF(w->oneshot_lru.next, wkey, lru);
    if (node)
        key_unlink(&w->oneshot, node);
    return node;
}

static int apply_oneshot(floe_alerts *s, alerts__writer *w, const floe_alert *e, woutcome *o)
{
    char k[KEY_MAX];
    uint32_t klen = make_key(k, e);
    uint64_t h = floe_hash(k, klen, w->seed);
    wkey *key = key_find(&w->oneshot, k, klen, h);
    if (key && e->when_ms >= key->raised_ms &&
        e->when_ms - key->raised_ms < s->o.repeat_window_ms) {
        int n = update_id_ms(w, ST_BUMP_ONESHOT, key->id, e->when_ms);
        if (n < 0)
            return FLOE_EIO;
        if (n == 1) {
            *o = (woutcome){key->id, OUT_MERGED};
            floe_list_move_tail(&w->oneshot_lru, &key->lru);
            return 0;
        }
    }
    if (insert_row(w, e, &o->id) != 0)
        return FLOE_EIO;
    o->out = OUT_INSERTED;
    key = key_add(&w->oneshot, oneshot_node(s, w, key), k, klen, h, o->id);
    if (key) {
        key->raised_ms = e->when_ms;
        floe_list_push_tail(&w->oneshot_lru, &key->lru);
    }
    return 0;
}

static int apply_event(floe_alerts *s, alerts__writer *w, floe_alert *e, woutcome *o)
{
    normalize_info(w, e);
    switch (e->kind) {
    case FLOE_ALERT_ENGAGE:
        return apply_engage(w, e, o);
    case FLOE_ALERT_RELEASE:
        return apply_release(w, e, o);
    default:
        return apply_oneshot(s, w, e, o);
    }
}

/* ---- batches ---------------------------------------------------------------- */

static int exec(alerts__writer *w, const char *sql)
{
    return sqlite3_exec(w->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : FLOE_EIO;
}

static int apply_batch(floe_alerts *s, alerts__writer *w, alerts__qblock *b)
{
    if (exec(w, "BEGIN IMMEDIATE") != 0)
        return FLOE_EIO;
    size_t i = 0;
    for (; b; b = b->next)
        for (uint32_t k = 0; k < b->n; k++, i++)
            if (apply_event(s, w, &b->ev[k], &w->out[i]) != 0)
                return FLOE_EIO;
    return exec(w, "COMMIT");
}

static void count_type(floe_alerts *s, const char *type)
{
    size_t n = strlen(type);
    uint64_t h = floe_hash(type, n, 0);
    for (floe_hnode *p = floe_hmap_bucket(&s->types, h); p; p = p->next) {
        alerts__typecount *t = FLOE_CONTAINER_OF(p, alerts__typecount, node);
        if (p->hash == h && strcmp(t->type, type) == 0) {
            t->count++;
            return;
        }
    }
    alerts__typecount *t = NULL;
    if (s->types.count < ALERTS__TYPES_MAX && (t = calloc(1, sizeof(*t)))) {
        snprintf(t->type, sizeof(t->type), "%s", type);
        t->node.hash = h;
        floe_hmap_insert(&s->types, &t->node);
    } else if (!s->type_other && (s->type_other = calloc(1, sizeof(*t)))) {
        snprintf(s->type_other->type, sizeof(s->type_other->type), "_other");
    }
    if (!t)
        t = s->type_other;
    if (t)
        t->count++;
}

static void row_from_event(alerts__row *r, const floe_alert *e, int64_t id, char *cli, char *srv,
                           char *exp)
{
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->state = e->kind == FLOE_ALERT_ENGAGE ? 0 : 1;
    r->kind = e->kind;
    r->type = e->type;
    r->plugin = e->plugin;
    r->check = e->check;
    r->entity_type = e->entity_type;
    r->entity = e->entity;
    r->severity = e->severity;
    r->score = e->score;
    r->raised_ms = r->last_seen_ms = e->when_ms;
    r->count = 1;
    r->info = e->info;
    r->has_flow = e->has_flow;
    if (e->has_flow) {
        r->cli = addr_text(&e->cli, cli);
        r->srv = addr_text(&e->srv, srv);
        r->exporter = addr_text(&e->exporter, exp);
        r->app = e->app;
        r->cli_port = e->cli_port;
        r->srv_port = e->srv_port;
        r->l4 = e->l4;
        r->bytes = e->bytes;
        r->packets = e->packets;
    }
}

static void notify_json(alerts__writer *w, alerts__notify *nt, const alerts__row *r,
                        const char *action)
{
    floe_json j;
    floe_buf_reset(&w->scratch);
    floe_json_init(&j, &w->scratch);
    alerts__row_json(&j, r, action);
    if (floe_buf_ok(&w->scratch))
        alerts__notify_post(nt, r, w->scratch.data);
}

/* A released alert is notified with its stored row (raised time, count and
 * info are the row's, not the release event's). */
static void notify_release(alerts__writer *w, alerts__notify *nt, int64_t id)
{
    sqlite3_stmt *st = w->st[ST_ROW];
    alerts__row r;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        alerts__row_read(&r, st);
        if (alerts__notify_wants(nt, &r))
            notify_json(w, nt, &r, "release");
    }
    sqlite3_reset(st);
}

static void notify_event(alerts__writer *w, alerts__notify *nt, const floe_alert *e,
                         const woutcome *o)
{
    char cli[FLOE_ADDR_STRLEN], srv[FLOE_ADDR_STRLEN], exp[FLOE_ADDR_STRLEN];
    alerts__row r;
    if (!nt)
        return;
    if (o->out == OUT_RELEASED) {
        notify_release(w, nt, o->id);
    } else if (o->out == OUT_INSERTED) {
        row_from_event(&r, e, o->id, cli, srv, exp);
        if (alerts__notify_wants(nt, &r))
            notify_json(w, nt, &r, floe_alert_kind_name(e->kind));
    }
}

/* Counts and notifies a committed batch. Repeats are counted, not
 * notified: a storm of one alert is one notification. */
static void after_commit(floe_alerts *s, alerts__writer *w, alerts__qblock *b, size_t n)
{
    uint64_t by_out[5] = {0};
    size_t i = 0;
    pthread_mutex_lock(&s->slock);
    for (alerts__qblock *q = b; q; q = q->next)
        for (uint32_t k = 0; k < q->n; k++, i++) {
            const floe_alert *e = &q->ev[k];
            by_out[w->out[i].out]++;
            if (w->out[i].out == OUT_INSERTED || w->out[i].out == OUT_MERGED) {
                alerts__add(&s->by_severity[e->severity], 1);
                count_type(s, e->type);
            }
        }
    pthread_mutex_unlock(&s->slock);
    alerts__add(&s->inserted, by_out[OUT_INSERTED]);
    alerts__add(&s->merged, by_out[OUT_MERGED]);
    alerts__add(&s->released, by_out[OUT_RELEASED]);
    alerts__add(&s->release_unmatched, by_out[OUT_UNMATCHED]);
    alerts__add(&s->rows, by_out[OUT_INSERTED]);
    alerts__add(&s->written, by_out[OUT_INSERTED] + by_out[OUT_MERGED] + by_out[OUT_RELEASED]);
    alerts__add(&s->batches, 1);
    i = 0;
    for (alerts__qblock *q = b; q && s->notify; q = q->next)
        for (uint32_t k = 0; k < q->n; k++, i++)
            notify_event(w, s->notify, &q->ev[k], &w->out[i]);
    (void)n;
}

void alerts__set_error(floe_alerts *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&s->slock);
    vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
    pthread_mutex_unlock(&s->slock);
    va_end(ap);
}

/* The writer's own rate limit: push's floe_log slots belong to the caller's
 * thread, so this thread logs at most once per 10 s and says how often it
 * kept quiet. */
static void writer_log(floe_alerts *s, alerts__writer *w, const char *what)
{
    uint64_t now = floe_monotonic_ms();
    if (w->last_log_ms && now - w->last_log_ms < 10000) {
        w->log_suppressed++;
        return;
    }
    log_warn(s->log, "alerts: %s (%u similar messages suppressed)", what, w->log_suppressed);
    w->last_log_ms = now;
    w->log_suppressed = 0;
}

static void pause_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Commits a batch, retrying after errors. While stopping, gives up after
 * three attempts and counts the events as lost. */
static void write_batch(floe_alerts *s, alerts__writer *w, alerts__qblock *b, size_t n)
{
    for (unsigned attempt = 0;; attempt++) {
        if (apply_batch(s, w, b) == 0) {
            after_commit(s, w, b, n);
            return;
        }
        char what[200];
        snprintf(what, sizeof(what), "write failed: %s", sqlite3_errmsg(w->db));
        alerts__set_error(s, "%s", what);
        writer_log(s, w, what);
        alerts__add(&s->write_errors, 1);
        exec(w, "ROLLBACK");
        restore_engaged(w);
        pthread_mutex_lock(&s->qlock);
        int stopping = s->stop;
        s->write_failed = 1;
        pthread_mutex_unlock(&s->qlock);
        if (stopping && attempt >= 2) {
            alerts__add(&s->lost, n);
            return;
        }
        pause_ms(attempt < 6 ? 100u << attempt : 5000);
    }
}

/* ---- retention ------------------------------------------------------------ */

static int64_t run_delete(alerts__writer *w, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? sqlite3_changes(w->db) : -1;
}

static void prune_step(floe_alerts *s, alerts__writer *w)
{
    uint64_t mono = floe_monotonic_ms();
    if (!w->prune_more && mono < w->next_prune_ms)
        return;
    w->next_prune_ms = mono + s->o.prune_interval_ms;
    int64_t n = 0, batch = s->o.prune_batch;
    uint64_t now = s->o.clock_ms ? s->o.clock_ms(s->o.clock_ud) : floe_time_ms();
    if (s->o.max_age_s && now > s->o.max_age_s * 1000) {
        sqlite3_stmt *st = w->st[ST_PRUNE_AGE];
        sqlite3_bind_int64(st, 1, (sqlite3_int64)(now - s->o.max_age_s * 1000));
        sqlite3_bind_int64(st, 2, batch);
        n = run_delete(w, st);
    }
    uint64_t rows = alerts__get(&s->rows) - (n > 0 ? (uint64_t)n : 0);
    if (n >= 0 && n < batch && s->o.max_rows && rows > s->o.max_rows) {
        sqlite3_stmt *st = w->st[ST_PRUNE_ROWS];
        uint64_t excess = rows - s->o.max_rows;
        sqlite3_bind_int64(st, 1, (int64_t)excess < batch - n ? (int64_t)excess : batch - n);
        int64_t m = run_delete(w, st);
        n = m < 0 ? -1 : n + m;
    }
    if (n < 0) {
        writer_log(s, w, "retention failed");
        alerts__set_error(s, "retention: %s", sqlite3_errmsg(w->db));
        w->prune_more = 0;
        return;
    }
    alerts__add(&s->rows, (uint64_t)-n);
    alerts__add(&s->pruned, (uint64_t)n);
    /* More to do soon when this step was full; rows over the bound that are
     * all engaged cannot be pruned, so the row bound alone does not loop. */
    w->prune_more = n >= batch;
}

/* ---- the thread ------------------------------------------------------------ */

/* Takes whole blocks, up to about batch_max events, from the queue head
 * (under qlock). The producer never touches a block once it is taken. */
static alerts__qblock *take_batch(floe_alerts *s, size_t *n)
{
    alerts__qblock *head = s->qhead, *last = NULL;
    *n = 0;
    for (alerts__qblock *b = head; b && *n < s->o.batch_max; b = b->next) {
        *n += b->n;
        last = b;
    }
    if (!last)
        return NULL;
    s->qhead = last->next;
    if (!s->qhead)
        s->qtail = NULL;
    last->next = NULL;
    return head;
}

static size_t batch_bytes(const alerts__qblock *b)
{
    size_t bytes = 0;
    for (; b; b = b->next)
        for (uint32_t k = 0; k < b->n; k++)
            bytes += b->ev[k].info ? strlen(b->ev[k].info) + 1 : 0;
    return bytes;
}

void alerts__qblock_clear(alerts__qblock *b)
{
    for (uint32_t k = 0; k < b->n; k++)
        free((char *)b->ev[k].info);
    b->n = 0;
}

/* Frees the batch's infos and gives its blocks back (under qlock). */
/* Gives a committed batch's blocks back: their infos are freed before the
 * lock, and blocks past ALERTS__QFREE_KEEP after it, so push never waits
 * behind thousands of free() calls. */
static void finish_batch(floe_alerts *s, alerts__qblock *b, size_t n, size_t bytes)
{
    alerts__qblock *spare = NULL;
    for (alerts__qblock *q = b; q; q = q->next)
        alerts__qblock_clear(q);
    pthread_mutex_lock(&s->qlock);
    s->queued -= n;
    s->queued_bytes -= bytes > s->queued_bytes ? s->queued_bytes : bytes;
    s->seq_done += n;
    while (b) {
        alerts__qblock *next = b->next;
        if (s->n_qfree < ALERTS__QFREE_KEEP) {
            b->next = s->qfree;
            s->qfree = b;
            s->n_qfree++;
        } else {
            b->next = spare;
            spare = b;
        }
        b = next;
    }
    pthread_cond_broadcast(&s->qdone);
    pthread_mutex_unlock(&s->qlock);
    while (spare) {
        alerts__qblock *next = spare->next;
        free(spare);
        spare = next;
    }
}

static void update_rate(floe_alerts *s, alerts__writer *w)
{
    uint64_t now = floe_monotonic_ms(), written = alerts__get(&s->written);
    if (!w->rate_t0) {
        w->rate_t0 = now;
        w->rate_n0 = written;
    } else if (now - w->rate_t0 >= 1000) {
        atomic_store_explicit(&s->write_rate, (written - w->rate_n0) * 1000 / (now - w->rate_t0),
                              memory_order_relaxed);
        w->rate_t0 = now;
        w->rate_n0 = written;
    }
}

static void wait_for_work(floe_alerts *s, alerts__writer *w)
{
    uint64_t ms = w->prune_more ? 0 : s->o.prune_interval_ms;
    struct timespec ts = floe_time_after(CLOCK_REALTIME, ms);
    if (!s->stop && (s->hold || !s->qhead) && ms)
        pthread_cond_timedwait(&s->qwake, &s->qlock, &ts);
}

static void *writer_main(void *arg)
{
    floe_alerts *s = arg;
    alerts__writer *w = s->w;
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&s->qlock);
        wait_for_work(s, w);
        int held = s->hold && !s->stop;
        alerts__qblock *b = held ? NULL : take_batch(s, &n);
        int stop = s->stop && !s->qhead;
        pthread_mutex_unlock(&s->qlock);
        if (b) {
            size_t bytes = batch_bytes(b);
            write_batch(s, w, b, n);
            update_rate(s, w);
            finish_batch(s, b, n, bytes);
        }
        if (stop && !b)
            break;
        if (!held)
            prune_step(s, w);
    }
    return NULL;
}

/* ---- start and stop --------------------------------------------------------- */

static int count_rows(floe_alerts *s, alerts__writer *w)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(w->db, "SELECT count(*) FROM alerts", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        atomic_store_explicit(&s->rows, (uint64_t)sqlite3_column_int64(st, 0),
                              memory_order_relaxed);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : FLOE_EIO;
}

static void *writer_thread(void *arg)
{
    floe_alerts *s = arg;
    /* Counting 10M rows takes a moment; it is done here so open does not
     * wait for it. Retention by row count starts once it is known. */
    if (count_rows(s, s->w) != 0)
        alerts__set_error(s, "counting rows: %s", sqlite3_errmsg(s->w->db));
    return writer_main(arg);
}

static int writer_prepare(floe_alerts *s, alerts__writer *w, char *err, size_t errlen)
{
    char sql[600];
    for (int i = 0; i < ST_COUNT; i++) {
        const char *text = stmt_sql[i];
        if (i == ST_ROW) {
            snprintf(sql, sizeof(sql), "SELECT %s FROM alerts WHERE id = ?1", alerts__row_columns);
            text = sql;
        }
        if (sqlite3_prepare_v3(w->db, text, -1, SQLITE_PREPARE_PERSISTENT, &w->st[i], NULL) !=
            SQLITE_OK) {
            snprintf(err, errlen, "%s: %s", s->path, sqlite3_errmsg(w->db));
            return FLOE_EIO;
        }
    }
    if (restore_engaged(w) != 0) {
        snprintf(err, errlen, "%s: reading engaged alerts: %s", s->path, sqlite3_errmsg(w->db));
        return FLOE_EIO;
    }
    return 0;
}

static void writer_free(alerts__writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(w->st[i]);
    alerts__ckpt_stop(w->ckpt, w->db);
    map_clear(&w->engaged);
    map_clear(&w->oneshot);
    floe_hmap_close(&w->engaged);
    floe_hmap_close(&w->oneshot);
    if (w->db) {
        /* Refreshes the planner's statistics for the next open; the limit
         * keeps ANALYZE to a sample, so this is quick on 10M rows too. */
        sqlite3_exec(w->db, "PRAGMA analysis_limit=400; PRAGMA optimize", NULL, NULL, NULL);
        sqlite3_close(w->db);
    }
    floe_buf_close(&w->scratch);
    free(w->out);
    free(w);
}

static alerts__writer *writer_new(floe_alerts *s)
{
    alerts__writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    floe_buf_init(&w->scratch);
    floe_list_init(&w->oneshot_lru);
    w->seed = floe_time_ms() * 0x9e3779b97f4a7c15ULL;
    /* A batch is whole blocks up to batch_max events: at most one block more. */
    w->out_cap = s->o.batch_max + ALERTS__QBLOCK;
    w->out = calloc(w->out_cap, sizeof(*w->out));
    if (!w->out || floe_hmap_init(&w->engaged, 1024, 0) != 0 ||
        floe_hmap_init(&w->oneshot, (size_t)s->o.repeat_max * 2, 1) != 0) {
        writer_free(w);
        return NULL;
    }
    return w;
}

int alerts__writer_start(floe_alerts *s, char *err, size_t errlen)
{
    s->w = writer_new(s);
    if (!s->w) {
        snprintf(err, errlen, "alerts: out of memory");
        return FLOE_ENOMEM;
    }
    s->w->db = alerts__db_open(s->path, err, errlen);
    if (!s->w->db)
        return FLOE_EIO;
    sqlite3_exec(s->w->db, "PRAGMA cache_size=-65536", NULL, NULL, NULL);
    if (alerts__migrate(s->w->db, err, errlen) != 0 || writer_prepare(s, s->w, err, errlen) != 0 ||
        alerts__rules_load(s, s->w->db, err, errlen) != 0)
        return FLOE_EIO;
    s->w->ckpt = alerts__ckpt_start(s->path, s->w->db, err, errlen);
    if (!s->w->ckpt)
        return FLOE_EIO;
    s->writer_started = 1;
    if (pthread_create(&s->writer_thread, NULL, writer_thread, s) != 0) {
        s->writer_started = 0;
        snprintf(err, errlen, "alerts: cannot start the writer thread");
        return FLOE_ENOMEM;
    }
    return 0;
}

void alerts__writer_join(floe_alerts *s)
{
    if (s->writer_started)
        pthread_join(s->writer_thread, NULL);
    s->writer_started = 0;
    writer_free(s->w);
    s->w = NULL;
}
