/* bench_fashion_once.c — the Fashion CNN's forward pass, nothing else: for
 * instruction counts under callgrind, where bench_fashion's validation and
 * timed samples take minutes.
 *
 * usage: bench_fashion_once BATCH REPEATS WEIGHTS.safetensors
 *   MT_NATIVE_KERNEL=avx2 MT_NUM_THREADS=1 valgrind --tool=callgrind \
 *       --toggle-collect=fashion_logits bench_fashion_once 256 2 \
 *       examples/fashion/data/fashion_cnn.safetensors
 * Runs fashion_logits REPEATS times on BATCH synthetic images and prints the
 * sum of the first logits (so the work cannot be skipped).
 */
#include <stdio.h>
#include <stdlib.h>

#include "minitensor/minitensor.h"
#include "model.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_fashion_once BATCH REPEATS WEIGHTS.safetensors\n");
        return 2;
    }
    int64_t batch = atoll(argv[1]);
    int repeats = atoi(argv[2]);
    if (batch < 1 || repeats < 1) {
        fprintf(stderr, "bench_fashion_once: BATCH and REPEATS must be >= 1\n");
        return 2;
    }
    mt_safetensors *weights = NULL;
    mt_sequential *model = NULL;
    uint8_t *pixels = malloc((size_t)batch * FASHION_SIDE * FASHION_SIDE);
    float *logits = malloc((size_t)batch * FASHION_CLASSES * sizeof(float));
    int rc = 1;
    if (!pixels || !logits) {
        fprintf(stderr, "bench_fashion_once: out of memory\n");
        goto done;
    }
    if (mt_safetensors_open(argv[3], &weights) || fashion_model_new(weights, true, &model)) {
        fprintf(stderr, "bench_fashion_once: %s\n", mt_last_error());
        goto done;
    }
    for (int64_t i = 0; i < batch * FASHION_SIDE * FASHION_SIDE; i++)
        pixels[i] = (uint8_t)(i * 37 % 251);
    double sum = 0;
    for (int r = 0; r < repeats; r++) {
        if (fashion_logits(model, pixels, batch, logits)) {
            fprintf(stderr, "bench_fashion_once: %s\n", mt_last_error());
            goto done;
        }
        sum += logits[0];
    }
    printf("%g\n", sum);
    rc = 0;
done:
    mt_sequential_free(model);
    mt_safetensors_close(weights);
    free(pixels);
    free(logits);
    return rc;
}
