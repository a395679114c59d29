/*
 * Unit tests for the flow, host, interface and network tables, fed records
 * built here, and for the nDPI labels they carry.
 */
#include "engine/engine.h"
#include "tests/unit/runner.h"

typedef struct fixture {
    floe_config cfg;
    floe_log log;
    floe_tables t;
    floe_exporter ex;
    int events[FLOE_EV_COUNT];
} fixture;

static void count_event(void *ud, int ev, floe_flow *f)
{
    fixture *fx = ud;
    (void)f;
    fx->events[ev]++;
}

static void fx_init(fixture *fx, uint32_t max_flows, uint32_t max_hosts)
{
    char err[256];
    memset(fx, 0, sizeof(*fx));
    ASSERT_EQ(floe_config_defaults(&fx->cfg), 0);
    fx->cfg.tables.max_flows = max_flows;
    fx->cfg.tables.max_hosts = max_hosts;
    fx->cfg.tables.flow_idle_timeout = 60;
    floe_log_init(&fx->log, -1, 0);
    ASSERT_EQ(floe_tables_init(&fx->t, &fx->cfg.tables, &fx->log, err, sizeof(err)), 0);
    fx->t.hooks.event = count_event;
    fx->t.hooks.ud = fx;
    fx->t.hooks.wanted = ~0u;
    fx->ex.id = 7;
    floe_addr_parse(&fx->ex.key.addr, "192.0.2.250");
}

static void fx_close(fixture *fx)
{
    floe_tables_close(&fx->t);
    floe_config_free(&fx->cfg);
}

/* A TCP record src:sport -> dst:dport with bytes, packets and flags. */
static floe_record rec(fixture *fx, const char *src, uint16_t sport, const char *dst,
                       uint16_t dport, uint64_t bytes, uint64_t pkts, uint16_t flags)
{
    floe_record r;
    memset(&r, 0, sizeof(r));
    r.exporter_id = fx->ex.id;
    r.exporter = fx->ex.key.addr;
    r.sampling = 1;
    floe_addr_parse(&r.src, src);
    floe_addr_parse(&r.dst, dst);
    r.sport = sport;
    r.dport = dport;
    r.ipproto = 6;
    r.bytes = bytes;
    r.packets = pkts;
    r.tcp_flags = flags;
    r.has = FLOE_F(SRC) | FLOE_F(DST) | FLOE_F(SPORT) | FLOE_F(DPORT) | FLOE_F(IPPROTO) |
            FLOE_F(BYTES) | FLOE_F(PACKETS) | FLOE_F(TCP_FLAGS);
    return r;
}

static floe_flow *only_flow(fixture *fx)
{
    ASSERT_EQ(fx->t.flows.count, 1);
    for (size_t i = 0; i < floe_pool_slots(&fx->t.flow_pool); i++)
        if (floe_pool_at(&fx->t.flow_pool, i))
            return floe_pool_at(&fx->t.flow_pool, i);
    return NULL;
}

static void assert_addr(const floe_addr *a, const char *text)
{
    char buf[FLOE_ADDR_STRLEN];
    ASSERT_STR_EQ(floe_addr_format(a, buf), text);
}

TEST(both_directions_are_one_flow)
{
    fixture fx;
    fx_init(&fx, 100, 100);
    floe_record a = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 443, 1000, 10, 0x1b);
    floe_record b = rec(&fx, "192.0.2.9", 443, "10.0.0.1", 40000, 50000, 40, 0x1b);
    floe_tables_record(&fx.t, &a, 1000);
    floe_tables_record(&fx.t, &b, 2000);
    floe_tables_record(&fx.t, &a, 3000);
    floe_flow *f = only_flow(&fx);
    uint16_t port;
    assert_addr(floe_flow_client(f, &port), "10.0.0.1");
    ASSERT_EQ(port, 40000);
    assert_addr(floe_flow_server(f, &port), "192.0.2.9");
    ASSERT_EQ(port, 443);
    ASSERT_EQ(f->bytes[0], 2000);
    ASSERT_EQ(f->bytes[1], 50000);
    ASSERT_EQ(f->packets[0], 20);
    ASSERT_EQ(f->packets[1], 40);
    ASSERT_EQ(f->records, 3);
    ASSERT_EQ(f->first_ms, 1000);
    ASSERT_EQ(f->last_ms, 3000);
    floe_host *cli = floe_tables_host(&fx.t, &a.src), *srv = floe_tables_host(&fx.t, &a.dst);
    ASSERT(cli && srv);
    /* Hosts catch up with their flows at a flush (once a second live). */
    ASSERT_EQ(fx.t.n_dirty, 1);
    floe_tables_flush(&fx.t);
    ASSERT_EQ(fx.t.n_dirty, 0);
    ASSERT_EQ(cli->bytes_sent, 2000);
    ASSERT_EQ(cli->bytes_rcvd, 50000);
    ASSERT_EQ(srv->bytes_sent, 50000);
    ASSERT_EQ(cli->flows_client, 1);
    ASSERT_EQ(srv->flows_server, 1);
    ASSERT_EQ(srv->active_server, 1);
    ASSERT_EQ(fx.events[FLOE_EV_FLOW_NEW], 1);
    fx_close(&fx);
}

TEST(well_known_port_decides_the_server)
{
    fixture fx;
    fx_init(&fx, 100, 100);
    /* The first record seen is the server's answer. */
    floe_record b = rec(&fx, "192.0.2.9", 22, "10.0.0.1", 51000, 800, 4, 0x18);
    floe_tables_record(&fx.t, &b, 1000);
    floe_flow *f = only_flow(&fx);
    assert_addr(floe_flow_client(f, NULL), "10.0.0.1");
    ASSERT_EQ(f->bytes[1], 800); /* server to client */
    ASSERT_EQ(f->bytes[0], 0);
    fx_close(&fx);
}

/* Every rule that picks a new flow's client, one record each: the
 * expected client follows from the rules as documented (docs/tables.md),
 * not from the code. */
TEST(each_rule_for_the_client_side)
{
    static const struct {
        const char *src;
        uint16_t sport;
        const char *dst;
        uint16_t dport;
        uint8_t ipproto;
        uint16_t flags;
        int src_is_client;
    } cases[] = {
        {"10.0.0.1", 51000, "192.0.2.9", 443, 6, 0x18, 1}, /* only the destination's is a service */
        {"192.0.2.9", 443, "10.0.0.1", 51000, 6, 0x18, 0}, /* only the source's */
        {"10.0.0.1", 443, "192.0.2.9", 53, 17, 0, 1},      /* both: the lower port serves */
        {"192.0.2.9", 53, "10.0.0.1", 443, 17, 0, 0},      /* both, the other way */
        {"10.0.0.1", 123, "192.0.2.9", 123, 17, 0, 1},     /* the same port: first seen */
        {"192.0.2.9", 50000, "10.0.0.1", 40000, 6, 0x10, 1}, /* no service: first seen */
        {"192.0.2.9", 443, "10.0.0.1", 50000, 6, 0x02, 1},   /* a lone SYN beats the ports */
        {"10.0.0.1", 50000, "192.0.2.9", 40000, 6, 0x12, 0}, /* a SYN-ACK comes from the server */
        {"10.0.0.1", 50000, "192.0.2.9", 443, 6, 0x1a, 1},   /* SYN with ACK and PSH: ports */
        {"192.0.2.9", 53, "10.0.0.1", 50000, 17, 0x02, 0},   /* no SYN outside TCP: ports */
    };
    for (size_t i = 0; i < FLOE_ARRAY_LEN(cases); i++) {
        fixture fx;
        fx_init(&fx, 100, 100);
        floe_record r = rec(&fx, cases[i].src, cases[i].sport, cases[i].dst, cases[i].dport, 100, 1,
                            cases[i].flags);
        r.ipproto = cases[i].ipproto;
        floe_tables_record(&fx.t, &r, 1000);
        floe_flow *f = only_flow(&fx);
        uint16_t port;
        assert_addr(floe_flow_client(f, &port),
                    cases[i].src_is_client ? cases[i].src : cases[i].dst);
        ASSERT_EQ(port, cases[i].src_is_client ? cases[i].sport : cases[i].dport);
        ASSERT_EQ(f->dir_certain, (cases[i].flags & 0x3f) == 0x02 || (cases[i].flags & 0x3f) == 0x12
                                      ? (cases[i].ipproto == 6)
                                      : 0);
        fx_close(&fx);
    }
}

TEST(first_seen_then_a_syn_flips_roles)
{
    fixture fx;
    fx_init(&fx, 100, 100);
    /* Both ports ephemeral: the first record's source is taken as client. */
    floe_record x = rec(&fx, "10.0.0.5", 50000, "10.0.0.6", 40000, 100, 1, 0x10);
    floe_tables_record(&fx.t, &x, 1000);
    floe_flow *f = only_flow(&fx);
    assert_addr(floe_flow_client(f, NULL), "10.0.0.5");
    /* Then a lone SYN from the other side: it is the client. */
    floe_record y = rec(&fx, "10.0.0.6", 40000, "10.0.0.5", 50000, 60, 1, 0x02);
    floe_tables_record(&fx.t, &y, 2000);
    floe_tables_flush(&fx.t);
    f = only_flow(&fx);
    assert_addr(floe_flow_client(f, NULL), "10.0.0.6");
    ASSERT_EQ(f->bytes[0], 60);  /* client to server */
    ASSERT_EQ(f->bytes[1], 100); /* the earlier record, now server to client */
    floe_host *h5 = floe_tables_host(&fx.t, &x.src), *h6 = floe_tables_host(&fx.t, &y.src);
    ASSERT_EQ(h6->flows_client, 1);
    ASSERT_EQ(h6->flows_server, 0);
    ASSERT_EQ(h5->flows_server, 1);
    ASSERT_EQ(h5->flows_client, 0);
    ASSERT_EQ(h6->active_client, 1);
    /* Each host sent what it sent, whatever the roles were at the time. */
    ASSERT_EQ(h5->bytes_sent, 100);
    ASSERT_EQ(h6->bytes_sent, 60);
    ASSERT_EQ(h5->bytes_rcvd, 60);
    fx_close(&fx);
}

TEST(counters_scale_by_sampling)
{
    fixture fx;
    fx_init(&fx, 100, 100);
    floe_record a = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 443, 1500, 3, 0x18);
    a.sampling = 512;
    floe_tables_record(&fx.t, &a, 1000);
    floe_flow *f = only_flow(&fx);
    ASSERT_EQ(f->bytes[0], 1500 * 512);
    ASSERT_EQ(f->packets[0], 3 * 512);
    floe_tables_flush(&fx.t);
    ASSERT_EQ(floe_tables_host(&fx.t, &a.dst)->bytes_rcvd, 1500 * 512);
    fx_close(&fx);
}

TEST(idle_flows_end_and_release_hosts)
{
    fixture fx;
    fx_init(&fx, 100, 100);
    floe_record a = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 443, 1, 1, 0x18);
    floe_record b = rec(&fx, "10.0.0.2", 40000, "192.0.2.9", 443, 1, 1, 0x18);
    floe_tables_record(&fx.t, &a, 1000);
    floe_tables_record(&fx.t, &b, 30000);
    ASSERT_EQ(floe_tables_expire(&fx.t, 60999), 0);
    ASSERT_EQ(floe_tables_expire(&fx.t, 61000), 1); /* a: idle 60 s */
    ASSERT_EQ(fx.t.flows.count, 1);
    ASSERT_EQ(fx.events[FLOE_EV_FLOW_END], 1);
    floe_host *srv = floe_tables_host(&fx.t, &a.dst);
    ASSERT_EQ(srv->active_server, 1);
    ASSERT_EQ(srv->flows_server, 2);
    ASSERT_EQ(floe_tables_expire(&fx.t, 90000), 1);
    ASSERT_EQ(srv->active_server, 0);
    ASSERT_EQ(fx.t.st.flows_idle, 2);
    fx_close(&fx);
}

TEST(exporter_end_reason_ends_the_flow)
{
    fixture fx;
    fx_init(&fx, 100, 100);
    floe_record a = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 443, 1, 1, 0x19);
    a.has |= FLOE_F(END_REASON);
    a.end_reason = 2; /* active timeout: the conversation goes on */
    floe_tables_record(&fx.t, &a, 1000);
    ASSERT_EQ(fx.t.flows.count, 1);
    a.end_reason = 3; /* end of flow detected */
    floe_tables_record(&fx.t, &a, 2000);
    ASSERT_EQ(fx.t.flows.count, 0);
    ASSERT_EQ(fx.t.st.flows_exporter_end, 1);
    fx_close(&fx);
}

TEST(flow_bound_evicts_oldest_and_never_grows)
{
    fixture fx;
    fx_init(&fx, 10, 100000);
    char src[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(src, sizeof(src), "10.0.%d.%d", i / 250, i % 250 + 1);
        floe_record a = rec(&fx, src, 40000, "192.0.2.9", 443, 1, 1, 0x18);
        floe_tables_record(&fx.t, &a, 1000 + (uint64_t)i);
        ASSERT_LE(fx.t.flows.count, 10);
        ASSERT_LE(fx.t.flow_pool.live, 10);
    }
    ASSERT_EQ(fx.t.st.flow_evictions, 990);
    ASSERT_EQ(fx.t.st.flows_created, 1000);
    /* The survivors are the newest ten. */
    floe_record last = rec(&fx, "10.0.3.250", 40000, "192.0.2.9", 443, 1, 1, 0x18);
    floe_tables_record(&fx.t, &last, 5000);
    ASSERT_EQ(fx.t.st.flows_created, 1000);
    fx_close(&fx);
}

/* Flows that end before their flush leave their entry in the flush queue;
 * a later flow may take their memory. Every byte still reaches the hosts
 * exactly once, and the queue's count comes back to zero. */
TEST(flushes_skip_flows_that_ended_and_count_once)
{
    fixture fx;
    fx_init(&fx, 4, 1000);
    char src[32];
    uint64_t sent = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(src, sizeof(src), "10.0.0.%d", i + 1);
        floe_record a = rec(&fx, src, 40000, "192.0.2.9", 443, 100 + (uint64_t)i, 1, 0x18);
        floe_tables_record(&fx.t, &a, 1000 + (uint64_t)i);
        sent += 100 + (uint64_t)i;
        if (i % 3 == 0) /* and a second record for some: a flow dirtied twice */
            floe_tables_record(&fx.t, &a, 1000 + (uint64_t)i), sent += 100 + (uint64_t)i;
        ASSERT_LE(fx.t.n_dirty, 4);
    }
    ASSERT_EQ(fx.t.st.flow_evictions, 36);
    floe_addr srv;
    floe_addr_parse(&srv, "192.0.2.9");
    /* A flow's first record reached the hosts at once, and the 36 evicted
     * flows the rest at their end; of the last four, the two with a second
     * record (36 and 39) wait. */
    ASSERT_EQ(fx.t.n_dirty, 2);
    ASSERT(floe_tables_host(&fx.t, &srv)->bytes_rcvd < sent);
    while (floe_tables_housekeep(&fx.t, 1000 + 40 + FLOE_FLUSH_AGE_MS, 7) == 7)
        ;
    ASSERT_EQ(fx.t.n_dirty, 0);
    ASSERT_EQ(floe_tables_host(&fx.t, &srv)->bytes_rcvd, sent);
    ASSERT_EQ(fx.t.st.bytes, sent);
    floe_tables_flush(&fx.t);
    ASSERT_EQ(floe_tables_host(&fx.t, &srv)->bytes_rcvd, sent);
    fx_close(&fx);
}

TEST(eviction_spares_flows_with_recent_records)
{
    fixture fx;
    fx_init(&fx, 3, 100);
    floe_record f1 = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 443, 1, 1, 0x18);
    floe_record f2 = rec(&fx, "10.0.0.2", 40000, "192.0.2.9", 443, 1, 1, 0x18);
    floe_record f3 = rec(&fx, "10.0.0.3", 40000, "192.0.2.9", 443, 1, 1, 0x18);
    floe_record f4 = rec(&fx, "10.0.0.4", 40000, "192.0.2.9", 443, 1, 1, 0x18);
    floe_tables_record(&fx.t, &f1, 1000);
    floe_tables_record(&fx.t, &f2, 2000);
    floe_tables_record(&fx.t, &f3, 3000);
    floe_tables_record(&fx.t, &f1, 4000); /* f1 is now the most recent */
    floe_tables_record(&fx.t, &f4, 5000); /* evicts f2, the least recently updated */
    ASSERT_EQ(fx.t.st.flow_evictions, 1);
    floe_tables_flush(&fx.t);
    ASSERT_EQ(floe_tables_host(&fx.t, &f2.src)->active_client, 0);
    ASSERT_EQ(floe_tables_host(&fx.t, &f1.src)->active_client, 1);
    /* Idle expiry by the same order: at 63.5 s only f3 has been idle 60 s. */
    ASSERT_EQ(floe_tables_expire(&fx.t, 63500), 1);
    ASSERT_EQ(floe_tables_host(&fx.t, &f3.src)->active_client, 0);
    ASSERT_EQ(floe_tables_host(&fx.t, &f1.src)->active_client, 1);
    ASSERT_EQ(floe_tables_expire(&fx.t, 65000), 2);
    fx_close(&fx);
}

TEST(eviction_takes_flows_idle_for_half_their_wait)
{
    fixture fx;
    fx_init(&fx, 2, 100);
    floe_record f1 = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 443, 1, 1, 0x18);
    floe_record f2 = rec(&fx, "10.0.0.2", 40000, "192.0.2.9", 443, 1, 1, 0x18);
    floe_record f3 = rec(&fx, "10.0.0.3", 40000, "192.0.2.9", 443, 1, 1, 0x18);
    floe_tables_record(&fx.t, &f1, 1000);
    floe_tables_record(&fx.t, &f1, 1100); /* newer than its place, but long ago */
    floe_tables_record(&fx.t, &f2, 2000);
    floe_tables_record(&fx.t, &f3, 10000); /* f1 waited 9 s, idle for 8.9 of them */
    ASSERT_EQ(fx.t.st.flow_evictions, 1);
    ASSERT(floe_tables_host(&fx.t, &f1.src)->active_client == 0);
    ASSERT(floe_tables_host(&fx.t, &f2.src)->active_client == 1);
    fx_close(&fx);
}

TEST(exporter_ended_flows_cannot_fill_the_order_ring)
{
    fixture fx;
    fx_init(&fx, 4, 1000); /* an order ring of 16 places */
    floe_record lasting = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 443, 1, 1, 0x18);
    floe_tables_record(&fx.t, &lasting, 1000);
    char src[32];
    for (int i = 0; i < 200; i++) {
        snprintf(src, sizeof(src), "10.1.%d.%d", i / 200, i % 200 + 1);
        floe_record a = rec(&fx, src, 40000, "192.0.2.9", 443, 1, 1, 0x18);
        a.has |= FLOE_F(END_REASON);
        a.end_reason = 3;
        floe_tables_record(&fx.t, &a, 1001 + (uint64_t)i);
        ASSERT_LE(fx.t.flow_lru.tail - fx.t.flow_lru.head, fx.t.flow_lru.mask + 1);
    }
    ASSERT_EQ(fx.t.st.flows_exporter_end, 200);
    ASSERT_EQ(fx.t.st.flow_evictions, 0);
    ASSERT_EQ(fx.t.flows.count, 1);
    floe_tables_record(&fx.t, &lasting, 2000); /* still the same flow */
    ASSERT_EQ(fx.t.st.flows_created, 201);
    ASSERT_EQ(only_flow(&fx)->records, 2);
    ASSERT_EQ(floe_tables_expire(&fx.t, 2000 + 61000), 1); /* and it still idles out */
    fx_close(&fx);
}

TEST(housekeeping_works_in_bounded_slices)
{
    fixture fx;
    char src[32];
    fx_init(&fx, 1000, 2000);
    /* A new flow's first record reaches its hosts at once; the second waits
     * for the flush. */
    for (int i = 0; i < 100; i++) {
        snprintf(src, sizeof(src), "10.0.1.%d", i + 1);
        floe_record a = rec(&fx, src, 40000, "192.0.2.9", 443, 10, 1, 0x18);
        floe_tables_record(&fx.t, &a, 1000);
        floe_tables_record(&fx.t, &a, 1000);
    }
    floe_addr srv;
    floe_addr_parse(&srv, "192.0.2.9");
    ASSERT_EQ(floe_tables_host(&fx.t, &srv)->bytes_rcvd, 1000);
    ASSERT_EQ(fx.t.n_dirty, 100);
    /* Under a second old: nothing is due yet. */
    ASSERT_EQ(floe_tables_housekeep(&fx.t, 1999, 30), 0);
    ASSERT_EQ(floe_tables_host(&fx.t, &srv)->bytes_rcvd, 1000);
    /* Due: the flushes come 30 at a time. */
    ASSERT_EQ(floe_tables_housekeep(&fx.t, 2000, 30), 30);
    ASSERT_EQ(floe_tables_host(&fx.t, &srv)->bytes_rcvd, 1300);
    while (floe_tables_housekeep(&fx.t, 2000, 30) == 30)
        ;
    ASSERT_EQ(floe_tables_host(&fx.t, &srv)->bytes_rcvd, 2000);
    ASSERT_EQ(fx.t.flows.count, 100);
    /* Idle past 60 s: the flows end in slices too. */
    ASSERT_EQ(floe_tables_housekeep(&fx.t, 61000, 40), 40);
    ASSERT_EQ(fx.t.flows.count, 60);
    while (floe_tables_housekeep(&fx.t, 61000, 40) == 40)
        ;
    ASSERT_EQ(fx.t.flows.count, 0);
    fx_close(&fx);
}

/* Periodic updates fire every interval from a flow's first record while it
 * gets records (its first record counts for its first interval); an idle
 * flow gets none, and an ended flow leaves the queue. */
TEST(periodic_updates_fire_for_active_flows)
{
    fixture fx;
    fx_init(&fx, 100, 100);
    ASSERT_EQ(floe_tables_set_periodic(&fx.t, 10000), 0);
    floe_record a = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 443, 1, 1, 0x18);
    floe_record b = rec(&fx, "10.0.0.2", 40000, "192.0.2.9", 443, 1, 1, 0x18);
    floe_tables_record(&fx.t, &a, 1000);
    floe_tables_record(&fx.t, &b, 1000);
    floe_tables_record(&fx.t, &a, 5000); /* a is active in its first interval */
    floe_tables_housekeep(&fx.t, 10999, 100);
    ASSERT_EQ(fx.events[FLOE_EV_PERIODIC_UPDATE], 0);
    floe_tables_housekeep(&fx.t, 11000, 100); /* both: their first interval */
    ASSERT_EQ(fx.events[FLOE_EV_PERIODIC_UPDATE], 2);
    floe_tables_housekeep(&fx.t, 21000, 100); /* neither had a record since */
    ASSERT_EQ(fx.events[FLOE_EV_PERIODIC_UPDATE], 2);
    floe_tables_record(&fx.t, &a, 25000);
    floe_tables_record(&fx.t, &b, 26000);
    floe_tables_housekeep(&fx.t, 31000, 100);
    ASSERT_EQ(fx.events[FLOE_EV_PERIODIC_UPDATE], 4);
    ASSERT_EQ(fx.t.st.periodic_updates, 4);
    /* a ends by its exporter's word: it must not be fired again. */
    a.has |= FLOE_F(END_REASON);
    a.end_reason = 3;
    floe_tables_record(&fx.t, &a, 35000);
    floe_tables_record(&fx.t, &b, 36000);
    floe_tables_housekeep(&fx.t, 41000, 100);
    ASSERT_EQ(fx.events[FLOE_EV_PERIODIC_UPDATE], 5);
    ASSERT_EQ(floe_tables_set_periodic(&fx.t, 0), 0);
    floe_tables_record(&fx.t, &b, 46000);
    floe_tables_housekeep(&fx.t, 51000, 100);
    ASSERT_EQ(fx.events[FLOE_EV_PERIODIC_UPDATE], 5);
    fx_close(&fx);
}

static void count_tap(void *ud, int ev, floe_flow *f)
{
    int *events = ud;
    (void)f;
    events[ev]++;
}

/* The tap (the history export) hears flowEnd and periodicUpdate beside the
 * hooks; the periodic update fires at the smaller interval asked for; and
 * the flow keeps the AS numbers of its first record by endpoint. */
TEST(tap_hears_ends_and_periodic_updates_at_the_smaller_interval)
{
    fixture fx;
    int tap[FLOE_EV_COUNT] = {0};
    fx_init(&fx, 100, 100);
    fx.t.tap.event = count_tap;
    fx.t.tap.ud = tap;
    fx.t.tap.wanted = ~0u;
    ASSERT_EQ(floe_tables_set_periodic(&fx.t, 30000), 0);
    ASSERT_EQ(floe_tables_set_tap_periodic(&fx.t, 10000), 0);
    ASSERT_U64_EQ(fx.t.periodic_ms, 10000);
    floe_record a = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 443, 1, 1, 0x18);
    a.src_as = 64500;
    a.dst_as = 15169;
    a.has |= FLOE_F(SRC_AS) | FLOE_F(DST_AS);
    floe_tables_record(&fx.t, &a, 1000);
    const floe_flow *f = only_flow(&fx);
    ASSERT_EQ(floe_flow_asn(&fx.t, f, !f->cli_is_a), 64500); /* the client's */
    ASSERT_EQ(floe_flow_asn(&fx.t, f, f->cli_is_a), 15169);
    floe_tables_record(&fx.t, &a, 5000);
    floe_tables_housekeep(&fx.t, 11000, 100);
    ASSERT_EQ(tap[FLOE_EV_PERIODIC_UPDATE], 1);
    ASSERT_EQ(fx.events[FLOE_EV_PERIODIC_UPDATE], 1);
    ASSERT_EQ(tap[FLOE_EV_FLOW_NEW], 0); /* not on the record path */
    ASSERT_EQ(fx.events[FLOE_EV_FLOW_NEW], 1);
    /* Without the tap's request the plugins' interval applies again. */
    ASSERT_EQ(floe_tables_set_tap_periodic(&fx.t, 0), 0);
    ASSERT_U64_EQ(fx.t.periodic_ms, 30000);
    ASSERT_EQ(floe_tables_set_tap_periodic(&fx.t, 60000), 0);
    ASSERT_U64_EQ(fx.t.periodic_ms, 30000);
    floe_tables_end_all(&fx.t);
    ASSERT_EQ(tap[FLOE_EV_FLOW_END], 1);
    ASSERT_EQ(fx.events[FLOE_EV_FLOW_END], 1);
    fx_close(&fx);
}

TEST(host_bound_spares_hosts_with_flows)
{
    fixture fx;
    fx_init(&fx, 100, 4);
    floe_record a = rec(&fx, "10.0.0.1", 40000, "10.0.0.2", 443, 1, 1, 0x18);
    floe_record b = rec(&fx, "10.0.0.3", 40000, "10.0.0.4", 443, 1, 1, 0x18);
    floe_record c = rec(&fx, "10.0.0.5", 40000, "10.0.0.6", 443, 1, 1, 0x18);
    floe_tables_record(&fx.t, &a, 1000);
    floe_tables_record(&fx.t, &b, 1000);
    floe_tables_record(&fx.t, &c, 1000); /* every host is busy: c's hosts go untracked */
    ASSERT_EQ(fx.t.hosts.count, 4);
    ASSERT_EQ(fx.t.st.host_full, 2);
    ASSERT_EQ(fx.t.flows.count, 3);
    floe_tables_expire(&fx.t, 1000 + 60000); /* all idle now */
    floe_tables_record(&fx.t, &c, 70000);
    ASSERT_EQ(fx.t.hosts.count, 4);
    ASSERT_EQ(fx.t.st.host_evictions, 2);
    ASSERT(floe_tables_host(&fx.t, &c.src) != NULL);
    ASSERT(floe_tables_host(&fx.t, &a.src) == NULL);
    fx_close(&fx);
}

TEST(networks_count_in_out_inner)
{
    fixture fx;
    fx_init(&fx, 100, 100);
    floe_record out = rec(&fx, "10.1.1.1", 40000, "198.51.100.1", 443, 100, 1, 0x18);
    floe_record in = rec(&fx, "198.51.100.1", 443, "10.1.1.1", 40000, 700, 2, 0x18);
    floe_record inner = rec(&fx, "10.1.1.1", 40001, "10.2.2.2", 22, 50, 1, 0x18);
    floe_record v6 = rec(&fx, "fd00::1", 40000, "2001:db8::1", 443, 9, 1, 0x18);
    floe_tables_record(&fx.t, &out, 1);
    floe_tables_record(&fx.t, &in, 2);
    floe_tables_record(&fx.t, &inner, 3);
    floe_tables_record(&fx.t, &v6, 4);
    floe_tables_flush(&fx.t);
    const floe_net *n10 = &fx.t.nets[0], *ula = &fx.t.nets[3];
    ASSERT_STR_EQ(n10->name, "10.0.0.0/8");
    ASSERT_EQ(n10->bytes_out, 100);
    ASSERT_EQ(n10->bytes_in, 700);
    ASSERT_EQ(n10->bytes_inner, 50);
    ASSERT_EQ(n10->hosts, 2);
    ASSERT_EQ(ula->bytes_out, 9);
    ASSERT(floe_tables_host(&fx.t, &out.dst)->net < 0);
    fx_close(&fx);
}

TEST(interfaces_count_in_and_out)
{
    fixture fx;
    fx_init(&fx, 100, 100);
    floe_record a = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 443, 100, 1, 0x18);
    a.has |= FLOE_F(IN_IF) | FLOE_F(OUT_IF);
    a.in_if = 3;
    a.out_if = 4;
    floe_tables_record(&fx.t, &a, 1);
    floe_tables_record(&fx.t, &a, 2);
    /* The answer comes back in on 4 and out on 3, as its own record says. */
    floe_record b = rec(&fx, "192.0.2.9", 443, "10.0.0.1", 40000, 1000, 1, 0x18);
    b.has |= FLOE_F(IN_IF) | FLOE_F(OUT_IF);
    b.in_if = 4;
    b.out_if = 3;
    floe_tables_record(&fx.t, &b, 3);
    floe_tables_flush(&fx.t);
    ASSERT_EQ(fx.t.ifaces.count, 2);
    for (size_t i = 0; i < floe_pool_slots(&fx.t.iface_pool); i++) {
        const floe_iface *f = floe_pool_at(&fx.t.iface_pool, i);
        if (!f)
            continue;
        ASSERT_EQ(f->exporter, 7);
        ASSERT_EQ(f->ifindex == 3 ? f->bytes_in : f->bytes_out, 200);
        ASSERT_EQ(f->ifindex == 3 ? f->bytes_out : f->bytes_in, 1000);
    }
    fx_close(&fx);
}

/* The interface ifindex of the fixture's exporter, or NULL. */
static const floe_iface *find_iface(fixture *fx, uint32_t ifindex)
{
    for (size_t i = 0; i < floe_pool_slots(&fx->t.iface_pool); i++) {
        const floe_iface *f = floe_pool_at(&fx->t.iface_pool, i);
        if (f && f->ifindex == ifindex)
            return f;
    }
    return NULL;
}

TEST(interfaces_least_recently_updated_go_first)
{
    fixture fx;
    char err[256];
    fx_init(&fx, 100, 100);
    floe_tables_close(&fx.t);
    fx.cfg.tables.max_interfaces = 3;
    ASSERT_EQ(floe_tables_init(&fx.t, &fx.cfg.tables, &fx.log, err, sizeof(err)), 0);
    /* One flow a millisecond, each in on one interface: 1, 2, 3, 1 again,
     * then 4, which takes the place of 2, and 2, which takes 3's. */
    static const uint32_t ifs[] = {1, 2, 3, 1, 4, 2};
    for (uint16_t k = 0; k < 6; k++) {
        floe_record a =
            rec(&fx, "10.0.0.1", (uint16_t)(40000 + k), "192.0.2.9", 443, 100 + k, 1, 0x18);
        a.has |= FLOE_F(IN_IF);
        a.in_if = ifs[k];
        floe_tables_record(&fx.t, &a, 1 + k);
        floe_tables_flush(&fx.t);
    }
    ASSERT_EQ(fx.t.ifaces.count, 3);
    ASSERT_EQ(fx.t.st.iface_evictions, 2);
    ASSERT(find_iface(&fx, 3) == NULL);
    ASSERT_EQ(find_iface(&fx, 1)->bytes_in, 100 + 103);
    ASSERT_EQ(find_iface(&fx, 4)->bytes_in, 104);
    ASSERT_EQ(find_iface(&fx, 2)->bytes_in, 105); /* a new one: 101 went with the old */
    fx_close(&fx);
}

static const char *label(fixture *fx, const floe_flow *f, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", floe_dpi_app_name(fx->t.dpi, f->app.app),
             floe_app_source_name(f->app_source));
    return buf;
}

TEST(dpi_ip_list_labels_google)
{
    fixture fx;
    char buf[64];
    fx_init(&fx, 100, 100);
    floe_record a = rec(&fx, "10.0.0.1", 40000, "8.8.8.8", 443, 100, 1, 0x18);
    floe_tables_record(&fx.t, &a, 1);
    floe_flow *f = only_flow(&fx);
    ASSERT_STR_EQ(label(&fx, f, buf, sizeof(buf)), "Google/guess");
    ASSERT_STR_EQ(floe_dpi_app_name(fx.t.dpi, f->app.master), "TLS");
    fx_close(&fx);
}

TEST(exporter_l7_proto_wins_over_the_port_guess)
{
    fixture fx;
    char buf[64];
    floe_app_label netflix;
    fx_init(&fx, 100, 100);
    ASSERT_EQ(floe_dpi_by_name(fx.t.dpi, "NetFlix", &netflix), 0);
    floe_record a = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 80, 100, 1, 0x18);
    a.has |= FLOE_F(L7_PROTO);
    a.l7_proto = netflix.app;
    floe_tables_record(&fx.t, &a, 1);
    ASSERT_STR_EQ(label(&fx, only_flow(&fx), buf, sizeof(buf)), "NetFlix/exporter");
    fx_close(&fx);
}

TEST(ie95_ntop_selector_wins_over_the_port_guess)
{
    fixture fx;
    char buf[64];
    floe_app_label skype;
    fx_init(&fx, 100, 100);
    ASSERT_EQ(floe_dpi_by_name(fx.t.dpi, "Skype_Teams", &skype), 0);
    floe_record a = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 443, 100, 1, 0x18);
    a.has |= FLOE_F(APP);
    a.app_id.engine = 20; /* PANA-L7-PEN: 4-byte PEN, then the id */
    a.app_id.selector_len = 6;
    a.app_id.selector = ((uint64_t)35632 << 16) | skype.app;
    floe_tables_record(&fx.t, &a, 1);
    ASSERT_STR_EQ(label(&fx, only_flow(&fx), buf, sizeof(buf)), "Skype_Teams/exporter");
    fx_close(&fx);
}

TEST(ie95_named_by_the_exporter_maps_to_ndpi)
{
    fixture fx;
    char buf[64];
    fx_init(&fx, 100, 100);
    floe_app nbar = {13, 3, 0x1c5}; /* Cisco NBAR2 engine, a 3-byte selector */
    floe_appname name = {fx.ex.id, fx.ex.key.addr, 0, nbar, "ssl\0\0\0\0\0", 8};
    floe_tables_appname(&fx.t, &name);
    floe_record a = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 80, 100, 1, 0x18);
    a.has |= FLOE_F(APP);
    a.app_id = nbar;
    floe_tables_record(&fx.t, &a, 1);
    ASSERT_STR_EQ(label(&fx, only_flow(&fx), buf, sizeof(buf)), "TLS/exporter");
    /* The same id from another exporter is unknown there: port guess. */
    floe_exporter other = fx.ex;
    other.id = 8;
    floe_record b = rec(&fx, "10.0.0.2", 40000, "192.0.2.9", 80, 100, 1, 0x18);
    b.exporter_id = other.id;
    b.has |= FLOE_F(APP);
    b.app_id = nbar;
    floe_tables_record(&fx.t, &b, 2);
    floe_tables_flush(&fx.t);
    floe_host *h = floe_tables_host(&fx.t, &b.src);
    ASSERT(h != NULL);
    ASSERT_STR_EQ(floe_dpi_app_name(fx.t.dpi, h->top_bytes[0] ? h->top_app[0] : h->top_app[1]),
                  "HTTP");
    fx_close(&fx);
}

/* An Ethernet + IPv4 + TCP header carrying an HTTP request to port 8080. */
static size_t http_sample(uint8_t *p)
{
    static const char req[] = "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n"
                              "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    size_t plen = sizeof(req) - 1, ip_len = 20 + 20 + plen;
    memset(p, 0, 14 + ip_len);
    p[12] = 0x08;
    uint8_t *ip = p + 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)(ip_len >> 8);
    ip[3] = (uint8_t)ip_len;
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, (uint8_t[]){10, 0, 0, 1}, 4);
    memcpy(ip + 16, (uint8_t[]){192, 0, 2, 80}, 4);
    uint8_t *tcp = ip + 20;
    tcp[0] = 40000 >> 8, tcp[1] = 40000 & 255;
    tcp[2] = 8080 >> 8, tcp[3] = 8080 & 255;
    tcp[12] = 5 << 4;
    tcp[13] = 0x18;
    tcp[14] = 0xff;
    memcpy(tcp + 20, req, plen);
    return 14 + ip_len;
}

/* A record from src with the HTTP request as its sampled header (n bytes
 * of pkt, from http_sample). */
static floe_record sampled_rec(fixture *fx, const char *src, const uint8_t *pkt, size_t n)
{
    floe_record r = rec(fx, src, 40000, "192.0.2.80", 8080, n, 1, 0x18);
    r.sampled = pkt;
    r.sampled_len = (uint32_t)n;
    r.sampled_proto = 1;
    return r;
}

TEST(sflow_sampled_http_on_8080_is_labelled_from_payload)
{
    fixture fx;
    char buf[64];
    uint8_t pkt[256];
    fx_init(&fx, 100, 100);
    size_t n = http_sample(pkt);
    floe_record a = sampled_rec(&fx, "10.0.0.1", pkt, n);
    a.proto = FLOE_PROTO_SFLOW;
    a.sampling = 1000;
    floe_tables_record(&fx.t, &a, 1);
    ASSERT_STR_EQ(label(&fx, only_flow(&fx), buf, sizeof(buf)), "HTTP/dpi");
    ASSERT_EQ(fx.t.st.dpi_detected, 1);
    ASSERT_EQ(floe_dpi_states(fx.t.dpi), 0); /* released once detected */
    fx_close(&fx);
}

TEST(dpi_skips_empty_payloads_and_keeps_to_its_budget)
{
    fixture fx;
    uint8_t pkt[256];
    fx_init(&fx, 100, 100);
    fx.t.dpi_max_rate = 1;
    size_t n = http_sample(pkt);
    /* Headers only (cut right after TCP): nothing to dissect. */
    floe_record a = sampled_rec(&fx, "10.0.0.1", pkt, n);
    a.sampled_len = 14 + 20 + 20;
    floe_tables_record(&fx.t, &a, 1000);
    ASSERT_EQ(fx.t.st.dpi_no_payload, 1);
    ASSERT_EQ(fx.t.st.dpi_packets, 0);
    /* With payload: the one dissection the budget holds (1 a second). */
    a.sampled_len = (uint32_t)n;
    floe_tables_record(&fx.t, &a, 1001);
    ASSERT_EQ(fx.t.st.dpi_packets, 1);
    /* Another flow half a second later is over budget and keeps its guess. */
    floe_record b = sampled_rec(&fx, "10.0.0.2", pkt, n);
    floe_tables_record(&fx.t, &b, 1500);
    ASSERT_EQ(fx.t.st.dpi_over_budget, 1);
    ASSERT_EQ(fx.t.st.dpi_packets, 1);
    /* A second after the first, the budget has one again. */
    floe_tables_record(&fx.t, &b, 2000);
    ASSERT_EQ(fx.t.st.dpi_packets, 2);
    fx_close(&fx);
}

/* count new flows from 10.net.x.y, each with an HTTP sampled header, at now. */
static void new_sampled_flows(fixture *fx, const uint8_t *pkt, size_t n, int net, int count,
                              uint64_t now)
{
    char src[32];
    for (int i = 0; i < count; i++) {
        snprintf(src, sizeof(src), "10.%d.%d.%d", net, i / 200, i % 200 + 1);
        floe_record a = sampled_rec(fx, src, pkt, n);
        floe_tables_record(&fx->t, &a, now);
    }
}

/* The budget is spread over the second: a burst gets a tenth of a second's
 * worth at once, and the rest as the clock moves. */
TEST(dpi_budget_is_spread_over_the_second)
{
    fixture fx;
    uint8_t pkt[256];
    fx_init(&fx, 5000, 1000);
    fx.t.dpi_max_rate = 1000;
    size_t n = http_sample(pkt);
    new_sampled_flows(&fx, pkt, n, 0, 500, 100000); /* 500 in one millisecond */
    ASSERT_EQ(fx.t.st.dpi_packets, 101);            /* 100 ms of 1000 a second, and one */
    ASSERT_EQ(fx.t.st.dpi_over_budget, 399);
    new_sampled_flows(&fx, pkt, n, 1, 50, 100020); /* 20 ms on: 20 more */
    ASSERT_EQ(fx.t.st.dpi_packets, 121);
    fx_close(&fx);
}

/* protocolDetected fires once: at a NetFlow flow's first record; for sFlow
 * samples that nDPI dissects, at its verdict; for samples nDPI cannot
 * settle, after dpi.packets records or at the flow's end. */
TEST(protocol_detected_fires_once_when_the_app_is_known)
{
    fixture fx;
    uint8_t pkt[256];
    fx_init(&fx, 100, 100);
    floe_record a = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 443, 100, 1, 0x18);
    floe_tables_record(&fx.t, &a, 1);
    floe_tables_record(&fx.t, &a, 2);
    ASSERT_EQ(fx.events[FLOE_EV_PROTOCOL_DETECTED], 1);
    /* An sFlow sample with an HTTP request: at nDPI's verdict, once. */
    size_t n = http_sample(pkt);
    floe_record s = sampled_rec(&fx, "10.0.0.1", pkt, n);
    floe_tables_record(&fx.t, &s, 3);
    ASSERT_EQ(fx.events[FLOE_EV_PROTOCOL_DETECTED], 2);
    floe_tables_record(&fx.t, &s, 4);
    ASSERT_EQ(fx.events[FLOE_EV_PROTOCOL_DETECTED], 2);
    /* Samples without payload: nothing to settle it until dpi.packets
     * records have come (8 by default). */
    floe_record e = rec(&fx, "10.0.0.3", 40001, "192.0.2.80", 8080, n, 1, 0x10);
    e.sampled = pkt;
    e.sampled_len = 14 + 20 + 20;
    e.sampled_proto = 1;
    for (int i = 0; i < 7; i++)
        floe_tables_record(&fx.t, &e, 10 + (uint64_t)i);
    ASSERT_EQ(fx.events[FLOE_EV_PROTOCOL_DETECTED], 2);
    floe_tables_record(&fx.t, &e, 20);
    ASSERT_EQ(fx.events[FLOE_EV_PROTOCOL_DETECTED], 3);
    /* One that ends first gets it just before its end. */
    floe_record g = e;
    floe_addr_parse(&g.src, "10.0.0.4");
    floe_tables_record(&fx.t, &g, 30);
    ASSERT_EQ(fx.events[FLOE_EV_PROTOCOL_DETECTED], 3);
    floe_tables_end_all(&fx.t);
    ASSERT_EQ(fx.events[FLOE_EV_PROTOCOL_DETECTED], 4);
    ASSERT_EQ(fx.events[FLOE_EV_FLOW_END], 4);
    fx_close(&fx);
}

static const char *status_key(void *ud, uint32_t id)
{
    (void)ud;
    return id == 7 ? "p.seven" : id == 9 ? "p.nine" : NULL;
}

TEST(statuses_score_flows_and_hosts)
{
    fixture fx;
    fx_init(&fx, 100, 100);
    fx.t.names.status = status_key;
    floe_record a = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 443, 100, 1, 0x18);
    floe_tables_record(&fx.t, &a, 1);
    floe_flow *f = only_flow(&fx);
    floe_host *cli = floe_tables_host(&fx.t, &a.src), *srv = floe_tables_host(&fx.t, &a.dst);
    ASSERT_EQ(floe_flow_set_status(f, 7, 100, "{\"port\":443}"), 1);
    ASSERT_EQ(floe_flow_set_status(f, 9, 250, NULL), 1);
    ASSERT_EQ(f->score, 350);
    ASSERT_EQ(floe_flow_predominant(f)->id, 9);
    ASSERT_EQ(cli->score, 350);
    ASSERT_EQ(srv->score, 350);
    ASSERT_EQ(floe_flow_set_status(f, 9, 50, NULL), 0); /* an update, not a second one */
    ASSERT_EQ(f->score, 150);
    ASSERT_EQ(floe_flow_predominant(f)->id, 7);
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_flow_json(&j, &fx.t, f);
    ASSERT_CONTAINS(b.data, "\"status\":\"p.seven\"");
    ASSERT_CONTAINS(b.data, "{\"key\":\"p.seven\",\"score\":100,\"info\":{\"port\":443}}");
    ASSERT_CONTAINS(b.data, "{\"key\":\"p.nine\",\"score\":50,\"info\":null}");
    floe_buf_close(&b);
    ASSERT_EQ(floe_flow_clear_status(f, 7), 1);
    ASSERT_EQ(floe_flow_clear_status(f, 7), 0);
    ASSERT(floe_flow_status_find(f, 7) == NULL);
    ASSERT_EQ(f->score, 50);
    /* A bounded set. */
    for (uint32_t id = 100; id < 100 + FLOE_FLOW_STATUSES - 1; id++)
        ASSERT_EQ(floe_flow_set_status(f, id, 1, NULL), 1);
    ASSERT_EQ(floe_flow_set_status(f, 999, 1, NULL), FLOE_ELIMIT);
    /* The flow's end takes its score off its hosts. */
    floe_tables_end_all(&fx.t);
    ASSERT_EQ(cli->score, 0);
    ASSERT_EQ(srv->score, 0);
    fx_close(&fx);
}

TEST(exporter_risks_and_retransmissions_reach_flows_and_hosts)
{
    fixture fx;
    fx_init(&fx, 100, 100);
    floe_record a = rec(&fx, "10.0.0.1", 40000, "192.0.2.9", 443, 100, 10, 0x18);
    a.has |= FLOE_F(L7_RISK) | FLOE_F(RETRANS_IN) | FLOE_F(RETRANS_OUT);
    a.l7_risk = (uint64_t)1 << 9; /* tls_certificate_expired */
    a.retrans_in = 3;
    a.retrans_out = 5;
    floe_tables_record(&fx.t, &a, 1);
    floe_flow *f = only_flow(&fx);
    ASSERT_U64_EQ(f->risk, (uint64_t)1 << 9);
    ASSERT_STR_EQ(floe_dpi_risk_name(9), "tls_certificate_expired");
    ASSERT_EQ(floe_dpi_risk_parse("tls_certificate_expired"), 9);
    ASSERT_EQ(floe_dpi_risk_score(9), 100);
    floe_tables_flush(&fx.t);
    floe_host *cli = floe_tables_host(&fx.t, &a.src), *srv = floe_tables_host(&fx.t, &a.dst);
    ASSERT_EQ(cli->retrans_sent, 3);
    ASSERT_EQ(cli->retrans_rcvd, 5);
    ASSERT_EQ(srv->retrans_sent, 5);
    ASSERT_EQ(srv->retrans_rcvd, 3);
    floe_tables_record(&fx.t, &a, 2);
    floe_tables_flush(&fx.t);
    ASSERT_EQ(cli->retrans_sent, 6); /* only what is new since the last flush */
    fx_close(&fx);
}

TEST(host_top_apps_keep_the_largest)
{
    fixture fx;
    fx_init(&fx, 1000, 1000);
    char dst[32];
    /* Ten destinations with ten different guessed apps (by port), one host. */
    static const uint16_t ports[] = {22, 25, 53, 80, 110, 143, 443, 3306, 5432, 6379};
    for (int i = 0; i < 10; i++) {
        snprintf(dst, sizeof(dst), "192.0.2.%d", i + 1);
        floe_record a =
            rec(&fx, "10.0.0.1", 40000, dst, ports[i], (uint64_t)(i + 1) * 1000, 1, 0x18);
        floe_tables_record(&fx.t, &a, 1);
    }
    floe_tables_flush(&fx.t);
    floe_addr h;
    floe_addr_parse(&h, "10.0.0.1");
    const floe_host *host = floe_tables_host(&fx.t, &h);
    /* Space-saving: the heaviest app (port 6379, 10000 bytes, seen last) is
     * kept, with a count that overestimates by at most the smallest count. */
    floe_app_label redis;
    floe_dpi_guess(fx.t.dpi, 6, &h, 40000, &host->addr, 6379, &redis);
    uint64_t got = 0, min = UINT64_MAX;
    for (int i = 0; i < FLOE_HOST_TOP_APPS; i++) {
        if (host->top_app[i] == redis.app)
            got = host->top_bytes[i];
        else if (host->top_bytes[i] < min)
            min = host->top_bytes[i];
    }
    ASSERT_GE(got, 10000);
    ASSERT_LE(got, 10000 + min);
    ASSERT_EQ(host->bytes_sent, 55000);
    fx_close(&fx);
}

/* Records built in the pipeline's own slot (as the v5 decoder does) and
 * records pushed from elsewhere, alternately, through several turns of
 * the ring: each is applied once, with its own counters. */
TEST(records_built_in_the_pipeline_slot)
{
    fixture fx;
    fx_init(&fx, 1000, 1000);
    uint64_t sent = 0;
    for (int i = 0; i < 5 * FLOE_PIPE_LEN; i++) {
        char dst[32];
        snprintf(dst, sizeof(dst), "198.51.%d.%d", i / 200, i % 200 + 1);
        floe_record r =
            rec(&fx, "10.0.0.1", (uint16_t)(40000 + i), dst, 443, (uint64_t)i + 1, 1, 0x18);
        sent += (uint64_t)i + 1;
        if (i % 3) {
            floe_record *slot = floe_tables_slot(&fx.t);
            *slot = r;
            floe_tables_push(&fx.t, slot, 1000);
        } else {
            floe_tables_push(&fx.t, &r, 1000);
        }
    }
    floe_tables_drain(&fx.t, 1000);
    floe_tables_flush(&fx.t);
    ASSERT_EQ(fx.t.st.flows_created, 5 * FLOE_PIPE_LEN);
    ASSERT_EQ(fx.t.st.records, 5 * FLOE_PIPE_LEN);
    ASSERT_U64_EQ(fx.t.st.bytes, sent);
    fx_close(&fx);
}

/* A biflow record (RFC 5103): the reverse half is what dst sent to src. */
static floe_record birec(fixture *fx, const char *src, uint16_t sport, const char *dst,
                         uint16_t dport, uint64_t bytes, uint64_t rev_bytes)
{
    floe_record r = rec(fx, src, sport, dst, dport, bytes, bytes / 100, 0x1a);
    r.rev.bytes = rev_bytes;
    r.rev.packets = rev_bytes / 100;
    r.rev.tcp_flags = 0x13;
    r.has |= FLOE_F(REV_BYTES) | FLOE_F(REV_PACKETS) | FLOE_F(REV_TCP_FLAGS);
    return r;
}

TEST(biflow_record_counts_both_directions)
{
    fixture fx;
    fx_init(&fx, 100, 100);
    floe_record a = birec(&fx, "10.0.0.1", 40000, "198.51.100.9", 443, 1000, 50000);
    a.sampling = 10;
    a.has |= FLOE_F(IN_IF) | FLOE_F(OUT_IF) | FLOE_F(REV_IN_IF) | FLOE_F(REV_OUT_IF);
    a.in_if = 3, a.out_if = 4, a.rev.in_if = 5, a.rev.out_if = 6;
    /* Through the pipeline, where a record is copied without its reverse
     * half only when it has none. */
    floe_tables_push(&fx.t, &a, 1000);
    floe_record plain = rec(&fx, "10.0.0.1", 40000, "198.51.100.9", 443, 7, 1, 0x10);
    floe_tables_push(&fx.t, &plain, 1001);
    floe_tables_drain(&fx.t, 1001);
    floe_flow *f = only_flow(&fx);
    uint16_t port;
    assert_addr(floe_flow_client(f, &port), "10.0.0.1");
    ASSERT_U64_EQ(f->bytes[0], 10000 + 7);
    ASSERT_U64_EQ(f->bytes[1], 500000); /* scaled by the sampling rate too */
    ASSERT_U64_EQ(f->packets[1], 5000);
    ASSERT_EQ(f->tcp_flags[0], 0x1a);
    ASSERT_EQ(f->tcp_flags[1], 0x13);
    ASSERT_EQ(f->ifs[1][0], 5);
    ASSERT_EQ(f->ifs[1][1], 6);
    floe_tables_flush(&fx.t);
    floe_host *cli = floe_tables_host(&fx.t, &a.src), *srv = floe_tables_host(&fx.t, &a.dst);
    ASSERT_U64_EQ(cli->bytes_sent, 10007);
    ASSERT_U64_EQ(cli->bytes_rcvd, 500000);
    ASSERT_U64_EQ(cli->pkts_rcvd, 5000);
    ASSERT_U64_EQ(srv->bytes_sent, 500000);
    const floe_net *n10 = &fx.t.nets[0];
    ASSERT_U64_EQ(n10->bytes_out, 10007);
    ASSERT_U64_EQ(n10->bytes_in, 500000);
    /* The reverse direction came in on interface 5 and left on 6. */
    int seen = 0;
    for (size_t i = 0; i < floe_pool_slots(&fx.t.iface_pool); i++) {
        const floe_iface *it = floe_pool_at(&fx.t.iface_pool, i);
        if (it && it->ifindex == 5) {
            ASSERT_U64_EQ(it->bytes_in, 500000);
            seen++;
        }
        if (it && it->ifindex == 6) {
            ASSERT_U64_EQ(it->bytes_out, 500000);
            seen++;
        }
    }
    ASSERT_EQ(seen, 2);
    fx_close(&fx);
}

TEST(biflow_from_the_server_side_lands_the_same_way)
{
    fixture fx;
    fx_init(&fx, 100, 100);
    floe_record a = birec(&fx, "198.51.100.9", 443, "10.0.0.1", 40000, 50000, 1000);
    floe_tables_record(&fx.t, &a, 1000);
    floe_flow *f = only_flow(&fx);
    assert_addr(floe_flow_client(f, NULL), "10.0.0.1");
    ASSERT_U64_EQ(f->bytes[0], 1000);
    ASSERT_U64_EQ(f->bytes[1], 50000);
    fx_close(&fx);
}

TEST(biflow_direction_decides_the_client)
{
    fixture fx;
    fx_init(&fx, 100, 100);
    /* Neither port is a service port: first sight makes 10.0.0.2 the
     * client; a record saying the destination initiated turns it round. */
    floe_record a = rec(&fx, "10.0.0.2", 60000, "10.0.0.1", 50000, 100, 1, 0x10);
    floe_tables_record(&fx.t, &a, 1000);
    assert_addr(floe_flow_client(only_flow(&fx), NULL), "10.0.0.2");
    floe_record b = birec(&fx, "10.0.0.2", 60000, "10.0.0.1", 50000, 300, 700);
    b.biflow_dir = 2;
    b.has |= FLOE_F(BIFLOW_DIR);
    floe_tables_record(&fx.t, &b, 2000);
    floe_flow *f = only_flow(&fx);
    assert_addr(floe_flow_client(f, NULL), "10.0.0.1");
    ASSERT(f->dir_certain);
    ASSERT_U64_EQ(f->bytes[0], 700);       /* what 10.0.0.1 sent */
    ASSERT_U64_EQ(f->bytes[1], 100 + 300); /* what 10.0.0.2 sent */
    /* A new flow takes it from its first record: 1 means the source. */
    floe_record c = birec(&fx, "10.0.0.3", 60000, "10.0.0.4", 50000, 1, 2);
    c.biflow_dir = 1;
    c.has |= FLOE_F(BIFLOW_DIR);
    floe_tables_record(&fx.t, &c, 3000);
    ASSERT_EQ(fx.t.flows.count, 2);
    floe_host *h3 = floe_tables_host(&fx.t, &c.src);
    ASSERT_EQ(h3->flows_client, 1);
    fx_close(&fx);
}

TEST_MAIN(TEST_ENTRY(both_directions_are_one_flow), TEST_ENTRY(well_known_port_decides_the_server),
          TEST_ENTRY(each_rule_for_the_client_side), TEST_ENTRY(first_seen_then_a_syn_flips_roles),
          TEST_ENTRY(counters_scale_by_sampling), TEST_ENTRY(idle_flows_end_and_release_hosts),
          TEST_ENTRY(exporter_end_reason_ends_the_flow),
          TEST_ENTRY(flow_bound_evicts_oldest_and_never_grows),
          TEST_ENTRY(flushes_skip_flows_that_ended_and_count_once),
          TEST_ENTRY(eviction_spares_flows_with_recent_records),
          TEST_ENTRY(eviction_takes_flows_idle_for_half_their_wait),
          TEST_ENTRY(exporter_ended_flows_cannot_fill_the_order_ring),
          TEST_ENTRY(housekeeping_works_in_bounded_slices),
          TEST_ENTRY(periodic_updates_fire_for_active_flows),
          TEST_ENTRY(tap_hears_ends_and_periodic_updates_at_the_smaller_interval),
          TEST_ENTRY(host_bound_spares_hosts_with_flows), TEST_ENTRY(networks_count_in_out_inner),
          TEST_ENTRY(interfaces_count_in_and_out),
          TEST_ENTRY(interfaces_least_recently_updated_go_first),
          TEST_ENTRY(dpi_ip_list_labels_google),
          TEST_ENTRY(exporter_l7_proto_wins_over_the_port_guess),
          TEST_ENTRY(ie95_ntop_selector_wins_over_the_port_guess),
          TEST_ENTRY(ie95_named_by_the_exporter_maps_to_ndpi),
          TEST_ENTRY(sflow_sampled_http_on_8080_is_labelled_from_payload),
          TEST_ENTRY(dpi_skips_empty_payloads_and_keeps_to_its_budget),
          TEST_ENTRY(dpi_budget_is_spread_over_the_second),
          TEST_ENTRY(protocol_detected_fires_once_when_the_app_is_known),
          TEST_ENTRY(statuses_score_flows_and_hosts),
          TEST_ENTRY(exporter_risks_and_retransmissions_reach_flows_and_hosts),
          TEST_ENTRY(host_top_apps_keep_the_largest),
          TEST_ENTRY(biflow_record_counts_both_directions),
          TEST_ENTRY(records_built_in_the_pipeline_slot),
          TEST_ENTRY(biflow_from_the_server_side_lands_the_same_way),
          TEST_ENTRY(biflow_direction_decides_the_client))
