/*
 * The tables every plugin script sees besides its hook's arguments:
 * alerts (trigger, release, store, threshold, engaged), ts (append), log,
 * floe (now, version, risk names), probe (luaprobe.c), and the per-plugin
 * `state` table
 * that survives reloads. Also the engaged alert set: an alert that is
 * triggered stays engaged, keyed by (type, entity), until it is released;
 * every engage, repeat, release and one-shot goes to the alert sink the
 * owner lent (the alert store, or a test's recorder).
 */
#include "plugins/internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "alerts/alerts.h"

#define ENGAGED_SEED  0x656e6761ULL /* "enga" */
#define LOG_BURST     20            /* log lines per plugin per window */
#define LOG_WINDOW_MS 10000

/* ---- raising ---------------------------------------------------------------- */

typedef struct raise_args {
    int kind;
    int32_t def;
    int entity;
    const char *value;
    int severity;
    uint32_t score;
    const char *info;
    const floe_flow *flow;
} raise_args;

static void fill_flow(floe_plugins *P, floe_alert *a, const floe_flow *f)
{
    uint16_t cp, sp;
    a->has_flow = 1;
    a->cli = *floe_flow_client(f, &cp);
    a->srv = *floe_flow_server(f, &sp);
    a->cli_port = cp;
    a->srv_port = sp;
    a->l4 = f->key.ipproto;
    a->bytes = f->bytes[0] + f->bytes[1];
    a->packets = f->packets[0] + f->packets[1];
    floe_tables *t = P->env.tables;
    if (t && t->dpi)
        floe_dpi_label_name(t->dpi, &f->app, a->app, sizeof(a->app));
    if (t && t->names.addr)
        t->names.addr(t->names.ud, f->key.exporter, &a->exporter);
}

static void alert_raise(floe_plugins *P, const raise_args *r)
{
    const plug__alert_def *d = &P->alerts[r->def];
    floe_alert a;
    memset(&a, 0, sizeof(a));
    a.kind = r->kind;
    a.when_ms = P->now_ms;
    snprintf(a.type, sizeof(a.type), "%.*s", TYPE_MAX - 1, d->key); /* fits: the loader checks */
    snprintf(a.plugin, sizeof(a.plugin), "%s", d->plugin);
    if (P->cur)
        snprintf(a.check, sizeof(a.check), "%s", P->cur->key);
    a.entity_type = r->entity;
    snprintf(a.entity, sizeof(a.entity), "%s", r->value);
    a.severity = r->severity;
    a.score = r->score;
    a.info = r->info;
    if (r->flow)
        fill_flow(P, &a, r->flow);
    P->alerts_raised++;
    if (P->env.alert)
        P->env.alert(P->env.ud, &a);
}

void plug__status_alert(floe_plugins *P, const plug__status_def *sd, const floe_flow *f,
                        const char *info)
{
    const plug__alert_def *d = &P->alerts[sd->alert];
    char value[128], a[FLOE_ADDR_STRLEN], b[FLOE_ADDR_STRLEN];
    uint16_t cp, sp;
    floe_addr_format(floe_flow_client(f, &cp), a);
    floe_addr_format(floe_flow_server(f, &sp), b);
    snprintf(value, sizeof(value), "%s:%u -> %s:%u/%u", a, cp, b, sp, f->key.ipproto);
    raise_args r = {FLOE_ALERT_ONESHOT,
                    sd->alert,
                    FLOE_ENTITY_FLOW,
                    value,
                    d->severity,
                    sd->score > d->score ? sd->score : d->score,
                    info,
                    f};
    alert_raise(P, &r);
}

/* ---- the engaged set ---------------------------------------------------------- */

static uint64_t engaged_hash(int32_t def, int entity, const char *value)
{
    uint64_t h = floe_hash(value, strlen(value), ENGAGED_SEED);
    uint64_t k[2] = {(uint64_t)def << 8 | (uint64_t)entity, h};
    return floe_hash(k, sizeof(k), ENGAGED_SEED);
}

static plug__engaged *engaged_find(floe_plugins *P, int32_t def, int entity, const char *value)
{
    uint64_t h = engaged_hash(def, entity, value);
    for (floe_hnode *n = floe_hmap_bucket(&P->engaged, h); n; n = n->next) {
        plug__engaged *e = FLOE_CONTAINER_OF(n, plug__engaged, node);
        if (n->hash == h && e->def == def && e->entity == entity && strcmp(e->value, value) == 0)
            return e;
    }
    return NULL;
}

static plug__engaged *engaged_add(floe_plugins *P, int32_t def, int entity, const char *value)
{
    if (P->engaged.count >= P->o.max_engaged) {
        P->alerts_dropped++;
        return NULL;
    }
    plug__engaged *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->def = def;
    e->entity = entity;
    snprintf(e->value, sizeof(e->value), "%s", value);
    e->node.hash = engaged_hash(def, entity, value);
    floe_hmap_insert(&P->engaged, &e->node);
    return e;
}

static void engaged_remove(floe_plugins *P, plug__engaged *e)
{
    floe_hmap_remove(&P->engaged, &e->node);
    free(e);
}

/* Engages (or repeats) an alert; NULL when the set is full. */
static plug__engaged *engage(floe_plugins *P, raise_args *r)
{
    plug__engaged *e = engaged_find(P, r->def, r->entity, r->value);
    if (!e && !(e = engaged_add(P, r->def, r->entity, r->value)))
        return NULL;
    if (!e->since_ms)
        e->since_ms = P->now_ms;
    e->seen_ms = P->now_ms;
    e->severity = r->severity;
    e->score = r->score;
    if (P->cur)
        snprintf(e->check, sizeof(e->check), "%s", P->cur->key);
    r->kind = FLOE_ALERT_ENGAGE;
    alert_raise(P, r);
    return e;
}

static void release(floe_plugins *P, plug__engaged *e)
{
    raise_args r = {FLOE_ALERT_RELEASE, e->def,   e->entity, e->value,
                    e->severity,        e->score, NULL,      NULL};
    alert_raise(P, &r);
    engaged_remove(P, e);
}

void plug__engaged_release_check(floe_plugins *P, const plug__check *c)
{
    if (!P->engaged.buckets)
        return;
    for (size_t b = 0; b <= P->engaged.mask; b++) {
        floe_hnode *n = P->engaged.buckets[b];
        while (n) {
            plug__engaged *e = FLOE_CONTAINER_OF(n, plug__engaged, node);
            n = n->next;
            if (strcmp(e->check, c->key) == 0 && strcmp(P->alerts[e->def].plugin, c->p->name) == 0)
                release(P, e);
        }
    }
}

void plug__engaged_free(floe_plugins *P)
{
    if (!P->engaged.buckets)
        return;
    for (size_t b = 0; b <= P->engaged.mask; b++) {
        floe_hnode *n = P->engaged.buckets[b];
        while (n) {
            floe_hnode *next = n->next;
            free(FLOE_CONTAINER_OF(n, plug__engaged, node));
            n = next;
        }
    }
    floe_hmap_close(&P->engaged);
}

int floe_plugins_engaged_restore(floe_plugins *P, const struct floe_alert *a)
{
    int32_t def = plug__alert_lookup(P, NULL, a->type);
    if (def < 0) {
        /* Its plugin or definition is gone: nobody will release it. */
        floe_alert gone = *a;
        gone.kind = FLOE_ALERT_RELEASE;
        gone.when_ms = P->now_ms;
        gone.info = NULL;
        if (P->env.alert)
            P->env.alert(P->env.ud, &gone);
        return FLOE_ENOTFOUND;
    }
    plug__engaged *e = engaged_find(P, def, a->entity_type, a->entity);
    if (!e && !(e = engaged_add(P, def, a->entity_type, a->entity)))
        return FLOE_ENOMEM;
    e->since_ms = a->when_ms;
    e->seen_ms = a->when_ms;
    e->severity = a->severity;
    e->score = a->score;
    snprintf(e->check, sizeof(e->check), "%.*s", CHECK_KEY_MAX - 1, a->check);
    return 0;
}

/* ---- alerts.* ------------------------------------------------------------------- */

/* The common arguments: entity (1), type (2), options (opt). Fills r; the
 * info JSON, if any, is returned for the caller to free. */
static char *alert_args(lua_State *L, raise_args *r, char *value, size_t len, int opt)
{
    plug__plugin *p = plug__self(L);
    floe_plugins *P = p->P;
    memset(r, 0, sizeof(*r));
    plug__entity_of(L, 1, &r->entity, value, len);
    r->value = value;
    const char *type = luaL_checkstring(L, 2);
    r->def = plug__alert_lookup(P, p->name, type);
    if (r->def < 0)
        luaL_error(L, "unknown alert type '%s' (define it in alert_definitions/)", type);
    const plug__alert_def *d = &P->alerts[r->def];
    r->severity = d->severity;
    r->score = d->score;
    plug__ud *u = lua_type(L, 1) == LUA_TUSERDATA ? lua_touserdata(L, 1) : NULL;
    r->flow = u && u->kind == UD_FLOW ? u->ptr : NULL;
    if (lua_isnoneornil(L, opt))
        return NULL;
    luaL_checktype(L, opt, LUA_TTABLE);
    lua_getfield(L, opt, "severity");
    if (!lua_isnil(L, -1)) {
        const char *s = lua_tostring(L, -1);
        if (!s || (r->severity = floe_severity_parse(s)) < 0)
            luaL_error(L, "severity '%s' is not a severity", s ? s : "?");
    }
    lua_getfield(L, opt, "score");
    if (!lua_isnil(L, -1)) {
        lua_Integer sc = luaL_checkinteger(L, -1);
        if (sc < 0 || sc > 1000)
            luaL_error(L, "an alert score is from 0 to 1000");
        r->score = (uint32_t)sc;
    }
    lua_getfield(L, opt, "info");
    char *info = NULL;
    if (!lua_isnil(L, -1) && !(info = plug__json_string(L, -1)))
        luaL_error(L, "out of memory");
    lua_pop(L, 3);
    r->info = info;
    return info;
}

static int a_trigger(lua_State *L)
{
    raise_args r;
    char value[128];
    char *info = alert_args(L, &r, value, sizeof(value), 3);
    floe_plugins *P = plug__self(L)->P;
    plug__engaged *e = engage(P, &r);
    free(info);
    lua_pushboolean(L, e != NULL);
    return 1;
}

static int a_release(lua_State *L)
{
    raise_args r;
    char value[128];
    alert_args(L, &r, value, sizeof(value), 3);
    floe_plugins *P = plug__self(L)->P;
    plug__engaged *e = engaged_find(P, r.def, r.entity, value);
    if (e)
        release(P, e);
    lua_pushboolean(L, e != NULL);
    return 1;
}

static int a_store(lua_State *L)
{
    raise_args r;
    char value[128];
    char *info = alert_args(L, &r, value, sizeof(value), 3);
    r.kind = FLOE_ALERT_ONESHOT;
    alert_raise(plug__self(L)->P, &r);
    free(info);
    return 0;
}

static int a_engaged(lua_State *L)
{
    raise_args r;
    char value[128];
    alert_args(L, &r, value, sizeof(value), 3);
    lua_pushboolean(L, engaged_find(plug__self(L)->P, r.def, r.entity, value) != NULL);
    return 1;
}

/*
 * alerts.threshold(entity, type, value, {threshold =, above = true,
 * hysteresis = 0, severity =, score =, info =}): engages when value is past
 * the threshold (above it, or below it with above = false), releases when
 * it is back past the threshold by the hysteresis. Returns whether the
 * alert is engaged.
 */
static int a_threshold(lua_State *L)
{
    lua_Number v = luaL_checknumber(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_getfield(L, 4, "threshold");
    if (!lua_isnumber(L, -1))
        return luaL_error(L, "alerts.threshold needs {threshold = number}");
    lua_Number th = lua_tonumber(L, -1);
    lua_getfield(L, 4, "above");
    int above = lua_isnil(L, -1) || lua_toboolean(L, -1);
    lua_getfield(L, 4, "hysteresis");
    lua_Number hy = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
    lua_pop(L, 3);
    lua_remove(L, 3); /* the options move to 3 for alert_args */
    raise_args r;
    char value[128];
    char *info = alert_args(L, &r, value, sizeof(value), 3);
    floe_plugins *P = plug__self(L)->P;
    plug__engaged *e = engaged_find(P, r.def, r.entity, value);
    int past = above ? v > th : v < th;
    int back = above ? v <= th - hy : v >= th + hy;
    if (past)
        e = engage(P, &r);
    else if (e && back) {
        release(P, e);
        e = NULL;
    }
    free(info);
    lua_pushboolean(L, e != NULL);
    return 1;
}

static const luaL_Reg alerts_api[] = {
    {"trigger", a_trigger},     {"release", a_release}, {"store", a_store},
    {"threshold", a_threshold}, {"engaged", a_engaged}, {NULL, NULL},
};

/* ---- log.* ------------------------------------------------------------------------ */

static int l_write(lua_State *L, int level)
{
    plug__plugin *p = plug__self(L);
    floe_plugins *P = p->P;
    const char *msg = luaL_checkstring(L, 1);
    uint64_t now = floe_monotonic_ms();
    if (now - p->log_window_ms >= LOG_WINDOW_MS) {
        if (p->log_suppressed)
            log_warn(P->env.log, "plugins: %s: %u log lines suppressed", p->name,
                     p->log_suppressed);
        p->log_window_ms = now;
        p->log_count = p->log_suppressed = 0;
    }
    if (p->log_count++ >= LOG_BURST) {
        p->log_suppressed++;
        return 0;
    }
    floe_log_write(P->env.log, level, "plugin %s%s%s: %s", p->name, P->cur ? "." : "",
                   P->cur ? P->cur->key : "", msg);
    return 0;
}

static int l_debug(lua_State *L)
{
    return l_write(L, FLOE_LOG_DEBUG);
}
static int l_info(lua_State *L)
{
    return l_write(L, FLOE_LOG_INFO);
}
static int l_warn(lua_State *L)
{
    return l_write(L, FLOE_LOG_WARN);
}
static int l_error(lua_State *L)
{
    return l_write(L, FLOE_LOG_ERROR);
}

static const luaL_Reg log_api[] = {
    {"debug", l_debug}, {"info", l_info}, {"warn", l_warn}, {"error", l_error}, {NULL, NULL},
};

/* ---- floe.* -------------------------------------------------------------------------- */

static int x_now(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)plug__self(L)->P->now_ms / 1000.0);
    return 1;
}

static int x_risks(lua_State *L)
{
    lua_newtable(L);
    lua_Integer i = 1;
    for (int n = 1; floe_dpi_risk_name(n); n++) {
        lua_pushstring(L, floe_dpi_risk_name(n));
        lua_rawseti(L, -2, i++);
    }
    return 1;
}

/* floe.risk_info(name): {title = nDPI's words, score = nDPI's score}. */
static int x_risk_info(lua_State *L)
{
    int n = floe_dpi_risk_parse(luaL_checkstring(L, 1));
    if (n < 0)
        return luaL_error(L, "'%s' is not an nDPI risk", lua_tostring(L, 1));
    lua_createtable(L, 0, 2);
    lua_pushstring(L, floe_dpi_risk_title(n));
    lua_setfield(L, -2, "title");
    lua_pushinteger(L, floe_dpi_risk_score(n));
    lua_setfield(L, -2, "score");
    return 1;
}

/* floe.listed(file, address): whether the address is in a list file that a
 * check's filter reads (hosts_file); other files cannot be read. */
static int x_listed(lua_State *L)
{
    floe_plugins *P = plug__self(L)->P;
    const char *path = luaL_checkstring(L, 1);
    floe_addr a;
    if (floe_addr_parse(&a, luaL_checkstring(L, 2)) != 0)
        return luaL_error(L, "floe.listed: '%s' is not an address", lua_tostring(L, 2));
    for (plug__listfile *lf = P->files; lf; lf = lf->next)
        if (strcmp(lf->path, path) == 0) {
            lua_pushboolean(L, plug__addrset_has(&lf->set, &a));
            return 1;
        }
    return luaL_error(L, "floe.listed: %s is not a list file of a check's filter", path);
}

static int x_json(lua_State *L)
{
    luaL_checkany(L, 1);
    char *s = plug__json_string(L, 1);
    if (!s)
        return luaL_error(L, "out of memory");
    lua_pushstring(L, s);
    free(s);
    return 1;
}

static const luaL_Reg floe_api[] = {
    {"now", x_now},       {"risk_names", x_risks}, {"risk_info", x_risk_info},
    {"listed", x_listed}, {"json", x_json},        {NULL, NULL},
};

/* ---- opening ------------------------------------------------------------------------- */

static void api_table(lua_State *L, plug__plugin *p, const char *name, const luaL_Reg *fns)
{
    lua_newtable(L);
    lua_pushlightuserdata(L, p);
    luaL_setfuncs(L, fns, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, name);
}

static int api_open_protected(lua_State *L)
{
    plug__plugin *p = lua_touserdata(L, 1);
    api_table(L, p, "alerts", alerts_api);
    api_table(L, p, "log", log_api);
    api_table(L, p, "floe", floe_api);
    lua_getfield(L, LUA_REGISTRYINDEX, "floe");
    lua_pushstring(L, PACKAGE_VERSION);
    lua_setfield(L, -2, "version");
    lua_pop(L, 1);
    plug__ts_api(L, p);
    plug__probe_api(L, p);
    lua_newtable(L);
    p->state_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    plug__flow_api(p);
    plug__entity_api(p);
    return 0;
}

int plug__api_open(plug__plugin *p)
{
    char err[ERR_MAX];
    lua_pushcfunction(p->sb.L, api_open_protected);
    lua_pushlightuserdata(p->sb.L, p);
    return floe_sandbox_call(&p->sb, 1, 0, 0, err, sizeof(err));
}
