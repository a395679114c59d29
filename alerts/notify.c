/*
 * alerts/notify.c: notification endpoints. Each endpoint has its own
 * bounded queue and thread, so a dead or slow endpoint only fills its own
 * queue (overflow counted as dropped) and never holds up the writer, which
 * posts to it after each commit. The writer side applies the filters and
 * the rate limit (a fixed window; alerts over the limit are counted and
 * summed up in one digest message when the window ends). The thread sends
 * a batch, retries transient failures with exponential backoff, and counts
 * what happened. Three kinds: webhook (libcurl POST of the versioned body
 * of docs/alerts.md), syslog (RFC 5424 over UDP), and a command that reads
 * the body on stdin, run directly or, when the operator's string needs
 * one, through /bin/sh -c, and killed at its timeout.
 */
#include "alerts/internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SYSLOG_MAX 2048         /* bytes in one syslog datagram (RFC 5426) */
#define SYSLOG_PEN "floe@32473" /* SD-ID; 32473 is the documentation PEN (RFC 5612) */

static const char *const endpoint_type_names[] = {"webhook", "syslog", "command"};

static const int syslog_severity[] = {
#define SEVERITY(id, name, syslog) syslog,
#include "alerts/severity.def"
#undef SEVERITY
};

/* One alert (or digest) waiting for delivery. */
typedef struct nitem {
    struct nitem *next;
    int digest;              /* 1: "and N more" */
    uint64_t suppressed;     /* digest: how many */
    uint64_t from_ms, to_ms; /* digest: the window (wall clock) */
    int64_t id;
    int severity, entity_type;
    uint32_t score;
    char action[8];
    char type[64];
    char entity[80];
    char json[]; /* the alert object; "" for a digest */
} nitem;

typedef struct endpoint {
    floe_alerts_endpoint c; /* strings below are owned copies */
    char name[64];
    char *url, *address, *command;
    char **types, **plugins;
    char **argv;   /* command: what is executed */
    nitem **items; /* the thread's batch, batch_max long */
    floe_log *log;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    nitem *head, *tail;
    uint32_t queued;
    int stop;
    uint64_t stop_deadline_ms; /* monotonic: nothing is attempted after it */
    uint64_t win_start_ms, win_wall_ms, win_suppressed;
    uint32_t win_sent;
    alerts__counter sent, failed, retried, suppressed, dropped;
    char last_error[160]; /* under lock */
    CURL *curl;
    int sock;
    struct sockaddr_storage dst;
    socklen_t dstlen;
    char host[64];
} endpoint;

struct alerts__notify {
    floe_log *log;
    size_t n;
    int curl_inited;
    endpoint *ep;
};

void floe_alerts_endpoint_defaults(floe_alerts_endpoint *e, int type)
{
    memset(e, 0, sizeof(*e));
    e->type = type;
    e->min_severity = FLOE_SEV_WARNING;
    e->rate_per_min = 60;
    e->rate_window_ms = 60000;
    e->queue_max = 1024;
    e->batch_max = 50;
    e->timeout_ms = 10000;
    e->retries = 5;
    e->backoff_ms = 1000;
    e->backoff_max_ms = 60000;
    e->facility = 16;
}

/* ---- small helpers ---------------------------------------------------------- */

static void set_last_error(endpoint *e, const char *why)
{
    pthread_mutex_lock(&e->lock);
    snprintf(e->last_error, sizeof(e->last_error), "%s", why);
    pthread_mutex_unlock(&e->lock);
}

/* 1240 -> "1,240". */
static void thousands(uint64_t v, char *out, size_t n)
{
    char digits[32];
    int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static char **dup_list(const char *const *v, size_t n)
{
    char **out = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; out && i < n; i++)
        if (!(out[i] = strdup(v[i] ? v[i] : "")))
            return out; /* partial: freed by free_list, caught by the caller's check */
    return out;
}

static void free_list(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static int in_list(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

static int endpoint_wants(const endpoint *e, const alerts__row *r)
{
    if (r->severity < e->c.min_severity)
        return 0;
    if (e->c.entity_mask && !(e->c.entity_mask & (1u << r->entity_type)))
        return 0;
    if (e->c.n_types && !in_list(e->types, e->c.n_types, r->type))
        return 0;
    return !e->c.n_plugins || in_list(e->plugins, e->c.n_plugins, r->plugin);
}

/* ---- the writer's side ------------------------------------------------------- */

static void enqueue(endpoint *e, nitem *it)
{
    it->next = NULL;
    if (e->tail)
        e->tail->next = it;
    else
        e->head = it;
    e->tail = it;
    e->queued++;
    pthread_cond_signal(&e->cond);
}

/* Ends the rate window when it is over, queueing a digest of what it
 * suppressed. Under e->lock. */
static void roll_window(endpoint *e, uint64_t now)
{
    if (e->win_start_ms && now - e->win_start_ms < e->c.rate_window_ms)
        return;
    if (e->win_suppressed) {
        nitem *d = calloc(1, sizeof(*d) + 1);
        if (d) {
            d->digest = 1;
            d->suppressed = e->win_suppressed;
            d->from_ms = e->win_wall_ms;
            d->to_ms = floe_time_ms();
            snprintf(d->action, sizeof(d->action), "digest");
            enqueue(e, d); /* a digest is never refused: one per window */
        }
    }
    e->win_start_ms = now;
    e->win_wall_ms = floe_time_ms();
    e->win_sent = 0;
    e->win_suppressed = 0;
}

static nitem *item_new(const alerts__row *r, const char *json)
{
    size_t n = strlen(json);
    nitem *it = malloc(sizeof(*it) + n + 1);
    if (!it)
        return NULL;
    memset(it, 0, sizeof(*it));
    memcpy(it->json, json, n + 1);
    it->id = r->id;
    it->severity = r->severity;
    it->entity_type = r->entity_type;
    it->score = r->score;
    snprintf(it->action, sizeof(it->action), "%s",
             r->state == 0                   ? "engage"
             : r->kind == FLOE_ALERT_ONESHOT ? "oneshot"
                                             : "release");
    snprintf(it->type, sizeof(it->type), "%s", r->type);
    snprintf(it->entity, sizeof(it->entity), "%s", r->entity);
    return it;
}

static void endpoint_post(endpoint *e, const alerts__row *r, const char *json)
{
    nitem *it = item_new(r, json);
    pthread_mutex_lock(&e->lock);
    roll_window(e, floe_monotonic_ms());
    if (e->c.rate_per_min && e->win_sent >= e->c.rate_per_min) {
        e->win_suppressed++;
        alerts__add(&e->suppressed, 1);
    } else if (!it || e->queued >= e->c.queue_max) {
        alerts__add(&e->dropped, 1);
    } else {
        e->win_sent++;
        enqueue(e, it);
        it = NULL;
    }
    pthread_mutex_unlock(&e->lock);
    free(it);
}

int alerts__notify_wants(const alerts__notify *nt, const alerts__row *r)
{
    for (size_t i = 0; nt && i < nt->n; i++)
        if (endpoint_wants(&nt->ep[i], r))
            return 1;
    return 0;
}

void alerts__notify_post(alerts__notify *nt, const alerts__row *r, const char *json)
{
    for (size_t i = 0; nt && i < nt->n; i++)
        if (endpoint_wants(&nt->ep[i], r))
            endpoint_post(&nt->ep[i], r, json);
}

/* ---- bodies ---------------------------------------------------------------------- */

/* The webhook and command body: {"version":1, ..., "alerts":[...],
 * "digest":null|{...}} (docs/alerts.md). */
static void body_build(const endpoint *e, nitem *const *items, size_t n, floe_buf *b)
{
    floe_json j;
    char text[64], num[32];
    floe_buf_reset(b);
    floe_json_init(&j, b);
    floe_json_obj_begin(&j);
    floe_json_ku64(&j, "version", 1);
    floe_json_kstr(&j, "source", "floe");
    floe_json_kstr(&j, "host", e->host);
    floe_json_kstr(&j, "endpoint", e->name);
    floe_json_ku64(&j, "sent_ms", floe_time_ms());
    floe_json_key(&j, "alerts");
    floe_json_arr_begin(&j);
    const nitem *digest = NULL;
    for (size_t i = 0; i < n; i++) {
        if (items[i]->digest)
            digest = items[i];
        else
            alerts__json_raw(&j, items[i]->json);
    }
    floe_json_arr_end(&j);
    floe_json_key(&j, "digest");
    if (digest) {
        thousands(digest->suppressed, num, sizeof(num));
        snprintf(text, sizeof(text), "and %s more", num);
        floe_json_obj_begin(&j);
        floe_json_ku64(&j, "suppressed", digest->suppressed);
        floe_json_ku64(&j, "from_ms", digest->from_ms);
        floe_json_ku64(&j, "to_ms", digest->to_ms);
        floe_json_kstr(&j, "text", text);
        floe_json_obj_end(&j);
    } else {
        floe_json_null(&j);
    }
    floe_json_obj_end(&j);
}

/* An RFC 5424 PARAM-VALUE: '"', '\' and ']' are escaped. */
static void sd_value(floe_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '"' || *v == '\\' || *v == ']')
            floe_buf_putc(b, '\\');
        floe_buf_putc(b, *v);
    }
}

/* <PRI>1 TIMESTAMP HOSTNAME floe PROCID MSGID [SD] MSG, one datagram. */
static void syslog_build(const endpoint *e, const nitem *it, floe_buf *b)
{
    char ts[40], num[32];
    uint64_t now = floe_time_ms();
    time_t sec = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    int sev = it->digest ? 5 : syslog_severity[it->severity];
    floe_buf_reset(b);
    floe_buf_printf(b, "<%d>1 %s.%03uZ %s floe %d %s ", e->c.facility * 8 + sev, ts,
                    (unsigned)(now % 1000), e->host[0] ? e->host : "-", (int)getpid(), it->action);
    if (it->digest) {
        thousands(it->suppressed, num, sizeof(num));
        floe_buf_printf(b, "[" SYSLOG_PEN " suppressed=\"%llu\"] and %s more alerts",
                        (unsigned long long)it->suppressed, num);
        return;
    }
    floe_buf_printf(b, "[" SYSLOG_PEN " id=\"%lld\" type=\"", (long long)it->id);
    sd_value(b, it->type);
    floe_buf_printf(b, "\" entity_type=\"%s\" entity=\"", floe_entity_name(it->entity_type));
    sd_value(b, it->entity);
    floe_buf_printf(b, "\" severity=\"%s\" score=\"%u\"] %s %s %s %s %s",
                    floe_severity_name(it->severity), it->score, it->action,
                    floe_severity_name(it->severity), it->type, floe_entity_name(it->entity_type),
                    it->entity);
    if (b->len > SYSLOG_MAX) {
        b->len = SYSLOG_MAX;
        b->data[b->len] = '\0';
    }
}

/* ---- delivery ------------------------------------------------------------------------ */

enum send_result { SEND_OK, SEND_RETRY, SEND_FAIL };

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static int webhook_send(endpoint *e, const floe_buf *body, char *why, size_t n)
{
    if (!e->curl && !(e->curl = curl_easy_init())) {
        snprintf(why, n, "curl_easy_init failed");
        return SEND_RETRY;
    }
    CURL *c = e->curl;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, e->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "floe/" PACKAGE_VERSION);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)e->c.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)e->c.timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    if (rc != CURLE_OK) {
        snprintf(why, n, "%s", curl_easy_strerror(rc));
        return SEND_RETRY;
    }
    if (code >= 200 && code < 300)
        return SEND_OK;
    snprintf(why, n, "HTTP status %ld", code);
    /* Timeouts, throttling and server errors may pass; other answers will not. */
    return code == 408 || code == 429 || code >= 500 ? SEND_RETRY : SEND_FAIL;
}

static int syslog_resolve(endpoint *e, char *why, size_t n)
{
    char host[256];
    const char *colon = strrchr(e->address, ':');
    const char *h = e->address;
    size_t hl = colon ? (size_t)(colon - h) : 0;
    if (hl && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (!colon || hl == 0 || hl >= sizeof(host)) {
        snprintf(why, n, "address \"%s\" is not HOST:PORT", e->address);
        return SEND_FAIL;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(why, n, "%s: %s", e->address, gai_strerror(rc));
        return SEND_RETRY;
    }
    memcpy(&e->dst, res->ai_addr, res->ai_addrlen);
    e->dstlen = res->ai_addrlen;
    e->sock = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    freeaddrinfo(res);
    if (e->sock < 0) {
        snprintf(why, n, "socket: %s", strerror(errno));
        return SEND_RETRY;
    }
    return SEND_OK;
}

static int syslog_send(endpoint *e, nitem *const *items, size_t count, floe_buf *b, char *why,
                       size_t n)
{
    if (e->sock < 0) {
        int rc = syslog_resolve(e, why, n);
        if (rc != SEND_OK)
            return rc;
    }
    for (size_t i = 0; i < count; i++) {
        syslog_build(e, items[i], b);
        if (sendto(e->sock, b->data, b->len, 0, (struct sockaddr *)&e->dst, e->dstlen) < 0) {
            snprintf(why, n, "sendto %s: %s", e->address, strerror(errno));
            return SEND_RETRY;
        }
    }
    return SEND_OK;
}

/* Writes the body to the child's stdin until done or the deadline. */
static int feed_stdin(int fd, const floe_buf *body, uint64_t deadline)
{
    size_t off = 0;
    while (off < body->len) {
        uint64_t now = floe_monotonic_ms();
        struct pollfd p = {fd, POLLOUT, 0};
        if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
            return -1;
        ssize_t k = send(fd, body->data + off, body->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0 && errno != EAGAIN && errno != EINTR)
            return -1; /* the command did not read it all: its exit status decides */
        off += k > 0 ? (size_t)k : 0;
    }
    return 0;
}

/* Waits for pid until the deadline, then kills its process group. */
static int reap(pid_t pid, uint64_t deadline, int *status)
{
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
        if (floe_monotonic_ms() >= deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, status, 0);
            return 1;
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int spawn(endpoint *e, int in_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none;
    sigemptyset(&none);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    /* Its own process group, so a timeout kills what it started too. */
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    extern char **environ;
    int rc = posix_spawnp(pid, e->argv[0], &fa, &at, e->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

static int command_run(endpoint *e, const floe_buf *body, char *why, size_t n)
{
    int sv[2];
    pid_t pid;
    int status = 0;
    /* A socket, not a pipe: a command that exits without reading gives
     * EPIPE to send(MSG_NOSIGNAL) instead of a SIGPIPE to floe. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(why, n, "socketpair: %s", strerror(errno));
        return SEND_RETRY;
    }
    int rc = spawn(e, sv[1], &pid);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        snprintf(why, n, "%s: %s", e->argv[0], strerror(rc));
        return SEND_FAIL;
    }
    uint64_t deadline = floe_monotonic_ms() + e->c.timeout_ms;
    feed_stdin(sv[0], body, deadline);
    close(sv[0]);
    int waited = reap(pid, deadline, &status);
    if (waited == 1) {
        snprintf(why, n, "%s: killed after %u ms", e->argv[0], e->c.timeout_ms);
        return SEND_RETRY;
    }
    if (waited == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return SEND_OK;
    if (waited == 0 && WIFEXITED(status))
        snprintf(why, n, "%s: exit status %d", e->argv[0], WEXITSTATUS(status));
    else
        snprintf(why, n, "%s: ended abnormally", e->argv[0]);
    return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? SEND_FAIL : SEND_RETRY;
}

static int send_batch(endpoint *e, nitem *const *items, size_t count, floe_buf *b, char *why,
                      size_t n)
{
    if (e->c.type == FLOE_ENDPOINT_SYSLOG)
        return syslog_send(e, items, count, b, why, n);
    body_build(e, items, count, b);
    if (!floe_buf_ok(b)) {
        snprintf(why, n, "out of memory");
        return SEND_RETRY;
    }
    if (e->c.type == FLOE_ENDPOINT_WEBHOOK)
        return webhook_send(e, b, why, n);
    return command_run(e, b, why, n);
}

/* ---- the endpoint thread --------------------------------------------------------------- */

/* Waits on e->cond until ms pass or stop is set. Under e->lock. */
static void wait_ms(endpoint *e, uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (ms % 1000) * 1000000ULL;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000ULL);
    ts.tv_nsec = (long)(ns % 1000000000ULL);
    uint64_t end = floe_monotonic_ms() + ms;
    while (!e->stop && floe_monotonic_ms() < end)
        if (pthread_cond_timedwait(&e->cond, &e->lock, &ts) != 0)
            break;
}

static int past_deadline(endpoint *e)
{
    pthread_mutex_lock(&e->lock);
    int over = e->stop && floe_monotonic_ms() >= e->stop_deadline_ms;
    pthread_mutex_unlock(&e->lock);
    return over;
}

/* Sends a batch, retrying transient failures with exponential backoff. */
static void deliver(endpoint *e, nitem *const *items, size_t n, floe_buf *b)
{
    char why[160];
    uint64_t alerts = 0;
    uint64_t delay = e->c.backoff_ms;
    for (size_t i = 0; i < n; i++)
        alerts += !items[i]->digest;
    for (uint32_t attempt = 0;; attempt++) {
        int rc = send_batch(e, items, n, b, why, sizeof(why));
        if (rc == SEND_OK) {
            alerts__add(&e->sent, alerts);
            return;
        }
        set_last_error(e, why);
        if (rc == SEND_FAIL || attempt >= e->c.retries || past_deadline(e)) {
            alerts__add(&e->failed, alerts);
            return;
        }
        alerts__add(&e->retried, 1);
        pthread_mutex_lock(&e->lock);
        wait_ms(e, delay);
        pthread_mutex_unlock(&e->lock);
        delay = delay * 2 > e->c.backoff_max_ms ? e->c.backoff_max_ms : delay * 2;
    }
}

/* Takes up to batch_max items (syslog sends them one datagram each). */
static size_t take(endpoint *e, nitem **items)
{
    size_t n = 0;
    while (e->head && n < e->c.batch_max) {
        items[n++] = e->head;
        e->head = e->head->next;
        e->queued--;
    }
    if (!e->head)
        e->tail = NULL;
    return n;
}

/* After the close deadline what is left is counted as dropped. */
static void drop_all(endpoint *e)
{
    while (e->head) {
        nitem *it = e->head;
        e->head = it->next;
        if (!it->digest)
            alerts__add(&e->dropped, 1);
        free(it);
    }
    e->tail = NULL;
    e->queued = 0;
}

static void *endpoint_main(void *arg)
{
    endpoint *e = arg;
    floe_buf b;
    nitem **items = e->items;
    floe_buf_init(&b);
    pthread_mutex_lock(&e->lock);
    for (;;) {
        uint64_t now = floe_monotonic_ms();
        roll_window(e, now);
        if (e->stop && now >= e->stop_deadline_ms)
            drop_all(e);
        if (!e->head) {
            if (e->stop)
                break;
            uint64_t left = e->win_start_ms + e->c.rate_window_ms - now;
            wait_ms(e, e->win_suppressed && left < 1000 ? left + 1 : 1000);
            continue;
        }
        size_t n = take(e, items);
        pthread_mutex_unlock(&e->lock);
        deliver(e, items, n, &b);
        for (size_t i = 0; i < n; i++)
            free(items[i]);
        pthread_mutex_lock(&e->lock);
    }
    pthread_mutex_unlock(&e->lock);
    floe_buf_close(&b);
    return NULL;
}

/* ---- set-up and tear-down ------------------------------------------------------------------ */

/* A command with nothing but words runs directly; quotes, expansions,
 * redirections and the like need a shell, and get /bin/sh -c. */
static char **command_argv(const char *cmd)
{
    static const char shell_chars[] = "|&;<>()$`\\\"'*?[]#~={}%!\n";
    if (strpbrk(cmd, shell_chars)) {
        const char *v[] = {"/bin/sh", "-c", cmd};
        return dup_list(v, 3);
    }
    size_t n = 0;
    const char *words[64];
    char *copy = strdup(cmd), *save = NULL;
    for (char *w = copy ? strtok_r(copy, " \t", &save) : NULL; w && n < 63;
         w = strtok_r(NULL, " \t", &save))
        words[n++] = w;
    char **argv = n ? dup_list(words, n) : NULL;
    free(copy);
    return argv;
}

static int endpoint_check(const floe_alerts_endpoint *c, size_t i, char *err, size_t errlen)
{
    const char *bad = NULL;
    if (c->type < FLOE_ENDPOINT_WEBHOOK || c->type > FLOE_ENDPOINT_COMMAND)
        bad = "type: want webhook, syslog or command";
    else if (c->type == FLOE_ENDPOINT_WEBHOOK &&
             (!c->url || (strncmp(c->url, "http://", 7) && strncmp(c->url, "https://", 8))))
        bad = "url: want an http:// or https:// URL";
    else if (c->type == FLOE_ENDPOINT_SYSLOG && (!c->address || !strrchr(c->address, ':')))
        bad = "address: want HOST:PORT";
    else if (c->type == FLOE_ENDPOINT_SYSLOG && (c->facility < 0 || c->facility > 23))
        bad = "facility: want 0 to 23";
    else if (c->type == FLOE_ENDPOINT_COMMAND &&
             (!c->command || !c->command[strspn(c->command, " \t")]))
        bad = "command: want a program and its arguments";
    else if (c->min_severity < 0 || c->min_severity >= FLOE_SEV_COUNT)
        bad = "min_severity: want a severity name";
    else if (c->batch_max == 0 || c->queue_max == 0 || c->timeout_ms == 0)
        bad = "batch_max, queue_max and timeout_ms: want more than 0";
    if (bad)
        snprintf(err, errlen, "alerts.endpoints[%zu].%s", i + 1, bad);
    return bad ? FLOE_EINVAL : 0;
}

static int endpoint_init(endpoint *e, const floe_alerts_endpoint *c, size_t i, floe_log *log)
{
    e->c = *c;
    e->log = log;
    e->sock = -1;
    if (!e->c.rate_window_ms)
        e->c.rate_window_ms = 60000;
    snprintf(e->name, sizeof(e->name), "%s", c->name ? c->name : "");
    if (!e->name[0])
        snprintf(e->name, sizeof(e->name), "%s%zu", endpoint_type_names[c->type], i + 1);
    for (char *p = e->name; *p; p++) /* it is a metric label and a JSON string */
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *p))
            *p = '_';
    if (gethostname(e->host, sizeof(e->host)) != 0)
        e->host[0] = '\0';
    e->host[sizeof(e->host) - 1] = '\0';
    e->url = c->url ? strdup(c->url) : NULL;
    e->address = c->address ? strdup(c->address) : NULL;
    e->command = c->command ? strdup(c->command) : NULL;
    e->types = dup_list(c->types, c->n_types);
    e->plugins = dup_list(c->plugins, c->n_plugins);
    e->argv = e->command ? command_argv(e->command) : NULL;
    e->items = calloc(c->batch_max, sizeof(*e->items));
    /* Only the owned copies are used from here on. */
    e->c.name = e->name;
    e->c.url = e->url;
    e->c.address = e->address;
    e->c.command = e->command;
    e->c.types = (const char *const *)e->types;
    e->c.plugins = (const char *const *)e->plugins;
    if ((c->url && !e->url) || (c->address && !e->address) || (c->command && !e->argv) ||
        !e->types || !e->plugins || !e->items || pthread_mutex_init(&e->lock, NULL) ||
        pthread_cond_init(&e->cond, NULL))
        return FLOE_ENOMEM;
    return 0;
}

alerts__notify *alerts__notify_new(const floe_alerts_endpoint *eps, size_t n, floe_log *log,
                                   char *err, size_t errlen)
{
    if (n == 0)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (endpoint_check(&eps[i], i, err, errlen) != 0)
            return NULL;
    alerts__notify *nt = calloc(1, sizeof(*nt));
    if (!nt || !(nt->ep = calloc(n, sizeof(*nt->ep)))) {
        free(nt);
        snprintf(err, errlen, "alerts: out of memory");
        return NULL;
    }
    nt->log = log;
    for (size_t i = 0; i < n; i++)
        nt->curl_inited |= eps[i].type == FLOE_ENDPOINT_WEBHOOK;
    if (nt->curl_inited && curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        nt->curl_inited = 0;
    for (; nt->n < n; nt->n++) {
        endpoint *e = &nt->ep[nt->n];
        if (endpoint_init(e, &eps[nt->n], nt->n, log) != 0 ||
            pthread_create(&e->thread, NULL, endpoint_main, e) != 0) {
            snprintf(err, errlen, "alerts.endpoints[%zu]: cannot start (out of memory)", nt->n + 1);
            nt->n++;
            alerts__notify_free(nt);
            return NULL;
        }
        e->started = 1;
    }
    return nt;
}

static void endpoint_close(endpoint *e)
{
    if (e->started)
        pthread_join(e->thread, NULL);
    drop_all(e);
    if (e->curl)
        curl_easy_cleanup(e->curl);
    if (e->sock >= 0)
        close(e->sock);
    free(e->url);
    free(e->address);
    free(e->command);
    free_list(e->types);
    free_list(e->plugins);
    free_list(e->argv);
    free(e->items);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->cond);
}

void alerts__notify_free(alerts__notify *nt)
{
    if (!nt)
        return;
    /* Every endpoint gets its last attempt at once, not one after another. */
    for (size_t i = 0; i < nt->n; i++) {
        endpoint *e = &nt->ep[i];
        pthread_mutex_lock(&e->lock);
        e->stop = 1;
        e->stop_deadline_ms = floe_monotonic_ms() + e->c.timeout_ms;
        pthread_cond_broadcast(&e->cond);
        pthread_mutex_unlock(&e->lock);
    }
    for (size_t i = 0; i < nt->n; i++)
        endpoint_close(&nt->ep[i]);
    if (nt->curl_inited)
        curl_global_cleanup();
    free(nt->ep);
    free(nt);
}

/* ---- stats ------------------------------------------------------------------------------------
 */

static const struct {
    const char *key;
    size_t off;
} endpoint_counters[] = {
    {"sent", offsetof(endpoint, sent)},       {"failed", offsetof(endpoint, failed)},
    {"retried", offsetof(endpoint, retried)}, {"suppressed", offsetof(endpoint, suppressed)},
    {"dropped", offsetof(endpoint, dropped)},
};

static uint64_t endpoint_counter(endpoint *e, size_t off)
{
    return alerts__get((alerts__counter *)(void *)((char *)e + off));
}

void alerts__notify_stats_json(alerts__notify *nt, floe_json *j)
{
    floe_json_arr_begin(j);
    for (size_t i = 0; nt && i < nt->n; i++) {
        endpoint *e = &nt->ep[i];
        floe_json_obj_begin(j);
        floe_json_kstr(j, "name", e->name);
        floe_json_kstr(j, "type", endpoint_type_names[e->c.type]);
        for (size_t k = 0; k < FLOE_ARRAY_LEN(endpoint_counters); k++)
            floe_json_ku64(j, endpoint_counters[k].key,
                           endpoint_counter(e, endpoint_counters[k].off));
        pthread_mutex_lock(&e->lock);
        floe_json_ku64(j, "queued", e->queued);
        floe_json_key(j, "last_error");
        if (e->last_error[0])
            floe_json_str(j, e->last_error);
        else
            floe_json_null(j);
        pthread_mutex_unlock(&e->lock);
        floe_json_obj_end(j);
    }
    floe_json_arr_end(j);
}

void alerts__notify_metrics(alerts__notify *nt, floe_buf *out)
{
    if (!nt)
        return;
    for (size_t k = 0; k < FLOE_ARRAY_LEN(endpoint_counters); k++) {
        const char *key = endpoint_counters[k].key;
        floe_buf_printf(out,
                        "# HELP floe_alerts_notify_%s_total Notifications %s, by endpoint.\n"
                        "# TYPE floe_alerts_notify_%s_total counter\n",
                        key, key, key);
        for (size_t i = 0; i < nt->n; i++)
            floe_buf_printf(
                out, "floe_alerts_notify_%s_total{endpoint=\"%s\"} %llu\n", key, nt->ep[i].name,
                (unsigned long long)endpoint_counter(&nt->ep[i], endpoint_counters[k].off));
    }
    floe_buf_puts(out, "# HELP floe_alerts_notify_queued Notifications waiting, by endpoint.\n"
                       "# TYPE floe_alerts_notify_queued gauge\n");
    for (size_t i = 0; i < nt->n; i++) {
        pthread_mutex_lock(&nt->ep[i].lock);
        uint32_t q = nt->ep[i].queued;
        pthread_mutex_unlock(&nt->ep[i].lock);
        floe_buf_printf(out, "floe_alerts_notify_queued{endpoint=\"%s\"} %u\n", nt->ep[i].name, q);
    }
}
