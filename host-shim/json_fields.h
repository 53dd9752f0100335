/*
 * json_fields.h - strict reading of the small JSON files the shim takes
 * (pools, capabilities): one parse that rejects trailing text and
 * out-of-range integers, and typed field readers that write one line naming
 * the field when a value is wrong. Shared by pools_file.c and capabilities.c.
 */
#ifndef SHIM_JSON_FIELDS_H
#define SHIM_JSON_FIELDS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* Parses text as exactly one JSON value (strict mode: integers out of the
 * 64-bit range are errors). NULL with a reason in err on failure, starting
 * with where: "LINE:COLUMN: JSON syntax error: ..." (callers put the file
 * name in front, as compilers do: "pools.json:3:14: ..."). */
json_object *shim_json_parse(const char *text, char *err, size_t err_size);

/* 1-based line and column (in UTF-8 characters; a tab is one) of the byte
 * text[offset]. */
void shim_text_position(const char *text, size_t offset, unsigned long *line,
                        unsigned long *column);

/* Readers: return 0 and store the value, or -1 with "<where>: <field> ..."
 * in err. where names the record ("pools.json: pool 2"). */
int shim_json_uint(json_object *v, uint64_t max, const char *where, const char *field,
                   uint64_t *out, char *err, size_t err_size);
int shim_json_bool(json_object *v, const char *where, const char *field, uint8_t *out, char *err,
                   size_t err_size);
/* A string without NUL bytes; *out is a strdup()ed copy (caller frees). */
int shim_json_string(json_object *v, int allow_empty, const char *where, const char *field,
                     char **out, char *err, size_t err_size);

/* Reads a whole file (up to max_bytes, no NUL bytes) into a malloc()ed
 * NUL-terminated string. NULL with a reason in err on failure. */
char *shim_read_text_file(const char *path, size_t max_bytes, char *err, size_t err_size);

#endif /* SHIM_JSON_FIELDS_H */
