/*
 * Unit tests for history/: the RowBinary bytes of a row, read back by a
 * decoder written here from the format's description; the query parser's
 * typed values and its refusals; the SQL built from them holding none of
 * the client's text; the spool's order, bound and crash leftovers; and the
 * writer against a small HTTP server on loopback standing in for
 * ClickHouse: rows spooled while no server answers are replayed in order
 * by the next run, and their gzip bodies decode to the rows sent.
 */
#include "history/internal.h"
#include "tests/unit/runner.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static floe_log test_log;

static char *tmp_dir(void)
{
    static char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/floe-history-XXXXXX");
    ASSERT(mkdtemp(dir) != NULL);
    return dir;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- a RowBinary reader, from the format's description -------------------- */

typedef struct reader {
    const uint8_t *p, *end;
} reader;

static uint64_t rd_le(reader *r, int n)
{
    uint64_t v = 0;
    ASSERT(r->p + n <= r->end);
    for (int i = 0; i < n; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    return v;
}

static uint64_t rd_varint(reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    ASSERT(!"varint runs past the end");
    return 0;
}

static void rd_str(reader *r, char *out, size_t outlen)
{
    uint64_t n = rd_varint(r);
    ASSERT(r->p + n <= r->end && n < outlen);
    memcpy(out, r->p, n);
    out[n] = '\0';
    r->p += n;
}

static void rd_addr(reader *r, floe_addr *a)
{
    ASSERT(r->p + 16 <= r->end);
    memcpy(a->b, r->p, 16);
    r->p += 16;
}

static void sample_flow(floe_history_flow *f, const char *const *statuses, size_t n)
{
    memset(f, 0, sizeof(*f));
    f->time_ms = 1700000123456ULL;
    f->first_ms = 1700000000999ULL;
    floe_addr_parse(&f->exporter, "192.0.2.9");
    f->in_if = 7;
    f->out_if = 70000;
    f->vlan = 42;
    f->proto = 6;
    f->final = 1;
    floe_addr_parse(&f->client, "10.1.2.3");
    floe_addr_parse(&f->server, "2001:db8::80");
    f->client_port = 51000;
    f->server_port = 443;
    f->app = "TLS.Google";
    f->category = "Web";
    f->bytes[0] = 5000000000ULL;
    f->bytes[1] = 12;
    f->packets[0] = 3;
    f->packets[1] = 4;
    f->tcp_flags[0] = 0x1b;
    f->tcp_flags[1] = 0x12;
    f->client_as = 64500;
    f->server_as = 4200000000U;
    f->score = 110;
    f->statuses = statuses;
    f->n_statuses = n;
}

/* Decodes one flow row in the column order of the table the DDL makes,
 * checking every column against the row sent. */
static void check_flow_row(reader *r, const floe_history_flow *f, const char *instance)
{
    char s[300];
    floe_addr a;
    ASSERT_U64_EQ(rd_le(r, 4), f->time_ms / 1000);
    ASSERT_U64_EQ(rd_le(r, 4), f->first_ms / 1000);
    rd_str(r, s, sizeof(s));
    ASSERT_STR_EQ(s, instance);
    rd_addr(r, &a);
    ASSERT(floe_addr_eq(&a, &f->exporter));
    ASSERT_U64_EQ(rd_le(r, 4), f->in_if);
    ASSERT_U64_EQ(rd_le(r, 4), f->out_if);
    ASSERT_U64_EQ(rd_le(r, 2), f->vlan);
    ASSERT_U64_EQ(rd_le(r, 1), f->proto);
    rd_addr(r, &a);
    ASSERT(floe_addr_eq(&a, &f->client));
    rd_addr(r, &a);
    ASSERT(floe_addr_eq(&a, &f->server));
    ASSERT_U64_EQ(rd_le(r, 2), f->client_port);
    ASSERT_U64_EQ(rd_le(r, 2), f->server_port);
    rd_str(r, s, sizeof(s));
    ASSERT_STR_EQ(s, f->app);
    rd_str(r, s, sizeof(s));
    ASSERT_STR_EQ(s, f->category);
    ASSERT_U64_EQ(rd_le(r, 8), f->bytes[0]);
    ASSERT_U64_EQ(rd_le(r, 8), f->bytes[1]);
    ASSERT_U64_EQ(rd_le(r, 8), f->packets[0]);
    ASSERT_U64_EQ(rd_le(r, 8), f->packets[1]);
    ASSERT_U64_EQ(rd_le(r, 2), f->tcp_flags[0]);
    ASSERT_U64_EQ(rd_le(r, 2), f->tcp_flags[1]);
    ASSERT_U64_EQ(rd_le(r, 4), f->client_as);
    ASSERT_U64_EQ(rd_le(r, 4), f->server_as);
    uint64_t n = rd_varint(r);
    ASSERT_U64_EQ(n, f->n_statuses);
    for (uint64_t i = 0; i < n; i++) {
        rd_str(r, s, sizeof(s));
        ASSERT_STR_EQ(s, f->statuses[i]);
    }
    ASSERT_U64_EQ(rd_le(r, 2), f->score);
    ASSERT_U64_EQ(rd_le(r, 1), f->final);
}

TEST(flow_row_rowbinary_matches_the_columns)
{
    const char *st[] = {"flow_risk.tls_expired", "suspicious_port.http"};
    floe_history_flow f;
    floe_buf b;
    sample_flow(&f, st, 2);
    floe_buf_init(&b);
    hist__encode_flow(&b, "edge-1", &f);
    hist__encode_flow(&b, "edge-1", &f);
    reader r = {(const uint8_t *)b.data, (const uint8_t *)b.data + b.len};
    check_flow_row(&r, &f, "edge-1");
    check_flow_row(&r, &f, "edge-1");
    ASSERT(r.p == r.end);
    /* The column list names as many columns as a row carries. */
    size_t n;
    hist__columns(HIST_FLOWS, &n);
    ASSERT_EQ(n, 25);
    floe_buf_close(&b);
}

TEST(long_strings_are_cut_and_lengths_take_two_bytes)
{
    char app[400];
    floe_history_flow f;
    floe_buf b;
    memset(app, 'x', sizeof(app) - 1);
    app[sizeof(app) - 1] = '\0';
    sample_flow(&f, NULL, 5); /* no array: n_statuses is ignored */
    f.app = app;
    floe_buf_init(&b);
    hist__encode_flow(&b, "a", &f);
    /* time, first, instance "a", exporter, ifs, vlan, proto, client, server,
     * ports: 4+4+2+16+8+2+1+32+4 = 73 bytes, then app's length. */
    const uint8_t *p = (const uint8_t *)b.data + 73;
    ASSERT_EQ(p[0], 0xff); /* 255: LEB128 0xff 0x01 */
    ASSERT_EQ(p[1], 0x01);
    ASSERT_EQ(p[2], 'x');
    ASSERT_EQ(p[2 + 255], 3); /* "Web" */
    floe_buf_close(&b);
}

TEST(gzip_round_trip)
{
    floe_buf gz;
    char text[5000], back[6000];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)('a' + i % 7);
    floe_buf_init(&gz);
    ASSERT_EQ(hist__gzip(text, sizeof(text), &gz), 0);
    ASSERT_EQ((uint8_t)gz.data[0], 0x1f); /* the gzip magic */
    ASSERT_EQ((uint8_t)gz.data[1], 0x8b);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    ASSERT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)gz.data;
    zs.avail_in = (uInt)gz.len;
    zs.next_out = (Bytef *)back;
    zs.avail_out = sizeof(back);
    ASSERT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
    ASSERT_EQ(zs.total_out, sizeof(text));
    ASSERT(memcmp(text, back, sizeof(text)) == 0);
    inflateEnd(&zs);
    floe_buf_close(&gz);
}

/* ---- parsing and SQL ------------------------------------------------------------ */

static int parse(floe_history_query *q, const char *args, char *err, size_t errlen)
{
    /* "k=v&k=v" split here the way the web server hands them over. */
    static char copy[1024];
    const char *keys[32], *vals[32];
    size_t n = 0;
    snprintf(copy, sizeof(copy), "%s", args);
    for (char *save = NULL, *kv = strtok_r(copy, "&", &save); kv && n < 32;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        keys[n] = kv;
        vals[n++] = eq ? eq + 1 : "";
    }
    return floe_history_query_parse(q, keys, vals, n, 1700003600, err, errlen);
}

TEST(query_parse_typed_values)
{
    floe_history_query q;
    char err[200], a[FLOE_ADDR_STRLEN];
    ASSERT_EQ(parse(&q, "from=-600&net=10.1.0.0/16&port=53&app=DNS&group=port&by=flows&limit=5",
                    err, sizeof(err)),
              0);
    ASSERT_U64_EQ(q.from_s, 1700003000);
    ASSERT_U64_EQ(q.to_s, 1700003601);
    ASSERT(q.has_net);
    ASSERT_STR_EQ(floe_addr_format(&q.net_lo, a), "10.1.0.0");
    ASSERT_STR_EQ(floe_addr_format(&q.net_hi, a), "10.1.255.255");
    ASSERT_EQ(q.port, 53);
    ASSERT_STR_EQ(q.app, "DNS");
    ASSERT_EQ(q.group, FLOE_HIST_BY_PORT);
    ASSERT_EQ(q.metric, FLOE_HIST_FLOWS);
    ASSERT_EQ(q.limit, 5);
    ASSERT_EQ(parse(&q, "net=2001:db8::/33", err, sizeof(err)), 0);
    ASSERT_STR_EQ(floe_addr_format(&q.net_hi, a), "2001:db8:7fff:ffff:ffff:ffff:ffff:ffff");
    ASSERT_EQ(parse(&q, "", err, sizeof(err)), 0);
    ASSERT_U64_EQ(q.to_s - q.from_s, 3600);
    ASSERT_EQ(q.port, -1);
    ASSERT_EQ(q.as, -1);
}

TEST(query_parse_refuses_what_is_not_its_type)
{
    static const char *const bad[] = {
        "host=1.2.3.4'--", "host=",   "net=10.0.0.0/33",  "net=10.0.0.0",    "port=65536",
        "port=80 OR 1=1",  "port=-1", "proto=256",        "as=4294967296",   "app=a'b",
        "app=a b",         "app=",    "instance=x;y",     "status=a\\b",     "group=hosts",
        "by=bytes desc",   "limit=0", "limit=10001",      "buckets=1001",    "from=abc",
        "from=10&to=5",    "nope=1",  "app=DNS&app=HTTP", "category=Web%27", "exporter=1.2.3.4'",
        "from=1e9",
    };
    floe_history_query q;
    char err[200];
    for (size_t i = 0; i < FLOE_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        if (parse(&q, bad[i], err, sizeof(err)) != FLOE_EINVAL) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            ASSERT(!"a bad argument was accepted");
        }
        ASSERT(err[0] != '\0');
    }
    ASSERT_EQ(parse(&q, "app=HTTP'", err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "app");
}

TEST(sql_holds_floe_renderings_only)
{
    floe_history_query q;
    floe_buf sql;
    char err[200];
    floe_buf_init(&sql);
    ASSERT_EQ(parse(&q,
                    "from=1700000000&to=1700003600&host=10.0.0.1&app=TLS.Google&status=a.b&"
                    "as=64500&group=as",
                    err, sizeof(err)),
              0);
    ASSERT_EQ(floe_history_sql(NULL, &q, FLOE_HIST_SQL_TOP, &sql), 0);
    ASSERT_CONTAINS(sql.data, "time >= toDateTime(1700000000) AND time < toDateTime(1700003600)");
    ASSERT_CONTAINS(sql.data, "client = unhex('00000000000000000000FFFF0A000001')");
    ASSERT_CONTAINS(sql.data, "app = 'TLS.Google'");
    ASSERT_CONTAINS(sql.data, "has(statuses, 'a.b')");
    ASSERT_CONTAINS(sql.data, "(client_as = 64500 OR server_as = 64500)");
    ASSERT_CONTAINS(sql.data, "ARRAY JOIN [client_as, server_as] AS k");
    ASSERT_CONTAINS(sql.data, "ORDER BY bytes DESC");
    /* The address text itself never appears: only its bytes. */
    ASSERT(!strstr(sql.data, "10.0.0.1"));
    floe_buf_reset(&sql);
    ASSERT_EQ(
        parse(&q, "net=192.0.2.0/24&buckets=10&from=1700000000&to=1700003600", err, sizeof(err)),
        0);
    ASSERT_EQ(floe_history_sql(NULL, &q, FLOE_HIST_SQL_HISTOGRAM, &sql), 0);
    ASSERT_CONTAINS(sql.data, "client BETWEEN unhex('00000000000000000000FFFFC0000200') AND "
                              "unhex('00000000000000000000FFFFC00002FF')");
    ASSERT_CONTAINS(sql.data, "intDiv(toUInt32(time), 360) * 360");
    floe_buf_close(&sql);
}

/* ---- the spool ----------------------------------------------------------------- */

TEST(spool_keeps_order_bound_and_survives_a_restart)
{
    char *dir = tmp_dir(), err[300], path[300];
    hist__spool s;
    floe_buf b;
    floe_buf_init(&b);
    ASSERT_EQ(hist__spool_open(&s, dir, 100, err, sizeof(err)), 0);
    ASSERT_EQ(hist__spool_push(&s, HIST_FLOWS, 3, "first", 5, err, sizeof(err)), 0);
    ASSERT_EQ(hist__spool_push(&s, HIST_ALERTS, 1, "second", 6, err, sizeof(err)), 0);
    ASSERT_EQ(hist__spool_push(&s, HIST_FLOWS, 2, "third", 5, err, sizeof(err)), 0);
    char big[90] = {0};
    ASSERT_EQ(hist__spool_push(&s, HIST_FLOWS, 9, big, sizeof(big), err, sizeof(err)), FLOE_ELIMIT);
    hist__spool_close(&s);
    /* A crash between write and rename leaves a temporary: removed at open. */
    snprintf(path, sizeof(path), "%s/.tmp-00000000000000ff", dir);
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fclose(f);
    ASSERT_EQ(hist__spool_open(&s, dir, 100, err, sizeof(err)), 0);
    ASSERT(access(path, F_OK) != 0);
    ASSERT_EQ(hist__spool_count(&s), 3);
    ASSERT_U64_EQ(s.bytes, 16);
    static const char *const want[] = {"first", "second", "third"};
    static const uint32_t rows[] = {3, 1, 2};
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(hist__spool_head(&s)->rows, rows[i]);
        ASSERT_EQ(hist__spool_head(&s)->table, i == 1 ? HIST_ALERTS : HIST_FLOWS);
        ASSERT_EQ(hist__spool_read_head(&s, &b), 0);
        ASSERT_STR_EQ(b.data, want[i]);
        hist__spool_pop(&s);
    }
    ASSERT_EQ(hist__spool_count(&s), 0);
    ASSERT_U64_EQ(s.bytes, 0);
    /* A new block after a restart numbers after the old ones. */
    ASSERT_EQ(hist__spool_push(&s, HIST_FLOWS, 1, "x", 1, err, sizeof(err)), 0);
    ASSERT_U64_EQ(hist__spool_head(&s)->seq, 4);
    hist__spool_close(&s);
    floe_buf_close(&b);
}

/* ---- the writer against a stand-in server --------------------------------------------- */

#define MAX_INSERTS 64

/* Answers every POST with 200: "18.16.1" to version(), "" to the rest;
 * keeps the bodies of INSERTs. */
typedef struct fake {
    int fd;
    uint16_t port;
    pthread_t thread;
    pthread_mutex_t lock;
    floe_buf inserts[MAX_INSERTS];
    int n_inserts;
    int stop;
} fake;

static int read_request(int c, floe_buf *head, floe_buf *body)
{
    char buf[65536];
    ssize_t n;
    size_t want = 0;
    char *end = NULL;
    while (!end && (n = read(c, buf, sizeof(buf))) > 0) {
        floe_buf_append(head, buf, (size_t)n);
        end = strstr(head->data, "\r\n\r\n");
    }
    if (!end)
        return -1;
    const char *cl = strcasestr(head->data, "Content-Length:");
    want = cl ? strtoul(cl + 15, NULL, 10) : 0;
    size_t have = head->len - (size_t)(end + 4 - head->data);
    floe_buf_append(body, end + 4, have);
    while (body->len < want && (n = read(c, buf, sizeof(buf))) > 0)
        floe_buf_append(body, buf, (size_t)n);
    return 0;
}

static void *fake_main(void *arg)
{
    fake *f = arg;
    for (;;) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        floe_buf head, body;
        floe_buf_init(&head);
        floe_buf_init(&body);
        if (read_request(c, &head, &body) == 0) {
            const char *answer = strstr(body.data ? body.data : "", "version()") ? "18.16.1\n" : "";
            if (strstr(head.data, "RowBinary")) {
                pthread_mutex_lock(&f->lock);
                if (f->n_inserts < MAX_INSERTS) {
                    floe_buf_init(&f->inserts[f->n_inserts]);
                    floe_buf_append(&f->inserts[f->n_inserts++], body.data, body.len);
                }
                pthread_mutex_unlock(&f->lock);
            }
            char resp[200];
            int len =
                snprintf(resp, sizeof(resp),
                         "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         strlen(answer), answer);
            ssize_t w = write(c, resp, (size_t)len);
            (void)w;
        }
        close(c);
        floe_buf_close(&head);
        floe_buf_close(&body);
    }
}

static void fake_start(fake *f)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    ASSERT(listen(f->fd, 16) == 0);
    getsockname(f->fd, (struct sockaddr *)&sa, &len);
    f->port = ntohs(sa.sin_port);
    pthread_create(&f->thread, NULL, fake_main, f);
}

/* A port nothing listens on. */
static uint16_t dead_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static floe_history *open_at(uint16_t port, const char *spool)
{
    char url[64], err[300];
    floe_history_opts o;
    floe_history_opts_defaults(&o);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
    o.url = url;
    o.instance = "unit";
    o.spool_dir = spool;
    o.batch_rows = 4;
    o.batch_ms = 100;
    o.timeout_ms = 2000;
    floe_history *h = floe_history_open(&o, &test_log, err, sizeof(err));
    if (!h)
        fprintf(stderr, "%s\n", err);
    ASSERT(h != NULL);
    return h;
}

static int gunzip(const floe_buf *in, uint8_t *out, size_t outlen, size_t *n)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    inflateInit2(&zs, 15 + 16);
    zs.next_in = (Bytef *)in->data;
    zs.avail_in = (uInt)in->len;
    zs.next_out = out;
    zs.avail_out = (uInt)outlen;
    int rc = inflate(&zs, Z_FINISH);
    *n = zs.total_out;
    inflateEnd(&zs);
    return rc == Z_STREAM_END ? 0 : -1;
}

TEST(rows_spooled_while_down_are_replayed_in_order)
{
    char spool[200];
    floe_history_stats st;
    floe_history_flow rows[10];
    snprintf(spool, sizeof(spool), "%s/spool", tmp_dir());
    floe_history *h = open_at(dead_port(), spool);
    for (int i = 0; i < 10; i++) {
        sample_flow(&rows[i], NULL, 0);
        rows[i].bytes[0] = 1000 + (uint64_t)i; /* tells the rows apart */
        ASSERT_EQ(floe_history_add_flow(h, &rows[i]), 0);
        if (i == 3 || i == 7)
            sleep_ms(300); /* a block of 4, and another */
    }
    floe_history_close(h);           /* the last block (2 rows) is spooled too */
    h = open_at(dead_port(), spool); /* a restart finds them (its thread reads the folder) */
    for (int tries = 0; tries < 100 && (floe_history_stats_get(h, &st), st.spool_files != 3);
         tries++)
        sleep_ms(20);
    ASSERT_U64_EQ(st.spool_files, 3);
    ASSERT_U64_EQ(st.spooled, 0);
    floe_history_close(h);

    fake f;
    fake_start(&f);
    h = open_at(f.port, spool);
    for (int tries = 0; tries < 100; tries++) {
        floe_history_stats_get(h, &st);
        if (st.replayed == 10)
            break;
        sleep_ms(50);
    }
    ASSERT_U64_EQ(st.replayed, 10);
    ASSERT_U64_EQ(st.spool_files, 0);
    ASSERT_U64_EQ(st.dropped, 0);
    ASSERT(st.connected);
    ASSERT_STR_EQ(st.server_version, "18.16.1");
    floe_history_close(h);
    shutdown(f.fd, SHUT_RDWR);
    close(f.fd);
    pthread_join(f.thread, NULL);
    /* Three INSERTs, oldest block first, holding the rows in order. */
    ASSERT_EQ(f.n_inserts, 3);
    int next = 0;
    static uint8_t raw[1 << 16];
    for (int k = 0; k < f.n_inserts; k++) {
        size_t n;
        ASSERT_EQ(gunzip(&f.inserts[k], raw, sizeof(raw), &n), 0);
        reader r = {raw, raw + n};
        while (r.p < r.end)
            check_flow_row(&r, &rows[next++], "unit");
        floe_buf_close(&f.inserts[k]);
    }
    ASSERT_EQ(next, 10);
}

/* A server that takes the connection and never answers must not hold a
 * stopping floe past STOP_TIMEOUT_MS (5 s), whatever clickhouse.timeout
 * says; the block it did not take is in the spool. */
TEST(a_hung_server_does_not_hold_the_stop)
{
    char spool[200], url[64], err[300];
    floe_history_opts o;
    floe_history_flow row;
    floe_history_stats st;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 16) == 0);
    getsockname(fd, (struct sockaddr *)&sa, &len); /* never accepted: the kernel queues it */
    snprintf(spool, sizeof(spool), "%s/spool", tmp_dir());
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(sa.sin_port));
    floe_history_opts_defaults(&o);
    o.url = url;
    o.spool_dir = spool;
    o.timeout_ms = 60000;
    o.batch_ms = 60000;
    floe_history *h = floe_history_open(&o, &test_log, err, sizeof(err));
    ASSERT(h != NULL);
    sample_flow(&row, NULL, 0);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(floe_history_add_flow(h, &row), 0);
    uint64_t t0 = floe_monotonic_ms();
    floe_history_close(h);
    uint64_t took = floe_monotonic_ms() - t0;
    ASSERT_LE(took, 5000 + 2000); /* what was under way is abandoned at 5 s (curl checks each s) */
    h = open_at(dead_port(), spool);
    for (int tries = 0; tries < 100 && (floe_history_stats_get(h, &st), st.spool_files != 1);
         tries++)
        sleep_ms(20);
    ASSERT_U64_EQ(st.spool_files, 1);
    floe_history_close(h);
    close(fd);
}

TEST(full_queue_drops_and_counts)
{
    char spool[200], err[300];
    floe_history_opts o;
    floe_history_flow row;
    floe_history_stats st;
    snprintf(spool, sizeof(spool), "%s/spool", tmp_dir());
    floe_history_opts_defaults(&o);
    o.url = "http://127.0.0.1:9"; /* discard: nothing answers */
    o.spool_dir = spool;
    o.queue_max = 3;
    o.batch_ms = 60000;
    o.batch_rows = 1000;
    floe_history *h = floe_history_open(&o, &test_log, err, sizeof(err));
    ASSERT(h != NULL);
    sample_flow(&row, NULL, 0);
    for (int i = 0; i < 5; i++)
        floe_history_add_flow(h, &row);
    floe_history_stats_get(h, &st);
    ASSERT_U64_EQ(st.queued, 3);
    ASSERT_U64_EQ(st.dropped, 2);
    floe_history_alert a;
    memset(&a, 0, sizeof(a));
    ASSERT_EQ(floe_history_add_alert(h, &a), FLOE_EINVAL); /* alerts are off */
    floe_history_close(h);
}

TEST(options_are_checked_naming_the_key)
{
    floe_history_opts o;
    char err[200];
    floe_history_opts_defaults(&o);
    o.url = "ftp://x";
    ASSERT_EQ(floe_history_opts_check(&o, err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "clickhouse.url");
    o.url = "http://127.0.0.1:8123";
    o.database = "floe-db";
    ASSERT_EQ(floe_history_opts_check(&o, err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "clickhouse.database");
    o.database = "floe";
    o.instance = "a b";
    ASSERT_EQ(floe_history_opts_check(&o, err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "clickhouse.instance");
    o.instance = "edge-1.paris";
    o.cluster = "c'";
    ASSERT_EQ(floe_history_opts_check(&o, err, sizeof(err)), FLOE_ECONFIG);
    o.cluster = "pair";
    ASSERT_EQ(floe_history_opts_check(&o, err, sizeof(err)), 0);
}

int main(int argc, char **argv)
{
    floe_log_init(&test_log, FLOE_LOG_ERROR, 0);
    static const test_case cases[] = {
        TEST_ENTRY(flow_row_rowbinary_matches_the_columns),
        TEST_ENTRY(long_strings_are_cut_and_lengths_take_two_bytes),
        TEST_ENTRY(gzip_round_trip),
        TEST_ENTRY(query_parse_typed_values),
        TEST_ENTRY(query_parse_refuses_what_is_not_its_type),
        TEST_ENTRY(sql_holds_floe_renderings_only),
        TEST_ENTRY(spool_keeps_order_bound_and_survives_a_restart),
        TEST_ENTRY(rows_spooled_while_down_are_replayed_in_order),
        TEST_ENTRY(a_hung_server_does_not_hold_the_stop),
        TEST_ENTRY(full_queue_drops_and_counts),
        TEST_ENTRY(options_are_checked_naming_the_key),
    };
    return test_run(cases, FLOE_ARRAY_LEN(cases), argc, argv);
}
