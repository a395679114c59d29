/*
 * plugins: floe's Lua runtime. For now the sandbox that every piece of
 * user Lua runs in (the config file, and the plugin checks that build on
 * it). The plugin engine itself (loader, hooks, the flow, alert and ts
 * APIs) lives beside it in this folder.
 */
#ifndef FLOE_PLUGINS_H
#define FLOE_PLUGINS_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ---- the sandbox -------------------------------------------------------- */

/*
 * One Lua state with a memory cap and an instruction budget per call.
 *   - Memory: every allocation goes through a capping allocator; past
 *     mem_limit bytes it fails, which Lua raises as a memory error.
 *   - Time: a count hook charges instructions to the running call's
 *     budget; past it, the call fails with FLOE_ELIMIT (again and again if
 *     the script catches the error, so pcall cannot escape it). C functions
 *     are not interrupted: they run to completion.
 *   - Reach: floe_sandbox_push_env makes an environment with only pure
 *     functions and copies of string, table, math and utf8; string.dump is
 *     gone and the string metatable is hidden. No io, os, debug, require,
 *     load or dofile. Code loads as text only (bytecode is refused).
 */
typedef struct floe_sandbox {
    lua_State *L;
    size_t mem_limit;      /* bytes */
    size_t used, peak;     /* bytes now, and the most ever */
    uint64_t mem_refusals; /* allocations refused at the cap */
    uint64_t insn_budget;  /* of the running call; 0: none */
    uint64_t insn_used;    /* by the running call, in steps of the hook */
    int insn_exceeded;
    char trace[2048]; /* the last error with its traceback */
} floe_sandbox;

/* Opens a state. 0, or FLOE_ENOMEM with a reason in err. */
int floe_sandbox_open(floe_sandbox *sb, size_t mem_limit, char *err, size_t errlen);
/* Closes the state; safe to call twice. */
void floe_sandbox_close(floe_sandbox *sb);
/* Pushes a new environment table holding the safe globals. */
void floe_sandbox_push_env(floe_sandbox *sb);
/*
 * Loads text (never bytecode) as a function whose _ENV is the table at
 * index env, and pushes it. name is used in messages. 0, or FLOE_ECONFIG
 * with Lua's message (file:line: ...) in err and nothing pushed.
 */
int floe_sandbox_load(floe_sandbox *sb, const char *text, size_t len, const char *name, int env,
                      char *err, size_t errlen);
/*
 * Calls the function below the nargs arguments on the stack, as lua_pcall,
 * with insn_budget instructions (0: no limit). 0 with nresults pushed; or
 * FLOE_ELIMIT (budget spent), FLOE_ENOMEM (memory cap) or FLOE_EINVAL (a
 * runtime error), with the message (one line) in err, the message with
 * its traceback in sb->trace, and nothing pushed.
 */
int floe_sandbox_call(floe_sandbox *sb, int nargs, int nresults, uint64_t insn_budget, char *err,
                      size_t errlen);

#endif /* FLOE_PLUGINS_H */
