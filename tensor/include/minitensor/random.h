/* minitensor/random.h — a seeded random generator and weight initialisers.
 *
 * mt_rng is PCG32 (O'Neill, pcg-random.org): 64 bits of state, a stream
 * constant, 32-bit outputs. The same seed gives the same numbers on every
 * platform and build, so a training run is repeatable bit for bit on one
 * thread. The struct is public so that checkpoints can save and restore it
 * (two uint64_t).
 *
 *     mt_rng rng;
 *     mt_rng_init(&rng, 42);
 *     mt_init_kaiming_uniform(weight, 784, &rng);   // as nn.Linear(784, 128)
 *
 * Tensors are filled in row-major order of their logical index (any strides).
 */
#ifndef MINITENSOR_RANDOM_H
#define MINITENSOR_RANDOM_H

#include <stdint.h>

#include "minitensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_rng {
    uint64_t state;
    uint64_t inc;   /* odd: the stream */
} mt_rng;

/* These four return numbers, not a status: rng must not be NULL (a NULL
 * rng is dereferenced, as rand_r's seed pointer is). */

/* Seed rng (stream fixed): the same seed, the same sequence. */
void mt_rng_init(mt_rng *rng, uint64_t seed);

/* The next 32 random bits. */
uint32_t mt_rng_next_u32(mt_rng *rng);

/* A float uniform in [0, 1) with 24 random bits. */
float mt_rng_uniform(mt_rng *rng);

/* A uniform integer in [0, n) without modulo bias; 0 if n == 0. */
uint32_t mt_rng_below(mt_rng *rng, uint32_t n);

/* A random permutation of 0..n-1 into out[n] (Fisher–Yates, as
 * torch.randperm): the order of one epoch's mini-batches. 0 <= n < 2^32. */
mt_status mt_rng_permutation(mt_rng *rng, int64_t n, int64_t *out);

/* Fill an F32 tensor with U(lo, hi) (lo <= hi, both finite) or with
 * N(mean, std²) (std >= 0; Box–Muller in double precision). */
mt_status mt_tensor_fill_uniform(mt_tensor *t, float lo, float hi, mt_rng *rng);
mt_status mt_tensor_fill_normal(mt_tensor *t, float mean, float std, mt_rng *rng);

/* PyTorch's default for nn.Linear / nn.Conv2d weights, kaiming_uniform_ with
 * a = √5: U(-b, b) with b = 1/√fan_in. Also the default for their biases
 * (torch draws bias from U(-1/√fan_in, 1/√fan_in) too). fan_in >= 1. */
mt_status mt_init_kaiming_uniform(mt_tensor *t, int64_t fan_in, mt_rng *rng);

/* Glorot (Xavier) uniform, Keras' default: U(-b, b), b = √(6/(fan_in+fan_out)). */
mt_status mt_init_glorot_uniform(mt_tensor *t, int64_t fan_in, int64_t fan_out,
                                 mt_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
