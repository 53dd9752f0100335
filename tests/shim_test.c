/*
 * shim_test.c - pmd-host-shim end to end: the real binary is spawned with
 * the example plugin (or the probe fixture, or a broken library), its
 * stderr captured to a file, and its exit status and lines checked.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char dir[64];      /* per-test scratch directory */
static char err_path[96]; /* the shim's stderr */

static void scratch_setup(void)
{
    strcpy(dir, "/tmp/shim_test_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(err_path, sizeof(err_path), "%s/stderr.txt", dir);
}

static void scratch_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}

TestSuite(shim, .init = scratch_setup, .fini = scratch_teardown, .timeout = 15);

/* Writes text to dir/name (via rename, so a reader never sees half) and
 * returns the path (static buffer per call site is the caller's copy). */
static const char *put_file(const char *name, const char *text)
{
    static char paths[8][128];
    static int next;
    char *path = paths[next++ % 8], tmp[140];
    snprintf(path, 128, "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(rename(tmp, path), 0);
    return path;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts pmd-host-shim with argv (NULL-terminated, without argv[0]). */
static pid_t spawn_shim(const char *const *args)
{
    const char *argv[32] = {SHIM_EXE};
    int n = 1;
    for (; args[n - 1] != NULL && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, SHIM_EXE, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn: %s", strerror(rc));
    return pid;
}

/* The exit code, or 128 + signal; kills and fails after timeout_ms. */
static int wait_exit(pid_t pid, int timeout_ms)
{
    int status;
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            cr_assert_fail("pmd-host-shim did not exit within %d ms", timeout_ms);
        }
        sleep_ms(5);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_shim(const char *const *args)
{
    return wait_exit(spawn_shim(args), 8000);
}

/* The captured stderr so far (static buffer). */
static const char *err_text(void)
{
    static char buf[256 * 1024];
    FILE *f = fopen(err_path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static int count_lines(const char *text) { return count_of(text, "\n"); }

/* Waits until stderr holds needle at least `times` times. */
static void wait_for(const char *needle, int times, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    while (count_of(err_text(), needle) < times) {
        cr_assert(now_ms() < end, "no \"%s\" (x%d) within %d ms; stderr:\n%s", needle, times,
                  timeout_ms, err_text());
        sleep_ms(10);
    }
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define FIXTURE(name) FIXTURES_DIR "/" name

/* ---- lifecycle ---- */

static void stops_on_signal(int sig, const char *name)
{
    pid_t pid = spawn_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                                "--tick-ms", "10"));
    wait_for("pmd-host-shim: loaded example ", 1, 5000);
    wait_for("example: started", 1, 5000);
    kill(pid, sig);
    cr_assert_eq(wait_exit(pid, 5000), 0, "stderr:\n%s", err_text());
    const char *text = err_text();
    cr_assert(strstr(text, name) != NULL, "%s", text);
    cr_assert(strstr(text, "INFO  example: stopped after ") != NULL, "%s", text);
    cr_assert(strstr(text, "STATE stopped") != NULL, "%s", text);
}

Test(shim, sigterm_stops_the_plugin_and_exits_zero) { stops_on_signal(SIGTERM, "received SIGTERM, stopping"); }

Test(shim, sigint_stops_the_plugin_and_exits_zero) { stops_on_signal(SIGINT, "received SIGINT, stopping"); }

Test(shim, loaded_line_names_plugin_version_and_abi)
{
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                               "--run-for", "0")), 0, "%s", err_text());
    const char *first = "pmd-host-shim: loaded example 0.1.0 (ABI 1.1, session minor 1)\n";
    cr_assert(strncmp(err_text(), first, strlen(first)) == 0, "%s", err_text());
}

Test(shim, run_for_ends_by_itself_with_exit_zero)
{
    uint64_t t0 = now_ms();
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                               "--tick-ms", "10", "--run-for", "0.5")), 0, "%s", err_text());
    uint64_t took = now_ms() - t0;
    cr_assert(took >= 500 && took < 3000, "took %llu ms", (unsigned long long)took);
    const char *text = err_text();
    cr_assert(strstr(text, "--run-for time is over, stopping") != NULL, "%s", text);
    cr_assert(strstr(text, "example: stopped after ") != NULL, "%s", text);
}

Test(shim, ticks_on_schedule)
{
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                               "--tick-ms", "20", "--run-for", "0.5")), 0, "%s", err_text());
    const char *p = strstr(err_text(), "example: stopped after ");
    cr_assert_not_null(p);
    int ticks = atoi(p + strlen("example: stopped after "));
    cr_assert(ticks >= 15 && ticks <= 25, "%d ticks in 500 ms at 20 ms", ticks);
}

/* ---- failures: one line, non-zero exit ---- */

/* Exactly one stderr line that is not the "loaded" line, holding needle. */
static void assert_one_failure_line(const char *needle)
{
    const char *text = err_text();
    int loaded = count_of(text, "pmd-host-shim: loaded ");
    cr_assert_eq(count_lines(text) - loaded, 1, "expected one line, got:\n%s", text);
    cr_assert(strstr(text, needle) != NULL, "\"%s\" not in:\n%s", needle, text);
}

Test(shim, missing_plugin_file_fails_with_one_line)
{
    cr_assert_eq(run_shim(ARGS("--plugin", "/nonexistent/plugin.so", "--config",
                               FIXTURE("empty_config.json"))), 1);
    assert_one_failure_line("cannot load plugin /nonexistent/plugin.so: dlopen failed");
}

Test(shim, library_without_entry_fails_with_one_line)
{
    cr_assert_eq(run_shim(ARGS("--plugin", NO_ENTRY_SO, "--config", FIXTURE("empty_config.json"))), 1);
    assert_one_failure_line("no exported symbol pmd_plugin_entry");
}

Test(shim, init_failure_reports_plugin_message_and_result)
{
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config",
                               FIXTURE("unknown_key_config.json"))), 1);
    assert_one_failure_line("init of example failed: invalid config (4): config: unknown key \"bogus\"");
}

Test(shim, unreadable_config_fails_before_loading)
{
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", "/nonexistent/config.json")), 1);
    assert_one_failure_line("cannot read config: /nonexistent/config.json: cannot open");
    cr_assert_eq(count_of(err_text(), "loaded"), 0);
}

Test(shim, bad_capabilities_file_fails_before_init)
{
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                               "--capabilities", FIXTURE("capabilities_bad.json"))), 1);
    assert_one_failure_line("gpu 0: vram_total_bytes must not be negative");
    cr_assert_eq(count_of(err_text(), "loaded"), 0);
}

Test(shim, bad_pools_file_at_start_fails_before_init)
{
    const char *pools = put_file("pools.json", "[{\"ready\": true}]");
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                               "--pools", pools)), 1);
    assert_one_failure_line("pool 0: pool_id is missing");
}

Test(shim, usage_errors_exit_two_with_one_line)
{
    const char *const *bad[] = {
        ARGS("--config", FIXTURE("empty_config.json")),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--tick-ms", "0"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--tick-ms", "60001"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--run-for", "soon"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--run-for", "-1"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--frobnicate"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "extra"),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(run_shim(bad[i]), 2, "case %zu: %s", i, err_text());
        cr_assert_eq(count_lines(err_text()), 1, "case %zu:\n%s", i, err_text());
    }
}

Test(shim, help_and_version_exit_zero)
{
    cr_assert_eq(run_shim(ARGS("--help")), 0);
    cr_assert_eq(run_shim(ARGS("--version")), 0);
}

/* ---- pools file ---- */

Test(shim, pools_file_bad_content_reported_once_and_last_good_list_kept)
{
    const char *cfg = put_file("config.json", "{\"log_every_ticks\": 2}");
    const char *pools = put_file("pools.json", "[{\"pool_id\":\"a\"},{\"pool_id\":\"b\"}]");
    pid_t pid = spawn_shim(ARGS("--plugin", EXAMPLE_SO, "--config", cfg, "--pools", pools,
                                "--tick-ms", "10"));
    wait_for("host reports 2 pool(s)", 1, 5000);
    put_file("pools.json", "[{\"pool_id\":\"a\"},{\"pool_id\":\"b\",\"slots_total\":-4}]");
    wait_for("keeping the last good list (2 pool(s))", 1, 3000);
    int before = count_of(err_text(), "host reports 2 pool(s)");
    wait_for("host reports 2 pool(s)", before + 5, 3000); /* still served after the bad file */
    sleep_ms(500);                                       /* > two more file checks */
    const char *text = err_text();
    cr_assert_eq(count_of(text, "keeping the last good list"), 1, "%s", text);
    const char *line = strstr(text, "WARN  ");
    cr_assert(line != NULL && strstr(line, "pools.json: pool 1: slots_total must not be negative"),
              "%s", text);
    put_file("pools.json", "[{\"pool_id\":\"c\"},{\"pool_id\":\"d\"},{\"pool_id\":\"e\"}]");
    wait_for("host reports 3 pool(s)", 1, 3000);
    cr_assert(strstr(err_text(), "pools.json: reloaded, 3 pool(s)") != NULL, "%s", err_text());
    kill(pid, SIGTERM);
    cr_assert_eq(wait_exit(pid, 5000), 0, "%s", err_text());
}

Test(shim, no_pools_file_means_an_empty_list)
{
    const char *cfg = put_file("config.json", "{\"log_every_ticks\": 2}");
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", cfg, "--tick-ms", "10",
                               "--run-for", "0.1")), 0, "%s", err_text());
    cr_assert(strstr(err_text(), "host reports 0 pool(s)") != NULL, "%s", err_text());
}

Test(shim, pools_and_capabilities_reach_the_plugin_intact)
{
    const char *cfg = put_file("config.json", "{\"pools_every_ticks\": 1, \"caps_at_start\": true}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--pools",
                               FIXTURE("pools_two.json"), "--capabilities",
                               FIXTURE("capabilities_h200.json"), "--tick-ms", "10",
                               "--run-for", "0.1")), 0, "%s", err_text());
    const char *text = err_text();
    cr_assert(strstr(text, "probe: caps rc=0 cpu=8 ram=1024 gpu0:NVIDIA H200:9.0:150000000000"), "%s", text);
    cr_assert(strstr(text, "probe: pools rc=0 pool-a:1:0:3/4:8000000000:llamacpp pool-b:0:1:0/2:0:-"), "%s", text);
    cr_assert(strstr(text, "probe: init (host pmd-host-shim 0.1.0)") != NULL, "%s", text);
}

Test(shim, capabilities_default_to_this_machine)
{
    char expect[64];
    const char *cfg = put_file("config.json", "{\"caps_at_start\": true}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--run-for", "0")), 0);
    snprintf(expect, sizeof(expect), "probe: caps rc=0 cpu=%ld ram=", sysconf(_SC_NPROCESSORS_ONLN));
    cr_assert(strstr(err_text(), expect) != NULL, "%s", err_text());
}

Test(shim, refused_pool_record_logged_once)
{
    const char *cfg = put_file("config.json", "{\"pools_every_ticks\": 1, \"refuse_pool\": \"pool-b\"}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--pools",
                               FIXTURE("pools_two.json"), "--tick-ms", "10", "--run-for", "0.3")), 0);
    const char *text = err_text();
    cr_assert_gt(count_of(text, "probe: pools rc=0"), 10, "%s", text);
    cr_assert_eq(count_of(text, "pool sink refused pool 1 (\"pool-b\"): invalid data from host (8)"), 1,
                 "%s", text);
}

/* ---- output lines ---- */

Test(shim, every_line_is_timestamped_and_plugin_text_cannot_break_lines)
{
    const char *cfg = put_file("config.json",
                               "{\"log_text\": \"one\\ntwo\\r\\n2020-01-01T00:00:00.000Z ERROR fake \\u001b[2J\","
                               " \"state_detail\": \"why\\nnot\"}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--run-for", "0")), 0,
                 "%s", err_text());
    const char *text = err_text();
    cr_assert(strstr(text, " INFO  one\\ntwo\\r\\n2020-01-01T00:00:00.000Z ERROR fake \\x1b[2J\n"), "%s", text);
    cr_assert(strstr(text, " STATE registered (why\\nnot)\n"), "%s", text);
    regex_t re;
    cr_assert_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                              "(ERROR|WARN |INFO |DEBUG|STATE) [^ ]", REG_EXTENDED | REG_NOSUB), 0);
    char *copy = strdup(text), *save = NULL;
    int lines = 0;
    for (char *l = strtok_r(copy, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save), lines++)
        cr_assert(strncmp(l, "pmd-host-shim: loaded ", 22) == 0 || regexec(&re, l, 0, NULL, 0) == 0,
                  "line not timestamped: %s", l);
    cr_assert_geq(lines, 6);
    free(copy);
    regfree(&re);
}

/* ---- host-side rules ---- */

Test(shim, callback_from_a_plugin_thread_is_an_abi_violation)
{
    const char *cfg = put_file("config.json", "{\"thread_callback\": true}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--run-for", "0")), 1);
    const char *text = err_text();
    cr_assert(strstr(text, "ERROR ABI violation: log called from a thread that is not the host thread"),
              "%s", text);
    cr_assert(strstr(text, "probe: destroy") != NULL, "%s", text);
}

Test(shim, failed_stop_is_logged_and_teardown_goes_on)
{
    const char *cfg = put_file("config.json", "{\"stop_result\": 10}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--run-for", "0")), 1);
    const char *text = err_text();
    const char *fail = strstr(text, "ERROR stop failed: internal error (10); destroying anyway");
    cr_assert_not_null(fail, "%s", text);
    cr_assert(strstr(fail, "probe: destroy") != NULL, "%s", text);
}

Test(shim, plugin_name_without_slash_is_a_file_in_the_current_directory)
{
    char so_dir[512];
    snprintf(so_dir, sizeof(so_dir), "%s", EXAMPLE_SO);
    *strrchr(so_dir, '/') = '\0';
    cr_assert_eq(chdir(so_dir), 0);
    cr_assert_eq(run_shim(ARGS("--plugin", "example.so", "--config", FIXTURE("empty_config.json"),
                               "--run-for", "0")), 0, "%s", err_text());
}

Test(shim, pools_requested_during_init_is_an_abi_violation)
{
    const char *cfg = put_file("config.json", "{\"pools_in_init\": true}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--run-for", "0")), 1);
    cr_assert(strstr(err_text(), "ERROR ABI violation: list_pools called during init") != NULL, "%s",
              err_text());
}
