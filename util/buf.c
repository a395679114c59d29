/*
 * floe_buf, a growable byte buffer, and floe_json, a JSON writer on top of
 * it. The writer tracks commas per nesting level so callers only say what
 * they write, never where the separators go.
 */
#include "util/util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void floe_buf_init(floe_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void floe_buf_close(floe_buf *b)
{
    free(b->data);
    floe_buf_init(b);
}

void floe_buf_reset(floe_buf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int buf_reserve(floe_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void floe_buf_append(floe_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void floe_buf_puts(floe_buf *b, const char *s)
{
    floe_buf_append(b, s, strlen(s));
}

void floe_buf_putc(floe_buf *b, char c)
{
    floe_buf_append(b, &c, 1);
}

void floe_buf_printf(floe_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        floe_buf_append(b, small, (size_t)n);
        return;
    }
    if (buf_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *floe_buf_steal(floe_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    if (!p)
        p = calloc(1, 1);
    floe_buf_init(b);
    return p;
}

/* ---- JSON -------------------------------------------------------------- */

void floe_json_init(floe_json *j, floe_buf *b)
{
    j->b = b;
    j->need_comma = 0;
    j->depth = 0;
    j->after_key = 0;
}

/* Called before every value or key: writes the comma that separates it. */
static void json_sep(floe_json *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    uint64_t bit = (uint64_t)1 << (j->depth & 63);
    if (j->need_comma & bit)
        floe_buf_putc(j->b, ',');
    j->need_comma |= bit;
}

static void json_open(floe_json *j, char c)
{
    json_sep(j);
    if (j->depth >= 63) {
        j->b->oom = 1;
        return;
    }
    floe_buf_putc(j->b, c);
    j->depth++;
    j->need_comma &= ~((uint64_t)1 << j->depth);
}

static void json_close(floe_json *j, char c)
{
    if (j->depth > 0)
        j->depth--;
    floe_buf_putc(j->b, c);
}

void floe_json_obj_begin(floe_json *j)
{
    json_open(j, '{');
}
void floe_json_obj_end(floe_json *j)
{
    json_close(j, '}');
}
void floe_json_arr_begin(floe_json *j)
{
    json_open(j, '[');
}
void floe_json_arr_end(floe_json *j)
{
    json_close(j, ']');
}

static void json_escaped(floe_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    floe_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x7f)
            continue;
        floe_buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            floe_buf_puts(b, "\\\"");
            break;
        case '\\':
            floe_buf_puts(b, "\\\\");
            break;
        case '\n':
            floe_buf_puts(b, "\\n");
            break;
        case '\r':
            floe_buf_puts(b, "\\r");
            break;
        case '\t':
            floe_buf_puts(b, "\\t");
            break;
        default: {
            /* Control bytes and anything outside ASCII are escaped, so the
             * output is valid JSON whatever bytes an exporter sent. */
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            floe_buf_append(b, u, 6);
        }
        }
    }
    floe_buf_append(b, s + run, n - run);
    floe_buf_putc(b, '"');
}

void floe_json_key(floe_json *j, const char *key)
{
    json_sep(j);
    json_escaped(j->b, key, strlen(key));
    floe_buf_putc(j->b, ':');
    j->after_key = 1;
}

void floe_json_strn(floe_json *j, const char *s, size_t n)
{
    json_sep(j);
    json_escaped(j->b, s, n);
}

void floe_json_str(floe_json *j, const char *s)
{
    floe_json_strn(j, s, strlen(s));
}

void floe_json_raw(floe_json *j, const char *text)
{
    json_sep(j);
    floe_buf_puts(j->b, text);
}

void floe_json_u64(floe_json *j, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
    json_sep(j);
    floe_buf_append(j->b, tmp, (size_t)n);
}

void floe_json_i64(floe_json *j, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    json_sep(j);
    floe_buf_append(j->b, tmp, (size_t)n);
}

void floe_json_double(floe_json *j, double v)
{
    json_sep(j);
    if (!isfinite(v)) {
        floe_buf_puts(j->b, "null");
        return;
    }
    floe_buf_printf(j->b, "%.6g", v);
}

void floe_json_bool(floe_json *j, int v)
{
    json_sep(j);
    floe_buf_puts(j->b, v ? "true" : "false");
}

void floe_json_null(floe_json *j)
{
    json_sep(j);
    floe_buf_puts(j->b, "null");
}

void floe_json_addr(floe_json *j, const floe_addr *a)
{
    char text[FLOE_ADDR_STRLEN];
    floe_json_str(j, floe_addr_format(a, text));
}

void floe_json_kstr(floe_json *j, const char *key, const char *s)
{
    floe_json_key(j, key);
    floe_json_str(j, s);
}

void floe_json_ku64(floe_json *j, const char *key, uint64_t v)
{
    floe_json_key(j, key);
    floe_json_u64(j, v);
}
