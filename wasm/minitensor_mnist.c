/* minitensor_mnist.c — minitensor-mnist.wasm: the MNIST model as a reactor
 * module with its weights compiled in. The ABI is documented in
 * minitensor_mnist.h; docs/wasm.md says how to build and call it. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "minitensor/minitensor.h"
#include "minitensor_mnist.h"

#define MNIST_EXPORT(name) __attribute__((export_name(#name))) name

enum { BATCH = 256 }; // images per forward pass: bounds the workspace

/* The weights of examples/mnist/data/mnist_mlp.safetensors (Keras layout:
 * d1_w [784,128], d2_w [128,10]) as C arrays, written at build time by
 * embed_weights.py: the module parses no file. */
extern const float mnist_d1_w[], mnist_d1_b[], mnist_d2_w[], mnist_d2_b[];
extern const int64_t mnist_d1_w_shape[2], mnist_d1_b_shape[1], mnist_d2_w_shape[2],
    mnist_d2_b_shape[1];

/* The model is two fused matmuls on the tensor API, not an nn Sequential:
 * the same kernels and numbers as examples/mnist, without the layer and
 * shape-inference code a fixed two-layer model does not need (the module's
 * budget besides the weights is ~40 KB). The weight tensors borrow the
 * arrays above (never written: mt_tensor's data pointer is not const). */
static mt_tensor w1, b1, w2, b2;
static bool ready;

/* Activations for up to `capacity` images, grown on demand and kept. */
static float *x_buf, *h_buf, *y_buf;
static int64_t capacity;

static mt_status model_init(void)
{
    if (ready)
        return MT_OK;
    mt_status s;
    // One thread, our own kernel: nothing to read from an environment.
    if ((s = mt_num_threads_set(1)) || (s = mt_backend_set(MT_BACKEND_NATIVE)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, mnist_d1_w_shape, (void *)mnist_d1_w, &w1)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 1, mnist_d1_b_shape, (void *)mnist_d1_b, &b1)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, mnist_d2_w_shape, (void *)mnist_d2_w, &w2)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 1, mnist_d2_b_shape, (void *)mnist_d2_b, &b2)))
        return s;
    ready = true;
    return MT_OK;
}

static mt_status reserve(int64_t rows)
{
    if (rows <= capacity)
        return MT_OK;
    mt_dealloc(x_buf);
    mt_dealloc(h_buf);
    mt_dealloc(y_buf);
    capacity = 0;
    x_buf = mt_alloc((size_t)rows * MNIST_IMAGE_BYTES * sizeof(float), 16);
    h_buf = mt_alloc((size_t)rows * (size_t)w1.shape[1] * sizeof(float), 16);
    y_buf = mt_alloc((size_t)rows * MNIST_CLASSES * sizeof(float), 16);
    if (!x_buf || !h_buf || !y_buf)
        return mt_fail(MT_ERR_OUT_OF_MEMORY,
                       "mnist_classify: no memory for %lld images",
                       (long long)rows);
    capacity = rows;
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
    mt_tensor x, h, y, p;
    const int64_t x_shape[2] = {rows, MNIST_IMAGE_BYTES};
    const int64_t h_shape[2] = {rows, w1.shape[1]};
    const int64_t y_shape[2] = {rows, MNIST_CLASSES};
    mt_status s;
    if ((s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, x_shape, x_buf, &x)) ||
        (s = mt_tensor_from_u8_into(images, 1.0f / 255.0f, &x)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, h_shape, h_buf, &h)) ||
        (s = mt_matmul_fused_into(&x, &w1, &b1, MT_ACTIVATION_RELU, &h)) ||
        // the logits go straight to the caller's buffer when it wants them
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, y_shape, logits ? logits : y_buf, &y)) ||
        (s = mt_matmul_fused_into(&h, &w2, &b2, MT_ACTIVATION_NONE, &y)))
        return s;
    if (probs && ((s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, y_shape, probs, &p)) ||
                  (s = mt_softmax_into(&y, -1, &p))))
        return s;
    if (digits)
        for (int64_t i = 0; i < rows; i++)
            digits[i] = argmax10((const float *)y.data + i * MNIST_CLASSES);
    return MT_OK;
}

int32_t MNIST_EXPORT(mnist_classify)(const uint8_t *images, int32_t n, float *logits,
                                     float *probs, int32_t *digits)
{
    if (n < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "mnist_classify: n = %d, expected n >= 0", (int)n);
    if (n > 0 && !images)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "mnist_classify: images NULL for n = %d", (int)n);
    mt_status s = model_init();
    if (!s)
        s = reserve(n < BATCH ? n : BATCH);
    for (int64_t i = 0; !s && i < n; i += BATCH) {
        int64_t rows = n - i < BATCH ? n - i : BATCH;
        s = classify_batch(images + i * MNIST_IMAGE_BYTES, rows,
                           logits ? logits + i * MNIST_CLASSES : NULL,
                           probs ? probs + i * MNIST_CLASSES : NULL,
                           digits ? digits + i : NULL);
    }
    return (int32_t)s;
}
