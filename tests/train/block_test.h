/* block_test.h — the one-block character transformer (nanoGPT's Block
 * between embeddings and an LM head) against PyTorch's loss and gradients
 * (tests/train/make_block_refs.py, float64), and no allocation after the
 * first step. Included by tests/test_autograd.c after its MLP helpers
 * (ref, assert_tensor_close) and fd_rows_ops.h (sibling_path). */
#include <string.h>

enum { BLK_B = 2, BLK_T = 6, BLK_V = 11, BLK_C = 8, BLK_H = 2, BLK_N_W = 17 };

static const char *const block_names[BLK_N_W] = {
    "wte", "wpe", "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
    "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
    "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
    "ln_f.weight", "ln_f.bias", "lm_head.weight"};
enum { WTE, WPE, LN1_W, LN1_B, ATTN_W, ATTN_B, APROJ_W, APROJ_B, LN2_W, LN2_B, FC_W, FC_B,
       MPROJ_W, MPROJ_B, LNF_W, LNF_B, HEAD_W };

typedef struct block_model {
    mt_safetensors *refs;
    mt_tensor *idx, *targets, *flat_targets, *positions;
    int64_t pos_data[BLK_T];
    mt_value *w[BLK_N_W];
} block_model;

static void block_open(block_model *m)
{
    char path[4096];
    sibling_path("block_refs.safetensors", path, sizeof path);
    assert_ok(mt_safetensors_open(path, &m->refs));
    m->idx = ref(m->refs, "idx");
    m->targets = ref(m->refs, "targets");
    assert_ok(mt_view(m->targets, 1, (int64_t[]){BLK_B * BLK_T}, &m->flat_targets));
    for (int64_t t = 0; t < BLK_T; t++)
        m->pos_data[t] = t;
    assert_ok(mt_tensor_wrap(MT_DTYPE_I64, 1, (int64_t[]){BLK_T}, m->pos_data, &m->positions));
    for (int i = 0; i < BLK_N_W; i++) {
        mt_tensor *t = ref(m->refs, block_names[i]);
        assert_ok(mt_param_new(t, block_names[i], &m->w[i]));
        mt_tensor_free(t);
    }
}

static void block_close(block_model *m)
{
    for (int i = 0; i < BLK_N_W; i++)
        mt_param_free(m->w[i]);
    mt_tensor_free(m->positions);
    mt_tensor_free(m->flat_targets);
    mt_tensor_free(m->idx);
    mt_tensor_free(m->targets);
    mt_safetensors_close(m->refs);
}

/* F.linear(x [N,in], w [out,in], b): through a transposed view of w. */
static mt_status block_linear(mt_tape *t, mt_value *x, mt_value *w, mt_value *b,
                              mt_activation act, mt_value **o)
{
    mt_value *wt;
    mt_status s = mt_tape_transpose(t, w, 0, 1, &wt);
    return s ? s : mt_tape_linear(t, x, wt, b, act, o);
}

/* q, k or v [B*T, C] piece of c_attn's output -> [B, H, T, D] */
static mt_status block_heads(mt_tape *t, mt_value *x, mt_value **o)
{
    mt_value *r;
    mt_status s = mt_tape_reshape(t, x, 4, (int64_t[]){BLK_B, BLK_T, BLK_H, BLK_C / BLK_H}, &r);
    return s ? s : mt_tape_transpose(t, r, 1, 2, o);
}

static mt_status block_loss(block_model *m, mt_tape *t, mt_value **loss)
{
    mt_value **w = m->w;
    mt_value *tok, *pos, *x, *h, *qkv, *piece[3], *q, *k, *v, *y, *yt, *yc, *yf, *a, *x1,
        *h2, *f, *g, *x2, *hf, *logits;
    int n;
    mt_status s;
    mt_tape_reset(t);
    if ((s = mt_tape_embedding(t, m->idx, w[WTE], &tok)) ||           // (B,T,C)
        (s = mt_tape_embedding(t, m->positions, w[WPE], &pos)) ||     // (T,C)
        (s = mt_tape_add(t, tok, pos, &x)) ||
        (s = mt_tape_reshape(t, x, 2, (int64_t[]){BLK_B * BLK_T, BLK_C}, &x)) ||
        /* attention */
        (s = mt_tape_layer_norm(t, x, 1, w[LN1_W], w[LN1_B], 1e-5f, &h)) ||
        (s = block_linear(t, h, w[ATTN_W], w[ATTN_B], MT_ACTIVATION_NONE, &qkv)) ||  // (BT,3C)
        (s = mt_tape_split(t, qkv, BLK_C, -1, 3, piece, &n)) ||
        (s = block_heads(t, piece[0], &q)) || (s = block_heads(t, piece[1], &k)) ||
        (s = block_heads(t, piece[2], &v)) ||                                        // (B,H,T,D)
        (s = mt_tape_scaled_dot_product_attention(t, q, k, v, NULL, true, 0.0f, &y)) ||
        (s = mt_tape_transpose(t, y, 1, 2, &yt)) ||                                  // (B,T,H,D)
        (s = mt_tape_contiguous(t, yt, &yc)) ||
        (s = mt_tape_reshape(t, yc, 2, (int64_t[]){BLK_B * BLK_T, BLK_C}, &yf)) ||
        (s = block_linear(t, yf, w[APROJ_W], w[APROJ_B], MT_ACTIVATION_NONE, &a)) ||
        (s = mt_tape_add(t, x, a, &x1)) ||
        /* MLP */
        (s = mt_tape_layer_norm(t, x1, 1, w[LN2_W], w[LN2_B], 1e-5f, &h2)) ||
        (s = block_linear(t, h2, w[FC_W], w[FC_B], MT_ACTIVATION_GELU, &f)) ||        // (BT,4C)
        (s = block_linear(t, f, w[MPROJ_W], w[MPROJ_B], MT_ACTIVATION_NONE, &g)) ||
        (s = mt_tape_add(t, x1, g, &x2)) ||
        /* head */
        (s = mt_tape_layer_norm(t, x2, 1, w[LNF_W], w[LNF_B], 1e-5f, &hf)) ||
        (s = block_linear(t, hf, w[HEAD_W], NULL, MT_ACTIVATION_NONE, &logits)))     // (BT,V)
        return s;
    return mt_tape_cross_entropy(t, logits, m->flat_targets, NULL, loss);
}

static void test_transformer_block_matches_pytorch(void **state)
{
    (void)state;
    block_model m;
    block_open(&m);
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    mt_value *loss;
    assert_ok(block_loss(&m, tape, &loss));
    mt_tensor *want = ref(m.refs, "loss");
    assert_float_equal(*(float *)loss->data->data, *(float *)want->data, 1e-5);
    mt_tensor_free(want);
    assert_ok(mt_tape_backward(tape, loss));
    for (int i = 0; i < BLK_N_W; i++) {
        char name[64];
        snprintf(name, sizeof name, "grad.%s", block_names[i]);
        want = ref(m.refs, name);
        /* max relative error 1e-4 (with a floor of 1e-6 for gradients near 0) */
        assert_tensor_close(m.w[i]->grad, want, 1e-6, 1e-4);
        mt_tensor_free(want);
    }
    /* no_grad: the same loss, nothing recorded (nothing to walk back) */
    float with_grad = *(float *)loss->data->data;
    mt_tape_grad_set(tape, false);
    assert_ok(block_loss(&m, tape, &loss));
    assert_float_equal(*(float *)loss->data->data, with_grad, 0);
    assert_false(loss->requires_grad);
    assert_fails(mt_tape_backward(tape, loss), MT_ERR_INVALID_ARGUMENT, "does not depend");
    mt_tape_free(tape);
    block_close(&m);
}

static mt_status block_loss_of(void *m, mt_tape *t, mt_value **loss)
{
    return block_loss(m, t, loss);
}

static void test_transformer_step_allocates_nothing_after_the_first(void **state)
{
    (void)state;
    block_model m;
    block_open(&m);
    assert_int_equal(warm_step_allocations(block_loss_of, &m, m.w, BLK_N_W), 0);
    block_close(&m);
}
