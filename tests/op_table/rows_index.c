/* rows_index.c — index.h's ops and mt_reshape in the op table. */
#include <string.h>

#include "op_table.h"

static int dim_of(const op_case *c) { return (int)op_int(c, "dim", 0); }

static mt_status index_select_new(const op_case *c, mt_tensor **out)
{ return mt_index_select(op_in(c, 0), dim_of(c), op_in(c, 1), out); }
static mt_status index_select_into(const op_case *c, mt_tensor *out)
{ return mt_index_select_into(op_in(c, 0), dim_of(c), op_in(c, 1), out); }

static mt_status embedding_new(const op_case *c, mt_tensor **out)
{ return mt_embedding(op_in(c, 0), op_in(c, 1), out); }
static mt_status embedding_into(const op_case *c, mt_tensor *out)
{ return mt_embedding_into(op_in(c, 0), op_in(c, 1), out); }

static mt_status take_new(const op_case *c, mt_tensor **out)
{ return mt_take_along_dim(op_in(c, 0), op_in(c, 1), dim_of(c), out); }
static mt_status take_into(const op_case *c, mt_tensor *out)
{ return mt_take_along_dim_into(op_in(c, 0), op_in(c, 1), dim_of(c), out); }

/* Every input of the case, in order (concat and stack take them all). */
static int all_inputs(const op_case *c, const mt_tensor **list)
{
    int n = op_n_in(c);
    for (int i = 0; i < n; i++)
        list[i] = op_in(c, i);
    return n;
}

static mt_status concat_new(const op_case *c, mt_tensor **out)
{
    const mt_tensor *list[8];
    int n = all_inputs(c, list);
    return mt_concat(list, n, dim_of(c), out);
}
static mt_status concat_into(const op_case *c, mt_tensor *out)
{
    const mt_tensor *list[8];
    int n = all_inputs(c, list);
    return mt_concat_into(list, n, dim_of(c), out);
}
static mt_status stack_new(const op_case *c, mt_tensor **out)
{
    const mt_tensor *list[8];
    int n = all_inputs(c, list);
    return mt_stack(list, n, dim_of(c), out);
}
static mt_status stack_into(const op_case *c, mt_tensor *out)
{
    const mt_tensor *list[8];
    int n = all_inputs(c, list);
    return mt_stack_into(list, n, dim_of(c), out);
}

static mt_pad_mode mode_of(const op_case *c)
{
    const char *m = op_str(c, "mode", "constant");
    return strcmp(m, "reflect") == 0     ? MT_PAD_REFLECT
           : strcmp(m, "replicate") == 0 ? MT_PAD_REPLICATE
           : strcmp(m, "circular") == 0  ? MT_PAD_CIRCULAR
                                         : MT_PAD_CONSTANT;
}
static mt_status pad_new(const op_case *c, mt_tensor **out)
{
    int64_t pads[2 * MT_MAX_RANK];
    int n = op_ints(c, "pads", pads, 2 * MT_MAX_RANK);
    return mt_pad(op_in(c, 0), n, pads, mode_of(c), (float)op_float(c, "value", 0), out);
}
static mt_status pad_into(const op_case *c, mt_tensor *out)
{
    int64_t pads[2 * MT_MAX_RANK];
    int n = op_ints(c, "pads", pads, 2 * MT_MAX_RANK);
    return mt_pad_into(op_in(c, 0), n, pads, mode_of(c), (float)op_float(c, "value", 0), out);
}

static int dims_of(const op_case *c, int *dims)
{
    int64_t v[MT_MAX_RANK];
    int n = op_ints(c, "dims", v, MT_MAX_RANK);
    for (int i = 0; i < n; i++)
        dims[i] = (int)v[i];
    return n;
}
static mt_status flip_new(const op_case *c, mt_tensor **out)
{
    int dims[MT_MAX_RANK];
    int n = dims_of(c, dims);
    return mt_flip(op_in(c, 0), dims, n, out);
}
static mt_status flip_into(const op_case *c, mt_tensor *out)
{
    int dims[MT_MAX_RANK];
    int n = dims_of(c, dims);
    return mt_flip_into(op_in(c, 0), dims, n, out);
}

static mt_status tril_new(const op_case *c, mt_tensor **out)
{ return mt_tril(op_in(c, 0), op_int(c, "diagonal", 0), out); }
static mt_status tril_into(const op_case *c, mt_tensor *out)
{ return mt_tril_into(op_in(c, 0), op_int(c, "diagonal", 0), out); }
static mt_status triu_new(const op_case *c, mt_tensor **out)
{ return mt_triu(op_in(c, 0), op_int(c, "diagonal", 0), out); }
static mt_status triu_into(const op_case *c, mt_tensor *out)
{ return mt_triu_into(op_in(c, 0), op_int(c, "diagonal", 0), out); }

static mt_status reshape_new(const op_case *c, mt_tensor **out)
{
    int64_t shape[MT_MAX_RANK];
    int n = op_ints(c, "shape", shape, MT_MAX_RANK);
    return mt_reshape(op_in(c, 0), n, shape, out);
}
static mt_status reshape_into(const op_case *c, mt_tensor *out)
{
    int64_t shape[MT_MAX_RANK];
    int n = op_ints(c, "shape", shape, MT_MAX_RANK);
    return mt_reshape_into(op_in(c, 0), n, shape, out);
}

/* torch.roll(x, shifts, dims), or torch.roll(x, shifts) without "dims" */
static mt_status roll_run(const op_case *c, mt_tensor **out_new, mt_tensor *out)
{
    int64_t shifts[MT_MAX_RANK];
    int dims[MT_MAX_RANK];
    int n = op_ints(c, "shifts", shifts, MT_MAX_RANK);
    bool flat = !op_has(c, "dims");
    if (!flat)
        dims_of(c, dims);
    return out_new ? mt_roll(op_in(c, 0), n, shifts, flat ? NULL : dims, out_new)
                   : mt_roll_into(op_in(c, 0), n, shifts, flat ? NULL : dims, out);
}
static mt_status roll_new(const op_case *c, mt_tensor **out) { return roll_run(c, out, NULL); }
static mt_status roll_into(const op_case *c, mt_tensor *out) { return roll_run(c, NULL, out); }

/* All are copies of stored values; the default tolerances are far wider
 * than any difference a wrong element would make. */
const op_row op_rows_index[] = {
    {"index_select", index_select_new, index_select_into, 0, 0},
    {"embedding", embedding_new, embedding_into, 0, 0},
    {"take_along_dim", take_new, take_into, 0, 0},
    {"concat", concat_new, concat_into, 0, 0},
    {"stack", stack_new, stack_into, 0, 0},
    {"pad", pad_new, pad_into, 0, 0},
    {"flip", flip_new, flip_into, 0, 0},
    {"tril", tril_new, tril_into, 0, 0},
    {"triu", triu_new, triu_into, 0, 0},
    {"reshape", reshape_new, reshape_into, 0, 0},
    {"roll", roll_new, roll_into, 0, 0},
    {0},
};
