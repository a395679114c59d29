/*
 * The alerts' API, on the alert store (alerts/): GET /api/v1/alerts with
 * filters, paging and totals; POST /api/v1/alerts/{id}/ack; DELETE one
 * alert or every alert a filter matches; the exclusion rules (GET, POST a
 * rule, DELETE one). Every call that reads or writes the database runs on
 * a worker thread; the loop only parses the request.
 */
#include "engine/engine.h"
#include "www/www.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct alert_job {
    floe_alerts *store;
    int kind;
    floe_alert_query q;
    int64_t id;
    char who[16];
    uint64_t when_ms;
    floe_alert_rule rule;
} alert_job;

enum { JOB_QUERY, JOB_ACK, JOB_DELETE, JOB_DELETE_WHERE, JOB_EXCLUDE, JOB_UNEXCLUDE };

static void job_free(void *ud)
{
    alert_job *j = ud;
    if (j->kind == JOB_EXCLUDE)
        floe_alert_rule_close(&j->rule);
    free(j);
}

static void done_json(floe_buf *out, unsigned *status, int rc, const char *what, int64_t id,
                      uint64_t n)
{
    floe_json jw;
    floe_json_init(&jw, out);
    floe_json_obj_begin(&jw);
    if (rc == 0) {
        floe_json_key(&jw, what);
        floe_json_i64(&jw, id);
        if (n != UINT64_MAX)
            floe_json_ku64(&jw, "deleted", n);
    } else {
        *status = rc == FLOE_ENOTFOUND ? 404 : 500;
        floe_json_kstr(&jw, "error",
                       rc == FLOE_ENOTFOUND ? "no such alert or rule" : "the alert store failed");
    }
    floe_json_obj_end(&jw);
}

/* On a worker thread. */
static void run(void *ud, floe_buf *out, unsigned *status, const char **ctype)
{
    alert_job *j = ud;
    char err[256];
    uint64_t n = 0;
    int64_t id = j->id;
    int rc;
    (void)ctype;
    switch (j->kind) {
    case JOB_QUERY:
        if (floe_alerts_query_json(j->store, &j->q, out, err, sizeof(err)) != 0) {
            floe_buf_reset(out);
            floe_json jw;
            floe_json_init(&jw, out);
            floe_json_obj_begin(&jw);
            floe_json_kstr(&jw, "error", err);
            floe_json_obj_end(&jw);
            *status = 500;
        }
        return;
    case JOB_ACK:
        rc = floe_alerts_ack(j->store, j->id, j->who, j->when_ms);
        break;
    case JOB_DELETE:
        rc = floe_alerts_delete(j->store, j->id);
        break;
    case JOB_DELETE_WHERE:
        rc = floe_alerts_delete_where(j->store, &j->q, &n);
        break;
    case JOB_EXCLUDE:
        rc = floe_alerts_exclusion_add(j->store, &j->rule, 1, &id);
        break;
    default:
        rc = floe_alerts_exclusion_remove(j->store, j->id);
        break;
    }
    done_json(out, status, rc, "id", id, j->kind == JOB_DELETE_WHERE ? n : UINT64_MAX);
}

static alert_job *job_new(floe_www_req *req, floe_engine *e, int kind)
{
    if (!e->alerts) {
        floe_www_reply_error(req, 503, "the alert store is off (alerts.enabled = false)");
        return NULL;
    }
    alert_job *j = calloc(1, sizeof(*j));
    if (!j) {
        floe_www_reply_error(req, 500, "out of memory");
        return NULL;
    }
    j->store = e->alerts;
    j->kind = kind;
    return j;
}

static const char *query_get(void *ud, const char *key)
{
    return floe_www_query(ud, key);
}

/* The query string as an alert filter; 0, or -1 after a 400. */
static int parse_filter(floe_www_req *req, alert_job *j)
{
    char err[256];
    floe_alert_query_init(&j->q);
    if (floe_alert_query_parse(&j->q, query_get, req, err, sizeof(err)) == 0)
        return 0;
    floe_www_reply_error(req, 400, err);
    free(j);
    return -1;
}

static void on_query(floe_www_req *req, void *ud)
{
    alert_job *j = job_new(req, ud, JOB_QUERY);
    if (j && parse_filter(req, j) == 0)
        floe_www_offload(req, run, j, job_free);
}

static void on_delete_where(floe_www_req *req, void *ud)
{
    alert_job *j = job_new(req, ud, JOB_DELETE_WHERE);
    if (j && parse_filter(req, j) == 0)
        floe_www_offload(req, run, j, job_free);
}

/* "{id}" or "{id}/ack" after the prefix; the id, or -1. */
static int64_t path_id(const char *rest, const char *suffix)
{
    char *end;
    long long id = strtoll(rest, &end, 10);
    if (end == rest || id <= 0 || strcmp(end, suffix) != 0)
        return -1;
    return id;
}

static void on_ack(floe_www_req *req, void *ud)
{
    floe_engine *e = ud;
    int64_t id = path_id(floe_www_path_rest(req), "/ack");
    if (id < 0) {
        floe_www_reply_error(req, 404, "expected /api/v1/alerts/{id}/ack");
        return;
    }
    alert_job *j = job_new(req, e, JOB_ACK);
    if (!j)
        return;
    j->id = id;
    snprintf(j->who, sizeof(j->who), "%s", floe_www_user(req) ? floe_www_user(req) : "?");
    j->when_ms = floe_time_ms();
    floe_www_offload(req, run, j, job_free);
}

static void on_delete(floe_www_req *req, void *ud)
{
    int64_t id = path_id(floe_www_path_rest(req), "");
    if (id < 0) {
        floe_www_reply_error(req, 404, "expected /api/v1/alerts/{id}");
        return;
    }
    alert_job *j = job_new(req, ud, JOB_DELETE);
    if (!j)
        return;
    j->id = id;
    floe_www_offload(req, run, j, job_free);
}

static void on_exclusions(floe_www_req *req, void *ud)
{
    floe_engine *e = ud;
    if (!e->alerts) {
        floe_www_reply_error(req, 503, "the alert store is off (alerts.enabled = false)");
        return;
    }
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_json_key(&j, "exclusions");
    floe_alerts_exclusion_list_json(e->alerts, &j);
    floe_json_obj_end(&j);
    floe_www_reply_json(req, 200, &b);
    floe_buf_close(&b);
}

static void on_exclude(floe_www_req *req, void *ud)
{
    size_t len;
    char err[256];
    alert_job *j = job_new(req, ud, JOB_EXCLUDE);
    if (!j)
        return;
    const char *body = floe_www_body(req, &len);
    if (floe_alert_rule_parse(&j->rule, body, len, err, sizeof(err)) != 0) {
        floe_alert_rule_close(&j->rule);
        free(j);
        floe_www_reply_error(req, 400, err);
        return;
    }
    floe_www_offload(req, run, j, job_free);
}

static void on_unexclude(floe_www_req *req, void *ud)
{
    char *end;
    const char *rest = floe_www_path_rest(req);
    long long id = strtoll(rest, &end, 10);
    if (end == rest || *end) {
        floe_www_reply_error(req, 404, "expected /api/v1/alerts/exclusions/{id}");
        return;
    }
    alert_job *j = job_new(req, ud, JOB_UNEXCLUDE);
    if (!j)
        return;
    j->id = id;
    floe_www_offload(req, run, j, job_free);
}

/* The routes, one row each; exact paths before the prefixes they share. */
static const floe_www_route_def routes[] = {
    {"GET", "/api/v1/alerts", 0, on_query},
    {"DELETE", "/api/v1/alerts", 0, on_delete_where},
    {"GET", "/api/v1/alerts/exclusions", 0, on_exclusions},
    {"POST", "/api/v1/alerts/exclusions", 0, on_exclude},
    {"DELETE", "/api/v1/alerts/exclusions/", FLOE_WWW_PREFIX, on_unexclude},
    {"POST", "/api/v1/alerts/", FLOE_WWW_PREFIX, on_ack},
    {"DELETE", "/api/v1/alerts/", FLOE_WWW_PREFIX, on_delete},
};

int floe_api_alerts_register(floe_www *w, floe_engine *e)
{
    return floe_www_routes(w, routes, FLOE_ARRAY_LEN(routes), e);
}
