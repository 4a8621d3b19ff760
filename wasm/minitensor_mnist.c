/* minitensor_mnist.c — minitensor-mnist.wasm: the MNIST model as a reactor
 * module with its weights compiled in. The ABI is documented in
 * minitensor_mnist.h; docs/wasm.md says how to build and call it. */
#include <math.h>
#include <stdlib.h>

#include "embedded.h"
#include "minitensor/minitensor.h"
#include "minitensor_mnist.h"
#include "model.h"

#define MNIST_EXPORT(name) __attribute__((export_name(#name))) name

enum { BATCH = 256 }; // images per forward pass: bounds the workspace

/* The model, built on the first classify, and its input tensor
 * [BATCH,28,28] (a view of its first rows is what each pass sees). The
 * module never frees them: they live as long as the instance. */
static mt_safetensors *weights;
static mt_sequential *model;
static mt_tensor *input;

static mt_status model_init(void)
{
    if (model)
        return MT_OK;
    mt_status s;
    // One thread, our own kernel: nothing to read from an environment.
    if ((s = mt_set_num_threads(1)) || (s = mt_backend_set(MT_BACKEND_NATIVE)) ||
        (s = mt_safetensors_open_memory(mnist_weights, mnist_weights_size, &weights)) ||
        (s = mnist_model_new(weights, &model)) ||
        (s = mt_tensor_zeros(&input, MT_DTYPE_F32, 3,
                             (int64_t[]){BATCH, MNIST_SIDE, MNIST_SIDE}))) {
        mt_sequential_free(model);
        mt_safetensors_close(weights);
        model = NULL;
        weights = NULL;
        return s;
    }
    return MT_OK;
}

int32_t MNIST_EXPORT(mnist_abi_version)(void)
{
    return MNIST_ABI_VERSION;
}

const char *MNIST_EXPORT(mnist_version)(void)
{
    return mt_version();
}

const char *MNIST_EXPORT(mnist_backend)(void)
{
    return mt_backend_describe(MT_BACKEND_NATIVE);
}

void *MNIST_EXPORT(mnist_alloc)(int32_t bytes)
{
    if (bytes < 1)
        return NULL;
    return aligned_alloc(16, ((size_t)bytes + 15) & ~(size_t)15);
}

void MNIST_EXPORT(mnist_free)(void *p)
{
    free(p);
}

const char *MNIST_EXPORT(mnist_error)(void)
{
    return mt_last_error();
}

/* The first maximum of row[0..9]; a NaN counts as the maximum (mt_argmax's
 * rule), so a broken model is visible rather than silently "digit 0". */
static int32_t argmax10(const float *row)
{
    int32_t best = 0;
    for (int32_t j = 1; j < MNIST_CLASSES; j++) {
        if (isnan(row[best]))
            break;
        if (isnan(row[j]) || row[j] > row[best])
            best = j;
    }
    return best;
}

/* One pass over rows <= BATCH images. */
static mt_status classify_batch(const uint8_t *images, int64_t rows, float *logits,
                                float *probs, int32_t *digits)
{
    mt_tensor in, out;
    const mt_tensor *y; // (rows, 10), owned by the model
    mt_status s;
    if ((s = mt_narrow_into(input, 0, 0, rows, &in)) ||
        (s = mt_tensor_from_u8_into(&in, images, 1.0f / 255.0f)) ||
        (s = mt_sequential_forward(model, &in, &y)))
        return s;
    const int64_t shape[2] = {rows, MNIST_CLASSES};
    if (logits && ((s = mt_tensor_wrap_into(&out, MT_DTYPE_F32, 2, shape, logits)) ||
                   (s = mt_tensor_copy_into(&out, y))))
        return s;
    if (probs && ((s = mt_tensor_wrap_into(&out, MT_DTYPE_F32, 2, shape, probs)) ||
                  (s = mt_softmax_into(y, -1, &out))))
        return s;
    if (digits) {
        const float *ly = y->data; // the model's output is contiguous
        for (int64_t i = 0; i < rows; i++)
            digits[i] = argmax10(ly + i * MNIST_CLASSES);
    }
    return MT_OK;
}

int32_t MNIST_EXPORT(mnist_classify)(const uint8_t *images, int32_t n, float *logits,
                                     float *probs, int32_t *digits)
{
    if (n < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "mnist_classify: n = %d images, expected n >= 0", (int)n);
    if (n > 0 && !images)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "mnist_classify: images is NULL for n = %d", (int)n);
    mt_status s = model_init();
    for (int64_t i = 0; !s && i < n; i += BATCH) {
        int64_t rows = n - i < BATCH ? n - i : BATCH;
        s = classify_batch(images + i * MNIST_IMAGE_BYTES, rows,
                           logits ? logits + i * MNIST_CLASSES : NULL,
                           probs ? probs + i * MNIST_CLASSES : NULL,
                           digits ? digits + i : NULL);
    }
    return (int32_t)s;
}
