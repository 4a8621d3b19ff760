/* test_charlm.c — the character model of examples/charlm against PyTorch.
 *
 * Reference data (examples/charlm/train/train.py, PyTorch 1.13):
 *   examples/charlm/data/windows.i32, windows-logits.f32   the example's model
 *     (biases, untied head, F32): 4 held-out windows of 64 tokens that cross
 *     line ends, and PyTorch's logits [4,64,81]
 *   tests/charlm/tiny-tied{,-bf16}.safetensors, tiny-windows*   a bias=False,
 *     tied-head model whose vocabulary holds \n, ", \ and non-ASCII
 *     characters (one outside the BMP); the same BF16-exact weights as F32
 *     (reverse storage order, no head, no mask buffers, \u-escaped metadata)
 *     and as BF16 (with the mask buffers and a duplicate lm_head.weight)
 * Checkpoints that must not load are made here from the tiny one with
 * minitensor's safetensors writer. */
#include "test_util.h"

#include "decode.h"
#include "model.h"
#include "sample.h"

#define TOLERANCE 1e-4   /* absolute, on logits up to ~14 */
#define V_MAIN 81
#define V_TINY 84

/* ---- files ------------------------------------------------------------------------ */

typedef struct loaded {
    mt_safetensors *file;
    charlm_model *model;
    charlm_state *state;
    int32_t *windows;   /* [n, block_size] */
    float *logits;      /* [n, block_size, vocab] */
    int64_t n;
} loaded;

static void load(loaded *l, const char *dir, const char *weights, const char *prefix)
{
    char path[1024], name[256];
    snprintf(path, sizeof path, "%s/%s", dir, weights);
    assert_ok(mt_safetensors_open(path, &l->file));
    assert_ok(charlm_model_new(l->file, &l->model));
    assert_ok(charlm_state_new(l->model, &l->state));
    size_t wsize, lsize;
    snprintf(name, sizeof name, "%swindows.i32", prefix);
    l->windows = read_test_file(dir, name, &wsize);
    snprintf(name, sizeof name, "%swindows-logits.f32", prefix);
    l->logits = read_test_file(dir, name, &lsize);
    const charlm_config *c = &l->model->cfg;
    l->n = (int64_t)(wsize / sizeof(int32_t)) / c->block_size;
    assert_int_equal(lsize, (size_t)(l->n * c->block_size * c->vocab_size) * sizeof(float));
}

static void unload(loaded *l)
{
    charlm_state_free(l->state);
    charlm_model_free(l->model);
    mt_safetensors_close(l->file);
    free(l->windows);
    free(l->logits);
}

static int64_t argmax(const float *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        best = v[i] > v[best] ? i : best;
    return best;
}

/* rows × V logits within TOLERANCE of PyTorch's, with the same argmax. */
static void check_rows(const float *got, const float *want, int64_t rows, int64_t V)
{
    assert_close(got, want, (size_t)(rows * V), TOLERANCE, 0.0);
    for (int64_t r = 0; r < rows; r++) {
        if (argmax(got + r * V, V) != argmax(want + r * V, V))
            fail_msg("row %lld: argmax %lld, PyTorch's %lld", (long long)r,
                     (long long)argmax(got + r * V, V), (long long)argmax(want + r * V, V));
    }
}

/* ---- against PyTorch ------------------------------------------------------------------ */

/* The whole window at once: the full-sequence path. */
static void full_windows_match(loaded *l)
{
    const charlm_config *c = &l->model->cfg;
    int64_t B = c->block_size, V = c->vocab_size;
    for (int64_t w = 0; w < l->n; w++) {
        const float *logits;
        charlm_state_reset(l->state);
        assert_ok(charlm_forward(l->state, l->windows + w * B, B, true, &logits));
        check_rows(logits, l->logits + w * B * V, B, V);
        assert_int_equal(charlm_state_pos(l->state), B);
    }
}

static void main_model_matches_pytorch(void **state)
{
    (void)state;
    loaded l = {0};
    load(&l, CHARLM_DATA_DIR, "charlm.safetensors", "");
    const charlm_config *c = &l.model->cfg;
    assert_int_equal(c->n_layer, 2);
    assert_int_equal(c->n_head, 4);
    assert_int_equal(c->n_embd, 64);
    assert_int_equal(c->block_size, 64);
    assert_int_equal(c->vocab_size, V_MAIN);
    assert_true(l.model->has_bias);
    assert_false(l.model->tied);
    full_windows_match(&l);
    unload(&l);
}

/* One token at a time through the KV cache, the prefix recomputed from
 * scratch for every position (nanoGPT's loop), and uneven chunks: the same
 * logits, and PyTorch's. */
static void kv_cache_matches_full_recompute(void **state)
{
    (void)state;
    loaded l = {0};
    load(&l, CHARLM_DATA_DIR, "charlm.safetensors", "");
    int64_t B = l.model->cfg.block_size, V = l.model->cfg.vocab_size;
    charlm_state *full = NULL;
    assert_ok(charlm_state_new(l.model, &full));
    float *cached = malloc((size_t)(B * V) * sizeof(float));
    float *recomputed = malloc((size_t)(B * V) * sizeof(float));
    assert_non_null(cached);
    assert_non_null(recomputed);
    for (int64_t w = 0; w < l.n; w++) {
        const int32_t *tok = l.windows + w * B;
        const float *logits;
        charlm_state_reset(l.state);
        for (int64_t t = 0; t < B; t++) {
            assert_ok(charlm_forward(l.state, tok + t, 1, false, &logits));
            memcpy(cached + t * V, logits, (size_t)V * sizeof(float));
            if (w < 2) {   /* B passes per window: two windows keep valgrind quick */
                charlm_state_reset(full);
                assert_ok(charlm_forward(full, tok, t + 1, false, &logits));
                memcpy(recomputed + t * V, logits, (size_t)V * sizeof(float));
            }
        }
        /* M=1 and M=t products may sum in different orders */
        if (w < 2)
            assert_close(cached, recomputed, (size_t)(B * V), 5e-5, 0.0);
        check_rows(cached, l.logits + w * B * V, B, V);

        /* chunks of 1, 2, 3, … positions */
        charlm_state_reset(l.state);
        for (int64_t t = 0, k = 1; t < B; t += k, k++) {
            int64_t n = k < B - t ? k : B - t;
            assert_ok(charlm_forward(l.state, tok + t, n, true, &logits));
            check_rows(logits, l.logits + (w * B + t) * V, n, V);
        }
    }
    free(cached);
    free(recomputed);
    charlm_state_free(full);
    unload(&l);
}

typedef struct collected {
    int32_t tokens[200];
    int n;
} collected;

static mt_status collect(int32_t token, void *user)
{
    collected *c = user;
    assert_true(c->n < 200);
    c->tokens[c->n++] = token;
    return MT_OK;
}

/* Greedy decoding through the cache, past block_size (the cache restarts
 * from the newest half of the context), against a loop that recomputes
 * every step from scratch with the same context rule. */
static void decode_matches_recompute(void **state)
{
    (void)state;
    loaded l = {0};
    load(&l, CHARLM_DATA_DIR, "charlm.safetensors", "");
    const charlm_model *m = l.model;
    int64_t B = m->cfg.block_size, V = m->cfg.vocab_size, keep = B / 2, len = 10;
    enum { N = 120 };   /* restarts after 54, 86 and 118 tokens */
    int32_t ctx[64], window[64];
    float scratch[V_MAIN];
    memcpy(ctx, l.windows, (size_t)len * sizeof *ctx);
    memcpy(window, l.windows, (size_t)len * sizeof *ctx);
    collected got = {0};
    charlm_generate_options o = {.tokens = N, .temperature = 0.0f};
    assert_ok(charlm_decode(l.state, &o, ctx, len, scratch, collect, &got));
    assert_int_equal(got.n, N);
    for (int i = 0; i < N; i++) {
        const float *logits;
        charlm_state_reset(l.state);
        assert_ok(charlm_forward(l.state, window, len, false, &logits));
        int32_t next = (int32_t)argmax(logits, V);
        if (got.tokens[i] != next)
            fail_msg("token %d: %d through the cache, %d recomputed", i, got.tokens[i], next);
        if (len < B) {
            window[len++] = next;
        } else {
            memmove(window, window + B - (keep - 1), (size_t)(keep - 1) * sizeof *window);
            window[keep - 1] = next;
            len = keep;
        }
    }
    unload(&l);
}

/* The bias=False, tied-head model, as F32 (no head: tied) and as BF16 (a
 * duplicate lm_head.weight, which is then used). */
static void tied_model_without_biases(const char *weights, bool head_stored)
{
    loaded l = {0};
    load(&l, CHARLM_TESTS_DIR, weights, "tiny-");
    const charlm_model *m = l.model;
    assert_false(m->has_bias);
    assert_int_equal(m->tied, !head_stored);
    assert_int_equal(m->head == m->wte, !head_stored);
    assert_int_equal(m->cfg.vocab_size, V_TINY);
    /* The vocabulary, sorted by code point in train.py: \n first, the emoji
     * (a surrogate pair in tiny-tied's JSON) last. */
    assert_int_equal(m->vocab[0], '\n');
    assert_int_equal(m->vocab[1], ' ');
    assert_int_equal(m->vocab[2], '"');
    assert_int_equal(m->vocab[V_TINY - 1], 0x1F642);
    assert_int_equal(charlm_token(m, 0x1F642), V_TINY - 1);
    assert_int_equal(charlm_token(m, '"'), 2);
    assert_true(charlm_token(m, '\\') > 0);
    assert_true(charlm_token(m, 0x00E9) > 0);   /* é */
    assert_true(charlm_token(m, 0x201C) > 0);   /* “ */
    assert_int_equal(charlm_token(m, 'Q'), -1);
    assert_int_equal(charlm_token(m, 0x1F643), -1);
    full_windows_match(&l);
    unload(&l);
}

static void tied_f32_matches_pytorch(void **state)
{
    (void)state;
    tied_model_without_biases("tiny-tied.safetensors", false);
}

static void tied_bf16_matches_pytorch(void **state)
{
    (void)state;
    tied_model_without_biases("tiny-tied-bf16.safetensors", true);
}

/* ---- the forward pass refuses bad calls, leaving the state as it was ------------------ */

static void forward_rejects_bad_calls(void **state)
{
    (void)state;
    loaded l = {0};
    load(&l, CHARLM_TESTS_DIR, "tiny-tied.safetensors", "tiny-");
    const float *logits = NULL;
    int32_t toks[17] = {0};
    assert_fails(charlm_forward(l.state, toks, 17, true, &logits), MT_ERR_INVALID_ARGUMENT,
                 "17 tokens at position 0 exceed block_size 16");
    assert_fails(charlm_forward(l.state, toks, 0, true, &logits), MT_ERR_INVALID_ARGUMENT,
                 "0 tokens: at least 1 is needed");
    assert_ok(charlm_forward(l.state, toks, 10, true, &logits));
    toks[3] = V_TINY;
    assert_fails(charlm_forward(l.state, toks, 5, true, &logits), MT_ERR_INVALID_ARGUMENT,
                 "token 84 at 3 is outside the vocabulary of 84");
    toks[3] = -1;
    assert_fails(charlm_forward(l.state, toks, 5, true, &logits), MT_ERR_INVALID_ARGUMENT,
                 "token -1");
    assert_fails(charlm_forward(l.state, toks, 7, true, &logits), MT_ERR_INVALID_ARGUMENT,
                 "7 tokens at position 10 exceed block_size 16");
    assert_int_equal(charlm_state_pos(l.state), 10);
    unload(&l);
}

/* ---- checkpoints that must not load ------------------------------------------------------ */

/* The tiny checkpoint with one change: tensor `name` dropped (dtype
 * MT_DTYPE_COUNT) or replaced by (or added as) zeros of `dtype` and dims,
 * the last of them `last` (F32), or `last_bits` (BF16) when non-zero;
 * metadata `key` set to value[len] (len SIZE_MAX: dropped). */
typedef struct edit {
    const char *name;
    mt_dtype dtype;
    int rank;
    int64_t dims[3];
    float last;
    uint16_t last_bits;
    const char *key, *value;
    size_t len;
} edit;

#define MAX_ITEMS 32

/* charlm_model_new's status on the edited checkpoint; everything freed. */
static mt_status load_edited(const edit *e)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tiny-tied.safetensors", CHARLM_TESTS_DIR);
    mt_safetensors *src;
    assert_ok(mt_safetensors_open(path, &src));
    size_t n = mt_safetensors_count(src), k = 0;
    assert_true(n < MAX_ITEMS);
    mt_tensor *t[MAX_ITEMS] = {0};
    mt_safetensors_item items[MAX_ITEMS];
    for (size_t i = 0; i < n; i++) {
        mt_safetensors_entry info;
        assert_ok(mt_safetensors_info(src, i, &info));
        if (e->name && !strcmp(info.name, e->name)) {
            if (e->dtype == MT_DTYPE_COUNT)
                continue;
            assert_ok(mt_tensor_zeros(e->dtype, e->rank, e->dims, &t[k]));
            int64_t last = mt_tensor_numel(t[k]) - 1;
            if (e->last != 0.0f)
                ((float *)t[k]->data)[last] = e->last;
            if (e->last_bits)
                ((uint16_t *)t[k]->data)[last] = e->last_bits;
        } else {
            assert_ok(mt_safetensors_get_at(src, i, &t[k]));
        }
        items[k] = (mt_safetensors_item){.name = info.name, .tensor = t[k]};
        k++;
    }
    size_t found;
    if (e->name && e->dtype != MT_DTYPE_COUNT && mt_safetensors_find(src, e->name, &found)) {
        assert_ok(mt_tensor_zeros(e->dtype, e->rank, e->dims, &t[k]));
        items[k] = (mt_safetensors_item){.name = e->name, .tensor = t[k]};
        k++;
    }
    mt_safetensors_kv meta[MAX_ITEMS];
    size_t nm = 0;
    bool replaced = false;
    for (size_t i = 0; i < mt_safetensors_metadata_count(src); i++) {
        assert_ok(mt_safetensors_metadata_at(src, i, &meta[nm]));
        if (e->key && !strcmp(meta[nm].key, e->key)) {
            replaced = true;
            if (e->len == SIZE_MAX)
                continue;
            meta[nm].value = e->value;
            meta[nm].value_len = e->len;
        }
        nm++;
    }
    assert_true(!e->key || replaced);
    void *buf;
    size_t size;
    assert_ok(mt_safetensors_serialize(items, k, meta, nm, &buf, &size));
    for (size_t i = 0; i < k; i++)
        mt_tensor_free(t[i]);
    mt_safetensors_close(src);

    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    charlm_model *m = (charlm_model *)1;
    mt_status s = charlm_model_new(f, &m);
    assert_true(s != MT_OK || m != NULL);
    if (s)
        assert_null(m);
    charlm_model_free(m);
    mt_safetensors_close(f);
    mt_safetensors_buffer_free(buf);
    return s;
}

#define DROP(tensor) (&(edit){.name = (tensor), .dtype = MT_DTYPE_COUNT})
#define ZEROS(tensor, type, r, ...) \
    (&(edit){.name = (tensor), .dtype = (type), .rank = (r), .dims = {__VA_ARGS__}})
#define META(k, v) (&(edit){.key = (k), .value = (v), .len = sizeof(v) - 1})

static void unchanged_checkpoint_loads(void **state)
{
    (void)state;
    assert_ok(load_edited(&(edit){0}));
}

static void missing_tensors_are_named(void **state)
{
    (void)state;
    static const char *const required[] = {
        "transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight",
        "transformer.h.0.ln_1.weight", "transformer.h.0.attn.c_attn.weight",
        "transformer.h.0.attn.c_proj.weight", "transformer.h.0.ln_2.weight",
        "transformer.h.0.mlp.c_fc.weight", "transformer.h.0.mlp.c_proj.weight"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
        char want[128];
        snprintf(want, sizeof want, "missing tensor '%s'", required[i]);
        assert_fails(load_edited(DROP(required[i])), MT_ERR_NOT_FOUND, want);
    }
    /* n_layer 2: block 1 must exist */
    assert_fails(load_edited(META("n_layer", "2")), MT_ERR_NOT_FOUND,
                 "missing tensor 'transformer.h.1.ln_1.weight' (expected [16])");
}

static void wrong_shapes_are_named(void **state)
{
    (void)state;
    /* c_attn in (in,out) layout instead of PyTorch's (out,in) */
    assert_fails(load_edited(ZEROS("transformer.h.0.attn.c_attn.weight", MT_DTYPE_F32, 2, 16, 48)),
                 MT_ERR_SHAPE,
                 "tensor 'transformer.h.0.attn.c_attn.weight': expected [48,16], found [16,48] "
                 "(the transpose: PyTorch (out,in) layout is needed, not Hugging Face Conv1D's "
                 "(in,out))");
    assert_fails(load_edited(ZEROS("transformer.h.0.mlp.c_fc.weight", MT_DTYPE_F32, 3, 64, 16, 1)),
                 MT_ERR_SHAPE, "expected [64,16], found [64,16,1]");
    assert_fails(load_edited(ZEROS("transformer.ln_f.weight", MT_DTYPE_F32, 1, 15)),
                 MT_ERR_SHAPE, "tensor 'transformer.ln_f.weight': expected [16], found [15]");
    /* an optional tensor, present with the wrong shape, is an error too */
    assert_fails(load_edited(ZEROS("transformer.h.0.attn.c_attn.bias", MT_DTYPE_F32, 1, 16)),
                 MT_ERR_SHAPE, "tensor 'transformer.h.0.attn.c_attn.bias': expected [48], "
                               "found [16]");
    assert_fails(load_edited(ZEROS("lm_head.weight", MT_DTYPE_F32, 2, 16, 84)),
                 MT_ERR_SHAPE, "tensor 'lm_head.weight': expected [84,16], found [16,84]");
    /* a head that does not match the vocabulary */
    edit head = {.name = "transformer.wte.weight", .dtype = MT_DTYPE_F32, .rank = 2,
                 .dims = {83, 16}};
    assert_fails(load_edited(&head), MT_ERR_SHAPE,
                 "tensor 'transformer.wte.weight': expected [84,16], found [83,16]");
    /* metadata that does not match the tensors */
    assert_fails(load_edited(META("n_embd", "32")), MT_ERR_SHAPE,
                 "tensor 'transformer.wte.weight': expected [84,32], found [84,16]");
    assert_fails(load_edited(META("block_size", "17")), MT_ERR_SHAPE,
                 "tensor 'transformer.wpe.weight': expected [17,16], found [16,16]");
    assert_fails(load_edited(META("vocab", "ab\"\n\xc3\xa9")), MT_ERR_SHAPE,
                 "tensor 'transformer.wte.weight': expected [5,16], found [84,16]");
    /* a NUL is a character too */
    edit nul = {.key = "vocab", .value = "a\0b", .len = 3};
    assert_fails(load_edited(&nul), MT_ERR_SHAPE, "expected [3,16], found [84,16]");
}

/* Biases and the head are known from which tensors are present. */
static void optional_tensors_are_used_when_present(void **state)
{
    (void)state;
    assert_ok(load_edited(ZEROS("transformer.h.0.ln_1.bias", MT_DTYPE_F32, 1, 16)));
    assert_ok(load_edited(ZEROS("lm_head.weight", MT_DTYPE_BF16, 2, 84, 16)));
    /* unknown tensors are ignored */
    assert_ok(load_edited(ZEROS("transformer.h.0.attn.bias", MT_DTYPE_F32, 3, 1, 16, 16)));
    assert_ok(load_edited(ZEROS("transformer.h.0.attn.masked_bias", MT_DTYPE_I8, 1, 3)));
    assert_ok(load_edited(ZEROS("transformer.h.x.mlp.c_fc.weight", MT_DTYPE_I8, 1, 3)));
    /* but a block past n_layer means the metadata cuts the model short */
    assert_fails(load_edited(ZEROS("transformer.h.7.mlp.c_fc.weight", MT_DTYPE_I8, 1, 3)),
                 MT_ERR_FORMAT, "tensor 'transformer.h.7.mlp.c_fc.weight' belongs to block 7, "
                                "but metadata 'n_layer' is 1");
    assert_fails(load_edited(ZEROS("transformer.h.1.ln_1.weight", MT_DTYPE_F32, 1, 16)),
                 MT_ERR_FORMAT, "belongs to block 1, but metadata 'n_layer' is 1");
    /* an index of any length, past int64 too */
    assert_fails(load_edited(ZEROS("transformer.h.99999999999.ln_1.weight", MT_DTYPE_F32, 1,
                                   16)),
                 MT_ERR_FORMAT, "belongs to block 99999999999, but metadata 'n_layer' is 1");
    assert_fails(load_edited(ZEROS("transformer.h.18446744073709551618.x", MT_DTYPE_F32, 1,
                                   16)),
                 MT_ERR_FORMAT, "belongs to block 18446744073709551618, but");
    assert_fails(load_edited(META("n_layer", "0")), MT_ERR_FORMAT,
                 "tensor 'transformer.h.0.");
}

static void bad_dtypes_are_refused(void **state)
{
    (void)state;
    assert_fails(load_edited(ZEROS("transformer.wpe.weight", MT_DTYPE_I32, 2, 16, 16)),
                 MT_ERR_DTYPE, "tensor 'transformer.wpe.weight' is I32: expected F32, F16, "
                               "BF16 or F64");
    assert_fails(load_edited(ZEROS("transformer.ln_f.weight", MT_DTYPE_U8, 1, 16)),
                 MT_ERR_DTYPE, "is U8");
    /* F16 converts */
    assert_ok(load_edited(ZEROS("transformer.ln_f.weight", MT_DTYPE_F16, 1, 16)));
}

/* NaN or Inf weights would make every logit NaN: refused at load. */
static void non_finite_weights_are_refused(void **state)
{
    (void)state;
    edit nan_w = {.name = "transformer.h.0.mlp.c_fc.weight", .dtype = MT_DTYPE_F32, .rank = 2,
                  .dims = {64, 16}, .last = NAN};
    assert_fails(load_edited(&nan_w), MT_ERR_FORMAT,
                 "transformer.h.0.mlp.c_fc.weight [64,16] holds NaN at flat index 1023 ([63,15])");
    edit inf_b = {.name = "transformer.ln_f.weight", .dtype = MT_DTYPE_F32, .rank = 1,
                  .dims = {16}, .last = -INFINITY};
    assert_fails(load_edited(&inf_b), MT_ERR_FORMAT,
                 "transformer.ln_f.weight [16] holds -Inf at flat index 15");
    edit bf16_inf = {.name = "transformer.wpe.weight", .dtype = MT_DTYPE_BF16, .rank = 2,
                     .dims = {16, 16}, .last_bits = 0x7f80};
    assert_fails(load_edited(&bf16_inf), MT_ERR_FORMAT,
                 "transformer.wpe.weight [16,16] holds +Inf at flat index 255");
}

static void bad_metadata_is_named(void **state)
{
    (void)state;
    static const char *const sizes[] = {"n_layer", "n_head", "n_embd", "block_size"};
    for (size_t i = 0; i < 4; i++) {
        char want[160];
        snprintf(want, sizeof want, "metadata: missing '%s'", sizes[i]);
        assert_fails(load_edited(&(edit){.key = sizes[i], .len = SIZE_MAX}), MT_ERR_FORMAT,
                     want);
        /* n_layer may be 0 (a model of embeddings, ln_f and the head) */
        static const char *const bad[] = {"-1", "+2", " 2", "2 ", "2x", "", "0x10", "2.0",
                                           "02", "00", "99999999999999999999", "16777217",
                                           "0"};
        for (size_t b = 0; b < sizeof bad / sizeof *bad - (i == 0); b++) {
            snprintf(want, sizeof want, "metadata: '%s' is \"%s\": expected a decimal integer",
                     sizes[i], bad[b]);
            assert_fails(load_edited(&(edit){.key = sizes[i], .value = bad[b],
                                             .len = strlen(bad[b])}),
                         MT_ERR_FORMAT, want);
        }
    }
    assert_fails(load_edited(META("n_head", "02")), MT_ERR_FORMAT,
                 "metadata: 'n_head' is \"02\": expected a decimal integer from 1 to 16777216, "
                 "no leading zeros");
    assert_fails(load_edited(META("n_layer", "-1")), MT_ERR_FORMAT,
                 "metadata: 'n_layer' is \"-1\": expected a decimal integer from 0 to");
    assert_fails(load_edited(META("n_head", "3")), MT_ERR_FORMAT,
                 "metadata: n_embd 16 is not a multiple of n_head 3");
    assert_fails(load_edited(&(edit){.key = "vocab", .len = SIZE_MAX}), MT_ERR_FORMAT,
                 "metadata: missing 'vocab'");
    assert_fails(load_edited(META("vocab", "")), MT_ERR_FORMAT, "metadata: 'vocab' is empty");
    assert_fails(load_edited(META("vocab", "ab\xc3\xa9" "cd\xc3\xa9")), MT_ERR_FORMAT,
                 "metadata: 'vocab' holds U+00E9 twice");
    /* n_head 1, 4, 8, 16 all divide 16 and load */
    assert_ok(load_edited(META("n_head", "16")));
}

/* ---- no heap after the first pass --------------------------------------------------------- */

static void generation_allocates_nothing(void **state)
{
    (void)state;
    alloc_probe probe;
    probe_install(&probe, -1);
    loaded l = {0};
    load(&l, CHARLM_DATA_DIR, "charlm.safetensors", "");
    const float *logits;
    int64_t B = l.model->cfg.block_size;
    assert_ok(charlm_forward(l.state, l.windows, B, true, &logits));
    charlm_state_reset(l.state);
    assert_ok(charlm_forward(l.state, l.windows, 8, false, &logits));
    long before = probe.allocations;
    for (int64_t t = 8; t < B; t++)
        assert_ok(charlm_forward(l.state, l.windows + t, 1, false, &logits));
    charlm_state_reset(l.state);
    assert_ok(charlm_forward(l.state, l.windows, B, true, &logits));
    if (probe.allocations != before)
        fail_msg("%ld allocations while generating (backend %s, %d threads)",
                 probe.allocations - before, mt_backend_name(mt_backend_get()),
                 mt_num_threads_get());
    unload(&l);
    probe_remove();
}

/* ---- sampling ---------------------------------------------------------------------------- */

static void same_seed_same_draws(void **state)
{
    (void)state;
    charlm_rng a, b, c;
    charlm_rng_seed(&a, 42);
    charlm_rng_seed(&b, 42);
    charlm_rng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        double x = charlm_rng_uniform(&a), y = charlm_rng_uniform(&b),
               z = charlm_rng_uniform(&c);
        assert_true(x == y);
        assert_true(x >= 0.0 && x < 1.0);
        differ += x != z;
    }
    assert_true(differ > 990);
}

static void sampling_follows_the_distribution(void **state)
{
    (void)state;
    charlm_rng rng;
    charlm_rng_seed(&rng, 7);
    float scratch[4];
    /* temperature 0 and top-k 1: the argmax, whatever the generator says */
    const float peak[4] = {0.5f, 2.0f, 1.9f, -1.0f};
    for (int i = 0; i < 100; i++) {
        assert_int_equal(charlm_sample(peak, 4, 0.0f, 0, &rng, scratch), 1);
        assert_int_equal(charlm_sample(peak, 4, 1.0f, 1, &rng, scratch), 1);
    }
    /* p = (1/8, 3/8, 4/8, 0) at T = 1; logits ln p, the last one -inf */
    const float logits[4] = {logf(1.0f), logf(3.0f), logf(4.0f), -INFINITY};
    int count[4] = {0};
    for (int i = 0; i < 8000; i++)
        count[charlm_sample(logits, 4, 1.0f, 0, &rng, scratch)]++;
    assert_int_equal(count[3], 0);
    assert_in_range(count[0], 1000 - 120, 1000 + 120);   /* 4 sigma */
    assert_in_range(count[1], 3000 - 180, 3000 + 180);
    /* T = 2 flattens: p ∝ (1, √3, 2) */
    memset(count, 0, sizeof count);
    for (int i = 0; i < 8000; i++)
        count[charlm_sample(logits, 4, 2.0f, 0, &rng, scratch)]++;
    double z = 1.0 + sqrt(3.0) + 2.0;
    assert_in_range(count[0], (int)(8000 / z) - 130, (int)(8000 / z) + 130);
    /* top-k 2 drops token 0; ties with the k-th are kept (nanoGPT) */
    memset(count, 0, sizeof count);
    for (int i = 0; i < 2000; i++)
        count[charlm_sample(logits, 4, 1.0f, 2, &rng, scratch)]++;
    assert_int_equal(count[0], 0);
    assert_in_range(count[1], 857 - 100, 857 + 100);   /* 3/7 of 2000 */
    const float ties[4] = {2.0f, 2.0f, 2.0f, 0.0f};
    memset(count, 0, sizeof count);
    for (int i = 0; i < 3000; i++)
        count[charlm_sample(ties, 4, 1.0f, 1, &rng, scratch)]++;
    assert_int_equal(count[3], 0);
    assert_in_range(count[0], 800, 1200);
    assert_in_range(count[2], 800, 1200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(main_model_matches_pytorch),
        cmocka_unit_test(kv_cache_matches_full_recompute),
        cmocka_unit_test(decode_matches_recompute),
        cmocka_unit_test(tied_f32_matches_pytorch),
        cmocka_unit_test(tied_bf16_matches_pytorch),
        cmocka_unit_test(forward_rejects_bad_calls),
        cmocka_unit_test(unchanged_checkpoint_loads),
        cmocka_unit_test(missing_tensors_are_named),
        cmocka_unit_test(wrong_shapes_are_named),
        cmocka_unit_test(optional_tensors_are_used_when_present),
        cmocka_unit_test(bad_dtypes_are_refused),
        cmocka_unit_test(non_finite_weights_are_refused),
        cmocka_unit_test(bad_metadata_is_named),
        cmocka_unit_test(generation_allocates_nothing),
        cmocka_unit_test(same_seed_same_draws),
        cmocka_unit_test(sampling_follows_the_distribution),
    };
    return cmocka_run_group_tests_name("charlm", tests, NULL, NULL);
}
