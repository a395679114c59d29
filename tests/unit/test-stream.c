/*
 * IPFIX as a byte stream (engine/stream.c): framing, a TCP session's buffer
 * and lifetime, its exporters; and capture files (engine/pcap.c): IPFIX
 * files and the bounds of IP fragment reassembly, on files written here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/engine.h"
#include "tests/unit/runner.h"

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* An IPFIX message of domain 1: with tmpl, template 256 (source and
 * destination address, 4-byte octets); then nrec records of it, the i-th
 * with octets i + 1. Returns its length. */
static size_t message(uint8_t *b, int tmpl, size_t nrec)
{
    size_t n = 16;
    put16(b, 10);
    put32(b + 4, 1700000000u);
    put32(b + 8, 0);
    put32(b + 12, 1);
    if (tmpl) {
        put16(b + n, 2), put16(b + n + 2, 20);
        put16(b + n + 4, 256), put16(b + n + 6, 3);
        put16(b + n + 8, 8), put16(b + n + 10, 4), put16(b + n + 12, 12), put16(b + n + 14, 4);
        put16(b + n + 16, 1), put16(b + n + 18, 4);
        n += 20;
    }
    if (nrec) {
        put16(b + n, 256), put16(b + n + 2, (uint16_t)(4 + 12 * nrec));
        n += 4;
        for (size_t i = 0; i < nrec; i++, n += 12) {
            memcpy(b + n, (uint8_t[]){10, 0, 0, 1, 10, 0, 0, 2}, 8);
            put32(b + n + 8, (uint32_t)(i + 1));
        }
    }
    put16(b + 2, (uint16_t)n);
    return n;
}

typedef struct fixture {
    floe_config cfg;
    floe_log log;
    floe_engine e;
    floe_addr src;
} fixture;

static void fx_init(fixture *f)
{
    char err[256];
    memset(f, 0, sizeof(*f));
    ASSERT_EQ(floe_config_defaults(&f->cfg), 0);
    f->cfg.tables_enabled = 0;
    floe_log_init(&f->log, -1, 0);
    ASSERT_EQ(
        floe_engine_init(&f->e, &f->cfg, &f->log, NULL, FLOE_ENGINE_OFFLINE, 0, err, sizeof(err)),
        0);
    floe_addr_parse(&f->src, "192.0.2.7");
}

static void fx_close(fixture *f)
{
    floe_engine_close(&f->e);
    floe_config_free(&f->cfg);
}

static const floe_counters *ipfix(fixture *f)
{
    return &f->e.ing.proto[FLOE_PROTO_IPFIX];
}

/* Feeds n bytes into the stream in pieces of at most chunk bytes, as reads
 * would deliver them. Returns the last floe_engine_stream_data result. */
static int feed(fixture *f, floe_stream *s, const uint8_t *p, size_t n, size_t chunk, uint64_t now)
{
    int rc = 0;
    while (n && rc == 0) {
        uint8_t *dst;
        size_t room;
        floe_engine_stream_buffer(s, &dst, &room);
        ASSERT_GT(room, 0);
        ASSERT_LE(s->cap, FLOE_STREAM_BUF_MAX);
        size_t k = n < chunk ? n : chunk;
        k = k < room ? k : room;
        memcpy(dst, p, k);
        rc = floe_engine_stream_data(&f->e, s, k, now);
        p += k, n -= k;
    }
    return rc;
}

TEST(frames_need_version_and_length)
{
    uint8_t b[64];
    size_t n = message(b, 1, 1);
    ASSERT_EQ(floe_ipfix_frame(b, 3), 0);
    ASSERT_EQ(floe_ipfix_frame(b, n - 1), 0);
    ASSERT_EQ(floe_ipfix_frame(b, n), (long)n);
    ASSERT_EQ(floe_ipfix_frame(b, sizeof(b)), (long)n);
    put16(b, 9);
    ASSERT_EQ(floe_ipfix_frame(b, n), -FLOE_R_BAD_FRAMING);
    put16(b, 10), put16(b + 2, 15);
    ASSERT_EQ(floe_ipfix_frame(b, n), -FLOE_R_BAD_LENGTH);
}

TEST(messages_in_any_pieces_decode_whole)
{
    static uint8_t stream[200000];
    size_t n = message(stream, 1, 2), want = 2;
    /* Messages of every size up to the largest a set can hold. */
    for (size_t k = 1; n + 16 + 4 + 12 * k < sizeof(stream) && k < 5400; k = k * 3 + 1) {
        n += message(stream + n, 0, k);
        want += k;
    }
    size_t chunks[] = {1, 7, 1000, 70000};
    for (size_t c = 0; c < FLOE_ARRAY_LEN(chunks); c++) {
        fixture f;
        floe_stream s;
        fx_init(&f);
        ASSERT_EQ(floe_engine_stream_open(&f.e, &s, &f.src, 4000, 1000), 0);
        ASSERT_EQ(feed(&f, &s, stream, n, chunks[c], 1000), 0);
        ASSERT_EQ(ipfix(&f)->records, want);
        ASSERT_EQ(ipfix(&f)->malformed, 0);
        ASSERT_EQ(s.len, 0);
        ASSERT_EQ(s.partial_ms, 0);
        ASSERT_EQ(s.cap, FLOE_STREAM_BUF_MAX); /* the 3280-record message grew it */
        floe_engine_stream_close(&f.e, &s);
        fx_close(&f);
    }
}

TEST(garbage_ends_the_stream_and_is_counted)
{
    fixture f;
    floe_stream s;
    uint8_t b[256];
    fx_init(&f);
    ASSERT_EQ(floe_engine_stream_open(&f.e, &s, &f.src, 4000, 1000), 0);
    size_t n = message(b, 1, 3);
    memcpy(b + n, "\x00\x05junk", 6);
    ASSERT_EQ(feed(&f, &s, b, n + 6, 100, 1000), FLOE_EFORMAT);
    ASSERT_EQ(ipfix(&f)->records, 3); /* what came before stays */
    ASSERT_EQ(f.e.ing.unknown.reason[FLOE_R_BAD_FRAMING], 1);
    floe_engine_stream_close(&f.e, &s);
    fx_close(&f);
}

TEST(stall_and_idle_are_told_apart)
{
    fixture f;
    floe_stream s;
    uint8_t b[256];
    fx_init(&f);
    ASSERT_EQ(floe_engine_stream_open(&f.e, &s, &f.src, 4000, 1000), 0);
    ASSERT_EQ(floe_stream_expired(&s, 5000, 60000, 3000), -1);
    ASSERT_EQ(floe_stream_expired(&s, 61000, 60000, 3000), FLOE_STREAM_IDLE);
    size_t n = message(b, 1, 3);
    /* Half a message at 2000, more of it at 4000: stalled since 2000. */
    ASSERT_EQ(feed(&f, &s, b, 30, 100, 2000), 0);
    ASSERT_EQ(feed(&f, &s, b + 30, 10, 100, 4000), 0);
    ASSERT_EQ(floe_stream_expired(&s, 4500, 60000, 3000), -1);
    ASSERT_EQ(floe_stream_expired(&s, 5000, 60000, 3000), FLOE_STREAM_STALLED);
    /* Finished, and the next begun: its own clock. */
    ASSERT_EQ(feed(&f, &s, b + 40, n - 40, 100, 4900), 0);
    ASSERT_EQ(feed(&f, &s, b, 20, 100, 4900), 0);
    ASSERT_EQ(floe_stream_expired(&s, 7000, 60000, 3000), -1);
    ASSERT_EQ(floe_stream_expired(&s, 7900, 60000, 3000), FLOE_STREAM_STALLED);
    ASSERT_EQ(ipfix(&f)->records, 3);
    floe_engine_stream_close(&f.e, &s);
    fx_close(&f);
}

TEST(sessions_have_their_own_exporters_and_lose_them_at_close)
{
    fixture f;
    floe_stream a, b;
    uint8_t m[256];
    fx_init(&f);
    size_t n = message(m, 1, 1);
    /* The same source over UDP, then over two TCP sessions. */
    floe_engine_datagram(&f.e, &f.src, 4000, m, n, 1000);
    ASSERT_EQ(floe_engine_stream_open(&f.e, &a, &f.src, 4000, 1000), 0);
    ASSERT_EQ(floe_engine_stream_open(&f.e, &b, &f.src, 4000, 1000), 0);
    ASSERT_NE(a.session, b.session);
    ASSERT_NE(a.session, 0);
    ASSERT_EQ(feed(&f, &a, m, n, 1000, 1000), 0);
    n = message(m, 0, 2);
    ASSERT_EQ(feed(&f, &b, m, n, 1000, 1000), 0); /* a's template is not b's */
    ASSERT_EQ(ipfix(&f)->records, 2);
    ASSERT_EQ(ipfix(&f)->missing_template, 1);
    ASSERT_EQ(f.e.ing.exporters.map.count, 3);
    ASSERT_EQ(f.e.ing.dec.templates_live, 2);
    floe_engine_stream_close(&f.e, &a);
    ASSERT_EQ(f.e.ing.exporters.map.count, 2);
    ASSERT_EQ(f.e.ing.dec.templates_live, 1); /* the UDP exporter's stays */
    floe_engine_stream_close(&f.e, &b);
    ASSERT_EQ(f.e.ing.exporters.map.count, 1);
    fx_close(&f);
}

TEST(session_templates_do_not_expire)
{
    fixture f;
    floe_stream s;
    uint8_t m[256];
    fx_init(&f);
    uint64_t later = 1000 + (uint64_t)f.cfg.template_timeout * 1000 * 3;
    size_t n = message(m, 1, 1);
    floe_engine_datagram(&f.e, &f.src, 4000, m, n, 1000); /* UDP */
    ASSERT_EQ(floe_engine_stream_open(&f.e, &s, &f.src, 4000, 1000), 0);
    ASSERT_EQ(feed(&f, &s, m, n, 1000, 1000), 0);
    floe_ingest_sweep(&f.e.ing, later);
    /* RFC 7011 §8.4: over TCP a template lives until withdrawn or the
     * session ends; over UDP it times out. */
    ASSERT_EQ(f.e.ing.dec.template_expired, 1);
    ASSERT_EQ(f.e.ing.dec.templates_live, 1);
    n = message(m, 0, 4);
    ASSERT_EQ(feed(&f, &s, m, n, 1000, later), 0);
    floe_engine_datagram(&f.e, &f.src, 4000, m, n, later);
    ASSERT_EQ(ipfix(&f)->records, 2 + 4);
    ASSERT_EQ(ipfix(&f)->missing_template, 1);
    floe_engine_stream_close(&f.e, &s);
    fx_close(&f);
}

/* ---- capture files --------------------------------------------------------- */

typedef struct seen {
    uint64_t datagrams, bytes;
    size_t last_len;
    int pattern; /* check frag4's payload pattern */
} seen;

static void count(void *ud, const floe_addr *src, uint16_t sport, const uint8_t *p, size_t n,
                  uint64_t ts)
{
    seen *s = ud;
    (void)src, (void)sport, (void)ts;
    s->datagrams++;
    s->bytes += n;
    s->last_len = n;
    for (size_t i = 0; s->pattern && i < n; i++) /* frag4's payload: byte i is i + 8 */
        ASSERT_EQ(p[i], (uint8_t)(i + 8));
}

typedef struct pcapw {
    char path[64];
    FILE *f;
} pcapw;

static void pcap_begin(pcapw *w)
{
    static const uint32_t hdr[6] = {0xa1b2c3d4u, 2 | 4u << 16, 0, 0, 65535, 1};
    snprintf(w->path, sizeof(w->path), "/tmp/floe-test-stream-XXXXXX");
    int fd = mkstemp(w->path);
    ASSERT(fd >= 0);
    w->f = fdopen(fd, "wb");
    fwrite(hdr, sizeof(hdr), 1, w->f);
}

/* An Ethernet/IPv4 frame of datagram id from 10.0.0.1 to 10.0.0.2 carrying
 * payload bytes [off, off + len) of a UDP datagram of total bytes (its UDP
 * header first, then byte i = i), at second sec. */
static void frag4(pcapw *w, uint32_t sec, uint16_t id, size_t off, size_t len, int more,
                  size_t total)
{
    static uint8_t f[70000];
    memset(f, 0, 14);
    put16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    ip[0] = 0x45, ip[1] = 0;
    put16(ip + 2, (uint16_t)(20 + len));
    put16(ip + 4, id);
    put16(ip + 6, (uint16_t)((more ? 0x2000 : 0) | off / 8));
    ip[8] = 64, ip[9] = 17;
    memcpy(ip + 12, (uint8_t[]){10, 0, 0, 1, 10, 0, 0, 2}, 8);
    for (size_t i = 0; i < len; i++) {
        size_t at = off + i;
        uint8_t udp[8] = {0x13, 0x88, 0x07, 0x6b, (uint8_t)(total >> 8), (uint8_t)total, 0, 0};
        ip[20 + i] = at < 8 ? udp[at] : (uint8_t)at;
    }
    uint32_t rec[4] = {sec, 0, (uint32_t)(34 + len), (uint32_t)(34 + len)};
    fwrite(rec, sizeof(rec), 1, w->f);
    fwrite(f, 34 + len, 1, w->f);
}

static void read_capture(pcapw *w, seen *s, floe_pcap_stats *st)
{
    char err[256];
    fclose(w->f);
    memset(s, 0, sizeof(*s));
    memset(st, 0, sizeof(*st));
    s->pattern = 1;
    ASSERT_EQ(floe_pcap_read(w->path, count, s, st, err, sizeof(err)), 0);
    unlink(w->path);
}

TEST(fragments_in_any_order_and_with_duplicates)
{
    pcapw w;
    seen s;
    floe_pcap_stats st;
    pcap_begin(&w);
    /* 3000 bytes in 1000-byte pieces: last first, the middle twice; and a
     * second datagram interleaved in order. */
    frag4(&w, 1, 7, 2000, 1000, 0, 3000);
    frag4(&w, 1, 8, 0, 1480, 1, 2000);
    frag4(&w, 1, 7, 1000, 1000, 1, 3000);
    frag4(&w, 1, 7, 1000, 1000, 1, 3000);
    frag4(&w, 1, 8, 1480, 520, 0, 2000);
    frag4(&w, 1, 7, 0, 1000, 1, 3000);
    read_capture(&w, &s, &st);
    ASSERT_EQ(s.datagrams, 2);
    ASSERT_EQ(s.bytes, 2992 + 1992);
    ASSERT_EQ(st.fragments, 6);
    ASSERT_EQ(st.reassembled, 2);
    ASSERT_EQ(st.fragments_dropped, 0);
}

TEST(fragments_are_bounded_in_size_count_and_time)
{
    pcapw w;
    seen s;
    floe_pcap_stats st;
    pcap_begin(&w);
    /* Past 64 KiB: dropped. */
    frag4(&w, 1, 1, 65000, 600, 0, 3000);
    /* A last piece that contradicts the first one's end: dropped. */
    frag4(&w, 1, 2, 2000, 100, 0, 2100);
    frag4(&w, 1, 2, 2000, 200, 0, 2200);
    /* Never completed past the timeout: dropped, the late piece starts over. */
    frag4(&w, 1, 3, 0, 1000, 1, 2000);
    frag4(&w, 100, 3, 1000, 1000, 0, 2000);
    /* More datagrams pending than the bound: the oldest go, so of 70 first
     * pieces the last 64 wait, and their ends complete them. */
    for (uint16_t id = 100; id < 100 + FLOE_FRAG_PENDING + 6; id++)
        frag4(&w, 200, id, 0, 800, 1, 1600);
    for (uint16_t id = 106; id < 100 + FLOE_FRAG_PENDING + 6; id++)
        frag4(&w, 200, id, 800, 800, 0, 1600);
    read_capture(&w, &s, &st);
    ASSERT_EQ(s.datagrams, FLOE_FRAG_PENDING);
    ASSERT_EQ(st.reassembled, FLOE_FRAG_PENDING);
    ASSERT_EQ(st.fragments, 5 + FLOE_FRAG_PENDING + 6 + FLOE_FRAG_PENDING);
    /* id 1 (1), id 2 (2), id 3 (2: each piece alone), the 6 oldest. */
    ASSERT_EQ(st.fragments_dropped, 11);
    ASSERT_EQ(s.last_len, 1592);
}

TEST(ipfix_files_are_told_by_content)
{
    char path[] = "/tmp/floe-test-ipfix-XXXXXX", err[256];
    uint8_t b[4096];
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    size_t n = message(b, 1, 2);
    n += message(b + n, 0, 5);
    ASSERT_EQ(write(fd, b, n), (ssize_t)n);
    ASSERT_EQ(write(fd, b, 10), 10); /* a cut message */
    close(fd);
    seen s;
    floe_pcap_stats st;
    memset(&s, 0, sizeof(s));
    memset(&st, 0, sizeof(st));
    ASSERT_EQ(floe_pcap_read(path, count, &s, &st, err, sizeof(err)), 0);
    unlink(path);
    ASSERT_EQ(s.datagrams, 2);
    ASSERT_EQ(st.ipfix_messages, 2);
    ASSERT_EQ(st.ipfix_junk_bytes, 10);
    ASSERT_EQ(st.frames, 0);
}

TEST_MAIN(TEST_ENTRY(frames_need_version_and_length),
          TEST_ENTRY(messages_in_any_pieces_decode_whole),
          TEST_ENTRY(garbage_ends_the_stream_and_is_counted),
          TEST_ENTRY(stall_and_idle_are_told_apart),
          TEST_ENTRY(sessions_have_their_own_exporters_and_lose_them_at_close),
          TEST_ENTRY(session_templates_do_not_expire),
          TEST_ENTRY(fragments_in_any_order_and_with_duplicates),
          TEST_ENTRY(fragments_are_bounded_in_size_count_and_time),
          TEST_ENTRY(ipfix_files_are_told_by_content))
