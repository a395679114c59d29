/* Unit tests for util/: JSON, addresses, endpoints, the hash maps, the pool, the logger. */
#include "tests/unit/runner.h"
#include "util/util.h"

#include <netinet/in.h>
#include <sys/socket.h>

TEST(json_commas_and_nesting)
{
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_obj_begin(&j);
    floe_json_ku64(&j, "a", 1);
    floe_json_key(&j, "b");
    floe_json_arr_begin(&j);
    floe_json_u64(&j, 2);
    floe_json_obj_begin(&j);
    floe_json_obj_end(&j);
    floe_json_str(&j, "x");
    floe_json_arr_end(&j);
    floe_json_kstr(&j, "c", "d");
    floe_json_obj_end(&j);
    ASSERT_STR_EQ(b.data, "{\"a\":1,\"b\":[2,{},\"x\"],\"c\":\"d\"}");
    floe_buf_close(&b);
}

TEST(json_escapes_control_and_high_bytes)
{
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_json_strn(&j, "a\"\\\n\x01\xff", 6);
    ASSERT_STR_EQ(b.data, "\"a\\\"\\\\\\n\\u0001\\u00ff\"");
    floe_buf_close(&b);
}

TEST(addr_v4_roundtrip)
{
    floe_addr a;
    char text[FLOE_ADDR_STRLEN];
    ASSERT_EQ(floe_addr_parse(&a, "192.0.2.1"), 0);
    ASSERT(floe_addr_is_v4(&a));
    ASSERT_EQ(floe_addr_v4(&a), 0xc0000201u);
    ASSERT_STR_EQ(floe_addr_format(&a, text), "192.0.2.1");
}

TEST(addr_v6_roundtrip)
{
    floe_addr a;
    char text[FLOE_ADDR_STRLEN];
    ASSERT_EQ(floe_addr_parse(&a, "2001:db8::1"), 0);
    ASSERT(!floe_addr_is_v4(&a));
    ASSERT_STR_EQ(floe_addr_format(&a, text), "2001:db8::1");
    ASSERT_EQ(floe_addr_parse(&a, "not-an-address"), FLOE_EINVAL);
}

TEST(endpoint_parse)
{
    struct sockaddr_storage ss;
    char err[128], text[80];
    ASSERT_EQ(floe_endpoint_parse("127.0.0.1:2055", &ss, err, sizeof(err)), 0);
    ASSERT_STR_EQ(floe_endpoint_format((struct sockaddr *)&ss, text, sizeof(text)),
                  "127.0.0.1:2055");
    ASSERT_EQ(floe_endpoint_parse("[::1]:4739", &ss, err, sizeof(err)), 0);
    ASSERT_EQ(ss.ss_family, AF_INET6);
    ASSERT_STR_EQ(floe_endpoint_format((struct sockaddr *)&ss, text, sizeof(text)), "[::1]:4739");
    ASSERT_EQ(floe_endpoint_parse(":6343", &ss, err, sizeof(err)), 0);
    ASSERT_EQ(ss.ss_family, AF_INET);
    ASSERT_EQ(floe_endpoint_parse("::1:4739", &ss, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "brackets");
    ASSERT_EQ(floe_endpoint_parse("1.2.3.4:70000", &ss, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "port");
    ASSERT_EQ(floe_endpoint_parse("1.2.3.4", &ss, err, sizeof(err)), FLOE_EINVAL);
}

typedef struct item {
    floe_hnode node;
    int key;
} item;

TEST(hmap_insert_find_remove_grow)
{
    floe_hmap m;
    enum { N = 10000 };
    static item items[N];
    ASSERT_EQ(floe_hmap_init(&m, 4, 0), 0);
    for (int i = 0; i < N; i++) {
        items[i].key = i;
        items[i].node.hash = floe_hash(&i, sizeof(i), 1);
        floe_hmap_insert(&m, &items[i].node);
    }
    ASSERT_EQ(m.count, N);
    ASSERT_GE(m.mask + 1, N);
    for (int i = 0; i < N; i += 7) {
        uint64_t h = floe_hash(&i, sizeof(i), 1);
        int found = 0;
        for (floe_hnode *n = floe_hmap_bucket(&m, h); n; n = n->next)
            if (n->hash == h && FLOE_CONTAINER_OF(n, item, node)->key == i)
                found = 1;
        ASSERT(found);
    }
    floe_hmap_remove(&m, &items[5].node);
    ASSERT_EQ(m.count, N - 1);
    floe_hmap_close(&m);
}

TEST(log_rate_limit_counts_suppressed)
{
    floe_log lg;
    floe_log_init(&lg, FLOE_LOG_WARN, 0);
    lg.rl_burst = 3;
    for (int i = 0; i < 10; i++)
        log_warn_rl(&lg, "test message %d", i);
    int found = 0;
    for (int i = 0; i < FLOE_LOG_RL_SLOTS; i++) {
        if (lg.rl[i].key) {
            ASSERT_EQ(lg.rl[i].count, 3);
            ASSERT_EQ(lg.rl[i].suppressed, 7);
            found = 1;
        }
    }
    ASSERT(found);
}

TEST(strerror_names_codes)
{
    ASSERT_STR_EQ(floe_strerror(FLOE_ENOMEM), "out of memory");
    ASSERT_STR_EQ(floe_strerror(FLOE_OK), "success");
    ASSERT_STR_EQ(floe_strerror(-9999), "unknown error");
}

TEST(fifo_holes_order_and_room)
{
    floe_fifo q;
    int items[40];
    ASSERT_EQ(floe_fifo_init(&q, 20), 0);
    ASSERT_EQ(q.mask, 31); /* rounded up to a power of two */
    ASSERT(floe_fifo_head(&q) == NULL);
    uint64_t pos[40];
    for (int i = 0; i < 32; i++)
        pos[i] = floe_fifo_push(&q, &items[i]);
    ASSERT_EQ(pos[0], 1); /* 0 stays free to mean "not queued" */
    ASSERT(floe_fifo_full(&q));
    /* Holes anywhere; the head skips them, and only that makes room. */
    floe_fifo_clear(&q, pos[0]);
    floe_fifo_clear(&q, pos[1]);
    floe_fifo_clear(&q, pos[5]);
    ASSERT(floe_fifo_full(&q));
    ASSERT(floe_fifo_at(&q, pos[5]) == NULL);
    ASSERT(floe_fifo_at(&q, pos[6]) == &items[6]);
    ASSERT(floe_fifo_head(&q) == &items[2]);
    ASSERT(!floe_fifo_full(&q));
    floe_fifo_pop(&q);
    ASSERT(floe_fifo_at(&q, pos[2]) == NULL); /* behind the head now */
    /* Wrapping round the ring keeps the order. */
    pos[32] = floe_fifo_push(&q, &items[32]);
    pos[33] = floe_fifo_push(&q, &items[33]);
    pos[34] = floe_fifo_push(&q, &items[34]);
    ASSERT(floe_fifo_full(&q));
    int seen = 0, last = 2;
    void *p;
    while ((p = floe_fifo_head(&q))) {
        int k = (int)((int *)p - items);
        ASSERT(k > last);
        ASSERT(k != 5);
        last = k;
        floe_fifo_pop(&q);
        seen++;
    }
    ASSERT_EQ(seen, 31); /* 3..34 without 5 */
    floe_fifo_close(&q);
}

/* Items of the tmap tests: a value, and a hash the test picks. */
typedef struct tm_item {
    uint64_t hash;
    int value;
} tm_item;

static int tm_is(const void *it, const void *value)
{
    return ((const tm_item *)it)->value == *(const int *)value;
}

TEST(tmap_collisions_overflow_and_removal)
{
    floe_tmap m;
    enum { N = 60 };
    static tm_item items[N];
    ASSERT_EQ(floe_tmap_init(&m, N), 0);
    size_t buckets = m.mask + 1;
    ASSERT_EQ(buckets, 32); /* room for 2.5 items a bucket of 7: 24, rounded up */
    /* Every item in bucket 3, half of them with the same tag: they spill
     * over into the next buckets, and each is still found, and only it. */
    for (int i = 0; i < N; i++) {
        items[i].value = i;
        items[i].hash = 3 | (uint64_t)(i % 2 ? 0x42 : i) << 56;
        ASSERT_EQ(floe_tmap_insert(&m, items[i].hash, &items[i]), 0);
    }
    ASSERT_EQ(m.count, N);
    ASSERT_EQ(floe_tmap_insert(&m, 3, &items[0]), FLOE_ELIMIT); /* the bound */
    ASSERT(m.b[3].over > 0);
    for (int i = 0; i < N; i++)
        ASSERT(floe_tmap_find(&m, items[i].hash, tm_is, &i) == &items[i]);
    int absent = N + 1;
    ASSERT(floe_tmap_find(&m, items[1].hash, tm_is, &absent) == NULL);
    /* Removing every item leaves no overflow count behind. */
    for (int i = N - 1; i >= 0; i -= 2)
        ASSERT_EQ(floe_tmap_remove(&m, items[i].hash, &items[i]), 0);
    for (int i = 0; i < N; i++)
        ASSERT(floe_tmap_find(&m, items[i].hash, tm_is, &i) == (i % 2 ? NULL : &items[i]));
    for (int i = 0; i < N; i += 2)
        ASSERT_EQ(floe_tmap_remove(&m, items[i].hash, &items[i]), 0);
    ASSERT_EQ(floe_tmap_remove(&m, items[0].hash, &items[0]), FLOE_ENOTFOUND);
    ASSERT_EQ(m.count, 0);
    for (size_t b = 0; b < buckets; b++) {
        ASSERT_EQ(m.b[b].over, 0);
        ASSERT_EQ(floe_tmap_match(&m.b[b], 0), 0x0080808080808080ULL); /* all free */
    }
    floe_tmap_close(&m);
}

TEST(tmap_tags_never_zero_and_wrap)
{
    floe_tmap m;
    static tm_item items[20];
    ASSERT_EQ(floe_tmap_init(&m, 20), 0);
    ASSERT_EQ(floe_tmap_tag(0x00ffffffffffffffULL), 1);
    /* Homes in the last bucket spill over into the first. */
    size_t last = m.mask;
    for (int i = 0; i < 20; i++) {
        items[i].value = i;
        items[i].hash = last; /* tag 0, taken as 1 */
        ASSERT_EQ(floe_tmap_insert(&m, items[i].hash, &items[i]), 0);
    }
    ASSERT(m.b[last].over > 0);
    ASSERT(m.b[0].item[0] != NULL);
    for (int i = 0; i < 20; i++)
        ASSERT(floe_tmap_find(&m, items[i].hash, tm_is, &i) == &items[i]);
    for (int i = 0; i < 20; i++)
        ASSERT_EQ(floe_tmap_remove(&m, items[i].hash, &items[i]), 0);
    ASSERT_EQ(m.b[last].over, 0);
    floe_tmap_close(&m);
}

TEST(pool_slots_reuse_and_bound)
{
    floe_pool p;
    ASSERT_EQ(floe_pool_init(&p, 300, 16, 100), 0);
    ASSERT_EQ(p.item_size, 304);
    char *a[100];
    for (int i = 0; i < 100; i++) {
        a[i] = floe_pool_alloc(&p);
        ASSERT(a[i] != NULL);
        for (int k = 0; k < 304; k++)
            ASSERT_EQ(a[i][k], 0);
        memset(a[i], 0xab, 304);
        ASSERT_EQ(floe_pool_slot(&p, a[i]), (size_t)i); /* fresh slots in order */
        ASSERT(floe_pool_at(&p, (size_t)i) == a[i]);
    }
    ASSERT(floe_pool_alloc(&p) == NULL); /* the bound */
    ASSERT_EQ(floe_pool_slots(&p), 100);
    floe_pool_free(&p, a[7]);
    floe_pool_free(&p, a[42]);
    ASSERT(floe_pool_at(&p, 7) == NULL);
    ASSERT_EQ(p.live, 98);
    char *b = floe_pool_alloc(&p), *c = floe_pool_alloc(&p);
    ASSERT(b == a[42] && c == a[7]); /* the latest freed first: still in cache */
    for (int k = 0; k < 304; k++)
        ASSERT(b[k] == 0 && c[k] == 0);
    ASSERT(floe_pool_at(&p, 7) == c);
    ASSERT(floe_pool_bytes(&p) >= 100 * 304);
    floe_pool_close(&p);
}

TEST(pool_prefault_backs_ahead)
{
    floe_pool p;
    ASSERT_EQ(floe_pool_init(&p, 256, 8192, 100000), 0);
    ASSERT_EQ(p.faulted, 0);
    ASSERT_EQ(floe_pool_prefault(&p), 1);
    size_t step = p.faulted;
    ASSERT(step >= 8192 * 256);
    ASSERT_EQ(floe_pool_prefault(&p), 0); /* the next chunk is backed */
    for (int i = 0; i < 8192; i++)
        ASSERT(floe_pool_alloc(&p) != NULL);
    ASSERT_EQ(p.faulted, step); /* no allocation had to back memory */
    ASSERT_EQ(floe_pool_prefault(&p), 1);
    ASSERT_EQ(p.faulted, 2 * step);
    floe_pool_close(&p);
}

TEST_MAIN(TEST_ENTRY(json_commas_and_nesting), TEST_ENTRY(json_escapes_control_and_high_bytes),
          TEST_ENTRY(addr_v4_roundtrip), TEST_ENTRY(addr_v6_roundtrip), TEST_ENTRY(endpoint_parse),
          TEST_ENTRY(hmap_insert_find_remove_grow),
          TEST_ENTRY(tmap_collisions_overflow_and_removal),
          TEST_ENTRY(tmap_tags_never_zero_and_wrap), TEST_ENTRY(pool_slots_reuse_and_bound),
          TEST_ENTRY(pool_prefault_backs_ahead), TEST_ENTRY(log_rate_limit_counts_suppressed),
          TEST_ENTRY(strerror_names_codes), TEST_ENTRY(fifo_holes_order_and_room))
