/*
 * The exporter table: one entry per (source address, agent, observation
 * domain, protocol), with its counters, sequence tracking and decoder state.
 * Bounded: at the bound, the least recently seen exporter is evicted.
 */
#include "engine/engine.h"

#include <stdlib.h>

#define HASH_SEED 0x666c6f65ULL /* "floe" */

static uint64_t id_hash(uint64_t id)
{
    return floe_hash(&id, sizeof(id), HASH_SEED);
}

static uint64_t key_hash(const floe_exporter_key *k)
{
    return floe_hash(k, sizeof(*k), HASH_SEED);
}

static int key_eq(const floe_exporter_key *a, const floe_exporter_key *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

int floe_exporters_init(floe_exporters *t, size_t max, floe_decoders *dec)
{
    memset(t, 0, sizeof(*t));
    if (floe_hmap_init(&t->map, 64, 0) != 0)
        return FLOE_ENOMEM;
    if (floe_hmap_init(&t->by_id, 64, 0) != 0) {
        floe_hmap_close(&t->map);
        return FLOE_ENOMEM;
    }
    floe_list_init(&t->lru);
    t->max = max ? max : 1;
    t->dec = dec;
    t->next_id = 1;
    return 0;
}

static void exporter_free(floe_exporters *t, floe_exporter *ex)
{
    const floe_dec_ops *ops = floe_dec_ops_for((int)ex->key.proto);
    if (ops && ops->state_free)
        ops->state_free(t->dec, &ex->dec);
    floe_hmap_remove(&t->map, &ex->node);
    floe_hmap_remove(&t->by_id, &ex->id_node);
    floe_list_remove(&ex->lru);
    free(ex);
}

void floe_exporters_close(floe_exporters *t)
{
    while (!floe_list_empty(&t->lru))
        exporter_free(t, FLOE_CONTAINER_OF(t->lru.next, floe_exporter, lru));
    floe_hmap_close(&t->map);
    floe_hmap_close(&t->by_id);
}

void floe_exporters_set_max(floe_exporters *t, size_t max)
{
    t->max = max ? max : 1;
    while (t->map.count > t->max) {
        exporter_free(t, FLOE_CONTAINER_OF(t->lru.next, floe_exporter, lru));
        t->evictions++;
    }
}

floe_exporter *floe_exporters_find(floe_exporters *t, const floe_exporter_key *k)
{
    uint64_t h = key_hash(k);
    for (floe_hnode *n = floe_hmap_bucket(&t->map, h); n; n = n->next) {
        floe_exporter *ex = FLOE_CONTAINER_OF(n, floe_exporter, node);
        if (n->hash == h && key_eq(&ex->key, k))
            return ex;
    }
    return NULL;
}

floe_exporter *floe_exporters_get(floe_exporters *t, const floe_exporter_key *k, uint64_t now_ms)
{
    floe_exporter *ex = floe_exporters_find(t, k);
    if (ex) {
        /* Keep the list ordered by last seen; the move is O(1). */
        if (t->lru.prev != &ex->lru)
            floe_list_move_tail(&t->lru, &ex->lru);
        ex->last_seen_ms = now_ms;
        return ex;
    }
    if (t->map.count >= t->max) {
        exporter_free(t, FLOE_CONTAINER_OF(t->lru.next, floe_exporter, lru));
        t->evictions++;
    }
    ex = calloc(1, sizeof(*ex));
    if (!ex)
        return NULL;
    ex->key = *k;
    ex->dec.session = k->session != 0;
    ex->id = t->next_id++;
    ex->first_seen_ms = ex->last_seen_ms = now_ms;
    ex->node.hash = key_hash(k);
    floe_hmap_insert(&t->map, &ex->node);
    ex->id_node.hash = id_hash(ex->id);
    floe_hmap_insert(&t->by_id, &ex->id_node);
    floe_list_push_tail(&t->lru, &ex->lru);
    return ex;
}

size_t floe_exporters_remove_session(floe_exporters *t, uint32_t session)
{
    size_t n = 0;
    /* A walk over the table: sessions end far less often than datagrams
     * arrive, and the table is bounded. */
    floe_list *it = t->lru.next;
    while (session && it != &t->lru) {
        floe_exporter *ex = FLOE_CONTAINER_OF(it, floe_exporter, lru);
        it = it->next;
        if (ex->key.session == session) {
            exporter_free(t, ex);
            n++;
        }
    }
    return n;
}

floe_exporter *floe_exporters_by_id(floe_exporters *t, uint64_t id)
{
    uint64_t h = id_hash(id);
    for (floe_hnode *n = floe_hmap_bucket(&t->by_id, h); n; n = n->next) {
        floe_exporter *ex = FLOE_CONTAINER_OF(n, floe_exporter, id_node);
        if (ex->id == id)
            return ex;
    }
    return NULL;
}

void floe_exporter_account(floe_exporter *ex, const floe_hdr *h, const floe_dec_stats *st,
                           uint64_t now_ms, floe_counters *gaps_out)
{
    ex->last_seen_ms = now_ms;
    floe_counters_add_stats(&ex->c, st);
    if (st->malformed && st->records == 0 && !st->seq_valid)
        return; /* a rejected datagram says nothing reliable about the sequence */
    if (ex->seq_known) {
        uint32_t delta = h->seq - ex->next_seq;
        if (delta != 0 && delta < 0x80000000u) {
            ex->c.seq_gaps++;
            ex->c.lost += delta;
            gaps_out->seq_gaps++;
            gaps_out->lost += delta;
        } else if (delta != 0) {
            /* Backwards: a reordered datagram or an exporter restart. Resync. */
            ex->c.seq_resets++;
            gaps_out->seq_resets++;
        }
    }
    if (st->seq_valid) {
        ex->next_seq = h->seq + st->seq_advance;
        ex->seq_known = 1;
    } else {
        ex->seq_known = 0;
    }
}
