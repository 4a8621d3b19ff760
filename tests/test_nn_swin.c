/* test_nn_swin.c — the Swin Transformer's pieces and a tiny swin_t against
 * PyTorch 1.13 / torchvision 0.14 (reference/make_swin_refs.py):
 *   mt_roll (torch.roll) on views, negative and large shifts, repeated
 *   dims, the flattened roll, zero-size dims, and its errors; the Roll
 *   layer; ShiftedWindowAttention (padded, shifted, a shift torchvision
 *   drops, no biases, shifted along W only) and PatchMerging from their state_dict names; and
 *   SwinTransformer(patch 4, embed 8, depths [2,2,2], heads [2,4,8],
 *   window 7, mlp_ratio 2) on 40x48 images as a graph following
 *   torchvision's forward:
 *     features.0: Conv2d(3, 8, 4, stride 4) (NHWC out: Permute is a no-op),
 *       LayerNorm;
 *     each block: x = x + attn(norm1(x)); x = x + mlp(norm2(x)), mlp
 *       Linear -> GELU (erf) -> Linear; shift 0 in even blocks, 3 in odd;
 *     PatchMerging between stages;
 *     norm, the mean over H, W (Permute + AdaptiveAvgPool2d(1) + Flatten),
 *     head.
 * Logits must match within 1e-4 at the file's batch of 3 and a batch of 1.
 * timm's order of roll and pad (roll_before_pad) against timm's _attn.
 * Swin V2 the same way: ShiftedWindowAttentionV2, PatchMergingV2 and a
 * SwinTransformer of SwinTransformerBlockV2 (norms after attention and MLP),
 * depths [2, 2]. */
#include <string.h>
#include "graph_build.h"

static alloc_probe counter;   /* every allocation, installed by main */
static mt_safetensors *refs;  /* swin_layers.safetensors */
static mt_safetensors *refs2; /* swin_v2_layers.safetensors */

static mt_tensor *ref_in(const mt_safetensors *st, const char *name)
{
    mt_tensor *t = NULL;
    if (mt_safetensors_get(st, name, &t))
        fail_msg("%s: %s", name, mt_last_error());
    return t;
}

static mt_tensor *ref(const char *name) { return ref_in(refs, name); }

/* t (any strides) equals want [numel] within atol */
static void assert_tensor(const mt_tensor *t, const mt_tensor *want, double atol)
{
    assert_int_equal(t->rank, want->rank);
    for (int d = 0; d < t->rank; d++)
        assert_int_equal(t->shape[d], want->shape[d]);
    mt_tensor *c = NULL;
    assert_ok(mt_tensor_contiguous(t, &c));
    assert_close((const float *)c->data, (const float *)want->data,
                 (size_t)mt_tensor_numel(want), atol, atol);
    mt_tensor_free(c);
}

/* ---- mt_roll -------------------------------------------------------------- */

/* mt_roll(x, shifts, dims) and mt_roll_into a transposed out equal `want` */
static void roll_case(const mt_tensor *x, int n, const int64_t *shifts, const int *dims,
                      const char *want_name)
{
    mt_tensor *want = ref(want_name), *y = NULL, *buf = NULL, *out = NULL;
    assert_ok(mt_roll(x, n, shifts, dims, &y));
    assert_tensor(y, want, 0.0);
    // into an out whose last two dims are swapped in memory
    int r = x->rank;
    int64_t shape[MT_MAX_RANK];
    memcpy(shape, x->shape, sizeof shape);
    shape[r - 1] = x->shape[r - 2], shape[r - 2] = x->shape[r - 1];
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, r, shape, &buf));
    assert_ok(mt_transpose(buf, r - 2, r - 1, &out));
    assert_ok(mt_roll_into(x, n, shifts, dims, out));
    assert_tensor(out, want, 0.0);
    mt_tensor_free(out);
    mt_tensor_free(buf);
    mt_tensor_free(y);
    mt_tensor_free(want);
}

static void roll_matches_torch(void **state)
{
    (void)state;
    mt_tensor *x = ref("roll_x"), *xt = NULL, *xs = NULL;
    roll_case(x, 1, (int64_t[]){2}, (int[]){1}, "roll_dim1");
    roll_case(x, 2, (int64_t[]){-1, 7}, (int[]){0, -1}, "roll_neg");
    roll_case(x, 2, (int64_t[]){1, 2}, (int[]){2, 2}, "roll_repeat");
    roll_case(x, 1, (int64_t[]){-7}, NULL, "roll_flat");
    roll_case(x, 3, (int64_t[]){1, -2, 3}, (int[]){0, 1, 2}, "roll_all");
    assert_ok(mt_transpose(x, 0, 2, &xt));   /* [5,4,3] view */
    roll_case(xt, 2, (int64_t[]){3, -2}, (int[]){0, 2}, "roll_t");
    roll_case(xt, 1, (int64_t[]){5}, NULL, "roll_flat_t");
    assert_ok(mt_slice(x, 1, 1, 3, 1, &xs));   /* x[:, 1:3] */
    mt_tensor *xs2 = NULL;
    assert_ok(mt_slice(xs, 2, 0, 5, 2, &xs2));                        /* [:, :, ::2] */
    roll_case(xs2, 2, (int64_t[]){1, -1}, (int[]){1, 2}, "roll_slice");
    mt_tensor_free(xs2);
    mt_tensor_free(xs);
    mt_tensor_free(xt);
    mt_tensor_free(x);
}

/* A broadcast input (stride 0), an I32 tensor, zero-size dims, a scalar. */
static void roll_views_and_edges(void **state)
{
    (void)state;
    // [3] broadcast to [2,3]: rows equal, rolled along dim 1 by -1
    const float row[3] = {1, 2, 3};
    mt_tensor *r = NULL, *b = NULL, *y = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){3}, row, &r));
    assert_ok(mt_expand(r, 2, (int64_t[]){2, 3}, &b));
    assert_ok(mt_roll(b, 1, (int64_t[]){-1}, (int[]){1}, &y));
    const float want_b[6] = {2, 3, 1, 2, 3, 1};
    assert_close((const float *)y->data, want_b, 6, 0, 0);
    mt_tensor_free(y);
    // I32, shift -5 along [4] = shift 3: torch.roll([0,1,2,3], -5) = [1,2,3,0]
    const int32_t iv[4] = {0, 1, 2, 3};
    mt_tensor *it = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_I32, 1, (int64_t[]){4}, iv, &it));
    assert_ok(mt_roll(it, 1, (int64_t[]){-5}, (int[]){0}, &y));
    const int32_t want_i[4] = {1, 2, 3, 0};
    assert_memory_equal(y->data, want_i, sizeof want_i);
    mt_tensor_free(y);
    // zero-size dims: the shape comes back, rolling the empty dim too
    mt_tensor *z = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){2, 0, 3}, &z));
    assert_ok(mt_roll(z, 2, (int64_t[]){1, 4}, (int[]){1, 2}, &y));
    assert_int_equal(y->rank, 3);
    assert_int_equal(y->shape[1], 0);
    assert_int_equal(y->shape[2], 3);
    mt_tensor_free(y);
    assert_ok(mt_roll(z, 1, (int64_t[]){3}, NULL, &y));
    assert_int_equal(mt_tensor_numel(y), 0);
    mt_tensor_free(y);
    // a scalar rolls (flattened) to itself; with a dim it fails, as torch
    mt_tensor *s = NULL;
    assert_ok(mt_tensor_full(0, NULL, 5.0f, &s));
    assert_ok(mt_roll(s, 1, (int64_t[]){1}, NULL, &y));
    assert_true(*(const float *)y->data == 5.0f);
    mt_tensor_free(y);
    assert_fails(mt_roll(s, 1, (int64_t[]){1}, (int[]){0}, &y), MT_ERR_INVALID_ARGUMENT,
                 "dim 0 out of range");
    mt_tensor_free(s);
    mt_tensor_free(z);
    mt_tensor_free(it);
    mt_tensor_free(b);
    mt_tensor_free(r);
}

/* A dim past 2^62 (a broadcast view) rolled twice by 2^62: the wrapped
 * shifts' sum passed INT64_MAX (signed overflow, UBSan halts the asan
 * setup); now it is taken modulo the dim, and the output's size fails
 * cleanly. */
static void roll_huge_dim_repeated(void **state)
{
    (void)state;
    mt_tensor *one = NULL, *x = NULL, *y = (mt_tensor *)&y;
    const int64_t big = ((int64_t)1 << 62) + 1, half = (int64_t)1 << 62;
    assert_ok(mt_tensor_full(1, (int64_t[]){1}, 1.0f, &one));
    assert_ok(mt_expand(one, 1, &big, &x));
    mt_status s = mt_roll(x, 2, (int64_t[]){half, half}, (int[]){0, 0}, &y);
    assert_true(s == MT_ERR_OUT_OF_MEMORY || s == MT_ERR_OVERFLOW);
    assert_true(y == (mt_tensor *)&y);
    mt_tensor_free(x);
    mt_tensor_free(one);
}

static void roll_errors(void **state)
{
    (void)state;
    mt_tensor *x = ref("roll_x"), *y = (mt_tensor *)0x1, *out = NULL, *view = NULL;
    const int64_t sh[2] = {1, 1};
    assert_fails(mt_roll(NULL, 1, sh, (int[]){0}, &y), MT_ERR_INVALID_ARGUMENT, "roll");
    assert_fails(mt_roll(x, 1, sh, (int[]){0}, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_roll(x, 0, sh, (int[]){0}, &y), MT_ERR_INVALID_ARGUMENT, "n 0 < 1");
    assert_fails(mt_roll(x, 1, NULL, (int[]){0}, &y), MT_ERR_INVALID_ARGUMENT,
                 "roll: shifts is NULL (n 1)");
    assert_fails(mt_roll(x, 2, sh, NULL, &y), MT_ERR_INVALID_ARGUMENT,
                 "2 shifts without dims");
    assert_fails(mt_roll(x, 1, sh, (int[]){3}, &y), MT_ERR_INVALID_ARGUMENT,
                 "dim 3 out of range for roll_x [3,4,5]");
    assert_fails(mt_roll(x, 1, sh, (int[]){-4}, &y), MT_ERR_INVALID_ARGUMENT,
                 "dim -4 out of range");
    assert_fails(mt_roll_into(x, 1, sh, (int[]){1}, NULL), MT_ERR_INVALID_ARGUMENT, "roll");
    assert_fails(mt_roll_into(NULL, 1, sh, (int[]){1}, x), MT_ERR_INVALID_ARGUMENT, "roll");
    assert_true(y == (mt_tensor *)0x1);   /* untouched on failure */
    // _into: a wrong shape or dtype, an out overlapping x; out untouched
    assert_ok(mt_tensor_full(3, (int64_t[]){3, 4, 4}, 7.0f, &out));
    assert_fails(mt_roll_into(x, 1, sh, (int[]){1}, out), MT_ERR_SHAPE, "roll");
    assert_true(((const float *)out->data)[0] == 7.0f);
    mt_tensor_free(out);
    assert_ok(mt_view(x, 3, x->shape, &view));
    assert_fails(mt_roll_into(x, 1, sh, (int[]){1}, view), MT_ERR_INVALID_ARGUMENT,
                 "overlaps x");
    mt_tensor_free(view);
    mt_tensor_free(x);
}

/* ---- graph helpers (as test_nn_vit.c) ------------------------------------- */

/* A graph running only l on inputs of shape [N, in...] (rank - 1 dims). */
static mt_graph *one_layer(mt_layer *l, int rank, const int64_t *in)
{
    mt_graph *g = NULL;
    int x = -1;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, rank - 1, in, &x));
    x = node(g, "layer", MT_OK, &l, 1, &x);
    assert_ok(mt_graph_output(g, x));
    return g;
}

static void roll_layer(void **state)
{
    (void)state;
    mt_tensor *x = ref("roll_x"), *want = ref("roll_dim1");
    mt_layer *l = NULL;
    assert_ok(mt_roll_new(1, (int64_t[]){2}, (int[]){-2}, &l));
    mt_graph *g = one_layer(l, 3, (int64_t[]){4, 5});
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
    assert_tensor(y, want, 0.0);
    mt_graph_free(g);
    // the batch, or a dim the input lacks
    assert_fails(mt_roll_new(1, (int64_t[]){2}, (int[]){0}, &l), MT_ERR_INVALID_ARGUMENT,
                 "dim 0 is the batch");
    assert_fails(mt_roll_new(1, (int64_t[]){2}, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "flattened roll");
    assert_ok(mt_roll_new(1, (int64_t[]){2}, (int[]){3}, &l));
    mt_graph *g2 = NULL;
    int in = -1, id = -1;
    assert_ok(mt_graph_new(&g2));
    assert_ok(mt_graph_input(g2, "x", MT_DTYPE_F32, 2, (int64_t[]){4, 5}, &in));
    assert_fails(mt_graph_add(g2, "roll", l, 1, &in, &id), MT_ERR_SHAPE,
                 "expects a dim 3 (not the batch)");
    mt_graph_free(g2);
    mt_tensor_free(want);
    mt_tensor_free(x);
}

/* ---- ShiftedWindowAttention, PatchMerging --------------------------------- */

static const struct {
    const char *name;
    mt_window_attention_options o;
} attention_cases[4] = {
    {"swa_a", {.window_h = 3, .window_w = 4, .shift_h = 1, .shift_w = 2, .num_heads = 2}},
    {"swa_b", {.window_h = 4, .window_w = 3, .shift_h = 2, .shift_w = 1, .num_heads = 3}},
    {"swa_c", {.window_h = 2, .window_w = 2, .num_heads = 1}},
    {"swa_d", {.window_h = 2, .window_w = 3, .shift_w = 1, .num_heads = 2}},
};

static void window_attention_matches_torchvision(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    for (int i = 0; i < 4; i++) {
        const char *c = attention_cases[i].name;
        mt_tensor *x = ref(at(c, "x")), *want = ref(at(c, "y")), *xt = NULL, *xv = NULL;
        mt_layer *l = NULL;
        assert_ok(mt_shifted_window_attention_load(&sd, at(c, "attn"), &attention_cases[i].o,
                                                   &l));
        mt_graph *g = one_layer(l, 4, x->shape + 1);
        const mt_tensor *y = NULL;
        for (int pass = 0; pass < 2; pass++) {   /* the second without the heap */
            long before = counter.allocations;
            assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
            if (pass)
                assert_int_equal(counter.allocations, before);
            assert_tensor(y, want, 1e-5);
        }
        mt_graph_free(g);
        // on its own, from a strided view of x (H and W swapped in memory)
        assert_ok(mt_shifted_window_attention_load(&sd, at(c, "attn"), &attention_cases[i].o,
                                                   &l));
        assert_ok(mt_transpose(x, 1, 2, &xt));
        mt_tensor *buf = NULL;
        assert_ok(mt_tensor_contiguous(xt, &buf));
        assert_ok(mt_transpose(buf, 1, 2, &xv));
        mt_tensor *y1 = NULL;
        assert_ok(mt_layer_forward(l, xv, &y1));
        assert_tensor(y1, want, 1e-5);
        mt_tensor_free(y1);
        mt_layer_free(l);
        mt_tensor_free(xv);
        mt_tensor_free(buf);
        mt_tensor_free(xt);
        mt_tensor_free(want);
        mt_tensor_free(x);
    }
}

/* Without the index buffer the layer computes torchvision's: same output. */
static void window_attention_own_index(void **state)
{
    (void)state;
    mt_tensor *t[5], *x = ref("swa_a.x"), *want = ref("swa_a.y"), *y = NULL;
    static const char *const names[5] = {
        "swa_a.attn.qkv.weight", "swa_a.attn.qkv.bias", "swa_a.attn.proj.weight",
        "swa_a.attn.proj.bias", "swa_a.attn.relative_position_bias_table"};
    for (int i = 0; i < 5; i++)
        t[i] = ref(names[i]);
    mt_window_attention_weights w = {t[0], t[1], t[2], t[3], t[4], NULL};
    mt_layer *l = NULL;
    assert_ok(mt_shifted_window_attention_new(&w, &attention_cases[0].o, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_tensor(y, want, 1e-5);
    mt_tensor_free(y);
    mt_layer_free(l);
    for (int i = 0; i < 5; i++)
        mt_tensor_free(t[i]);
    mt_tensor_free(want);
    mt_tensor_free(x);
}

/* timm's order (roll, then pad; crop, then roll back) on the same layer:
 * reference/make_swin_refs.py's timm_attention, timm 1.0's _attn. */
static void window_attention_timm_order(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_open(REFS_DIR "/swin_timm.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    static const struct {
        const char *name;
        mt_window_attention_options o;
    } cases[2] = {
        {"timm_a", {.window_h = 3, .window_w = 4, .shift_h = 1, .shift_w = 2, .num_heads = 2,
                    .roll_before_pad = true}},
        {"timm_b", {.window_h = 3, .window_w = 4, .shift_w = 2, .num_heads = 3,
                    .roll_before_pad = true}},
    };
    for (int i = 0; i < 2; i++) {
        const char *c = cases[i].name;
        mt_tensor *x = ref_in(st, at(c, "x")), *want = ref_in(st, at(c, "y"));
        mt_layer *l = NULL;
        assert_ok(mt_shifted_window_attention_load(&sd, at(c, "attn"), &cases[i].o, &l));
        mt_graph *g = one_layer(l, 4, x->shape + 1);
        const mt_tensor *y = NULL;
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
        assert_tensor(y, want, 1e-5);
        mt_graph_free(g);
        mt_tensor_free(want);
        mt_tensor_free(x);
    }
    mt_safetensors_close(st);
}

static void window_attention_errors(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    mt_window_attention_options o = attention_cases[0].o;
    mt_layer *l = (mt_layer *)0x1;
    o.shift_w = 4;   /* not < window */
    assert_fails(mt_shifted_window_attention_load(&sd, "swa_a.attn", &o, &l),
                 MT_ERR_INVALID_ARGUMENT, "shift 1x4 (0 <= shift < window)");
    assert_null(l);
    o = attention_cases[0].o;
    o.num_heads = 3;   /* 8 channels */
    assert_fails(mt_shifted_window_attention_load(&sd, "swa_a.attn", &o, &l), MT_ERR_SHAPE,
                 "divisible by 3 heads");
    o = attention_cases[0].o;
    o.window_h = 4;   /* the table has (2·3-1)·(2·4-1) = 35 rows */
    assert_fails(mt_shifted_window_attention_load(&sd, "swa_a.attn", &o, &l), MT_ERR_SHAPE,
                 "relative_position_bias_table [35,2], expected [49, 2]");
    assert_fails(mt_shifted_window_attention_load(&sd, "swa_x.attn", &attention_cases[0].o,
                                                  &l), MT_ERR_NOT_FOUND, "swa_x.attn.qkv.weight");
    const mt_state_dict keras = {refs, MT_FRAMEWORK_KERAS};
    assert_fails(mt_shifted_window_attention_load(&keras, "swa_a.attn", &attention_cases[0].o,
                                                  &l), MT_ERR_UNSUPPORTED, "torchvision's");
    assert_fails(mt_shifted_window_attention_new(NULL, &o, &l), MT_ERR_INVALID_ARGUMENT,
                 "NULL");
    // an index entry past the table
    mt_tensor *t[5], *ix = ref("swa_a.attn.relative_position_index"), *bad = NULL;
    static const char *const names[5] = {
        "swa_a.attn.qkv.weight", "swa_a.attn.qkv.bias", "swa_a.attn.proj.weight",
        "swa_a.attn.proj.bias", "swa_a.attn.relative_position_bias_table"};
    for (int i = 0; i < 5; i++)
        t[i] = ref(names[i]);
    assert_ok(mt_tensor_contiguous(ix, &bad));
    ((int64_t *)bad->data)[7] = 35;
    mt_window_attention_weights w = {t[0], t[1], t[2], t[3], t[4], bad};
    assert_fails(mt_shifted_window_attention_new(&w, &attention_cases[0].o, &l), MT_ERR_SHAPE,
                 "relative_position_index entry 7 is 35, outside");
    w.relative_position_index = t[1];   /* F32 */
    assert_fails(mt_shifted_window_attention_new(&w, &attention_cases[0].o, &l), MT_ERR_DTYPE,
                 "has dtype F32, expected I32 or I64");
    mt_tensor *ix_short = NULL;   /* 143 of the 144 entries */
    assert_ok(mt_view(ix, 1, (int64_t[]){144}, &ix_short));
    mt_tensor *ix143 = NULL;
    assert_ok(mt_narrow(ix_short, 0, 0, 143, &ix143));
    w.relative_position_index = ix143;
    assert_fails(mt_shifted_window_attention_new(&w, &attention_cases[0].o, &l), MT_ERR_SHAPE,
                 "expected 144 entries (window 3x4, squared)");
    mt_tensor_free(ix143);
    mt_tensor_free(ix_short);
    w.relative_position_index = NULL;
    mt_tensor nodata = *t[2];   /* a proj weight with no data: the layer and tensor named */
    nodata.data = NULL;
    w.proj_weight = &nodata;
    assert_fails(mt_shifted_window_attention_new(&w, &attention_cases[0].o, &l),
                 MT_ERR_INVALID_ARGUMENT, "swa_a.attn.proj.weight [8,8] has no data");
    w.proj_weight = t[0];   /* [24,8], not [8,8] */
    assert_fails(mt_shifted_window_attention_new(&w, &attention_cases[0].o, &l), MT_ERR_SHAPE,
                 "expected [8, 8] (C, C)");
    // the input's channels
    w.proj_weight = t[2];
    assert_ok(mt_shifted_window_attention_new(&w, &attention_cases[0].o, &l));
    mt_tensor *x = NULL, *y = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){1, 5, 5, 6}, &x));
    assert_fails(mt_layer_forward(l, x, &y), MT_ERR_SHAPE, "expects F32 [N,H,W,8]");
    // an H whose padded size could overflow, refused when the graph is built
    // (which frees the layer it refuses)
    mt_graph *g = NULL;
    int in = -1, id = -1;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){INT64_MAX / 64, 4, 8}, &in));
    assert_fails(mt_graph_add(g, "attn", l, 1, &in, &id), MT_ERR_SHAPE, "H, W <= 2^40");
    mt_graph_free(g);
    mt_tensor_free(x);
    mt_tensor_free(bad);
    mt_tensor_free(ix);
    for (int i = 0; i < 5; i++)
        mt_tensor_free(t[i]);
}

static void patch_merging_matches_torchvision(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref("merge.x"), *want = ref("merge.y");
    mt_layer *l = NULL;
    assert_ok(mt_patch_merging_load(&sd, "merge", NULL, &l));
    mt_graph *g = one_layer(l, 4, x->shape + 1);
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
    assert_tensor(y, want, 1e-5);
    mt_graph_free(g);
    // errors: a channel count the norm does not fit, a weight not [out, 4C]
    mt_tensor *nw = ref("merge.norm.weight"), *rw = ref("merge.reduction.weight"), *z = NULL,
              *out = NULL;
    assert_fails(mt_patch_merging_new(nw, NULL, nw, NULL, &l), MT_ERR_SHAPE,
                 "expected [out, 4C]");
    assert_fails(mt_patch_merging_new(rw, NULL, rw, NULL, &l), MT_ERR_SHAPE,
                 "(4C, the reduction's inputs)");
    assert_fails(mt_patch_merging_new(nw, NULL, rw, &(mt_norm_options){.eps = -1.0f}, &l),
                 MT_ERR_INVALID_ARGUMENT, "eps -1");
    assert_ok(mt_patch_merging_new(nw, NULL, rw, NULL, &l));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){1, 4, 4, 8}, &z));
    assert_fails(mt_layer_forward(l, z, &out), MT_ERR_SHAPE, "expects F32 [N,H,W,4]");
    mt_layer_free(l);
    assert_fails(mt_patch_merging_load(&sd, "nothing", NULL, &l), MT_ERR_NOT_FOUND,
                 "nothing.reduction.weight");
    mt_tensor_free(z);
    mt_tensor_free(rw);
    mt_tensor_free(nw);
    mt_tensor_free(want);
    mt_tensor_free(x);
}

/* Every allocation of the loaders failing in turn: out of memory, nothing
 * leaked, *out NULL; then a success. */
static void loaders_out_of_memory(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    for (int which = 0; which < 3; which++) {
        for (long k = 0;; k++) {
            mt_layer *l = (mt_layer *)0x1;
            long live = counter.live;
            counter.allocations = 0;
            counter.fail_after = k;
            mt_status s = which == 0 ? mt_shifted_window_attention_load(
                                           &sd, "swa_a.attn", &attention_cases[0].o, &l)
                          : which == 1 ? mt_patch_merging_load(&sd, "merge", NULL, &l)
                                       : mt_roll_new(2, (int64_t[]){1, 2}, (int[]){1, 2}, &l);
            counter.fail_after = -1;
            if (s == MT_OK) {
                assert_true(k > 0);
                mt_layer_free(l);
                assert_int_equal(counter.live, live);
                break;
            }
            assert_int_equal(s, MT_ERR_OUT_OF_MEMORY);
            assert_null(l);
            assert_int_equal(counter.live, live);
        }
    }
}

/* ---- the model ------------------------------------------------------------ */

enum { EMBED = 8, STAGES = 3, DEPTH = 2, WINDOW = 7, CLASSES = 10 };

/* torchvision's SwinTransformerBlock "p" on h [N,H,W,dim]:
 * x + attn(norm1(x)), x + mlp(norm2(x)); V2's SwinTransformerBlockV2:
 * x + norm1(attn(x)), x + norm2(mlp(x)). */
static int swin_block(mt_graph *g, const mt_state_dict *sd, const char *p, int h,
                      int64_t heads, bool shifted, bool v2)
{
    mt_layer *l = NULL;
    const mt_window_attention_options o = {
        .window_h = WINDOW, .window_w = WINDOW, .shift_h = shifted ? WINDOW / 2 : 0,
        .shift_w = shifted ? WINDOW / 2 : 0, .num_heads = heads};
    int x = h;
    if (!v2)
        x = node(g, at(p, "norm1"), mt_layer_norm_load(sd, at(p, "norm1"), NULL, &l), &l, 1,
                 &x);
    x = node(g, at(p, "attn"),
             v2 ? mt_shifted_window_attention_v2_load(sd, at(p, "attn"), &o, &l)
                : mt_shifted_window_attention_load(sd, at(p, "attn"), &o, &l),
             &l, 1, &x);
    if (v2)
        x = node(g, at(p, "norm1"), mt_layer_norm_load(sd, at(p, "norm1"), NULL, &l), &l, 1,
                 &x);
    x = node(g, at(p, "add_1"), mt_add_new(&l), &l, 2, (int[]){h, x});
    int y = x;
    if (!v2)
        y = node(g, at(p, "norm2"), mt_layer_norm_load(sd, at(p, "norm2"), NULL, &l), &l, 1,
                 &y);
    y = node(g, at(p, "mlp.0"),
             mt_linear_load(sd, at(p, "mlp.0"),
                            &(mt_linear_options){.act = MT_ACTIVATION_GELU}, &l),
             &l, 1, &y);
    y = node(g, at(p, "mlp.3"), mt_linear_load(sd, at(p, "mlp.3"), NULL, &l), &l, 1, &y);
    if (v2)
        y = node(g, at(p, "norm2"), mt_layer_norm_load(sd, at(p, "norm2"), NULL, &l), &l, 1,
                 &y);
    return node(g, at(p, "add_2"), mt_add_new(&l), &l, 2, (int[]){x, y});
}

/* torchvision.models.SwinTransformer on NHWC images [N, 40, 48, 3], of
 * `stages` stages (V2: of V2 blocks and PatchMergingV2) */
static mt_graph *swin_transformer(const mt_safetensors *st, int stages, bool v2)
{
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){40, 48, 3}, &h));
    mt_conv2d_options patches = {.stride_h = 4, .stride_w = 4};   /* VALID */
    h = node(g, "features.0.0", mt_conv2d_load(&sd, "features.0.0", &patches, &l), &l, 1, &h);
    h = node(g, "features.0.2", mt_layer_norm_load(&sd, "features.0.2", NULL, &l), &l, 1, &h);
    static const int64_t heads[STAGES] = {2, 4, 8};
    for (int s = 0; s < stages; s++) {
        for (int b = 0; b < DEPTH; b++) {
            char p[64];
            snprintf(p, sizeof p, "features.%d.%d", 2 * s + 1, b);
            h = swin_block(g, &sd, p, h, heads[s], b % 2 == 1, v2);
        }
        if (s + 1 < stages) {
            char p[64];
            snprintf(p, sizeof p, "features.%d", 2 * s + 2);
            h = node(g, p,
                     v2 ? mt_patch_merging_v2_load(&sd, p, NULL, &l)
                        : mt_patch_merging_load(&sd, p, NULL, &l),
                     &l, 1, &h);
        }
    }
    h = node(g, "norm", mt_layer_norm_load(&sd, "norm", NULL, &l), &l, 1, &h);
    h = node(g, "avgpool", mt_global_avg_pool2d_new(&l), &l, 1, &h);
    h = node(g, "head", mt_linear_load(&sd, "head", NULL, &l), &l, 1, &h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

/* The model of `file` (and file_io) matches its logits. */
static void model_matches(const char *file, const char *io_file, int stages, bool v2)
{
    mt_safetensors *st = NULL, *io = NULL;
    mt_tensor *x = NULL, *want = NULL, *x1 = NULL;
    assert_ok(mt_safetensors_open(file, &st));
    assert_ok(mt_safetensors_open(io_file, &io));
    assert_ok(mt_safetensors_get(io, "x", &x));
    assert_ok(mt_safetensors_get(io, "logits", &want));
    assert_int_equal(want->shape[0], 3);
    mt_graph *g = swin_transformer(st, stages, v2);
    output_matches(g, x, want->data, 2, (int64_t[]){3, CLASSES}, 1e-4,
                   1e-4, &counter);
    assert_ok(mt_narrow(x, 0, 1, 1, &x1));   /* the second image alone */
    output_matches(g, x1, (const float *)want->data + CLASSES, 2, (int64_t[]){1, CLASSES}, 1e-4,
                   1e-4, &counter);
    assert_ok(mt_graph_freeze(g));
    output_matches(g, x, want->data, 2, (int64_t[]){3, CLASSES}, 1e-4,
                   1e-4, &counter);
    mt_graph_free(g);
    mt_tensor_free(x1);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

static void swin_matches_torchvision(void **state)
{
    (void)state;
    model_matches(REFS_DIR "/swin.safetensors", REFS_DIR "/swin_io.safetensors", STAGES,
                  false);
}

static void swin_v2_matches_torchvision(void **state)
{
    (void)state;
    model_matches(REFS_DIR "/swin_v2.safetensors", REFS_DIR "/swin_v2_io.safetensors", 2,
                  true);
}

/* ---- Swin V2's layers ----------------------------------------------------- */

static const struct {
    const char *name;
    mt_window_attention_options o;
} v2_cases[2] = {
    {"swa2_a", {.window_h = 3, .window_w = 4, .shift_h = 1, .shift_w = 2, .num_heads = 2}},
    {"swa2_b", {.window_h = 4, .window_w = 3, .shift_h = 2, .shift_w = 1, .num_heads = 3}},
};

static void window_attention_v2_matches_torchvision(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs2, MT_FRAMEWORK_PYTORCH};
    for (int i = 0; i < 2; i++) {
        const char *c = v2_cases[i].name;
        mt_tensor *x = ref_in(refs2, at(c, "x")), *want = ref_in(refs2, at(c, "y"));
        mt_layer *l = NULL;
        assert_ok(mt_shifted_window_attention_v2_load(&sd, at(c, "attn"), &v2_cases[i].o, &l));
        mt_graph *g = one_layer(l, 4, x->shape + 1);
        const mt_tensor *y = NULL;
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
        assert_tensor(y, want, 1e-5);
        mt_graph_free(g);
        mt_tensor_free(want);
        mt_tensor_free(x);
    }
}

/* Without the two buffers the layer computes torchvision's: same output;
 * and its errors. */
static void window_attention_v2_own_buffers(void **state)
{
    (void)state;
    static const char *const names[8] = {
        "swa2_a.attn.qkv.weight", "swa2_a.attn.qkv.bias", "swa2_a.attn.proj.weight",
        "swa2_a.attn.proj.bias", "swa2_a.attn.logit_scale", "swa2_a.attn.cpb_mlp.0.weight",
        "swa2_a.attn.cpb_mlp.0.bias", "swa2_a.attn.cpb_mlp.2.weight"};
    mt_tensor *t[8], *x = ref_in(refs2, "swa2_a.x"), *want = ref_in(refs2, "swa2_a.y"),
              *y = NULL;
    for (int i = 0; i < 8; i++)
        t[i] = ref_in(refs2, names[i]);
    mt_window_attention_v2_weights w = {
        .qkv_weight = t[0], .qkv_bias = t[1], .proj_weight = t[2], .proj_bias = t[3],
        .logit_scale = t[4], .cpb_mlp0_weight = t[5], .cpb_mlp0_bias = t[6],
        .cpb_mlp2_weight = t[7]};
    mt_layer *l = NULL;
    assert_ok(mt_shifted_window_attention_v2_new(&w, &v2_cases[0].o, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_tensor(y, want, 1e-5);
    mt_tensor_free(y);
    mt_layer_free(l);
    // a NaN logit_scale stays NaN through torch.clamp(max=ln 100): every
    // output NaN, as torchvision's (fminf would read it as the clamp, 100)
    mt_tensor *nan_scale = NULL;
    assert_ok(mt_tensor_full(t[4]->rank, t[4]->shape, NAN, &nan_scale));
    w.logit_scale = nan_scale;
    assert_ok(mt_shifted_window_attention_v2_new(&w, &v2_cases[0].o, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    for (int64_t i = 0; i < mt_tensor_numel(y); i++)
        assert_true(isnan(((float *)y->data)[i]));
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(nan_scale);
    w.logit_scale = t[4];
    mt_window_attention_options o = v2_cases[0].o;
    o.window_w = 1, o.shift_w = 0;
    assert_fails(mt_shifted_window_attention_v2_new(&w, &o, &l), MT_ERR_INVALID_ARGUMENT,
                 "window 3x1 (2..1024)");
    o = v2_cases[0].o;
    o.num_heads = 4;
    assert_fails(mt_shifted_window_attention_v2_new(&w, &o, &l), MT_ERR_SHAPE,
                 "expected 4 entries (heads)");
    w.cpb_mlp2_weight = t[5];
    assert_fails(mt_shifted_window_attention_v2_new(&w, &v2_cases[0].o, &l), MT_ERR_SHAPE,
                 "expected [hidden, 2], [hidden], [2, hidden] (heads)");
    w.cpb_mlp2_weight = t[7];
    w.relative_coords_table = t[6];   /* 512 entries, not 35·2 */
    assert_fails(mt_shifted_window_attention_v2_new(&w, &v2_cases[0].o, &l), MT_ERR_SHAPE,
                 "expected 70 entries");
    assert_null(l);
    for (int i = 0; i < 8; i++)
        mt_tensor_free(t[i]);
    mt_tensor_free(want);
    mt_tensor_free(x);
}

static void patch_merging_v2_matches_torchvision(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs2, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref_in(refs2, "merge2.x"), *want = ref_in(refs2, "merge2.y"), *y = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_patch_merging_v2_load(&sd, "merge2", NULL, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_tensor(y, want, 1e-5);
    mt_tensor_free(y);
    mt_layer_free(l);
    // V1's norm [4C] does not fit V2's [out]
    mt_tensor *nw = ref("merge.norm.weight"), *rw = ref_in(refs2, "merge2.reduction.weight");
    assert_fails(mt_patch_merging_v2_new(nw, NULL, rw, NULL, &l), MT_ERR_SHAPE,
                 "expected [8] (the reduction's outputs)");
    mt_tensor_free(rw);
    mt_tensor_free(nw);
    mt_tensor_free(want);
    mt_tensor_free(x);
}

static int open_refs(void **state)
{
    (void)state;
    return mt_safetensors_open(REFS_DIR "/swin_layers.safetensors", &refs) ||
                   mt_safetensors_open(REFS_DIR "/swin_v2_layers.safetensors", &refs2)
               ? -1
               : 0;
}

static int close_refs(void **state)
{
    (void)state;
    mt_safetensors_close(refs);
    mt_safetensors_close(refs2);
    return 0;
}

int main(void)
{
    probe_install(&counter, -1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roll_matches_torch),
        cmocka_unit_test(roll_views_and_edges),
        cmocka_unit_test(roll_errors),
        cmocka_unit_test(roll_huge_dim_repeated),
        cmocka_unit_test(roll_layer),
        cmocka_unit_test(window_attention_matches_torchvision),
        cmocka_unit_test(window_attention_own_index),
        cmocka_unit_test(window_attention_timm_order),
        cmocka_unit_test(window_attention_errors),
        cmocka_unit_test(patch_merging_matches_torchvision),
        cmocka_unit_test(loaders_out_of_memory),
        cmocka_unit_test(swin_matches_torchvision),
        cmocka_unit_test(window_attention_v2_matches_torchvision),
        cmocka_unit_test(window_attention_v2_own_buffers),
        cmocka_unit_test(patch_merging_v2_matches_torchvision),
        cmocka_unit_test(swin_v2_matches_torchvision),
    };
    return cmocka_run_group_tests_name("nn_swin", tests, open_refs, close_refs);
}
