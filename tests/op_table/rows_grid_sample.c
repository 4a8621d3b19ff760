/* rows_grid_sample.c — affine_grid and grid_sample in the op table
 * (cases_grid_sample.py: PyTorch references, NHWC images permuted in and out). */
#include <string.h>

#include "op_table.h"

/* ---- affine_grid ------------------------------------------------------------------- */

static mt_status affine_grid_new(const op_case *c, mt_tensor **out)
{
    return mt_affine_grid(op_in(c, 0), op_int(c, "h", 0), op_int(c, "w", 0),
                          op_int(c, "align_corners", 0) != 0, out);
}

static mt_status affine_grid_into(const op_case *c, mt_tensor *out)
{
    return mt_affine_grid_into(op_in(c, 0), op_int(c, "h", 0), op_int(c, "w", 0),
                               op_int(c, "align_corners", 0) != 0, out);
}

/* ---- grid_sample ------------------------------------------------------------------- */

static mt_grid_sample_params sample_params(const op_case *c)
{
    return (mt_grid_sample_params){
        .mode = strcmp(op_str(c, "mode", ""), "nearest") == 0 ? MT_GRID_SAMPLE_MODE_NEAREST
                                                              : MT_GRID_SAMPLE_MODE_BILINEAR,
        .padding = strcmp(op_str(c, "padding", ""), "border") == 0
                       ? MT_GRID_SAMPLE_PADDING_BORDER : MT_GRID_SAMPLE_PADDING_ZEROS,
        .align_corners = op_int(c, "align_corners", 0) != 0,
    };
}

static mt_status grid_sample_new(const op_case *c, mt_tensor **out)
{
    mt_grid_sample_params p = sample_params(c);
    return mt_grid_sample(op_in(c, 0), op_in(c, 1), &p, out);
}

static mt_status grid_sample_into(const op_case *c, mt_tensor *out)
{
    mt_grid_sample_params p = sample_params(c);
    return mt_grid_sample_into(op_in(c, 0), op_in(c, 1), &p, out);
}

const op_row op_rows_grid_sample[] = {
    {"affine_grid", affine_grid_new, affine_grid_into, 1e-6, 1e-5},
    {"grid_sample", grid_sample_new, grid_sample_into, 1e-5, 1e-5},
    {0},
};
