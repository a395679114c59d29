/*
 * The timeseries' API, on the RRD store (rrd/): GET /api/v1/timeseries
 * (a series' points as JSON, for the web UI's interactive charts), GET
 * /api/v1/timeseries/schemas (every schema and the series on disk), and
 * GET /chart/{schema}.svg or .png (a chart drawn by rrd_graph). The query
 * string is parsed on the loop into a request the work owns; the fetch,
 * the listing and the drawing run on a worker thread.
 */
#include "engine/engine.h"
#include "rrd/rrd.h"
#include "www/www.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Query arguments read at most; more is a 400. */
#define TS_MAX_ARGS 32

enum { JOB_FETCH, JOB_LIST, JOB_CHART };

typedef struct ts_job {
    floe_ts *ts;
    int kind;
    size_t max_series; /* the listing: series per schema (0: the store's 1,000) */
    floe_ts_graph_req req;
} ts_job;

static void error_body(floe_buf *out, unsigned *status, int rc, const char *err)
{
    floe_json j;
    floe_buf_reset(out);
    floe_json_init(&j, out);
    floe_json_obj_begin(&j);
    floe_json_kstr(&j, "error", err[0] ? err : "the timeseries store failed");
    floe_json_obj_end(&j);
    *status = rc == FLOE_ENOTFOUND ? 404 : rc == FLOE_EINVAL ? 400 : 500;
}

/* On a worker thread. */
static void run(void *ud, floe_buf *out, unsigned *status, const char **ctype)
{
    ts_job *j = ud;
    char err[256] = "";
    int rc;
    if (j->kind == JOB_LIST) {
        floe_json jw;
        floe_json_init(&jw, out);
        rc = floe_ts_list_json(j->ts, &jw, j->max_series);
    } else if (j->kind == JOB_FETCH) {
        rc = floe_ts_fetch_req_json(j->ts, &j->req, out, err, sizeof(err));
    } else {
        rc = floe_ts_graph(j->ts, &j->req, out, ctype, err, sizeof(err));
    }
    if (rc != 0) {
        *ctype = "application/json";
        error_body(out, status, rc, err);
    }
}

/* A job for req, its query string parsed into a chart request with
 * schema (NULL: from the query); NULL after an error reply. */
static ts_job *job_new(floe_www_req *req, floe_engine *e, int kind, const char *schema)
{
    if (!e->ts) {
        floe_www_reply_error(req, 503, "timeseries are off (timeseries.enabled = false)");
        return NULL;
    }
    const char *keys[TS_MAX_ARGS + 1], *values[TS_MAX_ARGS + 1];
    size_t n = floe_www_query_all(req, keys, values, TS_MAX_ARGS + 1);
    if (n > TS_MAX_ARGS) {
        floe_www_reply_error(req, 400, "too many query arguments");
        return NULL;
    }
    ts_job *j = calloc(1, sizeof(*j));
    if (!j) {
        floe_www_reply_error(req, 500, "out of memory");
        return NULL;
    }
    char err[256];
    j->ts = e->ts;
    j->kind = kind;
    floe_ts_graph_req_init(&j->req);
    if (floe_ts_graph_req_parse(&j->req, keys, values, n, err, sizeof(err)) != 0) {
        floe_www_reply_error(req, 400, err);
        free(j);
        return NULL;
    }
    if (schema)
        snprintf(j->req.schema, sizeof(j->req.schema), "%s", schema);
    if (kind != JOB_LIST && !j->req.schema[0]) {
        floe_www_reply_error(req, 400, "schema is missing (schema=host:traffic)");
        free(j);
        return NULL;
    }
    return j;
}

static void on_fetch(floe_www_req *req, void *ud)
{
    ts_job *j = job_new(req, ud, JOB_FETCH, NULL);
    if (j)
        floe_www_offload(req, run, j, free);
}

/* ?series=N lists at most N series per schema (1..1000; the host page asks
 * for 1, to learn the schemas without walking 100,000 files). */
static void on_list(floe_www_req *req, void *ud)
{
    const char *n = floe_www_query(req, "series");
    char *end = NULL;
    long max = n ? strtol(n, &end, 10) : 0;
    if (n && (end == n || *end || max < 1 || max > 1000)) {
        floe_www_reply_error(req, 400, "series must be from 1 to 1000");
        return;
    }
    ts_job *j = job_new(req, ud, JOB_LIST, NULL);
    if (!j)
        return;
    j->max_series = (size_t)max;
    floe_www_offload(req, run, j, free);
}

/* /chart/{schema}.svg or .png: the extension picks the format. */
static void on_chart(floe_www_req *req, void *ud)
{
    static const struct {
        const char *ext;
        floe_ts_format format;
    } exts[] = {{".svg", FLOE_TS_SVG}, {".png", FLOE_TS_PNG}};
    const char *rest = floe_www_path_rest(req);
    size_t len = strlen(rest);
    for (size_t i = 0; i < FLOE_ARRAY_LEN(exts); i++) {
        size_t el = strlen(exts[i].ext);
        if (len <= el || len - el >= FLOE_TS_NAME_MAX || strcmp(rest + len - el, exts[i].ext))
            continue;
        char schema[FLOE_TS_NAME_MAX];
        snprintf(schema, sizeof(schema), "%.*s", (int)(len - el), rest);
        ts_job *j = job_new(req, ud, JOB_CHART, schema);
        if (!j)
            return;
        j->req.format = exts[i].format;
        floe_www_offload(req, run, j, free);
        return;
    }
    floe_www_reply_error(req, 404, "expected /chart/{schema}.svg or /chart/{schema}.png");
}

static const floe_www_route_def routes[] = {
    {"GET", "/api/v1/timeseries", 0, on_fetch},
    {"GET", "/api/v1/timeseries/schemas", 0, on_list},
    {"GET", "/chart/", FLOE_WWW_PREFIX, on_chart},
};

int floe_api_ts_register(floe_www *w, floe_engine *e)
{
    return floe_www_routes(w, routes, FLOE_ARRAY_LEN(routes), e);
}
