/*
 * plugins: floe's Lua runtime. The sandbox that every piece of user Lua
 * runs in (the config file and the plugins), and the plugin engine: the
 * loader, the hooks and their filters, the flow, entity, alert, timeseries
 * and log APIs that checks call, reload, and the accounting of what each
 * check costs. docs/plugins.md is the user's side of it.
 */
#ifndef FLOE_PLUGINS_H
#define FLOE_PLUGINS_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "tables/tables.h"
#include "util/util.h"

/* ---- the sandbox -------------------------------------------------------- */

/*
 * One Lua state with a memory cap and an instruction budget per call.
 *   - Memory: every allocation goes through a capping allocator; past
 *     mem_limit bytes it fails, which Lua raises as a memory error.
 *   - Time: a count hook charges instructions to the running call's
 *     budget; past it, the call fails with FLOE_ELIMIT (again and again if
 *     the script catches the error, so pcall cannot escape it). C functions
 *     are not interrupted: they run to completion.
 *   - Reach: floe_sandbox_push_env makes an environment with only pure
 *     functions and copies of string, table, math and utf8; string.dump is
 *     gone and the string metatable is hidden. No io, os, debug, require,
 *     load or dofile. Code loads as text only (bytecode is refused).
 */
typedef struct floe_sandbox {
    lua_State *L;
    size_t mem_limit;      /* bytes */
    size_t used, peak;     /* bytes now, and the most ever */
    uint64_t mem_refusals; /* allocations refused at the cap */
    uint64_t insn_budget;  /* of the running call; 0: none */
    uint64_t insn_used;    /* by the running call, in steps of the hook */
    int insn_exceeded;
    char trace[2048]; /* the last error with its traceback */
} floe_sandbox;

/* Opens a state. 0, or FLOE_ENOMEM with a reason in err. */
int floe_sandbox_open(floe_sandbox *sb, size_t mem_limit, char *err, size_t errlen);
/* Closes the state; safe to call twice. */
void floe_sandbox_close(floe_sandbox *sb);
/* Pushes a new environment table holding the safe globals. */
void floe_sandbox_push_env(floe_sandbox *sb);
/*
 * Loads text (never bytecode) as a function whose _ENV is the table at
 * index env, and pushes it. name is used in messages. 0, or FLOE_ECONFIG
 * with Lua's message (file:line: ...) in err and nothing pushed.
 */
int floe_sandbox_load(floe_sandbox *sb, const char *text, size_t len, const char *name, int env,
                      char *err, size_t errlen);
/*
 * Calls the function below the nargs arguments on the stack, as lua_pcall,
 * with insn_budget instructions (0: no limit). 0 with nresults pushed; or
 * FLOE_ELIMIT (budget spent), FLOE_ENOMEM (memory cap) or FLOE_EINVAL (a
 * runtime error), with the message (one line) in err, the message with
 * its traceback in sb->trace, and nothing pushed.
 */
int floe_sandbox_call(floe_sandbox *sb, int nargs, int nresults, uint64_t insn_budget, char *err,
                      size_t errlen);

/* The Lua value at idx as JSON text (tables with keys 1..n as arrays),
 * in a fresh string to free, or NULL. Safe outside protected mode. */
char *floe_plugins_lua_json(lua_State *L, int idx);

/* ---- the plugin engine -------------------------------------------------- */

/*
 * Plugins are folders in the ntopng 4.x shape (manifest.lua,
 * alert_definitions/, status_definitions/, checks/<kind>/, ts_schemas/,
 * web_gui/, tests/; docs/plugins.md). Each plugin runs in a sandbox of its
 * own (memory cap per plugin, instruction budget per call). Checks declare
 * filters that are evaluated here in C, so a check whose filter does not
 * match a flow costs no Lua call. Flow hooks run on the loop thread when
 * the tables fire them; periodic hooks (min, 5mins, hour, day) run over
 * hosts, interfaces, networks, exporters and the system in slices between
 * turns of the loop. Live, Lua gets a share of the loop's time; past it,
 * runs are skipped and counted per check. A check that fails (error,
 * budget, memory) max_failures times in a row is disabled with its error
 * kept; a plugin that fails to load, or to reload, is disabled or kept at
 * its running version, with the reason kept. All of it on one thread.
 */

/* Kinds of checks: checks/<name>/ (kinds.def). */
enum floe_check_kind {
#define KIND(id, name, entity) FLOE_CHECK_##id,
#include "plugins/kinds.def"
#undef KIND
    FLOE_CHECK_KIND_COUNT
};
const char *floe_check_kind_name(int kind);

struct floe_alert;
struct floe_ts_schema;
struct uv_loop_s;

/* What a check can see of an exporter; the engine fills it on demand. */
typedef struct floe_plugin_exporter {
    uint64_t id;
    floe_addr addr;
    uint32_t domain;
    const char *proto; /* "v5", "v9", "ipfix", "sflow" */
    uint32_t sampling;
    uint64_t first_seen_ms, last_seen_ms;
    uint64_t datagrams, records, malformed, lost, missing_template, templates, seq_gaps;
} floe_plugin_exporter;

/* What a system check can see. */
typedef struct floe_plugin_system {
    uint64_t uptime_s;
    uint64_t datagrams, records, malformed, dropped, lost, socket_drops;
    uint64_t exporters, flows, hosts, interfaces;
    uint64_t flows_created, flows_ended, flow_evictions, host_full;
} floe_plugin_system;

/*
 * The world the plugins run in, lent by their owner (the engine, or the
 * plugin test runner). Every callback may be NULL.
 */
typedef struct floe_plugins_env {
    floe_tables *tables; /* NULL: no flow, host, interface or network checks */
    floe_log *log;
    struct uv_loop_s *loop; /* NULL: no file watching, no work off the thread */
    int live;               /* 1: the wall clock and the loop's time share; 0: offline,
                             * every run runs (a replay does what the daemon would) */
    void *ud;
    /* Alert events: engage, release and one-shot. */
    void (*alert)(void *ud, const struct floe_alert *a);
    /* Timeseries: a schema from a plugin's ts_schemas/, and points. values
     * follow the schema's metrics, tag_values its tags. */
    int (*ts_define)(void *ud, const struct floe_ts_schema *s, char *err, size_t errlen);
    void (*ts_append)(void *ud, const char *schema, const char *const *tag_values,
                      const double *values, size_t n_values, uint64_t when_s);
    /* The exporter at index i (0, 1, ...): 0 and *out filled, or nonzero past the end. */
    int (*exporter_at)(void *ud, size_t i, floe_plugin_exporter *out);
    void (*system)(void *ud, floe_plugin_system *out);
} floe_plugins_env;

typedef struct floe_plugins_opts {
    char *const *dirs; /* plugin roots, each holding plugin folders; built-ins first */
    size_t n_dirs;
    const char *only;        /* load only the plugin of this name; NULL: all */
    const char *state_path;  /* where API config changes persist; NULL: not kept */
    const char *checks_json; /* per-check config from the config file: a JSON object
                              * {"plugin.check": {"key": value, ...}}; NULL: none */
    size_t mem_limit;        /* bytes per plugin */
    uint64_t insn_limit;     /* instructions per call */
    uint32_t max_failures;   /* in a row, before a check is disabled */
    uint32_t cpu_share;      /* percent of the loop's time for Lua, live */
    uint32_t max_engaged;    /* engaged alerts kept */
} floe_plugins_opts;

typedef struct floe_plugins floe_plugins;

void floe_plugins_opts_defaults(floe_plugins_opts *o);
/*
 * Loads every plugin folder under the roots. A plugin that cannot load is
 * kept disabled with a one-line reason (shown by floe_plugins_json); the
 * others load. Returns NULL only on allocation failure (err says so). With
 * env->loop, plugin folders are watched and reloaded when edited.
 */
floe_plugins *floe_plugins_new(const floe_plugins_opts *o, const floe_plugins_env *env, char *err,
                               size_t errlen);
void floe_plugins_free(floe_plugins *P);
/* Stops watching files and closes every handle on the loop; nothing is
 * watched from then on (shutdown). */
void floe_plugins_release_loop(floe_plugins *P);
/* Moves the plugins' clock (what floe.now() says, what alerts carry). */
void floe_plugins_set_clock(floe_plugins *P, uint64_t now_ms);
/* Flow events from the tables (floe_flow_hooks.event). */
void floe_plugins_flow_event(void *P, int ev, floe_flow *f);
/* The flow events some enabled check wants: for floe_flow_hooks.wanted. */
unsigned floe_plugins_wanted(const floe_plugins *P);
/* The shortest periodicUpdate interval a check asks for, in ms; 0: none. */
uint64_t floe_plugins_periodic_ms(const floe_plugins *P);
/* A scheduler tick: starts the period's runs over every entity kind. */
void floe_plugins_tick(floe_plugins *P, int period, uint64_t boundary_ms);
/*
 * Runs pending periodic work for up to budget_ns of time (live) or to the
 * end (budget_ns 0: offline, or a replay's end). Returns 1 while work
 * remains.
 */
int floe_plugins_run(floe_plugins *P, uint64_t budget_ns);
/*
 * Reloads plugins whose files changed (all with force), adds new plugin
 * folders and drops removed ones. A plugin whose new version fails keeps
 * running its old one, and the reason is kept. Returns the number of
 * plugins that failed.
 */
int floe_plugins_reload(floe_plugins *P, int force);
/*
 * Changes one check's configuration from a JSON object (the keys it
 * declares, and "enabled"), validated against the declared types; applied
 * at once and kept in opts.state_path. 0, or FLOE_ENOTFOUND (no such
 * check) / FLOE_EINVAL with a one-line reason naming the key.
 */
int floe_plugins_configure(floe_plugins *P, const char *plugin, const char *check, const char *json,
                           size_t len, char *err, size_t errlen);
/* Puts an alert that the store says is engaged back into the engaged set
 * (at start-up), so that a release after a restart closes it. An alert
 * whose type no plugin defines any more is released at once:
 * FLOE_ENOTFOUND. */
int floe_plugins_engaged_restore(floe_plugins *P, const struct floe_alert *a);
/* A reloaded config's per-check settings (opts.checks_json): every check's
 * config is rebuilt when they changed. */
void floe_plugins_set_checks_json(floe_plugins *P, const char *json);
/* The schema of that full name a plugin defined, or NULL. */
const struct floe_ts_schema *floe_plugins_schema(const floe_plugins *P, const char *name);
/* A status key's id ("plugin.key"), or -1; and an id's key, or NULL. */
int32_t floe_plugins_status_id(const floe_plugins *P, const char *key);
const char *floe_plugins_status_key(void *P, uint32_t id);
/* How many flows status id was set on since start. */
uint64_t floe_plugins_status_count(const floe_plugins *P, uint32_t id);
/* GET /api/v1/plugins: every plugin and check, with state, errors, calls,
 * skipped runs, time histogram and configuration. */
void floe_plugins_json(floe_plugins *P, floe_json *j);
/* One plugin or check as above; FLOE_ENOTFOUND if there is none. */
int floe_plugins_check_json(floe_plugins *P, const char *plugin, const char *check, floe_json *j);
/* Prometheus counters per check. */
void floe_plugins_metrics(floe_plugins *P, floe_buf *b);
/* Totals for the status page. */
typedef struct floe_plugins_stats {
    uint32_t plugins, plugins_failed, checks, checks_disabled;
    uint64_t calls, errors, skipped, ns;
    uint64_t alerts_engaged, alerts_raised, alerts_dropped;
    uint64_t reloads, reload_failures;
} floe_plugins_stats;
void floe_plugins_stats_get(const floe_plugins *P, floe_plugins_stats *st);

/* ---- plugin pages (page.c) ------------------------------------------------ */

/*
 * A plugin's web_gui/menu.lua adds one entry to the web UI's nav bar and
 * lists its pages; each page is web_gui/<key>.lua, a script that returns a
 * table of blocks (docs/plugins.md, "Pages"). The engine runs the script
 * in the plugin's own sandbox, under its instruction budget and memory
 * cap, with read-only helpers (state, probe results, tables, settings),
 * checks the table it returns, and walks it as a sequence of nodes for
 * the web server to render. A script never writes markup: the renderer
 * escapes every string it is given.
 */
typedef struct floe_plugin_menu {
    char plugin[32];
    char title[64];
    char icon[16];       /* a short text shown before the title, or "" */
    char first_page[48]; /* the page the entry links to */
    size_t n_pages;
} floe_plugin_menu;

typedef struct floe_plugin_page_info {
    char key[48];
    char title[64];
} floe_plugin_page_info;

/* The menu entries of the loaded plugins, in load order: at most max,
 * returns how many. */
size_t floe_plugins_menu(const floe_plugins *P, floe_plugin_menu *out, size_t max);
/* A loaded plugin's pages in menu order: at most max; 0 if none. */
size_t floe_plugins_pages(const floe_plugins *P, const char *plugin, floe_plugin_page_info *out,
                          size_t max);

/*
 * X(ID): what a page is made of, in document order, and the fields of
 * floe_page_node each one uses:
 *   HEADING text; TEXT text, tone; SECTION title (a card around the nodes
 *   up to SECTION_END); TABLE title, text (what it says without rows);
 *   COLUMN text, numeric; ROW; CELL text, href, tone, numeric; ROW_END;
 *   TABLE_END rows (how many there were); KV title (a list of key and value
 *   pairs); KV_ITEM key, text, href, tone; KV_END; CHART title, schema,
 *   tags, unit, range.
 */
#define FLOE_PAGE_NODES(X)                                                                         \
    X(HEADING)                                                                                     \
    X(TEXT)                                                                                        \
    X(SECTION)                                                                                     \
    X(SECTION_END)                                                                                 \
    X(TABLE)                                                                                       \
    X(COLUMN)                                                                                      \
    X(ROW)                                                                                         \
    X(CELL)                                                                                        \
    X(ROW_END)                                                                                     \
    X(TABLE_END)                                                                                   \
    X(KV)                                                                                          \
    X(KV_ITEM)                                                                                     \
    X(KV_END)                                                                                      \
    X(CHART)
enum floe_page_node_type {
#define X(id) FLOE_PAGE_##id,
    FLOE_PAGE_NODES(X)
#undef X
        FLOE_PAGE_NODE_COUNT
};

/* One node. Strings are plain text (the renderer escapes them), valid
 * during the sink's call; NULL when absent. */
typedef struct floe_page_node {
    int type;  /* enum floe_page_node_type */
    int depth; /* sections open around it */
    const char *title;
    const char *text;
    const char *key;
    const char *href; /* a path on this server ("/hosts/10.0.0.1"), checked */
    const char *tone; /* "ok", "warn", "bad" or "muted" */
    int numeric;
    size_t rows;
    const char *schema, *tags, *unit, *range; /* tags: values in the schema's order,
                                               * comma-separated */
} floe_page_node;

typedef struct floe_page_sink {
    void (*node)(void *ud, const floe_page_node *n);
    void *ud;
} floe_page_sink;

/*
 * Renders page `page` of plugin `plugin`: runs its script, checks what it
 * returns and hands every node to sink in order, then puts the page's
 * title in title. Returns 0; FLOE_ENOTFOUND (no such loaded plugin or
 * page); or FLOE_EINVAL (the script failed, ran out of instructions or
 * memory, or returned something that is not a page) with a one-line
 * reason in err, after which the nodes already given must be discarded.
 * On the loop thread; bounded by the plugin's instruction budget, plus a
 * cap on nodes and text.
 */
int floe_plugins_page(floe_plugins *P, const char *plugin, const char *page,
                      const floe_page_sink *sink, char *title, size_t titlelen, char *err,
                      size_t errlen);

/* ---- offline probes (floe plugin test) ---------------------------------------- */

/*
 * Offline no probe runs (docs/plugins.md, "Probes"); probe.start records
 * what was asked. floe_plugins_probe_requests pushes onto L (the caller's
 * state) a table {key = {kind =, host =, port =, timeout_ms =,
 * server_name =, starts =, at =}} of the plugin's requests so far;
 * floe_plugins_probe_feed takes a result for one of its keys from the
 * table at idx of L, in the shape probe.results() gives ({ok =, rtt_ms =,
 * error =, at =, cert = {status =, days_left =, subject =, issuer =},
 * server_version =}). Both may raise errors in L (call them from a C
 * function of L's). feed returns 0, or FLOE_ENOTFOUND for no such plugin
 * (or no room for another key).
 */
void floe_plugins_probe_requests(floe_plugins *P, const char *plugin, lua_State *L);
int floe_plugins_probe_feed(floe_plugins *P, const char *plugin, const char *key, lua_State *L,
                            int idx);

#endif /* FLOE_PLUGINS_H */
