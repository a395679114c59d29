/* Unit tests for the sflow decoder. (Stub: being written.) */
#include "collector/collector.h"
#include "tests/unit/runner.h"

TEST(placeholder)
{
    ASSERT(floe_dec_ops_for(FLOE_PROTO_V5) != NULL);
}

TEST_MAIN(TEST_ENTRY(placeholder))
