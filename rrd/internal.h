/*
 * rrd/internal.h: what the files of the timeseries module share and nobody
 * else may use. The store (floe_ts) is split three ways: what the producer
 * touches (the append queue, under qlock), what only the writer thread
 * touches (the series map, the write list, the cleanup walk), and what any
 * reader touches (the schema registry under slock, the chart cache under
 * glock, librrd's graph code under the same lock).
 */
#ifndef FLOE_RRD_INTERNAL_H
#define FLOE_RRD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "rrd/rrd.h"

#define TS__MAX_SCHEMAS     1024
#define TS__CHUNK_BYTES     (64 * 1024)
#define TS__PATH_MAX        1024
#define TS__SPREAD_FRACTION 0.8                   /* of the step: leave room for the next one */
#define TS__JOURNAL_HEAD    "floe-ts-journal 1\n" /* FLOE_TS_JOURNAL's first line */

/* A registered schema version. Immutable once registered; freed when the
 * registry and every queued point and series have let go of it. */
typedef struct ts__schema {
    atomic_int refs;
    floe_ts_schema def;         /* retention filled in */
    char dir[FLOE_TS_NAME_MAX]; /* "host/traffic" */
    uint64_t hash;              /* of def.name */
} ts__schema;

void ts__schema_ref(ts__schema *s);
void ts__schema_unref(ts__schema *s);
/* The current version of name with a reference taken, or NULL. */
ts__schema *ts__schema_get(floe_ts *ts, const char *name);
/* The current version whose directory is dir, with a reference, or NULL. */
ts__schema *ts__schema_get_by_dir(floe_ts *ts, const char *dir, size_t n);

/* One queued point inside a chunk: the header, n doubles, then the series
 * path relative to the store's dir, NUL-terminated, padded to 8 bytes. */
typedef struct ts__rec {
    ts__schema *schema; /* one reference per record */
    int64_t t;          /* the end of the point's step */
    uint16_t n_values;
    uint16_t path_len;
    uint32_t size; /* the whole record, padded */
} ts__rec;

static inline double *ts__rec_values(ts__rec *r)
{
    return (double *)(void *)(r + 1);
}
static inline char *ts__rec_path(ts__rec *r)
{
    return (char *)(ts__rec_values(r) + r->n_values);
}

typedef struct ts__chunk {
    struct ts__chunk *next;
    size_t used;
    size_t points;
    _Alignas(8) char data[TS__CHUNK_BYTES];
} ts__chunk;

/* A series as the writer knows it. Points wait in t order. */
typedef struct ts__series {
    floe_hnode node;    /* by path */
    floe_list link;     /* on the write list while queued */
    ts__schema *schema; /* a reference */
    char *path;         /* relative to the store's dir */
    int queued;
    int checked;         /* the file exists and its layout is known */
    uint32_t phase;      /* which step of batch_steps it is written at */
    int64_t last_update; /* the file's; 0 unknown */
    int64_t last_seen;   /* the step of the newest point merged */
    unsigned n_file_ds;  /* the file's DS count */
    int *map;            /* file DS index of each schema metric, -1 none; NULL: same */
    unsigned n, cap;
    int64_t *t;
    double *v; /* cap * schema->def.n_metrics */
} ts__series;

/* A request from another thread to the writer. */
enum ts__req_kind { TS__REQ_FLUSH, TS__REQ_DRAIN, TS__REQ_MIGRATE };

typedef struct ts__req {
    floe_list link;
    enum ts__req_kind kind;
    const char *path;             /* FLUSH: relative; MIGRATE: as given */
    const floe_ts_schema *schema; /* MIGRATE */
    int keep_old;
    floe_ts_migrate_result *res;
    char *err;
    size_t errlen;
    int done;
    int rc;
} ts__req;

typedef struct ts__gentry {
    floe_list link;
    char *key;
    char *data;
    size_t len;
    const char *ctype;
    uint64_t made_ms;
} ts__gentry;

typedef struct ts__dirframe {
    void *dir;      /* DIR* */
    size_t pathlen; /* length of the walk path at this level */
} ts__dirframe;

struct floe_ts {
    char *dir;
    char *cached_addr; /* NULL: direct */
    floe_log *log;
    floe_ts_retention retention;
    size_t queue_max, series_max;
    uint32_t cleanup_age_s;
    int spread;
    unsigned batch;
    unsigned graph_cache_s, graph_cache_max;
    uint64_t shutdown_ms; /* 0: no limit */

    /* registry */
    pthread_mutex_t slock;
    ts__schema *schemas[TS__MAX_SCHEMAS];
    unsigned n_schemas;

    /* producer -> writer */
    pthread_mutex_t qlock;
    pthread_cond_t wake, done;
    ts__chunk *qhead, *qtail;
    size_t qpoints;
    int64_t step_when; /* the newest floe_ts_step_end, not yet taken */
    int step_new;
    floe_list reqs;
    int stop;
    int hold;
    ts__chunk *spare; /* one chunk kept for reuse */

    /* writer only */
    pthread_t thread;
    floe_hmap series;
    floe_list wlist;
    size_t wlist_len;
    int64_t step_now;
    uint64_t step_mono_ms; /* when the last step end was taken */
    uint64_t step_iv_ms;   /* real time between step ends, smoothed */
    uint64_t win_start_ms, win_len_ms;
    size_t win_total, win_done;
    size_t cached_points;
    floe_buf ubuf; /* update argument text */
    const char **uargv;
    size_t uargv_cap;
    char path[TS__PATH_MAX]; /* scratch absolute path */
    int cached_ok;           /* connected to rrdcached */
    /* cleanup walk */
    ts__dirframe walk[8];
    int walk_depth;
    char walk_path[TS__PATH_MAX];
    uint64_t walk_next_ms;
    uint64_t step_updates0; /* c_updates at the last step end */
    ts__chunk *free_chunk;  /* the writer's spare, handed back under qlock */
    /* published by the writer under qlock */
    uint64_t pub_cached, pub_series, pub_backlog, pub_steps;
    double pub_ups;
    uint64_t steps;

    /* counters (atomic: several threads add) */
    atomic_uint_fast64_t c_queued, c_rejected, c_dropped, c_written, c_skipped, c_failed, c_updates,
        c_errors, c_busy, c_created, c_mismatched, c_deleted, c_rendered, c_gcached, c_journaled,
        c_restored;
    double updates_per_s;
    pthread_mutex_t elock; /* last_error */
    char last_error[256];

    /* charts */
    pthread_mutex_t rlock; /* around rrd_graph_v */
    pthread_mutex_t glock; /* the chart cache */
    floe_list gcache;
    unsigned gcache_n;
};

/* schema.c */
int ts__schema_dir(const char *name, char *out, size_t outlen);
int ts__series_relpath(const ts__schema *s, const char *const *tags, char *out, size_t outlen,
                       char *err, size_t errlen);
void ts__registry_close(floe_ts *ts);
const char *ts__type_rrd(floe_ts_type t);
unsigned ts__cf_count(unsigned cf);
const char *ts__cf_rrd(unsigned bit); /* "AVERAGE" for FLOE_TS_CF_AVERAGE ... */
unsigned ts__cf_from_rrd(const char *name);

/* writer.c */
void *ts__writer_main(void *arg);
void ts__error(floe_ts *ts, const char *fmt, ...) FLOE_PRINTF(2, 3);
/* Sends a request to the writer and waits for it. Returns req->rc. */
int ts__request(floe_ts *ts, ts__req *req);
int ts__abspath(const floe_ts *ts, const char *rel, char *out, size_t outlen);
/* read.c: a number with 10 significant digits, null when not finite. */
void ts__json_num(floe_json *j, double v);
int ts__mkdir_p(char *path_to_file);
/* Writes every cached point of the series at rel now (writer thread). */
void ts__flush_path(floe_ts *ts, const char *rel);
void ts__forget_path(floe_ts *ts, const char *rel);

/* layout.c: files and their layouts */
int ts__create(floe_ts *ts, const char *abs, const ts__schema *s, int64_t start, char *err,
               size_t errlen);
/* Reads a file's layout; see layout.c. */
typedef struct ts__layout {
    uint32_t step_s;
    int64_t last_update;
    unsigned n_ds;
    char ds[FLOE_TS_MAX_METRICS][FLOE_TS_METRIC_MAX];
    int ds_type[FLOE_TS_MAX_METRICS]; /* floe_ts_type, or -1 for another type */
    floe_ts_retention retention;
} ts__layout;
int ts__layout_read(const char *abs, ts__layout *l, char *err, size_t errlen);
/* 1 when the file's layout is the schema's. */
int ts__layout_same(const ts__layout *l, const floe_ts_schema *s);
int ts__migrate_run(floe_ts *ts, ts__req *req);

/* read.c */
/* Resolves schema and tags to the series path and has the writer write its
 * cached points. Returns the schema (a reference) or NULL with *rc and err. */
ts__schema *ts__series_ready(floe_ts *ts, const char *schema, const char *const *tags, char *rel,
                             size_t rellen, int *rc, char *err, size_t errlen);
/* Sets pick[i] for each metric named in a comma-separated list (all when
 * list is NULL or ""). Returns 0 or FLOE_EINVAL naming the unknown one. */
int ts__pick_metrics(const floe_ts_schema *d, const char *list, int *pick, char *err,
                     size_t errlen);

/* graph.c */
void ts__gcache_close(floe_ts *ts);

#endif /* FLOE_RRD_INTERNAL_H */
