/*
 * main.c - pmd-abi-check: the command line. Parses options, picks the checks,
 * runs each in a forked child with its timeout and reports.
 *
 *   pmd-abi-check PLUGIN.so [--json] [--only NAME[,NAME...]] [--config FILE]
 *                 [--valgrind-safe] [--in-process --only NAME]
 *   pmd-abi-check --list | -h | --help | --version
 *
 * Exit status: 0 all passed or skipped, 1 a check failed, 2 usage error
 * (a missing or unreadable plugin file included).
 * docs/man/pmd-abi-check.1 documents the same options: keep them in step
 * (tests/cli_docs.sh compares them).
 */
#include "abi_check.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define AC_HAVE_VALGRIND_H 1
#endif
#endif

#ifndef PMD_VERSION
#define PMD_VERSION "0.0.0"
#endif

typedef struct options {
    const char *plugin;
    const char *only;
    const char *config_file;
    int json, list, valgrind_safe, in_process;
} options_t;

static const char usage_text[] =
    "usage: pmd-abi-check PLUGIN.so [OPTION...]\n"
    "       pmd-abi-check --list | -h | --help | --version\n"
    "\n"
    "Loads a pmd plugin in a test host and checks it against plugin.abi.md, each\n"
    "check in a child process with its own timeout.\n"
    "\n"
    "  --json                 one JSON document on stdout instead of text lines\n"
    "  --only NAME[,NAME...]  run only these checks (names as --list shows them)\n"
    "  --list                 list every check (name, rule, what it checks), exit\n"
    "  --config FILE          config text for the instances the checks create\n"
    "                         (default: the plugin's pmd.ext.conformance/1\n"
    "                         template, else \"{}\")\n"
    "  --valgrind-safe        longer timeouts and fewer cycles, timing checks\n"
    "                         skipped; implied when the checker runs under\n"
    "                         valgrind (it detects that itself)\n"
    "  --in-process           run the one check named by --only in this process:\n"
    "                         no fork, no timeout, a crash is the checker's own\n"
    "                         (for gdb: gdb --args pmd-abi-check --in-process\n"
    "                         --only CHECK PLUGIN.so)\n"
    "  -h, --help             print this help and exit\n"
    "  --version              print the version and plugin ABI and exit\n"
    "\n"
    "Exit status: 0 no check failed (passed or skipped), 1 a check failed,\n"
    "2 usage error (an unknown option or check, no plugin, a plugin file that is\n"
    "missing or unreadable, an unreadable --config file) or the checker could\n"
    "not run.\n";

static void usage(FILE *to)
{
    fputs(usage_text, to);
}

static int parse_args(int argc, char **argv, options_t *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0)
            o->json = 1;
        else if (strcmp(a, "--list") == 0)
            o->list = 1;
        else if (strcmp(a, "--valgrind-safe") == 0)
            o->valgrind_safe = 1;
        else if (strcmp(a, "--in-process") == 0)
            o->in_process = 1;
        else if (strcmp(a, "--only") == 0 && i + 1 < argc)
            o->only = argv[++i];
        else if (strncmp(a, "--only=", 7) == 0)
            o->only = a + 7;
        else if (strcmp(a, "--config") == 0 && i + 1 < argc)
            o->config_file = argv[++i];
        else if (strncmp(a, "--config=", 9) == 0)
            o->config_file = a + 9;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--version") == 0) {
            printf("pmd-abi-check %s (plugin ABI %d.%d)\n", PMD_VERSION, PMD_ABI_VERSION_MAJOR,
                   PMD_ABI_VERSION_MINOR);
            exit(0);
        } else if (a[0] == '-') {
            fprintf(stderr, "pmd-abi-check: unknown or incomplete option %s\n", a);
            return -1;
        } else if (o->plugin == NULL) {
            o->plugin = a;
        } else {
            fprintf(stderr, "pmd-abi-check: more than one plugin given (%s)\n", a);
            return -1;
        }
    }
    if (o->plugin == NULL && !o->list) {
        fprintf(stderr, "pmd-abi-check: no plugin given\n");
        return -1;
    }
    if (o->in_process && (o->only == NULL || strchr(o->only, ',') != NULL || o->only[0] == '\0')) {
        fprintf(stderr, "pmd-abi-check: --in-process runs exactly one check: add --only NAME\n");
        return -1;
    }
    return 0;
}

/* A plugin file that is missing, unreadable or not an ELF file is the
 * caller's mistake, not the plugin's: one line and exit 2, instead of every
 * check failing on it. Anything past the ELF magic is for the checks. */
static int plugin_file_usable(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "pmd-abi-check: cannot read plugin file %s: %s\n", path, strerror(errno));
        return 0;
    }
    struct stat st;
    unsigned char magic[4] = {0};
    ssize_t got = 0;
    int regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (regular)
        got = read(fd, magic, sizeof(magic));
    int saved = errno;
    close(fd);
    if (!regular) {
        fprintf(stderr, "pmd-abi-check: plugin %s is not a regular file\n", path);
        return 0;
    }
    if (got < 0) {
        fprintf(stderr, "pmd-abi-check: cannot read plugin file %s: %s\n", path, strerror(saved));
        return 0;
    }
    if (got != 4 || memcmp(magic, "\177ELF", 4) != 0) {
        fprintf(stderr, "pmd-abi-check: plugin %s is not an ELF file (%s)\n", path,
                got == 0 ? "empty" : "no ELF magic");
        return 0;
    }
    return 1;
}

/*
 * Whether this process runs under valgrind: the client request when
 * valgrind.h was there at build time, else valgrind's preload library in
 * LD_PRELOAD (valgrind sets it for the program it runs).
 */
static int under_valgrind(void)
{
#ifdef AC_HAVE_VALGRIND_H
    if (RUNNING_ON_VALGRIND)
        return 1;
#endif
    const char *preload = getenv("LD_PRELOAD");
    return preload != NULL && strstr(preload, "vgpreload") != NULL;
}

static const ac_check_t *find_check(const char *name, size_t len)
{
    for (size_t i = 0; i < ac_check_count; i++)
        if (strlen(ac_checks[i].name) == len && strncmp(ac_checks[i].name, name, len) == 0)
            return &ac_checks[i];
    return NULL;
}

/* Marks the checks named in a comma-separated list; -1 on an unknown name. */
static int select_checks(const char *only, int *selected)
{
    for (size_t i = 0; i < ac_check_count; i++)
        selected[i] = only == NULL;
    if (only == NULL)
        return 0;
    for (const char *p = only; *p;) {
        size_t len = strcspn(p, ",");
        const ac_check_t *c = find_check(p, len);
        if (c == NULL && len > 0) {
            fprintf(stderr, "pmd-abi-check: unknown check \"%.*s\" (see --list)\n", (int)len, p);
            return -1;
        }
        if (c != NULL)
            selected[c - ac_checks] = 1;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf != NULL && (k = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += k;
        if (len + 1 == cap) {
            char *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf != NULL)
        buf[len] = '\0';
    return buf;
}

static void list_checks(void)
{
    for (size_t i = 0; i < ac_check_count; i++)
        printf("%-19s %-23s %s\n", ac_checks[i].name, ac_checks[i].rule, ac_checks[i].description);
}

typedef struct run_arg {
    const ac_check_t *check;
    const ac_ctx_t *ctx;
} run_arg_t;

static void run_in_child(void *arg, ac_result_t *r)
{
    const run_arg_t *ra = arg;
    ra->check->fn(ra->ctx, r);
}

/* --in-process: the one selected check, called directly (no fork, no
 * timeout); its own sub-scenarios run inline too (ac_subprocess_inline). */
static int run_in_process(const options_t *o, const ac_ctx_t *ctx, const int *selected)
{
    const ac_check_t *c = NULL;
    for (size_t i = 0; i < ac_check_count && c == NULL; i++)
        if (selected[i])
            c = &ac_checks[i];
    if (c == NULL)
        return 2;
    ac_subprocess_inline = 1;
    ac_result_t *result = calloc(1, sizeof(*result));
    if (result == NULL)
        return 2;
    c->fn(ctx, result);
    result->reason[sizeof(result->reason) - 1] = '\0';
    int v = result->verdict;
    if (o->json) {
        report_json(o->plugin, &c, result, 1, v == AC_PASS, v == AC_FAIL, v == AC_SKIP);
    } else {
        report_text_line(c, result);
        report_text_summary(v == AC_PASS, v == AC_FAIL, v == AC_SKIP);
    }
    free(result);
    return v == AC_FAIL ? 1 : 0;
}

static int run_checks(const options_t *o, const ac_ctx_t *ctx, const int *selected)
{
    const ac_check_t *ran[AC_MAX_CHECKS];
    ac_result_t *results = calloc(ac_check_count, sizeof(*results));
    if (results == NULL)
        return 2;
    int passed = 0, failed = 0, skipped = 0;
    size_t n = 0;
    for (size_t i = 0; i < ac_check_count; i++) {
        if (!selected[i])
            continue;
        run_arg_t ra = {&ac_checks[i], ctx};
        int timeout = ac_checks[i].timeout_s * (ctx->valgrind_safe ? 4 : 1);
        ac_subprocess(run_in_child, &ra, timeout, &results[n]);
        results[n].reason[sizeof(results[n].reason) - 1] = '\0';
        int v = results[n].verdict;
        passed += v == AC_PASS;
        failed += v == AC_FAIL;
        skipped += v == AC_SKIP;
        if (!o->json)
            report_text_line(&ac_checks[i], &results[n]);
        ran[n++] = &ac_checks[i];
    }
    if (o->json)
        report_json(o->plugin, ran, results, n, passed, failed, skipped);
    else
        report_text_summary(passed, failed, skipped);
    free(results);
    return failed > 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    options_t o;
    if (parse_args(argc, argv, &o) != 0) {
        fputs("pmd-abi-check: see --help\n", stderr);
        return 2;
    }
    if (o.list) {
        list_checks();
        return 0;
    }
    int selected[AC_MAX_CHECKS];
    if (select_checks(o.only, selected) != 0)
        return 2;
    char *config = NULL;
    if (o.config_file != NULL && (config = read_file(o.config_file)) == NULL) {
        fprintf(stderr, "pmd-abi-check: cannot read config file %s\n", o.config_file);
        return 2;
    }
    if (!plugin_file_usable(o.plugin)) {
        free(config);
        return 2;
    }
    /* dlopen() searches the library path for a name without a slash. */
    char *path = malloc(strlen(o.plugin) + 3);
    if (path == NULL)
        return 2;
    sprintf(path, "%s%s", strchr(o.plugin, '/') ? "" : "./", o.plugin);
    int valgrind_safe = o.valgrind_safe;
    if (!valgrind_safe && under_valgrind()) {
        valgrind_safe = 1;
        fputs("pmd-abi-check: running under valgrind: as --valgrind-safe (longer timeouts, "
              "fewer cycles, no memory-growth bounds; tick-cost, stop-bound and "
              "handover-stop-bound skipped)\n",
              stderr);
    }
    ac_ctx_t ctx = {path, config, valgrind_safe};
    int rc = o.in_process ? run_in_process(&o, &ctx, selected) : run_checks(&o, &ctx, selected);
    free(path);
    free(config);
    return rc;
}
