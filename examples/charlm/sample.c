/* sample.c — temperature and top-k sampling with a seeded generator. */
#include <math.h>
#include <string.h>

#include "sample.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void charlm_rng_seed(charlm_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

double charlm_rng_uniform(charlm_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return (double)(out >> 11) * 0x1.0p-53;
}

/* The k-th largest of v[0..n) (k from 1), reordering v (quickselect). */
static float kth_largest(float *v, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        float pivot = v[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] > pivot)
                i++;
            while (v[j] < pivot)
                j--;
            if (i <= j) {
                float t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            break;
    }
    return v[want];
}

int32_t charlm_sample(const float *logits, int64_t vocab, float temperature, int64_t top_k,
                      charlm_rng *rng, float *scratch)
{
    int64_t best = 0;
    for (int64_t i = 1; i < vocab; i++)
        best = logits[i] > logits[best] ? i : best;
    if (temperature == 0.0f)
        return (int32_t)best;
    float cut = -INFINITY;
    if (top_k > 0 && top_k < vocab) {
        memcpy(scratch, logits, (size_t)vocab * sizeof *scratch);
        cut = kth_largest(scratch, vocab, top_k);
    }
    /* p_i ∝ exp((l_i - l_max) / T) for l_i >= cut, in double. */
    double sum = 0.0;
    for (int64_t i = 0; i < vocab; i++) {
        double p = logits[i] >= cut ? exp((double)(logits[i] - logits[best]) / temperature) : 0.0;
        scratch[i] = (float)p;
        sum += scratch[i];
    }
    double u = charlm_rng_uniform(rng) * sum, acc = 0.0;
    for (int64_t i = 0; i < vocab; i++) {
        acc += scratch[i];
        if (u < acc)
            return (int32_t)i;
    }
    return (int32_t)best;   /* u rounded up to the sum */
}
