/*
 * abi_test.c - version negotiation and struct growth, seen from a host: the
 * shared loader refuses another major with a clear message; both shipped
 * plugins refuse a host of another major, and work with a host struct of an
 * older minor (smaller) and of a newer one (bigger, garbage past the fields
 * this header knows).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "test_host.h"

static const char *const shipped[] = {EXAMPLE_SO, NODE_REGISTRATION_SO};

/* A config each shipped plugin accepts without a control plane answering. */
static const char *config_for(const pmd_plugin_t *p)
{
    if (strcmp(p->name, "example") == 0)
        return "{}";
    return "{\"node_id\":\"abi-test\",\"address\":\"http://127.0.0.1:9200\","
           "\"orchestratord_url\":\"http://127.0.0.1:9\",\"deregister_timeout_ms\":100}";
}

static void open_plugin(const char *path, pmd_loaded_plugin_t *lp)
{
    char err[512];
    cr_assert_eq(pmd_loader_open(path, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, lp, err,
                                 sizeof(err)), PMD_OK, "%s", err);
}

Test(abi, loader_refuses_a_plugin_of_another_major_naming_both_versions)
{
    pmd_loaded_plugin_t lp;
    char err[512] = "";
    int32_t rc = pmd_loader_open(MAJOR2_SO, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &lp, err,
                                 sizeof(err));
    cr_assert_eq(rc, PMD_ERR_ABI_MAJOR);
    cr_assert_null(lp.dl_handle, "a refused plugin must be closed again");
    cr_assert(strstr(err, "future") && strstr(err, "2.0") && strstr(err, "1.2"), "%s", err);
}

Test(abi, session_runs_at_the_lower_minor)
{
    pmd_loaded_plugin_t lp;
    char err[256];
    cr_assert_eq(pmd_loader_open(EXAMPLE_SO, PMD_ABI_VERSION_MAJOR, 0, &lp, err, sizeof(err)), PMD_OK);
    cr_assert_eq(lp.session_minor, 0);
    cr_assert_not(pmd_loader_has_extensions(&lp), "1.1 extensions used in a 1.0 session");
    pmd_loader_close(&lp);
    open_plugin(EXAMPLE_SO, &lp);
    cr_assert_eq(lp.session_minor, PMD_ABI_VERSION_MINOR);
    cr_assert(pmd_loader_has_extensions(&lp));
    pmd_loader_close(&lp);
}

static void plugin_refuses_a_host_of_another_major_for(const char *const *path)
{
    pmd_loaded_plugin_t lp;
    open_plugin(*path, &lp);
    test_host_t *h = test_host_new();
    test_host_set_abi(h, sizeof(pmd_host_t), PMD_ABI_VERSION_MAJOR + 1, 0);
    pmd_instance_t *in = (pmd_instance_t *)h;
    char err[256] = "";
    cr_assert_eq(th_init(h, lp.plugin, config_for(lp.plugin), &in, err, sizeof(err)),
                 PMD_ERR_ABI_MAJOR);
    cr_assert_null(in);
    cr_assert_neq(err[0], '\0');
    test_host_free(h);
    pmd_loader_close(&lp);
}

Test(abi, plugin_refuses_a_host_of_another_major)
{
    for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++)
        plugin_refuses_a_host_of_another_major_for(&shipped[i]);
}

/* Runs a short lifecycle with the given host struct; the host's recorder
 * still gets the callbacks through host_data. */
static void run_lifecycle(const pmd_plugin_t *p, test_host_t *h, const pmd_host_t *host)
{
    pmd_instance_t *in = NULL;
    char err[256] = "";
    test_host_enter(h);
    int32_t rc = p->init(host, config_for(p), &in, err, sizeof(err));
    test_host_leave(h);
    cr_assert_eq(rc, PMD_OK, "%s", err);
    cr_assert_eq(th_start(h, p, in), PMD_OK);
    cr_assert_eq(th_tick_for(h, p, in, 50) > 0, 1);
    cr_assert_eq(th_stop(h, p, in), PMD_OK);
    th_destroy(h, p, in);
    cr_assert_gt(test_host_log_count(h), 0, "callbacks must still reach the host");
    cr_assert_eq(test_host_violations(h), 0, "%s", test_host_violation(h, 0));
}

static void older_minor_host_struct_works_for(const char *const *path)
{
    pmd_loaded_plugin_t lp;
    open_plugin(*path, &lp);
    test_host_t *h = test_host_new();
    pmd_host_t old = *test_host_abi(h);
    old.struct_size = PMD_HOST_SIZE_1_0;
    old.abi_minor = 0;
    old.get_extension = NULL; /* a 1.0 host has no such field */
    run_lifecycle(lp.plugin, h, &old);
    test_host_free(h);
    pmd_loader_close(&lp);
}

Test(abi, older_minor_host_struct_works)
{
    for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++)
        older_minor_host_struct_works_for(&shipped[i]);
}

static void newer_minor_host_struct_with_garbage_works_for(const char *const *path)
{
    pmd_loaded_plugin_t lp;
    open_plugin(*path, &lp);
    test_host_t *h = test_host_new();
    size_t size = sizeof(pmd_host_t) + 256;
    unsigned char *bigger = malloc(size);
    memset(bigger, 0xA5, size); /* fields of minors this header does not know */
    memcpy(bigger, test_host_abi(h), sizeof(pmd_host_t));
    pmd_host_t *host = (pmd_host_t *)bigger;
    host->struct_size = (uint32_t)size;
    host->abi_minor = PMD_ABI_VERSION_MINOR + 1;
    run_lifecycle(lp.plugin, h, host);
    free(bigger);
    test_host_free(h);
    pmd_loader_close(&lp);
}

Test(abi, newer_minor_host_struct_with_garbage_works)
{
    for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++)
        newer_minor_host_struct_with_garbage_works_for(&shipped[i]);
}

static void host_struct_below_the_1_0_size_is_refused_for(const char *const *path)
{
    pmd_loaded_plugin_t lp;
    open_plugin(*path, &lp);
    test_host_t *h = test_host_new();
    pmd_host_t small = *test_host_abi(h);
    small.struct_size = PMD_HOST_SIZE_1_0 - 8;
    pmd_instance_t *in = NULL;
    char err[256] = "";
    test_host_enter(h);
    cr_assert_eq(lp.plugin->init(&small, config_for(lp.plugin), &in, err, sizeof(err)),
                 PMD_ERR_INVALID_ARGUMENT);
    test_host_leave(h);
    cr_assert_null(in);
    test_host_free(h);
    pmd_loader_close(&lp);
}

Test(abi, host_struct_below_the_1_0_size_is_refused)
{
    for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++)
        host_struct_below_the_1_0_size_is_refused_for(&shipped[i]);
}
