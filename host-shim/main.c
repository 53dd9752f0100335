/*
 * main.c - pmd-host-shim: the reference host. Loads one plugin the way
 * pool-managerd will (loader.h), feeds it pools and capabilities from files,
 * ticks it on a drift-free monotonic schedule, prints its log lines and
 * state changes to stderr, and tears it down on SIGINT/SIGTERM or after
 * --run-for seconds; SIGHUP re-reads the pools and capabilities files
 * (signals.h says what every signal does). With --metrics-listen it serves
 * the plugin's pmd.ext.stats/1 counters to Prometheus (metrics_server.h),
 * read here on the host thread; on a terminal it prints a status line every
 * 10 s; under systemd it speaks the notify protocol (sd_notify.h) and, when
 * stderr is journald's, writes journal lines (log_line.h). A lost stderr
 * costs only the log lines. This file is the CLI and the run loop only.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capabilities.h"
#include "discover.h"
#include "host_callbacks.h"
#include "json_fields.h"
#include "listen_address.h"
#include "loader.h"
#include "log_line.h"
#include "metrics_format.h"
#include "metrics_server.h"
#include "plugin_file.h"
#include "pools_file.h"
#include "sd_notify.h"
#include "signals.h"

#ifndef PMD_SHIM_VERSION
#define PMD_SHIM_VERSION "0.0.0"
#endif

#define EXIT_USAGE 2
#define CONFIG_MAX_BYTES (1024u * 1024)
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
#define MAX_SLEEP_NS (100ull * NS_PER_MS)    /* bounds the signal-check latency */
#define STATS_PERIOD_NS (250ull * NS_PER_MS) /* stats read at most this often */

/* One of the shim's own event lines: "plugin=pmd-host-shim event=...". */
#define EVENT(level, ...) log_line_emitf(stderr, level, LOG_SELF " " __VA_ARGS__)

typedef struct options {
    const char *plugin_path;
    const char *config_path;
    const char *pools_path;        /* NULL = no pools */
    const char *capabilities_path; /* NULL = discover */
    uint64_t tick_ns;
    uint64_t run_for_ns;    /* UINT64_MAX = until a signal */
    int metrics;            /* 0 = no metrics endpoint */
    int metrics_port_given; /* --metrics-port (a shorthand) was used */
    shim_listen_address_t metrics_at;
    const char *metrics_port_file;
    uint64_t status_every_ns; /* 0 = no status line */
    int32_t log_level;        /* LOG_LEVEL_*: the highest level written */
    int discover_only;        /* --discover */
} options_t;

/* One build of the plugin, loaded, with its instance. Allocated, so that
 * host (the instance's host_data) never moves; a swap holds two. Every
 * pointer into the build (descriptor, stats table, the name that host's
 * lines carry) lives here and goes with it: the shim keeps copies only. */
typedef struct plugin_run {
    shim_plugin_file_t file; /* the file it was loaded from */
    host_loaded_plugin_t loaded;
    shim_host_t host;
    pmd_instance_t *instance;         /* NULL before init, after destroy */
    int started;                      /* on_start (or a takeover) succeeded */
    const pmd_ext_stats_t *stats_ext; /* NULL: the plugin offers no stats */
    char *config_text;                /* what init got */
} plugin_run_t;

typedef struct shim {
    options_t opt;
    shim_capabilities_t caps;
    shim_pools_file_t pools_file;
    shim_pool_list_t no_pools;
    plugin_run_t *run;           /* the build running now */
    unsigned retired_violations; /* ABI violations of swapped-out builds */
    int swap_fatal;              /* a swap left no instance: exit 1 */
    int32_t last_tick_rc;
    int32_t last_stats_rc;
    shim_metrics_snapshot_t snap;   /* latest stats, host thread's copy */
    shim_metrics_server_t *metrics; /* NULL without --metrics-listen */
    int status_line;                /* stderr is a terminal and status is on */
    uint64_t next_stats_ns, next_status_ns;
    shim_notify_t notify;      /* systemd; fd -1 when not under it */
    int32_t notified_state;    /* state in the last STATUS= sent */
    char notified_status[256]; /* text of the last STATUS= sent */
    uint64_t next_notify_ns, next_watchdog_ns;
} shim_t;

static const char usage_text[] =
    "usage: pmd-host-shim --plugin PATH --config FILE [OPTION...]\n"
    "       pmd-host-shim --discover | -h | --help | --version\n"
    "\n"
    "Loads a pmd plugin (" PMD_PLUGIN_ENTRY_SYMBOL "), hands it the config file's JSON,\n"
    "starts it and ticks it until SIGINT or SIGTERM (a second one kills) or until\n"
    "--run-for has passed; then stop(), destroy() and exit. SIGHUP re-reads the\n"
    "--pools and --capabilities files and, when --plugin now names another file (a\n"
    "flipped symlink, a replaced file), swaps that build in live: loaded, checked and\n"
    "initialised with the re-read --config first, then handed the node over (no\n"
    "deregistration); on any failure the running build stays. SIGPIPE, SIGUSR1 and\n"
    "SIGUSR2 are ignored.\n"
    "\n"
    "  --plugin PATH          the plugin to load (a name without '/' is a file here)\n"
    "  --config FILE          the plugin's JSON config (syntax checked first)\n"
    "  --pools FILE           JSON array of pools, re-read when it changes\n"
    "  --capabilities FILE    NodeCapabilities JSON; default: discovered (CPU, RAM,\n"
    "                         GPUs through libnvidia-ml.so.1 or $PMD_NVML_LIBRARY)\n"
    "  --tick-ms N            tick period, 1..60000 ms (default 100)\n"
    "  --run-for SECONDS      stop after SECONDS (decimal; default: at a signal)\n"
    "  --metrics-listen ADDR:PORT  serve GET /metrics (Prometheus text) on\n"
    "                         127.0.0.1:9464, [::1]:9464, 0.0.0.0:9464...; port 0\n"
    "                         picks a free one (logged as event=metrics_listening)\n"
    "  --metrics-port N       short for --metrics-listen 127.0.0.1:N\n"
    "  --metrics-port-file PATH  write the bound port there (atomic rename)\n"
    "  --status-every SECONDS status line period when stderr is a terminal\n"
    "                         (default 10; 0 = never)\n"
    "  --log-level LEVEL      error, warn, info or debug: the lowest level written\n"
    "                         (default info: no per-heartbeat debug lines)\n"
    "  --discover             print this machine's NodeCapabilities JSON and exit\n"
    "  -h, --help             print this help and exit\n"
    "  --version              print the version and plugin ABI and exit\n"
    "\n"
    "Environment: NOTIFY_SOCKET and WATCHDOG_USEC (systemd Type=notify: READY=1,\n"
    "STATUS=, WATCHDOG=1, STOPPING=1); JOURNAL_STREAM (stderr is journald's: lines\n"
    "start with <N> syslog priorities, without a timestamp); PMD_NVML_LIBRARY.\n"
    "Lines on stderr: \"<time> <LEVEL> plugin=<name> [node=<id>] event=<name> ...\".\n"
    "Exit status: 0 clean stop; 1 config, load, init or start failure, a failed\n"
    "stop or an ABI violation by the plugin; 2 usage error.\n";

/* One plain "pmd-host-shim: ..." line (no timestamp: usage errors, for the
 * person at the command line), sanitised because it carries their text. */
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

static int parse_port(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

/* One option with a value; 0, or EXIT_USAGE. */
static int parse_value(int c, const char *arg, options_t *o)
{
    int port;
    switch (c) {
    case 'p': o->plugin_path = arg; return 0;
    case 'c': o->config_path = arg; return 0;
    case 'P': o->pools_path = arg; return 0;
    case 'C': o->capabilities_path = arg; return 0;
    case 'f': o->metrics_port_file = arg; return 0;
    case 't':
        if (parse_tick_ms(arg, &o->tick_ns) == 0)
            return 0;
        return usage_error("--tick-ms must be an integer from 1 to 60000, not", arg);
    case 'r':
        if (parse_run_for(arg, &o->run_for_ns) == 0)
            return 0;
        return usage_error("--run-for must be a number of seconds >= 0, not", arg);
    case 'm':
        if (parse_port(arg, &port) != 0)
            return usage_error("--metrics-port must be a port from 0 to 65535, not", arg);
        if (o->metrics)
            return usage_error("give --metrics-listen or --metrics-port, once", NULL);
        shim_listen_loopback((uint16_t)port, &o->metrics_at);
        o->metrics = o->metrics_port_given = 1;
        return 0;
    case 'l':
        if (o->metrics)
            return usage_error("give --metrics-listen or --metrics-port, once", NULL);
        if (shim_listen_parse(arg, &o->metrics_at) != 0)
            return usage_error("--metrics-listen must be ADDR:PORT with a numeric IPv4 "
                               "address or a [bracketed] IPv6 one, not",
                               arg);
        o->metrics = 1;
        return 0;
    case 'L':
        if ((o->log_level = log_line_parse_level(arg)) > 0)
            return 0;
        return usage_error("--log-level must be error, warn, info or debug, not", arg);
    case 's':
        if (parse_run_for(arg, &o->status_every_ns) == 0)
            return 0;
        return usage_error("--status-every must be a number of seconds >= 0, not", arg);
    default: return usage_error("unknown option", arg);
    }
}

static int check_args(int argc, char **argv, const options_t *o)
{
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    if (o->discover_only)
        return 0;
    if (o->plugin_path == NULL || o->config_path == NULL)
        return usage_error("--plugin and --config are required", NULL);
    if (o->metrics_port_file != NULL && !o->metrics)
        return usage_error("--metrics-port-file needs --metrics-listen or --metrics-port", NULL);
    return 0;
}

/* 0 to run, EXIT_USAGE on a usage error, -1 when --help/--version answered. */
static int parse_args(int argc, char **argv, options_t *o)
{
    static const struct option longopts[] = {{"plugin", required_argument, NULL, 'p'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"pools", required_argument, NULL, 'P'},
                                             {"capabilities", required_argument, NULL, 'C'},
                                             {"tick-ms", required_argument, NULL, 't'},
                                             {"run-for", required_argument, NULL, 'r'},
                                             {"metrics-listen", required_argument, NULL, 'l'},
                                             {"metrics-port", required_argument, NULL, 'm'},
                                             {"metrics-port-file", required_argument, NULL, 'f'},
                                             {"status-every", required_argument, NULL, 's'},
                                             {"log-level", required_argument, NULL, 'L'},
                                             {"discover", no_argument, NULL, 'd'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    int c;
    *o = (options_t){.tick_ns = 100 * NS_PER_MS,
                     .run_for_ns = UINT64_MAX,
                     .status_every_ns = 10 * NS_PER_S,
                     .log_level = LOG_LEVEL_INFO};
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': o->discover_only = 1; break;
        case 'h': fputs(usage_text, stdout); return -1;
        case 'V':
            printf("pmd-host-shim %s (plugin ABI %d.%d)\n", PMD_SHIM_VERSION, PMD_ABI_VERSION_MAJOR,
                   PMD_ABI_VERSION_MINOR);
            return -1;
        case '?':
        case ':': return usage_error("unknown option or missing value:", argv[optind - 1]);
        default:
            if (parse_value(c, optarg, o) != 0)
                return EXIT_USAGE;
        }
    }
    return check_args(argc, argv, o);
}

/* "event=start_failed stage=<stage> reason=\"<why>\"" and EXIT_FAILURE. */
static int start_failed(const char *stage, const char *why)
{
    char q[2048];
    EVENT("ERROR", "event=start_failed stage=%s reason=%s", stage,
          log_line_quote(q, sizeof(q), why));
    return EXIT_FAILURE;
}

static int discover(shim_capabilities_t *caps)
{
    char note[1024];
    int rc = shim_discover_capabilities(caps, note, sizeof(note));
    EVENT("INFO", "%s", note);
    return rc;
}

/* The --config file's text (to free), checked for JSON syntax; NULL with
 * why in err. The config must be JSON (the ABI's config_json): a syntax
 * error is reported here as "FILE:LINE:COLUMN: JSON syntax error: ...",
 * which the plugin, seeing only the text, could not do. */
static char *read_config(const char *path, char *err, size_t err_size)
{
    char why[300];
    char *text = shim_read_text_file(path, CONFIG_MAX_BYTES, err, err_size);
    if (text == NULL)
        return NULL;
    json_object *doc = shim_json_parse(text, why, sizeof(why));
    if (doc != NULL) {
        json_object_put(doc);
        return text;
    }
    snprintf(err, err_size, "%.400s:%s", path, why);
    free(text);
    return NULL;
}

/* Config text, capabilities and the first pools list, before any load. */
static int read_inputs(shim_t *s, char **config_text)
{
    char err[768];
    *config_text = read_config(s->opt.config_path, err, sizeof(err));
    if (*config_text == NULL)
        return start_failed("config", err);
    if (s->opt.capabilities_path == NULL) {
        if (discover(&s->caps) != 0)
            return start_failed("capabilities", "out of memory");
    } else if (shim_capabilities_load(s->opt.capabilities_path, &s->caps, err, sizeof(err)) != 0) {
        return start_failed("capabilities", err);
    }
    if (s->opt.pools_path != NULL &&
        shim_pools_file_open(&s->pools_file, s->opt.pools_path, err, sizeof(err)) != 0)
        return start_failed("pools", err);
    return 0;
}

/* pmd-host-shim --discover: NodeCapabilities JSON on stdout. */
static int discover_and_print(void)
{
    shim_capabilities_t caps;
    if (discover(&caps) != 0)
        return EXIT_FAILURE;
    char *json = shim_capabilities_to_json(&caps);
    shim_capabilities_free(&caps);
    if (json == NULL)
        return EXIT_FAILURE;
    printf("%s\n", json);
    free(json);
    return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* The plugin's pmd.ext.stats/1 table, or NULL when it offers none (or a
 * table too small to hold get). */
static const pmd_ext_stats_t *find_stats(const host_loaded_plugin_t *loaded)
{
    if (!host_loader_has_extensions(loaded))
        return NULL;
    const pmd_ext_stats_t *ext = loaded->plugin->get_extension(PMD_EXT_STATS);
    if (ext == NULL || ext->struct_size < offsetof(pmd_ext_stats_t, get) + sizeof(ext->get) ||
        ext->get == NULL)
        return NULL;
    return ext;
}

/* Frees a run whose instance is destroyed (or never was): dlclose of the
 * build, then its file. NULL is a no-op. */
static void close_run(plugin_run_t *r)
{
    if (r == NULL)
        return;
    host_loader_close(&r->loaded);
    shim_plugin_file_close(&r->file);
    free(r->config_text);
    free(r);
}

/* Loads the build in the file f (taken over, closed on failure) and
 * checks it (entry, version negotiation, descriptor). Returns the run, or
 * NULL with one line in err. */
static plugin_run_t *open_run(shim_plugin_file_t *f, char *err, size_t err_size)
{
    plugin_run_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, err_size, "cannot load plugin %s: out of memory", f->path);
        shim_plugin_file_close(f);
        return NULL;
    }
    r->file = *f;
    if (host_loader_open(r->file.dlopen_name, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR,
                         &r->loaded, err, err_size) != PMD_OK) {
        close_run(r);
        return NULL;
    }
    r->stats_ext = find_stats(&r->loaded);
    return r;
}

static void log_loaded(const plugin_run_t *r)
{
    const pmd_plugin_t *p = r->loaded.plugin;
    char name[600], version[600], path[PATH_MAX + 8];
    EVENT("INFO", "event=loaded name=%s version=%s abi=%u.%u session_minor=%u stats=%s path=%s",
          log_line_quote(name, sizeof(name), p->name),
          log_line_quote(version, sizeof(version), p->version), (unsigned)p->abi_major,
          (unsigned)p->abi_minor, (unsigned)r->loaded.session_minor,
          r->stats_ext != NULL ? "yes" : "no", log_line_quote(path, sizeof(path), r->file.path));
}

static int load_plugin(shim_t *s, char *config_text)
{
    char err[PATH_MAX + 1024];
    shim_plugin_file_t f;
    if (shim_plugin_file_open(s->opt.plugin_path, NULL, &f, err, sizeof(err)) != 0 ||
        (s->run = open_run(&f, err, sizeof(err))) == NULL) {
        free(config_text);
        return start_failed("load", err);
    }
    s->run->config_text = config_text;
    log_loaded(s->run);
    snprintf(s->snap.plugin_name, sizeof(s->snap.plugin_name), "%s", s->run->loaded.plugin->name);
    snprintf(s->snap.plugin_version, sizeof(s->snap.plugin_version), "%s",
             s->run->loaded.plugin->version);
    return 0;
}

/* init() of a new instance of r's build with r's config. On failure, the
 * fields of the error line go into why: "result=... code=N [config=FILE]
 * reason=...". */
static int32_t init_run(shim_t *s, plugin_run_t *r, char *why, size_t why_size)
{
    char err[1024] = "";
    const pmd_plugin_t *p = r->loaded.plugin;
    const shim_pool_list_t *pools = s->opt.pools_path != NULL ? &s->pools_file.list : &s->no_pools;
    shim_host_setup(&r->host, stderr, PMD_SHIM_VERSION, pools, &s->caps, p);
    r->started = 0;
    shim_host_enter(&r->host, SHIM_CALL_INIT);
    int32_t rc = p->init(&r->host.abi, r->config_text, &r->instance, err, sizeof(err));
    shim_host_leave(&r->host);
    err[sizeof(err) - 1] = '\0';
    if (rc == PMD_OK && r->instance != NULL)
        return PMD_OK;
    r->instance = NULL;
    char q[2100], result[128], file[600] = "";
    if (rc == PMD_ERR_CONFIG) { /* the plugin's message names the key; this, the file */
        char quoted[560];
        snprintf(file, sizeof(file), " config=%s",
                 log_line_quote(quoted, sizeof(quoted), s->opt.config_path));
    }
    snprintf(why, why_size, "result=%s code=%d%s reason=%s",
             log_line_quote(result, sizeof(result), p->result_string(rc)), (int)rc, file,
             log_line_quote(q, sizeof(q), err[0] ? err : "the plugin gave no message"));
    return rc == PMD_OK ? PMD_ERR_INTERNAL : rc;
}

static int init_instance(shim_t *s)
{
    char why[4096];
    if (init_run(s, s->run, why, sizeof(why)) == PMD_OK)
        return 0;
    EVENT("ERROR", "event=start_failed stage=init %s", why);
    return EXIT_FAILURE;
}

/* on_start, or on_start_handed_over when h is given. */
static int32_t start_run(plugin_run_t *r, const pmd_handover_t *h)
{
    const pmd_plugin_t *p = r->loaded.plugin;
    shim_host_enter(&r->host, SHIM_CALL_START);
    int32_t rc = h != NULL ? p->on_start_handed_over(r->instance, h) : p->on_start(r->instance);
    shim_host_leave(&r->host);
    r->started = rc == PMD_OK;
    return rc;
}

static int start_instance(shim_t *s)
{
    int32_t rc = start_run(s->run, NULL);
    if (rc == PMD_OK)
        return 0;
    char result[128];
    EVENT("ERROR", "event=start_failed stage=start result=%s code=%d",
          log_line_quote(result, sizeof(result), s->run->loaded.plugin->result_string(rc)),
          (int)rc);
    return EXIT_FAILURE;
}

/* on_stop of a started instance; a failure is logged. */
static int32_t stop_run(plugin_run_t *r)
{
    const pmd_plugin_t *p = r->loaded.plugin;
    shim_host_enter(&r->host, SHIM_CALL_STOP);
    int32_t rc = p->on_stop(r->instance);
    shim_host_leave(&r->host);
    r->started = 0;
    char result[128];
    if (rc != PMD_OK)
        EVENT("ERROR", "event=stop_failed result=%s code=%d action=destroy",
              log_line_quote(result, sizeof(result), p->result_string(rc)), (int)rc);
    return rc;
}

/* destroy() of r's instance, if it has one. */
static void destroy_run(plugin_run_t *r)
{
    if (r->instance == NULL)
        return;
    shim_host_enter(&r->host, SHIM_CALL_DESTROY);
    r->loaded.plugin->destroy(r->instance);
    shim_host_leave(&r->host);
    r->instance = NULL;
    r->started = 0;
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
    char msg[1024], q[2100];
    if (s->opt.pools_path == NULL)
        return;
    int rc = shim_pools_file_poll(&s->pools_file, now_ns, msg, sizeof(msg));
    if (rc != 0)
        EVENT(rc > 0 ? "INFO" : "WARN", "event=pools_file result=%s detail=%s",
              rc > 0 ? "reloaded" : "rejected", log_line_quote(q, sizeof(q), msg));
}

/* One tick; a failing result is logged when it differs from the last one. */
static void tick_once(shim_t *s)
{
    const pmd_plugin_t *p = s->run->loaded.plugin;
    shim_host_enter(&s->run->host, SHIM_CALL_TICK);
    int32_t rc = p->on_tick(s->run->instance, monotonic_ns());
    shim_host_leave(&s->run->host);
    char result[128];
    if (rc != PMD_OK && rc != s->last_tick_rc)
        EVENT("ERROR", "event=tick_failed result=%s code=%d",
              log_line_quote(result, sizeof(result), p->result_string(rc)), (int)rc);
    s->last_tick_rc = rc;
}

/* Reads the plugin's stats (an ABI call: host thread only, which is why
 * the metrics server never makes it) into s->snap. A failing result is
 * logged when it differs from the last one. */
static void read_stats(shim_t *s)
{
    plugin_run_t *r = s->run;
    if (r->stats_ext == NULL || r->instance == NULL)
        return;
    pmd_stats_t st;
    memset(&st, 0, sizeof(st));
    st.struct_size = sizeof(st);
    shim_host_enter(&r->host, SHIM_CALL_STATS);
    int32_t rc = r->stats_ext->get(r->instance, &st);
    shim_host_leave(&r->host);
    if (rc != PMD_OK) {
        char result[128];
        if (rc != s->last_stats_rc)
            EVENT("WARN", "event=stats_failed result=%s code=%d",
                  log_line_quote(result, sizeof(result), r->loaded.plugin->result_string(rc)),
                  (int)rc);
        s->last_stats_rc = rc;
        return;
    }
    s->last_stats_rc = rc;
    shim_metrics_snapshot_set_stats(&s->snap, &st);
    if (r->host.node_id[0] == '\0')
        shim_host_set_node_id(&r->host, s->snap.node_id);
}

/* Fresh stats and the host's own counters into s->snap, and a copy to the
 * metrics server when there is one. Host thread. */
static void refresh_snapshot(shim_t *s)
{
    read_stats(s);
    s->snap.log_write_failures = log_line_write_failures();
    if (s->metrics != NULL)
        shim_metrics_server_publish(s->metrics, &s->snap);
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / NS_PER_MS;
}

/* One notify datagram; a failure is logged once until a send succeeds. */
static void notify(shim_t *s, const char *text)
{
    char q[300];
    if (shim_notify_send(&s->notify, text) == 0) {
        s->notify.send_failed = 0;
        return;
    }
    if (!s->notify.send_failed)
        EVENT("WARN", "event=systemd_notify_failed reason=%s",
              log_line_quote(q, sizeof(q), strerror(errno)));
    s->notify.send_failed = 1;
}

/* The state the status texts show: the stats' when there are stats. */
static int32_t shown_state(shim_t *s)
{
    return s->snap.stats_available ? s->snap.stats.state : shim_host_last_state(&s->run->host);
}

/* STATUS= for systemctl status: at once when the state changes, else at
 * most once a second and only when the text changed. first (may be NULL)
 * is sent in the same datagram ("READY=1") and forces the send. */
static void notify_status(shim_t *s, uint64_t now, const char *first)
{
    char text[sizeof(s->notified_status)], msg[sizeof(text) + 64];
    if (s->notify.fd < 0)
        return;
    int32_t state = shown_state(s);
    shim_status_format_brief(text, sizeof(text), &s->snap, shim_host_last_state(&s->run->host),
                             wall_ms());
    if (first == NULL && state == s->notified_state &&
        (now < s->next_notify_ns || strcmp(text, s->notified_status) == 0))
        return;
    snprintf(msg, sizeof(msg), "%s%sSTATUS=%s", first ? first : "", first ? "\n" : "", text);
    notify(s, msg);
    memcpy(s->notified_status, text, sizeof(text));
    s->notified_state = state;
    s->next_notify_ns = now + NS_PER_S;
}

/* WATCHDOG=1 every half watchdog period; called only after a tick, so a
 * host thread stuck in (or between) ticks lets systemd's watchdog fire. */
static void notify_watchdog(shim_t *s, uint64_t now)
{
    if (s->notify.fd < 0 || s->notify.watchdog_ns == 0 || now < s->next_watchdog_ns)
        return;
    notify(s, "WATCHDOG=1");
    s->next_watchdog_ns = now + s->notify.watchdog_ns;
}

/* After a tick: fresh stats every STATS_PERIOD_NS when someone looks at
 * them, and the status line, STATUS= and WATCHDOG=1 when they are due. */
static void after_tick(shim_t *s, uint64_t now)
{
    if ((s->metrics != NULL || s->status_line || s->notify.fd >= 0) && now >= s->next_stats_ns) {
        refresh_snapshot(s);
        s->next_stats_ns = now + STATS_PERIOD_NS;
    }
    if (s->status_line && now >= s->next_status_ns) {
        char text[256];
        shim_status_format(text, sizeof(text), &s->snap, shim_host_last_state(&s->run->host),
                           wall_ms());
        log_line_emit(stderr, "STATUS", text);
        s->next_status_ns = now + s->opt.status_every_ns;
    }
    notify_status(s, now, NULL);
    notify_watchdog(s, now);
}

/* ---- Live swap of plugin builds (SIGHUP, README "Live swap") ---- */

/* "name/version" of a build, and its resolved path, copied out of it (the
 * build may be unloaded before the line that names it is written). */
typedef struct build_label {
    char id[600];
    char path[PATH_MAX + 8];
} build_label_t;

static void label_of(const plugin_run_t *r, build_label_t *out)
{
    char raw[sizeof(out->id)];
    snprintf(raw, sizeof(raw), "%s/%s", r->loaded.plugin->name, r->loaded.plugin->version);
    log_line_quote(out->id, sizeof(out->id), raw);
    log_line_quote(out->path, sizeof(out->path), r->file.path);
}

/* ABI 1.2 handover, offered within struct_size at a session minor >= 2. */
static int offers_handover(const plugin_run_t *r)
{
    return host_loader_offers_handover(&r->loaded);
}

/* Why r cannot take part in a handover (offers_handover(r) is 0). */
static void no_handover_reason(const plugin_run_t *r, char *out, size_t size)
{
    const pmd_plugin_t *p = r->loaded.plugin;
    if (r->loaded.session_minor < 2)
        snprintf(out, size, "%s/%s speaks plugin ABI 1.%u (handover needs 1.2)", p->name,
                 p->version, (unsigned)r->loaded.session_minor);
    else
        snprintf(out, size, "%s/%s does not offer on_handover/on_start_handed_over", p->name,
                 p->version);
}

/* The one ERROR line of a swap that did not happen: the old build keeps
 * running untouched. fields: "reason=..." or init_run's fields. */
static void swap_refused(shim_t *s, const char *stage, const char *new_path, const char *fields)
{
    build_label_t old;
    char q[PATH_MAX + 8];
    label_of(s->run, &old);
    EVENT("ERROR", "event=swap_failed stage=%s new_path=%s %s action=kept_old old=%s old_path=%s",
          stage, log_line_quote(q, sizeof(q), new_path), fields, old.id, old.path);
}

static void swap_refused_why(shim_t *s, const char *stage, const char *new_path, const char *why)
{
    char q[2100], fields[2200];
    snprintf(fields, sizeof(fields), "reason=%s", log_line_quote(q, sizeof(q), why));
    swap_refused(s, stage, new_path, fields);
}

/* Makes fresh the running build: the old one's instance (stopped or
 * handed over) is destroyed and its build unloaded; the snapshot names the
 * new build and forgets the old instance's counters. */
static void retire_old(shim_t *s, plugin_run_t *fresh)
{
    plugin_run_t *old = s->run;
    destroy_run(old);
    s->retired_violations += shim_host_violations(&old->host);
    close_run(old);
    s->run = fresh;
    s->last_tick_rc = PMD_OK;
    s->last_stats_rc = PMD_OK;
    snprintf(s->snap.plugin_name, sizeof(s->snap.plugin_name), "%s", fresh->loaded.plugin->name);
    snprintf(s->snap.plugin_version, sizeof(s->snap.plugin_version), "%s",
             fresh->loaded.plugin->version);
    memset(&s->snap.stats, 0, sizeof(s->snap.stats));
    s->snap.stats_available = 0;
    s->snap.node_id[0] = '\0';
    refresh_snapshot(s);
}

/* The new instance did not start after the old one ended: it goes, and a
 * fresh instance of the old build (still loaded) takes the node, handed
 * over again when h is given and the old build offers it. Without any
 * instance left, the shim exits 1 (swap_fatal). */
static void restart_old(shim_t *s, plugin_run_t *fresh, const pmd_handover_t *h, int32_t rc)
{
    plugin_run_t *old = s->run;
    build_label_t o, n;
    char result[128], why[4096];
    label_of(old, &o);
    label_of(fresh, &n);
    EVENT("ERROR",
          "event=swap_failed stage=start result=%s code=%d new=%s new_path=%s "
          "action=restart_old old=%s old_path=%s",
          log_line_quote(result, sizeof(result), fresh->loaded.plugin->result_string(rc)), (int)rc,
          n.id, n.path, o.id, o.path);
    destroy_run(fresh);
    s->retired_violations += shim_host_violations(&fresh->host);
    close_run(fresh);
    destroy_run(old);
    s->retired_violations += shim_host_violations(&old->host);
    if (init_run(s, old, why, sizeof(why)) != PMD_OK) {
        EVENT("ERROR", "event=swap_failed stage=restart_old %s action=exit", why);
        s->swap_fatal = 1;
        return;
    }
    rc = start_run(old, h != NULL && offers_handover(old) ? h : NULL);
    if (rc != PMD_OK) {
        EVENT("ERROR", "event=swap_failed stage=restart_old result=%s code=%d action=exit",
              log_line_quote(result, sizeof(result), old->loaded.plugin->result_string(rc)),
              (int)rc);
        s->swap_fatal = 1;
        return;
    }
    EVENT("WARN", "event=swap_rolled_back running=%s path=%s", o.id, o.path);
    refresh_snapshot(s);
}

/* The old instance ends and the new one (initialised) takes the node:
 * handover when both builds offer it, else on_stop (the node deregisters)
 * and on_start (it registers again). */
static void hand_over(shim_t *s, plugin_run_t *fresh)
{
    plugin_run_t *old = s->run;
    pmd_handover_t h;
    build_label_t o, n;
    char why[600], q[700];
    int handover = offers_handover(old) && offers_handover(fresh);
    int32_t rc;
    memset(&h, 0, sizeof(h));
    h.struct_size = sizeof(h);
    label_of(old, &o);
    label_of(fresh, &n);
    if (handover) {
        shim_host_enter(&old->host, SHIM_CALL_STOP);
        rc = old->loaded.plugin->on_handover(old->instance, &h);
        shim_host_leave(&old->host);
        if (rc != PMD_OK) { /* the ABI: nothing changed, still STARTED */
            snprintf(why, sizeof(why), "on_handover of the old build failed: %s (%d)",
                     old->loaded.plugin->result_string(rc), (int)rc);
            swap_refused_why(s, "handover", fresh->file.path, why);
            destroy_run(fresh);
            close_run(fresh);
            return;
        }
        old->started = 0;
    } else {
        no_handover_reason(offers_handover(old) ? fresh : old, why, sizeof(why));
        EVENT("WARN",
              "event=swap_without_handover reason=%s action=stop_start "
              "detail=\"the node deregisters and registers again\"",
              log_line_quote(q, sizeof(q), why));
        stop_run(old);
    }
    rc = start_run(fresh, handover ? &h : NULL);
    if (rc != PMD_OK) {
        restart_old(s, fresh, handover ? &h : NULL, rc);
        return;
    }
    retire_old(s, fresh);
    EVENT("INFO", "event=plugin_swapped old=%s old_path=%s new=%s new_path=%s mode=%s", o.id,
          o.path, n.id, n.path, handover ? "handover" : "stop_start");
}

/* The --plugin file is another build than the running one: load it, check
 * it, init it with the re-read config; only then end the old instance.
 * Any failure before that leaves the old instance running untouched, with
 * one ERROR line. */
static void swap_to(shim_t *s, shim_plugin_file_t *f)
{
    char err[PATH_MAX + 1024], why[4096], path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", f->path);
    char *config = read_config(s->opt.config_path, err, sizeof(err));
    if (config == NULL) {
        shim_plugin_file_close(f);
        swap_refused_why(s, "config", path, err);
        return;
    }
    plugin_run_t *fresh = open_run(f, err, sizeof(err));
    if (fresh == NULL) {
        free(config);
        swap_refused_why(s, "load", path, err);
        return;
    }
    fresh->config_text = config;
    log_loaded(fresh);
    if (init_run(s, fresh, why, sizeof(why)) != PMD_OK) {
        s->retired_violations += shim_host_violations(&fresh->host);
        close_run(fresh);
        swap_refused(s, "init", path, why);
        return;
    }
    hand_over(s, fresh);
}

/* SIGHUP's part for the plugin: re-resolve --plugin and swap when it names
 * another file (resolved path, device or inode). When it does not, a
 * changed --config is not applied (it would need a restart of the
 * instance): a line says so. */
static void reload_plugin(shim_t *s)
{
    char err[PATH_MAX + 1024];
    shim_plugin_file_t f;
    if (shim_plugin_file_open(s->opt.plugin_path, s->run->file.path, &f, err, sizeof(err)) != 0) {
        swap_refused_why(s, "load", s->opt.plugin_path, err);
        return;
    }
    if (!shim_plugin_file_same(&f, &s->run->file)) {
        swap_to(s, &f);
        return;
    }
    shim_plugin_file_close(&f);
    char *config = read_config(s->opt.config_path, err, sizeof(err));
    if (config == NULL || strcmp(config, s->run->config_text) != 0)
        EVENT("INFO", "event=config_not_applied reason=\"the plugin file did not change; the "
                      "config is applied when another build is swapped in, or at a restart\"");
    free(config);
}

/* What SIGHUP did with one input. */
typedef enum { RELOAD_NOT_GIVEN, RELOAD_DONE, RELOAD_REJECTED } reload_result_t;

static const char *const reload_names[] = {"not_given", "reloaded", "rejected"};

/* Re-reads the --capabilities file, if given, into s->caps (what
 * get_capabilities serves from its next call on); the old set is kept when
 * the file is unreadable or invalid, and why says why. */
static reload_result_t reload_capabilities(shim_t *s, char *why, size_t why_size)
{
    shim_capabilities_t fresh;
    if (s->opt.capabilities_path == NULL)
        return RELOAD_NOT_GIVEN;
    if (shim_capabilities_load(s->opt.capabilities_path, &fresh, why, why_size) != 0)
        return RELOAD_REJECTED;
    shim_capabilities_free(&s->caps);
    s->caps = fresh;
    return RELOAD_DONE;
}

/* Re-reads the --pools file, if given; the last good list is kept when it
 * is unreadable or invalid, and why says why. */
static reload_result_t reload_pools(shim_t *s, char *why, size_t why_size)
{
    if (s->opt.pools_path == NULL)
        return RELOAD_NOT_GIVEN;
    if (shim_pools_file_reload_now(&s->pools_file, why, why_size) > 0)
        return RELOAD_DONE;
    return RELOAD_REJECTED;
}

/* printf at the end of the NUL-terminated text in buf (cut to fit). */
static void append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
}

/*
 * SIGHUP: reload what can be reloaded, now, on the host thread between two
 * ticks (no ABI call is running), and say what in one line:
 * "event=reload signal=SIGHUP pools=reloaded pool_count=3
 * capabilities=not_given" (WARN, with pools_reason= / capabilities_reason=,
 * when a file was rejected and the old data kept): the --pools and
 * --capabilities files. Then the plugin: when --plugin now names another
 * file, that build is swapped in with the re-read --config (reload_plugin).
 * Everything SIGHUP does belongs here.
 */
static void on_sighup(shim_t *s)
{
    char pools_why[1024] = "", caps_why[768] = "", q[1100], line[LOG_LINE_MAX] = "";
    reload_result_t pools = reload_pools(s, pools_why, sizeof(pools_why));
    reload_result_t caps = reload_capabilities(s, caps_why, sizeof(caps_why));
    append(line, sizeof(line), "event=reload signal=SIGHUP pools=%s", reload_names[pools]);
    if (pools == RELOAD_DONE)
        append(line, sizeof(line), " pool_count=%zu", s->pools_file.list.count);
    append(line, sizeof(line), " capabilities=%s", reload_names[caps]);
    if (caps == RELOAD_DONE)
        append(line, sizeof(line), " gpu_count=%zu", s->caps.gpu_count);
    if (pools == RELOAD_REJECTED)
        append(line, sizeof(line), " pools_reason=%s", log_line_quote(q, sizeof(q), pools_why));
    if (caps == RELOAD_REJECTED)
        append(line, sizeof(line), " capabilities_reason=%s",
               log_line_quote(q, sizeof(q), caps_why));
    EVENT(pools == RELOAD_REJECTED || caps == RELOAD_REJECTED ? "WARN" : "INFO", "%s", line);
    reload_plugin(s);
}

/* Ticks at t0 + k * period (missed slots are skipped, not bunched) until a
 * signal or the --run-for deadline. */
static void run_loop(shim_t *s)
{
    const uint64_t period = s->opt.tick_ns;
    const uint64_t t0 = monotonic_ns();
    const uint64_t deadline = s->opt.run_for_ns == UINT64_MAX ? UINT64_MAX : t0 + s->opt.run_for_ns;
    uint64_t next = t0 + period;
    if (period < 10 * NS_PER_MS || period > 1000 * NS_PER_MS)
        EVENT("WARN",
              "event=config_warning reason=\"--tick-ms %llu is outside the 10..1000 ms "
              "that the ABI promises plugins\"",
              (unsigned long long)(period / NS_PER_MS));
    if (s->notify.fd >= 0 && s->notify.watchdog_ns != 0 && period > s->notify.watchdog_ns)
        EVENT("WARN",
              "event=config_warning reason=\"--tick-ms %llu is longer than half the "
              "systemd watchdog timeout: the watchdog will fire\"",
              (unsigned long long)(period / NS_PER_MS));
    s->next_status_ns = t0 + s->opt.status_every_ns;
    while (!shim_signals_stop_requested()) {
        sleep_until(next < deadline ? next : deadline);
        uint64_t now = monotonic_ns();
        if (shim_signals_stop_requested() || now >= deadline)
            break;
        if (shim_signals_take_reload()) {
            on_sighup(s);
            if (s->swap_fatal)
                break;
        }
        if (now < next)
            continue;
        poll_pools(s, now);
        tick_once(s);
        now = monotonic_ns();
        after_tick(s, now);
        next = t0 + ((now - t0) / period + 1) * period;
    }
    int sig = shim_signals_stop_requested();
    const char *why = sig != 0 ? shim_signal_name(sig) : s->swap_fatal ? "swap_failed" : "run_for";
    char msg[96];
    EVENT("INFO", "event=stopping reason=%s", why);
    snprintf(msg, sizeof(msg), "STOPPING=1\nSTATUS=stopping (%s)", why);
    notify(s, msg);
}

/* stop() then destroy(); a failed stop is logged and teardown goes on.
 * Stats are read once more between the two, so the last scrape shows the
 * deregistration. Returns 0, or EXIT_FAILURE when stop failed. */
static int stop_and_destroy(shim_t *s)
{
    int32_t rc = PMD_OK;
    if (s->run->started) {
        rc = stop_run(s->run);
        refresh_snapshot(s);
    }
    destroy_run(s->run);
    return rc == PMD_OK ? 0 : EXIT_FAILURE;
}

/* The --metrics-listen endpoint, serving the snapshot taken after init. */
static int start_metrics(shim_t *s)
{
    char err[256], where[64];
    if (!s->opt.metrics)
        return 0;
    s->metrics = shim_metrics_server_start(&s->opt.metrics_at, &s->snap, err, sizeof(err));
    if (s->metrics == NULL)
        return start_failed("metrics", err);
    unsigned port = shim_metrics_server_port(s->metrics);
    if (s->opt.metrics_port_file != NULL &&
        shim_write_port_file(s->opt.metrics_port_file, (uint16_t)port) != 0) {
        snprintf(err, sizeof(err), "cannot write --metrics-port-file %.128s: %s",
                 s->opt.metrics_port_file, strerror(errno));
        return start_failed("metrics", err);
    }
    EVENT("INFO", "event=metrics_listening address=%s path=/metrics",
          shim_listen_format(&s->opt.metrics_at, (uint16_t)port, where, sizeof(where)));
    return 0;
}

static int run_plugin(shim_t *s)
{
    int rc = init_instance(s);
    if (rc != 0)
        return rc;
    read_stats(s); /* the node id for state lines, and the first snapshot */
    s->status_line = s->opt.status_every_ns != 0 && isatty(STDERR_FILENO);
    if (start_metrics(s) != 0 || start_instance(s) != 0) {
        stop_and_destroy(s);
        return EXIT_FAILURE;
    }
    refresh_snapshot(s);
    s->next_watchdog_ns = monotonic_ns() + s->notify.watchdog_ns;
    notify_status(s, monotonic_ns(), "READY=1");
    run_loop(s);
    rc = stop_and_destroy(s);
    if (s->swap_fatal)
        rc = EXIT_FAILURE;
    unsigned violations = s->retired_violations + shim_host_violations(&s->run->host);
    if (violations != 0) {
        EVENT("ERROR",
              "event=abi_violations count=%u reason=\"the plugin broke the "
              "host-callback rules\"",
              violations);
        rc = EXIT_FAILURE;
    }
    return rc;
}

/* systemd's notify socket, when NOTIFY_SOCKET names one; an unusable one
 * is a start failure (the service would never become ready). */
static int open_notify(shim_t *s)
{
    char err[256], name[sizeof(s->notify.addr.sun_path) + 1], q[300];
    int rc = shim_notify_open(&s->notify, err, sizeof(err));
    s->notified_state = -2; /* no STATUS= sent yet */
    if (rc < 0)
        return start_failed("systemd", err);
    if (rc == 0)
        return 0;
    const char *path = s->notify.addr.sun_path;
    int len = (int)(s->notify.addr_len - offsetof(struct sockaddr_un, sun_path));
    if (path[0] != '\0')
        snprintf(name, sizeof(name), "%s", path);
    else
        snprintf(name, sizeof(name), "@%.*s", len - 1, path + 1);
    EVENT("INFO", "event=systemd_notify socket=%s watchdog_ms=%llu",
          log_line_quote(q, sizeof(q), name),
          (unsigned long long)(s->notify.watchdog_ns * 2 / NS_PER_MS));
    return 0;
}

static void release(shim_t *s)
{
    shim_notify_close(&s->notify);
    shim_metrics_server_stop(s->metrics);
    s->metrics = NULL;
    close_run(s->run);
    s->run = NULL;
    if (s->opt.pools_path != NULL)
        shim_pools_file_close(&s->pools_file);
    shim_capabilities_free(&s->caps);
}

int main(int argc, char **argv)
{
    static shim_t s; /* large (snapshots): not on the stack */
    /* Before anything opens a file or writes: no SIGPIPE, and descriptors
     * 0-2 held even when closed (signals.h). Failing that, go on as before. */
    (void)shim_signals_early_setup();
    int rc = parse_args(argc, argv, &s.opt);
    if (rc != 0)
        return rc < 0 ? EXIT_SUCCESS : rc;
    log_line_set_max_level(s.opt.log_level);
    log_line_set_journal(log_line_is_journal(getenv("JOURNAL_STREAM"), STDERR_FILENO));
    if (s.opt.discover_only)
        return discover_and_print();
    if (shim_signals_install() != 0)
        return start_failed("signals", strerror(errno));
    if (open_notify(&s) != 0)
        return EXIT_FAILURE;
    char *config_text = NULL;
    rc = read_inputs(&s, &config_text);
    if (rc == 0)
        rc = load_plugin(&s, config_text); /* takes config_text */
    else
        free(config_text);
    if (rc == 0)
        rc = run_plugin(&s);
    release(&s);
    return rc;
}
