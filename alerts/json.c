/*
 * alerts/json.c: the JSON the alert store reads and writes. A strict
 * RFC 8259 checker decides whether a plugin's info text can be stored and
 * later inlined as an object; a small cursor reader parses exclusion rules;
 * and one writer renders a stored alert for both the query API and the
 * notification bodies, so the two never drift apart.
 */
#include "alerts/internal.h"

#include <stdio.h>

#define JSON_MAX_DEPTH 32

int alerts__json_peek(alerts__jcur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
    return c->p < c->end ? (unsigned char)*c->p : 0;
}

static int hex4(const char *p, const char *end, uint32_t *v)
{
    if (end - p < 4)
        return -1;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0)
            return -1;
        *v = (*v << 4) | (uint32_t)d;
    }
    return 0;
}

/* Length of the well-formed UTF-8 sequence at p, or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    size_t n = p[0] < 0x80                    ? 1
               : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
               : p[0] >= 0xe0 && p[0] <= 0xef ? 3
               : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
                                              : 0;
    if (n == 0 || (size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
        return 0; /* overlong, surrogate or past U+10FFFF */
    return n;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads a \u escape (p after the 'u'), pairing surrogates; returns the
 * code point or -1, and moves *pp past what it read. */
static long read_u_escape(const char **pp, const char *end)
{
    uint32_t hi, lo;
    const char *p = *pp;
    if (hex4(p, end, &hi) != 0)
        return -1;
    p += 4;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return -1;
    if (hi >= 0xd800 && hi <= 0xdbff) {
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &lo) != 0 ||
            lo < 0xdc00 || lo > 0xdfff)
            return -1;
        p += 6;
        hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    }
    *pp = p;
    return (long)hi;
}

static const char escapes_in[] = "\"\\/bfnrt";
static const char escapes_out[] = "\"\\/\b\f\n\r\t";

/* Reads a string at c (after white space). out may be NULL (checking
 * only). Returns 0, -1 bad, -2 too long. */
static int read_string(alerts__jcur *c, char *out, size_t outlen)
{
    const char *p = c->p, *end = c->end;
    size_t n = 0;
    int too_long = 0;
    if (p >= end || *p != '"')
        return -1;
    p++;
    while (p < end && *p != '"') {
        char tmp[4];
        size_t k;
        if ((unsigned char)*p < 0x20)
            return -1;
        if (*p == '\\') {
            if (++p >= end)
                return -1;
            const char *e = *p ? strchr(escapes_in, *p) : NULL;
            if (e) {
                tmp[0] = escapes_out[e - escapes_in];
                k = 1;
                p++;
            } else if (*p == 'u') {
                p++;
                long cp = read_u_escape(&p, end);
                if (cp <= 0)
                    return -1; /* \u0000 would cut a C string short */
                k = put_utf8(tmp, (uint32_t)cp);
            } else {
                return -1;
            }
        } else {
            k = utf8_len((const unsigned char *)p, (const unsigned char *)end);
            if (k == 0)
                return -1;
            memcpy(tmp, p, k);
            p += k;
        }
        if (out && n + k >= outlen)
            too_long = 1;
        else if (out)
            memcpy(out + n, tmp, k);
        n += k;
    }
    if (p >= end)
        return -1;
    c->p = p + 1;
    if (out && !too_long)
        out[n] = '\0';
    return too_long ? -2 : 0;
}

int alerts__json_string(alerts__jcur *c, char *out, size_t outlen)
{
    if (alerts__json_peek(c) != '"')
        return -1;
    return read_string(c, out, outlen);
}

static int skip_number(alerts__jcur *c)
{
    const char *p = c->p, *end = c->end;
    if (p < end && *p == '-')
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    if (*p == '0')
        p++;
    else
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    if (p < end && *p == '.') {
        if (++p >= end || *p < '0' || *p > '9')
            return -1;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return -1;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    c->p = p;
    return 0;
}

static int skip_word(alerts__jcur *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return -1;
    c->p += n;
    return 0;
}

/* Skips an object or array body; c is at the opening bracket. */
static int skip_container(alerts__jcur *c, int depth)
{
    int obj = *c->p == '{';
    char close = obj ? '}' : ']';
    c->p++;
    if (alerts__json_peek(c) == close) {
        c->p++;
        return 0;
    }
    for (;;) {
        if (obj) {
            if (alerts__json_string(c, NULL, 0) != 0 || alerts__json_peek(c) != ':')
                return -1;
            c->p++;
        }
        if (alerts__json_skip(c, depth + 1) != 0)
            return -1;
        int ch = alerts__json_peek(c);
        c->p++;
        if (ch == close)
            return 0;
        if (ch != ',')
            return -1;
    }
}

int alerts__json_skip(alerts__jcur *c, int depth)
{
    int ch = alerts__json_peek(c);
    if (depth > JSON_MAX_DEPTH)
        return -1;
    switch (ch) {
    case '{':
    case '[':
        return skip_container(c, depth);
    case '"':
        return read_string(c, NULL, 0);
    case 't':
        return skip_word(c, "true");
    case 'f':
        return skip_word(c, "false");
    case 'n':
        return skip_word(c, "null");
    default:
        return skip_number(c);
    }
}

int alerts__json_is_object(const char *s, size_t n)
{
    alerts__jcur c = {s, s + n};
    if (alerts__json_peek(&c) != '{' || alerts__json_skip(&c, 0) != 0)
        return 0;
    return alerts__json_peek(&c) == 0;
}

/* floe_json has no raw writer; this one keeps its comma bookkeeping the
 * way util/buf.c's separator does (the struct is public for this). */
void alerts__json_raw(floe_json *j, const char *text)
{
    if (j->after_key) {
        j->after_key = 0;
    } else {
        uint64_t bit = (uint64_t)1 << (j->depth & 63);
        if (j->need_comma & bit)
            floe_buf_putc(j->b, ',');
        j->need_comma |= bit;
    }
    floe_buf_puts(j->b, text);
}

static void kstr_or_null(floe_json *j, const char *key, const char *v)
{
    floe_json_key(j, key);
    if (v)
        floe_json_str(j, v);
    else
        floe_json_null(j);
}

static void row_flow_json(floe_json *j, const alerts__row *r)
{
    floe_json_key(j, "flow");
    floe_json_obj_begin(j);
    kstr_or_null(j, "client", r->cli);
    kstr_or_null(j, "server", r->srv);
    floe_json_ku64(j, "client_port", r->cli_port);
    floe_json_ku64(j, "server_port", r->srv_port);
    floe_json_ku64(j, "l4", r->l4);
    kstr_or_null(j, "app", r->app);
    kstr_or_null(j, "exporter", r->exporter);
    floe_json_ku64(j, "bytes", r->bytes);
    floe_json_ku64(j, "packets", r->packets);
    floe_json_obj_end(j);
}

void alerts__row_json(floe_json *j, const alerts__row *r, const char *action)
{
    floe_json_obj_begin(j);
    floe_json_key(j, "id");
    floe_json_i64(j, r->id);
    if (action)
        floe_json_kstr(j, "action", action);
    floe_json_kstr(j, "type", r->type);
    floe_json_kstr(j, "plugin", r->plugin);
    floe_json_kstr(j, "check", r->check);
    floe_json_key(j, "entity");
    floe_json_obj_begin(j);
    floe_json_kstr(j, "type", floe_entity_name(r->entity_type));
    floe_json_kstr(j, "value", r->entity);
    floe_json_obj_end(j);
    floe_json_kstr(j, "severity", floe_severity_name(r->severity));
    floe_json_ku64(j, "score", r->score);
    floe_json_kstr(j, "state", r->state == 0 ? "engaged" : "past");
    floe_json_kstr(j, "kind", floe_alert_kind_name(r->kind));
    floe_json_ku64(j, "raised_ms", r->raised_ms);
    floe_json_key(j, "released_ms");
    if (r->released_ms)
        floe_json_u64(j, r->released_ms);
    else
        floe_json_null(j);
    floe_json_ku64(j, "last_seen_ms", r->last_seen_ms);
    floe_json_ku64(j, "count", r->count);
    floe_json_key(j, "ack");
    if (r->ack_by) {
        floe_json_obj_begin(j);
        floe_json_ku64(j, "ms", r->ack_ms);
        floe_json_kstr(j, "by", r->ack_by);
        floe_json_obj_end(j);
    } else {
        floe_json_null(j);
    }
    floe_json_key(j, "info");
    if (r->info)
        alerts__json_raw(j, r->info);
    else
        floe_json_null(j);
    if (r->has_flow)
        row_flow_json(j, r);
    floe_json_obj_end(j);
}
