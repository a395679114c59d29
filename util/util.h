/*
 * util: the small pieces every floe module shares. Error codes, addresses,
 * big-endian readers, a growable byte buffer with a JSON writer on top, an
 * intrusive hash map and list, a leveled and rate-limited logger, and time.
 * Nothing here allocates behind the caller's back except floe_buf and
 * floe_hmap, whose ownership rules are stated at each function.
 */
#ifndef FLOE_UTIL_H
#define FLOE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

struct sockaddr;
struct sockaddr_storage;

#define FLOE_ARRAY_LEN(a)                  (sizeof(a) / sizeof((a)[0]))
#define FLOE_PRINTF(f, a)                  __attribute__((format(printf, f, a)))
#define FLOE_CONTAINER_OF(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))
/* Fetches the line at p into cache ahead of use. Always a read prefetch:
 * GCC drops a write-intent one (rw 1) on baseline x86-64, which lacks
 * PREFETCHW, without a word; a read prefetch still saves the miss. */
#define FLOE_PREFETCH(p) __builtin_prefetch((p), 0, 3)
/* For a function that only prefetches: GCC counts a prefetch as no side
 * effect, finds such a function pure, and drops every call to it unless it
 * is inlined. */
#define FLOE_PREFETCHER static inline __attribute__((always_inline))

/* ---- errors ------------------------------------------------------------ */

/* One list generates the codes and floe_strerror(). Codes are negative. */
#define FLOE_ERRNO_MAP(XX)                                                                         \
    XX(NOMEM, "out of memory")                                                                     \
    XX(INVAL, "invalid argument")                                                                  \
    XX(SHORT, "input too short")                                                                   \
    XX(NOTFOUND, "not found")                                                                      \
    XX(IO, "input/output error")                                                                   \
    XX(CONFIG, "bad configuration")                                                                \
    XX(LIMIT, "limit reached")                                                                     \
    XX(EXISTS, "already exists")                                                                   \
    XX(FORMAT, "unsupported format")

enum floe__errpos {
    FLOE__ERRPOS_NONE = 0,
#define XX(code, msg) FLOE__ERRPOS_##code,
    FLOE_ERRNO_MAP(XX)
#undef XX
};

enum floe_errno {
    FLOE_OK = 0,
#define XX(code, msg) FLOE_E##code = -FLOE__ERRPOS_##code,
    FLOE_ERRNO_MAP(XX)
#undef XX
};

/* Returns a static message for a FLOE_E* code, or "unknown error". */
const char *floe_strerror(int err);

/* ---- addresses --------------------------------------------------------- */

/*
 * An IP address in 16 bytes. IPv4 is stored v4-mapped (::ffff:a.b.c.d), so
 * hashing and comparison never look at a family field.
 */
typedef struct floe_addr {
    uint8_t b[16];
} floe_addr;

#define FLOE_ADDR_STRLEN 46

/* ::ffff:0:0/96, the prefix of an IPv4 address held as IPv6. */
extern const uint8_t floe_v4_mapped[12];
/* Inline: decoders call them for every address of every record.
 * From IPv4: two 8-byte stores, not 12 bytes of prefix and then 4 of address: the
 * flow table reads the address back at once as two 8-byte words, and a
 * load waits for the stores to reach the cache unless one store wrote all
 * of its bytes. */
static inline void floe_addr_from_v4(floe_addr *a, const uint8_t v4[4])
{
    uint32_t v;
    memcpy(&v, v4, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t hi = 0xffff0000ULL | (uint64_t)v << 32; /* bytes 8-15: 0 0 ff ff and the address */
#else
    uint64_t hi = 0x0000ffff00000000ULL | v;
#endif
    uint64_t lo = 0;
    memcpy(a->b, &lo, 8);
    memcpy(a->b + 8, &hi, 8);
}
static inline void floe_addr_from_v6(floe_addr *a, const uint8_t v6[16])
{
    memcpy(a->b, v6, 16);
}
int floe_addr_is_v4(const floe_addr *a);
/* Host-order IPv4 value; only meaningful when floe_addr_is_v4(). */
uint32_t floe_addr_v4(const floe_addr *a);
static inline int floe_addr_eq(const floe_addr *a, const floe_addr *b)
{
    uint64_t x[2], y[2];
    memcpy(x, a->b, 16);
    memcpy(y, b->b, 16);
    return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}
/* A total order on addresses (not numeric: it compares native words), for
 * putting two endpoints in a canonical order. */
static inline int floe_addr_order(const floe_addr *a, const floe_addr *b)
{
    uint64_t x[2], y[2];
    memcpy(x, a->b, 16);
    memcpy(y, b->b, 16);
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}
/* Writes the text form (dotted quad or RFC 5952) into out; returns out. */
char *floe_addr_format(const floe_addr *a, char out[FLOE_ADDR_STRLEN]);
/* Parses "1.2.3.4" or "2001:db8::1". Returns 0 or FLOE_EINVAL. */
int floe_addr_parse(floe_addr *a, const char *text);
/* Fills a from an AF_INET or AF_INET6 sockaddr; returns 0 or FLOE_EINVAL. */
int floe_addr_from_sockaddr(floe_addr *a, uint16_t *port, const struct sockaddr *sa);

/*
 * Parses "ADDR:PORT", "[V6]:PORT" or ":PORT" into a sockaddr. A missing
 * address means the IPv4 wildcard. Returns 0, or FLOE_EINVAL with a reason
 * written to err (which may be NULL).
 */
int floe_endpoint_parse(const char *text, struct sockaddr_storage *ss, char *err, size_t errlen);
/* "1.2.3.4:2055" or "[::1]:2055". */
char *floe_endpoint_format(const struct sockaddr *sa, char *out, size_t outlen);

/* ---- big-endian reads (callers check lengths first) -------------------- */

static inline uint16_t floe_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t floe_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t floe_be64(const uint8_t *p)
{
    return ((uint64_t)floe_be32(p) << 32) | floe_be32(p + 4);
}
/* Reads an unsigned big-endian integer of 1..8 bytes (reduced-size encoding). */
static inline uint64_t floe_beN(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ---- hashing ----------------------------------------------------------- */

/*
 * A 64-bit hash of n bytes, seeded. Not cryptographic. It folds 8 bytes at
 * a time with a multiply and an xor-shift; keys here are short (addresses,
 * flow keys), so a word-at-a-time mix is both fast and spreads well enough
 * for power-of-two bucket arrays. Inline so that a constant n unrolls.
 */
static inline uint64_t floe_hash(const void *data, size_t n, uint64_t seed)
{
    const uint64_t k1 = 0x9e3779b97f4a7c15ULL, k2 = 0xbf58476d1ce4e5b9ULL;
    const uint8_t *p = (const uint8_t *)data;
    uint64_t h = seed ^ (n * k1);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * k1;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * k1;
        h ^= h >> 32;
    }
    h ^= h >> 31;
    h *= k2;
    h ^= h >> 29;
    return h;
}

/* ---- growable buffer --------------------------------------------------- */

/*
 * A byte buffer that grows by doubling. data is always NUL-terminated, so it
 * can be used as a C string. On allocation failure the buffer sets oom and
 * ignores further appends; check floe_buf_ok() once at the end.
 */
typedef struct floe_buf {
    char *data;
    size_t len;
    size_t cap;
    int oom;
} floe_buf;

void floe_buf_init(floe_buf *b);
void floe_buf_close(floe_buf *b);
void floe_buf_reset(floe_buf *b);
static inline int floe_buf_ok(const floe_buf *b)
{
    return !b->oom;
}
void floe_buf_append(floe_buf *b, const void *p, size_t n);
void floe_buf_puts(floe_buf *b, const char *s);
void floe_buf_putc(floe_buf *b, char c);
void floe_buf_printf(floe_buf *b, const char *fmt, ...) FLOE_PRINTF(2, 3);
/* Hands the bytes to the caller (free() them); the buffer is left empty. */
char *floe_buf_steal(floe_buf *b, size_t *len);

/* ---- JSON writer ------------------------------------------------------- */

/*
 * Writes JSON into a floe_buf, inserting commas itself. Nesting is limited to
 * 64 levels; deeper writes are ignored and mark the buffer as failed.
 */
typedef struct floe_json {
    floe_buf *b;
    uint64_t need_comma; /* bit d set: the container at depth d has an element */
    int depth;
    int after_key;
} floe_json;

void floe_json_init(floe_json *j, floe_buf *b);
void floe_json_obj_begin(floe_json *j);
void floe_json_obj_end(floe_json *j);
void floe_json_arr_begin(floe_json *j);
void floe_json_arr_end(floe_json *j);
void floe_json_key(floe_json *j, const char *key);
void floe_json_str(floe_json *j, const char *s);
void floe_json_strn(floe_json *j, const char *s, size_t n);
void floe_json_u64(floe_json *j, uint64_t v);
void floe_json_i64(floe_json *j, int64_t v);
void floe_json_double(floe_json *j, double v);
void floe_json_bool(floe_json *j, int v);
void floe_json_null(floe_json *j);
void floe_json_addr(floe_json *j, const floe_addr *a);
/* A value that is already JSON text (the caller vouches for it). */
void floe_json_raw(floe_json *j, const char *text);
/* key + value shorthands */
void floe_json_kstr(floe_json *j, const char *key, const char *s);
void floe_json_ku64(floe_json *j, const char *key, uint64_t v);

/* ---- intrusive list ---------------------------------------------------- */

typedef struct floe_list {
    struct floe_list *prev, *next;
} floe_list;

static inline void floe_list_init(floe_list *h)
{
    h->prev = h->next = h;
}
static inline int floe_list_empty(const floe_list *h)
{
    return h->next == h;
}
static inline void floe_list_remove(floe_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}
/* Inserts n just before h, i.e. at the tail of the list headed by h. */
static inline void floe_list_push_tail(floe_list *h, floe_list *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
static inline void floe_list_move_tail(floe_list *h, floe_list *n)
{
    floe_list_remove(n);
    floe_list_push_tail(h, n);
}

/* ---- intrusive hash map ------------------------------------------------ */

/*
 * A chained hash map of nodes embedded in the caller's structs. The map owns
 * only its bucket array. Callers compute the hash and compare keys, so the
 * map never needs a callback on the hot path.
 */
typedef struct floe_hnode {
    struct floe_hnode *next;
    uint64_t hash;
} floe_hnode;

typedef struct floe_hmap {
    floe_hnode **buckets;
    size_t mask; /* bucket count - 1 (a power of two) */
    size_t count;
    int fixed; /* 1: never resize (sized for its bound up front) */
} floe_hmap;

/* Sizes the bucket array for at least n entries. Returns 0 or FLOE_ENOMEM. */
int floe_hmap_init(floe_hmap *m, size_t n, int fixed);
void floe_hmap_close(floe_hmap *m);
static inline floe_hnode *floe_hmap_bucket(const floe_hmap *m, uint64_t hash)
{
    return m->buckets[hash & m->mask];
}
/* Where a hash's bucket lives, for prefetching. */
static inline floe_hnode *const *floe_hmap_slot(const floe_hmap *m, uint64_t hash)
{
    return &m->buckets[hash & m->mask];
}
/* Links n with n->hash already set. Grows unless fixed; growth failure is
 * harmless (chains get longer). */
void floe_hmap_insert(floe_hmap *m, floe_hnode *n);
/* Unlinks n, which must be in the map. */
void floe_hmap_remove(floe_hmap *m, floe_hnode *n);

/* Zeroed memory for a table's big array: 2 MiB and more goes on
 * transparent huge pages, touched at once. Freed with free(). */
void *floe_table_calloc(size_t n, size_t size);
/* The table size for n entries: a power of two, at least 16. */
static inline size_t floe_pow2_at_least(size_t n)
{
    size_t s = 16;
    while (s < n && s < ((size_t)1 << 40))
        s <<= 1;
    return s;
}

/* ---- hash table of pointers in one-line buckets, with tags --------------- */

/*
 * An open-addressing table of item pointers for a table on the hot path.
 * Each bucket is one 64-byte line: seven slots, each with a tag (8 bits of
 * the item's hash, never 0; 0 marks a free slot), and a count of the items
 * that did not fit in this bucket and went on to the next ones. A lookup
 * reads its bucket's line, compares the seven tags at once, and follows
 * only the pointers whose tag matches (a stranger once in 255 slots), and
 * moves to the next bucket only if something overflowed past: a miss costs
 * one line. Removing an item, given its hash, costs its bucket's line and
 * never touches another item. Callers keep each item's hash and compare
 * keys themselves. The size is fixed at init for a bound on the items.
 */
#define FLOE_TMAP_SLOTS 7

typedef struct floe_tmap_bucket {
    uint8_t tag[FLOE_TMAP_SLOTS];
    uint8_t over; /* items whose home is at or before this bucket but live after it; 255 sticks */
    void *item[FLOE_TMAP_SLOTS];
} floe_tmap_bucket;

typedef struct floe_tmap {
    floe_tmap_bucket *b;
    size_t mask; /* buckets - 1 (a power of two) */
    size_t count;
    size_t max; /* items it was sized for; inserts past it are refused */
} floe_tmap;

/* Sizes the table for at most n items (buckets at most 5/14 full). Returns 0
 * or FLOE_ENOMEM. */
int floe_tmap_init(floe_tmap *m, size_t n);
void floe_tmap_close(floe_tmap *m);
/* Adds item under hash; 0, or FLOE_ELIMIT past the bound given at init. */
int floe_tmap_insert(floe_tmap *m, uint64_t hash, void *item);
/* Removes item, which is in the table under hash; 0 or FLOE_ENOTFOUND. */
int floe_tmap_remove(floe_tmap *m, uint64_t hash, const void *item);

static inline uint8_t floe_tmap_tag(uint64_t hash)
{
    uint8_t t = (uint8_t)(hash >> 56);
    return t ? t : 1;
}
static inline const floe_tmap_bucket *floe_tmap_home(const floe_tmap *m, uint64_t hash)
{
    return &m->b[hash & m->mask];
}
static inline const floe_tmap_bucket *floe_tmap_next(const floe_tmap *m, const floe_tmap_bucket *b)
{
    return &m->b[((size_t)(b - m->b) + 1) & m->mask];
}
/* A bit (8 * slot + 7) for each slot of b whose tag is tag; tag 0 gives
 * the free slots. Exact: each byte is tested on its own. */
static inline uint64_t floe_tmap_match(const floe_tmap_bucket *b, uint8_t tag)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
    uint64_t w;
    memcpy(&w, b, 8);
    w ^= 0x0101010101010101ULL * tag;
    return ~(((w & low7) + low7) | w | low7) & 0x0080808080808080ULL;
}
/* The slot of the lowest bit of a match. */
static inline unsigned floe_tmap_slot(uint64_t match)
{
    return (unsigned)__builtin_ctzll(match) >> 3;
}
/* The item under hash for which eq(item, key) holds, or NULL. eq is called
 * only for items whose tag matches; inlined, so a constant eq costs no call. */
static inline __attribute__((always_inline)) void *
floe_tmap_find(const floe_tmap *m, uint64_t hash, int (*eq)(const void *item, const void *key),
               const void *key)
{
    uint8_t tag = floe_tmap_tag(hash);
    const floe_tmap_bucket *b = floe_tmap_home(m, hash);
    for (;;) {
        for (uint64_t x = floe_tmap_match(b, tag); x; x &= x - 1) {
            void *item = b->item[floe_tmap_slot(x)];
            if (eq(item, key))
                return item;
        }
        if (!b->over)
            return NULL;
        b = floe_tmap_next(m, b);
    }
}

/* ---- queue of pointers with holes -------------------------------------- */

/*
 * A FIFO of pointers in a ring whose positions only grow. An item remembers
 * the position it was pushed at, so it can leave from anywhere by clearing
 * its slot (a hole, skipped at the head) without touching any neighbour;
 * and the items next in line can be read ahead, for prefetching, by
 * position. Positions start at 1, so 0 can mean "not queued".
 */
typedef struct floe_fifo {
    void **slot;
    uint64_t head, tail; /* live positions are head..tail-1 */
    uint64_t mask;       /* slots - 1 (a power of two) */
} floe_fifo;

/* Room for at least n pointers. Returns 0 or FLOE_ENOMEM. */
int floe_fifo_init(floe_fifo *q, size_t n);
void floe_fifo_close(floe_fifo *q);
static inline int floe_fifo_full(const floe_fifo *q)
{
    return q->tail - q->head > q->mask;
}
/* Appends p (the queue must not be full) and returns its position. */
static inline uint64_t floe_fifo_push(floe_fifo *q, void *p)
{
    q->slot[q->tail & q->mask] = p;
    return q->tail++;
}
/* Makes a hole of the item pushed at pos. */
static inline void floe_fifo_clear(floe_fifo *q, uint64_t pos)
{
    q->slot[pos & q->mask] = NULL;
}
/* The same by slot (pos & mask), for a caller that keeps only that. */
static inline void floe_fifo_clear_slot(floe_fifo *q, uint64_t slot)
{
    q->slot[slot & q->mask] = NULL;
}
/* The item at pos, NULL for a hole or a position outside the queue. */
static inline void *floe_fifo_at(const floe_fifo *q, uint64_t pos)
{
    return pos >= q->head && pos < q->tail ? q->slot[pos & q->mask] : NULL;
}
/* The oldest item, after dropping the holes before it; NULL when empty. */
static inline void *floe_fifo_head(floe_fifo *q)
{
    while (q->head < q->tail && !q->slot[q->head & q->mask])
        q->head++;
    return q->head < q->tail ? q->slot[q->head & q->mask] : NULL;
}
/* Removes the head item (after floe_fifo_head). */
static inline void floe_fifo_pop(floe_fifo *q)
{
    q->slot[q->head++ & q->mask] = NULL;
}
/* When the queue is full even after dropping the holes at its head, the
 * head item, which the caller must move out of the way; else NULL. */
static inline void *floe_fifo_blocking(floe_fifo *q)
{
    if (!floe_fifo_full(q))
        return NULL;
    void *p = floe_fifo_head(q);
    return floe_fifo_full(q) ? p : NULL;
}
/* For prefetching: the next item at *pos, moving *pos on, while *pos is
 * less than dist places past the head; NULL when there is none. */
static inline void *floe_fifo_ahead(const floe_fifo *q, uint64_t *pos, uint64_t dist)
{
    if (*pos < q->head)
        *pos = q->head;
    while (*pos < q->head + dist && *pos < q->tail) {
        void *p = q->slot[(*pos)++ & q->mask];
        if (p)
            return p;
    }
    return NULL;
}

/* ---- fixed-size object pool -------------------------------------------- */

/*
 * A pool of up to max equal-sized items in one address range reserved at
 * init and backed by memory only as it is used, with a free list. Items
 * never move, so pointers to them stay valid until they are freed, an
 * item's slot is its offset over the item size, and the pool can be walked
 * by slot in slices (floe_pool_at) while the loop keeps running: a slot is
 * either live or free, never half of each. New slots are handed out in
 * order after the free list is empty, and the range is backed by memory in
 * steps of whole 2 MiB pages (transparent huge pages where the kernel
 * allows), each in one call (MADV_POPULATE_WRITE) instead of a fault per
 * 4 KiB page; floe_pool_prefault takes the next step ahead of need, off the
 * hot path. The pool never holds more than max items.
 */
typedef struct floe_pool {
    size_t item_size;
    size_t per_chunk; /* slots prefaulted at a time */
    size_t max;       /* items */
    size_t live;      /* items in use */
    char *map;        /* the reservation (mmap), reserved bytes */
    size_t reserved;
    char *base;     /* in it, aligned to 2 MiB: max * item_size bytes */
    size_t step;    /* bytes backed at a time: per_chunk items, in whole 2 MiB */
    size_t faulted; /* bytes from base backed by memory */
    size_t n_slots; /* slots handed out so far: 0..n_slots-1 */
    uint8_t *used;  /* a bit per slot of max */
    void *free_list;
    uint64_t recip; /* ceil(2^64 / item_size): a slot from an offset, without a division */
} floe_pool;

/* item_size is rounded up to a multiple of 8. Returns 0, FLOE_EINVAL or
 * FLOE_ENOMEM (no address range that large). */
int floe_pool_init(floe_pool *p, size_t item_size, size_t per_chunk, size_t max);
void floe_pool_close(floe_pool *p);
/* A zeroed item, or NULL when the pool holds max items. */
void *floe_pool_alloc(floe_pool *p);
void floe_pool_free(floe_pool *p, void *item);
/* When fewer than per_chunk fresh slots are backed by memory ahead of the
 * next new one, backs the next step now, so that floe_pool_alloc does not
 * have to on the hot path. Returns 1 if it did, else 0. */
int floe_pool_prefault(floe_pool *p);
/* Backs the whole bound with memory now. Returns 0, or FLOE_ENOMEM when
 * the kernel would not (the rest then faults in as the pool grows). */
int floe_pool_populate(floe_pool *p);
/* Slots that exist (live or free); walk 0..floe_pool_slots()-1. */
static inline size_t floe_pool_slots(const floe_pool *p)
{
    return p->n_slots;
}
/* The live item at slot i, or NULL if the slot is free. */
void *floe_pool_at(const floe_pool *p, size_t i);
/* The slot of a live item of the pool. */
static inline size_t floe_pool_slot(const floe_pool *p, const void *item)
{
    size_t off = (size_t)((const char *)item - p->base);
#ifdef __SIZEOF_INT128__
    /* off is slot * item_size, and slot * (recip * item_size - 2^64) is
     * far below 2^64, so the high half of the product is the slot. */
    return (size_t)(((unsigned __int128)off * p->recip) >> 64);
#else
    return off / p->item_size;
#endif
}
/* Bytes the pool holds: the memory backed so far, and the bitmap. */
size_t floe_pool_bytes(const floe_pool *p);

/* ---- logging ----------------------------------------------------------- */

enum floe_log_level {
    FLOE_LOG_ERROR,
    FLOE_LOG_WARN,
    FLOE_LOG_INFO,
    FLOE_LOG_DEBUG,
};

#define FLOE_LOG_RL_SLOTS 64

typedef struct floe_log_rl {
    const char *key;     /* the format string: one slot per call site */
    uint64_t window_ms;  /* start of the current window */
    uint32_t count;      /* messages written in this window */
    uint32_t suppressed; /* messages dropped in this window */
} floe_log_rl;

/*
 * A logger. Messages at or below level are written to stderr, or to syslog
 * when use_syslog is set. The _rl variants allow rl_burst messages per call
 * site per rl_window_ms and report how many they dropped.
 */
typedef struct floe_log {
    int level;
    int use_syslog;
    uint32_t rl_burst;
    uint32_t rl_window_ms;
    floe_log_rl rl[FLOE_LOG_RL_SLOTS];
} floe_log;

void floe_log_init(floe_log *lg, int level, int use_syslog);
/* Parses "error", "warn", "info" or "debug"; returns the level or -1. */
int floe_log_level_parse(const char *name);
const char *floe_log_level_name(int level);
void floe_log_write(floe_log *lg, int level, const char *fmt, ...) FLOE_PRINTF(3, 4);
void floe_log_vwrite(floe_log *lg, int level, const char *fmt, va_list ap) FLOE_PRINTF(3, 0);
void floe_log_rl_write(floe_log *lg, int level, const char *fmt, ...) FLOE_PRINTF(3, 4);

#define log_error(lg, ...) floe_log_write((lg), FLOE_LOG_ERROR, __VA_ARGS__)
#define log_warn(lg, ...)  floe_log_write((lg), FLOE_LOG_WARN, __VA_ARGS__)
#define log_info(lg, ...)  floe_log_write((lg), FLOE_LOG_INFO, __VA_ARGS__)
#define log_debug(lg, ...) floe_log_write((lg), FLOE_LOG_DEBUG, __VA_ARGS__)
/* For anything a packet can trigger. */
#define log_warn_rl(lg, ...) floe_log_rl_write((lg), FLOE_LOG_WARN, __VA_ARGS__)

/* ---- files ------------------------------------------------------------- */

/* Creates path and its missing parents with mode. Returns 0, or FLOE_EIO /
 * FLOE_EINVAL with a one-line reason naming the path. */
int floe_mkdirs(const char *path, unsigned mode, char *err, size_t errlen);

/* ---- time -------------------------------------------------------------- */
uint64_t floe_time_ms(void);      /* wall clock, ms since the epoch */
uint64_t floe_monotonic_ms(void); /* monotonic clock, ms */
/* The time ms from now on clock, for pthread_cond_timedwait (whose
 * condition variable must use the same clock). */
struct timespec floe_time_after(clockid_t clock, uint64_t ms);

/* Periods (periods.def): the scheduler's ticks and the periodic hooks'
 * names, FLOE_PERIOD_MIN, _5MINS, _HOUR, _DAY. */
enum floe_period {
#define PERIOD(id, name, seconds) FLOE_PERIOD_##id,
#include "util/periods.def"
#undef PERIOD
    FLOE_PERIOD_COUNT
};
/* "min", "5mins", "hour", "day" (the ntopng hook names), or "?". */
const char *floe_period_name(int period);
uint64_t floe_period_ms(int period);
/* The period of that name, or -1. */
int floe_period_parse(const char *name);

#endif /* FLOE_UTIL_H */
