/* config_merge.h - test configs: a base object plus members that add to or
 * replace the base's (the plugin refuses a key given twice, so a test that
 * overrides a default must not simply append it). */
#ifndef PMD_TEST_CONFIG_MERGE_H
#define PMD_TEST_CONFIG_MERGE_H

/* base_json: a JSON object. extra_members: NULL, or object members without
 * braces ("\"a\":1,\"b\":2"). Returns malloc'd JSON text; aborts the test
 * process on malformed input (a bug in the test itself). */
char *test_config_merge(const char *base_json, const char *extra_members);

#endif
