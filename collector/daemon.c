/*
 * `floe run`: the libuv loop and everything it owns. Start-up order is
 * config, data directory, ingest, listeners, web server, signals and the
 * one-second tick. SIGHUP reloads the config in place; SIGINT and SIGTERM
 * close every handle and let the loop drain, with a 5-second deadline.
 */
#include "collector/collector.h"
#include "www/www.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define TICK_MS              1000
#define SHUTDOWN_DEADLINE_MS 5000

/* Loads the file (if any) over the defaults and applies the command line. */
static int daemon_load_config(const floe_run_opts *o, floe_config *cfg, char *err, size_t errlen)
{
    int rc = floe_config_defaults(cfg);
    if (rc != 0) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    if (o->config_path && (rc = floe_config_load(cfg, o->config_path, err, errlen)) != 0)
        goto fail;
    rc = FLOE_ENOMEM;
    if (o->n_listen &&
        floe_config_set_list(&cfg->listen, &cfg->n_listen, o->listen, o->n_listen) != 0)
        goto fail;
    if (o->n_listen_tcp && floe_config_set_list(&cfg->listen_tcp, &cfg->n_listen_tcp, o->listen_tcp,
                                                o->n_listen_tcp) != 0)
        goto fail;
    if (o->web && floe_config_set_str(&cfg->web, o->web) != 0)
        goto fail;
    if (o->data_dir && floe_config_set_str(&cfg->data_dir, o->data_dir) != 0)
        goto fail;
    for (size_t i = 0; i < o->n_plugin_dirs; i++)
        if (floe_config_add_list(&cfg->plugin_dirs, &cfg->n_plugin_dirs, o->plugin_dirs[i]) != 0)
            goto fail;
    if (o->log_level) {
        int level = floe_log_level_parse(o->log_level);
        if (level < 0) {
            snprintf(err, errlen, "--log-level '%s': use error, warn, info or debug", o->log_level);
            rc = FLOE_ECONFIG;
            goto fail;
        }
        cfg->log_level = level;
    }
    if ((rc = floe_config_validate(cfg, err, errlen)) != 0)
        goto fail;
    return 0;
fail:
    if (rc == FLOE_ENOMEM && !err[0])
        snprintf(err, errlen, "out of memory");
    floe_config_free(cfg);
    return rc;
}

static int web_start(floe_daemon *d)
{
    char err[512] = "";
    if (!d->cfg.web[0])
        return 0;
    if (!d->auth && !(d->auth = floe_auth_new(&d->loop, &d->cfg, &d->log, err, sizeof(err)))) {
        log_error(&d->log, "web: %s", err);
        return FLOE_ECONFIG;
    }
    d->www = floe_www_new_tls(&d->loop, d->cfg.web, d->cfg.web_tls_cert, d->cfg.web_tls_key,
                              &d->log, err, sizeof(err));
    if (!d->www) {
        log_error(&d->log, "%s", err);
        return FLOE_EIO;
    }
    if (floe_web_register(d->www, &d->engine, d->auth) != 0) {
        log_error(&d->log, "www: out of memory registering routes");
        return FLOE_ENOMEM;
    }
    log_info(&d->log, "web: serving on %s://%s/", floe_www_tls(d->www) ? "https" : "http",
             floe_www_endpoint(d->www));
    return 0;
}

static void apply_log(floe_daemon *d)
{
    d->log.level = d->cfg.log_level;
    d->log.rl_burst = d->cfg.log_burst;
}

/* ---- reload ------------------------------------------------------------ */

static void daemon_reload(floe_daemon *d)
{
    floe_config next;
    char err[512] = "";
    if (daemon_load_config(&d->opts, &next, err, sizeof(err)) != 0) {
        d->engine.reload_errors++;
        log_error(&d->log, "reload: %s; keeping the running config", err);
        return;
    }
    int web_changed = strcmp(next.web, d->cfg.web) != 0 ||
                      strcmp(next.web_tls_cert, d->cfg.web_tls_cert) != 0 ||
                      strcmp(next.web_tls_key, d->cfg.web_tls_key) != 0;
    floe_config_free(&d->cfg);
    d->cfg = next;
    if (d->cfg.log_syslog != d->log.use_syslog)
        floe_log_init(&d->log, d->cfg.log_level, d->cfg.log_syslog);
    apply_log(d);
    floe_engine_reconfigure(&d->engine);
    floe_engine_reload_plugins(&d->engine, 0);
    if (floe_listeners_apply(d) != 0 || floe_tcp_listeners_apply(d) != 0)
        log_error(&d->log, "reload: some listen addresses failed; see above");
    if (d->auth && floe_auth_reconfigure(d->auth, &d->cfg, err, sizeof(err)) != 0)
        log_error(&d->log, "reload: web: %s; keeping the previous password and token", err);
    if (web_changed) {
        floe_www_free(d->www);
        d->www = NULL;
        web_start(d);
    }
    d->engine.reloads++;
    log_info(&d->log, "reload: config applied (%zu listeners, %zu TCP, web %s)", d->cfg.n_listen,
             d->cfg.n_listen_tcp, d->cfg.web[0] ? d->cfg.web : "off");
}

/* ---- shutdown ---------------------------------------------------------- */

static void on_force_exit(uv_timer_t *t)
{
    floe_daemon *d = t->data;
    log_warn(&d->log, "shutdown: handles still open after %d ms; stopping the loop",
             SHUTDOWN_DEADLINE_MS);
    uv_stop(&d->loop);
}

static void daemon_stop(floe_daemon *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    log_info(&d->log, "shutdown: %s", why);
    floe_listeners_close_all(d);
    floe_tcp_listeners_close_all(d);
    floe_www_free(d->www);
    d->www = NULL;
    floe_auth_free(d->auth); /* work still running finishes, then frees it */
    d->auth = NULL;
    if (d->engine_ready)
        floe_engine_release_loop(&d->engine);
    uv_timer_stop(&d->tick);
    uv_close((uv_handle_t *)&d->tick, NULL);
    uv_close((uv_handle_t *)&d->nap, NULL);
    uv_close((uv_handle_t *)&d->housekeep_check, NULL);
    uv_close((uv_handle_t *)&d->housekeep_idle, NULL);
    uv_close((uv_handle_t *)&d->turn_end, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sighup, NULL);
    /* The deadline timer is unreferenced so it does not itself keep the
     * loop alive once everything else has closed. */
    uv_timer_start(&d->force_exit, on_force_exit, SHUTDOWN_DEADLINE_MS, 0);
    uv_unref((uv_handle_t *)&d->force_exit);
}

static void on_signal(uv_signal_t *s, int signum)
{
    floe_daemon *d = s->data;
    if (signum == SIGHUP)
        daemon_reload(d);
    else
        daemon_stop(d, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* Table upkeep, a slice after every turn of the loop; while a slice uses its
 * whole budget, an idle handle keeps the loop turning without waiting. */
#define HOUSEKEEP_BUDGET 1024

static void on_housekeep_idle(uv_idle_t *h);

static void housekeep(floe_daemon *d)
{
    size_t n = floe_engine_housekeep(&d->engine, floe_time_ms(), HOUSEKEEP_BUDGET);
    if (n >= HOUSEKEEP_BUDGET && !uv_is_active((uv_handle_t *)&d->housekeep_idle))
        uv_idle_start(&d->housekeep_idle, on_housekeep_idle);
    else if (n < HOUSEKEEP_BUDGET)
        uv_idle_stop(&d->housekeep_idle);
}

static void on_housekeep_idle(uv_idle_t *h)
{
    housekeep(h->data);
}

static void on_housekeep_check(uv_check_t *h)
{
    floe_daemon *d = h->data;
    floe_listeners_turn(d);
    if (d->engine.tables_on)
        housekeep(d);
}

/* A turn this long has kept exports waiting in the socket buffers long
 * enough to fill them at a high rate; it is logged (rate-limited). */
#define LONG_TURN_NS 250000000ULL

/* Runs just before the loop waits for events: the turn that ends here is
 * the time since the last such wait ended. */
static void on_turn_end(uv_prepare_t *h)
{
    floe_daemon *d = h->data;
    uint64_t busy = floe_loop_turn(&d->engine.loop_stats, uv_hrtime(),
                                   uv_metrics_idle_time(&d->loop), floe_time_ms());
    if (busy >= LONG_TURN_NS)
        log_warn_rl(&d->log,
                    "loop: one turn took %llu ms; exports that arrived meanwhile waited in the "
                    "socket buffers (socket_drops in /api/v1/status counts any they lost)",
                    (unsigned long long)(busy / 1000000));
}

static void on_tick(uv_timer_t *t)
{
    floe_daemon *d = t->data;
    /* The scheduler and template expiry; table upkeep runs after every turn
     * of the loop (on_housekeep_check). */
    floe_engine_advance(&d->engine, floe_time_ms());
    floe_tcp_sweep(d, floe_time_ms());
}

/* ---- run --------------------------------------------------------------- */

static int daemon_start(floe_daemon *d)
{
    char err[512];
    if (floe_mkdirs(d->cfg.data_dir, 0750, err, sizeof(err)) != 0) {
        log_error(&d->log, "data_dir: %s", err);
        return FLOE_EIO;
    }
    if (floe_engine_init(&d->engine, &d->cfg, &d->log, &d->loop, FLOE_ENGINE_LIVE, floe_time_ms(),
                         err, sizeof(err)) != 0) {
        log_error(&d->log, "%s", err);
        return FLOE_ENOMEM;
    }
    d->engine_ready = 1;
    if (floe_listeners_apply(d) != 0 || floe_tcp_listeners_apply(d) != 0)
        return FLOE_EIO;
    if (web_start(d) != 0)
        return FLOE_EIO;
    if (uv_signal_start(&d->sigint, on_signal, SIGINT) != 0 ||
        uv_signal_start(&d->sigterm, on_signal, SIGTERM) != 0 ||
        uv_signal_start(&d->sighup, on_signal, SIGHUP) != 0) {
        log_error(&d->log, "cannot watch for signals");
        return FLOE_EIO;
    }
    uv_timer_start(&d->tick, on_tick, TICK_MS, TICK_MS);
    uv_check_start(&d->housekeep_check, on_housekeep_check);
    uv_prepare_start(&d->turn_end, on_turn_end);
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int floe_cmd_run(const floe_run_opts *o)
{
    floe_daemon *d = calloc(1, sizeof(*d));
    char err[512] = "";
    if (!d) {
        fprintf(stderr, "floe run: out of memory\n");
        return 1;
    }
    d->opts = *o;
    if (daemon_load_config(o, &d->cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "floe run: %s\n", err);
        free(d);
        return 2;
    }
    floe_log_init(&d->log, d->cfg.log_level, d->cfg.log_syslog);
    apply_log(d);
    signal(SIGPIPE, SIG_IGN);
    int rc = uv_loop_init(&d->loop);
    if (rc == 0)
        rc = uv_loop_configure(&d->loop, UV_METRICS_IDLE_TIME);
    if (rc != 0) {
        log_error(&d->log, "cannot start the event loop: %s", uv_strerror(rc));
        floe_config_free(&d->cfg);
        free(d);
        return 1;
    }
    floe_list_init(&d->listeners);
    floe_list_init(&d->tcp_listeners);
    /* Every handle is initialised here, before start-up can fail, so that
     * daemon_stop can close them all whatever happened. */
    uv_timer_init(&d->loop, &d->force_exit);
    d->force_exit.data = d;
    uv_timer_init(&d->loop, &d->tick);
    d->tick.data = d;
    uv_timer_init(&d->loop, &d->nap);
    d->nap.data = d;
    uv_signal_init(&d->loop, &d->sigint);
    uv_signal_init(&d->loop, &d->sigterm);
    uv_signal_init(&d->loop, &d->sighup);
    d->sigint.data = d->sigterm.data = d->sighup.data = d;
    uv_check_init(&d->loop, &d->housekeep_check);
    uv_idle_init(&d->loop, &d->housekeep_idle);
    uv_prepare_init(&d->loop, &d->turn_end);
    d->housekeep_check.data = d->housekeep_idle.data = d->turn_end.data = d;
    log_info(&d->log, "floe %s starting (config %s, data %s)", PACKAGE_VERSION,
             o->config_path ? o->config_path : "built-in defaults", d->cfg.data_dir);

    rc = daemon_start(d);
    if (rc != 0)
        daemon_stop(d, "start-up failed");
    uv_run(&d->loop, UV_RUN_DEFAULT);
    /* After a forced stop some handles may still be open: close and drain. */
    uv_walk(&d->loop, close_walk, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    uv_loop_close(&d->loop);
    if (rc == 0) {
        floe_counters t;
        floe_ingest_totals(&d->engine.ing, &t);
        log_info(&d->log, "shutdown: done after %llu datagrams, %llu records",
                 (unsigned long long)t.datagrams, (unsigned long long)t.records);
    }
    if (d->engine_ready)
        floe_engine_close(&d->engine);
    floe_config_free(&d->cfg);
    free(d);
    return rc == 0 ? 0 : 1;
}
