/*
 * bench_table.c - rows and the printed table (see bench_table.h).
 */
#include "bench_table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BT_MAX_ROWS 128
#define BT_CELLS 7

static char *rows[BT_MAX_ROWS][BT_CELLS];
static enum bt_verdict verdicts[BT_MAX_ROWS];
static int nrows;

static char *dup_cell(const char *s)
{
    return strdup(s && s[0] ? s : "-");
}

void bt_row(const char *section, const char *what, const char *median, const char *p99,
            const char *other, const char *target, enum bt_verdict verdict)
{
    if (nrows == BT_MAX_ROWS)
        return;
    const char *cells[BT_CELLS] = {section, what, median, p99, other, target, ""};
    for (int i = 0; i < BT_CELLS; i++)
        rows[nrows][i] = dup_cell(cells[i]);
    verdicts[nrows++] = verdict;
}

void bt_failed(const char *section, const char *what, const char *why)
{
    bt_row(section, what, "-", "-", why, "-", BT_FAILED);
}

const char *bt_fmt(const char *fmt, ...)
{
    static char bufs[32][160];
    static int next;
    char *b = bufs[next++ % 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof(bufs[0]), fmt, ap);
    va_end(ap);
    return b;
}

static void cpu_model(char *out, size_t size)
{
    char line[256];
    snprintf(out, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(out, size, "%s", colon + 2);
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    }
    if (f)
        fclose(f);
}

void bt_print(FILE *out, const char *title)
{
    static const char *const verdict_names[] = {"", "yes", "**NO**", "**FAILED**"};
    char model[128], date[64];
    time_t now = time(NULL);
    cpu_model(model, sizeof(model));
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
    fprintf(out, "%s\n\nMachine: %ld cores (nproc), CPU \"%s\", %s. Loopback, orchd-dev.\n\n",
            title, sysconf(_SC_NPROCESSORS_ONLN), model, date);
    fprintf(out, "| section | measurement | median / p50 | p99 | other | target | met |\n");
    fprintf(out, "|---|---|---|---|---|---|---|\n");
    for (int r = 0; r < nrows; r++) {
        for (int i = 0; i < BT_CELLS - 1; i++)
            fprintf(out, "| %s ", rows[r][i]);
        fprintf(out, "| %s |\n", verdict_names[verdicts[r]]);
    }
    fflush(out);
}
