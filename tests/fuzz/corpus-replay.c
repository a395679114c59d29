/*
 * Runs fuzz inputs through the harness without libFuzzer: every file named
 * on the command line (directories are walked one level). `make check` runs
 * it over the seed corpus and over regressions/, the inputs that once
 * crashed floe, so each fix stays fixed in every build, sanitizers or not.
 */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Inputs under a tcp/ or capture/ folder are streams and capture files;
 * the rest are datagrams. */
static void replay_one(const char *path, const uint8_t *buf, size_t n)
{
    if (strstr(path, "/tcp/")) {
        fuzz_feed_stream(buf, n);
    } else if (strstr(path, "/capture/")) {
        fuzz_feed_capture(buf, n);
    } else {
        fuzz_feed(buf, n, 1);
        fuzz_feed(buf, n, 0);
    }
}

static int run_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "corpus-replay: cannot open %s\n", path);
        return 1;
    }
    static uint8_t buf[4 << 20];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    replay_one(path, buf, n);
    (*count)++;
    return 0;
}

static int run_path(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "corpus-replay: cannot stat %s\n", path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path, count);
    DIR *d = opendir(path);
    struct dirent *e;
    int rc = 0;
    char full[4096];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode))
            rc |= run_path(full, count);
        else
            rc |= run_file(full, count);
    }
    if (d)
        closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int rc = 0;
    const char *srcdir = getenv("FLOE_SRCDIR");
    char def[2][4096];
    if (argc < 2 && srcdir) {
        snprintf(def[0], sizeof(def[0]), "%s/tests/fuzz/corpus", srcdir);
        snprintf(def[1], sizeof(def[1]), "%s/tests/fuzz/regressions", srcdir);
        for (int i = 0; i < 2; i++)
            rc |= run_path(def[i], &count);
    }
    for (int i = 1; i < argc; i++)
        rc |= run_path(argv[i], &count);
    printf("corpus-replay: %zu inputs, no crash\n", count);
    return rc || count == 0;
}
