/*
 * rrd: floe's timeseries. Schemas name a kind of series (its step, its tags
 * and its metrics, each a gauge or a per-step delta) and how long to keep
 * it; floe_ts_append queues one point per series and step from the
 * producer's thread without any I/O; one writer thread owns every file,
 * holds each series' points for a few steps (a write-back cache), writes
 * several steps per rrd_update call, spreads the writes over the step and
 * deletes series nobody updates any more. Readers on other threads fetch
 * points as JSON and draw PNG or SVG charts with rrd_graph (one at a time:
 * librrd's graph code is not thread-safe), flushing the series' cached points
 * first. docs/timeseries.md describes the file layout and the design.
 */
#ifndef FLOE_RRD_H
#define FLOE_RRD_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ---- limits ------------------------------------------------------------ */

#define FLOE_TS_NAME_MAX    64 /* schema name, with its NUL */
#define FLOE_TS_TAG_MAX     32 /* tag name, with its NUL */
#define FLOE_TS_MAX_TAGS    8
#define FLOE_TS_METRIC_MAX  20 /* metric name: an RRD DS name is at most 19 */
#define FLOE_TS_UNIT_MAX    16
#define FLOE_TS_TITLE_MAX   80
#define FLOE_TS_MAX_METRICS 64
#define FLOE_TS_MAX_RRAS    16
#define FLOE_TS_VALUE_MAX   128 /* a tag value, in bytes, before encoding */

/* The retention used when neither the options nor a schema set one. */
#define FLOE_TS_DEFAULT_RETENTION "1m:1d,5m:1w,1h:1y,1d:5y"

/* ---- retention ----------------------------------------------------------- */

/* Consolidation functions kept for every resolution (a bit mask). */
enum floe_ts_cf {
    FLOE_TS_CF_AVERAGE = 1,
    FLOE_TS_CF_MAX = 2,
    FLOE_TS_CF_MIN = 4,
    FLOE_TS_CF_LAST = 8,
};

/*
 * Which resolutions a series keeps and for how long: one archive (RRA) per
 * resolution and consolidation function. res_s must be a multiple of the
 * schema's step (checked by floe_ts_define); span_s / res_s is the row count.
 */
typedef struct floe_ts_retention {
    unsigned n;
    struct {
        uint32_t res_s;
        uint32_t span_s;
    } rra[FLOE_TS_MAX_RRAS];
    unsigned cf; /* enum floe_ts_cf bits; 0 is read as AVERAGE|MAX */
} floe_ts_retention;

/*
 * Parses the string form: comma-separated "RESOLUTION:SPAN" items, each a
 * number and a unit (s, m minutes, h, d, w, y of 365 days), resolutions
 * strictly increasing, and optionally one "cf=avg+max" item (avg, max, min,
 * last). "1m:1d,5m:1w,1h:1y,1d:5y" keeps a day of minutes, a week of
 * 5 minutes, a year of hours and five years of days, average and maximum.
 * Returns 0, or FLOE_ECONFIG with a one-line reason naming the item in err.
 */
int floe_ts_retention_parse(floe_ts_retention *r, const char *text, char *err, size_t errlen);
/* Writes the string form of r into out (always NUL-terminated); returns out. */
char *floe_ts_retention_format(const floe_ts_retention *r, char *out, size_t outlen);
/* The size in bytes of one file with this retention, step and metric count
 * (the data; the header adds about 1 KiB plus 0.3 KiB per metric). */
uint64_t floe_ts_retention_bytes(const floe_ts_retention *r, uint32_t step_s, unsigned n_metrics);

/* ---- schemas ------------------------------------------------------------- */

typedef enum floe_ts_type {
    FLOE_TS_GAUGE, /* a level at the end of the step: stored as given */
    FLOE_TS_DELTA, /* a count over the step: stored per second (RRD ABSOLUTE) */
} floe_ts_type;

typedef struct floe_ts_metric {
    char name[FLOE_TS_METRIC_MAX]; /* [A-Za-z0-9_], 1..19 bytes */
    floe_ts_type type;
    char unit[FLOE_TS_UNIT_MAX];   /* "bytes", "packets", "count", "ms", "bps", "" ... */
    char title[FLOE_TS_TITLE_MAX]; /* the chart legend; "" means the name */
} floe_ts_metric;

/*
 * A schema, a plain value the caller fills (floe_ts_schema_init and the
 * _add helpers do it with checks) and hands to floe_ts_define, which copies
 * it. The name is one or more segments of [A-Za-z0-9_-] joined by ':'
 * ("host:traffic", "myplugin:latency"); each segment becomes a directory.
 * Tag values, in the order of the tags, name the series and its file.
 */
typedef struct floe_ts_schema {
    char name[FLOE_TS_NAME_MAX];
    char title[FLOE_TS_TITLE_MAX]; /* the chart title; "" means the name */
    uint32_t step_s;               /* 60, 300, 3600 or 86400 */
    unsigned n_tags;
    char tags[FLOE_TS_MAX_TAGS][FLOE_TS_TAG_MAX];
    unsigned n_metrics;
    floe_ts_metric metrics[FLOE_TS_MAX_METRICS];
    floe_ts_retention retention; /* n == 0: the store's default */
} floe_ts_schema;

/* Zeroes s and sets its name and step (0 means 60). Returns 0, or
 * FLOE_EINVAL with "schema name ..." or "schema step ..." in err. */
int floe_ts_schema_init(floe_ts_schema *s, const char *name, uint32_t step_s, char *err,
                        size_t errlen);
/* Appends a tag. Returns 0, or FLOE_EINVAL naming the tag in err. */
int floe_ts_schema_add_tag(floe_ts_schema *s, const char *tag, char *err, size_t errlen);
/* Appends a metric (unit and title may be NULL). Returns 0, or FLOE_EINVAL
 * naming the metric in err. */
int floe_ts_schema_add_metric(floe_ts_schema *s, const char *name, floe_ts_type type,
                              const char *unit, const char *title, char *err, size_t errlen);
/* Sets the retention from its string form. Returns 0 or FLOE_ECONFIG. */
int floe_ts_schema_set_retention(floe_ts_schema *s, const char *text, char *err, size_t errlen);
/*
 * Checks the whole schema: the name, the step, the tags (names unique), at
 * least one metric (names unique), the retention against the step. Returns
 * 0, or FLOE_EINVAL with a one-line reason that names the bad field
 * ("schema host:traffic: metric 2 'a b': ...") in err.
 */
int floe_ts_schema_validate(const floe_ts_schema *s, char *err, size_t errlen);

/* ---- tag values and file names ------------------------------------------- */

/*
 * Encodes one tag value as a file name component: [A-Za-z0-9.-] stay,
 * ':' becomes '_' (so IPv6 addresses stay readable: 2001_db8__1), every
 * other byte, and a leading '.', becomes %XX. The result is unique and
 * reversible. Values that are empty, longer than FLOE_TS_VALUE_MAX, or
 * "." or ".." are refused. Returns the length written (out gets up to
 * 3 * FLOE_TS_VALUE_MAX + 1 bytes), or FLOE_EINVAL.
 */
int floe_ts_tag_encode(const char *value, char *out, size_t outlen);
/* Reverses floe_ts_tag_encode over n bytes of in. Returns the length or
 * FLOE_EINVAL for a name that floe_ts_tag_encode cannot have made. */
int floe_ts_tag_decode(const char *in, size_t n, char *out, size_t outlen);
/*
 * The path of a series below the store's directory:
 * "<segment>/<segment>/<value>+<value>.rrd" (a schema without tags:
 * ".../_.rrd"). Returns the length, or FLOE_EINVAL (bad value; err says
 * which tag) or FLOE_ELIMIT (out too small).
 */
int floe_ts_series_path(const floe_ts_schema *s, const char *const *tag_values, char *out,
                        size_t outlen, char *err, size_t errlen);

/* ---- the store ----------------------------------------------------------- */

typedef struct floe_ts floe_ts;

typedef struct floe_ts_opts {
    const char *dir;          /* where the files live; created if missing */
    const char *retention;    /* default retention string; NULL: FLOE_TS_DEFAULT_RETENTION */
    const char *rrdcached;    /* "unix:/path", "/path" or "host:port"; NULL or "": write directly */
    size_t queue_max;         /* points waiting for the writer; also the backlog the
                                 write-back cache may hold beyond each series' batch
                                 (so at most queue_max + series * batch_steps); a
                                 series holds at most 1,024; 0: 1,000,000 */
    size_t series_max;        /* series the writer tracks at once; 0: 1,000,000 */
    uint32_t cleanup_age_s;   /* delete series files not written for this long; 0: never */
    int spread;               /* 1: spread each step's writes over the step */
    unsigned batch_steps;     /* steps of points held per series and written in one
                                 call; 0: 5 direct, 1 through rrdcached */
    unsigned graph_cache_s;   /* how long a drawn chart is reused; 0: 10 */
    unsigned graph_cache_max; /* charts kept; 0: 64 */
    unsigned shutdown_ms;     /* how long floe_ts_free may write before it saves the rest
                                 to <dir>/pending.journal (floe_ts_journal_load);
                                 0: no limit, everything is written */
} floe_ts_opts;

/* Fills o with the defaults above (dir "timeseries", spreading on). */
void floe_ts_opts_default(floe_ts_opts *o);

/*
 * Opens a store: checks the options, creates dir, connects to rrdcached when
 * one is set, and starts the writer thread. log must outlive the store; it
 * is used from the writer thread (floe_log is not locked: give the store its
 * own, or one whose only other user tolerates interleaved lines). Returns
 * the store, or NULL with a one-line reason naming the option in err.
 */
floe_ts *floe_ts_new(const floe_ts_opts *o, floe_log *log, char *err, size_t errlen);
/* Writes everything still queued or cached, stops the writer and frees the
 * store; NULL does nothing. With opts.shutdown_ms set, it writes for that
 * long and then appends the points not yet written to
 * <dir>/pending.journal, which floe_ts_journal_load queues again at the
 * next start. It logs its progress every 5 s. */
void floe_ts_free(floe_ts *ts);

/* The file the shutdown saves unwritten points to, under the store's dir. */
#define FLOE_TS_JOURNAL "pending.journal"

/*
 * Queues the points a previous run saved to <dir>/pending.journal, then
 * deletes the file. Call it once every schema is defined: a point whose
 * schema is gone, or has another number of metrics now, is counted as
 * rejected. Points the files already hold are skipped when written, as
 * always. Waits for the writer rather than drop when the queue is half
 * full. Returns the points queued (0 when there is no journal), or
 * FLOE_EIO with the reason in err, the file left in place.
 */
long floe_ts_journal_load(floe_ts *ts, char *err, size_t errlen);

/*
 * Registers a schema, or replaces the one of the same name (a plugin
 * reload): points already queued keep the definition they were queued
 * with. Thread-safe. Returns 0, FLOE_EINVAL with the reason in err (see
 * floe_ts_schema_validate), or FLOE_ELIMIT past 1,024 schemas.
 */
int floe_ts_define(floe_ts *ts, const floe_ts_schema *s, char *err, size_t errlen);
/* Copies the current definition of name into out (the retention filled in
 * with the default when the schema set none). Thread-safe. Returns 0 or
 * FLOE_ENOTFOUND. */
int floe_ts_schema_find(floe_ts *ts, const char *name, floe_ts_schema *out);
/* The i-th schema defined (0, 1, ...), as floe_ts_schema_find copies it.
 * Returns 0, or FLOE_ENOTFOUND past the last. Thread-safe. */
int floe_ts_schema_at(floe_ts *ts, size_t i, floe_ts_schema *out);

/*
 * Queues one point: the values of every metric, in the schema's order, for
 * the step that contains when_s; a point is stored at the end of its step,
 * so when_s = 12:00:37 and 12:01:00 both mean the minute ending 12:01:00.
 * A NaN value is unknown. Within one step, deltas add up and a gauge keeps
 * the last value. Only copies: no I/O, no waiting on the writer. Call it
 * from one producer thread at a time. When the queue holds queue_max points
 * the oldest are dropped and counted. Returns 0, FLOE_ENOTFOUND (no such
 * schema), or FLOE_EINVAL (n_values differs from the schema's metrics, or a
 * bad tag value); refused points are counted as rejected.
 */
int floe_ts_append(floe_ts *ts, const char *schema, const char *const *tag_values,
                   const double *values, unsigned n_values, int64_t when_s);
/*
 * Tells the writer that every point for steps up to when_s is in: it moves
 * the queue into its cache and starts writing the series that are due,
 * spread over the coming step when spreading is on. Never blocks.
 */
void floe_ts_step_end(floe_ts *ts, int64_t when_s);
/* Blocks until every point queued before the call is written, with no
 * spreading (replay's end, tests), even while the writer is held. Returns 0
 * (write errors are counted). */
int floe_ts_drain(floe_ts *ts);
/*
 * Holds the writer (on 1) or lets it go (on 0). While held it writes
 * nothing and takes nothing from the queue, which fills up to queue_max and
 * then drops its oldest points: e.g. while the directory is backed up.
 * Readers' flushes, drains and migrations are still served.
 */
void floe_ts_hold(floe_ts *ts, int on);

/* ---- reading (any thread; blocking) -------------------------------------- */

/*
 * Writes the points of one series stamped from from_s to to_s as JSON:
 * {"schema","tags":{...},"step","start","end","metrics":[...],
 *  "points":[[t,v1,v2...],...]} with null for unknown; start and end are
 * the first and last point's time (each point covers the step before it). The resolution is
 * the finest archive that covers from_s at no more than 1,500 points.
 * metrics is a comma-separated subset, or NULL for all. The series' cached
 * points are written first. Returns 0, FLOE_ENOTFOUND (schema or file),
 * FLOE_EINVAL (bad tags, range or metric; err says which), or FLOE_EIO.
 */
int floe_ts_fetch_json(floe_ts *ts, const char *schema, const char *const *tag_values,
                       int64_t from_s, int64_t to_s, const char *metrics, floe_buf *out, char *err,
                       size_t errlen);
/*
 * A group of series as one answer: tag_values gives every tag of the
 * schema but the last, and every series on disk with those values (at most
 * 256) becomes a column named by its last tag value, one metric each (the
 * first of metrics, default the schema's first): the 7 largest over the
 * range, then "other" for the sum of the rest. The JSON is that of
 * floe_ts_fetch_json with "group": the last tag's name, and "tags" without
 * it. Returns 0, FLOE_ENOTFOUND (no schema, no series), FLOE_EINVAL.
 */
int floe_ts_fetch_group_json(floe_ts *ts, const char *schema, const char *const *tag_values,
                             int64_t from_s, int64_t to_s, const char *metrics, floe_buf *out,
                             char *err, size_t errlen);
/*
 * Lists every schema (name, step, tags, metrics with type and unit,
 * retention) and, for each, up to max_series of its series' tag values
 * found on disk (0: 1,000), with "more": true when there were more. Writes
 * one JSON object through j. Returns 0 or FLOE_EIO.
 */
int floe_ts_list_json(floe_ts *ts, floe_json *j, size_t max_series);

/* ---- charts -------------------------------------------------------------- */

typedef enum floe_ts_format { FLOE_TS_PNG, FLOE_TS_SVG } floe_ts_format;

/* A chart request; floe_ts_graph_req_parse fills one from a query string's
 * pairs, and the defaults are those of floe_ts_graph_req_init. */
typedef struct floe_ts_graph_req {
    char schema[FLOE_TS_NAME_MAX];
    char tags[FLOE_TS_MAX_TAGS][FLOE_TS_VALUE_MAX + 1];
    char tag_keys[FLOE_TS_MAX_TAGS][FLOE_TS_TAG_MAX]; /* "" : by position */
    unsigned n_tags;
    int64_t from_s, to_s;   /* 0, 0: the last range_s seconds */
    uint32_t range_s;       /* default 1 day */
    char metrics[256];      /* comma-separated subset; "" all */
    int stacked;            /* 1: areas stacked; 0: lines */
    unsigned width, height; /* canvas pixels: 200..2000 x 80..1000 */
    int dark;               /* the dark theme */
    floe_ts_format format;
    char title[FLOE_TS_TITLE_MAX]; /* "" : the schema's title and the tags */
} floe_ts_graph_req;

void floe_ts_graph_req_init(floe_ts_graph_req *r);
/*
 * Reads n key/value pairs: schema, tags (values comma-separated in the
 * schema's order) or one key per tag name, from, to (epoch seconds),
 * range (a number and h, d, w, m (31 days) or y: 1h, 6h, 1d, 1w, 1m, 1y),
 * metrics, mode (lines|stacked), width, height, theme (light|dark),
 * format (png|svg), title. Tag-name keys are checked against the schema
 * by floe_ts_graph. Returns 0, or FLOE_EINVAL with a one-line reason naming
 * the bad key in err.
 */
int floe_ts_graph_req_parse(floe_ts_graph_req *r, const char *const *keys,
                            const char *const *values, size_t n, char *err, size_t errlen);
/*
 * Draws the chart into image (appended; the caller owns the buffer) and sets
 * *content_type to a static "image/png" or "image/svg+xml". Deltas are drawn
 * per second, bytes as bits per second; SI prefixes; a legend with each
 * metric's last, average and maximum. A request equal to one drawn within
 * graph_cache_s seconds is served from the cache. Charts are drawn one at a
 * time (librrd's graph code keeps static state). Returns 0,
 * FLOE_ENOTFOUND, FLOE_EINVAL (err says what) or FLOE_EIO.
 */
int floe_ts_graph(floe_ts *ts, const floe_ts_graph_req *req, floe_buf *image,
                  const char **content_type, char *err, size_t errlen);

/*
 * floe_ts_fetch_json for a parsed request (the HTTP handler's shortcut):
 * its schema, its tags by name or position, from/to or range, metrics;
 * with every tag but the last, floe_ts_fetch_group_json.
 * Returns what floe_ts_fetch_json returns; a bad tag key is FLOE_EINVAL
 * with "unknown key '...'" in err.
 */
int floe_ts_fetch_req_json(floe_ts *ts, const floe_ts_graph_req *req, floe_buf *out, char *err,
                           size_t errlen);

/* ---- files that predate the schema --------------------------------------- */

typedef struct floe_ts_migrate_result {
    uint64_t files_seen, files_migrated, files_same, files_failed;
} floe_ts_migrate_result;

/*
 * Rewrites a series file, or every .rrd file below a directory, to the
 * layout of schema s (its step, metrics and retention; s->retention.n == 0
 * keeps the retention of the store ts, or the default when ts is NULL),
 * keeping the data: the new file is filled from the old one's archives by
 * librrd (matching metrics by name, every archive resampled, maxima kept),
 * checked, and renamed over the old one, which is kept beside it as
 * "<name>.rrd.old" when keep_old is set. Files already in that layout are
 * left alone. With a running store, pass it as ts: its cached points for
 * the files are written first and the rewrite happens on its writer
 * thread; with ts NULL, floe must not be writing these files. Returns 0
 * (per-file failures are counted in res and the first is in err), or
 * FLOE_EINVAL / FLOE_ENOTFOUND / FLOE_EIO.
 */
int floe_ts_migrate(floe_ts *ts, const char *path, const floe_ts_schema *s, int keep_old,
                    floe_ts_migrate_result *res, char *err, size_t errlen);

/* ---- counters ------------------------------------------------------------ */

typedef struct floe_ts_stats {
    uint64_t points_queued;   /* accepted by floe_ts_append */
    uint64_t points_rejected; /* refused by floe_ts_append */
    uint64_t points_dropped;  /* queue or cache overflow: the oldest went */
    uint64_t points_written;  /* handed to librrd or rrdcached successfully */
    uint64_t points_skipped;  /* for a time at or before the file's last update */
    uint64_t points_failed;   /* lost to a write error */
    uint64_t updates;         /* rrd_update / rrdc_update calls that succeeded */
    uint64_t write_errors;
    uint64_t writes_busy; /* writes put off: the file was locked by another writer */
    uint64_t files_created;
    uint64_t files_mismatched; /* existing files whose layout differs from the schema */
    uint64_t cleanup_deleted;
    uint64_t graphs_rendered, graphs_cached;
    uint64_t points_journaled; /* saved to pending.journal by a shutdown's deadline */
    uint64_t points_restored;  /* queued from pending.journal at start */
    uint64_t queue_len;        /* points waiting now */
    uint64_t cached_points;    /* points in the write-back cache now */
    uint64_t series;           /* series tracked now */
    uint64_t backlog;          /* series due and not yet written */
    uint64_t steps;            /* step ends the writer has taken */
    double updates_per_s;      /* over the last completed step */
    char last_error[256];
} floe_ts_stats;

/* A consistent snapshot of the counters. Thread-safe. */
void floe_ts_stats_get(floe_ts *ts, floe_ts_stats *st);
/* The counters as one JSON object through j. */
void floe_ts_stats_json(floe_ts *ts, floe_json *j);
/* The counters in Prometheus text format, names prefixed floe_ts_. */
void floe_ts_stats_prometheus(floe_ts *ts, floe_buf *out);

#endif /* FLOE_RRD_H */
