/* einsum_chain.h (internal) — mt_einsum for 3 or more operands
 * (einsum_chain.c); mt_einsum, mt_einsum_into and mt_einsum_shape hand
 * such calls here. And the operand check both share (einsum.c). */
#ifndef MT_EINSUM_CHAIN_H
#define MT_EINSUM_CHAIN_H

#include "minitensor/tensor.h"

enum { MT_EINSUM_MAX_OPERANDS = 32 };

mt_status mt_einsum_chain(const char *eq, int n, const mt_tensor *const *x, mt_tensor **out);
mt_status mt_einsum_chain_into(const char *eq, int n, const mt_tensor *const *x,
                               mt_tensor *out);
mt_status mt_einsum_chain_shape(const char *eq, int n, const mt_tensor *const *x, int *rank,
                                int64_t *shape);

/* x[0..n) valid F32 tensors, else the failure naming `op` and the operand. */
mt_status mt_einsum_check_operands(const char *op, int n, const mt_tensor *const *x);

#endif
