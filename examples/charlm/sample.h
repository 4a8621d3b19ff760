/* sample.h — drawing the next token from logits: temperature, top-k, and a
 * seeded generator, so the same seed gives the same text. */
#ifndef CHARLM_SAMPLE_H
#define CHARLM_SAMPLE_H

#include <stdint.h>

/* xoshiro256** seeded through splitmix64: a fixed sequence per seed on every
 * platform (no rand()). */
typedef struct charlm_rng {
    uint64_t s[4];
} charlm_rng;

void charlm_rng_seed(charlm_rng *r, uint64_t seed);

/* Uniform in [0, 1), 53 random bits. */
double charlm_rng_uniform(charlm_rng *r);

/* A token drawn from softmax(logits / temperature) over the top_k largest
 * logits (top_k 0 or >= vocab: all; ties with the k-th are kept, as
 * nanoGPT's sample.py). temperature 0 takes the argmax (the first maximum).
 * scratch holds vocab floats. */
int32_t charlm_sample(const float *logits, int64_t vocab, float temperature, int64_t top_k,
                      charlm_rng *rng, float *scratch);

#endif
