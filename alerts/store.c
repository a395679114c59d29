/*
 * alerts/store.c: the store's life cycle and its caller-facing side. open
 * migrates the database and starts the writer and the endpoints; push
 * checks the exclusions, copies the event into the queue's current block
 * under a short mutex and wakes the writer; close drains. Also the names
 * from the .def lists, the engaged-set listing for the plugin engine, and
 * the stats and Prometheus writers, which read one table of counters.
 */
#include "alerts/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* ---- names -------------------------------------------------------------- */

static const char *const entity_names[] = {
#define ENTITY(id, name) name,
#include "alerts/entity.def"
#undef ENTITY
};

static const char *const severity_names[] = {
#define SEVERITY(id, name, syslog) name,
#include "alerts/severity.def"
#undef SEVERITY
};

static const char *const kind_names[] = {"engage", "release", "oneshot"};

static const char *name_of(const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : "?";
}

static int parse_name(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *floe_entity_name(int t)
{
    return name_of(entity_names, FLOE_ENTITY_COUNT, t);
}
const char *floe_severity_name(int v)
{
    return name_of(severity_names, FLOE_SEV_COUNT, v);
}
const char *floe_alert_kind_name(int k)
{
    return name_of(kind_names, FLOE_ALERT_KIND_COUNT, k);
}
int floe_entity_parse(const char *n)
{
    return parse_name(entity_names, FLOE_ENTITY_COUNT, n);
}
int floe_severity_parse(const char *n)
{
    return parse_name(severity_names, FLOE_SEV_COUNT, n);
}

/* ---- options ------------------------------------------------------------ */

void floe_alerts_opts_defaults(floe_alerts_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->queue_max = 65536;
    o->queue_max_bytes = 64u << 20;
    o->info_max = 16384;
    o->repeat_window_ms = 300000;
    o->repeat_max = 65536;
    o->max_age_s = 30u * 86400;
    o->max_rows = 10000000;
    o->batch_max = 8192;
    o->prune_batch = 1000;
    o->prune_interval_ms = 1000;
    o->readers = 4;
    o->totals_cap = 100000;
}

/* Zero sizes would make the store useless: they take the default. */
static void opts_fix(floe_alerts_opts *o)
{
    floe_alerts_opts d;
    floe_alerts_opts_defaults(&d);
#define FIX(f)                                                                                     \
    if (o->f == 0)                                                                                 \
        o->f = d.f;
    FIX(queue_max)
    FIX(queue_max_bytes)
    FIX(info_max)
    FIX(repeat_max)
    FIX(batch_max)
    FIX(prune_batch)
    FIX(prune_interval_ms)
    FIX(readers)
    FIX(totals_cap)
#undef FIX
}

/* ---- open and close ----------------------------------------------------- */

static int store_init_locks(floe_alerts *s)
{
    if (pthread_mutex_init(&s->qlock, NULL) || pthread_cond_init(&s->qwake, NULL) ||
        pthread_cond_init(&s->qdone, NULL) || pthread_mutex_init(&s->slock, NULL) ||
        pthread_mutex_init(&s->plock, NULL) || pthread_cond_init(&s->pcond, NULL) ||
        pthread_mutex_init(&s->xlock, NULL))
        return FLOE_ENOMEM;
    return floe_hmap_init(&s->types, 64, 0);
}

static int store_paths(floe_alerts *s, const char *dir, char *err, size_t errlen)
{
    if (!dir || !*dir) {
        snprintf(err, errlen, "alerts: no data directory");
        return FLOE_EINVAL;
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "alerts: mkdir %s: %s", dir, strerror(errno));
        return FLOE_EIO;
    }
    size_t n = strlen(dir) + sizeof("/alerts.db");
    s->dir = strdup(dir);
    s->path = malloc(n);
    if (!s->dir || !s->path) {
        snprintf(err, errlen, "alerts: out of memory");
        return FLOE_ENOMEM;
    }
    snprintf(s->path, n, "%s/alerts.db", dir);
    s->o.dir = s->dir;
    return 0;
}

floe_alerts *floe_alerts_open(const floe_alerts_opts *o, floe_log *log, char *err, size_t errlen)
{
    /* SQLite's memory statistics take a global mutex on every allocation;
     * floe reads none of them. This only works before SQLite's first use in
     * the process, and is harmless (SQLITE_MISUSE) after it. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    floe_alerts *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "alerts: out of memory");
        return NULL;
    }
    s->o = *o;
    s->o.endpoints = NULL;
    s->o.n_endpoints = 0;
    opts_fix(&s->o);
    s->log = log;
    s->next_config_id = -1;
    if (store_init_locks(s) != 0) {
        snprintf(err, errlen, "alerts: out of memory");
        free(s);
        return NULL;
    }
    if (store_paths(s, o->dir, err, errlen) != 0)
        goto fail;
    s->n_pool = s->o.readers;
    s->pool = calloc(s->n_pool, sizeof(*s->pool));
    if (!s->pool) {
        snprintf(err, errlen, "alerts: out of memory");
        goto fail;
    }
    s->notify = alerts__notify_new(o->endpoints, o->n_endpoints, log, err, errlen);
    if (o->n_endpoints && !s->notify)
        goto fail;
    if (alerts__writer_start(s, err, errlen) != 0)
        goto fail;
    return s;
fail:
    floe_alerts_close(s);
    return NULL;
}

static void free_blocks(alerts__qblock *b)
{
    while (b) {
        alerts__qblock *next = b->next;
        alerts__qblock_clear(b);
        free(b);
        b = next;
    }
}

static void free_types(floe_alerts *s)
{
    for (size_t i = 0; s->types.buckets && i <= s->types.mask; i++) {
        floe_hnode *n = s->types.buckets[i];
        while (n) {
            floe_hnode *next = n->next;
            free(FLOE_CONTAINER_OF(n, alerts__typecount, node));
            n = next;
        }
    }
    floe_hmap_close(&s->types);
    free(s->type_other);
}

void floe_alerts_close(floe_alerts *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->qlock);
    s->stop = 1;
    s->hold = 0;
    pthread_cond_broadcast(&s->qwake);
    pthread_mutex_unlock(&s->qlock);
    alerts__writer_join(s);
    alerts__notify_free(s->notify);
    alerts__pool_close(s);
    alerts__rules_free(s);
    free_blocks(s->qhead);
    free_blocks(s->qfree);
    free_types(s);
    pthread_mutex_destroy(&s->qlock);
    pthread_cond_destroy(&s->qwake);
    pthread_cond_destroy(&s->qdone);
    pthread_mutex_destroy(&s->slock);
    pthread_mutex_destroy(&s->plock);
    pthread_cond_destroy(&s->pcond);
    pthread_mutex_destroy(&s->xlock);
    free(s->pool);
    free(s->dir);
    free(s->path);
    free(s);
}

/* ---- push ---------------------------------------------------------------- */

static int event_valid(const floe_alert *a)
{
    return a->kind >= 0 && a->kind < FLOE_ALERT_KIND_COUNT && a->entity_type >= 0 &&
           a->entity_type < FLOE_ENTITY_COUNT && a->severity >= 0 && a->severity < FLOE_SEV_COUNT;
}

/* The info copy the queue keeps: the text, or a marker when it is over
 * info_max (the writer stores the marker as the info object). */
static char *info_copy(const floe_alerts *s, const char *info, size_t *bytes)
{
    char marker[64];
    size_t n = strlen(info);
    if (n > s->o.info_max) {
        snprintf(marker, sizeof(marker), "{\"info_too_large\":%zu}", n);
        info = marker;
        n = strlen(marker);
    }
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, info, n + 1);
    *bytes = n + 1;
    return p;
}

/* The block the next event goes in, under qlock; NULL when memory is out. */
static alerts__qblock *tail_block(floe_alerts *s)
{
    if (s->qtail && s->qtail->n < ALERTS__QBLOCK)
        return s->qtail;
    alerts__qblock *b = s->qfree;
    if (b) {
        s->qfree = b->next;
        s->n_qfree--;
    } else if (!(b = malloc(sizeof(*b)))) {
        return NULL;
    }
    b->next = NULL;
    b->n = 0;
    if (s->qtail)
        s->qtail->next = b;
    else
        s->qhead = b;
    s->qtail = b;
    return b;
}

static void terminate_strings(floe_alert *e)
{
    e->type[sizeof(e->type) - 1] = '\0';
    e->plugin[sizeof(e->plugin) - 1] = '\0';
    e->check[sizeof(e->check) - 1] = '\0';
    e->entity[sizeof(e->entity) - 1] = '\0';
    e->app[sizeof(e->app) - 1] = '\0';
}

int floe_alerts_push(floe_alerts *s, const floe_alert *a)
{
    if (!event_valid(a)) {
        alerts__add(&s->invalid, 1);
        return FLOE_EINVAL;
    }
    /* A release is never excluded: a rule added while an alert is engaged
     * must not leave that alert engaged for ever. */
    if (a->kind != FLOE_ALERT_RELEASE && floe_alerts_excluded(s, a))
        return 0;
    size_t bytes = 0;
    char *info = a->info ? info_copy(s, a->info, &bytes) : NULL;
    alerts__qblock *b = NULL;
    pthread_mutex_lock(&s->qlock);
    if ((!a->info || info) && s->queued < s->o.queue_max &&
        s->queued_bytes + bytes <= s->o.queue_max_bytes)
        b = tail_block(s);
    if (!b) {
        pthread_mutex_unlock(&s->qlock);
        free(info);
        alerts__add(&s->dropped, 1);
        log_warn_rl(s->log, "alerts: write queue full (%u events), alert %s dropped",
                    s->o.queue_max, a->type);
        return FLOE_ELIMIT;
    }
    floe_alert *e = &b->ev[b->n++];
    *e = *a;
    e->info = info;
    terminate_strings(e);
    s->queued++;
    s->queued_bytes += bytes;
    s->seq_in++;
    if (s->queued > s->queue_peak)
        s->queue_peak = s->queued;
    pthread_cond_signal(&s->qwake);
    pthread_mutex_unlock(&s->qlock);
    alerts__add(&s->pushed, 1);
    return 0;
}

int floe_alerts_flush(floe_alerts *s)
{
    pthread_mutex_lock(&s->qlock);
    uint64_t target = s->seq_in;
    while (s->seq_done < target && s->writer_started)
        pthread_cond_wait(&s->qdone, &s->qlock);
    int failed = s->write_failed;
    pthread_mutex_unlock(&s->qlock);
    return failed ? FLOE_EIO : 0;
}

void floe_alerts__hold(floe_alerts *s, int hold)
{
    pthread_mutex_lock(&s->qlock);
    s->hold = hold;
    pthread_cond_broadcast(&s->qwake);
    pthread_mutex_unlock(&s->qlock);
}

/* ---- the engaged set ------------------------------------------------------ */

static void event_from_row(floe_alert *a, const alerts__row *r)
{
    memset(a, 0, sizeof(*a));
    a->kind = FLOE_ALERT_ENGAGE;
    a->when_ms = r->raised_ms;
    snprintf(a->type, sizeof(a->type), "%s", r->type);
    snprintf(a->plugin, sizeof(a->plugin), "%s", r->plugin);
    snprintf(a->check, sizeof(a->check), "%s", r->check);
    a->entity_type = r->entity_type;
    snprintf(a->entity, sizeof(a->entity), "%s", r->entity);
    a->severity = r->severity;
    a->score = r->score;
    a->info = r->info;
    a->has_flow = r->has_flow;
    if (r->has_flow) {
        if (r->cli)
            floe_addr_parse(&a->cli, r->cli);
        if (r->srv)
            floe_addr_parse(&a->srv, r->srv);
        if (r->exporter)
            floe_addr_parse(&a->exporter, r->exporter);
        a->cli_port = r->cli_port;
        a->srv_port = r->srv_port;
        a->l4 = r->l4;
        snprintf(a->app, sizeof(a->app), "%s", r->app ? r->app : "");
        a->bytes = r->bytes;
        a->packets = r->packets;
    }
}

int floe_alerts_engaged(floe_alerts *s, floe_alerts_engaged_cb cb, void *ud)
{
    char err[160], sql[512];
    alerts__conn *c = alerts__pool_get(s, err, sizeof(err));
    if (!c)
        return FLOE_EIO;
    snprintf(sql, sizeof(sql), "SELECT %s FROM alerts WHERE state = 0 ORDER BY raised_ms, id",
             alerts__row_columns);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        alerts__row r;
        floe_alert a;
        alerts__row_read(&r, st);
        event_from_row(&a, &r);
        if (cb(ud, r.id, &a) != 0) {
            rc = SQLITE_DONE;
            break;
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    alerts__pool_put(s, c);
    return rc == SQLITE_DONE ? 0 : FLOE_EIO;
}

/* ---- stats and metrics --------------------------------------------------- */

/* Every counter once: its stats key, its metric and whether it is a gauge. */
static const struct counter_def {
    const char *key;
    const char *metric;
    const char *help;
    size_t off;
} counter_defs[] = {
    {"pushed", "floe_alerts_pushed_total", "Alert events accepted into the write queue.",
     offsetof(floe_alerts, pushed)},
    {"inserted", "floe_alerts_rows_inserted_total", "Alert rows inserted.",
     offsetof(floe_alerts, inserted)},
    {"merged", "floe_alerts_merged_total", "Repeats folded into an existing row.",
     offsetof(floe_alerts, merged)},
    {"released", "floe_alerts_released_total", "Engaged alerts released.",
     offsetof(floe_alerts, released)},
    {"release_unmatched", "floe_alerts_release_unmatched_total",
     "Releases that found no engaged alert.", offsetof(floe_alerts, release_unmatched)},
    {"excluded", "floe_alerts_excluded_total", "Events an exclusion rule kept out.",
     offsetof(floe_alerts, excluded)},
    {"dropped", "floe_alerts_dropped_total", "Events dropped because the write queue was full.",
     offsetof(floe_alerts, dropped)},
    {"invalid", "floe_alerts_invalid_total", "Events rejected as malformed.",
     offsetof(floe_alerts, invalid)},
    {"lost", "floe_alerts_lost_total", "Events given up after write errors at shutdown.",
     offsetof(floe_alerts, lost)},
    {"batches", "floe_alerts_write_batches_total", "Write transactions committed.",
     offsetof(floe_alerts, batches)},
    {"written", "floe_alerts_rows_written_total", "Rows inserted or updated by the writer.",
     offsetof(floe_alerts, written)},
    {"pruned", "floe_alerts_pruned_total", "Rows removed by retention.",
     offsetof(floe_alerts, pruned)},
    {"write_errors", "floe_alerts_write_errors_total", "Failed write transactions.",
     offsetof(floe_alerts, write_errors)},
};

static uint64_t counter_at(floe_alerts *s, size_t off)
{
    return alerts__get((alerts__counter *)(void *)((char *)s + off));
}

void floe_alerts_stats_get(floe_alerts *s, floe_alerts_stats *st)
{
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&s->qlock);
    st->queued = s->queued;
    st->queue_peak = s->queue_peak;
    pthread_mutex_unlock(&s->qlock);
    st->queue_max = s->o.queue_max;
    st->pushed = alerts__get(&s->pushed);
    st->inserted = alerts__get(&s->inserted);
    st->merged = alerts__get(&s->merged);
    st->released = alerts__get(&s->released);
    st->release_unmatched = alerts__get(&s->release_unmatched);
    st->excluded = alerts__get(&s->excluded);
    st->dropped = alerts__get(&s->dropped);
    st->invalid = alerts__get(&s->invalid);
    st->lost = alerts__get(&s->lost);
    st->batches = alerts__get(&s->batches);
    st->pruned = alerts__get(&s->pruned);
    st->write_errors = alerts__get(&s->write_errors);
    st->rows = alerts__get(&s->rows);
    pthread_mutex_lock(&s->slock);
    snprintf(st->last_error, sizeof(st->last_error), "%s", s->last_error);
    pthread_mutex_unlock(&s->slock);
}

void floe_alerts_stats_json(floe_alerts *s, floe_json *j)
{
    floe_alerts_stats st;
    floe_alerts_stats_get(s, &st);
    floe_json_obj_begin(j);
    floe_json_ku64(j, "queued", st.queued);
    floe_json_ku64(j, "queue_max", st.queue_max);
    floe_json_ku64(j, "queue_peak", st.queue_peak);
    for (size_t i = 0; i < FLOE_ARRAY_LEN(counter_defs); i++)
        floe_json_ku64(j, counter_defs[i].key, counter_at(s, counter_defs[i].off));
    floe_json_ku64(j, "rows", st.rows);
    floe_json_ku64(j, "write_rate", alerts__get(&s->write_rate));
    floe_json_key(j, "last_error");
    if (st.last_error[0])
        floe_json_str(j, st.last_error);
    else
        floe_json_null(j);
    floe_json_key(j, "exclusions");
    alerts__rules_stats_json(s, j);
    floe_json_key(j, "endpoints");
    alerts__notify_stats_json(s->notify, j);
    floe_json_obj_end(j);
}

/* Writes a Prometheus label value with its escapes. */
static void prom_label(floe_buf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            floe_buf_putc(out, '\\');
        if (*v == '\n')
            floe_buf_puts(out, "\\n");
        else
            floe_buf_putc(out, *v);
    }
}

static void metrics_types(floe_alerts *s, floe_buf *out)
{
    floe_buf_puts(out, "# HELP floe_alerts_type_events_total Alert events stored, by type.\n"
                       "# TYPE floe_alerts_type_events_total counter\n");
    pthread_mutex_lock(&s->slock);
    for (size_t i = 0; i <= s->types.mask; i++)
        for (floe_hnode *n = s->types.buckets[i]; n; n = n->next) {
            alerts__typecount *t = FLOE_CONTAINER_OF(n, alerts__typecount, node);
            floe_buf_puts(out, "floe_alerts_type_events_total{type=\"");
            prom_label(out, t->type);
            floe_buf_printf(out, "\"} %llu\n", (unsigned long long)t->count);
        }
    if (s->type_other)
        floe_buf_printf(out, "floe_alerts_type_events_total{type=\"_other\"} %llu\n",
                        (unsigned long long)s->type_other->count);
    pthread_mutex_unlock(&s->slock);
}

void floe_alerts_metrics(floe_alerts *s, floe_buf *out)
{
    floe_alerts_stats st;
    floe_alerts_stats_get(s, &st);
    for (size_t i = 0; i < FLOE_ARRAY_LEN(counter_defs); i++) {
        const struct counter_def *d = &counter_defs[i];
        floe_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", d->metric, d->help,
                        d->metric, d->metric, (unsigned long long)counter_at(s, d->off));
    }
    floe_buf_printf(out,
                    "# HELP floe_alerts_queue_depth Events waiting for the writer.\n"
                    "# TYPE floe_alerts_queue_depth gauge\nfloe_alerts_queue_depth %llu\n"
                    "# HELP floe_alerts_queue_max The write queue's bound.\n"
                    "# TYPE floe_alerts_queue_max gauge\nfloe_alerts_queue_max %llu\n"
                    "# HELP floe_alerts_rows Rows in the alert database.\n"
                    "# TYPE floe_alerts_rows gauge\nfloe_alerts_rows %llu\n"
                    "# HELP floe_alerts_write_rate Rows written a second, lately.\n"
                    "# TYPE floe_alerts_write_rate gauge\nfloe_alerts_write_rate %llu\n",
                    (unsigned long long)st.queued, (unsigned long long)st.queue_max,
                    (unsigned long long)st.rows, (unsigned long long)alerts__get(&s->write_rate));
    floe_buf_puts(out, "# HELP floe_alerts_events_total Alert events stored, by severity.\n"
                       "# TYPE floe_alerts_events_total counter\n");
    for (int v = 0; v < FLOE_SEV_COUNT; v++)
        floe_buf_printf(out, "floe_alerts_events_total{severity=\"%s\"} %llu\n",
                        floe_severity_name(v), (unsigned long long)alerts__get(&s->by_severity[v]));
    metrics_types(s, out);
    alerts__notify_metrics(s->notify, out);
}
