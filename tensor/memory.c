/* memory.c — every heap allocation of the library goes through here. */
#include <stdlib.h>

#include "minitensor/memory.h"
#include "internal.h"

/* The default: C11 aligned_alloc, whose size must be a multiple of align. */
static void *default_alloc(size_t size, size_t align, void *user)
{
    (void)user;
    size_t rounded = (size + align - 1) / align * align;
    if (rounded < size)
        return NULL;
    return aligned_alloc(align, rounded);
}

static void default_free(void *ptr, void *user)
{
    (void)user;
    free(ptr);
}

static mt_allocator current = {default_alloc, default_free, NULL};

void mt_allocator_set(const mt_allocator *allocator)
{
    /* Buffers kept for reuse must go back to the allocator they came from. */
    mt_release_caches();
    if (allocator && allocator->alloc && allocator->free)
        current = *allocator;
    else
        current = (mt_allocator){default_alloc, default_free, NULL};
}

void *mt_alloc(size_t size, size_t align)
{
    if (size == 0 || align == 0 || (align & (align - 1)) || align > 4096)
        return NULL;
    if (align < sizeof(void *))
        align = sizeof(void *);
    return current.alloc(size, align, current.user);
}

void mt_dealloc(void *ptr)
{
    if (ptr)
        current.free(ptr, current.user);
}
