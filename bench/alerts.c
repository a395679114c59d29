/*
 * bench/alerts: the alert store's two figures. "write" pushes alerts at a
 * fixed rate from one thread for a while (distinct entities, so nothing
 * merges) and reports the rows committed a second, the queue's peak, drops,
 * the cost of a push and the process's peak RSS. "query" fills a database
 * with a week of alerts plus an hour-long storm (10M rows by default,
 * through the store itself), then times the API's typical queries, each
 * with totals. Built on demand: make bench/alerts. See BENCHMARKS.md.
 *
 *   bench/alerts write [--rate N] [--seconds S] [--dir DIR] [--trace]
 *   bench/alerts query [--rows N] [--dir DIR] [--runs K]
 */
#include "alerts/alerts.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NOW_MS  1700000000000ULL /* the query data set's "now" */
#define HOUR_MS 3600000ULL
#define DAY_MS  (24 * HOUR_MS)

typedef struct bench_args {
    const char *mode;
    const char *dir;
    uint64_t rate, seconds, rows;
    int runs;
    int trace;
} bench_args;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* CPU seconds of the whole process, and of the calling thread. */
static double cpu_process(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double cpu_thread(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_peak_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = atol(line + 6);
    if (f)
        fclose(f);
    return kib;
}

/* xorshift64*: the data set is the same on every run. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dULL;
}

static void v4(floe_addr *a, uint32_t ip)
{
    uint8_t b[4] = {(uint8_t)(ip >> 24), (uint8_t)(ip >> 16), (uint8_t)(ip >> 8), (uint8_t)ip};
    floe_addr_from_v4(a, b);
}

static void flow_event(floe_alert *a, const char *type, uint32_t cli, uint32_t srv, uint64_t when,
                       int sev)
{
    char c[FLOE_ADDR_STRLEN], s[FLOE_ADDR_STRLEN];
    memset(a, 0, sizeof(*a));
    a->kind = FLOE_ALERT_ONESHOT;
    a->when_ms = when;
    snprintf(a->type, sizeof(a->type), "%s", type);
    snprintf(a->plugin, sizeof(a->plugin), "%.*s", (int)strcspn(type, "."), type);
    snprintf(a->check, sizeof(a->check), "risk");
    a->entity_type = FLOE_ENTITY_FLOW;
    a->has_flow = 1;
    v4(&a->cli, cli);
    v4(&a->srv, srv);
    v4(&a->exporter, 0xc0000201);
    a->cli_port = (uint16_t)(1024 + (srv & 0x7fff));
    a->srv_port = 443;
    a->l4 = 6;
    snprintf(a->app, sizeof(a->app), "TLS.Google");
    snprintf(a->entity, sizeof(a->entity), "%s:%u -> %s:443/6", floe_addr_format(&a->cli, c),
             a->cli_port, floe_addr_format(&a->srv, s));
    a->severity = sev;
    a->score = 50;
    a->bytes = 4200;
    a->packets = 12;
    a->info = "{\"risk\":\"TLS certificate expired\",\"days\":12}";
}

static floe_alerts *open_bench(const char *dir, uint32_t queue_max, uint32_t batch_max)
{
    floe_alerts_opts o;
    char err[256];
    static floe_log log;
    floe_log_init(&log, FLOE_LOG_WARN, 0);
    floe_alerts_opts_defaults(&o);
    o.dir = dir;
    o.max_age_s = 0;
    o.max_rows = 0;
    o.queue_max = queue_max;
    o.batch_max = batch_max;
    floe_alerts *s = floe_alerts_open(&o, &log, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "bench/alerts: %s\n", err);
        exit(1);
    }
    return s;
}

/* ---- write ------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* --trace: the queue's depth and the rows committed, every 250 ms. */
typedef struct tracer {
    floe_alerts *s;
    volatile int stop;
} tracer;

static void *trace_main(void *arg)
{
    tracer *t = arg;
    uint64_t t0 = now_ns();
    while (!t->stop) {
        floe_alerts_stats st;
        floe_alerts_stats_get(t->s, &st);
        fprintf(stderr, "  %6.2f s  queued %6llu  inserted %8llu  dropped %7llu  batches %llu\n",
                (double)(now_ns() - t0) / 1e9, (unsigned long long)st.queued,
                (unsigned long long)st.inserted, (unsigned long long)st.dropped,
                (unsigned long long)st.batches);
        struct timespec ts = {0, 250000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void bench_write(const bench_args *a)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/write", a->dir);
    mkdir(a->dir, 0755);
    mkdir(dir, 0755);
    char db[600];
    snprintf(db, sizeof(db), "%s/alerts.db", dir);
    unlink(db);
    floe_alerts *s = open_bench(dir, 65536, 8192);
    tracer tr = {s, 0};
    pthread_t trace_thread;
    if (a->trace)
        pthread_create(&trace_thread, NULL, trace_main, &tr);
    /* --rate 0: as fast as the writer takes them (push retried when full),
     * which measures the writer's capacity. */
    int paced = a->rate > 0;
    uint64_t total = (paced ? a->rate : 100000) * a->seconds;
    uint64_t interval = paced ? 1000000000ULL / a->rate : 0;
    uint64_t *lat = malloc(total * sizeof(*lat)), t0 = now_ns(), when = NOW_MS;
    double cpu0 = cpu_process(), main0 = cpu_thread();
    floe_alert ev;
    for (uint64_t i = 0; i < total; i++) {
        /* Paced by sleeping, not spinning: the writer needs the other core. */
        uint64_t due = t0 + i * interval, t = (i & 31) == 0 ? now_ns() : due;
        if (paced && t + 100000 < due) {
            struct timespec ts = {0, (long)(due - t)};
            nanosleep(&ts, NULL);
        }
        flow_event(&ev, i % 10 ? "flow_risk.tls_expired" : "flow_risk.blacklisted",
                   0x0a000000u + (uint32_t)(i % 65536), 0x64400000u + (uint32_t)(i / 65536 % 4096),
                   when + i / 100, FLOE_SEV_WARNING);
        uint64_t p0 = now_ns();
        while (floe_alerts_push(s, &ev) == FLOE_ELIMIT && !paced) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
            p0 = now_ns();
        }
        lat[i] = now_ns() - p0;
    }
    uint64_t t_push = now_ns();
    floe_alerts_flush(s);
    uint64_t t_done = now_ns();
    /* The store's threads (writer, checkpointer): all but this one. */
    double store_cpu = cpu_process() - cpu0 - (cpu_thread() - main0);
    if (a->trace) {
        tr.stop = 1;
        pthread_join(trace_thread, NULL);
    }
    floe_alerts_stats st;
    floe_alerts_stats_get(s, &st);
    qsort(lat, total, sizeof(*lat), cmp_u64);
    if (paced)
        printf("write: %llu alerts at %llu/s for %llu s from one thread\n",
               (unsigned long long)total, (unsigned long long)a->rate,
               (unsigned long long)a->seconds);
    else
        printf("write: %llu alerts as fast as the writer commits them\n",
               (unsigned long long)total);
    printf("  pushing took %.2f s; everything committed after %.2f s\n",
           (double)(t_push - t0) / 1e9, (double)(t_done - t0) / 1e9);
    printf("  committed %llu rows = %.0f rows/s; %llu write batches (%.0f rows each)\n",
           (unsigned long long)st.inserted, (double)st.inserted * 1e9 / (double)(t_done - t0),
           (unsigned long long)st.batches,
           st.batches ? (double)st.inserted / (double)st.batches : 0);
    printf("  the store's threads used %.2f s of CPU: %.1f us a row (%.0f rows/s a core)\n",
           store_cpu, st.inserted ? store_cpu * 1e6 / (double)st.inserted : 0,
           store_cpu > 0 ? (double)st.inserted / store_cpu : 0);
    printf("  queue peak %llu of %llu; dropped %llu; merged %llu\n",
           (unsigned long long)st.queue_peak, (unsigned long long)st.queue_max,
           (unsigned long long)st.dropped, (unsigned long long)st.merged);
    printf("  push: median %llu ns, p99 %llu ns, p99.99 %llu ns, max %llu ns\n",
           (unsigned long long)lat[total / 2], (unsigned long long)lat[total * 99 / 100],
           (unsigned long long)lat[total * 9999 / 10000], (unsigned long long)lat[total - 1]);
    floe_alerts_close(s);
    printf("  peak RSS %ld KiB\n", rss_peak_kib());
    free(lat);
}

/* ---- query --------------------------------------------------------------------- */

/* The data set: rows - storm over the week before NOW, then `storm` rows in
 * the last hour, 60% of them one scanner (10.0.66.66) raising
 * flow_risk.storm against distinct servers. 20% of the rest are host
 * alerts, one in 50 of those engaged. */
static void gen_event(floe_alert *ev, uint64_t i, uint64_t rows, uint64_t *seed)
{
    static const int sevs[] = {
        FLOE_SEV_INFO,  FLOE_SEV_NOTICE, FLOE_SEV_WARNING,  FLOE_SEV_WARNING, FLOE_SEV_WARNING,
        FLOE_SEV_ERROR, FLOE_SEV_ERROR,  FLOE_SEV_CRITICAL, FLOE_SEV_NOTICE,  FLOE_SEV_EMERGENCY};
    uint64_t storm = rows / 10, calm = rows - storm, r = rnd(seed);
    char type[64];
    if (i >= calm && r % 10 < 6) {
        uint64_t k = i - calm;
        flow_event(ev, "flow_risk.storm", 0x0a004242u, 0x64400000u + (uint32_t)(k % 4000000),
                   NOW_MS - HOUR_MS + k * HOUR_MS / storm, FLOE_SEV_ERROR);
        return;
    }
    uint64_t when = i < calm ? NOW_MS - 7 * DAY_MS - HOUR_MS + i * 7 * DAY_MS / calm
                             : NOW_MS - HOUR_MS + (i - calm) * HOUR_MS / storm;
    uint32_t host = 0x0a000000u + (uint32_t)(r >> 8 & 0xffff);
    int sev = sevs[(r >> 40) % 10];
    if ((r >> 32) % 5 == 0) {
        char ip[FLOE_ADDR_STRLEN];
        floe_addr a;
        snprintf(type, sizeof(type), "hosts.t%u", (unsigned)((r >> 24) % 10));
        flow_event(ev, type, host, 0, when, sev);
        ev->has_flow = 0;
        ev->entity_type = FLOE_ENTITY_HOST;
        v4(&a, host);
        snprintf(ev->entity, sizeof(ev->entity), "%s", floe_addr_format(&a, ip));
        ev->kind = (r >> 48) % 50 == 0 ? FLOE_ALERT_ENGAGE : FLOE_ALERT_ONESHOT;
        ev->info = "{\"value\":1234,\"threshold\":1000}";
        return;
    }
    snprintf(type, sizeof(type), "flow_risk.t%02u", (unsigned)((r >> 24) % 40));
    flow_event(ev, type, host, 0x64400000u + (uint32_t)((r >> 20) % 1000000), when, sev);
}

/* 1 when the database already holds alerts (a previous fill). */
static int has_rows(floe_alerts *s)
{
    floe_alert_query q;
    floe_buf b;
    char err[160];
    floe_alert_query_init(&q);
    q.limit = 1;
    q.totals = 0;
    floe_buf_init(&b);
    floe_alerts_query_json(s, &q, &b, err, sizeof(err));
    int any = b.data && strstr(b.data, "\"id\":") != NULL;
    floe_buf_close(&b);
    return any;
}

/* The writer counts the rows once it starts; wait for that count. */
static uint64_t stored_rows(floe_alerts *s)
{
    floe_alerts_stats st;
    for (int i = 0; i < 600; i++) {
        floe_alerts_stats_get(s, &st);
        if (st.rows)
            break;
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return st.rows;
}

static void fill(floe_alerts *s, uint64_t rows)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL, t0 = now_ns();
    floe_alert ev;
    for (uint64_t i = 0; i < rows; i++) {
        gen_event(&ev, i, rows, &seed);
        while (floe_alerts_push(s, &ev) == FLOE_ELIMIT) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        if (i % 1000000 == 999999)
            fprintf(stderr, "  %llu rows pushed, %.0f s\n", (unsigned long long)i + 1,
                    (double)(now_ns() - t0) / 1e9);
    }
    floe_alerts_flush(s);
    printf("filled %llu events in %.1f s (%.0f a second)\n", (unsigned long long)rows,
           (double)(now_ns() - t0) / 1e9, (double)rows * 1e9 / (double)(now_ns() - t0));
}

static int run_query(floe_alerts *s, const char *args, floe_buf *out, double *ms)
{
    floe_alert_query q;
    char err[200], copy[512], *save = NULL;
    floe_alert_query_init(&q);
    snprintf(copy, sizeof(copy), "%s", args);
    for (char *kv = strtok_r(copy, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return -1;
        *eq = '\0';
        if (floe_alert_query_set(&q, kv, eq + 1, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
    }
    floe_buf_reset(out);
    uint64_t t0 = now_ns();
    int rc = floe_alerts_query_json(s, &q, out, err, sizeof(err));
    *ms = (double)(now_ns() - t0) / 1e6;
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", args, err);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The value of "key": in a JSON text, for the report. */
static const char *json_field(const char *json, const char *key, char *out, size_t n)
{
    const char *p = strstr(json, key);
    size_t k = p ? strcspn(p + strlen(key), ",}") : 0;
    snprintf(out, n, "%.*s", (int)(k < n ? k : n - 1), p ? p + strlen(key) : "?");
    return out;
}

static void time_query(floe_alerts *s, const char *what, const char *args, int runs)
{
    floe_buf out;
    double t[32], ms;
    char total[32], capped[16];
    floe_buf_init(&out);
    if (run_query(s, args, &out, &ms) != 0) /* a first run warms the page cache */
        exit(1);
    for (int i = 0; i < runs; i++)
        run_query(s, args, &out, &t[i]);
    qsort(t, (size_t)runs, sizeof(double), cmp_double);
    printf("  %-46s %7.1f ms median %7.1f ms max  total %s%s\n", what, t[runs / 2], t[runs - 1],
           json_field(out.data, "\"total\":", total, sizeof(total)),
           strcmp(json_field(out.data, "\"capped\":", capped, sizeof(capped)), "true")
               ? ""
               : " (capped)");
    printf("      %s\n", args);
    floe_buf_close(&out);
}

static void bench_query(const bench_args *a)
{
    char dir[512], q[256];
    snprintf(dir, sizeof(dir), "%s/query-%llu", a->dir, (unsigned long long)a->rows);
    mkdir(a->dir, 0755);
    mkdir(dir, 0755);
    floe_alerts *s = open_bench(dir, 262144, 65536);
    if (!has_rows(s))
        fill(s, a->rows);
    for (int64_t id = 1; id <= 200; id++) /* a few acknowledged alerts */
        floe_alerts_ack(s, id * 40000, "bench", NOW_MS);
    printf("query: %llu rows in %s\n", (unsigned long long)stored_rows(s), dir);
    time_query(s, "engaged alerts of one host", "state=engaged&value=10.0.3.17", a->runs);
    snprintf(q, sizeof(q), "type=flow_risk.storm&state=past&from=%llu&limit=50",
             (unsigned long long)(NOW_MS - HOUR_MS));
    time_query(s, "past alerts of the storm's type, last hour", q, a->runs);
    snprintf(q, sizeof(q), "type=flow_risk.t07&state=past&from=%llu&limit=50",
             (unsigned long long)(NOW_MS - HOUR_MS));
    time_query(s, "past alerts of a quiet type, last hour", q, a->runs);
    time_query(s, "everything, newest first", "state=all&limit=50", a->runs);
    time_query(s, "one host, every state", "value=10.0.3.17&limit=50", a->runs);
    time_query(s, "the scanner host (600k flow alerts)", "value=10.0.66.66&limit=50", a->runs);
    time_query(s, "a /24 (hosts and both flow ends)", "value=10.0.3.0/24&limit=50", a->runs);
    snprintf(q, sizeof(q), "min_severity=error&from=%llu&limit=50",
             (unsigned long long)(NOW_MS - DAY_MS));
    time_query(s, "error and above, last 24 h", q, a->runs);
    time_query(s, "flows to one server", "entity=flow&value=100.64.1.2&limit=50", a->runs);
    time_query(s, "acknowledged", "ack=yes&limit=50", a->runs);
    time_query(s, "engaged, all", "state=engaged&limit=50", a->runs);
    time_query(s, "one plugin", "plugin=hosts&limit=50", a->runs);
    time_query(s, "a type, page 101", "type=hosts.t3&limit=50&offset=5000", a->runs);
    floe_alerts_close(s);
    printf("  peak RSS %ld KiB\n", rss_peak_kib());
}

static void usage(void)
{
    fprintf(stderr, "usage: bench/alerts write [--rate N] [--seconds S] [--dir DIR] [--trace]\n"
                    "       bench/alerts query [--rows N] [--runs K] [--dir DIR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    bench_args a = {NULL, "/tmp/floe-bench-alerts", 100000, 10, 10000000, 5, 0};
    if (argc < 2)
        usage();
    a.mode = argv[1];
    for (int i = 2; i < argc; i += 2) {
        if (!strcmp(argv[i], "--trace")) {
            a.trace = 1;
            i--;
        } else if (i + 1 >= argc)
            usage();
        else if (!strcmp(argv[i], "--rate"))
            a.rate = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--seconds"))
            a.seconds = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--rows"))
            a.rows = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--runs"))
            a.runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir"))
            a.dir = argv[i + 1];
        else
            usage();
    }
    if (a.seconds == 0 || a.rows < 10 || a.runs < 1 || a.runs > 32)
        usage();
    if (!strcmp(a.mode, "write"))
        bench_write(&a);
    else if (!strcmp(a.mode, "query"))
        bench_query(&a);
    else
        usage();
    return 0;
}
