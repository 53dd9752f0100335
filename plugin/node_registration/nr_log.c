/*
 * nr_log.c - log events as data, and their text line (see nr_log.h).
 */
#include "nr_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Bytes of s that fit in room - 1 (a NUL follows), cut before a UTF-8
 * continuation byte so a cut never splits a character. */
static size_t fitting(const char *s, size_t room)
{
    size_t n = strlen(s);
    if (room == 0)
        return 0;
    if (n < room)
        return n;
    n = room - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

void nr_log_begin(nr_log_record_t *r, int32_t level, const char *event)
{
    r->level = level;
    r->count = 0;
    r->used = 0;
    r->truncated = 0;
    const char *e = event != NULL ? event : "";
    size_t n = fitting(e, sizeof(r->event));
    memcpy(r->event, e, n);
    r->event[n] = '\0';
}

void nr_log_add(nr_log_record_t *r, const char *key, const char *value)
{
    if (value == NULL)
        value = "";
    size_t klen = strlen(key);
    size_t room = sizeof(r->buf) - r->used;
    if (r->count == NR_LOG_FIELDS || klen + 2 > room) {
        r->truncated = 1;
        return;
    }
    char *k = r->buf + r->used;
    memcpy(k, key, klen + 1);
    size_t vlen = fitting(value, room - klen - 1);
    r->truncated |= vlen < strlen(value);
    char *v = k + klen + 1;
    memcpy(v, value, vlen);
    v[vlen] = '\0';
    r->key_at[r->count] = r->used;
    r->value_at[r->count] = (uint16_t)(r->used + klen + 1);
    r->used = (uint16_t)(r->used + klen + 1 + vlen + 1);
    r->count++;
}

void nr_log_addf(nr_log_record_t *r, const char *key, const char *fmt, ...)
{
    char value[NR_LOG_BUF];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    nr_log_add(r, key, value);
}

int nr_log_key_is_prose(const char *key)
{
    return strcmp(key, "reason") == 0 || strcmp(key, "note") == 0;
}

const char *nr_log_key(const nr_log_record_t *r, uint32_t i)
{
    return r->buf + r->key_at[i];
}

const char *nr_log_value(const nr_log_record_t *r, uint32_t i)
{
    return r->buf + r->value_at[i];
}

/* Appends to out[*n] what fits; quoted: in double quotes, '"' and '\'
 * escaped. Stops at the first byte that does not fit. */
static void put(char *out, size_t size, size_t *n, const char *s, int quoted)
{
    if (quoted)
        put(out, size, n, "\"", 0);
    for (; *s != '\0' && *n + 1 < size; s++) {
        int escape = quoted && (*s == '"' || *s == '\\');
        if (*n + 1 + (size_t)escape >= size)
            break;
        if (escape)
            out[(*n)++] = '\\';
        out[(*n)++] = *s;
    }
    if (quoted)
        put(out, size, n, "\"", 0);
    out[*n] = '\0';
}

size_t nr_log_format_text(const nr_log_record_t *r, const char *node, char *out, size_t size)
{
    size_t n = 0;
    if (size == 0)
        return 0;
    out[0] = '\0';
    put(out, size, &n, "node=", 0);
    put(out, size, &n, node != NULL ? node : "?", 0);
    put(out, size, &n, " event=", 0);
    put(out, size, &n, r->event, 0);
    for (uint32_t i = 0; i < r->count; i++) {
        const char *key = nr_log_key(r, i);
        put(out, size, &n, " ", 0);
        put(out, size, &n, key, 0);
        put(out, size, &n, "=", 0);
        put(out, size, &n, nr_log_value(r, i), nr_log_key_is_prose(key));
    }
    return n;
}

uint32_t nr_log_fields(const nr_log_record_t *r, const char *node, pmd_log_field_t *out)
{
    uint32_t n = 0;
    if (node != NULL)
        out[n++] = (pmd_log_field_t){"node", node};
    for (uint32_t i = 0; i < r->count; i++)
        out[n++] = (pmd_log_field_t){nr_log_key(r, i), nr_log_value(r, i)};
    return n;
}
