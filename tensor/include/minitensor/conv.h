/* minitensor/conv.h — convolutions (1-D, 2-D, transposed 2-D) in Keras' or
 * PyTorch's conventions.
 *
 * Data layout (mt_data_layout, per call): NHWC [N,H,W,C] (Keras'
 * channels_last, the zero default) or NCHW [N,C,H,W] (PyTorch). The output
 * has the input's layout; NCHW is read and written through strided views,
 * the caller copies nothing. 1-D ops read [N,L,C] / [N,C,L] the same way.
 *
 * Kernels are used as they are (a contiguous kernel is not copied):
 *   MT_KERNEL_HWIO  Keras/TF  (kh, kw, c_in/groups, c_out)
 *   MT_KERNEL_OIHW  PyTorch   (c_out, c_in/groups, kh, kw)
 *   MT_KERNEL_AUTO  (zero default) whichever of the two fits the input's
 *                   channels, groups and the bias; when both fit (e.g. a
 *                   [3,3,3,3] kernel on 3 channels) the call fails and asks
 *                   for params.kernel_layout.
 * Padding:
 *   VALID     no padding: out = floor((in - dk) / stride) + 1,
 *             where dk = dilation * (k - 1) + 1
 *   SAME      Keras/TF: out = ceil(in / stride); the total padding
 *             max((out - 1) * stride + dk - in, 0) is split with the extra
 *             row or column at the bottom/right (PyTorch's padding='same'
 *             for stride 1 is the same split)
 *   EXPLICIT  pad_top/pad_bottom/pad_left/pad_right zeros (PyTorch's
 *             padding=p is all four = p): out = floor((in + pads - dk) /
 *             stride) + 1
 * A kernel larger than the padded input (in + pads < dk, an output size
 * 0) is an error in conv2d, conv1d and conv2d_max_pool2d (MT_ERR_SHAPE
 * naming the axis, the kernel, its dilation, the input's shape and the
 * pads), as PyTorch raises it; mt_conv_output_size still answers 0.
 * Every size computation is overflow-checked (MT_ERR_OVERFLOW).
 *
 * conv2d is im2col + the matmul backends (one GEMM per chunk of images and
 * group), with bias and activation fused into the GEMM's epilogue. Its patch
 * buffer is per-thread scratch reused across calls, so steady-state calls
 * allocate nothing. Pooling and resizing are in pool.h (included here).
 */
#ifndef MINITENSOR_CONV_H
#define MINITENSOR_CONV_H

#include "minitensor/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_padding {
    MT_PADDING_VALID = 0,
    MT_PADDING_SAME,
    MT_PADDING_EXPLICIT
} mt_padding;

typedef enum mt_data_layout {
    MT_DATA_LAYOUT_NHWC = 0, /* [N,H,W,C], 1-D [N,L,C]: Keras channels_last */
    MT_DATA_LAYOUT_NCHW      /* [N,C,H,W], 1-D [N,C,L]: PyTorch */
} mt_data_layout;

typedef enum mt_kernel_layout {
    MT_KERNEL_AUTO = 0, /* HWIO or OIHW, whichever fits; ambiguity fails */
    MT_KERNEL_HWIO,     /* Keras:   (kh, kw, c_in/groups, c_out) */
    MT_KERNEL_OIHW      /* PyTorch: (c_out, c_in/groups, kh, kw) */
} mt_kernel_layout;

/* Zero-initialise and set what differs: (mt_conv2d_params){.stride_h = 2,
 * .stride_w = 2, .padding = MT_PADDING_SAME}. Zero means the default. */
typedef struct mt_conv2d_params {
    mt_data_layout data_layout;     /* default NHWC */
    mt_kernel_layout kernel_layout; /* default AUTO */
    int64_t stride_h, stride_w;     /* >= 1; 0 means 1 */
    mt_padding padding;             /* default VALID */
    int64_t pad_top, pad_bottom;    /* >= 0, EXPLICIT only (else must be 0) */
    int64_t pad_left, pad_right;
    int64_t dilation_h, dilation_w; /* >= 1; 0 means 1 */
    int64_t groups;                 /* divides c_in and c_out; 0 means 1;
                                       depthwise: groups == c_in */
    mt_activation activation;       /* after the bias; default NONE */
    /* (optional) The kernel's Winograd F(2×2, 3×3) transform, kept by the
     * caller (mt_conv2d_winograd_kernel; a frozen Conv2D keeps one). A 3×3
     * unit-stride conv under a 2×2 stride-2 max pool (mt_conv2d_max_pool2d)
     * then runs as Winograd at any batch size, the transform not redone
     * per call. It must be the transform of this call's kernel: only its
     * shape [16, c_in, c_out] is checked. Ignored where Winograd does not
     * apply. */
    const mt_tensor *winograd;
} mt_conv2d_params;

/* Output length of a window of k over `in` with stride (dilation 1) and
 * VALID or SAME padding (see above). Fails, naming the argument, on a NULL
 * out, k < 1, stride < 1, in < 0, EXPLICIT padding (its pads are not
 * arguments here) and when the result does not fit int64_t. */
mt_status mt_conv_output_size(int64_t in, int64_t k, int64_t stride,
                              mt_padding padding, int64_t *out);

/* The Winograd F(2×2, 3×3) transform U = G g Gᵀ of a 3×3 kernel in
 * `layout` (HWIO or OIHW; AUTO is refused, a kernel alone cannot tell):
 * *out is [16, c_in, c_out] F32, U[4i+j][c][o] the transformed taps of
 * input channel c and output channel o (Lavin & Gray 2015). One group
 * only. For mt_conv2d_params.winograd. */
mt_status mt_conv2d_winograd_kernel(const mt_tensor *kernel, mt_kernel_layout layout,
                                    mt_tensor **out);

/* act(conv(input, kernel) + bias), torch.nn.functional.conv2d /
 * tf.nn.conv2d: input [N,H,W,Cin] (or NCHW) · kernel (kernel_layout) ->
 * [N,OH,OW,Cout] (or NCHW); bias [Cout] or NULL. `out` of _into must have
 * the result's shape (any strides) and not overlap an input. Errors name
 * the input, kernel and bias shapes (a kernel larger than the padded input
 * is one: MT_ERR_SHAPE); on failure out is untouched. */
mt_status mt_conv2d(const mt_tensor *input, const mt_tensor *kernel,
                    const mt_tensor *bias, const mt_conv2d_params *params,
                    mt_tensor **out);
mt_status mt_conv2d_into(const mt_tensor *input, const mt_tensor *kernel,
                         const mt_tensor *bias, const mt_conv2d_params *params,
                         mt_tensor *out);

/* 1-D convolution, torch.nn.functional.conv1d: conv2d over H = 1.
 *   input [N,L,Cin] (NHWC) or [N,Cin,L] (NCHW); kernel HWIO (k, Cin/g, Cout)
 *   or OIHW (Cout, Cin/g, k) -> [N,OL,Cout] or [N,Cout,OL].
 * The _w fields of params (stride_w, dilation_w, pad_left, pad_right) give
 * the length axis; the _h fields must be 0 or their defaults. */
mt_status mt_conv1d(const mt_tensor *input, const mt_tensor *kernel,
                    const mt_tensor *bias, const mt_conv2d_params *params,
                    mt_tensor **out);
mt_status mt_conv1d_into(const mt_tensor *input, const mt_tensor *kernel,
                         const mt_tensor *bias, const mt_conv2d_params *params,
                         mt_tensor *out);

/* Transposed convolution, torch.nn.functional.conv_transpose2d. Zero means
 * the default, as for mt_conv2d_params. */
typedef struct mt_conv_transpose2d_params {
    mt_data_layout data_layout;         /* default NHWC */
    int64_t stride_h, stride_w;         /* >= 1; 0 means 1 */
    int64_t pad_top, pad_bottom;        /* >= 0: PyTorch's padding=p is all */
    int64_t pad_left, pad_right;        /* four = p; default 0 */
    int64_t output_padding_h;           /* >= 0, < stride or dilation; */
    int64_t output_padding_w;           /* default 0 */
    int64_t dilation_h, dilation_w;     /* >= 1; 0 means 1 */
    int64_t groups;                     /* divides c_in and c_out; 0 means 1 */
    mt_activation activation;           /* after the bias; default NONE */
} mt_conv_transpose2d_params;

/* input [N,H,W,Cin] (or NCHW) with weight [Cin, Cout/groups, kh, kw]
 * (PyTorch's layout) -> [N,OH,OW,Cout] (or NCHW), OH = (H - 1) * stride_h -
 * pad_top - pad_bottom + dilation_h * (kh - 1) + output_padding_h + 1;
 * bias [Cout] or NULL, then the activation. A direct loop (each output
 * element summed once, each row activated once done). Same failure rules
 * as mt_conv2d. */
mt_status mt_conv_transpose2d(const mt_tensor *input, const mt_tensor *weight,
                              const mt_tensor *bias,
                              const mt_conv_transpose2d_params *params,
                              mt_tensor **out);
mt_status mt_conv_transpose2d_into(const mt_tensor *input, const mt_tensor *weight,
                                   const mt_tensor *bias,
                                   const mt_conv_transpose2d_params *params,
                                   mt_tensor *out);

#ifdef __cplusplus
}
#endif

#include "minitensor/pool.h"

#endif
