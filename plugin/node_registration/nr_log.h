/*
 * nr_log.h - one log event of node_registration as data: a level, an event
 * name and key/value fields, with the node id added at delivery. The one
 * source of truth for both ways an event reaches the host:
 *   - as fields through pmd.host.ext.log_fields/1 (nr_log_fields), values
 *     raw;
 *   - as the text line through pmd_host_t.log (nr_log_format_text):
 *     "node=<id> event=<name> key=value ...", prose values (keys "reason"
 *     and "note") always in double quotes with '"' and '\' escaped, other
 *     values as they are (the bytes every log line has had so far).
 * Pure: no allocation, no locks; a record is a plain value that can be
 * copied through the worker's event queue. Never put a secret in a field.
 */
#ifndef NR_LOG_H
#define NR_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "pmd_plugin.h"

#define NR_LOG_FIELDS 10 /* fields per event, the node not counted */
#define NR_LOG_EVENT 40  /* event name, NUL included */
#define NR_LOG_BUF 400   /* all keys and values, NULs included */
#define NR_LOG_LINE 1024 /* a text line always fits in this (node id 255 + record) */

typedef struct nr_log_record {
    int32_t level;  /* pmd_log_level */
    uint16_t count; /* fields used */
    uint16_t used;  /* bytes of buf used */
    uint16_t key_at[NR_LOG_FIELDS];
    uint16_t value_at[NR_LOG_FIELDS];
    uint8_t truncated; /* a field was cut or dropped for room */
    char event[NR_LOG_EVENT];
    char buf[NR_LOG_BUF];
} nr_log_record_t;

/* Starts a record: level, event name (cut to fit). */
void nr_log_begin(nr_log_record_t *r, int32_t level, const char *event);

/* Appends key=value; value NULL reads as "". A value that does not fit is
 * cut (on a UTF-8 boundary); a field with no room at all is dropped. */
void nr_log_add(nr_log_record_t *r, const char *key, const char *value);
void nr_log_addf(nr_log_record_t *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 1 when the text line quotes this key's value always ("reason", "note"). */
int nr_log_key_is_prose(const char *key);

/* The text line, NUL-terminated, cut to size. node may be NULL ("?").
 * Returns the length written. */
size_t nr_log_format_text(const nr_log_record_t *r, const char *node, char *out, size_t size);

/* The fields for log_fields: node first (when node is not NULL), then the
 * record's fields in order; pointers into r and node, valid while they
 * are. out needs NR_LOG_FIELDS + 1 entries. Returns the count. */
uint32_t nr_log_fields(const nr_log_record_t *r, const char *node, pmd_log_field_t *out);

/* Field i's key / value (i < r->count). */
const char *nr_log_key(const nr_log_record_t *r, uint32_t i);
const char *nr_log_value(const nr_log_record_t *r, uint32_t i);

#endif /* NR_LOG_H */
