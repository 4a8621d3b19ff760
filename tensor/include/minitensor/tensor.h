/* minitensor/tensor.h — the tensor type: dtype, shape, strides, data, owner.
 *
 * A tensor is a view of memory: `data` points at element (0,…,0) and element
 * (i0,…,ir-1) lives at data + sum(ik * stride[k]) elements. Shapes are
 * outermost first (NumPy, PyTorch and safetensors order). Strides are in
 * elements, never negative.
 *
 * Ownership is explicit (see mt_ownership):
 *   - OWNED:    minitensor allocated the data; freed with the last reference.
 *   - BORROWED: the caller's memory (mt_tensor_wrap, *_into views); the caller
 *               keeps it alive and frees it.
 *   - VIEW:     shares another tensor's data and keeps that tensor alive, so
 *               the base may be freed before its views.
 *   - ARENA:    lives in an mt_arena; valid until mt_arena_reset/free.
 *
 * Tensors returned through `mt_tensor **out` are heap objects: release them
 * with mt_tensor_free(). Structs you declare yourself (for the *_into view
 * functions) need no freeing. Reference counts are not atomic: share a tensor
 * between threads only for reading.
 *
 * Storage dtypes are listed in mt_dtype; arithmetic is F32. Convert other
 * dtypes with mt_tensor_to_f32().
 */
#ifndef MINITENSOR_TENSOR_H
#define MINITENSOR_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minitensor/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_MAX_RANK 8    /* largest rank a tensor can have */
#define MT_NAME_MAX 64   /* tensor names longer than this are truncated */

typedef enum mt_dtype {
    MT_DTYPE_F32 = 0,
    MT_DTYPE_F16,
    MT_DTYPE_BF16,
    MT_DTYPE_F64,
    MT_DTYPE_I64,
    MT_DTYPE_I32,
    MT_DTYPE_I16,
    MT_DTYPE_I8,
    MT_DTYPE_U64,
    MT_DTYPE_U32,
    MT_DTYPE_U16,
    MT_DTYPE_U8,
    MT_DTYPE_BOOL,
    MT_DTYPE_COUNT
} mt_dtype;

/* Bytes per element (0 for an invalid dtype). */
size_t mt_dtype_size(mt_dtype dtype);

/* The safetensors spelling: "F32", "BF16", "BOOL" …; "INVALID" otherwise. */
const char *mt_dtype_name(mt_dtype dtype);

/* Parse a safetensors dtype name (exact, case-sensitive).
 * Fails with MT_ERR_DTYPE for names minitensor cannot store. */
mt_status mt_dtype_from_name(const char *name, mt_dtype *dtype);

typedef enum mt_ownership {
    MT_OWNERSHIP_OWNED = 0,
    MT_OWNERSHIP_BORROWED,
    MT_OWNERSHIP_VIEW,
    MT_OWNERSHIP_ARENA
} mt_ownership;

/* Read the public fields freely; change them only through mt_* calls. */
typedef struct mt_tensor {
    mt_dtype dtype;
    int rank;                        /* 0 (scalar) … MT_MAX_RANK */
    int64_t shape[MT_MAX_RANK];      /* outermost first */
    int64_t stride[MT_MAX_RANK];     /* in elements */
    void *data;                      /* element (0,…,0); may be NULL if empty */
    mt_ownership ownership;
    char name[MT_NAME_MAX];          /* "" if unnamed; used in error messages */

    /* private: reference counting of heap tensors */
    struct mt_tensor *base_;         /* the tensor a VIEW keeps alive */
    int refs_;                       /* 0 for structs minitensor did not allocate */
    void *block_;                    /* owned allocation, if any */
} mt_tensor;

/* ---- creation ---------------------------------------------------------- */

/* A contiguous tensor of `shape` (rank entries; rank 0 = scalar) filled with
 * zeros. Fails on NULL arguments, rank out of 0..MT_MAX_RANK, negative dims,
 * size overflow or allocation failure. */
mt_status mt_tensor_zeros(mt_dtype dtype, int rank,
                          const int64_t *shape, mt_tensor **out);

/* An F32 tensor filled with `value`. */
mt_status mt_tensor_full(int rank, const int64_t *shape,
                         float value, mt_tensor **out);

/* A contiguous tensor holding a copy of the caller's row-major `data`
 * (numel × dtype size bytes). */
mt_status mt_tensor_from_data(mt_dtype dtype, int rank,
                              const int64_t *shape, const void *data, mt_tensor **out);

/* A tensor over the caller's row-major `data`, not copied (BORROWED): the
 * caller keeps `data` alive longer than the tensor and frees it. */
mt_status mt_tensor_wrap(mt_dtype dtype, int rank,
                         const int64_t *shape, void *data, mt_tensor **out);

/* The same without the heap: fills a struct you provide (BORROWED). Use it
 * to present each new input buffer to a model with no allocation. */
mt_status mt_tensor_wrap_into(mt_dtype dtype, int rank,
                              const int64_t *shape, void *data, mt_tensor *t);

/* An F32 tensor with element i = pixels[i] * scale (row-major). With
 * scale = 1/255.0f this maps MNIST bytes 0..255 to 0..1. */
mt_status mt_tensor_from_u8(int rank, const int64_t *shape,
                            const uint8_t *pixels, float scale, mt_tensor **out);

/* The same into an existing F32 tensor: dst element i = pixels[i] * scale,
 * for i over dst in row-major order (numel(dst) pixels are read). */
mt_status mt_tensor_from_u8_into(const uint8_t *pixels,
                                 float scale, mt_tensor *dst);

/* Drop a reference. Frees the tensor (and its data, if OWNED) when no view
 * needs it any more. NULL, arena tensors and caller-declared structs are
 * ignored. */
void mt_tensor_free(mt_tensor *t);

/* ---- facts -------------------------------------------------------------- */

/* Number of elements (1 for a scalar, 0 if any dim is 0); -1 for NULL. */
int64_t mt_tensor_numel(const mt_tensor *t);

/* True if the elements are laid out row-major with no gaps. */
bool mt_tensor_is_contiguous(const mt_tensor *t);

/* True if both have the same rank and dims. */
bool mt_tensor_same_shape(const mt_tensor *a, const mt_tensor *b);

/* Writes "[2,3]" (or "name [2,3]" for a named tensor) into buf, truncating
 * to fit; returns buf. Handy for your own messages. */
char *mt_tensor_describe(const mt_tensor *t, char *buf, size_t size);

/* Checks a tensor before use, as every mt_ function checks its operands:
 * not NULL, rank 0..MT_MAX_RANK, a known dtype, no negative dim, an element
 * count that fits int64_t, and data unless it has no elements. Meant for
 * structs filled by hand and for your own layers and ops: the error names
 * `op` and `what`, e.g. "mylayer: kernel w [4,-3] has a negative dim or too
 * many elements" (MT_ERR_INVALID_ARGUMENT); NULL op or what read as
 * "tensor_check" and "tensor". */
mt_status mt_tensor_check(const char *op, const char *what, const mt_tensor *t);

/* Copy `name` (truncated to MT_NAME_MAX-1 bytes) into t->name. */
mt_status mt_tensor_name_set(mt_tensor *t, const char *name);

/* MT_OK if every element is finite (integer dtypes always are); else
 * MT_ERR_FORMAT naming the tensor, the first NaN/Inf in row-major order, its
 * flat index and its multi-index. Use it on weights loaded from a file. */
mt_status mt_tensor_check_finite(const mt_tensor *t);

/* ---- elements and copies ------------------------------------------------ */

/* Read / write one element as float. index has t->rank entries. */
mt_status mt_tensor_get_f32(const mt_tensor *t, const int64_t *index,
                            float *value);
mt_status mt_tensor_set_f32(mt_tensor *t, const int64_t *index, float value);

/* Set every element of an F32 tensor to value. */
mt_status mt_tensor_fill(mt_tensor *t, float value);

/* The one explicit copy: a new OWNED, contiguous tensor with src's dtype,
 * shape and values (always a copy, even if src is contiguous). */
mt_status mt_tensor_contiguous(const mt_tensor *src, mt_tensor **out);

/* Copy src's values into dst (same shape; any strides but 0). dst must have
 * src's dtype, or be F32 (then values are converted). dst may overlap src
 * (x into its own transpose): src is read as a whole first, as
 * numpy.copyto does. */
mt_status mt_tensor_copy_into(const mt_tensor *src, mt_tensor *dst);

/* A new contiguous F32 tensor with src's values converted: F16 and BF16
 * exactly, F64 rounded to nearest, integers and BOOL (0/1) by value. */
mt_status mt_tensor_to_f32(const mt_tensor *src, mt_tensor **out);

#ifdef __cplusplus
}
#endif
#endif
