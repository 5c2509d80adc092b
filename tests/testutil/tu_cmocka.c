/* The main of a cmocka unit test with cases chosen by name (see tu_cmocka.h). */
#include "tu_cmocka.h"

#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool tu_case_matches(const char *pattern, const char *name)
{
    if (fnmatch(pattern, name, 0) == 0) return true;
    char full[256];
    snprintf(full, sizeof(full), "test_%s", pattern);
    return fnmatch(full, name, 0) == 0;
}

static void tu_case_usage(FILE *f, const char *prog, const struct CMUnitTest *tests, size_t n)
{
    fprintf(f, "usage: %s [--list] [CASE...]\n  no CASE: all of them; a CASE may be a shell glob, \"test_\" may be "
               "left out.\ncases:\n", prog);
    for (size_t i = 0; i < n; i++) fprintf(f, "  %s\n", tests[i].name);
}

int tu_cmocka_main(int argc, char **argv, const char *group, const struct CMUnitTest *tests, size_t n,
                   CMFixtureFunction setup, CMFixtureFunction teardown)
{
    const char *prog = argc > 0 ? argv[0] : group;
    if (argc <= 1) return _cmocka_run_group_tests(group, tests, n, setup, teardown);
    bool *on = calloc(n ? n : 1, sizeof(*on));
    struct CMUnitTest *chosen = calloc(n ? n : 1, sizeof(*chosen));
    if (on == NULL || chosen == NULL) return 1;
    int rc = -1;
    for (int a = 1; a < argc && rc < 0; a++) {
        if (strcmp(argv[a], "--list") == 0) {
            for (size_t i = 0; i < n; i++) printf("%s\n", tests[i].name);
            rc = 0;
        } else if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
            tu_case_usage(stdout, prog, tests, n);
            rc = 0;
        } else {
            bool any = false;
            for (size_t i = 0; i < n; i++)
                if (tu_case_matches(argv[a], tests[i].name)) on[i] = any = true;
            if (!any) {
                fprintf(stderr, "%s: no case matches '%s'\n", prog, argv[a]);
                tu_case_usage(stderr, prog, tests, n);
                rc = 2;
            }
        }
    }
    if (rc < 0) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (on[i]) chosen[k++] = tests[i];
        rc = _cmocka_run_group_tests(group, chosen, k, setup, teardown);
    }
    free(on);
    free(chosen);
    return rc;
}
