/* bench_mnist.c — the MNIST MLP end to end, per backend and thread count.
 *
 * usage: bench_mnist [out.json] [--repeats N] [--backend NAME] [--threads N]
 *                    [--cpu-time]
 *
 * Loads examples/mnist/data (weights, the 1000 held-out digits and
 * TensorFlow's logits for them), checks every backend's logits against
 * TensorFlow's (max |diff| <= 1e-4) before timing, then measures
 *   - batch 1:   µs per image, forwarding the digits one at a time;
 *   - batch 256: images/s, forwarding batches of 256;
 * each as the median over repeats. Prints a table and writes JSON
 * (default bench-mnist.json). --backend and --threads measure only that
 * backend / thread count (for callgrind). Only the public API and the
 * example's model code are used: this is what an application sees.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_clock.h"
#include "minitensor/minitensor.h"
#include "model.h"

#define N_DIGITS 1000
#define BATCH 256

static bool use_cpu_time;

/* Wall time, or with --cpu-time the process's CPU time: on a loaded machine
 * time spent preempted then does not count (at one thread it is the
 * forward's own time; at two it is the sum over both threads). */
static double now(void)
{
    return bench_seconds(use_cpu_time ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC);
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_mnist: %s: %s\n", what, mt_last_error());
    return 1;
}

/* Logits of all digits at batch 256 against TensorFlow's. */
static double max_logit_diff(mt_sequential *model, const uint8_t *px, const float *ref)
{
    static float logits[N_DIGITS * MNIST_CLASSES];
    if (mnist_logits(model, px, N_DIGITS, logits))
        return INFINITY;
    double worst = 0;
    for (int i = 0; i < N_DIGITS * MNIST_CLASSES; i++)
        worst = fmax(worst, fabs((double)logits[i] - ref[i]));
    return worst;
}

/* µs per image at batch 1 (median of repeats over all digits). */
static double time_batch1(mt_sequential *model, const uint8_t *px, int repeats)
{
    mt_tensor *x = NULL;
    double samples[64];
    if (mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){1, MNIST_SIDE, MNIST_SIDE}, &x))
        return NAN;
    for (int r = -1; r < repeats; r++) {   /* r = -1 warms up */
        double t0 = now();
        for (int i = 0; i < N_DIGITS; i++) {
            const mt_tensor *y;
            if (mt_tensor_from_u8_into(px + i * MNIST_SIDE * MNIST_SIDE, 1.0f / 255, x) ||
                mt_sequential_forward(model, x, &y)) {
                mt_tensor_free(x);
                return NAN;
            }
        }
        if (r >= 0)
            samples[r] = (now() - t0) / N_DIGITS * 1e6;
    }
    mt_tensor_free(x);
    return bench_median(samples, repeats);
}

/* images/s at batch 256 (median of repeats over 3 full batches). */
static double time_batch256(mt_sequential *model, const uint8_t *px, int repeats)
{
    enum { BATCHES = N_DIGITS / BATCH };
    mt_tensor *x[BATCHES] = {NULL};
    double samples[64];
    double result = NAN;
    for (int b = 0; b < BATCHES; b++)
        if (mt_tensor_from_u8(3, (int64_t[]){BATCH, MNIST_SIDE, MNIST_SIDE},
                              px + b * BATCH * MNIST_SIDE * MNIST_SIDE, 1.0f / 255, &x[b]))
            goto done;
    for (int r = -1; r < repeats; r++) {
        double t0 = now();
        for (int rep = 0; rep < 10; rep++)
            for (int b = 0; b < BATCHES; b++) {
                const mt_tensor *y;
                if (mt_sequential_forward(model, x[b], &y))
                    goto done;
            }
        if (r >= 0)
            samples[r] = 10.0 * BATCHES * BATCH / (now() - t0);
    }
    result = bench_median(samples, repeats);
done:
    for (int b = 0; b < BATCHES; b++)
        mt_tensor_free(x[b]);
    return result;
}

int main(int argc, char **argv)
{
    const char *out_path = "bench-mnist.json";
    int repeats = 15, only_threads = 0;
    const char *only_backend = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeats") && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc)
            only_backend = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            only_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cpu-time"))
            use_cpu_time = true;
        else if (argv[i][0] != '-')
            out_path = argv[i];
        else {
            fprintf(stderr, "usage: bench_mnist [out.json] [--repeats N] [--backend NAME] "
                            "[--threads N] [--cpu-time]\n");
            return 2;
        }
    }
    if (repeats < 1 || repeats > 64)
        repeats = 15;
    mt_safetensors *w = NULL;
    mt_idx images = {0};
    mt_sequential *model = NULL;
    FILE *json = NULL;
    int rc = 1;
    if (mt_safetensors_open(MNIST_DATA_DIR "/mnist_mlp.safetensors", &w))
        return fail("weights");
    if (mt_idx_load(MNIST_DATA_DIR "/test-images-idx3-ubyte", &images) ||
        images.dim[0] < N_DIGITS) {
        fail("test images");
        goto done;
    }
    /* TensorFlow's logits: N x 10 little-endian float32 */
    FILE *f = fopen(MNIST_DATA_DIR "/test-logits.f32", "rb");
    static float ref_logits[N_DIGITS * MNIST_CLASSES];
    if (!f || fread(ref_logits, sizeof(float), N_DIGITS * MNIST_CLASSES, f) !=
                  N_DIGITS * MNIST_CLASSES) {
        fprintf(stderr, "bench_mnist: cannot read test-logits.f32\n");
        if (f)
            fclose(f);
        goto done;
    }
    fclose(f);
    if (mnist_model_new(w, true, &model)) {
        fail("model");
        goto done;
    }
    if (!(json = fopen(out_path, "w"))) {
        fprintf(stderr, "bench_mnist: cannot write %s\n", out_path);
        goto done;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("MNIST MLP 784-128(relu)-10, %d held-out digits, %ld cores, median of %d\n\n",
           N_DIGITS, cores, repeats);
    printf("%-9s %7s %14s %16s %14s\n", "backend", "threads", "batch 1 µs/img",
           "batch 256 img/s", "max |Δ| vs TF");
    fprintf(json, "{\n  \"benchmark\": \"mnist\",\n  \"cores\": %ld,\n  \"repeats\": %d,\n"
                  "  \"results\": [", cores, repeats);
    const char *sep = "";
    for (int be = MT_BACKEND_NAIVE; be < MT_BACKEND_COUNT; be++) {
        if (!mt_backend_available((mt_backend)be) || mt_backend_set((mt_backend)be) ||
            (only_backend && strcmp(only_backend, mt_backend_name((mt_backend)be))))
            continue;
        for (int threads = 1; threads <= cores && threads <= 8; threads++) {
            if (mt_num_threads_set(threads) || (be == MT_BACKEND_NAIVE && threads > 1) ||
                (only_threads && threads != only_threads))
                continue;
            double diff = max_logit_diff(model, images.data, ref_logits);
            if (!(diff <= 1e-4)) {
                fprintf(stderr, "bench_mnist: %s: logits differ from TensorFlow by %g\n",
                        mt_backend_name((mt_backend)be), diff);
                goto done;
            }
            double us = time_batch1(model, images.data, repeats);
            double ips = time_batch256(model, images.data, repeats);
            printf("%-9s %7d %14.2f %16.0f %14.2e\n", mt_backend_name((mt_backend)be),
                   threads, us, ips, diff);
            fprintf(json, "%s\n    {\"backend\": \"%s\", \"threads\": %d, "
                          "\"batch1_us_per_image\": %.3f, \"batch256_images_per_s\": %.0f, "
                          "\"max_abs_diff_vs_tensorflow\": %.3g}",
                    sep, mt_backend_name((mt_backend)be), threads, us, ips, diff);
            sep = ",";
        }
    }
    fprintf(json, "\n  ]\n}\n");
    printf("\nJSON: %s\n", out_path);
    rc = 0;
done:
    if (json)
        fclose(json);
    mt_sequential_free(model);
    mt_idx_free(&images);
    mt_safetensors_close(w);
    return rc;
}
