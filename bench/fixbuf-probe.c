/*
 * fixbuf-probe: measures what libfixbuf's collection-from-memory path would
 * cost floe, to back the choice written down in decoders/nf9ipfix.c and
 * docs/decoders.md. Not built by make; run it by hand:
 *
 *   cc -O2 -o fixbuf-probe bench/fixbuf-probe.c $(pkg-config --cflags --libs libfixbuf)
 *   G_SLICE=always-malloc ./fixbuf-probe
 *
 * It prints, for libfixbuf's "one session and one fBuf per exporter" model:
 *   1. heap bytes per session + fBuf (mallinfo2, with glib's slices in malloc);
 *   2. what a template bomb does: 5,000 template ids x 200 fields into one
 *      session, how many templates it keeps and the heap that costs;
 *   3. how a data set with no template is reported: fBufNext's result and
 *      error, and what reaches glib's log handler.
 */
#include <fixbuf/public.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSIONS       1000
#define BOMB_TEMPLATES 5000
#define BOMB_FIELDS    200
#define BOMB_PEN       99999u

static unsigned log_count;
static char log_last[256];
static GLogLevelFlags log_level;

static void count_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer ud)
{
    (void)domain;
    (void)ud;
    log_count++;
    log_level = level & G_LOG_LEVEL_MASK;
    snprintf(log_last, sizeof(log_last), "%s", msg);
}

static size_t heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

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

static size_t ipfix_header(uint8_t *b, size_t len, uint32_t seq)
{
    put16(b, 10);
    put16(b + 2, (uint16_t)len);
    put32(b + 4, 1700000000);
    put32(b + 8, seq);
    put32(b + 12, 0);
    return 16;
}

/* A session with an fBuf for collection and a small internal template. */
static fBuf_t *collector_new(fbInfoModel_t *model)
{
    static fbInfoElementSpec_t spec[] = {
        {"octetDeltaCount", 8, 0}, {"packetDeltaCount", 8, 0}, FB_IESPEC_NULL};
    GError *err = NULL;
    fbSession_t *session = fbSessionAlloc(model);
    fbTemplate_t *t = fbTemplateAlloc(model);
    if (!fbTemplateAppendSpecArray(t, spec, UINT32_MAX, &err))
        return NULL;
    uint16_t tid = fbSessionAddTemplate(session, TRUE, FB_TID_AUTO, t, &err);
    fBuf_t *fbuf = fBufAllocForCollection(session, NULL);
    if (!tid || !fBufSetInternalTemplate(fbuf, tid, &err))
        return NULL;
    fBufSetAutomaticMode(fbuf, FALSE);
    return fbuf;
}

/* Feeds one message; returns the records read and the last error code. */
static int feed(fBuf_t *fbuf, uint8_t *msg, size_t len, int *code, char *text, size_t textlen)
{
    uint8_t rec[16];
    size_t reclen;
    GError *err = NULL;
    int n = 0;
    fBufSetBuffer(fbuf, msg, len);
    for (;;) {
        reclen = sizeof(rec);
        if (fBufNext(fbuf, rec, &reclen, &err)) {
            n++;
            continue;
        }
        *code = err ? err->code : 0;
        snprintf(text, textlen, "%s", err ? err->message : "");
        g_clear_error(&err);
        return n;
    }
}

static void probe_sessions(fbInfoModel_t *model)
{
    static fBuf_t *bufs[SESSIONS];
    size_t before = heap_used();
    for (int i = 0; i < SESSIONS; i++)
        bufs[i] = collector_new(model);
    size_t after = heap_used();
    double per = (double)(after - before) / SESSIONS;
    printf("1. session + fBuf for collection: %.0f bytes (%.1f KiB) each;"
           " 10,000 exporters: %.0f MiB\n",
           per, per / 1024, per * 10000 / (1024 * 1024));
    for (int i = 0; i < SESSIONS; i++)
        fBufFree(bufs[i]);
}

/* A message with as many 200-field templates as fit, from id first on. */
static size_t bomb_message(uint8_t *b, uint16_t first, int *count)
{
    size_t off = 16, set = off;
    off += 4;
    int n = 0;
    while (off + 4 + BOMB_FIELDS * 8 <= 65000 && first + n < 256 + BOMB_TEMPLATES) {
        put16(b + off, (uint16_t)(first + n));
        put16(b + off + 2, BOMB_FIELDS);
        off += 4;
        for (int f = 0; f < BOMB_FIELDS; f++, off += 8) {
            put16(b + off, (uint16_t)(0x8000 | (f + 1)));
            put16(b + off + 2, 4);
            put32(b + off + 4, BOMB_PEN);
        }
        n++;
    }
    put16(b + set, 2);
    put16(b + set + 2, (uint16_t)(off - set));
    ipfix_header(b, off, 0);
    *count = n;
    return off;
}

static void probe_bomb(fbInfoModel_t *model)
{
    static uint8_t msg[65536];
    char text[256];
    int code = 0, n, sent = 0;
    fBuf_t *fbuf = collector_new(model);
    size_t before = heap_used();
    for (uint16_t tid = 256; tid < 256 + BOMB_TEMPLATES; tid = (uint16_t)(tid + n)) {
        size_t len = bomb_message(msg, tid, &n);
        feed(fbuf, msg, len, &code, text, sizeof(text));
        sent += n;
    }
    size_t after = heap_used();
    fbSession_t *session = fBufGetSession(fbuf);
    int kept = 0;
    for (int tid = 256; tid < 256 + BOMB_TEMPLATES; tid++)
        kept += fbSessionGetTemplate(session, FALSE, (uint16_t)tid, NULL) != NULL;
    printf("2. template bomb: sent %d templates x %d fields; the session keeps %d,"
           " heap grew %.1f MiB (%.1f KiB per template); last fBufNext error %d (%s)\n",
           sent, BOMB_FIELDS, kept, (double)(after - before) / (1024 * 1024),
           (double)(after - before) / 1024 / (kept ? kept : 1), code, text);
    fBufFree(fbuf);
}

static void probe_missing(fbInfoModel_t *model)
{
    uint8_t msg[64];
    char text[256];
    int code = 0;
    fBuf_t *fbuf = collector_new(model);
    size_t off = 16;
    put16(msg + off, 999); /* a data set for a template never sent */
    put16(msg + off + 2, 4 + 16);
    memset(msg + off + 4, 0xab, 16);
    off += 20;
    ipfix_header(msg, off, 0);
    log_count = 0;
    log_last[0] = 0;
    int recs = feed(fbuf, msg, off, &code, text, sizeof(text));
    printf("3. data set without template: %d records, fBufNext error %d (%s);"
           " glib log messages: %u (last, at %s: \"%s\"); no counter or callback reports it\n",
           recs, code, text, log_count,
           log_level == G_LOG_LEVEL_WARNING   ? "g_warning"
           : log_level == G_LOG_LEVEL_DEBUG   ? "g_debug"
           : log_level == G_LOG_LEVEL_MESSAGE ? "g_message"
                                              : "another level",
           log_last);
    fBufFree(fbuf);
}

int main(void)
{
    g_log_set_default_handler(count_log, NULL);
    fbInfoModel_t *model = fbInfoModelAlloc();
    printf("libfixbuf %d.%d.%d, glib %u.%u\n", FIXBUF_VERSION_MAJOR, FIXBUF_VERSION_MINOR,
           FIXBUF_VERSION_RELEASE, glib_major_version, glib_minor_version);
    probe_sessions(model);
    probe_bomb(model);
    probe_missing(model);
    fbInfoModelFree(model);
    return 0;
}
