/*
 * Reads export datagrams out of pcap and pcapng files for `floe decode` and
 * `floe replay`. libpcap does the file formats; this file peels the link
 * layer, IP and UDP, checking each length before it reads. IP fragments are
 * counted and skipped: exporters keep datagrams under the path MTU, and no
 * capture in the test set is fragmented.
 */
#include "engine/engine.h"

#include <pcap/pcap.h>
#include <stdio.h>

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8

typedef struct pcap_ctx {
    floe_pcap_cb cb;
    void *ud;
    floe_pcap_stats *st;
    void (*peel)(struct pcap_ctx *c, const uint8_t *p, size_t n, uint64_t ts);
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
    if (floe_be16(p + 6) & 0x3fff) { /* MF set or a non-zero offset */
        c->st->fragments++;
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
        if (next == 44) {
            c->st->fragments++;
            return;
        }
        if (off + 8 > n) {
            c->st->skipped++;
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

int floe_pcap_read(const char *path, floe_pcap_cb cb, void *ud, floe_pcap_stats *st, char *err,
                   size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, perr);
    if (!pc) {
        snprintf(err, errlen, "%s: %s", path, perr);
        return FLOE_EIO;
    }
    int dlt = pcap_datalink(pc);
    pcap_ctx c = {cb, ud, st, NULL};
    for (size_t i = 0; i < FLOE_ARRAY_LEN(link_types); i++)
        if (link_types[i].dlt == dlt)
            c.peel = link_types[i].peel;
    if (!c.peel) {
        const char *name = pcap_datalink_val_to_name(dlt);
        snprintf(err, errlen, "%s: unsupported link type %s (%d)", path, name ? name : "?", dlt);
        pcap_close(pc);
        return FLOE_EFORMAT;
    }
    int rc = pcap_loop(pc, -1, on_packet, (u_char *)(void *)&c);
    if (rc == PCAP_ERROR) {
        snprintf(err, errlen, "%s: %s", path, pcap_geterr(pc));
        pcap_close(pc);
        return FLOE_EIO;
    }
    pcap_close(pc);
    return 0;
}
