/* test_nn_resample.c — the resizing modes Keras models bring: Keras 3's
 * Resizing and UpSampling2D with interpolation='bicubic' on the TensorFlow
 * backend (MT_INTERPOLATE_BICUBIC_TF), through mt_interpolate and the
 * Upsample layer, on views and NCHW; Resizing 'area' (tf.image.resize's
 * area, MT_INTERPOLATE_AREA_TF), which is PyTorch's (MT_INTERPOLATE_AREA)
 * at whole-number factors only; the modes' failures (references: tests/reference/make_keras_resize_refs.py; the
 * PyTorch modes are in the op table). */
#include <string.h>
#include "test_util.h"

/* Layer `p` (Upsample) run on x, compared with reference `name`. */
static void upsample_matches(const mt_safetensors *st, const mt_tensor *x,
                             mt_interpolate_params p, const char *name)
{
    mt_layer *l = NULL;
    mt_tensor *y = NULL;
    assert_ok(mt_upsample_new(&p, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    ref_assert_matches(st, name, y, 1e-5, 1e-5);
    mt_tensor_free(y);
    mt_layer_free(l);
}

static void keras_bicubic_matches_tensorflow(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("keras_resample.safetensors");
    mt_tensor *x = ref_get(st, "x"), *x1 = ref_get(st, "x1"), *big = ref_get(st, "big");
    static const struct {
        const char *name;
        int64_t h, w;
    } sizes[] = {{"up", 9, 11}, {"down", 3, 4}, {"same", 5, 7}, {"mixed", 2, 13}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        upsample_matches(st, x, (mt_interpolate_params){.mode = MT_INTERPOLATE_BICUBIC_TF,
                                                        .out_h = sizes[i].h,
                                                        .out_w = sizes[i].w},
                         sizes[i].name);
    upsample_matches(st, big, (mt_interpolate_params){.mode = MT_INTERPOLATE_BICUBIC_TF,
                                                      .out_h = 2, .out_w = 2}, "far");
    upsample_matches(st, x1, (mt_interpolate_params){.mode = MT_INTERPOLATE_BICUBIC_TF,
                                                     .out_h = 3, .out_w = 9}, "row");
    /* UpSampling2D((2, 3), 'bicubic'): the scales give the size */
    upsample_matches(st, x, (mt_interpolate_params){.mode = MT_INTERPOLATE_BICUBIC_TF,
                                                    .scale_h = 2, .scale_w = 3}, "ups");
    mt_tensor_free(big);
    mt_tensor_free(x1);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* Resizing(data_format='channels_first') as NCHW, and NHWC images stored
 * NCHW (a permuted view) into a transposed out */
static void keras_bicubic_views_and_nchw(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("keras_resample.safetensors");
    mt_tensor *xc = ref_get(st, "xc"), *x = ref_get(st, "x"), *y = NULL;
    mt_interpolate_params p = {.mode = MT_INTERPOLATE_BICUBIC_TF, .out_h = 7, .out_w = 4,
                               .data_layout = MT_DATA_LAYOUT_NCHW};
    assert_ok(mt_interpolate(xc, &p, &y));
    ref_assert_matches(st, "nchw", y, 1e-5, 1e-5);
    mt_tensor_free(y);
    mt_tensor *nchw = NULL, *stored = NULL, *view = NULL, *store = NULL, *out = NULL;
    assert_ok(mt_permute(x, (int[]){0, 3, 1, 2}, &nchw));
    assert_ok(mt_tensor_contiguous(nchw, &stored));
    assert_ok(mt_permute(stored, (int[]){0, 2, 3, 1}, &view));   /* NHWC view, NCHW data */
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){2, 11, 9, 3}, &store));
    assert_ok(mt_permute(store, (int[]){0, 2, 1, 3}, &out));      /* [2,9,11,3] transposed */
    p = (mt_interpolate_params){.mode = MT_INTERPOLATE_BICUBIC_TF, .out_h = 9, .out_w = 11};
    assert_ok(mt_interpolate_into(view, &p, out));
    assert_ok(mt_tensor_contiguous(out, &y));
    ref_assert_matches(st, "up", y, 1e-5, 1e-5);
    mt_tensor_free(y);
    mt_tensor_free(out);
    mt_tensor_free(store);
    mt_tensor_free(view);
    mt_tensor_free(stored);
    mt_tensor_free(nchw);
    mt_tensor_free(x);
    mt_tensor_free(xc);
    mt_safetensors_close(st);
}

/* tf.image.resize(x, size, 'area') averages whole pixels when the factors
 * are whole numbers (6x9 -> 3x3 and 2x9): PyTorch's 'area' (an adaptive
 * average pool) there; at other factors TensorFlow weighs partly covered
 * pixels by their share (AREA_TF): 6x9 -> 4x5, up (5x7 -> 7x11, output
 * pixels sharing an input pixel) and down one axis, up the other. */
static void area_matches_tensorflow(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("keras_resample.safetensors");
    mt_tensor *x = ref_get(st, "area_x"), *x2 = ref_get(st, "x");
    for (int tf = 0; tf < 2; tf++) {   /* the two agree at whole factors */
        mt_interpolate_mode m = tf ? MT_INTERPOLATE_AREA_TF : MT_INTERPOLATE_AREA;
        upsample_matches(st, x, (mt_interpolate_params){.mode = m, .out_h = 3, .out_w = 3},
                         "area_3x3");
        upsample_matches(st, x, (mt_interpolate_params){.mode = m, .scale_h = 1.0 / 3,
                                                        .scale_w = 1}, "area_2x9");
    }
    upsample_matches(st, x, (mt_interpolate_params){.mode = MT_INTERPOLATE_AREA_TF,
                                                    .out_h = 4, .out_w = 5}, "area_4x5");
    upsample_matches(st, x2, (mt_interpolate_params){.mode = MT_INTERPOLATE_AREA_TF,
                                                     .out_h = 7, .out_w = 11}, "area_up");
    upsample_matches(st, x, (mt_interpolate_params){.mode = MT_INTERPOLATE_AREA_TF,
                                                    .out_h = 4, .out_w = 20}, "area_mixed");
    /* PyTorch's area differs there: its windows are whole pixels */
    mt_tensor *y = NULL, *want = ref_get(st, "area_4x5");
    assert_ok(mt_interpolate(x, &(mt_interpolate_params){.mode = MT_INTERPOLATE_AREA,
                                                         .out_h = 4, .out_w = 5}, &y));
    float most = 0;
    for (int64_t i = 0; i < mt_tensor_numel(y); i++)
        most = fmaxf(most, fabsf(((float *)y->data)[i] - ((float *)want->data)[i]));
    assert_true(most > 0.1f);
    mt_tensor_free(want);
    mt_tensor_free(y);
    mt_tensor_free(x2);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

static void resample_failures(void **state)
{
    (void)state;
    mt_tensor *x = NULL, *out = NULL, *y = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){1, 4, 5, 2}, &x));
    assert_ok(mt_tensor_full(4, (int64_t[]){1, 8, 10, 2}, 7.0f, &out));
    const mt_interpolate_params tf_ac = {.mode = MT_INTERPOLATE_BICUBIC_TF,
                                         .align_corners = true, .out_h = 8, .out_w = 10};
    assert_fails(mt_interpolate_into(x, &tf_ac, out), MT_ERR_INVALID_ARGUMENT,
                 "interpolate: align_corners needs bilinear or bicubic mode");
    const mt_interpolate_params area_ac = {.mode = MT_INTERPOLATE_AREA_TF,
                                           .align_corners = true, .out_h = 8, .out_w = 10};
    assert_fails(mt_interpolate(x, &area_ac, &y), MT_ERR_INVALID_ARGUMENT, "align_corners");
    assert_null(y);
    const mt_interpolate_params bad = {.mode = (mt_interpolate_mode)7, .out_h = 8, .out_w = 10};
    assert_fails(mt_interpolate_into(x, &bad, out), MT_ERR_INVALID_ARGUMENT,
                 "interpolate: unknown mode 7");
    const mt_interpolate_params area = {.mode = MT_INTERPOLATE_AREA, .out_h = 3, .out_w = 10};
    assert_fails(mt_interpolate_into(x, &area, out), MT_ERR_SHAPE, "[1,8,10,2]");
    assert_fails(mt_interpolate(NULL, &area, &y), MT_ERR_INVALID_ARGUMENT, "interpolate");
    assert_fails(mt_interpolate(x, NULL, &y), MT_ERR_INVALID_ARGUMENT, "params is NULL");
    assert_fails(mt_interpolate(x, &area, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_interpolate_into(x, &area, NULL), MT_ERR_INVALID_ARGUMENT, "interpolate");
    for (int i = 0; i < 8 * 10 * 2; i++)   /* out untouched */
        assert_true(((float *)out->data)[i] == 7.0f);
    // an expanded out (stride 0: its elements share memory) is refused in
    // every mode, as every _into refuses it (it was written, the last
    // write winning)
    mt_tensor row, wide;
    assert_ok(mt_narrow_into(out, 1, 0, 1, &row));
    assert_ok(mt_expand_into(&row, 4, (int64_t[]){1, 8, 10, 2}, &wide));
    for (int m = 0; m <= MT_INTERPOLATE_AREA_TF; m++) {
        const mt_interpolate_params p = {.mode = (mt_interpolate_mode)m, .out_h = 8,
                                         .out_w = 10};
        assert_fails(mt_interpolate_into(x, &p, &wide), MT_ERR_INVALID_ARGUMENT,
                     "interpolate: out [1,8,10,2] has stride 0 in dim 1");
    }
    // the pools (AREA is adaptive_avg_pool2d) likewise
    mt_tensor corner, half;
    assert_ok(mt_narrow_into(&row, 2, 0, 2, &corner));
    assert_ok(mt_expand_into(&corner, 4, (int64_t[]){1, 2, 2, 2}, &half));
    const mt_pool2d_params pool = {.pool_h = 2, .pool_w = 2};
    assert_fails(mt_adaptive_avg_pool2d_into(x, 2, 2, MT_DATA_LAYOUT_NHWC, &half),
                 MT_ERR_INVALID_ARGUMENT, "adaptive_avg_pool2d: out [1,2,2,2] has stride 0");
    assert_fails(mt_avg_pool2d_into(x, &pool, &half), MT_ERR_INVALID_ARGUMENT,
                 "avg_pool2d: out [1,2,2,2] has stride 0");
    assert_fails(mt_max_pool2d_into(x, &pool, &half), MT_ERR_INVALID_ARGUMENT,
                 "max_pool2d: out [1,2,2,2] has stride 0");
    for (int i = 0; i < 8 * 10 * 2; i++)
        assert_true(((float *)out->data)[i] == 7.0f);
    assert_fails(mt_upsample_new(&bad, &l), MT_ERR_INVALID_ARGUMENT, "upsample: unknown mode 7");
    assert_null(l);
    assert_fails(mt_upsample_new(&tf_ac, &l), MT_ERR_INVALID_ARGUMENT,
                 "upsample: align_corners needs bilinear or bicubic mode (mode 4)");
    const mt_interpolate_params cubic_ac = {.mode = MT_INTERPOLATE_BICUBIC,
                                            .align_corners = true, .scale_h = 2, .scale_w = 2};
    assert_ok(mt_upsample_new(&cubic_ac, &l));   /* nn.Upsample(2, 'bicubic', True) */
    assert_ok(mt_layer_forward(l, x, &y));
    assert_int_equal(y->shape[1], 8);
    assert_int_equal(y->shape[2], 10);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(out);
    mt_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keras_bicubic_matches_tensorflow),
        cmocka_unit_test(keras_bicubic_views_and_nchw),
        cmocka_unit_test(area_matches_tensorflow),
        cmocka_unit_test(resample_failures),
    };
    return cmocka_run_group_tests_name("nn_resample", tests, NULL, NULL);
}
