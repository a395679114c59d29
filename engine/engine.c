/*
 * The engine object: the one place where ingest, the tables and the
 * scheduler are built and wired, for the daemon, replay and the fuzz
 * harness alike. Decoded records enter the tables' prefetching pipeline,
 * which the caller drains at the end of each batch of datagrams; the
 * scheduler runs on whatever clock the caller advances.
 */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "alerts/alerts.h"
#include "rrd/rrd.h"

/* Templates are swept for expiry every this often on the engine's clock. */
#define SWEEP_EVERY_MS 10000
/* Live, the plugins' periodic work gets this much of each loop turn. */
#define PLUGIN_SLICE_NS 2000000

static void on_record(void *ud, const floe_record *r)
{
    floe_engine *e = ud;
    floe_tables_push(&e->tables, r, e->ing.now_ms);
}

static floe_record *on_slot(void *ud)
{
    floe_engine *e = ud;
    return floe_tables_slot(&e->tables);
}

static void on_ifcounters(void *ud, const floe_ifcounters *c)
{
    floe_engine *e = ud;
    floe_tables_ifcounters(&e->tables, c, e->ing.now_ms);
}

static void on_appname(void *ud, const floe_appname *a)
{
    floe_engine *e = ud;
    floe_tables_drain(&e->tables, e->ing.now_ms); /* names apply to the records after them */
    floe_tables_appname(&e->tables, a);
}

/* Names a status id for the tables' JSON: the plugins own the registry. */
static const char *status_key(void *ud, uint32_t id)
{
    floe_engine *e = ud;
    return e->plugins ? floe_plugins_status_key(e->plugins, id) : NULL;
}

int floe_engine_exporter_addr(floe_engine *e, uint64_t id, floe_addr *out)
{
    const floe_exporter *ex = floe_exporters_by_id(&e->ing.exporters, id);
    if (!ex)
        return FLOE_ENOTFOUND;
    *out = ex->key.addr;
    return 0;
}

/* Names a flow's exporter id for the tables' JSON. */
static int exporter_addr(void *ud, uint64_t id, floe_addr *out)
{
    return floe_engine_exporter_addr(ud, id, out);
}

static void on_tick(void *ud, int period, uint64_t boundary_ms)
{
    floe_engine *e = ud;
    log_debug(e->log, "engine: %s tick at %llu", floe_period_name(period),
              (unsigned long long)boundary_ms);
    if (e->plugins) {
        if (e->tables_on)
            floe_tables_flush(&e->tables); /* periodic checks see up-to-date hosts */
        floe_plugins_tick(e->plugins, period, boundary_ms);
    }
    if (period == FLOE_PERIOD_MIN)
        floe_series_tick(e, boundary_ms);
}

/* ---- what the plugins see ------------------------------------------------ */

static void on_alert(void *ud, const struct floe_alert *a)
{
    floe_engine *e = ud;
    e->n_alerts++;
    if (e->alerts)
        floe_alerts_push(e->alerts, a);
    if (e->history)
        floe_engine_history_alert(e, a);
    if (e->tap.alert)
        e->tap.alert(e->tap.ud, a);
}

/* ---- the alert store ------------------------------------------------------ */

static int alerts_open(floe_engine *e, char *err, size_t errlen)
{
    const floe_config *cfg = e->cfg;
    floe_alerts_opts o;
    floe_alerts_opts_defaults(&o);
    o.dir = cfg->data_dir;
    o.queue_max = cfg->alerts_queue_max;
    o.repeat_window_ms = (uint64_t)cfg->alerts_repeat_window * 1000;
    /* A replay's alerts carry the capture's time, which may be older than
     * max_age by the wall clock the store prunes with: keep them. */
    o.max_age_s = e->mode == FLOE_ENGINE_LIVE ? (uint64_t)cfg->alerts_max_age * 86400 : 0;
    o.max_rows = cfg->alerts_max_rows;
    o.endpoints = cfg->alert_endpoints;
    o.n_endpoints = cfg->n_alert_endpoints;
    if (!(e->alerts = floe_alerts_open(&o, e->log, err, errlen)))
        return FLOE_EIO;
    for (size_t i = 0; i < cfg->n_alert_exclusions; i++) {
        floe_alert_rule r;
        const char *json = cfg->alert_exclusions[i];
        if (floe_alert_rule_parse(&r, json, strlen(json), err, errlen) == 0) {
            floe_alerts_exclusion_add(e->alerts, &r, 0, NULL);
            floe_alert_rule_close(&r);
        }
    }
    return 0;
}

static int restore_engaged(void *ud, int64_t id, const floe_alert *a)
{
    (void)id;
    floe_engine *e = ud;
    floe_plugins_engaged_restore(e->plugins, a);
    return 0;
}

/* A plugin's schema; timeseries.retentions wins over the plugin's own. */
static int ts_define(void *ud, const struct floe_ts_schema *s, char *err, size_t errlen)
{
    floe_engine *e = ud;
    if (!e->ts)
        return 0;
    const char *keep = floe_config_retention(e->cfg, s->name);
    if (!keep || strncmp(s->name, "host:", 5) == 0)
        return floe_ts_define(e->ts, s, err, errlen);
    floe_ts_schema mine = *s;
    int rc = floe_ts_schema_set_retention(&mine, keep, err, errlen);
    return rc ? rc : floe_ts_define(e->ts, &mine, err, errlen);
}

void floe_engine_ts_append(floe_engine *e, const char *schema, const char *const *tags,
                           const double *values, size_t n, uint64_t when_s)
{
    if (e->ts)
        floe_ts_append(e->ts, schema, tags, values, (unsigned)n, (int64_t)when_s);
    if (e->tap.ts)
        e->tap.ts(e->tap.ud, schema, tags, values, n, when_s);
}

static void ts_append(void *ud, const char *schema, const char *const *tags, const double *values,
                      size_t n, uint64_t when_s)
{
    floe_engine_ts_append(ud, schema, tags, values, n, when_s);
}

/* ---- the timeseries store -------------------------------------------------- */

static int ts_open(floe_engine *e, char *err, size_t errlen)
{
    const floe_config *cfg = e->cfg;
    char dir[4200];
    floe_ts_opts o;
    floe_ts_opts_default(&o);
    snprintf(dir, sizeof(dir), "%s/timeseries", cfg->data_dir);
    o.dir = dir;
    o.retention = cfg->ts_retention;
    o.rrdcached = cfg->rrdcached;
    o.queue_max = cfg->ts_queue_max;
    o.cleanup_age_s = cfg->ts_cleanup_age * 86400u;
    /* A replay's minutes come faster than real time: nothing to pace. A
     * replay writes everything before it ends; a daemon saves what its
     * shutdown had no time for, and queues it again at the next start. */
    o.spread = e->mode == FLOE_ENGINE_LIVE;
    o.shutdown_ms = e->mode == FLOE_ENGINE_LIVE ? cfg->ts_shutdown_max * 1000u : 0;
    e->ts_log = *e->log;
    if (!(e->ts = floe_ts_new(&o, &e->ts_log, err, errlen)))
        return FLOE_EIO;
    return floe_series_define(e, err, errlen);
}

/* The points the last shutdown saved for later (rrd.h). */
static void ts_journal_load(floe_engine *e)
{
    char err[512] = "";
    long n = floe_ts_journal_load(e->ts, err, sizeof(err));
    if (n < 0)
        log_warn(e->log, "timeseries: %s", err);
    else if (n > 0)
        log_info(e->log, "timeseries: %ld points the last shutdown saved to %s are queued again", n,
                 FLOE_TS_JOURNAL);
}

static int exporter_at(void *ud, size_t i, floe_plugin_exporter *out)
{
    floe_engine *e = ud;
    floe_exporter *ex;
    size_t k = 0;
    /* Walks from the start each time: exporters are few, and the list can
     * change between slices of a periodic run. */
    FLOE_EXPORTERS_FOREACH(&e->ing.exporters, ex) {
        if (k++ != i)
            continue;
        memset(out, 0, sizeof(*out));
        out->id = ex->id;
        out->addr = ex->key.addr;
        out->domain = ex->key.domain;
        out->proto = floe_proto_name((int)ex->key.proto);
        out->sampling = ex->dec.sampling ? ex->dec.sampling : 1;
        out->first_seen_ms = ex->first_seen_ms;
        out->last_seen_ms = ex->last_seen_ms;
        out->datagrams = ex->c.datagrams;
        out->records = ex->c.records;
        out->malformed = ex->c.malformed;
        out->lost = ex->c.lost;
        out->missing_template = ex->c.missing_template;
        out->templates = ex->c.templates;
        out->seq_gaps = ex->c.seq_gaps;
        return 0;
    }
    return -1;
}

static void system_view(void *ud, floe_plugin_system *out)
{
    floe_engine_system(ud, out);
}

void floe_engine_system(floe_engine *e, floe_plugin_system *out)
{
    floe_counters t;
    floe_ingest_totals(&e->ing, &t);
    memset(out, 0, sizeof(*out));
    out->uptime_s = (e->now_ms - e->start_ms) / 1000;
    out->datagrams = t.datagrams;
    out->records = t.records;
    out->malformed = t.malformed;
    out->dropped = t.dropped;
    out->lost = t.lost;
    for (floe_list *it = e->sources.next; it != &e->sources; it = it->next) {
        floe_source *s = FLOE_CONTAINER_OF(it, floe_source, link);
        out->socket_drops += s->drops ? s->drops(s) : 0;
    }
    out->exporters = e->ing.exporters.map.count;
    if (e->tables_on) {
        out->flows = e->tables.flows.count;
        out->hosts = e->tables.hosts.count;
        out->interfaces = e->tables.ifaces.count;
        out->flows_created = e->tables.st.flows_created;
        out->flows_ended = e->tables.st.flows_ended;
        out->flow_evictions = e->tables.st.flow_evictions;
        out->host_full = e->tables.st.host_full;
    }
}

/* The built-ins: the configured folder, else the installed one, else the
 * source tree's (a build that was never installed). */
static const char *builtin_dir(const floe_config *cfg)
{
    struct stat st;
    if (cfg->builtin_plugins[0])
        return strcmp(cfg->builtin_plugins, "none") == 0 ? NULL : cfg->builtin_plugins;
    if (stat(FLOE_PLUGINS_DIR, &st) == 0 && S_ISDIR(st.st_mode))
        return FLOE_PLUGINS_DIR;
    return FLOE_SRC_PLUGINS_DIR;
}

static int plugins_start(floe_engine *e, char *err, size_t errlen)
{
    const floe_config *cfg = e->cfg;
    floe_plugins_opts o;
    floe_plugins_env env;
    char state[1100];
    char **dirs = calloc(cfg->n_plugin_dirs + 1, sizeof(*dirs));
    if (!dirs) {
        snprintf(err, errlen, "out of memory");
        return FLOE_ENOMEM;
    }
    size_t n = 0;
    if (builtin_dir(cfg))
        dirs[n++] = (char *)builtin_dir(cfg);
    for (size_t i = 0; i < cfg->n_plugin_dirs; i++)
        dirs[n++] = cfg->plugin_dirs[i];
    floe_plugins_opts_defaults(&o);
    o.dirs = dirs;
    o.n_dirs = n;
    o.only = cfg->only_plugin;
    snprintf(state, sizeof(state), "%s/plugins-config.json", cfg->data_dir);
    o.state_path = e->mode == FLOE_ENGINE_LIVE ? state : NULL;
    o.checks_json = cfg->checks;
    o.mem_limit = (size_t)cfg->lua_memory_mb << 20;
    o.insn_limit = cfg->lua_instructions;
    o.max_failures = cfg->lua_failures;
    o.cpu_share = cfg->lua_cpu_share;
    memset(&env, 0, sizeof(env));
    env.tables = &e->tables;
    env.log = e->log;
    env.loop = e->mode == FLOE_ENGINE_LIVE ? (struct uv_loop_s *)e->loop : NULL;
    env.live = e->mode == FLOE_ENGINE_LIVE;
    env.ud = e;
    env.alert = on_alert;
    env.ts_define = ts_define;
    env.ts_append = ts_append;
    env.exporter_at = exporter_at;
    env.system = system_view;
    e->plugins = floe_plugins_new(&o, &env, err, errlen);
    free(dirs);
    if (!e->plugins)
        return FLOE_ENOMEM;
    floe_plugins_set_clock(e->plugins, e->now_ms);
    e->tables.hooks.event = floe_plugins_flow_event;
    e->tables.hooks.ud = e->plugins;
    e->tables.hooks.wanted = floe_plugins_wanted(e->plugins);
    e->tables.names.status = status_key;
    return 0;
}

int floe_engine_init(floe_engine *e, const floe_config *cfg, floe_log *log, uv_loop_t *loop,
                     int mode, uint64_t now_ms, char *err, size_t errlen)
{
    memset(e, 0, sizeof(*e));
    e->cfg = cfg;
    e->log = log;
    e->loop = loop;
    e->mode = mode;
    e->start_ms = e->now_ms = now_ms;
    floe_list_init(&e->sources);
    floe_sched_init(&e->sched, on_tick, e);
    if (floe_ingest_init(&e->ing, cfg, log) != 0) {
        snprintf(err, errlen, "out of memory");
        return FLOE_ENOMEM;
    }
    if (cfg->tables_enabled) {
        floe_tables_opts o = cfg->tables;
        o.prefault &= mode == FLOE_ENGINE_LIVE; /* replays and tests back memory as they fill */
        int rc = floe_tables_init(&e->tables, &o, log, err, errlen);
        if (rc != 0)
            return rc;
        e->tables_on = 1;
        e->tables.names.addr = exporter_addr;
        e->tables.names.ud = e;
        e->ing.out.record = on_record;
        e->ing.out.slot = on_slot;
        e->ing.out.ifcounters = on_ifcounters;
        e->ing.out.appname = on_appname;
        e->ing.out.ud = e;
        int stores = mode == FLOE_ENGINE_LIVE || cfg->offline_stores;
        if (stores && cfg->alerts_enabled && (rc = alerts_open(e, err, errlen)) != 0)
            return rc;
        if (stores && cfg->ts_enabled && (rc = ts_open(e, err, errlen)) != 0)
            return rc;
        if (stores && cfg->ch_url[0] && (rc = floe_engine_history_open(e, err, errlen)) != 0)
            return rc;
        if ((rc = plugins_start(e, err, errlen)) != 0)
            return rc;
        if (e->alerts && floe_alerts_engaged(e->alerts, restore_engaged, e) != 0)
            log_warn(log, "alerts: could not read the engaged alerts back");
        if (e->ts && mode == FLOE_ENGINE_LIVE)
            ts_journal_load(e); /* every schema is defined by now */
    }
    return 0;
}

void floe_engine_close(floe_engine *e)
{
    if (e->tables_on) {
        floe_engine_finish(e);
        floe_engine_history_close(e); /* every flow ended: their rows are queued */
        floe_plugins_free(e->plugins);
        e->plugins = NULL;
        floe_alerts_close(e->alerts); /* commits what is queued */
        e->alerts = NULL;
        floe_ts_free(e->ts); /* writes what is queued and cached */
        e->ts = NULL;
        floe_tables_close(&e->tables);
        e->tables_on = 0;
    }
    if (e->ing.exporters.map.buckets)
        floe_ingest_close(&e->ing);
}

void floe_engine_reconfigure(floe_engine *e)
{
    floe_ingest_reconfigure(&e->ing, e->cfg);
    if (e->plugins)
        floe_plugins_set_checks_json(e->plugins, e->cfg->checks);
}

void floe_engine_datagram(floe_engine *e, const floe_addr *src, uint16_t sport, const uint8_t *p,
                          size_t n, uint64_t now_ms)
{
    floe_ingest_datagram(&e->ing, src, sport, p, n, now_ms);
}

void floe_engine_batch_end(floe_engine *e)
{
    if (e->tables_on)
        floe_tables_drain(&e->tables, e->ing.now_ms);
}

void floe_engine_advance(floe_engine *e, uint64_t now_ms)
{
    if (now_ms <= e->now_ms)
        return;
    if (now_ms / SWEEP_EVERY_MS != e->now_ms / SWEEP_EVERY_MS)
        floe_ingest_sweep(&e->ing, now_ms);
    e->now_ms = now_ms;
    if (e->plugins)
        floe_plugins_set_clock(e->plugins, now_ms);
    floe_sched_advance(&e->sched, now_ms);
}

size_t floe_engine_housekeep(floe_engine *e, uint64_t now_ms, size_t budget)
{
    if (!e->tables_on)
        return 0;
    size_t n = floe_tables_housekeep(&e->tables, now_ms, budget);
    if (e->plugins &&
        floe_plugins_run(e->plugins, e->mode == FLOE_ENGINE_LIVE ? PLUGIN_SLICE_NS : 0))
        n = budget + 1; /* more to do: keep the loop turning */
    if (floe_series_run(e))
        n = budget + 1;
    return n;
}

void floe_engine_release_loop(floe_engine *e)
{
    if (e->plugins)
        floe_plugins_release_loop(e->plugins);
}

int floe_engine_reload_plugins(floe_engine *e, int force)
{
    return e->plugins ? floe_plugins_reload(e->plugins, force) : 0;
}

void floe_engine_finish(floe_engine *e)
{
    if (!e->tables_on)
        return;
    floe_tables_drain(&e->tables, e->ing.now_ms);
    floe_tables_flush(&e->tables);
    if (e->plugins)
        floe_plugins_run(e->plugins, 0); /* periodic runs still due */
    floe_series_finish(e);
    floe_tables_end_all(&e->tables);
}

void floe_engine_add_source(floe_engine *e, floe_source *s)
{
    floe_list_push_tail(&e->sources, &s->link);
}

void floe_engine_remove_source(floe_engine *e, floe_source *s)
{
    floe_list_remove(&s->link);
}
