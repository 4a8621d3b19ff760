/* minitensor/pool.h — 2-D pooling and resizing (NHWC or NCHW).
 *
 * Layouts and padding modes are conv.h's (mt_data_layout, mt_padding).
 * Padded positions never win a max; for an average they count only with
 * count_include_pad (PyTorch's default, not Keras'). With ceil_mode the
 * output length rounds up, as PyTorch's: out = ceil((in + pads - dk) /
 * stride) + 1, less one if the last window would start in the bottom/right
 * padding; a window wider than the padded input by less than a stride
 * still gives one output, over what there is. A window that gives no
 * output is refused (MT_ERR_SHAPE), as PyTorch does. Explicit pads must be
 * at most half the window (pool_h / 2, pool_w / 2, dilation aside), as in
 * PyTorch. Every size computation is overflow-checked.
 */
#ifndef MINITENSOR_POOL_H
#define MINITENSOR_POOL_H

#include <stdbool.h>

#include "minitensor/conv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Zero means the default. The first five fields keep their old order, so
 * {2, 2, 2, 2, MT_PADDING_VALID} still reads as before. */
typedef struct mt_pool2d_params {
    int64_t pool_h, pool_w;         /* >= 1 */
    int64_t stride_h, stride_w;     /* >= 1; 0 means the pool size */
    mt_padding padding;             /* default VALID */
    int64_t pad_top, pad_bottom;    /* >= 0, EXPLICIT only (else must be 0) */
    int64_t pad_left, pad_right;
    int64_t dilation_h, dilation_w; /* max pool only; >= 1, 0 means 1 */
    bool ceil_mode;                 /* default false (floor) */
    bool count_include_pad;         /* avg pool: padded zeros count in the
                                       divisor; default false (Keras) */
    mt_data_layout data_layout;     /* default NHWC */
} mt_pool2d_params;

/* Max over pool windows, torch.nn.functional.max_pool2d / tf.nn.max_pool2d:
 * [N,H,W,C] -> [N,OH,OW,C] (or NCHW). NaN propagates. `out` of _into has
 * the result's shape, any strides, no overlap with the input. */
mt_status mt_max_pool2d(const mt_tensor *input, const mt_pool2d_params *params,
                       mt_tensor **out);
mt_status mt_max_pool2d_into(const mt_tensor *input,
                            const mt_pool2d_params *params, mt_tensor *out);

/* max_pool2d(conv2d(input, kernel, bias, conv), pool) in one pass: [N,H,W,Cin]
 * -> [N,PH,PW,Cout] (or NCHW; pool->data_layout must equal
 * conv->data_layout). When the native kernel runs the conv on its row path
 * (one group, no width dilation, an input whose pixels' channels are
 * contiguous) and every pool window lies inside the conv output with no
 * padding before it, the full-size conv output is never stored; otherwise
 * it goes through a temporary (allocated). `out` of _into has the result's
 * shape, any strides, no overlap with an input. Fails as mt_conv2d and
 * mt_max_pool2d do; on failure out is untouched. */
mt_status mt_conv2d_max_pool2d(const mt_tensor *input, const mt_tensor *kernel,
                              const mt_tensor *bias, const mt_conv2d_params *conv,
                              const mt_pool2d_params *pool, mt_tensor **out);
mt_status mt_conv2d_max_pool2d_into(const mt_tensor *input, const mt_tensor *kernel,
                                   const mt_tensor *bias, const mt_conv2d_params *conv,
                                   const mt_pool2d_params *pool, mt_tensor *out);

/* Mean over pool windows, torch.nn.functional.avg_pool2d (set
 * count_include_pad = true for PyTorch's default) / tf.nn.avg_pool2d:
 * [N,H,W,C] -> [N,OH,OW,C] (or NCHW). Dilation must be 1. */
mt_status mt_avg_pool2d(const mt_tensor *input, const mt_pool2d_params *params,
                        mt_tensor **out);
mt_status mt_avg_pool2d_into(const mt_tensor *input,
                             const mt_pool2d_params *params, mt_tensor *out);

/* torch.nn.functional.adaptive_avg_pool2d: [N,H,W,C] -> [N,out_h,out_w,C]
 * (or NCHW); output (i, j) averages rows floor(i*H/out_h) ..
 * ceil((i+1)*H/out_h) - 1 and likewise columns. out_h, out_w >= 1; H, W >= 1. */
mt_status mt_adaptive_avg_pool2d(const mt_tensor *input, int64_t out_h, int64_t out_w,
                                 mt_data_layout layout, mt_tensor **out);
mt_status mt_adaptive_avg_pool2d_into(const mt_tensor *input, int64_t out_h,
                                      int64_t out_w, mt_data_layout layout,
                                      mt_tensor *out);

/* Mean over H and W: [N,H,W,C] -> [N,C] (Keras' GlobalAveragePooling2D) or,
 * with keepdims, [N,1,1,C] (NHWC) / [N,C,1,1] (NCHW: PyTorch's
 * adaptive_avg_pool2d(x, 1)). H*W == 0 gives NaN, as torch.mean. */
mt_status mt_global_avg_pool2d(const mt_tensor *input, mt_data_layout layout,
                               bool keepdims, mt_tensor **out);
mt_status mt_global_avg_pool2d_into(const mt_tensor *input, mt_data_layout layout,
                                    bool keepdims, mt_tensor *out);

typedef enum mt_interpolate_mode {
    MT_INTERPOLATE_NEAREST = 0, /* PyTorch's 'nearest' (floor(dst * scale)) */
    MT_INTERPOLATE_BILINEAR,
    MT_INTERPOLATE_NEAREST_EXACT, /* PyTorch's 'nearest-exact', TensorFlow's and
                                    Keras' 'nearest' (Resizing): pixel centres,
                                    floor((dst + 0.5) * scale) */
    MT_INTERPOLATE_BICUBIC,      /* PyTorch's 'bicubic' (cubic convolution,
                                    A = -0.75, edge pixels repeated; not
                                    clamped to the input's range) */
    MT_INTERPOLATE_BICUBIC_TF,   /* TensorFlow's tf.image.resize 'bicubic'
                                    (antialias off), which Keras' Resizing
                                    and UpSampling2D 'bicubic' run on the
                                    TensorFlow backend: Keys' cubic A = -0.5
                                    from its 1024-step table, pixel centres,
                                    taps outside the image dropped and the
                                    rest scaled to sum 1; scale in/out */
    MT_INTERPOLATE_AREA,         /* PyTorch's 'area': adaptive_avg_pool2d to
                                    the output size (mt_adaptive_avg_pool2d) */
    MT_INTERPOLATE_AREA_TF       /* TensorFlow's tf.image.resize 'area' (Keras'
                                    Resizing 'area' on the TensorFlow
                                    backend): the mean of the input pixels
                                    each output pixel covers, partly covered
                                    ones by their share; AREA at whole
                                    factors, not elsewhere; scale in/out */
} mt_interpolate_mode;

/* Give either the output size (out_h, out_w >= 1) or the scale factors
 * (scale_h, scale_w > 0: out = floor(in * scale), and the scale itself maps
 * positions, as PyTorch's scale_factor without recompute_scale_factor).
 * Where out == in or out == 2·in, PyTorch 1.13's two nearest kernels
 * differ when a scale is given, and this follows each: for NHWC (its
 * channels-last kernel) and for NCHW of one channel (channels-last
 * contiguous too), nearest copies row i or takes row i/2 whatever the
 * scale (its nearest_idx); for NCHW of more channels the scale is used as
 * given: 2.2 on a width of 3 (out 6) picks floor(i / 2.2), rows
 * 0,0,0,1,1,2, not 0,0,1,1,2,2 (nearest-exact always uses the scale).
 * Bilinear maps an axis that keeps its size to itself whatever the scale
 * (4 rows at scale 1.1), as PyTorch; bicubic resamples it, as PyTorch.
 * Bilinear positions and weights are computed in float with a fused
 * multiply-add, as PyTorch's AVX2/AVX-512 kernels do for float tensors
 * (it decides whether an inf neighbour is weighted or multiplied by 0);
 * with ±inf or NaN inputs PyTorch's NaN/inf pattern can still differ at
 * some edge pixels (9 % of random such cases in bilinear, 3 % in
 * bicubic); finite inputs agree. BICUBIC_TF,
 * AREA_TF and AREA take a scale only for the output size (TensorFlow has
 * no scale; PyTorch's area pools to the size). */
typedef struct mt_interpolate_params {
    mt_interpolate_mode mode;       /* default NEAREST */
    bool align_corners;             /* BILINEAR, BICUBIC only; default false */
    int64_t out_h, out_w;           /* 0: use the scales */
    double scale_h, scale_w;        /* 0: use the sizes */
    mt_data_layout data_layout;     /* default NHWC */
} mt_interpolate_params;

/* torch.nn.functional.interpolate (nearest, nearest-exact, bilinear,
 * bicubic, area) and TensorFlow's bicubic and area resize for 4-D input:
 * [N,H,W,C] -> [N,OH,OW,C] (or NCHW). Fails (MT_ERR_INVALID_ARGUMENT) on
 * NULLs, an unknown mode, align_corners with a mode other than BILINEAR
 * or BICUBIC, sizes and scales both or neither given, an empty axis;
 * MT_ERR_SHAPE on another rank or an out of another shape, MT_ERR_DTYPE
 * on non-F32, MT_ERR_OVERFLOW on an output too large; out untouched then.
 * *out is new, the caller's to free. */
mt_status mt_interpolate(const mt_tensor *input, const mt_interpolate_params *params,
                         mt_tensor **out);
mt_status mt_interpolate_into(const mt_tensor *input,
                              const mt_interpolate_params *params, mt_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
