/* Unit tests for alerts/. */
#include "tests/unit/runner.h"
#include "alerts/alerts.h"

TEST(names)
{
    ASSERT_STR_EQ(floe_entity_name(FLOE_ENTITY_FLOW), "flow");
}

TEST_MAIN(TEST_ENTRY(names))
