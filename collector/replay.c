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
    floe_tables t;
    uint64_t clock_ms;      /* the capture time now */
} replay;

static void on_record(void *ud, const floe_record *r)
{
    replay *rp = ud;
    floe_tables_record(&rp->t, r, rp->clock_ms);
}

static void on_ifcounters(void *ud, const floe_ifcounters *c)
{
    replay *rp = ud;
    floe_tables_ifcounters(&rp->t, c, rp->clock_ms);
}

static void on_appname(void *ud, const floe_appname *a)
{
    replay *rp = ud;
    floe_tables_appname(&rp->t, a);
}

static void on_datagram(void *ud, const floe_addr *src, uint16_t sport, const uint8_t *p,
                        size_t n, uint64_t ts_ms)
{
    replay *rp = ud;
    if (ts_ms > rp->clock_ms)
        rp->clock_ms = ts_ms;
    /* The daemon's upkeep, on the capture's clock. */
    floe_tables_housekeep(&rp->t, rp->clock_ms, 1024);
    floe_ingest_datagram(&rp->o.ing, src, sport, p, n, rp->clock_ms);
}

static void host_sums(floe_json *j, floe_tables *t)
{
    uint64_t s[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < floe_pool_slots(&t->host_pool); i++) {
        const floe_host *h = floe_pool_at(&t->host_pool, i);
        if (!h)
            continue;
        s[0] += h->bytes_sent, s[1] += h->bytes_rcvd, s[2] += h->pkts_sent, s[3] += h->pkts_rcvd;
    }
    floe_json_key(j, "host_totals");
    floe_json_obj_begin(j);
    floe_json_ku64(j, "hosts", t->hosts.count);
    floe_json_ku64(j, "bytes_sent", s[0]);
    floe_json_ku64(j, "bytes_rcvd", s[1]);
    floe_json_ku64(j, "packets_sent", s[2]);
    floe_json_ku64(j, "packets_rcvd", s[3]);
    floe_json_obj_end(j);
}

static void dump(floe_json *j, replay *rp, unsigned what)
{
    floe_tables *t = &rp->t;
    if (what & DUMP_FLOWS) {
        floe_json_key(j, "flows");
        floe_json_arr_begin(j);
        for (size_t i = 0; i < floe_pool_slots(&t->flow_pool); i++)
            if (floe_pool_at(&t->flow_pool, i))
                floe_flow_json(j, t, &rp->o.ing.exporters, floe_pool_at(&t->flow_pool, i));
        floe_json_arr_end(j);
    }
    if (what & DUMP_HOSTS) {
        floe_json_key(j, "hosts");
        floe_json_arr_begin(j);
        for (size_t i = 0; i < floe_pool_slots(&t->host_pool); i++)
            if (floe_pool_at(&t->host_pool, i))
                floe_host_json(j, t, floe_pool_at(&t->host_pool, i));
        floe_json_arr_end(j);
    }
    if (what & DUMP_INTERFACES) {
        floe_json_key(j, "interfaces");
        floe_json_arr_begin(j);
        for (size_t i = 0; i < floe_pool_slots(&t->iface_pool); i++)
            if (floe_pool_at(&t->iface_pool, i))
                floe_iface_json(j, &rp->o.ing.exporters, floe_pool_at(&t->iface_pool, i));
        floe_json_arr_end(j);
    }
}

static void print_report(replay *rp, unsigned what)
{
    floe_buf b;
    floe_json j;
    floe_counters c;
    floe_tables_flush(&rp->t);
    floe_ingest_totals(&rp->o.ing, &c);
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_json_key(&j, "alerts"); /* the alert engine lands with the plugins */
    floe_json_arr_begin(&j);
    floe_json_arr_end(&j);
    floe_json_ku64(&j, "datagrams", c.datagrams);
    floe_json_ku64(&j, "records", c.records);
    floe_json_ku64(&j, "malformed", c.malformed);
    floe_json_ku64(&j, "flows", rp->t.flows.count);
    floe_json_ku64(&j, "flows_created", rp->t.st.flows_created);
    floe_json_ku64(&j, "flows_ended", rp->t.st.flows_ended);
    floe_json_ku64(&j, "interfaces", rp->t.ifaces.count);
    host_sums(&j, &rp->t);
    dump(&j, rp, what);
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
    if (rc == 0 && floe_tables_init(&rp->t, &rp->o.cfg, &rp->o.log, err, sizeof(err)) != 0) {
        fprintf(stderr, "floe replay: %s\n", err);
        col__offline_close(&rp->o);
        rc = 1;
    } else if (rc == 0) {
        rp->o.ing.out.record = on_record;
        rp->o.ing.out.ifcounters = on_ifcounters;
        rp->o.ing.out.appname = on_appname;
        rp->o.ing.out.ud = rp;
        rc = col__offline_feed(&rp->o, "floe replay", argv + optind, argc - optind, on_datagram,
                               rp);
        if (rc == 0)
            print_report(rp, what);
        floe_tables_end_all(&rp->t);
        floe_tables_close(&rp->t);
        col__offline_close(&rp->o);
    }
    free(rp);
    return rc;
}
