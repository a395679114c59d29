/*
 * The spool: blocks that could not reach ClickHouse, one file each, in
 * <data_dir>/history-spool, replayed oldest first. A file holds exactly
 * the gzip body its INSERT would have sent; its name carries what the
 * replay needs, so nothing has to be parsed out of it:
 *
 *     <seq, 16 hex digits>-<table>-v<schema version>-<rows>.gz
 *
 * A file is written under a temporary name, synced and renamed, so a
 * crash leaves either the whole block or none of it (the temporary is
 * removed at the next start). The bound is on the bytes of the files.
 */
#include "history/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const table_names[HIST_TABLES] = {"flows", "alerts"};

static int table_parse(const char *s, size_t n)
{
    for (int t = 0; t < HIST_TABLES; t++)
        if (strlen(table_names[t]) == n && strncmp(s, table_names[t], n) == 0)
            return t;
    return -1;
}

static void file_path(const hist__spool *s, const hist__spool_file *f, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%016llx-%s-v%u-%u.gz", s->dir, (unsigned long long)f->seq,
             table_names[f->table], f->version, f->rows);
}

/* Parses a spool file's name; 0, or -1 for anything else. */
static int name_parse(const char *name, hist__spool_file *f)
{
    char table[16];
    unsigned long long seq;
    unsigned ver, rows;
    int used = 0;
    if (sscanf(name, "%16llx-%15[a-z]-v%u-%u.gz%n", &seq, table, &ver, &rows, &used) != 4 ||
        name[used] != '\0' || strlen(name) < 16)
        return -1;
    int t = table_parse(table, strlen(table));
    if (t < 0)
        return -1;
    memset(f, 0, sizeof(*f));
    f->seq = seq;
    f->table = t;
    f->version = ver;
    f->rows = rows;
    return 0;
}

static int by_seq(const void *a, const void *b)
{
    const hist__spool_file *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int grow(hist__spool *s)
{
    if (s->n < s->cap)
        return 0;
    if (s->head > 0) { /* reuse the room popped files left at the front */
        memmove(s->files, s->files + s->head, (s->n - s->head) * sizeof(*s->files));
        s->n -= s->head;
        s->head = 0;
        if (s->n < s->cap)
            return 0;
    }
    size_t cap = s->cap ? s->cap * 2 : 64;
    hist__spool_file *f = realloc(s->files, cap * sizeof(*f));
    if (!f)
        return FLOE_ENOMEM;
    s->files = f;
    s->cap = cap;
    return 0;
}

/* Reads the directory: spool files in, temporaries out. */
static int scan(hist__spool *s)
{
    DIR *d = opendir(s->dir);
    struct dirent *de;
    char path[4400];
    if (!d)
        return FLOE_EIO;
    while ((de = readdir(d))) {
        hist__spool_file f;
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", s->dir, de->d_name);
        if (strncmp(de->d_name, ".tmp-", 5) == 0) {
            unlink(path);
            continue;
        }
        if (name_parse(de->d_name, &f) != 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        f.bytes = (uint64_t)st.st_size;
        if (grow(s) != 0)
            break;
        s->files[s->n++] = f;
        s->bytes += f.bytes;
        if (f.seq >= s->next_seq)
            s->next_seq = f.seq + 1;
    }
    closedir(d);
    if (s->n)
        qsort(s->files, s->n, sizeof(*s->files), by_seq);
    return 0;
}

int hist__spool_open(hist__spool *s, const char *dir, uint64_t max_bytes, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->max_bytes = max_bytes;
    s->next_seq = 1;
    if (!(s->dir = strdup(dir))) {
        snprintf(err, errlen, "out of memory");
        return FLOE_ENOMEM;
    }
    if (floe_mkdirs(dir, 0750, err, errlen) != 0)
        return FLOE_EIO;
    if (scan(s) != 0) {
        snprintf(err, errlen, "cannot read the spool %s: %s", dir, strerror(errno));
        return FLOE_EIO;
    }
    return 0;
}

void hist__spool_close(hist__spool *s)
{
    free(s->dir);
    free(s->files);
    memset(s, 0, sizeof(*s));
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int hist__spool_push(hist__spool *s, int table, uint32_t rows, const void *gz, size_t len,
                     char *err, size_t errlen)
{
    char tmp[4400], path[4400];
    if (s->bytes + len > s->max_bytes) {
        snprintf(err, errlen, "the spool is full (%llu bytes)", (unsigned long long)s->bytes);
        return FLOE_ELIMIT;
    }
    if (grow(s) != 0) {
        snprintf(err, errlen, "out of memory");
        return FLOE_ENOMEM;
    }
    hist__spool_file f = {.seq = s->next_seq,
                          .table = table,
                          .version = FLOE_HISTORY_SCHEMA,
                          .rows = rows,
                          .bytes = len};
    snprintf(tmp, sizeof(tmp), "%s/.tmp-%016llx", s->dir, (unsigned long long)f.seq);
    file_path(s, &f, path, sizeof(path));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int bad = fd < 0 || write_all(fd, gz, len) != 0 || fsync(fd) != 0;
    if (fd >= 0 && close(fd) != 0)
        bad = 1;
    if (bad || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return FLOE_EIO;
    }
    s->next_seq++;
    s->files[s->n++] = f;
    s->bytes += len;
    return 0;
}

hist__spool_file *hist__spool_head(hist__spool *s)
{
    return s->head < s->n ? &s->files[s->head] : NULL;
}

int hist__spool_read_head(hist__spool *s, floe_buf *out)
{
    char path[4400], chunk[65536];
    hist__spool_file *f = hist__spool_head(s);
    if (!f)
        return FLOE_ENOTFOUND;
    file_path(s, f, path, sizeof(path));
    floe_buf_reset(out);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return FLOE_EIO;
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        floe_buf_append(out, chunk, n);
    int bad = ferror(fp) || !floe_buf_ok(out);
    fclose(fp);
    return bad ? FLOE_EIO : 0;
}

void hist__spool_pop(hist__spool *s)
{
    char path[4400];
    hist__spool_file *f = hist__spool_head(s);
    if (!f)
        return;
    file_path(s, f, path, sizeof(path));
    unlink(path);
    s->bytes -= f->bytes < s->bytes ? f->bytes : s->bytes;
    s->head++;
    if (s->head == s->n)
        s->head = s->n = 0;
}
