/* memory.c — every heap allocation of the library goes through here; and
 * the per-thread scratch buffers the ops reuse between calls. */
#include <stdlib.h>
#include <string.h>

#include "minitensor/memory.h"
#include "internal.h"
#include "native/native.h"

#if defined(__SANITIZE_ADDRESS__)
#define MT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MT_ASAN 1
#endif
#endif
#ifdef MT_ASAN
#include <sanitizer/asan_interface.h>
#endif

#if !defined(__wasm__) || defined(__wasm_threads__)
#define MT_SCRATCH_THREADS 1
#include <pthread.h>
#endif

/* The default: C11 aligned_alloc, whose size must be a multiple of align. */
static void *default_alloc(size_t size, size_t align, void *user)
{
    (void)user;
    size_t rounded = (size + align - 1) / align * align;
    if (rounded < size)
        return NULL;
    void *p = aligned_alloc(align, rounded);
#ifdef MT_ASAN
    /* Under ASan the rounding is red zone: an access past `size` is reported
     * as it would be with an allocator that gives exactly what is asked (a
     * sort scratch 4 bytes short went unseen for this padding). */
    if (p)
        ASAN_POISON_MEMORY_REGION((char *)p + size, rounded - size);
#endif
    return p;
}

static void default_free(void *ptr, void *user)
{
    (void)user;
    free(ptr);
}

static mt_allocator current = {default_alloc, default_free, NULL};

/* ---- per-thread scratch --------------------------------------------------------
 * Each thread's set of buffers is one block, made on its first use and
 * found through a pthread key whose destructor frees it when the thread
 * exits (a thread that runs one op and ends leaks nothing). wasm32 has one
 * thread: a plain static set. */
typedef struct scratch_set { mt_scratch slot[MT_SCRATCH_COUNT]; } scratch_set;

static void scratch_set_free(scratch_set *set)
{
    if (!set)
        return;
    for (int i = 0; i < MT_SCRATCH_COUNT; i++)
        mt_dealloc(set->slot[i].p);
    mt_dealloc(set);
}

#ifdef MT_SCRATCH_THREADS
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_key_ok;

static void scratch_at_exit(void *set) { scratch_set_free(set); }
static void scratch_key_init(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_at_exit) == 0;
}

static scratch_set *scratch_current(void)
{
    pthread_once(&scratch_once, scratch_key_init);
    return scratch_key_ok ? pthread_getspecific(scratch_key) : NULL;
}

static bool scratch_install(scratch_set *set)
{
    return scratch_key_ok && pthread_setspecific(scratch_key, set) == 0;
}
#else
static scratch_set *the_set;
static scratch_set *scratch_current(void) { return the_set; }
static bool scratch_install(scratch_set *set) { the_set = set; return true; }
#endif

mt_scratch *mt_scratch_slot(mt_scratch_id id)
{
    scratch_set *set = scratch_current();
    if (!set) {
        set = mt_alloc(sizeof *set, _Alignof(scratch_set));
        if (!set)
            return NULL;
        memset(set, 0, sizeof *set);
        if (!scratch_install(set)) {
            mt_dealloc(set);
            return NULL;
        }
    }
    return &set->slot[id];
}

float *mt_scratch_get(mt_scratch *s, size_t n)
{
    if (s->n < n) {
        float *p = mt_alloc(n * sizeof *p, MT_ALIGN);
        if (!p)
            return NULL;
        mt_dealloc(s->p);
        s->p = p;
        s->n = n;
    }
    return s->p;
}

float *mt_scratch_floats(mt_scratch_id id, int64_t n)
{
    if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float))
        return NULL;
    mt_scratch *s = mt_scratch_slot(id);
    return s ? mt_scratch_get(s, (size_t)n) : NULL;
}

void mt_scratch_free(mt_scratch_id id)
{
    scratch_set *set = scratch_current();
    if (!set)
        return;
    mt_dealloc(set->slot[id].p);
    set->slot[id] = (mt_scratch){0};
    for (int i = 0; i < MT_SCRATCH_COUNT; i++)
        if (set->slot[i].p)
            return;
    mt_scratch_release();   /* the last one: the set goes too */
}

void mt_scratch_release(void)
{
    scratch_set *set = scratch_current();
    if (set && scratch_install(NULL))
        scratch_set_free(set);
}

void mt_release_caches(void)
{
    mt_scratch_release();
    mt_gemm_native_release();
}

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
