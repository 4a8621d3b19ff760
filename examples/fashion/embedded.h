/* embedded.h — files compiled into the program by examples/embed (meson
 * custom_target): the weights and the 500 held-out test images. */
#ifndef FASHION_EMBEDDED_H
#define FASHION_EMBEDDED_H

#include <stddef.h>

extern const unsigned char fashion_weights[];      /* fashion_cnn.safetensors */
extern const size_t fashion_weights_size;
extern const unsigned char fashion_test_images[];  /* test-images-idx3-ubyte */
extern const size_t fashion_test_images_size;
extern const unsigned char fashion_test_labels[];  /* test-labels-idx1-ubyte */
extern const size_t fashion_test_labels_size;

#endif
