/* model.c — the few lines that port the Keras model, and its logits for n images. */
#include "model.h"

/* The layers, in Keras order. mt_sequential_add owns `l` from then on. */
static mt_status add_layers(mt_sequential *m, const mt_safetensors *w)
{
    mt_layer *l;
    mt_status s;
    if ((s = mt_flatten_new(1, -1, &l)) || (s = mt_sequential_add(m, l)))
        return s;
    /* Dense(128, activation='relu') on 784 pixels; the ReLU runs inside the
     * matmul. Giving both feature counts makes shape errors precise. */
    if ((s = mt_linear_from_safetensors(w, "d1_w", "d1_b",
                                        &(mt_linear_options){.in_features = 784,
                                                             .out_features = 128,
                                                             .act = MT_ACTIVATION_RELU},
                                        &l)) ||
        (s = mt_sequential_add(m, l)))
        return s;
    /* Dropout(0.2): the identity at inference. */
    if ((s = mt_dropout_new(0.2f, &l)) || (s = mt_sequential_add(m, l)))
        return s;
    /* Dense(10): the logits. */
    if ((s = mt_linear_from_safetensors(w, "d2_w", "d2_b",
                                        &(mt_linear_options){.in_features = 128,
                                                             .out_features = MNIST_CLASSES},
                                        &l)))
        return s;
    return mt_sequential_add(m, l);
}

mt_status mnist_model_new(const mt_safetensors *weights, bool frozen, mt_sequential **out)
{
    *out = NULL;
    mt_sequential *m;
    mt_status s = mt_sequential_new(2, (int64_t[]){MNIST_SIDE, MNIST_SIDE}, &m);
    if (s)
        return s;
    if ((s = add_layers(m, weights)) || (frozen && (s = mt_sequential_freeze(m)))) {
        mt_sequential_free(m);
        return s;
    }
    *out = m;
    return MT_OK;
}

mt_status mnist_logits(mt_sequential *model, const uint8_t *pixels, int64_t n,
                      float *logits)
{
    return mt_sequential_forward_u8(model, pixels, n, 1.0f / 255.0f, logits,
                                    (size_t)n * MNIST_CLASSES);
}
