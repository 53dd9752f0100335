/*
 * nr_retry_after.h - the value of a Retry-After header, parsed (pure).
 * The transport reads the raw header and hands it here; the state machine
 * gets milliseconds that never wrap: a value too large to represent means
 * "very long" and is capped like any other long wait.
 */
#ifndef NR_RETRY_AFTER_H
#define NR_RETRY_AFTER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A server-requested wait is honoured up to an hour (a node that waited
 * longer would be offline for no reason the operator could see).
 * nr_transport.h defines the same value; the guard lets both coexist. */
#ifndef NR_MAX_RETRY_AFTER_S
#define NR_MAX_RETRY_AFTER_S 3600
#endif

/* Parses one Retry-After value (RFC 9110 10.2.3).
 *   value       the header's value, NUL-terminated; NULL reads as absent.
 *               delta-seconds: digits only, optional spaces/tabs around;
 *               any number of digits, saturating (never wraps, never 0
 *               because of overflow).
 *               HTTP-date: starts with a day name, parsed by curl_getdate();
 *               the wait is the date minus now_unix_s, 0 for a past date.
 *   now_unix_s  the wall clock, seconds since the epoch (only for dates).
 *   out_ms      set only on success: the wait in ms, at most
 *               NR_MAX_RETRY_AFTER_S * 1000.
 * Returns 1 when value is a valid Retry-After, else 0 (out_ms untouched).
 * Any thread; no allocation; no clock read. */
int nr_retry_after_parse(const char *value, int64_t now_unix_s, uint64_t *out_ms);

#ifdef __cplusplus
}
#endif

#endif /* NR_RETRY_AFTER_H */
