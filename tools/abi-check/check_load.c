/*
 * check_load.c - the checks that need no instance: the library loads, it
 * exports only pmd_plugin_entry, its descriptor is sane, and it refuses
 * other ABI majors (plugin.abi.md ABI-LOAD, ABI-EXPORT, ABI-DESCRIPTOR,
 * ABI-VERSION).
 */
#include "abi_check.h"
#include "test_host.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

void ac_check_load(const ac_ctx_t *ctx, ac_result_t *r)
{
    dlerror();
    void *h = dlopen(ctx->plugin_path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *e = dlerror();
        ac_fail(r, "dlopen(RTLD_NOW | RTLD_LOCAL) failed: %s", e ? e : "unknown error");
        return;
    }
    int has_entry = dlsym(h, PMD_PLUGIN_ENTRY_SYMBOL) != NULL;
    dlclose(h);
    if (!has_entry)
        ac_fail(r, "loaded, but dlsym(%s) finds nothing", PMD_PLUGIN_ENTRY_SYMBOL);
    ac_note(r, "dlopen(RTLD_NOW | RTLD_LOCAL) resolves every symbol");
}

typedef struct exports_seen {
    int entry, entry_is_function, extra;
    char extras[512];
} exports_seen_t;

static void on_symbol(void *arg, const char *name, int is_function)
{
    exports_seen_t *s = arg;
    if (strcmp(name, PMD_PLUGIN_ENTRY_SYMBOL) == 0) {
        s->entry = 1;
        s->entry_is_function = is_function;
        return;
    }
    size_t used = strlen(s->extras);
    if (s->extra++ < 8 && used < sizeof(s->extras))
        snprintf(s->extras + used, sizeof(s->extras) - used, "%s%s", used ? ", " : "", name);
}

void ac_check_exports(const ac_ctx_t *ctx, ac_result_t *r)
{
    exports_seen_t seen;
    char why[256];
    memset(&seen, 0, sizeof(seen));
    if (ac_elf_exports(ctx->plugin_path, on_symbol, &seen, why, sizeof(why)) != 0) {
        ac_fail(r, "cannot read the dynamic symbol table: %s", why);
        return;
    }
    ac_figure(r, "extra_exports", seen.extra, "symbols");
    if (!seen.entry)
        ac_fail(r, "%s is not exported", PMD_PLUGIN_ENTRY_SYMBOL);
    else if (!seen.entry_is_function)
        ac_fail(r, "%s is exported but is not a function", PMD_PLUGIN_ENTRY_SYMBOL);
    if (seen.extra > 0)
        ac_fail(r, "%d symbol(s) exported besides %s: %s%s", seen.extra, PMD_PLUGIN_ENTRY_SYMBOL,
                seen.extras, seen.extra > 8 ? ", ..." : "");
    ac_note(r, "exports %s and nothing else of its own", PMD_PLUGIN_ENTRY_SYMBOL);
}

/* dlopen + dlsym, without the loader's vetting: these checks judge that. */
static void *open_entry(const ac_ctx_t *ctx, pmd_plugin_entry_fn *entry, ac_result_t *r)
{
    void *h = dlopen(ctx->plugin_path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *e = dlerror();
        ac_fail(r, "dlopen failed: %s", e ? e : "unknown error");
        return NULL;
    }
    *(void **)entry = dlsym(h, PMD_PLUGIN_ENTRY_SYMBOL);
    if (*entry == NULL) {
        ac_fail(r, "no %s", PMD_PLUGIN_ENTRY_SYMBOL);
        dlclose(h);
        return NULL;
    }
    return h;
}

/* What the first entry call showed, to compare with the second. */
typedef struct first_look {
    const char *name, *version;
    char name_copy[128], version_copy[128];
} first_look_t;

static void take_first_look(const pmd_plugin_t *a, first_look_t *f)
{
    f->name = a->name;
    f->version = a->version;
    snprintf(f->name_copy, sizeof(f->name_copy), "%s", a->name ? a->name : "");
    snprintf(f->version_copy, sizeof(f->version_copy), "%s", a->version ? a->version : "");
}

static void check_strings(const first_look_t *f, const pmd_plugin_t *b, ac_result_t *r)
{
    if (b->name == NULL || b->name[0] == '\0')
        ac_fail(r, "name is NULL or empty");
    if (b->version == NULL || b->version[0] == '\0')
        ac_fail(r, "version is NULL or empty");
    if (r->verdict == AC_FAIL)
        return;
    if (f->name != b->name || f->version != b->version)
        ac_fail(r, "name or version pointer changed between entry calls (not static)");
    else if (strncmp(f->name_copy, b->name, sizeof(f->name_copy) - 1) != 0 ||
             strncmp(f->version_copy, b->version, sizeof(f->version_copy) - 1) != 0)
        ac_fail(r, "name or version text changed between entry calls");
}

static void check_functions(const pmd_plugin_t *p, ac_result_t *r)
{
    if (p->init == NULL || p->on_start == NULL || p->on_tick == NULL || p->on_stop == NULL ||
        p->destroy == NULL || p->result_string == NULL) {
        ac_fail(r,
                "a mandatory function (init, start, tick, stop, destroy, result_string) is NULL");
        return;
    }
    for (int32_t k = -5; k <= 20; k++)
        if (p->result_string(k) == NULL) {
            ac_fail(r, "result_string(%d) returned NULL", (int)k);
            break;
        }
    if (p->stop_timeout_ms < 1 || p->stop_timeout_ms > 60000)
        ac_fail(r, "stop_timeout_ms is %u, expected 1..60000", (unsigned)p->stop_timeout_ms);
}

void ac_check_descriptor(const ac_ctx_t *ctx, ac_result_t *r)
{
    pmd_plugin_entry_fn entry;
    void *h = open_entry(ctx, &entry, r);
    if (h == NULL)
        return;
    const pmd_plugin_t *a = NULL, *b = NULL;
    first_look_t first;
    memset(&first, 0, sizeof(first));
    int32_t rc1 = entry(PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &a);
    if (a != NULL)
        take_first_look(a, &first);
    int32_t rc2 = entry(PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &b);
    if (rc1 != PMD_OK || rc2 != PMD_OK || a == NULL || b == NULL) {
        ac_fail(r, "%s(%d, %d) returned %d / %d and descriptor %p", PMD_PLUGIN_ENTRY_SYMBOL,
                PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, (int)rc1, (int)rc2, (const void *)a);
        dlclose(h);
        return;
    }
    if (a->abi_major != PMD_ABI_VERSION_MAJOR)
        ac_fail(r, "descriptor abi_major is %u, host asked for %u", (unsigned)a->abi_major,
                (unsigned)PMD_ABI_VERSION_MAJOR);
    if (a->struct_size < PMD_PLUGIN_SIZE_1_0 || a->struct_size >= 65536)
        ac_fail(r, "struct_size %u outside %u..65535", (unsigned)a->struct_size,
                (unsigned)PMD_PLUGIN_SIZE_1_0);
    if (a != b)
        ac_fail(r, "two entry calls returned different descriptors");
    check_strings(&first, b, r);
    check_functions(b, r);
    int32_t rc = entry(PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, NULL);
    if (rc != PMD_ERR_INVALID_ARGUMENT)
        ac_fail(r, "%s with out_plugin NULL returned %d, expected PMD_ERR_INVALID_ARGUMENT",
                PMD_PLUGIN_ENTRY_SYMBOL, (int)rc);
    ac_figure(r, "struct_size", a->struct_size, "bytes");
    ac_figure(r, "abi_minor", a->abi_minor, "");
    ac_figure(r, "stop_timeout_ms", a->stop_timeout_ms, "ms");
    ac_note(r, "%s %s, ABI %u.%u, struct_size %u, stop_timeout_ms %u", a->name, a->version,
            (unsigned)a->abi_major, (unsigned)a->abi_minor, (unsigned)a->struct_size,
            (unsigned)a->stop_timeout_ms);
    dlclose(h);
}

static void entry_other_major(pmd_plugin_entry_fn entry, uint32_t major, ac_result_t *r)
{
    const pmd_plugin_t *p = NULL;
    int32_t rc = entry(major, 0, &p);
    if (rc != PMD_ERR_ABI_MAJOR) {
        /* A plugin may speak several majors: then it must say so. */
        if (rc == PMD_OK && p != NULL && p->abi_major == major)
            return;
        ac_fail(r, "entry(major %u) returned %d, expected PMD_ERR_ABI_MAJOR", (unsigned)major,
                (int)rc);
    } else if (p == NULL) {
        ac_fail(r, "entry(major %u) refused but left *out_plugin NULL (must name itself)",
                (unsigned)major);
    }
}

/* init with a host struct of another major: refused, nothing created. */
static void init_other_major(const pmd_plugin_t *p, ac_result_t *r)
{
    ac_th_rec_t rec;
    ac_th_rec_init(&rec, 0);
    pmd_host_t host;
    ac_th_host_fill(&host, &rec);
    host.abi_major = PMD_ABI_VERSION_MAJOR + 1;
    char err[256];
    memset(err, 0x5a, sizeof(err));
    pmd_instance_t *in = (pmd_instance_t *)&rec; /* must be overwritten */
    int threads = ac_count_threads(), fds = ac_count_fds();
    int32_t rc = ac_th_init(&rec, p, &host, "{}", &in, err, sizeof(err));
    if (rc != PMD_ERR_ABI_MAJOR)
        ac_fail(r, "init with a host of ABI major %u returned %d, expected PMD_ERR_ABI_MAJOR",
                (unsigned)host.abi_major, (int)rc);
    if (rc == PMD_OK && in != NULL && in != (pmd_instance_t *)&rec) {
        ac_th_destroy(&rec, p, in);
        return;
    }
    if (in != NULL)
        ac_fail(r, "init refused but did not set *out_instance to NULL");
    if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
        ac_fail(r, "init refused without writing an error message");
    if (ac_count_threads() != threads || ac_count_fds() != fds)
        ac_fail(r, "refused init left threads or descriptors behind");
}

void ac_check_abi_major(const ac_ctx_t *ctx, ac_result_t *r)
{
    pmd_plugin_entry_fn entry;
    void *h = open_entry(ctx, &entry, r);
    if (h == NULL)
        return;
    entry_other_major(entry, PMD_ABI_VERSION_MAJOR + 1, r);
    if (PMD_ABI_VERSION_MAJOR > 0)
        entry_other_major(entry, PMD_ABI_VERSION_MAJOR - 1, r);
    const pmd_plugin_t *p = NULL;
    if (entry(PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &p) != PMD_OK || p == NULL ||
        p->init == NULL)
        ac_fail(r, "entry refuses the host's own major %d", PMD_ABI_VERSION_MAJOR);
    else
        init_other_major(p, r);
    ac_note(r, "entry refuses majors %d and %d; init refuses a major-%d host",
            PMD_ABI_VERSION_MAJOR + 1, PMD_ABI_VERSION_MAJOR - 1, PMD_ABI_VERSION_MAJOR + 1);
    dlclose(h);
}
