/*
 * Per-check configuration. A check declares its settings with a type and a
 * default each:
 *
 *     config = { ports = { type = "list", of = "integer", default = {80, 8080},
 *                          min = 1, max = 65535, description = "..." } }
 *
 * (types: integer, number, boolean, string, list and map, with `of` for the
 * last two; min/max bound numbers and list items; choices bound strings;
 * validate, a function of the value, checks what types cannot).
 * The config in effect is the defaults, then the config file's `checks`
 * entry for "plugin.check", then what the HTTP API set, which is kept in
 * <data_dir>/plugins-config.json across restarts. Every value is checked
 * against its declaration, and an error names the check and the key.
 * "enabled" is every check's own boolean.
 */
#include "plugins/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *const types[] = {"integer", "number", "boolean", "string", "list", "map"};
enum { T_INT, T_NUM, T_BOOL, T_STR, T_LIST, T_MAP };

static int type_of_name(const char *s)
{
    for (int i = 0; s && i < (int)FLOE_ARRAY_LEN(types); i++)
        if (strcmp(s, types[i]) == 0)
            return i;
    return -1;
}

/* Checks a scalar against type t and the declaration's bounds; the
 * declaration is at decl. 0, or a message in why. */
static int scalar_ok(lua_State *L, int decl, int val, int t, char *why, size_t whylen)
{
    int lt = lua_type(L, val);
    if (t == T_BOOL) {
        if (lt == LUA_TBOOLEAN)
            return 0;
        snprintf(why, whylen, "must be true or false");
        return -1;
    }
    if (t == T_STR) {
        if (lt != LUA_TSTRING) {
            snprintf(why, whylen, "must be a string");
            return -1;
        }
        lua_getfield(L, decl, "choices");
        int ok = !lua_istable(L, -1);
        for (lua_Integer i = 1; !ok && i <= (lua_Integer)lua_rawlen(L, -1); i++) {
            lua_rawgeti(L, -1, i);
            ok = lua_rawequal(L, -1, val);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (!ok)
            snprintf(why, whylen, "'%s' is not one of the choices", lua_tostring(L, val));
        return ok ? 0 : -1;
    }
    if (lt != LUA_TNUMBER || (t == T_INT && !lua_isinteger(L, val))) {
        snprintf(why, whylen, t == T_INT ? "must be an integer" : "must be a number");
        return -1;
    }
    double v = lua_tonumber(L, val);
    static const char *const bounds[] = {"min", "max"};
    for (int b = 0; b < 2; b++) {
        lua_getfield(L, decl, bounds[b]);
        int has = lua_type(L, -1) == LUA_TNUMBER;
        double lim = lua_tonumber(L, -1);
        lua_pop(L, 1);
        if (has && (b == 0 ? v < lim : v > lim)) {
            snprintf(why, whylen, "%g is %s %g", v,
                     b == 0 ? "below the minimum" : "above the maximum", lim);
            return -1;
        }
    }
    return 0;
}

/* Checks the value at val against the declaration's type at decl. */
static int type_ok(lua_State *L, int decl, int val, char *why, size_t whylen)
{
    lua_getfield(L, decl, "type");
    int t = type_of_name(lua_tostring(L, -1));
    lua_getfield(L, decl, "of");
    int of = type_of_name(lua_tostring(L, -1));
    lua_pop(L, 2);
    if (t != T_LIST && t != T_MAP)
        return scalar_ok(L, decl, val, t, why, whylen);
    if (!lua_istable(L, val)) {
        snprintf(why, whylen, "must be a %s", t == T_LIST ? "list" : "map");
        return -1;
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, val), count = 0;
    lua_pushnil(L);
    while (lua_next(L, val) != 0) {
        count++;
        int key_ok = t == T_MAP ? lua_type(L, -2) == LUA_TSTRING
                                : lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1 &&
                                      lua_tointeger(L, -2) <= n;
        char inner[160] = "";
        if (!key_ok || (of >= 0 && scalar_ok(L, decl, lua_gettop(L), of, inner, sizeof(inner))))
            snprintf(why, whylen, "%s",
                     key_ok       ? inner
                     : t == T_MAP ? "has a key that is not a name"
                                  : "is not a list");
        lua_pop(L, 1);
        if (why[0]) {
            lua_pop(L, 1);
            return -1;
        }
    }
    (void)count;
    return 0;
}

static void push_copy(lua_State *L, int idx, int depth);

/*
 * The declaration's own check, validate = function(value) ... end, for
 * what types cannot say (the fields of a list of services): it gets a copy
 * of the value and returns nil when it is good, or a message. An error it
 * raises is its message. It runs under the running call's budget.
 */
static int validator_ok(lua_State *L, int decl, int val, char *why, size_t whylen)
{
    lua_getfield(L, decl, "validate");
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    push_copy(L, val, 0);
    int rc = lua_pcall(L, 1, 1, 0);
    const char *msg = lua_isnil(L, -1) ? NULL : lua_tostring(L, -1);
    if (rc != LUA_OK || msg)
        snprintf(why, whylen, "%s", msg ? msg : "is refused by the check's validate function");
    lua_pop(L, 1);
    return rc != LUA_OK || msg ? -1 : 0;
}

/* Checks the value at val against the declaration at decl: its type, then
 * its validate function. */
static int value_ok(lua_State *L, int decl, int val, char *why, size_t whylen)
{
    decl = lua_absindex(L, decl);
    val = lua_absindex(L, val);
    if (type_ok(L, decl, val, why, whylen) != 0)
        return -1;
    return validator_ok(L, decl, val, why, whylen);
}

int plug__conf_decl_ok(lua_State *L, int decl, char *why, size_t whylen)
{
    lua_getfield(L, decl, "type");
    int t = type_of_name(lua_tostring(L, -1));
    lua_getfield(L, decl, "of");
    int has_of = !lua_isnil(L, -1);
    int of = type_of_name(lua_tostring(L, -1));
    lua_getfield(L, decl, "validate");
    int validate_bad = !lua_isnil(L, -1) && !lua_isfunction(L, -1);
    lua_pop(L, 3);
    if (t < 0) {
        snprintf(why, whylen, "type must be integer, number, boolean, string, list or map");
        return -1;
    }
    if (validate_bad) {
        snprintf(why, whylen, "'validate' must be a function(value) returning nil or a message");
        return -1;
    }
    if (has_of && (of < 0 || of == T_LIST || of == T_MAP || (t != T_LIST && t != T_MAP))) {
        snprintf(why, whylen,
                 "'of' is the item type of a list or map: integer, number, "
                 "boolean or string");
        return -1;
    }
    lua_getfield(L, decl, "default");
    int rc = 0;
    char inner[160] = "";
    if (lua_isnil(L, -1)) {
        snprintf(why, whylen, "a default is required");
        rc = -1;
    } else if (value_ok(L, decl, lua_gettop(L), inner, sizeof(inner)) != 0) {
        snprintf(why, whylen, "default %s", inner);
        rc = -1;
    }
    lua_pop(L, 1);
    return rc;
}

/* A deep copy of the value at idx, pushed (configs are trees of plain data). */
static void push_copy(lua_State *L, int idx, int depth)
{
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx) || depth > 16) {
        lua_pushvalue(L, idx);
        return;
    }
    luaL_checkstack(L, 4, "config nested too deep");
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pushvalue(L, -2);
        push_copy(L, -2, depth + 1);
        lua_rawset(L, -5);
        lua_pop(L, 1);
    }
}

typedef struct conf_ctx {
    floe_plugins *P;
    plug__check *c;
    int src;    /* stack index of an override table to merge */
    int strict; /* 1: a bad key is an error; 0: it is skipped and noted */
    char note[ERR_MAX];
    const char *body; /* conf_check: the JSON object to check */
    size_t len;
} conf_ctx;

/* Merges the overrides at x->src into the config table at conf. */
static void merge(lua_State *L, conf_ctx *x, int schema, int conf)
{
    lua_pushnil(L);
    while (lua_next(L, x->src) != 0) {
        char why[200] = "";
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (!k) {
            snprintf(why, sizeof(why), "keys must be names");
        } else if (strcmp(k, "enabled") == 0) {
            if (lua_type(L, -1) != LUA_TBOOLEAN)
                snprintf(why, sizeof(why), "must be true or false");
        } else {
            lua_getfield(L, schema, k);
            if (!lua_istable(L, -1))
                snprintf(why, sizeof(why), "is not a setting of this check");
            else
                value_ok(L, lua_gettop(L), lua_gettop(L) - 1, why, sizeof(why));
            lua_pop(L, 1);
        }
        if (why[0] && x->strict)
            luaL_error(L, "%s: '%s' %s", x->c->full, k ? k : "?", why);
        if (why[0]) {
            snprintf(x->note, sizeof(x->note), "%s: '%s' %s (kept the default)", x->c->full,
                     k ? k : "?", why);
        } else {
            lua_pushvalue(L, -2);
            push_copy(L, -2, 0);
            lua_rawset(L, conf);
        }
        lua_pop(L, 1);
    }
}

/* Pushes the entry for this check from a JSON object text of all checks'
 * overrides, or nil. */
static void push_overrides(lua_State *L, const char *json, const plug__check *c)
{
    char err[128];
    if (!json || plug__json_push(L, json, strlen(json), err, sizeof(err)) != 0) {
        lua_pushnil(L);
        return;
    }
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return;
    }
    lua_getfield(L, -1, c->full);
    lua_remove(L, -2);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
}

/* In protected mode: defaults, then the config file's and the API's
 * overrides, into a new config table whose ref replaces conf_ref. */
static int conf_build_protected(lua_State *L)
{
    conf_ctx *x = lua_touserdata(L, 1);
    plug__check *c = x->c;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->schema_ref);
    int schema = lua_gettop(L);
    lua_newtable(L);
    int conf = lua_gettop(L);
    lua_pushboolean(L, c->default_enabled);
    lua_setfield(L, conf, "enabled");
    lua_pushnil(L);
    while (lua_next(L, schema) != 0) {
        lua_getfield(L, -1, "default");
        lua_pushvalue(L, -3);
        push_copy(L, -2, 0);
        lua_rawset(L, conf);
        lua_pop(L, 2);
    }
    const char *sources[2] = {x->P->conf_file, x->P->conf_state};
    for (int i = 0; i < 2; i++) {
        push_overrides(L, sources[i], c);
        if (!lua_isnil(L, -1)) {
            x->src = lua_gettop(L);
            merge(L, x, schema, conf);
        }
        lua_pop(L, 1);
    }
    lua_getfield(L, conf, "enabled");
    c->enabled = lua_toboolean(L, -1);
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, c->conf_ref);
    c->conf_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int plug__conf_build(floe_plugins *P, plug__check *c, char *err, size_t errlen)
{
    conf_ctx x = {P, c, 0, 0, "", NULL, 0};
    floe_sandbox *sb = &c->p->sb;
    lua_pushcfunction(sb->L, conf_build_protected);
    lua_pushlightuserdata(sb->L, &x);
    int rc = floe_sandbox_call(sb, 1, 0, P->o.insn_limit, err, errlen);
    if (rc == 0 && x.note[0]) {
        snprintf(c->last_error, sizeof(c->last_error), "%s", x.note);
        log_warn(P->env.log, "plugins: config %s", x.note);
    }
    return rc == 0 ? 0 : FLOE_EINVAL;
}

/* In protected mode: the JSON body parsed, validated (strictly) and merged
 * into a copy of the config in effect, which is dropped: only the check
 * matters. */
static int conf_check_protected(lua_State *L)
{
    conf_ctx *x = lua_touserdata(L, 1);
    char why[ERR_MAX];
    if (plug__json_push(L, x->body, x->len, why, sizeof(why)) != 0)
        luaL_error(L, "%s", why);
    if (!lua_istable(L, -1))
        luaL_error(L, "the body must be a JSON object");
    x->src = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->c->schema_ref);
    int schema = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->c->conf_ref);
    push_copy(L, -1, 0);
    merge(L, x, schema, lua_gettop(L));
    return 0;
}

int plug__conf_check(floe_plugins *P, plug__check *c, const char *json, size_t len, char *err,
                     size_t errlen)
{
    conf_ctx x = {P, c, 0, 1, "", json, len};
    floe_sandbox *sb = &c->p->sb;
    lua_pushcfunction(sb->L, conf_check_protected);
    lua_pushlightuserdata(sb->L, &x);
    return floe_sandbox_call(sb, 1, 0, P->o.insn_limit, err, errlen) == 0 ? 0 : FLOE_EINVAL;
}

/* ---- the API's changes, kept across restarts ------------------------------- */

typedef struct state_ctx {
    const char *check;
    const char *body;
    size_t len;
    const char *old;
    char *out;
} state_ctx;

/* In protected mode: the persisted overrides with this check's entry
 * updated by the body's keys, serialized into x->out. */
static int state_merge_protected(lua_State *L)
{
    state_ctx *x = lua_touserdata(L, 1);
    char err[128];
    if (!x->old || plug__json_push(L, x->old, strlen(x->old), err, sizeof(err)) != 0 ||
        !lua_istable(L, -1)) {
        lua_settop(L, 1);
        lua_newtable(L);
    }
    int all = lua_gettop(L);
    lua_getfield(L, all, x->check);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, all, x->check);
    }
    int mine = lua_gettop(L);
    if (plug__json_push(L, x->body, x->len, err, sizeof(err)) != 0)
        luaL_error(L, "%s", err);
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, mine);
    }
    x->out = plug__json_string(L, all);
    return 0;
}

int floe_plugins_configure(floe_plugins *P, const char *plugin, const char *check, const char *json,
                           size_t len, char *err, size_t errlen)
{
    plug__check *c = NULL;
    for (size_t i = 0; !c && i < P->n_plugins; i++)
        for (size_t k = 0; P->plugins[i]->loaded && strcmp(P->plugins[i]->name, plugin) == 0 &&
                           k < P->plugins[i]->n_checks;
             k++)
            if (strcmp(P->plugins[i]->checks[k]->key, check) == 0)
                c = P->plugins[i]->checks[k];
    if (!c) {
        snprintf(err, errlen, "no check %s.%s", plugin, check);
        return FLOE_ENOTFOUND;
    }
    lua_State *L = c->p->sb.L;
    int rc = plug__conf_check(P, c, json, len, err, errlen);
    if (rc != 0)
        return rc;
    state_ctx x = {c->full, json, len, P->conf_state, NULL};
    lua_pushcfunction(L, state_merge_protected);
    lua_pushlightuserdata(L, &x);
    if (floe_sandbox_call(&c->p->sb, 1, 0, 0, err, errlen) != 0 || !x.out)
        return FLOE_ENOMEM;
    free(P->conf_state);
    P->conf_state = x.out;
    rc = plug__conf_build(P, c, err, errlen);
    if (rc == 0)
        rc = plug__filter_build(P, c, err, errlen);
    if (!c->enabled)
        plug__engaged_release_check(P, c);
    plug__rebuild_hooks(P);
    plug__conf_save(P);
    log_info(P->env.log, "plugins: %s configured: %.*s", c->full, (int)(len > 200 ? 200 : len),
             json);
    return rc;
}

/* Written to a temporary file and renamed, so a crash leaves the old or
 * the new file, never half of one. It is small and changes only when an
 * operator changes a setting. */
void plug__conf_save(floe_plugins *P)
{
    if (!P->o.state_path || !P->conf_state)
        return;
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", P->o.state_path);
    FILE *f = fopen(tmp, "w");
    int ok = f && fputs(P->conf_state, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, P->o.state_path) != 0) {
        log_error(P->env.log, "plugins: cannot write %s: %s", P->o.state_path, strerror(errno));
        unlink(tmp);
    }
}

void floe_plugins_set_checks_json(floe_plugins *P, const char *json)
{
    if (!json || (P->conf_file && strcmp(P->conf_file, json) == 0))
        return;
    char *copy = strdup(json);
    if (!copy)
        return;
    free(P->conf_file);
    P->conf_file = copy;
    for (size_t i = 0; i < P->n_plugins; i++)
        for (size_t k = 0; P->plugins[i]->loaded && k < P->plugins[i]->n_checks; k++) {
            plug__check *c = P->plugins[i]->checks[k];
            char err[ERR_MAX];
            if (plug__conf_build(P, c, err, sizeof(err)) != 0 ||
                (c->kind == FLOE_CHECK_FLOW && plug__filter_build(P, c, err, sizeof(err)) != 0))
                log_error(P->env.log, "plugins: %s: %s", c->full, err);
            if (!c->enabled)
                plug__engaged_release_check(P, c);
        }
    plug__rebuild_hooks(P);
}
