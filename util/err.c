/* floe_strerror: the message for each FLOE_E* code, from FLOE_ERRNO_MAP. */
#include "util/util.h"

const char *floe_strerror(int err)
{
    switch (err) {
    case FLOE_OK:
        return "success";
#define XX(code, msg)                                                                              \
    case FLOE_E##code:                                                                             \
        return msg;
        FLOE_ERRNO_MAP(XX)
#undef XX
    }
    return "unknown error";
}
