/*
 * floe-gen's flow model. Each exporter keeps GEN_FLOW_SLOTS live
 * conversations (or, for a steady mix, its share of N) between hosts of a
 * pool of H addresses; every record comes from a slot picked at random, and
 * a conversation is replaced once it has emitted the number of records its
 * mix gave it (or, for a steady mix, when its turn comes). Records of one
 * flow therefore repeat, interleaved with others, across datagrams: what a
 * collector's flow table sees from a real router. One random draw feeds
 * most of a record, because the generator has to outrun the collectors it
 * measures.
 */
#include "tools/gen.h"
#include "util/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Typical services: port, IP protocol and a usual packet size. */
static const struct gen_service {
    uint16_t port;
    uint8_t ipproto;
    uint16_t pkt_len;
} gen_services[] = {
    {443, 6, 1200},  {80, 6, 900},    {53, 17, 120},   {22, 6, 300},
    {123, 17, 76},   {25, 6, 600},    {993, 6, 700},   {3389, 6, 400},
    {8080, 6, 1000}, {443, 17, 1250}, {5060, 17, 500}, {161, 17, 150},
};

uint64_t gen_mix(uint64_t seed, uint64_t stream)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void gen_host_v4(uint32_t i, uint8_t out[4])
{
    gen_put32(out, (10u << 24) + i + 1);
}

void gen_host_v6(uint32_t i, uint8_t out[16])
{
    static const uint8_t prefix[12] = {0x20, 0x01, 0x0d, 0xb8};
    memcpy(out, prefix, sizeof(prefix));
    gen_put32(out + 12, i + 1);
}

/* ---- mixes --------------------------------------------------------------- */

/* Reads ":NUMBER" at *s into *out within [lo, hi]; absent leaves *out. */
static int mix_param(const char **s, double lo, double hi, double *out)
{
    if (**s != ':')
        return 0;
    char *end;
    errno = 0;
    double v = strtod(*s + 1, &end);
    if (end == *s + 1 || errno || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    *s = end;
    return 0;
}

static int mix_parse_steady(const char *s, gen_mixspec *m)
{
    double flows = 100000, turnover = 10000;
    if (mix_param(&s, 1, 1e8, &flows) != 0 || mix_param(&s, 0, 1e9, &turnover) != 0 || *s ||
        flows != floor(flows))
        return -1;
    m->kind = GEN_MIX_STEADY;
    m->flows = (uint32_t)flows;
    m->turnover = turnover;
    return 0;
}

int gen_mix_parse(const char *s, gen_mixspec *m, char *why, size_t whylen)
{
    char *end;
    double v;
    int rc = -1;
    if (strcmp(s, "1") == 0) {
        m->kind = GEN_MIX_ONE, rc = 0;
    } else if (strcmp(s, "2") == 0) {
        m->kind = GEN_MIX_BIFLOW, rc = 0;
    } else if (strcmp(s, "geometric") == 0) {
        m->kind = GEN_MIX_GEOMETRIC, rc = 0;
    } else if (strncmp(s, "pareto", 6) == 0) {
        const char *p = s + 6;
        double alpha = 1.5;
        if (mix_param(&p, 1.05, 10, &alpha) == 0 && !*p)
            m->kind = GEN_MIX_PARETO, m->alpha = alpha, rc = 0;
    } else if (strncmp(s, "steady", 6) == 0) {
        rc = mix_parse_steady(s + 6, m);
    } else if ((v = strtod(s, &end)) >= 1 && v <= 1e6 && end != s && !*end) {
        m->kind = GEN_MIX_GEOMETRIC, m->flow_length = v, rc = 0;
    }
    if (rc != 0)
        snprintf(why, whylen,
                 "expected 1, 2, a mean such as 8, geometric, pareto[:ALPHA] (ALPHA 1.05 to 10) "
                 "or steady[:FLOWS[:TURNOVER]], got \"%s\"",
                 s);
    return rc;
}

void gen_mix_name(const gen_mixspec *m, char *out, size_t outlen)
{
    switch (m->kind) {
    case GEN_MIX_ONE:
        snprintf(out, outlen, "1");
        break;
    case GEN_MIX_BIFLOW:
        snprintf(out, outlen, "2");
        break;
    case GEN_MIX_PARETO:
        snprintf(out, outlen, "pareto:%g", m->alpha);
        break;
    case GEN_MIX_STEADY:
        snprintf(out, outlen, "steady:%u:%g", m->flows, m->turnover);
        break;
    default:
        snprintf(out, outlen, "%g", m->flow_length);
        break;
    }
}

/* ---- conversations ---------------------------------------------------------- */

/* u in (0, 1], from one draw. */
static double unit(gen_flows *fl)
{
    return (double)((gen_rand(&fl->rng) >> 11) + 1) * 0x1p-53;
}

static uint32_t flow_length(gen_flows *fl)
{
    switch (fl->mix.kind) {
    case GEN_MIX_BIFLOW:
        return 2;
    case GEN_MIX_PARETO: {
        /* P(L >= k) = k^-alpha: the inverse CDF, floored. */
        double n = floor(pow(unit(fl), -1.0 / fl->mix.alpha));
        return n >= 1e6 ? 1000000u : (uint32_t)n;
    }
    case GEN_MIX_STEADY:
        return UINT32_MAX; /* replaced by turnover, not by length */
    case GEN_MIX_GEOMETRIC:
        if (fl->inv_log_keep != 0) {
            /* The inverse CDF of the geometric distribution. */
            double n = floor(log(unit(fl)) * fl->inv_log_keep);
            return n >= 1e6 ? 1000000u : 1u + (uint32_t)n;
        }
        return 1;
    default:
        return 1;
    }
}
static void flow_new(gen_flows *fl, gen_flow *f)
{
    uint64_t x = gen_rand(&fl->rng), y = gen_rand(&fl->rng);
    const struct gen_service *s =
        &gen_services[gen_below(x, (uint32_t)FLOE_ARRAY_LEN(gen_services))];
    uint32_t client = gen_below(y, fl->hosts);
    uint32_t server = gen_below(y << 32, fl->hosts - 1);
    uint16_t eph = (uint16_t)(1024 + (x & 0xffff) % 64512);
    if (server >= client)
        server++; /* never a host talking to itself */
    /* Half the conversations are the server's side of the exchange. */
    int reply = (int)((x >> 16) & 1);
    f->src = reply ? server : client;
    f->dst = reply ? client : server;
    f->sport = reply ? s->port : eph;
    f->dport = reply ? eph : s->port;
    f->reply = (uint8_t)reply;
    f->ipproto = s->ipproto;
    f->tcp_flags = s->ipproto == 6 ? 0x1b : 0; /* FIN SYN PSH ACK over the flow */
    f->tos = (x >> 17) & 7 ? 0 : 0xb8;         /* one in eight is EF-marked */
    f->in_if = (uint16_t)(1 + ((x >> 20) & 7));
    f->out_if = (uint16_t)(9 + ((x >> 23) & 7));
    uint32_t len = s->pkt_len / 2 + (uint32_t)((x >> 26) % s->pkt_len);
    f->pkt_len = (uint16_t)(len < 40 ? 40 : len > 1500 ? 1500 : len);
    f->turn = 0;
    f->left = flow_length(fl);
}

int gen_flows_init(gen_flows *fl, uint64_t seed, uint32_t hosts, const gen_mixspec *mix,
                   uint32_t exporters, uint64_t vrate)
{
    memset(fl, 0, sizeof(*fl));
    fl->rng.s = seed;
    fl->mix = *mix;
    fl->hosts = hosts < 2 ? 2 : hosts;
    double mean = mix->flow_length;
    fl->inv_log_keep = mean > 1 ? 1.0 / log(1.0 - 1.0 / mean) : 0;
    fl->n_slots = GEN_FLOW_SLOTS;
    if (mix->kind == GEN_MIX_STEADY) {
        uint32_t k = exporters ? exporters : 1;
        fl->n_slots = mix->flows / k ? mix->flows / k : 1;
        fl->turn_per_rec = mix->turnover / (double)k / (double)(vrate ? vrate : 1);
    }
    if (!(fl->slot = calloc(fl->n_slots, sizeof(*fl->slot))))
        return -ENOMEM;
    for (uint32_t i = 0; i < fl->n_slots; i++)
        flow_new(fl, &fl->slot[i]);
    return 0;
}

void gen_flows_close(gen_flows *fl)
{
    free(fl->slot);
    fl->slot = NULL;
}

/* Steady mix: replaces the conversations whose turn has come, oldest
 * first, at turn_per_rec a record. */
static void flows_turn_over(gen_flows *fl)
{
    fl->turn_owed += fl->turn_per_rec;
    while (fl->turn_owed >= 1) {
        fl->turn_owed -= 1;
        flow_new(fl, &fl->slot[fl->next_turn]);
        fl->next_turn = fl->next_turn + 1 == fl->n_slots ? 0 : fl->next_turn + 1;
    }
}

/* The record's copy of the conversation, from server to client: the
 * reply half of a bidirectional conversation. */
static void flow_reverse(gen_flow *f)
{
    uint32_t a = f->src;
    uint16_t p = f->sport, i = f->in_if;
    f->src = f->dst, f->dst = a;
    f->sport = f->dport, f->dport = p;
    f->in_if = f->out_if, f->out_if = i;
    f->reply = !f->reply;
}

void gen_flows_next(gen_flows *fl, uint64_t now_ms, gen_rec *r)
{
    uint64_t x = gen_rand(&fl->rng);
    /* The usual slot count is a power of two, picked by the draw's low bits
     * (which the record's other fields leave alone); a steady table's is
     * not, and gets a draw of its own. */
    uint32_t i = (fl->n_slots & (fl->n_slots - 1)) == 0
                     ? (uint32_t)(x & (fl->n_slots - 1))
                     : gen_below(gen_rand(&fl->rng), fl->n_slots);
    gen_flow *f = &fl->slot[i];
    r->f = *f;
    if (f->turn)
        flow_reverse(&r->f);
    r->packets = 1 + (uint32_t)((x >> 10) & 31);
    r->bytes = r->packets * f->pkt_len;
    r->last_ms = now_ms - ((x >> 16) & 1023);
    r->first_ms = r->packets > 1 ? r->last_ms - ((x >> 26) & 0x7fff) : r->last_ms;
    if (fl->mix.kind != GEN_MIX_GEOMETRIC && fl->mix.kind != GEN_MIX_ONE)
        f->turn = !f->turn;
    if (fl->mix.kind == GEN_MIX_STEADY)
        flows_turn_over(fl);
    else if (--f->left == 0)
        flow_new(fl, f);
}
