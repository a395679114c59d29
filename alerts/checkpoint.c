/*
 * alerts/checkpoint.c: WAL checkpoints off the writer thread. SQLite's
 * automatic checkpoint runs inside the COMMIT that crosses its threshold,
 * so the writer would stop every few megabytes to copy pages into the
 * database file and fsync it. Instead the writer's WAL hook only wakes this
 * thread, which runs PASSIVE checkpoints on its own connection beside the
 * writer (WAL allows one checkpointer next to one writer); the WAL restarts
 * from its beginning at the first commit after a complete checkpoint. A
 * writer that never pauses gets a bound instead (wal_hook below). Measured
 * in BENCHMARKS.md ("Alert store").
 */
#include "alerts/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* WAL frames (pages) that wake the checkpointer: 16 MiB with 4 KiB pages. */
#define CKPT_FRAMES 4096
/* WAL frames past which the checkpoint is a RESTART: 64 MiB (-D to try
 * others: 256 MiB and no bound measured no different under load). */
#ifndef CKPT_HARD_FRAMES
#define CKPT_HARD_FRAMES 16384
#endif

struct alerts__ckpt {
    sqlite3 *db;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int want, restart, stop;
};

/*
 * After each of the writer's commits: wakes the checkpointer past
 * CKPT_FRAMES. A PASSIVE checkpoint beside a writer that never pauses
 * copies frames but never catches up, and the WAL only starts over once
 * every frame is copied: under a sustained flood it grows without bound (it
 * reached 27 GB filling 10M rows). So past CKPT_HARD_FRAMES the checkpoint
 * is a RESTART, which holds new write transactions off (the writer waits in
 * its busy timeout) until the WAL is copied and can start over. That pause
 * is the back-pressure a flood needs; at ordinary rates the writer pauses
 * between batches and the PASSIVE checkpoints keep up. (The writer cannot
 * run the RESTART itself: a second checkpointer gets SQLITE_BUSY at once.)
 */
static int wal_hook(void *ud, sqlite3 *db, const char *name, int frames)
{
    alerts__ckpt *c = ud;
    (void)db;
    (void)name;
    if (frames >= CKPT_FRAMES) {
        pthread_mutex_lock(&c->lock);
        c->want = 1;
        c->restart |= frames >= CKPT_HARD_FRAMES;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
    }
    return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
    alerts__ckpt *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        if (!c->want) {
            /* Also once a second, so a quiet WAL is folded in too. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&c->cond, &c->lock, &ts);
        }
        int mode = c->restart ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE;
        c->want = 0;
        c->restart = 0;
        pthread_mutex_unlock(&c->lock);
        sqlite3_wal_checkpoint_v2(c->db, NULL, mode, NULL, NULL);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

alerts__ckpt *alerts__ckpt_start(const char *path, sqlite3 *writer_db, char *err, size_t errlen)
{
    alerts__ckpt *c = calloc(1, sizeof(*c));
    if (!c || pthread_mutex_init(&c->lock, NULL) || pthread_cond_init(&c->cond, NULL)) {
        free(c);
        snprintf(err, errlen, "alerts: out of memory");
        return NULL;
    }
    c->db = alerts__db_open(path, err, errlen);
    if (!c->db || pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
        if (c->db)
            snprintf(err, errlen, "alerts: cannot start the checkpoint thread");
        sqlite3_close(c->db);
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        free(c);
        return NULL;
    }
    sqlite3_wal_hook(writer_db, wal_hook, c); /* replaces the automatic checkpoint */
    return c;
}

void alerts__ckpt_stop(alerts__ckpt *c, sqlite3 *writer_db)
{
    if (!c)
        return;
    if (writer_db)
        sqlite3_wal_hook(writer_db, NULL, NULL);
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}
