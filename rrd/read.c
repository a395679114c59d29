/*
 * rrd/read.c: reading series back, from any thread. A fetch asks the writer
 * to write the series' cached points first (and rrdcached to flush its
 * own), then reads with rrd_fetch_r, which is thread-safe, and writes JSON.
 * The listing walks each schema's directory and decodes the file names back
 * into tag values, at most a bounded number per schema.
 */
#include "rrd/internal.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <rrd.h>

#define TS_FETCH_POINTS 1500 /* at most this many rows in one answer */

/* Writes a JSON number with 10 significant digits (floe_json_double keeps
 * 6, too few for byte rates): the writer puts the separator with a
 * placeholder, which is then replaced. */
void ts__json_num(floe_json *j, double v)
{
    if (!isfinite(v)) {
        floe_json_null(j);
        return;
    }
    floe_json_u64(j, 0);
    j->b->len--;
    floe_buf_printf(j->b, "%.10g", v);
}

/* Resolves schema and tags to a relative path and flushes the series.
 * Returns the schema (a reference) or NULL with rc and err set. */
ts__schema *ts__series_ready(floe_ts *ts, const char *schema, const char *const *tags, char *rel,
                             size_t rellen, int *rc, char *err, size_t errlen)
{
    ts__schema *s = schema ? ts__schema_get(ts, schema) : NULL;
    if (!s) {
        snprintf(err, errlen, "schema: no schema named '%.80s'", schema ? schema : "");
        *rc = FLOE_ENOTFOUND;
        return NULL;
    }
    if (s->def.n_tags && !tags) {
        snprintf(err, errlen, "tags: schema %s needs %u tag values", s->def.name, s->def.n_tags);
        *rc = FLOE_EINVAL;
    } else {
        *rc = ts__series_relpath(s, tags, rel, rellen, err, errlen);
    }
    if (*rc < 0) {
        ts__schema_unref(s);
        return NULL;
    }
    ts__req req = {.kind = TS__REQ_FLUSH, .path = rel};
    ts__request(ts, &req);
    *rc = 0;
    return s;
}

/* Picks the metrics named in a comma-separated list (NULL, "": all). */
int ts__pick_metrics(const floe_ts_schema *d, const char *list, int *pick, char *err, size_t errlen)
{
    for (unsigned i = 0; i < d->n_metrics; i++)
        pick[i] = !list || !list[0];
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        unsigned i = 0;
        while (i < d->n_metrics &&
               !(strlen(d->metrics[i].name) == n && memcmp(d->metrics[i].name, p, n) == 0))
            i++;
        if (i == d->n_metrics) {
            snprintf(err, errlen, "metrics: '%.*s' is not a metric of %s", (int)(n > 40 ? 40 : n),
                     p, d->name);
            return FLOE_EINVAL;
        }
        pick[i] = 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

static void ts_fetch_head(floe_json *j, const floe_ts_schema *d, const char *const *tags,
                          unsigned long step, time_t start, time_t end, const int *pick)
{
    floe_json_obj_begin(j);
    floe_json_kstr(j, "schema", d->name);
    floe_json_key(j, "tags");
    floe_json_obj_begin(j);
    for (unsigned i = 0; i < d->n_tags; i++)
        floe_json_kstr(j, d->tags[i], tags[i]);
    floe_json_obj_end(j);
    floe_json_ku64(j, "step", step);
    floe_json_ku64(j, "start", (uint64_t)start);
    floe_json_ku64(j, "end", (uint64_t)end);
    floe_json_key(j, "metrics");
    floe_json_arr_begin(j);
    for (unsigned i = 0; i < d->n_metrics; i++)
        if (pick[i])
            floe_json_str(j, d->metrics[i].name);
    floe_json_arr_end(j);
}

/* The file's column of each schema metric, -1 when the file lacks it. */
static void ts_columns(const floe_ts_schema *d, char **names, unsigned long n, int *col)
{
    for (unsigned i = 0; i < d->n_metrics; i++) {
        col[i] = -1;
        for (unsigned long k = 0; k < n; k++)
            if (strcmp(names[k], d->metrics[i].name) == 0)
                col[i] = (int)k;
    }
}

int floe_ts_fetch_json(floe_ts *ts, const char *schema, const char *const *tag_values,
                       int64_t from_s, int64_t to_s, const char *metrics, floe_buf *out, char *err,
                       size_t errlen)
{
    char rel[TS__PATH_MAX], abs[TS__PATH_MAX];
    int rc, pick[FLOE_TS_MAX_METRICS], col[FLOE_TS_MAX_METRICS];
    if (from_s <= 0 || to_s <= from_s) {
        snprintf(err, errlen, "from/to: need 0 < from < to");
        return FLOE_EINVAL;
    }
    ts__schema *s = ts__series_ready(ts, schema, tag_values, rel, sizeof(rel), &rc, err, errlen);
    if (!s)
        return rc;
    const floe_ts_schema *d = &s->def;
    rc = ts__pick_metrics(d, metrics, pick, err, errlen);
    ts__abspath(ts, rel, abs, sizeof(abs));
    uint64_t want = (uint64_t)(to_s - from_s) / TS_FETCH_POINTS;
    unsigned long step = want > d->step_s ? want : d->step_s, n_ds = 0;
    /* A point stored at t covers the step before t: the one at from_s is
     * asked for by starting a step earlier. */
    time_t start = (time_t)(from_s - (int64_t)step), end = (time_t)to_s;
    char **names = NULL;
    rrd_value_t *data = NULL;
    if (!rc && rrd_fetch_r(abs, "AVERAGE", &start, &end, &step, &n_ds, &names, &data) != 0) {
        snprintf(err, errlen, "%s: %s", rel, rrd_get_error());
        rc = access(abs, F_OK) == 0 ? FLOE_EIO : FLOE_ENOTFOUND;
    }
    rrd_clear_error();
    if (!rc) {
        floe_json j;
        floe_json_init(&j, out);
        /* Rows are stamped with the end of their interval; librrd returns
         * whole intervals around the range, so keep those that end in it. */
        size_t rows = step ? (size_t)(end - start) / step : 0, r0 = 0;
        while (r0 < rows && start + (time_t)((r0 + 1) * step) < from_s)
            r0++;
        while (rows > r0 && start + (time_t)(rows * step) > to_s)
            rows--;
        ts_fetch_head(&j, d, tag_values, step, start + (time_t)((r0 + 1) * step),
                      start + (time_t)(rows * step), pick);
        ts_columns(d, names, n_ds, col);
        floe_json_key(&j, "points");
        floe_json_arr_begin(&j);
        for (size_t r = r0; r < rows; r++) {
            floe_json_arr_begin(&j);
            floe_json_i64(&j, (int64_t)(start + (time_t)((r + 1) * step)));
            for (unsigned i = 0; i < d->n_metrics; i++)
                if (pick[i])
                    ts__json_num(&j, col[i] < 0 ? NAN : data[r * n_ds + (size_t)col[i]]);
            floe_json_arr_end(&j);
        }
        floe_json_arr_end(&j);
        floe_json_obj_end(&j);
        rc = floe_buf_ok(out) ? 0 : FLOE_ENOMEM;
    }
    for (unsigned long k = 0; names && k < n_ds; k++)
        rrd_freemem(names[k]);
    rrd_freemem(names);
    rrd_freemem(data);
    ts__schema_unref(s);
    return rc;
}

/* ---- listing --------------------------------------------------------------- */

/* Writes the tag values that a series file name stands for; 0 or -1. */
static int ts_list_series(floe_json *j, const floe_ts_schema *d, const char *name)
{
    char values[FLOE_TS_MAX_TAGS][FLOE_TS_VALUE_MAX + 1];
    const char *p = name, *end = name + strlen(name) - 4; /* without ".rrd" */
    if (d->n_tags == 0 && !(end - p == 1 && *p == '_'))
        return -1;
    for (unsigned k = 0; k < d->n_tags; k++) {
        const char *q = memchr(p, '+', (size_t)(end - p));
        q = q ? q : end;
        if ((k + 1 < d->n_tags) != (q < end) ||
            floe_ts_tag_decode(p, (size_t)(q - p), values[k], sizeof(values[k])) < 0)
            return -1;
        p = q + 1;
    }
    floe_json_obj_begin(j);
    for (unsigned k = 0; k < d->n_tags; k++)
        floe_json_kstr(j, d->tags[k], values[k]);
    floe_json_obj_end(j);
    return 0;
}

static void ts_list_schema(floe_ts *ts, floe_json *j, const ts__schema *s, size_t max)
{
    char path[TS__PATH_MAX], ret[200];
    const floe_ts_schema *d = &s->def;
    floe_json_obj_begin(j);
    floe_json_kstr(j, "name", d->name);
    floe_json_kstr(j, "title", d->title[0] ? d->title : d->name);
    floe_json_ku64(j, "step", d->step_s);
    floe_json_kstr(j, "retention", floe_ts_retention_format(&d->retention, ret, sizeof(ret)));
    floe_json_key(j, "tags");
    floe_json_arr_begin(j);
    for (unsigned i = 0; i < d->n_tags; i++)
        floe_json_str(j, d->tags[i]);
    floe_json_arr_end(j);
    floe_json_key(j, "metrics");
    floe_json_arr_begin(j);
    for (unsigned i = 0; i < d->n_metrics; i++) {
        floe_json_obj_begin(j);
        floe_json_kstr(j, "name", d->metrics[i].name);
        floe_json_kstr(j, "type", d->metrics[i].type == FLOE_TS_DELTA ? "delta" : "gauge");
        floe_json_kstr(j, "unit", d->metrics[i].unit);
        floe_json_kstr(j, "title",
                       d->metrics[i].title[0] ? d->metrics[i].title : d->metrics[i].name);
        floe_json_obj_end(j);
    }
    floe_json_arr_end(j);
    floe_json_key(j, "series");
    floe_json_arr_begin(j);
    ts__abspath(ts, s->dir, path, sizeof(path));
    DIR *dir = opendir(path);
    struct dirent *e;
    size_t listed = 0;
    int more = 0;
    while (dir && (e = readdir(dir))) {
        size_t n = strlen(e->d_name);
        if (n <= 4 || strcmp(e->d_name + n - 4, ".rrd") != 0)
            continue;
        if (listed == max) {
            more = 1;
            break;
        }
        listed += ts_list_series(j, d, e->d_name) == 0;
    }
    if (dir)
        closedir(dir);
    floe_json_arr_end(j);
    floe_json_key(j, "more");
    floe_json_bool(j, more);
    floe_json_obj_end(j);
}

int floe_ts_list_json(floe_ts *ts, floe_json *j, size_t max_series)
{
    ts__schema *list[TS__MAX_SCHEMAS];
    unsigned n = 0;
    pthread_mutex_lock(&ts->slock);
    for (; n < ts->n_schemas; n++) {
        list[n] = ts->schemas[n];
        ts__schema_ref(list[n]);
    }
    pthread_mutex_unlock(&ts->slock);
    floe_json_obj_begin(j);
    floe_json_key(j, "schemas");
    floe_json_arr_begin(j);
    for (unsigned i = 0; i < n; i++) {
        ts_list_schema(ts, j, list[i], max_series ? max_series : 1000);
        ts__schema_unref(list[i]);
    }
    floe_json_arr_end(j);
    floe_json_obj_end(j);
    return floe_buf_ok(j->b) ? 0 : FLOE_ENOMEM;
}
