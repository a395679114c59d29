/*
 * `floe plugin test DIR`: runs a plugin's own tests (the .lua files in
 * DIR/tests), with
 * no daemon and no network. Each test file gets a fresh offline engine
 * holding only the plugin under test, and a `test` table to drive it:
 * build flows from plain tables (they go through the real tables and
 * hooks), replay a capture, move a virtual clock (periodic hooks run as
 * the scheduler would run them), and assert the statuses, alerts and
 * timeseries points that came out. A failed assertion prints what was
 * expected and what happened; the exit code is 1 if any test failed.
 *
 * A file's top-level code is one test; a file that returns a table of
 * functions has one test per function, each on a fresh engine.
 */
#include "collector/internal.h"

#include <dirent.h>
#include <getopt.h>
#include <lauxlib.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>

#include "alerts/alerts.h"
#include "rrd/rrd.h"

#define TEST_MEM     (256u << 20)
#define TEST_INSNS   1000000000ULL
#define T0_MS        1700000000000ULL /* the virtual clock starts here */
#define MAX_RECORDED 10000

typedef struct recorded_alert {
    floe_alert a;
    char info[1024];
} recorded_alert;

/* A timeseries point a plugin wrote. */
typedef struct recorded_point {
    char schema[FLOE_TS_NAME_MAX];
    char tags[FLOE_TS_MAX_TAGS][FLOE_TS_VALUE_MAX];
    double values[FLOE_TS_MAX_METRICS];
    size_t n_values;
    uint64_t when_s;
} recorded_point;

/* A flow's statuses as it ended, so tests can ask after flowEnd. */
typedef struct ended_flow {
    floe_addr cli, srv;
    uint16_t cport, sport;
    uint8_t l4;
    char statuses[512]; /* " key1 key2 " */
} ended_flow;

typedef struct runner {
    floe_config cfg;
    floe_log log;
    floe_engine e;
    int engine_up;
    char plugin[64];
    char dir[1024];
    uint64_t now_ms;
    recorded_alert *alerts;
    size_t n_alerts;
    recorded_point *points;
    size_t n_points;
    ended_flow *ended;
    size_t n_ended;
    floe_flow_hooks plugin_hooks; /* the plugins' own, which the runner wraps */
    int checks;                   /* assertions made in the current test */
    floe_sandbox sb;
} runner;

/* ---- the engine under test -------------------------------------------------- */

static void on_alert(void *ud, const struct floe_alert *a)
{
    runner *r = ud;
    if (r->n_alerts >= MAX_RECORDED)
        return;
    recorded_alert *ra = &r->alerts[r->n_alerts++];
    ra->a = *a;
    snprintf(ra->info, sizeof(ra->info), "%s", a->info ? a->info : "");
    ra->a.info = ra->info;
}

static void on_point(void *ud, const char *schema, const char *const *tags, const double *values,
                     size_t n, uint64_t when_s)
{
    runner *r = ud;
    const floe_ts_schema *s = floe_plugins_schema(r->e.plugins, schema);
    if (!s || r->n_points >= MAX_RECORDED || n > FLOE_TS_MAX_METRICS)
        return;
    recorded_point *pt = &r->points[r->n_points++];
    snprintf(pt->schema, sizeof(pt->schema), "%s", schema);
    for (unsigned i = 0; i < s->n_tags; i++)
        snprintf(pt->tags[i], sizeof(pt->tags[i]), "%s", tags[i]);
    memcpy(pt->values, values, n * sizeof(*values));
    pt->n_values = n;
    pt->when_s = when_s;
}

static void on_flow_event(void *ud, int ev, floe_flow *f)
{
    runner *r = ud;
    if (r->plugin_hooks.wanted & (1u << ev))
        r->plugin_hooks.event(r->plugin_hooks.ud, ev, f);
    if (ev != FLOE_EV_FLOW_END || r->n_ended >= MAX_RECORDED)
        return;
    ended_flow *x = &r->ended[r->n_ended++];
    x->cli = *floe_flow_client(f, &x->cport);
    x->srv = *floe_flow_server(f, &x->sport);
    x->l4 = f->key.ipproto;
    size_t len = 0;
    x->statuses[0] = ' ';
    x->statuses[1] = '\0';
    len = 1;
    for (uint16_t i = 0; f->status && i < f->status->n; i++) {
        const char *key = floe_plugins_status_key(r->e.plugins, f->status->s[i].id);
        if (key && len < sizeof(x->statuses))
            len += (size_t)snprintf(x->statuses + len, sizeof(x->statuses) - len, "%s ", key);
    }
}

static int engine_up(runner *r, char *err, size_t errlen)
{
    if (floe_engine_init(&r->e, &r->cfg, &r->log, NULL, FLOE_ENGINE_OFFLINE, 0, err, errlen) != 0)
        return -1;
    r->engine_up = 1;
    r->e.tap.alert = on_alert;
    r->e.tap.ts = on_point;
    r->e.tap.ud = r;
    /* Wrap the plugins' hook so flows that end leave their statuses behind;
     * every event is wanted so the wrapper sees flowEnd. */
    r->plugin_hooks = r->e.tables.hooks;
    r->e.tables.hooks.event = on_flow_event;
    r->e.tables.hooks.ud = r;
    r->e.tables.hooks.wanted = ~0u;
    r->now_ms = T0_MS;
    floe_engine_advance(&r->e, r->now_ms);
    r->n_alerts = r->n_ended = r->n_points = 0;
    floe_plugins_stats st;
    floe_plugins_stats_get(r->e.plugins, &st);
    if (st.plugins != 1) {
        floe_buf b;
        floe_json j;
        floe_buf_init(&b);
        floe_json_init(&j, &b);
        floe_plugins_check_json(r->e.plugins, r->plugin, NULL, &j);
        snprintf(err, errlen, "plugin %s did not load: %s", r->plugin,
                 b.data ? b.data : "(no such plugin folder)");
        floe_buf_close(&b);
        return -1;
    }
    return 0;
}

static void engine_down(runner *r)
{
    if (r->engine_up)
        floe_engine_close(&r->e);
    r->engine_up = 0;
}

/* Moves the clock to ms, a second at a time, doing what the daemon does. */
static void clock_to(runner *r, uint64_t ms)
{
    while (r->now_ms < ms) {
        r->now_ms = r->now_ms + 1000 < ms ? r->now_ms + 1000 : ms;
        floe_engine_advance(&r->e, r->now_ms);
        while (floe_engine_housekeep(&r->e, r->now_ms, 1 << 20) > (1u << 20))
            ;
    }
}

static runner *self(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* ---- building flows ------------------------------------------------------------ */

static lua_Integer opt_int(lua_State *L, int t, const char *key, lua_Integer def)
{
    lua_getfield(L, t, key);
    lua_Integer v = lua_isnil(L, -1) ? def : luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    return v;
}

static void opt_addr(lua_State *L, int t, const char *key, const char *def, floe_addr *out)
{
    lua_getfield(L, t, key);
    const char *s = lua_isnil(L, -1) ? def : luaL_checkstring(L, -1);
    if (floe_addr_parse(out, s) != 0)
        luaL_error(L, "test.flow: %s '%s' is not an address", key, s);
    lua_pop(L, 1);
}

static uint8_t l4_of(lua_State *L, int t)
{
    lua_getfield(L, t, "l4");
    int isnum = lua_isinteger(L, -1);
    lua_Integer n = lua_tointeger(L, -1);
    const char *s = lua_isnil(L, -1) ? "tcp" : lua_tostring(L, -1);
    lua_pop(L, 1);
    if (isnum && n >= 0 && n < 256)
        return (uint8_t)n;
    static const struct {
        const char *name;
        uint8_t proto;
    } names[] = {{"tcp", 6}, {"udp", 17}, {"icmp", 1}};
    for (size_t i = 0; s && i < FLOE_ARRAY_LEN(names); i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].proto;
    return (uint8_t)luaL_error(L, "test.flow: l4 must be tcp, udp, icmp or a number");
}

/* The exporter's fields of a record from the flow description at t. */
static void exporter_fields(runner *r, lua_State *L, int t, floe_record *rec)
{
    lua_getfield(L, t, "app");
    if (!lua_isnil(L, -1)) {
        floe_app_label l;
        const char *name = luaL_checkstring(L, -1);
        if (!r->e.tables.dpi || floe_dpi_by_name(r->e.tables.dpi, name, &l) != 0)
            luaL_error(L, "test.flow: app '%s' is not an nDPI application", name);
        rec->l7_proto = l.app;
        rec->has |= FLOE_F(L7_PROTO);
    }
    lua_getfield(L, t, "risks");
    for (lua_Integer i = 1; lua_istable(L, -1) && i <= (lua_Integer)lua_rawlen(L, -1); i++) {
        lua_rawgeti(L, -1, i);
        int n = floe_dpi_risk_parse(luaL_checkstring(L, -1));
        if (n < 0)
            luaL_error(L, "test.flow: '%s' is not an nDPI risk", lua_tostring(L, -1));
        rec->l7_risk |= (uint64_t)1 << n;
        rec->has |= FLOE_F(L7_RISK);
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    rec->cli_latency_us = (uint32_t)(opt_int(L, t, "client_latency", 0) * 1000);
    rec->srv_latency_us = (uint32_t)(opt_int(L, t, "server_latency", 0) * 1000);
    if (rec->cli_latency_us)
        rec->has |= FLOE_F(CLI_LATENCY);
    if (rec->srv_latency_us)
        rec->has |= FLOE_F(SRV_LATENCY);
    rec->retrans_in = (uint32_t)opt_int(L, t, "retransmissions", 0);
    if (rec->retrans_in)
        rec->has |= FLOE_F(RETRANS_IN);
    rec->tcp_flags = (uint16_t)opt_int(L, t, "tcp_flags", rec->ipproto == 6 ? 0x1b : 0);
    if (rec->ipproto == 6)
        rec->has |= FLOE_F(TCP_FLAGS);
    lua_getfield(L, t, "ended");
    if (lua_toboolean(L, -1)) {
        rec->end_reason = 3;
        rec->has |= FLOE_F(END_REASON);
    }
    lua_pop(L, 1);
}

/*
 * test.flow{client=, server=, client_port=, server_port=, l4=, app=, bytes=,
 * packets=, bytes_s2c=, packets_s2c=, client_latency=, server_latency= (ms),
 * retransmissions=, tcp_flags=, risks={...}, sampling=, ended=}: one
 * record client to server (and one back if bytes_s2c is given), as an
 * exporter would send them, at the test's clock. Returns a handle for the
 * expectations.
 */
static int t_flow(lua_State *L)
{
    runner *r = self(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    floe_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.exporter_id = 1;
    opt_addr(L, 1, "client", "10.0.0.1", &rec.src);
    opt_addr(L, 1, "server", "192.0.2.1", &rec.dst);
    rec.sport = (uint16_t)opt_int(L, 1, "client_port", 40000);
    rec.dport = (uint16_t)opt_int(L, 1, "server_port", 443);
    rec.ipproto = l4_of(L, 1);
    rec.bytes = (uint64_t)opt_int(L, 1, "bytes", 1000);
    rec.packets = (uint64_t)opt_int(L, 1, "packets", 10);
    rec.sampling = (uint32_t)opt_int(L, 1, "sampling", 1);
    rec.has = FLOE_F(SRC) | FLOE_F(DST) | FLOE_F(SPORT) | FLOE_F(DPORT) | FLOE_F(IPPROTO) |
              FLOE_F(BYTES) | FLOE_F(PACKETS);
    exporter_fields(r, L, 1, &rec);
    lua_Integer back = opt_int(L, 1, "bytes_s2c", 0);
    int ended = (rec.has & FLOE_F(END_REASON)) != 0;
    if (back)
        rec.has &= ~FLOE_F(END_REASON);
    floe_tables_record(&r->e.tables, &rec, r->now_ms);
    if (back) {
        floe_record rev = rec;
        rev.src = rec.dst, rev.dst = rec.src, rev.sport = rec.dport, rev.dport = rec.sport;
        rev.bytes = (uint64_t)back;
        rev.packets = (uint64_t)opt_int(L, 1, "packets_s2c", 1);
        if (ended)
            rev.has |= FLOE_F(END_REASON);
        floe_tables_record(&r->e.tables, &rev, r->now_ms);
    }
    lua_createtable(L, 0, 5);
    char text[FLOE_ADDR_STRLEN];
    lua_pushstring(L, floe_addr_format(&rec.src, text));
    lua_setfield(L, -2, "client");
    lua_pushstring(L, floe_addr_format(&rec.dst, text));
    lua_setfield(L, -2, "server");
    lua_pushinteger(L, rec.sport);
    lua_setfield(L, -2, "client_port");
    lua_pushinteger(L, rec.dport);
    lua_setfield(L, -2, "server_port");
    lua_pushinteger(L, rec.ipproto);
    lua_setfield(L, -2, "l4");
    return 1;
}

/* ---- looking things up ----------------------------------------------------------- */

typedef struct handle {
    floe_addr cli, srv;
    uint16_t cport, sport;
    uint8_t l4;
    char text[160];
} handle;

static void read_handle(lua_State *L, int idx, handle *h)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_getfield(L, idx, "client");
    lua_getfield(L, idx, "server");
    if (!lua_isstring(L, -2) || !lua_isstring(L, -1) ||
        floe_addr_parse(&h->cli, lua_tostring(L, -2)) != 0 ||
        floe_addr_parse(&h->srv, lua_tostring(L, -1)) != 0)
        luaL_error(L, "expected a flow from test.flow");
    snprintf(h->text, sizeof(h->text), "%s:%d -> %s:%d/%d", lua_tostring(L, -2),
             (int)opt_int(L, idx, "client_port", 0), lua_tostring(L, -1),
             (int)opt_int(L, idx, "server_port", 0), (int)opt_int(L, idx, "l4", 6));
    lua_pop(L, 2);
    h->cport = (uint16_t)opt_int(L, idx, "client_port", 0);
    h->sport = (uint16_t)opt_int(L, idx, "server_port", 0);
    h->l4 = (uint8_t)opt_int(L, idx, "l4", 6);
}

/* The flow's statuses, live or as it ended: " a b " or NULL if unknown. */
static const char *statuses_of(runner *r, const handle *h, char *buf, size_t len)
{
    floe_flow *f;
    FLOE_FLOWS_FOREACH(&r->e.tables, f) {
        uint16_t cp, sp;
        if (f->key.ipproto != h->l4 || !floe_addr_eq(floe_flow_client(f, &cp), &h->cli) ||
            !floe_addr_eq(floe_flow_server(f, &sp), &h->srv) || cp != h->cport || sp != h->sport)
            continue;
        size_t n = (size_t)snprintf(buf, len, " ");
        for (uint16_t i = 0; f->status && i < f->status->n && n < len; i++) {
            const char *key = floe_plugins_status_key(r->e.plugins, f->status->s[i].id);
            n += (size_t)snprintf(buf + n, len - n, "%s ", key ? key : "?");
        }
        return buf;
    }
    for (size_t i = r->n_ended; i-- > 0;) {
        const ended_flow *x = &r->ended[i];
        if (x->l4 == h->l4 && floe_addr_eq(&x->cli, &h->cli) && floe_addr_eq(&x->srv, &h->srv) &&
            x->cport == h->cport && x->sport == h->sport) {
            snprintf(buf, len, "%s", x->statuses);
            return buf;
        }
    }
    return NULL;
}

/* A status key of the plugin under test, unless already "plugin.key". */
static void full_key(runner *r, const char *key, char *out, size_t len)
{
    snprintf(out, len, strchr(key, '.') ? "%s" : "%s.%s", strchr(key, '.') ? key : r->plugin, key);
}

static int expect_status(lua_State *L, int want)
{
    runner *r = self(L);
    handle h;
    char key[128], padded[136], buf[600];
    read_handle(L, 1, &h);
    full_key(r, luaL_checkstring(L, 2), key, sizeof(key));
    snprintf(padded, sizeof(padded), " %s ", key);
    const char *got = statuses_of(r, &h, buf, sizeof(buf));
    r->checks++;
    if (!got)
        return luaL_error(L, "no flow %s in the tables", h.text);
    if ((strstr(got, padded) != NULL) != want)
        return luaL_error(L, "expected %sstatus %s on flow %s; it has:%s", want ? "" : "no ", key,
                          h.text, strlen(got) > 1 ? got : " none");
    return 0;
}

static int t_expect_status(lua_State *L)
{
    return expect_status(L, 1);
}
static int t_expect_no_status(lua_State *L)
{
    return expect_status(L, 0);
}

static int t_statuses(lua_State *L)
{
    runner *r = self(L);
    handle h;
    char buf[600];
    read_handle(L, 1, &h);
    const char *got = statuses_of(r, &h, buf, sizeof(buf));
    lua_newtable(L);
    lua_Integer n = 1;
    for (const char *p = got ? got : ""; *p;) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (w) {
            lua_pushlstring(L, p, w);
            lua_rawseti(L, -2, n++);
        }
        p += w;
    }
    return 1;
}

static void push_alert(lua_State *L, const recorded_alert *ra)
{
    const floe_alert *a = &ra->a;
    lua_createtable(L, 0, 10);
    lua_pushstring(L, floe_alert_kind_name(a->kind));
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, a->type);
    lua_setfield(L, -2, "type");
    lua_pushstring(L, a->check);
    lua_setfield(L, -2, "check");
    lua_pushstring(L, floe_entity_name(a->entity_type));
    lua_setfield(L, -2, "entity");
    lua_pushstring(L, a->entity);
    lua_setfield(L, -2, "value");
    lua_pushstring(L, floe_severity_name(a->severity));
    lua_setfield(L, -2, "severity");
    lua_pushinteger(L, a->score);
    lua_setfield(L, -2, "score");
    lua_pushnumber(L, (lua_Number)a->when_ms / 1000.0);
    lua_setfield(L, -2, "when");
    lua_pushstring(L, ra->info);
    lua_setfield(L, -2, "info");
}

/* test.alerts(): every alert event so far, oldest first. */
static int t_alerts(lua_State *L)
{
    runner *r = self(L);
    lua_createtable(L, (int)r->n_alerts, 0);
    for (size_t i = 0; i < r->n_alerts; i++) {
        push_alert(L, &r->alerts[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* Does the alert match every field the pattern at idx gives? */
static int alert_matches(lua_State *L, int pat, runner *r, const recorded_alert *ra)
{
    push_alert(L, ra);
    int alert = lua_gettop(L), ok = 1;
    lua_pushnil(L);
    while (ok && lua_next(L, pat) != 0) {
        const char *k = lua_tostring(L, -2);
        lua_getfield(L, alert, k);
        if (k && strcmp(k, "type") == 0 && lua_isstring(L, -2)) {
            char key[128];
            full_key(r, lua_tostring(L, -2), key, sizeof(key));
            ok = strcmp(key, lua_tostring(L, -1)) == 0;
        } else {
            ok = lua_compare(L, -1, -2, LUA_OPEQ);
        }
        lua_pop(L, 2);
    }
    if (!ok)
        lua_pop(L, 1); /* the key lua_next left */
    lua_settop(L, alert - 1);
    return ok;
}

static int expect_alert(lua_State *L, int want)
{
    runner *r = self(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t n = 0;
    for (size_t i = 0; i < r->n_alerts; i++)
        n += (size_t)alert_matches(L, 1, r, &r->alerts[i]);
    r->checks++;
    if ((n > 0) == want)
        return 0;
    char *pat = floe_plugins_lua_json(L, 1);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < r->n_alerts && i < 10; i++) {
        char line[256];
        const floe_alert *a = &r->alerts[i].a;
        snprintf(line, sizeof(line), "\n    %s %s %s %s (%s)", floe_alert_kind_name(a->kind),
                 a->type, floe_entity_name(a->entity_type), a->entity,
                 floe_severity_name(a->severity));
        luaL_addstring(&b, line);
    }
    luaL_pushresult(&b);
    lua_pushfstring(L, "expected %san alert like %s; the alerts raised:%s", want ? "" : "no ",
                    pat ? pat : "?", r->n_alerts ? lua_tostring(L, -1) : " none");
    free(pat);
    return lua_error(L);
}

static int t_expect_alert(lua_State *L)
{
    return expect_alert(L, 1);
}
static int t_expect_no_alert(lua_State *L)
{
    return expect_alert(L, 0);
}

/* ---- time, captures, settings ------------------------------------------------------ */

/* test.advance(seconds): the clock moves on; flushes, periodic updates,
 * idle expiry and the periodic hooks happen as they would have. */
static int t_advance(lua_State *L)
{
    runner *r = self(L);
    lua_Number s = luaL_checknumber(L, 1);
    if (s < 0 || s > 366 * 86400)
        return luaL_error(L, "test.advance takes 0 to a year of seconds");
    clock_to(r, r->now_ms + (uint64_t)(s * 1000));
    return 0;
}

static int t_now(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)self(L)->now_ms / 1000.0);
    return 1;
}

static void replay_datagram(void *ud, const floe_addr *src, uint16_t sport, const uint8_t *p,
                            size_t n, uint64_t ts_ms)
{
    runner *r = ud;
    if (ts_ms > r->now_ms)
        clock_to(r, ts_ms);
    floe_engine_datagram(&r->e, src, sport, p, n, r->now_ms);
    floe_engine_batch_end(&r->e);
}

/* test.replay(file): a pcap, relative to the tests folder, through the
 * whole pipeline; the clock jumps to the capture's time. */
static int t_replay(lua_State *L)
{
    runner *r = self(L);
    char path[1200], err[512];
    const char *file = luaL_checkstring(L, 1);
    snprintf(path, sizeof(path), file[0] == '/' ? "%s" : "%s/tests/%s",
             file[0] == '/' ? file : r->dir, file);
    floe_pcap_stats ps;
    memset(&ps, 0, sizeof(ps));
    if (floe_pcap_read(path, replay_datagram, r, &ps, err, sizeof(err)) != 0)
        return luaL_error(L, "test.replay: %s", err);
    lua_pushinteger(L, (lua_Integer)ps.udp);
    return 1;
}

/* test.configure(check, {settings}): as PUT /api/v1/plugins/.../checks/... */
static int t_configure(lua_State *L)
{
    runner *r = self(L);
    const char *check = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    char *json = floe_plugins_lua_json(L, 2);
    char err[512];
    int rc = json ? floe_plugins_configure(r->e.plugins, r->plugin, check, json, strlen(json), err,
                                           sizeof(err))
                  : FLOE_ENOMEM;
    free(json);
    if (rc != 0)
        return luaL_error(L, "test.configure: %s", rc == FLOE_ENOMEM ? "out of memory" : err);
    return 0;
}

/* test.host(ip): the host's counters as a table, or nil. */
static int t_host(lua_State *L)
{
    runner *r = self(L);
    floe_addr a;
    if (floe_addr_parse(&a, luaL_checkstring(L, 1)) != 0)
        return luaL_error(L, "test.host: not an address");
    floe_tables_flush(&r->e.tables);
    floe_host *h = floe_tables_host(&r->e.tables, &a);
    if (!h)
        return 0;
    lua_createtable(L, 0, 8);
    static const struct {
        const char *name;
        size_t off;
    } f[] = {{"bytes_sent", offsetof(floe_host, bytes_sent)},
             {"bytes_rcvd", offsetof(floe_host, bytes_rcvd)},
             {"packets_sent", offsetof(floe_host, pkts_sent)},
             {"packets_rcvd", offsetof(floe_host, pkts_rcvd)},
             {"flows_as_client", offsetof(floe_host, flows_client)},
             {"flows_as_server", offsetof(floe_host, flows_server)},
             {"retransmissions_sent", offsetof(floe_host, retrans_sent)},
             {"retransmissions_rcvd", offsetof(floe_host, retrans_rcvd)}};
    for (size_t i = 0; i < FLOE_ARRAY_LEN(f); i++) {
        lua_pushinteger(L, (lua_Integer) *
                               (const uint64_t *)(const void *)((const char *)h + f[i].off));
        lua_setfield(L, -2, f[i].name);
    }
    lua_pushinteger(L, h->score);
    lua_setfield(L, -2, "score");
    return 1;
}

/* test.ts(): every timeseries point so far, oldest first, as {schema =,
 * when =, tags = {name = value}, values = {metric = value}}. */
static int t_ts(lua_State *L)
{
    runner *r = self(L);
    lua_createtable(L, (int)r->n_points, 0);
    for (size_t i = 0; i < r->n_points; i++) {
        const recorded_point *pt = &r->points[i];
        const floe_ts_schema *s = floe_plugins_schema(r->e.plugins, pt->schema);
        lua_createtable(L, 0, 4);
        lua_pushstring(L, pt->schema);
        lua_setfield(L, -2, "schema");
        lua_pushinteger(L, (lua_Integer)pt->when_s);
        lua_setfield(L, -2, "when");
        lua_newtable(L);
        for (unsigned t = 0; s && t < s->n_tags; t++) {
            lua_pushstring(L, pt->tags[t]);
            lua_setfield(L, -2, s->tags[t]);
        }
        lua_setfield(L, -2, "tags");
        lua_newtable(L);
        for (size_t m = 0; s && m < pt->n_values && m < s->n_metrics; m++) {
            lua_pushnumber(L, pt->values[m]);
            lua_setfield(L, -2, s->metrics[m].name);
        }
        lua_setfield(L, -2, "values");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* test.probes(): what the plugin's probe.start asked for, {key = {kind =,
 * host =, port =, timeout_ms =, server_name =, starts =, at =}}; offline no
 * probe runs. */
static int t_probes(lua_State *L)
{
    runner *r = self(L);
    floe_plugins_probe_requests(r->e.plugins, r->plugin, L);
    return 1;
}

/* test.probe_result(key, {ok =, rtt_ms =, error =, cert = {status =,
 * days_left =, ...}, server_version =}): a result for the plugin's probe of
 * key, as if it had run now; probe.results() gives it from then on. */
static int t_probe_result(lua_State *L)
{
    runner *r = self(L);
    const char *key = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (floe_plugins_probe_feed(r->e.plugins, r->plugin, key, L, 2) != 0)
        return luaL_error(L, "test.probe_result: no room for a probe '%s'", key);
    return 0;
}

/* test.eq(got, want, what): a plain assertion that says both values. */
static int t_eq(lua_State *L)
{
    self(L)->checks++;
    if (lua_compare(L, 1, 2, LUA_OPEQ))
        return 0;
    const char *what = luaL_optstring(L, 3, "value");
    return luaL_error(L, "%s: expected %s, got %s", what, luaL_tolstring(L, 2, NULL),
                      luaL_tolstring(L, 1, NULL));
}

static const luaL_Reg test_api[] = {
    {"flow", t_flow},
    {"expect_status", t_expect_status},
    {"expect_no_status", t_expect_no_status},
    {"statuses", t_statuses},
    {"alerts", t_alerts},
    {"expect_alert", t_expect_alert},
    {"expect_no_alert", t_expect_no_alert},
    {"advance", t_advance},
    {"now", t_now},
    {"replay", t_replay},
    {"configure", t_configure},
    {"host", t_host},
    {"ts", t_ts},
    {"probes", t_probes},
    {"probe_result", t_probe_result},
    {"eq", t_eq},
    {NULL, NULL},
};

/* ---- running the files --------------------------------------------------------------- */

/* The test environment: the sandbox's globals and `test`. */
static int push_test_env(lua_State *L)
{
    runner *r = lua_touserdata(L, 1);
    floe_sandbox_push_env(&r->sb);
    lua_newtable(L);
    lua_pushlightuserdata(L, r);
    luaL_setfuncs(L, test_api, 1);
    lua_pushstring(L, r->dir);
    lua_setfield(L, -2, "dir");
    lua_setfield(L, -2, "test");
    return 1;
}

static int report(const char *name, int ok, int checks, const char *err)
{
    if (ok)
        printf("ok   %s (%d expectations)\n", name, checks);
    else
        printf("FAIL %s\n     %s\n", name, err);
    return ok ? 0 : 1;
}

/* Runs the function on top with the sandbox's budget; 0 or the error. */
static int run_fn(runner *r, char *err, size_t errlen)
{
    return floe_sandbox_call(&r->sb, 0, 1, TEST_INSNS, err, errlen);
}

static int run_file(runner *r, const char *path, const char *name)
{
    char err[2048] = "";
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    floe_buf text;
    floe_buf_init(&text);
    char chunk[4096];
    while (f && (len = fread(chunk, 1, sizeof(chunk), f)) > 0)
        floe_buf_append(&text, chunk, len);
    if (f)
        fclose(f);
    lua_State *L = r->sb.L;
    int failed = 0;
    r->checks = 0;
    if (engine_up(r, err, sizeof(err)) != 0) {
        engine_down(r);
        floe_buf_close(&text);
        return report(name, 0, 0, err);
    }
    lua_pushcfunction(L, push_test_env);
    lua_pushlightuserdata(L, r);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_settop(L, 0);
        engine_down(r);
        floe_buf_close(&text);
        return report(name, 0, 0, "out of memory");
    }
    if (floe_sandbox_load(&r->sb, text.data ? text.data : "", text.len, name, -1, err,
                          sizeof(err)) != 0 ||
        run_fn(r, err, sizeof(err)) != 0) {
        lua_settop(L, 0);
        engine_down(r);
        floe_buf_close(&text);
        return report(name, 0, 0, err);
    }
    floe_buf_close(&text);
    if (!lua_istable(L, -1)) { /* the file itself was the test */
        lua_settop(L, 0);
        engine_down(r);
        return report(name, 1, r->checks, NULL);
    }
    int cases = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, cases) != 0) {
        char case_name[300];
        snprintf(case_name, sizeof(case_name), "%.200s: %.90s", name,
                 lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?");
        engine_down(r);
        r->checks = 0;
        if (engine_up(r, err, sizeof(err)) != 0 || !lua_isfunction(L, -1)) {
            failed += report(case_name, 0, 0, err[0] ? err : "not a function");
            lua_pop(L, 1);
            continue;
        }
        int rc = run_fn(r, err, sizeof(err));
        if (rc == 0)
            lua_pop(L, 1); /* its result */
        failed += report(case_name, rc == 0, r->checks, err);
    }
    lua_settop(L, 0);
    engine_down(r);
    return failed;
}

static int list_tests(const char *dir, char ***names, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    *names = NULL;
    *n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".lua") != 0)
            continue;
        char **grown = realloc(*names, (*n + 1) * sizeof(**names));
        if (!grown)
            break;
        *names = grown;
        (*names)[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    for (size_t i = 1; i < *n; i++) /* sorted, so runs are repeatable */
        for (size_t k = i; k > 0 && strcmp((*names)[k - 1], (*names)[k]) > 0; k--) {
            char *t = (*names)[k];
            (*names)[k] = (*names)[k - 1];
            (*names)[k - 1] = t;
        }
    return 0;
}

static int run_dir(runner *r)
{
    char tests[1100];
    char **names;
    size_t n;
    snprintf(tests, sizeof(tests), "%s/tests", r->dir);
    if (list_tests(tests, &names, &n) != 0 || n == 0) {
        fprintf(stderr, "floe plugin test: %s has no tests/*.lua\n", r->dir);
        return 2;
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1500], name[300];
        snprintf(path, sizeof(path), "%s/%s", tests, names[i]);
        snprintf(name, sizeof(name), "%s/tests/%s", r->plugin, names[i]);
        failed += run_file(r, path, name);
        free(names[i]);
    }
    free(names);
    printf("%s: %s (%d failed)\n", r->plugin, failed ? "FAILED" : "passed", failed);
    return failed ? 1 : 0;
}

static int setup(runner *r, const char *dir)
{
    char err[256], copy[1024], copy2[1024];
    snprintf(r->dir, sizeof(r->dir), "%s", dir);
    size_t n = strlen(r->dir);
    while (n > 1 && r->dir[n - 1] == '/')
        r->dir[--n] = '\0';
    snprintf(copy, sizeof(copy), "%s", r->dir);
    snprintf(copy2, sizeof(copy2), "%s", r->dir);
    snprintf(r->plugin, sizeof(r->plugin), "%s", basename(copy));
    if (floe_config_defaults(&r->cfg) != 0 ||
        floe_config_set_str(&r->cfg.builtin_plugins, "none") != 0 ||
        floe_config_add_list(&r->cfg.plugin_dirs, &r->cfg.n_plugin_dirs, dirname(copy2)) != 0)
        return 1;
    r->cfg.only_plugin = r->plugin;
    floe_log_init(&r->log, FLOE_LOG_WARN, 0);
    r->alerts = calloc(MAX_RECORDED, sizeof(*r->alerts));
    r->ended = calloc(MAX_RECORDED, sizeof(*r->ended));
    r->points = calloc(MAX_RECORDED, sizeof(*r->points));
    if (!r->alerts || !r->ended || !r->points ||
        floe_sandbox_open(&r->sb, TEST_MEM, err, sizeof(err)) != 0)
        return 1;
    return 0;
}

int floe_cmd_plugin_test(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: floe plugin test DIR\n"
               "Runs DIR/tests/*.lua against the plugin in DIR on an offline engine.\n");
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: floe plugin test DIR\n");
        return 2;
    }
    runner *r = calloc(1, sizeof(*r));
    int rc = !r || setup(r, argv[1]) != 0 ? 1 : run_dir(r);
    if (r) {
        floe_sandbox_close(&r->sb);
        floe_config_free(&r->cfg);
        free(r->alerts);
        free(r->ended);
        free(r->points);
        free(r);
    }
    if (!r)
        fprintf(stderr, "floe plugin test: out of memory\n");
    return rc;
}
