/* test_nn_llama.c — Llama-style transformers against PyTorch 1.13
 * (reference/make_llama_refs.py writes the models out by hand as Hugging
 * Face's modeling_llama.py and llama2.c's model.py compute them):
 *   mt_rotary_embedding: both pairings, theta, offsets, partial rotary,
 *     rope_scaling (Llama 3's, linear), strided views in and out, in
 *     place, and its errors;
 *   mt_llama_attention_load: one layer with biases (Qwen2's), layers with
 *     q/k norms (Qwen3's per head, OLMo2's over the projections), errors;
 *   two tiny models ported as graphs by their state_dict names, logits at
 *     every position within 5e-5: HF's LlamaForCausalLM (GQA, rotate_half,
 *     theta 500000, tied lm_head) and llama2.c's Transformer (MQA,
 *     interleaved pairs, tied output);
 *   a KV-cache generation loop with the ops (one token at a time, RoPE at
 *     offset t, attention over the cached keys) giving the same logits;
 *   mt_llama, the decoder over a KV cache: both models token by token and
 *     with a prompt at once, its errors, out of memory, no allocation per
 *     token;
 *   Hugging Face's GPTNeoXForCausalLM (Pythia's: q, k, v packed per head in
 *     query_key_value, partial rotary, parallel residual), from
 *     reference/make_neox_refs.py. */
#include "graph_build.h"

static alloc_probe counter;   /* every allocation, installed by main */

/* ---- RoPE ------------------------------------------------------------------------ */

/* rope_x [2,5,3,8] turned with o (positions along dim 1) equals `name`. */
static void rope_case(const mt_safetensors *st, const char *name, const mt_rope_options *o,
                      int seq_dim, double tol)
{
    mt_tensor *x = ref_get(st, "rope_x"), *y = NULL;
    assert_ok(mt_rotary_embedding(x, seq_dim, o, &y));
    ref_assert_matches(st, name, y, tol, tol);
    mt_tensor_free(y);
    mt_tensor_free(x);
}

static void rope_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("llama_refs.safetensors");
    const mt_rope_options inter = {.pairing = MT_ROPE_PAIRING_INTERLEAVED};
    rope_case(st, "rope_inter_t10000_o0", &inter, 1, 1e-6);
    rope_case(st, "rope_inter_t10000_o3",
              &(mt_rope_options){.pairing = MT_ROPE_PAIRING_INTERLEAVED, .theta = 10000.0f,
                                 .offset = 3}, -3, 1e-6);
    rope_case(st, "rope_half_t10000_o0", NULL, 1, 1e-6);   /* the defaults */
    rope_case(st, "rope_half_t500000_o4", &(mt_rope_options){.theta = 500000.0f, .offset = 4},
              1, 1e-6);
    rope_case(st, "rope_half_t10000_o2_r4",
              &(mt_rope_options){.offset = 2, .rotary_dim = 4}, 1, 1e-6);
    rope_case(st, "rope_inter_t10000_o1_r4",
              &(mt_rope_options){.pairing = MT_ROPE_PAIRING_INTERLEAVED, .offset = 1,
                                 .rotary_dim = 4}, 1, 1e-6);
    /* angles near 1000 radians, where an ulp of the angle is 6e-5: the
     * angles are rounded to float as PyTorch rounds them */
    rope_case(st, "rope_half_t10000_o1000", &(mt_rope_options){.offset = 1000}, 1, 1e-6);
    /* 130 pairs: the angles in more than one block */
    mt_tensor *w = ref_get(st, "rope_wide_x"), *y = NULL;
    for (int i = 0; i < 2; i++) {
        mt_rope_options o = {.pairing = i ? MT_ROPE_PAIRING_INTERLEAVED : MT_ROPE_PAIRING_HALF,
                             .offset = 7};
        assert_ok(mt_rotary_embedding(w, 1, &o, &y));
        ref_assert_matches(st, i ? "rope_wide_inter_o7" : "rope_wide_half_o7", y, 1e-6, 1e-6);
        mt_tensor_free(y);
    }
    mt_tensor_free(w);
    mt_safetensors_close(st);
}

/* rope_scaling: Hugging Face's "llama3" frequencies with a small original
 * context (every band: kept, blended, divided) and with Llama 3.2's own
 * values at positions 5000.., in both pairings (Meta's apply_scaling for
 * the interleaved one); "linear". */
static void rope_scaling_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("llama_refs.safetensors");
    mt_tensor *x = ref_get(st, "rope_scaled_x"), *w = ref_get(st, "rope_scaled_wide_x");
    mt_tensor *y = NULL;
    const mt_rope_scaling small = {.type = MT_ROPE_SCALING_LLAMA3, .factor = 4.0f,
                                   .original_max_position = 32};   /* low 1, high 4 */
    assert_ok(mt_rotary_embedding(x, 1, &(mt_rope_options){.offset = 100, .scaling = small},
                                  &y));
    ref_assert_matches(st, "rope_llama3_small_o100", y, 1e-6, 1e-6);
    mt_tensor_free(y);
    /* the same without the scaling is far from it: the case can fail */
    assert_ok(mt_rotary_embedding(x, 1, &(mt_rope_options){.offset = 100}, &y));
    mt_tensor *want = ref_get(st, "rope_llama3_small_o100");
    double far = 0;
    for (int64_t i = 0; i < mt_tensor_numel(y); i++)
        far = fmax(far, fabs(((float *)y->data)[i] - ((float *)want->data)[i]));
    assert_true(far > 0.5);
    mt_tensor_free(want);
    mt_tensor_free(y);
    assert_ok(mt_rotary_embedding(x, 1, &(mt_rope_options){
        .offset = 3, .scaling = {.type = MT_ROPE_SCALING_LINEAR, .factor = 2.5f}}, &y));
    ref_assert_matches(st, "rope_linear_o3", y, 1e-6, 1e-6);
    mt_tensor_free(y);
    for (int i = 0; i < 2; i++) {
        mt_rope_options o = {.pairing = i ? MT_ROPE_PAIRING_INTERLEAVED : MT_ROPE_PAIRING_HALF,
                             .theta = 500000.0f, .offset = 5000,
                             .scaling = {.type = MT_ROPE_SCALING_LLAMA3, .factor = 32.0f}};
        assert_ok(mt_rotary_embedding(w, 1, &o, &y));
        ref_assert_matches(st, i ? "rope_llama32_inter_o5000" : "rope_llama32_half_o5000", y,
                           1e-6, 1e-6);
        mt_tensor_free(y);
    }
    mt_tensor_free(w);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* HF's layout: x as a transposed view [N, heads, L, D] (seq_dim -2), out a
 * transposed view of a [N, L, heads, D] buffer; in place; broadcast heads. */
static void rope_views(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("llama_refs.safetensors");
    mt_tensor *x = ref_get(st, "rope_x"), *want = ref_get(st, "rope_half_t500000_o4");
    mt_tensor *xt = NULL, *buf = NULL, *bt = NULL, *y = NULL;
    const mt_rope_options o = {.theta = 500000.0f, .offset = 4};
    assert_ok(mt_transpose(x, 1, 2, &xt));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, x->shape, &buf));
    assert_ok(mt_transpose(buf, 1, 2, &bt));
    assert_ok(mt_rotary_embedding_into(xt, -2, &o, bt));
    assert_close(buf->data, want->data, 240, 1e-6, 1e-6);
    /* the allocating form on the view: contiguous [N, heads, L, D] */
    assert_ok(mt_rotary_embedding(xt, 2, &o, &y));
    assert_int_equal(y->shape[1], 3);
    mt_tensor *yt = NULL;
    assert_ok(mt_transpose(y, 1, 2, &yt));
    mt_tensor *yc = NULL;
    assert_ok(mt_tensor_contiguous(yt, &yc));
    assert_close(yc->data, want->data, 240, 1e-6, 1e-6);
    /* rank 2: x[0, :, 1, :] [L, D] (a strided view), positions along dim 0 */
    mt_tensor *row = NULL, *row2 = NULL, *yr = NULL;
    assert_ok(mt_narrow(x, 0, 0, 1, &row));
    assert_ok(mt_narrow(row, 2, 1, 1, &row2));
    mt_tensor_free(row);
    assert_ok(mt_view(row2, 2, (int64_t[]){5, 8}, &row));
    assert_ok(mt_rotary_embedding(row, 0, &o, &yr));
    for (int64_t t = 0; t < 5; t++)
        assert_close((const float *)yr->data + t * 8, (const float *)want->data + t * 24 + 8, 8,
                     1e-6, 1e-6);
    mt_tensor_free(yr);
    mt_tensor_free(row);
    mt_tensor_free(row2);
    /* in place: out is x */
    mt_tensor *xc = NULL;
    assert_ok(mt_tensor_contiguous(x, &xc));
    assert_ok(mt_rotary_embedding_into(xc, 1, &o, xc));
    assert_close(xc->data, want->data, 240, 1e-6, 1e-6);
    /* a stride-2 head dim and a broadcast (stride 0) heads dim: head 0 of
     * the reference for every head */
    mt_tensor *wide = NULL, *every = NULL, *h0s = NULL, *z = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){2, 5, 1, 16}, &wide));
    for (int64_t i = 0; i < 2 * 5; i++)
        for (int64_t k = 0; k < 8; k++)
            ((float *)wide->data)[i * 16 + 2 * k] = ((const float *)x->data)[i * 24 + k];
    assert_ok(mt_slice(wide, 3, 0, 16, 2, &h0s));
    assert_ok(mt_expand(h0s, 4, (int64_t[]){2, 5, 3, 8}, &every));
    assert_ok(mt_rotary_embedding(every, 1, &o, &z));
    for (int64_t i = 0; i < 2 * 5; i++)
        for (int64_t h = 0; h < 3; h++)
            assert_close((const float *)z->data + (i * 3 + h) * 8,
                         (const float *)want->data + i * 24, 8, 1e-6, 1e-6);
    mt_tensor_free(z);
    mt_tensor_free(every);
    mt_tensor_free(h0s);
    mt_tensor_free(wide);
    mt_tensor_free(xc);
    mt_tensor_free(yc);
    mt_tensor_free(yt);
    mt_tensor_free(y);
    mt_tensor_free(bt);
    mt_tensor_free(buf);
    mt_tensor_free(xt);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

static void rope_errors(void **state)
{
    (void)state;
    mt_tensor *x = NULL, *out = NULL, *y = NULL, *odd = NULL, *one = NULL, *ints = NULL;
    mt_tensor *bcast = NULL, *wrong = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){2, 5, 3, 8}, &x));
    assert_ok(mt_tensor_full(4, (int64_t[]){2, 5, 3, 8}, 7.0f, &out));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){2, 5, 7}, &odd));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){8}, &one));
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 4, (int64_t[]){2, 5, 3, 8}, &ints));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){2, 5, 3, 4}, &wrong));
    assert_fails(mt_rotary_embedding(NULL, 1, NULL, &y), MT_ERR_INVALID_ARGUMENT,
                 "rotary_embedding");
    assert_fails(mt_rotary_embedding(x, 1, NULL, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_rotary_embedding_into(x, 1, NULL, NULL), MT_ERR_INVALID_ARGUMENT,
                 "rotary_embedding");
    assert_fails(mt_rotary_embedding(ints, 1, NULL, &y), MT_ERR_DTYPE, "rotary_embedding");
    assert_fails(mt_rotary_embedding(one, 0, NULL, &y), MT_ERR_SHAPE, "x [8] needs rank >= 2");
    assert_fails(mt_rotary_embedding(x, -1, NULL, &y), MT_ERR_INVALID_ARGUMENT,
                 "seq_dim -1 is not a dim of x [2,5,3,8] other than the last");
    assert_fails(mt_rotary_embedding(x, 4, NULL, &y), MT_ERR_INVALID_ARGUMENT, "seq_dim 4");
    assert_fails(mt_rotary_embedding(x, -5, NULL, &y), MT_ERR_INVALID_ARGUMENT, "seq_dim -5");
    assert_fails(mt_rotary_embedding(odd, 1, NULL, &y), MT_ERR_SHAPE,
                 "x [2,5,7]: the rotated dims (head dim 7) must be even");
    assert_fails(mt_rotary_embedding(x, 1, &(mt_rope_options){.rotary_dim = 3}, &y),
                 MT_ERR_SHAPE, "(rotary_dim 3) must be even and at most the head dim 8");
    assert_fails(mt_rotary_embedding(x, 1, &(mt_rope_options){.rotary_dim = 10}, &y),
                 MT_ERR_SHAPE, "rotary_dim 10");
    assert_fails(mt_rotary_embedding(x, 1, &(mt_rope_options){.rotary_dim = -2}, &y),
                 MT_ERR_SHAPE, "rotary_dim -2");
    assert_fails(mt_rotary_embedding(x, 1, &(mt_rope_options){.theta = -1.0f}, &y),
                 MT_ERR_INVALID_ARGUMENT, "theta -1 must be finite and > 0");
    assert_fails(mt_rotary_embedding(x, 1, &(mt_rope_options){.theta = NAN}, &y),
                 MT_ERR_INVALID_ARGUMENT, "theta nan");
    assert_fails(mt_rotary_embedding(x, 1, &(mt_rope_options){.theta = INFINITY}, &y),
                 MT_ERR_INVALID_ARGUMENT, "theta inf");
    assert_fails(mt_rotary_embedding(x, 1, &(mt_rope_options){.offset = -1}, &y),
                 MT_ERR_INVALID_ARGUMENT, "offset -1 is negative");
    assert_fails(mt_rotary_embedding(x, 1, &(mt_rope_options){.offset = INT64_MAX - 4}, &y),
                 MT_ERR_INVALID_ARGUMENT, "(5 steps) overflows");
    assert_ok(mt_rotary_embedding(x, 1, &(mt_rope_options){.offset = INT64_MAX - 5}, &y));
    mt_tensor_free(y);
    y = NULL;
    assert_fails(mt_rotary_embedding(x, 1, &(mt_rope_options){.pairing = (mt_rope_pairing)7},
                                     &y), MT_ERR_INVALID_ARGUMENT, "pairing 7");
    /* rope_scaling */
    typedef mt_rope_scaling sc;
    const struct {
        sc scaling;
        const char *why;
    } bad[] = {
        {{.type = (mt_rope_scaling_type)5}, "scaling type 5 is not NONE, LINEAR or LLAMA3"},
        {{.type = MT_ROPE_SCALING_LINEAR}, "scaling factor 0 must be finite and > 0"},
        {{.type = MT_ROPE_SCALING_LINEAR, .factor = -2.0f}, "scaling factor -2"},
        {{.type = MT_ROPE_SCALING_LLAMA3, .factor = NAN}, "scaling factor nan"},
        {{.type = MT_ROPE_SCALING_LLAMA3, .factor = INFINITY}, "scaling factor inf"},
        {{.type = MT_ROPE_SCALING_LLAMA3, .factor = 8.0f, .low_freq_factor = 4.0f,
          .high_freq_factor = 1.0f},
         "llama3 scaling needs finite 0 < low_freq_factor < high_freq_factor and "
         "original_max_position > 0, given 4, 1 and 8192"},
        {{.type = MT_ROPE_SCALING_LLAMA3, .factor = 8.0f, .low_freq_factor = 4.0f},
         "given 4, 4 and 8192"},
        {{.type = MT_ROPE_SCALING_LLAMA3, .factor = 8.0f, .low_freq_factor = -1.0f},
         "given -1, 4 and 8192"},
        {{.type = MT_ROPE_SCALING_LLAMA3, .factor = 8.0f, .high_freq_factor = INFINITY},
         "given 1, inf and 8192"},
        {{.type = MT_ROPE_SCALING_LLAMA3, .factor = 8.0f, .high_freq_factor = NAN},
         "given 1, nan and 8192"},
        {{.type = MT_ROPE_SCALING_LLAMA3, .factor = 8.0f, .original_max_position = -1},
         "given 1, 4 and -1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_fails(mt_rotary_embedding(x, 1, &(mt_rope_options){.scaling = bad[i].scaling},
                                         &y), MT_ERR_INVALID_ARGUMENT, bad[i].why);
        assert_fails(mt_rotary_embedding_into(x, 1, &(mt_rope_options){
            .scaling = bad[i].scaling}, out), MT_ERR_INVALID_ARGUMENT, bad[i].why);
    }
    assert_null(y);
    /* a theta or factor so small that a frequency, or the last angle,
     * overflows float (NaN cos and sin otherwise) */
    mt_tensor *wide = NULL;   /* D 128: theta^(-126/128) overflows for theta 1e-40 */
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){1, 2, 128}, &wide));
    assert_fails(mt_rotary_embedding(wide, 1, &(mt_rope_options){.theta = 1e-40f}, &y),
                 MT_ERR_INVALID_ARGUMENT, "give frequencies up to inf: the angles (up to "
                 "position 1) overflow float");
    mt_tensor_free(wide);
    assert_fails(mt_rotary_embedding(x, 1, &(mt_rope_options){
                     .scaling = {.type = MT_ROPE_SCALING_LINEAR, .factor = 1e-40f}}, &y),
                 MT_ERR_INVALID_ARGUMENT, "theta 10000 and scaling factor 9.99995e-41 give");
    assert_fails(mt_rotary_embedding(x, 1, &(mt_rope_options){
                     .offset = INT64_C(1) << 60, .scaling = {.type = MT_ROPE_SCALING_LINEAR,
                                                             .factor = 1e-30f}}, &y),
                 MT_ERR_INVALID_ARGUMENT, "the angles (up to position 1152921504606846980) "
                 "overflow float");
    assert_null(y);
    /* _into: out of another shape, dtype, a stride-0 out, an overlapping
     * out (x shifted by one float); out untouched */
    assert_fails(mt_rotary_embedding_into(x, 1, NULL, wrong), MT_ERR_SHAPE, "rotary_embedding");
    assert_fails(mt_rotary_embedding_into(x, 1, NULL, ints), MT_ERR_DTYPE, "rotary_embedding");
    assert_ok(mt_expand(one, 4, (int64_t[]){2, 5, 3, 8}, &bcast));
    assert_fails(mt_rotary_embedding_into(x, 1, NULL, bcast), MT_ERR_INVALID_ARGUMENT,
                 "rotary_embedding");
    mt_tensor *big = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){241}, &big));
    mt_tensor *lo = NULL, *hi = NULL, *lo4 = NULL, *hi4 = NULL;
    assert_ok(mt_narrow(big, 0, 0, 240, &lo));
    assert_ok(mt_narrow(big, 0, 1, 240, &hi));
    assert_ok(mt_reshape(lo, 4, (int64_t[]){2, 5, 3, 8}, &lo4));
    assert_ok(mt_reshape(hi, 4, (int64_t[]){2, 5, 3, 8}, &hi4));
    ((float *)big->data)[100] = 3.0f;
    assert_fails(mt_rotary_embedding_into(lo4, 1, NULL, hi4), MT_ERR_INVALID_ARGUMENT,
                 "overlaps x");
    assert_true(((float *)big->data)[100] == 3.0f && ((float *)big->data)[101] == 0.0f);
    assert_fails(mt_rotary_embedding_into(x, 1, &(mt_rope_options){.offset = -3}, out),
                 MT_ERR_INVALID_ARGUMENT, "offset -3");
    for (int i = 0; i < 240; i++)
        assert_true(((float *)out->data)[i] == 7.0f);
    mt_tensor_free(hi4);
    mt_tensor_free(lo4);
    mt_tensor_free(hi);
    mt_tensor_free(lo);
    mt_tensor_free(big);
    mt_tensor_free(bcast);
    mt_tensor_free(wrong);
    mt_tensor_free(ints);
    mt_tensor_free(one);
    mt_tensor_free(odd);
    mt_tensor_free(out);
    mt_tensor_free(x);
}

/* ---- one attention layer with biases (Qwen2's) -------------------------------------- */

/* Layer `prefix` of the file, run in a graph on prefix_x [2, 6, 32]: the
 * largest difference from prefix_y (asserted within 1e-5 if `match`). */
static double attention_case(const mt_safetensors *st, const char *prefix,
                             const mt_llama_attention_options *o, bool match)
{
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_layer *l = NULL;
    assert_ok(mt_llama_attention_load(&sd, prefix, o, &l));
    mt_graph *g = NULL;
    int x, y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){6, 32}, &x));
    assert_ok(mt_graph_add(g, "attn", l, 1, &x, &y));
    assert_ok(mt_graph_output(g, y));
    char name[64];
    snprintf(name, sizeof name, "%s_x", prefix);
    mt_tensor *in = ref_get(st, name);
    const mt_tensor *out = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){in}, 1, &out));
    snprintf(name, sizeof name, "%s_y", prefix);
    mt_tensor *want = ref_get(st, name);
    if (match)
        ref_assert_matches(st, name, out, 1e-5, 1e-5);
    double far = 0;
    for (int64_t i = 0; i < mt_tensor_numel(want); i++)
        far = fmax(far, fabs(((float *)out->data)[i] - ((float *)want->data)[i]));
    mt_tensor_free(want);
    mt_graph_free(g);
    mt_tensor_free(in);
    return far;
}

static void attention_with_biases(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("llama_refs.safetensors");
    attention_case(st, "attn", &(mt_llama_attention_options){.n_heads = 4,
                                                             .rope = {.theta = 1e6f}}, true);
    mt_safetensors_close(st);
}

/* Qwen3's q_norm and k_norm [D] on each head (eps left at its default,
 * Qwen3's 1e-6), and OLMo2's over the projections [H·D], [Hkv·D] (eps
 * 1e-5), the latter with llama3 rope scaling of a 32-position context. */
static void attention_with_qk_norms(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("llama_refs.safetensors");
    attention_case(st, "qwen3", &(mt_llama_attention_options){.n_heads = 4,
                                                              .rope = {.theta = 1e6f}}, true);
    mt_llama_attention_options whole = {
        .n_heads = 4, .qk_norm_eps = 1e-5f,
        .rope = {.scaling = {.type = MT_ROPE_SCALING_LLAMA3, .factor = 4.0f,
                             .original_max_position = 32}}};
    attention_case(st, "qkwhole", &whole, true);
    /* the case sees the scaling: without it, the layer is off */
    whole.rope.scaling.type = MT_ROPE_SCALING_NONE;
    assert_true(attention_case(st, "qkwhole", &whole, false) > 1e-3);
    /* and the norms: the same weights without them are off */
    mt_tensor *t[4];
    static const char *const names[4] = {"qwen3.q_proj.weight", "qwen3.k_proj.weight",
                                         "qwen3.v_proj.weight", "qwen3.o_proj.weight"};
    for (int i = 0; i < 4; i++)
        t[i] = ref_get(st, names[i]);
    mt_layer *l = NULL;
    assert_ok(mt_llama_attention_new(&(mt_attention_weights){.q_weight = t[0],
                                                              .k_weight = t[1],
                                                              .v_weight = t[2],
                                                              .out_weight = t[3]},
                                     &(mt_llama_attention_options){
                                         .n_heads = 4, .rope = {.theta = 1e6f}}, &l));
    mt_tensor *x = ref_get(st, "qwen3_x"), *y = NULL, *want = ref_get(st, "qwen3_y");
    assert_ok(mt_layer_forward(l, x, &y));
    double far = 0;
    for (int64_t i = 0; i < mt_tensor_numel(want); i++)
        far = fmax(far, fabs(((float *)y->data)[i] - ((float *)want->data)[i]));
    assert_true(far > 1e-3);
    mt_tensor_free(y);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_layer_free(l);
    for (int i = 0; i < 4; i++)
        mt_tensor_free(t[i]);
    mt_safetensors_close(st);
}

/* mt_llama_attention_new's and _load's checks, on the file's weights. */
static void attention_errors(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("llama_refs.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *wq = ref_get(st, "attn.q_proj.weight"), *wk = ref_get(st, "attn.k_proj.weight");
    mt_tensor *wv = ref_get(st, "attn.v_proj.weight"), *wo = ref_get(st, "attn.o_proj.weight");
    mt_tensor *bq = ref_get(st, "attn.q_proj.bias"), *wk3 = NULL;
    mt_attention_weights w = {.q_weight = wq, .k_weight = wk, .v_weight = wv, .out_weight = wo};
    mt_llama_attention_options o = {.n_heads = 4};
    mt_layer *l = NULL;
    assert_fails(mt_llama_attention_new(NULL, &o, &l), MT_ERR_INVALID_ARGUMENT, "NULL");
    assert_fails(mt_llama_attention_new(&w, NULL, &l), MT_ERR_INVALID_ARGUMENT, "NULL");
    mt_tensor nodata = *wv;   /* a v weight with no data: the layer and tensor named */
    nodata.data = NULL;
    w.v_weight = &nodata;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT, "has no data");
    assert_true(strstr(mt_last_error(), "v_weight") != NULL);
    w.v_weight = wv;
    o.n_heads = 0;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT, "n_heads 0");
    o.n_heads = 4;
    o.n_kv_heads = 5;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT,
                 "n_heads 4, n_kv_heads 5");
    o.n_kv_heads = 0;
    o.n_heads = 32;   /* head dim 1: no pair to turn */
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT,
                 "head dim 1 (q_weight's rows / 32 heads) is odd");
    o.n_heads = 5;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_SHAPE,
                 "32 rows do not split into n_heads 5");
    o.n_heads = 4;
    o.n_kv_heads = 3;   /* k [16, 32] is 2 heads of 8 */
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_SHAPE,
                 "k_weight attn.k_proj.weight [16,32] is not [Hkv·D, E] with head dim D = 8");
    o.n_kv_heads = 0;
    assert_ok(mt_narrow(wq, 0, 0, 24, &wk3));   /* 3 kv heads do not divide 4 */
    w.k_weight = wk3;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_SHAPE, "Hkv 3 dividing the heads");
    w.k_weight = wk;
    w.v_weight = wq;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_SHAPE,
                 "v_weight attn.q_proj.weight [32,32], expected [Hkv·D, E] = [16,32], each >= 1");
    w.v_weight = wv;
    mt_tensor *wo24 = NULL;
    assert_ok(mt_narrow(wo, 1, 0, 24, &wo24));
    w.out_weight = wo24;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_SHAPE,
                 "out_weight attn.o_proj.weight [24,24], expected [Eo, H·D] = [rows,32]");
    mt_tensor_free(wo24);
    w.out_weight = wo;
    w.k_bias = bq;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_SHAPE,
                 "k_bias attn.q_proj.bias [32], expected [16]");
    w.k_bias = NULL;
    w.q_weight = NULL;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT,
                 "q_weight is missing");
    w.q_weight = wq;
    w.v_weight = NULL;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT,
                 "v_weight is missing");
    w.v_weight = wv;
    w.in_proj_weight = wq;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT, "in_proj_weight");
    w.in_proj_weight = NULL;
    o.rope.rotary_dim = 3;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT, "rotary_dim 3");
    // a negative rotary_dim is even and below the head dim, but no layer
    // made with it could ever run (RoPE refuses it): refused here
    o.rope.rotary_dim = -2;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT, "rotary_dim -2");
    o.rope.rotary_dim = 0;
    o.rope.offset = 2;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT, "offset 2");
    o.rope.offset = 0;
    o.rope.theta = -1.0f;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT, "theta -1");
    o.rope.theta = 0.0f;
    o.rope.pairing = (mt_rope_pairing)9;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT, "pairing 9");
    o.rope.pairing = MT_ROPE_PAIRING_HALF;
    o.rope.scaling.type = MT_ROPE_SCALING_LINEAR;   /* factor 0: RoPE's message, named */
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT,
                 "llama_attention attn.o_proj.weight: rope: rotary_embedding: scaling factor 0");
    o.rope.scaling.type = MT_ROPE_SCALING_NONE;
    o.qk_norm_eps = NAN;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT,
                 "qk_norm_eps nan must be finite and >= 0");
    o.qk_norm_eps = -1.0f;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT, "qk_norm_eps -1");
    o.qk_norm_eps = 0.0f;
    mt_tensor *b5 = NULL;   /* a norm of 5: neither a head (8) nor the projection */
    assert_ok(mt_narrow(bq, 0, 0, 5, &b5));
    w.q_norm_weight = b5;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_SHAPE,
                 "q_norm_weight attn.q_proj.bias [5], expected [8] (each head) or [32] (the "
                 "whole projection)");
    w.q_norm_weight = bq;   /* [32] = H·D: fine for q, not for k (Hkv·D = 16) */
    w.k_norm_weight = bq;
    assert_fails(mt_llama_attention_new(&w, &o, &l), MT_ERR_SHAPE,
                 "k_norm_weight attn.q_proj.bias [32], expected [8] (each head) or [16]");
    w.k_norm_weight = NULL;
    assert_fails(mt_multihead_attention_new(&(mt_attention_weights){
        .q_weight = wq, .k_weight = wq, .v_weight = wq, .out_weight = wq,
        .k_norm_weight = b5}, 4, false, &l), MT_ERR_INVALID_ARGUMENT,
        "MultiheadAttention has no q/k norm");
    w.q_norm_weight = NULL;
    mt_tensor_free(b5);
    assert_null(l);
    assert_fails(mt_llama_attention_load(&sd, "attention", &o, &l), MT_ERR_NOT_FOUND,
                 "none of attention.q_proj.weight (Hugging Face), attention.wq.weight (Meta, "
                 "llama2.c), attention.query_key_value.weight (GPT-NeoX) and "
                 "attention.c_attn.weight (GPT-2)");
    assert_fails(mt_llama_attention_load(&sd, "attn", NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "n_heads is required");
    assert_fails(mt_llama_attention_load(&(mt_state_dict){st, MT_FRAMEWORK_KERAS}, "attn", &o,
                                         &l), MT_ERR_UNSUPPORTED, "llama_attention_load attn");
    /* a graph input of another width, named */
    assert_ok(mt_llama_attention_new(&w, &o, &l));
    mt_graph *g = NULL;
    int x;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){6, 24}, &x));
    assert_fails(mt_graph_add(g, "attn", l, 1, &x, NULL), MT_ERR_SHAPE,
                 "expects F32 [N,L,32], input 'x' gives F32 3 dims, last 24");
    mt_graph_free(g);
    mt_tensor_free(wk3);
    mt_tensor_free(bq);
    mt_tensor_free(wo);
    mt_tensor_free(wv);
    mt_tensor_free(wk);
    mt_tensor_free(wq);
    mt_safetensors_close(st);
}

/* mt_llama_attention_load's arguments, for assert_oom_makes_nothing */
typedef struct attention_load {
    const mt_state_dict *sd;
    const char *prefix;
    mt_llama_attention_options o;
} attention_load;

static mt_status make_attention(const void *ctx, void **made)
{
    const attention_load *a = ctx;
    mt_layer *l = NULL;
    mt_status s = mt_llama_attention_load(a->sd, a->prefix, &a->o, &l);
    *made = l;
    return s;
}

static void release_layer(void *l) { mt_layer_free(l); }

/* Out of memory at each allocation of the loader and of RoPE: a clear
 * failure, nothing made, nothing leaked. */
static void out_of_memory(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("llama_refs.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref_get(st, "rope_x");
    alloc_probe probe;
    bool made = false;
    /* a failure holding a projection names the layer and the projection */
    static const char *const held[4] = {"q weight", "k weight", "v weight", "o weight"};
    bool named[4] = {0};
    for (long k = 0; k < 200 && !made; k++) {
        mt_layer *l = (mt_layer *)&l;
        probe_install(&probe, k);
        mt_status s = mt_llama_attention_load(&sd, "attn",
                                              &(mt_llama_attention_options){.n_heads = 4}, &l);
        if (s) {
            assert_int_equal(s, MT_ERR_OUT_OF_MEMORY);
            assert_null(l);
            const char *e = mt_last_error();
            for (int i = 0; i < 4; i++)
                named[i] |= strncmp(e, "llama_attention attn.o_proj.weight: cannot hold ",
                                    48) == 0 && strncmp(e + 48, held[i], 8) == 0;
        } else {
            made = true;
            mt_layer_free(l);
        }
        assert_int_equal(probe.live, 0);
    }
    assert_true(made);
    for (int i = 0; i < 4; i++)
        assert_true(named[i]);
    /* the q/k norms held too */
    const attention_load qwen3 = {&sd, "qwen3", {.n_heads = 4}};
    assert_oom_makes_nothing(make_attention, release_layer, &qwen3, 200);
    mt_tensor *y = (mt_tensor *)&y;
    probe_install(&probe, 0);
    assert_fails(mt_rotary_embedding(x, 1, NULL, &y), MT_ERR_OUT_OF_MEMORY, "");
    probe_install(&counter, -1);
    assert_true(y == (mt_tensor *)&y);   /* untouched */
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* ---- whole models as graphs ----------------------------------------------------------- */

/* A checkpoint's names and hyperparameters. */
typedef struct llama_names {
    const char *embed, *layer, *attn, *attn_norm, *mlp_norm, *gate, *up, *down, *norm;
    int64_t heads;
    float eps, theta;
    int64_t vocab;
} llama_names;

static const llama_names hf_names = {
    "model.embed_tokens", "model.layers", "self_attn", "input_layernorm",
    "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
    "model.norm", 4, 1e-6f, 500000.0f, 48};
static const llama_names llama2c_names = {
    "tok_embeddings", "layers", "attention", "attention_norm", "ffn_norm",
    "feed_forward.w1", "feed_forward.w3", "feed_forward.w2", "norm", 4, 1e-5f, 10000.0f, 40};

/* LlamaForCausalLM / llama2.c's Transformer on token ids [N, len]:
 *   h = embed(ids)
 *   each layer: h = h + attn(rms_norm(h)); h = h + down(silu(gate(x)) * up(x)),
 *               x = rms_norm(h)  (SwiGLU: gate with SiLU fused, up, multiply, down)
 *   logits = rms_norm(h) · embedᵀ  (tied: the embedding read as a Linear) */
static mt_graph *llama(const mt_safetensors *st, const llama_names *nm, int64_t len)
{
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    const mt_norm_options rms = {.eps = nm->eps};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "ids", MT_DTYPE_I64, 1, &len, &h));
    h = node(g, "embed", mt_embedding_load(&sd, nm->embed, &l), &l, 1, &h);
    for (int i = 0; i < 2; i++) {
        char p[64];
        snprintf(p, sizeof p, "%s.%d.", nm->layer, i);
        int x = node(g, join(p, nm->attn_norm), mt_rms_norm_load(&sd, join(p, nm->attn_norm), &rms,
                                                               &l), &l, 1, &h);
        x = node(g, join(p, nm->attn),
                 mt_llama_attention_load(&sd, join(p, nm->attn),
                                         &(mt_llama_attention_options){
                                             .n_heads = nm->heads, .rope = {.theta = nm->theta}},
                                         &l), &l, 1, &x);
        h = node(g, join(p, "add_attn"), mt_add_new(&l), &l, 2, (int[]){h, x});
        x = node(g, join(p, nm->mlp_norm), mt_rms_norm_load(&sd, join(p, nm->mlp_norm), &rms, &l),
                 &l, 1, &h);
        int gate = node(g, join(p, nm->gate),
                        mt_linear_load(&sd, join(p, nm->gate),
                                       &(mt_linear_options){.act = MT_ACTIVATION_SILU}, &l),
                        &l, 1, &x);
        int up = node(g, join(p, nm->up), mt_linear_load(&sd, join(p, nm->up), NULL, &l), &l, 1,
                      &x);
        x = node(g, join(p, "swiglu"), mt_multiply_new(&l), &l, 2, (int[]){gate, up});
        x = node(g, join(p, nm->down), mt_linear_load(&sd, join(p, nm->down), NULL, &l), &l, 1, &x);
        h = node(g, join(p, "add_mlp"), mt_add_new(&l), &l, 2, (int[]){h, x});
    }
    h = node(g, nm->norm, mt_rms_norm_load(&sd, nm->norm, &rms, &l), &l, 1, &h);
    h = node(g, "lm_head (tied)",
             mt_linear_load(&sd, nm->embed, &(mt_linear_options){.layout = MT_LAYOUT_OUT_IN},
                            &l), &l, 1, &h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

static void model_matches(const char *file, const llama_names *nm, const char *ids_name,
                          const char *logits_name)
{
    mt_safetensors *st = ref_open(file), *io = ref_open("llama_refs.safetensors");
    mt_tensor *ids = ref_get(io, ids_name), *want = ref_get(io, logits_name), *ids1 = NULL;
    int64_t len = ids->shape[1];
    mt_graph *g = llama(st, nm, len);
    /* within 5e-5: the logits reach ~30 */
    output_matches(g, ids, want->data, 3, (int64_t[]){2, len, nm->vocab}, 5e-5, 0, &counter);
    assert_ok(mt_narrow(ids, 0, 1, 1, &ids1));   /* the second sequence alone */
    output_matches(g, ids1, (const float *)want->data + len * nm->vocab, 3,
                   (int64_t[]){1, len, nm->vocab}, 5e-5, 0, &counter);
    mt_graph_free(g);
    mt_tensor_free(ids1);
    mt_tensor_free(want);
    mt_tensor_free(ids);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

static void hf_llama_matches_pytorch(void **state)
{
    (void)state;
    model_matches("llama_hf.safetensors", &hf_names, "hf_ids", "hf_logits");
}

static void llama2c_matches_pytorch(void **state)
{
    (void)state;
    model_matches("llama2c.safetensors", &llama2c_names, "llama2c_ids", "llama2c_logits");
}

/* ---- a KV-cache generation loop with the ops ------------------------------------------ */

/* Tensors of one step, freed together. */
typedef struct pool {
    mt_tensor *t[256];
    int n;
} pool;

static mt_tensor *keep(pool *p, mt_tensor *t)
{
    assert_true(p->n < 256);
    return p->t[p->n++] = t;
}

static void drain(pool *p)
{
    while (p->n)
        mt_tensor_free(p->t[--p->n]);
}

/* x · Wᵀ for the file's (out, in) weight `name` (a transposed view), act fused. */
static mt_tensor *proj(pool *p, const mt_safetensors *st, const char *name, const mt_tensor *x,
                       mt_activation act)
{
    mt_tensor *w = keep(p, ref_get(st, name)), *wt = NULL, *y = NULL;
    assert_ok(mt_transpose(w, 0, 1, &wt));
    assert_ok(mt_matmul_fused(x, keep(p, wt), NULL, act, &y));
    return keep(p, y);
}

static mt_tensor *rms(pool *p, const mt_safetensors *st, const char *name, const mt_tensor *x)
{
    mt_tensor *y = NULL;
    assert_ok(mt_rms_norm(x, 1, keep(p, ref_get(st, name)), 1e-6f, &y));
    return keep(p, y);
}

/* t (contiguous) viewed as `shape` and permuted by perm (a heap view). */
static mt_tensor *view_perm(pool *p, const mt_tensor *t, int rank, const int64_t *shape,
                            const int *perm)
{
    mt_tensor *v = NULL, *pv = NULL;
    assert_ok(mt_view(t, rank, shape, &v));
    assert_ok(mt_permute(keep(p, v), perm, &pv));
    return keep(p, pv);
}

/* HF's model fed one token at a time, as a generation loop runs it: each
 * step embeds token t of both sequences, turns q and k by RoPE at offset
 * t, writes k and v into the caches [N, T, Hkv, D] at t and attends over
 * cache[:, :t+1] (one query: causal changes nothing, bottom-right aligned).
 * Step t's logits are the full pass's at position t. */
static void kv_cache_loop_matches(void **state)
{
    (void)state;
    enum { N = 2, T = 7, E = 32, H = 4, HKV = 2, D = 8, V = 48 };
    mt_safetensors *st = ref_open("llama_hf.safetensors"), *io = ref_open("llama_refs.safetensors");
    mt_tensor *ids = ref_get(io, "hf_ids"), *want = ref_get(io, "hf_logits");
    mt_tensor *kc[2] = {0}, *vc[2] = {0};
    for (int i = 0; i < 2; i++) {
        assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){N, T, HKV, D}, &kc[i]));
        assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){N, T, HKV, D}, &vc[i]));
    }
    const int to_heads[5] = {0, 2, 3, 1, 4};   /* [N,L,Hkv,G,D] -> [N,Hkv,G,L,D] */
    pool p = {0};
    for (int64_t t = 0; t < T; t++) {
        const mt_rope_options rope = {.theta = 500000.0f, .offset = t};
        mt_tensor *tok = NULL, *h = NULL;
        assert_ok(mt_narrow(ids, 1, t, 1, &tok));
        assert_ok(mt_embedding(keep(&p, tok), keep(&p, ref_get(st, "model.embed_tokens.weight")),
                               &h));
        keep(&p, h);   /* [N, 1, E] */
        for (int i = 0; i < 2; i++) {
            char pre[64];
            snprintf(pre, sizeof pre, "model.layers.%d.", i);
            mt_tensor *x = rms(&p, st, join(pre, "input_layernorm.weight"), h);
            mt_tensor *q = proj(&p, st, join(pre, "self_attn.q_proj.weight"), x,
                                  MT_ACTIVATION_NONE);
            mt_tensor *k = proj(&p, st, join(pre, "self_attn.k_proj.weight"), x,
                                  MT_ACTIVATION_NONE);
            mt_tensor *v = proj(&p, st, join(pre, "self_attn.v_proj.weight"), x,
                                  MT_ACTIVATION_NONE);
            mt_tensor *q4 = NULL, *k4 = NULL, *v4 = NULL, *ks = NULL, *vs = NULL;
            assert_ok(mt_view(q, 4, (int64_t[]){N, 1, H, D}, &q4));
            assert_ok(mt_view(k, 4, (int64_t[]){N, 1, HKV, D}, &k4));
            assert_ok(mt_view(v, 4, (int64_t[]){N, 1, HKV, D}, &v4));
            assert_ok(mt_narrow(kc[i], 1, t, 1, &ks));
            assert_ok(mt_narrow(vc[i], 1, t, 1, &vs));
            keep(&p, q4), keep(&p, k4), keep(&p, v4), keep(&p, ks), keep(&p, vs);
            assert_ok(mt_rotary_embedding_into(q4, 1, &rope, q4));   /* in place */
            assert_ok(mt_rotary_embedding_into(k4, 1, &rope, ks));   /* into the cache */
            assert_ok(mt_tensor_copy_into(v4, vs));
            mt_tensor *kp = NULL, *vp = NULL, *kh = NULL, *vh = NULL, *a = NULL;
            assert_ok(mt_narrow(kc[i], 1, 0, t + 1, &kp));
            assert_ok(mt_narrow(vc[i], 1, 0, t + 1, &vp));
            assert_ok(mt_view(keep(&p, kp), 5, (int64_t[]){N, t + 1, HKV, 1, D}, &kh));
            assert_ok(mt_view(keep(&p, vp), 5, (int64_t[]){N, t + 1, HKV, 1, D}, &vh));
            mt_tensor *qh = view_perm(&p, q, 5, (int64_t[]){N, 1, HKV, H / HKV, D}, to_heads);
            mt_tensor *khp = NULL, *vhp = NULL;
            assert_ok(mt_permute(keep(&p, kh), to_heads, &khp));
            assert_ok(mt_permute(keep(&p, vh), to_heads, &vhp));
            assert_ok(mt_scaled_dot_product_attention(qh, keep(&p, khp), keep(&p, vhp), NULL,
                                                      true, 0.0f, &a));
            /* [N,Hkv,G,1,D] back to [N,1,H·D] */
            mt_tensor *ab = NULL, *ac = NULL, *aj = NULL;
            assert_ok(mt_permute(keep(&p, a), (const int[]){0, 3, 1, 2, 4}, &ab));
            assert_ok(mt_tensor_contiguous(keep(&p, ab), &ac));
            assert_ok(mt_view(keep(&p, ac), 3, (int64_t[]){N, 1, H * D}, &aj));
            mt_tensor *o = proj(&p, st, join(pre, "self_attn.o_proj.weight"), keep(&p, aj),
                                MT_ACTIVATION_NONE);
            mt_tensor *h2 = NULL, *m = NULL, *h3 = NULL;
            assert_ok(mt_add(h, o, &h2));
            h = keep(&p, h2);
            x = rms(&p, st, join(pre, "post_attention_layernorm.weight"), h);
            mt_tensor *gate = proj(&p, st, join(pre, "mlp.gate_proj.weight"), x,
                                   MT_ACTIVATION_SILU);
            mt_tensor *up = proj(&p, st, join(pre, "mlp.up_proj.weight"), x, MT_ACTIVATION_NONE);
            assert_ok(mt_mul(gate, up, &m));
            mt_tensor *d = proj(&p, st, join(pre, "mlp.down_proj.weight"), keep(&p, m),
                                MT_ACTIVATION_NONE);
            assert_ok(mt_add(h, d, &h3));
            h = keep(&p, h3);
        }
        mt_tensor *logits = proj(&p, st, "model.embed_tokens.weight",
                                 rms(&p, st, "model.norm.weight", h), MT_ACTIVATION_NONE);
        for (int64_t n = 0; n < N; n++)
            assert_close((const float *)logits->data + n * V,
                         (const float *)want->data + (n * T + t) * V, V, 5e-5, 0);
        drain(&p);
    }
    for (int i = 0; i < 2; i++) {
        mt_tensor_free(kc[i]);
        mt_tensor_free(vc[i]);
    }
    mt_tensor_free(want);
    mt_tensor_free(ids);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* An input with no rows (N or L = 0) gives an empty output (torch: a
 * [N, 0, E] input gives [N, 0, Eo]). The layer then has no scratch (NULL),
 * and forward applied its offsets to that NULL (clang's UBSan: "applying
 * zero offset to null pointer"; fuzz/regressions-io/loaders/
 * llama_attention_zero_length_input replays it under clang). */
static void empty_inputs(void **state)
{
    (void)state;
    mt_tensor *wq = NULL, *wk = NULL, *wo = NULL;
    assert_ok(mt_tensor_full(2, (int64_t[]){4, 4}, 0.5f, &wq));
    assert_ok(mt_tensor_full(2, (int64_t[]){2, 4}, 0.25f, &wk));
    assert_ok(mt_tensor_full(2, (int64_t[]){3, 4}, 1.0f, &wo));
    mt_layer *l = NULL;
    assert_ok(mt_llama_attention_new(&(mt_attention_weights){.q_weight = wq, .k_weight = wk,
                                                              .v_weight = wk, .out_weight = wo},
                                     &(mt_llama_attention_options){.n_heads = 2}, &l));
    static const int64_t shapes[3][3] = {{1, 0, 4}, {0, 3, 4}, {0, 0, 4}};
    for (int i = 0; i < 3; i++) {
        mt_tensor *x = NULL, *y = NULL;
        assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, shapes[i], &x));
        assert_ok(mt_layer_forward(l, x, &y));
        assert_int_equal(y->rank, 3);
        assert_int_equal(y->shape[0], shapes[i][0]);
        assert_int_equal(y->shape[1], shapes[i][1]);
        assert_int_equal(y->shape[2], 3);
        mt_tensor_free(y);
        mt_tensor_free(x);
    }
    mt_layer_free(l);
    mt_tensor_free(wq);
    mt_tensor_free(wk);
    mt_tensor_free(wo);
}

/* ---- mt_llama: generation over a KV cache --------------------------------------------- */

/* The model of `file` fed each reference sequence: token by token, then a
 * 4-token prompt at once and 3 more one by one; the logits at each
 * position within 5e-5 of the full pass's. No allocation per token. */
static void decoder_case(const char *file, const mt_llama_options *o, const char *ids_name,
                         const char *logits_name)
{
    mt_safetensors *st = ref_open(file), *io = ref_open("llama_refs.safetensors");
    mt_tensor *ids = ref_get(io, ids_name), *want = ref_get(io, logits_name);
    mt_llama *m = NULL;
    assert_ok(mt_llama_load(&(mt_state_dict){st, MT_FRAMEWORK_PYTORCH}, o, &m));
    assert_int_equal(mt_llama_layers(m), 2);
    int64_t len = ids->shape[1], vocab = mt_llama_vocab(m);
    assert_int_equal(vocab, want->shape[2]);
    const int64_t *tok = ids->data;
    const float *logits = NULL;
    for (int64_t n = 0; n < ids->shape[0]; n++) {
        const float *row = (const float *)want->data + n * len * vocab;
        mt_llama_reset(m);
        for (int64_t t = 0; t < len; t++) {
            long before = counter.allocations;
            assert_ok(mt_llama_forward(m, 1, &tok[n * len + t], &logits));
            assert_int_equal(counter.allocations, before);
            assert_close(logits, row + t * vocab, (size_t)vocab, 5e-5, 0);
        }
        assert_int_equal(mt_llama_position(m), len);
        mt_llama_reset(m);
        assert_ok(mt_llama_forward(m, 4, &tok[n * len], &logits));
        assert_close(logits, row + 3 * vocab, (size_t)vocab, 5e-5, 0);
        for (int64_t t = 4; t < len; t++) {
            assert_ok(mt_llama_forward(m, 1, &tok[n * len + t], &logits));
            assert_close(logits, row + t * vocab, (size_t)vocab, 5e-5, 0);
        }
        /* every position's logits: 3 tokens, then the rest, into one buffer */
        float *all = calloc((size_t)(len * vocab), sizeof *all);
        assert_non_null(all);
        mt_llama_reset(m);
        long before = counter.allocations;
        assert_ok(mt_llama_forward_all(m, 3, &tok[n * len], all));
        assert_ok(mt_llama_forward_all(m, len - 3, &tok[n * len + 3], all + 3 * vocab));
        assert_int_equal(counter.allocations, before);
        assert_close(all, row, (size_t)(len * vocab), 5e-5, 0);
        assert_fails(mt_llama_forward_all(m, 1, &tok[n * len], NULL), MT_ERR_INVALID_ARGUMENT,
                     "llama_forward_all: NULL argument");
        free(all);
    }
    mt_llama_free(m);
    mt_tensor_free(want);
    mt_tensor_free(ids);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

static void decoder_matches_pytorch(void **state)
{
    (void)state;
    decoder_case("llama_hf.safetensors",
                 &(mt_llama_options){.n_heads = 4, .norm_eps = 1e-6f,
                                     .rope = {.theta = 500000.0f}, .max_len = 16},
                 "hf_ids", "hf_logits");
    decoder_case("llama2c.safetensors",
                 &(mt_llama_options){.n_heads = 4, .norm_eps = 1e-5f, .max_len = 7},
                 "llama2c_ids", "llama2c_logits");
}

/* LlamaModel's names under torch.compile's prefix */
static const char *compiled_llama_model(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "_orig_mod.%s", strncmp(name, "model.", 6) ? name : name + 6);
    return buf;
}

/* HF's file renamed as LlamaModel saves it (no "model.") under a
 * torch.compile prefix: options.prefix and the third naming give the same
 * logits. */
static void decoder_names(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("llama_hf.safetensors"), *io = ref_open("llama_refs.safetensors");
    void *buf = NULL;
    mt_safetensors *renamed = rewritten(st, compiled_llama_model, NULL, NULL, &buf);
    mt_llama_options o = {.n_heads = 4, .norm_eps = 1e-6f, .rope = {.theta = 500000.0f},
                          .max_len = 7};
    mt_llama *m = NULL;
    assert_fails(mt_llama_load(&(mt_state_dict){renamed, MT_FRAMEWORK_PYTORCH}, &o, &m),
                 MT_ERR_NOT_FOUND, "none of model.embed_tokens.weight");
    o.prefix = "_orig_mod.";
    assert_ok(mt_llama_load(&(mt_state_dict){renamed, MT_FRAMEWORK_PYTORCH}, &o, &m));
    mt_tensor *ids = ref_get(io, "hf_ids"), *want = ref_get(io, "hf_logits");
    const float *logits = NULL;
    assert_ok(mt_llama_forward(m, 7, ids->data, &logits));
    assert_close(logits, (const float *)want->data + 6 * 48, 48, 5e-5, 0);
    mt_llama_free(m);
    mt_tensor_free(want);
    mt_tensor_free(ids);
    mt_safetensors_close(renamed);
    mt_safetensors_buffer_free(buf);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* Renamings of the HF file: without block 0's q weight; as it is; with
 * block 1 renamed 3 (a gap) */
static const char *no_q0(const char *name, char *buf, size_t size)
{
    (void)buf, (void)size;
    return strcmp(name, "model.layers.0.self_attn.q_proj.weight") ? name : NULL;
}

static const char *same_name(const char *name, char *buf, size_t size)
{
    (void)buf, (void)size;
    return name;
}

static const char *block1_as_3(const char *name, char *buf, size_t size)
{
    if (strncmp(name, "model.layers.1.", 15))
        return name;
    snprintf(buf, size, "model.layers.3.%s", name + 15);
    return buf;
}

/* The blocks the loader counts: none is refused, and so is a block's
 * tensor past the last one counted (a q weight missing, a gap), and a
 * head's bias the tied head would drop; a prefix past 256 bytes. */
static void decoder_structure_errors(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("llama_hf.safetensors");
    const mt_llama_options o = {.n_heads = 4, .norm_eps = 1e-6f, .max_len = 4};
    mt_llama *m = (mt_llama *)&m;
    void *buf = NULL;
    mt_safetensors *f = rewritten(st, no_q0, NULL, NULL, &buf);
    assert_fails(mt_llama_load(&(mt_state_dict){f, MT_FRAMEWORK_PYTORCH}, &o, &m),
                 MT_ERR_NOT_FOUND, "no block: model.layers.0.self_attn.q_proj.weight is not "
                 "in the file");
    assert_null(m);
    mt_safetensors_close(f);
    mt_safetensors_buffer_free(buf);
    f = rewritten(st, block1_as_3, NULL, NULL, &buf);
    assert_fails(mt_llama_load(&(mt_state_dict){f, MT_FRAMEWORK_PYTORCH}, &o, &m),
                 MT_ERR_FORMAT, "is in the file, but block 1 has no self_attn.q_proj.weight: "
                 "the blocks stop at 1");
    mt_safetensors_close(f);
    mt_safetensors_buffer_free(buf);
    mt_tensor *bias = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){48}, &bias));
    f = rewritten(st, same_name, "lm_head.bias", bias, &buf);
    assert_fails(mt_llama_load(&(mt_state_dict){f, MT_FRAMEWORK_PYTORCH}, &o, &m),
                 MT_ERR_UNSUPPORTED, "lm_head.bias is in the file: the head has no bias");
    mt_safetensors_close(f);
    mt_safetensors_buffer_free(buf);
    mt_tensor_free(bias);
    char long_prefix[300];
    memset(long_prefix, 'x', sizeof long_prefix - 1);
    long_prefix[sizeof long_prefix - 1] = '\0';
    mt_llama_options lo = o;
    lo.prefix = long_prefix;
    assert_fails(mt_llama_load(&(mt_state_dict){st, MT_FRAMEWORK_PYTORCH}, &lo, &m),
                 MT_ERR_INVALID_ARGUMENT, "prefix of 299 bytes, at most 256");
    assert_null(m);
    mt_safetensors_close(st);
}

typedef struct decoder_load {
    const mt_state_dict *sd;
    mt_llama_options o;
} decoder_load;

static mt_status make_decoder(const void *ctx, void **made)
{
    const decoder_load *d = ctx;
    mt_llama *m = NULL;
    mt_status s = mt_llama_load(d->sd, &d->o, &m);
    *made = m;
    return s;
}

static void release_decoder(void *m) { mt_llama_free(m); }

static void decoder_errors(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("llama_hf.safetensors"), *refs = ref_open("llama_refs.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_llama_options o = {.n_heads = 4, .norm_eps = 1e-6f, .rope = {.theta = 500000.0f},
                          .max_len = 3};
    mt_llama *m = (mt_llama *)&m;
    assert_fails(mt_llama_load(NULL, &o, &m), MT_ERR_INVALID_ARGUMENT, "NULL");
    assert_null(m);
    assert_fails(mt_llama_load(&sd, NULL, &m), MT_ERR_INVALID_ARGUMENT, "NULL");
    assert_fails(mt_llama_load(&sd, &o, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_llama_load(&(mt_state_dict){st, MT_FRAMEWORK_KERAS}, &o, &m),
                 MT_ERR_UNSUPPORTED, "PyTorch's names");
    assert_fails(mt_llama_load(&(mt_state_dict){refs, MT_FRAMEWORK_PYTORCH}, &o, &m),
                 MT_ERR_NOT_FOUND, "none of model.embed_tokens.weight (Hugging Face), "
                 "tok_embeddings.weight (Meta, llama2.c) and embed_tokens.weight (LlamaModel)");
    o.norm_eps = 0;
    assert_fails(mt_llama_load(&sd, &o, &m), MT_ERR_INVALID_ARGUMENT,
                 "norm_eps 0: give the config's rms_norm_eps");
    o.norm_eps = 1e-6f;
    o.max_len = 0;
    assert_fails(mt_llama_load(&sd, &o, &m), MT_ERR_INVALID_ARGUMENT, "max_len 0");
    o.max_len = INT64_MAX / 4;
    assert_fails(mt_llama_load(&sd, &o, &m), MT_ERR_OVERFLOW, "for max_len 2305843009213693951");
    o.max_len = 3;
    o.n_heads = 5;   /* the attention's own check, named */
    assert_fails(mt_llama_load(&sd, &o, &m), MT_ERR_SHAPE, "model.layers.0.self_attn");
    o.n_heads = 4;
    o.rope.scaling.type = MT_ROPE_SCALING_LINEAR;   /* factor 0 */
    assert_fails(mt_llama_load(&sd, &o, &m), MT_ERR_INVALID_ARGUMENT, "scaling factor 0");
    o.rope.scaling.type = MT_ROPE_SCALING_NONE;
    assert_null(m);
    assert_ok(mt_llama_load(&sd, &o, &m));
    const float *logits = NULL;
    const int64_t ok[3] = {1, 2, 3}, bad[2] = {5, 48};
    assert_fails(mt_llama_forward(m, 2, bad, &logits), MT_ERR_INVALID_ARGUMENT,
                 "token 48 (1 of 2) is not in 0..47");
    assert_fails(mt_llama_forward(m, 1, (const int64_t[]){-1}, &logits),
                 MT_ERR_INVALID_ARGUMENT, "token -1 (0 of 1)");
    assert_fails(mt_llama_forward(m, 0, ok, &logits), MT_ERR_INVALID_ARGUMENT,
                 "llama_forward: n 0, expected >= 1");
    assert_fails(mt_llama_forward(m, INT64_MIN, ok, &logits), MT_ERR_INVALID_ARGUMENT,
                 "llama_forward: n -9223372036854775808, expected >= 1");
    assert_fails(mt_llama_forward(m, 1, NULL, &logits), MT_ERR_INVALID_ARGUMENT, "NULL");
    assert_fails(mt_llama_forward(NULL, 1, ok, &logits), MT_ERR_INVALID_ARGUMENT, "NULL");
    assert_null(logits);
    assert_int_equal(mt_llama_position(m), 0);
    assert_ok(mt_llama_forward(m, 2, ok, &logits));
    assert_fails(mt_llama_forward(m, 2, ok, &logits), MT_ERR_SHAPE,
                 "2 tokens at position 2: the cache holds 3 positions");
    assert_int_equal(mt_llama_position(m), 2);
    assert_ok(mt_llama_forward(m, 1, ok, &logits));
    assert_int_equal(mt_llama_position(m), 3);
    mt_llama_reset(m);
    assert_int_equal(mt_llama_position(m), 0);
    mt_llama_free(m);
    mt_llama_free(NULL);
    assert_int_equal(mt_llama_position(NULL) + mt_llama_vocab(NULL) + mt_llama_layers(NULL), 0);
    /* out of memory at each allocation of the load: nothing made or leaked */
    const decoder_load load = {&sd, o};
    assert_oom_makes_nothing(make_decoder, release_decoder, &load, 400);
    probe_install(&counter, -1);
    mt_safetensors_close(refs);
    mt_safetensors_close(st);
}

/* GPT-NeoX on ids [N, 7] (I64): h + attn(ln1(h)) + mlp(ln2(h)) per layer. */
static mt_graph *neox_graph(const mt_safetensors *st)
{
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    const mt_norm_options ln = {.eps = 1e-5f};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "ids", MT_DTYPE_I64, 1, (int64_t[]){7}, &h));
    h = node(g, "embed_in", mt_embedding_load(&sd, "gpt_neox.embed_in", &l), &l, 1, &h);
    for (int i = 0; i < 2; i++) {
        char p[32];
        snprintf(p, sizeof p, "gpt_neox.layers.%d.", i);
        int a = node(g, join(p, "input_layernorm"),
                     mt_layer_norm_load(&sd, join(p, "input_layernorm"), &ln, &l), &l, 1, &h);
        /* rotary_pct 0.5 of D = 8 */
        a = node(g, join(p, "attention"),
                 mt_llama_attention_load(&sd, join(p, "attention"),
                                         &(mt_llama_attention_options){
                                             .n_heads = 4, .rope = {.rotary_dim = 4}}, &l),
                 &l, 1, &a);
        int m = node(g, join(p, "post_attention_layernorm"),
                     mt_layer_norm_load(&sd, join(p, "post_attention_layernorm"), &ln, &l), &l,
                     1, &h);
        m = node(g, join(p, "mlp.dense_h_to_4h"),
                 mt_linear_load(&sd, join(p, "mlp.dense_h_to_4h"),
                                &(mt_linear_options){.act = MT_ACTIVATION_GELU}, &l), &l, 1, &m);
        m = node(g, join(p, "mlp.dense_4h_to_h"),
                 mt_linear_load(&sd, join(p, "mlp.dense_4h_to_h"), NULL, &l), &l, 1, &m);
        int both = node(g, join(p, "mlp + attn"), mt_add_new(&l), &l, 2, (int[]){m, a});
        h = node(g, join(p, "+ h"), mt_add_new(&l), &l, 2, (int[]){both, h});
    }
    h = node(g, "final_layer_norm",
             mt_layer_norm_load(&sd, "gpt_neox.final_layer_norm", &ln, &l), &l, 1, &h);
    h = node(g, "embed_out", mt_linear_load(&sd, "embed_out", NULL, &l), &l, 1, &h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

static void gpt_neox_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("neox.safetensors"), *io = ref_open("neox_io.safetensors");
    mt_tensor *ids = ref_get(io, "ids");
    mt_graph *g = neox_graph(st);
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){ids}, 1, &y));
    ref_assert_matches(io, "logits", y, 3e-5, 1e-5);
    mt_graph_free(g);
    /* query_key_value's rows must split into heads of q, k, v */
    mt_layer *l = (mt_layer *)&l;
    assert_fails(mt_llama_attention_load(&(mt_state_dict){st, MT_FRAMEWORK_PYTORCH},
                                         "gpt_neox.layers.0.attention",
                                         &(mt_llama_attention_options){.n_heads = 5}, &l),
                 MT_ERR_SHAPE, "llama_attention gpt_neox.layers.0.attention: "
                 "gpt_neox.layers.0.attention.query_key_value.weight [96,32], expected "
                 "[n_heads·3·D, E] with n_heads 5");
    /* heads whose 3·heads would overflow: the same check, no overflow */
    assert_fails(mt_llama_attention_load(&(mt_state_dict){st, MT_FRAMEWORK_PYTORCH},
                                         "gpt_neox.layers.0.attention",
                                         &(mt_llama_attention_options){
                                             .n_heads = INT64_C(6148914691236517206)}, &l),
                 MT_ERR_SHAPE, "with n_heads 6148914691236517206");
    assert_null(l);
    /* out of memory at each allocation of the split: nothing made or leaked */
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    const attention_load neox = {&sd, "gpt_neox.layers.1.attention", {.n_heads = 4}};
    assert_oom_makes_nothing(make_attention, release_layer, &neox, 200);
    probe_install(&counter, -1);
    mt_tensor_free(ids);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

int main(void)
{
    probe_install(&counter, -1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rope_matches_pytorch),
        cmocka_unit_test(rope_views),
        cmocka_unit_test(rope_errors),
        cmocka_unit_test(rope_scaling_matches_pytorch),
        cmocka_unit_test(attention_with_biases),
        cmocka_unit_test(attention_with_qk_norms),
        cmocka_unit_test(attention_errors),
        cmocka_unit_test(out_of_memory),
        cmocka_unit_test(empty_inputs),
        cmocka_unit_test(hf_llama_matches_pytorch),
        cmocka_unit_test(llama2c_matches_pytorch),
        cmocka_unit_test(kv_cache_loop_matches),
        cmocka_unit_test(decoder_matches_pytorch),
        cmocka_unit_test(decoder_names),
        cmocka_unit_test(decoder_structure_errors),
        cmocka_unit_test(decoder_errors),
        cmocka_unit_test(gpt_neox_matches_pytorch),
    };
    return cmocka_run_group_tests_name("nn_llama", tests, NULL, NULL);
}
