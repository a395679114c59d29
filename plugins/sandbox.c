/*
 * The Lua sandbox that the config file and every plugin run in. A state
 * whose allocator caps its memory, an instruction budget enforced by a
 * count hook, an environment that offers only pure functions and copies of
 * the string, table, math and utf8 libraries, and a string metatable that
 * cannot be reached to get at string.dump. Code is loaded as text only,
 * never as bytecode.
 */
#include "plugins/plugins.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

/* How often the count hook runs: often enough to stop a loop within a
 * millisecond or so, rarely enough to cost little (LIBRARIES.md: 15-40%
 * for a hook on every instruction batch of this order). */
#define HOOK_EVERY 1000

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    floe_sandbox *sb = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        sb->used -= old;
        free(ptr);
        return NULL;
    }
    if (nsize > old && sb->used + (nsize - old) > sb->mem_limit) {
        sb->mem_refusals++;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) {
        sb->used = sb->used - old + nsize;
        if (sb->used > sb->peak)
            sb->peak = sb->used;
    }
    return p;
}

/* The sandbox's own address, kept in the registry so the hook can find it. */
static const char sandbox_key = 0;

static floe_sandbox *sandbox_of(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &sandbox_key);
    floe_sandbox *sb = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return sb;
}

/*
 * Counts instructions against the budget of the running call. Once it is
 * spent, the hook runs after every instruction and raises an error each
 * time, so a script that catches the error with pcall is stopped again at
 * its very next instruction, outside the pcall, and so on outwards.
 */
static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    floe_sandbox *sb = sandbox_of(L);
    if (sb->insn_exceeded)
        luaL_error(L, "instruction budget exceeded (%I)", (lua_Integer)sb->insn_budget);
    sb->insn_used += HOOK_EVERY;
    if (sb->insn_budget && sb->insn_used > sb->insn_budget) {
        sb->insn_exceeded = 1;
        lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "instruction budget exceeded (%I)", (lua_Integer)sb->insn_budget);
    }
}

/* Globals a script may read: pure functions. Everything else (io, os,
 * debug, require, load, loadfile, dofile, collectgarbage, rawset on
 * others' tables through the metatable functions aside) is absent. */
static const char *const safe_functions[] = {
    "assert", "error",  "ipairs",   "next",     "pairs", "pcall",  "rawequal",     "rawget",
    "rawlen", "select", "tonumber", "tostring", "type",  "xpcall", "setmetatable", "getmetatable",
};
static const char *const safe_libraries[] = {"string", "table", "math", "utf8"};

int floe_sandbox_open(floe_sandbox *sb, size_t mem_limit, char *err, size_t errlen)
{
    memset(sb, 0, sizeof(*sb));
    sb->mem_limit = mem_limit;
    lua_State *L = lua_newstate(capped_alloc, sb);
    if (!L) {
        snprintf(err, errlen, "out of memory for a Lua state");
        return FLOE_ENOMEM;
    }
    sb->L = L;
    luaL_requiref(L, "_G", luaopen_base, 1);
    luaL_requiref(L, "string", luaopen_string, 1);
    luaL_requiref(L, "table", luaopen_table, 1);
    luaL_requiref(L, "math", luaopen_math, 1);
    luaL_requiref(L, "utf8", luaopen_utf8, 1);
    lua_settop(L, 0);
    /* string.dump would turn functions into bytecode; strings index the
     * string table through their shared metatable, so remove it there and
     * hide that metatable from getmetatable. */
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    lua_pushlightuserdata(L, sb);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sandbox_key);
    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
    return 0;
}

void floe_sandbox_close(floe_sandbox *sb)
{
    if (sb->L)
        lua_close(sb->L);
    sb->L = NULL;
}

/* A shallow copy of the table at idx, pushed. */
static void push_copy(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
}

void floe_sandbox_push_env(floe_sandbox *sb)
{
    lua_State *L = sb->L;
    lua_newtable(L);
    for (size_t i = 0; i < FLOE_ARRAY_LEN(safe_functions); i++) {
        lua_getglobal(L, safe_functions[i]);
        lua_setfield(L, -2, safe_functions[i]);
    }
    for (size_t i = 0; i < FLOE_ARRAY_LEN(safe_libraries); i++) {
        lua_getglobal(L, safe_libraries[i]);
        push_copy(L, -1);
        lua_setfield(L, -3, safe_libraries[i]);
        lua_pop(L, 1);
    }
}

int floe_sandbox_load(floe_sandbox *sb, const char *text, size_t len, const char *name, int env,
                      char *err, size_t errlen)
{
    lua_State *L = sb->L;
    env = lua_absindex(L, env);
    char chunkname[256];
    snprintf(chunkname, sizeof(chunkname), "@%s", name);
    if (luaL_loadbufferx(L, text, len, chunkname, "t") != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "load error");
        lua_pop(L, 1);
        return FLOE_ECONFIG;
    }
    lua_pushvalue(L, env);
    lua_setupvalue(L, -2, 1); /* the chunk's _ENV */
    return 0;
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = luaL_typename(L, 1);
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int floe_sandbox_call(floe_sandbox *sb, int nargs, int nresults, uint64_t insn_budget, char *err,
                      size_t errlen)
{
    lua_State *L = sb->L;
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    sb->insn_used = 0;
    sb->insn_budget = insn_budget;
    sb->insn_exceeded = 0;
    int rc = lua_pcall(L, nargs, nresults, base);
    sb->insn_budget = 0;
    if (sb->insn_exceeded)
        lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
    lua_remove(L, base);
    if (rc == LUA_OK)
        return 0;
    const char *msg = lua_tostring(L, -1);
    snprintf(sb->trace, sizeof(sb->trace), "%s", msg ? msg : "error");
    if (rc == LUA_ERRMEM) {
        snprintf(err, errlen, "out of memory (the sandbox's cap is %zu bytes)", sb->mem_limit);
    } else {
        /* The message alone, one line; the traceback stays in sb->trace. */
        const char *tb = msg ? strstr(msg, "\nstack traceback:") : NULL;
        int n = tb ? (int)(tb - msg) : (int)strlen(msg ? msg : "error");
        snprintf(err, errlen, "%.*s", n, msg ? msg : "error");
    }
    lua_pop(L, 1);
    if (sb->insn_exceeded)
        return FLOE_ELIMIT;
    return rc == LUA_ERRMEM ? FLOE_ENOMEM : FLOE_EINVAL;
}
