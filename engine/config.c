/*
 * The config: a Lua file that sets globals, run in a sandbox with no io, os,
 * require or load, under a memory cap and an instruction budget. Every key
 * is a row in the schema below, which also drives validation, defaults and
 * the commented example that `floe config` prints.
 */
#include "engine/engine.h"
#include "history/history.h"
#include "plugins/plugins.h"
#include "rrd/rrd.h"
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#define CONFIG_MEM_LIMIT  (16u << 20)
#define CONFIG_INSN_LIMIT 10000000

enum ctype {
    C_STR,
    C_LIST,
    C_UINT,
    C_BOOL,
    C_LEVEL,
    C_TARGET,
    C_TABLE,
    C_RULES,
    C_ENDPOINTS,
    C_RETENTION,
    C_RETENTIONS
};

/*
 * path     the key; "a.b" is key b in table a
 * type     C_STR string, C_LIST list of strings, C_UINT integer in
 *          [min, max], C_BOOL true/false, C_LEVEL and C_TARGET the log enums
 * off/noff where the value (and a list's count) live in floe_config
 * doc      one line for the example config
 */
static const struct ckey {
    const char *path;
    enum ctype type;
    size_t off, noff;
    uint64_t min, max;
    const char *doc;
} schema[] = {
    {"listen", C_LIST, offsetof(floe_config, listen), offsetof(floe_config, n_listen), 0, 0,
     "UDP addresses to receive exports on; every port accepts v5, v9, IPFIX and sFlow"},
    {"listen_tcp", C_LIST, offsetof(floe_config, listen_tcp), offsetof(floe_config, n_listen_tcp),
     0, 0, "TCP addresses to receive IPFIX on (RFC 7011 over TCP); none by default"},
    {"web", C_STR, offsetof(floe_config, web), 0, 0, 0,
     "HTTP address for the API and web pages; \"\" turns the server off"},
    {"data_dir", C_STR, offsetof(floe_config, data_dir), 0, 0, 0,
     "where floe keeps its state: alerts, timeseries, the admin password"},
    {"plugins", C_LIST, offsetof(floe_config, plugin_dirs), offsetof(floe_config, n_plugin_dirs), 0,
     0, "extra plugin directories, loaded after the built-in plugins"},
    {"builtin_plugins", C_STR, offsetof(floe_config, builtin_plugins), 0, 0, 0,
     "the built-in plugins' directory; \"\" finds the installed ones; \"none\" loads none"},
    {"checks", C_TABLE, offsetof(floe_config, checks), 0, 0, 0,
     "per-check settings: { [\"plugin.check\"] = { enabled = false, key = value, ... } }"},
    {"log.level", C_LEVEL, offsetof(floe_config, log_level), 0, 0, 0,
     "\"error\", \"warn\", \"info\" or \"debug\""},
    {"log.target", C_TARGET, offsetof(floe_config, log_syslog), 0, 0, 0,
     "\"stderr\" or \"syslog\""},
    {"log.burst", C_UINT, offsetof(floe_config, log_burst), 0, 1, 10000,
     "messages per minute from one place in the code, for logs a packet can trigger"},
    {"socket.rcvbuf", C_UINT, offsetof(floe_config, rcvbuf), 0, 4096, 1u << 30,
     "socket receive buffer per UDP socket, bytes; past net.core.rmem_max only as root"},
    {"tcp.max_connections", C_UINT, offsetof(floe_config, tcp_max_connections), 0, 1, 100000,
     "IPFIX-over-TCP connections at once (64 KiB of buffer each at most); more are refused"},
    {"tcp.idle_timeout", C_UINT, offsetof(floe_config, tcp_idle_timeout), 0, 1, 86400,
     "seconds a TCP exporter may send nothing before floe closes its connection"},
    {"tcp.stall_timeout", C_UINT, offsetof(floe_config, tcp_stall_timeout), 0, 1, 3600,
     "seconds a TCP exporter may take to finish a message it began"},
    {"exporters.max", C_UINT, offsetof(floe_config, max_exporters), 0, 1, 10000000,
     "exporters (address + observation domain) tracked; the least recently seen is evicted"},
    {"templates.timeout", C_UINT, offsetof(floe_config, template_timeout), 0, 1, 604800,
     "seconds a v9/IPFIX template lives without being refreshed"},
    {"templates.max_per_exporter", C_UINT, offsetof(floe_config, max_templates_per_exporter), 0, 1,
     65536, "templates kept per exporter; the least recently refreshed is evicted"},
    {"templates.max", C_UINT, offsetof(floe_config, max_templates), 0, 1, 100000000,
     "templates kept over all exporters"},
    {"tables.enabled", C_BOOL, offsetof(floe_config, tables_enabled), 0, 0, 0,
     "keep flow, host, interface and network tables; false decodes and counts only"},
    {"tables.prefault", C_BOOL, offsetof(floe_config, tables.prefault), 0, 0, 0,
     "floe run backs the flow and host tables' memory, nDPI's states and heap for nDPI's "
     "buffers to their bound at start, so that their first fill does not stall ingest; "
     "false: as they fill"},
    {"flows.max", C_UINT, offsetof(floe_config, tables.max_flows), 0, 1, 100000000,
     "flows kept; at the bound the least recently updated flow is evicted"},
    {"flows.idle_timeout", C_UINT, offsetof(floe_config, tables.flow_idle_timeout), 0, 1, 86400,
     "seconds without a record after which a flow ends"},
    {"hosts.max", C_UINT, offsetof(floe_config, tables.max_hosts), 0, 1, 100000000,
     "hosts kept; at the bound the least recently seen host without flows is evicted"},
    {"interfaces.max", C_UINT, offsetof(floe_config, tables.max_interfaces), 0, 1, 10000000,
     "exporter interfaces kept; the least recently updated is evicted"},
    {"local_networks", C_LIST, offsetof(floe_config, tables.local_networks),
     offsetof(floe_config, tables.n_local_networks), 0, 0,
     "networks whose hosts are local (they get timeseries); default RFC 1918 and ULA"},
    {"dpi.enabled", C_BOOL, offsetof(floe_config, tables.dpi_enabled), 0, 0, 0,
     "label flows with nDPI (exporter ids, sampled packets, port and IP-list guesses)"},
    {"dpi.max_states", C_UINT, offsetof(floe_config, tables.dpi_max_states), 0, 1, 10000000,
     "flows dissected at once from sFlow sampled headers (about 700 bytes each)"},
    {"dpi.packets", C_UINT, offsetof(floe_config, tables.dpi_packets), 0, 1, 255,
     "sampled packets per flow before nDPI gives up and guesses"},
    {"dpi.max_rate", C_UINT, offsetof(floe_config, tables.dpi_max_rate), 0, 1, 100000000,
     "sampled packets dissected per second at most; past it flows keep their guess"},
    {"lua.memory", C_UINT, offsetof(floe_config, lua_memory_mb), 0, 1, 4096,
     "memory cap per plugin, MiB"},
    {"lua.instructions", C_UINT, offsetof(floe_config, lua_instructions), 0, 1000, 1000000000,
     "Lua instructions a check may run per call"},
    {"lua.failures", C_UINT, offsetof(floe_config, lua_failures), 0, 1, 1000000,
     "failed calls in a row after which a check is disabled"},
    {"lua.cpu_share", C_UINT, offsetof(floe_config, lua_cpu_share), 0, 1, 100,
     "percent of the loop's time Lua may use; past it runs are skipped and counted"},
    {"web_password", C_STR, offsetof(floe_config, web_password), 0, 0, 0,
     "admin password for the web UI; \"\": FLOE_ADMIN_PASSWORD, else the stored or a random one"},
    {"web_token", C_STR, offsetof(floe_config, web_token), 0, 0, 0,
     "API token for Authorization: Bearer (16+ chars); \"\": FLOE_API_TOKEN, else none"},
    {"web_tls_cert", C_STR, offsetof(floe_config, web_tls_cert), 0, 0, 0,
     "PEM certificate file; with web_tls_key the web UI is served over HTTPS"},
    {"web_tls_key", C_STR, offsetof(floe_config, web_tls_key), 0, 0, 0,
     "PEM private key file for web_tls_cert"},
    {"web_session_ttl", C_UINT, offsetof(floe_config, web_session_ttl), 0, 60, 2592000,
     "seconds a web login lasts"},
    {"alerts.enabled", C_BOOL, offsetof(floe_config, alerts_enabled), 0, 0, 0,
     "keep alerts in <data_dir>/alerts.db (SQLite); false: alerts are only counted"},
    {"alerts.queue_max", C_UINT, offsetof(floe_config, alerts_queue_max), 0, 64, 100000000,
     "alerts waiting for the writer; past it they are counted as dropped"},
    {"alerts.repeat_window", C_UINT, offsetof(floe_config, alerts_repeat_window), 0, 0, 86400,
     "seconds within which a one-shot alert of the same type and entity is counted, not stored"},
    {"alerts.max_age", C_UINT, offsetof(floe_config, alerts_max_age), 0, 0, 36500,
     "days past alerts are kept; 0 keeps them"},
    {"alerts.max_rows", C_UINT, offsetof(floe_config, alerts_max_rows), 0, 0, 1000000000,
     "past alerts kept at most, the oldest pruned first; 0: no bound"},
    {"alerts.exclusions", C_RULES, offsetof(floe_config, alert_exclusions),
     offsetof(floe_config, n_alert_exclusions), 0, 0,
     "rules { type =, plugin =, hosts = {...}, apps = {...}, exporters = {...} }: matching "
     "alerts are counted, not stored"},
    {"alerts.endpoints", C_ENDPOINTS, offsetof(floe_config, alert_endpoints),
     offsetof(floe_config, n_alert_endpoints), 0, 0,
     "notifications: { { type = \"webhook\", url = ... }, { type = \"syslog\", address = ... }, "
     "{ type = \"command\", command = ... } } (README)"},
    {"timeseries.enabled", C_BOOL, offsetof(floe_config, ts_enabled), 0, 0, 0,
     "write timeseries to RRD files in <data_dir>/timeseries and serve charts"},
    {"timeseries.retention", C_RETENTION, offsetof(floe_config, ts_retention), 0, 0, 0,
     "what a series keeps: RESOLUTION:SPAN items (units s m h d w y), e.g. \"1m:1d,1h:1y\""},
    {"timeseries.host_retention", C_RETENTION, offsetof(floe_config, ts_host_retention), 0, 0, 0,
     "the same for the per-host series (host:traffic, host:activity, host:ndpi)"},
    {"timeseries.retentions", C_RETENTIONS, offsetof(floe_config, ts_retentions),
     offsetof(floe_config, n_ts_retentions), 0, 0,
     "per schema: { [\"iface:traffic\"] = \"1m:1w,1h:5y\" }; wins over the two above"},
    {"timeseries.host_apps", C_UINT, offsetof(floe_config, ts_host_apps), 0, 0, 8,
     "applications per local host with a host:ndpi series: its largest ones; 0: none"},
    {"timeseries.queue_max", C_UINT, offsetof(floe_config, ts_queue_max), 0, 1000, 100000000,
     "points waiting for the RRD writer; past it the oldest are dropped and counted"},
    {"timeseries.cleanup_age", C_UINT, offsetof(floe_config, ts_cleanup_age), 0, 0, 36500,
     "days after which a series nobody writes any more is deleted; 0 keeps them"},
    {"timeseries.shutdown_max", C_UINT, offsetof(floe_config, ts_shutdown_max), 0, 0, 3600,
     "seconds a shutdown spends writing series files; the points left are saved to "
     "timeseries/pending.journal and written after the next start; 0: no limit"},
    {"rrdcached", C_STR, offsetof(floe_config, rrdcached), 0, 0, 0,
     "send RRD updates through rrdcached: \"unix:/run/rrdcached.sock\"; \"\" writes directly"},
    {"clickhouse.url", C_STR, offsetof(floe_config, ch_url), 0, 0, 0,
     "ClickHouse's HTTP interface for the flow history, \"http://127.0.0.1:8123\"; \"\": off"},
    {"clickhouse.database", C_STR, offsetof(floe_config, ch_database), 0, 0, 0,
     "the database floe creates its tables in"},
    {"clickhouse.user", C_STR, offsetof(floe_config, ch_user), 0, 0, 0,
     "ClickHouse user; \"\" sends no credentials"},
    {"clickhouse.password", C_STR, offsetof(floe_config, ch_password), 0, 0, 0,
     "its password; \"\": FLOE_CLICKHOUSE_PASSWORD, else none"},
    {"clickhouse.instance", C_STR, offsetof(floe_config, ch_instance), 0, 0, 0,
     "this floe's name in the rows ([A-Za-z0-9._-]); \"\": the host name"},
    {"clickhouse.cluster", C_STR, offsetof(floe_config, ch_cluster), 0, 0, 0,
     "a cluster of remote_servers: rows go through a Distributed table over it; \"\": none"},
    {"clickhouse.interval", C_UINT, offsetof(floe_config, ch_interval), 0, 1, 86400,
     "seconds between the rows of a long flow (each with the traffic since the last)"},
    {"clickhouse.batch_rows", C_UINT, offsetof(floe_config, ch_batch_rows), 0, 1, 1000000,
     "rows per INSERT at most"},
    {"clickhouse.batch_interval", C_UINT, offsetof(floe_config, ch_batch_interval), 0, 1, 3600,
     "seconds a row waits for its INSERT at most"},
    {"clickhouse.queue_max", C_UINT, offsetof(floe_config, ch_queue_max), 0, 1000, 100000000,
     "rows waiting in memory; past it they are dropped and counted"},
    {"clickhouse.spool_max", C_UINT, offsetof(floe_config, ch_spool_max), 0, 0, 1048576,
     "MiB of <data_dir>/history-spool, where rows wait while ClickHouse is away"},
    {"clickhouse.retention", C_UINT, offsetof(floe_config, ch_retention), 0, 0, 36500,
     "days of history kept (TTL, or old day partitions dropped); 0 keeps everything"},
    {"clickhouse.timeout", C_UINT, offsetof(floe_config, ch_timeout), 0, 1, 3600,
     "seconds a request to ClickHouse may take"},
    {"clickhouse.alerts", C_BOOL, offsetof(floe_config, ch_alerts), 0, 0, 0,
     "also export alerts, to <database>.alerts"},
};

static const char *const default_local_networks[] = {
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
};

static const char *const default_listen[] = {
    "0.0.0.0:2055", "[::]:2055", "0.0.0.0:4739", "[::]:4739", "0.0.0.0:6343", "[::]:6343",
};

int floe_config_set_str(char **dst, const char *src)
{
    char *copy = strdup(src);
    if (!copy)
        return FLOE_ENOMEM;
    free(*dst);
    *dst = copy;
    return 0;
}

static void list_free(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

int floe_config_set_list(char ***list, size_t *n, char *const *items, size_t n_items)
{
    char **copy = calloc(n_items ? n_items : 1, sizeof(*copy));
    if (!copy)
        return FLOE_ENOMEM;
    for (size_t i = 0; i < n_items; i++) {
        copy[i] = strdup(items[i]);
        if (!copy[i]) {
            list_free(copy, i);
            return FLOE_ENOMEM;
        }
    }
    list_free(*list, *n);
    *list = copy;
    *n = n_items;
    return 0;
}

int floe_config_add_list(char ***list, size_t *n, const char *item)
{
    char **grown = realloc(*list, (*n + 1) * sizeof(*grown));
    if (!grown)
        return FLOE_ENOMEM;
    *list = grown;
    grown[*n] = strdup(item);
    if (!grown[*n])
        return FLOE_ENOMEM;
    (*n)++;
    return 0;
}

static void endpoint_close(floe_alerts_endpoint *e)
{
    free((char *)e->name);
    free((char *)e->url);
    free((char *)e->address);
    free((char *)e->command);
    list_free((char **)e->types, e->n_types);
    list_free((char **)e->plugins, e->n_plugins);
}

static void endpoints_free(floe_alerts_endpoint *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        endpoint_close(&e[i]);
    free(e);
}

int floe_config_defaults(floe_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_level = FLOE_LOG_INFO;
    cfg->log_burst = 10;
    cfg->rcvbuf = 32u << 20;
    cfg->max_exporters = 4096;
    cfg->tcp_max_connections = 256;
    cfg->tcp_idle_timeout = 3600;
    cfg->tcp_stall_timeout = 30;
    cfg->template_timeout = 1800;
    cfg->max_templates_per_exporter = 1024;
    cfg->max_templates = 65536;
    cfg->tables_enabled = 1;
    cfg->web_session_ttl = 43200;
    floe_tables_opts_defaults(&cfg->tables);
    cfg->tables.prefault = 1;
    cfg->lua_memory_mb = 64;
    cfg->lua_instructions = 1000000;
    cfg->lua_failures = 5;
    cfg->lua_cpu_share = 30;
    cfg->alerts_enabled = 1;
    cfg->alerts_queue_max = 65536;
    cfg->alerts_repeat_window = 300;
    cfg->alerts_max_age = 30;
    cfg->alerts_max_rows = 10000000;
    cfg->ts_enabled = 1;
    cfg->ts_queue_max = 1000000;
    cfg->ts_host_apps = 3;
    cfg->ts_cleanup_age = 30;
    cfg->ts_shutdown_max = 20;
    cfg->ch_interval = 60;
    cfg->ch_batch_rows = 50000;
    cfg->ch_batch_interval = 5;
    cfg->ch_queue_max = 500000;
    cfg->ch_spool_max = 1024;
    cfg->ch_retention = 90;
    cfg->ch_timeout = 10;
    if (floe_config_set_list(&cfg->listen, &cfg->n_listen, (char *const *)default_listen,
                             FLOE_ARRAY_LEN(default_listen)) != 0 ||
        floe_config_set_list(&cfg->tables.local_networks, &cfg->tables.n_local_networks,
                             (char *const *)default_local_networks,
                             FLOE_ARRAY_LEN(default_local_networks)) != 0 ||
        floe_config_set_list(&cfg->plugin_dirs, &cfg->n_plugin_dirs, NULL, 0) != 0 ||
        floe_config_set_list(&cfg->listen_tcp, &cfg->n_listen_tcp, NULL, 0) != 0 ||
        floe_config_set_str(&cfg->web, "127.0.0.1:3000") != 0 ||
        floe_config_set_str(&cfg->data_dir, "./floe-data") != 0 ||
        floe_config_set_str(&cfg->builtin_plugins, "") != 0 ||
        floe_config_set_str(&cfg->checks, "{}") != 0 ||
        floe_config_set_str(&cfg->web_password, "") != 0 ||
        floe_config_set_str(&cfg->web_token, "") != 0 ||
        floe_config_set_str(&cfg->web_tls_cert, "") != 0 ||
        floe_config_set_str(&cfg->web_tls_key, "") != 0 ||
        floe_config_set_str(&cfg->ts_retention, FLOE_TS_DEFAULT_RETENTION) != 0 ||
        floe_config_set_str(&cfg->ts_host_retention, FLOE_CONFIG_HOST_RETENTION) != 0 ||
        floe_config_set_str(&cfg->rrdcached, "") != 0 ||
        floe_config_set_str(&cfg->ch_url, "") != 0 ||
        floe_config_set_str(&cfg->ch_database, "floe") != 0 ||
        floe_config_set_str(&cfg->ch_user, "") != 0 ||
        floe_config_set_str(&cfg->ch_password, "") != 0 ||
        floe_config_set_str(&cfg->ch_instance, "") != 0 ||
        floe_config_set_str(&cfg->ch_cluster, "") != 0) {
        floe_config_free(cfg);
        return FLOE_ENOMEM;
    }
    return 0;
}

void floe_config_free(floe_config *cfg)
{
    list_free(cfg->listen, cfg->n_listen);
    list_free(cfg->listen_tcp, cfg->n_listen_tcp);
    list_free(cfg->plugin_dirs, cfg->n_plugin_dirs);
    list_free(cfg->tables.local_networks, cfg->tables.n_local_networks);
    free(cfg->web);
    free(cfg->data_dir);
    free(cfg->builtin_plugins);
    free(cfg->checks);
    free(cfg->web_password);
    free(cfg->web_token);
    free(cfg->web_tls_cert);
    free(cfg->web_tls_key);
    list_free(cfg->alert_exclusions, cfg->n_alert_exclusions);
    endpoints_free(cfg->alert_endpoints, cfg->n_alert_endpoints);
    free(cfg->ts_retention);
    free(cfg->ts_host_retention);
    list_free(cfg->ts_retentions, cfg->n_ts_retentions);
    free(cfg->rrdcached);
    free(cfg->ch_url);
    free(cfg->ch_database);
    free(cfg->ch_user);
    free(cfg->ch_password);
    free(cfg->ch_instance);
    free(cfg->ch_cluster);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- the sandbox ------------------------------------------------------- */

/*
 * The environment a config runs in: an empty table reading through to the
 * sandbox's safe globals, so what the file assigns is exactly what it
 * configures. Leaves the environment at index 1.
 */
static void config_env(floe_sandbox *sb)
{
    lua_State *L = sb->L;
    lua_settop(L, 0);
    lua_newtable(L);           /* 1: env */
    lua_newtable(L);           /* 2: its metatable */
    floe_sandbox_push_env(sb); /* 3: the safe globals */
    lua_setfield(L, 2, "__index");
    lua_setmetatable(L, 1);
}

/* ---- applying values --------------------------------------------------- */

static const struct ckey *find_key(const char *path)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(schema); i++)
        if (strcmp(schema[i].path, path) == 0)
            return &schema[i];
    return NULL;
}

static int is_group(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < FLOE_ARRAY_LEN(schema); i++)
        if (strncmp(schema[i].path, path, n) == 0 && schema[i].path[n] == '.')
            return 1;
    return 0;
}

static int type_error(const struct ckey *k, lua_State *L, int idx, const char *want, char *err,
                      size_t errlen)
{
    snprintf(err, errlen, "key '%s' must be %s, not %s", k->path, want, luaL_typename(L, idx));
    return FLOE_ECONFIG;
}

static int apply_list(floe_config *cfg, const struct ckey *k, lua_State *L, int idx, char *err,
                      size_t errlen)
{
    if (!lua_istable(L, idx))
        return type_error(k, L, idx, "a list of strings", err, errlen);
    size_t n = (size_t)lua_rawlen(L, idx);
    size_t keys = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        keys++;
        lua_pop(L, 1);
    }
    if (keys != n) {
        snprintf(err, errlen, "key '%s' must be a list (a table indexed 1..n)", k->path);
        return FLOE_ECONFIG;
    }
    char **items = calloc(n ? n : 1, sizeof(*items));
    if (!items)
        return FLOE_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            snprintf(err, errlen, "key '%s' item %zu must be a string, not %s", k->path, i + 1,
                     luaL_typename(L, -1));
            free(items);
            return FLOE_ECONFIG;
        }
        items[i] = (char *)lua_tostring(L, -1); /* anchored in the table */
        lua_pop(L, 1);
    }
    char ***list = (char ***)(void *)((char *)cfg + k->off);
    size_t *count = (size_t *)(void *)((char *)cfg + k->noff);
    int rc = floe_config_set_list(list, count, items, n);
    free(items);
    return rc;
}

/* A retention string, checked by the timeseries module's own parser. */
static int check_retention(const struct ckey *k, const char *name, const char *text, char *err,
                           size_t errlen)
{
    floe_ts_retention r;
    char why[200];
    if (floe_ts_retention_parse(&r, text, why, sizeof(why)) == 0)
        return 0;
    snprintf(err, errlen, "key '%s'%s%s%s: %s", k->path, name ? " [\"" : "", name ? name : "",
             name ? "\"]" : "", why);
    return FLOE_ECONFIG;
}

/* timeseries.retentions: { [schema] = retention }, kept as "schema=retention". */
static int apply_retentions(floe_config *cfg, const struct ckey *k, lua_State *L, int idx,
                            char *err, size_t errlen)
{
    if (!lua_istable(L, idx))
        return type_error(k, L, idx, "a table of schema = retention", err, errlen);
    char **items = NULL;
    size_t n = 0;
    int rc = 0;
    lua_pushnil(L);
    while (rc == 0 && lua_next(L, idx) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
            snprintf(err, errlen, "key '%s' maps schema names to retention strings", k->path);
            rc = FLOE_ECONFIG;
        } else if ((rc = check_retention(k, lua_tostring(L, -2), lua_tostring(L, -1), err,
                                         errlen)) == 0) {
            char **grown = realloc(items, (n + 1) * sizeof(*items));
            size_t len = strlen(lua_tostring(L, -2)) + strlen(lua_tostring(L, -1)) + 2;
            char *item = grown ? malloc(len) : NULL;
            if (grown)
                items = grown;
            if (!item) {
                rc = FLOE_ENOMEM;
            } else {
                snprintf(item, len, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
                items[n++] = item;
            }
        }
        lua_pop(L, 1);
    }
    if (rc != 0) {
        lua_pop(L, 1); /* the key lua_next left */
        list_free(items, n);
        return rc;
    }
    char ***list = (char ***)(void *)((char *)cfg + k->off);
    size_t *count = (size_t *)(void *)((char *)cfg + k->noff);
    list_free(*list, *count);
    *list = items;
    *count = n;
    return 0;
}

const char *floe_config_retention(const floe_config *cfg, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < cfg->n_ts_retentions; i++)
        if (strncmp(cfg->ts_retentions[i], name, len) == 0 && cfg->ts_retentions[i][len] == '=')
            return cfg->ts_retentions[i] + len + 1;
    return strncmp(name, "host:", 5) == 0 ? cfg->ts_host_retention : NULL;
}

static int apply_string_enum(floe_config *cfg, const struct ckey *k, lua_State *L, int idx,
                             char *err, size_t errlen)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        return type_error(k, L, idx, "a string", err, errlen);
    const char *s = lua_tostring(L, idx);
    int *dst = (int *)(void *)((char *)cfg + k->off);
    int v = -1;
    if (k->type == C_LEVEL)
        v = floe_log_level_parse(s);
    else if (strcmp(s, "stderr") == 0)
        v = 0;
    else if (strcmp(s, "syslog") == 0)
        v = 1;
    if (v < 0) {
        snprintf(err, errlen, "key '%s' has a bad value '%s' (%s)", k->path, s, k->doc);
        return FLOE_ECONFIG;
    }
    *dst = v;
    return 0;
}

/* Each item of the list at idx must be a table; returns the count, or -1
 * with err set. */
static int table_list_len(const struct ckey *k, lua_State *L, int idx, char *err, size_t errlen)
{
    if (!lua_istable(L, idx)) {
        snprintf(err, errlen, "key '%s' must be a list of tables", k->path);
        return -1;
    }
    int n = (int)lua_rawlen(L, idx);
    for (int i = 1; i <= n; i++) {
        int t = lua_rawgeti(L, idx, i);
        lua_pop(L, 1);
        if (t != LUA_TTABLE) {
            snprintf(err, errlen, "key '%s' item %d must be a table", k->path, i);
            return -1;
        }
    }
    return n;
}

/* alerts.exclusions: each rule as JSON, checked by the alert store's own
 * parser so that a bad rule names its field. */
static int apply_rules(floe_config *cfg, const struct ckey *k, lua_State *L, int idx, char *err,
                       size_t errlen)
{
    int n = table_list_len(k, L, idx, err, errlen);
    if (n < 0)
        return FLOE_ECONFIG;
    char **items = calloc((size_t)n + 1, sizeof(*items));
    if (!items)
        return FLOE_ENOMEM;
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        char why[256];
        floe_alert_rule r;
        lua_rawgeti(L, idx, i + 1);
        items[i] = floe_plugins_lua_json(L, -1);
        lua_pop(L, 1);
        if (!items[i])
            rc = FLOE_ENOMEM;
        else if (floe_alert_rule_parse(&r, items[i], strlen(items[i]), why, sizeof(why)) != 0) {
            snprintf(err, errlen, "key '%s' item %d: %s", k->path, i + 1, why);
            rc = FLOE_ECONFIG;
        } else {
            floe_alert_rule_close(&r);
        }
    }
    if (rc == 0) {
        char ***list = (char ***)(void *)((char *)cfg + k->off);
        size_t *count = (size_t *)(void *)((char *)cfg + k->noff);
        list_free(*list, *count);
        *list = items;
        *count = (size_t)n;
        return 0;
    }
    list_free(items, (size_t)n);
    return rc;
}

/* A string field of the endpoint table at idx, copied (NULL if absent). */
static int endpoint_str(lua_State *L, int idx, const char *key, const char **dst)
{
    lua_getfield(L, idx, key);
    int t = lua_type(L, -1);
    if (t == LUA_TSTRING && !(*dst = strdup(lua_tostring(L, -1))))
        t = -1;
    lua_pop(L, 1);
    return t == LUA_TNIL || t == LUA_TSTRING ? 0 : -1;
}

static int endpoint_list(lua_State *L, int idx, const char *key, const char *const **dst, size_t *n)
{
    lua_getfield(L, idx, key);
    int rc = 0;
    if (lua_istable(L, -1)) {
        size_t len = (size_t)lua_rawlen(L, -1);
        char **items = calloc(len + 1, sizeof(*items));
        for (size_t i = 0; items && i < len && rc == 0; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i + 1);
            rc =
                lua_type(L, -1) == LUA_TSTRING && (items[i] = strdup(lua_tostring(L, -1))) ? 0 : -1;
            lua_pop(L, 1);
        }
        *dst = (const char *const *)items;
        *n = items ? len : 0;
        rc = items ? rc : -1;
    } else if (!lua_isnil(L, -1)) {
        rc = -1;
    }
    lua_pop(L, 1);
    return rc;
}

static const char *const endpoint_keys[] = {
    "type",       "name",      "url",       "address",      "command", "min_severity",
    "entities",   "types",     "plugins",   "rate_per_min", "retries", "timeout_ms",
    "backoff_ms", "queue_max", "batch_max", "facility",
};

static int endpoint_uint(lua_State *L, int idx, const char *key, uint32_t *dst)
{
    lua_getfield(L, idx, key);
    int ok = 1, isint = 0;
    if (!lua_isnil(L, -1)) {
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        ok = isint && v >= 0 && v <= 0x7fffffff;
        if (ok)
            *dst = (uint32_t)v;
    }
    lua_pop(L, 1);
    return ok ? 0 : -1;
}

/* One endpoint from the table at idx; a bad field is named in why. */
static int endpoint_read(floe_alerts_endpoint *e, lua_State *L, int idx, char *why, size_t len)
{
    static const char *const types[] = {"webhook", "syslog", "command"};
    static const char *const nums[] = {"rate_per_min", "retries",   "timeout_ms",
                                       "backoff_ms",   "queue_max", "batch_max"};
    lua_getfield(L, idx, "type");
    const char *type = lua_tostring(L, -1);
    int t = -1;
    for (int i = 0; type && i < 3; i++)
        if (strcmp(type, types[i]) == 0)
            t = i;
    lua_pop(L, 1);
    if (t < 0)
        return snprintf(why, len, "type must be webhook, syslog or command"), -1;
    floe_alerts_endpoint_defaults(e, t);
    static const int types_enum[] = {FLOE_ENDPOINT_WEBHOOK, FLOE_ENDPOINT_SYSLOG,
                                     FLOE_ENDPOINT_COMMAND};
    e->type = types_enum[t];
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
        size_t i = 0;
        while (i < FLOE_ARRAY_LEN(endpoint_keys) && strcmp(k, endpoint_keys[i]) != 0)
            i++;
        if (i == FLOE_ARRAY_LEN(endpoint_keys)) {
            lua_pop(L, 1);
            return snprintf(why, len, "unknown key '%s'", k), -1;
        }
    }
    if (endpoint_str(L, idx, "name", &e->name) || endpoint_str(L, idx, "url", &e->url) ||
        endpoint_str(L, idx, "address", &e->address) ||
        endpoint_str(L, idx, "command", &e->command))
        return snprintf(why, len, "name, url, address and command are strings"), -1;
    if (endpoint_list(L, idx, "types", &e->types, &e->n_types) ||
        endpoint_list(L, idx, "plugins", &e->plugins, &e->n_plugins))
        return snprintf(why, len, "types and plugins are lists of names"), -1;
    uint32_t *dst[] = {&e->rate_per_min, &e->retries,   &e->timeout_ms,
                       &e->backoff_ms,   &e->queue_max, &e->batch_max};
    for (size_t i = 0; i < FLOE_ARRAY_LEN(nums); i++)
        if (endpoint_uint(L, idx, nums[i], dst[i]) != 0)
            return snprintf(why, len, "%s must be a whole number", nums[i]), -1;
    uint32_t facility = (uint32_t)e->facility;
    if (endpoint_uint(L, idx, "facility", &facility) != 0 || facility > 23)
        return snprintf(why, len, "facility must be from 0 to 23"), -1;
    e->facility = (int)facility;
    lua_getfield(L, idx, "min_severity");
    const char *sev = lua_tostring(L, -1);
    int bad = sev && (e->min_severity = floe_severity_parse(sev)) < 0;
    lua_pop(L, 1);
    if (bad)
        return snprintf(why, len, "min_severity '%s' is not a severity", sev), -1;
    lua_getfield(L, idx, "entities");
    for (lua_Integer i = 1; lua_istable(L, -1) && i <= (lua_Integer)lua_rawlen(L, -1); i++) {
        lua_rawgeti(L, -1, i);
        int ent = lua_tostring(L, -1) ? floe_entity_parse(lua_tostring(L, -1)) : -1;
        lua_pop(L, 1);
        if (ent < 0) {
            lua_pop(L, 1);
            return snprintf(why, len, "entities item %d is not an entity type", (int)i), -1;
        }
        e->entity_mask |= 1u << ent;
    }
    lua_pop(L, 1);
    if (e->type == FLOE_ENDPOINT_WEBHOOK && !e->url)
        return snprintf(why, len, "a webhook needs a url"), -1;
    if (e->type == FLOE_ENDPOINT_SYSLOG && !e->address)
        return snprintf(why, len, "syslog needs an address HOST:PORT"), -1;
    if (e->type == FLOE_ENDPOINT_COMMAND && !e->command)
        return snprintf(why, len, "a command endpoint needs a command"), -1;
    return 0;
}

static int apply_endpoints(floe_config *cfg, const struct ckey *k, lua_State *L, int idx, char *err,
                           size_t errlen)
{
    int n = table_list_len(k, L, idx, err, errlen);
    if (n < 0)
        return FLOE_ECONFIG;
    floe_alerts_endpoint *eps = calloc((size_t)n + 1, sizeof(*eps));
    if (!eps)
        return FLOE_ENOMEM;
    for (int i = 0; i < n; i++) {
        char why[200];
        lua_rawgeti(L, idx, i + 1);
        int rc = endpoint_read(&eps[i], L, lua_gettop(L), why, sizeof(why));
        lua_pop(L, 1);
        if (rc != 0) {
            snprintf(err, errlen, "key '%s' item %d: %s", k->path, i + 1, why);
            endpoints_free(eps, (size_t)i + 1);
            return FLOE_ECONFIG;
        }
    }
    endpoints_free(cfg->alert_endpoints, cfg->n_alert_endpoints);
    cfg->alert_endpoints = eps;
    cfg->n_alert_endpoints = (size_t)n;
    return 0;
}

static int apply_value(floe_config *cfg, const struct ckey *k, lua_State *L, int idx, char *err,
                       size_t errlen)
{
    switch (k->type) {
    case C_STR:
        if (lua_type(L, idx) != LUA_TSTRING)
            return type_error(k, L, idx, "a string", err, errlen);
        return floe_config_set_str((char **)(void *)((char *)cfg + k->off), lua_tostring(L, idx));
    case C_LIST:
        return apply_list(cfg, k, L, idx, err, errlen);
    case C_RULES:
        return apply_rules(cfg, k, L, idx, err, errlen);
    case C_RETENTION:
        if (lua_type(L, idx) != LUA_TSTRING)
            return type_error(k, L, idx, "a string", err, errlen);
        if (check_retention(k, NULL, lua_tostring(L, idx), err, errlen) != 0)
            return FLOE_ECONFIG;
        return floe_config_set_str((char **)(void *)((char *)cfg + k->off), lua_tostring(L, idx));
    case C_RETENTIONS:
        return apply_retentions(cfg, k, L, idx, err, errlen);
    case C_ENDPOINTS:
        return apply_endpoints(cfg, k, L, idx, err, errlen);
    case C_TABLE: {
        if (!lua_istable(L, idx))
            return type_error(k, L, idx, "a table", err, errlen);
        char *json = floe_plugins_lua_json(L, idx);
        if (!json)
            return FLOE_ENOMEM;
        free(*(char **)(void *)((char *)cfg + k->off));
        *(char **)(void *)((char *)cfg + k->off) = json;
        return 0;
    }
    case C_UINT: {
        int isint = 0;
        lua_Integer v = lua_tointegerx(L, idx, &isint);
        if (lua_type(L, idx) != LUA_TNUMBER || !isint)
            return type_error(k, L, idx, "an integer", err, errlen);
        if (v < (lua_Integer)k->min || (uint64_t)v > k->max) {
            snprintf(err, errlen, "key '%s' must be from %llu to %llu, not %lld", k->path,
                     (unsigned long long)k->min, (unsigned long long)k->max, (long long)v);
            return FLOE_ECONFIG;
        }
        *(uint32_t *)(void *)((char *)cfg + k->off) = (uint32_t)v;
        return 0;
    }
    case C_BOOL:
        if (lua_type(L, idx) != LUA_TBOOLEAN)
            return type_error(k, L, idx, "true or false", err, errlen);
        *(int *)(void *)((char *)cfg + k->off) = lua_toboolean(L, idx);
        return 0;
    case C_LEVEL:
    case C_TARGET:
        return apply_string_enum(cfg, k, L, idx, err, errlen);
    }
    return FLOE_EINVAL;
}

/* Walks the table at idx; prefix is the dotted path of that table. */
static int apply_table(floe_config *cfg, lua_State *L, int idx, const char *prefix, char *err,
                       size_t errlen)
{
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int vidx = lua_gettop(L);
        if (lua_type(L, -2) != LUA_TSTRING) {
            snprintf(err, errlen, "keys must be names; found a %s key%s%s", luaL_typename(L, -2),
                     *prefix ? " in " : "", prefix);
            return FLOE_ECONFIG;
        }
        char path[128];
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", lua_tostring(L, -2));
        int rc;
        const struct ckey *k = find_key(path);
        if (k) {
            rc = apply_value(cfg, k, L, vidx, err, errlen);
        } else if (is_group(path)) {
            if (!lua_istable(L, vidx)) {
                snprintf(err, errlen, "key '%s' must be a table, not %s", path,
                         luaL_typename(L, vidx));
                return FLOE_ECONFIG;
            }
            rc = apply_table(cfg, L, vidx, path, err, errlen);
        } else {
            snprintf(err, errlen, "unknown key '%s'", path);
            return FLOE_ECONFIG;
        }
        if (rc != 0) {
            if (rc == FLOE_ENOMEM)
                snprintf(err, errlen, "out of memory");
            return rc;
        }
        lua_pop(L, 1);
    }
    return 0;
}

int floe_config_load_string(floe_config *cfg, const char *text, const char *name, char *err,
                            size_t errlen)
{
    floe_sandbox sb;
    int rc = floe_sandbox_open(&sb, CONFIG_MEM_LIMIT, err, errlen);
    if (rc != 0)
        return rc;
    config_env(&sb);
    rc = floe_sandbox_load(&sb, text, strlen(text), name, 1, err, errlen);
    if (rc == 0)
        rc = floe_sandbox_call(&sb, 0, 0, CONFIG_INSN_LIMIT, err, errlen);
    if (rc == FLOE_ELIMIT)
        snprintf(err, errlen, "the config ran too long (more than %d instructions)",
                 CONFIG_INSN_LIMIT);
    if (rc != 0) {
        floe_sandbox_close(&sb);
        return FLOE_ECONFIG;
    }
    rc = apply_table(cfg, sb.L, 1, "", err, errlen);
    floe_sandbox_close(&sb);
    if (rc == 0)
        rc = floe_config_validate(cfg, err, errlen);
    return rc;
}

int floe_config_load(floe_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open config %s: %s", path, strerror(errno));
        return FLOE_EIO;
    }
    floe_buf b;
    floe_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < (4u << 20))
        floe_buf_append(&b, chunk, n);
    int bad = ferror(f) || !floe_buf_ok(&b) || b.len >= (4u << 20);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "cannot read config %s (unreadable or over 4 MiB)", path);
        floe_buf_close(&b);
        return FLOE_EIO;
    }
    char msg[512];
    int rc = floe_config_load_string(cfg, b.data ? b.data : "", path, msg, sizeof(msg));
    floe_buf_close(&b);
    if (rc != 0) {
        /* Lua's own messages already start with the file name. */
        if (strncmp(msg, path, strlen(path)) == 0)
            snprintf(err, errlen, "config %s", msg);
        else
            snprintf(err, errlen, "config %s: %s", path, msg);
    }
    return rc;
}

static int validate_endpoints(const char *key, char *const *list, size_t n, char *err,
                              size_t errlen)
{
    struct sockaddr_storage ss;
    char why[128];
    for (size_t i = 0; i < n; i++) {
        if (floe_endpoint_parse(list[i], &ss, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "key '%s' item %zu '%s': %s", key, i + 1, list[i], why);
            return FLOE_ECONFIG;
        }
    }
    return 0;
}

/* The clickhouse.* keys, by the history module's own rules. */
static int history_check(const floe_config *cfg, char *err, size_t errlen)
{
    floe_history_opts o;
    floe_history_opts_defaults(&o);
    o.url = cfg->ch_url;
    o.database = cfg->ch_database;
    o.instance = cfg->ch_instance;
    o.cluster = cfg->ch_cluster;
    return floe_history_opts_check(&o, err, errlen);
}

int floe_config_validate(const floe_config *cfg, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    char why[128];

    if (validate_endpoints("listen", cfg->listen, cfg->n_listen, err, errlen) != 0 ||
        validate_endpoints("listen_tcp", cfg->listen_tcp, cfg->n_listen_tcp, err, errlen) != 0)
        return FLOE_ECONFIG;
    if (cfg->web[0] && floe_endpoint_parse(cfg->web, &ss, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "key 'web' '%s': %s", cfg->web, why);
        return FLOE_ECONFIG;
    }
    if (cfg->data_dir[0] == '\0') {
        snprintf(err, errlen, "key 'data_dir' must not be empty");
        return FLOE_ECONFIG;
    }
    for (size_t i = 0; i < cfg->tables.n_local_networks; i++) {
        floe_net n;
        if (floe_net_parse(&n, cfg->tables.local_networks[i]) != 0) {
            snprintf(err, errlen, "key 'local_networks' item %zu '%s': expected ADDR/BITS", i + 1,
                     cfg->tables.local_networks[i]);
            return FLOE_ECONFIG;
        }
    }
    if (cfg->web_password[0] &&
        (strlen(cfg->web_password) < 8 || strlen(cfg->web_password) > 1024)) {
        snprintf(err, errlen, "key 'web_password' must be 8 to 1024 characters");
        return FLOE_ECONFIG;
    }
    if (cfg->web_token[0] && strlen(cfg->web_token) < 16) {
        snprintf(err, errlen, "key 'web_token' must be 16 characters at least");
        return FLOE_ECONFIG;
    }
    if (!cfg->web_tls_cert[0] != !cfg->web_tls_key[0]) {
        snprintf(err, errlen, "key '%s' is needed with '%s' for HTTPS",
                 cfg->web_tls_cert[0] ? "web_tls_key" : "web_tls_cert",
                 cfg->web_tls_cert[0] ? "web_tls_cert" : "web_tls_key");
        return FLOE_ECONFIG;
    }
    if (cfg->ch_url[0] && history_check(cfg, err, errlen) != 0)
        return FLOE_ECONFIG;
    if (cfg->max_templates_per_exporter > cfg->max_templates) {
        snprintf(err, errlen, "key 'templates.max_per_exporter' (%u) exceeds 'templates.max' (%u)",
                 cfg->max_templates_per_exporter, cfg->max_templates);
        return FLOE_ECONFIG;
    }
    return 0;
}

/* ---- the example ------------------------------------------------------- */

static void describe_value(floe_buf *out, const floe_config *cfg, const struct ckey *k)
{
    const char *base = (const char *)cfg + k->off;
    switch (k->type) {
    case C_STR:
    case C_RETENTION:
        floe_buf_printf(out, "\"%s\"", *(char *const *)(const void *)base);
        break;
    case C_TABLE: /* only ever empty as a default */
    case C_RETENTIONS:
    case C_RULES:
    case C_ENDPOINTS:
        floe_buf_puts(out, "{}");
        break;
    case C_LIST: {
        char *const *list = *(char **const *)(const void *)base;
        size_t n = *(const size_t *)(const void *)((const char *)cfg + k->noff);
        floe_buf_puts(out, "{");
        for (size_t i = 0; i < n; i++)
            floe_buf_printf(out, "%s\"%s\"", i ? ", " : " ", list[i]);
        floe_buf_puts(out, n ? " }" : "}");
        break;
    }
    case C_UINT:
        floe_buf_printf(out, "%u", *(const uint32_t *)(const void *)base);
        break;
    case C_BOOL:
        floe_buf_puts(out, *(const int *)(const void *)base ? "true" : "false");
        break;
    case C_LEVEL:
        floe_buf_printf(out, "\"%s\"", floe_log_level_name(*(const int *)(const void *)base));
        break;
    case C_TARGET:
        floe_buf_puts(out, *(const int *)(const void *)base ? "\"syslog\"" : "\"stderr\"");
        break;
    }
}

void floe_config_describe(floe_buf *out)
{
    floe_config def;
    if (floe_config_defaults(&def) != 0)
        return;
    floe_buf_puts(out, "-- floe configuration. Every key is optional; the values shown are the\n"
                       "-- built-in defaults. The file is Lua, run without io, os or require.\n");
    char group[64] = "";
    for (size_t i = 0; i < FLOE_ARRAY_LEN(schema); i++) {
        const struct ckey *k = &schema[i];
        const char *dot = strchr(k->path, '.');
        char g[64] = "";
        if (dot)
            snprintf(g, sizeof(g), "%.*s", (int)(dot - k->path), k->path);
        if (strcmp(g, group) != 0) {
            if (group[0])
                floe_buf_puts(out, "}\n");
            if (g[0])
                floe_buf_printf(out, "\n%s = {\n", g);
            snprintf(group, sizeof(group), "%s", g);
        }
        floe_buf_printf(out, "%s%s-- %s\n%s%s = ", g[0] ? "" : "\n", g[0] ? "    " : "", k->doc,
                        g[0] ? "    " : "", dot ? dot + 1 : k->path);
        describe_value(out, &def, k);
        floe_buf_puts(out, g[0] ? ",\n" : "\n");
    }
    if (group[0])
        floe_buf_puts(out, "}\n");
    floe_config_free(&def);
}
