/* Unit tests of nr_retry_after.c: delta-seconds that saturate, HTTP dates,
 * and everything else refused. */
#include <criterion/criterion.h>

#include "nr_retry_after.h"

#define NOW 1700000000 /* Tue, 14 Nov 2023 22:13:20 GMT */
#define CAP_MS ((uint64_t)NR_MAX_RETRY_AFTER_S * 1000u)

static uint64_t parsed(const char *value)
{
    uint64_t ms = 0xdeadbeef;
    cr_assert_eq(nr_retry_after_parse(value, NOW, &ms), 1, "'%s' refused", value);
    return ms;
}

static void refused(const char *value)
{
    uint64_t ms = 0xdeadbeef;
    cr_assert_eq(nr_retry_after_parse(value, NOW, &ms), 0, "'%s' accepted", value);
    cr_assert_eq(ms, 0xdeadbeef, "'%s' wrote out_ms", value);
}

Test(retry_after, cap_is_an_hour)
{
    cr_assert_eq(NR_MAX_RETRY_AFTER_S, 3600);
}

Test(retry_after, zero_means_now)
{
    cr_assert_eq(parsed("0"), 0);
}

Test(retry_after, seconds_become_milliseconds)
{
    cr_assert_eq(parsed("120"), 120000);
    cr_assert_eq(parsed("3600"), CAP_MS);
}

Test(retry_after, over_an_hour_is_capped)
{
    cr_assert_eq(parsed("4000"), CAP_MS);
    cr_assert_eq(parsed("3601"), CAP_MS);
}

Test(retry_after, a_number_too_large_for_any_integer_saturates)
{
    cr_assert_eq(parsed("99999999999999999999"), CAP_MS);
    cr_assert_eq(parsed("18446744073709551616"), CAP_MS); /* 2^64: wraps to 0 elsewhere */
    cr_assert_eq(parsed("18446744073709551617"), CAP_MS); /* 2^64 + 1 */
    cr_assert_eq(parsed("000000000000000000000000000000000000005"), 5000);
}

Test(retry_after, surrounding_whitespace_is_allowed)
{
    cr_assert_eq(parsed(" 5 "), 5000);
    cr_assert_eq(parsed("\t7\t"), 7000);
}

Test(retry_after, anything_but_digits_or_a_date_is_refused)
{
    refused("5s");
    refused("-1");
    refused("+5");
    refused("5.5");
    refused("5 5");
    refused("");
    refused("   ");
    refused("soon");
    refused(NULL);
}

Test(retry_after, an_http_date_two_hours_ahead_is_capped)
{
    cr_assert_eq(parsed("Wed, 15 Nov 2023 00:13:20 GMT"), CAP_MS);
}

Test(retry_after, an_http_date_ten_seconds_ahead)
{
    cr_assert_eq(parsed("Tue, 14 Nov 2023 22:13:30 GMT"), 10000);
}

Test(retry_after, the_obsolete_date_forms_are_read_too)
{
    cr_assert_eq(parsed("Tuesday, 14-Nov-23 22:13:30 GMT"), 10000); /* RFC 850 */
    cr_assert_eq(parsed("Tue Nov 14 22:13:30 2023"), 10000);        /* asctime */
}

Test(retry_after, an_http_date_in_the_past_means_now)
{
    cr_assert_eq(parsed("Tue, 14 Nov 2023 21:13:20 GMT"), 0);
    cr_assert_eq(parsed("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
}

Test(retry_after, a_date_curl_cannot_read_is_refused)
{
    refused("Tue, 99 Foo 2023 99:99:99 GMT");
}
