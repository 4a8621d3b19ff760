/* rows_matmul.c — matmul and its fused epilogue in the op table. */
#include <string.h>

#include "op_table.h"

static mt_status matmul_new(const op_case *c, mt_tensor **out)
{ return mt_matmul(op_in(c, 0), op_in(c, 1), out); }
static mt_status matmul_into(const op_case *c, mt_tensor *out)
{ return mt_matmul_into(op_in(c, 0), op_in(c, 1), out); }

static mt_activation activation_of(const op_case *c)
{
    return strcmp(op_str(c, "act", "none"), "relu") == 0 ? MT_ACTIVATION_RELU
                                                          : MT_ACTIVATION_NONE;
}
static mt_status fused_new(const op_case *c, mt_tensor **out)
{ return mt_matmul_fused(op_in(c, 0), op_in(c, 1), op_in(c, 2), activation_of(c), out); }
static mt_status fused_into(const op_case *c, mt_tensor *out)
{ return mt_matmul_fused_into(op_in(c, 0), op_in(c, 1), op_in(c, 2), activation_of(c), out); }

const op_row op_rows_matmul[] = {
    {"matmul", matmul_new, matmul_into, 1e-5, 1e-5},
    {"matmul_fused", fused_new, fused_into, 1e-5, 1e-5},
    {0},
};
