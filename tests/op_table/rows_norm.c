/* rows_norm.c — norm.h in the op table. Optional weight/bias follow the
 * other inputs when the case has w=1 / b=1. */
#include "op_table.h"

/* weight is input `first` when w=1; bias comes after it (or in its place)
 * when b=1; NULL when absent. */
static const mt_tensor *weight_of(const op_case *c, int first)
{
    return op_int(c, "w", 0) ? op_in(c, first) : NULL;
}
static const mt_tensor *bias_of(const op_case *c, int first)
{
    return op_int(c, "b", 0) ? op_in(c, first + (op_int(c, "w", 0) ? 1 : 0)) : NULL;
}

#define K(c) ((int)op_int((c), "k", 1))
#define EPS(c) ((float)op_float((c), "eps", 1e-5))
#define CH(c) ((int)op_int((c), "channel_dim", 1))

static mt_status layer_norm_new(const op_case *c, mt_tensor **out)
{ return mt_layer_norm(op_in(c, 0), K(c), weight_of(c, 1), bias_of(c, 1), EPS(c), out); }
static mt_status layer_norm_into(const op_case *c, mt_tensor *out)
{ return mt_layer_norm_into(op_in(c, 0), K(c), weight_of(c, 1), bias_of(c, 1), EPS(c), out); }

static mt_status rms_norm_new(const op_case *c, mt_tensor **out)
{ return mt_rms_norm(op_in(c, 0), K(c), weight_of(c, 1), EPS(c), out); }
static mt_status rms_norm_into(const op_case *c, mt_tensor *out)
{ return mt_rms_norm_into(op_in(c, 0), K(c), weight_of(c, 1), EPS(c), out); }

static mt_status batch_norm_new(const op_case *c, mt_tensor **out)
{
    return mt_batch_norm(op_in(c, 0), CH(c), op_in(c, 1), op_in(c, 2), weight_of(c, 3),
                         bias_of(c, 3), EPS(c), out);
}
static mt_status batch_norm_into(const op_case *c, mt_tensor *out)
{
    return mt_batch_norm_into(op_in(c, 0), CH(c), op_in(c, 1), op_in(c, 2), weight_of(c, 3),
                              bias_of(c, 3), EPS(c), out);
}

static mt_status group_norm_new(const op_case *c, mt_tensor **out)
{
    return mt_group_norm(op_in(c, 0), (int)op_int(c, "groups", 1), CH(c), weight_of(c, 1),
                         bias_of(c, 1), EPS(c), out);
}
static mt_status group_norm_into(const op_case *c, mt_tensor *out)
{
    return mt_group_norm_into(op_in(c, 0), (int)op_int(c, "groups", 1), CH(c),
                              weight_of(c, 1), bias_of(c, 1), EPS(c), out);
}

const op_row op_rows_norm[] = {
    {"layer_norm", layer_norm_new, layer_norm_into, 1e-5, 1e-5},
    {"rms_norm", rms_norm_new, rms_norm_into, 1e-5, 1e-5},
    {"batch_norm", batch_norm_new, batch_norm_into, 1e-5, 1e-5},
    {"group_norm", group_norm_new, group_norm_into, 1e-5, 1e-5},
    {0},
};
