/* Unit tests of text/txt.c: the one strict UTF-8 decoder (what the plugin,
 * the shim and orchd-dev accept), the sanitiser and the identity and text
 * checks. Moved here from nr_records_test.c with the code. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "txt.h"

static int valid(const char *bytes)
{
    return txt_utf8_valid(bytes, strlen(bytes));
}

/* ---------------------------------------------------------------------- */
/* txt_utf8_valid                                                         */
/* ---------------------------------------------------------------------- */

Test(utf8, accepts_ascii_and_empty)
{
    cr_assert(valid("pool-0"));
    cr_assert(txt_utf8_valid("", 0));
    cr_assert(txt_utf8_valid(NULL, 0));
}

Test(utf8, accepts_two_three_and_four_byte_sequences)
{
    cr_assert(valid("\xC3\xA9"));         /* U+00E9 */
    cr_assert(valid("\xE2\x82\xAC"));     /* U+20AC */
    cr_assert(valid("\xF0\x9F\x98\x80")); /* U+1F600 */
}

Test(utf8, accepts_boundary_code_points)
{
    cr_assert(valid("\xC2\x80"));         /* U+0080, lowest 2-byte */
    cr_assert(valid("\xE0\xA0\x80"));     /* U+0800, lowest 3-byte */
    cr_assert(valid("\xED\x9F\xBF"));     /* U+D7FF, just below surrogates */
    cr_assert(valid("\xEE\x80\x80"));     /* U+E000, just above surrogates */
    cr_assert(valid("\xEF\xBF\xBF"));     /* U+FFFF */
    cr_assert(valid("\xF0\x90\x80\x80")); /* U+10000, lowest 4-byte */
    cr_assert(valid("\xF4\x8F\xBF\xBF")); /* U+10FFFF, the last code point */
}

Test(utf8, rejects_two_byte_overlongs)
{
    cr_assert_not(valid("\xC0\x80"));
    cr_assert_not(valid("\xC0\xAF"));
    cr_assert_not(valid("\xC1\xBF"));
}

Test(utf8, rejects_three_and_four_byte_overlongs)
{
    cr_assert_not(valid("\xE0\x80\x80"));
    cr_assert_not(valid("\xE0\x9F\xBF"));
    cr_assert_not(valid("\xF0\x80\x80\x80"));
    cr_assert_not(valid("\xF0\x8F\xBF\xBF"));
}

Test(utf8, rejects_surrogates)
{
    cr_assert_not(valid("\xED\xA0\x80")); /* U+D800 */
    cr_assert_not(valid("\xED\xAF\xBF")); /* U+DBFF */
    cr_assert_not(valid("\xED\xB0\x80")); /* U+DC00 */
    cr_assert_not(valid("\xED\xBF\xBF")); /* U+DFFF */
}

Test(utf8, rejects_code_points_above_10ffff)
{
    cr_assert_not(valid("\xF4\x90\x80\x80")); /* U+110000 */
    cr_assert_not(valid("\xF5\x80\x80\x80"));
    cr_assert_not(valid("\xF7\xBF\xBF\xBF"));
}

Test(utf8, rejects_bytes_that_never_appear)
{
    cr_assert_not(valid("\xFE"));
    cr_assert_not(valid("\xFF"));
    cr_assert_not(valid("a\xF8\x88\x80\x80\x80"));
}

Test(utf8, rejects_lone_continuation_bytes)
{
    cr_assert_not(valid("\x80"));
    cr_assert_not(valid("a\xBF"
                        "b"));
}

Test(utf8, rejects_truncated_sequences)
{
    cr_assert_not(valid("\xC3"));
    cr_assert_not(valid("\xE2\x82"));
    cr_assert_not(valid("\xF0\x9F\x98"));
    cr_assert_not(valid("\xE2\x82"
                        "a"));
}

Test(utf8, rejects_sequence_cut_by_the_length)
{
    cr_assert_not(txt_utf8_valid("\xE2\x82\xAC", 2));
    cr_assert(txt_utf8_valid("ab\xFF", 2));
}

/* ---------------------------------------------------------------------- */
/* txt_utf8_sanitize / txt_identity_problem / txt_text_problem          */
/* ---------------------------------------------------------------------- */

Test(sanitize, replaces_each_invalid_sequence_with_u_fffd)
{
    char out[64];
    txt_utf8_sanitize("a\xFF"
                      "b\xE2\x82"
                      "c",
                      7, out, sizeof(out));
    cr_assert_str_eq(out, "a\xEF\xBF\xBD"
                          "b\xEF\xBF\xBD"
                          "c");
}

Test(sanitize, drops_control_characters)
{
    char out[64];
    const char in[] = "ll\x01"
                      "ama\ncpp\x7F\xC2\x85!";
    txt_utf8_sanitize(in, sizeof(in) - 1, out, sizeof(out));
    cr_assert_str_eq(out, "llamacpp!");
}

Test(sanitize, keeps_valid_multibyte_text)
{
    char out[64];
    const char in[] = "NVIDIA \xE2\x84\xA2 H200 \xF0\x9F\x98\x80";
    txt_utf8_sanitize(in, sizeof(in) - 1, out, sizeof(out));
    cr_assert_str_eq(out, in);
}

Test(sanitize, truncates_only_at_character_boundaries)
{
    char out[5];
    size_t n = txt_utf8_sanitize("ab\xE2\x82\xAC", 5, out, sizeof(out));
    cr_assert_eq(n, 2);
    cr_assert_str_eq(out, "ab");
    cr_assert(txt_utf8_valid(out, n));
}

Test(sanitize, zero_size_output_writes_nothing)
{
    char out[1] = {'x'};
    cr_assert_eq(txt_utf8_sanitize("abc", 3, out, 0), 0);
    cr_assert_eq(out[0], 'x');
}

Test(identity, names_each_problem)
{
    cr_assert_str_eq(txt_identity_problem("", 0, 10), "is empty");
    cr_assert_str_eq(txt_identity_problem("abcdefghijk", 11, 10), "is too long");
    cr_assert_str_eq(txt_identity_problem("a\tb", 3, 10), "contains a control character");
    cr_assert_str_eq(txt_identity_problem("a\x7F", 2, 10), "contains a control character");
    cr_assert_str_eq(txt_identity_problem("a\xC0\x80", 3, 10), "is not valid UTF-8");
    cr_assert_null(txt_identity_problem("pool-\xC3\xA9", 7, 10));
}

Test(identity, refuses_c1_control_characters)
{
    cr_assert_str_eq(txt_identity_problem("a\xC2\x80", 3, 10), "contains a control character");
    cr_assert_str_eq(txt_identity_problem("\xC2\x85z", 3, 10), "contains a control character");
    cr_assert_str_eq(txt_identity_problem("a\xC2\x9F", 3, 10), "contains a control character");
    cr_assert_null(txt_identity_problem("a\xC2\xA0", 3, 10)); /* U+00A0 is not a control */
}

Test(identity, refuses_the_replacement_character)
{
    cr_assert_str_eq(txt_identity_problem("pool-\xEF\xBF\xBD", 8, 10),
                     "contains U+FFFD (a replacement character; a lone surrogate escape in "
                     "JSON becomes one)");
    cr_assert_null(txt_identity_problem("pool-\xEF\xBF\xBC", 8, 10)); /* U+FFFC is fine */
}

Test(identity, refuses_c0_and_del_as_before)
{
    cr_assert_str_eq(txt_identity_problem("a\x01", 2, 10), "contains a control character");
    cr_assert_str_eq(txt_identity_problem("a\x1F", 2, 10), "contains a control character");
    cr_assert_str_eq(txt_identity_problem("\x7F", 1, 10), "contains a control character");
}

Test(identity, descriptive_text_keeps_c1_and_the_replacement_character)
{
    cr_assert_null(txt_text_problem("A100\xC2\x85", 6, 10));
    cr_assert_null(txt_text_problem("A100\xEF\xBF\xBD", 7, 10));
    cr_assert_str_eq(txt_text_problem("a\tb", 3, 10), "contains a control character");
    cr_assert_str_eq(txt_text_problem("a\xC0\x80", 3, 10), "is not valid UTF-8");
    cr_assert_str_eq(txt_text_problem("", 0, 10), "is empty");
}

/* ---------------------------------------------------------------------- */
/* txt_utf8_decode / txt_utf8_seq_len                                     */
/* ---------------------------------------------------------------------- */

Test(decode, returns_the_code_point_and_length)
{
    uint32_t cp = 0;
    size_t bad = 0;
    cr_assert_eq(txt_utf8_decode((const unsigned char *)"A", 1, &cp, &bad), 1);
    cr_assert_eq(cp, 0x41);
    cr_assert_eq(txt_utf8_decode((const unsigned char *)"\xC3\xA9", 2, &cp, &bad), 2);
    cr_assert_eq(cp, 0xE9);
    cr_assert_eq(txt_utf8_decode((const unsigned char *)"\xE2\x82\xAC", 3, &cp, &bad), 3);
    cr_assert_eq(cp, 0x20AC);
    cr_assert_eq(txt_utf8_decode((const unsigned char *)"\xF4\x8F\xBF\xBF", 4, &cp, &bad), 4);
    cr_assert_eq(cp, 0x10FFFF);
}

Test(decode, bad_is_the_maximal_subpart)
{
    uint32_t cp = 0;
    size_t bad = 0;
    cr_assert_eq(txt_utf8_decode((const unsigned char *)"\xFF", 1, &cp, &bad), 0);
    cr_assert_eq(bad, 1);
    cr_assert_eq(txt_utf8_decode((const unsigned char *)"\xE2\x82"
                                                        "a",
                                 3, &cp, &bad),
                 0);
    cr_assert_eq(bad, 2);
    cr_assert_eq(txt_utf8_decode((const unsigned char *)"\xF0\x9F\x98", 3, &cp, &bad), 0);
    cr_assert_eq(bad, 3);
    cr_assert_eq(txt_utf8_decode((const unsigned char *)"\xED\xA0\x80", 3, &cp, &bad), 0);
    cr_assert_eq(bad, 1); /* a surrogate's second byte is out of range at once */
}

Test(seq_len, is_zero_for_nothing_and_for_invalid_sequences)
{
    cr_assert_eq(txt_utf8_seq_len((const unsigned char *)"a", 0), 0);
    cr_assert_eq(txt_utf8_seq_len((const unsigned char *)"\0", 1), 1);
    cr_assert_eq(txt_utf8_seq_len((const unsigned char *)"\xF0\x9F\x98\x80", 4), 4);
    cr_assert_eq(txt_utf8_seq_len((const unsigned char *)"\xF0\x9F\x98\x80", 3), 0);
    cr_assert_eq(txt_utf8_seq_len((const unsigned char *)"\xC0\x80", 2), 0);
    cr_assert_eq(txt_utf8_seq_len((const unsigned char *)"\xF4\x90\x80\x80", 4), 0);
}

Test(control, c0_del_and_c1_only)
{
    cr_assert(txt_is_control(0x00));
    cr_assert(txt_is_control(0x1F));
    cr_assert(txt_is_control(0x7F));
    cr_assert(txt_is_control(0x80));
    cr_assert(txt_is_control(0x9F));
    cr_assert_not(txt_is_control(0x20));
    cr_assert_not(txt_is_control(0xA0));
    cr_assert_not(txt_is_control(0xFFFD));
}
