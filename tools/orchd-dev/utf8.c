/* utf8.c - UTF-8 checks shared by the router (decoded node ids), the
 * validator (request bodies) and the journal (bodies echoed back as JSON
 * strings, which must be valid UTF-8 even when the request was not). */
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

/* Length of the UTF-8 sequence at s (1..4), or 0 if it is invalid. */
size_t od_utf8_seq_len(const unsigned char *s, size_t left)
{
    size_t n;
    unsigned cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
        cp = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        cp = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0; /* overlong or beyond Unicode */
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0; /* surrogates are not scalar values */
    return n;
}

int od_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = od_utf8_seq_len(p + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

char *od_utf8_lossy(const char *s, size_t len, size_t *out_len)
{
    static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */
    const unsigned char *p = (const unsigned char *)s;
    char *out = malloc(len * 3 + 1), *o = out;
    size_t i = 0;
    if (!out)
        return NULL;
    while (i < len) {
        size_t n = od_utf8_seq_len(p + i, len - i);
        if (n == 0) {
            memcpy(o, REPLACEMENT, 3);
            o += 3;
            i++;
        } else {
            memcpy(o, s + i, n);
            o += n;
            i += n;
        }
    }
    *o = '\0';
    *out_len = (size_t)(o - out);
    return out;
}
