/* test_threads.c — minitensor used from several threads.
 *
 *   test_threads exit DATA_DIR   every op that keeps scratch (matmul on each
 *                                backend with operands it must copy, conv2d,
 *                                max pool) run in a thread that then exits:
 *                                nothing it allocated is still live after the
 *                                join (counting allocator; ASan's leak checker
 *                                and valgrind check the same in their setups)
 *   test_threads race DATA_DIR   at the same time: forward passes of the MNIST
 *                                model (one model per thread, shared weights)
 *                                against TensorFlow's logits, matmuls against
 *                                the naive reference, and a thread switching
 *                                the backend and thread count — what
 *                                `meson test --setup tsan` runs under
 *                                ThreadSanitizer
 * DATA_DIR holds the MNIST example's model, digits and reference logits. */
#include <pthread.h>

#include "test_util.h"

static const char *data_dir;
static mt_backend backends[MT_BACKEND_COUNT];
static int n_backends;

static void find_backends(void)
{
    n_backends = 0;
    for (int b = MT_BACKEND_NAIVE; b < MT_BACKEND_COUNT; b++)
        if (mt_backend_available((mt_backend)b))
            backends[n_backends++] = (mt_backend)b;
}

/* ---- operands: deterministic, strided so BLAS backends must copy them ---- */

typedef struct operands {
    mt_tensor *a_base, *b_base, *bias_base;   /* owned */
    mt_tensor *a, *b, *bias;                  /* views: every other element */
} operands;

static mt_tensor *random_tensor(int rank, const int64_t *shape, uint64_t seed)
{
    mt_tensor *t = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t));
    float *p = t->data;
    for (int64_t i = 0; i < mt_tensor_numel(t); i++)
        p[i] = rand_unit(&seed);
    return t;
}

/* a [m,k] and b [k,n] with column stride 2; bias [n] with stride 2. */
static void operands_make(operands *o, int64_t m, int64_t k, int64_t n, uint64_t seed)
{
    o->a_base = random_tensor(2, (int64_t[]){m, 2 * k}, seed);
    o->b_base = random_tensor(2, (int64_t[]){k, 2 * n}, seed + 1);
    o->bias_base = random_tensor(1, (int64_t[]){2 * n}, seed + 2);
    assert_ok(mt_slice(o->a_base, 1, 0, 2 * k, 2, &o->a));
    assert_ok(mt_slice(o->b_base, 1, 0, 2 * n, 2, &o->b));
    assert_ok(mt_slice(o->bias_base, 0, 0, 2 * n, 2, &o->bias));
}

static void operands_free(operands *o)
{
    mt_tensor *all[] = {o->a, o->b, o->bias, o->a_base, o->b_base, o->bias_base};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mt_tensor_free(all[i]);
}

/* relu(a·b + bias) with the naive backend: the reference. Called with no
 * other thread changing the backend. */
static mt_tensor *reference(const operands *o)
{
    mt_backend was = mt_backend_get();
    mt_tensor *y = NULL;
    assert_ok(mt_backend_set(MT_BACKEND_NAIVE));
    assert_ok(mt_matmul_fused(o->a, o->b, o->bias, MT_ACTIVATION_RELU, &y));
    assert_ok(mt_backend_set(was));
    return y;
}

/* ---- exit: a thread's scratch is freed when it ends ---------------------- */

typedef struct exit_job {
    const operands *o;
    const mt_tensor *want;
    mt_status status;
    bool close;
} exit_job;

static void *run_every_op(void *arg)
{
    exit_job *job = arg;
    mt_tensor *y = NULL, *img = NULL, *kern = NULL, *conv = NULL, *pool = NULL;
    job->status = mt_matmul_fused(job->o->a, job->o->b, job->o->bias, MT_ACTIVATION_RELU, &y);
    if (!job->status) {
        float *got = y->data, *want = job->want->data;
        job->close = true;
        for (int64_t i = 0; i < mt_tensor_numel(y); i++)
            job->close &= fabsf(got[i] - want[i]) <= 1e-4f + 1e-4f * fabsf(want[i]);
    }
    img = random_tensor(4, (int64_t[]){2, 12, 12, 3}, 7);
    kern = random_tensor(4, (int64_t[]){3, 3, 3, 8}, 8);
    if (!job->status)
        job->status = mt_conv2d(img, kern, NULL,
                                &(mt_conv2d_params){.kernel_layout = MT_KERNEL_HWIO,
                                                    .padding = MT_PADDING_SAME,
                                                    .activation = MT_ACTIVATION_RELU},
                                &conv);
    if (!job->status)
        job->status = mt_max_pool2d(conv, &(mt_pool2d_params){.pool_h = 2, .pool_w = 2},
                                   &pool);
    mt_tensor *all[] = {y, img, kern, conv, pool};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mt_tensor_free(all[i]);
    return NULL;
}

static void test_thread_exit_frees_scratch(void **state)
{
    (void)state;
    alloc_probe probe;
    assert_ok(mt_num_threads_set(1));   /* serial: pooled buffers stay out of it */
    probe_install(&probe, -1);
    operands o;
    operands_make(&o, 70, 90, 50, 42);
    mt_tensor *want = reference(&o);
    long live = probe.live;
    for (int i = 0; i < n_backends; i++) {
        assert_ok(mt_backend_set(backends[i]));
        exit_job job = {&o, want, MT_OK, false};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, run_every_op, &job), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
        if (job.status || !job.close || probe.live != live) {
            print_error("%s: %s, %s, %ld allocation(s) left by the thread\n",
                        mt_backend_name(backends[i]), mt_status_name(job.status),
                        job.close ? "close to naive" : "NOT close to naive",
                        probe.live - live);
            fail();
        }
    }
    assert_ok(mt_backend_set(MT_BACKEND_AUTO));
    mt_tensor_free(want);
    operands_free(&o);
    probe_remove();
}

/* ---- race: everything at once --------------------------------------------- */

enum { RACE_ROUNDS = 30, MATMUL_THREADS = 2, MODEL_THREADS = 2 };

static _Atomic bool stop_config;
static _Atomic int race_failures;

typedef struct model_job {
    const mt_safetensors *weights;
    const uint8_t *pixels;
    const float *want;   /* 100 x 10 TensorFlow logits */
} model_job;

static mt_status build_mnist(const mt_safetensors *w, mt_sequential **out)
{
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    mt_status s = mt_sequential_new(2, (int64_t[]){28, 28}, &m);
    if (!s && !(s = mt_flatten_new(1, -1, &l)))
        s = mt_sequential_add(m, l);
    if (!s && !(s = mt_linear_from_safetensors(w, "d1_w", "d1_b",
                    &(mt_linear_options){.act = MT_ACTIVATION_RELU}, &l)))
        s = mt_sequential_add(m, l);
    if (!s && !(s = mt_linear_from_safetensors(w, "d2_w", "d2_b", NULL, &l)))
        s = mt_sequential_add(m, l);
    if (s)
        mt_sequential_free(m);
    else
        *out = m;
    return s;
}

static void *forward_passes(void *arg)
{
    const model_job *job = arg;
    mt_sequential *m = NULL;
    float logits[100 * 10];
    if (build_mnist(job->weights, &m)) {
        race_failures++;
        return NULL;
    }
    for (int r = 0; r < RACE_ROUNDS; r++) {
        if (mt_sequential_forward_u8(m, job->pixels, 100, 1.0f / 255.0f, logits, 1000)) {
            race_failures++;
            break;
        }
        for (int i = 0; i < 1000; i++)
            if (!(fabsf(logits[i] - job->want[i]) <= 1e-4f + 1e-4f * fabsf(job->want[i]))) {
                race_failures++;
                break;
            }
    }
    mt_sequential_free(m);
    return NULL;
}

typedef struct matmul_job {
    const operands *o;
    const mt_tensor *want;
} matmul_job;

static void *matmuls(void *arg)
{
    const matmul_job *job = arg;
    for (int r = 0; r < RACE_ROUNDS; r++) {
        mt_tensor *y = NULL;
        if (mt_matmul_fused(job->o->a, job->o->b, job->o->bias, MT_ACTIVATION_RELU, &y)) {
            race_failures++;
            return NULL;
        }
        const float *got = y->data, *want = job->want->data;
        for (int64_t i = 0; i < mt_tensor_numel(y); i++)
            if (!(fabsf(got[i] - want[i]) <= 1e-4f + 1e-4f * fabsf(want[i]))) {
                race_failures++;
                break;
            }
        mt_tensor_free(y);
    }
    return NULL;
}

/* Cycles through every backend and 1..2 threads until told to stop. */
static void *configure(void *arg)
{
    (void)arg;
    for (unsigned i = 0; !stop_config; i++) {
        if (mt_backend_set(backends[i % (unsigned)n_backends]) ||
            mt_num_threads_set(1 + (int)(i / (unsigned)n_backends % 2)))
            race_failures++;
        (void)mt_backend_get();
        (void)mt_num_threads_get();
    }
    return NULL;
}

static void *read_file(const char *name, size_t want_bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", data_dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    void *buf = malloc(want_bytes);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, want_bytes, f), want_bytes);
    fclose(f);
    return buf;
}

static void test_race(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/mnist_mlp.safetensors", data_dir);
    mt_safetensors *weights = NULL;
    assert_ok(mt_safetensors_open(path, &weights));
    uint8_t *file = read_file("test-images-idx3-ubyte", 16 + 100 * 784);
    float *want_logits = read_file("test-logits.f32", 1000 * sizeof(float));   /* LE hosts */
    operands o;
    operands_make(&o, 40, 300, 70, 99);
    mt_tensor *want = reference(&o);

    stop_config = false;
    race_failures = 0;
    model_job mj = {weights, file + 16, want_logits};
    matmul_job xj = {&o, want};
    pthread_t model_th[MODEL_THREADS], matmul_th[MATMUL_THREADS], config_th;
    assert_int_equal(pthread_create(&config_th, NULL, configure, NULL), 0);
    for (int i = 0; i < MODEL_THREADS; i++)
        assert_int_equal(pthread_create(&model_th[i], NULL, forward_passes, &mj), 0);
    for (int i = 0; i < MATMUL_THREADS; i++)
        assert_int_equal(pthread_create(&matmul_th[i], NULL, matmuls, &xj), 0);
    for (int i = 0; i < MODEL_THREADS; i++)
        pthread_join(model_th[i], NULL);
    for (int i = 0; i < MATMUL_THREADS; i++)
        pthread_join(matmul_th[i], NULL);
    stop_config = true;
    pthread_join(config_th, NULL);
    assert_int_equal(race_failures, 0);

    assert_ok(mt_backend_set(MT_BACKEND_AUTO));
    mt_tensor_free(want);
    operands_free(&o);
    free(want_logits);
    free(file);
    mt_safetensors_close(weights);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "exit") && strcmp(argv[1], "race"))) {
        fprintf(stderr, "usage: test_threads exit|race DATA_DIR\n");
        return 2;
    }
    data_dir = argv[2];
    find_backends();
    const struct CMUnitTest exit_tests[] = {cmocka_unit_test(test_thread_exit_frees_scratch)};
    const struct CMUnitTest race_tests[] = {cmocka_unit_test(test_race)};
    return strcmp(argv[1], "exit") == 0
               ? cmocka_run_group_tests_name("thread exit", exit_tests, NULL, NULL)
               : cmocka_run_group_tests_name("threads at once", race_tests, NULL, NULL);
}
