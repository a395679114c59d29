/*
 * Unit tests for www/'s pieces that need no server: HTML escaping and the
 * template that escapes by default, the login redirect check, the embedded
 * asset table, and the web config keys. The server, the routes and
 * authentication are tested through the daemon (tests/integration/test_web.py)
 * and a browser (tests/browser/).
 */
#include "engine/engine.h"
#include "tests/unit/runner.h"
#include "www/internal.h"

TEST(escape_covers_the_five_characters)
{
    floe_buf b;
    floe_buf_init(&b);
    floe_html_escape(&b, "a<b>&\"c'd");
    ASSERT_STR_EQ(b.data, "a&lt;b&gt;&amp;&quot;c&#39;d");
    floe_buf_reset(&b);
    floe_html_escape(&b, NULL);
    floe_html_escape(&b, "");
    floe_html_escape(&b, "plain 10.0.0.1");
    ASSERT_STR_EQ(b.data, "plain 10.0.0.1");
    floe_buf_close(&b);
}

TEST(template_escapes_by_default)
{
    floe_buf b;
    floe_buf_init(&b);
    floe_html_tpl(&b, "<a href=\"/hosts/{}\">{}</a>{!}{}", "1.2.3.4", "<script>", "<br>", NULL);
    ASSERT_STR_EQ(b.data, "<a href=\"/hosts/1.2.3.4\">&lt;script&gt;</a><br>");
    floe_buf_reset(&b);
    /* Braces that are not placeholders stay as they are. */
    floe_html_tpl(&b, "{x} {", NULL);
    ASSERT_STR_EQ(b.data, "{x} {");
    floe_buf_close(&b);
}

TEST(login_redirects_stay_on_this_server)
{
    ASSERT_STR_EQ(www__safe_next("/hosts?sort=bytes"), "/hosts?sort=bytes");
    ASSERT_STR_EQ(www__safe_next("/hosts/10.0.0.1"), "/hosts/10.0.0.1");
    static const char *const bad[] = {
        NULL,   "",           "hosts", "//evil.example/", "/\\evil.example", "http://x.example/",
        "/a b", "/x\"><img>", "/a\tb",
    };
    for (size_t i = 0; i < FLOE_ARRAY_LEN(bad); i++)
        ASSERT_STR_EQ(www__safe_next(bad[i]), "/");
}

TEST(assets_are_embedded_with_types_and_digests)
{
    static const char *const names[] = {"app.js",        "app.css",     "uPlot.iife.min.js",
                                        "uPlot.min.css", "favicon.svg", "uPlot.LICENSE.txt"};
    ASSERT_EQ(www__n_assets, FLOE_ARRAY_LEN(names));
    for (size_t i = 0; i < FLOE_ARRAY_LEN(names); i++) {
        const www__asset *a = www__asset_find(names[i]);
        ASSERT(a != NULL);
        ASSERT_GT(a->len, 100);
        ASSERT_EQ(a->data[a->len], 0); /* the generator's terminator, not counted */
        ASSERT_EQ(strlen(a->hash), 8);
        ASSERT(strchr(a->type, '/') != NULL);
    }
    ASSERT_CONTAINS(www__asset_find("app.js")->type, "javascript");
    ASSERT_CONTAINS((const char *)www__asset_find("uPlot.LICENSE.txt")->data, "MIT License");
    /* Only exact names: nothing else resolves. */
    ASSERT(www__asset_find("../app.js") == NULL);
    ASSERT(www__asset_find("static/app.js") == NULL);
    ASSERT(www__asset_find("APP.JS") == NULL);
    ASSERT(www__asset_find("") == NULL);
}

static int load(floe_config *cfg, const char *text, char *err, size_t errlen)
{
    ASSERT_EQ(floe_config_defaults(cfg), 0);
    return floe_config_load_string(cfg, text, "test.lua", err, errlen);
}

TEST(web_config_keys)
{
    floe_config cfg;
    char err[256] = "";
    ASSERT_EQ(load(&cfg,
                   "web_password = 'correct horse'\nweb_token = '0123456789abcdef'\n"
                   "web_session_ttl = 3600\n",
                   err, sizeof(err)),
              0);
    ASSERT_STR_EQ(cfg.web_password, "correct horse");
    ASSERT_STR_EQ(cfg.web_token, "0123456789abcdef");
    ASSERT_EQ(cfg.web_session_ttl, 3600);
    ASSERT_STR_EQ(cfg.web_tls_cert, "");
    floe_config_free(&cfg);

    static const struct {
        const char *text, *names;
    } bad[] = {
        {"web_token = 'short'", "web_token"},       {"web_password = 'short'", "web_password"},
        {"web_tls_cert = '/x.pem'", "web_tls_key"}, {"web_tls_key = '/x.pem'", "web_tls_cert"},
        {"web_session_ttl = 5", "web_session_ttl"},
    };
    for (size_t i = 0; i < FLOE_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        ASSERT_EQ(load(&cfg, bad[i].text, err, sizeof(err)), FLOE_ECONFIG);
        ASSERT_CONTAINS(err, bad[i].names);
        floe_config_free(&cfg);
    }
}

TEST_MAIN(TEST_ENTRY(escape_covers_the_five_characters), TEST_ENTRY(template_escapes_by_default),
          TEST_ENTRY(login_redirects_stay_on_this_server),
          TEST_ENTRY(assets_are_embedded_with_types_and_digests), TEST_ENTRY(web_config_keys))
