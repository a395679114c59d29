/*
 * bench/tables: the cost of floe's live tables, measured in one process.
 *
 *   make bench/tables && ./bench/tables [FLOWS [HOSTS [REPEAT]]]
 *
 * With the flow table bounded at FLOWS (default 1,000,000) and HOSTS
 * addresses (default 100,000), it measures, each the best of REPEAT runs
 * (default 3; the machine may be shared):
 *   - filling the table: FLOWS new flows while it grows;
 *   - new flows at the bound: FLOWS more, each evicting the oldest (what a
 *     stream of one record per conversation costs in steady state);
 *   - updates: a record for each live flow, in random order;
 *   - a full pool walk (what one top-N API page costs in total, before it
 *     is cut into slices).
 * Records go through the tables' prefetching pipeline in batches of 600,
 * as the daemon's recvmmsg batches do, with the upkeep slice after each
 * batch (flushes a second after, idle expiry), on a clock that moves a
 * millisecond every 1,000 records; nDPI labelling off and on. It also
 * reports the memory per flow and per host. Records are built in memory:
 * no decoding, no sockets.
 */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BATCH 600 /* records per recvmmsg batch: 20 datagrams of 30 v5 records */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* Flow i: client host i % hosts (10.x.y.z), server one of 4096 servers
 * (192.168.x.y, also hosts), distinct client port per flow. */
static void make_record(floe_record *r, uint64_t exporter, uint32_t i, uint32_t hosts)
{
    uint32_t c = i % hosts, s = i % 4096;
    uint8_t src[4] = {10, (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
    uint8_t dst[4] = {192, 168, (uint8_t)(s >> 8), (uint8_t)s};
    memset(r, 0, sizeof(*r));
    r->exporter_id = exporter;
    r->sampling = 1;
    floe_addr_from_v4(&r->src, src);
    floe_addr_from_v4(&r->dst, dst);
    r->sport = (uint16_t)(1024 + (i / hosts) % 60000);
    r->dport = (uint16_t)(i % 7 == 0 ? 53 : 443);
    r->ipproto = (uint8_t)(r->dport == 53 ? 17 : 6);
    r->bytes = 1500;
    r->packets = 3;
    r->in_if = 1 + i % 8;
    r->out_if = 9 + i % 8;
    r->has = FLOE_F(SRC) | FLOE_F(DST) | FLOE_F(SPORT) | FLOE_F(DPORT) | FLOE_F(IPPROTO) |
             FLOE_F(BYTES) | FLOE_F(PACKETS) | FLOE_F(IN_IF) | FLOE_F(OUT_IF);
}

typedef struct bench {
    floe_tables t;
    uint32_t flows, hosts;
    uint64_t clock; /* ms */
    uint64_t records;
} bench;

/* Feeds records first..first+n-1 (in a random order of them if shuffle)
 * through the pipeline in batches, with the upkeep after each; returns
 * the seconds it took. */
static double feed(bench *b, uint32_t first, uint32_t n, int shuffle)
{
    floe_record r;
    double t0 = now_s();
    for (uint32_t k = 0; k < n; k++) {
        /* A multiple of a prime visits every index of a range once. */
        uint32_t i = shuffle ? (uint32_t)(((uint64_t)k * 2654435761u) % n) : k;
        make_record(&r, 1, first + i, b->hosts);
        b->clock = 1000000 + b->records++ / 1000;
        floe_tables_push(&b->t, &r, b->clock);
        if ((k + 1) % BATCH == 0 || k + 1 == n) {
            floe_tables_drain(&b->t, b->clock);
            while (floe_tables_housekeep(&b->t, b->clock, 1024) >= 1024)
                ;
        }
    }
    return now_s() - t0;
}

typedef struct result {
    double fill, evict, update, walk; /* seconds */
    long rss0, rss_full;
    size_t hosts, bytes;
} result;

static void run_once(uint32_t flows, uint32_t hosts, int dpi, result *out)
{
    floe_config cfg;
    floe_log lg;
    char err[256];
    bench b;
    memset(&b, 0, sizeof(b));
    floe_config_defaults(&cfg);
    cfg.tables.max_flows = flows;
    cfg.tables.max_hosts = hosts + 4096;
    cfg.tables.dpi_enabled = dpi;
    floe_log_init(&lg, -1, 0);
    b.flows = flows;
    b.hosts = hosts;
    out->rss0 = rss_kib();
    if (floe_tables_init(&b.t, &cfg.tables, &lg, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    out->fill = feed(&b, 0, flows, 0);
    out->rss_full = rss_kib();
    out->evict = feed(&b, flows, flows, 0);
    out->update = feed(&b, flows, flows, 1);
    /* A full walk of the flow pool, as one API page does in slices. */
    uint64_t sum = 0;
    double t0 = now_s();
    size_t slots = floe_tables_slots(&b.t, FLOE_TABLE_FLOWS);
    for (size_t i = 0; i < slots; i++) {
        const floe_flow *f = floe_tables_at(&b.t, FLOE_TABLE_FLOWS, i);
        if (f)
            sum += f->bytes[0] + f->bytes[1];
    }
    out->walk = now_s() - t0;
    out->hosts = b.t.hosts.count;
    out->bytes = floe_tables_bytes(&b.t);
    if (sum != (uint64_t)flows * 3000 || b.t.flows.count != flows || b.t.st.flow_evictions != flows)
        fprintf(stderr, "check failed: %llu bytes, %zu flows, %llu evictions\n",
                (unsigned long long)sum, b.t.flows.count,
                (unsigned long long)b.t.st.flow_evictions);
    floe_tables_close(&b.t);
    floe_config_free(&cfg);
}

static void best_of(result *best, const result *r)
{
    if (best->fill == 0 || r->fill < best->fill)
        best->fill = r->fill;
    if (best->evict == 0 || r->evict < best->evict)
        best->evict = r->evict;
    if (best->update == 0 || r->update < best->update)
        best->update = r->update;
    if (best->walk == 0 || r->walk < best->walk)
        best->walk = r->walk;
}

static void memory(uint32_t flows, const result *r)
{
    /* The first fill touches fresh memory: its resident growth, less the
     * hosts at their entry size, over the flows, is the memory per flow. */
    double total = (double)(r->rss_full - r->rss0) * 1024.0;
    double host_entry = (double)sizeof(floe_host) + 64.0 * 7 / 5 / 7; /* a tmap slot, 5/7 full */
    printf("memory: %u flows and %zu hosts take %.1f MiB resident: %.0f bytes per flow "
           "(sizeof %zu, the rest its table slot, ring places and pool bitmap), %.0f per host "
           "(sizeof %zu + table slot); floe_tables_bytes says %.1f MiB\n\n",
           flows, r->hosts, total / 1048576.0, (total - (double)r->hosts * host_entry) / flows,
           sizeof(floe_flow), host_entry, sizeof(floe_host), (double)r->bytes / 1048576.0);
}

/* nDPI's guess alone, on public addresses (its IP lists are searched). */
static void guess_cost(void)
{
    floe_dpi *d = floe_dpi_new(16);
    floe_app_label l;
    floe_addr a, b;
    uint32_t n = 1000000, x = 12345;
    uint64_t labelled = 0;
    double t0 = now_s();
    for (uint32_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        uint8_t s[4] = {(uint8_t)(x >> 24 | 1), (uint8_t)(x >> 16), (uint8_t)(x >> 8), (uint8_t)x};
        uint8_t t[4] = {(uint8_t)(x >> 8 | 1), (uint8_t)x, (uint8_t)(x >> 16), (uint8_t)(x >> 24)};
        floe_addr_from_v4(&a, s);
        floe_addr_from_v4(&b, t);
        floe_dpi_guess(d, 6, &a, (uint16_t)(1024 + i % 60000), &b, 443, &l);
        labelled += l.app != 0;
    }
    double t1 = now_s();
    printf("\nnDPI guess on random public addresses, TCP 443: %.0f ns per call (%llu of %u "
           "labelled)\n",
           (t1 - t0) / n * 1e9, (unsigned long long)labelled, n);
    floe_dpi_free(d);
}

int main(int argc, char **argv)
{
    uint32_t flows = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000000;
    uint32_t hosts = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 100000;
    int repeat = argc > 3 ? atoi(argv[3]) : 3;
    if (flows < BATCH || hosts < 1 || repeat < 1) {
        fprintf(stderr, "usage: bench/tables [FLOWS (>= %d) [HOSTS [REPEAT]]]\n", BATCH);
        return 2;
    }
    result first;
    memset(&first, 0, sizeof(first));
    run_once(flows, hosts, 0, &first); /* the first run pays for fresh memory: not reported */
    memory(flows, &first);
    printf("| nDPI | flows | hosts | ns per new flow (filling) | ns per new flow at the bound "
           "(evicting) | ns per update | full walk ms |\n|---|---|---|---|---|---|---|\n");
    for (int dpi = 0; dpi < 2; dpi++) {
        result best, r;
        memset(&best, 0, sizeof(best));
        for (int k = 0; k < repeat; k++) {
            run_once(flows, hosts, dpi, &r);
            best_of(&best, &r);
        }
        printf("| %s | %u | %zu | %.0f | %.0f | %.0f | %.1f |\n", dpi ? "on" : "off", flows,
               r.hosts, best.fill / flows * 1e9, best.evict / flows * 1e9,
               best.update / flows * 1e9, best.walk * 1e3);
    }
    guess_cost();
    return 0;
}
