/* test_conv.c — conv2d and max pooling against TensorFlow's own results
 * (reference/make_conv_refs.py), in both kernel layouts, plus error paths. */
#include "test_util.h"
#include "reference/conv_refs.h"

static mt_tensor *make(int rank, const int64_t *shape, const float *data)
{
    mt_tensor *t = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, rank, shape, data, &t));
    return t;
}

/* The HWIO kernel rearranged to PyTorch's (out, in, kh, kw), by loops. */
static mt_tensor *to_oihw(const conv_case *c)
{
    const int64_t *k = c->k;
    mt_tensor *t;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){k[3], k[2], k[0], k[1]}, &t));
    float *dst = t->data;
    for (int64_t i = 0; i < k[0]; i++)
        for (int64_t j = 0; j < k[1]; j++)
            for (int64_t ci = 0; ci < k[2]; ci++)
                for (int64_t co = 0; co < k[3]; co++)
                    dst[((co * k[2] + ci) * k[0] + i) * k[1] + j] =
                        c->kernel[((i * k[1] + j) * k[2] + ci) * k[3] + co];
    return t;
}

static void test_conv2d_matches_tensorflow(void **state)
{
    (void)state;
    for (size_t n = 0; n < sizeof CONV_CASES / sizeof CONV_CASES[0]; n++) {
        const conv_case *c = &CONV_CASES[n];
        mt_tensor *x = make(4, c->in, c->x), *k = make(4, c->k, c->kernel);
        mt_tensor *b = make(1, (int64_t[]){c->k[3]}, c->bias), *oihw = to_oihw(c);
        mt_conv2d_params p = {
            .layout = MT_KERNEL_HWIO, .stride_h = c->sh, .stride_w = c->sw,
            .padding = c->same ? MT_PADDING_SAME : MT_PADDING_VALID,
            .activation = c->bias_relu ? MT_ACTIVATION_RELU : MT_ACTIVATION_NONE,
        };
        const mt_tensor *bias = c->bias_relu ? b : NULL;
        int64_t numel = c->out[0] * c->out[1] * c->out[2] * c->out[3];
        for (int layout = 0; layout < 2; layout++) {
            mt_tensor *y;
            p.layout = layout ? MT_KERNEL_OIHW : MT_KERNEL_HWIO;
            assert_ok(mt_conv2d(x, layout ? oihw : k, bias, &p, &y));
            for (int d = 0; d < 4; d++)
                assert_int_equal(y->shape[d], c->out[d]);
            print_message("conv %s layout %s\n", c->name, layout ? "OIHW" : "HWIO");
            assert_close(y->data, c->y, (size_t)numel, 1e-5, 1e-5);
            mt_tensor_free(y);
        }
        /* The input as a view whose pixels are not contiguous (its channels
         * are the first half of a tensor twice as wide): the patch copy by
         * elements, where a contiguous input copies whole kernel rows. */
        mt_tensor *wide, *y;
        const int64_t *in = c->in;
        assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){in[0], in[1], in[2], 2 * in[3]}, &wide));
        float *w = wide->data;
        for (int64_t i = 0; i < in[0] * in[1] * in[2]; i++)
            for (int64_t ch = 0; ch < in[3]; ch++) {
                w[i * 2 * in[3] + ch] = c->x[i * in[3] + ch];
                w[i * 2 * in[3] + in[3] + ch] = 1e6f; // must never be read
            }
        mt_tensor view;
        assert_ok(mt_narrow_into(wide, 3, 0, in[3], &view));
        p.layout = MT_KERNEL_HWIO;
        assert_ok(mt_conv2d(&view, k, bias, &p, &y));
        print_message("conv %s layout HWIO, strided input\n", c->name);
        assert_close(y->data, c->y, (size_t)numel, 1e-5, 1e-5);
        mt_tensor_free(y);
        mt_tensor_free(wide);
        mt_tensor_free(x);
        mt_tensor_free(k);
        mt_tensor_free(b);
        mt_tensor_free(oihw);
    }
}

static void test_maxpool_matches_tensorflow(void **state)
{
    (void)state;
    for (size_t n = 0; n < sizeof POOL_CASES / sizeof POOL_CASES[0]; n++) {
        const pool_case *c = &POOL_CASES[n];
        mt_tensor *x = make(4, c->in, c->x), *y;
        mt_pool2d_params p = {c->ph, c->pw, c->sh, c->sw,
                              c->same ? MT_PADDING_SAME : MT_PADDING_VALID};
        assert_ok(mt_maxpool2d(x, &p, &y));
        for (int d = 0; d < 4; d++)
            assert_int_equal(y->shape[d], c->out[d]);
        assert_close(y->data, c->y, (size_t)mt_tensor_numel(y), 0, 0);
        mt_tensor_free(y);
        mt_tensor_free(x);
    }
}

/* Many channels (21: more than one vector register of any ISA holds):
 * x(iy, ix, c) = (c % 7) * 10 + (iy * 3 + ix), pooled 2x2 / 2 with
 * SAME padding (the windows of the last row and column hang over it), so
 * each output is (c % 7) * 10 + the largest pixel index in its window.
 * NaN wins wherever it appears; -inf everywhere stays. */
static void test_maxpool_many_channels_by_hand(void **state)
{
    (void)state;
    enum { H = 3, W = 3, C = 21 };
    float data[H * W * C];
    for (int iy = 0; iy < H; iy++)
        for (int ix = 0; ix < W; ix++)
            for (int c = 0; c < C; c++)
                data[(iy * W + ix) * C + c] = (float)((c % 7) * 10 + iy * W + ix);
    data[(0 * W + 1) * C + 5] = NAN;  /* window (0,0) */
    data[(2 * W + 2) * C + 19] = NAN; /* window (1,1) */
    for (int i = 0; i < H * W; i++)
        data[i * C + 20] = -INFINITY;
    mt_tensor *x = make(4, (int64_t[]){1, H, W, C}, data), *y;
    mt_pool2d_params p = {2, 2, 2, 2, MT_PADDING_SAME};
    assert_ok(mt_maxpool2d(x, &p, &y));
    assert_int_equal(y->shape[1], 2);
    assert_int_equal(y->shape[2], 2);
    const float *out = y->data;
    for (int oy = 0; oy < 2; oy++)
        for (int ox = 0; ox < 2; ox++)
            for (int c = 0; c < C; c++) {
                float got = out[(oy * 2 + ox) * C + c];
                int last = (2 * oy + 1 < H ? 2 * oy + 1 : H - 1) * W +
                           (2 * ox + 1 < W ? 2 * ox + 1 : W - 1);
                if ((oy == 0 && ox == 0 && c == 5) || (oy == 1 && ox == 1 && c == 19))
                    assert_true(isnan(got));
                else if (c == 20)
                    assert_true(got == -INFINITY);
                else
                    assert_true(got == (float)((c % 7) * 10 + last));
            }
    mt_tensor_free(y);
    mt_tensor_free(x);
}

static void test_output_sizes_by_hand(void **state)
{
    (void)state;
    int64_t o;
    assert_ok(mt_conv_output_size(28, 3, 1, MT_PADDING_VALID, &o));
    assert_int_equal(o, 26);
    assert_ok(mt_conv_output_size(13, 2, 2, MT_PADDING_VALID, &o));
    assert_int_equal(o, 6);
    assert_ok(mt_conv_output_size(13, 2, 2, MT_PADDING_SAME, &o));
    assert_int_equal(o, 7);
    assert_ok(mt_conv_output_size(2, 3, 1, MT_PADDING_VALID, &o));
    assert_int_equal(o, 0);
    assert_fails(mt_conv_output_size(5, 0, 1, MT_PADDING_VALID, &o), MT_ERR_INVALID_ARGUMENT,
                 "k=0");
}

static void test_conv_errors(void **state)
{
    (void)state;
    mt_tensor *x, *k, *k2, *bias, *y = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){1, 5, 5, 3}, &x));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){3, 3, 2, 4}, &k));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){3, 3, 3, 4}, &k2));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){5}, &bias));
    mt_conv2d_params p = {MT_KERNEL_HWIO, 1, 1, MT_PADDING_VALID, MT_ACTIVATION_NONE};
    assert_fails(mt_conv2d(x, k, NULL, &p, &y), MT_ERR_SHAPE,
                 "input [1,5,5,3] has 3 channels, kernel [3,3,2,4] (kh,kw,in,out) expects 2");
    assert_fails(mt_conv2d(x, k2, bias, &p, &y), MT_ERR_SHAPE, "bias is [5], expected [4]");
    assert_fails(mt_conv2d(x, k2, NULL, NULL, &y), MT_ERR_INVALID_ARGUMENT, "params is NULL");
    p.stride_h = 0;
    assert_fails(mt_conv2d(x, k2, NULL, &p, &y), MT_ERR_INVALID_ARGUMENT, "invalid stride (0,1)");
    p.stride_h = 1;
    mt_tensor x3;
    assert_ok(mt_view_into(x, 3, (int64_t[]){5, 5, 3}, &x3));
    assert_fails(mt_conv2d(&x3, k2, NULL, &p, &y), MT_ERR_SHAPE, "must be [N,H,W,C]");
    mt_pool2d_params pp = {2, 2, 0, 2, MT_PADDING_VALID};
    assert_fails(mt_maxpool2d(x, &pp, &y), MT_ERR_INVALID_ARGUMENT, "invalid pool (2,2), stride (0,2)");
    assert_null(y);
    mt_tensor *all[] = {x, k, k2, bias};
    for (int i = 0; i < 4; i++)
        mt_tensor_free(all[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d_matches_tensorflow),
        cmocka_unit_test(test_maxpool_matches_tensorflow),
        cmocka_unit_test(test_maxpool_many_channels_by_hand),
        cmocka_unit_test(test_output_sizes_by_hand),
        cmocka_unit_test(test_conv_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
