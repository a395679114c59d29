/*
 * collector: the floe daemon around the decoders. The config loader, the
 * exporter table, the ingest pipeline that both `floe run` and `floe decode`
 * push datagrams through, the pcap reader, the UDP listeners and the libuv
 * loop with its signals and timers. All of this state lives on the loop
 * thread; nothing here locks.
 */
#ifndef FLOE_COLLECTOR_H
#define FLOE_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "decoders/decoders.h"
#include "util/util.h"

/* ---- config ------------------------------------------------------------ */

/*
 * The whole configuration. Every member has a key in the schema in
 * config.c, a default, and a line in etc/floe.conf.lua. Strings are owned
 * by the struct and released by floe_config_free.
 */
typedef struct floe_config {
    char **listen;          /* "ADDR:PORT" */
    size_t n_listen;
    char *web;              /* "ADDR:PORT", or "" for no web server */
    char *data_dir;
    char **plugin_dirs;
    size_t n_plugin_dirs;
    int log_level;          /* enum floe_log_level */
    int log_syslog;         /* 0: stderr, 1: syslog */
    uint32_t log_burst;     /* messages per call site per minute, for packet-driven logs */
    uint32_t rcvbuf;        /* SO_RCVBUF request, bytes */
    uint32_t max_exporters;
    uint32_t template_timeout;          /* s */
    uint32_t max_templates_per_exporter;
    uint32_t max_templates;
    int tables_enabled;     /* 0: decode and count only */
    uint32_t max_flows;
    uint32_t flow_idle_timeout;         /* s */
    uint32_t max_hosts;
    uint32_t max_interfaces;
    char **local_networks;
    size_t n_local_networks;
    int dpi_enabled;
    uint32_t dpi_max_states;
    uint32_t dpi_packets;   /* sampled packets per flow before nDPI gives up */
    uint32_t dpi_max_rate;  /* sampled packets dissected per second, at most */
} floe_config;

/* Fills cfg with the built-in defaults. Returns 0 or FLOE_ENOMEM. */
int floe_config_defaults(floe_config *cfg);
/*
 * Loads a Lua config file over the defaults. The file runs with no io, os or
 * require; it sets globals, which must all be known keys of the right type.
 * Returns 0, or a negative code with a one-line reason in err.
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

typedef struct floe_counters {
    uint64_t datagrams, records, options_records;
    uint64_t bytes, packets, bytes_total, packets_total;
    uint64_t templates, options_templates, withdrawals, missing_template;
    uint64_t counter_samples, sflow_drops, sflow_discards;
    uint64_t malformed, dropped;
    uint64_t seq_gaps;   /* times the sequence jumped forward */
    uint64_t lost;       /* records (v5, IPFIX) or datagrams (v9, sFlow) lost */
    uint64_t seq_resets; /* times the sequence went backwards */
    uint64_t reason[FLOE_REASON_COUNT];
} floe_counters;

void floe_counters_add_stats(floe_counters *c, const floe_dec_stats *st);
/* Writes "malformed_reasons": {reason: count, ...} for the reasons seen. */
void floe_counters_reasons_json(floe_json *j, const floe_counters *c);
void floe_counters_add(floe_counters *dst, const floe_counters *src);

/* ---- exporters --------------------------------------------------------- */

typedef struct floe_exporter_key {
    floe_addr addr;  /* datagram source address */
    floe_addr agent; /* sFlow agent address; zero for the others */
    uint32_t domain; /* v5 engine, v9 source id, IPFIX domain, sFlow sub-agent */
    uint32_t proto;
} floe_exporter_key;

typedef struct floe_exporter {
    floe_hnode node;
    floe_list lru; /* least recently seen first */
    floe_exporter_key key;
    uint64_t id;   /* unique for the life of the process */
    uint64_t first_seen_ms, last_seen_ms;
    uint32_t next_seq;
    int seq_known;
    floe_counters c;
    floe_dec_exporter dec;
} floe_exporter;

/*
 * The exporter table. Bounded by max: when a new exporter arrives at the
 * bound, the least recently seen one is evicted with its templates, and
 * evictions counts it.
 */
typedef struct floe_exporters {
    floe_hmap map;
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
/* Lowers or raises the bound, evicting down to it. */
void floe_exporters_set_max(floe_exporters *t, size_t max);
/*
 * Applies one datagram's results: counters, last seen and the sequence. A
 * forward jump counts a gap and the units lost; a backward jump resyncs.
 */
void floe_exporter_account(floe_exporter *ex, const floe_hdr *h, const floe_dec_stats *st,
                           uint64_t now_ms, floe_counters *gaps_out);
#define floe_exporters_foreach(t, ex) \
    for (floe_list *it_ = (t)->lru.next; \
         it_ != &(t)->lru && ((ex) = FLOE_CONTAINER_OF(it_, floe_exporter, lru)); it_ = it_->next)

/* ---- ingest ------------------------------------------------------------ */

/*
 * The pipeline shared by the daemon and `floe decode`: detect the protocol,
 * parse the header, find the exporter, decode, count. Records go to out.
 */
typedef struct floe_ingest {
    floe_decoders dec;
    floe_exporters exporters;
    floe_counters proto[FLOE_PROTO_COUNT];
    floe_counters unknown; /* datagrams no decoder recognised */
    floe_sink out;
    floe_log *log;
    uint64_t now_ms;       /* receive time of the datagram being decoded */
} floe_ingest;

int floe_ingest_init(floe_ingest *ing, const floe_config *cfg, floe_log *log);
void floe_ingest_close(floe_ingest *ing);
/* Applies the limits of a reloaded config. */
void floe_ingest_reconfigure(floe_ingest *ing, const floe_config *cfg);
void floe_ingest_datagram(floe_ingest *ing, const floe_addr *src, uint16_t sport,
                          const uint8_t *p, size_t n, uint64_t now_ms);
/* Expires idle templates. */
void floe_ingest_sweep(floe_ingest *ing, uint64_t now_ms);
/* Sum over all protocols and the unknown bucket. */
void floe_ingest_totals(const floe_ingest *ing, floe_counters *out);

/* ---- nDPI --------------------------------------------------------------- */

typedef struct floe_dpi floe_dpi;

/* An application label: nDPI protocol ids and category. */
typedef struct floe_app_label {
    uint16_t app;      /* nDPI protocol id, 0 = Unknown */
    uint16_t master;   /* e.g. TLS for TLS.Google; 0 when none */
    uint16_t category; /* nDPI category id */
} floe_app_label;

/* One detection module; at most max_states flows dissected at once. */
floe_dpi *floe_dpi_new(size_t max_states);
void floe_dpi_free(floe_dpi *d);
/* nDPI's guess from protocol, ports and its IP lists (about 250 ns). */
void floe_dpi_guess(floe_dpi *d, uint8_t ipproto, const floe_addr *src, uint16_t sport,
                    const floe_addr *dst, uint16_t dport, floe_app_label *out);
/*
 * The same guess in two cached halves, as the tables use it: the service
 * an address belongs to in nDPI's IP lists (0 if none; looked up once per
 * host), and the protocol a server port suggests (computed once per
 * protocol and port). floe_dpi_compose joins them as nDPI would: TLS.Google.
 */
uint16_t floe_dpi_ip_app(floe_dpi *d, const floe_addr *a);
void floe_dpi_port_label(floe_dpi *d, uint8_t ipproto, uint16_t port, floe_app_label *out);
void floe_dpi_compose(floe_dpi *d, const floe_app_label *port, uint16_t ip_app,
                      floe_app_label *out);
/*
 * Feeds one sampled packet header (sFlow header_protocol proto: 1 Ethernet,
 * 11 IPv4, 12 IPv6) into the flow's detection state *state, created on first
 * use. Returns 1 (or 2 after give_up) when out was filled, 0 when not yet,
 * -1 when no state could be had (bound reached). With give_up, or once
 * detected by give-up, the state is released. -2: nothing to dissect (no
 * payload, or not IP), and no state was made.
 */
int floe_dpi_packet(floe_dpi *d, void **state, const uint8_t *hdr, size_t n, uint32_t proto,
                    uint64_t ts_ms, int give_up, floe_app_label *out);
void floe_dpi_release(floe_dpi *d, void **state);
/* Labels from an nDPI protocol id or name; 0 or FLOE_ENOTFOUND. */
int floe_dpi_by_id(floe_dpi *d, uint32_t id, floe_app_label *out);
int floe_dpi_by_name(floe_dpi *d, const char *name, floe_app_label *out);
const char *floe_dpi_app_name(floe_dpi *d, uint16_t id);
const char *floe_dpi_category_name(floe_dpi *d, uint16_t category);
size_t floe_dpi_states(const floe_dpi *d);
size_t floe_dpi_state_size(const floe_dpi *d);
uint64_t floe_dpi_refusals(const floe_dpi *d);

/* ---- tables ------------------------------------------------------------ */

/* Flow events, each a hook point for plugins (hooks.def). */
enum floe_flow_event {
#define HOOK(id, name) FLOE_EV_##id,
#include "collector/hooks.def"
#undef HOOK
    FLOE_EV_COUNT
};
const char *floe_flow_event_name(int ev);

enum floe_app_source {
    FLOE_APP_NONE,     /* not labelled yet */
    FLOE_APP_GUESS,    /* nDPI's guess from ports and IP lists */
    FLOE_APP_DPI,      /* nDPI dissection of sampled packets */
    FLOE_APP_EXPORTER, /* the exporter said so (IE 95, nProbe L7) */
};
const char *floe_app_source_name(int src);

enum floe_end_reason { FLOE_END_IDLE, FLOE_END_EXPORTER, FLOE_END_EVICTED, FLOE_END_SHUTDOWN };

/* A conversation: both directions of (exporter, VLAN, protocol, endpoints).
 * Endpoints are stored in canonical order (a < b); cli_is_a says which one
 * is the client. Index 0 of the two-way arrays is client-to-server. */
typedef struct floe_flow_key {
    floe_addr a, b;
    uint16_t port_a, port_b;
    uint16_t vlan;
    uint8_t ipproto;
    uint8_t pad;
    uint64_t exporter; /* floe_exporter.id */
} floe_flow_key;

struct floe_host;

typedef struct floe_flow {
    /* Laid out by use: the first 64 bytes are what a lookup reads, the next
     * 128 what a record writes, the rest what flow creation, the end, the
     * API and plugins read. */
    floe_hnode node;
    floe_flow_key key;
    uint64_t last_ms;            /* when floe saw the last record */
    uint64_t bytes[2], packets[2];  /* scaled by the sampling rate */
    uint64_t pend_bytes[2];      /* not yet added to the hosts, interfaces, networks */
    uint32_t records;
    uint16_t tcp_flags[2];
    uint64_t pend_pkts[2];
    uint64_t dirty_pos;          /* in the tables' flush queue while pend_* is not zero; 0 not */
    uint64_t dirty_ms;           /* when it joined the dirty list */
    uint32_t ifs[2][2];          /* [direction][0 input, 1 output] ifIndex, 0 unknown */
    uint32_t sampling;
    uint8_t cli_is_a;
    uint8_t dir_certain;         /* client decided by a SYN, not by ports */
    uint8_t app_source;          /* enum floe_app_source */
    uint8_t tos;
    uint64_t lru_pos;            /* in the eviction order, by queued_ms (see floe_tables) */
    uint64_t queued_ms;          /* last_ms when the flow took its place there */
    struct floe_host *host[2];   /* client, server; NULL if the host table was full */
    uint64_t first_ms;           /* when floe saw the first record */
    floe_app_label app;
    uint16_t score;              /* filled by plugins */
    uint8_t dpi_packets;
    uint8_t pad[3];
    uint32_t cli_latency_us, srv_latency_us;
    uint32_t retrans[2];
    void *dpi;                   /* nDPI state while dissecting sampled headers */
    void *status;                /* plugin status set; NULL until a plugin sets one */
} floe_flow;

#define FLOE_HOST_TOP_APPS 8

typedef struct floe_host {
    floe_hnode node;
    floe_list lru;         /* on the idle list while no flow refers to it */
    floe_addr addr;
    uint64_t first_ms, last_ms;
    uint64_t bytes_sent, bytes_rcvd, pkts_sent, pkts_rcvd;
    uint64_t flows_client, flows_server; /* totals */
    uint32_t active_client, active_server;
    uint32_t score;
    int32_t net;           /* index of its local network, -1 if not local */
    uint16_t ip_app;       /* nDPI service of its address (IP lists), 0 if none */
    struct {
        uint16_t app;
        uint64_t bytes;
    } top[FLOE_HOST_TOP_APPS]; /* approximate top applications (space-saving) */
} floe_host;

typedef struct floe_iface {
    floe_hnode node;
    floe_list lru;
    uint64_t exporter; /* floe_exporter.id */
    uint32_t ifindex;
    uint64_t last_ms;
    uint64_t bytes_in, bytes_out, pkts_in, pkts_out; /* from flow records, scaled */
    int has_counters;      /* sFlow counter samples seen */
    uint64_t counters_ms;
    floe_ifcounters counters;
} floe_iface;

typedef struct floe_net {
    char name[48];         /* as configured, e.g. "10.0.0.0/8" */
    floe_addr prefix;
    uint8_t bits;          /* prefix length over the 128-bit form */
    uint64_t bytes_in, bytes_out, bytes_inner;
    uint64_t pkts_in, pkts_out, pkts_inner;
    uint64_t hosts;        /* hosts in the table now */
} floe_net;

/* Called for each flow event; the flow is valid only during the call. */
typedef struct floe_flow_hooks {
    void (*event)(void *ud, int ev, floe_flow *f);
    void *ud;
} floe_flow_hooks;

typedef struct floe_tables_stats {
    uint64_t records;          /* records applied */
    uint64_t records_skipped;  /* without addresses */
    uint64_t flows_created, flows_ended;
    uint64_t flows_idle, flows_exporter_end, flow_evictions;
    uint64_t host_evictions, host_full; /* host_full: no slot, every host had flows */
    uint64_t iface_evictions;
    uint64_t dpi_packets, dpi_detected;
    uint64_t dpi_over_budget;  /* samples not dissected: past dpi.max_rate */
    uint64_t dpi_no_payload;   /* samples with no payload to dissect */
    uint64_t labels[4];        /* flows labelled, by enum floe_app_source */
} floe_tables_stats;

/*
 * The flow, host, interface and network tables. Bounded: flows.max flows,
 * hosts.max hosts, interfaces.max interfaces. Eviction policy:
 *   - flows: a flow ends after flows.idle_timeout s without records, or when
 *     a record's end reason says the exporter saw it end (3 end of flow
 *     detected, 4 forced end). A new flow at the bound evicts the least
 *     recently updated flow, which ends as "evicted". The order is kept
 *     lazily: a record does not move its flow in the order (that would touch
 *     two neighbours' cache lines per record); a flow found at the head
 *     with records newer than its place is moved to the tail then. The
 *     order is a ring of twice flows.max places; flows that ended early
 *     (by end reason) leave holes in it, and should holes ever fill it,
 *     the flow at the head moves to the tail keeping its place in time,
 *     so it is idle-checked one round later.
 *   - hosts: a host no flow refers to goes on an idle list; a new host at the
 *     bound evicts the least recently seen idle host. When every host has
 *     live flows the new host is not tracked (host_full counts it).
 *   - interfaces: least recently updated first.
 * All of it lives on the loop thread.
 */
#define FLOE_APPNAMES_MAX 16384 /* exporter application names kept */
#define FLOE_PIPE_LEN 64         /* room in the tables' record pipeline, a power of two */
struct pipe_entry;

typedef struct floe_tables {
    floe_pool flow_pool, host_pool, iface_pool, appname_pool;
    floe_hmap flows, hosts, ifaces, appnames;
    floe_fifo flow_lru;  /* flows, oldest queued_ms first */
    floe_list host_idle, host_busy, iface_lru, appname_lru;
    floe_fifo dirty;     /* flows whose counters the hosts and networks lack */
    size_t n_dirty;
    uint64_t victim_ahead[3]; /* flow_lru positions prefetched, by step */
    uint64_t dirty_ahead[2];  /* dirty positions prefetched, by step */
    floe_net *nets;
    size_t n_nets;
    floe_dpi *dpi;
    uint64_t idle_timeout_ms;
    uint32_t dpi_max_packets;
    uint32_t dpi_max_rate;
    uint32_t dpi_used;         /* dissections in the current second */
    uint64_t dpi_second;       /* that second, ms / 1000 */
    uint8_t well_known[8192];  /* a bit per port: a service port marks the server */
    floe_tables_stats st;
    struct pipe_entry *pipe;  /* FLOE_PIPE_LEN entries */
    size_t pipe_head, pipe_tail, pipe_len;
    floe_flow_hooks hooks;
    floe_log *log;
} floe_tables;

int floe_tables_init(floe_tables *t, const floe_config *cfg, floe_log *log, char *err,
                     size_t errlen);
void floe_tables_close(floe_tables *t);
/* Applies one decoded record at time now_ms. */
void floe_tables_record(floe_tables *t, const floe_record *r, uint64_t now_ms);
/*
 * The same through a short pipeline that prefetches each record's flow and
 * hosts before applying it, a few dozen records later: much faster on a busy
 * table. A pushed record is copied; its sampled header is not, so it must
 * stay valid until floe_tables_drain, which applies every record still in
 * the pipeline (call it before the datagrams' buffer is reused, and before
 * anything reads the tables).
 */
void floe_tables_push(floe_tables *t, const floe_record *r, uint64_t now_ms);
void floe_tables_drain(floe_tables *t, uint64_t now_ms);
/* Applies an sFlow counter sample. */
void floe_tables_ifcounters(floe_tables *t, const floe_ifcounters *c, uint64_t now_ms);
/* Learns an exporter's name for an application id (IE 95 + 96 options), so
 * its records label as the nDPI protocol of that name. Bounded by
 * FLOE_APPNAMES_MAX, least recently learnt evicted. */
void floe_tables_appname(floe_tables *t, const floe_appname *a);
/*
 * Adds what every flow counted since its last flush to its hosts, top
 * applications, interfaces and networks. A record updates only its flow;
 * the rest catch up here (all at once: reports, shutdown) or in
 * floe_tables_housekeep (a second after, in slices, live).
 */
void floe_tables_flush(floe_tables *t);
/*
 * The live table upkeep in a slice of at most budget steps: flushes flows
 * that have waited FLOE_FLUSH_AGE_MS and ends idle flows. Returns the steps
 * taken; budget means there is more to do now. The daemon calls it after
 * each turn of its loop, so no upkeep holds the loop for long however many
 * flows are due at once.
 */
#define FLOE_FLUSH_AGE_MS 1000
size_t floe_tables_housekeep(floe_tables *t, uint64_t now_ms, size_t budget);
/* The same, only if at most max flows wait (what an API request may afford
 * on the loop); returns 1 if it flushed. */
int floe_tables_flush_small(floe_tables *t, size_t max);
/* Ends every flow idle past the timeout; returns how many ended. */
size_t floe_tables_expire(floe_tables *t, uint64_t now_ms);
/* Ends every flow (shutdown, end of a replay). */
void floe_tables_end_all(floe_tables *t);
floe_host *floe_tables_host(floe_tables *t, const floe_addr *a);
/* A flow's client and server endpoints. */
const floe_addr *floe_flow_client(const floe_flow *f, uint16_t *port);
const floe_addr *floe_flow_server(const floe_flow *f, uint16_t *port);
/* Bytes the tables hold, for the status page and the benchmark. */
size_t floe_tables_bytes(const floe_tables *t);
/* JSON forms of entries (the API's and `floe replay --dump`'s). exps maps a
 * flow's exporter id to its address. */
void floe_flow_json(floe_json *j, floe_tables *t, floe_exporters *exps, const floe_flow *f);
void floe_host_json(floe_json *j, floe_tables *t, const floe_host *h);
void floe_iface_json(floe_json *j, floe_exporters *exps, const floe_iface *i);
void floe_net_json(floe_json *j, const floe_net *n);
/* Parses "10.0.0.0/8" or "fc00::/7" into a network; 0 or FLOE_EINVAL. */
int floe_net_parse(floe_net *n, const char *text);
int floe_net_contains(const floe_net *n, const floe_addr *a);

/* ---- pcap files -------------------------------------------------------- */

typedef struct floe_pcap_stats {
    uint64_t frames;
    uint64_t udp;
    uint64_t skipped;   /* not UDP over IPv4/IPv6 */
    uint64_t fragments; /* IP fragments, which floe decode does not reassemble */
} floe_pcap_stats;

typedef void (*floe_pcap_cb)(void *ud, const floe_addr *src, uint16_t sport,
                             const uint8_t *payload, size_t len, uint64_t ts_ms);
/*
 * Calls cb for every UDP payload in a pcap or pcapng file. Handles Ethernet
 * (with VLAN tags), Linux cooked v1 and v2, raw IP, and BSD loopback.
 * Returns 0, or a negative code with a one-line reason in err.
 */
int floe_pcap_read(const char *path, floe_pcap_cb cb, void *ud, floe_pcap_stats *st, char *err,
                   size_t errlen);

/* ---- commands ---------------------------------------------------------- */

/* Command-line values that override the config file for `floe run`. */
typedef struct floe_run_opts {
    const char *config_path;
    char **listen;
    size_t n_listen;
    const char *web;
    const char *data_dir;
    char **plugin_dirs;
    size_t n_plugin_dirs;
    const char *log_level;
} floe_run_opts;

int floe_cmd_run(const floe_run_opts *o);
int floe_cmd_decode(int argc, char **argv);
int floe_cmd_replay(int argc, char **argv);

/* ---- the daemon -------------------------------------------------------- */

struct floe_www;
struct floe_daemon;

/* One UDP socket. The receive buffer is the listener's own: libuv batches
 * recvmmsg reads only into a buffer of 128 KiB or more. */
typedef struct floe_listener {
    uv_udp_t udp;
    floe_list link;
    struct floe_daemon *d;
    char *name;       /* as configured, e.g. "[::]:2055" */
    char *buf;
    size_t buflen;
    int rcvbuf;       /* granted SO_RCVBUF, bytes */
    uint64_t datagrams;
    int seen;         /* mark for the reload diff */
} floe_listener;

typedef struct floe_daemon {
    uv_loop_t loop;
    floe_config cfg;
    floe_run_opts opts;
    floe_log log;
    floe_ingest ing;
    floe_tables tables;
    int tables_on;
    floe_list listeners;
    struct floe_www *www;
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t tick, force_exit;
    uv_check_t housekeep_check;
    uv_idle_t housekeep_idle;
    uint64_t start_ms;
    uint64_t ticks;
    uint64_t reloads, reload_errors;
    int stopping;
} floe_daemon;

/* Opens every configured listener not yet open and closes those no longer
 * configured. Returns 0, or a negative code after logging which failed. */
int floe_listeners_apply(floe_daemon *d);
void floe_listeners_close_all(floe_daemon *d);
/* Applies the records still in the tables' pipeline; the listeners call it
 * after each batch of datagrams, before their buffer is reused. */
void floe_daemon_drain(floe_daemon *d);
/* Datagrams the kernel dropped on this socket (SO_MEMINFO), or 0. */
uint64_t floe_listener_drops(const floe_listener *l);

#endif /* FLOE_COLLECTOR_H */
