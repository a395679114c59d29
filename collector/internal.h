/*
 * Internal to collector/: what `floe decode` and `floe replay` share.
 * Nothing outside collector/ includes this file.
 */
#ifndef FLOE_COLLECTOR_INTERNAL_H
#define FLOE_COLLECTOR_INTERNAL_H

#include "collector/collector.h"

/* A config loaded for an offline command, and a quiet log. open and feed
 * print their own one-line errors and return an exit code (0 on success). */
typedef struct col__offline {
    floe_config cfg;
    floe_log log;
    floe_pcap_stats ps;
} col__offline;

int col__offline_open(col__offline *o, const char *prog, const char *config_path);
int col__offline_feed(col__offline *o, const char *prog, char **files, int n, floe_pcap_cb cb,
                      void *ud);
void col__offline_close(col__offline *o);

#endif
