/* test_util.h — shared helpers for the cmocka tests. */
#ifndef MT_TEST_UTIL_H
#define MT_TEST_UTIL_H

#include <math.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#if defined(__SANITIZE_ADDRESS__)
#define MT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MT_TEST_ASAN 1
#endif
#endif
#ifdef MT_TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

#include "minitensor/minitensor.h"

/* |actual - expected| <= atol + rtol*|expected| for every element; NaN
 * and ±inf only where expected (rtol*inf would pass any number). */
static inline void check_close(const float *actual, const float *expected, size_t n,
                               double atol, double rtol, const char *file, int line)
{
    for (size_t i = 0; i < n; i++) {
        double a = actual[i], e = expected[i];
        if ((isnan(e) && isnan(a)) || a == e)   /* equal infinities too */
            continue;
        if (isinf(e) || !(fabs(a - e) <= atol + rtol * fabs(e)))
            {
                print_error("element %zu: got %.9g, expected %.9g\n", i, a, e);
                _fail(file, line);
            }
    }
}
#define assert_close(actual, expected, n, atol, rtol) \
    check_close((actual), (expected), (n), (atol), (rtol), __FILE__, __LINE__)

/* The call failed with `status` and a message containing `needle`. */
#define assert_fails(call, status, needle)                                        \
    do {                                                                          \
        mt_status st_ = (call);                                                   \
        if (st_ != (status) || !strstr(mt_last_error(), (needle))) {             \
            print_error("got %s \"%s\", expected %s containing \"%s\"\n",        \
                        mt_status_name(st_), mt_last_error(), mt_status_name(status), \
                        (needle));                                                \
            fail();                                                               \
        }                                                                         \
    } while (0)

#define assert_ok(call)                                                           \
    do {                                                                          \
        mt_status st_ = (call);                                                   \
        if (st_ != MT_OK) {                                                       \
            print_error("%s failed: %s\n", #call, mt_last_error());              \
            fail();                                                               \
        }                                                                         \
    } while (0)

/* The most threads the suites run ops on: wasm32 builds have one thread
 * (mt_num_threads_set(2) fails there with MT_ERR_UNSUPPORTED). */
#ifdef __wasm__
#define MT_TEST_THREADS 1
#else
#define MT_TEST_THREADS 2
#endif

/* ---- allocators that count allocations or fail on demand ------------------ */

/* Atomic counters: the native backend's worker threads allocate too. */
typedef struct alloc_probe {
    _Atomic long allocations;   /* successful allocations so far */
    _Atomic long live;          /* allocations not yet freed */
    long fail_after;            /* fail the allocation after this many; -1 never */
} alloc_probe;

static void *probe_alloc(size_t size, size_t align, void *user)
{
    alloc_probe *p = user;
    if (p->fail_after >= 0 && p->allocations >= p->fail_after)
        return NULL;
    size_t rounded = (size + align - 1) / align * align;
    void *ptr = aligned_alloc(align, rounded);
    if (ptr) {
        p->allocations++;
        p->live++;
#ifdef MT_TEST_ASAN /* exactly `size` bytes usable, as in the library's default */
        ASAN_POISON_MEMORY_REGION((char *)ptr + size, rounded - size);
#endif
    }
    return ptr;
}

static void probe_free(void *ptr, void *user)
{
    ((alloc_probe *)user)->live--;
    free(ptr);
}

static inline void probe_install(alloc_probe *p, long fail_after)
{
    p->allocations = 0;
    p->live = 0;
    p->fail_after = fail_after;
    mt_allocator_set(&(mt_allocator){probe_alloc, probe_free, p});
}

static inline void probe_remove(void) { mt_allocator_set(NULL); }

/* An _into op under test: runs it into out with the arguments in ctx. */
typedef mt_status (*into_run_fn)(const void *ctx, mt_tensor *out);

/* The house rule for _into ops under out-of-memory: with each allocation
 * failing in turn, on every backend this build has and on 1 and
 * MT_TEST_THREADS threads, the op fails with MT_ERR_OUT_OF_MEMORY, out (a
 * view of the contiguous `base`) keeps every byte it had and nothing
 * leaks; the first run that gets all it asks for gives `want` (base's
 * layout). */
static inline void assert_oom_leaves_out(into_run_fn run, const void *ctx, mt_tensor *base,
                                         mt_tensor *out, const mt_tensor *want)
{
    const mt_backend was = mt_backend_get();
    const int threads_were = mt_num_threads_get();
    const size_t n = (size_t)mt_tensor_numel(base);
    float *data = base->data;
    const mt_backend backends[] = {MT_BACKEND_NAIVE, MT_BACKEND_NATIVE, MT_BACKEND_OPENBLAS};
    for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
        if (!mt_backend_available(backends[b]))
            continue;
        assert_ok(mt_backend_set(backends[b]));
        for (int threads = 1; threads <= MT_TEST_THREADS; threads++) {
            assert_ok(mt_num_threads_set(threads));
            alloc_probe probe;
            // until a run is refused nothing (fewer allocations than the
            // limit): a run may succeed past a refusal (the native GEMM
            // without packing buffers); it must then give want too
            for (long fail_after = 0;; fail_after++) {
                for (size_t i = 0; i < n; i++)
                    data[i] = (float)i - 1e6f;
                probe_install(&probe, fail_after);
                mt_status s = run(ctx, out);
                probe_remove();
                assert_int_equal(probe.live, 0);
                if (s == MT_OK) {
                    assert_close(data, (const float *)want->data, n, 1e-5, 1e-4);
                    if (probe.allocations < fail_after)
                        break;
                    continue;
                }
                if (s != MT_ERR_OUT_OF_MEMORY)
                    fail_msg("%s, %d threads, allocation %ld failing: %s \"%s\"",
                             mt_backend_name(backends[b]), threads, fail_after,
                             mt_status_name(s), mt_last_error());
                for (size_t i = 0; i < n; i++)
                    if (data[i] != (float)i - 1e6f)
                        fail_msg("%s, %d threads, allocation %ld failing: out[%zu] written "
                                 "(%g) by a call that failed", mt_backend_name(backends[b]),
                                 threads, fail_after, i, (double)data[i]);
            }
        }
    }
    assert_ok(mt_backend_set(was));
    assert_ok(mt_num_threads_set(threads_were));
}

/* A constructor or loader under test: makes *made from the arguments in
 * ctx; release frees what it made. */
typedef mt_status (*make_fn)(const void *ctx, void **made);

/* The house rule for constructors under out-of-memory: with each
 * allocation failing in turn, `make` fails with MT_ERR_OUT_OF_MEMORY,
 * leaves *made NULL and nothing allocated, until a run gets all it asks
 * for (within `limit` failing runs) and makes it. Ends with no allocator
 * installed. */
static inline void assert_oom_makes_nothing(make_fn make, void (*release)(void *),
                                            const void *ctx, long limit)
{
    alloc_probe probe;
    for (long fail_after = 0;; fail_after++) {
        assert_true(fail_after < limit);
        void *made = &made;
        probe_install(&probe, fail_after);
        mt_status s = make(ctx, &made);
        if (s == MT_OK)
            release(made);
        probe_remove();
        assert_int_equal(probe.live, 0);
        if (s == MT_OK)
            return;
        if (s != MT_ERR_OUT_OF_MEMORY)
            fail_msg("allocation %ld failing: %s \"%s\"", fail_after, mt_status_name(s),
                     mt_last_error());
        assert_null(made);
    }
}

/* File `name` in `dir`, whole, in a new buffer (the test's to free; one
 * byte more than *size, for a terminator). */
static inline void *read_test_file(const char *dir, const char *name, size_t *size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    void *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* Tensor `name` of a reference file as a new tensor (the test's to free). */
static inline mt_tensor *ref_get(const mt_safetensors *st, const char *name)
{
    mt_tensor *t = NULL;
    assert_ok(mt_safetensors_get(st, name, &t));
    return t;
}

/* ref_get, or NULL if the file has no tensor `name`. */
static inline mt_tensor *ref_get_maybe(const mt_safetensors *st, const char *name)
{
    size_t index;
    if (mt_safetensors_find(st, name, &index) != MT_OK) {
        mt_clear_error();
        return NULL;
    }
    return ref_get(st, name);
}

#ifdef REFS_DIR
/* Reference file `file` of tests/reference, open (the test's to close). */
static inline mt_safetensors *ref_open(const char *file)
{
    char path[512];
    mt_safetensors *st = NULL;
    snprintf(path, sizeof path, "%s/%s", REFS_DIR, file);
    assert_ok(mt_safetensors_open(path, &st));
    return st;
}
#endif

/* st's tensors under the names `rename` gives (into buf; NULL leaves the
 * tensor out), plus `extra` under extra_name if given: a file in memory,
 * *image the caller's to free (mt_safetensors_buffer_free) after closing
 * it. */
typedef const char *(*rename_fn)(const char *name, char *buf, size_t size);

static inline mt_safetensors *rewritten(const mt_safetensors *st, rename_fn rename,
                                 const char *extra_name, const mt_tensor *extra, void **image)
{
    size_t n = mt_safetensors_count(st), k = 0;
    mt_safetensors_item *items = calloc(n + 1, sizeof *items);
    char (*names)[96] = calloc(n, sizeof *names);
    mt_tensor **t = calloc(n, sizeof *t);
    assert_true(items && names && t);
    for (size_t i = 0; i < n; i++) {
        mt_safetensors_entry e;
        assert_ok(mt_safetensors_info(st, i, &e));
        const char *to = rename(e.name, names[i], sizeof names[i]);
        if (!to)
            continue;
        assert_ok(mt_safetensors_get(st, e.name, &t[i]));
        items[k++] = (mt_safetensors_item){to, 0, t[i]};
    }
    if (extra)
        items[k++] = (mt_safetensors_item){extra_name, 0, extra};
    size_t size = 0;
    mt_safetensors *out = NULL;
    assert_ok(mt_safetensors_serialize(items, k, NULL, 0, image, &size));
    assert_ok(mt_safetensors_open_memory(*image, size, &out));
    for (size_t i = 0; i < n; i++)
        mt_tensor_free(t[i]);
    free(t);
    free(names);
    free(items);
    return out;
}

/* y equals the reference `name`: the same shape, contiguous, each value
 * within atol + rtol·|want|. */
static inline void ref_assert_matches(const mt_safetensors *st, const char *name,
                                      const mt_tensor *y, double atol, double rtol)
{
    mt_tensor *want = ref_get(st, name);
    assert_int_equal(y->rank, want->rank);
    for (int i = 0; i < y->rank; i++)
        assert_int_equal(y->shape[i], want->shape[i]);
    assert_true(mt_tensor_is_contiguous(y));
    assert_close((const float *)y->data, (const float *)want->data,
                 (size_t)mt_tensor_numel(y), atol, rtol);
    mt_tensor_free(want);
}

/* The safetensors file at path, opened as mapped or (misaligned) from a
 * heap copy one byte off alignment, where every tensor is an owned copy
 * that a layer must keep alive after its loader lets go. *copy (NULL when
 * mapped) is the caller's to free after closing *st. */
static inline void open_maybe_misaligned(const char *path, int misaligned, mt_safetensors **st,
                                         unsigned char **copy)
{
    *copy = NULL;
    if (!misaligned) {
        assert_ok(mt_safetensors_open(path, st));
        return;
    }
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n > 0);
    rewind(fp);
    *copy = malloc((size_t)n + 1);
    assert_non_null(*copy);
    assert_int_equal(fread(*copy + 1, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    assert_ok(mt_safetensors_open_memory(*copy + 1, (size_t)n, st));
}

/* Deterministic pseudo-random floats in [-1, 1). */
static inline float rand_unit(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

#endif
