/* train_model.c — parameters and forward passes of the trainable models. */
#include <string.h>

#include "train_model.h"

/* A parameter of `shape` drawn from U(±1/√fan_in), PyTorch's default for the
 * weights and biases of Linear and Conv2d. */
static mt_status param(train_model *m, const char *name, int rank, const int64_t *shape,
                       int64_t fan_in, mt_rng *rng)
{
    mt_tensor *t;
    mt_status s = mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t);
    if (s)
        return s;
    if (!(s = mt_init_kaiming_uniform(t, fan_in, rng)))
        s = mt_param_new(t, name, &m->params[m->n_params]);
    mt_tensor_free(t);
    if (!s)
        m->n_params++;
    return s;
}

static mt_status mlp_new(train_model *m, mt_rng *rng)
{
    mt_status s;
    m->dropout = 0.2f;
    /* PyTorch draws a layer's weight, then its bias */
    if ((s = param(m, "d1_w", 2, (int64_t[]){784, 128}, 784, rng)) ||
        (s = param(m, "d1_b", 1, (int64_t[]){128}, 784, rng)) ||
        (s = param(m, "d2_w", 2, (int64_t[]){128, 10}, 128, rng)) ||
        (s = param(m, "d2_b", 1, (int64_t[]){10}, 128, rng)))
        return s;
    return MT_OK;
}

static mt_status mlp_forward(train_model *m, mt_tape *tape, mt_value *images, mt_rng *rng,
                             mt_value **logits)
{
    mt_value **p = m->params, *x, *h;
    int64_t batch = images->data->shape[0];
    mt_status s;
    if ((s = mt_tape_reshape(tape, images, 2, (int64_t[]){batch, 784}, &x)) ||
        (s = mt_tape_linear(tape, x, p[0], p[1], MT_ACTIVATION_RELU, &h)) ||
        (s = mt_tape_dropout(tape, h, m->dropout, rng, &h)))
        return s;
    return mt_tape_linear(tape, h, p[2], p[3], MT_ACTIVATION_NONE, logits);
}

/* The Fashion CNN (model.c): HWIO kernels, fan_in = kh·kw·cin. */
static mt_status cnn_new(train_model *m, mt_rng *rng)
{
    mt_status s;
    m->dropout = 0.3f;
    if ((s = param(m, "conv1_w", 4, (int64_t[]){3, 3, 1, 32}, 9, rng)) ||
        (s = param(m, "conv1_b", 1, (int64_t[]){32}, 9, rng)) ||
        (s = param(m, "conv2_w", 4, (int64_t[]){3, 3, 32, 64}, 288, rng)) ||
        (s = param(m, "conv2_b", 1, (int64_t[]){64}, 288, rng)) ||
        (s = param(m, "d1_w", 2, (int64_t[]){1600, 128}, 1600, rng)) ||
        (s = param(m, "d1_b", 1, (int64_t[]){128}, 1600, rng)) ||
        (s = param(m, "d2_w", 2, (int64_t[]){128, 10}, 128, rng)) ||
        (s = param(m, "d2_b", 1, (int64_t[]){10}, 128, rng)))
        return s;
    return MT_OK;
}

static mt_status cnn_forward(train_model *m, mt_tape *tape, mt_value *images, mt_rng *rng,
                             mt_value **logits)
{
    const mt_conv2d_params conv = {.kernel_layout = MT_KERNEL_HWIO,
                                   .activation = MT_ACTIVATION_RELU};
    const mt_pool2d_params pool = {.pool_h = 2, .pool_w = 2};
    mt_value **p = m->params, *h;
    int64_t batch = images->data->shape[0];
    mt_status s;
    if ((s = mt_tape_reshape(tape, images, 4, (int64_t[]){batch, 28, 28, 1}, &h)) ||
        (s = mt_tape_conv2d(tape, h, p[0], p[1], &conv, &h)) ||   /* [B,26,26,32] */
        (s = mt_tape_max_pool2d(tape, h, &pool, &h)) ||             /* [B,13,13,32] */
        (s = mt_tape_conv2d(tape, h, p[2], p[3], &conv, &h)) ||   /* [B,11,11,64] */
        (s = mt_tape_max_pool2d(tape, h, &pool, &h)) ||             /* [B,5,5,64] */
        /* Flatten in Keras' (h, w, c) order: NHWC throughout, a view */
        (s = mt_tape_reshape(tape, h, 2, (int64_t[]){batch, 1600}, &h)) ||
        (s = mt_tape_linear(tape, h, p[4], p[5], MT_ACTIVATION_RELU, &h)) ||
        (s = mt_tape_dropout(tape, h, m->dropout, rng, &h)))
        return s;
    return mt_tape_linear(tape, h, p[6], p[7], MT_ACTIVATION_NONE, logits);
}

mt_status train_model_new(const char *kind, mt_rng *rng, train_model *m)
{
    memset(m, 0, sizeof *m);
    mt_status s;
    if (strcmp(kind, "mlp") == 0) {
        m->kind = "mlp";
        s = mlp_new(m, rng);
    } else if (strcmp(kind, "cnn") == 0) {
        m->kind = "cnn";
        s = cnn_new(m, rng);
    } else {
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "unknown model \"%s\" (mlp or cnn)", kind);
    }
    if (s)
        train_model_free(m);
    return s;
}

void train_model_free(train_model *m)
{
    for (int i = 0; i < m->n_params; i++)
        mt_param_free(m->params[i]);
    m->n_params = 0;
}

mt_status train_model_forward(train_model *m, mt_tape *tape, mt_value *images, mt_rng *rng,
                              mt_value **logits)
{
    if (strcmp(m->kind, "cnn") == 0)
        return cnn_forward(m, tape, images, rng, logits);
    return mlp_forward(m, tape, images, rng, logits);
}
