/*
 * `floe replay`: captures through the whole pipeline (ingest, tables, and
 * later plugins, alerts and timeseries), with the captures' own timestamps
 * as the clock, so idle timeouts happen as they would have live. Prints one
 * JSON document: the alerts raised, the ingest and table counters, sums
 * over the host table, and the tables asked for with --dump.
 */
#include "collector/internal.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

enum { DUMP_FLOWS = 1, DUMP_HOSTS = 2, DUMP_INTERFACES = 4 };

typedef struct replay {
    col__offline o;
    uv_loop_t loop;
    floe_engine e;
} replay;

/* The daemon's upkeep budget per slice, here per datagram. */
#define REPLAY_HOUSEKEEP_BUDGET 1024

static void on_datagram(void *ud, const floe_addr *src, uint16_t sport, const uint8_t *p, size_t n,
                        uint64_t ts_ms)
{
    replay *rp = ud;
    uint64_t now = ts_ms > rp->e.now_ms ? ts_ms : rp->e.now_ms;
    /* What the daemon does between datagrams, on the capture's clock. */
    floe_engine_advance(&rp->e, now);
    floe_engine_housekeep(&rp->e, now, REPLAY_HOUSEKEEP_BUDGET);
    floe_engine_datagram(&rp->e, src, sport, p, n, now);
    floe_engine_batch_end(&rp->e); /* libpcap reuses p for the next frame */
    uv_run(&rp->loop, UV_RUN_NOWAIT);
}

static void host_sums(floe_json *j, floe_tables *t)
{
    uint64_t s[4] = {0, 0, 0, 0};
    const floe_host *h;
    FLOE_HOSTS_FOREACH(t, h)
        s[0] += h->bytes_sent, s[1] += h->bytes_rcvd, s[2] += h->pkts_sent, s[3] += h->pkts_rcvd;
    floe_json_key(j, "host_totals");
    floe_json_obj_begin(j);
    floe_json_ku64(j, "hosts", t->hosts.count);
    floe_json_ku64(j, "bytes_sent", s[0]);
    floe_json_ku64(j, "bytes_rcvd", s[1]);
    floe_json_ku64(j, "packets_sent", s[2]);
    floe_json_ku64(j, "packets_rcvd", s[3]);
    floe_json_obj_end(j);
}

static void dump(floe_json *j, floe_tables *t, unsigned what)
{
    const floe_flow *f;
    const floe_host *h;
    const floe_iface *i;
    if (what & DUMP_FLOWS) {
        floe_json_key(j, "flows");
        floe_json_arr_begin(j);
        FLOE_FLOWS_FOREACH(t, f)
            floe_flow_json(j, t, f);
        floe_json_arr_end(j);
    }
    if (what & DUMP_HOSTS) {
        floe_json_key(j, "hosts");
        floe_json_arr_begin(j);
        FLOE_HOSTS_FOREACH(t, h)
            floe_host_json(j, t, h);
        floe_json_arr_end(j);
    }
    if (what & DUMP_INTERFACES) {
        floe_json_key(j, "interfaces");
        floe_json_arr_begin(j);
        FLOE_IFACES_FOREACH(t, i)
            floe_iface_json(j, t, i);
        floe_json_arr_end(j);
    }
}

static void print_report(replay *rp, unsigned what)
{
    floe_buf b;
    floe_json j;
    floe_counters c;
    floe_tables *t = &rp->e.tables;
    floe_tables_flush(t);
    floe_ingest_totals(&rp->e.ing, &c);
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_json_key(&j, "alerts"); /* the alert engine lands with the plugins */
    floe_json_arr_begin(&j);
    floe_json_arr_end(&j);
    floe_json_ku64(&j, "datagrams", c.datagrams);
    floe_json_ku64(&j, "records", c.records);
    floe_json_ku64(&j, "malformed", c.malformed);
    floe_json_ku64(&j, "flows", t->flows.count);
    floe_json_ku64(&j, "flows_created", t->st.flows_created);
    floe_json_ku64(&j, "flows_ended", t->st.flows_ended);
    floe_json_ku64(&j, "interfaces", t->ifaces.count);
    host_sums(&j, t);
    dump(&j, t, what);
    floe_json_key(&j, "scheduler");
    floe_json_obj_begin(&j);
    for (int p = 0; p < FLOE_PERIOD_COUNT; p++)
        floe_json_ku64(&j, floe_period_name(p), rp->e.sched.ticks[p]);
    floe_json_obj_end(&j);
    floe_json_obj_end(&j);
    floe_buf_putc(&b, '\n');
    fwrite(b.data, 1, b.len, stdout);
    floe_buf_close(&b);
}

static void replay_usage(FILE *f)
{
    fprintf(f, "usage: floe replay [-c FILE] [--dump flows|hosts|interfaces]... FILE...\n"
               "Feeds captures through the whole pipeline with their own timestamps as\n"
               "the clock and prints the alerts raised, counters and host totals.\n"
               "  -c, --config FILE  the config to run with\n"
               "  --dump TABLE       also print a table as it stands at the end\n");
}

static int parse_dump(const char *name, unsigned *what)
{
    static const struct {
        const char *name;
        unsigned bit;
    } tables[] = {{"flows", DUMP_FLOWS}, {"hosts", DUMP_HOSTS}, {"interfaces", DUMP_INTERFACES}};
    for (size_t i = 0; i < FLOE_ARRAY_LEN(tables); i++)
        if (strcmp(name, tables[i].name) == 0) {
            *what |= tables[i].bit;
            return 0;
        }
    return -1;
}

int floe_cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"dump", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    unsigned what = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c') {
            config_path = optarg;
        } else if (c == 'D' && parse_dump(optarg, &what) == 0) {
            continue;
        } else if (c == 'D') {
            fprintf(stderr, "floe replay: unknown table '%s' (flows, hosts or interfaces)\n",
                    optarg);
            return 2;
        } else if (c == 'h') {
            replay_usage(stdout);
            return 0;
        } else {
            replay_usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "floe replay: no capture file given\n");
        return 2;
    }
    replay *rp = calloc(1, sizeof(*rp));
    char err[256];
    if (!rp)
        return 1;
    int rc = col__offline_open(&rp->o, "floe replay", config_path);
    if (rc != 0) {
        free(rp);
        return rc;
    }
    rp->o.cfg.tables_enabled = 1; /* a replay is for what the tables make of it */
    if (uv_loop_init(&rp->loop) != 0) {
        fprintf(stderr, "floe replay: cannot start an event loop\n");
        rc = 1;
    } else {
        if (floe_engine_init(&rp->e, &rp->o.cfg, &rp->o.log, &rp->loop, FLOE_ENGINE_OFFLINE, 0, err,
                             sizeof(err)) != 0) {
            fprintf(stderr, "floe replay: %s\n", err);
            rc = 1;
        } else {
            rc = col__offline_feed(&rp->o, "floe replay", argv + optind, argc - optind, on_datagram,
                                   rp);
            if (rc == 0)
                print_report(rp, what);
        }
        floe_engine_close(&rp->e);
        /* Work handed to other threads comes back through the loop. */
        uv_run(&rp->loop, UV_RUN_DEFAULT);
        uv_loop_close(&rp->loop);
    }
    col__offline_close(&rp->o);
    free(rp);
    return rc;
}
