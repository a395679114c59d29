/*
 * floe_fifo: the ring behind the flow table's eviction order and its queue
 * of flows to flush (see util.h). Only set-up lives here; the operations
 * are inline.
 */
#include "util/util.h"

#include <stdlib.h>

int floe_fifo_init(floe_fifo *q, size_t n)
{
    size_t size = floe_pow2_at_least(n);
    q->slot = floe_table_calloc(size, sizeof(void *));
    if (!q->slot)
        return FLOE_ENOMEM;
    q->mask = size - 1;
    q->head = q->tail = 1;
    return 0;
}

void floe_fifo_close(floe_fifo *q)
{
    free(q->slot);
    memset(q, 0, sizeof(*q));
}
