/* arena.c — a bump allocator that stops allocating once it has seen a pass. */
#include <string.h>

#include "minitensor/arena.h"
#include "internal.h"

typedef struct arena_block {
    struct arena_block *next;
    size_t size, used;
    unsigned char *mem;
} arena_block;

/* Blocks are kept in creation order and filled first-fit. A pass that makes
 * the same requests as the one before therefore lands in the same blocks:
 * after one pass of growth, reset-and-repeat never allocates. */
struct mt_arena {
    arena_block *first, *last;
    size_t used;            /* bytes handed out since the last reset */
};

static arena_block *block_new(size_t size)
{
    arena_block *b = mt_alloc(sizeof *b, _Alignof(arena_block));
    if (!b)
        return NULL;
    b->mem = size ? mt_alloc(size, MT_ALIGN) : NULL;
    if (size && !b->mem) {
        mt_dealloc(b);
        return NULL;
    }
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

mt_status mt_arena_new(size_t capacity, mt_arena **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "arena_new: out is NULL");
    mt_arena *a = mt_alloc(sizeof *a, _Alignof(mt_arena));
    arena_block *first = a && capacity ? block_new(capacity) : NULL;
    if (!a || (capacity && !first)) {
        mt_dealloc(a);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "arena_new: cannot allocate %zu bytes",
                       capacity);
    }
    a->first = a->last = first;
    a->used = 0;
    *out = a;
    return MT_OK;
}

void mt_arena_free(mt_arena *arena)
{
    if (!arena)
        return;
    for (arena_block *b = arena->first, *next; b; b = next) {
        next = b->next;
        mt_dealloc(b->mem);
        mt_dealloc(b);
    }
    mt_dealloc(arena);
}

void mt_arena_reset(mt_arena *arena)
{
    if (!arena)
        return;
    for (arena_block *b = arena->first; b; b = b->next)
        b->used = 0;
    arena->used = 0;
}

static size_t round_up(size_t n) { return (n + MT_ALIGN - 1) / MT_ALIGN * MT_ALIGN; }

/* Aligned bytes from the first block with room, or from a new last block;
 * NULL when a new block cannot be had. */
static void *arena_take(mt_arena *a, size_t bytes)
{
    bytes = round_up(bytes);
    arena_block *b = a->first;
    while (b && b->size - b->used < bytes)
        b = b->next;
    if (!b) {
        size_t size = bytes > 64 * 1024 ? bytes : 64 * 1024;
        if (!(b = block_new(size)))
            return NULL;
        if (a->last)
            a->last->next = b;
        else
            a->first = b;
        a->last = b;
    }
    void *p = b->mem + b->used;
    b->used += bytes;
    a->used += bytes;
    return p;
}

static mt_status arena_tensor(mt_arena *arena, mt_dtype dtype, int rank,
                              const int64_t *shape, bool zero, mt_tensor **out)
{
    const char *op = "arena_tensor";
    if (!arena || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: NULL argument", op);
    if ((unsigned)dtype >= MT_DTYPE_COUNT)
        return mt_fail(MT_ERR_DTYPE, "%s: invalid dtype %d", op, (int)dtype);
    mt_status s = mt_check_shape_arg(op, rank, shape);
    if (s)
        return s;
    int64_t numel = 0;
    mt_shape_numel(rank, shape, &numel);
    if ((uint64_t)numel > (SIZE_MAX - 2 * MT_ALIGN) / mt_dtype_size(dtype))
        return mt_fail(MT_ERR_OVERFLOW, "%s: size overflows size_t", op);
    size_t bytes = (size_t)numel * mt_dtype_size(dtype);
    mt_tensor *t = arena_take(arena, sizeof *t);
    void *data = t && bytes ? arena_take(arena, bytes) : NULL;
    if (!t || (bytes && !data))
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot grow the arena by %zu bytes",
                       op, bytes);
    if (bytes && zero)
        memset(data, 0, bytes);
    mt_tensor_init_contiguous(t, dtype, rank, shape, data);
    t->ownership = MT_OWNERSHIP_ARENA;
    *out = t;
    return MT_OK;
}

mt_status mt_arena_tensor(mt_arena *arena, mt_dtype dtype, int rank,
                          const int64_t *shape, mt_tensor **out)
{
    return arena_tensor(arena, dtype, rank, shape, true, out);
}

mt_status mt_arena_tensor_uninit(mt_arena *arena, mt_dtype dtype, int rank,
                                 const int64_t *shape, mt_tensor **out)
{
    return arena_tensor(arena, dtype, rank, shape, false, out);
}

size_t mt_arena_used(const mt_arena *arena) { return arena ? arena->used : 0; }

size_t mt_arena_capacity(const mt_arena *arena)
{
    if (!arena)
        return 0;
    size_t total = 0;
    for (const arena_block *b = arena->first; b; b = b->next)
        total += b->size;
    return total;
}
