/*
 * log_fields.c - a structured log event as the shim's text line (see
 * log_fields.h).
 */
#include "log_fields.h"

#include <string.h>

#include "log_line.h"

/* Appends s (n bytes) to what fits. */
static void put(char *out, size_t size, size_t *len, const char *s, size_t n)
{
    if (*len + 1 >= size)
        return;
    if (n > size - 1 - *len)
        n = size - 1 - *len;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

static void put_str(char *out, size_t size, size_t *len, const char *s)
{
    put(out, size, len, s, strlen(s));
}

/* A key as written: [a-z0-9_] kept, anything else '_', bounded; "event"
 * (a forged event name) becomes "_event". */
static void put_key(char *out, size_t size, size_t *len, const char *key)
{
    char k[64];
    size_t n = 0;
    if (strcmp(key, "event") == 0)
        k[n++] = '_';
    for (; *key != '\0' && n + 1 < sizeof(k); key++) {
        char c = *key;
        k[n++] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ? c : '_';
    }
    if (n == 0)
        k[n++] = '_';
    put(out, size, len, k, n);
}

static void put_value(char *out, size_t size, size_t *len, const char *value)
{
    char quoted[LOG_LINE_MAX];
    put_str(out, size, len, log_line_quote(quoted, sizeof(quoted), value != NULL ? value : ""));
}

size_t shim_log_fields_format(char *out, size_t out_size, const char *event,
                              const pmd_log_field_t *fields, uint32_t count)
{
    size_t len = 0;
    uint32_t first = 0;
    if (out_size == 0)
        return 0;
    out[0] = '\0';
    if (fields == NULL)
        count = 0;
    if (count > PMD_LOG_FIELDS_MAX)
        count = PMD_LOG_FIELDS_MAX;
    if (count > 0 && fields[0].key != NULL && strcmp(fields[0].key, "node") == 0) {
        put_str(out, out_size, &len, "node=");
        put_value(out, out_size, &len, fields[0].value);
        put_str(out, out_size, &len, " ");
        first = 1;
    }
    put_str(out, out_size, &len, "event=");
    put_value(out, out_size, &len, event != NULL ? event : "(null)");
    for (uint32_t i = first; i < count; i++) {
        if (fields[i].key == NULL)
            continue;
        put_str(out, out_size, &len, " ");
        put_key(out, out_size, &len, fields[i].key);
        put_str(out, out_size, &len, "=");
        put_value(out, out_size, &len, fields[i].value);
    }
    return len;
}
