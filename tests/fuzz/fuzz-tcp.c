/* libFuzzer target: the bytes of an IPFIX-over-TCP connection (seeded from the IPFIX captures'
 * messages, one after another) through the engine's stream session, ingest and the tables.
 */
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_feed_stream(data, size);
}
