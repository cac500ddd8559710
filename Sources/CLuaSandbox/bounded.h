// Shared by the sandbox's C files; not part of the module's interface.
#ifndef SANDMAN_BOUNDED_H
#define SANDMAN_BOUNDED_H

#include <lua.h>
#include <lauxlib.h>

/// Longest format accepted by string.pack, string.unpack, string.packsize and os.date: each
/// option or conversion costs from a few nanoseconds to a microsecond in C however short the
/// data, and real formats are a few dozen characters.
#define SANDMAN_MAXIMUM_FORMAT 256

/// How many steps a bounded function takes between two checkpoints. A step is meant to cost
/// about what a Lua instruction costs (a few nanoseconds), so that steps count fairly against
/// the instruction budget: one pattern-matching step, 64 bytes copied or compared, 4 bytes
/// searched, a quarter of a table element moved, a sixteenth of a control character quoted by %q.
#define SANDMAN_CHECK_INTERVAL 1024

/// Steps for one element read and written by a table function (lua_geti and lua_seti).
#define SANDMAN_ELEMENT_COST 4

/// Raises "time limit exceeded" once the deadline has passed, and counts `cost` steps as
/// instructions once the budget is armed (raising when it is spent). Bounded library functions
/// call it every SANDMAN_CHECK_INTERVAL steps or so.
void sandman_lua_checkpoint(lua_State *L, long long cost);

/// Steps a bounded function took since its last checkpoint.
typedef struct Steps {
    lua_State *L;
    long long pending;
} Steps;

/// Counts `cost` more steps and passes a checkpoint once SANDMAN_CHECK_INTERVAL have gathered.
static inline void step(Steps *steps, long long cost) {
    steps->pending += cost;
    if (steps->pending >= SANDMAN_CHECK_INTERVAL) {
        long long pending = steps->pending;
        steps->pending = 0;
        sandman_lua_checkpoint(steps->L, pending);
    }
}

/// Bytes copied or compared count as one step per 64.
static inline long long bytes_cost(size_t bytes) {
    return 1 + (long long)(bytes / 64);
}

/// Bytes searched for a substring (memmem, about a nanosecond a byte at worst) count as one step
/// per 4.
static inline long long search_cost(size_t bytes) {
    return 1 + (long long)(bytes / 4);
}

/// Replaces `name` in the table on the stack top by a function that refuses a format (argument
/// #1) longer than SANDMAN_MAXIMUM_FORMAT bytes, then runs the original on the same stack.
void sandman_limit_format_length(lua_State *L, const char *name);

/// Replace the functions of the real `string`, `table` and `os` tables (on the stack top) that
/// can run long on small input.
void sandman_bound_string_library(lua_State *L);
void sandman_bound_table_library(lua_State *L);
void sandman_bound_os_library(lua_State *L);

#endif
