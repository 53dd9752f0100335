/* options.c - pmd-fleet's command line and --help. */
#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: pmd-fleet --plugin SO --config TEMPLATE --nodes N [options]\n"
    "\n"
    "Loads the plugin once and runs N hollow nodes of it in this process, each\n"
    "with its own node id (PREFIX + index) and synthetic pools, against the\n"
    "control plane named in TEMPLATE (the plugin's JSON config; node_id is set\n"
    "per node). Reports what the control plane experienced, live and at the end.\n"
    "\n"
    "  --plugin SO           the plugin (.so) to load\n"
    "  --config TEMPLATE     a JSON config file for the plugin\n"
    "  --nodes N             instances to run (1..100000)\n"
    "  --run-for S           seconds to run before stopping them all (default 30)\n"
    "  --boot MODE           together (default): all started at once;\n"
    "                        staggered: started evenly over one heartbeat interval\n"
    "  --url URL             use this control plane instead of the template's\n"
    "  --prefix P            node id prefix (default \"fleet-\")\n"
    "  --tick-ms MS          host tick period per instance (default 100)\n"
    "  --sample-ms MS        client-side stats sampling period (default 250)\n"
    "  --report-every S      live report period, 0 = none (default 5)\n"
    "  --restart-at S        orchd-dev: forget every node at S seconds (POST /_dev/restart)\n"
    "  --outage-at S         orchd-dev: drop every request from S seconds ...\n"
    "  --outage-for S        ... for S seconds (default 30), then forget every node\n"
    "  --journal MODE        auto (default: on when the URL is orchd-dev), on, off:\n"
    "                        read orchd-dev's /_dev/requests from a separate process\n"
    "  --check-spread X      exit 1 when the fullest 100 ms bin of steady traffic\n"
    "                        (after the first interval) exceeds X times the mean\n"
    "  --check-registered    exit 1 unless every running node (init and start\n"
    "                        succeeded) is registered at the end\n"
    "  --verbose             print the plugin's WARN and ERROR log lines\n"
    "  --help                this text\n"
    "\n"
    "Exit: 0 done (checks passed), 1 a check failed or the run could not start,\n"
    "2 bad arguments.\n";

enum {
    O_PLUGIN = 256,
    O_CONFIG,
    O_NODES,
    O_RUN_FOR,
    O_BOOT,
    O_URL,
    O_PREFIX,
    O_TICK,
    O_SAMPLE,
    O_REPORT,
    O_RESTART_AT,
    O_OUTAGE_AT,
    O_OUTAGE_FOR,
    O_JOURNAL,
    O_CHECK_SPREAD,
    O_CHECK_REGISTERED,
    O_VERBOSE,
    O_HELP
};

static const struct option longopts[] = {
    {"plugin", required_argument, NULL, O_PLUGIN},
    {"config", required_argument, NULL, O_CONFIG},
    {"nodes", required_argument, NULL, O_NODES},
    {"run-for", required_argument, NULL, O_RUN_FOR},
    {"boot", required_argument, NULL, O_BOOT},
    {"url", required_argument, NULL, O_URL},
    {"prefix", required_argument, NULL, O_PREFIX},
    {"tick-ms", required_argument, NULL, O_TICK},
    {"sample-ms", required_argument, NULL, O_SAMPLE},
    {"report-every", required_argument, NULL, O_REPORT},
    {"restart-at", required_argument, NULL, O_RESTART_AT},
    {"outage-at", required_argument, NULL, O_OUTAGE_AT},
    {"outage-for", required_argument, NULL, O_OUTAGE_FOR},
    {"journal", required_argument, NULL, O_JOURNAL},
    {"check-spread", required_argument, NULL, O_CHECK_SPREAD},
    {"check-registered", no_argument, NULL, O_CHECK_REGISTERED},
    {"verbose", no_argument, NULL, O_VERBOSE},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0}};

static int number(const char *name, const char *arg, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end != '\0' || !(v >= lo && v <= hi)) {
        fprintf(stderr, "pmd-fleet: --%s: expected a number in %g..%g, got \"%s\"\n", name, lo, hi,
                arg);
        return -1;
    }
    *out = v;
    return 0;
}

static int choice(const char *name, const char *arg, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(arg, names[i]) == 0)
            return i;
    fprintf(stderr, "pmd-fleet: --%s: unknown value \"%s\"\n", name, arg);
    return -1;
}

static int set_number(pf_options_t *o, int opt, const char *arg)
{
    double v = 0;
    switch (opt) {
    case O_NODES:
        if (number("nodes", arg, 1, 100000, &v))
            return -1;
        o->nodes = (uint32_t)v;
        break;
    case O_RUN_FOR: return number("run-for", arg, 0, 86400, &o->run_for_s);
    case O_TICK:
        if (number("tick-ms", arg, 10, 1000, &v))
            return -1;
        o->tick_ms = (uint32_t)v;
        break;
    case O_SAMPLE:
        if (number("sample-ms", arg, 10, 10000, &v))
            return -1;
        o->sample_ms = (uint32_t)v;
        break;
    case O_REPORT: return number("report-every", arg, 0, 86400, &o->report_every_s);
    case O_RESTART_AT: return number("restart-at", arg, 0, 86400, &o->restart_at_s);
    case O_OUTAGE_AT: return number("outage-at", arg, 0, 86400, &o->outage_at_s);
    case O_OUTAGE_FOR: return number("outage-for", arg, 0, 86400, &o->outage_for_s);
    default: return number("check-spread", arg, 0, 1e9, &o->check_spread);
    }
    return 0;
}

static int set_option(pf_options_t *o, int opt, const char *arg)
{
    static const char *const boots[] = {"together", "staggered"};
    static const char *const journals[] = {"auto", "on", "off"};
    int i;
    switch (opt) {
    case O_PLUGIN: o->plugin = arg; return 0;
    case O_CONFIG: o->config = arg; return 0;
    case O_URL: o->url = arg; return 0;
    case O_PREFIX: o->prefix = arg; return 0;
    case O_CHECK_REGISTERED: o->check_registered = 1; return 0;
    case O_VERBOSE: o->verbose = 1; return 0;
    case O_BOOT:
        if ((i = choice("boot", arg, boots, 2)) < 0)
            return -1;
        o->boot = (pf_boot_t)i;
        return 0;
    case O_JOURNAL:
        if ((i = choice("journal", arg, journals, 3)) < 0)
            return -1;
        o->journal = (pf_journal_t)i;
        return 0;
    default: return set_number(o, opt, arg);
    }
}

int pf_options_parse(int argc, char **argv, pf_options_t *o)
{
    *o = (pf_options_t){.prefix = "fleet-",
                        .run_for_s = 30,
                        .tick_ms = 100,
                        .sample_ms = 250,
                        .report_every_s = 5,
                        .restart_at_s = -1,
                        .outage_at_s = -1,
                        .outage_for_s = 30};
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == O_HELP) {
            fputs(usage, stdout);
            return 1;
        }
        if (opt == '?' || opt == ':') {
            fprintf(stderr, "pmd-fleet: bad option %s (see --help)\n", argv[optind - 1]);
            return 2;
        }
        if (set_option(o, opt, optarg) != 0)
            return 2;
    }
    if (optind < argc || !o->plugin || !o->config || o->nodes == 0) {
        fprintf(stderr, "pmd-fleet: --plugin, --config and --nodes are required (see --help)\n");
        return 2;
    }
    if (strlen(o->prefix) > 180) {
        fprintf(stderr, "pmd-fleet: --prefix: at most 180 bytes\n");
        return 2;
    }
    return 0;
}
