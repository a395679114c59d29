/*
 * www: floe's HTTP server. libmicrohttpd does the protocol; it runs without
 * a thread of its own, driven from the libuv loop through its epoll fd, so
 * every handler runs on the loop thread and reads floe's tables without
 * locks. Why libmicrohttpd: it is packaged in Debian 12 (llhttp is not, and
 * http-parser is archived), it is mature against hostile clients (limits on
 * connections, headers and timeouts), and its external-select mode hands
 * control to our loop instead of imposing its own. Slow handlers (charts)
 * will suspend their connection, run on the libuv work queue, and resume.
 *
 * Routes are a table: method, path (exact or prefix), flags, handler.
 * Every route needs authentication unless it is flagged FLOE_WWW_PUBLIC:
 * with no authentication hook installed, non-public routes answer 401, so
 * a route added later cannot be left open by forgetting it (www/auth.c is
 * the hook; tests/integration/test_web.py walks the live route table).
 *
 * Every response carries the security headers (a Content-Security-Policy
 * allowing only floe's own scripts and styles, no framing, no sniffing,
 * no referrer across origins) and, but for static assets, no-store.
 */
#ifndef FLOE_WWW_H
#define FLOE_WWW_H

#include <stddef.h>
#include <uv.h>

#include "util/util.h"

typedef struct floe_www floe_www;
typedef struct floe_www_req floe_www_req;
struct floe_engine;

/* A handler must call one floe_www_reply* before it returns. */
typedef void (*floe_www_handler)(floe_www_req *req, void *ud);

enum floe_www_flags {
    FLOE_WWW_PREFIX = 1, /* path matches every path that starts with it */
    FLOE_WWW_PUBLIC = 2, /* no authentication (login page, static assets) */
};

/*
 * Authentication hook: returns 1 to let the request through. When it
 * returns 0 it may have replied itself (a redirect to the login page);
 * if not, the server answers 401. With no hook, every non-public route
 * answers 401.
 */
typedef int (*floe_www_auth)(floe_www_req *req, void *ud);

/*
 * Starts a server on endpoint ("ADDR:PORT") driven by loop. Returns NULL with
 * a one-line reason in err. The server owns nothing of the caller's.
 */
floe_www *floe_www_new(uv_loop_t *loop, const char *endpoint, floe_log *log, char *err,
                       size_t errlen);
/*
 * The same over HTTPS when cert_file and key_file (PEM paths) are both
 * non-empty: libmicrohttpd's TLS (GnuTLS on Debian). The files are read
 * here, once. Returns NULL with a one-line reason naming the file in err
 * when one is unreadable or the pair does not load, or when this
 * libmicrohttpd was built without TLS.
 */
floe_www *floe_www_new_tls(uv_loop_t *loop, const char *endpoint, const char *cert_file,
                           const char *key_file, floe_log *log, char *err, size_t errlen);
/* Stops listening and closes connections; the struct is freed once its libuv
 * handles have closed. Safe on NULL. */
void floe_www_free(floe_www *w);

/* Adds a route. Returns 0 or FLOE_ENOMEM. Earlier routes win. */
int floe_www_route(floe_www *w, const char *method, const char *path, unsigned flags,
                   floe_www_handler h, void *ud);
/* A module's routes as a table, one row each, all with the same ud. */
typedef struct floe_www_route_def {
    const char *method;
    const char *path;
    unsigned flags;
    floe_www_handler handler;
} floe_www_route_def;
int floe_www_routes(floe_www *w, const floe_www_route_def *defs, size_t n, void *ud);
void floe_www_set_auth(floe_www *w, floe_www_auth auth, void *ud);
/* The address actually bound (port 0 becomes the kernel's choice). */
const char *floe_www_endpoint(const floe_www *w);
uint64_t floe_www_requests(const floe_www *w);
/* 1 when the server speaks HTTPS. */
int floe_www_tls(const floe_www *w);
/* The loop the server runs on (for handlers that queue work). */
uv_loop_t *floe_www_loop(const floe_www *w);

/* Data that lives as long as the server (the web UI's context): freed
 * with free_fn when the server is. One per server. Returns 0, or
 * FLOE_EEXISTS when data is already set. */
int floe_www_set_data(floe_www *w, void *data, void (*free_fn)(void *));
void *floe_www_data(const floe_www *w);

/* The route table, for listing and for the test that every route asks
 * for authentication: route i's method, path and flags. Returns 0, or
 * FLOE_ENOTFOUND past the last route. */
size_t floe_www_route_count(const floe_www *w);
int floe_www_route_at(const floe_www *w, size_t i, const char **method, const char **path,
                      unsigned *flags);

const char *floe_www_method(const floe_www_req *r);
const char *floe_www_path(const floe_www_req *r);
/* For a prefix route, what follows the prefix ("" if nothing). */
const char *floe_www_path_rest(const floe_www_req *r);
/* A query argument, or NULL. */
const char *floe_www_query(const floe_www_req *r, const char *key);
/* The first max query arguments in order (a key without a value has "");
 * returns how many. The strings live as long as the request's handler. */
size_t floe_www_query_all(const floe_www_req *r, const char **keys, const char **values,
                          size_t max);
const char *floe_www_header(const floe_www_req *r, const char *name);
/* The request body, for methods that have one (capped at 1 MiB). */
const char *floe_www_body(const floe_www_req *r, size_t *len);
/* A cookie sent with the request, or NULL. */
const char *floe_www_cookie(const floe_www_req *r, const char *name);
/*
 * A field of an application/x-www-form-urlencoded body, decoded into out
 * (NUL-terminated). Returns its length, or FLOE_ENOTFOUND (absent, or the
 * body is not a form) or FLOE_ELIMIT (longer than outlen - 1).
 */
int floe_www_form(const floe_www_req *r, const char *key, char *out, size_t outlen);
/* The client's address; 0, or FLOE_EINVAL when unknown. */
int floe_www_client(const floe_www_req *r, floe_addr *out);
/* The server the request came to. */
floe_www *floe_www_server(const floe_www_req *r);
/* Who the authentication hook let in ("admin", "token"), or NULL before
 * that or on a public route. The hook sets it; the string must be static. */
void floe_www_set_user(floe_www_req *r, const char *user);
const char *floe_www_user(const floe_www_req *r);
/* Request-scoped data for the auth hook to hand to handlers (the session's
 * CSRF token); borrowed, must outlive the request's handler. */
void floe_www_set_session(floe_www_req *r, void *session);
void *floe_www_session(const floe_www_req *r);

/*
 * Adds a header to the response this request will get (Set-Cookie may be
 * added more than once). Copies both. Returns 0 or FLOE_ENOMEM.
 */
int floe_www_add_header(floe_www_req *r, const char *name, const char *value);

/*
 * Long work: suspend the request, do the work in slices on the loop (or on
 * the work queue), then send a reply with any floe_www_reply* call, which
 * resumes it. If the server shuts down first, cancel(ud) is called and the
 * request is answered 503; the caller must then forget req.
 */
void floe_www_suspend(floe_www_req *r, void (*cancel)(void *ud), void *ud);

/*
 * Blocking work for a request (a query, a fetch, a chart): fn runs on a
 * libuv worker thread and fills the body, the status (200 unless it sets
 * another) and the content type (JSON unless it sets another, a static
 * string); the reply is sent from the loop. fn must not touch what the
 * loop owns. free_ud(ud) runs on the loop when the work is done, also when
 * the client went away meanwhile.
 */
typedef void (*floe_www_work)(void *ud, floe_buf *out, unsigned *status, const char **content_type);
void floe_www_offload(floe_www_req *req, floe_www_work fn, void *ud, void (*free_ud)(void *));

/* Sends a response; body is copied. */
void floe_www_reply(floe_www_req *r, unsigned status, const char *content_type, const char *body,
                    size_t len);
/* Sends b's bytes as application/json and resets b. */
void floe_www_reply_json(floe_www_req *r, unsigned status, floe_buf *b);
/* Sends {"error": message}. */
void floe_www_reply_error(floe_www_req *r, unsigned status, const char *message);
/* Sends b's bytes as text/html and resets b. */
void floe_www_reply_html(floe_www_req *r, unsigned status, floe_buf *b);
/* Sends a redirect (303 See Other) to location, a path on this server. */
void floe_www_redirect(floe_www_req *r, const char *location);
/*
 * Sends bytes that outlive the server (embedded assets) without copying
 * them, cached by the browser for max_age_s seconds (0: revalidate).
 */
void floe_www_reply_static(floe_www_req *r, const char *content_type, const void *data, size_t len,
                           unsigned max_age_s);

/* The JSON API of the engine (www/api.c) and of its tables (www/api_tables.c).
 * The engine must outlive the server. */
int floe_api_register(floe_www *w, struct floe_engine *e);
int floe_api_tables_register(floe_www *w, struct floe_engine *e);
int floe_api_plugins_register(floe_www *w, struct floe_engine *e);
int floe_api_alerts_register(floe_www *w, struct floe_engine *e);
int floe_api_ts_register(floe_www *w, struct floe_engine *e);
int floe_api_history_register(floe_www *w, struct floe_engine *e);

/* ---- authentication (www/auth.c) --------------------------------------- */

struct floe_config;
typedef struct floe_auth floe_auth;

/*
 * The admin password, the API token and the login sessions.
 *
 * The password is web_password from the config, else FLOE_ADMIN_PASSWORD;
 * failing both, floe makes a random one on first start and writes it once
 * to the log and to <data_dir>/initial-admin-password (mode 0600). It is
 * kept as a yescrypt hash in <data_dir>/web-password (0600), so a change
 * made on the account page survives restarts; a configured password
 * replaces it whenever the configured password itself changes. Hashing
 * and every file access run on the libuv work queue, never on the loop:
 * until the stored password is loaded, logins answer 503.
 *
 * The API token is web_token, else FLOE_API_TOKEN (none: no bearer
 * access). Sessions are random 256-bit ids in an HttpOnly, SameSite=Strict
 * cookie (Secure under TLS), at most FLOE_AUTH_MAX_SESSIONS of them (the
 * oldest goes), each lasting web_session_ttl seconds. A cookie request
 * that changes state (POST, PUT, DELETE, PATCH) must carry its session's
 * CSRF token (X-CSRF-Token header or a csrf form field); bearer requests
 * need none. Logins are rate-limited per client address and overall.
 *
 * Returns NULL with a one-line reason in err (a token or password too
 * short, naming its key or variable). cfg is read, not kept.
 */
#define FLOE_AUTH_MAX_SESSIONS 64
floe_auth *floe_auth_new(uv_loop_t *loop, const struct floe_config *cfg, floe_log *log, char *err,
                         size_t errlen);
/* Applies a reloaded config (password, token, session lifetime). Returns
 * 0 or FLOE_ECONFIG with the reason in err, keeping the old settings. */
int floe_auth_reconfigure(floe_auth *a, const struct floe_config *cfg, char *err, size_t errlen);
/* Frees a; work still running on the queue finishes and is discarded.
 * Safe on NULL. */
void floe_auth_free(floe_auth *a);
/* Installs a as w's authentication hook and adds /login, /logout and
 * /account/password. a must outlive w. Returns 0 or FLOE_ENOMEM. */
int floe_auth_register(floe_auth *a, floe_www *w);
/* 1 once the stored password is loaded and logins are served. */
int floe_auth_ready(const floe_auth *a);
/* The CSRF token of the request's session, or "" for a bearer request. */
const char *floe_auth_csrf(const floe_www_req *r);

/* ---- the web UI (www/pages.c, www/html.c, www/static/) ------------------ */

/*
 * Registers every route floe serves: the JSON API (floe_api_register), the
 * pages, the static assets and the authentication routes, and installs a
 * as the authentication hook. The daemon calls this; so does the test
 * that walks the route table. Returns 0 or FLOE_ENOMEM.
 */
int floe_web_register(floe_www *w, struct floe_engine *e, floe_auth *a);

/* Appends s to b with &, <, >, " and ' escaped for HTML text and quoted
 * attribute values. NULL appends nothing. */
void floe_html_escape(floe_buf *b, const char *s);
/*
 * A template that escapes by default: appends tpl to b, replacing each
 * "{}" with the next const char * argument escaped (floe_html_escape) and
 * each "{!}" with the next one as it is (for markup the caller built and
 * trusts). The arguments must match the placeholders in number.
 */
void floe_html_tpl(floe_buf *b, const char *tpl, ...);

/*
 * The seam for plugin pages. A menu entry a plugin adds (its
 * web_gui/menu.lua): the nav bar shows title, linking to href, which is
 * /plugins/{plugin}/{page}.
 */
typedef struct floe_web_menu_item {
    char title[64];
    char href[160];
} floe_web_menu_item;

/* Fills at most max menu entries that plugins add (their web_gui/menu.lua,
 * in load order; www/plugin_pages.c) and returns how many. */
size_t floe_web_menu_extra(struct floe_engine *e, floe_web_menu_item *out, size_t max);
/*
 * Renders page `page` of plugin `plugin` (both already checked to be
 * [A-Za-z0-9_-]) as an HTML fragment appended to out, and its title into
 * title: the plugin engine runs the page's script (floe_plugins_page) and
 * each node it gives is filled into its template, escaped. The fragment
 * goes inside floe's page frame. Charts: <div class="chart"
 * data-schema="..." data-tags="..."></div> becomes an interactive chart.
 * Returns 0, FLOE_ENOTFOUND (no such plugin or page: the frame shows a
 * 404), or another negative code (a 500 with the error, naming the file
 * and the block, in title).
 */
int floe_web_plugin_page(struct floe_engine *e, const char *plugin, const char *page, floe_buf *out,
                         char *title, size_t titlelen);

#endif /* FLOE_WWW_H */
