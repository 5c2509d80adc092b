/*
 * mmc-config-doc: the option tables of docs/CONFIG.md from the config tables.
 *
 *   mmc-config-doc --check FILE   exit 1 when a table in FILE differs from the code (ctest lint.config_doc)
 *   mmc-config-doc --write FILE   rewrite the tables in FILE
 *   mmc-config-doc NAME           print one table (meta, local, client, tls, bm)
 *
 * A table in the file is the text between `<!-- config-table NAME -->` and
 * `<!-- /config-table -->`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/common/mmc_conf.h"
#include "net/net.h"
#include "smem/smem_bm_conf.h"
#include "util/util_conf_cli.h"

#define DOC_BEGIN "<!-- config-table "
#define DOC_END "<!-- /config-table -->"

static int doc_print(FILE *out, const char *name)
{
    static const struct {
        const char *name;
        const util_conf_spec_t *rows;
        const size_t *n;
    } tables[] = {
        {"meta", mmc_meta_conf_table, &mmc_meta_conf_rows},     {"local", mmc_local_conf_table, &mmc_local_conf_rows},
        {"client", mmc_client_conf_table, &mmc_client_conf_rows}, {"bm", sm_bm_conf_table, &sm_bm_conf_rows},
    };
    if (strcmp(name, "tls") == 0) {
        util_conf_doc_table(out, net_tls_conf_rows, NET_TLS_CONF_NROWS);
        return 0;
    }
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        if (strcmp(name, tables[i].name) != 0) continue;
        util_conf_doc_table(out, tables[i].rows, *tables[i].n);
        return 0;
    }
    fprintf(stderr, "mmc-config-doc: no table '%s' (meta, local, client, tls, bm)\n", name);
    return -1;
}

static char *doc_read(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) return NULL;
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', f);
    fclose(f);
    if (n < 0) free(text);
    return n < 0 ? NULL : text;
}

/* The file with every table regenerated; NULL on a bad marker. */
static char *doc_render(const char *text)
{
    char *out = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&out, &len);
    const char *p = text, *b;
    int rc = 0;
    while (rc == 0 && (b = strstr(p, DOC_BEGIN)) != NULL) {
        const char *eol = strchr(b, '\n'), *end = strstr(b, DOC_END);
        char name[32];
        if (eol == NULL || end == NULL || sscanf(b + strlen(DOC_BEGIN), "%31[a-z]", name) != 1) {
            fprintf(stderr, "mmc-config-doc: unterminated or unnamed table marker\n");
            rc = -1;
            break;
        }
        fwrite(p, 1, (size_t)(eol + 1 - p), o);
        rc = doc_print(o, name);
        p = end;
    }
    fputs(p, o);
    fclose(o);
    if (rc != 0) free(out);
    return rc == 0 ? out : NULL;
}

int main(int argc, char **argv)
{
    if (argc == 2) return doc_print(stdout, argv[1]) == 0 ? 0 : 2;
    if (argc != 3 || (strcmp(argv[1], "--check") != 0 && strcmp(argv[1], "--write") != 0)) {
        fprintf(stderr, "usage: mmc-config-doc --check FILE | --write FILE | NAME\n");
        return 2;
    }
    char *text = doc_read(argv[2]);
    char *want = text ? doc_render(text) : NULL;
    if (want == NULL) {
        fprintf(stderr, "mmc-config-doc: cannot read %s\n", argv[2]);
        free(text);
        return 2;
    }
    int rc = 0;
    if (strcmp(argv[1], "--check") == 0 && strcmp(text, want) != 0) {
        fprintf(stderr, "mmc-config-doc: the option tables of %s differ from the code's config tables; run "
                        "mmc-config-doc --write %s\n", argv[2], argv[2]);
        rc = 1;
    } else if (strcmp(argv[1], "--write") == 0) {
        FILE *f = fopen(argv[2], "w");
        rc = f == NULL || fputs(want, f) < 0 ? 2 : 0;
        if (f != NULL && fclose(f) != 0) rc = 2;
    }
    free(text);
    free(want);
    return rc;
}
