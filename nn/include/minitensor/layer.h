/* minitensor/layer.h — the layer interface: what every layer implements,
 * the built-in ones (nn.h) and yours alike.
 *
 * A layer is a vtable plus the state it works on. A model (mt_graph,
 * mt_sequential) calls `infer` once per input shape when it is built and
 * planned, and `forward` on every pass, always into an output tensor it has
 * already sized and placed in its workspace: a layer never allocates during
 * a pass. Your own layer:
 *
 *     typedef struct { float factor; } scale_state;
 *
 *     static mt_status scale_infer(const mt_layer *l, int n, const mt_shape *in,
 *                                  const char *const *from, mt_shape *out)
 *     {
 *         if (in[0].dtype != MT_DTYPE_F32)
 *             return mt_fail(MT_ERR_DTYPE, "expects F32, %s gives %s", from[0],
 *                            mt_dtype_name(in[0].dtype));
 *         *out = in[0];                        // same shape
 *         return MT_OK;
 *     }
 *     static mt_status scale_forward(const mt_layer *l, int n,
 *                                    const mt_tensor *const *in, void *scratch,
 *                                    mt_tensor *out)
 *     {
 *         const scale_state *st = mt_layer_state(l);
 *         return mt_mul_scalar_into(in[0], st->factor, out);
 *     }
 *     static void scale_release(void *state) { free(state); }
 *     static const mt_layer_vtable scale_vtable = {
 *         .n_inputs = 1, .infer = scale_infer, .forward = scale_forward,
 *         .release = scale_release};
 *
 *     scale_state *st = malloc(sizeof *st);  st->factor = 2;
 *     mt_layer *l;
 *     if (mt_layer_new(&scale_vtable, st, "scale x2", &l)) free(st);
 *
 * (docs/building-a-model.md has the complete program.) Fusion is by
 * capability: a layer that is an elementwise epilogue (an activation, a
 * per-channel scale and shift such as an inference BatchNorm) says so
 * through `as_epilogue`; a layer that can apply such an epilogue while it
 * writes its output says so through `absorb`. A model then runs the pair as
 * one layer, built once, when it plans. A layer that can run together with
 * the layer reading its output (Linear followed by Linear) says so through
 * `absorb_next`.
 */
#ifndef MINITENSOR_LAYER_H
#define MINITENSOR_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minitensor/error.h"
#include "minitensor/ops.h"
#include "minitensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A layer (opaque). Free with mt_layer_free unless a model owns it. */
typedef struct mt_layer mt_layer;

/* The shape (and dtype) of a tensor a layer takes or gives, batch dim
 * included. A zeroed mt_shape is a rank-0 F32 shape. */
typedef struct mt_shape {
    mt_dtype dtype;
    int rank;
    int64_t dim[MT_MAX_RANK];
} mt_shape;

/* What an epilogue layer does to each element of its (same-shaped) input:
 * y = act(x * scale + shift), scale and shift [C] along the last dim (NULL:
 * 1 and 0). The tensors belong to the layer that describes itself. */
typedef struct mt_layer_epilogue {
    const mt_tensor *scale, *shift;
    mt_activation act;
} mt_layer_epilogue;

/* mt_layer_vtable.flags, or-ed */
typedef enum mt_layer_flag {
    /* forward fills `out` as a view of in[0] (no storage of its own): the
     * model places no buffer for it and keeps in[0]'s alive instead. */
    MT_LAYER_FLAG_VIEW = 1u << 0
} mt_layer_flag;

typedef struct mt_layer_vtable {
    /* Inputs the layer takes (>= 1), or 0 for "any number >= 1". */
    int n_inputs;
    unsigned flags;
    /* The output shape for input shapes in[0..n-1]. On a mismatch, fail
     * with a predicate about the layer that names the input by from[i]:
     * mt_fail(MT_ERR_SHAPE, "expects 784 input features, %s gives 28",
     * from[0]); the model puts the layer's place in front. A model refuses
     * an output rank outside 0..MT_MAX_RANK, an invalid dtype or a
     * negative dim, naming the node. */
    mt_status (*infer)(const mt_layer *layer, int n, const mt_shape *in,
                       const char *const *from, mt_shape *out);
    /* Compute in[0..n-1] -> out (not called when out would be empty: there
     * is nothing to compute). `out` has the inferred shape and dtype
     * (contiguous, storage owned by the model), or with MT_LAYER_FLAG_VIEW is a
     * struct to fill as a view. `scratch` holds scratch_bytes() bytes
     * (64-byte aligned), valid during this call only. */
    mt_status (*forward)(const mt_layer *layer, int n, const mt_tensor *const *in,
                         void *scratch, mt_tensor *out);
    /* (optional) Scratch bytes forward needs for these input shapes. */
    size_t (*scratch_bytes)(const mt_layer *layer, int n, const mt_shape *in);
    /* (optional) true if the layer is an elementwise epilogue (one input,
     * same shape out), described in *e. */
    bool (*as_epilogue)(const mt_layer *layer, mt_layer_epilogue *e);
    /* (optional) A new layer computing e(layer(x)) in *fused, or
     * MT_ERR_UNSUPPORTED (no message needed) if this layer cannot apply e.
     * (Here and in absorb_next and freeze, MT_OK without a layer is an
     * error the model reports, naming the node.) Offered only epilogues
     * whose output has this layer's output shape.
     * `layer` itself must not change: it may still be run on its own. */
    mt_status (*absorb)(const mt_layer *layer, const mt_layer_epilogue *e,
                        mt_layer **fused);
    /* (optional) Free `state`: called once, by mt_layer_free. */
    void (*release)(void *state);
    /* (optional) A new layer computing next(layer(x)) in *fused, where
     * `next` (one input) is the only reader of this layer's output, directly
     * or through views that keep its shape (an inference Dropout); or
     * MT_ERR_UNSUPPORTED (no message needed) if the pair cannot run as one.
     * For fusions that are not elementwise: two Linear layers become one
     * mt_matmul_fused2 (the hidden rows stay in cache), a Conv2D pools its
     * output rows while they are in cache (a following VALID MaxPool2D).
     * Neither layer may change. */
    mt_status (*absorb_next)(const mt_layer *layer, const mt_layer *next,
                             mt_layer **fused);
    /* (optional) A new layer computing what `layer` computes from private
     * copies of its weights, prepared for inference, in *frozen; or
     * MT_ERR_UNSUPPORTED (no message needed). mt_graph_freeze calls it.
     * The frozen layer must not read the tensors `layer` was built from:
     * what it holds may be laid out or checked for its kernels once (a
     * Linear checks that its weight is finite, which lets it skip the
     * zeros of a sparse input). `layer` must not change. */
    mt_status (*freeze)(const mt_layer *layer, mt_layer **frozen);
} mt_layer_vtable;

/* A layer running `vtable` (not copied: keep it alive, a static const is
 * usual) on `state`, named `name` in messages (truncated to MT_NAME_MAX
 * bytes). vtable needs infer and forward. On success the layer owns state
 * (vtable->release frees it); on failure *out is NULL and state is still
 * yours. */
mt_status mt_layer_new(const mt_layer_vtable *vtable, void *state,
                       const char *name, mt_layer **out);

/* The state given to mt_layer_new (built-in layers: their own). */
void *mt_layer_state(const mt_layer *layer);

/* The layer's name ("linear d1_w", "relu", yours). Never NULL for a
 * layer; "" for NULL. */
const char *mt_layer_name(const mt_layer *layer);

#ifdef __cplusplus
}
#endif
#endif
