/* minitensor_mnist.h — the C ABI of minitensor-mnist.wasm.
 *
 * minitensor-mnist.wasm is a WebAssembly *reactor* module: the MNIST model
 * of examples/mnist (Dense 784→128 ReLU, Dense 128→10) with its weights
 * compiled in, and no imports at all — no WASI, no host functions. Any
 * WebAssembly host with SIMD128 runs it: wazero (bindings/go), Node and
 * browsers (bindings/js), wasmtime, …
 *
 * Using it from a host:
 *
 *     instantiate with an empty import object
 *     call _initialize() once                  (runs the C constructors)
 *     px  = mnist_alloc(n * 784)               (images, in linear memory)
 *     out = mnist_alloc(n * 10 * 4)            (float32 probabilities)
 *     write n images into memory at px         (28×28 bytes each, row-major,
 *                                               0 = background, 255 = ink:
 *                                               white digit on black)
 *     rc = mnist_classify(px, n, 0, out, 0)    (0 = MNIST_OK)
 *     read the n×10 floats at out              (little-endian float32)
 *     mnist_free(px); mnist_free(out)
 *
 * Every pointer is a 32-bit offset into the exported memory "memory"; 0 is
 * NULL. The memory may grow during any call (the first classify builds the
 * model; a larger batch than before grows the workspace), so a host must
 * re-read the memory's buffer after each call rather than keep a view.
 *
 * One instance runs one call at a time (WebAssembly instances are
 * single-threaded); for concurrency, instantiate the module several times
 * (bindings/go keeps a pool).
 *
 * Errors: calls that can fail return an mt_status (0 = MNIST_OK); then
 * mnist_error() says why, e.g. "mnist_classify: n = -1 images, expected
 * n >= 0". Nothing traps on bad arguments except pointers outside memory,
 * which trap in the host as any out-of-bounds access does. As in C, the
 * module cannot know how large the buffers you pass are: an n larger than
 * they hold reads and writes past them (into the module's own heap, which
 * can break later calls). bindings/go and bindings/js size the buffers
 * themselves and check the pixel count before calling.
 */
#ifndef MINITENSOR_MNIST_H
#define MINITENSOR_MNIST_H

#include <stdint.h>

#define MNIST_ABI_VERSION 1
#define MNIST_IMAGE_BYTES 784 /* 28 × 28 */
#define MNIST_CLASSES 10
#define MNIST_OK 0

/* MNIST_ABI_VERSION of the module: a host checks it once after loading.
 * Any incompatible change to these functions changes it. */
int32_t mnist_abi_version(void);

/* The minitensor version the module was built from, e.g. "0.1.0"
 * (NUL-terminated, static). */
const char *mnist_version(void);

/* The matmul kernel in use, e.g. "native wasm-simd128 4x8" (NUL-terminated,
 * static): says whether the SIMD128 micro-kernel is compiled in. */
const char *mnist_backend(void);

/* `bytes` bytes of linear memory, 16-byte aligned, for images or outputs;
 * 0 if bytes < 1 or the memory cannot grow. Free with mnist_free. */
void *mnist_alloc(int32_t bytes);

/* Release memory from mnist_alloc. 0 is ignored. */
void mnist_free(void *p);

/* Classify n >= 0 images of MNIST_IMAGE_BYTES bytes each (contiguous, at
 * `images`). Writes, for each output that is not 0:
 *   logits  n × 10 float32: the model's raw outputs (Keras' Dense(10));
 *   probs   n × 10 float32: softmax(logits), each row sums to 1;
 *   digits  n int32: argmax of the row (the first maximum).
 * The outputs must not overlap `images` or each other. Runs in batches of
 * 256 whatever n is; allocation-free after the first call with a given
 * batch size. Returns MNIST_OK, or a status with mnist_error() set (bad n,
 * NULL images with n > 0, out of memory); on failure the outputs hold
 * nothing meaningful. */
int32_t mnist_classify(const uint8_t *images, int32_t n, float *logits,
                       float *probs, int32_t *digits);

/* The message of the last failure ("" if none), NUL-terminated; valid until
 * the next failing call. */
const char *mnist_error(void);

#endif
