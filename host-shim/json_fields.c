/*
 * json_fields.c - strict JSON parsing and typed field readers for the
 * shim's input files (see json_fields.h).
 */
#include "json_fields.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when the integer literal s[0..len) (digits, optional leading '-') is
 * outside int64 (negative) or uint64 (positive). */
static int integer_out_of_range(const char *s, size_t len)
{
    int negative = s[0] == '-';
    const char *limit = negative ? "9223372036854775808" : "18446744073709551615";
    s += negative;
    len -= (size_t)negative;
    while (len > 1 && s[0] == '0') {
        s++;
        len--;
    }
    size_t limit_len = strlen(limit);
    return len > limit_len || (len == limit_len && memcmp(s, limit, len) > 0);
}

/* json-c 0.16 clamps integer literals that overflow 64 bits instead of
 * failing, even in strict mode; so find them in the text first. Returns
 * the byte offset of the first one, or -1. */
static long find_out_of_range_integer(const char *text)
{
    for (size_t i = 0; text[i] != '\0';) {
        if (text[i] == '"') {
            for (i++; text[i] != '\0' && text[i] != '"'; i++)
                if (text[i] == '\\' && text[i + 1] != '\0')
                    i++;
            i += text[i] == '"';
        } else if (text[i] == '-' || (text[i] >= '0' && text[i] <= '9')) {
            size_t len = strspn(text + i, "-+0123456789.eE");
            size_t digits = strspn(text + i + 1, "0123456789") + 1;
            if (digits == len && integer_out_of_range(text + i, len))
                return (long)i;
            i += len;
        } else {
            i++;
        }
    }
    return -1;
}

/* The object key just before text[at] ("key": <value at>), or "" when the
 * value is not an object member. Writes at most key_size - 1 bytes. */
static void key_before(const char *text, size_t at, char *key, size_t key_size)
{
    size_t i = at, end;
    key[0] = '\0';
    while (i > 0 && strchr(" \t\r\n", text[i - 1]) != NULL)
        i--;
    if (i == 0 || text[i - 1] != ':')
        return;
    for (i--; i > 0 && strchr(" \t\r\n", text[i - 1]) != NULL; i--)
        ;
    if (i == 0 || text[i - 1] != '"')
        return;
    end = --i;
    while (i > 0 && text[i - 1] != '"')
        i--;
    snprintf(key, key_size, "%.*s", (int)(end - i), text + i);
}

void shim_text_position(const char *text, size_t offset, unsigned long *line, unsigned long *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < offset && text[i] != '\0'; i++) {
        if (text[i] == '\n') {
            ++*line;
            *column = 1;
        } else if (((unsigned char)text[i] & 0xc0) != 0x80) { /* not a UTF-8 continuation */
            ++*column;
        }
    }
}

/* "LINE:COLUMN: " for text[offset] into out. */
static void position(const char *text, size_t offset, char *out, size_t out_size)
{
    unsigned long line, column;
    shim_text_position(text, offset, &line, &column);
    snprintf(out, out_size, "%lu:%lu: ", line, column);
}

json_object *shim_json_parse(const char *text, char *err, size_t err_size)
{
    char key[64], at[48];
    long bad_int = find_out_of_range_integer(text);
    if (bad_int >= 0) {
        key_before(text, (size_t)bad_int, key, sizeof(key));
        position(text, (size_t)bad_int, at, sizeof(at));
        snprintf(err, err_size, "%sinteger%s%s%s is out of the 64-bit range", at,
                 key[0] ? " (field " : "", key, key[0] ? ")" : "");
        return NULL;
    }

    json_tokener *tok = json_tokener_new();
    if (tok == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    size_t len = strlen(text);
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (root == NULL) {
        position(text, jerr == json_tokener_continue ? len : used, at, sizeof(at));
        snprintf(err, err_size, "%sJSON syntax error: %s", at,
                 jerr == json_tokener_continue ? "unexpected end of text"
                                               : json_tokener_error_desc(jerr));
        return NULL;
    }
    used += strspn(text + used, " \t\r\n");
    if (text[used] != '\0') {
        position(text, used, at, sizeof(at));
        snprintf(err, err_size, "%sJSON syntax error: text after the value", at);
        json_object_put(root);
        return NULL;
    }
    return root;
}

int shim_json_uint(json_object *v, uint64_t max, const char *where, const char *field,
                   uint64_t *out, char *err, size_t err_size)
{
    if (!json_object_is_type(v, json_type_int)) {
        snprintf(err, err_size, "%s: %s must be an integer", where, field);
        return -1;
    }
    /* json-c keeps integers above INT64_MAX as unsigned; get_int64 of
     * those saturates, so a negative int64 means a real negative number. */
    if (json_object_get_int64(v) < 0) {
        snprintf(err, err_size, "%s: %s must not be negative", where, field);
        return -1;
    }
    uint64_t u = json_object_get_uint64(v);
    if (u > max) {
        snprintf(err, err_size, "%s: %s is over the maximum %llu", where, field,
                 (unsigned long long)max);
        return -1;
    }
    *out = u;
    return 0;
}

int shim_json_bool(json_object *v, const char *where, const char *field, uint8_t *out, char *err,
                   size_t err_size)
{
    if (!json_object_is_type(v, json_type_boolean)) {
        snprintf(err, err_size, "%s: %s must be true or false", where, field);
        return -1;
    }
    *out = json_object_get_boolean(v) ? 1 : 0;
    return 0;
}

int shim_json_string(json_object *v, int allow_empty, const char *where, const char *field,
                     char **out, char *err, size_t err_size)
{
    if (!json_object_is_type(v, json_type_string)) {
        snprintf(err, err_size, "%s: %s must be a string", where, field);
        return -1;
    }
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (strlen(s) != len) {
        snprintf(err, err_size, "%s: %s contains a NUL character", where, field);
        return -1;
    }
    if (len == 0 && !allow_empty) {
        snprintf(err, err_size, "%s: %s must not be empty", where, field);
        return -1;
    }
    *out = strdup(s);
    if (*out == NULL) {
        snprintf(err, err_size, "%s: out of memory", where);
        return -1;
    }
    return 0;
}

/* Reads up to max_bytes + 1 so that "too big" can be told from "exactly". */
char *shim_read_text_file(const char *path, size_t max_bytes, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(max_bytes + 2);
    size_t n = buf ? fread(buf, 1, max_bytes + 1, f) : 0;
    int read_error = ferror(f);
    fclose(f);
    const char *why = buf == NULL     ? "out of memory"
                      : read_error    ? "read error"
                      : n > max_bytes ? "file too large"
                                      : NULL;
    if (why == NULL && memchr(buf, '\0', n) != NULL)
        why = "file contains a NUL byte";
    if (why != NULL) {
        snprintf(err, err_size, "%s: %s", path, why);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}
