/* test_nn_masks.c — padded batches: MultiHeadAttention's key padding,
 * attention and query masks, the padding mask from token ids, Masking,
 * masked fill, the masked global 1-D pools and first/last steps, in
 * models (TransformerEncoder/DecoderLayer, BERT's attention, Keras
 * mask_zero and Masking classifiers), against PyTorch 1.13
 * (reference/make_mask_refs.py -> torch_masks.safetensors) and Keras 3
 * (reference/make_keras_mask_refs.py -> keras_masks.safetensors). Where a
 * framework gives NaN (a query row with no key to attend to, a sample with
 * no step to pool) minitensor gives zeros before the next projection:
 * those rows are checked against the layer's bias. */
#include "test_util.h"

static mt_safetensors *torch_refs, *keras_refs;

static int open_refs(void **state)
{
    (void)state;
    return mt_safetensors_open(REFS_DIR "/torch_masks.safetensors", &torch_refs) != MT_OK ||
           mt_safetensors_open(REFS_DIR "/keras_masks.safetensors", &keras_refs) != MT_OK;
}

static int close_refs(void **state)
{
    (void)state;
    mt_safetensors_close(torch_refs);
    mt_safetensors_close(keras_refs);
    return 0;
}

static int node(mt_graph *g, const char *name, mt_layer *l, int n, const int *in)
{
    int id = -1;
    assert_non_null(l);
    assert_ok(mt_graph_add(g, name, l, n, in, &id));
    return id;
}

/* y [..., C] against the reference `name` of st row by row; a row where the
 * reference is NaN must equal `bias` [C] instead (zeros before the
 * projection). Returns the number of such rows. */
static int assert_rows(const mt_safetensors *st, const char *name, const mt_tensor *y,
                       const char *bias, double atol)
{
    mt_tensor *want = ref_get(st, name), *b = bias ? ref_get(st, bias) : NULL;
    assert_int_equal(y->rank, want->rank);
    for (int d = 0; d < y->rank; d++)
        assert_int_equal(y->shape[d], want->shape[d]);
    int64_t c = y->shape[y->rank - 1], rows = mt_tensor_numel(y) / c, nan_rows = 0;
    const float *yd = y->data, *wd = want->data;
    for (int64_t r = 0; r < rows; r++) {
        if (isnan(wd[r * c])) {
            assert_non_null(b);
            assert_close(yd + r * c, (const float *)b->data, (size_t)c, atol, atol);
            nan_rows++;
        } else {
            assert_close(yd + r * c, wd + r * c, (size_t)c, atol, atol);
        }
    }
    mt_tensor_free(want);
    mt_tensor_free(b);
    return (int)nan_rows;
}

/* ---- PyTorch ------------------------------------------------------------------- */

/* mha(x, masks…) on the torch refs: masks named, their modes, sample
 * shapes; y against `want`. Returns the NaN rows of the reference. */
static int torch_mha(const mt_attention_masks *modes, int nm, const char *const *names,
                     const char *want, bool causal, int am_rank)
{
    const mt_state_dict sd = {torch_refs, MT_FRAMEWORK_PYTORCH};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int in[3], x;
    const mt_tensor *feed[3];
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){5, 8}, &x));
    in[0] = x;
    feed[0] = ref_get(torch_refs, "mha.x");
    for (int i = 0; i < nm; i++) {
        mt_tensor *m = ref_get(torch_refs, names[i]);
        if (!strcmp(names[i], "mha.am")) {
            // attn_mask [Lq,Lk] fed as [N,Lq,Lk] (or [N,1,Lq,Lk]), a view
            // with stride 0
            mt_tensor *e = NULL;
            assert_ok(mt_expand(m, am_rank, am_rank == 3 ? (int64_t[]){3, 5, 5}
                                                         : (int64_t[]){3, 1, 5, 5}, &e));
            mt_tensor_free(m);
            m = e;
        }
        assert_ok(mt_graph_input(g, names[i], m->dtype, m->rank - 1, m->shape + 1, &in[1 + i]));
        feed[1 + i] = m;
    }
    assert_ok(mt_multihead_attention_load(&sd, "mha", 2, causal, &l));
    assert_ok(mt_multihead_attention_masks_set(l, modes));
    assert_ok(mt_graph_output(g, node(g, "attn", l, 1 + nm, in)));
    const mt_tensor *y = NULL;
    // the merged mask lives in the planner's scratch: no heap in a second
    // pass (the probe goes in first: installing an allocator drops cached
    // buffers, which the first pass then makes again)
    alloc_probe probe;
    probe_install(&probe, -1);
    assert_ok(mt_graph_forward(g, 1 + nm, feed, 1, &y));
    long before = probe.allocations;
    assert_ok(mt_graph_forward(g, 1 + nm, feed, 1, &y));
    probe_remove();
    assert_int_equal(probe.allocations - before, 0);
    int nan_rows = assert_rows(torch_refs, want, y, "mha.out_proj.bias", 1e-5);
    for (int i = 0; i < 1 + nm; i++)
        mt_tensor_free((mt_tensor *)feed[i]);
    mt_graph_free(g);
    return nan_rows;
}

static void torch_key_padding(void **state)
{
    (void)state;
    // sample 2 pads every key: PyTorch's 5 NaN rows, the bias here
    assert_int_equal(torch_mha(&(mt_attention_masks){.key_padding = MT_MASK_MODE_IGNORE}, 1,
                               (const char *[]){"mha.kp"}, "mha.y_kp", false, 3), 5);
    assert_int_equal(torch_mha(&(mt_attention_masks){.key_padding = MT_MASK_MODE_ADD}, 1,
                               (const char *[]){"mha.kpf"}, "mha.y_kpf", false, 3), 5);
}

static void torch_attn_mask(void **state)
{
    (void)state;
    // bool [Lq,Lk] as [N,Lq,Lk]; its row 3 allows nothing
    assert_int_equal(torch_mha(&(mt_attention_masks){.attn = MT_MASK_MODE_IGNORE}, 1,
                               (const char *[]){"mha.am"}, "mha.y_am", false, 3), 3);
    assert_int_equal(torch_mha(&(mt_attention_masks){.attn = MT_MASK_MODE_IGNORE}, 1,
                               (const char *[]){"mha.am"}, "mha.y_am", false, 4), 3);
    assert_int_equal(torch_mha(&(mt_attention_masks){.key_padding = MT_MASK_MODE_IGNORE,
                                                     .attn = MT_MASK_MODE_IGNORE}, 2,
                               (const char *[]){"mha.kp", "mha.am"}, "mha.y_am_kp", false, 3), 7);
    // float [N·heads,Lq,Lk] viewed as [N,heads,Lq,Lk], added to the scores
    assert_int_equal(torch_mha(&(mt_attention_masks){.key_padding = MT_MASK_MODE_IGNORE,
                                                     .attn = MT_MASK_MODE_ADD}, 2,
                               (const char *[]){"mha.kp", "mha.amf4"}, "mha.y_amf_kp", false,
                               3), 5);
    // a causal mask (the loader's `causal`) with the key padding
    assert_int_equal(torch_mha(&(mt_attention_masks){.key_padding = MT_MASK_MODE_IGNORE}, 1,
                               (const char *[]){"mha.kp"}, "mha.y_causal_kp", true, 3), 5);
}

static void torch_cross_attention(void **state)
{
    (void)state;
    const mt_state_dict sd = {torch_refs, MT_FRAMEWORK_PYTORCH};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int q, k, v, kp;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "q", MT_DTYPE_F32, 2, (int64_t[]){4, 8}, &q));
    assert_ok(mt_graph_input(g, "k", MT_DTYPE_F32, 2, (int64_t[]){6, 6}, &k));
    assert_ok(mt_graph_input(g, "v", MT_DTYPE_F32, 2, (int64_t[]){6, 4}, &v));
    assert_ok(mt_graph_input(g, "kp", MT_DTYPE_BOOL, 1, (int64_t[]){6}, &kp));
    assert_ok(mt_multihead_attention_load(&sd, "mha2", 2, false, &l));
    assert_ok(mt_multihead_attention_masks_set(l, &(mt_attention_masks){
        .key_padding = MT_MASK_MODE_IGNORE}));
    mt_attention_masks got;
    assert_ok(mt_multihead_attention_masks_get(l, &got));
    assert_int_equal(got.key_padding, MT_MASK_MODE_IGNORE);
    assert_int_equal(got.attn, MT_MASK_MODE_NONE);
    assert_ok(mt_graph_output(g, node(g, "attn", l, 4, (int[]){q, k, v, kp})));
    mt_tensor *in[4] = {ref_get(torch_refs, "mha2.q"), ref_get(torch_refs, "mha2.k"),
                        ref_get(torch_refs, "mha2.v"), ref_get(torch_refs, "mha2.kp")};
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 4, (const mt_tensor *const *)in, 1, &y));
    assert_int_equal(assert_rows(torch_refs, "mha2.y", y, NULL, 1e-5), 0);
    // an empty batch: an empty output
    mt_tensor *empty[4];
    for (int i = 0; i < 4; i++) {
        int64_t shape[3] = {0, in[i]->shape[1], i < 3 ? in[i]->shape[2] : 0};
        assert_ok(mt_tensor_zeros(in[i]->dtype, in[i]->rank, shape, &empty[i]));
    }
    assert_ok(mt_graph_forward(g, 4, (const mt_tensor *const *)empty, 1, &y));
    assert_int_equal(y->shape[0], 0);
    for (int i = 0; i < 4; i++) {
        mt_tensor_free(empty[i]);
        mt_tensor_free(in[i]);
    }
    mt_graph_free(g);
}

/* PyTorch's TransformerEncoderLayer "p" (post-norm, ReLU): x = norm1(x +
 * sa(x, key_padding_mask=pad)); x = norm2(x + linear2(relu(linear1(x)))). */
static int encoder_layer(mt_graph *g, const mt_state_dict *sd, const char *p, int x, int pad)
{
    char key[96], name[96];
    mt_layer *l = NULL;
    int a, h1, f;
#define AT(suffix) (snprintf(key, sizeof key, "%s.%s", p, suffix), key)
#define NODE(suffix) (snprintf(name, sizeof name, "%s.%s", p, suffix), name)
    assert_ok(mt_multihead_attention_load(sd, AT("self_attn"), 2, false, &l));
    assert_ok(mt_multihead_attention_masks_set(l, &(mt_attention_masks){
        .key_padding = MT_MASK_MODE_IGNORE}));
    a = node(g, NODE("sa"), l, 2, (int[]){x, pad});
    assert_ok(mt_add_new(&l));
    a = node(g, NODE("res1"), l, 2, (int[]){x, a});
    assert_ok(mt_layer_norm_load(sd, AT("norm1"), NULL, &l));
    h1 = node(g, NODE("norm1"), l, 1, &a);
    assert_ok(mt_linear_load(sd, AT("linear1"), &(mt_linear_options){
        .out_features = 16, .act = MT_ACTIVATION_RELU}, &l));
    f = node(g, NODE("linear1"), l, 1, &h1);
    assert_ok(mt_linear_load(sd, AT("linear2"), &(mt_linear_options){.out_features = 8}, &l));
    f = node(g, NODE("linear2"), l, 1, &f);
    assert_ok(mt_add_new(&l));
    a = node(g, NODE("res2"), l, 2, (int[]){h1, f});
    assert_ok(mt_layer_norm_load(sd, AT("norm2"), NULL, &l));
    return node(g, NODE("norm2"), l, 1, &a);
#undef AT
#undef NODE
}

/* Embedding -> TransformerEncoderLayer(src_key_padding_mask = ids == 0)
 * -> masked mean and max -> Linear. */
static void torch_encoder_classifier(void **state)
{
    (void)state;
    const mt_state_dict sd = {torch_refs, MT_FRAMEWORK_PYTORCH};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int ids, e, pad, h2, avg, mx, logits, first, last;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "ids", MT_DTYPE_I64, 1, (int64_t[]){6}, &ids));
    assert_ok(mt_embedding_load(&sd, "emb", &l));
    e = node(g, "emb", l, 1, &ids);
    assert_ok(mt_padding_mask_new(0, MT_MASK_MODE_IGNORE, &l));
    pad = node(g, "pad", l, 1, &ids);
    h2 = encoder_layer(g, &sd, "enc", e, pad);
    assert_ok(mt_global_avg_pool1d_new(MT_MASK_MODE_IGNORE, &l));
    avg = node(g, "avg", l, 2, (int[]){h2, pad});
    assert_ok(mt_global_max_pool1d_new(MT_MASK_MODE_IGNORE, &l));
    mx = node(g, "max", l, 2, (int[]){h2, pad});
    assert_ok(mt_linear_load(&sd, "fc", &(mt_linear_options){.out_features = 3}, &l));
    logits = node(g, "fc", l, 1, &avg);
    assert_ok(mt_first_step_new(MT_MASK_MODE_NONE, &l));
    first = node(g, "first", l, 1, &h2);
    assert_ok(mt_last_step_new(MT_MASK_MODE_IGNORE, &l));
    last = node(g, "last", l, 2, (int[]){h2, pad});
    assert_ok(mt_graph_output(g, logits));
    assert_ok(mt_graph_output(g, avg));
    assert_ok(mt_graph_output(g, mx));
    assert_ok(mt_graph_output(g, first));
    assert_ok(mt_graph_output(g, last));
    mt_tensor *x = ref_get(torch_refs, "enc.ids");
    const mt_tensor *y[5];
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *const *)&x, 5, y));
    assert_int_equal(assert_rows(torch_refs, "enc.first", y[3], NULL, 1e-5), 0);
    assert_int_equal(assert_rows(torch_refs, "enc.last", y[4], NULL, 1e-5), 0);
    assert_int_equal(assert_rows(torch_refs, "enc.logits", y[0], NULL, 1e-5), 0);
    assert_int_equal(assert_rows(torch_refs, "enc.avg", y[1], NULL, 1e-5), 0);
    assert_int_equal(assert_rows(torch_refs, "enc.max", y[2], NULL, 1e-5), 0);
    // a batch of 12000 (the samples 4000 times) runs in passes of fewer
    // samples: the masks are sliced with the ids
    enum { copies = 4000 };
    mt_tensor *big = NULL, *want = ref_get(torch_refs, "enc.logits");
    assert_ok(mt_tensor_zeros(MT_DTYPE_I64, 2, (int64_t[]){3 * copies, 6}, &big));
    for (int i = 0; i < copies; i++)
        memcpy((int64_t *)big->data + i * 18, x->data, 18 * sizeof(int64_t));
    size_t bytes = 0;
    assert_ok(mt_graph_bytes_needed(g, 3 * copies, &bytes));
    assert_true(bytes < 3 * copies * 6 * 16 * sizeof(float));   // not linear1's whole output
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *const *)&big, 5, y));
    for (int i = 0; i < copies; i++)
        assert_close((const float *)y[0]->data + i * 9, (const float *)want->data, 9, 1e-5,
                     1e-5);
    // and an empty one
    mt_tensor *none = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_I64, 2, (int64_t[]){0, 6}, &none));
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *const *)&none, 5, y));
    for (int i = 0; i < 5; i++)
        assert_int_equal(y[i]->shape[0], 0);
    mt_tensor_free(none);
    mt_tensor_free(want);
    mt_tensor_free(big);
    mt_tensor_free(x);
    mt_graph_free(g);
}

/* nn.TransformerEncoder of 2 layers in eval mode: PyTorch's nested-tensor
 * path gives zeros at the padded steps, which a plain mean over the steps
 * then reads: a masked fill of 0 after the last layer. */
static void torch_encoder_stack_zeros_padding(void **state)
{
    (void)state;
    const mt_state_dict sd = {torch_refs, MT_FRAMEWORK_PYTORCH};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, pad, h, mean;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){6, 8}, &x));
    assert_ok(mt_graph_input(g, "pad", MT_DTYPE_BOOL, 1, (int64_t[]){6}, &pad));
    h = encoder_layer(g, &sd, "tenc.layers.0", x, pad);
    h = encoder_layer(g, &sd, "tenc.layers.1", h, pad);
    assert_ok(mt_masked_fill_new(0.0f, MT_MASK_MODE_IGNORE, &l));
    h = node(g, "zeros", l, 2, (int[]){h, pad});
    assert_ok(mt_global_avg_pool1d_new(MT_MASK_MODE_NONE, &l));
    mean = node(g, "mean", l, 1, &h);
    assert_ok(mt_graph_output(g, h));
    assert_ok(mt_graph_output(g, mean));
    mt_tensor *in[2] = {ref_get(torch_refs, "tenc.x"), ref_get(torch_refs, "tenc.pad")};
    const mt_tensor *y[2];
    assert_ok(mt_graph_forward(g, 2, (const mt_tensor *const *)in, 2, y));
    assert_int_equal(assert_rows(torch_refs, "tenc.h", y[0], NULL, 1e-5), 0);
    assert_int_equal(assert_rows(torch_refs, "tenc.mean", y[1], NULL, 1e-5), 0);
    mt_tensor_free(in[0]);
    mt_tensor_free(in[1]);
    mt_graph_free(g);
}

/* TransformerDecoderLayer (post-norm): x = norm1(x + sa(x, causal,
 * tgt_key_padding_mask)); x = norm2(x + mha(x, mem, mem,
 * memory_key_padding_mask)); x = norm3(x + linear2(relu(linear1(x)))). */
static void torch_decoder_layer(void **state)
{
    (void)state;
    const mt_state_dict sd = {torch_refs, MT_FRAMEWORK_PYTORCH};
    const mt_attention_masks kp = {.key_padding = MT_MASK_MODE_IGNORE};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, mem, tpad, mpad, a, h, f;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "tgt", MT_DTYPE_F32, 2, (int64_t[]){5, 8}, &x));
    assert_ok(mt_graph_input(g, "mem", MT_DTYPE_F32, 2, (int64_t[]){6, 8}, &mem));
    assert_ok(mt_graph_input(g, "tpad", MT_DTYPE_BOOL, 1, (int64_t[]){5}, &tpad));
    assert_ok(mt_graph_input(g, "mpad", MT_DTYPE_BOOL, 1, (int64_t[]){6}, &mpad));
    assert_ok(mt_multihead_attention_load(&sd, "dec.self_attn", 2, true, &l));
    assert_ok(mt_multihead_attention_masks_set(l, &kp));
    a = node(g, "sa", l, 2, (int[]){x, tpad});
    assert_ok(mt_add_new(&l));
    a = node(g, "res1", l, 2, (int[]){x, a});
    assert_ok(mt_layer_norm_load(&sd, "dec.norm1", NULL, &l));
    h = node(g, "norm1", l, 1, &a);
    assert_ok(mt_multihead_attention_load(&sd, "dec.multihead_attn", 2, false, &l));
    assert_ok(mt_multihead_attention_masks_set(l, &kp));
    a = node(g, "ca", l, 4, (int[]){h, mem, mem, mpad});
    assert_ok(mt_add_new(&l));
    a = node(g, "res2", l, 2, (int[]){h, a});
    assert_ok(mt_layer_norm_load(&sd, "dec.norm2", NULL, &l));
    h = node(g, "norm2", l, 1, &a);
    assert_ok(mt_linear_load(&sd, "dec.linear1", &(mt_linear_options){
        .out_features = 16, .act = MT_ACTIVATION_RELU}, &l));
    f = node(g, "linear1", l, 1, &h);
    assert_ok(mt_linear_load(&sd, "dec.linear2", &(mt_linear_options){.out_features = 8}, &l));
    f = node(g, "linear2", l, 1, &f);
    assert_ok(mt_add_new(&l));
    a = node(g, "res3", l, 2, (int[]){h, f});
    assert_ok(mt_layer_norm_load(&sd, "dec.norm3", NULL, &l));
    assert_ok(mt_graph_output(g, node(g, "norm3", l, 1, &a)));
    mt_tensor *in[4] = {ref_get(torch_refs, "dec.tgt"), ref_get(torch_refs, "dec.mem"),
                        ref_get(torch_refs, "dec.tpad"), ref_get(torch_refs, "dec.mpad")};
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 4, (const mt_tensor *const *)in, 1, &y));
    assert_int_equal(assert_rows(torch_refs, "dec.y", y, NULL, 1e-5), 0);
    for (int i = 0; i < 4; i++)
        mt_tensor_free(in[i]);
    mt_graph_free(g);
}

/* Hugging Face BERT's self-attention: separate q, k, v biases; its
 * attention_mask [N, L] (I64, 1 = attend) is a KEEP key padding mask. */
static void torch_bert_attention(void **state)
{
    (void)state;
    mt_tensor *w[8];
    static const char *const names[8] = {"bert.q.weight", "bert.k.weight", "bert.v.weight",
                                         "bert.o.weight", "bert.q.bias", "bert.k.bias",
                                         "bert.v.bias", "bert.o.bias"};
    for (int i = 0; i < 8; i++)
        w[i] = ref_get(torch_refs, names[i]);
    mt_attention_weights aw = {.q_weight = w[0], .k_weight = w[1], .v_weight = w[2],
                               .out_weight = w[3], .q_bias = w[4], .k_bias = w[5],
                               .v_bias = w[6], .out_bias = w[7]};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, m;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){5, 8}, &x));
    assert_ok(mt_graph_input(g, "attention_mask", MT_DTYPE_I64, 1, (int64_t[]){5}, &m));
    assert_ok(mt_multihead_attention_new(&aw, 2, false, &l));
    assert_ok(mt_multihead_attention_masks_set(l, &(mt_attention_masks){
        .key_padding = MT_MASK_MODE_KEEP}));
    assert_ok(mt_graph_output(g, node(g, "attn", l, 2, (int[]){x, m})));
    mt_tensor *in[2] = {ref_get(torch_refs, "bert.x"), ref_get(torch_refs, "bert.mask")};
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 2, (const mt_tensor *const *)in, 1, &y));
    assert_int_equal(assert_rows(torch_refs, "bert.y", y, NULL, 1e-5), 0);
    // packed and separate biases together: refused
    mt_tensor *packed = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){24}, &packed));
    aw.in_proj_bias = packed;
    assert_fails(mt_multihead_attention_new(&aw, 2, false, &l), MT_ERR_INVALID_ARGUMENT,
                 "in_proj_bias and q_bias/k_bias/v_bias given: give one or the other");
    aw.in_proj_bias = NULL;
    aw.k_bias = packed;
    assert_fails(mt_multihead_attention_new(&aw, 2, false, &l), MT_ERR_SHAPE,
                 "multihead_attention bert.o.weight: k_bias [24], expected [8]");
    mt_tensor_free(packed);
    for (int i = 0; i < 8; i++)
        mt_tensor_free(w[i]);
    mt_tensor_free(in[0]);
    mt_tensor_free(in[1]);
    mt_graph_free(g);
}

/* ---- Keras ----------------------------------------------------------------------- */

/* x -> Masking(-1) -> GlobalAveragePooling1D -> Dense: the mask of the
 * steps whose every feature is -1, those steps zeroed, left out of the
 * average. */
static void keras_masking(void **state)
{
    (void)state;
    const mt_state_dict sd = {keras_refs, MT_FRAMEWORK_KERAS};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, mask, h, a;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){5, 3}, &x));
    assert_ok(mt_masking_new(-1.0f, MT_MASK_MODE_KEEP, &l));
    mask = node(g, "mask", l, 1, &x);
    assert_ok(mt_masked_fill_new(0.0f, MT_MASK_MODE_KEEP, &l));
    h = node(g, "mk", l, 2, (int[]){x, mask});
    assert_ok(mt_global_avg_pool1d_new(MT_MASK_MODE_KEEP, &l));
    a = node(g, "gap", l, 2, (int[]){h, mask});
    assert_ok(mt_linear_load(&sd, "mk_head", &(mt_linear_options){.out_features = 2}, &l));
    assert_ok(mt_graph_output(g, node(g, "head", l, 1, &a)));
    assert_ok(mt_graph_output(g, h));
    mt_tensor *in = ref_get(keras_refs, "mk.x");
    const mt_tensor *y[2];
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *const *)&in, 2, y));
    // sample 2 is all masked: Keras' NaN, the head's bias here
    assert_int_equal(assert_rows(keras_refs, "mk.y", y[0], "mk_head/bias", 1e-5), 1);
    assert_int_equal(assert_rows(keras_refs, "mk.h", y[1], NULL, 0), 0);
    mt_tensor_free(in);
    mt_graph_free(g);
}

/* ---- Keras (attention) ------------------------------------------------------------ */

/* Embedding(mask_zero=True) -> MultiHeadAttention(e, e) -> Add -> LayerNorm
 * -> GlobalAveragePooling1D -> Dense, the Embedding's mask given to the
 * attention (query and value) and to the pool. */
static void keras_mask_zero_classifier(void **state)
{
    (void)state;
    const mt_state_dict sd = {keras_refs, MT_FRAMEWORK_KERAS};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int ids, e, mask, a, attn;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "ids", MT_DTYPE_I32, 1, (int64_t[]){6}, &ids));
    assert_ok(mt_embedding_load(&sd, "emb", &l));
    e = node(g, "emb", l, 1, &ids);
    assert_ok(mt_padding_mask_new(0, MT_MASK_MODE_KEEP, &l));
    mask = node(g, "mask", l, 1, &ids);
    assert_ok(mt_multihead_attention_load(&sd, "mha", 2, false, &l));
    assert_ok(mt_multihead_attention_masks_set(l, &(mt_attention_masks){
        .key_padding = MT_MASK_MODE_KEEP, .query_padding = MT_MASK_MODE_KEEP}));
    attn = node(g, "mha", l, 3, (int[]){e, mask, mask});
    assert_ok(mt_add_new(&l));
    a = node(g, "add", l, 2, (int[]){e, attn});
    assert_ok(mt_layer_norm_load(&sd, "ln", NULL, &l));
    a = node(g, "ln", l, 1, &a);
    assert_ok(mt_global_avg_pool1d_new(MT_MASK_MODE_KEEP, &l));
    a = node(g, "gap", l, 2, (int[]){a, mask});
    assert_ok(mt_linear_load(&sd, "head", &(mt_linear_options){.out_features = 3}, &l));
    assert_ok(mt_graph_output(g, node(g, "head", l, 1, &a)));
    assert_ok(mt_graph_output(g, attn));
    mt_tensor *x = ref_get(keras_refs, "clf.ids");
    const mt_tensor *y[2];
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *const *)&x, 2, y));
    // sample 3 is all padding: Keras' 0/0 NaN, the head's bias here
    assert_int_equal(assert_rows(keras_refs, "clf.y", y[0], "head/bias", 1e-5), 1);
    // the attention at a padded query step attends to nothing: its output
    // bias here, Keras' projected mean of all values; the others match
    mt_tensor *want = ref_get(keras_refs, "clf.attn"), *bias = ref_get(keras_refs,
                                                               "mha/attention_output/bias");
    const int32_t *id = x->data;
    for (int64_t r = 0; r < 4 * 6; r++)
        assert_close((const float *)y[1]->data + r * 8,
                     id[r] ? (const float *)want->data + r * 8 : (const float *)bias->data, 8,
                     1e-5, 1e-5);
    mt_tensor_free(bias);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_graph_free(g);
}

/* attention_mask [N,Lq,Lk] (true = attend), as BOOL and as F32 0/1. */
static void keras_attention_mask(void **state)
{
    (void)state;
    const mt_state_dict sd = {keras_refs, MT_FRAMEWORK_KERAS};
    mt_tensor *q = ref_get(keras_refs, "am.q"), *v = ref_get(keras_refs, "am.v"),
              *mask = ref_get(keras_refs, "am.mask"), *maskf = NULL;
    assert_ok(mt_tensor_to_f32(mask, &maskf));
    for (int as_f32 = 0; as_f32 < 2; as_f32++) {
        mt_graph *g = NULL;
        mt_layer *l = NULL;
        int qi, vi, mi;
        assert_ok(mt_graph_new(&g));
        assert_ok(mt_graph_input(g, "q", MT_DTYPE_F32, 2, (int64_t[]){4, 6}, &qi));
        assert_ok(mt_graph_input(g, "v", MT_DTYPE_F32, 2, (int64_t[]){5, 6}, &vi));
        assert_ok(mt_graph_input(g, "mask", as_f32 ? MT_DTYPE_F32 : MT_DTYPE_BOOL, 2,
                                 (int64_t[]){4, 5}, &mi));
        assert_ok(mt_multihead_attention_load(&sd, "am0", 2, false, &l));
        assert_ok(mt_multihead_attention_masks_set(l, &(mt_attention_masks){
            .attn = MT_MASK_MODE_KEEP}));
        assert_ok(mt_graph_output(g, node(g, "am0", l, 4, (int[]){qi, vi, vi, mi})));
        const mt_tensor *y = NULL;
        assert_ok(mt_graph_forward(g, 3, (const mt_tensor *[]){q, v, as_f32 ? maskf : mask},
                                   1, &y));
        // Keras with dropout > 0: zeros for the row that attends to nothing
        assert_int_equal(assert_rows(keras_refs, "am.yd", y, NULL, 1e-5), 0);
        // with dropout 0 Keras gives the mean of all values there instead:
        // every other row matches, that one is the output bias here
        mt_tensor *y0 = ref_get(keras_refs, "am.y0"), *bias = ref_get(keras_refs,
                                                             "am0/attention_output/bias");
        for (int64_t r = 0; r < 8; r++)
            assert_close((const float *)y->data + r * 6,
                         r == 6 ? (const float *)bias->data : (const float *)y0->data + r * 6,
                         6, 1e-5, 1e-5);
        mt_tensor_free(y0);
        mt_tensor_free(bias);
        mt_graph_free(g);
    }
    // use_causal_mask=True (top-left, Lq 4 < Lk 5) merged with the mask
    mt_tensor *mask_c = ref_get(keras_refs, "am.mask_c");
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int qi, vi, mi;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "q", MT_DTYPE_F32, 2, (int64_t[]){4, 6}, &qi));
    assert_ok(mt_graph_input(g, "v", MT_DTYPE_F32, 2, (int64_t[]){5, 6}, &vi));
    assert_ok(mt_graph_input(g, "mask", MT_DTYPE_BOOL, 2, (int64_t[]){4, 5}, &mi));
    assert_ok(mt_multihead_attention_load(&sd, "amc", 2, true, &l));
    assert_ok(mt_multihead_attention_masks_set(l, &(mt_attention_masks){
        .attn = MT_MASK_MODE_KEEP}));
    assert_ok(mt_graph_output(g, node(g, "amc", l, 4, (int[]){qi, vi, vi, mi})));
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 3, (const mt_tensor *[]){q, v, mask_c}, 1, &y));
    assert_int_equal(assert_rows(keras_refs, "am.yc", y, NULL, 1e-5), 0);
    mt_graph_free(g);
    mt_tensor_free(mask_c);
    mt_tensor_free(maskf);
    mt_tensor_free(mask);
    mt_tensor_free(v);
    mt_tensor_free(q);
}

/* ---- the mask layers on their own, by hand ------------------------------------- */

static void padding_mask_and_pools(void **state)
{
    (void)state;
    // ids [2,4] read through a transposed view of [4,2]: any strides
    static const int32_t idsT[8] = {3, 0, 0, 7, 5, 0, 0, 0};   // ids = {{3,0,5,0},{0,7,0,0}}
    mt_tensor *t = NULL, *ids = NULL, *m = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_I32, 2, (int64_t[]){4, 2}, idsT, &t));
    assert_ok(mt_transpose(t, 0, 1, &ids));
    assert_ok(mt_padding_mask_new(0, MT_MASK_MODE_KEEP, &l));
    assert_ok(mt_layer_forward(l, ids, &m));
    assert_int_equal(m->dtype, MT_DTYPE_BOOL);
    static const uint8_t keep[8] = {1, 0, 1, 0, 0, 1, 0, 0};
    assert_memory_equal(m->data, keep, 8);
    mt_layer_free(l);
    mt_tensor_free(m);
    assert_ok(mt_padding_mask_new(7, MT_MASK_MODE_IGNORE, &l));
    assert_ok(mt_layer_forward(l, ids, &m));
    static const uint8_t seven[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    assert_memory_equal(m->data, seven, 8);
    mt_layer_free(l);
    mt_tensor_free(m);

    // x [2,4,2]; sample 1 keeps step 1 only; by hand
    static const float xs[16] = {1, -1, 2, 9, 3, -3, 4, 9,  5, 9, -6, 4, 7, 9, 8, 9};
    static const float avg[4] = {2, -2, -6, 4}, mx[4] = {3, -1, -6, 4};
    static const float all_avg[4] = {2.5f, 3.5f, 3.5f, 7.75f}, all_max[4] = {4, 9, 8, 9};
    mt_tensor *x = NULL, *kp = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 3, (int64_t[]){2, 4, 2}, xs, &x));
    assert_ok(mt_tensor_from_data(MT_DTYPE_BOOL, 2, (int64_t[]){2, 4}, keep, &kp));
    for (int max = 0; max < 2; max++) {
        mt_graph *g = NULL;
        int xi, mi;
        assert_ok(mt_graph_new(&g));
        assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){4, 2}, &xi));
        assert_ok(mt_graph_input(g, "m", MT_DTYPE_BOOL, 1, (int64_t[]){4}, &mi));
        assert_ok((max ? mt_global_max_pool1d_new : mt_global_avg_pool1d_new)(
            MT_MASK_MODE_KEEP, &l));
        assert_ok(mt_graph_output(g, node(g, "masked", l, 2, (int[]){xi, mi})));
        assert_ok((max ? mt_global_max_pool1d_new : mt_global_avg_pool1d_new)(
            MT_MASK_MODE_IGNORE, &l));
        assert_ok(mt_graph_output(g, node(g, "inverse", l, 2, (int[]){xi, mi})));
        assert_ok((max ? mt_global_max_pool1d_new : mt_global_avg_pool1d_new)(
            MT_MASK_MODE_NONE, &l));
        assert_ok(mt_graph_output(g, node(g, "all", l, 1, &xi)));
        const mt_tensor *y[3];
        assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){x, kp}, 3, y));
        assert_close((const float *)y[0]->data, max ? mx : avg, 4, 1e-6, 1e-6);
        // IGNORE: the steps the mask marks are left out
        static const float inv_avg[4] = {3, 9, 20.0f / 3, 9}, inv_max[4] = {4, 9, 8, 9};
        assert_close((const float *)y[1]->data, max ? inv_max : inv_avg, 4, 1e-6, 1e-6);
        assert_close((const float *)y[2]->data, max ? all_max : all_avg, 4, 1e-6, 1e-6);
        mt_graph_free(g);
    }
    // the first and last kept step: sample 0 keeps steps 0 and 2, sample 1 step 1
    for (int last = 0; last < 2; last++) {
        mt_graph *g = NULL;
        int xi, mi;
        assert_ok(mt_graph_new(&g));
        assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){4, 2}, &xi));
        assert_ok(mt_graph_input(g, "m", MT_DTYPE_BOOL, 1, (int64_t[]){4}, &mi));
        assert_ok((last ? mt_last_step_new : mt_first_step_new)(MT_MASK_MODE_KEEP, &l));
        assert_ok(mt_graph_output(g, node(g, "kept", l, 2, (int[]){xi, mi})));
        assert_ok((last ? mt_last_step_new : mt_first_step_new)(MT_MASK_MODE_NONE, &l));
        assert_ok(mt_graph_output(g, node(g, "plain", l, 1, &xi)));
        const mt_tensor *y[2];
        assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){x, kp}, 2, y));
        static const float first_kept[4] = {1, -1, -6, 4}, last_kept[4] = {3, -3, -6, 4};
        static const float first_all[4] = {1, -1, 5, 9}, last_all[4] = {4, 9, 8, 9};
        assert_close((const float *)y[0]->data, last ? last_kept : first_kept, 4, 0, 0);
        assert_close((const float *)y[1]->data, last ? last_all : first_all, 4, 0, 0);
        mt_graph_free(g);
    }
    // a sample with no step kept: zeros
    static const uint8_t none[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    mt_tensor *nm = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_BOOL, 2, (int64_t[]){2, 4}, none, &nm));
    mt_status (*const kinds[4])(mt_mask_mode, mt_layer **) = {
        mt_global_avg_pool1d_new, mt_global_max_pool1d_new, mt_first_step_new,
        mt_last_step_new};
    for (int kind = 0; kind < 4; kind++) {
        mt_graph *g = NULL;
        int xi, mi;
        assert_ok(mt_graph_new(&g));
        assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){4, 2}, &xi));
        assert_ok(mt_graph_input(g, "m", MT_DTYPE_BOOL, 1, (int64_t[]){4}, &mi));
        assert_ok(kinds[kind](MT_MASK_MODE_KEEP, &l));
        assert_ok(mt_graph_output(g, node(g, "masked", l, 2, (int[]){xi, mi})));
        const mt_tensor *y = NULL;
        assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){x, nm}, 1, &y));
        static const float want[4] = {1, -1, 0, 0};
        assert_close((const float *)y->data, want, 4, 0, 0);
        mt_graph_free(g);
    }
    mt_tensor_free(nm);
    mt_tensor_free(kp);
    mt_tensor_free(x);
    mt_tensor_free(ids);
    mt_tensor_free(t);
}

/* Masks of other dtypes (F16, I8, U64; any nonzero keeps) and a batch in
 * which every sample is fully masked: the pools give zeros, the fill fills
 * everything. By hand. */
static void masks_of_any_dtype_and_all_masked(void **state)
{
    (void)state;
    // x [2,3,2]; keep {{1,0,1},{0,1,0}} as F16 (1.0 = 0x3C00), I8 (-1), U64 (2^63)
    static const float xs[12] = {1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6};
    static const uint16_t f16[6] = {0x3C00, 0, 0x3C00, 0, 0x3C00, 0};
    static const int8_t i8[6] = {-1, 0, -1, 0, -1, 0};
    static const uint64_t u64[6] = {1ull << 63, 0, 1ull << 63, 0, 1ull << 63, 0};
    const void *data[3] = {f16, i8, u64};
    const mt_dtype dtypes[3] = {MT_DTYPE_F16, MT_DTYPE_I8, MT_DTYPE_U64};
    static const float avg[4] = {3, 4, -3, -4}, mx[4] = {5, 6, -3, -4};
    static const float last[4] = {5, 6, -3, -4};
    static const float fill[12] = {1, 2, 9, 9, 5, 6, 9, 9, -3, -4, 9, 9};
    mt_tensor *x = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 3, (int64_t[]){2, 3, 2}, xs, &x));
    for (int d = 0; d < 4; d++) {
        mt_tensor *m = NULL;
        if (d < 3)
            assert_ok(mt_tensor_from_data(dtypes[d], 2, (int64_t[]){2, 3}, data[d], &m));
        else   // every step of every sample masked
            assert_ok(mt_tensor_zeros(MT_DTYPE_BOOL, 2, (int64_t[]){2, 3}, &m));
        mt_graph *g = NULL;
        mt_layer *l = NULL;
        int xi, mi;
        assert_ok(mt_graph_new(&g));
        assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){3, 2}, &xi));
        assert_ok(mt_graph_input(g, "m", m->dtype, 1, (int64_t[]){3}, &mi));
        mt_status (*const kinds[3])(mt_mask_mode, mt_layer **) = {
            mt_global_avg_pool1d_new, mt_global_max_pool1d_new, mt_last_step_new};
        for (int k = 0; k < 3; k++) {
            assert_ok(kinds[k](MT_MASK_MODE_KEEP, &l));
            assert_ok(mt_graph_output(g, node(g, (const char *[]){"avg", "max", "last"}[k], l, 2,
                                              (int[]){xi, mi})));
        }
        assert_ok(mt_masked_fill_new(9, MT_MASK_MODE_KEEP, &l));
        assert_ok(mt_graph_output(g, node(g, "fill", l, 2, (int[]){xi, mi})));
        const mt_tensor *y[4];
        assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){x, m}, 4, y));
        static const float zeros[4] = {0}, nines[12] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
        assert_close((const float *)y[0]->data, d < 3 ? avg : zeros, 4, 1e-6, 0);
        assert_close((const float *)y[1]->data, d < 3 ? mx : zeros, 4, 0, 0);
        assert_close((const float *)y[2]->data, d < 3 ? last : zeros, 4, 0, 0);
        assert_close((const float *)y[3]->data, d < 3 ? fill : nines, 12, 0, 0);
        mt_graph_free(g);
        mt_tensor_free(m);
    }
    mt_tensor_free(x);
}

/* Out of memory at every allocation while a masked model is built and run
 * (padding mask, Masking, masked fill, a MultiHeadAttention with a key
 * padding mask, a masked pool): MT_ERR_OUT_OF_MEMORY, nothing leaked. */
static void out_of_memory_masked_model(void **state)
{
    (void)state;
    const mt_state_dict sd = {torch_refs, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = NULL, *ids = NULL;
    assert_ok(mt_tensor_full(3, (int64_t[]){2, 5, 8}, 0.5f, &x));
    assert_ok(mt_tensor_zeros(MT_DTYPE_I64, 2, (int64_t[]){2, 5}, &ids));
    ((int64_t *)ids->data)[1] = 3;
    int failures = 0;
    bool ran = false;
    for (long k = 0; k < 1000 && !ran; k++) {
        alloc_probe probe;
        probe_install(&probe, k);
        mt_graph *g = NULL;
        mt_layer *l = NULL;
        int xi, ii, pm, mk, fl, at, pl;
        const mt_tensor *y = NULL;
        mt_status s;
        if (!(s = mt_graph_new(&g)) &&
            !(s = mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){5, 8}, &xi)) &&
            !(s = mt_graph_input(g, "ids", MT_DTYPE_I64, 1, (int64_t[]){5}, &ii)) &&
            !(s = mt_padding_mask_new(0, MT_MASK_MODE_IGNORE, &l)) &&
            !(s = mt_graph_add(g, "pm", l, 1, &ii, &pm)) &&
            !(s = mt_masking_new(0, MT_MASK_MODE_KEEP, &l)) &&
            !(s = mt_graph_add(g, "mk", l, 1, &xi, &mk)) &&
            !(s = mt_masked_fill_new(0, MT_MASK_MODE_KEEP, &l)) &&
            !(s = mt_graph_add(g, "fill", l, 2, (int[]){xi, mk}, &fl)) &&
            !(s = mt_multihead_attention_load(&sd, "mha", 2, false, &l)) &&
            !(s = mt_multihead_attention_masks_set(l, &(mt_attention_masks){
                  .key_padding = MT_MASK_MODE_IGNORE})) &&
            !(s = mt_graph_add(g, "attn", l, 2, (int[]){fl, pm}, &at)) &&
            !(s = mt_global_avg_pool1d_new(MT_MASK_MODE_IGNORE, &l)) &&
            !(s = mt_graph_add(g, "pool", l, 2, (int[]){at, pm}, &pl)) &&
            !(s = mt_graph_output(g, pl)))
            s = mt_graph_forward(g, 2, (const mt_tensor *[]){x, ids}, 1, &y);
        mt_graph_free(g);
        probe_remove();
        assert_int_equal(probe.live, 0);
        ran = s == MT_OK;
        if (!ran)
            assert_int_equal(s, MT_ERR_OUT_OF_MEMORY);
        failures += !ran;
    }
    assert_true(ran);   // the model ran within the allocations tried
    assert_true(failures > 10);
    mt_tensor_free(ids);
    mt_tensor_free(x);
}

/* ---- errors ------------------------------------------------------------------- */

static void wrong_masks_fail_clearly(void **state)
{
    (void)state;
    const mt_state_dict sd = {torch_refs, MT_FRAMEWORK_PYTORCH};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, kp6, kpf, am, am4;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){5, 8}, &x));
    assert_ok(mt_graph_input(g, "kp6", MT_DTYPE_BOOL, 1, (int64_t[]){6}, &kp6));
    assert_ok(mt_graph_input(g, "kpi", MT_DTYPE_I32, 1, (int64_t[]){5}, &kpf));
    assert_ok(mt_graph_input(g, "am", MT_DTYPE_BOOL, 2, (int64_t[]){5, 4}, &am));
    assert_ok(mt_graph_input(g, "am4", MT_DTYPE_F32, 3, (int64_t[]){3, 5, 5}, &am4));
    const mt_attention_masks kp_only = {.key_padding = MT_MASK_MODE_IGNORE};

    assert_ok(mt_multihead_attention_load(&sd, "mha", 2, false, &l));
    assert_ok(mt_multihead_attention_masks_set(l, &kp_only));
    assert_fails(mt_graph_add(g, "a", l, 2, (int[]){x, kp6}, NULL), MT_ERR_SHAPE,
                 "graph: node 'a' (multihead_attention mha.out_proj.weight) expects a "
                 "key_padding mask [N,Lk] = [1,5], input 'kp6' gives [1,6]");
    assert_ok(mt_multihead_attention_load(&sd, "mha", 2, false, &l));
    assert_ok(mt_multihead_attention_masks_set(l, &kp_only));
    assert_fails(mt_graph_add(g, "a", l, 1, &x, NULL), MT_ERR_SHAPE,
                 "expects 1 input (self-attention) or 3 (query, key, value), then its 1 mask, "
                 "given 1");
    assert_ok(mt_multihead_attention_load(&sd, "mha", 2, false, &l));
    assert_ok(mt_multihead_attention_masks_set(l, &(mt_attention_masks){
        .key_padding = MT_MASK_MODE_ADD}));
    assert_fails(mt_graph_add(g, "a", l, 2, (int[]){x, kpf}, NULL), MT_ERR_DTYPE,
                 "expects a float key_padding mask (MT_MASK_MODE_ADD: added to the scores), "
                 "input 'kpi' gives I32");
    assert_ok(mt_multihead_attention_load(&sd, "mha", 2, false, &l));
    assert_ok(mt_multihead_attention_masks_set(l, &(mt_attention_masks){
        .attn = MT_MASK_MODE_IGNORE}));
    assert_fails(mt_graph_add(g, "a", l, 2, (int[]){x, am}, NULL), MT_ERR_SHAPE,
                 "expects an attn mask [N,Lq,Lk] = [1,5,5] or [N,heads,Lq,Lk] = [1,2,5,5], "
                 "input 'am' gives [1,5,4]");
    assert_ok(mt_multihead_attention_load(&sd, "mha", 2, false, &l));
    assert_ok(mt_multihead_attention_masks_set(l, &(mt_attention_masks){
        .attn = MT_MASK_MODE_ADD}));
    assert_fails(mt_graph_add(g, "a", l, 2, (int[]){x, am4}, NULL), MT_ERR_SHAPE,
                 "input 'am4' gives [1,3,5,5]");

    // modes, the wrong layer, a layer a model owns
    assert_ok(mt_multihead_attention_load(&sd, "mha", 2, false, &l));
    assert_fails(mt_multihead_attention_masks_set(l, &(mt_attention_masks){
                     .query_padding = MT_MASK_MODE_ADD}), MT_ERR_INVALID_ARGUMENT,
                 "query_padding mode 3 is not NONE, KEEP or IGNORE");
    assert_fails(mt_multihead_attention_masks_set(l, &(mt_attention_masks){
                     .attn = (mt_mask_mode)7}), MT_ERR_INVALID_ARGUMENT,
                 "attn mode 7 is not NONE, KEEP, IGNORE or ADD");
    int a;
    mt_attention_masks got = {.attn = MT_MASK_MODE_KEEP};
    assert_ok(mt_graph_add(g, "plain", l, 1, &x, &a));
    assert_fails(mt_multihead_attention_masks_set(l, &kp_only), MT_ERR_INVALID_ARGUMENT,
                 "belongs to a model already: set its masks before adding it");
    // the failed sets changed nothing
    assert_ok(mt_multihead_attention_masks_get(l, &got));
    assert_int_equal(got.key_padding, MT_MASK_MODE_NONE);
    assert_int_equal(got.attn, MT_MASK_MODE_NONE);
    assert_int_equal(got.query_padding, MT_MASK_MODE_NONE);
    assert_fails(mt_multihead_attention_masks_get(l, NULL), MT_ERR_INVALID_ARGUMENT,
                 "multihead_attention_masks_get: NULL argument");
    assert_ok(mt_relu_new(&l));
    assert_fails(mt_multihead_attention_masks_set(l, &kp_only), MT_ERR_INVALID_ARGUMENT,
                 "layer 'relu' is not a MultiHeadAttention");
    assert_fails(mt_multihead_attention_masks_get(l, &got), MT_ERR_INVALID_ARGUMENT,
                 "layer 'relu' is not a MultiHeadAttention");
    mt_layer_free(l);
    assert_fails(mt_multihead_attention_masks_set(NULL, &kp_only), MT_ERR_INVALID_ARGUMENT,
                 "layer is NULL");

    // the mask layers
    assert_fails(mt_padding_mask_new(0, MT_MASK_MODE_ADD, &l), MT_ERR_INVALID_ARGUMENT,
                 "padding_mask: mode 3 is not KEEP or IGNORE");
    assert_null(l);
    assert_ok(mt_padding_mask_new(0, MT_MASK_MODE_KEEP, &l));
    assert_fails(mt_graph_add(g, "pm", l, 1, &x, NULL), MT_ERR_DTYPE,
                 "graph: node 'pm' (padding_mask id != 0) expects integer token ids [N,L], "
                 "input 'x' gives F32 [1,5,8]");
    int ids3;
    assert_ok(mt_graph_input(g, "ids3", MT_DTYPE_I64, 2, (int64_t[]){5, 2}, &ids3));
    assert_ok(mt_padding_mask_new(0, MT_MASK_MODE_KEEP, &l));
    assert_fails(mt_graph_add(g, "pm", l, 1, &ids3, NULL), MT_ERR_SHAPE,
                 "expects integer token ids [N,L], input 'ids3' gives I64 [1,5,2]");
    assert_fails(mt_global_avg_pool1d_new(MT_MASK_MODE_ADD, &l), MT_ERR_INVALID_ARGUMENT,
                 "global_avg_pool1d: mask mode 3 is not NONE, KEEP or IGNORE");
    assert_ok(mt_global_max_pool1d_new(MT_MASK_MODE_KEEP, &l));
    assert_fails(mt_graph_add(g, "gmp", l, 2, (int[]){x, kp6}, NULL), MT_ERR_SHAPE,
                 "graph: node 'gmp' (global_max_pool1d masked (keep)) expects a mask [N,L] = "
                 "[1,5] (input 'x' gives [1,5,8]), input 'kp6' gives [1,6]");
    assert_ok(mt_global_avg_pool1d_new(MT_MASK_MODE_KEEP, &l));
    assert_fails(mt_graph_add(g, "gap", l, 1, &x, NULL), MT_ERR_SHAPE,
                 "expects 2 inputs (x, mask), given 1");
    assert_ok(mt_global_avg_pool1d_new(MT_MASK_MODE_NONE, &l));
    assert_fails(mt_graph_add(g, "gap", l, 1, &kp6, NULL), MT_ERR_DTYPE,
                 "expects F32 [N,L,C], input 'kp6' gives BOOL [1,6]");
    assert_fails(mt_padding_mask_new(0, MT_MASK_MODE_KEEP, NULL), MT_ERR_INVALID_ARGUMENT,
                 "padding_mask: out is NULL");
    assert_fails(mt_masking_new(0, MT_MASK_MODE_NONE, &l), MT_ERR_INVALID_ARGUMENT,
                 "masking: mode 0 is not KEEP or IGNORE");
    assert_ok(mt_masking_new(0, MT_MASK_MODE_KEEP, &l));
    assert_fails(mt_graph_add(g, "mk", l, 1, &kp6, NULL), MT_ERR_DTYPE,
                 "graph: node 'mk' (masking 0) expects F32 steps [N,L,C], input 'kp6' gives "
                 "BOOL [1,6]");
    assert_fails(mt_masked_fill_new(0, MT_MASK_MODE_ADD, &l), MT_ERR_INVALID_ARGUMENT,
                 "masked_fill: mode 3 is not KEEP or IGNORE");
    assert_ok(mt_masked_fill_new(0, MT_MASK_MODE_IGNORE, &l));
    assert_fails(mt_graph_add(g, "fill", l, 2, (int[]){x, kp6}, NULL), MT_ERR_SHAPE,
                 "graph: node 'fill' (masked_fill 0) expects a mask [N,L] = [1,5] (input 'x' "
                 "gives [1,5,8]), input 'kp6' gives [1,6]");
    assert_fails(mt_masked_fill_new(0, MT_MASK_MODE_IGNORE, NULL), MT_ERR_INVALID_ARGUMENT,
                 "masked_fill: out is NULL");
    mt_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(torch_key_padding),
        cmocka_unit_test(torch_attn_mask),
        cmocka_unit_test(torch_cross_attention),
        cmocka_unit_test(torch_encoder_classifier),
        cmocka_unit_test(torch_encoder_stack_zeros_padding),
        cmocka_unit_test(torch_decoder_layer),
        cmocka_unit_test(torch_bert_attention),
        cmocka_unit_test(keras_masking),
        cmocka_unit_test(keras_mask_zero_classifier),
        cmocka_unit_test(keras_attention_mask),
        cmocka_unit_test(padding_mask_and_pools),
        cmocka_unit_test(masks_of_any_dtype_and_all_masked),
        cmocka_unit_test(out_of_memory_masked_model),
        cmocka_unit_test(wrong_masks_fail_clearly),
    };
    return cmocka_run_group_tests(tests, open_refs, close_refs);
}
