/* rows_conv3d.c — conv3d, conv_transpose3d and the 3-D pools in the op table
 * (cases_conv3d.py: PyTorch references, NDHWC cases permuted in and out). */
#include <string.h>

#include "op_table.h"

static bool is(const op_case *c, const char *key, const char *word)
{
    return strcmp(op_str(c, key, ""), word) == 0;
}

static mt_data_layout layout_of(const op_case *c)
{
    return is(c, "layout", "ncdhw") ? MT_DATA_LAYOUT_NCHW : MT_DATA_LAYOUT_NHWC;
}

static mt_padding padding_of(const op_case *c)
{
    return is(c, "padding", "same") ? MT_PADDING_SAME
           : is(c, "padding", "explicit") ? MT_PADDING_EXPLICIT : MT_PADDING_VALID;
}

/* "a,b,c" into three ints (0 where absent). */
static void triple(const op_case *c, const char *key, int64_t v[3])
{
    v[0] = v[1] = v[2] = 0;
    op_ints(c, key, v, 3);
}

/* ---- conv3d ------------------------------------------------------------------------ */

static mt_conv3d_params conv_params(const op_case *c)
{
    int64_t s[3], d[3], p[6] = {0};
    triple(c, "stride", s);
    triple(c, "dilation", d);
    op_ints(c, "pads", p, 6);
    bool explicit_pads = padding_of(c) == MT_PADDING_EXPLICIT;
    return (mt_conv3d_params){
        .data_layout = layout_of(c),
        .kernel_layout = is(c, "kernel_layout", "dhwio") ? MT_KERNEL_HWIO : MT_KERNEL_OIHW,
        .stride_d = s[0], .stride_h = s[1], .stride_w = s[2], .padding = padding_of(c),
        .pad_front = explicit_pads ? p[0] : 0, .pad_back = explicit_pads ? p[1] : 0,
        .pad_top = explicit_pads ? p[2] : 0, .pad_bottom = explicit_pads ? p[3] : 0,
        .pad_left = explicit_pads ? p[4] : 0, .pad_right = explicit_pads ? p[5] : 0,
        .dilation_d = d[0], .dilation_h = d[1], .dilation_w = d[2],
        .groups = op_int(c, "groups", 1),
        .activation = is(c, "act", "relu") ? MT_ACTIVATION_RELU : MT_ACTIVATION_NONE,
    };
}

static const mt_tensor *bias_of(const op_case *c)
{
    return op_n_in(c) > 2 ? op_in(c, 2) : NULL;
}

static mt_status conv3d_new(const op_case *c, mt_tensor **out)
{
    mt_conv3d_params p = conv_params(c);
    return mt_conv3d(op_in(c, 0), op_in(c, 1), bias_of(c), &p, out);
}

static mt_status conv3d_into(const op_case *c, mt_tensor *out)
{
    mt_conv3d_params p = conv_params(c);
    return mt_conv3d_into(op_in(c, 0), op_in(c, 1), bias_of(c), &p, out);
}

/* ---- max_pool3d, avg_pool3d --------------------------------------------------------- */

static mt_pool3d_params pool_params(const op_case *c)
{
    int64_t k[3], s[3], d[3], p[6] = {0};
    triple(c, "pool", k);
    triple(c, "stride", s);
    triple(c, "dilation", d);
    op_ints(c, "pads", p, 6);
    bool explicit_pads = padding_of(c) == MT_PADDING_EXPLICIT;
    return (mt_pool3d_params){
        .pool_d = k[0], .pool_h = k[1], .pool_w = k[2],
        .stride_d = s[0], .stride_h = s[1], .stride_w = s[2], .padding = padding_of(c),
        .pad_front = explicit_pads ? p[0] : 0, .pad_back = explicit_pads ? p[1] : 0,
        .pad_top = explicit_pads ? p[2] : 0, .pad_bottom = explicit_pads ? p[3] : 0,
        .pad_left = explicit_pads ? p[4] : 0, .pad_right = explicit_pads ? p[5] : 0,
        .dilation_d = d[0], .dilation_h = d[1], .dilation_w = d[2],
        .ceil_mode = op_int(c, "ceil_mode", 0) != 0,
        .count_include_pad = op_int(c, "count_include_pad", 0) != 0,
        .data_layout = layout_of(c),
    };
}

static mt_status max_pool3d_new(const op_case *c, mt_tensor **out)
{
    mt_pool3d_params p = pool_params(c);
    return mt_max_pool3d(op_in(c, 0), &p, out);
}

static mt_status max_pool3d_into(const op_case *c, mt_tensor *out)
{
    mt_pool3d_params p = pool_params(c);
    return mt_max_pool3d_into(op_in(c, 0), &p, out);
}

static mt_status avg_pool3d_new(const op_case *c, mt_tensor **out)
{
    mt_pool3d_params p = pool_params(c);
    return mt_avg_pool3d(op_in(c, 0), &p, out);
}

static mt_status avg_pool3d_into(const op_case *c, mt_tensor *out)
{
    mt_pool3d_params p = pool_params(c);
    return mt_avg_pool3d_into(op_in(c, 0), &p, out);
}

/* ---- conv_transpose3d ------------------------------------------------------------------ */

static mt_conv_transpose3d_params tconv_params(const op_case *c)
{
    int64_t s[3], d[3], o[3], p[6] = {0};
    triple(c, "stride", s);
    triple(c, "dilation", d);
    triple(c, "output_padding", o);
    op_ints(c, "pads", p, 6);
    return (mt_conv_transpose3d_params){
        .data_layout = layout_of(c), .stride_d = s[0], .stride_h = s[1], .stride_w = s[2],
        .pad_front = p[0], .pad_back = p[1], .pad_top = p[2], .pad_bottom = p[3],
        .pad_left = p[4], .pad_right = p[5], .output_padding_d = o[0],
        .output_padding_h = o[1], .output_padding_w = o[2], .dilation_d = d[0],
        .dilation_h = d[1], .dilation_w = d[2], .groups = op_int(c, "groups", 1)};
}

static mt_status conv_transpose3d_new(const op_case *c, mt_tensor **out)
{
    mt_conv_transpose3d_params p = tconv_params(c);
    return mt_conv_transpose3d(op_in(c, 0), op_in(c, 1), bias_of(c), &p, out);
}

static mt_status conv_transpose3d_into(const op_case *c, mt_tensor *out)
{
    mt_conv_transpose3d_params p = tconv_params(c);
    return mt_conv_transpose3d_into(op_in(c, 0), op_in(c, 1), bias_of(c), &p, out);
}

/* ---- adaptive_avg_pool3d, adaptive_max_pool3d ------------------------------------------ */

static mt_status adaptive_avg_pool3d_new(const op_case *c, mt_tensor **out)
{
    int64_t z[3];
    triple(c, "size", z);
    return mt_adaptive_avg_pool3d(op_in(c, 0), z[0], z[1], z[2], layout_of(c), out);
}

static mt_status adaptive_avg_pool3d_into(const op_case *c, mt_tensor *out)
{
    int64_t z[3];
    triple(c, "size", z);
    return mt_adaptive_avg_pool3d_into(op_in(c, 0), z[0], z[1], z[2], layout_of(c), out);
}

static mt_status adaptive_max_pool3d_new(const op_case *c, mt_tensor **out)
{
    int64_t z[3];
    triple(c, "size", z);
    return mt_adaptive_max_pool3d(op_in(c, 0), z[0], z[1], z[2], layout_of(c), out);
}

static mt_status adaptive_max_pool3d_into(const op_case *c, mt_tensor *out)
{
    int64_t z[3];
    triple(c, "size", z);
    return mt_adaptive_max_pool3d_into(op_in(c, 0), z[0], z[1], z[2], layout_of(c), out);
}

const op_row op_rows_conv3d[] = {
    {"conv3d", conv3d_new, conv3d_into, 1e-5, 1e-5},
    {"max_pool3d", max_pool3d_new, max_pool3d_into, 0, 0},
    {"avg_pool3d", avg_pool3d_new, avg_pool3d_into, 0, 0},
    {"conv_transpose3d", conv_transpose3d_new, conv_transpose3d_into, 1e-5, 1e-5},
    {"adaptive_avg_pool3d", adaptive_avg_pool3d_new, adaptive_avg_pool3d_into, 0, 0},
    {"adaptive_max_pool3d", adaptive_max_pool3d_new, adaptive_max_pool3d_into, 0, 0},
    {0},
};
