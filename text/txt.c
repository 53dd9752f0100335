/*
 * txt.c - strict UTF-8 decoding and the text checks built on it (txt.h).
 */
#include "txt.h"

#include <string.h>

size_t txt_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp, size_t *bad)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c == 0xE0) {
        need = 3;
        lo = 0xA0; /* no overlongs */
    } else if (c == 0xED) {
        need = 3;
        hi = 0x9F; /* no surrogates */
    } else if (c >= 0xE1 && c <= 0xEF) {
        need = 3;
    } else if (c == 0xF0) {
        need = 4;
        lo = 0x90; /* no overlongs */
    } else if (c >= 0xF1 && c <= 0xF3) {
        need = 4;
    } else if (c == 0xF4) {
        need = 4;
        hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *bad = 1; /* continuation byte, C0, C1, F5..FF */
        return 0;
    }

    uint32_t v = c & (need == 2 ? 0x1F : need == 3 ? 0x0F : 0x07);
    for (size_t i = 1; i < need; i++) {
        unsigned char min = (i == 1) ? lo : 0x80;
        unsigned char max = (i == 1) ? hi : 0xBF;
        if (i >= len || s[i] < min || s[i] > max) {
            *bad = i;
            return 0;
        }
        v = (v << 6) | (uint32_t)(s[i] & 0x3F);
    }
    *cp = v;
    return need;
}

size_t txt_utf8_seq_len(const unsigned char *s, size_t len)
{
    uint32_t cp;
    size_t bad;

    if (len == 0)
        return 0;
    return txt_utf8_decode(s, len, &cp, &bad);
}

int txt_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    if (s == NULL)
        return len == 0;
    while (i < len) {
        size_t n = txt_utf8_seq_len(p + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

int txt_is_control(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

size_t txt_utf8_sanitize(const char *in, size_t in_len, char *out, size_t out_size)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    const unsigned char *p = (const unsigned char *)in;
    size_t i = 0, w = 0;

    if (out == NULL || out_size == 0)
        return 0;
    while (in != NULL && i < in_len) {
        uint32_t cp = 0;
        size_t bad = 0;
        size_t n = txt_utf8_decode(p + i, in_len - i, &cp, &bad);
        const char *src = (const char *)p + i;
        size_t emit = n;

        if (n == 0) {
            src = replacement;
            emit = 3;
            i += bad;
        } else {
            i += n;
            if (txt_is_control(cp))
                continue;
        }
        if (w + emit >= out_size)
            break; /* keep whole characters only */
        memcpy(out + w, src, emit);
        w += emit;
    }
    out[w] = '\0';
    return w;
}

const char *txt_text_problem(const char *s, size_t len, size_t max)
{
    if (s == NULL || len == 0)
        return "is empty";
    if (len > max)
        return "is too long";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            return "contains a control character";
    }
    if (!txt_utf8_valid(s, len))
        return "is not valid UTF-8";
    return NULL;
}

const char *txt_identity_problem(const char *s, size_t len, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    const char *problem = txt_text_problem(s, len, max);

    if (problem != NULL)
        return problem;
    /* Valid UTF-8 from here on: decode to see C1 controls and U+FFFD, which
     * json-c makes of a lone surrogate escape ("\ud800") without a word.
     * An identity holding either is never what its owner meant. */
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t bad = 0;
        size_t n = txt_utf8_decode(p + i, len - i, &cp, &bad);
        if (n == 0)
            return "is not valid UTF-8"; /* not reached: checked above */
        if (txt_is_control(cp))
            return "contains a control character";
        if (cp == 0xFFFD)
            return "contains U+FFFD (a replacement character; a lone surrogate escape in "
                   "JSON becomes one)";
        i += n;
    }
    return NULL;
}
