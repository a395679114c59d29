/*
 * The ingest pipeline: one function takes a datagram from a socket or a
 * pcap file to records. Protocol detection is the decoder table's, so any
 * port accepts any protocol.
 */
#include "engine/engine.h"

static void limits_from_config(floe_dec_limits *lim, const floe_config *cfg)
{
    lim->max_templates_per_exporter = cfg->max_templates_per_exporter;
    lim->max_templates = cfg->max_templates;
    lim->template_timeout_ms = (uint64_t)cfg->template_timeout * 1000;
}

int floe_ingest_init(floe_ingest *ing, const floe_config *cfg, floe_log *log)
{
    floe_dec_limits lim;
    memset(ing, 0, sizeof(*ing));
    ing->log = log;
    limits_from_config(&lim, cfg);
    if (floe_decoders_init(&ing->dec, &lim) != 0)
        return FLOE_ENOMEM;
    if (floe_exporters_init(&ing->exporters, cfg->max_exporters, &ing->dec) != 0) {
        floe_decoders_close(&ing->dec);
        return FLOE_ENOMEM;
    }
    return 0;
}

void floe_ingest_close(floe_ingest *ing)
{
    floe_exporters_close(&ing->exporters);
    floe_decoders_close(&ing->dec);
}

void floe_ingest_reconfigure(floe_ingest *ing, const floe_config *cfg)
{
    limits_from_config(&ing->dec.lim, cfg);
    floe_exporters_set_max(&ing->exporters, cfg->max_exporters);
}

static void reject_unknown(floe_ingest *ing, int reason)
{
    ing->unknown.datagrams++;
    ing->unknown.malformed++;
    ing->unknown.reason[reason]++;
}

void floe_ingest_reject(floe_ingest *ing, int proto, int reason)
{
    if (proto < 0 || proto >= FLOE_PROTO_COUNT) {
        reject_unknown(ing, reason);
        return;
    }
    floe_dec_stats st;
    memset(&st, 0, sizeof(st));
    floe_dec_reject(&st, reason);
    floe_counters_add_stats(&ing->proto[proto], &st);
}

static void log_reject(floe_ingest *ing, const char *proto, const floe_addr *src,
                       const floe_dec_stats *st)
{
    char text[FLOE_ADDR_STRLEN];
    for (int r = 1; r < FLOE_REASON_COUNT; r++) {
        if (st->reason[r]) {
            log_warn_rl(ing->log, "%s: exporter %s: rejected %u part(s) of a datagram: %s", proto,
                        floe_addr_format(src, text), st->reason[r], floe_reason_name(r));
            return;
        }
    }
}

void floe_ingest_datagram(floe_ingest *ing, const floe_addr *src, uint16_t sport, const uint8_t *p,
                          size_t n, uint64_t now_ms)
{
    floe_ingest_message(ing, src, sport, 0, p, n, now_ms);
}

void floe_ingest_message(floe_ingest *ing, const floe_addr *src, uint16_t sport, uint32_t session,
                         const uint8_t *p, size_t n, uint64_t now_ms)
{
    if (n == 0) {
        reject_unknown(ing, FLOE_R_EMPTY);
        return;
    }
    const floe_dec_ops *ops = floe_dec_detect(p, n);
    if (!ops) {
        char text[FLOE_ADDR_STRLEN];
        reject_unknown(ing, FLOE_R_UNKNOWN_VERSION);
        log_warn_rl(ing->log, "ingest: %s sent a datagram of %zu bytes in no known format",
                    floe_addr_format(src, text), n);
        return;
    }
    floe_counters *pc = &ing->proto[ops->proto];
    floe_hdr h;
    int reason = ops->header(p, n, &h);
    if (reason) {
        floe_dec_stats st;
        memset(&st, 0, sizeof(st));
        floe_dec_reject(&st, reason);
        floe_counters_add_stats(pc, &st);
        log_reject(ing, ops->name, src, &st);
        return;
    }
    floe_exporter_key key;
    memset(&key, 0, sizeof(key));
    key.addr = *src;
    if (h.has_agent)
        key.agent = h.agent;
    key.domain = h.domain;
    key.proto = (uint32_t)ops->proto;
    key.session = session;
    floe_exporter *ex = floe_exporters_get(&ing->exporters, &key, now_ms);
    if (!ex) {
        pc->datagrams++;
        pc->dropped++;
        return;
    }
    floe_dgram dg = {p, n, *src, sport, now_ms, ex->id};
    ing->now_ms = now_ms;
    floe_dec_stats st;
    memset(&st, 0, sizeof(st));
    ops->decode(&ing->dec, &ex->dec, &dg, &h, &st, &ing->out);
    floe_counters_add_stats(pc, &st);
    floe_exporter_account(ex, &h, &st, now_ms, pc);
    if (st.malformed)
        log_reject(ing, ops->name, src, &st);
}

void floe_ingest_sweep(floe_ingest *ing, uint64_t now_ms)
{
    floe_exporter *ex;
    FLOE_EXPORTERS_FOREACH(&ing->exporters, ex) {
        const floe_dec_ops *ops = floe_dec_ops_for((int)ex->key.proto);
        if (ops && ops->sweep)
            ops->sweep(&ing->dec, &ex->dec, now_ms);
    }
}

void floe_ingest_totals(const floe_ingest *ing, floe_counters *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < FLOE_PROTO_COUNT; i++)
        floe_counters_add(out, &ing->proto[i]);
    floe_counters_add(out, &ing->unknown);
}
