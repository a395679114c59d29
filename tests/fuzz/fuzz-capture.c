/* libFuzzer target: a whole capture file (pcap, pcapng with fragments, or an IPFIX file) through
 * the capture reader, ingest and the tables.
 */
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_feed_capture(data, size);
}
