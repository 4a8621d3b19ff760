/* minitensor/arena.h — a workspace for allocation-free forward passes.
 *
 * An arena hands out tensors from memory it keeps. mt_arena_reset() makes all
 * of them invalid at once and keeps the memory, so a loop that allocates the
 * same tensors every iteration stops touching the heap after its first pass:
 *
 *     mt_arena *ws; mt_arena_new(0, &ws);
 *     for (;;) {
 *         mt_arena_reset(ws);
 *         mt_tensor *h;
 *         mt_arena_tensor(ws, MT_DTYPE_F32, 2, (int64_t[]){n, 128}, &h);
 *         mt_matmul_into(x, w, h);  …
 *     }
 *     mt_arena_free(ws);
 *
 * When a pass needs more than the arena holds, it grows by one heap block.
 * Blocks are filled first-fit in a fixed order, so a pass that repeats the
 * requests of the pass before lands in the same places and allocates nothing.
 * Arena tensors must not be passed to mt_tensor_free (it ignores them).
 */
#ifndef MINITENSOR_ARENA_H
#define MINITENSOR_ARENA_H

#include "minitensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_arena mt_arena;

/* A new arena with `capacity` bytes reserved up front (0: grow on demand). */
mt_status mt_arena_new(size_t capacity, mt_arena **out);

/* Free the arena and everything in it. NULL is ignored. */
void mt_arena_free(mt_arena *arena);

/* Invalidate every tensor from this arena; keep its memory for reuse. */
void mt_arena_reset(mt_arena *arena);

/* A zero-filled contiguous tensor living in the arena (64-byte aligned). */
mt_status mt_arena_tensor(mt_arena *arena, mt_dtype dtype, int rank,
                          const int64_t *shape, mt_tensor **out);

/* Bytes handed out since the last reset, and bytes held. */
size_t mt_arena_used(const mt_arena *arena);
size_t mt_arena_capacity(const mt_arena *arena);

#ifdef __cplusplus
}
#endif
#endif
