/*
 * abi_test.c - version negotiation and struct growth, seen from a host: the
 * shared loader refuses another major with a clear message; both shipped
 * plugins refuse a host of another major, and work with a host struct of an
 * older minor (smaller) and of a newer one (bigger, garbage past the fields
 * this header knows). ABI 1.2 handover across minors, both directions: a
 * 1.1 host never uses a 1.2 plugin's handover, a 1.2 host sees none in a 1.1
 * plugin, and either host falls back to on_stop + on_start.
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "test_host.h"

static const char *const shipped[] = {EXAMPLE_SO, NODE_REGISTRATION_SO};

/* A config each shipped plugin accepts without a control plane answering. */
static const char *config_for(const pmd_plugin_t *p)
{
    if (strcmp(p->name, "example") == 0 || strcmp(p->name, "minor1") == 0)
        return "{}";
    return "{\"node_id\":\"abi-test\",\"address\":\"http://127.0.0.1:9200\","
           "\"orchestratord_url\":\"http://127.0.0.1:9\",\"deregister_timeout_ms\":100}";
}

static void open_plugin(const char *path, host_loaded_plugin_t *lp)
{
    char err[512];
    cr_assert_eq(
        host_loader_open(path, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, lp, err, sizeof(err)),
        PMD_OK, "%s", err);
}

Test(abi, loader_refuses_a_plugin_of_another_major_naming_both_versions)
{
    host_loaded_plugin_t lp;
    char err[512] = "";
    int32_t rc = host_loader_open(MAJOR2_SO, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &lp, err,
                                  sizeof(err));
    cr_assert_eq(rc, PMD_ERR_ABI_MAJOR);
    cr_assert_null(lp.dl_handle, "a refused plugin must be closed again");
    cr_assert(strstr(err, "future") && strstr(err, "2.0") && strstr(err, "1.2"), "%s", err);
}

/* The example plugin refuses pool ids that break the identity rules
 * (plugin.abi.md 5.14; node_registration's nr_identity_problem) with
 * PMD_ERR_HOST_DATA, and says after list_pools which pool it refused. */
static const char *const example_ids[] = {"pool-ok",          "bad-\xC0\x80",     "",
                                          "tab\there",        "rep-\xEF\xBF\xBD", "c1-\xC2\x85",
                                          "euro-\xE2\x82\xAC"};
#define N_EXAMPLE_IDS (sizeof(example_ids) / sizeof(example_ids[0]))
static int32_t example_rc[N_EXAMPLE_IDS];
static char example_lines[8][512];
static int example_nlines;

static void ex_log(void *hd, int32_t level, const char *msg)
{
    (void)hd;
    (void)level;
    if (example_nlines < 8)
        snprintf(example_lines[example_nlines++], sizeof(example_lines[0]), "%s", msg);
}

static int32_t ex_pools(void *hd, const pmd_pool_sink_t *sink)
{
    (void)hd;
    for (size_t i = 0; i < N_EXAMPLE_IDS; i++) {
        pmd_pool_status_t pool = {sizeof(pool), 1, 0, {0, 0}, 1, 1, 0, example_ids[i], NULL};
        example_rc[i] = sink->add_pool(sink->sink_data, &pool);
    }
    return PMD_OK;
}

static int32_t ex_caps(void *hd, const pmd_capability_sink_t *sink)
{
    (void)hd;
    (void)sink;
    return PMD_OK;
}

static int example_logged(const char *needle)
{
    for (int i = 0; i < example_nlines; i++)
        if (strstr(example_lines[i], needle) != NULL)
            return 1;
    return 0;
}

Test(abi, example_refuses_pool_ids_that_break_the_identity_rules)
{
    host_loaded_plugin_t lp;
    open_plugin(EXAMPLE_SO, &lp);
    pmd_host_t host = {sizeof(host),
                       PMD_ABI_VERSION_MAJOR,
                       PMD_ABI_VERSION_MINOR,
                       0,
                       NULL,
                       "abi_test",
                       "0",
                       ex_log,
                       ex_pools,
                       ex_caps,
                       NULL,
                       NULL};
    pmd_instance_t *in = NULL;
    char err[256] = "";
    cr_assert_eq(lp.plugin->init(&host, "{\"log_every_ticks\": 1}", &in, err, sizeof(err)), PMD_OK,
                 "%s", err);
    cr_assert_eq(lp.plugin->on_start(in), PMD_OK);
    cr_assert_eq(lp.plugin->on_tick(in, 1), PMD_OK);
    const int32_t want[N_EXAMPLE_IDS] = {PMD_OK,
                                         PMD_ERR_HOST_DATA,
                                         PMD_ERR_HOST_DATA,
                                         PMD_ERR_HOST_DATA,
                                         PMD_ERR_HOST_DATA,
                                         PMD_ERR_HOST_DATA,
                                         PMD_OK};
    for (size_t i = 0; i < N_EXAMPLE_IDS; i++)
        cr_expect_eq(example_rc[i], want[i], "pool %zu: add_pool returned %d", i,
                     (int)example_rc[i]);
    cr_expect(example_logged("refused 5 pool record(s) from the host; first: pool 1 "
                             "(pool_id \"bad-\\xc0\\x80\"): pool_id is not valid UTF-8"),
              "%s", example_nlines > 0 ? example_lines[0] : "(no line)");
    cr_expect(example_logged("host reports 2 pool(s)"));
    cr_assert_eq(lp.plugin->on_stop(in), PMD_OK);
    lp.plugin->destroy(in);
    host_loader_close(&lp);
}

/* plugin.abi.md 3 / 16: the frozen prefix is read only when struct_size
 * covers it; the fixture's name and version pointers would fault. */
Test(abi, loader_refuses_a_descriptor_smaller_than_the_frozen_prefix)
{
    host_loaded_plugin_t lp;
    char err[256] = "";
    int32_t rc = host_loader_open(TINY_PREFIX_SO, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &lp,
                                  err, sizeof(err));
    cr_assert_eq(rc, PMD_ERR_INVALID_ARGUMENT, "%d: %s", (int)rc, err);
    cr_assert_null(lp.dl_handle, "a refused plugin must be closed again");
    cr_assert(strstr(err, "frozen prefix") != NULL, "%s", err);
}

Test(abi, session_runs_at_the_lower_minor)
{
    host_loaded_plugin_t lp;
    char err[256];
    cr_assert_eq(host_loader_open(EXAMPLE_SO, PMD_ABI_VERSION_MAJOR, 0, &lp, err, sizeof(err)),
                 PMD_OK);
    cr_assert_eq(lp.session_minor, 0);
    cr_assert_not(host_loader_has_extensions(&lp), "1.1 extensions used in a 1.0 session");
    host_loader_close(&lp);
    open_plugin(EXAMPLE_SO, &lp);
    cr_assert_eq(lp.session_minor, PMD_ABI_VERSION_MINOR);
    cr_assert(host_loader_has_extensions(&lp));
    host_loader_close(&lp);
}

static void plugin_refuses_a_host_of_another_major_for(const char *const *path)
{
    host_loaded_plugin_t lp;
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
    host_loader_close(&lp);
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
    host_loaded_plugin_t lp;
    open_plugin(*path, &lp);
    test_host_t *h = test_host_new();
    pmd_host_t old = *test_host_abi(h);
    old.struct_size = PMD_HOST_SIZE_1_0;
    old.abi_minor = 0;
    old.get_extension = NULL; /* a 1.0 host has no such field */
    run_lifecycle(lp.plugin, h, &old);
    test_host_free(h);
    host_loader_close(&lp);
}

Test(abi, older_minor_host_struct_works)
{
    for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++)
        older_minor_host_struct_works_for(&shipped[i]);
}

static void newer_minor_host_struct_with_garbage_works_for(const char *const *path)
{
    host_loaded_plugin_t lp;
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
    host_loader_close(&lp);
}

Test(abi, newer_minor_host_struct_with_garbage_works)
{
    for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++)
        newer_minor_host_struct_with_garbage_works_for(&shipped[i]);
}

static void host_struct_below_the_1_0_size_is_refused_for(const char *const *path)
{
    host_loaded_plugin_t lp;
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
    host_loader_close(&lp);
}

Test(abi, host_struct_below_the_1_0_size_is_refused)
{
    for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++)
        host_struct_below_the_1_0_size_is_refused_for(&shipped[i]);
}

/* ---- ABI 1.2 handover across minors ---------------------------------- */

/* A 1.1 host struct: everything up to and including get_extension. */
#define HOST_SIZE_1_1 ((uint32_t)(offsetof(pmd_host_t, get_extension) + sizeof(void *)))

static pmd_instance_t *make_instance(test_host_t *h, const pmd_plugin_t *p)
{
    pmd_instance_t *in = NULL;
    char err[256] = "";
    cr_assert_eq(th_init(h, p, config_for(p), &in, err, sizeof(err)), PMD_OK, "%s: %s", p->name,
                 err);
    return in;
}

/* What a host does when fresh (INITIALIZED) replaces old (STARTED), as
 * plugin.abi.md 5.17 says: handover when both sessions offer it, else
 * on_stop + on_start. Returns 1 when it handed over. */
static int replace_instance(test_host_t *h, const host_loaded_plugin_t *old_lp, pmd_instance_t *old,
                            const host_loaded_plugin_t *new_lp, pmd_instance_t *fresh)
{
    if (host_loader_offers_handover(old_lp) && host_loader_offers_handover(new_lp)) {
        pmd_handover_t ho;
        memset(&ho, 0, sizeof(ho));
        ho.struct_size = sizeof(ho);
        test_host_enter(h);
        cr_assert_eq(old_lp->plugin->on_handover(old, &ho), PMD_OK);
        cr_assert_eq(new_lp->plugin->on_start_handed_over(fresh, &ho), PMD_OK);
        test_host_leave(h);
        return 1;
    }
    cr_assert_eq(th_stop(h, old_lp->plugin, old), PMD_OK);
    cr_assert_eq(th_start(h, new_lp->plugin, fresh), PMD_OK);
    return 0;
}

/* old (started, ticked) replaced by fresh, which then runs and stops. */
static int swap_and_run(test_host_t *h, const host_loaded_plugin_t *old_lp,
                        const host_loaded_plugin_t *new_lp)
{
    pmd_instance_t *old = make_instance(h, old_lp->plugin);
    pmd_instance_t *fresh = make_instance(h, new_lp->plugin);
    cr_assert_eq(th_start(h, old_lp->plugin, old), PMD_OK);
    cr_assert_gt(th_tick_for(h, old_lp->plugin, old, 30), 0);
    int handed_over = replace_instance(h, old_lp, old, new_lp, fresh);
    th_destroy(h, old_lp->plugin, old);
    cr_assert_gt(th_tick_for(h, new_lp->plugin, fresh, 30), 0);
    cr_assert_eq(th_stop(h, new_lp->plugin, fresh), PMD_OK);
    th_destroy(h, new_lp->plugin, fresh);
    cr_assert_eq(test_host_violations(h), 0, "%s", test_host_violation(h, 0));
    return handed_over;
}

/* Whether any state_changed said "handed over". */
static int saw_handed_over(test_host_t *h)
{
    for (int i = 0; i < test_host_state_count(h); i++)
        if (strcmp(test_host_state_detail(h, i), "handed over") == 0)
            return 1;
    return 0;
}

Test(abi, a_1_1_host_never_uses_the_handover_of_a_1_2_plugin)
{
    host_loaded_plugin_t lp;
    char err[256];
    cr_assert_eq(
        host_loader_open(NODE_REGISTRATION_SO, PMD_ABI_VERSION_MAJOR, 1, &lp, err, sizeof(err)),
        PMD_OK, "%s", err);
    cr_assert_geq(lp.plugin->abi_minor, 2, "node_registration is a 1.2 build");
    cr_assert_not_null(lp.plugin->on_handover, "and offers handover to 1.2 hosts");
    cr_assert_eq(lp.session_minor, 1);
    cr_assert(host_loader_has_extensions(&lp));
    cr_assert_not(host_loader_offers_handover(&lp), "handover offered in a 1.1 session");
    test_host_t *h = test_host_new();
    test_host_set_abi(h, HOST_SIZE_1_1, PMD_ABI_VERSION_MAJOR, 1);
    cr_assert_eq(swap_and_run(h, &lp, &lp), 0, "a 1.1 host falls back to on_stop + on_start");
    cr_assert_not(saw_handed_over(h));
    cr_assert_not(test_host_log_contains(h, "event=handed_over"));
    cr_assert_eq(test_host_last_state(h), PMD_NODE_STOPPED);
    test_host_free(h);
    host_loader_close(&lp);
}

Test(abi, a_1_2_host_sees_no_handover_in_a_1_1_plugin)
{
    host_loaded_plugin_t lp;
    open_plugin(MINOR1_SO, &lp);
    cr_assert_eq(lp.plugin->abi_minor, 1);
    cr_assert_eq(lp.plugin->struct_size, PMD_PLUGIN_SIZE_1_1);
    cr_assert_eq(lp.session_minor, 1);
    cr_assert(host_loader_has_extensions(&lp), "1.1 extensions stay usable");
    cr_assert_not(host_loader_offers_handover(&lp),
                  "members past the descriptor's struct_size were read");
    host_loader_close(&lp);
}

Test(abi, a_1_2_host_falls_back_to_stop_and_start_for_a_1_1_plugin)
{
    host_loaded_plugin_t lp;
    open_plugin(MINOR1_SO, &lp);
    test_host_t *h = test_host_new();
    cr_assert_eq(swap_and_run(h, &lp, &lp), 0);
    cr_assert_eq(test_host_log_count_matching(h, "minor1: started"), 2);
    cr_assert_eq(test_host_log_count_matching(h, "minor1: stopped"), 2);
    cr_assert_not(saw_handed_over(h));
    test_host_free(h);
    host_loader_close(&lp);
}

Test(abi, swapping_between_a_1_2_and_a_1_1_build_falls_back_both_ways)
{
    host_loaded_plugin_t nr, m1;
    open_plugin(NODE_REGISTRATION_SO, &nr);
    open_plugin(MINOR1_SO, &m1);
    cr_assert(host_loader_offers_handover(&nr));
    test_host_t *h = test_host_new();
    cr_assert_eq(swap_and_run(h, &nr, &m1), 0, "1.2 -> 1.1 must fall back");
    cr_assert_eq(swap_and_run(h, &m1, &nr), 0, "1.1 -> 1.2 must fall back");
    cr_assert_not(saw_handed_over(h));
    cr_assert_eq(swap_and_run(h, &nr, &nr), 1, "1.2 -> 1.2 hands over");
    cr_assert(saw_handed_over(h));
    test_host_free(h);
    host_loader_close(&m1);
    host_loader_close(&nr);
}
