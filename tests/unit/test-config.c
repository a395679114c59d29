/* Unit tests for the Lua config loader: keys, types, the sandbox, limits. */
#include "engine/engine.h"
#include "tests/unit/runner.h"

static int load(floe_config *cfg, const char *text, char *err, size_t errlen)
{
    ASSERT_EQ(floe_config_defaults(cfg), 0);
    return floe_config_load_string(cfg, text, "test.lua", err, errlen);
}

TEST(defaults_listen_on_three_ports_both_families)
{
    floe_config cfg;
    ASSERT_EQ(floe_config_defaults(&cfg), 0);
    ASSERT_EQ(cfg.n_listen, 6);
    ASSERT_STR_EQ(cfg.listen[0], "0.0.0.0:2055");
    ASSERT_STR_EQ(cfg.listen[5], "[::]:6343");
    ASSERT_STR_EQ(cfg.data_dir, "./floe-data");
    ASSERT_CONTAINS(cfg.web, ":3000");
    floe_config_free(&cfg);
}

TEST(values_apply)
{
    floe_config cfg;
    char err[256];
    ASSERT_EQ(load(&cfg,
                   "listen = { '127.0.0.1:9995' }\n"
                   "web = '127.0.0.1:8080'\n"
                   "log = { level = 'debug' }\n"
                   "templates = { timeout = 60, max = 100, max_per_exporter = 10 }\n"
                   "exporters = { max = 2 * 8 }\n",
                   err, sizeof(err)),
              0);
    ASSERT_EQ(cfg.n_listen, 1);
    ASSERT_STR_EQ(cfg.listen[0], "127.0.0.1:9995");
    ASSERT_STR_EQ(cfg.web, "127.0.0.1:8080");
    ASSERT_EQ(cfg.log_level, FLOE_LOG_DEBUG);
    ASSERT_EQ(cfg.template_timeout, 60);
    ASSERT_EQ(cfg.max_exporters, 16);
    floe_config_free(&cfg);
}

TEST(unknown_key_is_named)
{
    floe_config cfg;
    char err[256];
    ASSERT_EQ(load(&cfg, "templates = { timout = 5 }", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_STR_EQ(err, "unknown key 'templates.timout'");
    floe_config_free(&cfg);
    ASSERT_EQ(load(&cfg, "colour = 'blue'", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_STR_EQ(err, "unknown key 'colour'");
    floe_config_free(&cfg);
}

TEST(wrong_types_are_named)
{
    floe_config cfg;
    char err[256];
    ASSERT_EQ(load(&cfg, "web = 3000", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_STR_EQ(err, "key 'web' must be a string, not number");
    floe_config_free(&cfg);
    ASSERT_EQ(load(&cfg, "exporters = { max = 'lots' }", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_STR_EQ(err, "key 'exporters.max' must be an integer, not string");
    floe_config_free(&cfg);
    ASSERT_EQ(load(&cfg, "exporters = { max = 1.5 }", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "exporters.max");
    floe_config_free(&cfg);
    ASSERT_EQ(load(&cfg, "listen = { 1, 2 }", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "key 'listen' item 1 must be a string");
    floe_config_free(&cfg);
    ASSERT_EQ(load(&cfg, "templates = 5", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_STR_EQ(err, "key 'templates' must be a table, not number");
    floe_config_free(&cfg);
    ASSERT_EQ(load(&cfg, "log = { level = 'loud' }", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "key 'log.level' has a bad value 'loud'");
    floe_config_free(&cfg);
}

TEST(ranges_and_endpoints_are_checked)
{
    floe_config cfg;
    char err[256];
    ASSERT_EQ(load(&cfg, "exporters = { max = 0 }", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "must be from 1");
    floe_config_free(&cfg);
    ASSERT_EQ(load(&cfg, "listen = { '::1:2055' }", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "listen");
    ASSERT_CONTAINS(err, "brackets");
    floe_config_free(&cfg);
    ASSERT_EQ(load(&cfg, "templates = { max = 5, max_per_exporter = 10 }", err, sizeof(err)),
              FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "exceeds");
    floe_config_free(&cfg);
}

TEST(sandbox_has_no_io_or_os)
{
    floe_config cfg;
    char err[256];
    ASSERT_EQ(load(&cfg, "io.open('/etc/passwd')", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "io");
    floe_config_free(&cfg);
    ASSERT_EQ(load(&cfg, "os.execute('true')", err, sizeof(err)), FLOE_ECONFIG);
    floe_config_free(&cfg);
    ASSERT_EQ(load(&cfg, "require('os')", err, sizeof(err)), FLOE_ECONFIG);
    floe_config_free(&cfg);
    ASSERT_EQ(load(&cfg, "load('return 1')", err, sizeof(err)), FLOE_ECONFIG);
    floe_config_free(&cfg);
}

TEST(runaway_config_is_stopped)
{
    floe_config cfg;
    char err[256];
    ASSERT_EQ(load(&cfg, "while true do end", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "too long");
    floe_config_free(&cfg);
    ASSERT_EQ(load(&cfg, "local t = {} for i = 1, 1e9 do t[i] = i end", err, sizeof(err)),
              FLOE_ECONFIG);
    floe_config_free(&cfg);
}

TEST(syntax_error_names_the_line)
{
    floe_config cfg;
    char err[256];
    ASSERT_EQ(load(&cfg, "web = '1.2.3.4:1'\nlisten = {", err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "test.lua:2");
    floe_config_free(&cfg);
}

TEST(example_config_loads_and_equals_defaults)
{
    floe_buf b;
    floe_config cfg, def;
    char err[256];
    floe_buf_init(&b);
    floe_config_describe(&b);
    ASSERT_EQ(load(&cfg, b.data, err, sizeof(err)), 0);
    ASSERT_EQ(floe_config_defaults(&def), 0);
    ASSERT_EQ(cfg.n_listen, def.n_listen);
    ASSERT_EQ(cfg.max_templates, def.max_templates);
    ASSERT_STR_EQ(cfg.web, def.web);
    floe_config_free(&cfg);
    floe_config_free(&def);
    floe_buf_close(&b);
}

TEST_MAIN(TEST_ENTRY(defaults_listen_on_three_ports_both_families), TEST_ENTRY(values_apply),
          TEST_ENTRY(unknown_key_is_named), TEST_ENTRY(wrong_types_are_named),
          TEST_ENTRY(ranges_and_endpoints_are_checked), TEST_ENTRY(sandbox_has_no_io_or_os),
          TEST_ENTRY(runaway_config_is_stopped), TEST_ENTRY(syntax_error_names_the_line),
          TEST_ENTRY(example_config_loads_and_equals_defaults))
