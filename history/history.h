/*
 * history: flows, and optionally alerts, kept in ClickHouse for as long as
 * the operator wants, and the queries that read them back. Many floe
 * instances may write into one ClickHouse cluster (docs/scale-out.md).
 *
 * The export side is a writer thread. The loop hands it one row at a time
 * (floe_history_add_flow, floe_history_add_alert): the row is encoded at once in
 * ClickHouse's RowBinary format into a pending block under a short lock,
 * so the loop never waits on the network or the disk. The thread sends a
 * block when it holds batch_rows rows or its first row has waited
 * batch_ms, gzip-compressed, as one INSERT over ClickHouse's HTTP
 * interface (libcurl). A block that cannot be sent (the server is down,
 * slow past timeout_ms, or refuses it) goes to a spool of files in
 * spool_dir, bounded by spool_max bytes; while the spool holds anything,
 * new blocks join its tail, and the thread replays it head first when the
 * server answers again, so rows reach ClickHouse in the order they were
 * made. Rows past queue_max in memory, or past the spool's bound, are
 * dropped and counted. Delivery is at least once: a block whose INSERT
 * succeeded but whose answer was lost is sent again.
 *
 * floe creates its database and tables when they are missing (MergeTree
 * partitioned by day, ordered by hour and endpoints), records the schema
 * version in <database>.floe_schema, and applies retention_days: as a
 * table TTL on servers that have it (19.6 and later), else by dropping
 * day partitions older than that, hourly. With a cluster name, floe's
 * tables are <name>_local on the server it talks to and <name> is a
 * Distributed table over the cluster, which inserts and queries use.
 *
 * The query side is blocking calls for worker threads. A request's
 * filters are parsed into typed values first (addresses by
 * floe_addr_parse, numbers as numbers, names against a strict character
 * set): anything else is refused with a reason, before any SQL exists.
 * The SQL is built from floe's own rendering of those typed values
 * (hex address bytes, decimal numbers, names that cannot hold a quote),
 * so no text a client sent ever reaches ClickHouse. (Server-side query
 * parameters came with ClickHouse 19.x, after Debian 12's 18.16.)
 *
 * Everything here may be called from the loop thread except the query
 * calls, which block, and floe_history_close, which waits for the thread.
 */
#ifndef FLOE_HISTORY_H
#define FLOE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

typedef struct floe_history floe_history;

/* The schema version this floe writes (recorded in floe_schema). */
#define FLOE_HISTORY_SCHEMA   1
#define FLOE_HISTORY_NAME_MAX 64 /* instance, cluster and database names */

/* Strings are copied by floe_history_open. */
typedef struct floe_history_opts {
    const char *url;      /* ClickHouse's HTTP interface: "http://127.0.0.1:8123" */
    const char *database; /* [A-Za-z0-9_]+, created if missing */
    const char *user;     /* "" : no credentials sent */
    const char *password;
    const char *instance; /* this floe's name in every row: [A-Za-z0-9._-]+ */
    const char *cluster;  /* "" : plain tables; else a Distributed table over it */
    const char *spool_dir;
    uint32_t batch_rows;     /* rows per INSERT at most */
    uint32_t batch_ms;       /* how long a row waits for its block at most */
    uint32_t queue_max;      /* rows waiting in memory; past it they are dropped */
    uint64_t spool_max;      /* bytes of spool files; past it blocks are dropped */
    uint32_t retention_days; /* 0: keep everything */
    int apply_retention;     /* 0: leave the tables' TTL and partitions alone (a replay
                              * of old captures must not prune, nor move the TTL) */
    uint32_t timeout_ms;     /* one HTTP request, connection included */
    int alerts;              /* also create and fill the alerts table */
} floe_history_opts;

void floe_history_opts_defaults(floe_history_opts *o);

/* 1 when s is a name floe accepts for an instance, cluster or filter value:
 * 1 to FLOE_HISTORY_NAME_MAX characters of [A-Za-z0-9._-], or, with
 * ident set, [A-Za-z0-9_] only (a database). */
int floe_history_name_ok(const char *s, int ident);
/* Checks the options (url scheme, names); 0 or FLOE_ECONFIG with a one-line
 * reason naming the clickhouse.* key in err. */
int floe_history_opts_check(const floe_history_opts *o, char *err, size_t errlen);

/*
 * Starts the writer thread. Nothing here touches the network or the disk:
 * the thread creates the spool folder and the tables, and retries while
 * the server is away, so floe starts whether ClickHouse is up or not.
 * Returns NULL with a one-line reason in err (bad options, no memory, no
 * thread).
 */
floe_history *floe_history_open(const floe_history_opts *o, floe_log *log, char *err,
                                size_t errlen);
/*
 * Sends what is pending (or spools it when the server does not answer
 * within min(timeout_ms, 5 s)), stops the thread and frees h. The spool is
 * left for the next start to replay. Safe on NULL.
 */
void floe_history_close(floe_history *h);

/* ---- rows ----------------------------------------------------------------- */

/*
 * One flow row: a flow's traffic since its previous row (or its start),
 * written when it ends and every export interval while it lasts. Index 0 of
 * the two-way arrays is client to server. Strings are borrowed for the call
 * (NULL reads as "") and cut at 255 bytes.
 */
typedef struct floe_history_flow {
    uint64_t time_ms;  /* the latest traffic the row covers */
    uint64_t first_ms; /* the flow's first record */
    floe_addr exporter;
    uint32_t in_if, out_if; /* of the client-to-server direction */
    uint16_t vlan;
    uint8_t proto; /* IP protocol */
    uint8_t final; /* 1 on the flow's last row: sums of it count flows */
    floe_addr client, server;
    uint16_t client_port, server_port;
    const char *app;      /* "TLS.Google" */
    const char *category; /* "Web" */
    uint64_t bytes[2], packets[2];
    uint16_t tcp_flags[2];
    uint32_t client_as, server_as;
    uint16_t score;
    const char *const *statuses; /* keys, "plugin.status" */
    size_t n_statuses;           /* at most 32 are kept */
} floe_history_flow;

/* One alert event. Strings are borrowed for the call (NULL reads as ""). */
typedef struct floe_history_alert {
    uint64_t time_ms;
    const char *kind; /* "engaged", "released", "oneshot" */
    const char *type, *check, *entity_type, *entity, *severity;
    uint32_t score;
    const char *info;         /* JSON text, cut at 16 KiB */
    floe_addr client, server; /* zero without a flow */
    uint16_t client_port, server_port;
    uint8_t proto;
    const char *app;
} floe_history_alert;

/*
 * Queues a row for the writer (loop thread; never blocks on I/O). Returns
 * 0, or FLOE_ELIMIT when the memory queue is full (the row is dropped and
 * counted), or FLOE_EINVAL for an alert when alerts are off.
 */
int floe_history_add_flow(floe_history *h, const floe_history_flow *row);
int floe_history_add_alert(floe_history *h, const floe_history_alert *row);

/* ---- counters --------------------------------------------------------------- */

typedef struct floe_history_stats {
    uint64_t exported;   /* rows inserted as they came */
    uint64_t spooled;    /* rows written to the spool */
    uint64_t replayed;   /* rows inserted from the spool */
    uint64_t dropped;    /* rows lost: memory queue or spool full, or refused for good */
    uint64_t queued;     /* rows waiting in memory now */
    uint64_t batches;    /* INSERTs that succeeded */
    uint64_t errors;     /* requests that failed */
    uint64_t bytes_sent; /* compressed bytes of the INSERTs that succeeded */
    uint64_t spool_files, spool_bytes;
    int connected;           /* the last request succeeded */
    int ttl;                 /* retention is a table TTL (else partitions are dropped) */
    char server_version[32]; /* "" until known */
    char last_error[200];
} floe_history_stats;

void floe_history_stats_get(floe_history *h, floe_history_stats *out);
/* Writes the counters as an object (the status API's "history"). */
void floe_history_stats_json(floe_history *h, floe_json *j);
/* floe_history_<name>_total counters and gauges, Prometheus text. */
void floe_history_metrics(floe_history *h, floe_buf *b);

/* ---- queries (blocking: worker threads only) -------------------------------- */

enum floe_history_group {
    FLOE_HIST_BY_HOST,
    FLOE_HIST_BY_APP,
    FLOE_HIST_BY_CATEGORY,
    FLOE_HIST_BY_PORT, /* the server port */
    FLOE_HIST_BY_PROTO,
    FLOE_HIST_BY_EXPORTER,
    FLOE_HIST_BY_AS,
    FLOE_HIST_BY_INSTANCE,
    FLOE_HIST_GROUPS
};
enum floe_history_metric { FLOE_HIST_BYTES, FLOE_HIST_PACKETS, FLOE_HIST_FLOWS };

/* A request's range and filters, as typed values. */
typedef struct floe_history_query {
    uint64_t from_s, to_s; /* [from, to), Unix seconds */
    int has_net;           /* host= or net=: either endpoint in [net_lo, net_hi] */
    floe_addr net_lo, net_hi;
    int has_exporter;
    floe_addr exporter;
    int32_t port;                             /* either endpoint's port; -1: any */
    int32_t proto;                            /* IP protocol; -1: any */
    int64_t as;                               /* either endpoint's AS; -1: any */
    char app[FLOE_HISTORY_NAME_MAX + 1];      /* "" : any */
    char category[FLOE_HISTORY_NAME_MAX + 1]; /* "" : any */
    char instance[FLOE_HISTORY_NAME_MAX + 1]; /* "" : any */
    char status[128];                         /* a status key; "" : any */
    int group;                                /* enum floe_history_group */
    int metric;                               /* enum floe_history_metric: what top sorts by */
    uint32_t limit;                           /* rows (flows) or groups (top) */
    uint32_t buckets;                         /* of the top's time histogram, 0: none */
} floe_history_query;

/*
 * Parses a request's query arguments into q: from, to (Unix seconds, or
 * "-3600" for an hour before now_s; default the last hour), host (an
 * address) or net (ADDR/BITS), port, proto, as, app, category, exporter
 * (an address), instance, status, group (host, app, category, port,
 * proto, exporter, as, instance), by (bytes, packets, flows), limit
 * (1..10000; default 100 flows, 10 groups) and buckets (0..1000; default
 * 60). An unknown or repeated key, or a value outside its type, is
 * FLOE_EINVAL with a one-line reason naming the key in err.
 */
int floe_history_query_parse(floe_history_query *q, const char *const *keys,
                             const char *const *values, size_t n, uint64_t now_s, char *err,
                             size_t errlen);
/* The SQL a query runs (for tests and the debug log): the flows list, the
 * top-N, or the histogram. Returns 0 or FLOE_ENOMEM. */
enum { FLOE_HIST_SQL_FLOWS, FLOE_HIST_SQL_TOP, FLOE_HIST_SQL_HISTOGRAM };
int floe_history_sql(floe_history *h, const floe_history_query *q, int which, floe_buf *out);
/*
 * Runs a query against ClickHouse and writes the JSON answer into out:
 * {"flows": [...]} for floe_history_flows_json, {"group", "by", "top":
 * [...], "histogram": {...}} for floe_history_top_json. Returns 0, or
 * FLOE_EIO with the server's or the transport's reason in err.
 */
int floe_history_flows_json(floe_history *h, const floe_history_query *q, floe_buf *out, char *err,
                            size_t errlen);
int floe_history_top_json(floe_history *h, const floe_history_query *q, floe_buf *out, char *err,
                          size_t errlen);

#endif /* FLOE_HISTORY_H */
