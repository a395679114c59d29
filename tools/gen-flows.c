/*
 * floe-gen's flow model. Each exporter keeps GEN_FLOW_SLOTS live
 * conversations between hosts of a pool of H addresses; every record comes
 * from a slot picked at random, and a conversation is replaced once it has
 * emitted its geometric number of records. Records of one flow therefore
 * repeat, interleaved with others, across datagrams: what a collector's
 * flow table sees from a real router. One random draw feeds most of a
 * record, because the generator has to outrun the collectors it measures.
 */
#include "tools/gen.h"
#include "util/util.h"

#include <math.h>
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

static uint32_t flow_length(gen_flows *fl)
{
    if (fl->inv_log_keep == 0)
        return 1;
    /* u in (0, 1]; the inverse CDF of the geometric distribution. */
    double u = (double)((gen_rand(&fl->rng) >> 11) + 1) * 0x1p-53;
    double n = floor(log(u) * fl->inv_log_keep);
    return n >= 1e6 ? 1000000u : 1u + (uint32_t)n;
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
    f->left = flow_length(fl);
}

void gen_flows_init(gen_flows *fl, uint64_t seed, uint32_t hosts, double mean_len)
{
    memset(fl, 0, sizeof(*fl));
    fl->rng.s = seed;
    fl->hosts = hosts < 2 ? 2 : hosts;
    fl->inv_log_keep = mean_len > 1 ? 1.0 / log(1.0 - 1.0 / mean_len) : 0;
    for (size_t i = 0; i < GEN_FLOW_SLOTS; i++)
        flow_new(fl, &fl->slot[i]);
}

void gen_flows_next(gen_flows *fl, uint64_t now_ms, gen_rec *r)
{
    uint64_t x = gen_rand(&fl->rng);
    gen_flow *f = &fl->slot[x & (GEN_FLOW_SLOTS - 1)];
    r->f = *f;
    r->packets = 1 + (uint32_t)((x >> 10) & 31);
    r->bytes = r->packets * f->pkt_len;
    r->last_ms = now_ms - ((x >> 16) & 1023);
    r->first_ms = r->packets > 1 ? r->last_ms - ((x >> 26) & 0x7fff) : r->last_ms;
    if (--f->left == 0)
        flow_new(fl, f);
}
