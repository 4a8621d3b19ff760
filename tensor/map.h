/* map.h (internal) — the one driver behind every elementwise op.
 *
 * An op is up to 3 inputs broadcast together (NumPy rules) into one output:
 * the driver validates (NULL, dtype, broadcasting, out's shape and dtype,
 * partial overlap), allocates for the mt_X form, and walks the output in
 * rows, calling the op's row function with element strides (0 where an
 * input broadcasts). Dims are merged where every operand is contiguous
 * across them, so a contiguous tensor is one long row.
 */
#ifndef MT_MAP_H
#define MT_MAP_H

#include "internal.h"
#include "minitensor/ops.h"

enum { MT_MAP_MAX_IN = 3 };

/* One row: n elements; p[0..n_in-1] the inputs, p[n_in] the output; s[] their
 * element strides; ctx what the caller passed (the op's parameters). */
typedef void (*mt_map_row_fn)(int64_t n, void *const *p, const int64_t *s,
                              const void *ctx);

typedef struct mt_map_op {
    const char *name;                    /* "add": the op in messages */
    int n_in;                            /* 1..MT_MAP_MAX_IN */
    const char *in_name[MT_MAP_MAX_IN];  /* "a", "b", "cond" */
    mt_dtype in_dtype[MT_MAP_MAX_IN];
    mt_dtype out_dtype;
    mt_map_row_fn row;
} mt_map_op;

/* out = op(in...) into a new contiguous tensor / into the caller's out. */
mt_status mt_map_new(const mt_map_op *op, const mt_tensor *const *in, const void *ctx,
                     mt_tensor **out);
mt_status mt_map_into(const mt_map_op *op, const mt_tensor *const *in, const void *ctx,
                      mt_tensor *out);

#endif
