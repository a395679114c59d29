/*
 * What the plugin engine tells the operator: every plugin and check with
 * its state, last error, calls, skipped runs, time and its histogram, its
 * configuration and the declarations of its settings (what the web UI's
 * editor is built from), each plugin's pages and probes, for GET
 * /api/v1/plugins; the same counters for /metrics; and totals for the
 * status page.
 */
#include "plugins/internal.h"

#include "alerts/alerts.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const state_names[] = {"ok", "failed", "off"};
static const char *const hist_names[HIST_BUCKETS] = {"1us",  "10us",  "100us", "1ms",
                                                     "10ms", "100ms", "1s",    "more"};

static const char *check_state(const plug__check *c)
{
    if (c->state != CHECK_OK)
        return state_names[c->state];
    return c->enabled ? "ok" : "disabled";
}

#define DECLS_MAX 256

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int empty_table(lua_State *L, int idx)
{
    if (!lua_istable(L, idx))
        return 0;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    if (lua_next(L, idx) == 0)
        return 1;
    lua_pop(L, 2);
    return 0;
}

/* One declared setting at decl, as {key, type, of, title, description, min,
 * max, choices, default, validated}. */
static void decl_json(lua_State *L, const char *key, int decl, floe_json *j)
{
    static const char *const strs[] = {"type", "of", "title", "description"};
    static const char *const values[] = {"min", "max", "choices", "default"};
    floe_json_obj_begin(j);
    floe_json_kstr(j, "key", key);
    for (size_t i = 0; i < FLOE_ARRAY_LEN(strs); i++) {
        lua_getfield(L, decl, strs[i]);
        if (lua_type(L, -1) == LUA_TSTRING)
            floe_json_kstr(j, strs[i], lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_getfield(L, decl, "type");
    int list = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "list") == 0;
    lua_pop(L, 1);
    for (size_t i = 0; i < FLOE_ARRAY_LEN(values); i++) {
        lua_getfield(L, decl, values[i]);
        if (!lua_isnil(L, -1)) {
            floe_json_key(j, values[i]);
            if (list && empty_table(L, -1)) /* a list, not the object {} it would print as */
                floe_json_raw(j, "[]");
            else
                plug__json_write(L, -1, j);
        }
        lua_settop(L, decl);
    }
    lua_getfield(L, decl, "validate");
    floe_json_key(j, "validated");
    floe_json_bool(j, lua_isfunction(L, -1));
    lua_pop(L, 1);
    floe_json_obj_end(j);
}

typedef struct decls_ctx {
    const plug__check *c;
    floe_buf *out;
} decls_ctx;

/* In protected mode: the check's declared settings, sorted by key, as a
 * JSON array into x->out. */
static int decls_protected(lua_State *L)
{
    decls_ctx *x = lua_touserdata(L, 1);
    const char *keys[DECLS_MAX];
    size_t n = 0;
    floe_json j;
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->c->schema_ref);
    int schema = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, schema) != 0) {
        lua_pop(L, 1);
        if (n < DECLS_MAX && lua_type(L, -1) == LUA_TSTRING)
            keys[n++] = lua_tostring(L, -1); /* the table keeps the string */
    }
    qsort(keys, n, sizeof(*keys), key_cmp);
    floe_json_init(&j, x->out);
    floe_json_arr_begin(&j);
    for (size_t i = 0; i < n; i++) {
        lua_getfield(L, schema, keys[i]);
        decl_json(L, keys[i], lua_gettop(L), &j);
        lua_settop(L, schema);
    }
    floe_json_arr_end(&j);
    return 0;
}

static void settings_json(const plug__check *c, floe_json *j)
{
    floe_buf b;
    char err[ERR_MAX];
    decls_ctx x = {c, &b};
    floe_buf_init(&b);
    floe_json_key(j, "settings");
    lua_State *L = c->p->sb.L;
    lua_pushcfunction(L, decls_protected);
    lua_pushlightuserdata(L, &x);
    if (c->schema_ref != LUA_NOREF &&
        floe_sandbox_call(&c->p->sb, 1, 0, 0, err, sizeof(err)) == 0 && floe_buf_ok(&b) && b.data)
        floe_json_raw(j, b.data);
    else
        floe_json_null(j);
    floe_buf_close(&b);
}

static void check_json(floe_plugins *P, const plug__check *c, floe_json *j)
{
    floe_json_obj_begin(j);
    floe_json_kstr(j, "key", c->key);
    floe_json_kstr(j, "kind", floe_check_kind_name(c->kind));
    floe_json_kstr(j, "title", c->title);
    floe_json_kstr(j, "description", c->description);
    floe_json_kstr(j, "state", check_state(c));
    floe_json_key(j, "enabled");
    floe_json_bool(j, c->enabled);
    floe_json_key(j, "hooks");
    floe_json_arr_begin(j);
    for (int h = 0; h < N_HOOKS; h++)
        if (c->hooks & (1u << h))
            floe_json_str(j, c->kind == FLOE_CHECK_FLOW ? floe_flow_event_name(h)
                                                        : floe_period_name(h));
    floe_json_arr_end(j);
    floe_json_ku64(j, "calls", c->st.calls);
    floe_json_ku64(j, "errors", c->st.errors);
    floe_json_ku64(j, "skipped", c->st.skipped);
    floe_json_ku64(j, "failures_in_a_row", c->failures);
    floe_json_ku64(j, "time_ns", c->st.ns);
    floe_json_key(j, "time_histogram");
    floe_json_obj_begin(j);
    for (int b = 0; b < HIST_BUCKETS; b++)
        floe_json_ku64(j, hist_names[b], c->st.hist[b]);
    floe_json_obj_end(j);
    floe_json_key(j, "last_error");
    if (c->last_error[0]) {
        floe_json_obj_begin(j);
        floe_json_kstr(j, "message", c->last_error);
        floe_json_kstr(j, "traceback", c->last_trace);
        floe_json_ku64(j, "at_ms", c->last_error_ms);
        floe_json_obj_end(j);
    } else {
        floe_json_null(j);
    }
    floe_json_key(j, "config");
    lua_State *L = c->p->sb.L;
    if (c->conf_ref != LUA_NOREF && lua_checkstack(L, 2)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->conf_ref);
        char *text = plug__json_string_safe(L, -1);
        lua_pop(L, 1);
        if (text)
            floe_json_raw(j, text);
        else
            floe_json_null(j);
        free(text);
    } else {
        floe_json_null(j);
    }
    settings_json(c, j);
    (void)P;
    floe_json_obj_end(j);
}

static void pages_json(const plug__plugin *p, floe_json *j)
{
    floe_json_key(j, "menu");
    if (!p->menu_title[0] || !p->n_pages) {
        floe_json_null(j);
        return;
    }
    floe_json_obj_begin(j);
    floe_json_kstr(j, "title", p->menu_title);
    floe_json_kstr(j, "icon", p->menu_icon);
    floe_json_key(j, "pages");
    floe_json_arr_begin(j);
    for (size_t i = 0; i < p->n_pages; i++) {
        const plug__page *pg = &p->pages[i];
        char href[128];
        snprintf(href, sizeof(href), "/plugins/%s/%s", p->name, pg->key);
        floe_json_obj_begin(j);
        floe_json_kstr(j, "key", pg->key);
        floe_json_kstr(j, "title", pg->title);
        floe_json_kstr(j, "href", href);
        floe_json_ku64(j, "renders", pg->renders);
        floe_json_ku64(j, "errors", pg->errors);
        floe_json_ku64(j, "time_ns", pg->ns);
        floe_json_key(j, "last_error");
        if (pg->last_error[0])
            floe_json_str(j, pg->last_error);
        else
            floe_json_null(j);
        floe_json_obj_end(j);
    }
    floe_json_arr_end(j);
    floe_json_obj_end(j);
}

static void probe_result_json(const floe_probe_result *r, floe_json *j)
{
    floe_json_obj_begin(j);
    floe_json_key(j, "ok");
    floe_json_bool(j, r->ok);
    floe_json_key(j, "rtt_ms");
    floe_json_double(j, r->rtt_ms);
    floe_json_key(j, "duration_ms");
    floe_json_double(j, r->duration_ms);
    floe_json_ku64(j, "at_ms", r->at_ms);
    floe_json_kstr(j, "error", r->error);
    floe_json_kstr(j, "address", r->address);
    if (r->cert_status != FLOE_CERT_NONE) {
        floe_json_key(j, "cert");
        floe_json_obj_begin(j);
        floe_json_kstr(j, "status", floe_cert_status_name(r->cert_status));
        floe_json_key(j, "days_left");
        floe_json_i64(j, r->cert_days_left);
        floe_json_kstr(j, "subject", r->cert_subject);
        floe_json_kstr(j, "issuer", r->cert_issuer);
        floe_json_obj_end(j);
        floe_json_kstr(j, "tls_version", r->tls_version);
    }
    if (r->server_version[0])
        floe_json_kstr(j, "server_version", r->server_version);
    floe_json_obj_end(j);
}

/* The probes a plugin started, with their last results. */
static void probes_json(const plug__plugin *p, floe_json *j)
{
    floe_json_key(j, "probes");
    floe_json_arr_begin(j);
    for (size_t i = 0; i < p->n_probes; i++) {
        const plug__probe *e = &p->probes[i];
        floe_json_obj_begin(j);
        floe_json_kstr(j, "key", e->key);
        floe_json_kstr(j, "kind", floe_probe_kind_name(e->spec.kind));
        floe_json_kstr(j, "host", e->spec.host);
        floe_json_ku64(j, "port", e->spec.port);
        floe_json_ku64(j, "starts", e->starts);
        floe_json_key(j, "running");
        floe_json_bool(j, e->running);
        floe_json_key(j, "result");
        if (e->has_result)
            probe_result_json(&e->res, j);
        else
            floe_json_null(j);
        floe_json_obj_end(j);
    }
    floe_json_arr_end(j);
}

#define ENGAGED_LISTED 100

/* The plugin's engaged alerts (the first ENGAGED_LISTED), and how many:
 * one walk of the engaged set, so only for one plugin at a time. */
static void engaged_json(floe_plugins *P, const plug__plugin *p, floe_json *j)
{
    uint64_t n = 0;
    floe_json_key(j, "engaged");
    floe_json_arr_begin(j);
    for (size_t b = 0; P->engaged.buckets && b <= P->engaged.mask; b++)
        for (floe_hnode *h = P->engaged.buckets[b]; h; h = h->next) {
            const plug__engaged *e = FLOE_CONTAINER_OF(h, plug__engaged, node);
            if (strcmp(P->alerts[e->def].plugin, p->name) != 0 || n++ >= ENGAGED_LISTED)
                continue;
            floe_json_obj_begin(j);
            floe_json_kstr(j, "type", P->alerts[e->def].key);
            floe_json_kstr(j, "check", e->check);
            floe_json_kstr(j, "value", e->value);
            floe_json_kstr(j, "severity", floe_severity_name(e->severity));
            floe_json_ku64(j, "since_ms", e->since_ms);
            floe_json_obj_end(j);
        }
    floe_json_arr_end(j);
    floe_json_ku64(j, "engaged_count", n);
}

/* A plugin, with its engaged alerts when engaged is 1 (one plugin asked for). */
static void plugin_json(floe_plugins *P, const plug__plugin *p, floe_json *j, int engaged)
{
    floe_json_obj_begin(j);
    floe_json_kstr(j, "name", p->name);
    floe_json_kstr(j, "title", p->title);
    floe_json_kstr(j, "description", p->description);
    floe_json_kstr(j, "author", p->author);
    floe_json_kstr(j, "version", p->version);
    floe_json_kstr(j, "dir", p->dir);
    floe_json_kstr(j, "state", p->loaded ? (p->failed ? "stale" : "loaded") : "failed");
    floe_json_key(j, "error");
    if (p->error[0])
        floe_json_str(j, p->error);
    else
        floe_json_null(j);
    floe_json_ku64(j, "loaded_ms", p->loaded_ms);
    floe_json_ku64(j, "reloads", p->reloads);
    floe_json_ku64(j, "memory_bytes", p->sb.used);
    floe_json_ku64(j, "memory_limit", p->sb.mem_limit);
    floe_json_key(j, "checks");
    floe_json_arr_begin(j);
    for (size_t k = 0; k < p->n_checks; k++)
        check_json(P, p->checks[k], j);
    floe_json_arr_end(j);
    pages_json(p, j);
    probes_json(p, j);
    if (engaged)
        engaged_json(P, p, j);
    floe_json_obj_end(j);
}

void floe_plugins_json(floe_plugins *P, floe_json *j)
{
    floe_plugins_stats st;
    floe_plugins_stats_get(P, &st);
    floe_json_obj_begin(j);
    floe_json_ku64(j, "loaded", st.plugins);
    floe_json_ku64(j, "failed", st.plugins_failed);
    floe_json_ku64(j, "reloads", P->reloads);
    floe_json_ku64(j, "alerts_engaged", P->engaged.count);
    floe_json_ku64(j, "periodic_overruns", P->jobs_overrun);
    floe_json_key(j, "plugins");
    floe_json_arr_begin(j);
    for (size_t i = 0; i < P->n_plugins; i++)
        plugin_json(P, P->plugins[i], j, 0);
    floe_json_arr_end(j);
    floe_json_key(j, "statuses");
    floe_json_arr_begin(j);
    for (size_t i = 0; i < P->n_statuses; i++) {
        const plug__status_def *d = &P->statuses[i];
        if (!d->live)
            continue;
        floe_json_obj_begin(j);
        floe_json_kstr(j, "key", d->key);
        floe_json_kstr(j, "title", d->title);
        floe_json_ku64(j, "score", d->score);
        floe_json_ku64(j, "flows", d->sets);
        floe_json_key(j, "alert");
        if (d->alert >= 0)
            floe_json_str(j, P->alerts[d->alert].key);
        else
            floe_json_null(j);
        floe_json_obj_end(j);
    }
    floe_json_arr_end(j);
    floe_json_obj_end(j);
}

int floe_plugins_check_json(floe_plugins *P, const char *plugin, const char *check, floe_json *j)
{
    for (size_t i = 0; i < P->n_plugins; i++) {
        plug__plugin *p = P->plugins[i];
        if (strcmp(p->name, plugin) != 0)
            continue;
        if (!check) {
            plugin_json(P, p, j, 1);
            return 0;
        }
        for (size_t k = 0; k < p->n_checks; k++)
            if (strcmp(p->checks[k]->key, check) == 0) {
                check_json(P, p->checks[k], j);
                return 0;
            }
    }
    return FLOE_ENOTFOUND;
}

void floe_plugins_metrics(floe_plugins *P, floe_buf *b)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
        {"plugin_check_calls_total", "Lua calls per check.", offsetof(plug__stats, calls)},
        {"plugin_check_errors_total", "Failed calls per check.", offsetof(plug__stats, errors)},
        {"plugin_check_skipped_total", "Runs skipped per check (time share, overruns).",
         offsetof(plug__stats, skipped)},
        {"plugin_check_seconds_total", "Time in Lua per check, seconds.",
         offsetof(plug__stats, ns)},
    };
    for (size_t m = 0; m < FLOE_ARRAY_LEN(counters); m++) {
        floe_buf_printf(b, "# HELP floe_%s %s\n# TYPE floe_%s counter\n", counters[m].name,
                        counters[m].help, counters[m].name);
        for (size_t i = 0; i < P->n_plugins; i++)
            for (size_t k = 0; k < P->plugins[i]->n_checks; k++) {
                const plug__check *c = P->plugins[i]->checks[k];
                uint64_t v =
                    *(const uint64_t *)(const void *)((const char *)&c->st + counters[m].off);
                if (counters[m].off == offsetof(plug__stats, ns))
                    floe_buf_printf(b, "floe_%s{check=\"%s\"} %.6f\n", counters[m].name, c->full,
                                    (double)v / 1e9);
                else
                    floe_buf_printf(b, "floe_%s{check=\"%s\"} %llu\n", counters[m].name, c->full,
                                    (unsigned long long)v);
            }
    }
    floe_buf_printf(b, "# HELP floe_plugin_check_enabled Whether a check runs (1) or not (0).\n"
                       "# TYPE floe_plugin_check_enabled gauge\n");
    for (size_t i = 0; i < P->n_plugins; i++)
        for (size_t k = 0; k < P->plugins[i]->n_checks; k++) {
            const plug__check *c = P->plugins[i]->checks[k];
            floe_buf_printf(b, "floe_plugin_check_enabled{check=\"%s\"} %d\n", c->full,
                            P->plugins[i]->loaded && c->enabled && c->state == CHECK_OK);
        }
    floe_buf_printf(b,
                    "# HELP floe_plugins_failed Plugins that failed to load.\n"
                    "# TYPE floe_plugins_failed gauge\nfloe_plugins_failed %u\n"
                    "# HELP floe_alerts_engaged Alerts engaged now.\n"
                    "# TYPE floe_alerts_engaged gauge\nfloe_alerts_engaged %zu\n",
                    floe_plugins_failed_count(P), P->engaged.count);
}

void floe_plugins_stats_get(const floe_plugins *P, floe_plugins_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (size_t i = 0; i < P->n_plugins; i++) {
        const plug__plugin *p = P->plugins[i];
        st->plugins += p->loaded;
        st->plugins_failed += p->failed || !p->loaded;
        for (size_t k = 0; k < p->n_checks; k++) {
            const plug__check *c = p->checks[k];
            st->checks++;
            st->checks_disabled += !c->enabled || c->state != CHECK_OK;
            st->calls += c->st.calls;
            st->errors += c->st.errors;
            st->skipped += c->st.skipped;
            st->ns += c->st.ns;
        }
    }
    st->alerts_engaged = P->engaged.count;
    st->alerts_raised = P->alerts_raised;
    st->alerts_dropped = P->alerts_dropped;
    st->reloads = P->reloads;
    st->reload_failures = P->reload_failures;
}

unsigned floe_plugins_failed_count(const floe_plugins *P)
{
    unsigned n = 0;
    for (size_t i = 0; i < P->n_plugins; i++)
        n += P->plugins[i]->failed || !P->plugins[i]->loaded;
    return n;
}

int32_t floe_plugins_status_id(const floe_plugins *P, const char *key)
{
    return plug__status_lookup(P, NULL, key);
}

const char *floe_plugins_status_key(void *ud, uint32_t id)
{
    const floe_plugins *P = ud;
    return id < P->n_statuses ? P->statuses[id].key : NULL;
}

uint64_t floe_plugins_status_count(const floe_plugins *P, uint32_t id)
{
    return id < P->n_statuses ? P->statuses[id].sets : 0;
}
