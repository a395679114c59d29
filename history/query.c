/*
 * Reading the history back: a request's arguments parsed into typed
 * values (floe_history_query), the SQL built from floe's own rendering of
 * them, the query run over HTTP on the calling (worker) thread, and
 * ClickHouse's TabSeparated answer turned into floe's JSON. No argument
 * text is ever copied into SQL: an address becomes its 16 bytes in hex, a
 * number its decimal digits, a name only after it matched a character set
 * that holds no quote, backslash or space. Queries run with readonly=2,
 * so even a mistake here could not write.
 */
#include "history/internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const group_names[FLOE_HIST_GROUPS] = {
    "host", "app", "category", "port", "proto", "exporter", "as", "instance"};
static const char *const metric_names[] = {"bytes", "packets", "flows"};

/* What each group keys on; a host or an AS is either endpoint's, so its
 * rows are counted once for each side (ARRAY JOIN). */
static const struct {
    const char *by;         /* what rows are grouped by */
    const char *key;        /* how the group's key is printed (after grouping) */
    const char *array_join; /* or NULL */
    int kind;               /* how the key reads back */
} groups[FLOE_HIST_GROUPS] = {
    /* Addresses are grouped as their 16 bytes and printed in hex only for
     * the groups that remain: hashing the hex text instead took twice the
     * time over a day of ten million rows (BENCHMARKS.md). */
    {"k", "hex(k)", "[client, server] AS k", 'a'},
    {"app", "app", NULL, 's'},
    {"category", "category", NULL, 's'},
    {"server_port", "server_port", NULL, 'n'},
    {"proto", "proto", NULL, 'n'},
    {"exporter", "hex(exporter)", NULL, 'a'},
    {"k", "k", "[client_as, server_as] AS k", 'n'},
    {"instance", "instance", NULL, 's'},
};

#define DEFAULT_RANGE_S 3600
#define LIMIT_MAX       10000
#define BUCKETS_MAX     1000

/* ---- parsing ------------------------------------------------------------------------ */

static int bad(char *err, size_t errlen, const char *key, const char *why)
{
    snprintf(err, errlen, "%s: %s", key, why);
    return FLOE_EINVAL;
}

/* A whole decimal number in [min, max]; 0 or -1. */
static int parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    if (!s[0] || strlen(s) > 20)
        return -1;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n >= 1 && n <= max &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int pick(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

/* "ADDR/BITS" into the first and last address of the network. */
static int parse_net(const char *s, floe_addr *lo, floe_addr *hi)
{
    char text[FLOE_ADDR_STRLEN + 8];
    const char *slash = strchr(s, '/');
    int64_t bits;
    if (!slash || (size_t)(slash - s) >= FLOE_ADDR_STRLEN)
        return -1;
    snprintf(text, sizeof(text), "%.*s", (int)(slash - s), s);
    if (floe_addr_parse(lo, text) != 0)
        return -1;
    int v4 = floe_addr_is_v4(lo);
    if (parse_int(slash + 1, 0, v4 ? 32 : 128, &bits) != 0)
        return -1;
    if (v4)
        bits += 96;
    for (int i = 0; i < 16; i++) {
        int keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? (int)(bits - 8 * i) : 0;
        uint8_t mask = (uint8_t)(keep ? 0xff << (8 - keep) : 0);
        lo->b[i] &= mask;
        hi->b[i] = (uint8_t)(lo->b[i] | ~mask);
    }
    return 0;
}

static void query_defaults(floe_history_query *q, uint64_t now_s)
{
    memset(q, 0, sizeof(*q));
    q->to_s = now_s + 1;
    q->from_s = now_s + 1 - DEFAULT_RANGE_S;
    q->port = q->proto = -1;
    q->as = -1;
    q->group = FLOE_HIST_BY_HOST;
    q->metric = FLOE_HIST_BYTES;
    q->buckets = 60;
}

/* from= and to=: Unix seconds, or a negative count of seconds before now. */
static int parse_time(const char *key, const char *v, uint64_t now_s, uint64_t *out, char *err,
                      size_t errlen)
{
    int64_t t;
    if (parse_int(v, -(int64_t)now_s, 4102444800LL, &t) != 0) /* 2100-01-01 */
        return bad(err, errlen, key, "expected Unix seconds, or -N for N seconds ago");
    *out = t < 0 ? now_s - (uint64_t)-t : (uint64_t)t;
    return 0;
}

static int parse_text(const char *key, const char *v, char *out, size_t outlen, char *err,
                      size_t errlen)
{
    if (!name_ok(v, outlen - 1))
        return bad(err, errlen, key, "expected 1 to 64 of [A-Za-z0-9._-]");
    snprintf(out, outlen, "%s", v);
    return 0;
}

/* One argument; limit_set tells the caller limit= was given. */
static int parse_one(floe_history_query *q, const char *k, const char *v, uint64_t now_s,
                     int *limit_set, char *err, size_t errlen)
{
    int64_t n;
    if (!strcmp(k, "from") || !strcmp(k, "to"))
        return parse_time(k, v, now_s, k[0] == 'f' ? &q->from_s : &q->to_s, err, errlen);
    if (!strcmp(k, "host")) {
        if (floe_addr_parse(&q->net_lo, v) != 0)
            return bad(err, errlen, k, "expected an IPv4 or IPv6 address");
        q->net_hi = q->net_lo;
        q->has_net = 1;
        return 0;
    }
    if (!strcmp(k, "net")) {
        if (parse_net(v, &q->net_lo, &q->net_hi) != 0)
            return bad(err, errlen, k, "expected ADDR/BITS");
        q->has_net = 1;
        return 0;
    }
    if (!strcmp(k, "exporter")) {
        if (floe_addr_parse(&q->exporter, v) != 0)
            return bad(err, errlen, k, "expected an IPv4 or IPv6 address");
        q->has_exporter = 1;
        return 0;
    }
    if (!strcmp(k, "port") || !strcmp(k, "proto")) {
        if (parse_int(v, 0, k[1] == 'o' ? 65535 : 255, &n) != 0)
            return bad(err, errlen, k, k[1] == 'o' ? "expected 0 to 65535" : "expected 0 to 255");
        *(k[1] == 'o' ? &q->port : &q->proto) = (int32_t)n;
        return 0;
    }
    if (!strcmp(k, "as")) {
        if (parse_int(v, 0, UINT32_MAX, &q->as) != 0)
            return bad(err, errlen, k, "expected an AS number");
        return 0;
    }
    if (!strcmp(k, "app"))
        return parse_text(k, v, q->app, sizeof(q->app), err, errlen);
    if (!strcmp(k, "category"))
        return parse_text(k, v, q->category, sizeof(q->category), err, errlen);
    if (!strcmp(k, "instance"))
        return parse_text(k, v, q->instance, sizeof(q->instance), err, errlen);
    if (!strcmp(k, "status")) {
        if (!name_ok(v, sizeof(q->status) - 1))
            return bad(err, errlen, k, "expected a status key, plugin.status");
        snprintf(q->status, sizeof(q->status), "%s", v);
        return 0;
    }
    if (!strcmp(k, "group")) {
        if ((q->group = pick(group_names, FLOE_HIST_GROUPS, v)) < 0)
            return bad(err, errlen, k,
                       "expected host, app, category, port, proto, exporter, as "
                       "or instance");
        return 0;
    }
    if (!strcmp(k, "by")) {
        if ((q->metric = pick(metric_names, FLOE_ARRAY_LEN(metric_names), v)) < 0)
            return bad(err, errlen, k, "expected bytes, packets or flows");
        return 0;
    }
    if (!strcmp(k, "limit") || !strcmp(k, "buckets")) {
        int lim = k[0] == 'l';
        if (parse_int(v, lim ? 1 : 0, lim ? LIMIT_MAX : BUCKETS_MAX, &n) != 0)
            return bad(err, errlen, k, lim ? "expected 1 to 10000" : "expected 0 to 1000");
        *(lim ? &q->limit : &q->buckets) = (uint32_t)n;
        *limit_set |= lim;
        return 0;
    }
    return bad(err, errlen, k, "unknown argument");
}

int floe_history_query_parse(floe_history_query *q, const char *const *keys,
                             const char *const *values, size_t n, uint64_t now_s, char *err,
                             size_t errlen)
{
    int limit_set = 0;
    query_defaults(q, now_s);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < i; k++)
            if (strcmp(keys[k], keys[i]) == 0)
                return bad(err, errlen, keys[i], "given twice");
        int rc = parse_one(q, keys[i], values[i] ? values[i] : "", now_s, &limit_set, err, errlen);
        if (rc != 0)
            return rc;
    }
    if (q->from_s >= q->to_s)
        return bad(err, errlen, "from", "must be before to");
    if (!limit_set)
        q->limit = 0; /* each call's own default */
    return 0;
}

/* ---- SQL ------------------------------------------------------------------------------- */

static void put_hex(floe_buf *b, const floe_addr *a)
{
    floe_buf_puts(b, "unhex('");
    for (int i = 0; i < 16; i++)
        floe_buf_printf(b, "%02X", a->b[i]);
    floe_buf_puts(b, "')");
}

static void put_endpoints(floe_buf *b, const floe_history_query *q)
{
    static const char *const side[] = {"client", "server"};
    int one = floe_addr_eq(&q->net_lo, &q->net_hi);
    floe_buf_puts(b, " AND (");
    for (int s = 0; s < 2; s++) {
        floe_buf_printf(b, "%s%s %s ", s ? " OR " : "", side[s], one ? "=" : "BETWEEN");
        put_hex(b, &q->net_lo);
        if (!one) {
            floe_buf_puts(b, " AND ");
            put_hex(b, &q->net_hi);
        }
    }
    floe_buf_putc(b, ')');
}

/* The WHERE clause of every query: each value as floe renders it. */
static void put_where(floe_buf *b, const floe_history_query *q)
{
    floe_buf_printf(b, " WHERE time >= toDateTime(%llu) AND time < toDateTime(%llu)",
                    (unsigned long long)q->from_s, (unsigned long long)q->to_s);
    if (q->has_net)
        put_endpoints(b, q);
    if (q->has_exporter) {
        floe_buf_puts(b, " AND exporter = ");
        put_hex(b, &q->exporter);
    }
    if (q->port >= 0)
        floe_buf_printf(b, " AND (client_port = %d OR server_port = %d)", (int)q->port,
                        (int)q->port);
    if (q->proto >= 0)
        floe_buf_printf(b, " AND proto = %d", (int)q->proto);
    if (q->as >= 0)
        floe_buf_printf(b, " AND (client_as = %lld OR server_as = %lld)", (long long)q->as,
                        (long long)q->as);
    /* Names matched [A-Za-z0-9._-] when parsed; checked again, as a name
     * that does not is never written. */
    if (q->app[0] && name_ok(q->app, FLOE_HISTORY_NAME_MAX))
        floe_buf_printf(b, " AND app = '%s'", q->app);
    if (q->category[0] && name_ok(q->category, FLOE_HISTORY_NAME_MAX))
        floe_buf_printf(b, " AND category = '%s'", q->category);
    if (q->instance[0] && name_ok(q->instance, FLOE_HISTORY_NAME_MAX))
        floe_buf_printf(b, " AND instance = '%s'", q->instance);
    if (q->status[0] && name_ok(q->status, sizeof(q->status) - 1))
        floe_buf_printf(b, " AND has(statuses, '%s')", q->status);
}

static void table_name(floe_history *h, char *out, size_t outlen)
{
    if (h)
        hist__table(&h->conn, HIST_FLOWS, 0, out, outlen);
    else
        snprintf(out, outlen, "`floe`.`flows`");
}

static uint32_t limit_of(const floe_history_query *q, int which)
{
    return q->limit ? q->limit : which == FLOE_HIST_SQL_FLOWS ? 100 : 10;
}

/* The histogram's step: the range over the buckets, in whole minutes. */
static uint64_t histogram_step(const floe_history_query *q)
{
    uint64_t range = q->to_s - q->from_s, n = q->buckets ? q->buckets : 1;
    uint64_t step = (range + n - 1) / n;
    return step <= 60 ? 60 : (step + 59) / 60 * 60;
}

#define SUMS                                                                                       \
    "sum(c2s_bytes + s2c_bytes) AS bytes, sum(c2s_packets + s2c_packets) AS packets, "             \
    "sum(final) AS flows"

int floe_history_sql(floe_history *h, const floe_history_query *q, int which, floe_buf *out)
{
    char table[200];
    table_name(h, table, sizeof(table));
    if (which == FLOE_HIST_SQL_FLOWS) {
        floe_buf_printf(out,
                        "SELECT toUInt32(time), toUInt32(first), instance, hex(exporter), in_if, "
                        "out_if, vlan, proto, hex(client), hex(server), client_port, server_port, "
                        "app, category, c2s_bytes, s2c_bytes, c2s_packets, s2c_packets, "
                        "c2s_flags, s2c_flags, client_as, server_as, "
                        "arrayStringConcat(statuses, ','), score, final FROM %s",
                        table);
        put_where(out, q);
        floe_buf_printf(out, " ORDER BY time DESC LIMIT %u", limit_of(q, which));
    } else if (which == FLOE_HIST_SQL_TOP) {
        int g = q->group >= 0 && q->group < FLOE_HIST_GROUPS ? q->group : 0;
        floe_buf_printf(out, "SELECT %s, " SUMS " FROM %s", groups[g].key, table);
        if (groups[g].array_join)
            floe_buf_printf(out, " ARRAY JOIN %s", groups[g].array_join);
        put_where(out, q);
        floe_buf_printf(out, " GROUP BY %s ORDER BY %s DESC, %s LIMIT %u", groups[g].by,
                        metric_names[q->metric >= 0 && q->metric < 3 ? q->metric : 0], groups[g].by,
                        limit_of(q, which));
    } else {
        uint64_t step = histogram_step(q);
        floe_buf_printf(out, "SELECT intDiv(toUInt32(time), %llu) * %llu AS t, " SUMS " FROM %s",
                        (unsigned long long)step, (unsigned long long)step, table);
        put_where(out, q);
        floe_buf_puts(out, " GROUP BY t ORDER BY t");
    }
    floe_buf_puts(out, " FORMAT TabSeparated");
    return floe_buf_ok(out) ? 0 : FLOE_ENOMEM;
}

/* ---- running one ------------------------------------------------------------------------ */

static int run(floe_history *h, const char *sql, hist__reply *rep, char *err, size_t errlen)
{
    char settings[96];
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return FLOE_ENOMEM;
    }
    uint32_t secs = (h->conn.timeout_ms + 999) / 1000;
    snprintf(settings, sizeof(settings), "max_execution_time=%u&readonly=2", secs);
    int rc = hist__post(c, &h->conn, NULL, settings, sql, strlen(sql), 0, h->conn.timeout_ms + 2000,
                        rep);
    curl_easy_cleanup(c);
    if (rc != 0) {
        snprintf(err, errlen, "ClickHouse: %s", rep->error);
        return FLOE_EIO;
    }
    return 0;
}

/* Builds query `which` and runs it; the answer in rep. */
static int fetch(floe_history *h, const floe_history_query *q, int which, hist__reply *rep,
                 char *err, size_t errlen)
{
    floe_buf sql;
    floe_buf_init(&sql);
    int rc = floe_history_sql(h, q, which, &sql);
    if (rc == 0)
        rc = run(h, sql.data, rep, err, errlen);
    floe_buf_close(&sql);
    return rc;
}

/* ---- TabSeparated ------------------------------------------------------------------------- */

/* Splits the next line of *p into at most max fields (unescaped in
 * place); returns how many, or -1 at the end. */
static int next_row(char **p, char **f, int max)
{
    char *s = *p;
    if (!s || !*s)
        return -1;
    char *eol = strchr(s, '\n');
    if (eol)
        *eol = '\0';
    *p = eol ? eol + 1 : s + strlen(s);
    int n = 0;
    char *w = s;
    f[n++] = w;
    for (char *r = s; *r; r++) {
        if (*r == '\t') {
            *w++ = '\0';
            if (n < max)
                f[n++] = w;
            continue;
        }
        if (*r == '\\' && r[1]) {
            static const char from[] = "tnrb0f", to[] = "\t\n\r\b\0\f";
            const char *e = strchr(from, r[1]);
            *w++ = e ? to[e - from] : r[1];
            r++;
            continue;
        }
        *w++ = *r;
    }
    *w = '\0';
    return n;
}

static uint64_t u64(const char *s)
{
    return strtoull(s, NULL, 10);
}

/* An address from the 32 hex digits of hex(). */
static void addr_json(floe_json *j, const char *hex)
{
    floe_addr a;
    memset(&a, 0, sizeof(a));
    for (int i = 0; i < 16 && hex[2 * i] && hex[2 * i + 1]; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) == 1)
            a.b[i] = (uint8_t)v;
    }
    floe_json_addr(j, &a);
}

static void flow_row_json(floe_json *j, char **f)
{
    static const char *const nums[] = {"in_if", "out_if", "vlan", "proto"};
    static const char *const counts[] = {"c2s_bytes", "s2c_bytes", "c2s_packets", "s2c_packets",
                                         "c2s_flags", "s2c_flags", "client_as",   "server_as"};
    floe_json_obj_begin(j);
    floe_json_ku64(j, "time", u64(f[0]));
    floe_json_ku64(j, "first", u64(f[1]));
    floe_json_kstr(j, "instance", f[2]);
    floe_json_key(j, "exporter");
    addr_json(j, f[3]);
    for (int i = 0; i < 4; i++)
        floe_json_ku64(j, nums[i], u64(f[4 + i]));
    floe_json_key(j, "client");
    addr_json(j, f[8]);
    floe_json_key(j, "server");
    addr_json(j, f[9]);
    floe_json_ku64(j, "client_port", u64(f[10]));
    floe_json_ku64(j, "server_port", u64(f[11]));
    floe_json_kstr(j, "app", f[12]);
    floe_json_kstr(j, "category", f[13]);
    for (int i = 0; i < 8; i++)
        floe_json_ku64(j, counts[i], u64(f[14 + i]));
    floe_json_key(j, "statuses");
    floe_json_arr_begin(j);
    for (char *save = NULL, *s = strtok_r(f[22], ",", &save); s; s = strtok_r(NULL, ",", &save))
        floe_json_str(j, s);
    floe_json_arr_end(j);
    floe_json_ku64(j, "score", u64(f[23]));
    floe_json_key(j, "final");
    floe_json_bool(j, u64(f[24]) != 0);
    floe_json_obj_end(j);
}

#define FLOW_FIELDS 25

int floe_history_flows_json(floe_history *h, const floe_history_query *q, floe_buf *out, char *err,
                            size_t errlen)
{
    hist__reply rep;
    hist__reply_init(&rep);
    int rc = fetch(h, q, FLOE_HIST_SQL_FLOWS, &rep, err, errlen);
    if (rc == 0) {
        floe_json j;
        char *f[FLOW_FIELDS], *p = rep.body.data;
        floe_json_init(&j, out);
        floe_json_obj_begin(&j);
        floe_json_ku64(&j, "from", q->from_s);
        floe_json_ku64(&j, "to", q->to_s);
        floe_json_key(&j, "flows");
        floe_json_arr_begin(&j);
        int n;
        while ((n = next_row(&p, f, FLOW_FIELDS)) >= 0)
            if (n == FLOW_FIELDS)
                flow_row_json(&j, f);
        floe_json_arr_end(&j);
        floe_json_obj_end(&j);
    }
    hist__reply_close(&rep);
    return rc;
}

static void key_json(floe_json *j, int group, const char *v)
{
    if (groups[group].kind == 'a')
        addr_json(j, v);
    else if (groups[group].kind == 'n')
        floe_json_u64(j, u64(v));
    else
        floe_json_str(j, v);
}

/* The rows of a top or histogram answer: [key, bytes, packets, flows]. */
static void sums_json(floe_json *j, char *body, int group)
{
    char *f[4], *p = body;
    int n;
    while ((n = next_row(&p, f, 4)) >= 0) {
        if (n != 4)
            continue;
        floe_json_obj_begin(j);
        floe_json_key(j, group < 0 ? "time" : "key");
        if (group < 0)
            floe_json_u64(j, u64(f[0]));
        else
            key_json(j, group, f[0]);
        for (int i = 0; i < 3; i++)
            floe_json_ku64(j, metric_names[i], u64(f[1 + i]));
        floe_json_obj_end(j);
    }
}

/* One query of the top answer, written under key. */
static int top_part(floe_history *h, const floe_history_query *q, int which, floe_json *j,
                    char *err, size_t errlen)
{
    hist__reply rep;
    hist__reply_init(&rep);
    int rc = fetch(h, q, which, &rep, err, errlen);
    if (rc == 0) {
        floe_json_arr_begin(j);
        sums_json(j, rep.body.data, which == FLOE_HIST_SQL_TOP ? q->group : -1);
        floe_json_arr_end(j);
    }
    hist__reply_close(&rep);
    return rc;
}

int floe_history_top_json(floe_history *h, const floe_history_query *q, floe_buf *out, char *err,
                          size_t errlen)
{
    floe_json j;
    floe_buf_reset(out);
    floe_json_init(&j, out);
    floe_json_obj_begin(&j);
    floe_json_kstr(&j, "group", group_names[q->group]);
    floe_json_kstr(&j, "by", metric_names[q->metric]);
    floe_json_ku64(&j, "from", q->from_s);
    floe_json_ku64(&j, "to", q->to_s);
    floe_json_key(&j, "top");
    int rc = top_part(h, q, FLOE_HIST_SQL_TOP, &j, err, errlen);
    if (rc == 0 && q->buckets) {
        floe_json_ku64(&j, "step", histogram_step(q));
        floe_json_key(&j, "histogram");
        rc = top_part(h, q, FLOE_HIST_SQL_HISTOGRAM, &j, err, errlen);
    }
    floe_json_obj_end(&j);
    return rc;
}
