/* minitensor/nn.h — layers and the Sequential container.
 *
 * A model is a list (mt_sequential) or a graph (graph.h) of layers that is
 * checked as it is built and then run on batches without touching the heap.
 * Layers: Linear, Conv1D, Conv2D, ConvTranspose1D, ConvTranspose2D,
 * Conv3D, MaxPool2D, AvgPool2D, MaxPool3D, AvgPool3D,
 * AdaptiveAvgPool2D, GlobalAveragePooling2D, GlobalMaxPooling2D,
 * GlobalAverage/MaxPooling3D, Upsample,
 * BatchNorm, LayerNorm, RMSNorm, GroupNorm, Embedding, Pad,
 * MultiHeadAttention, LSTM, GRU, RNN (rnn.h), ReLU, GELU, tanh, sigmoid,
 * SiLU, LeakyReLU, ELU, Hardswish, Hardsigmoid, ReLU6 (clamp), Softplus,
 * Softmax, PReLU, SELU, CELU, Mish, Softsign, LogSigmoid, Tanhshrink,
 * LogSoftmax, GLU, Scale, Bias, Rescaling, Narrow, ChannelShuffle,
 * PixelShuffle, PixelUnshuffle, MaxPool1D, AvgPool1D,
 * GlobalMax/AveragePooling1D (masked too), padding masks, Flatten, Reshape,
 * Permute, Dropout, Add, Multiply, Concat — and yours (layer.h:
 * the built-in layers use the same interface). Weights by the names
 * PyTorch's state_dict and Keras write: mt_state_dict below.
 *
 *     // Keras: Sequential([Flatten(input_shape=(28,28)),
 *     //                    Dense(128, activation='relu'), Dropout(0.2),
 *     //                    Dense(10)])
 *     mt_sequential *model;
 *     mt_layer *l;
 *     mt_sequential_new(2, (int64_t[]){28, 28}, &model);
 *     mt_flatten_new(1, -1, &l);      mt_sequential_add(model, l);
 *     mt_linear_from_safetensors(st, "d1_w", "d1_b",
 *         &(mt_linear_options){.out_features = 128,
 *                              .act = MT_ACTIVATION_RELU}, &l);
 *                                     mt_sequential_add(model, l);
 *     mt_dropout_new(0.2f, &l);       mt_sequential_add(model, l);
 *     mt_linear_from_safetensors(st, "d2_w", "d2_b",
 *         &(mt_linear_options){.out_features = 10}, &l);
 *                                     mt_sequential_add(model, l);
 *     const mt_tensor *logits;        // [N,10], owned by the model
 *     mt_sequential_forward(model, images, &logits);   // images [N,28,28]
 *     …
 *     mt_sequential_free(model);      // then mt_safetensors_close(st)
 *
 * (Check every status; examples/mnist/model.c is the complete version, and
 * examples/fashion/model.c a CNN: Conv2D, MaxPool2D, Flatten, Dense on NHWC
 * images; docs/building-a-model.md walks through it.)
 *
 * Errors: every constructor validates its arguments and shapes and fails
 * with a message naming the layer, the tensor and the expected and actual
 * shapes ("linear d1_w: weight d1_w [784,100], expected [784,128] (Keras
 * (in,out)) or [128,784] (PyTorch (out,in))"). On failure *out is NULL.
 *
 * WEIGHT LIFETIME. Linear and Conv2D layers do not copy F32 weights: they
 * keep a reference to the tensors they were given (for Linear in PyTorch
 * layout, a transposed view) and free them with the layer, so you may
 * mt_tensor_free() your own references right after construction. The
 * *memory* behind a tensor from a safetensors file belongs to the file: keep
 * the mt_safetensors open until the model that uses it has been freed.
 * Weights of other dtypes (F16, BF16, …), and non-contiguous Conv2D
 * kernels, are converted to contiguous F32 once, at construction, into
 * memory the layer owns.
 *
 * A Sequential keeps state between passes (its workspace): use one model
 * per thread.
 */
#ifndef MINITENSOR_NN_H
#define MINITENSOR_NN_H

#include <stdbool.h>
#include <stdint.h>

#include "minitensor/attention.h"
#include "minitensor/conv.h"
#include "minitensor/conv3d.h"
#include "minitensor/error.h"
#include "minitensor/graph.h"
#include "minitensor/grid_sample.h"
#include "minitensor/index.h"
#include "minitensor/layer.h"
#include "minitensor/ops.h"
#include "minitensor/pool.h"
#include "minitensor/safetensors.h"
#include "minitensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a layer is (mt_layer_info). Models never look at it: they fuse and
 * plan through the vtable (layer.h). MT_LAYER_CUSTOM: made by mt_layer_new. */
typedef enum mt_layer_kind {
    MT_LAYER_LINEAR = 0,
    MT_LAYER_RELU,
    MT_LAYER_FLATTEN,
    MT_LAYER_DROPOUT,
    MT_LAYER_SOFTMAX,
    MT_LAYER_CONV2D,
    MT_LAYER_MAXPOOL2D,
    MT_LAYER_CUSTOM,
    MT_LAYER_ADD,
    MT_LAYER_CONCAT,
    MT_LAYER_BATCH_NORM,
    MT_LAYER_GLOBAL_AVG_POOL2D,
    MT_LAYER_ACTIVATION,
    MT_LAYER_LEAKY_RELU,
    MT_LAYER_LAYER_NORM,
    MT_LAYER_RMS_NORM,
    MT_LAYER_EMBEDDING,
    MT_LAYER_PAD,
    MT_LAYER_MULTIHEAD_ATTENTION,
    MT_LAYER_AVG_POOL2D,
    MT_LAYER_UPSAMPLE,
    MT_LAYER_ELU,
    MT_LAYER_HARDSWISH,
    MT_LAYER_SOFTPLUS,
    MT_LAYER_GROUP_NORM,
    MT_LAYER_CONV_TRANSPOSE2D,
    MT_LAYER_RESHAPE,
    MT_LAYER_PERMUTE,
    MT_LAYER_ADAPTIVE_AVG_POOL2D,
    MT_LAYER_CONV1D,
    MT_LAYER_CLAMP,
    MT_LAYER_HARDSIGMOID,
    MT_LAYER_MULTIPLY,
    MT_LAYER_GLOBAL_MAX_POOL2D,
    MT_LAYER_MASK,           /* padding mask, Masking, masked fill */
    MT_LAYER_GLOBAL_POOL1D,  /* also the first / last step */
    MT_LAYER_LSTM,           /* rnn.h */
    MT_LAYER_GRU,
    MT_LAYER_RNN,
    MT_LAYER_PRELU,
    MT_LAYER_SELU,
    MT_LAYER_CELU,
    MT_LAYER_MISH,
    MT_LAYER_SOFTSIGN,
    MT_LAYER_LOG_SIGMOID,
    MT_LAYER_TANHSHRINK,
    MT_LAYER_LOG_SOFTMAX,
    MT_LAYER_GLU,
    MT_LAYER_NARROW,
    MT_LAYER_CHANNEL_SHUFFLE,
    MT_LAYER_PIXEL_SHUFFLE,
    MT_LAYER_PIXEL_UNSHUFFLE,
    MT_LAYER_MAX_POOL1D,
    MT_LAYER_AVG_POOL1D,
    MT_LAYER_RESCALING,
    MT_LAYER_SCALE,
    MT_LAYER_BIAS,
    MT_LAYER_CONV_TRANSPOSE1D,
    MT_LAYER_SUBTRACT,       /* Keras' merges */
    MT_LAYER_AVERAGE,
    MT_LAYER_MAXIMUM,
    MT_LAYER_MINIMUM,
    MT_LAYER_DOT,
    MT_LAYER_DOT_ATTENTION,  /* Keras' Attention, AdditiveAttention */
    MT_LAYER_ADDITIVE_ATTENTION,
    MT_LAYER_REPEAT_VECTOR,
    MT_LAYER_UNIT_NORM,
    MT_LAYER_HARDSHRINK,     /* activation_shrink.c */
    MT_LAYER_SOFTSHRINK,
    MT_LAYER_THRESHOLD,
    MT_LAYER_SOFTMIN,
    MT_LAYER_SOFTMAX2D,
    MT_LAYER_COSINE_SIMILARITY,   /* distance_layers.c */
    MT_LAYER_PAIRWISE_DISTANCE,
    MT_LAYER_LOCAL_RESPONSE_NORM,
    MT_LAYER_TIME_DISTRIBUTED,
    MT_LAYER_EINSUM_DENSE,
    MT_LAYER_CONV3D,         /* conv3d_layer.c: volumetric layers */
    MT_LAYER_MAX_POOL3D,
    MT_LAYER_AVG_POOL3D,
    MT_LAYER_GLOBAL_AVG_POOL3D,
    MT_LAYER_GLOBAL_MAX_POOL3D,
    MT_LAYER_CONV_TRANSPOSE3D,   /* conv_transpose3d_layer.c */
    MT_LAYER_ADAPTIVE_AVG_POOL3D,
    MT_LAYER_ADAPTIVE_MAX_POOL3D,
    MT_LAYER_AFFINE_GRID,    /* grid_sample_layer.c */
    MT_LAYER_GRID_SAMPLE,
    MT_LAYER_CONV_LSTM,      /* conv_lstm.h */
    MT_LAYER_RNN_OUTPUT,     /* rnn.h: one output of an RNN's MT_RNN_RETURN_ALL */
    MT_LAYER_ROLL,           /* swin_layers.c: the Swin Transformer's */
    MT_LAYER_SHIFTED_WINDOW_ATTENTION,
    MT_LAYER_PATCH_MERGING,
    MT_LAYER_EINSUM          /* einsum_layer.c: torch.einsum of 1 to 8 inputs */
} mt_layer_kind;

/* How a 2-D Linear weight is stored.
 *   MT_LAYOUT_IN_OUT  Keras / TensorFlow Dense kernel: [in, out], y = x·W + b
 *   MT_LAYOUT_OUT_IN  PyTorch nn.Linear weight: [out, in], y = x·Wᵀ + b
 *   MT_LAYOUT_AUTO    decide from the shapes (see mt_linear_new). */
typedef enum mt_weight_layout {
    MT_LAYOUT_AUTO = 0,
    MT_LAYOUT_IN_OUT,
    MT_LAYOUT_OUT_IN
} mt_weight_layout;

/* ---- Linear -----------------------------------------------------------------
 * y = act(x·W + b):  x [..., in] -> y [..., out]  (one fused matmul pass).
 *
 * Options (a zeroed struct, or NULL, means "all defaults"):
 *   in_features   expected input features, or 0 for "whatever W says";
 *   out_features  expected output features (Keras' Dense(units)), or 0;
 *   layout        MT_LAYOUT_AUTO (detect) or the layout the file uses;
 *   act           activation fused into the matmul (Dense(activation=…)).
 *
 * Layout detection: a [A,B] weight is either Keras (in=A, out=B) or
 * PyTorch (out=A, in=B). Each is kept if the bias has `out` entries and
 * in_features / out_features (when given) agree. Exactly one must remain:
 * a square weight, or a bias-less weight with neither feature count given,
 * fails with MT_ERR_SHAPE asking for an explicit layout.
 *
 * weight: 2-D, any storable dtype. bias: 1-D [out], or NULL for none.
 * Both are referenced, not copied, if F32 (see WEIGHT LIFETIME). */
typedef struct mt_linear_options {
    int64_t in_features;
    int64_t out_features;
    mt_weight_layout layout;
    mt_activation act;
} mt_linear_options;

mt_status mt_linear_new(const mt_tensor *weight, const mt_tensor *bias,
                        const mt_linear_options *options, mt_layer **out);

/* The same with the tensors `weight_name` and `bias_name` (NULL: no bias) of
 * an open safetensors file. Fails with MT_ERR_NOT_FOUND naming a missing
 * tensor; shape errors as mt_linear_new. Keep `file` open until the layer
 * (or the model owning it) is freed. */
mt_status mt_linear_from_safetensors(const mt_safetensors *file,
                                     const char *weight_name,
                                     const char *bias_name,
                                     const mt_linear_options *options,
                                     mt_layer **out);

/* ---- Conv2D -------------------------------------------------------------------
 * y = act(conv(x, K) + b):  x [N,H,W,Cin] (NHWC, Keras' channels_last) ->
 * y [N,OH,OW,Cout], computed by mt_conv2d_into (conv.h: im2col and one
 * fused GEMM, Keras' padding rules, cross-correlation as every framework).
 *
 * Options (a zeroed struct, or NULL, means "all defaults"):
 *   layout        MT_KERNEL_HWIO, Keras (kh,kw,in,out): the zero default;
 *                 MT_KERNEL_OIHW, PyTorch (out,in,kh,kw). Either is used as
 *                 stored, without a copy;
 *   in_channels   expected input channels, or 0 for "whatever K says";
 *   out_channels  expected output channels (Keras' filters), or 0;
 *   kernel_h, kernel_w   expected kernel size (Keras' kernel_size), or 0;
 *   stride_h, stride_w   >= 1, or 0 for 1 (Keras' default strides);
 *   padding       MT_PADDING_VALID (the zero default, Keras' default),
 *                 MT_PADDING_SAME (Keras' 'same': at stride 2 the extra row
 *                 goes at the bottom, so it is NOT PyTorch's padding=1), or
 *                 MT_PADDING_EXPLICIT with pad_top, pad_bottom, pad_left,
 *                 pad_right (PyTorch's padding=p: all four = p);
 *   act           activation fused into the GEMM (Conv2D(activation=…));
 *   dilation_h, dilation_w   >= 1, or 0 for 1 (PyTorch's dilation);
 *   groups        divides the input and output channels, or 0 for 1
 *                 (PyTorch's groups; depthwise: groups = in channels). The
 *                 kernel then holds in/groups input channels:
 *                 OIHW [out, in/groups, kh, kw], HWIO [kh, kw, in/groups,
 *                 out]; in_channels means the input's (PyTorch's).
 *
 * kernel: 4-D, any storable dtype, no dim 0. bias: 1-D [out], or NULL.
 * Referenced, not copied, if F32 and contiguous (see WEIGHT LIFETIME).
 * Fails with MT_ERR_SHAPE naming the tensors and the shape it expected:
 * "conv2d conv1_w: kernel conv1_w [3,3,1,16], expected [3,3,1,32] (Keras
 * (kh,kw,in,out))", "conv2d conv1_w: bias conv1_b [16], expected [32] (the
 * out channels of kernel conv1_w [3,3,1,32])"; with MT_ERR_INVALID_ARGUMENT
 * on a bad option. Its input ([N,H,W,Cin], and a kernel that fits H×W) is
 * checked when the layer is added to a Sequential or run. */
typedef struct mt_conv2d_options {
    mt_kernel_layout layout;
    int64_t in_channels, out_channels;
    int64_t kernel_h, kernel_w;
    int64_t stride_h, stride_w;
    mt_padding padding;
    mt_activation act;
    int64_t pad_top, pad_bottom, pad_left, pad_right;   /* EXPLICIT only, >= 0 */
    int64_t dilation_h, dilation_w;
    int64_t groups;
} mt_conv2d_options;

mt_status mt_conv2d_new(const mt_tensor *kernel, const mt_tensor *bias,
                        const mt_conv2d_options *options, mt_layer **out);

/* The same with the tensors `kernel_name` and `bias_name` (NULL: no bias)
 * of an open safetensors file. Fails with MT_ERR_NOT_FOUND naming a missing
 * tensor; shape errors as mt_conv2d_new. Keep `file` open until the layer
 * (or the model owning it) is freed. */
mt_status mt_conv2d_from_safetensors(const mt_safetensors *file,
                                     const char *kernel_name,
                                     const char *bias_name,
                                     const mt_conv2d_options *options,
                                     mt_layer **out);

/* ---- Conv1D -------------------------------------------------------------------------
 * nn.Conv1d / Keras' Conv1D on channels-last sequences (mt_conv1d_into):
 * x [N,L,Cin] -> [N,OL,Cout] (permute PyTorch's [N,C,L] once). options as
 * mt_conv2d_new's with the width fields for the length: kernel_w,
 * stride_w, pad_left/pad_right (EXPLICIT), dilation_w; the _h fields must
 * be 0; layout MT_KERNEL_OIHW reads PyTorch's (out, in/groups, k), HWIO
 * (the zero default) Keras' (k, in/groups, out). kernel 3-D, bias [out] or
 * NULL, referenced if F32. It runs on its own (no fusion). */
mt_status mt_conv1d_new(const mt_tensor *kernel, const mt_tensor *bias,
                        const mt_conv2d_options *options, mt_layer **out);

/* ---- ConvTranspose2D ---------------------------------------------------------------
 * PyTorch's nn.ConvTranspose2d on NHWC activations (mt_conv_transpose2d_into,
 * conv.h): x [N,H,W,Cin] -> [N,OH,OW,Cout], OH = (H - 1)·stride_h - pad_top
 * - pad_bottom + dilation_h·(kh - 1) + output_padding_h + 1. weight
 * [Cin, Cout/groups, kh, kw] as PyTorch stores it, any storable dtype
 * (F32 referenced, others converted once); bias [Cout] or NULL. params as
 * the op's (NULL: all defaults; data_layout must be NHWC); PyTorch's
 * padding=p is all four pads = p; params.activation runs in the op, after
 * the bias, and a model fuses an activation layer after it there too.
 * Fails naming the tensors and shapes. */
mt_status mt_conv_transpose2d_new(const mt_tensor *weight, const mt_tensor *bias,
                                  const mt_conv_transpose2d_params *params, mt_layer **out);

/* ConvTranspose1D: PyTorch's nn.ConvTranspose1d on channels-last sequences
 * [N,L,Cin] -> [N,OL,Cout] (OL as OW above), weight [Cin, Cout/groups, k],
 * bias [Cout] or NULL, held as ConvTranspose2D's. params: the _w fields
 * (stride_w, pad_left = pad_right = PyTorch's padding, output_padding_w,
 * dilation_w), groups and activation; the _h fields 0. */
mt_status mt_conv_transpose1d_new(const mt_tensor *weight, const mt_tensor *bias,
                                  const mt_conv_transpose2d_params *params, mt_layer **out);

/* ---- MaxPool2D -------------------------------------------------------------------
 * The maximum over pool_h × pool_w windows: [N,H,W,C] -> [N,OH,OW,C]
 * (mt_max_pool2d_into, conv.h). Keras' MaxPooling2D(pool_size, strides,
 * padding):
 *   pool_h, pool_w       window, >= 1;
 *   stride_h, stride_w   >= 1, or 0 for the window size (Keras' default);
 *   padding              MT_PADDING_VALID (zero default: a last row/column
 *                        the window does not cover is dropped, as Keras
 *                        does: 11×11 -> 5×5 for 2×2) or MT_PADDING_SAME;
 *   pad_h, pad_w         PyTorch's nn.MaxPool2d(k, s, padding): padded
 *                        rows and columns on each side, at most half the
 *                        window, never the maximum; pads > 0 replace
 *                        `padding` (MaxPool2d(3, 2, 1) is {3, 3, 2, 2,
 *                        .pad_h = 1, .pad_w = 1});
 *   ceil_mode            PyTorch's ceil_mode: the output length rounds up
 *                        (pool.h), with VALID or pads.
 * Fails with MT_ERR_INVALID_ARGUMENT on a bad option (options may not be
 * NULL: the window has no default). */
typedef struct mt_max_pool2d_options {
    int64_t pool_h, pool_w;
    int64_t stride_h, stride_w;
    mt_padding padding;
    int64_t pad_h, pad_w;
    bool ceil_mode;
} mt_max_pool2d_options;

mt_status mt_max_pool2d_new(const mt_max_pool2d_options *options, mt_layer **out);

/* ---- shape and activation layers ------------------------------------------ */

/* max(x, 0), same shape. In a model, a ReLU right after a Linear, a Conv2D
 * or an Add is folded into that layer (into the GEMM's epilogue) and costs
 * nothing. */
mt_status mt_relu_new(mt_layer **out);

/* Any activation of ops.h but NONE, same shape: MT_ACTIVATION_GELU (torch
 * nn.GELU()), _GELU_TANH (nn.GELU(approximate='tanh')), _TANH, _SIGMOID,
 * _SILU; _RELU gives mt_relu_new's layer. Like a ReLU, it runs inside a
 * Linear, Conv2D or Add right before it. Fails on an unknown value. */
mt_status mt_activation_layer_new(mt_activation act, mt_layer **out);

/* x > 0 ? x : slope·x (nn.LeakyReLU(negative_slope)), same shape; slope
 * finite. */
mt_status mt_leaky_relu_new(float slope, mt_layer **out);

/* nn.ELU(alpha): x > 0 ? x : alpha·(exp(x) - 1), alpha finite; nn.Hardswish():
 * x·relu6(x + 3)/6; nn.Softplus() (beta 1, threshold 20): log(1 + exp(x)).
 * Same shape; they run on their own (mt_elu_into, mt_hardswish_into,
 * mt_softplus_into). */
mt_status mt_elu_new(float alpha, mt_layer **out);
mt_status mt_hardswish_new(mt_layer **out);
mt_status mt_softplus_new(mt_layer **out);

/* clamp(x, lo, hi), lo <= hi: nn.ReLU6() is (0, 6), nn.Hardtanh(a, b) is
 * (a, b). nn.Hardsigmoid(): relu6(x + 3) / 6. Same shape, on their own. */
mt_status mt_clamp_new(float lo, float hi, mt_layer **out);
mt_status mt_hardsigmoid_new(mt_layer **out);

/* ---- more activations, learned scales, channel moves, 1-D pooling -----------------
 * Each runs on its own (no fusion); same shape unless said.
 *
 * PReLU: x > 0 ? x : a·x with learned slopes `weight`, broadcast over each
 * sample from its last dim (each dim equal or 1): PyTorch's nn.PReLU()
 * weight [1], nn.PReLU(C) weight [C] (the channels: last in NHWC and
 * [N,L,C]); Keras' PReLU alpha (the sample's shape, 1 on its shared_axes).
 * weight: 1..7 dims, finite, any storable dtype (F32 referenced, others
 * converted once). The input must fit it (checked when added). */
mt_status mt_prelu_new(const mt_tensor *weight, mt_layer **out);

/* Scale: x·weight; Bias: x + weight. weight broadcast as PReLU's (its last
 * dims against the sample's; a leading 1 may stand for the batch), checked
 * and held the same way: ConvNeXt's layer_scale [C,1,1] viewed as [C] on
 * NHWC, a learned position embedding [1, L, D] (ViT's pos_embedding). */
mt_status mt_scale_new(const mt_tensor *weight, mt_layer **out);
mt_status mt_bias_new(const mt_tensor *weight, mt_layer **out);

/* nn.SELU (Keras selu): 1.0507·elu(x, 1.67326); nn.CELU(alpha) (alpha
 * finite, not 0, 1/alpha finite too; any sign): max(0, x) + min(0,
 * alpha·(exp(x/alpha) - 1)); nn.Mish:
 * x·tanh(softplus(x)); nn.Softsign: x/(1 + |x|); nn.LogSigmoid:
 * log(sigmoid(x)); nn.Tanhshrink: x - tanh(x). */
mt_status mt_selu_new(mt_layer **out);
mt_status mt_celu_new(float alpha, mt_layer **out);
mt_status mt_mish_new(mt_layer **out);
mt_status mt_softsign_new(mt_layer **out);
mt_status mt_log_sigmoid_new(mt_layer **out);
mt_status mt_tanhshrink_new(mt_layer **out);

/* nn.LogSoftmax(dim): log(softmax(x)) along dim (negative from the end;
 * not 0, the batch), computed stably. nn.GLU(dim): a·sigmoid(b) where a, b
 * are the first and second halves of dim (even): that dim halves. */
mt_status mt_log_softmax_new(int dim, mt_layer **out);
mt_status mt_glu_new(int dim, mt_layer **out);

/* Keras' Rescaling(scale, offset): x·scale + offset (finite), same shape.
 * (Keras' Normalization is mt_batch_norm_new(p/mean, p/variance, NULL,
 * NULL, &(mt_batch_norm_options){.eps = 1e-14f}, &l).) */
mt_status mt_rescaling_new(float scale, float offset, mt_layer **out);

/* Narrow: entries start .. start+length-1 of `dim` (not 0, the batch;
 * negative from the end), a copy: one piece of torch.chunk / torch.split /
 * x.narrow (ShuffleNet's x.chunk(2, dim=1) on NCHW is two layers on dim -1
 * of NHWC: (-1, 0, C/2) and (-1, C/2, C/2)); Keras' Cropping1D((a, b)) is
 * (1, a, L - a - b). start >= 0, length >= 1, the dim long enough (checked
 * when added). */
mt_status mt_narrow_new(int dim, int64_t start, int64_t length, mt_layer **out);

/* ChannelShuffle (nn.ChannelShuffle(groups), ShuffleNet's channel_shuffle)
 * on channels-last [N, …, C], C a multiple of groups: channel i·(C/groups)
 * + j goes to j·groups + i. A copy. */
mt_status mt_channel_shuffle_new(int64_t groups, mt_layer **out);

/* nn.PixelShuffle(r) on NHWC: [N,H,W,C·r·r] -> [N,H·r,W·r,C] with
 * PyTorch's channel order (channel c·r² + i·r + j of pixel (h, w) goes to
 * channel c of (h·r + i, w·r + j)); nn.PixelUnshuffle(r) the reverse,
 * [N,H·r,W·r,C] -> [N,H,W,C·r·r]. r 1..65536. A copy. */
mt_status mt_pixel_shuffle_new(int64_t upscale_factor, mt_layer **out);
mt_status mt_pixel_unshuffle_new(int64_t downscale_factor, mt_layer **out);

/* MaxPool1D, AvgPool1D on channels-last sequences [N,L,C] -> [N,OL,C]
 * (permute PyTorch's [N,C,L] once): Keras' MaxPooling1D(pool_size,
 * strides, padding) and AveragePooling1D are {.pool, .stride, .padding};
 * PyTorch's nn.MaxPool1d(k, s, p) {.pool = k, .stride = s, .pad = p} and
 * nn.AvgPool1d(k, s, p) the same with .count_include_pad = true. The
 * fields as mt_max_pool2d_options' and mt_avg_pool2d_options' (stride 0:
 * the window; pad at most half the window, > 0 replaces `padding`).
 * options may not be NULL. */
typedef struct mt_pool1d_options {
    int64_t pool, stride;
    mt_padding padding;
    int64_t pad;
    bool ceil_mode;
    bool count_include_pad;   /* avg only */
} mt_pool1d_options;

mt_status mt_max_pool1d_new(const mt_pool1d_options *options, mt_layer **out);
mt_status mt_avg_pool1d_new(const mt_pool1d_options *options, mt_layer **out);

/* GlobalMaxPooling1D, GlobalAveragePooling1D (PyTorch's x.amax(-1),
 * x.mean(-1) on [N,C,L]; AdaptiveMaxPool1d(1) / AdaptiveAvgPool1d(1) +
 * Flatten): mt_global_max_pool1d_new / mt_global_avg_pool1d_new below, with
 * MT_MASK_MODE_NONE. */

/* Merge dims start_dim..end_dim (inclusive, negative from the end) into one,
 * as a view (no copy): Keras' Flatten() and PyTorch's nn.Flatten() are
 * mt_flatten_new(1, -1): [N,28,28] -> [N,784]. */
mt_status mt_flatten_new(int start_dim, int end_dim, mt_layer **out);

/* Keras' TimeDistributed(layer): `layer` (one input, or optional others
 * it is run without: an LSTM, a global pool) on every step of [N,T,…], run
 * once on the N·T steps as a batch [N·T,…] -> [N,T,…']. A layer of two
 * inputs is refused (MT_ERR_UNSUPPORTED).
 * Takes ownership of `layer` (freed on failure too, except a layer that
 * already belongs to a model: refused and left to it). A view layer
 * (Flatten, Reshape) is refused (MT_ERR_UNSUPPORTED): TimeDistributed(
 * Flatten()) is mt_flatten_new(2, -1). A Dropout is returned as it is
 * (*out = layer: the identity at inference). A Dense needs no wrapper
 * (Linear takes any rank: the last dim). */
mt_status mt_time_distributed_new(mt_layer *layer, mt_layer **out);

/* Keras' EinsumDense(equation, activation=act) for a Dense over the
 * input's last dims: the kernel's leading letters end the input, the
 * output is the input's other letters then the kernel's ("abc,cde->abde":
 * [N,b,c] -> [N,b,d,e], kernel [c,d,e]; "abde,def->abf"; "abc,cd->abd";
 * "...b,bc->...c", any rank). bias: the kernel's output dims or a shape
 * that broadcasts to them (Keras' bias_axes "de" is [d,e], "d" [d,1]), or
 * NULL. Kernel and bias referenced if F32 (the kernel copied if it is a
 * view whose dims cannot merge, the bias if it broadcasts). Other equations (transposing, bias_axes over the input's
 * letters): MT_ERR_UNSUPPORTED naming the equation. */
mt_status mt_einsum_dense_new(const mt_tensor *kernel, const mt_tensor *bias,
                              const char *equation, mt_activation act, mt_layer **out);

/* torch.einsum(equation, x, ...) as a graph layer (mt_einsum_into, ops.h),
 * 1 to 8 F32 inputs ("bhqd,bhkd->bhqk" attention scores, "bij->bji",
 * "...ij,...jk", "bi,bij,bj->b"). The batch (dim 0 of each input) must pass
 * through, as a model may run a batch in passes: the ellipsis, or one
 * letter, leading every input and the output and not repeated; else
 * MT_ERR_INVALID_ARGUMENT (9 or more inputs: MT_ERR_UNSUPPORTED). Shapes
 * are checked when added. A pass writes the matmul straight into the
 * node's output; equations that sum a letter only one input has, whose
 * dims cannot be merged as views, or of 3 or more inputs (contracted in
 * pairs) also use temporaries from the allocator (attention's two do
 * not). */
mt_status mt_einsum_new(const char *equation, mt_layer **out);

/* Each sample [N, …] viewed as [N, sample_shape…] (rank 1..MT_MAX_RANK-1
 * dims, one of them may be -1: inferred), no copy: Keras' Reshape(
 * target_shape), PyTorch's x.view(N, …) and nn.Unflatten(1, sizes). The
 * element count must match when the layer is added. */
mt_status mt_reshape_new(int rank, const int64_t *sample_shape, mt_layer **out);

/* The dims of [N, …] (rank dims, the batch included) reordered, a copy:
 * PyTorch's x.permute(perm) with perm[0] = 0, Keras' Permute(dims) is
 * {0, dims…}. {0, 3, 1, 2} turns NHWC activations into NCHW, so that a
 * Flatten after it gives PyTorch's (c, h, w) order. */
mt_status mt_permute_new(int rank, const int *perm, mt_layer **out);

/* Dropout(rate), 0 <= rate < 1: the identity at inference (the input passes
 * through, not copied); the rate is kept for mt_layer_info_get. */
mt_status mt_dropout_new(float rate, mt_layer **out);

/* Softmax along `dim` (negative from the end; -1 for class scores; not 0,
 * the batch: MT_ERR_SHAPE when added), same shape, numerically stable. */
mt_status mt_softmax_new(int dim, mt_layer **out);

/* PyTorch's thresholding activations, elementwise, same shape, F32, with
 * PyTorch 1.13's comparisons (x exactly at ±lambd or at the threshold
 * counts as inside):
 *   nn.Hardshrink(lambd)  x if x > lambd or x < -lambd, else 0 (lambd not
 *                         NaN; a negative one lets everything through);
 *   nn.Softshrink(lambd)  x - lambd if x > lambd, x + lambd if x < -lambd,
 *                         else 0 (lambd finite, >= 0, as PyTorch demands);
 *                         a NaN gives 0, as PyTorch 1.13's CPU kernel;
 *   nn.Threshold(threshold, value)  x if x > threshold, else value
 *                         (threshold not NaN; any value); a NaN stays NaN.
 * nn.Softmin(dim): softmax(-x) along dim (negative from the end; not 0,
 * the batch: MT_ERR_SHAPE when added, as Softmax).
 * nn.Softmax2d(): softmax over the channels at each pixel, [N,H,W,C] ->
 * [N,H,W,C] (NHWC: the last dim; PyTorch's dim -3 of NCHW); rank 4 only.
 * Bad arguments are MT_ERR_INVALID_ARGUMENT; *out is NULL then. */
mt_status mt_hardshrink_new(float lambd, mt_layer **out);
mt_status mt_softshrink_new(float lambd, mt_layer **out);
mt_status mt_threshold_new(float threshold, float value, mt_layer **out);
mt_status mt_softmin_new(int dim, mt_layer **out);
mt_status mt_softmax2d_new(mt_layer **out);

/* Two-input layers (a graph's), F32 inputs of one rank that broadcast
 * (each dim but the batch equal or 1: [N,1,D] against [N,M,D]), as
 * PyTorch 1.13 computes them:
 *   nn.CosineSimilarity(dim, eps): Σ (x1/max(‖x1‖, eps)) · (x2/max(‖x2‖,
 *     eps)) along dim (not the batch; negative from the end), which goes:
 *     [N,D], [N,D] -> [N]; [N,H,W,C] at dim -1 -> [N,H,W] (NCHW's dim 1).
 *     eps finite, >= 0 (PyTorch's default 1e-8).
 *   nn.PairwiseDistance(p, eps, keepdim): ‖x1 - x2 + eps‖_p along the last
 *     dim (eps added to each difference; PyTorch's default 1e-6): [N,D] ->
 *     [N], or [N,1] with keepdim. p any but NaN (torch.norm's: 0 counts the
 *     differences that are not 0, INFINITY the largest |difference|).
 * Shape errors (ranks, dims that do not broadcast) when added to a graph. */
mt_status mt_cosine_similarity_new(int dim, float eps, mt_layer **out);
mt_status mt_pairwise_distance_new(float p, float eps, bool keepdim, mt_layer **out);

/* A spatial transformer (PyTorch's STN tutorial): grid =
 * F.affine_grid(theta, x.size()); F.grid_sample(x, grid) (grid_sample.h).
 * mt_affine_grid_new: theta [N,2,3] (fc_loc's [N,6] through
 * mt_reshape_new(2, {2, 3})) -> grid [N,h,w,2] (h, w: the size of the
 * images to sample, >= 1). mt_grid_sample_new: two inputs, the images
 * [N,H,W,C] (NHWC) and the grid [N,OH,OW,2] -> [N,OH,OW,C]; params NULL
 * for PyTorch's defaults (bilinear, zeros, align_corners=False). Bad
 * options fail here (MT_ERR_INVALID_ARGUMENT), shapes when added to a
 * graph (MT_ERR_SHAPE). */
mt_status mt_affine_grid_new(int64_t h, int64_t w, bool align_corners, mt_layer **out);
mt_status mt_grid_sample_new(const mt_grid_sample_params *params, mt_layer **out);

/* nn.LocalResponseNorm(size, alpha, beta, k) (AlexNet) on channels-last
 * [N, …, C] (3 dims or more): x / (k + alpha/size · Σ x²)^beta, the sum
 * over channels c - size/2 … c + (size-1)/2 that exist. size >= 1; alpha,
 * beta, k finite (PyTorch's defaults 1e-4, 0.75, 1). Same shape. */
mt_status mt_local_response_norm_new(int64_t size, float alpha, float beta, float k,
                                     mt_layer **out);

/* ---- GlobalAveragePooling2D --------------------------------------------------------
 * The mean over H and W: [N,H,W,C] -> [N,C] (Keras' GlobalAveragePooling2D;
 * PyTorch's AdaptiveAvgPool2d(1) + Flatten on NHWC activations). */
mt_status mt_global_avg_pool2d_new(mt_layer **out);

/* GlobalMaxPooling2D: the maximum over H and W, [N,H,W,C] -> [N,C]
 * (Keras' GlobalMaxPooling2D; PyTorch's AdaptiveMaxPool2d(1) + Flatten on
 * NHWC activations). */
mt_status mt_global_max_pool2d_new(mt_layer **out);

/* ---- AdaptiveAvgPool2D ------------------------------------------------------------------
 * nn.AdaptiveAvgPool2d((out_h, out_w)) on NHWC [N,H,W,C] -> [N,out_h,out_w,C]
 * (mt_adaptive_avg_pool2d_into, pool.h); out_h, out_w >= 1. (For (1, 1) and a
 * Flatten, mt_global_avg_pool2d_new gives [N,C] directly.) */
mt_status mt_adaptive_avg_pool2d_new(int64_t out_h, int64_t out_w, mt_layer **out);

/* ---- AvgPool2D, Upsample -------------------------------------------------------------
 * AvgPool2D: the mean over pool_h × pool_w windows of NHWC [N,H,W,C]
 * (mt_avg_pool2d_into, pool.h). PyTorch's nn.AvgPool2d(k, stride, padding)
 * is {.pool_h = k, .pool_w = k, .stride_h = s, .stride_w = s, .pad_h = p,
 * .pad_w = p, .count_include_pad = true}; Keras' AveragePooling2D(k,
 * padding='same') is {k, k, .padding = MT_PADDING_SAME} (count_include_pad
 * false). Stride 0: the window; pads (each side) at most half the window;
 * pads > 0 replace `padding`; ceil_mode as PyTorch's (pool.h). Options may
 * not be NULL. */
typedef struct mt_avg_pool2d_options {
    int64_t pool_h, pool_w;
    int64_t stride_h, stride_w;
    mt_padding padding;
    int64_t pad_h, pad_w;
    bool count_include_pad;
    bool ceil_mode;
} mt_avg_pool2d_options;

mt_status mt_avg_pool2d_new(const mt_avg_pool2d_options *options, mt_layer **out);

/* Upsample: resize NHWC images (mt_interpolate_into, pool.h): nn.Upsample(
 * size or scale_factor, mode 'nearest', 'bilinear' or 'bicubic',
 * align_corners), F.interpolate's 'area', Keras' UpSampling2D(size,
 * interpolation) and Resizing(h, w) ('nearest' there is
 * MT_INTERPOLATE_NEAREST_EXACT, 'bicubic' MT_INTERPOLATE_BICUBIC_TF, 'area'
 * MT_INTERPOLATE_AREA_TF).
 * params: an output size or scales, NHWC (the zero data layout); copied.
 * Fails (MT_ERR_INVALID_ARGUMENT) on NULLs, both or neither of sizes and
 * scales, another layout, an unknown mode, align_corners with a mode
 * other than bilinear or bicubic. */
mt_status mt_upsample_new(const mt_interpolate_params *params, mt_layer **out);

/* ---- BatchNorm (inference) -------------------------------------------------------
 * y = (x - mean) / sqrt(var + eps) * weight + bias per channel, with the
 * running statistics (PyTorch's BatchNorm1d/2d in eval mode, Keras'
 * BatchNormalization at inference). mean, var, weight, bias: 1-D [C]
 * (weight, bias NULL: 1 and 0), any storable dtype, copied into one scale
 * and one shift at construction.
 *   eps          finite, > 0, or 0 for PyTorch's 1e-5 (Keras' default is 1e-3);
 *   channel_dim  the channels' dim: negative from the end, positive from
 *                the front with the batch as 0 (Keras' axis=1), or 0 for
 *                the last (NHWC, and the features of a [N,C] input).
 * Right after a Linear or a Conv2D (channels last) in a frozen model it is
 * folded into their weights when the model plans, and costs nothing;
 * elsewhere, and in a model that is not frozen (whose weights may change:
 * a fold would copy them), it runs alone.
 * Fails with MT_ERR_SHAPE naming the tensors if they are not [C], with
 * MT_ERR_FORMAT naming var and the index if a variance is negative. */
typedef struct mt_batch_norm_options {
    float eps;
    int channel_dim;
} mt_batch_norm_options;

mt_status mt_batch_norm_new(const mt_tensor *mean, const mt_tensor *var,
                            const mt_tensor *weight, const mt_tensor *bias,
                            const mt_batch_norm_options *options, mt_layer **out);

/* ---- LayerNorm, RMSNorm -------------------------------------------------------------
 * Normalise each sample over its last k dims (mt_layer_norm_into,
 * mt_rms_norm_into of norm.h): PyTorch's nn.LayerNorm(shape) and
 * nn.RMSNorm(shape), Keras' LayerNormalization(axis=-1). weight and bias
 * (NULL: none) have the normalized shape, any storable dtype (copied to
 * F32 once).
 *   eps              finite, > 0, or 0 for PyTorch's default (LayerNorm 1e-5;
 *                    RMSNorm float32's epsilon, as eps=None);
 *   normalized_rank  k, or 0 for the weight's rank (1 without weight). */
typedef struct mt_norm_options {
    float eps;
    int normalized_rank;
} mt_norm_options;

mt_status mt_layer_norm_new(const mt_tensor *weight, const mt_tensor *bias,
                            const mt_norm_options *options, mt_layer **out);
mt_status mt_rms_norm_new(const mt_tensor *weight, const mt_norm_options *options,
                          mt_layer **out);

/* GroupNorm: nn.GroupNorm(num_groups, C) on channels-last activations
 * [N,...,C] (NHWC images): each sample's C channels split into num_groups
 * groups of consecutive channels, each normalised over its channels and all
 * other dims (mt_group_norm_into with channel_dim -1), then weight[c],
 * bias[c]. weight, bias: [C] or NULL, any storable dtype, copied to F32.
 * options: eps (finite; 0: PyTorch's 1e-5); normalized_rank must be 0.
 * nn.InstanceNorm2d(C) / InstanceNorm1d(C) (track_running_stats=False) is
 * num_groups = C. */
mt_status mt_group_norm_new(int num_groups, const mt_tensor *weight, const mt_tensor *bias,
                            const mt_norm_options *options, mt_layer **out);

/* ---- Embedding, Pad ---------------------------------------------------------------------
 * Embedding: I32/I64 token ids [*] -> rows of weight [num, dim]: [*, dim]
 * (nn.Embedding; mt_embedding_into). An id out of range fails the pass,
 * naming it. weight: referenced if F32, else converted once. */
mt_status mt_embedding_new(const mt_tensor *weight, mt_layer **out);

/* Pad: torch.nn.functional.pad(x, pads, mode, value) (mt_pad_into): pads
 * holds n_pads/2 (before, after) pairs, the first for the LAST dim. */
mt_status mt_pad_new(int n_pads, const int64_t *pads, mt_pad_mode mode, float value,
                     mt_layer **out);

/* ---- MultiHeadAttention ---------------------------------------------------------------
 * PyTorch's nn.MultiheadAttention(E, num_heads, batch_first=True) at
 * inference: inputs query [N,Lq,E], key [N,Lk,kdim], value [N,Lk,vdim]
 * (three graph inputs), or one input x [N,L,E] for self-attention;
 * output [N,Lq,E]. Weights in PyTorch's (out,in) layout, used as views:
 * either in_proj_weight [3E,E] (packed q, k, v rows) or q_weight [E,E],
 * k_weight [E,kdim], v_weight [E,vdim] (q/k/v_proj_weight); in_proj_bias
 * [3E] or q_bias, k_bias, v_bias [E] each (separate q/k/v Linears, as
 * Hugging Face's BERT), and out_bias [E] may be NULL; out_weight [E,E].
 * Masks: mt_multihead_attention_masks_set below. `causal`: query i
 * sees keys j <= i (bottom-right aligned when Lq != Lk, see attention.h).
 * The projections and heads use the planner's scratch: 2(Lq+Lk)·E floats
 * per sample. */
typedef struct mt_attention_weights {
    const mt_tensor *in_proj_weight, *in_proj_bias;
    const mt_tensor *q_weight, *k_weight, *v_weight;
    const mt_tensor *out_weight, *out_bias;
    const mt_tensor *q_bias, *k_bias, *v_bias;
    const mt_tensor *q_norm_weight, *k_norm_weight;   /* mt_llama_attention_new's only */
} mt_attention_weights;

mt_status mt_multihead_attention_new(const mt_attention_weights *weights,
                                     int64_t num_heads, bool causal, mt_layer **out);

/* ---- masks: padded batches --------------------------------------------------------------
 * A mask is a graph input or node of its own, [N, …] like every input
 * (docs/porting-a-keras-model.md, docs/porting-a-pytorch-model.md). What
 * its entries mean is said where it is used: */
typedef enum mt_mask_mode {
    MT_MASK_MODE_NONE = 0,  /* no such mask */
    MT_MASK_MODE_KEEP,      /* Keras: nonzero (true, 1) = the step takes part, 0 = masked
                               out; any dtype */
    MT_MASK_MODE_IGNORE,    /* PyTorch's bool masks: nonzero (true) = masked out; any dtype */
    MT_MASK_MODE_ADD        /* PyTorch's float masks: added to the attention scores
                               (-inf = masked out); F32, F16, BF16 or F64; attention only */
} mt_mask_mode;

/* The masks a MultiHeadAttention reads, as graph inputs after its query
 * (or query, key, value), in this order, each one whose mode is not NONE:
 *   key_padding    [N, Lk]: PyTorch's key_padding_mask (IGNORE if bool,
 *                  ADD if float), Keras' value mask from an
 *                  Embedding(mask_zero=True) (KEEP);
 *   attn           [N, Lq, Lk] or [N, heads, Lq, Lk]: Keras' attention_mask
 *                  (KEEP); PyTorch's attn_mask (IGNORE if bool, ADD if
 *                  float) — its [Lq, Lk] expanded to [N, Lq, Lk], its
 *                  [N·heads, Lq, Lk] viewed as [N, heads, Lq, Lk];
 *   query_padding  [N, Lq]: Keras' query mask (KEEP; not ADD): a masked
 *                  query row attends to nothing.
 * They are combined (and with `causal`) as both frameworks do: a key takes
 * part only if every mask lets it. A query row left with no key gives zeros
 * before the output projection (attention.h): the output there is the
 * output bias. PyTorch gives NaN there; Keras 3 gives the same as here with
 * dropout > 0, and with dropout 0 the projected mean of all the value rows.
 * Set them before adding the layer to a model (MT_ERR_INVALID_ARGUMENT
 * after, or on a layer that is not a MultiHeadAttention, or a bad mode);
 * masks NULL means none. Wrong mask shapes or dtypes fail when the layer is
 * added, naming the mask. The merged mask takes N·(1 or heads)·Lq·Lk floats
 * of the planner's scratch. */
typedef struct mt_attention_masks {
    mt_mask_mode key_padding, attn, query_padding;
} mt_attention_masks;

mt_status mt_multihead_attention_masks_set(mt_layer *layer, const mt_attention_masks *masks);
/* The masks the layer reads (also once a model owns it). */
mt_status mt_multihead_attention_masks_get(const mt_layer *layer, mt_attention_masks *masks);

/* Keras' Embedding(mask_zero=True) mask, PyTorch's `ids == pad` key padding
 * mask: token ids [N, L] (any integer dtype, any strides) -> BOOL [N, L],
 * true where id != pad_id (mode KEEP) or where id == pad_id (IGNORE). */
mt_status mt_padding_mask_new(int64_t pad_id, mt_mask_mode mode, mt_layer **out);

/* Keras' Masking(mask_value): steps x [N, L, C] (F32) -> BOOL [N, L], true
 * where a feature differs from mask_value (KEEP) or where none does
 * (IGNORE). Keras' Masking also zeroes the masked steps: follow it with
 * mt_masked_fill_new(0, KEEP) on (x, mask). */
mt_status mt_masking_new(float mask_value, mt_mask_mode mode, mt_layer **out);

/* x.masked_fill(mask[..., None], value): inputs x [N, L, …] (F32) and a
 * mask [N, L] (any dtype) -> x with the steps the mask hides (0 for KEEP,
 * nonzero for IGNORE) set to value. PyTorch 1.13's nn.TransformerEncoder
 * in eval mode (its nested-tensor path) gives zeros at the padded steps:
 * mt_masked_fill_new(0, IGNORE) on (h, key_padding_mask) after the last
 * encoder layer. */
mt_status mt_masked_fill_new(float value, mt_mask_mode mode, mt_layer **out);

/* GlobalAveragePooling1D / GlobalMaxPooling1D: x [N, L, C] (F32) -> [N, C]
 * over the steps. mask NONE: one input. KEEP or IGNORE: a second input,
 * the mask [N, L] (any dtype), and only the steps it keeps count — the
 * average divides by their number, as Keras' GlobalAveragePooling1D with a
 * mask and PyTorch's `(x * m).sum(1) / m.sum(1)`; the max is
 * `x.masked_fill(~m, -inf).amax(1)` (Keras' GlobalMaxPooling1D ignores
 * masks: NONE). A sample with no step kept gives zeros (the frameworks:
 * NaN for the average, -inf for the max). */
mt_status mt_global_avg_pool1d_new(mt_mask_mode mask, mt_layer **out);
mt_status mt_global_max_pool1d_new(mt_mask_mode mask, mt_layer **out);

/* One step of each sample: x [N, L, C] (F32) -> [N, C]. mask NONE: the
 * first step h[:, 0] (BERT's [CLS] token), the last h[:, -1]. KEEP or
 * IGNORE: a second input, the mask [N, L], and the first or last step it
 * keeps: the last token of a right-padded batch (GPT-2's sequence
 * classification), the first of a left-padded one. No step kept: zeros. */
mt_status mt_first_step_new(mt_mask_mode mask, mt_layer **out);
mt_status mt_last_step_new(mt_mask_mode mask, mt_layer **out);

/* ---- merging branches -------------------------------------------------------------- */

/* The elementwise sum of its inputs (2 or more, folded left), broadcast as
 * Multiply below: a residual connection (Keras' Add, `x + f(x)` in
 * PyTorch), [N,L,E] + [N,1,E]. A following activation (a ReLU) is applied
 * as it writes, as for all the merges here. */
mt_status mt_add_new(mt_layer **out);

/* The elementwise product of its inputs (2 or more, folded left), broadcast
 * as NumPy does (each dim equal or 1; an input of a lower rank gets dims of
 * 1 after its batch, as Keras' Merge expands it: [N,T,C] · [N,C]): Keras'
 * Multiply, `x * gate` in PyTorch; a squeeze-and-excitation block
 * multiplies [N,H,W,C] by [N,1,1,C] (mt_reshape_new(3, {1, 1, C}) after
 * its Linear). */
mt_status mt_multiply_new(mt_layer **out);

/* Keras' Subtract (2 inputs: a - b), Average (2 or more: their sum / n),
 * Maximum, Minimum (2 or more, elementwise; NaN propagates, as in Keras),
 * broadcast as Multiply -> the broadcast shape. Fail (MT_ERR_SHAPE, DTYPE)
 * when added to a graph if the count, shapes or dtypes (F32 only) do not
 * fit. */
mt_status mt_subtract_new(mt_layer **out);
mt_status mt_average_new(mt_layer **out);
mt_status mt_maximum_new(mt_layer **out);
mt_status mt_minimum_new(mt_layer **out);

/* Keras' Dot(axes=(axis_x, axis_y), normalize): x [N, …], y [N, …] (F32,
 * any views) -> [N, x's other dims…, y's other dims…] (the batch dim once),
 * the sum over x's dim axis_x times y's dim axis_y (equal lengths); [N,1]
 * when both are [N,D]. Axes count the batch as dim 0 (Keras' axes=1 on
 * [N,D]), negative from the end; 0 is refused. normalize: both are first
 * divided by their L2 norm along the axis (at least 1e-7, as Keras): the
 * cosine similarity (norms summed in double: entries past ~1.8e19 still
 * give it, where Keras' F32 sum overflows to a norm of inf and gives 0). */
mt_status mt_dot_new(int axis_x, int axis_y, bool normalize, mt_layer **out);

/* Its inputs (1 or more, one dtype) joined along `dim` (negative from the
 * end; other dims equal): Keras' Concatenate(axis), torch.cat(dim). Dim 0
 * joins batches, [2N,…] from two [N,…]; a graph constant there counts as
 * its N rows (not as torch.cat's one [1,…] row). */
mt_status mt_concat_new(int dim, mt_layer **out);

/* ---- Keras' Attention, AdditiveAttention, RepeatVector, UnitNormalization ---------------- */

/* How Keras' Attention scores a query row q against a key row k. */
typedef enum mt_score_mode {
    MT_SCORE_MODE_DOT = 0,   /* scale · q·k */
    MT_SCORE_MODE_CONCAT     /* concat_weight · Σ tanh(scale · (q + k)) */
} mt_score_mode;

/* The inputs of Attention and AdditiveAttention, as graph inputs in this
 * order: the query [N,Tq,dim] and the value [N,Tv,vdim]; the key
 * [N,Tv,dim] if has_key (else the value is the key, as in Keras); then the
 * value mask [N,Tv] if value_mask is not NONE (Keras' mask from an
 * Embedding(mask_zero=True): KEEP; IGNORE: nonzero = masked out; any
 * dtype), then the query mask [N,Tq] likewise. A masked key's score is
 * lowered by 1e9 as Keras does (a row whose keys are all masked averages
 * every value row); a masked query row is the row times 0, as Keras (zeros;
 * NaN where an inf or NaN reached it). causal: Keras' use_causal_mask
 * (query i sees keys j <= i). score_mode: Attention only.
 * A wrong count, shape or dtype of inputs fails when the layer is added to
 * a graph (MT_ERR_SHAPE, MT_ERR_DTYPE), naming the input. */
typedef struct mt_keras_attention_options {
    bool has_key, causal;
    mt_mask_mode value_mask, query_mask;
    mt_score_mode score_mode;
} mt_keras_attention_options;

/* Keras' Attention (Luong): softmax(scores) · value -> [N,Tq,vdim], the
 * scores as score_mode says; scale and concat_weight are Keras' scale
 * (use_scale=True) and concat_score_weight, 1 when the layer has none
 * (finite). options NULL: two inputs, no mask, DOT. DOT scores are one
 * batched matmul (q · kᵀ, then the scale), softmax(scores) · value another;
 * the model's scratch holds the [N,Tq,Tv] scores, as Keras materialises
 * them. */
mt_status mt_dot_attention_new(float scale, float concat_weight,
                               const mt_keras_attention_options *options, mt_layer **out);

/* Keras' AdditiveAttention (Bahdanau): the score Σ_d scale[d]·tanh(q_d +
 * k_d); scale [dim] (any view, copied) is Keras' scale (use_scale=True, the
 * default), NULL for use_scale=False; score_mode is ignored. */
mt_status mt_additive_attention_new(const mt_tensor *scale,
                                    const mt_keras_attention_options *options,
                                    mt_layer **out);

/* Keras' RepeatVector(n): x [N,D] (F32, any view) -> [N,n,D], each sample's
 * vector n times. n >= 1. */
mt_status mt_repeat_vector_new(int64_t n, mt_layer **out);

/* Keras' UnitNormalization(axis): x [N, …] (F32) divided by its L2 norm
 * over the n_axes dims axes (dim 0 is the batch, which cannot be one;
 * negative from the end; 1 to MT_MAX_RANK-1 distinct dims), at least 1e-12
 * as Keras' (a zero vector stays zeros) -> x's shape. */
mt_status mt_unit_norm_new(int n_axes, const int *axes, mt_layer **out);

/* ---- loading by framework naming ------------------------------------------------------
 * One value per model says where the weights are and which framework wrote
 * them; the loaders below then find each layer's tensors by the layer's
 * name and read them in that framework's layout, with no per-layer flag:
 *
 *   framework  names under prefix p                      layouts
 *   PyTorch    p.weight, p.bias, p.running_mean,         Linear (out,in),
 *              p.running_var (state_dict, e.g. "0.weight", Conv2d OIHW
 *              "conv1.weight", "bn1.running_mean")
 *   Keras      p/kernel, p/bias, p/gamma, p/beta,         Dense (in,out),
 *              p/moving_mean, p/moving_variance           Conv2D HWIO
 *              (the variables' paths, e.g. "dense/kernel";
 *              Keras 2's "dense/kernel:0" are found too)
 *
 * A bias (BatchNorm: weight and bias) missing from the file means none.
 * A PyTorch p.weight stored under weight norm (p.weight_g and p.weight_v,
 * or p.parametrizations.weight.original0/1) is loaded as g·v/‖v‖, the norm
 * over each slice of dim 0 (or over all of v when g is one number).
 * Keep the file open until the model is freed. Every weight is checked to
 * be finite ("linear fc: fc.weight [2,3] holds NaN at flat index 4
 * ([1,1])", MT_ERR_FORMAT) and a float (F32, F16, BF16, F64: integer
 * weights are quantized ones, MT_ERR_DTYPE); a missing tensor is
 * MT_ERR_NOT_FOUND naming it. */
typedef enum mt_framework {
    MT_FRAMEWORK_PYTORCH = 1,
    MT_FRAMEWORK_KERAS
} mt_framework;

typedef struct mt_state_dict {
    const mt_safetensors *file;
    mt_framework framework;
} mt_state_dict;

/* Linear "p": options as mt_linear_new; layout AUTO means the framework's
 * (a square PyTorch weight needs no flag). */
mt_status mt_linear_load(const mt_state_dict *weights, const char *prefix,
                         const mt_linear_options *options, mt_layer **out);

/* Conv2D "p": options as mt_conv2d_new; layout AUTO (the zero default)
 * means the framework's (PyTorch OIHW, Keras HWIO), an explicit layout is
 * used as given (e.g. a PyTorch-named file holding HWIO kernels). */
mt_status mt_conv2d_load(const mt_state_dict *weights, const char *prefix,
                         const mt_conv2d_options *options, mt_layer **out);

/* Keras' DepthwiseConv2D "p": kernel p/kernel (Keras 2: p/depthwise_kernel)
 * [kh, kw, C, m] (depth_multiplier m), bias p/bias [C·m] or none; read as
 * the grouped kernel [kh, kw, 1, C·m] with groups = C (no copy). options as
 * mt_conv2d_new (strides, padding, act) with layout and groups left 0.
 * Keras only (MT_ERR_UNSUPPORTED for PyTorch, whose depthwise conv is
 * mt_conv2d_load with .groups = C, and for a SeparableConv2D's prefix,
 * whose p/bias follows its pointwise step: mt_separable_conv2d_load). */
mt_status mt_depthwise_conv2d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_options *options, mt_layer **out);

/* Keras' SeparableConv2D "p" as two layers to run one after the other:
 * *depthwise from p/depthwise_kernel [kh, kw, C, m] (as
 * mt_depthwise_conv2d_load, without a bias) and *pointwise, a 1×1 Conv2D
 * from p/pointwise_kernel [1, 1, C·m, out] with p/bias [out] (or none).
 * options: strides, padding (VALID or SAME), dilation and kernel_h/w go
 * to the depthwise step, out_channels (filters) and act to the pointwise
 * one; layout and groups 0. Both NULL on failure; two different
 * pointers (MT_ERR_INVALID_ARGUMENT). Keras only. */
mt_status mt_separable_conv2d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_options *options, mt_layer **depthwise,
                                   mt_layer **pointwise);

/* Keras' DepthwiseConv1D "p": kernel p/kernel (Keras 2:
 * p/depthwise_kernel) [k, C, m], bias p/bias [C·m] or none; read as the
 * grouped Conv1D kernel [k, 1, C·m] with groups = C (no copy): [N,L,C] ->
 * [N,OL,C·m]. options as mt_conv1d_new (the _w fields, padding, act) with
 * layout and groups 0. Keras only, as mt_depthwise_conv2d_load. */
mt_status mt_depthwise_conv1d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_options *options, mt_layer **out);

/* Keras' SeparableConv1D "p" as two Conv1D layers to run one after the
 * other, as mt_separable_conv2d_load: *depthwise from p/depthwise_kernel
 * [k, C, m] (no bias), *pointwise from p/pointwise_kernel [1, C·m, out] and
 * p/bias. options: the _w fields, padding (VALID or SAME) to the
 * depthwise step, out_channels and act to the pointwise one. Both NULL on
 * failure. Keras only. */
mt_status mt_separable_conv1d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_options *options, mt_layer **depthwise,
                                   mt_layer **pointwise);

/* BatchNorm "p": options as mt_batch_norm_new; eps 0 means the framework's
 * default (PyTorch 1e-5, Keras 1e-3). A PyTorch file with p.weight but not
 * p.bias, or the reverse, fails (MT_ERR_NOT_FOUND naming both): PyTorch's
 * BatchNorm has both or neither. */
mt_status mt_batch_norm_load(const mt_state_dict *weights, const char *prefix,
                             const mt_batch_norm_options *options, mt_layer **out);

/* LayerNorm "p" (p.weight/p.bias; Keras p/gamma, p/beta): options as
 * mt_layer_norm_new; eps 0: PyTorch 1e-5, Keras 1e-3. One of the two may
 * be missing (Keras' center=False or scale=False), not both: that fails
 * with MT_ERR_NOT_FOUND naming them, since a mistyped prefix looks the
 * same (a norm without weights is mt_layer_norm_new(NULL, NULL, …)). A
 * prefix with running statistics (p.running_mean, p/moving_mean: a
 * BatchNorm's, which this norm would ignore) fails with MT_ERR_UNSUPPORTED;
 * mt_group_norm_load likewise. */
mt_status mt_layer_norm_load(const mt_state_dict *weights, const char *prefix,
                             const mt_norm_options *options, mt_layer **out);

/* RMSNorm "p": PyTorch's nn.RMSNorm p.weight, Keras' RMSNormalization
 * p/scale (required); options as mt_rms_norm_new; eps 0: PyTorch's
 * eps=None (float32's epsilon), Keras' 1e-6. */
mt_status mt_rms_norm_load(const mt_state_dict *weights, const char *prefix,
                           const mt_norm_options *options, mt_layer **out);

/* MultiHeadAttention "p". PyTorch: p.in_proj_weight, p.in_proj_bias (or
 * p.q_proj_weight, p.k_proj_weight, p.v_proj_weight), p.out_proj.weight,
 * p.out_proj.bias (MT_ERR_UNSUPPORTED for p.bias_k / p.bias_v:
 * add_bias_kv=True). Hugging Face's names, found by the q weight's (each
 * .weight (out, in) and .bias if present): p.q_proj, k_proj, v_proj,
 * out_proj (CLIP, BART, Whisper, OPT); p.self.query, self.key, self.value,
 * output.dense (BERT, RoBERTa); p.attention.query, attention.key,
 * attention.value, output.dense (ViT, DeiT); p.q_lin, k_lin, v_lin,
 * out_lin (DistilBERT); GPT-2's p.c_attn.weight [E, 3E] and p.c_proj.weight
 * [E, E] (Conv1D, (in, out): read transposed), p.c_attn.bias,
 * p.c_proj.bias. Keras' MultiHeadAttention(num_heads, key_dim,
 * value_dim, output_shape, use_bias): p/query/kernel [E, H, Dk],
 * p/key/kernel [kdim, H, Dk], p/value/kernel [vdim, H, Dv],
 * p/attention_output/kernel [H, Dv, Eo] and the biases [H, Dk], [H, Dk],
 * [H, Dv], [Eo] if present, used as (in, out) views; output [N, Lq, Eo];
 * scores scaled by 1/sqrt(Dk) as Keras. Keras' GroupQueryAttention
 * (head_dim, num_query_heads = num_heads, num_key_value_heads) stores the
 * same names with Hkv heads in the key and value kernels and biases; read
 * from the key kernel, Hkv must divide H, and query head h attends over
 * key/value head h / (H/Hkv), as its repeat does (no copy: the heads
 * broadcast). `causal` is Keras'
 * use_causal_mask=True: query i sees keys j <= i, also when the query and
 * key lengths differ (PyTorch's layer aligns the last query with the last
 * key there, see attention.h). Keras' attention_mask and an Embedding's
 * mask_zero padding masks: mt_multihead_attention_masks_set. */
mt_status mt_multihead_attention_load(const mt_state_dict *weights, const char *prefix,
                                      int64_t num_heads, bool causal, mt_layer **out);

/* ---- Llama attention: RoPE, grouped-query heads ------------------------------------
 * Hugging Face's LlamaAttention (Mistral's, Qwen2's, SmolLM's) and
 * llama2.c's Attention at inference: causal self-attention of x [N,L,E]
 * -> [N,L,Eo], positions 0..L-1:
 *   q = x·Wqᵀ + bq  [N,L,H,D];  k = x·Wkᵀ + bk,  v = x·Wvᵀ + bv  [N,L,Hkv,D]
 *   q, k RMS-normed if their norm weights are given (Qwen3's, OLMo2's
 *   q_norm, k_norm: see below);
 *   q, k turned by mt_rotary_embedding (attention.h) with options.rope;
 *   query head h attends (causal, scale 1/sqrt(D)) over key/value head
 *   h / (H/Hkv) (HF's repeat_kv: GQA; Hkv = 1 is MQA, Hkv = H plain MHA);
 *   out = heads joined [N,L,H·D]·Woᵀ + bo.
 * weights (mt_attention_weights, PyTorch's (out, in) layout, any views and
 * storable dtypes): q_weight [H·D, E], k_weight and v_weight [Hkv·D, E],
 * out_weight [Eo, H·D]; q_bias, k_bias, v_bias (Qwen2), out_bias may be
 * NULL; in_proj_weight/in_proj_bias must be NULL. D = q_weight's rows / H.
 * q_norm_weight (NULL: none) is [D], an RMSNorm of each head (Qwen3), or
 * [H·D], one over the whole projection (OLMo2); k_norm_weight likewise
 * [D] or [Hkv·D]; both with eps options.qk_norm_eps.
 * options: n_heads H (required); n_kv_heads Hkv, 0 to read it from
 * k_weight (it must divide H); rope: pairing, theta, rotary_dim, scaling
 * (Llama 3.1's and 3.2's rope_scaling; offset must be 0); qk_norm_eps
 * (finite, >= 0; 0 means 1e-6, Qwen3's rms_norm_eps: give the config's);
 * no_rope: turn nothing (rope is not read), for models whose positions are
 * added to the input (GPT-2's learned ones): plain causal self-attention.
 * Fails naming the layer and the tensors whose shapes do not
 * chain. The q, k, v projections and the joined heads take
 * N·L·2(H + Hkv)·D floats of the planner's scratch. A KV-cache step (one
 * token against the past keys) is not this layer's: call the ops, see
 * docs/porting-a-pytorch-model.md. */
typedef struct mt_llama_attention_options {
    int64_t n_heads;
    int64_t n_kv_heads;
    mt_rope_options rope;
    float qk_norm_eps;
    bool no_rope;
} mt_llama_attention_options;

mt_status mt_llama_attention_new(const mt_attention_weights *weights,
                                 const mt_llama_attention_options *options, mt_layer **out);

/* The same from a PyTorch state_dict "p": Hugging Face's p.q_proj.weight,
 * p.k_proj.weight, p.v_proj.weight, p.o_proj.weight (and .bias if
 * present), rope pairing HALF;
 * or Meta's and llama2.c's p.wq.weight, wk,
 * wv, wo, pairing INTERLEAVED — the names decide it (HF's conversion
 * permutes q and k rows for rotate_half), options->rope.pairing is not
 * read; or GPT-NeoX's (Pythia's) p.query_key_value.weight [H·3·D, E]
 * (q, k, v rows of each head in turn, split here into copies) and
 * .bias, p.dense.weight and .bias, pairing HALF (set rope.rotary_dim to
 * rotary_pct·D); or GPT-2's p.c_attn.weight (q, k, v in that order) and
 * p.c_proj.weight (and .bias if present), as Hugging Face's Conv1D
 * ([E, 3E], (in, out): read as transposed views) or nanoGPT's nn.Linear
 * ([3E, E]), c_attn's shape says which, with no RoPE (no_rope is implied:
 * their positions are learned and added to the input). p.q_norm.weight and
 * p.k_norm.weight are read under any naming. MT_ERR_NOT_FOUND naming all
 * four if none of p.q_proj.weight, p.wq.weight, p.query_key_value.weight
 * and p.c_attn.weight is in the file; MT_ERR_UNSUPPORTED for Keras. */
mt_status mt_llama_attention_load(const mt_state_dict *weights, const char *prefix,
                                  const mt_llama_attention_options *options, mt_layer **out);

/* Conv1D "p" (p.weight/p.bias; Keras p/kernel, p/bias): options as
 * mt_conv1d_new; layout AUTO means the framework's. */
mt_status mt_conv1d_load(const mt_state_dict *weights, const char *prefix,
                         const mt_conv2d_options *options, mt_layer **out);

/* ConvTranspose2D "p" by PyTorch's names (p.weight [Cin, Cout/g, kh, kw],
 * p.bias): params as mt_conv_transpose2d_new. PyTorch only
 * (MT_ERR_UNSUPPORTED for Keras: mt_conv2d_transpose_load below). */
mt_status mt_conv_transpose2d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv_transpose2d_params *params,
                                   mt_layer **out);

/* ConvTranspose1D "p" (p.weight [Cin, Cout/g, k], p.bias): params as
 * mt_conv_transpose1d_new. PyTorch only (MT_ERR_UNSUPPORTED for Keras:
 * mt_conv1d_transpose_load below). */
mt_status mt_conv_transpose1d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv_transpose2d_params *params,
                                   mt_layer **out);

/* Keras' Conv2DTranspose "p" by its own arguments: kernel p/kernel
 * [kh, kw, out, in] (read as PyTorch's [in, out, kh, kw] through a view),
 * bias p/bias [out] or none. Options (NULL or zeroed: Keras' defaults):
 *   in_channels, out_channels (filters), kernel_h, kernel_w   expected,
 *                        or 0 for "whatever the kernel says";
 *   stride_h, stride_w   strides, or 0 for 1;
 *   padding              MT_PADDING_VALID (the zero default) or _SAME;
 *   dilation_h, dilation_w   dilation_rate, or 0 for 1;
 *   has_output_padding   false: Keras' output_padding=None (output_padding_h
 *                        and _w must then be 0), the output is
 *                        H·s ('same') or (H-1)·s + max(k, s) ('valid', k
 *                        the dilated kernel); true: output_padding_h/_w
 *                        (each below its stride), the output is
 *                        (H-1)·s + k % 2 + output_padding ('same') or
 *                        (H-1)·s + k + output_padding ('valid').
 *   act                  Keras' activation=, run by the op after the bias.
 * Fails naming the tensors (shapes in Keras' layout) or the bad option.
 * Keras only (MT_ERR_UNSUPPORTED for PyTorch: mt_conv_transpose2d_load). */
typedef struct mt_conv2d_transpose_options {
    int64_t in_channels, out_channels;
    int64_t kernel_h, kernel_w;
    int64_t stride_h, stride_w;
    mt_padding padding;
    int64_t dilation_h, dilation_w;
    bool has_output_padding;
    int64_t output_padding_h, output_padding_w;
    mt_activation act;
} mt_conv2d_transpose_options;

mt_status mt_conv2d_transpose_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_transpose_options *options,
                                   mt_layer **out);

/* Keras' Conv1DTranspose "p": kernel p/kernel [k, out, in] (read as
 * PyTorch's [in, out, k] through a view), bias p/bias [out] or none:
 * [N,L,in] -> [N,OL,out], OL as mt_conv2d_transpose_load's OW. options
 * as mt_conv2d_transpose_load's with the _w fields for the length (the _h
 * ones 0). Keras only (MT_ERR_UNSUPPORTED for PyTorch:
 * mt_conv_transpose1d_load). */
mt_status mt_conv1d_transpose_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_transpose_options *options,
                                   mt_layer **out);

/* Keras' EinsumDense "p": p/kernel, p/bias if present, as
 * mt_einsum_dense_new. Keras only. */
mt_status mt_einsum_dense_load(const mt_state_dict *weights, const char *prefix,
                               const char *equation, mt_activation act, mt_layer **out);

/* GroupNorm "p" (p.weight/p.bias; Keras p/gamma, p/beta): options as
 * mt_group_norm_new; eps 0: PyTorch 1e-5, Keras 1e-3. At least one of
 * the two must be in the file, as for mt_layer_norm_load. */
mt_status mt_group_norm_load(const mt_state_dict *weights, const char *prefix,
                             int num_groups, const mt_norm_options *options,
                             mt_layer **out);

/* Embedding "p" (p.weight; Keras p/embeddings). */
mt_status mt_embedding_load(const mt_state_dict *weights, const char *prefix,
                            mt_layer **out);

/* PReLU "p": PyTorch's p.weight ([1] or [C]), Keras' p/alpha (the sample's
 * shape with 1 on shared_axes); as mt_prelu_new. */
mt_status mt_prelu_load(const mt_state_dict *weights, const char *prefix, mt_layer **out);

/* mt_dot_attention_new and mt_additive_attention_new from Keras' variables
 * under prefix. Attention: with score_mode DOT, prefix/scale (one number,
 * use_scale=True; a layer without it has no variables: use
 * mt_dot_attention_new(1, 1, …)); with CONCAT, prefix/concat_score_weight
 * and prefix/scale if present. A missing one is MT_ERR_NOT_FOUND, a
 * concat_score_weight with DOT MT_ERR_INVALID_ARGUMENT. AdditiveAttention:
 * prefix/scale [dim]. */
mt_status mt_dot_attention_load(const mt_state_dict *weights, const char *prefix,
                                const mt_keras_attention_options *options, mt_layer **out);
mt_status mt_additive_attention_load(const mt_state_dict *weights, const char *prefix,
                                     const mt_keras_attention_options *options,
                                     mt_layer **out);

/* ---- volumetric (3-D) layers ------------------------------------------------------------
 * On channels-last volumes [N,D,H,W,C] (Keras' channels_last; permute
 * PyTorch's [N,C,D,H,W] with {0,2,3,4,1} once), computed by conv3d.h's ops.
 *
 * Conv3D: nn.Conv3d / Keras' Conv3D, y = act(conv3d(x, K) + b) ->
 * [N,OD,OH,OW,Cout]. Options as mt_conv2d_options' with a depth field
 * beside each (a zeroed struct, or NULL, means all defaults): layout
 * MT_KERNEL_HWIO (zero default) reads Keras' (kd,kh,kw,in/groups,out),
 * MT_KERNEL_OIHW PyTorch's (out,in/groups,kd,kh,kw), both used as stored
 * when F32 and contiguous (else converted once); padding VALID, SAME
 * (Keras': the extra plane, row, column after) or EXPLICIT with the six
 * pads (PyTorch's padding=p: all six = p); act fused into the GEMM (in a
 * model, an activation after it is fused too, and in a frozen model a
 * BatchNorm). kernel 5-D, bias [out] or NULL. Fails
 * with MT_ERR_SHAPE naming the kernel, bias and expected sizes, with
 * MT_ERR_INVALID_ARGUMENT on a bad option; the input (5-D, its channels, a
 * kernel that fits the padded volume) is checked when added or run. */
typedef struct mt_conv3d_options {
    mt_kernel_layout layout;
    int64_t in_channels, out_channels;            /* 0: any */
    int64_t kernel_d, kernel_h, kernel_w;         /* 0: any */
    int64_t stride_d, stride_h, stride_w;         /* 0: 1 */
    mt_padding padding;
    mt_activation act;
    int64_t pad_front, pad_back, pad_top, pad_bottom, pad_left, pad_right;  /* EXPLICIT */
    int64_t dilation_d, dilation_h, dilation_w;   /* 0: 1 */
    int64_t groups;                               /* 0: 1 */
} mt_conv3d_options;

mt_status mt_conv3d_new(const mt_tensor *kernel, const mt_tensor *bias,
                        const mt_conv3d_options *options, mt_layer **out);

/* Conv3D "p" by framework naming: PyTorch p.weight (OIDHW) and p.bias,
 * Keras p/kernel (DHWIO) and p/bias (Keras 2's ":0" names too); a missing
 * bias means none. options as mt_conv3d_new's; layout AUTO (zero) means the
 * framework's. Weights must be finite floats (as the other loaders). */
mt_status mt_conv3d_load(const mt_state_dict *weights, const char *prefix,
                         const mt_conv3d_options *options, mt_layer **out);

/* MaxPool3D, AvgPool3D: [N,D,H,W,C] -> [N,OD,OH,OW,C]. Keras'
 * MaxPooling3D(pool_size, strides, padding) / AveragePooling3D are {.pool_*,
 * .stride_*, .padding}; PyTorch's nn.MaxPool3d(k, s, p, dilation,
 * ceil_mode=…) {.pool_* = k, .stride_* = s, .pad_* = p, .dilation_*,
 * .ceil_mode} and nn.AvgPool3d(k, s, p) the same with .count_include_pad =
 * true (PyTorch's default). stride 0: the window; pads (each side) at most
 * half the window, and > 0 replace `padding`; dilation (0: 1) max only;
 * ceil_mode not with SAME alone (refused). options may not be NULL (the
 * window has no default). */
typedef struct mt_pool3d_options {
    int64_t pool_d, pool_h, pool_w;
    int64_t stride_d, stride_h, stride_w;
    mt_padding padding;                   /* VALID or SAME */
    int64_t pad_d, pad_h, pad_w;
    int64_t dilation_d, dilation_h, dilation_w;
    bool ceil_mode;
    bool count_include_pad;
} mt_pool3d_options;

mt_status mt_max_pool3d_new(const mt_pool3d_options *options, mt_layer **out);
mt_status mt_avg_pool3d_new(const mt_pool3d_options *options, mt_layer **out);

/* GlobalAveragePooling3D / GlobalMaxPooling3D: the mean / maximum over D, H
 * and W, [N,D,H,W,C] -> [N,C] (PyTorch's AdaptiveAvgPool3d(1) /
 * AdaptiveMaxPool3d(1) + Flatten). */
mt_status mt_global_avg_pool3d_new(mt_layer **out);
mt_status mt_global_max_pool3d_new(mt_layer **out);

/* ConvTranspose3D: nn.ConvTranspose3d on [N,D,H,W,Cin] -> [N,OD,OH,OW,Cout]
 * (mt_conv_transpose3d_into, conv3d.h: OD = (D - 1)·stride_d - pad_front -
 * pad_back + dilation_d·(kd - 1) + output_padding_d + 1). weight [Cin,
 * Cout/groups, kd, kh, kw] as PyTorch stores it (held contiguous: a strided
 * view or another dtype is copied once), bias [Cout] or NULL. params as the
 * op's (NULL: all defaults; data_layout must be NHWC); PyTorch's padding=p
 * is all six pads = p; params.activation runs in the op, after the bias,
 * and a model fuses an activation layer after it there too. Fails naming
 * the tensors and shapes; the input (5-D, its channels, a non-empty
 * output) is checked when added or run. */
mt_status mt_conv_transpose3d_new(const mt_tensor *weight, const mt_tensor *bias,
                                  const mt_conv_transpose3d_params *params, mt_layer **out);

/* ConvTranspose3D "p" by PyTorch's names (p.weight [Cin, Cout/g, kd, kh,
 * kw] or its weight norm pair, p.bias): params as mt_conv_transpose3d_new.
 * PyTorch only (MT_ERR_UNSUPPORTED for Keras: mt_conv3d_transpose_load). */
mt_status mt_conv_transpose3d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv_transpose3d_params *params, mt_layer **out);

/* Keras' Conv3DTranspose "p": kernel p/kernel [kd, kh, kw, out, in] (read
 * as PyTorch's [in, out, kd, kh, kw] through a view), bias p/bias [out] or
 * none. Options as mt_conv2d_transpose_options' with a depth field beside
 * each (NULL or zeroed: Keras' defaults); per axis the output is D·s
 * ('same') or (D-1)·s + max(k, s) ('valid') without output_padding, else
 * (D-1)·s + k % 2 + output_padding ('same') or (D-1)·s + k +
 * output_padding ('valid'), k the dilated kernel, as Keras 3 computes it.
 * output_padding must be 0 unless has_output_padding. Keras' activation=
 * is `act`, run by the op after the bias. Keras only (MT_ERR_UNSUPPORTED
 * for PyTorch). */
typedef struct mt_conv3d_transpose_options {
    int64_t in_channels, out_channels;        /* 0: any */
    int64_t kernel_d, kernel_h, kernel_w;     /* 0: any */
    int64_t stride_d, stride_h, stride_w;     /* 0: 1 */
    mt_padding padding;                       /* VALID (zero default) or SAME */
    int64_t dilation_d, dilation_h, dilation_w;   /* 0: 1 */
    bool has_output_padding;
    int64_t output_padding_d, output_padding_h, output_padding_w;
    mt_activation act;                        /* Keras' activation=; default NONE */
} mt_conv3d_transpose_options;

mt_status mt_conv3d_transpose_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv3d_transpose_options *options,
                                   mt_layer **out);

/* AdaptiveAvgPool3D / AdaptiveMaxPool3D: nn.AdaptiveAvgPool3d((out_d, out_h,
 * out_w)) / nn.AdaptiveMaxPool3d on [N,D,H,W,C] -> [N,out_d,out_h,out_w,C]
 * (mt_adaptive_avg_pool3d_into, conv3d.h: PyTorch's windows). Sizes >= 1
 * (PyTorch's None, "keep this dim", is the input's size). */
mt_status mt_adaptive_avg_pool3d_new(int64_t out_d, int64_t out_h, int64_t out_w,
                                     mt_layer **out);
mt_status mt_adaptive_max_pool3d_new(int64_t out_d, int64_t out_h, int64_t out_w,
                                     mt_layer **out);

/* ---- Swin Transformer: Roll, ShiftedWindowAttention, PatchMerging -----------------------
 * torchvision 0.14's Swin (swin_t, swin_s, swin_b; V2 below) on
 * channels-last activations [N,H,W,C], as torchvision keeps them.
 * docs/porting-a-pytorch-model.md §3 lists the block; tests/test_nn_swin.c
 * builds the whole model as a graph.
 *
 * Roll: torch.roll(x, shifts, dims) (mt_roll_into, index.h), n (1..64)
 * shifts along dims (negative from the end; not the batch, dim 0; a dim
 * listed twice rolls by the sum). Same shape out, any dtype. */
mt_status mt_roll_new(int n, const int64_t *shifts, const int *dims, mt_layer **out);

/* ShiftedWindowAttention (torchvision.models.swin_transformer): [N,H,W,C]
 * -> [N,H,W,C]. H, W zero-padded to multiples of the window, rolled by
 * -shift, split into windows of wh·ww tokens, per window multi-head
 * self-attention (q scaled by 1/sqrt(C/heads)) plus the relative position
 * bias (and -100 between tokens the roll brought from different regions),
 * the proj Linear, windows put back, rolled by +shift, cropped. A shift
 * along a dim the padded size does not exceed the window in is dropped, as
 * torchvision does. Options: window_h, window_w 1..1024 (torchvision's
 * window_size), 0 <= shift_h < window_h, 0 <= shift_w < window_w
 * (shift_size: 0 in even blocks, window // 2 in odd ones), num_heads
 * dividing C; roll_before_pad: timm's order (its SwinTransformerBlock rolls
 * the unpadded H, W, then pads, and crops before it rolls back), false:
 * torchvision's. The two agree when H and W are multiples of the window
 * (224×224 images). timm also shrinks a window to a stage's resolution
 * where that is smaller (its relative_position_bias_table shows it) and
 * then does not shift: give that window, shift 0. */
typedef struct mt_window_attention_options {
    int64_t window_h, window_w;
    int64_t shift_h, shift_w;
    int64_t num_heads;
    bool roll_before_pad;
} mt_window_attention_options;

/* The layer's tensors by PyTorch's names (any storable float dtype, any
 * views; converted or referenced, not copied when F32): qkv_weight [3C, C],
 * proj_weight [C, C] (nn.Linear's (out, in)), their biases [3C], [C] or
 * NULL, relative_position_bias_table [(2wh-1)·(2ww-1), heads], and
 * relative_position_index (I32 or I64, (wh·ww)² entries, each a row of the
 * table) or NULL for torchvision's. */
typedef struct mt_window_attention_weights {
    const mt_tensor *qkv_weight, *qkv_bias;
    const mt_tensor *proj_weight, *proj_bias;
    const mt_tensor *relative_position_bias_table;
    const mt_tensor *relative_position_index;
} mt_window_attention_weights;

/* ShiftedWindowAttention from w and options (see above). Fails
 * (MT_ERR_SHAPE, MT_ERR_INVALID_ARGUMENT) naming the tensor and its shape
 * if w does not fit options, or an index entry outside the table. */
mt_status mt_shifted_window_attention_new(const mt_window_attention_weights *w,
                                          const mt_window_attention_options *options,
                                          mt_layer **out);

/* ShiftedWindowAttention "p" (a block's p = "features.1.0.attn"):
 * p.qkv.weight, p.qkv.bias, p.proj.weight, p.proj.bias (the biases
 * optional), p.relative_position_bias_table and, if the file has it, the
 * p.relative_position_index buffer. PyTorch only (MT_ERR_UNSUPPORTED for
 * Keras). */
mt_status mt_shifted_window_attention_load(const mt_state_dict *weights, const char *prefix,
                                           const mt_window_attention_options *options,
                                           mt_layer **out);

/* PatchMerging: [N,H,W,C] -> [N,ceil(H/2),ceil(W/2),out]: H, W
 * zero-padded to even, each 2×2 block's pixels concatenated in
 * torchvision's order (h, w) = (0,0), (1,0), (0,1), (1,1) to 4C channels,
 * LayerNorm(4C) with norm_weight, norm_bias ([4C] or NULL), then the
 * bias-free reduction_weight [out, 4C] (PyTorch's (out, in); torchvision:
 * out = 2C). options: eps (0: 1e-5), normalized_rank 0 or 1. */
mt_status mt_patch_merging_new(const mt_tensor *norm_weight, const mt_tensor *norm_bias,
                               const mt_tensor *reduction_weight,
                               const mt_norm_options *options, mt_layer **out);

/* PatchMerging "p": p.norm.weight, p.norm.bias, p.reduction.weight (a
 * p.reduction.bias fails: torchvision's has none). PyTorch only. */
mt_status mt_patch_merging_load(const mt_state_dict *weights, const char *prefix,
                                const mt_norm_options *options, mt_layer **out);

/* Swin V2 (swin_v2_t, swin_v2_s, swin_v2_b): ShiftedWindowAttentionV2 is
 * the layer above with cosine attention (q and k normalised per head, the
 * scores times exp(min(logit_scale, ln 100)) per head instead of
 * 1/sqrt(C/heads)), the k third of qkv_bias taken as zero, and the bias
 * table 16·sigmoid(cpb_mlp(relative_coords_table)) (cpb_mlp: Linear(2,
 * hidden) with bias, ReLU, Linear(hidden, heads) without) indexed as
 * above. Windows >= 2 (torchvision divides by window - 1). */
typedef struct mt_window_attention_v2_weights {
    const mt_tensor *qkv_weight, *qkv_bias;      /* [3C, C], [3C] or NULL */
    const mt_tensor *proj_weight, *proj_bias;    /* [C, C], [C] or NULL */
    const mt_tensor *logit_scale;                /* heads entries ([heads, 1, 1]) */
    const mt_tensor *cpb_mlp0_weight, *cpb_mlp0_bias;   /* [hidden, 2], [hidden] or NULL */
    const mt_tensor *cpb_mlp2_weight;            /* [heads, hidden] */
    const mt_tensor *relative_coords_table;      /* (2wh-1)·(2ww-1)·2 entries, or NULL:
                                                    torchvision's */
    const mt_tensor *relative_position_index;    /* as above, or NULL */
} mt_window_attention_v2_weights;

/* ShiftedWindowAttentionV2 from w and options (as mt_window_attention_options
 * above); the tensors are read once (the bias table is computed here). */
mt_status mt_shifted_window_attention_v2_new(const mt_window_attention_v2_weights *w,
                                             const mt_window_attention_options *options,
                                             mt_layer **out);

/* ShiftedWindowAttentionV2 "p": p.qkv.*, p.proj.*, p.logit_scale,
 * p.cpb_mlp.0.weight, p.cpb_mlp.0.bias, p.cpb_mlp.2.weight, and the buffers
 * p.relative_coords_table, p.relative_position_index if the file has them.
 * PyTorch only. */
mt_status mt_shifted_window_attention_v2_load(const mt_state_dict *weights,
                                              const char *prefix,
                                              const mt_window_attention_options *options,
                                              mt_layer **out);

/* PatchMergingV2: as PatchMerging, but the LayerNorm (norm_weight,
 * norm_bias: [out] or NULL) after the reduction. */
mt_status mt_patch_merging_v2_new(const mt_tensor *norm_weight, const mt_tensor *norm_bias,
                                  const mt_tensor *reduction_weight,
                                  const mt_norm_options *options, mt_layer **out);

/* PatchMergingV2 "p": p.reduction.weight, p.norm.weight, p.norm.bias. */
mt_status mt_patch_merging_v2_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_norm_options *options, mt_layer **out);

/* ---- any layer ---------------------------------------------------------------- */

/* What a layer is. Fields that do not apply to its kind are 0. */
typedef struct mt_layer_info {
    mt_layer_kind kind;
    const char *name;         /* "linear d1_w", "conv2d conv1_w",
                                 "max_pool2d 2x2", "dropout 0.2", "relu" …;
                                 owned by the layer */
    int64_t in_features;      /* linear; embedding: table rows */
    int64_t out_features;     /* linear; embedding: dim */
    mt_weight_layout layout;  /* linear: the layout in use (never AUTO) */
    bool has_bias;            /* linear, conv2d */
    mt_activation act;        /* linear, conv2d: the fused activation it was
                                 built with; activation: which */
    float rate;               /* dropout; leaky relu: the slope; elu: alpha */
    float eps;                /* batch, layer, RMS norm: in use */
    int start_dim, end_dim;   /* flatten, as given */
    int dim;                  /* softmax, concat, batch norm (channels), as given;
                                 layer/RMS norm: normalized rank; group norm:
                                 the groups; permute: the rank */
    int64_t in_channels;      /* conv2d, conv_transpose2d; batch norm, group norm:
                                 channels */
    int64_t out_channels;     /* conv2d, conv_transpose2d */
    mt_kernel_layout kernel_layout;  /* conv2d */
    int64_t kernel_h, kernel_w;      /* conv2d: kernel; max_pool2d: window;
                                        adaptive_avg_pool2d: the output size */
    int64_t stride_h, stride_w;      /* conv2d, max_pool2d: in use (never 0) */
    mt_padding padding;              /* conv2d, max_pool2d */
} mt_layer_info;

/* Fill *info (zeroed first). Fails only on NULL arguments. */
mt_status mt_layer_info_get(const mt_layer *layer, mt_layer_info *info);

/* Run one layer on its own: *out is a new tensor (a view of x for Flatten
 * and Dropout) that you free with mt_tensor_free. Allocates; use a
 * Sequential for allocation-free passes. Shape errors name the layer:
 * "linear d1_w: expects 784 input features, the input gives 28 (input
 * [5,28])". */
mt_status mt_layer_forward(const mt_layer *layer, const mt_tensor *x,
                           mt_tensor **out);

/* Free a layer you still own. NULL, and a layer a model owns (added to a
 * graph or Sequential: the model frees it), are ignored. */
void mt_layer_free(mt_layer *layer);

/* ---- Sequential -----------------------------------------------------------------
 * Layers run in order; each layer's output shape is checked against the next
 * layer when it is added, starting from the declared sample shape. */
typedef struct mt_sequential mt_sequential;

/* An empty model for inputs [N, sample_shape...] (sample_rank 1..7 dims, all
 * >= 1), e.g. (2, {28,28}) for MNIST images or (1, {784}) for flat ones. */
mt_status mt_sequential_new(int sample_rank, const int64_t *sample_shape,
                            mt_sequential **out);

/* Append `layer` (one input). The model takes ownership of the layer: on
 * failure the layer has been freed — except a layer that already belongs to
 * a model, which is refused (MT_ERR_INVALID_ARGUMENT) and left to it. Fails
 * (MT_ERR_SHAPE) if the layer does not fit the previous layer's output:
 * "sequential: layer 4 (linear d2_w) expects 64 input features, the
 * previous layer gives 128". Layers are numbered from 1. A Sequential is a
 * graph (graph.h) built as a chain: it plans, fuses and reuses memory the
 * same way. */
mt_status mt_sequential_add(mt_sequential *model, mt_layer *layer);

/* Number of layers, and layer i (0-based; NULL if out of range), still
 * owned by the model. */
int mt_sequential_count(const mt_sequential *model);
const mt_layer *mt_sequential_layer(const mt_sequential *model, int i);

/* Run the model on x [N, sample_shape...] (F32, N >= 0; any strides, except
 * that a Flatten needs dims it can merge without a copy — a contiguous x
 * always works).
 * *y is owned by the model: valid until the next forward or free (and, if
 * the last layer is a view such as Flatten, as long as x). The first call
 * with a larger N than before sizes an internal workspace; every other
 * call does no heap allocation at all. A batch whose layer outputs would
 * take more than 2 MiB runs through the layers in passes of fewer samples
 * (so each layer reads its input from cache) and *y gathers them: the
 * same results, in a workspace of about 2 MiB plus the output. Fails on an
 * input of the wrong
 * dtype or shape ("sequential: input is [5,784], expected [N,28,28]"), on
 * an x that lies in the model's workspace (an earlier *y fed back: copy it
 * first) and on an empty model. */
mt_status mt_sequential_forward(mt_sequential *model, const mt_tensor *x,
                                const mt_tensor **y);

/* mt_graph_freeze for a Sequential: its layers take private copies of
 * their weights, prepared for inference (a first Linear on mostly-zero
 * pixels then reads only the weight rows under inked ones). */
mt_status mt_sequential_freeze(mt_sequential *model);

/* The "classify this array of images" loop: runs the model over n samples
 * stored as bytes (each of the declared sample shape, row-major, e.g.
 * n x 28 x 28 pixels), every byte multiplied by `scale` (1/255.0f for
 * MNIST-style pixels), in batches of up to 256, and writes the n x F outputs
 * row-major to `out`, which holds `out_len` floats. The model's output must
 * be [batch, F]. Allocates one input batch per call (freed before it
 * returns); the passes themselves allocate nothing once warm. */
mt_status mt_sequential_forward_u8(mt_sequential *model, const uint8_t *data,
                                   int64_t n, float scale, float *out,
                                   size_t out_len);

/* The bytes of workspace a forward over a batch of n needs (see
 * mt_graph_bytes_needed), before running it. */
mt_status mt_sequential_bytes_needed(mt_sequential *model, int64_t n, size_t *bytes);

/* Free the model and its layers. NULL is ignored. */
void mt_sequential_free(mt_sequential *model);

#ifdef __cplusplus
}
#endif

#include "minitensor/rnn.h"   /* after mt_state_dict, which it uses */
#endif
