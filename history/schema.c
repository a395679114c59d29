/*
 * floe's tables in ClickHouse: created when missing, their schema version
 * recorded and checked, and retention applied. Everything here keeps to
 * what ClickHouse 18.16 (Debian 12) understands, which current releases
 * accept too: MergeTree with PARTITION BY and ORDER BY clauses, FixedString
 * addresses (no IPv6 type in 18.16), the Log engine for the version table.
 * TTL came in 19.6: a server that has it gets one, an older one has its
 * day partitions dropped by the writer (hist__retention_drop).
 */
#include "history/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *const base_names[HIST_TABLES] = {"flows", "alerts"};
/* Day partitions; hour, then endpoints, so that a time range reads few
 * granules and a host's rows within an hour sit together. */
static const char *const order_by[HIST_TABLES] = {"(toStartOfHour(time), client, server)",
                                                  "(time, type)"};

void hist__table(const hist__conn *c, int table, int local, char *out, size_t outlen)
{
    snprintf(out, outlen, "`%s`.`%s%s`", c->database, base_names[table],
             local && c->cluster[0] ? "_local" : "");
}

/* Runs a statement whose answer is one line of TSV; its first field as a
 * string in out. 0 or -1. */
static int scalar(void *curl, const hist__conn *c, const char *sql, char *out, size_t outlen,
                  hist__reply *rep)
{
    if (hist__exec(curl, c, sql, rep) != 0)
        return -1;
    const char *s = rep->body.data ? rep->body.data : "";
    size_t n = strcspn(s, "\t\r\n");
    snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), s);
    return 0;
}

static void parse_version(hist__server *srv)
{
    srv->major = srv->minor = 0;
    sscanf(srv->version, "%d.%d", &srv->major, &srv->minor);
    srv->ttl = srv->major > 19 || (srv->major == 19 && srv->minor >= 6);
}

static void ttl_clause(floe_buf *b, uint32_t days)
{
    /* No TTL at all is what 0 means; an existing table gets one of a
     * century instead, as REMOVE TTL is recent (20.x). */
    if (days)
        floe_buf_printf(b, " TTL time + toIntervalDay(%u)", days);
    else
        floe_buf_puts(b, " TTL time + toIntervalYear(100)");
}

/* With a cluster, the table floe writes through must be Distributed: a
 * plain one of that name (a floe that ran without a cluster first) would
 * take the rows and shard nothing. */
static int check_not_plain(void *curl, const hist__conn *c, int table, hist__reply *rep)
{
    char sql[300], engine[64];
    snprintf(sql, sizeof(sql),
             "SELECT engine FROM system.tables WHERE database = '%s' AND name = '%s' "
             "FORMAT TabSeparated",
             c->database, base_names[table]);
    if (scalar(curl, c, sql, engine, sizeof(engine), rep) != 0)
        return -1;
    if (engine[0] && strcmp(engine, "Distributed") != 0) {
        snprintf(rep->error, sizeof(rep->error),
                 "%s.%s is a %s table, not Distributed: rename it to %s_local before using "
                 "clickhouse.cluster",
                 c->database, base_names[table], engine, base_names[table]);
        rep->status = 0;
        return -1;
    }
    return 0;
}

static int create_table(void *curl, const hist__conn *c, int table, const hist__server *srv,
                        uint32_t days, hist__reply *rep)
{
    char local[200], dist[200];
    size_t n;
    const hist__column *col = hist__columns(table, &n);
    floe_buf b;
    floe_buf_init(&b);
    hist__table(c, table, 1, local, sizeof(local));
    floe_buf_printf(&b, "CREATE TABLE IF NOT EXISTS %s (", local);
    for (size_t i = 0; i < n; i++)
        floe_buf_printf(&b, "%s%s %s", i ? ", " : "", col[i].name, col[i].type);
    floe_buf_printf(&b, ") ENGINE = MergeTree PARTITION BY toYYYYMMDD(time) ORDER BY %s",
                    order_by[table]);
    if (srv->ttl && days)
        ttl_clause(&b, days);
    int rc = floe_buf_ok(&b) ? hist__exec(curl, c, b.data, rep) : -1;
    if (rc == 0 && c->cluster[0])
        rc = check_not_plain(curl, c, table, rep);
    if (rc == 0 && c->cluster[0]) {
        hist__table(c, table, 0, dist, sizeof(dist));
        floe_buf_reset(&b);
        floe_buf_printf(&b,
                        "CREATE TABLE IF NOT EXISTS %s AS %s ENGINE = Distributed(`%s`, `%s`, "
                        "`%s_local`, rand())",
                        dist, local, c->cluster, c->database, base_names[table]);
        rc = floe_buf_ok(&b) ? hist__exec(curl, c, b.data, rep) : -1;
    }
    floe_buf_close(&b);
    return rc;
}

/* The last version and retention this server recorded, or 0 and -1 when
 * none. 0 or -1. */
static int recorded(void *curl, const hist__conn *c, uint32_t *version, int64_t *retention,
                    hist__reply *rep)
{
    char sql[300];
    snprintf(sql, sizeof(sql),
             "SELECT version, retention FROM `%s`.floe_schema ORDER BY time DESC, version DESC "
             "LIMIT 1 FORMAT TabSeparated",
             c->database);
    *version = 0;
    *retention = -1;
    if (hist__exec(curl, c, sql, rep) != 0)
        return -1;
    unsigned v;
    long long r;
    if (rep->body.data && sscanf(rep->body.data, "%u\t%lld", &v, &r) == 2) {
        *version = v;
        *retention = r;
    }
    return 0;
}

/* Records this floe's version and retention, and moves the TTL when the
 * retention changed on a server that has TTL. */
static int record(void *curl, const hist__conn *c, int alerts, const hist__server *srv,
                  uint32_t days, int64_t had, hist__reply *rep)
{
    char sql[600], local[200];
    for (int t = 0; srv->ttl && had >= 0 && had != days && t < HIST_TABLES; t++) {
        if (t == HIST_ALERTS && !alerts)
            continue;
        floe_buf b;
        floe_buf_init(&b);
        hist__table(c, t, 1, local, sizeof(local));
        floe_buf_printf(&b, "ALTER TABLE %s MODIFY", local);
        ttl_clause(&b, days);
        int rc = floe_buf_ok(&b) ? hist__exec(curl, c, b.data, rep) : -1;
        floe_buf_close(&b);
        if (rc != 0)
            return -1;
    }
    snprintf(sql, sizeof(sql),
             "INSERT INTO `%s`.floe_schema (time, instance, version, retention) VALUES "
             "(now(), '%s', %u, %u)",
             c->database, c->instance, FLOE_HISTORY_SCHEMA, days);
    return hist__exec(curl, c, sql, rep);
}

int hist__schema_setup(void *curl, const hist__conn *c, int alerts, int64_t retention_days,
                       hist__server *srv, hist__reply *rep)
{
    char sql[400];
    memset(srv, 0, sizeof(*srv));
    if (scalar(curl, c, "SELECT version() FORMAT TabSeparated", srv->version, sizeof(srv->version),
               rep) != 0)
        return -1;
    parse_version(srv);
    snprintf(sql, sizeof(sql), "CREATE DATABASE IF NOT EXISTS `%s`", c->database);
    if (hist__exec(curl, c, sql, rep) != 0)
        return -1;
    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS `%s`.floe_schema (time DateTime, instance String, "
             "version UInt32, retention UInt32) ENGINE = Log",
             c->database);
    if (hist__exec(curl, c, sql, rep) != 0)
        return -1;
    uint32_t version;
    int64_t had;
    if (recorded(curl, c, &version, &had, rep) != 0)
        return -1;
    if (version > FLOE_HISTORY_SCHEMA) {
        snprintf(rep->error, sizeof(rep->error),
                 "the tables in %s are at schema version %u, newer than this floe's %d",
                 c->database, version, FLOE_HISTORY_SCHEMA);
        return -1;
    }
    uint32_t days = retention_days < 0 ? 0 : (uint32_t)retention_days;
    for (int t = 0; t < HIST_TABLES; t++)
        if ((t != HIST_ALERTS || alerts) && create_table(curl, c, t, srv, days, rep))
            return -1;
    if (version == FLOE_HISTORY_SCHEMA && (retention_days < 0 || had == retention_days))
        return 0;
    /* Leaving retention alone records what was there (none: 0). */
    return record(curl, c, alerts, srv, retention_days < 0 ? (had < 0 ? 0 : (uint32_t)had) : days,
                  retention_days < 0 ? -1 : had, rep);
}

/* Drops one table's day partitions before the cutoff day. */
static int drop_before(void *curl, const hist__conn *c, int table, const char *cutoff,
                       hist__reply *rep)
{
    char sql[600], local[200];
    snprintf(sql, sizeof(sql),
             "SELECT DISTINCT partition FROM system.parts WHERE database = '%s' AND table = "
             "'%s%s' AND active AND partition < '%s' FORMAT TabSeparated",
             c->database, base_names[table], c->cluster[0] ? "_local" : "", cutoff);
    if (hist__exec(curl, c, sql, rep) != 0)
        return -1;
    char *list = rep->body.data ? strdup(rep->body.data) : NULL;
    hist__table(c, table, 1, local, sizeof(local));
    int rc = 0;
    for (char *save = NULL, *p = list ? strtok_r(list, "\n", &save) : NULL; p && rc == 0;
         p = strtok_r(NULL, "\n", &save)) {
        if (strlen(p) != 8 || strspn(p, "0123456789") != 8)
            continue; /* not one of ours: a day is YYYYMMDD */
        snprintf(sql, sizeof(sql), "ALTER TABLE %s DROP PARTITION %s", local, p);
        rc = hist__exec(curl, c, sql, rep);
    }
    free(list);
    return rc;
}

int hist__retention_drop(void *curl, const hist__conn *c, int alerts, uint32_t days, uint64_t now_s,
                         hist__reply *rep)
{
    char cutoff[16];
    time_t t = (time_t)(now_s - (uint64_t)days * 86400);
    struct tm tm;
    if (!days || now_s < (uint64_t)days * 86400)
        return 0;
    gmtime_r(&t, &tm);
    strftime(cutoff, sizeof(cutoff), "%Y%m%d", &tm);
    for (int table = 0; table < HIST_TABLES; table++)
        if ((table != HIST_ALERTS || alerts) && drop_before(curl, c, table, cutoff, rep) != 0)
            return -1;
    return 0;
}
