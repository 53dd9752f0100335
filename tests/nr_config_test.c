/* Unit tests of nr_config.c: layering (config > defaults > environment >
 * documented defaults), one test per validation rule, and the token's
 * secrecy: every failing parse goes through parse_fails(), which checks that
 * no error message ever contains a token value. The environment is a fake
 * lookup; nothing here calls setenv. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nr_config.h"

/* Distinctive token values: none of their parts may appear in an error. */
#define SECRET "SeCrEt-T0k3n-xyzzy"
#define FILE_SECRET "FiLeSeCrEt-plugh"

#define ADDRESS "\"address\":\"http://10.0.0.5:9200\""
#define URL "\"orchestratord_url\":\"https://cp.example.com\""
#define NODE "\"node_id\":\"n1\""
#define TOKEN "\"api_token\":\"" SECRET "\""
/* A valid config carrying a token, plus the keys under test. */
#define CFG(...) "{" ADDRESS "," URL "," NODE "," TOKEN "," __VA_ARGS__ "}"
#define MINIMAL "{" ADDRESS "," URL "," NODE "}"

/* ---------------------------------------------------------------------- */
/* helpers                                                                */
/* ---------------------------------------------------------------------- */

/* ctx: a NULL-terminated array of "NAME=value". */
static const char *env_lookup(const char *name, void *ctx)
{
    const char *const *kv = ctx;
    size_t n = strlen(name);
    for (; kv != NULL && *kv != NULL; kv++) {
        if (strncmp(*kv, name, n) == 0 && (*kv)[n] == '=')
            return *kv + n + 1;
    }
    return NULL;
}

static const char *const no_env[] = {NULL};
static const char *const secret_env[] = {"LLORCH_API_TOKEN=" SECRET, NULL};

static nr_config_t parse_ok_env(const char *defaults, const char *json, const char *const *env)
{
    nr_config_t c;
    char err[512] = "";
    int r = nr_config_parse(defaults, json, env_lookup, (void *)env, &c, err, sizeof(err));
    cr_assert_eq(r, 0, "parse failed: %s", err);
    cr_assert_not_null(c.node_id);
    cr_assert_not_null(c.machine_id);
    cr_assert_not_null(c.address);
    cr_assert_not_null(c.base_url);
    return c;
}

static nr_config_t parse_ok(const char *json)
{
    return parse_ok_env(NULL, json, no_env);
}

static void assert_no_secret(const char *err)
{
    static const char *const parts[] = {SECRET,      "SeCrEt", "T0k3n", "xyzzy",
                                        FILE_SECRET, "plugh",  NULL};
    for (size_t i = 0; parts[i] != NULL; i++)
        cr_assert_null(strstr(err, parts[i]), "error leaks \"%s\": %s", parts[i], err);
}

static void assert_zeroed(const nr_config_t *c)
{
    static const unsigned char zero[sizeof(nr_config_t)];
    cr_assert_eq(memcmp(c, zero, sizeof(*c)), 0, "*out not zeroed after a failure");
}

/* Parses, expects failure with an error containing want; checks the rules
 * every error keeps: one line, "config: " first, no secret, *out zeroed. */
static void parse_fails_env(const char *defaults, const char *json, const char *const *env,
                            const char *want)
{
    nr_config_t c;
    char err[512];
    int r;

    memset(&c, 0xA5, sizeof(c));
    memset(err, 'x', sizeof(err));
    r = nr_config_parse(defaults, json, env_lookup, (void *)env, &c, err, sizeof(err));
    cr_assert_eq(r, -1, "parse succeeded, wanted \"%s\"", want);
    cr_assert_not_null(memchr(err, '\0', sizeof(err)));
    cr_assert_eq(strncmp(err, "config: ", 8), 0, "error: %s", err);
    cr_assert_not_null(strstr(err, want), "error \"%s\" lacks \"%s\"", err, want);
    cr_assert_null(strchr(err, '\n'), "error is not one line: %s", err);
    assert_no_secret(err);
    assert_zeroed(&c);
}

static void parse_fails(const char *json, const char *want)
{
    parse_fails_env(NULL, json, secret_env, want);
}

/* Exactly this message. */
static void parse_fails_exactly(const char *json, const char *want)
{
    nr_config_t c;
    char err[512];
    cr_assert_eq(nr_config_parse(NULL, json, env_lookup, (void *)no_env, &c, err, sizeof(err)), -1);
    cr_assert_str_eq(err, want);
    assert_no_secret(err);
}

/* A temporary file holding len bytes of content; path written to path. */
static void temp_file(const char *content, size_t len, char *path, size_t size)
{
    int fd;
    snprintf(path, size, "/tmp/nr_config_test.XXXXXX");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
}

static char *json_with_path(const char *fmt, const char *path)
{
    char *out = malloc(strlen(fmt) + strlen(path) + 1);
    sprintf(out, fmt, path);
    return out;
}

/* ---------------------------------------------------------------------- */
/* documents                                                              */
/* ---------------------------------------------------------------------- */

Test(config, minimal_config_gets_documented_defaults)
{
    nr_config_t c = parse_ok(MINIMAL);
    cr_assert_str_eq(c.node_id, "n1");
    cr_assert_str_eq(c.machine_id, "n1");
    cr_assert_str_eq(c.address, "http://10.0.0.5:9200");
    cr_assert_str_eq(c.base_url, "https://cp.example.com");
    cr_assert_eq(c.has_pools, 0);
    cr_assert_eq(c.has_capabilities, 0);
    cr_assert_eq(c.heartbeat_interval_ms, 10000);
    cr_assert_eq(c.request_timeout_ms, 5000);
    cr_assert_eq(c.connect_timeout_ms, 2000);
    cr_assert_eq(c.deregister_timeout_ms, 2000);
    cr_assert_eq(c.retry_base_ms, 250);
    cr_assert_eq(c.retry_max_ms, 10000);
    cr_assert_null(c.api_token);
    cr_assert_null(c.api_token_file);
    cr_assert_null(c.ca_file);
    cr_assert_null(c.client_cert);
    cr_assert_null(c.client_key);
    cr_assert_eq(c.tls_insecure, 0);
    nr_config_free(&c);
}

Test(config, rejects_null_config_text)
{
    parse_fails(NULL, "the config text is empty");
}

Test(config, rejects_empty_config_text)
{
    parse_fails("", "the config text is empty");
}

Test(config, rejects_invalid_json)
{
    parse_fails("{\"node_id\": n1}", "the config text is not valid JSON");
}

Test(config, rejects_incomplete_json)
{
    parse_fails("{\"node_id\":\"n1\"", "the config text is not a complete JSON object");
}

Test(config, rejects_trailing_garbage_after_the_object)
{
    parse_fails(MINIMAL " {}", "not valid JSON");
}

Test(config, rejects_non_object_root)
{
    parse_fails("[\"node_id\"]", "the config text must be a JSON object");
}

Test(config, rejects_invalid_utf8_in_json_text)
{
    parse_fails("{" ADDRESS "," URL ",\"node_id\":\"n\xFF\"}", "not valid JSON");
}

Test(config, rejects_unknown_key_naming_it)
{
    parse_fails_exactly("{" ADDRESS "," URL "," NODE ",\"bogus\":5000}",
                        "config: unknown key \"bogus\"");
}

Test(config, unknown_key_close_to_a_known_one_gets_a_suggestion)
{
    parse_fails_exactly("{" ADDRESS "," URL "," NODE ",\"heartbeat_intervall_ms\":5000}",
                        "config: unknown key \"heartbeat_intervall_ms\" "
                        "(did you mean \"heartbeat_interval_ms\"?)");
}

Test(config, swapped_letters_count_as_one_edit_in_the_suggestion)
{
    parse_fails_exactly("{" ADDRESS "," URL "," NODE ",\"ndoe_id\":\"x\"}",
                        "config: unknown key \"ndoe_id\" (did you mean \"node_id\"?)");
}

Test(config, unknown_key_far_from_every_known_one_gets_no_suggestion)
{
    parse_fails_exactly("{" ADDRESS "," URL "," NODE ",\"timeout\":5}",
                        "config: unknown key \"timeout\"");
}

Test(config, suggestion_for_a_nested_key_names_its_parent)
{
    parse_fails(CFG("\"capabilities\":{\"cpu_core\":8}"),
                "unknown key \"capabilities.cpu_core\" (did you mean \"capabilities.cpu_cores\"?)");
}

Test(config, suggestion_in_the_defaults_says_where)
{
    parse_fails_env("{\"retry_max\":5}", MINIMAL, no_env,
                    "unknown key \"retry_max\" (in the built-in defaults) "
                    "(did you mean \"retry_max_ms\"?)");
}

Test(config, very_long_unknown_key_is_refused_without_a_suggestion)
{
    parse_fails_exactly("{" ADDRESS "," URL "," NODE
                        ",\"heartbeat_interval_ms_heartbeat_interval_ms_"
                        "heartbeat_interval_ms_x\":1}",
                        "config: unknown key \"heartbeat_interval_ms_heartbeat_interval_ms_"
                        "heartbeat_interval_ms_x\"");
}

Test(config, rejects_unknown_key_in_defaults_saying_so)
{
    parse_fails_env("{\"retry_max\":5}", MINIMAL, no_env,
                    "unknown key \"retry_max\" (in the built-in defaults)");
}

Test(config, unknown_key_with_control_characters_is_shown_on_one_line)
{
    parse_fails(CFG("\"bad\\nkey\":1"), "unknown key \"bad?key\"");
}

Test(config, rejects_invalid_defaults_json_saying_so)
{
    parse_fails_env("{nope", MINIMAL, no_env, "the built-in defaults text is not valid JSON");
}

Test(config, null_or_blank_defaults_mean_none)
{
    nr_config_t a = parse_ok_env(NULL, MINIMAL, no_env);
    nr_config_t b = parse_ok_env("", MINIMAL, no_env);
    nr_config_t c = parse_ok_env(" \n", MINIMAL, no_env);
    nr_config_free(&a);
    nr_config_free(&b);
    nr_config_free(&c);
}

/* ---------------------------------------------------------------------- */
/* layers: config > defaults > environment > documented defaults          */
/* ---------------------------------------------------------------------- */

Test(config, config_overrides_defaults_key_by_key)
{
    nr_config_t c = parse_ok_env("{\"node_id\":\"from-defaults\",\"retry_max_ms\":7000,"
                                 "\"retry_base_ms\":100}",
                                 "{" ADDRESS "," URL ",\"node_id\":\"from-config\"}", no_env);
    cr_assert_str_eq(c.node_id, "from-config");
    cr_assert_eq(c.retry_max_ms, 7000);
    cr_assert_eq(c.retry_base_ms, 100);
    nr_config_free(&c);
}

Test(config, defaults_fill_keys_the_config_omits)
{
    nr_config_t c =
        parse_ok_env("{" ADDRESS "," URL ",\"machine_id\":\"m-default\"}", "{" NODE "}", no_env);
    cr_assert_str_eq(c.address, "http://10.0.0.5:9200");
    cr_assert_str_eq(c.base_url, "https://cp.example.com");
    cr_assert_str_eq(c.machine_id, "m-default");
    nr_config_free(&c);
}

Test(config, environment_fills_keys_neither_document_gives)
{
    static const char *const env[] = {"ORCHESTRATORD_URL=https://env.example.com/",
                                      "POOL_MANAGERD_NODE_ID=env-node",
                                      "POOL_MANAGERD_MACHINE_ID=env-machine",
                                      "POOL_MANAGERD_ADDRESS=http://10.1.1.1:9200",
                                      "POOL_MANAGERD_POOLS=p0,p1",
                                      "POOL_MANAGERD_HEARTBEAT_INTERVAL_SECS=15",
                                      "LLORCH_API_TOKEN=" SECRET,
                                      NULL};
    nr_config_t c = parse_ok_env(NULL, "{}", env);
    cr_assert_str_eq(c.base_url, "https://env.example.com");
    cr_assert_str_eq(c.node_id, "env-node");
    cr_assert_str_eq(c.machine_id, "env-machine");
    cr_assert_str_eq(c.address, "http://10.1.1.1:9200");
    cr_assert_eq(c.has_pools, 1);
    cr_assert_eq(c.pool_count, 2);
    cr_assert_eq(c.heartbeat_interval_ms, 15000);
    cr_assert_str_eq(c.api_token, SECRET);
    nr_config_free(&c);
}

Test(config, config_beats_environment)
{
    static const char *const env[] = {"POOL_MANAGERD_NODE_ID=env-node",
                                      "POOL_MANAGERD_ADDRESS=http://10.1.1.1:9200",
                                      "POOL_MANAGERD_HEARTBEAT_INTERVAL_SECS=15", NULL};
    nr_config_t c =
        parse_ok_env(NULL, "{" ADDRESS "," URL "," NODE ",\"heartbeat_interval_ms\":500}", env);
    cr_assert_str_eq(c.node_id, "n1");
    cr_assert_str_eq(c.address, "http://10.0.0.5:9200");
    cr_assert_eq(c.heartbeat_interval_ms, 500);
    nr_config_free(&c);
}

Test(config, defaults_beat_environment)
{
    static const char *const env[] = {"POOL_MANAGERD_NODE_ID=env-node", NULL};
    nr_config_t c = parse_ok_env("{\"node_id\":\"default-node\"}", "{" ADDRESS "," URL "}", env);
    cr_assert_str_eq(c.node_id, "default-node");
    nr_config_free(&c);
}

Test(config, empty_environment_variable_counts_as_unset)
{
    static const char *const env[] = {"POOL_MANAGERD_MACHINE_ID=", "LLORCH_API_TOKEN=",
                                      "POOL_MANAGERD_HEARTBEAT_INTERVAL_SECS=", NULL};
    nr_config_t c = parse_ok_env(NULL, MINIMAL, env);
    cr_assert_str_eq(c.machine_id, "n1");
    cr_assert_null(c.api_token);
    cr_assert_eq(c.heartbeat_interval_ms, 10000);
    nr_config_free(&c);
}

Test(config, null_env_lookup_means_an_empty_environment)
{
    nr_config_t c;
    char err[256];
    cr_assert_eq(nr_config_parse(NULL, MINIMAL, NULL, NULL, &c, err, sizeof(err)), 0, "%s", err);
    cr_assert_null(c.api_token);
    nr_config_free(&c);
}

Test(config, node_id_defaults_to_the_host_name)
{
    char host[256] = "";
    nr_config_t c;
    cr_assert_eq(gethostname(host, sizeof(host) - 1), 0);
    c = parse_ok("{" ADDRESS "," URL "}");
    cr_assert_str_eq(c.node_id, host);
    cr_assert_str_eq(c.machine_id, host);
    nr_config_free(&c);
}

Test(config, machine_id_defaults_to_node_id)
{
    static const char *const env[] = {"POOL_MANAGERD_NODE_ID=env-node", NULL};
    nr_config_t c = parse_ok_env(NULL, "{" ADDRESS "," URL "}", env);
    cr_assert_str_eq(c.machine_id, "env-node");
    nr_config_free(&c);
}

Test(config, getenv_lookup_reads_the_process_environment)
{
    cr_assert_not_null(nr_config_getenv("PATH", NULL));
    cr_assert_null(nr_config_getenv("NR_CONFIG_TEST_SURELY_UNSET_VARIABLE", NULL));
}

/* ---------------------------------------------------------------------- */
/* required keys                                                          */
/* ---------------------------------------------------------------------- */

Test(config, requires_address_naming_key_and_env_var)
{
    parse_fails("{" URL "," NODE "}",
                "address is required (set \"address\" or POOL_MANAGERD_ADDRESS)");
}

Test(config, requires_orchestratord_url_naming_key_and_env_var)
{
    parse_fails("{" ADDRESS "," NODE "}",
                "orchestratord_url is required (set \"orchestratord_url\" or ORCHESTRATORD_URL)");
}

/* ---------------------------------------------------------------------- */
/* node_id / machine_id                                                   */
/* ---------------------------------------------------------------------- */

Test(config, rejects_empty_node_id)
{
    parse_fails("{" ADDRESS "," URL "," TOKEN ",\"node_id\":\"\"}", "config: node_id is empty");
}

Test(config, rejects_node_id_with_control_character)
{
    parse_fails("{" ADDRESS "," URL "," TOKEN ",\"node_id\":\"n\\u0007\"}",
                "config: node_id contains a control character");
}

Test(config, rejects_node_id_with_del)
{
    parse_fails("{" ADDRESS "," URL "," TOKEN ",\"node_id\":\"n\x7F\"}",
                "config: node_id contains a control character");
}

Test(config, rejects_node_id_with_embedded_nul)
{
    parse_fails("{" ADDRESS "," URL "," TOKEN ",\"node_id\":\"n\\u0000x\"}",
                "config: node_id must not contain a NUL character");
}

Test(config, rejects_node_id_over_255_bytes)
{
    char json[1024];
    char id[257];
    memset(id, 'a', 256);
    id[256] = '\0';
    snprintf(json, sizeof(json), "{" ADDRESS "," URL "," TOKEN ",\"node_id\":\"%s\"}", id);
    parse_fails(json, "config: node_id is too long (at most 255 bytes)");
}

Test(config, accepts_node_id_of_255_bytes)
{
    char json[1024];
    char id[256];
    nr_config_t c;
    memset(id, 'a', 255);
    id[255] = '\0';
    snprintf(json, sizeof(json), "{" ADDRESS "," URL ",\"node_id\":\"%s\"}", id);
    c = parse_ok(json);
    cr_assert_eq(strlen(c.node_id), 255);
    nr_config_free(&c);
}

Test(config, accepts_unicode_node_id)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL ",\"node_id\":\"n\\u00e9-\xE2\x82\xAC\"}");
    cr_assert_str_eq(c.node_id, "n\xC3\xA9-\xE2\x82\xAC");
    nr_config_free(&c);
}

Test(config, rejects_invalid_utf8_node_id_from_env_naming_the_variable)
{
    static const char *const env[] = {"POOL_MANAGERD_NODE_ID=n\xC0\xAF", NULL};
    parse_fails_env(NULL, "{" ADDRESS "," URL "}", env,
                    "config: node_id (from POOL_MANAGERD_NODE_ID) is not valid UTF-8");
}

Test(config, rejects_non_string_node_id)
{
    parse_fails("{" ADDRESS "," URL "," TOKEN ",\"node_id\":7}",
                "config: node_id must be a string");
}

Test(config, rejects_machine_id_with_control_character)
{
    parse_fails(CFG("\"machine_id\":\"m\\tx\""), "config: machine_id contains a control character");
}

Test(config, rejects_machine_id_over_255_bytes)
{
    char json[1024];
    char id[300];
    memset(id, 'm', 299);
    id[299] = '\0';
    snprintf(json, sizeof(json), CFG("\"machine_id\":\"%s\""), id);
    parse_fails(json, "config: machine_id is too long (at most 255 bytes)");
}

Test(config, rejects_empty_machine_id)
{
    parse_fails(CFG("\"machine_id\":\"\""), "config: machine_id is empty");
}

/* ---------------------------------------------------------------------- */
/* URLs                                                                   */
/* ---------------------------------------------------------------------- */

#define WITH_URL(u) "{" ADDRESS "," NODE "," TOKEN ",\"orchestratord_url\":\"" u "\"}"

Test(config, rejects_url_without_scheme)
{
    parse_fails(WITH_URL("cp.example.com"),
                "config: orchestratord_url must start with http:// or https://");
}

Test(config, rejects_url_with_another_scheme)
{
    parse_fails(WITH_URL("ftp://cp.example.com"), "must start with http:// or https://");
}

Test(config, accepts_url_scheme_in_any_case)
{
    nr_config_t c = parse_ok("{" ADDRESS "," NODE ",\"orchestratord_url\":\"HTTPS://cp\"}");
    cr_assert_str_eq(c.base_url, "HTTPS://cp");
    nr_config_free(&c);
}

Test(config, rejects_url_without_host)
{
    parse_fails(WITH_URL("https:///v2"), "config: orchestratord_url has no host");
}

Test(config, rejects_url_with_only_a_port)
{
    parse_fails(WITH_URL("http://:8080"), "config: orchestratord_url has no host");
}

Test(config, rejects_url_with_whitespace)
{
    parse_fails(WITH_URL("https://cp.example.com/a b"),
                "config: orchestratord_url must be visible ASCII without whitespace");
}

Test(config, rejects_url_with_query)
{
    parse_fails(WITH_URL("https://cp.example.com/?x=1"),
                "config: orchestratord_url must not contain a query or a fragment");
}

Test(config, rejects_url_with_fragment)
{
    parse_fails(WITH_URL("https://cp.example.com/#top"), "must not contain a query or a fragment");
}

Test(config, rejects_url_with_userinfo_without_echoing_it)
{
    parse_fails(WITH_URL("https://admin:hunter2@cp.example.com"),
                "config: orchestratord_url must not contain credentials (user:pass@)");
    parse_fails(WITH_URL("https://admin:hunter2@cp.example.com"), "orchestratord_url");
    {
        nr_config_t c;
        char err[256];
        nr_config_parse(NULL, WITH_URL("https://admin:hunter2@cp.example.com"), env_lookup,
                        (void *)no_env, &c, err, sizeof(err));
        cr_assert_null(strstr(err, "hunter2"));
    }
}

Test(config, rejects_url_with_invalid_port)
{
    parse_fails(WITH_URL("http://cp:0"), "config: orchestratord_url has an invalid port");
    parse_fails(WITH_URL("http://cp:65536"), "has an invalid port");
    parse_fails(WITH_URL("http://cp:http"), "has an invalid port");
    parse_fails(WITH_URL("http://cp:/x"), "has an invalid port");
}

Test(config, accepts_ipv6_host_with_port)
{
    nr_config_t c = parse_ok("{" NODE ",\"orchestratord_url\":\"http://[::1]:8080\","
                             "\"address\":\"http://[fe80::1]:9200\"}");
    cr_assert_str_eq(c.base_url, "http://[::1]:8080");
    nr_config_free(&c);
}

Test(config, rejects_unclosed_ipv6_host)
{
    parse_fails(WITH_URL("http://[::1:8080"), "has an invalid IPv6 host");
}

Test(config, accepts_bracketed_ipv6_loopback_without_port)
{
    nr_config_t c = parse_ok("{" ADDRESS "," NODE ",\"orchestratord_url\":\"http://[::1]/\"}");
    cr_assert_str_eq(c.base_url, "http://[::1]");
    nr_config_free(&c);
}

Test(config, accepts_ipv6_zone_id_as_libcurl_reads_it)
{
    /* RFC 6874: the "%" of a zone id is written %25; libcurl, which the
     * transport uses, takes it, so the config takes it too, unchanged. */
    nr_config_t c = parse_ok("{" NODE ",\"orchestratord_url\":\"http://[fe80::1%25eth0]:8080\","
                             "\"address\":\"http://[fe80::2%25eth0]:9200\"}");
    cr_assert_str_eq(c.base_url, "http://[fe80::1%25eth0]:8080");
    cr_assert_str_eq(c.address, "http://[fe80::2%25eth0]:9200");
    nr_config_free(&c);
}

Test(config, rejects_empty_or_malformed_ipv6_host)
{
    parse_fails(WITH_URL("http://[]:8080"), "config: orchestratord_url has an invalid IPv6 host");
    parse_fails(WITH_URL("http://[::1]x/"), "config: orchestratord_url has an invalid port");
}

Test(config, rejects_any_userinfo_in_either_url)
{
    parse_fails(WITH_URL("https://admin@cp.example.com"),
                "config: orchestratord_url must not contain credentials (user:pass@)");
    parse_fails(WITH_URL("https://@cp.example.com"), "must not contain credentials");
    parse_fails(WITH_URL("https://:pw@cp.example.com/x"), "must not contain credentials");
    parse_fails(WITH_URL("https://a@b@cp.example.com"), "must not contain credentials");
    parse_fails("{" URL "," NODE ",\"address\":\"http://u:p@10.0.0.5:9200\"}",
                "config: address must not contain credentials (user:pass@)");
}

Test(config, keeps_a_percent_encoded_path_prefix_as_written)
{
    nr_config_t c = parse_ok("{" ADDRESS "," NODE
                             ",\"orchestratord_url\":\"https://cp.example.com/t%2Fa%20b/\"}");
    cr_assert_str_eq(c.base_url, "https://cp.example.com/t%2Fa%20b");
    nr_config_free(&c);
}

Test(config, refuses_a_host_libcurl_refuses)
{
    char err[256];
    nr_config_t c;
    cr_assert_neq(nr_config_parse(NULL, WITH_URL("http://cp<x>.example/"), env_lookup,
                                  (void *)no_env, &c, err, sizeof(err)),
                  0);
    cr_assert(strncmp(err, "config: orchestratord_url is not a valid URL (", 46) == 0, "%s", err);
}

Test(config, strips_trailing_slashes_from_base_url)
{
    nr_config_t c = parse_ok("{" ADDRESS "," NODE ",\"orchestratord_url\":\"https://cp:8443///\"}");
    cr_assert_str_eq(c.base_url, "https://cp:8443");
    nr_config_free(&c);
}

Test(config, keeps_the_path_prefix_of_base_url)
{
    nr_config_t c =
        parse_ok("{" ADDRESS "," NODE ",\"orchestratord_url\":\"https://cp.example.com/orch/\"}");
    cr_assert_str_eq(c.base_url, "https://cp.example.com/orch");
    nr_config_free(&c);
}

Test(config, rejects_address_without_scheme)
{
    parse_fails("{" URL "," NODE "," TOKEN ",\"address\":\"10.0.0.5:9200\"}",
                "config: address must start with http:// or https://");
}

Test(config, url_error_from_env_names_the_variable)
{
    static const char *const env[] = {"ORCHESTRATORD_URL=cp.example.com", NULL};
    parse_fails_env(NULL, "{" ADDRESS "," NODE "}", env,
                    "config: orchestratord_url (from ORCHESTRATORD_URL) must start with");
}

Test(config, url_error_from_defaults_says_so)
{
    parse_fails_env("{\"orchestratord_url\":\"cp\"}", "{" ADDRESS "," NODE "}", no_env,
                    "config: orchestratord_url (in the built-in defaults) must start with");
}

/* ---------------------------------------------------------------------- */
/* heartbeat interval                                                     */
/* ---------------------------------------------------------------------- */

Test(config, heartbeat_interval_secs_converts_to_ms)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE ",\"heartbeat_interval_secs\":30}");
    cr_assert_eq(c.heartbeat_interval_ms, 30000);
    nr_config_free(&c);
}

Test(config, heartbeat_interval_ms_overrides_secs)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE
                             ",\"heartbeat_interval_secs\":30,\"heartbeat_interval_ms\":750}");
    cr_assert_eq(c.heartbeat_interval_ms, 750);
    nr_config_free(&c);
}

Test(config, interval_in_config_replaces_the_defaults_interval_as_a_group)
{
    nr_config_t c =
        parse_ok_env("{\"heartbeat_interval_ms\":5000}",
                     "{" ADDRESS "," URL "," NODE ",\"heartbeat_interval_secs\":20}", no_env);
    cr_assert_eq(c.heartbeat_interval_ms, 20000);
    nr_config_free(&c);
}

Test(config, rejects_zero_interval_naming_the_range)
{
    parse_fails_exactly("{" ADDRESS "," URL "," NODE ",\"heartbeat_interval_ms\":0}",
                        "config: heartbeat_interval_ms must be an integer from 100 to 86400000");
}

Test(config, rejects_negative_interval)
{
    parse_fails(CFG("\"heartbeat_interval_ms\":-1000"),
                "heartbeat_interval_ms must be an integer from 100 to 86400000");
}

Test(config, rejects_fractional_interval)
{
    parse_fails(CFG("\"heartbeat_interval_ms\":1.5"), "heartbeat_interval_ms must be an integer");
}

Test(config, rejects_integral_float_interval)
{
    parse_fails(CFG("\"heartbeat_interval_ms\":1000.0"),
                "heartbeat_interval_ms must be an integer");
    parse_fails(CFG("\"heartbeat_interval_ms\":1e3"), "heartbeat_interval_ms must be an integer");
}

Test(config, rejects_string_interval)
{
    parse_fails(CFG("\"heartbeat_interval_ms\":\"10\""),
                "heartbeat_interval_ms must be an integer");
}

Test(config, rejects_bool_interval)
{
    parse_fails(CFG("\"heartbeat_interval_ms\":true"), "heartbeat_interval_ms must be an integer");
}

Test(config, rejects_null_interval)
{
    parse_fails(CFG("\"heartbeat_interval_ms\":null"), "heartbeat_interval_ms must be an integer");
}

Test(config, rejects_interval_above_one_day)
{
    parse_fails(CFG("\"heartbeat_interval_ms\":86400001"),
                "heartbeat_interval_ms must be an integer from 100 to 86400000");
}

Test(config, accepts_interval_of_one_day)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE ",\"heartbeat_interval_ms\":86400000}");
    cr_assert_eq(c.heartbeat_interval_ms, 86400000u);
    nr_config_free(&c);
}

Test(config, rejects_interval_above_int64_max)
{
    parse_fails(CFG("\"heartbeat_interval_ms\":9223372036854775808"),
                "heartbeat_interval_ms must be an integer");
    parse_fails(CFG("\"heartbeat_interval_ms\":18446744073709551615"),
                "heartbeat_interval_ms must be an integer");
    parse_fails(CFG("\"heartbeat_interval_ms\":99999999999999999999999"),
                "heartbeat_interval_ms must be an integer");
}

Test(config, rejects_value_that_wraps_to_a_small_u32)
{
    /* 2^32 + 1000 would be 1000 if truncated to uint32_t. */
    parse_fails(CFG("\"heartbeat_interval_ms\":4294968296"),
                "heartbeat_interval_ms must be an integer");
}

Test(config, rejects_interval_secs_above_one_day)
{
    parse_fails(CFG("\"heartbeat_interval_secs\":86401"),
                "heartbeat_interval_secs must be an integer from 1 to 86400");
}

Test(config, rejects_invalid_secs_even_when_ms_overrides_them)
{
    parse_fails(CFG("\"heartbeat_interval_secs\":0,\"heartbeat_interval_ms\":500"),
                "heartbeat_interval_secs must be an integer");
}

Test(config, interval_from_env_is_in_seconds)
{
    static const char *const env[] = {"POOL_MANAGERD_HEARTBEAT_INTERVAL_SECS=3", NULL};
    nr_config_t c = parse_ok_env(NULL, MINIMAL, env);
    cr_assert_eq(c.heartbeat_interval_ms, 3000);
    cr_assert_eq(c.request_timeout_ms, 3000);
    nr_config_free(&c);
}

static void env_interval_fails(const char *value)
{
    char var[128];
    const char *env[] = {var, "LLORCH_API_TOKEN=" SECRET, NULL};
    snprintf(var, sizeof(var), "POOL_MANAGERD_HEARTBEAT_INTERVAL_SECS=%s", value);
    parse_fails_env(NULL, MINIMAL, env,
                    "config: POOL_MANAGERD_HEARTBEAT_INTERVAL_SECS must be a decimal integer "
                    "from 1 to 86400");
}

Test(config, env_interval_rejects_a_sign)
{
    env_interval_fails("+10");
    env_interval_fails("-10");
}

Test(config, env_interval_rejects_spaces)
{
    env_interval_fails(" 10");
    env_interval_fails("10 ");
}

Test(config, env_interval_rejects_trailing_junk)
{
    env_interval_fails("10s");
    env_interval_fails("10.0");
    env_interval_fails("0x10");
}

Test(config, env_interval_rejects_zero)
{
    env_interval_fails("0");
}

Test(config, env_interval_rejects_out_of_range)
{
    env_interval_fails("86401");
    env_interval_fails("99999999999999999999999999");
}

/* ---------------------------------------------------------------------- */
/* timeouts and retries                                                   */
/* ---------------------------------------------------------------------- */

Test(config, request_timeout_defaults_to_a_shorter_interval)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE ",\"heartbeat_interval_ms\":3000}");
    cr_assert_eq(c.request_timeout_ms, 3000);
    cr_assert_eq(c.connect_timeout_ms, 2000);
    nr_config_free(&c);
}

Test(config, connect_timeout_defaults_to_a_shorter_request_timeout)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE ",\"heartbeat_interval_ms\":800}");
    cr_assert_eq(c.request_timeout_ms, 800);
    cr_assert_eq(c.connect_timeout_ms, 800);
    nr_config_free(&c);
}

Test(config, connect_timeout_default_follows_an_explicit_request_timeout)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE ",\"request_timeout_ms\":1500}");
    cr_assert_eq(c.request_timeout_ms, 1500);
    cr_assert_eq(c.connect_timeout_ms, 1500);
    nr_config_free(&c);
}

Test(config, keeps_explicit_timeouts_and_retries)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE
                             ",\"request_timeout_ms\":7000,\"connect_timeout_ms\":3000,"
                             "\"deregister_timeout_ms\":4000,\"retry_base_ms\":100,"
                             "\"retry_max_ms\":60000}");
    cr_assert_eq(c.request_timeout_ms, 7000);
    cr_assert_eq(c.connect_timeout_ms, 3000);
    cr_assert_eq(c.deregister_timeout_ms, 4000);
    cr_assert_eq(c.retry_base_ms, 100);
    cr_assert_eq(c.retry_max_ms, 60000);
    nr_config_free(&c);
}

Test(config, rejects_zero_request_timeout)
{
    parse_fails(CFG("\"request_timeout_ms\":0"),
                "config: request_timeout_ms must be an integer from 100 to");
}

Test(config, rejects_zero_connect_timeout)
{
    parse_fails(CFG("\"connect_timeout_ms\":0"),
                "config: connect_timeout_ms must be an integer from 50 to");
}

Test(config, rejects_zero_deregister_timeout)
{
    parse_fails(CFG("\"deregister_timeout_ms\":0"), "deregister_timeout_ms must be an integer");
}

Test(config, rejects_deregister_timeout_above_30000)
{
    parse_fails(CFG("\"deregister_timeout_ms\":30001"),
                "config: deregister_timeout_ms must be an integer from 100 to 30000");
}

Test(config, accepts_deregister_timeout_of_30000)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE ",\"deregister_timeout_ms\":30000}");
    cr_assert_eq(c.deregister_timeout_ms, 30000);
    nr_config_free(&c);
}

Test(config, rejects_zero_retry_base)
{
    parse_fails(CFG("\"retry_base_ms\":0"), "config: retry_base_ms must be an integer from 10 to");
}

Test(config, rejects_retry_base_above_retry_max)
{
    parse_fails(CFG("\"retry_base_ms\":20000"),
                "config: retry_base_ms (20000) must not exceed retry_max_ms (10000)");
}

Test(config, accepts_retry_base_equal_to_retry_max)
{
    nr_config_t c =
        parse_ok("{" ADDRESS "," URL "," NODE ",\"retry_base_ms\":500,\"retry_max_ms\":500}");
    cr_assert_eq(c.retry_base_ms, 500);
    nr_config_free(&c);
}

Test(config, rejects_negative_retry_max)
{
    parse_fails(CFG("\"retry_max_ms\":-5"), "config: retry_max_ms must be an integer");
}

/* ---------------------------------------------------------------------- */
/* token                                                                  */
/* ---------------------------------------------------------------------- */

Test(config, reads_api_token)
{
    nr_config_t c = parse_ok(CFG("\"retry_max_ms\":10000"));
    cr_assert_str_eq(c.api_token, SECRET);
    cr_assert_null(c.api_token_file);
    nr_config_free(&c);
}

Test(config, token_from_environment)
{
    nr_config_t c = parse_ok_env(NULL, MINIMAL, secret_env);
    cr_assert_str_eq(c.api_token, SECRET);
    nr_config_free(&c);
}

Test(config, config_token_beats_environment)
{
    static const char *const env[] = {"LLORCH_API_TOKEN=env-token", NULL};
    nr_config_t c = parse_ok_env(NULL, CFG("\"retry_max_ms\":10000"), env);
    cr_assert_str_eq(c.api_token, SECRET);
    nr_config_free(&c);
}

Test(config, token_file_beats_environment)
{
    char path[64];
    char *json;
    nr_config_t c;
    static const char *const env[] = {"LLORCH_API_TOKEN=env-token", NULL};
    temp_file(FILE_SECRET "\n", strlen(FILE_SECRET) + 1, path, sizeof(path));
    json = json_with_path("{" ADDRESS "," URL "," NODE ",\"api_token_file\":\"%s\"}", path);
    c = parse_ok_env(NULL, json, env);
    cr_assert_str_eq(c.api_token, FILE_SECRET);
    cr_assert_str_eq(c.api_token_file, path);
    nr_config_free(&c);
    free(json);
    unlink(path);
}

Test(config, rejects_api_token_and_api_token_file_together)
{
    char path[64];
    char *json;
    temp_file(FILE_SECRET, strlen(FILE_SECRET), path, sizeof(path));
    json = json_with_path(CFG("\"api_token_file\":\"%s\""), path);
    parse_fails(json, "config: api_token and api_token_file are both set; give one");
    free(json);
    unlink(path);
}

Test(config, rejects_both_token_keys_in_defaults_saying_so)
{
    parse_fails_env("{\"api_token\":\"" SECRET "\",\"api_token_file\":\"/x\"}", MINIMAL, no_env,
                    "api_token and api_token_file are both set (in the built-in defaults)");
}

Test(config, token_in_config_replaces_the_defaults_token_file)
{
    nr_config_t c = parse_ok_env("{\"api_token_file\":\"/nonexistent/token\"}",
                                 CFG("\"retry_max_ms\":10000"), no_env);
    cr_assert_str_eq(c.api_token, SECRET);
    cr_assert_null(c.api_token_file);
    nr_config_free(&c);
}

Test(config, rejects_unreadable_token_file_naming_the_path)
{
    parse_fails("{" ADDRESS "," URL "," NODE ",\"api_token_file\":\"/nonexistent/nr-token\"}",
                "config: api_token_file \"/nonexistent/nr-token\": cannot read (No such file or "
                "directory)");
}

Test(config, rejects_token_file_that_is_a_directory)
{
    parse_fails("{" ADDRESS "," URL "," NODE ",\"api_token_file\":\"/tmp\"}",
                "api_token_file \"/tmp\": cannot read (not a regular file)");
}

Test(config, rejects_empty_token_file_path)
{
    parse_fails("{" ADDRESS "," URL "," NODE ",\"api_token_file\":\"\"}",
                "config: api_token_file is empty");
}

Test(config, trims_trailing_whitespace_from_the_token_file)
{
    char path[64];
    char *json;
    nr_config_t c;
    temp_file(FILE_SECRET " \t\r\n\n", strlen(FILE_SECRET) + 5, path, sizeof(path));
    json = json_with_path("{" ADDRESS "," URL "," NODE ",\"api_token_file\":\"%s\"}", path);
    c = parse_ok(json);
    cr_assert_str_eq(c.api_token, FILE_SECRET);
    nr_config_free(&c);
    free(json);
    unlink(path);
}

Test(config, rejects_token_file_with_invalid_character_without_showing_it)
{
    char path[64];
    char *json;
    temp_file("FiLeSeCrEt plugh\n", 17, path, sizeof(path));
    json = json_with_path("{" ADDRESS "," URL "," NODE ",\"api_token_file\":\"%s\"}", path);
    parse_fails(json, "the token must be 1 to 4096 visible ASCII characters");
    free(json);
    unlink(path);
}

Test(config, rejects_token_file_with_nul_byte)
{
    char path[64];
    char *json;
    temp_file("FiLeSeCrEt\0plugh", 16, path, sizeof(path));
    json = json_with_path("{" ADDRESS "," URL "," NODE ",\"api_token_file\":\"%s\"}", path);
    parse_fails(json, "the token must be 1 to 4096 visible ASCII characters");
    free(json);
    unlink(path);
}

Test(config, rejects_empty_token_file)
{
    char path[64];
    char *json;
    temp_file("\n", 1, path, sizeof(path));
    json = json_with_path("{" ADDRESS "," URL "," NODE ",\"api_token_file\":\"%s\"}", path);
    parse_fails(json, "the token must be 1 to 4096 visible ASCII characters");
    free(json);
    unlink(path);
}

Test(config, rejects_token_file_over_64_kib)
{
    char path[64];
    char *json, *big = malloc(65537);
    memset(big, 'A', 65537);
    temp_file(big, 65537, path, sizeof(path));
    json = json_with_path("{" ADDRESS "," URL "," NODE ",\"api_token_file\":\"%s\"}", path);
    parse_fails(json, "larger than 65536 bytes");
    free(json);
    free(big);
    unlink(path);
}

Test(config, rejects_token_with_invalid_character_in_the_middle_without_showing_it)
{
    parse_fails("{" ADDRESS "," URL "," NODE ",\"api_token\":\"SeCrEt-T0k3n\\u0001-xyzzy\"}",
                "config: api_token must be 1 to 4096 visible ASCII characters (0x21..0x7e)");
    parse_fails("{" ADDRESS "," URL "," NODE ",\"api_token\":\"SeCrEt-T0k3n xyzzy\"}",
                "config: api_token must be 1 to 4096 visible ASCII characters");
    parse_fails("{" ADDRESS "," URL "," NODE ",\"api_token\":\"SeCrEt-T0k3n\xC3\xA9xyzzy\"}",
                "config: api_token must be 1 to 4096 visible ASCII characters");
}

Test(config, rejects_token_with_embedded_nul_without_showing_it)
{
    parse_fails("{" ADDRESS "," URL "," NODE ",\"api_token\":\"SeCrEt-T0k3n\\u0000xyzzy\"}",
                "config: api_token must not contain a NUL character");
}

Test(config, rejects_empty_token)
{
    parse_fails("{" ADDRESS "," URL "," NODE ",\"api_token\":\"\"}",
                "config: api_token must be 1 to 4096 visible ASCII characters");
}

Test(config, rejects_non_string_token)
{
    parse_fails("{" ADDRESS "," URL "," NODE ",\"api_token\":12345}",
                "config: api_token must be a string");
}

static char *config_with_token_of(size_t len)
{
    const char *head = "{" ADDRESS "," URL "," NODE ",\"api_token\":\"";
    char *json = malloc(strlen(head) + len + 3);
    strcpy(json, head);
    memset(json + strlen(head), 'k', len);
    strcpy(json + strlen(head) + len, "\"}");
    return json;
}

Test(config, rejects_token_over_4096_bytes)
{
    char *json = config_with_token_of(4097);
    parse_fails(json, "config: api_token must be 1 to 4096 visible ASCII characters");
    free(json);
}

Test(config, accepts_token_of_4096_bytes)
{
    char *json = config_with_token_of(4096);
    nr_config_t c = parse_ok(json);
    cr_assert_eq(strlen(c.api_token), 4096);
    nr_config_free(&c);
    free(json);
}

Test(config, rejects_invalid_env_token_naming_the_variable_not_the_value)
{
    static const char *const env[] = {"LLORCH_API_TOKEN=SeCrEt-T0k3n\txyzzy", NULL};
    parse_fails_env(NULL, MINIMAL, env,
                    "config: LLORCH_API_TOKEN must be 1 to 4096 visible ASCII characters");
}

Test(config, token_is_valid_accepts_visible_ascii)
{
    cr_assert(nr_config_token_is_valid("abc-._~+/=XYZ019!"));
    cr_assert(nr_config_token_is_valid("!"));
    cr_assert(nr_config_token_is_valid("~"));
}

Test(config, token_is_valid_rejects_empty_null_space_del_and_high_bytes)
{
    cr_assert_not(nr_config_token_is_valid(NULL));
    cr_assert_not(nr_config_token_is_valid(""));
    cr_assert_not(nr_config_token_is_valid("a b"));
    cr_assert_not(nr_config_token_is_valid("a\x7F"));
    cr_assert_not(nr_config_token_is_valid("a\x80"));
    cr_assert_not(nr_config_token_is_valid("a\n"));
}

Test(config, read_token_file_names_the_file_never_the_content)
{
    char path[64], err[256];
    temp_file(FILE_SECRET "\x01\n", strlen(FILE_SECRET) + 2, path, sizeof(path));
    cr_assert_null(nr_config_read_token_file(path, err, sizeof(err)));
    cr_assert_not_null(strstr(err, path), "%s", err);
    assert_no_secret(err);
    unlink(path);
}

Test(config, read_token_file_returns_the_trimmed_token)
{
    char path[64], err[256];
    char *token;
    temp_file("rotated-token\r\n", 15, path, sizeof(path));
    token = nr_config_read_token_file(path, err, sizeof(err));
    cr_assert_str_eq(token, "rotated-token");
    free(token);
    unlink(path);
}

Test(config, read_token_file_keeps_leading_whitespace_invalid)
{
    char path[64], err[256];
    temp_file(" token", 6, path, sizeof(path));
    cr_assert_null(nr_config_read_token_file(path, err, sizeof(err)));
    unlink(path);
}

Test(config, read_token_file_refuses_a_null_path)
{
    char err[256];
    cr_assert_null(nr_config_read_token_file(NULL, err, sizeof(err)));
    cr_assert_str_eq(err, "api_token_file: no path given");
}

/* ---------------------------------------------------------------------- */
/* TLS                                                                    */
/* ---------------------------------------------------------------------- */

Test(config, accepts_readable_tls_files)
{
    char ca[64], cert[64], key[64], json[512];
    nr_config_t c;
    temp_file("ca", 2, ca, sizeof(ca));
    temp_file("cert", 4, cert, sizeof(cert));
    temp_file("key", 3, key, sizeof(key));
    snprintf(json, sizeof(json),
             "{" ADDRESS "," URL "," NODE
             ",\"ca_file\":\"%s\",\"client_cert\":\"%s\",\"client_key\":\"%s\"}",
             ca, cert, key);
    c = parse_ok(json);
    cr_assert_str_eq(c.ca_file, ca);
    cr_assert_str_eq(c.client_cert, cert);
    cr_assert_str_eq(c.client_key, key);
    nr_config_free(&c);
    unlink(ca);
    unlink(cert);
    unlink(key);
}

Test(config, rejects_unreadable_ca_file_naming_the_field)
{
    parse_fails(CFG("\"ca_file\":\"/nonexistent/ca.pem\""),
                "config: ca_file \"/nonexistent/ca.pem\" is not readable");
}

Test(config, rejects_directory_as_ca_file)
{
    parse_fails(CFG("\"ca_file\":\"/tmp\""), "config: ca_file \"/tmp\" is not a regular file");
}

Test(config, rejects_unreadable_client_cert_naming_the_field)
{
    parse_fails(CFG("\"client_cert\":\"/nonexistent/c.pem\",\"client_key\":\"/nonexistent/k.pem\""),
                "config: client_cert \"/nonexistent/c.pem\" is not readable");
}

Test(config, rejects_client_key_without_client_cert)
{
    char key[64], *json;
    temp_file("key", 3, key, sizeof(key));
    json = json_with_path(CFG("\"client_key\":\"%s\""), key);
    parse_fails(json, "config: client_key is set without client_cert; mTLS needs both");
    free(json);
    unlink(key);
}

Test(config, rejects_client_cert_without_client_key)
{
    char cert[64], *json;
    temp_file("cert", 4, cert, sizeof(cert));
    json = json_with_path(CFG("\"client_cert\":\"%s\""), cert);
    parse_fails(json, "config: client_cert is set without client_key; mTLS needs both");
    free(json);
    unlink(cert);
}

Test(config, rejects_non_bool_tls_insecure)
{
    parse_fails(CFG("\"tls_insecure\":1"), "config: tls_insecure must be true or false");
    parse_fails(CFG("\"tls_insecure\":\"true\""), "config: tls_insecure must be true or false");
}

Test(config, accepts_tls_insecure_true)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE ",\"tls_insecure\":true}");
    cr_assert_eq(c.tls_insecure, 1);
    nr_config_free(&c);
}

/* ---------------------------------------------------------------------- */
/* pools                                                                  */
/* ---------------------------------------------------------------------- */

Test(config, reads_the_pools_array)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE ",\"pools\":[\"pool-0\",\"pool-1\"]}");
    cr_assert_eq(c.has_pools, 1);
    cr_assert_eq(c.pool_count, 2);
    cr_assert_str_eq(c.pools[0], "pool-0");
    cr_assert_str_eq(c.pools[1], "pool-1");
    nr_config_free(&c);
}

Test(config, empty_pools_array_means_zero_configured_pools)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE ",\"pools\":[]}");
    cr_assert_eq(c.has_pools, 1);
    cr_assert_eq(c.pool_count, 0);
    nr_config_free(&c);
}

Test(config, no_pools_anywhere_leaves_them_to_the_host)
{
    nr_config_t c = parse_ok(MINIMAL);
    cr_assert_eq(c.has_pools, 0);
    cr_assert_null(c.pools);
    nr_config_free(&c);
}

Test(config, rejects_non_array_pools)
{
    parse_fails(CFG("\"pools\":\"pool-0\""), "config: pools must be an array of strings");
}

Test(config, rejects_non_string_pool_naming_its_index)
{
    parse_fails(CFG("\"pools\":[\"a\",3]"), "config: pools[1] must be a string");
}

Test(config, rejects_invalid_pool_id_naming_its_index)
{
    parse_fails(CFG("\"pools\":[\"a\",\"b\",\"c\\nd\"]"),
                "config: pools[2] contains a control character");
    parse_fails(CFG("\"pools\":[\"\"]"), "config: pools[0] is empty");
}

Test(config, rejects_duplicate_pool_id)
{
    parse_fails(CFG("\"pools\":[\"a\",\"b\",\"a\"]"),
                "config: pools[2] repeats an earlier pool id");
}

Test(config, rejects_more_than_1024_pools)
{
    size_t size = 32 + 1025 * 12;
    char *list = malloc(size), *json = malloc(size + 256);
    size_t w = 0;
    for (int i = 0; i < 1025; i++)
        w += (size_t)snprintf(list + w, size - w, "%s\"p%d\"", i ? "," : "", i);
    snprintf(json, size + 256, CFG("\"pools\":[%s]"), list);
    parse_fails(json, "config: pools has more than 1024 entries");
    free(list);
    free(json);
}

Test(config, env_pools_are_trimmed_and_empty_items_skipped)
{
    static const char *const env[] = {"POOL_MANAGERD_POOLS= a ,,b\t, ,c,", NULL};
    nr_config_t c = parse_ok_env(NULL, MINIMAL, env);
    cr_assert_eq(c.has_pools, 1);
    cr_assert_eq(c.pool_count, 3);
    cr_assert_str_eq(c.pools[0], "a");
    cr_assert_str_eq(c.pools[1], "b");
    cr_assert_str_eq(c.pools[2], "c");
    nr_config_free(&c);
}

Test(config, env_pools_keep_inner_spaces)
{
    static const char *const env[] = {"POOL_MANAGERD_POOLS=pool one", NULL};
    nr_config_t c = parse_ok_env(NULL, MINIMAL, env);
    cr_assert_str_eq(c.pools[0], "pool one");
    nr_config_free(&c);
}

Test(config, env_pools_without_items_mean_not_configured)
{
    static const char *const env[] = {"POOL_MANAGERD_POOLS= , ,", NULL};
    nr_config_t c = parse_ok_env(NULL, MINIMAL, env);
    cr_assert_eq(c.has_pools, 0);
    cr_assert_eq(c.pool_count, 0);
    cr_assert_null(c.pools);
    nr_config_free(&c);
}

Test(config, empty_env_pools_mean_not_configured)
{
    static const char *const env[] = {"POOL_MANAGERD_POOLS=", NULL};
    nr_config_t c = parse_ok_env(NULL, MINIMAL, env);
    cr_assert_eq(c.has_pools, 0);
    nr_config_free(&c);
}

Test(config, config_pools_beat_env_pools)
{
    static const char *const env[] = {"POOL_MANAGERD_POOLS=env-a,env-b", NULL};
    nr_config_t c = parse_ok_env(NULL, "{" ADDRESS "," URL "," NODE ",\"pools\":[]}", env);
    cr_assert_eq(c.has_pools, 1);
    cr_assert_eq(c.pool_count, 0);
    nr_config_free(&c);
}

Test(config, rejects_duplicate_env_pool_naming_the_variable)
{
    static const char *const env[] = {"POOL_MANAGERD_POOLS=a,b,a", NULL};
    parse_fails_env(NULL, MINIMAL, env, "config: POOL_MANAGERD_POOLS item 2 repeats");
}

Test(config, rejects_invalid_env_pool_naming_the_variable)
{
    static const char *const env[] = {"POOL_MANAGERD_POOLS=a,b\x01x", NULL};
    parse_fails_env(NULL, MINIMAL, env,
                    "config: POOL_MANAGERD_POOLS item 1 contains a control character");
}

Test(config, rejects_more_than_1024_env_pools)
{
    size_t size = 32 + 1025 * 8;
    char *var = malloc(size);
    const char *env[] = {var, NULL};
    size_t w = (size_t)snprintf(var, size, "POOL_MANAGERD_POOLS=");
    for (int i = 0; i < 1025; i++)
        w += (size_t)snprintf(var + w, size - w, "p%d,", i);
    parse_fails_env(NULL, MINIMAL, env, "config: POOL_MANAGERD_POOLS has more than 1024 items");
    free(var);
}

/* ---------------------------------------------------------------------- */
/* capabilities                                                           */
/* ---------------------------------------------------------------------- */

#define GPU0                                                                                       \
    "{\"device_id\":0,\"name\":\"NVIDIA H200\",\"vram_total_bytes\":150754820096,"                 \
    "\"compute_capability\":\"9.0\"}"

Test(config, reads_capabilities)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE ",\"capabilities\":{\"gpus\":[" GPU0
                             ",{\"device_id\":4294967295,\"name\":\"B\",\"vram_total_bytes\":"
                             "18446744073709551615,\"compute_capability\":\"10.0\"}],"
                             "\"cpu_cores\":16,\"ram_total_bytes\":137438953472}}");
    cr_assert_eq(c.has_capabilities, 1);
    cr_assert_eq(c.gpu_count, 2);
    cr_assert_eq(c.gpus[0].device_id, 0);
    cr_assert_str_eq(c.gpus[0].name, "NVIDIA H200");
    cr_assert_eq(c.gpus[0].vram_total_bytes, 150754820096ull);
    cr_assert_str_eq(c.gpus[0].compute_capability, "9.0");
    cr_assert_eq(c.gpus[1].device_id, 4294967295u);
    cr_assert_eq(c.gpus[1].vram_total_bytes, UINT64_MAX);
    cr_assert_eq(c.cpu_cores, 16);
    cr_assert_eq(c.ram_total_bytes, 137438953472ull);
    nr_config_free(&c);
}

Test(config, capabilities_cpu_and_ram_are_optional)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE ",\"capabilities\":{\"gpus\":[]}}");
    cr_assert_eq(c.has_capabilities, 1);
    cr_assert_eq(c.gpu_count, 0);
    cr_assert_eq(c.cpu_cores, 0);
    cr_assert_eq(c.ram_total_bytes, 0);
    nr_config_free(&c);
}

Test(config, absent_capabilities_are_left_to_the_host)
{
    nr_config_t c = parse_ok(MINIMAL);
    cr_assert_eq(c.has_capabilities, 0);
    cr_assert_null(c.gpus);
    nr_config_free(&c);
}

Test(config, rejects_non_object_capabilities)
{
    parse_fails(CFG("\"capabilities\":[]"), "config: capabilities must be an object");
}

Test(config, rejects_capabilities_without_gpus)
{
    parse_fails(CFG("\"capabilities\":{\"cpu_cores\":4}"), "config: capabilities.gpus is required");
}

Test(config, rejects_non_array_gpus)
{
    parse_fails(CFG("\"capabilities\":{\"gpus\":{}}"),
                "config: capabilities.gpus must be an array");
}

Test(config, rejects_unknown_key_in_capabilities_naming_its_path)
{
    parse_fails(CFG("\"capabilities\":{\"gpus\":[],\"cpus\":4}"),
                "config: unknown key \"capabilities.cpus\"");
}

Test(config, rejects_unknown_key_in_a_gpu_naming_its_path)
{
    parse_fails(CFG("\"capabilities\":{\"gpus\":[{\"device_id\":0,\"name\":\"A\","
                    "\"vram_total_bytes\":1,\"compute_capability\":\"8.6\",\"uuid\":\"x\"}]}"),
                "config: unknown key \"capabilities.gpus[0].uuid\"");
}

Test(config, rejects_gpu_missing_a_field_naming_it)
{
    parse_fails(CFG("\"capabilities\":{\"gpus\":[" GPU0 ",{\"device_id\":1,\"name\":\"A\","
                    "\"compute_capability\":\"8.6\"}]}"),
                "config: capabilities.gpus[1].vram_total_bytes is required");
}

Test(config, rejects_non_object_gpu)
{
    parse_fails(CFG("\"capabilities\":{\"gpus\":[\"H200\"]}"),
                "config: capabilities.gpus[0] must be an object");
}

Test(config, rejects_malformed_compute_capability)
{
    parse_fails(CFG("\"capabilities\":{\"gpus\":[{\"device_id\":0,\"name\":\"A\","
                    "\"vram_total_bytes\":1,\"compute_capability\":\"sm_86\"}]}"),
                "config: capabilities.gpus[0].compute_capability must be \"major.minor\" digits");
}

Test(config, rejects_numeric_compute_capability)
{
    parse_fails(CFG("\"capabilities\":{\"gpus\":[{\"device_id\":0,\"name\":\"A\","
                    "\"vram_total_bytes\":1,\"compute_capability\":8.6}]}"),
                "config: capabilities.gpus[0].compute_capability must be a string");
}

Test(config, rejects_empty_gpu_name)
{
    parse_fails(CFG("\"capabilities\":{\"gpus\":[{\"device_id\":0,\"name\":\"\","
                    "\"vram_total_bytes\":1,\"compute_capability\":\"8.6\"}]}"),
                "config: capabilities.gpus[0].name is empty");
}

Test(config, rejects_negative_device_id)
{
    parse_fails(CFG("\"capabilities\":{\"gpus\":[{\"device_id\":-1,\"name\":\"A\","
                    "\"vram_total_bytes\":1,\"compute_capability\":\"8.6\"}]}"),
                "config: capabilities.gpus[0].device_id must be an integer from 0 to 4294967295");
}

Test(config, rejects_device_id_above_u32)
{
    parse_fails(CFG("\"capabilities\":{\"gpus\":[{\"device_id\":4294967296,\"name\":\"A\","
                    "\"vram_total_bytes\":1,\"compute_capability\":\"8.6\"}]}"),
                "capabilities.gpus[0].device_id must be an integer");
}

Test(config, rejects_fractional_vram)
{
    parse_fails(CFG("\"capabilities\":{\"gpus\":[{\"device_id\":0,\"name\":\"A\","
                    "\"vram_total_bytes\":1.5,\"compute_capability\":\"8.6\"}]}"),
                "capabilities.gpus[0].vram_total_bytes must be an integer");
}

Test(config, rejects_cpu_cores_above_u32)
{
    parse_fails(CFG("\"capabilities\":{\"gpus\":[],\"cpu_cores\":4294967296}"),
                "config: capabilities.cpu_cores must be an integer from 0 to 4294967295");
}

Test(config, rejects_negative_ram)
{
    parse_fails(CFG("\"capabilities\":{\"gpus\":[],\"ram_total_bytes\":-1}"),
                "config: capabilities.ram_total_bytes must be an integer");
}

Test(config, rejects_more_than_64_gpus)
{
    size_t size = 65 * (sizeof(GPU0) + 1) + 256;
    char *list = malloc(size), *json = malloc(size + 256);
    size_t w = 0;
    for (int i = 0; i < 65; i++)
        w += (size_t)snprintf(list + w, size - w, "%s" GPU0, i ? "," : "");
    snprintf(json, size + 256, CFG("\"capabilities\":{\"gpus\":[%s]}"), list);
    parse_fails(json, "config: capabilities.gpus has more than 64 entries");
    free(list);
    free(json);
}

/* ---------------------------------------------------------------------- */
/* floors                                                                 */
/* ---------------------------------------------------------------------- */

Test(floors, refuse_each_duration_below_its_floor_naming_key_and_floor)
{
    static const char *const cases[][2] = {
        {"\"heartbeat_interval_ms\":99",
         "config: heartbeat_interval_ms must be an integer from 100 to"},
        {"\"request_timeout_ms\":99", "config: request_timeout_ms must be an integer from 100 to"},
        {"\"connect_timeout_ms\":49", "config: connect_timeout_ms must be an integer from 50 to"},
        {"\"deregister_timeout_ms\":99",
         "config: deregister_timeout_ms must be an integer from 100 to 30000"},
        {"\"retry_base_ms\":9", "config: retry_base_ms must be an integer from 10 to"},
        {"\"retry_max_ms\":9", "config: retry_max_ms must be an integer from 10 to"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[512];
        snprintf(json, sizeof(json), "{" ADDRESS "," URL "," NODE "," TOKEN ",%s}", cases[i][0]);
        parse_fails(json, cases[i][1]);
    }
}

Test(floors, one_millisecond_interval_is_refused)
{
    parse_fails(CFG("\"heartbeat_interval_ms\":1"),
                "config: heartbeat_interval_ms must be an integer from 100 to 86400000");
}

Test(floors, floors_in_the_defaults_apply_too)
{
    parse_fails_env("{\"request_timeout_ms\":10}", MINIMAL, no_env,
                    "config: request_timeout_ms (in the built-in defaults) must be an integer "
                    "from 100 to");
}

Test(floors, values_at_the_floors_are_accepted)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE
                             ",\"heartbeat_interval_ms\":100,\"request_timeout_ms\":100,"
                             "\"connect_timeout_ms\":50,\"deregister_timeout_ms\":100,"
                             "\"retry_base_ms\":10,\"retry_max_ms\":10}");
    cr_assert_eq(c.heartbeat_interval_ms, NR_HEARTBEAT_INTERVAL_MIN_MS);
    cr_assert_eq(c.request_timeout_ms, NR_REQUEST_TIMEOUT_MIN_MS);
    cr_assert_eq(c.connect_timeout_ms, NR_CONNECT_TIMEOUT_MIN_MS);
    cr_assert_eq(c.deregister_timeout_ms, NR_DEREGISTER_TIMEOUT_MIN_MS);
    cr_assert_eq(c.retry_base_ms, NR_RETRY_BASE_MIN_MS);
    cr_assert_eq(c.retry_max_ms, NR_RETRY_BASE_MIN_MS);
    nr_config_free(&c);
}

Test(floors, documented_values)
{
    cr_assert_eq(NR_HEARTBEAT_INTERVAL_MIN_MS, 100);
    cr_assert_eq(NR_REQUEST_TIMEOUT_MIN_MS, 100);
    cr_assert_eq(NR_CONNECT_TIMEOUT_MIN_MS, 50);
    cr_assert_eq(NR_DEREGISTER_TIMEOUT_MIN_MS, 100);
    cr_assert_eq(NR_RETRY_BASE_MIN_MS, 10);
}

Test(floors, derived_timeouts_never_fall_below_the_floors)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL "," NODE ",\"heartbeat_interval_ms\":100}");
    cr_assert_eq(c.request_timeout_ms, 100);
    cr_assert_eq(c.connect_timeout_ms, 100);
    cr_assert_geq(c.connect_timeout_ms, NR_CONNECT_TIMEOUT_MIN_MS);
    nr_config_free(&c);
    c = parse_ok("{" ADDRESS "," URL "," NODE ",\"request_timeout_ms\":100}");
    cr_assert_eq(c.connect_timeout_ms, 100);
    nr_config_free(&c);
}

Test(floors, retry_max_below_retry_base_is_refused)
{
    parse_fails(CFG("\"retry_base_ms\":500,\"retry_max_ms\":100"),
                "config: retry_base_ms (500) must not exceed retry_max_ms (100)");
}

/* ---------------------------------------------------------------------- */
/* identity text                                                          */
/* ---------------------------------------------------------------------- */

/* A valid config with a token but without node_id. */
#define CFG_ID(...) "{" ADDRESS "," URL "," TOKEN "," __VA_ARGS__ "}"

Test(identity, node_id_with_a_c1_control_is_refused)
{
    parse_fails(CFG_ID("\"node_id\":\"gpu\\u0085node\""),
                "config: node_id contains a control character");
    parse_fails(CFG_ID("\"node_id\":\"gpu\\u009f\""),
                "config: node_id contains a control character");
    parse_fails(CFG_ID("\"node_id\":\"\\u0080\""), "config: node_id contains a control character");
}

Test(identity, node_id_with_u00a0_is_accepted)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL ",\"node_id\":\"gpu\\u00a0node\"}");
    cr_assert_str_eq(c.node_id, "gpu\xC2\xA0node");
    nr_config_free(&c);
}

Test(identity, node_id_with_a_lone_surrogate_escape_is_refused)
{
    parse_fails(CFG_ID("\"node_id\":\"gpu-\\ud800\""), "config: node_id contains U+FFFD");
    parse_fails(CFG_ID("\"node_id\":\"gpu-\\udc00-1\""), "config: node_id contains U+FFFD");
}

Test(identity, node_id_with_a_replacement_character_is_refused)
{
    parse_fails(CFG_ID("\"node_id\":\"gpu-\\ufffd\""), "config: node_id contains U+FFFD");
    parse_fails(CFG_ID("\"node_id\":\"gpu-\xEF\xBF\xBD\""), "config: node_id contains U+FFFD");
}

Test(identity, node_id_from_env_with_c1_bytes_is_refused_naming_the_variable)
{
    static const char *const env[] = {"POOL_MANAGERD_NODE_ID=n\xC2\x9B", NULL};
    parse_fails_env(NULL, "{" ADDRESS "," URL "}", env,
                    "config: node_id (from POOL_MANAGERD_NODE_ID) contains a control character");
}

Test(identity, machine_id_with_c1_or_a_lone_surrogate_is_refused)
{
    parse_fails(CFG("\"machine_id\":\"m\\u0090\""),
                "config: machine_id contains a control character");
    parse_fails(CFG("\"machine_id\":\"m\\udbff\""), "config: machine_id contains U+FFFD");
}

Test(identity, pool_id_with_a_lone_surrogate_is_refused_naming_its_index)
{
    parse_fails(CFG("\"pools\":[\"a\",\"b\\ud83d\"]"), "config: pools[1] contains U+FFFD");
}

Test(identity, pool_id_with_c1_is_refused_naming_its_index)
{
    parse_fails(CFG("\"pools\":[\"a\\u0085\"]"), "config: pools[0] contains a control character");
}

Test(identity, env_pool_with_c1_bytes_is_refused_naming_the_variable)
{
    static const char *const env[] = {"POOL_MANAGERD_POOLS=a,b\xC2\x80", NULL};
    parse_fails_env(NULL, MINIMAL, env,
                    "config: POOL_MANAGERD_POOLS item 1 contains a control character");
}

Test(identity, gpu_name_keeps_the_descriptive_rules)
{
    nr_config_t c =
        parse_ok("{" ADDRESS "," URL "," NODE ",\"capabilities\":{\"gpus\":[{\"device_id\":0,"
                 "\"name\":\"H200\\u0085\\ud800\",\"vram_total_bytes\":1,"
                 "\"compute_capability\":\"9.0\"}]}}");
    cr_assert_str_eq(c.gpus[0].name, "H200\xC2\x85\xEF\xBF\xBD");
    nr_config_free(&c);
}

/* ---------------------------------------------------------------------- */
/* duplicate keys                                                         */
/* ---------------------------------------------------------------------- */

Test(duplicates, repeated_top_level_key_is_refused_naming_it)
{
    parse_fails_exactly("{" ADDRESS "," URL "," NODE
                        ",\"api_token\":\"tok-one\",\"api_token\":\"tok-two\"}",
                        "config: duplicate key \"api_token\"");
}

Test(duplicates, repeated_key_in_the_defaults_is_refused_saying_so)
{
    parse_fails_env("{\"retry_max_ms\":5000, \"retry_max_ms\" : 6000}", MINIMAL, no_env,
                    "config: duplicate key \"retry_max_ms\" (in the built-in defaults)");
}

Test(duplicates, repeated_key_in_a_nested_object_is_refused)
{
    parse_fails(CFG("\"capabilities\":{\"gpus\":[{\"device_id\":0,\"name\":\"A\",\"name\":\"B\","
                    "\"vram_total_bytes\":1,\"compute_capability\":\"8.6\"}]}"),
                "config: duplicate key \"name\"");
    parse_fails(CFG("\"capabilities\":{\"cpu_cores\":1,\"gpus\":[],\"cpu_cores\":2}"),
                "config: duplicate key \"cpu_cores\"");
}

Test(duplicates, a_key_spelled_with_escapes_is_the_same_key)
{
    parse_fails(CFG("\"node_\\u0069d\":\"n2\""), "config: duplicate key \"node_id\"");
}

Test(duplicates, same_key_in_sibling_objects_and_as_a_value_is_fine)
{
    nr_config_t c = parse_ok("{" ADDRESS "," URL
                             ",\"node_id\":\"node_id\",\"pools\":[\"{\\\"pools\\\":1,\",\"}\\\\\"],"
                             "\"capabilities\":{\"gpus\":[" GPU0 ",{\"device_id\":1,\"name\":\"A\","
                             "\"vram_total_bytes\":1,\"compute_capability\":\"8.6\"}]}}");
    cr_assert_str_eq(c.node_id, "node_id");
    cr_assert_eq(c.pool_count, 2);
    cr_assert_str_eq(c.pools[0], "{\"pools\":1,");
    cr_assert_eq(c.gpu_count, 2);
    nr_config_free(&c);
}

Test(duplicates, unknown_repeated_key_is_refused)
{
    parse_fails(CFG("\"x\":{\"a\":1,\"a\":[{\"b\":1,\"b\":2}]}"), "config: duplicate key \"a\"");
}

Test(duplicates, a_key_in_both_layers_is_not_a_duplicate)
{
    nr_config_t c = parse_ok_env("{\"retry_max_ms\":7000}", CFG("\"retry_max_ms\":8000"), no_env);
    cr_assert_eq(c.retry_max_ms, 8000);
    nr_config_free(&c);
}

/* ---------------------------------------------------------------------- */
/* proxy                                                                  */
/* ---------------------------------------------------------------------- */

/* Records every name the parser asks the environment for. */
typedef struct asked {
    const char *const *env;
    char names[4096];
} asked_t;

static const char *recording_lookup(const char *name, void *ctx)
{
    asked_t *a = ctx;
    strncat(a->names, name, sizeof(a->names) - strlen(a->names) - 2);
    strcat(a->names, " ");
    return env_lookup(name, (void *)a->env);
}

Test(proxy, absent_or_empty_means_no_proxy)
{
    nr_config_t c = parse_ok(MINIMAL);
    cr_assert_null(c.proxy);
    nr_config_free(&c);
    c = parse_ok("{" ADDRESS "," URL "," NODE ",\"proxy\":\"\"}");
    cr_assert_null(c.proxy);
    nr_config_free(&c);
}

Test(proxy, empty_in_config_overrides_a_defaults_proxy)
{
    nr_config_t c = parse_ok_env("{\"proxy\":\"http://proxy.example:3128\"}", MINIMAL, no_env);
    cr_assert_str_eq(c.proxy, "http://proxy.example:3128");
    nr_config_free(&c);
    c = parse_ok_env("{\"proxy\":\"http://proxy.example:3128\"}",
                     "{" ADDRESS "," URL "," NODE ",\"proxy\":\"\"}", no_env);
    cr_assert_null(c.proxy);
    nr_config_free(&c);
}

Test(proxy, accepts_http_https_and_socks5h_with_credentials)
{
    static const char *const ok[] = {"http://proxy.example:3128", "HTTPS://proxy.example",
                                     "socks5h://[::1]:1080", "http://user:pa%40ss@10.0.0.1:8080/",
                                     NULL};
    for (size_t i = 0; ok[i] != NULL; i++) {
        char json[512];
        snprintf(json, sizeof(json), "{" ADDRESS "," URL "," NODE ",\"proxy\":\"%s\"}", ok[i]);
        nr_config_t c = parse_ok(json);
        cr_assert_str_eq(c.proxy, ok[i]);
        nr_config_free(&c);
    }
}

Test(proxy, refuses_other_schemes)
{
    static const char *const bad[] = {"socks5://proxy:1080", "ftp://proxy", "proxy.example:3128",
                                      "socks4://p:1", NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        char json[512];
        snprintf(json, sizeof(json), CFG("\"proxy\":\"%s\""), bad[i]);
        parse_fails(json, "config: proxy must start with http://, https:// or socks5h://");
    }
}

Test(proxy, refuses_a_proxy_without_host)
{
    parse_fails(CFG("\"proxy\":\"http://\""), "config: proxy is not a valid URL (");
    parse_fails(CFG("\"proxy\":\"http://:3128\""), "config: proxy is not a valid URL (");
    parse_fails(CFG("\"proxy\":\"socks5h://user:pw@\""), "config: proxy is not a valid URL (");
}

Test(proxy, refuses_path_query_fragment_whitespace_and_bad_port)
{
    parse_fails(CFG("\"proxy\":\"http://p.example/x\""),
                "config: proxy must not have a path, a query or a fragment");
    parse_fails(CFG("\"proxy\":\"http://p.example/?a=b\""),
                "config: proxy must not have a path, a query or a fragment");
    parse_fails(CFG("\"proxy\":\"http://p.example#f\""),
                "config: proxy must not have a path, a query or a fragment");
    parse_fails(CFG("\"proxy\":\"http://p.example :3128\""),
                "config: proxy must be visible ASCII without whitespace");
    parse_fails(CFG("\"proxy\":\"http://p.example:99999\""), "config: proxy is not a valid URL");
    parse_fails(CFG("\"proxy\":\"http://p.example:0\""), "config: proxy has an invalid port");
    parse_fails(CFG("\"proxy\":3128"), "config: proxy must be a string");
}

Test(proxy, errors_never_show_the_proxy_credentials)
{
    static const char *const bad[] = {"http://user:SeCrEt@p.example:99999",
                                      "socks5://user:SeCrEt@p.example", "http://user:SeCrEt@",
                                      "http://user:SeCrEt@p.example/path", NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        char json[512];
        snprintf(json, sizeof(json), CFG("\"proxy\":\"%s\""), bad[i]);
        parse_fails(json, "config: proxy"); /* assert_no_secret: no "SeCrEt" */
    }
}

Test(proxy, environment_variables_are_ignored_and_never_read)
{
    static const char *const env[] = {"http_proxy=http://env-proxy:1",
                                      "HTTP_PROXY=http://env-proxy:1",
                                      "https_proxy=http://env-proxy:2",
                                      "HTTPS_PROXY=http://env-proxy:2",
                                      "all_proxy=socks5h://env-proxy:3",
                                      "ALL_PROXY=socks5h://env-proxy:3",
                                      "no_proxy=*",
                                      "NO_PROXY=*",
                                      NULL};
    asked_t a;
    nr_config_t c;
    char err[512];

    memset(&a, 0, sizeof(a));
    a.env = env;
    cr_assert_eq(nr_config_parse(NULL, MINIMAL, recording_lookup, &a, &c, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_null(c.proxy);
    cr_assert_null(strstr(a.names, "proxy"), "asked for: %s", a.names);
    cr_assert_null(strstr(a.names, "PROXY"), "asked for: %s", a.names);
    cr_assert_not_null(strstr(a.names, "POOL_MANAGERD_POOLS"), "the lookup was not used");
    nr_config_free(&c);
}

Test(proxy, display_removes_credentials_path_and_query)
{
    char out[128];
    cr_assert_eq(nr_config_proxy_display("http://user:SeCrEt@proxy.example:3128", out, sizeof(out)),
                 0);
    cr_assert_str_eq(out, "http://proxy.example:3128");
    cr_assert_eq(nr_config_proxy_display("socks5h://u:p@[::1]:1080", out, sizeof(out)), 0);
    cr_assert_str_eq(out, "socks5h://[::1]:1080");
    cr_assert_eq(nr_config_proxy_display("https://proxy.example/x?token=SeCrEt", out, sizeof(out)),
                 0);
    cr_assert_str_eq(out, "https://proxy.example");
    cr_assert_eq(nr_config_proxy_display("http://user@10.0.0.1", out, sizeof(out)), 0);
    cr_assert_str_eq(out, "http://10.0.0.1");
}

Test(proxy, display_refuses_null_invalid_and_too_small)
{
    char out[16];
    memset(out, 'x', sizeof(out));
    cr_assert_eq(nr_config_proxy_display(NULL, out, sizeof(out)), -1);
    cr_assert_str_eq(out, "");
    cr_assert_eq(nr_config_proxy_display("http://", out, sizeof(out)), -1);
    cr_assert_str_eq(out, "");
    cr_assert_eq(
        nr_config_proxy_display("http://u:SeCrEt@a-long-proxy-name.example:3128", out, sizeof(out)),
        -1);
    cr_assert_str_eq(out, "");
    cr_assert_eq(nr_config_proxy_display("http://p", NULL, 0), -1);
}

Test(loopback, hosts_as_libcurl_reads_them)
{
    static const char *const yes[] = {
        "http://localhost:3128",     "http://LOCALHOST",
        "http://localhost./v2",      "http://u:p@127.0.0.1:8080",
        "socks5h://127.1.2.3:1080",  "http://127.1:8080", /* libcurl reads 127.0.0.1 */
        "http://[::1]:3128",         "http://[::1]",
        "https://[0:0:0:0:0:0:0:1]", "http://[::ffff:127.0.0.1]:8080",
        "http://[::1%25lo]:8080",    NULL};
    static const char *const no[] = {"http://10.0.0.1:3128",
                                     "http://proxy.example",
                                     "http://[::2]:3128",
                                     "http://[::ffff:10.0.0.1]",
                                     "http://[fe80::1%25eth0]:8080",
                                     "http://localhost.example",
                                     "http://127.0.0.1.example.com/",
                                     "http://127.example/",
                                     "http://128.0.0.1/",
                                     "http://",
                                     "not a url",
                                     NULL};
    for (size_t i = 0; yes[i] != NULL; i++)
        cr_assert_eq(nr_config_url_is_loopback(yes[i]), 1, "%s", yes[i]);
    for (size_t i = 0; no[i] != NULL; i++)
        cr_assert_eq(nr_config_url_is_loopback(no[i]), 0, "%s", no[i]);
    cr_assert_eq(nr_config_url_is_loopback(NULL), 0);
}

/* ---------------------------------------------------------------------- */
/* encrypted client keys                                                  */
/* ---------------------------------------------------------------------- */

typedef struct keys {
    char dir[64], plain[128], pkcs8[128], traditional[128], cert[128];
} keys_t;

/* Real EC keys made by the openssl tool: one plain, one encrypted PKCS#8
 * (what genpkey -aes256 writes), one encrypted traditional PEM. */
static void make_keys(keys_t *k)
{
    char cmd[1024];

    if (system("openssl version >/dev/null 2>&1") != 0)
        cr_skip_test("the openssl tool is not installed");
    memset(k, 0, sizeof(*k));
    snprintf(k->dir, sizeof(k->dir), "/tmp/nr_config_keys.XXXXXX");
    cr_assert_not_null(mkdtemp(k->dir));
    snprintf(k->plain, sizeof(k->plain), "%s/plain.pem", k->dir);
    snprintf(k->pkcs8, sizeof(k->pkcs8), "%s/pkcs8.pem", k->dir);
    snprintf(k->traditional, sizeof(k->traditional), "%s/traditional.pem", k->dir);
    snprintf(k->cert, sizeof(k->cert), "%s/cert.pem", k->dir);
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
             "-out plain.pem 2>/dev/null && "
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 "
             "-pass pass:x -out pkcs8.pem 2>/dev/null && "
             "openssl ec -in plain.pem -aes256 -passout pass:x -out traditional.pem "
             "2>/dev/null && echo cert > cert.pem",
             k->dir);
    cr_assert_eq(system(cmd), 0, "openssl failed: %s", cmd);
}

static void remove_keys(const keys_t *k)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", k->dir);
    cr_assert_eq(system(cmd), 0);
}

/* The whole file as text. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 1 << 16);
    cr_assert_not_null(f);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    return buf;
}

static char *mtls_json(const keys_t *k, const char *key, const char *extra)
{
    char *json = malloc(1024);
    snprintf(json, 1024,
             "{" ADDRESS "," URL "," NODE ",\"client_cert\":\"%s\",\"client_key\":\"%s\"%s}",
             k->cert, key, extra);
    return json;
}

Test(client_key, pem_detection_on_real_keys)
{
    keys_t k;
    size_t len;
    char *text;

    make_keys(&k);
    text = slurp(k.plain, &len);
    cr_assert_eq(nr_config_pem_is_encrypted(text, len), 0, "%s", text);
    free(text);
    text = slurp(k.pkcs8, &len);
    cr_assert_eq(nr_config_pem_is_encrypted(text, len), 1, "%s", text);
    free(text);
    text = slurp(k.traditional, &len);
    cr_assert_not_null(strstr(text, "Proc-Type: 4,ENCRYPTED"), "%s", text);
    cr_assert_eq(nr_config_pem_is_encrypted(text, len), 1, "%s", text);
    free(text);
    remove_keys(&k);
}

Test(client_key, pem_detection_on_edge_texts)
{
    static const char pkcs8[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIH0\n";
    static const char trad[] = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n";
    static const char nul[] = "\0\0-----BEGIN ENCRYPTED PRIVATE KEY-----";
    cr_assert_eq(nr_config_pem_is_encrypted(pkcs8, sizeof(pkcs8) - 1), 1);
    cr_assert_eq(nr_config_pem_is_encrypted(trad, sizeof(trad) - 1), 1);
    cr_assert_eq(nr_config_pem_is_encrypted(nul, sizeof(nul) - 1), 1);
    cr_assert_eq(nr_config_pem_is_encrypted(pkcs8, 20), 0); /* cut short */
    cr_assert_eq(nr_config_pem_is_encrypted("-----BEGIN PRIVATE KEY-----", 27), 0);
    cr_assert_eq(nr_config_pem_is_encrypted("", 0), 0);
    cr_assert_eq(nr_config_pem_is_encrypted(NULL, 10), 0);
}

Test(client_key, encrypted_key_without_password_file_is_refused_at_parse)
{
    keys_t k;
    char want[512], *json;

    make_keys(&k);
    const char *const enc[] = {k.pkcs8, k.traditional};
    for (size_t i = 0; i < 2; i++) {
        json = mtls_json(&k, enc[i], "");
        snprintf(want, sizeof(want),
                 "config: client_key \"%s\" is encrypted (passphrase-protected); set "
                 "client_key_password_file or use an unencrypted key",
                 enc[i]);
        parse_fails_exactly(json, want);
        free(json);
    }
    remove_keys(&k);
}

Test(client_key, unencrypted_key_needs_no_password)
{
    keys_t k;
    char *json;
    nr_config_t c;

    make_keys(&k);
    json = mtls_json(&k, k.plain, "");
    c = parse_ok(json);
    cr_assert_str_eq(c.client_key, k.plain);
    cr_assert_null(c.client_key_password);
    nr_config_free(&c);
    free(json);
    remove_keys(&k);
}

Test(client_key, password_file_is_read_and_one_trailing_newline_trimmed)
{
    static const char *const contents[][2] = {
        {FILE_SECRET "\n", FILE_SECRET},
        {FILE_SECRET "\r\n", FILE_SECRET},
        {FILE_SECRET, FILE_SECRET},
        {FILE_SECRET "\n\n", FILE_SECRET "\n"},
        {" " FILE_SECRET " \n", " " FILE_SECRET " "},
    };
    keys_t k;
    char pw[128], extra[256], *json;

    make_keys(&k);
    snprintf(pw, sizeof(pw), "%s/pw", k.dir);
    snprintf(extra, sizeof(extra), ",\"client_key_password_file\":\"%s\"", pw);
    json = mtls_json(&k, k.pkcs8, extra);
    for (size_t i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
        FILE *f = fopen(pw, "wb");
        fputs(contents[i][0], f);
        fclose(f);
        nr_config_t c = parse_ok(json);
        cr_assert_str_eq(c.client_key_password, contents[i][1]);
        nr_config_free(&c);
        cr_assert_null(c.client_key_password);
    }
    free(json);
    remove_keys(&k);
}

Test(client_key, password_file_errors_name_the_file_never_the_content)
{
    keys_t k;
    char pw[128], extra[256], want[256], *json;
    FILE *f;

    make_keys(&k);
    snprintf(pw, sizeof(pw), "%s/pw", k.dir);
    snprintf(extra, sizeof(extra), ",\"client_key_password_file\":\"%s\"", pw);
    json = mtls_json(&k, k.pkcs8, extra);

    snprintf(want, sizeof(want), "config: client_key_password_file \"%s\" cannot be read", pw);
    parse_fails(json, want);
    f = fopen(pw, "wb");
    fwrite(FILE_SECRET "\0x", 1, sizeof(FILE_SECRET) + 1, f);
    fclose(f);
    snprintf(want, sizeof(want), "config: client_key_password_file \"%s\" contains a NUL byte", pw);
    parse_fails(json, want);
    f = fopen(pw, "wb");
    fputs("\n", f);
    fclose(f);
    snprintf(want, sizeof(want), "config: client_key_password_file \"%s\" is empty", pw);
    parse_fails(json, want);
    f = fopen(pw, "wb");
    for (int i = 0; i < 200; i++)
        fputs(FILE_SECRET, f);
    fclose(f);
    snprintf(want, sizeof(want),
             "config: client_key_password_file \"%s\" is larger than 1024 bytes", pw);
    parse_fails(json, want);
    free(json);
    remove_keys(&k);
}

Test(client_key, password_file_without_client_key_is_refused)
{
    char pw[64];
    temp_file("x\n", 2, pw, sizeof(pw));
    char *json = json_with_path(CFG("\"client_key_password_file\":\"%s\""), pw);
    parse_fails(json, "config: client_key_password_file is set without client_key");
    free(json);
    unlink(pw);
    parse_fails(CFG("\"client_key_password_file\":\"\""),
                "config: client_key_password_file is empty");
    parse_fails(CFG("\"client_key_password_file\":7"),
                "config: client_key_password_file must be a string");
}

Test(client_key, unreadable_key_file_is_an_error_naming_the_key)
{
    char cert[64], *json;
    temp_file("cert", 4, cert, sizeof(cert));
    json =
        json_with_path(CFG("\"client_cert\":\"%s\",\"client_key\":\"/nonexistent/k.pem\""), cert);
    parse_fails(json, "config: client_key \"/nonexistent/k.pem\" is not readable");
    free(json);
    unlink(cert);
}

/* ---------------------------------------------------------------------- */
/* output and errors                                                      */
/* ---------------------------------------------------------------------- */

Test(config, failure_after_partial_parse_leaves_output_zeroed)
{
    /* Fails late (TLS), after strings, pools, GPUs and the token were built. */
    parse_fails(CFG("\"pools\":[\"a\"],\"capabilities\":{\"gpus\":[" GPU0 "]},"
                    "\"tls_insecure\":\"yes\""),
                "tls_insecure must be true or false");
}

Test(config, free_is_safe_on_zeroed_and_on_freed_configs)
{
    nr_config_t c;
    memset(&c, 0, sizeof(c));
    nr_config_free(&c);
    c = parse_ok(CFG("\"pools\":[\"a\"]"));
    nr_config_free(&c);
    assert_zeroed(&c);
    nr_config_free(&c);
    nr_config_free(NULL);
}

Test(config, error_is_truncated_to_the_buffer)
{
    nr_config_t c;
    char err[16];
    cr_assert_eq(
        nr_config_parse(NULL, "{\"nope\":1}", env_lookup, (void *)no_env, &c, err, sizeof(err)),
        -1);
    cr_assert_eq(strlen(err), sizeof(err) - 1);
    cr_assert_eq(strncmp(err, "config: unknown", 15), 0);
}

Test(config, error_buffer_may_be_null)
{
    nr_config_t c;
    cr_assert_eq(nr_config_parse(NULL, "{\"nope\":1}", env_lookup, (void *)no_env, &c, NULL, 0),
                 -1);
    assert_zeroed(&c);
}

Test(config, null_output_is_refused)
{
    char err[64];
    cr_assert_eq(nr_config_parse(NULL, MINIMAL, env_lookup, (void *)no_env, NULL, err, sizeof(err)),
                 -1);
}
