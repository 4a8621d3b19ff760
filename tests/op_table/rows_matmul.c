/* rows_matmul.c — matmul, its fused epilogue and einsum in the op table. */
#include <string.h>

#include "op_table.h"

static mt_status matmul_new(const op_case *c, mt_tensor **out)
{ return mt_matmul(op_in(c, 0), op_in(c, 1), out); }
static mt_status matmul_into(const op_case *c, mt_tensor *out)
{ return mt_matmul_into(op_in(c, 0), op_in(c, 1), out); }

/* act=<name> as mt_activation_name spells it; an unknown name stays invalid
 * (MT_ACTIVATION_COUNT) so the call fails and the case with it. */
static mt_activation activation_of(const op_case *c)
{
    const char *name = op_str(c, "act", "none");
    for (int a = 0; a < MT_ACTIVATION_COUNT; a++)
        if (strcmp(mt_activation_name((mt_activation)a), name) == 0)
            return (mt_activation)a;
    return MT_ACTIVATION_COUNT;
}
static mt_status fused_new(const op_case *c, mt_tensor **out)
{ return mt_matmul_fused(op_in(c, 0), op_in(c, 1), op_in(c, 2), activation_of(c), out); }
static mt_status fused_into(const op_case *c, mt_tensor *out)
{ return mt_matmul_fused_into(op_in(c, 0), op_in(c, 1), op_in(c, 2), activation_of(c), out); }

/* eq=<equation> over all the case's inputs (up to 8) */
enum { EINSUM_CASE_MAX = 8 };
static int einsum_operands(const op_case *c, const mt_tensor **x)
{
    int n = op_n_in(c) < EINSUM_CASE_MAX ? op_n_in(c) : EINSUM_CASE_MAX;
    for (int i = 0; i < n; i++)
        x[i] = op_in(c, i);
    return n;
}
static mt_status einsum_new(const op_case *c, mt_tensor **out)
{
    const mt_tensor *x[EINSUM_CASE_MAX];
    int n = einsum_operands(c, x);
    return mt_einsum(op_str(c, "eq", ""), n, x, out);
}
static mt_status einsum_into(const op_case *c, mt_tensor *out)
{
    const mt_tensor *x[EINSUM_CASE_MAX];
    int n = einsum_operands(c, x);
    return mt_einsum_into(op_str(c, "eq", ""), n, x, out);
}

const op_row op_rows_matmul[] = {
    {"matmul", matmul_new, matmul_into, 1e-5, 1e-5},
    {"matmul_fused", fused_new, fused_into, 1e-5, 1e-5},
    {"einsum", einsum_new, einsum_into, 1e-5, 1e-5},
    {0},
};
