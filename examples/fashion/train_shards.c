/* train_shards.c — shard threads with their own tapes and shadow
 * parameters; gradients summed in shard order (train_shards.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "train_shards.h"

/* wasm32 has no threads: there the shards run one after another on the
 * caller's thread, which gives the same numbers (each shard's work and the
 * order of the sum do not depend on where it runs). */
#ifdef __wasm__
#define SHARD_THREADS 0
typedef int pthread_t;
typedef int pthread_barrier_t;
#else
#define SHARD_THREADS 1
#include <pthread.h>
#endif

typedef struct shard {
    struct train_shards *owner;
    int index;
    pthread_t thread;
    mt_tape *tape;
    train_model model;          /* the model with this shard's shadows */
    mt_rng rng;
    mt_tensor x, y;             /* this step's rows (views of the batch) */
    int64_t start, rows;
    float loss;
    mt_status status;
    char error[512];
} shard;

struct train_shards {
    int n;
    train_model *model;
    uint64_t seed;
    int64_t step;
    bool quit, barriers;
    int started;                /* worker threads running */
    pthread_barrier_t start, done;
    mt_tensor *logits;          /* [B,10], each shard's rows copied in */
    int64_t batch;
    mt_tensor view;             /* the step's rows of logits */
    shard s[];
};

/* splitmix64: shard generators' seeds from (seed, step, shard) */
static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void shard_run(shard *h)
{
    train_shards *o = h->owner;
    h->status = MT_OK;
    if (h->rows == 0)
        return;
    mt_rng_init(&h->rng, mix(mix(mix(o->seed) ^ (uint64_t)o->step) ^ (uint64_t)h->index));
    mt_value *in, *logits, *loss;
    mt_tape_reset(h->tape);
    mt_status s;
    if ((s = mt_tape_constant(h->tape, &h->x, &in)) ||
        (s = train_model_forward(&h->model, h->tape, in, &h->rng, &logits)) ||
        (s = mt_tape_cross_entropy(h->tape, logits, &h->y, NULL, &loss)) ||
        (s = mt_tape_backward(h->tape, loss))) {
        h->status = s;
        strncpy(h->error, mt_last_error(), sizeof h->error - 1);
        return;
    }
    h->loss = *(const float *)loss->data->data;
    memcpy((float *)o->logits->data + h->start * 10, logits->data->data,
           (size_t)h->rows * 10 * sizeof(float));
}

#if SHARD_THREADS
static void *worker(void *arg)
{
    shard *h = arg;
    for (;;) {
        pthread_barrier_wait(&h->owner->start);
        if (h->owner->quit)
            return NULL;
        shard_run(h);
        pthread_barrier_wait(&h->owner->done);
    }
}
#endif

mt_status train_shards_new(int threads, train_model *model, uint64_t seed, int64_t batch,
                           train_shards **out)
{
    train_shards *o = calloc(1, sizeof *o + (size_t)threads * sizeof(shard));
    if (!o)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "train_shards: cannot allocate");
    o->n = threads;
    o->model = model;
    o->seed = seed;
    o->batch = batch;
    mt_status s = mt_num_threads_set(1);
    if (!s)
        s = mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){batch, 10}, &o->logits);
    for (int i = 0; i < threads && !s; i++) {
        shard *h = &o->s[i];
        h->owner = o;
        h->index = i;
        h->model = *model;
        for (int k = 0; k < model->n_params; k++)
            h->model.params[k] = NULL;
        h->model.n_params = 0;
        if ((s = mt_tape_new(&h->tape)))
            break;
        for (int k = 0; k < model->n_params && !s; k++)
            if (!(s = mt_param_shadow_new(model->params[k], &h->model.params[k])))
                h->model.n_params++;
    }
#if SHARD_THREADS
    if (!s) {
        if (pthread_barrier_init(&o->start, NULL, (unsigned)threads) ||
            pthread_barrier_init(&o->done, NULL, (unsigned)threads))
            s = mt_fail(MT_ERR_OUT_OF_MEMORY, "train_shards: cannot make barriers");
        else
            o->barriers = true;
    }
    for (int i = 1; i < threads && !s; i++) {
        if (pthread_create(&o->s[i].thread, NULL, worker, &o->s[i]))
            s = mt_fail(MT_ERR_OUT_OF_MEMORY, "train_shards: cannot start thread %d", i);
        else
            o->started++;
    }
#endif
    if (s) {
        train_shards_free(o);
        return s;
    }
    *out = o;
    return MT_OK;
}

void train_shards_free(train_shards *o)
{
    if (!o)
        return;
#if SHARD_THREADS
    if (o->started < o->n - 1 && o->started > 0)
        return;   /* a thread failed to start: the others wait for it forever; the
                     program is about to exit (leaking them is all that is safe) */
    if (o->started > 0) {
        o->quit = true;
        pthread_barrier_wait(&o->start);
        for (int i = 1; i < o->n; i++)
            pthread_join(o->s[i].thread, NULL);
    }
    if (o->barriers) {
        pthread_barrier_destroy(&o->start);
        pthread_barrier_destroy(&o->done);
    }
#endif
    for (int i = 0; i < o->n; i++) {
        mt_tape_free(o->s[i].tape);
        for (int k = 0; k < o->s[i].model.n_params; k++)
            mt_param_free(o->s[i].model.params[k]);
    }
    mt_tensor_free(o->logits);
    free(o);
}

mt_status train_shards_step(train_shards *o, const mt_tensor *x, const mt_tensor *y,
                            int64_t step, float *loss, const mt_tensor **logits_out)
{
    int64_t batch = x->shape[0];
    mt_status s = MT_OK;
    for (int i = 0; i < o->n && !s; i++) {
        shard *h = &o->s[i];
        h->start = batch * i / o->n;
        h->rows = batch * (i + 1) / o->n - h->start;
        if ((s = mt_narrow_into(x, 0, h->start, h->rows, &h->x)) ||
            (s = mt_narrow_into(y, 0, h->start, h->rows, &h->y)))
            return s;
    }
    o->step = step;
#if SHARD_THREADS
    pthread_barrier_wait(&o->start);
    shard_run(&o->s[0]);
    pthread_barrier_wait(&o->done);
#else
    for (int i = 0; i < o->n; i++)
        shard_run(&o->s[i]);
#endif
    float scale[64], total = 0.0f;
    mt_value *shadows[64];
    for (int i = 0; i < o->n; i++) {
        if (o->s[i].status)
            return mt_fail(o->s[i].status, "shard %d: %s", i, o->s[i].error);
        scale[i] = (float)o->s[i].rows / (float)batch;
        total += scale[i] * o->s[i].loss;
    }
    for (int k = 0; k < o->model->n_params && !s; k++) {
        for (int i = 0; i < o->n; i++)
            shadows[i] = o->s[i].model.params[k];
        s = mt_param_grad_reduce(o->model->params[k], shadows, scale, o->n);
    }
    *loss = total;
    mt_narrow_into(o->logits, 0, 0, batch, &o->view);
    *logits_out = &o->view;
    return s;
}
