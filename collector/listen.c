/*
 * UDP listeners: one socket per configured address, read by floe itself
 * with recvmmsg when libuv says it is readable. Every datagram goes to the
 * ingest pipeline, which detects its protocol, so any port takes any
 * protocol.
 *
 * The sockets ask for UDP GRO: the kernel may then hand over a train of
 * datagrams of one exporter, all of one size but the last, in one message,
 * with the size in a control message; a NIC's GRO makes such trains of
 * back-to-back exports, and so does the loopback for a sender's UDP GSO.
 * A train costs the kernel one buffer and one dequeue instead of one per
 * datagram (about 1.1 us a datagram to 0.45 here, bench/ingest's v5 stream
 * at 100k datagrams a second). The train is cut back into its datagrams
 * here; the engine never sees it.
 */
#include "collector/collector.h"

#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_GRO
#define UDP_GRO 104 /* linux/udp.h, since Linux 5.0 */
#endif

/* Messages per recvmmsg call, and calls per readable event at most (as
 * libuv's own UDP reads), so that one busy socket does not hold the loop.
 * A message slot holds the largest datagram, or a GRO train (64 KiB at
 * most). */
#define LISTEN_VLEN  32
#define LISTEN_SLOT  65536
#define LISTEN_READS 32

struct floe_listen_batch {
    struct mmsghdr msg[LISTEN_VLEN];
    struct iovec iov[LISTEN_VLEN];
    struct sockaddr_storage from[LISTEN_VLEN];
    union { /* aligned for cmsghdr */
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl[LISTEN_VLEN];
    char data[LISTEN_VLEN][LISTEN_SLOT];
};

/* The size of the datagrams of a GRO train, or 0 for a lone datagram. */
static size_t gro_size(struct msghdr *h)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
            c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int size;
            memcpy(&size, CMSG_DATA(c), sizeof(size));
            return size > 0 ? (size_t)size : 0;
        }
    return 0;
}

/* One message: a datagram, or a train of them cut at the GRO size. A
 * message the slot cut short (MSG_TRUNC) goes on as it is: the decoders
 * check every length and count what falls short. */
static void listener_message(floe_listener *l, struct mmsghdr *m, uint64_t now)
{
    floe_addr src;
    uint16_t port;
    if (floe_addr_from_sockaddr(&src, &port, (const struct sockaddr *)m->msg_hdr.msg_name) != 0)
        return;
    const uint8_t *p = m->msg_hdr.msg_iov->iov_base;
    size_t len = m->msg_len, seg = gro_size(&m->msg_hdr);
    if (seg == 0 || seg > len)
        seg = len;
    do {
        size_t n = len < seg ? len : seg;
        l->source.datagrams++;
        l->d->turn_datagrams++;
        floe_engine_datagram(&l->d->engine, &src, port, p, n, now);
        p += n;
        len -= n;
    } while (len > 0);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    floe_listener *l = h->data;
    struct floe_listen_batch *b = l->batch;
    (void)events;
    if (status < 0) {
        log_warn_rl(&l->d->log, "listen %s: poll failed: %s", l->name, uv_strerror(status));
        return;
    }
    for (int call = 0; call < LISTEN_READS; call++) {
        for (int i = 0; i < LISTEN_VLEN; i++) { /* the kernel wrote these back */
            b->msg[i].msg_hdr.msg_namelen = sizeof(b->from[i]);
            b->msg[i].msg_hdr.msg_controllen = sizeof(b->ctl[i]);
        }
        int n = recvmmsg(l->fd, b->msg, LISTEN_VLEN, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn_rl(&l->d->log, "listen %s: receive failed: %s", l->name,
                            uv_strerror(uv_translate_sys_error(errno)));
            return;
        }
        uint64_t now = floe_time_ms();
        for (int i = 0; i < n; i++)
            listener_message(l, &b->msg[i], now);
        /* The slots are read into again next: records still in the
         * tables' pipeline may point into them (sFlow sampled headers). */
        floe_engine_batch_end(&l->d->engine);
        if (n < LISTEN_VLEN)
            return;
    }
}

static struct floe_listen_batch *batch_new(void)
{
    struct floe_listen_batch *b = malloc(sizeof(*b));
    if (!b)
        return NULL;
    memset(b->msg, 0, sizeof(b->msg));
    for (int i = 0; i < LISTEN_VLEN; i++) {
        b->iov[i] = (struct iovec){.iov_base = b->data[i], .iov_len = LISTEN_SLOT};
        b->msg[i].msg_hdr.msg_iov = &b->iov[i];
        b->msg[i].msg_hdr.msg_iovlen = 1;
        b->msg[i].msg_hdr.msg_name = &b->from[i];
        b->msg[i].msg_hdr.msg_control = b->ctl[i].buf;
    }
    return b;
}

static int listener_reading(floe_listener *l, int on)
{
    return on ? uv_poll_start(&l->poll, UV_READABLE, on_readable) : uv_poll_stop(&l->poll);
}

/* Datagrams the kernel dropped on this socket (SO_MEMINFO), or 0. */
static uint64_t listener_drops(const floe_source *s)
{
    const floe_listener *l = FLOE_CONTAINER_OF(s, floe_listener, source);
    uint32_t mem[SK_MEMINFO_VARS];
    socklen_t len = sizeof(mem);
    if (getsockopt(l->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0 ||
        len < sizeof(uint32_t) * (SK_MEMINFO_DROPS + 1))
        return 0;
    return mem[SK_MEMINFO_DROPS];
}

static void listener_free(floe_listener *l)
{
    if (l->fd >= 0)
        close(l->fd);
    free(l->batch);
    free(l->name);
    free(l);
}

static void on_closed(uv_handle_t *h)
{
    listener_free(h->data);
}

static void listener_close(floe_listener *l)
{
    floe_list_remove(&l->link);
    floe_engine_remove_source(&l->d->engine, &l->source);
    listener_reading(l, 0);
    uv_close((uv_handle_t *)&l->poll, on_closed);
}

static void set_rcvbuf(floe_listener *l, uint32_t want)
{
    int value = (int)want;
    socklen_t len = sizeof(value);
    /* With CAP_NET_ADMIN (root), SO_RCVBUFFORCE goes past net.core.rmem_max;
     * otherwise fall back to the capped SO_RCVBUF. */
    if (setsockopt(l->fd, SOL_SOCKET, SO_RCVBUFFORCE, &value, sizeof(value)) != 0)
        (void)setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &value, sizeof(value));
    if (getsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &value, &len) != 0)
        value = 0;
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

/* A bound, non-blocking socket for ss, or -1 with errno set. */
static int listener_socket(const struct sockaddr_storage *ss)
{
    int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    socklen_t len =
        ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if ((ss->ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        bind(fd, (const struct sockaddr *)ss, len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
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
    if (!l)
        return FLOE_ENOMEM;
    l->fd = -1;
    if (!(l->name = strdup(name)) || !(l->batch = batch_new())) {
        listener_free(l);
        return FLOE_ENOMEM;
    }
    l->d = d;
    floe_list_init(&l->link);
    int rc = (l->fd = listener_socket(&ss)) < 0 ? uv_translate_sys_error(errno) : 0;
    if (rc == 0 && (rc = uv_poll_init(&d->loop, &l->poll, l->fd)) == 0) {
        l->poll.data = l;
        if ((rc = listener_reading(l, 1)) != 0)
            uv_close((uv_handle_t *)&l->poll, on_closed);
    } else {
        listener_free(l);
    }
    if (rc != 0) {
        log_error(&d->log, "listen %s: %s", name, uv_strerror(rc));
        return rc == UV_EAFNOSUPPORT || rc == UV_EADDRNOTAVAIL ? FLOE_ENOTFOUND : FLOE_EIO;
    }
    set_rcvbuf(l, d->cfg.rcvbuf);
    int one = 1;
    int gro = setsockopt(l->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
    floe_list_push_tail(&d->listeners, &l->link);
    l->source.name = l->name;
    l->source.drops = listener_drops;
    floe_engine_add_source(&d->engine, &l->source);
    log_info(&d->log, "listen %s: receiving (recvmmsg, UDP GRO %s)", name, gro ? "on" : "off");
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
        if (!uv_is_closing((uv_handle_t *)&l->poll))
            listener_reading(l, 1);
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
        listener_reading(FLOE_CONTAINER_OF(it, floe_listener, link), 0);
    d->napping = 1;
    uv_timer_start(&d->nap, on_nap_end, ms, 0);
}

void floe_listeners_close_all(floe_daemon *d)
{
    while (!floe_list_empty(&d->listeners))
        listener_close(FLOE_CONTAINER_OF(d->listeners.next, floe_listener, link));
}
