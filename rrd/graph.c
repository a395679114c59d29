/*
 * rrd/graph.c: charts. A request comes from query-string pairs (each key in
 * one table, with its parser), is normalised into a cache key (a range is
 * anchored to "now" rounded to the cache lifetime, so repeated requests hit),
 * and is drawn by rrd_graph_v into memory under rlock: librrd's graph code
 * keeps static state and must run one call at a time. Deltas are drawn per
 * second and bytes as bits; each metric's legend line gives last, average
 * and maximum with SI prefixes.
 */
#include "rrd/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <rrd.h>

void floe_ts_graph_req_init(floe_ts_graph_req *r)
{
    memset(r, 0, sizeof(*r));
    r->range_s = 86400;
    r->width = 720;
    r->height = 200;
    r->format = FLOE_TS_SVG;
}

/* ---- parsing --------------------------------------------------------------- */

static int ts_num(const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

static int ts_range(const char *v, int64_t *out)
{
    static const struct {
        char unit;
        int64_t s;
    } units[] = {
        {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}, {'m', 31 * 86400}, {'y', 365 * 86400}};
    size_t n = strlen(v);
    char num[16];
    int64_t k;
    if (n < 2 || n > 8)
        return -1;
    memcpy(num, v, n - 1);
    num[n - 1] = 0;
    if (ts_num(num, 1, 100000, &k))
        return -1;
    for (size_t i = 0; i < FLOE_ARRAY_LEN(units); i++)
        if (units[i].unit == v[n - 1] && k * units[i].s <= 10 * 365 * 86400LL) {
            *out = k * units[i].s;
            return 0;
        }
    return -1;
}

static int ts_copy(char *dst, size_t n, const char *v)
{
    if (strlen(v) >= n)
        return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int ts_key_tags(floe_ts_graph_req *r, const char *v)
{
    r->n_tags = 0;
    for (const char *p = v; *p || r->n_tags == 0;) {
        size_t n = strcspn(p, ",");
        if (r->n_tags == FLOE_TS_MAX_TAGS || n == 0 || n > FLOE_TS_VALUE_MAX)
            return -1;
        memcpy(r->tags[r->n_tags], p, n);
        r->tags[r->n_tags][n] = 0;
        r->tag_keys[r->n_tags++][0] = 0;
        p += n;
        if (!*p)
            break;
        p++;
    }
    return 0;
}

static int ts_key(floe_ts_graph_req *r, const char *k, const char *v)
{
    int64_t x;
    if (!strcmp(k, "schema"))
        return ts_copy(r->schema, sizeof(r->schema), v);
    if (!strcmp(k, "tags"))
        return ts_key_tags(r, v);
    if (!strcmp(k, "from") || !strcmp(k, "to")) {
        if (ts_num(v, 1, 1LL << 40, &x))
            return -1;
        *(k[0] == 'f' ? &r->from_s : &r->to_s) = x;
        return 0;
    }
    if (!strcmp(k, "range"))
        return ts_range(v, &x) ? -1 : (r->range_s = (uint32_t)x, 0);
    if (!strcmp(k, "metrics"))
        return ts_copy(r->metrics, sizeof(r->metrics), v);
    if (!strcmp(k, "mode") && (!strcmp(v, "lines") || !strcmp(v, "stacked")))
        return r->stacked = v[0] == 's', 0;
    if (!strcmp(k, "width"))
        return ts_num(v, 200, 2000, &x) ? -1 : (r->width = (unsigned)x, 0);
    if (!strcmp(k, "height"))
        return ts_num(v, 80, 1000, &x) ? -1 : (r->height = (unsigned)x, 0);
    if (!strcmp(k, "theme") && (!strcmp(v, "light") || !strcmp(v, "dark")))
        return r->dark = v[0] == 'd', 0;
    if (!strcmp(k, "format") && (!strcmp(v, "png") || !strcmp(v, "svg")))
        return r->format = v[0] == 'p' ? FLOE_TS_PNG : FLOE_TS_SVG, 0;
    if (!strcmp(k, "title"))
        return ts_copy(r->title, sizeof(r->title), v);
    return -2;
}

/* What each key takes, for the error line. */
static const char *ts_key_help(const char *k)
{
    static const char *const help[][2] = {
        {"schema", "a schema name"},
        {"tags", "tag values, comma-separated, in the schema's order"},
        {"from", "epoch seconds"},
        {"to", "epoch seconds"},
        {"range", "1h, 6h, 1d, 1w, 1m or 1y (a number and h, d, w, m, y)"},
        {"metrics", "metric names, comma-separated"},
        {"mode", "lines or stacked"},
        {"width", "200 to 2000"},
        {"height", "80 to 1000"},
        {"theme", "light or dark"},
        {"format", "png or svg"},
        {"title", "at most 79 bytes"},
    };
    for (size_t i = 0; i < FLOE_ARRAY_LEN(help); i++)
        if (!strcmp(help[i][0], k))
            return help[i][1];
    return NULL;
}

int floe_ts_graph_req_parse(floe_ts_graph_req *r, const char *const *keys,
                            const char *const *values, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const char *k = keys[i] ? keys[i] : "", *v = values[i] ? values[i] : "";
        int rc = ts_key(r, k, v);
        if (rc == -2 && strlen(k) < FLOE_TS_TAG_MAX && strlen(v) <= FLOE_TS_VALUE_MAX && v[0] &&
            r->n_tags < FLOE_TS_MAX_TAGS && k[0]) {
            /* A tag by name: floe_ts_graph checks it against the schema. */
            memcpy(r->tag_keys[r->n_tags], k, strlen(k) + 1);
            memcpy(r->tags[r->n_tags++], v, strlen(v) + 1);
            continue;
        }
        if (rc == -1) {
            snprintf(err, errlen, "chart: bad %s '%.60s': %s", k, v, ts_key_help(k));
            return FLOE_EINVAL;
        }
        if (rc == -2) {
            snprintf(err, errlen, "chart: unknown key '%.40s'", k);
            return FLOE_EINVAL;
        }
    }
    if (r->from_s && r->to_s && r->from_s >= r->to_s) {
        snprintf(err, errlen, "chart: bad from '%lld': must be before to", (long long)r->from_s);
        return FLOE_EINVAL;
    }
    return 0;
}

/* Puts the tag values in the schema's order. Returns 0 or FLOE_EINVAL. */
/* The request's tags in the schema's order; with group, the last may be
 * missing (*group is then set). */
static int ts_order_tags_group(const floe_ts_graph_req *r, const floe_ts_schema *d,
                               const char **out, int *group, char *err, size_t errlen);

static int ts_order_tags(const floe_ts_graph_req *r, const floe_ts_schema *d, const char **out,
                         char *err, size_t errlen)
{
    return ts_order_tags_group(r, d, out, NULL, err, errlen);
}

static int ts_order_tags_group(const floe_ts_graph_req *r, const floe_ts_schema *d,
                               const char **out, int *group, char *err, size_t errlen)
{
    for (unsigned i = 0; i < FLOE_TS_MAX_TAGS; i++)
        out[i] = NULL;
    for (unsigned i = 0; i < r->n_tags; i++) {
        unsigned k = i;
        if (r->tag_keys[i][0])
            for (k = 0; k < d->n_tags && strcmp(d->tags[k], r->tag_keys[i]) != 0; k++)
                ;
        if (k >= d->n_tags) {
            if (r->tag_keys[i][0])
                snprintf(err, errlen, "chart: unknown key '%s'", r->tag_keys[i]);
            else
                snprintf(err, errlen, "chart: bad tags: %s has %u tags", d->name, d->n_tags);
            return FLOE_EINVAL;
        }
        out[k] = r->tags[i];
    }
    for (unsigned k = 0; k < d->n_tags; k++) {
        if (out[k])
            continue;
        if (group && k + 1 == d->n_tags) {
            *group = 1;
            continue;
        }
        snprintf(err, errlen, "chart: missing tag '%s' of %s", d->tags[k], d->name);
        return FLOE_EINVAL;
    }
    return 0;
}

int floe_ts_fetch_req_json(floe_ts *ts, const floe_ts_graph_req *req, floe_buf *out, char *err,
                           size_t errlen)
{
    const char *tags[FLOE_TS_MAX_TAGS];
    floe_ts_schema def;
    if (floe_ts_schema_find(ts, req->schema, &def) != 0) {
        snprintf(err, errlen, "timeseries: bad schema '%.80s': no such schema", req->schema);
        return FLOE_ENOTFOUND;
    }
    int group = 0;
    int rc = ts_order_tags_group(req, &def, tags, &group, err, errlen);
    if (rc)
        return rc;
    int64_t to = req->to_s ? req->to_s : (int64_t)time(NULL);
    int64_t from = req->from_s ? req->from_s : to - req->range_s;
    if (group)
        return floe_ts_fetch_group_json(ts, def.name, tags, from, to, req->metrics, out, err,
                                        errlen);
    return floe_ts_fetch_json(ts, def.name, tags, from, to, req->metrics, out, err, errlen);
}

/* ---- drawing ----------------------------------------------------------------- */

typedef struct ts_theme {
    const char *colors[10];
    const char *palette[8];
} ts_theme;

static const ts_theme ts_themes[2] = {
    {{"BACK#FFFFFF", "CANVAS#FFFFFF", "SHADEA#FFFFFF", "SHADEB#FFFFFF", "FONT#333333",
      "GRID#DDDDDD80", "MGRID#BBBBBBA0", "AXIS#666666", "ARROW#666666", "FRAME#FFFFFF"},
     {"#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2", "#17BECF"}},
    {{"BACK#1E1E1E", "CANVAS#252526", "SHADEA#1E1E1E", "SHADEB#1E1E1E", "FONT#D4D4D4",
      "GRID#FFFFFF18", "MGRID#FFFFFF38", "AXIS#A0A0A0", "ARROW#A0A0A0", "FRAME#1E1E1E"},
     {"#4FC3F7", "#FFB74D", "#81C784", "#E57373", "#BA68C8", "#A1887F", "#F06292", "#4DD0E1"}},
};

/* How a metric is drawn: the factor on its stored value and the unit. */
static double ts_display(const floe_ts_metric *m, char *unit, size_t n)
{
    int bytes = strcmp(m->unit, "bytes") == 0;
    if (m->type == FLOE_TS_DELTA && bytes)
        snprintf(unit, n, "bits/s");
    else if (m->type == FLOE_TS_DELTA && strcmp(m->unit, "count") && m->unit[0])
        snprintf(unit, n, "%s/s", m->unit);
    else if (m->type == FLOE_TS_DELTA)
        snprintf(unit, n, "per second");
    else
        snprintf(unit, n, "%s", strcmp(m->unit, "bps") == 0 ? "bits/s" : m->unit);
    return m->type == FLOE_TS_DELTA && bytes ? 8.0 : 1.0;
}

/* Appends text with rrd_graph's separators escaped. */
static void ts_escaped(floe_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == ':' || *s == '\\')
            floe_buf_putc(b, '\\');
        floe_buf_putc(b, *s);
    }
}

typedef struct ts_argv {
    floe_buf text;
    size_t off[256];
    int n;
} ts_argv;

static void ts_arg(ts_argv *a, const char *fmt, ...) FLOE_PRINTF(2, 3);
static void ts_arg(ts_argv *a, const char *fmt, ...)
{
    if (a->n == (int)FLOE_ARRAY_LEN(a->off))
        return;
    a->off[a->n++] = a->text.len;
    char tmp[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    floe_buf_append(&a->text, tmp, strlen(tmp) + 1);
}

static void ts_graph_frame(ts_argv *a, const floe_ts_graph_req *r, const floe_ts_schema *d,
                           const char *const *tags, int64_t from, int64_t to, const char *vlabel,
                           int all_deltas)
{
    const ts_theme *th = &ts_themes[r->dark ? 1 : 0];
    ts_arg(a, "graph");
    ts_arg(a, "-");
    ts_arg(a, "--imgformat=%s", r->format == FLOE_TS_PNG ? "PNG" : "SVG");
    ts_arg(a, "--start=%lld", (long long)from);
    ts_arg(a, "--end=%lld", (long long)to);
    ts_arg(a, "--width=%u", r->width);
    ts_arg(a, "--height=%u", r->height);
    if (r->title[0]) {
        ts_arg(a, "--title=%s", r->title);
    } else {
        char t[600] = "";
        size_t o = (size_t)snprintf(t, sizeof(t), "%s", d->title[0] ? d->title : d->name);
        for (unsigned i = 0; i < d->n_tags && o < sizeof(t); i++)
            o += (size_t)snprintf(t + o, sizeof(t) - o, "%s%s", i ? ", " : " \xe2\x80\x94 ",
                                  tags[i]);
        ts_arg(a, "--title=%s", t);
    }
    ts_arg(a, "--vertical-label=%s", vlabel);
    ts_arg(a, "--base=1000");
    ts_arg(a, "--slope-mode");
    ts_arg(a, "--border=0");
    if (all_deltas)
        ts_arg(a, "--lower-limit=0");
    for (size_t i = 0; i < FLOE_ARRAY_LEN(th->colors); i++)
        ts_arg(a, "--color=%s", th->colors[i]);
}

/* One metric: its DEFs, CDEFs, VDEFs, the line or area, and its legend. */
static void ts_graph_metric(ts_argv *a, const floe_ts_graph_req *r, const floe_ts_metric *m,
                            unsigned i, unsigned shown, const char *escpath, int has_max)
{
    char unit[40];
    double f = ts_display(m, unit, sizeof(unit));
    const char *color = ts_themes[r->dark ? 1 : 0].palette[shown % 8];
    ts_arg(a, "DEF:a%u=%s:%s:AVERAGE", i, escpath, m->name);
    ts_arg(a, "CDEF:v%u=a%u,%g,*", i, i, f);
    if (has_max) {
        ts_arg(a, "DEF:x%u=%s:%s:MAX", i, escpath, m->name);
        ts_arg(a, "CDEF:m%u=x%u,%g,*", i, i, f);
    }
    ts_arg(a, "VDEF:l%u=v%u,LAST", i, i);
    ts_arg(a, "VDEF:g%u=v%u,AVERAGE", i, i);
    ts_arg(a, "VDEF:h%u=%c%u,MAXIMUM", i, has_max ? 'm' : 'v', i);
    floe_buf legend;
    floe_buf_init(&legend);
    ts_escaped(&legend, m->title[0] ? m->title : m->name);
    if (r->stacked)
        ts_arg(a, "AREA:v%u%sC0:%-18.18s%s", i, color, legend.data, shown ? ":STACK" : "");
    else
        ts_arg(a, "LINE1.5:v%u%s:%-18.18s", i, color, legend.data);
    floe_buf_close(&legend);
    ts_arg(a, "GPRINT:l%u:%%8.2lf %%s", i);
    ts_arg(a, "GPRINT:g%u:%%8.2lf %%s", i);
    ts_arg(a, "GPRINT:h%u:%%8.2lf %%s %s\\l", i, unit);
}

static int ts_render(floe_ts *ts, ts_argv *a, floe_buf *image, char *err, size_t errlen)
{
    const char *argv[FLOE_ARRAY_LEN(a->off)];
    for (int i = 0; i < a->n; i++)
        argv[i] = a->text.data + a->off[i];
    pthread_mutex_lock(&ts->rlock);
    rrd_clear_error();
    rrd_info_t *info = rrd_graph_v(a->n, (char **)argv);
    int rc = FLOE_EIO;
    for (rrd_info_t *p = info; p; p = p->next)
        if (p->type == RD_I_BLO && strcmp(p->key, "image") == 0) {
            floe_buf_append(image, p->value.u_blo.ptr, p->value.u_blo.size);
            rc = 0;
        }
    if (rc)
        snprintf(err, errlen, "chart: %s", rrd_test_error() ? rrd_get_error() : "no image");
    rrd_clear_error();
    rrd_info_free(info);
    pthread_mutex_unlock(&ts->rlock);
    return rc;
}

static int ts_graph_draw(floe_ts *ts, const floe_ts_graph_req *r, const ts__schema *s,
                         const char *const *tags, const char *rel, int64_t from, int64_t to,
                         floe_buf *image, char *err, size_t errlen)
{
    const floe_ts_schema *d = &s->def;
    int pick[FLOE_TS_MAX_METRICS];
    char abs[TS__PATH_MAX], vlabel[80] = "";
    int all_deltas = 1;
    int rc = ts__pick_metrics(d, r->metrics, pick, err, errlen);
    if (rc)
        return rc;
    ts__abspath(ts, rel, abs, sizeof(abs));
    if (access(abs, R_OK) != 0) {
        snprintf(err, errlen, "chart: no data for %s", rel);
        return FLOE_ENOTFOUND;
    }
    for (unsigned i = 0; i < d->n_metrics; i++)
        if (pick[i]) {
            if (!vlabel[0])
                ts_display(&d->metrics[i], vlabel, sizeof(vlabel));
            all_deltas &= d->metrics[i].type == FLOE_TS_DELTA;
        }
    floe_buf esc;
    floe_buf_init(&esc);
    ts_escaped(&esc, abs);
    ts_argv a = {.n = 0};
    floe_buf_init(&a.text);
    ts_graph_frame(&a, r, d, tags, from, to, vlabel, all_deltas);
    ts_arg(&a, "COMMENT:%-18s%11s%11s%11s\\l", " ", "last", "average", "maximum");
    unsigned shown = 0;
    for (unsigned i = 0; i < d->n_metrics; i++)
        if (pick[i])
            ts_graph_metric(&a, r, &d->metrics[i], i, shown++, esc.data,
                            (d->retention.cf & FLOE_TS_CF_MAX) != 0);
    rc = floe_buf_ok(&a.text) ? ts_render(ts, &a, image, err, errlen) : FLOE_ENOMEM;
    floe_buf_close(&a.text);
    floe_buf_close(&esc);
    return rc;
}

/* ---- the cache ----------------------------------------------------------------- */

static ts__gentry *ts_gcache_find(floe_ts *ts, const char *key, uint64_t now)
{
    floe_list *h = &ts->gcache;
    for (floe_list *p = h->next; p != h; p = p->next) {
        ts__gentry *e = FLOE_CONTAINER_OF(p, ts__gentry, link);
        if (now - e->made_ms < ts->graph_cache_s * 1000ULL && strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

static void ts_gentry_free(floe_ts *ts, ts__gentry *e)
{
    floe_list_remove(&e->link);
    ts->gcache_n--;
    free(e->key);
    free(e->data);
    free(e);
}

static void ts_gcache_put(floe_ts *ts, const char *key, const floe_buf *img, const char *ctype)
{
    ts__gentry *e = calloc(1, sizeof(*e));
    if (!e || !(e->key = strdup(key)) || !(e->data = malloc(img->len))) {
        if (e)
            free(e->key);
        free(e);
        return;
    }
    memcpy(e->data, img->data, img->len);
    e->len = img->len;
    e->ctype = ctype;
    e->made_ms = floe_monotonic_ms();
    pthread_mutex_lock(&ts->glock);
    floe_list_push_tail(&ts->gcache, &e->link); /* oldest at the head */
    ts->gcache_n++;
    while (ts->gcache_n > ts->graph_cache_max)
        ts_gentry_free(ts, FLOE_CONTAINER_OF(ts->gcache.next, ts__gentry, link));
    pthread_mutex_unlock(&ts->glock);
}

void ts__gcache_close(floe_ts *ts)
{
    while (!floe_list_empty(&ts->gcache))
        ts_gentry_free(ts, FLOE_CONTAINER_OF(ts->gcache.next, ts__gentry, link));
}

/* The request with its range anchored, as a cache key. */
static void ts_graph_key(floe_buf *k, const floe_ts_graph_req *r, const char *rel, int64_t from,
                         int64_t to)
{
    floe_buf_printf(k, "%s|%lld|%lld|%s|%d|%u|%u|%d|%d|%s", rel, (long long)from, (long long)to,
                    r->metrics, r->stacked, r->width, r->height, r->dark, (int)r->format, r->title);
}

int floe_ts_graph(floe_ts *ts, const floe_ts_graph_req *req, floe_buf *image,
                  const char **content_type, char *err, size_t errlen)
{
    const char *tags[FLOE_TS_MAX_TAGS];
    char rel[TS__PATH_MAX];
    floe_ts_schema def;
    int rc = floe_ts_schema_find(ts, req->schema, &def);
    if (rc) {
        snprintf(err, errlen, "chart: bad schema '%.80s': no such schema", req->schema);
        return rc;
    }
    if ((rc = ts_order_tags(req, &def, tags, err, errlen)) != 0)
        return rc;
    int64_t q = ts->graph_cache_s, to = req->to_s, from = req->from_s;
    if (!to)
        to = (int64_t)time(NULL) / q * q;
    if (!from)
        from = to - req->range_s;
    *content_type = req->format == FLOE_TS_PNG ? "image/png" : "image/svg+xml";
    if ((rc = floe_ts_series_path(&def, tags, rel, sizeof(rel), err, errlen)) < 0)
        return rc;
    floe_buf key;
    floe_buf_init(&key);
    ts_graph_key(&key, req, rel, from, to);
    pthread_mutex_lock(&ts->glock);
    ts__gentry *e = key.data ? ts_gcache_find(ts, key.data, floe_monotonic_ms()) : NULL;
    if (e)
        floe_buf_append(image, e->data, e->len);
    pthread_mutex_unlock(&ts->glock);
    if (e) {
        atomic_fetch_add(&ts->c_gcached, 1);
        floe_buf_close(&key);
        return 0;
    }
    ts__schema *s = ts__series_ready(ts, def.name, tags, rel, sizeof(rel), &rc, err, errlen);
    size_t at = image->len;
    if (s)
        rc = ts_graph_draw(ts, req, s, tags, rel, from, to, image, err, errlen);
    if (s && !rc) {
        atomic_fetch_add(&ts->c_rendered, 1);
        floe_buf part = {.data = image->data + at, .len = image->len - at};
        ts_gcache_put(ts, key.data, &part, *content_type);
    }
    ts__schema_unref(s);
    floe_buf_close(&key);
    return rc;
}
