/*
 * shim_test.c - pmd-host-shim end to end: the real binary is spawned with
 * the example plugin (or the probe fixture, or a broken library), its
 * stderr captured to a file, and its exit status and lines checked.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef NODE_REGISTRATION_SO
#include <curl/curl.h>

#include "orchd.h"
#endif

extern char **environ;

static char dir[64];      /* per-test scratch directory */
static char err_path[96]; /* the shim's stderr */
static char out_path[96]; /* the shim's stdout */

static void scratch_setup(void)
{
    strcpy(dir, "/tmp/shim_test_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(err_path, sizeof(err_path), "%s/stderr.txt", dir);
    snprintf(out_path, sizeof(out_path), "%s/stdout.txt", dir);
}

#ifdef NODE_REGISTRATION_SO
static orchd_t *g_cp; /* the private control plane, when a test started one */
static pid_t g_node;  /* a shim a test may leave running when it fails */
#endif

static void scratch_teardown(void)
{
    char cmd[128];
#ifdef NODE_REGISTRATION_SO
    if (g_node > 0) {
        kill(g_node, SIGKILL);
        waitpid(g_node, NULL, 0);
        g_node = 0;
    }
    orchd_stop(g_cp);
    g_cp = NULL;
#endif
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

#define STDERR_TO_FILE -1 /* spawn_shim_stderr: stderr to err_path */
#define STDERR_CLOSED -2  /* spawn_shim_stderr: no descriptor 2 at all */

/* Starts pmd-host-shim with argv (NULL-terminated, without argv[0]) and
 * its stderr on err_path, on the descriptor stderr_fd, or closed. */
static pid_t spawn_shim_stderr(const char *const *args, int stderr_fd)
{
    const char *argv[32] = {SHIM_EXE};
    int n = 1;
    for (; args[n - 1] != NULL && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (stderr_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, stderr_fd, 2);
    else if (stderr_fd == STDERR_CLOSED)
        posix_spawn_file_actions_addclose(&fa, 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, SHIM_EXE, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn: %s", strerror(rc));
    return pid;
}

static pid_t spawn_shim(const char *const *args)
{
    return spawn_shim_stderr(args, STDERR_TO_FILE);
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

static const char *read_all(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

/* The captured stderr / stdout so far (static buffers). */
static const char *err_text(void)
{
    static char buf[256 * 1024];
    return read_all(err_path, buf, sizeof(buf));
}

static const char *out_text(void)
{
    static char buf[64 * 1024];
    return read_all(out_path, buf, sizeof(buf));
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static int count_lines(const char *text)
{
    return count_of(text, "\n");
}

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
    pid_t pid = spawn_shim(
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--tick-ms", "10"));
    wait_for("event=loaded name=example ", 1, 5000);
    wait_for("example: started", 1, 5000);
    kill(pid, sig);
    cr_assert_eq(wait_exit(pid, 5000), 0, "stderr:\n%s", err_text());
    const char *text = err_text();
    cr_assert(strstr(text, name) != NULL, "%s", text);
    cr_assert(strstr(text, "INFO  plugin=example example: stopped after ") != NULL, "%s", text);
    cr_assert(strstr(text, "INFO  plugin=example event=state_changed state=stopped") != NULL, "%s",
              text);
}

Test(shim, sigterm_stops_the_plugin_and_exits_zero)
{
    stops_on_signal(SIGTERM, "event=stopping reason=SIGTERM");
}

Test(shim, sigint_stops_the_plugin_and_exits_zero)
{
    stops_on_signal(SIGINT, "event=stopping reason=SIGINT");
}

Test(shim, loaded_line_names_plugin_version_and_abi)
{
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                               "--run-for", "0")),
                 0, "%s", err_text());
    const char *text = err_text();
    const char *loaded = strstr(text, " INFO  plugin=pmd-host-shim event=loaded name=example "
                                      "version=0.1.0 abi=1.2 session_minor=2 stats=no path=/");
    cr_assert_not_null(loaded, "%s", text);
    const char *first_plugin_line = strstr(text, "plugin=example ");
    cr_assert(first_plugin_line == NULL || first_plugin_line > loaded, "%s", text);
}

Test(shim, run_for_ends_by_itself_with_exit_zero)
{
    uint64_t t0 = now_ms();
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                               "--tick-ms", "10", "--run-for", "0.5")),
                 0, "%s", err_text());
    uint64_t took = now_ms() - t0;
    cr_assert(took >= 500 && took < 3000, "took %llu ms", (unsigned long long)took);
    const char *text = err_text();
    cr_assert(strstr(text, "event=stopping reason=run_for") != NULL, "%s", text);
    cr_assert(strstr(text, "example: stopped after ") != NULL, "%s", text);
}

Test(shim, ticks_on_schedule)
{
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                               "--tick-ms", "20", "--run-for", "0.5")),
                 0, "%s", err_text());
    const char *p = strstr(err_text(), "example: stopped after ");
    cr_assert_not_null(p);
    int ticks = atoi(p + strlen("example: stopped after "));
    cr_assert(ticks >= 15 && ticks <= 25, "%d ticks in 500 ms at 20 ms", ticks);
}

/* ---- failures: one line, non-zero exit ---- */

/* Exactly one stderr line that is not the "loaded" or "gpu_discovery"
 * line, holding needle. */
static void assert_one_failure_line(const char *needle)
{
    const char *text = err_text();
    int info = count_of(text, "event=loaded ") + count_of(text, "event=gpu_discovery ");
    cr_assert_eq(count_lines(text) - info, 1, "expected one line, got:\n%s", text);
    cr_assert(strstr(text, needle) != NULL, "\"%s\" not in:\n%s", needle, text);
}

Test(shim, missing_plugin_file_fails_with_one_line)
{
    cr_assert_eq(run_shim(ARGS("--plugin", "/nonexistent/plugin.so", "--config",
                               FIXTURE("empty_config.json"))),
                 1);
    assert_one_failure_line(
        "ERROR plugin=pmd-host-shim event=start_failed stage=load "
        "reason=\"cannot load plugin /nonexistent/plugin.so: No such file or directory\"");
}

Test(shim, library_without_entry_fails_with_one_line)
{
    cr_assert_eq(run_shim(ARGS("--plugin", NO_ENTRY_SO, "--config", FIXTURE("empty_config.json"))),
                 1);
    assert_one_failure_line("no exported symbol pmd_plugin_entry");
}

Test(shim, init_failure_reports_plugin_message_and_result)
{
    cr_assert_eq(
        run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("unknown_key_config.json"))), 1);
    assert_one_failure_line(
        "event=start_failed stage=init result=\"invalid config\" code=4 "
        "config=" FIXTURE(
            "unknown_key_config.json") " reason=\"config: unknown key \\\"bogus\\\"\"\n");
}

Test(shim, unreadable_config_fails_before_loading)
{
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", "/nonexistent/config.json")), 1);
    assert_one_failure_line("event=start_failed stage=config reason=\"/nonexistent/config.json: "
                            "cannot open");
    cr_assert_eq(count_of(err_text(), "loaded"), 0);
}

Test(shim, bad_capabilities_file_fails_before_init)
{
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                               "--capabilities", FIXTURE("capabilities_bad.json"))),
                 1);
    assert_one_failure_line("event=start_failed stage=capabilities reason=");
    assert_one_failure_line("gpu 0: vram_total_bytes must not be negative");
    cr_assert_eq(count_of(err_text(), "loaded"), 0);
}

Test(shim, bad_pools_file_at_start_fails_before_init)
{
    const char *pools = put_file("pools.json", "[{\"ready\": true}]");
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                               "--pools", pools)),
                 1);
    assert_one_failure_line("event=start_failed stage=pools reason=");
    assert_one_failure_line("pool 0: pool_id is missing");
}

Test(shim, usage_errors_exit_two_with_one_line)
{
    const char *const *bad[] = {
        ARGS("--config", FIXTURE("empty_config.json")),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--tick-ms", "0"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--tick-ms",
             "60001"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--run-for", "soon"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--run-for", "-1"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--frobnicate"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "extra"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--metrics-port",
             "65536"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--metrics-port",
             "x"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
             "--metrics-port-file", "p"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--status-every",
             "-1"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--log-level",
             "verbose"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--log-level",
             "INFO"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--metrics-listen",
             "localhost:9464"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--metrics-listen",
             "127.0.0.1"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--metrics-listen",
             "::1:9464"),
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--metrics-listen",
             "127.0.0.1:0", "--metrics-port", "0"),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(run_shim(bad[i]), 2, "case %zu: %s", i, err_text());
        cr_assert_eq(count_lines(err_text()), 1, "case %zu:\n%s", i, err_text());
    }
}

Test(shim, help_and_version_exit_zero)
{
    cr_assert_eq(run_shim(ARGS("--help")), 0);
    cr_assert(strstr(out_text(), "usage: pmd-host-shim ") == out_text(), "%s", out_text());
    cr_assert_eq(run_shim(ARGS("-h")), 0);
    cr_assert(strstr(out_text(), "--metrics-listen ADDR:PORT") != NULL, "%s", out_text());
    cr_assert_eq(run_shim(ARGS("--version")), 0);
    cr_assert(strncmp(out_text(), "pmd-host-shim ", 14) == 0, "%s", out_text());
}

/* ---- config file ---- */

Test(shim, config_syntax_error_names_file_line_and_column)
{
    const char *cfg = put_file("node.json", "{\n  \"log_every_ticks\": 2,\n  \"x\": [1 2]\n}\n");
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", cfg)), 1);
    char want[256];
    snprintf(want, sizeof(want),
             "ERROR plugin=pmd-host-shim event=start_failed stage=config "
             "reason=\"%s:3:11: JSON syntax error: array value separator ',' expected\"\n",
             cfg);
    assert_one_failure_line(want);
    cr_assert_eq(count_of(err_text(), "loaded"), 0, "%s", err_text());
}

/* ---- log levels and journald ---- */

Test(shim, log_level_info_by_default_drops_debug_lines)
{
    const char *cfg = put_file("config.json", "{\"log_levels\": true}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--run-for", "0")), 0,
                 "%s", err_text());
    const char *text = err_text();
    cr_assert_eq(count_of(text, "probe: level debug"), 0, "%s", text);
    cr_assert(strstr(text, " INFO  plugin=shim_probe probe: level info\n"), "%s", text);
    cr_assert(strstr(text, " WARN  plugin=shim_probe probe: level warn\n"), "%s", text);
    cr_assert(strstr(text, " ERROR plugin=shim_probe probe: level error\n"), "%s", text);
}

Test(shim, log_level_debug_adds_debug_lines_and_error_keeps_only_errors)
{
    const char *cfg = put_file("config.json", "{\"log_levels\": true}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--run-for", "0",
                               "--log-level", "debug")),
                 0, "%s", err_text());
    cr_assert(strstr(err_text(), " DEBUG plugin=shim_probe probe: level debug\n"), "%s",
              err_text());
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--run-for", "0",
                               "--log-level", "error")),
                 0, "%s", err_text());
    const char *text = err_text();
    cr_assert(strstr(text, " ERROR plugin=shim_probe probe: level error\n"), "%s", text);
    cr_assert_eq(count_lines(text), count_of(text, " ERROR "), "only ERROR lines:\n%s", text);
}

/* Runs the shim with stderr on a pipe and JOURNAL_STREAM set to journal
 * (a format string for the pipe's "dev:ino", or a fixed value); returns
 * everything it wrote (static). */
static const char *run_with_journal_stream(const char *journal, const char *const *args)
{
    static char buf[64 * 1024];
    int fds[2];
    struct stat st;
    char value[64];
    cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
    cr_assert_eq(fstat(fds[1], &st), 0);
    snprintf(value, sizeof(value), journal, (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", value, 1);
    pid_t pid = spawn_shim_stderr(args, fds[1]);
    unsetenv("JOURNAL_STREAM");
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fds[0]);
    cr_assert_eq(wait_exit(pid, 5000), 0, "%s", buf);
    return buf;
}

Test(shim, journal_stream_lines_get_syslog_priorities_and_no_timestamp)
{
    const char *cfg = put_file("config.json", "{\"log_levels\": true}");
    const char *text =
        run_with_journal_stream("%llu:%llu", ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg,
                                                  "--run-for", "0", "--log-level", "debug"));
    cr_assert(strstr(text, "<6>INFO  plugin=pmd-host-shim event=loaded name=shim_probe "), "%s",
              text);
    cr_assert(strstr(text, "<7>DEBUG plugin=shim_probe probe: level debug\n"), "%s", text);
    cr_assert(strstr(text, "<4>WARN  plugin=shim_probe probe: level warn\n"), "%s", text);
    cr_assert(strstr(text, "<3>ERROR plugin=shim_probe probe: level error\n"), "%s", text);
    regex_t re;
    cr_assert_eq(regcomp(&re, "^<[3467]>(ERROR|WARN |INFO |DEBUG) plugin=[^ ]+ [^ ]",
                         REG_EXTENDED | REG_NOSUB),
                 0);
    char *copy = strdup(text), *save = NULL;
    int lines = 0;
    for (char *l = strtok_r(copy, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save), lines++)
        cr_assert(regexec(&re, l, 0, NULL, 0) == 0, "not a journal line: %s", l);
    cr_assert_geq(lines, 6);
    free(copy);
    regfree(&re);
}

Test(shim, journal_stream_naming_another_file_keeps_timestamps)
{
    const char *text =
        run_with_journal_stream("%llu:%llu0", ARGS("--plugin", EXAMPLE_SO, "--config",
                                                   FIXTURE("empty_config.json"), "--run-for", "0"));
    cr_assert_eq(count_of(text, "<6>"), 0, "%s", text);
    cr_assert(strstr(text, "Z INFO  plugin=pmd-host-shim event=loaded name=example "), "%s", text);
}

/* ---- systemd notify ---- */

static int g_notify_fd = -1; /* the test's own notify socket */

/* Binds a datagram socket at dir/notify.sock (or the abstract name @name
 * when abstract) and points NOTIFY_SOCKET at it for the next spawn. */
static void listen_notify(int abstract)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    char value[108];
    socklen_t len;
    if (abstract) {
        snprintf(value, sizeof(value), "@pmd-shim-test-%d", (int)getpid());
        memcpy(a.sun_path, value, strlen(value));
        a.sun_path[0] = '\0';
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(value));
    } else {
        snprintf(value, sizeof(value), "%s/notify.sock", dir);
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", value);
        len = sizeof(a);
    }
    g_notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(g_notify_fd, 0);
    cr_assert_eq(bind(g_notify_fd, (struct sockaddr *)&a, len), 0, "bind: %s", strerror(errno));
    setenv("NOTIFY_SOCKET", value, 1);
}

/* Appends every datagram that arrives within ms to log, one per line
 * ("\n" inside a datagram written as "|"), until one holding until
 * (when not NULL) arrives. Returns 1 when it did. */
static int read_notify(char *log, size_t size, int ms, const char *until)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (now_ms() < end) {
        struct pollfd p = {g_notify_fd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0)
            continue;
        char msg[1024];
        ssize_t n = recv(g_notify_fd, msg, sizeof(msg) - 1, 0);
        if (n <= 0)
            continue;
        msg[n] = '\0';
        int hit = until != NULL && strstr(msg, until) != NULL;
        for (char *c = msg; *c; c++)
            *c = *c == '\n' ? '|' : *c;
        size_t len = strlen(log);
        snprintf(log + len, size - len, "%s\n", msg);
        if (hit)
            return 1;
    }
    return 0;
}

Test(shim, systemd_notify_ready_status_watchdog_and_stopping)
{
    static char log[64 * 1024];
    listen_notify(0);
    setenv("WATCHDOG_USEC", "100000", 1); /* WATCHDOG=1 every 50 ms */
    pid_t pid = spawn_shim(
        ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"), "--tick-ms", "10"));
    unsetenv("WATCHDOG_USEC");
    unsetenv("NOTIFY_SOCKET");
    cr_assert(read_notify(log, sizeof(log), 5000, "READY=1"), "no READY=1: %s\n%s", log,
              err_text());
    cr_assert(strstr(log, "READY=1|STATUS=registered\n"), "%s", log);
    read_notify(log, sizeof(log), 600, NULL);
    cr_assert_geq(count_of(log, "WATCHDOG=1\n"), 6, "WATCHDOG=1 every 50 ms for 600 ms:\n%s", log);
    cr_assert_lt(strstr(log, "READY=1"), strstr(log, "WATCHDOG=1"), "%s", log);
    kill(pid, SIGTERM);
    cr_assert(read_notify(log, sizeof(log), 5000, "STOPPING=1"), "no STOPPING=1: %s", log);
    cr_assert_eq(wait_exit(pid, 5000), 0, "%s", err_text());
    cr_assert(strstr(log, "STOPPING=1|STATUS=stopping (SIGTERM)\n"), "%s", log);
    cr_assert(strstr(err_text(), "event=systemd_notify socket="), "%s", err_text());
    close(g_notify_fd);
}

Test(shim, systemd_notify_on_an_abstract_socket_and_no_watchdog_unless_asked)
{
    static char log[16 * 1024];
    listen_notify(1);
    pid_t pid = spawn_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                                "--tick-ms", "10", "--run-for", "0.4"));
    unsetenv("NOTIFY_SOCKET");
    cr_assert(read_notify(log, sizeof(log), 5000, "STOPPING=1"), "%s\n%s", log, err_text());
    cr_assert_eq(wait_exit(pid, 5000), 0, "%s", err_text());
    cr_assert(strstr(log, "READY=1|STATUS=registered\n"), "%s", log);
    cr_assert(strstr(log, "STOPPING=1|STATUS=stopping (run_for)\n"), "%s", log);
    cr_assert_eq(count_of(log, "WATCHDOG=1"), 0, "no WATCHDOG_USEC, no WATCHDOG=1:\n%s", log);
    close(g_notify_fd);
}

Test(shim, systemd_watchdog_for_another_pid_is_not_ours)
{
    static char log[16 * 1024];
    listen_notify(0);
    setenv("WATCHDOG_USEC", "100000", 1);
    setenv("WATCHDOG_PID", "1", 1);
    pid_t pid = spawn_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                                "--tick-ms", "10", "--run-for", "0.4"));
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    unsetenv("NOTIFY_SOCKET");
    cr_assert(read_notify(log, sizeof(log), 5000, "STOPPING=1"), "%s\n%s", log, err_text());
    cr_assert_eq(wait_exit(pid, 5000), 0, "%s", err_text());
    cr_assert_eq(count_of(log, "WATCHDOG=1"), 0, "%s", log);
    close(g_notify_fd);
}

Test(shim, unusable_notify_socket_fails_the_start)
{
    setenv("NOTIFY_SOCKET", "relative/notify.sock", 1);
    int rc = run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json")));
    unsetenv("NOTIFY_SOCKET");
    cr_assert_eq(rc, 1, "%s", err_text());
    assert_one_failure_line("event=start_failed stage=systemd reason=\"NOTIFY_SOCKET "
                            "\\\"relative/notify.sock\\\" is not an absolute path or @name\"");
}

/* ---- pools file ---- */

Test(shim, pools_file_bad_content_reported_once_and_last_good_list_kept)
{
    const char *cfg = put_file("config.json", "{\"log_every_ticks\": 2}");
    const char *pools = put_file("pools.json", "[{\"pool_id\":\"a\"},{\"pool_id\":\"b\"}]");
    pid_t pid = spawn_shim(
        ARGS("--plugin", EXAMPLE_SO, "--config", cfg, "--pools", pools, "--tick-ms", "10"));
    wait_for("host reports 2 pool(s)", 1, 5000);
    put_file("pools.json", "[{\"pool_id\":\"a\"},{\"pool_id\":\"b\",\"slots_total\":-4}]");
    wait_for("keeping the last good list (2 pool(s))", 1, 3000);
    int before = count_of(err_text(), "host reports 2 pool(s)");
    wait_for("host reports 2 pool(s)", before + 5, 3000); /* still served after the bad file */
    sleep_ms(500);                                        /* > two more file checks */
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
                               "--run-for", "0.1")),
                 0, "%s", err_text());
    cr_assert(strstr(err_text(), "host reports 0 pool(s)") != NULL, "%s", err_text());
}

Test(shim, pools_and_capabilities_reach_the_plugin_intact)
{
    const char *cfg =
        put_file("config.json", "{\"pools_every_ticks\": 1, \"caps_at_start\": true}");
    cr_assert_eq(
        run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--pools",
                      FIXTURE("pools_two.json"), "--capabilities",
                      FIXTURE("capabilities_h200.json"), "--tick-ms", "10", "--run-for", "0.1")),
        0, "%s", err_text());
    const char *text = err_text();
    cr_assert(strstr(text, "probe: caps rc=0 cpu=8 ram=1024 gpu0:NVIDIA H200:9.0:150000000000"),
              "%s", text);
    cr_assert(
        strstr(text, "probe: pools rc=0 pool-a:1:0:3/4:8000000000:llamacpp pool-b:0:1:0/2:0:-"),
        "%s", text);
    cr_assert(strstr(text, "probe: init (host pmd-host-shim 0.1.0)") != NULL, "%s", text);
}

Test(shim, capabilities_default_to_this_machine)
{
    char expect[64];
    const char *cfg = put_file("config.json", "{\"caps_at_start\": true}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--run-for", "0")), 0);
    snprintf(expect, sizeof(expect),
             "probe: caps rc=0 cpu=%ld ram=", sysconf(_SC_NPROCESSORS_ONLN));
    cr_assert(strstr(err_text(), expect) != NULL, "%s", err_text());
}

Test(shim, refused_pool_record_logged_once)
{
    const char *cfg =
        put_file("config.json", "{\"pools_every_ticks\": 1, \"refuse_pool\": \"pool-b\"}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--pools",
                               FIXTURE("pools_two.json"), "--tick-ms", "10", "--run-for", "0.3")),
                 0);
    const char *text = err_text();
    cr_assert_gt(count_of(text, "probe: pools rc=0"), 10, "%s", text);
    cr_assert_eq(count_of(text, "WARN  plugin=pmd-host-shim event=host_data_refused by=shim_probe "
                                "reason=\"pool sink refused pool 1 (\\\"pool-b\\\"): invalid data "
                                "from host (8)\"\n"),
                 1, "%s", text);
}

/* ---- output lines ---- */

Test(shim, every_line_is_timestamped_and_plugin_text_cannot_break_lines)
{
    const char *cfg =
        put_file("config.json",
                 "{\"log_text\": \"one\\ntwo\\r\\n2020-01-01T00:00:00.000Z ERROR fake \\u001b[2J\","
                 " \"state_detail\": \"why\\nnot\"}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--run-for", "0")), 0,
                 "%s", err_text());
    const char *text = err_text();
    cr_assert(strstr(text, " INFO  plugin=shim_probe one\\ntwo\\r\\n2020-01-01T00:00:00.000Z ERROR "
                           "fake \\x1b[2J\n"),
              "%s", text);
    cr_assert(strstr(text, " INFO  plugin=shim_probe event=state_changed state=registered "
                           "detail=\"why\\nnot\"\n"),
              "%s", text);
    regex_t re;
    cr_assert_eq(regcomp(&re,
                         "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                         "(ERROR|WARN |INFO |DEBUG) plugin=[^ ]+ [^ ]",
                         REG_EXTENDED | REG_NOSUB),
                 0);
    char *copy = strdup(text), *save = NULL;
    int lines = 0;
    for (char *l = strtok_r(copy, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save), lines++)
        cr_assert(regexec(&re, l, 0, NULL, 0) == 0, "line not \"<time> <level> plugin=...\": %s",
                  l);
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
    cr_assert(strstr(text,
                     "ERROR plugin=pmd-host-shim event=abi_violation by=shim_probe callback=log "
                     "problem=\"called from a thread that is not the host thread\""),
              "%s", text);
    cr_assert(strstr(text, "probe: destroy") != NULL, "%s", text);
}

Test(shim, failed_stop_is_logged_and_teardown_goes_on)
{
    const char *cfg = put_file("config.json", "{\"stop_result\": 10}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--run-for", "0")), 1);
    const char *text = err_text();
    const char *fail = strstr(text, "ERROR plugin=pmd-host-shim event=stop_failed "
                                    "result=\"internal error\" code=10 action=destroy");
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
                               "--run-for", "0")),
                 0, "%s", err_text());
}

Test(shim, pools_requested_during_init_is_an_abi_violation)
{
    const char *cfg = put_file("config.json", "{\"pools_in_init\": true}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--run-for", "0")), 1);
    cr_assert(strstr(err_text(), "ERROR plugin=pmd-host-shim event=abi_violation by=shim_probe "
                                 "callback=list_pools problem=\"called during init\"") != NULL,
              "%s", err_text());
}

/* ---- GPU discovery ---- */

Test(shim, discovery_without_nvml_reports_no_gpus_in_one_info_line)
{
    setenv("PMD_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    const char *cfg = put_file("config.json", "{\"caps_at_start\": true}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--run-for", "0")), 0,
                 "%s", err_text());
    const char *text = err_text();
    cr_assert_eq(count_of(text, "event=gpu_discovery"), 1, "%s", text);
    cr_assert(strstr(text, " INFO  plugin=pmd-host-shim event=gpu_discovery result=none "
                           "reason=\"/nonexistent/libnvidia-ml.so.1 not found\"\n"),
              "%s", text);
    const char *caps = strstr(text, "probe: caps rc=0 cpu=");
    cr_assert_not_null(caps, "%s", text);
    cr_assert(strstr(caps, " gpu0:") == NULL || strstr(caps, " gpu0:") > strchr(caps, '\n'), "%s",
              text);
}

Test(shim, discovery_with_nvml_reports_every_gpu)
{
    setenv("PMD_NVML_LIBRARY", FAKE_NVML_SO, 1);
    const char *cfg = put_file("config.json", "{\"caps_at_start\": true}");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--run-for", "0")), 0,
                 "%s", err_text());
    const char *text = err_text();
    cr_assert(strstr(text, "event=gpu_discovery result=ok gpus=2 library=" FAKE_NVML_SO "\n"), "%s",
              text);
    cr_assert(strstr(text, " gpu0:NVIDIA H200:9.0:150754820096 "
                           "gpu1:NVIDIA A100-SXM4-80GB:8.0:85899345920\n"),
              "%s", text);
}

Test(shim, discovery_when_the_driver_is_not_loaded_reports_why)
{
    setenv("PMD_NVML_LIBRARY", FAKE_NVML_SO, 1);
    setenv("FAKE_NVML_INIT_RESULT", "9", 1);
    cr_assert_eq(run_shim(ARGS("--discover")), 0, "%s", err_text());
    cr_assert(strstr(err_text(), "event=gpu_discovery result=none "
                                 "reason=\"nvmlInit_v2: Driver Not Loaded\"\n"),
              "%s", err_text());
    cr_assert(strstr(out_text(), "\"gpus\":") != NULL, "%s", out_text());
    cr_assert(strstr(out_text(), "\"device_id\"") == NULL, "%s", out_text());
}

/* --discover prints what --capabilities reads: the round trip reaches the
 * plugin unchanged. */
Test(shim, discover_prints_capabilities_that_the_shim_reads_back)
{
    setenv("PMD_NVML_LIBRARY", FAKE_NVML_SO, 1);
    cr_assert_eq(run_shim(ARGS("--discover")), 0, "%s", err_text());
    const char *json = out_text();
    cr_assert(strstr(json, "\"name\": \"NVIDIA H200\"") &&
                  strstr(json, "\"compute_capability\": \"8.0\"") &&
                  strstr(json, "\"vram_total_bytes\": 150754820096"),
              "%s", json);
    const char *caps = put_file("caps.json", json);
    const char *cfg = put_file("config.json", "{\"caps_at_start\": true}");
    unsetenv("PMD_NVML_LIBRARY");
    cr_assert_eq(run_shim(ARGS("--plugin", SHIM_PROBE_SO, "--config", cfg, "--capabilities", caps,
                               "--run-for", "0")),
                 0, "%s", err_text());
    cr_assert(strstr(err_text(), " gpu0:NVIDIA H200:9.0:150754820096 "
                                 "gpu1:NVIDIA A100-SXM4-80GB:8.0:85899345920\n"),
              "%s", err_text());
    cr_assert_eq(count_of(err_text(), "event=gpu_discovery"), 0, "%s", err_text());
}

/* ---- status line ---- */

/* Runs the shim with stderr on a pseudo-terminal; returns what it wrote. */
static const char *run_on_terminal(const char *const *args)
{
    static char buf[64 * 1024];
    size_t len = 0;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    cr_assert(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
    const char *argv[32] = {SHIM_EXE};
    int n = 1;
    for (; args[n - 1] != NULL && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, ptsname(master), O_RDWR | O_NOCTTY, 0);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, SHIM_EXE, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    uint64_t end = now_ms() + 8000;
    for (;;) {
        struct pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            ssize_t got = read(master, buf + len, sizeof(buf) - 1 - len);
            if (got > 0)
                len += (size_t)got;
            else if (got < 0 && errno == EIO)
                break; /* the shim closed the terminal: it has exited */
        } else if (waitpid(pid, NULL, WNOHANG) == pid) {
            pid = 0;
            break;
        }
        cr_assert(now_ms() < end && len < sizeof(buf) - 1, "shim on a terminal did not end");
    }
    if (pid != 0)
        cr_assert_eq(wait_exit(pid, 5000), 0);
    close(master);
    buf[len] = '\0';
    return buf;
}

Test(shim, status_line_every_period_when_stderr_is_a_terminal)
{
    const char *text =
        run_on_terminal(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                             "--tick-ms", "10", "--status-every", "0.2", "--run-for", "1.1"));
    int n = count_of(text, " STATUS registered, no stats from the plugin\r\n");
    cr_assert(n >= 4 && n <= 6, "%d status lines in 1.1 s at 0.2 s:\n%s", n, text);
}

Test(shim, no_status_line_when_stderr_is_not_a_terminal)
{
    cr_assert_eq(run_shim(ARGS("--plugin", EXAMPLE_SO, "--config", FIXTURE("empty_config.json"),
                               "--tick-ms", "10", "--status-every", "0.1", "--run-for", "0.5")),
                 0);
    cr_assert_eq(count_of(err_text(), "STATUS"), 0, "%s", err_text());
}

/* ---- signals and a lost stderr: the node always deregisters ---- */

#ifdef NODE_REGISTRATION_SO

#define NODE "shim-signals-node"
#define TOKEN "shim-signals-token-3b8e41d7"

/* A private orchd-dev (g_cp) and a node_registration config for it. */
static const char *start_control_plane(void)
{
    orchd_options_t opt = {.token = TOKEN, .next_heartbeat_ms = 100};
    g_cp = orchd_start(&opt);
    cr_assert_not_null(g_cp, "orchd-dev did not start");
    char text[512];
    snprintf(text, sizeof(text),
             "{\"node_id\": \"" NODE "\", \"address\": \"http://127.0.0.1:9200\", "
             "\"orchestratord_url\": \"%s\", \"api_token\": \"" TOKEN "\", "
             "\"heartbeat_interval_ms\": 100, \"request_timeout_ms\": 1000, "
             "\"retry_base_ms\": 50, \"retry_max_ms\": 200}",
             orchd_url(g_cp));
    return put_file("node.json", text);
}

/* The shim with node_registration, the pools and capabilities fixtures and
 * a metrics port (written to dir/metrics.port), stderr as stderr_fd says;
 * returns once the control plane lists the node Online. */
static const char *g_log_level = "info"; /* start_node's --log-level */

static pid_t start_node(const char *config, const char *pools, int stderr_fd)
{
    char port_file[128];
    snprintf(port_file, sizeof(port_file), "%s/metrics.port", dir);
    g_node = spawn_shim_stderr(ARGS("--plugin", NODE_REGISTRATION_SO, "--config", config, "--pools",
                                    pools, "--capabilities", FIXTURE("capabilities_h200.json"),
                                    "--tick-ms", "20", "--metrics-port", "0", "--metrics-port-file",
                                    port_file, "--log-level", g_log_level),
                               stderr_fd);
    cr_assert_eq(orchd_wait_node_status(g_cp, NODE, "Online", 5000), 0,
                 "the node never came Online; stderr (when captured):\n%s", err_text());
    return g_node;
}

/* Fails unless the shim is still running. */
static void assert_running(pid_t pid, const char *when)
{
    int status;
    pid_t got = waitpid(pid, &status, WNOHANG);
    if (got == pid)
        g_node = 0;
    cr_assert_eq(got, 0, "the shim ended %s: %s %d; stderr (when captured):\n%s", when,
                 WIFSIGNALED(status) ? "killed by signal" : "exit status",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), err_text());
}

/* Heartbeats go on: the control plane sees more of them within 3 s, and
 * the shim stays up meanwhile. */
static void assert_heartbeats_continue(pid_t pid)
{
    long before = orchd_stat(g_cp, "requests.heartbeat");
    uint64_t end = now_ms() + 3000;
    while (orchd_stat(g_cp, "requests.heartbeat") < before + 3) {
        assert_running(pid, "while heartbeats were awaited");
        cr_assert(now_ms() < end, "heartbeats stopped at %ld", before);
        sleep_ms(20);
    }
}

/* SIGTERM: exit 0, one DELETE seen, the node gone from the control plane,
 * and no request the control plane could not read. */
static void assert_sigterm_deregisters(pid_t pid)
{
    kill(pid, SIGTERM);
    int rc = wait_exit(pid, 5000);
    g_node = 0;
    cr_assert_eq(rc, 0, "exit status %d; stderr (when captured):\n%s", rc, err_text());
    cr_assert_eq(orchd_stat(g_cp, "requests.deregister"), 1);
    cr_assert_eq(orchd_wait_node_status(g_cp, NODE, NULL, 2000), 0, "the node is still listed");
    cr_assert_eq(orchd_stat(g_cp, "status.400"), 0, "the control plane got unreadable requests");
}

static size_t collect_body(char *data, size_t size, size_t n, void *arg)
{
    char *buf = arg;
    size_t old = strlen(buf), add = size * n;
    if (old + add >= 64 * 1024)
        add = 64 * 1024 - 1 - old;
    memcpy(buf + old, data, add);
    buf[old + add] = '\0';
    return size * n;
}

/* One value from the shim's /metrics (-1 when the series is absent). */
static double scrape_value(const char *series)
{
    static char body[64 * 1024];
    char url[64], path[128], port[16];
    snprintf(path, sizeof(path), "%s/metrics.port", dir);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics",
             atoi(read_all(path, port, sizeof(port))));
    body[0] = '\0';
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    cr_assert_eq(rc, CURLE_OK, "scrape %s: %s", url, curl_easy_strerror(rc));
    for (const char *p = body; (p = strstr(p, series)) != NULL; p += strlen(series))
        if ((p == body || p[-1] == '\n') && p[strlen(series)] == ' ')
            return atof(p + strlen(series) + 1);
    return -1;
}

/* wait_for, failing at once (with how it ended) when the shim ends. */
static void wait_for_running(pid_t pid, const char *needle, int times, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    while (count_of(err_text(), needle) < times) {
        assert_running(pid, "while a line was awaited");
        cr_assert(now_ms() < end, "no \"%s\" (x%d) within %d ms; stderr:\n%s", needle, times,
                  timeout_ms, err_text());
        sleep_ms(10);
    }
}

Test(shim, sighup_reloads_pools_and_capabilities_and_the_node_keeps_running)
{
    const char *config = start_control_plane();
    const char *pools = put_file("pools.json", "[{\"pool_id\":\"a\"},{\"pool_id\":\"b\"}]");
    pid_t pid = start_node(config, pools, STDERR_TO_FILE);
    put_file("pools.json", "[{\"pool_id\":\"a\"},{\"pool_id\":\"b\"},{\"pool_id\":\"c\"}]");
    kill(pid, SIGHUP);
    wait_for_running(pid,
                     " INFO  plugin=pmd-host-shim event=reload signal=SIGHUP pools=reloaded "
                     "pool_count=3 capabilities=reloaded gpu_count=1\n",
                     1, 3000);
    kill(pid, SIGHUP); /* a second one is a second reload, not the default action */
    wait_for_running(pid, "event=reload signal=SIGHUP", 2, 3000);
    assert_running(pid, "after SIGHUP");
    assert_heartbeats_continue(pid);
    cr_assert_eq(count_of(err_text(), "event=stopping"), 0, "%s", err_text());
    assert_sigterm_deregisters(pid);
    cr_assert(strstr(err_text(), "event=stopping reason=SIGTERM") != NULL, "%s", err_text());
    cr_assert(strstr(err_text(), "event=deregistered status=204") != NULL, "%s", err_text());
}

/* Like "pmd-host-shim ... 2>&1 | head -c 300": the reader takes a few
 * hundred bytes and goes away; every later log line meets EPIPE. */
Test(shim, stderr_pipe_closed_by_its_reader_does_not_stop_the_node)
{
    const char *config = start_control_plane();
    const char *pools = put_file("pools.json", "[{\"pool_id\":\"a\"}]");
    int fds[2];
    cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
    g_log_level = "debug"; /* a line per heartbeat, into the closed pipe */
    pid_t pid = start_node(config, pools, fds[1]);
    close(fds[1]);
    char buf[300];
    size_t got = 0;
    uint64_t end = now_ms() + 5000;
    while (got < sizeof(buf) && now_ms() < end) {
        struct pollfd p = {fds[0], POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            ssize_t n = read(fds[0], buf + got, sizeof(buf) - got);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
    }
    close(fds[0]);
    cr_assert_eq(got, sizeof(buf), "read only %zu bytes of stderr", got);
    assert_heartbeats_continue(pid); /* each one logs a line into the closed pipe */
    assert_running(pid, "after its stderr pipe closed");
    /* the snapshot is refreshed every 250 ms: allow a few refreshes */
    uint64_t until = now_ms() + 2000;
    while (scrape_value("pmd_log_write_failures_total") <= 0 && now_ms() < until)
        sleep_ms(50);
    cr_assert_gt(scrape_value("pmd_log_write_failures_total"), 0);
    assert_sigterm_deregisters(pid);
}

/* Started with descriptor 2 closed: log lines have nowhere to go, and no
 * socket or file the shim opens may take descriptor 2 and receive them. */
Test(shim, stderr_closed_from_the_start_does_not_stop_the_node)
{
    const char *config = start_control_plane();
    const char *pools = put_file("pools.json", "[{\"pool_id\":\"a\"}]");
    pid_t pid = start_node(config, pools, STDERR_CLOSED);
    assert_heartbeats_continue(pid);
    assert_running(pid, "with stderr closed");
    char link[128], target[256] = "";
    snprintf(link, sizeof(link), "/proc/%d/fd/2", (int)pid);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    target[n > 0 ? n : 0] = '\0';
    cr_assert(n < 0 || strcmp(target, "/dev/null") == 0,
              "descriptor 2 is %s: log lines would go into it", target);
    cr_assert_gt(scrape_value("pmd_log_write_failures_total"), 0);
    assert_sigterm_deregisters(pid);
}

/* STATUS= carries the node's standing from the plugin's stats, at most
 * once a second while it does not change. */
Test(shim, systemd_status_shows_state_and_heartbeat_age_from_stats)
{
    static char log[64 * 1024];
    const char *config = start_control_plane();
    const char *pools = put_file("pools.json", "[{\"pool_id\":\"a\"}]");
    listen_notify(0);
    pid_t pid = start_node(config, pools, STDERR_TO_FILE);
    unsetenv("NOTIFY_SOCKET");
    cr_assert(read_notify(log, sizeof(log), 5000, "READY=1"), "%s", log);
    cr_assert(read_notify(log, sizeof(log), 3000, "STATUS=registered, last heartbeat 0 s ago"),
              "%s", log);
    /* 100 ms heartbeats: the text stays "0 s ago", so nothing more is sent
     * (and were it to change, at most once a second). */
    size_t before = strlen(log);
    read_notify(log, sizeof(log), 2500, NULL);
    int updates = count_of(log + before, "STATUS=");
    cr_assert_leq(updates, 3, "%d STATUS= in 2.5 s:\n%s", updates, log);
    close(g_notify_fd);
    assert_sigterm_deregisters(pid);
}

#endif /* NODE_REGISTRATION_SO */
