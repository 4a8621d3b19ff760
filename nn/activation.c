/* activation.c — activation layers (ReLU, GELU, tanh, sigmoid, SiLU,
 * LeakyReLU, ELU, Hardswish, Softplus, Hardsigmoid, clamp: ReLU6 and
 * Hardtanh) and Softmax: same shape in and out.
 * An activation of ops.h describes itself as an epilogue, so a layer before
 * it that can absorb one (Linear, Conv2D, Add) applies it as it writes. */
#include <math.h>
#include <stdio.h>

#include "layer_internal.h"

/* ---- ReLU --------------------------------------------------------------------- */

static mt_status relu_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                              void *scratch, mt_tensor *out)
{
    (void)l, (void)n, (void)scratch;
    return mt_relu_into(in[0], out);
}

static bool relu_as_epilogue(const mt_layer *l, mt_layer_epilogue *e)
{
    (void)l;
    *e = (mt_layer_epilogue){.act = MT_ACTIVATION_RELU};
    return true;
}

static const mt_layer_vtable relu_vtable = {
    .n_inputs = 1,
    .infer = mt_nn_infer_same,
    .forward = relu_forward,
    .as_epilogue = relu_as_epilogue,
};

mt_status mt_relu_new(mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "relu: out is NULL");
    *out = mt_nn_layer_alloc("relu", &relu_vtable, MT_LAYER_RELU, "relu", 0);
    return *out ? MT_OK : MT_ERR_OUT_OF_MEMORY;
}

/* ---- Softmax ------------------------------------------------------------------ */

static mt_status softmax_infer(const mt_layer *l, int n, const mt_shape *in,
                               const char *const *from, mt_shape *out)
{
    (void)n;
    mt_status s = mt_nn_check_row_dim(l->info.dim, in, from[0]);
    if (!s)
        *out = *in;
    return s;
}

static mt_status softmax_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                 void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    return mt_softmax_into(in[0], l->info.dim, out);
}

static const mt_layer_vtable softmax_vtable = {
    .n_inputs = 1,
    .infer = softmax_infer,
    .forward = softmax_forward,
};

mt_status mt_softmax_new(int dim, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "softmax: out is NULL");
    *out = NULL;
    if (dim < -MT_MAX_RANK || dim >= MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "softmax: dim %d is out of range "
                       "-%d..%d", dim, MT_MAX_RANK, MT_MAX_RANK - 1);
    mt_layer *l = mt_nn_layer_alloc("softmax", &softmax_vtable, MT_LAYER_SOFTMAX, "softmax", 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.dim = dim;
    *out = l;
    return MT_OK;
}

/* ---- any activation of ops.h (GELU, tanh, sigmoid, SiLU, …) ------------------- */

static mt_status act_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    return mt_activation_apply_into(in[0], l->info.act, out);
}

static bool act_as_epilogue(const mt_layer *l, mt_layer_epilogue *e)
{
    *e = (mt_layer_epilogue){.act = l->info.act};
    return true;
}

static const mt_layer_vtable act_vtable = {
    .n_inputs = 1,
    .infer = mt_nn_infer_same,
    .forward = act_forward,
    .as_epilogue = act_as_epilogue,
};

mt_status mt_activation_layer_new(mt_activation act, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "activation: out is NULL");
    *out = NULL;
    const char *name = mt_activation_name(act);
    if (!name || act == MT_ACTIVATION_NONE)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "activation: unknown activation %d",
                       (int)act);
    if (act == MT_ACTIVATION_RELU)
        return mt_relu_new(out);
    mt_layer *l = mt_nn_layer_alloc("activation", &act_vtable, MT_LAYER_ACTIVATION, name, 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.act = act;
    *out = l;
    return MT_OK;
}

/* ---- LeakyReLU ---------------------------------------------------------------- */

static mt_status leaky_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                               void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    return mt_leaky_relu_into(in[0], l->info.rate, out);
}

static const mt_layer_vtable leaky_vtable = {
    .n_inputs = 1,
    .infer = mt_nn_infer_same,
    .forward = leaky_forward,
};

mt_status mt_leaky_relu_new(float slope, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "leaky_relu: out is NULL");
    *out = NULL;
    if (!isfinite(slope))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "leaky_relu: slope %g is not finite",
                       (double)slope);
    char name[40];
    snprintf(name, sizeof name, "leaky_relu %g", (double)slope);
    mt_layer *l = mt_nn_layer_alloc("leaky_relu", &leaky_vtable, MT_LAYER_LEAKY_RELU, name, 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.rate = slope;
    *out = l;
    return MT_OK;
}

/* ---- ELU, Hardswish, Softplus ------------------------------------------------------ */

static mt_status elu_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    return mt_elu_into(in[0], l->info.rate, out);
}

static mt_status hardswish_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                   void *scratch, mt_tensor *out)
{
    (void)l, (void)n, (void)scratch;
    return mt_hardswish_into(in[0], out);
}

static mt_status softplus_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                  void *scratch, mt_tensor *out)
{
    (void)l, (void)n, (void)scratch;
    return mt_softplus_into(in[0], out);
}

static const mt_layer_vtable elu_vtable = {
    .n_inputs = 1, .infer = mt_nn_infer_same, .forward = elu_forward};
static const mt_layer_vtable hardswish_vtable = {
    .n_inputs = 1, .infer = mt_nn_infer_same, .forward = hardswish_forward};
static const mt_layer_vtable softplus_vtable = {
    .n_inputs = 1, .infer = mt_nn_infer_same, .forward = softplus_forward};

mt_status mt_elu_new(float alpha, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "elu: out is NULL");
    *out = NULL;
    if (!isfinite(alpha))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "elu: alpha %g is not finite", (double)alpha);
    char name[40];
    snprintf(name, sizeof name, "elu %g", (double)alpha);
    mt_layer *l = mt_nn_layer_alloc("elu", &elu_vtable, MT_LAYER_ELU, name, 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.rate = alpha;
    *out = l;
    return MT_OK;
}

mt_status mt_hardswish_new(mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "hardswish: out is NULL");
    *out = mt_nn_layer_alloc("hardswish", &hardswish_vtable, MT_LAYER_HARDSWISH, "hardswish", 0);
    return *out ? MT_OK : MT_ERR_OUT_OF_MEMORY;
}

mt_status mt_softplus_new(mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "softplus: out is NULL");
    *out = mt_nn_layer_alloc("softplus", &softplus_vtable, MT_LAYER_SOFTPLUS, "softplus", 0);
    return *out ? MT_OK : MT_ERR_OUT_OF_MEMORY;
}

/* ---- Hardsigmoid, clamp (ReLU6, Hardtanh) -------------------------------------------- */

/* relu6(x + 3) / 6, in PyTorch's order (the division as a product) */
static mt_status hardsigmoid_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                     void *scratch, mt_tensor *out)
{
    (void)l, (void)n, (void)scratch;
    mt_status s = mt_add_scalar_into(in[0], 3.0f, out);
    if (!s)
        s = mt_clamp_into(out, 0.0f, 6.0f, out);
    return s ? s : mt_mul_scalar_into(out, 1.0f / 6.0f, out);
}

static const mt_layer_vtable hardsigmoid_vtable = {
    .n_inputs = 1, .infer = mt_nn_infer_same, .forward = hardsigmoid_forward};

mt_status mt_hardsigmoid_new(mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "hardsigmoid: out is NULL");
    *out = mt_nn_layer_alloc("hardsigmoid", &hardsigmoid_vtable, MT_LAYER_HARDSIGMOID,
                             "hardsigmoid", 0);
    return *out ? MT_OK : MT_ERR_OUT_OF_MEMORY;
}

typedef struct clamp_state {
    float lo, hi;
} clamp_state;

static mt_status clamp_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                               void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const clamp_state *st = l->state;
    return mt_clamp_into(in[0], st->lo, st->hi, out);
}

static const mt_layer_vtable clamp_vtable = {
    .n_inputs = 1, .infer = mt_nn_infer_same, .forward = clamp_forward};

mt_status mt_clamp_new(float lo, float hi, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "clamp: out is NULL");
    *out = NULL;
    if (isnan(lo) || isnan(hi) || lo > hi)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "clamp: bounds [%g, %g], expected lo <= hi",
                       (double)lo, (double)hi);
    char name[48];
    snprintf(name, sizeof name, "clamp [%g, %g]", (double)lo, (double)hi);
    mt_layer *l = mt_nn_layer_alloc("clamp", &clamp_vtable, MT_LAYER_CLAMP, name,
                                    sizeof(clamp_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    *(clamp_state *)l->state = (clamp_state){lo, hi};
    *out = l;
    return MT_OK;
}
