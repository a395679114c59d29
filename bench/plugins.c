/*
 * bench/plugins: what plugins cost per flow event, on one core, offline
 * (no sockets): N new flows (each record a new conversation, a typical
 * TLS/HTTP/DNS mix) go through the tables with
 *   none      no plugins at all;
 *   builtin   the built-in plugins, as installed (their filters match
 *             almost none of this traffic);
 *   lua1/5/20 1, 5 or 20 trivial flow checks that every flow matches.
 * It prints the time per new flow for each, and the difference to "none":
 * the cost of the filters, and of a Lua call per flow event. Built on
 * demand: make bench/plugins && bench/plugins [FLOWS [SETUP...]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/engine.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void write_checks(const char *root, int n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/bench", root);
    mkdir(root, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/bench/checks", root);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/bench/checks/flow", root);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/bench/manifest.lua", root);
    FILE *f = fopen(path, "w");
    if (!f)
        exit(1);
    fputs("return {}\n", f);
    fclose(f);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/bench/checks/flow/c%02d.lua", root, i);
        if (!(f = fopen(path, "w")))
            exit(1);
        fputs("return { hooks = { protocolDetected = function(flow, conf)\n"
              "  if flow:bytes() + flow:packets() < 0 then error('never') end\n"
              "end } }\n",
              f);
        fclose(f);
    }
}

static void make_record(floe_record *r, uint32_t i)
{
    static const uint16_t ports[] = {443, 443, 443, 80, 53, 443, 22, 8080};
    uint8_t src[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
    uint8_t dst[4] = {192, 0, (uint8_t)((i >> 4) & 255), (uint8_t)(i & 15)};
    memset(r, 0, sizeof(*r));
    r->exporter_id = 1;
    r->sampling = 1;
    floe_addr_from_v4(&r->src, src);
    floe_addr_from_v4(&r->dst, dst);
    r->sport = (uint16_t)(1024 + i % 60000);
    r->dport = ports[i % 8];
    r->ipproto = r->dport == 53 ? 17 : 6;
    r->bytes = 1500;
    r->packets = 3;
    r->tcp_flags = r->ipproto == 6 ? 0x1b : 0;
    r->has = FLOE_F(SRC) | FLOE_F(DST) | FLOE_F(SPORT) | FLOE_F(DPORT) | FLOE_F(IPPROTO) |
             FLOE_F(BYTES) | FLOE_F(PACKETS) | FLOE_F(TCP_FLAGS);
}

/* Seconds to push n new flows through an offline engine set up as named. */
static double run(const char *builtin, const char *dir, uint32_t n, floe_plugins_stats *st)
{
    floe_config cfg;
    floe_log log;
    floe_engine e;
    char err[256];
    floe_config_defaults(&cfg);
    cfg.tables.max_flows = n + 16;
    cfg.tables.max_hosts = n + 70000;
    floe_config_set_str(&cfg.builtin_plugins, builtin);
    if (dir)
        floe_config_add_list(&cfg.plugin_dirs, &cfg.n_plugin_dirs, dir);
    floe_log_init(&log, FLOE_LOG_ERROR, 0);
    if (floe_engine_init(&e, &cfg, &log, NULL, FLOE_ENGINE_OFFLINE, 1700000000000ULL, err,
                         sizeof(err)) != 0) {
        fprintf(stderr, "bench/plugins: %s\n", err);
        exit(1);
    }
    floe_record r;
    double t0 = now_s();
    for (uint32_t i = 0; i < n; i++) {
        make_record(&r, i);
        floe_tables_record(&e.tables, &r, 1700000000000ULL + i / 1000);
    }
    double t = now_s() - t0;
    floe_plugins_stats_get(e.plugins, st);
    floe_engine_close(&e);
    floe_config_free(&cfg);
    return t;
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)atol(argv[1]) : 1000000;
    if (n == 0) {
        fprintf(stderr, "usage: bench/plugins [FLOWS [none|builtin|lua1|lua5|lua20]...]\n");
        return 2;
    }
    static const struct {
        const char *name, *builtin;
        int checks;
    } setups[] = {
        {"none", "none", 0}, {"builtin", "", 0},    {"lua1", "none", 1},
        {"lua5", "none", 5}, {"lua20", "none", 20},
    };
    char tmp[] = "/tmp/floe-bench-plugins-XXXXXX";
    if (!mkdtemp(tmp))
        return 1;
    double base = 0;
    printf("| setup | per-flow checks called | ns per new flow | over none | Lua calls | ns per "
           "Lua call (own clock) |\n");
    printf("|---|---|---|---|---|---|\n");
    for (size_t k = 0; k < FLOE_ARRAY_LEN(setups); k++) {
        int wanted = argc <= 2;
        for (int a = 2; a < argc; a++)
            wanted |= strcmp(argv[a], setups[k].name) == 0;
        if (!wanted)
            continue;
        char dir[256];
        snprintf(dir, sizeof(dir), "%s/%s", tmp, setups[k].name);
        if (setups[k].checks)
            write_checks(dir, setups[k].checks);
        floe_plugins_stats st;
        double best = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            double t = run(setups[k].builtin, setups[k].checks ? dir : NULL, n, &st);
            best = t < best ? t : best;
        }
        double ns = best * 1e9 / n;
        if (k == 0)
            base = ns;
        printf("| %s | %d | %.0f | %+.0f | %llu | %.0f |\n", setups[k].name, setups[k].checks, ns,
               ns - base, (unsigned long long)st.calls,
               st.calls ? (double)st.ns / (double)st.calls : 0.0);
    }
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    return system(cmd) == 0 ? 0 : 1;
}
