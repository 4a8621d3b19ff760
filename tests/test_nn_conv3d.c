/* test_nn_conv3d.c — volumetric layers and ops against PyTorch 1.13
 * (reference/make_conv3d_refs.py -> conv3d_torch.safetensors) and Keras
 * 3.11 (reference/make_keras_conv3d_refs.py -> conv3d_keras.safetensors):
 * conv3d with stride, explicit and SAME padding (Keras' even kernels),
 * dilation, groups; max and average pools with pads, ceil_mode, dilation,
 * count_include_pad; global pools; ZeroPadding3D and Cropping3D from
 * existing layers; a tiny 3-D CNN of each framework end to end; NCDHW and
 * strided inputs and outputs; the patch buffer in several chunks; errors. */
#include "volume_refs.h"

static mt_safetensors *torch_refs, *keras_refs;

/* ---- conv3d against PyTorch ---------------------------------------------------- */

typedef struct torch_conv {
    const char *name, *x;
    mt_conv3d_params p;   /* data_layout, kernel_layout, activation set per run */
} torch_conv;

static const torch_conv torch_convs[] = {
    {"c0", "x", {0}},
    {"c1", "x", {.stride_d = 2, .stride_h = 1, .stride_w = 2, .padding = MT_PADDING_EXPLICIT,
                 .pad_front = 1, .pad_back = 1, .pad_left = 2, .pad_right = 2}},
    {"c2", "x", {.dilation_d = 2, .dilation_w = 2, .padding = MT_PADDING_EXPLICIT,
                 .pad_front = 2, .pad_back = 2, .pad_top = 2, .pad_bottom = 2,
                 .pad_left = 2, .pad_right = 2}},
    {"c3", "x4", {.groups = 2, .stride_d = 2, .stride_h = 2, .stride_w = 2,
                  .padding = MT_PADDING_EXPLICIT, .pad_front = 1, .pad_back = 1,
                  .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1}},
    {"c4", "x4", {.groups = 4, .padding = MT_PADDING_SAME}},
    {"c5", "x", {.padding = MT_PADDING_SAME}},   /* even kernel (2,4,3) */
};

static void conv3d_op_matches_pytorch(void **state)
{
    (void)state;
    char key[32];
    for (size_t i = 0; i < sizeof torch_convs / sizeof torch_convs[0]; i++) {
        const torch_conv *c = &torch_convs[i];
        mt_tensor *x = ref_get(torch_refs, c->x), *base, *xv = ndhwc_of(torch_refs, c->x, &base);
        snprintf(key, sizeof key, "%s.weight", c->name);
        mt_tensor *w = ref_get(torch_refs, key), *y = NULL, *yv = NULL;
        snprintf(key, sizeof key, "%s.bias", c->name);
        mt_tensor *b = ref_get_maybe(torch_refs, key);
        snprintf(key, sizeof key, "%s.y", c->name);
        mt_conv3d_params p = c->p;
        p.kernel_layout = MT_KERNEL_OIHW;
        // PyTorch's own layout, contiguous
        p.data_layout = MT_DATA_LAYOUT_NCHW;
        assert_ok(mt_conv3d(x, w, b, &p, &y));
        matches(torch_refs, y, key);
        // channels last, from a permuted (strided) view of the same input
        p.data_layout = MT_DATA_LAYOUT_NHWC;
        mt_tensor *z = NULL;
        assert_ok(mt_conv3d(xv, w, b, &p, &z));
        assert_ok(mt_permute(z, to_ncdhw, &yv));
        matches(torch_refs, yv, key);
        // into an NCDHW tensor seen channels last: strides that cannot hold
        // the GEMM's rows
        mt_tensor *out = NULL, *outv = NULL;
        assert_ok(mt_tensor_full(5, y->shape, 1e9f, &out));
        assert_ok(mt_permute(out, to_ndhwc, &outv));
        assert_ok(mt_conv3d_into(xv, w, b, &p, outv));
        matches(torch_refs, out, key);
        mt_tensor_free(outv);
        mt_tensor_free(out);
        mt_tensor_free(yv);
        mt_tensor_free(z);
        mt_tensor_free(y);
        mt_tensor_free(b);
        mt_tensor_free(w);
        mt_tensor_free(xv);
        mt_tensor_free(base);
        mt_tensor_free(x);
    }
}

/* The same convs as layers built by mt_conv3d_load from PyTorch's names,
 * run on channels-last views. */
static void conv3d_layer_loads_pytorch(void **state)
{
    (void)state;
    mt_state_dict sd = {torch_refs, MT_FRAMEWORK_PYTORCH};
    char key[32];
    for (size_t i = 0; i < sizeof torch_convs / sizeof torch_convs[0]; i++) {
        const torch_conv *c = &torch_convs[i];
        const mt_conv3d_params *p = &c->p;
        mt_conv3d_options o = {
            .stride_d = p->stride_d, .stride_h = p->stride_h, .stride_w = p->stride_w,
            .padding = p->padding, .pad_front = p->pad_front, .pad_back = p->pad_back,
            .pad_top = p->pad_top, .pad_bottom = p->pad_bottom, .pad_left = p->pad_left,
            .pad_right = p->pad_right, .dilation_d = p->dilation_d,
            .dilation_h = p->dilation_h, .dilation_w = p->dilation_w, .groups = p->groups};
        mt_layer *l = NULL;
        assert_ok(mt_conv3d_load(&sd, c->name, &o, &l));
        mt_tensor *base, *xv = ndhwc_of(torch_refs, c->x, &base), *y = NULL, *yv = NULL;
        assert_ok(mt_layer_forward(l, xv, &y));
        assert_ok(mt_permute(y, to_ncdhw, &yv));
        snprintf(key, sizeof key, "%s.y", c->name);
        matches(torch_refs, yv, key);
        mt_tensor_free(yv);
        mt_tensor_free(y);
        mt_tensor_free(xv);
        mt_tensor_free(base);
        mt_layer_free(l);
    }
}

/* ---- conv3d against Keras -------------------------------------------------------- */

static void keras_layer(mt_layer *l, const char *x, const char *want)
{
    mt_tensor *in = ref_get(keras_refs, x), *y = NULL;
    assert_ok(mt_layer_forward(l, in, &y));
    matches(keras_refs, y, want);
    mt_tensor_free(y);
    mt_tensor_free(in);
    mt_layer_free(l);
}

static void conv3d_matches_keras(void **state)
{
    (void)state;
    mt_state_dict sd = {keras_refs, MT_FRAMEWORK_KERAS};
    mt_layer *l = NULL;
    assert_ok(mt_conv3d_load(&sd, "k0", NULL, &l));
    keras_layer(l, "x", "y_k0");
    assert_ok(mt_conv3d_load(&sd, "k1", &(mt_conv3d_options){.stride_d = 2, .stride_w = 2,
                                                             .padding = MT_PADDING_SAME}, &l));
    keras_layer(l, "x", "y_k1");
    assert_ok(mt_conv3d_load(&sd, "k2", &(mt_conv3d_options){.padding = MT_PADDING_SAME,
                                                             .dilation_d = 2, .dilation_w = 2,
                                                             .act = MT_ACTIVATION_RELU}, &l));
    keras_layer(l, "x", "y_k2");
    assert_ok(mt_conv3d_load(&sd, "k3", &(mt_conv3d_options){.padding = MT_PADDING_SAME,
                                                             .groups = 3}, &l));
    keras_layer(l, "x", "y_k3");
    // the op itself, the DHWIO kernel found by AUTO (the bias rules OIDHW out)
    mt_tensor *x = ref_get(keras_refs, "x"), *k = ref_get(keras_refs, "k1/kernel");
    mt_tensor *b = ref_get(keras_refs, "k1/bias"), *y = NULL;
    assert_ok(mt_conv3d(x, k, b, &(mt_conv3d_params){.stride_d = 2, .stride_w = 2,
                                                     .padding = MT_PADDING_SAME}, &y));
    matches(keras_refs, y, "y_k1");
    mt_tensor_free(y);
    mt_tensor_free(b);
    mt_tensor_free(k);
    // k0's DHWIO kernel permuted to an OIDHW view (strided: copied once)
    mt_tensor *kv = NULL;
    k = ref_get(keras_refs, "k0/kernel");
    b = ref_get(keras_refs, "k0/bias");
    assert_ok(mt_permute(k, (const int[]){4, 3, 0, 1, 2}, &kv));
    assert_false(mt_tensor_is_contiguous(kv));
    assert_ok(mt_conv3d(x, kv, b, &(mt_conv3d_params){.kernel_layout = MT_KERNEL_OIHW}, &y));
    matches(keras_refs, y, "y_k0");
    mt_tensor_free(y);
    mt_tensor_free(kv);
    mt_tensor_free(b);
    mt_tensor_free(k);
    mt_tensor_free(x);
}

/* ---- pools ---------------------------------------------------------------------------- */

static void pools_match_pytorch(void **state)
{
    (void)state;
    struct {
        const char *name;
        bool avg;
        mt_pool3d_params p;     /* the op's */
        mt_pool3d_options o;    /* the layer's */
    } cases[] = {
        {"mp0.y", false, {.pool_d = 2, .pool_h = 2, .pool_w = 2},
         {.pool_d = 2, .pool_h = 2, .pool_w = 2}},
        {"mp1.y", false,
         {.pool_d = 3, .pool_h = 2, .pool_w = 3, .stride_d = 2, .stride_h = 1, .stride_w = 2,
          .padding = MT_PADDING_EXPLICIT, .pad_front = 1, .pad_back = 1, .pad_top = 1,
          .pad_bottom = 1, .pad_left = 1, .pad_right = 1, .ceil_mode = true},
         {.pool_d = 3, .pool_h = 2, .pool_w = 3, .stride_d = 2, .stride_h = 1, .stride_w = 2,
          .pad_d = 1, .pad_h = 1, .pad_w = 1, .ceil_mode = true}},
        {"mp2.y", false,
         {.pool_d = 3, .pool_h = 3, .pool_w = 3, .stride_d = 2, .stride_h = 2, .stride_w = 2,
          .padding = MT_PADDING_EXPLICIT, .pad_front = 1, .pad_back = 1, .pad_top = 1,
          .pad_bottom = 1, .pad_left = 1, .pad_right = 1, .dilation_d = 2},
         {.pool_d = 3, .pool_h = 3, .pool_w = 3, .stride_d = 2, .stride_h = 2, .stride_w = 2,
          .pad_d = 1, .pad_h = 1, .pad_w = 1, .dilation_d = 2}},
        {"ap0.y", true, {.pool_d = 2, .pool_h = 2, .pool_w = 2},
         {.pool_d = 2, .pool_h = 2, .pool_w = 2}},
        {"ap1.y", true,
         {.pool_d = 3, .pool_h = 3, .pool_w = 3, .stride_d = 2, .stride_h = 2, .stride_w = 2,
          .padding = MT_PADDING_EXPLICIT, .pad_front = 1, .pad_back = 1, .pad_top = 1,
          .pad_bottom = 1, .pad_left = 1, .pad_right = 1, .ceil_mode = true,
          .count_include_pad = true},
         {.pool_d = 3, .pool_h = 3, .pool_w = 3, .stride_d = 2, .stride_h = 2, .stride_w = 2,
          .pad_d = 1, .pad_h = 1, .pad_w = 1, .ceil_mode = true, .count_include_pad = true}},
        {"ap2.y", true,
         {.pool_d = 2, .pool_h = 3, .pool_w = 3, .stride_d = 1, .stride_h = 2, .stride_w = 2,
          .padding = MT_PADDING_EXPLICIT, .pad_front = 1, .pad_back = 1, .pad_top = 1,
          .pad_bottom = 1, .ceil_mode = true},
         {.pool_d = 2, .pool_h = 3, .pool_w = 3, .stride_d = 1, .stride_h = 2, .stride_w = 2,
          .pad_d = 1, .pad_h = 1, .ceil_mode = true}},
    };
    mt_tensor *x = ref_get(torch_refs, "x"), *base, *xv = ndhwc_of(torch_refs, "x", &base);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mt_pool3d_params p = cases[i].p;
        mt_tensor *y = NULL, *z = NULL, *zv = NULL;
        p.data_layout = MT_DATA_LAYOUT_NCHW;
        assert_ok(cases[i].avg ? mt_avg_pool3d(x, &p, &y) : mt_max_pool3d(x, &p, &y));
        matches(torch_refs, y, cases[i].name);
        mt_layer *l = NULL;
        assert_ok(cases[i].avg ? mt_avg_pool3d_new(&cases[i].o, &l)
                               : mt_max_pool3d_new(&cases[i].o, &l));
        assert_ok(mt_layer_forward(l, xv, &z));
        assert_ok(mt_permute(z, to_ncdhw, &zv));
        matches(torch_refs, zv, cases[i].name);
        mt_layer_free(l);
        mt_tensor_free(zv);
        mt_tensor_free(z);
        mt_tensor_free(y);
    }
    // NaN wins a max, as in PyTorch; -inf stays
    const float v[4] = {1.0f, NAN, -INFINITY, -INFINITY};
    mt_tensor *t = NULL, *m = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 5, (const int64_t[]){1, 1, 2, 2, 1}, v, &t));
    assert_ok(mt_max_pool3d(t, &(mt_pool3d_params){.pool_d = 1, .pool_h = 1, .pool_w = 2},
                            &m));
    assert_true(isnan(((float *)m->data)[0]));
    assert_true(((float *)m->data)[1] == -INFINITY);
    mt_tensor_free(m);
    mt_tensor_free(t);
    mt_layer *l = NULL;
    mt_tensor *y = NULL;
    assert_ok(mt_global_avg_pool3d_new(&l));
    assert_ok(mt_layer_forward(l, xv, &y));
    matches(torch_refs, y, "gap.y");
    mt_tensor_free(y);
    mt_layer_free(l);
    assert_ok(mt_global_max_pool3d_new(&l));
    assert_ok(mt_layer_forward(l, xv, &y));
    matches(torch_refs, y, "gmp.y");
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(xv);
    mt_tensor_free(base);
    mt_tensor_free(x);
}

static void pools_match_keras(void **state)
{
    (void)state;
    mt_layer *l = NULL;
    assert_ok(mt_max_pool3d_new(&(mt_pool3d_options){.pool_d = 2, .pool_h = 2, .pool_w = 2},
                                &l));
    keras_layer(l, "x", "y_mp0");
    assert_ok(mt_max_pool3d_new(&(mt_pool3d_options){.pool_d = 2, .pool_h = 3, .pool_w = 2,
                                                     .stride_d = 1, .stride_h = 2,
                                                     .stride_w = 2,
                                                     .padding = MT_PADDING_SAME}, &l));
    keras_layer(l, "x", "y_mp1");
    assert_ok(mt_avg_pool3d_new(&(mt_pool3d_options){.pool_d = 2, .pool_h = 2, .pool_w = 2},
                                &l));
    keras_layer(l, "x", "y_ap0");
    // SAME: the padded positions do not count (Keras)
    assert_ok(mt_avg_pool3d_new(&(mt_pool3d_options){.pool_d = 3, .pool_h = 3, .pool_w = 3,
                                                     .stride_d = 2, .stride_h = 2,
                                                     .stride_w = 2,
                                                     .padding = MT_PADDING_SAME}, &l));
    keras_layer(l, "x", "y_ap1");
    assert_ok(mt_global_avg_pool3d_new(&l));
    keras_layer(l, "x", "y_gap");
    assert_ok(mt_global_max_pool3d_new(&l));
    keras_layer(l, "x", "y_gmp");
    // ZeroPadding3D(((1,0),(0,2),(1,1))): a Pad, pairs from the last dim
    assert_ok(mt_pad_new(8, (const int64_t[]){0, 0, 1, 1, 0, 2, 1, 0}, MT_PAD_CONSTANT, 0.0f,
                         &l));
    keras_layer(l, "x", "y_zp");
    // Cropping3D(((1,0),(0,2),(1,1))): a Narrow per axis of x [2,5,6,7,3]
    mt_sequential *m = NULL;
    assert_ok(mt_sequential_new(4, (const int64_t[]){5, 6, 7, 3}, &m));
    assert_ok(mt_narrow_new(1, 1, 4, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_narrow_new(2, 0, 4, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_narrow_new(3, 1, 5, &l));
    assert_ok(mt_sequential_add(m, l));
    mt_tensor *x = ref_get(keras_refs, "x");
    const mt_tensor *y;
    assert_ok(mt_sequential_forward(m, x, &y));
    matches(keras_refs, y, "y_crop");
    mt_sequential_free(m);
    // … or one Pad with the pads negated
    assert_ok(mt_pad_new(8, (const int64_t[]){0, 0, -1, -1, 0, -2, -1, 0}, MT_PAD_CONSTANT,
                         0.0f, &l));
    keras_layer(l, "x", "y_crop");
    mt_tensor_free(x);
    // UpSampling3D((2,3,2)) on [2,2,3,3,3]: nearest 2-D upsampling twice,
    // over (D, H·W) and then over (D·2·H, W), between reshapes
    assert_ok(mt_sequential_new(4, (const int64_t[]){2, 3, 3, 3}, &m));
    add(m, mt_reshape_new(3, (const int64_t[]){2, 9, 3}, &l), &l);
    add(m, mt_upsample_new(&(mt_interpolate_params){.scale_h = 2, .scale_w = 1}, &l), &l);
    add(m, mt_reshape_new(3, (const int64_t[]){12, 3, 3}, &l), &l);
    add(m, mt_upsample_new(&(mt_interpolate_params){.scale_h = 3, .scale_w = 2}, &l), &l);
    add(m, mt_reshape_new(4, (const int64_t[]){4, 9, 6, 3}, &l), &l);
    x = ref_get(keras_refs, "xs");
    assert_ok(mt_sequential_forward(m, x, &y));
    matches(keras_refs, y, "y_up");
    mt_tensor_free(x);
    mt_sequential_free(m);
}

/* ---- whole models ---------------------------------------------------------------------- */


/* Conv3d-ReLU-MaxPool3d-Conv3d-AdaptiveAvgPool3d(1)-Flatten-Linear from
 * its state_dict, on a channels-last view of PyTorch's input (the model
 * folds the ReLU into the first conv's GEMM: conv3d_absorb). */
static void tiny_cnn_matches_pytorch(void **state)
{
    (void)state;
    mt_state_dict sd = {torch_refs, MT_FRAMEWORK_PYTORCH};
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_sequential_new(4, (const int64_t[]){6, 8, 8, 2}, &m));
    add(m, mt_conv3d_load(&sd, "cnn.0", &(mt_conv3d_options){
            .padding = MT_PADDING_EXPLICIT, .pad_front = 1, .pad_back = 1, .pad_top = 1,
            .pad_bottom = 1, .pad_left = 1, .pad_right = 1}, &l), &l);
    add(m, mt_relu_new(&l), &l);
    add(m, mt_max_pool3d_new(&(mt_pool3d_options){.pool_d = 2, .pool_h = 2, .pool_w = 2},
                             &l), &l);
    add(m, mt_conv3d_load(&sd, "cnn.3", NULL, &l), &l);
    add(m, mt_global_avg_pool3d_new(&l), &l);
    add(m, mt_linear_load(&sd, "cnn.6", NULL, &l), &l);
    mt_tensor *base, *xv = ndhwc_of(torch_refs, "xc", &base);
    const mt_tensor *y;
    assert_ok(mt_sequential_forward(m, xv, &y));
    matches(torch_refs, y, "cnn.y");
    assert_ok(mt_sequential_forward(m, xv, &y));   /* again, from the planned workspace */
    matches(torch_refs, y, "cnn.y");
    mt_tensor_free(xv);
    mt_tensor_free(base);
    mt_sequential_free(m);
}

static void tiny_cnn_matches_keras(void **state)
{
    (void)state;
    mt_state_dict sd = {keras_refs, MT_FRAMEWORK_KERAS};
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_sequential_new(4, (const int64_t[]){6, 8, 8, 2}, &m));
    add(m, mt_conv3d_load(&sd, "m3d/c1", &(mt_conv3d_options){
            .padding = MT_PADDING_SAME, .act = MT_ACTIVATION_RELU}, &l), &l);
    add(m, mt_max_pool3d_new(&(mt_pool3d_options){.pool_d = 2, .pool_h = 2, .pool_w = 2},
                             &l), &l);
    add(m, mt_conv3d_load(&sd, "m3d/c2", NULL, &l), &l);
    add(m, mt_global_avg_pool3d_new(&l), &l);
    add(m, mt_linear_load(&sd, "m3d/head", NULL, &l), &l);
    mt_tensor *x = ref_get(keras_refs, "xm");
    const mt_tensor *y;
    assert_ok(mt_sequential_forward(m, x, &y));
    matches(keras_refs, y, "y_m3d");
    mt_tensor_free(x);
    mt_sequential_free(m);
}

/* Conv3d-BatchNorm3d-ReLU of each framework: the model folds the norm
 * into the conv's kernel and bias (OIDHW and DHWIO) and the ReLU into its
 * GEMM. */
static void conv_batch_norm_relu(void **state)
{
    (void)state;
    mt_state_dict td = {torch_refs, MT_FRAMEWORK_PYTORCH};
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_sequential_new(4, (const int64_t[]){5, 6, 7, 3}, &m));
    add(m, mt_conv3d_load(&td, "bn.0", &(mt_conv3d_options){
            .padding = MT_PADDING_EXPLICIT, .pad_front = 1, .pad_back = 1, .pad_top = 1,
            .pad_bottom = 1, .pad_left = 1, .pad_right = 1}, &l), &l);
    add(m, mt_batch_norm_load(&td, "bn.1", NULL, &l), &l);
    add(m, mt_relu_new(&l), &l);
    mt_tensor *base, *xv = ndhwc_of(torch_refs, "x", &base), *yv = NULL;
    const mt_tensor *y;
    assert_ok(mt_sequential_forward(m, xv, &y));
    assert_ok(mt_permute(y, to_ncdhw, &yv));
    matches(torch_refs, yv, "bn.y");
    mt_tensor_free(yv);
    mt_tensor_free(xv);
    mt_tensor_free(base);
    mt_sequential_free(m);
    mt_state_dict kd = {keras_refs, MT_FRAMEWORK_KERAS};
    assert_ok(mt_sequential_new(4, (const int64_t[]){2, 3, 3, 3}, &m));
    add(m, mt_conv3d_load(&kd, "bn3d/c", &(mt_conv3d_options){.padding = MT_PADDING_SAME},
                          &l), &l);
    add(m, mt_batch_norm_load(&kd, "bn3d/bn", NULL, &l), &l);
    add(m, mt_relu_new(&l), &l);
    mt_tensor *x = ref_get(keras_refs, "xs");
    assert_ok(mt_sequential_forward(m, x, &y));
    matches(keras_refs, y, "y_bn3d");
    mt_tensor_free(x);
    mt_sequential_free(m);
}

/* Conv3d's padding_mode 'reflect' and 'replicate': a Pad layer on the
 * channels-last volume before a VALID conv (PyTorch's F.pad on NCDHW). */
static void reflect_and_replicate_pads(void **state)
{
    (void)state;
    const int64_t pads[8] = {0, 0, 1, 1, 2, 0, 1, 1};   /* C, W, H, D: the last dim first */
    const mt_pad_mode modes[2] = {MT_PAD_REFLECT, MT_PAD_REPLICATE};
    const char *want[2] = {"padr.y", "padp.y"};
    for (int i = 0; i < 2; i++) {
        mt_layer *l = NULL;
        assert_ok(mt_pad_new(8, pads, modes[i], 0.0f, &l));
        mt_tensor *base, *xv = ndhwc_of(torch_refs, "xp", &base), *y = NULL, *yv = NULL;
        assert_ok(mt_layer_forward(l, xv, &y));
        assert_ok(mt_permute(y, to_ncdhw, &yv));
        matches(torch_refs, yv, want[i]);
        mt_tensor_free(yv);
        mt_tensor_free(y);
        mt_tensor_free(xv);
        mt_tensor_free(base);
        mt_layer_free(l);
    }
}

/* A conv3d of depth-1 kernels is a conv2d of each depth slice: with
 * enough voxels the patches take several chunks (more than 512K floats),
 * checked against mt_conv2d (itself checked against PyTorch). */
static void conv3d_in_chunks_matches_conv2d(void **state)
{
    (void)state;
    const int64_t xs[5] = {2, 4, 24, 24, 16}, ks[5] = {1, 3, 3, 16, 8};
    mt_tensor *x = NULL, *k = NULL, *b = NULL, *y3 = NULL, *y2 = NULL, *x4 = NULL, *k4 = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, xs, &x));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, ks, &k));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (const int64_t[]){8}, &b));
    uint64_t seed = 7;
    float *px = x->data, *pk = k->data, *pb = b->data;
    for (int64_t i = 0; i < mt_tensor_numel(x); i++)
        px[i] = rand_unit(&seed);
    for (int64_t i = 0; i < mt_tensor_numel(k); i++)
        pk[i] = rand_unit(&seed);
    for (int i = 0; i < 8; i++)
        pb[i] = rand_unit(&seed);
    // M = 2·4·22·22 = 3872 voxels of K = 144: 557568 floats of patches
    assert_ok(mt_conv3d(x, k, b, &(mt_conv3d_params){.kernel_layout = MT_KERNEL_HWIO,
                                                     .activation = MT_ACTIVATION_RELU}, &y3));
    assert_ok(mt_view(x, 4, (const int64_t[]){8, 24, 24, 16}, &x4));
    assert_ok(mt_view(k, 4, (const int64_t[]){3, 3, 16, 8}, &k4));
    assert_ok(mt_conv2d(x4, k4, b, &(mt_conv2d_params){.kernel_layout = MT_KERNEL_HWIO,
                                                       .activation = MT_ACTIVATION_RELU}, &y2));
    assert_int_equal(mt_tensor_numel(y3), mt_tensor_numel(y2));
    assert_close((const float *)y3->data, (const float *)y2->data,
                 (size_t)mt_tensor_numel(y2), 1e-5, 1e-5);
    mt_tensor_free(y2);
    mt_tensor_free(k4);
    mt_tensor_free(x4);
    mt_tensor_free(y3);
    mt_tensor_free(b);
    mt_tensor_free(k);
    mt_tensor_free(x);
}

/* The arguments of one conv3d_into under the probe. */
typedef struct conv3d_call {
    const mt_tensor *x, *k, *b;
    mt_conv3d_params p;
} conv3d_call;

static mt_status conv3d_call_run(const void *ctx, mt_tensor *out)
{
    const conv3d_call *c = ctx;
    return mt_conv3d_into(c->x, c->k, c->b, &c->p, out);
}

/* Out of memory at each allocation in turn leaves out as it was: an OIDHW
 * kernel in two groups, a strided bias, a GELU, the patches in two chunks
 * (M = 432 voxels of K = 1728); into a contiguous NDHWC out (rows written
 * directly) and into an NCDHW out seen channels last (voxels of two images
 * do not merge: a temporary copied over). The successful run gives the
 * same values as mt_conv3d, which op_matches_pytorch checks. */
static void conv3d_out_of_memory_leaves_out(void **state)
{
    (void)state;
    const int64_t xs[5] = {2, 8, 8, 8, 128}, ks[5] = {8, 64, 3, 3, 3};
    mt_tensor *x = NULL, *k = NULL, *b2 = NULL, *b = NULL, *want = NULL, *out = NULL,
              *ncdhw = NULL, *view = NULL, *want_ncdhw = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, xs, &x));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, ks, &k));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (const int64_t[]){8, 2}, &b2));
    uint64_t seed = 5;
    float *px = x->data, *pk = k->data, *pb = b2->data;
    for (int64_t i = 0; i < mt_tensor_numel(x); i++)
        px[i] = rand_unit(&seed);
    for (int64_t i = 0; i < mt_tensor_numel(k); i++)
        pk[i] = rand_unit(&seed);
    for (int i = 0; i < 16; i++)
        pb[i] = rand_unit(&seed);
    mt_tensor col;
    assert_ok(mt_narrow_into(b2, 1, 0, 1, &col));
    assert_ok(mt_squeeze(&col, 1, &b));   /* [8], stride 2 */
    conv3d_call c = {x, k, b, {.kernel_layout = MT_KERNEL_OIHW, .groups = 2,
                               .activation = MT_ACTIVATION_GELU}};
    assert_ok(mt_conv3d(x, k, b, &c.p, &want));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, want->shape, &out));
    assert_oom_leaves_out(conv3d_call_run, &c, out, out, want);
    assert_ok(mt_permute(want, to_ncdhw, &view));
    assert_ok(mt_tensor_contiguous(view, &want_ncdhw));
    mt_tensor_free(view);
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, want_ncdhw->shape, &ncdhw));
    assert_ok(mt_permute(ncdhw, to_ndhwc, &view));
    assert_oom_leaves_out(conv3d_call_run, &c, ncdhw, view, want_ncdhw);
    mt_tensor_free(view);
    mt_tensor_free(ncdhw);
    mt_tensor_free(want_ncdhw);
    mt_tensor_free(out);
    mt_tensor_free(want);
    mt_tensor_free(b);
    mt_tensor_free(b2);
    mt_tensor_free(k);
    mt_tensor_free(x);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void op_errors(void **state)
{
    (void)state;
    mt_tensor *x = ref_get(keras_refs, "x"), *k = ref_get(keras_refs, "k0/kernel");
    mt_tensor *b = ref_get(keras_refs, "k0/bias"), *y = NULL, *x4 = NULL, *xi = NULL;
    const mt_conv3d_params p = {.kernel_layout = MT_KERNEL_HWIO};
    assert_fails(mt_conv3d(NULL, k, b, &p, &y), MT_ERR_INVALID_ARGUMENT, "conv3d");
    assert_fails(mt_conv3d(x, NULL, b, &p, &y), MT_ERR_INVALID_ARGUMENT, "conv3d");
    assert_fails(mt_conv3d(x, k, b, NULL, &y), MT_ERR_INVALID_ARGUMENT, "params is NULL");
    assert_fails(mt_conv3d(x, k, b, &p, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_conv3d_into(x, k, b, &p, NULL), MT_ERR_INVALID_ARGUMENT, "conv3d");
    // wrong rank
    assert_ok(mt_view(x, 4, (const int64_t[]){10, 6, 7, 3}, &x4));
    assert_fails(mt_conv3d(x4, k, b, &p, &y), MT_ERR_SHAPE, "[N,D,H,W,C]");
    assert_fails(mt_conv3d(x, x4, b, &p, &y), MT_ERR_SHAPE, "must be 5-D");
    // integer input
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 5, x->shape, &xi));
    assert_fails(mt_conv3d(xi, k, b, &p, &y), MT_ERR_DTYPE, "conv3d");
    // channels: the kernel wants 3, the depthwise k3 kernel [3,3,3,1,6]
    // with groups 1 wants 1
    mt_tensor *k3 = ref_get(keras_refs, "k3/kernel");
    assert_fails(mt_conv3d(x, k3, NULL, &p, &y), MT_ERR_SHAPE, "has 3 channels");
    assert_fails(mt_conv3d(x, k, NULL, &(mt_conv3d_params){.kernel_layout = MT_KERNEL_HWIO,
                                                           .groups = 2}, &y),
                 MT_ERR_SHAPE, "groups 2");
    // a [3,3,3,3,4] kernel with no bias fits DHWIO and not OIDHW (3·groups
    // in, but 4 out): AUTO finds it; a [3,3,3,3,3] one fits both and asks
    mt_tensor *amb = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, (const int64_t[]){3, 3, 3, 3, 3}, &amb));
    assert_fails(mt_conv3d(x, amb, NULL, &(mt_conv3d_params){0}, &y), MT_ERR_SHAPE,
                 "fits both");
    // bias of the wrong size
    assert_fails(mt_conv3d(x, k, k3, &p, &y), MT_ERR_SHAPE, "bias");
    // a kernel larger than the padded input: depth 5 + 0 < 7
    mt_tensor *big = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, (const int64_t[]){7, 1, 1, 3, 2}, &big));
    assert_fails(mt_conv3d(x, big, NULL, &p, &y), MT_ERR_SHAPE, "larger than the depth 5");
    mt_conv3d_params pp = p;
    pp.padding = MT_PADDING_EXPLICIT, pp.pad_front = 1, pp.pad_back = 1;
    assert_ok(mt_conv3d(x, big, NULL, &pp, &y));   // 5 + 2 fits once
    assert_int_equal(y->shape[1], 1);
    mt_tensor_free(y);
    y = NULL;
    // sizes that overflow
    pp.pad_front = INT64_MAX - 2;
    assert_fails(mt_conv3d(x, k, b, &pp, &y), MT_ERR_OVERFLOW, "depth");
    assert_fails(mt_conv3d(x, k, b, &(mt_conv3d_params){.kernel_layout = MT_KERNEL_HWIO,
                                                        .dilation_w = INT64_MAX / 2 + 1}, &y),
                 MT_ERR_OVERFLOW, "width");
    assert_fails(mt_conv3d(x, k, b, &(mt_conv3d_params){.kernel_layout = MT_KERNEL_HWIO,
                                                        .stride_h = -1}, &y),
                 MT_ERR_INVALID_ARGUMENT, "negative");
    assert_null(y);
    // _into: a wrong out shape, an out overlapping the input; out untouched
    mt_tensor *out = NULL;
    assert_ok(mt_tensor_full(5, (const int64_t[]){2, 3, 4, 5, 3}, 7.0f, &out));
    assert_fails(mt_conv3d_into(x, k, b, &p, out), MT_ERR_SHAPE, "out is [2,3,4,5,3]");
    for (int64_t i = 0; i < mt_tensor_numel(out); i++)
        assert_true(((float *)out->data)[i] == 7.0f);
    mt_tensor *alias = NULL;
    assert_ok(mt_view(x, 5, (const int64_t[]){2, 5, 6, 7, 3}, &alias));
    assert_fails(mt_conv3d_into(x, amb, NULL, &(mt_conv3d_params){
                     .kernel_layout = MT_KERNEL_HWIO, .padding = MT_PADDING_SAME}, alias),
                 MT_ERR_INVALID_ARGUMENT, "overlaps");
    // pools
    const mt_pool3d_params pool = {.pool_d = 2, .pool_h = 2, .pool_w = 2};
    assert_fails(mt_max_pool3d(NULL, &pool, &y), MT_ERR_INVALID_ARGUMENT, "max_pool3d");
    assert_fails(mt_max_pool3d(x, NULL, &y), MT_ERR_INVALID_ARGUMENT, "params is NULL");
    assert_fails(mt_avg_pool3d(x, &pool, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_max_pool3d(x4, &pool, &y), MT_ERR_SHAPE, "5 dims");
    assert_fails(mt_avg_pool3d(xi, &pool, &y), MT_ERR_DTYPE, "avg_pool3d");
    assert_fails(mt_max_pool3d(x, &(mt_pool3d_params){.pool_d = 6, .pool_h = 1, .pool_w = 1},
                               &y), MT_ERR_SHAPE, "larger than the depth 5");
    assert_fails(mt_max_pool3d(x, &(mt_pool3d_params){.pool_d = 2, .pool_h = 2, .pool_w = 2,
                                                      .padding = MT_PADDING_EXPLICIT,
                                                      .pad_top = 2}, &y),
                 MT_ERR_INVALID_ARGUMENT, "half the window");
    assert_fails(mt_avg_pool3d(x, &(mt_pool3d_params){.pool_d = 2, .pool_h = 2, .pool_w = 2,
                                                      .dilation_h = 2}, &y),
                 MT_ERR_INVALID_ARGUMENT, "average");
    assert_fails(mt_max_pool3d(x, &(mt_pool3d_params){.pool_d = 0, .pool_h = 2, .pool_w = 2},
                               &y), MT_ERR_INVALID_ARGUMENT, "depth");
    assert_fails(mt_max_pool3d(x, &(mt_pool3d_params){.pool_d = 2, .pool_h = 2, .pool_w = 2,
                                                      .stride_w = INT64_MAX,
                                                      .dilation_w = INT64_MAX}, &y),
                 MT_ERR_OVERFLOW, "width");
    assert_fails(mt_max_pool3d_into(x, &pool, out), MT_ERR_SHAPE, "out is");
    assert_fails(mt_max_pool3d_into(x, &(mt_pool3d_params){.pool_d = 1, .pool_h = 1,
                                                           .pool_w = 1}, alias),
                 MT_ERR_INVALID_ARGUMENT, "overlaps");
    for (int64_t i = 0; i < mt_tensor_numel(out); i++)
        assert_true(((float *)out->data)[i] == 7.0f);
    assert_null(y);
    mt_tensor_free(alias);
    mt_tensor_free(out);
    mt_tensor_free(big);
    mt_tensor_free(amb);
    mt_tensor_free(k3);
    mt_tensor_free(xi);
    mt_tensor_free(x4);
    mt_tensor_free(b);
    mt_tensor_free(k);
    mt_tensor_free(x);
}

static void layer_errors(void **state)
{
    (void)state;
    mt_tensor *k = ref_get(keras_refs, "k0/kernel"), *b = ref_get(keras_refs, "k2/bias");
    mt_tensor *k4 = NULL;
    mt_layer *l = NULL;
    assert_fails(mt_conv3d_new(NULL, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT, "kernel is NULL");
    assert_fails(mt_conv3d_new(k, NULL, NULL, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_ok(mt_view(k, 4, (const int64_t[]){9, 3, 3, 4}, &k4));
    assert_fails(mt_conv3d_new(k4, NULL, NULL, &l), MT_ERR_SHAPE, "expected 5 dims");
    assert_fails(mt_conv3d_new(k, b, NULL, &l), MT_ERR_SHAPE, "expected [4]");
    assert_fails(mt_conv3d_new(k, NULL, &(mt_conv3d_options){.in_channels = 4}, &l),
                 MT_ERR_SHAPE, "does not fit");
    assert_fails(mt_conv3d_new(k, NULL, &(mt_conv3d_options){.pad_top = 1}, &l),
                 MT_ERR_INVALID_ARGUMENT, "MT_PADDING_EXPLICIT");
    assert_fails(mt_conv3d_new(k, NULL, &(mt_conv3d_options){.stride_d = -1}, &l),
                 MT_ERR_INVALID_ARGUMENT, "negative");
    assert_null(l);
    // the input is checked when the layer is added: channels, rank, size
    mt_sequential *m = NULL;
    assert_ok(mt_sequential_new(4, (const int64_t[]){5, 6, 7, 4}, &m));
    assert_ok(mt_conv3d_new(k, NULL, NULL, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE, "expects 3 input channels");
    mt_sequential_free(m);
    assert_ok(mt_sequential_new(4, (const int64_t[]){2, 6, 7, 3}, &m));
    assert_ok(mt_conv3d_new(k, NULL, NULL, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE, "does not fit the 2x6x7 volume");
    mt_sequential_free(m);
    assert_ok(mt_sequential_new(3, (const int64_t[]){6, 7, 3}, &m));
    assert_ok(mt_max_pool3d_new(&(mt_pool3d_options){.pool_d = 2, .pool_h = 2, .pool_w = 2},
                                &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE, "[N,D,H,W,C]");
    assert_ok(mt_global_avg_pool3d_new(&l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE, "[N,D,H,W,C]");
    mt_sequential_free(m);
    // pool options
    assert_fails(mt_max_pool3d_new(NULL, &l), MT_ERR_INVALID_ARGUMENT, "options is NULL");
    assert_fails(mt_avg_pool3d_new(&(mt_pool3d_options){.pool_d = 2, .pool_h = 2, .pool_w = 2,
                                                        .pad_w = 2}, &l),
                 MT_ERR_INVALID_ARGUMENT, "half the window");
    assert_fails(mt_avg_pool3d_new(&(mt_pool3d_options){.pool_d = 2, .pool_h = 2, .pool_w = 2,
                                                        .dilation_d = 2}, &l),
                 MT_ERR_INVALID_ARGUMENT, "dilation");
    assert_fails(mt_global_max_pool3d_new(NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    // loaders: a missing tensor, an integer one, a NULL argument
    mt_state_dict sd = {keras_refs, MT_FRAMEWORK_KERAS};
    assert_fails(mt_conv3d_load(&sd, "nope", NULL, &l), MT_ERR_NOT_FOUND, "nope/kernel");
    assert_fails(mt_conv3d_load(NULL, "k0", NULL, &l), MT_ERR_INVALID_ARGUMENT, "conv3d_load");
    assert_fails(mt_conv3d_load(&sd, "k0", NULL, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    mt_state_dict td = {torch_refs, MT_FRAMEWORK_PYTORCH};
    // the Linear's 2-D weight is no conv3d kernel
    assert_fails(mt_conv3d_load(&td, "cnn.6", NULL, &l), MT_ERR_SHAPE, "expected 5 dims");
    assert_null(l);
    mt_tensor_free(k4);
    mt_tensor_free(b);
    mt_tensor_free(k);
}

/* mt_conv3d_load finds Keras 2's "p/kernel:0" names, and refuses
 * integer (quantized) and non-finite weights, naming them. */
static void loader_names_and_bad_weights(void **state)
{
    (void)state;
    mt_tensor *k = ref_get(keras_refs, "k0/kernel"), *b = ref_get(keras_refs, "k0/bias");
    mt_tensor *q = NULL, *bad = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 5, k->shape, &q));
    assert_ok(mt_tensor_contiguous(k, &bad));
    ((float *)bad->data)[5] = NAN;
    const mt_safetensors_item items[] = {
        {"c/kernel:0", 10, k}, {"c/bias:0", 8, b}, {"q/kernel", 8, q}, {"nan/kernel", 10, bad}};
    void *buf = NULL;
    size_t size = 0;
    assert_ok(mt_safetensors_serialize(items, 4, NULL, 0, &buf, &size));
    mt_safetensors *file = NULL;
    assert_ok(mt_safetensors_open_memory(buf, size, &file));
    mt_state_dict sd = {file, MT_FRAMEWORK_KERAS};
    mt_layer *l = NULL;
    assert_ok(mt_conv3d_load(&sd, "c", NULL, &l));
    keras_layer(l, "x", "y_k0");
    assert_fails(mt_conv3d_load(&sd, "q", NULL, &l), MT_ERR_DTYPE, "q/kernel is I32");
    assert_fails(mt_conv3d_load(&sd, "nan", NULL, &l), MT_ERR_FORMAT, "nan/kernel");
    assert_null(l);
    mt_safetensors_close(file);
    mt_safetensors_buffer_free(buf);
    mt_tensor_free(bad);
    mt_tensor_free(q);
    mt_tensor_free(b);
    mt_tensor_free(k);
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

/* An expanded out (stride 0 over the batch: both results would land in one
 * place, the last one winning) is refused by conv3d and the 3-D pools, as
 * by the ops that use mt_check_out; out is untouched. */
static void broadcast_out_refused(void **state)
{
    (void)state;
    float xd[16], kd[8], od = 42.0f;
    for (int i = 0; i < 16; i++)
        xd[i] = (float)i;
    for (int i = 0; i < 8; i++)
        kd[i] = 1.0f;
    mt_tensor x, k;
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 5, (int64_t[]){2, 2, 2, 2, 1}, xd, &x));
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 5, (int64_t[]){2, 2, 2, 1, 1}, kd, &k));
    mt_tensor o = {.dtype = MT_DTYPE_F32, .rank = 5, .shape = {2, 1, 1, 1, 1}, .data = &od};
    const mt_pool3d_params pp = {.pool_d = 2, .pool_h = 2, .pool_w = 2};
    assert_fails(mt_conv3d_into(&x, &k, NULL, &(mt_conv3d_params){0}, &o),
                 MT_ERR_INVALID_ARGUMENT, "conv3d: out [2,1,1,1,1] has stride 0 in dim 0");
    assert_fails(mt_max_pool3d_into(&x, &pp, &o), MT_ERR_INVALID_ARGUMENT,
                 "max_pool3d: out [2,1,1,1,1] has stride 0 in dim 0");
    assert_fails(mt_avg_pool3d_into(&x, &pp, &o), MT_ERR_INVALID_ARGUMENT,
                 "avg_pool3d: out [2,1,1,1,1] has stride 0 in dim 0");
    assert_fails(mt_adaptive_avg_pool3d_into(&x, 1, 1, 1, MT_DATA_LAYOUT_NHWC, &o), MT_ERR_INVALID_ARGUMENT,
                 "adaptive_avg_pool3d: out [2,1,1,1,1] has stride 0 in dim 0");
    assert_fails(mt_adaptive_max_pool3d_into(&x, 1, 1, 1, MT_DATA_LAYOUT_NHWC, &o), MT_ERR_INVALID_ARGUMENT,
                 "adaptive_max_pool3d: out [2,1,1,1,1] has stride 0 in dim 0");
    // a 1x1x1 transposed conv gives x's shape: an out that is one float
    mt_tensor w, big = {.dtype = MT_DTYPE_F32, .rank = 5, .shape = {2, 2, 2, 2, 1},
                        .data = &od};
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 5, (int64_t[]){1, 1, 1, 1, 1}, kd, &w));
    assert_fails(mt_conv_transpose3d_into(&x, &w, NULL, &(mt_conv_transpose3d_params){0},
                                          &big),
                 MT_ERR_INVALID_ARGUMENT, "conv_transpose3d: out [2,2,2,2,1] has stride 0");
    assert_true(od == 42.0f);
    // a stride-0 dim of size 1 is no overlap: the conv's sum over x[1] is 92
    o.shape[0] = 1;
    mt_tensor x1;
    assert_ok(mt_narrow_into(&x, 0, 1, 1, &x1));
    assert_ok(mt_conv3d_into(&x1, &k, NULL, &(mt_conv3d_params){0}, &o));
    assert_true(od == 92.0f);
}

/* groups near INT64_MAX over an input of 0 channels (which groups divides):
 * the channel check multiplied kernel channels by groups, a signed
 * overflow (UBSan) and a message expecting -9223372036854775808 channels. */
static void huge_groups_no_channels(void **state)
{
    (void)state;
    float d[8] = {0};
    mt_tensor x, k, *y = NULL;
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 5, (int64_t[]){1, 2, 2, 2, 0}, d, &x));
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 5, (int64_t[]){1, 1, 1, 2, 4}, d, &k));
    const int64_t g = INT64_MAX / 2 + 1;
    assert_fails(mt_conv3d(&x, &k, NULL, &(mt_conv3d_params){.kernel_layout = MT_KERNEL_HWIO,
                                                              .groups = g}, &y),
                 MT_ERR_SHAPE, "conv3d: input [1,2,2,2,0] has 0 channels, kernel [1,1,1,2,4] "
                 "(DHWIO (kd,kh,kw,in/groups,out)) expects 2 per group (groups "
                 "4611686018427387904)");
    assert_fails(mt_conv3d(&x, &k, NULL, &(mt_conv3d_params){.groups = INT64_MAX}, &y),
                 MT_ERR_SHAPE, "fits neither");
    assert_null(y);
    // the layer: a broadcast DHWIO kernel claiming 2^62 outputs over groups
    // 2^62 made its input channels 2 · 2^62 (UBSan), then failed in
    // tensor_contiguous
    float one = 1.0f;
    mt_tensor kb = {.dtype = MT_DTYPE_F32, .rank = 5, .shape = {1, 1, 1, 2, (int64_t)1 << 61},
                    .data = &one};
    mt_layer *l = (mt_layer *)&l;
    assert_fails(mt_conv3d_new(&kb, NULL, &(mt_conv3d_options){.groups = (int64_t)1 << 62}, &l),
                 MT_ERR_SHAPE, "conv3d: kernel [1,1,1,2,2305843009213693952] does not fit");
    assert_null(l);
    // 2^62 outputs: 2^63 elements, which no tensor can hold
    kb.shape[4] = (int64_t)1 << 62;
    assert_fails(mt_conv3d_new(&kb, NULL, &(mt_conv3d_options){.groups = (int64_t)1 << 62}, &l),
                 MT_ERR_INVALID_ARGUMENT, "conv3d: kernel [1,1,1,2,4611686018427387904] has "
                 "a negative dim or too many elements");
}

/* PyTorch's ceil_mode keeps a window that is wider than the padded input
 * by less than a stride (PyTorch 1.13: max_pool3d(arange(20.).reshape(1,
 * 1,1,4,5) - 7, (2,1,3), (3,1,1), (0,0,1), ceil_mode=True) is [1,1,1,4,5]:
 * depth 1 under a window of 2; a 2x2x2 volume under 3x3x3 / 2 gives its
 * max); the average as PyTorch's 2-D one (avg_pool2d(arange(4.).reshape(1,
 * 1,2,2), 3, 2, ceil_mode=True) = 1.5). The op and the layers; a window
 * a whole stride too wide is still refused, as by PyTorch. */
static void ceil_mode_window_wider_than_input(void **state)
{
    (void)state;
    float xd[20], want[20] = {-6, -5, -4, -3, -3, -1, 0, 1, 2, 2, 4, 5, 6, 7, 7, 9, 10, 11, 12, 12};
    for (int i = 0; i < 20; i++)
        xd[i] = (float)i - 7.0f;
    mt_tensor x, *y = NULL;
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 5, (int64_t[]){1, 1, 4, 5, 1}, xd, &x));
    const mt_pool3d_params p = {.pool_d = 2, .pool_h = 1, .pool_w = 3, .stride_d = 3,
                                .stride_h = 1, .stride_w = 1, .padding = MT_PADDING_EXPLICIT,
                                .pad_left = 1, .pad_right = 1, .ceil_mode = true};
    assert_ok(mt_max_pool3d(&x, &p, &y));
    assert_int_equal(mt_tensor_numel(y), 20);
    assert_close((const float *)y->data, want, 20, 0, 0);
    mt_tensor_free(y);
    mt_layer *l;
    assert_ok(mt_max_pool3d_new(&(mt_pool3d_options){.pool_d = 2, .pool_h = 1, .pool_w = 3,
                                                     .stride_d = 3, .stride_h = 1,
                                                     .stride_w = 1, .pad_w = 1,
                                                     .ceil_mode = true}, &l));
    assert_ok(mt_layer_forward(l, &x, &y));
    assert_int_equal(mt_tensor_numel(y), 20);
    assert_close((const float *)y->data, want, 20, 0, 0);
    mt_tensor_free(y);
    mt_layer_free(l);
    // 2x2x2 under 3x3x3 / 2: max 7; the average (1, 3, 3) / (1, 2, 2) of a
    // 2x2 plane: 1.5
    mt_tensor v, plane;
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 5, (int64_t[]){1, 2, 2, 2, 1}, xd + 7, &v));
    assert_ok(mt_max_pool3d(&v, &(mt_pool3d_params){.pool_d = 3, .pool_h = 3, .pool_w = 3,
                                                     .stride_d = 2, .stride_h = 2,
                                                     .stride_w = 2, .ceil_mode = true}, &y));
    assert_int_equal(mt_tensor_numel(y), 1);
    assert_true(((const float *)y->data)[0] == 7.0f);
    mt_tensor_free(y);
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 5, (int64_t[]){1, 1, 2, 2, 1}, xd + 7, &plane));
    assert_ok(mt_avg_pool3d_new(&(mt_pool3d_options){.pool_d = 1, .pool_h = 3, .pool_w = 3,
                                                     .stride_h = 2, .stride_w = 2,
                                                     .ceil_mode = true}, &l));
    assert_ok(mt_layer_forward(l, &plane, &y));
    assert_int_equal(mt_tensor_numel(y), 1);
    assert_true(((const float *)y->data)[0] == 1.5f);
    mt_tensor_free(y);
    mt_layer_free(l);
    // ceil_mode with SAME was ignored (SAME rounds its own way): refused
    assert_fails(mt_max_pool3d(&v, &(mt_pool3d_params){.pool_d = 2, .pool_h = 2, .pool_w = 2,
                                                        .padding = MT_PADDING_SAME,
                                                        .ceil_mode = true}, &y),
                 MT_ERR_INVALID_ARGUMENT, "max_pool3d: ceil_mode with MT_PADDING_SAME");
    assert_fails(mt_avg_pool3d_new(&(mt_pool3d_options){.pool_d = 2, .pool_h = 2, .pool_w = 2,
                                                         .padding = MT_PADDING_SAME,
                                                         .ceil_mode = true}, &l),
                 MT_ERR_INVALID_ARGUMENT, "avg_pool3d: ceil_mode with MT_PADDING_SAME");
    assert_null(l);
    // a whole stride too wide (depth 2 under 4 / 2): PyTorch's "Output size is too small"
    assert_fails(mt_max_pool3d(&v, &(mt_pool3d_params){.pool_d = 4, .pool_h = 1, .pool_w = 1,
                                                        .stride_d = 2, .ceil_mode = true}, &y),
                 MT_ERR_SHAPE, "max_pool3d: the pool window 4 (dilation 1) is larger than the "
                 "depth 2");
}

/* A MaxPool3D (ceil_mode, stride 2^62) in a graph on a volume of depth
 * INT64_MAX: the next window's start (q + 1)·stride overflowed int64_t
 * (UBSan) and, wrapped, gave depth 3; PyTorch's rule gives ceil((2^63 -
 * 2) / 2^62) + 1 = 3, less the window starting past the input: 2. */
static void ceil_mode_stride_near_int64_max(void **state)
{
    (void)state;
    mt_layer *l;
    mt_graph *g;
    int in, out;
    mt_shape sh;
    assert_ok(mt_max_pool3d_new(&(mt_pool3d_options){.pool_d = 1, .pool_h = 1, .pool_w = 1,
                                                     .stride_d = (int64_t)1 << 62,
                                                     .ceil_mode = true}, &l));
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 4, (int64_t[]){INT64_MAX, 1, 1, 1}, &in));
    assert_ok(mt_graph_add(g, "pool", l, 1, &in, &out));
    assert_ok(mt_graph_shape_get(g, out, &sh));
    assert_int_equal(sh.rank, 5);
    assert_int_equal(sh.dim[1], 2);
    mt_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv3d_op_matches_pytorch),
        cmocka_unit_test(conv3d_layer_loads_pytorch),
        cmocka_unit_test(conv3d_matches_keras),
        cmocka_unit_test(pools_match_pytorch),
        cmocka_unit_test(pools_match_keras),
        cmocka_unit_test(tiny_cnn_matches_pytorch),
        cmocka_unit_test(tiny_cnn_matches_keras),
        cmocka_unit_test(conv_batch_norm_relu),
        cmocka_unit_test(reflect_and_replicate_pads),
        cmocka_unit_test(conv3d_in_chunks_matches_conv2d),
        cmocka_unit_test(conv3d_out_of_memory_leaves_out),
        cmocka_unit_test(op_errors),
        cmocka_unit_test(layer_errors),
        cmocka_unit_test(loader_names_and_bad_weights),
        cmocka_unit_test(broadcast_out_refused),
        cmocka_unit_test(huge_groups_no_channels),
        cmocka_unit_test(ceil_mode_window_wider_than_input),
        cmocka_unit_test(ceil_mode_stride_near_int64_max),
    };
    return cmocka_run_group_tests(tests, open_refs, close_refs);
}
