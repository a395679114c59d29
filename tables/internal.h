/*
 * Internal to tables/: functions shared between its files. Nothing outside
 * tables/ includes this file.
 */
#ifndef FLOE_TABLES_INTERNAL_H
#define FLOE_TABLES_INTERNAL_H

#include "tables/tables.h"

/* netif.c: interfaces, local networks and exporter application ids. */
int tables__nets_init(floe_tables *t, const floe_tables_opts *o, char *err, size_t errlen);
void tables__nets_account(floe_tables *t, const floe_host *from, const floe_host *to,
                          uint64_t bytes, uint64_t pkts);
/* Adds one direction's bytes and packets to its input and output
 * interfaces (ifs[0], ifs[1]; 0 is unknown) of the exporter id. */
void tables__ifaces_account(floe_tables *t, uint64_t exporter, const uint32_t ifs[2],
                            uint64_t bytes, uint64_t pkts, uint64_t now);
int tables__app_from_ie95(floe_tables *t, uint64_t exporter, const floe_app *app,
                          floe_app_label *out);
int tables__appnames_init(floe_tables *t);

#endif
