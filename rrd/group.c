/*
 * rrd/group.c: a group of series as one answer. Given every tag value of a
 * schema but the last, the series whose names start with those values are
 * read (a host's applications in host:ndpi), one metric each, and become
 * the columns of one answer named by their last tag value: the largest
 * ones over the range by name, the rest summed as "other". The web UI draws
 * it like any other series.
 */
#include "rrd/internal.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <rrd.h>

#define GROUP_FILES_MAX 256 /* series read at most */
#define GROUP_SHOWN     7   /* columns by name; the rest go to "other" */
#define GROUP_POINTS    1500

typedef struct member {
    char name[FLOE_TS_VALUE_MAX + 1];
    double *v; /* one per row of the answer's grid; NaN unknown */
    double sum;
} member;

typedef struct grid {
    time_t start; /* the first row ends at start + step */
    unsigned long step;
    size_t rows;
} grid;

/* The file names of the group: prefix (the encoded values and '+') then
 * one more value and ".rrd". Fills names (decoded) up to max. */
static size_t group_names(const char *dir, const char *prefix, member *m, size_t max)
{
    DIR *d = opendir(dir);
    size_t n = 0, pl = strlen(prefix);
    struct dirent *de;
    while (d && n < max && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len <= pl + 4 || strncmp(de->d_name, prefix, pl) != 0 ||
            strcmp(de->d_name + len - 4, ".rrd") != 0 || memchr(de->d_name + pl, '+', len - pl - 4))
            continue;
        if (floe_ts_tag_decode(de->d_name + pl, len - pl - 4, m[n].name, sizeof(m[n].name)) >= 0)
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* Reads one member's metric column into m->v on grid g (set by the first
 * member read). Returns 0 or -1 (the member is left out). */
static int member_read(floe_ts *ts, const char *rel, int metric, int64_t from_s, int64_t to_s,
                       grid *g, member *m)
{
    char abs[TS__PATH_MAX];
    ts__req req = {.kind = TS__REQ_FLUSH, .path = rel};
    ts__request(ts, &req);
    ts__abspath(ts, rel, abs, sizeof(abs));
    unsigned long step = g->step, n_ds = 0;
    time_t start = (time_t)(from_s - (int64_t)step), end = (time_t)to_s;
    char **names = NULL;
    rrd_value_t *data = NULL;
    int rc = rrd_fetch_r(abs, "AVERAGE", &start, &end, &step, &n_ds, &names, &data) == 0 &&
                     (unsigned long)metric < n_ds
                 ? 0
                 : -1;
    rrd_clear_error();
    if (rc == 0 && g->rows == 0) {
        g->start = start;
        g->step = step;
        g->rows = (size_t)(end - start) / step;
    }
    if (rc == 0 && (m->v = malloc(g->rows * sizeof(double))) != NULL) {
        size_t rows = (size_t)(end - start) / step;
        for (size_t r = 0; r < g->rows; r++) {
            time_t t = g->start + (time_t)((r + 1) * g->step); /* this row's end */
            long k = step ? (long)((t - start) / (time_t)step) - 1 : -1;
            double v = k >= 0 && (size_t)k < rows ? data[(size_t)k * n_ds + (size_t)metric] : NAN;
            m->v[r] = v;
            if (isfinite(v) && t > from_s && t <= to_s)
                m->sum += v;
        }
    } else {
        rc = -1;
    }
    for (unsigned long k = 0; names && k < n_ds; k++)
        rrd_freemem(names[k]);
    rrd_freemem(names);
    rrd_freemem(data);
    return rc;
}

static int by_sum(const void *a, const void *b)
{
    double x = ((const member *)a)->sum, y = ((const member *)b)->sum;
    return x < y ? 1 : x > y ? -1 : strcmp(((const member *)a)->name, ((const member *)b)->name);
}

static void group_write(floe_json *j, const floe_ts_schema *d, const char *const *tags,
                        const grid *g, member *m, size_t n, int64_t from_s, int64_t to_s)
{
    size_t shown = n > GROUP_SHOWN + 1 ? GROUP_SHOWN : n, r0 = 0, rows = g->rows;
    while (r0 < rows && g->start + (time_t)((r0 + 1) * g->step) <= from_s)
        r0++;
    while (rows > r0 && g->start + (time_t)(rows * g->step) > to_s)
        rows--;
    floe_json_obj_begin(j);
    floe_json_kstr(j, "schema", d->name);
    floe_json_key(j, "tags");
    floe_json_obj_begin(j);
    for (unsigned i = 0; i + 1 < d->n_tags; i++)
        floe_json_kstr(j, d->tags[i], tags[i]);
    floe_json_obj_end(j);
    floe_json_kstr(j, "group", d->tags[d->n_tags - 1]);
    floe_json_ku64(j, "step", g->step);
    floe_json_ku64(j, "start", (uint64_t)(g->start + (time_t)((r0 + 1) * g->step)));
    floe_json_ku64(j, "end", (uint64_t)(g->start + (time_t)(rows * g->step)));
    floe_json_key(j, "metrics");
    floe_json_arr_begin(j);
    for (size_t i = 0; i < shown; i++)
        floe_json_str(j, m[i].name);
    if (shown < n)
        floe_json_str(j, "other");
    floe_json_arr_end(j);
    floe_json_key(j, "points");
    floe_json_arr_begin(j);
    for (size_t r = r0; r < rows; r++) {
        floe_json_arr_begin(j);
        floe_json_i64(j, (int64_t)(g->start + (time_t)((r + 1) * g->step)));
        double other = NAN;
        for (size_t i = 0; i < n; i++) {
            double v = m[i].v[r];
            if (i < shown)
                ts__json_num(j, v);
            else if (isfinite(v))
                other = isfinite(other) ? other + v : v;
        }
        if (shown < n)
            ts__json_num(j, other);
        floe_json_arr_end(j);
    }
    floe_json_arr_end(j);
    floe_json_obj_end(j);
}

int floe_ts_fetch_group_json(floe_ts *ts, const char *schema, const char *const *tag_values,
                             int64_t from_s, int64_t to_s, const char *metrics, floe_buf *out,
                             char *err, size_t errlen)
{
    if (from_s <= 0 || to_s <= from_s) {
        snprintf(err, errlen, "from/to: need 0 < from < to");
        return FLOE_EINVAL;
    }
    ts__schema *s = schema ? ts__schema_get(ts, schema) : NULL;
    if (!s) {
        snprintf(err, errlen, "schema: no schema named '%.80s'", schema ? schema : "");
        return FLOE_ENOTFOUND;
    }
    const floe_ts_schema *d = &s->def;
    int pick[FLOE_TS_MAX_METRICS], metric = -1, rc = 0;
    char prefix[TS__PATH_MAX] = "", dir[TS__PATH_MAX];
    size_t pl = 0;
    if (d->n_tags == 0) {
        snprintf(err, errlen, "tags: %s has no tags to group by", d->name);
        rc = FLOE_EINVAL;
    } else if ((rc = ts__pick_metrics(d, metrics && metrics[0] ? metrics : d->metrics[0].name, pick,
                                      err, errlen)) == 0) {
        for (unsigned i = 0; i < d->n_metrics; i++)
            if (pick[i])
                metric = metric < 0 ? (int)i : -2;
        if (metric < 0) {
            snprintf(err, errlen, "metrics: a group shows one metric");
            rc = FLOE_EINVAL;
        }
    }
    for (unsigned i = 0; rc == 0 && i + 1 < d->n_tags; i++) {
        int n = floe_ts_tag_encode(tag_values[i], prefix + pl, sizeof(prefix) - pl - 1);
        if (n < 0) {
            snprintf(err, errlen, "tags: bad value for '%s'", d->tags[i]);
            rc = FLOE_EINVAL;
        } else {
            pl += (size_t)n;
            prefix[pl++] = '+';
            prefix[pl] = '\0';
        }
    }
    member *m = rc == 0 ? calloc(GROUP_FILES_MAX, sizeof(*m)) : NULL;
    if (rc == 0 && !m)
        rc = FLOE_ENOMEM;
    size_t n = 0, kept = 0;
    if (rc == 0) {
        snprintf(dir, sizeof(dir), "%s/%s", ts->dir, s->dir);
        n = group_names(dir, d->n_tags > 1 ? prefix : "", m, GROUP_FILES_MAX);
        uint64_t want = (uint64_t)(to_s - from_s) / GROUP_POINTS;
        grid g = {0, want > d->step_s ? (unsigned long)want : d->step_s, 0};
        for (size_t i = 0; i < n; i++) {
            char rel[TS__PATH_MAX], file[FLOE_TS_VALUE_MAX * 3 + 2];
            floe_ts_tag_encode(m[i].name, file, sizeof(file));
            snprintf(rel, sizeof(rel), "%s/%s%s.rrd", s->dir, prefix, file);
            if (member_read(ts, rel, metric, from_s, to_s, &g, &m[i]) == 0)
                m[kept++] = m[i];
        }
        if (kept == 0) {
            snprintf(err, errlen, "no series of %s with those tags", d->name);
            rc = FLOE_ENOTFOUND;
        } else {
            qsort(m, kept, sizeof(*m), by_sum);
            floe_json j;
            floe_json_init(&j, out);
            group_write(&j, d, tag_values, &g, m, kept, from_s, to_s);
            rc = floe_buf_ok(out) ? 0 : FLOE_ENOMEM;
        }
    }
    for (size_t i = 0; m && i < kept; i++)
        free(m[i].v);
    free(m);
    ts__schema_unref(s);
    return rc;
}
