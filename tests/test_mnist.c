/* test_mnist.c — the ported Keras MNIST model against TensorFlow itself:
 * logits within 1e-4 of TensorFlow's on every committed test digit, the
 * accuracy, the same model from PyTorch-layout weights, a model without the
 * ReLU caught by the tolerance, and no heap allocation after the first pass.
 * Uses the example's own model and IDX code (examples/mnist/). */
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

#define TOLERANCE 1e-4   /* absolute, on logits of magnitude up to ~32 */

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
    float *tf_logits;      /* TensorFlow's model(x, training=False), n×10 */
    unsigned char *raw;    /* test-logits.f32 as read */
} reference;

static int load_reference(void **state)
{
    reference *r = calloc(1, sizeof *r);
    assert_non_null(r);
    size_t size = 0;
    assert_int_equal(mt_safetensors_open(MNIST_DATA_DIR "/mnist_mlp.safetensors",
                                         &r->weights), MT_OK);
    assert_int_equal(mt_idx_load(MNIST_DATA_DIR "/test-images-idx3-ubyte", &r->images),
                     MT_OK);
    assert_int_equal(mt_idx_load(MNIST_DATA_DIR "/test-labels-idx1-ubyte", &r->labels),
                     MT_OK);
    assert_int_equal(mnist_check_dataset(&r->images, "images", &r->labels, "labels"), MT_OK);
    r->n = r->images.dim[0];
    FILE *f = fopen(MNIST_DATA_DIR "/test-logits.f32", "rb");
    assert_non_null(f);
    r->raw = malloc((size_t)r->n * MNIST_CLASSES * 4 + 1);
    assert_non_null(r->raw);
    size = fread(r->raw, 1, (size_t)r->n * MNIST_CLASSES * 4 + 1, f);
    fclose(f);
    assert_int_equal(size, (size_t)r->n * MNIST_CLASSES * 4);
    r->tf_logits = malloc(size);
    assert_non_null(r->tf_logits);
    for (size_t i = 0; i < size / 4; i++) {   /* little-endian float32 */
        const unsigned char *b = r->raw + 4 * i;
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24;
        memcpy(&r->tf_logits[i], &u, 4);
    }
    *state = r;
    return 0;
}

static int free_reference(void **state)
{
    reference *r = *state;
    free(r->tf_logits);
    free(r->raw);
    mt_idx_free(&r->labels);
    mt_idx_free(&r->images);
    mt_safetensors_close(r->weights);
    free(r);
    return 0;
}

/* Logits of `model` on every test digit (caller frees). */
static float *all_logits(mt_sequential *model, const reference *r)
{
    float *logits = malloc((size_t)r->n * MNIST_CLASSES * sizeof *logits);
    assert_non_null(logits);
    assert_int_equal(mnist_logits(model, r->images.data, r->n, logits), MT_OK);
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

static void logits_match_tensorflow_model(reference *r, bool frozen)
{
    mt_sequential *model = NULL;
    assert_int_equal(mnist_model_new(r->weights, frozen, &model), MT_OK);
    float *logits = all_logits(model, r);

    double diff = max_abs_diff(logits, r->tf_logits, r->n * MNIST_CLASSES);
    mnist_score ours, tf;
    mnist_score_logits(logits, r->labels.data, r->n, &ours);
    mnist_score_logits(r->tf_logits, r->labels.data, r->n, &tf);
    double accuracy = (double)ours.correct / (double)r->n;
    print_message("max |logit - TensorFlow| = %.3g over %lld digits (tolerance %g)\n", diff,
                  (long long)r->n, TOLERANCE);
    print_message("accuracy %.4f (%lld/%lld); TensorFlow's logits give %.4f\n", accuracy,
                  (long long)ours.correct, (long long)r->n,
                  (double)tf.correct / (double)r->n);
    assert_true(diff <= TOLERANCE);
    assert_true(accuracy >= 0.92);
    assert_int_equal(ours.correct, tf.correct);
    for (int64_t i = 0; i < r->n; i++)   /* every prediction, not just the count */
        assert_int_equal(mnist_argmax(logits + i * MNIST_CLASSES),
                         mnist_argmax(r->tf_logits + i * MNIST_CLASSES));
    free(logits);
    mt_sequential_free(model);
}

/* The frozen model (the demo's and eval's) and the unfrozen one (predict's)
 * against the same references. */
static void logits_match_tensorflow(void **state)
{
    logits_match_tensorflow_model(*state, false);
    logits_match_tensorflow_model(*state, true);
}

/* The seed port's bug: Dense(128, activation='relu') without the ReLU. The
 * tolerance must catch it. */
static void missing_relu_is_caught(void **state)
{
    reference *r = *state;
    mt_sequential *model = NULL;
    mt_layer *l = NULL;
    assert_int_equal(mt_sequential_new(2, (int64_t[]){28, 28}, &model), MT_OK);
    assert_int_equal(mt_flatten_new(1, -1, &l), MT_OK);
    assert_int_equal(mt_sequential_add(model, l), MT_OK);
    assert_int_equal(mt_linear_from_safetensors(r->weights, "d1_w", "d1_b", NULL, &l), MT_OK);
    assert_int_equal(mt_sequential_add(model, l), MT_OK);
    assert_int_equal(mt_linear_from_safetensors(r->weights, "d2_w", "d2_b", NULL, &l), MT_OK);
    assert_int_equal(mt_sequential_add(model, l), MT_OK);
    float *logits = all_logits(model, r);
    double diff = max_abs_diff(logits, r->tf_logits, r->n * MNIST_CLASSES);
    print_message("without the ReLU: max |logit - TensorFlow| = %.3g\n", diff);
    assert_true(diff > 100 * TOLERANCE);
    free(logits);
    mt_sequential_free(model);
}

/* d1_w and d2_w transposed to PyTorch's (out,in), plus a tensor and metadata
 * the model does not use: the same predictions, through transposed views. */
static void pytorch_layout_gives_the_same_predictions(void **state)
{
    reference *r = *state;
    static const char *names[] = {"d1_w", "d1_b", "d2_w", "d2_b"};
    mt_tensor *t[5] = {0};
    mt_safetensors_item items[5];
    for (int i = 0; i < 4; i++) {
        mt_tensor *src = NULL, *view = NULL;
        assert_int_equal(mt_safetensors_get(r->weights, names[i], &src), MT_OK);
        if (src->rank == 2) {
            assert_int_equal(mt_transpose(src, 0, 1, &view), MT_OK);
            assert_int_equal(mt_tensor_contiguous(view, &t[i]), MT_OK);
            mt_tensor_free(view);
        } else {
            assert_int_equal(mt_tensor_contiguous(src, &t[i]), MT_OK);
        }
        mt_tensor_free(src);
        items[i] = (mt_safetensors_item){names[i], 0, t[i]};
    }
    assert_int_equal(mt_tensor_full(1, (int64_t[]){3}, 1.0f, &t[4]), MT_OK);
    items[4] = (mt_safetensors_item){"unused.extra", 0, t[4]};
    mt_safetensors_kv meta = {"format", "pt", 0, 0};
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(mt_safetensors_serialize(items, 5, &meta, 1, &buf, &size), MT_OK);
    mt_safetensors *torch = NULL;
    assert_int_equal(mt_safetensors_open_memory(buf, size, &torch), MT_OK);

    mt_sequential *keras_model = NULL, *torch_model = NULL;
    assert_int_equal(mnist_model_new(r->weights, true, &keras_model), MT_OK);
    assert_int_equal(mnist_model_new(torch, true, &torch_model), MT_OK);
    mt_layer_info info;
    assert_int_equal(mt_layer_info_get(mt_sequential_layer(torch_model, 1), &info), MT_OK);
    assert_int_equal(info.layout, MT_LAYOUT_OUT_IN);
    assert_int_equal(mt_layer_info_get(mt_sequential_layer(keras_model, 1), &info), MT_OK);
    assert_int_equal(info.layout, MT_LAYOUT_IN_OUT);

    float *a = all_logits(keras_model, r), *b = all_logits(torch_model, r);
    double diff = max_abs_diff(a, b, r->n * MNIST_CLASSES);
    print_message("PyTorch layout vs Keras layout: max |logit diff| = %.3g\n", diff);
    assert_true(diff <= TOLERANCE);
    assert_true(max_abs_diff(b, r->tf_logits, r->n * MNIST_CLASSES) <= TOLERANCE);
    for (int64_t i = 0; i < r->n; i++)
        assert_int_equal(mnist_argmax(a + i * MNIST_CLASSES),
                         mnist_argmax(b + i * MNIST_CLASSES));
    free(b);
    free(a);
    mt_sequential_free(torch_model);
    mt_sequential_free(keras_model);
    mt_safetensors_close(torch);
    mt_safetensors_buffer_free(buf);
    for (int i = 0; i < 5; i++)
        mt_tensor_free(t[i]);
}

/* The whole stack (layers, matmul backend, its threads) with the default
 * thread count: a fresh model, one pass per batch size to size everything,
 * then passes with those batch sizes allocate nothing. */
static void forward_allocates_nothing_after_the_first_pass(void **state)
{
    reference *r = *state;
    mt_sequential *model = NULL;
    assert_int_equal(mnist_model_new(r->weights, true, &model), MT_OK);
    mt_tensor *x = NULL;
    assert_int_equal(mt_tensor_from_u8(3, (int64_t[]){r->n, 28, 28}, r->images.data,
                                       1.0f / 255.0f, &x), MT_OK);
    mt_tensor one;
    assert_int_equal(mt_narrow_into(x, 0, 7, 1, &one), MT_OK);
    const mt_tensor *y = NULL;
    assert_int_equal(mt_sequential_forward(model, x, &y), MT_OK);
    assert_int_equal(mt_sequential_forward(model, &one, &y), MT_OK);
    size_t before = n_allocs;
    for (int rep = 0; rep < 10; rep++) {
        assert_int_equal(mt_sequential_forward(model, x, &y), MT_OK);
        assert_int_equal(mt_sequential_forward(model, &one, &y), MT_OK);
    }
    if (n_allocs != before)
        fail_msg("%zu heap allocations in 20 passes after the first (backend %s, %d "
                 "threads)", n_allocs - before, mt_backend_name(mt_backend_get()),
                 mt_num_threads_get());
    assert_int_equal(y->shape[0], 1);
    assert_int_equal(mnist_argmax(y->data), r->labels.data[7]);
    mt_tensor_free(x);
    mt_sequential_free(model);
}

/* argv[1]: "reference" (the comparisons) or "no-alloc" (the allocation
 * check, a separate meson test so that each failure is reported on its own);
 * no argument runs both. */
int main(int argc, char **argv)
{
    mt_allocator_set(&(mt_allocator){counting_alloc, counting_free, NULL});
    const struct CMUnitTest reference_tests[] = {
        cmocka_unit_test(logits_match_tensorflow),
        cmocka_unit_test(missing_relu_is_caught),
        cmocka_unit_test(pytorch_layout_gives_the_same_predictions),
    };
    const struct CMUnitTest no_alloc_tests[] = {
        cmocka_unit_test(forward_allocates_nothing_after_the_first_pass),
    };
    const char *which = argc > 1 ? argv[1] : "";
    int failed = 0;
    if (strcmp(which, "no-alloc") != 0)
        failed += cmocka_run_group_tests_name("mnist reference", reference_tests,
                                              load_reference, free_reference);
    if (strcmp(which, "reference") != 0)
        failed += cmocka_run_group_tests_name("mnist no-alloc", no_alloc_tests,
                                              load_reference, free_reference);
    return failed ? 1 : 0;
}
