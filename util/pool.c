/*
 * floe_pool: equal-sized items in one reserved address range, a free list
 * threaded through free items, and a bitmap saying which slots are live.
 * Tables use it so that a new flow or host costs no malloc, memory stays
 * under a bound, scans walk contiguous memory, and an item's slot is a
 * subtraction and a division (it was a binary search over chunks).
 */
#include "util/util.h"

#include <stdlib.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

int floe_pool_init(floe_pool *p, size_t item_size, size_t per_chunk, size_t max)
{
    memset(p, 0, sizeof(*p));
    if (item_size == 0 || per_chunk == 0 || max == 0)
        return FLOE_EINVAL;
    p->item_size = (item_size + 7) & ~(size_t)7;
    if (p->item_size < sizeof(void *))
        p->item_size = sizeof(void *);
    if (max > SIZE_MAX / p->item_size / 2)
        return FLOE_EINVAL;
    p->per_chunk = per_chunk;
    p->max = max;
    /* Address space only: pages are backed as they are first touched, and
     * MAP_NORESERVE keeps an unused bound from counting against overcommit. */
    p->reserved = max * p->item_size;
    void *base = mmap(NULL, p->reserved, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    p->used = calloc((max + 7) / 8, 1);
    if (base == MAP_FAILED || !p->used) {
        if (base != MAP_FAILED)
            munmap(base, p->reserved);
        free(p->used);
        memset(p, 0, sizeof(*p));
        return FLOE_ENOMEM;
    }
    p->base = base;
    return 0;
}

void floe_pool_close(floe_pool *p)
{
    if (p->base)
        munmap(p->base, p->reserved);
    free(p->used);
    memset(p, 0, sizeof(*p));
}

void *floe_pool_alloc(floe_pool *p)
{
    if (p->live >= p->max)
        return NULL;
    void *item = p->free_list;
    if (item)
        p->free_list = *(void **)item;
    else
        item = p->base + p->n_slots++ * p->item_size; /* live < max, so a slot is left */
    size_t s = floe_pool_slot(p, item);
    p->used[s / 8] |= (uint8_t)(1u << (s % 8));
    memset(item, 0, p->item_size);
    p->live++;
    return item;
}

void floe_pool_free(floe_pool *p, void *item)
{
    if (!item || (char *)item < p->base || (char *)item >= p->base + p->n_slots * p->item_size)
        return;
    size_t s = floe_pool_slot(p, item);
    p->used[s / 8] &= (uint8_t) ~(1u << (s % 8));
    *(void **)item = p->free_list;
    p->free_list = item;
    p->live--;
}

int floe_pool_prefault(floe_pool *p)
{
    if (p->free_list || p->faulted >= p->max || p->faulted >= p->n_slots + p->per_chunk)
        return 0;
    size_t from = p->faulted > p->n_slots ? p->faulted : p->n_slots;
    size_t to = from + p->per_chunk < p->max ? from + p->per_chunk : p->max;
    uintptr_t page = 4096;
    uintptr_t a = ((uintptr_t)(p->base + from * p->item_size) + page - 1) & ~(page - 1);
    uintptr_t b = ((uintptr_t)(p->base + to * p->item_size) + page - 1) & ~(page - 1);
    if (b > a)
        (void)madvise((void *)a, b - a, MADV_POPULATE_WRITE); /* a hint: may fail on old kernels */
    p->faulted = to;
    return 1;
}

void *floe_pool_at(const floe_pool *p, size_t i)
{
    if (i >= p->n_slots || !(p->used[i / 8] & (1u << (i % 8))))
        return NULL;
    return p->base + i * p->item_size;
}

size_t floe_pool_bytes(const floe_pool *p)
{
    return p->n_slots * p->item_size + (p->max + 7) / 8;
}
