/* test_fashion.c — the ported Keras Fashion-MNIST CNN against TensorFlow:
 * logits within 1e-4 of Keras' on every image of the committed slice, the
 * same predictions and accuracy, a port without the conv ReLU caught by the
 * tolerance, no heap allocation after the first pass, and the accuracy on
 * the full 10,000-image test set from Debian's gzip-compressed files.
 * Uses the example's own model and scoring (examples/fashion/).
 *
 *   test_fashion reference       the comparisons on the committed slice
 *   test_fashion no-alloc        the allocation check
 *   test_fashion full [DIR]      the full test set in DIR (default
 *                                /usr/share/datasets/fashion-mnist); fails
 *                                if it is missing (scripts/test.sh installs
 *                                it), exit 77 (skip) if this build was
 *                                configured without gzip */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataset.h"
#include "minitensor/idx.h"
#include "model.h"

#define TOLERANCE 1e-4    /* absolute, on logits of magnitude up to ~26 */
#define DEBIAN_DIR "/usr/share/datasets/fashion-mnist"

static size_t n_allocs;

static void *counting_alloc(size_t size, size_t align, void *user)
{
    (void)user;
    n_allocs++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void counting_free(void *p, void *user)
{
    (void)user;
    free(p);
}

/* ---- the committed reference data ------------------------------------------------ */

typedef struct reference {
    mt_safetensors *weights;
    mt_idx images, labels;
    int64_t n;
    float *tf_logits;      /* Keras' model(x, training=False), n×10 */
} reference;

/* n×10 little-endian float32 from `path`. */
static float *read_logits(const char *path, int64_t n)
{
    size_t count = (size_t)n * FASHION_CLASSES;
    unsigned char *raw = malloc(count * 4 + 1);
    float *v = malloc(count * sizeof *v);
    assert_non_null(raw);
    assert_non_null(v);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(raw, 1, count * 4 + 1, f), count * 4);
    fclose(f);
    for (size_t i = 0; i < count; i++) {
        const unsigned char *b = raw + 4 * i;
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24;
        memcpy(&v[i], &u, 4);
    }
    free(raw);
    return v;
}

static int load_reference(void **state)
{
    reference *r = calloc(1, sizeof *r);
    assert_non_null(r);
    assert_int_equal(mt_safetensors_open(FASHION_DATA_DIR "/fashion_cnn.safetensors",
                                         &r->weights), MT_OK);
    assert_int_equal(mt_idx_load(FASHION_DATA_DIR "/test-images-idx3-ubyte", &r->images),
                     MT_OK);
    assert_int_equal(mt_idx_load(FASHION_DATA_DIR "/test-labels-idx1-ubyte", &r->labels),
                     MT_OK);
    assert_int_equal(fashion_check_dataset(&r->images, "images", &r->labels, "labels"),
                     MT_OK);
    r->n = r->images.dim[0];
    r->tf_logits = read_logits(FASHION_DATA_DIR "/test-logits.f32", r->n);
    *state = r;
    return 0;
}

static int free_reference(void **state)
{
    reference *r = *state;
    free(r->tf_logits);
    mt_idx_free(&r->labels);
    mt_idx_free(&r->images);
    mt_safetensors_close(r->weights);
    free(r);
    return 0;
}

/* Logits of `model` on the first n slice images (caller frees). */
static float *some_logits(mt_sequential *model, const reference *r, int64_t n)
{
    float *logits = malloc((size_t)n * FASHION_CLASSES * sizeof *logits);
    assert_non_null(logits);
    assert_int_equal(fashion_logits(model, r->images.data, n, logits), MT_OK);
    return logits;
}

static double max_abs_diff(const float *a, const float *b, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        worst = d > worst || isnan(d) ? d : worst;
    }
    return worst;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void logits_match_keras_model(reference *r, bool frozen)
{
    mt_sequential *model = NULL;
    assert_int_equal(fashion_model_new(r->weights, frozen, &model), MT_OK);
    float *logits = some_logits(model, r, r->n);

    double diff = max_abs_diff(logits, r->tf_logits, r->n * FASHION_CLASSES);
    fashion_score ours, tf;
    fashion_score_logits(logits, r->labels.data, r->n, &ours);
    fashion_score_logits(r->tf_logits, r->labels.data, r->n, &tf);
    double accuracy = (double)ours.correct / (double)r->n;
    print_message("max |logit - Keras| = %.3g over %lld images (tolerance %g)\n", diff,
                  (long long)r->n, TOLERANCE);
    print_message("accuracy %.4f (%lld/%lld); Keras' logits give %.4f\n", accuracy,
                  (long long)ours.correct, (long long)r->n, (double)tf.correct / (double)r->n);
    assert_true(diff <= TOLERANCE);
    assert_int_equal(ours.correct, tf.correct);
    assert_int_equal(ours.correct, 455);   /* reference.json: accuracy_slice 0.910 */
    for (int64_t i = 0; i < r->n; i++)     /* every prediction, not just the count */
        assert_int_equal(fashion_argmax(logits + i * FASHION_CLASSES),
                         fashion_argmax(r->tf_logits + i * FASHION_CLASSES));
    /* one image at a time: the frozen conv2 runs Winograd at batch 1 too */
    for (int64_t i = 0; i < 20; i++) {
        float one[FASHION_CLASSES];
        assert_int_equal(fashion_logits(model, r->images.data + i * 28 * 28, 1, one), MT_OK);
        assert_true(max_abs_diff(one, r->tf_logits + i * FASHION_CLASSES, FASHION_CLASSES) <=
                    TOLERANCE);
    }
    free(logits);
    mt_sequential_free(model);
}

/* The frozen model (the demo's and eval's) and the unfrozen one (predict's)
 * against the same references. */
static void logits_match_keras(void **state)
{
    logits_match_keras_model(*state, false);
    logits_match_keras_model(*state, true);
}

/* A port that forgets Conv2D(activation='relu') on the first conv: the
 * tolerance must catch it. */
static void missing_conv_relu_is_caught(void **state)
{
    reference *r = *state;
    mt_sequential *model = NULL;
    mt_layer *l = NULL;
    assert_int_equal(mt_sequential_new(3, (int64_t[]){28, 28, 1}, &model), MT_OK);
    assert_int_equal(mt_conv2d_from_safetensors(r->weights, "conv1_w", "conv1_b", NULL, &l),
                     MT_OK);
    assert_int_equal(mt_sequential_add(model, l), MT_OK);
    const mt_max_pool2d_options pool = {.pool_h = 2, .pool_w = 2};
    assert_int_equal(mt_max_pool2d_new(&pool, &l), MT_OK);
    assert_int_equal(mt_sequential_add(model, l), MT_OK);
    assert_int_equal(mt_conv2d_from_safetensors(r->weights, "conv2_w", "conv2_b",
                                                &(mt_conv2d_options){.act = MT_ACTIVATION_RELU},
                                                &l), MT_OK);
    assert_int_equal(mt_sequential_add(model, l), MT_OK);
    assert_int_equal(mt_max_pool2d_new(&pool, &l), MT_OK);
    assert_int_equal(mt_sequential_add(model, l), MT_OK);
    assert_int_equal(mt_flatten_new(1, -1, &l), MT_OK);
    assert_int_equal(mt_sequential_add(model, l), MT_OK);
    assert_int_equal(mt_linear_from_safetensors(r->weights, "d1_w", "d1_b",
                                                &(mt_linear_options){.act = MT_ACTIVATION_RELU},
                                                &l), MT_OK);
    assert_int_equal(mt_sequential_add(model, l), MT_OK);
    assert_int_equal(mt_linear_from_safetensors(r->weights, "d2_w", "d2_b", NULL, &l), MT_OK);
    assert_int_equal(mt_sequential_add(model, l), MT_OK);
    float *logits = some_logits(model, r, 50);   /* enough to see it */
    double diff = max_abs_diff(logits, r->tf_logits, 50 * FASHION_CLASSES);
    print_message("without the first ReLU: max |logit - Keras| = %.3g\n", diff);
    assert_true(diff > 100 * TOLERANCE);
    free(logits);
    mt_sequential_free(model);
}

/* The whole stack (layers, conv patches, matmul backend, its threads) with
 * the default thread count: one pass per batch size to size everything,
 * then passes with those batch sizes allocate nothing. */
static void forward_allocates_nothing_after_the_first_pass(void **state)
{
    reference *r = *state;
    mt_sequential *model = NULL;
    assert_int_equal(fashion_model_new(r->weights, true, &model), MT_OK);
    mt_tensor *x = NULL;   /* 40 images: more than one chunk of conv patches */
    assert_int_equal(mt_tensor_from_u8(4, (int64_t[]){40, 28, 28, 1}, r->images.data,
                                       1.0f / 255.0f, &x), MT_OK);
    mt_tensor one;
    assert_int_equal(mt_narrow_into(x, 0, 9, 1, &one), MT_OK);
    const mt_tensor *y = NULL;
    assert_int_equal(mt_sequential_forward(model, x, &y), MT_OK);
    assert_int_equal(mt_sequential_forward(model, &one, &y), MT_OK);
    size_t before = n_allocs;
    for (int rep = 0; rep < 3; rep++) {
        assert_int_equal(mt_sequential_forward(model, x, &y), MT_OK);
        assert_int_equal(mt_sequential_forward(model, &one, &y), MT_OK);
    }
    if (n_allocs != before)
        fail_msg("%zu heap allocations in 6 passes after the first (backend %s, %d "
                 "threads)", n_allocs - before, mt_backend_name(mt_backend_get()),
                 mt_num_threads_get());
    assert_int_equal(y->shape[0], 1);
    assert_int_equal(fashion_argmax(y->data), r->labels.data[9]);
    mt_tensor_free(x);
    mt_sequential_free(model);
}

/* ---- the full test set ------------------------------------------------------------------- */

static const char *full_dir = DEBIAN_DIR;

static void full_test_set_accuracy(void **state)
{
    (void)state;
    char images_path[1024], labels_path[1024];
    snprintf(images_path, sizeof images_path, "%s/t10k-images-idx3-ubyte.gz", full_dir);
    snprintf(labels_path, sizeof labels_path, "%s/t10k-labels-idx1-ubyte.gz", full_dir);
    mt_safetensors *weights = NULL;
    mt_idx images, labels;
    assert_int_equal(mt_safetensors_open(FASHION_DATA_DIR "/fashion_cnn.safetensors",
                                         &weights), MT_OK);
    if (mt_idx_load(images_path, &images) || mt_idx_load(labels_path, &labels))
        fail_msg("%s", mt_last_error());
    assert_int_equal(fashion_check_dataset(&images, images_path, &labels, labels_path),
                     MT_OK);
    int64_t n = images.dim[0];
    assert_int_equal(n, 10000);
    mt_sequential *model = NULL;
    assert_int_equal(fashion_model_new(weights, true, &model), MT_OK);
    float *logits = malloc((size_t)n * FASHION_CLASSES * sizeof *logits);
    assert_non_null(logits);
    assert_int_equal(fashion_logits(model, images.data, n, logits), MT_OK);
    fashion_score score;
    fashion_score_logits(logits, labels.data, n, &score);
    double accuracy = (double)score.correct / (double)n;
    print_message("full test set: accuracy %.4f (%lld/%lld); Keras evaluate gave 0.9120\n",
                  accuracy, (long long)score.correct, (long long)n);
    assert_true(accuracy >= 0.90);
    free(logits);
    mt_sequential_free(model);
    mt_idx_free(&labels);
    mt_idx_free(&images);
    mt_safetensors_close(weights);
}

/* The full set: a missing dataset fails (the README's test command installs
 * dataset-fashion-mnist); a build configured without zlib skips (exit 77). */
static int full_or_skip(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", full_dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("FAIL: %s not found (Debian: apt-get install dataset-fashion-mnist; "
               "scripts/test.sh installs it)\n", path);
        return 1;
    }
    fclose(f);
    if (!mt_idx_gzip_supported()) {
        printf("SKIP: minitensor was built without zlib, the full test set is "
               "gzip-compressed (install zlib1g-dev, reconfigure with -Dzlib=enabled)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(full_test_set_accuracy)};
    return cmocka_run_group_tests_name("fashion full test set", tests, NULL, NULL) ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "";
    if (!strcmp(which, "full")) {
        if (argc > 2)
            full_dir = argv[2];
        return full_or_skip();
    }
    mt_allocator_set(&(mt_allocator){counting_alloc, counting_free, NULL});
    const struct CMUnitTest reference_tests[] = {
        cmocka_unit_test(logits_match_keras),
        cmocka_unit_test(missing_conv_relu_is_caught),
    };
    const struct CMUnitTest no_alloc_tests[] = {
        cmocka_unit_test(forward_allocates_nothing_after_the_first_pass),
    };
    int failed = 0;
    if (strcmp(which, "no-alloc") != 0)
        failed += cmocka_run_group_tests_name("fashion reference", reference_tests,
                                              load_reference, free_reference);
    if (strcmp(which, "reference") != 0)
        failed += cmocka_run_group_tests_name("fashion no-alloc", no_alloc_tests,
                                              load_reference, free_reference);
    return failed ? 1 : 0;
}
