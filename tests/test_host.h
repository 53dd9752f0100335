/*
 * test_host.h - an in-process host for Criterion tests of plugins: a
 * pmd_host_t whose callbacks record everything (log lines, state changes,
 * pool and capability requests) and check the header's host-side rules
 * (a callback must come on the thread that is inside an ABI call, while that
 * call runs). Pools and capabilities are served from JSON in the same
 * formats as pmd-host-shim's --pools and --capabilities files.
 *
 * Threads: recording is thread-safe (a callback from a plugin thread is
 * recorded, and counted as a violation). Everything else - the set_*
 * functions and the th_* wrappers - belongs to the test's host thread.
 * Strings returned live until test_host_free().
 * Set TEST_HOST_VERBOSE=1 to also print every callback to stderr.
 */
#ifndef PMD_TEST_HOST_H
#define PMD_TEST_HOST_H

#include <stdint.h>

#include "pmd_plugin.h"

typedef struct test_host test_host_t;

/* A recorder with no pools and no GPUs (cpu_cores = ram = 0). NULL only
 * when out of memory. */
test_host_t *test_host_new(void);
void test_host_free(test_host_t *h);

/* The pmd_host_t wired to this recorder: struct_size = sizeof(pmd_host_t),
 * ABI PMD_ABI_VERSION_MAJOR.MINOR, host_name "test_host". Lives as long as h. */
const pmd_host_t *test_host_abi(test_host_t *h);
/* Makes test_host_abi() claim an older/other layout, e.g. PMD_HOST_SIZE_1_0
 * with abi_minor 0 (the struct handed out is otherwise unchanged). */
void test_host_set_abi(test_host_t *h, uint32_t struct_size, uint32_t abi_major,
                       uint32_t abi_minor);

/* Pools served by list_pools (a JSON array, --pools format) and the
 * capabilities served by get_capabilities (NodeCapabilities JSON). Return 0,
 * or -1 keeping the previous value, with the reason in test_host_last_error. */
int test_host_set_pools_json(test_host_t *h, const char *json_array);
int test_host_set_capabilities_json(test_host_t *h, const char *json_object);
const char *test_host_last_error(test_host_t *h);
/* Non-OK: list_pools / get_capabilities push nothing and return rc
 * ("unknown right now"). PMD_OK (the default) serves the data. */
void test_host_set_list_pools_result(test_host_t *h, int32_t rc);
void test_host_set_capabilities_result(test_host_t *h, int32_t rc);

/* Log lines, in order; level is a pmd_log_level. Out of range: NULL / -1. */
int test_host_log_count(test_host_t *h);
const char *test_host_log(test_host_t *h, int i);
int test_host_log_level(test_host_t *h, int i);
/* Lines containing needle: test_host_log_contains is 1 when any does. */
int test_host_log_contains(test_host_t *h, const char *needle);
int test_host_log_count_matching(test_host_t *h, const char *needle);

/* State changes, in order; detail may be NULL. last_state: -1 when none. */
int test_host_state_count(test_host_t *h);
int32_t test_host_state(test_host_t *h, int i);
const char *test_host_state_detail(test_host_t *h, int i);
int32_t test_host_last_state(test_host_t *h);

/* Callbacks made off the host thread, outside an ABI call, or in a call
 * that plugin.abi.md does not allow them in (list_pools or get_capabilities
 * during init or destroy, state_changed during init), and what each was
 * ("log called outside an ABI call", "list_pools called during init"). */
int test_host_violations(test_host_t *h);
const char *test_host_violation(test_host_t *h, int i);

/* Callback counts, and how many sink calls the plugin refused (non-OK). */
int test_host_list_pools_calls(test_host_t *h);
int test_host_capabilities_calls(test_host_t *h);
int test_host_sink_refusals(test_host_t *h);

/* Bracket a call into the plugin made by hand; the calling thread is the
 * host thread until the matching leave. Nests. Only the thread rules are
 * checked, as the call is not known; the th_* wrappers also check which
 * callbacks their call allows. */
void test_host_enter(test_host_t *h);
void test_host_leave(test_host_t *h);

/* ABI calls wrapped in enter/leave; init passes test_host_abi(h). */
int32_t th_init(test_host_t *h, const pmd_plugin_t *p, const char *config, pmd_instance_t **out,
                char *err, uint32_t err_size);
int32_t th_start(test_host_t *h, const pmd_plugin_t *p, pmd_instance_t *in);
int32_t th_tick(test_host_t *h, const pmd_plugin_t *p, pmd_instance_t *in, uint64_t now_ns);
int32_t th_stop(test_host_t *h, const pmd_plugin_t *p, pmd_instance_t *in);
void th_destroy(test_host_t *h, const pmd_plugin_t *p, pmd_instance_t *in);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t th_now_ns(void);
/* Ticks every ~5 ms with th_now_ns() until pred(arg) is true (checked
 * before the first tick and after each one): 1, or 0 after timeout_ms. */
int th_tick_until(test_host_t *h, const pmd_plugin_t *p, pmd_instance_t *in, int (*pred)(void *arg),
                  void *arg, int timeout_ms);
/* Ticks every ~5 ms for duration_ms; returns the number of ticks. */
int th_tick_for(test_host_t *h, const pmd_plugin_t *p, pmd_instance_t *in, int duration_ms);

#endif /* PMD_TEST_HOST_H */
