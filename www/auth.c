/*
 * Authentication: the admin password (a yescrypt hash kept in the data
 * directory), the API token, login sessions with their CSRF tokens, login
 * rate limits, and the routes that log in, log out and change the password.
 *
 * Hashing a password is slow on purpose (about 0.1 s and 16 MiB with
 * yescrypt's default cost), and the password file lives on disk, so every
 * hash and every file access runs as a job on the libuv work queue: the
 * request is suspended, the job works on copies only, and its completion
 * applies the result on the loop thread and answers. At most
 * AUTH_MAX_JOBS jobs run at once; the rate limits keep a password guesser
 * far below that.
 */
#include "engine/engine.h"
#include "www/internal.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define AUTH_COOKIE        "floe_session"
#define AUTH_ID_BYTES      32 /* 256-bit session ids and CSRF tokens */
#define AUTH_ID_HEX        (2 * AUTH_ID_BYTES)
#define AUTH_MAX_JOBS      2
#define AUTH_MAX_WAITING   16 /* logins held until the stored password is loaded */
#define AUTH_MIN_PASSWORD  8
#define AUTH_MAX_PASSWORD  1024
#define AUTH_MIN_TOKEN     16
#define AUTH_GEN_CHARS     20 /* a generated password: 20 of 62 characters, 119 bits */
#define AUTH_HASH_MAX      CRYPT_OUTPUT_SIZE
#define AUTH_PASSWORD_FILE "web-password"
#define AUTH_INITIAL_FILE  "initial-admin-password"

/*
 * Login attempts are token buckets: per client address a burst of
 * AUTH_ADDR_BURST and one more every 60 / AUTH_ADDR_PER_MIN seconds, and
 * over all addresses AUTH_ALL_BURST and AUTH_ALL_PER_MIN. An attempt takes
 * a token before its hash runs; a successful login gives it back, so only
 * failures count. AUTH_MAX_ADDRS addresses are tracked; the least recently
 * seen goes first.
 */
#define AUTH_ADDR_BURST   5
#define AUTH_ADDR_PER_MIN 5
#define AUTH_ALL_BURST    30
#define AUTH_ALL_PER_MIN  30
#define AUTH_MAX_ADDRS    256

typedef struct auth_session {
    char id[AUTH_ID_HEX + 1]; /* "" : a free slot */
    char csrf[AUTH_ID_HEX + 1];
    uint64_t created_ms, expires_ms;
} auth_session;

typedef struct auth_bucket {
    floe_addr addr;
    double tokens;
    uint64_t last_ms; /* 0: a free slot */
} auth_bucket;

struct floe_auth {
    uv_loop_t *loop;
    floe_log *log;
    char *data_dir;
    char *password;              /* configured (config or environment), or NULL */
    const char *password_source; /* "web_password" or "FLOE_ADMIN_PASSWORD" */
    char *token;                 /* the API token, or NULL */
    uint32_t session_ttl_s;
    char hash[AUTH_HASH_MAX]; /* the admin password's hash; "" until loaded */
    char seed[AUTH_HASH_MAX]; /* the hash the configured password set, or "" */
    int ready;
    uint64_t generation; /* bumped by every load, so a stale result is dropped */
    int jobs;            /* jobs on the work queue */
    int closing;         /* freed while jobs ran: the last one frees */
    floe_list waiting;   /* login jobs held until the load is done */
    size_t n_waiting;
    auth_session sessions[FLOE_AUTH_MAX_SESSIONS];
    auth_bucket buckets[AUTH_MAX_ADDRS];
    auth_bucket all;
};

/* ---- small helpers ----------------------------------------------------- */

/* Compares without an early exit, so timing shows only the lengths. */
static int ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char d = alen != blen;
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static int random_bytes(void *out, size_t n)
{
    unsigned char *p = out;
    while (n) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return FLOE_EIO;
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static int random_hex(char out[AUTH_ID_HEX + 1])
{
    unsigned char raw[AUTH_ID_BYTES];
    if (random_bytes(raw, sizeof(raw)) != 0)
        return FLOE_EIO;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    explicit_bzero(raw, sizeof(raw));
    return 0;
}

static void secret_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

int www__safe_method(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
           strcmp(method, "OPTIONS") == 0;
}

/* ---- password hashing and the password file (work-queue side) --------- */

/* Hashes pw with yescrypt and a fresh salt into out. 0 or FLOE_EIO. */
static int hash_password(const char *pw, char out[AUTH_HASH_MAX])
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    int rc = FLOE_EIO;
    if (cd && crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof(setting))) {
        const char *h = crypt_rn(pw, setting, cd, sizeof(*cd));
        if (h && h[0] == '$' && strlen(h) < AUTH_HASH_MAX) {
            snprintf(out, AUTH_HASH_MAX, "%s", h);
            rc = 0;
        }
    }
    if (cd)
        explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return rc;
}

/* 1 when pw hashes to hash. */
static int verify_password(const char *pw, const char *hash)
{
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    int ok = 0;
    if (cd && hash[0] == '$') {
        const char *h = crypt_rn(pw, hash, cd, sizeof(*cd));
        ok = h && h[0] == '$' && ct_equal(h, strlen(h), hash, strlen(hash));
    }
    if (cd)
        explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return ok;
}

static void data_path(char *out, size_t outlen, const char *dir, const char *name)
{
    snprintf(out, outlen, "%s/%s", dir, name);
}

/*
 * Reads <dir>/web-password: lines "hash $y$..." and "seed $y$...". Returns
 * 0 (hash filled, seed possibly ""), FLOE_ENOTFOUND (no file), or FLOE_EIO.
 */
static int password_file_read(const char *dir, char hash[AUTH_HASH_MAX], char seed[AUTH_HASH_MAX])
{
    char path[4096], line[AUTH_HASH_MAX + 16];
    data_path(path, sizeof(path), dir, AUTH_PASSWORD_FILE);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? FLOE_ENOTFOUND : FLOE_EIO;
    hash[0] = seed[0] = '\0';
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strlen(line) < 6)
            continue;
        size_t n = strlen(line + 5);
        char *dst = strncmp(line, "hash $", 6) == 0   ? hash
                    : strncmp(line, "seed $", 6) == 0 ? seed
                                                      : NULL;
        if (dst && n < AUTH_HASH_MAX)
            memcpy(dst, line + 5, n + 1);
    }
    fclose(f);
    return hash[0] ? 0 : FLOE_EIO;
}

/* Writes text to <dir>/name through a temporary file of its own (two jobs
 * may write at once) and a rename, mode 0600, synced. 0 or FLOE_EIO with
 * err set. */
static int file_replace(const char *dir, const char *name, const char *text, char *err,
                        size_t errlen)
{
    char path[4096], tmp[4200];
    data_path(path, sizeof(path), dir, name);
    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %.300s: %s", tmp, strerror(errno));
        return FLOE_EIO;
    }
    size_t len = strlen(text);
    int bad = fchmod(fd, 0600) != 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0;
    bad |= close(fd) != 0;
    if (bad || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %.300s: %s", path, strerror(errno));
        unlink(tmp);
        return FLOE_EIO;
    }
    return 0;
}

static int password_file_write(const char *dir, const char *hash, const char *seed, char *err,
                               size_t errlen)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "# floe's admin password (yescrypt). Delete this file and restart floe\n"
             "# to have it make a new random password.\nhash %s\n%s%s%s",
             hash, seed[0] ? "seed " : "", seed, seed[0] ? "\n" : "");
    return file_replace(dir, AUTH_PASSWORD_FILE, text, err, errlen);
}

/* A random password of AUTH_GEN_CHARS letters and digits. */
static int generate_password(char out[AUTH_GEN_CHARS + 1])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t i = 0;
    while (i < AUTH_GEN_CHARS) {
        unsigned char b;
        if (random_bytes(&b, 1) != 0)
            return FLOE_EIO;
        if (b < 248) /* 248 = 4 * 62: no bias */
            out[i++] = alphabet[b % 62];
    }
    out[i] = '\0';
    return 0;
}

/* ---- jobs -------------------------------------------------------------- */

enum job_kind { JOB_LOAD, JOB_LOGIN, JOB_CHANGE };

typedef struct auth_job {
    uv_work_t work;
    floe_list link; /* on the waiting list */
    floe_auth *a;
    floe_www_req *req; /* NULL for a load, or once the request is cancelled */
    int kind;
    uint64_t generation;
    char *data_dir;
    char *password; /* the configured one (load), the attempt (login), the old one (change) */
    char *new_password;
    char hash[AUTH_HASH_MAX]; /* in: the current hash; out: the new one */
    char seed[AUTH_HASH_MAX];
    char generated[AUTH_GEN_CHARS + 1];
    char session[AUTH_ID_HEX + 1]; /* change: the session that stays logged in */
    char next[256];
    floe_addr client;
    int suspended;
    int ok;
    char err[512];
} auth_job;

static void job_free(auth_job *j)
{
    free(j->data_dir);
    secret_free(j->password);
    secret_free(j->new_password);
    explicit_bzero(j->generated, sizeof(j->generated));
    free(j);
}

/* The start-up load: the stored hash, or the configured password, or a
 * new random one (see floe_auth_new in www.h). */
static void work_load(auth_job *j)
{
    char hash[AUTH_HASH_MAX], seed[AUTH_HASH_MAX];
    int rc = password_file_read(j->data_dir, hash, seed);
    if (rc == FLOE_EIO)
        snprintf(j->err, sizeof(j->err), "cannot read %s/%s; starting from the configured password",
                 j->data_dir, AUTH_PASSWORD_FILE);
    if (j->password) {
        /* A password changed on the account page stays until the
         * configured password itself changes. */
        if (rc == 0 && seed[0] && verify_password(j->password, seed)) {
            snprintf(j->hash, sizeof(j->hash), "%s", hash);
            snprintf(j->seed, sizeof(j->seed), "%s", seed);
            j->ok = 1;
            return;
        }
        if (hash_password(j->password, j->hash) != 0) {
            snprintf(j->err, sizeof(j->err), "cannot hash the admin password");
            return;
        }
        snprintf(j->seed, sizeof(j->seed), "%s", j->hash);
    } else if (rc == 0) {
        snprintf(j->hash, sizeof(j->hash), "%s", hash);
        j->ok = 1;
        return;
    } else {
        if (generate_password(j->generated) != 0 || hash_password(j->generated, j->hash) != 0) {
            snprintf(j->err, sizeof(j->err), "cannot make a random admin password");
            j->generated[0] = '\0';
            return;
        }
        char text[AUTH_GEN_CHARS + 2];
        snprintf(text, sizeof(text), "%s\n", j->generated);
        file_replace(j->data_dir, AUTH_INITIAL_FILE, text, j->err, sizeof(j->err));
    }
    j->ok = 1;
    if (password_file_write(j->data_dir, j->hash, j->seed, j->err, sizeof(j->err)) != 0)
        strncat(j->err, "; the password lasts until floe stops",
                sizeof(j->err) - strlen(j->err) - 1);
}

static void work_change(auth_job *j)
{
    if (!verify_password(j->password, j->hash))
        return;
    char hash[AUTH_HASH_MAX];
    if (hash_password(j->new_password, hash) != 0) {
        snprintf(j->err, sizeof(j->err), "cannot hash the new password");
        return;
    }
    if (password_file_write(j->data_dir, hash, j->seed, j->err, sizeof(j->err)) != 0)
        return;
    char path[4096];
    data_path(path, sizeof(path), j->data_dir, AUTH_INITIAL_FILE);
    unlink(path); /* it no longer holds the password */
    snprintf(j->hash, sizeof(j->hash), "%s", hash);
    j->ok = 1;
}

static void on_work(uv_work_t *w)
{
    auth_job *j = w->data;
    switch (j->kind) {
    case JOB_LOAD:
        work_load(j);
        break;
    case JOB_LOGIN:
        j->ok = verify_password(j->password, j->hash);
        break;
    case JOB_CHANGE:
        work_change(j);
        break;
    }
}

static void on_cancel(void *ud)
{
    ((auth_job *)ud)->req = NULL;
}

static void job_done_login(auth_job *j);
static void job_done_change(auth_job *j);
static void job_done_load(auth_job *j);

static void on_work_done(uv_work_t *w, int status)
{
    auth_job *j = w->data;
    floe_auth *a = j->a;
    a->jobs--;
    if (a->closing) {
        if (j->req)
            floe_www_reply_error(j->req, 503, "shutting down");
        job_free(j);
        if (a->jobs == 0)
            floe_auth_free(a);
        return;
    }
    if (status != 0)
        j->ok = 0;
    if (j->kind == JOB_LOAD)
        job_done_load(j);
    else if (j->kind == JOB_LOGIN)
        job_done_login(j);
    else
        job_done_change(j);
    job_free(j);
}

/* Queues j, suspending its request (unless it waited, suspended, for the
 * load); on failure answers 503. */
static void job_start(floe_auth *a, auth_job *j)
{
    j->a = a;
    j->work.data = j;
    if (uv_queue_work(a->loop, &j->work, on_work, on_work_done) != 0) {
        if (j->req)
            floe_www_reply_error(j->req, 503, "cannot queue the password check");
        job_free(j);
        return;
    }
    a->jobs++;
    if (j->req && !j->suspended) {
        j->suspended = 1;
        floe_www_suspend(j->req, on_cancel, j);
    }
}

/* Holds a login until the stored password is loaded. 0, or FLOE_ELIMIT
 * when too many wait already. */
static int job_wait(floe_auth *a, auth_job *j)
{
    if (a->n_waiting >= AUTH_MAX_WAITING)
        return FLOE_ELIMIT;
    j->a = a;
    j->suspended = 1;
    floe_list_push_tail(&a->waiting, &j->link);
    a->n_waiting++;
    floe_www_suspend(j->req, on_cancel, j);
    return 0;
}

static auth_job *job_new(floe_auth *a, int kind, floe_www_req *req)
{
    auth_job *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->kind = kind;
    j->req = req;
    j->generation = a->generation;
    j->data_dir = strdup(a->data_dir);
    snprintf(j->hash, sizeof(j->hash), "%s", a->hash);
    snprintf(j->seed, sizeof(j->seed), "%s", a->seed);
    if (!j->data_dir) {
        free(j);
        return NULL;
    }
    return j;
}

/* Starts the logins that waited for the load, or answers them 503 when
 * it failed. */
static void waiting_release(floe_auth *a, int ok)
{
    while (!floe_list_empty(&a->waiting)) {
        auth_job *w = FLOE_CONTAINER_OF(a->waiting.next, auth_job, link);
        floe_list_remove(&w->link);
        a->n_waiting--;
        if (ok && w->req) {
            snprintf(w->hash, sizeof(w->hash), "%s", a->hash);
            snprintf(w->seed, sizeof(w->seed), "%s", a->seed);
            w->generation = a->generation;
            job_start(a, w);
            continue;
        }
        if (w->req)
            floe_www_reply_error(w->req, 503, "the admin password could not be loaded");
        job_free(w);
    }
}

static void job_done_load(auth_job *j)
{
    floe_auth *a = j->a;
    if (j->generation != a->generation)
        return; /* a newer load is on its way */
    if (j->err[0])
        log_error(a->log, "web: %s", j->err);
    if (!j->ok) {
        waiting_release(a, a->ready);
        return;
    }
    snprintf(a->hash, sizeof(a->hash), "%s", j->hash);
    snprintf(a->seed, sizeof(a->seed), "%s", j->seed);
    a->ready = 1;
    if (j->generated[0])
        log_warn(a->log,
                 "web: no admin password configured (web_password or FLOE_ADMIN_PASSWORD); "
                 "made one: %s (also in %s/%s); change it on the account page",
                 j->generated, a->data_dir, AUTH_INITIAL_FILE);
    else
        log_info(a->log, "web: admin password loaded (%s)",
                 j->password ? a->password_source : "as last changed");
    waiting_release(a, 1);
}

static int load_start(floe_auth *a)
{
    a->generation++;
    auth_job *j = job_new(a, JOB_LOAD, NULL);
    if (!j)
        return FLOE_ENOMEM;
    if (a->password && !(j->password = strdup(a->password))) {
        job_free(j);
        return FLOE_ENOMEM;
    }
    job_start(a, j);
    return 0;
}

/* ---- rate limits ------------------------------------------------------- */

static int bucket_take(auth_bucket *b, double burst, double per_min, uint64_t now_ms)
{
    if (b->last_ms == 0 || now_ms < b->last_ms) {
        b->tokens = burst;
    } else {
        b->tokens += (double)(now_ms - b->last_ms) * per_min / 60000.0;
        if (b->tokens > burst)
            b->tokens = burst;
    }
    b->last_ms = now_ms ? now_ms : 1;
    if (b->tokens < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}

static auth_bucket *bucket_for(floe_auth *a, const floe_addr *addr)
{
    auth_bucket *oldest = &a->buckets[0];
    for (size_t i = 0; i < AUTH_MAX_ADDRS; i++) {
        auth_bucket *b = &a->buckets[i];
        if (b->last_ms && floe_addr_eq(&b->addr, addr))
            return b;
        if (b->last_ms < oldest->last_ms)
            oldest = b;
    }
    memset(oldest, 0, sizeof(*oldest));
    oldest->addr = *addr;
    return oldest;
}

/* Takes a login attempt from the address's and the global bucket; 0 when
 * either is empty (the other keeps its token). */
static int rate_take(floe_auth *a, const floe_addr *addr, uint64_t now_ms)
{
    auth_bucket *b = bucket_for(a, addr);
    auth_bucket saved = *b;
    if (!bucket_take(b, AUTH_ADDR_BURST, AUTH_ADDR_PER_MIN, now_ms))
        return 0;
    if (!bucket_take(&a->all, AUTH_ALL_BURST, AUTH_ALL_PER_MIN, now_ms)) {
        *b = saved;
        return 0;
    }
    return 1;
}

static void rate_refund(floe_auth *a, const floe_addr *addr)
{
    auth_bucket *b = bucket_for(a, addr);
    if (b->tokens + 1.0 <= AUTH_ADDR_BURST)
        b->tokens += 1.0;
    if (a->all.tokens + 1.0 <= AUTH_ALL_BURST)
        a->all.tokens += 1.0;
}

/* ---- sessions ---------------------------------------------------------- */

static auth_session *session_find(floe_auth *a, const char *id, uint64_t now_ms)
{
    if (!id || strlen(id) != AUTH_ID_HEX)
        return NULL;
    auth_session *hit = NULL;
    for (size_t i = 0; i < FLOE_AUTH_MAX_SESSIONS; i++) {
        auth_session *s = &a->sessions[i];
        if (!s->id[0])
            continue;
        if (s->expires_ms <= now_ms) {
            memset(s, 0, sizeof(*s));
            continue;
        }
        if (ct_equal(s->id, AUTH_ID_HEX, id, AUTH_ID_HEX))
            hit = s;
    }
    return hit;
}

static auth_session *session_new(floe_auth *a, uint64_t now_ms)
{
    auth_session *slot = &a->sessions[0];
    for (size_t i = 0; i < FLOE_AUTH_MAX_SESSIONS; i++) {
        auth_session *s = &a->sessions[i];
        if (!s->id[0] || s->expires_ms <= now_ms) {
            slot = s;
            break;
        }
        if (s->created_ms < slot->created_ms)
            slot = s;
    }
    memset(slot, 0, sizeof(*slot));
    if (random_hex(slot->id) != 0 || random_hex(slot->csrf) != 0) {
        memset(slot, 0, sizeof(*slot));
        return NULL;
    }
    slot->created_ms = now_ms;
    slot->expires_ms = now_ms + (uint64_t)a->session_ttl_s * 1000;
    return slot;
}

/* Ends every session but keep (which may be NULL). */
static void sessions_clear(floe_auth *a, const char *keep)
{
    for (size_t i = 0; i < FLOE_AUTH_MAX_SESSIONS; i++) {
        auth_session *s = &a->sessions[i];
        if (s->id[0] && !(keep && strcmp(s->id, keep) == 0))
            memset(s, 0, sizeof(*s));
    }
}

static void set_cookie(floe_www_req *r, const char *value, uint32_t max_age)
{
    char c[256];
    snprintf(c, sizeof(c), "%s=%s; Path=/; Max-Age=%u; HttpOnly; SameSite=Strict%s", AUTH_COOKIE,
             value, max_age, floe_www_tls(floe_www_server(r)) ? "; Secure" : "");
    floe_www_add_header(r, "Set-Cookie", c);
}

/* ---- the hook ---------------------------------------------------------- */

/* Pages redirect to the login page; the API, charts and metrics say 401. */
static void deny(floe_www_req *r, const char *why)
{
    const char *path = floe_www_path(r);
    int api = strncmp(path, "/api/", 5) == 0 || strncmp(path, "/chart/", 7) == 0 ||
              strcmp(path, "/metrics") == 0;
    if (!api && www__safe_method(floe_www_method(r))) {
        floe_buf b;
        floe_buf_init(&b);
        floe_buf_puts(&b, "/login?next=");
        for (const char *p = path; *p && b.len < 300; p++) {
            unsigned char c = (unsigned char)*p;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                strchr("/-_.~", c))
                floe_buf_putc(&b, (char)c);
            else
                floe_buf_printf(&b, "%%%02X", c);
        }
        floe_www_redirect(r, floe_buf_ok(&b) ? b.data : "/login");
        floe_buf_close(&b);
        return;
    }
    floe_www_add_header(r, "WWW-Authenticate", "Bearer realm=\"floe\"");
    floe_www_reply_error(r, 401, why);
}

/* For a state change: the Origin, when the browser sends one, must be this
 * server, and the CSRF token must be the session's. */
static int csrf_ok(floe_www_req *r, const auth_session *s)
{
    const char *origin = floe_www_header(r, "Origin"), *host = floe_www_header(r, "Host");
    if (origin && strcmp(origin, "null") != 0) {
        const char *o = strstr(origin, "://");
        if (!host || !o || strcmp(o + 3, host) != 0)
            return 0;
    }
    char form[AUTH_ID_HEX + 2];
    const char *token = floe_www_header(r, "X-CSRF-Token");
    if (!token && floe_www_form(r, "csrf", form, sizeof(form)) > 0)
        token = form;
    return token && ct_equal(token, strlen(token), s->csrf, AUTH_ID_HEX);
}

static int auth_check(floe_www_req *r, void *ud)
{
    floe_auth *a = ud;
    const char *authz = floe_www_header(r, "Authorization");
    if (authz && strncasecmp(authz, "Bearer ", 7) == 0) {
        const char *t = authz + 7;
        while (*t == ' ')
            t++;
        if (a->token && ct_equal(t, strlen(t), a->token, strlen(a->token))) {
            floe_www_set_user(r, "token");
            return 1;
        }
        floe_www_add_header(r, "WWW-Authenticate",
                            "Bearer realm=\"floe\", error=\"invalid_token\"");
        floe_www_reply_error(r, 401, "bad API token");
        return 0;
    }
    auth_session *s = session_find(a, floe_www_cookie(r, AUTH_COOKIE), floe_time_ms());
    if (!s) {
        deny(r, "authentication required: log in, or send Authorization: Bearer <token>");
        return 0;
    }
    if (!www__safe_method(floe_www_method(r)) && !csrf_ok(r, s)) {
        floe_www_reply_error(r, 403, "missing or wrong CSRF token");
        return 0;
    }
    floe_www_set_user(r, "admin");
    floe_www_set_session(r, s);
    return 1;
}

const char *floe_auth_csrf(const floe_www_req *r)
{
    const auth_session *s = floe_www_session(r);
    return s ? s->csrf : "";
}

/* ---- the routes -------------------------------------------------------- */

static void on_login(floe_www_req *r, void *ud)
{
    floe_auth *a = ud;
    char password[AUTH_MAX_PASSWORD + 1], next[256], user[64];
    if (floe_www_form(r, "next", next, sizeof(next)) < 0)
        snprintf(next, sizeof(next), "/");
    if (floe_www_form(r, "username", user, sizeof(user)) >= 0 && strcmp(user, "admin") != 0) {
        www__login_page(r, 401, "Wrong user name or password.", next);
        return;
    }
    if (floe_www_form(r, "password", password, sizeof(password)) <= 0) {
        www__login_page(r, 400, "Enter the password.", next);
        return;
    }
    floe_addr client;
    if (floe_www_client(r, &client) != 0)
        memset(&client, 0, sizeof(client));
    if (a->ready && a->jobs >= AUTH_MAX_JOBS) {
        explicit_bzero(password, sizeof(password));
        floe_www_add_header(r, "Retry-After", "1");
        www__login_page(r, 503, "floe is busy checking passwords; try again in a moment.", next);
        return;
    }
    if (!rate_take(a, &client, floe_monotonic_ms())) {
        explicit_bzero(password, sizeof(password));
        floe_www_add_header(r, "Retry-After", "12");
        www__login_page(r, 429, "Too many login attempts; wait a minute.", next);
        return;
    }
    auth_job *j = job_new(a, JOB_LOGIN, r);
    if (!j || !(j->password = strdup(password))) {
        explicit_bzero(password, sizeof(password));
        if (j)
            job_free(j);
        floe_www_reply_error(r, 500, "out of memory");
        return;
    }
    explicit_bzero(password, sizeof(password));
    j->client = client;
    snprintf(j->next, sizeof(j->next), "%s", www__safe_next(next));
    if (a->ready) {
        job_start(a, j);
    } else if (job_wait(a, j) != 0) {
        job_free(j);
        floe_www_add_header(r, "Retry-After", "1");
        www__login_page(r, 503, "floe is starting; try again in a moment.", next);
    }
}

static void job_done_login(auth_job *j)
{
    floe_auth *a = j->a;
    if (!j->req)
        return;
    if (!j->ok || j->generation != a->generation) {
        log_warn_rl(a->log, "web: failed login");
        www__login_page(j->req, 401, "Wrong user name or password.", j->next);
        return;
    }
    rate_refund(a, &j->client);
    auth_session *s = session_new(a, floe_time_ms());
    if (!s) {
        floe_www_reply_error(j->req, 500, "cannot make a session id");
        return;
    }
    set_cookie(j->req, s->id, a->session_ttl_s);
    floe_www_redirect(j->req, j->next);
}

static void on_logout(floe_www_req *r, void *ud)
{
    floe_auth *a = ud;
    auth_session *s = floe_www_session(r);
    if (s)
        memset(s, 0, sizeof(*s));
    (void)a;
    set_cookie(r, "", 0);
    floe_www_redirect(r, "/login");
}

static void on_change(floe_www_req *r, void *ud)
{
    floe_auth *a = ud;
    char old[AUTH_MAX_PASSWORD + 1], pw[AUTH_MAX_PASSWORD + 1], again[AUTH_MAX_PASSWORD + 1];
    const char *why = NULL;
    int n = floe_www_form(r, "new", pw, sizeof(pw));
    if (floe_www_form(r, "old", old, sizeof(old)) <= 0)
        why = "Enter the current password.";
    else if (n < AUTH_MIN_PASSWORD)
        why = n == FLOE_ELIMIT ? "The new password is too long."
                               : "The new password is too short "
                                 "(8 characters at least).";
    else if (floe_www_form(r, "confirm", again, sizeof(again)) < 0 || strcmp(pw, again) != 0)
        why = "The new password and its confirmation differ.";
    else if (a->ready && a->jobs >= AUTH_MAX_JOBS)
        why = "floe is busy checking passwords; try again in a moment.";
    auth_job *j = why ? NULL : job_new(a, JOB_CHANGE, r);
    if (j && (!(j->password = strdup(old)) || !(j->new_password = strdup(pw)))) {
        job_free(j);
        j = NULL;
        why = "Out of memory.";
    }
    explicit_bzero(old, sizeof(old));
    explicit_bzero(pw, sizeof(pw));
    explicit_bzero(again, sizeof(again));
    if (!j) {
        www__account_page(r, 400, why, 0);
        return;
    }
    const auth_session *s = floe_www_session(r);
    snprintf(j->session, sizeof(j->session), "%s", s ? s->id : "");
    if (a->ready) {
        job_start(a, j);
    } else if (job_wait(a, j) != 0) {
        job_free(j);
        www__account_page(r, 503, "floe is starting; try again in a moment.", 0);
    }
}

static void job_done_change(auth_job *j)
{
    floe_auth *a = j->a;
    if (j->ok && j->generation == a->generation) {
        snprintf(a->hash, sizeof(a->hash), "%s", j->hash);
        sessions_clear(a, j->session[0] ? j->session : NULL);
        log_info(a->log, "web: admin password changed; other sessions logged out");
    }
    if (!j->req)
        return;
    if (j->ok)
        www__account_page(j->req, 200, "Password changed. Other sessions were logged out.", 1);
    else if (j->err[0])
        www__account_page(j->req, 500, j->err, 0);
    else
        www__account_page(j->req, 403, "The current password is wrong.", 0);
}

int floe_auth_register(floe_auth *a, floe_www *w)
{
    static const floe_www_route_def routes[] = {
        {"POST", "/login", FLOE_WWW_PUBLIC, on_login},
        {"POST", "/logout", 0, on_logout},
        {"POST", "/account/password", 0, on_change},
    };
    int rc = floe_www_routes(w, routes, FLOE_ARRAY_LEN(routes), a);
    if (rc != 0)
        return rc;
    floe_www_set_auth(w, auth_check, a);
    return 0;
}

/* ---- lifecycle --------------------------------------------------------- */

/* The configured password and token, each from the config or else the
 * environment, checked. 0 or FLOE_ECONFIG with err naming the source;
 * *reload is set when the password or the data directory changed. */
static int auth_settings(floe_auth *a, const floe_config *cfg, int *reload, char *err,
                         size_t errlen)
{
    const char *pw = cfg->web_password, *src = "web_password";
    const char *tok = cfg->web_token, *tsrc = "web_token";
    if (!pw[0] && (pw = getenv("FLOE_ADMIN_PASSWORD")) && pw[0])
        src = "FLOE_ADMIN_PASSWORD";
    if (!tok[0] && (tok = getenv("FLOE_API_TOKEN")) && tok[0])
        tsrc = "FLOE_API_TOKEN";
    if (pw && pw[0] && (strlen(pw) < AUTH_MIN_PASSWORD || strlen(pw) > AUTH_MAX_PASSWORD)) {
        snprintf(err, errlen, "%s must be %d to %d characters", src, AUTH_MIN_PASSWORD,
                 AUTH_MAX_PASSWORD);
        return FLOE_ECONFIG;
    }
    if (tok && tok[0] && strlen(tok) < AUTH_MIN_TOKEN) {
        snprintf(err, errlen, "%s must be %d characters at least", tsrc, AUTH_MIN_TOKEN);
        return FLOE_ECONFIG;
    }
    char *p = pw && pw[0] ? strdup(pw) : NULL, *t = tok && tok[0] ? strdup(tok) : NULL;
    char *dir = strdup(cfg->data_dir);
    if ((pw && pw[0] && !p) || (tok && tok[0] && !t) || !dir) {
        secret_free(p);
        secret_free(t);
        free(dir);
        snprintf(err, errlen, "out of memory");
        return FLOE_ENOMEM;
    }
    *reload = !a->data_dir || strcmp(a->data_dir, dir) != 0 || !a->password != !p ||
              (p && strcmp(a->password, p) != 0);
    secret_free(a->password);
    secret_free(a->token);
    free(a->data_dir);
    a->password = p;
    a->password_source = src;
    a->token = t;
    a->data_dir = dir;
    a->session_ttl_s = cfg->web_session_ttl;
    return 0;
}

floe_auth *floe_auth_new(uv_loop_t *loop, const floe_config *cfg, floe_log *log, char *err,
                         size_t errlen)
{
    floe_auth *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->loop = loop;
    a->log = log;
    floe_list_init(&a->waiting);
    int reload;
    err[0] = '\0';
    if (auth_settings(a, cfg, &reload, err, errlen) != 0 || load_start(a) != 0) {
        if (!err[0])
            snprintf(err, errlen, "out of memory");
        floe_auth_free(a);
        return NULL;
    }
    return a;
}

int floe_auth_reconfigure(floe_auth *a, const floe_config *cfg, char *err, size_t errlen)
{
    int reload = 0;
    int rc = auth_settings(a, cfg, &reload, err, errlen);
    if (rc != 0 || !reload)
        return rc;
    return load_start(a);
}

int floe_auth_ready(const floe_auth *a)
{
    return a->ready;
}

void floe_auth_free(floe_auth *a)
{
    if (!a)
        return;
    waiting_release(a, 0);
    if (a->jobs > 0) { /* the last job's completion frees it */
        a->closing = 1;
        return;
    }
    secret_free(a->password);
    secret_free(a->token);
    free(a->data_dir);
    explicit_bzero(a, sizeof(*a));
    free(a);
}
