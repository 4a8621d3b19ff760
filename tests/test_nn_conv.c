/* test_nn_conv.c — nn/'s Conv2D and MaxPool2D layers: hand-computed values,
 * both kernel layouts, a Keras CNN using every option against TensorFlow's
 * own layer outputs and logits (reference/make_nn_conv_refs.py), also
 * frozen (and then blind to a changed kernel until frozen again), every
 * construction and shape error with its message, ReLU folding, no heap
 * allocation after the first forward pass, and a Keras DepthwiseConv2D
 * loaded by its variable paths against Keras' outputs
 * (reference/make_keras_depthwise_refs.py). */
#include "test_util.h"
#include "reference/nn_conv_refs.h"

/* A new F32 tensor holding a copy of data (zeros if NULL). */
static mt_tensor *make(const char *name, int rank, const int64_t *shape,
                       const float *data)
{
    mt_tensor *t = NULL;
    if (data)
        assert_ok(mt_tensor_from_data(MT_DTYPE_F32, rank, shape, data, &t));
    else
        assert_ok(mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t));
    if (name)
        assert_ok(mt_tensor_name_set(t, name));
    return t;
}

static void assert_shape(const mt_tensor *t, int rank, const int64_t *shape)
{
    assert_int_equal(t->rank, rank);
    for (int d = 0; d < rank; d++)
        assert_int_equal(t->shape[d], shape[d]);
}

/* The values of any (possibly strided) F32 tensor, row-major, against want. */
static void assert_values(const mt_tensor *t, const float *want, double atol, double rtol)
{
    mt_tensor *c = NULL;
    assert_ok(mt_tensor_contiguous(t, &c));
    assert_close((const float *)c->data, want, (size_t)mt_tensor_numel(c), atol, rtol);
    mt_tensor_free(c);
}

/* HWIO -> OIHW (PyTorch), a new contiguous tensor named `name`. */
static mt_tensor *to_oihw(const mt_tensor *hwio, const char *name)
{
    mt_tensor *view = NULL, *t = NULL;
    assert_ok(mt_permute(hwio, (int[]){3, 2, 0, 1}, &view));
    assert_ok(mt_tensor_contiguous(view, &t));
    assert_ok(mt_tensor_name_set(t, name));
    mt_tensor_free(view);
    return t;
}

/* ---- hand-computed cases ---------------------------------------------------------
 * x [1,3,3,1] = 1..9 (row-major). A 2x2 kernel, 2 output channels:
 *   ch0 [[1,0],[0,-1]]: x[i,j] - x[i+1,j+1]       = -4 everywhere
 *   ch1 [[0,1],[1,0]]:  x[i,j+1] + x[i+1,j]       = 6, 8, 12, 14
 * bias [0.5, -10]: ch0 -3.5; ch1 -4, -2, 2, 4. ReLU: ch0 0; ch1 0, 0, 2, 4.
 * Output NHWC [1,2,2,2], pixel by pixel (ch0, ch1). */
static const float X9[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const float K_HWIO[] = {1, 0, 0, 1, 0, 1, -1, 0};   /* [2,2,1,2] */
static const float K_OIHW[] = {1, 0, 0, -1, 0, 1, 1, 0};   /* [2,1,2,2] */
static const float B2[] = {0.5f, -10};
static const float Y_NO_BIAS[] = {-4, 6, -4, 8, -4, 12, -4, 14};
static const float Y_BIAS[] = {-3.5f, -4, -3.5f, -2, -3.5f, 2, -3.5f, 4};
static const float Y_RELU[] = {0, 0, 0, 0, 0, 2, 0, 4};

static void conv2d_hand_values_both_layouts(void **state)
{
    (void)state;
    mt_tensor *x = make(NULL, 4, (int64_t[]){1, 3, 3, 1}, X9);
    mt_tensor *hwio = make("k", 4, (int64_t[]){2, 2, 1, 2}, K_HWIO);
    mt_tensor *oihw = make("k", 4, (int64_t[]){2, 1, 2, 2}, K_OIHW);
    mt_tensor *b = make("b", 1, (int64_t[]){2}, B2);
    for (int layout = 0; layout < 2; layout++) {
        mt_tensor *k = layout ? oihw : hwio;
        mt_kernel_layout kl = layout ? MT_KERNEL_OIHW : MT_KERNEL_HWIO;
        const struct { const mt_tensor *bias; mt_activation act; const float *want; } cases[] = {
            {NULL, MT_ACTIVATION_NONE, Y_NO_BIAS},
            {b, MT_ACTIVATION_NONE, Y_BIAS},
            {b, MT_ACTIVATION_RELU, Y_RELU},
        };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            mt_layer *l = NULL;
            mt_tensor *y = NULL;
            assert_ok(mt_conv2d_new(k, cases[c].bias,
                                    &(mt_conv2d_options){.layout = kl, .act = cases[c].act},
                                    &l));
            assert_ok(mt_layer_forward(l, x, &y));
            assert_shape(y, 4, (int64_t[]){1, 2, 2, 2});
            assert_values(y, cases[c].want, 1e-6, 1e-6);
            mt_layer_info info;
            assert_ok(mt_layer_info_get(l, &info));
            assert_int_equal(info.kind, MT_LAYER_CONV2D);
            assert_string_equal(info.name, "conv2d k");
            assert_int_equal(info.kernel_layout, kl);
            assert_int_equal(info.in_channels, 1);
            assert_int_equal(info.out_channels, 2);
            assert_int_equal(info.kernel_h, 2);
            assert_int_equal(info.kernel_w, 2);
            assert_int_equal(info.stride_h, 1);   /* 0 in the options: Keras' 1 */
            assert_int_equal(info.stride_w, 1);
            assert_int_equal(info.padding, MT_PADDING_VALID);
            assert_int_equal(info.has_bias, cases[c].bias != NULL);
            assert_int_equal(info.act, cases[c].act);
            mt_tensor_free(y);
            mt_layer_free(l);
        }
    }
    mt_tensor_free(b);
    mt_tensor_free(oihw);
    mt_tensor_free(hwio);
    mt_tensor_free(x);
}

/* Strides and SAME padding by hand: x 1..9 [1,3,3,1], 1x1 kernel [[2]],
 * stride 2: x[0,0], x[0,2], x[2,0], x[2,2] doubled. A 2x2 all-ones kernel
 * with SAME padding (total 1, at the bottom/right): sums of 2x2 windows,
 * cut off at the edge: [12,16,9; 24,28,15; 15,17,9]. */
static void conv2d_strides_and_same_padding(void **state)
{
    (void)state;
    mt_tensor *x = make(NULL, 4, (int64_t[]){1, 3, 3, 1}, X9);
    mt_tensor *k1 = make("k1", 4, (int64_t[]){1, 1, 1, 1}, (float[]){2});
    mt_tensor *ones = make("ones", 4, (int64_t[]){2, 2, 1, 1}, (float[]){1, 1, 1, 1});
    mt_layer *l = NULL;
    mt_tensor *y = NULL;
    assert_ok(mt_conv2d_new(k1, NULL, &(mt_conv2d_options){.stride_h = 2, .stride_w = 2},
                            &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_shape(y, 4, (int64_t[]){1, 2, 2, 1});
    assert_values(y, (float[]){2, 6, 14, 18}, 0, 0);
    mt_tensor_free(y);
    mt_layer_free(l);
    assert_ok(mt_conv2d_new(ones, NULL, &(mt_conv2d_options){.padding = MT_PADDING_SAME}, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_shape(y, 4, (int64_t[]){1, 3, 3, 1});
    assert_values(y, (float[]){12, 16, 9, 24, 28, 15, 15, 17, 9}, 0, 0);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(ones);
    mt_tensor_free(k1);
    mt_tensor_free(x);
}

/* x 1..9 as [1,3,3,1]: 2x2 windows. */
static void max_pool2d_hand_values(void **state)
{
    (void)state;
    mt_tensor *x = make(NULL, 4, (int64_t[]){1, 3, 3, 1}, X9);
    const struct {
        mt_max_pool2d_options o;
        int64_t oh, ow;
        float want[4];
    } cases[] = {
        /* stride = pool (Keras' default); valid drops row/col 2 */
        {{.pool_h = 2, .pool_w = 2}, 1, 1, {5}},
        /* same: the windows at the edge see what is there */
        {{.pool_h = 2, .pool_w = 2, .padding = MT_PADDING_SAME}, 2, 2, {5, 6, 8, 9}},
        {{.pool_h = 2, .pool_w = 2, .stride_h = 1, .stride_w = 1}, 2, 2, {5, 6, 8, 9}},
        {{.pool_h = 3, .pool_w = 1, .stride_w = 2}, 1, 2, {7, 9}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        mt_layer *l = NULL;
        mt_tensor *y = NULL;
        assert_ok(mt_max_pool2d_new(&cases[c].o, &l));
        assert_ok(mt_layer_forward(l, x, &y));
        assert_shape(y, 4, (int64_t[]){1, cases[c].oh, cases[c].ow, 1});
        assert_values(y, cases[c].want, 0, 0);
        mt_layer_info info;
        assert_ok(mt_layer_info_get(l, &info));
        assert_int_equal(info.kind, MT_LAYER_MAXPOOL2D);
        assert_int_equal(info.kernel_h, cases[c].o.pool_h);
        assert_int_equal(info.stride_h, cases[c].o.stride_h ? cases[c].o.stride_h
                                                             : cases[c].o.pool_h);
        assert_int_equal(info.stride_w, cases[c].o.stride_w ? cases[c].o.stride_w
                                                             : cases[c].o.pool_w);
        mt_tensor_free(y);
        mt_layer_free(l);
    }
    mt_layer *l = NULL;
    assert_ok(mt_max_pool2d_new(&(mt_max_pool2d_options){.pool_h = 2, .pool_w = 3}, &l));
    mt_layer_info info;
    assert_ok(mt_layer_info_get(l, &info));
    assert_string_equal(info.name, "max_pool2d 2x3");
    mt_layer_free(l);
    mt_tensor_free(x);

    /* NaN wins wherever it is in the window (as tf.nn.max_pool2d); -inf
     * is a value like any other. 2 channels: the channel loop is the inner
     * one, so check that channels do not mix. x [1,2,2,2]. */
    const float nan_in[] = {1, -INFINITY, NAN, -INFINITY, 3, -INFINITY, 2, -INFINITY};
    x = make(NULL, 4, (int64_t[]){1, 2, 2, 2}, nan_in);
    mt_tensor *y = NULL;
    assert_ok(mt_max_pool2d_new(&(mt_max_pool2d_options){.pool_h = 2, .pool_w = 2}, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_shape(y, 4, (int64_t[]){1, 1, 1, 2});
    assert_true(isnan(((const float *)y->data)[0]));
    assert_true(isinf(((const float *)y->data)[1]) && ((const float *)y->data)[1] < 0);
    mt_tensor_free(y);
    /* the same through a strided view: every other channel of a [1,2,2,4]
     * tensor (channel stride 2) */
    mt_tensor *wide = make(NULL, 4, (int64_t[]){1, 2, 2, 4}, (float[]){
        1, 0, -INFINITY, 0, NAN, 0, -INFINITY, 0, 3, 0, -INFINITY, 0, 2, 0, -INFINITY, 0});
    mt_tensor *perm = NULL;
    assert_ok(mt_view(wide, 5, (int64_t[]){1, 2, 2, 2, 2}, &perm));
    mt_tensor even;
    assert_ok(mt_narrow_into(perm, 4, 0, 1, &even));   /* [1,2,2,2,1] */
    mt_tensor strided;
    assert_ok(mt_view_into(&even, 4, (int64_t[]){1, 2, 2, 2}, &strided));
    assert_int_equal(strided.stride[3], 2);
    assert_ok(mt_layer_forward(l, &strided, &y));
    assert_true(isnan(((const float *)y->data)[0]));
    assert_true(isinf(((const float *)y->data)[1]));
    mt_tensor_free(y);
    mt_tensor_free(perm);
    mt_tensor_free(wide);
    mt_layer_free(l);
    mt_tensor_free(x);
}

/* The layer references the caller's F32 kernel (no copy) and keeps it alive;
 * a non-contiguous or F16 kernel is copied to contiguous F32 once. */
static void conv2d_kernel_ownership(void **state)
{
    (void)state;
    float k[8];
    memcpy(k, K_HWIO, sizeof k);
    mt_tensor *x = make(NULL, 4, (int64_t[]){1, 3, 3, 1}, X9);
    mt_tensor *wrapped = NULL, *y = NULL;
    assert_ok(mt_tensor_wrap(MT_DTYPE_F32, 4, (int64_t[]){2, 2, 1, 2}, k, &wrapped));
    mt_layer *l = NULL;
    assert_ok(mt_conv2d_new(wrapped, NULL, NULL, &l));
    mt_tensor_free(wrapped);                     /* the layer holds its own reference */
    for (int i = 0; i < 8; i++)
        k[i] *= 2;                               /* seen through the reference */
    assert_ok(mt_layer_forward(l, x, &y));
    const float doubled[] = {-8, 12, -8, 16, -8, 24, -8, 28};
    assert_values(y, doubled, 0, 0);
    mt_tensor_free(y);
    mt_layer_free(l);

    /* Frozen in a model: a private copy, blind to the caller's writes until
     * frozen again. */
    memcpy(k, K_HWIO, sizeof k);
    mt_sequential *m = NULL;
    const mt_tensor *ys = NULL;
    assert_ok(mt_sequential_new(3, (int64_t[]){3, 3, 1}, &m));
    assert_ok(mt_tensor_wrap(MT_DTYPE_F32, 4, (int64_t[]){2, 2, 1, 2}, k, &wrapped));
    assert_ok(mt_conv2d_new(wrapped, NULL, NULL, &l));
    mt_tensor_free(wrapped);
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_sequential_freeze(m));
    for (int i = 0; i < 8; i++)
        k[i] *= 2;
    assert_ok(mt_sequential_forward(m, x, &ys));
    assert_values(ys, Y_NO_BIAS, 0, 0);
    assert_ok(mt_sequential_freeze(m));
    assert_ok(mt_sequential_forward(m, x, &ys));
    assert_values(ys, doubled, 0, 0);
    mt_sequential_free(m);

    /* An OIHW kernel given as a permuted view of the HWIO one: not
     * contiguous, so the layer copies it, and computes the same. */
    mt_tensor *hwio = make("k", 4, (int64_t[]){2, 2, 1, 2}, K_HWIO), *view = NULL;
    assert_ok(mt_permute(hwio, (int[]){3, 2, 0, 1}, &view));
    assert_false(mt_tensor_is_contiguous(view));
    assert_ok(mt_conv2d_new(view, NULL, &(mt_conv2d_options){.layout = MT_KERNEL_OIHW}, &l));
    mt_tensor_free(view);
    mt_tensor_free(hwio);
    assert_ok(mt_layer_forward(l, x, &y));
    assert_values(y, Y_NO_BIAS, 0, 0);
    mt_tensor_free(y);
    mt_layer_free(l);

    /* F16 kernel and bias (exact in F16): converted at construction. */
    mt_tensor *k32 = make("k16", 4, (int64_t[]){2, 2, 1, 2}, K_HWIO), *b32 = make(
                  "b16", 1, (int64_t[]){2}, B2), *k16 = NULL, *b16 = NULL;
    uint16_t kh[8], bh[2];
    for (int i = 0; i < 8; i++)   /* 1 -> 0x3c00, -1 -> 0xbc00, 0 -> 0 */
        kh[i] = K_HWIO[i] == 1 ? 0x3c00 : K_HWIO[i] == -1 ? 0xbc00 : 0;
    bh[0] = 0x3800;   /* 0.5 */
    bh[1] = 0xc900;   /* -10 */
    assert_ok(mt_tensor_from_data(MT_DTYPE_F16, 4, (int64_t[]){2, 2, 1, 2}, kh, &k16));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F16, 1, (int64_t[]){2}, bh, &b16));
    assert_ok(mt_conv2d_new(k16, b16, &(mt_conv2d_options){.act = MT_ACTIVATION_RELU}, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_values(y, Y_RELU, 0, 0);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(k16);
    mt_tensor_free(b16);
    mt_tensor_free(k32);
    mt_tensor_free(b32);
    mt_tensor_free(x);
}

/* ---- the Keras CNN against TensorFlow ------------------------------------------------ */

typedef struct cnn_file {
    void *buf;
    mt_safetensors *st;
} cnn_file;

/* The reference weights as a safetensors file in memory, kernels in Keras
 * HWIO or (oihw) PyTorch OIHW layout. */
static cnn_file cnn_weights(bool oihw)
{
    static const char *names[] = {"c1_w", "c1_b", "c2_w", "c2_b", "d_w", "d_b"};
    const float *data[] = {CNN_C1_W, CNN_C1_B, CNN_C2_W, CNN_C2_B, CNN_D_W, CNN_D_B};
    const int64_t shapes[][4] = {{3, 2, 2, 4}, {4}, {2, 2, 4, 3}, {3}, {6, 5}, {5}};
    const int ranks[] = {4, 1, 4, 1, 2, 1};
    mt_tensor *t[6];
    mt_safetensors_item items[6];
    for (int i = 0; i < 6; i++) {
        t[i] = make(names[i], ranks[i], shapes[i], data[i]);
        if (oihw && ranks[i] == 4) {
            mt_tensor *o = to_oihw(t[i], names[i]);
            mt_tensor_free(t[i]);
            t[i] = o;
        }
        items[i] = (mt_safetensors_item){names[i], 0, t[i]};
    }
    cnn_file f = {0};
    size_t size = 0;
    assert_ok(mt_safetensors_serialize(items, 6, NULL, 0, &f.buf, &size));
    assert_ok(mt_safetensors_open_memory(f.buf, size, &f.st));
    for (int i = 0; i < 6; i++)
        mt_tensor_free(t[i]);
    return f;
}

static void cnn_close(cnn_file *f)
{
    mt_safetensors_close(f->st);
    mt_safetensors_buffer_free(f->buf);
}

/* The model of make_nn_conv_refs.py, layer by layer (the ReLU as a layer of
 * its own after c2, as Keras has it). */
static mt_sequential *cnn_model(const mt_safetensors *st, mt_kernel_layout layout)
{
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_sequential_new(3, (int64_t[]){9, 8, 2}, &m));
    assert_ok(mt_conv2d_from_safetensors(st, "c1_w", "c1_b",
        &(mt_conv2d_options){.layout = layout, .in_channels = 2, .out_channels = 4,
                             .kernel_h = 3, .kernel_w = 2, .stride_h = 2, .stride_w = 1,
                             .padding = MT_PADDING_SAME, .act = MT_ACTIVATION_RELU},
        &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_max_pool2d_new(&(mt_max_pool2d_options){.pool_h = 2, .pool_w = 3,
                                                       .stride_h = 1, .stride_w = 2,
                                                       .padding = MT_PADDING_SAME}, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_conv2d_from_safetensors(st, "c2_w", "c2_b",
                                         &(mt_conv2d_options){.layout = layout}, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_relu_new(&l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_max_pool2d_new(&(mt_max_pool2d_options){.pool_h = 2, .pool_w = 2}, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_flatten_new(1, -1, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_linear_from_safetensors(st, "d_w", "d_b",
                                         &(mt_linear_options){.out_features = 5}, &l));
    assert_ok(mt_sequential_add(m, l));
    return m;
}

/* Every layer alone, then the whole model, against Keras, in both layouts. */
static void keras_cnn_matches_tensorflow(void **state)
{
    (void)state;
    mt_tensor *x = make(NULL, 4, (int64_t[]){3, 9, 8, 2}, CNN_X);
    const float *layer_refs[] = {CNN_Y_C1, CNN_Y_P1, CNN_Y_C2, CNN_Y_R2, CNN_Y_P2};
    const int64_t layer_shapes[][4] = {
        {3, 5, 8, 4}, {3, 5, 4, 4}, {3, 4, 3, 3}, {3, 4, 3, 3}, {3, 2, 1, 3}};
    for (int oihw = 0; oihw < 2; oihw++) {
        cnn_file f = cnn_weights(oihw);
        mt_sequential *m = cnn_model(f.st, oihw ? MT_KERNEL_OIHW : MT_KERNEL_HWIO);
        assert_int_equal(mt_sequential_count(m), 7);
        /* layer by layer, each fed Keras' own output of the layer before */
        const mt_tensor *in = x;
        mt_tensor *prev = NULL;
        for (int i = 0; i < 5; i++) {
            mt_tensor *y = NULL;
            assert_ok(mt_layer_forward(mt_sequential_layer(m, i), in, &y));
            assert_shape(y, 4, layer_shapes[i]);
            assert_values(y, layer_refs[i], 1e-5, 1e-5);
            mt_tensor_free(y);
            mt_tensor_free(prev);
            prev = make(NULL, 4, layer_shapes[i], layer_refs[i]);
            in = prev;
        }
        mt_tensor_free(prev);
        /* the model */
        const mt_tensor *y = NULL;
        assert_ok(mt_sequential_forward(m, x, &y));
        assert_shape(y, 2, (int64_t[]){3, 5});
        assert_values(y, CNN_Y, 1e-5, 1e-5);
        /* one image alone, a view into the batch */
        mt_tensor one;
        assert_ok(mt_narrow_into(x, 0, 2, 1, &one));
        assert_ok(mt_sequential_forward(m, &one, &y));
        assert_shape(y, 2, (int64_t[]){1, 5});
        assert_values(y, CNN_Y + 10, 1e-5, 1e-5);
        /* frozen: the same numbers from the layers' own copies */
        assert_ok(mt_sequential_freeze(m));
        assert_ok(mt_sequential_forward(m, x, &y));
        assert_values(y, CNN_Y, 1e-5, 1e-5);
        assert_ok(mt_sequential_forward(m, &one, &y));
        assert_values(y, CNN_Y + 10, 1e-5, 1e-5);
        mt_sequential_free(m);
        cnn_close(&f);
    }
    mt_tensor_free(x);
}

/* Conv2D then a ReLU layer (PyTorch style) computes what Conv2D with a fused
 * ReLU computes: the Sequential folds the ReLU into the conv's GEMM. */
static void relu_after_conv2d_is_folded(void **state)
{
    (void)state;
    mt_tensor *x = make(NULL, 4, (int64_t[]){1, 3, 3, 1}, X9);
    mt_tensor *k = make("k", 4, (int64_t[]){2, 2, 1, 2}, K_HWIO);
    mt_tensor *b = make("b", 1, (int64_t[]){2}, B2);
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_sequential_new(3, (int64_t[]){3, 3, 1}, &m));
    assert_ok(mt_conv2d_new(k, b, NULL, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_relu_new(&l));
    assert_ok(mt_sequential_add(m, l));
    const mt_tensor *y = NULL;
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_values(y, Y_RELU, 0, 0);
    mt_sequential_free(m);
    mt_tensor_free(b);
    mt_tensor_free(k);
    mt_tensor_free(x);
}

/* ---- errors ------------------------------------------------------------------------- */

static void conv2d_construction_errors(void **state)
{
    (void)state;
    mt_tensor *k = make("conv1_w", 4, (int64_t[]){3, 3, 1, 32}, NULL), *k3 = NULL;
    mt_tensor *b = make("conv1_b", 1, (int64_t[]){32}, NULL);
    mt_tensor *b16 = make("conv1_b", 1, (int64_t[]){16}, NULL);
    mt_tensor *b2d = make("conv1_b", 2, (int64_t[]){32, 1}, NULL);
    mt_tensor *empty = make("e", 4, (int64_t[]){3, 3, 0, 32}, NULL);
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){3, 3, 32}, &k3));
    assert_ok(mt_tensor_name_set(k3, "conv1_w"));
    mt_layer *l = (mt_layer *)1;

    assert_fails(mt_conv2d_new(NULL, b, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "conv2d: kernel is NULL");
    assert_fails(mt_conv2d_new(k, b, NULL, NULL), MT_ERR_INVALID_ARGUMENT,
                 "conv2d: out is NULL");
    assert_fails(mt_conv2d_new(k3, b, NULL, &l), MT_ERR_SHAPE,
                 "conv2d conv1_w: kernel conv1_w [3,3,32], expected 4 dims (Keras "
                 "(kh,kw,in,out))");
    assert_null(l);   /* *out is NULL on failure */
    assert_fails(mt_conv2d_new(k, b2d, NULL, &l), MT_ERR_SHAPE,
                 "conv2d conv1_w: bias conv1_b [32,1], expected 1 dim");
    assert_fails(mt_conv2d_new(empty, NULL, NULL, &l), MT_ERR_SHAPE,
                 "conv2d e: kernel e [3,3,0,32] is empty (Keras (kh,kw,in,out))");
    assert_fails(mt_conv2d_new(k, b16, NULL, &l), MT_ERR_SHAPE,
                 "conv2d conv1_w: bias conv1_b [16], expected [32] (the out channels of "
                 "kernel conv1_w [3,3,1,32], Keras (kh,kw,in,out))");
    /* options that the kernel does not meet: the shape it should have had */
    assert_fails(mt_conv2d_new(k, b, &(mt_conv2d_options){.out_channels = 16}, &l),
                 MT_ERR_SHAPE, "conv2d conv1_w: kernel conv1_w [3,3,1,32], expected "
                 "[3,3,1,16] (Keras (kh,kw,in,out))");
    assert_fails(mt_conv2d_new(k, b, &(mt_conv2d_options){.in_channels = 3,
                                                          .kernel_h = 5, .kernel_w = 5},
                               &l),
                 MT_ERR_SHAPE, "kernel conv1_w [3,3,1,32], expected [5,5,3,32]");
    /* the same file read as PyTorch's (out,in,kh,kw): a different reading */
    assert_fails(mt_conv2d_new(k, b, &(mt_conv2d_options){.layout = MT_KERNEL_OIHW}, &l),
                 MT_ERR_SHAPE, "conv2d conv1_w: bias conv1_b [32], expected [3] (the out "
                 "channels of kernel conv1_w [3,3,1,32], PyTorch (out,in,kh,kw))");
    assert_fails(mt_conv2d_new(k, b, &(mt_conv2d_options){.layout = MT_KERNEL_OIHW,
                                                          .out_channels = 32}, &l),
                 MT_ERR_SHAPE, "kernel conv1_w [3,3,1,32], expected [32,3,1,32] (PyTorch "
                 "(out,in,kh,kw))");
    /* bad options */
    assert_fails(mt_conv2d_new(k, b, &(mt_conv2d_options){.layout = 7}, &l),
                 MT_ERR_INVALID_ARGUMENT, "conv2d conv1_w: unknown kernel layout 7");
    assert_fails(mt_conv2d_new(k, b, &(mt_conv2d_options){.stride_w = -1}, &l),
                 MT_ERR_INVALID_ARGUMENT, "conv2d conv1_w: stride (0,-1) is negative");
    assert_fails(mt_conv2d_new(k, b, &(mt_conv2d_options){.out_channels = -2}, &l),
                 MT_ERR_INVALID_ARGUMENT,
                 "conv2d conv1_w: negative channel count or kernel size");
    assert_fails(mt_conv2d_new(k, b, &(mt_conv2d_options){.padding = 9}, &l),
                 MT_ERR_INVALID_ARGUMENT, "conv2d conv1_w: unknown padding 9");
    assert_fails(mt_conv2d_new(k, b, &(mt_conv2d_options){.act = 99}, &l),
                 MT_ERR_INVALID_ARGUMENT, "conv2d conv1_w: unknown activation 99");
    assert_null(l);

    /* from a safetensors file: missing tensors name the layer and the tensor */
    cnn_file f = cnn_weights(false);
    assert_fails(mt_conv2d_from_safetensors(f.st, "nope_w", "c1_b", NULL, &l),
                 MT_ERR_NOT_FOUND, "conv2d nope_w: safetensors: ");
    assert_true(strstr(mt_last_error(), "no tensor named 'nope_w'") != NULL);
    assert_fails(mt_conv2d_from_safetensors(f.st, "c1_w", "c1_bias", NULL, &l),
                 MT_ERR_NOT_FOUND, "no tensor named 'c1_bias'");
    assert_true(strstr(mt_last_error(), "conv2d c1_w: ") == mt_last_error());
    assert_fails(mt_conv2d_from_safetensors(f.st, "c1_w", "c2_b", NULL, &l), MT_ERR_SHAPE,
                 "conv2d c1_w: bias c2_b [3], expected [4] (the out channels of kernel "
                 "c1_w [3,2,2,4], Keras (kh,kw,in,out))");
    assert_fails(mt_conv2d_from_safetensors(f.st, "d_w", "d_b", NULL, &l), MT_ERR_SHAPE,
                 "conv2d d_w: kernel d_w [6,5], expected 4 dims");
    assert_fails(mt_conv2d_from_safetensors(NULL, "c1_w", NULL, NULL, &l),
                 MT_ERR_INVALID_ARGUMENT, "conv2d_from_safetensors: NULL argument");
    assert_ok(mt_conv2d_from_safetensors(f.st, "c1_w", NULL, NULL, &l));   /* no bias */
    mt_layer_info info;
    assert_ok(mt_layer_info_get(l, &info));
    assert_false(info.has_bias);
    mt_layer_free(l);
    cnn_close(&f);

    mt_tensor_free(k3);
    mt_tensor_free(empty);
    mt_tensor_free(b2d);
    mt_tensor_free(b16);
    mt_tensor_free(b);
    mt_tensor_free(k);
}

static void max_pool2d_construction_errors(void **state)
{
    (void)state;
    mt_layer *l = (mt_layer *)1;
    assert_fails(mt_max_pool2d_new(NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "max_pool2d: options is NULL");
    assert_fails(mt_max_pool2d_new(&(mt_max_pool2d_options){.pool_h = 2, .pool_w = 2}, NULL),
                 MT_ERR_INVALID_ARGUMENT, "max_pool2d: out is NULL");
    assert_fails(mt_max_pool2d_new(&(mt_max_pool2d_options){.pool_h = 2}, &l),
                 MT_ERR_INVALID_ARGUMENT, "max_pool2d: pool size (2,0), expected >= 1");
    assert_null(l);
    assert_fails(mt_max_pool2d_new(&(mt_max_pool2d_options){.pool_h = 2, .pool_w = 2,
                                                          .stride_h = -2}, &l),
                 MT_ERR_INVALID_ARGUMENT, "max_pool2d: stride (-2,0) is negative");
    assert_fails(mt_max_pool2d_new(&(mt_max_pool2d_options){.pool_h = 2, .pool_w = 2,
                                                          .padding = 3}, &l),
                 MT_ERR_INVALID_ARGUMENT, "max_pool2d: unknown padding 3");
}

/* Shapes checked when the model is built (and when a layer runs alone). */
static void shape_errors_when_built(void **state)
{
    (void)state;
    mt_tensor *k = make("conv1_w", 4, (int64_t[]){3, 3, 1, 32}, NULL);
    mt_tensor *k2 = make("conv2_w", 4, (int64_t[]){3, 3, 16, 64}, NULL);
    mt_sequential *m = NULL;
    mt_layer *l = NULL;

    /* [N,28,28]: no channel dim */
    assert_ok(mt_sequential_new(2, (int64_t[]){28, 28}, &m));
    assert_ok(mt_conv2d_new(k, NULL, NULL, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "sequential: layer 1 (conv2d conv1_w) expects NHWC input (4 dims: "
                 "N,H,W,C), the input gives 3 dims");
    assert_ok(mt_max_pool2d_new(&(mt_max_pool2d_options){.pool_h = 2, .pool_w = 2}, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "sequential: layer 1 (max_pool2d 2x2) expects NHWC input (4 dims: N,H,W,C), "
                 "the input gives 3 dims");
    mt_sequential_free(m);

    /* channels: 32 out of conv1, conv2 wants 16 */
    assert_ok(mt_sequential_new(3, (int64_t[]){28, 28, 1}, &m));
    assert_ok(mt_conv2d_new(k, NULL, NULL, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_conv2d_new(k2, NULL, NULL, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "sequential: layer 2 (conv2d conv2_w) expects 16 input channels, the "
                 "previous layer gives 32");
    /* a Dense straight after a conv, without Flatten: acts on the channels */
    mt_tensor *w = make("d1_w", 2, (int64_t[]){800, 10}, NULL);
    assert_ok(mt_linear_new(w, NULL, &(mt_linear_options){.layout = MT_LAYOUT_IN_OUT}, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "sequential: layer 2 (linear d1_w) expects 800 input features, the "
                 "previous layer gives 32");
    /* a window that does not fit: 26x26 -> pool 13 stride 13 -> 2x2 -> conv 3x3 */
    assert_ok(mt_max_pool2d_new(&(mt_max_pool2d_options){.pool_h = 13, .pool_w = 13}, &l));
    assert_ok(mt_sequential_add(m, l));
    mt_tensor *k3 = make("conv3_w", 4, (int64_t[]){3, 3, 32, 8}, NULL);
    assert_ok(mt_conv2d_new(k3, NULL, NULL, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "sequential: layer 3 (conv2d conv3_w) its kernel 3x3 does not fit the "
                 "2x2 image the previous layer gives (padding valid)");
    assert_ok(mt_max_pool2d_new(&(mt_max_pool2d_options){.pool_h = 3, .pool_w = 1}, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "sequential: layer 3 (max_pool2d 3x1) its window 3x1 does not fit the "
                 "2x2 image the previous layer gives (padding valid)");
    /* SAME padding always fits */
    assert_ok(mt_conv2d_new(k3, NULL, &(mt_conv2d_options){.padding = MT_PADDING_SAME}, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_int_equal(mt_sequential_count(m), 3);
    /* the wrong input at run time */
    mt_tensor *x = NULL;
    const mt_tensor *y = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){2, 28, 28, 3}, &x));
    assert_fails(mt_sequential_forward(m, x, &y), MT_ERR_SHAPE,
                 "sequential: input is [2,28,28,3], expected [N,28,28,1]");
    /* one layer alone, the wrong input */
    mt_tensor *alone = (mt_tensor *)1;
    assert_fails(mt_layer_forward(mt_sequential_layer(m, 0), x, &alone),
                 MT_ERR_SHAPE, "conv2d conv1_w: expects 1 input channels, the input gives "
                 "3 (if the conv is grouped, as Keras' groups= or a depthwise kernel, set "
                 ".groups = 3) (input [2,28,28,3])");
    assert_null(alone);
    mt_sequential_free(m);
    mt_tensor_free(x);
    mt_tensor_free(k3);
    mt_tensor_free(w);
    mt_tensor_free(k2);
    mt_tensor_free(k);
}

/* ---- no heap after the first pass ------------------------------------------------------ */

static void cnn_forward_allocates_nothing(void **state)
{
    (void)state;
    alloc_probe probe;
    probe_install(&probe, -1);
    cnn_file f = cnn_weights(false);
    mt_sequential *m = cnn_model(f.st, MT_KERNEL_HWIO);
    mt_tensor *x = make(NULL, 4, (int64_t[]){3, 9, 8, 2}, CNN_X);
    mt_tensor one;
    assert_ok(mt_narrow_into(x, 0, 1, 1, &one));
    const mt_tensor *y = NULL;
    assert_ok(mt_sequential_forward(m, x, &y));   /* sizes the workspace */
    assert_ok(mt_sequential_forward(m, &one, &y));
    long before = probe.allocations;
    for (int rep = 0; rep < 5; rep++) {
        assert_ok(mt_sequential_forward(m, x, &y));
        assert_ok(mt_sequential_forward(m, &one, &y));
    }
    if (probe.allocations != before)
        fail_msg("%ld heap allocations in 10 passes after the first",
                 probe.allocations - before);
    assert_values(y, CNN_Y + 5, 1e-5, 1e-5);
    mt_tensor_free(x);
    mt_sequential_free(m);
    cnn_close(&f);
    probe_remove();
}

/* A Keras CNN with a DepthwiseConv2D (depth_multiplier 2, stride 2, same)
 * loaded by its variable paths, against Keras' outputs; once from the file
 * as mapped (kernels borrowed) and once from a copy of it one byte off
 * alignment, where every tensor is an owned copy that the layer must keep
 * alive after the loader frees its reference. */
static void keras_depthwise_matches_keras(void **state)
{
    (void)state;
    for (int misaligned = 0; misaligned < 2; misaligned++) {
        mt_safetensors *st = NULL;
        unsigned char *copy;
        open_maybe_misaligned(REFS_DIR "/keras_depthwise.safetensors", misaligned, &st, &copy);
        const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
        mt_sequential *m = NULL;
        mt_layer *l = NULL;
        assert_ok(mt_sequential_new(3, (int64_t[]){7, 7, 3}, &m));
        assert_ok(mt_depthwise_conv2d_load(&sd, "sequential/dw", &(mt_conv2d_options){
            .stride_h = 2, .stride_w = 2, .padding = MT_PADDING_SAME}, &l));
        mt_layer_info info;
        assert_ok(mt_layer_info_get(l, &info));
        assert_int_equal(info.in_channels, 3);
        assert_int_equal(info.out_channels, 6);
        assert_ok(mt_sequential_add(m, l));
        assert_ok(mt_batch_norm_load(&sd, "sequential/bn", NULL, &l));
        assert_ok(mt_sequential_add(m, l));
        assert_ok(mt_relu_new(&l));
        assert_ok(mt_sequential_add(m, l));
        assert_ok(mt_conv2d_load(&sd, "sequential/pw", NULL, &l));
        assert_ok(mt_sequential_add(m, l));
        assert_ok(mt_global_avg_pool2d_new(&l));
        assert_ok(mt_sequential_add(m, l));
        assert_ok(mt_linear_load(&sd, "sequential/d", NULL, &l));
        assert_ok(mt_sequential_add(m, l));
        mt_tensor *x = NULL, *want = NULL;
        assert_ok(mt_safetensors_get(st, "x", &x));
        assert_ok(mt_safetensors_get(st, "y", &want));
        const mt_tensor *y = NULL;
        assert_ok(mt_sequential_forward(m, x, &y));
        assert_int_equal(mt_tensor_numel(y), 6);
        assert_close((const float *)y->data, (const float *)want->data, 6, 1e-5, 1e-4);
        assert_fails(mt_depthwise_conv2d_load(&(mt_state_dict){st, MT_FRAMEWORK_PYTORCH},
                                              "sequential/dw", NULL, &l),
                     MT_ERR_UNSUPPORTED, "Keras only");
        assert_fails(mt_depthwise_conv2d_load(&sd, "sequential/d", NULL, &l), MT_ERR_SHAPE,
                     "depthwise_conv2d sequential/d: kernel sequential/d/kernel [4,3], "
                     "expected [kh, kw, channels, multiplier]");
        mt_tensor_free(want);
        mt_tensor_free(x);
        mt_sequential_free(m);
        mt_safetensors_close(st);
        free(copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv2d_hand_values_both_layouts),
        cmocka_unit_test(conv2d_strides_and_same_padding),
        cmocka_unit_test(max_pool2d_hand_values),
        cmocka_unit_test(conv2d_kernel_ownership),
        cmocka_unit_test(keras_cnn_matches_tensorflow),
        cmocka_unit_test(relu_after_conv2d_is_folded),
        cmocka_unit_test(conv2d_construction_errors),
        cmocka_unit_test(max_pool2d_construction_errors),
        cmocka_unit_test(shape_errors_when_built),
        cmocka_unit_test(cnn_forward_allocates_nothing),
        cmocka_unit_test(keras_depthwise_matches_keras),
    };
    return cmocka_run_group_tests_name("nn conv", tests, NULL, NULL);
}
