/*
 * The unit-test runner: forks per test, applies a timeout, and reports in
 * the automake test-driver's terms (exit 0 pass, 1 fail).
 */
#include "tests/unit/runner.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_TIMEOUT_S 30

void test__fail(const char *file, int line, const char *expr, const char *detail)
{
    fprintf(stderr, "  %s:%d: assertion failed: %s\n", file, line, expr);
    if (detail)
        fprintf(stderr, "    %s\n", detail);
    fflush(stderr);
    _exit(1);
}

static int run_one(const test_case *t)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        alarm(TEST_TIMEOUT_S);
        t->fn();
        fflush(stdout);
        _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFEXITED(status))
        return WEXITSTATUS(status) != 0;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        fprintf(stderr, "  killed by signal %d%s\n", sig, sig == SIGALRM ? " (timed out)" : "");
    }
    return 1;
}

int test_run(const test_case *cases, size_t n, int argc, char **argv)
{
    int failed = 0, ran = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        ran++;
        int bad = run_one(&cases[i]);
        printf("%s %s\n", bad ? "FAIL" : "ok  ", cases[i].name);
        failed += bad;
    }
    printf("%d of %d passed\n", ran - failed, ran);
    return failed ? 1 : (ran ? 0 : 1);
}
