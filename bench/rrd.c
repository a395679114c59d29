/*
 * bench/rrd: the cost of floe's timeseries at the scale of many local hosts.
 *
 *   make bench/rrd && ./bench/rrd [options]
 *     --hosts N        hosts (default 100000), each with 3 series:
 *                      host:traffic (2 deltas), host:flows (2), host:score (1)
 *     --minutes M      simulated minutes after the first (default 10)
 *     --dir DIR        where the files go (default ./bench-rrd-data; emptied)
 *     --retention R    the hosts' retention (default 1m:1d,1h:1w)
 *     --mode MODE      direct or rrdcached (a private daemon is started)
 *     --batch K        steps written per update call (0: the store's default)
 *     --stall S        hold the writer for S steps at the end, then time the
 *                      catch-up (default 3)
 *     --spread SEC     one extra pass with spreading on and steps SEC real
 *                      seconds apart, reporting how even the writes are
 *     --chart DIR      write chart-host-traffic.png and .svg of a day of a
 *                      diurnal curve into DIR, and time warm renders
 *     --reuse 1        keep the files of an earlier run (no creation cost;
 *                      N: the clock starts N * 2 hours later than a new run)
 *
 * The steps run back to back (a compressed clock) with spreading off, so the
 * time one step's writes take is what real-time operation needs out of each
 * 60 s step. Reports the producer's cost per append, update calls per second,
 * bytes written to disk per simulated minute (/proc/PID/io write_bytes, of
 * this process and of the daemon), peak RSS, and each step's write time.
 */
#include "rrd/rrd.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct bench {
    unsigned hosts, minutes, batch, stall, reuse;
    double spread_s;
    const char *dir, *retention, *mode, *chart_dir;
    char addr[300];
    pid_t daemon;
    floe_ts *ts;
    floe_log log;
    int64_t t; /* the simulated clock: the current step's end */
    char (*names)[16];
} bench;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A field of /proc/PID/FILE ("VmHWM:", "write_bytes:"), or -1. */
static long long proc_field(pid_t pid, const char *file, const char *key)
{
    char path[64], line[256];
    long long v = -1;
    if (pid)
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    else
        snprintf(path, sizeof(path), "/proc/self/%s", file);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, key, strlen(key)) == 0) {
            v = atoll(line + strlen(key));
            break;
        }
    if (f)
        fclose(f);
    return v;
}

static long long disk_written(const bench *b)
{
    long long w = proc_field(0, "io", "write_bytes:");
    if (b->daemon)
        w += proc_field(b->daemon, "io", "write_bytes:");
    return w;
}

static void die(const char *msg, const char *detail)
{
    fprintf(stderr, "bench/rrd: %s%s%s\n", msg, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

/* ---- the private rrdcached ------------------------------------------------- */

static void start_daemon(bench *b)
{
    char sock[256], journal[256], pidf[256];
    snprintf(sock, sizeof(sock), "%s/rrdcached.sock", b->dir);
    snprintf(journal, sizeof(journal), "%s/journal", b->dir);
    snprintf(pidf, sizeof(pidf), "%s/rrdcached.pid", b->dir);
    snprintf(b->addr, sizeof(b->addr), "unix:%s", sock);
    mkdir(journal, 0700);
    unlink(sock); /* a socket left by an earlier run would look like a listening daemon */
    b->daemon = fork();
    if (b->daemon == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* Writes every 5 minutes, spread over 5 minutes, like a deployment. */
        execlp("rrdcached", "rrdcached", "-g", "-l", b->addr, "-p", pidf, "-j", journal, "-w",
               "300", "-z", "300", "-f", "900", "-t", "4", "-F", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && access(sock, F_OK) != 0; i++)
        usleep(20000);
    if (access(sock, F_OK) != 0)
        die("rrdcached did not start", NULL);
}

/* Sends one command to the daemon and returns its first line's number. */
static long daemon_cmd(const bench *b, const char *cmd, char *reply, size_t n)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", b->addr + 5);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        die("cannot reach rrdcached", strerror(errno));
    if (write(fd, cmd, strlen(cmd)) < 0)
        die("rrdcached write", strerror(errno));
    ssize_t got = 0, r;
    while ((size_t)got < n - 1 && (r = read(fd, reply + got, n - 1 - (size_t)got)) > 0) {
        got += r;
        reply[got] = 0;
        long lines = atol(reply);
        int nl = 0;
        for (ssize_t i = 0; i < got; i++)
            nl += reply[i] == '\n';
        if (nl >= (lines > 0 ? lines + 1 : 1))
            break;
    }
    reply[got > 0 ? got : 0] = 0;
    close(fd);
    return atol(reply);
}

static long daemon_stat(const bench *b, const char *key)
{
    char reply[4096];
    daemon_cmd(b, "STATS\n", reply, sizeof(reply));
    const char *p = strstr(reply, key);
    return p ? atol(p + strlen(key) + 2) : -1;
}

/* Asks the daemon to write everything and waits for its queue to empty. */
static double daemon_flush_all(const bench *b)
{
    char reply[256];
    double t0 = now_s();
    daemon_cmd(b, "FLUSHALL\n", reply, sizeof(reply));
    while (daemon_stat(b, "QueueLength") > 0)
        usleep(20000);
    return now_s() - t0;
}

/* ---- the store ------------------------------------------------------------- */

static void define(bench *b, const char *name, const char *const *metrics, unsigned n)
{
    floe_ts_schema s;
    char err[256];
    floe_ts_schema_init(&s, name, 60, err, sizeof(err));
    floe_ts_schema_add_tag(&s, "host", err, sizeof(err));
    for (unsigned i = 0; i < n; i++)
        floe_ts_schema_add_metric(&s, metrics[i], i < 2 && n == 2 ? FLOE_TS_DELTA : FLOE_TS_GAUGE,
                                  strstr(metrics[i], "bytes") ? "bytes" : "count",
                                  !strcmp(metrics[i], "bytes_sent")   ? "Sent"
                                  : !strcmp(metrics[i], "bytes_rcvd") ? "Received"
                                                                      : NULL,
                                  err, sizeof(err));
    if (floe_ts_schema_set_retention(&s, b->retention, err, sizeof(err)) ||
        floe_ts_define(b->ts, &s, err, sizeof(err)))
        die("schema", err);
}

static void open_store(bench *b, int spread)
{
    floe_ts_opts o;
    char err[256];
    floe_ts_opts_default(&o);
    o.dir = b->dir;
    o.rrdcached = b->daemon ? b->addr : NULL;
    o.queue_max = (size_t)b->hosts * 3 * (b->stall + 2) + 100000;
    o.series_max = (size_t)b->hosts * 3 + 1000;
    o.batch_steps = b->batch;
    o.spread = spread;
    floe_log_init(&b->log, FLOE_LOG_WARN, 0);
    b->ts = floe_ts_new(&o, &b->log, err, sizeof(err));
    if (!b->ts)
        die("floe_ts_new", err);
    static const char *const traffic[] = {"bytes_sent", "bytes_rcvd"};
    static const char *const flows[] = {"flows_as_client", "flows_as_server"};
    static const char *const score[] = {"score"};
    define(b, "host:traffic", traffic, 2);
    define(b, "host:flows", flows, 2);
    define(b, "host:score", score, 1);
}

/* One step: every host's three points, then the step end. Returns the
 * producer's seconds. */
static double feed_step(bench *b)
{
    double t0 = now_s();
    for (unsigned h = 0; h < b->hosts; h++) {
        const char *tags[] = {b->names[h]};
        double x = (double)((h * 2654435761u + (uint64_t)b->t) % 100000);
        double traffic[2] = {x * 60, x * 30}, flows[2] = {h % 50, h % 7}, score[1] = {h % 100};
        floe_ts_append(b->ts, "host:traffic", tags, traffic, 2, b->t);
        floe_ts_append(b->ts, "host:flows", tags, flows, 2, b->t);
        floe_ts_append(b->ts, "host:score", tags, score, 1, b->t);
    }
    double spent = now_s() - t0;
    floe_ts_step_end(b->ts, b->t);
    b->t += 60;
    return spent;
}

/* Waits until the writer has taken `steps` step ends and its list is empty. */
static void wait_written(bench *b, uint64_t steps)
{
    floe_ts_stats st;
    for (;;) {
        floe_ts_stats_get(b->ts, &st);
        if (st.steps >= steps && st.backlog == 0 && st.queue_len == 0)
            return;
        usleep(2000);
    }
}

static void run_steps(bench *b)
{
    floe_ts_stats st;
    double steady_w = 0, worst = 0, feed = 0;
    long long steady_disk = 0;
    uint64_t upd0 = 0, created0 = 0, steps = 0, steady_upd = 0;
    unsigned steady = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("step  append-ms  write-s  updates  created  cached-points  disk-MB\n");
    for (unsigned m = 0; m <= b->minutes; m++) {
        long long d0 = disk_written(b);
        double f = feed_step(b), t0 = now_s();
        feed += f;
        wait_written(b, ++steps);
        double w = now_s() - t0;
        long long disk = disk_written(b) - d0;
        floe_ts_stats_get(b->ts, &st);
        printf("%4u %10.1f %8.2f %8llu %8llu %14llu %8.1f\n", m, f * 1000, w,
               (unsigned long long)(st.updates - upd0), (unsigned long long)st.files_created,
               (unsigned long long)st.cached_points, disk / 1e6);
        if (st.files_created == created0) { /* steady: no file created in the step */
            steady++;
            steady_w += w;
            steady_disk += disk;
            steady_upd += st.updates - upd0;
            worst = w > worst ? w : worst;
        }
        upd0 = st.updates;
        created0 = st.files_created;
    }
    floe_ts_stats_get(b->ts, &st);
    if (steady)
        printf("steady state (%u steps without file creation): %.2f s of writes per 60 s step "
               "on average, %.2f s at worst (%s); %.0f update calls/s while writing; %.1f MB "
               "written to disk per minute\n",
               steady, steady_w / steady, worst, worst < 60 ? "fits in the step" : "DOES NOT FIT",
               steady_upd / steady_w, steady_disk / 1e6 / steady);
    printf("producer: %.0f ns per append\n", feed * 1e9 / ((b->minutes + 1) * 3.0 * b->hosts));
    printf("written: %llu points in %llu update calls; errors %llu; dropped %llu\n",
           (unsigned long long)st.points_written, (unsigned long long)st.updates,
           (unsigned long long)st.write_errors, (unsigned long long)st.points_dropped);
}

/* The writer held for `stall` steps, then let go: how long to catch up. */
static void run_stall(bench *b)
{
    floe_ts_stats st;
    floe_ts_hold(b->ts, 1);
    for (unsigned i = 0; i < b->stall; i++)
        feed_step(b);
    floe_ts_stats_get(b->ts, &st);
    printf("stall: writer held for %u steps: %llu points queued, %llu dropped\n", b->stall,
           (unsigned long long)st.queue_len, (unsigned long long)st.points_dropped);
    double t0 = now_s();
    uint64_t steps = st.steps; /* held step ends are taken as one on release */
    floe_ts_hold(b->ts, 0);
    feed_step(b);
    wait_written(b, steps + 1);
    floe_ts_stats_get(b->ts, &st);
    printf("stall: caught up in %.2f s after release (%u steps of points, cache now %llu "
           "points, dropped %llu)\n",
           now_s() - t0, b->stall + 1, (unsigned long long)st.cached_points,
           (unsigned long long)st.points_dropped);
}

/* Spreading on, steps `spread_s` real seconds apart: updates per 0.5 s. */
static void run_spread(bench *b)
{
    floe_ts_stats st;
    printf("spread: steps %.0f s apart, update calls per 0.5 s (writes should be even over "
           "%.0f%% of the step)\n",
           b->spread_s, 80.0);
    for (int k = 0; k < 3; k++) {
        double t0 = now_s();
        feed_step(b);
        floe_ts_stats_get(b->ts, &st);
        uint64_t last = st.updates, lo = UINT64_MAX, hi = 0;
        int slots = 0;
        printf("  step %d:", k);
        while (now_s() - t0 < b->spread_s - 0.05) {
            usleep(500000);
            floe_ts_stats_get(b->ts, &st);
            uint64_t d = st.updates - last;
            last = st.updates;
            printf(" %llu", (unsigned long long)d);
            if (now_s() - t0 < b->spread_s * 0.8) {
                lo = d < lo ? d : lo;
                hi = d > hi ? d : hi;
            }
            slots++;
        }
        printf("  (min %llu, max %llu in the first 80%%)\n", (unsigned long long)lo,
               (unsigned long long)hi);
    }
}

/* ---- charts ------------------------------------------------------------------ */

static void save(const char *dir, const char *name, const floe_buf *img)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(img->data, 1, img->len, f) != img->len)
        die("cannot write", path);
    fclose(f);
    printf("chart: wrote %s (%zu bytes)\n", path, img->len);
}

static void run_charts(bench *b)
{
    const char *tags[] = {"192.168.1.20"};
    int64_t end = b->t - 60;
    for (int i = 1440; i > 0; i--) { /* a day: quiet nights, busy evenings */
        int64_t t = end - 60 * i;
        double h = (double)(t % 86400) / 3600.0;
        double base = 2e6 + 18e6 * pow(sin(M_PI * fmod(h + 18, 24) / 24), 4);
        double noise = 1 + 0.25 * sin(t * 0.0013) * sin(t * 0.00071) + 0.1 * ((t * 7919) % 97) / 97;
        double v[2] = {base * noise * 60 / 8 * 0.25, base * noise * 60 / 8};
        floe_ts_append(b->ts, "host:traffic", tags, v, 2, t);
        if (i % 60 == 0)
            floe_ts_step_end(b->ts, t);
    }
    floe_ts_drain(b->ts);
    floe_ts_stats st;
    floe_ts_stats_get(b->ts, &st);
    printf("chart: a day of one host written: %llu points written in all, %llu skipped, "
           "%llu dropped\n",
           (unsigned long long)st.points_written, (unsigned long long)st.points_skipped,
           (unsigned long long)st.points_dropped);
    floe_ts_graph_req r;
    floe_ts_graph_req_init(&r);
    snprintf(r.schema, sizeof(r.schema), "host:traffic");
    snprintf(r.tags[0], sizeof(r.tags[0]), "%s", tags[0]);
    r.n_tags = 1;
    r.to_s = end;
    r.from_s = end - 86400;
    r.stacked = 1;
    floe_buf img;
    floe_buf_init(&img);
    const char *ctype;
    char err[256];
    const char *fmt[] = {"png", "svg"};
    for (int f = 0; f < 2; f++) {
        r.format = f ? FLOE_TS_SVG : FLOE_TS_PNG;
        double worst = 0, sum = 0, first = 0;
        for (int i = 0; i < 21; i++) {
            snprintf(r.title, sizeof(r.title), "Host 192.168.1.20 traffic, last day%s",
                     i ? " " : "");
            r.width = 720 + (unsigned)i; /* a new request each time: no cache hit */
            floe_buf_reset(&img);
            double t0 = now_s();
            if (floe_ts_graph(b->ts, &r, &img, &ctype, err, sizeof(err)))
                die("chart", err);
            double dt = now_s() - t0;
            if (i == 0) {
                first = dt;
                char name[64];
                snprintf(name, sizeof(name), "chart-host-traffic.%s", fmt[f]);
                if (b->chart_dir)
                    save(b->chart_dir, name, &img);
            } else {
                sum += dt;
                worst = dt > worst ? dt : worst;
            }
        }
        printf("chart %s, one host, one day: first %.1f ms, warm %.1f ms average, %.1f ms "
               "worst (20 renders), %zu bytes\n",
               fmt[f], first * 1000, sum / 20 * 1000, worst * 1000, img.len);
    }
    floe_buf_reset(&img);
    double t0 = now_s();
    floe_ts_graph(b->ts, &r, &img, &ctype, err, sizeof(err));
    printf("chart from the cache: %.3f ms\n", (now_s() - t0) * 1000);
    floe_buf_close(&img);
}

/* ---- main ------------------------------------------------------------------- */

static void empty_dir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (strchr(dir, '\'') || system(cmd) != 0)
        die("cannot empty", dir);
}

static void parse(bench *b, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("missing value for", k);
        i++;
        if (!strcmp(k, "--hosts"))
            b->hosts = (unsigned)atoi(v);
        else if (!strcmp(k, "--minutes"))
            b->minutes = (unsigned)atoi(v);
        else if (!strcmp(k, "--dir"))
            b->dir = v;
        else if (!strcmp(k, "--retention"))
            b->retention = v;
        else if (!strcmp(k, "--mode"))
            b->mode = v;
        else if (!strcmp(k, "--batch"))
            b->batch = (unsigned)atoi(v);
        else if (!strcmp(k, "--stall"))
            b->stall = (unsigned)atoi(v);
        else if (!strcmp(k, "--spread"))
            b->spread_s = atof(v);
        else if (!strcmp(k, "--chart"))
            b->chart_dir = v;
        else if (!strcmp(k, "--reuse"))
            b->reuse = (unsigned)atoi(v);
        else
            die("unknown option", k);
    }
    if (!b->hosts || (strcmp(b->mode, "direct") && strcmp(b->mode, "rrdcached")))
        die("bad --hosts or --mode", NULL);
}

int main(int argc, char **argv)
{
    bench b = {.hosts = 100000,
               .minutes = 10,
               .stall = 3,
               .dir = "bench-rrd-data",
               .retention = "1m:1d,1h:1w",
               .mode = "direct"};
    parse(&b, argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!b.reuse)
        empty_dir(b.dir);
    b.names = malloc(sizeof(*b.names) * b.hosts);
    for (unsigned h = 0; h < b.hosts; h++)
        snprintf(b.names[h], sizeof(b.names[h]), "10.%u.%u.%u", (h >> 16) & 255, (h >> 8) & 255,
                 h & 255);
    if (!strcmp(b.mode, "rrdcached"))
        start_daemon(&b);
    b.t = (int64_t)time(NULL) / 60 * 60 - 86400 + (int64_t)b.reuse * 7200;
    floe_ts_schema probe;
    char err[256];
    floe_ts_schema_init(&probe, "x:y", 60, err, sizeof(err));
    floe_ts_schema_set_retention(&probe, b.retention, err, sizeof(err));
    char load[64] = "";
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf && fgets(load, sizeof(load), lf))
        load[strcspn(load, "\n")] = 0;
    if (lf)
        fclose(lf);
    printf("load average at start: %s\n", load);
    printf("bench/rrd: %u hosts x 3 series, %s, retention %s (%.1f KB per host), batch %u\n",
           b.hosts, b.mode, b.retention,
           (floe_ts_retention_bytes(&probe.retention, 60, 5) + 3 * 1500) / 1e3, b.batch);
    open_store(&b, 0);
    double t0 = now_s();
    run_steps(&b);
    if (b.stall)
        run_stall(&b);
    if (b.chart_dir)
        run_charts(&b);
    floe_ts_free(b.ts);
    printf("all written in %.1f s; peak RSS %.1f MB\n", now_s() - t0,
           proc_field(0, "status", "VmHWM:") / 1024.0);
    if (b.spread_s > 0) {
        open_store(&b, 1);
        run_spread(&b);
        floe_ts_free(b.ts);
    }
    if (b.daemon) {
        long long w0 = proc_field(b.daemon, "io", "write_bytes:");
        double fl = daemon_flush_all(&b);
        printf("rrdcached: FLUSHALL took %.1f s, %.1f MB written by the daemon then; its peak "
               "RSS %.1f MB\n",
               fl, (proc_field(b.daemon, "io", "write_bytes:") - w0) / 1e6,
               proc_field(b.daemon, "status", "VmHWM:") / 1024.0);
        kill(b.daemon, SIGTERM);
        waitpid(b.daemon, NULL, 0);
    }
    free(b.names);
    return 0;
}
