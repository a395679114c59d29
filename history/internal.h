/*
 * Internal to history/: the exporter's state, the RowBinary encoder, the
 * HTTP calls, the spool and the schema. Nothing outside history/ includes
 * this file.
 */
#ifndef FLOE_HISTORY_INTERNAL_H
#define FLOE_HISTORY_INTERNAL_H

#include "history/history.h"

#include <pthread.h>
#include <stdatomic.h>

typedef _Atomic uint64_t hist__counter;

/* The tables floe writes, in the order their blocks are kept apart. */
enum { HIST_FLOWS, HIST_ALERTS, HIST_TABLES };

/* Where and as whom to reach ClickHouse; fixed after open, so worker
 * threads read it without a lock. */
typedef struct hist__conn {
    char *url, *database, *user, *password, *instance, *cluster;
    uint32_t timeout_ms;
    /* Monotonic ms after which a request under way is abandoned (0: none):
     * set when floe stops, so that a hung server cannot hold the stop. */
    hist__counter *abort_at_ms;
} hist__conn;

/* What an HTTP request brought back. */
typedef struct hist__reply {
    long status; /* HTTP status, 0 when no answer came */
    floe_buf body;
    char error[200]; /* a one-line reason when it failed */
} hist__reply;

/* A table's name as inserts and queries use it (the Distributed one with a
 * cluster), and the local one DDL and retention use. */
void hist__table(const hist__conn *c, int table, int local, char *out, size_t outlen);

/* ---- RowBinary (rows.c) ------------------------------------------------------ */

/* The columns of a table, in RowBinary order, as "name Type" pairs. */
typedef struct hist__column {
    const char *name, *type;
} hist__column;
const hist__column *hist__columns(int table, size_t *n);
/* "(a, b, c)" for an INSERT. */
void hist__column_list(int table, floe_buf *out);
/* Appends a row, RowBinary-encoded, to b. */
void hist__encode_flow(floe_buf *b, const char *instance, const floe_history_flow *r);
void hist__encode_alert(floe_buf *b, const char *instance, const floe_history_alert *r);
/* gzip of n bytes into out (replacing its content); 0 or FLOE_ENOMEM. */
int hist__gzip(const void *data, size_t n, floe_buf *out);

/* ---- HTTP (http.c) ----------------------------------------------------------- */

/*
 * POSTs body (NUL-free SQL, or RowBinary with query in the URL) to the
 * server. query, when not NULL, goes in the URL as ?query=; settings is
 * more URL arguments ("readonly=1&..."), or NULL; gzip says the body is
 * gzip-compressed. Returns 0 when the server answered 200, else -1 with
 * rep->status and rep->error set. curl is the caller's handle (reused).
 */
int hist__post(void *curl, const hist__conn *c, const char *query, const char *settings,
               const void *body, size_t len, int gzip, uint32_t timeout_ms, hist__reply *rep);
/* The same for a statement in the body and no settings; the answer's body is
 * dropped. */
int hist__exec(void *curl, const hist__conn *c, const char *sql, hist__reply *rep);
void hist__reply_init(hist__reply *r);
void hist__reply_close(hist__reply *r);

/* ---- the spool (spool.c) ------------------------------------------------------- */

/* The spool's files, oldest first. Owned by the writer thread. */
typedef struct hist__spool_file {
    uint64_t seq;
    int table;
    uint32_t version; /* the schema version its rows were encoded for */
    uint32_t rows;
    uint64_t bytes;
    uint32_t rejects; /* times the server refused it */
} hist__spool_file;

typedef struct hist__spool {
    char *dir;
    hist__spool_file *files;
    size_t n, cap, head; /* live files are files[head..n) */
    uint64_t next_seq;
    uint64_t bytes;
    uint64_t max_bytes;
} hist__spool;

/* Creates dir if missing and reads the files left by an earlier run.
 * Returns 0, or FLOE_EIO with a reason in err. */
int hist__spool_open(hist__spool *s, const char *dir, uint64_t max_bytes, char *err, size_t errlen);
void hist__spool_close(hist__spool *s);
static inline size_t hist__spool_count(const hist__spool *s)
{
    return s->n - s->head;
}
/* Adds a block at the tail: 0, FLOE_ELIMIT past max_bytes, FLOE_EIO. */
int hist__spool_push(hist__spool *s, int table, uint32_t rows, const void *gz, size_t len,
                     char *err, size_t errlen);
/* The head file's bytes into out: 0, or FLOE_EIO (then drop it). */
int hist__spool_read_head(hist__spool *s, floe_buf *out);
/* Removes the head file. */
void hist__spool_pop(hist__spool *s);
hist__spool_file *hist__spool_head(hist__spool *s);

/* ---- the schema (schema.c) --------------------------------------------------------- */

/* What floe learnt about the server when it set the schema up. */
typedef struct hist__server {
    char version[32];
    int major, minor;
    int ttl; /* the server has MergeTree TTL */
} hist__server;

/* Creates the database and tables, checks and records the schema version,
 * sets the TTL where the server has one (retention_days < 0: leaves it
 * alone). 0, or -1 with rep->error. */
int hist__schema_setup(void *curl, const hist__conn *c, int alerts, int64_t retention_days,
                       hist__server *srv, hist__reply *rep);
/* Without TTL: drops the day partitions older than days before now_s. 0 or -1. */
int hist__retention_drop(void *curl, const hist__conn *c, int alerts, uint32_t days, uint64_t now_s,
                         hist__reply *rep);

/* ---- the exporter (writer.c) -------------------------------------------------------- */

typedef struct hist__pending {
    floe_buf buf;
    uint32_t rows;
    uint64_t since_ms; /* monotonic: when its first row came */
} hist__pending;

struct floe_history {
    floe_history_opts o;
    hist__conn conn;
    floe_log logc; /* a copy: the thread logs with its own rate-limit state */
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* under lock */
    hist__pending pend[HIST_TABLES];
    uint32_t queued;
    int stop;
    char last_error[200];
    hist__server srv; /* written by the thread under lock once set up */
    int srv_known;
    /* the thread's own */
    void *curl;
    hist__spool spool;
    int schema_ready;
    int up;               /* the last request succeeded */
    int stopping;         /* the thread's copy of stop */
    uint64_t retry_at_ms; /* monotonic: when to try again after a failure */
    uint64_t backoff_ms;
    uint64_t retention_at_ms; /* monotonic: the next partition drop */
    floe_buf work, gz, file;
    /* counters, read by anyone */
    hist__counter exported, spooled, replayed, dropped, batches, errors, bytes_sent;
    hist__counter spool_files, spool_bytes, connected, queued_rows;
    hist__counter abort_at_ms;
};

#endif
