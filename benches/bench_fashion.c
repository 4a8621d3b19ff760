/* bench_fashion.c — the Fashion-MNIST CNN of examples/fashion, timed.
 *
 * usage: bench_fashion [--data DIR] [--threads N] [--samples N] [--batches 1,256]
 *                      [--layers] [--conv-compare] [--json FILE]
 *
 *   1. Validates: the model's logits on the 500 committed test images must
 *      be within 1e-4 of Keras' (DIR/test-logits.f32), or it exits 1.
 *   2. Throughput: images/s through mt_sequential_forward at batch 1 and
 *      256 (or the --batches given), after a warm-up pass; each sample
 *      repeats the call for >= 50 ms; the median of --samples (default 11)
 *      samples, with min and max.
 *   3. --layers: each layer's op alone at batch 256 (ms per batch, GFLOP/s).
 *   4. --conv-compare: the model's two convolutions as im2col + GEMM
 *      (mt_conv2d_into, what the library does) and as a direct convolution
 *      (direct_conv below, vectorised by the compiler for the best ISA the
 *      CPU has), each checked against the other before it is timed; batch 1
 *      and 256, one thread (the direct loop is serial), and im2col + GEMM
 *      with the --threads threads for reference.
 *   JSON with everything goes to --json FILE (benches/fashion_compare.py
 *   reads it) and the table to stdout.
 *
 * Uses only the public API and the example's model code. The machine is
 * often shared: medians, and look at min/max before trusting a figure.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_clock.h"
#include "dataset.h"
#include "minitensor/idx.h"
#include "minitensor/minitensor.h"
#include "model.h"

#ifndef FASHION_DATA_DIR
#define FASHION_DATA_DIR "examples/fashion/data"
#endif

/* ---- time ------------------------------------------------------------------ */

static double now(void) { return bench_seconds(CLOCK_MONOTONIC); }

enum { MAX_SAMPLES = 101, MAX_BATCHES = 16 };
static int n_samples = 11;

typedef struct timing {
    double median_s, min_s, max_s;   /* seconds per call */
} timing;

typedef mt_status (*bench_fn)(void *ctx);

/* Warm up, size the repeats so a sample lasts >= 50 ms, take the samples. */
static timing measure(bench_fn fn, void *ctx)
{
    double t0 = now();
    int reps = 0;
    while (reps < 1 || now() - t0 < 0.05) {   /* warm-up, and the call's cost */
        if (fn(ctx)) {
            fprintf(stderr, "bench_fashion: %s\n", mt_last_error());
            exit(1);
        }
        reps++;
    }
    double per_call = (now() - t0) / reps;
    reps = per_call >= 0.05 ? 1 : (int)(0.05 / per_call) + 1;
    double t[MAX_SAMPLES];
    for (int s = 0; s < n_samples; s++) {
        double start = now();
        for (int r = 0; r < reps; r++)
            if (fn(ctx)) {
                fprintf(stderr, "bench_fashion: %s\n", mt_last_error());
                exit(1);
            }
        t[s] = (now() - start) / reps;
    }
    qsort(t, (size_t)n_samples, sizeof t[0], bench_cmp_double);
    return (timing){t[n_samples / 2], t[0], t[n_samples - 1]};
}

/* ---- the machine --------------------------------------------------------------- */

static void cpu_model(char *buf, size_t size)
{
    snprintf(buf, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *v = strchr(line, ':');
            if (v) {
                v += 1 + (v[1] == ' ');
                v[strcspn(v, "\n")] = '\0';
                snprintf(buf, size, "%s", v);
            }
            break;
        }
    fclose(f);
}

/* ---- the data -------------------------------------------------------------------- */

typedef struct data {
    mt_safetensors *weights;
    mt_idx images, labels;
    float *keras;           /* 500×10 */
    int64_t n;
} data;

static float *read_f32(const char *path, size_t count)
{
    FILE *f = fopen(path, "rb");
    unsigned char *raw = malloc(count * 4);
    float *v = malloc(count * sizeof *v);
    bool ok = f && raw && v && fread(raw, 1, count * 4, f) == count * 4;
    if (f)
        fclose(f);
    for (size_t i = 0; ok && i < count; i++) {
        uint32_t u = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
                     (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
        memcpy(&v[i], &u, 4);
    }
    free(raw);
    if (!ok) {
        fprintf(stderr, "bench_fashion: cannot read %zu floats from %s\n", count, path);
        free(v);
        exit(1);
    }
    return v;
}

static void load(const char *dir, data *d)
{
    char path[1024];
    mt_status s;
    snprintf(path, sizeof path, "%s/fashion_cnn.safetensors", dir);
    if (!(s = mt_safetensors_open(path, &d->weights))) {
        snprintf(path, sizeof path, "%s/test-images-idx3-ubyte", dir);
        s = mt_idx_load(path, &d->images);
    }
    if (!s) {
        snprintf(path, sizeof path, "%s/test-labels-idx1-ubyte", dir);
        s = mt_idx_load(path, &d->labels);
    }
    if (!s)
        s = fashion_check_dataset(&d->images, "images", &d->labels, "labels");
    if (s) {
        fprintf(stderr, "bench_fashion: %s\n", mt_last_error());
        exit(1);
    }
    d->n = d->images.dim[0];
    snprintf(path, sizeof path, "%s/test-logits.f32", dir);
    d->keras = read_f32(path, (size_t)d->n * FASHION_CLASSES);
}

/* ---- throughput through the Sequential ------------------------------------------- */

typedef struct forward_ctx {
    mt_sequential *model;
    mt_tensor *x;       /* [batch,28,28,1] */
} forward_ctx;

static mt_status forward(void *p)
{
    forward_ctx *c = p;
    const mt_tensor *y;
    return mt_sequential_forward(c->model, c->x, &y);
}

/* ---- one layer at a time ------------------------------------------------------------ */

typedef enum op_kind { OP_CONV, OP_POOL, OP_DENSE } op_kind;

typedef struct op_ctx {
    op_kind kind;
    const mt_tensor *in, *w, *b;
    mt_conv2d_params conv;
    mt_pool2d_params pool;
    mt_activation act;
    mt_tensor *out;
} op_ctx;

static mt_status run_op(void *p)
{
    op_ctx *c = p;
    switch (c->kind) {
    case OP_CONV: return mt_conv2d_into(c->in, c->w, c->b, &c->conv, c->out);
    case OP_POOL: return mt_max_pool2d_into(c->in, &c->pool, c->out);
    default:      return mt_matmul_fused_into(c->in, c->w, c->b, c->act, c->out);
    }
}

/* ---- a direct convolution (the alternative to im2col + GEMM) ------------------------
 * NHWC input, HWIO kernel, stride 1, valid padding, bias and ReLU fused:
 * for each run of PX output pixels of a row, accumulate over the kernel taps
 * and input channels into PX × cout registers, the cout loop contiguous in
 * the kernel (vectorised). No patch matrix: the input is read in place. */
enum { PX = 4, MAX_COUT = 64 };

typedef struct conv_shape {
    int64_t n, h, w, cin, kh, kw, cout;
} conv_shape;

static inline __attribute__((always_inline)) void direct_body(const conv_shape *g,
                                                              const float *x,
                                                              const float *k,
                                                              const float *bias, float *y,
                                                              const int cout)
{
    const int64_t oh = g->h - g->kh + 1, ow = g->w - g->kw + 1, cin = g->cin;
    for (int64_t img = 0; img < g->n; img++)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox0 = 0; ox0 < ow; ox0 += PX) {
                const int np = ow - ox0 < PX ? (int)(ow - ox0) : PX;
                float acc[PX][MAX_COUT];
                for (int p = 0; p < PX; p++)
                    for (int o = 0; o < cout; o++)
                        acc[p][o] = bias[o];
                for (int64_t i = 0; i < g->kh; i++)
                    for (int64_t j = 0; j < g->kw; j++) {
                        const float *kk = k + (i * g->kw + j) * cin * cout;
                        const float *px = x + ((img * g->h + oy + i) * g->w + ox0 + j) * cin;
                        for (int64_t c = 0; c < cin; c++) {
                            const float *kr = kk + c * cout;
                            for (int p = 0; p < PX; p++) {
                                /* past the row's end: recompute the last pixel */
                                float v = px[(p < np ? p : np - 1) * cin + c];
                                for (int o = 0; o < cout; o++)
                                    acc[p][o] += v * kr[o];
                            }
                        }
                    }
                float *out = y + ((img * oh + oy) * ow + ox0) * cout;
                for (int p = 0; p < np; p++)
                    for (int o = 0; o < cout; o++)
                        out[p * cout + o] = acc[p][o] > 0.0f ? acc[p][o] : 0.0f;
            }
}

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86_TARGETS 1
__attribute__((target("avx512f,avx512vl,fma"))) static void
direct_avx512(const conv_shape *g, const float *x, const float *k, const float *b, float *y)
{
    if (g->cout == 32)
        direct_body(g, x, k, b, y, 32);
    else
        direct_body(g, x, k, b, y, 64);
}

__attribute__((target("avx2,fma"))) static void
direct_avx2(const conv_shape *g, const float *x, const float *k, const float *b, float *y)
{
    if (g->cout == 32)
        direct_body(g, x, k, b, y, 32);
    else
        direct_body(g, x, k, b, y, 64);
}
#endif

static void direct_plain(const conv_shape *g, const float *x, const float *k, const float *b,
                         float *y)
{
    if (g->cout == 32)
        direct_body(g, x, k, b, y, 32);
    else
        direct_body(g, x, k, b, y, 64);
}

static const char *direct_isa = "baseline";

static void direct_conv(const conv_shape *g, const float *x, const float *k, const float *b,
                        float *y)
{
#ifdef HAVE_X86_TARGETS
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) {
        direct_isa = "avx512";
        direct_avx512(g, x, k, b, y);
        return;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        direct_isa = "avx2+fma";
        direct_avx2(g, x, k, b, y);
        return;
    }
#endif
    direct_plain(g, x, k, b, y);
}

typedef struct direct_ctx {
    conv_shape g;
    const float *x, *k, *b;
    float *y;
} direct_ctx;

static mt_status run_direct(void *p)
{
    direct_ctx *c = p;
    direct_conv(&c->g, c->x, c->k, c->b, c->y);
    return MT_OK;
}

/* ---- helpers -------------------------------------------------------------------------- */

static mt_tensor *zeros(int rank, const int64_t *shape)
{
    mt_tensor *t = NULL;
    if (mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t)) {
        fprintf(stderr, "bench_fashion: %s\n", mt_last_error());
        exit(1);
    }
    return t;
}

static mt_tensor *weight(const data *d, const char *name)
{
    mt_tensor *t = NULL;
    if (mt_safetensors_get(d->weights, name, &t)) {
        fprintf(stderr, "bench_fashion: %s\n", mt_last_error());
        exit(1);
    }
    return t;
}

/* Random-ish input in 0..1 for a layer (the benchmark needs no meaning). */
static mt_tensor *ramp(int rank, const int64_t *shape)
{
    mt_tensor *t = zeros(rank, shape);
    float *v = t->data;
    for (int64_t i = 0; i < mt_tensor_numel(t); i++)
        v[i] = (float)((i * 7919) % 1000) / 1000.0f;
    return t;
}

/* ---- main ---------------------------------------------------------------------------- */

typedef struct layer_row {
    const char *name;
    double ms, gflops;
} layer_row;

typedef struct conv_row {
    const char *layer;
    int64_t batch;
    double im2col_1t_us, direct_1t_us, im2col_nt_us;   /* per image */
    double gflop_per_image;
} conv_row;

int main(int argc, char **argv)
{
    const char *dir = FASHION_DATA_DIR, *json_path = NULL;
    int64_t batches[MAX_BATCHES] = {1, 256};
    int n_batches = 2;
    bool layers = false, conv_compare = false;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json_path = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--samples") && i + 1 < argc)
            n_samples = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batches") && i + 1 < argc) {
            char *p = argv[++i];
            for (n_batches = 0; *p && n_batches < MAX_BATCHES; n_batches++) {
                batches[n_batches] = strtoll(p, &p, 10);
                if (batches[n_batches] < 1 || (*p && *p++ != ',')) {
                    fprintf(stderr, "bench_fashion: --batches wants sizes like 1,16,256\n");
                    return 2;
                }
            }
        }
        else if (!strcmp(argv[i], "--layers"))
            layers = true;
        else if (!strcmp(argv[i], "--conv-compare"))
            conv_compare = true;
        else {
            fprintf(stderr, "usage: bench_fashion [--data DIR] [--threads N] [--samples N] "
                            "[--batches 1,256] [--layers] [--conv-compare] [--json FILE]\n");
            return 2;
        }
    }
    if (n_samples < 1 || n_samples > MAX_SAMPLES)
        n_samples = 11;
    if (threads > 0 && mt_num_threads_set(threads)) {
        fprintf(stderr, "bench_fashion: %s\n", mt_last_error());
        return 2;
    }
    threads = mt_num_threads_get();
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("machine: %s, %ld cores online; backend %s; %d threads; median of %d samples\n",
           cpu, cores, mt_backend_describe(mt_backend_get()), threads, n_samples);

    data d = {0};
    load(dir, &d);
    mt_sequential *model = NULL;
    if (fashion_model_new(d.weights, true, &model)) {
        fprintf(stderr, "bench_fashion: %s\n", mt_last_error());
        return 1;
    }

    /* 1. validate */
    float *logits = malloc((size_t)d.n * FASHION_CLASSES * sizeof *logits);
    if (!logits || fashion_logits(model, d.images.data, d.n, logits)) {
        fprintf(stderr, "bench_fashion: %s\n", logits ? mt_last_error() : "out of memory");
        return 1;
    }
    double worst = 0;
    for (int64_t i = 0; i < d.n * FASHION_CLASSES; i++)
        worst = fmax(worst, fabs((double)logits[i] - (double)d.keras[i]));
    fashion_score score;
    fashion_score_logits(logits, d.labels.data, d.n, &score);
    printf("validation: max |logit - Keras| = %.3g over %lld images (limit 1e-4), "
           "accuracy %.4f\n", worst, (long long)d.n, (double)score.correct / (double)d.n);
    free(logits);
    if (!(worst <= 1e-4)) {
        fprintf(stderr, "bench_fashion: logits differ from Keras' by %g\n", worst);
        return 1;
    }

    /* 2. throughput */
    timing tp[MAX_BATCHES];
    printf("\n%-8s %14s %14s %14s %12s\n", "batch", "images/s", "min", "max", "µs/image");
    for (int b = 0; b < n_batches; b++) {
        int64_t n = batches[b];
        forward_ctx c = {model, NULL};
        mt_tensor *x = zeros(4, (int64_t[]){n, 28, 28, 1});
        for (int64_t i = 0; i < n; i++) {   /* the slice's images, repeated */
            mt_tensor row;
            if (mt_narrow_into(x, 0, i, 1, &row) ||
                mt_tensor_from_u8_into(d.images.data + (i % d.n) * 784, 1.0f / 255.0f, &row))
                return 1;
        }
        c.x = x;
        tp[b] = measure(forward, &c);
        double nd = (double)n;
        printf("%-8lld %14.0f %14.0f %14.0f %12.1f\n", (long long)n, nd / tp[b].median_s,
               nd / tp[b].max_s, nd / tp[b].min_s, tp[b].median_s / nd * 1e6);
        mt_tensor_free(x);
    }

    /* 3. layer by layer at batch 256 */
    mt_tensor *w[8];
    static const char *keys[8] = {"conv1_w", "conv1_b", "conv2_w", "conv2_b",
                                  "d1_w", "d1_b", "d2_w", "d2_b"};
    for (int i = 0; i < 8; i++)
        w[i] = weight(&d, keys[i]);
    layer_row lrows[6];
    int n_lrows = 0;
    if (layers) {
        const int64_t n = 256;
        mt_tensor *x = ramp(4, (int64_t[]){n, 28, 28, 1});
        mt_tensor *h1 = zeros(4, (int64_t[]){n, 26, 26, 32});
        mt_tensor *p1 = zeros(4, (int64_t[]){n, 13, 13, 32});
        mt_tensor *h2 = zeros(4, (int64_t[]){n, 11, 11, 64});
        mt_tensor *p2 = zeros(4, (int64_t[]){n, 5, 5, 64});
        mt_tensor *f = ramp(2, (int64_t[]){n, 1600});
        mt_tensor *d1 = zeros(2, (int64_t[]){n, 128}), *d2 = zeros(2, (int64_t[]){n, 10});
        const mt_conv2d_params conv = {.stride_h = 1, .stride_w = 1,
                                       .activation = MT_ACTIVATION_RELU};
        const mt_pool2d_params pool = {.pool_h = 2, .pool_w = 2};
        op_ctx ops[6] = {
            {OP_CONV, x, w[0], w[1], conv, pool, 0, h1},
            {OP_POOL, h1, NULL, NULL, conv, pool, 0, p1},
            {OP_CONV, p1, w[2], w[3], conv, pool, 0, h2},
            {OP_POOL, h2, NULL, NULL, conv, pool, 0, p2},
            {OP_DENSE, f, w[4], w[5], conv, pool, MT_ACTIVATION_RELU, d1},
            {OP_DENSE, d1, w[6], w[7], conv, pool, MT_ACTIVATION_NONE, d2},
        };
        static const char *names[6] = {"conv1 3x3 1->32", "maxpool 2x2", "conv2 3x3 32->64",
                                       "maxpool 2x2", "dense 1600->128", "dense 128->10"};
        const double flops[6] = {2.0 * 26 * 26 * 9 * 32, 0, 2.0 * 11 * 11 * 288 * 64, 0,
                                 2.0 * 1600 * 128, 2.0 * 128 * 10};
        printf("\nlayers at batch %lld:\n%-18s %10s %8s %10s\n", (long long)n, "layer",
               "ms/batch", "share", "GFLOP/s");
        double total = 0;
        for (int i = 0; i < 6; i++) {
            timing t = measure(run_op, &ops[i]);
            lrows[n_lrows++] = (layer_row){names[i], t.median_s * 1e3,
                                           flops[i] * (double)n / t.median_s / 1e9};
            total += t.median_s * 1e3;
        }
        for (int i = 0; i < n_lrows; i++)
            printf("%-18s %10.3f %7.1f%% %10.1f\n", lrows[i].name, lrows[i].ms,
                   100 * lrows[i].ms / total, lrows[i].gflops);
        mt_tensor *all[] = {x, h1, p1, h2, p2, f, d1, d2};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            mt_tensor_free(all[i]);
    }

    /* 4. im2col + GEMM against a direct convolution */
    conv_row crows[4];
    int n_crows = 0;
    if (conv_compare) {
        printf("\nconvolutions, µs per image (im2col+GEMM is mt_conv2d_into):\n"
               "%-18s %6s %14s %14s %8s %16s\n", "layer", "batch", "im2col 1 thr",
               "direct 1 thr", "ratio", "im2col threads");
        for (int layer = 0; layer < 2; layer++)
            for (int b = 0; b < 2; b++) {
                int64_t n = b ? 256 : 1;
                conv_shape g = layer == 0 ? (conv_shape){n, 28, 28, 1, 3, 3, 32}
                                          : (conv_shape){n, 13, 13, 32, 3, 3, 64};
                int64_t oh = g.h - 2, ow = g.w - 2;
                mt_tensor *x = ramp(4, (int64_t[]){n, g.h, g.w, g.cin});
                mt_tensor *y1 = zeros(4, (int64_t[]){n, oh, ow, g.cout});
                mt_tensor *y2 = zeros(4, (int64_t[]){n, oh, ow, g.cout});
                const mt_tensor *k = w[2 * layer], *bias = w[2 * layer + 1];
                op_ctx im = {OP_CONV, x, k, bias,
                             {.stride_h = 1, .stride_w = 1, .activation = MT_ACTIVATION_RELU},
                             {0}, 0, y1};
                direct_ctx dc = {g, x->data, k->data, bias->data, y2->data};
                /* the same results first (different summation orders) */
                if (run_op(&im))
                    return 1;
                run_direct(&dc);
                const float *a = y1->data, *c = y2->data;
                double err = 0;
                for (int64_t i = 0; i < mt_tensor_numel(y1); i++)
                    err = fmax(err, fabs((double)a[i] - c[i]) / (1.0 + fabs((double)a[i])));
                if (!(err <= 1e-5)) {
                    fprintf(stderr, "bench_fashion: direct conv differs by %g\n", err);
                    return 1;
                }
                mt_num_threads_set(1);
                timing ti = measure(run_op, &im), td = measure(run_direct, &dc);
                mt_num_threads_set(threads);
                timing tn = measure(run_op, &im);
                conv_row r = {layer ? "conv2 3x3 32->64" : "conv1 3x3 1->32", n,
                              ti.median_s / (double)n * 1e6, td.median_s / (double)n * 1e6,
                              tn.median_s / (double)n * 1e6,
                              2.0 * (double)(oh * ow * g.kh * g.kw * g.cin * g.cout) / 1e9};
                crows[n_crows++] = r;
                printf("%-18s %6lld %14.2f %14.2f %7.2fx %16.2f\n", r.layer, (long long)n,
                       r.im2col_1t_us, r.direct_1t_us, r.direct_1t_us / r.im2col_1t_us,
                       r.im2col_nt_us);
                mt_tensor_free(x);
                mt_tensor_free(y1);
                mt_tensor_free(y2);
            }
        printf("(direct conv compiled for %s; ratio > 1: im2col+GEMM is faster)\n",
               direct_isa);
    }

    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (!f) {
            perror(json_path);
            return 1;
        }
        fprintf(f, "{\n  \"machine\": {\"cpu\": \"%s\", \"cores\": %ld},\n", cpu, cores);
        fprintf(f, "  \"backend\": \"%s\", \"threads\": %d, \"samples\": %d,\n",
                mt_backend_describe(mt_backend_get()), threads, n_samples);
        fprintf(f, "  \"validation\": {\"max_abs_diff_vs_keras\": %.6g, \"images\": %lld, "
                   "\"accuracy\": %.6g},\n", worst, (long long)d.n,
                (double)score.correct / (double)d.n);
        fprintf(f, "  \"throughput\": [");
        for (int b = 0; b < n_batches; b++)
            fprintf(f, "%s\n    {\"batch\": %lld, \"images_per_s\": %.1f, \"min\": %.1f, "
                       "\"max\": %.1f, \"us_per_image\": %.3f}", b ? "," : "",
                    (long long)batches[b], (double)batches[b] / tp[b].median_s,
                    (double)batches[b] / tp[b].max_s, (double)batches[b] / tp[b].min_s,
                    tp[b].median_s / (double)batches[b] * 1e6);
        fprintf(f, "\n  ],\n  \"layers_batch256\": [");
        for (int i = 0; i < n_lrows; i++)
            fprintf(f, "%s\n    {\"layer\": \"%s\", \"ms\": %.4f, \"gflops\": %.2f}",
                    i ? "," : "", lrows[i].name, lrows[i].ms, lrows[i].gflops);
        fprintf(f, "\n  ],\n  \"conv_compare\": [");
        for (int i = 0; i < n_crows; i++) {
            const conv_row *r = &crows[i];
            fprintf(f, "%s\n    {\"layer\": \"%s\", \"batch\": %lld, "
                       "\"im2col_gemm_1thread_us\": %.3f, \"direct_1thread_us\": %.3f, "
                       "\"im2col_gemm_threads_us\": %.3f, \"gflop_per_image\": %.6f, "
                       "\"direct_isa\": \"%s\"}", i ? "," : "", r->layer,
                    (long long)r->batch, r->im2col_1t_us, r->direct_1t_us, r->im2col_nt_us,
                    r->gflop_per_image, direct_isa);
        }
        fprintf(f, "\n  ]\n}\n");
        if (fclose(f) != 0) {
            perror(json_path);
            return 1;
        }
    }

    for (int i = 0; i < 8; i++)
        mt_tensor_free(w[i]);
    mt_sequential_free(model);
    free(d.keras);
    mt_idx_free(&d.labels);
    mt_idx_free(&d.images);
    mt_safetensors_close(d.weights);
    return 0;
}
