/*
 * `floe replay`: captures through the whole pipeline (ingest, tables, and
 * later plugins, alerts and timeseries), with the captures' own timestamps
 * as the clock, so idle timeouts happen as they would have live. Prints one
 * JSON document: the alerts raised, the ingest and table counters, sums
 * over the host table, and the tables asked for with --dump.
 */
#include "collector/internal.h"

#include "alerts/alerts.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

enum { DUMP_FLOWS = 1, DUMP_HOSTS = 2, DUMP_INTERFACES = 4 };

typedef struct replay {
    col__offline o;
    uv_loop_t loop;
    floe_engine e;
    floe_buf alerts; /* the alert events, as JSON objects separated by commas */
    uint64_t n_alerts;
} replay;

#define REPLAY_MAX_ALERTS 100000 /* printed; the rest are counted */

static void alert_json(floe_json *j, const floe_alert *a)
{
    char addr[FLOE_ADDR_STRLEN];
    floe_json_obj_begin(j);
    floe_json_kstr(j, "kind", floe_alert_kind_name(a->kind));
    floe_json_ku64(j, "when_ms", a->when_ms);
    floe_json_kstr(j, "type", a->type);
    floe_json_kstr(j, "check", a->check);
    floe_json_kstr(j, "entity", floe_entity_name(a->entity_type));
    floe_json_kstr(j, "value", a->entity);
    floe_json_kstr(j, "severity", floe_severity_name(a->severity));
    floe_json_ku64(j, "score", a->score);
    floe_json_key(j, "info");
    if (a->info)
        floe_json_raw(j, a->info);
    else
        floe_json_null(j);
    if (a->has_flow) {
        floe_json_key(j, "flow");
        floe_json_obj_begin(j);
        floe_json_kstr(j, "client", floe_addr_format(&a->cli, addr));
        floe_json_ku64(j, "client_port", a->cli_port);
        floe_json_kstr(j, "server", floe_addr_format(&a->srv, addr));
        floe_json_ku64(j, "server_port", a->srv_port);
        floe_json_ku64(j, "l4", a->l4);
        floe_json_kstr(j, "app", a->app);
        floe_json_obj_end(j);
    }
    floe_json_obj_end(j);
}

static void on_alert(void *ud, const struct floe_alert *a)
{
    replay *rp = ud;
    if (rp->n_alerts++ >= REPLAY_MAX_ALERTS)
        return;
    floe_json j;
    if (rp->alerts.len)
        floe_buf_putc(&rp->alerts, ',');
    floe_json_init(&j, &rp->alerts);
    alert_json(&j, a);
}

/* How many flows got each status, over the whole replay. */
static void statuses_json(floe_json *j, floe_plugins *P)
{
    floe_json_key(j, "statuses");
    floe_json_obj_begin(j);
    for (int32_t id = 0; P && floe_plugins_status_key(P, (uint32_t)id); id++) {
        uint64_t n = floe_plugins_status_count(P, (uint32_t)id);
        if (n)
            floe_json_ku64(j, floe_plugins_status_key(P, (uint32_t)id), n);
    }
    floe_json_obj_end(j);
}

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

/*
 * The report: the tables as they stand at the end of the captures, then,
 * after the engine has finished (every flow ended, so every flowEnd hook
 * has run), the alerts and statuses the plugins raised.
 */
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
    floe_json_ku64(&j, "datagrams", c.datagrams);
    floe_json_ku64(&j, "records", c.records);
    floe_json_ku64(&j, "malformed", c.malformed);
    floe_json_ku64(&j, "flows", t->flows.count);
    floe_json_ku64(&j, "flows_created", t->st.flows_created);
    floe_json_ku64(&j, "interfaces", t->ifaces.count);
    host_sums(&j, t);
    dump(&j, t, what);
    floe_engine_finish(&rp->e);
    floe_json_ku64(&j, "flows_ended", t->st.flows_ended);
    floe_json_key(&j, "scheduler");
    floe_json_obj_begin(&j);
    for (int p = 0; p < FLOE_PERIOD_COUNT; p++)
        floe_json_ku64(&j, floe_period_name(p), rp->e.sched.ticks[p]);
    floe_json_obj_end(&j);
    statuses_json(&j, rp->e.plugins);
    floe_json_ku64(&j, "alerts_raised", rp->n_alerts);
    floe_json_key(&j, "alerts");
    floe_json_raw(&j, "[");
    floe_buf_append(&b, rp->alerts.data ? rp->alerts.data : "", rp->alerts.len);
    floe_buf_putc(&b, ']');
    floe_json_obj_end(&j);
    floe_buf_putc(&b, '\n');
    fwrite(b.data, 1, b.len, stdout);
    floe_buf_close(&b);
}

static void replay_usage(FILE *f)
{
    fprintf(f, "usage: floe replay [-c FILE] [--data DIR] [--dump flows|hosts|interfaces]...\n"
               "                   FILE...\n"
               "Feeds captures (pcap, pcapng or IPFIX files) through the whole pipeline\n"
               "with their own timestamps as the clock (an IPFIX file's: export times)\n"
               "and prints the alerts raised, counters and host totals.\n"
               "  -c, --config FILE  the config to run with\n"
               "  -d, --data DIR     also keep the alerts and timeseries in DIR, as the\n"
               "                     daemon would (default: keep nothing)\n"
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
        {"data", required_argument, NULL, 'd'},
        {"dump", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *data_dir = NULL;
    unsigned what = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:d:h", opts, NULL)) != -1) {
        if (c == 'c') {
            config_path = optarg;
        } else if (c == 'd') {
            data_dir = optarg;
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
    char err[256] = "out of memory";
    if (!rp)
        return 1;
    floe_buf_init(&rp->alerts);
    int rc = col__offline_open(&rp->o, "floe replay", config_path);
    if (rc != 0) {
        free(rp);
        return rc;
    }
    rp->o.cfg.tables_enabled = 1; /* a replay is for what the tables make of it */
    if (data_dir && (floe_config_set_str(&rp->o.cfg.data_dir, data_dir) != 0 ||
                     floe_mkdirs(data_dir, 0750, err, sizeof(err)) != 0)) {
        fprintf(stderr, "floe replay: --data: %s\n", err);
        col__offline_close(&rp->o);
        floe_buf_close(&rp->alerts);
        free(rp);
        return 1;
    }
    rp->o.cfg.offline_stores = data_dir != NULL;
    if (uv_loop_init(&rp->loop) != 0) {
        fprintf(stderr, "floe replay: cannot start an event loop\n");
        rc = 1;
    } else {
        if (floe_engine_init(&rp->e, &rp->o.cfg, &rp->o.log, &rp->loop, FLOE_ENGINE_OFFLINE, 0, err,
                             sizeof(err)) != 0) {
            fprintf(stderr, "floe replay: %s\n", err);
            rc = 1;
        } else {
            rp->e.tap.alert = on_alert;
            rp->e.tap.ud = rp;
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
    floe_buf_close(&rp->alerts);
    free(rp);
    return rc;
}
