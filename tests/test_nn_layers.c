/* test_nn_layers.c — the layers built on the newer ops against PyTorch
 * (reference/make_nn_layers_refs.py -> reference/nn_layers.safetensors):
 * activations, LeakyReLU, LayerNorm, RMSNorm, Embedding, Pad, AvgPool2D,
 * Upsample and MultiHeadAttention (packed and separate projections,
 * causal), each alone and inside a graph; GELU fused into a Linear; no heap
 * in a second pass. */
#include "test_util.h"

static mt_safetensors *refs;

static int open_refs(void **state)
{
    (void)state;
    return mt_safetensors_open(REFS_DIR "/nn_layers.safetensors", &refs) != MT_OK;
}

static int close_refs(void **state)
{
    (void)state;
    mt_safetensors_close(refs);
    return 0;
}

static mt_tensor *ref(const char *name)
{
    mt_tensor *t = NULL;
    assert_ok(mt_safetensors_get(refs, name, &t));
    return t;
}

/* layer alone on input `in` against `want`, then the tensors are freed. */
static void check_alone(mt_layer *l, const char *in, const char *want, double tol)
{
    mt_tensor *x = ref(in), *w = ref(want), *y = NULL;
    assert_ok(mt_layer_forward(l, x, &y));
    assert_int_equal(mt_tensor_numel(y), mt_tensor_numel(w));
    assert_close((const float *)y->data, (const float *)w->data, (size_t)mt_tensor_numel(w),
                 tol, tol);
    mt_tensor_free(y);
    mt_tensor_free(w);
    mt_tensor_free(x);
    mt_layer_free(l);
}

static void activations(void **state)
{
    (void)state;
    const struct { mt_activation act; const char *want; } cases[] = {
        {MT_ACTIVATION_GELU, "act.gelu"},       {MT_ACTIVATION_GELU_TANH, "act.gelu_tanh"},
        {MT_ACTIVATION_TANH, "act.tanh"},       {MT_ACTIVATION_SIGMOID, "act.sigmoid"},
        {MT_ACTIVATION_SILU, "act.silu"},
    };
    mt_layer *l = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_ok(mt_activation_layer_new(cases[i].act, &l));
        mt_layer_info info;
        assert_ok(mt_layer_info_get(l, &info));
        assert_int_equal(info.act, cases[i].act);
        check_alone(l, "act.x", cases[i].want, 1e-6);
    }
    assert_ok(mt_leaky_relu_new(0.1f, &l));
    check_alone(l, "act.x", "act.leaky", 0);
    assert_ok(mt_elu_new(0.5f, &l));
    check_alone(l, "act.x", "act.elu", 1e-6);
    assert_ok(mt_hardswish_new(&l));
    check_alone(l, "act.x", "act.hardswish", 1e-6);
    assert_ok(mt_softplus_new(&l));
    check_alone(l, "act.x", "act.softplus", 1e-6);
    assert_fails(mt_elu_new(NAN, &l), MT_ERR_INVALID_ARGUMENT, "elu: alpha nan is not finite");
    assert_fails(mt_activation_layer_new(MT_ACTIVATION_NONE, &l), MT_ERR_INVALID_ARGUMENT,
                 "activation: unknown activation 0");
}

/* Linear (W = I) then GELU: the GELU runs inside the matmul (same values). */
static void gelu_fused_into_linear(void **state)
{
    (void)state;
    static float eye[25];
    for (int i = 0; i < 5; i++)
        eye[i * 6] = 1;
    mt_tensor *w = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){5, 5}, eye, &w));
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_sequential_new(1, (int64_t[]){5}, &m));
    assert_ok(mt_linear_new(w, NULL, &(mt_linear_options){.layout = MT_LAYOUT_IN_OUT}, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_activation_layer_new(MT_ACTIVATION_GELU, &l));
    assert_ok(mt_sequential_add(m, l));
    mt_tensor *x = ref("act.x"), *want = ref("act.gelu");
    const mt_tensor *y = NULL;
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_close((const float *)y->data, (const float *)want->data, 15, 1e-6, 1e-6);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_tensor_free(w);
    mt_sequential_free(m);
}

static void norms_embedding_pad(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    mt_layer *l = NULL;
    assert_ok(mt_layer_norm_load(&sd, "ln", NULL, &l));   /* LayerNorm([3,4]) */
    check_alone(l, "ln.x", "ln.y", 1e-5);
    mt_tensor *w = ref("rms.weight");
    assert_ok(mt_rms_norm_new(w, &(mt_norm_options){.eps = 1e-6f}, &l));
    check_alone(l, "rms.x", "rms.y", 1e-5);
    mt_tensor_free(w);
    assert_ok(mt_rms_norm_load(&sd, "rms", &(mt_norm_options){.eps = 1e-6f}, &l));
    check_alone(l, "rms.x", "rms.y", 1e-5);
    // a mistyped prefix is not a LayerNorm without weights
    assert_fails(mt_layer_norm_load(&sd, "lnn", NULL, &l), MT_ERR_NOT_FOUND,
                 "layer_norm lnn: neither lnn.weight nor lnn.bias is in the file");
    assert_fails(mt_rms_norm_load(&sd, "ln.x", NULL, &l), MT_ERR_NOT_FOUND, "ln.x.weight");
    assert_ok(mt_embedding_load(&sd, "emb", &l));
    check_alone(l, "emb.ids", "emb.y", 0);
    const int64_t pads[4] = {1, 2, 0, 1};
    assert_ok(mt_pad_new(4, pads, MT_PAD_REFLECT, 0, &l));
    check_alone(l, "pad.x", "pad.reflect", 0);
    assert_ok(mt_pad_new(4, pads, MT_PAD_CONSTANT, 0.5f, &l));
    check_alone(l, "pad.x", "pad.constant", 0);
    const int64_t crop[4] = {-1, 2, 1, -1};   /* negative pads crop, in every mode */
    assert_ok(mt_pad_new(4, crop, MT_PAD_REPLICATE, 0, &l));
    check_alone(l, "pad.x", "pad.replicate_crop", 0);

    /* nn.AvgPool2d(3, 2, padding=1), nn.Upsample, nn.MaxPool2d and
     * nn.AvgPool2d with ceil_mode, nn.AdaptiveAvgPool2d, on NHWC. */
    assert_ok(mt_avg_pool2d_new(&(mt_avg_pool2d_options){.pool_h = 3, .pool_w = 3,
                                                         .stride_h = 2, .stride_w = 2,
                                                         .pad_h = 1, .pad_w = 1,
                                                         .count_include_pad = true}, &l));
    check_alone(l, "pool.x", "pool.avg", 1e-6);
    assert_ok(mt_upsample_new(&(mt_interpolate_params){.scale_h = 2, .scale_w = 2}, &l));
    check_alone(l, "pool.x", "pool.up_nearest", 0);
    assert_ok(mt_upsample_new(&(mt_interpolate_params){.mode = MT_INTERPOLATE_BILINEAR,
                                                       .out_h = 5, .out_w = 9}, &l));
    check_alone(l, "pool.x", "pool.up_bilinear", 1e-6);
    /* ceil_mode: 7x6 -> 4x4 (floor: 3x3), 4x3, 4x3; AdaptiveAvgPool2d((3,4)) */
    assert_ok(mt_max_pool2d_new(&(mt_max_pool2d_options){3, 3, 2, 2, .pad_h = 1, .pad_w = 1,
                                                         .ceil_mode = true}, &l));
    check_alone(l, "pool.x", "pool.max_ceil", 0);
    assert_ok(mt_max_pool2d_new(&(mt_max_pool2d_options){.pool_h = 2, .pool_w = 2,
                                                         .ceil_mode = true}, &l));
    check_alone(l, "pool.x", "pool.max_ceil_valid", 0);
    assert_ok(mt_max_pool2d_new(&(mt_max_pool2d_options){2, 2, 3, 3, .pad_h = 1, .pad_w = 1,
                                                         .ceil_mode = true}, &l));
    check_alone(l, "pool.x", "pool.max_ceil_pad", 0);
    assert_ok(mt_avg_pool2d_new(&(mt_avg_pool2d_options){.pool_h = 2, .pool_w = 2,
                                                         .ceil_mode = true}, &l));
    check_alone(l, "pool.x", "pool.avg_ceil", 1e-6);
    assert_ok(mt_adaptive_avg_pool2d_new(3, 4, &l));
    check_alone(l, "pool.x", "pool.adaptive", 1e-6);
    assert_fails(mt_adaptive_avg_pool2d_new(0, 4, &l), MT_ERR_INVALID_ARGUMENT,
                 "adaptive_avg_pool2d: output size (0,4), expected >= 1");
    mt_sequential *pooled = NULL;
    assert_ok(mt_sequential_new(3, (int64_t[]){7, 6, 3}, &pooled));
    assert_ok(mt_avg_pool2d_new(&(mt_avg_pool2d_options){INT64_MAX, 3, 1, 1,
                                                         .pad_h = INT64_MAX / 2}, &l));
    assert_fails(mt_sequential_add(pooled, l), MT_ERR_OVERFLOW,
                 "its window 9223372036854775807x3 on the 7x6 image the input gives: a size "
                 "overflows");
    assert_ok(mt_upsample_new(&(mt_interpolate_params){.scale_h = 1e30, .scale_w = 1}, &l));
    assert_fails(mt_sequential_add(pooled, l), MT_ERR_OVERFLOW,
                 "scales (1e+30,1) make the 7x6 image the input gives too large");
    mt_sequential_free(pooled);

    /* Shape errors when built. */
    mt_sequential *m = NULL;
    assert_ok(mt_sequential_new(2, (int64_t[]){3, 5}, &m));
    assert_ok(mt_layer_norm_load(&sd, "ln", NULL, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "sequential: layer 1 (layer_norm ln.weight) expects F32 [..., 3,4] (2 "
                 "normalized dims), the input gives F32 [1,3,5]");
    assert_ok(mt_embedding_load(&sd, "emb", &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_DTYPE,
                 "sequential: layer 1 (embedding emb.weight) expects I32 or I64 token ids, "
                 "the input gives F32");
    mt_sequential_free(m);
}

/* The weights of "mha" in a file of their own under names[0..n), and the
 * layer loaded from it under "hf" matching PyTorch's output. */
static void load_renamed(const char *const *names, mt_tensor *const *t, int n)
{
    mt_safetensors_item items[8];
    for (int i = 0; i < n; i++)
        items[i] = (mt_safetensors_item){names[i], 0, t[i]};
    void *buf = NULL;
    size_t size = 0;
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_serialize(items, (size_t)n, NULL, 0, &buf, &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &st));
    mt_layer *l = NULL;
    assert_ok(mt_multihead_attention_load(&(mt_state_dict){st, MT_FRAMEWORK_PYTORCH}, "hf", 2,
                                          false, &l));
    check_alone(l, "mha.x", "mha.y", 1e-5);
    mt_safetensors_close(st);
    mt_safetensors_buffer_free(buf);
}

/* nn.MultiheadAttention's weights under Hugging Face's names: four Linears
 * (CLIP's and BART's q_proj … out_proj, BERT's self.query … output.dense,
 * ViT's attention.query …, DistilBERT's q_lin …) and GPT-2's c_attn and
 * c_proj (Conv1D, (in, out): stored transposed). */
static void hf_attention_names(void)
{
    static const char *const conventions[4][4] = {
        {"q_proj", "k_proj", "v_proj", "out_proj"},
        {"self.query", "self.key", "self.value", "output.dense"},
        {"attention.query", "attention.key", "attention.value", "output.dense"},
        {"q_lin", "k_lin", "v_lin", "out_lin"},
    };
    mt_tensor *w = ref("mha.in_proj_weight"), *b = ref("mha.in_proj_bias");
    mt_tensor *ow = ref("mha.out_proj.weight"), *ob = ref("mha.out_proj.bias");
    mt_tensor *t[8] = {0};
    for (int i = 0; i < 3; i++) {   /* q, k, v: rows 8i.. of the packed weight */
        assert_ok(mt_narrow(w, 0, 8 * i, 8, &t[i]));
        assert_ok(mt_narrow(b, 0, 8 * i, 8, &t[4 + i]));
    }
    t[3] = ow;
    t[7] = ob;
    for (int c = 0; c < 4; c++) {
        char names[8][40];
        const char *p[8];
        for (int i = 0; i < 8; i++) {
            snprintf(names[i], sizeof names[i], "hf.%s.%s", conventions[c][i % 4],
                     i < 4 ? "weight" : "bias");
            p[i] = names[i];
        }
        load_renamed(p, t, 8);
    }
    mt_tensor *wt = NULL, *owt = NULL, *c_attn = NULL, *c_proj = NULL;
    assert_ok(mt_transpose(w, 0, 1, &wt));
    assert_ok(mt_transpose(ow, 0, 1, &owt));
    assert_ok(mt_tensor_contiguous(wt, &c_attn));
    assert_ok(mt_tensor_contiguous(owt, &c_proj));
    load_renamed((const char *[]){"hf.c_attn.weight", "hf.c_attn.bias", "hf.c_proj.weight",
                                  "hf.c_proj.bias"},
                 (mt_tensor *[]){c_attn, b, c_proj, ob}, 4);
    mt_tensor_free(c_proj);
    mt_tensor_free(c_attn);
    mt_tensor_free(owt);
    mt_tensor_free(wt);
    for (int i = 0; i < 3; i++) {
        mt_tensor_free(t[i]);
        mt_tensor_free(t[4 + i]);
    }
    mt_tensor_free(ob);
    mt_tensor_free(ow);
    mt_tensor_free(b);
    mt_tensor_free(w);
}

static void multihead_attention_matches_pytorch(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    mt_layer *l = NULL;
    /* Packed in_proj_weight, self-attention, alone. */
    assert_ok(mt_multihead_attention_load(&sd, "mha", 2, false, &l));
    check_alone(l, "mha.x", "mha.y", 1e-5);
    assert_ok(mt_multihead_attention_load(&sd, "mha", 2, true, &l));
    check_alone(l, "mha.x", "mha.y_causal", 1e-5);

    /* add_bias_kv=True: its bias_k and bias_v are refused, not ignored */
    mt_tensor *w = ref("mha.in_proj_weight"), *ow = ref("mha.out_proj.weight"), *bk = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){1, 1, 8}, &bk));
    const mt_safetensors_item items[3] = {{"attn.in_proj_weight", 0, w},
                                          {"attn.out_proj.weight", 0, ow},
                                          {"attn.bias_k", 0, bk}};
    void *buf = NULL;
    size_t size = 0;
    mt_safetensors *kv = NULL;
    assert_ok(mt_safetensors_serialize(items, 3, NULL, 0, &buf, &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &kv));
    assert_fails(mt_multihead_attention_load(&(mt_state_dict){kv, MT_FRAMEWORK_PYTORCH}, "attn",
                                             2, false, &l),
                 MT_ERR_UNSUPPORTED, "multihead_attention_load attn: attn.bias_k is in the "
                 "file: add_bias_kv=True is not supported");
    assert_null(l);
    mt_safetensors_close(kv);
    mt_safetensors_buffer_free(buf);
    mt_tensor_free(bk);
    /* a packed weight a row short: the message gives E's value */
    mt_tensor *short_w = NULL;
    assert_ok(mt_narrow(w, 0, 0, 23, &short_w));
    assert_fails(mt_multihead_attention_new(&(mt_attention_weights){
        .in_proj_weight = short_w, .out_weight = ow}, 2, false, &l), MT_ERR_SHAPE,
        "in_proj_weight mha.in_proj_weight [23,8], expected [24,8] (E = 8, "
        "out_weight's size)");
    mt_tensor_free(short_w);
    mt_tensor_free(ow);
    mt_tensor_free(w);

    hf_attention_names();

    /* Separate q/k/v projections (kdim 6, vdim 4): three graph inputs. */
    mt_graph *g = NULL;
    int q, k, v, y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "q", MT_DTYPE_F32, 2, (int64_t[]){3, 8}, &q));
    assert_ok(mt_graph_input(g, "k", MT_DTYPE_F32, 2, (int64_t[]){5, 6}, &k));
    assert_ok(mt_graph_input(g, "v", MT_DTYPE_F32, 2, (int64_t[]){5, 4}, &v));
    assert_ok(mt_multihead_attention_load(&sd, "mha2", 4, false, &l));
    assert_fails(mt_graph_add(g, "attn", l, 3, (int[]){q, v, k}, NULL), MT_ERR_SHAPE,
                 "graph: node 'attn' (multihead_attention mha2.out_proj.weight) expects F32 "
                 "[N,L,6] (batch first), input 'v' gives 3 dims, last 4");
    assert_ok(mt_multihead_attention_load(&sd, "mha2", 4, false, &l));
    assert_ok(mt_graph_add(g, "attn", l, 3, (int[]){q, k, v}, &y));
    assert_ok(mt_graph_output(g, y));
    mt_tensor *xq = ref("mha2.q"), *xk = ref("mha2.k"), *xv = ref("mha2.v");
    mt_tensor *want = ref("mha2.y");
    const mt_tensor *out = NULL;
    /* the probe goes in first: installing it drops the ops' cached buffers
     * (the wasm32 matmul packs these small operands in one), which the
     * first pass then grows again */
    alloc_probe probe;
    probe_install(&probe, -1);
    for (int rep = 0; rep < 2; rep++) {
        long before = probe.allocations;
        assert_ok(mt_graph_forward(g, 3, (const mt_tensor *[]){xq, xk, xv}, 1, &out));
        if (rep)
            assert_int_equal(probe.allocations - before, 0);   /* scratch from the planner */
        assert_close((const float *)out->data, (const float *)want->data, 48, 1e-5, 1e-5);
    }
    probe_remove();
    mt_tensor_free(want);
    mt_tensor_free(xv);
    mt_tensor_free(xk);
    mt_tensor_free(xq);
    mt_graph_free(g);
}

/* A tensor struct of `shape` named `name` with no data (a hand-filled
 * struct whose data pointer was forgotten). */
static mt_tensor no_data(int rank, const int64_t *shape, const char *name)
{
    mt_tensor t = {.dtype = MT_DTYPE_F32, .rank = rank};
    for (int d = rank - 1, step = 1; d >= 0; step *= (int)shape[d], d--) {
        t.shape[d] = shape[d];
        t.stride[d] = step;
    }
    mt_tensor_name_set(&t, name);
    return t;
}

/* Every constructor that takes tensors refuses one with no data (or a
 * broken shape) before reading it, naming the layer, the tensor's role,
 * its name and its shape; so does mt_layer_forward for its input. */
static void constructors_name_layer_and_tensor(void **state)
{
    (void)state;
    float d[16] = {0};
    mt_tensor w2 = no_data(2, (const int64_t[]){4, 3}, "fc.weight"),
              b1 = no_data(1, (const int64_t[]){4}, "fc.bias"),
              k4 = no_data(4, (const int64_t[]){4, 3, 3, 3}, "c.weight"),
              k3 = no_data(3, (const int64_t[]){4, 3, 3}, "c1.weight"),
              k5 = no_data(5, (const int64_t[]){4, 3, 3, 3, 3}, "c3.weight"),
              t4 = no_data(4, (const int64_t[]){3, 4, 3, 3}, "t2.weight"),
              t3 = no_data(3, (const int64_t[]){3, 4, 3}, "t1.weight"),
              t5 = no_data(5, (const int64_t[]){3, 4, 3, 3, 3}, "t3.weight"),
              v4 = no_data(1, (const int64_t[]){4}, "bn.running_mean"),
              e2 = no_data(2, (const int64_t[]){10, 4}, "emb.weight"),
              ow = no_data(2, (const int64_t[]){4, 4}, "attn.out_proj.weight"),
              neg = no_data(4, (const int64_t[]){4, -3, 3, 3}, "neg.weight");
    mt_tensor wd = w2, vd = v4;
    wd.data = d, vd.data = d;
    mt_layer *l = NULL;
    assert_fails(mt_linear_new(&w2, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "linear fc.weight: weight fc.weight [4,3] has no data");
    assert_fails(mt_linear_new(&wd, &b1, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "linear fc.weight: bias fc.bias [4] has no data");
    assert_fails(mt_conv2d_new(&k4, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "conv2d c.weight: kernel c.weight [4,3,3,3] has no data");
    assert_fails(mt_conv2d_new(&neg, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "conv2d neg.weight: kernel neg.weight [4,-3,3,3] has a negative dim");
    assert_fails(mt_conv2d_new(&(mt_tensor){.rank = 99}, NULL, NULL, &l),
                 MT_ERR_INVALID_ARGUMENT, "conv2d: kernel is not a valid tensor (rank 99, dtype 0)");
    assert_fails(mt_conv1d_new(&k3, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "conv1d c1.weight: kernel c1.weight [4,3,3] has no data");
    assert_fails(mt_conv3d_new(&k5, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "conv3d c3.weight: kernel c3.weight [4,3,3,3,3] has no data");
    assert_fails(mt_conv_transpose1d_new(&t3, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "conv_transpose1d t1.weight: weight t1.weight [3,4,3] has no data");
    assert_fails(mt_conv_transpose2d_new(&t4, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "conv_transpose2d t2.weight: weight t2.weight [3,4,3,3] has no data");
    assert_fails(mt_conv_transpose3d_new(&t5, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "conv_transpose3d t3.weight: weight t3.weight [3,4,3,3,3] has no data");
    assert_fails(mt_batch_norm_new(&vd, &v4, NULL, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "batch_norm bn.running_mean: var bn.running_mean [4] has no data");
    assert_fails(mt_layer_norm_new(&v4, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "layer_norm bn.running_mean: weight bn.running_mean [4] has no data");
    assert_fails(mt_rms_norm_new(&v4, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "rms_norm bn.running_mean: weight bn.running_mean [4] has no data");
    assert_fails(mt_group_norm_new(2, &vd, &v4, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "group_norm bn.running_mean: bias bn.running_mean [4] has no data");
    assert_fails(mt_embedding_new(&e2, &l), MT_ERR_INVALID_ARGUMENT,
                 "embedding emb.weight: weight emb.weight [10,4] has no data");
    assert_fails(mt_einsum_dense_new(&w2, NULL, "ab,bc->ac", MT_ACTIVATION_NONE, &l),
                 MT_ERR_INVALID_ARGUMENT,
                 "einsum_dense fc.weight: kernel fc.weight [4,3] has no data");
    assert_fails(mt_additive_attention_new(&v4, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "additive_attention: scale bn.running_mean [4] has no data");
    assert_fails(mt_multihead_attention_new(&(mt_attention_weights){.out_weight = &ow}, 2,
                                            false, &l),
                 MT_ERR_INVALID_ARGUMENT, "multihead_attention attn.out_proj.weight: "
                 "out_weight attn.out_proj.weight [4,4] has no data");
    ow.data = d;
    assert_fails(mt_multihead_attention_new(&(mt_attention_weights){.out_weight = &ow,
                                                                    .in_proj_weight = &k4},
                                            2, false, &l),
                 MT_ERR_INVALID_ARGUMENT, "in_proj_weight c.weight [4,3,3,3] has no data");
    assert_fails(mt_prelu_new(&v4, &l), MT_ERR_INVALID_ARGUMENT,
                 "prelu bn.running_mean: tensor bn.running_mean [4] has no data");
    assert_null(l);
    // holding a weight that cannot be held names the layer too: a broadcast
    // view of 2^62 floats (held contiguous), and out of memory
    float one = 1.0f;
    mt_tensor huge = {.dtype = MT_DTYPE_F32, .rank = 5,
                      .shape = {(int64_t)1 << 61, 2, 1, 1, 1}, .data = &one, .name = "up.w"};
    assert_fails(mt_conv_transpose3d_new(&huge, NULL, &(mt_conv_transpose3d_params){
                     .groups = (int64_t)1 << 61}, &l),
                 MT_ERR_OVERFLOW, "conv_transpose3d up.w: cannot hold weight up.w "
                 "[2305843009213693952,2,1,1,1]: tensor_contiguous:");
    mt_tensor kd = k4;
    kd.data = d;
    alloc_probe probe;
    probe_install(&probe, 1);   /* the layer, then nothing */
    mt_status held = mt_conv2d_new(&kd, NULL, &(mt_conv2d_options){.layout = MT_KERNEL_OIHW},
                                   &l);
    probe_remove();
    assert_int_equal(held, MT_ERR_OUT_OF_MEMORY);
    assert_non_null(strstr(mt_last_error(), "conv2d c.weight: cannot hold kernel c.weight "
                                            "[4,3,3,3]: "));
    assert_int_equal(probe.live, 0);
    assert_null(l);
    // mt_layer_forward checks its input the same way before the layer's
    // infer and scratch_bytes read the shape (a negative dim failed in
    // tensor_zeros, naming no layer)
    mt_tensor *y = NULL;
    assert_ok(mt_relu_new(&l));
    assert_fails(mt_layer_forward(l, &neg, &y), MT_ERR_INVALID_ARGUMENT,
                 "relu: input neg.weight [4,-3,3,3] has a negative dim or too many elements");
    assert_fails(mt_layer_forward(l, &w2, &y), MT_ERR_INVALID_ARGUMENT,
                 "relu: input fc.weight [4,3] has no data");
    assert_fails(mt_layer_forward(l, &(mt_tensor){.rank = 99}, &y), MT_ERR_INVALID_ARGUMENT,
                 "relu: input is not a valid tensor (rank 99, dtype 0)");
    assert_null(y);
    mt_layer_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(activations),
        cmocka_unit_test(gelu_fused_into_linear),
        cmocka_unit_test(norms_embedding_pad),
        cmocka_unit_test(multihead_attention_matches_pytorch),
        cmocka_unit_test(constructors_name_layer_and_tensor),
    };
    return cmocka_run_group_tests_name("nn_layers", tests, open_refs, close_refs);
}
