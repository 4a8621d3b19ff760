/* test_optim.c — optimizers against torch.optim's trajectories, clipping,
 * schedules, the random generator and initialisers, refused checkpoints. */
#define _POSIX_C_SOURCE 200809L   /* mkdtemp, mkstemp */
#include "test_util.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TRAIN_REFS
#error "TRAIN_REFS: the path of tests/train/train_refs.safetensors"
#endif

static const char *const weight_names[4] = {"w1", "b1", "w2", "b2"};

static mt_tensor *ref(mt_safetensors *st, const char *name)
{
    mt_tensor *t;
    assert_ok(mt_safetensors_get(st, name, &t));
    return t;
}

/* Three steps of `kind` on the MLP of make_train_refs.py; the weights must
 * equal torch.optim's. */
static void run_three_steps(const char *name, const mt_optimizer_options *o)
{
    mt_safetensors *st;
    assert_ok(mt_safetensors_open(TRAIN_REFS, &st));
    mt_tensor *x = ref(st, "x"), *labels = ref(st, "labels");
    mt_value *w[4];
    for (int i = 0; i < 4; i++) {
        mt_tensor *t = ref(st, weight_names[i]);
        assert_ok(mt_param_new(t, weight_names[i], &w[i]));
        mt_tensor_free(t);
    }
    mt_optimizer *opt;
    assert_ok(mt_optimizer_new(o, w, 4, &opt));
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    for (int step = 0; step < 3; step++) {
        mt_value *in, *h, *logits, *loss;
        mt_cross_entropy_options ce = {.label_smoothing = 0.1f};
        mt_tape_reset(tape);
        assert_ok(mt_tape_constant(tape, x, &in));
        assert_ok(mt_tape_linear(tape, in, w[0], w[1], MT_ACTIVATION_RELU, &h));
        assert_ok(mt_tape_linear(tape, h, w[2], w[3], MT_ACTIVATION_NONE, &logits));
        assert_ok(mt_tape_cross_entropy(tape, logits, labels, &ce, &loss));
        mt_optimizer_zero_grad(opt);
        assert_ok(mt_tape_backward(tape, loss));
        assert_ok(mt_optimizer_step(opt));
    }
    assert_int_equal(mt_optimizer_steps_get(opt), 3);
    for (int i = 0; i < 4; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s.%s", name, weight_names[i]);
        mt_tensor *want = ref(st, key);
        assert_close(w[i]->data->data, want->data, (size_t)mt_tensor_numel(want), 2e-6, 2e-5);
        mt_tensor_free(want);
    }
    mt_tape_free(tape);
    mt_optimizer_free(opt);
    for (int i = 0; i < 4; i++)
        mt_param_free(w[i]);
    mt_tensor_free(x);
    mt_tensor_free(labels);
    mt_safetensors_close(st);
}

static void test_sgd_nesterov_matches_torch(void **state)
{
    (void)state;
    mt_optimizer_options o = mt_optimizer_defaults(MT_OPTIMIZER_SGD);
    o.lr = 0.1f;
    o.momentum = 0.9f;
    o.nesterov = true;
    o.weight_decay = 1e-3f;
    run_three_steps("sgd", &o);
}

static void test_adam_matches_torch(void **state)
{
    (void)state;
    mt_optimizer_options o = mt_optimizer_defaults(MT_OPTIMIZER_ADAM);
    o.lr = 1e-2f;
    o.weight_decay = 1e-3f;
    run_three_steps("adam", &o);
}

static void test_adamw_matches_torch(void **state)
{
    (void)state;
    mt_optimizer_options o = mt_optimizer_defaults(MT_OPTIMIZER_ADAMW);
    o.lr = 1e-2f;
    o.weight_decay = 0.1f;
    run_three_steps("adamw", &o);
}

/* A checkpoint of opt and p[0..1] saved and loaded into fresh parameters and
 * a fresh optimizer, which replace them. */
static void resume_from_checkpoint(const mt_optimizer_options *o, mt_value **p,
                                   mt_optimizer **opt)
{
    char path[] = "/tmp/mt_optim_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    mt_checkpoint ck = {.params = p, .n_params = 2, .optimizer = *opt};
    assert_ok(mt_checkpoint_save(path, &ck, NULL, 0));
    mt_value *fresh[2];
    for (int i = 0; i < 2; i++) {
        assert_ok(mt_param_new(p[i]->data, p[i]->data->name, &fresh[i]));
        mt_tensor_fill(fresh[i]->data, 0.0f);
        mt_param_free(p[i]);
        p[i] = fresh[i];
    }
    mt_optimizer_free(*opt);
    assert_ok(mt_optimizer_new(o, p, 2, opt));
    ck = (mt_checkpoint){.params = p, .n_params = 2, .optimizer = *opt};
    assert_ok(mt_checkpoint_load(path, &ck, NULL, 0));
    assert_int_equal(mt_optimizer_steps_get(*opt), 2);
    unlink(path);
}

/* Four steps on w and u where u's loss term starts at step 2 (make_train_refs.py's
 * late_steps): torch.optim skips u while its grad is None, so u must not decay
 * or gather momentum, and its Adam bias correction counts from its own first
 * update. max_norm > 0 clips both gradients first; resume: the run goes on
 * after step 1 from a checkpoint (which must keep u's own count). */
static void run_late_steps(const char *name, const mt_optimizer_options *o, float max_norm,
                           bool resume)
{
    mt_safetensors *st;
    assert_ok(mt_safetensors_open(TRAIN_REFS, &st));
    mt_tensor *w0 = ref(st, "late.w"), *u0 = ref(st, "late.u"), *c = ref(st, "late.c");
    mt_value *p[2];
    assert_ok(mt_param_new(w0, "w", &p[0]));
    assert_ok(mt_param_new(u0, "u", &p[1]));
    mt_optimizer *opt;
    assert_ok(mt_optimizer_new(o, p, 2, &opt));
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    for (int step = 0; step < 4; step++) {
        mt_value *cv, *y, *loss, *cube, *extra;
        if (resume && step == 2)
            resume_from_checkpoint(o, p, &opt);
        mt_tape_reset(tape);
        mt_optimizer_zero_grad(opt);
        assert_ok(mt_tape_constant(tape, c, &cv));
        assert_ok(mt_tape_mul(tape, p[0], p[0], &y));
        assert_ok(mt_tape_mul(tape, y, cv, &y));
        assert_ok(mt_tape_sum_all(tape, y, &loss));
        if (step >= 2) {
            assert_ok(mt_tape_pow_scalar(tape, p[1], 3.0f, &cube));
            assert_ok(mt_tape_sum_all(tape, cube, &extra));
            assert_ok(mt_tape_add(tape, loss, extra, &loss));
        }
        assert_ok(mt_tape_backward(tape, loss));
        if (max_norm > 0.0f)
            assert_ok(mt_grad_clip_norm(p, 2, max_norm, NULL));
        assert_ok(mt_optimizer_step(opt));
    }
    const char *pname[2] = {"w", "u"};
    for (int i = 0; i < 2; i++) {
        char key[32];
        snprintf(key, sizeof key, "late.%s.%s", name, pname[i]);
        mt_tensor *want = ref(st, key);
        assert_close(p[i]->data->data, want->data, (size_t)mt_tensor_numel(want), 1e-6, 1e-5);
        mt_tensor_free(want);
    }
    mt_tape_free(tape);
    mt_optimizer_free(opt);
    mt_param_free(p[0]);
    mt_param_free(p[1]);
    mt_tensor_free(w0);
    mt_tensor_free(u0);
    mt_tensor_free(c);
    mt_safetensors_close(st);
}

static void test_parameter_without_gradient_is_skipped(void **state)
{
    (void)state;
    mt_optimizer_options o = mt_optimizer_defaults(MT_OPTIMIZER_SGD);
    o.lr = 0.1f;
    o.momentum = 0.9f;
    o.dampening = 0.3f;
    o.weight_decay = 0.01f;
    run_late_steps("sgd", &o, 0.0f, false);
    run_late_steps("sgd", &o, 0.0f, true);
    o = mt_optimizer_defaults(MT_OPTIMIZER_ADAM);
    o.lr = 0.05f;
    o.weight_decay = 0.1f;
    run_late_steps("adam", &o, 0.0f, false);
    run_late_steps("adam", &o, 0.0f, true);
    o = mt_optimizer_defaults(MT_OPTIMIZER_ADAMW);
    o.lr = 0.05f;
    o.beta1 = 0.5f;
    run_late_steps("adamw", &o, 0.5f, false);
    run_late_steps("adamw", &o, 0.5f, true);
}

static void test_optimizer_errors_and_state(void **state)
{
    (void)state;
    mt_tensor *t;
    assert_ok(mt_tensor_full(1, (int64_t[]){3}, 1.0f, &t));
    mt_value *p;
    assert_ok(mt_param_new(t, "w", &p));
    mt_optimizer *opt = NULL;
    mt_optimizer_options o = mt_optimizer_defaults(MT_OPTIMIZER_ADAM);
    o.lr = -1.0f;
    assert_fails(mt_optimizer_new(&o, &p, 1, &opt), MT_ERR_INVALID_ARGUMENT, "invalid lr");
    o.lr = NAN;
    assert_fails(mt_optimizer_new(&o, &p, 1, &opt), MT_ERR_INVALID_ARGUMENT, "invalid lr");
    o = mt_optimizer_defaults(MT_OPTIMIZER_ADAM);
    o.beta2 = 1.0f;
    assert_fails(mt_optimizer_new(&o, &p, 1, &opt), MT_ERR_INVALID_ARGUMENT, "beta1/beta2");
    o = mt_optimizer_defaults(MT_OPTIMIZER_SGD);
    o.nesterov = true;
    assert_fails(mt_optimizer_new(&o, &p, 1, &opt), MT_ERR_INVALID_ARGUMENT, "nesterov");
    mt_value not_param = {0};
    mt_value *bad = &not_param;
    not_param.data = t;
    o = mt_optimizer_defaults(MT_OPTIMIZER_ADAM);
    assert_fails(mt_optimizer_new(&o, &bad, 1, &opt), MT_ERR_INVALID_ARGUMENT,
                 "params[0] is not a parameter");
    assert_null(opt);
    assert_fails(mt_optimizer_new(&o, (mt_value *[]){p, p}, 2, &opt), MT_ERR_INVALID_ARGUMENT,
                 "params[0] and params[1] are the same parameter w [3]");
    mt_value *shadow;
    assert_ok(mt_param_shadow_new(p, &shadow));
    assert_fails(mt_optimizer_new(&o, (mt_value *[]){p, shadow}, 2, &opt),
                 MT_ERR_INVALID_ARGUMENT, "are the same parameter");
    mt_param_free(shadow);
    o = mt_optimizer_defaults(MT_OPTIMIZER_SGD);
    o.dampening = NAN;
    assert_fails(mt_optimizer_new(&o, &p, 1, &opt), MT_ERR_INVALID_ARGUMENT, "dampening");
    assert_null(opt);
    o = mt_optimizer_defaults(MT_OPTIMIZER_ADAM);
    assert_ok(mt_optimizer_new(&o, &p, 1, &opt));
    /* a cosine schedule ends at min_lr 0, which torch.optim takes: no change */
    assert_ok(mt_optimizer_lr_set(opt, mt_lr_cosine_warmup(1e-3f, 10, 2, 10, 0.0f)));
    assert_true(mt_optimizer_lr_get(opt) == 0.0f);
    ((float *)p->grad->data)[0] = 5.0f;
    assert_ok(mt_optimizer_step(opt));
    assert_close(p->data->data, ((float[]){1, 1, 1}), 3, 0.0, 0.0);
    assert_fails(mt_optimizer_lr_set(opt, -1e-3f), MT_ERR_INVALID_ARGUMENT,
                 "lr -0.001 must be >= 0");
    assert_fails(mt_optimizer_lr_set(opt, NAN), MT_ERR_INVALID_ARGUMENT, "must be >= 0");
    mt_optimizer_free(opt);
    mt_param_zero_grad(p);
    assert_ok(mt_optimizer_new(&o, &p, 1, &opt));
    assert_int_equal(mt_optimizer_state_count(opt), 2);
    const char *name;
    mt_tensor *s;
    assert_ok(mt_optimizer_state_at(opt, 1, &name, &s));
    assert_string_equal(name, "w.exp_avg_sq");
    assert_fails(mt_optimizer_state_at(opt, 2, &name, &s), MT_ERR_INVALID_ARGUMENT, "index 2");
    mt_optimizer_free(opt);
    mt_param_free(p);
    mt_tensor_free(t);
}

/* A checkpoint's checksum share, computed here from its definition
 * (train/checkpoint.c): FNV-1a 64 of the name, a NUL and the bytes. */
static uint64_t checksum_share(const char *name, const void *bytes, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    const unsigned char *b = (const unsigned char *)name;
    for (size_t i = 0; i <= strlen(name); i++)  /* the NUL too */
        h = (h ^ b[i]) * 0x100000001b3u;
    b = bytes;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3u;
    return h;
}

/* A checkpoint of parameter "w" [3] (all 2) with Adam's state (exp_avg 0,
 * exp_avg_sq all v) after `steps` steps, written to path with a checksum
 * that matches (the state is impossible, not damaged) and loaded. */
static mt_status load_made(const char *path, mt_checkpoint *ck, const char *steps, float v)
{
    mt_tensor *w, *m, *sq;
    assert_ok(mt_tensor_full(1, (int64_t[]){3}, 2.0f, &w));
    assert_ok(mt_tensor_full(1, (int64_t[]){3}, 0.0f, &m));
    assert_ok(mt_tensor_full(1, (int64_t[]){3}, v, &sq));
    const mt_safetensors_item items[3] = {
        {"w", 0, w}, {"optim.w.exp_avg", 0, m}, {"optim.w.exp_avg_sq", 0, sq}};
    mt_safetensors_kv meta[5] = {{"minitensor.checkpoint", "1", 0, 0},
                                 {"minitensor.epoch", "1", 0, 0},
                                 {"minitensor.optimizer", "adam", 0, 0},
                                 {"minitensor.steps", steps, 0, 0}};
    uint64_t sum = 0;
    for (int i = 0; i < 3; i++)
        sum += checksum_share(items[i].name, items[i].tensor->data, 3 * sizeof(float));
    for (int i = 0; i < 4; i++)
        sum += checksum_share(meta[i].key, meta[i].value, strlen(meta[i].value));
    char checksum[40];
    snprintf(checksum, sizeof checksum, "fnv1a64-sum:%016" PRIx64, sum);
    meta[4] = (mt_safetensors_kv){"minitensor.checksum", checksum, 0, 0};
    assert_ok(mt_safetensors_save(path, items, 3, meta, 5));
    mt_tensor_free(w);
    mt_tensor_free(m);
    mt_tensor_free(sq);
    return mt_checkpoint_load(path, ck, NULL, 0);
}

/* State no run can reach is refused and the run left as it was: a step
 * count past int64 was clamped to INT64_MAX by strtoll (the next step
 * overflowed), a negative second moment made Adam's update NaN. */
static void test_checkpoint_refuses_impossible_state(void **state)
{
    (void)state;
    char dir[] = "/tmp/mt_optim_test_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    mt_tensor *t;
    assert_ok(mt_tensor_full(1, (int64_t[]){3}, 1.0f, &t));
    mt_value *p;
    assert_ok(mt_param_new(t, "w", &p));
    mt_optimizer_options o = mt_optimizer_defaults(MT_OPTIMIZER_ADAM);
    mt_optimizer *opt;
    assert_ok(mt_optimizer_new(&o, &p, 1, &opt));
    mt_checkpoint ck = {.params = &p, .n_params = 1, .optimizer = opt};
    assert_ok(load_made(path, &ck, "5", 0.25f));
    assert_int_equal(mt_optimizer_steps_get(opt), 5);
    assert_close(p->data->data, ((float[]){2, 2, 2}), 3, 0, 0);
    assert_fails(load_made(path, &ck, "99999999999999999999", 0.25f), MT_ERR_FORMAT,
                 "missing or bad optimizer steps");
    assert_fails(load_made(path, &ck, "9223372036854775807", 0.25f), MT_ERR_FORMAT,
                 "missing or bad optimizer steps");
    assert_fails(load_made(path, &ck, "6", -1.0f), MT_ERR_FORMAT,
                 "optim.w.exp_avg_sq[0] is negative (-1)");
    assert_fails(load_made(path, &ck, " 6", 0.25f), MT_ERR_FORMAT,   /* digits only */
                 "missing or bad optimizer steps");
    assert_fails(load_made(path, &ck, "+6", 0.25f), MT_ERR_FORMAT,
                 "missing or bad optimizer steps");
    assert_int_equal(mt_optimizer_steps_get(opt), 5);
    /* an expected pair with a NULL value or key */
    assert_fails(mt_checkpoint_load(path, &ck, (mt_safetensors_kv[]){{"model", NULL, 0, 0}}, 1),
                 MT_ERR_INVALID_ARGUMENT, "expected pair 0 has a NULL value");
    assert_fails(mt_checkpoint_load(path, &ck, (mt_safetensors_kv[]){{NULL, "1", 0, 0}}, 1),
                 MT_ERR_INVALID_ARGUMENT, "expected pair 0 has a NULL key");
    /* a count whose next step would overflow */
    assert_fails(mt_optimizer_steps_set(opt, INT64_MAX), MT_ERR_INVALID_ARGUMENT,
                 "steps 9223372036854775807 not in 0..2^62-1");
    /* what load refuses is not saved: an epoch out of range, a NaN weight */
    ck.epoch = -5;
    assert_fails(mt_checkpoint_save(path, &ck, NULL, 0), MT_ERR_INVALID_ARGUMENT,
                 "epoch -5, expected 0..2^62-1");
    ck.epoch = 1;
    ((float *)p->data->data)[1] = NAN;
    assert_fails(mt_checkpoint_save(path, &ck, NULL, 0), MT_ERR_INVALID_ARGUMENT,
                 "checkpoint_save: w: ");
    ((float *)p->data->data)[1] = 2.0f;
    ck.epoch = 0;
    /* an optimizer of no parameters */
    mt_optimizer *none = NULL;
    assert_ok(mt_optimizer_new(&o, NULL, 0, &none));
    /* ... is not the checkpoint's: its parameter w is not among none's, but
     * an optimizer over a parameter the checkpoint lacks is refused */
    mt_checkpoint other = {.params = NULL, .n_params = 0, .optimizer = opt};
    assert_fails(mt_checkpoint_save(path, &other, NULL, 0), MT_ERR_INVALID_ARGUMENT,
                 "checkpoint_save: the optimizer's parameter w is not one of the checkpoint's "
                 "params");
    assert_fails(mt_checkpoint_load(path, &other, NULL, 0), MT_ERR_INVALID_ARGUMENT,
                 "checkpoint_load: the optimizer's parameter w is not one of the");
    mt_optimizer_free(none);
    /* a resume (an optimizer) restores every generator the file has; the
     * parameters alone may leave them */
    mt_rng rng;
    mt_rng_init(&rng, 7);
    mt_checkpoint with_rng = {.params = &p, .n_params = 1, .optimizer = opt, .rngs = &rng,
                              .n_rngs = 1};
    assert_ok(mt_checkpoint_save(path, &with_rng, NULL, 0));
    assert_fails(mt_checkpoint_load(path, &ck, NULL, 0), MT_ERR_INVALID_ARGUMENT,
                 "holds more than the 0 generators this run gives (minitensor.rng.0)");
    mt_checkpoint weights_only = {.params = &p, .n_params = 1};
    assert_ok(mt_checkpoint_load(path, &weights_only, NULL, 0));
    assert_ok(mt_checkpoint_load(path, &with_rng, NULL, 0));
    unlink(path);
    rmdir(dir);
    mt_optimizer_free(opt);
    mt_param_free(p);
    mt_tensor_free(t);
}

static void test_clip_grad_norm(void **state)
{
    (void)state;
    mt_tensor *t;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){2}, &t));
    mt_value *p[2];
    assert_ok(mt_param_new(t, "a", &p[0]));
    assert_ok(mt_param_new(t, "b", &p[1]));
    ((float *)p[0]->grad->data)[0] = 3.0f;   /* global norm = |(3, 0, 0, 4)| = 5 */
    ((float *)p[1]->grad->data)[1] = 4.0f;
    float norm;
    assert_ok(mt_grad_clip_norm(p, 2, 1.0f, &norm));
    assert_float_equal(norm, 5.0f, 1e-6);
    /* torch: grad * max_norm / (norm + 1e-6) */
    assert_float_equal(((float *)p[0]->grad->data)[0], 3.0f / (5.0f + 1e-6f), 1e-7);
    assert_float_equal(((float *)p[1]->grad->data)[1], 4.0f / (5.0f + 1e-6f), 1e-7);
    assert_ok(mt_grad_clip_norm(p, 2, 10.0f, &norm));   /* below max: unchanged */
    assert_float_equal(((float *)p[1]->grad->data)[1], 4.0f / (5.0f + 1e-6f), 1e-7);
    assert_fails(mt_grad_clip_norm(p, 2, 0.0f, NULL), MT_ERR_INVALID_ARGUMENT, "max_norm");
    /* torch: a NaN norm gives clamp(NaN, max=1) = NaN, which multiplies every
     * gradient */
    ((float *)p[0]->grad->data)[1] = NAN;
    assert_ok(mt_grad_clip_norm(p, 2, 1.0f, &norm));
    assert_true(isnan(norm));
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++)
            assert_true(isnan(((float *)p[i]->grad->data)[k]));
    mt_param_free(p[0]);
    mt_param_free(p[1]);
    mt_tensor_free(t);
}

static void test_schedules(void **state)
{
    (void)state;
    /* torch StepLR(step_size=2, gamma=0.5) from 0.1: 0.1, 0.1, 0.05, 0.05, 0.025 */
    const float step_lr[5] = {0.1f, 0.1f, 0.05f, 0.05f, 0.025f};
    for (int i = 0; i < 5; i++)
        assert_float_equal(mt_lr_step_decay(0.1f, i, 2, 0.5f), step_lr[i], 1e-9);
    /* nanoGPT get_lr(lr 1, warmup 4, decay 12, min 0.1): it 0 -> 1/5, it 8 -> the
     * midpoint 0.55, it 12 -> 0.1, past the end -> 0.1 */
    assert_float_equal(mt_lr_cosine_warmup(1.0f, 0, 4, 12, 0.1f), 0.2f, 1e-7);
    assert_float_equal(mt_lr_cosine_warmup(1.0f, 3, 4, 12, 0.1f), 0.8f, 1e-7);
    assert_float_equal(mt_lr_cosine_warmup(1.0f, 4, 4, 12, 0.1f), 1.0f, 1e-7);
    assert_float_equal(mt_lr_cosine_warmup(1.0f, 8, 4, 12, 0.1f), 0.55f, 1e-6);
    assert_float_equal(mt_lr_cosine_warmup(1.0f, 12, 4, 12, 0.1f), 0.1f, 1e-7);
    assert_float_equal(mt_lr_cosine_warmup(1.0f, 50, 4, 12, 0.1f), 0.1f, 1e-7);
    assert_true(isnan(mt_lr_cosine_warmup(1.0f, 0, 4, 4, 0.1f)));
}

static void test_pcg32_reference_values(void **state)
{
    (void)state;
    /* pcg32-demo.c of the reference implementation, pcg32_srandom_r(42, 54):
     * 0xa15c02b7 0x7b47f409 0xba1d3330 0x83d2f293 0xbfa4784b 0xcbed606e */
    mt_rng rng = {0, (54u << 1) | 1u};
    mt_rng_next_u32(&rng);
    rng.state += 42;
    mt_rng_next_u32(&rng);
    const uint32_t want[6] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u,
                              0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
    for (int i = 0; i < 6; i++)
        assert_int_equal(mt_rng_next_u32(&rng), want[i]);
    mt_rng a, b;
    mt_rng_init(&a, 5);
    mt_rng_init(&b, 5);
    for (int i = 0; i < 100; i++)
        assert_int_equal(mt_rng_next_u32(&a), mt_rng_next_u32(&b));
    for (int i = 0; i < 1000; i++) {
        assert_true(mt_rng_below(&a, 7) < 7);
        float u = mt_rng_uniform(&a);
        assert_true(u >= 0.0f && u < 1.0f);
    }
}

static void test_initialisers(void **state)
{
    (void)state;
    mt_rng rng;
    mt_rng_init(&rng, 1);
    mt_tensor *w;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){128, 784}, &w));
    assert_ok(mt_init_kaiming_uniform(w, 784, &rng));
    /* U(-1/28, 1/28): every value inside, the extremes near the bounds, and
     * the variance near bound²/3 */
    const float *d = w->data;
    double lo = 1, hi = -1, sq = 0;
    int64_t n = mt_tensor_numel(w);
    for (int64_t i = 0; i < n; i++) {
        lo = d[i] < lo ? d[i] : lo;
        hi = d[i] > hi ? d[i] : hi;
        sq += (double)d[i] * d[i];
    }
    assert_true(lo >= -1.0 / 28 && hi < 1.0 / 28);
    assert_true(lo < -0.035 && hi > 0.035);
    assert_true(fabs(sq / (double)n - 1.0 / (784.0 * 3.0)) < 2e-5);
    assert_ok(mt_init_glorot_uniform(w, 784, 128, &rng));
    double bound = sqrt(6.0 / 912.0);
    for (int64_t i = 0; i < n; i++)
        assert_true(fabs(d[i]) < bound);
    assert_fails(mt_init_kaiming_uniform(w, 0, &rng), MT_ERR_INVALID_ARGUMENT, "fan_in 0");
    assert_fails(mt_tensor_fill_uniform(w, 1.0f, 0.0f, &rng), MT_ERR_INVALID_ARGUMENT,
                 "bounds");
    assert_fails(mt_tensor_fill_normal(w, 0.0f, 1.0f, NULL), MT_ERR_INVALID_ARGUMENT,
                 "rng is NULL");
    assert_ok(mt_tensor_fill_normal(w, 2.0f, 0.5f, &rng));
    double mean = 0;
    for (int64_t i = 0; i < n; i++)
        mean += d[i];
    assert_true(fabs(mean / (double)n - 2.0) < 0.01);
    mt_tensor_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_nesterov_matches_torch),
        cmocka_unit_test(test_adam_matches_torch),
        cmocka_unit_test(test_adamw_matches_torch),
        cmocka_unit_test(test_parameter_without_gradient_is_skipped),
        cmocka_unit_test(test_optimizer_errors_and_state),
        cmocka_unit_test(test_checkpoint_refuses_impossible_state),
        cmocka_unit_test(test_clip_grad_norm),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_pcg32_reference_values),
        cmocka_unit_test(test_initialisers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
