/* model.c — the lines that port the Keras CNN, and its logits for n images. */
#include "model.h"

/* Conv2D(filters, 3, activation='relu') over `in` channels: Keras' HWIO
 * kernel [3,3,in,filters], stride 1, valid padding, ReLU fused. */
static mt_status conv(mt_sequential *m, const mt_safetensors *w, const char *kernel,
                      const char *bias, int64_t in, int64_t filters)
{
    mt_layer *l;
    mt_status s = mt_conv2d_from_safetensors(
        w, kernel, bias,
        &(mt_conv2d_options){.layout = MT_KERNEL_HWIO, .in_channels = in,
                             .out_channels = filters, .kernel_h = 3, .kernel_w = 3,
                             .act = MT_ACTIVATION_RELU},
        &l);
    return s ? s : mt_sequential_add(m, l);
}

/* MaxPooling2D(2): 2×2 windows, stride 2, valid (11×11 -> 5×5, as Keras). */
static mt_status pool(mt_sequential *m)
{
    mt_layer *l;
    mt_status s = mt_max_pool2d_new(&(mt_max_pool2d_options){.pool_h = 2, .pool_w = 2}, &l);
    return s ? s : mt_sequential_add(m, l);
}

static mt_status dense(mt_sequential *m, const mt_safetensors *w, const char *weight,
                       const char *bias, int64_t in, int64_t units, mt_activation act)
{
    mt_layer *l;
    mt_status s = mt_linear_from_safetensors(
        w, weight, bias,
        &(mt_linear_options){.in_features = in, .out_features = units, .act = act}, &l);
    return s ? s : mt_sequential_add(m, l);
}

/* The layers, in Keras order. mt_sequential_add owns each layer from then
 * on, also when it fails. */
static mt_status add_layers(mt_sequential *m, const mt_safetensors *w)
{
    mt_layer *l;
    mt_status s;
    if ((s = conv(m, w, "conv1_w", "conv1_b", 1, 32)) ||    /* -> [N,26,26,32] */
        (s = pool(m)) ||                                     /* -> [N,13,13,32] */
        (s = conv(m, w, "conv2_w", "conv2_b", 32, 64)) ||   /* -> [N,11,11,64] */
        (s = pool(m)))                                       /* -> [N,5,5,64]   */
        return s;
    /* Flatten: a view, [N,1600] in Keras' (h, w, c) order (NHWC throughout,
     * so d1_w's rows line up with no permutation). */
    if ((s = mt_flatten_new(1, -1, &l)) || (s = mt_sequential_add(m, l)))
        return s;
    if ((s = dense(m, w, "d1_w", "d1_b", 5 * 5 * 64, 128, MT_ACTIVATION_RELU)))
        return s;
    /* Dropout(0.3): the identity at inference. */
    if ((s = mt_dropout_new(0.3f, &l)) || (s = mt_sequential_add(m, l)))
        return s;
    return dense(m, w, "d2_w", "d2_b", 128, FASHION_CLASSES, MT_ACTIVATION_NONE);
}

mt_status fashion_model_new(const mt_safetensors *weights, bool frozen, mt_sequential **out)
{
    *out = NULL;
    mt_sequential *m;
    mt_status s = mt_sequential_new(3, (int64_t[]){FASHION_SIDE, FASHION_SIDE, 1}, &m);
    if (s)
        return s;
    if ((s = add_layers(m, weights)) || (frozen && (s = mt_sequential_freeze(m)))) {
        mt_sequential_free(m);
        return s;
    }
    *out = m;
    return MT_OK;
}

mt_status fashion_logits(mt_sequential *model, const uint8_t *pixels, int64_t n,
                       float *logits)
{
    return mt_sequential_forward_u8(model, pixels, n, 1.0f / 255.0f, logits,
                                    (size_t)n * FASHION_CLASSES);
}
