/*
 * The plugin runtime: the sandbox every piece of user Lua runs in. Each
 * test runs a hostile or faulty script and checks that it is stopped, that
 * what it reached for is absent, and that the state is still usable.
 */
#include <lauxlib.h>

#include "plugins/plugins.h"
#include "tests/unit/runner.h"

#define MEM (4u << 20)

/* Loads and runs text in a fresh sandbox environment; returns the call's
 * code, with the message in err. */
static int run(floe_sandbox *sb, const char *text, uint64_t budget, char *err, size_t errlen)
{
    floe_sandbox_push_env(sb);
    int rc = floe_sandbox_load(sb, text, strlen(text), "test.lua", -1, err, errlen);
    lua_remove(sb->L, rc == 0 ? -2 : -1); /* the environment */
    if (rc != 0)
        return rc;
    return floe_sandbox_call(sb, 0, 1, budget, err, errlen);
}

/* Runs an expression's script and returns its result as a string. */
static const char *eval(floe_sandbox *sb, const char *text, char *out, size_t outlen)
{
    char err[512];
    if (run(sb, text, 1000000, err, sizeof(err)) != 0) {
        snprintf(out, outlen, "error: %.100s", err);
        return out;
    }
    snprintf(out, outlen, "%s", luaL_tolstring(sb->L, -1, NULL));
    lua_pop(sb->L, 2);
    return out;
}

TEST(endless_loops_are_stopped_even_through_pcall)
{
    floe_sandbox sb;
    char err[512];
    ASSERT_EQ(floe_sandbox_open(&sb, MEM, err, sizeof(err)), 0);
    ASSERT_EQ(run(&sb, "while true do end", 100000, err, sizeof(err)), FLOE_ELIMIT);
    ASSERT_CONTAINS(err, "instruction budget");
    ASSERT_EQ(run(&sb, "while true do pcall(function() while true do end end) end", 100000, err,
                  sizeof(err)),
              FLOE_ELIMIT);
    /* The state is still good for the next call. */
    char out[64];
    ASSERT_STR_EQ(eval(&sb, "return 6 * 7", out, sizeof(out)), "42");
    floe_sandbox_close(&sb);
}

TEST(memory_bombs_hit_the_cap_and_the_state_recovers)
{
    floe_sandbox sb;
    char err[512], out[64];
    ASSERT_EQ(floe_sandbox_open(&sb, MEM, err, sizeof(err)), 0);
    ASSERT_EQ(run(&sb, "local t = {} for i = 1, 1e8 do t[i] = i end", 0, err, sizeof(err)),
              FLOE_ENOMEM);
    ASSERT_CONTAINS(err, "out of memory");
    ASSERT_EQ(run(&sb, "return string.rep('x', 1 << 30)", 0, err, sizeof(err)), FLOE_ENOMEM);
    ASSERT_LE(sb.peak, MEM);
    ASSERT_GT(sb.mem_refusals, 0);
    lua_gc(sb.L, LUA_GCCOLLECT);
    ASSERT_STR_EQ(eval(&sb, "return #string.rep('y', 1000)", out, sizeof(out)), "1000");
    floe_sandbox_close(&sb);
}

TEST(nothing_outside_the_safe_globals_is_reachable)
{
    floe_sandbox sb;
    char err[512], out[128];
    ASSERT_EQ(floe_sandbox_open(&sb, MEM, err, sizeof(err)), 0);
    static const char *const absent[] = {
        "io",     "os",         "debug",          "require", "load", "loadfile",
        "dofile", "loadstring", "collectgarbage", "package", "_G"};
    for (size_t i = 0; i < FLOE_ARRAY_LEN(absent); i++) {
        char text[64];
        snprintf(text, sizeof(text), "return type(%s)", absent[i]);
        ASSERT_STR_EQ(eval(&sb, text, out, sizeof(out)), "nil");
    }
    /* string.dump, directly, through a string's methods, or through the
     * string metatable. */
    ASSERT_STR_EQ(eval(&sb, "return type(string.dump)", out, sizeof(out)), "nil");
    ASSERT_STR_EQ(eval(&sb, "return type(('x').dump)", out, sizeof(out)), "nil");
    ASSERT_STR_EQ(eval(&sb, "return tostring(getmetatable(''))", out, sizeof(out)), "false");
    ASSERT_CONTAINS(eval(&sb, "setmetatable('', {})", out, sizeof(out)), "error");
    floe_sandbox_close(&sb);
}

TEST(bytecode_is_refused_and_errors_name_the_line)
{
    floe_sandbox sb;
    char err[512];
    ASSERT_EQ(floe_sandbox_open(&sb, MEM, err, sizeof(err)), 0);
    const char bytecode[] = "\x1bLua\x54\x00";
    floe_sandbox_push_env(&sb);
    ASSERT_EQ(
        floe_sandbox_load(&sb, bytecode, sizeof(bytecode) - 1, "evil.luac", -1, err, sizeof(err)),
        FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "binary");
    lua_pop(sb.L, 1);
    ASSERT_EQ(run(&sb, "local x = nil\nreturn x.field", 0, err, sizeof(err)), FLOE_EINVAL);
    ASSERT_CONTAINS(err, "test.lua:2:");
    ASSERT(strchr(err, '\n') == NULL); /* one line; the traceback is kept apart */
    ASSERT_CONTAINS(sb.trace, "stack traceback:");
    ASSERT_EQ(run(&sb, "return (", 0, err, sizeof(err)), FLOE_ECONFIG);
    ASSERT_CONTAINS(err, "test.lua:1:");
    floe_sandbox_close(&sb);
}

TEST(each_environment_has_its_own_libraries)
{
    floe_sandbox sb;
    char err[512], out[64];
    ASSERT_EQ(floe_sandbox_open(&sb, MEM, err, sizeof(err)), 0);
    ASSERT_STR_EQ(eval(&sb, "string.format = nil; math.pi = 3; return 1", out, sizeof(out)), "1");
    ASSERT_STR_EQ(
        eval(&sb, "return string.format('%d', 5) .. math.floor(math.pi)", out, sizeof(out)), "53");
    /* A string's own methods are the state's string table, untouched. */
    ASSERT_STR_EQ(eval(&sb, "return ('%d'):format(9)", out, sizeof(out)), "9");
    floe_sandbox_close(&sb);
}

TEST_MAIN(TEST_ENTRY(endless_loops_are_stopped_even_through_pcall),
          TEST_ENTRY(memory_bombs_hit_the_cap_and_the_state_recovers),
          TEST_ENTRY(nothing_outside_the_safe_globals_is_reachable),
          TEST_ENTRY(bytecode_is_refused_and_errors_name_the_line),
          TEST_ENTRY(each_environment_has_its_own_libraries))
