/*
 * floe_pool: equal-sized items in chunks, a free list threaded through free
 * items, and a bitmap per chunk saying which slots are live. Tables use it
 * so that a new flow or host costs no malloc in steady state, memory stays
 * under a bound, and scans walk contiguous memory.
 */
#include "util/util.h"

#include <stdlib.h>

int floe_pool_init(floe_pool *p, size_t item_size, size_t per_chunk, size_t max)
{
    memset(p, 0, sizeof(*p));
    if (item_size == 0 || per_chunk == 0 || max == 0)
        return FLOE_EINVAL;
    p->item_size = (item_size + 7) & ~(size_t)7;
    if (p->item_size < sizeof(void *))
        p->item_size = sizeof(void *);
    p->per_chunk = per_chunk;
    p->max = max;
    return 0;
}

void floe_pool_close(floe_pool *p)
{
    for (size_t i = 0; i < p->n_chunks; i++) {
        free(p->chunks[i]);
        free(p->used[i]);
    }
    free(p->chunks);
    free(p->used);
    free(p->order);
    memset(p, 0, sizeof(*p));
}

/* Finds the chunk and slot of an item by binary search over the chunks
 * sorted by address (p->order), so freeing stays cheap at a million items. */
static int pool_locate(const floe_pool *p, const void *item, size_t *chunk, size_t *slot)
{
    uintptr_t c = (uintptr_t)item;
    size_t span = p->item_size * p->per_chunk;
    size_t lo = 0, hi = p->n_chunks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uintptr_t base = (uintptr_t)p->chunks[p->order[mid]];
        if (c < base) {
            hi = mid;
        } else if (c >= base + span) {
            lo = mid + 1;
        } else {
            *chunk = p->order[mid];
            *slot = (size_t)(c - base) / p->item_size;
            return 0;
        }
    }
    return FLOE_ENOTFOUND;
}

/* Inserts the newest chunk into the address order. */
static void pool_order_insert(floe_pool *p)
{
    size_t n = p->n_chunks - 1;
    uintptr_t base = (uintptr_t)p->chunks[n];
    size_t i = n;
    while (i > 0 && (uintptr_t)p->chunks[p->order[i - 1]] > base) {
        p->order[i] = p->order[i - 1];
        i--;
    }
    p->order[i] = n;
}

/* Adds a chunk and threads its slots onto the free list, lowest first. */
static int pool_grow(floe_pool *p)
{
    char **chunks = realloc(p->chunks, (p->n_chunks + 1) * sizeof(*chunks));
    if (!chunks)
        return FLOE_ENOMEM;
    p->chunks = chunks;
    uint8_t **used = realloc(p->used, (p->n_chunks + 1) * sizeof(*used));
    if (!used)
        return FLOE_ENOMEM;
    p->used = used;
    size_t *order = realloc(p->order, (p->n_chunks + 1) * sizeof(*order));
    if (!order)
        return FLOE_ENOMEM;
    p->order = order;
    char *chunk = malloc(p->item_size * p->per_chunk);
    uint8_t *bits = calloc((p->per_chunk + 7) / 8, 1);
    if (!chunk || !bits) {
        free(chunk);
        free(bits);
        return FLOE_ENOMEM;
    }
    p->chunks[p->n_chunks] = chunk;
    p->used[p->n_chunks] = bits;
    p->n_chunks++;
    pool_order_insert(p);
    for (size_t i = p->per_chunk; i-- > 0;) {
        void *item = chunk + i * p->item_size;
        *(void **)item = p->free_list;
        p->free_list = item;
    }
    return 0;
}

void *floe_pool_alloc(floe_pool *p)
{
    if (p->live >= p->max)
        return NULL;
    if (!p->free_list && pool_grow(p) != 0)
        return NULL;
    void *item = p->free_list;
    p->free_list = *(void **)item;
    size_t c, s;
    if (pool_locate(p, item, &c, &s) == 0)
        p->used[c][s / 8] |= (uint8_t)(1u << (s % 8));
    memset(item, 0, p->item_size);
    p->live++;
    return item;
}

void floe_pool_free(floe_pool *p, void *item)
{
    size_t c, s;
    if (!item || pool_locate(p, item, &c, &s) != 0)
        return;
    p->used[c][s / 8] &= (uint8_t) ~(1u << (s % 8));
    *(void **)item = p->free_list;
    p->free_list = item;
    p->live--;
}

void *floe_pool_at(const floe_pool *p, size_t i)
{
    size_t c = i / p->per_chunk, s = i % p->per_chunk;
    if (c >= p->n_chunks || !(p->used[c][s / 8] & (1u << (s % 8))))
        return NULL;
    return p->chunks[c] + s * p->item_size;
}

size_t floe_pool_bytes(const floe_pool *p)
{
    return p->n_chunks * (p->item_size * p->per_chunk + (p->per_chunk + 7) / 8 + sizeof(char *) +
                          sizeof(uint8_t *) + sizeof(size_t));
}
