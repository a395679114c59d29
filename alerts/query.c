/*
 * alerts/query.c: reading and editing stored alerts from worker threads.
 * Every call takes a connection from a small pool (never the writer's),
 * so queries run beside the writer under WAL. A query is turned into SQL
 * with numbered parameters: the filters every row must pass, and for an
 * entity value up to three "arms" (the entity's own address, the flow's
 * client, the flow's server), each served by its own index and merged by
 * a compound SELECT that keeps the newest-first order. A page is read as
 * ids first (from the indexes alone) and then row by row; the totals are a
 * capped index-only count. docs/alerts.md explains the choices.
 */
#include "alerts/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define QUERY_LIMIT_MAX 1000
#define MAX_BINDS       24
#define MAX_ARMS        3

/* ---- the pool --------------------------------------------------------------- */

/* floe_sevcount(severity): the totals' aggregate, counts by severity in
 * one pass. Seven sum(severity = k) terms cost four times as much a row. */
static void sevcount_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    uint64_t *n = sqlite3_aggregate_context(ctx, (int)(FLOE_SEV_COUNT * sizeof(uint64_t)));
    int v = sqlite3_value_int(argv[0]);
    (void)argc;
    if (n && v >= 0 && v < FLOE_SEV_COUNT)
        n[v]++;
}

static void sevcount_final(sqlite3_context *ctx)
{
    uint64_t *n = sqlite3_aggregate_context(ctx, 0), zero[FLOE_SEV_COUNT] = {0};
    sqlite3_result_blob(ctx, n ? n : zero, (int)sizeof(zero), SQLITE_TRANSIENT);
}

static int conn_open(floe_alerts *s, alerts__conn *c, char *err, size_t errlen)
{
    char sql[512];
    c->db = alerts__db_open(s->path, err, errlen);
    if (!c->db)
        return FLOE_EIO;
    snprintf(sql, sizeof(sql), "SELECT %s FROM alerts WHERE id = ?1", alerts__row_columns);
    sqlite3_create_function(c->db, "floe_sevcount", 1,
                            SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL, NULL,
                            sevcount_step, sevcount_final);
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->row_by_id, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", s->path, sqlite3_errmsg(c->db));
        sqlite3_close(c->db);
        c->db = NULL;
        return FLOE_EIO;
    }
    return 0;
}

alerts__conn *alerts__pool_get(floe_alerts *s, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->plock);
    for (;;) {
        for (size_t i = 0; i < s->n_pool; i++) {
            alerts__conn *c = &s->pool[i];
            if (c->busy)
                continue;
            /* Opening under the lock is rare (once per slot) and quick. */
            if (!c->db && conn_open(s, c, err, errlen) != 0) {
                pthread_mutex_unlock(&s->plock);
                return NULL;
            }
            c->busy = 1;
            pthread_mutex_unlock(&s->plock);
            return c;
        }
        pthread_cond_wait(&s->pcond, &s->plock);
    }
}

void alerts__pool_put(floe_alerts *s, alerts__conn *c)
{
    pthread_mutex_lock(&s->plock);
    c->busy = 0;
    pthread_cond_signal(&s->pcond);
    pthread_mutex_unlock(&s->plock);
}

void alerts__pool_close(floe_alerts *s)
{
    for (size_t i = 0; s->pool && i < s->n_pool; i++) {
        sqlite3_finalize(s->pool[i].row_by_id);
        sqlite3_close(s->pool[i].db);
        s->pool[i].db = NULL;
        s->pool[i].row_by_id = NULL;
    }
}

/* ---- SQL from a query ------------------------------------------------------- */

typedef struct qbind {
    int kind; /* 0 integer, 1 text, 2 blob of 16 */
    int64_t i;
    const char *text;
    uint8_t blob[16];
} qbind;

typedef struct qsql {
    qbind b[MAX_BINDS];
    int nb;
    char common[1024]; /* " AND ..." for every arm */
    char arm[MAX_ARMS][320];
    int n_arms;
    const char *indexed; /* INDEXED BY clause or "" */
} qsql;

static int bind_int(qsql *qs, int64_t v)
{
    qs->b[qs->nb] = (qbind){.kind = 0, .i = v};
    return ++qs->nb;
}

static int bind_text(qsql *qs, const char *t)
{
    qs->b[qs->nb] = (qbind){.kind = 1, .text = t};
    return ++qs->nb;
}

static int bind_blob(qsql *qs, const floe_addr *a)
{
    qs->b[qs->nb] = (qbind){.kind = 2};
    memcpy(qs->b[qs->nb].blob, a->b, 16);
    return ++qs->nb;
}

static void add_common(qsql *qs, const char *fmt, ...) FLOE_PRINTF(2, 3);
static void add_common(qsql *qs, const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(qs->common);
    snprintf(qs->common + n, sizeof(qs->common) - n, " AND ");
    n = strlen(qs->common);
    va_start(ap, fmt);
    vsnprintf(qs->common + n, sizeof(qs->common) - n, fmt, ap);
    va_end(ap);
}

/* "col = ?lo" or "col BETWEEN ?lo AND ?hi", appended to text. */
static void arm_test(char *text, size_t cap, const char *col, int lo, int hi)
{
    size_t n = strlen(text);
    if (lo == hi)
        snprintf(text + n, cap - n, "%s = ?%d", col, lo);
    else
        snprintf(text + n, cap - n, "%s BETWEEN ?%d AND ?%d", col, lo, hi);
}

static char *add_arm(qsql *qs, const char *col, int lo, int hi)
{
    char *a = qs->arm[qs->n_arms++];
    a[0] = '\0';
    arm_test(a, sizeof(qs->arm[0]), col, lo, hi);
    return a;
}

/* The highest address of a CIDR. */
static floe_addr cidr_last(const floe_cidr *c)
{
    floe_addr hi = c->addr;
    for (int bit = c->bits; bit < 128; bit++)
        hi.b[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
    return hi;
}

/* The arms for an entity value: which address columns to look in. */
static void value_arms(qsql *qs, const floe_alert_query *q)
{
    floe_cidr c;
    int et = q->entity_type;
    if (et == FLOE_ENTITY_INTERFACE || et == FLOE_ENTITY_SYSTEM ||
        floe_cidr_parse(&c, q->value) != 0) {
        /* Not an address (or an interface "exporter/ifIndex"): the exact
         * text. Outside flows the alerts_entity index serves it. */
        char *a = qs->arm[qs->n_arms++];
        int p = bind_text(qs, q->value);
        if (et == FLOE_ENTITY_FLOW)
            snprintf(a, sizeof(qs->arm[0]), "entity = ?%d", p);
        else
            snprintf(a, sizeof(qs->arm[0]), "entity = ?%d AND entity_type <> 1", p);
        return;
    }
    floe_addr hi = cidr_last(&c);
    int lo_p = bind_blob(qs, &c.addr);
    int hi_p = floe_addr_eq(&c.addr, &hi) ? lo_p : bind_blob(qs, &hi);
    if (et != FLOE_ENTITY_FLOW)
        add_arm(qs, "addr", lo_p, hi_p);
    if (et < 0 || et == FLOE_ENTITY_FLOW) {
        add_arm(qs, "cli_bin", lo_p, hi_p);
        /* Disjoint from the client arm (alerts_srv holds cli_bin), so the
         * arms are joined by UNION ALL with nothing counted twice. */
        char *a = add_arm(qs, "srv_bin", lo_p, hi_p);
        strcat(a, " AND NOT ");
        arm_test(a, sizeof(qs->arm[0]), "cli_bin", lo_p, hi_p);
    }
}

/* For engaged alerts, whose one covering index is scanned whole anyway:
 * the arms become one test, so it is scanned once. */
static void merge_arms(qsql *qs)
{
    char one[sizeof(qs->arm[0])] = "(";
    for (int i = 0; i < qs->n_arms; i++) {
        size_t n = strlen(one);
        snprintf(one + n, sizeof(one) - n, "%s(%s)", i ? " OR " : "", qs->arm[i]);
    }
    strncat(one, ")", sizeof(one) - strlen(one) - 1);
    memcpy(qs->arm[0], one, sizeof(one));
    qs->n_arms = 1;
}

/*
 * The index for a query without an entity value, chosen here rather than
 * by the planner: until the first ANALYZE (PRAGMA optimize at close) SQLite
 * knows nothing of the data, and for "acknowledged, newest first" it would
 * rather scan alerts_raised than sort the few rows alerts_acked holds.
 * The most selective filter wins: engaged, acknowledged, type, plugin,
 * and otherwise time.
 */
static const char *pick_index(const floe_alert_query *q)
{
    if (q->id > 0)
        return ""; /* the row id */
    if (q->state == FLOE_STATE_ENGAGED)
        return " INDEXED BY alerts_engaged";
    if (q->ack == 1)
        return " INDEXED BY alerts_acked";
    if (q->type[0])
        return " INDEXED BY alerts_type";
    if (q->plugin[0])
        return " INDEXED BY alerts_plugin";
    return " INDEXED BY alerts_raised";
}

static void build_where(qsql *qs, const floe_alert_query *q)
{
    memset(qs, 0, sizeof(*qs));
    qs->indexed = "";
    if (q->state == FLOE_STATE_ENGAGED) {
        /* Engaged rows are few; their partial index beats any other,
         * whatever else the query names. */
        add_common(qs, "state = 0");
        qs->indexed = q->id > 0 ? "" : " INDEXED BY alerts_engaged";
    } else if (q->state == FLOE_STATE_PAST) {
        add_common(qs, "state = 1");
    }
    if (q->id > 0)
        add_common(qs, "id = ?%d", bind_int(qs, q->id));
    if (q->severity >= 0)
        add_common(qs, "severity %s ?%d", q->severity_min ? ">=" : "=", bind_int(qs, q->severity));
    if (q->entity_type >= 0)
        add_common(qs, "entity_type = ?%d", bind_int(qs, q->entity_type));
    if (q->type[0])
        add_common(qs, "type = ?%d", bind_text(qs, q->type));
    if (q->plugin[0])
        add_common(qs, "plugin = ?%d", bind_text(qs, q->plugin));
    if (q->ack >= 0)
        add_common(qs, "ack_ms IS %s", q->ack ? "NOT NULL" : "NULL");
    if (q->from_ms)
        add_common(qs, "raised_ms >= ?%d", bind_int(qs, (int64_t)q->from_ms));
    if (q->to_ms)
        add_common(qs, "raised_ms <= ?%d", bind_int(qs, (int64_t)q->to_ms));
    if (q->value[0])
        value_arms(qs, q);
    if (qs->n_arms > 1 && q->state == FLOE_STATE_ENGAGED)
        merge_arms(qs);
    if (qs->n_arms == 0) {
        snprintf(qs->arm[qs->n_arms++], sizeof(qs->arm[0]), "1");
        qs->indexed = pick_index(q);
    }
}

/* Appends "SELECT cols FROM alerts WHERE arm AND common" once per arm,
 * joined by UNION ALL: the arms are disjoint. */
static void build_select(floe_buf *sql, const qsql *qs, const char *cols)
{
    for (int i = 0; i < qs->n_arms; i++)
        floe_buf_printf(sql, "%sSELECT %s FROM alerts%s WHERE %s%s", i ? " UNION ALL " : "", cols,
                        qs->indexed, qs->arm[i], qs->common);
}

static int prepare(sqlite3 *db, const floe_buf *sql, const qsql *qs, sqlite3_stmt **st)
{
    if (!floe_buf_ok(sql) || sqlite3_prepare_v2(db, sql->data, -1, st, NULL) != SQLITE_OK)
        return FLOE_EIO;
    for (int i = 0; i < qs->nb; i++) {
        const qbind *b = &qs->b[i];
        if (b->kind == 0)
            sqlite3_bind_int64(*st, i + 1, b->i);
        else if (b->kind == 1)
            sqlite3_bind_text(*st, i + 1, b->text, -1, SQLITE_STATIC);
        else
            sqlite3_bind_blob(*st, i + 1, b->blob, 16, SQLITE_STATIC);
    }
    return 0;
}

/* ---- the query -------------------------------------------------------------- */

static int write_row(alerts__conn *c, int64_t id, floe_json *j)
{
    sqlite3_stmt *st = c->row_by_id;
    alerts__row r;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        alerts__row_read(&r, st);
        alerts__row_json(j, &r, NULL);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : FLOE_EIO; /* DONE: deleted meanwhile */
}

static int write_page(alerts__conn *c, const qsql *qs, const floe_alert_query *q, floe_json *j)
{
    floe_buf sql;
    sqlite3_stmt *st = NULL;
    int64_t ids[QUERY_LIMIT_MAX];
    int n = 0, rc;
    floe_buf_init(&sql);
    build_select(&sql, qs, qs->n_arms > 1 ? "id, raised_ms" : "id");
    floe_buf_printf(&sql, " ORDER BY %s LIMIT %u OFFSET %u",
                    qs->n_arms > 1 ? "2 DESC, 1 DESC" : "raised_ms DESC, id DESC", q->limit,
                    q->offset);
    rc = prepare(c->db, &sql, qs, &st);
    floe_buf_close(&sql);
    while (rc == 0 && n < QUERY_LIMIT_MAX && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        ids[n++] = sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    if (rc != 0 && rc != SQLITE_DONE)
        return FLOE_EIO;
    floe_json_key(j, "alerts");
    floe_json_arr_begin(j);
    rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = write_row(c, ids[i], j);
    floe_json_arr_end(j);
    return rc;
}

static int write_totals(floe_alerts *s, alerts__conn *c, const qsql *qs, floe_json *j)
{
    floe_buf sql;
    sqlite3_stmt *st = NULL;
    uint64_t by[FLOE_SEV_COUNT] = {0}, total = 0;
    floe_buf_init(&sql);
    floe_buf_puts(&sql, "SELECT floe_sevcount(severity) FROM (");
    build_select(&sql, qs, qs->n_arms > 1 ? "id, severity" : "severity");
    floe_buf_printf(&sql, " LIMIT %llu)", (unsigned long long)s->o.totals_cap + 1);
    int rc = prepare(c->db, &sql, qs, &st);
    floe_buf_close(&sql);
    if (rc == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW &&
        sqlite3_column_bytes(st, 0) == (int)sizeof(by)) {
        memcpy(by, sqlite3_column_blob(st, 0), sizeof(by));
        rc = 0;
    }
    sqlite3_finalize(st);
    if (rc != 0)
        return FLOE_EIO;
    for (int v = 0; v < FLOE_SEV_COUNT; v++)
        total += by[v];
    floe_json_key(j, "totals");
    floe_json_obj_begin(j);
    floe_json_ku64(j, "total", total);
    floe_json_key(j, "capped");
    floe_json_bool(j, total > s->o.totals_cap);
    floe_json_key(j, "by_severity");
    floe_json_obj_begin(j);
    for (int v = 0; v < FLOE_SEV_COUNT; v++)
        floe_json_ku64(j, floe_severity_name(v), by[v]);
    floe_json_obj_end(j);
    floe_json_obj_end(j);
    return 0;
}

int floe_alerts_query_json(floe_alerts *s, const floe_alert_query *q, floe_buf *out, char *err,
                           size_t errlen)
{
    qsql qs;
    floe_json j;
    if (q->limit > QUERY_LIMIT_MAX) {
        snprintf(err, errlen, "limit: at most %d", QUERY_LIMIT_MAX);
        return FLOE_EINVAL;
    }
    alerts__conn *c = alerts__pool_get(s, err, errlen);
    if (!c)
        return FLOE_EIO;
    build_where(&qs, q);
    floe_json_init(&j, out);
    floe_json_obj_begin(&j);
    /* One read transaction, so the page and the totals see the same rows. */
    sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
    int rc = write_page(c, &qs, q, &j);
    floe_json_ku64(&j, "limit", q->limit);
    floe_json_ku64(&j, "offset", q->offset);
    if (rc == 0 && q->totals) {
        rc = write_totals(s, c, &qs, &j);
    } else if (rc == 0) {
        floe_json_key(&j, "totals");
        floe_json_null(&j);
    }
    if (rc != 0)
        snprintf(err, errlen, "alerts query: %s", sqlite3_errmsg(c->db));
    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    alerts__pool_put(s, c);
    floe_json_obj_end(&j);
    if (rc == 0 && !floe_buf_ok(out)) {
        snprintf(err, errlen, "alerts query: out of memory");
        return FLOE_ENOMEM;
    }
    return rc;
}

/* ---- acknowledge and delete --------------------------------------------------- */

/* Runs one statement with an id (and optional text and time), returning
 * the rows changed or -1. */
static int64_t run_on_id(floe_alerts *s, const char *sqltext, int64_t id, const char *text,
                         uint64_t ms)
{
    char err[160];
    sqlite3_stmt *st = NULL;
    alerts__conn *c = alerts__pool_get(s, err, sizeof(err));
    if (!c)
        return -1;
    int64_t n = -1;
    if (sqlite3_prepare_v2(c->db, sqltext, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, text ? text : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)ms);
        if (sqlite3_step(st) == SQLITE_DONE)
            n = sqlite3_changes(c->db);
    }
    sqlite3_finalize(st);
    alerts__pool_put(s, c);
    return n;
}

int floe_alerts_ack(floe_alerts *s, int64_t id, const char *who, uint64_t when_ms)
{
    int64_t n =
        run_on_id(s, "UPDATE alerts SET ack_ms = ?3, ack_by = ?2 WHERE id = ?1", id, who, when_ms);
    return n < 0 ? FLOE_EIO : n == 0 ? FLOE_ENOTFOUND : 0;
}

int floe_alerts_delete(floe_alerts *s, int64_t id)
{
    int64_t n =
        run_on_id(s, "DELETE FROM alerts WHERE id = ?1 AND ?2 = ?2 AND ?3 = ?3", id, NULL, 0);
    if (n > 0)
        alerts__add(&s->rows, (uint64_t)-n);
    return n < 0 ? FLOE_EIO : n == 0 ? FLOE_ENOTFOUND : 0;
}

int floe_alerts_delete_where(floe_alerts *s, const floe_alert_query *q, uint64_t *n_out)
{
    char err[160];
    qsql qs;
    floe_buf sql;
    sqlite3_stmt *st = NULL;
    uint64_t total = 0;
    alerts__conn *c = alerts__pool_get(s, err, sizeof(err));
    if (!c)
        return FLOE_EIO;
    build_where(&qs, q);
    floe_buf_init(&sql);
    floe_buf_puts(&sql, "DELETE FROM alerts WHERE id IN (");
    build_select(&sql, &qs, "id");
    floe_buf_printf(&sql, " LIMIT %u)", s->o.prune_batch);
    int rc = prepare(c->db, &sql, &qs, &st);
    floe_buf_close(&sql);
    /* Each step is its own transaction of at most prune_batch rows. */
    while (rc == 0) {
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = FLOE_EIO;
            break;
        }
        int n = sqlite3_changes(c->db);
        sqlite3_reset(st);
        total += (uint64_t)n;
        alerts__add(&s->rows, (uint64_t) - (int64_t)n);
        if ((uint32_t)n < s->o.prune_batch)
            break;
    }
    sqlite3_finalize(st);
    alerts__pool_put(s, c);
    if (n_out)
        *n_out = total;
    return rc;
}

/* ---- query parameters ----------------------------------------------------------- */

void floe_alert_query_init(floe_alert_query *q)
{
    memset(q, 0, sizeof(*q));
    q->state = FLOE_STATE_ALL;
    q->severity = -1;
    q->entity_type = -1;
    q->ack = -1;
    q->limit = 50;
    q->totals = 1;
}

static int parse_u64(const char *v, uint64_t *out)
{
    char *end;
    if (!v || *v < '0' || *v > '9')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end)
        return -1;
    *out = x;
    return 0;
}

static const char *const state_names[] = {"engaged", "past", "all"};
static const char *const ack_names[] = {"no", "yes", "all"};

static int pick(const char *const *names, int n, const char *v)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], v) == 0)
            return i;
    return -1;
}

/* severity=NAME (exactly), NAME;gte or NAME;eq (ntopng's form). */
static int set_severity(floe_alert_query *q, const char *v, int min)
{
    char name[32];
    const char *semi = strchr(v, ';');
    size_t n = semi ? (size_t)(semi - v) : strlen(v);
    if (n >= sizeof(name))
        return -1;
    memcpy(name, v, n);
    name[n] = '\0';
    if (semi && strcmp(semi, ";gte") == 0)
        min = 1;
    else if (semi && strcmp(semi, ";eq") != 0)
        return -1;
    q->severity = floe_severity_parse(name);
    q->severity_min = min;
    return q->severity < 0 ? -1 : 0;
}

static int set_text(char *dst, size_t cap, const char *v)
{
    if (strlen(v) >= cap)
        return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int set_key(floe_alert_query *q, const char *key, const char *v)
{
    uint64_t x;
    int i;
    if (!strcmp(key, "state"))
        return (q->state = pick(state_names, 3, v)) < 0 ? -1 : 0;
    if (!strcmp(key, "severity") || !strcmp(key, "min_severity"))
        return set_severity(q, v, key[0] == 'm');
    if (!strcmp(key, "entity"))
        return (q->entity_type = floe_entity_parse(v)) < 0 ? -1 : 0;
    if (!strcmp(key, "value"))
        return set_text(q->value, sizeof(q->value), v);
    if (!strcmp(key, "type"))
        return set_text(q->type, sizeof(q->type), v);
    if (!strcmp(key, "plugin"))
        return set_text(q->plugin, sizeof(q->plugin), v);
    if (!strcmp(key, "ack"))
        return (i = pick(ack_names, 3, v)) < 0 ? -1 : (q->ack = i == 2 ? -1 : i, 0);
    if (parse_u64(v, &x) != 0)
        return -1;
    if (!strcmp(key, "id") && x > 0 && x <= INT64_MAX)
        return q->id = (int64_t)x, 0;
    if (!strcmp(key, "from") || !strcmp(key, "since"))
        return q->from_ms = x, 0;
    if (!strcmp(key, "to"))
        return q->to_ms = x, 0;
    if (!strcmp(key, "limit") && x <= QUERY_LIMIT_MAX)
        return q->limit = (uint32_t)x, 0;
    if (!strcmp(key, "offset") && x <= UINT32_MAX)
        return q->offset = (uint32_t)x, 0;
    if (!strcmp(key, "totals") && x <= 1)
        return q->totals = (int)x, 0;
    return -1;
}

/* Every key and what a good value looks like, for the error line. */
static const struct {
    const char *key;
    const char *want;
} query_keys[] = {
    {"id", "an alert id"},
    {"state", "engaged, past or all"},
    {"severity", "a severity name, optionally ;gte or ;eq"},
    {"min_severity", "a severity name"},
    {"entity", "host, flow, interface, network, exporter or system"},
    {"value", "at most 95 bytes"},
    {"type", "at most 63 bytes"},
    {"plugin", "at most 47 bytes"},
    {"ack", "yes, no or all"},
    {"from", "ms since the epoch"},
    {"since", "ms since the epoch"},
    {"to", "ms since the epoch"},
    {"limit", "0 to 1000"},
    {"offset", "a row count"},
    {"totals", "0 or 1"},
};

int floe_alert_query_set(floe_alert_query *q, const char *key, const char *value, char *err,
                         size_t errlen)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(query_keys); i++) {
        if (strcmp(key, query_keys[i].key) != 0)
            continue;
        if (set_key(q, key, value ? value : "") == 0)
            return 0;
        snprintf(err, errlen, "%s: bad value \"%.40s\" (want %s)", key, value ? value : "",
                 query_keys[i].want);
        return FLOE_EINVAL;
    }
    snprintf(err, errlen, "%.40s: unknown query key", key);
    return FLOE_EINVAL;
}

int floe_alert_query_parse(floe_alert_query *q, floe_alert_query_get get, void *ud, char *err,
                           size_t errlen)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(query_keys); i++) {
        const char *v = get(ud, query_keys[i].key);
        if (v && floe_alert_query_set(q, query_keys[i].key, v, err, errlen) != 0)
            return FLOE_EINVAL;
    }
    return 0;
}
