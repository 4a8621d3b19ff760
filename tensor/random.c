/* random.c — PCG32 and the initialisers built on it. */
#include <math.h>

#include "minitensor/random.h"
#include "internal.h"

#define PCG_MULT 6364136223846793005ULL
#define PCG_STREAM 1442695040888963407ULL   /* PCG's default increment */

uint32_t mt_rng_next_u32(mt_rng *rng)
{
    uint64_t old = rng->state;
    rng->state = old * PCG_MULT + rng->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

void mt_rng_init(mt_rng *rng, uint64_t seed)
{
    /* pcg32_srandom_r: the seeding sequence of the reference implementation */
    rng->state = 0;
    rng->inc = PCG_STREAM | 1u;
    mt_rng_next_u32(rng);
    rng->state += seed;
    mt_rng_next_u32(rng);
}

float mt_rng_uniform(mt_rng *rng)
{
    return (float)(mt_rng_next_u32(rng) >> 8) * 0x1.0p-24f;
}

uint32_t mt_rng_below(mt_rng *rng, uint32_t n)
{
    if (n == 0)
        return 0;
    uint32_t threshold = (uint32_t)(-n) % n;   /* 2^32 mod n: the biased tail */
    for (;;) {
        uint32_t r = mt_rng_next_u32(rng);
        if (r >= threshold)
            return r % n;
    }
}

mt_status mt_rng_permutation(mt_rng *rng, int64_t n, int64_t *out)
{
    if (!rng || (!out && n > 0))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "rng_permutation: NULL argument");
    if (n < 0 || n > (int64_t)UINT32_MAX)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "rng_permutation: n = %lld not in 0..2^32-1",
                       (long long)n);
    for (int64_t i = 0; i < n; i++)
        out[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = mt_rng_below(rng, (uint32_t)(i + 1));
        int64_t tmp = out[i];
        out[i] = out[j];
        out[j] = tmp;
    }
    return MT_OK;
}

typedef float (*draw_fn)(mt_rng *rng, float a, float b);

static float draw_uniform(mt_rng *rng, float lo, float hi)
{
    return lo + (hi - lo) * mt_rng_uniform(rng);
}

static float draw_normal(mt_rng *rng, float mean, float std)
{
    /* Box–Muller; u1 in (0, 1] so the log is finite */
    double u1 = 1.0 - (double)mt_rng_uniform(rng);
    double u2 = (double)mt_rng_uniform(rng);
    return (float)(mean + std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static mt_status fill(const char *op, mt_tensor *t, float a, float b, mt_rng *rng,
                      draw_fn draw)
{
    mt_status s = mt_tensor_check(op, "tensor", t);
    if (s || (s = mt_check_f32(op, t)))
        return s;
    if (!rng)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: rng is NULL", op);
    if (mt_tensor_numel(t) == 0)
        return MT_OK;
    int64_t index[MT_MAX_RANK] = {0};
    do
        *(float *)mt_element_ptr(t, index) = draw(rng, a, b);
    while (mt_index_next(t->rank, t->shape, index));
    return MT_OK;
}

mt_status mt_tensor_fill_uniform(mt_tensor *t, float lo, float hi, mt_rng *rng)
{
    if (!isfinite(lo) || !isfinite(hi) || lo > hi)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "tensor_fill_uniform: bounds [%g, %g) must be finite, lo <= hi",
                       (double)lo, (double)hi);
    return fill("tensor_fill_uniform", t, lo, hi, rng, draw_uniform);
}

mt_status mt_tensor_fill_normal(mt_tensor *t, float mean, float std, mt_rng *rng)
{
    if (!isfinite(mean) || !isfinite(std) || std < 0.0f)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "tensor_fill_normal: mean %g and std %g must be finite, std >= 0",
                       (double)mean, (double)std);
    return fill("tensor_fill_normal", t, mean, std, rng, draw_normal);
}

mt_status mt_init_kaiming_uniform(mt_tensor *t, int64_t fan_in, mt_rng *rng)
{
    if (fan_in < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "init_kaiming_uniform: fan_in %lld < 1",
                       (long long)fan_in);
    float bound = (float)(1.0 / sqrt((double)fan_in));
    return fill("init_kaiming_uniform", t, -bound, bound, rng, draw_uniform);
}

mt_status mt_init_glorot_uniform(mt_tensor *t, int64_t fan_in, int64_t fan_out,
                                 mt_rng *rng)
{
    if (fan_in < 1 || fan_out < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "init_glorot_uniform: fan_in %lld and fan_out %lld must be >= 1",
                       (long long)fan_in, (long long)fan_out);
    float bound = (float)sqrt(6.0 / ((double)fan_in + (double)fan_out));
    return fill("init_glorot_uniform", t, -bound, bound, rng, draw_uniform);
}
