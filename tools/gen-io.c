/*
 * floe-gen's output side: one UDP socket per exporter, bound to that
 * exporter's own source address (loopback accepts all of 127/8, so K
 * exporters on one host look like K routers) and connected to the target,
 * so the kernel resolves the route once instead of per datagram; sendmmsg
 * in batches; and a pcap writer that frames each datagram as Ethernet, IP
 * and UDP with the same addresses and ports the sockets use.
 */
#include "tools/gen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void plan_v4(gen_exporter *ex, const gen_opts *o)
{
    const struct sockaddr_in *t = (const struct sockaddr_in *)&o->target;
    struct sockaddr_in *s = (struct sockaddr_in *)&ex->src;
    uint32_t base = 0; /* the wildcard: the kernel picks the source */
    if ((ntohl(t->sin_addr.s_addr) >> 24) == 127)
        base = 0x7f000000u; /* 127.0.0.(1 + index) */
    else if (o->no_send)
        base = 0xc6120000u; /* 198.18.0.0/15, the benchmarking range */
    s->sin_family = AF_INET;
    s->sin_addr.s_addr = base ? htonl(base + 1 + ex->index) : htonl(INADDR_ANY);
    s->sin_port = htons(o->no_send ? (uint16_t)(50000 + ex->index) : 0);
    /* The sFlow agent is the source, or 192.0.2.(1 + index) when unknown. */
    gen_put32(ex->agent, base ? base + 1 + ex->index : 0xc0000201u + ex->index);
    ex->agent_v6 = 0;
}

static void plan_v6(gen_exporter *ex, const gen_opts *o)
{
    const struct sockaddr_in6 *t = (const struct sockaddr_in6 *)&o->target;
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ex->src;
    s->sin6_family = AF_INET6;
    if (IN6_IS_ADDR_LOOPBACK(&t->sin6_addr) || o->no_send)
        s->sin6_addr = in6addr_loopback; /* exporters differ by domain, not address */
    else
        s->sin6_addr = in6addr_any;
    s->sin6_port = htons(o->no_send ? (uint16_t)(50000 + ex->index) : 0);
    gen_host_v6(0xfffe0000u + ex->index, ex->agent); /* 2001:db8::fffe:x */
    ex->agent_v6 = 1;
}

void gen_exporter_plan(gen_exporter *ex, const gen_opts *o)
{
    memset(&ex->src, 0, sizeof(ex->src));
    ex->fd = -1;
    if (o->target.ss_family == AF_INET6)
        plan_v6(ex, o);
    else
        plan_v4(ex, o);
}

static socklen_t sa_len(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

int gen_exporter_open(gen_exporter *ex, const gen_opts *o)
{
    int fd = socket(o->target.ss_family, (o->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int err = errno;
        fprintf(stderr, "floe-gen: socket: %s\n", strerror(err));
        return -err;
    }
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    socklen_t len = sa_len(&ex->src);
    if (bind(fd, (struct sockaddr *)&ex->src, len) != 0 ||
        connect(fd, (const struct sockaddr *)&o->target, sa_len(&o->target)) != 0 ||
        getsockname(fd, (struct sockaddr *)&ex->src, &len) != 0) {
        int err = errno;
        fprintf(stderr, "floe-gen: exporter %u: %s\n", ex->index + 1, strerror(err));
        close(fd);
        return -err;
    }
    ex->fd = fd;
    return 0;
}

void gen_exporter_close(gen_exporter *ex)
{
    if (ex->fd >= 0)
        close(ex->fd);
    ex->fd = -1;
}

int gen_sender_init(gen_sender *s, unsigned batch, int gso)
{
    s->cap = batch;
    s->gso = gso;
    s->msgs = calloc(batch, sizeof(*s->msgs));
    s->first = calloc(batch + 1, sizeof(*s->first));
    s->ctl = calloc(batch, CMSG_SPACE(sizeof(uint16_t)));
    if (!s->msgs || !s->first || !s->ctl) {
        gen_sender_close(s);
        return -ENOMEM;
    }
    return 0;
}

void gen_sender_close(gen_sender *s)
{
    free(s->msgs);
    free(s->first);
    free(s->ctl);
    s->msgs = NULL;
    s->first = NULL;
    s->ctl = NULL;
}

int gen_gso_supported(int fd)
{
    int v;
    socklen_t len = sizeof(v);
    return getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &len) == 0;
}

/* How many datagrams from iov[i] form one GSO run: all of one size but
 * the last, which may be shorter. */
static unsigned run_length(const gen_sender *s, const struct iovec *iov, unsigned i, unsigned n)
{
    size_t size = iov[i].iov_len, total = size;
    unsigned j = i + 1;
    while (s->gso && j < n && j - i < GEN_GSO_SEGMENTS && iov[j - 1].iov_len == size &&
           iov[j].iov_len <= size && total + iov[j].iov_len <= GEN_GSO_BYTES)
        total += iov[j++].iov_len;
    return j - i;
}

/* Turns the batch into messages; returns how many. */
static unsigned plan_messages(gen_sender *s, struct iovec *iov, unsigned n)
{
    size_t ctl_len = CMSG_SPACE(sizeof(uint16_t));
    unsigned m = 0;
    for (unsigned i = 0; i < n; m++) {
        unsigned len = run_length(s, iov, i, n);
        struct msghdr *h = &s->msgs[m].msg_hdr;
        memset(h, 0, sizeof(*h));
        h->msg_iov = iov + i;
        h->msg_iovlen = len;
        if (len > 1) {
            h->msg_control = s->ctl + m * ctl_len;
            h->msg_controllen = ctl_len;
            struct cmsghdr *c = CMSG_FIRSTHDR(h);
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t seg = (uint16_t)iov[i].iov_len;
            memcpy(CMSG_DATA(c), &seg, sizeof(seg));
        }
        s->first[m] = i;
        i += len;
    }
    s->first[m] = n;
    return m;
}

static void mark(const gen_sender *s, unsigned msg, uint8_t *ok, uint8_t v)
{
    for (unsigned i = s->first[msg]; i < s->first[msg + 1]; i++)
        ok[i] = v;
}

unsigned gen_send(gen_sender *s, int fd, struct iovec *iov, unsigned n, uint8_t *ok,
                  uint64_t *errors)
{
    unsigned m = plan_messages(s, iov, n), done = 0, sent = 0;
    int retried = 0;
    while (done < m) {
        int rc = sendmmsg(fd, s->msgs + done, m - done, 0);
        if (rc > 0) {
            for (unsigned k = done; k < done + (unsigned)rc; k++)
                mark(s, k, ok, 1);
            sent += s->first[done + (unsigned)rc] - s->first[done];
            done += (unsigned)rc;
            retried = 0;
        } else if (rc < 0 && errno == EINTR) {
            continue;
        } else if (retried) {
            /* Twice in a row (e.g. nothing listens, so every other send
             * reports the ICMP error of the one before): give it up. */
            mark(s, done, ok, 0);
            *errors += s->first[done + 1] - s->first[done];
            done++;
            retried = 0;
        } else {
            retried = 1;
        }
    }
    return sent;
}

unsigned gen_stream_send(int fd, const struct iovec *iov, unsigned n, uint8_t *ok, uint64_t *errors)
{
    unsigned sent = 0;
    int broken = 0;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (!broken && left) {
            ssize_t w = send(fd, p, left, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                broken = 1;
            else
                p += w, left -= (size_t)w;
        }
        ok[i] = !broken;
        sent += !broken;
        *errors += (uint64_t)broken;
    }
    return sent;
}

/* ---- checksums and pcap ------------------------------------------------- */

uint32_t gen_csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (; n > 1; n -= 2, p += 2)
        sum += (uint32_t)(p[0] << 8 | p[1]);
    if (n)
        sum += (uint32_t)p[0] << 8;
    return sum;
}

uint16_t gen_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

int gen_pcap_open(gen_pcap *p, const char *path)
{
    static const uint32_t hdr[6] = {0xa1b2c3d4u, 2 | 4u << 16, 0, 0, 65535, 1};
    p->ip_id = 0;
    p->f = fopen(path, "wb");
    if (!p->f)
        return -errno;
    setvbuf(p->f, NULL, _IOFBF, 1 << 20);
    if (fwrite(hdr, sizeof(hdr), 1, p->f) != 1) {
        int err = errno;
        fclose(p->f);
        p->f = NULL;
        return -err;
    }
    return 0;
}

/* Writes the IP header for a UDP payload of udp_len bytes; returns its end
 * and the pseudo-header sum for the UDP checksum. */
static uint8_t *pcap_ip(gen_pcap *p, uint8_t *f, const struct sockaddr_storage *src,
                        const struct sockaddr_storage *dst, size_t udp_len, uint32_t *pseudo)
{
    if (src->ss_family == AF_INET6) {
        const uint8_t *s = ((const struct sockaddr_in6 *)src)->sin6_addr.s6_addr;
        const uint8_t *d = ((const struct sockaddr_in6 *)dst)->sin6_addr.s6_addr;
        f = gen_put32(f, 6u << 28);
        f = gen_put8(gen_put8(gen_put16(f, (uint32_t)udp_len), 17), 64);
        memcpy(f, s, 16);
        memcpy(f + 16, d, 16);
        *pseudo = gen_csum_add(gen_csum_add(17 + (uint32_t)udp_len, s, 16), d, 16);
        return f + 32;
    }
    const uint8_t *s = (const uint8_t *)&((const struct sockaddr_in *)src)->sin_addr;
    const uint8_t *d = (const uint8_t *)&((const struct sockaddr_in *)dst)->sin_addr;
    uint8_t *ip = f;
    f = gen_put16(gen_put16(f, 0x4500), (uint32_t)(20 + udp_len));
    f = gen_put16(gen_put16(f, p->ip_id++), 0x4000);
    f = gen_put16(gen_put16(f, 64u << 8 | 17), 0);
    memcpy(f, s, 4);
    memcpy(f + 4, d, 4);
    gen_put16(ip + 10, gen_csum_fold(gen_csum_add(0, ip, 20)));
    *pseudo = gen_csum_add(gen_csum_add(17 + (uint32_t)udp_len, s, 4), d, 4);
    return f + 8;
}

static uint16_t sa_port(const struct sockaddr_storage *ss)
{
    return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                           : ((const struct sockaddr_in *)ss)->sin_port);
}

void gen_pcap_write(gen_pcap *p, uint64_t ts_us, const struct sockaddr_storage *src,
                    const struct sockaddr_storage *dst, const uint8_t *payload, size_t len)
{
    uint8_t hdr[14 + 40 + 8];
    int v6 = src->ss_family == AF_INET6;
    uint32_t pseudo;
    uint8_t *f = gen_put32(gen_put16(hdr, 0x0200), 2); /* 02:00:00:00:00:02 */
    f = gen_put32(gen_put16(f, 0x0200), 1);
    f = gen_put16(f, v6 ? 0x86dd : 0x0800);
    f = pcap_ip(p, f, src, dst, 8 + len, &pseudo);
    uint8_t *udp = f;
    f = gen_put16(gen_put16(f, sa_port(src)), sa_port(dst));
    f = gen_put16(gen_put16(f, (uint32_t)(8 + len)), 0);
    uint16_t sum = gen_csum_fold(gen_csum_add(gen_csum_add(pseudo, udp, 8), payload, len));
    gen_put16(udp + 6, sum ? sum : 0xffff);
    size_t flen = (size_t)(f - hdr) + len;
    uint32_t rec[4] = {(uint32_t)(ts_us / 1000000), (uint32_t)(ts_us % 1000000), (uint32_t)flen,
                       (uint32_t)flen};
    fwrite(rec, sizeof(rec), 1, p->f);
    fwrite(hdr, (size_t)(f - hdr), 1, p->f);
    fwrite(payload, len, 1, p->f);
}

int gen_pcap_close(gen_pcap *p)
{
    if (!p->f)
        return 0;
    int bad = ferror(p->f);
    if (fclose(p->f) != 0)
        bad = 1;
    p->f = NULL;
    return bad ? -EIO : 0;
}
