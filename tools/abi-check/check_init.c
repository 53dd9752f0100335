/*
 * check_init.c - init-errors (ABI-INIT): bad configs and bad arguments are
 * refused with the right code, *out_instance NULL, and a NUL-terminated
 * message that fits the caller's buffer; refusing leaks nothing.
 */
#include "abi_check.h"
#include "test_host.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

static const char *const bad_configs[] = {NULL, "", "not json", "[]", "{\"no_such_key_xyz\":1}"};
#define N_BAD (sizeof(bad_configs) / sizeof(bad_configs[0]))

static const char *show(const char *config)
{
    return config == NULL ? "NULL" : config;
}

/* One refused init with a 256-byte and an 8-byte error buffer. */
static void refuse_one(const pmd_plugin_t *p, ac_th_rec_t *rec, const char *config, ac_result_t *r)
{
    pmd_host_t host;
    ac_th_host_fill(&host, rec);
    char err[256];
    memset(err, 0x5a, sizeof(err));
    pmd_instance_t *in = (pmd_instance_t *)rec;
    int32_t rc = ac_th_init(rec, p, &host, config, &in, err, sizeof(err));
    /* NULL config included: it is config text that is missing, not a host
     * pointer (plugin.abi.md 5.2 and 9; PMD_ERR_INVALID_ARGUMENT is wrong). */
    if (rc != PMD_ERR_CONFIG)
        ac_fail(r, "init(%s) returned %d, expected PMD_ERR_CONFIG", show(config), (int)rc);
    if (rc == PMD_OK && in != NULL && in != (pmd_instance_t *)rec) {
        ac_th_destroy(rec, p, in);
        return;
    }
    if (in != NULL)
        ac_fail(r, "init(%s) failed but left *out_instance non-NULL", show(config));
    if (memchr(err, '\0', sizeof(err)) == NULL)
        ac_fail(r, "init(%s): error message not NUL-terminated", show(config));
    else if (err[0] == '\0')
        ac_fail(r, "init(%s): empty error message", show(config));
    else if (config != NULL && strstr(config, "no_such_key_xyz") != NULL &&
             strstr(err, "no_such_key_xyz") == NULL)
        ac_fail(r, "init(%s): message \"%.100s\" does not name the field", config, err);

    char tiny[8 + 8];
    memset(tiny, 0x5a, sizeof(tiny));
    in = (pmd_instance_t *)rec;
    rc = ac_th_init(rec, p, &host, config, &in, tiny, 8);
    if (rc == PMD_OK && in != NULL && in != (pmd_instance_t *)rec)
        ac_th_destroy(rec, p, in);
    else if (memchr(tiny, '\0', 8) == NULL || tiny[0] == '\0')
        ac_fail(r,
                "init(%s) with an 8-byte buffer: message not truncated to a non-empty, "
                "NUL-terminated line",
                show(config));
    for (int i = 8; i < (int)sizeof(tiny); i++)
        if (tiny[i] != 0x5a) {
            ac_fail(r, "init(%s) wrote past error_size 8", show(config));
            break;
        }
}

/* Bad arguments: NULL host or out pointer, a host struct that is unusable. */
static void refuse_arguments(const ac_session_t *s, ac_th_rec_t *rec, ac_result_t *r)
{
    pmd_host_t host;
    ac_th_host_fill(&host, rec);
    pmd_instance_t *in = NULL;
    int32_t rc = ac_th_init(rec, s->p, NULL, s->config, &in, NULL, 0);
    if (rc != PMD_ERR_INVALID_ARGUMENT || in != NULL)
        ac_fail(r, "init(host NULL) returned %d, expected PMD_ERR_INVALID_ARGUMENT", (int)rc);
    rc = ac_th_init(rec, s->p, &host, s->config, NULL, NULL, 0);
    if (rc != PMD_ERR_INVALID_ARGUMENT)
        ac_fail(r, "init(out_instance NULL) returned %d, expected PMD_ERR_INVALID_ARGUMENT",
                (int)rc);
    host.log = NULL;
    in = (pmd_instance_t *)rec;
    rc = ac_th_init(rec, s->p, &host, s->config, &in, NULL, 0);
    if (rc != PMD_ERR_INVALID_ARGUMENT || in != NULL)
        ac_fail(r, "init(host without log) returned %d, expected PMD_ERR_INVALID_ARGUMENT",
                (int)rc);
    if (rc == PMD_OK && in != NULL && in != (pmd_instance_t *)rec)
        ac_th_destroy(rec, s->p, in);
    ac_th_host_fill(&host, rec);
    host.struct_size = 16;
    in = (pmd_instance_t *)rec;
    rc = ac_th_init(rec, s->p, &host, s->config, &in, NULL, 0);
    if (rc != PMD_ERR_INVALID_ARGUMENT || in != NULL)
        ac_fail(r, "init(host struct_size 16) returned %d, expected PMD_ERR_INVALID_ARGUMENT",
                (int)rc);
    if (rc == PMD_OK && in != NULL && in != (pmd_instance_t *)rec)
        ac_th_destroy(rec, s->p, in);
}

/* Refused inits in a loop: heap and RSS must not grow with the count. */
static void leak_loop(const pmd_plugin_t *p, ac_th_rec_t *rec, int rounds, int measure,
                      ac_result_t *r)
{
    pmd_host_t host;
    ac_th_host_fill(&host, rec);
    char err[256];
    size_t heap0 = 0;
    long rss0 = 0;
    for (int i = 0; i < rounds; i++) {
        if (i == rounds / 10) {
            heap0 = mallinfo2().uordblks;
            rss0 = ac_rss_kib();
        }
        pmd_instance_t *in = NULL;
        if (ac_th_init(rec, p, &host, bad_configs[i % N_BAD], &in, err, sizeof(err)) == PMD_OK &&
            in != NULL)
            ac_th_destroy(rec, p, in);
    }
    if (!measure)
        return;
    double heap_kib = ((double)mallinfo2().uordblks - (double)heap0) / 1024.0;
    double rss_kib = (double)(ac_rss_kib() - rss0);
    ac_figure(r, "refused_inits", rounds, "calls");
    ac_figure(r, "heap_growth", heap_kib, "KiB");
    ac_figure(r, "rss_growth", rss_kib, "KiB");
    if (heap_kib > 64.0 || rss_kib > 1024.0)
        ac_fail(r, "%d refused inits grew the heap by %.1f KiB and RSS by %.0f KiB (leak)", rounds,
                heap_kib, rss_kib);
}

void ac_check_init_errors(const ac_ctx_t *ctx, ac_result_t *r)
{
    ac_session_t s;
    char url[64];
    if (ac_url_closed_port(url, sizeof(url)) != 0 || ac_session_open(ctx, &s, url, r) != 0)
        return;
    ac_th_rec_t rec;
    ac_th_rec_init(&rec, 0);
    for (size_t i = 0; i < N_BAD; i++)
        refuse_one(s.p, &rec, bad_configs[i], r);
    refuse_arguments(&s, &rec, r);
    if (r->verdict != AC_FAIL)
        leak_loop(s.p, &rec, ctx->valgrind_safe ? 50 : 1000 * (int)N_BAD,
                  ac_memory_bounds_apply(ctx), r);
    ac_note(r,
            "NULL, \"\", \"not json\", \"[]\", unknown key and bad arguments refused; "
            "messages bounded%s",
            ac_memory_bounds_apply(ctx) ? "; no growth over the loop"
                                        : " (leaks left to valgrind or the sanitizer)");
    ac_session_close(&s);
}
