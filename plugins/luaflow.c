/*
 * The flow a flow hook is called with: one userdata per plugin, pointed at
 * the flow only during the call (a script that keeps it gets "the flow is
 * gone" later, never freed memory), with methods that read the flow in
 * place. Nothing is built per call: LIBRARIES.md measured a table per flow
 * at twice the cost of a reused userdata.
 */
#include "plugins/internal.h"

#include <stdio.h>
#include <stdlib.h>

floe_flow *plug__check_flow(lua_State *L, int idx)
{
    plug__ud *u = lua_touserdata(L, idx);
    if (!u || u->kind != UD_FLOW)
        luaL_error(L, "expected a flow (call it as flow:method())");
    if (!u->ptr)
        luaL_error(L, "the flow is gone: a flow is valid only during the hook call");
    return u->ptr;
}

static int push_addr(lua_State *L, const floe_addr *a)
{
    char text[FLOE_ADDR_STRLEN];
    lua_pushstring(L, floe_addr_format(a, text));
    return 1;
}

static floe_dpi *dpi_of(lua_State *L)
{
    floe_tables *t = plug__self(L)->P->env.tables;
    return t ? t->dpi : NULL;
}

static int f_client(lua_State *L)
{
    return push_addr(L, floe_flow_client(plug__check_flow(L, 1), NULL));
}
static int f_server(lua_State *L)
{
    return push_addr(L, floe_flow_server(plug__check_flow(L, 1), NULL));
}

static int f_client_port(lua_State *L)
{
    uint16_t port;
    floe_flow_client(plug__check_flow(L, 1), &port);
    lua_pushinteger(L, port);
    return 1;
}

static int f_server_port(lua_State *L)
{
    uint16_t port;
    floe_flow_server(plug__check_flow(L, 1), &port);
    lua_pushinteger(L, port);
    return 1;
}

static int f_l4_name(lua_State *L)
{
    static const struct {
        uint8_t proto;
        const char *name;
    } names[] = {{1, "ICMP"}, {6, "TCP"},     {17, "UDP"},  {47, "GRE"},
                 {50, "ESP"}, {58, "ICMPv6"}, {132, "SCTP"}};
    uint8_t p = plug__check_flow(L, 1)->key.ipproto;
    for (size_t i = 0; i < FLOE_ARRAY_LEN(names); i++)
        if (names[i].proto == p) {
            lua_pushstring(L, names[i].name);
            return 1;
        }
    lua_pushfstring(L, "%d", (int)p);
    return 1;
}

static int f_app(lua_State *L)
{
    floe_flow *f = plug__check_flow(L, 1);
    floe_dpi *d = dpi_of(L);
    char name[96];
    lua_pushstring(L, d ? floe_dpi_label_name(d, &f->app, name, sizeof(name)) : "Unknown");
    return 1;
}

static int f_master_app(lua_State *L)
{
    floe_flow *f = plug__check_flow(L, 1);
    floe_dpi *d = dpi_of(L);
    lua_pushstring(L, d ? floe_dpi_app_name(d, f->app.master ? f->app.master : f->app.app)
                        : "Unknown");
    return 1;
}

static int f_category(lua_State *L)
{
    floe_flow *f = plug__check_flow(L, 1);
    floe_dpi *d = dpi_of(L);
    lua_pushstring(L, d ? floe_dpi_category_name(d, f->app.category) : "Unspecified");
    return 1;
}

static int f_app_source(lua_State *L)
{
    lua_pushstring(L, floe_app_source_name(plug__check_flow(L, 1)->app_source));
    return 1;
}

static int f_exporter(lua_State *L)
{
    floe_flow *f = plug__check_flow(L, 1);
    floe_tables *t = plug__self(L)->P->env.tables;
    floe_addr a;
    if (t && t->names.addr && t->names.addr(t->names.ud, f->key.exporter, &a) == 0)
        return push_addr(L, &a);
    lua_pushnil(L);
    return 1;
}

static int f_is_local(lua_State *L, int side)
{
    floe_flow *f = plug__check_flow(L, 1);
    lua_pushboolean(L, f->host[side] && f->host[side]->net >= 0);
    return 1;
}
static int f_client_local(lua_State *L)
{
    return f_is_local(L, 0);
}
static int f_server_local(lua_State *L)
{
    return f_is_local(L, 1);
}

static int f_network(lua_State *L, int side)
{
    floe_flow *f = plug__check_flow(L, 1);
    floe_tables *t = plug__self(L)->P->env.tables;
    if (t && f->host[side] && f->host[side]->net >= 0)
        lua_pushstring(L, t->nets[f->host[side]->net].name);
    else
        lua_pushnil(L);
    return 1;
}
static int f_client_network(lua_State *L)
{
    return f_network(L, 0);
}
static int f_server_network(lua_State *L)
{
    return f_network(L, 1);
}

static int f_risks(lua_State *L)
{
    floe_flow *f = plug__check_flow(L, 1);
    lua_newtable(L);
    lua_Integer i = 1;
    for (int n = 1; n < 64; n++)
        if ((f->risk >> n) & 1 && floe_dpi_risk_name(n)) {
            lua_pushstring(L, floe_dpi_risk_name(n));
            lua_rawseti(L, -2, i++);
        }
    return 1;
}

static int f_has_risk(lua_State *L)
{
    floe_flow *f = plug__check_flow(L, 1);
    int n = floe_dpi_risk_parse(luaL_checkstring(L, 2));
    if (n < 0)
        return luaL_error(L, "'%s' is not an nDPI risk", lua_tostring(L, 2));
    lua_pushboolean(L, (f->risk >> n) & 1);
    return 1;
}

/* ---- statuses -------------------------------------------------------------- */

static int32_t status_arg(lua_State *L, int idx)
{
    plug__plugin *p = plug__self(L);
    const char *key = luaL_checkstring(L, idx);
    int32_t id = plug__status_lookup(p->P, p->name, key);
    if (id < 0)
        luaL_error(L, "unknown status '%s' (define it in status_definitions/)", key);
    return id;
}

static int f_set_status(lua_State *L)
{
    floe_flow *f = plug__check_flow(L, 1);
    int32_t id = status_arg(L, 2);
    plug__plugin *p = plug__self(L);
    const plug__status_def *sd = &p->P->statuses[id];
    lua_Integer score = sd->score;
    char *info = NULL;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "score");
        if (!lua_isnil(L, -1))
            score = luaL_checkinteger(L, -1);
        if (score < 0 || score > 1000)
            return luaL_error(L, "a status score is from 0 to 1000");
        lua_getfield(L, 3, "info");
        if (!lua_isnil(L, -1) && !(info = plug__json_string(L, -1)))
            return luaL_error(L, "out of memory");
        lua_pop(L, 2);
    }
    int rc = floe_flow_set_status(f, (uint32_t)id, (uint16_t)score, info);
    p->P->statuses[id].sets += rc == 1;
    if (rc == 1 && sd->alert >= 0)
        plug__status_alert(p->P, sd, f, info);
    free(info);
    if (rc < 0)
        return luaL_error(
            L, rc == FLOE_ELIMIT ? "the flow holds its %d statuses already" : "out of memory",
            FLOE_FLOW_STATUSES);
    lua_pushboolean(L, rc == 1);
    return 1;
}

static int f_clear_status(lua_State *L)
{
    floe_flow *f = plug__check_flow(L, 1);
    lua_pushboolean(L, floe_flow_clear_status(f, (uint32_t)status_arg(L, 2)));
    return 1;
}

static int f_has_status(lua_State *L)
{
    floe_flow *f = plug__check_flow(L, 1);
    lua_pushboolean(L, floe_flow_status_find(f, (uint32_t)status_arg(L, 2)) != NULL);
    return 1;
}

static int f_statuses(lua_State *L)
{
    floe_flow *f = plug__check_flow(L, 1);
    floe_plugins *P = plug__self(L)->P;
    lua_newtable(L);
    for (uint16_t i = 0; f->status && i < f->status->n; i++) {
        const char *key = floe_plugins_status_key(P, f->status->s[i].id);
        if (!key)
            continue;
        lua_pushinteger(L, f->status->s[i].score);
        lua_setfield(L, -2, key);
    }
    return 1;
}

static int f_status(lua_State *L)
{
    const floe_flow_status *st = floe_flow_predominant(plug__check_flow(L, 1));
    const char *key = st ? floe_plugins_status_key(plug__self(L)->P, st->id) : NULL;
    if (key)
        lua_pushstring(L, key);
    else
        lua_pushnil(L);
    return 1;
}

/* ---- numbers ----------------------------------------------------------------- */

/* Numeric getters, one row each: the name and how to read it. */
static double n_l4(const floe_flow *f)
{
    return f->key.ipproto;
}
static double n_vlan(const floe_flow *f)
{
    return f->key.vlan;
}
static double n_app_id(const floe_flow *f)
{
    return f->app.app;
}
static double n_bytes(const floe_flow *f)
{
    return (double)(f->bytes[0] + f->bytes[1]);
}
static double n_bytes_c2s(const floe_flow *f)
{
    return (double)f->bytes[0];
}
static double n_bytes_s2c(const floe_flow *f)
{
    return (double)f->bytes[1];
}
static double n_packets(const floe_flow *f)
{
    return (double)(f->packets[0] + f->packets[1]);
}
static double n_packets_c2s(const floe_flow *f)
{
    return (double)f->packets[0];
}
static double n_packets_s2c(const floe_flow *f)
{
    return (double)f->packets[1];
}
static double n_first_seen(const floe_flow *f)
{
    return (double)f->first_ms / 1000.0;
}
static double n_last_seen(const floe_flow *f)
{
    return (double)f->last_ms / 1000.0;
}
static double n_duration(const floe_flow *f)
{
    return (double)(f->last_ms - f->first_ms) / 1000.0;
}
static double n_flags_c2s(const floe_flow *f)
{
    return f->tcp_flags[0];
}
static double n_flags_s2c(const floe_flow *f)
{
    return f->tcp_flags[1];
}
static double n_cli_lat(const floe_flow *f)
{
    return f->cli_latency_us / 1000.0;
}
static double n_srv_lat(const floe_flow *f)
{
    return f->srv_latency_us / 1000.0;
}
static double n_rtt(const floe_flow *f)
{
    return (f->cli_latency_us + (double)f->srv_latency_us) / 1000.0;
}
static double n_retr_c2s(const floe_flow *f)
{
    return f->retrans[0];
}
static double n_retr_s2c(const floe_flow *f)
{
    return f->retrans[1];
}
static double n_in_if(const floe_flow *f)
{
    return f->ifs[0][0];
}
static double n_out_if(const floe_flow *f)
{
    return f->ifs[0][1];
}
static double n_tos(const floe_flow *f)
{
    return f->tos;
}
static double n_score(const floe_flow *f)
{
    return f->score;
}
static double n_records(const floe_flow *f)
{
    return f->records;
}
static double n_sampling(const floe_flow *f)
{
    return f->sampling ? f->sampling : 1;
}

static const struct num_getter {
    const char *name;
    double (*get)(const floe_flow *f);
} nums[] = {
    {"l4", n_l4},
    {"vlan", n_vlan},
    {"app_id", n_app_id},
    {"bytes", n_bytes},
    {"bytes_c2s", n_bytes_c2s},
    {"bytes_s2c", n_bytes_s2c},
    {"packets", n_packets},
    {"packets_c2s", n_packets_c2s},
    {"packets_s2c", n_packets_s2c},
    {"first_seen", n_first_seen},
    {"last_seen", n_last_seen},
    {"duration", n_duration},
    {"tcp_flags_c2s", n_flags_c2s},
    {"tcp_flags_s2c", n_flags_s2c},
    {"client_latency", n_cli_lat},
    {"server_latency", n_srv_lat},
    {"rtt", n_rtt},
    {"retransmissions_c2s", n_retr_c2s},
    {"retransmissions_s2c", n_retr_s2c},
    {"in_if", n_in_if},
    {"out_if", n_out_if},
    {"tos", n_tos},
    {"score", n_score},
    {"records", n_records},
    {"sampling", n_sampling},
};

static int f_number(lua_State *L)
{
    const struct num_getter *g = lua_touserdata(L, lua_upvalueindex(2));
    double v = g->get(plug__check_flow(L, 1));
    if (v == (double)(lua_Integer)v)
        lua_pushinteger(L, (lua_Integer)v);
    else
        lua_pushnumber(L, v);
    return 1;
}

static int f_tostring(lua_State *L)
{
    plug__ud *u = lua_touserdata(L, 1);
    if (!u || !u->ptr) {
        lua_pushliteral(L, "flow (gone)");
        return 1;
    }
    floe_flow *f = u->ptr;
    char a[FLOE_ADDR_STRLEN], b[FLOE_ADDR_STRLEN];
    uint16_t cp, sp;
    floe_addr_format(floe_flow_client(f, &cp), a);
    floe_addr_format(floe_flow_server(f, &sp), b);
    lua_pushfstring(L, "flow %s:%d -> %s:%d/%d", a, (int)cp, b, (int)sp, (int)f->key.ipproto);
    return 1;
}

static const luaL_Reg methods[] = {
    {"client", f_client},
    {"server", f_server},
    {"client_port", f_client_port},
    {"server_port", f_server_port},
    {"l4_name", f_l4_name},
    {"app", f_app},
    {"master_app", f_master_app},
    {"category", f_category},
    {"app_source", f_app_source},
    {"exporter", f_exporter},
    {"client_local", f_client_local},
    {"server_local", f_server_local},
    {"client_network", f_client_network},
    {"server_network", f_server_network},
    {"risks", f_risks},
    {"has_risk", f_has_risk},
    {"setStatus", f_set_status},
    {"clearStatus", f_clear_status},
    {"hasStatus", f_has_status},
    {"statuses", f_statuses},
    {"status", f_status},
    {NULL, NULL},
};

/* In protected mode, from plug__api_open: the flow metatable and the one
 * flow userdata of this plugin. */
void plug__flow_api(plug__plugin *p)
{
    lua_State *L = p->sb.L;
    lua_newtable(L); /* the methods */
    lua_pushlightuserdata(L, p);
    luaL_setfuncs(L, methods, 1);
    for (size_t i = 0; i < FLOE_ARRAY_LEN(nums); i++) {
        lua_pushlightuserdata(L, p);
        lua_pushlightuserdata(L, (void *)&nums[i]);
        lua_pushcclosure(L, f_number, 2);
        lua_setfield(L, -2, nums[i].name);
    }
    plug__ud *u = lua_newuserdatauv(L, sizeof(*u), 0);
    u->kind = UD_FLOW;
    u->ptr = NULL;
    lua_newtable(L); /* its metatable */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, f_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    p->ud_ref[UD_FLOW] = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
}
