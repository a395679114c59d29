/*
 * Shared by the fuzz targets: an input is a sequence of datagrams, each a
 * 2-byte big-endian length and its bytes, fed through floe's whole ingest
 * pipeline from one exporter address. An input that does not split cleanly
 * is one datagram. Each target keeps one protocol's seeds; any target can
 * reach any decoder, since the ingest path detects the protocol.
 */
#ifndef FLOE_FUZZ_H
#define FLOE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Feeds data through ingest and (when tables is set) the live tables. */
int fuzz_feed(const uint8_t *data, size_t size, int tables);

#endif
