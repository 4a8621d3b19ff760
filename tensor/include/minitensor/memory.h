/* minitensor/memory.h — where minitensor's heap memory comes from.
 *
 * All of minitensor's heap allocations go through one allocator, by default
 * the C library's. Install your own to place tensors in special memory, to
 * count allocations (the tests prove forward passes allocate nothing) or to
 * inject failures (they prove every failure is a clean MT_ERR_OUT_OF_MEMORY).
 */
#ifndef MINITENSOR_MEMORY_H
#define MINITENSOR_MEMORY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_allocator {
    /* size > 0 bytes aligned to `align` (a power of two, at most 4096), or
     * NULL on failure. */
    void *(*alloc)(size_t size, size_t align, void *user);
    /* Release memory from alloc; never called with NULL. */
    void (*free)(void *ptr, void *user);
    void *user;
} mt_allocator;

/* Install `allocator` (copied) for all later allocations; NULL restores the
 * default. Change it only while no minitensor object is alive. */
void mt_allocator_set(const mt_allocator *allocator);

/* Allocate `size` bytes aligned to `align` (power of two, <= 4096) through
 * the installed allocator; NULL on failure or size == 0. Release with
 * mt_dealloc (NULL is ignored). For code built on minitensor that wants its
 * memory counted with the library's. */
void *mt_alloc(size_t size, size_t align);
void mt_dealloc(void *ptr);

#ifdef __cplusplus
}
#endif
#endif
