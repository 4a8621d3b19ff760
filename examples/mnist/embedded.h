/* embedded.h — files compiled into the program by examples/embed (meson
 * custom_target): the weights and the held-out test digits. */
#ifndef MNIST_EMBEDDED_H
#define MNIST_EMBEDDED_H

#include <stddef.h>

extern const unsigned char mnist_weights[];      /* mnist_mlp.safetensors */
extern const size_t mnist_weights_size;
extern const unsigned char mnist_test_images[];  /* test-images-idx3-ubyte */
extern const size_t mnist_test_images_size;
extern const unsigned char mnist_test_labels[];  /* test-labels-idx1-ubyte */
extern const size_t mnist_test_labels_size;

#endif
