/* libFuzzer target: nf9 datagrams (seeded from the nf9 captures) through ingest. */
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_feed(data, size, 0);
}
