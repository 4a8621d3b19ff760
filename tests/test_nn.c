/* test_nn.c — nn/: every layer against hand-computed values, weight layout
 * detection, every construction error (message asserted), the Sequential
 * container's checks and fusion, and zero heap allocations after the first
 * forward pass (a counting allocator is installed for the whole run). */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "minitensor/minitensor.h"

/* ---- a counting allocator ------------------------------------------------------ */

static size_t n_allocs;

static void *counting_alloc(size_t size, size_t align, void *user)
{
    (void)user;
    n_allocs++;
    size_t rounded = (size + align - 1) / align * align;
    return aligned_alloc(align, rounded);
}

static void counting_free(void *p, void *user)
{
    (void)user;
    free(p);
}

/* ---- helpers ---------------------------------------------------------------------- */

static mt_tensor *tensor(const char *name, int rank, const int64_t *shape,
                         const float *data)
{
    mt_tensor *t = NULL;
    assert_int_equal(mt_tensor_from_data(MT_DTYPE_F32, rank, shape, data, &t), MT_OK);
    if (name)
        assert_int_equal(mt_tensor_name_set(t, name), MT_OK);
    return t;
}

/* |got - want| <= 1e-6 + 1e-5·|want| for each element, row-major. */
static void assert_values(const mt_tensor *t, const float *want, int64_t n)
{
    assert_int_equal(mt_tensor_numel(t), n);
    mt_tensor *c = NULL;
    assert_int_equal(mt_tensor_contiguous(t, &c), MT_OK);
    const float *got = c->data;
    for (int64_t i = 0; i < n; i++) {
        double tol = 1e-6 + 1e-5 * fabs((double)want[i]);
        if (fabs((double)got[i] - (double)want[i]) > tol)
            fail_msg("element %lld: got %.8g, want %.8g", (long long)i, (double)got[i],
                     (double)want[i]);
    }
    mt_tensor_free(c);
}

static void assert_shape(const mt_tensor *t, int rank, const int64_t *shape)
{
    assert_int_equal(t->rank, rank);
    for (int d = 0; d < rank; d++)
        assert_int_equal(t->shape[d], shape[d]);
}

/* The call failed with `status` and a message containing `text`. */
#define assert_fails(call, status, text)                                           \
    do {                                                                           \
        mt_status s_ = (call);                                                     \
        assert_int_equal(s_, (status));                                            \
        if (!strstr(mt_last_error(), (text)))                                      \
            fail_msg("message \"%s\" lacks \"%s\"", mt_last_error(), (text));      \
    } while (0)

/* A small Linear: x [2,3] · W [3,2] + b [2].
 *   x = [[1, 2, 3], [-1, 0, 1]]
 *   W = [[1, -1], [0, 2], [1, 0]]   (Keras (in,out): in=3, out=2)
 *   b = [0.5, -10]
 *   x·W = [[1+0+3, -1+4+0], [-1+0+1, 1+0+0]] = [[4, 3], [0, 1]]
 *   + b = [[4.5, -7], [0.5, -9]];  ReLU: [[4.5, 0], [0.5, 0]] */
static const float X[] = {1, 2, 3, -1, 0, 1};
static const float W_IN_OUT[] = {1, -1, 0, 2, 1, 0};
static const float W_OUT_IN[] = {1, 0, 1, -1, 2, 0};   /* Wᵀ: PyTorch (out,in) */
static const float B[] = {0.5f, -10};
static const float Y[] = {4.5f, -7, 0.5f, -9};
static const float Y_RELU[] = {4.5f, 0, 0.5f, 0};
static const float Y_NO_BIAS[] = {4, 3, 0, 1};

/* ---- Linear ------------------------------------------------------------------------ */

static void linear_keras_layout(void **state)
{
    (void)state;
    mt_tensor *w = tensor("w", 2, (int64_t[]){3, 2}, W_IN_OUT);
    mt_tensor *b = tensor("b", 1, (int64_t[]){2}, B);
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 3}, X);
    mt_layer *l = NULL;
    assert_int_equal(mt_linear_new(w, b, NULL, &l), MT_OK);
    mt_layer_info info;
    assert_int_equal(mt_layer_info_get(l, &info), MT_OK);
    assert_int_equal(info.kind, MT_LAYER_LINEAR);
    assert_int_equal(info.layout, MT_LAYOUT_IN_OUT);
    assert_int_equal(info.in_features, 3);
    assert_int_equal(info.out_features, 2);
    assert_true(info.has_bias);
    assert_string_equal(info.name, "linear w");
    mt_tensor *y = NULL;
    assert_int_equal(mt_layer_forward(l, x, &y), MT_OK);
    assert_shape(y, 2, (int64_t[]){2, 2});
    assert_values(y, Y, 4);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(x);
    mt_tensor_free(b);
    mt_tensor_free(w);
}

/* PyTorch layout: the same numbers transposed give the same y, and the layer
 * reads the caller's memory (a transposed view, no copy). */
static void linear_pytorch_layout_is_a_view(void **state)
{
    (void)state;
    float wdata[6];
    memcpy(wdata, W_OUT_IN, sizeof wdata);
    mt_tensor *w = NULL;
    assert_int_equal(mt_tensor_wrap(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, wdata, &w), MT_OK);
    mt_tensor *b = tensor("b", 1, (int64_t[]){2}, B);
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 3}, X);
    mt_layer *l = NULL;
    assert_int_equal(mt_linear_new(w, b, NULL, &l), MT_OK);
    mt_layer_info info;
    assert_int_equal(mt_layer_info_get(l, &info), MT_OK);
    assert_int_equal(info.layout, MT_LAYOUT_OUT_IN);
    assert_int_equal(info.in_features, 3);
    assert_int_equal(info.out_features, 2);
    assert_string_equal(info.name, "linear");   /* unnamed weight */
    mt_tensor *y = NULL;
    assert_int_equal(mt_layer_forward(l, x, &y), MT_OK);
    assert_values(y, Y, 4);
    mt_tensor_free(y);

    wdata[0] = 2;   /* W[0][0] (out 0, in 0): y[:,0] += x[:,0] */
    assert_int_equal(mt_layer_forward(l, x, &y), MT_OK);
    assert_values(y, (float[]){5.5f, -7, -0.5f, -9}, 4);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(x);
    mt_tensor_free(b);
    mt_tensor_free(w);
}

static void linear_fused_relu_and_no_bias(void **state)
{
    (void)state;
    mt_tensor *w = tensor("w", 2, (int64_t[]){3, 2}, W_IN_OUT);
    mt_tensor *b = tensor("b", 1, (int64_t[]){2}, B);
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 3}, X);
    mt_layer *l = NULL;
    mt_tensor *y = NULL;
    assert_int_equal(mt_linear_new(w, b, &(mt_linear_options){.act = MT_ACTIVATION_RELU},
                                   &l), MT_OK);
    assert_int_equal(mt_layer_forward(l, x, &y), MT_OK);
    assert_values(y, Y_RELU, 4);
    mt_tensor_free(y);
    mt_layer_free(l);

    /* No bias: nothing tells the layouts apart but the feature counts. */
    assert_int_equal(mt_linear_new(w, NULL, &(mt_linear_options){.in_features = 3}, &l),
                     MT_OK);
    mt_layer_info info;
    assert_int_equal(mt_layer_info_get(l, &info), MT_OK);
    assert_false(info.has_bias);
    assert_int_equal(info.layout, MT_LAYOUT_IN_OUT);
    assert_int_equal(mt_layer_forward(l, x, &y), MT_OK);
    assert_values(y, Y_NO_BIAS, 4);
    mt_tensor_free(y);
    mt_layer_free(l);

    /* A 1-D input is one sample: [3] -> [2]. */
    assert_int_equal(mt_linear_new(w, b, NULL, &l), MT_OK);
    mt_tensor *x1 = tensor(NULL, 1, (int64_t[]){3}, X);
    assert_int_equal(mt_layer_forward(l, x1, &y), MT_OK);
    assert_shape(y, 1, (int64_t[]){2});
    assert_values(y, Y, 2);
    mt_tensor_free(y);
    mt_tensor_free(x1);
    mt_layer_free(l);
    mt_tensor_free(x);
    mt_tensor_free(b);
    mt_tensor_free(w);
}

/* The layer keeps its own reference: the caller may free the weight. */
static void linear_outlives_callers_tensors(void **state)
{
    (void)state;
    mt_tensor *w = tensor("w", 2, (int64_t[]){2, 3}, W_OUT_IN);
    mt_tensor *b = tensor("b", 1, (int64_t[]){2}, B);
    mt_layer *l = NULL;
    assert_int_equal(mt_linear_new(w, b, NULL, &l), MT_OK);
    mt_tensor_free(w);
    mt_tensor_free(b);
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 3}, X), *y = NULL;
    assert_int_equal(mt_layer_forward(l, x, &y), MT_OK);
    assert_values(y, Y, 4);
    mt_tensor_free(y);
    mt_tensor_free(x);
    mt_layer_free(l);
}

/* F16 weights are converted to F32 once, at construction. */
static void linear_converts_other_dtypes(void **state)
{
    (void)state;
    mt_tensor *w16 = NULL, *b = tensor("b", 1, (int64_t[]){2}, B);
    assert_int_equal(mt_tensor_zeros(MT_DTYPE_F16, 2, (int64_t[]){3, 2}, &w16), MT_OK);
    /* F16 bit patterns of 1, -1, 0, 2, 1, 0 */
    const uint16_t h[] = {0x3c00, 0xbc00, 0x0000, 0x4000, 0x3c00, 0x0000};
    memcpy(w16->data, h, sizeof h);
    mt_layer *l = NULL;
    assert_int_equal(mt_linear_new(w16, b, NULL, &l), MT_OK);
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 3}, X), *y = NULL;
    assert_int_equal(mt_layer_forward(l, x, &y), MT_OK);
    assert_values(y, Y, 4);
    mt_tensor_free(y);
    mt_tensor_free(x);
    mt_layer_free(l);
    mt_tensor_free(b);
    mt_tensor_free(w16);
}

/* ---- layout detection ---------------------------------------------------------------- */

static void layout_detection(void **state)
{
    (void)state;
    static const float z[16 * 16];
    mt_layer *l = NULL;
    mt_layer_info info;
    struct {
        int64_t a, b;            /* weight [a,b] */
        int64_t bias;            /* bias length, 0 = none */
        mt_linear_options opt;
        mt_weight_layout want;   /* AUTO: expect the ambiguity error */
        const char *why;
    } cases[] = {
        {4, 2, 2, {0}, MT_LAYOUT_IN_OUT, NULL},
        {2, 4, 2, {0}, MT_LAYOUT_OUT_IN, NULL},
        {4, 2, 0, {.in_features = 4}, MT_LAYOUT_IN_OUT, NULL},
        {4, 2, 0, {.in_features = 2}, MT_LAYOUT_OUT_IN, NULL},
        {4, 2, 0, {.out_features = 2}, MT_LAYOUT_IN_OUT, NULL},
        {4, 2, 0, {.out_features = 4}, MT_LAYOUT_OUT_IN, NULL},
        {4, 4, 4, {.layout = MT_LAYOUT_OUT_IN}, MT_LAYOUT_OUT_IN, NULL},
        {4, 4, 0, {.layout = MT_LAYOUT_IN_OUT}, MT_LAYOUT_IN_OUT, NULL},
        /* ambiguous: square, even with bias and feature counts */
        {4, 4, 4, {.in_features = 4, .out_features = 4}, MT_LAYOUT_AUTO,
         "linear w: weight w [4,4] fits both Keras (in,out) and PyTorch (out,in) (it is "
         "square): set the layout (MT_LAYOUT_IN_OUT or MT_LAYOUT_OUT_IN)"},
        /* ambiguous: nothing to tell [4,2] from [2,4]ᵀ */
        {4, 2, 0, {0}, MT_LAYOUT_AUTO,
         "linear w: weight w [4,2] fits both Keras (in,out) and PyTorch (out,in) (no "
         "bias or feature counts to tell them apart): set the layout"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mt_tensor *w = tensor("w", 2, (int64_t[]){cases[i].a, cases[i].b}, z);
        mt_tensor *b = cases[i].bias ? tensor("b", 1, (int64_t[]){cases[i].bias}, z) : NULL;
        mt_status s = mt_linear_new(w, b, &cases[i].opt, &l);
        if (cases[i].want == MT_LAYOUT_AUTO) {
            assert_int_equal(s, MT_ERR_SHAPE);
            assert_null(l);
            if (strncmp(mt_last_error(), cases[i].why, strlen(cases[i].why)) != 0)
                fail_msg("case %zu: \"%s\"", i, mt_last_error());
        } else {
            assert_int_equal(s, MT_OK);
            assert_int_equal(mt_layer_info_get(l, &info), MT_OK);
            if (info.layout != cases[i].want)
                fail_msg("case %zu: layout %d", i, (int)info.layout);
            mt_layer_free(l);
        }
        mt_tensor_free(b);
        mt_tensor_free(w);
    }
}

/* ---- construction errors ---------------------------------------------------------------- */

static void linear_construction_errors(void **state)
{
    (void)state;
    static const float z[784 * 128];
    mt_tensor *w = tensor("d1_w", 2, (int64_t[]){784, 100}, z);
    mt_tensor *w1 = tensor("v", 1, (int64_t[]){3}, z);
    mt_tensor *b = tensor("d1_b", 1, (int64_t[]){100}, z);
    mt_tensor *b2 = tensor("c", 2, (int64_t[]){1, 100}, z);
    mt_tensor *b128 = tensor("d1_b", 1, (int64_t[]){128}, z);
    mt_tensor *w128 = tensor("d1_w", 2, (int64_t[]){784, 128}, z);
    mt_layer *l = (mt_layer *)1;

    assert_fails(mt_linear_new(NULL, b, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "linear: weight is NULL");
    assert_fails(mt_linear_new(w, b, NULL, NULL), MT_ERR_INVALID_ARGUMENT,
                 "linear: out is NULL");
    assert_fails(mt_linear_new(w1, NULL, NULL, &l), MT_ERR_SHAPE,
                 "linear v: weight v [3], expected 2 dims");
    assert_null(l);
    assert_fails(mt_linear_new(w, b2, NULL, &l), MT_ERR_SHAPE,
                 "linear d1_w: bias c [1,100], expected 1 dim");
    assert_fails(mt_linear_new(w, b, &(mt_linear_options){.in_features = -1}, &l),
                 MT_ERR_INVALID_ARGUMENT, "linear d1_w: negative feature count");
    assert_fails(mt_linear_new(w, b, &(mt_linear_options){.layout = 7}, &l),
                 MT_ERR_INVALID_ARGUMENT, "linear d1_w: unknown layout 7");
    assert_fails(mt_linear_new(w, b, &(mt_linear_options){.act = 9}, &l),
                 MT_ERR_INVALID_ARGUMENT, "linear d1_w: unknown activation 9");

    /* Shapes that do not fit: the tensor, the expected and the actual shape. */
    assert_fails(mt_linear_new(w, b, &(mt_linear_options){.in_features = 784,
                                                          .out_features = 128}, &l),
                 MT_ERR_SHAPE, "linear d1_w: weight d1_w [784,100], expected [784,128] "
                 "(Keras (in,out)) or [128,784] (PyTorch (out,in))");
    assert_fails(mt_linear_new(w, b, &(mt_linear_options){.out_features = 128,
                                                          .layout = MT_LAYOUT_IN_OUT}, &l),
                 MT_ERR_SHAPE, "linear d1_w: weight d1_w [784,100], expected [784,128] "
                 "(Keras (in,out))");
    assert_fails(mt_linear_new(w128, b, NULL, &l), MT_ERR_SHAPE,
                 "linear d1_w: bias d1_b [100], expected [128] (Keras (in,out)) or [784] "
                 "(PyTorch (out,in)) for weight d1_w [784,128]");
    assert_fails(mt_linear_new(w128, b, &(mt_linear_options){.in_features = 784}, &l),
                 MT_ERR_SHAPE, "linear d1_w: bias d1_b [100], expected [128] (the out "
                 "features of weight d1_w [784,128] read as Keras (in,out))");
    assert_fails(mt_linear_new(w128, b128, &(mt_linear_options){.layout = MT_LAYOUT_OUT_IN},
                               &l),
                 MT_ERR_SHAPE, "linear d1_w: bias d1_b [128], expected [784] (the out "
                 "features of weight d1_w [784,128] read as PyTorch (out,in))");
    assert_null(l);

    mt_tensor_free(w128);
    mt_tensor_free(b128);
    mt_tensor_free(b2);
    mt_tensor_free(b);
    mt_tensor_free(w1);
    mt_tensor_free(w);
}

static void other_construction_errors(void **state)
{
    (void)state;
    mt_layer *l = (mt_layer *)1;
    assert_fails(mt_dropout_new(1.0f, &l), MT_ERR_INVALID_ARGUMENT,
                 "dropout: rate 1 is not in [0, 1)");
    assert_null(l);
    assert_fails(mt_dropout_new(-0.5f, &l), MT_ERR_INVALID_ARGUMENT, "rate -0.5");
    assert_fails(mt_dropout_new(NAN, &l), MT_ERR_INVALID_ARGUMENT, "is not in [0, 1)");
    assert_fails(mt_dropout_new(0.5f, NULL), MT_ERR_INVALID_ARGUMENT, "dropout: out is NULL");
    assert_fails(mt_flatten_new(2, 1, &l), MT_ERR_INVALID_ARGUMENT,
                 "flatten: dims 2..1 do not describe a range of dims");
    assert_fails(mt_flatten_new(0, 99, &l), MT_ERR_INVALID_ARGUMENT, "flatten: dims 0..99");
    assert_fails(mt_softmax_new(-9, &l), MT_ERR_INVALID_ARGUMENT,
                 "softmax: dim -9 is out of range");
    assert_fails(mt_relu_new(NULL), MT_ERR_INVALID_ARGUMENT, "relu: out is NULL");
    assert_fails(mt_layer_info_get(NULL, &(mt_layer_info){0}), MT_ERR_INVALID_ARGUMENT,
                 "layer_get_info: NULL argument");

    mt_sequential *m = (mt_sequential *)1;
    assert_fails(mt_sequential_new(0, (int64_t[]){1}, &m), MT_ERR_INVALID_ARGUMENT,
                 "sequential_new: sample rank 0 is not in 1..7");
    assert_null(m);
    assert_fails(mt_sequential_new(2, (int64_t[]){28, 0}, &m), MT_ERR_INVALID_ARGUMENT,
                 "sequential_new: sample dim 1 is 0, expected >= 1");
    assert_fails(mt_sequential_new(1, NULL, &m), MT_ERR_INVALID_ARGUMENT,
                 "sequential_new: NULL argument");
}

/* ---- the other layers ------------------------------------------------------------------- */

static void relu_layer(void **state)
{
    (void)state;
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 3}, X), *y = NULL;
    mt_layer *l = NULL;
    assert_int_equal(mt_relu_new(&l), MT_OK);
    assert_int_equal(mt_layer_forward(l, x, &y), MT_OK);
    assert_shape(y, 2, (int64_t[]){2, 3});
    assert_values(y, (float[]){1, 2, 3, 0, 0, 1}, 6);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(x);
}

/* softmax([0, ln 3]) = [1/4, 3/4]; softmax([ln 2, ln 2]) = [1/2, 1/2]. */
static void softmax_layer(void **state)
{
    (void)state;
    const float in[] = {0, logf(3), logf(2), logf(2)};
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 2}, in), *y = NULL;
    mt_layer *l = NULL;
    assert_int_equal(mt_softmax_new(-1, &l), MT_OK);
    assert_int_equal(mt_layer_forward(l, x, &y), MT_OK);
    assert_values(y, (float[]){0.25f, 0.75f, 0.5f, 0.5f}, 4);
    mt_tensor_free(y);
    mt_layer_free(l);

    /* Along dim 0, the batch, refused: a model runs its batch in passes, each
     * would be normalised on its own */
    assert_int_equal(mt_softmax_new(0, &l), MT_OK);
    assert_fails(mt_layer_forward(l, x, &y), MT_ERR_SHAPE,
                 "softmax: dim 0 is the batch of the 2 dims the input gives");
    mt_layer_free(l);
    assert_int_equal(mt_softmax_new(-2, &l), MT_OK);
    assert_fails(mt_layer_forward(l, x, &y), MT_ERR_SHAPE,
                 "softmax: dim -2 is the batch of the 2 dims the input gives");
    mt_tensor *v = tensor(NULL, 1, (int64_t[]){2}, in);
    mt_layer_free(l);
    assert_int_equal(mt_softmax_new(1, &l), MT_OK);
    assert_fails(mt_layer_forward(l, v, &y), MT_ERR_SHAPE,
                 "softmax: dim 1 is out of range for the 1 dims the input gives (input [2])");
    mt_tensor_free(v);
    mt_layer_free(l);
    mt_tensor_free(x);
}

static void flatten_layer_is_a_view(void **state)
{
    (void)state;
    float data[24];
    for (int i = 0; i < 24; i++)
        data[i] = (float)i;
    mt_tensor *x = tensor(NULL, 3, (int64_t[]){2, 3, 4}, data), *y = NULL;
    mt_layer *l = NULL;
    assert_int_equal(mt_flatten_new(1, -1, &l), MT_OK);
    assert_int_equal(mt_layer_forward(l, x, &y), MT_OK);
    assert_shape(y, 2, (int64_t[]){2, 12});
    assert_ptr_equal(y->data, x->data);
    assert_values(y, data, 24);
    mt_tensor_free(y);
    mt_layer_free(l);

    assert_int_equal(mt_flatten_new(0, 1, &l), MT_OK);   /* [2,3,4] -> [6,4] */
    assert_int_equal(mt_layer_forward(l, x, &y), MT_OK);
    assert_shape(y, 2, (int64_t[]){6, 4});
    mt_tensor_free(y);
    mt_layer_free(l);

    assert_int_equal(mt_flatten_new(-1, 1, &l), MT_OK);  /* start after end for rank 3 */
    assert_fails(mt_layer_forward(l, x, &y), MT_ERR_SHAPE,
                 "flatten: start dim -1 comes after end dim 1 for the 3 dims the input "
                 "gives (input [2,3,4])");
    mt_layer_free(l);
    mt_tensor_free(x);
}

static void dropout_layer_passes_through(void **state)
{
    (void)state;
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 3}, X), *y = NULL;
    mt_layer *l = NULL;
    assert_int_equal(mt_dropout_new(0.2f, &l), MT_OK);
    mt_layer_info info;
    assert_int_equal(mt_layer_info_get(l, &info), MT_OK);
    assert_int_equal(info.kind, MT_LAYER_DROPOUT);
    assert_true(info.rate == 0.2f);
    assert_string_equal(info.name, "dropout 0.2");
    assert_int_equal(mt_layer_forward(l, x, &y), MT_OK);
    assert_ptr_equal(y->data, x->data);
    assert_shape(y, 2, (int64_t[]){2, 3});
    assert_values(y, X, 6);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(x);
}

static void layer_forward_shape_error(void **state)
{
    (void)state;
    static const float z[784 * 10];
    mt_tensor *w = tensor("d1_w", 2, (int64_t[]){784, 10}, z);
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){5, 28}, z), *y = (mt_tensor *)1;
    mt_layer *l = NULL;
    assert_int_equal(mt_linear_new(w, NULL, &(mt_linear_options){.in_features = 784}, &l),
                     MT_OK);
    assert_fails(mt_layer_forward(l, x, &y), MT_ERR_SHAPE,
                 "linear d1_w: expects 784 input features, the input gives 28 (input "
                 "[5,28])");
    assert_null(y);
    mt_layer_free(l);
    mt_tensor_free(x);
    mt_tensor_free(w);
}

/* ---- from a safetensors file --------------------------------------------------------------- */

static void linear_from_safetensors(void **state)
{
    (void)state;
    mt_tensor *w = tensor("fc.weight", 2, (int64_t[]){2, 3}, W_OUT_IN);
    mt_tensor *b = tensor("fc.bias", 1, (int64_t[]){2}, B);
    mt_safetensors_item items[] = {{"fc.weight", 0, w}, {"fc.bias", 0, b}};
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(mt_safetensors_serialize(items, 2, NULL, 0, &buf, &size), MT_OK);
    mt_safetensors *st = NULL;
    assert_int_equal(mt_safetensors_open_memory(buf, size, &st), MT_OK);

    mt_layer *l = NULL;
    assert_int_equal(mt_linear_from_safetensors(st, "fc.weight", "fc.bias", NULL, &l), MT_OK);
    mt_layer_info info;
    assert_int_equal(mt_layer_info_get(l, &info), MT_OK);
    assert_int_equal(info.layout, MT_LAYOUT_OUT_IN);
    assert_string_equal(info.name, "linear fc.weight");
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 3}, X), *y = NULL;
    assert_int_equal(mt_layer_forward(l, x, &y), MT_OK);
    assert_values(y, Y, 4);
    mt_tensor_free(y);
    mt_tensor_free(x);
    mt_layer_free(l);

    assert_fails(mt_linear_from_safetensors(st, "fc.weight", "fc.b", NULL, &l),
                 MT_ERR_NOT_FOUND, "linear fc.weight: ");
    assert_true(strstr(mt_last_error(), "'fc.b'") != NULL);
    assert_null(l);
    assert_fails(mt_linear_from_safetensors(st, "fc.w", NULL, NULL, &l), MT_ERR_NOT_FOUND,
                 "'fc.w'");
    assert_fails(mt_linear_from_safetensors(st, "fc.bias", NULL, NULL, &l), MT_ERR_SHAPE,
                 "linear fc.bias: weight fc.bias [2], expected 2 dims");
    assert_fails(mt_linear_from_safetensors(NULL, "fc.weight", NULL, NULL, &l),
                 MT_ERR_INVALID_ARGUMENT, "linear_from_safetensors: NULL argument");

    mt_safetensors_close(st);
    mt_safetensors_buffer_free(buf);
    mt_tensor_free(b);
    mt_tensor_free(w);
}

/* ---- Sequential ------------------------------------------------------------------------------ */

/* Build [Flatten, Linear(w,b,act), ReLU?] for inputs [N,1,3]. */
static mt_sequential *small_model(mt_activation act, bool relu_layer_too)
{
    mt_tensor *w = tensor("w", 2, (int64_t[]){3, 2}, W_IN_OUT);
    mt_tensor *b = tensor("b", 1, (int64_t[]){2}, B);
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_int_equal(mt_sequential_new(2, (int64_t[]){1, 3}, &m), MT_OK);
    assert_int_equal(mt_flatten_new(1, -1, &l), MT_OK);
    assert_int_equal(mt_sequential_add(m, l), MT_OK);
    assert_int_equal(mt_linear_new(w, b, &(mt_linear_options){.act = act}, &l), MT_OK);
    assert_int_equal(mt_sequential_add(m, l), MT_OK);
    if (relu_layer_too) {
        assert_int_equal(mt_relu_new(&l), MT_OK);
        assert_int_equal(mt_sequential_add(m, l), MT_OK);
    }
    mt_tensor_free(b);
    mt_tensor_free(w);
    return m;
}

static void sequential_forward_and_fusion(void **state)
{
    (void)state;
    mt_tensor *x = tensor(NULL, 3, (int64_t[]){2, 1, 3}, X);
    const mt_tensor *y = NULL;
    struct { mt_activation act; bool relu; const float *want; } cases[] = {
        {MT_ACTIVATION_NONE, false, Y},
        {MT_ACTIVATION_RELU, false, Y_RELU},
        {MT_ACTIVATION_NONE, true, Y_RELU},   /* the ReLU layer folds into the Linear */
        {MT_ACTIVATION_RELU, true, Y_RELU},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mt_sequential *m = small_model(cases[i].act, cases[i].relu);
        assert_int_equal(mt_sequential_count(m), cases[i].relu ? 3 : 2);
        assert_int_equal(mt_sequential_forward(m, x, &y), MT_OK);
        assert_shape(y, 2, (int64_t[]){2, 2});
        assert_values(y, cases[i].want, 4);
        const mt_tensor *again = NULL;   /* same storage, same values */
        assert_int_equal(mt_sequential_forward(m, x, &again), MT_OK);
        assert_ptr_equal(again, y);
        assert_values(again, cases[i].want, 4);
        mt_sequential_free(m);
    }

    /* One sample, then zero samples. */
    mt_sequential *m = small_model(MT_ACTIVATION_NONE, true);
    mt_tensor *x1 = tensor(NULL, 3, (int64_t[]){1, 1, 3}, X + 3);
    assert_int_equal(mt_sequential_forward(m, x1, &y), MT_OK);
    assert_values(y, Y_RELU + 2, 2);
    mt_tensor *x0 = NULL;
    assert_int_equal(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){0, 1, 3}, &x0), MT_OK);
    assert_int_equal(mt_sequential_forward(m, x0, &y), MT_OK);
    assert_shape(y, 2, (int64_t[]){0, 2});
    assert_null(mt_sequential_layer(m, 3));
    assert_non_null(mt_sequential_layer(m, 2));
    mt_tensor_free(x0);
    mt_tensor_free(x1);
    mt_sequential_free(m);
    mt_tensor_free(x);
}

static void sequential_checks_shapes_when_built(void **state)
{
    (void)state;
    static const float z[784 * 128];
    mt_tensor *w1 = tensor("d1_w", 2, (int64_t[]){784, 128}, z);
    mt_tensor *w2 = tensor("d2_w", 2, (int64_t[]){64, 10}, z);
    mt_tensor *b2 = tensor("d2_b", 1, (int64_t[]){10}, z);
    mt_tensor *b1 = tensor("d1_b", 1, (int64_t[]){128}, z);
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_int_equal(mt_sequential_new(2, (int64_t[]){28, 28}, &m), MT_OK);

    /* Layer 1 without a Flatten: 28 features, not 784. */
    assert_int_equal(mt_linear_new(w1, b1, NULL, &l), MT_OK);
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "sequential: layer 1 (linear d1_w) expects 784 input features, the input "
                 "gives 28");
    assert_int_equal(mt_sequential_count(m), 0);

    assert_int_equal(mt_flatten_new(1, -1, &l), MT_OK);
    assert_int_equal(mt_sequential_add(m, l), MT_OK);
    assert_int_equal(mt_linear_new(w1, b1, &(mt_linear_options){.act = MT_ACTIVATION_RELU},
                                   &l), MT_OK);
    assert_int_equal(mt_sequential_add(m, l), MT_OK);
    assert_int_equal(mt_dropout_new(0.2f, &l), MT_OK);
    assert_int_equal(mt_sequential_add(m, l), MT_OK);
    assert_int_equal(mt_linear_new(w2, b2, NULL, &l), MT_OK);   /* Keras [64,10] */
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "sequential: layer 4 (linear d2_w) expects 64 input features, the "
                 "previous layer gives 128");
    assert_int_equal(mt_sequential_count(m), 3);

    assert_int_equal(mt_softmax_new(3, &l), MT_OK);
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "sequential: layer 4 (softmax) dim 3 is out of range for the 2 dims the "
                 "previous layer gives");
    assert_fails(mt_sequential_add(m, NULL), MT_ERR_INVALID_ARGUMENT,
                 "sequential_add: layer is NULL");
    assert_int_equal(mt_relu_new(&l), MT_OK);
    assert_fails(mt_sequential_add(NULL, l), MT_ERR_INVALID_ARGUMENT,
                 "sequential_add: model is NULL");   /* l was freed (ASan checks) */

    /* Inputs of the wrong shape or dtype. */
    const mt_tensor *y = NULL;
    mt_tensor *flat = tensor(NULL, 2, (int64_t[]){5, 784}, z), *h = NULL;
    assert_fails(mt_sequential_forward(m, flat, &y), MT_ERR_SHAPE,
                 "sequential: input is [5,784], expected [N,28,28]");
    assert_int_equal(mt_tensor_zeros(MT_DTYPE_F16, 3, (int64_t[]){1, 28, 28}, &h), MT_OK);
    assert_fails(mt_sequential_forward(m, h, &y), MT_ERR_DTYPE,
                 "sequential: input [1,28,28] is F16, expected F32");
    assert_null(y);
    mt_tensor_free(h);
    mt_tensor_free(flat);
    mt_sequential_free(m);

    assert_int_equal(mt_sequential_new(1, (int64_t[]){4}, &m), MT_OK);
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){1, 4}, z);
    assert_fails(mt_sequential_forward(m, x, &y), MT_ERR_INVALID_ARGUMENT,
                 "sequential: the model has no layers");
    mt_tensor_free(x);
    mt_sequential_free(m);

    mt_tensor_free(b1);
    mt_tensor_free(b2);
    mt_tensor_free(w2);
    mt_tensor_free(w1);
}

/* mt_sequential_forward_u8 over 300 byte samples (two batches: 256 + 44):
 * y = (x0 - 2 x1) * scale + 0.5, written by hand. */
static void sequential_forward_u8_batches(void **state)
{
    (void)state;
    enum { N = 300 };
    static uint8_t data[N * 2];
    static float out[N];
    for (int i = 0; i < N * 2; i++)
        data[i] = (uint8_t)(i * 37 % 256);
    mt_tensor *w = tensor("w", 2, (int64_t[]){2, 1}, (const float[]){1.0f, -2.0f});
    mt_tensor *b = tensor("b", 1, (int64_t[]){1}, (const float[]){0.5f});
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_int_equal(mt_sequential_new(1, (int64_t[]){2}, &m), MT_OK);
    assert_int_equal(mt_linear_new(w, b, &(mt_linear_options){.in_features = 2,
                                                              .out_features = 1},
                                   &l), MT_OK);
    assert_int_equal(mt_sequential_add(m, l), MT_OK);
    assert_int_equal(mt_sequential_forward_u8(m, data, N, 0.25f, out, N), MT_OK);
    for (int i = 0; i < N; i++) {
        float want = ((float)data[2 * i] - 2.0f * (float)data[2 * i + 1]) * 0.25f + 0.5f;
        if (fabsf(out[i] - want) > 1e-4f) {
            print_error("sample %d: got %g, expected %g\n", i, out[i], want);
            fail();
        }
    }
    assert_int_equal(mt_sequential_forward_u8(m, data, 0, 1.0f, NULL, 0), MT_OK);
    assert_fails(mt_sequential_forward_u8(m, data, N, 1.0f, out, N - 1), MT_ERR_SHAPE,
                 "sequential_forward_u8: out holds 299 floats, 300 samples of 1 features");
    assert_fails(mt_sequential_forward_u8(m, NULL, N, 1.0f, out, N),
                 MT_ERR_INVALID_ARGUMENT, "sequential_forward_u8: NULL argument");
    mt_sequential_free(m);
    mt_tensor_free(w);
    mt_tensor_free(b);
}

/* After the first pass for a batch size, passes allocate nothing — also for
 * smaller batches; a larger batch grows the workspace once. One matmul
 * thread: this checks nn/ itself; test_mnist.c checks the whole stack with
 * the default thread count. */
static void sequential_forward_allocates_nothing(void **state)
{
    (void)state;
    int threads = mt_num_threads_get();
    assert_int_equal(mt_num_threads_set(1), MT_OK);
    enum { N = 64, IN = 300, HIDDEN = 96, OUT = 10 };
    float *wd = calloc(IN * HIDDEN + HIDDEN * OUT, sizeof *wd);
    float *xd = calloc(2 * N * IN, sizeof *xd);
    assert_non_null(wd);
    assert_non_null(xd);
    for (int i = 0; i < IN * HIDDEN + HIDDEN * OUT; i++)
        wd[i] = (float)((i * 7919L) % 23 - 11) / 64.0f;
    for (int i = 0; i < 2 * N * IN; i++)
        xd[i] = (float)((i * 104729L) % 17) / 17.0f;
    mt_tensor *w1 = tensor("w1", 2, (int64_t[]){HIDDEN, IN}, wd);   /* PyTorch */
    mt_tensor *w2 = tensor("w2", 2, (int64_t[]){HIDDEN, OUT}, wd + IN * HIDDEN);
    mt_tensor *x = tensor(NULL, 3, (int64_t[]){2 * N, 3, IN / 3}, xd);
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_int_equal(mt_sequential_new(2, (int64_t[]){3, IN / 3}, &m), MT_OK);
    assert_int_equal(mt_flatten_new(1, -1, &l), MT_OK);
    assert_int_equal(mt_sequential_add(m, l), MT_OK);
    assert_int_equal(mt_linear_new(w1, NULL, &(mt_linear_options){.in_features = IN}, &l),
                     MT_OK);
    assert_int_equal(mt_sequential_add(m, l), MT_OK);
    assert_int_equal(mt_relu_new(&l), MT_OK);
    assert_int_equal(mt_sequential_add(m, l), MT_OK);
    assert_int_equal(mt_dropout_new(0.5f, &l), MT_OK);
    assert_int_equal(mt_sequential_add(m, l), MT_OK);
    assert_int_equal(mt_linear_new(w2, NULL, &(mt_linear_options){.in_features = HIDDEN},
                                   &l), MT_OK);
    assert_int_equal(mt_sequential_add(m, l), MT_OK);
    assert_int_equal(mt_softmax_new(-1, &l), MT_OK);
    assert_int_equal(mt_sequential_add(m, l), MT_OK);
    mt_tensor_free(w2);
    mt_tensor_free(w1);

    mt_tensor batch, half;
    assert_int_equal(mt_narrow_into(x, 0, 0, N, &batch), MT_OK);
    assert_int_equal(mt_narrow_into(x, 0, N, N / 2, &half), MT_OK);
    const mt_tensor *y = NULL;
    assert_int_equal(mt_sequential_forward(m, &batch, &y), MT_OK);   /* sizes the arena */
    size_t before = n_allocs;
    for (int rep = 0; rep < 5; rep++) {
        assert_int_equal(mt_sequential_forward(m, &batch, &y), MT_OK);
        assert_int_equal(mt_sequential_forward(m, &half, &y), MT_OK);
        assert_shape(y, 2, (int64_t[]){N / 2, OUT});
    }
    assert_int_equal(n_allocs, before);

    assert_int_equal(mt_sequential_forward(m, x, &y), MT_OK);   /* 2N: grows once */
    before = n_allocs;
    assert_int_equal(mt_sequential_forward(m, x, &y), MT_OK);
    assert_int_equal(mt_sequential_forward(m, &batch, &y), MT_OK);
    assert_int_equal(n_allocs, before);

    mt_sequential_free(m);
    mt_tensor_free(x);
    free(xd);
    free(wd);
    assert_int_equal(mt_num_threads_set(threads), MT_OK);
}

/* A batch whose activations exceed sequential.c's per-pass budget (2 MiB)
 * goes through the layers in passes: 2051 floats per sample -> 255 samples
 * per pass, so 600 samples take 255 + 255 + 90 (and little arithmetic, for
 * valgrind). Powers of two make every output exact: x(i, :) = i % 7,
 * W1 = 1/4 (4 -> 2048, ReLU), W2(:, k) = (k + 1)/2048 (2048 -> 3), so
 * y(i, k) = (i % 7)(k + 1). */
static void sequential_large_batch_in_passes(void **state)
{
    (void)state;
    enum { N = 600, IN = 4, HIDDEN = 2048, OUT = 3 };
    float *xd = malloc(sizeof(float) * N * IN), *w1d = malloc(sizeof(float) * IN * HIDDEN);
    float w2d[HIDDEN * OUT];
    assert_non_null(xd);
    assert_non_null(w1d);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < IN; j++)
            xd[i * IN + j] = (float)(i % 7);
    for (int i = 0; i < IN * HIDDEN; i++)
        w1d[i] = 1.0f / IN;
    for (int i = 0; i < HIDDEN; i++)
        for (int k = 0; k < OUT; k++)
            w2d[i * OUT + k] = (float)(k + 1) / HIDDEN;
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){N, IN}, xd);
    mt_tensor *w1 = tensor("w1", 2, (int64_t[]){IN, HIDDEN}, w1d);
    mt_tensor *w2 = tensor("w2", 2, (int64_t[]){HIDDEN, OUT}, w2d);
    mt_sequential *m;
    mt_layer *l;
    assert_int_equal(mt_sequential_new(1, (int64_t[]){IN}, &m), MT_OK);
    assert_int_equal(mt_linear_new(w1, NULL, &(mt_linear_options){.in_features = IN,
                                   .act = MT_ACTIVATION_RELU}, &l), MT_OK);
    assert_int_equal(mt_sequential_add(m, l), MT_OK);
    assert_int_equal(mt_linear_new(w2, NULL, &(mt_linear_options){.in_features = HIDDEN}, &l),
                     MT_OK);
    assert_int_equal(mt_sequential_add(m, l), MT_OK);
    mt_tensor_free(w2);
    mt_tensor_free(w1);

    const mt_tensor *y = NULL;
    for (int rep = 0; rep < 2; rep++) {
        size_t before = n_allocs;
        assert_int_equal(mt_sequential_forward(m, x, &y), MT_OK);
        if (rep) // the second pass at this batch size allocates nothing
            assert_int_equal(n_allocs, before);
        assert_shape(y, 2, (int64_t[]){N, OUT});
        const float *out = y->data;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < OUT; k++)
                if (out[i * OUT + k] != (float)((i % 7) * (k + 1)))
                    fail_msg("sample %d, output %d: got %g, want %d", i, k,
                             (double)out[i * OUT + k], (i % 7) * (k + 1));
    }
    mt_sequential_free(m);
    mt_tensor_free(x);
    free(w1d);
    free(xd);
}

/* A layer belongs to one model: adding it again, to the same model or to
 * another, fails and leaves it with its model (freed once, no
 * use-after-free under ASan/valgrind). */
static void sequential_layer_added_twice(void **state)
{
    (void)state;
    mt_sequential *m1 = NULL, *m2 = NULL;
    mt_layer *l = NULL;
    assert_int_equal(mt_sequential_new(1, (int64_t[]){4}, &m1), MT_OK);
    assert_int_equal(mt_sequential_new(1, (int64_t[]){4}, &m2), MT_OK);
    assert_int_equal(mt_relu_new(&l), MT_OK);
    assert_int_equal(mt_sequential_add(m1, l), MT_OK);
    assert_fails(mt_sequential_add(m1, l), MT_ERR_INVALID_ARGUMENT,
                 "already belongs to a model");
    assert_fails(mt_sequential_add(m2, l), MT_ERR_INVALID_ARGUMENT,
                 "already belongs to a model");
    assert_int_equal(mt_sequential_count(m1), 1);
    assert_int_equal(mt_sequential_count(m2), 0);
    mt_sequential_free(m2);
    mt_sequential_free(m1);
}

int main(void)
{
    mt_allocator_set(&(mt_allocator){counting_alloc, counting_free, NULL});
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linear_keras_layout),
        cmocka_unit_test(linear_pytorch_layout_is_a_view),
        cmocka_unit_test(linear_fused_relu_and_no_bias),
        cmocka_unit_test(linear_outlives_callers_tensors),
        cmocka_unit_test(linear_converts_other_dtypes),
        cmocka_unit_test(layout_detection),
        cmocka_unit_test(linear_construction_errors),
        cmocka_unit_test(other_construction_errors),
        cmocka_unit_test(relu_layer),
        cmocka_unit_test(softmax_layer),
        cmocka_unit_test(flatten_layer_is_a_view),
        cmocka_unit_test(dropout_layer_passes_through),
        cmocka_unit_test(layer_forward_shape_error),
        cmocka_unit_test(linear_from_safetensors),
        cmocka_unit_test(sequential_forward_and_fusion),
        cmocka_unit_test(sequential_checks_shapes_when_built),
        cmocka_unit_test(sequential_forward_allocates_nothing),
        cmocka_unit_test(sequential_forward_u8_batches),
        cmocka_unit_test(sequential_large_batch_in_passes),
        cmocka_unit_test(sequential_layer_added_twice),
    };
    return cmocka_run_group_tests_name("nn", tests, NULL, NULL);
}
