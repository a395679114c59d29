/*
 * `floe rrd migrate`: rewrites the RRD files whose layout (step, metrics,
 * retention) differs from their schema as configured now, keeping their
 * data. The schemas are the ones the daemon would define: the built-ins
 * and every loaded plugin's, with the config's retentions. Run it while the
 * daemon is stopped: a file the daemon holds is counted as failed.
 */
#include "collector/internal.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "rrd/rrd.h"

static void rrd_usage(FILE *f)
{
    fprintf(f, "usage: floe rrd migrate [-c FILE] [--data DIR] [--keep-old] [SCHEMA]...\n"
               "Rewrites the RRD files whose step, metrics or retention differ from their\n"
               "schema as configured now, keeping their data (every schema, or those named).\n"
               "Stop the daemon first.\n"
               "  -c, --config FILE  the config the daemon runs with (retentions, plugins)\n"
               "  -d, --data DIR     the data directory (default: the config's data_dir)\n"
               "      --keep-old     keep each old file beside the new one as NAME.rrd.old\n");
}

static int wanted(const char *name, char **names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return n == 0;
}

/* Migrates every wanted schema's directory; returns the files that failed,
 * or -1 when a named schema does not exist. */
static int migrate_all(floe_ts *ts, const char *top, int keep_old, char **names, int n)
{
    floe_ts_schema s;
    int failed = 0;
    for (int i = 0; i < n; i++)
        if (floe_ts_schema_find(ts, names[i], &s) != 0) {
            fprintf(stderr, "floe rrd: no schema '%s' (floe's and the plugins' are known)\n",
                    names[i]);
            return -1;
        }
    for (size_t i = 0; floe_ts_schema_at(ts, i, &s) == 0; i++) {
        char dir[4400], err[256] = "";
        struct stat st;
        if (!wanted(s.name, names, n))
            continue;
        int len = snprintf(dir, sizeof(dir), "%s/", top);
        for (const char *c = s.name; *c && len < (int)sizeof(dir) - 1; c++)
            dir[len++] = *c == ':' ? '/' : *c;
        dir[len] = '\0';
        if (stat(dir, &st) != 0)
            continue; /* no series yet */
        floe_ts_migrate_result r;
        memset(&r, 0, sizeof(r));
        int rc = floe_ts_migrate(ts, dir, &s, keep_old, &r, err, sizeof(err));
        printf("%s: %llu files, %llu migrated, %llu already in its layout, %llu failed%s%s\n",
               s.name, (unsigned long long)r.files_seen, (unsigned long long)r.files_migrated,
               (unsigned long long)r.files_same, (unsigned long long)r.files_failed,
               err[0] ? ": " : "", err);
        failed += (int)r.files_failed + (rc != 0 && !r.files_failed);
    }
    return failed;
}

int floe_cmd_rrd(int argc, char **argv)
{
    enum { OPT_KEEP_OLD = 1000 };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, 'd'},
        {"keep-old", no_argument, NULL, OPT_KEEP_OLD},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        rrd_usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "migrate") != 0) {
        rrd_usage(stderr);
        return 2;
    }
    const char *config_path = NULL, *data_dir = NULL;
    int keep_old = 0, c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "c:d:h", opts, NULL)) != -1) {
        if (c == 'c') {
            config_path = optarg;
        } else if (c == 'd') {
            data_dir = optarg;
        } else if (c == OPT_KEEP_OLD) {
            keep_old = 1;
        } else if (c == 'h') {
            rrd_usage(stdout);
            return 0;
        } else {
            rrd_usage(stderr);
            return 2;
        }
    }
    col__offline o;
    int rc = col__offline_open(&o, "floe rrd", config_path);
    if (rc != 0)
        return rc;
    if (data_dir && floe_config_set_str(&o.cfg.data_dir, data_dir) != 0) {
        col__offline_close(&o);
        return 1;
    }
    o.cfg.offline_stores = 1;
    o.cfg.alerts_enabled = 0;
    o.cfg.ts_enabled = 1;
    o.cfg.tables_enabled = 1; /* the plugins, whose schemas count too */
    floe_log_init(&o.log, FLOE_LOG_WARN, 0);
    uv_loop_t loop;
    floe_engine e;
    char err[512];
    rc = 1;
    if (uv_loop_init(&loop) != 0) {
        fprintf(stderr, "floe rrd: cannot start an event loop\n");
    } else {
        if (floe_engine_init(&e, &o.cfg, &o.log, &loop, FLOE_ENGINE_OFFLINE, 0, err, sizeof(err)) !=
            0) {
            fprintf(stderr, "floe rrd: %s\n", err);
        } else {
            char top[4200];
            snprintf(top, sizeof(top), "%s/timeseries", o.cfg.data_dir);
            int failed = migrate_all(e.ts, top, keep_old, argv + 1 + optind, argc - 1 - optind);
            rc = failed < 0 ? 2 : failed > 0 ? 1 : 0;
        }
        floe_engine_close(&e);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    col__offline_close(&o);
    return rc;
}
