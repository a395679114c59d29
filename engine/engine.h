/*
 * engine: everything floe does with export datagrams, whoever delivers
 * them. The config, the exporter table, the ingest pipeline (detect,
 * decode, count), the tables, the scheduler that drives periodic work, and
 * the one engine object that owns and wires them: `floe run` feeds it from
 * UDP sockets on wall time, `floe replay` and the fuzz harness from
 * captures on the capture's time, and all of them get the same pipeline.
 *
 * Everything here runs on one thread (the loop's, in the daemon); nothing
 * locks. The engine depends on decoders/, tables/, plugins/ and util/, and
 * nothing here knows about sockets, HTTP or the command line.
 */
#ifndef FLOE_ENGINE_H
#define FLOE_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "alerts/alerts.h"
#include "decoders/decoders.h"
#include "plugins/plugins.h"
#include "tables/tables.h"
#include "util/util.h"

struct floe_alert;

/* ---- config ------------------------------------------------------------ */

/*
 * The whole configuration. Every member has a key in the schema in
 * config.c, a default, and a line in etc/floe.conf.lua. Strings are owned
 * by the struct and released by floe_config_free.
 */
typedef struct floe_config {
    char **listen; /* "ADDR:PORT" */
    size_t n_listen;
    char **listen_tcp; /* "ADDR:PORT": IPFIX over TCP; none by default */
    size_t n_listen_tcp;
    uint32_t tcp_max_connections;
    uint32_t tcp_idle_timeout;  /* s */
    uint32_t tcp_stall_timeout; /* s */
    char *web;                  /* "ADDR:PORT", or "" for no web server */
    char *data_dir;
    char **plugin_dirs;
    size_t n_plugin_dirs;
    int log_level;      /* enum floe_log_level */
    int log_syslog;     /* 0: stderr, 1: syslog */
    uint32_t log_burst; /* messages per call site per minute, for packet-driven logs */
    uint32_t rcvbuf;    /* SO_RCVBUF request, bytes */
    uint32_t max_exporters;
    uint32_t template_timeout; /* s */
    uint32_t max_templates_per_exporter;
    uint32_t max_templates;
    int tables_enabled;        /* 0: decode and count only */
    floe_tables_opts tables;   /* flows, hosts, interfaces, local_networks, dpi */
    char *builtin_plugins;     /* "" for the installed (or source tree's) built-ins; "none" */
    char *checks;              /* per-check settings: a JSON object {"plugin.check": {...}} */
    uint32_t lua_memory_mb;    /* per plugin */
    uint32_t lua_instructions; /* per call */
    uint32_t lua_failures;     /* in a row, before a check is disabled */
    uint32_t lua_cpu_share;    /* percent of the loop's time */
    const char *only_plugin;   /* not a config key: `floe plugin test` loads one plugin */
    int offline_stores;        /* not a config key: an offline engine keeps alerts and
                                * timeseries in data_dir too (`floe replay --data`) */
    char *web_password;        /* "" : FLOE_ADMIN_PASSWORD, else the stored or a random one */
    char *web_token;           /* "" : FLOE_API_TOKEN, else no bearer access */
    char *web_tls_cert;        /* PEM file; with web_tls_key, HTTPS */
    char *web_tls_key;
    uint32_t web_session_ttl; /* s a login lasts */
    int alerts_enabled;       /* keep alerts in <data_dir>/alerts.db */
    uint32_t alerts_queue_max;
    uint32_t alerts_repeat_window; /* s */
    uint32_t alerts_max_age;       /* days; 0: no bound */
    uint32_t alerts_max_rows;      /* 0: no bound */
    char **alert_exclusions;       /* rules, each a JSON object (floe_alert_rule_parse) */
    size_t n_alert_exclusions;
    floe_alerts_endpoint *alert_endpoints; /* strings and lists owned */
    size_t n_alert_endpoints;
    int ts_enabled;          /* RRD files in <data_dir>/timeseries */
    char *ts_retention;      /* the default retention string */
    char *ts_host_retention; /* the per-host schemas' */
    char **ts_retentions;    /* "schema=retention" */
    size_t n_ts_retentions;
    uint32_t ts_queue_max;    /* points */
    uint32_t ts_host_apps;    /* host:ndpi series per local host, its largest apps */
    uint32_t ts_cleanup_age;  /* days; 0: never */
    uint32_t ts_shutdown_max; /* seconds a shutdown writes before it journals; 0: no limit */
    char *rrdcached;          /* "" : write directly */
    char *ch_url;             /* clickhouse.*: "" : no history export */
    char *ch_database, *ch_user, *ch_password, *ch_instance, *ch_cluster;
    uint32_t ch_interval;       /* s between a long flow's rows */
    uint32_t ch_batch_rows;     /* rows per INSERT */
    uint32_t ch_batch_interval; /* s a row waits for its INSERT at most */
    uint32_t ch_queue_max;      /* rows in memory */
    uint32_t ch_spool_max;      /* MiB */
    uint32_t ch_retention;      /* days; 0: keep */
    uint32_t ch_timeout;        /* s */
    int ch_alerts;              /* export alerts too */
} floe_config;

/* The per-host schemas' default retention: a day of minutes, a week of
 * hours and a year of days, 63 KiB a file of two metrics (the store's
 * default would take 1.1 MiB a host over three schemas). */
#define FLOE_CONFIG_HOST_RETENTION "1m:1d,1h:1w,1d:1y"

/* The retention configured for a schema: timeseries.retentions, else
 * timeseries.host_retention for "host:*", else NULL (the store's default). */
const char *floe_config_retention(const floe_config *cfg, const char *name);

/* Fills cfg with the built-in defaults. Returns 0 or FLOE_ENOMEM. */
int floe_config_defaults(floe_config *cfg);
/*
 * Loads a Lua config file over the defaults. The file runs in the sandbox
 * (plugins.h): no io, os or require; it sets globals, which must all be
 * known keys of the right type. Returns 0, or a negative code with a
 * one-line reason in err.
 */
int floe_config_load(floe_config *cfg, const char *path, char *err, size_t errlen);
/* The same, from a string (tests). name is used in messages. */
int floe_config_load_string(floe_config *cfg, const char *text, const char *name, char *err,
                            size_t errlen);
void floe_config_free(floe_config *cfg);
/* Checks cross-key rules (endpoint syntax, limits). 0 or FLOE_ECONFIG + err. */
int floe_config_validate(const floe_config *cfg, char *err, size_t errlen);
/* Replaces the list in (*list, *n) with a copy of items. */
int floe_config_set_list(char ***list, size_t *n, char *const *items, size_t n_items);
int floe_config_add_list(char ***list, size_t *n, const char *item);
int floe_config_set_str(char **dst, const char *src);
/* Writes every key, its type, default and doc as commented Lua (the example
 * config is checked against this in the tests). */
void floe_config_describe(floe_buf *out);

/* ---- counters ---------------------------------------------------------- */

/* What every protocol, exporter and total counts: the members come from
 * counters.def, then one counter per reject reason. */
typedef struct floe_counters {
#define COUNTER(name, from, summary, help) uint64_t name;
#include "engine/counters.def"
#undef COUNTER
    uint64_t reason[FLOE_REASON_COUNT];
} floe_counters;

/* Adds one datagram's results (a datagram, and each STATS counter). */
void floe_counters_add_stats(floe_counters *c, const floe_dec_stats *st);
void floe_counters_add(floe_counters *dst, const floe_counters *src);
/* Writes every counter as "name": value, then "malformed_reasons": {...}
 * with the reasons seen, into the open object. */
void floe_counters_json(floe_json *j, const floe_counters *c);
/* The same with the summary's names, for the keys that have one. */
void floe_counters_summary_json(floe_json *j, const floe_counters *c);
/* Writes "malformed_reasons": {reason: count, ...} for the reasons seen. */
void floe_counters_reasons_json(floe_json *j, const floe_counters *c);
/* Prometheus: for each counter, floe_<name>_total with the HELP and TYPE
 * lines once and one sample per (label text, counters) pair given. */
void floe_counters_metrics(floe_buf *b, const char *const *labels, const floe_counters *const *cs,
                           size_t n);
/* The counter named name in c, or NULL. */
const uint64_t *floe_counters_find(const floe_counters *c, const char *name);

/* ---- exporters --------------------------------------------------------- */

typedef struct floe_exporter_key {
    floe_addr addr;  /* datagram source address */
    floe_addr agent; /* sFlow agent address; zero for the others */
    uint32_t domain; /* v5 engine, v9 source id, IPFIX domain, sFlow sub-agent */
    uint32_t proto;
    uint32_t session; /* 0 over UDP; a stream's own number over TCP (RFC 7011
                       * §8: templates belong to one transport session) */
} floe_exporter_key;

typedef struct floe_exporter {
    floe_hnode node;    /* by key */
    floe_hnode id_node; /* by id */
    floe_list lru;      /* least recently seen first */
    floe_exporter_key key;
    uint64_t id; /* unique for the life of the table; what records carry */
    uint64_t first_seen_ms, last_seen_ms;
    uint32_t next_seq;
    int seq_known;
    floe_counters c;
    floe_dec_exporter dec;
    uint64_t mark[4]; /* datagrams, records, malformed, lost at the last timeseries step */
} floe_exporter;

/*
 * The exporter table. Bounded by max: when a new exporter arrives at the
 * bound, the least recently seen one is evicted with its templates, and
 * evictions counts it. Ids are never reused by one table, so a record or
 * flow that names an evicted exporter's id finds nothing, never another.
 */
typedef struct floe_exporters {
    floe_hmap map, by_id;
    floe_list lru;
    size_t max;
    uint64_t next_id;
    uint64_t evictions;
    floe_decoders *dec;
} floe_exporters;

int floe_exporters_init(floe_exporters *t, size_t max, floe_decoders *dec);
void floe_exporters_close(floe_exporters *t);
/* Finds or creates the exporter; NULL only on allocation failure. */
floe_exporter *floe_exporters_get(floe_exporters *t, const floe_exporter_key *k, uint64_t now_ms);
floe_exporter *floe_exporters_find(floe_exporters *t, const floe_exporter_key *k);
/* The exporter with that id, or NULL if it is gone. */
floe_exporter *floe_exporters_by_id(floe_exporters *t, uint64_t id);
/* Lowers or raises the bound, evicting down to it. */
void floe_exporters_set_max(floe_exporters *t, size_t max);
/*
 * Applies one datagram's results: counters, last seen and the sequence. A
 * forward jump counts a gap and the units lost; a backward jump resyncs.
 */
void floe_exporter_account(floe_exporter *ex, const floe_hdr *h, const floe_dec_stats *st,
                           uint64_t now_ms, floe_counters *gaps_out);
/* Removes every exporter of a stream session, templates and all (RFC
 * 7011 §8: a closed session's templates are gone). Returns how many. */
size_t floe_exporters_remove_session(floe_exporters *t, uint32_t session);
/* Walks the exporters, least recently seen first. */
#define FLOE_EXPORTERS_FOREACH(t, ex)                                                              \
    for (floe_list *it_ = (t)->lru.next;                                                           \
         it_ != &(t)->lru && ((ex) = FLOE_CONTAINER_OF(it_, floe_exporter, lru)); it_ = it_->next)

/* ---- ingest ------------------------------------------------------------ */

/*
 * Detect the protocol, parse the header, find the exporter, decode, count.
 * Records go to out, each naming its exporter by id.
 */
typedef struct floe_ingest {
    floe_decoders dec;
    floe_exporters exporters;
    floe_counters proto[FLOE_PROTO_COUNT];
    floe_counters unknown; /* datagrams no decoder recognised */
    floe_sink out;
    floe_log *log;
    uint64_t now_ms; /* receive time of the datagram being decoded */
} floe_ingest;

int floe_ingest_init(floe_ingest *ing, const floe_config *cfg, floe_log *log);
void floe_ingest_close(floe_ingest *ing);
/* Applies the limits of a reloaded config. */
void floe_ingest_reconfigure(floe_ingest *ing, const floe_config *cfg);
void floe_ingest_datagram(floe_ingest *ing, const floe_addr *src, uint16_t sport, const uint8_t *p,
                          size_t n, uint64_t now_ms);
/* The same for one message of a stream session (an exporter key's session;
 * 0 is UDP's). */
void floe_ingest_message(floe_ingest *ing, const floe_addr *src, uint16_t sport, uint32_t session,
                         const uint8_t *p, size_t n, uint64_t now_ms);
/* Counts something that never became a datagram (a stream that cannot be
 * framed): under proto's counters, or the unknown bucket for proto < 0. */
void floe_ingest_reject(floe_ingest *ing, int proto, int reason);
/* Expires idle templates. */
void floe_ingest_sweep(floe_ingest *ing, uint64_t now_ms);
/* Sum over all protocols and the unknown bucket. */
void floe_ingest_totals(const floe_ingest *ing, floe_counters *out);

/* ---- capture files: pcap, pcapng and IPFIX ------------------------------ */

typedef struct floe_pcap_stats {
    uint64_t frames;
    uint64_t udp;
    uint64_t skipped;           /* not UDP over IPv4/IPv6 */
    uint64_t fragments;         /* IP fragments seen */
    uint64_t reassembled;       /* datagrams rebuilt from them */
    uint64_t fragments_dropped; /* fragments of datagrams never completed (timeout, bound, bad) */
    uint64_t ipfix_messages;    /* messages read from IPFIX files */
    uint64_t ipfix_junk_bytes;  /* IPFIX file bytes that could not be framed as messages */
} floe_pcap_stats;

/* Fragments of at most this many datagrams wait at once; a datagram whose
 * fragments are not all in within FLOE_FRAG_TIMEOUT_MS of capture time
 * after its first is dropped (and so are the older ones, past the bound). */
#define FLOE_FRAG_PENDING    64
#define FLOE_FRAG_TIMEOUT_MS 30000

/* payload is valid only during the call (libpcap reuses its buffer). */
typedef void (*floe_pcap_cb)(void *ud, const floe_addr *src, uint16_t sport, const uint8_t *payload,
                             size_t len, uint64_t ts_ms);
/*
 * Calls cb for every export datagram in a capture file, which is told by
 * its content:
 *   - pcap or pcapng: every UDP payload. Handles Ethernet (with VLAN tags),
 *     Linux cooked v1 and v2, raw IP, and BSD loopback; IPv4 and IPv6
 *     fragments are reassembled (bounded, see above).
 *   - an IPFIX file (RFC 5655: IPFIX messages one after another, as YAF
 *     and ipfixDump write them): every message, from 0.0.0.0 port 0, at
 *     its export time.
 * Returns 0, or a negative code with a one-line reason in err.
 */
int floe_pcap_read(const char *path, floe_pcap_cb cb, void *ud, floe_pcap_stats *st, char *err,
                   size_t errlen);
/* The same from an open file, which it closes; name is for messages. */
int floe_capture_read(FILE *f, const char *name, floe_pcap_cb cb, void *ud, floe_pcap_stats *st,
                      char *err, size_t errlen);

/* ---- the scheduler ----------------------------------------------------- */

/* The periods (FLOE_PERIOD_*) are util.h's. */
/* Called once per period boundary crossed: boundary_ms is the end of the
 * period that just ran (a multiple of its length, in UTC). */
typedef void (*floe_sched_fn)(void *ud, int period, uint64_t boundary_ms);

/*
 * Fires each period's tick when the clock crosses one of its boundaries.
 * The clock is whatever the caller advances it with: wall time live,
 * capture time in a replay, so a replay ticks as the daemon would have.
 * The first advance only sets the clock. A jump over many boundaries (a
 * gap in a capture, a suspended machine) fires at most FLOE_SCHED_CATCHUP
 * ticks per period, the latest ones, and counts the rest as skipped.
 */
#define FLOE_SCHED_CATCHUP 5
typedef struct floe_sched {
    uint64_t now_ms;                     /* 0 until the first advance */
    uint64_t ticks[FLOE_PERIOD_COUNT];   /* fired */
    uint64_t skipped[FLOE_PERIOD_COUNT]; /* jumped over */
    floe_sched_fn fn;
    void *ud;
} floe_sched;

void floe_sched_init(floe_sched *s, floe_sched_fn fn, void *ud);
/* Moves the clock to now_ms (never backwards) and fires what is due. */
void floe_sched_advance(floe_sched *s, uint64_t now_ms);

/* ---- the loop's turns -------------------------------------------------- */

/*
 * How busy the daemon's event loop is. A turn is the work between two of
 * its waits for events: reading exports, the tables' upkeep, timers, web
 * requests. While a turn runs, exports wait in the socket buffers, so a
 * long one is what overflows them. The daemon reports each turn (its
 * prepare handle, just before the loop waits) with the monotonic clock and
 * libuv's total time spent waiting; both in nanoseconds.
 */
#define FLOE_LOOP_WINDOW_NS 10000000000ULL /* 10 s */
typedef struct floe_loop_stats {
    uint64_t turns;
    uint64_t busy_ns, idle_ns; /* since the first turn */
    uint64_t longest_ns;       /* the longest turn since start */
    uint64_t longest_at_ms;    /* when it ended, wall clock */
    uint64_t step_longest_ns;  /* the longest since the timeseries last took it */
    struct {
        uint64_t start_ns, span_ns, turns, busy_ns, longest_ns;
    } cur, last;                        /* the running 10 s window and the one before it */
    uint64_t prev_now_ns, prev_idle_ns; /* the previous report; 0: none yet */
} floe_loop_stats;

/* Counts the turn that ends now; returns its busy time in nanoseconds. */
uint64_t floe_loop_turn(floe_loop_stats *s, uint64_t now_ns, uint64_t idle_ns, uint64_t wall_ms);
/* The busy share in percent (0-100) of the last complete window, or of the
 * running one before any has completed; and the longest turn of the
 * running window and the last, so of the last 10 to 20 seconds. */
unsigned floe_loop_busy_pct(const floe_loop_stats *s);
uint64_t floe_loop_recent_longest_ns(const floe_loop_stats *s);

/* ---- the engine -------------------------------------------------------- */

/*
 * Something that delivers datagrams and reports on itself: a UDP listener
 * in the daemon, or a TCP one (datagrams then counts IPFIX messages). The
 * engine keeps a list of them for the status API.
 */
typedef struct floe_source {
    floe_list link;
    const char *name; /* "[::]:2055" */
    uint64_t datagrams;
    int rcvbuf; /* bytes granted, as the kernel reports it (twice the request) */
    /* Datagrams the kernel dropped on it, or 0 if unknown. */
    uint64_t (*drops)(const struct floe_source *s);
    const char *transport; /* "tcp"; NULL for UDP */
    /* Adds the source's own figures to its status object; may be NULL. */
    void (*describe)(const struct floe_source *s, floe_json *j);
} floe_source;

enum floe_engine_mode {
    FLOE_ENGINE_LIVE,    /* the daemon: wall clock */
    FLOE_ENGINE_OFFLINE, /* a replay or a test: the capture's clock */
};

struct floe_ts;
struct floe_history;
struct floe_engine_history;

/* Where the engine's alert events and timeseries points go besides the
 * stores: a replay records alerts for its report, a test inspects both.
 * Either may be NULL. */
typedef struct floe_engine_tap {
    void (*alert)(void *ud, const struct floe_alert *a);
    void (*ts)(void *ud, const char *schema, const char *const *tag_values, const double *values,
               size_t n_values, uint64_t when_s);
    void *ud;
} floe_engine_tap;

/* The built-in timeseries' state (engine/series.c). */
typedef struct floe_series {
    int64_t step_s; /* the step being written (its end, s) */
    size_t slot;    /* the walk's next slot: interfaces, then hosts */
    int walking;    /* the walk of step_s is under way */
    struct {
        uint64_t bytes, records, drops, malformed, alerts, lua_ns, loop_busy_ns, loop_idle_ns;
    } mark;
    uint64_t points, steps, late; /* late: walks still going at the next tick */
} floe_series;

typedef struct floe_engine {
    const floe_config *cfg; /* borrowed: the caller keeps it alive and calls
                             * floe_engine_reconfigure when it changes */
    floe_log *log;
    uv_loop_t *loop; /* for work that reports back; may be NULL offline */
    int mode;        /* enum floe_engine_mode */
    floe_ingest ing;
    floe_tables tables;
    int tables_on;
    floe_sched sched;
    uint64_t now_ms; /* the engine's clock: latest advance */
    uint64_t start_ms;
    floe_list sources; /* floe_source, by link */
    uint64_t reloads, reload_errors;
    floe_plugins *plugins; /* NULL with the tables off */
    floe_alerts *alerts;   /* the alert store; NULL: none */
    floe_engine_tap tap;
    struct floe_ts *ts; /* the timeseries store; NULL: none */
    floe_log ts_log;    /* the store's own (its writer thread logs) */
    floe_series series;
    uint64_t n_alerts;                /* alert events raised */
    uint32_t next_session;            /* the last stream session number given out */
    struct floe_history *history;     /* the ClickHouse export; NULL: none */
    struct floe_engine_history *hist; /* its flow marks (engine/history.c) */
    floe_loop_stats loop_stats;       /* the daemon's loop; all zero offline */
} floe_engine;

/*
 * Builds the engine from cfg: ingest, and, unless tables.enabled is false,
 * the tables and the plugins (the built-ins and cfg->plugin_dirs; live, a
 * plugin that fails to load is disabled with its reason and the rest run).
 * Returns 0, or a negative code with a one-line reason in err (after which
 * floe_engine_close is still safe).
 */
int floe_engine_init(floe_engine *e, const floe_config *cfg, floe_log *log, uv_loop_t *loop,
                     int mode, uint64_t now_ms, char *err, size_t errlen);
/* Ends every flow, then frees everything. */
void floe_engine_close(floe_engine *e);
/* Applies a reloaded config (the same struct, changed in place). */
void floe_engine_reconfigure(floe_engine *e);
/*
 * One datagram received at now_ms. Its records enter the tables' pipeline;
 * p must stay valid until floe_engine_batch_end (sFlow records point into
 * it), which the caller calls before the buffer is reused.
 */
void floe_engine_datagram(floe_engine *e, const floe_addr *src, uint16_t sport, const uint8_t *p,
                          size_t n, uint64_t now_ms);
void floe_engine_batch_end(floe_engine *e);
/* Moves the engine's clock on: scheduler ticks, template expiry. */
void floe_engine_advance(floe_engine *e, uint64_t now_ms);
/* The tables' upkeep in a slice of at most budget steps at now_ms (see
 * floe_tables_housekeep), and a slice of the plugins' periodic work (all of
 * it offline); returns the steps taken, more than budget while periodic
 * work remains. */
size_t floe_engine_housekeep(floe_engine *e, uint64_t now_ms, size_t budget);
/* The end of the input (a replay's last capture, a shutdown): catches the
 * hosts up and ends every flow, so hooks see every flow end. */
void floe_engine_finish(floe_engine *e);
/* Closes every handle the engine holds on its loop (the plugins' file
 * watchers), so the loop can end; call it when the daemon stops. */
void floe_engine_release_loop(floe_engine *e);
/* Reloads the plugins whose files changed (all with force). Returns how
 * many failed, keeping their running versions. */
int floe_engine_reload_plugins(floe_engine *e, int force);
void floe_engine_add_source(floe_engine *e, floe_source *s);
void floe_engine_remove_source(floe_engine *e, floe_source *s);
/* A timeseries point to the store and the tap (plugins' and built-ins'). */
void floe_engine_ts_append(floe_engine *e, const char *schema, const char *const *tag_values,
                           const double *values, size_t n, uint64_t when_s);
/* The system entity's counters (the plugins' and the built-in series'). */
void floe_engine_system(floe_engine *e, floe_plugin_system *out);
/* An exporter id's address; 0, or FLOE_ENOTFOUND once it was evicted. */
int floe_engine_exporter_addr(floe_engine *e, uint64_t id, floe_addr *out);

/* ---- the history export (engine/history.c) ----------------------------------- */

/* Opens the exporter (clickhouse.*) and taps the tables' flowEnd and
 * periodic events: a row per flow at its end and every clickhouse.interval
 * seconds while it lasts. 0, or a negative code with the reason in err. */
int floe_engine_history_open(floe_engine *e, char *err, size_t errlen);
/* Sends or spools what is queued and closes the exporter. Safe without one. */
void floe_engine_history_close(floe_engine *e);
/* An alert event to the history, when clickhouse.alerts is on. */
void floe_engine_history_alert(floe_engine *e, const struct floe_alert *a);

/* ---- the built-in timeseries (engine/series.c) ----------------------------- */

/* Registers the built-in schemas with e->ts. 0 or an error naming one. */
int floe_series_define(floe_engine *e, char *err, size_t errlen);
/* A minute ended at boundary_ms: writes the small tables at once and starts
 * the host walk (offline: the whole walk). */
void floe_series_tick(floe_engine *e, uint64_t boundary_ms);
/* A slice of the host walk; 1 while more remains. */
int floe_series_run(floe_engine *e);
/* The end of the input: finishes the walk; offline, writes the last
 * (partial) minute too. */
void floe_series_finish(floe_engine *e);
/* {"builtin_points", "builtin_steps", "builtin_late", "store": {...}}. */
void floe_series_json(floe_engine *e, floe_json *j);

/* ---- streams: IPFIX over TCP (RFC 7011 §10.4) ------------------------------ */

/* The longest IPFIX message: its length field is 16 bits. */
#define FLOE_IPFIX_MAX_MESSAGE 65535u
#define FLOE_IPFIX_HEADER      16u

/*
 * Frames the IPFIX message at the start of p[0..n). Returns its length
 * when all of it is there, 0 when more bytes are needed, or a negative
 * FLOE_R_* reason when the bytes cannot start a message: -FLOE_R_BAD_FRAMING
 * for another version, -FLOE_R_BAD_LENGTH for a length below the header's.
 * Shared by TCP sessions and IPFIX files (RFC 5655), which are the same
 * stream of messages.
 */
long floe_ipfix_frame(const uint8_t *p, size_t n);

/*
 * One IPFIX-over-TCP connection: an exporter session of its own (its
 * exporters carry its session number, so its templates are its own), and
 * its receive buffer. The buffer starts at FLOE_STREAM_BUF_MIN and grows
 * only as far as the message at its head needs, to FLOE_STREAM_BUF_MAX at
 * most: no peer can make floe hold more than that per connection.
 */
#define FLOE_STREAM_BUF_MIN 16384u
#define FLOE_STREAM_BUF_MAX 65536u

typedef struct floe_stream {
    floe_addr src;
    uint16_t sport;
    uint32_t session;
    uint8_t *buf;
    size_t len, cap;
    uint64_t opened_ms, last_ms; /* last_ms: when bytes last arrived */
    uint64_t partial_ms;         /* when the unfinished message at the head began; 0 if none */
    uint64_t messages, bytes;
} floe_stream;

/* Why a stream ends, for the listeners' counters. */
enum floe_stream_end {
    FLOE_STREAM_EOF,     /* the peer closed at a message boundary */
    FLOE_STREAM_CUT,     /* the peer closed in the middle of a message */
    FLOE_STREAM_GARBAGE, /* bytes that cannot be framed as IPFIX */
    FLOE_STREAM_STALLED, /* a message unfinished past the stall timeout */
    FLOE_STREAM_IDLE,    /* nothing received for the idle timeout */
    FLOE_STREAM_ERROR,   /* a read error */
    FLOE_STREAM_CLOSED,  /* floe closed it (reload, shutdown) */
    FLOE_STREAM_END_COUNT
};
/* "eof", "cut", "garbage", "stalled", "idle", "error", "closed". */
const char *floe_stream_end_name(int end);

/* Opens a session for a connection from src. Returns 0 or FLOE_ENOMEM. */
int floe_engine_stream_open(floe_engine *e, floe_stream *s, const floe_addr *src, uint16_t sport,
                            uint64_t now_ms);
/* Where the next bytes go: at *p, *room of them (never 0 on an open stream). */
void floe_engine_stream_buffer(floe_stream *s, uint8_t **p, size_t *room);
/*
 * n bytes were written where floe_engine_stream_buffer said. Every complete
 * message goes through ingest as a datagram of this session would; the
 * tables' pipeline is drained before the buffer moves. Returns 0, or
 * FLOE_EFORMAT when the stream cannot be framed (already counted under
 * its reason): the caller closes it.
 */
int floe_engine_stream_data(floe_engine *e, floe_stream *s, size_t n, uint64_t now_ms);
/* FLOE_STREAM_STALLED or FLOE_STREAM_IDLE if the stream has outlived a
 * timeout (ms; 0 for none), else -1. */
int floe_stream_expired(const floe_stream *s, uint64_t now_ms, uint64_t idle_ms, uint64_t stall_ms);
/* Ends the session: its exporters and templates go; the buffer is freed. */
void floe_engine_stream_close(floe_engine *e, floe_stream *s);

#endif /* FLOE_ENGINE_H */
