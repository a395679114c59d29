/* libFuzzer target: sflow datagrams (seeded from the sflow captures) through ingest and the tables.
 */
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_feed(data, size, 1);
}
