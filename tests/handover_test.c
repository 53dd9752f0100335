/*
 * handover_test.c - ABI 1.2 handover, in process: one node_registration
 * instance hands its node over to another (as a host does when it swaps
 * plugin builds), and the control plane must see no DELETE, no heartbeat gap
 * longer than one interval (plus noise) and the node Online throughout.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "loader.h"
#include "orchd.h"
#include "test_host.h"

#define INTERVAL_MS 500
#define CONFIG_FMT                                                                                 \
    "{\"node_id\":\"node-ho\",\"address\":\"http://10.0.0.5:9200\","                               \
    "\"orchestratord_url\":\"%s\",\"heartbeat_interval_ms\":500,\"request_timeout_ms\":400}"

static orchd_t *cp;
static test_host_t *host;
static host_loaded_plugin_t lp;

static void setup(void)
{
    char err[512];
    cr_assert_eq(host_loader_open(NODE_REGISTRATION_SO, PMD_ABI_VERSION_MAJOR,
                                  PMD_ABI_VERSION_MINOR, &lp, err, sizeof(err)),
                 PMD_OK, "%s", err);
    host = test_host_new();
    orchd_options_t opt = {.next_heartbeat_ms = INTERVAL_MS, .offline_timeout_ms = 2000};
    cp = orchd_start(&opt);
    cr_assert_not_null(cp);
}

static void teardown(void)
{
    test_host_free(host);
    host_loader_close(&lp);
    orchd_stop(cp);
}

TestSuite(handover, .init = setup, .fini = teardown, .timeout = 60);

static pmd_instance_t *new_instance(void)
{
    char cfg[512], err[512] = "";
    snprintf(cfg, sizeof(cfg), CONFIG_FMT, orchd_url(cp));
    pmd_instance_t *in = NULL;
    cr_assert_eq(th_init(host, lp.plugin, cfg, &in, err, sizeof(err)), PMD_OK, "%s", err);
    return in;
}

static int has_status(const char *status)
{
    json_object *n = orchd_node(cp, "node-ho"), *st = NULL;
    int ok = n && json_object_object_get_ex(n, "status", &st) &&
             strcmp(json_object_get_string(st), status) == 0;
    json_object_put(n);
    return ok;
}

static int online(void *arg)
{
    (void)arg;
    return has_status("Online");
}

/* Largest gap between heartbeats in the journal, and the DELETEs seen. */
static long heartbeat_gap_ms(int *deletes)
{
    json_object *all = orchd_get_json(cp, "/_dev/requests"), *v;
    cr_assert_not_null(all);
    long last = -1, gap = 0;
    *deletes = 0;
    for (size_t i = 0; i < json_object_array_length(all); i++) {
        json_object *e = json_object_array_get_idx(all, i);
        const char *method =
            json_object_object_get_ex(e, "method", &v) ? json_object_get_string(v) : "";
        const char *path =
            json_object_object_get_ex(e, "raw_path", &v) ? json_object_get_string(v) : "";
        long t = json_object_object_get_ex(e, "t_ms", &v) ? (long)json_object_get_int64(v) : 0;
        *deletes += strcmp(method, "DELETE") == 0;
        if (strstr(path, "/heartbeat") == NULL)
            continue;
        if (last >= 0 && t - last > gap)
            gap = t - last;
        last = t;
    }
    json_object_put(all);
    return gap;
}

Test(handover, the_new_instance_continues_the_node_with_no_delete_and_no_gap)
{
    const pmd_plugin_t *p = lp.plugin;
    cr_assert_not_null(p->on_handover, "node_registration offers handover");
    pmd_instance_t *old = new_instance();
    cr_assert_eq(th_start(host, p, old), PMD_OK);
    cr_assert(th_tick_until(host, p, old, online, NULL, 10000), "never Online");
    th_tick_for(host, p, old, 3 * INTERVAL_MS);

    pmd_instance_t *fresh = new_instance();
    pmd_handover_t h;
    memset(&h, 0, sizeof(h));
    h.struct_size = sizeof(h);
    test_host_enter(host);
    cr_assert_eq(p->on_handover(old, &h), PMD_OK);
    cr_assert_eq(p->on_start_handed_over(fresh, &h), PMD_OK);
    test_host_leave(host);
    cr_assert_eq(h.struct_size, sizeof(h));
    cr_assert(h.flags & PMD_HANDOVER_REGISTERED);
    cr_assert_str_eq(h.node_id, "node-ho");
    cr_assert_neq(h.next_heartbeat_due_ns, 0);
    th_destroy(host, p, old);

    for (int i = 0; i < 4 * INTERVAL_MS / 50; i++) {
        th_tick_for(host, p, fresh, 50);
        cr_assert(!has_status("Offline"), "the node went offline during the handover");
    }
    cr_assert(online(NULL), "Online after the handover");
    int deletes;
    long gap = heartbeat_gap_ms(&deletes);
    cr_assert_eq(deletes, 0, "a handover must not deregister");
    cr_assert_leq(gap, INTERVAL_MS + 500, "heartbeat gap %ld ms", gap);
    cr_assert(test_host_log_contains(host, "event=handed_over"));
    cr_assert(test_host_log_contains(host, "event=taking_over"));
    for (int i = 0; i < test_host_state_count(host); i++)
        cr_assert_neq(test_host_state(host, i), PMD_NODE_DEREGISTERING,
                      "a handover reported DEREGISTERING (state %d)", i);
    th_stop(host, p, fresh);
    th_destroy(host, p, fresh);
    cr_assert_eq(orchd_wait_node_status(cp, "node-ho", NULL, 3000), 0,
                 "on_stop of the new instance deregisters the node");
}

Test(handover, a_handover_for_another_node_is_a_plain_start)
{
    const pmd_plugin_t *p = lp.plugin;
    pmd_instance_t *in = new_instance();
    pmd_handover_t h;
    memset(&h, 0, sizeof(h));
    h.struct_size = sizeof(h);
    h.flags = PMD_HANDOVER_REGISTERED;
    h.next_heartbeat_due_ns = 1;
    snprintf(h.node_id, sizeof(h.node_id), "someone-else");
    test_host_enter(host);
    cr_assert_eq(p->on_start_handed_over(in, &h), PMD_OK);
    test_host_leave(host);
    cr_assert(th_tick_until(host, p, in, online, NULL, 10000));
    cr_assert(test_host_log_contains(host, "event=takeover_refused"));
    th_destroy(host, p, in);
}

Test(handover, handover_needs_a_started_instance_and_a_big_enough_struct)
{
    const pmd_plugin_t *p = lp.plugin;
    pmd_instance_t *in = new_instance();
    pmd_handover_t h;
    memset(&h, 0, sizeof(h));
    h.struct_size = sizeof(h);
    test_host_enter(host);
    cr_assert_eq(p->on_handover(in, &h), PMD_ERR_STATE, "not started");
    cr_assert_eq(p->on_start_handed_over(in, NULL), PMD_ERR_INVALID_ARGUMENT);
    h.struct_size = 8;
    cr_assert_eq(p->on_start_handed_over(in, &h), PMD_ERR_INVALID_ARGUMENT);
    test_host_leave(host);
    th_destroy(host, p, in);
}
