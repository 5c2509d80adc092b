/*
 * The main of a cmocka unit test, with cases chosen on the command line:
 *   test_foo              every case (what ctest runs)
 *   test_foo --list       the case names, one a line
 *   test_foo NAME...      only those cases, in table order; a NAME may be a
 *                         shell glob and may leave out the "test_" prefix
 * The group setup and teardown run as usual around the chosen cases.
 * Use: return TU_RUN_TESTS(argc, argv, tests, group_setup, group_teardown);
 */
#ifndef TU_CMOCKA_H
#define TU_CMOCKA_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

int tu_cmocka_main(int argc, char **argv, const char *group, const struct CMUnitTest *tests, size_t n,
                   CMFixtureFunction setup, CMFixtureFunction teardown);

#define TU_RUN_TESTS(argc, argv, tests, setup, teardown) \
    tu_cmocka_main((argc), (argv), #tests, (tests), sizeof(tests) / sizeof((tests)[0]), (setup), (teardown))

#endif
