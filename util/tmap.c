/*
 * floe_tmap: the bucketized, tagged hash table of pointers behind the flow
 * and host tables (see util.h). Lookups are inline; set-up, insertion and
 * removal live here.
 */
#include "util/util.h"

#include <stdlib.h>

_Static_assert(sizeof(floe_tmap_bucket) == 64, "a bucket is one cache line");

int floe_tmap_init(floe_tmap *m, size_t n)
{
    memset(m, 0, sizeof(*m));
    /* 2.5 items a bucket of seven at most: at 5 (as before 2026-11-29) a
     * bucket overflowed often enough that the overflow test was a branch
     * mispredicted on one lookup in five, for 16 bytes an item more. */
    size_t buckets = floe_pow2_at_least((2 * n + 4) / 5);
    size_t bytes = buckets * sizeof(floe_tmap_bucket);
    void *b = NULL;
    /* Big arrays go on huge pages (floe_table_calloc, aligned to 2 MiB);
     * a small one still needs its buckets on line boundaries. */
    if (bytes >= (2u << 20))
        b = floe_table_calloc(buckets, sizeof(floe_tmap_bucket));
    else if (posix_memalign(&b, 64, bytes) == 0)
        memset(b, 0, bytes);
    else
        b = NULL;
    if (!b)
        return FLOE_ENOMEM;
    m->b = b;
    m->mask = buckets - 1;
    m->max = n;
    return 0;
}

void floe_tmap_close(floe_tmap *m)
{
    free(m->b);
    memset(m, 0, sizeof(*m));
}

int floe_tmap_insert(floe_tmap *m, uint64_t hash, void *item)
{
    if (m->count >= m->max)
        return FLOE_ELIMIT;
    floe_tmap_bucket *b = &m->b[hash & m->mask];
    uint64_t free_slots;
    /* At most 5/14 of the slots are taken, so a free one comes soon. */
    while (!(free_slots = floe_tmap_match(b, 0))) {
        if (b->over < 255)
            b->over++;
        b = &m->b[((size_t)(b - m->b) + 1) & m->mask];
    }
    unsigned s = floe_tmap_slot(free_slots);
    b->tag[s] = floe_tmap_tag(hash);
    b->item[s] = item;
    m->count++;
    return 0;
}

int floe_tmap_remove(floe_tmap *m, uint64_t hash, const void *item)
{
    uint8_t tag = floe_tmap_tag(hash);
    size_t home = hash & m->mask, i = home;
    for (size_t probes = 0; probes <= m->mask; probes++, i = (i + 1) & m->mask) {
        floe_tmap_bucket *b = &m->b[i];
        for (uint64_t x = floe_tmap_match(b, tag); x; x &= x - 1) {
            unsigned s = floe_tmap_slot(x);
            if (b->item[s] != item)
                continue;
            b->tag[s] = 0;
            b->item[s] = NULL;
            m->count--;
            /* It had overflowed past the buckets from its home to here. */
            for (size_t j = home; j != i; j = (j + 1) & m->mask)
                if (m->b[j].over < 255)
                    m->b[j].over--;
            return 0;
        }
        if (!b->over)
            break;
    }
    return FLOE_ENOTFOUND;
}
