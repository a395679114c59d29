/*
 * tables: what floe knows about the traffic. Decoded records become
 * bidirectional flows (conversations), which point at their client and
 * server hosts; hosts, exporter interfaces and local networks catch up with
 * their flows' counters about once a second. nDPI labels each flow's
 * application. Everything here is bounded, with the eviction policy written
 * at floe_tables below, and lives on one thread (the loop's): nothing locks.
 *
 * The tables know exporters only by id (floe_record.exporter_id); whoever
 * owns the exporters can lend the tables a way to name them for the JSON
 * forms (floe_tables.names).
 */
#ifndef FLOE_TABLES_H
#define FLOE_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "decoders/decoders.h"
#include "util/util.h"

/* ---- options ------------------------------------------------------------ */

/* What the tables are sized and tuned by; the config's "flows", "hosts",
 * "interfaces", "local_networks" and "dpi" keys. Strings are borrowed. */
typedef struct floe_tables_opts {
    uint32_t max_flows;
    uint32_t flow_idle_timeout; /* s */
    uint32_t max_hosts;
    uint32_t max_interfaces;
    char **local_networks; /* "10.0.0.0/8", ... */
    size_t n_local_networks;
    int dpi_enabled;
    uint32_t dpi_max_states;
    uint32_t dpi_packets;  /* sampled packets per flow before nDPI gives up */
    uint32_t dpi_max_rate; /* sampled packets dissected per second, at most */
    int prefault;          /* back the flow and host pools to their bound at init */
} floe_tables_opts;

/* ---- nDPI --------------------------------------------------------------- */

typedef struct floe_dpi floe_dpi;

/* An application label: nDPI protocol ids and category. */
typedef struct floe_app_label {
    uint16_t app;      /* nDPI protocol id, 0 = Unknown */
    uint16_t master;   /* e.g. TLS for TLS.Google; 0 when none */
    uint16_t category; /* nDPI category id */
} floe_app_label;

/* What floe_dpi_packet did with a sampled header. */
enum floe_dpi_result {
    FLOE_DPI_NO_PAYLOAD = -2, /* nothing to dissect (no payload, not IP); no state made */
    FLOE_DPI_NO_STATE = -1,   /* the state bound is reached; nothing done */
    FLOE_DPI_PENDING = 0,     /* dissected, no verdict yet */
    FLOE_DPI_DETECTED = 1,    /* nDPI recognised the protocol */
    FLOE_DPI_GAVE_UP = 2,     /* out of packets: nDPI's give-up guess */
};

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
 * use. With give_up, or once detected, the state is released. out is filled
 * for FLOE_DPI_DETECTED and FLOE_DPI_GAVE_UP; the risks nDPI found so far (a
 * bitmap of ndpi_risk_enum) are ORed into *risk whenever it dissected.
 */
enum floe_dpi_result floe_dpi_packet(floe_dpi *d, void **state, const uint8_t *hdr, size_t n,
                                     uint32_t proto, uint64_t ts_ms, int give_up,
                                     floe_app_label *out, uint64_t *risk);
void floe_dpi_release(floe_dpi *d, void **state);
/* Labels from an nDPI protocol id or name; 0 or FLOE_ENOTFOUND. */
int floe_dpi_by_id(floe_dpi *d, uint32_t id, floe_app_label *out);
int floe_dpi_by_name(floe_dpi *d, const char *name, floe_app_label *out);
const char *floe_dpi_app_name(floe_dpi *d, uint16_t id);
const char *floe_dpi_category_name(floe_dpi *d, uint16_t category);
/* "TLS.Google" for a label with a master, else the app's name; returns out. */
char *floe_dpi_label_name(floe_dpi *d, const floe_app_label *l, char *out, size_t outlen);
/* nDPI's name for risk number n (ndpi_risk_enum), or NULL past the last;
 * and its score. */
const char *floe_dpi_risk_name(int n);
/* nDPI's own words for it ("TLS Expired Certificate"), or NULL. */
const char *floe_dpi_risk_title(int n);
uint16_t floe_dpi_risk_score(int n);
/* The risk number of that name, or -1. */
int floe_dpi_risk_parse(const char *name);
/* The nDPI category of that name ("Web", "Network"), or -1. */
int floe_dpi_category_parse(floe_dpi *d, const char *name);
/* How many protocol ids nDPI knows (ids are below it). */
size_t floe_dpi_app_count(floe_dpi *d);
/* Dissection states live now, and the pool they come from (its memory is
 * backed ahead of need with the tables' own). */
size_t floe_dpi_states(const floe_dpi *d);
floe_pool *floe_dpi_state_pool(floe_dpi *d);
/* Grows and touches the heap for nDPI's own allocations, and keeps it
 * (floe run, with tables.prefault); returns the bytes. */
size_t floe_dpi_warm_heap(floe_dpi *d);
uint64_t floe_dpi_refusals(const floe_dpi *d);

/* ---- entries ------------------------------------------------------------ */

/* Flow events, each a hook point for plugins (hooks.def). */
enum floe_flow_event {
#define HOOK(id, name) FLOE_EV_##id,
#include "tables/hooks.def"
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
    uint64_t exporter; /* the exporter's id */
} floe_flow_key;

struct floe_host;

/*
 * A flow is four cache lines, laid out by use. A record's lookup reads the
 * first; a record writes the first three; the flush (hosts catching up)
 * reads the three; an eviction reads all four, and so do creation, the API
 * and plugins. Fields the flush needs are not in the fourth line, which a
 * flow's first record therefore touches only when it is created.
 */
typedef struct floe_flow {
    /* line 0: the key and the eviction order's clocks */
    floe_flow_key key;
    uint64_t last_ms;   /* when floe saw the last record */
    uint64_t queued_ms; /* last_ms when the flow took its place in the eviction order */
    /* line 1: counters */
    uint64_t bytes[2], packets[2]; /* scaled by the sampling rate */
    uint64_t pend_bytes[2];        /* not yet added to the hosts, interfaces, networks */
    uint64_t pend_pkts[2];
    /* line 2: what records, the flush and the end read besides */
    struct floe_host *host[2]; /* client, server; NULL if the host table was full */
    uint32_t ifs[2][2];        /* [direction][0 input, 1 output] ifIndex, 0 unknown */
    uint64_t risk;             /* nDPI flow risks, bit n for ndpi_risk_enum n */
    uint32_t records;
    uint32_t sampling;
    uint16_t tcp_flags[2];
    uint8_t cli_is_a;
    uint8_t dir_certain; /* client decided by a SYN, not by ports */
    uint8_t app_source;  /* enum floe_app_source */
    uint8_t tos;
    floe_app_label app;
    uint8_t dpi_packets;
    uint8_t detected : 1;    /* protocolDetected has fired */
    uint8_t syn_counted : 1; /* its client's SYN is in the server's syns_rcvd */
    uint8_t has_asn : 1;     /* its AS numbers are in the tables' flow_asn (floe_flow_asn) */
    uint8_t dirty : 1;       /* in the flush queue (at dirty_slot): a record need not read line 3 */
    /* line 3: the rest */
    uint64_t first_ms;              /* when floe saw the first record */
    void *dpi;                      /* nDPI state while dissecting sampled headers */
    struct floe_status_set *status; /* plugin statuses; NULL until a plugin sets one */
    uint64_t periodic_ms;           /* when its last periodic update was due */
    uint32_t retrans[2]; /* TCP retransmissions by direction (exporters that send them) */
    uint32_t cli_latency_us, srv_latency_us;
    uint16_t score; /* the sum of its statuses' scores (plugins) */
    uint16_t pad;
    uint32_t lru_slot;      /* its slot in the eviction order */
    uint32_t periodic_slot; /* its slot + 1 in the periodic-update queue; 0 not queued */
    uint32_t dirty_slot;    /* its slot + 1 in the flush queue while pend_* wait; 0 not */
} floe_flow;

#define FLOE_HOST_TOP_APPS 8

/*
 * Step marks: an entry's counters as they were at the last timeseries step
 * (engine/series.c writes the growth since, then moves the mark). The
 * tables only zero them; a new entry's growth is everything it counted.
 */
typedef struct floe_host_mark {
    uint64_t bytes_sent, bytes_rcvd, flows_client, flows_server;
    uint64_t top_bytes[FLOE_HOST_TOP_APPS];
    uint16_t top_app[FLOE_HOST_TOP_APPS];
} floe_host_mark;

typedef struct floe_iface_mark {
    uint64_t bytes_in, bytes_out, pkts_in, pkts_out;
    /* the sFlow counters' in/out octets, packets, errors and discards */
    uint64_t octets[2], pkts[2], errors[2], discards[2];
    uint64_t counters_ms; /* of the counter sample the mark holds; 0: none */
} floe_iface_mark;

/* A host is laid out by use too: a lookup, the flush's counters and the
 * live-flow counts in the first line; what a new flow and the top
 * applications' names need in the second; their counts in the third; the
 * rest after. */
typedef struct floe_host {
    /* line 0 */
    floe_addr addr;
    uint64_t last_ms;
    uint64_t bytes_sent, bytes_rcvd, pkts_sent, pkts_rcvd;
    uint32_t active_client, active_server;
    /* line 1 */
    floe_list lru;                       /* on the idle list while no flow refers to it */
    uint64_t flows_client, flows_server; /* totals */
    uint32_t score;                      /* the sum of its live flows' scores */
    int32_t net;                         /* index of its local network, -1 if not local */
    uint16_t ip_app;                     /* nDPI service of its address (IP lists), 0 if none */
    /* approximate top applications (space-saving): ids, and in line 2 their bytes */
    uint16_t top_app[FLOE_HOST_TOP_APPS];
    uint64_t top_bytes[FLOE_HOST_TOP_APPS] __attribute__((aligned(64)));
    /* line 3 and after */
    uint64_t first_ms;
    uint64_t retrans_sent, retrans_rcvd; /* TCP retransmissions, from flows that carry them */
    uint64_t syns_rcvd;                  /* TCP flows opened towards it (a SYN from the client) */
    floe_host_mark mark;
} floe_host;

typedef struct floe_iface {
    floe_hnode node;
    floe_list lru;
    uint64_t exporter; /* the exporter's id */
    uint32_t ifindex;
    uint64_t last_ms;
    uint64_t bytes_in, bytes_out, pkts_in, pkts_out; /* from flow records, scaled */
    int has_counters;                                /* sFlow counter samples seen */
    uint64_t counters_ms;
    floe_ifcounters counters;
    floe_iface_mark mark;
} floe_iface;

typedef struct floe_net {
    char name[48]; /* as configured, e.g. "10.0.0.0/8" */
    floe_addr prefix;
    uint8_t bits; /* prefix length over the 128-bit form */
    uint64_t bytes_in, bytes_out, bytes_inner;
    uint64_t pkts_in, pkts_out, pkts_inner;
    uint64_t hosts;   /* hosts in the table now */
    uint64_t mark[3]; /* bytes in, out and inner at the last step */
} floe_net;

/* Traffic by application over all flows, sampling scaled (floe_tables.apps,
 * indexed by nDPI protocol id). */
typedef struct floe_app_totals {
    uint64_t bytes, pkts;
    uint64_t mark_bytes, mark_pkts; /* at the last step */
} floe_app_totals;

/* Parses "10.0.0.0/8" or "fc00::/7" into a network; 0 or FLOE_EINVAL. */
int floe_net_parse(floe_net *n, const char *text);
int floe_net_contains(const floe_net *n, const floe_addr *a);

/* A flow's client and server endpoints. */
const floe_addr *floe_flow_client(const floe_flow *f, uint16_t *port);
const floe_addr *floe_flow_server(const floe_flow *f, uint16_t *port);
/* The AS number of the flow's endpoint key.a (i = 0) or key.b (1), from its
 * first record; 0 if that record had none. */
struct floe_tables;
uint32_t floe_flow_asn(const struct floe_tables *t, const floe_flow *f, int i);

/*
 * Flow statuses, set by plugins. A status is a number from the plugin
 * engine's registry (no fixed slots), a score and an optional info text (a
 * JSON object). A flow's score is the sum of its statuses' scores, capped
 * at 65535, and its predominant status the one with the highest score; a
 * host's score is the sum of its live flows' scores. A flow holds at most
 * FLOE_FLOW_STATUSES statuses.
 */
#define FLOE_FLOW_STATUSES 32
typedef struct floe_flow_status {
    uint32_t id;
    uint16_t score;
    char *info; /* owned; NULL if none */
} floe_flow_status;

typedef struct floe_status_set {
    uint16_t n, cap;
    floe_flow_status s[];
} floe_status_set;

/* ---- the tables --------------------------------------------------------- */

/* Called for each flow event in wanted (bit 1 << FLOE_EV_x); the flow is
 * valid only during the call. protocolDetected fires once per flow: at its
 * first record, or for a flow whose sampled packets nDPI dissects, at
 * nDPI's verdict, and at the latest just before flowEnd. */
typedef struct floe_flow_hooks {
    void (*event)(void *ud, int ev, floe_flow *f);
    void *ud;
    unsigned wanted;
} floe_flow_hooks;

/* Names for the JSON forms, lent by whoever owns them. addr names an
 * exporter id: 0 and *out filled, or FLOE_ENOTFOUND (evicted since).
 * status gives a status id's key ("plugin.key"), or NULL. Either may be
 * NULL. */
typedef struct floe_table_names {
    int (*addr)(void *ud, uint64_t id, floe_addr *out);
    const char *(*status)(void *ud, uint32_t id);
    void *ud;
} floe_table_names;

/* The tables' counters, from stats.def. */
typedef struct floe_tables_stats {
#define TSTAT(name, help) uint64_t name;
#include "tables/stats.def"
#undef TSTAT
    uint64_t labels[4]; /* flows labelled, by enum floe_app_source */
} floe_tables_stats;

/* Writes each counter of stats.def as "name": value, and "labels". */
void floe_tables_stats_json(floe_json *j, const floe_tables_stats *st);
/* Writes each counter as a Prometheus counter floe_tables_<name>_total. */
void floe_tables_stats_metrics(floe_buf *b, const floe_tables_stats *st);

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
#define FLOE_PIPE_LEN     64    /* room in the tables' record pipeline, a power of two */
struct tables__pipe_entry;

typedef struct floe_tables {
    floe_pool flow_pool, host_pool, iface_pool, appname_pool;
    uint32_t (*flow_asn)[2]; /* by flow slot: AS numbers of key.a and key.b, if has_asn */
    floe_tmap flows, hosts;  /* at most flows.max and hosts.max */
    floe_hmap ifaces, appnames;
    floe_fifo flow_lru; /* flows, oldest queued_ms first */
    floe_list host_idle, iface_lru, appname_lru;
    floe_iface *iface_cache[256]; /* recent interfaces by (exporter, ifIndex), in front of ifaces */
    floe_fifo dirty;       /* flows whose counters the hosts and networks lack, oldest first */
    uint64_t *dirty_stamp; /* when each of them joined, by slot */
    size_t n_dirty;
    floe_fifo periodic;       /* flows by when their next periodic update is due */
    uint64_t periodic_ms;     /* the periodic-update interval, 0: none */
    uint64_t victim_ahead[2]; /* flow_lru positions prefetched, by step */
#define FLOE_VICTIM_HASHES 32
    struct floe_victim_hash {
        uint64_t pos, hash; /* the key hash of the flow at flow_lru position pos */
    } victim_hash[FLOE_VICTIM_HASHES];
    uint64_t dirty_ahead[2]; /* dirty positions prefetched, by step */
    uint64_t flow_seed[8];   /* the flow-key hash's, random at init (flows.c, flow_mix) */
    floe_net *nets;
    size_t n_nets;
    floe_app_totals *apps; /* by app id; grown on demand, at most 65536 */
    size_t n_apps;
    floe_dpi *dpi;
    uint64_t idle_timeout_ms;
    uint32_t dpi_max_packets;
    uint32_t dpi_max_rate;
    uint64_t dpi_tokens;      /* the dissection budget, in thousandths of one */
    uint64_t dpi_refill_ms;   /* when it was last topped up */
    uint8_t well_known[8192]; /* a bit per port: a service port marks the server */
    floe_tables_stats st;
    struct tables__pipe_entry *pipe; /* FLOE_PIPE_LEN entries */
    size_t pipe_head, pipe_tail, pipe_len;
    size_t pipe_fresh;         /* entries at the tail that no stage has seen yet */
    floe_flow_hooks hooks;     /* the plugins' (they rewrite it on reload) */
    floe_flow_hooks tap;       /* a second listener of flowEnd and periodicUpdate only, called
                                * after hooks: the history export */
    uint64_t periodic_want[2]; /* the intervals hooks and tap asked for; 0: none */
    floe_table_names names;
    floe_log *log;
} floe_tables;

/* Fills o with the defaults that the config documents. */
void floe_tables_opts_defaults(floe_tables_opts *o);
/* Returns 0, or a negative code with a one-line reason in err (a bad local
 * network is FLOE_ECONFIG naming it; FLOE_ENOMEM). */
int floe_tables_init(floe_tables *t, const floe_tables_opts *o, floe_log *log, char *err,
                     size_t errlen);
void floe_tables_close(floe_tables *t);
/* Applies one decoded record at time now_ms. */
void floe_tables_record(floe_tables *t, const floe_record *r, uint64_t now_ms);
/*
 * The same through a short pipeline that prefetches each record's flow and
 * hosts before applying it, a few dozen records later: much faster on a busy
 * table. A pushed record is copied (unless it was built in place, at
 * floe_tables_slot), and names its exporter by id only, so it
 * does not matter whether the exporter lives on; but its sampled header is
 * not copied, so those bytes must stay valid until floe_tables_drain, which
 * applies every record still in the pipeline. Call it before the datagrams'
 * buffer is reused, and before anything reads the tables.
 */
void floe_tables_push(floe_tables *t, const floe_record *r, uint64_t now_ms);
/* Where the next pushed record goes: a decoder may build it there, and
 * push it without a copy. Valid until the next push or drain. */
floe_record *floe_tables_slot(floe_tables *t);
void floe_tables_drain(floe_tables *t, uint64_t now_ms);
/* Applies an sFlow counter sample. */
void floe_tables_ifcounters(floe_tables *t, const floe_ifcounters *c, uint64_t now_ms);
/* Learns an exporter's name for an application id (IE 95 + 96 options), so
 * its records label as the nDPI protocol of that name. Bounded by
 * FLOE_APPNAMES_MAX, least recently learnt evicted. Drain the pipeline
 * first: a name applies to the records after it. */
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
 * that have waited FLOE_FLUSH_AGE_MS, fires the periodic updates that are
 * due, and ends idle flows. Returns the steps taken; budget means there is
 * more to do now. The daemon calls it after each turn of its loop, so no
 * upkeep holds the loop for long however many flows are due at once.
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
/*
 * Fires FLOE_EV_PERIODIC_UPDATE for every live flow each interval_ms while
 * it lives (from its first record), from floe_tables_housekeep; 0 turns it
 * off. Only flows created after the call are scheduled, so set it before
 * records arrive (the plugin engine does, when a check asks for it). The
 * queue (two pointers per flows.max) is allocated on first use: 0 or
 * FLOE_ENOMEM.
 */
int floe_tables_set_periodic(floe_tables *t, uint64_t interval_ms);
/* The same for the tap. The event fires at the smaller of the two
 * intervals asked for (floe_tables.periodic_ms); each listener skips the
 * fires it does not need. */
int floe_tables_set_tap_periodic(floe_tables *t, uint64_t interval_ms);
floe_host *floe_tables_host(floe_tables *t, const floe_addr *a);
/* Bytes the tables hold, for the status page and the benchmark. */
size_t floe_tables_bytes(const floe_tables *t);

/*
 * Sets (or updates) status id on a flow with score and info (copied; may
 * be NULL), keeping the flow's and its hosts' scores. Returns 1 when the
 * status is new on the flow, 0 when updated, FLOE_ELIMIT at
 * FLOE_FLOW_STATUSES, FLOE_ENOMEM.
 */
int floe_flow_set_status(floe_flow *f, uint32_t id, uint16_t score, const char *info);
/* Clears it; 1 if it was set, else 0. */
int floe_flow_clear_status(floe_flow *f, uint32_t id);
/* The status, or NULL. */
const floe_flow_status *floe_flow_status_find(const floe_flow *f, uint32_t id);
/* The status with the highest score, or NULL. */
const floe_flow_status *floe_flow_predominant(const floe_flow *f);

/*
 * Walking a table. Entries live in pools whose slots never move, so a walk
 * can be done in slices by slot number while the loop keeps running (the
 * API does): floe_tables_slots gives how many slots exist, and
 * floe_tables_at the live entry in one, or NULL. The FOREACH macros walk a
 * whole table at once.
 */
enum floe_table_kind { FLOE_TABLE_FLOWS, FLOE_TABLE_HOSTS, FLOE_TABLE_IFACES };
size_t floe_tables_slots(const floe_tables *t, enum floe_table_kind kind);
void *floe_tables_at(const floe_tables *t, enum floe_table_kind kind, size_t slot);
/* Bytes of one entry of the kind. */
size_t floe_tables_entry_size(enum floe_table_kind kind);

#define FLOE_TABLES_FOREACH(t, kind, type, e)                                                      \
    for (size_t it_ = 0; it_ < floe_tables_slots((t), (kind)); it_++)                              \
        if (((e) = (type *)floe_tables_at((t), (kind), it_)) != NULL)
#define FLOE_FLOWS_FOREACH(t, f)  FLOE_TABLES_FOREACH(t, FLOE_TABLE_FLOWS, floe_flow, f)
#define FLOE_HOSTS_FOREACH(t, h)  FLOE_TABLES_FOREACH(t, FLOE_TABLE_HOSTS, floe_host, h)
#define FLOE_IFACES_FOREACH(t, i) FLOE_TABLES_FOREACH(t, FLOE_TABLE_IFACES, floe_iface, i)
#define FLOE_NETS_FOREACH(t, n)   for ((n) = (t)->nets; (n) < (t)->nets + (t)->n_nets; (n)++)

/* JSON forms of entries (the API's and `floe replay --dump`'s). */
void floe_flow_json(floe_json *j, floe_tables *t, const floe_flow *f);
void floe_host_json(floe_json *j, floe_tables *t, const floe_host *h);
void floe_iface_json(floe_json *j, floe_tables *t, const floe_iface *i);
void floe_net_json(floe_json *j, const floe_net *n);

#endif /* FLOE_TABLES_H */
