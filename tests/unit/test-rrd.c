/* Unit tests for rrd/: retention strings, schemas, file names, the writer
 * (exact values back, deltas as rates, gaps, replayed past points), charts,
 * layout mismatches and migration, queue overflow, cleanup, rrdcached. */
#include "rrd/rrd.h"
#include "tests/unit/runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rrd.h>

#define T0 1700000040LL /* a whole minute */

static floe_log test_log;

static char *tmpdir(void)
{
    static char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/floe-rrd-XXXXXX");
    ASSERT(mkdtemp(dir) != NULL);
    return dir;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes a test's directory (a failed test leaves its own to look at). */
static void rmtree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static floe_ts *open_cached(const char *dir, const char *retention, size_t qmax, uint32_t cleanup,
                            const char *rrdcached)
{
    floe_ts_opts o;
    char err[256] = "";
    floe_ts_opts_default(&o);
    o.dir = dir;
    o.retention = retention;
    o.rrdcached = rrdcached;
    o.queue_max = qmax;
    o.cleanup_age_s = cleanup;
    floe_log_init(&test_log, FLOE_LOG_ERROR, 0);
    floe_ts *ts = floe_ts_new(&o, &test_log, err, sizeof(err));
    if (!ts)
        fprintf(stderr, "    floe_ts_new: %s\n", err);
    ASSERT(ts != NULL);
    return ts;
}

static floe_ts *open_store(const char *dir, const char *retention, size_t qmax, uint32_t cleanup)
{
    return open_cached(dir, retention, qmax, cleanup, NULL);
}

/* host:traffic, one tag, bytes (delta) and a gauge. */
static void define_traffic(floe_ts *ts, const char *retention)
{
    floe_ts_schema s;
    char err[256];
    ASSERT_EQ(floe_ts_schema_init(&s, "host:traffic", 60, err, sizeof(err)), 0);
    ASSERT_EQ(floe_ts_schema_add_tag(&s, "host", err, sizeof(err)), 0);
    ASSERT_EQ(
        floe_ts_schema_add_metric(&s, "bytes", FLOE_TS_DELTA, "bytes", "Traffic", err, sizeof(err)),
        0);
    ASSERT_EQ(
        floe_ts_schema_add_metric(&s, "level", FLOE_TS_GAUGE, "count", NULL, err, sizeof(err)), 0);
    if (retention)
        ASSERT_EQ(floe_ts_schema_set_retention(&s, retention, err, sizeof(err)), 0);
    ASSERT_EQ(floe_ts_define(ts, &s, err, sizeof(err)), 0);
}

/* A store with the default retention and host:traffic. */
static floe_ts *traffic_store(const char *dir)
{
    floe_ts *ts = open_store(dir, NULL, 0, 0);
    define_traffic(ts, NULL);
    return ts;
}

/* Reads one file back at 60 s: *rows values of ds_cnt columns from start. */
static double *fetch(const char *file, const char *cf, time_t start, time_t end, unsigned long step,
                     unsigned long *ds_cnt, time_t *first)
{
    char **names = NULL;
    rrd_value_t *data = NULL;
    int rc = rrd_fetch_r(file, cf, &start, &end, &step, ds_cnt, &names, &data);
    if (rc)
        fprintf(stderr, "    rrd_fetch_r: %s\n", rrd_get_error());
    ASSERT_EQ(rc, 0);
    for (unsigned long i = 0; i < *ds_cnt; i++)
        rrd_freemem(names[i]);
    rrd_freemem(names);
    *first = start + (time_t)step;
    return data;
}

/* The value of column c at time t (a multiple of 60) from a 60 s fetch. */
static double at(const double *d, time_t first, unsigned long n, time_t t, unsigned c)
{
    return d[(size_t)((t - first) / 60) * n + c];
}

#define ASSERT_NEAR(a, b)                                                                          \
    do {                                                                                           \
        double a__ = (a), b__ = (b);                                                               \
        if (!(fabs(a__ - b__) <= 1e-9 * (fabs(b__) + 1))) {                                        \
            char d__[128];                                                                         \
            snprintf(d__, sizeof(d__), "left = %.17g, right = %.17g", a__, b__);                   \
            test__fail(__FILE__, __LINE__, #a " ~= " #b, d__);                                     \
        }                                                                                          \
    } while (0)

/* ---- retention and schemas ---------------------------------------------------- */

TEST(retention_parse_and_format)
{
    floe_ts_retention r;
    char err[256], text[200];
    ASSERT_EQ(floe_ts_retention_parse(&r, FLOE_TS_DEFAULT_RETENTION, err, sizeof(err)), 0);
    ASSERT_EQ(r.n, 4);
    ASSERT_EQ(r.rra[0].res_s, 60);
    ASSERT_EQ(r.rra[0].span_s, 86400);
    ASSERT_EQ(r.rra[1].res_s, 300);
    ASSERT_EQ(r.rra[1].span_s, 7 * 86400);
    ASSERT_EQ(r.rra[3].span_s, 5 * 365 * 86400);
    ASSERT_EQ(r.cf, FLOE_TS_CF_AVERAGE | FLOE_TS_CF_MAX);
    ASSERT_STR_EQ(floe_ts_retention_format(&r, text, sizeof(text)), FLOE_TS_DEFAULT_RETENTION);
    ASSERT_EQ(floe_ts_retention_parse(&r, " 5m:2d , 1h:90d, cf=avg", err, sizeof(err)), 0);
    ASSERT_EQ(r.n, 2);
    ASSERT_EQ(r.cf, FLOE_TS_CF_AVERAGE);
    ASSERT_STR_EQ(floe_ts_retention_format(&r, text, sizeof(text)), "5m:2d,1h:90d,cf=avg");
    /* 1 day of minutes, 2 metrics, average and max: 1440 * 2 * 2 * 8 bytes. */
    ASSERT_EQ(floe_ts_retention_bytes(&(floe_ts_retention){1, {{60, 86400}}, 0}, 60, 2),
              1440 * 2 * 2 * 8);
}

TEST(retention_errors_name_the_item)
{
    floe_ts_retention r;
    char err[256];
    ASSERT_EQ(floe_ts_retention_parse(&r, "1m:1d,5x:1w", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "item 2 '5x:1w'");
    ASSERT_CONTAINS(err, "unknown unit 'x'");
    ASSERT(!strchr(err, '\n'));
    ASSERT_EQ(floe_ts_retention_parse(&r, "1h:1d,5m:1w", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "resolutions must grow");
    ASSERT_EQ(floe_ts_retention_parse(&r, "1m", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "RESOLUTION:SPAN");
    ASSERT_EQ(floe_ts_retention_parse(&r, "1d:1h", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "shorter than the resolution");
    ASSERT_EQ(floe_ts_retention_parse(&r, "1m:1d,cf=median", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "cf=avg+max");
    ASSERT_EQ(floe_ts_retention_parse(&r, "", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_EQ(floe_ts_retention_parse(&r, "m:1d", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "bad duration");
}

TEST(schema_errors_name_the_field)
{
    floe_ts_schema s;
    char err[256];
    ASSERT_EQ(floe_ts_schema_init(&s, "host traffic", 60, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "schema name 'host traffic'");
    ASSERT_EQ(floe_ts_schema_init(&s, "host::x", 60, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_EQ(floe_ts_schema_init(&s, "host:x", 61, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "schema step 61");
    ASSERT_EQ(floe_ts_schema_init(&s, "plug:lat", 300, err, sizeof(err)), 0);
    ASSERT_EQ(floe_ts_schema_add_tag(&s, "host", err, sizeof(err)), 0);
    ASSERT_EQ(floe_ts_schema_add_tag(&s, "host", err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "tag 2 'host' is already a tag");
    ASSERT_EQ(floe_ts_schema_validate(&s, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "metrics: needs 1");
    ASSERT_EQ(floe_ts_schema_add_metric(&s, "rtt_ms", FLOE_TS_GAUGE, "ms", NULL, err, sizeof(err)),
              0);
    ASSERT_EQ(floe_ts_schema_add_metric(&s, "a_name_that_is_too_long", FLOE_TS_GAUGE, NULL, NULL,
                                        err, sizeof(err)),
              FLOE_EINVAL);
    ASSERT_CONTAINS(err, "metric 2 'a_name_that_is_too_long'");
    ASSERT_EQ(floe_ts_schema_add_metric(&s, "rtt_ms", FLOE_TS_DELTA, NULL, NULL, err, sizeof(err)),
              FLOE_EINVAL);
    ASSERT_CONTAINS(err, "already a metric");
    ASSERT_EQ(floe_ts_schema_validate(&s, err, sizeof(err)), 0);
    /* A one-minute resolution cannot hold a five-minute step. */
    ASSERT_EQ(floe_ts_schema_set_retention(&s, "1m:1d,1h:1y", err, sizeof(err)), 0);
    ASSERT_EQ(floe_ts_schema_validate(&s, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "resolution 60 s is not a multiple of the step (300 s)");
    ASSERT_EQ(floe_ts_schema_set_retention(&s, "1m:1q", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "schema plug:lat: retention: item 1");
}

/* ---- file names ---------------------------------------------------------------- */

static void roundtrip(const char *value, const char *expect)
{
    char enc[512], dec[256];
    int n = floe_ts_tag_encode(value, enc, sizeof(enc));
    ASSERT(n > 0);
    if (expect)
        ASSERT_STR_EQ(enc, expect);
    ASSERT(!strchr(enc, '/'));
    ASSERT(enc[0] != '.');
    ASSERT(!strchr(enc, '+'));
    ASSERT_EQ(floe_ts_tag_decode(enc, (size_t)n, dec, sizeof(dec)), (int)strlen(value));
    ASSERT_STR_EQ(dec, value);
}

TEST(tag_values_make_safe_reversible_names)
{
    char enc[512], dec[256];
    roundtrip("192.0.2.1", "192.0.2.1");
    roundtrip("2001:db8::1", "2001_db8__1");
    roundtrip("fe80::1%eth0", "fe80__1%25eth0");
    roundtrip("a_b", "a%5fb");
    roundtrip(".hidden", "%2ehidden");
    roundtrip("../../etc/passwd", "%2e.%2f..%2fetc%2fpasswd");
    roundtrip("Gi0/1 uplink+x", "Gi0%2f1%20uplink%2bx");
    roundtrip("\xff\x01\n", "%ff%01%0a");
    /* Distinct values give distinct names. */
    char a[64], b[64];
    floe_ts_tag_encode("a:b", a, sizeof(a));
    floe_ts_tag_encode("a_b", b, sizeof(b));
    ASSERT(strcmp(a, b) != 0);
    ASSERT_EQ(floe_ts_tag_encode("..", enc, sizeof(enc)), FLOE_EINVAL);
    ASSERT_EQ(floe_ts_tag_encode(".", enc, sizeof(enc)), FLOE_EINVAL);
    ASSERT_EQ(floe_ts_tag_encode("", enc, sizeof(enc)), FLOE_EINVAL);
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    ASSERT_EQ(floe_ts_tag_encode(big, enc, sizeof(enc)), FLOE_EINVAL);
    /* Names the encoder cannot have made are refused. */
    ASSERT_EQ(floe_ts_tag_decode("a/b", 3, dec, sizeof(dec)), FLOE_EINVAL);
    ASSERT_EQ(floe_ts_tag_decode("a%3a", 4, dec, sizeof(dec)), FLOE_EINVAL);
    ASSERT_EQ(floe_ts_tag_decode("a%2", 3, dec, sizeof(dec)), FLOE_EINVAL);
    ASSERT_EQ(floe_ts_tag_decode("%61", 3, dec, sizeof(dec)), FLOE_EINVAL);
    ASSERT_EQ(floe_ts_tag_decode(".x", 2, dec, sizeof(dec)), FLOE_EINVAL);
}

TEST(series_paths)
{
    floe_ts_schema s;
    char err[256], path[512];
    floe_ts_schema_init(&s, "iface:traffic", 60, err, sizeof(err));
    floe_ts_schema_add_tag(&s, "exporter", err, sizeof(err));
    floe_ts_schema_add_tag(&s, "ifindex", err, sizeof(err));
    floe_ts_schema_add_metric(&s, "bytes", FLOE_TS_DELTA, "bytes", NULL, err, sizeof(err));
    const char *tags[] = {"2001:db8::9", "3"};
    ASSERT(floe_ts_series_path(&s, tags, path, sizeof(path), err, sizeof(err)) > 0);
    ASSERT_STR_EQ(path, "iface/traffic/2001_db8__9+3.rrd");
    const char *bad[] = {"..", "3"};
    ASSERT_EQ(floe_ts_series_path(&s, bad, path, sizeof(path), err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "tag exporter");
    floe_ts_schema_init(&s, "system:load", 60, err, sizeof(err));
    ASSERT(floe_ts_series_path(&s, NULL, path, sizeof(path), err, sizeof(err)) > 0);
    ASSERT_STR_EQ(path, "system/load/_.rrd");
}

/* ---- writing and reading back -------------------------------------------------- */

TEST(append_drain_gives_exact_values_and_rates)
{
    char *dir = tmpdir(), file[256];
    floe_ts *ts = traffic_store(dir);
    const char *tags[] = {"192.0.2.1"};
    for (int k = 0; k < 10; k++) {
        /* Deltas of 6000*(k+1) bytes a minute: (k+1)*100 bytes/s. The point
         * for the minute ending T0+60k may be given any time in it. */
        double v[2] = {6000.0 * (k + 1), k * 1.5};
        ASSERT_EQ(floe_ts_append(ts, "host:traffic", tags, v, 2, T0 + 60 * k - (k % 3) * 20), 0);
    }
    /* Two deltas in one step add up; a gauge keeps the last. */
    double a[2] = {600, 1}, b[2] = {1200, 7};
    floe_ts_append(ts, "host:traffic", tags, a, 2, T0 + 600 - 50);
    floe_ts_append(ts, "host:traffic", tags, b, 2, T0 + 600 - 10);
    /* A minute with no point, then one: the gap stays unknown and the next
     * delta is its own minute's rate, not spread over two. */
    double c[2] = {3000, 2};
    floe_ts_append(ts, "host:traffic", tags, c, 2, T0 + 720);
    ASSERT_EQ(floe_ts_append(ts, "nope", tags, c, 2, T0), FLOE_ENOTFOUND);
    ASSERT_EQ(floe_ts_append(ts, "host:traffic", tags, c, 1, T0), FLOE_EINVAL);
    ASSERT_EQ(floe_ts_drain(ts), 0);
    floe_ts_stats st;
    floe_ts_stats_get(ts, &st);
    ASSERT_EQ(st.points_written, 12);
    ASSERT_EQ(st.points_rejected, 2);
    ASSERT_EQ(st.files_created, 1);
    ASSERT_EQ(st.write_errors, 0);
    snprintf(file, sizeof(file), "%s/host/traffic/192.0.2.1.rrd", dir);
    unsigned long n;
    time_t first;
    double *d = fetch(file, "AVERAGE", T0 - 120, T0 + 720, 60, &n, &first);
    ASSERT_EQ(n, 2);
    ASSERT(isnan(at(d, first, n, T0 - 60, 0)));
    for (int k = 0; k < 10; k++) {
        ASSERT_NEAR(at(d, first, n, T0 + 60 * k, 0), 100.0 * (k + 1));
        ASSERT_NEAR(at(d, first, n, T0 + 60 * k, 1), k * 1.5);
    }
    ASSERT_NEAR(at(d, first, n, T0 + 600, 0), 30.0);
    ASSERT_NEAR(at(d, first, n, T0 + 600, 1), 7.0);
    ASSERT(isnan(at(d, first, n, T0 + 660, 0)));
    ASSERT_NEAR(at(d, first, n, T0 + 720, 0), 50.0);
    rrd_freemem(d);
    floe_ts_free(ts);
    rmtree(dir);
}

TEST(replayed_past_points_are_skipped_not_errors)
{
    char *dir = tmpdir();
    floe_ts *ts = traffic_store(dir);
    const char *tags[] = {"10.0.0.1"};
    double v[2] = {60, 1};
    for (int k = 0; k < 5; k++)
        floe_ts_append(ts, "host:traffic", tags, v, 2, T0 + 60 * k);
    floe_ts_drain(ts);
    floe_ts_append(ts, "host:traffic", tags, v, 2, T0 + 60); /* before the last update */
    floe_ts_append(ts, "host:traffic", tags, v, 2, T0 + 300);
    floe_ts_drain(ts);
    floe_ts_stats st;
    floe_ts_stats_get(ts, &st);
    ASSERT_EQ(st.points_skipped, 1);
    ASSERT_EQ(st.points_written, 6);
    ASSERT_EQ(st.write_errors, 0);
    floe_ts_free(ts);
    /* A new store (a restart) reads the file's last update and skips too. */
    ts = open_store(dir, NULL, 0, 0);
    define_traffic(ts, NULL);
    floe_ts_append(ts, "host:traffic", tags, v, 2, T0 + 120);
    floe_ts_append(ts, "host:traffic", tags, v, 2, T0 + 360);
    floe_ts_drain(ts);
    floe_ts_stats_get(ts, &st);
    ASSERT_EQ(st.points_skipped, 1);
    ASSERT_EQ(st.points_written, 1);
    ASSERT_EQ(st.write_errors, 0);
    /* A replay feeds days of one series faster than the writer takes them:
     * a full series is written, not dropped. */
    const char *fast[] = {"10.0.0.2"};
    for (int k = 0; k < 3000; k++)
        floe_ts_append(ts, "host:traffic", fast, v, 2, T0 + 60 * k);
    floe_ts_drain(ts);
    floe_ts_stats_get(ts, &st);
    ASSERT_EQ(st.points_written, 3001);
    ASSERT_EQ(st.points_dropped, 0);
    floe_ts_free(ts);
    rmtree(dir);
}

static void define_six(floe_ts *ts)
{
    floe_ts_schema s;
    char err[256];
    static const char *names[] = {"bytes_in", "bytes_out", "pkts_in", "pkts_out", "flows", "rtt"};
    floe_ts_schema_init(&s, "probe:six", 60, err, sizeof(err));
    snprintf(s.title, sizeof(s.title), "Six metrics");
    floe_ts_schema_add_tag(&s, "exporter", err, sizeof(err));
    floe_ts_schema_add_tag(&s, "ifindex", err, sizeof(err));
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(floe_ts_schema_add_metric(&s, names[i], i < 4 ? FLOE_TS_DELTA : FLOE_TS_GAUGE,
                                            i < 2   ? "bytes"
                                            : i < 4 ? "packets"
                                                    : "count",
                                            NULL, err, sizeof(err)),
                  0);
    ASSERT_EQ(floe_ts_define(ts, &s, err, sizeof(err)), 0);
}

TEST(six_metrics_end_to_end)
{
    char *dir = tmpdir(), err[256];
    floe_ts *ts = open_store(dir, NULL, 0, 0);
    define_six(ts);
    const char *tags[] = {"2001:db8::1", "7"};
    for (int k = 0; k < 60; k++) {
        double v[6] = {60.0 * k, 120.0 * k, 6.0 * k, 12.0 * k, k, 0.5 * k};
        ASSERT_EQ(floe_ts_append(ts, "probe:six", tags, v, 6, T0 + 60 * k), 0);
    }
    /* The fetch flushes the cached points itself: no drain. */
    floe_buf out;
    floe_buf_init(&out);
    ASSERT_EQ(floe_ts_fetch_json(ts, "probe:six", tags, T0 + 60 * 10, T0 + 60 * 20, "bytes_out,rtt",
                                 &out, err, sizeof(err)),
              0);
    ASSERT_CONTAINS(out.data, "\"tags\":{\"exporter\":\"2001:db8::1\",\"ifindex\":\"7\"}");
    ASSERT_CONTAINS(out.data, "\"step\":60");
    ASSERT_CONTAINS(out.data, "\"metrics\":[\"bytes_out\",\"rtt\"]");
    /* Minute k: bytes_out 120k per minute = 2k/s, rtt 0.5k. */
    ASSERT_CONTAINS(out.data, "[1700000700,22,5.5]");
    ASSERT_CONTAINS(out.data, "[1700000640,20,5]");
    /* The same through a parsed request, tags by name in any order. */
    floe_ts_graph_req q;
    floe_ts_graph_req_init(&q);
    const char *qk[] = {"schema", "ifindex", "exporter", "from", "to", "metrics"};
    const char *qv[] = {"probe:six", "7", "2001:db8::1", "1700000640", "1700000700", "rtt"};
    ASSERT_EQ(floe_ts_graph_req_parse(&q, qk, qv, 6, err, sizeof(err)), 0);
    floe_buf_reset(&out);
    ASSERT_EQ(floe_ts_fetch_req_json(ts, &q, &out, err, sizeof(err)), 0);
    ASSERT_CONTAINS(out.data, "\"points\":[[1700000640,5],[1700000700,5.5]]");
    floe_buf_reset(&out);
    ASSERT_EQ(
        floe_ts_fetch_json(ts, "probe:six", tags, T0, T0 + 60, "nope", &out, err, sizeof(err)),
        FLOE_EINVAL);
    ASSERT_CONTAINS(err, "metrics: 'nope'");
    const char *other[] = {"192.0.2.99", "1"};
    ASSERT_EQ(floe_ts_fetch_json(ts, "probe:six", other, T0, T0 + 60, NULL, &out, err, sizeof(err)),
              FLOE_ENOTFOUND);
    /* Charts, PNG and SVG. */
    floe_ts_graph_req r;
    floe_ts_graph_req_init(&r);
    const char *k[] = {"schema", "exporter", "ifindex", "from", "to", "format", "mode"};
    char from[24], to[24];
    snprintf(from, sizeof(from), "%lld", T0);
    snprintf(to, sizeof(to), "%lld", T0 + 3600);
    const char *v[] = {"probe:six", "2001:db8::1", "7", from, to, "png", "stacked"};
    ASSERT_EQ(floe_ts_graph_req_parse(&r, k, v, 7, err, sizeof(err)), 0);
    floe_buf img;
    floe_buf_init(&img);
    const char *ctype = NULL;
    int rc = floe_ts_graph(ts, &r, &img, &ctype, err, sizeof(err));
    if (rc)
        fprintf(stderr, "    %s\n", err);
    ASSERT_EQ(rc, 0);
    ASSERT_STR_EQ(ctype, "image/png");
    ASSERT(img.len > 1000);
    ASSERT(memcmp(img.data, "\x89PNG\r\n\x1a\n", 8) == 0);
    r.format = FLOE_TS_SVG;
    r.dark = 1;
    floe_buf_reset(&img);
    ASSERT_EQ(floe_ts_graph(ts, &r, &img, &ctype, err, sizeof(err)), 0);
    ASSERT_STR_EQ(ctype, "image/svg+xml");
    ASSERT(strstr(img.data, "<svg") && strstr(img.data, "<svg") - img.data < 300);
    ASSERT_CONTAINS(img.data, "</svg>");
    /* The same request again comes from the cache. */
    size_t len = img.len;
    floe_buf_reset(&img);
    ASSERT_EQ(floe_ts_graph(ts, &r, &img, &ctype, err, sizeof(err)), 0);
    ASSERT_EQ(img.len, len);
    floe_ts_stats st;
    floe_ts_stats_get(ts, &st);
    ASSERT_EQ(st.graphs_rendered, 2);
    ASSERT_EQ(st.graphs_cached, 1);
    /* The listing decodes the file name back into the tag values. */
    floe_buf_reset(&out);
    floe_json j;
    floe_json_init(&j, &out);
    ASSERT_EQ(floe_ts_list_json(ts, &j, 0), 0);
    ASSERT_CONTAINS(out.data, "\"name\":\"probe:six\"");
    ASSERT_CONTAINS(out.data, "\"series\":[{\"exporter\":\"2001:db8::1\",\"ifindex\":\"7\"}]");
    ASSERT_CONTAINS(out.data, "\"retention\":\"1m:1d,5m:1w,1h:1y,1d:5y\"");
    floe_buf_close(&img);
    floe_buf_close(&out);
    floe_ts_free(ts);
    rmtree(dir);
}

TEST(graph_request_errors_name_the_key)
{
    char *dir = tmpdir(), err[256];
    floe_ts_graph_req r;
    floe_ts_graph_req_init(&r);
    const char *k1[] = {"width"}, *v1[] = {"5"};
    ASSERT_EQ(floe_ts_graph_req_parse(&r, k1, v1, 1, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "bad width '5'");
    const char *k2[] = {"range"}, *v2[] = {"3q"};
    ASSERT_EQ(floe_ts_graph_req_parse(&r, k2, v2, 1, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "bad range '3q'");
    const char *k3[] = {"range", "theme"}, *v3[] = {"1w", "dark"};
    ASSERT_EQ(floe_ts_graph_req_parse(&r, k3, v3, 2, err, sizeof(err)), 0);
    ASSERT_EQ(r.range_s, 7 * 86400);
    ASSERT_EQ(r.dark, 1);
    floe_ts *ts = traffic_store(dir);
    floe_ts_graph_req_init(&r);
    const char *k4[] = {"schema", "bogus"}, *v4[] = {"host:traffic", "1"};
    ASSERT_EQ(floe_ts_graph_req_parse(&r, k4, v4, 2, err, sizeof(err)), 0);
    floe_buf img;
    floe_buf_init(&img);
    const char *ctype;
    ASSERT_EQ(floe_ts_graph(ts, &r, &img, &ctype, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "unknown key 'bogus'");
    floe_ts_graph_req_init(&r);
    snprintf(r.schema, sizeof(r.schema), "host:traffic");
    ASSERT_EQ(floe_ts_graph(ts, &r, &img, &ctype, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "missing tag 'host'");
    floe_buf_close(&img);
    floe_ts_free(ts);
    rmtree(dir);
}

/* ---- layouts and migration ----------------------------------------------------- */

static int count_rras(const char *file)
{
    rrd_info_t *info = rrd_info_r(file);
    int n = 0;
    for (rrd_info_t *p = info; p; p = p->next)
        n += strstr(p->key, "].cf") != NULL;
    rrd_info_free(info);
    return n;
}

TEST(retention_mismatch_is_reported_and_migrate_keeps_data)
{
    char *dir = tmpdir(), file[256], err[512];
    const char *tags[] = {"198.51.100.7"};
    floe_ts *ts = open_store(dir, "1m:2h,5m:1d", 0, 0);
    define_traffic(ts, NULL);
    for (int k = 0; k < 30; k++) {
        double v[2] = {60.0 * (k + 1), k};
        floe_ts_append(ts, "host:traffic", tags, v, 2, T0 + 60 * k);
    }
    floe_ts_drain(ts);
    floe_ts_free(ts);
    snprintf(file, sizeof(file), "%s/host/traffic/198.51.100.7.rrd", dir);
    ASSERT_EQ(count_rras(file), 4);
    /* The configuration changes: a store with another retention notices. */
    ts = open_store(dir, "1m:1d,1h:1w", 0, 0);
    define_traffic(ts, NULL);
    double v[2] = {60.0 * 31, 30};
    floe_ts_append(ts, "host:traffic", tags, v, 2, T0 + 60 * 30);
    floe_ts_drain(ts);
    floe_ts_stats st;
    floe_ts_stats_get(ts, &st);
    ASSERT_EQ(st.files_mismatched, 1);
    ASSERT_EQ(st.points_written, 1); /* written despite the mismatch */
    floe_ts_schema s;
    ASSERT_EQ(floe_ts_schema_find(ts, "host:traffic", &s), 0);
    floe_ts_migrate_result res;
    ASSERT_EQ(floe_ts_migrate(ts, dir, &s, 1, &res, err, sizeof(err)), 0);
    ASSERT_EQ(res.files_migrated, 1);
    ASSERT_EQ(res.files_failed, 0);
    ASSERT_EQ(count_rras(file), 4);
    char old[300];
    snprintf(old, sizeof(old), "%s.old", file);
    ASSERT_EQ(access(old, F_OK), 0);
    rrd_info_t *info = rrd_info_r(file);
    int rows_1m = 0;
    for (rrd_info_t *p = info; p; p = p->next)
        if (!strcmp(p->key, "rra[0].rows"))
            rows_1m = (int)p->value.u_cnt;
    rrd_info_free(info);
    ASSERT_EQ(rows_1m, 1440);
    /* Every minute written before is still there. */
    unsigned long n;
    time_t first;
    double *d = fetch(file, "AVERAGE", T0 - 60, T0 + 60 * 30, 60, &n, &first);
    for (int k = 0; k <= 30; k++) {
        ASSERT_NEAR(at(d, first, n, T0 + 60 * k, 0), k + 1.0);
        ASSERT_NEAR(at(d, first, n, T0 + 60 * k, 1), k);
    }
    rrd_freemem(d);
    /* A second run finds nothing to do; writing goes on without mismatch. */
    ASSERT_EQ(floe_ts_migrate(ts, file, &s, 0, &res, err, sizeof(err)), 0);
    ASSERT_EQ(res.files_same, 1);
    double w[2] = {60.0 * 32, 31};
    floe_ts_append(ts, "host:traffic", tags, w, 2, T0 + 60 * 31);
    floe_ts_drain(ts);
    floe_ts_stats_get(ts, &st);
    ASSERT_EQ(st.files_mismatched, 1);
    ASSERT_EQ(st.points_written, 2);
    ASSERT_EQ(st.write_errors, 0);
    /* A schema without one of the file's metrics would lose it: refused
     * unless the old file is kept. */
    floe_ts_schema one;
    floe_ts_schema_init(&one, "host:traffic", 60, err, sizeof(err));
    floe_ts_schema_add_tag(&one, "host", err, sizeof(err));
    floe_ts_schema_add_metric(&one, "bytes", FLOE_TS_DELTA, "bytes", NULL, err, sizeof(err));
    ASSERT_EQ(floe_ts_migrate(NULL, file, &one, 0, &res, err, sizeof(err)), 0);
    ASSERT_EQ(res.files_failed, 1);
    ASSERT_CONTAINS(err, "metric level is not in schema");
    floe_ts_free(ts);
    rmtree(dir);
}

TEST(metrics_added_to_a_schema_keep_the_common_ones_written)
{
    char *dir = tmpdir(), file[256], err[256];
    const char *tags[] = {"203.0.113.5"};
    floe_ts *ts = traffic_store(dir);
    double v[2] = {600, 3};
    floe_ts_append(ts, "host:traffic", tags, v, 2, T0);
    floe_ts_drain(ts);
    /* A plugin reload adds a metric in front. */
    floe_ts_schema s;
    floe_ts_schema_init(&s, "host:traffic", 60, err, sizeof(err));
    floe_ts_schema_add_tag(&s, "host", err, sizeof(err));
    floe_ts_schema_add_metric(&s, "extra", FLOE_TS_GAUGE, NULL, NULL, err, sizeof(err));
    floe_ts_schema_add_metric(&s, "bytes", FLOE_TS_DELTA, "bytes", NULL, err, sizeof(err));
    floe_ts_schema_add_metric(&s, "level", FLOE_TS_GAUGE, NULL, NULL, err, sizeof(err));
    ASSERT_EQ(floe_ts_define(ts, &s, err, sizeof(err)), 0);
    double w[3] = {99, 1200, 4};
    ASSERT_EQ(floe_ts_append(ts, "host:traffic", tags, w, 3, T0 + 60), 0);
    floe_ts_drain(ts);
    floe_ts_stats st;
    floe_ts_stats_get(ts, &st);
    ASSERT_EQ(st.files_mismatched, 1);
    ASSERT_EQ(st.points_written, 2);
    snprintf(file, sizeof(file), "%s/host/traffic/203.0.113.5.rrd", dir);
    unsigned long n;
    time_t first;
    double *d = fetch(file, "AVERAGE", T0 - 60, T0 + 60, 60, &n, &first);
    ASSERT_EQ(n, 2);
    ASSERT_NEAR(at(d, first, n, T0 + 60, 0), 20.0);
    ASSERT_NEAR(at(d, first, n, T0 + 60, 1), 4.0);
    rrd_freemem(d);
    floe_ts_free(ts);
    rmtree(dir);
}

TEST(a_locked_file_keeps_its_points_for_later)
{
    char *dir = tmpdir(), file[256];
    floe_ts *ts = open_store(dir, "1m:1h", 0, 0);
    define_traffic(ts, NULL);
    const char *tags[] = {"192.0.2.77"};
    double v[2] = {60, 1};
    floe_ts_append(ts, "host:traffic", tags, v, 2, T0);
    floe_ts_drain(ts);
    snprintf(file, sizeof(file), "%s/host/traffic/192.0.2.77.rrd", dir);
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) { /* another process holds librrd's lock (fcntl) */
        int fd = open(file, O_RDWR);
        struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fd < 0 || fcntl(fd, F_SETLK, &lk) != 0)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    double w[2] = {120, 2};
    floe_ts_append(ts, "host:traffic", tags, w, 2, T0 + 60);
    floe_ts_drain(ts);
    floe_ts_stats st;
    floe_ts_stats_get(ts, &st);
    ASSERT_GE(st.writes_busy, 1);
    ASSERT_EQ(st.points_failed, 0);
    ASSERT_EQ(st.write_errors, 0);
    ASSERT_EQ(st.cached_points, 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    floe_ts_drain(ts);
    floe_ts_stats_get(ts, &st);
    ASSERT_EQ(st.points_written, 2);
    ASSERT_EQ(st.cached_points, 0);
    ASSERT_EQ(rrd_last_r(file), T0 + 60);
    floe_ts_free(ts);
    rmtree(dir);
}

/* ---- bounds and cleanup ---------------------------------------------------------- */

TEST(queue_overflow_drops_the_oldest_and_counts)
{
    char *dir = tmpdir(), file[256];
    floe_ts *ts = open_store(dir, NULL, 2000, 0);
    define_traffic(ts, NULL);
    const char *tags[] = {"192.0.2.50"};
    floe_ts_hold(ts, 1);
    for (int k = 0; k < 5000; k++) {
        double v[2] = {60.0 * k, k};
        ASSERT_EQ(floe_ts_append(ts, "host:traffic", tags, v, 2, T0 + 60 * k), 0);
    }
    floe_ts_stats st;
    floe_ts_stats_get(ts, &st);
    ASSERT_LE(st.queue_len, 2000);
    ASSERT_GE(st.points_dropped, 3000);
    floe_ts_hold(ts, 0);
    floe_ts_drain(ts);
    floe_ts_stats_get(ts, &st);
    ASSERT_EQ(st.points_dropped + st.points_written, 5000);
    ASSERT_EQ(st.queue_len, 0);
    ASSERT_EQ(st.cached_points, 0);
    /* The newest point made it, the oldest did not. */
    snprintf(file, sizeof(file), "%s/host/traffic/192.0.2.50.rrd", dir);
    ASSERT_EQ(rrd_last_r(file), T0 + 60 * 4999);
    unsigned long n;
    time_t first;
    double *d = fetch(file, "AVERAGE", T0 + 60 * 4990, T0 + 60 * 4999, 60, &n, &first);
    ASSERT_NEAR(at(d, first, n, T0 + 60 * 4999, 1), 4999);
    rrd_freemem(d);
    /* The first points, in the week of 5 minutes, are not. */
    d = fetch(file, "AVERAGE", T0, T0 + 3000, 300, &n, &first);
    for (int i = 0; i < 10; i++)
        ASSERT(isnan(d[i * 2 + 1]));
    rrd_freemem(d);
    floe_ts_free(ts);
    rmtree(dir);
}

TEST(cleanup_removes_series_not_updated)
{
    char *dir = tmpdir(), old[256], fresh[256];
    floe_ts *ts = open_store(dir, "1m:1h", 0, 0);
    define_traffic(ts, NULL);
    const char *a[] = {"10.1.1.1"}, *b[] = {"10.1.1.2"};
    double v[2] = {1, 1};
    floe_ts_append(ts, "host:traffic", a, v, 2, T0);
    floe_ts_append(ts, "host:traffic", b, v, 2, T0);
    floe_ts_drain(ts);
    floe_ts_free(ts);
    snprintf(old, sizeof(old), "%s/host/traffic/10.1.1.1.rrd", dir);
    snprintf(fresh, sizeof(fresh), "%s/host/traffic/10.1.1.2.rrd", dir);
    struct timeval tv[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
    ASSERT_EQ(utimes(old, tv), 0);
    ts = open_store(dir, "1m:1h", 0, 3600);
    floe_ts_stats st;
    for (int i = 0; i < 100; i++) {
        floe_ts_stats_get(ts, &st);
        if (st.cleanup_deleted)
            break;
        usleep(50000);
    }
    ASSERT_EQ(st.cleanup_deleted, 1);
    ASSERT(access(old, F_OK) != 0);
    ASSERT_EQ(access(fresh, F_OK), 0);
    floe_ts_free(ts);
    rmtree(dir);
}

/* ---- rrdcached ------------------------------------------------------------------- */

static const char *rrdcached_bin(void)
{
    static const char *const paths[] = {"/usr/bin/rrdcached", "/usr/sbin/rrdcached"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

TEST(through_rrdcached)
{
    const char *bin = rrdcached_bin();
    if (!bin) {
        printf("  skipped: no rrdcached binary (apt-get install rrdcached)\n");
        return;
    }
    char *dir = tmpdir(), sock[128], addr[140], journal[128], err[256];
    snprintf(sock, sizeof(sock), "%s/rrdcached.sock", dir);
    snprintf(addr, sizeof(addr), "unix:%s", sock);
    snprintf(journal, sizeof(journal), "%s/journal", dir);
    mkdir(journal, 0700);
    pid_t pid = fork();
    if (pid == 0) {
        char pidf[140];
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test takes the daemon with it */
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        snprintf(pidf, sizeof(pidf), "%s/pid", dir);
        execl(bin, bin, "-g", "-l", addr, "-p", pidf, "-j", journal, "-w", "3600", "-f", "7200",
              "-z", "1", "-F", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && access(sock, F_OK) != 0; i++)
        usleep(20000);
    ASSERT_EQ(access(sock, F_OK), 0);
    char data[128];
    snprintf(data, sizeof(data), "%s/data", dir);
    floe_ts *ts = open_cached(data, NULL, 0, 0, addr);
    define_traffic(ts, NULL);
    const char *tags[] = {"2001:db8::42"};
    for (int k = 0; k < 20; k++) {
        double v[2] = {120.0 * (k + 1), k};
        floe_ts_append(ts, "host:traffic", tags, v, 2, T0 + 60 * k);
    }
    floe_ts_drain(ts);
    floe_ts_stats st;
    floe_ts_stats_get(ts, &st);
    ASSERT_EQ(st.points_written, 20);
    ASSERT_EQ(st.write_errors, 0);
    ASSERT_EQ(st.updates, 1); /* the drain sends the 20 steps in one update */
    /* The daemon holds the points (-w 3600); the fetch flushes them. */
    floe_buf out;
    floe_buf_init(&out);
    ASSERT_EQ(floe_ts_fetch_json(ts, "host:traffic", tags, T0, T0 + 60 * 19, NULL, &out, err,
                                 sizeof(err)),
              0);
    ASSERT_CONTAINS(out.data, "[1700000640,22,10]");
    ASSERT_CONTAINS(out.data, "[1700001180,40,19]");
    floe_buf_close(&out);
    /* More points the daemon holds (-w 3600) and the file has not seen. */
    double v[2] = {60, 1};
    floe_ts_append(ts, "host:traffic", tags, v, 2, T0 + 60 * 20);
    floe_ts_free(ts);
    /* A restart: the new store asks the daemon for the last update. */
    ts = open_cached(data, NULL, 0, 0, addr);
    define_traffic(ts, NULL);
    floe_ts_append(ts, "host:traffic", tags, v, 2, T0 + 60 * 20);
    floe_ts_append(ts, "host:traffic", tags, v, 2, T0 + 60 * 21);
    floe_ts_drain(ts);
    floe_ts_stats_get(ts, &st);
    ASSERT_EQ(st.points_skipped, 1);
    ASSERT_EQ(st.points_written, 1);
    ASSERT_EQ(st.write_errors, 0);
    floe_ts_free(ts);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    rmtree(dir);
}

TEST(stats_writers)
{
    char *dir = tmpdir();
    floe_ts *ts = traffic_store(dir);
    const char *tags[] = {"192.0.2.1"};
    double v[2] = {1, 1};
    floe_ts_append(ts, "host:traffic", tags, v, 2, T0);
    floe_ts_drain(ts);
    floe_buf b;
    floe_buf_init(&b);
    floe_ts_stats_prometheus(ts, &b);
    ASSERT_CONTAINS(b.data, "# TYPE floe_ts_points_written counter\nfloe_ts_points_written 1\n");
    ASSERT_CONTAINS(b.data, "floe_ts_files_created 1\n");
    floe_buf_reset(&b);
    floe_json j;
    floe_json_init(&j, &b);
    floe_ts_stats_json(ts, &j);
    ASSERT_CONTAINS(b.data, "\"points_queued\":1,");
    ASSERT_CONTAINS(b.data, "\"mode\":\"direct\"");
    floe_buf_close(&b);
    floe_ts_free(ts);
    rmtree(dir);
}

TEST(bad_options_name_the_key)
{
    floe_ts_opts o;
    char err[256];
    floe_log_init(&test_log, FLOE_LOG_ERROR, 0);
    floe_ts_opts_default(&o);
    char *dir = tmpdir();
    o.dir = dir;
    o.retention = "1m:1d,2m:1m";
    ASSERT(floe_ts_new(&o, &test_log, err, sizeof(err)) == NULL);
    ASSERT_CONTAINS(err, "timeseries.retention: item 2");
    o.retention = NULL;
    o.rrdcached = "unix:/nonexistent/sock";
    ASSERT(floe_ts_new(&o, &test_log, err, sizeof(err)) == NULL);
    ASSERT_CONTAINS(err, "timeseries.rrdcached");
    rmtree(dir);
}

/* ---- the shutdown journal ------------------------------------------------------ */

#define JOURNAL_HOSTS 2000

static double journal_bytes(int i, int k)
{
    return 60.0 * (i + 1 + k);
}

static size_t count_lines(const char *file)
{
    FILE *f = fopen(file, "r");
    size_t n = 0;
    int c;
    ASSERT(f != NULL);
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    if (!d)
        return 0;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".rrd") != NULL;
    closedir(d);
    return n;
}

TEST(a_shutdown_past_its_deadline_journals_the_rest_for_the_next_start)
{
    char *dir = tmpdir(), journal[256], files[256], file[400], err[256] = "", host[32];
    snprintf(journal, sizeof(journal), "%s/" FLOE_TS_JOURNAL, dir);
    snprintf(files, sizeof(files), "%s/host/traffic", dir);
    floe_ts_opts o;
    floe_ts_opts_default(&o);
    o.dir = dir;
    o.shutdown_ms = 1; /* 2,000 files to create: far more than a millisecond's work */
    floe_log_init(&test_log, FLOE_LOG_ERROR, 0);
    floe_ts *ts = floe_ts_new(&o, &test_log, err, sizeof(err));
    ASSERT(ts != NULL);
    define_traffic(ts, NULL);
    for (int i = 0; i < JOURNAL_HOSTS; i++) {
        snprintf(host, sizeof(host), "10.0.%d.%d", i / 250, i % 250 + 1);
        const char *tags[] = {host};
        for (int k = 0; k < 3; k++) {
            double v[2] = {journal_bytes(i, k), i == 7 && k == 1 ? NAN : k + 0.5};
            ASSERT_EQ(floe_ts_append(ts, "host:traffic", tags, v, 2, T0 + 60 * k), 0);
        }
    }
    floe_ts_free(ts);
    /* Every series is either written whole or in the journal, whole. */
    size_t written = count_files(files), saved = count_lines(journal) - 1;
    ASSERT(written < JOURNAL_HOSTS);
    ASSERT_EQ(saved, 3 * (JOURNAL_HOSTS - written));
    /* Two lines the next start cannot take: counted, and the rest goes on. */
    FILE *f = fopen(journal, "a");
    ASSERT(f != NULL);
    fputs("gone:schema\t1700000100\t1,2\tgone/schema/x.rrd\n", f);
    fputs("host:traffic\tnot a time\t1,2\thost/traffic/x.rrd\n", f);
    fclose(f);

    ts = traffic_store(dir);
    ASSERT_EQ(floe_ts_journal_load(ts, err, sizeof(err)), (long)saved);
    ASSERT(access(journal, F_OK) != 0);
    ASSERT_EQ(floe_ts_journal_load(ts, err, sizeof(err)), 0); /* none left: nothing to do */
    ASSERT_EQ(floe_ts_drain(ts), 0);
    floe_ts_stats st;
    floe_ts_stats_get(ts, &st);
    ASSERT_EQ(st.points_restored, saved);
    ASSERT_EQ(st.points_rejected, 2);
    ASSERT_EQ(st.points_written, saved);
    ASSERT_EQ(st.write_errors, 0);
    ASSERT_EQ(count_files(files), JOURNAL_HOSTS);
    /* The values came back exact, an unknown gauge unknown, whichever
     * run wrote the file. */
    for (int i = 0; i < JOURNAL_HOSTS; i += 7) {
        snprintf(file, sizeof(file), "%s/10.0.%d.%d.rrd", files, i / 250, i % 250 + 1);
        unsigned long n;
        time_t first;
        double *d = fetch(file, "AVERAGE", T0 - 60, T0 + 120, 60, &n, &first);
        for (int k = 0; k < 3; k++) {
            ASSERT_NEAR(at(d, first, n, T0 + 60 * k, 0), journal_bytes(i, k) / 60.0);
            if (i == 7 && k == 1)
                ASSERT(isnan(at(d, first, n, T0 + 60 * k, 1)));
            else
                ASSERT_NEAR(at(d, first, n, T0 + 60 * k, 1), k + 0.5);
        }
        rrd_freemem(d);
    }
    /* A file that is not a journal is left alone, and named. */
    f = fopen(journal, "w");
    ASSERT(f != NULL);
    fputs("something else\n", f);
    fclose(f);
    ASSERT_EQ(floe_ts_journal_load(ts, err, sizeof(err)), FLOE_EIO);
    ASSERT(strstr(err, FLOE_TS_JOURNAL) && strstr(err, "not a floe timeseries journal"));
    ASSERT_EQ(access(journal, F_OK), 0);
    floe_ts_free(ts);
    rmtree(dir);
}

TEST_MAIN(TEST_ENTRY(retention_parse_and_format), TEST_ENTRY(retention_errors_name_the_item),
          TEST_ENTRY(schema_errors_name_the_field),
          TEST_ENTRY(tag_values_make_safe_reversible_names), TEST_ENTRY(series_paths),
          TEST_ENTRY(append_drain_gives_exact_values_and_rates),
          TEST_ENTRY(replayed_past_points_are_skipped_not_errors),
          TEST_ENTRY(six_metrics_end_to_end), TEST_ENTRY(graph_request_errors_name_the_key),
          TEST_ENTRY(retention_mismatch_is_reported_and_migrate_keeps_data),
          TEST_ENTRY(metrics_added_to_a_schema_keep_the_common_ones_written),
          TEST_ENTRY(a_locked_file_keeps_its_points_for_later),
          TEST_ENTRY(queue_overflow_drops_the_oldest_and_counts),
          TEST_ENTRY(cleanup_removes_series_not_updated), TEST_ENTRY(through_rrdcached),
          TEST_ENTRY(stats_writers), TEST_ENTRY(bad_options_name_the_key),
          TEST_ENTRY(a_shutdown_past_its_deadline_journals_the_rest_for_the_next_start))
