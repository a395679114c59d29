/*
 * The plugin engine's lifecycle: options, start-up (every plugin folder
 * loaded, the API's saved settings read back, folders watched), the clock
 * and shutdown.
 */
#include "plugins/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rrd/rrd.h"

static const char *const kind_names[FLOE_CHECK_KIND_COUNT] = {
#define KIND(id, name, entity) name,
#include "plugins/kinds.def"
#undef KIND
};

const char *floe_check_kind_name(int kind)
{
    return kind >= 0 && kind < FLOE_CHECK_KIND_COUNT ? kind_names[kind] : "?";
}

void floe_plugins_opts_defaults(floe_plugins_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mem_limit = 64u << 20;
    o->insn_limit = 1000000;
    o->max_failures = 5;
    o->cpu_share = 30;
    o->max_engaged = 100000;
}

/* The saved API settings, if the file is there and is a JSON object. */
static char *read_state(const floe_plugins_opts *o, floe_log *log)
{
    if (!o->state_path)
        return NULL;
    FILE *f = fopen(o->state_path, "rb");
    if (!f)
        return NULL;
    floe_buf b;
    char chunk[4096];
    size_t n;
    floe_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < (4u << 20))
        floe_buf_append(&b, chunk, n);
    fclose(f);
    if (!floe_buf_ok(&b) || !b.data || b.data[strspn(b.data, " \t\r\n")] != '{') {
        log_error(log, "plugins: %s is not a JSON object; the saved settings are ignored",
                  o->state_path);
        floe_buf_close(&b);
        return NULL;
    }
    return floe_buf_steal(&b, &n);
}

floe_plugins *floe_plugins_new(const floe_plugins_opts *o, const floe_plugins_env *env, char *err,
                               size_t errlen)
{
    floe_plugins *P = calloc(1, sizeof(*P));
    if (!P || floe_hmap_init(&P->engaged, 256, 0) != 0) {
        free(P);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    P->o = *o;
    P->env = *env;
    P->now_ms = floe_time_ms();
    P->dirs = calloc(o->n_dirs ? o->n_dirs : 1, sizeof(*P->dirs));
    for (size_t i = 0; P->dirs && i < o->n_dirs; i++)
        if ((P->dirs[i] = strdup(o->dirs[i])))
            P->n_dirs++;
    P->o.dirs = NULL;
    P->only = o->only ? strdup(o->only) : NULL;
    P->o.only = NULL;
    P->o.state_path = o->state_path ? strdup(o->state_path) : NULL;
    P->conf_file = o->checks_json ? strdup(o->checks_json) : NULL;
    P->o.checks_json = NULL;
    P->conf_state = read_state(o, env->log);
    if (!P->dirs || P->n_dirs != o->n_dirs) {
        floe_plugins_free(P);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    plug__load_all(P);
    plug__watch_roots(P);
    return P;
}

void floe_plugins_free(floe_plugins *P)
{
    if (!P)
        return;
    plug__watch_free(P);
    plug__probeq_free(P);
    /* Stopping is not disabling: engaged alerts stay engaged in the store,
     * and the next start restores them (floe_plugins_engaged_restore). */
    plug__engaged_free(P);
    for (size_t i = 0; i < P->n_plugins; i++)
        plug__plugin_free(P, P->plugins[i]);
    free(P->plugins);
    for (int ev = 0; ev < FLOE_EV_COUNT; ev++) {
        free(P->flow_hooks[ev]);
        plug__prefilter_free(&P->pre[ev]);
    }
    plug__listfiles_free(P);
    for (size_t i = 0; i < P->n_dirs; i++)
        free(P->dirs[i]);
    free(P->dirs);
    free(P->only);
    free(P->statuses);
    free(P->alerts);
    free((char *)P->o.state_path);
    free(P->conf_file);
    free(P->conf_state);
    if (P->env.tables) {
        P->env.tables->hooks.wanted = 0;
        floe_tables_set_periodic(P->env.tables, 0);
    }
    free(P);
}

void floe_plugins_release_loop(floe_plugins *P)
{
    plug__watch_free(P);
    plug__probeq_free(P); /* running probes end within their timeouts */
    for (size_t i = 0; i < P->n_plugins; i++)
        plug__unwatch_plugin(P->plugins[i]);
    P->env.loop = NULL;
}

void floe_plugins_set_clock(floe_plugins *P, uint64_t now_ms)
{
    P->now_ms = now_ms;
}

/* ---- ts ---------------------------------------------------------------------- */

/* ts.append(schema, tags, metrics, when): a point of one of the plugin's
 * schemas (by its short or full name); tags and metrics are tables by
 * name; a metric left out is unknown (NaN); when defaults to now. */
static int t_append(lua_State *L)
{
    plug__plugin *p = plug__self(L);
    floe_plugins *P = p->P;
    const char *name = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Number when = luaL_optnumber(L, 4, (lua_Number)P->now_ms / 1000.0);
    lua_settop(L, 3); /* the tag strings pushed below stay anchored on the stack */
    const floe_ts_schema *s = NULL;
    for (size_t i = 0; !s && i < p->n_schemas; i++) {
        const char *full = p->schemas[i].name, *colon = strchr(full, ':');
        if (strcmp(full, name) == 0 || (colon && strcmp(colon + 1, name) == 0))
            s = &p->schemas[i];
    }
    if (!s)
        return luaL_error(L, "ts.append: no schema '%s' in %s's ts_schemas/", name, p->name);
    const char *tags[FLOE_TS_MAX_TAGS];
    double values[FLOE_TS_MAX_METRICS];
    for (unsigned i = 0; i < s->n_tags; i++) {
        lua_getfield(L, 2, s->tags[i]);
        if (!(tags[i] = lua_tostring(L, -1)))
            return luaL_error(L, "ts.append %s: tag '%s' is missing", s->name, s->tags[i]);
    }
    for (unsigned i = 0; i < s->n_metrics; i++) {
        lua_getfield(L, 3, s->metrics[i].name);
        values[i] = lua_isnumber(L, -1) ? (double)lua_tonumber(L, -1) : NAN;
        lua_pop(L, 1);
    }
    if (P->env.ts_append)
        P->env.ts_append(P->env.ud, s->name, tags, values, s->n_metrics, (uint64_t)when);
    return 0;
}

const struct floe_ts_schema *floe_plugins_schema(const floe_plugins *P, const char *name)
{
    for (size_t i = 0; i < P->n_plugins; i++)
        for (size_t k = 0; k < P->plugins[i]->n_schemas; k++)
            if (strcmp(P->plugins[i]->schemas[k].name, name) == 0)
                return &P->plugins[i]->schemas[k];
    return NULL;
}

static const luaL_Reg ts_api[] = {{"append", t_append}, {NULL, NULL}};

void plug__ts_api(lua_State *L, plug__plugin *p)
{
    lua_newtable(L);
    lua_pushlightuserdata(L, p);
    luaL_setfuncs(L, ts_api, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "ts");
}
