/*
 * faults_test.c - node_registration.so under the real-world faults of
 * issue 12: a resolver that never answers, a register still in flight at
 * stop, a control plane that forgets the node on every heartbeat, proxy
 * variables in the host's environment, a host that spawns children, token
 * rotations that race the plugin's checks, a token file that goes missing,
 * absurd Retry-After values, a passphrase-protected client key and an
 * interval of 1 ms.
 *
 * Most tests drive the plugin in-process (test_host.h) against orchd-dev
 * (orchd.h); the resolver, terminal and descriptor tests run the reference
 * host, pmd-host-shim, as a child. Where orchd-dev cannot produce a fault
 * (a proxy, a Retry-After beyond 2^31) a small raw TCP server in this file
 * plays the other side and counts what reaches it.
 *
 * Needs root for one test (a private network + mount namespace with a
 * silent DNS server on loopback); without it that test is skipped.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loader.h"
#include "orchd.h"
#include "test_host.h"

#define NODE "node-faults"
#define TOKEN_A "tok-faults-AAAA-0123456789"
#define TOKEN_B "tok-faults-BBBB-9876543210"
#define PASSPHRASE "pem-pass-7f3a9c"
/* Everything but the identity and the URL: tests that need other values
 * spell out all of these keys (never a key twice: duplicates may be refused). */
#define FAST_KEYS                                                                                  \
    "\"heartbeat_interval_ms\":200,\"retry_base_ms\":20,\"retry_max_ms\":200,"                     \
    "\"request_timeout_ms\":1000"

/* ---------------------------------------------------------------------- */
/* A raw TCP server: counts connections, answers one canned response.     */
/* ---------------------------------------------------------------------- */

typedef struct raw_server {
    int fd, port;
    pthread_t thread;
    atomic_int stop;
    atomic_int conns;
    const char *answer; /* written after the request head (and body) is read */
    pthread_mutex_t lock;
    char first_line[256]; /* request line of the first connection */
} raw_server_t;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Reads the request head and a Content-Length body (1 s at most). */
static void raw_read_request(raw_server_t *s, int c)
{
    char buf[16384];
    size_t n = 0;
    uint64_t end = now_ms() + 1000;
    long want = -1;
    while (n < sizeof(buf) - 1 && now_ms() < end) {
        struct pollfd p = {c, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t r = read(c, buf + n, sizeof(buf) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        char *head_end = strstr(buf, "\r\n\r\n");
        if (head_end == NULL)
            continue;
        if (want < 0) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            want = (long)(head_end + 4 - buf) + (cl ? strtol(cl + 17, NULL, 10) : 0);
        }
        if ((long)n >= want)
            break;
    }
    buf[n] = '\0';
    pthread_mutex_lock(&s->lock);
    if (s->first_line[0] == '\0')
        snprintf(s->first_line, sizeof(s->first_line), "%.*s", (int)strcspn(buf, "\r\n"), buf);
    pthread_mutex_unlock(&s->lock);
}

static void *raw_main(void *arg)
{
    raw_server_t *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        atomic_fetch_add(&s->conns, 1);
        raw_read_request(s, c);
        if (s->answer && write(c, s->answer, strlen(s->answer)) < 0) {
            /* the client went away: nothing to do */
        }
        shutdown(c, SHUT_RDWR);
        close(c);
    }
    return NULL;
}

static raw_server_t *raw_start(const char *answer)
{
    raw_server_t *s = calloc(1, sizeof(*s));
    cr_assert_not_null(s);
    pthread_mutex_init(&s->lock, NULL);
    s->answer = answer;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(s->fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(s->fd, 64), 0);
    cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&s->thread, NULL, raw_main, s), 0);
    return s;
}

static void raw_stop(raw_server_t *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->fd);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---------------------------------------------------------------------- */
/* Fixture                                                                 */
/* ---------------------------------------------------------------------- */

typedef struct fixture {
    orchd_t *cp;
    test_host_t *host;
    host_loaded_plugin_t lp;
    const pmd_plugin_t *p;
    pmd_instance_t *in;
    raw_server_t *raw;
    pid_t child; /* a pmd-host-shim this test started; killed at teardown */
    int proxy_env;
    char dir[64];
} fixture_t;

static fixture_t fx;

static const char *const PROXY_VARS[] = {"http_proxy", "HTTP_PROXY", "ALL_PROXY",
                                         "all_proxy",  "no_proxy",   "NO_PROXY"};

static void clear_proxy_env(void)
{
    for (size_t i = 0; i < sizeof(PROXY_VARS) / sizeof(PROXY_VARS[0]); i++)
        unsetenv(PROXY_VARS[i]);
    fx.proxy_env = 0;
}

static void setup(void)
{
    char err[512];
    cr_assert_eq(host_loader_open(NODE_REGISTRATION_SO, PMD_ABI_VERSION_MAJOR,
                                  PMD_ABI_VERSION_MINOR, &fx.lp, err, sizeof(err)),
                 PMD_OK, "%s", err);
    fx.p = fx.lp.plugin;
    fx.host = test_host_new();
    fx.child = -1;
    snprintf(fx.dir, sizeof(fx.dir), "/tmp/nr-faults-XXXXXX");
    cr_assert_not_null(mkdtemp(fx.dir));
}

static void teardown(void)
{
    if (fx.in)
        th_destroy(fx.host, fx.p, fx.in);
    if (fx.proxy_env)
        clear_proxy_env(); /* only once the network thread is gone */
    if (fx.host) {
        cr_expect_eq(test_host_violations(fx.host), 0, "%s", test_host_violation(fx.host, 0));
        for (int i = 0; i < test_host_log_count(fx.host); i++) {
            const char *line = test_host_log(fx.host, i);
            cr_expect(strstr(line, TOKEN_A) == NULL && strstr(line, TOKEN_B) == NULL,
                      "a token in a log line: %s", line);
            cr_expect(strstr(line, PASSPHRASE) == NULL, "the passphrase in a log line: %s", line);
        }
        test_host_free(fx.host);
    }
    if (fx.lp.dl_handle)
        host_loader_close(&fx.lp);
    if (fx.child > 0) {
        kill(fx.child, SIGKILL);
        waitpid(fx.child, NULL, 0);
    }
    raw_stop(fx.raw);
    orchd_stop(fx.cp);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", fx.dir);
    if (getenv("FAULTS_KEEP") == NULL && fx.dir[0] && system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", fx.dir);
    memset(&fx, 0, sizeof(fx));
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 60);

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

static void start_cp(const orchd_options_t *opt)
{
    fx.cp = orchd_start(opt);
    cr_assert_not_null(fx.cp, "orchd-dev did not start");
}

/* init with identity + URL + KEYS (a JSON member list), then start. */
static void start_node(const char *url, const char *keys)
{
    char *cfg = NULL, err[512] = "";
    cr_assert_gt(asprintf(&cfg,
                          "{\"node_id\":\"" NODE "\",\"address\":\"http://10.0.0.5:9200\","
                          "\"orchestratord_url\":\"%s\",%s}",
                          url, keys),
                 0);
    int32_t rc = th_init(fx.host, fx.p, cfg, &fx.in, err, sizeof(err));
    free(cfg);
    cr_assert_eq(rc, PMD_OK, "init refused: %s", err);
    cr_assert_eq(th_start(fx.host, fx.p, fx.in), PMD_OK);
}

static const char *path_in_dir(const char *name)
{
    static char paths[8][128];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 128, "%s/%s", fx.dir, name);
    return p;
}

/* Writes TEXT to PATH atomically (temp file + rename). */
static void write_file(const char *path, const char *text)
{
    char tmp[256];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f, "%s: %s", tmp, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, path), 0);
}

static int node_status_is(const char *status)
{
    json_object *n = orchd_node(fx.cp, NODE), *st = NULL;
    int ok = n && json_object_object_get_ex(n, "status", &st) &&
             strcmp(json_object_get_string(st), status) == 0;
    json_object_put(n);
    return ok;
}

static int online(void *arg)
{
    (void)arg;
    return node_status_is("Online");
}

static int state_is(void *arg)
{
    return test_host_last_state(fx.host) == *(int32_t *)arg;
}

/* Ticks until the host saw STATE; returns the milliseconds, or -1. */
static long tick_until_state(int32_t state, int timeout_ms)
{
    uint64_t t0 = now_ms();
    if (!th_tick_until(fx.host, fx.p, fx.in, state_is, &state, timeout_ms))
        return -1;
    return (long)(now_ms() - t0);
}

static void tick_until_online(int timeout_ms)
{
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, online, NULL, timeout_ms), "never Online");
    th_tick_for(fx.host, fx.p, fx.in, 50); /* let queued log lines reach the host */
}

static uint64_t heartbeats_ok(void)
{
    const pmd_ext_stats_t *ext = fx.p->get_extension(PMD_EXT_STATS);
    cr_assert_not_null(ext);
    pmd_stats_t st;
    memset(&st, 0, sizeof(st));
    st.struct_size = sizeof(st);
    test_host_enter(fx.host);
    cr_assert_eq(ext->get(fx.in, &st), PMD_OK);
    test_host_leave(fx.host);
    return st.heartbeats_ok;
}

static void dump_log(void)
{
    for (int i = 0; i < test_host_log_count(fx.host); i++)
        fprintf(stderr, "  log[%d] %s\n", i, test_host_log(fx.host, i));
}

/* orchd-dev's request journal, oldest first (a new reference). */
static json_object *journal(void)
{
    json_object *all = orchd_get_json(fx.cp, "/_dev/requests");
    cr_assert_not_null(all, "GET /_dev/requests failed");
    return all;
}

static const char *entry_str(json_object *e, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(e, key, &v) && v ? json_object_get_string(v) : "";
}

static long entry_int(json_object *e, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(e, key, &v) && v ? (long)json_object_get_int64(v) : -1;
}

static void dump_journal(json_object *all)
{
    for (size_t i = 0; i < json_object_array_length(all); i++) {
        json_object *e = json_object_array_get_idx(all, i);
        fprintf(stderr, "  orchd seq=%ld t_ms=%ld %s %s -> %ld\n", entry_int(e, "seq"),
                entry_int(e, "t_ms"), entry_str(e, "method"), entry_str(e, "raw_path"),
                entry_int(e, "status"));
    }
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return strdup("");
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* ---------------------------------------------------------------------- */
/* pmd-host-shim as a child                                                */
/* ---------------------------------------------------------------------- */

/* In a forked child: stdout/stderr to OUT_PATH, every other descriptor
 * closed (so the shim holds only what it opens itself), then exec. */
static void exec_shim(const char *out_path, const char *config_path)
{
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        _exit(126);
    dup2(fd, 1);
    dup2(fd, 2);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
        dup2(null, 0);
    close_range(3, ~0u, 0);
    execl(SHIM_EXE, SHIM_EXE, "--plugin", NODE_REGISTRATION_SO, "--config", config_path,
          "--tick-ms", "50", "--capabilities", CAPS_FIXTURE, (char *)NULL);
    _exit(127);
}

/* The exit code, 128 + signal, or -1 after timeout_ms (then SIGKILLed). */
static int wait_child(pid_t pid, int timeout_ms, long *took_ms)
{
    uint64_t t0 = now_ms();
    int status;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_ms() - t0 > (uint64_t)timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fx.child = -1;
            *took_ms = (long)(now_ms() - t0);
            return -1;
        }
        sleep_ms(5);
    }
    fx.child = -1;
    *took_ms = (long)(now_ms() - t0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Milliseconds of the day from a log line's leading RFC 3339 time, or -1. */
static long line_time_ms(const char *line)
{
    int h, m, s, ms;
    if (sscanf(line, "%*4d-%*2d-%*2dT%2d:%2d:%2d.%3dZ", &h, &m, &s, &ms) != 4)
        return -1;
    return ((h * 60L + m) * 60L + s) * 1000L + ms;
}

/* ---------------------------------------------------------------------- */
/* 1. Bounded stop whatever the resolver does                              */
/* ---------------------------------------------------------------------- */

/* The child: private network and mount namespaces, lo up, resolv.conf
 * pointing at 127.0.0.1 where a socket swallows every query, then the
 * shim. Setup failures are written to ERRFD (close-on-exec: EOF = exec'd). */
static void __attribute__((noreturn))
dns_child(int errfd, const char *resolv, const char *count_path, const char *out_path,
          const char *config_path)
{
    char msg[256];
#define CHILD_FAIL(what)                                                                           \
    do {                                                                                           \
        int n_ = snprintf(msg, sizeof(msg), "%s: %s", what, strerror(errno));                      \
        if (write(errfd, msg, (size_t)n_) < 0) {                                                   \
        }                                                                                          \
        _exit(77);                                                                                 \
    } while (0)
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0)
        CHILD_FAIL("unshare(CLONE_NEWNET|CLONE_NEWNS)");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        CHILD_FAIL("make / private in the new mount namespace");
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
        CHILD_FAIL("read lo's flags");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
        CHILD_FAIL("bring lo up");
    close(s);
    if (mount(resolv, "/etc/resolv.conf", NULL, MS_BIND, NULL) != 0)
        CHILD_FAIL("bind-mount resolv.conf");
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(53), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (u < 0 || bind(u, (struct sockaddr *)&a, sizeof(a)) != 0)
        CHILD_FAIL("bind 127.0.0.1:53");
    pid_t parent = getpid();
    pid_t sink = fork();
    if (sink < 0)
        CHILD_FAIL("fork the DNS sink");
    if (sink == 0) { /* receives every query, answers none, dies with the shim */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0);
        close(errfd);
        int cf = open(count_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        char b[2048], num[32];
        for (long n = 1;; n++) {
            if (recv(u, b, sizeof(b), 0) < 0 && errno == EINTR)
                continue;
            int len = snprintf(num, sizeof(num), "%ld\n", n);
            if (cf >= 0 && pwrite(cf, num, (size_t)len, 0) < 0) {
            }
        }
    }
    close(u);
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        CHILD_FAIL("open the shim's log");
    dup2(fd, 1);
    dup2(fd, 2);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
        dup2(null, 0);
    /* everything above 2 except errfd goes; errfd is close-on-exec */
    for (int i = 3; i < 1024; i++)
        if (i != errfd)
            close(i);
    execl(SHIM_EXE, SHIM_EXE, "--plugin", NODE_REGISTRATION_SO, "--config", config_path,
          "--tick-ms", "50", "--capabilities", CAPS_FIXTURE, (char *)NULL);
    CHILD_FAIL("exec pmd-host-shim");
#undef CHILD_FAIL
}

Test(faults, stop_is_bounded_when_the_resolver_never_answers)
{
    enum { CONNECT_MS = 500, DEREGISTER_MS = 1000 };
    if (geteuid() != 0)
        cr_skip_test("needs root for a private network namespace (unshare CLONE_NEWNET)");
    const char *resolv = path_in_dir("resolv.conf");
    const char *count_path = path_in_dir("dns-queries");
    const char *out_path = path_in_dir("shim.log");
    const char *config_path = path_in_dir("node.json");
    write_file(resolv, "nameserver 127.0.0.1\noptions timeout:10 attempts:4\n");
    char cfg[512];
    snprintf(cfg, sizeof(cfg),
             "{\"node_id\":\"" NODE "\",\"address\":\"http://10.0.0.5:9200\","
             "\"orchestratord_url\":\"http://orchd.test:9\",\"heartbeat_interval_ms\":1000,"
             "\"connect_timeout_ms\":%d,\"deregister_timeout_ms\":%d}",
             CONNECT_MS, DEREGISTER_MS);
    write_file(config_path, cfg);

    int pipefd[2];
    cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
    uint64_t t_spawn = now_ms();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        dns_child(pipefd[1], resolv, count_path, out_path, config_path);
    fx.child = pid;
    close(pipefd[1]);
    char why[256] = "";
    ssize_t n = read(pipefd[0], why, sizeof(why) - 1);
    close(pipefd[0]);
    if (n > 0) {
        why[n] = '\0';
        long ms;
        wait_child(pid, 2000, &ms);
        cr_skip_test("no private network namespace here (%s); this test needs root and "
                     "unshare(2) (CI runs as root)",
                     why);
    }

    /* SIGTERM after ~1 s: later if the first failed attempt is about to be logged */
    sleep_ms(1000);
    for (int i = 0; i < 10; i++) {
        char *log = read_text(out_path);
        int seen = strstr(log, "event=register_failed") != NULL;
        free(log);
        if (seen)
            break;
        sleep_ms(50);
    }
    long ran_ms = (long)(now_ms() - t_spawn);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    long took_ms;
    int status = wait_child(pid, DEREGISTER_MS + 1500, &took_ms);
    char *log = read_text(out_path);
    char *queries = read_text(count_path);
    fprintf(stderr, "--- shim log (SIGTERM after %ld ms, %s DNS queries swallowed) ---\n%s---\n",
            ran_ms, queries[0] ? queries : "0\n", log);
    cr_assert_neq(status, -1,
                  "SIGTERM to exit took more than %d ms (deregister_timeout_ms %d + 1.5 s) while "
                  "the resolver never answered: stop is not bounded",
                  DEREGISTER_MS + 1500, DEREGISTER_MS);
    cr_assert_eq(status, 0, "the shim exited with %d after SIGTERM", status);
    cr_assert_gt(atol(queries), 0,
                 "no DNS query reached the silent resolver: the test did not "
                 "exercise a hanging resolve");

    /* The resolve honours connect_timeout_ms: the first attempt fails soon,
     * and no line claims a timeout shorter than the time attempts took.
     * Only lines printed before "event=stopping": the shim prints the
     * plugin's lines at its ticks, and during stop not until stop returns. */
    long t_registering = -1, t_prev = -1, retry_prev = 0;
    int failures = 0;
    for (char *line = strtok(log, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strstr(line, "event=stopping"))
            break;
        if (strstr(line, "event=registering") && t_registering < 0)
            t_registering = line_time_ms(line);
        if (strstr(line, "event=register_failed") == NULL)
            continue;
        long t = line_time_ms(line);
        const char *after = strstr(line, "timed out after ");
        long claimed = after ? atol(after + 16) : -1;
        const char *r = strstr(line, "retry_in_ms=");
        if (failures == 0 && t_registering >= 0)
            cr_expect_leq(t - t_registering, CONNECT_MS + 1500,
                          "the first resolve failed %ld ms after start: connect_timeout_ms %d "
                          "is not honoured",
                          t - t_registering, CONNECT_MS);
        if (t_prev >= 0 && claimed >= 0)
            cr_expect_leq(t - t_prev, retry_prev + claimed + 1000,
                          "the log claims a resolve timed out after %ld ms, but %ld ms passed "
                          "since the previous attempt (retry_in_ms %ld)",
                          claimed, t - t_prev, retry_prev);
        t_prev = t;
        retry_prev = r ? atol(r + 12) : 0;
        failures++;
    }
    cr_expect_gt(failures, 0,
                 "no register_failed line within %ld ms: the resolve does not "
                 "honour connect_timeout_ms %d",
                 ran_ms, CONNECT_MS);
    free(log);
    free(queries);
}

/* ---------------------------------------------------------------------- */
/* 3. One request at a time: the DELETE is ordered after a register        */
/* ---------------------------------------------------------------------- */

Test(faults, stop_during_a_slow_register_deletes_after_it_and_leaves_no_ghost)
{
    enum { DEREGISTER_MS = 2000 };
    start_cp(NULL);
    /* the server holds the register 600 ms, then commits it */
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"register\",\"delay_ms\":600,\"count\":1}"), 0);
    start_node(orchd_url(fx.cp),
               "\"heartbeat_interval_ms\":1000,\"retry_base_ms\":20,\"retry_max_ms\":200,"
               "\"request_timeout_ms\":3000,\"deregister_timeout_ms\":2000");
    uint64_t t_start = now_ms();
    th_tick_for(fx.host, fx.p, fx.in, 150); /* the register is on the wire, held by the server */
    cr_assert_eq(orchd_stat(fx.cp, "requests.register"), 0, "the register was not delayed");
    uint64_t t0 = now_ms();
    cr_assert_eq(th_stop(fx.host, fx.p, fx.in), PMD_OK);
    long stop_ms = (long)(now_ms() - t0);

    /* whatever the plugin did, the delayed register has committed by now */
    while (orchd_stat(fx.cp, "requests.register") < 1 && now_ms() - t_start < 3000)
        sleep_ms(20);
    sleep_ms(100);
    json_object *all = journal();
    long reg_seq = -1, reg_status = -1, del_seq = -1, del_status = -1;
    int deletes = 0;
    for (size_t i = 0; i < json_object_array_length(all); i++) {
        json_object *e = json_object_array_get_idx(all, i);
        if (strcmp(entry_str(e, "kind"), "register") == 0 && reg_seq < 0) {
            reg_seq = entry_int(e, "seq");
            reg_status = entry_int(e, "status");
        }
        if (strcmp(entry_str(e, "method"), "DELETE") == 0) {
            if (deletes++ == 0) {
                del_seq = entry_int(e, "seq");
                del_status = entry_int(e, "status");
            }
        }
    }
    dump_journal(all);
    json_object_put(all);
    dump_log();
    cr_assert_leq(stop_ms, DEREGISTER_MS + 1000 + 500, "stop took %ld ms (bound %d)", stop_ms,
                  DEREGISTER_MS + 1000);
    cr_assert_eq(reg_status, 200, "the delayed register was not committed (status %ld)",
                 reg_status);
    cr_assert_gt(deletes, 0, "no DELETE was sent after a register had been sent");
    cr_assert_gt(del_seq, reg_seq,
                 "the DELETE (status %ld) reached the control plane before the in-flight "
                 "register completed: two requests of one node in flight",
                 del_status);
    cr_assert(del_status == 204 || del_status == 200, "DELETE answered %ld", del_status);
    json_object *ghost = orchd_node(fx.cp, NODE);
    cr_assert_null(ghost, "the node is still registered after stop: a ghost");
    cr_assert(!test_host_log_contains(fx.host, "deregistered status=404"),
              "a DELETE answered 404 was logged as a successful deregistration");
}

/* ---------------------------------------------------------------------- */
/* 4. A 404 right after a registration backs off                           */
/* ---------------------------------------------------------------------- */

Test(faults, heartbeat_404_after_every_registration_backs_off)
{
    start_cp(NULL);
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"heartbeat\",\"status\":404}"), 0);
    start_node(orchd_url(fx.cp), "\"heartbeat_interval_ms\":1000,\"retry_base_ms\":250,"
                                 "\"retry_max_ms\":4000,\"request_timeout_ms\":1000");
    th_tick_for(fx.host, fx.p, fx.in, 6000);
    json_object *all = journal();
    size_t requests = json_object_array_length(all);
    json_object_put(all);
    long reg = orchd_stat(fx.cp, "requests.register"), hb = orchd_stat(fx.cp, "requests.heartbeat");
    int lines = test_host_log_count(fx.host);
    cr_assert_geq(reg, 2, "the node stopped trying (%ld registrations)", reg);
    /* a fresh registration then a 404 is a failure: with register backoff
     * (full jitter, 250 ms doubling to 4 s) about 12 requests in 6 s; today
     * about 230 */
    cr_assert_leq(requests, 20,
                  "%zu requests in 6 s (%ld registrations, %ld heartbeats) against a control "
                  "plane that answers every heartbeat 404: a register/heartbeat loop without "
                  "backoff",
                  requests, reg, hb);
    cr_assert_leq(lines, 80, "%d log lines in 6 s", lines);
}

/* ---------------------------------------------------------------------- */
/* 5. Proxies: the environment is ignored, only the config key counts      */
/* ---------------------------------------------------------------------- */

#define PROXY_ANSWER "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

/* Environment proxies point at a listener; the node must register
 * directly. No orchd_* call while the variables are set: the test's own
 * libcurl would read them too. */
static void environment_proxy_is_ignored(int with_no_proxy)
{
    start_cp(NULL);
    fx.raw = raw_start(PROXY_ANSWER);
    char proxy[64];
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", fx.raw->port);
    fx.proxy_env = 1;
    setenv("http_proxy", proxy, 1);
    setenv("HTTP_PROXY", proxy, 1);
    setenv("ALL_PROXY", proxy, 1);
    setenv("all_proxy", proxy, 1);
    if (with_no_proxy)
        setenv("no_proxy", "localhost", 1);
    start_node(orchd_url(fx.cp), FAST_KEYS ",\"api_token\":\"" TOKEN_A "\"");
    long ms = tick_until_state(PMD_NODE_REGISTERED, 3000);
    th_tick_for(fx.host, fx.p, fx.in, 300); /* a heartbeat or two */
    th_destroy(fx.host, fx.p, fx.in);
    fx.in = NULL;
    clear_proxy_env();
    int via_proxy = atomic_load(&fx.raw->conns);
    if (via_proxy)
        dump_log();
    cr_assert_eq(via_proxy, 0,
                 "%d connection(s) went to the proxy named only by the environment (first "
                 "request: \"%s\"): the bearer token went to a proxy nobody configured",
                 via_proxy, fx.raw->first_line);
    cr_assert_geq(ms, 0, "never registered directly with the control plane");
    cr_assert_gt(orchd_stat(fx.cp, "requests.register"), 0);
}

Test(faults, environment_proxy_variables_are_ignored)
{
    environment_proxy_is_ignored(0);
}

Test(faults, environment_proxy_with_no_proxy_localhost_is_ignored_for_127_0_0_1)
{
    environment_proxy_is_ignored(1);
}

Test(faults, configured_proxy_is_used)
{
    start_cp(NULL);
    fx.raw = raw_start(PROXY_ANSWER);
    char keys[1024];
    snprintf(keys, sizeof(keys),
             FAST_KEYS ",\"api_token\":\"" TOKEN_A "\","
                       "\"proxy\":\"http://127.0.0.1:%d\"",
             fx.raw->port);
    start_node(orchd_url(fx.cp), keys);
    th_tick_for(fx.host, fx.p, fx.in, 1500);
    int via_proxy = atomic_load(&fx.raw->conns);
    cr_assert_gt(via_proxy, 0, "the configured proxy saw no connection");
    cr_assert_eq(orchd_stat(fx.cp, "requests.register"), 0,
                 "the node went around its configured proxy");
    cr_log_info("proxy saw %d connection(s), first request: %s", via_proxy, fx.raw->first_line);
}

/* ---------------------------------------------------------------------- */
/* 13. Descriptors are close-on-exec                                       */
/* ---------------------------------------------------------------------- */

static int contains(const unsigned long *v, size_t n, unsigned long x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

/* Socket inodes in the descriptor table of task TID of process PID (TID 0:
 * the process's main table, the one a fork from the host thread copies),
 * appended to out[*n] without duplicates. With NONCLOEXEC_ONLY, only those
 * without close-on-exec (read from fdinfo). */
static void task_socket_inodes(pid_t pid, pid_t tid, unsigned long *out, size_t *np, size_t max,
                               int noncloexec_only)
{
    char dir[96];
    if (tid)
        snprintf(dir, sizeof(dir), "/proc/%d/task/%d/fd", (int)pid, (int)tid);
    else
        snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    size_t n = *np;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL && n < max) {
        char path[400], target[128];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        ssize_t len = readlink(path, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        unsigned long ino;
        if (sscanf(target, "socket:[%lu]", &ino) != 1)
            continue;
        if (contains(out, n, ino))
            continue;
        if (noncloexec_only) {
            char info[400];
            snprintf(info, sizeof(info), "%.*sinfo/%s", (int)strlen(dir), dir, de->d_name);
            char *text = read_text(info);
            const char *f = strstr(text, "flags:");
            unsigned long flags = f ? strtoul(f + 6, NULL, 8) : 0;
            free(text);
            if (flags & O_CLOEXEC)
                continue;
        }
        out[n++] = ino;
    }
    if (d)
        closedir(d);
    *np = n;
}

/* Socket inodes in the main table of PID (noncloexec_only as above). */
static size_t socket_inodes(pid_t pid, unsigned long *out, size_t max, int noncloexec_only)
{
    size_t n = 0;
    task_socket_inodes(pid, 0, out, &n, max, noncloexec_only);
    return n;
}

/* Socket inodes in every thread's table of PID: a thread may have a private
 * one (unshare(CLONE_FILES)), which no fork from another thread copies. */
static size_t socket_inodes_all_tasks(pid_t pid, unsigned long *out, size_t max)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            task_socket_inodes(pid, (pid_t)atoi(de->d_name), out, &n, max, 0);
    if (d)
        closedir(d);
    return n;
}

Test(faults, a_child_spawned_by_the_host_inherits_no_plugin_socket)
{
    unsigned long before[256], during[256];
    start_cp(NULL);
    /* from here on only the plugin opens sockets in this process (no orchd_*
     * call until the child has run) */
    size_t n_before = socket_inodes_all_tasks(getpid(), before, 256);
    start_node(orchd_url(fx.cp), FAST_KEYS);
    cr_assert_geq(tick_until_state(PMD_NODE_REGISTERED, 10000), 0, "never registered");
    th_tick_for(fx.host, fx.p, fx.in, 500); /* heartbeating on a kept-alive connection */
    cr_assert_gt(heartbeats_ok(), 0, "no heartbeat yet");
    size_t n_during = socket_inodes_all_tasks(getpid(), during, 256);
    size_t plugin_sockets = 0;
    for (size_t i = 0; i < n_during; i++)
        plugin_sockets += !contains(before, n_before, during[i]);
    cr_assert_gt(plugin_sockets, 0, "the plugin holds no socket: nothing to check");

    /* the host spawns a child, as pool-managerd spawns an engine */
    int out[2];
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(out[1], 1);
        execl("/bin/sh", "sh", "-c", "ls -l /proc/$$/fd", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char listing[16384];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof(listing) - 1 &&
           (r = read(out[0], listing + len, sizeof(listing) - 1 - len)) > 0)
        len += (size_t)r;
    listing[len] = '\0';
    close(out[0]);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed:\n%s", listing);

    int leaked = 0;
    for (const char *p = listing; (p = strstr(p, "socket:[")) != NULL; p += 8) {
        unsigned long ino = strtoul(p + 8, NULL, 10);
        if (!contains(before, n_before, ino)) /* not one of the test's own */
            leaked++;
    }
    cr_assert_eq(leaked, 0,
                 "the child inherited %d of the plugin's %zu sockets (no close-on-exec):\n%s",
                 leaked, plugin_sockets, listing);
}

Test(faults, the_shims_plugin_sockets_are_close_on_exec)
{
    start_cp(NULL);
    const char *config_path = path_in_dir("node.json");
    const char *out_path = path_in_dir("shim.log");
    char cfg[512];
    snprintf(cfg, sizeof(cfg),
             "{\"node_id\":\"" NODE "\",\"address\":\"http://10.0.0.5:9200\","
             "\"orchestratord_url\":\"%s\"," FAST_KEYS "}",
             orchd_url(fx.cp));
    write_file(config_path, cfg);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        exec_shim(out_path, config_path);
    fx.child = pid;
    int ok = orchd_wait_node_status(fx.cp, NODE, "Online", 10000);
    if (ok != 0) {
        char *log = read_text(out_path);
        cr_assert_fail("the shim's node never came Online:\n%s", log);
    }
    sleep_ms(300);
    unsigned long all[64], open_on_exec[64];
    size_t n_all = socket_inodes_all_tasks(pid, all, 64);
    size_t n_bad = socket_inodes(pid, open_on_exec, 64, 1);
    kill(pid, SIGTERM);
    long took;
    int status = wait_child(pid, 5000, &took);
    cr_assert_gt(n_all, 0, "the shim holds no socket while heartbeating: nothing to check");
    cr_assert_eq(n_bad, 0,
                 "%zu of the shim's %zu sockets (all the plugin's: no metrics port) "
                 "are in the table a fork copies without close-on-exec",
                 n_bad, n_all);
    cr_assert_eq(status, 0);
}

/* ---------------------------------------------------------------------- */
/* 6, 7, 8. Token rotation                                                 */
/* ---------------------------------------------------------------------- */

static int got_401(void *arg)
{
    (void)arg;
    return orchd_stat(fx.cp, "status.401") >= 1;
}

Test(faults, a_token_fixed_while_the_401_is_in_flight_is_used_at_once)
{
    const char *server = path_in_dir("server-token"), *node = path_in_dir("node-token");
    write_file(server, TOKEN_B "\n"); /* the control plane rotated already */
    write_file(node, TOKEN_A "\n");
    orchd_options_t opt = {.token_file = server};
    start_cp(&opt);
    /* the register is held 800 ms, then refused 401: the operator fixes the
     * node's file meanwhile, so only the re-read after the 401 can see it */
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"register\",\"delay_ms\":800,\"count\":1}"), 0);
    char keys[1024];
    /* A 2 s interval bounds the start jitter at 200 ms (a tenth of it): the
     * register is then sent with the old token before the file changes at
     * 300 ms and well before the periodic re-read (900 ms). With 10 s the
     * jitter reached 1 s and 1 run in 10 sent the new token at once. */
    snprintf(keys, sizeof(keys),
             "\"heartbeat_interval_ms\":2000,\"retry_base_ms\":20,\"retry_max_ms\":200,"
             "\"request_timeout_ms\":5000,\"api_token_file\":\"%s\"",
             node);
    start_node(orchd_url(fx.cp), keys);
    th_tick_for(fx.host, fx.p, fx.in, 300);
    write_file(node, TOKEN_B "\n");
    /* from the 401 on (the plugin may or may not report unauthorized first) */
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, got_401, NULL, 3000), "no 401 seen");
    long ms = tick_until_state(PMD_NODE_REGISTERED, 6000);
    th_tick_for(fx.host, fx.p, fx.in, 50);
    if (ms < 0 || ms > 2000)
        dump_log();
    cr_assert_geq(ms, 0, "not registered 6 s after the 401 although the token file was fixed");
    cr_assert_leq(ms, 2000,
                  "registered %ld ms after the 401: the new token found by the "
                  "re-read after the 401 was not tried at once",
                  ms);
    cr_assert(test_host_log_contains(fx.host, "event=token_reloaded"),
              "the new token was used without a token_reloaded line");
}

Test(faults, a_delete_refused_401_after_a_rotation_is_retried_with_the_new_token)
{
    enum { DEREGISTER_MS = 2000 };
    const char *server = path_in_dir("server-token"), *node = path_in_dir("node-token");
    write_file(server, TOKEN_A "\n");
    write_file(node, TOKEN_A "\n");
    orchd_options_t opt = {.token_file = server};
    start_cp(&opt);
    char keys[1024];
    snprintf(keys, sizeof(keys),
             "\"heartbeat_interval_ms\":5000,\"retry_base_ms\":20,\"retry_max_ms\":200,"
             "\"request_timeout_ms\":2000,\"deregister_timeout_ms\":2000,"
             "\"api_token_file\":\"%s\"",
             node);
    start_node(orchd_url(fx.cp), keys);
    tick_until_online(10000); /* the next heartbeat is 5 s away */
    write_file(server, TOKEN_B "\n");
    write_file(node, TOKEN_B "\n");
    th_tick_for(fx.host, fx.p, fx.in, 20); /* stop before the once-a-second check */
    uint64_t t0 = now_ms();
    cr_assert_eq(th_stop(fx.host, fx.p, fx.in), PMD_OK);
    long stop_ms = (long)(now_ms() - t0);
    json_object *all = journal();
    char statuses[128] = "";
    for (size_t i = 0; i < json_object_array_length(all); i++) {
        json_object *e = json_object_array_get_idx(all, i);
        if (strcmp(entry_str(e, "method"), "DELETE") == 0)
            snprintf(statuses + strlen(statuses), sizeof(statuses) - strlen(statuses), " %ld",
                     entry_int(e, "status"));
    }
    json_object_put(all);
    json_object *left = orchd_node(fx.cp, NODE);
    if (left)
        dump_log();
    cr_assert_null(left, "the node is still registered after stop; DELETE statuses:%s", statuses);
    json_object_put(left);
    cr_assert_leq(stop_ms, DEREGISTER_MS + 1000 + 500, "stop took %ld ms", stop_ms);
}

Test(faults, a_missing_token_file_is_reported_once_then_its_recovery_once)
{
    const char *node = path_in_dir("node-token");
    write_file(node, TOKEN_A "\n");
    orchd_options_t opt = {.token = TOKEN_A};
    start_cp(&opt);
    char keys[1024];
    snprintf(keys, sizeof(keys), FAST_KEYS ",\"api_token_file\":\"%s\"", node);
    start_node(orchd_url(fx.cp), keys);
    tick_until_online(10000);

    cr_assert_eq(unlink(node), 0);
    th_tick_for(fx.host, fx.p, fx.in, 4000);
    int missing = test_host_log_count_matching(fx.host, "event=token_reload_failed");
    if (missing != 1)
        dump_log();
    cr_assert_leq(missing, 1,
                  "%d token_reload_failed lines in 4 s for one missing file: a log "
                  "flood",
                  missing);
    cr_assert_eq(missing, 1, "the missing token file was never reported");
    cr_assert_eq(test_host_last_state(fx.host), PMD_NODE_REGISTERED,
                 "the old token must keep working");

    write_file(node, TOKEN_A "\n");
    th_tick_for(fx.host, fx.p, fx.in, 1500);
    cr_assert_eq(test_host_log_count_matching(fx.host, "event=token_reload_recovered"), 1,
                 "restoring the file must be said once (event=token_reload_recovered)");

    /* a different problem: the path is now a directory */
    cr_assert_eq(unlink(node), 0);
    cr_assert_eq(mkdir(node, 0700), 0);
    th_tick_for(fx.host, fx.p, fx.in, 2500);
    int total = test_host_log_count_matching(fx.host, "event=token_reload_failed");
    if (total != 2)
        dump_log();
    cr_assert_eq(total, 2, "a second, different problem must be reported once (%d lines in all)",
                 total);
    cr_assert_eq(rmdir(node), 0);
}

/* ---------------------------------------------------------------------- */
/* 10. Retry-After beyond every integer type                               */
/* ---------------------------------------------------------------------- */

/* orchd-dev's retry_after stops at INT32_MAX: a raw server sends this one. */
Test(faults, retry_after_beyond_2_to_the_64_saturates_instead_of_wrapping)
{
    fx.raw = raw_start("HTTP/1.1 503 Service Unavailable\r\n"
                       "Retry-After: 99999999999999999999\r\n"
                       "Content-Type: application/json\r\nContent-Length: 47\r\n"
                       "Connection: close\r\n\r\n"
                       "{\"success\":false,\"message\":\"cloud profile off\"}");
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", fx.raw->port);
    start_node(url, FAST_KEYS);
    th_tick_for(fx.host, fx.p, fx.in, 2500);
    int attempts = atomic_load(&fx.raw->conns);
    cr_assert_geq(attempts, 1, "the node never tried to register");
    if (attempts > 1)
        dump_log();
    cr_assert_eq(attempts, 1,
                 "%d registrations within 2.5 s despite Retry-After: "
                 "99999999999999999999 (must saturate at the 1 h cap)",
                 attempts);
}

/* ---------------------------------------------------------------------- */
/* 9. Floors                                                               */
/* ---------------------------------------------------------------------- */

Test(faults, a_1_ms_heartbeat_interval_is_refused_naming_the_key)
{
    char err[512] = "";
    int32_t rc =
        th_init(fx.host, fx.p,
                "{\"node_id\":\"" NODE "\",\"address\":\"http://10.0.0.5:9200\","
                "\"orchestratord_url\":\"http://127.0.0.1:9\",\"heartbeat_interval_ms\":1}",
                &fx.in, err, sizeof(err));
    cr_assert_eq(rc, PMD_ERR_CONFIG, "heartbeat_interval_ms 1 accepted (rc %d)", rc);
    cr_assert_null(fx.in);
    cr_assert(strstr(err, "heartbeat_interval_ms") != NULL, "the error does not name the key: %s",
              err);
}

/* ---------------------------------------------------------------------- */
/* 2. A passphrase-protected client key                                    */
/* ---------------------------------------------------------------------- */

static void make_certs(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "cd %s && exec >openssl.log 2>&1 && "
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca "
             "-keyout ca.key -out ca.pem && "
             "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key "
             "-out server.csr && "
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext && "
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-days 2 -extfile san.ext -out server.pem && "
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes256 "
             "-pass pass:" PASSPHRASE " -out client-enc.key && "
             "openssl req -new -key client-enc.key -passin pass:" PASSPHRASE
             " -subj /CN=gpu-node -out client.csr && "
             "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-days 2 -out client.pem && "
             "grep -q ENCRYPTED client-enc.key",
             fx.dir);
    cr_assert_eq(system(cmd), 0, "openssl failed; see %s/openssl.log", fx.dir);
}

static void start_mtls_cp(void)
{
    make_certs();
    orchd_options_t opt = {.tls_cert = path_in_dir("server.pem"),
                           .tls_key = path_in_dir("server.key"),
                           .tls_client_ca = path_in_dir("ca.pem")};
    start_cp(&opt);
}

Test(faults, an_encrypted_client_key_is_refused_at_init_and_never_prompts_on_the_terminal)
{
    start_mtls_cp();
    const char *config_path = path_in_dir("node.json");
    char cfg[1024];
    snprintf(cfg, sizeof(cfg),
             "{\"node_id\":\"" NODE "\",\"address\":\"http://10.0.0.5:9200\","
             "\"orchestratord_url\":\"%s\"," FAST_KEYS ",\"ca_file\":\"%s/ca.pem\","
             "\"client_cert\":\"%s/client.pem\",\"client_key\":\"%s/client-enc.key\"}",
             orchd_url(fx.cp), fx.dir, fx.dir, fx.dir);
    write_file(config_path, cfg);
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    cr_assert_geq(pid, 0, "forkpty: %s", strerror(errno));
    if (pid == 0) { /* the pty is the shim's controlling terminal, stdin, stdout and stderr */
        close_range(3, ~0u, 0);
        execl(SHIM_EXE, SHIM_EXE, "--plugin", NODE_REGISTRATION_SO, "--config", config_path,
              "--tick-ms", "50", "--capabilities", CAPS_FIXTURE, (char *)NULL);
        _exit(127);
    }
    fx.child = pid;
    static char out[65536];
    size_t len = 0;
    int status = -1;
    uint64_t t0 = now_ms();
    for (;;) {
        struct pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, 20) > 0) {
            ssize_t r = read(master, out + len, sizeof(out) - 1 - len);
            if (r > 0)
                len += (size_t)r;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            fx.child = -1;
            break;
        }
        if (now_ms() - t0 > 5000 || len >= sizeof(out) - 1)
            break;
    }
    for (ssize_t r; len < sizeof(out) - 1 && poll(&(struct pollfd){master, POLLIN, 0}, 1, 50) > 0 &&
                    (r = read(master, out + len, sizeof(out) - 1 - len)) > 0;)
        len += (size_t)r;
    out[len] = '\0';
    close(master);
    fprintf(stderr, "--- shim on a terminal (%llu ms) ---\n%s\n---\n",
            (unsigned long long)(now_ms() - t0), out);
    cr_assert_null(strstr(out, "Enter PEM pass phrase"),
                   "OpenSSL prompted for the key's passphrase on the terminal");
    cr_assert_neq(status, -1,
                  "the shim did not exit within 5 s: the network thread is blocked "
                  "on a passphrase prompt");
    cr_assert_neq(status, 0, "the shim ran with an encrypted key and no password file");
    cr_assert(strcasestr(out, "encrypted") != NULL,
              "the refusal does not say the key is encrypted");
    cr_assert_null(strstr(out, PASSPHRASE));
}

Test(faults, an_encrypted_client_key_with_a_password_file_registers_over_mtls)
{
    start_mtls_cp();
    const char *pass = path_in_dir("key-pass");
    write_file(pass, PASSPHRASE "\n"); /* as `echo` writes it; the newline is not part of it */
    chmod(pass, 0600);
    char keys[1024];
    snprintf(keys, sizeof(keys),
             FAST_KEYS ",\"ca_file\":\"%s/ca.pem\",\"client_cert\":\"%s/client.pem\","
                       "\"client_key\":\"%s/client-enc.key\",\"client_key_password_file\":\"%s\"",
             fx.dir, fx.dir, fx.dir, pass);
    start_node(orchd_url(fx.cp), keys);
    tick_until_online(10000);
}
