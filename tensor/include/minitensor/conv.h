/* minitensor/conv.h — 2-D convolution and max pooling on NHWC tensors.
 *
 * Inputs are [N, H, W, C] (Keras' channels_last). Kernels come in either
 * framework's layout, used as they are (no copy):
 *   MT_KERNEL_HWIO  Keras     (kh, kw, c_in, c_out)
 *   MT_KERNEL_OIHW  PyTorch   (c_out, c_in, kh, kw)
 * Padding follows Keras exactly:
 *   VALID  out = floor((in - k) / stride) + 1   (0 if in < k)
 *   SAME   out = ceil(in / stride); the total padding
 *          max((out - 1) * stride + k - in, 0) is split with the extra row or
 *          column at the bottom/right.
 * Convolution is im2col + the matmul backends (one GEMM for the batch), with
 * bias and activation fused into the GEMM's epilogue. Its patch buffer is
 * per-thread scratch reused across calls, so steady-state calls allocate
 * nothing.
 */
#ifndef MINITENSOR_CONV_H
#define MINITENSOR_CONV_H

#include "minitensor/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_padding { MT_PADDING_VALID = 0, MT_PADDING_SAME } mt_padding;

typedef enum mt_kernel_layout {
    MT_KERNEL_HWIO = 0, /* Keras:   (kh, kw, c_in, c_out) */
    MT_KERNEL_OIHW      /* PyTorch: (c_out, c_in, kh, kw) */
} mt_kernel_layout;

typedef struct mt_conv2d_params {
    mt_kernel_layout layout;
    int64_t stride_h, stride_w;   /* >= 1 */
    mt_padding padding;
    mt_activation activation;     /* applied after the bias */
} mt_conv2d_params;

/* Output height/width of a window of k over `in` with stride and padding;
 * fails on k < 1, stride < 1 or in < 0. */
mt_status mt_conv_output_size(int64_t in, int64_t k, int64_t stride,
                              mt_padding padding, int64_t *out);

/* act(conv(input, kernel) + bias):
 *   input [N,H,W,Cin] · kernel (layout) -> [N,OH,OW,Cout]; bias [Cout] or NULL.
 * Shape errors name the input, kernel and bias shapes. */
mt_status mt_conv2d(const mt_tensor *input, const mt_tensor *kernel,
                    const mt_tensor *bias, const mt_conv2d_params *params,
                    mt_tensor **out);
mt_status mt_conv2d_into(const mt_tensor *input, const mt_tensor *kernel,
                         const mt_tensor *bias, const mt_conv2d_params *params,
                         mt_tensor *out);

/* Max over pool_h x pool_w windows: [N,H,W,C] -> [N,OH,OW,C]. With SAME
 * padding the padded positions are ignored (never the maximum). */
typedef struct mt_pool2d_params {
    int64_t pool_h, pool_w;       /* >= 1 */
    int64_t stride_h, stride_w;   /* >= 1 (Keras' default: the pool size) */
    mt_padding padding;
} mt_pool2d_params;

mt_status mt_maxpool2d(const mt_tensor *input, const mt_pool2d_params *params,
                       mt_tensor **out);
mt_status mt_maxpool2d_into(const mt_tensor *input,
                            const mt_pool2d_params *params, mt_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
