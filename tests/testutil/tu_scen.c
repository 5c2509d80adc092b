/* Named scenarios for integration drivers (see tu_scen.h). */
#include "tu_scen.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "util/util_time.h"

static const tu_scen_t *sc_table;
static int sc_n;
static bool sc_on[TU_SCEN_MAX];

static int sc_find(const char *name)
{
    for (int i = 0; i < sc_n; i++)
        if (strcmp(sc_table[i].name, name) == 0) return i;
    return -1;
}

static void sc_usage(FILE *f, const char *prog)
{
    fprintf(f, "usage: %s [--list] [SCENARIO...]\n  no SCENARIO: all of them; names may be shell globs.\nscenarios:\n",
            prog);
    for (int i = 0; i < sc_n; i++)
        fprintf(f, "  %-16s %s%s%s%s\n", sc_table[i].name, sc_table[i].what ? sc_table[i].what : "",
                sc_table[i].needs ? " (runs after " : "", sc_table[i].needs ? sc_table[i].needs : "",
                sc_table[i].needs ? ")" : "");
}

/* Chooses i and, before it, what it continues. */
static void sc_choose(int i)
{
    for (int depth = 0; i >= 0 && depth < TU_SCEN_MAX && !sc_on[i]; depth++) {
        sc_on[i] = true;
        const char *needs = sc_table[i].needs;
        if (needs == NULL) break;
        int j = sc_find(needs);
        if (j >= 0 && !sc_on[j])
            fprintf(stderr, "scenario %s continues the state of %s: running that too\n", sc_table[i].name, needs);
        i = j;
    }
}

int tu_scen_args(int argc, char **argv, const tu_scen_t *table, int n)
{
    sc_table = table;
    sc_n = n < TU_SCEN_MAX ? n : TU_SCEN_MAX;
    memset(sc_on, 0, sizeof(sc_on));
    const char *prog = argc > 0 ? argv[0] : "driver";
    if (argc <= 1) {
        for (int i = 0; i < sc_n; i++) sc_on[i] = true;
        return -1;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--list") == 0) {
            for (int i = 0; i < sc_n; i++) printf("%s\n", table[i].name);
            return 0;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            sc_usage(stdout, prog);
            return 0;
        }
        if (arg[0] == '-') {
            fprintf(stderr, "%s: unknown option %s\n", prog, arg);
            sc_usage(stderr, prog);
            return 2;
        }
        bool any = false;
        for (int i = 0; i < sc_n; i++)
            if (fnmatch(arg, table[i].name, 0) == 0) {
                sc_choose(i);
                any = true;
            }
        if (!any) {
            fprintf(stderr, "%s: no scenario matches '%s'\n", prog, arg);
            sc_usage(stderr, prog);
            return 2;
        }
    }
    return -1;
}

bool tu_scen_on(const char *name)
{
    int i = sc_find(name);
    return i >= 0 && sc_on[i];
}

void tu_scen_run(void)
{
    for (int i = 0; i < sc_n; i++) {
        if (!sc_on[i] || sc_table[i].run == NULL) continue;
        int p0 = tu_passed, f0 = tu_failed;
        uint64_t t0 = util_now_ms();
        fprintf(stderr, "=== scenario %s\n", sc_table[i].name);
        sc_table[i].run();
        fflush(stdout);
        fprintf(stderr, "=== %s: %d passed, %d failed (%.1f s)\n", sc_table[i].name, tu_passed - p0, tu_failed - f0,
                (double)(util_now_ms() - t0) / 1000.0);
    }
}
