/*
 * A daemon's command line from its configuration table: every row with a
 * flag becomes `--flag VALUE` (a boolean's: `--flag` for true, or
 * `--flag=VALUE`), parsed by the row's own parser, plus
 * `--config FILE`, `--help` and the hidden `--print-config-table` (the
 * markdown of docs/CONFIG.md). Flags are collected first and applied over the
 * file afterwards, so they override it. Not thread-safe (getopt).
 */
#ifndef UTIL_CONF_CLI_H
#define UTIL_CONF_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "util/util_conf.h"

#define UTIL_CONF_CLI_MAX 32 /* flags given on one command line */

typedef struct util_conf_cli {
    const char *config; /* --config FILE; NULL when not given */
    bool help;          /* --help or -h */
    bool print_table;   /* --print-config-table */
    size_t nset;
    struct {
        const util_conf_spec_t *sp;
        const char *value;
    } set[UTIL_CONF_CLI_MAX];
} util_conf_cli_t;

/* SMEM_INVALID_PARAM with a message on an unknown flag or a stray argument. */
int32_t util_conf_cli_parse(int argc, char **argv, const util_conf_spec_t *specs, size_t nspecs, util_conf_cli_t *cli);
/* The flags' values into out, in command-line order; SMEM_CONFIG naming the flag. */
int32_t util_conf_cli_apply(const util_conf_cli_t *cli, void *out);
/* `usage: PROG [options]` and one entry per flag; config_help describes --config. */
void util_conf_cli_usage(FILE *out, const char *prog, const char *config_help, const util_conf_spec_t *specs,
                         size_t nspecs);

/* The table as markdown (docs/CONFIG.md): | key | flag | default | values | meaning |,
 * or | field | Python | ... | for a table without file keys. */
void util_conf_doc_table(FILE *out, const util_conf_spec_t *specs, size_t nspecs);

#endif
