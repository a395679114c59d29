/*
 * floe-gen: a load generator for flow collectors. It sends NetFlow v5, v9,
 * IPFIX or sFlow v5 from K exporters at a target rate in records per
 * second (or as fast as it can), optionally writes the same stream to a
 * pcap, and prints what it sent as one JSON object, so that a collector's
 * counters can be checked for loss. Rates are paced per sendmmsg batch
 * against the monotonic clock; timestamps inside the datagrams come from a
 * virtual clock driven by the record count, so the bytes depend only on the
 * options and the seed, never on how fast the machine is.
 */
#include "tools/gen.h"
#include "util/util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

/* The only mutable global: set by SIGINT/SIGTERM, read by the send loop. */
static volatile sig_atomic_t gen_stop;

/* Every protocol floe-gen speaks: --proto name, summary key, encoder. */
static const gen_proto gen_protos[] = {
    {"v5", "v5", gen_v5_datagram},          {"v9", "v9", gen_v9_datagram},
    {"ipfix", "ipfix", gen_ipfix_datagram}, {"ipfix6", "ipfix", gen_ipfix6_datagram},
    {"sflow", "sflow", gen_sflow_datagram}, {"sflow6", "sflow", gen_sflow6_datagram},
};

/* One datagram of the batch being built: what it holds, and when it is on
 * the virtual clock. */
typedef struct gen_slot {
    gen_sums sums;
    uint64_t vt_us;
} gen_slot;

/* A run: options, exporters, the batch buffers and the totals. */
typedef struct gen_run {
    gen_opts o;
    gen_exporter *ex;
    gen_sender sender;
    struct iovec *iov;
    uint8_t *sent;
    uint8_t *bufs;
    gen_slot *slots;
    gen_sums total;
    gen_pcap pcap;
    FILE *ipfix; /* --ipfix-file */
    uint64_t send_errors;
    uint64_t t0_ns, end_ns;
    uint64_t progress_ns, progress_records;
} gen_run;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floe-gen --proto PROTO --target ADDR:PORT [OPTIONS]\n"
            "\n"
            "Sends NetFlow v5, NetFlow v9, IPFIX or sFlow v5 to a collector at a target\n"
            "rate, and prints what it sent as one JSON object on stdout.\n"
            "\n"
            "  -P, --proto PROTO         v5, v9, ipfix, ipfix6 (IPFIX with IPv6 flows),\n"
            "                            sflow, or sflow6 (sFlow with IPv6 sampled headers)\n"
            "  -t, --target ADDR:PORT    where to send; IPv6 as [::1]:2055\n"
            "  -r, --rate N              records per second; 0 (default) is as fast as possible\n"
            "  -n, --records N           stop after N records\n"
            "  -d, --duration SEC        stop after SEC seconds (with --rate: after rate x SEC\n"
            "                            records); with neither, run until SIGINT or SIGTERM\n"
            "  -k, --exporters K         exporters, each with its own source address\n"
            "                            (127.0.0.1+k on IPv4 loopback), domain and sequence\n"
            "                            numbers (default 1)\n"
            "  -H, --hosts H             hosts in the address pool (default 1000)\n"
            "  -s, --seed S              random seed (default 1); same options, same bytes\n"
            "  -l, --flow-length MEAN    mean records per conversation, geometric (default 8)\n"
            "  -T, --template-refresh N  resend v9/IPFIX templates every N datagrams of an\n"
            "                            exporter (default 20; 0: only in its first)\n"
            "  -S, --sampling RATE       announce 1-in-RATE sampling: v5 header, v9/IPFIX\n"
            "                            options record, sFlow sampling_rate (default none)\n"
            "  -b, --batch N             datagrams per sendmmsg call (default 64, at most 1024)\n"
            "      --start-time SECS     start of the virtual clock, epoch seconds or \"now\"\n"
            "                            (default 1700000000)\n"
            "  -w, --pcap FILE           also write every datagram sent to a pcap file\n"
            "      --ipfix-file FILE     also write every IPFIX message to an IPFIX file\n"
            "                            (RFC 5655: the messages one after another)\n"
            "      --no-send             only write the pcap or IPFIX file; open no socket\n"
            "      --tcp                 IPFIX over TCP (RFC 7011): one connection per\n"
            "                            exporter instead of UDP datagrams\n"
            "      --biflow              IPFIX records carry the reverse direction too\n"
            "                            (RFC 5103 reverse octets, packets and TCP flags,\n"
            "                            biflowDirection)\n"
            "      --packet-sections     IPFIX records each carry one sampled packet:\n"
            "                            interfaces, dataLinkFrameSize, and the frame's\n"
            "                            first 128 bytes in dataLinkFrameSection\n"
            "      --no-gso              one datagram per message, without UDP_SEGMENT\n"
            "  -q, --quiet               no progress line on stderr\n"
            "  -h, --help                print this help\n"
            "  -V, --version             print the version\n"
            "\n"
            "Numbers take a k, M or G suffix (x1000, x1000000, x1000000000).\n");
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !gen_stop)
        ;
}

static void on_signal(int sig)
{
    (void)sig;
    gen_stop = 1;
}

/* ---- command line --------------------------------------------------------- */

/* Parses a number with an optional k, M or G suffix into [lo, hi]. */
static int parse_num(const char *name, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end != s && *end && !end[1]) {
        double mult = *end == 'k' ? 1e3 : *end == 'M' ? 1e6 : *end == 'G' ? 1e9 : 0;
        if (mult != 0) {
            v *= mult;
            end++;
        }
    }
    if (end == s || *end || errno || !(v >= lo && v <= hi)) {
        fprintf(stderr, "floe-gen: --%s: expected a number from %.0f to %.0f, got \"%s\"\n", name,
                lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_u64(const char *name, const char *s, double lo, double hi, uint64_t *out)
{
    double v;
    if (parse_num(name, s, lo, hi, &v) != 0)
        return -1;
    if (v != floor(v)) {
        fprintf(stderr, "floe-gen: --%s: expected a whole number, got \"%s\"\n", name, s);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static int parse_u32(const char *name, const char *s, double lo, double hi, uint32_t *out)
{
    uint64_t v;
    int rc = parse_u64(name, s, lo, hi, &v);
    *out = (uint32_t)v;
    return rc;
}

static int parse_proto(const char *s, gen_opts *o)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(gen_protos); i++) {
        if (strcmp(gen_protos[i].name, s) == 0) {
            o->proto = &gen_protos[i];
            return 0;
        }
    }
    fprintf(stderr,
            "floe-gen: --proto: expected v5, v9, ipfix, ipfix6, sflow or sflow6, "
            "got \"%s\"\n",
            s);
    return -1;
}

static int parse_start(const char *s, gen_opts *o)
{
    uint64_t secs;
    if (strcmp(s, "now") == 0) {
        o->start_ms = floe_time_ms();
        return 0;
    }
    if (parse_u64("start-time", s, 86400, 4e9, &secs) != 0)
        return -1;
    o->start_ms = secs * 1000;
    return 0;
}

static int parse_target(const char *s, gen_opts *o)
{
    char why[128];
    if (floe_endpoint_parse(s, &o->target, why, sizeof(why)) != 0) {
        fprintf(stderr, "floe-gen: --target %s: %s\n", s, why);
        return -1;
    }
    o->target_text = s;
    return 0;
}

enum {
    OPT_START = 1000,
    OPT_NO_SEND,
    OPT_NO_GSO,
    OPT_TCP,
    OPT_BIFLOW,
    OPT_SECTIONS,
    OPT_IPFIX_FILE
};

static const struct option gen_long_opts[] = {
    {"proto", required_argument, NULL, 'P'},
    {"target", required_argument, NULL, 't'},
    {"rate", required_argument, NULL, 'r'},
    {"records", required_argument, NULL, 'n'},
    {"duration", required_argument, NULL, 'd'},
    {"exporters", required_argument, NULL, 'k'},
    {"hosts", required_argument, NULL, 'H'},
    {"seed", required_argument, NULL, 's'},
    {"flow-length", required_argument, NULL, 'l'},
    {"template-refresh", required_argument, NULL, 'T'},
    {"sampling", required_argument, NULL, 'S'},
    {"batch", required_argument, NULL, 'b'},
    {"start-time", required_argument, NULL, OPT_START},
    {"pcap", required_argument, NULL, 'w'},
    {"no-send", no_argument, NULL, OPT_NO_SEND},
    {"no-gso", no_argument, NULL, OPT_NO_GSO},
    {"tcp", no_argument, NULL, OPT_TCP},
    {"biflow", no_argument, NULL, OPT_BIFLOW},
    {"packet-sections", no_argument, NULL, OPT_SECTIONS},
    {"ipfix-file", required_argument, NULL, OPT_IPFIX_FILE},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Applies one option; returns 0, -1 for a bad value, or 1 when done (help). */
static int apply_opt(int c, const char *arg, gen_opts *o)
{
    switch (c) {
    case 'P':
        return parse_proto(arg, o);
    case 't':
        return parse_target(arg, o);
    case 'r':
        return parse_u64("rate", arg, 0, 1e10, &o->rate);
    case 'n':
        return parse_u64("records", arg, 1, 1e15, &o->records);
    case 'd':
        return parse_num("duration", arg, 0.001, 1e7, &o->duration);
    case 'k':
        return parse_u32("exporters", arg, 1, GEN_MAX_EXPORTERS, &o->exporters);
    case 'H':
        return parse_u32("hosts", arg, 2, 16e6, &o->hosts);
    case 's':
        return parse_u64("seed", arg, 0, 1e15, &o->seed);
    case 'l':
        return parse_num("flow-length", arg, 1, 1e6, &o->flow_length);
    case 'T':
        return parse_u32("template-refresh", arg, 0, 1e9, &o->template_refresh);
    case 'S':
        return parse_u32("sampling", arg, 1, 4e9, &o->sampling);
    case 'b':
        return parse_u32("batch", arg, 1, GEN_MAX_BATCH, &o->batch);
    case OPT_START:
        return parse_start(arg, o);
    case 'w':
        o->pcap_path = arg;
        return 0;
    case OPT_NO_SEND:
        o->no_send = 1;
        return 0;
    case OPT_NO_GSO:
        o->no_gso = 1;
        return 0;
    case OPT_TCP:
        o->tcp = 1;
        return 0;
    case OPT_BIFLOW:
        o->biflow = 1;
        return 0;
    case OPT_SECTIONS:
        o->sections = 1;
        return 0;
    case OPT_IPFIX_FILE:
        o->ipfix_path = arg;
        return 0;
    case 'q':
        o->quiet = 1;
        return 0;
    case 'h':
        usage(stdout);
        return 1;
    case 'V':
        printf("floe-gen %s\n", PACKAGE_VERSION);
        return 1;
    default:
        return -1;
    }
}

static int check_opts(gen_opts *o)
{
    const char *why = NULL;
    if (!o->proto)
        why = "--proto is required";
    else if (!o->target_text)
        why = "--target is required";
    else if (o->no_send && !o->pcap_path && !o->ipfix_path)
        why = "--no-send needs --pcap or --ipfix-file";
    else if ((o->tcp || o->biflow || o->sections || o->ipfix_path) &&
             strcmp(o->proto->family, "ipfix") != 0)
        why = "--tcp, --biflow, --packet-sections and --ipfix-file are for IPFIX";
    else if (o->biflow && o->sections)
        why = "--biflow and --packet-sections are two kinds of record: pick one";
    else if (o->tcp && o->no_send)
        why = "--tcp sends: it does not go with --no-send";
    else if (o->sampling > 16383 && strcmp(o->proto->name, "v5") == 0)
        why = "--sampling: NetFlow v5 carries at most 16383";
    if (why) {
        fprintf(stderr, "floe-gen: %s (see floe-gen --help)\n", why);
        return -1;
    }
    /* A paced run of fixed length is a fixed number of records: the stream
     * stays the same whatever the machine manages. */
    if (o->rate && o->duration > 0 && !o->records) {
        o->records = (uint64_t)llround((double)o->rate * o->duration);
        o->duration = 0; /* all of them, even when late */
    }
    return 0;
}

/* Returns 0 to run, 1 to exit 0 (help, version), -1 to exit 2. */
static int parse_args(int argc, char **argv, gen_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->exporters = 1;
    o->hosts = 1000;
    o->seed = 1;
    o->flow_length = 8;
    o->template_refresh = 20;
    o->batch = 64;
    o->start_ms = 1700000000000ULL;
    int c, rc = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "P:t:r:n:d:k:H:s:l:T:S:b:w:qhV", gen_long_opts,
                                       NULL)) != -1)
        rc = apply_opt(c, optarg, o);
    if (rc == 0 && optind < argc) {
        fprintf(stderr, "floe-gen: unexpected argument \"%s\"\n", argv[optind]);
        rc = -1;
    }
    return rc != 0 ? rc : check_opts(o);
}

/* ---- the run --------------------------------------------------------------- */

static int run_open(gen_run *g)
{
    const gen_opts *o = &g->o;
    g->ex = calloc(o->exporters, sizeof(*g->ex));
    g->iov = calloc(o->batch, sizeof(*g->iov));
    g->sent = calloc(o->batch, 1);
    g->slots = calloc(o->batch, sizeof(*g->slots));
    g->bufs = malloc((size_t)o->batch * GEN_DGRAM_MAX);
    if (!g->ex || !g->iov || !g->sent || !g->slots || !g->bufs ||
        gen_sender_init(&g->sender, o->batch, 0) != 0) {
        fprintf(stderr, "floe-gen: out of memory\n");
        return -1;
    }
    for (uint32_t i = 0; i < o->batch; i++)
        g->iov[i].iov_base = g->bufs + (size_t)i * GEN_DGRAM_MAX;
    for (uint32_t k = 0; k < o->exporters; k++) {
        gen_exporter *ex = &g->ex[k];
        ex->index = k;
        ex->domain = k + 1;
        gen_flows_init(&ex->flows, gen_mix(o->seed, k), o->hosts, o->flow_length);
        gen_exporter_plan(ex, o);
        if (!o->no_send && gen_exporter_open(ex, o) != 0)
            return -1;
    }
    g->sender.gso = !o->no_send && !o->no_gso && !o->tcp && gen_gso_supported(g->ex[0].fd);
    if (o->pcap_path && gen_pcap_open(&g->pcap, o->pcap_path) != 0) {
        fprintf(stderr, "floe-gen: %s: %s\n", o->pcap_path, strerror(errno));
        return -1;
    }
    if (o->ipfix_path && !(g->ipfix = fopen(o->ipfix_path, "wb"))) {
        fprintf(stderr, "floe-gen: %s: %s\n", o->ipfix_path, strerror(errno));
        return -1;
    }
    return 0;
}

static void run_close(gen_run *g)
{
    for (uint32_t k = 0; g->ex && k < g->o.exporters; k++)
        gen_exporter_close(&g->ex[k]);
    free(g->ex);
    gen_sender_close(&g->sender);
    free(g->iov);
    free(g->sent);
    free(g->slots);
    free(g->bufs);
}

static void sums_add(gen_sums *to, const gen_sums *s)
{
    to->datagrams += s->datagrams;
    to->records += s->records;
    to->options_records += s->options_records;
    to->template_records += s->template_records;
    to->bytes += s->bytes;
    to->packets += s->packets;
    to->reverse_bytes += s->reverse_bytes;
    to->reverse_packets += s->reverse_packets;
    to->wire_bytes += s->wire_bytes;
}

/* Encodes up to o.batch datagrams of ex holding at most left records, and
 * stops once budget records are in (so that a slow rate is not sent in
 * bursts). Returns how many datagrams it made. */
static unsigned build_batch(gen_run *g, gen_exporter *ex, uint64_t left, uint64_t budget)
{
    uint64_t vrate = g->o.rate ? g->o.rate : 1000000; /* the virtual clock's pace */
    uint64_t recs = 0;
    unsigned n = 0;
    while (n < g->o.batch && recs < budget && recs < left) {
        gen_slot *s = &g->slots[n];
        uint64_t at = g->total.records + recs;
        uint64_t max = left - recs;
        memset(&s->sums, 0, sizeof(s->sums));
        s->vt_us = g->o.start_ms * 1000 + (uint64_t)((double)at * 1e6 / (double)vrate);
        g->iov[n].iov_len = g->o.proto->datagram(ex, &g->o, s->vt_us / 1000,
                                                 max > UINT32_MAX ? UINT32_MAX : (uint32_t)max,
                                                 g->iov[n].iov_base, &s->sums);
        s->sums.wire_bytes = g->iov[n].iov_len;
        recs += s->sums.records;
        n++;
    }
    return n;
}

/* Sends a built batch and counts (and captures) what went out. */
static void deliver(gen_run *g, gen_exporter *ex, unsigned n)
{
    if (!g->o.no_send && g->o.tcp)
        gen_stream_send(ex->fd, g->iov, n, g->sent, &g->send_errors);
    else if (!g->o.no_send)
        gen_send(&g->sender, ex->fd, g->iov, n, g->sent, &g->send_errors);
    for (unsigned i = 0; i < n; i++) {
        if (!g->o.no_send && !g->sent[i])
            continue; /* given up: not sent, not counted */
        sums_add(&g->total, &g->slots[i].sums);
        if (g->pcap.f)
            gen_pcap_write(&g->pcap, g->slots[i].vt_us, &ex->src, &g->o.target, g->iov[i].iov_base,
                           g->iov[i].iov_len);
        if (g->ipfix)
            fwrite(g->iov[i].iov_base, g->iov[i].iov_len, 1, g->ipfix);
    }
}

static void progress(gen_run *g, uint64_t now)
{
    if (g->o.quiet || now - g->progress_ns < 1000000000u)
        return;
    double dt = (double)(now - g->progress_ns) / 1e9;
    fprintf(stderr,
            "floe-gen: %.0f s: %.0f records/s, %llu records, %llu datagrams, "
            "%llu send errors\n",
            (double)(now - g->t0_ns) / 1e9, (double)(g->total.records - g->progress_records) / dt,
            (unsigned long long)g->total.records, (unsigned long long)g->total.datagrams,
            (unsigned long long)g->send_errors);
    g->progress_ns = now;
    g->progress_records = g->total.records;
}

static void run_loop(gen_run *g)
{
    const gen_opts *o = &g->o;
    uint64_t limit = o->records ? o->records : UINT64_MAX;
    uint64_t deadline = o->duration > 0 ? (uint64_t)(o->duration * 1e9) : UINT64_MAX;
    /* About a millisecond of records per batch, so pacing stays smooth. */
    uint64_t budget = o->rate ? (o->rate / 1000 ? o->rate / 1000 : 1) : UINT64_MAX;
    int paced = o->rate && !o->no_send;
    uint32_t k = 0;
    g->t0_ns = g->progress_ns = mono_ns();
    while (!gen_stop && g->total.records < limit) {
        uint64_t now = mono_ns();
        if (now - g->t0_ns >= deadline)
            break;
        if (paced) {
            uint64_t due = g->t0_ns + (uint64_t)((double)g->total.records * 1e9 / (double)o->rate);
            if (due > now)
                sleep_until(due);
        }
        progress(g, now);
        gen_exporter *ex = &g->ex[k];
        k = k + 1 == o->exporters ? 0 : k + 1;
        deliver(g, ex, build_batch(g, ex, limit - g->total.records, budget));
    }
    g->end_ns = mono_ns();
}

static void print_summary(const gen_run *g)
{
    const gen_opts *o = &g->o;
    const gen_sums *t = &g->total;
    double elapsed = (double)(g->end_ns - g->t0_ns) / 1e9;
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_json_kstr(&j, "proto", o->proto->name);
    floe_json_kstr(&j, "target", o->target_text);
    floe_json_ku64(&j, "exporters", o->exporters);
    floe_json_ku64(&j, "seed", o->seed);
    floe_json_ku64(&j, "rate_target", o->rate);
    floe_json_ku64(&j, "datagrams", t->datagrams);
    floe_json_ku64(&j, "records", t->records);
    floe_json_ku64(&j, "options_records", t->options_records);
    floe_json_ku64(&j, "template_records", t->template_records);
    floe_json_ku64(&j, "bytes", t->bytes);
    floe_json_ku64(&j, "packets", t->packets);
    if (o->biflow) {
        floe_json_ku64(&j, "reverse_bytes", t->reverse_bytes);
        floe_json_ku64(&j, "reverse_packets", t->reverse_packets);
    }
    floe_json_kstr(&j, "transport", o->tcp ? "tcp" : "udp");
    floe_json_ku64(&j, "wire_bytes", t->wire_bytes);
    floe_json_ku64(&j, "send_errors", g->send_errors);
    floe_json_key(&j, "gso");
    floe_json_bool(&j, g->sender.gso);
    floe_json_key(&j, "elapsed");
    floe_json_double(&j, elapsed);
    floe_json_ku64(&j, "rate", elapsed > 0 ? (uint64_t)((double)t->records / elapsed) : 0);
    floe_json_ku64(&j, "datagram_rate",
                   elapsed > 0 ? (uint64_t)((double)t->datagrams / elapsed) : 0);
    floe_json_key(&j, "protocols");
    floe_json_obj_begin(&j);
    floe_json_key(&j, o->proto->family);
    floe_json_obj_begin(&j);
    floe_json_ku64(&j, "datagrams", t->datagrams);
    floe_json_ku64(&j, "records", t->records);
    floe_json_ku64(&j, "bytes", t->bytes);
    floe_json_ku64(&j, "packets", t->packets);
    floe_json_obj_end(&j);
    floe_json_obj_end(&j);
    floe_json_obj_end(&j);
    printf("%s\n", floe_buf_ok(&b) ? b.data : "{}");
    floe_buf_close(&b);
}

int main(int argc, char **argv)
{
    gen_run g;
    memset(&g, 0, sizeof(g));
    int rc = parse_args(argc, argv, &g.o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = run_open(&g);
    if (rc == 0) {
        run_loop(&g);
        print_summary(&g);
    }
    if (gen_pcap_close(&g.pcap) != 0) {
        fprintf(stderr, "floe-gen: %s: write failed\n", g.o.pcap_path);
        rc = -1;
    }
    if (g.ipfix && (ferror(g.ipfix) | fclose(g.ipfix)) != 0) {
        fprintf(stderr, "floe-gen: %s: write failed\n", g.o.ipfix_path);
        rc = -1;
    }
    run_close(&g);
    return rc == 0 ? 0 : 1;
}
