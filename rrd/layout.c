/*
 * rrd/layout.c: what a series file looks like on disk. Creating a file from
 * a schema (one DS per metric, one RRA per resolution and consolidation
 * function), reading an existing file's layout back with rrd_info_r to
 * compare it with its schema, and migrating a file to a new layout with
 * librrd's own prefill (rrd_create_r2's sources), which resamples every
 * archive of the old file into the new one.
 */
#include "rrd/internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rrd.h>
#include <rrd_client.h>

#define TS_ARGS_MAX (FLOE_TS_MAX_METRICS + FLOE_TS_MAX_RRAS * 4)

/* The DS and RRA definitions of a schema, as rrd_create's arguments. */
typedef struct ts_args {
    const char *argv[TS_ARGS_MAX];
    char text[TS_ARGS_MAX][64];
    int argc;
} ts_args;

static void ts_args_build(ts_args *a, const floe_ts_schema *s)
{
    a->argc = 0;
    for (unsigned i = 0; i < s->n_metrics; i++) {
        const floe_ts_metric *m = &s->metrics[i];
        snprintf(a->text[a->argc], sizeof(a->text[0]), "DS:%s:%s:%u:%s:U", m->name,
                 ts__type_rrd(m->type), s->step_s * 2, m->type == FLOE_TS_DELTA ? "0" : "U");
        a->argv[a->argc] = a->text[a->argc];
        a->argc++;
    }
    const floe_ts_retention *r = &s->retention;
    for (unsigned i = 0; i < r->n; i++)
        for (unsigned bit = 1; bit <= FLOE_TS_CF_LAST; bit <<= 1) {
            if (!(r->cf & bit))
                continue;
            uint32_t res = r->rra[i].res_s < s->step_s ? s->step_s : r->rra[i].res_s;
            snprintf(a->text[a->argc], sizeof(a->text[0]), "RRA:%s:0.5:%u:%u", ts__cf_rrd(bit),
                     res / s->step_s, r->rra[i].span_s / res);
            a->argv[a->argc] = a->text[a->argc];
            a->argc++;
        }
}

int ts__mkdir_p(char *path)
{
    for (char *p = path + 1; (p = strchr(p, '/')); p++) {
        *p = 0;
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc && errno != EEXIST)
            return FLOE_EIO;
    }
    return 0;
}

int ts__create(floe_ts *ts, const char *abs, const ts__schema *s, int64_t start, char *err,
               size_t errlen)
{
    ts_args a;
    ts_args_build(&a, &s->def);
    char path[TS__PATH_MAX];
    snprintf(path, sizeof(path), "%s", abs);
    if (ts__mkdir_p(path)) {
        snprintf(err, errlen, "%s: cannot make its directory: %s", abs, strerror(errno));
        return FLOE_EIO;
    }
    rrd_clear_error();
    if (rrd_create_r2(abs, s->def.step_s, (time_t)start, 1, NULL, NULL, a.argc, a.argv) != 0) {
        int exists = access(abs, F_OK) == 0;
        snprintf(err, errlen, "%s: create: %s", abs, rrd_get_error());
        rrd_clear_error();
        return exists ? FLOE_EEXISTS : FLOE_EIO;
    }
    return 0;
}

/* ---- reading a layout ------------------------------------------------------ */

/* Reads "ds[NAME].field" and "rra[N].field" keys into l. */
static void ts_layout_key(ts__layout *l, const rrd_info_t *p, unsigned *rra_cf, uint32_t *rra_ppr,
                          uint32_t *rra_rows, unsigned *n_rra)
{
    char name[FLOE_TS_METRIC_MAX + 1], field[32];
    unsigned idx;
    if (sscanf(p->key, "ds[%19[^]]].%31s", name, field) == 2) {
        unsigned k = 0;
        while (k < l->n_ds && strcmp(l->ds[k], name) != 0)
            k++;
        if (k == l->n_ds && l->n_ds < FLOE_TS_MAX_METRICS)
            snprintf(l->ds[l->n_ds++], FLOE_TS_METRIC_MAX, "%.19s", name);
        if (k < l->n_ds && strcmp(field, "type") == 0 && p->type == RD_I_STR)
            l->ds_type[k] = strcmp(p->value.u_str, "GAUGE") == 0      ? FLOE_TS_GAUGE
                            : strcmp(p->value.u_str, "ABSOLUTE") == 0 ? FLOE_TS_DELTA
                                                                      : -1;
    } else if (sscanf(p->key, "rra[%u].%31s", &idx, field) == 2 && idx < 4 * FLOE_TS_MAX_RRAS) {
        if (idx + 1 > *n_rra)
            *n_rra = idx + 1;
        if (strcmp(field, "cf") == 0 && p->type == RD_I_STR)
            rra_cf[idx] = ts__cf_from_rrd(p->value.u_str);
        else if (strcmp(field, "pdp_per_row") == 0 && p->type == RD_I_CNT)
            rra_ppr[idx] = (uint32_t)p->value.u_cnt;
        else if (strcmp(field, "rows") == 0 && p->type == RD_I_CNT)
            rra_rows[idx] = (uint32_t)p->value.u_cnt;
    } else if (strcmp(p->key, "step") == 0 && p->type == RD_I_CNT) {
        l->step_s = (uint32_t)p->value.u_cnt;
    } else if (strcmp(p->key, "last_update") == 0 && p->type == RD_I_CNT) {
        l->last_update = (int64_t)p->value.u_cnt;
    }
}

/* Folds the file's RRAs (one per resolution and CF) into a retention; a
 * file whose CFs differ between resolutions gets cf 0 (matches nothing). */
static void ts_layout_retention(ts__layout *l, const unsigned *cf, const uint32_t *ppr,
                                const uint32_t *rows, unsigned n_rra)
{
    floe_ts_retention *r = &l->retention;
    unsigned cfs_first = 0, cfs = 0;
    memset(r, 0, sizeof(*r));
    for (unsigned i = 0; i < n_rra; i++) {
        uint32_t res = ppr[i] * l->step_s, span = rows[i] * res;
        unsigned k = 0;
        while (k < r->n && r->rra[k].res_s != res)
            k++;
        if (k == r->n) {
            if (r->n)
                cfs_first = cfs_first ? cfs_first : cfs;
            if (cfs_first && cfs != cfs_first)
                r->cf = 0;
            if (r->n == FLOE_TS_MAX_RRAS)
                continue;
            r->rra[r->n].res_s = res;
            r->rra[r->n++].span_s = span;
            cfs = 0;
        }
        cfs |= cf[i];
    }
    if (!cfs_first)
        cfs_first = cfs;
    r->cf = cfs == cfs_first ? cfs : 0;
    /* Ascending resolutions, as the string form wants. */
    for (unsigned i = 1; i < r->n; i++)
        for (unsigned k = i; k > 0 && r->rra[k].res_s < r->rra[k - 1].res_s; k--) {
            uint32_t a = r->rra[k].res_s, b = r->rra[k].span_s;
            r->rra[k] = r->rra[k - 1];
            r->rra[k - 1].res_s = a;
            r->rra[k - 1].span_s = b;
        }
}

int ts__layout_read(const char *abs, ts__layout *l, char *err, size_t errlen)
{
    unsigned cf[4 * FLOE_TS_MAX_RRAS] = {0}, n_rra = 0;
    uint32_t ppr[4 * FLOE_TS_MAX_RRAS] = {0}, rows[4 * FLOE_TS_MAX_RRAS] = {0};
    memset(l, 0, sizeof(*l));
    rrd_clear_error();
    rrd_info_t *info = rrd_info_r(abs);
    if (!info) {
        snprintf(err, errlen, "%s: %s", abs, rrd_test_error() ? rrd_get_error() : "unreadable");
        rrd_clear_error();
        return access(abs, F_OK) == 0 ? FLOE_EIO : FLOE_ENOTFOUND;
    }
    for (const rrd_info_t *p = info; p; p = p->next)
        ts_layout_key(l, p, cf, ppr, rows, &n_rra);
    rrd_info_free(info);
    if (!l->step_s || !l->n_ds) {
        snprintf(err, errlen, "%s: not a round-robin database floe can read", abs);
        return FLOE_EIO;
    }
    ts_layout_retention(l, cf, ppr, rows, n_rra);
    return 0;
}

int ts__layout_same(const ts__layout *l, const floe_ts_schema *s)
{
    if (l->step_s != s->step_s || l->n_ds != s->n_metrics || l->retention.n != s->retention.n ||
        l->retention.cf != s->retention.cf)
        return 0;
    for (unsigned i = 0; i < s->n_metrics; i++)
        if (strcmp(l->ds[i], s->metrics[i].name) != 0 || l->ds_type[i] != (int)s->metrics[i].type)
            return 0;
    for (unsigned i = 0; i < s->retention.n; i++) {
        uint32_t res = s->retention.rra[i].res_s;
        res = res < s->step_s ? s->step_s : res;
        if (l->retention.rra[i].res_s != res ||
            l->retention.rra[i].span_s != s->retention.rra[i].span_s / res * res)
            return 0;
    }
    return 1;
}

/* ---- migration ------------------------------------------------------------- */

/* Names a metric of the old file that the schema lacks, or NULL. */
static const char *ts_dropped_metric(const ts__layout *l, const floe_ts_schema *s)
{
    for (unsigned i = 0; i < l->n_ds; i++) {
        unsigned k = 0;
        while (k < s->n_metrics && strcmp(s->metrics[k].name, l->ds[i]) != 0)
            k++;
        if (k == s->n_metrics)
            return l->ds[i];
    }
    return NULL;
}

static int ts_migrate_file(floe_ts *ts, const char *abs, const floe_ts_schema *s, int keep_old,
                           floe_ts_migrate_result *res, char *err, size_t errlen)
{
    ts__layout l;
    char tmp[TS__PATH_MAX + 16], old[TS__PATH_MAX + 8];
    res->files_seen++;
    if (ts && ts->cached_addr)
        rrdc_flush(abs);
    int rc = ts__layout_read(abs, &l, err, errlen);
    if (rc)
        return rc;
    if (ts__layout_same(&l, s)) {
        res->files_same++;
        return 0;
    }
    const char *lost = ts_dropped_metric(&l, s);
    if (lost && !keep_old) {
        snprintf(err, errlen,
                 "%s: metric %s is not in schema %s; migrate with the old file "
                 "kept to drop it",
                 abs, lost, s->name);
        return FLOE_EINVAL;
    }
    ts_args a;
    ts_args_build(&a, s);
    const char *sources[2] = {abs, NULL};
    snprintf(tmp, sizeof(tmp), "%s.migrating", abs);
    rrd_clear_error();
    if (rrd_create_r2(tmp, s->step_s, (time_t)l.last_update, 0, sources, NULL, a.argc, a.argv)) {
        snprintf(err, errlen, "%s: migrate: %s", abs, rrd_get_error());
        rrd_clear_error();
        unlink(tmp);
        return FLOE_EIO;
    }
    ts__layout nl;
    rc = ts__layout_read(tmp, &nl, err, errlen);
    if (!rc && (nl.last_update != l.last_update || !ts__layout_same(&nl, s))) {
        snprintf(err, errlen, "%s: migrate: the new file does not check out", abs);
        rc = FLOE_EIO;
    }
    snprintf(old, sizeof(old), "%s.old", abs);
    if (!rc && keep_old && link(abs, old) != 0 &&
        !(errno == EEXIST && !unlink(old) && !link(abs, old))) {
        snprintf(err, errlen, "%s: cannot keep the old file: %s", abs, strerror(errno));
        rc = FLOE_EIO;
    }
    if (!rc && rename(tmp, abs) != 0) {
        snprintf(err, errlen, "%s: rename: %s", abs, strerror(errno));
        rc = FLOE_EIO;
    }
    if (rc)
        unlink(tmp);
    else
        res->files_migrated++;
    if (ts && ts->cached_addr)
        rrdc_forget(abs);
    return rc;
}

static int ts_has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n > k && strcmp(s + n - k, suf) == 0;
}

/* Migrates every .rrd below dir (depth-first, at most 8 levels down). */
static void ts_migrate_dir(floe_ts *ts, char *path, size_t len, int depth, const floe_ts_schema *s,
                           int keep_old, floe_ts_migrate_result *res, char *err, size_t errlen)
{
    DIR *d = depth < 8 ? opendir(path) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || len + strlen(e->d_name) + 2 >= TS__PATH_MAX)
            continue;
        snprintf(path + len, TS__PATH_MAX - len, "/%s", e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            ts_migrate_dir(ts, path, strlen(path), depth + 1, s, keep_old, res, err, errlen);
        } else if (S_ISREG(st.st_mode) && ts_has_suffix(e->d_name, ".rrd")) {
            char why[512];
            if (ts_migrate_file(ts, path, s, keep_old, res, why, sizeof(why))) {
                if (!res->files_failed++)
                    snprintf(err, errlen, "%s", why);
                if (ts)
                    log_warn(ts->log, "rrd: %s", why);
            }
        }
    }
    path[len] = 0;
    if (d)
        closedir(d);
}

int ts__migrate_run(floe_ts *ts, ts__req *req)
{
    char path[TS__PATH_MAX];
    struct stat st;
    floe_ts_schema s = *req->schema;
    if (!s.retention.n) {
        if (ts)
            s.retention = ts->retention;
        else
            floe_ts_retention_parse(&s.retention, FLOE_TS_DEFAULT_RETENTION, NULL, 0);
    }
    if (!s.retention.cf)
        s.retention.cf = FLOE_TS_CF_AVERAGE | FLOE_TS_CF_MAX;
    int rc = floe_ts_schema_validate(&s, req->err, req->errlen);
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "%s", req->path);
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        path[--n] = 0;
    if (stat(path, &st) != 0) {
        snprintf(req->err, req->errlen, "%s: %s", path, strerror(errno));
        return FLOE_ENOTFOUND;
    }
    if (S_ISDIR(st.st_mode)) {
        req->err[0] = 0;
        ts_migrate_dir(ts, path, n, 0, &s, req->keep_old, req->res, req->err, req->errlen);
        return 0;
    }
    rc = ts_migrate_file(ts, path, &s, req->keep_old, req->res, req->err, req->errlen);
    if (rc)
        req->res->files_failed++;
    return rc == FLOE_EINVAL || rc == FLOE_EIO ? 0 : rc;
}

int floe_ts_migrate(floe_ts *ts, const char *path, const floe_ts_schema *s, int keep_old,
                    floe_ts_migrate_result *res, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = 0;
    memset(res, 0, sizeof(*res));
    if (!path || !s) {
        snprintf(err, errlen, "migrate: needs a path and a schema");
        return FLOE_EINVAL;
    }
    ts__req req = {.kind = TS__REQ_MIGRATE,
                   .path = path,
                   .schema = s,
                   .keep_old = keep_old,
                   .res = res,
                   .err = err,
                   .errlen = errlen};
    if (!ts)
        return ts__migrate_run(NULL, &req);
    return ts__request(ts, &req);
}
