/* test_nn_conv_transpose3d.c — transposed 3-D convolution and adaptive 3-D
 * pools against PyTorch 1.13 (reference/make_conv3d_refs.py ->
 * conv3d_torch.safetensors) and Keras 3.11
 * (reference/make_keras_conv3d_refs.py -> conv3d_keras.safetensors):
 * conv_transpose3d with stride, pads, output_padding, dilation and groups
 * in NCDHW and channels last, from strided views and into strided outputs,
 * the cols buffer in several chunks; Keras' Conv3DTranspose padding and
 * output_padding; AdaptiveAvg/MaxPool3d of any size; a 3-D encoder-decoder
 * of each framework end to end (PyTorch's also as a U-Net graph with a skip
 * connection); errors and overflow; Conv3DTranspose, Conv2DTranspose and
 * Conv1DTranspose with activation= and fused with an Activation after them
 * (reference/make_keras_tconv_act_refs.py -> keras_tconv_act.safetensors);
 * out untouched when an allocation fails. */
#include "volume_refs.h"

static mt_safetensors *torch_refs, *keras_refs;

/* ---- conv_transpose3d against PyTorch ------------------------------------------------ */

typedef struct torch_tconv {
    const char *name;
    mt_conv_transpose3d_params p;   /* data_layout set per run */
} torch_tconv;

static const torch_tconv torch_tconvs[] = {
    {"t0", {0}},
    {"t1", {.stride_d = 2, .stride_h = 1, .stride_w = 2, .pad_top = 1, .pad_bottom = 1,
            .pad_left = 1, .pad_right = 1, .output_padding_d = 1, .output_padding_w = 1,
            .groups = 2}},
    {"t2", {.stride_d = 2, .stride_h = 2, .stride_w = 2, .pad_front = 1, .pad_back = 1,
            .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1,
            .output_padding_d = 1, .output_padding_h = 1, .dilation_d = 2}},
};

static void conv_transpose3d_op_matches_pytorch(void **state)
{
    (void)state;
    char key[32];
    mt_tensor *x = ref_get(torch_refs, "xt"), *base, *xv = ndhwc_of(torch_refs, "xt", &base);
    for (size_t i = 0; i < sizeof torch_tconvs / sizeof torch_tconvs[0]; i++) {
        const torch_tconv *c = &torch_tconvs[i];
        snprintf(key, sizeof key, "%s.weight", c->name);
        mt_tensor *w = ref_get(torch_refs, key), *y = NULL, *z = NULL, *zv = NULL;
        snprintf(key, sizeof key, "%s.bias", c->name);
        mt_tensor *b = ref_get_maybe(torch_refs, key);
        snprintf(key, sizeof key, "%s.y", c->name);
        mt_conv_transpose3d_params p = c->p;
        // PyTorch's own layout, contiguous
        p.data_layout = MT_DATA_LAYOUT_NCHW;
        assert_ok(mt_conv_transpose3d(x, w, b, &p, &y));
        matches(torch_refs, y, key);
        // channels last from a permuted view (the voxels do not merge into
        // rows: copied once)
        p.data_layout = MT_DATA_LAYOUT_NHWC;
        assert_ok(mt_conv_transpose3d(xv, w, b, &p, &z));
        assert_ok(mt_permute(z, to_ncdhw, &zv));
        matches(torch_refs, zv, key);
        // into an NCDHW tensor seen channels last, filled with garbage first
        mt_tensor *out = NULL, *outv = NULL;
        assert_ok(mt_tensor_full(5, y->shape, 1e9f, &out));
        assert_ok(mt_permute(out, to_ndhwc, &outv));
        assert_ok(mt_conv_transpose3d_into(xv, w, b, &p, outv));
        matches(torch_refs, out, key);
        mt_tensor_free(outv);
        mt_tensor_free(out);
        mt_tensor_free(zv);
        mt_tensor_free(z);
        mt_tensor_free(y);
        mt_tensor_free(b);
        mt_tensor_free(w);
    }
    mt_tensor_free(xv);
    mt_tensor_free(base);
    mt_tensor_free(x);
}

/* The same as layers from mt_conv_transpose3d_load, on channels-last views;
 * t0's weight also as a strided view (the layer holds a contiguous copy). */
static void conv_transpose3d_layer_loads_pytorch(void **state)
{
    (void)state;
    mt_state_dict sd = {torch_refs, MT_FRAMEWORK_PYTORCH};
    char key[32];
    mt_tensor *base, *xv = ndhwc_of(torch_refs, "xt", &base);
    for (size_t i = 0; i < sizeof torch_tconvs / sizeof torch_tconvs[0]; i++) {
        const torch_tconv *c = &torch_tconvs[i];
        mt_layer *l = NULL;
        assert_ok(mt_conv_transpose3d_load(&sd, c->name, &c->p, &l));
        mt_tensor *y = NULL, *yv = NULL;
        assert_ok(mt_layer_forward(l, xv, &y));
        assert_ok(mt_permute(y, to_ncdhw, &yv));
        snprintf(key, sizeof key, "%s.y", c->name);
        matches(torch_refs, yv, key);
        mt_tensor_free(yv);
        mt_tensor_free(y);
        mt_layer_free(l);
    }
    // a [3,3,3,3,4]-stored weight seen as [4,3,3,3,3] (strided)
    mt_tensor *w = ref_get(torch_refs, "t0.weight"), *b = ref_get(torch_refs, "t0.bias");
    mt_tensor *wc = NULL, *wv = NULL, *y = NULL, *yv = NULL;
    assert_ok(mt_permute(w, (const int[]){4, 3, 2, 1, 0}, &wc));
    mt_tensor *wt = NULL;
    assert_ok(mt_tensor_contiguous(wc, &wt));   /* stored transposed … */
    assert_ok(mt_permute(wt, (const int[]){4, 3, 2, 1, 0}, &wv));   /* … viewed back */
    assert_false(mt_tensor_is_contiguous(wv));
    mt_layer *l = NULL;
    assert_ok(mt_conv_transpose3d_new(wv, b, NULL, &l));
    assert_ok(mt_layer_forward(l, xv, &y));
    assert_ok(mt_permute(y, to_ncdhw, &yv));
    matches(torch_refs, yv, "t0.y");
    // and the op on the strided weight (copied once per call)
    mt_tensor *z = NULL, *zv = NULL;
    assert_ok(mt_conv_transpose3d(xv, wv, b, &(mt_conv_transpose3d_params){0}, &z));
    assert_ok(mt_permute(z, to_ncdhw, &zv));
    matches(torch_refs, zv, "t0.y");
    mt_tensor_free(zv);
    mt_tensor_free(z);
    mt_layer_free(l);
    mt_tensor_free(yv);
    mt_tensor_free(y);
    mt_tensor_free(wv);
    mt_tensor_free(wt);
    mt_tensor_free(wc);
    mt_tensor_free(b);
    mt_tensor_free(w);
    mt_tensor_free(xv);
    mt_tensor_free(base);
}

/* A transposed conv with 1x1x1 taps is a per-voxel matmul: with enough
 * voxels the cols buffer takes several chunks (more than 512K floats);
 * checked against mt_matmul (itself checked against NumPy). */
static void conv_transpose3d_in_chunks(void **state)
{
    (void)state;
    const int64_t xs[5] = {2, 8, 16, 16, 8}, ws[5] = {8, 160, 1, 1, 1};
    mt_tensor *x = NULL, *w = NULL, *y = NULL, *x2 = NULL, *w2 = NULL, *y2 = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, xs, &x));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, ws, &w));
    uint64_t seed = 11;
    float *px = x->data, *pw = w->data;
    for (int64_t i = 0; i < mt_tensor_numel(x); i++)
        px[i] = rand_unit(&seed);
    for (int64_t i = 0; i < mt_tensor_numel(w); i++)
        pw[i] = rand_unit(&seed);
    // M = 4096 voxels of 160 columns: 655360 floats of cols
    assert_ok(mt_conv_transpose3d(x, w, NULL, &(mt_conv_transpose3d_params){0}, &y));
    assert_ok(mt_view(x, 2, (const int64_t[]){4096, 8}, &x2));
    assert_ok(mt_view(w, 2, (const int64_t[]){8, 160}, &w2));
    assert_ok(mt_matmul(x2, w2, &y2));
    assert_int_equal(mt_tensor_numel(y), mt_tensor_numel(y2));
    assert_close((const float *)y->data, (const float *)y2->data, (size_t)mt_tensor_numel(y2),
                 1e-5, 1e-5);
    mt_tensor_free(y2);
    mt_tensor_free(w2);
    mt_tensor_free(x2);
    mt_tensor_free(y);
    mt_tensor_free(w);
    mt_tensor_free(x);
}

/* The arguments of one conv_transpose3d_into under the probe. */
typedef struct tconv3d_call {
    const mt_tensor *x, *w, *b;
    mt_conv_transpose3d_params p;
} tconv3d_call;

static mt_status tconv3d_call_run(const void *ctx, mt_tensor *out)
{
    const tconv3d_call *c = ctx;
    return mt_conv_transpose3d_into(c->x, c->w, c->b, &c->p, out);
}

/* Out of memory at each allocation in turn leaves out as it was: an
 * NCDHW input of two images seen channels last and a weight seen through
 * a transpose (both copied), two groups, a bias, the cols buffer in four
 * chunks (M = 1024 voxels of 64·27 columns). The successful run gives the
 * same values as mt_conv_transpose3d, which op_matches_pytorch checks. */
static void conv_transpose3d_out_of_memory_leaves_out(void **state)
{
    (void)state;
    mt_tensor *x = NULL, *xv = NULL, *w2 = NULL, *w = NULL, *b = NULL, *want = NULL,
              *out = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, (const int64_t[]){2, 4, 8, 8, 8}, &x));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, (const int64_t[]){64, 4, 3, 3, 3}, &w2));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (const int64_t[]){128}, &b));
    uint64_t seed = 13;
    mt_tensor *fill[3] = {x, w2, b};
    for (int t = 0; t < 3; t++)
        for (int64_t i = 0; i < mt_tensor_numel(fill[t]); i++)
            ((float *)fill[t]->data)[i] = rand_unit(&seed);
    assert_ok(mt_permute(x, to_ndhwc, &xv));
    assert_ok(mt_transpose(w2, 0, 1, &w));   /* [4, 64, 3, 3, 3], strided */
    tconv3d_call c = {xv, w, b, {.groups = 2}};
    assert_ok(mt_conv_transpose3d(xv, w, b, &c.p, &want));
    assert_int_equal(want->shape[4], 128);
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, want->shape, &out));
    assert_oom_leaves_out(tconv3d_call_run, &c, out, out, want);
    mt_tensor_free(out);
    mt_tensor_free(want);
    mt_tensor_free(w);
    mt_tensor_free(xv);
    mt_tensor_free(b);
    mt_tensor_free(w2);
    mt_tensor_free(x);
}

/* ---- Conv3DTranspose against Keras -------------------------------------------------- */

static void keras_layer(mt_layer *l, const char *x, const char *want)
{
    mt_tensor *in = ref_get(keras_refs, x), *y = NULL;
    assert_ok(mt_layer_forward(l, in, &y));
    matches(keras_refs, y, want);
    mt_tensor_free(y);
    mt_tensor_free(in);
    mt_layer_free(l);
}

static void conv3d_transpose_matches_keras(void **state)
{
    (void)state;
    mt_state_dict sd = {keras_refs, MT_FRAMEWORK_KERAS};
    mt_layer *l = NULL;
    assert_ok(mt_conv3d_transpose_load(&sd, "kt0", NULL, &l));
    keras_layer(l, "xs", "y_kt0");
    assert_ok(mt_conv3d_transpose_load(&sd, "kt1", &(mt_conv3d_transpose_options){
            .stride_d = 2, .stride_w = 2, .padding = MT_PADDING_SAME}, &l));
    keras_layer(l, "xs", "y_kt1");
    assert_ok(mt_conv3d_transpose_load(&sd, "kt2", &(mt_conv3d_transpose_options){
            .stride_d = 2, .stride_h = 2, .stride_w = 2, .padding = MT_PADDING_SAME,
            .has_output_padding = true, .output_padding_d = 1, .output_padding_w = 1}, &l));
    keras_layer(l, "xs", "y_kt2");
    assert_ok(mt_conv3d_transpose_load(&sd, "kt3", &(mt_conv3d_transpose_options){
            .stride_h = 3, .stride_w = 2, .has_output_padding = true,
            .output_padding_h = 2, .output_padding_w = 1, .out_channels = 2,
            .in_channels = 3, .kernel_d = 3, .kernel_h = 2, .kernel_w = 3}, &l));
    keras_layer(l, "xs", "y_kt3");
    assert_ok(mt_conv3d_transpose_load(&sd, "kt4", &(mt_conv3d_transpose_options){
            .dilation_d = 2, .dilation_h = 2, .dilation_w = 2}, &l));
    keras_layer(l, "xs", "y_kt4");
}

/* The memory a Sequential of input `sample` ([N, sample...]) and the
 * layer `up` (given to it) needs, with (act != NONE) an activation layer
 * after it. */
static size_t model_bytes(int rank, const int64_t *sample, mt_layer *up, mt_activation act)
{
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    size_t bytes = 0;
    assert_ok(mt_sequential_new(rank, sample, &m));
    assert_ok(mt_sequential_add(m, up));
    if (act != MT_ACTIVATION_NONE)
        add(m, mt_activation_layer_new(act, &l), &l);
    assert_ok(mt_sequential_bytes_needed(m, 2, &bytes));
    mt_sequential_free(m);
    return bytes;
}

/* Conv3DTranspose, Conv2DTranspose and Conv1DTranspose(activation=...)
 * against Keras 3.11 (reference/make_keras_tconv_act_refs.py ->
 * keras_tconv_act.safetensors): the loaders' act run by the op after the
 * bias, each activation Keras names; the ops into an NCDHW / NCHW out seen
 * channels last (the activation over strided rows); a Conv3DTranspose,
 * Conv2DTranspose or Conv1DTranspose + Activation model, the activation
 * fused into it (the model needs no more memory than the conv alone). */
static void conv_transpose_activation_matches_keras(void **state)
{
    (void)state;
    mt_safetensors *refs = ref_open("keras_tconv_act.safetensors");
    mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    const struct {
        const char *name;
        mt_conv3d_transpose_options o;
    } cases[] = {
        {"ka0", {.stride_d = 2, .stride_h = 2, .stride_w = 2, .padding = MT_PADDING_SAME,
                 .act = MT_ACTIVATION_RELU}},
        {"ka1", {.stride_h = 2, .act = MT_ACTIVATION_GELU}},
        {"ka2", {.dilation_d = 2, .dilation_h = 2, .dilation_w = 2,
                 .act = MT_ACTIVATION_SIGMOID}},
        {"ka3", {.stride_d = 2, .stride_h = 2, .stride_w = 2, .padding = MT_PADDING_SAME,
                 .has_output_padding = true, .output_padding_d = 1, .output_padding_w = 1,
                 .act = MT_ACTIVATION_TANH}},
        {"ka4", {.stride_d = 2, .act = MT_ACTIVATION_SILU}},
    };
    mt_tensor *x = ref_get(refs, "x");
    char want[16];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mt_layer *l = NULL;
        mt_tensor *y = NULL;
        assert_ok(mt_conv3d_transpose_load(&sd, cases[i].name, &cases[i].o, &l));
        assert_ok(mt_layer_forward(l, x, &y));
        snprintf(want, sizeof want, "y_%s", cases[i].name);
        matches(refs, y, want);
        mt_tensor_free(y);
        mt_layer_free(l);
    }
    // the op: ka2's sigmoid (valid: no pads) into an NCDHW tensor seen
    // channels last
    mt_tensor *k = ref_get(refs, "ka2/kernel"), *b = ref_get(refs, "ka2/bias"), *w = NULL,
              *out = NULL, *outv = NULL, *y = NULL, *yv = NULL;
    assert_ok(mt_permute(k, (const int[]){4, 3, 0, 1, 2}, &w));
    const mt_conv_transpose3d_params p = {.dilation_d = 2, .dilation_h = 2, .dilation_w = 2,
                                          .activation = MT_ACTIVATION_SIGMOID};
    assert_ok(mt_conv_transpose3d(x, w, b, &p, &y));
    matches(refs, y, "y_ka2");
    assert_ok(mt_tensor_full(5, (const int64_t[]){2, 3, 5, 6, 6}, 1e9f, &out));
    assert_ok(mt_permute(out, to_ndhwc, &outv));
    assert_ok(mt_conv_transpose3d_into(x, w, b, &p, outv));
    matches(refs, outv, "y_ka2");
    assert_fails(mt_conv_transpose3d(x, w, b, &(mt_conv_transpose3d_params){
                     .activation = MT_ACTIVATION_COUNT}, &yv),
                 MT_ERR_INVALID_ARGUMENT, "conv_transpose3d: unknown activation 7");
    assert_fails(mt_conv3d_transpose_load(&sd, "ka0", &(mt_conv3d_transpose_options){
                     .act = (mt_activation)-1}, &(mt_layer *){NULL}),
                 MT_ERR_INVALID_ARGUMENT, "conv_transpose3d ka0/kernel: unknown activation -1");
    // Conv3DTranspose then Activation('tanh'): fused
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    const mt_conv3d_transpose_options up = {.stride_d = 2, .stride_h = 2, .stride_w = 2,
                                            .padding = MT_PADDING_SAME};
    assert_ok(mt_sequential_new(4, (const int64_t[]){3, 4, 4, 3}, &m));
    add(m, mt_conv3d_transpose_load(&sd, "sa/up", &up, &l), &l);
    add(m, mt_activation_layer_new(MT_ACTIVATION_TANH, &l), &l);
    const mt_tensor *ym;
    assert_ok(mt_sequential_forward(m, x, &ym));
    matches(refs, ym, "y_sa");
    mt_sequential_free(m);
    const int64_t vol[4] = {3, 4, 4, 3};
    assert_ok(mt_conv3d_transpose_load(&sd, "sa/up", &up, &l));
    const size_t fused_bytes = model_bytes(4, vol, l, MT_ACTIVATION_TANH);
    assert_ok(mt_conv3d_transpose_load(&sd, "sa/up", &up, &l));
    assert_int_equal(fused_bytes, model_bytes(4, vol, l, MT_ACTIVATION_NONE));
    // Conv2DTranspose and Conv1DTranspose
    const struct {
        const char *name, *x;
        bool one_d;
        mt_conv2d_transpose_options o;
    } flat[] = {
        {"kb0", "x2", false, {.stride_h = 2, .stride_w = 2, .padding = MT_PADDING_SAME,
                              .act = MT_ACTIVATION_RELU}},
        {"kb1", "x2", false, {.dilation_h = 2, .act = MT_ACTIVATION_SIGMOID}},
        {"kb2", "x2", false, {.stride_h = 2, .stride_w = 2, .has_output_padding = true,
                              .output_padding_h = 1, .output_padding_w = 1,
                              .act = MT_ACTIVATION_GELU}},
        {"kc0", "x1", true, {.stride_w = 2, .padding = MT_PADDING_SAME,
                             .act = MT_ACTIVATION_SILU}},
    };
    for (size_t i = 0; i < sizeof flat / sizeof flat[0]; i++) {
        mt_tensor *in = ref_get(refs, flat[i].x), *yl = NULL;
        l = NULL;
        assert_ok(flat[i].one_d ? mt_conv1d_transpose_load(&sd, flat[i].name, &flat[i].o, &l)
                                : mt_conv2d_transpose_load(&sd, flat[i].name, &flat[i].o, &l));
        assert_ok(mt_layer_forward(l, in, &yl));
        snprintf(want, sizeof want, "y_%s", flat[i].name);
        matches(refs, yl, want);
        mt_tensor_free(yl);
        mt_tensor_free(in);
        mt_layer_free(l);
    }
    // the 2-D op: kb1's sigmoid (valid: no pads) into an NCHW tensor seen NHWC
    mt_tensor *x2 = ref_get(refs, "x2"), *k2 = ref_get(refs, "kb1/kernel"),
              *b2 = ref_get(refs, "kb1/bias"), *w2 = NULL, *o2 = NULL, *o2v = NULL;
    assert_ok(mt_permute(k2, (const int[]){3, 2, 0, 1}, &w2));
    assert_ok(mt_tensor_full(4, (const int64_t[]){2, 2, 7, 8}, 1e9f, &o2));
    assert_ok(mt_permute(o2, (const int[]){0, 2, 3, 1}, &o2v));
    assert_ok(mt_conv_transpose2d_into(x2, w2, b2, &(mt_conv_transpose2d_params){
                  .dilation_h = 2, .activation = MT_ACTIVATION_SIGMOID}, o2v));
    matches(refs, o2v, "y_kb1");
    assert_fails(mt_conv_transpose2d_into(x2, w2, b2, &(mt_conv_transpose2d_params){
                     .dilation_h = 2, .activation = MT_ACTIVATION_COUNT}, o2v),
                 MT_ERR_INVALID_ARGUMENT, "conv_transpose2d: unknown activation 7");
    assert_fails(mt_conv2d_transpose_load(&sd, "kb0", &(mt_conv2d_transpose_options){
                     .act = (mt_activation)-1}, &(mt_layer *){NULL}),
                 MT_ERR_INVALID_ARGUMENT, "conv_transpose2d kb0/kernel: unknown activation -1");
    // Conv2DTranspose then Activation('relu'): fused
    const mt_conv2d_transpose_options up2 = {.stride_h = 2, .stride_w = 2,
                                             .padding = MT_PADDING_SAME};
    assert_ok(mt_sequential_new(3, (const int64_t[]){5, 6, 3}, &m));
    add(m, mt_conv2d_transpose_load(&sd, "sb/up", &up2, &l), &l);
    add(m, mt_activation_layer_new(MT_ACTIVATION_RELU, &l), &l);
    assert_ok(mt_sequential_forward(m, x2, &ym));
    matches(refs, ym, "y_sb");
    mt_sequential_free(m);
    const int64_t img[3] = {5, 6, 3};
    assert_ok(mt_conv2d_transpose_load(&sd, "sb/up", &up2, &l));
    const size_t fused2_bytes = model_bytes(3, img, l, MT_ACTIVATION_RELU);
    assert_ok(mt_conv2d_transpose_load(&sd, "sb/up", &up2, &l));
    assert_int_equal(fused2_bytes, model_bytes(3, img, l, MT_ACTIVATION_NONE));
    // Conv1DTranspose then Activation('silu') (kc0's own, as a layer): fused
    const mt_conv2d_transpose_options up1 = {.stride_w = 2, .padding = MT_PADDING_SAME};
    mt_tensor *x1 = ref_get(refs, "x1");
    assert_ok(mt_sequential_new(2, (const int64_t[]){7, 3}, &m));
    add(m, mt_conv1d_transpose_load(&sd, "kc0", &up1, &l), &l);
    add(m, mt_activation_layer_new(MT_ACTIVATION_SILU, &l), &l);
    assert_ok(mt_sequential_forward(m, x1, &ym));
    matches(refs, ym, "y_kc0");
    mt_sequential_free(m);
    const int64_t seq[2] = {7, 3};
    assert_ok(mt_conv1d_transpose_load(&sd, "kc0", &up1, &l));
    const size_t fused1_bytes = model_bytes(2, seq, l, MT_ACTIVATION_SILU);
    assert_ok(mt_conv1d_transpose_load(&sd, "kc0", &up1, &l));
    assert_int_equal(fused1_bytes, model_bytes(2, seq, l, MT_ACTIVATION_NONE));
    mt_tensor_free(x1);
    mt_tensor_free(o2v);
    mt_tensor_free(o2);
    mt_tensor_free(w2);
    mt_tensor_free(b2);
    mt_tensor_free(k2);
    mt_tensor_free(x2);
    mt_tensor_free(outv);
    mt_tensor_free(out);
    mt_tensor_free(y);
    mt_tensor_free(w);
    mt_tensor_free(b);
    mt_tensor_free(k);
    mt_tensor_free(x);
    mt_safetensors_close(refs);
}

/* ---- adaptive pools against PyTorch -------------------------------------------------- */

static void adaptive_pools_match_pytorch(void **state)
{
    (void)state;
    const struct {
        const char *name;
        bool max;
        int64_t d, h, w;
    } cases[] = {{"aap0.y", false, 2, 4, 3}, {"aap1.y", false, 3, 5, 9},
                 {"amp0.y", true, 2, 4, 3}, {"amp1.y", true, 3, 5, 9}};
    mt_tensor *x = ref_get(torch_refs, "x"), *base, *xv = ndhwc_of(torch_refs, "x", &base);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mt_tensor *y = NULL, *z = NULL, *zv = NULL;
        assert_ok(cases[i].max ? mt_adaptive_max_pool3d(x, cases[i].d, cases[i].h, cases[i].w,
                                                        MT_DATA_LAYOUT_NCHW, &y)
                               : mt_adaptive_avg_pool3d(x, cases[i].d, cases[i].h, cases[i].w,
                                                        MT_DATA_LAYOUT_NCHW, &y));
        matches(torch_refs, y, cases[i].name);
        mt_layer *l = NULL;
        assert_ok(cases[i].max ? mt_adaptive_max_pool3d_new(cases[i].d, cases[i].h, cases[i].w,
                                                            &l)
                               : mt_adaptive_avg_pool3d_new(cases[i].d, cases[i].h, cases[i].w,
                                                            &l));
        assert_ok(mt_layer_forward(l, xv, &z));
        assert_ok(mt_permute(z, to_ncdhw, &zv));
        matches(torch_refs, zv, cases[i].name);
        // _into a channels-last view of an NCDHW tensor
        mt_tensor *out = NULL, *outv = NULL;
        assert_ok(mt_tensor_full(5, y->shape, 1e9f, &out));
        assert_ok(mt_permute(out, to_ndhwc, &outv));
        assert_ok(cases[i].max ? mt_adaptive_max_pool3d_into(xv, cases[i].d, cases[i].h,
                                                             cases[i].w, MT_DATA_LAYOUT_NHWC,
                                                             outv)
                               : mt_adaptive_avg_pool3d_into(xv, cases[i].d, cases[i].h,
                                                             cases[i].w, MT_DATA_LAYOUT_NHWC,
                                                             outv));
        matches(torch_refs, out, cases[i].name);
        mt_tensor_free(outv);
        mt_tensor_free(out);
        mt_layer_free(l);
        mt_tensor_free(zv);
        mt_tensor_free(z);
        mt_tensor_free(y);
    }
    // (1,1,1) is the global pool
    mt_tensor *y = NULL;
    assert_ok(mt_adaptive_avg_pool3d(xv, 1, 1, 1, MT_DATA_LAYOUT_NHWC, &y));
    assert_int_equal(y->shape[4], 3);
    mt_tensor *flat = NULL;
    assert_ok(mt_view(y, 2, (const int64_t[]){2, 3}, &flat));
    matches(torch_refs, flat, "gap.y");
    mt_tensor_free(flat);
    mt_tensor_free(y);
    // NaN wins a max window, as in PyTorch
    const float v[4] = {1.0f, NAN, 2.0f, -INFINITY};
    mt_tensor *t = NULL, *m = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 5, (const int64_t[]){1, 1, 1, 4, 1}, v, &t));
    assert_ok(mt_adaptive_max_pool3d(t, 1, 1, 2, MT_DATA_LAYOUT_NHWC, &m));
    assert_true(isnan(((float *)m->data)[0]));
    assert_true(((float *)m->data)[1] == 2.0f);
    mt_tensor_free(m);
    mt_tensor_free(t);
    mt_tensor_free(xv);
    mt_tensor_free(base);
    mt_tensor_free(x);
}

/* ---- encoder-decoders end to end --------------------------------------------------- */

/* Conv3d(stride 2)-ReLU-ConvTranspose3d(stride 2, output_padding 1) from
 * PyTorch's state_dict: back to the input's size, through a Sequential
 * (twice: the second from the planned workspace). */
static void encoder_decoder_matches_pytorch(void **state)
{
    (void)state;
    mt_state_dict sd = {torch_refs, MT_FRAMEWORK_PYTORCH};
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_sequential_new(4, (const int64_t[]){4, 6, 6, 2}, &m));
    add(m, mt_conv3d_load(&sd, "ed.0", &(mt_conv3d_options){
            .stride_d = 2, .stride_h = 2, .stride_w = 2, .padding = MT_PADDING_EXPLICIT,
            .pad_front = 1, .pad_back = 1, .pad_top = 1, .pad_bottom = 1, .pad_left = 1,
            .pad_right = 1}, &l), &l);
    add(m, mt_relu_new(&l), &l);
    add(m, mt_conv_transpose3d_load(&sd, "ed.2", &(mt_conv_transpose3d_params){
            .stride_d = 2, .stride_h = 2, .stride_w = 2, .pad_front = 1, .pad_back = 1,
            .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1,
            .output_padding_d = 1, .output_padding_h = 1, .output_padding_w = 1}, &l), &l);
    mt_tensor *base, *xv = ndhwc_of(torch_refs, "xe", &base), *yv = NULL;
    const mt_tensor *y;
    for (int run = 0; run < 2; run++) {
        assert_ok(mt_sequential_forward(m, xv, &y));
        assert_ok(mt_permute(y, to_ncdhw, &yv));
        matches(torch_refs, yv, "ed.y");
        mt_tensor_free(yv);
    }
    mt_tensor_free(xv);
    mt_tensor_free(base);
    mt_sequential_free(m);
}

/* Adds *lp (read after `made`, the call that built it, has run) as node
 * `name`; its id. */
static int node(mt_graph *g, const char *name, mt_status made, mt_layer **lp, int n,
                const int *inputs)
{
    if (made)
        fail_msg("%s", mt_last_error());
    int id = -1;
    assert_ok(mt_graph_add(g, name, *lp, n, inputs, &id));
    return id;
}

/* A 3-D U-Net of PyTorch's (make_conv3d_refs.py's UNet3d) as a graph: the
 * ConvTranspose3d's output concatenated with the first encoder's (a skip
 * across the scales), twice (the second from the planned workspace). */
static void unet_graph_matches_pytorch(void **state)
{
    (void)state;
    mt_state_dict sd = {torch_refs, MT_FRAMEWORK_PYTORCH};
    const mt_conv3d_options pad1 = {.padding = MT_PADDING_EXPLICIT, .pad_front = 1,
                                    .pad_back = 1, .pad_top = 1, .pad_bottom = 1,
                                    .pad_left = 1, .pad_right = 1, .act = MT_ACTIVATION_RELU};
    mt_conv3d_options down = pad1;
    down.stride_d = down.stride_h = down.stride_w = 2;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 4, (const int64_t[]){4, 6, 6, 2}, &x));
    int e1 = node(g, "enc1", mt_conv3d_load(&sd, "unet.enc1", &pad1, &l), &l, 1, &x);
    int e2 = node(g, "enc2", mt_conv3d_load(&sd, "unet.enc2", &down, &l), &l, 1, &e1);
    int up = node(g, "up", mt_conv_transpose3d_load(&sd, "unet.up",
                                                    &(mt_conv_transpose3d_params){
                                                        .stride_d = 2, .stride_h = 2,
                                                        .stride_w = 2}, &l), &l, 1, &e2);
    int cat = node(g, "cat", mt_concat_new(-1, &l), &l, 2, (const int[]){up, e1});
    int y = node(g, "head", mt_conv3d_load(&sd, "unet.head", NULL, &l), &l, 1, &cat);
    assert_ok(mt_graph_output(g, y));
    mt_tensor *base, *xv = ndhwc_of(torch_refs, "xe", &base), *yv = NULL;
    for (int run = 0; run < 2; run++) {
        const mt_tensor *out = NULL;
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){xv}, 1, &out));
        assert_ok(mt_permute(out, to_ncdhw, &yv));
        matches(torch_refs, yv, "unet.y");
        mt_tensor_free(yv);
    }
    // an odd depth (5) the stride-2 encoder and the transposed conv do not
    // bring back (6): the concat refuses it when added, naming the nodes
    mt_graph_free(g);
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 4, (const int64_t[]){5, 6, 6, 2}, &x));
    e1 = node(g, "enc1", mt_conv3d_load(&sd, "unet.enc1", &pad1, &l), &l, 1, &x);
    e2 = node(g, "enc2", mt_conv3d_load(&sd, "unet.enc2", &down, &l), &l, 1, &e1);
    up = node(g, "up", mt_conv_transpose3d_load(&sd, "unet.up", &(mt_conv_transpose3d_params){
                                                    .stride_d = 2, .stride_h = 2,
                                                    .stride_w = 2}, &l), &l, 1, &e2);
    assert_ok(mt_concat_new(-1, &l));
    assert_fails(mt_graph_add(g, "cat", l, 2, (const int[]){up, e1}, NULL), MT_ERR_SHAPE,
                 "node 'cat' (concat dim -1) expects inputs that differ only in dim -1, node "
                 "'up' gives [1,6,6,6,3] and node 'enc1' gives [1,5,6,6,3]");
    mt_graph_free(g);
    mt_tensor_free(xv);
    mt_tensor_free(base);
}

static void encoder_decoder_matches_keras(void **state)
{
    (void)state;
    mt_state_dict sd = {keras_refs, MT_FRAMEWORK_KERAS};
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_sequential_new(4, (const int64_t[]){4, 6, 6, 2}, &m));
    add(m, mt_conv3d_load(&sd, "ed/down", &(mt_conv3d_options){
            .stride_d = 2, .stride_h = 2, .stride_w = 2, .padding = MT_PADDING_SAME,
            .act = MT_ACTIVATION_RELU}, &l), &l);
    add(m, mt_conv3d_transpose_load(&sd, "ed/up", &(mt_conv3d_transpose_options){
            .stride_d = 2, .stride_h = 2, .stride_w = 2, .padding = MT_PADDING_SAME}, &l),
        &l);
    mt_tensor *x = ref_get(keras_refs, "xe");
    const mt_tensor *y;
    assert_ok(mt_sequential_forward(m, x, &y));
    matches(keras_refs, y, "y_ed");
    mt_tensor_free(x);
    mt_sequential_free(m);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void op_errors(void **state)
{
    (void)state;
    mt_tensor *x = ref_get(torch_refs, "xt"), *w = ref_get(torch_refs, "t0.weight");
    mt_tensor *b = ref_get(torch_refs, "t0.bias"), *y = NULL, *x4 = NULL, *xi = NULL;
    const mt_conv_transpose3d_params p = {.data_layout = MT_DATA_LAYOUT_NCHW};
    assert_fails(mt_conv_transpose3d(NULL, w, b, &p, &y), MT_ERR_INVALID_ARGUMENT,
                 "conv_transpose3d");
    assert_fails(mt_conv_transpose3d(x, NULL, b, &p, &y), MT_ERR_INVALID_ARGUMENT,
                 "conv_transpose3d");
    assert_fails(mt_conv_transpose3d(x, w, b, NULL, &y), MT_ERR_INVALID_ARGUMENT,
                 "params is NULL");
    assert_fails(mt_conv_transpose3d(x, w, b, &p, NULL), MT_ERR_INVALID_ARGUMENT,
                 "out is NULL");
    assert_fails(mt_conv_transpose3d_into(x, w, b, &p, NULL), MT_ERR_INVALID_ARGUMENT,
                 "conv_transpose3d");
    assert_ok(mt_view(x, 4, (const int64_t[]){8, 3, 4, 3}, &x4));
    assert_fails(mt_conv_transpose3d(x4, w, b, &p, &y), MT_ERR_SHAPE, "[N,C,D,H,W]");
    assert_fails(mt_conv_transpose3d(x, x4, b, &p, &y), MT_ERR_SHAPE, "[Cin,Cout/groups");
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 5, x->shape, &xi));
    assert_fails(mt_conv_transpose3d(xi, w, b, &p, &y), MT_ERR_DTYPE, "conv_transpose3d");
    // channels-last reading of an NCDHW input: 3 channels, the weight wants 4
    assert_fails(mt_conv_transpose3d(x, w, b, &(mt_conv_transpose3d_params){0}, &y),
                 MT_ERR_SHAPE, "must be [3,Cout/groups");
    assert_fails(mt_conv_transpose3d(x, w, b, &(mt_conv_transpose3d_params){
                     .data_layout = MT_DATA_LAYOUT_NCHW, .groups = 3}, &y),
                 MT_ERR_SHAPE, "groups 3");
    mt_tensor *t1b = ref_get(torch_refs, "t1.bias");
    assert_fails(mt_conv_transpose3d(x, w, t1b, &p, &y), MT_ERR_SHAPE, "[6], expected [3]");
    // output_padding at or beyond both the stride and the dilation
    assert_fails(mt_conv_transpose3d(x, w, b, &(mt_conv_transpose3d_params){
                     .data_layout = MT_DATA_LAYOUT_NCHW, .stride_h = 2,
                     .output_padding_h = 2}, &y),
                 MT_ERR_INVALID_ARGUMENT, "height: invalid stride 2");
    assert_fails(mt_conv_transpose3d(x, w, b, &(mt_conv_transpose3d_params){
                     .data_layout = MT_DATA_LAYOUT_NCHW, .dilation_w = -1}, &y),
                 MT_ERR_INVALID_ARGUMENT, "width");
    // pads that leave nothing: depth (3-1) + 2 + 1 = 5, pads 3 + 2
    assert_fails(mt_conv_transpose3d(x, w, b, &(mt_conv_transpose3d_params){
                     .data_layout = MT_DATA_LAYOUT_NCHW, .pad_front = 3, .pad_back = 2}, &y),
                 MT_ERR_SHAPE, "depth: pads (3, 2) leave no output (5 before them)");
    // pads near INT64_MAX: their difference overflowed (UBSan)
    assert_fails(mt_conv_transpose3d(x, w, b, &(mt_conv_transpose3d_params){
                     .data_layout = MT_DATA_LAYOUT_NCHW, .pad_top = INT64_MAX,
                     .pad_bottom = INT64_MAX}, &y),
                 MT_ERR_SHAPE, "height: pads (9223372036854775807, 9223372036854775807) "
                 "leave no output");
    // sizes that overflow
    assert_fails(mt_conv_transpose3d(x, w, b, &(mt_conv_transpose3d_params){
                     .data_layout = MT_DATA_LAYOUT_NCHW, .stride_w = INT64_MAX / 2}, &y),
                 MT_ERR_OVERFLOW, "width");
    assert_fails(mt_conv_transpose3d(x, w, b, &(mt_conv_transpose3d_params){
                     .data_layout = MT_DATA_LAYOUT_NCHW, .dilation_d = INT64_MAX / 2 + 1},
                                     &y),
                 MT_ERR_OVERFLOW, "depth");
    // three axes of 2^21 each: the output's numel overflows
    assert_fails(mt_conv_transpose3d(x, w, b, &(mt_conv_transpose3d_params){
                     .data_layout = MT_DATA_LAYOUT_NCHW, .stride_d = 1 << 21,
                     .stride_h = 1 << 21, .stride_w = 1 << 21}, &y),
                 MT_ERR_OVERFLOW, "overflows");
    assert_null(y);
    // _into: a wrong out shape, an out overlapping the input; out untouched
    mt_tensor *out = NULL;
    assert_ok(mt_tensor_full(5, (const int64_t[]){2, 3, 5, 6, 4}, 7.0f, &out));
    assert_fails(mt_conv_transpose3d_into(x, w, b, &p, out), MT_ERR_SHAPE,
                 "out is [2,3,5,6,4]");
    for (int64_t i = 0; i < mt_tensor_numel(out); i++)
        assert_true(((float *)out->data)[i] == 7.0f);
    mt_tensor *sq = NULL, *alias = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, (const int64_t[]){4, 4, 1, 1, 1}, &sq));
    assert_ok(mt_view(x, 5, x->shape, &alias));
    assert_fails(mt_conv_transpose3d_into(x, sq, NULL, &p, alias), MT_ERR_INVALID_ARGUMENT,
                 "overlaps");
    // adaptive pools
    assert_fails(mt_adaptive_avg_pool3d(NULL, 1, 1, 1, MT_DATA_LAYOUT_NHWC, &y),
                 MT_ERR_INVALID_ARGUMENT, "adaptive_avg_pool3d");
    assert_fails(mt_adaptive_max_pool3d(x, 1, 1, 1, MT_DATA_LAYOUT_NHWC, NULL),
                 MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_adaptive_max_pool3d(x4, 1, 1, 1, MT_DATA_LAYOUT_NHWC, &y), MT_ERR_SHAPE,
                 "5 dims");
    assert_fails(mt_adaptive_avg_pool3d(xi, 1, 1, 1, MT_DATA_LAYOUT_NHWC, &y), MT_ERR_DTYPE,
                 "adaptive_avg_pool3d");
    assert_fails(mt_adaptive_avg_pool3d(x, 1, 0, 1, MT_DATA_LAYOUT_NHWC, &y),
                 MT_ERR_INVALID_ARGUMENT, "output size (1,0,1)");
    assert_fails(mt_adaptive_max_pool3d(x, INT64_MAX / 2, 1, 1, MT_DATA_LAYOUT_NHWC, &y),
                 MT_ERR_OVERFLOW, "overflows");
    assert_fails(mt_adaptive_max_pool3d(x, 1 << 22, 1 << 22, 1 << 22, MT_DATA_LAYOUT_NHWC,
                                        &y), MT_ERR_OVERFLOW, "overflows");
    assert_fails(mt_adaptive_max_pool3d_into(x, 1, 1, 1, MT_DATA_LAYOUT_NCHW, out),
                 MT_ERR_SHAPE, "out is");
    assert_fails(mt_adaptive_avg_pool3d_into(x, 3, 4, 3, MT_DATA_LAYOUT_NCHW, alias),
                 MT_ERR_INVALID_ARGUMENT, "overlaps");
    for (int64_t i = 0; i < mt_tensor_numel(out); i++)
        assert_true(((float *)out->data)[i] == 7.0f);
    assert_null(y);
    mt_tensor_free(alias);
    mt_tensor_free(sq);
    mt_tensor_free(out);
    mt_tensor_free(t1b);
    mt_tensor_free(xi);
    mt_tensor_free(x4);
    mt_tensor_free(b);
    mt_tensor_free(w);
    mt_tensor_free(x);
}

static void layer_errors(void **state)
{
    (void)state;
    mt_tensor *w = ref_get(torch_refs, "t0.weight"), *b = ref_get(torch_refs, "t1.bias");
    mt_tensor *w4 = NULL;
    mt_layer *l = NULL;
    assert_fails(mt_conv_transpose3d_new(NULL, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "weight is NULL");
    assert_fails(mt_conv_transpose3d_new(w, NULL, NULL, NULL), MT_ERR_INVALID_ARGUMENT,
                 "out is NULL");
    assert_ok(mt_view(w, 4, (const int64_t[]){12, 3, 3, 3}, &w4));
    assert_fails(mt_conv_transpose3d_new(w4, NULL, NULL, &l), MT_ERR_SHAPE,
                 "expected [in, out/groups, kd, kh, kw]");
    assert_fails(mt_conv_transpose3d_new(w, b, NULL, &l), MT_ERR_SHAPE, "expected [3]");
    assert_fails(mt_conv_transpose3d_new(w, NULL, &(mt_conv_transpose3d_params){.groups = 3},
                                         &l), MT_ERR_SHAPE, "groups 3");
    assert_fails(mt_conv_transpose3d_new(w, NULL, &(mt_conv_transpose3d_params){
                     .output_padding_d = 1}, &l), MT_ERR_INVALID_ARGUMENT, "output_padding");
    assert_fails(mt_conv_transpose3d_new(w, NULL, &(mt_conv_transpose3d_params){
                     .data_layout = MT_DATA_LAYOUT_NCHW}, &l), MT_ERR_INVALID_ARGUMENT,
                 "channels-last");
    assert_null(l);
    // the input, checked when the layer is added, names the layer
    mt_sequential *m = NULL;
    assert_ok(mt_sequential_new(4, (const int64_t[]){3, 4, 3, 3}, &m));
    assert_ok(mt_conv_transpose3d_new(w, NULL, NULL, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE, "expects 4 input channels");
    mt_sequential_free(m);
    assert_ok(mt_sequential_new(4, (const int64_t[]){3, 4, 3, 4}, &m));
    assert_ok(mt_conv_transpose3d_new(w, NULL, &(mt_conv_transpose3d_params){
                  .pad_left = 3, .pad_right = 3}, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE, "leaves no output");
    mt_sequential_free(m);
    assert_ok(mt_sequential_new(3, (const int64_t[]){4, 3, 4}, &m));
    assert_ok(mt_adaptive_max_pool3d_new(2, 2, 2, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE, "[N,D,H,W,C]");
    mt_sequential_free(m);
    assert_fails(mt_adaptive_avg_pool3d_new(1, 1, 0, &l), MT_ERR_INVALID_ARGUMENT,
                 "output size (1,1,0)");
    assert_fails(mt_adaptive_max_pool3d_new(1, 1, 1, NULL), MT_ERR_INVALID_ARGUMENT,
                 "out is NULL");
    // loaders: the wrong framework, a missing tensor, bad Keras options
    mt_state_dict td = {torch_refs, MT_FRAMEWORK_PYTORCH};
    mt_state_dict kd = {keras_refs, MT_FRAMEWORK_KERAS};
    assert_fails(mt_conv_transpose3d_load(&kd, "kt0", NULL, &l), MT_ERR_UNSUPPORTED,
                 "mt_conv3d_transpose_load");
    assert_fails(mt_conv3d_transpose_load(&td, "t0", NULL, &l), MT_ERR_UNSUPPORTED,
                 "mt_conv_transpose3d_load");
    assert_fails(mt_conv_transpose3d_load(&td, "nope", NULL, &l), MT_ERR_NOT_FOUND,
                 "nope.weight");
    assert_fails(mt_conv3d_transpose_load(&kd, "kt0", &(mt_conv3d_transpose_options){
                     .has_output_padding = true, .output_padding_h = 1}, &l),
                 MT_ERR_INVALID_ARGUMENT, "below the strides");
    assert_fails(mt_conv3d_transpose_load(&kd, "kt0", &(mt_conv3d_transpose_options){
                     .output_padding_h = 1}, &l),
                 MT_ERR_INVALID_ARGUMENT, "has_output_padding");
    assert_fails(mt_conv3d_transpose_load(&kd, "kt0", &(mt_conv3d_transpose_options){
                     .padding = MT_PADDING_EXPLICIT}, &l), MT_ERR_INVALID_ARGUMENT,
                 "VALID or SAME");
    assert_fails(mt_conv3d_transpose_load(&kd, "kt0", &(mt_conv3d_transpose_options){
                     .in_channels = 4}, &l), MT_ERR_SHAPE, "expected [kd, kh, kw, out, in]");
    assert_fails(mt_conv3d_transpose_load(&kd, "kt0", &(mt_conv3d_transpose_options){
                     .dilation_w = INT64_MAX / 2 + 1}, &l), MT_ERR_OVERFLOW, "overflows");
    // a Conv3D kernel (kd,kh,kw,in,out) [3,3,3,3,4] read as a transposed
    // one gives 3 out channels: its bias [4] does not fit
    assert_fails(mt_conv3d_transpose_load(&kd, "k0", NULL, &l), MT_ERR_SHAPE, "bias");
    assert_null(l);
    mt_tensor_free(w4);
    mt_tensor_free(b);
    mt_tensor_free(w);
}

static int open_refs(void **state)
{
    (void)state;
    if (mt_safetensors_open(REFS_DIR "/conv3d_torch.safetensors", &torch_refs))
        return -1;
    return mt_safetensors_open(REFS_DIR "/conv3d_keras.safetensors", &keras_refs) ? -1 : 0;
}

static int close_refs(void **state)
{
    (void)state;
    mt_safetensors_close(keras_refs);
    mt_safetensors_close(torch_refs);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_transpose3d_op_matches_pytorch),
        cmocka_unit_test(conv_transpose3d_layer_loads_pytorch),
        cmocka_unit_test(conv_transpose3d_in_chunks),
        cmocka_unit_test(conv_transpose3d_out_of_memory_leaves_out),
        cmocka_unit_test(conv3d_transpose_matches_keras),
        cmocka_unit_test(conv_transpose_activation_matches_keras),
        cmocka_unit_test(adaptive_pools_match_pytorch),
        cmocka_unit_test(encoder_decoder_matches_pytorch),
        cmocka_unit_test(unet_graph_matches_pytorch),
        cmocka_unit_test(encoder_decoder_matches_keras),
        cmocka_unit_test(op_errors),
        cmocka_unit_test(layer_errors),
    };
    return cmocka_run_group_tests(tests, open_refs, close_refs);
}
