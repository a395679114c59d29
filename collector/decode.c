/*
 * `floe decode`: pcap files through the same ingest pipeline as the daemon,
 * printing each normalized record as NDJSON, or one summary object.
 */
#include "collector/internal.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct decode_out {
    floe_buf buf;
    floe_json json;
} decode_out;

static void flush_out(decode_out *o)
{
    if (o->buf.len)
        fwrite(o->buf.data, 1, o->buf.len, stdout);
    floe_buf_reset(&o->buf);
}

static void print_record(void *ud, const floe_record *r)
{
    decode_out *o = ud;
    floe_json_init(&o->json, &o->buf);
    floe_record_json(&o->json, r);
    floe_buf_putc(&o->buf, '\n');
    if (o->buf.len > 65536)
        flush_out(o);
}

static void on_datagram(void *ud, const floe_addr *src, uint16_t sport, const uint8_t *p, size_t n,
                        uint64_t ts_ms)
{
    floe_ingest_datagram(ud, src, sport, p, n, ts_ms);
}

static void print_summary(const floe_ingest *ing, const floe_pcap_stats *ps)
{
    floe_counters t;
    floe_buf b;
    floe_json j;

    floe_ingest_totals(ing, &t);
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_counters_summary_json(&j, &t);
    floe_json_key(&j, "by_proto");
    floe_json_obj_begin(&j);
    for (int p = 0; p < FLOE_PROTO_COUNT; p++) {
        const floe_counters *c = &ing->proto[p];
        if (!c->datagrams)
            continue;
        floe_json_key(&j, floe_proto_name(p));
        floe_json_obj_begin(&j);
        floe_json_ku64(&j, "datagrams", c->datagrams);
        floe_json_ku64(&j, "records", c->records);
        floe_json_ku64(&j, "bytes", c->bytes);
        floe_json_ku64(&j, "packets", c->packets);
        floe_json_ku64(&j, "malformed", c->malformed);
        floe_json_obj_end(&j);
    }
    floe_json_obj_end(&j);
    floe_json_ku64(&j, "exporters", ing->exporters.map.count);
    floe_json_ku64(&j, "frames", ps->frames);
    floe_json_ku64(&j, "skipped_frames", ps->skipped);
    floe_json_ku64(&j, "fragments", ps->fragments);
    floe_json_ku64(&j, "reassembled", ps->reassembled);
    floe_json_ku64(&j, "fragments_dropped", ps->fragments_dropped);
    floe_json_ku64(&j, "ipfix_messages", ps->ipfix_messages);
    floe_json_ku64(&j, "ipfix_junk_bytes", ps->ipfix_junk_bytes);
    floe_json_obj_end(&j);
    floe_buf_putc(&b, '\n');
    fwrite(b.data, 1, b.len, stdout);
    floe_buf_close(&b);
}

static void decode_usage(FILE *f)
{
    fprintf(f, "usage: floe decode [--format ndjson|summary] [-c FILE] FILE...\n"
               "Decodes flow exports in pcap, pcapng or IPFIX files (RFC 5655) through\n"
               "floe's decoders; IP fragments in captures are reassembled.\n"
               "  --format ndjson    one JSON object per record (default)\n"
               "  --format summary   one JSON object of totals\n"
               "  -c, --config FILE  take template and exporter limits from FILE\n");
}

int floe_cmd_decode(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int summary = 0, c;
    const char *config_path = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:c:h", opts, NULL)) != -1) {
        if (c == 'f' && strcmp(optarg, "summary") == 0) {
            summary = 1;
        } else if (c == 'f' && strcmp(optarg, "ndjson") == 0) {
            summary = 0;
        } else if (c == 'f') {
            fprintf(stderr, "floe decode: unknown format '%s' (ndjson or summary)\n", optarg);
            return 2;
        } else if (c == 'c') {
            config_path = optarg;
        } else if (c == 'h') {
            decode_usage(stdout);
            return 0;
        } else {
            decode_usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "floe decode: no capture file given\n");
        return 2;
    }

    col__offline o;
    floe_ingest ing;
    int rc = col__offline_open(&o, "floe decode", config_path);
    if (rc != 0)
        return rc;
    if (floe_ingest_init(&ing, &o.cfg, &o.log) != 0) {
        fprintf(stderr, "floe decode: out of memory\n");
        col__offline_close(&o);
        return 1;
    }
    decode_out out;
    floe_buf_init(&out.buf);
    if (!summary) {
        ing.out.record = print_record;
        ing.out.ud = &out;
    }
    rc = col__offline_feed(&o, "floe decode", argv + optind, argc - optind, on_datagram, &ing);
    flush_out(&out);
    if (rc == 0 && summary)
        print_summary(&ing, &o.ps);
    floe_buf_close(&out.buf);
    floe_ingest_close(&ing);
    col__offline_close(&o);
    return rc;
}

/* ---- shared with `floe replay` ----------------------------------------- */

int col__offline_open(col__offline *o, const char *prog, const char *config_path)
{
    char err[512];
    memset(o, 0, sizeof(*o));
    if (floe_config_defaults(&o->cfg) != 0) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    if (config_path && floe_config_load(&o->cfg, config_path, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        floe_config_free(&o->cfg);
        return 2;
    }
    floe_log_init(&o->log, FLOE_LOG_ERROR, 0);
    return 0;
}

int col__offline_feed(col__offline *o, const char *prog, char **files, int n, floe_pcap_cb cb,
                      void *ud)
{
    char err[512];
    for (int i = 0; i < n; i++) {
        if (floe_pcap_read(files[i], cb, ud, &o->ps, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            return 1;
        }
    }
    return 0;
}

void col__offline_close(col__offline *o)
{
    floe_config_free(&o->cfg);
}
