/* embedded.h — the model compiled into the program by examples/embed (meson
 * custom_target), so `charlm generate` needs no file. */
#ifndef CHARLM_EMBEDDED_H
#define CHARLM_EMBEDDED_H

#include <stddef.h>

extern const unsigned char charlm_weights[];   /* data/charlm.safetensors */
extern const size_t charlm_weights_size;

#endif
