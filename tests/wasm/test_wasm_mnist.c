/* test_wasm_mnist.c — the MNIST model on wasm32, from files read through
 * WASI (io/mapping.c's read fallback): TensorFlow's accuracy on the 1000
 * test digits and its logits within 1e-4, at batch 1 and batch 256.
 *
 *   test_wasm_mnist WEIGHTS IMAGES LABELS TF_LOGITS
 *
 * A plain exit-code program run under Node's WASI (exe_wrapper). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

enum { N = 1000, PIXELS = MNIST_SIDE * MNIST_SIDE, WANT_CORRECT = 957 };

/* The whole file if it has exactly `size` bytes after `skip` header bytes. */
static unsigned char *read_file(const char *path, long skip, size_t size)
{
    FILE *f = fopen(path, "rb");
    unsigned char *p = malloc(size);
    bool ok = f && p && fseek(f, skip, SEEK_SET) == 0 && fread(p, 1, size, f) == size &&
              fgetc(f) == EOF;
    if (f)
        fclose(f);
    if (!ok) {
        printf("FAIL %s: cannot read %zu bytes after %ld\n", path, size, skip);
        free(p);
        return NULL;
    }
    return p;
}

static int argmax(const float *row)
{
    int best = 0;
    for (int j = 1; j < MNIST_CLASSES; j++)
        if (row[j] > row[best])
            best = j;
    return best;
}

/* n images at a time through mnist_logits; compare with TensorFlow. */
static int check(mt_sequential *model, const unsigned char *images,
                 const unsigned char *labels, const float *tf, int64_t batch)
{
    static float logits[N * MNIST_CLASSES];
    for (int64_t i = 0; i < N; i += batch) {
        int64_t n = N - i < batch ? N - i : batch;
        if (mnist_logits(model, images + i * PIXELS, n, logits + i * MNIST_CLASSES)) {
            printf("FAIL batch %lld: %s\n", (long long)batch, mt_last_error());
            return 1;
        }
    }
    int correct = 0;
    double worst = 0;
    for (int i = 0; i < N; i++) {
        correct += argmax(logits + i * MNIST_CLASSES) == labels[i];
        for (int j = 0; j < MNIST_CLASSES; j++) {
            double d = fabs((double)logits[i * MNIST_CLASSES + j] - tf[i * MNIST_CLASSES + j]);
            if (!(d <= worst))
                worst = d;
        }
    }
    printf("batch %3lld: %d/%d correct, max |logit - TensorFlow| = %.3g\n",
           (long long)batch, correct, N, worst);
    int bad = 0;
    if (correct != WANT_CORRECT) {
        printf("FAIL batch %lld: %d correct, TensorFlow gets %d\n", (long long)batch,
               correct, WANT_CORRECT);
        bad = 1;
    }
    if (!(worst <= 1e-4)) {
        printf("FAIL batch %lld: logits differ from TensorFlow's by %g\n", (long long)batch,
               worst);
        bad = 1;
    }
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        printf("usage: test_wasm_mnist WEIGHTS IMAGES LABELS TF_LOGITS\n");
        return 2;
    }
    unsigned char *images = read_file(argv[2], 16, (size_t)N * PIXELS);
    unsigned char *labels = read_file(argv[3], 8, N);
    float *tf = (float *)read_file(argv[4], 0, (size_t)N * MNIST_CLASSES * sizeof(float));
    mt_safetensors *weights = NULL;
    mt_sequential *model = NULL;
    int rc = 1;
    if (!images || !labels || !tf)
        goto done;
    if (mt_safetensors_open(argv[1], &weights) || mnist_model_new(weights, true, &model)) {
        printf("FAIL model: %s\n", mt_last_error());
        goto done;
    }
    rc = check(model, images, labels, tf, 1) | check(model, images, labels, tf, 256);
done:
    mt_sequential_free(model);
    mt_safetensors_close(weights);
    free(images);
    free(labels);
    free(tf);
    return rc;
}
