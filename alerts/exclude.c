/*
 * alerts/exclude.c: exclusion rules. The rules in force are one immutable,
 * reference-counted set; push takes a reference under a mutex held for two
 * instructions, matches without any lock, and lets go. Adding or removing
 * a rule builds a new set and swaps it in, so a reader never sees a set
 * change under it, and the old set is freed by whoever drops its last
 * reference. Without rules push reads one atomic and takes no lock at all.
 * Rules are parsed from JSON (the HTTP body and the persisted form alike);
 * persisted ones are rows of the exclusions table, loaded at open.
 */
#include "alerts/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define RULE_LIST_MAX 4096

/* A rule in force, shared by every set that holds it. */
typedef struct xrule {
    atomic_long refs;
    int64_t id;
    int persist;
    alerts__counter hits;
    floe_alert_rule r;
} xrule;

struct alerts__ruleset {
    atomic_long refs;
    size_t n;
    xrule *rules[];
};

/* ---- CIDRs ------------------------------------------------------------------ */

static void cidr_mask(floe_cidr *c)
{
    for (int bit = c->bits; bit < 128; bit++)
        c->addr.b[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
}

int floe_cidr_parse(floe_cidr *c, const char *text)
{
    char tmp[FLOE_ADDR_STRLEN + 8];
    if (strlen(text) >= sizeof(tmp))
        return FLOE_EINVAL;
    snprintf(tmp, sizeof(tmp), "%s", text);
    char *slash = strchr(tmp, '/');
    if (slash)
        *slash = '\0';
    if (floe_addr_parse(&c->addr, tmp) != 0)
        return FLOE_EINVAL;
    int v4 = floe_addr_is_v4(&c->addr), max = v4 ? 32 : 128;
    int bits = max;
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || b < 0 || b > max)
            return FLOE_EINVAL;
        bits = (int)b;
    }
    c->bits = (uint8_t)(v4 ? 96 + bits : bits);
    cidr_mask(c);
    return 0;
}

int floe_cidr_contains(const floe_cidr *c, const floe_addr *a)
{
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr.b, a->b, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t m = (uint8_t)(0xff << (8 - rest));
    return (c->addr.b[full] & m) == (a->b[full] & m);
}

static void cidr_format(const floe_cidr *c, char *out, size_t n)
{
    char a[FLOE_ADDR_STRLEN];
    int v4 = floe_addr_is_v4(&c->addr) && c->bits >= 96;
    int bits = v4 ? c->bits - 96 : c->bits;
    floe_addr_format(&c->addr, a);
    if (bits == (v4 ? 32 : 128))
        snprintf(out, n, "%s", a);
    else
        snprintf(out, n, "%s/%d", a, bits);
}

/* ---- matching ------------------------------------------------------------------ */

/* What a rule's lists are compared with, worked out once per event. */
typedef struct subject {
    int host_kind; /* 0 none, 1 one address, 2 a network */
    floe_cidr host;
    int has_exporter;
    floe_addr exporter;
} subject;

static void subject_of(subject *sj, const floe_alert *a)
{
    char tmp[sizeof(a->entity)];
    memset(sj, 0, sizeof(*sj));
    if (a->has_flow) {
        sj->has_exporter = 1;
        sj->exporter = a->exporter;
        return;
    }
    switch (a->entity_type) {
    case FLOE_ENTITY_HOST:
        sj->host_kind = floe_addr_parse(&sj->host.addr, a->entity) == 0;
        break;
    case FLOE_ENTITY_NETWORK:
        sj->host_kind = floe_cidr_parse(&sj->host, a->entity) == 0 ? 2 : 0;
        break;
    case FLOE_ENTITY_EXPORTER:
        sj->has_exporter = floe_addr_parse(&sj->exporter, a->entity) == 0;
        break;
    case FLOE_ENTITY_INTERFACE: {
        snprintf(tmp, sizeof(tmp), "%s", a->entity);
        char *slash = strrchr(tmp, '/');
        if (slash)
            *slash = '\0';
        sj->has_exporter = floe_addr_parse(&sj->exporter, tmp) == 0;
        break;
    }
    default:
        break;
    }
}

static int match_hosts(const floe_alert_rule *r, const floe_alert *a, const subject *sj)
{
    for (size_t i = 0; i < r->n_hosts; i++) {
        const floe_cidr *c = &r->hosts[i];
        if (a->has_flow && (floe_cidr_contains(c, &a->cli) || floe_cidr_contains(c, &a->srv)))
            return 1;
        if (sj->host_kind == 1 && floe_cidr_contains(c, &sj->host.addr))
            return 1;
        if (sj->host_kind == 2 && sj->host.bits >= c->bits && floe_cidr_contains(c, &sj->host.addr))
            return 1;
    }
    return 0;
}

/* "TLS" and "Google" both match "TLS.Google"; case does not matter. */
static int app_matches(const char *rule, const char *app)
{
    size_t n = strlen(rule), m = strlen(app);
    if (strcasecmp(rule, app) == 0)
        return 1;
    if (m > n && app[n] == '.' && strncasecmp(rule, app, n) == 0)
        return 1;
    return m > n && app[m - n - 1] == '.' && strcasecmp(rule, app + m - n) == 0;
}

static int match_apps(const floe_alert_rule *r, const floe_alert *a)
{
    for (size_t i = 0; a->has_flow && a->app[0] && i < r->n_apps; i++)
        if (app_matches(r->apps[i], a->app))
            return 1;
    return 0;
}

static int match_exporters(const floe_alert_rule *r, const subject *sj)
{
    for (size_t i = 0; sj->has_exporter && i < r->n_exporters; i++)
        if (floe_addr_eq(&r->exporters[i], &sj->exporter))
            return 1;
    return 0;
}

static int rule_matches(const floe_alert_rule *r, const floe_alert *a, const subject *sj)
{
    if ((r->type[0] != '*' || r->type[1]) && strcmp(r->type, a->type) != 0)
        return 0;
    if (r->plugin[0] && strcmp(r->plugin, a->plugin) != 0)
        return 0;
    if (r->n_hosts && !match_hosts(r, a, sj))
        return 0;
    if (r->n_apps && !match_apps(r, a))
        return 0;
    return !r->n_exporters || match_exporters(r, sj);
}

int floe_alert_rule_matches(const floe_alert_rule *r, const floe_alert *a)
{
    subject sj;
    subject_of(&sj, a);
    return rule_matches(r, a, &sj);
}

/* ---- rule sets -------------------------------------------------------------------- */

static void xrule_unref(xrule *x)
{
    if (x && atomic_fetch_sub(&x->refs, 1) == 1) {
        floe_alert_rule_close(&x->r);
        free(x);
    }
}

static void set_unref(alerts__ruleset *rs)
{
    if (!rs || atomic_fetch_sub(&rs->refs, 1) != 1)
        return;
    for (size_t i = 0; i < rs->n; i++)
        xrule_unref(rs->rules[i]);
    free(rs);
}

static alerts__ruleset *set_acquire(floe_alerts *s)
{
    pthread_mutex_lock(&s->xlock);
    alerts__ruleset *rs = s->rules;
    if (rs)
        atomic_fetch_add(&rs->refs, 1);
    pthread_mutex_unlock(&s->xlock);
    return rs;
}

/* Builds the set: the current one without rule drop_id, plus add (which
 * may be NULL). Called under xlock. Returns NULL when memory is out. */
static alerts__ruleset *set_build(const alerts__ruleset *old, int64_t drop_id, xrule *add)
{
    size_t n = (old ? old->n : 0) + 1;
    alerts__ruleset *rs = malloc(sizeof(*rs) + n * sizeof(xrule *));
    if (!rs)
        return NULL;
    atomic_init(&rs->refs, 1);
    rs->n = 0;
    for (size_t i = 0; old && i < old->n; i++) {
        if (old->rules[i]->id == drop_id)
            continue;
        atomic_fetch_add(&old->rules[i]->refs, 1);
        rs->rules[rs->n++] = old->rules[i];
    }
    if (add) {
        atomic_fetch_add(&add->refs, 1);
        rs->rules[rs->n++] = add;
    }
    return rs;
}

/* Swaps rs in (under xlock) and drops the store's reference to the old. */
static void set_swap(floe_alerts *s, alerts__ruleset *rs)
{
    alerts__ruleset *old = s->rules;
    s->rules = rs;
    atomic_store(&s->n_rules, rs->n);
    set_unref(old);
}

int floe_alerts_excluded(floe_alerts *s, const floe_alert *a)
{
    if (atomic_load_explicit(&s->n_rules, memory_order_acquire) == 0)
        return 0;
    alerts__ruleset *rs = set_acquire(s);
    subject sj;
    int hit = 0;
    subject_of(&sj, a);
    for (size_t i = 0; rs && i < rs->n && !hit; i++)
        if (rule_matches(&rs->rules[i]->r, a, &sj)) {
            alerts__add(&rs->rules[i]->hits, 1);
            hit = 1;
        }
    set_unref(rs);
    if (hit)
        alerts__add(&s->excluded, 1);
    return hit;
}

/* ---- copying and closing rules ------------------------------------------------------ */

void floe_alert_rule_close(floe_alert_rule *r)
{
    free(r->hosts);
    free(r->apps);
    free(r->exporters);
    memset(r, 0, sizeof(*r));
}

static void *dup_array(const void *p, size_t n, size_t size)
{
    if (!n)
        return NULL;
    void *q = malloc(n * size);
    if (q)
        memcpy(q, p, n * size);
    return q;
}

static int rule_copy(floe_alert_rule *dst, const floe_alert_rule *src)
{
    *dst = *src;
    dst->hosts = dup_array(src->hosts, src->n_hosts, sizeof(*src->hosts));
    dst->apps = dup_array(src->apps, src->n_apps, sizeof(*src->apps));
    dst->exporters = dup_array(src->exporters, src->n_exporters, sizeof(*src->exporters));
    if ((src->n_hosts && !dst->hosts) || (src->n_apps && !dst->apps) ||
        (src->n_exporters && !dst->exporters)) {
        floe_alert_rule_close(dst);
        return FLOE_ENOMEM;
    }
    return 0;
}

/* ---- JSON ---------------------------------------------------------------------------- */

void floe_alert_rule_json(const floe_alert_rule *r, floe_json *j)
{
    char text[FLOE_ADDR_STRLEN + 8];
    floe_json_obj_begin(j);
    floe_json_kstr(j, "type", r->type);
    if (r->plugin[0])
        floe_json_kstr(j, "plugin", r->plugin);
    if (r->n_hosts) {
        floe_json_key(j, "hosts");
        floe_json_arr_begin(j);
        for (size_t i = 0; i < r->n_hosts; i++) {
            cidr_format(&r->hosts[i], text, sizeof(text));
            floe_json_str(j, text);
        }
        floe_json_arr_end(j);
    }
    if (r->n_apps) {
        floe_json_key(j, "apps");
        floe_json_arr_begin(j);
        for (size_t i = 0; i < r->n_apps; i++)
            floe_json_str(j, r->apps[i]);
        floe_json_arr_end(j);
    }
    if (r->n_exporters) {
        floe_json_key(j, "exporters");
        floe_json_arr_begin(j);
        for (size_t i = 0; i < r->n_exporters; i++)
            floe_json_addr(j, &r->exporters[i]);
        floe_json_arr_end(j);
    }
    floe_json_obj_end(j);
}

/* One array element of a list field, already read as text. */
typedef int (*elem_fn)(floe_alert_rule *r, const char *text);

static int grow(void **arr, size_t n, size_t size)
{
    if (n & (n - 1) && n) /* grow at powers of two */
        return 0;
    void *p = realloc(*arr, (n ? n * 2 : 4) * size);
    if (!p)
        return FLOE_ENOMEM;
    *arr = p;
    return 0;
}

static int elem_host(floe_alert_rule *r, const char *text)
{
    floe_cidr c;
    if (floe_cidr_parse(&c, text) != 0 || grow((void **)&r->hosts, r->n_hosts, sizeof(c)) != 0)
        return -1;
    r->hosts[r->n_hosts++] = c;
    return 0;
}

static int elem_app(floe_alert_rule *r, const char *text)
{
    if (!text[0] || strlen(text) >= sizeof(r->apps[0]) ||
        grow((void **)&r->apps, r->n_apps, sizeof(r->apps[0])) != 0)
        return -1;
    snprintf(r->apps[r->n_apps++], sizeof(r->apps[0]), "%s", text);
    return 0;
}

static int elem_exporter(floe_alert_rule *r, const char *text)
{
    floe_addr a;
    if (floe_addr_parse(&a, text) != 0 ||
        grow((void **)&r->exporters, r->n_exporters, sizeof(a)) != 0)
        return -1;
    r->exporters[r->n_exporters++] = a;
    return 0;
}

static int read_list(alerts__jcur *c, floe_alert_rule *r, const char *key, elem_fn fn,
                     const char *want, char *err, size_t errlen)
{
    char text[FLOE_ADDR_STRLEN + 8];
    if (alerts__json_peek(c) != '[') {
        snprintf(err, errlen, "%s: expected an array of strings", key);
        return FLOE_EINVAL;
    }
    c->p++;
    if (alerts__json_peek(c) == ']') {
        c->p++;
        return 0;
    }
    for (int i = 0;; i++) {
        int rc = alerts__json_string(c, text, sizeof(text));
        if (rc == -1 || i >= RULE_LIST_MAX) {
            snprintf(err, errlen, "%s[%d]: expected a string (at most %d)", key, i, RULE_LIST_MAX);
            return FLOE_EINVAL;
        }
        if (rc != 0 || fn(r, text) != 0) {
            snprintf(err, errlen, "%s[%d]: \"%.50s\" is not %s", key, i, rc ? "(too long)" : text,
                     want);
            return FLOE_EINVAL;
        }
        int ch = alerts__json_peek(c);
        c->p++;
        if (ch == ']')
            return 0;
        if (ch != ',') {
            snprintf(err, errlen, "%s: expected , or ] after element %d", key, i);
            return FLOE_EINVAL;
        }
    }
}

static int read_field(alerts__jcur *c, floe_alert_rule *r, const char *key, int *have_type,
                      char *err, size_t errlen)
{
    if (!strcmp(key, "type") || !strcmp(key, "plugin")) {
        char *dst = key[0] == 't' ? r->type : r->plugin;
        size_t cap = key[0] == 't' ? sizeof(r->type) : sizeof(r->plugin);
        if (alerts__json_string(c, dst, cap) != 0 || (key[0] == 't' && !dst[0])) {
            snprintf(err, errlen, "%s: expected a non-empty string of at most %zu bytes", key,
                     cap - 1);
            return FLOE_EINVAL;
        }
        *have_type |= key[0] == 't';
        return 0;
    }
    if (!strcmp(key, "hosts"))
        return read_list(c, r, key, elem_host, "an address or CIDR", err, errlen);
    if (!strcmp(key, "apps"))
        return read_list(c, r, key, elem_app, "an application name", err, errlen);
    if (!strcmp(key, "exporters"))
        return read_list(c, r, key, elem_exporter, "an address", err, errlen);
    snprintf(err, errlen, "%.40s: unknown field (want type, plugin, hosts, apps, exporters)", key);
    return FLOE_EINVAL;
}

static int rule_parse(floe_alert_rule *r, alerts__jcur *c, char *err, size_t errlen)
{
    char key[48];
    int have_type = 0;
    if (alerts__json_peek(c) != '{') {
        snprintf(err, errlen, "rule: expected a JSON object");
        return FLOE_EINVAL;
    }
    c->p++;
    if (alerts__json_peek(c) == '}')
        c->p++;
    else
        for (;;) {
            if (alerts__json_string(c, key, sizeof(key)) != 0 || alerts__json_peek(c) != ':') {
                snprintf(err, errlen, "rule: expected a field name and a colon");
                return FLOE_EINVAL;
            }
            c->p++;
            if (read_field(c, r, key, &have_type, err, errlen) != 0)
                return FLOE_EINVAL;
            int ch = alerts__json_peek(c);
            c->p++;
            if (ch == '}')
                break;
            if (ch != ',') {
                snprintf(err, errlen, "%s: expected , or } after the value", key);
                return FLOE_EINVAL;
            }
        }
    if (alerts__json_peek(c) != 0) {
        snprintf(err, errlen, "rule: text after the object");
        return FLOE_EINVAL;
    }
    if (!have_type) {
        snprintf(err, errlen, "type: missing (an alert type or \"*\")");
        return FLOE_EINVAL;
    }
    return 0;
}

int floe_alert_rule_parse(floe_alert_rule *r, const char *json, size_t n, char *err, size_t errlen)
{
    alerts__jcur c = {json, json + n};
    memset(r, 0, sizeof(*r));
    int rc = rule_parse(r, &c, err, errlen);
    if (rc != 0)
        floe_alert_rule_close(r);
    return rc;
}

/* ---- add, remove, list ---------------------------------------------------------------- */

static int persist_rule(floe_alerts *s, const floe_alert_rule *r, int64_t *id)
{
    char err[160];
    floe_buf b;
    floe_json j;
    sqlite3_stmt *st = NULL;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_alert_rule_json(r, &j);
    alerts__conn *c = floe_buf_ok(&b) ? alerts__pool_get(s, err, sizeof(err)) : NULL;
    int rc = FLOE_EIO;
    if (c && sqlite3_prepare_v2(c->db, "INSERT INTO exclusions (rule, created_ms) VALUES (?1, ?2)",
                                -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, b.data, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)floe_time_ms());
        if (sqlite3_step(st) == SQLITE_DONE) {
            *id = sqlite3_last_insert_rowid(c->db);
            rc = 0;
        }
    }
    sqlite3_finalize(st);
    if (c)
        alerts__pool_put(s, c);
    floe_buf_close(&b);
    return rc;
}

/* Puts x in force (taking the caller's reference). */
static int install(floe_alerts *s, xrule *x)
{
    pthread_mutex_lock(&s->xlock);
    alerts__ruleset *rs = set_build(s->rules, 0, x);
    if (rs)
        set_swap(s, rs);
    pthread_mutex_unlock(&s->xlock);
    xrule_unref(x);
    return rs ? 0 : FLOE_ENOMEM;
}

static xrule *xrule_new(const floe_alert_rule *r, int64_t id, int persist)
{
    xrule *x = calloc(1, sizeof(*x));
    if (!x || rule_copy(&x->r, r) != 0) {
        free(x);
        return NULL;
    }
    atomic_init(&x->refs, 1);
    x->id = id;
    x->persist = persist;
    return x;
}

int floe_alerts_exclusion_add(floe_alerts *s, const floe_alert_rule *r, int persist,
                              int64_t *id_out)
{
    int64_t id;
    if (persist) {
        if (persist_rule(s, r, &id) != 0)
            return FLOE_EIO;
    } else {
        pthread_mutex_lock(&s->xlock);
        id = s->next_config_id--;
        pthread_mutex_unlock(&s->xlock);
    }
    xrule *x = xrule_new(r, id, persist);
    if (!x || install(s, x) != 0)
        return FLOE_ENOMEM;
    if (id_out)
        *id_out = id;
    return 0;
}

int floe_alerts_exclusion_remove(floe_alerts *s, int64_t id)
{
    int found = 0, persist = 0;
    pthread_mutex_lock(&s->xlock);
    for (size_t i = 0; s->rules && i < s->rules->n; i++)
        if (s->rules->rules[i]->id == id) {
            found = 1;
            persist = s->rules->rules[i]->persist;
        }
    alerts__ruleset *rs = found ? set_build(s->rules, id, NULL) : NULL;
    if (rs)
        set_swap(s, rs);
    pthread_mutex_unlock(&s->xlock);
    if (!found)
        return FLOE_ENOTFOUND;
    if (!rs)
        return FLOE_ENOMEM;
    char err[160];
    sqlite3_stmt *st = NULL;
    alerts__conn *c = persist ? alerts__pool_get(s, err, sizeof(err)) : NULL;
    int rc = persist ? FLOE_EIO : 0;
    if (c && sqlite3_prepare_v2(c->db, "DELETE FROM exclusions WHERE id = ?1", -1, &st, NULL) ==
                 SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : FLOE_EIO;
    }
    sqlite3_finalize(st);
    if (c)
        alerts__pool_put(s, c);
    return rc;
}

void floe_alerts_exclusion_list_json(floe_alerts *s, floe_json *j)
{
    alerts__ruleset *rs = set_acquire(s);
    floe_json_arr_begin(j);
    for (size_t i = 0; rs && i < rs->n; i++) {
        xrule *x = rs->rules[i];
        floe_json_obj_begin(j);
        floe_json_key(j, "id");
        floe_json_i64(j, x->id);
        floe_json_key(j, "persist");
        floe_json_bool(j, x->persist);
        floe_json_ku64(j, "excluded", alerts__get(&x->hits));
        floe_json_key(j, "rule");
        floe_alert_rule_json(&x->r, j);
        floe_json_obj_end(j);
    }
    floe_json_arr_end(j);
    set_unref(rs);
}

void alerts__rules_stats_json(floe_alerts *s, floe_json *j)
{
    floe_json_obj_begin(j);
    floe_json_ku64(j, "rules", atomic_load(&s->n_rules));
    floe_json_ku64(j, "excluded", alerts__get(&s->excluded));
    floe_json_obj_end(j);
}

int alerts__rules_load(floe_alerts *s, sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT id, rule FROM exclusions ORDER BY id", -1, &st, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "%s: reading exclusions: %s", s->path, sqlite3_errmsg(db));
        return FLOE_EIO;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        floe_alert_rule r;
        char why[160];
        const char *text = (const char *)sqlite3_column_text(st, 1);
        int64_t id = sqlite3_column_int64(st, 0);
        if (!text || floe_alert_rule_parse(&r, text, strlen(text), why, sizeof(why)) != 0) {
            log_warn(s->log, "alerts: exclusion %lld in the database is skipped: %s", (long long)id,
                     text ? why : "empty");
            continue;
        }
        xrule *x = xrule_new(&r, id, 1);
        floe_alert_rule_close(&r);
        if (!x || install(s, x) != 0) {
            sqlite3_finalize(st);
            snprintf(err, errlen, "alerts: out of memory");
            return FLOE_ENOMEM;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : FLOE_EIO;
}

void alerts__rules_free(floe_alerts *s)
{
    set_unref(s->rules);
    s->rules = NULL;
    atomic_store(&s->n_rules, 0);
}
