/*
 * fuzz_support.c - the byte reader and output checks the fuzz targets share
 * (see fuzz_harness.h). The UTF-8 validator here is written apart from the
 * text module's txt_utf8_valid (text/txt.c) on purpose: a check must not
 * share the bug it looks for.
 */
#include "fuzz_harness.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "\n%s:%d: invariant broken: %s: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

uint8_t fr_u8(fuzz_reader_t *r)
{
    if (r->left == 0)
        return 0;
    r->left--;
    return *r->p++;
}

uint16_t fr_u16(fuzz_reader_t *r)
{
    return (uint16_t)(fr_u8(r) | (uint16_t)fr_u8(r) << 8);
}

uint32_t fr_u32(fuzz_reader_t *r)
{
    return fr_u16(r) | (uint32_t)fr_u16(r) << 16;
}

uint64_t fr_u64(fuzz_reader_t *r)
{
    return fr_u32(r) | (uint64_t)fr_u32(r) << 32;
}

char *fr_string(fuzz_reader_t *r, size_t max, size_t *len)
{
    size_t n = max > 255 ? fr_u16(r) : fr_u8(r);
    char *s;

    if (n > max)
        n %= max + 1;
    if (n > r->left)
        n = r->left;
    s = malloc(n + 1);
    if (s == NULL)
        abort();
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    r->left -= n;
    if (len != NULL)
        *len = n;
    return s;
}

int fuzz_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned char c = p[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            n = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + n > len)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n;
    }
    return 1;
}

json_object *fuzz_parse_json(const char *what, const char *text)
{
    struct json_tokener *tok;
    json_object *obj;
    size_t len;

    FUZZ_CHECK(text != NULL, "%s: no text", what);
    len = strlen(text);
    FUZZ_CHECK(fuzz_utf8_valid(text, len), "%s is not valid UTF-8: %.200s", what, text);
    tok = json_tokener_new();
    FUZZ_CHECK(tok != NULL, "%s: json_tokener_new", what);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, text, (int)len);
    FUZZ_CHECK(obj != NULL && json_tokener_get_error(tok) == json_tokener_success &&
                   json_tokener_get_parse_end(tok) == len,
               "%s is not one strict JSON value (%s): %.200s", what,
               json_tokener_error_desc(json_tokener_get_error(tok)), text);
    json_tokener_free(tok);
    return obj;
}
