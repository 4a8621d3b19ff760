/* test_nn_keras_apps.c — two models built by keras.applications' own code
 * (tests/reference/make_keras_apps_refs.py), width-reduced so that their
 * weights are small, ported by their variable paths as a user would port
 * ConvNeXtTiny and MobileNetV3Small: the builders below follow
 * keras/src/applications/convnext.py and mobilenet_v3.py (given
 * ConvNeXtTiny's depths [3, 3, 9, 3] and dims [96, 192, 384, 768], or
 * MobileNetV3Small's eleven blocks, they build those models) and the
 * logits must match Keras'.
 * ConvNeXt:
 *   PreStem: Normalization(mean=…, variance=…): the statistics are in the
 *     layer's config, not among its variables.
 *   Stem and downsampling blocks: nested Sequentials, whose variables'
 *     paths carry both names ("convnext_stem/convnext_stem_conv/kernel").
 *   Blocks: Conv2D(groups = channels, 7x7, same), LayerNormalization(1e-6),
 *     Dense on [N,H,W,C] with gelu (exact), Dense, LayerScale (one
 *     variable, named by Keras' counter: "…_layer_scale/variable_3"),
 *     StochasticDepth (the identity at inference), the residual Add.
 *   Head: GlobalAveragePooling2D, LayerNormalization, Dense.
 * MobileNetV3 (40x54 input: 20x27 after the stem, odd and even sizes):
 *   Rescaling(1/127.5, -1); stride-2 blocks padded by ZeroPadding2D(
 *     correct_pad(x, k)), which depends on whether the size is even;
 *   hard_sigmoid as keras ops on constants, ReLU(6)(x + 3) * (1/6): three
 *     layers; hard_swish; squeeze-and-excitation (GlobalAveragePooling2D
 *     with keepdims, 1x1 Conv2Ds, Multiply); the 1x1-conv head on [1,1,C],
 *     Dropout, Flatten. */
#include "graph_build.h"

static alloc_probe counter;   /* every allocation, installed by main */

/* The one tensor whose name starts with "prefix/": LayerScale's variable,
 * which Keras names "variable", "variable_1", … in the order the layers
 * were made, so that its number cannot be known from the layer alone. */
static mt_tensor *only_under(const mt_safetensors *st, const char *prefix)
{
    size_t len = strlen(prefix), found = SIZE_MAX;
    for (size_t i = 0; i < mt_safetensors_count(st); i++) {
        mt_safetensors_entry e;
        assert_ok(mt_safetensors_info(st, i, &e));
        if (e.name_len > len && !strncmp(e.name, prefix, len) && e.name[len] == '/') {
            if (found != SIZE_MAX)
                fail_msg("%s: more than one variable", prefix);
            found = i;
        }
    }
    if (found == SIZE_MAX)
        fail_msg("%s: no variable", prefix);
    mt_tensor *t = NULL;
    assert_ok(mt_safetensors_get_at(st, found, &t));
    return t;
}

/* ---- ConvNeXt ----------------------------------------------------------------------- */

/* ConvNeXtBlock "p" (convnext_stage_i_block_j) on h with dim channels */
static int convnext_block(mt_graph *g, const mt_state_dict *sd, const char *p, int64_t dim,
                          int h)
{
    mt_layer *l = NULL;
    const mt_conv2d_options depthwise = {.padding = MT_PADDING_SAME, .groups = dim};
    const mt_norm_options ln = {.eps = 1e-6f};
    int x = h;
    h = node(g, join(p, "_depthwise_conv"),
             mt_conv2d_load(sd, join(p, "_depthwise_conv"), &depthwise, &l), &l, 1, &h);
    h = node(g, join(p, "_layernorm"), mt_layer_norm_load(sd, join(p, "_layernorm"), &ln, &l), &l,
             1, &h);
    h = node(g, join(p, "_pointwise_conv_1"),
             mt_linear_load(sd, join(p, "_pointwise_conv_1"),
                            &(mt_linear_options){.act = MT_ACTIVATION_GELU}, &l), &l, 1, &h);
    h = node(g, join(p, "_pointwise_conv_2"), mt_linear_load(sd, join(p, "_pointwise_conv_2"),
                                                           NULL, &l), &l, 1, &h);
    mt_tensor *gamma = only_under(sd->file, join(p, "_layer_scale"));
    mt_status s = mt_scale_new(gamma, &l);
    mt_tensor_free(gamma);
    h = node(g, join(p, "_layer_scale"), s, &l, 1, &h);
    /* _stochastic_depth: the identity at inference */
    return node(g, join(p, "_add"), mt_add_new(&l), &l, 2, (int[]){x, h});
}

/* keras.applications' ConvNeXt(depths, projection_dims, name="convnext") on
 * [size,size,3] pixels 0..255, include_preprocessing and include_top */
static mt_graph *convnext(const mt_state_dict *sd, const int *depths, const int64_t *dims,
                          int64_t size)
{
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    const mt_norm_options ln = {.eps = 1e-6f};
    int h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){size, size, 3}, &h));

    /* PreStem: (x - mean) / sqrt(variance), ImageNet's statistics in pixels */
    float mean[3], var[3];
    const double m[3] = {0.485, 0.456, 0.406}, sdev[3] = {0.229, 0.224, 0.225};
    for (int c = 0; c < 3; c++) {
        mean[c] = (float)(m[c] * 255);
        var[c] = (float)((sdev[c] * 255) * (sdev[c] * 255));
    }
    mt_tensor *mt = NULL, *vt = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){3}, mean, &mt));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){3}, var, &vt));
    mt_status s = mt_batch_norm_new(mt, vt, NULL, NULL, &(mt_batch_norm_options){.eps = 1e-14f},
                                    &l);
    mt_tensor_free(mt);
    mt_tensor_free(vt);
    h = node(g, "convnext_prestem_normalization", s, &l, 1, &h);

    /* the stem: Conv2D(dims[0], 4, strides=4), LayerNormalization */
    const mt_conv2d_options patchify = {.stride_h = 4, .stride_w = 4};
    h = node(g, "stem_conv", mt_conv2d_load(sd, "convnext_stem/convnext_stem_conv", &patchify,
                                            &l), &l, 1, &h);
    h = node(g, "stem_ln", mt_layer_norm_load(sd, "convnext_stem/convnext_stem_layernorm", &ln,
                                              &l), &l, 1, &h);
    for (int i = 0; i < 4; i++) {
        char p[96];
        if (i) {   /* downsampling: LayerNormalization, Conv2D(dims[i], 2, strides=2) */
            const mt_conv2d_options down = {.stride_h = 2, .stride_w = 2};
            snprintf(p, sizeof p, "convnext_downsampling_block_%d/convnext_downsampling_", i - 1);
            char ln_name[112], conv_name[112];
            snprintf(ln_name, sizeof ln_name, "%slayernorm_%d", p, i - 1);
            snprintf(conv_name, sizeof conv_name, "%sconv_%d", p, i - 1);
            h = node(g, ln_name, mt_layer_norm_load(sd, ln_name, &ln, &l), &l, 1, &h);
            h = node(g, conv_name, mt_conv2d_load(sd, conv_name, &down, &l), &l, 1, &h);
        }
        for (int j = 0; j < depths[i]; j++) {
            snprintf(p, sizeof p, "convnext_stage_%d_block_%d", i, j);
            h = convnext_block(g, sd, p, dims[i], h);
        }
    }
    /* the head: GlobalAveragePooling2D, LayerNormalization, Dense */
    h = node(g, "head_gap", mt_global_avg_pool2d_new(&l), &l, 1, &h);
    h = node(g, "head_ln", mt_layer_norm_load(sd, "convnext_head_layernorm", &ln, &l), &l, 1,
             &h);
    h = node(g, "head_dense", mt_linear_load(sd, "convnext_head_dense", NULL, &l), &l, 1, &h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

/* ---- MobileNetV3 ----------------------------------------------------------------------- */

typedef struct size2 {
    int64_t h, w;
} size2;

/* keras' _depth(v): v rounded to a multiple of 8, not below 8 nor 10% below v */
static int64_t depth8(double v)
{
    int64_t d = (int64_t)(v + 4) / 8 * 8;
    if (d < 8)
        d = 8;
    if ((double)d < 0.9 * v)
        d += 8;
    return d;
}

/* mobilenet_v3.hard_sigmoid: ReLU(6.0)(x + 3.0) * (1.0 / 6.0), three layers
 * as Keras' functional model has them ("p_plus3", "p_relu6", "p_div6") */
static int hard_sigmoid(mt_graph *g, const char *p, int h)
{
    mt_layer *l = NULL;
    char name[160];
    snprintf(name, sizeof name, "%s_plus3", p);
    h = node(g, name, mt_rescaling_new(1.0f, 3.0f, &l), &l, 1, &h);
    snprintf(name, sizeof name, "%s_relu6", p);
    h = node(g, name, mt_clamp_new(0.0f, 6.0f, &l), &l, 1, &h);
    snprintf(name, sizeof name, "%s_div6", p);
    return node(g, name, mt_rescaling_new(1.0f / 6.0f, 0.0f, &l), &l, 1, &h);
}

/* the model's activation: relu, or hard_swish (Activation("hard_swish")) */
static int activation(mt_graph *g, const char *name, bool swish, int h)
{
    mt_layer *l = NULL;
    return node(g, name, swish ? mt_hardswish_new(&l) : mt_relu_new(&l), &l, 1, &h);
}

/* Conv2D "name" (1x1 or stride s, same, no bias), BatchNormalization
 * "name_bn" (eps 1e-3: Keras' default when the options give 0) */
static int conv_bn(mt_graph *g, const mt_state_dict *sd, const char *name, int64_t stride,
                   int h)
{
    mt_layer *l = NULL;
    const mt_conv2d_options o = {.padding = MT_PADDING_SAME, .stride_h = stride,
                                 .stride_w = stride};
    char bn[160];
    snprintf(bn, sizeof bn, "%s_bn", name);
    h = node(g, name, mt_conv2d_load(sd, name, &o, &l), &l, 1, &h);
    return node(g, bn, mt_batch_norm_load(sd, bn, NULL, &l), &l, 1, &h);
}

typedef struct ir_block {
    double expansion;
    int64_t filters, kernel, stride;
    bool se, swish;
} ir_block;

/* mobilenet_v3._inverted_res_block number `id` on h ([size, in] channels) */
static int inverted_res_block(mt_graph *g, const mt_state_dict *sd, const ir_block *b, int id,
                              int64_t in, size2 *size, int h)
{
    mt_layer *l = NULL;
    char p[32];
    int x = h;
    int64_t mid = in;
    snprintf(p, sizeof p, id ? "expanded_conv_%d_" : "expanded_conv_", id);
    if (id) {
        mid = depth8((double)in * b->expansion);
        h = conv_bn(g, sd, join(p, "expand"), 1, h);
        h = activation(g, join(p, "expand_act"), b->swish, h);
    }
    mt_conv2d_options o = {.padding = MT_PADDING_SAME};
    if (b->stride == 2) {   /* ZeroPadding2D(correct_pad(x, k)), then a VALID conv */
        int64_t c = b->kernel / 2, top = c - (1 - size->h % 2), left = c - (1 - size->w % 2);
        h = node(g, join(p, "depthwise_pad"),
                 mt_pad_new(6, (int64_t[]){0, 0, left, c, top, c}, MT_PAD_CONSTANT, 0, &l), &l, 1,
                 &h);
        o = (mt_conv2d_options){.padding = MT_PADDING_VALID, .stride_h = 2, .stride_w = 2};
        size->h = (size->h + top + c - b->kernel) / 2 + 1;
        size->w = (size->w + left + c - b->kernel) / 2 + 1;
    }
    h = node(g, join(p, "depthwise"), mt_depthwise_conv2d_load(sd, join(p, "depthwise"), &o, &l),
             &l, 1, &h);
    h = node(g, join(p, "depthwise_bn"), mt_batch_norm_load(sd, join(p, "depthwise_bn"), NULL, &l),
             &l, 1, &h);
    h = activation(g, join(p, "depthwise_act"), b->swish, h);
    if (b->se) {   /* _se_block(x, mid, 0.25) */
        const mt_conv2d_options same = {.padding = MT_PADDING_SAME};
        int s = node(g, join(p, "squeeze_excite_avg_pool"), mt_global_avg_pool2d_new(&l), &l, 1,
                     &h);
        s = node(g, join(p, "squeeze_excite_keepdims"),
                 mt_reshape_new(3, (int64_t[]){1, 1, mid}, &l), &l, 1, &s);
        s = node(g, join(p, "squeeze_excite_conv"),
                 mt_conv2d_load(sd, join(p, "squeeze_excite_conv"), &same, &l), &l, 1, &s);
        s = node(g, join(p, "squeeze_excite_relu"), mt_relu_new(&l), &l, 1, &s);
        s = node(g, join(p, "squeeze_excite_conv_1"),
                 mt_conv2d_load(sd, join(p, "squeeze_excite_conv_1"), &same, &l), &l, 1, &s);
        s = hard_sigmoid(g, join(p, "squeeze_excite_gate"), s);
        h = node(g, join(p, "squeeze_excite_mul"), mt_multiply_new(&l), &l, 2, (int[]){h, s});
    }
    h = conv_bn(g, sd, join(p, "project"), 1, h);
    if (b->stride == 1 && in == b->filters)
        h = node(g, join(p, "add"), mt_add_new(&l), &l, 2, (int[]){x, h});
    return h;
}

/* keras.applications' MobileNetV3(stack_fn, last_point_ch, model_type
 * "small", include_top, include_preprocessing) on [size, 3] pixels 0..255,
 * with the blocks of stack_fn */
static mt_graph *mobilenet_v3(const mt_state_dict *sd, const ir_block *blocks, int n,
                              size2 size)
{
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){size.h, size.w, 3}, &h));
    h = node(g, "rescaling", mt_rescaling_new(1.0f / 127.5f, -1.0f, &l), &l, 1, &h);
    h = conv_bn(g, sd, "conv", 2, h);   /* Conv2D(16, 3, strides=2, same) */
    h = activation(g, "conv_act", true, h);
    size = (size2){(size.h + 1) / 2, (size.w + 1) / 2};
    int64_t in = 16;
    for (int i = 0; i < n; i++) {
        h = inverted_res_block(g, sd, &blocks[i], i, in, &size, h);
        in = blocks[i].filters;
    }
    /* conv_1 (6x the channels), then the top: GlobalAveragePooling2D(
     * keepdims=True), conv_2 (bias), Dropout, logits (1x1), Flatten */
    h = conv_bn(g, sd, "conv_1", 1, h);
    h = activation(g, "conv_1_act", true, h);
    h = node(g, "top_pool", mt_global_avg_pool2d_new(&l), &l, 1, &h);
    h = node(g, "top_keepdims", mt_reshape_new(3, (int64_t[]){1, 1, depth8((double)in * 6)}, &l),
             &l, 1, &h);
    const mt_conv2d_options same = {.padding = MT_PADDING_SAME};
    h = node(g, "conv_2", mt_conv2d_load(sd, "conv_2", &same, &l), &l, 1, &h);   /* last_point_ch */
    h = activation(g, "conv_2_act", true, h);
    h = node(g, "dropout", mt_dropout_new(0.2f, &l), &l, 1, &h);
    h = node(g, "logits", mt_conv2d_load(sd, "logits", &same, &l), &l, 1, &h);
    h = node(g, "flatten", mt_flatten_new(1, -1, &l), &l, 1, &h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

/* ---- the comparison ------------------------------------------------------------------- */

/* g on the file's x gives its y [2,10] within 1e-4 (relative and
 * absolute), twice, the second pass without the heap. */
static void logits_match(mt_graph *g, const mt_safetensors *st)
{
    mt_tensor *x = NULL, *want = NULL;
    const mt_tensor *y = NULL;
    assert_ok(mt_safetensors_get(st, "x", &x));
    assert_ok(mt_safetensors_get(st, "y", &want));
    for (int pass = 0; pass < 2; pass++) {
        long before = counter.allocations;
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
        if (pass)
            assert_int_equal(counter.allocations, before);
        assert_int_equal(y->rank, 2);
        assert_int_equal(y->shape[0], 2);
        assert_int_equal(y->shape[1], 10);
        assert_close((const float *)y->data, (const float *)want->data, 20, 1e-4, 1e-4);
    }
    mt_tensor_free(want);
    mt_tensor_free(x);
}

static void convnext_matches_keras(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_open(REFS_DIR "/keras_convnext.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_graph *g = convnext(&sd, (const int[]){1, 1, 2, 1}, (const int64_t[]){8, 16, 16, 24}, 64);
    logits_match(g, st);
    mt_graph_free(g);
    mt_safetensors_close(st);
}

static void mobilenet_v3_matches_keras(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_open(REFS_DIR "/keras_mobilenet_v3.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    /* make_keras_apps_refs.py's stack_fn: expansion, filters, kernel, stride,
     * squeeze-and-excitation, hard_swish (else relu) */
    static const ir_block blocks[] = {{1, 8, 3, 2, true, false}, {3, 8, 3, 2, false, false},
                                      {3, 8, 5, 1, true, true}, {4, 16, 5, 2, true, true}};
    mt_graph *g = mobilenet_v3(&sd, blocks, 4, (size2){40, 54});
    logits_match(g, st);
    mt_graph_free(g);
    mt_safetensors_close(st);
}

int main(void)
{
    probe_install(&counter, -1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(convnext_matches_keras),
        cmocka_unit_test(mobilenet_v3_matches_keras),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
