/*
 * floe's entry point: a table of subcommands, and the option parsing for
 * `floe run`. Every bad argument gives one line naming it and exit code 2.
 */
#include "collector/collector.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: floe COMMAND [OPTIONS]\n"
               "\n"
               "A flow collector for NetFlow v5/v9, IPFIX and sFlow v5.\n"
               "\n"
               "commands:\n"
               "  run      run the collector (see floe run --help)\n"
               "  decode   decode flow exports in pcap files to NDJSON or a summary\n"
               "  replay   feed captures through the whole pipeline, print alerts and totals\n"
               "  config   print the configuration in effect, with every key documented\n"
               "  plugin   plugin tools: floe plugin test DIR runs a plugin's tests\n"
               "  rrd      timeseries tools: floe rrd migrate rewrites files to their schema\n"
               "\n"
               "  floe --version    print the version\n"
               "  floe --help       print this help\n");
}

static void run_usage(FILE *f)
{
    fprintf(
        f, "usage: floe run [-c FILE] [--listen ADDR:PORT]... [--listen-tcp ADDR:PORT]...\n"
           "                [--web ADDR:PORT] [--data DIR] [--plugins DIR]... [--log-level LEVEL]\n"
           "\n"
           "  -c, --config FILE      Lua config file (default: built-in defaults)\n"
           "  -l, --listen ADDR:PORT UDP address to receive on; repeat for more; replaces\n"
           "                         the configured list. IPv6 as [::1]:2055\n"
           "      --listen-tcp ADDR:PORT  TCP address to receive IPFIX on; repeat for more;\n"
           "                         replaces the configured listen_tcp list\n"
           "  -w, --web ADDR:PORT    HTTP address (\"\" for none; default 127.0.0.1:3000)\n"
           "  -d, --data DIR         data directory (default ./floe-data)\n"
           "  -p, --plugins DIR      add a plugin directory; repeatable\n"
           "      --log-level LEVEL  error, warn, info or debug\n"
           "\n"
           "Signals: SIGHUP reloads the config; SIGINT and SIGTERM stop cleanly.\n");
}

static int push_arg(char ***list, size_t *n, char *arg)
{
    char **grown = realloc(*list, (*n + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    grown[(*n)++] = arg;
    *list = grown;
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    enum { OPT_LOG_LEVEL = 1000, OPT_LISTEN_TCP };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"listen-tcp", required_argument, NULL, OPT_LISTEN_TCP},
        {"web", required_argument, NULL, 'w'},
        {"data", required_argument, NULL, 'd'},
        {"plugins", required_argument, NULL, 'p'},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    floe_run_opts o;
    int c, bad = 0;
    memset(&o, 0, sizeof(o));
    optind = 1;
    while (!bad && (c = getopt_long(argc, argv, "c:l:w:d:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o.config_path = optarg;
            break;
        case 'l':
            bad = push_arg(&o.listen, &o.n_listen, optarg);
            break;
        case OPT_LISTEN_TCP:
            bad = push_arg(&o.listen_tcp, &o.n_listen_tcp, optarg);
            break;
        case 'w':
            o.web = optarg;
            break;
        case 'd':
            o.data_dir = optarg;
            break;
        case 'p':
            bad = push_arg(&o.plugin_dirs, &o.n_plugin_dirs, optarg);
            break;
        case OPT_LOG_LEVEL:
            o.log_level = optarg;
            break;
        case 'h':
            run_usage(stdout);
            free(o.listen);
            free(o.listen_tcp);
            free(o.plugin_dirs);
            return 0;
        default:
            bad = 1;
        }
    }
    if (!bad && optind < argc) {
        fprintf(stderr, "floe run: unexpected argument '%s'\n", argv[optind]);
        bad = 1;
    }
    int rc = bad ? 2 : floe_cmd_run(&o);
    if (bad)
        fprintf(stderr, "Try 'floe run --help'.\n");
    free(o.listen);
    free(o.listen_tcp);
    free(o.plugin_dirs);
    return rc;
}

static int cmd_config(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--example") == 0) {
        floe_buf b;
        floe_buf_init(&b);
        floe_config_describe(&b);
        fwrite(b.data, 1, b.len, stdout);
        floe_buf_close(&b);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--check") == 0) {
        floe_config cfg;
        char err[512];
        if (floe_config_defaults(&cfg) != 0)
            return 1;
        int rc = floe_config_load(&cfg, argv[2], err, sizeof(err));
        floe_config_free(&cfg);
        if (rc != 0) {
            fprintf(stderr, "floe config: %s\n", err);
            return 2;
        }
        printf("%s: ok\n", argv[2]);
        return 0;
    }
    fprintf(stderr, "usage: floe config --example | --check FILE\n");
    return 2;
}

static int cmd_plugin(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "test") == 0)
        return floe_cmd_plugin_test(argc - 1, argv + 1);
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: floe plugin test DIR\n");
        return 0;
    }
    fprintf(stderr, "usage: floe plugin test DIR\n");
    return 2;
}

static int cmd_decode(int argc, char **argv)
{
    return floe_cmd_decode(argc, argv);
}

/* The subcommands, one row each. */
static const struct command {
    const char *name;
    int (*main)(int argc, char **argv);
} commands[] = {
    {"run", cmd_run},       {"decode", cmd_decode}, {"replay", floe_cmd_replay},
    {"config", cmd_config}, {"plugin", cmd_plugin}, {"rrd", floe_cmd_rrd},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("floe %s\n", PACKAGE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < FLOE_ARRAY_LEN(commands); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "floe: unknown command '%s'; try 'floe --help'\n", argv[1]);
    return 2;
}
