/* test_autograd.c — the tape's gradients: every op against central finite
 * differences (a table: a new op is one row), a small MLP against PyTorch's
 * gradients, no allocation after the first step, and the error paths. */
#include "test_util.h"

#ifndef TRAIN_REFS
#error "TRAIN_REFS: the path of tests/train/train_refs.safetensors"
#endif
#define REFS TRAIN_REFS

/* ---- finite differences ------------------------------------------------------ *
 * Each row builds a scalar from its parameters; the harness compares the
 * tape's gradient of sum(out * weights) with (f(p+h) - f(p-h)) / 2h, the
 * sums taken in double. The ops run in F32, so h and the tolerance suit F32
 * rounding: a wrong formula is off by far more. */

typedef struct fd_case {
    const char *name;
    int n_params;
    int64_t shapes[3][4];
    int ranks[3];
    mt_status (*build)(mt_tape *tape, mt_value **p, mt_value **out);
} fd_case;

static mt_rng dropout_rng;
static const int64_t labels_data[4] = {2, 0, 1, 2};

static mt_status build_add(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_add(t, p[0], p[1], o); }
static mt_status build_sub(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_sub(t, p[0], p[1], o); }
static mt_status build_mul(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_mul(t, p[0], p[1], o); }
static mt_status build_mul_scalar(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_mul_scalar(t, p[0], -2.5f, o); }
static mt_status build_relu(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_relu(t, p[0], o); }
static mt_status build_matmul(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_matmul(t, p[0], p[1], o); }
static mt_status build_matmul_t(mt_tape *t, mt_value **p, mt_value **o)
{
    mt_value *bt;   /* a·bᵀ through a transposed view, as PyTorch weights are used */
    mt_status s = mt_tape_transpose(t, p[1], 0, 1, &bt);
    return s ? s : mt_tape_matmul(t, p[0], bt, o);
}
static mt_status build_linear(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_linear(t, p[0], p[1], p[2], MT_ACTIVATION_NONE, o); }
static mt_status build_linear_relu(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_linear(t, p[0], p[1], p[2], MT_ACTIVATION_RELU, o); }
static mt_status build_linear_nobias(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_linear(t, p[0], p[1], NULL, MT_ACTIVATION_NONE, o); }
static mt_status build_reshape(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_reshape(t, p[0], 2, (int64_t[]){3, 4}, o); }
static mt_status build_sum_all(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_sum_all(t, p[0], o); }
static mt_status build_mean_all(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_mean_all(t, p[0], o); }
static mt_status build_softmax(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_softmax(t, p[0], 0, o); }
static mt_status build_log_softmax(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_log_softmax(t, p[0], -1, o); }
static mt_status build_dropout(mt_tape *t, mt_value **p, mt_value **o)
{
    mt_rng_init(&dropout_rng, 7);   /* the same mask for every evaluation */
    return mt_tape_dropout(t, p[0], 0.3f, &dropout_rng, o);
}
static mt_status build_cross_entropy(mt_tape *t, mt_value **p, mt_value **o)
{
    mt_tensor labels;
    mt_tensor_wrap_into(MT_DTYPE_I64, 1, (int64_t[]){4}, (void *)labels_data, &labels);
    mt_cross_entropy_options opt = {.label_smoothing = 0.2f};
    static mt_tensor keep;   /* the tape keeps a pointer until reset */
    keep = labels;
    return mt_tape_cross_entropy(t, p[0], &keep, &opt, o);
}
static mt_status build_cross_entropy_sum(mt_tape *t, mt_value **p, mt_value **o)
{
    static mt_tensor labels;
    mt_tensor_wrap_into(MT_DTYPE_I64, 1, (int64_t[]){4}, (void *)labels_data, &labels);
    mt_cross_entropy_options opt = {.reduction = MT_REDUCTION_SUM};
    return mt_tape_cross_entropy(t, p[0], &labels, &opt, o);
}
static float target_data[12] = {0.f, 1.f, 1.f, 0.f, 0.5f, 0.2f, 1.f, 0.f, 0.f, 1.f, 0.3f, 0.9f};
static mt_status build_bce(mt_tape *t, mt_value **p, mt_value **o)
{
    static mt_tensor target;
    mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){3, 4}, target_data, &target);
    return mt_tape_bce_with_logits(t, p[0], &target, MT_REDUCTION_MEAN, o);
}
static mt_status build_mse(mt_tape *t, mt_value **p, mt_value **o)
{
    static mt_tensor target;
    mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){3, 4}, target_data, &target);
    return mt_tape_mse_loss(t, p[0], &target, MT_REDUCTION_SUM, o);
}
static mt_status build_reuse(mt_tape *t, mt_value **p, mt_value **o)
{
    mt_value *sq;   /* x used twice: contributions must add up */
    mt_status s = mt_tape_mul(t, p[0], p[0], &sq);
    return s ? s : mt_tape_add(t, sq, p[0], o);
}

/* ---- convolution and pooling rows ---- */
static mt_status conv(mt_tape *t, mt_value **p, bool bias, mt_conv2d_params prm, mt_value **o)
{
    return mt_tape_conv2d(t, p[0], p[1], bias ? p[2] : NULL, &prm, o);
}
/* PyTorch's Conv2d(stride=2, padding=1), NHWC with a Keras kernel, ReLU */
static mt_status build_conv_s2p1(mt_tape *t, mt_value **p, mt_value **o)
{
    return conv(t, p, true, (mt_conv2d_params){.stride_h = 2, .stride_w = 2,
        .padding = MT_PADDING_EXPLICIT, .pad_top = 1, .pad_bottom = 1, .pad_left = 1,
        .pad_right = 1, .activation = MT_ACTIVATION_RELU}, o);
}
static mt_status build_conv_groups_same(mt_tape *t, mt_value **p, mt_value **o)
{
    return conv(t, p, true, (mt_conv2d_params){.groups = 2, .padding = MT_PADDING_SAME}, o);
}
static mt_status build_conv_depthwise(mt_tape *t, mt_value **p, mt_value **o)
{
    return conv(t, p, false, (mt_conv2d_params){.groups = 3, .padding = MT_PADDING_SAME,
        .stride_h = 2, .stride_w = 2}, o);
}
static mt_status build_conv_dilated(mt_tape *t, mt_value **p, mt_value **o)
{
    return conv(t, p, true, (mt_conv2d_params){.kernel_layout = MT_KERNEL_HWIO,
        .dilation_h = 2, .dilation_w = 2}, o);
}
/* PyTorch's layouts, asymmetric stride and pads, groups 2 */
static mt_status build_conv_nchw_oihw(mt_tape *t, mt_value **p, mt_value **o)
{
    return conv(t, p, true, (mt_conv2d_params){.data_layout = MT_DATA_LAYOUT_NCHW,
        .kernel_layout = MT_KERNEL_OIHW, .stride_h = 2, .padding = MT_PADDING_EXPLICIT,
        .pad_top = 1, .pad_left = 2, .pad_right = 1, .groups = 2}, o);
}
static mt_status build_conv_same_s2(mt_tape *t, mt_value **p, mt_value **o)
{
    return conv(t, p, true, (mt_conv2d_params){.stride_h = 2, .stride_w = 2,
        .padding = MT_PADDING_SAME}, o);
}
/* a constant kernel: the forward keeps no patches, only dX flows */
static mt_status build_conv_const_kernel(mt_tape *t, mt_value **p, mt_value **o)
{
    static float k[3 * 3 * 2 * 3];
    static mt_tensor kt;
    for (int i = 0; i < 54; i++)
        k[i] = (float)((i * 7) % 11) / 11.0f - 0.4f;
    mt_tensor_wrap_into(MT_DTYPE_F32, 4, (int64_t[]){3, 3, 2, 3}, k, &kt);
    mt_value *kv;
    mt_status s = mt_tape_constant(t, &kt, &kv);
    return s ? s : mt_tape_conv2d(t, p[0], kv, NULL, &(mt_conv2d_params){
        .kernel_layout = MT_KERNEL_HWIO, .padding = MT_PADDING_SAME}, o);
}
static mt_status build_maxpool(mt_tape *t, mt_value **p, mt_value **o)
{
    return mt_tape_max_pool2d(t, p[0], &(mt_pool2d_params){.pool_h = 2, .pool_w = 2}, o);
}
/* overlapping windows (a pixel wins in two), padding, dilation, ceil_mode */
static mt_status build_maxpool_nchw(mt_tape *t, mt_value **p, mt_value **o)
{
    return mt_tape_max_pool2d(t, p[0], &(mt_pool2d_params){.pool_h = 3, .pool_w = 2,
        .stride_h = 2, .stride_w = 1, .padding = MT_PADDING_EXPLICIT, .pad_top = 1,
        .pad_bottom = 1, .dilation_w = 2, .ceil_mode = true,
        .data_layout = MT_DATA_LAYOUT_NCHW}, o);
}
static mt_status build_avgpool_torch(mt_tape *t, mt_value **p, mt_value **o)
{
    return mt_tape_avg_pool2d(t, p[0], &(mt_pool2d_params){.pool_h = 3, .pool_w = 3,
        .stride_h = 2, .stride_w = 2, .padding = MT_PADDING_EXPLICIT, .pad_top = 1,
        .pad_bottom = 1, .pad_left = 1, .pad_right = 1, .ceil_mode = true,
        .count_include_pad = true, .data_layout = MT_DATA_LAYOUT_NCHW}, o);
}
static mt_status build_avgpool_keras(mt_tape *t, mt_value **p, mt_value **o)
{
    return mt_tape_avg_pool2d(t, p[0], &(mt_pool2d_params){.pool_h = 2, .pool_w = 3,
        .stride_h = 2, .stride_w = 2, .padding = MT_PADDING_SAME}, o);
}
static mt_status build_global_avg(mt_tape *t, mt_value **p, mt_value **o)
{
    return mt_tape_global_avg_pool2d(t, p[0], MT_DATA_LAYOUT_NHWC, false, o);
}
static mt_status build_global_avg_nchw(mt_tape *t, mt_value **p, mt_value **o)
{
    return mt_tape_global_avg_pool2d(t, p[0], MT_DATA_LAYOUT_NCHW, true, o);
}

static const fd_case fd_cases[] = {
    {"add broadcast", 2, {{3, 4}, {4}}, {2, 1}, build_add},
    {"add broadcast both", 2, {{3, 1}, {1, 4}}, {2, 2}, build_add},
    {"sub broadcast", 2, {{2, 3, 4}, {3, 1}}, {3, 2}, build_sub},
    {"mul broadcast", 2, {{3, 4}, {1, 4}}, {2, 2}, build_mul},
    {"mul_scalar", 1, {{5}}, {1}, build_mul_scalar},
    {"relu", 1, {{3, 5}}, {2}, build_relu},
    {"matmul", 2, {{3, 4}, {4, 5}}, {2, 2}, build_matmul},
    {"matmul batched broadcast", 2, {{2, 3, 4}, {4, 2}}, {3, 2}, build_matmul},
    {"matmul transposed view", 2, {{3, 4}, {5, 4}}, {2, 2}, build_matmul_t},
    {"linear", 3, {{4, 6}, {6, 3}, {3}}, {2, 2, 1}, build_linear},
    {"linear relu", 3, {{4, 6}, {6, 3}, {3}}, {2, 2, 1}, build_linear_relu},
    {"linear no bias", 2, {{4, 6}, {6, 3}}, {2, 2}, build_linear_nobias},
    {"reshape", 1, {{2, 6}}, {2}, build_reshape},
    {"sum_all", 1, {{2, 3}}, {2}, build_sum_all},
    {"mean_all", 1, {{2, 3}}, {2}, build_mean_all},
    {"softmax dim 0", 1, {{4, 3}}, {2}, build_softmax},
    {"log_softmax", 1, {{3, 5}}, {2}, build_log_softmax},
    {"dropout", 1, {{4, 5}}, {2}, build_dropout},
    {"cross_entropy smoothing", 1, {{4, 3}}, {2}, build_cross_entropy},
    {"cross_entropy sum", 1, {{4, 3}}, {2}, build_cross_entropy_sum},
    {"bce_with_logits", 1, {{3, 4}}, {2}, build_bce},
    {"mse_loss sum", 1, {{3, 4}}, {2}, build_mse},
    {"value used twice", 1, {{6}}, {1}, build_reuse},
    /* convolution and pooling */
    {"conv2d stride 2 pad 1 relu", 3, {{2, 5, 5, 3}, {3, 3, 3, 4}, {4}}, {4, 4, 1}, build_conv_s2p1},
    {"conv2d groups 2 SAME", 3, {{1, 4, 4, 4}, {3, 3, 2, 6}, {6}}, {4, 4, 1}, build_conv_groups_same},
    {"conv2d depthwise stride 2", 2, {{1, 5, 5, 3}, {3, 3, 1, 3}}, {4, 4}, build_conv_depthwise},
    {"conv2d dilation 2", 3, {{1, 6, 6, 2}, {3, 3, 2, 2}, {2}}, {4, 4, 1}, build_conv_dilated},
    {"conv2d NCHW OIHW groups", 3, {{2, 4, 5, 4}, {4, 2, 3, 2}, {4}}, {4, 4, 1}, build_conv_nchw_oihw},
    {"conv2d SAME stride 2", 3, {{1, 6, 5, 2}, {3, 2, 2, 4}, {4}}, {4, 4, 1}, build_conv_same_s2},
    {"conv2d constant kernel", 1, {{1, 5, 4, 2}}, {4}, build_conv_const_kernel},
    {"avg_pool2d torch pad ceil", 1, {{1, 2, 6, 5}}, {4}, build_avgpool_torch},
    {"avg_pool2d keras SAME", 1, {{2, 5, 5, 2}}, {4}, build_avgpool_keras},
    {"global_avg_pool2d", 1, {{2, 3, 4, 3}}, {4}, build_global_avg},
    {"global_avg_pool2d NCHW keepdims", 1, {{2, 3, 4, 3}}, {4}, build_global_avg_nchw},
};

/* Rows whose parameter gets values 0.05 apart: no two within ±h of each
 * other, so a max pool's winners stay put under the finite differences. */
static const fd_case fd_distinct_cases[] = {
    {"max_pool2d", 1, {{2, 4, 4, 3}}, {4}, build_maxpool},
    {"max_pool2d NCHW pad dilation ceil", 1, {{1, 2, 6, 5}}, {4}, build_maxpool_nchw},
};

/* sum(out * weights) in double, weights a fixed pseudo-random pattern. */
static double weighted_sum(const mt_tensor *out)
{
    double total = 0.0;
    const float *o = out->data;
    int64_t n = mt_tensor_numel(out);
    assert_true(mt_tensor_is_contiguous(out));
    for (int64_t i = 0; i < n; i++)
        total += o[i] * (0.5 + 0.37 * (double)((i * 7) % 5));
    return total;
}

static double evaluate(const fd_case *c, mt_tape *tape, mt_value **p)
{
    mt_tape_reset(tape);
    mt_value *out;
    assert_ok(c->build(tape, p, &out));
    mt_tensor *copy;
    assert_ok(mt_tensor_contiguous(out->data, &copy));
    double f = weighted_sum(copy);
    mt_tensor_free(copy);
    return f;
}

static void check_case(const fd_case *c, bool distinct)
{
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    mt_value *p[3];
    uint64_t seed = 99;
    for (int k = 0; k < c->n_params; k++) {
        mt_tensor *init;
        assert_ok(mt_tensor_zeros(MT_DTYPE_F32, c->ranks[k], c->shapes[k], &init));
        float *d = init->data;
        int64_t count = mt_tensor_numel(init);
        for (int64_t i = 0; i < count; i++)
            d[i] = distinct ? 0.05f * (float)((i * 37) % count) - 1.0f
                                         : rand_unit(&seed) * 1.5f;
        assert_ok(mt_param_new(init, "p", &p[k]));
        mt_tensor_free(init);
    }
    /* analytic: d/dp of sum(out * w) = backward of (out * w) summed */
    mt_tape_reset(tape);
    mt_value *out, *weights, *prod, *loss;
    assert_ok(c->build(tape, p, &out));
    mt_tensor *w;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, out->data->rank, out->data->shape, &w));
    for (int64_t i = 0; i < mt_tensor_numel(w); i++)
        ((float *)w->data)[i] = (float)(0.5 + 0.37 * (double)((i * 7) % 5));
    assert_ok(mt_tape_constant(tape, w, &weights));
    assert_ok(mt_tape_mul(tape, out, weights, &prod));
    assert_ok(mt_tape_sum_all(tape, prod, &loss));
    assert_ok(mt_tape_backward(tape, loss));
    for (int k = 0; k < c->n_params; k++) {
        float *x = p[k]->data->data;
        const float *g = p[k]->grad->data;
        for (int64_t i = 0; i < mt_tensor_numel(p[k]->data); i++) {
            float saved = x[i], h = 1e-2f;
            x[i] = saved + h;
            double up = evaluate(c, tape, p);
            x[i] = saved - h;
            double down = evaluate(c, tape, p);
            x[i] = saved;
            double numeric = (up - down) / (2.0 * (double)h);
            if (fabs(numeric - g[i]) > 2e-3 + 2e-2 * fabs(numeric))
                fail_msg("%s: d/dparam%d[%lld]: tape %.6g, finite differences %.6g", c->name,
                         k, (long long)i, (double)g[i], numeric);
        }
    }
    mt_tensor_free(w);
    for (int k = 0; k < c->n_params; k++)
        mt_param_free(p[k]);
    mt_tape_free(tape);
}

static void test_finite_differences(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fd_cases / sizeof fd_cases[0]; i++)
        check_case(&fd_cases[i], false);
    for (size_t i = 0; i < sizeof fd_distinct_cases / sizeof fd_distinct_cases[0]; i++)
        check_case(&fd_distinct_cases[i], true);
}


/* ---- an MLP against PyTorch ------------------------------------------------------ */

typedef struct mlp {
    mt_safetensors *refs;
    mt_tensor *x, *labels;
    mt_value *w[4];   /* w1, b1, w2, b2 */
} mlp;

static const char *const weight_names[4] = {"w1", "b1", "w2", "b2"};

static mt_tensor *ref(mt_safetensors *st, const char *name)
{
    mt_tensor *t;
    assert_ok(mt_safetensors_get(st, name, &t));
    return t;
}

static void mlp_open(mlp *m)
{
    assert_ok(mt_safetensors_open(REFS, &m->refs));
    m->x = ref(m->refs, "x");
    m->labels = ref(m->refs, "labels");
    for (int i = 0; i < 4; i++) {
        mt_tensor *t = ref(m->refs, weight_names[i]);
        assert_ok(mt_param_new(t, weight_names[i], &m->w[i]));
        mt_tensor_free(t);
    }
}

static void mlp_close(mlp *m)
{
    for (int i = 0; i < 4; i++)
        mt_param_free(m->w[i]);
    mt_tensor_free(m->x);
    mt_tensor_free(m->labels);
    mt_safetensors_close(m->refs);
}

static mt_status mlp_loss(mlp *m, mt_tape *tape, mt_value **loss)
{
    mt_value *x, *h, *logits;
    mt_cross_entropy_options ce = {.label_smoothing = 0.1f};
    mt_status s;
    mt_tape_reset(tape);
    if ((s = mt_tape_constant(tape, m->x, &x)) ||
        (s = mt_tape_linear(tape, x, m->w[0], m->w[1], MT_ACTIVATION_RELU, &h)) ||
        (s = mt_tape_linear(tape, h, m->w[2], m->w[3], MT_ACTIVATION_NONE, &logits)))
        return s;
    return mt_tape_cross_entropy(tape, logits, m->labels, &ce, loss);
}

static void assert_tensor_close(const mt_tensor *got, const mt_tensor *want, double atol,
                                double rtol)
{
    assert_true(mt_tensor_same_shape(got, want));
    assert_close(got->data, want->data, (size_t)mt_tensor_numel(want), atol, rtol);
}

static void test_mlp_gradients_match_pytorch(void **state)
{
    (void)state;
    mlp m;
    mlp_open(&m);
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    mt_value *loss;
    assert_ok(mlp_loss(&m, tape, &loss));
    mt_tensor *want = ref(m.refs, "loss");
    assert_float_equal(*(float *)loss->data->data, *(float *)want->data, 1e-5);
    mt_tensor_free(want);
    assert_ok(mt_tape_backward(tape, loss));
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "grad.%s", weight_names[i]);
        want = ref(m.refs, name);
        assert_tensor_close(m.w[i]->grad, want, 1e-6, 1e-4);
        mt_tensor_free(want);
    }
    /* gradients accumulate over two backward passes, as in PyTorch */
    assert_ok(mlp_loss(&m, tape, &loss));
    assert_ok(mt_tape_backward(tape, loss));
    want = ref(m.refs, "grad.w2");
    mt_tensor *twice;
    assert_ok(mt_mul_scalar(want, 2.0f, &twice));
    assert_tensor_close(m.w[2]->grad, twice, 1e-6, 1e-4);
    mt_tensor_free(twice);
    mt_tensor_free(want);
    mt_tape_free(tape);
    mlp_close(&m);
}

/* Heap allocations made by the third of three training steps (forward,
 * backward, zeroed gradients): the first two warm the tape and the matmul
 * buffers up. The probe goes in first: changing allocators drops the matmul
 * backends' cached buffers, which the warm-up steps then grow again. */
static long warm_step_allocations(mt_status (*loss_of)(void *model, mt_tape *t, mt_value **loss),
                                  void *model, mt_value *const *params, int n_params)
{
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    alloc_probe probe;
    long warm = 0;
    probe_install(&probe, -1);
    for (int step = 0; step < 3; step++) {
        if (step == 2)
            warm = probe.allocations;
        mt_value *loss;
        assert_ok(loss_of(model, tape, &loss));
        assert_ok(mt_tape_backward(tape, loss));
        for (int i = 0; i < n_params; i++)
            mt_param_zero_grad(params[i]);
    }
    long allocations = probe.allocations - warm;
    probe_remove();
    mt_tape_free(tape);
    return allocations;
}

static mt_status mlp_loss_of(void *m, mt_tape *t, mt_value **loss) { return mlp_loss(m, t, loss); }

static void test_training_step_allocates_nothing_after_the_first(void **state)
{
    (void)state;
    mlp m;
    mlp_open(&m);
    assert_int_equal(warm_step_allocations(mlp_loss_of, &m, m.w, 4), 0);
    mlp_close(&m);
}

/* ---- the Fashion CNN against PyTorch ---------------------------------------------- *
 * examples/fashion/model.c's architecture on 3 images (dropout off), weights
 * in Keras layouts; tests/train/make_cnn_refs.py computes the loss and the
 * gradients in float64. */

#ifndef CNN_REFS
#error "CNN_REFS: the path of tests/train/cnn_refs.safetensors"
#endif

static const char *const cnn_names[8] = {"conv1_w", "conv1_b", "conv2_w", "conv2_b",
                                         "d1_w", "d1_b", "d2_w", "d2_b"};

static mt_status cnn_loss(mt_tape *tape, const mt_tensor *images, const mt_tensor *labels,
                          mt_value **w, mt_value **loss)
{
    mt_conv2d_params relu = {.activation = MT_ACTIVATION_RELU};
    mt_pool2d_params pool = {.pool_h = 2, .pool_w = 2};
    mt_value *x, *h;
    mt_status s;
    if ((s = mt_tape_constant(tape, images, &x)) ||
        (s = mt_tape_conv2d(tape, x, w[0], w[1], &relu, &h)) ||       /* [N,26,26,32] */
        (s = mt_tape_max_pool2d(tape, h, &pool, &h)) ||                 /* [N,13,13,32] */
        (s = mt_tape_conv2d(tape, h, w[2], w[3], &relu, &h)) ||       /* [N,11,11,64] */
        (s = mt_tape_max_pool2d(tape, h, &pool, &h)) ||                 /* [N,5,5,64] */
        (s = mt_tape_reshape(tape, h, 2, (int64_t[]){images->shape[0], 1600}, &h)) ||
        (s = mt_tape_linear(tape, h, w[4], w[5], MT_ACTIVATION_RELU, &h)) ||
        (s = mt_tape_linear(tape, h, w[6], w[7], MT_ACTIVATION_NONE, &h)))
        return s;
    return mt_tape_cross_entropy(tape, h, labels, NULL, loss);
}

static void test_cnn_gradients_match_pytorch(void **state)
{
    (void)state;
    mt_safetensors *refs;
    assert_ok(mt_safetensors_open(CNN_REFS, &refs));
    mt_tensor *x = ref(refs, "x"), *labels = ref(refs, "labels");
    mt_value *w[8];
    for (int i = 0; i < 8; i++) {
        mt_tensor *t = ref(refs, cnn_names[i]);
        assert_ok(mt_param_new(t, cnn_names[i], &w[i]));
        mt_tensor_free(t);
    }
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    alloc_probe probe = {0};
    /* steps 0-2 on one thread (the third allocates nothing), step 3 on two
     * (but on wasm32):
     * im2col, col2im and the max pool's backward split images over them */
    int threads = mt_num_threads_get();
    assert_ok(mt_num_threads_set(1));
    for (int step = 0; step < 4; step++) {
        if (step == 3)
            assert_ok(mt_num_threads_set(MT_TEST_THREADS));
        for (int i = 0; i < 8; i++)
            mt_param_zero_grad(w[i]);
        mt_tape_reset(tape);
        /* installing the probe drops the ops' cached buffers (they go back
         * to the allocator they came from): step 1 grows them again */
        if (step == 1)
            probe_install(&probe, -1);
        probe.allocations = 0;
        mt_value *loss;
        assert_ok(cnn_loss(tape, x, labels, w, &loss));
        assert_ok(mt_tape_backward(tape, loss));
        if (step == 2) {
            long allocations = probe.allocations;
            probe_remove();
            assert_int_equal(allocations, 0);
        }
        mt_tensor *want = ref(refs, "loss");
        assert_float_equal(*(float *)loss->data->data, *(float *)want->data, 1e-5);
        mt_tensor_free(want);
    }
    assert_ok(mt_num_threads_set(threads));
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "grad.%s", cnn_names[i]);
        mt_tensor *want = ref(refs, name);
        /* max |ours - torch| relative to the largest gradient entry (the
         * ops run in F32, PyTorch in F64) */
        const float *g = w[i]->grad->data, *r = want->data;
        double worst = 0.0, scale = 0.0;
        assert_true(mt_tensor_same_shape(w[i]->grad, want));
        for (int64_t k = 0; k < mt_tensor_numel(want); k++) {
            scale = fmax(scale, fabs(r[k]));
            worst = fmax(worst, fabs((double)g[k] - r[k]));
        }
        if (!(worst <= 1e-4 * scale))
            fail_msg("%s: max relative error %.3g", name, worst / scale);
        mt_tensor_free(want);
    }
    mt_tape_free(tape);
    for (int i = 0; i < 8; i++)
        mt_param_free(w[i]);
    mt_tensor_free(x);
    mt_tensor_free(labels);
    mt_safetensors_close(refs);
}

/* ---- max pooling's winner, and conv/pool errors ---------------------------------- */

/* Ties go to the first maximum, NaN to the last NaN, an all -inf window to
 * its first pixel: torch 1.13's max_pool2d gradients for these inputs. */
static void test_maxpool_winner_as_torch(void **state)
{
    (void)state;
    const float in[3][4] = {{1, 3, 3, 2}, {1, NAN, 2, NAN}, {-INFINITY, -INFINITY, -INFINITY, -INFINITY}};
    const float want[3][4] = {{0, 1, 0, 0}, {0, 0, 0, 1}, {1, 0, 0, 0}};
    for (int k = 0; k < 3; k++) {
        mt_tensor x;
        mt_tensor_wrap_into(MT_DTYPE_F32, 4, (int64_t[]){1, 2, 2, 1}, (void *)in[k], &x);
        mt_value *p, *y, *loss;
        mt_tape *tape;
        assert_ok(mt_tape_new(&tape));
        assert_ok(mt_param_new(&x, "x", &p));
        assert_ok(mt_tape_max_pool2d(tape, p, &(mt_pool2d_params){.pool_h = 2, .pool_w = 2}, &y));
        assert_ok(mt_tape_sum_all(tape, y, &loss));
        assert_ok(mt_tape_backward(tape, loss));
        assert_close(p->grad->data, want[k], 4, 0.0, 0.0);
        mt_param_free(p);
        mt_tape_free(tape);
    }
}

static void test_conv_pool_errors(void **state)
{
    (void)state;
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    mt_tensor *x, *k, *k3;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){1, 5, 5, 3}, &x));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){3, 3, 2, 4}, &k));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){3, 3, 3, 3}, &k3));
    mt_value *px, *pk, *pk3, *v = NULL;
    assert_ok(mt_param_new(x, "x", &px));
    assert_ok(mt_param_new(k, "k", &pk));
    assert_ok(mt_param_new(k3, "k3", &pk3));
    mt_conv2d_params hwio = {.kernel_layout = MT_KERNEL_HWIO};
    assert_fails(mt_tape_conv2d(tape, px, pk, NULL, NULL, &v), MT_ERR_INVALID_ARGUMENT,
                 "params is NULL");
    assert_fails(mt_tape_conv2d(tape, px, pk, NULL, &hwio, &v), MT_ERR_SHAPE,
                 "input x [1,5,5,3] has 3 channels, kernel k [3,3,2,4]");
    assert_fails(mt_tape_conv2d(tape, px, pk3, NULL, &(mt_conv2d_params){0}, &v),
                 MT_ERR_SHAPE, "fits both HWIO and OIHW");
    assert_fails(mt_tape_conv2d(tape, px, pk3, NULL,
                                &(mt_conv2d_params){.activation = MT_ACTIVATION_SIGMOID}, &v),
                 MT_ERR_UNSUPPORTED, "sigmoid has no gradient here");
    assert_fails(mt_tape_conv2d(tape, px, pk3, NULL,
                                &(mt_conv2d_params){.kernel_layout = MT_KERNEL_HWIO,
                                                    .stride_h = -1}, &v),
                 MT_ERR_INVALID_ARGUMENT, "stride");
    assert_fails(mt_tape_max_pool2d(tape, px, NULL, &v), MT_ERR_INVALID_ARGUMENT,
                 "params is NULL");
    assert_fails(mt_tape_avg_pool2d(tape, px, &(mt_pool2d_params){.pool_h = 2, .pool_w = 2,
                                                                 .dilation_h = 2}, &v),
                 MT_ERR_INVALID_ARGUMENT, "must be 1 for an average");
    assert_fails(mt_tape_max_pool2d(tape, px, &(mt_pool2d_params){.pool_h = 2, .pool_w = 2,
                 .padding = MT_PADDING_EXPLICIT, .pad_top = 2}, &v),
                 MT_ERR_INVALID_ARGUMENT, "at most half the window");
    assert_fails(mt_tape_global_avg_pool2d(tape, pk, MT_DATA_LAYOUT_NHWC + 7, false, &v),
                 MT_ERR_INVALID_ARGUMENT, "unknown data_layout");
    mt_value *flat;
    assert_ok(mt_tape_reshape(tape, px, 2, (int64_t[]){5, 15}, &flat));
    assert_fails(mt_tape_max_pool2d(tape, flat, &(mt_pool2d_params){.pool_h = 2, .pool_w = 2},
                                   &v), MT_ERR_SHAPE, "must be 4-D");
    assert_null(v);
    mt_param_free(px);
    mt_param_free(pk);
    mt_param_free(pk3);
    mt_tensor_free(x);
    mt_tensor_free(k);
    mt_tensor_free(k3);
    mt_tape_free(tape);
}

/* ---- errors ------------------------------------------------------------------------ */

static void test_errors(void **state)
{
    (void)state;
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    mt_tensor *a, *b;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, &a));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){4, 5}, &b));
    mt_value *pa, *pb, *v = NULL, *loss;
    assert_ok(mt_param_new(a, "a", &pa));
    assert_ok(mt_param_new(b, "b", &pb));
    assert_fails(mt_tape_add(tape, pa, pb, &v), MT_ERR_SHAPE, "do not broadcast: a [2,3] and b [4,5]");
    assert_null(v);
    assert_fails(mt_tape_matmul(tape, pa, pb, &v), MT_ERR_SHAPE, "inner dimensions differ");
    assert_fails(mt_tape_add(NULL, pa, pb, &v), MT_ERR_INVALID_ARGUMENT, "tape is NULL");
    assert_fails(mt_tape_add(tape, pa, NULL, &v), MT_ERR_INVALID_ARGUMENT, "input 1 is NULL");
    assert_fails(mt_tape_relu(tape, pa, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_tape_dropout(tape, pa, 1.0f, NULL, &v), MT_ERR_INVALID_ARGUMENT, "p = 1");
    mt_tensor *labels;
    assert_ok(mt_tensor_zeros(MT_DTYPE_I64, 1, (int64_t[]){2}, &labels));
    ((int64_t *)labels->data)[1] = 3;
    assert_fails(mt_tape_cross_entropy(tape, pa, labels, NULL, &v), MT_ERR_INVALID_ARGUMENT,
                 "target[1] = 3 is not a class in 0..2");
    mt_value *c;
    assert_ok(mt_tape_constant(tape, a, &c));
    assert_ok(mt_tape_sum_all(tape, c, &loss));
    assert_fails(mt_tape_backward(tape, loss), MT_ERR_INVALID_ARGUMENT,
                 "does not depend on any parameter");
    mt_tape_grad_set(tape, false);
    assert_ok(mt_tape_sum_all(tape, pa, &loss));
    assert_fails(mt_tape_backward(tape, loss), MT_ERR_INVALID_ARGUMENT,
                 "does not depend on any parameter (gradients are off: mt_tape_grad_set)");
    mt_tape_grad_set(tape, true);
    mt_value *pt;
    assert_ok(mt_tape_transpose(tape, pa, 0, 1, &pt));
    assert_fails(mt_tape_reshape(tape, pt, 1, (int64_t[]){6}, &v), MT_ERR_SHAPE,
                 "tape_reshape: view: cannot view non-contiguous a [3,2] as [6]; use mt_reshape "
                 "(copies) or mt_tensor_contiguous (on a tape: mt_tape_contiguous, then reshape)");
    assert_ok(mt_tape_sum_all(tape, pa, &loss));
    assert_fails(mt_tape_backward(tape, pa), MT_ERR_SHAPE, "must hold one element");
    assert_ok(mt_tape_backward(tape, loss));
    assert_fails(mt_tape_backward(tape, loss), MT_ERR_INVALID_ARGUMENT, "walked already");
    assert_fails(mt_tape_relu(tape, pa, &v), MT_ERR_INVALID_ARGUMENT, "reset it first");
    assert_fails(mt_param_new(labels, "l", &v), MT_ERR_DTYPE, "");
    mt_tensor_free(labels);
    mt_param_free(pa);
    mt_param_free(pb);
    mt_tensor_free(a);
    mt_tensor_free(b);
    mt_tape_free(tape);
}

/* A value of another tape (or from before a reset) fed to an op: backward on
 * this tape would stop at it and its own tape's ops would never pass the
 * gradient on to the parameters (w's gradient stayed zero, silently). */
static void test_values_of_another_tape_are_refused(void **state)
{
    (void)state;
    mt_tape *ta, *tb;
    assert_ok(mt_tape_new(&ta));
    assert_ok(mt_tape_new(&tb));
    mt_tensor *t;
    assert_ok(mt_tensor_full(2, (int64_t[]){2, 3}, 2.0f, &t));
    mt_value *w, *sq, *v = NULL, *loss, *bias;
    assert_ok(mt_param_new(t, "w", &w));
    assert_ok(mt_tape_mul(ta, w, w, &sq));
    assert_fails(mt_tape_sum_all(tb, sq, &v), MT_ERR_INVALID_ARGUMENT,
                 "tape_sum_all: input 0 [2,3] is not a value of this tape");
    assert_fails(mt_tape_concat(tb, (mt_value *[]){w, sq}, 2, 0, &v), MT_ERR_INVALID_ARGUMENT,
                 "tape_concat: input 1 [2,3] is not a value of this tape");
    assert_ok(mt_tape_sum_all(ta, w, &bias));   /* [] */
    assert_ok(mt_tape_reshape(ta, bias, 1, (int64_t[]){1}, &bias));
    mt_value *x;
    assert_ok(mt_tape_constant(tb, t, &x));
    assert_ok(mt_tape_transpose(tb, x, 0, 1, &x));   /* [3,2] */
    mt_value *w1;
    mt_tensor *t1;
    assert_ok(mt_tensor_full(2, (int64_t[]){2, 1}, 1.0f, &t1));
    assert_ok(mt_param_new(t1, "w1", &w1));
    assert_fails(mt_tape_linear(tb, x, w1, bias, MT_ACTIVATION_NONE, &v),
                 MT_ERR_INVALID_ARGUMENT, "tape_linear: bias [1] is not a value of this tape");
    assert_ok(mt_tape_sum_all(ta, sq, &loss));
    assert_fails(mt_tape_backward(tb, loss), MT_ERR_INVALID_ARGUMENT,
                 "tape_backward: loss [] is not a value of this tape");
    mt_tape_reset(ta);
    assert_fails(mt_tape_relu(ta, sq, &v), MT_ERR_INVALID_ARGUMENT,
                 "tape_relu: input 0 [2,3] was recorded before the tape's last reset");
    assert_null(v);
    const float zero[6] = {0};
    assert_close(w->grad->data, zero, 6, 0.0, 0.0);
    /* the same graph on one tape: d sum(w²) / dw = 2w = 4 */
    assert_ok(mt_tape_mul(ta, w, w, &sq));
    assert_ok(mt_tape_sum_all(ta, sq, &loss));
    assert_ok(mt_tape_backward(ta, loss));
    const float four[6] = {4, 4, 4, 4, 4, 4};
    assert_close(w->grad->data, four, 6, 0.0, 0.0);
    mt_param_free(w);
    mt_param_free(w1);
    mt_tensor_free(t);
    mt_tensor_free(t1);
    mt_tape_free(ta);
    mt_tape_free(tb);
}

/* The losses' targets may be refilled (or freed) once the call returns, as a
 * training loop reuses its label buffer: backward read them through the
 * caller's pointer (a use-after-free under ASan, or the next batch's labels).
 * References by hand: d mean CE / d logits = (softmax - onehot) / N with
 * softmax(0) = 1/3; d sum MSE = 2(x - t); d mean BCE = (sigmoid(0) - t) / N. */
static void test_loss_targets_may_change_before_backward(void **state)
{
    (void)state;
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    mt_tensor *z23, *z3, *labels, *t3;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, &z23));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){3}, &z3));
    assert_ok(mt_tensor_from_data(MT_DTYPE_I32, 1, (int64_t[]){2}, (int32_t[]){0, 2}, &labels));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){3}, (float[]){1, 2, 3}, &t3));
    mt_value *logits, *x, *loss;
    assert_ok(mt_param_new(z23, "logits", &logits));
    assert_ok(mt_param_new(z3, "x", &x));
    assert_ok(mt_tape_cross_entropy(tape, logits, labels, NULL, &loss));
    ((int32_t *)labels->data)[0] = ((int32_t *)labels->data)[1] = 1;
    assert_ok(mt_tape_backward(tape, loss));
    const float third = 1.0f / 3.0f;
    assert_close(logits->grad->data,
                 ((float[]){(third - 1) / 2, third / 2, third / 2, third / 2, third / 2,
                            (third - 1) / 2}), 6, 1e-7, 1e-6);
    mt_tape_reset(tape);
    assert_ok(mt_tape_mse_loss(tape, x, t3, MT_REDUCTION_SUM, &loss));
    mt_tensor_fill(t3, 0.0f);
    assert_ok(mt_tape_backward(tape, loss));
    assert_close(x->grad->data, ((float[]){-2, -4, -6}), 3, 0.0, 1e-7);
    mt_tape_reset(tape);
    mt_param_zero_grad(x);
    float *td = t3->data;
    td[0] = 1, td[1] = 0, td[2] = 1;
    assert_ok(mt_tape_bce_with_logits(tape, x, t3, MT_REDUCTION_MEAN, &loss));
    mt_tensor_fill(t3, 0.5f);
    assert_ok(mt_tape_backward(tape, loss));
    assert_close(x->grad->data, ((float[]){-0.5f / 3, 0.5f / 3, -0.5f / 3}), 3, 1e-7, 1e-6);
    mt_param_free(logits);
    mt_param_free(x);
    mt_tensor_free(z23);
    mt_tensor_free(z3);
    mt_tensor_free(labels);
    mt_tensor_free(t3);
    mt_tape_free(tape);
}

/* cross_entropy's ignore_index against torch (make_train_refs.py ignore_index):
 * -100 (torch's default) with smoothing, an index inside 0..C-1 with a sum,
 * and every row ignored (NaN mean, zero gradient). */
static void test_cross_entropy_ignore_index_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st;
    assert_ok(mt_safetensors_open(REFS, &st));
    mt_tensor *logits0 = ref(st, "ce_ignore.logits");
    const char *names[3] = {"neg", "two", "all"};
    const mt_cross_entropy_options options[3] = {
        {.label_smoothing = 0.2f, .use_ignore_index = true, .ignore_index = -100},
        {.reduction = MT_REDUCTION_SUM, .label_smoothing = 0.1f, .use_ignore_index = true,
         .ignore_index = 2},
        {.label_smoothing = 0.3f, .use_ignore_index = true, .ignore_index = 2}};
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    for (int k = 0; k < 3; k++) {
        char key[48];
        snprintf(key, sizeof key, "ce_ignore.%s.labels", names[k]);
        mt_tensor *labels = ref(st, key);
        snprintf(key, sizeof key, "ce_ignore.%s.loss", names[k]);
        mt_tensor *want_loss = ref(st, key);
        snprintf(key, sizeof key, "ce_ignore.%s.grad", names[k]);
        mt_tensor *want_grad = ref(st, key);
        mt_value *logits, *loss;
        assert_ok(mt_param_new(logits0, "logits", &logits));
        mt_tape_reset(tape);
        assert_ok(mt_tape_cross_entropy(tape, logits, labels, &options[k], &loss));
        assert_close(loss->data->data, want_loss->data, 1, 1e-6, 1e-5);
        assert_ok(mt_tape_backward(tape, loss));
        assert_tensor_close(logits->grad, want_grad, 1e-7, 1e-5);
        mt_param_free(logits);
        mt_tensor_free(labels);
        mt_tensor_free(want_loss);
        mt_tensor_free(want_grad);
    }
    /* without use_ignore_index, -100 is no class */
    mt_tensor *labels = ref(st, "ce_ignore.neg.labels");
    mt_value *logits, *loss = NULL;
    assert_ok(mt_param_new(logits0, "logits", &logits));
    mt_tape_reset(tape);
    assert_fails(mt_tape_cross_entropy(tape, logits, labels, NULL, &loss),
                 MT_ERR_INVALID_ARGUMENT, "target[1] = -100 is not a class in 0..3");
    assert_null(loss);
    mt_param_free(logits);
    mt_tensor_free(labels);
    mt_tensor_free(logits0);
    mt_tape_free(tape);
    mt_safetensors_close(st);
}

/* binary_cross_entropy_with_logits(pos_weight=[3]) against torch
 * (make_train_refs.py bce_pos_weight); a pos_weight that does not broadcast
 * is refused. */
static void test_bce_pos_weight_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st;
    assert_ok(mt_safetensors_open(REFS, &st));
    mt_tensor *x0 = ref(st, "bce_pw.x"), *target = ref(st, "bce_pw.target"),
              *pos_weight = ref(st, "bce_pw.pos_weight"), *want_loss = ref(st, "bce_pw.loss"),
              *want_grad = ref(st, "bce_pw.grad");
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    mt_value *x, *loss = NULL;
    assert_ok(mt_param_new(x0, "x", &x));
    mt_tensor *pw2;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){2}, &pw2));
    assert_fails(mt_tape_bce_with_logits_pos_weight(tape, x, target, pw2, MT_REDUCTION_MEAN,
                                                    &loss), MT_ERR_SHAPE,
                 "tape_bce_with_logits: pos_weight [2] does not broadcast to input x [4,3]");
    assert_null(loss);
    assert_ok(mt_tape_bce_with_logits_pos_weight(tape, x, target, pos_weight,
                                                 MT_REDUCTION_MEAN, &loss));
    assert_close(loss->data->data, want_loss->data, 1, 1e-6, 1e-5);
    assert_ok(mt_tape_backward(tape, loss));
    assert_tensor_close(x->grad, want_grad, 1e-7, 1e-5);
    mt_param_free(x);
    mt_tensor_free(x0), mt_tensor_free(target), mt_tensor_free(pos_weight);
    mt_tensor_free(want_loss), mt_tensor_free(want_grad), mt_tensor_free(pw2);
    mt_tape_free(tape);
    mt_safetensors_close(st);
}

/* the differentiable op set and the one-block character transformer: their
 * own files */
#include "train/fd_rows_ops.h"

static void test_finite_differences_ops(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fd_cases_ops / sizeof fd_cases_ops[0]; i++)
        check_case(&fd_cases_ops[i], false);
}

#include "train/block_test.h"

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_mlp_gradients_match_pytorch),
        cmocka_unit_test(test_training_step_allocates_nothing_after_the_first),
        cmocka_unit_test(test_cnn_gradients_match_pytorch),
        cmocka_unit_test(test_maxpool_winner_as_torch),
        cmocka_unit_test(test_conv_pool_errors),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_values_of_another_tape_are_refused),
        cmocka_unit_test(test_loss_targets_may_change_before_backward),
        cmocka_unit_test(test_cross_entropy_ignore_index_matches_pytorch),
        cmocka_unit_test(test_bce_pos_weight_matches_pytorch),
        cmocka_unit_test(test_finite_differences_ops),
        cmocka_unit_test(test_ops_match_pytorch),
        cmocka_unit_test(test_op_conventions),
        cmocka_unit_test(test_batch_norm_running_statistics),
        cmocka_unit_test(test_transformer_block_matches_pytorch),
        cmocka_unit_test(test_transformer_step_allocates_nothing_after_the_first),
        cmocka_unit_test(test_errors_ops),
        cmocka_unit_test(test_every_unary_op_has_a_tape_op_and_a_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
