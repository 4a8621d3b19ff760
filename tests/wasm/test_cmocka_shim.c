/* test_cmocka_shim.c — the wasm32 cmocka shim (cmocka_shim/) passes what
 * holds and stops at what does not.
 *
 *   test_cmocka_shim            every assertion on values that satisfy it,
 *                               group and test fixtures, the state cmocka
 *                               would pass; exit 0
 *   test_cmocka_shim CASE       one assertion on values that break it (CASE
 *                               as in `failing` below): exit 1, which meson
 *                               expects (should_fail); 0 if the assertion let
 *                               the test go on, or CASE is unknown
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int group_value = 7, setups, teardowns;

static int group_setup(void **state)
{
    *state = &group_value;
    return 0;
}

static int group_teardown(void **state)
{
    assert_ptr_equal(*state, &group_value);
    return 0;
}

static int test_setup(void **state)
{
    (void)state;
    setups++;
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    teardowns++;
    return 0;
}

static void passing_assertions(void **state)
{
    assert_ptr_equal(*state, &group_value);   /* the group's state */
    assert_true(1);
    assert_false(0);
    assert_int_equal(-1, (int64_t)-1);
    assert_int_not_equal(1, 2);
    assert_float_equal(0.1f, 0.10000001f, 1e-6f);
    assert_non_null(state);
    assert_null(NULL);
    assert_ptr_not_equal(state, NULL);
    assert_string_equal("abc", "abc");
    assert_string_not_equal("abc", "abd");
    assert_memory_equal("abc", "abc", 3);
    assert_in_range(5, 5, 6);
    print_message("print_message %d\n", 1);
}

static void fixtures_ran(void **state)
{
    (void)state;
    assert_int_equal(setups, 1);
    assert_int_equal(teardowns, 1);
}

static void initial_state(void **state)
{
    assert_int_equal(*(int *)*state, 42);   /* no group state: the test's own */
}



static const char *failing[] = {"true", "false", "int_equal", "int_not_equal", "float_equal",
                                "non_null", "null", "ptr_equal", "string_equal",
                                "string_equal_null", "memory_equal", "in_range_low",
                                "in_range_high", "fail", "fail_msg", "group_setup",
                                "test_setup"};
static const char *which;

static void fail_case(void **state)
{
    (void)state;
    int x = 1;
    if (!strcmp(which, "true")) assert_true(0);
    if (!strcmp(which, "false")) assert_false(1);
    if (!strcmp(which, "int_equal")) assert_int_equal(-1, 0xffffffff); /* as uintmax_t */
    if (!strcmp(which, "int_not_equal")) assert_int_not_equal(3, 3);
    if (!strcmp(which, "float_equal")) assert_float_equal(1.0f, 1.001f, 1e-4f);
    if (!strcmp(which, "non_null")) assert_non_null(NULL);
    if (!strcmp(which, "null")) assert_null(&x);
    if (!strcmp(which, "ptr_equal")) assert_ptr_equal(&x, NULL);
    if (!strcmp(which, "string_equal")) assert_string_equal("abc", "abd");
    if (!strcmp(which, "string_equal_null")) assert_string_equal("abc", NULL);
    if (!strcmp(which, "memory_equal")) assert_memory_equal("abcd", "abce", 4);
    if (!strcmp(which, "in_range_low")) assert_in_range(4, 5, 6);
    if (!strcmp(which, "in_range_high")) assert_in_range(7, 5, 6);
    if (!strcmp(which, "fail")) fail();
    if (!strcmp(which, "fail_msg")) fail_msg("%s", "a message");
    if (!strcmp(which, "group_setup") || !strcmp(which, "test_setup"))
        return;   /* their fixtures fail before this runs */
    print_error("case %s: the assertion passed\n", which);
    exit(0);   /* should_fail fails the test */
}

static int failing_setup(void **state)
{
    (void)state;
    return -1;
}

int main(int argc, char **argv)
{
    if (argc == 1) {
        int answer = 42;
        const struct CMUnitTest grouped[] = {
            cmocka_unit_test_setup_teardown(passing_assertions, test_setup, test_teardown),
            cmocka_unit_test(fixtures_ran),
        };
        const struct CMUnitTest own[] = {cmocka_unit_test_prestate(initial_state, &answer)};
        return cmocka_run_group_tests(grouped, group_setup, group_teardown) ||
               cmocka_run_group_tests_name("prestate", own, NULL, NULL);
    }
    which = argv[1];
    for (size_t i = 0; i < sizeof failing / sizeof failing[0]; i++)
        if (!strcmp(which, failing[i])) {
            const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(fail_case,
                                       !strcmp(which, "test_setup") ? failing_setup : NULL)};
            int failed = cmocka_run_group_tests_name(
                "failing", tests, !strcmp(which, "group_setup") ? failing_setup : NULL, NULL);
            /* a fixture's failure is the runner's nonzero return */
            return failed ? 1 : 0;
        }
    fprintf(stderr, "unknown case %s\n", which);
    return 0;
}
