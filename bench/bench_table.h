/*
 * bench_table.h - the one table pmd-bench prints: a row per measurement,
 * collected by the sections as they run, printed at the end (markdown) with
 * the machine's core count, CPU model and the date.
 */
#ifndef PMD_BENCH_TABLE_H
#define PMD_BENCH_TABLE_H

#include <stdio.h>

enum bt_verdict { BT_INFO, BT_MET, BT_MISSED, BT_FAILED };

/* Adds a row; every string is copied. NULL or "" prints as "-". */
void bt_row(const char *section, const char *what, const char *median, const char *p99,
            const char *other, const char *target, enum bt_verdict verdict);
/* A row saying a measurement could not be made, and why. */
void bt_failed(const char *section, const char *what, const char *why);

/* snprintf into a rotating set of static buffers, for row cells. */
const char *bt_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void bt_print(FILE *out, const char *title);

#endif
