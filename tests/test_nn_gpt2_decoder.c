/* test_nn_gpt2_decoder.c — mt_gpt2 (minitensor/gpt2.h), the KV-cache
 * decoder, against PyTorch 1.13's logits:
 *   Hugging Face's GPT2LMHeadModel (reference/make_gpt2_refs.py: Conv1D
 *     weights, gelu_new, biases, the head tied and absent from the file):
 *     token by token, a prompt at once then token by token, and every
 *     position's logits (mt_gpt2_forward_all), for 3 sequences;
 *   nanoGPT's GPT (examples/charlm's checkpoints, written by its train.py:
 *     nn.Linear weights, exact GELU): the example's model (biases, an
 *     untied head) and the tests' tiny one (bias=False, tied, F32 and
 *     BF16), on their held-out windows;
 *   GPT2Model's names and a prefix;
 *   the refusals (options, names, shapes, the cache's end, token ids), and
 *   a failed allocation anywhere in the load. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minitensor/gpt2.h"

enum { HEADS = 4, VOCAB = 50, SEQS = 3, LONG = 9 };

static mt_gpt2 *load(const mt_safetensors *st, const mt_gpt2_options *o)
{
    mt_gpt2 *m = NULL;
    assert_ok(mt_gpt2_load(&(mt_state_dict){st, MT_FRAMEWORK_PYTORCH}, o, &m));
    return m;
}

/* The reference's ids of sequence n, as int64. */
static void ids_of(const mt_tensor *ids, int64_t n, int64_t *out)
{
    for (int64_t t = 0; t < LONG; t++)
        out[t] = ((const int64_t *)ids->data)[n * LONG + t];
}

static void hf_gpt2_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("gpt2.safetensors"), *io = ref_open("gpt2_io.safetensors");
    mt_tensor *ids = ref_get(io, "ids"), *want = ref_get(io, "logits");
    const float *all = want->data;
    mt_gpt2 *m = load(st, &(mt_gpt2_options){.n_heads = HEADS});
    assert_int_equal(mt_gpt2_layers(m), 2);
    /* every tensor read but the two blocks' attn.bias causal-mask buffers */
    size_t unread[4];
    assert_int_equal(mt_safetensors_unread(st, unread, 4), 2);
    for (int i = 0; i < 2; i++) {
        mt_safetensors_entry e;
        assert_ok(mt_safetensors_info(st, unread[i], &e));
        assert_non_null(strstr(e.name, ".attn.bias"));
    }
    assert_int_equal(mt_gpt2_vocab(m), VOCAB);
    assert_int_equal(mt_gpt2_max_len(m), 16);   /* wpe's rows */
    float every[LONG * VOCAB];
    for (int64_t n = 0; n < SEQS; n++) {
        int64_t seq[LONG];
        ids_of(ids, n, seq);
        const float *logits = NULL;
        /* token by token */
        mt_gpt2_reset(m);
        for (int64_t t = 0; t < LONG; t++) {
            assert_ok(mt_gpt2_forward(m, 1, &seq[t], &logits));
            assert_close(logits, all + (n * LONG + t) * VOCAB, VOCAB, 5e-5, 1e-5);
        }
        assert_int_equal(mt_gpt2_position(m), LONG);
        /* a prompt of 4 at once, then token by token */
        mt_gpt2_reset(m);
        assert_ok(mt_gpt2_forward(m, 4, seq, &logits));
        assert_close(logits, all + (n * LONG + 3) * VOCAB, VOCAB, 5e-5, 1e-5);
        for (int64_t t = 4; t < LONG; t++) {
            assert_ok(mt_gpt2_forward(m, 1, &seq[t], &logits));
            assert_close(logits, all + (n * LONG + t) * VOCAB, VOCAB, 5e-5, 1e-5);
        }
        /* every position at once */
        mt_gpt2_reset(m);
        assert_ok(mt_gpt2_forward_all(m, LONG, seq, every));
        assert_close(every, all + n * LONG * VOCAB, LONG * VOCAB, 5e-5, 1e-5);
    }
    /* the GELU matters: the exact form is off */
    mt_gpt2 *exact = load(st, &(mt_gpt2_options){.n_heads = HEADS,
                                                 .gelu = MT_GPT2_GELU_EXACT});
    int64_t seq[LONG];
    ids_of(ids, 0, seq);
    assert_ok(mt_gpt2_forward_all(exact, LONG, seq, every));
    double off = 0.0;
    for (int i = 0; i < LONG * VOCAB; i++)
        off = fmax(off, fabs((double)every[i] - (double)all[i]));
    assert_true(off > 1e-3);
    mt_gpt2_free(exact);
    mt_gpt2_free(m);
    mt_tensor_free(want);
    mt_tensor_free(ids);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* A nanoGPT checkpoint of examples/charlm on its windows (int32 ids
 * [count, block], PyTorch's logits [count, block, vocab]): window 0 at
 * once, window 1 as 3 tokens then one by one, all within `tol`. */
static void nanogpt_windows_match(const char *dir, const char *weights, const char *prefix,
                                  int64_t heads, int64_t block, double tol)
{
    char path[512], name[128];
    snprintf(path, sizeof path, "%s/%s", dir, weights);
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_open(path, &st));
    mt_gpt2 *m = load(st, &(mt_gpt2_options){.n_heads = heads});
    const int64_t vocab = mt_gpt2_vocab(m);
    assert_int_equal(mt_gpt2_max_len(m), block);
    size_t ids_size, logits_size;
    snprintf(name, sizeof name, "%swindows.i32", prefix);
    int32_t *ids32 = read_test_file(dir, name, &ids_size);
    snprintf(name, sizeof name, "%swindows-logits.f32", prefix);
    float *want = read_test_file(dir, name, &logits_size);
    assert_true(ids_size >= 2 * (size_t)block * 4);
    assert_int_equal(logits_size / 4, ids_size / 4 * (size_t)vocab);
    int64_t *ids = malloc((size_t)(2 * block) * sizeof *ids);
    float *every = malloc((size_t)(block * vocab) * sizeof *every);
    assert_non_null(ids);
    assert_non_null(every);
    for (int64_t i = 0; i < 2 * block; i++)
        ids[i] = ids32[i];
    assert_ok(mt_gpt2_forward_all(m, block, ids, every));
    assert_close(every, want, (size_t)(block * vocab), tol, 0.0);
    mt_gpt2_reset(m);
    const float *logits = NULL;
    const int64_t *w1 = ids + block;
    assert_ok(mt_gpt2_forward(m, 3, w1, &logits));
    assert_close(logits, want + (block + 2) * vocab, (size_t)vocab, tol, 0.0);
    for (int64_t t = 3; t < block; t++) {
        assert_ok(mt_gpt2_forward(m, 1, &w1[t], &logits));
        assert_close(logits, want + (block + t) * vocab, (size_t)vocab, tol, 0.0);
    }
    /* the cache is full: one more is refused, and the model still works */
    assert_fails(mt_gpt2_forward(m, 1, w1, &logits), MT_ERR_SHAPE,
                 "mt_gpt2_reset, then a shorter context");
    assert_int_equal(mt_gpt2_position(m), block);
    free(every);
    free(ids);
    free(want);
    free(ids32);
    mt_gpt2_free(m);
    mt_safetensors_close(st);
}

/* The example's model: biases, an untied head, the attn.bias buffers */
static void nanogpt_example_matches_pytorch(void **state)
{
    (void)state;
    nanogpt_windows_match(CHARLM_DATA_DIR, "charlm.safetensors", "", 4, 64, 1e-4);
}

/* bias=False (LayerNorms without bias too), a tied head, F32 and BF16 */
static void nanogpt_tiny_tied_matches_pytorch(void **state)
{
    (void)state;
    nanogpt_windows_match(CHARLM_TESTS_DIR, "tiny-tied.safetensors", "tiny-", 2, 16, 1e-4);
    /* the same weights stored as BF16 (train.py rounds them to BF16 before
     * both exports), so the same reference and tolerance */
    nanogpt_windows_match(CHARLM_TESTS_DIR, "tiny-tied-bf16.safetensors", "tiny-", 2, 16,
                          1e-4);
}

/* GPT2Model's names ("transformer." dropped) under torch.compile's prefix */
static const char *compiled_gpt2_model(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "_orig_mod.%s", name + strlen("transformer."));
    return buf;
}

static void gpt2model_names_and_prefix(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("gpt2.safetensors"), *io = ref_open("gpt2_io.safetensors");
    void *image = NULL;
    mt_safetensors *renamed = rewritten(st, compiled_gpt2_model, NULL, NULL, &image);
    mt_gpt2 *m = load(renamed, &(mt_gpt2_options){.n_heads = HEADS, .max_len = LONG,
                                                  .prefix = "_orig_mod."});
    mt_tensor *ids = ref_get(io, "ids"), *want = ref_get(io, "logits");
    int64_t seq[LONG];
    ids_of(ids, 2, seq);
    float every[LONG * VOCAB];
    assert_ok(mt_gpt2_forward_all(m, LONG, seq, every));
    assert_close(every, (const float *)want->data + 2 * LONG * VOCAB, LONG * VOCAB, 5e-5,
                 1e-5);
    mt_gpt2 *none = (mt_gpt2 *)&none;
    assert_fails(mt_gpt2_load(&(mt_state_dict){renamed, MT_FRAMEWORK_PYTORCH},
                              &(mt_gpt2_options){.n_heads = HEADS}, &none),
                 MT_ERR_NOT_FOUND, "gpt2_load: neither transformer.wte.weight "
                 "(GPT2LMHeadModel, nanoGPT) nor wte.weight (GPT2Model) is in the file");
    assert_null(none);
    mt_gpt2_free(m);
    mt_tensor_free(want);
    mt_tensor_free(ids);
    mt_safetensors_close(renamed);
    mt_safetensors_buffer_free(image);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* The file with block 1 dropped except its c_attn: a model cut short */
static const char *block1_cut(const char *name, char *buf, size_t size)
{
    (void)buf, (void)size;
    return !strncmp(name, "transformer.h.1.", 16) && !strstr(name, "c_attn") ? NULL : name;
}

/* The file without one tensor: the name in `dropped` */
static const char *dropped;

static const char *all_but_dropped(const char *name, char *buf, size_t size)
{
    (void)buf, (void)size;
    return strcmp(name, dropped) ? name : NULL;
}

/* The file without tensor `name` (and with `extra` under that name if given)
 * fails to load with `status` and `message`. */
static void refused_without(const mt_safetensors *st, const char *name, const mt_tensor *extra,
                            mt_status status, const char *message)
{
    void *image = NULL;
    dropped = name;
    mt_safetensors *f = rewritten(st, all_but_dropped, name, extra, &image);
    mt_gpt2 *m = (mt_gpt2 *)&m;
    assert_fails(mt_gpt2_load(&(mt_state_dict){f, MT_FRAMEWORK_PYTORCH},
                              &(mt_gpt2_options){.n_heads = HEADS}, &m), status, message);
    assert_null(m);
    mt_safetensors_close(f);
    mt_safetensors_buffer_free(image);
}

/* A file that is not one model: a bias missing where the others are, a
 * LayerNorm without its weight, a block in the other layout */
static void mixed_files_refused(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("gpt2.safetensors");
    refused_without(st, "transformer.h.1.mlp.c_fc.bias", NULL, MT_ERR_FORMAT,
                    "gpt2_load: transformer.h.1.mlp.c_fc.bias is not in the file, but "
                    "transformer.h.0.attn.c_attn.bias is: a model has every bias or none");
    refused_without(st, "transformer.ln_f.bias", NULL, MT_ERR_FORMAT,
                    "gpt2_load: transformer.ln_f.bias is not in the file");
    refused_without(st, "transformer.h.0.ln_2.weight", NULL, MT_ERR_NOT_FOUND,
                    "gpt2_load: transformer.h.0.ln_2.weight is not in the file (GPT-2's "
                    "LayerNorms have a weight)");
    refused_without(st, "transformer.ln_f.weight", NULL, MT_ERR_NOT_FOUND,
                    "gpt2_load: transformer.ln_f.weight is not in the file");
    /* block 1's c_attn as nanoGPT's [3E, E] in a Conv1D file */
    mt_tensor *w = ref_get(st, "transformer.h.1.attn.c_attn.weight"), *wt = NULL, *linear = NULL;
    assert_ok(mt_transpose(w, 0, 1, &wt));
    assert_ok(mt_tensor_contiguous(wt, &linear));
    refused_without(st, "transformer.h.1.attn.c_attn.weight", linear, MT_ERR_SHAPE,
                    "gpt2_load: transformer.h.1.attn.c_attn.weight [96, 32] is nanoGPT's "
                    "nn.Linear (out, in), but block 0's c_attn is Hugging Face's Conv1D (in, "
                    "out): one layout per file");
    /* and its c_fc */
    mt_tensor_free(linear);
    mt_tensor_free(wt);
    mt_tensor_free(w);
    w = ref_get(st, "transformer.h.0.mlp.c_fc.weight");
    assert_ok(mt_transpose(w, 0, 1, &wt));
    assert_ok(mt_tensor_contiguous(wt, &linear));
    refused_without(st, "transformer.h.0.mlp.c_fc.weight", linear, MT_ERR_SHAPE,
                    "gpt2_load: transformer.h.0.mlp.c_fc.weight [128, 32] is nanoGPT's");
    mt_tensor_free(linear);
    mt_tensor_free(wt);
    mt_tensor_free(w);
    mt_safetensors_close(st);
}

static void refusals(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("gpt2.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_gpt2 *m = (mt_gpt2 *)&m;
    const mt_gpt2_options ok = {.n_heads = HEADS};
    assert_fails(mt_gpt2_load(NULL, &ok, &m), MT_ERR_INVALID_ARGUMENT, "NULL argument");
    assert_null(m);
    assert_fails(mt_gpt2_load(&sd, NULL, &m), MT_ERR_INVALID_ARGUMENT, "NULL argument");
    assert_fails(mt_gpt2_load(&sd, &ok, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_gpt2_load(&(mt_state_dict){st, MT_FRAMEWORK_KERAS}, &ok, &m),
                 MT_ERR_UNSUPPORTED, "reads PyTorch's names");
    assert_fails(mt_gpt2_load(&sd, &(mt_gpt2_options){0}, &m), MT_ERR_INVALID_ARGUMENT,
                 "n_heads 0: give the config's n_head");
    assert_fails(mt_gpt2_load(&sd, &(mt_gpt2_options){.n_heads = 5}, &m), MT_ERR_SHAPE,
                 "n_heads 5 does not divide the width 32 (transformer.wte.weight)");
    assert_fails(mt_gpt2_load(&sd, &(mt_gpt2_options){.n_heads = HEADS, .norm_eps = NAN}, &m),
                 MT_ERR_INVALID_ARGUMENT, "norm_eps nan");
    assert_fails(mt_gpt2_load(&sd, &(mt_gpt2_options){.n_heads = HEADS, .gelu = 7}, &m),
                 MT_ERR_INVALID_ARGUMENT, "gelu 7 is not an mt_gpt2_gelu");
    assert_fails(mt_gpt2_load(&sd, &(mt_gpt2_options){.n_heads = HEADS, .max_len = 17}, &m),
                 MT_ERR_INVALID_ARGUMENT,
                 "max_len 17, but transformer.wpe.weight has positions 0..15 only");
    assert_fails(mt_gpt2_load(&sd, &(mt_gpt2_options){.n_heads = HEADS, .max_len = -1}, &m),
                 MT_ERR_INVALID_ARGUMENT, "max_len -1");
    char prefix[300];
    memset(prefix, 'p', sizeof prefix - 1);
    prefix[sizeof prefix - 1] = '\0';
    assert_fails(mt_gpt2_load(&sd, &(mt_gpt2_options){.n_heads = HEADS, .prefix = prefix}, &m),
                 MT_ERR_INVALID_ARGUMENT, "prefix of 299 bytes, at most 256");
    assert_null(m);
    void *image = NULL;
    mt_safetensors *f = rewritten(st, block1_cut, NULL, NULL, &image);
    assert_fails(mt_gpt2_load(&(mt_state_dict){f, MT_FRAMEWORK_PYTORCH}, &ok, &m),
                 MT_ERR_NOT_FOUND, "transformer.h.1.ln_1");
    mt_safetensors_close(f);
    mt_safetensors_buffer_free(image);
    refused_without(st, "transformer.h.0.attn.c_attn.weight", NULL, MT_ERR_NOT_FOUND,
                    "gpt2_load: no block: transformer.h.0.attn.c_attn.weight is not in the "
                    "file");
    /* c_attn [E, 2E]: neither layout */
    mt_safetensors *io = ref_open("gpt2_io.safetensors");
    mt_tensor *odd = ref_get(io, "bad.attn.c_attn.weight");
    refused_without(st, "transformer.h.0.attn.c_attn.weight", odd, MT_ERR_SHAPE,
                    "gpt2_load: transformer.h.0.attn.c_attn.weight is a matrix of another "
                    "size, expected [32, 96] (Hugging Face's Conv1D) or [96, 32] (nanoGPT's "
                    "nn.Linear) for wte's width 32");
    /* a head with a bias (any tensor under that name) */
    refused_without(st, "lm_head.bias", odd, MT_ERR_UNSUPPORTED,
                    "gpt2_load: lm_head.bias is in the file: the head has no bias here");
    mt_tensor_free(odd);
    mt_safetensors_close(io);
    /* the forward's refusals leave the model as it was */
    m = load(st, &(mt_gpt2_options){.n_heads = HEADS, .max_len = 4});
    const float *logits = NULL;
    const int64_t ids[5] = {1, 2, 3, 4, 5}, bad[2] = {3, VOCAB};
    assert_fails(mt_gpt2_forward(m, 5, ids, &logits), MT_ERR_SHAPE,
                 "gpt2_forward: 5 tokens at position 0: the cache holds 4 positions");
    assert_fails(mt_gpt2_forward(m, 2, bad, &logits), MT_ERR_INVALID_ARGUMENT,
                 "gpt2_forward: token 50 (1 of 2) is not in 0..49");
    assert_fails(mt_gpt2_forward(m, 0, ids, &logits), MT_ERR_INVALID_ARGUMENT,
                 "n 0, expected >= 1");
    assert_fails(mt_gpt2_forward(m, INT64_MIN, ids, &logits), MT_ERR_INVALID_ARGUMENT,
                 "n -9223372036854775808, expected >= 1");
    assert_fails(mt_gpt2_forward(m, 1, ids, NULL), MT_ERR_INVALID_ARGUMENT, "NULL argument");
    assert_fails(mt_gpt2_forward_all(NULL, 1, ids, (float[VOCAB]){0}), MT_ERR_INVALID_ARGUMENT,
                 "NULL argument");
    assert_int_equal(mt_gpt2_position(m), 0);
    assert_ok(mt_gpt2_forward(m, 4, ids, &logits));
    assert_int_equal(mt_gpt2_position(m), 4);
    mt_gpt2_free(m);
    assert_int_equal(mt_gpt2_position(NULL), 0);
    mt_gpt2_free(NULL);
    mt_safetensors_close(st);
}

static mt_status make_model(const void *ctx, void **made)
{
    mt_gpt2 *m = NULL;
    mt_status s = mt_gpt2_load(ctx, &(mt_gpt2_options){.n_heads = HEADS}, &m);
    *made = m;
    return s;
}

static void release_model(void *m) { mt_gpt2_free(m); }

static void load_out_of_memory(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("gpt2.safetensors");
    assert_oom_makes_nothing(make_model, release_model,
                             &(mt_state_dict){st, MT_FRAMEWORK_PYTORCH}, 400);
    mt_safetensors_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hf_gpt2_matches_pytorch),
        cmocka_unit_test(nanogpt_example_matches_pytorch),
        cmocka_unit_test(nanogpt_tiny_tied_matches_pytorch),
        cmocka_unit_test(gpt2model_names_and_prefix),
        cmocka_unit_test(refusals),
        cmocka_unit_test(mixed_files_refused),
        cmocka_unit_test(load_out_of_memory),
    };
    return cmocka_run_group_tests_name("nn_gpt2_decoder", tests, NULL, NULL);
}
