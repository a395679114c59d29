/*
 * floe_pool: equal-sized items in one reserved address range, a free list
 * threaded through free items, and a bitmap saying which slots are live.
 * Tables use it so that a new flow or host costs no malloc, memory stays
 * under a bound, scans walk contiguous memory, and an item's slot is a
 * subtraction and a division (it was a binary search over chunks).
 */
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* The pool grows in steps of whole huge pages: on this kind of VM a first
 * touch of a 4 KiB page costs about 16 us (the hypervisor's page tables),
 * while a 2 MiB page populated with MADV_POPULATE_WRITE costs about 0.3 us
 * per 4 KiB of it, and is then one TLB entry instead of 512. */
#define POOL_HUGE ((size_t)2 << 20)

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

/* The end of the range that items can occupy, from base. */
static size_t pool_end(const floe_pool *p)
{
    return p->reserved - POOL_HUGE;
}

int floe_pool_init(floe_pool *p, size_t item_size, size_t per_chunk, size_t max)
{
    memset(p, 0, sizeof(*p));
    if (item_size == 0 || per_chunk == 0 || max == 0)
        return FLOE_EINVAL;
    p->item_size = (item_size + 7) & ~(size_t)7;
    if (p->item_size < sizeof(void *))
        p->item_size = sizeof(void *);
    if (max > SIZE_MAX / p->item_size / 4 || max > ((size_t)1 << 32))
        return FLOE_EINVAL;
    p->recip = UINT64_MAX / p->item_size + 1;
    p->per_chunk = per_chunk;
    p->max = max;
    p->step = round_up(per_chunk * p->item_size, POOL_HUGE);
    /* Address space only: pages are backed as the pool grows, and
     * MAP_NORESERVE keeps an unused bound from counting against
     * overcommit. One extra huge page lets the base be aligned to one. */
    p->reserved = round_up(max * p->item_size, POOL_HUGE) + POOL_HUGE;
    char *map = mmap(NULL, p->reserved, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    p->used = calloc((max + 7) / 8, 1);
    if (map == MAP_FAILED || !p->used) {
        if (map != MAP_FAILED)
            munmap(map, p->reserved);
        free(p->used);
        memset(p, 0, sizeof(*p));
        return FLOE_ENOMEM;
    }
    p->map = map;
    p->base = (char *)round_up((size_t)(uintptr_t)map, POOL_HUGE);
    (void)madvise(p->base, pool_end(p), MADV_HUGEPAGE); /* a hint */
    return 0;
}

void floe_pool_close(floe_pool *p)
{
    if (p->map)
        munmap(p->map, p->reserved);
    free(p->used);
    memset(p, 0, sizeof(*p));
}

/* Backs the next len bytes of the range with memory, in one call; the
 * madvise result. Where the kernel lacks MADV_POPULATE_WRITE (before
 * 5.14, EINVAL) the pages fault in as they are touched instead. */
static int pool_back(floe_pool *p, size_t len)
{
    int rc = madvise(p->base + p->faulted, len, MADV_POPULATE_WRITE);
    p->faulted += len;
    return rc;
}

/* Backs the next step of the range. */
static void pool_populate(floe_pool *p)
{
    size_t end = pool_end(p);
    (void)pool_back(p, p->faulted + p->step <= end ? p->step : end - p->faulted);
}

void *floe_pool_alloc(floe_pool *p)
{
    if (p->live >= p->max)
        return NULL;
    void *item = p->free_list;
    if (item) {
        p->free_list = *(void **)item;
        memset(item, 0, p->item_size);
    } else {
        /* A fresh slot (live < max, so one is left): zero, as the kernel
         * gives it. */
        item = p->base + p->n_slots++ * p->item_size;
        while (p->n_slots * p->item_size > p->faulted)
            pool_populate(p);
    }
    size_t s = floe_pool_slot(p, item);
    p->used[s / 8] |= (uint8_t)(1u << (s % 8));
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

int floe_pool_populate(floe_pool *p)
{
    size_t from = p->faulted, end = pool_end(p);
    if (from >= end || pool_back(p, end - from) == 0)
        return 0;
    if (errno != EINVAL) {
        p->faulted = from; /* backed in part at most: the rest as the pool grows */
        return FLOE_ENOMEM;
    }
    /* Nothing past from is handed out yet, so writing a zero into each
     * page is harmless. */
    for (size_t off = from; off < end; off += 4096)
        *(volatile char *)(p->base + off) = 0;
    return 0;
}

int floe_pool_prefault(floe_pool *p)
{
    /* Fresh slots are used only once the free list is empty; keep the
     * next per_chunk of them backed. */
    if (p->free_list || p->n_slots >= p->max ||
        (p->n_slots + p->per_chunk) * p->item_size <= p->faulted)
        return 0;
    pool_populate(p);
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
    return p->faulted + (p->max + 7) / 8;
}
