/*
 * txt.h - the one strict UTF-8 decoder of this repository, and the text
 * checks built on it. Compiled into every binary that needs them: the
 * node_registration plugin (nr_core), pmd-host-shim (pmd_shim_core) and
 * orchd-dev. Pure: no allocation, no global state, any thread.
 *
 * Strict means RFC 3629 (what Rust's String accepts): no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing past U+10FFFF, no bytes C0, C1,
 * F5..FF. What a caller does with an invalid sequence (refuse it, replace it
 * with U+FFFD, escape it) is the caller's policy; txt_utf8_sanitize is the
 * one replacement policy kept here because two modules of the plugin share it.
 */
#ifndef TXT_H
#define TXT_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the sequence at s[0..len) (len >= 1). Returns its length (1..4)
 * and sets *cp, or returns 0 and sets *bad to the length of the maximal
 * subpart of a valid sequence (at least 1): the bytes one U+FFFD replaces
 * (Unicode 3.9, U+FFFD substitution of maximal subparts). */
size_t txt_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp, size_t *bad);

/* Length (1..4) of the valid sequence at s[0..len), or 0 when it is not one
 * (bad lead byte, truncated, overlong, surrogate, past U+10FFFF) or len is 0. */
size_t txt_utf8_seq_len(const unsigned char *s, size_t len);

/* 1 when s[0..len) is entirely valid UTF-8 (s may be NULL when len is 0). */
int txt_utf8_valid(const char *s, size_t len);

/* 1 for a control character: C0 (below U+0020), DEL, C1 (U+0080..U+009F). */
int txt_is_control(uint32_t cp);

/* Copies in[0..in_len) to out as valid UTF-8 without control characters:
 * each invalid sequence (maximal subpart) becomes U+FFFD, C0 controls, DEL
 * and C1 controls are dropped. Stops before a character that would not fit;
 * out is always NUL-terminated when out_size > 0. Returns the bytes written
 * (without the NUL). */
size_t txt_utf8_sanitize(const char *in, size_t in_len, char *out, size_t out_size);

/* Why s[0..len) is not usable as descriptive text (a GPU name), or NULL
 * when it is: non-empty, at most max bytes, valid UTF-8, no byte below 0x20
 * and no 0x7f. The reason is a static phrase such as "is not valid UTF-8",
 * to follow a field name. */
const char *txt_text_problem(const char *s, size_t len, size_t max);

/* The same for an identity string (pool id, node id, machine id), which is
 * also refused when it holds a C1 control character (U+0080..U+009F) or
 * U+FFFD: a replacement character in an identity is never legitimate, and
 * is what json-c makes of a lone surrogate escape such as "\ud800". */
const char *txt_identity_problem(const char *s, size_t len, size_t max);

#endif /* TXT_H */
