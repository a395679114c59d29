/*
 * Reload on edit. Each plugin folder and its sub-folders are watched with
 * inotify (libuv fs events: not recursive on Linux, so one watcher per
 * folder), and each plugin root for plugins that come and go. An event
 * starts a short timer, so an editor's burst of writes and renames makes
 * one reload, which rereads only the plugins whose files changed. List
 * files that filters read are polled (an editor may replace the file, and
 * the file may live anywhere). Without a loop (replay, tests) nothing is
 * watched.
 */
#include "plugins/internal.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <uv.h>

#define DEBOUNCE_MS  250
#define LIST_POLL_MS 2000
#define MAX_WATCHES  16

/* A set of watchers whose memory is freed when the last one has closed;
 * P is cleared first, so a late event cannot reach a freed engine. */
typedef struct watchset {
    floe_plugins *P;
    int open;
    uv_fs_event_t ev[MAX_WATCHES];
    int n;
} watchset;

typedef struct engine_watch {
    watchset *roots;
    uv_timer_t timer;
    int timer_open;
} engine_watch;

static void schedule(floe_plugins *P);

static void on_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    (void)name, (void)events, (void)status;
    watchset *w = h->data;
    if (w->P)
        schedule(w->P);
}

static void on_closed(uv_handle_t *h)
{
    watchset *w = h->data;
    if (--w->open == 0)
        free(w);
}

static void watchset_close(watchset *w)
{
    if (!w)
        return;
    w->P = NULL;
    if (w->open == 0) {
        free(w);
        return;
    }
    for (int i = 0; i < w->n; i++)
        uv_close((uv_handle_t *)&w->ev[i], on_closed);
}

static void watch_dir(watchset *w, uv_loop_t *loop, const char *dir)
{
    struct stat st;
    if (w->n >= MAX_WATCHES || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return;
    uv_fs_event_t *ev = &w->ev[w->n];
    if (uv_fs_event_init(loop, ev) != 0)
        return;
    ev->data = w;
    w->n++;
    w->open++;
    if (uv_fs_event_start(ev, on_event, dir, 0) != 0)
        log_warn(w->P->env.log, "plugins: cannot watch %s for edits", dir);
}

static engine_watch *engine_of(floe_plugins *P)
{
    if (!P->watch && P->env.loop) {
        engine_watch *ew = calloc(1, sizeof(*ew));
        if (ew && uv_timer_init(P->env.loop, &ew->timer) == 0) {
            ew->timer.data = P;
            ew->timer_open = 1;
            P->watch = ew;
        } else {
            free(ew);
        }
    }
    return P->watch;
}

static void on_timer(uv_timer_t *t)
{
    floe_plugins *P = t->data;
    log_info(P->env.log, "plugins: files changed; reloading");
    floe_plugins_reload(P, 0);
}

static void schedule(floe_plugins *P)
{
    engine_watch *ew = engine_of(P);
    if (ew)
        uv_timer_start(&ew->timer, on_timer, DEBOUNCE_MS, 0);
}

void plug__watch_roots(floe_plugins *P)
{
    engine_watch *ew = engine_of(P);
    if (!ew || ew->roots)
        return;
    if (!(ew->roots = calloc(1, sizeof(*ew->roots))))
        return;
    ew->roots->P = P;
    for (size_t i = 0; i < P->n_dirs; i++)
        watch_dir(ew->roots, P->env.loop, P->dirs[i]);
}

void plug__watch_plugin(floe_plugins *P, plug__plugin *p)
{
    static const char *const subdirs[] = {"",
                                          "alert_definitions",
                                          "status_definitions",
                                          "checks",
                                          "checks/flow",
                                          "checks/host",
                                          "checks/interface",
                                          "checks/network",
                                          "checks/exporter",
                                          "checks/system",
                                          "ts_schemas",
                                          "web_gui"};
    if (!engine_of(P))
        return;
    plug__unwatch_plugin(p);
    watchset *w = calloc(1, sizeof(*w));
    if (!w)
        return;
    w->P = P;
    for (size_t i = 0; i < FLOE_ARRAY_LEN(subdirs); i++) {
        char dir[1200];
        snprintf(dir, sizeof(dir), "%s/%s", p->dir, subdirs[i]);
        watch_dir(w, P->env.loop, dir);
    }
    p->watch = w;
}

void plug__unwatch_plugin(plug__plugin *p)
{
    watchset_close(p->watch);
    p->watch = NULL;
}

/* ---- list files ------------------------------------------------------------ */

typedef struct list_poll {
    uv_fs_poll_t poll;
    floe_plugins *P;
    plug__listfile *lf;
} list_poll;

static void on_list_change(uv_fs_poll_t *h, int status, const uv_stat_t *prev,
                           const uv_stat_t *curr)
{
    (void)status, (void)prev, (void)curr;
    list_poll *lp = h->data;
    if (lp->P && lp->lf)
        plug__listfile_reload(lp->P, lp->lf);
}

static void on_poll_closed(uv_handle_t *h)
{
    free(h->data);
}

void plug__watch_listfile(floe_plugins *P, plug__listfile *lf)
{
    if (!engine_of(P) || lf->poll)
        return;
    list_poll *lp = calloc(1, sizeof(*lp));
    if (!lp || uv_fs_poll_init(P->env.loop, &lp->poll) != 0) {
        free(lp);
        return;
    }
    lp->P = P;
    lp->lf = lf;
    lp->poll.data = lp;
    uv_fs_poll_start(&lp->poll, on_list_change, lf->path, LIST_POLL_MS);
    lf->poll = lp;
}

static void on_timer_closed(uv_handle_t *h)
{
    free(FLOE_CONTAINER_OF((uv_timer_t *)(void *)h, engine_watch, timer));
}

void plug__watch_free(floe_plugins *P)
{
    for (plug__listfile *lf = P->files; lf; lf = lf->next) {
        list_poll *lp = lf->poll;
        if (!lp)
            continue;
        lp->P = NULL;
        lp->lf = NULL;
        uv_close((uv_handle_t *)&lp->poll, on_poll_closed);
        lf->poll = NULL;
    }
    engine_watch *ew = P->watch;
    if (!ew)
        return;
    watchset_close(ew->roots);
    uv_timer_stop(&ew->timer);
    uv_close((uv_handle_t *)&ew->timer, on_timer_closed);
    P->watch = NULL;
}
