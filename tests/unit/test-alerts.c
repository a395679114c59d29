/*
 * Unit tests for alerts/: the store's repeat and release rules, restart,
 * exclusions, retention, the bounded queue, every query filter, the JSON
 * shape, integrity after kill -9, and the three notification endpoints
 * against receivers on loopback. JSON answers are checked with SQLite's
 * json_extract on an in-memory connection, not by string matching.
 */
#include "alerts/alerts.h"
#include "tests/unit/runner.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

static floe_log test_log;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *tmp_dir(void)
{
    static char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/floe-alerts-XXXXXX");
    ASSERT(mkdtemp(dir) != NULL);
    return dir;
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* The defaults, less retention by age: the tests' clocks start in 1970. */
static void test_opts(floe_alerts_opts *o)
{
    floe_alerts_opts_defaults(o);
    o->max_age_s = 0;
}

static floe_alerts *open_store(const char *dir, floe_alerts_opts *o)
{
    floe_alerts_opts d;
    char err[256] = "";
    if (!o) {
        test_opts(&d);
        o = &d;
    }
    o->dir = dir;
    floe_log_init(&test_log, FLOE_LOG_ERROR, 0);
    floe_alerts *s = floe_alerts_open(o, &test_log, err, sizeof(err));
    if (!s)
        fprintf(stderr, "open: %s\n", err);
    ASSERT(s != NULL);
    return s;
}

static floe_alert host_alert(int kind, const char *type, const char *host, uint64_t when, int sev)
{
    floe_alert a;
    memset(&a, 0, sizeof(a));
    a.kind = kind;
    a.when_ms = when;
    snprintf(a.type, sizeof(a.type), "%s", type);
    snprintf(a.plugin, sizeof(a.plugin), "%.*s", (int)strcspn(type, "."), type);
    snprintf(a.check, sizeof(a.check), "chk");
    a.entity_type = FLOE_ENTITY_HOST;
    snprintf(a.entity, sizeof(a.entity), "%s", host);
    a.severity = sev;
    a.score = 10;
    return a;
}

static floe_alert flow_alert(const char *type, const char *cli, const char *srv, const char *app,
                             const char *exporter, uint64_t when)
{
    floe_alert a = host_alert(FLOE_ALERT_ONESHOT, type, "", when, FLOE_SEV_WARNING);
    a.entity_type = FLOE_ENTITY_FLOW;
    snprintf(a.entity, sizeof(a.entity), "%s:1234 -> %s:443/6", cli, srv);
    a.has_flow = 1;
    ASSERT_EQ(floe_addr_parse(&a.cli, cli), 0);
    ASSERT_EQ(floe_addr_parse(&a.srv, srv), 0);
    ASSERT_EQ(floe_addr_parse(&a.exporter, exporter), 0);
    a.cli_port = 1234;
    a.srv_port = 443;
    a.l4 = 6;
    snprintf(a.app, sizeof(a.app), "%s", app);
    a.bytes = 1000;
    a.packets = 10;
    return a;
}

static void push_ok(floe_alerts *s, const floe_alert *a)
{
    ASSERT_EQ(floe_alerts_push(s, a), 0);
}

/* Runs a query from "key=value&..." text; returns the JSON (static). */
static const char *query(floe_alerts *s, const char *args)
{
    static floe_buf out;
    floe_alert_query q;
    char err[160], copy[512], *save = NULL;
    floe_alert_query_init(&q);
    snprintf(copy, sizeof(copy), "%s", args);
    for (char *kv = strtok_r(copy, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        ASSERT(eq != NULL);
        *eq = '\0';
        if (floe_alert_query_set(&q, kv, eq + 1, err, sizeof(err)) != 0)
            fprintf(stderr, "query key: %s\n", err);
        ASSERT_EQ(floe_alert_query_set(&q, kv, eq + 1, err, sizeof(err)), 0);
    }
    floe_buf_close(&out);
    floe_buf_init(&out);
    int rc = floe_alerts_query_json(s, &q, &out, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "query: %s\n", err);
    ASSERT_EQ(rc, 0);
    return out.data;
}

/* json_extract(json, path) through an in-memory SQLite. */
static sqlite3_stmt *jq_step(const char *json, const char *path)
{
    static sqlite3 *db;
    static sqlite3_stmt *st;
    if (!db) {
        ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
        ASSERT_EQ(
            sqlite3_prepare_v2(db, "SELECT json_extract(?1, ?2), json_valid(?1)", -1, &st, NULL),
            SQLITE_OK);
    }
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    if (!sqlite3_column_int(st, 1))
        fprintf(stderr, "not JSON: %s\n", json);
    ASSERT_EQ(sqlite3_column_int(st, 1), 1);
    return st;
}

/* json_array_length(json, path) */
static long long jq_len(const char *json, const char *path)
{
    static sqlite3 *db;
    static sqlite3_stmt *st;
    if (!db) {
        ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT json_array_length(?1, ?2)", -1, &st, NULL),
                  SQLITE_OK);
    }
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT(sqlite3_column_type(st, 0) != SQLITE_NULL);
    return sqlite3_column_int64(st, 0);
}

static long long jq_int(const char *json, const char *path)
{
    sqlite3_stmt *st = jq_step(json, path);
    ASSERT(sqlite3_column_type(st, 0) != SQLITE_NULL);
    return sqlite3_column_int64(st, 0);
}

static int jq_null(const char *json, const char *path)
{
    return sqlite3_column_type(jq_step(json, path), 0) == SQLITE_NULL;
}

static const char *jq_str(const char *json, const char *path)
{
    static char buf[400]; /* short values only: the runner's message holds 1 KiB */
    sqlite3_stmt *st = jq_step(json, path);
    const char *t = (const char *)sqlite3_column_text(st, 0);
    snprintf(buf, sizeof(buf), "%s", t ? t : "(null)");
    return buf;
}

static floe_alerts_stats stats(floe_alerts *s)
{
    floe_alerts_stats st;
    floe_alerts_stats_get(s, &st);
    return st;
}

/* ---- names ---------------------------------------------------------------- */

TEST(names_roundtrip)
{
    for (int i = 0; i < FLOE_ENTITY_COUNT; i++)
        ASSERT_EQ(floe_entity_parse(floe_entity_name(i)), i);
    for (int i = 0; i < FLOE_SEV_COUNT; i++)
        ASSERT_EQ(floe_severity_parse(floe_severity_name(i)), i);
    ASSERT_STR_EQ(floe_entity_name(FLOE_ENTITY_EXPORTER), "exporter");
    ASSERT_STR_EQ(floe_severity_name(FLOE_SEV_EMERGENCY), "emergency");
    ASSERT_EQ(floe_severity_parse("bogus"), -1);
    ASSERT_STR_EQ(floe_severity_name(99), "?");
    ASSERT(FLOE_SEV_WARNING > FLOE_SEV_NOTICE);
}

/* ---- engaged alerts ---------------------------------------------------------- */

TEST(engage_repeat_release)
{
    char *dir = tmp_dir();
    floe_alerts *s = open_store(dir, NULL);
    floe_alert a = host_alert(FLOE_ALERT_ENGAGE, "hosts.scan", "10.0.0.1", 1000, FLOE_SEV_WARNING);
    push_ok(s, &a);
    a.when_ms = 2000;
    a.severity = FLOE_SEV_ERROR; /* an escalation */
    push_ok(s, &a);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    const char *j = query(s, "state=engaged");
    ASSERT_EQ(jq_len(j, "$.alerts"), 1);
    ASSERT_EQ(jq_int(j, "$.alerts[0].count"), 2);
    ASSERT_EQ(jq_int(j, "$.alerts[0].raised_ms"), 1000);
    ASSERT_EQ(jq_int(j, "$.alerts[0].last_seen_ms"), 2000);
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].severity"), "error");
    ASSERT(jq_null(j, "$.alerts[0].released_ms"));

    floe_alert r = host_alert(FLOE_ALERT_RELEASE, "hosts.scan", "10.0.0.1", 5000, FLOE_SEV_INFO);
    push_ok(s, &r);
    floe_alert other = host_alert(FLOE_ALERT_RELEASE, "hosts.scan", "10.0.0.9", 5000, 0);
    push_ok(s, &other); /* nothing engaged for it */
    ASSERT_EQ(floe_alerts_flush(s), 0);
    j = query(s, "state=engaged");
    ASSERT_EQ(jq_len(j, "$.alerts"), 0);
    j = query(s, "state=past");
    ASSERT_EQ(jq_len(j, "$.alerts"), 1);
    ASSERT_EQ(jq_int(j, "$.alerts[0].released_ms"), 5000);
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].state"), "past");

    a.when_ms = 6000; /* engaged again: a new row */
    push_ok(s, &a);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    j = query(s, "state=all");
    ASSERT_EQ(jq_len(j, "$.alerts"), 2);
    floe_alerts_stats st = stats(s);
    ASSERT_U64_EQ(st.inserted, 2);
    ASSERT_U64_EQ(st.merged, 1);
    ASSERT_U64_EQ(st.released, 1);
    ASSERT_U64_EQ(st.release_unmatched, 1);
    ASSERT_U64_EQ(st.rows, 2);
    floe_alerts_close(s);
    rm_dir(dir);
}

typedef struct engaged_seen {
    int n;
    char type[64], entity[80], info[128];
    int severity;
    uint64_t raised;
} engaged_seen;

static int on_engaged(void *ud, int64_t id, const floe_alert *a)
{
    engaged_seen *e = ud;
    ASSERT(id > 0);
    e->n++;
    snprintf(e->type, sizeof(e->type), "%s", a->type);
    snprintf(e->entity, sizeof(e->entity), "%s", a->entity);
    snprintf(e->info, sizeof(e->info), "%s", a->info ? a->info : "");
    e->severity = a->severity;
    e->raised = a->when_ms;
    return 0;
}

TEST(restart_restores_engaged_set)
{
    char *dir = tmp_dir();
    floe_alerts *s = open_store(dir, NULL);
    floe_alert a = host_alert(FLOE_ALERT_ENGAGE, "hosts.flood", "10.0.0.1", 1000, FLOE_SEV_ERROR);
    a.info = "{\"pps\":1200}";
    push_ok(s, &a);
    floe_alert b = host_alert(FLOE_ALERT_ENGAGE, "hosts.flood", "10.0.0.2", 1100, FLOE_SEV_ERROR);
    push_ok(s, &b);
    b.kind = FLOE_ALERT_RELEASE;
    push_ok(s, &b);
    floe_alerts_close(s);

    s = open_store(dir, NULL);
    engaged_seen e = {0};
    ASSERT_EQ(floe_alerts_engaged(s, on_engaged, &e), 0);
    ASSERT_EQ(e.n, 1);
    ASSERT_STR_EQ(e.type, "hosts.flood");
    ASSERT_STR_EQ(e.entity, "10.0.0.1");
    ASSERT_STR_EQ(e.info, "{\"pps\":1200}");
    ASSERT_EQ(e.severity, FLOE_SEV_ERROR);
    ASSERT_U64_EQ(e.raised, 1000);

    a.when_ms = 3000; /* a repeat after the restart merges into the stored row */
    push_ok(s, &a);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    const char *j = query(s, "state=engaged");
    ASSERT_EQ(jq_len(j, "$.alerts"), 1);
    ASSERT_EQ(jq_int(j, "$.alerts[0].count"), 2);
    a.kind = FLOE_ALERT_RELEASE;
    a.when_ms = 4000;
    push_ok(s, &a);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    j = query(s, "state=engaged");
    ASSERT_EQ(jq_len(j, "$.alerts"), 0);
    j = query(s, "value=10.0.0.1");
    ASSERT_EQ(jq_len(j, "$.alerts"), 1);
    ASSERT_EQ(jq_int(j, "$.alerts[0].released_ms"), 4000);
    floe_alerts_close(s);
    rm_dir(dir);
}

/* ---- one-shot alerts ------------------------------------------------------------ */

TEST(oneshot_repeat_window)
{
    char *dir = tmp_dir();
    floe_alerts_opts o;
    test_opts(&o);
    o.repeat_window_ms = 10000;
    floe_alerts *s = open_store(dir, &o);
    floe_alert a =
        flow_alert("flow_risk.tls_old", "10.0.0.1", "192.0.2.9", "TLS", "192.0.2.1", 1000);
    push_ok(s, &a);
    a.when_ms = 5000;
    push_ok(s, &a);
    a.when_ms = 10999; /* still within 10 s of the row's raise */
    push_ok(s, &a);
    a.when_ms = 11000; /* the window is over: a new row */
    push_ok(s, &a);
    floe_alert b =
        flow_alert("flow_risk.tls_old", "10.0.0.2", "192.0.2.9", "TLS", "192.0.2.1", 5000);
    push_ok(s, &b);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    const char *j = query(s, "type=flow_risk.tls_old");
    ASSERT_EQ(jq_len(j, "$.alerts"), 3);
    ASSERT_EQ(jq_int(j, "$.alerts[0].raised_ms"), 11000);
    ASSERT_EQ(jq_int(j, "$.alerts[0].count"), 1);
    ASSERT_EQ(jq_int(j, "$.alerts[1].raised_ms"), 5000);
    ASSERT_STR_EQ(jq_str(j, "$.alerts[1].entity.value"), "10.0.0.2:1234 -> 192.0.2.9:443/6");
    ASSERT_EQ(jq_int(j, "$.alerts[2].count"), 3);
    ASSERT_EQ(jq_int(j, "$.alerts[2].last_seen_ms"), 10999);
    ASSERT_STR_EQ(jq_str(j, "$.alerts[2].kind"), "oneshot");
    ASSERT_STR_EQ(jq_str(j, "$.alerts[2].state"), "past");
    ASSERT_U64_EQ(stats(s).merged, 2);
    floe_alerts_close(s);
    rm_dir(dir);
}

TEST(info_inline_wrapped_or_marked)
{
    char *dir = tmp_dir();
    floe_alerts_opts o;
    test_opts(&o);
    o.info_max = 64;
    floe_alerts *s = open_store(dir, &o);
    floe_alert a = host_alert(FLOE_ALERT_ONESHOT, "p.good", "10.0.0.1", 1000, FLOE_SEV_INFO);
    a.info = "{\"n\":[1,2.5e3,true,null],\"s\":\"caf\\u00e9\"}";
    push_ok(s, &a);
    floe_alert b = host_alert(FLOE_ALERT_ONESHOT, "p.bad", "10.0.0.1", 1001, FLOE_SEV_INFO);
    b.info = "{\"n\":1,}";
    push_ok(s, &b);
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    floe_alert c = host_alert(FLOE_ALERT_ONESHOT, "p.big", "10.0.0.1", 1002, FLOE_SEV_INFO);
    c.info = big;
    push_ok(s, &c);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    const char *j = query(s, "type=p.good");
    ASSERT_EQ(jq_int(j, "$.alerts[0].info.n[1]"), 2500);
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].info.s"), "caf\xc3\xa9");
    j = query(s, "type=p.bad");
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].info.invalid_info"), "{\"n\":1,}");
    j = query(s, "type=p.big");
    ASSERT_EQ(jq_int(j, "$.alerts[0].info.info_too_large"), 199);
    floe_alerts_close(s);
    rm_dir(dir);
}

/* ---- exclusions ------------------------------------------------------------------- */

static int64_t add_rule(floe_alerts *s, const char *json, int persist)
{
    floe_alert_rule r;
    char err[160];
    int64_t id = 0;
    ASSERT_EQ(floe_alert_rule_parse(&r, json, strlen(json), err, sizeof(err)), 0);
    ASSERT_EQ(floe_alerts_exclusion_add(s, &r, persist, &id), 0);
    floe_alert_rule_close(&r);
    return id;
}

TEST(exclusion_rule_errors_name_the_field)
{
    floe_alert_rule r;
    char err[160];
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"hosts\":[\"10.0.0.0/8\"]}", "type: missing"},
        {"{\"type\":\"*\",\"hosts\":[\"10.0.0.0/33\"]}", "hosts[0]"},
        {"{\"type\":\"*\",\"hosts\":[\"10.1.1.1\",\"nope\"]}", "hosts[1]"},
        {"{\"type\":\"*\",\"exporters\":[\"10.0.0.0/8\"]}", "exporters[0]"},
        {"{\"type\":\"*\",\"apps\":\"DNS\"}", "apps: expected an array"},
        {"{\"type\":\"*\",\"color\":\"red\"}", "color: unknown field"},
        {"{\"type\":\"\"}", "type: expected"},
        {"{\"type\":\"*\"} x", "text after"},
        {"[1]", "expected a JSON object"},
        {"{\"type\":\"*\",\"plugin\":1}", "plugin: expected"},
    };
    for (size_t i = 0; i < FLOE_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        ASSERT_EQ(floe_alert_rule_parse(&r, bad[i].json, strlen(bad[i].json), err, sizeof(err)),
                  FLOE_EINVAL);
        ASSERT_CONTAINS(err, bad[i].want);
        ASSERT(strchr(err, '\n') == NULL);
        floe_alert_rule_close(&r);
    }
    const char *good =
        "{\"type\":\"*\",\"plugin\":\"p\",\"hosts\":[\"10.0.0.0/8\",\"2001:db8::/32\","
        "\"192.0.2.7\"],\"apps\":[\"DNS\"],\"exporters\":[\"192.0.2.1\"]}";
    ASSERT_EQ(floe_alert_rule_parse(&r, good, strlen(good), err, sizeof(err)), 0);
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_alert_rule_json(&r, &j);
    ASSERT_STR_EQ(b.data, good); /* the persisted form parses back to itself */
    floe_buf_close(&b);
    floe_alert_rule_close(&r);
}

TEST(exclusions_match_and_count)
{
    char *dir = tmp_dir();
    floe_alerts *s = open_store(dir, NULL);
    int64_t r_host = add_rule(s, "{\"type\":\"hosts.scan\",\"hosts\":[\"10.1.0.0/16\"]}", 1);
    int64_t r_app = add_rule(s, "{\"type\":\"*\",\"apps\":[\"DNS\"]}", 0);
    int64_t r_exp = add_rule(s, "{\"type\":\"flow_risk.x\",\"exporters\":[\"192.0.2.99\"]}", 1);
    ASSERT(r_host > 0 && r_exp > 0 && r_app < 0);

    floe_alert a = host_alert(FLOE_ALERT_ONESHOT, "hosts.scan", "10.1.2.3", 1000, FLOE_SEV_ERROR);
    ASSERT(floe_alerts_excluded(s, &a));
    a = host_alert(FLOE_ALERT_ONESHOT, "hosts.scan", "10.2.2.3", 1000, FLOE_SEV_ERROR);
    ASSERT(!floe_alerts_excluded(s, &a));
    a = host_alert(FLOE_ALERT_ONESHOT, "hosts.other", "10.1.2.3", 1000, FLOE_SEV_ERROR);
    ASSERT(!floe_alerts_excluded(s, &a)); /* the rule is for one type */
    floe_alert f = flow_alert("hosts.scan", "172.16.0.1", "10.1.9.9", "TLS", "192.0.2.1", 1000);
    ASSERT(floe_alerts_excluded(s, &f)); /* server side in the CIDR */
    f = flow_alert("hosts.scan", "10.1.9.9", "172.16.0.1", "TLS", "192.0.2.1", 1000);
    ASSERT(floe_alerts_excluded(s, &f)); /* client side */
    f = flow_alert("flow_risk.y", "172.16.0.1", "8.8.8.8", "DNS.Google", "192.0.2.1", 1000);
    ASSERT(floe_alerts_excluded(s, &f)); /* the master protocol matches */
    f = flow_alert("flow_risk.y", "172.16.0.1", "8.8.8.8", "TLS.Google", "192.0.2.1", 1000);
    ASSERT(!floe_alerts_excluded(s, &f));
    f = flow_alert("flow_risk.x", "172.16.0.1", "8.8.8.8", "TLS", "192.0.2.99", 1000);
    ASSERT(floe_alerts_excluded(s, &f));
    a = host_alert(FLOE_ALERT_ONESHOT, "flow_risk.x", "192.0.2.99", 1000, FLOE_SEV_ERROR);
    a.entity_type = FLOE_ENTITY_INTERFACE;
    snprintf(a.entity, sizeof(a.entity), "192.0.2.99/7");
    ASSERT(floe_alerts_excluded(s, &a)); /* an interface of that exporter */
    a.entity_type = FLOE_ENTITY_NETWORK;
    snprintf(a.type, sizeof(a.type), "hosts.scan");
    snprintf(a.entity, sizeof(a.entity), "10.1.128.0/17");
    ASSERT(floe_alerts_excluded(s, &a)); /* a network inside the rule's */
    snprintf(a.entity, sizeof(a.entity), "10.0.0.0/8");
    ASSERT(!floe_alerts_excluded(s, &a)); /* a network wider than the rule's */

    /* Excluded events pushed are counted, not stored. */
    a = host_alert(FLOE_ALERT_ENGAGE, "hosts.scan", "10.1.2.3", 1000, FLOE_SEV_ERROR);
    push_ok(s, &a);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    floe_alerts_stats st = stats(s);
    ASSERT_U64_EQ(st.excluded, 8);
    ASSERT_U64_EQ(st.inserted, 0);
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_alerts_exclusion_list_json(s, &j);
    ASSERT_EQ(jq_len(b.data, "$"), 3);
    ASSERT_EQ(jq_int(b.data, "$[0].excluded"), 5);
    ASSERT_EQ(jq_int(b.data, "$[1].excluded"), 1);
    ASSERT_EQ(jq_int(b.data, "$[2].excluded"), 2);
    ASSERT_EQ(jq_int(b.data, "$[1].persist"), 0);
    ASSERT_STR_EQ(jq_str(b.data, "$[0].rule.hosts[0]"), "10.1.0.0/16");

    ASSERT_EQ(floe_alerts_exclusion_remove(s, r_exp), 0);
    ASSERT_EQ(floe_alerts_exclusion_remove(s, r_exp), FLOE_ENOTFOUND);
    floe_alerts_close(s);

    /* Persisted rules come back at open; the config one does not. */
    s = open_store(dir, NULL);
    floe_buf_reset(&b);
    floe_json_init(&j, &b);
    floe_alerts_exclusion_list_json(s, &j);
    ASSERT_EQ(jq_len(b.data, "$"), 1);
    ASSERT_EQ(jq_int(b.data, "$[0].id"), r_host);
    a = host_alert(FLOE_ALERT_ONESHOT, "hosts.scan", "10.1.2.3", 1000, FLOE_SEV_ERROR);
    ASSERT(floe_alerts_excluded(s, &a));
    f = flow_alert("flow_risk.y", "172.16.0.1", "8.8.8.8", "DNS", "192.0.2.1", 1000);
    ASSERT(!floe_alerts_excluded(s, &f));
    floe_buf_close(&b);
    floe_alerts_close(s);
    rm_dir(dir);
}

TEST(exclusion_added_while_engaged_does_not_strand_the_alert)
{
    char *dir = tmp_dir();
    floe_alerts *s = open_store(dir, NULL);
    floe_alert a = host_alert(FLOE_ALERT_ENGAGE, "hosts.scan", "10.5.0.1", 1000, FLOE_SEV_ERROR);
    push_ok(s, &a);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    add_rule(s, "{\"type\":\"*\",\"hosts\":[\"10.5.0.0/16\"]}", 0);
    a.when_ms = 2000;
    push_ok(s, &a); /* a repeat: excluded now */
    a.kind = FLOE_ALERT_RELEASE;
    a.when_ms = 3000;
    push_ok(s, &a); /* the release still gets through */
    ASSERT_EQ(floe_alerts_flush(s), 0);
    const char *j = query(s, "value=10.5.0.1");
    ASSERT_EQ(jq_len(j, "$.alerts"), 1);
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].state"), "past");
    ASSERT_EQ(jq_int(j, "$.alerts[0].count"), 1);
    ASSERT_EQ(jq_int(j, "$.alerts[0].released_ms"), 3000);
    ASSERT_U64_EQ(stats(s).excluded, 1);
    floe_alerts_close(s);
    rm_dir(dir);
}

/* ---- retention ------------------------------------------------------------------------ */

static _Atomic uint64_t fake_now;

static uint64_t fake_clock(void *ud)
{
    (void)ud;
    return atomic_load(&fake_now);
}

static int wait_stat(floe_alerts *s, size_t off, uint64_t want, unsigned ms)
{
    for (unsigned t = 0; t < ms; t += 10) {
        floe_alerts_stats st = stats(s);
        if (*(uint64_t *)(void *)((char *)&st + off) >= want)
            return 1;
        sleep_ms(10);
    }
    return 0;
}

TEST(retention_by_age)
{
    char *dir = tmp_dir();
    floe_alerts_opts o;
    test_opts(&o);
    o.max_age_s = 3600;
    o.prune_batch = 7; /* several small transactions */
    o.prune_interval_ms = 10;
    o.clock_ms = fake_clock;
    atomic_store(&fake_now, 1000); /* nothing is old yet */
    floe_alerts *s = open_store(dir, &o);
    uint64_t day = 86400000ULL * 10;
    char ip[32];
    for (int i = 0; i < 30; i++) {
        snprintf(ip, sizeof(ip), "10.0.0.%d", i);
        floe_alert a =
            host_alert(FLOE_ALERT_ONESHOT, "p.old", ip, day + (uint64_t)i, FLOE_SEV_INFO);
        push_ok(s, &a);
    }
    floe_alert e = host_alert(FLOE_ALERT_ENGAGE, "p.old", "10.9.9.9", day, FLOE_SEV_INFO);
    push_ok(s, &e); /* old but engaged: kept */
    for (int i = 0; i < 5; i++) {
        snprintf(ip, sizeof(ip), "10.1.0.%d", i);
        floe_alert a = host_alert(FLOE_ALERT_ONESHOT, "p.new", ip, day + 7200000, FLOE_SEV_INFO);
        push_ok(s, &a);
    }
    ASSERT_EQ(floe_alerts_flush(s), 0);
    sleep_ms(50);
    ASSERT_U64_EQ(stats(s).pruned, 0);
    atomic_store(&fake_now, day + 7200000); /* two hours later: the first 30 are old */
    ASSERT(wait_stat(s, offsetof(floe_alerts_stats, pruned), 30, 5000));
    sleep_ms(50);
    ASSERT_U64_EQ(stats(s).pruned, 30);
    ASSERT_U64_EQ(stats(s).rows, 6);
    const char *j = query(s, "type=p.old");
    ASSERT_EQ(jq_len(j, "$.alerts"), 1);
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].state"), "engaged");
    floe_alerts_close(s);
    rm_dir(dir);
}

TEST(retention_by_rows)
{
    char *dir = tmp_dir();
    floe_alerts_opts o;
    test_opts(&o);
    o.max_rows = 100;
    o.prune_batch = 30;
    o.prune_interval_ms = 10;
    floe_alerts *s = open_store(dir, &o);
    char ip[32];
    for (int i = 0; i < 250; i++) {
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
        floe_alert a = host_alert(FLOE_ALERT_ONESHOT, "p.x", ip, 1000 + (uint64_t)i, FLOE_SEV_INFO);
        push_ok(s, &a);
    }
    ASSERT_EQ(floe_alerts_flush(s), 0);
    ASSERT(wait_stat(s, offsetof(floe_alerts_stats, pruned), 150, 5000));
    sleep_ms(50);
    ASSERT_U64_EQ(stats(s).pruned, 150);
    const char *j = query(s, "limit=1000&totals=1");
    ASSERT_EQ(jq_int(j, "$.totals.total"), 100);
    ASSERT_EQ(jq_int(j, "$.alerts[99].raised_ms"), 1150); /* the oldest went first */
    floe_alerts_close(s);
    rm_dir(dir);
}

/* ---- the queue ---------------------------------------------------------------------------- */

TEST(queue_overflow_is_counted_and_push_never_waits)
{
    char *dir = tmp_dir();
    floe_alerts_opts o;
    test_opts(&o);
    o.queue_max = 300;
    floe_alerts *s = open_store(dir, &o);
    floe_alerts__hold(s, 1);
    char ip[32];
    int ok = 0, full = 0;
    uint64_t t0 = floe_monotonic_ms();
    for (int i = 0; i < 1000; i++) {
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
        floe_alert a = host_alert(FLOE_ALERT_ONESHOT, "p.x", ip, 1000, FLOE_SEV_INFO);
        a.info = "{\"k\":1}";
        int rc = floe_alerts_push(s, &a);
        ok += rc == 0;
        full += rc == FLOE_ELIMIT;
    }
    /* With the writer held, push returned every time (the runner's timeout
     * would catch a wait), well within a second. */
    ASSERT_LE(floe_monotonic_ms() - t0, 1000);
    ASSERT_EQ(ok, 300);
    ASSERT_EQ(full, 700);
    floe_alerts_stats st = stats(s);
    ASSERT_U64_EQ(st.dropped, 700);
    ASSERT_U64_EQ(st.queued, 300);
    ASSERT_U64_EQ(st.queue_peak, 300);
    ASSERT_U64_EQ(st.inserted, 0);
    floe_alerts__hold(s, 0);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    st = stats(s);
    ASSERT_U64_EQ(st.inserted, 300);
    ASSERT_U64_EQ(st.queued, 0);
    floe_alert bad = host_alert(7, "p.x", "10.0.0.1", 1, FLOE_SEV_INFO);
    ASSERT_EQ(floe_alerts_push(s, &bad), FLOE_EINVAL);
    ASSERT_U64_EQ(stats(s).invalid, 1);
    floe_alerts_close(s);
    rm_dir(dir);
}

TEST(close_commits_everything_queued)
{
    char *dir = tmp_dir();
    floe_alerts *s = open_store(dir, NULL);
    char ip[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(ip, sizeof(ip), "10.%d.%d.%d", i / 65536, (i / 256) % 256, i % 256);
        floe_alert a = host_alert(FLOE_ALERT_ONESHOT, "p.x", ip, 1000 + (uint64_t)i, FLOE_SEV_INFO);
        push_ok(s, &a);
    }
    floe_alerts_close(s); /* no flush: close must drain */
    s = open_store(dir, NULL);
    const char *j = query(s, "limit=1");
    ASSERT_EQ(jq_int(j, "$.totals.total"), 20000);
    ASSERT_EQ(jq_int(j, "$.alerts[0].raised_ms"), 1000 + 19999);
    floe_alerts_close(s);
    rm_dir(dir);
}

/* ---- queries ----------------------------------------------------------------------------------
 */

/* A mixed set: 3 hosts x 4 severities engaged, flows, a network, acks. */
static floe_alerts *query_fixture(const char *dir, floe_alerts_opts *o)
{
    floe_alerts *s = open_store(dir, o);
    static const char *const hosts[] = {"10.0.0.1", "10.0.0.2", "10.0.1.1"};
    static const int sevs[] = {FLOE_SEV_INFO, FLOE_SEV_WARNING, FLOE_SEV_ERROR, FLOE_SEV_CRITICAL};
    uint64_t t = 100000;
    for (int h = 0; h < 3; h++)
        for (int v = 0; v < 4; v++) {
            char type[32];
            snprintf(type, sizeof(type), "hosts.t%d", v);
            floe_alert a = host_alert(FLOE_ALERT_ENGAGE, type, hosts[h], t++, sevs[v]);
            push_ok(s, &a);
        }
    /* ids 1..12 engaged; release the 10.0.0.2 ones (ids 5..8) */
    for (int v = 0; v < 4; v++) {
        char type[32];
        snprintf(type, sizeof(type), "hosts.t%d", v);
        floe_alert a = host_alert(FLOE_ALERT_RELEASE, type, "10.0.0.2", 200000, 0);
        push_ok(s, &a);
    }
    floe_alert f1 = flow_alert("flow_risk.a", "10.0.0.1", "192.0.2.5", "TLS", "192.0.2.1", t++);
    floe_alert f2 = flow_alert("flow_risk.a", "192.0.2.6", "10.0.0.1", "DNS", "192.0.2.1", t++);
    floe_alert f3 = flow_alert("flow_risk.b", "172.16.0.1", "192.0.2.5", "TLS", "192.0.2.1", t++);
    floe_alert f4 =
        flow_alert("flow_risk.b", "2001:db8::1", "2001:db8::2", "TLS", "192.0.2.1", t++);
    push_ok(s, &f1);
    push_ok(s, &f2);
    push_ok(s, &f3);
    push_ok(s, &f4);
    floe_alert n = host_alert(FLOE_ALERT_ONESHOT, "nets.x", "10.0.0.0/24", t++, FLOE_SEV_NOTICE);
    n.entity_type = FLOE_ENTITY_NETWORK;
    push_ok(s, &n);
    floe_alert sys = host_alert(FLOE_ALERT_ONESHOT, "sys.x", "floe", t++, FLOE_SEV_EMERGENCY);
    sys.entity_type = FLOE_ENTITY_SYSTEM;
    snprintf(sys.plugin, sizeof(sys.plugin), "core");
    push_ok(s, &sys);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    ASSERT_EQ(floe_alerts_ack(s, 1, "alice", 555), 0);
    ASSERT_EQ(floe_alerts_ack(s, 13, "bob", 556), 0);
    return s;
}

TEST(query_filters)
{
    char *dir = tmp_dir();
    floe_alerts *s = query_fixture(dir, NULL);
    static const struct {
        const char *args;
        int n;
    } cases[] = {
        {"state=all", 18},
        {"state=engaged", 8},
        {"state=past", 10},
        {"severity=warning", 7},   /* 3 hosts + 4 flow alerts */
        {"severity=error;gte", 7}, /* error, critical x3, emergency */
        {"min_severity=critical", 4},
        {"entity=host", 12},
        {"entity=flow", 4},
        {"value=10.0.0.1", 6}, /* 4 host alerts, 2 flows */
        {"value=10.0.0.1&entity=flow", 2},
        {"value=10.0.0.1&entity=host&state=engaged", 4},
        {"value=10.0.0.0/24", 11}, /* 8 host alerts, 2 flows, the network */
        {"value=10.0.0.0/16", 15},
        {"value=192.0.2.5", 2},
        {"value=2001:db8::/32", 1},
        {"value=floe", 1},
        {"type=hosts.t2", 3},
        {"type=hosts.t2&state=past", 1},
        {"plugin=flow_risk", 4},
        {"plugin=core", 1},
        {"ack=yes", 2},
        {"ack=no", 16},
        {"from=100005&to=100007", 3},
        {"since=100014", 4},
        {"id=13", 1},
        {"state=engaged&severity=critical&value=10.0.1.1", 1},
    };
    for (size_t i = 0; i < FLOE_ARRAY_LEN(cases); i++) {
        const char *j = query(s, cases[i].args);
        if (jq_int(j, "$.totals.total") != cases[i].n)
            fprintf(stderr, "case %s: %s\n", cases[i].args, j);
        ASSERT_EQ(jq_int(j, "$.totals.total"), cases[i].n);
        ASSERT_EQ(jq_len(j, "$.alerts"), cases[i].n);
        ASSERT_EQ(jq_int(j, "$.totals.capped"), 0);
    }
    const char *j = query(s, "ack=yes");
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].ack.by"), "bob");
    ASSERT_EQ(jq_int(j, "$.alerts[1].ack.ms"), 555);
    floe_alerts_close(s);
    rm_dir(dir);
}

TEST(query_paging_and_totals)
{
    char *dir = tmp_dir();
    floe_alerts_opts o;
    test_opts(&o);
    o.totals_cap = 10;
    floe_alerts *s = query_fixture(dir, &o);
    const char *j = query(s, "entity=host&limit=5&offset=0");
    ASSERT_EQ(jq_len(j, "$.alerts"), 5);
    ASSERT_EQ(jq_int(j, "$.alerts[0].raised_ms"), 100011); /* newest first */
    ASSERT_EQ(jq_int(j, "$.alerts[4].raised_ms"), 100007);
    ASSERT_EQ(jq_int(j, "$.limit"), 5);
    ASSERT_EQ(jq_int(j, "$.totals.total"), 11); /* 12 rows: over the cap of 10 */
    ASSERT_EQ(jq_int(j, "$.totals.capped"), 1);
    j = query(s, "entity=host&limit=5&offset=10");
    ASSERT_EQ(jq_len(j, "$.alerts"), 2);
    ASSERT_EQ(jq_int(j, "$.alerts[1].raised_ms"), 100000);
    j = query(s, "state=engaged&limit=2");
    ASSERT_EQ(jq_int(j, "$.totals.total"), 8);
    ASSERT_EQ(jq_int(j, "$.totals.capped"), 0);
    ASSERT_EQ(jq_int(j, "$.totals.by_severity.info"), 2);
    ASSERT_EQ(jq_int(j, "$.totals.by_severity.critical"), 2);
    ASSERT_EQ(jq_int(j, "$.totals.by_severity.emergency"), 0);
    /* The three-arm union merges newest first across the arms. */
    j = query(s, "value=10.0.0.0/24&limit=3");
    ASSERT_EQ(jq_int(j, "$.alerts[0].raised_ms"), 100016);
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].entity.type"), "network");
    ASSERT_EQ(jq_int(j, "$.alerts[1].raised_ms"), 100013);
    ASSERT_EQ(jq_int(j, "$.alerts[2].raised_ms"), 100012);
    j = query(s, "totals=0&limit=0");
    ASSERT(jq_null(j, "$.totals"));
    ASSERT_EQ(jq_len(j, "$.alerts"), 0);
    floe_alerts_close(s);
    rm_dir(dir);
}

TEST(query_address_arms_count_each_alert_once)
{
    char *dir = tmp_dir();
    floe_alerts *s = open_store(dir, NULL);
    /* Both ends inside 10.0.0.0/16, one a self-talking flow: each counted once. */
    floe_alert f1 = flow_alert("flow_risk.a", "10.0.0.1", "10.0.5.5", "TLS", "192.0.2.1", 10);
    floe_alert f2 = flow_alert("flow_risk.a", "10.0.0.9", "10.0.0.9", "TLS", "192.0.2.1", 11);
    floe_alert f3 = flow_alert("flow_risk.a", "10.0.0.9", "8.8.8.8", "TLS", "192.0.2.1", 12);
    f3.kind = FLOE_ALERT_ENGAGE; /* an engaged flow alert */
    floe_alert h = host_alert(FLOE_ALERT_ENGAGE, "hosts.x", "10.0.0.9", 13, FLOE_SEV_ERROR);
    push_ok(s, &f1);
    push_ok(s, &f2);
    push_ok(s, &f3);
    push_ok(s, &h);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    const char *j = query(s, "value=10.0.0.0/16");
    ASSERT_EQ(jq_int(j, "$.totals.total"), 4);
    ASSERT_EQ(jq_len(j, "$.alerts"), 4);
    ASSERT_EQ(jq_int(j, "$.alerts[0].raised_ms"), 13);
    ASSERT_EQ(jq_int(j, "$.alerts[3].raised_ms"), 10);
    j = query(s, "value=10.0.0.9");
    ASSERT_EQ(jq_int(j, "$.totals.total"), 3);
    j = query(s, "value=10.0.0.9&state=engaged");
    ASSERT_EQ(jq_int(j, "$.totals.total"), 2);
    ASSERT_EQ(jq_len(j, "$.alerts"), 2);
    j = query(s, "value=8.8.8.8&state=engaged&entity=flow");
    ASSERT_EQ(jq_int(j, "$.totals.total"), 1);
    j = query(s, "value=10.0.5.0/24&state=past");
    ASSERT_EQ(jq_int(j, "$.totals.total"), 1);
    floe_alerts_close(s);
    rm_dir(dir);
}

typedef struct kv {
    const char *k, *v;
} kv;

static const char *kv_get(void *ud, const char *key)
{
    for (const kv *p = ud; p->k; p++)
        if (strcmp(p->k, key) == 0)
            return p->v;
    return NULL;
}

TEST(query_parse_names_the_bad_key)
{
    floe_alert_query q;
    char err[160];
    floe_alert_query_init(&q);
    kv good[] = {{"state", "past"},  {"severity", "warning;gte"},
                 {"entity", "flow"}, {"value", "10.0.0.0/8"},
                 {"type", "a.b"},    {"plugin", "a"},
                 {"ack", "no"},      {"from", "10"},
                 {"to", "20"},       {"limit", "7"},
                 {"offset", "3"},    {"totals", "0"},
                 {NULL, NULL}};
    ASSERT_EQ(floe_alert_query_parse(&q, kv_get, good, err, sizeof(err)), 0);
    ASSERT_EQ(q.state, FLOE_STATE_PAST);
    ASSERT_EQ(q.severity, FLOE_SEV_WARNING);
    ASSERT_EQ(q.severity_min, 1);
    ASSERT_EQ(q.entity_type, FLOE_ENTITY_FLOW);
    ASSERT_STR_EQ(q.value, "10.0.0.0/8");
    ASSERT_EQ(q.ack, 0);
    ASSERT_U64_EQ(q.from_ms, 10);
    ASSERT_U64_EQ(q.to_ms, 20);
    ASSERT_EQ(q.limit, 7);
    ASSERT_EQ(q.offset, 3);
    ASSERT_EQ(q.totals, 0);
    static const struct {
        const char *k, *v, *want;
    } bad[] = {
        {"state", "open", "state: bad value"}, {"severity", "loud", "severity: bad value"},
        {"severity", "error;lt", "severity"},  {"entity", "router", "entity: bad value"},
        {"limit", "5000", "limit: bad value"}, {"from", "-1", "from: bad value"},
        {"to", "12x", "to: bad value"},        {"ack", "maybe", "ack: bad value"},
        {"colour", "red", "colour: unknown"},  {"id", "0", "id: bad value"},
    };
    for (size_t i = 0; i < FLOE_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        ASSERT_EQ(floe_alert_query_set(&q, bad[i].k, bad[i].v, err, sizeof(err)), FLOE_EINVAL);
        ASSERT_CONTAINS(err, bad[i].want);
    }
    kv worse[] = {{"limit", "10"}, {"state", "nope"}, {NULL, NULL}};
    ASSERT_EQ(floe_alert_query_parse(&q, kv_get, worse, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "state");
}

TEST(ack_and_delete)
{
    char *dir = tmp_dir();
    floe_alerts *s = query_fixture(dir, NULL);
    ASSERT_EQ(floe_alerts_ack(s, 9999, "x", 1), FLOE_ENOTFOUND);
    ASSERT_EQ(floe_alerts_ack(s, 2, "carol", 777), 0);
    const char *j = query(s, "id=2");
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].ack.by"), "carol");
    ASSERT_EQ(jq_int(j, "$.alerts[0].ack.ms"), 777);
    ASSERT_EQ(floe_alerts_delete(s, 2), 0);
    ASSERT_EQ(floe_alerts_delete(s, 2), FLOE_ENOTFOUND);
    j = query(s, "id=2");
    ASSERT_EQ(jq_len(j, "$.alerts"), 0);
    floe_alert_query q;
    floe_alert_query_init(&q);
    q.entity_type = FLOE_ENTITY_FLOW;
    uint64_t n = 0;
    ASSERT_EQ(floe_alerts_delete_where(s, &q, &n), 0);
    ASSERT_U64_EQ(n, 4);
    j = query(s, "state=all");
    ASSERT_EQ(jq_int(j, "$.totals.total"), 13);
    ASSERT_U64_EQ(stats(s).rows, 13);
    /* Deleting an engaged alert: its next repeat makes a new row. */
    j = query(s, "state=engaged&value=10.0.1.1&type=hosts.t0");
    int64_t id = jq_int(j, "$.alerts[0].id");
    ASSERT_EQ(floe_alerts_delete(s, id), 0);
    floe_alert a = host_alert(FLOE_ALERT_ENGAGE, "hosts.t0", "10.0.1.1", 300000, FLOE_SEV_INFO);
    push_ok(s, &a);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    j = query(s, "state=engaged&value=10.0.1.1&type=hosts.t0");
    ASSERT_EQ(jq_len(j, "$.alerts"), 1);
    ASSERT_EQ(jq_int(j, "$.alerts[0].count"), 1);
    ASSERT(jq_int(j, "$.alerts[0].id") > id);
    floe_alerts_close(s);
    rm_dir(dir);
}

TEST(delete_where_runs_in_small_transactions)
{
    char *dir = tmp_dir();
    floe_alerts_opts o;
    test_opts(&o);
    o.prune_batch = 3; /* 12 host alerts: four full transactions and an empty one */
    floe_alerts *s = query_fixture(dir, &o);
    floe_alert_query q;
    floe_alert_query_init(&q);
    char err[160];
    ASSERT_EQ(floe_alert_query_set(&q, "value", "10.0.0.0/16", err, sizeof(err)), 0);
    ASSERT_EQ(floe_alert_query_set(&q, "entity", "host", err, sizeof(err)), 0);
    uint64_t n = 0;
    ASSERT_EQ(floe_alerts_delete_where(s, &q, &n), 0);
    ASSERT_U64_EQ(n, 12);
    const char *j = query(s, "state=all");
    ASSERT_EQ(jq_int(j, "$.totals.total"), 6);
    ASSERT_EQ(jq_int(j, "$.totals.by_severity.warning"), 4);
    floe_alerts_close(s);
    rm_dir(dir);
}

TEST(alert_json_shape)
{
    char *dir = tmp_dir();
    floe_alerts *s = open_store(dir, NULL);
    floe_alert f = flow_alert("flow_risk.tls_cert_expired", "10.0.0.1", "2001:db8::2", "TLS.Google",
                              "192.0.2.1", 123456);
    f.info = "{\"expired_days\":3}";
    f.score = 77;
    push_ok(s, &f);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    const char *j = query(s, "state=all");
    ASSERT_EQ(jq_int(j, "$.alerts[0].id"), 1);
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].type"), "flow_risk.tls_cert_expired");
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].plugin"), "flow_risk");
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].check"), "chk");
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].entity.type"), "flow");
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].entity.value"), "10.0.0.1:1234 -> 2001:db8::2:443/6");
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].severity"), "warning");
    ASSERT_EQ(jq_int(j, "$.alerts[0].score"), 77);
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].state"), "past");
    ASSERT_EQ(jq_int(j, "$.alerts[0].raised_ms"), 123456);
    ASSERT(jq_null(j, "$.alerts[0].released_ms"));
    ASSERT_EQ(jq_int(j, "$.alerts[0].last_seen_ms"), 123456);
    ASSERT_EQ(jq_int(j, "$.alerts[0].count"), 1);
    ASSERT(jq_null(j, "$.alerts[0].ack"));
    ASSERT_EQ(jq_int(j, "$.alerts[0].info.expired_days"), 3);
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].flow.client"), "10.0.0.1");
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].flow.server"), "2001:db8::2");
    ASSERT_EQ(jq_int(j, "$.alerts[0].flow.client_port"), 1234);
    ASSERT_EQ(jq_int(j, "$.alerts[0].flow.server_port"), 443);
    ASSERT_EQ(jq_int(j, "$.alerts[0].flow.l4"), 6);
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].flow.app"), "TLS.Google");
    ASSERT_STR_EQ(jq_str(j, "$.alerts[0].flow.exporter"), "192.0.2.1");
    ASSERT_EQ(jq_int(j, "$.alerts[0].flow.bytes"), 1000);
    ASSERT_EQ(jq_int(j, "$.alerts[0].flow.packets"), 10);
    floe_alert h = host_alert(FLOE_ALERT_ONESHOT, "p.h", "10.0.0.1", 1, FLOE_SEV_INFO);
    push_ok(s, &h);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    j = query(s, "type=p.h");
    ASSERT(jq_null(j, "$.alerts[0].flow"));
    ASSERT(jq_null(j, "$.alerts[0].info"));
    floe_alerts_close(s);
    rm_dir(dir);
}

TEST(stats_json_and_metrics)
{
    char *dir = tmp_dir();
    floe_alerts *s = query_fixture(dir, NULL);
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_alerts_stats_json(s, &j);
    ASSERT_EQ(jq_int(b.data, "$.inserted"), 18);
    ASSERT_EQ(jq_int(b.data, "$.released"), 4);
    ASSERT_EQ(jq_int(b.data, "$.rows"), 18);
    ASSERT_EQ(jq_int(b.data, "$.queue_max"), 65536);
    ASSERT(jq_null(b.data, "$.last_error"));
    ASSERT_EQ(jq_int(b.data, "$.exclusions.rules"), 0);
    ASSERT_EQ(jq_len(b.data, "$.endpoints"), 0);
    floe_buf_reset(&b);
    floe_alerts_metrics(s, &b);
    ASSERT_CONTAINS(b.data, "floe_alerts_events_total{severity=\"warning\"} 7\n");
    ASSERT_CONTAINS(b.data, "floe_alerts_events_total{severity=\"emergency\"} 1\n");
    ASSERT_CONTAINS(b.data, "floe_alerts_type_events_total{type=\"flow_risk.a\"} 2\n");
    ASSERT_CONTAINS(b.data, "floe_alerts_queue_depth 0\n");
    ASSERT_CONTAINS(b.data, "floe_alerts_dropped_total 0\n");
    ASSERT_CONTAINS(b.data, "# TYPE floe_alerts_rows_written_total counter\n");
    floe_buf_close(&b);
    floe_alerts_close(s);
    rm_dir(dir);
}

/* ---- kill -9 ---------------------------------------------------------------------------- */

static void storm_child(const char *dir)
{
    floe_alerts *s = open_store(dir, NULL);
    char ip[32];
    for (uint64_t i = 0;; i++) {
        snprintf(ip, sizeof(ip), "10.%u.%u.%u", (unsigned)(i >> 16) & 255, (unsigned)(i >> 8) & 255,
                 (unsigned)i & 255);
        floe_alert a = host_alert(i % 3 ? FLOE_ALERT_ONESHOT : FLOE_ALERT_ENGAGE, "p.storm", ip,
                                  1000 + i, FLOE_SEV_WARNING);
        a.info = "{\"payload\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}";
        if (floe_alerts_push(s, &a) == FLOE_ELIMIT)
            sleep_ms(1);
    }
}

static long long count_rows(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long long n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(db, 2000);
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM alerts", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

TEST(kill9_mid_storm_keeps_integrity)
{
    char *dir = tmp_dir(), path[128];
    snprintf(path, sizeof(path), "%s/alerts.db", dir);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        storm_child(dir);
        _exit(0);
    }
    long long n = 0;
    for (int t = 0; t < 750 && n < 20000; t++) {
        sleep_ms(20);
        n = count_rows(path);
    }
    ASSERT_GE(n, 20000); /* killed while writing, well into the storm */
    kill(pid, SIGKILL);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFSIGNALED(status));
    sqlite3 *db;
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* The store opens on it and carries on where it was. */
    floe_alerts *s = open_store(dir, NULL);
    long long before = count_rows(path);
    ASSERT_GE(before, n);
    floe_alert a = host_alert(FLOE_ALERT_ONESHOT, "p.after", "10.0.0.1", 1, FLOE_SEV_INFO);
    push_ok(s, &a);
    ASSERT_EQ(floe_alerts_flush(s), 0);
    const char *j = query(s, "type=p.after");
    ASSERT_EQ(jq_int(j, "$.totals.total"), 1);
    floe_alerts_close(s);
    ASSERT_EQ(count_rows(path), before + 1);
    rm_dir(dir);
}

/* ---- notification: a webhook receiver on loopback ------------------------------------------ */

typedef struct receiver {
    int fd;
    uint16_t port;
    pthread_t thread;
    atomic_int stop;
    atomic_int count;
    atomic_int status; /* the HTTP status it answers */
    pthread_mutex_t lock;
    char bodies[8][8192];
} receiver;

static int listen_on(uint16_t port, uint16_t *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0) {
        close(fd);
        return -1;
    }
    socklen_t len = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *bound = ntohs(sa.sin_port);
    return fd;
}

/* Reads one request (headers, then Content-Length bytes of body). */
static int read_request(int c, char *body, size_t cap)
{
    char buf[16384];
    size_t n = 0;
    char *end = NULL;
    while (!end && n < sizeof(buf) - 1) {
        ssize_t k = read(c, buf + n, sizeof(buf) - 1 - n);
        if (k <= 0)
            return -1;
        n += (size_t)k;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return -1;
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t want = cl ? (size_t)atol(cl + 15) : 0, have = n - (size_t)(end + 4 - buf);
    while (have < want && n < sizeof(buf) - 1) {
        ssize_t k = read(c, buf + n, sizeof(buf) - 1 - n);
        if (k <= 0)
            return -1;
        n += (size_t)k;
        have += (size_t)k;
    }
    buf[n] = '\0';
    snprintf(body, cap, "%s", end + 4);
    return strncmp(buf, "POST /hook ", 11) == 0 ? 0 : -1;
}

static void *receiver_main(void *arg)
{
    receiver *r = arg;
    while (!atomic_load(&r->stop)) {
        struct pollfd p = {r->fd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int c = accept(r->fd, NULL, NULL);
        if (c < 0)
            continue;
        char body[8192], reply[128];
        if (read_request(c, body, sizeof(body)) == 0) {
            int i = atomic_load(&r->count);
            int status = atomic_load(&r->status);
            if (i < 8 && status == 200) {
                snprintf(r->bodies[i], sizeof(r->bodies[i]), "%s", body);
                atomic_fetch_add(&r->count, 1);
            }
            snprintf(reply, sizeof(reply),
                     "HTTP/1.1 %d X\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n",
                     status);
            ASSERT(write(c, reply, strlen(reply)) > 0);
        }
        close(c);
    }
    return NULL;
}

static void receiver_start(receiver *r, uint16_t port, int status)
{
    memset(r, 0, sizeof(*r));
    atomic_store(&r->status, status);
    r->fd = listen_on(port, &r->port);
    ASSERT(r->fd >= 0);
    ASSERT_EQ(pthread_create(&r->thread, NULL, receiver_main, r), 0);
}

static void receiver_stop(receiver *r)
{
    atomic_store(&r->stop, 1);
    pthread_join(r->thread, NULL);
    close(r->fd);
}

static int wait_count(atomic_int *c, int want, unsigned ms)
{
    for (unsigned t = 0; t < ms && atomic_load(c) < want; t += 10)
        sleep_ms(10);
    return atomic_load(c) >= want;
}

static floe_alerts *open_with_endpoint(const char *dir, const floe_alerts_endpoint *e)
{
    floe_alerts_opts o;
    test_opts(&o);
    o.endpoints = e;
    o.n_endpoints = 1;
    return open_store(dir, &o);
}

static const char *endpoint_stats(floe_alerts *s)
{
    static floe_buf b;
    floe_json j;
    floe_buf_close(&b);
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    floe_alerts_stats_json(s, &j);
    return b.data;
}

TEST(webhook_delivers_once_with_the_documented_body)
{
    char *dir = tmp_dir(), url[64];
    receiver r;
    receiver_start(&r, 0, 200);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", r.port);
    floe_alerts_endpoint e;
    floe_alerts_endpoint_defaults(&e, FLOE_ENDPOINT_WEBHOOK);
    e.url = url;
    e.name = "ops";
    floe_alerts *s = open_with_endpoint(dir, &e);
    floe_alert a = host_alert(FLOE_ALERT_ENGAGE, "hosts.flood", "10.0.0.1", 1000, FLOE_SEV_ERROR);
    a.info = "{\"pps\":9}";
    push_ok(s, &a);
    push_ok(s, &a); /* a repeat: counted, not notified */
    floe_alert low = host_alert(FLOE_ALERT_ENGAGE, "hosts.x", "10.0.0.2", 1000, FLOE_SEV_NOTICE);
    push_ok(s, &low); /* below the endpoint's minimum severity */
    ASSERT(wait_count(&r.count, 1, 5000));
    sleep_ms(300);
    ASSERT_EQ(atomic_load(&r.count), 1);
    const char *body = r.bodies[0];
    ASSERT_EQ(jq_int(body, "$.version"), 1);
    ASSERT_STR_EQ(jq_str(body, "$.source"), "floe");
    ASSERT_STR_EQ(jq_str(body, "$.endpoint"), "ops");
    ASSERT(jq_int(body, "$.sent_ms") > 0);
    ASSERT(jq_null(body, "$.digest"));
    ASSERT_EQ(jq_len(body, "$.alerts"), 1);
    ASSERT_STR_EQ(jq_str(body, "$.alerts[0].action"), "engage");
    ASSERT_STR_EQ(jq_str(body, "$.alerts[0].type"), "hosts.flood");
    ASSERT_STR_EQ(jq_str(body, "$.alerts[0].entity.value"), "10.0.0.1");
    ASSERT_EQ(jq_int(body, "$.alerts[0].info.pps"), 9);
    ASSERT_EQ(jq_int(body, "$.alerts[0].id"), 1);
    const char *st = endpoint_stats(s);
    ASSERT_STR_EQ(jq_str(st, "$.endpoints[0].name"), "ops");
    ASSERT_EQ(jq_int(st, "$.endpoints[0].sent"), 1);
    ASSERT_EQ(jq_int(st, "$.endpoints[0].failed"), 0);
    /* The release is notified too, with the stored row. */
    a.kind = FLOE_ALERT_RELEASE;
    a.when_ms = 2000;
    push_ok(s, &a);
    ASSERT(wait_count(&r.count, 2, 5000));
    ASSERT_STR_EQ(jq_str(r.bodies[1], "$.alerts[0].action"), "release");
    ASSERT_EQ(jq_int(r.bodies[1], "$.alerts[0].count"), 2);
    ASSERT_EQ(jq_int(r.bodies[1], "$.alerts[0].released_ms"), 2000);
    floe_alerts_close(s);
    receiver_stop(&r);
    rm_dir(dir);
}

TEST(webhook_retries_until_the_receiver_is_back)
{
    char *dir = tmp_dir(), url[64];
    uint16_t port;
    int fd = listen_on(0, &port); /* find a free port, then free it */
    close(fd);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", port);
    floe_alerts_endpoint e;
    floe_alerts_endpoint_defaults(&e, FLOE_ENDPOINT_WEBHOOK);
    e.url = url;
    e.backoff_ms = 50;
    e.backoff_max_ms = 100;
    e.retries = 100;
    e.timeout_ms = 2000;
    floe_alerts *s = open_with_endpoint(dir, &e);
    floe_alert a = host_alert(FLOE_ALERT_ONESHOT, "hosts.x", "10.0.0.1", 1000, FLOE_SEV_CRITICAL);
    push_ok(s, &a);
    const char *st = NULL;
    for (int t = 0; t < 500; t++) {
        st = endpoint_stats(s);
        if (jq_int(st, "$.endpoints[0].retried") >= 2)
            break;
        sleep_ms(10);
    }
    ASSERT_GE(jq_int(st, "$.endpoints[0].retried"), 2);
    ASSERT_EQ(jq_int(st, "$.endpoints[0].sent"), 0);
    ASSERT(!jq_null(st, "$.endpoints[0].last_error"));
    /* A 503 is retried as well. */
    receiver r;
    receiver_start(&r, port, 503);
    long long before = jq_int(endpoint_stats(s), "$.endpoints[0].retried");
    for (int t = 0; t < 300 && jq_int(endpoint_stats(s), "$.endpoints[0].retried") < before + 2;
         t++)
        sleep_ms(10);
    ASSERT_CONTAINS(jq_str(endpoint_stats(s), "$.endpoints[0].last_error"), "503");
    atomic_store(&r.status, 200);
    ASSERT(wait_count(&r.count, 1, 5000));
    sleep_ms(300);
    ASSERT_EQ(atomic_load(&r.count), 1);
    ASSERT_STR_EQ(jq_str(r.bodies[0], "$.alerts[0].type"), "hosts.x");
    st = endpoint_stats(s);
    ASSERT_EQ(jq_int(st, "$.endpoints[0].sent"), 1);
    ASSERT_EQ(jq_int(st, "$.endpoints[0].failed"), 0);
    floe_alerts_close(s);
    receiver_stop(&r);
    rm_dir(dir);
}

TEST(webhook_rate_limit_sends_a_digest)
{
    char *dir = tmp_dir(), url[64];
    receiver r;
    receiver_start(&r, 0, 200);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", r.port);
    floe_alerts_endpoint e;
    floe_alerts_endpoint_defaults(&e, FLOE_ENDPOINT_WEBHOOK);
    e.url = url;
    e.rate_per_min = 2;
    e.rate_window_ms = 1000;
    e.batch_max = 1;
    floe_alerts *s = open_with_endpoint(dir, &e);
    char ip[32];
    /* Held, so all 1,242 are committed in one batch and offered to the
     * endpoint within one window however slow the machine. */
    floe_alerts__hold(s, 1);
    for (int i = 0; i < 1242; i++) {
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
        floe_alert a = host_alert(FLOE_ALERT_ONESHOT, "hosts.x", ip, 1000, FLOE_SEV_ERROR);
        push_ok(s, &a);
    }
    floe_alerts__hold(s, 0);
    ASSERT(wait_count(&r.count, 3, 5000));
    sleep_ms(200);
    ASSERT_EQ(atomic_load(&r.count), 3);
    ASSERT_EQ(jq_len(r.bodies[0], "$.alerts"), 1);
    ASSERT_EQ(jq_len(r.bodies[1], "$.alerts"), 1);
    ASSERT_EQ(jq_len(r.bodies[2], "$.alerts"), 0);
    ASSERT_EQ(jq_int(r.bodies[2], "$.digest.suppressed"), 1240);
    ASSERT_STR_EQ(jq_str(r.bodies[2], "$.digest.text"), "and 1,240 more");
    const char *st = endpoint_stats(s);
    ASSERT_EQ(jq_int(st, "$.endpoints[0].suppressed"), 1240);
    ASSERT_EQ(jq_int(st, "$.endpoints[0].sent"), 2);
    floe_alerts_close(s);
    receiver_stop(&r);
    rm_dir(dir);
}

TEST(endpoint_config_errors_name_the_key)
{
    char *dir = tmp_dir(), err[200] = "";
    floe_alerts_endpoint e[2];
    floe_alerts_endpoint_defaults(&e[0], FLOE_ENDPOINT_COMMAND);
    e[0].command = "true";
    floe_alerts_endpoint_defaults(&e[1], FLOE_ENDPOINT_WEBHOOK);
    e[1].url = "ftp://x";
    floe_alerts_opts o;
    test_opts(&o);
    o.dir = dir;
    o.endpoints = e;
    o.n_endpoints = 2;
    ASSERT(floe_alerts_open(&o, NULL, err, sizeof(err)) == NULL);
    ASSERT_CONTAINS(err, "alerts.endpoints[2].url");
    e[1].type = FLOE_ENDPOINT_SYSLOG;
    e[1].address = "nohost";
    ASSERT(floe_alerts_open(&o, NULL, err, sizeof(err)) == NULL);
    ASSERT_CONTAINS(err, "alerts.endpoints[2].address");
    rm_dir(dir);
}

/* ---- notification: syslog ------------------------------------------------------------------ */

TEST(syslog_sends_rfc5424)
{
    char *dir = tmp_dir(), addr[64], buf[600];
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
    floe_alerts_endpoint e;
    floe_alerts_endpoint_defaults(&e, FLOE_ENDPOINT_SYSLOG);
    e.address = addr;
    e.facility = 16;
    floe_alerts *s = open_with_endpoint(dir, &e);
    floe_alert n = host_alert(FLOE_ALERT_ONESHOT, "hosts.note", "10.0.0.7", 1000, FLOE_SEV_NOTICE);
    push_ok(s, &n); /* below warning: not sent */
    floe_alert a =
        host_alert(FLOE_ALERT_ENGAGE, "hosts.sc\"an]", "10.0.0.1", 1000, FLOE_SEV_WARNING);
    push_ok(s, &a);
    struct pollfd p = {fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 5000), 1);
    ssize_t k = recv(fd, buf, sizeof(buf) - 1, 0);
    ASSERT(k > 0);
    buf[k] = '\0';
    /* <16*8+4>1 TIMESTAMP HOST floe PID engage [floe@32473 ...] MSG */
    ASSERT_EQ(strncmp(buf, "<132>1 ", 7), 0);
    int yy, mo, dd, hh, mi, ss, ms;
    char z;
    ASSERT_EQ(
        sscanf(buf + 7, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &yy, &mo, &dd, &hh, &mi, &ss, &ms, &z), 8);
    ASSERT_EQ(z, 'Z');
    ASSERT_GE(yy, 2024);
    char pidpart[64];
    snprintf(pidpart, sizeof(pidpart), " floe %d engage [floe@32473 id=\"2\" ", (int)getpid());
    const char *msg = buf; /* a pointer: the runner's message copies at most 1 KiB */
    ASSERT_CONTAINS(msg, pidpart);
    ASSERT_CONTAINS(msg, "type=\"hosts.sc\\\"an\\]\" entity_type=\"host\" entity=\"10.0.0.1\" "
                         "severity=\"warning\" score=\"10\"] engage warning");
    ASSERT_EQ(poll(&p, 1, 200), 0); /* one datagram only */
    floe_alerts_close(s);
    close(fd);
    rm_dir(dir);
}

/* ---- notification: a command ---------------------------------------------------------------- */

static int wait_file(const char *path, char *buf, size_t cap)
{
    for (int t = 0; t < 500; t++) {
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, cap - 1, f);
            fclose(f);
            buf[n] = '\0';
            if (n && buf[n - 1] == '}')
                return 1;
        }
        sleep_ms(10);
    }
    return 0;
}

TEST(command_gets_the_body_on_stdin)
{
    char *dir = tmp_dir(), cmd[256], out1[200], out2[200], buf[8192];
    snprintf(out1, sizeof(out1), "%s/direct.json", dir);
    snprintf(out2, sizeof(out2), "%s/shell.json", dir);
    floe_alerts_endpoint e[3];
    floe_alerts_endpoint_defaults(&e[0], FLOE_ENDPOINT_COMMAND);
    snprintf(cmd, sizeof(cmd), "tee %s", out1); /* no shell: run directly */
    e[0].command = cmd;
    char cmd2[256];
    floe_alerts_endpoint_defaults(&e[1], FLOE_ENDPOINT_COMMAND);
    snprintf(cmd2, sizeof(cmd2), "cat > %s", out2); /* needs a shell */
    e[1].command = cmd2;
    floe_alerts_endpoint_defaults(&e[2], FLOE_ENDPOINT_COMMAND);
    e[2].command = "sleep 10";
    e[2].timeout_ms = 200;
    e[2].retries = 0;
    floe_alerts_opts o;
    test_opts(&o);
    o.endpoints = e;
    o.n_endpoints = 3;
    floe_alerts *s = open_store(dir, &o);
    floe_alert a = host_alert(FLOE_ALERT_ONESHOT, "hosts.cmd", "10.0.0.1", 1000, FLOE_SEV_ERROR);
    push_ok(s, &a);
    ASSERT(wait_file(out1, buf, sizeof(buf)));
    ASSERT_EQ(jq_int(buf, "$.version"), 1);
    ASSERT_STR_EQ(jq_str(buf, "$.alerts[0].type"), "hosts.cmd");
    ASSERT_STR_EQ(jq_str(buf, "$.endpoint"), "command1");
    ASSERT(wait_file(out2, buf, sizeof(buf)));
    ASSERT_STR_EQ(jq_str(buf, "$.alerts[0].action"), "oneshot");
    const char *st = NULL;
    for (int t = 0; t < 300; t++) {
        st = endpoint_stats(s);
        if (jq_int(st, "$.endpoints[2].failed") >= 1 && jq_int(st, "$.endpoints[0].sent") >= 1)
            break;
        sleep_ms(10);
    }
    ASSERT_EQ(jq_int(st, "$.endpoints[0].sent"), 1);
    ASSERT_EQ(jq_int(st, "$.endpoints[2].failed"), 1);
    ASSERT_CONTAINS(jq_str(st, "$.endpoints[2].last_error"), "killed after 200 ms");
    floe_alerts_close(s);
    rm_dir(dir);
}

TEST_MAIN(TEST_ENTRY(names_roundtrip), TEST_ENTRY(engage_repeat_release),
          TEST_ENTRY(restart_restores_engaged_set), TEST_ENTRY(oneshot_repeat_window),
          TEST_ENTRY(info_inline_wrapped_or_marked),
          TEST_ENTRY(exclusion_rule_errors_name_the_field), TEST_ENTRY(exclusions_match_and_count),
          TEST_ENTRY(exclusion_added_while_engaged_does_not_strand_the_alert),
          TEST_ENTRY(retention_by_age), TEST_ENTRY(retention_by_rows),
          TEST_ENTRY(queue_overflow_is_counted_and_push_never_waits),
          TEST_ENTRY(close_commits_everything_queued), TEST_ENTRY(query_filters),
          TEST_ENTRY(query_paging_and_totals), TEST_ENTRY(query_address_arms_count_each_alert_once),
          TEST_ENTRY(query_parse_names_the_bad_key), TEST_ENTRY(ack_and_delete),
          TEST_ENTRY(delete_where_runs_in_small_transactions), TEST_ENTRY(alert_json_shape),
          TEST_ENTRY(stats_json_and_metrics), TEST_ENTRY(kill9_mid_storm_keeps_integrity),
          TEST_ENTRY(webhook_delivers_once_with_the_documented_body),
          TEST_ENTRY(webhook_retries_until_the_receiver_is_back),
          TEST_ENTRY(webhook_rate_limit_sends_a_digest),
          TEST_ENTRY(endpoint_config_errors_name_the_key), TEST_ENTRY(syslog_sends_rfc5424),
          TEST_ENTRY(command_gets_the_body_on_stdin))
