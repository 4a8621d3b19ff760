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
            .kernel_layout = MT_KERNEL_HWIO, .stride_h = c->sh, .stride_w = c->sw,
            .padding = c->same ? MT_PADDING_SAME : MT_PADDING_VALID,
            .activation = c->bias_relu ? MT_ACTIVATION_RELU : MT_ACTIVATION_NONE,
        };
        const mt_tensor *bias = c->bias_relu ? b : NULL;
        int64_t numel = c->out[0] * c->out[1] * c->out[2] * c->out[3];
        for (int layout = 0; layout < 2; layout++) {
            mt_tensor *y;
            p.kernel_layout = layout ? MT_KERNEL_OIHW : MT_KERNEL_HWIO;
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
        p.kernel_layout = MT_KERNEL_HWIO;
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
        mt_pool2d_params p = {.pool_h = c->ph, .pool_w = c->pw, .stride_h = c->sh,
                              .stride_w = c->sw,
                              .padding = c->same ? MT_PADDING_SAME : MT_PADDING_VALID};
        assert_ok(mt_max_pool2d(x, &p, &y));
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
    mt_pool2d_params p = {.pool_h = 2, .pool_w = 2, .padding = MT_PADDING_SAME};
    assert_ok(mt_max_pool2d(x, &p, &y));
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
                 "window 0");
    assert_fails(mt_conv_output_size(5, 3, -1, MT_PADDING_VALID, &o), MT_ERR_INVALID_ARGUMENT,
                 "stride -1");
    assert_fails(mt_conv_output_size(5, 3, 1, MT_PADDING_VALID, NULL), MT_ERR_INVALID_ARGUMENT,
                 "out is NULL");
    assert_fails(mt_conv_output_size(5, 3, 1, MT_PADDING_EXPLICIT, &o),
                 MT_ERR_INVALID_ARGUMENT, "VALID or SAME");
}

/* Bug P3: (in + stride - 1) / stride overflowed and returned a negative
 * size with MT_OK. ceil((2^63 - 1) / 2) = 2^62 exactly. */
static void test_output_sizes_do_not_overflow(void **state)
{
    (void)state;
    int64_t o = -7;
    assert_ok(mt_conv_output_size(INT64_MAX, 1, 2, MT_PADDING_SAME, &o));
    assert_int_equal(o, INT64_C(4611686018427387904));
    assert_ok(mt_conv_output_size(INT64_MAX, 1, INT64_MAX, MT_PADDING_SAME, &o));
    assert_int_equal(o, 1);
    assert_ok(mt_conv_output_size(INT64_MAX, INT64_MAX, 1, MT_PADDING_VALID, &o));
    assert_int_equal(o, 1);
    // SAME's padding (out - 1) * stride + k - in does not fit
    o = -7;
    assert_fails(mt_conv_output_size(5, INT64_MAX, 4, MT_PADDING_SAME, &o), MT_ERR_OVERFLOW,
                 "SAME padding");
    assert_int_equal(o, -7);
}

static mt_tensor *filled(int rank, const int64_t *shape, float v)
{
    mt_tensor *t;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t));
    float *d = t->data;
    for (int64_t i = 0; i < mt_tensor_numel(t); i++)
        d[i] = v;
    return t;
}

/* Huge strides, windows, pads and dilations: either the right small answer
 * or MT_ERR_OVERFLOW, never a negative size or a wild read. */
static void test_huge_windows(void **state)
{
    (void)state;
    mt_tensor *x = filled(4, (int64_t[]){1, 5, 5, 1}, 1.0f);
    mt_tensor *k = filled(4, (int64_t[]){3, 3, 1, 1}, 1.0f), *y = NULL;
    // stride 2^63 - 1 with SAME: one output, window at the top-left corner
    // (total padding 3 - 5 < 0, so none): 9 ones
    mt_conv2d_params p = {.stride_h = INT64_MAX, .stride_w = INT64_MAX,
                          .padding = MT_PADDING_SAME};
    assert_ok(mt_conv2d(x, k, NULL, &p, &y));
    assert_int_equal(y->shape[1], 1);
    assert_int_equal(y->shape[2], 1);
    assert_true(((float *)y->data)[0] == 9.0f);
    mt_tensor_free(y);
    y = NULL;
    p = (mt_conv2d_params){.padding = MT_PADDING_EXPLICIT, .pad_top = INT64_MAX};
    assert_fails(mt_conv2d(x, k, NULL, &p, &y), MT_ERR_OVERFLOW, "height: size 5 plus pads");
    p = (mt_conv2d_params){.dilation_w = INT64_MAX / 2 + 1};
    assert_fails(mt_conv2d(x, k, NULL, &p, &y), MT_ERR_OVERFLOW, "width: window 3 with dilation");
    mt_pool2d_params pp = {.pool_h = INT64_MAX, .pool_w = 1, .stride_h = 4,
                           .padding = MT_PADDING_SAME};
    assert_fails(mt_max_pool2d(x, &pp, &y), MT_ERR_OVERFLOW, "SAME padding");
    pp.stride_h = INT64_MAX;
    pp.pool_h = 2;
    assert_ok(mt_max_pool2d(x, &pp, &y));
    assert_int_equal(y->shape[1], 1);
    mt_tensor_free(y);
    y = NULL;
    mt_conv_transpose2d_params tp = {.stride_h = INT64_MAX};
    mt_tensor *w = filled(4, (int64_t[]){1, 1, 3, 3}, 1.0f);
    assert_fails(mt_conv_transpose2d(x, w, NULL, &tp, &y), MT_ERR_OVERFLOW,
                 "height: output size overflows");
    assert_null(y);
    /* groups that would overflow Cout = Cout/groups · groups: refused as not
     * dividing the channels before the product is taken (UBSan in CI) */
    tp = (mt_conv_transpose2d_params){.groups = INT64_MAX};
    mt_tensor *w2 = filled(4, (int64_t[]){1, 2, 1, 1}, 1.0f);
    assert_fails(mt_conv_transpose2d(x, w2, NULL, &tp, &y), MT_ERR_SHAPE,
                 "with groups 9223372036854775807 (dividing the channels)");
    assert_null(y);
    mt_conv2d_params p1 = {.groups = INT64_MAX};   /* AUTO layout: tested without overflow */
    mt_tensor *x1 = filled(3, (int64_t[]){1, 5, 4}, 1.0f), *k1 = filled(3, (int64_t[]){3, 2, 4}, 1.0f);
    assert_fails(mt_conv1d(x1, k1, NULL, &p1, &y), MT_ERR_SHAPE, "groups 9223372036854775807");
    mt_tensor_free(k1);
    mt_tensor_free(x1);
    mt_tensor_free(w2);
    mt_tensor_free(w);
    mt_tensor_free(k);
    mt_tensor_free(x);
}

static void test_conv_errors(void **state)
{
    (void)state;
    mt_tensor *x, *k, *k2, *bias, *y = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){1, 5, 5, 3}, &x));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){3, 3, 2, 4}, &k));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){3, 3, 3, 4}, &k2));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){5}, &bias));
    mt_conv2d_params p = {.kernel_layout = MT_KERNEL_HWIO};
    assert_fails(mt_conv2d(x, k, NULL, &p, &y), MT_ERR_SHAPE,
                 "input [1,5,5,3] has 3 channels, kernel [3,3,2,4] (HWIO (kh,kw,in/groups,out)) "
                 "expects 2");
    assert_fails(mt_conv2d(x, k2, bias, &p, &y), MT_ERR_SHAPE, "bias is [5], expected [4]");
    assert_fails(mt_conv2d(x, k2, NULL, NULL, &y), MT_ERR_INVALID_ARGUMENT, "params is NULL");
    assert_fails(mt_conv2d(NULL, k2, NULL, &p, &y), MT_ERR_INVALID_ARGUMENT, "input is NULL");
    assert_fails(mt_conv2d(x, NULL, NULL, &p, &y), MT_ERR_INVALID_ARGUMENT, "kernel is NULL");
    assert_fails(mt_conv2d(x, k2, NULL, &p, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_conv2d_into(x, k2, NULL, &p, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    // images of width (or height) 0 padded to a non-empty output: PyTorch
    // refuses them ("Only zero batch or zero channel inputs are
    // supported"); the kernels read the padding off the NULL data (clang
    // UBSan, fuzz/regressions-io/loaders/conv2d_zero_width_input); an
    // empty batch stays an empty result
    mt_tensor *thin = NULL, *none = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){4, 5, 0, 3}, &thin));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){0, 5, 5, 3}, &none));
    const mt_conv2d_params same = {.kernel_layout = MT_KERNEL_HWIO, .padding = MT_PADDING_SAME};
    assert_fails(mt_conv2d(thin, k2, NULL, &same, &y), MT_ERR_SHAPE,
                 "conv2d: input [4,5,0,3] has an empty height or width");
    assert_null(y);
    assert_ok(mt_conv2d(none, k2, NULL, &same, &y));
    assert_int_equal(y->shape[0], 0);
    mt_tensor_free(y);
    y = NULL;
    mt_tensor_free(thin);
    mt_tensor_free(none);
    p.stride_h = -1;
    assert_fails(mt_conv2d(x, k2, NULL, &p, &y), MT_ERR_INVALID_ARGUMENT,
                 "negative stride (-1,0)");
    p.stride_h = 0;
    p.data_layout = (mt_data_layout)7;
    assert_fails(mt_conv2d(x, k2, NULL, &p, &y), MT_ERR_INVALID_ARGUMENT, "unknown data_layout 7");
    p.data_layout = MT_DATA_LAYOUT_NHWC;
    mt_tensor x3;
    assert_ok(mt_view_into(x, 3, (int64_t[]){5, 5, 3}, &x3));
    assert_fails(mt_conv2d(&x3, k2, NULL, &p, &y), MT_ERR_SHAPE, "must be [N,H,W,C]");
    p.data_layout = MT_DATA_LAYOUT_NCHW;
    assert_fails(mt_conv2d(&x3, k2, NULL, &p, &y), MT_ERR_SHAPE, "must be [N,C,H,W]");
    mt_pool2d_params pp = {.pool_h = 2, .pool_w = 2, .stride_h = -1};
    assert_fails(mt_max_pool2d(x, &pp, &y), MT_ERR_INVALID_ARGUMENT,
                 "invalid pool (2,2), stride (-1,0)");
    assert_null(y);
    mt_tensor *all[] = {x, k, k2, bias};
    for (int i = 0; i < 4; i++)
        mt_tensor_free(all[i]);
}

/* A kernel (dilated) larger than the padded input: PyTorch raises
 * ("Kernel size can't be greater than actual input size"), and so do
 * conv2d, conv1d and conv2d_max_pool2d, naming the axis and the shapes,
 * instead of giving an empty output; _into leaves out untouched. With
 * pads that make it fit, one output row. */
/* A pool window larger than the (padded) image, as PyTorch 1.13: refused
 * without ceil_mode ("Output size is too small"); with it, one window less
 * than a stride too wide covers what there is (F.max_pool2d(arange(4)
 * .view(1,1,2,2), 3, 2, ceil_mode=True) is 3, F.avg_pool2d's 1.5, with
 * count_include_pad or not). It gave an empty [1,0,0,1] either way. */
static void test_pool_window_larger_than_input(void **state)
{
    (void)state;
    /* a window of 2^62 rows with pads of 2^61 each side (legal, as in
     * PyTorch): the rows that are padding are skipped, not visited one by
     * one (this ran for ever). NCHW [1,1,3,3] holding 0..8: rows 0..2 in the
     * one row of windows, columns {0,1} and {2}: max 7 and 8. */
    float big[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    mt_tensor xb, *yb = NULL;
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 4, (int64_t[]){1, 1, 3, 3}, big, &xb));
    const int64_t half = INT64_C(1) << 61;
    assert_ok(mt_max_pool2d(&xb, &(mt_pool2d_params){
        .pool_h = 2 * half, .pool_w = 2, .padding = MT_PADDING_EXPLICIT, .pad_top = half,
        .pad_bottom = half, .ceil_mode = true, .data_layout = MT_DATA_LAYOUT_NCHW}, &yb));
    assert_int_equal(yb->shape[2], 1);
    assert_int_equal(yb->shape[3], 2);
    assert_close(yb->data, ((float[]){7, 8}), 2, 0, 0);
    mt_tensor_free(yb);

    float xd[4] = {0, 1, 2, 3};
    mt_tensor x, *y = NULL;
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 4, (int64_t[]){1, 2, 2, 1}, xd, &x));
    mt_pool2d_params p = {.pool_h = 3, .pool_w = 3, .stride_h = 2, .stride_w = 2};
    assert_fails(mt_max_pool2d(&x, &p, &y), MT_ERR_SHAPE,
                 "max_pool2d: the window 3 (dilation 1) is larger than the height 2 of input "
                 "[1,2,2,1] plus its pads (0, 0)");
    assert_fails(mt_avg_pool2d(&x, &p, &y), MT_ERR_SHAPE, "avg_pool2d: the window 3");
    assert_null(y);
    p.ceil_mode = true;
    for (int cip = 0; cip < 2; cip++) {
        p.count_include_pad = cip;
        assert_ok(mt_max_pool2d(&x, &p, &y));
        assert_int_equal(mt_tensor_numel(y), 1);
        assert_true(((float *)y->data)[0] == 3.0f);
        mt_tensor_free(y);
        assert_ok(mt_avg_pool2d(&x, &p, &y));
        assert_int_equal(mt_tensor_numel(y), 1);
        assert_true(((float *)y->data)[0] == 1.5f);
        mt_tensor_free(y);
        y = NULL;
    }
    // a stride or more too wide is no window (stride 1: 3 - 2 is not below 1)
    p.stride_h = p.stride_w = 1;
    assert_fails(mt_max_pool2d(&x, &p, &y), MT_ERR_SHAPE, "larger than the height 2");
}

/* groups near INT64_MAX over an input of 0 channels (which groups divides):
 * the layout check multiplied the kernel's channels by groups, a signed
 * overflow (UBSan) and a message expecting -9223372036854775808 channels. */
static void test_huge_groups_no_channels(void **state)
{
    (void)state;
    float d[8] = {0};
    mt_tensor x, k, *y = NULL;
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 4, (int64_t[]){1, 2, 2, 0}, d, &x));
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 4, (int64_t[]){1, 1, 2, 4}, d, &k));
    assert_fails(mt_conv2d(&x, &k, NULL, &(mt_conv2d_params){.kernel_layout = MT_KERNEL_HWIO,
                                                             .groups = INT64_MAX / 2 + 1},
                           &y),
                 MT_ERR_SHAPE, "conv2d: input [1,2,2,0] has 0 channels, kernel [1,1,2,4] "
                 "(HWIO (kh,kw,in/groups,out)) expects 2 per group (groups "
                 "4611686018427387904)");
    assert_null(y);
}

static void test_kernel_larger_than_input(void **state)
{
    (void)state;
    mt_tensor *x = filled(4, (int64_t[]){1, 2, 5, 2}, 1.0f);
    mt_tensor *k = filled(4, (int64_t[]){3, 3, 2, 3}, 1.0f), *y = NULL;
    const mt_conv2d_params p = {.kernel_layout = MT_KERNEL_HWIO};
    assert_fails(mt_conv2d(x, k, NULL, &p, &y), MT_ERR_SHAPE,
                 "conv2d: the kernel 3 (dilation 1) is larger than the height 2 of input "
                 "[1,2,5,2] plus its pads (0, 0)");
    // the same input read NCHW: [1,2,5,2] is 2 channels of 5x2
    assert_fails(mt_conv2d(x, k, NULL, &(mt_conv2d_params){.kernel_layout = MT_KERNEL_HWIO,
                                                           .data_layout = MT_DATA_LAYOUT_NCHW},
                           &y),
                 MT_ERR_SHAPE, "the kernel 3 (dilation 1) is larger than the width 2");
    // a dilated width: 2·(3 - 1) + 1 = 5 fits 5, 3·2 + 1 = 7 does not
    mt_tensor *x5 = filled(4, (int64_t[]){1, 3, 5, 2}, 1.0f);
    assert_ok(mt_conv2d(x5, k, NULL, &(mt_conv2d_params){.kernel_layout = MT_KERNEL_HWIO,
                                                         .dilation_w = 2}, &y));
    assert_int_equal(y->shape[2], 1);
    mt_tensor_free(y);
    y = NULL;
    assert_fails(mt_conv2d(x5, k, NULL, &(mt_conv2d_params){.kernel_layout = MT_KERNEL_HWIO,
                                                            .dilation_w = 3}, &y),
                 MT_ERR_SHAPE, "the kernel 3 (dilation 3) is larger than the width 5");
    // one pad row makes it fit: 2 + 1 = 3, one output row of 2·3·2 + 6·1 ones
    assert_ok(mt_conv2d(x, k, NULL, &(mt_conv2d_params){.kernel_layout = MT_KERNEL_HWIO,
                                                        .padding = MT_PADDING_EXPLICIT,
                                                        .pad_top = 1}, &y));
    assert_int_equal(y->shape[1], 1);
    assert_int_equal(y->shape[2], 3);
    assert_true(((float *)y->data)[0] == 12.0f);
    mt_tensor_free(y);
    y = NULL;
    mt_tensor *out = filled(4, (int64_t[]){1, 0, 3, 3}, 7.0f), *out1 = NULL;
    assert_fails(mt_conv2d_into(x, k, NULL, &p, out), MT_ERR_SHAPE, "larger than the height");
    assert_ok(mt_tensor_full(4, (int64_t[]){1, 1, 1, 3}, 7.0f, &out1));
    assert_fails(mt_conv2d_max_pool2d_into(x, k, NULL, &p,
                                           &(mt_pool2d_params){.pool_h = 1, .pool_w = 1},
                                           out1),
                 MT_ERR_SHAPE, "conv2d_max_pool2d: the kernel 3");
    for (int i = 0; i < 3; i++)
        assert_true(((float *)out1->data)[i] == 7.0f);
    // conv1d names the length and its own 3-D input, in both layouts
    mt_tensor *x1 = filled(3, (int64_t[]){2, 4, 3}, 1.0f);
    mt_tensor *k1 = filled(3, (int64_t[]){5, 3, 2}, 1.0f);
    assert_fails(mt_conv1d(x1, k1, NULL, &p, &y), MT_ERR_SHAPE,
                 "conv1d: the kernel 5 (dilation 1) is larger than the length 4 of input "
                 "[2,4,3] plus its pads (0, 0)");
    mt_tensor *x1c = filled(3, (int64_t[]){2, 3, 4}, 1.0f);
    assert_fails(mt_conv1d(x1c, k1, NULL, &(mt_conv2d_params){
                               .kernel_layout = MT_KERNEL_HWIO,
                               .data_layout = MT_DATA_LAYOUT_NCHW}, &y),
                 MT_ERR_SHAPE, "larger than the length 4 of input [2,3,4] plus its pads");
    mt_tensor *out1d = filled(3, (int64_t[]){2, 0, 2}, 7.0f);
    assert_fails(mt_conv1d_into(x1, k1, NULL, &p, out1d), MT_ERR_SHAPE,
                 "larger than the length 4");
    assert_ok(mt_conv1d(x1, k1, NULL, &(mt_conv2d_params){.kernel_layout = MT_KERNEL_HWIO,
                                                          .padding = MT_PADDING_EXPLICIT,
                                                          .pad_left = 1}, &y));
    assert_int_equal(y->shape[1], 1);
    assert_true(((float *)y->data)[0] == 12.0f);
    mt_tensor_free(y);
    mt_tensor_free(out1d);
    mt_tensor_free(x1c);
    mt_tensor_free(k1);
    mt_tensor_free(x1);
    mt_tensor_free(out1);
    mt_tensor_free(out);
    mt_tensor_free(x5);
    mt_tensor_free(k);
    mt_tensor_free(x);
}

/* AUTO reads the kernel as HWIO or OIHW, whichever fits; when both do, the
 * message names the flag to set. */
static void test_kernel_layout_detection(void **state)
{
    (void)state;
    mt_tensor *x = filled(4, (int64_t[]){1, 4, 4, 3}, 1.0f), *y = NULL;
    mt_tensor *square = filled(4, (int64_t[]){3, 3, 3, 3}, 1.0f);
    mt_tensor *oihw = filled(4, (int64_t[]){8, 3, 2, 2}, 1.0f);
    mt_tensor *neither = filled(4, (int64_t[]){2, 2, 2, 2}, 1.0f);
    mt_conv2d_params p = {0};
    assert_fails(mt_conv2d(x, square, NULL, &p, &y), MT_ERR_SHAPE,
                 "set params.kernel_layout to MT_KERNEL_HWIO or MT_KERNEL_OIHW");
    assert_fails(mt_conv2d(x, neither, NULL, &p, &y), MT_ERR_SHAPE, "fits neither");
    assert_null(y);
    // [8,3,2,2] is only OIHW: 8 outputs of 2x2 windows over 3 channels of ones
    assert_ok(mt_conv2d(x, oihw, NULL, &p, &y));
    assert_int_equal(y->shape[3], 8);
    assert_int_equal(y->shape[1], 3);
    assert_true(((float *)y->data)[0] == 12.0f);
    mt_tensor_free(y);
    y = NULL;
    p.kernel_layout = MT_KERNEL_OIHW;
    assert_ok(mt_conv2d(x, square, NULL, &p, &y));
    mt_tensor_free(y);
    y = NULL;
    // conv1d: (k, in, out) and (out, in, k) are told apart only by a bias
    mt_tensor *x1 = filled(3, (int64_t[]){1, 6, 2}, 1.0f), *k1 = filled(3, (int64_t[]){3, 2, 4}, 1.0f);
    mt_tensor *b4 = filled(1, (int64_t[]){4}, 0.5f);
    p = (mt_conv2d_params){0};
    assert_fails(mt_conv1d(x1, k1, NULL, &p, &y), MT_ERR_SHAPE, "set params.kernel_layout");
    assert_ok(mt_conv1d(x1, k1, b4, &p, &y));  // bias [4]: HWIO (k 3, out 4)
    assert_int_equal(y->shape[1], 4);
    assert_int_equal(y->shape[2], 4);
    assert_true(((float *)y->data)[0] == 6.5f);
    mt_tensor_free(y);
    y = NULL;
    p.stride_h = 2;
    assert_fails(mt_conv1d(x1, k1, b4, &p, &y), MT_ERR_INVALID_ARGUMENT, "_h params");
    mt_tensor *all[] = {x, square, oihw, neither, x1, k1, b4};
    for (int i = 0; i < 7; i++)
        mt_tensor_free(all[i]);
}

static void test_groups_and_pads_errors(void **state)
{
    (void)state;
    mt_tensor *x = filled(4, (int64_t[]){1, 5, 5, 3}, 1.0f), *y = NULL;
    mt_tensor *x4 = filled(4, (int64_t[]){1, 5, 5, 4}, 1.0f);
    mt_tensor *k = filled(4, (int64_t[]){3, 3, 1, 3}, 1.0f);
    mt_tensor *k3 = filled(4, (int64_t[]){3, 3, 2, 3}, 1.0f);
    mt_conv2d_params p = {.kernel_layout = MT_KERNEL_HWIO, .groups = 2};
    assert_fails(mt_conv2d(x, k, NULL, &p, &y), MT_ERR_SHAPE,
                 "groups 2 does not divide the 3 channels of input [1,5,5,3]");
    assert_fails(mt_conv2d(x4, k3, NULL, &p, &y), MT_ERR_SHAPE,
                 "groups 2 does not divide the 3 output channels");
    p = (mt_conv2d_params){.groups = -3};
    assert_fails(mt_conv2d(x, k, NULL, &p, &y), MT_ERR_INVALID_ARGUMENT, "groups -3");
    p = (mt_conv2d_params){.pad_top = 1};
    assert_fails(mt_conv2d(x, k3, NULL, &p, &y), MT_ERR_INVALID_ARGUMENT,
                 "not MT_PADDING_EXPLICIT");
    p = (mt_conv2d_params){.padding = MT_PADDING_EXPLICIT, .pad_right = -1};
    assert_fails(mt_conv2d(x, k, NULL, &p, &y), MT_ERR_INVALID_ARGUMENT,
                 "width: negative padding (0, -1)");
    p = (mt_conv2d_params){.padding = (mt_padding)9};
    assert_fails(mt_conv2d(x, k, NULL, &p, &y), MT_ERR_INVALID_ARGUMENT, "unknown padding 9");
    mt_pool2d_params pp = {.pool_h = 3, .pool_w = 3, .padding = MT_PADDING_EXPLICIT,
                           .pad_left = 2};
    assert_fails(mt_max_pool2d(x, &pp, &y), MT_ERR_INVALID_ARGUMENT, "at most half the window");
    pp = (mt_pool2d_params){.pool_h = 2, .pool_w = 2, .dilation_h = 2};
    assert_fails(mt_avg_pool2d(x, &pp, &y), MT_ERR_INVALID_ARGUMENT, "must be 1 for an average");
    mt_conv_transpose2d_params tp = {.stride_h = 2, .output_padding_h = 2};
    mt_tensor *w = filled(4, (int64_t[]){3, 1, 3, 3}, 1.0f);
    assert_fails(mt_conv_transpose2d(x, w, NULL, &tp, &y), MT_ERR_INVALID_ARGUMENT,
                 "smaller than the stride or the dilation");
    tp = (mt_conv_transpose2d_params){.groups = 2};
    assert_fails(mt_conv_transpose2d(x, w, NULL, &tp, &y), MT_ERR_SHAPE, "groups 2");
    tp = (mt_conv_transpose2d_params){.pad_top = 10};
    assert_fails(mt_conv_transpose2d(x, w, NULL, &tp, &y), MT_ERR_SHAPE,
                 "height: pads (10, 0) leave no output (7 before them)");
    // an output of exactly 0 rows: PyTorch refuses it too ("Output size is
    // too small"); 7 - 3 - 4 = 0
    tp = (mt_conv_transpose2d_params){.pad_top = 3, .pad_bottom = 4};
    assert_fails(mt_conv_transpose2d(x, w, NULL, &tp, &y), MT_ERR_SHAPE,
                 "height: pads (3, 4) leave no output");
    // pads near INT64_MAX: their difference overflowed (UBSan)
    tp = (mt_conv_transpose2d_params){.pad_left = INT64_MAX, .pad_right = INT64_MAX};
    assert_fails(mt_conv_transpose2d(x, w, NULL, &tp, &y), MT_ERR_SHAPE,
                 "width: pads (9223372036854775807, 9223372036854775807) leave no output");
    assert_null(y);
    mt_tensor *all[] = {x, x4, k, k3, w};
    for (int i = 0; i < 5; i++)
        mt_tensor_free(all[i]);
}

static void test_pool_and_resize_errors(void **state)
{
    (void)state;
    mt_tensor *x = filled(4, (int64_t[]){1, 4, 4, 2}, 1.0f), *y = NULL;
    mt_pool2d_params pp = {.pool_h = 2, .pool_w = 2};
    assert_fails(mt_avg_pool2d(NULL, &pp, &y), MT_ERR_INVALID_ARGUMENT, "input is NULL");
    assert_fails(mt_avg_pool2d(x, NULL, &y), MT_ERR_INVALID_ARGUMENT, "params is NULL");
    assert_fails(mt_avg_pool2d(x, &pp, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_max_pool2d_into(x, &pp, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_adaptive_avg_pool2d(x, 0, 2, MT_DATA_LAYOUT_NHWC, &y),
                 MT_ERR_INVALID_ARGUMENT, "output size (0,2)");
    assert_fails(mt_adaptive_avg_pool2d(x, INT64_MAX, 1, MT_DATA_LAYOUT_NHWC, &y),
                 MT_ERR_OVERFLOW, "overflows");
    assert_fails(mt_global_avg_pool2d(NULL, MT_DATA_LAYOUT_NHWC, false, &y),
                 MT_ERR_INVALID_ARGUMENT, "input is NULL");
    assert_fails(mt_global_avg_pool2d(x, MT_DATA_LAYOUT_NHWC, false, NULL),
                 MT_ERR_INVALID_ARGUMENT, "out is NULL");
    mt_interpolate_params ip = {.out_h = 8, .out_w = 8, .scale_h = 2.0, .scale_w = 2.0};
    assert_fails(mt_interpolate(x, &ip, &y), MT_ERR_INVALID_ARGUMENT, "exactly one");
    ip = (mt_interpolate_params){0};
    assert_fails(mt_interpolate(x, &ip, &y), MT_ERR_INVALID_ARGUMENT, "exactly one");
    ip = (mt_interpolate_params){.out_h = 3, .out_w = 3, .align_corners = true};
    assert_fails(mt_interpolate(x, &ip, &y), MT_ERR_INVALID_ARGUMENT, "align_corners");
    assert_fails(mt_interpolate(x, NULL, &y), MT_ERR_INVALID_ARGUMENT, "params is NULL");
    assert_null(y);
    mt_tensor *g;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){1, 3}, &g));
    assert_fails(mt_global_avg_pool2d_into(x, MT_DATA_LAYOUT_NHWC, false, g), MT_ERR_SHAPE,
                 "out is [1,3], input [1,4,4,2] gives [1,2]");
    mt_tensor_free(g);
    mt_tensor_free(x);
}

/* _into with out over the input's memory fails and writes nothing; an out
 * of the wrong shape likewise. */
static void test_out_overlaps_input(void **state)
{
    (void)state;
    mt_tensor *x = filled(4, (int64_t[]){1, 3, 3, 1}, 2.0f);
    mt_tensor *k = filled(4, (int64_t[]){1, 1, 1, 1}, 5.0f);
    mt_conv2d_params p = {0};
    assert_fails(mt_conv2d_into(x, k, NULL, &p, x), MT_ERR_INVALID_ARGUMENT,
                 "overlaps the input");
    assert_fails(mt_conv2d_into(x, k, NULL, &p, k), MT_ERR_SHAPE, "out is [1,1,1,1]");
    mt_pool2d_params pp = {.pool_h = 1, .pool_w = 1};
    assert_fails(mt_max_pool2d_into(x, &pp, x), MT_ERR_INVALID_ARGUMENT, "overlaps the input");
    assert_fails(mt_avg_pool2d_into(x, &pp, x), MT_ERR_INVALID_ARGUMENT, "overlaps the input");
    assert_fails(mt_adaptive_avg_pool2d_into(x, 3, 3, MT_DATA_LAYOUT_NHWC, x),
                 MT_ERR_INVALID_ARGUMENT, "overlaps the input");
    mt_interpolate_params ip = {.out_h = 3, .out_w = 3};
    assert_fails(mt_interpolate_into(x, &ip, x), MT_ERR_INVALID_ARGUMENT, "overlaps the input");
    mt_conv_transpose2d_params tp = {0};
    assert_fails(mt_conv_transpose2d_into(x, k, NULL, &tp, x), MT_ERR_INVALID_ARGUMENT,
                 "overlaps the input");
    mt_tensor x3;
    assert_ok(mt_view_into(x, 3, (int64_t[]){1, 9, 1}, &x3));
    mt_tensor k3;
    assert_ok(mt_view_into(k, 3, (int64_t[]){1, 1, 1}, &k3));
    assert_fails(mt_conv1d_into(&x3, &k3, NULL, &p, &x3), MT_ERR_INVALID_ARGUMENT,
                 "overlaps the input");
    const float *d = x->data;
    for (int i = 0; i < 9; i++)
        assert_true(d[i] == 2.0f);
    mt_tensor_free(k);
    mt_tensor_free(x);
}

/* A grouped NCHW conv into a strided (transposed) out, by hand: depthwise
 * 1x1 kernels scale each channel, so y[n,c,i,j] = (c + 1) * x[n,c,i,j]. */
/* The arguments of one conv2d_into or conv2d_max_pool2d_into (pool set)
 * under the probe. */
typedef struct conv2d_call {
    const mt_tensor *x, *k, *b;
    mt_conv2d_params p;
    const mt_pool2d_params *pool;
} conv2d_call;

static mt_status conv2d_call_run(const void *ctx, mt_tensor *out)
{
    const conv2d_call *c = ctx;
    return c->pool ? mt_conv2d_max_pool2d_into(c->x, c->k, c->b, &c->p, c->pool, out)
                   : mt_conv2d_into(c->x, c->k, c->b, &c->p, out);
}

/* want: `shape` filled as assert_oom_leaves_out fills out, with r
 * copied into its narrow (dim 2, from 1, r's width) — what a run into
 * that narrow leaves. */
static mt_tensor *sentinel_around(const int64_t shape[4], const mt_tensor *r)
{
    mt_tensor *t = NULL, in;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, shape, &t));
    for (int64_t i = 0; i < mt_tensor_numel(t); i++)
        ((float *)t->data)[i] = (float)i - 1e6f;
    assert_ok(mt_narrow_into(t, 2, 1, r->shape[2], &in));
    assert_ok(mt_tensor_copy_into(r, &in));
    return t;
}

/* Out of memory at each allocation in turn leaves out as it was: conv2d
 * (the native row path and im2col's GEMM on the others; a strided bias,
 * two groups) and conv2d_max_pool2d, into a contiguous out and into a
 * narrowed one (rows that do not merge: a temporary). The successful run
 * gives mt_conv2d's values, which the TensorFlow tests check. */
static void test_conv2d_out_of_memory_leaves_out(void **state)
{
    (void)state;
    mt_tensor *x = NULL, *k = NULL, *b2 = NULL, *b = NULL, *want = NULL, *out = NULL,
              *wide = NULL, *wide_want = NULL, col;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (const int64_t[]){2, 20, 20, 16}, &x));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (const int64_t[]){8, 8, 3, 3}, &k));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (const int64_t[]){8, 2}, &b2));
    uint64_t seed = 17;
    mt_tensor *fill[3] = {x, k, b2};
    for (int t = 0; t < 3; t++)
        for (int64_t i = 0; i < mt_tensor_numel(fill[t]); i++)
            ((float *)fill[t]->data)[i] = rand_unit(&seed);
    assert_ok(mt_narrow_into(b2, 1, 0, 1, &col));
    assert_ok(mt_squeeze(&col, 1, &b));   /* [8], stride 2 */
    const mt_pool2d_params pool = {.pool_h = 2, .pool_w = 2};
    for (int pooled = 0; pooled < 2; pooled++) {
        conv2d_call c = {x, k, b, {.kernel_layout = MT_KERNEL_OIHW, .groups = 2,
                                   .activation = MT_ACTIVATION_RELU},
                         pooled ? &pool : NULL};
        if (pooled)
            assert_ok(mt_conv2d_max_pool2d(x, k, b, &c.p, &pool, &want));
        else
            assert_ok(mt_conv2d(x, k, b, &c.p, &want));
        assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, want->shape, &out));
        assert_oom_leaves_out(conv2d_call_run, &c, out, out, want);
        const int64_t *ws = want->shape, wide_shape[4] = {ws[0], ws[1], ws[2] + 3, ws[3]};
        wide_want = sentinel_around(wide_shape, want);
        assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, wide_shape, &wide));
        mt_tensor in;
        assert_ok(mt_narrow_into(wide, 2, 1, ws[2], &in));
        assert_oom_leaves_out(conv2d_call_run, &c, wide, &in, wide_want);
        mt_tensor_free(wide);
        mt_tensor_free(wide_want);
        mt_tensor_free(out);
        mt_tensor_free(want);
    }
    mt_tensor_free(b);
    mt_tensor_free(b2);
    mt_tensor_free(k);
    mt_tensor_free(x);
}

/* An expanded out (a stride-0 dim: its elements share memory) is refused
 * by the 2-D convs and pools as by the elementwise ops and the 3-D ones,
 * the one float behind it untouched: conv_transpose2d summed every
 * image's taps into it, the others kept the last image's values. */
static void test_broadcast_out_refused(void **state)
{
    (void)state;
    float xd[2 * 4 * 4 * 2], kd[2 * 2 * 2 * 2], od = 42.0f;
    for (int i = 0; i < 64; i++)
        xd[i] = (float)i;
    for (int i = 0; i < 16; i++)
        kd[i] = 1.0f;
    mt_tensor x, k, x3, k3;
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 4, (int64_t[]){2, 4, 4, 2}, xd, &x));
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 4, (int64_t[]){2, 2, 2, 2}, kd, &k));
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){2, 16, 2}, xd, &x3));
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){2, 2, 2}, kd, &k3));
    const mt_conv2d_params cp = {.kernel_layout = MT_KERNEL_HWIO};
    const mt_pool2d_params pp = {.pool_h = 2, .pool_w = 2};
    mt_tensor conv = {.dtype = MT_DTYPE_F32, .rank = 4, .shape = {2, 3, 3, 2}, .data = &od},
              pooled = {.dtype = MT_DTYPE_F32, .rank = 4, .shape = {2, 2, 2, 2}, .data = &od},
              up = {.dtype = MT_DTYPE_F32, .rank = 4, .shape = {2, 5, 5, 2}, .data = &od},
              line = {.dtype = MT_DTYPE_F32, .rank = 3, .shape = {2, 15, 2}, .data = &od},
              global = {.dtype = MT_DTYPE_F32, .rank = 2, .shape = {2, 2}, .data = &od};
    assert_fails(mt_conv2d_into(&x, &k, NULL, &cp, &conv), MT_ERR_INVALID_ARGUMENT,
                 "conv2d: out [2,3,3,2] has stride 0 in dim 0");
    assert_fails(mt_conv1d_into(&x3, &k3, NULL, &cp, &line), MT_ERR_INVALID_ARGUMENT,
                 "conv1d: out [2,1,15,2] has stride 0 in dim 0");
    assert_fails(mt_conv2d_max_pool2d_into(&x, &k, NULL, &cp, &(mt_pool2d_params){
                     .pool_h = 3, .pool_w = 3}, &(mt_tensor){.dtype = MT_DTYPE_F32, .rank = 4,
                     .shape = {2, 1, 1, 2}, .data = &od}),
                 MT_ERR_INVALID_ARGUMENT, "conv2d_max_pool2d: out [2,1,1,2] has stride 0");
    assert_fails(mt_conv_transpose2d_into(&x, &k, NULL, &(mt_conv_transpose2d_params){0},
                                          &up),
                 MT_ERR_INVALID_ARGUMENT, "conv_transpose2d: out [2,5,5,2] has stride 0");
    assert_fails(mt_max_pool2d_into(&x, &pp, &pooled), MT_ERR_INVALID_ARGUMENT,
                 "max_pool2d: out [2,2,2,2] has stride 0");
    assert_fails(mt_avg_pool2d_into(&x, &pp, &pooled), MT_ERR_INVALID_ARGUMENT,
                 "avg_pool2d: out [2,2,2,2] has stride 0");
    assert_fails(mt_adaptive_avg_pool2d_into(&x, 2, 2, MT_DATA_LAYOUT_NHWC, &pooled),
                 MT_ERR_INVALID_ARGUMENT, "adaptive_avg_pool2d: out [2,2,2,2] has stride 0");
    assert_fails(mt_global_avg_pool2d_into(&x, MT_DATA_LAYOUT_NHWC, false, &global),
                 MT_ERR_INVALID_ARGUMENT, "global_avg_pool2d: out [2,2] has stride 0");
    assert_true(od == 42.0f);
}

static void test_depthwise_nchw_by_hand(void **state)
{
    (void)state;
    float xd[2 * 2 * 3], kd[2] = {1.0f, 2.0f};
    for (int i = 0; i < 12; i++)
        xd[i] = (float)i;
    mt_tensor *x = make(4, (int64_t[]){1, 2, 2, 3}, xd), *k = make(4, (int64_t[]){2, 1, 1, 1}, kd);
    mt_tensor *wide, outv;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){1, 2, 3, 2}, &wide));
    assert_ok(mt_transpose_into(wide, 2, 3, &outv));  // [1,2,2,3], strided
    mt_conv2d_params p = {.data_layout = MT_DATA_LAYOUT_NCHW, .groups = 2,
                          .kernel_layout = MT_KERNEL_OIHW};
    assert_ok(mt_conv2d_into(x, k, NULL, &p, &outv));
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                assert_true(((float *)wide->data)[(c * 3 + j) * 2 + i] ==
                            (float)(c + 1) * xd[(c * 2 + i) * 3 + j]);
    mt_tensor_free(wide);
    mt_tensor_free(k);
    mt_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d_matches_tensorflow),
        cmocka_unit_test(test_maxpool_matches_tensorflow),
        cmocka_unit_test(test_maxpool_many_channels_by_hand),
        cmocka_unit_test(test_output_sizes_by_hand),
        cmocka_unit_test(test_output_sizes_do_not_overflow),
        cmocka_unit_test(test_huge_windows),
        cmocka_unit_test(test_conv_errors),
        cmocka_unit_test(test_kernel_larger_than_input),
        cmocka_unit_test(test_huge_groups_no_channels),
        cmocka_unit_test(test_pool_window_larger_than_input),
        cmocka_unit_test(test_kernel_layout_detection),
        cmocka_unit_test(test_groups_and_pads_errors),
        cmocka_unit_test(test_pool_and_resize_errors),
        cmocka_unit_test(test_out_overlaps_input),
        cmocka_unit_test(test_depthwise_nchw_by_hand),
        cmocka_unit_test(test_conv2d_out_of_memory_leaves_out),
        cmocka_unit_test(test_broadcast_out_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
