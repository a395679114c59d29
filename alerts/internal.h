/*
 * alerts/internal.h: what the files of the alert store share and nothing
 * outside alerts/ may use. The store struct (queue, counters, pools), the
 * writer's entry points, the read-connection pool, the small JSON reader
 * used for info validation and exclusion rules, and the one writer of an
 * alert's JSON that queries and notifications both use.
 */
#ifndef FLOE_ALERTS_INTERNAL_H
#define FLOE_ALERTS_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "alerts/alerts.h"

#define ALERTS__QBLOCK     256  /* events per queue block */
#define ALERTS__QFREE_KEEP 64   /* empty blocks kept for reuse (6 MiB): no malloc churn in storms */
#define ALERTS__TYPES_MAX  1024 /* alert types counted by name for metrics */

typedef _Atomic uint64_t alerts__counter;

static inline void alerts__add(alerts__counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}
static inline uint64_t alerts__get(alerts__counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* A block of queued events; info pointers in it are owned copies. */
typedef struct alerts__qblock {
    struct alerts__qblock *next;
    uint32_t n;
    floe_alert ev[ALERTS__QBLOCK];
} alerts__qblock;

/* A connection of the read pool, with the statement that reads one row. */
typedef struct alerts__conn {
    sqlite3 *db;
    sqlite3_stmt *row_by_id;
    int busy;
} alerts__conn;

/* Per-type event counts for the metrics, guarded by floe_alerts.slock. */
typedef struct alerts__typecount {
    floe_hnode node;
    uint64_t count;
    char type[64];
} alerts__typecount;

typedef struct alerts__ruleset alerts__ruleset; /* exclude.c */
typedef struct alerts__notify alerts__notify;   /* notify.c */
typedef struct alerts__writer alerts__writer;   /* writer.c */

struct floe_alerts {
    floe_alerts_opts o;
    char *dir;
    char *path; /* <dir>/alerts.db */
    floe_log *log;

    /* The queue, guarded by qlock. seq_in counts events accepted, seq_done
     * events the writer has finished with (committed or given up). */
    pthread_mutex_t qlock;
    pthread_cond_t qwake; /* the writer waits for work here */
    pthread_cond_t qdone; /* flush waits for seq_done here */
    alerts__qblock *qhead, *qtail, *qfree;
    size_t n_qfree;
    uint64_t queued, queued_bytes, queue_peak;
    uint64_t seq_in, seq_done;
    int stop, hold, write_failed;

    pthread_t writer_thread;
    int writer_started;
    alerts__writer *w;

    /* Counters: written by one thread each, read by any. */
    alerts__counter pushed, excluded, dropped, invalid, lost;
    alerts__counter inserted, merged, released, release_unmatched;
    alerts__counter batches, pruned, write_errors, rows, written;
    alerts__counter by_severity[FLOE_SEV_COUNT];
    alerts__counter write_rate; /* rows written a second, over the last second or more */

    /* Metrics by type and the last error, guarded by slock. */
    pthread_mutex_t slock;
    floe_hmap types;
    alerts__typecount *type_other;
    char last_error[160];

    /* The read pool. */
    pthread_mutex_t plock;
    pthread_cond_t pcond;
    alerts__conn *pool;
    size_t n_pool;

    /* Exclusions: the current immutable rule set, swapped under xlock. */
    pthread_mutex_t xlock;
    alerts__ruleset *rules;
    _Atomic size_t n_rules;
    int64_t next_config_id; /* the next negative id, under xlock */

    alerts__notify *notify;
};

/* ---- schema.c ------------------------------------------------------------ */

/* Opens a connection to path with WAL, synchronous=NORMAL and a busy
 * timeout. Returns NULL with a reason in err. */
sqlite3 *alerts__db_open(const char *path, char *err, size_t errlen);
/* Applies the migrations the database lacks. Returns 0 or FLOE_EIO. */
int alerts__migrate(sqlite3 *db, char *err, size_t errlen);
/* The column list every row reader selects, in alerts__row_read order. */
extern const char alerts__row_columns[];

/* ---- writer.c ------------------------------------------------------------ */

int alerts__writer_start(floe_alerts *s, char *err, size_t errlen);
/* Joins the writer (after stop is set). */
void alerts__writer_join(floe_alerts *s);
/* Records a write error for the stats, under slock. */
void alerts__set_error(floe_alerts *s, const char *fmt, ...) FLOE_PRINTF(2, 3);
/* Frees the info copies of a block's events. */
void alerts__qblock_clear(alerts__qblock *b);

/* ---- checkpoint.c -------------------------------------------------------- */

typedef struct alerts__ckpt alerts__ckpt;
/* Starts the checkpoint thread on its own connection and hooks the
 * writer's commits to it. Returns NULL with a reason in err. */
alerts__ckpt *alerts__ckpt_start(const char *path, sqlite3 *writer_db, char *err, size_t errlen);
/* Unhooks writer_db and stops the thread; NULL does nothing. */
void alerts__ckpt_stop(alerts__ckpt *c, sqlite3 *writer_db);

/* ---- query.c ------------------------------------------------------------- */

/* A pool connection for the calling thread (blocks while all are busy), or
 * NULL with a reason. Give it back with alerts__pool_put. */
alerts__conn *alerts__pool_get(floe_alerts *s, char *err, size_t errlen);
void alerts__pool_put(floe_alerts *s, alerts__conn *c);
void alerts__pool_close(floe_alerts *s);

/* ---- json.c -------------------------------------------------------------- */

/* A stored alert as the JSON writer sees it: from an event (the writer,
 * for notifications) or from a row (queries). */
typedef struct alerts__row {
    int64_t id;
    int state; /* 0 engaged, 1 past */
    int kind;
    const char *type, *plugin, *check;
    int entity_type;
    const char *entity;
    int severity;
    uint32_t score;
    uint64_t raised_ms, released_ms, last_seen_ms, count; /* released_ms 0: null */
    uint64_t ack_ms;
    const char *ack_by; /* NULL: not acknowledged */
    const char *info;   /* a valid JSON object, or NULL */
    int has_flow;
    const char *cli, *srv, *app, *exporter;
    uint16_t cli_port, srv_port;
    uint8_t l4;
    uint64_t bytes, packets;
} alerts__row;

/* Writes the alert object of docs/alerts.md; action (may be NULL) adds the
 * "action" member notifications carry. */
void alerts__row_json(floe_json *j, const alerts__row *r, const char *action);
/* Fills r from a statement whose columns are alerts__row_columns. */
void alerts__row_read(alerts__row *r, sqlite3_stmt *st);
/* Writes text, which must be one JSON value, as the next value in j. */
void alerts__json_raw(floe_json *j, const char *text);
/* 1 when s[0..n) is exactly one JSON object (RFC 8259, UTF-8), else 0. */
int alerts__json_is_object(const char *s, size_t n);

/* A cursor for the small reader of exclusion rules. */
typedef struct alerts__jcur {
    const char *p, *end;
} alerts__jcur;
/* Skips white space; returns the next byte or 0 at the end. */
int alerts__json_peek(alerts__jcur *c);
/* Reads a string into out (NUL-terminated). Returns 0, -1 when it is not a
 * string, -2 when it does not fit. */
int alerts__json_string(alerts__jcur *c, char *out, size_t outlen);
/* Skips one value of any kind. Returns 0 or -1. */
int alerts__json_skip(alerts__jcur *c, int depth);

/* ---- exclude.c ----------------------------------------------------------- */

int alerts__rules_load(floe_alerts *s, sqlite3 *db, char *err, size_t errlen);
void alerts__rules_free(floe_alerts *s);
/* Appends the counters of the rule set to a stats object. */
void alerts__rules_stats_json(floe_alerts *s, floe_json *j);

/* ---- notify.c ------------------------------------------------------------ */

alerts__notify *alerts__notify_new(const floe_alerts_endpoint *eps, size_t n, floe_log *log,
                                   char *err, size_t errlen);
/* Stops the endpoint threads after their last bounded attempt; NULL ok. */
void alerts__notify_free(alerts__notify *nt);
/* 1 when some endpoint wants alert r (so the writer builds its JSON). */
int alerts__notify_wants(const alerts__notify *nt, const alerts__row *r);
/* Offers a stored alert and its JSON object text to every endpoint that
 * wants it; each copies what it keeps. Called by the writer after commit. */
void alerts__notify_post(alerts__notify *nt, const alerts__row *r, const char *json);
void alerts__notify_stats_json(alerts__notify *nt, floe_json *j);
void alerts__notify_metrics(alerts__notify *nt, floe_buf *out);

#endif /* FLOE_ALERTS_INTERNAL_H */
