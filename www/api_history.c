/*
 * The history API, on the ClickHouse history (history/): GET
 * /api/v1/history/flows and /api/v1/history/top. The loop parses the
 * query string into typed filters (a value outside its type answers 400
 * before any SQL exists); the query itself runs on a worker thread.
 */
#include "engine/engine.h"
#include "history/history.h"
#include "www/www.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_ARGS 32

typedef struct history_job {
    floe_history *h;
    int top;
    floe_history_query q;
} history_job;

/* On a worker thread. */
static void run(void *ud, floe_buf *out, unsigned *status, const char **ctype)
{
    history_job *j = ud;
    char err[300];
    (void)ctype;
    int rc = j->top ? floe_history_top_json(j->h, &j->q, out, err, sizeof(err))
                    : floe_history_flows_json(j->h, &j->q, out, err, sizeof(err));
    if (rc != 0) {
        floe_json jw;
        floe_buf_reset(out);
        floe_json_init(&jw, out);
        floe_json_obj_begin(&jw);
        floe_json_kstr(&jw, "error", err);
        floe_json_obj_end(&jw);
        *status = 502; /* the history's server failed, not floe */
    }
}

static void on_query(floe_www_req *req, floe_engine *e, int top)
{
    const char *keys[MAX_ARGS], *values[MAX_ARGS];
    char err[256];
    if (!e->history) {
        floe_www_reply_error(req, 503, "the history is off (clickhouse.url is not set)");
        return;
    }
    size_t n = floe_www_query_all(req, keys, values, MAX_ARGS);
    if (n == MAX_ARGS) {
        floe_www_reply_error(req, 400, "too many arguments");
        return;
    }
    history_job *j = calloc(1, sizeof(*j));
    if (!j) {
        floe_www_reply_error(req, 500, "out of memory");
        return;
    }
    j->h = e->history;
    j->top = top;
    if (floe_history_query_parse(&j->q, keys, values, n, floe_time_ms() / 1000, err, sizeof(err)) !=
        0) {
        free(j);
        floe_www_reply_error(req, 400, err);
        return;
    }
    floe_www_offload(req, run, j, free);
}

static void on_flows(floe_www_req *req, void *ud)
{
    on_query(req, ud, 0);
}

static void on_top(floe_www_req *req, void *ud)
{
    on_query(req, ud, 1);
}

static const floe_www_route_def routes[] = {
    {"GET", "/api/v1/history/flows", 0, on_flows},
    {"GET", "/api/v1/history/top", 0, on_top},
};

int floe_api_history_register(floe_www *w, floe_engine *e)
{
    return floe_www_routes(w, routes, FLOE_ARRAY_LEN(routes), e);
}
