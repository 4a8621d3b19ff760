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

/* mode / padding words as F.grid_sample spells them; an unknown word maps
 * to an invalid value, which the op refuses (so a typo cannot pass) */
static mt_grid_sample_params sample_params(const op_case *c)
{
    const char *m = op_str(c, "mode", "bilinear"), *p = op_str(c, "padding", "zeros");
    return (mt_grid_sample_params){
        .mode = strcmp(m, "bilinear") == 0  ? MT_GRID_SAMPLE_MODE_BILINEAR
                : strcmp(m, "nearest") == 0 ? MT_GRID_SAMPLE_MODE_NEAREST
                : strcmp(m, "bicubic") == 0 ? MT_GRID_SAMPLE_MODE_BICUBIC
                                            : (mt_grid_sample_mode)99,
        .padding = strcmp(p, "zeros") == 0        ? MT_GRID_SAMPLE_PADDING_ZEROS
                   : strcmp(p, "border") == 0     ? MT_GRID_SAMPLE_PADDING_BORDER
                   : strcmp(p, "reflection") == 0 ? MT_GRID_SAMPLE_PADDING_REFLECTION
                                                  : (mt_grid_sample_padding)99,
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
