/*
 * floe_hash and floe_hmap. The hash folds 8 bytes at a time with a
 * multiply and an xor-shift; keys here are short (addresses, ports, ids), so
 * a simple word-at-a-time mix is both fast and spreads well enough for
 * power-of-two bucket arrays. The map is chained and intrusive: callers walk
 * a bucket themselves and compare keys inline.
 */
#include "util/util.h"

#include <stdlib.h>

#define MIX_K1 0x9e3779b97f4a7c15ULL
#define MIX_K2 0xbf58476d1ce4e5b9ULL

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 31;
    h *= MIX_K2;
    h ^= h >> 29;
    return h;
}

uint64_t floe_hash(const void *data, size_t n, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t h = seed ^ (n * MIX_K1);

    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * MIX_K1;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * MIX_K1;
        h ^= h >> 32;
    }
    return mix64(h);
}

static size_t pow2_at_least(size_t n)
{
    size_t s = 16;
    while (s < n && s < ((size_t)1 << 40))
        s <<= 1;
    return s;
}

int floe_hmap_init(floe_hmap *m, size_t n, int fixed)
{
    size_t size = pow2_at_least(n);
    m->buckets = calloc(size, sizeof(*m->buckets));
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
    floe_hnode **nb = calloc(size, sizeof(*nb));
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
