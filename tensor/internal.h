/* internal.h — helpers shared by tensor/ sources; not installed. */
#ifndef MT_INTERNAL_H
#define MT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minitensor/error.h"
#include "minitensor/memory.h"
#include "minitensor/tensor.h"

#define MT_ALIGN 64 /* tensor data alignment: one cache line, any SIMD width */

/* Shape text for messages: "[2,3]" or "name [2,3]". */
typedef struct mt_shape_text { char s[160]; } mt_shape_text;
mt_shape_text mt_shape_text_of(const mt_tensor *t);
#define MT_SHAPE(t) (mt_shape_text_of(t).s)

/* Resolve a possibly negative dim against rank; false if out of range. */
bool mt_dim_resolve(int dim, int rank, int *resolved);

/* Overflow-checked numel of a shape; false on overflow or negative dim. */
bool mt_shape_numel(int rank, const int64_t *shape, int64_t *numel);

/* Checks shared by every public entry point; each sets the error message. */
mt_status mt_check_f32(const char *op, const mt_tensor *t);
mt_status mt_check_shape_arg(const char *op, int rank, const int64_t *shape);

/* True if the memory x and y touch intersects (conservative for views). */
bool mt_tensors_overlap(const mt_tensor *x, const mt_tensor *y);

/* True if x and y are the same view (data, shape, strides): an op that
 * reads each element before writing it may take out == input. */
static inline bool mt_tensors_same_view(const mt_tensor *x, const mt_tensor *y)
{
    if (x->data != y->data || !mt_tensor_same_shape(x, y))
        return false;
    for (int d = 0; d < x->rank; d++)
        if (x->shape[d] > 1 && x->stride[d] != y->stride[d])
            return false;
    return true;
}

/* ---- per-thread scratch (memory.c) ------------------------------------------
 * Each thread has one buffer per id, grown on demand with the library
 * allocator and kept for reuse (no allocation once warm), freed when the
 * thread exits. Growing does not keep the contents. */
typedef enum mt_scratch_id {
    MT_SCRATCH_MATMUL_A,      /* matmul.c: operands a backend cannot take as they are */
    MT_SCRATCH_MATMUL_B,
    MT_SCRATCH_MATMUL_C,
    MT_SCRATCH_MATMUL_BIAS,
    MT_SCRATCH_CONV_PATCHES,  /* conv.c: im2col patches */
    MT_SCRATCH_CONV_UNPOOLED, /* conv.c: conv2d_max_pool2d's conv output when unfused */
    MT_SCRATCH_NATIVE_A,      /* native/gemm_native.c: packing buffers of a serial call */
    MT_SCRATCH_NATIVE_B,
    MT_SCRATCH_ATTENTION_SCORES, /* attention.c: q·kᵀ of one (batch, head) */
    MT_SCRATCH_CHAIN_HIDDEN,  /* matmul_chain.c: the hidden activations */
    MT_SCRATCH_CHAIN_BIAS2,   /* matmul_chain.c: a strided second bias */
    MT_SCRATCH_SPARSE_IDX,    /* matmul_chain.c: rows of x compacted to their nonzeros */
    MT_SCRATCH_SPARSE_VAL,
    MT_SCRATCH_SORT,          /* sort.c: one lane's keys and indices */
    MT_SCRATCH_COUNT
} mt_scratch_id;

typedef struct mt_scratch { float *p; size_t n; } mt_scratch;   /* n in floats */

/* This thread's buffer `id`; NULL if its set cannot be allocated. */
mt_scratch *mt_scratch_slot(mt_scratch_id id);

/* s grown to at least n floats (MT_ALIGN-aligned; n·4 bytes must fit
 * size_t, as mt_scratch_floats checks); NULL if it cannot grow (the old
 * buffer is kept). */
float *mt_scratch_get(mt_scratch *s, size_t n);

/* mt_scratch_get(mt_scratch_slot(id), n); NULL also for n < 0 or n floats
 * past size_t. n is the caller's int64_t product of dims, unconverted: a
 * 32-bit size_t would wrap a count past 2^32 to a small one. */
float *mt_scratch_floats(mt_scratch_id id, int64_t n);

/* Frees the calling thread's buffer `id` (if it has one); with it the
 * thread's set, once every buffer is freed. */
void mt_scratch_free(mt_scratch_id id);

/* Frees the calling thread's scratch buffers. */
void mt_scratch_release(void);

/* Frees the buffers kept for reuse: this thread's scratch, the native
 * backend's pooled packing buffers and its thread pool. */
void mt_release_caches(void);
typedef struct mt_arena mt_arena;
/* mt_arena_tensor without the zeroing, for scratch the caller overwrites
 * whole (autograd's im2col patches). */
mt_status mt_arena_tensor_uninit(mt_arena *arena, mt_dtype dtype, int rank,
                                 const int64_t *shape, mt_tensor **out);

/* Fill t's struct as a contiguous tensor over data (no ownership). */
void mt_tensor_init_contiguous(mt_tensor *t, mt_dtype dtype, int rank,
                               const int64_t *shape, void *data);

/* A new OWNED contiguous tensor with uninitialised data, for results that
 * are written in full; failures (NULL out, bad shape, no memory) name op. */
mt_status mt_tensor_alloc(const char *op, mt_dtype dtype, int rank,
                          const int64_t *shape, mt_tensor **out);

/* A new heap tensor struct (refs 1, zeroed); NULL on allocation failure. */
mt_tensor *mt_tensor_struct_new(void);

/* Pointer to element `index` (rank entries). */
static inline void *mt_element_ptr(const mt_tensor *t, const int64_t *index)
{
    int64_t off = 0;
    for (int d = 0; d < t->rank; d++)
        off += index[d] * t->stride[d];
    return (char *)t->data + off * (int64_t)mt_dtype_size(t->dtype);
}

/* Advance a row-major multi-index over shape; false after the last one. */
static inline bool mt_index_next(int rank, const int64_t *shape, int64_t *index)
{
    for (int d = rank - 1; d >= 0; d--) {
        if (++index[d] < shape[d])
            return true;
        index[d] = 0;
    }
    return false;
}

/* ---- views and copies shared by view.c and the index/shape ops ---------- */

/* view = src's metadata as a BORROWED struct (no references taken). */
void mt_view_init(mt_tensor *view, const mt_tensor *src);

/* Moves a computed borrowed view onto the heap as a VIEW that keeps src's
 * root alive; fails on a NULL out or allocation failure. */
mt_status mt_view_to_heap(const char *op, const mt_tensor *src,
                          const mt_tensor *view, mt_tensor **out);

/* out exists, has `dtype` and exactly `shape`, and no two of its elements
 * share memory through a stride of 0; the message names op. */
mt_status mt_check_out(const char *op, const mt_tensor *out, mt_dtype dtype,
                       int rank, const int64_t *shape);

/* Copies elements of `esize` bytes over `shape` from src to dst, each with
 * its own strides (in elements; may be negative: flip uses that). A run
 * that is contiguous on both sides is one memcpy. No overlap allowed. */
void mt_copy_strided(size_t esize, int rank, const int64_t *shape,
                     const void *src, const int64_t *src_stride,
                     void *dst, const int64_t *dst_stride);

/* Copies src into dst in row-major element order (same numel and dtype,
 * shapes may differ): the data movement of a reshape. */
void mt_copy_reshaped(const mt_tensor *src, mt_tensor *dst);

/* Index value at `pos` of an I32 or I64 tensor. */
static inline int64_t mt_index_at(const mt_tensor *ix, const int64_t *pos)
{
    const void *p = mt_element_ptr(ix, pos);
    return ix->dtype == MT_DTYPE_I32 ? (int64_t)*(const int32_t *)p
                                     : *(const int64_t *)p;
}

/* Sum of (x[i*s] - shift)^k, k = 1 or 2 (square), over n floats, in double;
 * four accumulators so the adds do not wait on each other (about 3x faster
 * than one chain). Reductions and normalisation use it. */
static inline double mt_run_moment(const float *p, int64_t n, int64_t s, double shift,
                                   bool square)
{
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) {
            double d = p[(i + j) * s] - shift;
            acc[j] += square ? d * d : d;
        }
    for (; i < n; i++) {
        double d = p[i * s] - shift;
        acc[0] += square ? d * d : d;
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/* Conversions of one stored element to float. */
float mt_f16_to_f32(uint16_t h);
float mt_bf16_to_f32(uint16_t h);
float mt_element_to_f32(mt_dtype dtype, const void *p);

#endif
