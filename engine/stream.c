/*
 * IPFIX over a byte stream: RFC 7011 §10.4 (TCP) and RFC 5655 (files)
 * carry the same thing, a sequence of IPFIX messages, each framed by the
 * length in its own header. This file frames them, and keeps the session of
 * one TCP connection: a number that goes into the exporter key of every
 * message it carries (so its templates are its own, RFC 7011 §8), and a
 * receive buffer bounded by the largest message there can be. Messages go
 * through ingest exactly as datagrams do. Nothing here touches a socket:
 * the daemon's listeners (collector/) own the connections.
 */
#include "engine/engine.h"

#include <stdlib.h>

#define IPFIX_VERSION 10

static const char *const end_names[FLOE_STREAM_END_COUNT] = {
    "eof", "cut", "garbage", "stalled", "idle", "error", "closed",
};

const char *floe_stream_end_name(int end)
{
    return end >= 0 && end < FLOE_STREAM_END_COUNT ? end_names[end] : "?";
}

long floe_ipfix_frame(const uint8_t *p, size_t n)
{
    if (n < 4)
        return 0;
    if (floe_be16(p) != IPFIX_VERSION)
        return -FLOE_R_BAD_FRAMING;
    size_t len = floe_be16(p + 2);
    if (len < FLOE_IPFIX_HEADER)
        return -FLOE_R_BAD_LENGTH;
    return len <= n ? (long)len : 0;
}

int floe_engine_stream_open(floe_engine *e, floe_stream *s, const floe_addr *src, uint16_t sport,
                            uint64_t now_ms)
{
    memset(s, 0, sizeof(*s));
    s->buf = malloc(FLOE_STREAM_BUF_MIN);
    if (!s->buf)
        return FLOE_ENOMEM;
    s->cap = FLOE_STREAM_BUF_MIN;
    s->src = *src;
    s->sport = sport;
    /* 0 is UDP's; numbers wrap after four billion connections, long after
     * any session that had an old number has ended. */
    if (++e->next_session == 0)
        e->next_session = 1;
    s->session = e->next_session;
    s->opened_ms = s->last_ms = now_ms;
    return 0;
}

void floe_engine_stream_buffer(floe_stream *s, uint8_t **p, size_t *room)
{
    *p = s->buf + s->len;
    *room = s->cap - s->len;
}

/* Room for the message at the head, whose header says len bytes. Growing
 * is the only allocation, and only up to the largest message. */
static int stream_room(floe_stream *s, size_t len)
{
    if (len <= s->cap)
        return 0;
    uint8_t *grown = realloc(s->buf, FLOE_STREAM_BUF_MAX);
    if (!grown)
        return FLOE_ENOMEM;
    s->buf = grown;
    s->cap = FLOE_STREAM_BUF_MAX;
    return 0;
}

int floe_engine_stream_data(floe_engine *e, floe_stream *s, size_t n, uint64_t now_ms)
{
    size_t off = 0;
    long len = 0;
    s->len += n;
    s->bytes += n;
    s->last_ms = now_ms;
    while ((len = floe_ipfix_frame(s->buf + off, s->len - off)) > 0) {
        floe_ingest_message(&e->ing, &s->src, s->sport, s->session, s->buf + off, (size_t)len,
                            now_ms);
        s->messages++;
        off += (size_t)len;
    }
    /* Records in the tables' pipeline may point into the buffer. */
    if (off)
        floe_engine_batch_end(e);
    if (len < 0) {
        floe_ingest_reject(&e->ing, len == -FLOE_R_BAD_LENGTH ? FLOE_PROTO_IPFIX : -1, (int)-len);
        return FLOE_EFORMAT;
    }
    memmove(s->buf, s->buf + off, s->len - off);
    s->len -= off;
    if (s->len == 0) {
        s->partial_ms = 0;
    } else if (off || !s->partial_ms) {
        s->partial_ms = now_ms; /* a new message began */
    }
    if (s->len >= 4 && stream_room(s, floe_be16(s->buf + 2)) != 0) {
        e->ing.proto[FLOE_PROTO_IPFIX].dropped++;
        return FLOE_ENOMEM;
    }
    return 0;
}

int floe_stream_expired(const floe_stream *s, uint64_t now_ms, uint64_t idle_ms, uint64_t stall_ms)
{
    if (stall_ms && s->partial_ms && now_ms >= s->partial_ms + stall_ms)
        return FLOE_STREAM_STALLED;
    if (idle_ms && now_ms >= s->last_ms + idle_ms)
        return FLOE_STREAM_IDLE;
    return -1;
}

void floe_engine_stream_close(floe_engine *e, floe_stream *s)
{
    floe_engine_batch_end(e);
    floe_exporters_remove_session(&e->ing.exporters, s->session);
    free(s->buf);
    s->buf = NULL;
    s->len = s->cap = 0;
}
