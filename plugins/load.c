/*
 * Loading plugins. A plugin is a folder with a manifest.lua; every file of
 * it is Lua that returns a table, run in the plugin's own sandbox under the
 * instruction budget. A version (manifest, definitions, checks) is read
 * whole into new objects first; only when all of it is good does it replace
 * the running version, so a broken edit keeps the old version running and
 * says why. Status and alert keys are namespaced by plugin ("plugin.key")
 * and keep their numbers across reloads, so flows that carry a status keep
 * meaning the same one. Everything that touches a Lua state runs in
 * protected mode, so a plugin at its memory cap cannot bring floe down.
 */
#include "plugins/internal.h"

#include "alerts/alerts.h"
#include "rrd/rrd.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define FILE_MAX (1u << 20)

/* ---- files ---------------------------------------------------------------- */

char *plug__read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, FILE_MAX + 1, f) : 0;
    int bad = !buf || ferror(f) || n > FILE_MAX;
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir that end in suffix (or are folders, with suffix NULL),
 * sorted; NULL-terminated; free with free_names. */
static char **list_dir(const char *dir, const char *suffix, size_t *n_out)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.')
            continue;
        if (suffix) {
            size_t sl = strlen(suffix);
            if (len <= sl || strcmp(e->d_name + len - sl, suffix) != 0)
                continue;
        } else {
            char path[2048];
            struct stat st;
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
                continue;
        }
        char **grown = realloc(names, (n + 2) * sizeof(*names));
        if (!grown)
            break;
        names = grown;
        if (!(names[n] = strdup(e->d_name)))
            break;
        names[++n] = NULL;
    }
    if (d)
        closedir(d);
    if (names)
        qsort(names, n, sizeof(*names), name_cmp);
    *n_out = n;
    return names;
}

static void free_names(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

/* The folders whose files make up a plugin version. */
static const char *const plugin_dirs[] = {
    "",
    "alert_definitions",
    "status_definitions",
    "checks/flow",
    "checks/host",
    "checks/interface",
    "checks/network",
    "checks/exporter",
    "checks/system",
    "ts_schemas",
    "web_gui",
};

/* A hash of the names, sizes and times of a plugin's .lua files: a
 * reload rereads a plugin only when it changed. */
static uint64_t files_signature(const char *dir)
{
    uint64_t h = 0x6c6f6164ULL;
    for (size_t i = 0; i < FLOE_ARRAY_LEN(plugin_dirs); i++) {
        char sub[1100];
        size_t n;
        snprintf(sub, sizeof(sub), "%s/%s", dir, plugin_dirs[i]);
        char **names = list_dir(sub, ".lua", &n);
        for (size_t k = 0; k < n; k++) {
            char path[2048];
            struct stat st;
            snprintf(path, sizeof(path), "%s/%s", sub, names[k]);
            uint64_t w[4] = {floe_hash(path, strlen(path), 1), 0, 0, 0};
            if (stat(path, &st) == 0) {
                w[1] = (uint64_t)st.st_size;
                w[2] = (uint64_t)st.st_mtim.tv_sec;
                w[3] = (uint64_t)st.st_mtim.tv_nsec;
            }
            h = floe_hash(w, sizeof(w), h);
        }
        free_names(names);
    }
    return h;
}

/* ---- reading scripts (protected mode) --------------------------------------- */

/* Runs a file of the plugin in a fresh environment and pushes what it
 * returns, which must be a table. */
static void run_file(lua_State *L, plug__plugin *p, const char *rel)
{
    char path[2048], err[ERR_MAX];
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", p->dir, rel);
    char *text = plug__read_file(path, &len);
    len = text ? len : 0;
    if (!text)
        luaL_error(L, "%s: cannot read it (or over 1 MiB)", rel);
    plug__push_env(p);
    int rc = floe_sandbox_load(&p->sb, text, len, rel, -1, err, sizeof(err));
    free(text);
    if (rc != 0)
        luaL_error(L, "%s", err);
    lua_remove(L, -2); /* the environment */
    if (floe_sandbox_call(&p->sb, 0, 1, p->P->o.insn_limit, err, sizeof(err)) != 0)
        luaL_error(L, "%s", err);
    if (!lua_istable(L, -1))
        luaL_error(L, "%s: must return a table, not %s", rel, luaL_typename(L, -1));
}

/* Raises an error for any key of the table at idx not in keys. */
void plug__only_keys(lua_State *L, int idx, const char *rel, const char *const *keys, size_t n)
{
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        size_t i = 0;
        while (k && i < n && strcmp(k, keys[i]) != 0)
            i++;
        if (!k || i == n)
            luaL_error(L, "%s: unknown key '%s'", rel, k ? k : luaL_typename(L, -1));
    }
}

/* Copies the string at key (if present) into dst. */
static void opt_string(lua_State *L, int idx, const char *key, char *dst, size_t size,
                       const char *rel)
{
    lua_getfield(L, idx, key);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: key '%s' must be a string", rel, key);
        snprintf(dst, size, "%s", lua_tostring(L, -1));
    }
    lua_pop(L, 1);
}

static lua_Integer opt_int(lua_State *L, int idx, const char *key, lua_Integer def, lua_Integer min,
                           lua_Integer max, const char *rel)
{
    lua_getfield(L, idx, key);
    lua_Integer v = def;
    if (!lua_isnil(L, -1)) {
        int ok = 0;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok || v < min || v > max)
            luaL_error(L, "%s: key '%s' must be an integer from %d to %d", rel, key, (int)min,
                       (int)max);
    }
    lua_pop(L, 1);
    return v;
}

static int opt_bool(lua_State *L, int idx, const char *key, int def, const char *rel)
{
    lua_getfield(L, idx, key);
    int v = def;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TBOOLEAN)
            luaL_error(L, "%s: key '%s' must be true or false", rel, key);
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* A key: letters, digits and '_', 1..47 bytes. */
int plug__valid_key(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
              (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
            return 0;
    return n > 0 && n < CHECK_KEY_MAX;
}

/* The key of a definition: its `key`, or the file's stem. */
static void def_key(lua_State *L, int idx, const char *stem, const char *plugin, char *key,
                    size_t size, const char *rel)
{
    lua_getfield(L, idx, "key");
    const char *k = lua_isnil(L, -1) ? stem : lua_tostring(L, -1);
    if (!k || !plug__valid_key(k) || strlen(plugin) + 1 + strlen(k) >= TYPE_MAX)
        luaL_error(L, "%s: key '%s' must be letters, digits and '_', and '%s.%s' under %d bytes",
                   rel, k ? k : "?", plugin, k ? k : "?", TYPE_MAX);
    snprintf(key, size, "%s", k);
    lua_pop(L, 1);
}

/* ---- a version ----------------------------------------------------------- */

typedef struct pending_status {
    plug__status_def d;
    char alert_key[FULL_KEY_MAX];
} pending_status;

typedef struct version {
    plug__plugin *p;
    char title[96], description[256], author[96], version[32];
    char **deps;
    size_t n_deps;
    pending_status *statuses;
    size_t n_statuses;
    plug__alert_def *alerts;
    size_t n_alerts;
    plug__check **checks;
    size_t n_checks;
    char menu_title[64], menu_icon[16];
    plug__page pages[PAGES_MAX];
    size_t n_pages;
    floe_ts_schema *schemas;
    size_t n_schemas;
} version;

static void *grow(lua_State *L, void *array, size_t n, size_t size)
{
    void *grown = realloc(array, (n + 1) * size);
    if (!grown)
        luaL_error(L, "out of memory");
    memset((char *)grown + n * size, 0, size);
    return grown;
}

static void read_manifest(lua_State *L, version *v)
{
    static const char *const keys[] = {"name",   "title",   "description",
                                       "author", "version", "dependencies"};
    run_file(L, v->p, "manifest.lua");
    int t = lua_gettop(L);
    plug__only_keys(L, t, "manifest.lua", keys, FLOE_ARRAY_LEN(keys));
    char name[PLUGIN_NAME_MAX] = "";
    opt_string(L, t, "name", name, sizeof(name), "manifest.lua");
    if (name[0] && strcmp(name, v->p->name) != 0)
        luaL_error(L, "manifest.lua: name '%s' is not the folder's name '%s'", name, v->p->name);
    snprintf(v->title, sizeof(v->title), "%s", v->p->name);
    opt_string(L, t, "title", v->title, sizeof(v->title), "manifest.lua");
    opt_string(L, t, "description", v->description, sizeof(v->description), "manifest.lua");
    opt_string(L, t, "author", v->author, sizeof(v->author), "manifest.lua");
    opt_string(L, t, "version", v->version, sizeof(v->version), "manifest.lua");
    lua_getfield(L, t, "dependencies");
    if (!lua_isnil(L, -1) && !lua_istable(L, -1))
        luaL_error(L, "manifest.lua: key 'dependencies' must be a list of plugin names");
    for (lua_Integer i = 1; lua_istable(L, -1) && i <= (lua_Integer)lua_rawlen(L, -1); i++) {
        lua_rawgeti(L, -1, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "manifest.lua: dependency %d must be a plugin name", (int)i);
        v->deps = grow(L, v->deps, v->n_deps, sizeof(*v->deps));
        if (!(v->deps[v->n_deps++] = strdup(lua_tostring(L, -1))))
            luaL_error(L, "out of memory");
        lua_pop(L, 1);
    }
    lua_settop(L, t - 1);
}

/* Calls fn for the table at the top, or for each table of a list there
 * (a file may define several, e.g. one per nDPI risk). */
static void each_def(lua_State *L, version *v, const char *rel, const char *stem,
                     void (*fn)(lua_State *L, version *v, int idx, const char *rel,
                                const char *stem))
{
    int t = lua_gettop(L);
    lua_rawgeti(L, t, 1);
    int list = lua_istable(L, -1);
    lua_pop(L, 1);
    if (!list) {
        fn(L, v, t, rel, stem);
        return;
    }
    for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, t); i++) {
        lua_rawgeti(L, t, i);
        if (!lua_istable(L, -1))
            luaL_error(L, "%s: item %d must be a table", rel, (int)i);
        fn(L, v, lua_gettop(L), rel, NULL);
        lua_pop(L, 1);
    }
}

/* "a, b, c" for an error message (one thread: a static buffer will do). */
static const char *names_list(const char *(*name)(int), int n)
{
    static char buf[256];
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < sizeof(buf); i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? ", " : "", name(i));
    return buf;
}

static void read_alert(lua_State *L, version *v, int t, const char *rel, const char *stem)
{
    static const char *const keys[] = {"key",   "title",  "severity",
                                       "score", "entity", "description"};
    plug__only_keys(L, t, rel, keys, FLOE_ARRAY_LEN(keys));
    char key[CHECK_KEY_MAX] = "";
    def_key(L, t, stem ? stem : "", v->p->name, key, sizeof(key), rel);
    for (size_t i = 0; i < v->n_alerts; i++)
        if (strcmp(strchr(v->alerts[i].key, '.') + 1, key) == 0)
            luaL_error(L, "%s: alert key '%s' is defined twice", rel, key);
    v->alerts = grow(L, v->alerts, v->n_alerts, sizeof(*v->alerts));
    plug__alert_def *d = &v->alerts[v->n_alerts++];
    snprintf(d->key, sizeof(d->key), "%s.%s", v->p->name, key);
    snprintf(d->plugin, sizeof(d->plugin), "%s", v->p->name);
    snprintf(d->title, sizeof(d->title), "%s", key);
    opt_string(L, t, "title", d->title, sizeof(d->title), rel);
    opt_string(L, t, "description", d->description, sizeof(d->description), rel);
    char sev[32] = "warning", ent[32] = "";
    opt_string(L, t, "severity", sev, sizeof(sev), rel);
    d->severity = floe_severity_parse(sev);
    if (d->severity < 0)
        luaL_error(L, "%s: severity '%s' is not one of %s", rel, sev,
                   names_list(floe_severity_name, FLOE_SEV_COUNT));
    d->score = (uint32_t)opt_int(L, t, "score", 10, 0, 1000, rel);
    opt_string(L, t, "entity", ent, sizeof(ent), rel);
    d->entity = ent[0] ? floe_entity_parse(ent) : -1;
    if (ent[0] && d->entity < 0)
        luaL_error(L, "%s: entity '%s' is not one of %s", rel, ent,
                   names_list(floe_entity_name, FLOE_ENTITY_COUNT));
}

static void read_status(lua_State *L, version *v, int t, const char *rel, const char *stem)
{
    static const char *const keys[] = {"key", "title", "score", "alert", "description"};
    plug__only_keys(L, t, rel, keys, FLOE_ARRAY_LEN(keys));
    char key[CHECK_KEY_MAX] = "";
    def_key(L, t, stem ? stem : "", v->p->name, key, sizeof(key), rel);
    for (size_t i = 0; i < v->n_statuses; i++)
        if (strcmp(strchr(v->statuses[i].d.key, '.') + 1, key) == 0)
            luaL_error(L, "%s: status key '%s' is defined twice", rel, key);
    v->statuses = grow(L, v->statuses, v->n_statuses, sizeof(*v->statuses));
    pending_status *ps = &v->statuses[v->n_statuses++];
    plug__status_def *d = &ps->d;
    snprintf(d->key, sizeof(d->key), "%s.%s", v->p->name, key);
    snprintf(d->plugin, sizeof(d->plugin), "%s", v->p->name);
    snprintf(d->title, sizeof(d->title), "%s", key);
    opt_string(L, t, "title", d->title, sizeof(d->title), rel);
    opt_string(L, t, "description", d->description, sizeof(d->description), rel);
    d->score = (uint16_t)opt_int(L, t, "score", 10, 0, 1000, rel);
    opt_string(L, t, "alert", ps->alert_key, sizeof(ps->alert_key), rel);
    d->alert = -1;
}

static void read_defs(lua_State *L, version *v, const char *folder,
                      void (*fn)(lua_State *L, version *v, int idx, const char *rel,
                                 const char *stem))
{
    char dir[1100];
    size_t n;
    snprintf(dir, sizeof(dir), "%s/%s", v->p->dir, folder);
    char **names = list_dir(dir, ".lua", &n);
    for (size_t i = 0; i < n; i++) {
        char rel[256], stem[CHECK_KEY_MAX];
        snprintf(rel, sizeof(rel), "%s/%s", folder, names[i]);
        snprintf(stem, sizeof(stem), "%.*s", (int)(strlen(names[i]) - 4), names[i]);
        int top = lua_gettop(L);
        run_file(L, v->p, rel);
        each_def(L, v, rel, stem, fn);
        lua_settop(L, top);
    }
    free_names(names);
}

/* ---- checks --------------------------------------------------------------- */

/* The hook names of a kind: the flow events, or the periods. */
static const char *hook_name(int kind, int h)
{
    return kind == FLOE_CHECK_FLOW ? floe_flow_event_name(h) : floe_period_name(h);
}

static int hook_count(int kind)
{
    return kind == FLOE_CHECK_FLOW ? FLOE_EV_COUNT : FLOE_PERIOD_COUNT;
}

static void read_hooks(lua_State *L, plug__check *c, int t, const char *rel)
{
    lua_getfield(L, t, "hooks");
    if (!lua_istable(L, -1))
        luaL_error(L, "%s: key 'hooks' must be a table of functions", rel);
    int hooks = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, hooks) != 0) {
        const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        int h = 0;
        while (h < hook_count(c->kind) && strcmp(hook_name(c->kind, h), name) != 0)
            h++;
        if (h == hook_count(c->kind))
            luaL_error(L, "%s: '%s' is not a hook of %s checks", rel, name,
                       floe_check_kind_name(c->kind));
        if (!lua_isfunction(L, -1))
            luaL_error(L, "%s: hook '%s' must be a function", rel, name);
        c->hook_ref[h] = luaL_ref(L, LUA_REGISTRYINDEX);
        c->hooks |= 1u << h;
    }
    lua_pop(L, 1);
    if (!c->hooks)
        luaL_error(L, "%s: no hooks", rel);
}

/* Checks each declared setting: a known type and a default of that type. */
static void read_config_decl(lua_State *L, plug__check *c, int t, const char *rel)
{
    static const char *const keys[] = {"type",    "of",          "default", "min",     "max",
                                       "choices", "description", "title",   "validate"};
    lua_getfield(L, t, "config");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "%s: key 'config' must be a table of settings", rel);
    int decl = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, decl) != 0) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (!k || !plug__valid_key(k) || strcmp(k, "enabled") == 0)
            luaL_error(L, "%s: setting '%s' must be a name other than 'enabled'", rel, k ? k : "?");
        if (!lua_istable(L, -1))
            luaL_error(L, "%s: setting '%s' must be a table {type=, default=, ...}", rel, k);
        char where[300];
        snprintf(where, sizeof(where), "%s: setting '%s'", rel, k);
        plug__only_keys(L, lua_gettop(L), where, keys, FLOE_ARRAY_LEN(keys));
        char why[200] = "";
        if (plug__conf_decl_ok(L, lua_gettop(L), why, sizeof(why)) != 0)
            luaL_error(L, "%s: setting '%s': %s", rel, k, why);
        lua_pop(L, 1);
    }
    c->schema_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void read_check(lua_State *L, version *v, int kind, const char *rel, const char *stem)
{
    static const char *const keys[] = {"title",    "description", "hooks",  "filter",
                                       "periodic", "hosts",       "config", "default_enabled"};
    int t = lua_gettop(L);
    plug__only_keys(L, t, rel, keys, FLOE_ARRAY_LEN(keys));
    if (!plug__valid_key(stem))
        luaL_error(L, "%s: a check's file name must be letters, digits and '_'", rel);
    for (size_t i = 0; i < v->n_checks; i++)
        if (strcmp(v->checks[i]->key, stem) == 0)
            luaL_error(L, "%s: a check named '%s' exists already (checks/%s)", rel, stem,
                       floe_check_kind_name(v->checks[i]->kind));
    v->checks = grow(L, v->checks, v->n_checks, sizeof(*v->checks));
    plug__check *c = calloc(1, sizeof(*c));
    if (!c)
        luaL_error(L, "out of memory");
    v->checks[v->n_checks++] = c;
    c->p = v->p;
    c->kind = kind;
    for (int h = 0; h < N_HOOKS; h++)
        c->hook_ref[h] = c->deltas_ref[h] = LUA_NOREF;
    c->filter_ref = c->schema_ref = c->conf_ref = LUA_NOREF;
    snprintf(c->key, sizeof(c->key), "%.*s", CHECK_KEY_MAX - 1, stem);
    snprintf(c->full, sizeof(c->full), "%.*s.%.*s", PLUGIN_NAME_MAX - 1, v->p->name,
             CHECK_KEY_MAX - 1, stem);
    snprintf(c->title, sizeof(c->title), "%s", c->key);
    opt_string(L, t, "title", c->title, sizeof(c->title), rel);
    opt_string(L, t, "description", c->description, sizeof(c->description), rel);
    c->default_enabled = opt_bool(L, t, "default_enabled", 1, rel);
    c->periodic_s = (uint32_t)opt_int(L, t, "periodic", 60, 1, 86400, rel);
    char hosts[16] = "local";
    opt_string(L, t, "hosts", hosts, sizeof(hosts), rel);
    if (strcmp(hosts, "local") != 0 && strcmp(hosts, "all") != 0)
        luaL_error(L, "%s: key 'hosts' must be \"local\" or \"all\"", rel);
    c->filter.entities_all = hosts[0] == 'a';
    read_hooks(L, c, t, rel);
    lua_getfield(L, t, "filter");
    if (!lua_isnil(L, -1) && kind != FLOE_CHECK_FLOW)
        luaL_error(L, "%s: only flow checks take a filter", rel);
    if (!lua_isnil(L, -1) && !lua_istable(L, -1) && !lua_isfunction(L, -1))
        luaL_error(L, "%s: key 'filter' must be a table or a function", rel);
    c->filter_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    read_config_decl(L, c, t, rel);
}

static void read_checks(lua_State *L, version *v)
{
    for (int kind = 0; kind < FLOE_CHECK_KIND_COUNT; kind++) {
        char folder[64], dir[1100];
        size_t n;
        snprintf(folder, sizeof(folder), "checks/%s", floe_check_kind_name(kind));
        snprintf(dir, sizeof(dir), "%s/%s", v->p->dir, folder);
        char **names = list_dir(dir, ".lua", &n);
        for (size_t i = 0; i < n; i++) {
            char rel[256], stem[CHECK_KEY_MAX + 8];
            snprintf(rel, sizeof(rel), "%s/%s", folder, names[i]);
            snprintf(stem, sizeof(stem), "%.*s", (int)(strlen(names[i]) - 4), names[i]);
            int top = lua_gettop(L);
            run_file(L, v->p, rel);
            read_check(L, v, kind, rel, stem);
            lua_settop(L, top);
        }
        free_names(names);
    }
}

/* One metric {name =, type = "gauge"|"delta", unit =, title =} of a schema. */
static void read_metric(lua_State *L, floe_ts_schema *s, const char *rel, int i)
{
    static const char *const keys[] = {"name", "type", "unit", "title"};
    char where[300], err[256];
    snprintf(where, sizeof(where), "%s: metric %d", rel, i);
    if (!lua_istable(L, -1))
        luaL_error(L, "%s must be a table {name =, type =, unit =, title =}", where);
    plug__only_keys(L, lua_gettop(L), where, keys, FLOE_ARRAY_LEN(keys));
    char name[64] = "", type[16] = "gauge", unit[32] = "", title[96] = "";
    opt_string(L, -1, "name", name, sizeof(name), where);
    opt_string(L, -1, "type", type, sizeof(type), where);
    opt_string(L, -1, "unit", unit, sizeof(unit), where);
    opt_string(L, -1, "title", title, sizeof(title), where);
    if (strcmp(type, "gauge") != 0 && strcmp(type, "delta") != 0)
        luaL_error(L, "%s: type must be \"gauge\" or \"delta\"", where);
    if (floe_ts_schema_add_metric(s, name, type[0] == 'd' ? FLOE_TS_DELTA : FLOE_TS_GAUGE,
                                  unit[0] ? unit : NULL, title[0] ? title : NULL, err,
                                  sizeof(err)) != 0)
        luaL_error(L, "%s: %s", where, err);
}

/* A schema's name is the plugin's own: "syn" in plugin p is "p:syn". */
static void read_schema(lua_State *L, version *v, const char *rel, const char *stem)
{
    static const char *const keys[] = {"name", "title", "step", "tags", "metrics", "retention"};
    int t = lua_gettop(L);
    plug__only_keys(L, t, rel, keys, FLOE_ARRAY_LEN(keys));
    char name[FLOE_TS_NAME_MAX] = "", full[FLOE_TS_NAME_MAX + PLUGIN_NAME_MAX], err[256];
    snprintf(name, sizeof(name), "%s", stem);
    opt_string(L, t, "name", name, sizeof(name), rel);
    size_t pl = strlen(v->p->name);
    if (strchr(name, ':') && !(strncmp(name, v->p->name, pl) == 0 && name[pl] == ':'))
        luaL_error(L, "%s: a plugin's schema is named \"%s:...\"", rel, v->p->name);
    snprintf(full, sizeof(full), strchr(name, ':') ? "%s" : "%s:%s",
             strchr(name, ':') ? name : v->p->name, name);
    v->schemas = grow(L, v->schemas, v->n_schemas, sizeof(*v->schemas));
    floe_ts_schema *s = &v->schemas[v->n_schemas++];
    if (floe_ts_schema_init(s, full, (uint32_t)opt_int(L, t, "step", 60, 1, 86400, rel), err,
                            sizeof(err)) != 0)
        luaL_error(L, "%s: %s", rel, err);
    opt_string(L, t, "title", s->title, sizeof(s->title), rel);
    lua_getfield(L, t, "tags");
    for (lua_Integer i = 1; lua_istable(L, -1) && i <= (lua_Integer)lua_rawlen(L, -1); i++) {
        lua_rawgeti(L, -1, i);
        const char *tag = lua_tostring(L, -1);
        if (!tag || floe_ts_schema_add_tag(s, tag, err, sizeof(err)) != 0)
            luaL_error(L, "%s: tag %d: %s", rel, (int)i, tag ? err : "must be a name");
        lua_pop(L, 1);
    }
    lua_getfield(L, t, "metrics");
    if (!lua_istable(L, -1))
        luaL_error(L, "%s: key 'metrics' must be a list of {name =, type =, ...}", rel);
    for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, -1); i++) {
        lua_rawgeti(L, -1, i);
        read_metric(L, s, rel, (int)i);
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    char retention[128] = "";
    opt_string(L, t, "retention", retention, sizeof(retention), rel);
    if (retention[0] && floe_ts_schema_set_retention(s, retention, err, sizeof(err)) != 0)
        luaL_error(L, "%s: retention: %s", rel, err);
    if (floe_ts_schema_validate(s, err, sizeof(err)) != 0)
        luaL_error(L, "%s: %s", rel, err);
}

static void read_schemas(lua_State *L, version *v)
{
    char dir[1100];
    size_t n;
    snprintf(dir, sizeof(dir), "%s/ts_schemas", v->p->dir);
    char **names = list_dir(dir, ".lua", &n);
    for (size_t i = 0; i < n; i++) {
        char rel[256], stem[FLOE_TS_NAME_MAX];
        snprintf(rel, sizeof(rel), "ts_schemas/%s", names[i]);
        snprintf(stem, sizeof(stem), "%.*s", (int)(strlen(names[i]) - 4), names[i]);
        int top = lua_gettop(L);
        run_file(L, v->p, rel);
        read_schema(L, v, rel, stem);
        lua_settop(L, top);
    }
    free_names(names);
}

static void read_menu(lua_State *L, version *v)
{
    char path[1100];
    struct stat st;
    snprintf(path, sizeof(path), "%s/web_gui/menu.lua", v->p->dir);
    if (stat(path, &st) != 0)
        return;
    int top = lua_gettop(L);
    run_file(L, v->p, "web_gui/menu.lua");
    plug__menu_read(L, v->p, lua_gettop(L), v->menu_title, sizeof(v->menu_title), v->menu_icon,
                    sizeof(v->menu_icon), v->pages, &v->n_pages);
    lua_settop(L, top);
}

/* The alert key a status names: its own plugin's, or "plugin.key". */
static void resolve_status_alerts(lua_State *L, version *v)
{
    for (size_t i = 0; i < v->n_statuses; i++) {
        pending_status *ps = &v->statuses[i];
        if (!ps->alert_key[0])
            continue;
        char full[FULL_KEY_MAX + CHECK_KEY_MAX];
        if (strchr(ps->alert_key, '.'))
            snprintf(full, sizeof(full), "%s", ps->alert_key);
        else
            snprintf(full, sizeof(full), "%s.%s", v->p->name, ps->alert_key);
        int found = 0;
        for (size_t k = 0; k < v->n_alerts && !found; k++)
            found = strcmp(v->alerts[k].key, full) == 0;
        if (!found && strncmp(full, v->p->name, strlen(v->p->name)) != 0)
            found = plug__alert_lookup(v->p->P, NULL, full) >= 0;
        if (!found || strlen(full) >= sizeof(ps->alert_key))
            luaL_error(L, "status_definitions: status '%s' names alert '%s', which is not defined",
                       ps->d.key, full);
        memcpy(ps->alert_key, full, strlen(full) + 1);
    }
}

/* In protected mode: the whole version read into the version struct. */
static int read_version(lua_State *L)
{
    version *v = lua_touserdata(L, 1);
    read_manifest(L, v);
    read_defs(L, v, "alert_definitions", read_alert);
    read_defs(L, v, "status_definitions", read_status);
    resolve_status_alerts(L, v);
    read_checks(L, v);
    read_schemas(L, v);
    read_menu(L, v);
    return 0;
}

/* ---- definitions registry --------------------------------------------------- */

int32_t plug__status_lookup(const floe_plugins *P, const char *plugin, const char *key)
{
    char full[FULL_KEY_MAX];
    if (plugin && !strchr(key, '.'))
        snprintf(full, sizeof(full), "%s.%s", plugin, key);
    else
        snprintf(full, sizeof(full), "%s", key);
    for (size_t i = 0; i < P->n_statuses; i++)
        if (P->statuses[i].live && strcmp(P->statuses[i].key, full) == 0)
            return (int32_t)i;
    return -1;
}

int32_t plug__alert_lookup(const floe_plugins *P, const char *plugin, const char *key)
{
    char full[FULL_KEY_MAX];
    if (plugin && !strchr(key, '.'))
        snprintf(full, sizeof(full), "%s.%s", plugin, key);
    else
        snprintf(full, sizeof(full), "%s", key);
    for (size_t i = 0; i < P->n_alerts; i++)
        if (P->alerts[i].live && strcmp(P->alerts[i].key, full) == 0)
            return (int32_t)i;
    return -1;
}

/* The slot for a key: the one it had, or a new one. -1 on no memory. */
static int32_t def_slot(void **array, size_t *n, size_t *cap, size_t size, const char *key)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((char *)*array + i * size, key) == 0) /* key is the first member */
            return (int32_t)i;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 32;
        void *grown = realloc(*array, c * size);
        if (!grown)
            return -1;
        *array = grown;
        *cap = c;
    }
    memset((char *)*array + *n * size, 0, size);
    return (int32_t)(*n)++;
}

/* The plugin's definitions become this version's; those it dropped are no
 * longer live (their numbers stay taken, so old flows keep their meaning). */
static int register_defs(floe_plugins *P, version *v)
{
    for (size_t i = 0; i < P->n_alerts; i++)
        if (strcmp(P->alerts[i].plugin, v->p->name) == 0)
            P->alerts[i].live = 0;
    for (size_t i = 0; i < P->n_statuses; i++)
        if (strcmp(P->statuses[i].plugin, v->p->name) == 0)
            P->statuses[i].live = 0;
    for (size_t i = 0; i < v->n_alerts; i++) {
        int32_t id = def_slot((void **)&P->alerts, &P->n_alerts, &P->cap_alerts, sizeof(*P->alerts),
                              v->alerts[i].key);
        if (id < 0)
            return FLOE_ENOMEM;
        P->alerts[id] = v->alerts[i];
        P->alerts[id].live = 1;
    }
    for (size_t i = 0; i < v->n_statuses; i++) {
        pending_status *ps = &v->statuses[i];
        int32_t id = def_slot((void **)&P->statuses, &P->n_statuses, &P->cap_statuses,
                              sizeof(*P->statuses), ps->d.key);
        if (id < 0)
            return FLOE_ENOMEM;
        uint64_t sets = P->statuses[id].sets;
        P->statuses[id] = ps->d;
        P->statuses[id].sets = sets;
        P->statuses[id].live = 1;
        P->statuses[id].alert = ps->alert_key[0] ? plug__alert_lookup(P, NULL, ps->alert_key) : -1;
    }
    return 0;
}

/* ---- checks' lifetime --------------------------------------------------------- */

static void check_free(floe_plugins *P, plug__check *c)
{
    lua_State *L = c->p->sb.L;
    for (int h = 0; h < N_HOOKS; h++) {
        luaL_unref(L, LUA_REGISTRYINDEX, c->hook_ref[h]);
        luaL_unref(L, LUA_REGISTRYINDEX, c->deltas_ref[h]);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, c->filter_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, c->schema_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, c->conf_ref);
    plug__filter_free(P, &c->filter);
    free(c);
}

static void version_discard(floe_plugins *P, version *v)
{
    for (size_t i = 0; i < v->n_checks; i++)
        check_free(P, v->checks[i]);
    free(v->checks);
    for (size_t i = 0; i < v->n_deps; i++)
        free(v->deps[i]);
    free(v->deps);
    free(v->statuses);
    free(v->alerts);
    free(v->schemas);
    plug__pages_unref(v->p, v->pages, v->n_pages);
    memset(v, 0, sizeof(*v));
}

/* The new version's pages replace the old ones, keeping the counters of
 * those that stay. */
static void commit_pages(plug__plugin *p, version *v)
{
    plug__page *pages = v->n_pages ? calloc(v->n_pages, sizeof(*pages)) : NULL;
    size_t n = pages ? v->n_pages : 0;
    for (size_t i = 0; i < n; i++) {
        pages[i] = v->pages[i];
        for (size_t k = 0; k < p->n_pages; k++)
            if (strcmp(p->pages[k].key, pages[i].key) == 0) {
                pages[i].renders = p->pages[k].renders;
                pages[i].errors = p->pages[k].errors;
                pages[i].ns = p->pages[k].ns;
            }
    }
    if (!pages) /* no pages, or no memory for them: none are served */
        plug__pages_unref(p, v->pages, v->n_pages);
    plug__pages_unref(p, p->pages, p->n_pages);
    free(p->pages);
    p->pages = pages;
    p->n_pages = n;
    v->n_pages = 0;
    snprintf(p->menu_title, sizeof(p->menu_title), "%s", v->menu_title);
    snprintf(p->menu_icon, sizeof(p->menu_icon), "%s", v->menu_icon);
}

/* A new check takes over its predecessor's counters and failure state. */
static void carry_over(plug__plugin *p, plug__check *c)
{
    for (size_t i = 0; i < p->n_checks; i++) {
        plug__check *old = p->checks[i];
        if (old->kind == c->kind && strcmp(old->key, c->key) == 0) {
            c->st = old->st;
            snprintf(c->last_error, sizeof(c->last_error), "%s", old->last_error);
            c->last_error_ms = old->last_error_ms;
        }
    }
}

/* The checks' configs and filters; an error names the check. */
static int build_checks(floe_plugins *P, version *v, char *err, size_t errlen)
{
    for (size_t i = 0; i < v->n_checks; i++) {
        plug__check *c = v->checks[i];
        if (plug__conf_build(P, c, err, errlen) != 0 ||
            (c->kind == FLOE_CHECK_FLOW && plug__filter_build(P, c, err, errlen) != 0))
            return FLOE_EINVAL;
    }
    return 0;
}

static void commit(floe_plugins *P, plug__plugin *p, version *v)
{
    for (size_t i = 0; i < v->n_checks; i++)
        carry_over(p, v->checks[i]);
    for (size_t i = 0; i < p->n_checks; i++)
        check_free(P, p->checks[i]);
    free(p->checks);
    for (size_t i = 0; i < p->n_deps; i++)
        free(p->deps[i]);
    free(p->deps);
    p->checks = v->checks;
    p->n_checks = v->n_checks;
    p->deps = v->deps;
    p->n_deps = v->n_deps;
    commit_pages(p, v);
    free(p->schemas);
    p->schemas = v->schemas;
    p->n_schemas = v->n_schemas;
    for (size_t i = 0; i < p->n_schemas; i++) {
        char err[256];
        if (P->env.ts_define && P->env.ts_define(P->env.ud, &p->schemas[i], err, sizeof(err)) != 0)
            log_error(P->env.log, "plugins: %s: schema %s: %s", p->name, p->schemas[i].name, err);
    }
    snprintf(p->title, sizeof(p->title), "%s", v->title);
    snprintf(p->description, sizeof(p->description), "%s", v->description);
    snprintf(p->author, sizeof(p->author), "%s", v->author);
    snprintf(p->version, sizeof(p->version), "%s", v->version);
    free(v->statuses);
    free(v->alerts);
    memset(v, 0, sizeof(*v));
    p->loaded = 1;
    p->loaded_ms = P->now_ms;
}

/*
 * Reads the plugin's files as a new version and, if all is well, puts it
 * in place of the running one. On failure the running version (if any)
 * stays, and p->error says why.
 */
static int plugin_load(floe_plugins *P, plug__plugin *p)
{
    version v;
    char err[ERR_MAX] = "";
    memset(&v, 0, sizeof(v));
    v.p = p;
    lua_gc(p->sb.L, LUA_GCCOLLECT);
    lua_pushcfunction(p->sb.L, read_version);
    lua_pushlightuserdata(p->sb.L, &v);
    int rc = floe_sandbox_call(&p->sb, 1, 0, 0, err, sizeof(err));
    if (rc == 0)
        rc = build_checks(P, &v, err, sizeof(err));
    p->files_sig = files_signature(p->dir);
    if (rc != 0) {
        version_discard(P, &v);
        p->failed = 1;
        snprintf(p->error, sizeof(p->error), "%s", err);
        log_error(P->env.log, "plugins: %s: %s%s", p->name, err,
                  p->loaded ? "; the running version stays" : "; disabled");
        return rc;
    }
    if (register_defs(P, &v) != 0)
        log_error(P->env.log, "plugins: %s: out of memory registering its definitions", p->name);
    commit(P, p, &v);
    p->failed = 0;
    p->error[0] = '\0';
    return 0;
}

/* ---- plugins -------------------------------------------------------------- */

static plug__plugin *plugin_new(floe_plugins *P, const char *root, const char *name)
{
    char err[ERR_MAX];
    plug__plugin *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->P = P;
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->dir, sizeof(p->dir), "%s/%s", root, name);
    p->state_ref = LUA_NOREF;
    if (floe_sandbox_open(&p->sb, P->o.mem_limit, err, sizeof(err)) != 0) {
        free(p);
        return NULL;
    }
    if (plug__api_open(p) != 0) {
        floe_sandbox_close(&p->sb);
        free(p);
        return NULL;
    }
    return p;
}

void plug__plugin_free(floe_plugins *P, plug__plugin *p)
{
    plug__unwatch_plugin(p);
    for (size_t i = 0; i < P->n_statuses; i++)
        if (strcmp(P->statuses[i].plugin, p->name) == 0)
            P->statuses[i].live = 0;
    for (size_t i = 0; i < P->n_alerts; i++)
        if (strcmp(P->alerts[i].plugin, p->name) == 0)
            P->alerts[i].live = 0;
    for (size_t i = 0; i < p->n_checks; i++) {
        plug__engaged_release_check(P, p->checks[i]);
        check_free(P, p->checks[i]);
    }
    free(p->checks);
    for (size_t i = 0; i < p->n_deps; i++)
        free(p->deps[i]);
    free(p->deps);
    free(p->schemas);
    plug__pages_unref(p, p->pages, p->n_pages);
    free(p->pages);
    plug__probes_free(p);
    floe_sandbox_close(&p->sb);
    free(p);
}

static plug__plugin *plugin_find(const floe_plugins *P, const char *name)
{
    for (size_t i = 0; i < P->n_plugins; i++)
        if (strcmp(P->plugins[i]->name, name) == 0)
            return P->plugins[i];
    return NULL;
}

/* A folder is a plugin when it has a manifest.lua. */
static int is_plugin_dir(const char *root, const char *name)
{
    char path[2048];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s/manifest.lua", root, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int plugin_add(floe_plugins *P, const char *root, const char *name)
{
    if (!plug__valid_key(name)) {
        log_error(P->env.log,
                  "plugins: %s/%s: a plugin's folder name must be 1 to %d letters, "
                  "digits or '_'; left out",
                  root, name, PLUGIN_NAME_MAX - 1);
        return 0;
    }
    plug__plugin *same = plugin_find(P, name);
    if (same) {
        char dir[1100];
        snprintf(dir, sizeof(dir), "%s/%s", root, name);
        if (strcmp(same->dir, dir) != 0)
            log_error(P->env.log,
                      "plugins: %s/%s: a plugin named %s is loaded from %s already; "
                      "this one is left out",
                      root, name, name, same->dir);
        return 0;
    }
    plug__plugin **grown = realloc(P->plugins, (P->n_plugins + 1) * sizeof(*grown));
    plug__plugin *p = grown ? plugin_new(P, root, name) : NULL;
    if (grown)
        P->plugins = grown;
    if (!p)
        return FLOE_ENOMEM;
    P->plugins[P->n_plugins++] = p;
    if (plugin_load(P, p) == 0)
        log_info(P->env.log, "plugins: %s %s loaded (%zu checks)", p->name, p->version,
                 p->n_checks);
    plug__watch_plugin(P, p);
    return 0;
}

/* A plugin whose dependencies are not all loaded is disabled, saying which
 * is missing; repeated until nothing changes, since that can cascade. */
static void check_dependencies(floe_plugins *P)
{
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < P->n_plugins; i++) {
            plug__plugin *p = P->plugins[i];
            for (size_t k = 0; p->loaded && k < p->n_deps; k++) {
                plug__plugin *d = plugin_find(P, p->deps[k]);
                if (d && d->loaded)
                    continue;
                snprintf(p->error, sizeof(p->error), "needs plugin '%s', which is %s", p->deps[k],
                         d ? "not loaded" : "not installed");
                log_error(P->env.log, "plugins: %s: %s; disabled", p->name, p->error);
                p->loaded = 0;
                p->failed = 1;
                for (size_t c = 0; c < p->n_checks; c++)
                    plug__engaged_release_check(P, p->checks[c]);
                changed = 1;
            }
        }
    }
}

/* Looks at every root for plugin folders: new ones are loaded, vanished
 * ones dropped. */
static void scan_roots(floe_plugins *P)
{
    for (size_t i = 0; i < P->n_plugins; i++)
        P->plugins[i]->gone = 1;
    for (size_t r = 0; r < P->n_dirs; r++) {
        size_t n;
        char **names = list_dir(P->dirs[r], NULL, &n);
        for (size_t k = 0; k < n; k++) {
            if (!is_plugin_dir(P->dirs[r], names[k]) || (P->only && strcmp(P->only, names[k]) != 0))
                continue;
            plug__plugin *p = plugin_find(P, names[k]);
            char dir[1100];
            snprintf(dir, sizeof(dir), "%s/%s", P->dirs[r], names[k]);
            if (p && strcmp(p->dir, dir) == 0)
                p->gone = 0;
            else if (!p)
                plugin_add(P, P->dirs[r], names[k]);
        }
        free_names(names);
    }
    for (size_t i = 0; i < P->n_plugins;) {
        plug__plugin *p = P->plugins[i];
        if (!p->gone) {
            i++;
            continue;
        }
        log_info(P->env.log, "plugins: %s: its folder is gone; unloaded", p->name);
        plug__plugin_free(P, p);
        P->plugins[i] = P->plugins[--P->n_plugins];
    }
}

int plug__load_all(floe_plugins *P)
{
    scan_roots(P);
    check_dependencies(P);
    plug__rebuild_hooks(P);
    int failed = 0;
    for (size_t i = 0; i < P->n_plugins; i++)
        failed += P->plugins[i]->failed;
    return failed;
}

int floe_plugins_reload(floe_plugins *P, int force)
{
    P->reloads++;
    plug__jobs_cancel(P);
    for (size_t i = 0; i < P->n_plugins; i++) {
        plug__plugin *p = P->plugins[i];
        if (!force && p->files_sig == files_signature(p->dir))
            continue;
        p->reloads++;
        if (plugin_load(P, p) == 0)
            log_info(P->env.log, "plugins: %s %s reloaded (%zu checks)", p->name, p->version,
                     p->n_checks);
        plug__watch_plugin(P, p);
    }
    int failed = plug__load_all(P);
    P->reload_failures += (uint64_t)failed;
    for (plug__listfile *lf = P->files; lf; lf = lf->next)
        plug__listfile_reload(P, lf);
    return failed;
}

/* ---- hooks ---------------------------------------------------------------- */

void plug__rebuild_hooks(floe_plugins *P)
{
    P->wanted = 0;
    P->periodic_ms = 0;
    for (int ev = 0; ev < FLOE_EV_COUNT; ev++) {
        free(P->flow_hooks[ev]);
        P->flow_hooks[ev] = NULL;
        P->n_flow_hooks[ev] = 0;
        plug__prefilter_free(&P->pre[ev]);
    }
    for (size_t i = 0; i < P->n_plugins; i++) {
        plug__plugin *p = P->plugins[i];
        for (size_t k = 0; p->loaded && k < p->n_checks; k++) {
            plug__check *c = p->checks[k];
            if (c->kind != FLOE_CHECK_FLOW || !c->enabled || c->state != CHECK_OK)
                continue;
            for (int ev = 0; ev < FLOE_EV_COUNT; ev++) {
                if (!(c->hooks & (1u << ev)))
                    continue;
                plug__check **grown =
                    realloc(P->flow_hooks[ev], (P->n_flow_hooks[ev] + 1) * sizeof(*grown));
                if (!grown)
                    continue;
                P->flow_hooks[ev] = grown;
                grown[P->n_flow_hooks[ev]++] = c;
                plug__prefilter_add(&P->pre[ev], &c->filter);
                P->wanted |= 1u << ev;
                uint64_t ms = (uint64_t)c->periodic_s * 1000;
                if (ev == FLOE_EV_PERIODIC_UPDATE && (!P->periodic_ms || ms < P->periodic_ms))
                    P->periodic_ms = ms;
            }
        }
    }
    if (P->env.tables) {
        P->env.tables->hooks.wanted = P->wanted;
        floe_tables_set_periodic(P->env.tables, P->periodic_ms);
    }
}

/* ---- the environment of a script ------------------------------------------- */

void plug__push_env(plug__plugin *p)
{
    lua_State *L = p->sb.L;
    floe_sandbox_push_env(&p->sb);
    static const char *const api[] = {"alerts", "ts", "log", "floe", "probe"};
    for (size_t i = 0; i < FLOE_ARRAY_LEN(api); i++) {
        lua_getfield(L, LUA_REGISTRYINDEX, api[i]); /* set by plug__api_open */
        lua_setfield(L, -2, api[i]);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->state_ref);
    lua_setfield(L, -2, "state");
}
