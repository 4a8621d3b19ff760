/* minitensor/conv3d.h — volumetric (3-D) convolution and pooling: PyTorch's
 * conv3d, conv_transpose3d, max_pool3d, avg_pool3d, adaptive_avg_pool3d,
 * adaptive_max_pool3d and Keras' Conv3D, Conv3DTranspose, MaxPooling3D,
 * AveragePooling3D.
 *
 * Data layout: conv.h's mt_data_layout read for five dims. NHWC (the zero
 * default) is channels last [N,D,H,W,C] (Keras' channels_last, what the
 * layers take); NCHW is PyTorch's [N,C,D,H,W], read and written through
 * permuted views (no copy of the input).
 * Kernels (conv.h's mt_kernel_layout, one more spatial dim):
 *   MT_KERNEL_HWIO  Keras DHWIO   (kd, kh, kw, c_in/groups, c_out)
 *   MT_KERNEL_OIHW  PyTorch OIDHW (c_out, c_in/groups, kd, kh, kw)
 *   MT_KERNEL_AUTO  whichever fits the input's channels, groups and the
 *                   bias; when both fit the call fails and asks.
 * Padding per axis as conv.h says (VALID, Keras' SAME with the extra plane,
 * row or column after, EXPLICIT pads). Unlike conv2d, a window larger than
 * the padded input is an error (MT_ERR_SHAPE), as in PyTorch and Keras,
 * not an empty result. Every size is overflow-checked (MT_ERR_OVERFLOW).
 *
 * conv3d is im2col + the matmul backends: patches of a bounded number of
 * output voxels (about 2 MiB, per-thread scratch kept across calls) times
 * the kernel as a [K, Cout] matrix, bias and activation fused into the
 * GEMM. A strided kernel is copied once per call.
 */
#ifndef MINITENSOR_CONV3D_H
#define MINITENSOR_CONV3D_H

#include <stdbool.h>

#include "minitensor/conv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Zero-initialise and set what differs; zero means the default. */
typedef struct mt_conv3d_params {
    mt_data_layout data_layout;     /* default NHWC: [N,D,H,W,C] */
    mt_kernel_layout kernel_layout; /* default AUTO */
    int64_t stride_d, stride_h, stride_w;       /* >= 1; 0 means 1 */
    mt_padding padding;                         /* default VALID */
    int64_t pad_front, pad_back;                /* depth; >= 0, EXPLICIT only */
    int64_t pad_top, pad_bottom;                /* height */
    int64_t pad_left, pad_right;                /* width */
    int64_t dilation_d, dilation_h, dilation_w; /* >= 1; 0 means 1 */
    int64_t groups;             /* divides c_in and c_out; 0 means 1 */
    mt_activation activation;   /* after the bias; default NONE */
} mt_conv3d_params;

/* act(conv3d(input, kernel) + bias), torch.nn.functional.conv3d /
 * tf.nn.conv3d: input [N,D,H,W,Cin] (or [N,Cin,D,H,W]) · kernel
 * (kernel_layout) -> [N,OD,OH,OW,Cout] (or [N,Cout,OD,OH,OW]); bias [Cout]
 * or NULL. Inputs may be any views. `out` of _into has the result's shape
 * (any strides) and does not overlap an input. Errors name the op and the
 * input, kernel and bias shapes; on failure out is untouched. */
mt_status mt_conv3d(const mt_tensor *input, const mt_tensor *kernel,
                    const mt_tensor *bias, const mt_conv3d_params *params,
                    mt_tensor **out);
mt_status mt_conv3d_into(const mt_tensor *input, const mt_tensor *kernel,
                         const mt_tensor *bias, const mt_conv3d_params *params,
                         mt_tensor *out);

/* Zero means the default. Explicit pads are at most half the window per
 * axis (PyTorch's rule). */
typedef struct mt_pool3d_params {
    int64_t pool_d, pool_h, pool_w;             /* >= 1 */
    int64_t stride_d, stride_h, stride_w;       /* >= 1; 0 means the pool size */
    mt_padding padding;                         /* default VALID */
    int64_t pad_front, pad_back;                /* >= 0, EXPLICIT only */
    int64_t pad_top, pad_bottom;
    int64_t pad_left, pad_right;
    int64_t dilation_d, dilation_h, dilation_w; /* max pool only; 0 means 1 */
    bool ceil_mode;           /* PyTorch's ceil_mode (pool.h's rule; not with SAME);
                                 default floor */
    bool count_include_pad;   /* avg: padded zeros count in the divisor
                                 (PyTorch's default, not Keras'); default false */
    mt_data_layout data_layout;   /* default NHWC: [N,D,H,W,C] */
} mt_pool3d_params;

/* Max over pool windows, torch.nn.functional.max_pool3d / Keras'
 * MaxPooling3D: [N,D,H,W,C] -> [N,OD,OH,OW,C] (or NCDHW). Padding never
 * wins; NaN propagates. `out` of _into: the result's shape, any strides,
 * no overlap with the input. */
mt_status mt_max_pool3d(const mt_tensor *input, const mt_pool3d_params *params,
                        mt_tensor **out);
mt_status mt_max_pool3d_into(const mt_tensor *input, const mt_pool3d_params *params,
                             mt_tensor *out);

/* Mean over pool windows, torch.nn.functional.avg_pool3d (set
 * count_include_pad for PyTorch's default) / Keras' AveragePooling3D:
 * [N,D,H,W,C] -> [N,OD,OH,OW,C] (or NCDHW). Dilation must be 1. */
mt_status mt_avg_pool3d(const mt_tensor *input, const mt_pool3d_params *params,
                        mt_tensor **out);
mt_status mt_avg_pool3d_into(const mt_tensor *input, const mt_pool3d_params *params,
                             mt_tensor *out);

/* Transposed 3-D convolution, torch.nn.functional.conv_transpose3d. Zero
 * means the default. */
typedef struct mt_conv_transpose3d_params {
    mt_data_layout data_layout;                 /* default NHWC: [N,D,H,W,C] */
    int64_t stride_d, stride_h, stride_w;       /* >= 1; 0 means 1 */
    int64_t pad_front, pad_back;                /* >= 0: PyTorch's padding=p is */
    int64_t pad_top, pad_bottom;                /* all six = p; default 0 */
    int64_t pad_left, pad_right;
    int64_t output_padding_d, output_padding_h; /* >= 0, each below its axis' */
    int64_t output_padding_w;                   /* stride or dilation; default 0 */
    int64_t dilation_d, dilation_h, dilation_w; /* >= 1; 0 means 1 */
    int64_t groups;             /* divides c_in and c_out; 0 means 1 */
    mt_activation activation;   /* after the bias; default NONE */
} mt_conv_transpose3d_params;

/* act(conv_transpose3d(input, weight) + bias): input [N,D,H,W,Cin] (or
 * [N,Cin,D,H,W]) with weight [Cin, Cout/groups, kd, kh, kw] (PyTorch's
 * layout; a Keras kernel (kd,kh,kw,out,in) permuted {4,3,0,1,2} is one) ->
 * [N,OD,OH,OW,Cout] (or NCDHW), OD = (D - 1)·stride_d - pad_front -
 * pad_back + dilation_d·(kd - 1) + output_padding_d + 1, likewise OH, OW;
 * bias [Cout] or NULL. One GEMM per chunk of input voxels and group (the
 * input times the weight as a [Cin/groups, Cout/groups·taps] matrix), its
 * rows scattered into the output (col2im), the activation in one pass
 * over the finished output; a strided weight or an input
 * whose voxels do not merge into rows is copied once per call. `out` of
 * _into has the result's shape (any strides) and does not overlap an
 * input. Errors (MT_ERR_SHAPE, MT_ERR_INVALID_ARGUMENT, MT_ERR_OVERFLOW)
 * name the op, the shapes and the bad value; on failure out is untouched. */
mt_status mt_conv_transpose3d(const mt_tensor *input, const mt_tensor *weight,
                              const mt_tensor *bias,
                              const mt_conv_transpose3d_params *params, mt_tensor **out);
mt_status mt_conv_transpose3d_into(const mt_tensor *input, const mt_tensor *weight,
                                   const mt_tensor *bias,
                                   const mt_conv_transpose3d_params *params,
                                   mt_tensor *out);

/* torch.nn.functional.adaptive_avg_pool3d / adaptive_max_pool3d:
 * [N,D,H,W,C] -> [N,out_d,out_h,out_w,C] (or NCDHW). Output plane i pools
 * input planes floor(i·D/out_d) .. ceil((i+1)·D/out_d) - 1, likewise rows
 * and columns (windows may overlap or differ in size). out_d, out_h,
 * out_w >= 1 and D, H, W >= 1 (MT_ERR_INVALID_ARGUMENT); the max
 * propagates NaN. `out` of _into: the result's shape, any strides, no
 * overlap with the input. */
mt_status mt_adaptive_avg_pool3d(const mt_tensor *input, int64_t out_d, int64_t out_h,
                                 int64_t out_w, mt_data_layout layout, mt_tensor **out);
mt_status mt_adaptive_avg_pool3d_into(const mt_tensor *input, int64_t out_d, int64_t out_h,
                                      int64_t out_w, mt_data_layout layout, mt_tensor *out);
mt_status mt_adaptive_max_pool3d(const mt_tensor *input, int64_t out_d, int64_t out_h,
                                 int64_t out_w, mt_data_layout layout, mt_tensor **out);
mt_status mt_adaptive_max_pool3d_into(const mt_tensor *input, int64_t out_d, int64_t out_h,
                                      int64_t out_w, mt_data_layout layout, mt_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
