/*
 * floe-gen's internal contract: a deterministic flow model (a pool of hosts
 * and conversations of random length), one datagram encoder per export
 * protocol in a table of gen_proto, and the output side (sockets with
 * sendmmsg, and a pcap writer). Everything a run needs lives in structs the
 * caller owns; nothing here keeps global state, so the same options and
 * seed always give the same bytes.
 */
#ifndef FLOE_GEN_H
#define FLOE_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define GEN_DGRAM_MAX     1500 /* payload bytes of one datagram, at most */
#define GEN_FILL          1400 /* v9, IPFIX and sFlow datagrams are filled up to this */
#define GEN_FLOW_SLOTS    1024 /* live conversations per exporter (a power of two) */
#define GEN_MAX_EXPORTERS 1000
#define GEN_MAX_BATCH     1024     /* UIO_MAXIOV: sendmmsg takes no more per call */
#define GEN_BOOT_MS       3600000u /* exporters booted an hour before the virtual clock starts */

/* ---- random numbers (wyrand: one multiply per draw, 2^64 period) -------- */

typedef struct gen_rng {
    uint64_t s;
} gen_rng;

static inline uint64_t gen_rand(gen_rng *r)
{
    r->s += 0xa0761d6478bd642fULL;
    __uint128_t t = (__uint128_t)r->s * (r->s ^ 0xe7037ed1a0b428dbULL);
    return (uint64_t)(t >> 64) ^ (uint64_t)t;
}

/* Uniform in [0, n) from the top 32 bits of x (Lemire's multiply-shift). */
static inline uint32_t gen_below(uint64_t x, uint32_t n)
{
    return (uint32_t)(((x >> 32) * (uint64_t)n) >> 32);
}

/* ---- big-endian writers: each returns the position after what it wrote -- */

static inline uint8_t *gen_put8(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    return p + 1;
}
static inline uint8_t *gen_put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}
static inline uint8_t *gen_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}
static inline uint8_t *gen_put64(uint8_t *p, uint64_t v)
{
    gen_put32(p, (uint32_t)(v >> 32));
    return gen_put32(p + 4, (uint32_t)v);
}

/* ---- the flow model ------------------------------------------------------ */

/* One conversation between two hosts of the pool. */
typedef struct gen_flow {
    uint32_t src, dst; /* host indices: see gen_host_v4 and gen_host_v6 */
    uint32_t left;     /* records it will still emit, at least 1 */
    uint16_t sport, dport;
    uint16_t in_if, out_if;
    uint16_t pkt_len; /* IP length of its packets */
    uint8_t ipproto, tos, tcp_flags;
    uint8_t reply; /* src is the server: the destination began the conversation */
} gen_flow;

/* One flow record (or one sFlow sample) drawn from a conversation. */
typedef struct gen_rec {
    gen_flow f; /* a copy: the conversation may be replaced after the draw */
    uint32_t packets, bytes;
    uint64_t first_ms, last_ms; /* on the virtual clock */
} gen_rec;

/* An exporter's conversations. Record lengths are geometric with mean
 * flow_length, so a conversation shows up in several records spread over
 * several datagrams, as a long flow does in real exports. */
typedef struct gen_flows {
    gen_rng rng;
    double inv_log_keep; /* 1 / ln(1 - 1/mean); 0 makes every conversation one record */
    uint32_t hosts;
    gen_flow slot[GEN_FLOW_SLOTS];
} gen_flows;

/* Seeds the model and fills every slot. hosts >= 2, mean_len >= 1. */
void gen_flows_init(gen_flows *fl, uint64_t seed, uint32_t hosts, double mean_len);
/* Draws the next record at virtual time now_ms into r. */
void gen_flows_next(gen_flows *fl, uint64_t now_ms, gen_rec *r);
/* Host i's address: 10.0.0.0 + i + 1, or 2001:db8::/96 + i + 1. */
void gen_host_v4(uint32_t i, uint8_t out[4]);
void gen_host_v6(uint32_t i, uint8_t out[16]);
/* splitmix64: turns (seed, stream) into an independent seed. */
uint64_t gen_mix(uint64_t seed, uint64_t stream);

/* ---- options, exporters and totals ---------------------------------------- */

struct gen_proto;

typedef struct gen_opts {
    const struct gen_proto *proto;
    struct sockaddr_storage target;
    const char *target_text;
    uint64_t rate;    /* records per second; 0 = as fast as possible */
    uint64_t records; /* stop after this many; 0 = no limit */
    double duration;  /* stop after this many seconds; 0 = no limit */
    uint32_t exporters, hosts, template_refresh, sampling, batch;
    uint64_t seed;
    double flow_length;
    uint64_t start_ms; /* the virtual clock's start, ms since the epoch */
    const char *pcap_path;
    const char *ipfix_path; /* an RFC 5655 file of the messages sent (IPFIX only) */
    int no_send, no_gso, quiet;
    int tcp;      /* IPFIX over TCP (RFC 7011 §10.4): one connection per exporter */
    int biflow;   /* IPFIX records carry the reverse direction (RFC 5103) */
    int sections; /* IPFIX records carry a packet each (dataLinkFrameSection) */
} gen_opts;

/* What was put in the datagrams. */
typedef struct gen_sums {
    uint64_t datagrams, records, options_records, template_records;
    uint64_t bytes, packets;                 /* sFlow: sum of frame lengths, and one per sample */
    uint64_t reverse_bytes, reverse_packets; /* --biflow: the part of bytes and packets
                                              * in reverse elements */
    uint64_t wire_bytes;                     /* UDP payload bytes of the datagrams */
} gen_sums;

/* One exporter: its identity, its sequence numbers and its socket. */
typedef struct gen_exporter {
    uint32_t index;
    uint32_t domain;      /* index + 1: v5 engine, v9 source id, IPFIX domain, sFlow sub-agent */
    uint32_t seq;         /* header sequence: records (v5, IPFIX) or datagrams (v9, sFlow) */
    uint32_t sample_seq;  /* sFlow flow-sample sequence of its one data source */
    uint32_t sample_pool; /* sFlow: packets its sampler has seen */
    uint64_t datagrams;   /* datagrams written, for the template refresh */
    uint8_t agent[16];    /* sFlow agent address (first 4 bytes when IPv4) */
    int agent_v6;
    int fd;                      /* -1 when not sending */
    struct sockaddr_storage src; /* source address and port, as put in a pcap */
    gen_flows flows;
} gen_exporter;

/* ---- encoders --------------------------------------------------------------- */

/*
 * One export protocol. datagram() writes one datagram of exporter ex into
 * buf (GEN_DGRAM_MAX bytes) with at most max_records flow records (>= 1),
 * templates included when they are due, and returns its length. It adds
 * what it wrote to sums and moves ex's sequence numbers on. now_ms is the
 * virtual clock.
 */
typedef struct gen_proto {
    const char *name;   /* the --proto value */
    const char *family; /* key in the summary, as in floe's status: v5, v9, ipfix, sflow */
    size_t (*datagram)(gen_exporter *ex, const gen_opts *o, uint64_t now_ms, uint32_t max_records,
                       uint8_t *buf, gen_sums *sums);
} gen_proto;

size_t gen_v5_datagram(gen_exporter *ex, const gen_opts *o, uint64_t now_ms, uint32_t max_records,
                       uint8_t *buf, gen_sums *sums);
size_t gen_v9_datagram(gen_exporter *ex, const gen_opts *o, uint64_t now_ms, uint32_t max_records,
                       uint8_t *buf, gen_sums *sums);
size_t gen_ipfix_datagram(gen_exporter *ex, const gen_opts *o, uint64_t now_ms,
                          uint32_t max_records, uint8_t *buf, gen_sums *sums);
size_t gen_ipfix6_datagram(gen_exporter *ex, const gen_opts *o, uint64_t now_ms,
                           uint32_t max_records, uint8_t *buf, gen_sums *sums);
size_t gen_sflow_datagram(gen_exporter *ex, const gen_opts *o, uint64_t now_ms,
                          uint32_t max_records, uint8_t *buf, gen_sums *sums);
size_t gen_sflow6_datagram(gen_exporter *ex, const gen_opts *o, uint64_t now_ms,
                           uint32_t max_records, uint8_t *buf, gen_sums *sums);

/*
 * The first GEN_PACKET_HEADER bytes of one packet of r's conversation at p:
 * Ethernet, IPv4 or IPv6, TCP or UDP, then zeros, as hsflowd samples by
 * default. seq varies the IP id and the TCP sequence number. Returns the
 * length of the whole frame, FCS excluded (at least GEN_PACKET_HEADER).
 */
#define GEN_PACKET_HEADER 128
uint32_t gen_packet_header(uint8_t *p, const gen_rec *r, int v6, uint32_t seq);

/* ---- output: sockets and pcap ------------------------------------------------- */

/*
 * Sets ex->src to the exporter's planned source: 127.0.0.(1 + index) when
 * the target is IPv4 loopback, ::1 when it is IPv6 loopback, the wildcard
 * otherwise; the port is 0 (the kernel's choice) unless no socket will be
 * opened, in which case it is 50000 + index so that a pcap is reproducible.
 */
void gen_exporter_plan(gen_exporter *ex, const gen_opts *o);
/* Opens ex->fd bound to ex->src and connected to the target (a UDP socket,
 * or with o->tcp a TCP connection), and writes the bound address back to
 * ex->src. Returns 0, or -errno with a message on stderr. */
int gen_exporter_open(gen_exporter *ex, const gen_opts *o);
void gen_exporter_close(gen_exporter *ex);

/*
 * A batch sender. Datagrams go out with sendmmsg; with gso set, each run of
 * consecutive datagrams of one size (the last of a run may be shorter) is
 * one message with UDP_SEGMENT, which the kernel splits back into the same
 * datagrams before any socket sees them. That spares it a trip down the
 * stack per datagram, which is most of what sending costs on loopback.
 */
#define GEN_GSO_SEGMENTS 64    /* UDP_MAX_SEGMENTS on every kernel since 4.18 */
#define GEN_GSO_BYTES    60000 /* and under the 64 KiB an IP packet can carry */

typedef struct gen_sender {
    struct mmsghdr *msgs; /* one per message (a run, or one datagram) */
    unsigned *first;      /* the run's first datagram */
    char *ctl;            /* one UDP_SEGMENT control message per message */
    unsigned cap;
    int gso;
} gen_sender;

/* Sizes the sender for batches of up to batch datagrams. Returns 0 or -ENOMEM. */
int gen_sender_init(gen_sender *s, unsigned batch, int gso);
void gen_sender_close(gen_sender *s);
/* Whether the kernel takes UDP_SEGMENT on fd. */
int gen_gso_supported(int fd);
/*
 * Sends the n datagrams of iov on fd (n <= batch) and sets ok[i] for each
 * one that went out. A message that fails is retried once (after a refused
 * or interrupted call), then given up and its datagrams added to *errors.
 * Returns how many datagrams went out.
 */
unsigned gen_send(gen_sender *s, int fd, struct iovec *iov, unsigned n, uint8_t *ok,
                  uint64_t *errors);

/* Writes the n messages of iov, whole, on the stream fd and sets ok[i] for
 * each; after a failed write the rest are given up and added to *errors.
 * Returns how many went out. */
unsigned gen_stream_send(int fd, const struct iovec *iov, unsigned n, uint8_t *ok,
                         uint64_t *errors);

/* A classic pcap writer (Ethernet, microseconds). */
typedef struct gen_pcap {
    FILE *f;
    uint16_t ip_id;
} gen_pcap;

/* Returns 0, or -errno. */
int gen_pcap_open(gen_pcap *p, const char *path);
/* Writes one UDP datagram from src to dst as an Ethernet frame; IPv4 or
 * IPv6 after src's family. */
void gen_pcap_write(gen_pcap *p, uint64_t ts_us, const struct sockaddr_storage *src,
                    const struct sockaddr_storage *dst, const uint8_t *payload, size_t len);
/* Flushes and closes; returns 0, or -errno when a write failed. */
int gen_pcap_close(gen_pcap *p);

/* The Internet checksum of n bytes folded into sum (not complemented). */
uint32_t gen_csum_add(uint32_t sum, const uint8_t *p, size_t n);
uint16_t gen_csum_fold(uint32_t sum);

#endif /* FLOE_GEN_H */
