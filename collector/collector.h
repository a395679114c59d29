/*
 * collector: floe's command line and its daemon. The composition root:
 * `floe run` owns the libuv loop, the config and its reloads, the UDP
 * listeners, the signals and the web server, and feeds the engine;
 * `floe decode` and `floe replay` feed the engine from capture files.
 * Everything floe does with a datagram is the engine's (engine/engine.h).
 */
#ifndef FLOE_COLLECTOR_H
#define FLOE_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "engine/engine.h"
#include "util/util.h"

/* ---- commands ---------------------------------------------------------- */

/* Command-line values that override the config file for `floe run`. */
typedef struct floe_run_opts {
    const char *config_path;
    char **listen;
    size_t n_listen;
    char **listen_tcp;
    size_t n_listen_tcp;
    const char *web;
    const char *data_dir;
    char **plugin_dirs;
    size_t n_plugin_dirs;
    const char *log_level;
} floe_run_opts;

/* Each returns the process exit code: 0, 1 on a runtime failure, 2 on a
 * bad command line or config (after one line naming the problem). */
int floe_cmd_run(const floe_run_opts *o);
int floe_cmd_decode(int argc, char **argv);
int floe_cmd_replay(int argc, char **argv);
/* `floe plugin test DIR` (argv[0] is "test"). */
int floe_cmd_plugin_test(int argc, char **argv);
/* `floe rrd migrate`: RRD files rewritten to their schema's layout. */
int floe_cmd_rrd(int argc, char **argv);

/* ---- the daemon -------------------------------------------------------- */

struct floe_www;
struct floe_auth;
struct floe_daemon;

/* One UDP socket, read with recvmmsg into the listener's own slots when
 * the poll handle says it is readable (collector/listen.c). */
struct floe_listen_batch;
typedef struct floe_listener {
    uv_poll_t poll;
    int fd;
    floe_list link;
    floe_source source; /* its name, datagrams and drops, for the engine */
    struct floe_daemon *d;
    char *name; /* as configured, e.g. "[::]:2055" */
    struct floe_listen_batch *batch;
    int seen; /* mark for the reload diff */
} floe_listener;

/*
 * One IPFIX-over-TCP listening socket and its connections, each an
 * exporter session of its own (engine/engine.h, floe_stream). Bounded by
 * tcp.max_connections over all listeners; a connection that sends
 * nothing for tcp.idle_timeout, or leaves a message unfinished for
 * tcp.stall_timeout, or sends what cannot be framed, is closed, and each
 * way a connection ends is counted.
 */
typedef struct floe_tcp_listener {
    uv_tcp_t tcp;
    floe_list link;
    floe_source source; /* its name and messages, for the engine */
    struct floe_daemon *d;
    char *name;      /* as configured */
    floe_list conns; /* tcp_conn, by link */
    uint32_t open;   /* connections now */
    uint64_t accepted, refused;
    uint64_t ended[FLOE_STREAM_END_COUNT];
    uint64_t bytes;
    int seen; /* mark for the reload diff */
} floe_tcp_listener;

typedef struct floe_daemon {
    uv_loop_t loop;
    floe_config cfg;
    floe_run_opts opts;
    floe_log log;
    floe_engine engine;
    int engine_ready;
    floe_list listeners;
    floe_list tcp_listeners; /* floe_tcp_listener, by link */
    uint32_t tcp_open;       /* connections over all of them */
    struct floe_www *www;
    struct floe_auth *auth; /* passwords, tokens and sessions; outlives web restarts */
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t tick, force_exit;
    uv_check_t housekeep_check;
    uv_idle_t housekeep_idle;
    uv_prepare_t turn_end;   /* measures each turn (engine.loop_stats) */
    uv_timer_t nap;          /* the listeners' pause between light turns (see listen.c) */
    uint64_t turn_datagrams; /* read in this turn of the loop */
    int napping;
    int stopping;
} floe_daemon;

/* Opens every configured listener not yet open and closes those no longer
 * configured. Returns 0, or a negative code after logging which failed. */
int floe_listeners_apply(floe_daemon *d);
void floe_listeners_close_all(floe_daemon *d);
/* After a turn of the loop that read only a few datagrams, stops reading
 * for a few milliseconds (as the buffers allow), so that a slow stream is
 * read in batches instead of a wake-up, two reads and an upkeep slice per
 * datagram. Called once a turn, from the daemon's check handle. */
void floe_listeners_turn(floe_daemon *d);
/* The same for the IPFIX-over-TCP listeners (listen_tcp); closing one
 * closes its connections. */
int floe_tcp_listeners_apply(floe_daemon *d);
void floe_tcp_listeners_close_all(floe_daemon *d);
/* Closes the connections past a timeout; the daemon's tick calls it. */
void floe_tcp_sweep(floe_daemon *d, uint64_t now_ms);

#endif /* FLOE_COLLECTOR_H */
