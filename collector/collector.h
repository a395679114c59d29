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
    uint64_t counter_samples, sflow_drops;
    uint64_t malformed, dropped;
    uint64_t seq_gaps;   /* times the sequence jumped forward */
    uint64_t lost;       /* records (v5, IPFIX) or datagrams (v9, sFlow) lost */
    uint64_t seq_resets; /* times the sequence went backwards */
    uint64_t reason[FLOE_REASON_COUNT];
} floe_counters;

void floe_counters_add_stats(floe_counters *c, const floe_dec_stats *st);
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
    floe_list listeners;
    struct floe_www *www;
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t tick, force_exit;
    uint64_t start_ms;
    uint64_t ticks;
    uint64_t reloads, reload_errors;
    int stopping;
} floe_daemon;

/* Opens every configured listener not yet open and closes those no longer
 * configured. Returns 0, or a negative code after logging which failed. */
int floe_listeners_apply(floe_daemon *d);
void floe_listeners_close_all(floe_daemon *d);
/* Datagrams the kernel dropped on this socket (SO_MEMINFO), or 0. */
uint64_t floe_listener_drops(const floe_listener *l);

#endif /* FLOE_COLLECTOR_H */
