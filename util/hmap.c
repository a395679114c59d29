/*
 * floe_hmap: a chained, intrusive hash map. Callers hash (floe_hash, in
 * util.h), walk a bucket themselves and compare keys inline.
 */
#include "util/util.h"

#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE (2u << 20)

/*
 * An array of 2 MiB or more is aligned to 2 MiB, marked for transparent
 * huge pages and touched at once: lookups land anywhere in a bucket array,
 * and with 4 KiB pages nearly every one missed the TLB as well as the
 * cache. It is allocated when the table is made, before any traffic.
 */
void *floe_table_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    if (bytes < HUGE_PAGE)
        return calloc(n, size);
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1)) != 0)
        return NULL;
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: without THP, plain pages */
    memset(p, 0, bytes);
    return p;
}

int floe_hmap_init(floe_hmap *m, size_t n, int fixed)
{
    size_t size = floe_pow2_at_least(n);
    m->buckets = floe_table_calloc(size, sizeof(floe_hnode *));
    if (!m->buckets)
        return FLOE_ENOMEM;
    m->mask = size - 1;
    m->count = 0;
    m->fixed = fixed;
    return 0;
}

void floe_hmap_close(floe_hmap *m)
{
    free(m->buckets);
    m->buckets = NULL;
    m->mask = 0;
    m->count = 0;
}

static void hmap_grow(floe_hmap *m)
{
    size_t size = (m->mask + 1) * 2;
    floe_hnode **nb = floe_table_calloc(size, sizeof(floe_hnode *));
    if (!nb)
        return; /* keep the old array: longer chains, still correct */
    for (size_t i = 0; i <= m->mask; i++) {
        floe_hnode *n = m->buckets[i];
        while (n) {
            floe_hnode *next = n->next;
            floe_hnode **slot = &nb[n->hash & (size - 1)];
            n->next = *slot;
            *slot = n;
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = nb;
    m->mask = size - 1;
}

void floe_hmap_insert(floe_hmap *m, floe_hnode *n)
{
    if (!m->fixed && m->count >= m->mask + 1)
        hmap_grow(m);
    floe_hnode **slot = &m->buckets[n->hash & m->mask];
    n->next = *slot;
    *slot = n;
    m->count++;
}

void floe_hmap_remove(floe_hmap *m, floe_hnode *n)
{
    floe_hnode **pp = &m->buckets[n->hash & m->mask];
    while (*pp) {
        if (*pp == n) {
            *pp = n->next;
            n->next = NULL;
            m->count--;
            return;
        }
        pp = &(*pp)->next;
    }
}
