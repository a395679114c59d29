/*
 * Shared by the fuzz targets: an input is a sequence of datagrams, each a
 * 2-byte big-endian length and its bytes, fed through floe's whole ingest
 * pipeline from one exporter address. An input that does not split cleanly
 * is one datagram. Each target keeps one protocol's seeds; any target can
 * reach any decoder, since the ingest path detects the protocol. Two
 * targets take other inputs: a TCP stream, and a whole capture file.
 */
#ifndef FLOE_FUZZ_H
#define FLOE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Feeds data through ingest and (when tables is set) the live tables. */
int fuzz_feed(const uint8_t *data, size_t size, int tables);
/* Feeds data as the bytes of one IPFIX-over-TCP connection, in reads of a
 * size the last byte picks, through the engine's stream session. */
int fuzz_feed_stream(const uint8_t *data, size_t size);
/* Reads data as a capture file (pcap, pcapng or an IPFIX file) and feeds
 * what it holds through ingest and the tables. */
int fuzz_feed_capture(const uint8_t *data, size_t size);

#endif
