/*
 * The plugin engine's lifecycle: options, start-up (every plugin folder
 * loaded, the API's saved settings read back, folders watched), the clock
 * and shutdown.
 */
#include "plugins/internal.h"

#include <stdio.h>
#include <stdlib.h>

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
    for (size_t i = 0; i < P->n_plugins; i++)
        plug__plugin_free(P, P->plugins[i]);
    free(P->plugins);
    for (int ev = 0; ev < FLOE_EV_COUNT; ev++)
        free(P->flow_hooks[ev]);
    plug__engaged_free(P);
    plug__listfiles_free(P);
    for (size_t i = 0; i < P->n_dirs; i++)
        free(P->dirs[i]);
    free(P->dirs);
    free(P->only);
    free(P->statuses);
    free(P->alerts);
    free(P->schemas);
    free((char *)P->o.state_path);
    free(P->conf_file);
    free(P->conf_state);
    if (P->env.tables) {
        P->env.tables->hooks.wanted = 0;
        floe_tables_set_periodic(P->env.tables, 0);
    }
    free(P);
}

void floe_plugins_set_clock(floe_plugins *P, uint64_t now_ms)
{
    P->now_ms = now_ms;
}

/* ---- ts ---------------------------------------------------------------------- */

static int t_append(lua_State *L)
{
    return luaL_error(L, "timeseries are not available yet");
}

static const luaL_Reg ts_api[] = {{"append", t_append}, {NULL, NULL}};

void plug__ts_api(lua_State *L, plug__plugin *p)
{
    lua_newtable(L);
    lua_pushlightuserdata(L, p);
    luaL_setfuncs(L, ts_api, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "ts");
}
