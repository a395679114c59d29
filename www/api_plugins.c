/*
 * The plugins' API: GET /api/v1/plugins (every plugin and check with its
 * state, errors, calls, skipped runs and time), GET one plugin or check,
 * PUT a check's settings (validated against what the check declares,
 * applied at once, kept across restarts; a refusal names the setting in
 * "key"), POST /api/v1/plugins/reload.
 */
#include "engine/engine.h"
#include "www/www.h"

#include <stdio.h>
#include <stdlib.h>

static int plugins_on(floe_www_req *req, floe_engine *e)
{
    if (e->plugins)
        return 1;
    floe_www_reply_error(req, 503, "plugins need the tables (tables.enabled = false)");
    return 0;
}

static void on_list(floe_www_req *req, void *ud)
{
    floe_engine *e = ud;
    floe_buf b;
    floe_json j;
    if (!plugins_on(req, e))
        return;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_plugins_json(e->plugins, &j);
    floe_www_reply_json(req, 200, &b);
    floe_buf_close(&b);
}

static void on_reload(floe_www_req *req, void *ud)
{
    floe_engine *e = ud;
    if (!plugins_on(req, e))
        return;
    int failed = floe_engine_reload_plugins(e, 0);
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_json_ku64(&j, "failed", (uint64_t)failed);
    floe_json_key(&j, "state");
    floe_plugins_json(e->plugins, &j);
    floe_json_obj_end(&j);
    floe_www_reply_json(req, failed ? 422 : 200, &b);
    floe_buf_close(&b);
}

/* "{plugin}" or "{plugin}/checks/{check}" after the prefix. */
static int split_path(const char *rest, char *plugin, size_t plen, char *check, size_t clen)
{
    const char *slash = strchr(rest, '/');
    check[0] = '\0';
    if (!slash) {
        if (!rest[0] || strlen(rest) >= plen)
            return -1;
        snprintf(plugin, plen, "%s", rest);
        return 0;
    }
    if ((size_t)(slash - rest) >= plen || strncmp(slash, "/checks/", 8) != 0 || !slash[8] ||
        strlen(slash + 8) >= clen || strchr(slash + 8, '/'))
        return -1;
    snprintf(plugin, plen, "%.*s", (int)(slash - rest), rest);
    snprintf(check, clen, "%s", slash + 8);
    return 0;
}

static void on_one(floe_www_req *req, void *ud)
{
    floe_engine *e = ud;
    char plugin[64], check[64];
    if (!plugins_on(req, e))
        return;
    if (split_path(floe_www_path_rest(req), plugin, sizeof(plugin), check, sizeof(check)) != 0) {
        floe_www_reply_error(req, 404, "expected /api/v1/plugins/{plugin}[/checks/{check}]");
        return;
    }
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    if (floe_plugins_check_json(e->plugins, plugin, check[0] ? check : NULL, &j) != 0) {
        floe_buf_close(&b);
        floe_www_reply_error(req, 404, check[0] ? "no such check" : "no such plugin");
        return;
    }
    floe_www_reply_json(req, 200, &b);
    floe_buf_close(&b);
}

/* The setting an error is about: the engine names it as "check: 'key' ...".
 * The editor shows the message next to that field. */
static void configure_error(floe_www_req *req, unsigned status, const char *err)
{
    floe_buf b;
    floe_json j;
    char key[64] = "";
    const char *q = strstr(err, ": '");
    size_t n =
        q ? strspn(q + 3, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") : 0;
    if (q && n && n < sizeof(key) && q[3 + n] == '\'')
        snprintf(key, sizeof(key), "%.*s", (int)n, q + 3);
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_json_kstr(&j, "error", err);
    floe_json_key(&j, "key");
    if (key[0])
        floe_json_str(&j, key);
    else
        floe_json_null(&j);
    floe_json_obj_end(&j);
    floe_www_reply_json(req, status, &b);
    floe_buf_close(&b);
}

static void on_configure(floe_www_req *req, void *ud)
{
    floe_engine *e = ud;
    char plugin[64], check[64], err[512];
    size_t len;
    if (!plugins_on(req, e))
        return;
    if (split_path(floe_www_path_rest(req), plugin, sizeof(plugin), check, sizeof(check)) != 0 ||
        !check[0]) {
        floe_www_reply_error(req, 404, "expected /api/v1/plugins/{plugin}/checks/{check}");
        return;
    }
    const char *body = floe_www_body(req, &len);
    int rc = floe_plugins_configure(e->plugins, plugin, check, body, len, err, sizeof(err));
    if (rc != 0) {
        configure_error(req, rc == FLOE_ENOTFOUND ? 404 : 400, err);
        return;
    }
    on_one(req, ud);
}

/* The routes, one row each; the exact one before the prefixes. */
static const floe_www_route_def routes[] = {
    {"GET", "/api/v1/plugins", 0, on_list},
    {"POST", "/api/v1/plugins/reload", 0, on_reload},
    {"GET", "/api/v1/plugins/", FLOE_WWW_PREFIX, on_one},
    {"PUT", "/api/v1/plugins/", FLOE_WWW_PREFIX, on_configure},
};

int floe_api_plugins_register(floe_www *w, floe_engine *e)
{
    return floe_www_routes(w, routes, FLOE_ARRAY_LEN(routes), e);
}
