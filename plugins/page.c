/*
 * Plugin pages. web_gui/menu.lua names a menu entry and its pages, and
 * each page is a script, web_gui/<key>.lua, compiled when the plugin loads
 * (so a syntax error fails the version like any other file) and run at
 * every render in the plugin's own sandbox, under its instruction budget
 * and memory cap, on the loop thread. The script sees read-only helpers
 * (the plugin's state and check settings through proxies that refuse
 * writes, probe results, engaged alerts, hosts from the tables) and
 * returns a table of blocks: headings, text, tables, key/value lists,
 * charts and sections. That table is checked strictly (an unknown key or
 * a bad value fails the page with a message naming the block) and walked
 * into nodes that the web server renders through its escaping template:
 * a script can say what to show, never how to mark it up.
 */
#include "plugins/internal.h"

#include "rrd/rrd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#define NODES_MAX     20000      /* nodes a page may have */
#define TEXT_MAX      (2u << 20) /* bytes of text a page may hand out */
#define DEPTH_MAX     4          /* sections within sections */
#define TOP_HOSTS_MAX 100
#define SCAN_COST     16 /* host slots scanned per instruction charged */

/* ---- the menu ------------------------------------------------------------------- */

/* A page key names web_gui/<key>.lua: any key but menu.lua's own name. */
static int page_key_ok(const char *s)
{
    return plug__valid_key(s) && strcmp(s, "menu") != 0;
}

/* The string at key of the table at t into dst (1 to size - 1 bytes). */
static void menu_text(lua_State *L, int t, const char *key, char *dst, size_t size, int required)
{
    lua_getfield(L, t, key);
    size_t n = 0;
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
    if ((s && (n == 0 || n >= size)) || (!s && (required || !lua_isnil(L, -1))))
        luaL_error(L, "web_gui/menu.lua: '%s' must be a string of 1 to %d bytes", key,
                   (int)size - 1);
    if (s)
        memcpy(dst, s, n + 1);
    lua_pop(L, 1);
}

/* Compiles web_gui/<key>.lua; its environment is set at each render. */
static void compile_page(lua_State *L, plug__plugin *p, plug__page *pg)
{
    char rel[128], path[1200], err[ERR_MAX];
    size_t len;
    snprintf(rel, sizeof(rel), "web_gui/%s.lua", pg->key);
    snprintf(path, sizeof(path), "%s/%s", p->dir, rel);
    char *text = plug__read_file(path, &len);
    if (!text)
        luaL_error(L, "web_gui/menu.lua: page '%s' needs %s (missing, unreadable or over 1 MiB)",
                   pg->key, rel);
    lua_newtable(L);
    int rc = floe_sandbox_load(&p->sb, text, len, rel, -1, err, sizeof(err));
    free(text);
    if (rc != 0)
        luaL_error(L, "%s", err);
    lua_remove(L, -2);
    pg->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* One page {key =, title =} at the top of the stack (or the menu itself
 * for a single page) into pages[*n]. */
static void add_page(lua_State *L, plug__plugin *p, plug__page *pages, size_t *n,
                     const char *default_title)
{
    static const char *const keys[] = {"key", "title"};
    int t = lua_gettop(L);
    if (*n >= PAGES_MAX)
        luaL_error(L, "web_gui/menu.lua: at most %d pages", PAGES_MAX);
    plug__page *pg = &pages[*n];
    memset(pg, 0, sizeof(*pg));
    pg->fn_ref = LUA_NOREF;
    if (!default_title)
        plug__only_keys(L, t, "web_gui/menu.lua: a page", keys, FLOE_ARRAY_LEN(keys));
    menu_text(L, t, "key", pg->key, sizeof(pg->key), 1);
    snprintf(pg->title, sizeof(pg->title), "%s", default_title ? default_title : "");
    if (!default_title)
        menu_text(L, t, "title", pg->title, sizeof(pg->title), 1);
    if (!page_key_ok(pg->key))
        luaL_error(L,
                   "web_gui/menu.lua: page key '%s' must be letters, digits and '_' (not 'menu')",
                   pg->key);
    for (size_t i = 0; i < *n; i++)
        if (strcmp(pages[i].key, pg->key) == 0)
            luaL_error(L, "web_gui/menu.lua: page '%s' is listed twice", pg->key);
    compile_page(L, p, pg);
    (*n)++;
}

void plug__menu_read(lua_State *L, plug__plugin *p, int idx, char *title, size_t titlelen,
                     char *icon, size_t iconlen, plug__page *pages, size_t *n_pages)
{
    static const char *const keys[] = {"title", "icon", "pages", "key"};
    plug__only_keys(L, idx, "web_gui/menu.lua", keys, FLOE_ARRAY_LEN(keys));
    menu_text(L, idx, "title", title, titlelen, 1);
    menu_text(L, idx, "icon", icon, iconlen, 0);
    lua_getfield(L, idx, "pages");
    lua_getfield(L, idx, "key");
    int list = lua_istable(L, -2), single = !lua_isnil(L, -1);
    lua_pop(L, 2);
    if (list == single)
        luaL_error(L, "web_gui/menu.lua: give either pages = { {key =, title =}, ... } or the "
                      "key of a single page");
    if (single) {
        lua_pushvalue(L, idx);
        add_page(L, p, pages, n_pages, title);
        lua_pop(L, 1);
        return;
    }
    lua_getfield(L, idx, "pages");
    int list_idx = lua_gettop(L);
    lua_Integer count = (lua_Integer)lua_rawlen(L, list_idx);
    if (count == 0)
        luaL_error(L, "web_gui/menu.lua: 'pages' lists no page");
    for (lua_Integer i = 1; i <= count; i++) {
        lua_rawgeti(L, list_idx, i);
        if (!lua_istable(L, -1))
            luaL_error(L, "web_gui/menu.lua: page %d must be a table {key =, title =}", (int)i);
        add_page(L, p, pages, n_pages, NULL);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

void plug__pages_unref(plug__plugin *p, plug__page *pages, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (pages[i].fn_ref != LUA_NOREF && p->sb.L)
            luaL_unref(p->sb.L, LUA_REGISTRYINDEX, pages[i].fn_ref);
        pages[i].fn_ref = LUA_NOREF;
    }
}

size_t floe_plugins_menu(const floe_plugins *P, floe_plugin_menu *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < P->n_plugins && n < max; i++) {
        const plug__plugin *p = P->plugins[i];
        if (!p->loaded || !p->menu_title[0] || !p->n_pages)
            continue;
        floe_plugin_menu *m = &out[n++];
        snprintf(m->plugin, sizeof(m->plugin), "%s", p->name);
        snprintf(m->title, sizeof(m->title), "%s", p->menu_title);
        snprintf(m->icon, sizeof(m->icon), "%s", p->menu_icon);
        snprintf(m->first_page, sizeof(m->first_page), "%s", p->pages[0].key);
        m->n_pages = p->n_pages;
    }
    return n;
}

static plug__plugin *loaded_plugin(const floe_plugins *P, const char *name)
{
    for (size_t i = 0; i < P->n_plugins; i++)
        if (P->plugins[i]->loaded && strcmp(P->plugins[i]->name, name) == 0)
            return P->plugins[i];
    return NULL;
}

size_t floe_plugins_pages(const floe_plugins *P, const char *plugin, floe_plugin_page_info *out,
                          size_t max)
{
    const plug__plugin *p = loaded_plugin(P, plugin);
    size_t n = 0;
    for (size_t i = 0; p && i < p->n_pages && n < max; i++, n++) {
        snprintf(out[n].key, sizeof(out[n].key), "%s", p->pages[i].key);
        snprintf(out[n].title, sizeof(out[n].title), "%s", p->pages[i].title);
    }
    return n;
}

/* ---- read-only views ------------------------------------------------------------ */

static void push_readonly(lua_State *L, int idx);

/* The proxy's __index: upvalue 1 is the table it shows. */
static int ro_index(lua_State *L)
{
    lua_pushvalue(L, 2);
    lua_gettable(L, lua_upvalueindex(1));
    if (lua_istable(L, -1))
        push_readonly(L, -1);
    return 1;
}

static int ro_newindex(lua_State *L)
{
    return luaL_error(L, "a page cannot change the plugin's state or settings: they are read-only");
}

static int ro_len(lua_State *L)
{
    lua_len(L, lua_upvalueindex(1));
    return 1;
}

static int ro_next(lua_State *L)
{
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 2); /* table, key */
    if (lua_next(L, 2) == 0)
        return 0;
    if (lua_istable(L, -1)) {
        push_readonly(L, -1);
        lua_replace(L, -2);
    }
    return 2;
}

static int ro_pairs(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, ro_next, 1);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Pushes a table that reads like the one at idx (nested tables too, as
 * proxies of their own) and refuses every write. Closures keep the real
 * table: a script cannot reach it without the debug library. */
static void push_readonly(lua_State *L, int idx)
{
    static const struct {
        const char *name;
        lua_CFunction fn;
    } meta[] = {{"__index", ro_index}, {"__len", ro_len}, {"__pairs", ro_pairs}};
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 4, "page");
    lua_newtable(L);
    lua_createtable(L, 0, 5);
    for (size_t i = 0; i < FLOE_ARRAY_LEN(meta); i++) {
        lua_pushvalue(L, idx);
        lua_pushcclosure(L, meta[i].fn, 1);
        lua_setfield(L, -2, meta[i].name);
    }
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

/* ---- helpers a page calls ------------------------------------------------------- */

/* checks.config(key): the settings in effect of one of the plugin's checks,
 * read-only. */
static int ck_config(lua_State *L)
{
    plug__plugin *p = plug__self(L);
    const char *key = luaL_checkstring(L, 1);
    for (size_t i = 0; i < p->n_checks; i++)
        if (strcmp(p->checks[i]->key, key) == 0 && p->checks[i]->conf_ref != LUA_NOREF) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, p->checks[i]->conf_ref);
            push_readonly(L, -1);
            return 1;
        }
    return luaL_error(L, "checks.config: %s has no check '%s'", p->name, key);
}

/* tables.host(ip): a host's counters, or nil. */
static int tb_host(lua_State *L)
{
    plug__plugin *p = plug__self(L);
    floe_addr a;
    if (floe_addr_parse(&a, luaL_checkstring(L, 1)) != 0)
        return luaL_error(L, "tables.host: '%s' is not an address", lua_tostring(L, 1));
    floe_host *h = p->P->env.tables ? floe_tables_host(p->P->env.tables, &a) : NULL;
    if (!h) {
        lua_pushnil(L);
        return 1;
    }
    plug__push_host(L, p->P, h);
    return 1;
}

/* The sort keys of tables.top_hosts, in host_value's order. */
static const char *const host_sorts[] = {"bytes", "packets", "score", "flows"};

static uint64_t host_value(const floe_host *h, size_t sort)
{
    const uint64_t v[] = {h->bytes_sent + h->bytes_rcvd, h->pkts_sent + h->pkts_rcvd, h->score,
                          (uint64_t)h->active_client + h->active_server};
    return v[sort];
}

typedef struct top_opts {
    size_t limit, sort;
    int local; /* -1 any, 0 remote only, 1 local only */
} top_opts;

static void top_options(lua_State *L, top_opts *o)
{
    o->limit = 10;
    o->sort = 0;
    o->local = -1;
    if (lua_isnoneornil(L, 1))
        return;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "limit");
    lua_getfield(L, 1, "sort");
    lua_getfield(L, 1, "local");
    lua_Integer lim = luaL_optinteger(L, -3, 10);
    if (lim < 1 || lim > TOP_HOSTS_MAX)
        luaL_error(L, "tables.top_hosts: limit is 1 to %d", TOP_HOSTS_MAX);
    o->limit = (size_t)lim;
    const char *sort = luaL_optstring(L, -2, "bytes");
    o->sort = FLOE_ARRAY_LEN(host_sorts);
    for (size_t i = 0; i < FLOE_ARRAY_LEN(host_sorts); i++)
        if (strcmp(host_sorts[i], sort) == 0)
            o->sort = i;
    if (o->sort == FLOE_ARRAY_LEN(host_sorts))
        luaL_error(L, "tables.top_hosts: sort is bytes, packets, score or flows");
    if (!lua_isnil(L, -1))
        o->local = lua_toboolean(L, -1);
    lua_pop(L, 3);
}

/* Charges C work to the running call's instruction budget, so a page
 * that scans the hosts in a loop runs out like one that loops in Lua. */
static void charge(lua_State *L, floe_sandbox *sb, uint64_t insns)
{
    sb->insn_used += insns;
    if (sb->insn_budget && sb->insn_used > sb->insn_budget)
        luaL_error(L, "instruction budget exceeded (%I)", (lua_Integer)sb->insn_budget);
}

/* tables.top_hosts{limit = 10, sort = "bytes", local = true}: the hosts
 * with the most of sort, most first, as tables.host gives them. */
static int tb_top_hosts(lua_State *L)
{
    plug__plugin *p = plug__self(L);
    floe_tables *t = p->P->env.tables;
    top_opts o;
    top_options(L, &o);
    lua_newtable(L);
    if (!t)
        return 1;
    charge(L, &p->sb, floe_tables_slots(t, FLOE_TABLE_HOSTS) / SCAN_COST);
    const floe_host *top[TOP_HOSTS_MAX];
    size_t n = 0;
    floe_host *h;
    FLOE_HOSTS_FOREACH(t, h) {
        if (o.local >= 0 && (h->net >= 0) != o.local)
            continue;
        uint64_t v = host_value(h, o.sort);
        if (n == o.limit && v <= host_value(top[n - 1], o.sort))
            continue;
        size_t k = n < o.limit ? n++ : n - 1;
        for (; k > 0 && host_value(top[k - 1], o.sort) < v; k--)
            top[k] = top[k - 1];
        top[k] = h;
    }
    for (size_t i = 0; i < n; i++) {
        plug__push_host(L, p->P, top[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static void set_closure(lua_State *L, plug__plugin *p, const char *name, lua_CFunction fn)
{
    lua_pushlightuserdata(L, p);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, name);
}

/* The environment of a page script: the sandbox's globals, floe and log,
 * and the read-only helpers. */
static void push_page_env(lua_State *L, plug__plugin *p, const plug__page *pg)
{
    floe_sandbox_push_env(&p->sb);
    static const char *const shared[] = {"floe", "log"};
    for (size_t i = 0; i < FLOE_ARRAY_LEN(shared); i++) {
        lua_getfield(L, LUA_REGISTRYINDEX, shared[i]);
        lua_setfield(L, -2, shared[i]);
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "probe_read");
    lua_setfield(L, -2, "probe");
    lua_newtable(L);
    lua_getfield(L, LUA_REGISTRYINDEX, "alerts");
    lua_getfield(L, -1, "engaged");
    lua_setfield(L, -3, "engaged");
    lua_pop(L, 1);
    lua_setfield(L, -2, "alerts");
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->state_ref);
    push_readonly(L, -1);
    lua_setfield(L, -3, "state");
    lua_pop(L, 1);
    lua_newtable(L);
    set_closure(L, p, "config", ck_config);
    lua_setfield(L, -2, "checks");
    lua_newtable(L);
    set_closure(L, p, "host", tb_host);
    set_closure(L, p, "top_hosts", tb_top_hosts);
    lua_setfield(L, -2, "tables");
    lua_createtable(L, 0, 2);
    lua_pushstring(L, p->name);
    lua_setfield(L, -2, "plugin");
    lua_pushstring(L, pg->key);
    lua_setfield(L, -2, "key");
    lua_setfield(L, -2, "page");
}

/* ---- walking what a page returns ------------------------------------------------- */

typedef struct render_ctx {
    floe_plugins *P;
    plug__plugin *p;
    plug__page *pg;
    const floe_page_sink *sink;
    size_t nodes, bytes;
    char where[128]; /* what is being read: "web_gui/probes.lua: block 3.2" */
    char title[128];
} render_ctx;

static int bad(lua_State *L, render_ctx *r, const char *fmt, ...) FLOE_PRINTF(3, 4);
static int bad(lua_State *L, render_ctx *r, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return luaL_error(L, "%s: %s", r->where, msg);
}

static size_t slen(const char *s)
{
    return s ? strlen(s) : 0;
}

static void emit(lua_State *L, render_ctx *r, const floe_page_node *n)
{
    r->bytes += slen(n->title) + slen(n->text) + slen(n->key) + slen(n->href) + slen(n->tags);
    if (++r->nodes > NODES_MAX || r->bytes > TEXT_MAX)
        bad(L, r, "the page is too large (at most %d parts and %u bytes of text)", NODES_MAX,
            TEXT_MAX);
    r->sink->node(r->sink->ud, n);
}

/* The text of a scalar at idx (strings, numbers, booleans), or NULL for
 * nil; anything else is an error. Numbers are converted on a copy, left
 * on the stack until the caller's settop. */
static const char *scalar_text(lua_State *L, render_ctx *r, int idx, const char *what)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return NULL;
    case LUA_TSTRING:
        return lua_tostring(L, idx);
    case LUA_TNUMBER:
        lua_pushvalue(L, idx);
        return lua_tostring(L, -1);
    case LUA_TBOOLEAN:
        return lua_toboolean(L, idx) ? "yes" : "no";
    default:
        bad(L, r, "%s must be text, a number or a boolean, not %s", what, luaL_typename(L, idx));
        return NULL;
    }
}

static const char *const tones[] = {"ok", "warn", "bad", "muted"};

static const char *tone_of(lua_State *L, render_ctx *r, int t)
{
    lua_getfield(L, t, "tone");
    const char *s = lua_tostring(L, -1);
    for (size_t i = 0; s && i < FLOE_ARRAY_LEN(tones); i++)
        if (strcmp(s, tones[i]) == 0)
            return tones[i];
    if (!lua_isnil(L, -1))
        bad(L, r, "tone must be ok, warn, bad or muted");
    return NULL;
}

/* A link must stay on this server: "/path", never "//host" or a scheme. */
static const char *href_of(lua_State *L, render_ctx *r, int t)
{
    lua_getfield(L, t, "href");
    const char *s = lua_tostring(L, -1);
    if (!s)
        return NULL;
    int ok = s[0] == '/' && s[1] != '/' && s[1] != '\\' && strlen(s) < 300;
    for (const char *c = s; ok && *c; c++)
        ok = (unsigned char)*c > 0x20 && (unsigned char)*c < 0x7f && !strchr("\"'<>\\`", *c);
    if (!ok)
        bad(L, r, "href '%.60s' must be a path on this server (\"/hosts/10.0.0.1\")", s);
    return s;
}

/* A cell (table cell or key/value value) at idx into n: a scalar, or
 * {text =, href =, tone =, numeric =}. */
static void read_cell(lua_State *L, render_ctx *r, int idx, floe_page_node *n)
{
    static const char *const keys[] = {"text", "href", "tone", "numeric"};
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx)) {
        n->text = scalar_text(L, r, idx, "a cell");
        return;
    }
    plug__only_keys(L, idx, r->where, keys, FLOE_ARRAY_LEN(keys));
    lua_getfield(L, idx, "text");
    n->text = scalar_text(L, r, -1, "a cell's text");
    n->href = href_of(L, r, idx);
    n->tone = tone_of(L, r, idx);
    lua_getfield(L, idx, "numeric");
    n->numeric |= lua_toboolean(L, -1);
}

typedef void (*block_fn)(lua_State *L, render_ctx *r, int block, int val, int depth);

static void walk_blocks(lua_State *L, render_ctx *r, int list, int depth);

static void walk_heading(lua_State *L, render_ctx *r, int block, int val, int depth)
{
    floe_page_node n = {.type = FLOE_PAGE_HEADING, .depth = depth};
    (void)block;
    if (!(n.text = scalar_text(L, r, val, "a heading")))
        bad(L, r, "a heading needs its text");
    emit(L, r, &n);
}

static void walk_text(lua_State *L, render_ctx *r, int block, int val, int depth)
{
    floe_page_node n = {.type = FLOE_PAGE_TEXT, .depth = depth};
    n.text = scalar_text(L, r, val, "text");
    n.tone = block ? tone_of(L, r, block) : NULL;
    emit(L, r, &n);
}

/* The block's title, if it has one. */
static const char *block_title(lua_State *L, render_ctx *r, int block)
{
    if (!block)
        return NULL;
    lua_getfield(L, block, "title");
    return scalar_text(L, r, -1, "a title");
}

static void walk_section(lua_State *L, render_ctx *r, int block, int val, int depth)
{
    floe_page_node n = {.type = FLOE_PAGE_SECTION, .depth = depth};
    if (depth >= DEPTH_MAX)
        bad(L, r, "sections go at most %d deep", DEPTH_MAX);
    if (!lua_istable(L, val))
        bad(L, r, "a section is a list of blocks");
    n.title = block_title(L, r, block);
    emit(L, r, &n);
    walk_blocks(L, r, val, depth + 1);
    n.type = FLOE_PAGE_SECTION_END;
    n.title = NULL;
    emit(L, r, &n);
}

/* The columns {"Name", {title =, numeric =}, ...}; their numeric flags
 * into numeric[]. Returns how many. */
static size_t walk_columns(lua_State *L, render_ctx *r, int t, int depth, int *numeric, size_t max)
{
    lua_getfield(L, t, "columns");
    int cols = lua_gettop(L);
    size_t n = lua_istable(L, cols) ? lua_rawlen(L, cols) : 0;
    if (n == 0 || n > max)
        bad(L, r, "a table needs columns = {...}, 1 to %zu of them", max);
    for (size_t i = 1; i <= n; i++) {
        int top = lua_gettop(L);
        floe_page_node c = {.type = FLOE_PAGE_COLUMN, .depth = depth};
        lua_rawgeti(L, cols, (lua_Integer)i);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "title");
            c.text = scalar_text(L, r, -1, "a column's title");
            lua_getfield(L, -2, "numeric");
            c.numeric = lua_toboolean(L, -1);
        } else {
            c.text = scalar_text(L, r, -1, "a column");
        }
        numeric[i - 1] = c.numeric;
        emit(L, r, &c);
        lua_settop(L, top);
    }
    return n;
}

static void walk_rows(lua_State *L, render_ctx *r, int t, int depth, const int *numeric,
                      size_t n_cols, floe_page_node *end)
{
    lua_getfield(L, t, "rows");
    int rows = lua_gettop(L);
    if (!lua_isnil(L, rows) && !lua_istable(L, rows))
        bad(L, r, "rows must be a list of rows");
    size_t n = lua_istable(L, rows) ? lua_rawlen(L, rows) : 0;
    for (size_t i = 1; i <= n; i++) {
        floe_page_node row = {.type = FLOE_PAGE_ROW, .depth = depth};
        lua_rawgeti(L, rows, (lua_Integer)i);
        int rt = lua_gettop(L);
        if (!lua_istable(L, rt) || lua_rawlen(L, rt) > n_cols)
            bad(L, r, "row %zu must be a list of at most %zu cells", i, n_cols);
        emit(L, r, &row);
        for (size_t k = 1; k <= n_cols; k++) {
            floe_page_node cell = {.type = FLOE_PAGE_CELL, .depth = depth};
            int top = lua_gettop(L);
            cell.numeric = numeric[k - 1];
            lua_rawgeti(L, rt, (lua_Integer)k);
            read_cell(L, r, -1, &cell);
            emit(L, r, &cell);
            lua_settop(L, top);
        }
        row.type = FLOE_PAGE_ROW_END;
        emit(L, r, &row);
        lua_settop(L, rt - 1);
    }
    end->rows = n;
}

#define COLUMNS_MAX 32

static void walk_table(lua_State *L, render_ctx *r, int block, int val, int depth)
{
    static const char *const keys[] = {"columns", "rows", "empty"};
    int numeric[COLUMNS_MAX];
    if (!lua_istable(L, val))
        bad(L, r, "a table is {columns = {...}, rows = {...}, empty = \"...\"}");
    plug__only_keys(L, val, r->where, keys, FLOE_ARRAY_LEN(keys));
    floe_page_node n = {.type = FLOE_PAGE_TABLE, .depth = depth};
    n.title = block_title(L, r, block);
    lua_getfield(L, val, "empty");
    n.text = scalar_text(L, r, -1, "empty");
    emit(L, r, &n);
    size_t cols = walk_columns(L, r, val, depth, numeric, COLUMNS_MAX);
    floe_page_node end = {.type = FLOE_PAGE_TABLE_END, .depth = depth};
    walk_rows(L, r, val, depth, numeric, cols, &end);
    emit(L, r, &end);
}

/* {{"key", value}, ...}: value is a cell. */
static void walk_kv(lua_State *L, render_ctx *r, int block, int val, int depth)
{
    floe_page_node n = {.type = FLOE_PAGE_KV, .depth = depth};
    if (!lua_istable(L, val))
        bad(L, r, "kv is a list of {key, value} pairs");
    n.title = block_title(L, r, block);
    emit(L, r, &n);
    size_t count = lua_rawlen(L, val);
    for (size_t i = 1; i <= count; i++) {
        int top = lua_gettop(L);
        floe_page_node item = {.type = FLOE_PAGE_KV_ITEM, .depth = depth};
        lua_rawgeti(L, val, (lua_Integer)i);
        if (!lua_istable(L, -1) || lua_rawlen(L, -1) < 1 || lua_rawlen(L, -1) > 2)
            bad(L, r, "kv item %zu must be {key, value}", i);
        lua_rawgeti(L, top + 1, 1);
        if (!(item.key = scalar_text(L, r, -1, "a key")))
            bad(L, r, "kv item %zu has no key", i);
        lua_rawgeti(L, top + 1, 2);
        read_cell(L, r, -1, &item);
        emit(L, r, &item);
        lua_settop(L, top);
    }
    n.type = FLOE_PAGE_KV_END;
    emit(L, r, &n);
}

static const char *const ranges[] = {"1h", "6h", "1d", "1w", "1m", "1y"};

/* One tag value: text without commas (the chart joins them with commas). */
static void add_tag(lua_State *L, render_ctx *r, char *out, size_t outlen, int idx)
{
    const char *v = scalar_text(L, r, idx, "a tag value");
    size_t len = strlen(out);
    if (!v || !v[0] || strchr(v, ','))
        bad(L, r, "a tag value must be non-empty text without commas");
    if (len + strlen(v) + 2 > outlen)
        bad(L, r, "the tags are too long");
    snprintf(out + len, outlen - len, "%s%s", len ? "," : "", v);
}

/* The chart's tags, a list of values in the schema's order or a map by
 * tag name (for the plugins' own schemas, whose tags floe knows). */
static void chart_tags(lua_State *L, render_ctx *r, int t, const char *schema, char *out,
                       size_t outlen)
{
    out[0] = '\0';
    lua_getfield(L, t, "tags");
    int tags = lua_gettop(L);
    if (lua_isnil(L, tags))
        return;
    if (!lua_istable(L, tags))
        bad(L, r, "tags is a list of values or a table by tag name");
    const floe_ts_schema *s = floe_plugins_schema(r->P, schema);
    size_t n = lua_rawlen(L, tags);
    if (n == 0 && !s)
        bad(L, r, "give the tags of schema '%s' as a list of values, in its order", schema);
    if (s && n && n != s->n_tags)
        bad(L, r, "schema '%s' has %u tags, not %zu", schema, s->n_tags, n);
    for (size_t i = 0; i < (n ? n : s->n_tags); i++) {
        int top = lua_gettop(L);
        if (n)
            lua_rawgeti(L, tags, (lua_Integer)i + 1);
        else
            lua_getfield(L, tags, s->tags[i]);
        add_tag(L, r, out, outlen, -1);
        lua_settop(L, top);
    }
}

/* Text of at most max bytes from a set of characters, or NULL if absent. */
static const char *token(lua_State *L, render_ctx *r, int t, const char *key, const char *set,
                         size_t max)
{
    lua_getfield(L, t, key);
    const char *s = lua_tostring(L, -1);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    if (n == 0 || n > max || strspn(s, set) != n)
        bad(L, r, "%s '%.40s' is not valid", key, s);
    return s;
}

#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:.-"

static void walk_chart(lua_State *L, render_ctx *r, int block, int val, int depth)
{
    static const char *const keys[] = {"schema", "tags", "unit", "range"};
    char tags[FLOE_TS_MAX_TAGS * (FLOE_TS_VALUE_MAX + 1) + 1];
    if (!lua_istable(L, val))
        bad(L, r, "a chart is {schema =, tags =, unit =, range =}");
    plug__only_keys(L, val, r->where, keys, FLOE_ARRAY_LEN(keys));
    floe_page_node n = {.type = FLOE_PAGE_CHART, .depth = depth};
    n.title = block_title(L, r, block);
    if (!(n.schema = token(L, r, val, "schema", NAME_CHARS, FLOE_TS_NAME_MAX)))
        bad(L, r, "a chart needs its schema (\"plugin:name\")");
    chart_tags(L, r, val, n.schema, tags, sizeof(tags));
    n.tags = tags;
    n.unit = token(L, r, val, "unit", NAME_CHARS "/%", 16);
    n.range = token(L, r, val, "range", "0123456789hdwmy", 2);
    size_t i = 0;
    while (n.range && i < FLOE_ARRAY_LEN(ranges) && strcmp(n.range, ranges[i]) != 0)
        i++;
    if (i == FLOE_ARRAY_LEN(ranges))
        bad(L, r, "range is 1h, 6h, 1d, 1w, 1m or 1y");
    emit(L, r, &n);
}

/* ---- blocks and the page -------------------------------------------------------- */

static const struct {
    const char *key;
    block_fn fn;
} block_kinds[] = {
    {"heading", walk_heading}, {"text", walk_text}, {"section", walk_section},
    {"table", walk_table},     {"kv", walk_kv},     {"chart", walk_chart},
};

/* A block: a table with one kind key (and title, tone), or a string. */
static void walk_block(lua_State *L, render_ctx *r, int b, int depth)
{
    if (lua_type(L, b) == LUA_TSTRING) {
        walk_text(L, r, 0, b, depth);
        return;
    }
    if (!lua_istable(L, b))
        bad(L, r, "a block is a table like {text = \"...\"}, or a string");
    size_t kind = FLOE_ARRAY_LEN(block_kinds);
    lua_pushnil(L);
    while (lua_next(L, b) != 0) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
        size_t i = 0;
        while (i < FLOE_ARRAY_LEN(block_kinds) && strcmp(k, block_kinds[i].key) != 0)
            i++;
        if (i < FLOE_ARRAY_LEN(block_kinds) && kind < FLOE_ARRAY_LEN(block_kinds))
            bad(L, r, "a block is one of heading, text, section, table, kv or chart, not two");
        if (i < FLOE_ARRAY_LEN(block_kinds))
            kind = i;
        else if (strcmp(k, "title") != 0 && strcmp(k, "tone") != 0)
            bad(L, r, "unknown key '%s'", k);
    }
    if (kind == FLOE_ARRAY_LEN(block_kinds))
        bad(L, r, "a block needs one of heading, text, section, table, kv or chart");
    lua_getfield(L, b, block_kinds[kind].key);
    block_kinds[kind].fn(L, r, b, lua_gettop(L), depth);
}

static void walk_blocks(lua_State *L, render_ctx *r, int list, int depth)
{
    char saved[sizeof(r->where)];
    memcpy(saved, r->where, sizeof(saved));
    size_t n = lua_rawlen(L, list);
    for (size_t i = 1; i <= n; i++) {
        int top = lua_gettop(L);
        snprintf(r->where, sizeof(r->where), "%s%s%zu", saved, depth ? "." : ": block ", i);
        lua_rawgeti(L, list, (lua_Integer)i);
        walk_block(L, r, lua_gettop(L), depth);
        lua_settop(L, top);
    }
    memcpy(r->where, saved, sizeof(saved));
}

static void walk_page(lua_State *L, render_ctx *r, int t)
{
    static const char *const keys[] = {"title", "blocks"};
    if (!lua_istable(L, t))
        bad(L, r, "must return a table {title =, blocks = {...}}, not %s", luaL_typename(L, t));
    plug__only_keys(L, t, r->where, keys, FLOE_ARRAY_LEN(keys));
    lua_getfield(L, t, "title");
    const char *title = scalar_text(L, r, -1, "the title");
    if (title)
        snprintf(r->title, sizeof(r->title), "%s", title);
    lua_getfield(L, t, "blocks");
    if (!lua_istable(L, -1))
        bad(L, r, "blocks must be a list of blocks");
    walk_blocks(L, r, lua_gettop(L), 0);
}

static int render_protected(lua_State *L)
{
    render_ctx *r = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->pg->fn_ref);
    push_page_env(L, r->p, r->pg);
    lua_setupvalue(L, -2, 1); /* the chunk's _ENV: a fresh one per render */
    lua_call(L, 0, 1);
    walk_page(L, r, lua_gettop(L));
    return 0;
}

int floe_plugins_page(floe_plugins *P, const char *plugin, const char *page,
                      const floe_page_sink *sink, char *title, size_t titlelen, char *err,
                      size_t errlen)
{
    plug__plugin *p = loaded_plugin(P, plugin);
    plug__page *pg = NULL;
    for (size_t i = 0; p && !pg && i < p->n_pages; i++)
        if (strcmp(p->pages[i].key, page) == 0)
            pg = &p->pages[i];
    if (!pg || pg->fn_ref == LUA_NOREF) {
        snprintf(err, errlen, "no page %s/%s", plugin, page);
        return FLOE_ENOTFOUND;
    }
    render_ctx r;
    memset(&r, 0, sizeof(r));
    r.P = P;
    r.p = p;
    r.pg = pg;
    r.sink = sink;
    snprintf(r.where, sizeof(r.where), "web_gui/%s.lua", pg->key);
    snprintf(r.title, sizeof(r.title), "%s", pg->title);
    uint64_t t0 = uv_hrtime();
    lua_pushcfunction(p->sb.L, render_protected);
    lua_pushlightuserdata(p->sb.L, &r);
    int rc = floe_sandbox_call(&p->sb, 1, 0, P->o.insn_limit, err, errlen);
    pg->renders++;
    pg->ns += uv_hrtime() - t0;
    if (rc != 0) {
        pg->errors++;
        snprintf(pg->last_error, sizeof(pg->last_error), "%s", err);
        log_warn_rl(P->env.log, "plugins: %s: page %s: %s", p->name, pg->key, err);
        return FLOE_EINVAL;
    }
    snprintf(title, titlelen, "%s", r.title);
    return 0;
}
