/* A tiny C test harness: DS_TEST(name) { ... CHECK(cond); ... } and a main from DS_TEST_MAIN().
 * Each test binary closes with "N passed, N failed". */
#ifndef DS_TEST_H
#define DS_TEST_H
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dynastat.h"

typedef void (*ds_test_fn)(int *failed);
typedef struct ds_test_case {
    const char *name;
    ds_test_fn fn;
} ds_test_case;

#define DS_TEST_MAX 512
static ds_test_case ds_tests_[DS_TEST_MAX];
static int ds_ntests_;

#define DS_TEST(name)                                                                              \
    static void name(int *ds_failed_);                                                             \
    __attribute__((constructor)) static void reg_##name(void) {                                   \
        ds_tests_[ds_ntests_++] = (ds_test_case){#name, name};                                     \
    }                                                                                              \
    static void name(int *ds_failed_)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                      \
            *ds_failed_ = 1;                                                                       \
        }                                                                                          \
    } while (0)

/* Checks that a ds_status expression is DS_OK, printing the error message otherwise. */
#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        ds_status s_ = (expr);                                                                     \
        if (s_ != DS_OK) {                                                                         \
            printf("  %s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, ds_error_message());     \
            *ds_failed_ = 1;                                                                       \
        }                                                                                          \
    } while (0)

/* Checks that expr fails with `code` and that the message contains `substr`. */
#define CHECK_ERR(expr, code, substr)                                                              \
    do {                                                                                           \
        ds_status s_ = (expr);                                                                     \
        if (s_ != (code) || !strstr(ds_error_message(), (substr))) {                               \
            printf("  %s:%d: expected error %d containing \"%s\", got %d \"%s\"\n", __FILE__,       \
                   __LINE__, (int)(code), (substr), (int)s_, ds_error_message());                  \
            *ds_failed_ = 1;                                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol) CHECK(fabs((double)(a) - (double)(b)) <= (tol))

#define DS_TEST_MAIN()                                                                             \
    int main(void) {                                                                               \
        int passed = 0, failed = 0;                                                                \
        for (int i = 0; i < ds_ntests_; i++) {                                                     \
            int f = 0;                                                                             \
            ds_error_clear();                                                                      \
            ds_tests_[i].fn(&f);                                                                   \
            printf("%s %s\n", f ? "FAIL" : "ok  ", ds_tests_[i].name);                             \
            if (f) failed++;                                                                       \
            else passed++;                                                                         \
        }                                                                                          \
        printf("%d passed, %d failed\n", passed, failed);                                          \
        return failed ? 1 : 0;                                                                     \
    }
#endif
