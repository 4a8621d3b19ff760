/* decode.h — the sampling loop shared by `charlm generate` and the
 * benchmark: one forward pass of one token per character, over the KV cache. */
#ifndef CHARLM_DECODE_H
#define CHARLM_DECODE_H

#include <stdint.h>

#include "model.h"

typedef struct charlm_generate_options {
    const char *prompt;      /* UTF-8; "" starts from a newline */
    int64_t tokens;          /* characters to generate */
    float temperature;       /* 0: always the most likely character */
    int64_t top_k;           /* 0: all characters */
    uint64_t seed;
} charlm_generate_options;

/* Called with each sampled token, in order; a failure (writing it out
 * failed) stops the decoding with that status. */
typedef mt_status (*charlm_emit)(int32_t token, void *user);

/* Run the context ctx[0..n_ctx) (1 <= n_ctx <= block_size) from position 0
 * of s, then sample o->tokens tokens (o->prompt is not read), passing each
 * to emit (stopping at its first failure). ctx has room for block_size tokens: it holds what the cache holds.
 * Once the cache is full, the model (absolute position embeddings) must see
 * its context from position 0 again: the newest half of the context is run
 * once more as a new prefix, and sampling goes on from there; every other
 * token costs one position of the cache. scratch holds vocab floats. */
mt_status charlm_decode(charlm_state *s, const charlm_generate_options *o, int32_t *ctx,
                        int64_t n_ctx, float *scratch, charlm_emit emit, void *user);

#endif
