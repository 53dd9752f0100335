/*
 * main.c - pmd-host-shim: the reference host. Loads one plugin the way
 * pool-managerd will (loader.h), feeds it pools and capabilities from files,
 * ticks it on a drift-free monotonic schedule, prints its log lines and
 * state changes to stderr, and tears it down on SIGINT/SIGTERM or after
 * --run-for seconds. This file is the CLI and the run loop only.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capabilities.h"
#include "discover.h"
#include "host_callbacks.h"
#include "json_fields.h"
#include "loader.h"
#include "log_line.h"
#include "pools_file.h"

#ifndef PMD_SHIM_VERSION
#define PMD_SHIM_VERSION "0.0.0"
#endif

#define EXIT_USAGE 2
#define CONFIG_MAX_BYTES (1024u * 1024)
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
#define MAX_SLEEP_NS (100ull * NS_PER_MS) /* bounds the signal-check latency */

typedef struct options {
    const char *plugin_path;
    const char *config_path;
    const char *pools_path;        /* NULL = no pools */
    const char *capabilities_path; /* NULL = discover */
    uint64_t tick_ns;
    uint64_t run_for_ns; /* UINT64_MAX = until a signal */
} options_t;

typedef struct shim {
    options_t opt;
    char *config_text;
    shim_capabilities_t caps;
    shim_pools_file_t pools_file;
    shim_pool_list_t no_pools;
    pmd_loaded_plugin_t loaded;
    shim_host_t host;
    pmd_instance_t *instance;
    int32_t last_tick_rc;
} shim_t;

static volatile sig_atomic_t g_stop_signal;

static void on_stop_signal(int sig) { g_stop_signal = sig; }

static const char usage_text[] =
    "usage: pmd-host-shim --plugin PATH --config FILE [--pools FILE]\n"
    "                     [--capabilities FILE] [--tick-ms N] [--run-for SECONDS]\n"
    "       pmd-host-shim --help | --version\n"
    "\n"
    "Loads a pmd plugin (" PMD_PLUGIN_ENTRY_SYMBOL "), hands it the text of the config\n"
    "file, starts it and ticks it every --tick-ms (1..60000, default 100) until\n"
    "SIGINT/SIGTERM (a second one kills) or --run-for seconds (decimal) have\n"
    "passed; then stop(), destroy() and exit.\n"
    "  --pools FILE         JSON array of pools, re-read when it changes\n"
    "  --capabilities FILE  NodeCapabilities JSON; default: discovered (no GPUs yet)\n"
    "Plugin log lines and state changes go to stderr, timestamped.\n"
    "Exit: 0 clean; 1 load, config or init failure, failed stop or an ABI\n"
    "violation by the plugin; 2 usage error.\n";

/* One plain "pmd-host-shim: ..." line (no timestamp: start-up and fatal
 * lines), sanitised because it may carry plugin or command-line text. */
static void plain_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void plain_line(const char *fmt, ...)
{
    char raw[LOG_LINE_MAX], sane[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    log_line_sanitize(sane, sizeof(sane), raw);
    fprintf(stderr, "pmd-host-shim: %s\n", sane);
}

/* "<what> "<arg>" (try --help)"; arg may be NULL. */
static int usage_error(const char *what, const char *arg)
{
    plain_line("%s%s%s%s (try --help)", what, arg ? " \"" : "", arg ? arg : "", arg ? "\"" : "");
    return EXIT_USAGE;
}

static int parse_tick_ms(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 60000)
        return -1;
    *out = (uint64_t)v * NS_PER_MS;
    return 0;
}

static int parse_run_for(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0 || v > 1e9)
        return -1;
    *out = (uint64_t)llround(v * (double)NS_PER_S);
    return 0;
}

/* 0 to run, EXIT_USAGE on a usage error, -1 when --help/--version answered. */
static int parse_args(int argc, char **argv, options_t *o)
{
    static const struct option longopts[] = {
        {"plugin", required_argument, NULL, 'p'},  {"config", required_argument, NULL, 'c'},
        {"pools", required_argument, NULL, 'P'},   {"capabilities", required_argument, NULL, 'C'},
        {"tick-ms", required_argument, NULL, 't'}, {"run-for", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    int c;
    *o = (options_t){.tick_ns = 100 * NS_PER_MS, .run_for_ns = UINT64_MAX};
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': o->plugin_path = optarg; break;
        case 'c': o->config_path = optarg; break;
        case 'P': o->pools_path = optarg; break;
        case 'C': o->capabilities_path = optarg; break;
        case 't':
            if (parse_tick_ms(optarg, &o->tick_ns) != 0)
                return usage_error("--tick-ms must be an integer from 1 to 60000, not",
                                   optarg);
            break;
        case 'r':
            if (parse_run_for(optarg, &o->run_for_ns) != 0)
                return usage_error("--run-for must be a number of seconds >= 0, not",
                                   optarg);
            break;
        case 'h': fputs(usage_text, stdout); return -1;
        case 'V':
            printf("pmd-host-shim %s (plugin ABI %d.%d)\n", PMD_SHIM_VERSION,
                   PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR);
            return -1;
        default:
            return usage_error("unknown option or missing value:", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    if (o->plugin_path == NULL || o->config_path == NULL)
        return usage_error("--plugin and --config are required", NULL);
    return 0;
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND; /* a second signal kills a hung teardown */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int fail_line(const char *what, const char *why)
{
    plain_line("%s%s", what, why);
    return EXIT_FAILURE;
}

/* Config text, capabilities and the first pools list, before any load. */
static int read_inputs(shim_t *s)
{
    char err[768];
    s->config_text = shim_read_text_file(s->opt.config_path, CONFIG_MAX_BYTES, err, sizeof(err));
    if (s->config_text == NULL)
        return fail_line("cannot read config: ", err);
    if (s->opt.capabilities_path == NULL)
        shim_discover_capabilities(&s->caps);
    else if (shim_capabilities_load(s->opt.capabilities_path, &s->caps, err, sizeof(err)) != 0)
        return fail_line("bad capabilities file: ", err);
    if (s->opt.pools_path != NULL &&
        shim_pools_file_open(&s->pools_file, s->opt.pools_path, err, sizeof(err)) != 0)
        return fail_line("bad pools file: ", err);
    return 0;
}

/* dlopen() searches the library path for a name without '/'; on the
 * command line "plugin.so" means the file here, so say "./plugin.so". */
static const char *plugin_file(const char *path, char *buf, size_t size)
{
    if (strchr(path, '/') != NULL)
        return path;
    snprintf(buf, size, "./%s", path);
    return buf;
}

static int load_plugin(shim_t *s)
{
    char err[1024], path[4096];
    if (pmd_loader_open(plugin_file(s->opt.plugin_path, path, sizeof(path)),
                        PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &s->loaded, err,
                        sizeof(err)) != PMD_OK)
        return fail_line("", err);
    const pmd_plugin_t *p = s->loaded.plugin;
    plain_line("loaded %s %s (ABI %u.%u, session minor %u)", p->name, p->version,
               (unsigned)p->abi_major, (unsigned)p->abi_minor, (unsigned)s->loaded.session_minor);
    return 0;
}

static int init_instance(shim_t *s)
{
    char err[1024] = "";
    const pmd_plugin_t *p = s->loaded.plugin;
    const shim_pool_list_t *pools =
        s->opt.pools_path != NULL ? &s->pools_file.list : &s->no_pools;
    shim_host_setup(&s->host, stderr, PMD_SHIM_VERSION, pools, &s->caps, p);
    shim_host_enter(&s->host, SHIM_CALL_INIT);
    int32_t rc = p->init(&s->host.abi, s->config_text, &s->instance, err, sizeof(err));
    shim_host_leave(&s->host);
    err[sizeof(err) - 1] = '\0';
    if (rc == PMD_OK && s->instance != NULL)
        return 0;
    s->instance = NULL;
    plain_line("init of %s failed: %s (%d): %s", p->name, p->result_string(rc), (int)rc,
               err[0] ? err : "(the plugin gave no message)");
    return EXIT_FAILURE;
}

static int start_instance(shim_t *s)
{
    const pmd_plugin_t *p = s->loaded.plugin;
    shim_host_enter(&s->host, SHIM_CALL_START);
    int32_t rc = p->start(s->instance);
    shim_host_leave(&s->host);
    if (rc == PMD_OK)
        return 0;
    plain_line("start of %s failed: %s (%d)", p->name, p->result_string(rc), (int)rc);
    return EXIT_FAILURE;
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Sleeps until the monotonic time at_ns, or a signal, or MAX_SLEEP_NS. */
static void sleep_until(uint64_t at_ns)
{
    uint64_t cap = monotonic_ns() + MAX_SLEEP_NS;
    uint64_t t = at_ns < cap ? at_ns : cap;
    struct timespec ts = {(time_t)(t / NS_PER_S), (long)(t % NS_PER_S)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static void poll_pools(shim_t *s, uint64_t now_ns)
{
    char msg[1024];
    if (s->opt.pools_path == NULL)
        return;
    int rc = shim_pools_file_poll(&s->pools_file, now_ns, msg, sizeof(msg));
    if (rc != 0)
        log_line_emit(stderr, rc > 0 ? "INFO" : "WARN", msg);
}

/* One tick; a failing result is logged when it differs from the last one. */
static void tick_once(shim_t *s)
{
    const pmd_plugin_t *p = s->loaded.plugin;
    shim_host_enter(&s->host, SHIM_CALL_TICK);
    int32_t rc = p->tick(s->instance, monotonic_ns());
    shim_host_leave(&s->host);
    if (rc != PMD_OK && rc != s->last_tick_rc)
        log_line_emitf(stderr, "ERROR", "tick failed: %s (%d)", p->result_string(rc), (int)rc);
    s->last_tick_rc = rc;
}

/* Ticks at t0 + k * period (missed slots are skipped, not bunched) until a
 * signal or the --run-for deadline. */
static void run_loop(shim_t *s)
{
    const uint64_t period = s->opt.tick_ns;
    const uint64_t t0 = monotonic_ns();
    const uint64_t deadline =
        s->opt.run_for_ns == UINT64_MAX ? UINT64_MAX : t0 + s->opt.run_for_ns;
    uint64_t next = t0 + period;
    if (period < 10 * NS_PER_MS || period > 1000 * NS_PER_MS)
        log_line_emitf(stderr, "WARN", "--tick-ms %llu is outside the 10..1000 ms that the ABI "
                       "promises plugins", (unsigned long long)(period / NS_PER_MS));
    while (!g_stop_signal) {
        sleep_until(next < deadline ? next : deadline);
        uint64_t now = monotonic_ns();
        if (g_stop_signal || now >= deadline)
            break;
        if (now < next)
            continue;
        poll_pools(s, now);
        tick_once(s);
        now = monotonic_ns();
        next = t0 + ((now - t0) / period + 1) * period;
    }
    if (g_stop_signal)
        log_line_emitf(stderr, "INFO", "received %s, stopping",
                       g_stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    else
        log_line_emitf(stderr, "INFO", "--run-for time is over, stopping");
}

/* stop() then destroy(); a failed stop is logged and teardown goes on.
 * Returns 0, or EXIT_FAILURE when stop failed. */
static int stop_and_destroy(shim_t *s, int started)
{
    const pmd_plugin_t *p = s->loaded.plugin;
    int32_t rc = PMD_OK;
    if (started) {
        shim_host_enter(&s->host, SHIM_CALL_STOP);
        rc = p->stop(s->instance);
        shim_host_leave(&s->host);
    }
    if (rc != PMD_OK)
        log_line_emitf(stderr, "ERROR", "stop failed: %s (%d); destroying anyway",
                       p->result_string(rc), (int)rc);
    shim_host_enter(&s->host, SHIM_CALL_DESTROY);
    p->destroy(s->instance);
    shim_host_leave(&s->host);
    s->instance = NULL;
    return rc == PMD_OK ? 0 : EXIT_FAILURE;
}

static int run_plugin(shim_t *s)
{
    int rc = init_instance(s);
    if (rc != 0)
        return rc;
    if (start_instance(s) != 0) {
        stop_and_destroy(s, 0);
        return EXIT_FAILURE;
    }
    run_loop(s);
    rc = stop_and_destroy(s, 1);
    unsigned violations = shim_host_violations(&s->host);
    if (violations != 0) {
        log_line_emitf(stderr, "ERROR", "the plugin broke the host-callback rules %u time(s)",
                       violations);
        rc = EXIT_FAILURE;
    }
    return rc;
}

static void release(shim_t *s)
{
    pmd_loader_close(&s->loaded);
    if (s->opt.pools_path != NULL)
        shim_pools_file_close(&s->pools_file);
    shim_capabilities_free(&s->caps);
    free(s->config_text);
}

int main(int argc, char **argv)
{
    shim_t s;
    memset(&s, 0, sizeof(s));
    int rc = parse_args(argc, argv, &s.opt);
    if (rc != 0)
        return rc < 0 ? EXIT_SUCCESS : rc;
    install_signal_handlers();
    rc = read_inputs(&s);
    if (rc == 0)
        rc = load_plugin(&s);
    if (rc == 0)
        rc = run_plugin(&s);
    release(&s);
    return rc;
}
