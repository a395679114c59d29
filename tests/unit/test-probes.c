/*
 * Unit tests for probes/: each probe kind against listeners on loopback
 * run by threads of the test itself: a plain TCP listener, a closed port,
 * MySQL speakers (a greeting, an error packet, silence, something else),
 * and TLS servers whose certificates are made here with OpenSSL
 * (self-signed, expired, signed by a CA of the test's for the right and
 * for the wrong name). Then the queue on a libuv loop: one probe per key
 * at a time, a bounded wait list, results on the loop, and a queue freed
 * while a probe runs.
 */
#include "probes/probes.h"
#include "tests/unit/runner.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- listeners -------------------------------------------------------------- */

static int listen_any(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    ASSERT(fd >= 0);
    ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ASSERT_EQ(listen(fd, 8), 0);
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A server thread: accepts one connection and sends reply (len bytes). */
typedef struct speaker {
    int lfd;
    const uint8_t *reply;
    size_t len;
    SSL_CTX *tls;
    pthread_t thread;
} speaker;

static void *speak(void *arg)
{
    speaker *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    if (s->tls) {
        SSL *ssl = SSL_new(s->tls);
        char b[16];
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1)
            SSL_read(ssl, b, sizeof(b)); /* until the probe's close_notify or EOF */
        SSL_free(ssl);
    } else if (s->len && write(fd, s->reply, s->len) < 0) {
        perror("write");
    }
    close(fd);
    return NULL;
}

static uint16_t start_speaker(speaker *s, const uint8_t *reply, size_t len, SSL_CTX *tls)
{
    uint16_t port;
    signal(SIGPIPE, SIG_IGN); /* a TLS server writes its tickets after the probe has gone */
    memset(s, 0, sizeof(*s));
    s->lfd = listen_any(&port);
    s->reply = reply;
    s->len = len;
    s->tls = tls;
    ASSERT_EQ(pthread_create(&s->thread, NULL, speak, s), 0);
    return port;
}

static floe_probe_spec tcp_spec(uint16_t port, uint32_t timeout_ms)
{
    floe_probe_spec s;
    memset(&s, 0, sizeof(s));
    s.kind = FLOE_PROBE_TCP;
    snprintf(s.host, sizeof(s.host), "127.0.0.1");
    s.port = port;
    s.timeout_ms = timeout_ms;
    return s;
}

static floe_probe_result probe(int kind, uint16_t port, uint32_t timeout_ms, const char *name,
                               const char *ca_file)
{
    floe_probe_spec s = tcp_spec(port, timeout_ms);
    floe_probe_result r;
    s.kind = kind;
    snprintf(s.server_name, sizeof(s.server_name), "%s", name ? name : "");
    snprintf(s.ca_file, sizeof(s.ca_file), "%s", ca_file ? ca_file : "");
    int rc = floe_probe_run(&s, &r);
    ASSERT_EQ(rc == 0, r.ok);
    ASSERT(r.at_ms > 0);
    return r;
}

/* One probe of kind against a speaker that answers reply (or a TLS
 * handshake with tls); the speaker is gone when it returns. */
static floe_probe_result served(int kind, const uint8_t *reply, size_t len, SSL_CTX *tls,
                                const char *name, const char *ca_file)
{
    speaker s;
    uint16_t port = start_speaker(&s, reply, len, tls);
    floe_probe_result r = probe(kind, port, tls ? 3000 : 2000, name, ca_file);
    pthread_join(s.thread, NULL);
    close(s.lfd);
    return r;
}

/* ---- TCP ---------------------------------------------------------------------- */

TEST(tcp_connects_to_a_listener)
{
    uint16_t port;
    int fd = listen_any(&port);
    floe_probe_result r = probe(FLOE_PROBE_TCP, port, 1000, NULL, NULL);
    ASSERT_EQ(r.ok, 1);
    ASSERT_STR_EQ(r.error, "");
    ASSERT_STR_EQ(r.address, "127.0.0.1");
    ASSERT(r.rtt_ms >= 0 && r.rtt_ms < 1000);
    ASSERT(r.duration_ms >= r.rtt_ms);
    close(fd);
}

TEST(tcp_to_a_closed_port_is_refused)
{
    uint16_t port;
    close(listen_any(&port)); /* a port nobody listens on now */
    floe_probe_result r = probe(FLOE_PROBE_TCP, port, 1000, NULL, NULL);
    ASSERT_EQ(r.ok, 0);
    ASSERT_CONTAINS(r.error, "refused");
}

TEST(unresolvable_names_and_bad_specs_fail_with_a_reason)
{
    floe_probe_spec s;
    floe_probe_result r;
    char err[160];
    memset(&s, 0, sizeof(s));
    s.kind = FLOE_PROBE_TCP;
    snprintf(s.host, sizeof(s.host), "no-such-host.invalid");
    s.port = 80;
    s.timeout_ms = 500;
    ASSERT_EQ(floe_probe_run(&s, &r), FLOE_EIO);
    ASSERT_CONTAINS(r.error, "cannot resolve no-such-host.invalid");
    s.port = 0;
    ASSERT_EQ(floe_probe_spec_check(&s, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "port");
    ASSERT_EQ(floe_probe_run(&s, &r), FLOE_EINVAL);
    ASSERT_CONTAINS(r.error, "port");
    s.port = 80;
    s.timeout_ms = FLOE_PROBE_TIMEOUT_MAX + 1;
    ASSERT_EQ(floe_probe_spec_check(&s, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "timeout_ms");
    s.timeout_ms = 100;
    snprintf(s.host, sizeof(s.host), "a host");
    ASSERT_EQ(floe_probe_spec_check(&s, err, sizeof(err)), FLOE_EINVAL);
    s.kind = FLOE_PROBE_KIND_COUNT;
    snprintf(s.host, sizeof(s.host), "localhost");
    ASSERT_EQ(floe_probe_spec_check(&s, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "kind");
    ASSERT_EQ(floe_probe_kind_parse("mysql"), FLOE_PROBE_MYSQL);
    ASSERT_EQ(floe_probe_kind_parse("http"), -1);
    ASSERT_STR_EQ(floe_cert_status_name(FLOE_CERT_NAME_MISMATCH), "name mismatch");
}

/* A resolver that does not answer, for names under .hang.test: this
 * program's getaddrinfo comes before the C library's for every caller in
 * it, the probes included; other names go on to the real one. */
#define HANG_MS 1500

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    size_t n = node ? strlen(node) : 0;
    if (n > 10 && strcmp(node + n - 10, ".hang.test") == 0) {
        usleep(HANG_MS * 1000);
        return EAI_AGAIN;
    }
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    return real(node, service, hints, res);
}

TEST(a_resolver_that_does_not_answer_costs_the_timeout_or_a_stop)
{
    floe_probe_spec s = tcp_spec(3306, 300);
    floe_probe_result r;
    snprintf(s.host, sizeof(s.host), "db.hang.test");
    ASSERT_EQ(floe_probe_run(&s, &r), FLOE_EIO);
    ASSERT_STR_EQ(r.error, "cannot resolve db.hang.test within 300 ms");
    ASSERT(r.duration_ms >= 290 && r.duration_ms < HANG_MS); /* not the resolver's time */
    /* A stop ends the wait within a slice, not after the resolver. */
    atomic_int stop;
    atomic_init(&stop, 1);
    s.timeout_ms = 20000;
    ASSERT_EQ(floe_probe_run_until(&s, &r, &stop), FLOE_EIO);
    ASSERT_STR_EQ(r.error, "stopped");
    ASSERT(r.duration_ms < 1000);
    /* The lookups given up on end on their own and free what they hold
     * (the sanitizers' leak check runs after this). */
    usleep((HANG_MS + 300) * 1000);
}

/* ---- MySQL -------------------------------------------------------------------- */

TEST(mysql_greeting_gives_the_server_version)
{
    /* A MySQL 8 initial handshake, cut after the version and thread id. */
    static const uint8_t greeting[] = {0x1a, 0,   0,   0,   10,  '8', '.', '0', '.', '3',
                                       '6',  '-', 'f', 'l', 'o', 'e', 0,   1,   0,   0,
                                       0,    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 0};
    floe_probe_result r = served(FLOE_PROBE_MYSQL, greeting, sizeof(greeting), NULL, NULL, NULL);
    ASSERT_EQ(r.ok, 1);
    ASSERT_EQ(r.mysql_protocol, 10);
    ASSERT_STR_EQ(r.server_version, "8.0.36-floe");
}

TEST(mysql_error_packet_is_down_with_its_message)
{
    static const uint8_t err[] = {0x17, 0,   0,   0,   0xff, 0x10, 0x04, 'T', 'o',
                                  'o',  ' ', 'm', 'a', 'n',  'y',  ' ',  'c', 'o',
                                  'n',  'n', 'e', 'c', 't',  'i',  'o',  'n', 's'};
    floe_probe_result r = served(FLOE_PROBE_MYSQL, err, sizeof(err), NULL, NULL, NULL);
    ASSERT_EQ(r.ok, 0);
    ASSERT_STR_EQ(r.error, "MySQL error 1040: Too many connections");
}

TEST(mysql_probe_of_something_else_says_so)
{
    static const uint8_t http[] = "HTTP/1.0 400 Bad Request\r\n\r\n";
    floe_probe_result r = served(FLOE_PROBE_MYSQL, http, sizeof(http) - 1, NULL, NULL, NULL);
    ASSERT_EQ(r.ok, 0);
    ASSERT_CONTAINS(r.error, "not a MySQL greeting");
}

TEST(a_probe_asked_to_stop_ends_at_once)
{
    uint16_t port;
    int fd = listen_any(&port);
    floe_probe_spec m = tcp_spec(port, 20000);
    floe_probe_result r;
    atomic_int stop;
    atomic_init(&stop, 1);
    m.kind = FLOE_PROBE_MYSQL;
    ASSERT_EQ(floe_probe_run_until(&m, &r, &stop), FLOE_EIO);
    ASSERT_STR_EQ(r.error, "stopped");
    ASSERT(r.duration_ms < 1000);
    close(fd);
}

TEST(a_silent_service_costs_the_timeout_and_no_more)
{
    uint16_t port;
    int fd = listen_any(&port); /* the kernel accepts; nobody speaks */
    floe_probe_result r = probe(FLOE_PROBE_MYSQL, port, 300, NULL, NULL);
    ASSERT_EQ(r.ok, 0);
    ASSERT_STR_EQ(r.error, "no greeting within 300 ms");
    ASSERT(r.duration_ms >= 290 && r.duration_ms < 1500);
    r = probe(FLOE_PROBE_TLS, port, 300, "localhost", NULL);
    ASSERT_EQ(r.ok, 0);
    ASSERT_STR_EQ(r.error, "no TLS handshake within 300 ms");
    close(fd);
}

/* ---- TLS ---------------------------------------------------------------------- */

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    ASSERT(e != NULL);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

/* A certificate for cn valid from `from` to `to` seconds from now, signed
 * by issuer (or by itself). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, long from, long to, X509 *issuer,
                       EVP_PKEY *issuer_key, long serial)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), from);
    X509_gmtime_adj(X509_getm_notAfter(x), to);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"floe test", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    if (strcmp(cn, "floe test CA") == 0) {
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        char san[128];
        snprintf(san, sizeof(san), "DNS:%s", cn);
        add_ext(x, issuer, NID_subject_alt_name, san);
    }
    ASSERT(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static SSL_CTX *server_ctx(X509 *cert, EVP_PKEY *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    ASSERT(ctx != NULL);
    ASSERT_EQ(SSL_CTX_use_certificate(ctx, cert), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey(ctx, key), 1);
    return ctx;
}

static floe_probe_result tls_probe_of(X509 *cert, EVP_PKEY *key, const char *name,
                                      const char *ca_file)
{
    SSL_CTX *ctx = server_ctx(cert, key);
    floe_probe_result r = served(FLOE_PROBE_TLS, NULL, 0, ctx, name, ca_file);
    SSL_CTX_free(ctx);
    return r;
}

#define DAY 86400L

TEST(tls_self_signed_certificate)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = make_cert(key, "localhost", -DAY, 30 * DAY, NULL, NULL, 1);
    floe_probe_result r = tls_probe_of(cert, key, "localhost", NULL);
    ASSERT_EQ(r.ok, 1);
    ASSERT_STR_EQ(floe_cert_status_name(r.cert_status), "self-signed");
    ASSERT(r.cert_days_left == 29 || r.cert_days_left == 30);
    ASSERT_STR_EQ(r.cert_subject, "CN=localhost,O=floe test");
    ASSERT_STR_EQ(r.cert_issuer, r.cert_subject);
    ASSERT_CONTAINS(r.tls_version, "TLSv1.");
    ASSERT(r.cert_not_after_s > (int64_t)(floe_time_ms() / 1000) + 29 * DAY);
    X509_free(cert);
    EVP_PKEY_free(key);
}

TEST(tls_expired_certificate_is_expired_first)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = make_cert(key, "localhost", -20 * DAY, -10 * DAY, NULL, NULL, 2);
    floe_probe_result r = tls_probe_of(cert, key, "localhost", NULL);
    ASSERT_EQ(r.ok, 1); /* the service answers: the certificate is the problem */
    ASSERT_STR_EQ(floe_cert_status_name(r.cert_status), "expired");
    ASSERT(r.cert_problems & (1u << FLOE_CERT_SELF_SIGNED));
    ASSERT(r.cert_days_left == -10 || r.cert_days_left == -9);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* A CA of the test's in a PEM file; its leaf for "localhost". */
TEST(tls_valid_with_a_ca_file_and_a_name_mismatch_without_the_name)
{
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *key = EVP_EC_gen("P-256");
    X509 *ca = make_cert(ca_key, "floe test CA", -DAY, 365 * DAY, NULL, NULL, 3);
    X509 *leaf = make_cert(key, "localhost", -DAY, 90 * DAY, ca, ca_key, 4);
    char path[] = "/tmp/floe-test-ca-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    ASSERT(f && PEM_write_X509(f, ca));
    fclose(f);
    floe_probe_result r = tls_probe_of(leaf, key, "localhost", path);
    ASSERT_STR_EQ(floe_cert_status_name(r.cert_status), "valid");
    ASSERT_EQ(r.cert_problems, 0);
    ASSERT_STR_EQ(r.cert_issuer, "CN=floe test CA,O=floe test");
    r = tls_probe_of(leaf, key, "db.example.org", path);
    ASSERT_STR_EQ(floe_cert_status_name(r.cert_status), "name mismatch");
    r = tls_probe_of(leaf, key, "localhost", NULL); /* the system's CAs do not know it */
    ASSERT_STR_EQ(floe_cert_status_name(r.cert_status), "untrusted");
    unlink(path);
    r = tls_probe_of(leaf, key, "localhost", path);
    ASSERT_EQ(r.ok, 0);
    ASSERT_CONTAINS(r.error, "cannot load the CA file");
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
}

TEST(tls_to_a_service_that_is_not_tls_fails_the_handshake)
{
    static const uint8_t banner[] = "220 smtp.example ESMTP\r\n";
    floe_probe_result r =
        served(FLOE_PROBE_TLS, banner, sizeof(banner) - 1, NULL, "localhost", NULL);
    ASSERT_EQ(r.ok, 0);
    ASSERT_CONTAINS(r.error, "TLS handshake: ");
    ASSERT_EQ(r.cert_status, FLOE_CERT_NONE);
}

/* ---- the queue ------------------------------------------------------------------ */

typedef struct seen {
    char keys[8][FLOE_PROBE_KEY_MAX];
    int ok[8];
    int n;
} seen;

static void on_done(void *ud, const char *key, const floe_probe_result *r)
{
    seen *s = ud;
    if (s->n < 8) {
        snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
        s->ok[s->n++] = r->ok;
    }
}

TEST(queue_runs_one_probe_per_key_within_its_bounds)
{
    uv_loop_t loop;
    seen s = {0};
    uint16_t up, down;
    int fd = listen_any(&up);
    close(listen_any(&down));
    ASSERT_EQ(uv_loop_init(&loop), 0);
    floe_probes *q = floe_probes_new(&loop, 1, 2, on_done, &s);
    floe_probe_spec a = tcp_spec(up, 1000), b = tcp_spec(down, 1000);
    ASSERT_EQ(floe_probes_submit(q, "p/up", &a), 0); /* runs at once */
    ASSERT_EQ(floe_probes_submit(q, "p/up", &a), FLOE_EEXISTS);
    ASSERT_EQ(floe_probes_submit(q, "p/down", &b), 0); /* waits */
    ASSERT_EQ(floe_probes_submit(q, "p/up2", &a), 0);
    ASSERT_EQ(floe_probes_submit(q, "p/up3", &a), FLOE_ELIMIT);
    a.port = 0;
    ASSERT_EQ(floe_probes_submit(q, "p/bad", &a), FLOE_EINVAL);
    floe_probes_stats st;
    floe_probes_stats_get(q, &st);
    ASSERT_EQ(st.running, 1);
    ASSERT_EQ(st.queued, 2);
    ASSERT_EQ(st.refused_busy, 1);
    ASSERT_EQ(st.refused_full, 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(s.n, 3);
    ASSERT_STR_EQ(s.keys[0], "p/up"); /* in the order they were queued */
    ASSERT_STR_EQ(s.keys[1], "p/down");
    ASSERT_STR_EQ(s.keys[2], "p/up2");
    ASSERT_EQ(s.ok[0], 1);
    ASSERT_EQ(s.ok[1], 0);
    floe_probes_stats_get(q, &st);
    ASSERT_EQ(st.done, 3);
    ASSERT_EQ(st.running, 0);
    floe_probes_free(q);
    uv_loop_close(&loop);
    close(fd);
}

TEST(queue_freed_while_a_probe_runs_stops_and_discards_it)
{
    uv_loop_t loop;
    seen s = {0};
    uint16_t port;
    int fd = listen_any(&port);
    ASSERT_EQ(uv_loop_init(&loop), 0);
    floe_probes *q = floe_probes_new(&loop, 1, 4, on_done, &s);
    floe_probe_spec m = tcp_spec(port, 20000);
    m.kind = FLOE_PROBE_MYSQL; /* silence: it would wait for 20 s */
    ASSERT_EQ(floe_probes_submit(q, "slow", &m), 0);
    ASSERT_EQ(floe_probes_submit(q, "waiting", &m), 0);
    usleep(50000); /* in its wait for a greeting */
    uint64_t t0 = floe_monotonic_ms();
    floe_probes_free(q);
    uv_run(&loop, UV_RUN_DEFAULT); /* the running one stops; its job frees the rest */
    ASSERT_LE(floe_monotonic_ms() - t0, 1000);
    ASSERT_EQ(s.n, 0);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    close(fd);
}

static void free_from_done(void *ud, const char *key, const floe_probe_result *r)
{
    floe_probes **qp = ud;
    (void)key;
    (void)r;
    floe_probes_free(*qp);
    *qp = NULL;
}

TEST(queue_freed_from_its_own_callback)
{
    uv_loop_t loop;
    uint16_t port;
    int fd = listen_any(&port);
    floe_probes *q;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    q = floe_probes_new(&loop, 2, 4, free_from_done, &q);
    floe_probe_spec a = tcp_spec(port, 500);
    ASSERT_EQ(floe_probes_submit(q, "a", &a), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT(q == NULL);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    close(fd);
}

TEST_MAIN(TEST_ENTRY(tcp_connects_to_a_listener), TEST_ENTRY(tcp_to_a_closed_port_is_refused),
          TEST_ENTRY(unresolvable_names_and_bad_specs_fail_with_a_reason),
          TEST_ENTRY(a_resolver_that_does_not_answer_costs_the_timeout_or_a_stop),
          TEST_ENTRY(mysql_greeting_gives_the_server_version),
          TEST_ENTRY(mysql_error_packet_is_down_with_its_message),
          TEST_ENTRY(mysql_probe_of_something_else_says_so),
          TEST_ENTRY(a_silent_service_costs_the_timeout_and_no_more),
          TEST_ENTRY(a_probe_asked_to_stop_ends_at_once), TEST_ENTRY(tls_self_signed_certificate),
          TEST_ENTRY(tls_expired_certificate_is_expired_first),
          TEST_ENTRY(tls_valid_with_a_ca_file_and_a_name_mismatch_without_the_name),
          TEST_ENTRY(tls_to_a_service_that_is_not_tls_fails_the_handshake),
          TEST_ENTRY(queue_runs_one_probe_per_key_within_its_bounds),
          TEST_ENTRY(queue_freed_while_a_probe_runs_stops_and_discards_it),
          TEST_ENTRY(queue_freed_from_its_own_callback))
