/*
 * The probe table of the Lua API: probe.start(key, spec) asks for a probe
 * of a service (probes/: TCP, TLS, MySQL), probe.results() gives each
 * key's last result, probe.forget(key) drops a key. Live, probes run on
 * libuv's work queue through one floe_probes queue shared by every
 * plugin, and their results land here on the loop thread; a hook never
 * waits for one. Offline (floe replay, floe plugin test) nothing touches
 * the network: a replay must be repeatable and must not wait on networks,
 * so probe.start only records the request, and `floe plugin test` feeds
 * results through floe_plugins_probe_feed (test.probe_result).
 *
 * Results are kept per plugin and per key (at most PROBES_MAX keys), and
 * survive a reload of the plugin, as its `state` does.
 */
#include "plugins/internal.h"

#include <stdio.h>
#include <stdlib.h>

#define PROBES_MAX    256 /* keys per plugin */
#define QUEUE_RUNNING 2   /* probes at once: each holds a pool thread */
#define QUEUE_WAITING 512
#define KEY_MAX       64

/* ---- the per-plugin store -------------------------------------------------- */

static plug__probe *probe_find(plug__plugin *p, const char *key)
{
    for (size_t i = 0; i < p->n_probes; i++)
        if (strcmp(p->probes[i].key, key) == 0)
            return &p->probes[i];
    return NULL;
}

/* The entry of key, made if need be; NULL past PROBES_MAX or on no memory. */
static plug__probe *probe_entry(plug__plugin *p, const char *key)
{
    plug__probe *e = probe_find(p, key);
    if (e || p->n_probes >= PROBES_MAX)
        return e;
    plug__probe *grown = realloc(p->probes, (p->n_probes + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    p->probes = grown;
    e = &p->probes[p->n_probes++];
    memset(e, 0, sizeof(*e));
    snprintf(e->key, sizeof(e->key), "%s", key);
    return e;
}

void plug__probes_free(plug__plugin *p)
{
    free(p->probes);
    p->probes = NULL;
    p->n_probes = 0;
}

static plug__plugin *plugin_named(floe_plugins *P, const char *name, size_t len)
{
    for (size_t i = 0; i < P->n_plugins; i++)
        if (strlen(P->plugins[i]->name) == len && strncmp(P->plugins[i]->name, name, len) == 0)
            return P->plugins[i];
    return NULL;
}

/* A result from the queue ("plugin/key"), on the loop thread. A plugin
 * removed meanwhile, or a key forgotten, drops it. */
static void on_done(void *ud, const char *qkey, const floe_probe_result *r)
{
    floe_plugins *P = ud;
    const char *slash = strchr(qkey, '/');
    plug__plugin *p = slash ? plugin_named(P, qkey, (size_t)(slash - qkey)) : NULL;
    plug__probe *e = p ? probe_find(p, slash + 1) : NULL;
    if (!e)
        return;
    e->res = *r;
    e->has_result = 1;
    e->running = 0;
    P->probes_done++;
}

void plug__probeq_free(floe_plugins *P)
{
    floe_probes_free(P->probeq);
    P->probeq = NULL;
    for (size_t i = 0; i < P->n_plugins; i++)
        for (size_t k = 0; k < P->plugins[i]->n_probes; k++)
            P->plugins[i]->probes[k].running = 0;
}

/* ---- specs and results as Lua tables ---------------------------------------- */

static void opt_str(lua_State *L, int t, const char *key, char *dst, size_t size)
{
    lua_getfield(L, t, key);
    if (!lua_isnil(L, -1)) {
        size_t n;
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
        if (!s || n >= size)
            luaL_error(L, "probe spec: %s must be a string under %d bytes", key, (int)size);
        memcpy(dst, s, n + 1);
    }
    lua_pop(L, 1);
}

static lua_Integer opt_int(lua_State *L, int t, const char *key, lua_Integer def, lua_Integer max)
{
    lua_getfield(L, t, key);
    lua_Integer v = def;
    if (!lua_isnil(L, -1)) {
        int ok = 0;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok || v < 1 || v > max)
            luaL_error(L, "probe spec: %s must be an integer from 1 to %d", key, (int)max);
    }
    lua_pop(L, 1);
    return v;
}

/* The spec table at t: {kind =, host =, port =, timeout_ms =, server_name =,
 * ca_file =}. Raises an error naming the field. */
static void read_spec(lua_State *L, int t, floe_probe_spec *s)
{
    static const char *const keys[] = {"kind",       "host",        "port",
                                       "timeout_ms", "server_name", "ca_file"};
    char kind[16] = "tcp", why[160];
    luaL_checktype(L, t, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        size_t i = 0;
        while (i < FLOE_ARRAY_LEN(keys) && strcmp(k, keys[i]) != 0)
            i++;
        if (i == FLOE_ARRAY_LEN(keys))
            luaL_error(L, "probe spec: unknown key '%s'", k);
        lua_pop(L, 1);
    }
    memset(s, 0, sizeof(*s));
    opt_str(L, t, "kind", kind, sizeof(kind));
    opt_str(L, t, "host", s->host, sizeof(s->host));
    opt_str(L, t, "server_name", s->server_name, sizeof(s->server_name));
    opt_str(L, t, "ca_file", s->ca_file, sizeof(s->ca_file));
    s->kind = floe_probe_kind_parse(kind);
    s->port = (uint16_t)opt_int(L, t, "port", 0, 65535);
    s->timeout_ms = (uint32_t)opt_int(L, t, "timeout_ms", 5000, FLOE_PROBE_TIMEOUT_MAX);
    if (floe_probe_spec_check(s, why, sizeof(why)) != 0)
        luaL_error(L, "probe spec: %s", why);
}

static void set_str(lua_State *L, const char *key, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, key);
}

static void set_num(lua_State *L, const char *key, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, key);
}

static void push_cert(lua_State *L, const floe_probe_result *r)
{
    lua_createtable(L, 0, 6);
    set_str(L, "status", floe_cert_status_name(r->cert_status));
    lua_pushinteger(L, r->cert_days_left);
    lua_setfield(L, -2, "days_left");
    lua_pushinteger(L, r->cert_not_after_s);
    lua_setfield(L, -2, "not_after");
    set_str(L, "subject", r->cert_subject);
    set_str(L, "issuer", r->cert_issuer);
    lua_newtable(L);
    lua_Integer n = 1;
    for (int st = FLOE_CERT_NONE + 1; st < FLOE_CERT_VALID; st++)
        if (r->cert_problems & (1u << st)) {
            lua_pushstring(L, floe_cert_status_name(st));
            lua_rawseti(L, -2, n++);
        }
    lua_setfield(L, -2, "problems");
}

/* {ok, rtt_ms, duration_ms, error, at, kind, host, port, address,
 *  cert = {...} (TLS), tls_version, server_version, protocol_version
 *  (MySQL)}: what probe.results() gives for a key. */
static void push_result(lua_State *L, const plug__probe *e)
{
    const floe_probe_result *r = &e->res;
    lua_createtable(L, 0, 12);
    lua_pushboolean(L, r->ok);
    lua_setfield(L, -2, "ok");
    set_num(L, "rtt_ms", r->rtt_ms);
    set_num(L, "duration_ms", r->duration_ms);
    set_num(L, "at", (double)r->at_ms / 1000.0);
    if (r->error[0])
        set_str(L, "error", r->error);
    set_str(L, "kind", floe_probe_kind_name(e->spec.kind));
    set_str(L, "host", e->spec.host);
    lua_pushinteger(L, e->spec.port);
    lua_setfield(L, -2, "port");
    if (r->address[0])
        set_str(L, "address", r->address);
    if (r->cert_status != FLOE_CERT_NONE) {
        push_cert(L, r);
        lua_setfield(L, -2, "cert");
        set_str(L, "tls_version", r->tls_version);
    }
    if (r->server_version[0]) {
        set_str(L, "server_version", r->server_version);
        lua_pushinteger(L, r->mysql_protocol);
        lua_setfield(L, -2, "protocol_version");
    }
}

/* ---- probe.* ------------------------------------------------------------------ */

static const char *check_key(lua_State *L, int idx)
{
    size_t n;
    const char *key = luaL_checklstring(L, idx, &n);
    if (n == 0 || n >= KEY_MAX || strpbrk(key, "/\r\n"))
        luaL_error(L, "a probe key is 1 to %d bytes, without '/' or line breaks", KEY_MAX - 1);
    return key;
}

/* probe.start(key, spec): true once queued (live) or recorded (offline);
 * false and why when the key's previous probe is still running or the
 * queue is full. */
static int pr_start(lua_State *L)
{
    plug__plugin *p = plug__self(L);
    floe_plugins *P = p->P;
    const char *key = check_key(L, 1);
    floe_probe_spec spec;
    read_spec(L, 2, &spec);
    plug__probe *e = probe_entry(p, key);
    if (!e)
        return luaL_error(L, "probe.start: at most %d probe keys per plugin", PROBES_MAX);
    if (!P->probeq && P->env.loop)
        P->probeq =
            floe_probes_new((uv_loop_t *)P->env.loop, QUEUE_RUNNING, QUEUE_WAITING, on_done, P);
    e->spec = spec;
    e->started_ms = P->now_ms;
    e->starts++;
    if (!P->probeq) { /* offline: the request is recorded, nothing runs */
        lua_pushboolean(L, 1);
        return 1;
    }
    char qkey[FLOE_PROBE_KEY_MAX];
    snprintf(qkey, sizeof(qkey), "%s/%s", p->name, key);
    int rc = floe_probes_submit(P->probeq, qkey, &spec);
    e->running = rc == 0 || rc == FLOE_EEXISTS;
    lua_pushboolean(L, rc == 0);
    if (rc == 0)
        return 1;
    lua_pushstring(L, rc == FLOE_EEXISTS  ? "the previous probe of this key is still running"
                      : rc == FLOE_ELIMIT ? "the probe queue is full"
                                          : floe_strerror(rc));
    return 2;
}

static int pr_results(lua_State *L)
{
    plug__plugin *p = plug__self(L);
    lua_createtable(L, 0, (int)p->n_probes);
    for (size_t i = 0; i < p->n_probes; i++) {
        if (!p->probes[i].has_result)
            continue;
        push_result(L, &p->probes[i]);
        lua_setfield(L, -2, p->probes[i].key);
    }
    return 1;
}

static int pr_result(lua_State *L)
{
    plug__probe *e = probe_find(plug__self(L), check_key(L, 1));
    if (!e || !e->has_result) {
        lua_pushnil(L);
        return 1;
    }
    push_result(L, e);
    return 1;
}

/* probe.forget(key): the key and its result are dropped (a service taken
 * out of the config); a probe still running is discarded when it ends. */
static int pr_forget(lua_State *L)
{
    plug__plugin *p = plug__self(L);
    plug__probe *e = probe_find(p, check_key(L, 1));
    if (e)
        *e = p->probes[--p->n_probes];
    lua_pushboolean(L, e != NULL);
    return 1;
}

static const luaL_Reg probe_api[] = {
    {"start", pr_start}, {"results", pr_results}, {"result", pr_result}, {"forget", pr_forget},
    {NULL, NULL},
};
/* What a page may call: reading only. */
static const luaL_Reg probe_read_api[] = {
    {"results", pr_results},
    {"result", pr_result},
    {NULL, NULL},
};

void plug__probe_api(lua_State *L, plug__plugin *p)
{
    lua_newtable(L);
    lua_pushlightuserdata(L, p);
    luaL_setfuncs(L, probe_api, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "probe");
    lua_newtable(L);
    lua_pushlightuserdata(L, p);
    luaL_setfuncs(L, probe_read_api, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "probe_read");
}

/* ---- offline: what tests see and feed ----------------------------------------- */

void floe_plugins_probe_requests(floe_plugins *P, const char *plugin, lua_State *L)
{
    plug__plugin *p = plugin_named(P, plugin, strlen(plugin));
    lua_newtable(L);
    for (size_t i = 0; p && i < p->n_probes; i++) {
        const plug__probe *e = &p->probes[i];
        if (!e->starts)
            continue;
        lua_createtable(L, 0, 7);
        set_str(L, "kind", floe_probe_kind_name(e->spec.kind));
        set_str(L, "host", e->spec.host);
        lua_pushinteger(L, e->spec.port);
        lua_setfield(L, -2, "port");
        lua_pushinteger(L, e->spec.timeout_ms);
        lua_setfield(L, -2, "timeout_ms");
        if (e->spec.server_name[0])
            set_str(L, "server_name", e->spec.server_name);
        lua_pushinteger(L, (lua_Integer)e->starts);
        lua_setfield(L, -2, "starts");
        set_num(L, "at", (double)e->started_ms / 1000.0);
        lua_setfield(L, -2, e->key);
    }
}

static double opt_num(lua_State *L, int t, const char *key, double def)
{
    lua_getfield(L, t, key);
    double v = lua_isnumber(L, -1) ? (double)lua_tonumber(L, -1) : def;
    lua_pop(L, 1);
    return v;
}

/* The cert table at the top: {status =, days_left =, subject =, issuer =}. */
static void read_cert(lua_State *L, floe_probe_result *r)
{
    char status[32] = "valid";
    opt_str(L, -1, "status", status, sizeof(status));
    r->cert_status = -1;
    for (int st = FLOE_CERT_NONE + 1; st < FLOE_CERT_STATUS_COUNT; st++)
        if (strcmp(floe_cert_status_name(st), status) == 0)
            r->cert_status = st;
    if (r->cert_status < 0)
        luaL_error(L,
                   "probe result: cert status '%s' is not valid, expired, not yet valid, "
                   "self-signed, untrusted or name mismatch",
                   status);
    r->cert_problems = r->cert_status == FLOE_CERT_VALID ? 0 : 1u << r->cert_status;
    r->cert_days_left = (int64_t)opt_num(L, -1, "days_left", 365);
    opt_str(L, -1, "subject", r->cert_subject, sizeof(r->cert_subject));
    opt_str(L, -1, "issuer", r->cert_issuer, sizeof(r->cert_issuer));
}

int floe_plugins_probe_feed(floe_plugins *P, const char *plugin, const char *key, lua_State *L,
                            int idx)
{
    plug__plugin *p = plugin_named(P, plugin, strlen(plugin));
    plug__probe *e = p ? probe_entry(p, key) : NULL;
    if (!e)
        return FLOE_ENOTFOUND;
    floe_probe_result r;
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    memset(&r, 0, sizeof(r));
    lua_getfield(L, idx, "ok");
    r.ok = lua_toboolean(L, -1);
    lua_pop(L, 1);
    r.rtt_ms = opt_num(L, idx, "rtt_ms", r.ok ? 1.0 : 0.0);
    r.duration_ms = opt_num(L, idx, "duration_ms", r.rtt_ms);
    r.at_ms = (uint64_t)(opt_num(L, idx, "at", (double)P->now_ms / 1000.0) * 1000.0);
    opt_str(L, idx, "error", r.error, sizeof(r.error));
    if (!r.ok && !r.error[0])
        snprintf(r.error, sizeof(r.error), "down");
    opt_str(L, idx, "server_version", r.server_version, sizeof(r.server_version));
    r.mysql_protocol = r.server_version[0] ? 10 : 0;
    lua_getfield(L, idx, "cert");
    if (lua_istable(L, -1))
        read_cert(L, &r);
    lua_pop(L, 1);
    e->res = r;
    e->has_result = 1;
    return 0;
}
