/*
 * The probe queue: probes wait in a bounded FIFO and at most max_running
 * of them are handed to libuv's work queue at a time, because a probe
 * holds a pool thread for up to its timeout and that pool also hashes
 * passwords and reads files for the web server. A key is never queued or
 * run twice at once, so a service that hangs costs one slot, not one per
 * period. Results come back on the loop thread through uv_after_work_cb.
 * Freeing the queue drops what waits and tells the running probes to stop
 * (they look between slices of their waits, so a shutdown does not wait
 * out a long timeout); their jobs outlive the queue's owner, and the last
 * one to end frees the queue's memory.
 */
#include "probes/probes.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct probe_job {
    uv_work_t req;
    struct floe_probes *q;
    struct probe_job *next;
    char key[FLOE_PROBE_KEY_MAX];
    floe_probe_spec spec;
    floe_probe_result res;
} probe_job;

struct floe_probes {
    uv_loop_t *loop;
    unsigned max_running;
    size_t max_queued;
    floe_probe_done done;
    void *ud;
    probe_job *head, *tail; /* waiting, oldest first */
    probe_job *running;     /* handed to the pool */
    int closing;            /* freed by its owner: the last running job frees it */
    atomic_int stop;        /* read by the running probes: end now */
    int dispatching;        /* inside done: a free waits until it returns */
    floe_probes_stats st;
};

floe_probes *floe_probes_new(uv_loop_t *loop, unsigned max_running, size_t max_queued,
                             floe_probe_done done, void *ud)
{
    floe_probes *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->loop = loop;
    q->max_running = max_running ? max_running : 1;
    q->max_queued = max_queued;
    q->done = done;
    q->ud = ud;
    atomic_init(&q->stop, 0);
    return q;
}

static int busy(const floe_probes *q, const char *key)
{
    for (const probe_job *j = q->head; j; j = j->next)
        if (strcmp(j->key, key) == 0)
            return 1;
    for (const probe_job *j = q->running; j; j = j->next)
        if (strcmp(j->key, key) == 0)
            return 1;
    return 0;
}

static void unlink_running(floe_probes *q, probe_job *j)
{
    for (probe_job **pp = &q->running; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    q->st.running--;
}

static void work_cb(uv_work_t *req)
{
    probe_job *j = req->data;
    floe_probe_run_until(&j->spec, &j->res, &j->q->stop); /* q outlives its running jobs */
}

static void pump(floe_probes *q);

static void after_cb(uv_work_t *req, int status)
{
    probe_job *j = req->data;
    floe_probes *q = j->q;
    unlink_running(q, j);
    if (q->closing) {
        free(j);
        if (!q->running)
            free(q);
        return;
    }
    if (status == 0) {
        q->st.done++;
        q->dispatching = 1;
        if (q->done)
            q->done(q->ud, j->key, &j->res);
        q->dispatching = 0;
    }
    free(j);
    if (!q->closing)
        pump(q);
    else if (!q->running)
        free(q); /* freed from inside done */
}

/* Hands waiting probes to the pool while there is room. */
static void pump(floe_probes *q)
{
    while (q->head && q->st.running < q->max_running) {
        probe_job *j = q->head;
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        q->st.queued--;
        j->req.data = j;
        if (uv_queue_work(q->loop, &j->req, work_cb, after_cb) != 0) {
            free(j);
            continue;
        }
        j->next = q->running;
        q->running = j;
        q->st.running++;
    }
}

int floe_probes_submit(floe_probes *q, const char *key, const floe_probe_spec *s)
{
    char why[160];
    if (!key || !key[0] || strlen(key) >= FLOE_PROBE_KEY_MAX ||
        floe_probe_spec_check(s, why, sizeof(why)) != 0)
        return FLOE_EINVAL;
    if (busy(q, key)) {
        q->st.refused_busy++;
        return FLOE_EEXISTS;
    }
    if (q->st.queued >= q->max_queued) {
        q->st.refused_full++;
        return FLOE_ELIMIT;
    }
    probe_job *j = calloc(1, sizeof(*j));
    if (!j)
        return FLOE_ENOMEM;
    j->q = q;
    snprintf(j->key, sizeof(j->key), "%s", key);
    j->spec = *s;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->st.queued++;
    q->st.submitted++;
    pump(q);
    return 0;
}

void floe_probes_stats_get(const floe_probes *q, floe_probes_stats *st)
{
    *st = q->st;
}

void floe_probes_free(floe_probes *q)
{
    if (!q)
        return;
    while (q->head) {
        probe_job *j = q->head;
        q->head = j->next;
        free(j);
    }
    q->tail = NULL;
    q->st.queued = 0;
    q->closing = 1;
    atomic_store(&q->stop, 1);
    if (!q->running && !q->dispatching)
        free(q);
}
