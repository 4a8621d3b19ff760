/* module_malloc.c — the heap of minitensor-mnist.wasm: a first-fit free list.
 *
 * Why not wasi-libc's dlmalloc: it is 10 KB of code for a module whose
 * whole budget besides the weights is ~40 KB, and the module allocates a
 * handful of long-lived blocks (the host's image and output buffers, the
 * model's activations, the matmul's packing buffers). Defining the malloc
 * family here keeps libc's from being linked (a libc.a member is pulled
 * only for a symbol nobody else defines; a second definition would be a
 * link error, not a silent mix).
 *
 * Layout: every block starts with a 16-byte header (its size, header
 * included, a multiple of 16; and while free, the next free block), so
 * payloads are 16-byte aligned. Free blocks form one list sorted by
 * address and are merged with free neighbours on free, so freeing
 * everything gives back one block. The heap starts at the linker's
 * __heap_base and grows with memory.grow; memory is never returned.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    size_t size;        // bytes, header included; a multiple of HEADER
    struct block *next; // while free: the next free block by address
} block;

enum { HEADER = 16, PAGE = 65536 };
_Static_assert(sizeof(block) <= HEADER, "the header holds a block");

extern unsigned char __heap_base; // from wasm-ld: the first byte after the stack and data

static block *free_list; // sorted by address
static uintptr_t heap_end; // the end of what the heap has taken so far

static uintptr_t align_up(uintptr_t v, uintptr_t a) { return (v + a - 1) & ~(a - 1); }

/* Put [b, b + b->size) on the free list, merging it with the blocks just
 * before and after. */
static void release(block *b)
{
    block *prev = NULL, *next = free_list;
    while (next && next < b) {
        prev = next;
        next = next->next;
    }
    if (next && (uintptr_t)b + b->size == (uintptr_t)next) {
        b->size += next->size;
        next = next->next;
    }
    b->next = next;
    if (prev && (uintptr_t)prev + prev->size == (uintptr_t)b) {
        prev->size += b->size;
        prev->next = b->next;
    } else if (prev) {
        prev->next = b;
    } else {
        free_list = b;
    }
}

/* Add at least `bytes` to the heap: the rest of the current memory first,
 * then new pages. */
/* The heap never reaches the last page of a 4 GiB memory: 65536 pages end
 * at 2^32, which does not fit in a wasm32 pointer. */
static const uint64_t HEAP_LIMIT = (uint64_t)UINTPTR_MAX + 1 - PAGE;

static int grow(size_t bytes)
{
    if (!heap_end)
        heap_end = align_up((uintptr_t)&__heap_base, HEADER);
    uint64_t memory_end = (uint64_t)__builtin_wasm_memory_size(0) * PAGE;
    if (memory_end > HEAP_LIMIT)
        memory_end = HEAP_LIMIT;
    if (memory_end - heap_end < bytes) {
        uint64_t pages = (bytes - (memory_end - heap_end) + PAGE - 1) / PAGE;
        if (memory_end + pages * PAGE > HEAP_LIMIT ||
            __builtin_wasm_memory_grow(0, (size_t)pages) == (size_t)-1)
            return 0;
        memory_end += pages * PAGE;
    }
    block *b = (block *)heap_end;
    b->size = (size_t)(memory_end - heap_end);
    heap_end = (uintptr_t)memory_end;
    release(b);
    return 1;
}

/* Take `need` bytes (header included) whose payload is `align`-aligned out
 * of a free block: the gap before (if any) and the tail (if big enough to
 * be useful) stay free. */
static void *take(size_t need, size_t align)
{
    for (block **link = &free_list; *link; link = &(*link)->next) {
        block *b = *link;
        uintptr_t start = (uintptr_t)b;
        uintptr_t payload = align_up(start + HEADER, align);
        size_t gap = payload - HEADER - start; // a multiple of HEADER
        if (b->size < gap + need)
            continue;
        size_t tail = b->size - gap - need;
        *link = b->next;
        if (tail < 2 * HEADER) { // too small to hold anything: keep it
            need += tail;
            tail = 0;
        }
        block *used = (block *)(payload - HEADER);
        if (gap) {
            b->size = gap;
            release(b);
        }
        used->size = need;
        if (tail) {
            block *rest = (block *)((uintptr_t)used + need);
            rest->size = tail;
            release(rest);
        }
        return (void *)payload;
    }
    return NULL;
}

static void *allocate(size_t size, size_t align)
{
    if (align < HEADER)
        align = HEADER;
    // alignments beyond a page are not supported (C11 allows refusing them)
    if (align > PAGE || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    if (size > SIZE_MAX / 2) {
        errno = ENOMEM;
        return NULL;
    }
    size_t need = HEADER + align_up(size ? size : 1, HEADER);
    void *p = take(need, align);
    if (!p && grow(need + align))
        p = take(need, align);
    if (!p)
        errno = ENOMEM;
    return p;
}

static block *header_of(void *p) { return (block *)((uintptr_t)p - HEADER); }

void *malloc(size_t size) { return allocate(size, HEADER); }

void *aligned_alloc(size_t align, size_t size) { return allocate(size, align); }

void *calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = malloc(count * size);
    if (p)
        memset(p, 0, count * size); // a reused block is not zero
    return p;
}

void free(void *p)
{
    if (p)
        release(header_of(p));
}

void *realloc(void *p, size_t size)
{
    if (!p)
        return malloc(size);
    size_t have = header_of(p)->size - HEADER;
    if (size <= have)
        return p;
    void *q = malloc(size);
    if (q) {
        memcpy(q, p, have);
        free(p);
    }
    return q;
}
