/*
 * Talking to ClickHouse's HTTP interface with libcurl: one POST per
 * statement or INSERT. GET would do for reads, but the statement then
 * sits in the URL, and ClickHouse reads a POST's body the same way; reads
 * are kept read-only by the readonly=1 setting instead. Credentials go as
 * HTTP basic authentication, which every ClickHouse version accepts. A
 * non-200 answer carries ClickHouse's own message in its body ("Code: 60,
 * e.displayText() = DB::Exception: Table ... doesn't exist"), which is
 * kept, first line only, as the reason.
 */
#include "history/internal.h"

#include <curl/curl.h>
#include <stdio.h>

#define REPLY_MAX (64u << 20) /* bytes of an answer kept; a query's LIMIT keeps it far below */

void hist__reply_init(hist__reply *r)
{
    r->status = 0;
    floe_buf_init(&r->body);
    r->error[0] = '\0';
}

void hist__reply_close(hist__reply *r)
{
    floe_buf_close(&r->body);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    floe_buf *b = ud;
    if (b->len + size * n > REPLY_MAX)
        return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
    floe_buf_append(b, p, size * n);
    return floe_buf_ok(b) ? size * n : 0;
}

/* The first line of ClickHouse's message, without its stack noise. */
static void reason_from_body(hist__reply *r)
{
    const char *s = r->body.data ? r->body.data : "";
    size_t n = strcspn(s, "\r\n");
    if (n > 160)
        n = 160;
    snprintf(r->error, sizeof(r->error), "HTTP %ld: %.*s", r->status, (int)n, s);
}

/* Abandons a transfer once the exporter's stop deadline has passed. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    hist__counter *abort_at = ud;
    uint64_t at = atomic_load_explicit(abort_at, memory_order_relaxed);
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return at && floe_monotonic_ms() >= at;
}

static void build_url(CURL *c, const hist__conn *conn, const char *query, const char *settings,
                      int gzip, floe_buf *url)
{
    floe_buf_puts(url, conn->url);
    floe_buf_puts(url, strchr(conn->url, '?')                         ? "&"
                       : (url->len && url->data[url->len - 1] == '/') ? "?"
                                                                      : "/?");
    floe_buf_puts(url, "max_query_size=1048576");
    if (gzip)
        floe_buf_puts(url, "&enable_http_compression=1");
    if (settings) {
        floe_buf_putc(url, '&');
        floe_buf_puts(url, settings);
    }
    if (query) {
        char *q = curl_easy_escape(c, query, 0);
        floe_buf_puts(url, "&query=");
        floe_buf_puts(url, q ? q : "");
        curl_free(q);
    }
}

int hist__post(void *curl, const hist__conn *conn, const char *query, const char *settings,
               const void *body, size_t len, int gzip, uint32_t timeout_ms, hist__reply *rep)
{
    CURL *c = curl;
    floe_buf url;
    struct curl_slist *h = NULL;
    floe_buf_init(&url);
    floe_buf_reset(&rep->body);
    rep->status = 0;
    rep->error[0] = '\0';
    curl_easy_reset(c);
    build_url(c, conn, query, settings, gzip, &url);
    if (!floe_buf_ok(&url)) {
        snprintf(rep->error, sizeof(rep->error), "out of memory");
        floe_buf_close(&url);
        return -1;
    }
    h = curl_slist_append(h, gzip ? "Content-Encoding: gzip" : "Content-Type: text/plain");
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(c, CURLOPT_URL, url.data);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "floe/" PACKAGE_VERSION);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &rep->body);
    if (conn->abort_at_ms) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, conn->abort_at_ms);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    if (conn->user[0]) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, conn->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, conn->password);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rep->status);
    curl_slist_free_all(h);
    floe_buf_close(&url);
    if (rc != CURLE_OK) {
        snprintf(rep->error, sizeof(rep->error), "%s", curl_easy_strerror(rc));
        rep->status = 0;
        return -1;
    }
    if (rep->status != 200) {
        reason_from_body(rep);
        return -1;
    }
    return 0;
}

int hist__exec(void *curl, const hist__conn *c, const char *sql, hist__reply *rep)
{
    return hist__post(curl, c, NULL, NULL, sql, strlen(sql), 0, c->timeout_ms, rep);
}
