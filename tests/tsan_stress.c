/*
 * tsan_stress.c - a data-race hunt for ThreadSanitizer (Criterion cannot
 * start under TSan, so this is a plain program). Several node_registration
 * instances, each on its own host thread, go through start / register /
 * heartbeat at 1-10 ms / stop cycles while the host thread ticks them and
 * reads pmd.ext.stats/1 on every tick - concurrently with each instance's
 * network thread - and the main thread keeps the control plane hostile:
 * 500s, hung requests, connection drops, restarts (404 -> register again),
 * and token rotation through the server's token file and the nodes'
 * api_token_file.
 *
 *   tsan_stress [SECONDS]     (default 20)
 * Exit 0 when every cycle behaved (init/start/stop succeeded, no host-rule
 * violation, every instance registered again once the faults stopped);
 * 1 otherwise. Run with TSAN_OPTIONS=halt_on_error=1:exitcode=66 so that
 * any race report fails it too.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loader.h"
#include "orchd.h"
#include "test_host.h"

#define HOSTS 3
#define PER_HOST 2

static host_loaded_plugin_t lp;
static const pmd_ext_stats_t *stats_ext;
static orchd_t *cp;
static char dir[64], server_token[128], node_token[128];
static atomic_int stopping, failures, calm;
static atomic_ulong cycles, stats_reads;

static void fail(const char *fmt, const char *a, long b)
{
    fprintf(stderr, "tsan_stress: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    atomic_fetch_add(&failures, 1);
}

static void write_file(const char *path, const char *text)
{
    char tmp[256];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
        fail("cannot write %s%ld", path, 0);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One tick of every instance, and a stats read of each. */
static void tick_all(test_host_t *h, pmd_instance_t **in, int n)
{
    for (int i = 0; i < n; i++) {
        pmd_stats_t s;
        memset(&s, 0, sizeof(s));
        s.struct_size = sizeof(s);
        th_tick(h, lp.plugin, in[i], th_now_ns());
        if (stats_ext->get(in[i], &s) != PMD_OK || s.node_id == NULL || s.last_error == NULL)
            fail("stats read failed%s (%ld)", "", i);
        atomic_fetch_add(&stats_reads, 1);
    }
}

static int all_registered(test_host_t *h, pmd_instance_t **in, int n)
{
    for (int i = 0; i < n; i++) {
        pmd_stats_t s;
        memset(&s, 0, sizeof(s));
        s.struct_size = sizeof(s);
        stats_ext->get(in[i], &s);
        if (s.state != PMD_NODE_REGISTERED || s.consecutive_failures != 0)
            return 0;
    }
    (void)h;
    return 1;
}

/* A host thread: cycles of init/start, ticking and stats, stop/destroy. */
static void *host_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    test_host_t *h = test_host_new();
    unsigned seed = (unsigned)id * 7919u + 1;

    test_host_set_pools_json(h, "[{\"pool_id\":\"pool-0\",\"ready\":true,\"draining\":false,"
                                "\"slots_free\":1,\"slots_total\":2,\"vram_free_bytes\":1}]");
    for (int cycle = 0; !atomic_load(&stopping) || cycle == 0; cycle++) {
        pmd_instance_t *in[PER_HOST] = {0};
        char cfg[1024], err[512];
        int started = 0;
        for (int i = 0; i < PER_HOST; i++) {
            snprintf(cfg, sizeof(cfg),
                     "{\"node_id\":\"stress-%d-%d\",\"address\":\"http://10.0.0.5:9200\","
                     "\"orchestratord_url\":\"%s\",\"api_token_file\":\"%s\","
                     "\"heartbeat_interval_ms\":%d,\"request_timeout_ms\":100,"
                     "\"connect_timeout_ms\":100,\"retry_base_ms\":10,\"retry_max_ms\":20,"
                     "\"deregister_timeout_ms\":200}",
                     id, i, orchd_url(cp), node_token, 100 + (int)(rand_r(&seed) % 10));
            if (th_init(h, lp.plugin, cfg, &in[i], err, sizeof(err)) != PMD_OK) {
                fail("init: %s%ld", err, 0);
                break;
            }
            if (th_start(h, lp.plugin, in[i]) != PMD_OK)
                fail("start failed%s (%ld)", "", i);
            started++;
        }
        long run_ms = 200 + (long)(rand_r(&seed) % 600);
        uint64_t end = th_now_ns() + (uint64_t)run_ms * 1000000u;
        while (th_now_ns() < end) {
            tick_all(h, in, started);
            sleep_ms(2);
        }
        if (atomic_load(&calm)) { /* faults are over: everyone must recover */
            uint64_t give_up = th_now_ns() + 5000000000ull;
            while (!all_registered(h, in, started) && th_now_ns() < give_up) {
                tick_all(h, in, started);
                sleep_ms(2);
            }
            if (!all_registered(h, in, started))
                fail("host %s%ld: not registered after the faults stopped", "", id);
        }
        for (int i = 0; i < started; i++) {
            if (rand_r(&seed) % 2 && th_stop(h, lp.plugin, in[i]) != PMD_OK)
                fail("stop failed%s (%ld)", "", i);
            th_destroy(h, lp.plugin, in[i]); /* stops first when still started */
        }
        atomic_fetch_add(&cycles, 1);
        if (atomic_load(&calm))
            break;
    }
    if (test_host_violations(h) > 0)
        fail("host rule violated: %s%ld", test_host_violation(h, 0), test_host_violations(h));
    test_host_free(h);
    return NULL;
}

/* The main thread's part: a different fault every 150 ms. */
static void hostile(int seconds)
{
    static const char *const faults[] = {
        "{\"match\":\"heartbeat\",\"status\":500,\"count\":3}",
        "{\"match\":\"any\",\"hang\":true,\"count\":2}",
        "{\"match\":\"any\",\"drop\":true,\"count\":3}",
        "{\"match\":\"register\",\"status\":503,\"retry_after\":0,\"count\":2}",
        "{\"match\":\"heartbeat\",\"reset\":true,\"count\":2}",
    };
    uint64_t end = th_now_ns() + (uint64_t)seconds * 1000000000u;
    char token[64];
    for (int k = 0; th_now_ns() < end; k++) {
        switch (k % 7) {
        case 5:
            if (orchd_restart(cp) != 0)
                fail("restart failed%s%ld", "", 0);
            break;
        case 6: /* rotate: server first (401s), then the nodes' file */
            snprintf(token, sizeof(token), "stress-token-%d\n", k);
            write_file(server_token, token);
            sleep_ms(60);
            write_file(node_token, token);
            break;
        default:
            if (orchd_fault(cp, faults[k % 7]) != 0)
                fail("fault failed%s%ld", "", k);
        }
        sleep_ms(150);
    }
    orchd_clear_faults(cp);
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 20;
    pthread_t t[HOSTS];
    char err[512];

    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread: orchd.c uses curl too */
    snprintf(dir, sizeof(dir), "/tmp/pmd-tsan-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(server_token, sizeof(server_token), "%s/server-token", dir);
    snprintf(node_token, sizeof(node_token), "%s/node-token", dir);
    write_file(server_token, "stress-token-0\n");
    write_file(node_token, "stress-token-0\n");
    orchd_options_t opt = {.token_file = server_token, .next_heartbeat_ms = 1};
    if ((cp = orchd_start(&opt)) == NULL)
        return 1;
    if (host_loader_open(NODE_REGISTRATION_SO, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &lp,
                         err, sizeof(err)) != PMD_OK ||
        !host_loader_has_extensions(&lp) ||
        (stats_ext = lp.plugin->get_extension(PMD_EXT_STATS)) == NULL) {
        fprintf(stderr, "tsan_stress: cannot load %s: %s\n", NODE_REGISTRATION_SO, err);
        orchd_stop(cp);
        return 1;
    }
    for (int i = 0; i < HOSTS; i++)
        pthread_create(&t[i], NULL, host_main, (void *)(intptr_t)i);
    hostile(seconds);
    atomic_store(&calm, 1);
    atomic_store(&stopping, 1);
    for (int i = 0; i < HOSTS; i++)
        pthread_join(t[i], NULL);
    host_loader_close(&lp);
    orchd_stop(cp);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "tsan_stress: cannot remove %s\n", dir);
    printf("tsan_stress: %lu cycles of %d instances, %lu stats reads, %d failures\n",
           atomic_load(&cycles), PER_HOST, atomic_load(&stats_reads), atomic_load(&failures));
    return atomic_load(&failures) ? 1 : 0;
}
