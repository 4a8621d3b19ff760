/* rows_attention.c — attention.h in the op table: inputs q, k, v and, when
 * the case has mask=1, the mask. */
#include "op_table.h"

static const mt_tensor *mask_of(const op_case *c)
{
    return op_int(c, "mask", 0) ? op_in(c, 3) : NULL;
}

static mt_status sdpa_new(const op_case *c, mt_tensor **out)
{
    return mt_scaled_dot_product_attention(op_in(c, 0), op_in(c, 1), op_in(c, 2), mask_of(c),
                                           op_int(c, "causal", 0) != 0,
                                           (float)op_float(c, "scale", 0.0), out);
}

static mt_status sdpa_into(const op_case *c, mt_tensor *out)
{
    return mt_scaled_dot_product_attention_into(op_in(c, 0), op_in(c, 1), op_in(c, 2),
                                                mask_of(c), op_int(c, "causal", 0) != 0,
                                                (float)op_float(c, "scale", 0.0), out);
}

const op_row op_rows_attention[] = {
    {"scaled_dot_product_attention", sdpa_new, sdpa_into, 1e-5, 1e-4},
    {0},
};
