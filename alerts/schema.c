/*
 * alerts/schema.c: the database layout and how it evolves. The schema
 * version is PRAGMA user_version; migrations[] holds one SQL step per
 * version, applied in order, each in its own transaction with the version
 * bump, so a crash mid-migration leaves the previous version intact. A new
 * version appends a step; existing steps are never edited. Why the indexes
 * look the way they do is in docs/alerts.md ("Indexes").
 */
#include "alerts/internal.h"

#include <stdio.h>

/*
 * Version 1. Addresses (addr: the entity's address for non-flow alerts;
 * cli_bin and srv_bin: the flow's endpoints) are 16-byte big-endian blobs,
 * IPv4 v4-mapped, so memcmp order is numeric order and a CIDR is a BETWEEN.
 * Each index ends in the columns the filters test (state, severity,
 * entity_type, ack_ms), so a filtered page of ids and the totals are read
 * from the index alone. The engaged rows (few) have one partial index that
 * covers every filter; alerts_srv also holds cli_bin, so the server arm of
 * an address query can leave out what the client arm already counted.
 */
static const char migration_1[] =
    "CREATE TABLE alerts ("
    " id INTEGER PRIMARY KEY,"
    " state INTEGER NOT NULL," /* 0 engaged, 1 past */
    " kind INTEGER NOT NULL,"  /* enum floe_alert_kind of the raising event */
    " type TEXT NOT NULL,"
    " plugin TEXT NOT NULL,"
    " chk TEXT NOT NULL,"
    " entity_type INTEGER NOT NULL,"
    " entity TEXT NOT NULL,"
    " addr BLOB,"
    " severity INTEGER NOT NULL,"
    " score INTEGER NOT NULL,"
    " raised_ms INTEGER NOT NULL,"
    " released_ms INTEGER,"
    " last_seen_ms INTEGER NOT NULL,"
    " count INTEGER NOT NULL,"
    " ack_ms INTEGER,"
    " ack_by TEXT,"
    " info TEXT,"
    " cli TEXT, srv TEXT, cli_bin BLOB, srv_bin BLOB,"
    " cli_port INTEGER, srv_port INTEGER, l4 INTEGER, app TEXT, exporter TEXT,"
    " bytes INTEGER, packets INTEGER);"
    "CREATE INDEX alerts_engaged ON alerts(raised_ms, severity, entity_type, ack_ms, addr,"
    " cli_bin, srv_bin, type, plugin, entity) WHERE state = 0;"
    "CREATE INDEX alerts_raised ON alerts(raised_ms, state, severity, entity_type, ack_ms);"
    "CREATE INDEX alerts_type ON alerts(type, raised_ms, state, severity, entity_type, ack_ms);"
    "CREATE INDEX alerts_plugin ON alerts(plugin, raised_ms, state, severity, entity_type, ack_ms);"
    "CREATE INDEX alerts_addr ON alerts(addr, raised_ms, state, severity, entity_type, ack_ms)"
    " WHERE addr IS NOT NULL;"
    "CREATE INDEX alerts_cli ON alerts(cli_bin, raised_ms, state, severity, ack_ms)"
    " WHERE cli_bin IS NOT NULL;"
    "CREATE INDEX alerts_srv ON alerts(srv_bin, raised_ms, state, severity, ack_ms, cli_bin)"
    " WHERE srv_bin IS NOT NULL;"
    "CREATE INDEX alerts_entity ON alerts(entity, raised_ms) WHERE entity_type <> 1;"
    "CREATE INDEX alerts_acked ON alerts(raised_ms, state, severity, entity_type)"
    " WHERE ack_ms IS NOT NULL;"
    "CREATE TABLE exclusions ("
    " id INTEGER PRIMARY KEY,"
    " rule TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL);";

static const char *const migrations[] = {
    migration_1,
};

const char alerts__row_columns[] =
    "id, state, kind, type, plugin, chk, entity_type, entity, severity, score, raised_ms,"
    " released_ms, last_seen_ms, count, ack_ms, ack_by, info, cli, srv, cli_port, srv_port,"
    " l4, app, exporter, bytes, packets";

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static uint64_t col_u64(sqlite3_stmt *st, int i)
{
    sqlite3_int64 v = sqlite3_column_int64(st, i);
    return v > 0 ? (uint64_t)v : 0;
}

void alerts__row_read(alerts__row *r, sqlite3_stmt *st)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    r->state = sqlite3_column_int(st, 1);
    r->kind = sqlite3_column_int(st, 2);
    r->type = col_text(st, 3);
    r->plugin = col_text(st, 4);
    r->check = col_text(st, 5);
    r->entity_type = sqlite3_column_int(st, 6);
    r->entity = col_text(st, 7);
    r->severity = sqlite3_column_int(st, 8);
    r->score = (uint32_t)col_u64(st, 9);
    r->raised_ms = col_u64(st, 10);
    r->released_ms = col_u64(st, 11);
    r->last_seen_ms = col_u64(st, 12);
    r->count = col_u64(st, 13);
    r->ack_ms = col_u64(st, 14);
    r->ack_by = col_text(st, 15);
    r->info = col_text(st, 16);
    r->cli = col_text(st, 17);
    r->srv = col_text(st, 18);
    r->has_flow = r->cli != NULL;
    r->cli_port = (uint16_t)col_u64(st, 19);
    r->srv_port = (uint16_t)col_u64(st, 20);
    r->l4 = (uint8_t)col_u64(st, 21);
    r->app = col_text(st, 22);
    r->exporter = col_text(st, 23);
    r->bytes = col_u64(st, 24);
    r->packets = col_u64(st, 25);
    /* Text pointers above stay valid: reading later columns never converts
     * earlier ones. */
    if (!r->type)
        r->type = "";
    if (!r->plugin)
        r->plugin = "";
    if (!r->check)
        r->check = "";
    if (!r->entity)
        r->entity = "";
}

sqlite3 *alerts__db_open(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    rc = sqlite3_exec(db,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                      " PRAGMA temp_store=MEMORY; PRAGMA cache_size=-32768;"
                      " PRAGMA journal_size_limit=67108864;",
                      NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static int user_version(sqlite3 *db, int *v)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return FLOE_EIO;
    int rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : FLOE_EIO;
}

static int migrate_step(sqlite3 *db, int to, char *err, size_t errlen)
{
    char bump[64], *msg = NULL;
    snprintf(bump, sizeof(bump), "PRAGMA user_version = %d;", to);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, migrations[to - 1], NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, bump, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "alerts.db: migration to schema version %d: %s", to,
                 msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return FLOE_EIO;
    }
    return 0;
}

int alerts__migrate(sqlite3 *db, char *err, size_t errlen)
{
    int v, latest = (int)FLOE_ARRAY_LEN(migrations);
    if (user_version(db, &v) != 0) {
        snprintf(err, errlen, "alerts.db: reading the schema version: %s", sqlite3_errmsg(db));
        return FLOE_EIO;
    }
    if (v > latest) {
        snprintf(err, errlen, "alerts.db: schema version %d is newer than this floe's (%d)", v,
                 latest);
        return FLOE_EIO;
    }
    for (int to = v + 1; to <= latest; to++)
        if (migrate_step(db, to, err, errlen) != 0)
            return FLOE_EIO;
    return 0;
}
