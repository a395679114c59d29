/*
 * IPFIX over TCP (RFC 7011 §10.4): one libuv TCP server per listen_tcp
 * address, and a connection object per exporter. What a connection sends
 * goes straight into its floe_stream's buffer (engine/stream.c frames it
 * and ingests each message as a datagram of that session), so a read costs
 * no copy and a peer never holds more than one message's worth of floe's
 * memory. Nothing here waits: a read is handled when it comes, and the
 * one-second tick closes connections that stalled mid-message or went
 * idle. Every way a connection ends is counted on its listener.
 */
#include "collector/collector.h"

#include <stdlib.h>

#define TCP_BACKLOG 128

typedef struct tcp_conn {
    uv_tcp_t tcp;
    floe_list link; /* in its listener's conns */
    floe_tcp_listener *l;
    floe_stream s;
    int open; /* the stream is open; 0 once it ended */
} tcp_conn;

static void on_conn_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Ends a connection, counted under why: the session's exporters and
 * templates go with it. Safe to call twice. */
static void conn_end(tcp_conn *c, int why)
{
    floe_tcp_listener *l = c->l;
    if (!c->open)
        return;
    c->open = 0;
    l->ended[why]++;
    l->open--;
    l->d->tcp_open--;
    floe_list_remove(&c->link);
    floe_engine_stream_close(&l->d->engine, &c->s);
    if (why == FLOE_STREAM_GARBAGE || why == FLOE_STREAM_STALLED)
        log_warn_rl(&l->d->log, "listen tcp %s: closed a connection: %s", l->name,
                    floe_stream_end_name(why));
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    tcp_conn *c = h->data;
    uint8_t *p = NULL;
    size_t room = 0;
    (void)suggested;
    if (c->open)
        floe_engine_stream_buffer(&c->s, &p, &room);
    buf->base = (char *)p;
    buf->len = room;
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
    tcp_conn *c = h->data;
    floe_tcp_listener *l = c->l;
    (void)buf;
    if (!c->open || nread == 0)
        return;
    if (nread < 0) {
        int why = nread != UV_EOF ? FLOE_STREAM_ERROR
                  : c->s.len      ? FLOE_STREAM_CUT
                                  : FLOE_STREAM_EOF;
        conn_end(c, why);
        return;
    }
    l->bytes += (uint64_t)nread;
    uint64_t before = c->s.messages;
    int rc = floe_engine_stream_data(&l->d->engine, &c->s, (size_t)nread, floe_time_ms());
    l->source.datagrams += c->s.messages - before;
    if (rc == FLOE_EFORMAT)
        conn_end(c, FLOE_STREAM_GARBAGE);
    else if (rc != 0)
        conn_end(c, FLOE_STREAM_ERROR);
}

/* Accepts into a handle that is closed at once: the backlog must be
 * drained, or libuv keeps reporting the same connection. */
static void refuse(floe_tcp_listener *l)
{
    uv_tcp_t *t = malloc(sizeof(*t));
    l->refused++;
    if (!t)
        return;
    uv_tcp_init(&l->d->loop, t);
    t->data = t;
    uv_accept((uv_stream_t *)&l->tcp, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, on_conn_closed);
    log_warn_rl(&l->d->log, "listen tcp %s: refused a connection: %u open, tcp.max_connections",
                l->name, l->d->tcp_open);
}

/* The peer's address, for the exporter key. */
static int peer_of(uv_tcp_t *t, floe_addr *a, uint16_t *port)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &len) != 0)
        return FLOE_EIO;
    return floe_addr_from_sockaddr(a, port, (struct sockaddr *)&ss);
}

static void on_connection(uv_stream_t *server, int status)
{
    floe_tcp_listener *l = server->data;
    floe_daemon *d = l->d;
    if (status < 0)
        return;
    if (d->tcp_open >= d->cfg.tcp_max_connections) {
        refuse(l);
        return;
    }
    tcp_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        refuse(l);
        return;
    }
    uv_tcp_init(&d->loop, &c->tcp);
    c->tcp.data = c;
    c->l = l;
    floe_addr src;
    uint16_t port = 0;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || peer_of(&c->tcp, &src, &port) != 0 ||
        floe_engine_stream_open(&d->engine, &c->s, &src, port, floe_time_ms()) != 0) {
        l->refused++;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    c->open = 1;
    floe_list_push_tail(&l->conns, &c->link);
    l->accepted++;
    l->open++;
    d->tcp_open++;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* The listener's figures under its entry in the status's listeners. */
static void tcp_describe(const floe_source *s, floe_json *j)
{
    const floe_tcp_listener *l = FLOE_CONTAINER_OF(s, floe_tcp_listener, source);
    floe_json_ku64(j, "connections", l->open);
    floe_json_ku64(j, "accepted", l->accepted);
    floe_json_ku64(j, "refused", l->refused);
    floe_json_ku64(j, "bytes", l->bytes);
    floe_json_key(j, "closed");
    floe_json_obj_begin(j);
    for (int i = 0; i < FLOE_STREAM_END_COUNT; i++)
        floe_json_ku64(j, floe_stream_end_name(i), l->ended[i]);
    floe_json_obj_end(j);
}

static void on_listener_closed(uv_handle_t *h)
{
    floe_tcp_listener *l = h->data;
    free(l->name);
    free(l);
}

static void listener_close(floe_tcp_listener *l)
{
    while (!floe_list_empty(&l->conns))
        conn_end(FLOE_CONTAINER_OF(l->conns.next, tcp_conn, link), FLOE_STREAM_CLOSED);
    floe_list_remove(&l->link);
    floe_engine_remove_source(&l->d->engine, &l->source);
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}

static int listener_open(floe_daemon *d, const char *name)
{
    struct sockaddr_storage ss;
    char why[128];
    if (floe_endpoint_parse(name, &ss, why, sizeof(why)) != 0) {
        log_error(&d->log, "listen tcp %s: %s", name, why);
        return FLOE_EINVAL;
    }
    floe_tcp_listener *l = calloc(1, sizeof(*l));
    if (!l || !(l->name = strdup(name))) {
        free(l);
        return FLOE_ENOMEM;
    }
    l->d = d;
    floe_list_init(&l->conns);
    floe_list_init(&l->link);
    uv_tcp_init(&d->loop, &l->tcp);
    l->tcp.data = l;
    unsigned flags = ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
    int rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, flags);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, TCP_BACKLOG, on_connection);
    if (rc != 0) {
        log_error(&d->log, "listen tcp %s: %s", name, uv_strerror(rc));
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return rc == UV_EAFNOSUPPORT || rc == UV_EADDRNOTAVAIL ? FLOE_ENOTFOUND : FLOE_EIO;
    }
    floe_list_push_tail(&d->tcp_listeners, &l->link);
    l->source.name = l->name;
    l->source.transport = "tcp";
    l->source.describe = tcp_describe;
    floe_engine_add_source(&d->engine, &l->source);
    l->seen = 1;
    log_info(&d->log, "listen tcp %s: receiving IPFIX over TCP", name);
    return 0;
}

static floe_tcp_listener *listener_find(floe_daemon *d, const char *name)
{
    for (floe_list *it = d->tcp_listeners.next; it != &d->tcp_listeners; it = it->next) {
        floe_tcp_listener *l = FLOE_CONTAINER_OF(it, floe_tcp_listener, link);
        if (strcmp(l->name, name) == 0)
            return l;
    }
    return NULL;
}

int floe_tcp_listeners_apply(floe_daemon *d)
{
    int failures = 0;
    for (floe_list *it = d->tcp_listeners.next; it != &d->tcp_listeners; it = it->next)
        FLOE_CONTAINER_OF(it, floe_tcp_listener, link)->seen = 0;
    for (size_t i = 0; i < d->cfg.n_listen_tcp; i++) {
        const char *name = d->cfg.listen_tcp[i];
        floe_tcp_listener *l = listener_find(d, name);
        int rc = l ? 0 : listener_open(d, name);
        if (l)
            l->seen = 1;
        else if (rc == FLOE_ENOTFOUND && name[0] == '[')
            log_warn(&d->log, "listen tcp %s: no IPv6 here; going on without it", name);
        else if (rc != 0)
            failures++;
    }
    floe_list *it = d->tcp_listeners.next;
    while (it != &d->tcp_listeners) {
        floe_tcp_listener *l = FLOE_CONTAINER_OF(it, floe_tcp_listener, link);
        it = it->next;
        if (!l->seen) {
            log_info(&d->log, "listen tcp %s: closed", l->name);
            listener_close(l);
        }
    }
    return failures ? FLOE_EIO : 0;
}

void floe_tcp_listeners_close_all(floe_daemon *d)
{
    while (!floe_list_empty(&d->tcp_listeners))
        listener_close(FLOE_CONTAINER_OF(d->tcp_listeners.next, floe_tcp_listener, link));
}

void floe_tcp_sweep(floe_daemon *d, uint64_t now_ms)
{
    uint64_t idle = (uint64_t)d->cfg.tcp_idle_timeout * 1000;
    uint64_t stall = (uint64_t)d->cfg.tcp_stall_timeout * 1000;
    for (floe_list *li = d->tcp_listeners.next; li != &d->tcp_listeners; li = li->next) {
        floe_tcp_listener *l = FLOE_CONTAINER_OF(li, floe_tcp_listener, link);
        floe_list *it = l->conns.next;
        while (it != &l->conns) {
            tcp_conn *c = FLOE_CONTAINER_OF(it, tcp_conn, link);
            it = it->next;
            int why = floe_stream_expired(&c->s, now_ms, idle, stall);
            if (why >= 0)
                conn_end(c, why);
        }
    }
}
