/*
 * The engine: ingest and the tables wired together as the daemon, replay
 * and the fuzz harness use them.
 */
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

/*
 * An IPFIX message with a template (256: addresses, ports, protocol,
 * octets, applicationId as an NBAR-style 4-byte id) and one record of it,
 * a new conversation each time (sport = i).
 */
static size_t ipfix_with_app(uint8_t *b, uint32_t seq, uint16_t i)
{
    static const uint16_t fields[][2] = {{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {1, 8}, {95, 4}};
    size_t n = 16;
    put16(b, 10);
    put32(b + 4, 1700000000u);
    put32(b + 8, seq);
    put32(b + 12, 0);
    size_t set = n;
    put16(b + n, 2), n += 4;
    put16(b + n, 256), put16(b + n + 2, (uint16_t)FLOE_ARRAY_LEN(fields)), n += 4;
    for (size_t k = 0; k < FLOE_ARRAY_LEN(fields); k++)
        put16(b + n, fields[k][0]), put16(b + n + 2, fields[k][1]), n += 4;
    put16(b + set + 2, (uint16_t)(n - set));
    set = n;
    put16(b + n, 256), n += 4;
    memcpy(b + n, (uint8_t[]){10, 0, 0, 1, 192, 0, 2, 9}, 8), n += 8;
    put16(b + n, (uint16_t)(1024 + i)), put16(b + n + 2, 80), n += 4;
    b[n++] = 6;
    memset(b + n, 0, 8), b[n + 7] = 100, n += 8;
    b[n] = 13, b[n + 1] = 0, b[n + 2] = 1, b[n + 3] = 0xc5, n += 4; /* NBAR engine 13 */
    put16(b + set + 2, (uint16_t)(n - set));
    put16(b + 2, (uint16_t)n);
    return n;
}

/*
 * Records wait in the tables' pipeline for up to 32 records, across the
 * datagrams of one receive batch. With exporters.max = 1, every datagram
 * from the other source evicts the exporter of the records still waiting;
 * applying them (labelling a new flow from IE 95 reads its exporter's
 * application names) must not touch the evicted exporter. Under ASan an
 * exporter pointer kept in the pipeline is a use after free.
 */
TEST(exporter_evicted_while_its_records_wait_in_the_pipeline)
{
    floe_config cfg;
    floe_log log;
    floe_engine e;
    char err[256];
    uint8_t b[512];
    ASSERT_EQ(floe_config_defaults(&cfg), 0);
    cfg.max_exporters = 1;
    floe_log_init(&log, -1, 0);
    ASSERT_EQ(floe_engine_init(&e, &cfg, &log, NULL, FLOE_ENGINE_OFFLINE, 0, err, sizeof(err)), 0);
    floe_addr src[2];
    floe_addr_parse(&src[0], "192.0.2.1");
    floe_addr_parse(&src[1], "192.0.2.2");
    const uint16_t rounds = 64;
    /* One receive batch: no batch end until all of it is in. */
    for (uint16_t i = 0; i < rounds; i++) {
        size_t n = ipfix_with_app(b, i / 2u, i);
        floe_engine_datagram(&e, &src[i % 2], 4739, b, n, 1700000000000ULL + i);
    }
    floe_engine_batch_end(&e);
    ASSERT_EQ(e.ing.exporters.map.count, 1);
    ASSERT_EQ(e.ing.exporters.evictions, rounds - 1);
    ASSERT_EQ(e.tables.st.records, rounds);
    ASSERT_EQ(e.tables.flows.count, rounds);
    floe_engine_close(&e);
    floe_config_free(&cfg);
}

typedef struct ticks {
    int n;
    int period[64];
    uint64_t at[64];
} ticks;

static void record_tick(void *ud, int period, uint64_t boundary_ms)
{
    ticks *t = ud;
    if (t->n < 64) {
        t->period[t->n] = period;
        t->at[t->n] = boundary_ms;
    }
    t->n++;
}

TEST(scheduler_ticks_at_wall_boundaries)
{
    floe_sched s;
    ticks t = {0};
    floe_sched_init(&s, record_tick, &t);
    /* 2023-11-14 22:13:20 UTC: the first advance only sets the clock. */
    const uint64_t t0 = 1700000000000ULL;
    floe_sched_advance(&s, t0);
    ASSERT_EQ(t.n, 0);
    floe_sched_advance(&s, t0 + 39999); /* 22:13:59.999 */
    ASSERT_EQ(t.n, 0);
    floe_sched_advance(&s, t0 + 40000); /* 22:14:00: a minute */
    ASSERT_EQ(t.n, 1);
    ASSERT_EQ(t.period[0], FLOE_PERIOD_MIN);
    ASSERT_U64_EQ(t.at[0], t0 + 40000);
    floe_sched_advance(&s, t0 + 40000); /* the same time again: nothing */
    floe_sched_advance(&s, t0 + 10000); /* backwards: nothing */
    ASSERT_EQ(t.n, 1);
    /* On to 22:15:00: a minute and a 5-minute boundary, in that order. */
    floe_sched_advance(&s, t0 + 100000);
    ASSERT_EQ(t.n, 3);
    ASSERT_EQ(t.period[1], FLOE_PERIOD_MIN);
    ASSERT_EQ(t.period[2], FLOE_PERIOD_5MINS);
    ASSERT_U64_EQ(t.at[2], t0 + 100000);
    ASSERT_EQ(s.ticks[FLOE_PERIOD_MIN], 2);
    ASSERT_EQ(s.ticks[FLOE_PERIOD_HOUR], 0);
}

TEST(scheduler_jump_fires_the_latest_and_counts_the_rest)
{
    floe_sched s;
    ticks t = {0};
    floe_sched_init(&s, record_tick, &t);
    const uint64_t day = 86400000ULL, t0 = 19000 * day; /* a midnight */
    floe_sched_advance(&s, t0 + 1);
    /* Three hours later in one step (a gap in a capture). */
    floe_sched_advance(&s, t0 + 3 * 3600000ULL + 1);
    ASSERT_EQ(s.ticks[FLOE_PERIOD_MIN], FLOE_SCHED_CATCHUP);
    ASSERT_EQ(s.skipped[FLOE_PERIOD_MIN], 180 - FLOE_SCHED_CATCHUP);
    ASSERT_EQ(s.ticks[FLOE_PERIOD_5MINS], FLOE_SCHED_CATCHUP);
    ASSERT_EQ(s.skipped[FLOE_PERIOD_5MINS], 36 - FLOE_SCHED_CATCHUP);
    ASSERT_EQ(s.ticks[FLOE_PERIOD_HOUR], 3);
    ASSERT_EQ(s.skipped[FLOE_PERIOD_HOUR], 0);
    ASSERT_EQ(s.ticks[FLOE_PERIOD_DAY], 0);
    /* The minute ticks fired are the latest five, oldest first. */
    ASSERT_U64_EQ(t.at[0], t0 + 176 * 60000ULL);
    ASSERT_U64_EQ(t.at[4], t0 + 180 * 60000ULL);
}

TEST(period_names_round_trip)
{
    for (int p = 0; p < FLOE_PERIOD_COUNT; p++)
        ASSERT_EQ(floe_period_parse(floe_period_name(p)), p);
    ASSERT_STR_EQ(floe_period_name(FLOE_PERIOD_5MINS), "5mins");
    ASSERT_U64_EQ(floe_period_ms(FLOE_PERIOD_DAY), 86400000ULL);
    ASSERT_EQ(floe_period_parse("week"), -1);
}

/* A turn is the time between two waits less the wait itself; the busy
 * share and the recent longest turn come from 10 s windows. */
TEST(loop_turns_are_the_time_between_waits)
{
    floe_loop_stats s;
    memset(&s, 0, sizeof(s));
    const uint64_t ms = 1000000, t0 = 5000 * ms;
    ASSERT_U64_EQ(floe_loop_turn(&s, t0, 0, 1), 0); /* a baseline only */
    ASSERT_U64_EQ(s.turns, 0);
    /* 10 ms later, 7 of them spent waiting: a 3 ms turn. */
    ASSERT_U64_EQ(floe_loop_turn(&s, t0 + 10 * ms, 7 * ms, 2), 3 * ms);
    /* A 400 ms turn with no wait in it. */
    ASSERT_U64_EQ(floe_loop_turn(&s, t0 + 410 * ms, 7 * ms, 3), 400 * ms);
    ASSERT_U64_EQ(s.turns, 2);
    ASSERT_U64_EQ(s.busy_ns, 403 * ms);
    ASSERT_U64_EQ(s.idle_ns, 7 * ms);
    ASSERT_U64_EQ(s.longest_ns, 400 * ms);
    ASSERT_U64_EQ(s.longest_at_ms, 3);
    ASSERT_EQ(floe_loop_busy_pct(&s), 98); /* 403 of 410 ms, the running window */
    /* Then 12 s of 1 ms turns every 100 ms: the first window closes with
     * the long turn in it, the next holds only short ones. */
    uint64_t now = t0 + 410 * ms, idle = 7 * ms;
    for (int i = 0; i < 120; i++) {
        now += 100 * ms, idle += 99 * ms;
        floe_loop_turn(&s, now, idle, 4);
    }
    ASSERT_U64_EQ(s.longest_ns, 400 * ms);
    ASSERT_U64_EQ(floe_loop_recent_longest_ns(&s), 400 * ms); /* still in the last window */
    ASSERT_CMP_INT(floe_loop_busy_pct(&s), <=, 5);
    for (int i = 0; i < 100; i++) {
        now += 100 * ms, idle += 99 * ms;
        floe_loop_turn(&s, now, idle, 5);
    }
    ASSERT_U64_EQ(floe_loop_recent_longest_ns(&s), 1 * ms); /* aged out */
    ASSERT_EQ(floe_loop_busy_pct(&s), 1);
    /* A clock that goes back starts over from a baseline, counting nothing. */
    uint64_t turns = s.turns;
    ASSERT_U64_EQ(floe_loop_turn(&s, now - 50 * ms, idle, 6), 0);
    ASSERT_U64_EQ(s.turns, turns);
}

/* The engine's clock drives its scheduler: a replay at capture time. */
TEST(engine_clock_drives_the_scheduler)
{
    floe_config cfg;
    floe_log log;
    floe_engine e;
    char err[256];
    ASSERT_EQ(floe_config_defaults(&cfg), 0);
    cfg.tables_enabled = 0;
    floe_log_init(&log, -1, 0);
    ASSERT_EQ(floe_engine_init(&e, &cfg, &log, NULL, FLOE_ENGINE_OFFLINE, 0, err, sizeof(err)), 0);
    const uint64_t t0 = 1700000000000ULL; /* 40 s before a minute */
    for (uint64_t ms = 0; ms <= 10 * 60000; ms += 1000)
        floe_engine_advance(&e, t0 + ms);
    ASSERT_EQ(e.sched.ticks[FLOE_PERIOD_MIN], 10);
    ASSERT_EQ(e.sched.ticks[FLOE_PERIOD_5MINS], 2);
    ASSERT_U64_EQ(e.now_ms, t0 + 600000);
    floe_engine_close(&e);
    floe_config_free(&cfg);
}

/* Every counter of counters.def reaches the API's JSON, the summary where
 * it has a summary name, and /metrics. */
TEST(counters_reach_every_form)
{
    floe_counters c;
    memset(&c, 0, sizeof(c));
    c.bytes_total = 7001;
    c.packets_total = 7002;
    c.sflow_discards = 7003;
    c.withdrawals = 7004;
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_counters_json(&j, &c);
    floe_json_obj_end(&j);
    ASSERT_CONTAINS(b.data, "\"bytes_total\":7001");
    ASSERT_CONTAINS(b.data, "\"packets_total\":7002");
    ASSERT_CONTAINS(b.data, "\"sflow_discards\":7003");
    ASSERT_CONTAINS(b.data, "\"withdrawals\":7004");
    floe_buf_reset(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_counters_summary_json(&j, &c);
    floe_json_obj_end(&j);
    ASSERT_CONTAINS(b.data, "\"bytes_total\":7001");
    ASSERT_CONTAINS(b.data, "\"discard_samples\":7003");
    ASSERT(strstr(b.data, "withdrawals") == NULL); /* not a summary key */
    floe_buf_reset(&b);
    const char *labels[] = {"proto=\"v5\""};
    const floe_counters *cs[] = {&c};
    floe_counters_metrics(&b, labels, cs, 1);
    ASSERT_CONTAINS(b.data, "floe_bytes_total_total{proto=\"v5\"} 7001");
    ASSERT_CONTAINS(b.data, "# TYPE floe_packets_total_total counter");
    ASSERT(floe_counters_find(&c, "packets_total") != NULL);
    ASSERT_U64_EQ(*floe_counters_find(&c, "packets_total"), 7002);
    ASSERT(floe_counters_find(&c, "nonsense") == NULL);
    floe_buf_close(&b);
}

typedef struct points {
    uint64_t host_traffic, bytes_sent, wrong_time, other;
    uint64_t when_s;
    uint64_t loop;
    double loop_busy_pct, loop_longest_ms;
} points;

static void count_point(void *ud, const char *schema, const char *const *tags, const double *v,
                        size_t n, uint64_t when_s)
{
    points *p = ud;
    (void)tags;
    (void)n;
    if (when_s != p->when_s)
        p->wrong_time++;
    if (strcmp(schema, "host:traffic") == 0) {
        p->host_traffic++;
        p->bytes_sent += (uint64_t)v[0];
    } else if (strcmp(schema, "system:loop") == 0) {
        p->loop++;
        p->loop_busy_pct = v[0];
        p->loop_longest_ms = v[1];
    } else {
        p->other++;
    }
}

/*
 * Live, the built-in series walk the local hosts in slices between turns
 * of the loop: the tick writes none of them, each run a slice, and after
 * the last every host has its point for that minute, with the growth since
 * the previous minute.
 */
TEST(live_series_walk_the_hosts_in_slices)
{
    floe_config cfg;
    floe_log log;
    floe_engine e;
    uv_loop_t loop;
    char err[256];
    points p = {0};
    ASSERT_EQ(uv_loop_init(&loop), 0);
    ASSERT_EQ(floe_config_defaults(&cfg), 0);
    ASSERT_EQ(floe_config_set_str(&cfg.builtin_plugins, "none"), 0);
    cfg.tables.max_flows = cfg.tables.max_hosts = 16384; /* small tables set up fast */
    cfg.tables.dpi_enabled = 0;
    cfg.alerts_enabled = cfg.ts_enabled = 0; /* the tap sees the points; no stores */
    floe_log_init(&log, -1, 0);
    const uint64_t t0 = 1700000040000ULL; /* a minute boundary */
    ASSERT_EQ(floe_engine_init(&e, &cfg, &log, &loop, FLOE_ENGINE_LIVE, t0, err, sizeof(err)), 0);
    e.tap.ts = count_point;
    e.tap.ud = &p;
    const unsigned hosts = 5000;
    for (unsigned i = 0; i < hosts; i++) {
        floe_record r;
        char src[32];
        memset(&r, 0, sizeof(r));
        snprintf(src, sizeof(src), "10.1.%u.%u", i / 250, i % 250 + 1);
        floe_addr_parse(&r.src, src);
        floe_addr_parse(&r.dst, "198.51.100.1");
        r.sport = 40000, r.dport = 443, r.ipproto = 6, r.bytes = 100 + i, r.packets = 1;
        r.sampling = 1;
        r.has = FLOE_F(SRC) | FLOE_F(DST) | FLOE_F(SPORT) | FLOE_F(DPORT) | FLOE_F(IPPROTO) |
                FLOE_F(BYTES) | FLOE_F(PACKETS);
        floe_tables_record(&e.tables, &r, t0 + 1000);
    }
    p.when_s = t0 / 1000 + 60;
    /* The loop's turns in the minute: 30 and 10 ms of work in 200 ms. */
    const uint64_t ms = 1000000;
    floe_loop_turn(&e.loop_stats, 1000 * ms, 0, t0);
    floe_loop_turn(&e.loop_stats, 1100 * ms, 70 * ms, t0);
    floe_loop_turn(&e.loop_stats, 1200 * ms, 160 * ms, t0);
    floe_engine_advance(&e, t0 + 30000); /* the scheduler's first advance sets its clock */
    floe_engine_advance(&e, t0 + 60000);
    ASSERT_EQ(p.host_traffic, 0);
    ASSERT(p.other > 0); /* the system's and the network's, at once */
    ASSERT_EQ(p.loop, 1);
    ASSERT_EQ((int)(p.loop_busy_pct + 0.5), 20);
    ASSERT_EQ((int)(p.loop_longest_ms + 0.5), 30);
    ASSERT_U64_EQ(e.loop_stats.step_longest_ns, 0); /* taken: the next minute starts afresh */
    int slices = 0;
    while (floe_series_run(&e))
        slices++;
    ASSERT(slices >= 2);
    ASSERT_EQ(p.host_traffic, hosts);
    ASSERT_U64_EQ(p.bytes_sent, (uint64_t)hosts * 100 + (uint64_t)hosts * (hosts - 1) / 2);
    ASSERT_EQ(p.wrong_time, 0);
    /* A quiet minute: every host again, with nothing grown. */
    p.host_traffic = p.bytes_sent = 0;
    p.when_s += 60;
    floe_engine_advance(&e, t0 + 120000);
    while (floe_series_run(&e))
        ;
    ASSERT_EQ(p.host_traffic, hosts);
    ASSERT_U64_EQ(p.bytes_sent, 0);
    ASSERT_EQ(e.series.late, 0);
    floe_engine_close(&e);
    floe_engine_release_loop(&e);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    floe_config_free(&cfg);
}

typedef struct app_points {
    int n;
    char apps[8][32];
} app_points;

static void count_app_point(void *ud, const char *schema, const char *const *tags, const double *v,
                            size_t n, uint64_t when_s)
{
    app_points *p = ud;
    (void)v, (void)n, (void)when_s;
    if (strcmp(schema, "host:ndpi") == 0 && strcmp(tags[0], "10.9.0.1") == 0 && p->n < 8)
        snprintf(p->apps[p->n++], sizeof(p->apps[0]), "%s", tags[1]);
}

/* host:ndpi keeps timeseries.host_apps series per host: its largest
 * applications, not every one it touched. */
TEST(host_apps_series_are_the_largest_ones)
{
    floe_config cfg;
    floe_log log;
    floe_engine e;
    char err[256];
    app_points p = {0};
    ASSERT_EQ(floe_config_defaults(&cfg), 0);
    ASSERT_EQ(floe_config_set_str(&cfg.builtin_plugins, "none"), 0);
    cfg.tables.max_flows = cfg.tables.max_hosts = 4096;
    cfg.alerts_enabled = cfg.ts_enabled = 0;
    ASSERT_EQ(cfg.ts_host_apps, 3);
    floe_log_init(&log, -1, 0);
    const uint64_t t0 = 1700000040000ULL;
    ASSERT_EQ(floe_engine_init(&e, &cfg, &log, NULL, FLOE_ENGINE_OFFLINE, t0, err, sizeof(err)), 0);
    e.tap.ts = count_app_point;
    e.tap.ud = &p;
    /* Five services by port, the larger the later in the list. */
    static const uint16_t ports[] = {22, 25, 53, 80, 443};
    floe_engine_advance(&e, t0 + 1000);
    for (unsigned i = 0; i < FLOE_ARRAY_LEN(ports); i++) {
        floe_record r;
        memset(&r, 0, sizeof(r));
        floe_addr_parse(&r.src, "10.9.0.1");
        floe_addr_parse(&r.dst, "198.51.100.7");
        r.sport = (uint16_t)(40000 + i), r.dport = ports[i], r.ipproto = ports[i] == 53 ? 17 : 6;
        r.bytes = 1000 * (i + 1), r.packets = 1, r.sampling = 1;
        r.has = FLOE_F(SRC) | FLOE_F(DST) | FLOE_F(SPORT) | FLOE_F(DPORT) | FLOE_F(IPPROTO) |
                FLOE_F(BYTES) | FLOE_F(PACKETS);
        floe_tables_record(&e.tables, &r, t0 + 2000);
    }
    floe_engine_advance(&e, t0 + 60000);
    ASSERT_EQ(p.n, 3);
    for (int i = 0; i < p.n; i++) /* 53, 80 and 443: DNS, HTTP, TLS by port */
        ASSERT(strcmp(p.apps[i], "SSH") != 0 && strcmp(p.apps[i], "SMTP") != 0);
    floe_engine_close(&e);
    floe_config_free(&cfg);
}

TEST_MAIN(TEST_ENTRY(exporter_evicted_while_its_records_wait_in_the_pipeline),
          TEST_ENTRY(scheduler_ticks_at_wall_boundaries),
          TEST_ENTRY(scheduler_jump_fires_the_latest_and_counts_the_rest),
          TEST_ENTRY(period_names_round_trip), TEST_ENTRY(engine_clock_drives_the_scheduler),
          TEST_ENTRY(counters_reach_every_form), TEST_ENTRY(live_series_walk_the_hosts_in_slices),
          TEST_ENTRY(host_apps_series_are_the_largest_ones),
          TEST_ENTRY(loop_turns_are_the_time_between_waits))
