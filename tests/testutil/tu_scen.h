/*
 * Named scenarios for integration drivers, chosen on the command line:
 *   it_foo              every scenario, in table order (what ctest runs)
 *   it_foo --list       the names, one a line with what each does
 *   it_foo NAME...      only those (shell globs allowed), still in table order
 * A scenario that continues another's state names it in `needs`; choosing it
 * chooses that one too (said on stderr), so any one name runs alone.
 */
#ifndef TU_SCEN_H
#define TU_SCEN_H

#include <stdbool.h>

typedef struct tu_scen {
    const char *name;
    void (*run)(void); /* for tu_scen_run; NULL where the driver asks tu_scen_on() itself */
    const char *what;  /* one line for --list */
    const char *needs; /* NULL, or the scenario whose state this one continues */
} tu_scen_t;

#define TU_SCEN_MAX 64

/* Parses argv[1..] against the table (at most TU_SCEN_MAX entries). Returns -1
 * to go on, or the code main returns now: 0 after --list or --help, 2 after an
 * unknown name or option (with the usage on stderr). */
int tu_scen_args(int argc, char **argv, const tu_scen_t *table, int n);
/* Whether the scenario of that name is chosen (after tu_scen_args). */
bool tu_scen_on(const char *name);
/* Runs the chosen scenarios' run() in table order, each between two lines on
 * stderr: "=== scenario NAME" and "=== NAME: N passed, M failed (S s)". */
void tu_scen_run(void);

#endif
