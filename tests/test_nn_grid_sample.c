/* test_nn_grid_sample.c — mt_affine_grid and mt_grid_sample (grid_sample.h)
 * against PyTorch 1.13's F.affine_grid and F.grid_sample (every mode,
 * padding and align_corners; NaN, ±inf and huge grid points), their failures, and the model of PyTorch's
 * "Spatial Transformer Networks" tutorial ported by its state_dict names
 * with the AffineGrid and GridSample layers (references:
 * tests/reference/make_grid_sample_refs.py). */
#include <string.h>
#include "graph_build.h"

/* ---- the ops ------------------------------------------------------------------ */

static void affine_grid_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("grid_sample_refs.safetensors");
    mt_tensor *theta = ref_get(st, "theta"), *g = NULL, *gt = NULL;
    assert_ok(mt_affine_grid(theta, 5, 7, false, &g));
    ref_assert_matches(st, "affine_grid_f", g, 1e-6, 1e-6);
    mt_tensor_free(g);
    assert_ok(mt_affine_grid(theta, 5, 7, true, &g));
    ref_assert_matches(st, "affine_grid_t", g, 1e-6, 1e-6);
    mt_tensor_free(g);
    assert_ok(mt_affine_grid(theta, 1, 1, false, &g));
    ref_assert_matches(st, "affine_grid_1x1", g, 1e-6, 1e-6);
    /* _into a transposed view: [2,5,7,2] seen through storage [2,7,5,2] */
    mt_tensor *store = NULL, *want = ref_get(st, "affine_grid_f"), *c = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){2, 7, 5, 2}, &store));
    assert_ok(mt_permute(store, (int[]){0, 2, 1, 3}, &gt));
    assert_ok(mt_affine_grid_into(theta, 5, 7, false, gt));
    assert_ok(mt_tensor_contiguous(gt, &c));
    assert_close((const float *)c->data, (const float *)want->data, 2 * 5 * 7 * 2, 1e-6, 1e-6);
    mt_tensor_free(c);
    mt_tensor_free(want);
    mt_tensor_free(gt);
    mt_tensor_free(store);
    mt_tensor_free(g);
    mt_tensor_free(theta);
    mt_safetensors_close(st);
}

static void grid_sample_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("grid_sample_refs.safetensors");
    mt_tensor *x = ref_get(st, "x"), *grid = ref_get(st, "grid");
    const char *modes[] = {"bilinear", "nearest", "bicubic"};
    const char *pads[] = {"zeros", "border", "reflection"};
    for (int m = 0; m < 3; m++)
        for (int p = 0; p < 3; p++)
            for (int a = 0; a < 2; a++) {
                const mt_grid_sample_params params = {.mode = (mt_grid_sample_mode)m,
                                                      .padding = (mt_grid_sample_padding)p,
                                                      .align_corners = a};
                char name[64];
                snprintf(name, sizeof name, "gs_%s_%s_%s", modes[m], pads[p], a ? "t" : "f");
                mt_tensor *y = NULL;
                assert_ok(mt_grid_sample(x, grid, &params, &y));
                ref_assert_matches(st, name, y, 1e-6, 1e-5);
                mt_tensor_free(y);
            }
    /* NULL params are PyTorch's defaults; the images as an NCHW-strided view */
    mt_tensor *nchw = NULL, *back = NULL, *y = NULL;
    assert_ok(mt_permute(x, (int[]){0, 3, 1, 2}, &nchw));
    assert_ok(mt_tensor_contiguous(nchw, &back));   /* NCHW storage */
    mt_tensor_free(nchw);
    assert_ok(mt_permute(back, (int[]){0, 2, 3, 1}, &nchw));   /* NHWC view of it */
    assert_ok(mt_grid_sample(nchw, grid, NULL, &y));
    ref_assert_matches(st, "gs_bilinear_zeros_f", y, 1e-6, 1e-5);
    mt_tensor_free(y);
    const mt_grid_sample_params cubic = {.mode = MT_GRID_SAMPLE_MODE_BICUBIC,
                                         .padding = MT_GRID_SAMPLE_PADDING_REFLECTION,
                                         .align_corners = true};
    assert_ok(mt_grid_sample(nchw, grid, &cubic, &y));
    ref_assert_matches(st, "gs_bicubic_reflection_t", y, 1e-6, 1e-5);
    mt_tensor_free(y);
    mt_tensor_free(nchw);
    mt_tensor_free(back);
    mt_tensor_free(grid);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* t's values in a sliced view: every other row and column (dims 1 and 2)
 * of a tensor twice as large, starting at (1, 1); *store owns the data. */
static mt_tensor *sliced_copy(const mt_tensor *t, mt_tensor **store)
{
    mt_tensor *a = NULL, *b = NULL;
    assert_ok(mt_tensor_full(4, (int64_t[]){t->shape[0], 2 * t->shape[1] + 1,
                                            2 * t->shape[2] + 1, t->shape[3]}, 99.0f, store));
    assert_ok(mt_slice(*store, 1, 1, 2 * t->shape[1] + 1, 2, &a));
    assert_ok(mt_slice(a, 2, 1, 2 * t->shape[2] + 1, 2, &b));
    mt_tensor_free(a);
    assert_ok(mt_tensor_copy_into(t, b));
    return b;
}

/* sliced (strided, offset) images and grids, into a sliced out */
static void grid_sample_sliced_views_match_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("grid_sample_refs.safetensors");
    mt_tensor *x = ref_get(st, "x"), *grid = ref_get(st, "grid");
    mt_tensor *xs_store = NULL, *gs_store = NULL, *out_store = NULL, *out = NULL, *y = NULL;
    mt_tensor *xs = sliced_copy(x, &xs_store), *gs = sliced_copy(grid, &gs_store);
    mt_tensor *zero = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){2, 4, 3, 3}, &zero));
    out = sliced_copy(zero, &out_store);
    const char *modes[] = {"bilinear", "nearest", "bicubic"};
    for (int m = 0; m < 3; m++)
        for (int a = 0; a < 2; a++) {
            const mt_grid_sample_params p = {(mt_grid_sample_mode)m,
                                             MT_GRID_SAMPLE_PADDING_REFLECTION, a};
            char name[64];
            snprintf(name, sizeof name, "gs_%s_reflection_%s", modes[m], a ? "t" : "f");
            assert_ok(mt_grid_sample_into(xs, gs, &p, out));
            assert_ok(mt_tensor_contiguous(out, &y));
            ref_assert_matches(st, name, y, 1e-6, 1e-5);
            mt_tensor_free(y);
        }
    /* the slices' neighbours in the out's storage stay untouched */
    const float *o = out_store->data;
    assert_true(o[0] == 99.0f && o[mt_tensor_numel(out_store) - 1] == 99.0f);
    mt_tensor_free(out);
    mt_tensor_free(out_store);
    mt_tensor_free(zero);
    mt_tensor_free(gs);
    mt_tensor_free(gs_store);
    mt_tensor_free(xs);
    mt_tensor_free(xs_store);
    mt_tensor_free(grid);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* A point far outside (1e30) reads 0, without overflow. A NaN or infinite
 * one gives NaN with bilinear and ZEROS padding (PyTorch's weights are NaN
 * there: F.grid_sample(torch.full((1,1,2,2), 5.), [[[[nan,0],[1e30,-1e30],
 * [0,0],[inf,0]]]]) is [nan, 0, 5, nan]), and 0 with nearest. */
static void grid_sample_far_points_read_zero(void **state)
{
    (void)state;
    mt_tensor *x = NULL, *grid = NULL, *y = NULL;
    assert_ok(mt_tensor_full(4, (int64_t[]){1, 2, 2, 1}, 5.0f, &x));
    const float g[] = {NAN, 0.0f, 1e30f, -1e30f, 0.0f, 0.0f};
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 4, (int64_t[]){1, 1, 3, 2}, g, &grid));
    assert_ok(mt_grid_sample(x, grid, NULL, &y));
    const float *got = y->data;
    assert_true(isnan(got[0]));
    assert_close(got + 1, ((float[]){0.0f, 5.0f}), 2, 0, 0);
    mt_tensor_free(y);
    const mt_grid_sample_params nearest = {.mode = MT_GRID_SAMPLE_MODE_NEAREST};
    assert_ok(mt_grid_sample(x, grid, &nearest, &y));
    assert_close((const float *)y->data, ((float[]){0.0f, 0.0f, 5.0f}), 3, 0, 0);
    mt_tensor_free(y);
    mt_tensor *inf_grid = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 4, (int64_t[]){1, 1, 1, 2},
                                  (float[]){INFINITY, 0.0f}, &inf_grid));
    assert_ok(mt_grid_sample(x, inf_grid, NULL, &y));
    assert_true(isnan(((float *)y->data)[0]));
    mt_tensor_free(y);
    mt_tensor_free(inf_grid);
    const mt_grid_sample_params border = {.padding = MT_GRID_SAMPLE_PADDING_BORDER};
    assert_ok(mt_grid_sample(x, grid, &border, &y));   /* 1e30 clamps to the edge */
    const float want_border[] = {5.0f, 5.0f, 5.0f};   /* NaN clamps to pixel 0 */
    assert_close((const float *)y->data, want_border, 3, 0, 0);
    mt_tensor_free(y);
    mt_tensor_free(grid);
    mt_tensor_free(x);
}

/* BORDER maps a NaN coordinate to pixel 0 on every PyTorch path (its
 * clip_coordinates is min(size-1, max(x, 0))): F.grid_sample(
 * torch.arange(12.).reshape(1,1,3,4), [[[[nan,0],[0,nan]]]],
 * padding_mode='border') is [4, 1.5] bilinear and [4, 2] nearest,
 * align_corners either way. */
static void grid_sample_border_clamps_nan_to_pixel_0(void **state)
{
    (void)state;
    mt_tensor *x = NULL, *grid = NULL, *y = NULL;
    float img[12];
    for (int i = 0; i < 12; i++)
        img[i] = (float)i;
    const float g[] = {NAN, 0.0f, 0.0f, NAN};
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 4, (int64_t[]){1, 3, 4, 1}, img, &x));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 4, (int64_t[]){1, 1, 2, 2}, g, &grid));
    for (int ac = 0; ac < 2; ac++) {
        mt_grid_sample_params p = {.padding = MT_GRID_SAMPLE_PADDING_BORDER,
                                   .align_corners = ac};
        assert_ok(mt_grid_sample(x, grid, &p, &y));
        assert_close((const float *)y->data, ((const float[]){4.0f, 1.5f}), 2, 0, 0);
        mt_tensor_free(y);
        p.mode = MT_GRID_SAMPLE_MODE_NEAREST;
        assert_ok(mt_grid_sample(x, grid, &p, &y));
        assert_close((const float *)y->data, ((const float[]){4.0f, 2.0f}), 2, 0, 0);
        mt_tensor_free(y);
    }
    mt_tensor_free(grid);
    mt_tensor_free(x);
}

/* NaN, ±inf and huge grid points with bicubic and reflection, against
 * torch 1.13 on CPU in float32: F.grid_sample(torch.arange(12.).reshape(
 * 1,1,3,4), g, mode, padding_mode, align_corners) for g = [[[[nan,0],
 * [0,nan],[inf,0],[-inf,0],[1e10,0.3],[-1e10,0.3],[3e9,-0.2]]]]. Bicubic
 * gives NaN for the first four with every padding; reflection with
 * bilinear or nearest reads them at pixel 0 of that axis, border NaN and
 * -inf at pixel 0 and +inf at the last pixel. The huge points
 * show PyTorch's float arithmetic (float64 gives other values there). */
static void grid_sample_bicubic_reflection_special_points(void **state)
{
    (void)state;
    mt_tensor *x = NULL, *grid = NULL, *y = NULL;
    float img[12];
    for (int i = 0; i < 12; i++)
        img[i] = (float)i;
    const float g[] = {NAN, 0, 0, NAN, INFINITY, 0, -INFINITY, 0, 1e10f, 0.3f, -1e10f, 0.3f,
                       3e9f, -0.2f};
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 4, (int64_t[]){1, 3, 4, 1}, img, &x));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 4, (int64_t[]){1, 1, 7, 2}, g, &grid));
    static const struct {
        mt_grid_sample_mode mode;
        mt_grid_sample_padding padding;
        bool align;
        float want[7];
    } rows[] = {
        {MT_GRID_SAMPLE_MODE_BILINEAR, MT_GRID_SAMPLE_PADDING_REFLECTION, false,
         {4, 1.5f, 4, 4, 5.799999713897705f, 5.799999713897705f, 2.8000001907348633f}},
        {MT_GRID_SAMPLE_MODE_BILINEAR, MT_GRID_SAMPLE_PADDING_REFLECTION, true,
         {4, 1.5f, 4, 4, 5.199999809265137f, 5.199999809265137f, 3.200000047683716f}},
        {MT_GRID_SAMPLE_MODE_NEAREST, MT_GRID_SAMPLE_PADDING_REFLECTION, false,
         {4, 2, 4, 4, 4, 4, 4}},
        {MT_GRID_SAMPLE_MODE_NEAREST, MT_GRID_SAMPLE_PADDING_REFLECTION, true,
         {4, 2, 4, 4, 4, 4, 4}},
        {MT_GRID_SAMPLE_MODE_BILINEAR, MT_GRID_SAMPLE_PADDING_BORDER, false,
         {4, 1.5f, 7, 4, 8.799999237060547f, 5.799999713897705f, 5.800000190734863f}},
        {MT_GRID_SAMPLE_MODE_BILINEAR, MT_GRID_SAMPLE_PADDING_BORDER, true,
         {4, 1.5f, 7, 4, 8.199999809265137f, 5.199999809265137f, 6.199999809265137f}},
        {MT_GRID_SAMPLE_MODE_NEAREST, MT_GRID_SAMPLE_PADDING_BORDER, false,
         {4, 2, 7, 4, 7, 4, 7}},
        {MT_GRID_SAMPLE_MODE_BICUBIC, MT_GRID_SAMPLE_PADDING_ZEROS, false,
         {NAN, NAN, NAN, NAN, 0, 0, 0}},
        {MT_GRID_SAMPLE_MODE_BICUBIC, MT_GRID_SAMPLE_PADDING_BORDER, false,
         {NAN, NAN, NAN, NAN, 9.18362808227539f, 6.183627128601074f, 5.443002700805664f}},
        {MT_GRID_SAMPLE_MODE_BICUBIC, MT_GRID_SAMPLE_PADDING_BORDER, true,
         {NAN, NAN, NAN, NAN, 8.556999206542969f, 5.556999206542969f, 5.912001609802246f}},
        {MT_GRID_SAMPLE_MODE_BICUBIC, MT_GRID_SAMPLE_PADDING_REFLECTION, false,
         {NAN, NAN, NAN, NAN, 6.183627128601074f, 6.183627128601074f, 2.443002223968506f}},
        {MT_GRID_SAMPLE_MODE_BICUBIC, MT_GRID_SAMPLE_PADDING_REFLECTION, true,
         {NAN, NAN, NAN, NAN, 5.745999336242676f, 5.745999336242676f, 2.8160016536712646f}},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        const mt_grid_sample_params p = {rows[r].mode, rows[r].padding, rows[r].align};
        assert_ok(mt_grid_sample(x, grid, &p, &y));
        const float *v = y->data;
        for (int k = 0; k < 7; k++)
            if (isnan(rows[r].want[k]) ? !isnan(v[k]) : fabsf(v[k] - rows[r].want[k]) > 1e-5f)
                fail_msg("row %zu point %d: %.9g, want %.9g", r, k, (double)v[k],
                         (double)rows[r].want[k]);
        mt_tensor_free(y);
    }
    mt_tensor_free(grid);
    mt_tensor_free(x);
}

/* PyTorch sums bicubic's taps starting from the first product, so an image
 * of -0 sampled at a pixel centre gives -0 with border or reflection
 * padding and +0 with zeros (a tap outside reads +0): F.grid_sample(
 * torch.full((1,1,3,4), -0.), [[[[0.25,0],[-0.75,0]]]], mode='bicubic') */
static void grid_sample_bicubic_keeps_negative_zero(void **state)
{
    (void)state;
    mt_tensor *x = NULL, *grid = NULL, *y = NULL;
    assert_ok(mt_tensor_full(4, (int64_t[]){1, 3, 4, 1}, -0.0f, &x));
    const float g[] = {0.25f, 0, -0.75f, 0};
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 4, (int64_t[]){1, 1, 2, 2}, g, &grid));
    for (int pad = 0; pad < 3; pad++) {
        const mt_grid_sample_params p = {MT_GRID_SAMPLE_MODE_BICUBIC,
                                         (mt_grid_sample_padding)pad, false};
        assert_ok(mt_grid_sample(x, grid, &p, &y));
        const float *v = y->data;
        for (int k = 0; k < 2; k++) {
            assert_true(v[k] == 0.0f);
            assert_int_equal(signbit(v[k]) != 0, pad != MT_GRID_SAMPLE_PADDING_ZEROS);
        }
        mt_tensor_free(y);
    }
    mt_tensor_free(grid);
    mt_tensor_free(x);
}

static void grid_sample_failures_name_shapes(void **state)
{
    (void)state;
    mt_tensor *x = NULL, *grid = NULL, *bad = NULL, *out = NULL, *theta = NULL, *y = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){2, 5, 6, 3}, &x));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){2, 4, 3, 2}, &grid));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){1, 4, 3, 2}, &bad));
    assert_ok(mt_tensor_full(4, (int64_t[]){2, 4, 3, 3}, 7.0f, &out));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 6}, &theta));
    assert_fails(mt_grid_sample(NULL, grid, NULL, &y), MT_ERR_INVALID_ARGUMENT, "grid_sample");
    assert_fails(mt_grid_sample(x, grid, NULL, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_grid_sample(x, bad, NULL, &y), MT_ERR_SHAPE, "[1,4,3,2]");
    assert_fails(mt_grid_sample(x, grid, &(mt_grid_sample_params){.mode = 7}, &y),
                 MT_ERR_INVALID_ARGUMENT, "mode 7");
    assert_fails(mt_grid_sample(x, grid, &(mt_grid_sample_params){.mode = 3}, &y),
                 MT_ERR_INVALID_ARGUMENT, "grid_sample: unknown mode 3");
    assert_fails(mt_grid_sample_into(x, grid, &(mt_grid_sample_params){.padding = 3}, out),
                 MT_ERR_INVALID_ARGUMENT, "grid_sample: unknown padding 3");
    assert_fails(mt_grid_sample(x, NULL, NULL, &y), MT_ERR_INVALID_ARGUMENT, "grid");
    assert_null(y);
    assert_fails(mt_grid_sample_into(x, bad, NULL, out), MT_ERR_SHAPE, "grid [1,4,3,2]");
    assert_fails(mt_grid_sample_into(x, grid, NULL, x), MT_ERR_SHAPE, "grid_sample");
    /* F.grid_sample(torch.zeros(2,3,0,6), grid): "expected input to have
     * non-empty spatial dimensions"; also for an empty W and out untouched */
    mt_tensor *empty_h = NULL, *empty_w = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){2, 0, 6, 3}, &empty_h));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){2, 5, 0, 3}, &empty_w));
    assert_fails(mt_grid_sample(empty_h, grid, NULL, &y), MT_ERR_SHAPE, "[2,0,6,3]");
    assert_null(y);
    assert_fails(mt_grid_sample_into(empty_w, grid, NULL, out), MT_ERR_SHAPE, "[2,5,0,3]");
    mt_tensor_free(empty_w);
    mt_tensor_free(empty_h);
    for (int i = 0; i < 2 * 4 * 3 * 3; i++)   /* out untouched */
        assert_true(((float *)out->data)[i] == 7.0f);
    assert_fails(mt_affine_grid(theta, 5, 7, false, &y), MT_ERR_SHAPE, "theta [2,6]");
    assert_fails(mt_affine_grid(grid, 0, 7, false, &y), MT_ERR_SHAPE, "affine_grid");
    mt_tensor *t3 = NULL;
    assert_ok(mt_view(theta, 3, (int64_t[]){2, 2, 3}, &t3));
    assert_fails(mt_affine_grid(t3, 0, 7, false, &y), MT_ERR_INVALID_ARGUMENT, "(0,7)");
    mt_layer *l = NULL;
    assert_fails(mt_affine_grid_new(5, 0, false, &l), MT_ERR_INVALID_ARGUMENT, "(5,0)");
    assert_null(l);
    assert_fails(mt_grid_sample_new(&(mt_grid_sample_params){.padding = 3}, &l),
                 MT_ERR_INVALID_ARGUMENT, "padding 3");
    assert_fails(mt_grid_sample_new(&(mt_grid_sample_params){.mode = 3}, &l),
                 MT_ERR_INVALID_ARGUMENT, "mode 3");
    assert_null(l);
    const mt_grid_sample_params newest = {MT_GRID_SAMPLE_MODE_BICUBIC,
                                          MT_GRID_SAMPLE_PADDING_REFLECTION, true};
    assert_ok(mt_grid_sample_new(&newest, &l));
    mt_layer_free(l);
    l = NULL;
    assert_fails(mt_grid_sample_new(NULL, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    /* a graph refuses a theta that is not [N,2,3] when the node is added */
    mt_graph *g = NULL;
    int in, id;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "theta", MT_DTYPE_F32, 1, (int64_t[]){6}, &in));
    assert_ok(mt_affine_grid_new(5, 7, false, &l));
    assert_fails(mt_graph_add(g, "grid", l, 1, &in, &id), MT_ERR_SHAPE, "[N,2,3]");
    mt_graph_free(g);
    mt_tensor_free(t3);
    mt_tensor_free(theta);
    mt_tensor_free(out);
    mt_tensor_free(bad);
    mt_tensor_free(grid);
    mt_tensor_free(x);
}

/* ---- the tutorial's Net ------------------------------------------------------- */

static mt_graph *spatial_transformer_net(const mt_safetensors *st)
{
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    const mt_max_pool2d_options pool = {.pool_h = 2, .pool_w = 2, .stride_h = 2, .stride_w = 2};
    const mt_linear_options relu = {.act = MT_ACTIVATION_RELU};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){28, 28, 1}, &x));
    /* stn: localization -> xs.view(-1, 90) (NCHW order) -> fc_loc -> theta */
    h = node(g, "localization.0", mt_conv2d_load(&sd, "localization.0", NULL, &l), &l, 1, &x);
    h = node(g, "localization.1", mt_max_pool2d_new(&pool, &l), &l, 1, &h);
    h = node(g, "localization.2", mt_relu_new(&l), &l, 1, &h);
    h = node(g, "localization.3", mt_conv2d_load(&sd, "localization.3", NULL, &l), &l, 1, &h);
    h = node(g, "localization.4", mt_max_pool2d_new(&pool, &l), &l, 1, &h);
    h = node(g, "localization.5", mt_relu_new(&l), &l, 1, &h);
    h = node(g, "nchw", mt_permute_new(4, (int[]){0, 3, 1, 2}, &l), &l, 1, &h);
    h = node(g, "xs.view", mt_flatten_new(1, -1, &l), &l, 1, &h);
    h = node(g, "fc_loc.0", mt_linear_load(&sd, "fc_loc.0", &relu, &l), &l, 1, &h);
    h = node(g, "fc_loc.2", mt_linear_load(&sd, "fc_loc.2", NULL, &l), &l, 1, &h);
    h = node(g, "theta", mt_reshape_new(2, (int64_t[]){2, 3}, &l), &l, 1, &h);
    h = node(g, "affine_grid", mt_affine_grid_new(28, 28, false, &l), &l, 1, &h);
    h = node(g, "grid_sample", mt_grid_sample_new(NULL, &l), &l, 2, (int[]){x, h});
    /* the classifier */
    h = node(g, "conv1", mt_conv2d_load(&sd, "conv1", NULL, &l), &l, 1, &h);
    h = node(g, "pool1", mt_max_pool2d_new(&pool, &l), &l, 1, &h);
    h = node(g, "relu1", mt_relu_new(&l), &l, 1, &h);
    h = node(g, "conv2", mt_conv2d_load(&sd, "conv2", NULL, &l), &l, 1, &h);
    h = node(g, "pool2", mt_max_pool2d_new(&pool, &l), &l, 1, &h);
    h = node(g, "relu2", mt_relu_new(&l), &l, 1, &h);
    h = node(g, "nchw2", mt_permute_new(4, (int[]){0, 3, 1, 2}, &l), &l, 1, &h);
    h = node(g, "x.view", mt_flatten_new(1, -1, &l), &l, 1, &h);
    h = node(g, "fc1", mt_linear_load(&sd, "fc1", &relu, &l), &l, 1, &h);
    h = node(g, "fc2", mt_linear_load(&sd, "fc2", NULL, &l), &l, 1, &h);
    h = node(g, "log_softmax", mt_log_softmax_new(1, &l), &l, 1, &h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

static void spatial_transformer_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("stn.safetensors");
    mt_safetensors *io = ref_open("stn_io.safetensors");
    mt_tensor *x = ref_get(io, "x");
    mt_graph *g = spatial_transformer_net(st);
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
    ref_assert_matches(io, "y", y, 1e-5, 1e-5);
    mt_graph_free(g);
    mt_tensor_free(x);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(affine_grid_matches_pytorch),
        cmocka_unit_test(grid_sample_matches_pytorch),
        cmocka_unit_test(grid_sample_sliced_views_match_pytorch),
        cmocka_unit_test(grid_sample_far_points_read_zero),
        cmocka_unit_test(grid_sample_border_clamps_nan_to_pixel_0),
        cmocka_unit_test(grid_sample_bicubic_reflection_special_points),
        cmocka_unit_test(grid_sample_bicubic_keeps_negative_zero),
        cmocka_unit_test(grid_sample_failures_name_shapes),
        cmocka_unit_test(spatial_transformer_matches_pytorch),
    };
    return cmocka_run_group_tests_name("nn_grid_sample", tests, NULL, NULL);
}
