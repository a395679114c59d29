/*
 * decoders: bytes in, normalized records out. Each export protocol (NetFlow
 * v5, v9, IPFIX, sFlow v5) is one entry in a static table of floe_dec_ops.
 * Decoders do no I/O and keep no pointer into a datagram after returning.
 * They check a length before every read, count every reject under a reason
 * from reasons.def, and go on with the rest of the datagram where they can.
 *
 * Per-exporter state (templates, sampling options) hangs off a
 * floe_dec_exporter that the caller owns and keys by (source address,
 * observation domain); the decoder of that exporter's protocol owns what
 * ->state points to and frees it in ops->state_free.
 */
#ifndef FLOE_DECODERS_H
#define FLOE_DECODERS_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

enum floe_proto {
    FLOE_PROTO_V5,
    FLOE_PROTO_V9,
    FLOE_PROTO_IPFIX,
    FLOE_PROTO_SFLOW,
    FLOE_PROTO_COUNT
};

/* "v5", "v9", "ipfix" or "sflow"; "unknown" for anything else. */
const char *floe_proto_name(int proto);

/* ---- the normalized record -------------------------------------------- */

enum floe_field {
#define FIELD(id, name, kind, member) FLOE_FI_##id,
#include "decoders/fields.def"
#undef FIELD
    FLOE_FI_COUNT
};
#define FLOE_F(id) ((uint64_t)1 << FLOE_FI_##id)
_Static_assert(FLOE_FI_COUNT <= 64, "floe_record.has holds one bit per field");
/* The presence bits of the reverse half (floe_record.rev). */
#define FLOE_F_REVERSE                                                                             \
    (FLOE_F(REV_BYTES) | FLOE_F(REV_PACKETS) | FLOE_F(REV_BYTES_TOTAL) |                           \
     FLOE_F(REV_PACKETS_TOTAL) | FLOE_F(REV_FIRST) | FLOE_F(REV_LAST) | FLOE_F(REV_IN_IF) |        \
     FLOE_F(REV_OUT_IF) | FLOE_F(REV_TCP_FLAGS) | FLOE_F(REV_VLAN) | FLOE_F(REV_TOS) |             \
     FLOE_F(REV_SRC_MAC) | FLOE_F(REV_DST_MAC))

/* IPFIX applicationId (IE 95): classification engine and selector. */
typedef struct floe_app {
    uint8_t engine;
    uint8_t selector_len;
    uint64_t selector;
} floe_app;

/* The reverse direction of a biflow record (RFC 5103): what the
 * destination sent to the source. */
typedef struct floe_record_rev {
    uint64_t bytes, packets, bytes_total, packets_total;
    uint64_t first_ms, last_ms;
    uint32_t in_if, out_if;
    uint16_t tcp_flags, vlan;
    uint8_t tos;
    uint8_t src_mac[6], dst_mac[6];
} floe_record_rev;

/*
 * One flow record, or one sFlow flow sample. A member is meaningful only
 * when its FLOE_F_* bit is set in has; decoders do not clear the rest.
 * Counters are as exported, never scaled; sampling is the rate that applies
 * (1 when unsampled or unknown).
 */
typedef struct floe_record {
    uint64_t has;
    uint64_t exporter_id; /* copied from floe_dgram.exporter_id */
    floe_addr exporter;   /* the datagram's source address */
    uint32_t domain;      /* observation domain, source id or sub-agent */
    uint32_t sampling;
    uint8_t proto; /* enum floe_proto */
    uint8_t ipproto, tos, direction, end_reason;
    uint8_t biflow_dir; /* RFC 5103 biflowDirection (IE 239) */
    uint16_t sport, dport, tcp_flags, vlan;
    floe_addr src, dst, next_hop;
    uint64_t bytes, packets, bytes_total, packets_total;
    uint64_t initiator_bytes, responder_bytes;
    uint64_t first_ms, last_ms; /* absolute, ms since the epoch */
    uint32_t in_if, out_if, src_as, dst_as;
    uint8_t src_mac[6], dst_mac[6];
    floe_app app_id;
    uint32_t l7_proto; /* nProbe L7_PROTO (PEN 35632): nDPI protocol id */
    uint32_t cli_latency_us, srv_latency_us, retrans_in, retrans_out;
    uint32_t mpls_label; /* the top MPLS label of a parsed packet header */
    uint64_t l7_risk;    /* nProbe L7_PROTO_RISK: nDPI's flow risk bitmap */
    /* A sampled packet (sFlow raw header, IPFIX packet section), valid only
     * during the sink call, or until the caller's batch ends (tables). */
    const uint8_t *sampled;
    uint32_t sampled_len;
    uint32_t sampled_proto; /* sFlow header_protocol: 1 Ethernet, 11 IPv4, 12 IPv6 */
    /* The reverse direction of a biflow (RFC 5103), last so that a record
     * without one can be copied without it (FLOE_RECORD_FORWARD_LEN). */
    floe_record_rev rev;
} floe_record;

/* The bytes of a record up to its reverse half: what a record none of whose
 * FLOE_F_REVERSE bits is set needs copied. */
#define FLOE_RECORD_FORWARD_LEN offsetof(floe_record, rev)

/* Interface counters from an sFlow counter sample. */
typedef struct floe_ifcounters {
    uint64_t exporter_id;
    floe_addr exporter;
    uint32_t domain;
    uint32_t ifindex, iftype, direction, status;
    uint64_t speed;
    uint64_t in_octets, in_ucast, in_mcast, in_bcast, in_discards, in_errors, in_unknown;
    uint64_t out_octets, out_ucast, out_mcast, out_bcast, out_discards, out_errors;
    int has_ethernet;
    uint32_t eth_alignment_errors, eth_fcs_errors, eth_frame_too_long, eth_symbol_errors;
} floe_ifcounters;

/* An exporter's name for one of its application ids (IPFIX/v9 options
 * records with applicationId and applicationName). name is not
 * NUL-terminated and is valid only during the sink call. */
typedef struct floe_appname {
    uint64_t exporter_id;
    floe_addr exporter;
    uint32_t domain;
    floe_app app;
    const char *name;
    size_t name_len;
} floe_appname;

/* Where decoded output goes. Any callback may be NULL. */
typedef struct floe_sink {
    void (*record)(void *ud, const floe_record *r);
    /* Optional: where to build the next record, which record() then takes
     * without a copy; NULL: the decoder's own. Valid until record(). It
     * shares ud: whatever wraps a sink and replaces ud must forward slot
     * too (tests/fuzz/fuzz.c), or set it to NULL. */
    floe_record *(*slot)(void *ud);
    void (*ifcounters)(void *ud, const floe_ifcounters *c);
    void *ud;
    void (*appname)(void *ud, const floe_appname *a);
} floe_sink;

/* Writes r as one JSON object (the `floe decode --format ndjson` form). */
void floe_record_json(floe_json *j, const floe_record *r);

/* ---- rejects ----------------------------------------------------------- */

enum floe_reason {
    FLOE_R_NONE,
#define REASON(id, name) FLOE_R_##id,
#include "decoders/reasons.def"
#undef REASON
    FLOE_REASON_COUNT
};

/* The reason's name from reasons.def, or "none". */
const char *floe_reason_name(int reason);

/* ---- decoding ---------------------------------------------------------- */

/* One received datagram. data is only borrowed for the decode call. */
typedef struct floe_dgram {
    const uint8_t *data;
    size_t len;
    floe_addr src;
    uint16_t sport;
    uint64_t now_ms;      /* receive time (the capture time offline) */
    uint64_t exporter_id; /* the caller's name for the exporter, copied into every
                           * record: an id, never a pointer, because records can
                           * outlive their exporter in the tables' pipeline */
} floe_dgram;

/* What a protocol header says, read before the exporter is looked up. */
typedef struct floe_hdr {
    uint32_t domain;
    uint32_t seq;
    uint32_t count;     /* the header's record or sample count, if it has one */
    uint64_t export_ms; /* export time from the header, 0 if none */
    uint32_t uptime_ms; /* v5/v9 sysUptime */
    floe_addr agent;    /* sFlow agent address */
    int has_agent;
    uint8_t sampling_mode;      /* v5 */
    uint16_t sampling_interval; /* v5 */
} floe_hdr;

/* What one datagram produced; the caller adds it to its counters. */
typedef struct floe_dec_stats {
    uint32_t records; /* flow records (sFlow: flow samples) */
    uint32_t options_records;
    uint32_t templates; /* template records accepted */
    uint32_t options_templates;
    uint32_t withdrawals;
    uint32_t missing_template; /* data sets whose template is unknown */
    uint32_t counter_samples;
    uint64_t bytes, packets;             /* delta counters */
    uint64_t bytes_total, packets_total; /* total counters (IE 85/86) */
    /* The part of the four sums above that RFC 5103 reverse elements gave. */
    uint64_t reverse_bytes, reverse_packets, reverse_bytes_total, reverse_packets_total;
    uint32_t seq_advance;    /* how far this datagram moves the sequence */
    int seq_valid;           /* 0: the advance is unknown (missing templates) */
    uint64_t sflow_drops;    /* sFlow samples dropped at the agent, as reported */
    uint32_t sflow_discards; /* sFlow discarded-packet samples (format 5) seen */
    uint32_t malformed;      /* datagrams, sets or samples rejected */
    uint16_t reason[FLOE_REASON_COUNT];
} floe_dec_stats;

static inline void floe_dec_reject(floe_dec_stats *st, int reason)
{
    st->malformed++;
    st->reason[reason]++;
}

/* Limits the template cache keeps; see floe_decoders_init. */
typedef struct floe_dec_limits {
    uint32_t max_templates_per_exporter;
    uint32_t max_templates;
    uint64_t template_timeout_ms;
} floe_dec_limits;

/* Shared decoder context: limits and counters over all exporters. */
typedef struct floe_decoders {
    floe_dec_limits lim;
    uint64_t templates_live;     /* templates held now, over all exporters */
    uint64_t template_evictions; /* dropped to respect a limit */
    uint64_t template_expired;   /* dropped after the timeout */
    void *infomodel;             /* fixbuf's information model, if loaded */
    /* Every v9/IPFIX template of every exporter, least recently refreshed
     * first: at max_templates the head is evicted. */
    floe_list template_lru;
} floe_decoders;

/* Per-exporter decoder state, embedded in the caller's exporter entry. */
typedef struct floe_dec_exporter {
    void *state;        /* owned by the exporter protocol's decoder */
    uint32_t templates; /* templates held for this exporter */
    uint32_t sampling;  /* exporter-wide sampling rate learnt, 0 = none */
    int session;        /* 1 over TCP: templates live until withdrawn or the
                         * session ends, never expire (RFC 7011 §8.4) */
} floe_dec_exporter;

typedef struct floe_dec_ops {
    int proto; /* enum floe_proto */
    const char *name;
    /* 1 if the bytes start with this protocol's version; no other checks. */
    int (*detect)(const uint8_t *p, size_t n);
    /* Reads the header into h. Returns 0 or a FLOE_R_* reason. */
    int (*header)(const uint8_t *p, size_t n, floe_hdr *h);
    /* Decodes the whole datagram, whose header parsed. */
    void (*decode)(floe_decoders *d, floe_dec_exporter *ex, const floe_dgram *dg, const floe_hdr *h,
                   floe_dec_stats *st, const floe_sink *sink);
    /* Frees ex->state and its templates; may be NULL. */
    void (*state_free)(floe_decoders *d, floe_dec_exporter *ex);
    /* Drops templates idle past the timeout; may be NULL. */
    void (*sweep)(floe_decoders *d, floe_dec_exporter *ex, uint64_t now_ms);
    /* Describes templates and options for the API; may be NULL. */
    void (*describe)(const floe_decoders *d, const floe_dec_exporter *ex, floe_json *j);
} floe_dec_ops;

/* The ops whose detect() accepts the bytes, or NULL. */
const floe_dec_ops *floe_dec_detect(const uint8_t *p, size_t n);
/* The ops for a protocol, or NULL. */
const floe_dec_ops *floe_dec_ops_for(int proto);

/* Fills d with lim; returns 0. floe_decoders_close releases the info model. */
int floe_decoders_init(floe_decoders *d, const floe_dec_limits *lim);
void floe_decoders_close(floe_decoders *d);

#endif /* FLOE_DECODERS_H */
