/* train.c — `fashion train`: mini-batch training with a tape, an optimizer,
 * evaluation after every epoch and a checkpoint after every epoch. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "progress.h"
#include "train.h"
#include "train_model.h"
#include "train_shards.h"

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
#define SIDE 28
#define CLASSES 10

static const char usage[] =
    "usage: fashion train --model mlp|cnn --out FILE [options]\n"
    "Train a Fashion-MNIST classifier from scratch in C and save its weights.\n"
    "\n"
    "  --model mlp|cnn       mlp: the MNIST example's net (784-128-10, dropout 0.2),\n"
    "                        read by `mnist eval --weights FILE`; cnn: the Fashion\n"
    "                        CNN, read by `fashion eval --weights FILE`\n"
    "  --out FILE            the trained weights (safetensors); a checkpoint of the\n"
    "                        whole run goes to FILE.ckpt after every epoch\n"
    "  --epochs N            epochs to train (default 5 for mlp, 10 for cnn)\n"
    "  --batch-size B        images per step (default 64)\n"
    "  --optimizer NAME      sgd, adam or adamw (default adam)\n"
    "  --lr LR               learning rate (default 1e-3; sgd 1e-2)\n"
    "  --schedule NAME       constant or cosine: the learning rate decays from LR\n"
    "                        to 0 over all steps of --epochs (torch's\n"
    "                        CosineAnnealingLR per step); default constant for\n"
    "                        mlp, cosine for cnn (its last epoch is the one saved)\n"
    "  --seed S              seed of weights, shuffling and dropout (default 0)\n"
    "  --threads T           threads (default 1): T > 1 splits every batch into T\n"
    "                        shards trained in parallel, gradients summed in a\n"
    "                        fixed order (same seed and T: same files)\n"
    "  --data DIR            the four gzip IDX files (default " DEFAULT_DATA ",\n"
    "                        Debian's dataset-fashion-mnist)\n"
    "  --resume CKPT         continue the run saved in CKPT (same model, optimizer,\n"
    "                        learning rate, batch size, seed and images; saved\n"
    "                        no later than --epochs)\n"
    "  --limit N             use only the first N training and N test images\n"
    "                        (quick runs: tests, profiling)\n";

typedef struct config {
    const char *model, *out, *optimizer, *data, *resume, *schedule;
    int64_t epochs, batch_size, threads, limit;
    float lr;
    uint64_t seed;
    char checkpoint[4096];
} config;

typedef struct dataset {
    mt_idx images, labels;
    int64_t n;
} dataset;

/* ---- command line ------------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fashion train: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(fashion train --help for usage)\n");
    va_end(ap);
    return 2;
}

static bool parse_int(const char *s, int64_t lo, int64_t hi, int64_t *v)
{
    char *end;
    errno = 0;
    if ((*s < '0' || *s > '9') && *s != '-')   /* strtoll would skip " " and take "+" */
        return false;
    long long x = strtoll(s, &end, 10);
    if (end == s || *end || errno || x < lo || x > hi)
        return false;
    *v = x;
    return true;
}

static int parse_args(int argc, char **argv, config *c)
{
    *c = (config){.optimizer = "adam", .data = DEFAULT_DATA, .epochs = -1, .batch_size = 64,
                  .threads = 1, .lr = -1.0f};
    const char **strings[] = {&c->model, &c->out, &c->optimizer, &c->data, &c->resume,
                              &c->schedule};
    bool seen[16] = {false};
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "-h") == 0 || strcmp(flag, "--help") == 0) {
            fputs(usage, stdout);
            return -1;
        }
        static const char *const all[] = {"--model", "--out", "--optimizer", "--data",
                                          "--resume", "--schedule", "--epochs",
                                          "--batch-size", "--lr", "--seed", "--threads",
                                          "--limit"};
        int which = -1;
        for (int k = 0; k < (int)(sizeof all / sizeof all[0]); k++)
            if (strcmp(flag, all[k]) == 0)
                which = k;
        if (which < 0)
            return bad_usage("unknown option %s", flag);
        if (seen[which])
            return bad_usage("%s given twice", flag);
        seen[which] = true;
        if (i + 1 == argc)
            return bad_usage("%s needs a value", flag);
        const char *v = argv[++i];
        int64_t n;
        if (which < 6) {
            *strings[which] = v;
        } else if (which == 6) {
            if (!parse_int(v, 1, 100000, &c->epochs))
                return bad_usage("--epochs %s: need a whole number 1..100000", v);
        } else if (which == 7) {
            if (!parse_int(v, 1, 65536, &c->batch_size))
                return bad_usage("--batch-size %s: need a whole number 1..65536", v);
        } else if (which == 8) {
            char *end;
            c->lr = strtof(v, &end);
            if (end == v || *end || !(c->lr > 0.0f) || !isfinite(c->lr))
                return bad_usage("--lr %s: need a positive number", v);
        } else if (which == 9) {
            if (!parse_int(v, 0, INT64_MAX, &n))
                return bad_usage("--seed %s: need a whole number >= 0", v);
            c->seed = (uint64_t)n;
        } else if (which == 10) {
            if (!parse_int(v, 1, 64, &c->threads))
                return bad_usage("--threads %s: need a whole number 1..64", v);
        } else {
            if (!parse_int(v, 1, INT64_MAX, &c->limit))
                return bad_usage("--limit %s: need a whole number >= 1", v);
        }
    }
    if (!c->model)
        return bad_usage("%s", "--model mlp|cnn is required");
    if (strcmp(c->model, "mlp") != 0 && strcmp(c->model, "cnn") != 0)
        return bad_usage("--model %s: mlp or cnn", c->model);
    if (!c->out || !*c->out)
        return bad_usage("%s", "--out FILE is required");
    if (strcmp(c->optimizer, "sgd") && strcmp(c->optimizer, "adam") &&
        strcmp(c->optimizer, "adamw"))
        return bad_usage("--optimizer %s: sgd, adam or adamw", c->optimizer);
    if (!c->schedule)
        c->schedule = strcmp(c->model, "mlp") == 0 ? "constant" : "cosine";
    if (strcmp(c->schedule, "constant") && strcmp(c->schedule, "cosine"))
        return bad_usage("--schedule %s: constant or cosine", c->schedule);
    if (c->epochs < 0)
        c->epochs = strcmp(c->model, "mlp") == 0 ? 5 : 10;
    if (c->lr < 0)
        c->lr = strcmp(c->optimizer, "sgd") == 0 ? 1e-2f : 1e-3f;
    if ((size_t)snprintf(c->checkpoint, sizeof c->checkpoint, "%s.ckpt", c->out) >=
        sizeof c->checkpoint)
        return bad_usage("--out %s: path too long", c->out);
    return 0;
}

/* A file the run will save to must be one it can save to, checked before
 * any training: a directory, a FIFO or a missing folder there used to fail
 * only at the first save (for --out, after the last epoch). */
static int check_target(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        fprintf(stderr, "fashion train: %s exists and is not a regular file: save to a "
                "file path\n", path);
        return 1;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    errno = 0;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "fashion train: cannot save %s: %s: %s\n", path, dir,
                errno ? strerror(errno) : "not a directory");
        return 1;
    }
    return 0;
}

/* ---- data ------------------------------------------------------------------------------- */

/* The first `limit` (all when 0) images and labels of a gzip IDX pair. */
static mt_status load_set(const char *dir, const char *images, const char *labels,
                          int64_t limit, dataset *d)
{
    char ip[4096], lp[4096];
    snprintf(ip, sizeof ip, "%s/%s", dir, images);
    snprintf(lp, sizeof lp, "%s/%s", dir, labels);
    for (const char *p = ip; p; p = p == ip ? lp : NULL)
        if (access(p, R_OK) != 0)
            return mt_fail(MT_ERR_IO, "cannot read %s (%s); install Debian's "
                           "dataset-fashion-mnist (apt-get install dataset-fashion-mnist) "
                           "or give --data DIR", p, strerror(errno));
    mt_status s;
    if ((s = mt_idx_load(ip, &d->images)) || (s = mt_idx_load(lp, &d->labels)))
        return s;
    const mt_idx *im = &d->images, *lb = &d->labels;
    if (im->rank != 3 || im->dim[1] != SIDE || im->dim[2] != SIDE || lb->rank != 1 ||
        lb->dim[0] != im->dim[0])
        return mt_fail(MT_ERR_FORMAT, "%s and %s are not N 28x28 images and N labels", ip, lp);
    if (im->dim[0] == 0)   /* nothing to learn from or to score: a NaN loss, 0/0 accuracy */
        return mt_fail(MT_ERR_FORMAT, "%s: no images", ip);
    for (int64_t i = 0; i < lb->dim[0]; i++)
        if (lb->data[i] >= CLASSES)
            return mt_fail(MT_ERR_FORMAT, "%s: label %lld is %u, not a class 0..9", lp,
                           (long long)i, lb->data[i]);
    d->n = im->dim[0];
    if (limit > 0 && limit < d->n)
        d->n = limit;
    return MT_OK;
}

static void dataset_free(dataset *d)
{
    mt_idx_free(&d->images);
    mt_idx_free(&d->labels);
}

/* images[rows[i]] / 255 into x, labels into y, for i < count. */
static void gather(const dataset *d, const int64_t *rows, int64_t count, float *x, int64_t *y)
{
    for (int64_t i = 0; i < count; i++) {
        const uint8_t *px = d->images.data + rows[i] * SIDE * SIDE;
        for (int k = 0; k < SIDE * SIDE; k++)
            x[i * SIDE * SIDE + k] = (float)px[k] * (1.0f / 255.0f);
        y[i] = d->labels.data[rows[i]];
    }
}

static int64_t count_correct(const mt_tensor *logits, const int64_t *labels)
{
    int64_t rows = logits->shape[0], correct = 0;
    const float *l = logits->data;
    for (int64_t r = 0; r < rows; r++) {
        int best = 0;
        for (int c = 1; c < CLASSES; c++)
            if (l[r * CLASSES + c] > l[r * CLASSES + best])
                best = c;
        correct += best == labels[r];
    }
    return correct;
}

/* ---- the run ------------------------------------------------------------------------------ */

typedef struct run {
    config cfg;
    dataset train, test;
    train_model model;
    mt_optimizer *opt;
    mt_tape *tape;
    train_shards *shards;       /* --threads T > 1 */
    mt_rng rng;
    mt_tensor *x, *y;           /* one batch: [B,28,28] F32, [B] I64 */
    int64_t *order;
    char lr_text[32], batch_text[32], seed_text[32], schedule_text[64];
    mt_safetensors_kv meta[5];
    int64_t total_steps;        /* --schedule cosine: steps of all epochs (0: constant) */
    int64_t poison_step;        /* test hook: this global step's input is NaN (0: never) */
} run;

/* Test accuracy, in batches of the training batch size (its buffers), with
 * gradients and dropout off. */
static mt_status evaluate(run *r, double *accuracy)
{
    mt_tape_grad_set(r->tape, false);
    mt_tape_training_set(r->tape, false);
    int64_t correct = 0, chunk = r->cfg.batch_size;
    int64_t *rows = r->order;   /* free until the next epoch's shuffle */
    mt_status s = MT_OK;
    for (int64_t start = 0; start < r->test.n && !s; start += chunk) {
        int64_t count = r->test.n - start < chunk ? r->test.n - start : chunk;
        for (int64_t i = 0; i < count; i++)
            rows[i] = start + i;
        mt_tensor xs, ys;
        mt_value *in, *logits;
        if ((s = mt_narrow_into(r->x, 0, 0, count, &xs)) ||
            (s = mt_narrow_into(r->y, 0, 0, count, &ys)))
            break;
        gather(&r->test, rows, count, xs.data, ys.data);
        mt_tape_reset(r->tape);
        if ((s = mt_tape_constant(r->tape, &xs, &in)) ||
            (s = train_model_forward(&r->model, r->tape, in, &r->rng, &logits)))
            break;
        correct += count_correct(logits->data, ys.data);
    }
    mt_tape_grad_set(r->tape, true);
    mt_tape_training_set(r->tape, true);
    *accuracy = (double)correct / (double)r->test.n;
    return s;
}

static mt_checkpoint checkpoint_of(run *r, int64_t epoch)
{
    return (mt_checkpoint){.params = r->model.params, .n_params = r->model.n_params,
                           .optimizer = r->opt, .rngs = &r->rng, .n_rngs = 1, .epoch = epoch};
}

/* One epoch; returns 1 (message printed, naming the last good checkpoint:
 * saved_path after saved_epoch) when the loss stops being finite. */
static int train_epoch(run *r, int64_t epoch, int64_t saved_epoch, const char *saved_path)
{
    const config *c = &r->cfg;
    progress bar;
    progress_begin(&bar, isatty(STDERR_FILENO) ? stderr : NULL, (int)epoch, (int)c->epochs,
                   r->train.n);
    if (mt_rng_permutation(&r->rng, r->train.n, r->order))
        return 1;
    double loss_sum = 0;
    int64_t correct = 0, step = 0;
    int64_t steps_per_epoch = (r->train.n + c->batch_size - 1) / c->batch_size;
    for (int64_t start = 0; start < r->train.n; start += c->batch_size, step++) {
        int64_t count = r->train.n - start < c->batch_size ? r->train.n - start : c->batch_size;
        mt_tensor xs, ys;
        mt_value *in, *logits, *loss;
        mt_status s;
        if ((s = mt_narrow_into(r->x, 0, 0, count, &xs)) ||
            (s = mt_narrow_into(r->y, 0, 0, count, &ys)))
            goto fail;
        gather(&r->train, r->order + start, count, xs.data, ys.data);
        if (r->poison_step == (epoch - 1) * steps_per_epoch + step + 1)
            ((float *)xs.data)[0] = NAN;
        float l;
        const mt_tensor *lg = NULL;
        if (r->shards) {   /* forward and backward on the shard threads */
            if ((s = train_shards_step(r->shards, &xs, &ys, mt_optimizer_steps_get(r->opt),
                                       &l, &lg)))
                goto fail;
        } else {
            mt_tape_reset(r->tape);
            if ((s = mt_tape_constant(r->tape, &xs, &in)) ||
                (s = train_model_forward(&r->model, r->tape, in, &r->rng, &logits)) ||
                (s = mt_tape_cross_entropy(r->tape, logits, &ys, NULL, &loss)))
                goto fail;
            l = *(const float *)loss->data->data;
            lg = logits->data;
        }
        if (!isfinite(l)) {
            progress_end(&bar);
            fprintf(stderr, "fashion train: the loss is %g at epoch %lld, step %lld; training "
                    "stopped. ", (double)l, (long long)epoch, (long long)step + 1);
            if (saved_epoch > 0)
                fprintf(stderr, "The last good checkpoint is %s (epoch %lld).\n", saved_path,
                        (long long)saved_epoch);
            else
                fprintf(stderr, "No checkpoint was saved yet.\n");
            return 1;
        }
        if (r->total_steps &&   /* cosine */
            (s = mt_optimizer_lr_set(r->opt, mt_lr_cosine_warmup(
                                                 c->lr, mt_optimizer_steps_get(r->opt), 0,
                                                 r->total_steps, 0.0f))))
            goto fail;
        if ((!r->shards && (s = mt_tape_backward(r->tape, loss))) ||
            (s = mt_optimizer_step(r->opt)))
            goto fail;
        mt_optimizer_zero_grad(r->opt);
        loss_sum += (double)l * (double)count;
        correct += count_correct(lg, ys.data);
        progress_step(&bar, start + count, loss_sum / (double)(start + count),
                      (double)correct / (double)(start + count));
        continue;
    fail:
        progress_end(&bar);
        fprintf(stderr, "fashion train: %s\n", mt_last_error());
        return 1;
    }
    double seconds = progress_now() - bar.start;
    progress_end(&bar);
    double test_acc;
    if (evaluate(r, &test_acc)) {
        fprintf(stderr, "fashion train: evaluation: %s\n", mt_last_error());
        return 1;
    }
    printf("epoch %lld/%lld  loss %.4f  train %.2f%%  test %.2f%%  %.0f images/s  %.1f s\n",
           (long long)epoch, (long long)c->epochs, loss_sum / (double)r->train.n,
           100.0 * (double)correct / (double)r->train.n, 100.0 * test_acc,
           (double)r->train.n / seconds, seconds);
    fflush(stdout);
    return 0;
}

static int run_setup(run *r)
{
    const config *c = &r->cfg;
    mt_status s;
    if ((s = load_set(c->data, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                      c->limit, &r->train)) ||
        (s = load_set(c->data, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                      c->limit, &r->test)))
        goto fail;
    /* tests/train/test_train_cli.sh poisons one step to check the NaN stop */
    const char *poison = getenv("FASHION_TRAIN_POISON_STEP");
    if (poison)
        r->poison_step = strtoll(poison, NULL, 10);
    mt_rng_init(&r->rng, c->seed);
    if ((s = train_model_new(c->model, &r->rng, &r->model)))
        goto fail;
    mt_optimizer_kind kind = strcmp(c->optimizer, "sgd") == 0    ? MT_OPTIMIZER_SGD
                             : strcmp(c->optimizer, "adam") == 0 ? MT_OPTIMIZER_ADAM
                                                                 : MT_OPTIMIZER_ADAMW;
    mt_optimizer_options o = mt_optimizer_defaults(kind);
    o.lr = c->lr;
    if ((s = mt_optimizer_new(&o, r->model.params, r->model.n_params, &r->opt)) ||
        (s = mt_tape_new(&r->tape)) ||
        (s = mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){c->batch_size, SIDE, SIDE}, &r->x)) ||
        (s = mt_tensor_zeros(MT_DTYPE_I64, 1, (int64_t[]){c->batch_size}, &r->y)) ||
        (s = mt_num_threads_set(1)) ||
        (c->threads > 1 && (s = train_shards_new((int)c->threads, &r->model, c->seed,
                                                 c->batch_size, &r->shards))))
        goto fail;
    r->order = malloc((size_t)r->train.n * sizeof *r->order);
    if (!r->order) {
        s = mt_fail(MT_ERR_OUT_OF_MEMORY, "cannot allocate the epoch's order");
        goto fail;
    }
    /* the run's configuration, saved with every file and checked on --resume */
    snprintf(r->lr_text, sizeof r->lr_text, "%.9g", (double)c->lr);
    snprintf(r->batch_text, sizeof r->batch_text, "%lld", (long long)c->batch_size);
    snprintf(r->seed_text, sizeof r->seed_text, "%" PRIu64, c->seed);
    /* A cosine run's learning rates depend on its length: resuming it
     * with another --epochs would not give the run it continues. */
    if (strcmp(c->schedule, "cosine") == 0)
        r->total_steps = c->epochs * ((r->train.n + c->batch_size - 1) / c->batch_size);
    if (r->total_steps)
        snprintf(r->schedule_text, sizeof r->schedule_text, "cosine over %lld epochs",
                 (long long)c->epochs);
    else
        snprintf(r->schedule_text, sizeof r->schedule_text, "constant");
    r->meta[0] = (mt_safetensors_kv){"model", c->model, 0, 0};
    r->meta[1] = (mt_safetensors_kv){"learning_rate", r->lr_text, 0, 0};
    r->meta[2] = (mt_safetensors_kv){"batch_size", r->batch_text, 0, 0};
    r->meta[3] = (mt_safetensors_kv){"seed", r->seed_text, 0, 0};
    r->meta[4] = (mt_safetensors_kv){"lr_schedule", r->schedule_text, 0, 0};
    return 0;
fail:
    fprintf(stderr, "fashion train: %s\n", mt_last_error());
    return 1;
}

static void run_free(run *r)
{
    train_shards_free(r->shards);
    free(r->order);
    mt_tensor_free(r->x);
    mt_tensor_free(r->y);
    mt_tape_free(r->tape);
    mt_optimizer_free(r->opt);
    train_model_free(&r->model);
    dataset_free(&r->train);
    dataset_free(&r->test);
}

static mt_status save_weights(run *r)
{
    mt_safetensors_item items[TRAIN_MAX_PARAMS];
    for (int i = 0; i < r->model.n_params; i++)
        items[i] = (mt_safetensors_item){r->model.params[i]->data->name, 0,
                                         r->model.params[i]->data};
    return mt_safetensors_save(r->cfg.out, items, (size_t)r->model.n_params, r->meta, 5);
}

int fashion_train_main(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    int status = parse_args(argc, argv, &r.cfg);
    if (status)
        return status < 0 ? 0 : status;
    /* a bad MT_BACKEND or MT_NUM_THREADS, reported before any work (the
     * run sets its own thread count, but a typo in either is still a typo) */
    if (mt_backend_env_check()) {
        fprintf(stderr, "fashion train: %s\n", mt_last_error());
        return 1;
    }
    if (check_target(r.cfg.out) || check_target(r.cfg.checkpoint))
        return 1;
    if ((status = run_setup(&r))) {
        run_free(&r);
        return status;
    }
    int64_t first = 1, saved = 0;
    const char *saved_path = r.cfg.checkpoint;   /* the latest good one: resumed, or saved */
    if (r.cfg.resume) {
        mt_checkpoint ck = checkpoint_of(&r, 0);
        if (mt_checkpoint_load(r.cfg.resume, &ck, r.meta, 5)) {
            fprintf(stderr, "fashion train: --resume: %s\n", mt_last_error());
            run_free(&r);
            return 1;
        }
        /* A checkpoint of this configuration after epoch e has taken e
         * epochs of steps over these images: anything else is another
         * --data or --limit, or an edited file, and would not continue it. */
        int64_t per_epoch = (r.train.n + r.cfg.batch_size - 1) / r.cfg.batch_size,
                steps = mt_optimizer_steps_get(r.opt);
        if (ck.epoch > r.cfg.epochs || steps != ck.epoch * per_epoch) {
            if (ck.epoch > r.cfg.epochs)
                fprintf(stderr, "fashion train: --resume: %s was saved after epoch %lld, "
                        "past --epochs %lld\n", r.cfg.resume, (long long)ck.epoch,
                        (long long)r.cfg.epochs);
            else
                fprintf(stderr, "fashion train: --resume: %s holds %lld optimizer steps "
                        "after epoch %lld; this run takes %lld steps per epoch (%lld "
                        "images, batches of %lld): another --data or --limit, or an "
                        "edited file\n", r.cfg.resume, (long long)steps, (long long)ck.epoch,
                        (long long)per_epoch, (long long)r.train.n,
                        (long long)r.cfg.batch_size);
            run_free(&r);
            return 1;
        }
        first = ck.epoch + 1;
        saved = ck.epoch;
        saved_path = r.cfg.resume;
        printf("resumed from %s after epoch %lld\n", r.cfg.resume, (long long)ck.epoch);
    }
    for (int64_t epoch = first; epoch <= r.cfg.epochs && !status; epoch++) {
        if ((status = train_epoch(&r, epoch, saved, saved_path)))
            break;
        mt_checkpoint ck = checkpoint_of(&r, epoch);
        if (mt_checkpoint_save(r.cfg.checkpoint, &ck, r.meta, 5)) {
            fprintf(stderr, "fashion train: checkpoint: %s\n", mt_last_error());
            status = 1;
        }
        saved = epoch;
        saved_path = r.cfg.checkpoint;
    }
    if (!status && save_weights(&r)) {
        fprintf(stderr, "fashion train: %s\n", mt_last_error());
        status = 1;
    }
    if (!status)
        printf("wrote %s (checkpoint %s)\n", r.cfg.out, r.cfg.checkpoint);
    run_free(&r);
    return status;
}
