/*
 * rrd/schema.c: schemas, retentions and file names. The retention string
 * parser, the schema builders and checks, the reversible encoding of tag
 * values into file names, and the registry of defined schemas (a small
 * array under slock, read by the producer, the writer and readers).
 */
#include "rrd/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- retention ----------------------------------------------------------- */

/* Units of the retention string; 'm' is minutes (months are "30d"). */
static const struct {
    char unit;
    uint32_t s;
} ts_units[] = {
    {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}, {'y', 365 * 86400},
};

static const struct {
    const char *name;
    unsigned bit;
    const char *rrd;
} ts_cfs[] = {
    {"avg", FLOE_TS_CF_AVERAGE, "AVERAGE"},
    {"max", FLOE_TS_CF_MAX, "MAX"},
    {"min", FLOE_TS_CF_MIN, "MIN"},
    {"last", FLOE_TS_CF_LAST, "LAST"},
};

/* Reads "<number><unit>" from s[0..n); returns 0 and the seconds, or -1. */
static int ts_duration(const char *s, size_t n, uint32_t *out, char *bad_unit)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < n && isdigit((unsigned char)s[i]) && v < 100000000)
        v = v * 10 + (uint64_t)(s[i++] - '0');
    *bad_unit = 0;
    if (i == 0 || i + 1 != n || v == 0)
        return -1;
    for (size_t k = 0; k < FLOE_ARRAY_LEN(ts_units); k++)
        if (ts_units[k].unit == s[i] && v * ts_units[k].s <= UINT32_MAX) {
            *out = (uint32_t)(v * ts_units[k].s);
            return 0;
        }
    *bad_unit = s[i];
    return -1;
}

static int ts_parse_cf(floe_ts_retention *r, const char *s, size_t n)
{
    r->cf = 0;
    while (n) {
        size_t w = 0;
        while (w < n && s[w] != '+')
            w++;
        unsigned bit = 0;
        for (size_t k = 0; k < FLOE_ARRAY_LEN(ts_cfs); k++)
            if (strlen(ts_cfs[k].name) == w && memcmp(ts_cfs[k].name, s, w) == 0)
                bit = ts_cfs[k].bit;
        if (!bit)
            return -1;
        r->cf |= bit;
        s += w + (w < n);
        n -= w + (w < n);
    }
    return r->cf ? 0 : -1;
}

static int ts_parse_item(floe_ts_retention *r, const char *s, size_t n, unsigned idx, char *err,
                         size_t errlen)
{
    if (n > 3 && memcmp(s, "cf=", 3) == 0) {
        if (ts_parse_cf(r, s + 3, n - 3) == 0)
            return 0;
        snprintf(err, errlen, "retention: item %u '%.*s': use cf=avg+max (avg, max, min, last)",
                 idx, (int)n, s);
        return FLOE_ECONFIG;
    }
    const char *colon = memchr(s, ':', n);
    uint32_t res, span;
    char bad;
    if (!colon) {
        snprintf(err, errlen, "retention: item %u '%.*s': expected RESOLUTION:SPAN like 5m:1w", idx,
                 (int)n, s);
        return FLOE_ECONFIG;
    }
    if (ts_duration(s, (size_t)(colon - s), &res, &bad) ||
        ts_duration(colon + 1, n - (size_t)(colon - s) - 1, &span, &bad)) {
        snprintf(err, errlen,
                 "retention: item %u '%.*s': %s%c%s (a number and one of s, m, h, d, w, y)", idx,
                 (int)n, s, bad ? "unknown unit '" : "bad duration", bad ? bad : ' ',
                 bad ? "'" : "");
        return FLOE_ECONFIG;
    }
    if (r->n == FLOE_TS_MAX_RRAS) {
        snprintf(err, errlen, "retention: more than %d resolutions", FLOE_TS_MAX_RRAS);
        return FLOE_ECONFIG;
    }
    if (span < res || (r->n && res <= r->rra[r->n - 1].res_s) || span / res > 10000000) {
        snprintf(err, errlen, "retention: item %u '%.*s': %s", idx, (int)n, s,
                 span < res              ? "the span is shorter than the resolution"
                 : span / res > 10000000 ? "more than 10,000,000 rows"
                                         : "resolutions must grow from item to item");
        return FLOE_ECONFIG;
    }
    r->rra[r->n].res_s = res;
    r->rra[r->n].span_s = span;
    r->n++;
    return 0;
}

int floe_ts_retention_parse(floe_ts_retention *r, const char *text, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    if (!text) {
        snprintf(err, errlen, "retention: missing");
        return FLOE_ECONFIG;
    }
    unsigned idx = 1;
    for (const char *s = text;; idx++) {
        while (*s == ' ')
            s++;
        size_t n = strcspn(s, ",");
        size_t w = n;
        while (w && s[w - 1] == ' ')
            w--;
        int rc = ts_parse_item(r, s, w, idx, err, errlen);
        if (rc)
            return rc;
        if (!s[n])
            break;
        s += n + 1;
    }
    if (!r->n) {
        snprintf(err, errlen, "retention: no RESOLUTION:SPAN item in '%s'", text);
        return FLOE_ECONFIG;
    }
    if (!r->cf)
        r->cf = FLOE_TS_CF_AVERAGE | FLOE_TS_CF_MAX;
    return 0;
}

static void ts_format_duration(uint32_t s, char *out, size_t outlen)
{
    for (size_t k = FLOE_ARRAY_LEN(ts_units); k-- > 0;)
        if (s % ts_units[k].s == 0) {
            snprintf(out, outlen, "%u%c", s / ts_units[k].s, ts_units[k].unit);
            return;
        }
}

char *floe_ts_retention_format(const floe_ts_retention *r, char *out, size_t outlen)
{
    floe_buf b;
    floe_buf_init(&b);
    for (unsigned i = 0; i < r->n; i++) {
        char a[16], c[16];
        ts_format_duration(r->rra[i].res_s, a, sizeof(a));
        ts_format_duration(r->rra[i].span_s, c, sizeof(c));
        floe_buf_printf(&b, "%s%s:%s", i ? "," : "", a, c);
    }
    unsigned cf = r->cf ? r->cf : FLOE_TS_CF_AVERAGE | FLOE_TS_CF_MAX;
    if (cf != (FLOE_TS_CF_AVERAGE | FLOE_TS_CF_MAX)) {
        floe_buf_puts(&b, ",cf=");
        int first = 1;
        for (size_t k = 0; k < FLOE_ARRAY_LEN(ts_cfs); k++)
            if (cf & ts_cfs[k].bit) {
                floe_buf_printf(&b, "%s%s", first ? "" : "+", ts_cfs[k].name);
                first = 0;
            }
    }
    snprintf(out, outlen, "%s", b.data ? b.data : "");
    floe_buf_close(&b);
    return out;
}

unsigned ts__cf_count(unsigned cf)
{
    return (unsigned)__builtin_popcount(cf ? cf : FLOE_TS_CF_AVERAGE | FLOE_TS_CF_MAX);
}

const char *ts__cf_rrd(unsigned bit)
{
    for (size_t k = 0; k < FLOE_ARRAY_LEN(ts_cfs); k++)
        if (ts_cfs[k].bit == bit)
            return ts_cfs[k].rrd;
    return NULL;
}

unsigned ts__cf_from_rrd(const char *name)
{
    for (size_t k = 0; k < FLOE_ARRAY_LEN(ts_cfs); k++)
        if (strcmp(ts_cfs[k].rrd, name) == 0)
            return ts_cfs[k].bit;
    return 0;
}

uint64_t floe_ts_retention_bytes(const floe_ts_retention *r, uint32_t step_s, unsigned n_metrics)
{
    uint64_t rows = 0;
    for (unsigned i = 0; i < r->n; i++) {
        uint32_t res = r->rra[i].res_s < step_s ? step_s : r->rra[i].res_s;
        rows += r->rra[i].span_s / res;
    }
    return rows * ts__cf_count(r->cf) * n_metrics * sizeof(double);
}

/* ---- schemas ------------------------------------------------------------- */

static const uint32_t ts_steps[] = {60, 300, 3600, 86400};

static int ts_name_chars(const char *s, const char *extra)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return 0;
    return 1;
}

static int ts_check_name(const char *name, char *err, size_t errlen)
{
    size_t n = name ? strlen(name) : 0;
    const char *why = NULL;
    if (n == 0 || n >= FLOE_TS_NAME_MAX)
        why = "must be 1 to 63 characters";
    else if (!ts_name_chars(name, "_-:"))
        why = "may hold only letters, digits, '_', '-' and ':'";
    else if (name[0] == ':' || name[n - 1] == ':' || strstr(name, "::") || name[0] == '-')
        why = "needs non-empty segments between ':' and no leading '-'";
    if (!why)
        return 0;
    snprintf(err, errlen, "schema name '%.80s' %s", name ? name : "", why);
    return FLOE_EINVAL;
}

static int ts_check_step(uint32_t step, char *err, size_t errlen)
{
    for (size_t i = 0; i < FLOE_ARRAY_LEN(ts_steps); i++)
        if (ts_steps[i] == step)
            return 0;
    snprintf(err, errlen, "schema step %u: use 60, 300, 3600 or 86400 seconds", step);
    return FLOE_EINVAL;
}

int floe_ts_schema_init(floe_ts_schema *s, const char *name, uint32_t step_s, char *err,
                        size_t errlen)
{
    memset(s, 0, sizeof(*s));
    int rc = ts_check_name(name, err, errlen);
    if (rc)
        return rc;
    s->step_s = step_s ? step_s : 60;
    rc = ts_check_step(s->step_s, err, errlen);
    if (rc)
        return rc;
    snprintf(s->name, sizeof(s->name), "%s", name);
    return 0;
}

static int ts_check_tag(const floe_ts_schema *s, unsigned i, const char *tag, char *err,
                        size_t errlen)
{
    size_t n = tag ? strlen(tag) : 0;
    const char *why = NULL;
    if (n == 0 || n >= FLOE_TS_TAG_MAX || !ts_name_chars(tag, "_"))
        why = "must be 1 to 31 letters, digits or '_'";
    for (unsigned k = 0; !why && k < i; k++)
        if (strcmp(s->tags[k], tag) == 0)
            why = "is already a tag";
    if (!why)
        return 0;
    snprintf(err, errlen, "schema %s: tag %u '%.40s' %s", s->name, i + 1, tag ? tag : "", why);
    return FLOE_EINVAL;
}

int floe_ts_schema_add_tag(floe_ts_schema *s, const char *tag, char *err, size_t errlen)
{
    if (s->n_tags == FLOE_TS_MAX_TAGS) {
        snprintf(err, errlen, "schema %s: tag '%.40s': more than %d tags", s->name, tag ? tag : "",
                 FLOE_TS_MAX_TAGS);
        return FLOE_EINVAL;
    }
    int rc = ts_check_tag(s, s->n_tags, tag, err, errlen);
    if (rc)
        return rc;
    snprintf(s->tags[s->n_tags++], FLOE_TS_TAG_MAX, "%s", tag);
    return 0;
}

static int ts_check_metric(const floe_ts_schema *s, unsigned i, const floe_ts_metric *m, char *err,
                           size_t errlen)
{
    size_t n = strnlen(m->name, FLOE_TS_METRIC_MAX);
    const char *why = NULL;
    if (n == 0 || n >= FLOE_TS_METRIC_MAX || !ts_name_chars(m->name, "_"))
        why = "must be 1 to 19 letters, digits or '_'";
    else if (m->type != FLOE_TS_GAUGE && m->type != FLOE_TS_DELTA)
        why = "has a type that is neither gauge nor delta";
    for (unsigned k = 0; !why && k < i; k++)
        if (strcmp(s->metrics[k].name, m->name) == 0)
            why = "is already a metric";
    if (!why)
        return 0;
    snprintf(err, errlen, "schema %s: metric %u '%.40s' %s", s->name, i + 1, m->name, why);
    return FLOE_EINVAL;
}

int floe_ts_schema_add_metric(floe_ts_schema *s, const char *name, floe_ts_type type,
                              const char *unit, const char *title, char *err, size_t errlen)
{
    if (s->n_metrics == FLOE_TS_MAX_METRICS) {
        snprintf(err, errlen, "schema %s: metric '%.40s': more than %d metrics", s->name,
                 name ? name : "", FLOE_TS_MAX_METRICS);
        return FLOE_EINVAL;
    }
    floe_ts_metric m;
    memset(&m, 0, sizeof(m));
    if (name && strlen(name) < FLOE_TS_METRIC_MAX)
        memcpy(m.name, name, strlen(name));
    else
        m.name[0] = 0;
    m.type = type;
    snprintf(m.unit, sizeof(m.unit), "%s", unit ? unit : "");
    snprintf(m.title, sizeof(m.title), "%s", title ? title : "");
    int rc = ts_check_metric(s, s->n_metrics, &m, err, errlen);
    if (rc) {
        if (!m.name[0] && name)
            snprintf(err, errlen,
                     "schema %s: metric %u '%.40s' must be 1 to 19 letters, "
                     "digits or '_'",
                     s->name, s->n_metrics + 1, name);
        return rc;
    }
    s->metrics[s->n_metrics++] = m;
    return 0;
}

int floe_ts_schema_set_retention(floe_ts_schema *s, const char *text, char *err, size_t errlen)
{
    char why[200];
    int rc = floe_ts_retention_parse(&s->retention, text, why, sizeof(why));
    if (rc)
        snprintf(err, errlen, "schema %s: %s", s->name, why);
    return rc;
}

static int ts_check_retention(const floe_ts_schema *s, const floe_ts_retention *r, char *err,
                              size_t errlen)
{
    for (unsigned i = 0; i < r->n; i++)
        if (r->rra[i].res_s % s->step_s) {
            char text[200];
            snprintf(err, errlen,
                     "schema %s: retention '%s': resolution %u s is not a multiple of "
                     "the step (%u s)",
                     s->name, floe_ts_retention_format(r, text, sizeof(text)), r->rra[i].res_s,
                     s->step_s);
            return FLOE_EINVAL;
        }
    return 0;
}

int floe_ts_schema_validate(const floe_ts_schema *s, char *err, size_t errlen)
{
    char name[FLOE_TS_NAME_MAX + 1];
    snprintf(name, sizeof(name), "%.*s", FLOE_TS_NAME_MAX - 1, s->name);
    int rc = ts_check_name(memchr(s->name, 0, sizeof(s->name)) ? s->name : name, err, errlen);
    if (!rc)
        rc = ts_check_step(s->step_s, err, errlen);
    if (!rc && s->n_tags > FLOE_TS_MAX_TAGS) {
        snprintf(err, errlen, "schema %s: more than %d tags", s->name, FLOE_TS_MAX_TAGS);
        rc = FLOE_EINVAL;
    }
    for (unsigned i = 0; !rc && i < s->n_tags; i++)
        rc = memchr(s->tags[i], 0, FLOE_TS_TAG_MAX) ? ts_check_tag(s, i, s->tags[i], err, errlen)
                                                    : ts_check_tag(s, i, "", err, errlen);
    if (!rc && (s->n_metrics == 0 || s->n_metrics > FLOE_TS_MAX_METRICS)) {
        snprintf(err, errlen, "schema %s: metrics: needs 1 to %d metrics", s->name,
                 FLOE_TS_MAX_METRICS);
        rc = FLOE_EINVAL;
    }
    for (unsigned i = 0; !rc && i < s->n_metrics; i++)
        rc = ts_check_metric(s, i, &s->metrics[i], err, errlen);
    if (!rc)
        rc = ts_check_retention(s, &s->retention, err, errlen);
    return rc;
}

const char *ts__type_rrd(floe_ts_type t)
{
    return t == FLOE_TS_DELTA ? "ABSOLUTE" : "GAUGE";
}

/* ---- file names ---------------------------------------------------------- */

static int ts_keep(unsigned char c)
{
    return isalnum(c) || c == '.' || c == '-';
}

int floe_ts_tag_encode(const char *value, char *out, size_t outlen)
{
    size_t n = value ? strlen(value) : 0;
    if (n == 0 || n > FLOE_TS_VALUE_MAX || strcmp(value, ".") == 0 || strcmp(value, "..") == 0)
        return FLOE_EINVAL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        if (o + 4 > outlen)
            return FLOE_EINVAL;
        if (c == ':')
            out[o++] = '_';
        else if (ts_keep(c) && !(i == 0 && c == '.'))
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, 4, "%%%02x", c);
    }
    out[o] = 0;
    return (int)o;
}

static int ts_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int floe_ts_tag_decode(const char *in, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o + 1 >= outlen)
            return FLOE_EINVAL;
        unsigned char c = (unsigned char)in[i];
        if (c == '_') {
            out[o++] = ':';
        } else if (c == '%') {
            int hi = i + 2 < n ? ts_hex(in[i + 1]) : -1;
            int lo = hi >= 0 ? ts_hex(in[i + 2]) : -1;
            int v = hi * 16 + lo;
            /* Only what the encoder escapes: no kept byte but a leading dot. */
            if (hi < 0 || lo < 0 || v == 0 || v == ':' ||
                (ts_keep((unsigned char)v) && !(v == '.' && o == 0)))
                return FLOE_EINVAL;
            out[o++] = (char)v;
            i += 2;
        } else if (ts_keep(c) && !(c == '.' && o == 0)) {
            out[o++] = (char)c;
        } else {
            return FLOE_EINVAL;
        }
    }
    out[o] = 0;
    if (o == 0 || strcmp(out, "..") == 0)
        return FLOE_EINVAL;
    return (int)o;
}

int ts__schema_dir(const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    if (n >= outlen)
        return FLOE_ELIMIT;
    for (size_t i = 0; i <= n; i++)
        out[i] = name[i] == ':' ? '/' : name[i];
    return (int)n;
}

int ts__series_relpath(const ts__schema *s, const char *const *tags, char *out, size_t outlen,
                       char *err, size_t errlen)
{
    return floe_ts_series_path(&s->def, tags, out, outlen, err, errlen);
}

int floe_ts_series_path(const floe_ts_schema *s, const char *const *tag_values, char *out,
                        size_t outlen, char *err, size_t errlen)
{
    int n = ts__schema_dir(s->name, out, outlen);
    if (n < 0)
        return n;
    size_t o = (size_t)n;
    for (unsigned i = 0; i < s->n_tags || (i == 0 && s->n_tags == 0); i++) {
        if (o + 2 >= outlen)
            return FLOE_ELIMIT;
        out[o++] = i ? '+' : '/';
        if (s->n_tags == 0) {
            out[o++] = '_';
            break;
        }
        int w = floe_ts_tag_encode(tag_values[i], out + o, outlen - o);
        if (w < 0) {
            if (err)
                snprintf(err, errlen,
                         "schema %s: tag %s: bad value '%.60s' (empty, '.', '..'"
                         " or over %d bytes)",
                         s->name, s->tags[i], tag_values[i] ? tag_values[i] : "",
                         FLOE_TS_VALUE_MAX);
            return FLOE_EINVAL;
        }
        o += (size_t)w;
    }
    if (o + 5 > outlen)
        return FLOE_ELIMIT;
    memcpy(out + o, ".rrd", 5);
    return (int)(o + 4);
}

/* ---- the registry -------------------------------------------------------- */

void ts__schema_ref(ts__schema *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void ts__schema_unref(ts__schema *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        free(s);
}

static int ts_find_locked(floe_ts *ts, const char *name, uint64_t h)
{
    for (unsigned i = 0; i < ts->n_schemas; i++)
        if (ts->schemas[i]->hash == h && strcmp(ts->schemas[i]->def.name, name) == 0)
            return (int)i;
    return -1;
}

int floe_ts_define(floe_ts *ts, const floe_ts_schema *s, char *err, size_t errlen)
{
    int rc = floe_ts_schema_validate(s, err, errlen);
    if (rc)
        return rc;
    ts__schema *x = calloc(1, sizeof(*x));
    if (!x)
        return FLOE_ENOMEM;
    atomic_init(&x->refs, 1);
    x->def = *s;
    if (!x->def.retention.n)
        x->def.retention = ts->retention;
    if (!x->def.retention.cf)
        x->def.retention.cf = FLOE_TS_CF_AVERAGE | FLOE_TS_CF_MAX;
    rc = ts_check_retention(&x->def, &x->def.retention, err, errlen);
    if (rc) {
        free(x);
        return rc;
    }
    ts__schema_dir(x->def.name, x->dir, sizeof(x->dir));
    x->hash = floe_hash(x->def.name, strlen(x->def.name), 0);
    pthread_mutex_lock(&ts->slock);
    int i = ts_find_locked(ts, x->def.name, x->hash);
    ts__schema *old = NULL;
    if (i >= 0) {
        old = ts->schemas[i];
        ts->schemas[i] = x;
    } else if (ts->n_schemas < TS__MAX_SCHEMAS) {
        ts->schemas[ts->n_schemas++] = x;
    } else {
        old = x;
        snprintf(err, errlen, "schema %s: more than %d schemas", x->def.name, TS__MAX_SCHEMAS);
        rc = FLOE_ELIMIT;
    }
    pthread_mutex_unlock(&ts->slock);
    ts__schema_unref(old);
    return rc;
}

ts__schema *ts__schema_get(floe_ts *ts, const char *name)
{
    uint64_t h = floe_hash(name, strlen(name), 0);
    pthread_mutex_lock(&ts->slock);
    int i = ts_find_locked(ts, name, h);
    ts__schema *s = i >= 0 ? ts->schemas[i] : NULL;
    if (s)
        ts__schema_ref(s);
    pthread_mutex_unlock(&ts->slock);
    return s;
}

ts__schema *ts__schema_get_by_dir(floe_ts *ts, const char *dir, size_t n)
{
    ts__schema *s = NULL;
    pthread_mutex_lock(&ts->slock);
    for (unsigned i = 0; i < ts->n_schemas && !s; i++)
        if (strlen(ts->schemas[i]->dir) == n && memcmp(ts->schemas[i]->dir, dir, n) == 0)
            s = ts->schemas[i];
    if (s)
        ts__schema_ref(s);
    pthread_mutex_unlock(&ts->slock);
    return s;
}

int floe_ts_schema_find(floe_ts *ts, const char *name, floe_ts_schema *out)
{
    ts__schema *s = name ? ts__schema_get(ts, name) : NULL;
    if (!s)
        return FLOE_ENOTFOUND;
    *out = s->def;
    ts__schema_unref(s);
    return 0;
}

int floe_ts_schema_at(floe_ts *ts, size_t i, floe_ts_schema *out)
{
    int rc = FLOE_ENOTFOUND;
    pthread_mutex_lock(&ts->slock);
    if (i < ts->n_schemas) {
        *out = ts->schemas[i]->def;
        rc = 0;
    }
    pthread_mutex_unlock(&ts->slock);
    return rc;
}

void ts__registry_close(floe_ts *ts)
{
    for (unsigned i = 0; i < ts->n_schemas; i++)
        ts__schema_unref(ts->schemas[i]);
    ts->n_schemas = 0;
}
