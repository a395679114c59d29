/*
 * Running hooks. Flow events arrive from the tables on the loop thread;
 * each enabled check with a hook for the event is tried against its
 * filter in C, and only a match calls Lua. Periodic hooks run as jobs
 * over an entity kind (hosts, interfaces, networks, exporters, the
 * system), started by the scheduler's ticks and advanced in slices
 * between turns of the loop, so a minute over a hundred thousand hosts
 * never holds it for long.
 *
 * Live, Lua gets a share of each second of the loop (lua.cpu_share, in
 * percent): a call that would start when the share is spent is skipped and
 * counted against its check, and a periodic job still running when its
 * next tick comes counts the entities it did not reach as skipped runs.
 * Offline (replay, tests) everything runs, so a replay is repeatable.
 *
 * A call that fails (a Lua error, the instruction budget, the memory cap)
 * counts against its check; max_failures in a row disable the check, with
 * its last error kept for the API, and everything else goes on.
 */
#include "plugins/internal.h"

#include <uv.h>

static void refill(floe_plugins *P, uint64_t now_ns)
{
    uint64_t second = now_ns / 1000000000u;
    if (second != P->token_second) {
        P->token_second = second;
        P->tokens = (int64_t)P->o.cpu_share * 10000000; /* percent of 1e9 ns */
    }
}

static void account(plug__stats *st, uint64_t ns)
{
    static const uint64_t bounds[HIST_BUCKETS - 1] = {1000,     10000,     100000,    1000000,
                                                      10000000, 100000000, 1000000000};
    int b = 0;
    while (b < HIST_BUCKETS - 1 && ns >= bounds[b])
        b++;
    st->hist[b]++;
    st->calls++;
    st->ns += ns;
}

static void fail(floe_plugins *P, plug__check *c, const char *err)
{
    c->st.errors++;
    c->failures++;
    c->last_error_ms = P->now_ms;
    snprintf(c->last_error, sizeof(c->last_error), "%s", err);
    snprintf(c->last_trace, sizeof(c->last_trace), "%.1000s", c->p->sb.trace);
    log_warn_rl(P->env.log, "plugins: %s: %s", c->full, err);
    if (c->failures >= P->o.max_failures && c->state == CHECK_OK) {
        c->state = CHECK_FAILED;
        log_error(P->env.log, "plugins: %s failed %u times in a row; disabled (last error: %s)",
                  c->full, c->failures, err);
        P->hooks_dirty = 1;
    }
}

int plug__call(floe_plugins *P, plug__check *c, int hook, int ud_kind, void *ptr)
{
    if (c->state != CHECK_OK || !c->enabled || c->hook_ref[hook] == LUA_NOREF)
        return -1;
    uint64_t t0 = uv_hrtime();
    if (P->env.live) {
        refill(P, t0);
        if (P->tokens <= 0) {
            c->st.skipped++;
            return -1;
        }
    }
    plug__plugin *p = c->p;
    lua_State *L = p->sb.L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->hook_ref[hook]);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->ud_ref[ud_kind]);
    plug__ud *u = lua_touserdata(L, -1);
    u->ptr = ptr;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->conf_ref);
    P->cur = c;
    P->cur_hook = hook;
    char err[ERR_MAX];
    int rc = floe_sandbox_call(&p->sb, 2, 0, P->o.insn_limit, err, sizeof(err));
    u->ptr = NULL;
    P->cur = NULL;
    uint64_t dt = uv_hrtime() - t0;
    account(&c->st, dt);
    P->tokens -= (int64_t)dt;
    if (rc == 0) {
        c->failures = 0;
        return 0;
    }
    fail(P, c, err);
    return rc;
}

/* ---- flow events ------------------------------------------------------------ */

/* A check with a longer periodicUpdate interval than the tables' runs at
 * the fires that cross a multiple of its own interval since the flow
 * began. */
static int periodic_due(const floe_plugins *P, const plug__check *c, const floe_flow *f)
{
    uint64_t every = (uint64_t)c->periodic_s * 1000;
    /* The tables fire at the smallest interval any listener asked for,
     * which another listener (the history export) may have made shorter
     * than the plugins' own. */
    uint64_t step =
        P->env.tables && P->env.tables->periodic_ms ? P->env.tables->periodic_ms : P->periodic_ms;
    if (!step || every <= step)
        return 1;
    uint64_t prev = f->periodic_ms - f->first_ms, due = prev + step;
    return due / every != prev / every;
}

/* The event's checks, for a flow the prefilter let through. */
static __attribute__((noinline)) void flow_event_checks(floe_plugins *P, int ev, floe_flow *f)
{
    plug__check *const *hooks = P->flow_hooks[ev];
    size_t n = P->n_flow_hooks[ev];
    for (size_t i = 0; i < n; i++) {
        plug__check *c = hooks[i];
        if (!plug__filter_flow(P, &c->filter, f))
            continue;
        if (ev == FLOE_EV_PERIODIC_UPDATE && !periodic_due(P, c, f))
            continue;
        plug__call(P, c, ev, UD_FLOW, f);
    }
    if (P->hooks_dirty) {
        P->hooks_dirty = 0;
        plug__rebuild_hooks(P);
    }
}

void floe_plugins_flow_event(void *ud, int ev, floe_flow *f)
{
    floe_plugins *P = ud;
    if (plug__prefilter_flow(&P->pre[ev], f))
        flow_event_checks(P, ev, f);
}

unsigned floe_plugins_wanted(const floe_plugins *P)
{
    return P->wanted;
}

uint64_t floe_plugins_periodic_ms(const floe_plugins *P)
{
    return P->periodic_ms;
}

/* ---- periodic jobs ------------------------------------------------------------ */

static const int kind_ud[FLOE_CHECK_KIND_COUNT] = {
    [FLOE_CHECK_FLOW] = UD_FLOW,         [FLOE_CHECK_HOST] = UD_HOST,
    [FLOE_CHECK_INTERFACE] = UD_IFACE,   [FLOE_CHECK_NETWORK] = UD_NET,
    [FLOE_CHECK_EXPORTER] = UD_EXPORTER, [FLOE_CHECK_SYSTEM] = UD_SYSTEM,
};

/* The entity at slot i of a kind, or NULL for an empty slot; *end is set
 * past the last slot. Exporters and the system are snapshots in P. */
static void *entity_at(floe_plugins *P, int kind, size_t i, int *end)
{
    floe_tables *t = P->env.tables;
    *end = 0;
    switch (kind) {
    case FLOE_CHECK_HOST:
    case FLOE_CHECK_INTERFACE: {
        enum floe_table_kind tk = kind == FLOE_CHECK_HOST ? FLOE_TABLE_HOSTS : FLOE_TABLE_IFACES;
        if (!t || i >= floe_tables_slots(t, tk)) {
            *end = 1;
            return NULL;
        }
        return floe_tables_at(t, tk, i);
    }
    case FLOE_CHECK_NETWORK:
        if (!t || i >= t->n_nets) {
            *end = 1;
            return NULL;
        }
        return &t->nets[i];
    case FLOE_CHECK_EXPORTER:
        if (!P->env.exporter_at || P->env.exporter_at(P->env.ud, i, &P->exporter_snap) != 0) {
            *end = 1;
            return NULL;
        }
        return &P->exporter_snap;
    case FLOE_CHECK_SYSTEM:
        if (i > 0 || !P->env.system) {
            *end = 1;
            return NULL;
        }
        P->env.system(P->env.ud, &P->system_snap);
        return &P->system_snap;
    default:
        *end = 1;
        return NULL;
    }
}

/* How many entities a job of the kind visits in all (for skipped runs). */
static size_t entity_count(floe_plugins *P, int kind)
{
    floe_tables *t = P->env.tables;
    switch (kind) {
    case FLOE_CHECK_HOST:
        return t ? t->hosts.count : 0;
    case FLOE_CHECK_INTERFACE:
        return t ? t->ifaces.count : 0;
    case FLOE_CHECK_NETWORK:
        return t ? t->n_nets : 0;
    case FLOE_CHECK_SYSTEM:
        return 1;
    default:
        return 0;
    }
}

/* Calls every check of the kind that has the period's hook on one entity. */
static void visit(floe_plugins *P, int kind, int period, void *entity)
{
    for (size_t i = 0; i < P->n_plugins; i++) {
        plug__plugin *p = P->plugins[i];
        for (size_t k = 0; p->loaded && k < p->n_checks; k++) {
            plug__check *c = p->checks[k];
            if (c->kind != kind || !(c->hooks & (1u << period)))
                continue;
            if (kind == FLOE_CHECK_HOST && !c->filter.entities_all &&
                ((const floe_host *)entity)->net < 0)
                continue;
            plug__call(P, c, period, kind_ud[kind], entity);
        }
    }
}

/* Checks of the kind with the period's hook, enabled; and their deltas
 * rotate at the start of a run. */
static int job_wanted(floe_plugins *P, int kind, int period, int rotate)
{
    int any = 0;
    for (size_t i = 0; i < P->n_plugins; i++) {
        plug__plugin *p = P->plugins[i];
        for (size_t k = 0; p->loaded && k < p->n_checks; k++) {
            plug__check *c = p->checks[k];
            if (c->kind != kind || !(c->hooks & (1u << period)) || !c->enabled ||
                c->state != CHECK_OK)
                continue;
            any = 1;
            if (rotate)
                plug__deltas_rotate(c, period);
        }
    }
    return any;
}

static void count_unreached(floe_plugins *P, int kind, int period, size_t left)
{
    for (size_t i = 0; i < P->n_plugins; i++)
        for (size_t k = 0; P->plugins[i]->loaded && k < P->plugins[i]->n_checks; k++) {
            plug__check *c = P->plugins[i]->checks[k];
            if (c->kind == kind && (c->hooks & (1u << period)) && c->enabled)
                c->st.skipped += left;
        }
}

void floe_plugins_tick(floe_plugins *P, int period, uint64_t boundary_ms)
{
    if (period < 0 || period >= N_HOOKS)
        return;
    /* List files are polled live; offline (replay, tests) they are looked at
     * once a minute of the clock. */
    if (period == FLOE_PERIOD_MIN && !P->env.loop)
        for (plug__listfile *lf = P->files; lf; lf = lf->next)
            plug__listfile_reload(P, lf);
    for (int kind = 0; kind < FLOE_CHECK_KIND_COUNT; kind++) {
        if (kind == FLOE_CHECK_FLOW)
            continue;
        plug__job *j = &P->jobs[kind][period];
        if (j->active) {
            /* The previous run has not finished: what it did not reach is
             * skipped, and the new run starts over. */
            size_t total = entity_count(P, kind);
            count_unreached(P, kind, period, total > j->done ? total - j->done : 0);
            P->jobs_overrun++;
        }
        j->active = job_wanted(P, kind, period, 1);
        P->jobs_pending |= j->active;
        j->period = period;
        j->next = 0;
        j->done = 0;
        j->started_ms = boundary_ms;
    }
}

void plug__jobs_cancel(floe_plugins *P)
{
    memset(P->jobs, 0, sizeof(P->jobs));
}

/* Advances one job by up to `until` (hrtime, 0: to the end). 1: more left. */
static int job_run(floe_plugins *P, int kind, plug__job *j, uint64_t until)
{
    for (int n = 0;; n++) {
        if (until && (n & 15) == 0 && uv_hrtime() >= until)
            return 1;
        int end;
        void *e = entity_at(P, kind, j->next, &end);
        if (end) {
            j->active = 0;
            return 0;
        }
        j->next++;
        if (!e)
            continue;
        j->done++;
        visit(P, kind, j->period, e);
        if (P->hooks_dirty) {
            P->hooks_dirty = 0;
            plug__rebuild_hooks(P);
        }
    }
}

static int any_active(const floe_plugins *P)
{
    for (int kind = 0; kind < FLOE_CHECK_KIND_COUNT; kind++)
        for (int period = 0; period < N_HOOKS; period++)
            if (P->jobs[kind][period].active)
                return 1;
    return 0;
}

int floe_plugins_run(floe_plugins *P, uint64_t budget_ns)
{
    if (!P->jobs_pending) /* the usual case between ticks: one test */
        return 0;
    uint64_t until = budget_ns ? uv_hrtime() + budget_ns : 0;
    for (int kind = 0; kind < FLOE_CHECK_KIND_COUNT; kind++)
        for (int period = 0; period < N_HOOKS; period++) {
            plug__job *j = &P->jobs[kind][period];
            if (j->active && job_run(P, kind, j, until))
                return 1;
        }
    return P->jobs_pending = any_active(P);
}
