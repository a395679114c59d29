/*
 * bench/tables: the cost of floe's live tables, measured in one process.
 *
 *   make bench/tables && ./bench/tables [FLOWS [HOSTS]]
 *
 * Fills the tables with FLOWS distinct conversations (default 1,000,000)
 * among HOSTS addresses (default 100,000), then updates them again, with
 * nDPI labelling on and off. Reports the resident memory per flow and per
 * host, the records per second for new and for existing flows, and the cost
 * of a full pool walk (what one top-N API page costs in total, before it is
 * cut into slices). Records are built in memory: no decoding, no sockets.
 */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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
static void make_record(floe_record *r, const floe_exporter *ex, uint32_t i, uint32_t hosts)
{
    uint32_t c = i % hosts, s = i % 4096;
    uint8_t src[4] = {10, (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
    uint8_t dst[4] = {192, 168, (uint8_t)(s >> 8), (uint8_t)s};
    memset(r, 0, sizeof(*r));
    r->exporter_id = ex->id;
    r->sampling = 1;
    floe_addr_from_v4(&r->src, src);
    floe_addr_from_v4(&r->dst, dst);
    r->sport = (uint16_t)(1024 + (i / hosts) % 60000);
    r->dport = (uint16_t)(i % 7 == 0 ? 53 : 443);
    r->ipproto = (uint8_t)(r->dport == 53 ? 17 : 6);
    r->bytes = 1500;
    r->packets = 3;
    r->has = FLOE_F(SRC) | FLOE_F(DST) | FLOE_F(SPORT) | FLOE_F(DPORT) | FLOE_F(IPPROTO) |
             FLOE_F(BYTES) | FLOE_F(PACKETS);
}

static void run(uint32_t flows, uint32_t hosts, int dpi, int report)
{
    floe_config cfg;
    floe_log lg;
    floe_tables t;
    floe_exporter ex;
    char err[256];
    floe_record r;

    floe_config_defaults(&cfg);
    cfg.tables.max_flows = flows;
    cfg.tables.max_hosts = hosts + 4096;
    cfg.tables.dpi_enabled = dpi;
    floe_log_init(&lg, -1, 0);
    memset(&ex, 0, sizeof(ex));
    ex.id = 1;
    long rss0 = rss_kib();
    if (floe_tables_init(&t, &cfg.tables, &lg, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    long rss_init = rss_kib();
    double t0 = now_s();
    for (uint32_t i = 0; i < flows; i++) {
        make_record(&r, &ex, i, hosts);
        floe_tables_record(&t, &r, 1000);
    }
    double t1 = now_s();
    for (uint32_t i = 0; i < flows; i++) {
        make_record(&r, &ex, i, hosts);
        floe_tables_record(&t, &r, 2000);
    }
    double t2 = now_s();
    long rss_full = rss_kib();
    /* A full walk of the flow pool, as one API page does in slices. */
    uint64_t sum = 0;
    size_t slots = floe_pool_slots(&t.flow_pool);
    for (size_t i = 0; i < slots; i++) {
        const floe_flow *f = floe_pool_at(&t.flow_pool, i);
        if (f)
            sum += f->bytes[0] + f->bytes[1];
    }
    double t3 = now_s();
    if (!report) {
        /* The first fill touches fresh memory: its resident growth, less the
         * hosts at their entry size (struct + bucket pointer), over the
         * flows, is the memory per flow. */
        double total = (double)(rss_full - rss0) * 1024.0;
        double host_entry = (double)sizeof(floe_host) + sizeof(void *);
        printf("memory: %u flows and %zu hosts take %.1f MiB resident: %.0f bytes per flow "
               "(sizeof %zu + bucket + pool), %.0f per host (sizeof %zu + bucket); "
               "floe_tables_bytes says %.1f MiB\n\n",
               flows, t.hosts.count, total / 1048576.0,
               (total - (double)t.hosts.count * host_entry) / flows, sizeof(floe_flow), host_entry,
               sizeof(floe_host), floe_tables_bytes(&t) / 1048576.0);
        printf("| nDPI | flows | hosts | new flows/s | updates/s | ns per new flow | "
               "full walk ms |\n|---|---|---|---|---|---|---|\n");
    } else {
        printf("| %s | %u | %zu | %.2f M | %.2f M | %.0f | %.1f |\n", dpi ? "on" : "off", flows,
               t.hosts.count, flows / (t1 - t0) / 1e6, flows / (t2 - t1) / 1e6,
               (t1 - t0) / flows * 1e9, (t3 - t2) * 1e3);
    }
    (void)rss_init;
    if (sum / 3000 != flows)
        fprintf(stderr, "check failed: %llu\n", (unsigned long long)(sum / 3000));
    floe_tables_close(&t);
    floe_config_free(&cfg);
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
    /* The first run pays the page faults of fresh memory; run a warm-up
     * that is not reported, then each configuration. */
    run(flows, hosts, 0, 0);
    run(flows, hosts, 0, 1);
    run(flows, hosts, 1, 1);
    guess_cost();
    return 0;
}
