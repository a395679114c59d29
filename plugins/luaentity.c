/*
 * The entities periodic hooks are called with: hosts, interfaces, local
 * networks, exporters and the system. Like the flow, each is one reused
 * userdata per plugin, valid during the call. Every counter has a getter,
 * and entity:delta(name) gives how much a counter grew since the previous
 * run of the same hook of the same check (nil on an entity's first run):
 * "retransmissions over the last minute" is host:delta("retransmissions_sent")
 * in a min hook. Deltas live in the plugin's Lua state, two generations per
 * check and hook, so an entity that goes away is forgotten after one run.
 */
#include "plugins/internal.h"

#include "alerts/alerts.h"

#include <stdio.h>

/* One numeric getter of an entity kind. */
typedef struct num_field {
    const char *name;
    double (*get)(const void *e);
} num_field;

#define HOST(e)  ((const floe_host *)(e))
#define IFACE(e) ((const floe_iface *)(e))
#define NET(e)   ((const floe_net *)(e))
#define EXP(e)   ((const floe_plugin_exporter *)(e))
#define SYS(e)   ((const floe_plugin_system *)(e))

static double h_bytes_sent(const void *e)
{
    return (double)HOST(e)->bytes_sent;
}
static double h_bytes_rcvd(const void *e)
{
    return (double)HOST(e)->bytes_rcvd;
}
static double h_pkts_sent(const void *e)
{
    return (double)HOST(e)->pkts_sent;
}
static double h_pkts_rcvd(const void *e)
{
    return (double)HOST(e)->pkts_rcvd;
}
static double h_flows_cli(const void *e)
{
    return (double)HOST(e)->flows_client;
}
static double h_flows_srv(const void *e)
{
    return (double)HOST(e)->flows_server;
}
static double h_active_cli(const void *e)
{
    return HOST(e)->active_client;
}
static double h_active_srv(const void *e)
{
    return HOST(e)->active_server;
}
static double h_retr_sent(const void *e)
{
    return (double)HOST(e)->retrans_sent;
}
static double h_retr_rcvd(const void *e)
{
    return (double)HOST(e)->retrans_rcvd;
}
static double h_syns(const void *e)
{
    return (double)HOST(e)->syns_rcvd;
}
static double h_score(const void *e)
{
    return HOST(e)->score;
}
static double h_first(const void *e)
{
    return (double)HOST(e)->first_ms / 1000.0;
}
static double h_last(const void *e)
{
    return (double)HOST(e)->last_ms / 1000.0;
}

static const num_field host_nums[] = {
    {"bytes_sent", h_bytes_sent},
    {"bytes_rcvd", h_bytes_rcvd},
    {"packets_sent", h_pkts_sent},
    {"packets_rcvd", h_pkts_rcvd},
    {"flows_as_client", h_flows_cli},
    {"flows_as_server", h_flows_srv},
    {"active_flows_as_client", h_active_cli},
    {"active_flows_as_server", h_active_srv},
    {"retransmissions_sent", h_retr_sent},
    {"retransmissions_rcvd", h_retr_rcvd},
    {"syns_rcvd", h_syns},
    {"score", h_score},
    {"first_seen", h_first},
    {"last_seen", h_last},
    {NULL, NULL},
};

static double i_ifindex(const void *e)
{
    return IFACE(e)->ifindex;
}
static double i_bytes_in(const void *e)
{
    return (double)IFACE(e)->bytes_in;
}
static double i_bytes_out(const void *e)
{
    return (double)IFACE(e)->bytes_out;
}
static double i_pkts_in(const void *e)
{
    return (double)IFACE(e)->pkts_in;
}
static double i_pkts_out(const void *e)
{
    return (double)IFACE(e)->pkts_out;
}
static double i_speed(const void *e)
{
    return (double)IFACE(e)->counters.speed;
}
static double i_in_octets(const void *e)
{
    return (double)IFACE(e)->counters.in_octets;
}
static double i_out_octets(const void *e)
{
    return (double)IFACE(e)->counters.out_octets;
}
static double i_in_errors(const void *e)
{
    return (double)IFACE(e)->counters.in_errors;
}
static double i_out_errors(const void *e)
{
    return (double)IFACE(e)->counters.out_errors;
}
static double i_in_disc(const void *e)
{
    return (double)IFACE(e)->counters.in_discards;
}
static double i_out_disc(const void *e)
{
    return (double)IFACE(e)->counters.out_discards;
}
static double i_status(const void *e)
{
    return IFACE(e)->counters.status;
}
static double i_last(const void *e)
{
    return (double)IFACE(e)->last_ms / 1000.0;
}

static const num_field iface_nums[] = {
    {"ifindex", i_ifindex},       {"bytes_in", i_bytes_in},     {"bytes_out", i_bytes_out},
    {"packets_in", i_pkts_in},    {"packets_out", i_pkts_out},  {"speed", i_speed},
    {"in_octets", i_in_octets},   {"out_octets", i_out_octets}, {"in_errors", i_in_errors},
    {"out_errors", i_out_errors}, {"in_discards", i_in_disc},   {"out_discards", i_out_disc},
    {"oper_status", i_status},    {"last_seen", i_last},        {NULL, NULL},
};

static double n_hosts(const void *e)
{
    return (double)NET(e)->hosts;
}
static double n_bytes_in(const void *e)
{
    return (double)NET(e)->bytes_in;
}
static double n_bytes_out(const void *e)
{
    return (double)NET(e)->bytes_out;
}
static double n_bytes_inner(const void *e)
{
    return (double)NET(e)->bytes_inner;
}
static double n_pkts_in(const void *e)
{
    return (double)NET(e)->pkts_in;
}
static double n_pkts_out(const void *e)
{
    return (double)NET(e)->pkts_out;
}
static double n_pkts_inner(const void *e)
{
    return (double)NET(e)->pkts_inner;
}

static const num_field net_nums[] = {
    {"hosts", n_hosts},
    {"bytes_in", n_bytes_in},
    {"bytes_out", n_bytes_out},
    {"bytes_inner", n_bytes_inner},
    {"packets_in", n_pkts_in},
    {"packets_out", n_pkts_out},
    {"packets_inner", n_pkts_inner},
    {NULL, NULL},
};

static double x_domain(const void *e)
{
    return EXP(e)->domain;
}
static double x_sampling(const void *e)
{
    return EXP(e)->sampling;
}
static double x_datagrams(const void *e)
{
    return (double)EXP(e)->datagrams;
}
static double x_records(const void *e)
{
    return (double)EXP(e)->records;
}
static double x_malformed(const void *e)
{
    return (double)EXP(e)->malformed;
}
static double x_lost(const void *e)
{
    return (double)EXP(e)->lost;
}
static double x_missing(const void *e)
{
    return (double)EXP(e)->missing_template;
}
static double x_templates(const void *e)
{
    return (double)EXP(e)->templates;
}
static double x_gaps(const void *e)
{
    return (double)EXP(e)->seq_gaps;
}
static double x_last(const void *e)
{
    return (double)EXP(e)->last_seen_ms / 1000.0;
}

static const num_field exporter_nums[] = {
    {"domain", x_domain},
    {"sampling", x_sampling},
    {"datagrams", x_datagrams},
    {"records", x_records},
    {"malformed", x_malformed},
    {"lost", x_lost},
    {"missing_template", x_missing},
    {"templates", x_templates},
    {"seq_gaps", x_gaps},
    {"last_seen", x_last},
    {NULL, NULL},
};

static double s_uptime(const void *e)
{
    return (double)SYS(e)->uptime_s;
}
static double s_datagrams(const void *e)
{
    return (double)SYS(e)->datagrams;
}
static double s_records(const void *e)
{
    return (double)SYS(e)->records;
}
static double s_malformed(const void *e)
{
    return (double)SYS(e)->malformed;
}
static double s_dropped(const void *e)
{
    return (double)SYS(e)->dropped;
}
static double s_lost(const void *e)
{
    return (double)SYS(e)->lost;
}
static double s_socket_drops(const void *e)
{
    return (double)SYS(e)->socket_drops;
}
static double s_exporters(const void *e)
{
    return (double)SYS(e)->exporters;
}
static double s_flows(const void *e)
{
    return (double)SYS(e)->flows;
}
static double s_hosts(const void *e)
{
    return (double)SYS(e)->hosts;
}
static double s_ifaces(const void *e)
{
    return (double)SYS(e)->interfaces;
}
static double s_created(const void *e)
{
    return (double)SYS(e)->flows_created;
}
static double s_ended(const void *e)
{
    return (double)SYS(e)->flows_ended;
}
static double s_evicted(const void *e)
{
    return (double)SYS(e)->flow_evictions;
}
static double s_host_full(const void *e)
{
    return (double)SYS(e)->host_full;
}

static const num_field system_nums[] = {
    {"uptime", s_uptime},
    {"datagrams", s_datagrams},
    {"records", s_records},
    {"malformed", s_malformed},
    {"dropped", s_dropped},
    {"lost", s_lost},
    {"socket_drops", s_socket_drops},
    {"exporters", s_exporters},
    {"flows", s_flows},
    {"hosts", s_hosts},
    {"interfaces", s_ifaces},
    {"flows_created", s_created},
    {"flows_ended", s_ended},
    {"flow_evictions", s_evicted},
    {"host_full", s_host_full},
    {NULL, NULL},
};

/* Per kind: its numbers, and its name as an alert entity. */
static const struct kind_desc {
    const char *what;
    const num_field *nums;
} kinds[UD_COUNT] = {
    [UD_HOST] = {"host", host_nums},       [UD_IFACE] = {"interface", iface_nums},
    [UD_NET] = {"network", net_nums},      [UD_EXPORTER] = {"exporter", exporter_nums},
    [UD_SYSTEM] = {"system", system_nums},
};

/* The live entity of the userdata at idx, of the expected kind. */
static const void *check_entity(lua_State *L, int idx, int kind)
{
    plug__ud *u = lua_touserdata(L, idx);
    if (!u || u->kind != kind)
        luaL_error(L, "expected a %s (call it as %s:method())", kinds[kind].what, kinds[kind].what);
    if (!u->ptr)
        luaL_error(L, "the %s is gone: it is valid only during the hook call", kinds[kind].what);
    return u->ptr;
}

static void push_number(lua_State *L, double v)
{
    /* Converting a double outside lua_Integer's range is undefined (C11
     * 6.3.1.4): counters scaled by a sampling rate can get there. */
    if (v >= -0x1p63 && v < 0x1p63 && v == (double)(lua_Integer)v)
        lua_pushinteger(L, (lua_Integer)v);
    else
        lua_pushnumber(L, v);
}

/* A numeric getter: upvalues are the plugin, the kind and the field. */
static int e_number(lua_State *L)
{
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    const num_field *f = lua_touserdata(L, lua_upvalueindex(3));
    push_number(L, f->get(check_entity(L, 1, kind)));
    return 1;
}

/* The entity's value as an alert entity and a delta key: its address,
 * "exporter/ifindex", the network's name, "floe". */
static void entity_value(lua_State *L, int kind, const void *e, char *out, size_t len)
{
    char a[FLOE_ADDR_STRLEN];
    floe_tables *t = plug__self(L)->P->env.tables;
    floe_addr ex;
    switch (kind) {
    case UD_HOST:
        snprintf(out, len, "%s", floe_addr_format(&HOST(e)->addr, a));
        break;
    case UD_IFACE:
        if (t && t->names.addr && t->names.addr(t->names.ud, IFACE(e)->exporter, &ex) == 0)
            snprintf(out, len, "%s/%u", floe_addr_format(&ex, a), IFACE(e)->ifindex);
        else
            snprintf(out, len, "#%llu/%u", (unsigned long long)IFACE(e)->exporter,
                     IFACE(e)->ifindex);
        break;
    case UD_NET:
        snprintf(out, len, "%s", NET(e)->name);
        break;
    case UD_EXPORTER:
        snprintf(out, len, "%s", floe_addr_format(&EXP(e)->addr, a));
        break;
    default:
        snprintf(out, len, "floe");
    }
}

/* entity:delta(name): the counter's growth since this check's previous
 * run of this hook. */
static int e_delta(lua_State *L)
{
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    const void *e = check_entity(L, 1, kind);
    const char *name = luaL_checkstring(L, 2);
    const num_field *f = kinds[kind].nums;
    while (f->name && strcmp(f->name, name) != 0)
        f++;
    if (!f->name)
        return luaL_error(L, "%s has no counter '%s'", kinds[kind].what, name);
    floe_plugins *P = plug__self(L)->P;
    plug__check *c = P->cur;
    if (!c || c->deltas_ref[P->cur_hook] == LUA_NOREF)
        return luaL_error(L, "delta() works in a periodic hook only");
    char key[160], value[96];
    entity_value(L, kind, e, value, sizeof(value));
    snprintf(key, sizeof(key), "%s|%s", value, name);
    double now = f->get(e);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->deltas_ref[P->cur_hook]);
    lua_rawgeti(L, -1, 1); /* previous run */
    lua_getfield(L, -1, key);
    int known = lua_isnumber(L, -1);
    double prev = lua_tonumber(L, -1);
    lua_pop(L, 2);
    lua_rawgeti(L, -1, 2); /* this run */
    lua_pushnumber(L, now);
    lua_setfield(L, -2, key);
    if (!known)
        lua_pushnil(L); /* the entity's first run: no delta yet */
    else
        push_number(L, now >= prev ? now - prev : now); /* a reset counts from zero */
    return 1;
}

static int e_name(lua_State *L)
{
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    char value[128];
    entity_value(L, kind, check_entity(L, 1, kind), value, sizeof(value));
    lua_pushstring(L, value);
    return 1;
}

/* ---- host extras --------------------------------------------------------------- */

static int h_is_local(lua_State *L)
{
    lua_pushboolean(L, HOST(check_entity(L, 1, UD_HOST))->net >= 0);
    return 1;
}

static int h_network(lua_State *L)
{
    const floe_host *h = check_entity(L, 1, UD_HOST);
    floe_tables *t = plug__self(L)->P->env.tables;
    if (t && h->net >= 0)
        lua_pushstring(L, t->nets[h->net].name);
    else
        lua_pushnil(L);
    return 1;
}

static int h_top_apps(lua_State *L)
{
    const floe_host *h = check_entity(L, 1, UD_HOST);
    floe_tables *t = plug__self(L)->P->env.tables;
    lua_newtable(L);
    lua_Integer n = 1;
    for (int i = 0; i < FLOE_HOST_TOP_APPS; i++) {
        if (!h->top[i].bytes)
            continue;
        lua_createtable(L, 0, 2);
        lua_pushstring(L, t && t->dpi ? floe_dpi_app_name(t->dpi, h->top[i].app) : "?");
        lua_setfield(L, -2, "app");
        push_number(L, (double)h->top[i].bytes);
        lua_setfield(L, -2, "bytes");
        lua_rawseti(L, -2, n++);
    }
    return 1;
}

static int x_proto(lua_State *L)
{
    lua_pushstring(L, EXP(check_entity(L, 1, UD_EXPORTER))->proto);
    return 1;
}

static int i_exporter(lua_State *L)
{
    const floe_iface *i = check_entity(L, 1, UD_IFACE);
    floe_tables *t = plug__self(L)->P->env.tables;
    floe_addr a;
    char text[FLOE_ADDR_STRLEN];
    if (t && t->names.addr && t->names.addr(t->names.ud, i->exporter, &a) == 0)
        lua_pushstring(L, floe_addr_format(&a, text));
    else
        lua_pushnil(L);
    return 1;
}

void plug__push_host(lua_State *L, floe_plugins *P, const floe_host *h)
{
    char ip[FLOE_ADDR_STRLEN];
    lua_createtable(L, 0, 18);
    lua_pushstring(L, floe_addr_format(&h->addr, ip));
    lua_setfield(L, -2, "ip");
    lua_pushboolean(L, h->net >= 0);
    lua_setfield(L, -2, "local");
    if (P->env.tables && h->net >= 0) {
        lua_pushstring(L, P->env.tables->nets[h->net].name);
        lua_setfield(L, -2, "network");
    }
    for (const num_field *f = host_nums; f->name; f++) {
        push_number(L, f->get(h));
        lua_setfield(L, -2, f->name);
    }
}

/* Extra methods per kind, beyond the numbers and name/delta. */
static const luaL_Reg host_extra[] = {
    {"is_local", h_is_local}, {"network", h_network}, {"top_apps", h_top_apps}, {NULL, NULL}};
static const luaL_Reg iface_extra[] = {{"exporter", i_exporter}, {NULL, NULL}};
static const luaL_Reg exporter_extra[] = {{"proto", x_proto}, {NULL, NULL}};

static const char *const name_method[UD_COUNT] = {
    [UD_HOST] = "ip",          [UD_IFACE] = "name",  [UD_NET] = "name",
    [UD_EXPORTER] = "address", [UD_SYSTEM] = "name",
};

static void kind_api(plug__plugin *p, int kind, const luaL_Reg *extra)
{
    lua_State *L = p->sb.L;
    lua_newtable(L); /* methods */
    for (const num_field *f = kinds[kind].nums; f->name; f++) {
        lua_pushlightuserdata(L, p);
        lua_pushinteger(L, kind);
        lua_pushlightuserdata(L, (void *)f);
        lua_pushcclosure(L, e_number, 3);
        lua_setfield(L, -2, f->name);
    }
    static const struct {
        const char *name;
        lua_CFunction fn;
    } common[] = {{"delta", e_delta}, {"name", e_name}};
    for (size_t i = 0; i < FLOE_ARRAY_LEN(common); i++) {
        lua_pushlightuserdata(L, p);
        lua_pushinteger(L, kind);
        lua_pushcclosure(L, common[i].fn, 2);
        lua_setfield(L, -2, i == 1 ? name_method[kind] : common[i].name);
    }
    if (extra) {
        lua_pushlightuserdata(L, p);
        luaL_setfuncs(L, extra, 1);
    }
    plug__ud *u = lua_newuserdatauv(L, sizeof(*u), 0);
    u->kind = kind;
    u->ptr = NULL;
    lua_newtable(L);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    p->ud_ref[kind] = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
}

/* In protected mode, from plug__api_open. */
void plug__entity_api(plug__plugin *p)
{
    kind_api(p, UD_HOST, host_extra);
    kind_api(p, UD_IFACE, iface_extra);
    kind_api(p, UD_NET, NULL);
    kind_api(p, UD_EXPORTER, exporter_extra);
    kind_api(p, UD_SYSTEM, NULL);
}

/* ---- entities as alert subjects ---------------------------------------------- */

static const int ud_entity[UD_COUNT] = {
    [UD_FLOW] = FLOE_ENTITY_FLOW,         [UD_HOST] = FLOE_ENTITY_HOST,
    [UD_IFACE] = FLOE_ENTITY_INTERFACE,   [UD_NET] = FLOE_ENTITY_NETWORK,
    [UD_EXPORTER] = FLOE_ENTITY_EXPORTER, [UD_SYSTEM] = FLOE_ENTITY_SYSTEM,
};

/* The entity type (enum floe_entity) and value of the userdata at idx, or
 * of a descriptor table {entity = "host", value = "10.0.0.1"}. Returns 0;
 * a bad argument raises a Lua error (API functions call it). */
int plug__entity_of(lua_State *L, int idx, int *type, char *value, size_t len)
{
    plug__ud *u = lua_type(L, idx) == LUA_TUSERDATA ? lua_touserdata(L, idx) : NULL;
    if (u) {
        if (!u->ptr)
            return luaL_error(L, "that entity is gone: it is valid only during the hook call");
        *type = ud_entity[u->kind];
        if (u->kind == UD_FLOW) {
            const floe_flow *f = u->ptr;
            char a[FLOE_ADDR_STRLEN], b[FLOE_ADDR_STRLEN];
            uint16_t cp, sp;
            floe_addr_format(floe_flow_client(f, &cp), a);
            floe_addr_format(floe_flow_server(f, &sp), b);
            snprintf(value, len, "%s:%u -> %s:%u/%u", a, cp, b, sp, f->key.ipproto);
        } else {
            entity_value(L, u->kind, u->ptr, value, len);
        }
        return 0;
    }
    if (!lua_istable(L, idx))
        return luaL_error(L, "an alert's entity is a host, flow, interface, network, exporter "
                             "or system passed to the hook, or {entity = ..., value = ...}");
    lua_getfield(L, idx, "entity");
    lua_getfield(L, idx, "value");
    const char *e = lua_tostring(L, -2), *v = lua_tostring(L, -1);
    int t = e ? floe_entity_parse(e) : -1;
    if (t < 0 || !v || !v[0])
        return luaL_error(L, "{entity = ..., value = ...}: entity must be host, flow, interface, "
                             "network, exporter or system, and value a non-empty string");
    *type = t;
    snprintf(value, len, "%s", v);
    lua_pop(L, 2);
    return 0;
}

/* ---- deltas ---------------------------------------------------------------------- */

typedef struct rotate_ctx {
    plug__check *c;
    int hook;
} rotate_ctx;

static int rotate_protected(lua_State *L)
{
    rotate_ctx *x = lua_touserdata(L, 1);
    int *ref = &x->c->deltas_ref[x->hook];
    if (*ref == LUA_NOREF) {
        lua_createtable(L, 2, 0);
        lua_newtable(L);
        lua_rawseti(L, -2, 1);
        lua_newtable(L);
        lua_rawseti(L, -2, 2);
        *ref = luaL_ref(L, LUA_REGISTRYINDEX);
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, *ref);
    lua_rawgeti(L, -1, 2);
    lua_rawseti(L, -2, 1);
    lua_newtable(L);
    lua_rawseti(L, -2, 2);
    return 0;
}

void plug__deltas_rotate(plug__check *c, int hook)
{
    rotate_ctx x = {c, hook};
    char err[128];
    lua_pushcfunction(c->p->sb.L, rotate_protected);
    lua_pushlightuserdata(c->p->sb.L, &x);
    floe_sandbox_call(&c->p->sb, 1, 0, 0, err, sizeof(err));
}
