/* Daemon flags and --help from a configuration table; see util_conf_cli.h. */
#include "util/util_conf_cli.h"

#include <getopt.h>
#include <string.h>

#include "util/util_status.h"

enum { CLI_CONFIG = 1, CLI_HELP, CLI_TABLE, CLI_ROW0 = 256 }; /* rows above any getopt character */

int32_t util_conf_cli_parse(int argc, char **argv, const util_conf_spec_t *specs, size_t nspecs, util_conf_cli_t *cli)
{
    struct option opts[UTIL_CONF_KEYS_MAX + 4] = {
        {"config", required_argument, NULL, CLI_CONFIG},
        {"help", no_argument, NULL, CLI_HELP},
        {"print-config-table", no_argument, NULL, CLI_TABLE},
    };
    size_t no = 3;
    for (size_t i = 0; i < nspecs && no < UTIL_CONF_KEYS_MAX; i++)
        if (specs[i].flag != NULL) /* a boolean's flag alone means true; --flag=false or --flag false otherwise */
            opts[no++] = (struct option){specs[i].flag, specs[i].type == UTIL_CONF_BOOL ? optional_argument : required_argument,
                                         NULL, CLI_ROW0 + (int)i};
    memset(cli, 0, sizeof(*cli));
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == CLI_CONFIG) cli->config = optarg;
        else if (c == CLI_HELP || c == 'h') cli->help = true;
        else if (c == CLI_TABLE) cli->print_table = true;
        else if (c >= CLI_ROW0 && cli->nset < UTIL_CONF_CLI_MAX) {
            const util_conf_spec_t *sp = &specs[c - CLI_ROW0];
            const char *v = optarg;
            bool b;
            /* "--flag false" (the value as the next word, as before flags stood alone) says the same as --flag=false */
            if (v == NULL && optind < argc && util_conf_parse_bool(argv[optind], &b) == SMEM_OK) v = argv[optind++];
            cli->set[cli->nset].sp = sp;
            cli->set[cli->nset++].value = v != NULL ? v : "true";
        } else if (c >= CLI_ROW0) {
            return util_err_set(SMEM_INVALID_PARAM, "more than %d flags", UTIL_CONF_CLI_MAX);
        } else {
            return util_err_set(SMEM_INVALID_PARAM, "bad option (see --help)");
        }
    }
    if (optind < argc) return util_err_set(SMEM_INVALID_PARAM, "unexpected argument '%s'", argv[optind]);
    return SMEM_OK;
}

int32_t util_conf_cli_apply(const util_conf_cli_t *cli, void *out)
{
    for (size_t i = 0; i < cli->nset; i++) {
        const util_conf_spec_t *sp = cli->set[i].sp;
        char origin[64];
        snprintf(origin, sizeof(origin), "--%s", sp->flag);
        int32_t rc = util_conf_set(sp, origin, cli->set[i].value, (char *)out + sp->offset);
        if (rc != SMEM_OK) return rc;
    }
    return SMEM_OK;
}

/* text from column `col` on, broken at spaces before `width`, continuation lines indented to col. */
static void cli_wrap(FILE *out, const char *text, int col, int width)
{
    int x = col;
    while (*text != '\0') {
        size_t w = strcspn(text, " ");
        if (x > col && x + 1 + (int)w > width) {
            fprintf(out, "\n%*s", col, "");
            x = col;
        } else if (x > col) {
            fputc(' ', out);
            x++;
        }
        fprintf(out, "%.*s", (int)w, text);
        x += (int)w;
        text += w;
        while (*text == ' ') text++;
    }
    fputc('\n', out);
}

static void cli_entry(FILE *out, const char *flag, const char *arg, const char *text)
{
    char head[64];
    int n = snprintf(head, sizeof(head), "  --%s%s%s", flag, arg ? " " : "", arg ? arg : "");
    fprintf(out, "%-24s", head);
    if (n >= 24) fprintf(out, "\n%24s", "");
    cli_wrap(out, text, 24, 110);
}

void util_conf_cli_usage(FILE *out, const char *prog, const char *config_help, const util_conf_spec_t *specs,
                         size_t nspecs)
{
    fprintf(out, "usage: %s [options]\n", prog);
    cli_entry(out, "config", "FILE", config_help);
    for (size_t i = 0; i < nspecs; i++) {
        const util_conf_spec_t *sp = &specs[i];
        if (sp->flag == NULL) continue;
        char text[2048];
        snprintf(text, sizeof(text), "%s (%s, default %s)", sp->help, sp->key,
                 sp->def == NULL ? "none" : sp->def[0] == '\0' ? "\"\"" : sp->def);
        cli_entry(out, sp->flag, sp->arg, text);
    }
    cli_entry(out, "help", NULL, "this text");
    fprintf(out, "See docs/CONFIG.md for every config key.\n");
}

/* ---------- markdown (docs/CONFIG.md) ---------- */

static bool doc_any(const util_conf_spec_t *specs, size_t nspecs, size_t member)
{
    for (size_t i = 0; i < nspecs; i++)
        if (*(const char *const *)((const char *)&specs[i] + member) != NULL) return true;
    return false;
}

static const char *doc_default(const util_conf_spec_t *sp, char *buf, size_t cap)
{
    if (sp->flags & UTIL_CONF_F_IGNORED) snprintf(buf, cap, "—");
    else if (sp->type == UTIL_CONF_GROUP) snprintf(buf, cap, "off");
    else if (sp->def != NULL && sp->def[0] != '\0') snprintf(buf, cap, "`%s`", sp->def);
    else if (sp->type == UTIL_CONF_STR) snprintf(buf, cap, "`\"\"`");
    else snprintf(buf, cap, "`%s`", sp->type == UTIL_CONF_BOOL ? "false" : "0");
    return buf;
}

void util_conf_doc_table(FILE *out, const util_conf_spec_t *specs, size_t nspecs)
{
    bool keyed = doc_any(specs, nspecs, offsetof(util_conf_spec_t, key));
    bool flags = doc_any(specs, nspecs, offsetof(util_conf_spec_t, flag));
    fprintf(out, keyed ? "| key |%s default | values | meaning |\n|---|%s---|---|---|\n"
                       : "| field | Python | default | values | meaning |\n|---|---|---|---|---|\n",
            flags ? " flag |" : "", flags ? "---|" : "");
    for (size_t i = 0; i < nspecs; i++) {
        const util_conf_spec_t *sp = &specs[i];
        if (keyed && sp->key == NULL) continue;
        char def[300], values[300];
        if (keyed) fprintf(out, "| `%s%s` |", sp->key, sp->type == UTIL_CONF_GROUP ? ".*" : "");
        else fprintf(out, "| `%s` | `%s` |", sp->field, sp->py ? sp->py : "");
        if (flags) fprintf(out, sp->flag ? " `--%s` |" : "%s |", sp->flag ? sp->flag : "");
        fprintf(out, " %s | %s | %s |\n", doc_default(sp, def, sizeof(def)), util_conf_values(sp, values, sizeof(values)),
                sp->help ? sp->help : "");
    }
}
