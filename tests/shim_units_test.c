/*
 * shim_units_test.c - unit tests of pmd-host-shim's pure parts (log lines,
 * pools and capabilities parsing, the pools file reload, GPU discovery
 * against a fake NVML, the metrics text and status line), its host
 * callbacks' rule checks, and the in-process test host (test_host.h) driven
 * against the probe fixture plugin.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capabilities.h"
#include "discover.h"
#include "fixtures/prom_text_check.h"
#include "host_callbacks.h"
#include "json_fields.h"
#include "listen_address.h"
#include "loader.h"
#include "log_line.h"
#include "metrics_format.h"
#include "pools_file.h"
#include "sd_notify.h"
#include "test_host.h"

/* ------------------------------------------------------------------ */
/* log_line                                                           */
/* ------------------------------------------------------------------ */

static const struct timespec t_fixed = {1700000000, 123456789}; /* 2023-11-14T22:13:20.123Z */

Test(log_line, formats_timestamp_padded_tag_and_one_newline)
{
    char line[256];
    log_line_format(line, sizeof(line), &t_fixed, "INFO", "hello");
    cr_assert_str_eq(line, "2023-11-14T22:13:20.123Z INFO  hello\n");
    log_line_format(line, sizeof(line), &t_fixed, "STATE", "registered (ok)");
    cr_assert_str_eq(line, "2023-11-14T22:13:20.123Z STATE registered (ok)\n");
}

Test(log_line, newline_in_plugin_text_stays_one_line)
{
    char line[256];
    log_line_format(line, sizeof(line), &t_fixed, "WARN",
                    "first\nsecond\r\n2023-01-01T00:00:00.000Z INFO  forged");
    cr_assert_str_eq(line,
                     "2023-11-14T22:13:20.123Z WARN  first\\nsecond\\r\\n2023-01-01T00:00:00.000Z "
                     "INFO  forged\n");
    cr_assert_eq(strchr(line, '\n'), line + strlen(line) - 1);
}

Test(log_line, control_characters_are_escaped)
{
    char out[128];
    log_line_sanitize(out, sizeof(out), "a\tb\x1b[31mc\x7f\x01");
    cr_assert_str_eq(out, "a\\tb\\x1b[31mc\\x7f\\x01");
}

Test(log_line, valid_utf8_kept_invalid_and_c1_escaped)
{
    char out[128];
    log_line_sanitize(out, sizeof(out), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    cr_assert_str_eq(out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    log_line_sanitize(out, sizeof(out), "\xff|\xc0\x80|\xc2\x85|\xe2\x82|\xed\xa0\x80");
    cr_assert_str_eq(out, "\\xff|\\xc0\\x80|\\xc2\\x85|\\xe2\\x82|\\xed\\xa0\\x80");
}

Test(log_line, long_message_cut_with_ellipsis_on_char_boundary)
{
    char out[8];
    size_t n = log_line_sanitize(out, sizeof(out), "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    cr_assert_str_eq(out, "\xc3\xa9\xc3\xa9...");
    cr_assert_eq(n, 7);
    log_line_sanitize(out, sizeof(out), "1234567");
    cr_assert_str_eq(out, "1234567");
}

Test(log_line, huge_message_fits_the_line_buffer)
{
    char *big = malloc(20000), line[LOG_LINE_MAX];
    memset(big, '\n', 19999);
    big[19999] = '\0';
    size_t n = log_line_format(line, sizeof(line), &t_fixed, "INFO", big);
    cr_assert_lt(n, sizeof(line));
    cr_assert_eq(strchr(line, '\n'), line + n - 1);
    cr_assert(strstr(line, "...\n") != NULL);
    free(big);
}

Test(log_line, null_message_and_unknown_level)
{
    char out[32];
    log_line_sanitize(out, sizeof(out), NULL);
    cr_assert_str_eq(out, "(null)");
    cr_assert_str_eq(log_line_level_tag(1), "ERROR");
    cr_assert_str_eq(log_line_level_tag(99), "LOG?");
}

/* ------------------------------------------------------------------ */
/* pools parsing                                                      */
/* ------------------------------------------------------------------ */

static char perr[512];

static int parse_pools(const char *text, shim_pool_list_t *out)
{
    perr[0] = '\0';
    return shim_pools_parse(text, "pools.json", out, perr, sizeof(perr));
}

Test(pools_parse, full_record)
{
    shim_pool_list_t l;
    cr_assert_eq(parse_pools("[{\"pool_id\":\"p0\",\"ready\":true,\"draining\":false,"
                             "\"slots_free\":3,\"slots_total\":4,"
                             "\"vram_free_bytes\":18446744073709551615,\"engine\":\"llamacpp\"}]",
                             &l),
                 0, "%s", perr);
    cr_assert_eq(l.count, 1);
    cr_assert_str_eq(l.items[0].pool_id, "p0");
    cr_assert_str_eq(l.items[0].engine, "llamacpp");
    cr_assert_eq(l.items[0].ready, 1);
    cr_assert_eq(l.items[0].draining, 0);
    cr_assert_eq(l.items[0].slots_free, 3);
    cr_assert_eq(l.items[0].slots_total, 4);
    cr_assert_eq(l.items[0].vram_free_bytes, UINT64_MAX);
    shim_pools_free(&l);
}

Test(pools_parse, defaults_and_empty_list)
{
    shim_pool_list_t l;
    cr_assert_eq(parse_pools(" [ ] \n", &l), 0, "%s", perr);
    cr_assert_eq(l.count, 0);
    shim_pools_free(&l);
    cr_assert_eq(parse_pools("[{\"pool_id\":\"a\",\"engine\":null},{\"pool_id\":\"b\"}]", &l), 0);
    cr_assert_eq(l.count, 2);
    cr_assert_null(l.items[0].engine);
    cr_assert_eq(l.items[1].slots_total + l.items[1].ready + l.items[1].vram_free_bytes, 0);
    shim_pools_free(&l);
}

/* Each bad text fails, leaves the list untouched, and names the problem. */
static void assert_bad_pools(const char *text, const char *const *needles)
{
    shim_pool_list_t l = {(shim_pool_t *)&l, 77};
    cr_assert_eq(parse_pools(text, &l), -1, "accepted: %s", text);
    cr_assert(l.items == (shim_pool_t *)&l && l.count == 77, "out touched for %s", text);
    cr_assert_null(strchr(perr, '\n'), "multi-line message: %s", perr);
    for (; *needles != NULL; needles++)
        cr_assert(strstr(perr, *needles) != NULL, "\"%s\" lacks \"%s\"", perr, *needles);
}

#define BAD(text, ...)                                                                             \
    assert_bad_pools(text, (const char *const[]){"pools.json", __VA_ARGS__, NULL})

Test(pools_parse, syntax_errors)
{
    BAD("[{\"pool_id\":\"a\"", "syntax");
    BAD("[{\"pool_id\":\"a\",}]", "syntax");
    BAD("[] []", "syntax");
    BAD("", "syntax");
}

Test(pools_parse, wrong_shapes)
{
    BAD("{\"pool_id\":\"a\"}", "array");
    BAD("[{\"pool_id\":\"a\"}, 3]", "pool 1", "object");
}

Test(pools_parse, missing_or_bad_pool_id)
{
    BAD("[{\"pool_id\":\"a\"},{\"ready\":true}]", "pool 1", "pool_id", "missing");
    BAD("[{\"pool_id\":\"\"}]", "pool 0", "pool_id", "empty");
    BAD("[{\"pool_id\":7}]", "pool 0", "pool_id", "string");
    BAD("[{\"pool_id\":\"a\\u0000b\"}]", "pool 0", "pool_id", "NUL");
}

Test(pools_parse, wrong_types)
{
    BAD("[{\"pool_id\":\"a\",\"ready\":\"yes\"}]", "pool 0", "ready");
    BAD("[{\"pool_id\":\"a\",\"draining\":1}]", "pool 0", "draining");
    BAD("[{\"pool_id\":\"a\",\"slots_free\":1.5}]", "pool 0", "slots_free", "integer");
    BAD("[{\"pool_id\":\"a\",\"slots_total\":\"4\"}]", "pool 0", "slots_total");
    BAD("[{\"pool_id\":\"a\",\"engine\":5}]", "pool 0", "engine");
}

Test(pools_parse, negative_and_over_range_numbers)
{
    BAD("[{\"pool_id\":\"a\",\"slots_free\":-1}]", "pool 0", "slots_free", "negative");
    BAD("[{\"pool_id\":\"a\",\"slots_total\":4294967296}]", "pool 0", "slots_total", "maximum");
    BAD("[{\"pool_id\":\"a\",\"vram_free_bytes\":18446744073709551616}]",
        "out of the 64-bit range");
    BAD("[{\"pool_id\":\"a\",\"vram_free_bytes\":-9223372036854775809}]",
        "out of the 64-bit range");
    BAD("[{\"pool_id\":\"18446744073709551616\",\"vram_free_bytes\":99999999999999999999}]",
        "1:54: integer (field vram_free_bytes)");
}

Test(pools_parse, unknown_field_is_named)
{
    BAD("[{\"pool_id\":\"a\",\"slot_free\":1}]", "pool 0", "unknown field", "slot_free");
}

static int32_t refuse_b(void *data, const pmd_pool_status_t *p)
{
    int *seen = data;
    (*seen)++;
    cr_assert_eq(p->struct_size, sizeof(pmd_pool_status_t));
    return strcmp(p->pool_id, "b") == 0 ? PMD_ERR_HOST_DATA : PMD_OK;
}

Test(pools_push, refused_record_reported_and_pushing_goes_on)
{
    shim_pool_list_t l;
    int seen = 0;
    size_t bad = 99;
    cr_assert_eq(parse_pools("[{\"pool_id\":\"a\"},{\"pool_id\":\"b\"},{\"pool_id\":\"c\"}]", &l),
                 0);
    pmd_pool_sink_t sink = {sizeof(sink), 0, &seen, refuse_b};
    cr_assert_eq(shim_pools_push(&l, &sink, &bad), PMD_ERR_HOST_DATA);
    cr_assert_eq(bad, 1);
    cr_assert_eq(seen, 3);
    sink.struct_size = 8;
    cr_assert_eq(shim_pools_push(&l, &sink, &bad), PMD_ERR_INVALID_ARGUMENT);
    shim_pools_free(&l);
}

/* ------------------------------------------------------------------ */
/* pools file reload                                                  */
/* ------------------------------------------------------------------ */

static char pools_path[64];

static void write_file(const char *path, const char *text)
{
    char tmp[80];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(rename(tmp, path), 0); /* a new inode: seen even within one mtime tick */
}

static void pools_file_setup(void)
{
    strcpy(pools_path, "/tmp/shim_units_pools_XXXXXX");
    int fd = mkstemp(pools_path);
    cr_assert_geq(fd, 0);
    close(fd);
    write_file(pools_path, "[{\"pool_id\":\"a\"},{\"pool_id\":\"b\"}]");
}

static void pools_file_teardown(void)
{
    unlink(pools_path);
}

#define SEC 1000000000ull

Test(pools_file, bad_content_reported_once_and_last_good_list_kept, .init = pools_file_setup,
     .fini = pools_file_teardown)
{
    shim_pools_file_t pf;
    char msg[1024];
    cr_assert_eq(shim_pools_file_open(&pf, pools_path, msg, sizeof(msg)), 0, "%s", msg);
    cr_assert_eq(pf.list.count, 2);
    cr_assert_eq(shim_pools_file_poll(&pf, 1 * SEC, msg, sizeof(msg)), 0);

    write_file(pools_path, "[{\"pool_id\":\"a\",\"slots_free\":-3}]");
    cr_assert_eq(shim_pools_file_poll(&pf, 2 * SEC, msg, sizeof(msg)), -1);
    cr_assert(strstr(msg, pools_path) && strstr(msg, "pool 0") && strstr(msg, "slots_free"), "%s",
              msg);
    cr_assert(strstr(msg, "keeping the last good list (2 pool(s))") != NULL, "%s", msg);
    cr_assert_eq(pf.list.count, 2);
    cr_assert_eq(shim_pools_file_poll(&pf, 3 * SEC, msg, sizeof(msg)), 0);

    write_file(pools_path, "[{\"pool_id\":\"a\",\"slots_free\":-3}]"); /* same problem again */
    cr_assert_eq(shim_pools_file_poll(&pf, 4 * SEC, msg, sizeof(msg)), 0);

    write_file(pools_path, "[{\"pool_id\":\"z\"}]");
    cr_assert_eq(shim_pools_file_poll(&pf, 5 * SEC, msg, sizeof(msg)), 1);
    cr_assert_eq(pf.list.count, 1);
    cr_assert_str_eq(pf.list.items[0].pool_id, "z");
    shim_pools_file_close(&pf);
}

Test(pools_file, checks_at_most_every_200_ms, .init = pools_file_setup, .fini = pools_file_teardown)
{
    shim_pools_file_t pf;
    char msg[1024];
    cr_assert_eq(shim_pools_file_open(&pf, pools_path, msg, sizeof(msg)), 0, "%s", msg);
    cr_assert_eq(shim_pools_file_poll(&pf, 10 * SEC, msg, sizeof(msg)), 0);
    write_file(pools_path, "[]");
    cr_assert_eq(shim_pools_file_poll(&pf, 10 * SEC + SHIM_POOLS_CHECK_NS - 1, msg, sizeof(msg)),
                 0);
    cr_assert_eq(pf.list.count, 2);
    cr_assert_eq(shim_pools_file_poll(&pf, 10 * SEC + SHIM_POOLS_CHECK_NS, msg, sizeof(msg)), 1);
    cr_assert_eq(pf.list.count, 0);
    shim_pools_file_close(&pf);
}

Test(pools_file, vanished_file_reported_once_then_recovers, .init = pools_file_setup,
     .fini = pools_file_teardown)
{
    shim_pools_file_t pf;
    char msg[1024];
    cr_assert_eq(shim_pools_file_open(&pf, pools_path, msg, sizeof(msg)), 0, "%s", msg);
    unlink(pools_path);
    cr_assert_eq(shim_pools_file_poll(&pf, 1 * SEC, msg, sizeof(msg)), -1);
    cr_assert(strstr(msg, "No such file") != NULL, "%s", msg);
    cr_assert_eq(shim_pools_file_poll(&pf, 2 * SEC, msg, sizeof(msg)), 0);
    write_file(pools_path, "[{\"pool_id\":\"back\"}]");
    cr_assert_eq(shim_pools_file_poll(&pf, 3 * SEC, msg, sizeof(msg)), 1);
    cr_assert_eq(pf.list.count, 1);
    shim_pools_file_close(&pf);
}

/* SIGHUP's reload: now, changed or not, and every rejection said, while
 * poll still reports a problem only once. */
Test(pools_file, reload_now_rereads_at_once_and_always_reports, .init = pools_file_setup,
     .fini = pools_file_teardown)
{
    shim_pools_file_t pf;
    char msg[1024];
    cr_assert_eq(shim_pools_file_open(&pf, pools_path, msg, sizeof(msg)), 0, "%s", msg);
    cr_assert_eq(shim_pools_file_poll(&pf, 10 * SEC, msg, sizeof(msg)), 0);
    cr_assert_eq(shim_pools_file_reload_now(&pf, msg, sizeof(msg)), 1, "an unchanged file too");
    cr_assert(strstr(msg, "reloaded, 2 pool(s)") != NULL, "%s", msg);

    write_file(pools_path, "[{\"pool_id\":\"a\",\"slots_free\":-3}]");
    cr_assert_eq(shim_pools_file_reload_now(&pf, msg, sizeof(msg)), -1);
    cr_assert(strstr(msg, "slots_free") && strstr(msg, "keeping the last good list (2 pool(s))"),
              "%s", msg);
    cr_assert_eq(shim_pools_file_reload_now(&pf, msg, sizeof(msg)), -1, "said again when asked");
    cr_assert_eq(shim_pools_file_poll(&pf, 11 * SEC, msg, sizeof(msg)), 0, "poll: already said");
    cr_assert_eq(pf.list.count, 2);

    write_file(pools_path, "[{\"pool_id\":\"z\"}]"); /* within the 200 ms poll period */
    cr_assert_eq(shim_pools_file_reload_now(&pf, msg, sizeof(msg)), 1);
    cr_assert_eq(pf.list.count, 1);
    cr_assert_eq(shim_pools_file_poll(&pf, 12 * SEC, msg, sizeof(msg)), 0, "nothing new for poll");
    unlink(pools_path);
    cr_assert_eq(shim_pools_file_reload_now(&pf, msg, sizeof(msg)), -1);
    cr_assert(strstr(msg, "No such file") != NULL, "%s", msg);
    cr_assert_eq(pf.list.count, 1);
    shim_pools_file_close(&pf);
}

Test(pools_file, missing_or_bad_file_fails_to_open)
{
    shim_pools_file_t pf;
    char msg[1024];
    cr_assert_eq(shim_pools_file_open(&pf, "/nonexistent/pools.json", msg, sizeof(msg)), -1);
    cr_assert(strstr(msg, "/nonexistent/pools.json") != NULL, "%s", msg);
    shim_pools_file_close(&pf);
}

/* ------------------------------------------------------------------ */
/* capabilities                                                       */
/* ------------------------------------------------------------------ */

static int parse_caps(const char *text, shim_capabilities_t *out)
{
    perr[0] = '\0';
    return shim_capabilities_parse(text, "caps.json", out, perr, sizeof(perr));
}

Test(capabilities, full_record)
{
    shim_capabilities_t c;
    cr_assert_eq(parse_caps("{\"gpus\":[{\"device_id\":1,\"name\":\"NVIDIA H200\","
                            "\"vram_total_bytes\":150000000000,\"compute_capability\":\"9.0\"}],"
                            "\"cpu_cores\":16,\"ram_total_bytes\":137438953472}",
                            &c),
                 0, "%s", perr);
    cr_assert_eq(c.gpu_count, 1);
    cr_assert_eq(c.gpus[0].device_id, 1);
    cr_assert_str_eq(c.gpus[0].name, "NVIDIA H200");
    cr_assert_str_eq(c.gpus[0].compute_capability, "9.0");
    cr_assert_eq(c.gpus[0].vram_total_bytes, 150000000000ull);
    cr_assert_eq(c.cpu_cores, 16);
    cr_assert_eq(c.ram_total_bytes, 137438953472ull);
    shim_capabilities_free(&c);
}

Test(capabilities, gpus_required_others_optional)
{
    shim_capabilities_t c;
    cr_assert_eq(parse_caps("{\"gpus\":[]}", &c), 0, "%s", perr);
    cr_assert_eq(c.gpu_count + c.cpu_cores + c.ram_total_bytes, 0);
    shim_capabilities_free(&c);
    cr_assert_eq(parse_caps("{\"cpu_cores\":4}", &c), -1);
    cr_assert(strstr(perr, "gpus is missing") != NULL, "%s", perr);
}

Test(capabilities, bad_gpu_fields_named)
{
    shim_capabilities_t c;
    cr_assert_eq(
        parse_caps("{\"gpus\":[{\"device_id\":0,\"name\":\"x\",\"vram_total_bytes\":1}]}", &c), -1);
    cr_assert(strstr(perr, "gpu 0: compute_capability is missing") != NULL, "%s", perr);
    cr_assert_eq(parse_caps("{\"gpus\":[{\"device_id\":0,\"name\":\"x\",\"vram_total_bytes\":1,"
                            "\"compute_capability\":\"sm_90\"}]}",
                            &c),
                 -1);
    cr_assert(strstr(perr, "compute_capability must read") != NULL, "%s", perr);
    cr_assert_eq(parse_caps("{\"gpus\":[],\"cpu_cores\":-1}", &c), -1);
    cr_assert(strstr(perr, "cpu_cores must not be negative") != NULL, "%s", perr);
    cr_assert_eq(parse_caps("{\"gpus\":[],\"gpu_count\":1}", &c), -1);
    cr_assert(strstr(perr, "unknown field \"gpu_count\"") != NULL, "%s", perr);
}

Test(capabilities, discovery_without_nvml_reports_this_machine_without_gpus)
{
    shim_capabilities_t c;
    char note[512];
    setenv("PMD_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    cr_assert_eq(shim_discover_capabilities(&c, note, sizeof(note)), 0);
    cr_assert_eq(c.cpu_cores, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));
    cr_assert_gt(c.ram_total_bytes, 0);
    cr_assert_eq(c.gpu_count, 0);
    cr_assert_str_eq(note, "event=gpu_discovery result=none "
                           "reason=\"/nonexistent/libnvidia-ml.so.1 not found\"");
    shim_capabilities_free(&c);
}

Test(capabilities, discovery_with_nvml_reports_index_name_memory_and_compute_capability)
{
    shim_capabilities_t c;
    char note[512];
    setenv("PMD_NVML_LIBRARY", FAKE_NVML_SO, 1);
    cr_assert_eq(shim_discover_capabilities(&c, note, sizeof(note)), 0);
    cr_assert_eq(c.gpu_count, 2, "%s", note);
    cr_assert_eq(c.gpus[0].device_id, 0);
    cr_assert_str_eq(c.gpus[0].name, "NVIDIA H200");
    cr_assert_eq(c.gpus[0].vram_total_bytes, 150754820096ull);
    cr_assert_str_eq(c.gpus[0].compute_capability, "9.0");
    cr_assert_eq(c.gpus[1].device_id, 1);
    cr_assert_str_eq(c.gpus[1].name, "NVIDIA A100-SXM4-80GB");
    cr_assert_str_eq(c.gpus[1].compute_capability, "8.0");
    cr_assert_gt(c.cpu_cores, 0);
    cr_assert_str_eq(note, "event=gpu_discovery result=ok gpus=2 library=" FAKE_NVML_SO);
    shim_capabilities_free(&c);
}

Test(capabilities, discovery_with_a_driver_that_fails_init_reports_no_gpus)
{
    shim_capabilities_t c;
    char note[512];
    setenv("PMD_NVML_LIBRARY", FAKE_NVML_SO, 1);
    setenv("FAKE_NVML_INIT_RESULT", "9", 1);
    cr_assert_eq(shim_discover_capabilities(&c, note, sizeof(note)), 0);
    cr_assert_eq(c.gpu_count, 0);
    cr_assert_str_eq(note,
                     "event=gpu_discovery result=none reason=\"nvmlInit_v2: Driver Not Loaded\"");
    shim_capabilities_free(&c);
}

Test(capabilities, library_without_nvml_symbols_reports_the_missing_one)
{
    shim_capabilities_t c;
    char note[512];
    setenv("PMD_NVML_LIBRARY", SHIM_PROBE_SO, 1); /* a library, but not NVML */
    cr_assert_eq(shim_discover_capabilities(&c, note, sizeof(note)), 0);
    cr_assert_eq(c.gpu_count, 0);
    cr_assert(strstr(note, "result=none reason=\"" SHIM_PROBE_SO " lacks nvmlInit_v2\""), "%s",
              note);
    shim_capabilities_free(&c);
}

Test(capabilities, to_json_reads_back_the_same)
{
    shim_capabilities_t c, back;
    shim_gpu_t g[2] = {{0, 150754820096ull, "NVIDIA H200", "9.0"},
                       {1, 1, "odd \"name\" \\ \xc3\xa9", "10.12"}};
    c = (shim_capabilities_t){g, 2, 8, 1024};
    char *json = shim_capabilities_to_json(&c);
    cr_assert_not_null(json);
    cr_assert_eq(parse_caps(json, &back), 0, "%s: %s", perr, json);
    cr_assert_eq(back.gpu_count, 2);
    cr_assert_str_eq(back.gpus[1].name, g[1].name);
    cr_assert_str_eq(back.gpus[1].compute_capability, "10.12");
    cr_assert_eq(back.gpus[0].vram_total_bytes, 150754820096ull);
    cr_assert_eq(back.cpu_cores, 8);
    cr_assert_eq(back.ram_total_bytes, 1024);
    shim_capabilities_free(&back);
    free(json);
    c = (shim_capabilities_t){NULL, 0, 0, 0};
    json = shim_capabilities_to_json(&c);
    cr_assert_eq(parse_caps(json, &back), 0, "%s: %s", perr, json);
    cr_assert_eq(back.gpu_count, 0);
    shim_capabilities_free(&back);
    free(json);
}

/* ------------------------------------------------------------------ */
/* the shim's host callbacks                                          */
/* ------------------------------------------------------------------ */

static char *read_stream(FILE *f)
{
    static char buf[8192];
    fflush(f);
    rewind(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    return buf;
}

static void *log_from_thread(void *arg)
{
    shim_host_t *h = arg;
    h->abi.log(h->abi.host_data, PMD_LOG_INFO, "from a thread");
    return NULL;
}

Test(host_callbacks, callback_outside_call_or_off_thread_is_a_violation)
{
    shim_host_t h;
    shim_pool_list_t none = {0};
    shim_capabilities_t caps = {0};
    pthread_t t;
    FILE *out = tmpfile();
    shim_host_setup(&h, out, "1.2.3", &none, &caps, NULL);
    cr_assert_eq(h.abi.struct_size, sizeof(pmd_host_t));
    cr_assert_str_eq(h.abi.host_name, "pmd-host-shim");
    shim_host_enter(&h, SHIM_CALL_TICK);
    h.abi.log(h.abi.host_data, PMD_LOG_INFO, "fine");
    cr_assert_eq(shim_host_violations(&h), 0);
    pthread_create(&t, NULL, log_from_thread, &h);
    pthread_join(t, NULL);
    shim_host_leave(&h);
    cr_assert_eq(shim_host_violations(&h), 1);
    h.abi.state_changed(h.abi.host_data, PMD_NODE_STOPPED, "late");
    cr_assert_eq(shim_host_violations(&h), 2);
    const char *text = read_stream(out);
    cr_assert(strstr(text, "ERROR plugin=pmd-host-shim event=abi_violation by=plugin callback=log "
                           "problem=\"called from a thread that is not the host thread\""),
              "%s", text);
    cr_assert(strstr(text, "event=abi_violation by=plugin callback=state_changed "
                           "problem=\"called outside an ABI call\""),
              "%s", text);
    cr_assert(strstr(text, "INFO  plugin=plugin event=state_changed state=stopped detail=late\n"),
              "%s", text);
    cr_assert(strstr(text, "INFO  plugin=plugin fine\n"), "%s", text);
    fclose(out);
}

static int32_t accept_all(void *data, const pmd_pool_status_t *p)
{
    (void)data;
    (void)p;
    return PMD_OK;
}

Test(host_callbacks, pools_during_init_or_destroy_are_a_violation_but_served)
{
    shim_host_t h;
    shim_pool_list_t none = {0};
    shim_capabilities_t caps = {0};
    FILE *out = tmpfile();
    pmd_pool_sink_t sink = {sizeof(sink), 0, NULL, accept_all};
    shim_host_setup(&h, out, "1", &none, &caps, NULL);
    shim_host_enter(&h, SHIM_CALL_INIT);
    cr_assert_eq(h.abi.list_pools(h.abi.host_data, &sink), PMD_OK);
    h.abi.state_changed(h.abi.host_data, PMD_NODE_IDLE, NULL);
    h.abi.log(h.abi.host_data, PMD_LOG_INFO, "logging is fine in init");
    shim_host_leave(&h);
    shim_host_enter(&h, SHIM_CALL_DESTROY);
    h.abi.state_changed(h.abi.host_data, PMD_NODE_STOPPED, NULL);
    shim_host_leave(&h);
    cr_assert_eq(shim_host_violations(&h), 2);
    const char *text = read_stream(out);
    cr_assert(strstr(text, "callback=list_pools problem=\"called during init\""), "%s", text);
    cr_assert(strstr(text, "callback=state_changed problem=\"called during init\""), "%s", text);
    fclose(out);
}

Test(call_rules, table_follows_the_abi_document)
{
    cr_assert(shim_callback_allowed_in(SHIM_CB_LOG, SHIM_CALL_INIT));
    cr_assert(shim_callback_allowed_in(SHIM_CB_LOG, SHIM_CALL_DESTROY));
    cr_assert_not(shim_callback_allowed_in(SHIM_CB_STATE_CHANGED, SHIM_CALL_INIT));
    cr_assert(shim_callback_allowed_in(SHIM_CB_STATE_CHANGED, SHIM_CALL_DESTROY));
    cr_assert_not(shim_callback_allowed_in(SHIM_CB_LIST_POOLS, SHIM_CALL_DESTROY));
    cr_assert_not(shim_callback_allowed_in(SHIM_CB_GET_CAPABILITIES, SHIM_CALL_INIT));
    cr_assert(shim_callback_allowed_in(SHIM_CB_GET_CAPABILITIES, SHIM_CALL_STOP));
    cr_assert(shim_callback_allowed_in(SHIM_CB_LIST_POOLS, SHIM_CALL_ANY));
}

static int32_t refuse_all(void *data, const pmd_pool_status_t *p)
{
    (void)data;
    (void)p;
    return PMD_ERR_HOST_DATA;
}

Test(host_callbacks, sink_refusal_logged_once_per_condition)
{
    shim_host_t h;
    shim_pool_list_t pools;
    shim_capabilities_t caps = {0};
    FILE *out = tmpfile();
    cr_assert_eq(parse_pools("[{\"pool_id\":\"a\"}]", &pools), 0);
    shim_host_setup(&h, out, "1", &pools, &caps, NULL);
    pmd_pool_sink_t sink = {sizeof(sink), 0, NULL, refuse_all};
    shim_host_enter(&h, SHIM_CALL_TICK);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(h.abi.list_pools(h.abi.host_data, &sink), PMD_OK);
    shim_host_leave(&h);
    const char *text = read_stream(out);
    const char *first = strstr(text, "WARN  plugin=pmd-host-shim event=host_data_refused by=plugin "
                                     "reason=\"pool sink refused pool 0 (\\\"a\\\"): invalid "
                                     "data from host (8)\"\n");
    cr_assert_not_null(first, "%s", text);
    cr_assert_null(strstr(strstr(first, "pool sink refused") + 1, "pool sink refused"), "%s", text);
    shim_pools_free(&pools);
    fclose(out);
}

/* ------------------------------------------------------------------ */
/* the test host, against the probe plugin                           */
/* ------------------------------------------------------------------ */

static host_loaded_plugin_t probe;
static test_host_t *th;

static void probe_setup(void)
{
    char err[512];
    cr_assert_eq(host_loader_open(SHIM_PROBE_SO, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR,
                                  &probe, err, sizeof(err)),
                 PMD_OK, "%s", err);
    th = test_host_new();
    cr_assert_not_null(th);
}

static void probe_teardown(void)
{
    test_host_free(th);
    host_loader_close(&probe);
}

static pmd_instance_t *probe_started(const char *config)
{
    pmd_instance_t *in = NULL;
    char err[256] = "";
    cr_assert_eq(th_init(th, probe.plugin, config, &in, err, sizeof(err)), PMD_OK, "%s", err);
    cr_assert_eq(th_start(th, probe.plugin, in), PMD_OK);
    return in;
}

static int saw_two_pools(void *arg)
{
    return test_host_log_contains(arg, "probe: pools rc=0 a:1:0:2/4:7:llamacpp b:");
}

Test(test_host, serves_pools_and_records_logs_and_states, .init = probe_setup,
     .fini = probe_teardown)
{
    cr_assert_eq(test_host_set_pools_json(th, "[{\"pool_id\":\"a\",\"ready\":true,\"slots_free\":2,"
                                              "\"slots_total\":4,\"vram_free_bytes\":7,"
                                              "\"engine\":\"llamacpp\"},{\"pool_id\":\"b\"}]"),
                 0);
    pmd_instance_t *in = probe_started("{\"pools_every_ticks\":2,\"state_detail\":\"up\"}");
    cr_assert(th_tick_until(th, probe.plugin, in, saw_two_pools, th, 2000));
    cr_assert_geq(test_host_list_pools_calls(th), 1);
    cr_assert_eq(test_host_state(th, 0), PMD_NODE_REGISTERED);
    cr_assert_str_eq(test_host_state_detail(th, 0), "up");
    cr_assert_eq(th_stop(th, probe.plugin, in), PMD_OK);
    cr_assert_eq(test_host_last_state(th), PMD_NODE_STOPPED);
    th_destroy(th, probe.plugin, in);
    cr_assert(test_host_log_contains(th, "probe: destroy"));
    cr_assert_str_eq(test_host_log(th, 0), "probe: init (host test_host 0)");
    cr_assert_eq(test_host_log_level(th, 0), PMD_LOG_INFO);
    cr_assert_null(test_host_log(th, 9999));
    cr_assert_eq(test_host_violations(th), 0);
}

Test(test_host, bad_pools_json_keeps_previous_list, .init = probe_setup, .fini = probe_teardown)
{
    cr_assert_eq(test_host_set_pools_json(th, "[{\"pool_id\":\"a\"}]"), 0);
    cr_assert_eq(test_host_set_pools_json(th, "[{\"ready\":true}]"), -1);
    cr_assert(strstr(test_host_last_error(th), "pool_id is missing") != NULL);
    pmd_instance_t *in = probe_started("{\"pools_every_ticks\":1}");
    th_tick(th, probe.plugin, in, th_now_ns());
    cr_assert(test_host_log_contains(th, "probe: pools rc=0 a:0:0:0/0:0:-"));
    th_destroy(th, probe.plugin, in);
}

Test(test_host, serves_capabilities_and_failure_results, .init = probe_setup,
     .fini = probe_teardown)
{
    cr_assert_eq(test_host_set_capabilities_json(
                     th, "{\"gpus\":[{\"device_id\":0,\"name\":\"G\","
                         "\"vram_total_bytes\":8,\"compute_capability\":\"8.6\"}],"
                         "\"cpu_cores\":3}"),
                 0);
    pmd_instance_t *in = probe_started("{\"caps_at_start\":true}");
    cr_assert(test_host_log_contains(th, "probe: caps rc=0 cpu=3 ram=0 gpu0:G:8.6:8"));
    th_destroy(th, probe.plugin, in);
    test_host_set_capabilities_result(th, PMD_ERR_RESOURCE);
    in = probe_started("{\"caps_at_start\":true}");
    cr_assert(test_host_log_contains(th, "probe: caps rc=6"));
    cr_assert_eq(test_host_capabilities_calls(th), 2);
    th_destroy(th, probe.plugin, in);
}

Test(test_host, counts_sink_refusals, .init = probe_setup, .fini = probe_teardown)
{
    test_host_set_pools_json(th, "[{\"pool_id\":\"x\"},{\"pool_id\":\"y\"}]");
    pmd_instance_t *in = probe_started("{\"pools_every_ticks\":1,\"refuse_pool\":\"y\"}");
    th_tick(th, probe.plugin, in, th_now_ns());
    th_tick(th, probe.plugin, in, th_now_ns());
    cr_assert_eq(test_host_sink_refusals(th), 2);
    th_destroy(th, probe.plugin, in);
}

Test(test_host, callback_from_plugin_thread_is_a_violation, .init = probe_setup,
     .fini = probe_teardown)
{
    pmd_instance_t *in = probe_started("{\"thread_callback\":true}");
    cr_assert_eq(test_host_violations(th), 1);
    cr_assert_str_eq(test_host_violation(th, 0),
                     "log called from a thread that is not the host thread");
    cr_assert(test_host_log_contains(th, "probe: log from a plugin thread"));
    th_destroy(th, probe.plugin, in);
}

Test(test_host, callback_outside_a_call_is_a_violation, .init = probe_setup, .fini = probe_teardown)
{
    const pmd_host_t *h = test_host_abi(th);
    cr_assert_eq(h->struct_size, sizeof(pmd_host_t));
    h->log(h->host_data, PMD_LOG_INFO, "stray");
    cr_assert_eq(test_host_violations(th), 1);
    cr_assert_str_eq(test_host_violation(th, 0), "log called outside an ABI call");
    cr_assert_eq(test_host_log_count(th), 1);
    test_host_enter(th);
    test_host_enter(th);
    test_host_leave(th);
    h->log(h->host_data, PMD_LOG_INFO, "nested is still inside");
    test_host_leave(th);
    cr_assert_eq(test_host_violations(th), 1);
}

Test(test_host, callback_not_allowed_in_the_call_is_a_violation, .init = probe_setup,
     .fini = probe_teardown)
{
    const pmd_host_t *h = test_host_abi(th);
    pmd_pool_sink_t sink = {sizeof(sink), 0, NULL, accept_all};
    pmd_instance_t *in = probe_started("{}");
    test_host_enter(th);
    cr_assert_eq(h->list_pools(h->host_data, &sink), PMD_OK); /* by hand: thread rules only */
    test_host_leave(th);
    cr_assert_eq(test_host_violations(th), 0);
    th_destroy(th, probe.plugin, in); /* the probe logs and reports no state in destroy */
    cr_assert_eq(test_host_violations(th), 0);
    pmd_instance_t *in2 = NULL;
    cr_assert_eq(th_init(th, probe.plugin, "{\"pools_in_init\":true}", &in2, NULL, 0), PMD_OK);
    cr_assert_eq(test_host_violations(th), 1);
    cr_assert_str_eq(test_host_violation(th, 0), "list_pools called during init");
    th_destroy(th, probe.plugin, in2);
}

Test(test_host, abi_can_claim_an_older_layout, .init = probe_setup, .fini = probe_teardown)
{
    test_host_set_abi(th, PMD_HOST_SIZE_1_0, PMD_ABI_VERSION_MAJOR, 0);
    cr_assert_eq(test_host_abi(th)->struct_size, PMD_HOST_SIZE_1_0);
    cr_assert_eq(test_host_abi(th)->abi_minor, 0);
    cr_assert_eq(test_host_last_state(th), -1);
}

/* ------------------------------------------------------------------ */
/* metrics text and status line                                       */
/* ------------------------------------------------------------------ */

static int count_in(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static shim_metrics_snapshot_t stats_snapshot(const char *node_id)
{
    shim_metrics_snapshot_t snap;
    pmd_stats_t st;
    memset(&snap, 0, sizeof(snap));
    memset(&st, 0, sizeof(st));
    snprintf(snap.plugin_name, sizeof(snap.plugin_name), "node_registration");
    snprintf(snap.plugin_version, sizeof(snap.plugin_version), "0.1.0");
    st.struct_size = sizeof(st);
    st.state = PMD_NODE_DEGRADED;
    st.state_since_unix_ms = 1700000000123ull;
    st.registrations_ok = 2;
    st.registrations_failed_transport = 3;
    st.registrations_failed_status = 4;
    st.registrations_failed_auth = 5;
    st.reregistrations = 14;
    st.heartbeats_ok = UINT64_MAX;
    st.heartbeats_failed_transport = 6;
    st.heartbeats_failed_status = 7;
    st.heartbeats_failed_auth = 8;
    st.heartbeats_not_registered = 9;
    st.deregistrations_ok = 10;
    st.deregistrations_failed = 11;
    st.consecutive_failures = 3;
    st.last_heartbeat_ok_unix_ms = 1700000001005ull;
    st.last_heartbeat_latency_us = 1234567;
    st.connections_opened = 12;
    st.events_dropped = 13;
    st.node_id = node_id;
    st.last_error = "HTTP 500";
    shim_metrics_snapshot_set_stats(&snap, &st);
    snap.log_write_failures = 15;
    return snap;
}

Test(metrics_format, every_family_announced_and_valid_prometheus_text)
{
    shim_metrics_snapshot_t snap = stats_snapshot("gpu-1");
    size_t len = 0;
    char *text = shim_metrics_format(&snap, &len);
    cr_assert_not_null(text);
    cr_assert_eq(len, strlen(text));
    const char *why = prom_check_text(text);
    cr_assert_null(why, "%s\n%s", why, text);
    static const char *const families[][2] = {
        {"pmd_plugin_info", "gauge"},
        {"pmd_stats_available", "gauge"},
        {"pmd_node_state", "gauge"},
        {"pmd_node_state_change_timestamp_seconds", "gauge"},
        {"pmd_registrations_total", "counter"},
        {"pmd_reregistrations_total", "counter"},
        {"pmd_heartbeats_total", "counter"},
        {"pmd_deregistrations_total", "counter"},
        {"pmd_heartbeat_consecutive_failures", "gauge"},
        {"pmd_last_heartbeat_success_timestamp_seconds", "gauge"},
        {"pmd_last_heartbeat_latency_seconds", "gauge"},
        {"pmd_request_duration_seconds", "histogram"},
        {"pmd_connections_opened_total", "counter"},
        {"pmd_events_dropped_total", "counter"},
        {"pmd_log_write_failures_total", "counter"}};
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        char type[128];
        snprintf(type, sizeof(type), "# TYPE %s %s\n", families[i][0], families[i][1]);
        cr_assert(strstr(text, type) != NULL, "no \"%s\" in\n%s", type, text);
    }
    free(text);
}

Test(metrics_format, values_are_exact)
{
    shim_metrics_snapshot_t snap = stats_snapshot("gpu-1");
    char *text = shim_metrics_format(&snap, NULL);
    static const char *const lines[] = {
        "pmd_plugin_info{plugin=\"node_registration\",version=\"0.1.0\"} 1\n",
        "pmd_stats_available 1\n",
        "pmd_node_state{node_id=\"gpu-1\",state=\"registered\"} 0\n",
        "pmd_node_state{node_id=\"gpu-1\",state=\"degraded\"} 1\n",
        "pmd_node_state_change_timestamp_seconds{node_id=\"gpu-1\"} 1700000000.123\n",
        "pmd_registrations_total{node_id=\"gpu-1\",result=\"ok\"} 2\n",
        "pmd_registrations_total{node_id=\"gpu-1\",result=\"transport\"} 3\n",
        "pmd_registrations_total{node_id=\"gpu-1\",result=\"status\"} 4\n",
        "pmd_registrations_total{node_id=\"gpu-1\",result=\"auth\"} 5\n",
        "pmd_reregistrations_total{node_id=\"gpu-1\"} 14\n",
        "pmd_heartbeats_total{node_id=\"gpu-1\",result=\"ok\"} 18446744073709551615\n",
        "pmd_heartbeats_total{node_id=\"gpu-1\",result=\"transport\"} 6\n",
        "pmd_heartbeats_total{node_id=\"gpu-1\",result=\"status\"} 7\n",
        "pmd_heartbeats_total{node_id=\"gpu-1\",result=\"auth\"} 8\n",
        "pmd_heartbeats_total{node_id=\"gpu-1\",result=\"not_registered\"} 9\n",
        "pmd_deregistrations_total{node_id=\"gpu-1\",result=\"ok\"} 10\n",
        "pmd_deregistrations_total{node_id=\"gpu-1\",result=\"failed\"} 11\n",
        "pmd_heartbeat_consecutive_failures{node_id=\"gpu-1\"} 3\n",
        "pmd_last_heartbeat_success_timestamp_seconds{node_id=\"gpu-1\"} 1700000001.005\n",
        "pmd_last_heartbeat_latency_seconds{node_id=\"gpu-1\"} 1.234567\n",
        "pmd_request_duration_seconds_bucket{node_id=\"gpu-1\",request=\"heartbeat\",le=\"1\"} 0\n",
        "pmd_request_duration_seconds_bucket{node_id=\"gpu-1\",request=\"heartbeat\",le=\"2.5\"} "
        "1\n",
        "pmd_request_duration_seconds_bucket{node_id=\"gpu-1\",request=\"heartbeat\",le=\"+Inf\"} "
        "1\n",
        "pmd_request_duration_seconds_sum{node_id=\"gpu-1\",request=\"heartbeat\"} 1.234567\n",
        "pmd_request_duration_seconds_count{node_id=\"gpu-1\",request=\"heartbeat\"} 1\n",
        "pmd_connections_opened_total{node_id=\"gpu-1\"} 12\n",
        "pmd_events_dropped_total{node_id=\"gpu-1\"} 13\n",
        "pmd_log_write_failures_total 15\n"};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        cr_assert(strstr(text, lines[i]) != NULL, "no \"%s\" in\n%s", lines[i], text);
    cr_assert_eq(count_in(text, "pmd_node_state{"), 7, "%s", text);
    int ones = 0;
    for (const char *p = text; (p = strstr(p, "\npmd_node_state{")) != NULL; p++)
        ones += strncmp(strchr(p, '}'), "} 1\n", 4) == 0;
    cr_assert_eq(ones, 1, "one state at 1, the others at 0:\n%s", text);
    cr_assert_null(strstr(text, "HTTP 500"), "last_error is no label: %s", text);
    free(text);
}

Test(metrics_format, odd_node_id_is_escaped_in_every_label)
{
    shim_metrics_snapshot_t snap = stats_snapshot("a\"b\\c\nd");
    char *text = shim_metrics_format(&snap, NULL);
    cr_assert(strstr(text, "pmd_node_state{node_id=\"a\\\"b\\\\c\\nd\",state=\"degraded\"} 1\n"),
              "%s", text);
    cr_assert_eq(count_in(text, "node_id=\"a\\\"b\\\\c\\nd\""), 39 + 11 + 3, "%s",
                 text); /* + the register histogram */
    const char *why = prom_check_text(text);
    cr_assert_null(why, "%s\n%s", why, text);
    free(text);
}

Test(metrics_format, label_escape_rules)
{
    char out[64];
    cr_assert_eq(shim_metrics_escape_label(out, sizeof(out), "a\"b\\c\nd"), 10);
    cr_assert_str_eq(out, "a\\\"b\\\\c\\nd");
    shim_metrics_escape_label(out, sizeof(out), "caf\xc3\xa9 \xff|\xc0\x80|\ttab");
    cr_assert_str_eq(out, "caf\xc3\xa9 \xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|\ttab");
    shim_metrics_escape_label(out, 6, "ab\"cd");
    cr_assert_str_eq(out, "ab\\\"c", "an escape is never cut in half");
    shim_metrics_escape_label(out, 4, "ab\"");
    cr_assert_str_eq(out, "ab");
}

Test(metrics_format, without_stats_only_plugin_info_stats_available_zero_and_host_series)
{
    shim_metrics_snapshot_t snap;
    memset(&snap, 0, sizeof(snap));
    snprintf(snap.plugin_name, sizeof(snap.plugin_name), "ex\"ample");
    snprintf(snap.plugin_version, sizeof(snap.plugin_version), "1.0");
    snap.log_write_failures = 3;
    char *text = shim_metrics_format(&snap, NULL);
    cr_assert_str_eq(text,
                     "# HELP pmd_plugin_info The plugin the host loaded (always 1).\n"
                     "# TYPE pmd_plugin_info gauge\n"
                     "pmd_plugin_info{plugin=\"ex\\\"ample\",version=\"1.0\"} 1\n"
                     "# HELP pmd_stats_available 1 when the plugin offers pmd.ext.stats/1, else 0 "
                     "and none of the plugin's counters.\n"
                     "# TYPE pmd_stats_available gauge\n"
                     "pmd_stats_available 0\n"
                     "# HELP pmd_log_write_failures_total Log lines the host could not write to "
                     "its stderr (closed pipe or descriptor).\n"
                     "# TYPE pmd_log_write_failures_total counter\n"
                     "pmd_log_write_failures_total 3\n");
    free(text);
}

Test(metrics_format, snapshot_copies_strings_and_respects_a_small_struct)
{
    shim_metrics_snapshot_t snap;
    memset(&snap, 0, sizeof(snap));
    pmd_stats_t st = {.struct_size = PMD_STATS_MIN_SIZE, .state = 2, .node_id = "ignored"};
    shim_metrics_snapshot_set_stats(&snap, &st);
    cr_assert_str_eq(snap.node_id, "");
    cr_assert_eq(snap.stats_available, 1);
    char id[] = "gpu-9";
    st = (pmd_stats_t){.struct_size = sizeof(st), .node_id = id};
    shim_metrics_snapshot_set_stats(&snap, &st);
    id[0] = 'X';
    cr_assert_str_eq(snap.node_id, "gpu-9");
    cr_assert_null(snap.stats.node_id);
}

Test(status_line, state_heartbeat_age_and_failures)
{
    char out[128];
    shim_metrics_snapshot_t snap = stats_snapshot("gpu-1");
    shim_status_format(out, sizeof(out), &snap, -1, 1700000003105ull);
    cr_assert_str_eq(out, "degraded, last heartbeat 2.1 s ago, 3 failures");
    snap.stats.state = PMD_NODE_REGISTERED;
    snap.stats.consecutive_failures = 1;
    shim_status_format(out, sizeof(out), &snap, -1, 1700000001005ull);
    cr_assert_str_eq(out, "registered, last heartbeat 0.0 s ago, 1 failure");
    snap.stats.last_heartbeat_ok_unix_ms = 0;
    snap.stats.state = 42;
    shim_status_format(out, sizeof(out), &snap, -1, 1700000001005ull);
    cr_assert_str_eq(out, "state-42, no heartbeat yet, 1 failure");
    memset(&snap, 0, sizeof(snap));
    shim_status_format(out, sizeof(out), &snap, PMD_NODE_REGISTERED, 0);
    cr_assert_str_eq(out, "registered, no stats from the plugin");
    shim_status_format(out, sizeof(out), &snap, -1, 0);
    cr_assert_str_eq(out, "no state yet, no stats from the plugin");
}

Test(log_line, quote_leaves_bare_words_and_escapes_the_rest)
{
    char out[64];
    cr_assert_str_eq(log_line_quote(out, sizeof(out), "registered"), "registered");
    cr_assert_str_eq(log_line_quote(out, sizeof(out), "HTTP 500"), "\"HTTP 500\"");
    cr_assert_str_eq(log_line_quote(out, sizeof(out), ""), "\"\"");
    cr_assert_str_eq(log_line_quote(out, sizeof(out), "a=b"), "\"a=b\"");
    cr_assert_str_eq(log_line_quote(out, sizeof(out), "say \"hi\" \\o/"),
                     "\"say \\\"hi\\\" \\\\o/\"");
    cr_assert_str_eq(log_line_quote(out, sizeof(out), "two\nlines"), "\"two\nlines\"");
    cr_assert_str_eq(log_line_quote(out, 8, "abc def ghi"), "\"abc d\"");
}

Test(call_rules, no_callback_during_stats_get)
{
    cr_assert_not(shim_callback_allowed_in(SHIM_CB_LOG, SHIM_CALL_STATS));
    cr_assert_not(shim_callback_allowed_in(SHIM_CB_STATE_CHANGED, SHIM_CALL_STATS));
    cr_assert_not(shim_callback_allowed_in(SHIM_CB_LIST_POOLS, SHIM_CALL_STATS));
    cr_assert_str_eq(shim_call_name(SHIM_CALL_STATS), "stats get");
}

/* ------------------------------------------------------------------ */
/* issue 14: histogram, STATUS= text, journal lines, levels, notify,   */
/* listen addresses, JSON error positions                              */
/* ------------------------------------------------------------------ */

Test(metrics_format, latency_observed_once_each_time_the_ok_counter_moves)
{
    shim_metrics_snapshot_t snap;
    memset(&snap, 0, sizeof(snap));
    pmd_stats_t st = {.struct_size = sizeof(st), .node_id = "n"};
    shim_metrics_snapshot_set_stats(&snap, &st); /* no heartbeat yet: nothing */
    cr_assert_eq(snap.heartbeat_latency.count, 0);
    st.heartbeats_ok = 1;
    st.last_heartbeat_latency_us = 3000; /* 3 ms: the 5 ms bucket */
    shim_metrics_snapshot_set_stats(&snap, &st);
    shim_metrics_snapshot_set_stats(&snap, &st); /* counter did not move */
    st.heartbeats_ok = 4;
    st.last_heartbeat_latency_us = 12000000; /* 12 s: past every bucket */
    shim_metrics_snapshot_set_stats(&snap, &st);
    cr_assert_eq(snap.heartbeat_latency.count, 2);
    cr_assert_eq(snap.heartbeat_latency.bucket[0], 1);
    cr_assert_eq(snap.heartbeat_latency.sum_us, 12003000);
    char *text = shim_metrics_format(&snap, NULL);
    cr_assert(strstr(text,
                     "pmd_request_duration_seconds_bucket{node_id=\"n\",request=\"heartbeat\","
                     "le=\"10\"} 1\n"),
              "%s", text);
    cr_assert(strstr(text,
                     "pmd_request_duration_seconds_bucket{node_id=\"n\",request=\"heartbeat\","
                     "le=\"+Inf\"} 2\n"),
              "%s", text);
    cr_assert(strstr(text, "pmd_request_duration_seconds_sum{node_id=\"n\",request=\"heartbeat\"} "
                           "12.003000\n"),
              "%s", text);
    const char *why = prom_check_text(text);
    cr_assert_null(why, "%s\n%s", why, text);
    free(text);
}

Test(metrics_format, registration_latency_is_a_second_series_of_the_histogram)
{
    shim_metrics_snapshot_t snap;
    memset(&snap, 0, sizeof(snap));
    pmd_stats_t st = {.struct_size = sizeof(st), .node_id = "n"};
    st.registrations_ok = 1;
    st.last_registration_latency_us = 2000; /* 2 ms */
    shim_metrics_snapshot_set_stats(&snap, &st);
    cr_assert_eq(snap.registration_latency.count, 1);
    cr_assert_eq(snap.heartbeat_latency.count, 0);
    /* a 1.1 plugin's stats end before the field: no sample */
    st.struct_size = (uint32_t)offsetof(pmd_stats_t, last_registration_latency_us);
    st.registrations_ok = 2;
    shim_metrics_snapshot_set_stats(&snap, &st);
    cr_assert_eq(snap.registration_latency.count, 1);
    char *text = shim_metrics_format(&snap, NULL);
    cr_assert(strstr(text, "pmd_request_duration_seconds_count{node_id=\"n\",request=\"register\"} "
                           "1\n"),
              "%s", text);
    const char *why = prom_check_text(text);
    cr_assert_null(why, "%s\n%s", why, text);
    free(text);
}

Test(prom_text_check, refuses_a_family_whose_label_names_differ)
{
    const char *why = prom_check_text("# HELP x_total X.\n# TYPE x_total counter\n"
                                      "x_total{result=\"ok\"} 1\n"
                                      "x_total{result=\"failed\",reason=\"auth\"} 1\n");
    cr_assert_not_null(why);
    cr_assert(strstr(why, "label names differ"), "%s", why);
}

Test(status_line, brief_text_for_systemd_in_whole_seconds)
{
    char out[128];
    shim_metrics_snapshot_t snap = stats_snapshot("gpu-1");
    shim_status_format_brief(out, sizeof(out), &snap, -1, 1700000003105ull);
    cr_assert_str_eq(out, "degraded, last heartbeat 2 s ago, 3 failures in a row");
    snap.stats.state = PMD_NODE_REGISTERED;
    snap.stats.consecutive_failures = 0;
    shim_status_format_brief(out, sizeof(out), &snap, -1, 1700000003999ull);
    cr_assert_str_eq(out, "registered, last heartbeat 2 s ago");
    memset(&snap, 0, sizeof(snap));
    shim_status_format_brief(out, sizeof(out), &snap, PMD_NODE_REGISTERED, 0);
    cr_assert_str_eq(out, "registered");
}

Test(log_line, journal_format_has_a_priority_and_no_timestamp)
{
    char line[256];
    log_line_format_journal(line, sizeof(line), "WARN", "plugin=x event=y\nforged");
    cr_assert_str_eq(line, "<4>WARN  plugin=x event=y\\nforged\n");
    log_line_format_journal(line, sizeof(line), "ERROR", "e");
    cr_assert_str_eq(line, "<3>ERROR e\n");
    log_line_format_journal(line, sizeof(line), "DEBUG", "d");
    cr_assert_str_eq(line, "<7>DEBUG d\n");
    cr_assert_eq(log_line_syslog_priority("INFO"), 6);
    cr_assert_eq(log_line_syslog_priority("STATUS"), 6);
    cr_assert_eq(log_line_syslog_priority("LOG?"), 5);
}

Test(log_line, levels_parse_and_filter)
{
    cr_assert_eq(log_line_parse_level("debug"), LOG_LEVEL_DEBUG);
    cr_assert_eq(log_line_parse_level("info"), LOG_LEVEL_INFO);
    cr_assert_eq(log_line_parse_level("warn"), LOG_LEVEL_WARN);
    cr_assert_eq(log_line_parse_level("error"), LOG_LEVEL_ERROR);
    cr_assert_eq(log_line_parse_level("INFO"), -1);
    cr_assert_eq(log_line_parse_level("verbose"), -1);
    log_line_set_max_level(LOG_LEVEL_WARN);
    cr_assert(log_line_enabled("ERROR") && log_line_enabled("WARN"));
    cr_assert(!log_line_enabled("INFO") && !log_line_enabled("DEBUG"));
    cr_assert(log_line_enabled("STATUS"), "--status-every governs the status line");
    cr_assert(log_line_enabled("LOG?"), "an unknown level counts as WARN");
    log_line_set_max_level(LOG_LEVEL_DEBUG);
    cr_assert(log_line_enabled("DEBUG"));
}

Test(log_line, journal_stream_must_name_the_descriptor)
{
    int fds[2];
    struct stat st;
    char value[64];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(fstat(fds[1], &st), 0);
    snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    cr_assert(log_line_is_journal(value, fds[1]));
    int null_fd = open("/dev/null", O_WRONLY);
    cr_assert_not(log_line_is_journal(value, null_fd), "another file");
    close(null_fd);
    snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + 1);
    cr_assert_not(log_line_is_journal(value, fds[1]));
    cr_assert_not(log_line_is_journal(NULL, fds[1]));
    cr_assert_not(log_line_is_journal("", fds[1]));
    cr_assert_not(log_line_is_journal("12", fds[1]));
    snprintf(value, sizeof(value), "%llu:%llux", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    cr_assert_not(log_line_is_journal(value, fds[1]));
    close(fds[0]);
    close(fds[1]);
}

Test(sd_notify, address_path_and_abstract)
{
    struct sockaddr_un a;
    socklen_t len = 0;
    cr_assert_eq(shim_notify_parse_address("/run/systemd/notify", &a, &len), 0);
    cr_assert_str_eq(a.sun_path, "/run/systemd/notify");
    cr_assert_eq(len, offsetof(struct sockaddr_un, sun_path) + 20);
    cr_assert_eq(shim_notify_parse_address("@pmd/notify", &a, &len), 0);
    cr_assert_eq(a.sun_path[0], '\0');
    cr_assert_eq(memcmp(a.sun_path + 1, "pmd/notify", 10), 0);
    cr_assert_eq(len, offsetof(struct sockaddr_un, sun_path) + 11, "no NUL counted");
    cr_assert_eq(shim_notify_parse_address("relative/path", &a, &len), -1);
    cr_assert_eq(shim_notify_parse_address("", &a, &len), -1);
    cr_assert_eq(shim_notify_parse_address("@", &a, &len), -1);
    char too_long[200];
    memset(too_long, 'a', sizeof(too_long) - 1);
    too_long[0] = '/';
    too_long[sizeof(too_long) - 1] = '\0';
    cr_assert_eq(shim_notify_parse_address(too_long, &a, &len), -1);
}

Test(sd_notify, watchdog_period_is_half_the_timeout_for_this_process_only)
{
    cr_assert_eq(shim_notify_watchdog_period("30000000", NULL, 42), 15000000000ull);
    cr_assert_eq(shim_notify_watchdog_period("30000000", "42", 42), 15000000000ull);
    cr_assert_eq(shim_notify_watchdog_period("30000000", "43", 42), 0);
    cr_assert_eq(shim_notify_watchdog_period(NULL, NULL, 42), 0);
    cr_assert_eq(shim_notify_watchdog_period("0", NULL, 42), 0);
    cr_assert_eq(shim_notify_watchdog_period("-5", NULL, 42), 0);
    cr_assert_eq(shim_notify_watchdog_period("10s", NULL, 42), 0);
}

Test(listen_address, ipv4_ipv6_and_refusals)
{
    shim_listen_address_t a;
    char out[64];
    cr_assert_eq(shim_listen_parse("127.0.0.1:9464", &a), 0);
    cr_assert_str_eq(shim_listen_format(&a, 9464, out, sizeof(out)), "127.0.0.1:9464");
    cr_assert_eq(shim_listen_parse("0.0.0.0:0", &a), 0);
    cr_assert_str_eq(shim_listen_format(&a, 41000, out, sizeof(out)), "0.0.0.0:41000");
    cr_assert_eq(shim_listen_parse("[::1]:9464", &a), 0);
    cr_assert_eq(a.addr.ss_family, AF_INET6);
    cr_assert_str_eq(shim_listen_format(&a, 9464, out, sizeof(out)), "[::1]:9464");
    static const char *const bad[] = {"localhost:9464",
                                      "127.0.0.1",
                                      "127.0.0.1:",
                                      ":9464",
                                      "127.0.0.1:65536",
                                      "127.0.0.1:-1",
                                      "::1:9464",
                                      "[::1]9464",
                                      "127.0.0.1:94x",
                                      "[127.0.0.1]:9464",
                                      ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(shim_listen_parse(bad[i], &a), -1, "%s", bad[i]);
    shim_listen_loopback(9464, &a);
    cr_assert_str_eq(shim_listen_format(&a, 9464, out, sizeof(out)), "127.0.0.1:9464");
}

Test(json_fields, syntax_errors_give_line_and_column)
{
    char err[256];
    cr_assert_null(shim_json_parse("{\n  \"a\": 1,\n  \"b\": [1 2]\n}", err, sizeof(err)));
    cr_assert_str_eq(err, "3:11: JSON syntax error: array value separator ',' expected");
    cr_assert_null(shim_json_parse("{\"a\": 1", err, sizeof(err)));
    cr_assert_str_eq(err, "1:8: JSON syntax error: unexpected end of text");
    cr_assert_null(shim_json_parse("{\"\xc3\xa9\": 1} x", err, sizeof(err)));
    cr_assert_str_eq(err, "1:10: JSON syntax error: unexpected character",
                     "columns count characters, not bytes");
    cr_assert_null(shim_json_parse("[1,\n 99999999999999999999]", err, sizeof(err)));
    cr_assert_str_eq(err, "2:2: integer is out of the 64-bit range");
}
