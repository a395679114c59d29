/*
 * bench/decode-rate: how fast the v9/IPFIX decoder runs through the whole
 * ingest pipeline (exporter lookup included) with no sink, on IPFIX
 * messages of 30 records of a typical 17-field IPv4 template. It decodes
 * 3 million records (100,000 messages) and prints the rate. Built on
 * demand: make bench/decode-rate && bench/decode-rate [MESSAGES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/engine.h"

static size_t put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

static size_t put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    return 2 + put16(p + 2, (uint16_t)v);
}

static size_t header(uint8_t *b, uint32_t seq)
{
    size_t n = put16(b, 10);
    n += put16(b + n, 0); /* length, written last */
    n += put32(b + n, 1700000000u);
    n += put32(b + n, seq);
    return n + put32(b + n, 0);
}

int main(int argc, char **argv)
{
    static const uint16_t spec[][2] = {{8, 4},  {12, 4}, {7, 2},  {11, 2},  {4, 1},   {6, 1},
                                       {5, 1},  {1, 8},  {2, 8},  {152, 8}, {153, 8}, {10, 4},
                                       {14, 4}, {16, 4}, {17, 4}, {15, 4},  {61, 1}};
    long rounds = argc > 1 ? atol(argv[1]) : 100000;
    floe_config cfg;
    floe_log log;
    floe_ingest ing;
    floe_addr src;
    uint8_t tmpl[512], data[4096];
    floe_config_defaults(&cfg);
    floe_log_init(&log, -1, 0);
    if (rounds <= 0 || floe_ingest_init(&ing, &cfg, &log) != 0)
        return 2;
    floe_addr_parse(&src, "192.0.2.1");
    /* The template message. */
    size_t n = header(tmpl, 0), set = n;
    n += put16(tmpl + n, 2) + 2;
    n += put16(tmpl + n, 256);
    n += put16(tmpl + n, (uint16_t)FLOE_ARRAY_LEN(spec));
    for (size_t i = 0; i < FLOE_ARRAY_LEN(spec); i++)
        n += put16(tmpl + n, spec[i][0]) + put16(tmpl + n + 2, spec[i][1]);
    put16(tmpl + set + 2, (uint16_t)(n - set));
    put16(tmpl + 2, (uint16_t)n);
    floe_ingest_datagram(&ing, &src, 4739, tmpl, n, 1700000001000ULL);
    /* A data message of 30 records of 68 bytes. */
    size_t m = header(data, 0);
    set = m;
    m += put16(data + m, 256) + 2;
    for (int i = 0; i < 30; i++)
        for (int k = 0; k < 68; k++)
            data[m++] = (uint8_t)(i * 7 + k);
    put16(data + set + 2, (uint16_t)(m - set));
    put16(data + 2, (uint16_t)m);
    struct timespec a, z;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < rounds; i++)
        floe_ingest_datagram(&ing, &src, 4739, data, m, 1700000001000ULL);
    clock_gettime(CLOCK_MONOTONIC, &z);
    double s = (double)(z.tv_sec - a.tv_sec) + (double)(z.tv_nsec - a.tv_nsec) / 1e9;
    uint64_t got = ing.proto[FLOE_PROTO_IPFIX].records;
    printf("decode-rate: %.2f M records/s (%llu records in %.3f s, through ingest)\n",
           (double)got / s / 1e6, (unsigned long long)got, s);
    floe_ingest_close(&ing);
    floe_config_free(&cfg);
    return got == (uint64_t)rounds * 30 ? 0 : 1;
}
