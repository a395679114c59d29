/*
 * UDP listeners: one libuv handle per configured address, with recvmmsg
 * batching and a large socket buffer. Every datagram goes to the ingest
 * pipeline, which detects its protocol, so any port takes any protocol.
 */
#include "collector/collector.h"

#include <errno.h>
#include <linux/sock_diag.h>
#include <stdlib.h>
#include <sys/socket.h>

/* libuv reads up to 20 datagrams per recvmmsg call into 64 KiB slots of the
 * buffer it is given; a smaller buffer means fewer datagrams per call. */
#define LISTEN_BUF_LEN (20u * 65536u)

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    floe_listener *l = h->data;
    buf->base = l->buf;
    buf->len = l->buflen;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    floe_listener *l = h->data;
    if (flags & UV_UDP_MMSG_FREE) {
        /* The recvmmsg batch is over and libuv will reuse the buffer:
         * records still in the tables' pipeline may point into it (sFlow
         * sampled headers). */
        floe_engine_batch_end(&l->d->engine);
        return;
    }
    if (nread < 0) {
        log_warn_rl(&l->d->log, "listen %s: receive failed: %s", l->name, uv_strerror((int)nread));
        return;
    }
    if (!addr)
        return; /* nothing more to read */
    floe_addr src;
    uint16_t port;
    if (floe_addr_from_sockaddr(&src, &port, addr) != 0)
        return;
    l->source.datagrams++;
    l->d->turn_datagrams++;
    floe_engine_datagram(&l->d->engine, &src, port, (const uint8_t *)buf->base, (size_t)nread,
                         floe_time_ms());
    if (!(flags & UV_UDP_MMSG_CHUNK))
        floe_engine_batch_end(&l->d->engine); /* read alone: its buffer is reused next */
}

/* Datagrams the kernel dropped on this socket (SO_MEMINFO), or 0. */
static uint64_t listener_drops(const floe_source *s)
{
    const floe_listener *l = FLOE_CONTAINER_OF(s, floe_listener, source);
    uv_os_fd_t fd;
    uint32_t mem[SK_MEMINFO_VARS];
    socklen_t len = sizeof(mem);
    if (uv_fileno((const uv_handle_t *)&l->udp, &fd) != 0)
        return 0;
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0 ||
        len < sizeof(uint32_t) * (SK_MEMINFO_DROPS + 1))
        return 0;
    return mem[SK_MEMINFO_DROPS];
}

static void on_closed(uv_handle_t *h)
{
    floe_listener *l = h->data;
    free(l->buf);
    free(l->name);
    free(l);
}

static void listener_close(floe_listener *l)
{
    floe_list_remove(&l->link);
    floe_engine_remove_source(&l->d->engine, &l->source);
    uv_udp_recv_stop(&l->udp);
    uv_close((uv_handle_t *)&l->udp, on_closed);
}

static void set_rcvbuf(floe_listener *l, uint32_t want)
{
    int value = (int)want;
    uv_os_fd_t fd;
    /* With CAP_NET_ADMIN (root), SO_RCVBUFFORCE goes past net.core.rmem_max;
     * otherwise fall back to the capped SO_RCVBUF. */
    if (uv_fileno((uv_handle_t *)&l->udp, &fd) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &value, sizeof(value)) != 0)
        uv_recv_buffer_size((uv_handle_t *)&l->udp, &value);
    value = 0;
    uv_recv_buffer_size((uv_handle_t *)&l->udp, &value);
    l->source.rcvbuf = value;
    /* Linux reports twice what it grants per request; compare halves. */
    if ((uint32_t)value / 2 < want)
        log_warn(&l->d->log,
                 "listen %s: asked for a %u byte socket buffer, got %d; raise "
                 "net.core.rmem_max to avoid drops in bursts",
                 l->name, want, value / 2);
    else
        log_info(&l->d->log, "listen %s: socket buffer %d bytes", l->name, value / 2);
}

static int listener_open(floe_daemon *d, const char *name)
{
    struct sockaddr_storage ss;
    char why[128];
    if (floe_endpoint_parse(name, &ss, why, sizeof(why)) != 0) {
        log_error(&d->log, "listen %s: %s", name, why);
        return FLOE_EINVAL;
    }
    floe_listener *l = calloc(1, sizeof(*l));
    if (!l || !(l->name = strdup(name)) || !(l->buf = malloc(LISTEN_BUF_LEN))) {
        if (l)
            free(l->name);
        free(l);
        return FLOE_ENOMEM;
    }
    l->buflen = LISTEN_BUF_LEN;
    l->d = d;
    uv_udp_init_ex(&d->loop, &l->udp, ss.ss_family | UV_UDP_RECVMMSG);
    l->udp.data = l;
    floe_list_init(&l->link);
    unsigned flags = ss.ss_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0;
    int rc = uv_udp_bind(&l->udp, (struct sockaddr *)&ss, flags);
    if (rc == 0)
        rc = uv_udp_recv_start(&l->udp, on_alloc, on_recv);
    if (rc != 0) {
        log_error(&d->log, "listen %s: %s", name, uv_strerror(rc));
        uv_close((uv_handle_t *)&l->udp, on_closed);
        return rc == UV_EAFNOSUPPORT || rc == UV_EADDRNOTAVAIL ? FLOE_ENOTFOUND : FLOE_EIO;
    }
    set_rcvbuf(l, d->cfg.rcvbuf);
    floe_list_push_tail(&d->listeners, &l->link);
    l->source.name = l->name;
    l->source.drops = listener_drops;
    floe_engine_add_source(&d->engine, &l->source);
    log_info(&d->log, "listen %s: receiving (recvmmsg %s)", name,
             uv_udp_using_recvmmsg(&l->udp) ? "on" : "off");
    return 0;
}

static floe_listener *listener_find(floe_daemon *d, const char *name)
{
    for (floe_list *it = d->listeners.next; it != &d->listeners; it = it->next) {
        floe_listener *l = FLOE_CONTAINER_OF(it, floe_listener, link);
        if (strcmp(l->name, name) == 0)
            return l;
    }
    return NULL;
}

int floe_listeners_apply(floe_daemon *d)
{
    int failures = 0, opened = 0;
    for (floe_list *it = d->listeners.next; it != &d->listeners; it = it->next)
        FLOE_CONTAINER_OF(it, floe_listener, link)->seen = 0;
    for (size_t i = 0; i < d->cfg.n_listen; i++) {
        floe_listener *l = listener_find(d, d->cfg.listen[i]);
        if (l) {
            l->seen = 1;
            set_rcvbuf(l, d->cfg.rcvbuf);
            opened++;
            continue;
        }
        int rc = listener_open(d, d->cfg.listen[i]);
        if (rc == 0) {
            listener_find(d, d->cfg.listen[i])->seen = 1;
            opened++;
        } else if (rc == FLOE_ENOTFOUND && d->cfg.listen[i][0] == '[') {
            log_warn(&d->log, "listen %s: no IPv6 here; going on without it", d->cfg.listen[i]);
        } else {
            failures++;
        }
    }
    floe_list *it = d->listeners.next;
    while (it != &d->listeners) {
        floe_listener *l = FLOE_CONTAINER_OF(it, floe_listener, link);
        it = it->next;
        if (!l->seen) {
            log_info(&d->log, "listen %s: closed", l->name);
            listener_close(l);
        }
    }
    if (failures)
        return FLOE_EIO;
    if (opened == 0 && d->cfg.n_listen > 0)
        return FLOE_EIO;
    return 0;
}

/*
 * Naps. At a low rate every datagram wakes the loop alone: an epoll wait,
 * two recvmmsg calls (the second finds nothing), the checks after the turn
 * and, on a VM, the wake-up itself, for 30 records or fewer. So after a
 * turn that read fewer than NAP_BELOW datagrams the listeners stop reading
 * for up to NAP_MAX_MS, and the kernel queues what comes meanwhile; the
 * next turn reads it all at once. Busy turns never nap. A nap lasts a
 * millisecond per MiB of the smallest socket buffer granted (none under
 * 1 MiB), so that even a burst of a gigabyte a second fits while floe
 * sleeps. The loop itself keeps serving everything else.
 */
#define NAP_BELOW  32
#define NAP_MAX_MS 10

static void on_nap_end(uv_timer_t *t)
{
    floe_daemon *d = t->data;
    d->napping = 0;
    for (floe_list *it = d->listeners.next; it != &d->listeners; it = it->next) {
        floe_listener *l = FLOE_CONTAINER_OF(it, floe_listener, link);
        if (!uv_is_closing((uv_handle_t *)&l->udp))
            uv_udp_recv_start(&l->udp, on_alloc, on_recv);
    }
}

static uint64_t nap_ms(const floe_daemon *d)
{
    uint64_t ms = NAP_MAX_MS;
    for (const floe_list *it = d->listeners.next; it != &d->listeners; it = it->next) {
        const floe_listener *l = FLOE_CONTAINER_OF(it, floe_listener, link);
        uint64_t by_buf = (uint64_t)(l->source.rcvbuf > 0 ? l->source.rcvbuf : 0) / 2 >> 20;
        if (by_buf < ms)
            ms = by_buf;
    }
    return ms;
}

void floe_listeners_turn(floe_daemon *d)
{
    uint64_t n = d->turn_datagrams;
    d->turn_datagrams = 0;
    if (d->napping || d->stopping || n == 0 || n >= NAP_BELOW)
        return;
    uint64_t ms = nap_ms(d);
    if (ms == 0)
        return;
    for (floe_list *it = d->listeners.next; it != &d->listeners; it = it->next)
        uv_udp_recv_stop(&FLOE_CONTAINER_OF(it, floe_listener, link)->udp);
    d->napping = 1;
    uv_timer_start(&d->nap, on_nap_end, ms, 0);
}

void floe_listeners_close_all(floe_daemon *d)
{
    while (!floe_list_empty(&d->listeners))
        listener_close(FLOE_CONTAINER_OF(d->listeners.next, floe_listener, link));
}
