/*
 * A small unit-test runner: each test runs in its own forked process under
 * a timeout, so a crash or a hang fails that test alone. ASSERT_EQ and
 * friends print both values on failure.
 */
#ifndef FLOE_TEST_RUNNER_H
#define FLOE_TEST_RUNNER_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

#define TEST(name) static void test_##name(void)
#define TEST_ENTRY(name)                                                                           \
    {                                                                                              \
#name, test_##name                                                                         \
    }

/* Runs every case; returns the process exit code (0, or 1 on any failure). */
int test_run(const test_case *cases, size_t n, int argc, char **argv);

void test__fail(const char *file, int line, const char *expr, const char *detail);

#define ASSERT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            test__fail(__FILE__, __LINE__, #cond, NULL);                                           \
    } while (0)

#define ASSERT_CMP_INT(a, op, b)                                                                   \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (!(a_ op b_)) {                                                                         \
            char d_[128];                                                                          \
            snprintf(d_, sizeof(d_), "left = %lld, right = %lld", a_, b_);                         \
            test__fail(__FILE__, __LINE__, #a " " #op " " #b, d_);                                 \
        }                                                                                          \
    } while (0)

#define ASSERT_EQ(a, b) ASSERT_CMP_INT(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_CMP_INT(a, !=, b)
#define ASSERT_GT(a, b) ASSERT_CMP_INT(a, >, b)
#define ASSERT_GE(a, b) ASSERT_CMP_INT(a, >=, b)
#define ASSERT_LE(a, b) ASSERT_CMP_INT(a, <=, b)

#define ASSERT_U64_EQ(a, b)                                                                        \
    do {                                                                                           \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                           \
        if (a_ != b_) {                                                                            \
            char d_[128];                                                                          \
            snprintf(d_, sizeof(d_), "left = %" PRIu64 ", right = %" PRIu64, a_, b_);              \
            test__fail(__FILE__, __LINE__, #a " == " #b, d_);                                      \
        }                                                                                          \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            char d_[1024];                                                                         \
            snprintf(d_, sizeof(d_), "left = \"%s\", right = \"%s\"", a_ ? a_ : "(null)",          \
                     b_ ? b_ : "(null)");                                                          \
            test__fail(__FILE__, __LINE__, #a " == " #b, d_);                                      \
        }                                                                                          \
    } while (0)

#define ASSERT_CONTAINS(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_)) {                                                              \
            char d_[1024];                                                                         \
            snprintf(d_, sizeof(d_), "\"%.700s\" does not contain \"%.200s\"", h_ ? h_ : "(null)", \
                     n_);                                                                          \
            test__fail(__FILE__, __LINE__, #hay " contains " #needle, d_);                         \
        }                                                                                          \
    } while (0)

#define TEST_MAIN(...)                                                                             \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const test_case cases_[] = {__VA_ARGS__};                                           \
        return test_run(cases_, sizeof(cases_) / sizeof(cases_[0]), argc, argv);                   \
    }

#endif
