/*
 * Reads export datagrams out of capture files for `floe decode` and
 * `floe replay`. libpcap does the pcap and pcapng formats; this file peels
 * the link layer, IP and UDP, checking each length before it reads, and
 * puts IP fragments back together: large sFlow and IPFIX datagrams are
 * often fragmented on the way. Reassembly is bounded (FLOE_FRAG_PENDING
 * datagrams of at most 64 KiB, FLOE_FRAG_TIMEOUT_MS of capture time each)
 * and never trusts a fragment's offset or length before checking it. An
 * IPFIX file (RFC 5655) is the same stream of messages that TCP carries,
 * framed by engine/stream.c's floe_ipfix_frame.
 */
#include "engine/engine.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8

#define FRAG_MAX_BYTES 65535u /* an IP payload is at most this long */
#define FRAG_UNITS     ((FRAG_MAX_BYTES + 7) / 8)

/* What identifies the fragments of one datagram (RFC 791, RFC 8200). */
typedef struct frag_key {
    floe_addr src, dst;
    uint32_t id;
    uint8_t proto; /* IPv4's protocol; 0 for IPv6 */
    uint8_t v6;
    uint8_t pad[2];
} frag_key;

/* One datagram being put back together. */
typedef struct frag_slot {
    frag_key key;
    int used;
    uint64_t first_ms;
    uint64_t born;  /* arrival order: the oldest is evicted first */
    uint32_t total; /* the payload's length, known once the last fragment came; else 0 */
    uint32_t frags; /* fragments held */
    int next;       /* the payload's protocol: IPv4's, or IPv6's from the first fragment; -1 */
    uint8_t *buf;   /* FRAG_MAX_BYTES, allocated on first use */
    uint8_t have[(FRAG_UNITS + 7) / 8]; /* one bit per 8-byte unit received */
} frag_slot;

typedef struct pcap_ctx {
    floe_pcap_cb cb;
    void *ud;
    floe_pcap_stats *st;
    void (*peel)(struct pcap_ctx *c, const uint8_t *p, size_t n, uint64_t ts);
    frag_slot frags[FLOE_FRAG_PENDING];
    uint64_t frag_clock;
} pcap_ctx;

static void udp_payload(pcap_ctx *c, const floe_addr *src, const uint8_t *p, size_t n,
                        uint64_t ts_ms)
{
    if (n < 8) {
        c->st->skipped++;
        return;
    }
    size_t ulen = floe_be16(p + 4);
    size_t len = n - 8;
    if (ulen >= 8 && ulen - 8 < len)
        len = ulen - 8; /* drop Ethernet padding after a short datagram */
    c->st->udp++;
    c->cb(c->ud, src, floe_be16(p), p + 8, len, ts_ms);
}

/* ---- fragments ------------------------------------------------------------ */

static void frag_drop(pcap_ctx *c, frag_slot *f)
{
    c->st->fragments_dropped += f->frags;
    f->used = 0;
}

/* The slot for k: its own, else a free one, else the oldest's (dropped).
 * Datagrams past the timeout are dropped on the way. */
static frag_slot *frag_slot_for(pcap_ctx *c, const frag_key *k, uint64_t ts_ms)
{
    frag_slot *mine = NULL, *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < FLOE_FRAG_PENDING; i++) {
        frag_slot *f = &c->frags[i];
        if (f->used && ts_ms > f->first_ms + FLOE_FRAG_TIMEOUT_MS)
            frag_drop(c, f);
        if (!f->used) {
            free_slot = free_slot ? free_slot : f;
        } else if (memcmp(&f->key, k, sizeof(*k)) == 0) {
            mine = f;
        } else if (!oldest || f->born < oldest->born) {
            oldest = f;
        }
    }
    if (mine)
        return mine;
    frag_slot *f = free_slot ? free_slot : oldest;
    if (!free_slot)
        frag_drop(c, f);
    if (!f->buf && !(f->buf = malloc(FRAG_MAX_BYTES)))
        return NULL;
    f->key = *k;
    f->used = 1;
    f->first_ms = ts_ms;
    f->born = ++c->frag_clock;
    f->total = f->frags = 0;
    f->next = -1;
    memset(f->have, 0, sizeof(f->have));
    return f;
}

static int frag_complete(const frag_slot *f)
{
    if (!f->total)
        return 0;
    for (uint32_t u = 0; u < (f->total + 7) / 8; u++)
        if (!(f->have[u / 8] & (1u << (u % 8))))
            return 0;
    return 1;
}

/*
 * Adds a fragment: len payload bytes at byte offset off; more says others
 * follow it. next is the payload's protocol when this fragment knows it
 * (IPv4: always; IPv6: the first fragment), else -1. A fragment that would
 * run past 64 KiB, or lies about the end, drops its datagram. When the
 * datagram is whole, its UDP payload goes on.
 */
static void frag_add(pcap_ctx *c, const frag_key *k, size_t off, int more, const uint8_t *p,
                     size_t len, int next, uint64_t ts_ms)
{
    c->st->fragments++;
    frag_slot *f = frag_slot_for(c, k, ts_ms);
    if (!f) {
        c->st->fragments_dropped++;
        return;
    }
    f->frags++;
    size_t end = off + len;
    if (end > FRAG_MAX_BYTES || (more && len % 8) || (!more && f->total && end != f->total) ||
        (f->total && end > f->total)) {
        frag_drop(c, f);
        return;
    }
    memcpy(f->buf + off, p, len);
    for (size_t u = off / 8; u < (more ? end / 8 : (end + 7) / 8); u++)
        f->have[u / 8] |= (uint8_t)(1u << (u % 8));
    if (!more)
        f->total = (uint32_t)end;
    if (next >= 0 && (off == 0 || !k->v6))
        f->next = next;
    if (!frag_complete(f))
        return;
    f->used = 0;
    c->st->reassembled++;
    if (f->next != 17) {
        c->st->skipped++;
        return;
    }
    udp_payload(c, &k->src, f->buf, f->total, ts_ms);
}

static void frags_close(pcap_ctx *c)
{
    for (int i = 0; i < FLOE_FRAG_PENDING; i++) {
        if (c->frags[i].used)
            frag_drop(c, &c->frags[i]);
        free(c->frags[i].buf);
    }
}

/* ---- IP ---------------------------------------------------------------------- */

static void ipv4(pcap_ctx *c, const uint8_t *p, size_t n, uint64_t ts_ms)
{
    if (n < 20 || (p[0] >> 4) != 4) {
        c->st->skipped++;
        return;
    }
    size_t ihl = (size_t)(p[0] & 15) * 4;
    size_t total = floe_be16(p + 2);
    if (ihl < 20 || ihl > n || total < ihl) {
        c->st->skipped++;
        return;
    }
    if (total < n)
        n = total;
    uint16_t frag = floe_be16(p + 6);
    if (frag & 0x3fff) { /* MF set or a non-zero offset */
        frag_key k;
        memset(&k, 0, sizeof(k));
        floe_addr_from_v4(&k.src, p + 12);
        floe_addr_from_v4(&k.dst, p + 16);
        k.id = floe_be16(p + 4);
        k.proto = p[9];
        frag_add(c, &k, (size_t)(frag & 0x1fff) * 8, (frag & 0x2000) != 0, p + ihl, n - ihl, p[9],
                 ts_ms);
        return;
    }
    if (p[9] != 17) {
        c->st->skipped++;
        return;
    }
    floe_addr src;
    floe_addr_from_v4(&src, p + 12);
    udp_payload(c, &src, p + ihl, n - ihl, ts_ms);
}

/* The fragment header at off (8 bytes, checked): next header, offset and
 * M flag, identification; the fragment's bytes follow it. */
static void ipv6_fragment(pcap_ctx *c, const uint8_t *p, size_t off, size_t n, uint64_t ts_ms)
{
    frag_key k;
    memset(&k, 0, sizeof(k));
    floe_addr_from_v6(&k.src, p + 8);
    floe_addr_from_v6(&k.dst, p + 24);
    k.id = floe_be32(p + off + 4);
    k.v6 = 1;
    uint16_t w = floe_be16(p + off + 2);
    frag_add(c, &k, w & 0xfff8, w & 1, p + off + 8, n - off - 8, p[off], ts_ms);
}

static void ipv6(pcap_ctx *c, const uint8_t *p, size_t n, uint64_t ts_ms)
{
    if (n < 40 || (p[0] >> 4) != 6) {
        c->st->skipped++;
        return;
    }
    size_t plen = floe_be16(p + 4);
    if (40 + plen < n)
        n = 40 + plen;
    uint8_t next = p[6];
    size_t off = 40;
    /* Walk the extension headers floe may meet in front of UDP. */
    while (next == 0 || next == 43 || next == 60 || next == 44) {
        if (off + 8 > n) {
            c->st->skipped++;
            return;
        }
        if (next == 44) {
            ipv6_fragment(c, p, off, n, ts_ms);
            return;
        }
        next = p[off];
        off += ((size_t)p[off + 1] + 1) * 8;
    }
    if (next != 17 || off > n) {
        c->st->skipped++;
        return;
    }
    floe_addr src;
    floe_addr_from_v6(&src, p + 8);
    udp_payload(c, &src, p + off, n - off, ts_ms);
}

static void by_ethertype(pcap_ctx *c, uint16_t type, const uint8_t *p, size_t n, uint64_t ts)
{
    if (type == ETHERTYPE_IPV4)
        ipv4(c, p, n, ts);
    else if (type == ETHERTYPE_IPV6)
        ipv6(c, p, n, ts);
    else
        c->st->skipped++;
}

static void by_version(pcap_ctx *c, const uint8_t *p, size_t n, uint64_t ts)
{
    if (n >= 1 && (p[0] >> 4) == 4)
        ipv4(c, p, n, ts);
    else if (n >= 1 && (p[0] >> 4) == 6)
        ipv6(c, p, n, ts);
    else
        c->st->skipped++;
}

static void ethernet(pcap_ctx *c, const uint8_t *p, size_t n, uint64_t ts)
{
    size_t off = 12;
    if (n < 14) {
        c->st->skipped++;
        return;
    }
    uint16_t type = floe_be16(p + off);
    while ((type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) && off + 6 <= n) {
        off += 4;
        type = floe_be16(p + off);
    }
    off += 2;
    if (off > n) {
        c->st->skipped++;
        return;
    }
    by_ethertype(c, type, p + off, n - off, ts);
}

static void sll(pcap_ctx *c, const uint8_t *p, size_t n, uint64_t ts)
{
    if (n < 16)
        c->st->skipped++;
    else
        by_ethertype(c, floe_be16(p + 14), p + 16, n - 16, ts);
}

static void sll2(pcap_ctx *c, const uint8_t *p, size_t n, uint64_t ts)
{
    if (n < 20)
        c->st->skipped++;
    else
        by_ethertype(c, floe_be16(p), p + 20, n - 20, ts);
}

/* BSD loopback: a 4-byte address family in host (DLT_NULL) or network
 * (DLT_LOOP) order. The IP version nibble is a surer guide than the family
 * values, which differ between the BSDs. */
static void loopback(pcap_ctx *c, const uint8_t *p, size_t n, uint64_t ts)
{
    if (n < 4)
        c->st->skipped++;
    else
        by_version(c, p + 4, n - 4, ts);
}

/* The link types floe reads, and the function that peels each. */
static const struct link_type {
    int dlt;
    void (*peel)(pcap_ctx *c, const uint8_t *p, size_t n, uint64_t ts);
} link_types[] = {
    {DLT_EN10MB, ethernet}, {DLT_LINUX_SLL, sll},   {DLT_LINUX_SLL2, sll2}, {DLT_RAW, by_version},
    {DLT_IPV4, by_version}, {DLT_IPV6, by_version}, {DLT_NULL, loopback},   {DLT_LOOP, loopback},
};

static void on_packet(u_char *user, const struct pcap_pkthdr *ph, const u_char *p)
{
    pcap_ctx *c = (pcap_ctx *)(void *)user;
    uint64_t ts = (uint64_t)ph->ts.tv_sec * 1000 + (uint64_t)ph->ts.tv_usec / 1000;

    c->st->frames++;
    c->peel(c, p, ph->caplen, ts);
}

/* ---- IPFIX files (RFC 5655) -------------------------------------------------- */

#define IPFIX_FILE_BUF (2 * FLOE_STREAM_BUF_MAX)

/* Messages framed one after another; what cannot be framed (a damaged or
 * cut tail) is counted and left, since nothing after it can be trusted to
 * start a message. */
static int ipfix_file(FILE *f, floe_pcap_cb cb, void *ud, floe_pcap_stats *st)
{
    static const floe_addr none = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0}};
    uint8_t *buf = malloc(IPFIX_FILE_BUF);
    size_t len = 0, got;
    long m = 0;
    if (!buf)
        return FLOE_ENOMEM;
    do {
        got = fread(buf + len, 1, IPFIX_FILE_BUF - len, f);
        len += got;
        size_t off = 0;
        while ((m = floe_ipfix_frame(buf + off, len - off)) > 0) {
            cb(ud, &none, 0, buf + off, (size_t)m, (uint64_t)floe_be32(buf + off + 4) * 1000);
            st->ipfix_messages++;
            off += (size_t)m;
        }
        memmove(buf, buf + off, len - off);
        len -= off;
    } while (got && m == 0);
    while (m < 0 && (got = fread(buf, 1, IPFIX_FILE_BUF, f)) > 0)
        len += got; /* only counted */
    st->ipfix_junk_bytes += len;
    free(buf);
    return ferror(f) ? FLOE_EIO : 0;
}

/* An IPFIX file starts with a message header: version 10, then a length
 * no shorter than the header. pcap and pcapng start with their magic. */
static int is_ipfix_file(FILE *f)
{
    uint8_t h[4];
    int yes = fread(h, 1, 4, f) == 4 && floe_be16(h) == 10 && floe_be16(h + 2) >= 16;
    rewind(f);
    return yes;
}

static int read_pcap(FILE *f, const char *name, pcap_ctx *c, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, perr);
    if (!pc) {
        fclose(f);
        snprintf(err, errlen, "%s: %s", name, perr);
        return FLOE_EIO;
    }
    int dlt = pcap_datalink(pc);
    for (size_t i = 0; i < FLOE_ARRAY_LEN(link_types); i++)
        if (link_types[i].dlt == dlt)
            c->peel = link_types[i].peel;
    if (!c->peel) {
        const char *lt = pcap_datalink_val_to_name(dlt);
        snprintf(err, errlen, "%s: unsupported link type %s (%d)", name, lt ? lt : "?", dlt);
        pcap_close(pc);
        return FLOE_EFORMAT;
    }
    int rc = pcap_loop(pc, -1, on_packet, (u_char *)(void *)c);
    if (rc == PCAP_ERROR) {
        snprintf(err, errlen, "%s: %s", name, pcap_geterr(pc));
        pcap_close(pc);
        return FLOE_EIO;
    }
    pcap_close(pc); /* and f with it */
    return 0;
}

int floe_capture_read(FILE *f, const char *name, floe_pcap_cb cb, void *ud, floe_pcap_stats *st,
                      char *err, size_t errlen)
{
    if (is_ipfix_file(f)) {
        int rc = ipfix_file(f, cb, ud, st);
        fclose(f);
        if (rc != 0)
            snprintf(err, errlen, "%s: %s", name, floe_strerror(rc));
        return rc;
    }
    pcap_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", name);
        return FLOE_ENOMEM;
    }
    c->cb = cb;
    c->ud = ud;
    c->st = st;
    int rc = read_pcap(f, name, c, err, errlen);
    frags_close(c);
    free(c);
    return rc;
}

int floe_pcap_read(const char *path, floe_pcap_cb cb, void *ud, floe_pcap_stats *st, char *err,
                   size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return FLOE_EIO;
    }
    return floe_capture_read(f, path, cb, ud, st, err, errlen);
}
