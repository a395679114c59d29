/*
 * Handlers whose work blocks (a query on the alert store, a timeseries
 * fetch, a chart) hand it to libuv's work queue: the request is suspended,
 * the work runs on a worker thread and fills a body, and the reply is sent
 * from the loop when it is done. A request whose connection went away
 * meanwhile is forgotten; its work still completes and is freed.
 */
#include "www/www.h"

#include <stdlib.h>

typedef struct offload {
    uv_work_t work;
    floe_www_req *req; /* NULL once the server cancelled it */
    floe_www_work fn;
    void *ud;
    void (*free_ud)(void *ud);
    floe_buf out;
    unsigned status;
    const char *content_type;
} offload;

static void on_work(uv_work_t *w)
{
    offload *o = w->data;
    o->fn(o->ud, &o->out, &o->status, &o->content_type);
}

static void on_done(uv_work_t *w, int status)
{
    offload *o = w->data;
    if (o->req) {
        if (status != 0 || !floe_buf_ok(&o->out))
            floe_www_reply_error(o->req, 500, status ? "cancelled" : "out of memory");
        else
            floe_www_reply(o->req, o->status, o->content_type, o->out.data ? o->out.data : "",
                           o->out.len);
    }
    if (o->free_ud)
        o->free_ud(o->ud);
    floe_buf_close(&o->out);
    free(o);
}

static void on_cancel(void *ud)
{
    ((offload *)ud)->req = NULL;
}

void floe_www_offload(floe_www_req *req, floe_www_work fn, void *ud, void (*free_ud)(void *))
{
    offload *o = calloc(1, sizeof(*o));
    if (!o) {
        if (free_ud)
            free_ud(ud);
        floe_www_reply_error(req, 500, "out of memory");
        return;
    }
    o->req = req;
    o->fn = fn;
    o->ud = ud;
    o->free_ud = free_ud;
    o->status = 200;
    o->content_type = "application/json";
    floe_buf_init(&o->out);
    o->work.data = o;
    if (uv_queue_work(floe_www_loop(floe_www_server(req)), &o->work, on_work, on_done) != 0) {
        if (free_ud)
            free_ud(ud);
        free(o);
        floe_www_reply_error(req, 503, "cannot queue the work");
        return;
    }
    floe_www_suspend(req, on_cancel, o);
}
