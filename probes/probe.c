/*
 * One probe, start to end, on the calling (worker) thread: resolve the
 * host (on a thread of its own, waited for until the probe's timeout),
 * connect over TCP with a deadline, then by kind stop, complete a
 * TLS handshake and judge the certificate, or read a MySQL greeting.
 * Sockets are non-blocking and every wait is a poll() bounded by what is
 * left of the probe's timeout, so a service that accepts and then says
 * nothing costs the timeout and no more. Everything read from the network
 * (greetings, error texts, certificate names) is bounded and made
 * printable before it is kept.
 */
#include "probes/probes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GREETING_MAX 512 /* bytes of a MySQL greeting kept: the version is near its start */
#define GREETING_LEN_MAX                                                                           \
    4096 /* a longer first packet, or one not numbered 0, is not a greeting                        \
          */

static const char *const kind_names[] = {
#define X(id, name) name,
    FLOE_PROBE_KINDS(X)
#undef X
};

static const char *const cert_names[] = {
#define X(id, name) name,
    FLOE_CERT_STATUSES(X)
#undef X
};

const char *floe_probe_kind_name(int kind)
{
    return kind >= 0 && kind < FLOE_PROBE_KIND_COUNT ? kind_names[kind] : "?";
}

int floe_probe_kind_parse(const char *name)
{
    for (int i = 0; name && i < FLOE_PROBE_KIND_COUNT; i++)
        if (strcmp(kind_names[i], name) == 0)
            return i;
    return -1;
}

const char *floe_cert_status_name(int status)
{
    return status >= 0 && status < FLOE_CERT_STATUS_COUNT ? cert_names[status] : "?";
}

int floe_probe_spec_check(const floe_probe_spec *s, char *err, size_t errlen)
{
    size_t hl = strnlen(s->host, sizeof(s->host));
    if (s->kind < 0 || s->kind >= FLOE_PROBE_KIND_COUNT)
        snprintf(err, errlen, "kind must be tcp, tls or mysql");
    else if (hl == 0 || hl == sizeof(s->host) || strpbrk(s->host, " \t\r\n/"))
        snprintf(err, errlen, "host must be a name or an address");
    else if (s->port == 0)
        snprintf(err, errlen, "port must be 1 to 65535");
    else if (s->timeout_ms == 0 || s->timeout_ms > FLOE_PROBE_TIMEOUT_MAX)
        snprintf(err, errlen, "timeout_ms must be 1 to %d", FLOE_PROBE_TIMEOUT_MAX);
    else if (strnlen(s->server_name, sizeof(s->server_name)) == sizeof(s->server_name) ||
             strnlen(s->ca_file, sizeof(s->ca_file)) == sizeof(s->ca_file))
        snprintf(err, errlen, "server_name or ca_file is too long");
    else
        return 0;
    return FLOE_EINVAL;
}

/* ---- the probe's clock and its failures ----------------------------------- */

#define WAIT_SLICE_MS 100 /* how soon a probe sees that it must stop */

typedef struct probe_ctx {
    const floe_probe_spec *s;
    floe_probe_result *r;
    uint64_t start_us, deadline_us;
    int fd;
    const atomic_int *stop;
    int stopped;
} probe_ctx;

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Copies at most n bytes of src into dst as printable ASCII. */
static void printable(char *dst, size_t dstlen, const char *src, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && src[i] && k + 1 < dstlen; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    if (dstlen)
        dst[k] = '\0';
}

static int fail(probe_ctx *c, const char *fmt, ...) FLOE_PRINTF(2, 3);
static int fail(probe_ctx *c, const char *fmt, ...)
{
    char msg[sizeof(c->r->error)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printable(c->r->error, sizeof(c->r->error), msg, sizeof(msg));
    c->r->ok = 0;
    return FLOE_EIO;
}

/* Waits for events on the socket until the deadline, in slices so that a
 * stop request is seen: 1 ready, 0 timed out (or stopped), -1 an error
 * (errno). */
static int wait_fd(probe_ctx *c, short events)
{
    for (;;) {
        uint64_t now = mono_us();
        if (c->stop && atomic_load(c->stop)) {
            c->stopped = 1;
            c->deadline_us = now;
        }
        if (now >= c->deadline_us)
            return 0;
        int ms = (int)((c->deadline_us - now + 999) / 1000);
        ms = ms > WAIT_SLICE_MS ? WAIT_SLICE_MS : ms;
        struct pollfd p = {c->fd, events, 0};
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* ---- TCP ------------------------------------------------------------------ */

/* One address: 0 connected (c->fd set), or an errno. */
static int connect_one(probe_ctx *c, const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    c->fd = fd;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return 0;
    int e = errno;
    if (e == EINPROGRESS) {
        int w = wait_fd(c, POLLOUT);
        socklen_t len = sizeof(e);
        if (w == 0)
            e = ETIMEDOUT;
        else if (w < 0)
            e = errno;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
            e = errno;
    }
    if (e != 0) {
        close(fd);
        c->fd = -1;
    }
    return e;
}

static void note_address(probe_ctx *c, const struct addrinfo *ai)
{
    floe_addr a;
    uint16_t port;
    char text[FLOE_ADDR_STRLEN];
    if (floe_addr_from_sockaddr(&a, &port, ai->ai_addr) == 0)
        snprintf(c->r->address, sizeof(c->r->address), "%s", floe_addr_format(&a, text));
}

/*
 * A name lookup. getaddrinfo cannot be told to give up, and a resolver that
 * does not answer holds its caller for its own timeouts (5 s a try, a try
 * per nameserver, twice): longer than a probe may take, and a pool thread
 * held past a shutdown holds the exit too, as libuv joins its pool. So it
 * runs on a detached thread of its own, and the probe waits for it in
 * slices until the timeout or a stop; a lookup given up on finishes alone
 * and frees what it got. Both ends hold a reference to the job.
 */
typedef struct lookup {
    pthread_mutex_t lock;
    pthread_cond_t done_cv;
    int refs, done, rc;
    char host[sizeof(((floe_probe_spec *)0)->host)];
    char port[8];
    struct addrinfo hints, *res;
} lookup;

static void lookup_unref(lookup *l)
{
    pthread_mutex_lock(&l->lock);
    int last = --l->refs == 0;
    pthread_mutex_unlock(&l->lock);
    if (!last)
        return;
    if (l->res)
        freeaddrinfo(l->res);
    pthread_cond_destroy(&l->done_cv);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static void *lookup_main(void *arg)
{
    lookup *l = arg;
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(l->host, l->port, &l->hints, &res);
    pthread_mutex_lock(&l->lock);
    l->rc = rc;
    l->res = res;
    l->done = 1;
    pthread_cond_signal(&l->done_cv);
    pthread_mutex_unlock(&l->lock);
    lookup_unref(l);
    return NULL;
}

/* Resolves the probe's host within its timeout: 0 with *out (the caller
 * frees it), a getaddrinfo error, or EAI_AGAIN with *timed_out set. */
static int resolve(probe_ctx *c, const struct addrinfo *hints, const char *port,
                   struct addrinfo **out, int *timed_out)
{
    *out = NULL;
    *timed_out = 0;
    if (hints->ai_flags & AI_NUMERICHOST) /* an address: nothing to wait for */
        return getaddrinfo(c->s->host, port, hints, out);
    lookup *l = calloc(1, sizeof(*l));
    pthread_attr_t attr;
    pthread_t tid;
    if (!l)
        return EAI_MEMORY;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->done_cv, NULL);
    l->refs = 2;
    snprintf(l->host, sizeof(l->host), "%s", c->s->host);
    snprintf(l->port, sizeof(l->port), "%s", port);
    l->hints = *hints;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int started = pthread_create(&tid, &attr, lookup_main, l) == 0;
    pthread_attr_destroy(&attr);
    if (!started) { /* no thread to spare: look it up here, unbounded */
        l->refs = 1;
        lookup_unref(l);
        return getaddrinfo(c->s->host, port, hints, out);
    }
    uint64_t deadline = mono_us() + (uint64_t)c->s->timeout_ms * 1000;
    int rc = EAI_AGAIN;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        if (l->done) {
            rc = l->rc;
            *out = l->res;
            l->res = NULL;
            break;
        }
        uint64_t now = mono_us();
        if (c->stop && atomic_load(c->stop)) {
            c->stopped = 1;
            break;
        }
        if (now >= deadline) {
            *timed_out = 1;
            break;
        }
        uint64_t left_ms = (deadline - now + 999) / 1000;
        struct timespec at =
            floe_time_after(CLOCK_REALTIME, left_ms < WAIT_SLICE_MS ? left_ms : WAIT_SLICE_MS);
        pthread_cond_timedwait(&l->done_cv, &l->lock, &at);
    }
    pthread_mutex_unlock(&l->lock);
    lookup_unref(l);
    return rc;
}

static int tcp_connect(probe_ctx *c)
{
    struct addrinfo hints, *res = NULL;
    char port[8];
    floe_addr literal;
    int timed_out;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = floe_addr_parse(&literal, c->s->host) == 0 ? AI_NUMERICHOST : 0;
    snprintf(port, sizeof(port), "%u", c->s->port);
    int rc = resolve(c, &hints, port, &res, &timed_out);
    if (c->stopped)
        return FLOE_EIO;
    if (timed_out)
        return fail(c, "cannot resolve %s within %u ms", c->s->host, c->s->timeout_ms);
    if (rc != 0)
        return fail(c, "cannot resolve %s: %s", c->s->host, gai_strerror(rc));
    /* The connect's own clock: the timeout starts after the name lookup. */
    uint64_t t0 = mono_us();
    c->deadline_us = t0 + (uint64_t)c->s->timeout_ms * 1000;
    int e = ENOENT;
    for (const struct addrinfo *ai = res; ai && mono_us() < c->deadline_us; ai = ai->ai_next) {
        note_address(c, ai);
        if ((e = connect_one(c, ai)) == 0)
            break;
    }
    freeaddrinfo(res);
    if (e == ETIMEDOUT || (e != 0 && mono_us() >= c->deadline_us))
        return fail(c, "no answer within %u ms connecting to port %u", c->s->timeout_ms,
                    c->s->port);
    if (e != 0)
        return fail(c, "connecting to port %u: %s", c->s->port, strerror(e));
    c->r->rtt_ms = (double)(mono_us() - t0) / 1000.0;
    return 0;
}

/* ---- TLS ------------------------------------------------------------------ */

/* What a verification error means to an operator. */
static const struct {
    int err, status;
} verify_errors[] = {
    {X509_V_ERR_CERT_HAS_EXPIRED, FLOE_CERT_EXPIRED},
    {X509_V_ERR_CERT_NOT_YET_VALID, FLOE_CERT_NOT_YET_VALID},
    {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, FLOE_CERT_SELF_SIGNED},
    {X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, FLOE_CERT_SELF_SIGNED},
    {X509_V_ERR_HOSTNAME_MISMATCH, FLOE_CERT_NAME_MISMATCH},
    {X509_V_ERR_IP_ADDRESS_MISMATCH, FLOE_CERT_NAME_MISMATCH},
};

/* Notes every problem in the chain and lets the handshake go on: a probe
 * reports a bad certificate, it does not refuse the service for it. */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    unsigned *problems = ssl ? SSL_get_app_data(ssl) : NULL;
    if (ok || !problems)
        return 1;
    int err = X509_STORE_CTX_get_error(x), status = FLOE_CERT_UNTRUSTED;
    for (size_t i = 0; i < FLOE_ARRAY_LEN(verify_errors); i++)
        if (verify_errors[i].err == err)
            status = verify_errors[i].status;
    *problems |= 1u << status;
    return 1;
}

static void name_text(const X509_NAME *name, char *out, size_t outlen)
{
    BIO *b = BIO_new(BIO_s_mem());
    char buf[512];
    int n = 0;
    if (b && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0)
        n = BIO_read(b, buf, sizeof(buf) - 1);
    BIO_free(b);
    buf[n > 0 ? n : 0] = '\0';
    printable(out, outlen, buf, sizeof(buf));
}

/* The verdict on the peer's certificate, its names and its days left. */
static void judge_cert(probe_ctx *c, SSL *ssl, unsigned problems)
{
    floe_probe_result *r = c->r;
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (!cert)
        return;
    const ASN1_TIME *na = X509_get0_notAfter(cert);
    int days = 0, secs = 0;
    struct tm tm;
    if (ASN1_TIME_diff(&days, &secs, NULL, na))
        r->cert_days_left = days;
    if (ASN1_TIME_to_tm(na, &tm))
        r->cert_not_after_s = (int64_t)timegm(&tm);
    if (days < 0 || secs < 0)
        problems |= 1u << FLOE_CERT_EXPIRED;
    name_text(X509_get_subject_name(cert), r->cert_subject, sizeof(r->cert_subject));
    name_text(X509_get_issuer_name(cert), r->cert_issuer, sizeof(r->cert_issuer));
    X509_free(cert);
    r->cert_problems = problems;
    r->cert_status = FLOE_CERT_VALID;
    for (int st = FLOE_CERT_NONE + 1; st < FLOE_CERT_VALID; st++)
        if (problems & (1u << st)) {
            r->cert_status = st;
            break;
        }
}

/* The last OpenSSL error of this thread, or what the socket said. */
static const char *tls_error(char *buf, size_t len, int ssl_err)
{
    unsigned long e = ERR_peek_last_error();
    if (e) {
        ERR_error_string_n(e, buf, len);
        return buf;
    }
    if (ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN)
        return errno ? strerror(errno) : "the server closed the connection";
    return "handshake failed";
}

/* Drives the handshake on the non-blocking socket until done or the
 * deadline. */
static int tls_handshake(probe_ctx *c, SSL *ssl)
{
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int rc = SSL_connect(ssl);
        if (rc == 1)
            return 0;
        int e = SSL_get_error(ssl, rc), w;
        if (e == SSL_ERROR_WANT_READ)
            w = wait_fd(c, POLLIN);
        else if (e == SSL_ERROR_WANT_WRITE)
            w = wait_fd(c, POLLOUT);
        else {
            char buf[200];
            return fail(c, "TLS handshake: %s", tls_error(buf, sizeof(buf), e));
        }
        if (w == 0)
            return fail(c, "no TLS handshake within %u ms", c->s->timeout_ms);
        if (w < 0)
            return fail(c, "TLS handshake: %s", strerror(errno));
    }
}

/* Sets what the handshake verifies: the system's CAs (and the spec's CA
 * file), and the name: SNI plus host name checking, or an IP address. */
static int tls_setup(probe_ctx *c, SSL_CTX *ctx, SSL *ssl, unsigned *problems)
{
    const char *name = c->s->server_name[0] ? c->s->server_name : c->s->host;
    floe_addr ip;
    SSL_CTX_set_default_verify_paths(ctx);
    if (c->s->ca_file[0] && SSL_CTX_load_verify_locations(ctx, c->s->ca_file, NULL) != 1)
        return fail(c, "cannot load the CA file %s", c->s->ca_file);
    if (!SSL_set_fd(ssl, c->fd))
        return fail(c, "TLS: out of memory");
    if (floe_addr_parse(&ip, name) == 0) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
    } else {
        SSL_set_tlsext_host_name(ssl, name);
        SSL_set1_host(ssl, name);
    }
    SSL_set_app_data(ssl, problems);
    SSL_set_verify(ssl, SSL_VERIFY_PEER, verify_cb);
    return 0;
}

static int tls_probe(probe_ctx *c)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    unsigned problems = 0;
    int rc = ssl ? tls_setup(c, ctx, ssl, &problems) : fail(c, "TLS: out of memory");
    if (rc == 0)
        rc = tls_handshake(c, ssl);
    if (rc == 0) {
        judge_cert(c, ssl, problems);
        snprintf(c->r->tls_version, sizeof(c->r->tls_version), "%s", SSL_get_version(ssl));
        SSL_shutdown(ssl); /* a close_notify, once; no waiting for the server's */
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

/* ---- MySQL ------------------------------------------------------------------ */

/* Reads exactly n bytes before the deadline. */
static int read_exact(probe_ctx *c, uint8_t *buf, size_t n, const char *what)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = recv(c->fd, buf + got, n - got, 0);
        if (k > 0) {
            got += (size_t)k;
            continue;
        }
        if (k == 0)
            return fail(c, "the server closed the connection before its %s", what);
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return fail(c, "reading the %s: %s", what, strerror(errno));
        int w = wait_fd(c, POLLIN);
        if (w == 0)
            return fail(c, "no %s within %u ms", what, c->s->timeout_ms);
        if (w < 0)
            return fail(c, "reading the %s: %s", what, strerror(errno));
    }
    return 0;
}

/* An ERR packet instead of a greeting (too many connections, a host that
 * may not connect): the server is there and refuses. */
static int mysql_error(probe_ctx *c, const uint8_t *p, size_t n)
{
    unsigned code = n >= 3 ? (unsigned)(p[1] | p[2] << 8) : 0;
    size_t at = n >= 9 && p[3] == '#' ? 9 : 3; /* '#' and a five-byte SQL state */
    char msg[160];
    printable(msg, sizeof(msg), at < n ? (const char *)p + at : "", at < n ? n - at : 0);
    return fail(c, "MySQL error %u: %s", code, msg);
}

/* The initial handshake packet: 3-byte length, sequence, then protocol
 * version (10, or 9 from very old servers) and the server's version as a
 * NUL-terminated string. */
static int mysql_probe(probe_ctx *c)
{
    uint8_t hdr[4], body[GREETING_MAX];
    if (read_exact(c, hdr, sizeof(hdr), "greeting") != 0)
        return FLOE_EIO;
    size_t len = (size_t)hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16;
    if (len == 0 || len > GREETING_LEN_MAX || hdr[3] != 0)
        return fail(c, "not a MySQL greeting (a packet header of %02x %02x %02x %02x)", hdr[0],
                    hdr[1], hdr[2], hdr[3]);
    size_t n = len < sizeof(body) ? len : sizeof(body);
    if (read_exact(c, body, n, "greeting") != 0)
        return FLOE_EIO;
    if (body[0] == 0xff)
        return mysql_error(c, body, n);
    if (body[0] != 10 && body[0] != 9)
        return fail(c, "not a MySQL greeting (protocol byte 0x%02x)", body[0]);
    const uint8_t *end = memchr(body + 1, 0, n - 1);
    if (!end || end == body + 1)
        return fail(c, "not a MySQL greeting (no server version)");
    c->r->mysql_protocol = body[0];
    printable(c->r->server_version, sizeof(c->r->server_version), (const char *)body + 1,
              (size_t)(end - body - 1));
    return 0;
}

/* ---- one probe ----------------------------------------------------------- */

/* OpenSSL writes to its socket with write(): a server that closed first
 * would raise SIGPIPE. It is blocked on this thread while the probe runs,
 * and one it raised is taken before the mask is restored, so a probe is
 * safe in a process that does not ignore the signal. */
static void sigpipe_block(sigset_t *old)
{
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, old);
}

static void sigpipe_restore(const sigset_t *old)
{
    sigset_t pipe, pending;
    struct timespec zero = {0, 0};
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    if (!sigismember(old, SIGPIPE) && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
        sigtimedwait(&pipe, NULL, &zero);
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

int floe_probe_run(const floe_probe_spec *s, floe_probe_result *out)
{
    return floe_probe_run_until(s, out, NULL);
}

int floe_probe_run_until(const floe_probe_spec *s, floe_probe_result *out, const atomic_int *stop)
{
    probe_ctx c = {s, out, mono_us(), 0, -1, stop, 0};
    char why[160];
    sigset_t mask;
    memset(out, 0, sizeof(*out));
    sigpipe_block(&mask);
    int rc;
    if (floe_probe_spec_check(s, why, sizeof(why)) != 0) {
        fail(&c, "%s", why);
        rc = FLOE_EINVAL;
    } else {
        rc = tcp_connect(&c);
        if (rc == 0 && s->kind == FLOE_PROBE_TLS)
            rc = tls_probe(&c);
        else if (rc == 0 && s->kind == FLOE_PROBE_MYSQL)
            rc = mysql_probe(&c);
    }
    if (c.fd >= 0)
        close(c.fd);
    if (c.stopped) {
        snprintf(out->error, sizeof(out->error), "stopped");
        rc = FLOE_EIO;
    }
    sigpipe_restore(&mask);
    out->ok = rc == 0;
    out->duration_ms = (double)(mono_us() - c.start_us) / 1000.0;
    out->at_ms = floe_time_ms();
    return rc;
}
