/*
 * report.c - printing results: one line per check plus a summary, or one
 * JSON document (written by hand: the checker links no JSON library, so a
 * plugin's own json-c is loaded and unloaded exactly as in a real host).
 */
#include "report.h"

#include <math.h>
#include <stdio.h>

static const char *verdict_word(int v)
{
    return v == AC_PASS ? "PASS" : v == AC_FAIL ? "FAIL" : "SKIP";
}

void report_text_line(const ac_check_t *c, const ac_result_t *r)
{
    printf("%s  %s  [rule %s]  %s\n", verdict_word(r->verdict), c->name, c->rule, r->reason);
    fflush(stdout);
}

void report_text_summary(int passed, int failed, int skipped)
{
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
}

static void json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

void report_json(const char *plugin, const ac_check_t *const *checks, const ac_result_t *results,
                 size_t n, int passed, int failed, int skipped)
{
    printf("{\n  \"plugin\": ");
    json_string(plugin);
    printf(",\n  \"checks\": [");
    for (size_t i = 0; i < n; i++) {
        const ac_result_t *r = &results[i];
        printf("%s\n    {\"name\": ", i ? "," : "");
        json_string(checks[i]->name);
        printf(", \"rule\": ");
        json_string(checks[i]->rule);
        printf(", \"result\": \"%s\", \"reason\": ", verdict_word(r->verdict));
        json_string(r->reason);
        printf(", \"figures\": {");
        for (int f = 0; f < r->nfig; f++) {
            printf("%s", f ? ", " : "");
            json_string(r->fig[f].name);
            double v = r->fig[f].value;
            if (isfinite(v))
                printf(": {\"value\": %.6g, \"unit\": ", v);
            else
                printf(": {\"value\": null, \"unit\": ");
            json_string(r->fig[f].unit);
            putchar('}');
        }
        printf("}}");
    }
    printf("\n  ],\n  \"summary\": {\"passed\": %d, \"failed\": %d, \"skipped\": %d}\n}\n", passed,
           failed, skipped);
    fflush(stdout);
}
