/*
 * shim_metrics_test.c - pmd-host-shim's operator view end to end: the real
 * binary runs node_registration.so against orchd-dev (tests/support/orchd.h)
 * with --metrics-port 0 (or --metrics-listen), and the test scrapes it with
 * libcurl while it injects outages, holds connections open, and reads the
 * shim's stderr. Scrapes are checked by the project's own reader
 * (prom_text_check.h) and, where a test says so, by python3-prometheus-
 * client's parser plus the naming rules in fixtures/prom_check.py.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixtures/prom_text_check.h"
#include "orchd.h"

extern char **environ;

#define TOKEN "metrics-test-token-5f0c2a9e"
#define NODE "metrics-node"

static struct {
    char dir[64];
    char err_path[96], port_path[96], config_path[96];
    orchd_t *cp;
    pid_t shim;
    int port;
    const char *listen; /* --metrics-listen value; NULL: --metrics-port 0 */
} fx;

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

static void setup(void)
{
    strcpy(fx.dir, "/tmp/shim_metrics_XXXXXX");
    cr_assert_not_null(mkdtemp(fx.dir));
    snprintf(fx.err_path, sizeof(fx.err_path), "%s/stderr.txt", fx.dir);
    snprintf(fx.port_path, sizeof(fx.port_path), "%s/metrics.port", fx.dir);
    snprintf(fx.config_path, sizeof(fx.config_path), "%s/config.json", fx.dir);
    setenv("PMD_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    fx.shim = 0;
    fx.cp = NULL;
    fx.listen = NULL;
}

static void teardown(void)
{
    char cmd[128];
    if (fx.shim > 0) {
        kill(fx.shim, SIGKILL);
        waitpid(fx.shim, NULL, 0);
    }
    orchd_stop(fx.cp);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", fx.dir);
}

TestSuite(shim_metrics, .init = setup, .fini = teardown, .timeout = 25);

static const char *read_all(const char *path)
{
    static char buf[512 * 1024];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

static const char *err_text(void)
{
    return read_all(fx.err_path);
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Starts orchd-dev (with the test token) and writes a node config for it. */
static void start_control_plane(void)
{
    orchd_options_t opt = {.token = TOKEN};
    fx.cp = orchd_start(&opt);
    cr_assert_not_null(fx.cp, "orchd-dev did not start");
    FILE *f = fopen(fx.config_path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "{\"node_id\": \"" NODE "\", \"address\": \"http://127.0.0.1:9200\", "
            "\"orchestratord_url\": \"%s\", \"api_token\": \"" TOKEN "\", "
            "\"heartbeat_interval_ms\": 200, \"request_timeout_ms\": 500, "
            "\"retry_base_ms\": 50, \"retry_max_ms\": 200}",
            orchd_url(fx.cp));
    fclose(f);
}

/* Spawns the shim (stderr to err_path, or to the fd stderr_fd if >= 0)
 * with --metrics-port 0 and extra args, and waits for its port file. */
static void start_shim(const char *plugin, int stderr_fd, const char *const *extra)
{
    const char *argv[32] = {SHIM_EXE,
                            "--plugin",
                            plugin,
                            "--config",
                            fx.config_path,
                            "--tick-ms",
                            "20",
                            fx.listen ? "--metrics-listen" : "--metrics-port",
                            fx.listen ? fx.listen : "0",
                            "--metrics-port-file",
                            fx.port_path};
    int n = 11;
    for (; extra != NULL && *extra != NULL && n < 31; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (stderr_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, stderr_fd, 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2, fx.err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = posix_spawn(&fx.shim, SHIM_EXE, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn: %s", strerror(rc));
    uint64_t end = now_ms() + 5000;
    while (access(fx.port_path, R_OK) != 0) {
        cr_assert(now_ms() < end, "no metrics port file; stderr:\n%s", err_text());
        sleep_ms(10);
    }
    fx.port = atoi(read_all(fx.port_path));
    cr_assert(fx.port > 0 && fx.port < 65536);
}

static int stop_shim(void)
{
    int status;
    kill(fx.shim, SIGTERM);
    uint64_t end = now_ms() + 5000;
    while (waitpid(fx.shim, &status, WNOHANG) == 0) {
        cr_assert(now_ms() < end, "shim did not stop");
        sleep_ms(10);
    }
    fx.shim = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    char **buf = arg;
    size_t old = *buf ? strlen(*buf) : 0;
    char *p = realloc(*buf, old + size * n + 1);
    cr_assert_not_null(p);
    memcpy(p + old, data, size * n);
    p[old + size * n] = '\0';
    *buf = p;
    return size * n;
}

/* GET http://host:port/path; the body (caller frees), NULL on error. *status
 * and *content_type (static) when not NULL. */
static char *http_get(const char *host, const char *path, long *status, char **content_type)
{
    char url[128], *body = NULL;
    static char type[128];
    snprintf(url, sizeof(url), "http://%s:%d%s", host, fx.port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(c);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(type, sizeof(type), "%s", ct ? ct : "");
    if (status != NULL)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (content_type != NULL)
        *content_type = type;
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        free(body);
        return NULL;
    }
    return body ? body : strdup("");
}

/* One scrape of /metrics that must be valid Prometheus text (static copy). */
static const char *scrape(void)
{
    static char last[64 * 1024];
    long status = 0;
    char *type = NULL;
    char *body = http_get("127.0.0.1", "/metrics", &status, &type);
    cr_assert_not_null(body, "scrape failed; stderr:\n%s", err_text());
    cr_assert_eq(status, 200);
    cr_assert_str_eq(type, "text/plain; version=0.0.4; charset=utf-8");
    const char *why = prom_check_text(body);
    cr_assert_null(why, "invalid exposition: %s\n%s", why, body);
    snprintf(last, sizeof(last), "%s", body);
    free(body);
    return last;
}

#define S(name, labels) name "{node_id=\"" NODE "\"" labels "}"
#define REGISTERED S("pmd_node_state", ",state=\"registered\"")
#define HB_OK S("pmd_heartbeats_total", ",result=\"ok\"")
#define HB_STATUS S("pmd_heartbeats_total", ",result=\"status\"")
#define HB_404 S("pmd_heartbeats_total", ",result=\"not_registered\"")
#define HB_LATENCY_COUNT S("pmd_request_duration_seconds_count", ",request=\"heartbeat\"")
#define REREG S("pmd_reregistrations_total", "")

/* Scrapes every 50 ms until series >= min (or == min when exact). */
static double wait_metric(const char *series, double min, int exact, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        double v = prom_value(scrape(), series);
        if (exact ? v == min : v >= min)
            return v;
        cr_assert(now_ms() < end, "%s is %g, wanted %s%g within %d ms; last scrape:\n%s", series, v,
                  exact ? "" : ">= ", min, timeout_ms, scrape());
        sleep_ms(50);
    }
}

static void independent_check(const char *text);

Test(shim_metrics, outage_moves_failure_counters_and_state_recovers)
{
    start_control_plane();
    start_shim(NODE_REGISTRATION_SO, -1, NULL);
    wait_metric(REGISTERED, 1, 1, 5000);
    double ok_before = wait_metric(HB_OK, 1, 0, 5000);
    cr_assert_eq(prom_value(scrape(), HB_STATUS), 0);

    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"heartbeat\",\"status\":500,\"count\":4}"), 0);
    wait_metric(HB_STATUS, 4, 0, 5000);
    wait_metric(REGISTERED, 1, 1, 5000);
    wait_metric(HB_OK, ok_before + 1, 0, 5000);
    const char *text = scrape();
    cr_assert_eq(prom_value(text, S("pmd_heartbeat_consecutive_failures", "")), 0, "%s", text);
    cr_assert_eq(prom_value(text, REGISTERED), 1, "%s", text);
    cr_assert_eq(prom_value(text, S("pmd_node_state", ",state=\"degraded\"")), 0, "%s", text);

    cr_assert_eq(orchd_restart(fx.cp), 0);
    wait_metric(HB_404, 1, 0, 5000);
    wait_metric(REREG, 1, 0, 5000);
    wait_metric(REGISTERED, 1, 1, 5000);

    cr_assert_eq(stop_shim(), 0, "%s", err_text());
    const char *log = err_text();
    cr_assert(strstr(log, "WARN  plugin=node_registration node=" NODE " event=state_changed "
                          "state=degraded"),
              "%s", log);
    cr_assert(strstr(log, "plugin=node_registration node=" NODE " event=heartbeat_recovered"), "%s",
              log);
    cr_assert(strstr(log, "plugin=node_registration node=" NODE " event=heartbeat_not_registered"),
              "%s", log);
    independent_check(text);
    cr_assert_null(strstr(log, TOKEN), "the token leaked into the log");
    cr_assert_null(strstr(text, TOKEN), "the token leaked into the metrics");
}

static int connect_to(const char *addr, int port);

/* text checked by an independent parser (python3-prometheus-client) and
 * fixtures/prom_check.py's naming rules; fails with what it printed. */
static void independent_check(const char *text)
{
    char path[128], cmd[512], out[1024] = "";
    snprintf(path, sizeof(path), "%s/scrape.txt", fx.dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert(PROM_PYTHON[0] != '\0', "no python3: install python3-prometheus-client "
                                      "(scripts/deps.sh)");
    snprintf(cmd, sizeof(cmd), "'%s' '%s' < '%s' 2>&1", PROM_PYTHON, PROM_CHECK_PY, path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert(status == 0 && strncmp(out, "ok: ", 4) == 0,
              "independent check failed (python3-prometheus-client installed? "
              "scripts/deps.sh):\n%s\nscrape:\n%s",
              out, text);
}

Test(shim_metrics, scrape_parses_with_prometheus_client_and_follows_naming_rules)
{
    start_control_plane();
    start_shim(NODE_REGISTRATION_SO, -1, NULL);
    wait_metric(REGISTERED, 1, 1, 5000);
    wait_metric(HB_LATENCY_COUNT, 2, 0, 5000);
    const char *text = scrape();
    independent_check(text);
    cr_assert_leq(prom_value(text, HB_LATENCY_COUNT), prom_value(text, HB_OK),
                  "one latency sample per move of the ok counter at most:\n%s", text);
    cr_assert_eq(prom_value(text, S("pmd_request_duration_seconds_bucket",
                                    ",request=\"heartbeat\",le=\"+Inf\"")),
                 prom_value(text, HB_LATENCY_COUNT), "%s", text);
    cr_assert(prom_value(text, S("pmd_last_heartbeat_success_timestamp_seconds", "")) > 1.6e9, "%s",
              text);
    cr_assert(prom_value(text, S("pmd_node_state_change_timestamp_seconds", "")) > 1.6e9, "%s",
              text);
    cr_assert_null(strstr(text, "_info{node_id"), "no _info state set, no node_id on info:\n%s",
                   text);
    cr_assert_eq(stop_shim(), 0, "%s", err_text());
}

Test(shim_metrics, independent_check_refuses_what_the_conventions_forbid)
{
    /* each must fail: the checker is not a rubber stamp */
    static const char *const bad[] = {
        "# HELP a_total A.\n# TYPE a_total counter\na_total{result=\"ok\"} 1\n"
        "a_total{result=\"failed\",reason=\"x\"} 1\n",
        "# HELP a_since_seconds A.\n# TYPE a_since_seconds gauge\na_since_seconds 1\n",
        "# HELP a_info A.\n# TYPE a_info gauge\na_info{state=\"x\"} 0\n",
        "# HELP pmd_node_state A.\n# TYPE pmd_node_state gauge\n"
        "pmd_node_state{state=\"a\"} 1\npmd_node_state{state=\"b\"} 1\n",
        "# HELP h A.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
        "h_sum 1\nh_count 1\n",
        "a b c\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[128], cmd[512];
        snprintf(path, sizeof(path), "%s/bad.txt", fx.dir);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs(bad[i], f);
        fclose(f);
        snprintf(cmd, sizeof(cmd), "'%s' '%s' < '%s' > /dev/null 2>&1", PROM_PYTHON, PROM_CHECK_PY,
                 path);
        int status = system(cmd);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "case %zu passed: %s", i, bad[i]);
    }
}

Test(shim_metrics, metrics_listen_binds_the_address_given)
{
    start_control_plane();
    fx.listen = "127.0.0.2:0";
    start_shim(NODE_REGISTRATION_SO, -1, NULL);
    int fd = connect_to("127.0.0.2", fx.port);
    cr_assert_geq(fd, 0, "127.0.0.2: %s", strerror(errno));
    close(fd);
    fd = connect_to("127.0.0.1", fx.port);
    cr_assert_lt(fd, 0, "answers on 127.0.0.1 too: not bound to 127.0.0.2 alone");
    long status = 0;
    char *body = http_get("127.0.0.2", "/metrics", &status, NULL);
    cr_assert_eq(status, 200);
    cr_assert_null(prom_check_text(body), "%s", body);
    free(body);
    char expect[80];
    snprintf(expect, sizeof(expect), "event=metrics_listening address=127.0.0.2:%d path=/metrics\n",
             fx.port);
    cr_assert_eq(stop_shim(), 0, "%s", err_text());
    cr_assert(strstr(err_text(), expect), "%s", err_text());
}

Test(shim_metrics, metrics_listen_takes_a_bracketed_ipv6_address)
{
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 lo = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (probe < 0 || bind(probe, (struct sockaddr *)&lo, sizeof(lo)) != 0) {
        if (probe >= 0)
            close(probe);
        cr_skip_test("no IPv6 loopback here");
    }
    close(probe);
    start_control_plane();
    fx.listen = "[::1]:0";
    start_shim(NODE_REGISTRATION_SO, -1, NULL);
    char expect[80];
    snprintf(expect, sizeof(expect), "event=metrics_listening address=[::1]:%d ", fx.port);
    long status = 0;
    char *body = http_get("[::1]", "/metrics", &status, NULL);
    cr_assert_eq(status, 200, "%s", err_text());
    free(body);
    cr_assert_eq(stop_shim(), 0, "%s", err_text());
    cr_assert(strstr(err_text(), expect), "%s", err_text());
}

Test(shim_metrics, every_log_line_has_time_level_plugin_and_event_shape)
{
    start_control_plane();
    start_shim(NODE_REGISTRATION_SO, -1, NULL);
    wait_metric(REGISTERED, 1, 1, 5000);
    cr_assert_eq(stop_shim(), 0, "%s", err_text());
    char *copy = strdup(err_text()), *save = NULL;
    int lines = 0;
    for (char *l = strtok_r(copy, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save), lines++) {
        cr_assert(strlen(l) > 31 && l[4] == '-' && l[10] == 'T' && l[23] == 'Z', "%s", l);
        const char *msg = l + 31; /* "<24-char time> <5-char level> " */
        cr_assert(strncmp(msg, "plugin=pmd-host-shim event=", 27) == 0 ||
                      strncmp(msg, "plugin=node_registration node=" NODE " event=", 44) == 0,
                  "not \"plugin=... [node=...] event=...\": %s", l);
    }
    cr_assert_geq(lines, 6);
    free(copy);
    const char *log = err_text();
    cr_assert(strstr(log, " INFO  plugin=pmd-host-shim event=metrics_listening address=127.0.0.1:"),
              "%s", log);
    cr_assert(strstr(log, " INFO  plugin=node_registration node=" NODE " event=state_changed "
                          "state=stopped detail=stopped\n"),
              "%s", log);
}

/* A TCP connection to addr:port; the socket, or -1 with errno. */
static int connect_to(const char *addr, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

Test(shim_metrics, listens_on_127_0_0_1_only)
{
    start_control_plane();
    start_shim(NODE_REGISTRATION_SO, -1, NULL);
    int fd = connect_to("127.0.0.1", fx.port);
    cr_assert_geq(fd, 0, "127.0.0.1: %s", strerror(errno));
    close(fd);
    /* Another loopback address reaches a wildcard bind, not 127.0.0.1's. */
    fd = connect_to("127.0.0.2", fx.port);
    cr_assert_lt(fd, 0, "the endpoint answers on 127.0.0.2: not bound to 127.0.0.1 alone");
    cr_assert_eq(errno, ECONNREFUSED, "%s", strerror(errno));
    int fd6 = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd6 >= 0) {
        struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6,
                                   .sin6_port = htons((uint16_t)fx.port),
                                   .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        cr_assert_neq(connect(fd6, (struct sockaddr *)&sa6, sizeof(sa6)), 0, "answers on [::1]");
        close(fd6);
    }
    /* The kernel's view: one listening socket on this port, 127.0.0.1. */
    char expect[32];
    snprintf(expect, sizeof(expect), "0100007F:%04X 00000000:0000 0A", (unsigned)fx.port);
    const char *tcp = read_all("/proc/net/tcp");
    cr_assert(strstr(tcp, expect) != NULL, "no %s in\n%s", expect, tcp);
    long status = 0;
    char *body = http_get("127.0.0.1", "/", &status, NULL);
    cr_assert_eq(status, 404);
    free(body);
}

Test(shim_metrics, silent_clients_hold_up_neither_ticks_nor_other_scrapes)
{
    start_control_plane();
    start_shim(NODE_REGISTRATION_SO, -1, NULL);
    wait_metric(REGISTERED, 1, 1, 5000);
    int silent = connect_to("127.0.0.1", fx.port);
    int partial = connect_to("127.0.0.1", fx.port);
    cr_assert(silent >= 0 && partial >= 0);
    cr_assert_eq(write(partial, "GET /metr", 9), 9);
    long hb_before = orchd_stat(fx.cp, "requests.heartbeat");
    double ok_before = prom_value(scrape(), HB_OK);
    uint64_t t0 = now_ms(), slowest = 0;
    while (now_ms() - t0 < 2000) { /* the two connections stay open, silent */
        uint64_t s0 = now_ms();
        scrape();
        if (now_ms() - s0 > slowest)
            slowest = now_ms() - s0;
        sleep_ms(100);
    }
    double ok_after = prom_value(scrape(), HB_OK);
    long hb_after = orchd_stat(fx.cp, "requests.heartbeat");
    /* 200 ms heartbeats for 2 s: about 10, whatever the clients do. */
    cr_assert_geq(hb_after - hb_before, 6, "%ld heartbeats in 2 s", hb_after - hb_before);
    cr_assert_geq(ok_after - ok_before, 6, "the snapshot stopped moving: %g -> %g", ok_before,
                  ok_after);
    cr_assert_lt(slowest, 500, "a scrape took %llu ms beside silent clients",
                 (unsigned long long)slowest);
    close(silent);
    close(partial);
    cr_assert_eq(stop_shim(), 0, "%s", err_text());
}

/* Runs the shim with stderr on a pseudo-terminal for run_for seconds;
 * returns what it wrote there (static). */
static const char *run_on_terminal(const char *run_for, const char *status_every)
{
    static char buf[128 * 1024];
    size_t len = 0;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    cr_assert(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    cr_assert_geq(slave, 0);
    start_shim(NODE_REGISTRATION_SO, slave,
               (const char *const[]){"--run-for", run_for, "--status-every", status_every, NULL});
    close(slave);
    uint64_t end = now_ms() + 10000;
    for (;;) {
        struct pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            ssize_t got = read(master, buf + len, sizeof(buf) - 1 - len);
            if (got <= 0)
                break; /* EIO: the shim closed the terminal, it has exited */
            len += (size_t)got;
        }
        cr_assert(now_ms() < end && len < sizeof(buf) - 1, "the shim did not end");
    }
    int status;
    waitpid(fx.shim, &status, 0);
    fx.shim = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", buf);
    close(master);
    buf[len] = '\0';
    return buf;
}

Test(shim_metrics, status_line_reports_state_heartbeat_age_and_failures)
{
    start_control_plane();
    const char *text = run_on_terminal("1.7", "0.4");
    int n = count_of(text, " STATUS registered, last heartbeat 0.");
    cr_assert(n >= 2 && n <= 4, "%d status lines; terminal:\n%s", n, text);
    cr_assert(strstr(text, " s ago, 0 failures\r\n"), "%s", text);
}

#ifdef EXAMPLE_SO
Test(shim_metrics, plugin_without_stats_shows_plugin_info_and_stats_unavailable)
{
    FILE *f = fopen(fx.config_path, "w");
    cr_assert_not_null(f);
    fputs("{}", f);
    fclose(f);
    start_shim(EXAMPLE_SO, -1, NULL);
    const char *text = scrape();
    cr_assert_eq(prom_value(text, "pmd_plugin_info{plugin=\"example\",version=\"0.1.0\"}"), 1, "%s",
                 text);
    cr_assert_eq(prom_value(text, "pmd_stats_available"), 0, "%s", text);
    cr_assert_null(strstr(text, "pmd_node_state"), "%s", text);
    cr_assert_eq(stop_shim(), 0, "%s", err_text());
}
#endif
