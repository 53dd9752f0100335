/* main.c - orchd-dev's command line: parse options, start the server,
 * publish the port, wait for SIGINT/SIGTERM, stop cleanly (exit 0).
 *
 * orchd-dev is a development stand-in for orchestratord's node API (the
 * wire protocol the repository documents under docs/) with strict request
 * typing, a request log and fault injection under /_dev/ for tests. */
#include "config.h"
#include "server.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PMD_VERSION
#define PMD_VERSION "0.0.0"
#endif

static const char USAGE[] =
    "usage: orchd-dev [OPTION...]\n"
    "       orchd-dev -h | --help | --version\n"
    "\n"
    "A development control plane: orchestratord's node API (/v2/nodes...) with\n"
    "strict request typing, a request log and fault injection under /_dev/.\n"
    "\n"
    "  --bind ADDR               numeric IPv4/IPv6 address (default 127.0.0.1)\n"
    "  --port N                  TCP port; 0 = any free port (default 0)\n"
    "  --port-file PATH          write the port there once listening (atomic rename)\n"
    "  --token T                 require 'Authorization: Bearer T' on /v2/nodes*\n"
    "                            (visible in ps: prefer --token-file or LLORCH_API_TOKEN)\n"
    "  --token-file F            the token is F's content, re-read when F changes\n"
    "  --offline-timeout-ms N    Offline after N ms without heartbeat (default 30000)\n"
    "  --next-heartbeat-ms N     next_heartbeat_ms in heartbeat answers (default 10000)\n"
    "  --strict-unknown          unknown JSON fields are 422 (default: ignored)\n"
    "  --tls-cert PEM --tls-key PEM   serve HTTPS\n"
    "  --tls-client-ca PEM       require a client certificate signed by this CA (403 otherwise)\n"
    "  --quiet                   no per-request log lines on stderr\n"
    "  -h, --help                print this help and exit\n"
    "  --version                 print the version and exit\n"
    "\n"
    "Environment: LLORCH_API_TOKEN = token when neither --token nor --token-file is given.\n"
    "Exit status: 0 stopped by SIGINT/SIGTERM (or --help, --version); 1 could not\n"
    "start (address in use, TLS files, --port-file); 2 usage error.\n";

enum {
    OPT_BIND = 256,
    OPT_PORT,
    OPT_PORT_FILE,
    OPT_TOKEN,
    OPT_TOKEN_FILE,
    OPT_OFFLINE,
    OPT_NEXT_HB,
    OPT_STRICT,
    OPT_CERT,
    OPT_KEY,
    OPT_CA,
    OPT_QUIET,
    OPT_HELP,
    OPT_VERSION
};

static const struct option OPTIONS[] = {
    {"bind", required_argument, NULL, OPT_BIND},
    {"port", required_argument, NULL, OPT_PORT},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"offline-timeout-ms", required_argument, NULL, OPT_OFFLINE},
    {"next-heartbeat-ms", required_argument, NULL, OPT_NEXT_HB},
    {"strict-unknown", no_argument, NULL, OPT_STRICT},
    {"tls-cert", required_argument, NULL, OPT_CERT},
    {"tls-key", required_argument, NULL, OPT_KEY},
    {"tls-client-ca", required_argument, NULL, OPT_CA},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* A whole decimal number in [0, max], or -1. */
static int parse_number(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -1;
    *out = strtoull(s, &end, 10);
    return errno || *end || *out > max ? -1 : 0;
}

static int number_option(const char *name, const char *arg, unsigned long long max,
                         unsigned long long *out)
{
    if (parse_number(arg, max, out) == 0)
        return 0;
    fprintf(stderr, "orchd-dev: --%s wants a number in [0, %llu], got '%s'\n", name, max, arg);
    return -1;
}

/* Apply one option. Returns 0, 1 (--help), 2 (--version) or -1 (error). */
static int apply(od_config_t *cfg, int opt, const char *arg)
{
    unsigned long long n;
    switch (opt) {
    case OPT_BIND: cfg->bind = arg; return 0;
    case OPT_PORT_FILE: cfg->port_file = arg; return 0;
    case OPT_TOKEN: cfg->token = arg; return 0;
    case OPT_TOKEN_FILE: cfg->token_file = arg; return 0;
    case OPT_STRICT: cfg->strict_unknown = 1; return 0;
    case OPT_CERT: cfg->tls_cert = arg; return 0;
    case OPT_KEY: cfg->tls_key = arg; return 0;
    case OPT_CA: cfg->tls_client_ca = arg; return 0;
    case OPT_QUIET: cfg->quiet = 1; return 0;
    case 'h':
    case OPT_HELP: return 1;
    case OPT_VERSION: return 2;
    case OPT_PORT:
        if (number_option("port", arg, 65535, &n) != 0)
            return -1;
        cfg->port = (uint16_t)n;
        return 0;
    case OPT_OFFLINE:
    case OPT_NEXT_HB:
        if (number_option(opt == OPT_OFFLINE ? "offline-timeout-ms" : "next-heartbeat-ms", arg,
                          UINT32_MAX, &n) != 0)
            return -1;
        *(opt == OPT_OFFLINE ? &cfg->offline_timeout_ms : &cfg->next_heartbeat_ms) = n;
        return 0;
    default: return -1;
    }
}

static int parse_args(int argc, char **argv, od_config_t *cfg)
{
    int opt, r;
    const char *env = getenv("LLORCH_API_TOKEN");
    *cfg =
        (od_config_t){.bind = "127.0.0.1", .offline_timeout_ms = 30000, .next_heartbeat_ms = 10000};
    while ((opt = getopt_long(argc, argv, "h", OPTIONS, NULL)) != -1)
        if ((r = apply(cfg, opt, optarg)) != 0)
            return r;
    if (optind < argc) {
        fprintf(stderr, "orchd-dev: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (cfg->token && cfg->token_file) {
        fprintf(stderr, "orchd-dev: give --token or --token-file, not both\n");
        return -1;
    }
    if (!cfg->token && !cfg->token_file && env && *env)
        cfg->token = env;
    if (cfg->token && !*cfg->token) {
        fprintf(stderr, "orchd-dev: the token must not be empty\n");
        return -1;
    }
    return 0;
}

/* Write "PORT\n" to a temp file and rename it over PATH, so a reader never
 * sees a half-written port. */
static int write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    FILE *f;
    int ok;
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    if (!(f = fopen(tmp, "w")))
        return -1;
    ok = fprintf(f, "%u\n", port) > 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    od_config_t cfg;
    od_server_t *server;
    sigset_t stop_signals;
    char err[512];
    int sig = 0, r = parse_args(argc, argv, &cfg);
    if (r == 2) {
        printf("orchd-dev %s\n", PMD_VERSION);
        return 0;
    }
    if (r != 0) {
        fputs(r > 0 ? USAGE : "orchd-dev: see --help\n", r > 0 ? stdout : stderr);
        return r > 0 ? 0 : 2;
    }
    /* Block before MHD starts its threads so they inherit the mask and the
     * signals reach sigwait() below. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!(server = od_server_start(&cfg, err, sizeof err))) {
        fprintf(stderr, "orchd-dev: %s\n", err);
        return 1;
    }
    if (cfg.port_file && write_port_file(cfg.port_file, od_server_port(server)) != 0) {
        fprintf(stderr, "orchd-dev: cannot write --port-file %s: %s\n", cfg.port_file,
                strerror(errno));
        od_server_stop(server);
        return 1;
    }
    fprintf(stderr, "orchd-dev: listening on %s://%s:%u (auth %s)\n",
            cfg.tls_cert ? "https" : "http", cfg.bind, od_server_port(server),
            cfg.token || cfg.token_file ? "on" : "off");
    sigwait(&stop_signals, &sig);
    fprintf(stderr, "orchd-dev: signal %d, stopping\n", sig);
    od_server_stop(server);
    return 0;
}
