/*
 * Internal to collector/: functions shared between its files. Nothing
 * outside collector/ includes this file.
 */
#ifndef FLOE_COLLECTOR_INTERNAL_H
#define FLOE_COLLECTOR_INTERNAL_H

#include "collector/collector.h"

/* netif.c: interfaces, local networks and exporter application ids. */
int col__nets_init(floe_tables *t, const floe_config *cfg, char *err, size_t errlen);
void col__nets_account(floe_tables *t, const floe_host *from, const floe_host *to,
                       uint64_t bytes, uint64_t pkts);
/* Adds one direction's bytes and packets to its input and output
 * interfaces (ifs[0], ifs[1]; 0 is unknown) of exporter id. */
void col__ifaces_account(floe_tables *t, uint64_t exporter, const uint32_t ifs[2],
                         uint64_t bytes, uint64_t pkts, uint64_t now);
int col__app_from_ie95(floe_tables *t, const floe_exporter *ex, const floe_app *app,
                       floe_app_label *out);
int col__appnames_init(floe_tables *t);

/* decode.c: what `floe decode` and `floe replay` share. open and feed print
 * their own one-line errors and return an exit code (0 on success). */
typedef struct col__offline {
    floe_config cfg;
    floe_log log;
    floe_ingest ing;
    floe_pcap_stats ps;
} col__offline;

int col__offline_open(col__offline *o, const char *prog, const char *config_path);
int col__offline_feed(col__offline *o, const char *prog, char **files, int n, floe_pcap_cb cb,
                      void *ud);
void col__offline_close(col__offline *o);

#endif
