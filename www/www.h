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
 * Authentication hook: returns 1 to let the request through. With no hook,
 * everything is let through (authentication arrives with the web UI).
 */
typedef int (*floe_www_auth)(floe_www_req *req, void *ud);

/*
 * Starts a server on endpoint ("ADDR:PORT") driven by loop. Returns NULL with
 * a one-line reason in err. The server owns nothing of the caller's.
 */
floe_www *floe_www_new(uv_loop_t *loop, const char *endpoint, floe_log *log, char *err,
                       size_t errlen);
/* Stops listening and closes connections; the struct is freed once its libuv
 * handles have closed. Safe on NULL. */
void floe_www_free(floe_www *w);

/* Adds a route. Returns 0 or FLOE_ENOMEM. Earlier routes win. */
int floe_www_route(floe_www *w, const char *method, const char *path, unsigned flags,
                   floe_www_handler h, void *ud);
void floe_www_set_auth(floe_www *w, floe_www_auth auth, void *ud);
/* The address actually bound (port 0 becomes the kernel's choice). */
const char *floe_www_endpoint(const floe_www *w);
uint64_t floe_www_requests(const floe_www *w);

const char *floe_www_method(const floe_www_req *r);
const char *floe_www_path(const floe_www_req *r);
/* For a prefix route, what follows the prefix ("" if nothing). */
const char *floe_www_path_rest(const floe_www_req *r);
/* A query argument, or NULL. */
const char *floe_www_query(const floe_www_req *r, const char *key);
const char *floe_www_header(const floe_www_req *r, const char *name);
/* The request body, for methods that have one (capped at 1 MiB). */
const char *floe_www_body(const floe_www_req *r, size_t *len);

/*
 * Long work: suspend the request, do the work in slices on the loop (or on
 * the work queue), then send a reply with any floe_www_reply* call, which
 * resumes it. If the server shuts down first, cancel(ud) is called and the
 * request is answered 503; the caller must then forget req.
 */
void floe_www_suspend(floe_www_req *r, void (*cancel)(void *ud), void *ud);

/* Sends a response; body is copied. */
void floe_www_reply(floe_www_req *r, unsigned status, const char *content_type, const char *body,
                    size_t len);
/* Sends b's bytes as application/json and resets b. */
void floe_www_reply_json(floe_www_req *r, unsigned status, floe_buf *b);
/* Sends {"error": message}. */
void floe_www_reply_error(floe_www_req *r, unsigned status, const char *message);

/* The JSON API of the engine (www/api.c) and of its tables (www/api_tables.c).
 * The engine must outlive the server. */
int floe_api_register(floe_www *w, struct floe_engine *e);
int floe_api_tables_register(floe_www *w, struct floe_engine *e);
int floe_api_plugins_register(floe_www *w, struct floe_engine *e);

#endif /* FLOE_WWW_H */
