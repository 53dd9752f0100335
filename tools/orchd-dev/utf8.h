/* utf8.h - strict UTF-8 validation (what Rust's String accepts). Pure. */
#ifndef OD_UTF8_H
#define OD_UTF8_H

#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence at S (LEFT bytes remain), or 0
 * for an invalid one (bad lead byte, truncated, overlong, surrogate,
 * beyond U+10FFFF). */
size_t od_utf8_seq_len(const unsigned char *s, size_t left);

/* 1 when S[0..len) is entirely valid UTF-8. */
int od_utf8_valid(const char *s, size_t len);

/* A NUL-terminated copy with each invalid byte replaced by U+FFFD (embedded
 * NULs are kept), its length in *OUT_LEN. Caller frees; NULL when out of memory. */
char *od_utf8_lossy(const char *s, size_t len, size_t *out_len);

#endif
