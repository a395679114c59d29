/*
 * The HTTP server: libmicrohttpd in external-select mode, its epoll fd
 * watched by a uv_poll and its timeouts by a uv_timer, plus the route table,
 * the security headers every response carries, and optional TLS.
 */
#include "www/www.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#define WWW_MAX_BODY        (1u << 20)
#define WWW_MAX_CONNECTIONS 256
#define WWW_MAX_PER_IP      64
#define WWW_TIMEOUT_S       30
#define WWW_MAX_PEM         (256u << 10)
#define WWW_MAX_HEADERS     8

/*
 * Sent with every response. Scripts, styles, images and fetches come from
 * floe itself only, with no inline script or style attribute: a value that
 * slipped past escaping still cannot run. No page may be framed
 * (clickjacking), and no URL leaks to another site in a Referer.
 */
static const struct {
    const char *name, *value;
} security_headers[] = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
     "base-uri 'none'"},
    {"X-Frame-Options", "DENY"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "same-origin"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
};

typedef struct route {
    char *method;
    char *path;
    size_t path_len;
    unsigned flags;
    floe_www_handler handler;
    void *ud;
} route;

struct floe_www {
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;
    int open_handles;
    floe_log *log;
    route *routes;
    size_t n_routes;
    floe_www_auth auth;
    void *auth_ud;
    uint64_t requests;
    floe_list suspended;
    uv_timer_t kick; /* runs libmicrohttpd soon after a resume */
    int tls;
    char *tls_cert, *tls_key; /* PEM text, kept while the daemon runs */
    void *data;
    void (*data_free)(void *);
    char endpoint[64];
};

struct floe_www_req {
    floe_www *w;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *rest;
    floe_buf body;
    int too_large;
    int replied;
    /* While suspended: on the server's list, with the reply kept until the
     * connection is resumed and libmicrohttpd calls us again. */
    int suspended;
    floe_list link;
    void (*cancel)(void *ud);
    void *cancel_ud;
    struct MHD_Response *pending;
    unsigned pending_status;
    const char *user; /* static, set by the auth hook */
    void *session;
    size_t n_headers;
    char *headers[WWW_MAX_HEADERS][2]; /* extra response headers, owned */
};

/* ---- the loop side ----------------------------------------------------- */

static void www_run(floe_www *w);

static void on_timer(uv_timer_t *t)
{
    www_run(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    www_run(p->data);
}

/* Runs libmicrohttpd once, then re-arms the timer from its next deadline. */
static void www_run(floe_www *w)
{
    MHD_UNSIGNED_LONG_LONG timeout;
    MHD_run(w->mhd);
    if (MHD_get_timeout(w->mhd, &timeout) == MHD_YES)
        uv_timer_start(&w->timer, on_timer, timeout, 0);
    else
        uv_timer_stop(&w->timer);
}

/* libmicrohttpd hands over its own format strings, so the format cannot be
 * a literal here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    floe_www *w = cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    log_warn_rl(w->log, "www: %s", line);
}
#pragma GCC diagnostic pop

/* ---- requests ---------------------------------------------------------- */

static const route *match_route(floe_www *w, const char *method, const char *path, int *path_known)
{
    *path_known = 0;
    for (size_t i = 0; i < w->n_routes; i++) {
        const route *r = &w->routes[i];
        int hit = (r->flags & FLOE_WWW_PREFIX) ? strncmp(path, r->path, r->path_len) == 0
                                               : strcmp(path, r->path) == 0;
        if (!hit)
            continue;
        *path_known = 1;
        if (strcmp(method, r->method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
            return r;
    }
    return NULL;
}

static void dispatch(floe_www_req *req)
{
    floe_www *w = req->w;
    int known;
    w->requests++;
    if (req->too_large) {
        floe_www_reply_error(req, 413, "request body over 1 MiB");
        return;
    }
    const route *r = match_route(w, req->method, req->path, &known);
    /* Authentication comes before "not found", so that without it every
     * path but the public ones looks the same. */
    if (!(r && (r->flags & FLOE_WWW_PUBLIC)) && (!w->auth || !w->auth(req, w->auth_ud))) {
        if (!req->replied)
            floe_www_reply_error(req, 401, "authentication required");
        return;
    }
    if (!r) {
        floe_www_reply_error(req, known ? 405 : 404, known ? "method not allowed" : "not found");
        return;
    }
    req->rest = (r->flags & FLOE_WWW_PREFIX) ? req->path + r->path_len : "";
    r->handler(req, r->ud);
    if (!req->replied)
        floe_www_reply_error(req, 500, "handler sent no response");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    floe_www_req *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof(*req));
        if (!req)
            return MHD_NO;
        req->w = cls;
        req->conn = conn;
        req->method = method;
        req->path = url;
        floe_buf_init(&req->body);
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (req->body.len + *upload_data_size > WWW_MAX_BODY)
            req->too_large = 1;
        else
            floe_buf_append(&req->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->pending) {
        MHD_queue_response(conn, req->pending_status, req->pending);
        MHD_destroy_response(req->pending);
        req->pending = NULL;
        return MHD_YES;
    }
    if (req->replied)
        return MHD_YES;
    dispatch(req);
    return MHD_YES;
}

static void headers_free(floe_www_req *req)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        free(req->headers[i][0]);
        free(req->headers[i][1]);
    }
    req->n_headers = 0;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    (void)code;
    floe_www_req *req = *con_cls;
    if (req) {
        if (req->pending)
            MHD_destroy_response(req->pending);
        headers_free(req);
        floe_buf_close(&req->body);
        free(req);
        *con_cls = NULL;
    }
}

/* ---- replies ----------------------------------------------------------- */

/* Adds the headers every response has, and the request's own, then sends
 * resp (or keeps it for when a suspended request resumes). */
static void reply_send(floe_www_req *r, unsigned status, struct MHD_Response *resp,
                       const char *content_type, const char *cache)
{
    r->replied = 1;
    if (!resp)
        return;
    if (content_type)
        MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "Cache-Control", cache);
    for (size_t i = 0; i < FLOE_ARRAY_LEN(security_headers); i++)
        MHD_add_response_header(resp, security_headers[i].name, security_headers[i].value);
    for (size_t i = 0; i < r->n_headers; i++)
        MHD_add_response_header(resp, r->headers[i][0], r->headers[i][1]);
    headers_free(r);
    if (r->suspended) {
        /* A suspended connection takes its response when resumed. */
        r->pending = resp;
        r->pending_status = status;
        r->suspended = 0;
        floe_list_remove(&r->link);
        MHD_resume_connection(r->conn);
        uv_timer_start(&r->w->kick, on_timer, 0, 0);
        return;
    }
    MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
}

static void reply_owned(floe_www_req *r, unsigned status, const char *content_type, char *body,
                        size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        free(body);
    reply_send(r, status, resp, content_type, "no-store");
}

void floe_www_reply_static(floe_www_req *r, const char *content_type, const void *data, size_t len,
                           unsigned max_age_s)
{
    char cache[64];
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, MHD_RESPMEM_PERSISTENT);
    if (max_age_s)
        snprintf(cache, sizeof(cache), "public, max-age=%u, immutable", max_age_s);
    else
        snprintf(cache, sizeof(cache), "no-cache");
    reply_send(r, 200, resp, content_type, cache);
}

/* Sends b's bytes (taken from b, which is left empty), or a 500 if b ran
 * out of memory while it was written. */
static void reply_buf(floe_www_req *r, unsigned status, const char *content_type, floe_buf *b)
{
    if (!floe_buf_ok(b)) {
        floe_buf_reset(b);
        floe_www_reply_error(r, 500, "out of memory");
        return;
    }
    size_t len;
    char *body = floe_buf_steal(b, &len);
    reply_owned(r, status, content_type, body, len);
}

void floe_www_reply_html(floe_www_req *r, unsigned status, floe_buf *b)
{
    reply_buf(r, status, "text/html; charset=utf-8", b);
}

void floe_www_redirect(floe_www_req *r, const char *location)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (resp)
        MHD_add_response_header(resp, "Location", location);
    reply_send(r, 303, resp, NULL, "no-store");
}

int floe_www_add_header(floe_www_req *r, const char *name, const char *value)
{
    if (r->n_headers >= WWW_MAX_HEADERS)
        return FLOE_ELIMIT;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return FLOE_ENOMEM;
    }
    r->headers[r->n_headers][0] = n;
    r->headers[r->n_headers][1] = v;
    r->n_headers++;
    return 0;
}

void floe_www_suspend(floe_www_req *r, void (*cancel)(void *ud), void *ud)
{
    r->suspended = 1;
    r->cancel = cancel;
    r->cancel_ud = ud;
    r->replied = 1; /* the handler's duty to reply is handed over */
    floe_list_push_tail(&r->w->suspended, &r->link);
    MHD_suspend_connection(r->conn);
}

void floe_www_reply(floe_www_req *r, unsigned status, const char *content_type, const char *body,
                    size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (!copy) {
        r->replied = 1;
        return;
    }
    memcpy(copy, body, len);
    reply_owned(r, status, content_type, copy, len);
}

void floe_www_reply_json(floe_www_req *r, unsigned status, floe_buf *b)
{
    reply_buf(r, status, "application/json", b);
}

void floe_www_reply_error(floe_www_req *r, unsigned status, const char *message)
{
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_json_kstr(&j, "error", message);
    floe_json_obj_end(&j);
    floe_www_reply_json(r, status, &b);
    floe_buf_close(&b);
}

const char *floe_www_method(const floe_www_req *r)
{
    return r->method;
}
const char *floe_www_path(const floe_www_req *r)
{
    return r->path;
}
const char *floe_www_path_rest(const floe_www_req *r)
{
    return r->rest ? r->rest : "";
}

const char *floe_www_query(const floe_www_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

typedef struct query_walk {
    const char **keys, **values;
    size_t n, max;
} query_walk;

static enum MHD_Result query_pair(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    query_walk *q = cls;
    (void)kind;
    if (q->n >= q->max)
        return MHD_NO;
    q->keys[q->n] = key;
    q->values[q->n++] = value ? value : "";
    return MHD_YES;
}

size_t floe_www_query_all(const floe_www_req *r, const char **keys, const char **values, size_t max)
{
    query_walk q = {keys, values, 0, max};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_pair, &q);
    return q.n;
}

const char *floe_www_header(const floe_www_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *floe_www_body(const floe_www_req *r, size_t *len)
{
    *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

const char *floe_www_cookie(const floe_www_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* URL-decodes n bytes of in ('+' is a space) into out; returns the length
 * or FLOE_ELIMIT. */
static int form_decode(const char *in, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < n && hex_value(in[i + 1]) >= 0 &&
                   hex_value(in[i + 2]) >= 0) {
            c = hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]);
            i += 2;
        }
        if (o + 1 >= outlen)
            return FLOE_ELIMIT;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (int)o;
}

int floe_www_form(const floe_www_req *r, const char *key, char *out, size_t outlen)
{
    const char *ct = floe_www_header(r, "Content-Type");
    static const char form_type[] = "application/x-www-form-urlencoded";
    if (!ct || strncasecmp(ct, form_type, sizeof(form_type) - 1) != 0 || !r->body.data || !outlen)
        return FLOE_ENOTFOUND;
    size_t klen = strlen(key);
    const char *p = r->body.data, *end = p + r->body.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq && (size_t)(eq - p) == klen && memcmp(p, key, klen) == 0)
            return form_decode(eq + 1, (size_t)(stop - eq - 1), out, outlen);
        p = stop + 1;
    }
    return FLOE_ENOTFOUND;
}

int floe_www_client(const floe_www_req *r, floe_addr *out)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return FLOE_EINVAL;
    return floe_addr_from_sockaddr(out, NULL, ci->client_addr);
}

floe_www *floe_www_server(const floe_www_req *r)
{
    return r->w;
}
void floe_www_set_user(floe_www_req *r, const char *user)
{
    r->user = user;
}
const char *floe_www_user(const floe_www_req *r)
{
    return r->user;
}
void floe_www_set_session(floe_www_req *r, void *session)
{
    r->session = session;
}
void *floe_www_session(const floe_www_req *r)
{
    return r->session;
}

/* ---- lifecycle --------------------------------------------------------- */

int floe_www_route(floe_www *w, const char *method, const char *path, unsigned flags,
                   floe_www_handler h, void *ud)
{
    route *grown = realloc(w->routes, (w->n_routes + 1) * sizeof(*grown));
    if (!grown)
        return FLOE_ENOMEM;
    w->routes = grown;
    route *r = &w->routes[w->n_routes];
    r->method = strdup(method);
    r->path = strdup(path);
    if (!r->method || !r->path) {
        free(r->method);
        free(r->path);
        return FLOE_ENOMEM;
    }
    r->path_len = strlen(path);
    r->flags = flags;
    r->handler = h;
    r->ud = ud;
    w->n_routes++;
    return 0;
}

int floe_www_routes(floe_www *w, const floe_www_route_def *defs, size_t n, void *ud)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = floe_www_route(w, defs[i].method, defs[i].path, defs[i].flags, defs[i].handler, ud);
    return rc;
}

void floe_www_set_auth(floe_www *w, floe_www_auth auth, void *ud)
{
    w->auth = auth;
    w->auth_ud = ud;
}

const char *floe_www_endpoint(const floe_www *w)
{
    return w->endpoint;
}
int floe_www_tls(const floe_www *w)
{
    return w->tls;
}
uv_loop_t *floe_www_loop(const floe_www *w)
{
    return w->loop;
}

int floe_www_set_data(floe_www *w, void *data, void (*free_fn)(void *))
{
    if (w->data)
        return FLOE_EEXISTS;
    w->data = data;
    w->data_free = free_fn;
    return 0;
}

void *floe_www_data(const floe_www *w)
{
    return w->data;
}

size_t floe_www_route_count(const floe_www *w)
{
    return w->n_routes;
}

int floe_www_route_at(const floe_www *w, size_t i, const char **method, const char **path,
                      unsigned *flags)
{
    if (i >= w->n_routes)
        return FLOE_ENOTFOUND;
    *method = w->routes[i].method;
    *path = w->routes[i].path;
    *flags = w->routes[i].flags;
    return 0;
}
uint64_t floe_www_requests(const floe_www *w)
{
    return w->requests;
}

/* Reads a PEM file whole (up to WWW_MAX_PEM). NULL with err set on failure. */
static char *read_pem(const char *path, const char *key, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s %s: %s", key, path, strerror(errno));
        return NULL;
    }
    floe_buf b;
    floe_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len <= WWW_MAX_PEM)
        floe_buf_append(&b, chunk, n);
    int bad = ferror(f) || !floe_buf_ok(&b) || b.len > WWW_MAX_PEM;
    fclose(f);
    if (bad || !b.data || !strstr(b.data, "-----BEGIN ")) {
        snprintf(err, errlen, "%s %s: %s", key, path,
                 bad ? "unreadable or over 256 KiB" : "not a PEM file");
        floe_buf_close(&b);
        return NULL;
    }
    size_t len;
    return floe_buf_steal(&b, &len);
}

static void www_discard(floe_www *w)
{
    if (w->data_free)
        w->data_free(w->data);
    free(w->tls_cert);
    if (w->tls_key)
        explicit_bzero(w->tls_key, strlen(w->tls_key)); /* the private key */
    free(w->tls_key);
    free(w);
}

/* Loads the certificate and key for HTTPS; 0, or -1 with err set. */
static int www_tls_load(floe_www *w, const char *cert_file, const char *key_file, char *err,
                        size_t errlen)
{
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
        snprintf(err, errlen, "web_tls_cert: this libmicrohttpd was built without TLS");
        return -1;
    }
    w->tls_cert = read_pem(cert_file, "web_tls_cert", err, errlen);
    if (!w->tls_cert)
        return -1;
    w->tls_key = read_pem(key_file, "web_tls_key", err, errlen);
    if (!w->tls_key)
        return -1;
    w->tls = 1;
    return 0;
}

static struct MHD_Daemon *www_start_mhd(floe_www *w, struct sockaddr_storage *ss)
{
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ss->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, w->tls_key},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, w->tls_cert},
        {MHD_OPTION_END, 0, NULL},
    };
    if (w->tls)
        flags |= MHD_USE_TLS;
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, w, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, w,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)ss, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)WWW_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)WWW_MAX_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WWW_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, w, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_ARRAY,
        w->tls ? tls_opts : tls_opts + 2, MHD_OPTION_END);
}

floe_www *floe_www_new(uv_loop_t *loop, const char *endpoint, floe_log *log, char *err,
                       size_t errlen)
{
    return floe_www_new_tls(loop, endpoint, NULL, NULL, log, err, errlen);
}

floe_www *floe_www_new_tls(uv_loop_t *loop, const char *endpoint, const char *cert_file,
                           const char *key_file, floe_log *log, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    char why[128];
    if (floe_endpoint_parse(endpoint, &ss, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "web address '%s': %s", endpoint, why);
        return NULL;
    }
    floe_www *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->loop = loop;
    w->log = log;
    if (cert_file && *cert_file && key_file && *key_file &&
        www_tls_load(w, cert_file, key_file, err, errlen) != 0) {
        www_discard(w);
        return NULL;
    }
    w->mhd = www_start_mhd(w, &ss);
    if (!w->mhd) {
        if (w->tls)
            snprintf(err, errlen,
                     "cannot serve HTTPS on %s: web_tls_cert %s and web_tls_key %s do not "
                     "load as a pair (or the address is in use)",
                     endpoint, cert_file, key_file);
        else
            snprintf(err, errlen, "cannot listen for HTTP on %s (address in use or not local?)",
                     endpoint);
        www_discard(w);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *port = MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_BIND_PORT);
    if (!info) {
        snprintf(err, errlen, "HTTP on %s: libmicrohttpd gave no epoll descriptor", endpoint);
        MHD_stop_daemon(w->mhd);
        www_discard(w);
        return NULL;
    }
    floe_addr a;
    char text[FLOE_ADDR_STRLEN];
    floe_addr_from_sockaddr(&a, NULL, (struct sockaddr *)&ss);
    floe_addr_format(&a, text);
    snprintf(w->endpoint, sizeof(w->endpoint), ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", text,
             port ? port->port : 0);
    uv_poll_init(loop, &w->poll, info->epoll_fd);
    uv_timer_init(loop, &w->timer);
    uv_timer_init(loop, &w->kick);
    w->poll.data = w->timer.data = w->kick.data = w;
    w->open_handles = 3;
    floe_list_init(&w->suspended);
    uv_poll_start(&w->poll, UV_READABLE, on_poll);
    www_run(w);
    return w;
}

static void on_handle_closed(uv_handle_t *h)
{
    floe_www *w = h->data;
    if (--w->open_handles > 0)
        return;
    for (size_t i = 0; i < w->n_routes; i++) {
        free(w->routes[i].method);
        free(w->routes[i].path);
    }
    free(w->routes);
    www_discard(w);
}

void floe_www_free(floe_www *w)
{
    if (!w)
        return;
    /* libmicrohttpd must not stop with suspended connections: cancel their
     * work and answer them first. */
    while (!floe_list_empty(&w->suspended)) {
        floe_www_req *r = FLOE_CONTAINER_OF(w->suspended.next, floe_www_req, link);
        if (r->cancel)
            r->cancel(r->cancel_ud);
        floe_www_reply_error(r, 503, "shutting down");
    }
    MHD_run(w->mhd);
    uv_poll_stop(&w->poll);
    uv_timer_stop(&w->timer);
    uv_timer_stop(&w->kick);
    uv_close((uv_handle_t *)&w->poll, on_handle_closed);
    uv_close((uv_handle_t *)&w->timer, on_handle_closed);
    uv_close((uv_handle_t *)&w->kick, on_handle_closed);
    MHD_stop_daemon(w->mhd);
    w->mhd = NULL;
}
