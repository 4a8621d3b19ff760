/* lrn_layer.c — PyTorch's nn.LocalResponseNorm (AlexNet) on channels-last
 * activations [N, …, C]: each value divided by (k + alpha/size · Σ x²)^beta,
 * the sum over the `size` channels around it (cut at the edges, still
 * divided by size: PyTorch's zero padding and average pool). */
#include <math.h>
#include <stdio.h>

#include "layer_internal.h"

typedef struct lrn_state {
    int64_t size;
    float alpha, beta, k;
} lrn_state;

static mt_status lrn_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    char a[160];
    if (in->rank < 3)
        return mt_fail(MT_ERR_SHAPE, "expects [N, …, C] with 3 dims or more (PyTorch's 3-D "
                       "or more input), %s gives %s", from[0],
                       mt_nn_shape_text(in, a, sizeof a));
    return mt_nn_infer_same_f32(l, n, in, from, out);
}

static mt_status lrn_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const lrn_state *st = l->state;
    const mt_tensor *x = in[0];
    const int r = x->rank;
    const int64_t c = x->shape[r - 1], sc = x->stride[r - 1];
    const int64_t before = st->size / 2, after = (st->size - 1) / 2;
    const int64_t count = c ? mt_tensor_numel(out) / c : 0;
    const double scale = (double)st->alpha / (double)st->size;
    int64_t index[MT_MAX_RANK] = {0};
    float *o = out->data;
    for (int64_t p = 0; p < count; p++, o += c) {
        int64_t off = 0;
        for (int i = 0; i + 1 < r; i++)
            off += index[i] * x->stride[i];
        const float *a = (const float *)x->data + off;
        for (int64_t ch = 0; ch < c; ch++) {
            int64_t lo = ch - before < 0 ? 0 : ch - before;
            int64_t hi = ch + after >= c ? c - 1 : ch + after;
            /* squares and their sum in float's range, as PyTorch forms them
             * (x·x and avg_pool's sum in F32): a square past FLT_MAX is inf
             * (the output 0), one below its smallest subnormal 0 */
            double sum = 0.0;
            for (int64_t j = lo; j <= hi; j++)
                sum += (double)(a[j * sc] * a[j * sc]);
            double div = pow((double)st->k + scale * (double)(float)sum, (double)st->beta);
            o[ch] = (float)((double)a[ch * sc] / div);
        }
        for (int i = r - 2; i >= 0 && ++index[i] == x->shape[i]; i--)
            index[i] = 0;
    }
    return MT_OK;
}

static const mt_layer_vtable lrn_vtable = {
    .n_inputs = 1, .infer = lrn_infer, .forward = lrn_forward};

mt_status mt_local_response_norm_new(int64_t size, float alpha, float beta, float k,
                                     mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "local_response_norm: out is NULL");
    *out = NULL;
    if (size < 1 || !isfinite(alpha) || !isfinite(beta) || !isfinite(k))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "local_response_norm: size %lld, alpha %g, "
                       "beta %g, k %g: expected size >= 1 and finite values",
                       (long long)size, (double)alpha, (double)beta, (double)k);
    char name[96];
    snprintf(name, sizeof name, "local_response_norm %lld", (long long)size);
    mt_layer *l = mt_nn_layer_alloc("local_response_norm", &lrn_vtable,
                                    MT_LAYER_LOCAL_RESPONSE_NORM, name, sizeof(lrn_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    *(lrn_state *)l->state = (lrn_state){size, alpha, beta, k};
    l->info.kernel_w = size;
    l->info.rate = alpha;
    *out = l;
    return MT_OK;
}
