/* test_nn_keras.c — models written in Keras, loaded by their variable
 * paths with mt_state_dict {file, MT_FRAMEWORK_KERAS}, against Keras' own
 * outputs (reference/make_keras_models_refs.py -> reference/keras_*.
 * safetensors): a character-level transformer (Embedding, LayerNormalization,
 * MultiHeadAttention with a causal mask, Dense GELU MLP, residual Adds;
 * F32 and F16 weights), MultiHeadAttention with key_dim, value_dim and
 * output_shape of its own, no biases, and causal with query and keys of
 * different lengths, Conv2DTranspose with 'same' and 'valid' padding, a
 * CNN with SeparableConv2D, BatchNormalization (center/scale off),
 * ZeroPadding2D and global max and average pooling (also by Keras 2's
 * variable names), Dense activations, LayerNormalization epsilons,
 * RMSNormalization, UpSampling2D; and hostile weights refused. */
#include "test_util.h"

/* y matches the reference `name` of st element for element. */
static void assert_matches(const mt_safetensors *st, const char *name, const mt_tensor *y,
                           double atol)
{
    mt_tensor *want = ref_get(st, name);
    assert_int_equal(y->rank, want->rank);
    for (int i = 0; i < y->rank; i++)
        assert_int_equal(y->shape[i], want->shape[i]);
    assert_true(mt_tensor_is_contiguous(y));
    assert_close((const float *)y->data, (const float *)want->data,
                 (size_t)mt_tensor_numel(want), atol, 1e-4);
    mt_tensor_free(want);
}

/* Node `name` running the layer `l` on inputs in[0..n-1]; its id. */
static int node(mt_graph *g, const char *name, mt_layer *l, int n, const int *in)
{
    int id = -1;
    assert_non_null(l);
    assert_ok(mt_graph_add(g, name, l, n, in, &id));
    return id;
}

/* The Keras char transformer of make_keras_models_refs.py, block by block:
 * x = x + attn(ln1(x)); x = x + proj(gelu(fc(ln2(x)))). */
static mt_graph *keras_charlm(const mt_state_dict *sd)
{
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int tok, pos;
    char a[64], b[64];
    const mt_norm_options eps = {.eps = 1e-5f};
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "tok", MT_DTYPE_I32, 1, (int64_t[]){16}, &tok));
    assert_ok(mt_graph_input(g, "pos", MT_DTYPE_I32, 1, (int64_t[]){16}, &pos));
    assert_ok(mt_embedding_load(sd, "wte", &l));
    int x = node(g, "wte", l, 1, &tok);
    assert_ok(mt_embedding_load(sd, "wpe", &l));
    int p = node(g, "wpe", l, 1, &pos);
    assert_ok(mt_add_new(&l));
    x = node(g, "emb", l, 2, (int[]){x, p});
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "h%d_ln1", i);
        assert_ok(mt_layer_norm_load(sd, a, &eps, &l));
        int h = node(g, a, l, 1, &x);
        snprintf(a, sizeof a, "h%d_attn", i);
        assert_ok(mt_multihead_attention_load(sd, a, 2, true, &l));
        h = node(g, a, l, 1, &h);
        assert_ok(mt_add_new(&l));
        snprintf(a, sizeof a, "h%d_res1", i);
        x = node(g, a, l, 2, (int[]){x, h});
        snprintf(a, sizeof a, "h%d_ln2", i);
        assert_ok(mt_layer_norm_load(sd, a, &eps, &l));
        h = node(g, a, l, 1, &x);
        snprintf(a, sizeof a, "h%d_fc", i);
        assert_ok(mt_linear_load(sd, a, &(mt_linear_options){
            .act = MT_ACTIVATION_GELU}, &l));
        h = node(g, a, l, 1, &h);
        snprintf(b, sizeof b, "h%d_proj", i);
        assert_ok(mt_linear_load(sd, b, NULL, &l));
        h = node(g, b, l, 1, &h);
        assert_ok(mt_add_new(&l));
        snprintf(a, sizeof a, "h%d_res2", i);
        x = node(g, a, l, 2, (int[]){x, h});
    }
    assert_ok(mt_layer_norm_load(sd, "ln_f", &eps, &l));
    x = node(g, "ln_f", l, 1, &x);
    assert_ok(mt_linear_load(sd, "head", NULL, &l));
    assert_ok(mt_graph_output(g, node(g, "head", l, 1, &x)));
    return g;
}

/* Once from the file as mapped (weights borrowed) and once from a copy one
 * byte off alignment, where every tensor is an owned copy that the layers
 * must keep alive after the loaders free their references; then with F16
 * weights, converted once by every loader. */
static void charlm_matches_keras(void **state)
{
    (void)state;
    for (int misaligned = 0; misaligned < 2; misaligned++) {
        mt_safetensors *st = NULL;
        unsigned char *copy;
        open_maybe_misaligned(REFS_DIR "/keras_charlm.safetensors", misaligned, &st, &copy);
        const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
        mt_graph *g = keras_charlm(&sd);
        mt_tensor *tok = ref_get(st, "x"), *pos = ref_get(st, "pos");
        const mt_tensor *y = NULL;
        assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){tok, pos}, 1, &y));
        assert_matches(st, "y", y, 1e-4);
        assert_ok(mt_graph_freeze(g));   /* private weight copies: the same logits */
        assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){tok, pos}, 1, &y));
        assert_matches(st, "y", y, 1e-4);
        mt_layer_info info;
        assert_ok(mt_layer_info_get(mt_graph_layer(g, mt_graph_find(g, "h0_attn")), &info));
        assert_int_equal(info.kind, MT_LAYER_MULTIHEAD_ATTENTION);
        assert_string_equal(info.name, "multihead_attention h0_attn");
        mt_graph_free(g);
        mt_tensor_free(tok);
        mt_tensor_free(pos);
        mt_safetensors_close(st);
        free(copy);
    }
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_open(REFS_DIR "/keras_charlm_f16.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_graph *g = keras_charlm(&sd);
    mt_tensor *tok = ref_get(st, "x"), *pos = ref_get(st, "pos");
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){tok, pos}, 1, &y));
    assert_matches(st, "y", y, 1e-4);
    mt_graph_free(g);
    mt_tensor_free(tok);
    mt_tensor_free(pos);
    mt_safetensors_close(st);
}

/* key_dim 8 and value_dim 4 of their own (not E / heads), output_shape 6,
 * use_bias=False, query and key/value of different widths and lengths;
 * a causal mask with query and keys of different lengths. */
static void attention_dims_of_its_own(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int q, kv;
    assert_ok(mt_safetensors_open(REFS_DIR "/keras_mha.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "q", MT_DTYPE_F32, 2, (int64_t[]){5, 12}, &q));
    assert_ok(mt_graph_input(g, "kv", MT_DTYPE_F32, 2, (int64_t[]){7, 10}, &kv));
    assert_ok(mt_multihead_attention_load(&sd, "mha", 2, false, &l));
    mt_layer_info info;
    assert_ok(mt_layer_info_get(l, &info));
    assert_int_equal(info.in_features, 12);
    assert_int_equal(info.out_features, 6);
    assert_false(info.has_bias);
    assert_ok(mt_graph_output(g, node(g, "mha", l, 3, (int[]){q, kv, kv})));
    mt_tensor *xq = ref_get(st, "x"), *xkv = ref_get(st, "kv");
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){xq, xkv}, 1, &y));
    assert_matches(st, "y", y, 1e-5);
    mt_graph_free(g);

    // self-attention needs key and value of the query's width
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "q", MT_DTYPE_F32, 2, (int64_t[]){5, 12}, &q));
    assert_ok(mt_multihead_attention_load(&sd, "mha", 2, false, &l));
    assert_fails(mt_graph_add(g, "mha", l, 1, &q, NULL), MT_ERR_SHAPE,
                 "has kdim 10 and vdim 10: give it key and value inputs");
    mt_graph_free(g);
    // Keras' causal mask: query i sees keys j <= i whatever the lengths
    for (int longer = 0; longer < 2; longer++) {
        int64_t lq = longer ? 7 : 5, lk = longer ? 5 : 7;
        assert_ok(mt_graph_new(&g));
        assert_ok(mt_graph_input(g, "q", MT_DTYPE_F32, 2, (int64_t[]){lq, 8}, &q));
        assert_ok(mt_graph_input(g, "kv", MT_DTYPE_F32, 2, (int64_t[]){lk, 8}, &kv));
        assert_ok(mt_multihead_attention_load(&sd, "causal", 2, true, &l));
        assert_ok(mt_graph_output(g, node(g, "causal", l, 3, (int[]){q, kv, kv})));
        mt_tensor *a = ref_get(st, longer ? "x7" : "x5"), *b = ref_get(st, longer ? "x5" : "x7");
        // the mask lives in the planner's scratch: no heap in a second pass
        // (the probe goes in first: installing it drops the ops' cached
        // buffers, which the wasm32 matmul packs small operands in)
        alloc_probe probe;
        probe_install(&probe, -1);
        assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){a, b}, 1, &y));
        long warm = probe.allocations;
        assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){a, b}, 1, &y));
        probe_remove();
        assert_int_equal(probe.allocations - warm, 0);
        assert_matches(st, longer ? "y_causal_7_5" : "y_causal_5_7", y, 1e-5);
        mt_tensor_free(a);
        mt_tensor_free(b);
        mt_graph_free(g);
    }
    l = NULL;
    assert_fails(mt_multihead_attention_load(&sd, "mha", 4, false, &l), MT_ERR_SHAPE,
                 "multihead_attention mha: mha/query/kernel [12,2,8], expected [in, heads, "
                 "dim] with 4 heads (num_heads)");
    assert_fails(mt_multihead_attention_load(&sd, "mha", 0, false, &l),
                 MT_ERR_INVALID_ARGUMENT, "num_heads 0");
    assert_fails(mt_multihead_attention_load(&sd, "nope", 2, false, &l), MT_ERR_NOT_FOUND,
                 "nope/query/kernel");
    assert_null(l);
    mt_tensor_free(xq);
    mt_tensor_free(xkv);
    mt_safetensors_close(st);
}

/* GroupQueryAttention: 4 query heads over 2 key/value heads as
 * self-attention, with and without the causal mask; 6 query heads over one
 * (multi-query, no biases) across a query and a key/value of another
 * length. Loaded by mt_multihead_attention_load, which reads the key
 * heads from the key kernel. */
static void group_query_attention_matches_keras(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_open(REFS_DIR "/keras_gqa.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(st, "x"), *xq = ref_get(st, "q"), *xkv = ref_get(st, "kv");
    const mt_tensor *y = NULL;
    for (int causal = 0; causal < 2; causal++) {
        mt_graph *g = NULL;
        mt_layer *l = NULL;
        int in;
        assert_ok(mt_graph_new(&g));
        assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){6, 12}, &in));
        assert_ok(mt_multihead_attention_load(&sd, "gqa", 4, causal, &l));
        assert_ok(mt_graph_output(g, node(g, "gqa", l, 1, &in)));
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
        assert_matches(st, causal ? "y_causal" : "y", y, 1e-5);
        mt_graph_free(g);
    }
    /* the causal mask given as a per-head additive attn mask [N,4,6,6]: the
     * mask viewed by groups of heads gives Keras' causal output */
    mt_tensor *causal_mask = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){2, 4, 6, 6}, &causal_mask));
    for (int64_t r = 0; r < 2 * 4 * 6; r++)
        for (int64_t j = r % 6 + 1; j < 6; j++)
            ((float *)causal_mask->data)[r * 6 + j] = -INFINITY;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int q, kv;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){6, 12}, &q));
    assert_ok(mt_graph_input(g, "m", MT_DTYPE_F32, 3, (int64_t[]){4, 6, 6}, &kv));
    assert_ok(mt_multihead_attention_load(&sd, "gqa", 4, false, &l));
    assert_ok(mt_multihead_attention_masks_set(l, &(mt_attention_masks){
        .attn = MT_MASK_MODE_ADD}));
    assert_ok(mt_graph_output(g, node(g, "gqa", l, 2, (int[]){q, kv})));
    assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){x, causal_mask}, 1, &y));
    assert_matches(st, "y_causal", y, 1e-5);
    mt_graph_free(g);
    mt_tensor_free(causal_mask);
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "q", MT_DTYPE_F32, 2, (int64_t[]){5, 12}, &q));
    assert_ok(mt_graph_input(g, "kv", MT_DTYPE_F32, 2, (int64_t[]){7, 12}, &kv));
    assert_ok(mt_multihead_attention_load(&sd, "mqa", 6, false, &l));
    assert_ok(mt_graph_output(g, node(g, "mqa", l, 3, (int[]){q, kv, kv})));
    assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){xq, xkv}, 1, &y));
    assert_matches(st, "y_mqa", y, 1e-5);
    mt_graph_free(g);
    /* key heads that do not divide the query heads */
    l = NULL;
    assert_fails(mt_multihead_attention_load(&sd, "gqa", 3, false, &l), MT_ERR_SHAPE,
                 "multihead_attention gqa: gqa/query/kernel [12,4,4], expected [in, heads, "
                 "dim] with 3 heads (num_heads)");
    assert_fails(mt_multihead_attention_load(&sd, "gqa", 6, false, &l), MT_ERR_SHAPE,
                 "multihead_attention gqa: gqa/query/kernel [12,4,4], expected [in, heads, "
                 "dim] with 6 heads (num_heads)");
    assert_null(l);
    mt_tensor_free(x);
    mt_tensor_free(xq);
    mt_tensor_free(xkv);
    mt_safetensors_close(st);
}

/* Conv2DTranspose(4, k, strides, padding, dilation_rate, output_padding)
 * as the script made them (op -1: None); each alone in a Sequential on
 * x [2,5,4,3]. */
static void conv2d_transpose_matches_keras(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t k, s, d, op;
        mt_padding padding;
    } cases[] = {
        {"ct_same_s2", 3, 2, 1, -1, MT_PADDING_SAME},
        {"ct_valid_s3_k2", 2, 3, 1, -1, MT_PADDING_VALID},
        {"ct_valid_s2_k4", 4, 2, 1, -1, MT_PADDING_VALID},
        {"ct_same_s1_d2", 3, 1, 2, -1, MT_PADDING_SAME},
        {"ct_same_s1_k4", 4, 1, 1, -1, MT_PADDING_SAME},
        {"ct_same_s3_k2", 2, 3, 1, -1, MT_PADDING_SAME},
        {"ct_same_s2_op0", 3, 2, 1, 0, MT_PADDING_SAME},
        {"ct_same_s2_op1", 3, 2, 1, 1, MT_PADDING_SAME},
        {"ct_same_s3_k4_op2", 4, 3, 1, 2, MT_PADDING_SAME},
        {"ct_valid_s2_op1", 3, 2, 1, 1, MT_PADDING_VALID},
    };
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_open(REFS_DIR "/keras_convt.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(st, "x");
    char want[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mt_sequential *m = NULL;
        mt_layer *l = NULL;
        assert_ok(mt_sequential_new(3, (int64_t[]){5, 4, 3}, &m));
        assert_ok(mt_conv2d_transpose_load(&sd, cases[i].name, &(mt_conv2d_transpose_options){
            .stride_h = cases[i].s, .stride_w = cases[i].s, .padding = cases[i].padding,
            .dilation_h = cases[i].d, .dilation_w = cases[i].d, .out_channels = 4,
            .has_output_padding = cases[i].op >= 0,
            .output_padding_h = cases[i].op >= 0 ? cases[i].op : 0,
            .output_padding_w = cases[i].op >= 0 ? cases[i].op : 0}, &l));
        assert_ok(mt_sequential_add(m, l));
        const mt_tensor *y = NULL;
        assert_ok(mt_sequential_forward(m, x, &y));
        snprintf(want, sizeof want, "y_%s", cases[i].name);
        assert_matches(st, want, y, 1e-5);
        mt_sequential_free(m);
    }
    mt_layer *l = NULL;
    assert_fails(mt_conv2d_transpose_load(&sd, "ct_same_s2", &(mt_conv2d_transpose_options){
                     .out_channels = 3}, &l), MT_ERR_SHAPE,
                 "conv2d_transpose ct_same_s2: kernel ct_same_s2/kernel [3,3,4,3], expected "
                 "[kh, kw, out, in] (Keras) with kernel (0,0), 3 out");
    assert_fails(mt_conv2d_transpose_load(&sd, "ct_same_s2", &(mt_conv2d_transpose_options){
                     .stride_h = 2, .stride_w = 2, .has_output_padding = true,
                     .output_padding_w = 2}, &l), MT_ERR_INVALID_ARGUMENT,
                 "output_padding (0,2) >= 0 and below the strides");
    // output_padding without has_output_padding was ignored (Keras' None)
    assert_fails(mt_conv2d_transpose_load(&sd, "ct_same_s2", &(mt_conv2d_transpose_options){
                     .stride_h = 2, .stride_w = 2, .output_padding_h = 1}, &l),
                 MT_ERR_INVALID_ARGUMENT, "conv2d_transpose_load ct_same_s2: output_padding "
                 "(1,0) given but has_output_padding is false");
    assert_fails(mt_conv2d_transpose_load(&(mt_state_dict){st, MT_FRAMEWORK_PYTORCH},
                                          "ct_same_s2", NULL, &l),
                 MT_ERR_UNSUPPORTED, "Keras only");
    assert_fails(mt_conv_transpose2d_load(&sd, "ct_same_s2", NULL, &l), MT_ERR_UNSUPPORTED,
                 "a Keras Conv2DTranspose is mt_conv2d_transpose_load");
    assert_null(l);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* Keras' CNN of make_keras_models_refs.py cnn(), as a graph: the two global
 * pools branch off the padded image and are concatenated. Its variables
 * named by Keras 3 ("c1/kernel") or by Keras 2 ("c1/kernel:0"). */
static void cnn_matches_keras(const char *path)
{
    mt_safetensors *st = NULL;
    mt_graph *g = NULL;
    mt_layer *l = NULL, *pw = NULL;
    int x;
    assert_ok(mt_safetensors_open(path, &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){9, 9, 3}, &x));
    assert_ok(mt_conv2d_load(&sd, "c1", &(mt_conv2d_options){
        .stride_h = 2, .stride_w = 2, .padding = MT_PADDING_SAME,
        .act = MT_ACTIVATION_RELU}, &l));
    int h = node(g, "c1", l, 1, &x);
    assert_ok(mt_batch_norm_load(&sd, "bn1", &(mt_batch_norm_options){.eps = 1e-5f}, &l));
    h = node(g, "bn1", l, 1, &h);
    // its bias follows the pointwise step: the depthwise loader refuses it
    assert_fails(mt_depthwise_conv2d_load(&sd, "sep", &(mt_conv2d_options){
                     .padding = MT_PADDING_SAME}, &l), MT_ERR_UNSUPPORTED,
                 "is in the file: a SeparableConv2D is mt_separable_conv2d_load");
    assert_fails(mt_separable_conv2d_load(&sd, "sep", &(mt_conv2d_options){
                     .out_channels = 8}, &l, &pw), MT_ERR_SHAPE, "expected [1,1,16,8]");
    assert_null(l);
    assert_null(pw);
    assert_ok(mt_separable_conv2d_load(&sd, "sep", &(mt_conv2d_options){
        .padding = MT_PADDING_SAME, .out_channels = 16}, &l, &pw));
    h = node(g, "sep_dw", l, 1, &h);
    h = node(g, "sep_pw", pw, 1, &h);
    // a LayerNormalization or GroupNormalization on a BatchNorm's prefix
    // would drop its moving statistics: refused
    assert_fails(mt_layer_norm_load(&sd, "bn2", NULL, &l), MT_ERR_UNSUPPORTED,
                 "is in the file: running statistics are a BatchNorm's (mt_batch_norm_load)");
    assert_fails(mt_group_norm_load(&sd, "bn2", 2, NULL, &l), MT_ERR_UNSUPPORTED,
                 "group_norm bn2: bn2/moving_mean");
    assert_null(l);
    assert_ok(mt_batch_norm_load(&sd, "bn2", NULL, &l));   /* Keras' eps 1e-3 */
    h = node(g, "bn2", l, 1, &h);
    assert_ok(mt_pad_new(6, (int64_t[]){0, 0, 0, 1, 1, 2}, MT_PAD_CONSTANT, 0.0f, &l));
    h = node(g, "zp", l, 1, &h);
    assert_ok(mt_global_max_pool2d_new(&l));
    int a = node(g, "gmp", l, 1, &h);
    assert_ok(mt_global_avg_pool2d_new(&l));
    int b = node(g, "gap", l, 1, &h);
    assert_ok(mt_concat_new(-1, &l));
    h = node(g, "cat", l, 2, (int[]){a, b});
    assert_ok(mt_dropout_new(0.3f, &l));
    h = node(g, "drop", l, 1, &h);
    assert_ok(mt_linear_load(&sd, "d", &(mt_linear_options){.act = MT_ACTIVATION_TANH}, &l));
    assert_ok(mt_graph_output(g, node(g, "d", l, 1, &h)));
    mt_tensor *in = ref_get(st, "x");
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){in}, 1, &y));
    assert_matches(st, "y", y, 1e-5);
    mt_graph_free(g);
    assert_fails(mt_separable_conv2d_load(&(mt_state_dict){st, MT_FRAMEWORK_PYTORCH}, "sep",
                                          NULL, &l, &pw), MT_ERR_UNSUPPORTED, "Keras only");
    mt_tensor_free(in);
    mt_safetensors_close(st);
}

static void cnn_matches_keras3(void **state)
{
    (void)state;
    cnn_matches_keras(REFS_DIR "/keras_cnn.safetensors");
}

static void cnn_matches_keras2_names(void **state)
{
    (void)state;
    cnn_matches_keras(REFS_DIR "/keras_cnn_keras2.safetensors");
}

/* Dense(activation=…) as a Linear with the activation fused, or followed
 * by the layer Keras' activation is; LayerNormalization epsilons, without
 * weights; RMSNormalization. */
static void dense_activations_match_keras(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        mt_activation act;
    } fused[] = {
        {"tanh", MT_ACTIVATION_TANH}, {"sigmoid", MT_ACTIVATION_SIGMOID},
        {"gelu", MT_ACTIVATION_GELU}, {"silu", MT_ACTIVATION_SILU},
    };
    mt_safetensors *st = NULL;
    mt_layer *l = NULL, *act = NULL;
    mt_tensor *y = NULL, *z = NULL;
    char want[64];
    assert_ok(mt_safetensors_open(REFS_DIR "/keras_dense.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(st, "x");
    for (size_t i = 0; i < sizeof fused / sizeof fused[0]; i++) {
        assert_ok(mt_linear_load(&sd, fused[i].name, &(mt_linear_options){
            .act = fused[i].act}, &l));
        assert_ok(mt_layer_forward(l, x, &y));
        snprintf(want, sizeof want, "y_%s", fused[i].name);
        assert_matches(st, want, y, 1e-6);
        mt_tensor_free(y);
        mt_layer_free(l);
    }
    static const char *const apart[] = {"elu", "softplus", "leaky_relu", "hard_sigmoid"};
    for (int i = 0; i < 4; i++) {
        assert_ok(mt_linear_load(&sd, apart[i], NULL, &l));
        assert_ok(i == 0 ? mt_elu_new(1.0f, &act) : i == 1 ? mt_softplus_new(&act)
                  : i == 2 ? mt_leaky_relu_new(0.2f, &act)   /* Keras' default slope */
                  : mt_hardsigmoid_new(&act));
        assert_ok(mt_layer_forward(l, x, &y));
        assert_ok(mt_layer_forward(act, y, &z));
        snprintf(want, sizeof want, "y_%s", apart[i]);
        assert_matches(st, want, z, 1e-6);
        mt_tensor_free(z);
        mt_tensor_free(y);
        mt_layer_free(act);
        mt_layer_free(l);
    }
    assert_ok(mt_activation_layer_new(MT_ACTIVATION_GELU_TANH, &act));
    assert_ok(mt_layer_forward(act, x, &y));
    assert_matches(st, "y_gelu_tanh", y, 1e-6);
    mt_tensor_free(y);
    mt_layer_free(act);
    assert_ok(mt_layer_norm_load(&sd, "ln", &(mt_norm_options){.eps = 1e-6f}, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_matches(st, "y_ln", y, 1e-5);
    mt_tensor_free(y);
    mt_layer_free(l);
    // center=False, scale=False: no variables, so no loader can tell it from
    // a mistyped prefix
    assert_fails(mt_layer_norm_load(&sd, "ln_plain", NULL, &l), MT_ERR_NOT_FOUND,
                 "layer_norm ln_plain: neither ln_plain/gamma nor ln_plain/beta is in the "
                 "file (a norm without weights, Keras' center=False, scale=False or "
                 "PyTorch's elementwise_affine=False, is mt_layer_norm_new(…, NULL, NULL, …))");
    assert_ok(mt_layer_norm_new(NULL, NULL, &(mt_norm_options){.eps = 1e-3f}, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_matches(st, "y_ln_plain", y, 1e-5);
    mt_tensor_free(y);
    mt_layer_free(l);
    assert_fails(mt_layer_norm_load(&sd, "rms", NULL, &l), MT_ERR_UNSUPPORTED,
                 "layer_norm rms: rms/scale is in the file: a Keras RMSNormalization is "
                 "mt_rms_norm_load");
    assert_ok(mt_rms_norm_load(&sd, "rms", NULL, &l));   /* Keras' eps 1e-6 */
    assert_ok(mt_layer_forward(l, x, &y));
    assert_matches(st, "y_rms", y, 1e-5);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* UpSampling2D nearest and bilinear (half-pixel centres: align_corners
 * false), Resizing (its 'nearest' takes pixel centres: nearest-exact), and
 * Flatten on NHWC into a Dense. */
static void resize_and_flatten_match_keras(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    mt_layer *l = NULL;
    mt_tensor *y = NULL, *f = NULL;
    assert_ok(mt_safetensors_open(REFS_DIR "/keras_resize.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(st, "x");
    assert_ok(mt_upsample_new(&(mt_interpolate_params){.scale_h = 2, .scale_w = 2}, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_matches(st, "y_nearest", y, 0);
    mt_tensor_free(y);
    mt_layer_free(l);
    assert_ok(mt_upsample_new(&(mt_interpolate_params){
        .mode = MT_INTERPOLATE_BILINEAR, .scale_h = 2, .scale_w = 3}, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_matches(st, "y_bilinear", y, 1e-6);
    mt_tensor_free(y);
    mt_layer_free(l);
    static const struct {
        const char *name;
        mt_interpolate_mode mode;
        int64_t h, w;
    } resizing[] = {
        {"y_resize_nearest_up", MT_INTERPOLATE_NEAREST_EXACT, 5, 7},
        {"y_resize_nearest_down", MT_INTERPOLATE_NEAREST_EXACT, 2, 3},
        {"y_resize_bilinear", MT_INTERPOLATE_BILINEAR, 5, 3},
    };
    for (int i = 0; i < 3; i++) {
        assert_ok(mt_upsample_new(&(mt_interpolate_params){
            .mode = resizing[i].mode, .out_h = resizing[i].h, .out_w = resizing[i].w}, &l));
        assert_ok(mt_layer_forward(l, x, &y));
        assert_matches(st, resizing[i].name, y, 1e-6);
        mt_tensor_free(y);
        mt_layer_free(l);
    }
    assert_ok(mt_flatten_new(1, -1, &l));
    assert_ok(mt_layer_forward(l, x, &f));
    mt_layer_free(l);
    assert_ok(mt_linear_load(&sd, "d", NULL, &l));
    assert_ok(mt_layer_forward(l, f, &y));
    assert_matches(st, "y_dense", y, 1e-6);
    mt_tensor_free(y);
    mt_tensor_free(f);
    mt_layer_free(l);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* Weights that do not fit, or with a dim 0, fail naming the tensors in
 * Keras' layout; a quantized Dense is refused, not read as float. */

/* A DepthwiseConv2D (kernel [3,3,2,2]: C 2, multiplier 2) whose bias does
 * not fit, and one given the wrong in_channels: the messages give the
 * file's kernel shape, not the grouped view the conv runs. */
static void depthwise_errors_name_the_file_shapes(void)
{
    mt_tensor *k = NULL, *b = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){3, 3, 2, 2}, &k));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){6}, &b));
    const mt_safetensors_item items[2] = {{"dw/kernel", 0, k}, {"dw/bias", 0, b}};
    void *buf = NULL;
    size_t size = 0;
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_serialize(items, 2, NULL, 0, &buf, &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_layer *l = NULL;
    assert_fails(mt_depthwise_conv2d_load(&sd, "dw", NULL, &l), MT_ERR_SHAPE,
                 "depthwise_conv2d dw: bias dw/bias [6], expected [4] (channels·multiplier of "
                 "kernel dw/kernel [3,3,2,2], [kh, kw, channels, multiplier])");
    const mt_safetensors_item no_bias[1] = {{"dw/kernel", 0, k}};
    mt_safetensors_close(st);
    mt_safetensors_buffer_free(buf);
    assert_ok(mt_safetensors_serialize(no_bias, 1, NULL, 0, &buf, &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &st));
    assert_fails(mt_depthwise_conv2d_load(&(mt_state_dict){st, MT_FRAMEWORK_KERAS}, "dw",
                                          &(mt_conv2d_options){.in_channels = 3}, &l),
                 MT_ERR_SHAPE, "depthwise_conv2d dw: kernel dw/kernel [3,3,2,2] read as "
                 "grouped [kh, kw, 1, 4], groups 2: ");
    assert_null(l);
    mt_safetensors_close(st);
    mt_safetensors_buffer_free(buf);
    mt_tensor_free(b);
    mt_tensor_free(k);
}

static void hostile_weights_refused(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_safetensors_open(REFS_DIR "/keras_bad.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    assert_fails(mt_multihead_attention_load(&sd, "a", 2, false, &l), MT_ERR_SHAPE,
                 "multihead_attention a: kernels a/query/kernel [8,2,4], a/key/kernel [8,2,5], "
                 "a/value/kernel [8,2,4], a/attention_output/kernel [2,4,8] do not fit "
                 "together: expected [E, heads, key_dim], [kdim, heads, key_dim]");
    assert_fails(mt_multihead_attention_load(&sd, "b", 2, false, &l), MT_ERR_SHAPE,
                 "multihead_attention b: bias b/query/bias [2,5] does not fit kernel "
                 "b/query/kernel [8,2,4]");
    assert_fails(mt_conv2d_transpose_load(&sd, "ct", NULL, &l), MT_ERR_SHAPE,
                 "conv2d_transpose ct: bias ct/bias [3], expected [4] (the out channels of "
                 "kernel ct/kernel [3,3,4,2], Keras (kh,kw,out,in))");
    assert_fails(mt_multihead_attention_load(&sd, "empty", 2, false, &l), MT_ERR_SHAPE,
                 "multihead_attention empty: empty/query/kernel [0,2,4], expected [in, heads, "
                 "dim]");
    assert_fails(mt_depthwise_conv2d_load(&sd, "dw", NULL, &l), MT_ERR_SHAPE,
                 "depthwise_conv2d dw: kernel dw/kernel [3,3,0,2], expected [kh, kw, channels, "
                 "multiplier]");
    depthwise_errors_name_the_file_shapes();
    assert_fails(mt_linear_load(&sd, "sequential/q", NULL, &l), MT_ERR_DTYPE,
                 "linear sequential/q: sequential/q/kernel is I8, not a float: quantized "
                 "weights (Keras' model.quantize, PyTorch's quantized modules) are not "
                 "supported");
    assert_fails(mt_separable_conv2d_load(&sd, "ct", NULL, &l, &(mt_layer *){NULL}),
                 MT_ERR_NOT_FOUND, "no tensor named 'ct/depthwise_kernel'");
    // NULLs: a message naming the call, never a crash
    mt_layer *pw = NULL;
    assert_fails(mt_conv2d_transpose_load(NULL, "ct", NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "conv2d_transpose_load: NULL argument");
    assert_fails(mt_conv2d_transpose_load(&sd, "ct", NULL, NULL), MT_ERR_INVALID_ARGUMENT,
                 "conv2d_transpose_load: out is NULL");
    assert_fails(mt_separable_conv2d_load(&sd, NULL, NULL, &l, &pw), MT_ERR_INVALID_ARGUMENT,
                 "separable_conv2d_load: NULL argument");
    assert_fails(mt_separable_conv2d_load(&sd, "ct", NULL, &l, NULL), MT_ERR_INVALID_ARGUMENT,
                 "separable_conv2d_load: out is NULL");
    assert_fails(mt_rms_norm_load(&sd, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "rms_norm_load: NULL argument");
    assert_fails(mt_global_max_pool2d_new(NULL), MT_ERR_INVALID_ARGUMENT,
                 "global_max_pool2d: out is NULL");
    assert_null(l);
    assert_null(pw);
    mt_safetensors_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(charlm_matches_keras),
        cmocka_unit_test(attention_dims_of_its_own),
        cmocka_unit_test(group_query_attention_matches_keras),
        cmocka_unit_test(conv2d_transpose_matches_keras),
        cmocka_unit_test(cnn_matches_keras3),
        cmocka_unit_test(cnn_matches_keras2_names),
        cmocka_unit_test(dense_activations_match_keras),
        cmocka_unit_test(resize_and_flatten_match_keras),
        cmocka_unit_test(hostile_weights_refused),
    };
    return cmocka_run_group_tests_name("nn keras", tests, NULL, NULL);
}
