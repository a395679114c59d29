/*
 * alerts: floe's alert store. The plugin engine pushes alert events from the
 * loop thread; push copies the event into a bounded queue and returns at
 * once (no lock held for long, no I/O). A writer thread commits the queue to
 * SQLite (<dir>/alerts.db, WAL) in batched transactions, merges repeats,
 * closes released alerts, prunes by age and row count in small batches, and
 * hands every stored event to the notification endpoints, each of which
 * delivers from its own bounded queue and thread. Exclusion rules are
 * checked inside push, so excluded events never reach the queue. Queries,
 * acknowledgements and deletes are blocking calls for worker threads; each
 * uses a read connection from a small pool, never the writer's. The schema,
 * the repeat rules, the notification body and the options are documented in
 * docs/alerts.md.
 */
#ifndef FLOE_ALERTS_H
#define FLOE_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ---- names -------------------------------------------------------------- */

enum floe_entity {
#define ENTITY(id, name) FLOE_ENTITY_##id,
#include "alerts/entity.def"
#undef ENTITY
    FLOE_ENTITY_COUNT
};

enum floe_severity {
#define SEVERITY(id, name, syslog) FLOE_SEV_##id,
#include "alerts/severity.def"
#undef SEVERITY
    FLOE_SEV_COUNT
};

enum floe_alert_kind {
    FLOE_ALERT_ENGAGE,
    FLOE_ALERT_RELEASE,
    FLOE_ALERT_ONESHOT,
    FLOE_ALERT_KIND_COUNT
};

/* Names from the .def lists; "?" for a value out of range. */
const char *floe_entity_name(int entity_type);
const char *floe_severity_name(int severity);
const char *floe_alert_kind_name(int kind); /* "engage", "release", "oneshot" */
/* Name to value (exact, lower case); -1 when unknown. */
int floe_entity_parse(const char *name);
int floe_severity_parse(const char *name);

/* ---- the event ---------------------------------------------------------- */

/*
 * One alert event, as the plugin engine hands it over. push copies all of
 * it, info included; the caller keeps ownership of everything it passes.
 * Strings are NUL-terminated within their arrays.
 */
typedef struct floe_alert {
    int kind;         /* enum floe_alert_kind */
    uint64_t when_ms; /* the engine's clock: wall time live, capture time in replay */
    char type[64];    /* namespaced "plugin.key", e.g. "flow_risk.tls_cert_expired" */
    char plugin[48];
    char check[48];  /* the check that raised it, "" if none */
    int entity_type; /* enum floe_entity */
    char entity[80]; /* "10.0.0.1", "10.0.0.0/8", "192.0.2.1/7" (exporter/ifIndex),
                      * "192.0.2.1", "floe"; flows: "cli:port -> srv:port/proto" */
    int severity;    /* enum floe_severity */
    uint32_t score;
    const char *info; /* a JSON object as text, or NULL; copied by push */
    /* flow alerts only (has_flow = 1) */
    int has_flow;
    floe_addr cli, srv;
    uint16_t cli_port, srv_port;
    uint8_t l4;   /* IP protocol number */
    char app[32]; /* nDPI name, e.g. "TLS.Google" */
    floe_addr exporter;
    uint64_t bytes, packets;
} floe_alert;

/* ---- notification endpoints --------------------------------------------- */

enum floe_endpoint_type { FLOE_ENDPOINT_WEBHOOK, FLOE_ENDPOINT_SYSLOG, FLOE_ENDPOINT_COMMAND };

/*
 * One notification endpoint, filled by the caller (the config) and copied
 * at open, strings and lists included. Start from
 * floe_alerts_endpoint_defaults(). An event goes to an endpoint when its
 * severity is at least min_severity and it passes every non-empty filter.
 */
typedef struct floe_alerts_endpoint {
    int type;                 /* enum floe_endpoint_type */
    const char *name;         /* for stats and metrics; NULL: "<type><index>" */
    const char *url;          /* webhook: http:// or https:// URL */
    const char *address;      /* syslog: "HOST:PORT" (UDP), "[V6]:PORT" for IPv6 */
    const char *command;      /* command: program and arguments; see docs/alerts.md */
    int min_severity;         /* default FLOE_SEV_WARNING */
    uint32_t entity_mask;     /* bit (1 << entity type); 0: all */
    const char *const *types; /* alert types; n_types 0: all */
    size_t n_types;
    const char *const *plugins; /* plugins; n_plugins 0: all */
    size_t n_plugins;
    uint32_t rate_per_min;   /* alerts sent per window (a minute); 0: no limit.
                              * Default 60 */
    uint32_t rate_window_ms; /* the rate's window; default 60000 (tests shorten it) */
    uint32_t queue_max;      /* alerts waiting for delivery; default 1024 */
    uint32_t batch_max;      /* webhook: alerts per POST; default 50 */
    uint32_t timeout_ms;     /* one delivery attempt; default 10000 */
    uint32_t retries;        /* attempts after the first; default 5 */
    uint32_t backoff_ms;     /* first retry delay, doubled each time; default 1000 */
    uint32_t backoff_max_ms; /* default 60000 */
    int facility;            /* syslog facility; default 16 (local0) */
} floe_alerts_endpoint;

void floe_alerts_endpoint_defaults(floe_alerts_endpoint *e, int type);

/* ---- the store ---------------------------------------------------------- */

typedef struct floe_alerts floe_alerts;

/*
 * Options. Start from floe_alerts_opts_defaults(); the comments give the
 * defaults. Strings and the endpoint array are copied at open.
 */
typedef struct floe_alerts_opts {
    const char *dir;            /* alerts.db lives here (created if missing) */
    uint32_t queue_max;         /* events queued for the writer; 65536 */
    size_t queue_max_bytes;     /* info bytes queued; 64 MiB */
    uint32_t info_max;          /* longer info JSON is replaced by a marker; 16384 */
    uint64_t repeat_window_ms;  /* one-shot repeats merge within this of raised; 300000 */
    uint32_t repeat_max;        /* one-shot keys remembered (LRU); 65536 */
    uint64_t max_age_s;         /* past alerts raised longer ago are pruned; 0: never.
                                 * 2592000 (30 days) */
    uint64_t max_rows;          /* past alerts beyond this are pruned, oldest first;
                                 * 0: no bound. 10000000 */
    uint32_t batch_max;         /* events per write transaction; 8192 */
    uint32_t prune_batch;       /* rows per prune transaction; 1000 */
    uint32_t prune_interval_ms; /* how often retention looks when idle; 1000 */
    uint32_t readers;           /* read connections for queries; 4 */
    uint32_t totals_cap;        /* rows counted for a query's totals; 100000 */
    /* The clock retention reads (ms since the epoch); NULL: floe_time_ms. */
    uint64_t (*clock_ms)(void *ud);
    void *clock_ud;
    const floe_alerts_endpoint *endpoints;
    size_t n_endpoints;
} floe_alerts_opts;

void floe_alerts_opts_defaults(floe_alerts_opts *o);

/*
 * Opens (or creates and migrates) <dir>/alerts.db, loads the persisted
 * exclusions and the engaged set, starts the writer and one thread per
 * endpoint. log (NULL: plain stderr) must outlive the store; push uses its
 * rate-limited variant from the caller's thread only, the other threads its
 * plain one. Returns
 * NULL with a one-line reason in err on failure.
 */
floe_alerts *floe_alerts_open(const floe_alerts_opts *o, floe_log *log, char *err, size_t errlen);

/*
 * Commits everything queued before the call, stops the writer, gives each
 * endpoint a last bounded attempt at what it holds (see docs/alerts.md),
 * and frees the store. NULL does nothing. Not from a thread that is inside
 * a query on this store.
 */
void floe_alerts_close(floe_alerts *s);

/*
 * Queues a copy of a (info included). Never blocks on I/O and never waits
 * for the writer beyond a short mutex. Returns 0 when queued, and also 0
 * when an exclusion rule matched (counted, not stored; releases are never
 * excluded, so a rule cannot strand an engaged alert); FLOE_ELIMIT when the
 * queue is full (counted as dropped, logged at a limited rate); FLOE_EINVAL
 * for an event whose kind, entity type or severity is out of range
 * (counted as invalid). Call it from one thread (the loop thread): the
 * rate-limited log it writes to is not shared with other threads.
 */
int floe_alerts_push(floe_alerts *s, const floe_alert *a);

/*
 * Blocks until everything pushed before the call is committed. While
 * writes fail (disk full) the writer keeps retrying and this keeps
 * waiting. For tests, benchmarks and shutdown paths; never from the loop
 * thread. Returns 0, or FLOE_EIO if a write error happened since open.
 */
int floe_alerts_flush(floe_alerts *s);

/* Test hook: while held, the writer takes nothing from the queue. */
void floe_alerts__hold(floe_alerts *s, int hold);

/*
 * Calls cb for every engaged alert in the database, oldest first, with the
 * stored row as an event (kind ENGAGE, when_ms = raised, info pointing into
 * a buffer valid during the call). For the plugin engine at start-up, to
 * restore its engaged set before it pushes anything. cb returns non-zero to
 * stop. Blocking. Returns 0 or FLOE_EIO.
 */
typedef int (*floe_alerts_engaged_cb)(void *ud, int64_t id, const floe_alert *a);
int floe_alerts_engaged(floe_alerts *s, floe_alerts_engaged_cb cb, void *ud);

/* ---- exclusions --------------------------------------------------------- */

typedef struct floe_cidr {
    floe_addr addr; /* masked to its prefix */
    uint8_t bits;   /* prefix length over the 128-bit (v4-mapped) address */
} floe_cidr;

/* Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128).
 * Returns 0 or FLOE_EINVAL. */
int floe_cidr_parse(floe_cidr *c, const char *text);
int floe_cidr_contains(const floe_cidr *c, const floe_addr *a);

/*
 * An exclusion rule. It matches an event when type is "*" or equal to the
 * event's type, plugin is "" or equal, and every non-empty list matches
 * (AND across lists, OR within one): hosts holds a CIDR containing the host
 * (host alerts), either endpoint (flow alerts) or the network (network
 * alerts, which it must contain whole); apps a name equal to the flow's
 * application or to either half of a "master.app" name (case-insensitive);
 * exporters the flow's exporter, the exporter of an exporter or interface
 * alert. A rule with no list excludes the type outright. Owned arrays:
 * release with floe_alert_rule_close.
 */
typedef struct floe_alert_rule {
    char type[64];
    char plugin[48];
    floe_cidr *hosts;
    size_t n_hosts;
    char (*apps)[32];
    size_t n_apps;
    floe_addr *exporters;
    size_t n_exporters;
} floe_alert_rule;

/*
 * Parses a rule from JSON text (n bytes), e.g.
 * {"type":"*","hosts":["10.0.0.0/8"],"apps":["DNS"],"exporters":["192.0.2.1"]}.
 * "type" is required. Returns 0, or FLOE_EINVAL with a one-line error naming
 * the bad field in err; r is then empty (closing it is still safe).
 */
int floe_alert_rule_parse(floe_alert_rule *r, const char *json, size_t n, char *err, size_t errlen);
void floe_alert_rule_close(floe_alert_rule *r);
/* Writes the rule as the JSON object floe_alert_rule_parse reads. */
void floe_alert_rule_json(const floe_alert_rule *r, floe_json *j);
int floe_alert_rule_matches(const floe_alert_rule *r, const floe_alert *a);

/*
 * Adds a copy of rule r. persist = 1 stores it in the database as well
 * (blocking: not from the loop thread), so it is loaded at every open;
 * persist = 0 is for rules from the config. *id_out (may be NULL) gets the
 * rule's id: the row id for persisted rules, a negative id for the others.
 * Returns 0, FLOE_ENOMEM or FLOE_EIO. Safe beside push on another thread.
 */
int floe_alerts_exclusion_add(floe_alerts *s, const floe_alert_rule *r, int persist,
                              int64_t *id_out);
/* Removes rule id (and its row). Returns 0, FLOE_ENOTFOUND or FLOE_EIO. */
int floe_alerts_exclusion_remove(floe_alerts *s, int64_t id);
/* Writes [{"id":..,"persist":..,"excluded":N,"rule":{...}}, ...]. */
void floe_alerts_exclusion_list_json(floe_alerts *s, floe_json *j);
/* 1 when a rule matches a (and counts it against that rule), else 0.
 * Cheap: push calls it; without rules it reads one atomic. */
int floe_alerts_excluded(floe_alerts *s, const floe_alert *a);

/* ---- queries ------------------------------------------------------------ */

enum floe_alert_state { FLOE_STATE_ENGAGED, FLOE_STATE_PAST, FLOE_STATE_ALL };

/*
 * A filter over stored alerts; floe_alert_query_init sets "everything,
 * newest first, 50 a page, with totals". value matches the entity: an
 * address matches alerts about that host, network base, exporter or
 * interface's exporter, and flow alerts with it as either endpoint; a CIDR
 * matches the same by range; any other text matches the entity exactly.
 */
typedef struct floe_alert_query {
    int64_t id;       /* > 0: only this alert */
    int state;        /* enum floe_alert_state */
    int severity;     /* -1: any */
    int severity_min; /* 1: severity or above; 0: exactly */
    int entity_type;  /* -1: any */
    char value[96];   /* "": any */
    char type[64];    /* "": any */
    char plugin[48];  /* "": any */
    int ack;          /* -1: any; 0: not acknowledged; 1: acknowledged */
    uint64_t from_ms; /* raised at or after; 0: open */
    uint64_t to_ms;   /* raised at or before; 0: open */
    uint32_t limit;   /* at most 1000 */
    uint32_t offset;
    int totals; /* 1: count the matching set by severity */
} floe_alert_query;

void floe_alert_query_init(floe_alert_query *q);

/*
 * Sets one key of q from its text value: id, state (engaged|past|all),
 * severity (NAME for exactly, "NAME;gte" or min_severity=NAME for at
 * least), entity (an entity type), value, type, plugin, ack (yes|no|all),
 * from and to (ms; since is from), limit, offset, totals (0|1). Returns 0
 * or FLOE_EINVAL with a one-line error naming the key (unknown keys too).
 */
int floe_alert_query_set(floe_alert_query *q, const char *key, const char *value, char *err,
                         size_t errlen);
/*
 * Fills q through get(ud, key), which returns a key's value or NULL, for
 * every key floe_alert_query_set knows. Returns 0 or FLOE_EINVAL with the
 * error of the first bad key.
 */
typedef const char *(*floe_alert_query_get)(void *ud, const char *key);
int floe_alert_query_parse(floe_alert_query *q, floe_alert_query_get get, void *ud, char *err,
                           size_t errlen);

/*
 * Appends to out {"alerts":[alert...],"limit":L,"offset":O,"totals":T}, T
 * being null when q->totals is 0, else {"total":N,"capped":bool,
 * "by_severity":{"debug":n,...}}; capped means the matching set holds more
 * than opts.totals_cap rows and the counts cover the first totals_cap + 1
 * of them. The alert object is documented in docs/alerts.md. Blocking and
 * thread-safe. Returns 0, or FLOE_EIO / FLOE_ENOMEM with a reason in err.
 */
int floe_alerts_query_json(floe_alerts *s, const floe_alert_query *q, floe_buf *out, char *err,
                           size_t errlen);

/* Acknowledges alert id (again: the newest who and time win). Blocking,
 * thread-safe. Returns 0, FLOE_ENOTFOUND or FLOE_EIO. */
int floe_alerts_ack(floe_alerts *s, int64_t id, const char *who, uint64_t when_ms);
/* Deletes alert id. Returns 0, FLOE_ENOTFOUND or FLOE_EIO. */
int floe_alerts_delete(floe_alerts *s, int64_t id);
/* Deletes every alert matching q (limit and offset ignored) in transactions
 * of opts.prune_batch rows, so the writer is never held off for long; *n
 * (may be NULL) gets the count. Returns 0 or FLOE_EIO. */
int floe_alerts_delete_where(floe_alerts *s, const floe_alert_query *q, uint64_t *n);

/* ---- stats -------------------------------------------------------------- */

typedef struct floe_alerts_stats {
    uint64_t queued; /* events pushed and not yet committed */
    uint64_t queue_max;
    uint64_t queue_peak;
    uint64_t pushed;            /* events accepted into the queue */
    uint64_t inserted;          /* new rows */
    uint64_t merged;            /* repeats folded into an existing row */
    uint64_t released;          /* engaged rows closed */
    uint64_t release_unmatched; /* releases with no engaged row */
    uint64_t excluded;
    uint64_t dropped; /* queue full */
    uint64_t invalid; /* rejected by push */
    uint64_t lost;    /* given up after write errors at close */
    uint64_t batches; /* write transactions committed */
    uint64_t pruned;  /* rows removed by retention */
    uint64_t write_errors;
    uint64_t rows;        /* rows in the database (kept by the writer) */
    char last_error[160]; /* "" when none */
} floe_alerts_stats;

void floe_alerts_stats_get(floe_alerts *s, floe_alerts_stats *st);
/* Writes the stats as an object, with "endpoints":[...] (per endpoint:
 * name, type, sent, failed, retried, suppressed, queued, dropped,
 * last_error) and "exclusions":{"rules":n,"excluded":n}. */
void floe_alerts_stats_json(floe_alerts *s, floe_json *j);
/* Appends Prometheus text: counts per severity and type, queue depth,
 * drops, rows written, the write rate and the endpoint counters. */
void floe_alerts_metrics(floe_alerts *s, floe_buf *out);

#endif /* FLOE_ALERTS_H */
