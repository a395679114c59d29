/*
 * The rows floe writes and their RowBinary encoding. RowBinary is
 * ClickHouse's plainest binary input: each row is its columns in the
 * order of the INSERT's column list, integers little-endian at their
 * width, DateTime as a UInt32 of Unix seconds, FixedString(N) as N bytes,
 * String as an unsigned LEB128 length and the bytes, Array(T) as a LEB128
 * count and the items. The column tables below are the one place that
 * names the columns: the DDL (schema.c), the INSERT's column list and the
 * encoders all follow them, so they cannot disagree.
 */
#include "history/internal.h"

#include <stdlib.h>
#include <zlib.h>

#define STR_MAX      255   /* bytes kept of a row's string */
#define INFO_MAX     16384 /* of an alert's info */
#define STATUSES_MAX 32

/* Schema version 1. New columns go at the end of a table, with a version
 * bump and an ALTER in schema.c. */
static const hist__column flow_columns[] = {
    {"time", "DateTime"},   /* the latest traffic the row covers */
    {"first", "DateTime"},  /* the flow's first record */
    {"instance", "String"}, /* the floe that wrote it */
    {"exporter", "FixedString(16)"},
    {"in_if", "UInt32"},
    {"out_if", "UInt32"},
    {"vlan", "UInt16"},
    {"proto", "UInt8"},
    {"client", "FixedString(16)"}, /* IPv6, or IPv4 as ::ffff:a.b.c.d */
    {"server", "FixedString(16)"},
    {"client_port", "UInt16"},
    {"server_port", "UInt16"},
    {"app", "String"},
    {"category", "String"},
    {"c2s_bytes", "UInt64"}, /* client to server, sampling scaled */
    {"s2c_bytes", "UInt64"},
    {"c2s_packets", "UInt64"},
    {"s2c_packets", "UInt64"},
    {"c2s_flags", "UInt16"}, /* TCP flags ORed */
    {"s2c_flags", "UInt16"},
    {"client_as", "UInt32"},
    {"server_as", "UInt32"},
    {"statuses", "Array(String)"},
    {"score", "UInt16"},
    {"final", "UInt8"}, /* 1 on a flow's last row */
};

static const hist__column alert_columns[] = {
    {"time", "DateTime"},      {"instance", "String"},        {"kind", "String"},
    {"type", "String"},        {"check_name", "String"},      {"entity_type", "String"},
    {"entity", "String"},      {"severity", "String"},        {"score", "UInt32"},
    {"info", "String"},        {"client", "FixedString(16)"}, {"server", "FixedString(16)"},
    {"client_port", "UInt16"}, {"server_port", "UInt16"},     {"proto", "UInt8"},
    {"app", "String"},
};

const hist__column *hist__columns(int table, size_t *n)
{
    if (table == HIST_ALERTS) {
        *n = FLOE_ARRAY_LEN(alert_columns);
        return alert_columns;
    }
    *n = FLOE_ARRAY_LEN(flow_columns);
    return flow_columns;
}

void hist__column_list(int table, floe_buf *out)
{
    size_t n;
    const hist__column *c = hist__columns(table, &n);
    floe_buf_putc(out, '(');
    for (size_t i = 0; i < n; i++)
        floe_buf_printf(out, "%s%s", i ? ", " : "", c[i].name);
    floe_buf_putc(out, ')');
}

/* ---- encoding ---------------------------------------------------------------- */

static void put_le(floe_buf *b, uint64_t v, size_t width)
{
    uint8_t x[8];
    for (size_t i = 0; i < width; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    floe_buf_append(b, x, width);
}

static void put_varint(floe_buf *b, uint64_t v)
{
    uint8_t x[10];
    size_t n = 0;
    do {
        x[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            x[n] |= 0x80;
        n++;
    } while (v);
    floe_buf_append(b, x, n);
}

static void put_str(floe_buf *b, const char *s, size_t max)
{
    size_t n = s ? strnlen(s, max) : 0;
    put_varint(b, n);
    floe_buf_append(b, s ? s : "", n);
}

static void put_time(floe_buf *b, uint64_t ms)
{
    uint64_t s = ms / 1000;
    put_le(b, s > UINT32_MAX ? UINT32_MAX : s, 4);
}

static void put_addr(floe_buf *b, const floe_addr *a)
{
    floe_buf_append(b, a->b, 16);
}

void hist__encode_flow(floe_buf *b, const char *instance, const floe_history_flow *r)
{
    size_t ns = r->statuses ? r->n_statuses : 0;
    if (ns > STATUSES_MAX)
        ns = STATUSES_MAX;
    put_time(b, r->time_ms);
    put_time(b, r->first_ms);
    put_str(b, instance, FLOE_HISTORY_NAME_MAX);
    put_addr(b, &r->exporter);
    put_le(b, r->in_if, 4);
    put_le(b, r->out_if, 4);
    put_le(b, r->vlan, 2);
    put_le(b, r->proto, 1);
    put_addr(b, &r->client);
    put_addr(b, &r->server);
    put_le(b, r->client_port, 2);
    put_le(b, r->server_port, 2);
    put_str(b, r->app, STR_MAX);
    put_str(b, r->category, STR_MAX);
    put_le(b, r->bytes[0], 8);
    put_le(b, r->bytes[1], 8);
    put_le(b, r->packets[0], 8);
    put_le(b, r->packets[1], 8);
    put_le(b, r->tcp_flags[0], 2);
    put_le(b, r->tcp_flags[1], 2);
    put_le(b, r->client_as, 4);
    put_le(b, r->server_as, 4);
    put_varint(b, ns);
    for (size_t i = 0; i < ns; i++)
        put_str(b, r->statuses[i], STR_MAX);
    put_le(b, r->score, 2);
    put_le(b, r->final ? 1 : 0, 1);
}

void hist__encode_alert(floe_buf *b, const char *instance, const floe_history_alert *r)
{
    put_time(b, r->time_ms);
    put_str(b, instance, FLOE_HISTORY_NAME_MAX);
    put_str(b, r->kind, STR_MAX);
    put_str(b, r->type, STR_MAX);
    put_str(b, r->check, STR_MAX);
    put_str(b, r->entity_type, STR_MAX);
    put_str(b, r->entity, STR_MAX);
    put_str(b, r->severity, STR_MAX);
    put_le(b, r->score, 4);
    put_str(b, r->info, INFO_MAX);
    put_addr(b, &r->client);
    put_addr(b, &r->server);
    put_le(b, r->client_port, 2);
    put_le(b, r->server_port, 2);
    put_le(b, r->proto, 1);
    put_str(b, r->app, STR_MAX);
}

/* ---- compression --------------------------------------------------------------- */

/* Level 1: a block is compressed on the writer thread while the next one
 * fills, and flow rows (addresses, small counters, repeated names) shrink
 * about as well at level 1 as at 6 for a fraction of the time. */
int hist__gzip(const void *data, size_t n, floe_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* 15 + 16: a gzip wrapper, which Content-Encoding: gzip names. */
    if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return FLOE_ENOMEM;
    size_t bound = deflateBound(&zs, (uLong)n) + 32;
    floe_buf_reset(out);
    if (out->cap < bound + 1) {
        char *grown = realloc(out->data, bound + 1);
        if (!grown) {
            deflateEnd(&zs);
            return FLOE_ENOMEM;
        }
        out->data = grown;
        out->cap = bound + 1;
    }
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out->data;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    out->len = bound - zs.avail_out;
    out->data[out->len] = '\0';
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? 0 : FLOE_ENOMEM;
}
