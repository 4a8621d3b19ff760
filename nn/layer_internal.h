/* layer_internal.h (nn-private) — the layer struct, and what built-in layers
 * and the graph share. Every layer, built-in or not, is a vtable and a
 * state: there are no per-kind members here. */
#ifndef MT_NN_LAYER_INTERNAL_H
#define MT_NN_LAYER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "minitensor/nn.h"

/* Shared by nn/ sources, linked into the static library (tests), not
 * exported from the shared one. */
#if defined(__GNUC__) || defined(__clang__)
#define NN_INTERNAL __attribute__((visibility("hidden")))
#else
#define NN_INTERNAL
#endif

struct mt_layer {
    const mt_layer_vtable *vt;
    void *state;
    bool in_model;                /* owned by a graph or Sequential */
    mt_layer_info info;           /* info.name points at `name` */
    char name[MT_NAME_MAX + 16];
};

/* A layer of `kind` named `name` with `state_size` zeroed bytes of state
 * in the same allocation (released with it; vt->release frees only what
 * the state holds). NULL (error set, naming `op`) if out of memory. */
NN_INTERNAL mt_layer *mt_nn_layer_alloc(const char *op, const mt_layer_vtable *vt,
                                        mt_layer_kind kind, const char *name,
                                        size_t state_size);

/* A reference to t that the layer owns: a heap view of t (keeping t
 * alive if it is a heap tensor) if t is F32 (and contiguous, when
 * `contiguous`: mt_conv2d reads kernels as matrices), else a converted or
 * contiguous F32 copy under t's name. */
NN_INTERNAL mt_status mt_nn_hold(const mt_tensor *t, bool contiguous, mt_tensor **out);

/* A tensor given to the constructor of layer `layer` as its `what`
 * (kernel, weight, bias, ...): NULL (an optional weight) or valid by
 * mt_tensor_check, whose error names the layer, the role and the tensor.
 * Constructors call it before reading the shape. */
NN_INTERNAL mt_status mt_nn_check_weight(const char *layer, const char *what,
                                         const mt_tensor *t);

/* mt_nn_hold for the constructor of layer `layer`, t its `what`: a failure
 * (out of memory, a broadcast view too large to copy) names the layer and
 * the tensor before the cause. */
NN_INTERNAL mt_status mt_nn_hold_for(const char *layer, const char *what, const mt_tensor *t,
                                     bool contiguous, mt_tensor **out);

/* The `infer` of one-input layers whose output has their input's shape. */
NN_INTERNAL mt_status mt_nn_infer_same(const mt_layer *l, int n, const mt_shape *in,
                                       const char *const *from, mt_shape *out);

/* The same, refused (MT_ERR_DTYPE) unless F32: for layers that rewrite
 * their output in place as floats. */
NN_INTERNAL mt_status mt_nn_infer_same_f32(const mt_layer *l, int n, const mt_shape *in,
                                           const char *const *from, mt_shape *out);

/* Runs `inner` (one input) on x viewed with shape x_as (the same number
 * of elements) into out viewed as out_as: a layer that folds dims and
 * hands the work to another (TimeDistributed, EinsumDense). If x's dims
 * cannot be merged as a view, x is copied to the start of scratch first
 * (mt_nn_shape_bytes of x); inner's scratch follows. */
NN_INTERNAL mt_status mt_nn_forward_as(const mt_layer *inner, int n, const mt_tensor *x,
                                       const mt_shape *x_as, const mt_shape *out_as,
                                       void *scratch, mt_tensor *out);

/* The scratch mt_nn_forward_as needs for input shape in, viewed as in_as
 * (SIZE_MAX if the sum overflows). */
NN_INTERNAL size_t mt_nn_forward_as_scratch(const mt_layer *inner, int n, const mt_shape *in,
                                            const mt_shape *in_as);

/* A shape as text, "[1,3]", into buf (cut to size); returns buf. For
 * infer's messages, which see shapes, not tensors. */
NN_INTERNAL const char *mt_nn_shape_text(const mt_shape *s, char *buf, size_t size);

/* A layer of `kind` holding only a dim (info.dim, -MT_MAX_RANK ..
 * MT_MAX_RANK-1 else MT_ERR_INVALID_ARGUMENT naming `op`), named
 * "<op> dim <dim>": softmin, log_softmax, glu, concat. */
NN_INTERNAL mt_status mt_nn_dim_layer_new(const char *op, const mt_layer_vtable *vt,
                                          mt_layer_kind kind, int dim, mt_layer **out);

/* The bytes of a tensor of shape s, rounded up to 64 (a scratch piece's
 * alignment); SIZE_MAX past SIZE_MAX / 2, which the model refuses: the
 * input may be a broadcast view far larger than memory, whose size in
 * bytes would wrap (on a 32-bit size_t first). */
NN_INTERNAL size_t mt_nn_shape_bytes(const mt_shape *s);

/* A mask [N,L] (any dtype, any strides) into m (N·L floats) as F32:
 * nonzero stays nonzero. */
NN_INTERNAL mt_status mt_nn_mask_f32(const mt_tensor *mask, float *m);

/* An integer dtype (token ids, masks): I8 … I64, U8 … U64. */
NN_INTERNAL bool mt_nn_is_integer(mt_dtype d);

/* A softmax-like layer's `dim` (negative from the end) for the input
 * `in` from `from`: MT_ERR_SHAPE if it is out of range or the batch (a
 * model runs a batch whose outputs keep it in passes of any size: a
 * softmax over dim 0 would normalise each pass on its own). */
NN_INTERNAL mt_status mt_nn_check_row_dim(int dim, const mt_shape *in, const char *from);

/* mt_tensor_check_finite(t) with `op` (the layer) in front of its message:
 * MT_ERR_FORMAT naming the tensor and the index of a NaN or infinity. */
NN_INTERNAL mt_status mt_nn_check_finite(const char *op, const mt_tensor *t);

/* The output length of a window of k taps `dilation` apart, moved by
 * `stride` over `in` (conv.h's and pool.h's rules; EXPLICIT: padded by
 * before, after; ceil: rounded up, as PyTorch's ceil_mode); -1 if a size
 * overflows. */
NN_INTERNAL int64_t mt_nn_window_len(int64_t in, int64_t k, int64_t stride, int64_t dilation,
                                     mt_padding padding, int64_t before, int64_t after,
                                     bool ceil);

/* The activation a layer running `own` runs once it absorbs e: e's, else
 * its own; MT_ERR_UNSUPPORTED (no error message: the planner just keeps
 * the two apart) if they do not compose: an affine e (scale or shift)
 * after an activation, or two activations other than relu∘relu = relu. */
NN_INTERNAL mt_status mt_nn_compose_activation(mt_activation own, const mt_layer_epilogue *e,
                                              mt_activation *act);

/* A convolution absorbing e (conv2d, conv3d): the activation it then runs
 * into *act (e's, else its own `own`), and its kernel and bias with e's
 * per-output-channel scale and shift applied (K·scale, b·scale + shift; a
 * zero bias if it has none and e shifts) as new tensors *k, *b (*b may be
 * NULL; both NULL if e has no scale or shift: the conv's own serve);
 * out_first: the out channels lead the kernel (OIHW), else they end it
 * (HWIO). MT_ERR_UNSUPPORTED if they do not compose
 * (mt_nn_compose_activation). */
NN_INTERNAL mt_status mt_nn_conv_absorb(const mt_tensor *kernel, const mt_tensor *bias,
                                        mt_activation own, bool out_first,
                                        const mt_layer_epilogue *e, mt_activation *act,
                                        mt_tensor **k, mt_tensor **b);

/* A transposed conv's output length into *out: (in - 1)·stride - before -
 * after + dilation·(k - 1) + output_padding + 1 (in >= 1); false if it
 * overflows. */
NN_INTERNAL bool mt_nn_transposed_len(int64_t in, int64_t k, int64_t stride, int64_t dilation,
                                      int64_t before, int64_t after, int64_t output_padding,
                                      int64_t *out);

/* Fetch `name` from file for the layer `layer`, naming the layer in the
 * message on failure. */
NN_INTERNAL mt_status mt_nn_get(const mt_safetensors *file, const char *layer,
                                const char *name, mt_tensor **out);

/* MultiHeadAttention from its projections in (in, out) layout: t[0..3] the
 * query [E, H·Dk], key [kdim, Hkv·Dk], value [vdim, Hkv·Dv] and output
 * [H·Dv, Eo] matrices, t[4..7] their biases or NULL, any views and
 * storable dtypes. kv_heads Hkv = H: every head its own keys and values;
 * fewer (dividing H): grouped-query, query head h reads key/value head
 * h / (H/Hkv). `top_left`: a causal query i sees keys j <= i also when
 * Lq != Lk (Keras), not attention.h's bottom-right alignment (PyTorch's
 * KV cache). Takes the eight references (freed on failure too); fails
 * naming the layer `name` and the tensors if they do not chain. */
NN_INTERNAL mt_status mt_nn_attention_new(const char *name, mt_tensor *t[8], int64_t heads,
                                          int64_t kv_heads, bool causal, bool top_left,
                                          mt_layer **out);

/* Llama attention layer l (mt_llama_attention_new's) on x [1, n, E] at
 * positions pos..pos+n-1 over a KV cache (nn/llama_decoder.c): k_cache and
 * v_cache hold rows [Hkv·D] for positions 0..pos-1 and get x's at
 * pos..pos+n-1; out [1, n, Eo]; scratch 2·n·H·D floats. */
NN_INTERNAL mt_status mt_nn_llama_attention_step(const mt_layer *l, const mt_tensor *x,
                                                 float *k_cache, float *v_cache, int64_t pos,
                                                 float *scratch, mt_tensor *out);
/* Its H·D and Hkv·D. */
NN_INTERNAL void mt_nn_llama_attention_widths(const mt_layer *l, int64_t *q_width,
                                              int64_t *kv_width);

#endif
