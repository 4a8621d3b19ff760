/* rows_conv.c — convolutions, pooling and resizing in the op table
 * (cases_conv.py: PyTorch references, NHWC cases permuted in and out). */
#include <string.h>

#include "op_table.h"

static bool is(const op_case *c, const char *key, const char *word)
{
    return strcmp(op_str(c, key, ""), word) == 0;
}

static mt_data_layout layout_of(const op_case *c)
{
    return is(c, "layout", "nchw") ? MT_DATA_LAYOUT_NCHW : MT_DATA_LAYOUT_NHWC;
}

static mt_padding padding_of(const op_case *c)
{
    return is(c, "padding", "same") ? MT_PADDING_SAME
           : is(c, "padding", "explicit") ? MT_PADDING_EXPLICIT : MT_PADDING_VALID;
}

/* "a,b" (or one int for both) into two ints. */
static void pair(const op_case *c, const char *key, int64_t v[2])
{
    int n = op_ints(c, key, v, 2);
    if (n == 1)
        v[1] = v[0];
    if (n < 1)
        v[0] = v[1] = 0;
}

static const mt_tensor *bias_of(const op_case *c)
{
    return op_n_in(c) > 2 ? op_in(c, 2) : NULL;
}

/* ---- conv2d, conv1d ------------------------------------------------------------- */

static mt_conv2d_params conv_params(const op_case *c)
{
    int64_t s[2], d[2], p[4] = {0};
    pair(c, "stride", s);
    pair(c, "dilation", d);
    op_ints(c, "pads", p, 4);
    return (mt_conv2d_params){
        .data_layout = layout_of(c),
        .kernel_layout = is(c, "kernel_layout", "hwio")   ? MT_KERNEL_HWIO
                         : is(c, "kernel_layout", "oihw") ? MT_KERNEL_OIHW
                                                          : MT_KERNEL_AUTO,
        .stride_h = s[0], .stride_w = s[1], .padding = padding_of(c),
        .pad_top = p[0], .pad_bottom = p[1], .pad_left = p[2], .pad_right = p[3],
        .dilation_h = d[0], .dilation_w = d[1], .groups = op_int(c, "groups", 1),
        .activation = is(c, "act", "relu") ? MT_ACTIVATION_RELU : MT_ACTIVATION_NONE,
    };
}

static mt_status conv2d_new(const op_case *c, mt_tensor **out)
{
    mt_conv2d_params p = conv_params(c);
    return mt_conv2d(op_in(c, 0), op_in(c, 1), bias_of(c), &p, out);
}
static mt_status conv2d_into(const op_case *c, mt_tensor *out)
{
    mt_conv2d_params p = conv_params(c);
    return mt_conv2d_into(op_in(c, 0), op_in(c, 1), bias_of(c), &p, out);
}

/* conv1d's one axis is the _w one. */
static mt_conv2d_params conv1d_params(const op_case *c)
{
    int64_t p[2] = {0};
    op_ints(c, "pads", p, 2);
    mt_conv2d_params q = conv_params(c);
    q.stride_h = q.dilation_h = 0;
    q.stride_w = op_int(c, "stride", 1);
    q.dilation_w = op_int(c, "dilation", 1);
    q.pad_top = q.pad_bottom = 0;
    q.pad_left = p[0], q.pad_right = p[1];
    return q;
}

static mt_status conv1d_new(const op_case *c, mt_tensor **out)
{
    mt_conv2d_params p = conv1d_params(c);
    return mt_conv1d(op_in(c, 0), op_in(c, 1), bias_of(c), &p, out);
}
static mt_status conv1d_into(const op_case *c, mt_tensor *out)
{
    mt_conv2d_params p = conv1d_params(c);
    return mt_conv1d_into(op_in(c, 0), op_in(c, 1), bias_of(c), &p, out);
}

/* ---- conv_transpose2d ------------------------------------------------------------ */

static mt_conv_transpose2d_params tconv_params(const op_case *c)
{
    int64_t s[2], d[2], o[2], p[4] = {0};
    pair(c, "stride", s);
    pair(c, "dilation", d);
    pair(c, "output_padding", o);
    op_ints(c, "pads", p, 4);
    return (mt_conv_transpose2d_params){
        .data_layout = layout_of(c), .stride_h = s[0], .stride_w = s[1],
        .pad_top = p[0], .pad_bottom = p[1], .pad_left = p[2], .pad_right = p[3],
        .output_padding_h = o[0], .output_padding_w = o[1],
        .dilation_h = d[0], .dilation_w = d[1], .groups = op_int(c, "groups", 1),
    };
}

static mt_status tconv_new(const op_case *c, mt_tensor **out)
{
    mt_conv_transpose2d_params p = tconv_params(c);
    return mt_conv_transpose2d(op_in(c, 0), op_in(c, 1), bias_of(c), &p, out);
}
static mt_status tconv_into(const op_case *c, mt_tensor *out)
{
    mt_conv_transpose2d_params p = tconv_params(c);
    return mt_conv_transpose2d_into(op_in(c, 0), op_in(c, 1), bias_of(c), &p, out);
}

/* ---- pooling ---------------------------------------------------------------------- */

static mt_pool2d_params pool_params(const op_case *c)
{
    int64_t k[2], s[2], d[2], p[4] = {0};
    pair(c, "pool", k);
    pair(c, "stride", s);
    pair(c, "dilation", d);
    op_ints(c, "pads", p, 4);
    return (mt_pool2d_params){
        .pool_h = k[0], .pool_w = k[1], .stride_h = s[0], .stride_w = s[1],
        .padding = padding_of(c), .pad_top = p[0], .pad_bottom = p[1], .pad_left = p[2],
        .pad_right = p[3], .dilation_h = d[0], .dilation_w = d[1],
        .ceil_mode = op_int(c, "ceil_mode", 0) != 0,
        .count_include_pad = op_int(c, "count_include_pad", 0) != 0,
        .data_layout = layout_of(c),
    };
}

/* conv2d_max_pool2d: the conv's params as conv2d's, the pool's under pool_*. */
static mt_pool2d_params conv_pool_params(const op_case *c)
{
    int64_t k[2], s[2], d[2], p[4] = {0};
    pair(c, "pool", k);
    pair(c, "pool_stride", s);
    pair(c, "pool_dilation", d);
    op_ints(c, "pool_pads", p, 4);
    bool explicit = is(c, "pool_padding", "explicit");
    return (mt_pool2d_params){
        .pool_h = k[0], .pool_w = k[1], .stride_h = s[0], .stride_w = s[1],
        .padding = explicit ? MT_PADDING_EXPLICIT : MT_PADDING_VALID,
        .pad_top = p[0], .pad_bottom = p[1], .pad_left = p[2], .pad_right = p[3],
        .dilation_h = d[0], .dilation_w = d[1], .ceil_mode = op_int(c, "ceil_mode", 0) != 0,
        .data_layout = layout_of(c),
    };
}

static mt_status conv_pool_new(const op_case *c, mt_tensor **out)
{
    mt_conv2d_params p = conv_params(c);
    mt_pool2d_params q = conv_pool_params(c);
    return mt_conv2d_max_pool2d(op_in(c, 0), op_in(c, 1), bias_of(c), &p, &q, out);
}
static mt_status conv_pool_into(const op_case *c, mt_tensor *out)
{
    mt_conv2d_params p = conv_params(c);
    mt_pool2d_params q = conv_pool_params(c);
    return mt_conv2d_max_pool2d_into(op_in(c, 0), op_in(c, 1), bias_of(c), &p, &q, out);
}

static mt_status max_new(const op_case *c, mt_tensor **out)
{
    mt_pool2d_params p = pool_params(c);
    return mt_max_pool2d(op_in(c, 0), &p, out);
}
static mt_status max_into(const op_case *c, mt_tensor *out)
{
    mt_pool2d_params p = pool_params(c);
    return mt_max_pool2d_into(op_in(c, 0), &p, out);
}
static mt_status avg_new(const op_case *c, mt_tensor **out)
{
    mt_pool2d_params p = pool_params(c);
    return mt_avg_pool2d(op_in(c, 0), &p, out);
}
static mt_status avg_into(const op_case *c, mt_tensor *out)
{
    mt_pool2d_params p = pool_params(c);
    return mt_avg_pool2d_into(op_in(c, 0), &p, out);
}

static mt_status adaptive_new(const op_case *c, mt_tensor **out)
{
    int64_t s[2];
    pair(c, "size", s);
    return mt_adaptive_avg_pool2d(op_in(c, 0), s[0], s[1], layout_of(c), out);
}
static mt_status adaptive_into(const op_case *c, mt_tensor *out)
{
    int64_t s[2];
    pair(c, "size", s);
    return mt_adaptive_avg_pool2d_into(op_in(c, 0), s[0], s[1], layout_of(c), out);
}

static mt_status global_new(const op_case *c, mt_tensor **out)
{
    return mt_global_avg_pool2d(op_in(c, 0), layout_of(c), op_int(c, "keepdims", 0) != 0, out);
}
static mt_status global_into(const op_case *c, mt_tensor *out)
{
    return mt_global_avg_pool2d_into(op_in(c, 0), layout_of(c), op_int(c, "keepdims", 0) != 0,
                                     out);
}

/* ---- interpolate ------------------------------------------------------------------ */

static mt_interpolate_params interp_params(const op_case *c)
{
    int64_t s[2];
    pair(c, "size", s);
    return (mt_interpolate_params){
        .mode = is(c, "mode", "bilinear")        ? MT_INTERPOLATE_BILINEAR
                : is(c, "mode", "nearest-exact") ? MT_INTERPOLATE_NEAREST_EXACT
                : is(c, "mode", "bicubic")       ? MT_INTERPOLATE_BICUBIC
                : is(c, "mode", "area")          ? MT_INTERPOLATE_AREA
                                                 : MT_INTERPOLATE_NEAREST,
        .align_corners = op_int(c, "align_corners", 0) != 0,
        .out_h = s[0], .out_w = s[1],
        .scale_h = op_float(c, "scale_h", 0.0), .scale_w = op_float(c, "scale_w", 0.0),
        .data_layout = layout_of(c),
    };
}

static mt_status interp_new(const op_case *c, mt_tensor **out)
{
    mt_interpolate_params p = interp_params(c);
    return mt_interpolate(op_in(c, 0), &p, out);
}
static mt_status interp_into(const op_case *c, mt_tensor *out)
{
    mt_interpolate_params p = interp_params(c);
    return mt_interpolate_into(op_in(c, 0), &p, out);
}

const op_row op_rows_conv[] = {
    {"conv2d", conv2d_new, conv2d_into, 1e-5, 1e-5},
    {"conv1d", conv1d_new, conv1d_into, 1e-5, 1e-5},
    {"conv_transpose2d", tconv_new, tconv_into, 1e-5, 1e-5},
    {"max_pool2d", max_new, max_into, 0, 0},
    {"conv2d_max_pool2d", conv_pool_new, conv_pool_into, 1e-5, 1e-5},
    {"avg_pool2d", avg_new, avg_into, 0, 0},
    {"adaptive_avg_pool2d", adaptive_new, adaptive_into, 0, 0},
    {"global_avg_pool2d", global_new, global_into, 0, 0},
    {"interpolate", interp_new, interp_into, 0, 0},
    {0},
};
