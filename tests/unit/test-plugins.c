/*
 * The plugin runtime: the sandbox every piece of user Lua runs in. Each
 * test runs a hostile or faulty script and checks that it is stopped, that
 * what it reached for is absent, and that the state is still usable.
 */
#include <lauxlib.h>
#include <lualib.h>
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

/* ---- pages ----------------------------------------------------------------------- */

static const char *const node_names[] = {
#define X(id) #id,
    FLOE_PAGE_NODES(X)
#undef X
};

/* Every node of a render as "TYPE(field=value,...)" joined by " | ". */
typedef struct page_text {
    char buf[4096];
    size_t len;
} page_text;

static void field(page_text *t, const char *name, const char *v)
{
    if (v && t->len < sizeof(t->buf))
        t->len += (size_t)snprintf(t->buf + t->len, sizeof(t->buf) - t->len, "%s%s=%s",
                                   t->buf[t->len - 1] == '(' ? "" : ",", name, v);
}

static void record_node(void *ud, const floe_page_node *n)
{
    page_text *t = ud;
    if (t->len >= sizeof(t->buf))
        return;
    t->len += (size_t)snprintf(t->buf + t->len, sizeof(t->buf) - t->len, "%s%s(",
                               t->len ? " | " : "", node_names[n->type]);
    field(t, "title", n->title);
    field(t, "text", n->text);
    field(t, "key", n->key);
    field(t, "href", n->href);
    field(t, "tone", n->tone);
    field(t, "num", n->numeric ? "1" : NULL);
    field(t, "schema", n->schema);
    field(t, "tags", n->tags);
    field(t, "unit", n->unit);
    field(t, "range", n->range);
    if (t->len < sizeof(t->buf))
        t->len += (size_t)snprintf(t->buf + t->len, sizeof(t->buf) - t->len, ")");
}

/* Compares a render with what it should be, printing both when they differ
 * (they are longer than ASSERT_STR_EQ shows). */
static int same(const char *got, const char *want)
{
    if (strcmp(got, want) == 0)
        return 1;
    fprintf(stderr, "  got:  %s\n  want: %s\n", got, want);
    return 0;
}

static int render(fixture *fx, const char *page, page_text *t, char *title, char *err)
{
    floe_page_sink sink = {record_node, t};
    memset(t, 0, sizeof(*t));
    title[0] = err[0] = '\0';
    return floe_plugins_page(fx->e.plugins, "pg", page, &sink, title, 128, err, 512);
}

/* A plugin with a check, a schema and a menu of pages; page is the text of
 * web_gui/main.lua. */
static void page_plugin(fixture *fx, const char *page)
{
    put(fx, "pg/manifest.lua", "return { title = 'Pages' }\n");
    put(fx, "pg/ts_schemas/probe.lua",
        "return { tags = { 'service' }, metrics = { { name = 'rtt_ms' } } }\n");
    put(fx, "pg/checks/system/c.lua",
        "return { config = { limit = { type = 'integer', default = 5 } },\n"
        "  hooks = { min = function() state.runs = (state.runs or 0) + 1 end } }\n");
    put(fx, "pg/web_gui/menu.lua",
        "return { title = 'Pages <x>', icon = '*', pages = { { key = 'main', title = 'Main' },\n"
        "  { key = 'other', title = 'Other' } } }\n");
    put(fx, "pg/web_gui/other.lua", "return { blocks = { 'other' } }\n");
    put(fx, "pg/web_gui/main.lua", page);
}

TEST(pages_render_their_blocks_as_nodes)
{
    fixture fx;
    page_text t;
    char title[128], err[512];
    fx_init(&fx, 0);
    page_plugin(&fx,
                "local rows = {}\n"
                "for i = 1, 2 do rows[i] = { 'svc' .. i, { text = i * 10, tone = i == 2 and "
                "'bad' or nil },\n"
                "  { text = 'host', href = '/hosts/10.0.0.' .. i } } end\n"
                "return { title = 'Main page', blocks = {\n"
                "  { heading = 'Hello <b>' }, 'plain', { text = 'warned', tone = 'warn' },\n"
                "  { title = 'Probes', table = { columns = { 'Name', { title = 'RTT', "
                "numeric = true }, 'Host' },\n"
                "    rows = rows, empty = 'none' } },\n"
                "  { kv = { { 'limit', checks.config('c').limit }, { 'missing', state.x } } },\n"
                "  { title = 'RTT', chart = { schema = 'pg:probe', tags = { service = 'db' }, "
                "unit = 'ms', range = '1w' } },\n"
                "  { title = 'S', section = { { text = page.plugin .. '/' .. page.key } } },\n"
                "} }\n");
    fx_start(&fx);
    ASSERT_EQ(render(&fx, "main", &t, title, err), 0);
    ASSERT_STR_EQ(title, "Main page");
    ASSERT(same(t.buf, "HEADING(text=Hello <b>) | TEXT(text=plain) | TEXT(text=warned,tone=warn)"
                       " | TABLE(title=Probes,text=none) | COLUMN(text=Name) | "
                       "COLUMN(text=RTT,num=1) | COLUMN(text=Host) | ROW() | CELL(text=svc1) | "
                       "CELL(text=10,num=1) | CELL(text=host,href=/hosts/10.0.0.1) | ROW_END() | "
                       "ROW() | CELL(text=svc2) | CELL(text=20,tone=bad,num=1) | "
                       "CELL(text=host,href=/hosts/10.0.0.2) | ROW_END() | TABLE_END() | KV() | "
                       "KV_ITEM(text=5,key=limit) | KV_ITEM(key=missing) | KV_END() | "
                       "CHART(title=RTT,schema=pg:probe,tags=db,unit=ms,range=1w) | "
                       "SECTION(title=S) | TEXT(text=pg/main) | SECTION_END()"));
    ASSERT_EQ(render(&fx, "other", &t, title, err), 0);
    ASSERT_STR_EQ(title, "Other"); /* the menu's title when the page gives none */
    ASSERT_EQ(render(&fx, "none", &t, title, err), FLOE_ENOTFOUND);
    floe_plugin_menu m[4];
    ASSERT_EQ(floe_plugins_menu(fx.e.plugins, m, 4), 1);
    ASSERT_STR_EQ(m[0].title, "Pages <x>");
    ASSERT_STR_EQ(m[0].icon, "*");
    ASSERT_STR_EQ(m[0].first_page, "main");
    ASSERT_EQ(m[0].n_pages, 2);
    fx_close(&fx);
}

/* Every way a page can go wrong fails that render with a message that says
 * where, and the next render works. */
TEST(a_bad_page_fails_alone_with_its_reason)
{
    static const struct {
        const char *script, *error;
    } cases[] = {
        {"local x = nil; return x.y", "main.lua:1:"},
        {"while true do end", "instruction budget"},
        {"state.n = 1; return { blocks = {} }", "read-only"},
        {"return { blocks = { { text = 'a', colour = 'red' } } }", "block 1: unknown key 'colour'"},
        {"return { blocks = { 'a', { text = 'x', heading = 'y' } } }",
         "block 2: a block is one of"},
        {"return { blocks = { { table = { columns = { 'a' }, rows = { { { text = 'x', href = "
         "'//evil.example/' } } } } } } }",
         "must be a path on this server"},
        {"return { blocks = { { text = 'x', tone = 'red' } } }", "tone must be"},
        {"return { blocks = { { chart = { schema = 'pg:probe', tags = { 'a,b' } } } } }",
         "without commas"},
        {"return { blocks = { { chart = { schema = 'other:x', tags = { host = 'a' } } } } }",
         "as a list of values"},
        {"return { blocks = { { section = { { section = { { section = { { section = { { "
         "section = {} } } } } } } } } } } }",
         "at most 4 deep"},
        {"return 'html'", "must return a table"},
        {"local b = {} for i = 1, 30000 do b[i] = 'x' end return { blocks = b }",
         "the page is too large"},
        {"return { blocks = { { text = function() end } } }", "text must be text"},
        {"return { blocks = { { kv = { { 'only a key', 1, 2 } } } } }", "kv item 1"},
        {"return { blocks = { { table = { columns = {'a'}, rows = { { 1, 2 } } } } } }",
         "row 1 must be a list of at most 1 cells"},
    };
    fixture fx;
    page_text t;
    char title[128], err[512];
    for (size_t i = 0; i < FLOE_ARRAY_LEN(cases); i++) {
        fx_init(&fx, 0);
        page_plugin(&fx, cases[i].script);
        fx_start(&fx);
        ASSERT_EQ(render(&fx, "main", &t, title, err), FLOE_EINVAL);
        ASSERT_CONTAINS(err, cases[i].error);
        ASSERT_EQ(render(&fx, "other", &t, title, err), 0);
        ASSERT(same(t.buf, "TEXT(text=other)"));
        fx_close(&fx);
    }
}

/* A page reads what the checks wrote and the tables hold, and cannot
 * reach what a check can do. */
TEST(pages_read_state_hosts_and_probe_results)
{
    fixture fx;
    page_text t;
    char title[128], err[512];
    fx_init(&fx, 0);
    page_plugin(&fx,
                "local h = tables.top_hosts { limit = 2 }\n"
                "local n = 0 for k, v in pairs(state) do n = n + 1 end\n"
                "local r = probe.results().db\n"
                "return { blocks = { 'runs ' .. tostring(state.runs) .. ' keys ' .. n,\n"
                "  'top ' .. #h .. ' ' .. h[1].ip .. ' ' .. h[1].bytes_sent .. ' ' .. h[2].ip,\n"
                "  'one ' .. tostring(tables.host('10.0.0.2').packets_sent) .. ' ' .. "
                "tostring(tables.host('10.9.9.9')),\n"
                "  'probe ' .. tostring(r.ok) .. ' ' .. r.error .. ' ' .. r.cert.status,\n"
                "  'no ' .. type(probe.start) .. ' ' .. type(alerts.trigger) .. ' ' .. "
                "type(ts) .. ' ' .. type(alerts.engaged) } }\n");
    fx_start(&fx);
    floe_record a = l7_record("10.0.0.1", 40000, "192.0.2.9", 443, 91);
    floe_record b = l7_record("10.0.0.2", 40000, "192.0.2.9", 443, 91);
    b.bytes = 5000;
    floe_tables_record(&fx.e.tables, &a, 1700000000100ULL);
    floe_tables_record(&fx.e.tables, &b, 1700000000100ULL);
    floe_tables_flush(&fx.e.tables);
    floe_engine_advance(&fx.e, 1700000000100ULL);
    floe_engine_advance(&fx.e, 1700000060000ULL); /* a minute tick: the check writes state */
    floe_engine_housekeep(&fx.e, 1700000060000ULL, 1000);
    lua_State *L = luaL_newstate();
    ASSERT_EQ(luaL_dostring(L, "return { ok = false, error = 'refused', cert = { status = "
                               "'expired' } }"),
              LUA_OK);
    ASSERT_EQ(floe_plugins_probe_feed(fx.e.plugins, "pg", "db", L, -1), 0);
    lua_close(L);
    int rc = render(&fx, "main", &t, title, err);
    ASSERT_STR_EQ(err, "");
    ASSERT_EQ(rc, 0);
    ASSERT(same(t.buf, "TEXT(text=runs 1 keys 1) | TEXT(text=top 2 192.0.2.9 0 10.0.0.2) | "
                       "TEXT(text=one 10 nil) | TEXT(text=probe false refused expired) | "
                       "TEXT(text=no nil nil nil function)"));
    fx_close(&fx);
}

/* A menu that names a page without its file, or a page that does not
 * compile, fails the plugin's load with the reason. */
TEST(menus_are_checked_when_the_plugin_loads)
{
    static const struct {
        const char *menu, *page, *error;
    } cases[] = {
        {"return { title = 'x', pages = { { key = 'gone', title = 'G' } } }", NULL,
         "page 'gone' needs web_gui/gone.lua"},
        {"return { title = 'x', key = 'main' }", "return {", "web_gui/main.lua:1:"},
        {"return { title = 'x', key = 'main', pages = {} }", "return {}", "give either pages"},
        {"return { title = 'x', key = 'menu' }", "return {}", "not 'menu'"},
        {"return { key = 'main' }", "return {}", "'title' must be a string"},
        {"return { title = 'x', key = 'main', colour = 1 }", "return {}", "unknown key 'colour'"},
    };
    fixture fx;
    char buf[8192];
    for (size_t i = 0; i < FLOE_ARRAY_LEN(cases); i++) {
        fx_init(&fx, 0);
        put(&fx, "pg/manifest.lua", "return {}\n");
        put(&fx, "pg/web_gui/menu.lua", cases[i].menu);
        if (cases[i].page)
            put(&fx, "pg/web_gui/main.lua", cases[i].page);
        fx_start(&fx);
        ASSERT_CONTAINS(plugin_state(&fx.e, "pg", buf, sizeof(buf)), "\"state\":\"failed\"");
        ASSERT_CONTAINS(buf, cases[i].error);
        fx_close(&fx);
    }
}

/* The declarations the web UI builds its editor from, and a validate
 * function that checks what types cannot. */
TEST(settings_are_declared_in_the_json_and_validated)
{
    fixture fx;
    char buf[8192], err[512];
    fx_init(&fx, 0);
    put(&fx, "v/manifest.lua", "return {}\n");
    put(&fx, "v/checks/system/s.lua",
        "return { config = {\n"
        "  port = { type = 'integer', default = 80, min = 1, max = 65535, description = 'a port' "
        "},\n"
        "  mode = { type = 'string', default = 'a', choices = { 'a', 'b' } },\n"
        "  names = { type = 'list', default = {}, validate = function(v)\n"
        "    for i, n in ipairs(v) do if type(n) ~= 'table' or not n.name then\n"
        "      return 'item ' .. i .. ' needs a name' end end end },\n"
        "}, hooks = { min = function() end } }\n");
    fx_start(&fx);
    plugin_state(&fx.e, "v", buf, sizeof(buf));
    ASSERT(strstr(buf,
                  "\"settings\":[{\"key\":\"mode\",\"type\":\"string\",\"choices\":[\"a\",\"b\"],"
                  "\"default\":\"a\",\"validated\":false},{\"key\":\"names\",\"type\":\"list\","
                  "\"default\":[],\"validated\":true},{\"key\":\"port\",\"type\":\"integer\","
                  "\"description\":\"a port\",\"min\":1,\"max\":65535,\"default\":80,"
                  "\"validated\":false}]"));
    const char *bad = "{\"names\": [{\"name\": \"a\"}, {\"host\": \"b\"}]}";
    ASSERT_EQ(floe_plugins_configure(fx.e.plugins, "v", "s", bad, strlen(bad), err, sizeof(err)),
              FLOE_EINVAL);
    ASSERT_CONTAINS(err, "'names' item 2 needs a name");
    const char *good = "{\"names\": [{\"name\": \"a\"}]}";
    ASSERT_EQ(floe_plugins_configure(fx.e.plugins, "v", "s", good, strlen(good), err, sizeof(err)),
              0);
    fx_close(&fx);
}

TEST_MAIN(TEST_ENTRY(endless_loops_are_stopped_even_through_pcall),
          TEST_ENTRY(memory_bombs_hit_the_cap_and_the_state_recovers),
          TEST_ENTRY(nothing_outside_the_safe_globals_is_reachable),
          TEST_ENTRY(bytecode_is_refused_and_errors_name_the_line),
          TEST_ENTRY(each_environment_has_its_own_libraries),
          TEST_ENTRY(builtin_suspicious_port_flags_http_off_its_ports),
          TEST_ENTRY(bad_plugins_are_disabled_and_the_rest_go_on),
          TEST_ENTRY(reload_keeps_state_and_a_broken_edit_keeps_the_old_version),
          TEST_ENTRY(pages_render_their_blocks_as_nodes),
          TEST_ENTRY(a_bad_page_fails_alone_with_its_reason),
          TEST_ENTRY(pages_read_state_hosts_and_probe_results),
          TEST_ENTRY(menus_are_checked_when_the_plugin_loads),
          TEST_ENTRY(settings_are_declared_in_the_json_and_validated))
