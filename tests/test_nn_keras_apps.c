/* test_nn_keras_apps.c — a model built by keras.applications' own code
 * (tests/reference/make_keras_apps_refs.py), width-reduced so that its
 * weights are small, ported by its variable paths as a user would port
 * ConvNeXtTiny: the builder below follows keras/src/applications/
 * convnext.py (given ConvNeXtTiny's depths [3, 3, 9, 3] and dims
 * [96, 192, 384, 768] it builds that model) and the logits must match
 * Keras'.
 *   PreStem: Normalization(mean=…, variance=…): the statistics are in the
 *     layer's config, not among its variables.
 *   Stem and downsampling blocks: nested Sequentials, whose variables'
 *     paths carry both names ("convnext_stem/convnext_stem_conv/kernel").
 *   Blocks: Conv2D(groups = channels, 7x7, same), LayerNormalization(1e-6),
 *     Dense on [N,H,W,C] with gelu (exact), Dense, LayerScale (one
 *     variable, named by Keras' counter: "…_layer_scale/variable_3"),
 *     StochasticDepth (the identity at inference), the residual Add.
 *   Head: GlobalAveragePooling2D, LayerNormalization, Dense. */
#include "test_util.h"

static alloc_probe counter;   /* every allocation, installed by main */

/* Add node `name` on the `n` inputs: the layer *l, which `made` made. */
static int node(mt_graph *g, const char *name, mt_status made, mt_layer **l, int n,
                const int *inputs)
{
    if (made)
        fail_msg("%s: %s", name, mt_last_error());
    int id = -1;
    assert_ok(mt_graph_add(g, name, *l, n, inputs, &id));
    return id;
}

/* "prefix" "suffix", in a ring of 8 buffers: a name lives until 8 more are
 * made (the graph copies node names, the loaders read them at once) */
static const char *at(const char *prefix, const char *suffix)
{
    static char ring[8][160];
    static int next;
    char *s = ring[next++ % 8];
    snprintf(s, 160, "%s%s", prefix, suffix);
    return s;
}

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
    h = node(g, at(p, "_depthwise_conv"),
             mt_conv2d_load(sd, at(p, "_depthwise_conv"), &depthwise, &l), &l, 1, &h);
    h = node(g, at(p, "_layernorm"), mt_layer_norm_load(sd, at(p, "_layernorm"), &ln, &l), &l,
             1, &h);
    h = node(g, at(p, "_pointwise_conv_1"),
             mt_linear_load(sd, at(p, "_pointwise_conv_1"),
                            &(mt_linear_options){.act = MT_ACTIVATION_GELU}, &l), &l, 1, &h);
    h = node(g, at(p, "_pointwise_conv_2"), mt_linear_load(sd, at(p, "_pointwise_conv_2"),
                                                           NULL, &l), &l, 1, &h);
    mt_tensor *gamma = only_under(sd->file, at(p, "_layer_scale"));
    mt_status s = mt_scale_new(gamma, &l);
    mt_tensor_free(gamma);
    h = node(g, at(p, "_layer_scale"), s, &l, 1, &h);
    /* _stochastic_depth: the identity at inference */
    return node(g, at(p, "_add"), mt_add_new(&l), &l, 2, (int[]){x, h});
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

/* ---- the comparison ------------------------------------------------------------------- */

static void convnext_matches_keras(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    mt_tensor *x = NULL, *want = NULL;
    const mt_tensor *y = NULL;
    assert_ok(mt_safetensors_open(REFS_DIR "/keras_convnext.safetensors", &st));
    assert_ok(mt_safetensors_get(st, "x", &x));
    assert_ok(mt_safetensors_get(st, "y", &want));
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_graph *g = convnext(&sd, (const int[]){1, 1, 2, 1}, (const int64_t[]){8, 16, 16, 24}, 64);
    for (int pass = 0; pass < 2; pass++) {   /* the second pass without the heap */
        long before = counter.allocations;
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
        if (pass)
            assert_int_equal(counter.allocations, before);
        assert_int_equal(y->rank, 2);
        assert_int_equal(y->shape[0], 2);
        assert_int_equal(y->shape[1], 10);
        assert_close((const float *)y->data, (const float *)want->data, 20, 1e-4, 1e-4);
    }
    mt_graph_free(g);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

int main(void)
{
    probe_install(&counter, -1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(convnext_matches_keras),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
