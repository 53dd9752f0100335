/*
 * fuzz_harness.h - what the three fuzz targets share: one entry point per
 * target (so the libFuzzer binaries and the Criterion regression test replay
 * an input through exactly the same code), a byte reader that decodes a fuzz
 * input into values, and output checks written independently of the plugin
 * (a UTF-8 validator of our own, json-c's strict tokener).
 *
 * A harness returns 0 for every input; a broken invariant prints one line
 * naming it and calls abort(), which libFuzzer records as a crash and
 * Criterion as a failed test.
 */
#ifndef NR_FUZZ_HARNESS_H
#define NR_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

int nr_fuzz_config(const uint8_t *data, size_t size);
int nr_fuzz_response(const uint8_t *data, size_t size);
int nr_fuzz_records(const uint8_t *data, size_t size);

/* Invariant check: file, line and the failed condition, then abort(). */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                     \
    } while (0)

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* Reads the input front to back; past the end every read gives zeros, so
 * any prefix of an input is itself a valid input. */
typedef struct fuzz_reader {
    const uint8_t *p;
    size_t left;
} fuzz_reader_t;

uint8_t fr_u8(fuzz_reader_t *r);
uint16_t fr_u16(fuzz_reader_t *r);
uint32_t fr_u32(fuzz_reader_t *r);
uint64_t fr_u64(fuzz_reader_t *r);
/* Up to max bytes (a length byte/word first), copied into a fresh malloc'd
 * buffer of exactly len + 1 bytes, NUL-terminated, so an overread by the
 * code under test is a heap overflow ASan sees. *len may be NULL. */
char *fr_string(fuzz_reader_t *r, size_t max, size_t *len);

/* 1 when s[0..len) is valid UTF-8 (RFC 3629: no overlongs, surrogates or
 * code points above U+10FFFF). */
int fuzz_utf8_valid(const char *s, size_t len);

/* Checks that text is one complete JSON value (strict json-c tokener with
 * UTF-8 validation, nothing after it) and valid UTF-8, and returns the
 * parsed value (caller json_object_put()s); aborts otherwise. */
struct json_object *fuzz_parse_json(const char *what, const char *text);

#endif
