/*
 * JSON text to Lua values and back, for check configuration (the config
 * file's overrides, the HTTP API, the persisted state) and for the info
 * tables that statuses and alerts carry. The parser is strict RFC 8259
 * (no comments, no trailing commas), nests at most JSON_DEPTH deep, and
 * pushes onto the given state, whose memory cap bounds what a hostile
 * body can cost. JSON null becomes nil, which drops the key.
 */
#include "plugins/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define JSON_DEPTH 32

typedef struct parser {
    lua_State *L;
    const char *start, *p, *end;
    char *err;
    size_t errlen;
    int depth;
} parser;

static int fail(parser *ps, const char *what)
{
    if (ps->err && !ps->err[0])
        snprintf(ps->err, ps->errlen, "%s at byte %zu", what, (size_t)(ps->p - ps->start));
    return FLOE_EINVAL;
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(luaL_Buffer *b, unsigned cp)
{
    if (cp < 0x80) {
        luaL_addchar(b, (char)cp);
    } else if (cp < 0x800) {
        luaL_addchar(b, (char)(0xc0 | (cp >> 6)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        luaL_addchar(b, (char)(0xe0 | (cp >> 12)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3f)));
    } else {
        luaL_addchar(b, (char)(0xf0 | (cp >> 18)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3f)));
    }
}

/* An escape after the backslash at ps->p; 0 or an error. */
static int escape(parser *ps, luaL_Buffer *b)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (ps->p >= ps->end)
        return fail(ps, "unterminated string");
    const char *k = strchr(from, *ps->p);
    if (k && *ps->p) {
        luaL_addchar(b, to[k - from]);
        ps->p++;
        return 0;
    }
    unsigned cp, lo;
    if (*ps->p != 'u' || ps->end - ps->p < 5 || hex4(ps->p + 1, &cp) != 0)
        return fail(ps, "bad escape in a string");
    ps->p += 5;
    if (cp >= 0xd800 && cp < 0xdc00) {
        if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
            hex4(ps->p + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
            return fail(ps, "bad surrogate pair in a string");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        ps->p += 6;
    }
    put_utf8(b, cp);
    return 0;
}

static int parse_string(parser *ps)
{
    luaL_Buffer b;
    ps->p++; /* the opening quote */
    luaL_buffinit(ps->L, &b);
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p++;
        if (c < 0x20)
            return fail(ps, "control character in a string");
        if (c != '\\')
            luaL_addchar(&b, (char)c);
        else if (escape(ps, &b) != 0)
            return FLOE_EINVAL;
    }
    if (ps->p >= ps->end)
        return fail(ps, "unterminated string");
    ps->p++;
    luaL_pushresult(&b);
    return 0;
}

static int parse_number(parser *ps)
{
    char tmp[64];
    size_t n = 0;
    int is_float = 0;
    while (ps->p + n < ps->end && n < sizeof(tmp) - 1 && strchr("+-0123456789.eE", ps->p[n])) {
        is_float |= ps->p[n] == '.' || ps->p[n] == 'e' || ps->p[n] == 'E';
        n++;
    }
    memcpy(tmp, ps->p, n);
    tmp[n] = '\0';
    char *end;
    if (!is_float) {
        long long v = strtoll(tmp, &end, 10);
        if (*end == '\0' && n > 0 && !(n > 1 && tmp[0] == '0') &&
            !(n > 2 && tmp[0] == '-' && tmp[1] == '0')) {
            lua_pushinteger(ps->L, (lua_Integer)v);
            ps->p += n;
            return 0;
        }
    }
    double d = strtod(tmp, &end);
    if (n == 0 || *end != '\0' || !isfinite(d))
        return fail(ps, "bad number");
    lua_pushnumber(ps->L, d);
    ps->p += n;
    return 0;
}

static int parse_value(parser *ps);

static int parse_container(parser *ps, int array)
{
    char close = array ? ']' : '}';
    if (++ps->depth > JSON_DEPTH)
        return fail(ps, "nested too deep");
    if (!lua_checkstack(ps->L, 4))
        return fail(ps, "nested too deep");
    ps->p++;
    lua_newtable(ps->L);
    skip_ws(ps);
    lua_Integer i = 1;
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return 0;
    }
    for (;;) {
        skip_ws(ps);
        if (!array) {
            if (ps->p >= ps->end || *ps->p != '"' || parse_string(ps) != 0)
                return fail(ps, "expected a string key");
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p++ != ':')
                return fail(ps, "expected ':'");
        }
        if (parse_value(ps) != 0)
            return FLOE_EINVAL;
        if (array)
            lua_rawseti(ps->L, -2, i++);
        else
            lua_rawset(ps->L, -3);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            ps->depth--;
            return 0;
        }
        return fail(ps, array ? "expected ',' or ']'" : "expected ',' or '}'");
    }
}

static int literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, "unexpected text");
    ps->p += n;
    return 0;
}

static int parse_value(parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end");
    switch (*ps->p) {
    case '{':
        return parse_container(ps, 0);
    case '[':
        return parse_container(ps, 1);
    case '"':
        return parse_string(ps);
    case 't':
        lua_pushboolean(ps->L, 1);
        return literal(ps, "true");
    case 'f':
        lua_pushboolean(ps->L, 0);
        return literal(ps, "false");
    case 'n':
        lua_pushnil(ps->L);
        return literal(ps, "null");
    default:
        return parse_number(ps);
    }
}

int plug__json_push(lua_State *L, const char *text, size_t len, char *err, size_t errlen)
{
    parser ps = {L, text, text, text + len, err, errlen, 0};
    int top = lua_gettop(L);
    if (err && errlen)
        err[0] = '\0';
    if (parse_value(&ps) == 0) {
        skip_ws(&ps);
        if (ps.p == ps.end)
            return 0;
        fail(&ps, "text after the value");
    }
    if (err && errlen && !err[0])
        snprintf(err, errlen, "bad JSON");
    lua_settop(L, top);
    return FLOE_EINVAL;
}

/* ---- Lua to JSON ------------------------------------------------------------ */

/* A table whose keys are exactly 1..n (n > 0), written as an array. */
static int is_array(lua_State *L, int idx)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
    if (n == 0)
        return 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TNUMBER || !lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
            lua_tointeger(L, -1) > n) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
    }
    return count == n;
}

static void write_value(lua_State *L, int idx, floe_json *j, int depth);

static void write_table(lua_State *L, int idx, floe_json *j, int depth)
{
    if (depth >= JSON_DEPTH || !lua_checkstack(L, 4)) {
        floe_json_null(j);
        return;
    }
    if (is_array(L, idx)) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
        floe_json_arr_begin(j);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            write_value(L, lua_gettop(L), j, depth + 1);
            lua_pop(L, 1);
        }
        floe_json_arr_end(j);
        return;
    }
    floe_json_obj_begin(j);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int t = lua_type(L, -2);
        if (t == LUA_TSTRING || t == LUA_TNUMBER) {
            lua_pushvalue(L, -2); /* tostring of a number key must not touch the real key */
            floe_json_key(j, lua_tostring(L, -1));
            lua_pop(L, 1);
            write_value(L, lua_gettop(L), j, depth + 1);
        }
        lua_pop(L, 1);
    }
    floe_json_obj_end(j);
}

static void write_value(lua_State *L, int idx, floe_json *j, int depth)
{
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        floe_json_bool(j, lua_toboolean(L, idx));
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            floe_json_i64(j, (int64_t)lua_tointeger(L, idx));
        else if (isfinite(lua_tonumber(L, idx)))
            floe_json_double(j, lua_tonumber(L, idx));
        else
            floe_json_null(j);
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        floe_json_strn(j, s, n);
        break;
    }
    case LUA_TTABLE:
        write_table(L, idx, j, depth);
        break;
    default:
        floe_json_null(j);
    }
}

void plug__json_write(lua_State *L, int idx, floe_json *j)
{
    write_value(L, lua_absindex(L, idx), j, 0);
}

char *plug__json_string(lua_State *L, int idx)
{
    floe_buf b;
    floe_json j;
    floe_buf_init(&b);
    floe_json_init(&j, &b);
    plug__json_write(L, idx, &j);
    if (!floe_buf_ok(&b)) {
        floe_buf_close(&b);
        return NULL;
    }
    size_t n;
    char *s = floe_buf_steal(&b, &n);
    return s ? s : strdup("null");
}

static int json_string_protected(lua_State *L)
{
    char **out = lua_touserdata(L, 1);
    *out = plug__json_string(L, 2);
    return 0;
}

char *plug__json_string_safe(lua_State *L, int idx)
{
    char *out = NULL;
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, json_string_protected);
    lua_pushlightuserdata(L, &out);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK)
        lua_pop(L, 1);
    return out;
}

char *floe_plugins_lua_json(lua_State *L, int idx)
{
    return plug__json_string_safe(L, idx);
}
