/*
 * The plugin runtime: the sandbox every piece of user Lua runs in. Each
 * test runs a hostile or faulty script and checks that it is stopped, that
 * what it reached for is absent, and that the state is still usable.
 */
#include <lauxlib.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alerts/alerts.h"
#include "engine/engine.h"
#include "plugins/plugins.h"
#include "tests/unit/runner.h"

#define MEM (4u << 20)

/* Loads and runs text in a fresh sandbox environment; returns the call's
 * code, with the message in err. */
static int run(floe_sandbox *sb, const char *text, uint64_t budget, char *err, size_t errlen)
{
    floe_sandbox_push_env(sb);
    int rc = floe_sandbox_load(sb, text, strlen(text), "test.lua", -1, err, errlen);
    lua_remove(sb->L, rc == 0 ? -2 : -1); /* the environment */
    if (rc != 0)
        return rc;
    return floe_sandbox_call(sb, 0, 1, budget, err, errlen);
}

/* Runs an expression's script and returns its result as a string. */
static const char *eval(floe_sandbox *sb, const char *text, char *out, size_t outlen)
{
    char err[512];
    if (run(sb, text, 1000000, err, sizeof(err)) != 0) {
        snprintf(out, outlen, "error: %.100s", err);
        return out;
    }
    snprintf(out, outlen, "%s", luaL_tolstring(sb->L, -1, NULL));
    lua_pop(sb->L, 2);
    return out;
}

TEST(endless_loops_are_stopped_even_through_pcall)
{
    floe_sandbox sb;
    char err[512];
    ASSERT_EQ(floe_sandbox_open(&sb, MEM, err, sizeof(err)), 0);
    ASSERT_EQ(run(&sb, "while true do end", 100000, err, sizeof(err)), FLOE_ELIMIT);
    ASSERT_CONTAINS(err, "instruction budget");
    ASSERT_EQ(run(&sb, "while true do pcall(function() while true do end end) end", 100000, err,
                  sizeof(err)),
              FLOE_ELIMIT);
    /* The state is still good for the next call. */
    char out[64];
    ASSERT_STR_EQ(eval(&sb, "return 6 * 7", out, sizeof(out)), "42");
    floe_sandbox_close(&sb);
}

TEST(memory_bombs_hit_the_cap_and_the_state_recovers)
{
    floe_sandbox sb;
    char err[512], out[64];
    ASSERT_EQ(floe_sandbox_open(&sb, MEM, err, sizeof(err)), 0);
    ASSERT_EQ(run(&sb, "local t = {} for i = 1, 1e8 do t[i] = i end", 0, err, sizeof(err)),
              FLOE_ENOMEM);
    ASSERT_CONTAINS(err, "out of memory");
    ASSERT_EQ(run(&sb, "return string.rep('x', 1 << 30)", 0, err, sizeof(err)), FLOE_ENOMEM);
    ASSERT_LE(sb.peak, MEM);
    ASSERT_GT(sb.mem_refusals, 0);
    lua_gc(sb.L, LUA_GCCOLLECT);
    ASSERT_STR_EQ(eval(&sb, "return #string.rep('y', 1000)", out, sizeof(out)), "1000");
    floe_sandbox_close(&sb);
}

TEST(nothing_outside_the_safe_globals_is_reachable)
{
    floe_sandbox sb;
    char err[512], out[128];
    ASSERT_EQ(floe_sandbox_open(&sb, MEM, err, sizeof(err)), 0);
    static const char *const absent[] = {
        "io",     "os",         "debug",          "require", "load", "loadfile",
        "dofile", "loadstring", "collectgarbage", "package", "_G"};
    for (size_t i = 0; i < FLOE_ARRAY_LEN(absent); i++) {
        char text[64];
        snprintf(text, sizeof(text), "return type(%s)", absent[i]);
        ASSERT_STR_EQ(eval(&sb, text, out, sizeof(out)), "nil");
    }
    /* string.dump, directly, through a string's methods, or through the
     * string metatable. */
    ASSERT_STR_EQ(eval(&sb, "return type(string.dump)", out, sizeof(out)), "nil");
    ASSERT_STR_EQ(eval(&sb, "return type(('x').dump)", out, sizeof(out)), "nil");
    ASSERT_STR_EQ(eval(&sb, "return tostring(getmetatable(''))", out, sizeof(out)), "false");
    ASSERT_CONTAINS(eval(&sb, "setmetatable('', {})", out, sizeof(out)), "error");
    floe_sandbox_close(&sb);
}

TEST(bytecode_is_refused_and_errors_name_the_line)
{
    floe_sandbox sb;
    char err[512];
    ASSERT_EQ(floe_sandbox_open(&sb, MEM, err, sizeof(err)), 0);
    const char bytecode[] = "\x1bLua\x54\x00";
    floe_sandbox_push_env(&sb);
    ASSERT_EQ(
        floe_sandbox_load(&sb, bytecode, sizeof(bytecode) - 1, "evil.luac", -1, err, sizeof(err)),
        FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "binary");
    lua_pop(sb.L, 1);
    ASSERT_EQ(run(&sb, "local x = nil\nreturn x.field", 0, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "test.lua:2:");
    ASSERT(strchr(err, '\n') == NULL); /* one line; the traceback is kept apart */
    ASSERT_CONTAINS(sb.trace, "stack traceback:");
    ASSERT_EQ(run(&sb, "return (", 0, err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "test.lua:1:");
    floe_sandbox_close(&sb);
}

TEST(each_environment_has_its_own_libraries)
{
    floe_sandbox sb;
    char err[512], out[64];
    ASSERT_EQ(floe_sandbox_open(&sb, MEM, err, sizeof(err)), 0);
    ASSERT_STR_EQ(eval(&sb, "string.format = nil; math.pi = 3; return 1", out, sizeof(out)), "1");
    ASSERT_STR_EQ(
        eval(&sb, "return string.format('%d', 5) .. math.floor(math.pi)", out, sizeof(out)), "53");
    /* A string's own methods are the state's string table, untouched. */
    ASSERT_STR_EQ(eval(&sb, "return ('%d'):format(9)", out, sizeof(out)), "9");
    floe_sandbox_close(&sb);
}

/* ---- the plugin engine, through an offline engine ------------------------------- */

typedef struct fixture {
    floe_config cfg;
    floe_log log;
    floe_engine e;
    char dir[64];
    int alerts;
    floe_alert last;
    char last_info[512];
} fixture;

static void on_alert(void *ud, const floe_alert *a)
{
    fixture *fx = ud;
    fx->alerts++;
    fx->last = *a;
    snprintf(fx->last_info, sizeof(fx->last_info), "%s", a->info ? a->info : "");
    fx->last.info = fx->last_info;
}

/* Writes a file under the fixture's plugin folder. */
static void put(fixture *fx, const char *rel, const char *text)
{
    char path[512], dir[512];
    snprintf(path, sizeof(path), "%s/%s", fx->dir, rel);
    snprintf(dir, sizeof(dir), "%s", path);
    for (char *p = dir + strlen(fx->dir) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* An offline engine with the built-in plugins (builtins = 1) and the
 * fixture's own folder of plugins. */
static void fx_init(fixture *fx, int builtins)
{
    char err[256];
    memset(fx, 0, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/floe-test-plugins-XXXXXX");
    ASSERT(mkdtemp(fx->dir) != NULL);
    ASSERT_EQ(floe_config_defaults(&fx->cfg), 0);
    if (!builtins)
        floe_config_set_str(&fx->cfg.builtin_plugins, "none");
    floe_config_add_list(&fx->cfg.plugin_dirs, &fx->cfg.n_plugin_dirs, fx->dir);
    fx->cfg.lua_instructions = 100000;
    fx->cfg.lua_memory_mb = 8;
    fx->cfg.lua_failures = 3;
    floe_log_init(&fx->log, -1, 0);
    (void)err;
}

static void fx_start(fixture *fx)
{
    char err[256];
    ASSERT_EQ(floe_engine_init(&fx->e, &fx->cfg, &fx->log, NULL, FLOE_ENGINE_OFFLINE,
                               1700000000000ULL, err, sizeof(err)),
              0);
    fx->e.tap.alert = on_alert;
    fx->e.tap.ud = fx;
}

static void fx_close(fixture *fx)
{
    char cmd[128];
    floe_engine_close(&fx->e);
    floe_config_free(&fx->cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
    ASSERT_EQ(system(cmd), 0);
}

/* A TCP record with nProbe's L7_PROTO set (nDPI ids: 7 HTTP, 88 RDP). */
static floe_record l7_record(const char *src, uint16_t sport, const char *dst, uint16_t dport,
                             uint32_t l7)
{
    floe_record r;
    memset(&r, 0, sizeof(r));
    r.exporter_id = 1;
    r.sampling = 1;
    floe_addr_parse(&r.src, src);
    floe_addr_parse(&r.dst, dst);
    r.sport = sport;
    r.dport = dport;
    r.ipproto = 6;
    r.bytes = 1000;
    r.packets = 10;
    r.tcp_flags = 0x1b;
    r.l7_proto = l7;
    r.has = FLOE_F(SRC) | FLOE_F(DST) | FLOE_F(SPORT) | FLOE_F(DPORT) | FLOE_F(IPPROTO) |
            FLOE_F(BYTES) | FLOE_F(PACKETS) | FLOE_F(TCP_FLAGS) | FLOE_F(L7_PROTO);
    return r;
}

static floe_flow *find_flow(floe_engine *e, const char *client)
{
    floe_addr a;
    floe_flow *f;
    floe_addr_parse(&a, client);
    FLOE_FLOWS_FOREACH(&e->tables, f)
        if (floe_addr_eq(floe_flow_client(f, NULL), &a))
            return f;
    return NULL;
}

static int flow_has(floe_engine *e, const char *client, const char *status)
{
    floe_flow *f = find_flow(e, client);
    int32_t id = floe_plugins_status_id(e->plugins, status);
    return f && id >= 0 && floe_flow_status_find(f, (uint32_t)id) != NULL;
}

TEST(builtin_suspicious_port_flags_http_off_its_ports)
{
    fixture fx;
    fx_init(&fx, 1);
    fx_start(&fx);
    floe_record a = l7_record("10.0.0.1", 40000, "192.0.2.9", 8081, 7);
    floe_record b = l7_record("10.0.0.2", 40000, "192.0.2.9", 80, 7);
    floe_record c = l7_record("10.0.0.3", 40000, "192.0.2.9", 8081, 88);
    floe_tables_record(&fx.e.tables, &a, 1700000000100ULL);
    floe_tables_record(&fx.e.tables, &b, 1700000000100ULL);
    floe_tables_record(&fx.e.tables, &c, 1700000000100ULL);
    ASSERT(flow_has(&fx.e, "10.0.0.1", "suspicious_port.http_nonstandard_port"));
    ASSERT(!flow_has(&fx.e, "10.0.0.2", "suspicious_port.http_nonstandard_port"));
    ASSERT(!flow_has(&fx.e, "10.0.0.3", "suspicious_port.http_nonstandard_port"));
    ASSERT_EQ(find_flow(&fx.e, "10.0.0.1")->score, 50);
    ASSERT_EQ(fx.alerts, 1);
    ASSERT_STR_EQ(fx.last.type, "suspicious_port.http_nonstandard_port");
    ASSERT_EQ(fx.last.kind, FLOE_ALERT_ONESHOT);
    ASSERT_EQ(fx.last.has_flow, 1);
    ASSERT_EQ(fx.last.srv_port, 8081);
    ASSERT_CONTAINS(fx.last_info, "\"port\":8081");
    fx_close(&fx);
}

static const char *plugin_state(floe_engine *e, const char *name, char *buf, size_t len)
{
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    if (floe_plugins_check_json(e->plugins, name, NULL, &j) != 0)
        snprintf(buf, len, "(none)");
    else
        snprintf(buf, len, "%s", b.data);
    floe_buf_close(&b);
    return buf;
}

#define GOOD_STATUS "return { key = 'seen', title = 'Seen', score = 5 }\n"
#define FLOW_CHECK(body)                                                                           \
    "return { hooks = { protocolDetected = function(flow, conf) " body " end } }\n"

/* Hostile and broken plugins beside a good one: the good one keeps working,
 * each bad one is disabled (or never loads) with its reason kept. */
TEST(bad_plugins_are_disabled_and_the_rest_go_on)
{
    fixture fx;
    char buf[8192];
    fx_init(&fx, 0);
    const char *manifest = "return { title = 'test' }\n";
    static const char *const names[] = {"good", "looper", "bomb", "crasher"};
    static const char *const bodies[] = {
        "flow:setStatus('seen')",
        "while true do end",
        "local s, t = string.rep('x', 1 << 20), {} for i = 1, 1e9 do t[i] = s .. i end",
        "local x = nil; x.boom()",
    };
    for (size_t i = 0; i < FLOE_ARRAY_LEN(names); i++) {
        char rel[128];
        snprintf(rel, sizeof(rel), "%s/manifest.lua", names[i]);
        put(&fx, rel, manifest);
        snprintf(rel, sizeof(rel), "%s/status_definitions/seen.lua", names[i]);
        put(&fx, rel, GOOD_STATUS);
        snprintf(rel, sizeof(rel), "%s/checks/flow/c.lua", names[i]);
        char text[512];
        snprintf(text, sizeof(text),
                 "return { hooks = { protocolDetected = function(flow, conf) %s end } }\n",
                 bodies[i]);
        put(&fx, rel, text);
    }
    put(&fx, "syntax/manifest.lua", manifest);
    put(&fx, "syntax/checks/flow/c.lua", "return { hooks = { protocolDetected = function( }\n");
    put(&fx, "badkey/manifest.lua", "return { title = 'x', colour = 'blue' }\n");
    put(&fx, "needy/manifest.lua", "return { dependencies = { 'nowhere' } }\n");
    put(&fx, "twice/manifest.lua", manifest);
    put(&fx, "twice/status_definitions/s.lua", "return { { key = 'a' }, { key = 'a' } }\n");
    fx_start(&fx);
    for (int i = 0; i < 5; i++) {
        char src[32];
        snprintf(src, sizeof(src), "10.0.1.%d", i + 1);
        floe_record r = l7_record(src, 40000, "192.0.2.9", 443, 91);
        floe_tables_record(&fx.e.tables, &r, 1700000000100ULL + (uint64_t)i);
        ASSERT(flow_has(&fx.e, src, "good.seen"));
    }
    ASSERT_CONTAINS(plugin_state(&fx.e, "looper", buf, sizeof(buf)), "\"state\":\"failed\"");
    ASSERT_CONTAINS(buf, "instruction budget");
    ASSERT_CONTAINS(plugin_state(&fx.e, "bomb", buf, sizeof(buf)), "\"state\":\"failed\"");
    ASSERT_CONTAINS(buf, "out of memory");
    ASSERT_CONTAINS(plugin_state(&fx.e, "crasher", buf, sizeof(buf)), "\"state\":\"failed\"");
    ASSERT_CONTAINS(buf, "c.lua:1:");
    ASSERT_CONTAINS(buf, "\"calls\":3"); /* three failures, then no more calls */
    ASSERT_CONTAINS(plugin_state(&fx.e, "good", buf, sizeof(buf)), "\"calls\":5");
    ASSERT_CONTAINS(plugin_state(&fx.e, "syntax", buf, sizeof(buf)), "\"state\":\"failed\"");
    ASSERT_CONTAINS(buf, "checks/flow/c.lua:1:");
    ASSERT_CONTAINS(plugin_state(&fx.e, "badkey", buf, sizeof(buf)), "unknown key 'colour'");
    ASSERT_CONTAINS(plugin_state(&fx.e, "needy", buf, sizeof(buf)), "needs plugin 'nowhere'");
    ASSERT_CONTAINS(plugin_state(&fx.e, "twice", buf, sizeof(buf)), "defined twice");
    fx_close(&fx);
}

/* A reload replaces the checks but keeps the plugin's state table; a
 * broken edit keeps the running version and says why. */
TEST(reload_keeps_state_and_a_broken_edit_keeps_the_old_version)
{
    fixture fx;
    char buf[8192];
    fx_init(&fx, 0);
    put(&fx, "counter/manifest.lua", "return { version = '1' }\n");
    put(&fx, "counter/status_definitions/n.lua", "return { score = 1 }\n");
    put(&fx, "counter/checks/flow/c.lua",
        "return { hooks = { protocolDetected = function(flow, conf)\n"
        "  state.n = (state.n or 0) + 1\n"
        "  flow:setStatus('n', { score = state.n })\n"
        "end } }\n");
    fx_start(&fx);
    floe_record a = l7_record("10.0.3.1", 40000, "192.0.2.9", 443, 91);
    floe_tables_record(&fx.e.tables, &a, 1700000000100ULL);
    ASSERT_EQ(find_flow(&fx.e, "10.0.3.1")->score, 1);
    put(&fx, "counter/manifest.lua", "return { version = '2' }\n");
    put(&fx, "counter/checks/flow/c.lua",
        "return { hooks = { protocolDetected = function(flow, conf)\n"
        "  state.n = (state.n or 0) + 10\n"
        "  flow:setStatus('n', { score = state.n })\n"
        "end } }\n");
    ASSERT_EQ(floe_engine_reload_plugins(&fx.e, 1), 0);
    ASSERT_CONTAINS(plugin_state(&fx.e, "counter", buf, sizeof(buf)), "\"version\":\"2\"");
    floe_record b = l7_record("10.0.3.2", 40000, "192.0.2.9", 443, 91);
    floe_tables_record(&fx.e.tables, &b, 1700000000200ULL);
    ASSERT_EQ(find_flow(&fx.e, "10.0.3.2")->score, 11); /* 1 kept, plus 10 */
    put(&fx, "counter/manifest.lua", "return { version = '3' }\n");
    put(&fx, "counter/checks/flow/c.lua", "return { hooks = { protocolDetected = 42 } }\n");
    ASSERT_EQ(floe_engine_reload_plugins(&fx.e, 1), 1);
    ASSERT_CONTAINS(plugin_state(&fx.e, "counter", buf, sizeof(buf)), "\"state\":\"stale\"");
    ASSERT_CONTAINS(buf, "\"version\":\"2\"");
    ASSERT_CONTAINS(buf, "hook 'protocolDetected' must be a function");
    floe_record c = l7_record("10.0.3.3", 40000, "192.0.2.9", 443, 91);
    floe_tables_record(&fx.e.tables, &c, 1700000000300ULL);
    ASSERT_EQ(find_flow(&fx.e, "10.0.3.3")->score, 21); /* version 2 still runs */
    fx_close(&fx);
}

TEST_MAIN(TEST_ENTRY(endless_loops_are_stopped_even_through_pcall),
          TEST_ENTRY(memory_bombs_hit_the_cap_and_the_state_recovers),
          TEST_ENTRY(nothing_outside_the_safe_globals_is_reachable),
          TEST_ENTRY(bytecode_is_refused_and_errors_name_the_line),
          TEST_ENTRY(each_environment_has_its_own_libraries),
          TEST_ENTRY(builtin_suspicious_port_flags_http_off_its_ports),
          TEST_ENTRY(bad_plugins_are_disabled_and_the_rest_go_on),
          TEST_ENTRY(reload_keeps_state_and_a_broken_edit_keeps_the_old_version))
