/*
 * probes: active checks of network services, for the plugins that watch
 * them (the service_probe built-in). A probe connects to a service over
 * TCP and, by kind, stops there, completes a TLS handshake and judges the
 * server's certificate, or reads a MySQL server's greeting packet. Every
 * probe is bounded by its timeout and runs on a thread of libuv's work
 * queue, never on the loop thread: floe_probes queues them (bounded: at
 * most max_running at once, max_queued waiting, one per key at a time,
 * overflow counted and refused) and hands each result back on the loop.
 *
 * TLS uses OpenSSL with the system's CA store (plus an optional CA file
 * per probe), SNI and host name verification. The handshake completes
 * whatever the certificate's verdict, so an expired or self-signed
 * certificate is reported, not mistaken for a service that is down.
 *
 * A host name is resolved with getaddrinfo on a detached thread of its
 * own, which the probe waits for until its timeout or a stop: a resolver
 * that does not answer costs the timeout, not its own retries, and holds
 * no worker past a shutdown. Then the timeout starts again for connect,
 * handshake and greeting. Literal addresses never touch DNS.
 */
#ifndef FLOE_PROBES_H
#define FLOE_PROBES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/util.h"

/* X(ID, "name"): FLOE_PROBE_<ID> and its name in the Lua API. */
#define FLOE_PROBE_KINDS(X) X(TCP, "tcp") X(TLS, "tls") X(MYSQL, "mysql")
enum floe_probe_kind {
#define X(id, name) FLOE_PROBE_##id,
    FLOE_PROBE_KINDS(X)
#undef X
        FLOE_PROBE_KIND_COUNT
};
/* The kind's name, or "?"; and a name's kind, or -1. */
const char *floe_probe_kind_name(int kind);
int floe_probe_kind_parse(const char *name);

/*
 * A certificate's verdict, most serious first: when several apply (a
 * self-signed certificate that has also expired) the first one listed is
 * the status and all of them are in the problems mask (bit 1 << status).
 */
#define FLOE_CERT_STATUSES(X)                                                                      \
    X(NONE, "none")                                                                                \
    X(EXPIRED, "expired")                                                                          \
    X(NOT_YET_VALID, "not yet valid")                                                              \
    X(SELF_SIGNED, "self-signed")                                                                  \
    X(UNTRUSTED, "untrusted")                                                                      \
    X(NAME_MISMATCH, "name mismatch")                                                              \
    X(VALID, "valid")
enum floe_cert_status {
#define X(id, name) FLOE_CERT_##id,
    FLOE_CERT_STATUSES(X)
#undef X
        FLOE_CERT_STATUS_COUNT
};
const char *floe_cert_status_name(int status);

#define FLOE_PROBE_HOST_MAX    256
#define FLOE_PROBE_TIMEOUT_MAX 30000 /* ms */

/* What to probe. Plain data: copied when queued. */
typedef struct floe_probe_spec {
    int kind;                              /* enum floe_probe_kind */
    char host[FLOE_PROBE_HOST_MAX];        /* a name or a literal address */
    uint16_t port;                         /* 1..65535 */
    uint32_t timeout_ms;                   /* 1..FLOE_PROBE_TIMEOUT_MAX */
    char server_name[FLOE_PROBE_HOST_MAX]; /* TLS: SNI and the name verified; "": host */
    char ca_file[512];                     /* TLS: a PEM bundle trusted besides the system's */
} floe_probe_spec;

/* What a probe found. Strings are NUL-terminated, printable ASCII. */
typedef struct floe_probe_result {
    int ok;             /* reached, and (TLS) the handshake or (MySQL) the greeting done */
    double rtt_ms;      /* the TCP connect's time */
    double duration_ms; /* the whole probe's, name lookup included */
    char error[256];    /* why not ok; "" when ok */
    uint64_t at_ms;     /* wall clock when it ended */
    char address[48];   /* the address connected to */
    /* TLS, once the handshake is done */
    int cert_status;        /* enum floe_cert_status; NONE without a certificate */
    unsigned cert_problems; /* bit (1 << status) for every verdict that applies */
    int64_t cert_days_left; /* whole days to notAfter, negative once expired */
    int64_t cert_not_after_s;
    char cert_subject[256], cert_issuer[256];
    char tls_version[16];
    /* MySQL, from the greeting */
    int mysql_protocol;
    char server_version[128];
} floe_probe_result;

/* Checks a spec (kind, host, port, timeout): 0, or FLOE_EINVAL with a
 * one-line reason naming the field in err. */
int floe_probe_spec_check(const floe_probe_spec *s, char *err, size_t errlen);
/*
 * Runs one probe and blocks until it ends: at most the timeout for the
 * name lookup, then the timeout again. For worker threads only. Always fills out; returns 0 when
 * out->ok, else FLOE_EIO (out->error says why) or FLOE_EINVAL (a bad
 * spec). Thread-safe: it touches nothing shared.
 */
int floe_probe_run(const floe_probe_spec *s, floe_probe_result *out);
/* The same, ending early (error "stopped") within about 100 ms of *stop
 * becoming nonzero, wherever it waits on the network (not in the name
 * lookup). stop may be NULL. */
int floe_probe_run_until(const floe_probe_spec *s, floe_probe_result *out, const atomic_int *stop);

/* ---- the queue ---------------------------------------------------------- */

typedef struct floe_probes floe_probes;

/* A result, on the loop thread. key is the one given to submit, valid
 * during the call. */
typedef void (*floe_probe_done)(void *ud, const char *key, const floe_probe_result *r);

typedef struct floe_probes_stats {
    uint64_t submitted, done, refused_full, refused_busy;
    unsigned running;
    size_t queued;
} floe_probes_stats;

#define FLOE_PROBE_KEY_MAX 96

/*
 * A queue of probes run on loop's work queue, at most max_running at a
 * time (each holds a thread of libuv's pool for up to its timeout), at
 * most max_queued waiting. done is called on the loop thread for every
 * probe that ran. Returns NULL when out of memory.
 */
floe_probes *floe_probes_new(uv_loop_t *loop, unsigned max_running, size_t max_queued,
                             floe_probe_done done, void *ud);
/*
 * Queues a probe under key (at most FLOE_PROBE_KEY_MAX - 1 bytes). 0; or
 * FLOE_EEXISTS when a probe of that key is queued or running (it is not
 * queued twice), FLOE_ELIMIT when the queue is full, FLOE_EINVAL for a bad
 * spec or key; refusals are counted.
 */
int floe_probes_submit(floe_probes *q, const char *key, const floe_probe_spec *s);
void floe_probes_stats_get(const floe_probes *q, floe_probes_stats *st);
/*
 * Drops the waiting probes and frees q; probes already running are told
 * to stop (they end within about 100 ms, a name lookup included)
 * and are discarded (done is not called), after which the last of their
 * memory goes. The loop must run for that to happen, as it does until its
 * last request ends. Safe on NULL.
 */
void floe_probes_free(floe_probes *q);

#endif /* FLOE_PROBES_H */
