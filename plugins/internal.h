/*
 * Internal to plugins/: the structures of the plugin engine and the
 * functions its files share. Nothing outside plugins/ includes this file.
 *
 *   load.c      discovery, manifests, definitions, checks; versions and reload
 *   conf.c      per-check configuration: declared types, overrides, persistence
 *   filter.c    the C side of check filters, and address sets from files
 *   dispatch.c  running hooks: flow events, periodic runs, budgets, failures
 *   luaflow.c   the flow userdata and its methods
 *   luaentity.c host, interface, network, exporter and system userdata
 *   luaapi.c    alerts, ts, log and floe tables; the engaged alert set
 *   json.c      JSON text to Lua values and back
 *   luaprobe.c  the probe table: service probes off the loop thread
 *   page.c      plugin pages: web_gui/menu.lua, page scripts, their rendering
 *   report.c    the API's JSON and /metrics
 *   watch.c     file watchers that trigger reloads
 */
#ifndef FLOE_PLUGINS_INTERNAL_H
#define FLOE_PLUGINS_INTERNAL_H

#include <lauxlib.h>

#include "plugins/plugins.h"
#include "probes/probes.h"

/* A plugin's name is at most 31 bytes, a key 47, and "plugin.key" must
 * fit an alert's type (63); the loader says so when one does not. */
#define PLUGIN_NAME_MAX 32
#define CHECK_KEY_MAX   48
#define FULL_KEY_MAX    (PLUGIN_NAME_MAX + CHECK_KEY_MAX)
#define TYPE_MAX        64
#define ERR_MAX         512
#define N_HOOKS         4 /* at most: flow hooks, or the four periods */
#define HIST_BUCKETS    8
#define PAGES_MAX       16 /* pages a plugin's menu may list */
#define PROBE_KEY_MAX   64

/* ---- address sets (filter.c) --------------------------------------------- */

/* Address ranges, sorted and merged, searched in halves. */
typedef struct plug__addrset {
    struct {
        uint64_t lo[2], hi[2];
    } * r;
    size_t n;
} plug__addrset;

/* Parses a list of addresses and CIDRs (one per line or item; # comments);
 * 0 or FLOE_EINVAL naming the line in err. */
int plug__addrset_parse(plug__addrset *s, const char *text, size_t len, char *err, size_t errlen);
int plug__addrset_add(plug__addrset *s, const char *item, char *err, size_t errlen);
void plug__addrset_finish(plug__addrset *s);
int plug__addrset_has(const plug__addrset *s, const floe_addr *a);
void plug__addrset_free(plug__addrset *s);

/* ---- filters (filter.c) -------------------------------------------------- */

enum { LOCAL_ANY, LOCAL_CLIENT, LOCAL_SERVER, LOCAL_EITHER, LOCAL_BOTH, LOCAL_NONE };

/* A file of addresses that a filter reads, shared by name, re-read when it
 * changes (watch.c polls it). */
typedef struct plug__listfile {
    char *path;
    plug__addrset set;
    uint64_t mtime_ns, size;
    int refs;
    char error[ERR_MAX];
    struct plug__listfile *next;
    void *poll; /* uv_fs_poll_t, when watched */
} plug__listfile;

typedef struct plug__filter {
    uint8_t l4[32]; /* bit per IP protocol; all set if none given */
    uint64_t *apps; /* bit per nDPI protocol id (app or master); NULL: any */
    uint64_t *cats; /* bit per nDPI category; NULL: any */
    size_t app_words, cat_words;
    uint8_t *ports;       /* server ports taken (bitmap); NULL: any */
    uint8_t *not_ports;   /* server ports left out (bitmap); NULL: none */
    int local;            /* LOCAL_* */
    uint64_t risks;       /* any of these risks; 0: no condition */
    int any_risk;         /* some risk, whichever */
    plug__addrset hosts;  /* either endpoint in it; n == 0: no condition */
    plug__listfile *file; /* either endpoint in the file's set */
    int entities_all;     /* host checks: every host, not only local ones */
    unsigned measured;    /* PLUG_MEASURED_* the flow must carry; 0: no condition */
} plug__filter;

/* What a filter's `measured` asks a flow to carry (exporters that measure). */
enum { PLUG_MEASURED_LATENCY = 1, PLUG_MEASURED_RETRANSMISSIONS = 2 };

/*
 * The union of an event's checks' filters, tested before the loop over
 * them: a flow that no check could want costs one pass over this. Each
 * check adds its most selective condition (applications, then categories,
 * then risks, then addresses); one with none of them sets `always`.
 */
#define PREFILTER_SETS 8
typedef struct plug__prefilter {
    int always;
    uint8_t l4[32];
    uint64_t *apps, *cats; /* bit per id; NULL: no check asks */
    size_t app_words, cat_words;
    uint64_t risks;
    int any_risk;
    const plug__addrset *sets[PREFILTER_SETS]; /* inline hosts and list files */
    size_t n_sets;
} plug__prefilter;

/* ---- checks, plugins, definitions ---------------------------------------- */

typedef struct plug__stats {
    uint64_t calls, errors, skipped, ns;
    uint64_t hist[HIST_BUCKETS]; /* <1us, <10us, <100us, <1ms, <10ms, <100ms, <1s, more */
} plug__stats;

enum check_state { CHECK_OK, CHECK_FAILED, CHECK_OFF };

typedef struct plug__check {
    struct plug__plugin *p;
    char key[CHECK_KEY_MAX];
    char full[FULL_KEY_MAX]; /* "plugin.key" */
    int kind;                /* enum floe_check_kind */
    char title[96];
    char description[256];
    int hook_ref[N_HOOKS];   /* registry refs of the hook functions; LUA_NOREF */
    unsigned hooks;          /* bit per hook with a function */
    uint32_t periodic_s;     /* periodicUpdate interval (flow checks) */
    int filter_ref;          /* the declared filter: a table or function(conf) */
    int schema_ref;          /* the declared config: {key = {type=, default=, ...}} */
    int conf_ref;            /* the config in effect: a table */
    int deltas_ref[N_HOOKS]; /* per hook: {prev = {}, cur = {}} for entity:delta() */
    plug__filter filter;
    int default_enabled;
    int enabled;       /* by its config */
    int state;         /* enum check_state */
    uint32_t failures; /* in a row */
    char last_error[ERR_MAX];
    char last_trace[1024];
    uint64_t last_error_ms;
    plug__stats st;
} plug__check;

typedef struct plug__status_def {
    char key[FULL_KEY_MAX]; /* "plugin.key" */
    char plugin[PLUGIN_NAME_MAX];
    char title[96];
    char description[256];
    uint16_t score;
    int32_t alert; /* alert definition id, -1 for none */
    int live;      /* defined by a loaded plugin */
    uint64_t sets; /* flows it was set on */
} plug__status_def;

typedef struct plug__alert_def {
    char key[FULL_KEY_MAX];
    char plugin[PLUGIN_NAME_MAX];
    char title[96];
    char description[256];
    int severity; /* enum floe_severity */
    uint32_t score;
    int entity; /* enum floe_entity, or -1: any */
    int live;
} plug__alert_def;

/* Userdata kinds: the entity a hook is called with. */
enum ud_kind { UD_FLOW, UD_HOST, UD_IFACE, UD_NET, UD_EXPORTER, UD_SYSTEM, UD_COUNT };

typedef struct plug__ud {
    int kind;  /* enum ud_kind */
    void *ptr; /* set only during a call */
} plug__ud;

/* A page of a plugin's menu: web_gui/<key>.lua, compiled at load. */
typedef struct plug__page {
    char key[CHECK_KEY_MAX];
    char title[64];
    int fn_ref; /* the compiled script, run at each render; LUA_NOREF */
    uint64_t renders, errors, ns;
    char last_error[ERR_MAX];
} plug__page;

/* A probe a plugin asked for, and its last result (luaprobe.c). */
typedef struct plug__probe {
    char key[PROBE_KEY_MAX];
    floe_probe_spec spec;
    floe_probe_result res;
    int has_result;
    int running; /* queued or running on the work queue */
    uint64_t starts, started_ms;
} plug__probe;

typedef struct plug__plugin {
    struct floe_plugins *P;
    char name[PLUGIN_NAME_MAX];
    char dir[1024];
    char title[96], description[256], author[96], version[32];
    char **deps;
    size_t n_deps;
    floe_sandbox sb;
    int loaded; /* a version is running */
    int failed; /* the last load or reload failed (see error) */
    char error[ERR_MAX];
    uint64_t loaded_ms;
    uint64_t files_sig; /* a hash of its files' names, sizes and mtimes */
    plug__check **checks;
    size_t n_checks;
    int state_ref;        /* the `state` table, kept across reloads */
    int ud_ref[UD_COUNT]; /* one userdata per kind, reused for every call */
    char menu_title[64];  /* web_gui/menu.lua; "" for no menu entry */
    char menu_icon[16];
    plug__page *pages; /* its pages, in menu order */
    size_t n_pages;
    plug__probe *probes; /* the probes it started, by key */
    size_t n_probes;
    struct floe_ts_schema *schemas; /* from ts_schemas/, owned */
    size_t n_schemas;
    int gone;    /* its folder disappeared */
    void *watch; /* watch.c's handles */
    uint64_t reloads;
    uint64_t log_window_ms; /* log.* rate limit */
    uint32_t log_count, log_suppressed;
} plug__plugin;

/* A periodic run in progress over one entity kind. */
typedef struct plug__job {
    int active;
    int period;
    size_t next; /* the next entity slot */
    size_t done; /* entities visited */
    uint64_t started_ms;
} plug__job;

/* One engaged alert (luaapi.c). */
typedef struct plug__engaged {
    floe_hnode node;
    int32_t def; /* alert definition id */
    int entity;  /* enum floe_entity */
    char value[128];
    char check[CHECK_KEY_MAX];
    int severity;
    uint32_t score;
    uint64_t since_ms, seen_ms;
} plug__engaged;

struct floe_plugins {
    floe_plugins_opts o;
    floe_plugins_env env;
    char **dirs;
    size_t n_dirs;
    char *only;
    plug__plugin **plugins;
    size_t n_plugins;
    /* Definitions, by id; an id stays with its key across reloads. */
    plug__status_def *statuses;
    size_t n_statuses, cap_statuses;
    plug__alert_def *alerts;
    size_t n_alerts,
        cap_alerts; /* Flow hooks: the enabled checks of each flow event, in load order. */
    plug__check **flow_hooks[FLOE_EV_COUNT];
    size_t n_flow_hooks[FLOE_EV_COUNT];
    plug__prefilter pre[FLOE_EV_COUNT];
    unsigned wanted;
    uint64_t periodic_ms;
    /* Periodic runs, by check kind. */
    plug__job jobs[FLOE_CHECK_KIND_COUNT][N_HOOKS];
    /* The time share (live): nanoseconds Lua may still use this second. */
    int64_t tokens;
    uint64_t token_second;
    uint64_t now_ms;
    plug__check *cur; /* the check running now, and its hook */
    int cur_hook;
    int hooks_dirty; /* a check was disabled during a dispatch: rebuild after it */
    uint64_t jobs_overrun;
    int jobs_pending; /* a job may be active: floe_plugins_run has work */
    floe_plugin_exporter exporter_snap;
    floe_plugin_system system_snap;
    floe_hmap engaged;
    uint64_t alerts_raised, alerts_dropped;
    plug__listfile *files;
    uint64_t reloads, reload_failures;
    void *watch;         /* watch.c's handles for the roots */
    char *conf_state;    /* persisted API config: JSON text */
    char *conf_file;     /* from the config file: JSON text */
    floe_probes *probeq; /* live: the probes of every plugin; NULL until one starts */
    uint64_t probes_done;
};

/* ---- shared functions ------------------------------------------------------ */

/* json.c: pushes the JSON text's value; 0, or FLOE_EINVAL with the reason. */
int plug__json_push(lua_State *L, const char *text, size_t len, char *err, size_t errlen);
/* Writes the Lua value at idx as JSON (tables with keys 1..n as arrays; other
 * keys as strings; functions and userdata as null; depth bounded). */
void plug__json_write(lua_State *L, int idx, floe_json *j);
/* The same into a fresh string (free it), or NULL. It may raise a memory
 * error: call it in protected mode, or use the _safe form. */
char *plug__json_string(lua_State *L, int idx);
char *plug__json_string_safe(lua_State *L, int idx);

/* load.c */
int plug__load_all(floe_plugins *P);
/* A file's text (at most 1 MiB), NUL-terminated, to free; NULL if it
 * cannot be read. */
char *plug__read_file(const char *path, size_t *len);
/* 1 for a key: letters, digits and '_', 1 to 47 bytes. */
int plug__valid_key(const char *s);
/* Raises an error naming rel and the key for any key of the table at idx
 * not in keys. */
void plug__only_keys(lua_State *L, int idx, const char *rel, const char *const *keys, size_t n);
void plug__plugin_free(floe_plugins *P, plug__plugin *p);
int32_t plug__status_lookup(const floe_plugins *P, const char *plugin, const char *key);
int32_t plug__alert_lookup(const floe_plugins *P, const char *plugin, const char *key);
/* Rebuilds the flow hook lists and the wanted mask from the enabled checks. */
void plug__rebuild_hooks(floe_plugins *P);
/* Pushes a new environment for a plugin's scripts: the sandbox's globals,
 * the API tables, and the plugin's state. */
void plug__push_env(plug__plugin *p);

/* conf.c */
/* Checks one declared setting (a table at decl): a known type and a valid
 * default. 0, or -1 with the reason in why. */
int plug__conf_decl_ok(lua_State *L, int decl, char *why, size_t whylen);
/* Builds the check's config in effect from its declaration and the
 * overrides (config file, then API); 0 or FLOE_EINVAL with the reason. */
int plug__conf_build(floe_plugins *P, plug__check *c, char *err, size_t errlen);
/* Checks a JSON object of settings against the check's declaration:
 * every key declared (or "enabled"), every value of its type. */
int plug__conf_check(floe_plugins *P, plug__check *c, const char *json, size_t len, char *err,
                     size_t errlen);
/* Writes the persisted overrides to opts.state_path. */
void plug__conf_save(floe_plugins *P);

/* filter.c */
/* Compiles the check's declared filter against its config in effect. */
int plug__filter_build(floe_plugins *P, plug__check *c, char *err, size_t errlen);
void plug__filter_free(floe_plugins *P, plug__filter *f);
int plug__filter_flow(const floe_plugins *P, const plug__filter *f, const floe_flow *fl);
void plug__listfile_reload(floe_plugins *P, plug__listfile *lf);
/* Adds a check's filter to an event's prefilter; frees one. */
void plug__prefilter_add(plug__prefilter *pf, const plug__filter *f);
void plug__prefilter_free(plug__prefilter *pf);
/* Is either end of the flow in the set? */
int plug__flow_in_set(const plug__addrset *s, const floe_flow *fl);

/* Is id's bit set in a bitmap of words 64-bit words (ids past it: no)? */
static inline int plug__app_in(const uint64_t *map, size_t words, uint16_t id)
{
    return (size_t)id / 64 < words && ((map[id / 64] >> (id % 64)) & 1);
}

/* Could any check on the event want the flow? Inline, since the answer is
 * nearly always no and comes on every flow's events. */
static inline int plug__prefilter_flow(const plug__prefilter *pf, const floe_flow *fl)
{
    if (!((pf->l4[fl->key.ipproto / 8] >> (fl->key.ipproto % 8)) & 1))
        return 0;
    if (pf->always)
        return 1;
    if (pf->apps && (plug__app_in(pf->apps, pf->app_words, fl->app.app) ||
                     plug__app_in(pf->apps, pf->app_words, fl->app.master)))
        return 1;
    if (pf->cats && plug__app_in(pf->cats, pf->cat_words, fl->app.category))
        return 1;
    if (fl->risk && (pf->any_risk || (fl->risk & pf->risks)))
        return 1;
    for (size_t i = 0; i < pf->n_sets; i++)
        if (pf->sets[i]->n && plug__flow_in_set(pf->sets[i], fl))
            return 1;
    return 0;
}
void plug__listfiles_free(floe_plugins *P);

/* dispatch.c */
/* Calls the check's hook with the entity userdata of kind set to ptr.
 * Returns 0 if it ran clean. */
int plug__call(floe_plugins *P, plug__check *c, int hook, int ud_kind, void *ptr);
void plug__jobs_cancel(floe_plugins *P);
/* Starts a new run of the check's hook for entity:delta(): this run's
 * values become the previous ones. */
void plug__deltas_rotate(plug__check *c, int hook);

/* luaflow.c, luaentity.c, luaapi.c: the API in each plugin state. */
void plug__flow_api(plug__plugin *p);
void plug__entity_api(plug__plugin *p);
int plug__api_open(plug__plugin *p);
/* luaapi.c's ts table (in protected mode). */
void plug__ts_api(lua_State *L, plug__plugin *p);
/* The entity type and value of the userdata or descriptor at idx. */
int plug__entity_of(lua_State *L, int idx, int *type, char *value, size_t len);
/* The flow of the flow userdata at idx, or an error is raised. */
floe_flow *plug__check_flow(lua_State *L, int idx);
void plug__engaged_free(floe_plugins *P);
/* Releases the engaged alerts a check raised (it was turned off). */
void plug__engaged_release_check(floe_plugins *P, const plug__check *c);
/* Raises a flow alert for a status that names one. */
void plug__status_alert(floe_plugins *P, const plug__status_def *sd, const floe_flow *f,
                        const char *info);

/* luaprobe.c: the probe and probe_read (for pages) tables in the registry. */
void plug__probe_api(lua_State *L, plug__plugin *p);
void plug__probes_free(plug__plugin *p);
/* Frees the queue; running probes are discarded when they end. */
void plug__probeq_free(floe_plugins *P);

/* page.c */
/* In protected mode, part of reading a version: web_gui/menu.lua checked
 * (title, icon, pages or a single page) and each page's script compiled,
 * into the arrays given (pages: at most PAGES_MAX). */
void plug__menu_read(lua_State *L, plug__plugin *p, int idx, char *title, size_t titlelen,
                     char *icon, size_t iconlen, plug__page *pages, size_t *n_pages);
/* Releases the pages' compiled scripts. */
void plug__pages_unref(plug__plugin *p, plug__page *pages, size_t n);

/* luaentity.c: a host's counters as a plain table (ip, local, network and
 * every getter's value), pushed. */
void plug__push_host(lua_State *L, floe_plugins *P, const floe_host *h);

/* report.c */
unsigned floe_plugins_failed_count(const floe_plugins *P);

/* watch.c */
void plug__watch_roots(floe_plugins *P);
void plug__watch_plugin(floe_plugins *P, plug__plugin *p);
void plug__unwatch_plugin(plug__plugin *p);
void plug__watch_listfile(floe_plugins *P, plug__listfile *lf);
void plug__watch_free(floe_plugins *P);

/* The plugin running now (the upvalue of every API function). */
static inline plug__plugin *plug__self(lua_State *L)
{
    return (plug__plugin *)lua_touserdata(L, lua_upvalueindex(1));
}

#endif
