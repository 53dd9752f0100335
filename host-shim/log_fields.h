/*
 * log_fields.h - pmd.host.ext.log_fields/1 as pmd-host-shim writes it: an
 * event given as fields becomes the same text line the plugin would have
 * logged without the extension (include/pmd_plugin.h, "The text line of an
 * event"):
 *     [node=<value> ]event=<event>[ <key>=<value>]...
 * with node= first when it is the first field, values through
 * log_line_quote (double quotes when needed, '"' and '\' escaped). Pure.
 */
#ifndef SHIM_LOG_FIELDS_H
#define SHIM_LOG_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "pmd_plugin.h"

/*
 * Writes the event's text line into out (NUL-terminated, cut to fit).
 * Untrusted input: a NULL event reads as "(null)", a NULL fields array as
 * no fields; a field with a NULL key is skipped, a NULL value reads as "";
 * a key byte outside [a-z0-9_] (or an "event" key, which would forge the
 * event) is written as '_' so a key can never split or forge a pair; at
 * most PMD_LOG_FIELDS_MAX fields are written. Control characters are left
 * for log_line_sanitize. Returns the length written.
 */
size_t shim_log_fields_format(char *out, size_t out_size, const char *event,
                              const pmd_log_field_t *fields, uint32_t count);

#endif /* SHIM_LOG_FIELDS_H */
