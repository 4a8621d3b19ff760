/* bench_attention.c — mt_scaled_dot_product_attention against the same
 * attention composed from public ops (mt_matmul on views, mt_mul_scalar,
 * mt_softmax), on [1,4,64,16] self-attention, KV-cache steps ([1,4,1,16] x
 * [1,4,64,16]) and larger heads. attention.c's FUSED_MAX_WORK threshold was
 * chosen by building this with the fused rows forced on and off.
 * Validates the two against each other first, warms up, repeats, prints
 * microseconds per call and one JSON line per shape. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "minitensor/minitensor.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);   /* CPU time: the machine is shared */
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static mt_tensor *random_tensor(int rank, const int64_t *shape, uint64_t *state)
{
    mt_tensor *t;
    if (mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t))
        return NULL;
    float *p = t->data;
    for (int64_t i = 0; i < mt_tensor_numel(t); i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(*state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
    }
    return t;
}

typedef struct composed {
    mt_tensor kt, *scores, *probs;
} composed;

/* softmax(q·kᵀ / sqrt(E)) · v with preallocated intermediates. */
static mt_status run_composed(const mt_tensor *q, const mt_tensor *v, composed *c,
                              float scale, mt_tensor *out)
{
    mt_status s;
    if ((s = mt_matmul_into(q, &c->kt, c->scores)) ||
        (s = mt_mul_scalar_into(c->scores, scale, c->scores)) ||
        (s = mt_softmax_into(c->scores, -1, c->probs)))
        return s;
    return mt_matmul_into(c->probs, v, out);
}

static int bench(int64_t lq, int64_t lk, int64_t e)
{
    uint64_t state = 42;
    int64_t qs[] = {1, 4, lq, e}, ks[] = {1, 4, lk, e}, ss[] = {1, 4, lq, lk};
    mt_tensor *q = random_tensor(4, qs, &state), *k = random_tensor(4, ks, &state);
    mt_tensor *v = random_tensor(4, ks, &state);
    mt_tensor *o1 = NULL, *o2 = NULL;
    composed c = {0};
    float scale = (float)(1.0 / sqrt((double)e));
    int rc = 1;
    if (!q || !k || !v || mt_tensor_zeros(MT_DTYPE_F32, 4, qs, &o1) ||
        mt_tensor_zeros(MT_DTYPE_F32, 4, qs, &o2) || mt_transpose_into(k, 2, 3, &c.kt) ||
        mt_tensor_zeros(MT_DTYPE_F32, 4, ss, &c.scores) ||
        mt_tensor_zeros(MT_DTYPE_F32, 4, ss, &c.probs))
        goto done;
    if (mt_scaled_dot_product_attention_into(q, k, v, NULL, false, 0.0f, o1) ||
        run_composed(q, v, &c, scale, o2))
        goto done;
    double maxdiff = 0.0;
    for (int64_t i = 0; i < mt_tensor_numel(o1); i++) {
        double d = fabs((double)((float *)o1->data)[i] - ((float *)o2->data)[i]);
        maxdiff = d > maxdiff ? d : maxdiff;
    }
    if (maxdiff > 1e-5) {
        fprintf(stderr, "fused and composed differ by %g\n", maxdiff);
        goto done;
    }
    enum { WARM = 200, REPS = 2000 };
    double us[2];
    for (int which = 0; which < 2; which++) {
        double best = 1e30;
        for (int round = 0; round < 5; round++) {
            for (int i = 0; i < WARM / 5; i++)
                which ? run_composed(q, v, &c, scale, o2)
                      : mt_scaled_dot_product_attention_into(q, k, v, NULL, false, 0.0f, o1);
            double t0 = now_us();
            for (int i = 0; i < REPS / 5; i++)
                which ? run_composed(q, v, &c, scale, o2)
                      : mt_scaled_dot_product_attention_into(q, k, v, NULL, false, 0.0f, o1);
            double t = (now_us() - t0) / (REPS / 5);
            best = t < best ? t : best;
        }
        us[which] = best;
    }
    printf("q [1,4,%lld,%lld] k/v [1,4,%lld,%lld]: sdpa %.2f us, matmul+softmax+matmul "
           "%.2f us (max diff %.1e)\n", (long long)lq, (long long)e, (long long)lk,
           (long long)e, us[0], us[1], maxdiff);
    printf("{\"lq\": %lld, \"lk\": %lld, \"e\": %lld, \"sdpa_us\": %.3f, "
           "\"composed_us\": %.3f}\n", (long long)lq, (long long)lk, (long long)e, us[0],
           us[1]);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "bench_attention: %s\n", mt_last_error());
    mt_tensor *all[] = {q, k, v, o1, o2, c.scores, c.probs};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mt_tensor_free(all[i]);
    return rc;
}

int main(void)
{
    mt_num_threads_set(1);
    printf("bench_attention: matmul backend %s (%s), 1 thread\n",
           mt_backend_name(mt_backend_get()), mt_backend_describe(MT_BACKEND_NATIVE));
    return bench(64, 64, 16) | bench(1, 64, 16) | bench(16, 64, 16) | bench(1, 256, 64) |
           bench(8, 256, 64) | bench(256, 256, 64);
}
