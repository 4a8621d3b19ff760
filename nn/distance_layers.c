/* distance_layers.c — PyTorch's nn.CosineSimilarity and nn.PairwiseDistance:
 * two inputs of one rank that broadcast (each dim equal or 1), reduced
 * along one dim. Each output entry is one pass over its two lanes, read
 * through views (expanded, the reduced dim moved last): no copies. */
#include <math.h>
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/view.h"

/* PairwiseDistance's keepdim; the dim, p and eps are in the layer's info
 * (dim, rate, eps) */
typedef struct distance_state {
    bool keepdim;
} distance_state;

/* The reduced dim of rank-r inputs: CosineSimilarity's dim (counted from
 * the end if negative), PairwiseDistance's -1, the last. */
static int reduced_dim(const mt_layer *l, int r)
{
    int dim = l->info.dim;
    return dim < 0 ? dim + r : dim;
}

static mt_status distance_infer(const mt_layer *l, int n, const mt_shape *in,
                                const char *const *from, mt_shape *out)
{
    const distance_state *st = l->state;
    char a[160], b[160];
    if (n != 2)
        return mt_fail(MT_ERR_SHAPE, "expects 2 inputs, given %d", n);
    for (int j = 0; j < 2; j++)
        if (in[j].dtype != MT_DTYPE_F32)
            return mt_fail(MT_ERR_DTYPE, "expects F32 inputs, %s gives %s", from[j],
                           mt_dtype_name(in[j].dtype));
    int r = in[0].rank;
    bool fits = in[1].rank == r;
    *out = (mt_shape){.dtype = MT_DTYPE_F32, .rank = r};
    for (int d = 0; fits && d < r; d++) {
        int64_t x = in[0].dim[d], y = in[1].dim[d];
        fits = x == y || x == 1 || y == 1;
        out->dim[d] = x == 1 ? y : x;
    }
    if (!fits)
        return mt_fail(MT_ERR_SHAPE, "expects inputs of one rank that broadcast (each dim "
                       "equal or 1), %s gives %s and %s gives %s", from[0],
                       mt_nn_shape_text(&in[0], a, sizeof a), from[1],
                       mt_nn_shape_text(&in[1], b, sizeof b));
    int d = reduced_dim(l, r);
    bool cosine = l->info.kind == MT_LAYER_COSINE_SIMILARITY;
    if (cosine && (d < 1 || d >= r))
        return mt_fail(MT_ERR_SHAPE, "dim %d is %s for the inputs %s", l->info.dim,
                       d == 0 ? "the batch" : "out of range",
                       mt_nn_shape_text(out, a, sizeof a));
    if (r < 2)
        return mt_fail(MT_ERR_SHAPE, "expects [N, …, D] (rank 2 or more), %s gives %s",
                       from[0], mt_nn_shape_text(&in[0], a, sizeof a));
    if (st->keepdim) {
        out->dim[d] = 1;
    } else {
        for (int i = d; i + 1 < r; i++)
            out->dim[i] = out->dim[i + 1];
        out->rank = r - 1;
    }
    return MT_OK;
}

/* |e|^p, a term of the p-norm's sum, as torch.norm takes it (p finite):
 * p = 0 counts the entries that are not 0. In float, as PyTorch forms it:
 * a term past FLT_MAX is inf, one below the smallest subnormal 0. */
static double norm_term(float p, float e)
{
    float v = fabsf(e);
    return p == 0.0f ? (double)(v != 0.0f)
           : p == 1.0f ? (double)v
           : p == 2.0f ? (double)(v * v)
                       : (double)powf(v, p);
}

/* The root of the sum, rounded to float first as PyTorch's F32 sum is (a
 * sum past FLT_MAX is inf). */
static float norm_finish(float p, double sum)
{
    double s = (double)(float)sum;
    return p == 0.0f || p == 1.0f ? (float)s
           : p == 2.0f             ? (float)sqrt(s)
                                   : (float)pow(s, 1.0 / (double)p);
}

static mt_status distance_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                  void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const mt_tensor *x = in[0], *y = in[1];
    int r = x->rank, d = reduced_dim(l, r);
    int64_t shape[MT_MAX_RANK];
    int perm[MT_MAX_RANK];
    for (int i = 0; i < r; i++) {
        shape[i] = x->shape[i] == 1 ? y->shape[i] : x->shape[i];
        perm[i] = i < d ? i : i + 1;   /* the others in order, d last */
    }
    perm[r - 1] = d;
    mt_tensor ex, ey, px, py;
    mt_status s = mt_expand_into(x, r, shape, &ex);
    if (!s)
        s = mt_expand_into(y, r, shape, &ey);
    if (!s)
        s = mt_permute_into(&ex, perm, &px);
    if (!s)
        s = mt_permute_into(&ey, perm, &py);
    if (s)
        return s;
    const int64_t len = shape[d], sx = px.stride[r - 1], sy = py.stride[r - 1];
    const int64_t count = mt_tensor_numel(out);
    float *o = out->data;
    int64_t index[MT_MAX_RANK] = {0};
    /* PyTorch 1.13 clamps each norm to eps (x / max(‖x‖, eps)); pairwise
     * adds eps to each difference: ‖x1 - x2 + eps‖_p. */
    const float eps = l->info.eps, p = l->info.rate;
    for (int64_t k = 0; k < count; k++) {
        int64_t ox = 0, oy = 0;
        for (int i = 0; i + 1 < r; i++) {
            ox += index[i] * px.stride[i];
            oy += index[i] * py.stride[i];
        }
        const float *a = (const float *)px.data + ox, *b = (const float *)py.data + oy;
        if (l->info.kind == MT_LAYER_COSINE_SIMILARITY) {
            /* the norms' squares and sums in float's range, as PyTorch's F32
             * linalg_vector_norm forms them: past FLT_MAX a norm is inf (the
             * output 0), a square below the smallest subnormal 0 */
            double ab = 0.0, aa = 0.0, bb = 0.0;
            for (int64_t i = 0; i < len; i++) {
                float u = a[i * sx], v = b[i * sy];
                ab += (double)u * (double)v;
                aa += (double)(u * u);
                bb += (double)(v * v);
            }
            double na = fmax(sqrt((double)(float)aa), (double)eps),
                   nb = fmax(sqrt((double)(float)bb), (double)eps);
            o[k] = (float)(ab / (na * nb));
        } else {
            /* the differences, in float as PyTorch forms them, one at a time */
            double acc = 0.0;
            float m = 0.0f;   /* p = ±inf: the largest / smallest |e|; a NaN stays */
            bool inf_p = isinf(p);
            for (int64_t i = 0; i < len; i++) {
                float e = (a[i * sx] - b[i * sy]) + eps;
                if (!inf_p) {
                    acc += norm_term(p, e);
                } else if (!isnan(m)) {
                    float v = fabsf(e);
                    if (i == 0 || isnan(v) || (p > 0 ? v > m : v < m))
                        m = v;
                }
            }
            o[k] = inf_p ? m : norm_finish(p, acc);
        }
        for (int i = r - 2; i >= 0 && ++index[i] == px.shape[i]; i--)
            index[i] = 0;
    }
    return MT_OK;
}

static const mt_layer_vtable distance_vtable = {
    .n_inputs = 2, .infer = distance_infer, .forward = distance_forward};

static mt_status distance_new(const char *op, mt_layer_kind kind, const char *name,
                              int dim, float p, float eps, distance_state st,
                              mt_layer **out)
{
    mt_layer *l = mt_nn_layer_alloc(op, &distance_vtable, kind, name, sizeof st);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    *(distance_state *)l->state = st;
    l->info.dim = dim;
    l->info.eps = eps;
    l->info.rate = p;
    *out = l;
    return MT_OK;
}

mt_status mt_cosine_similarity_new(int dim, float eps, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "cosine_similarity: out is NULL");
    *out = NULL;
    if (dim < -MT_MAX_RANK || dim >= MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "cosine_similarity: dim %d is out of range "
                       "-%d..%d", dim, MT_MAX_RANK, MT_MAX_RANK - 1);
    if (!(eps >= 0.0f) || isinf(eps))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "cosine_similarity: eps %g, expected finite "
                       "and >= 0", (double)eps);
    char name[48];
    snprintf(name, sizeof name, "cosine_similarity dim %d", dim);
    return distance_new("cosine_similarity", MT_LAYER_COSINE_SIMILARITY, name,
                        dim, 0.0f, eps, (distance_state){0}, out);
}

mt_status mt_pairwise_distance_new(float p, float eps, bool keepdim, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "pairwise_distance: out is NULL");
    *out = NULL;
    if (isnan(p) || !isfinite(eps))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "pairwise_distance: p %g, eps %g: expected p "
                       "not NaN and eps finite", (double)p, (double)eps);
    char name[48];
    snprintf(name, sizeof name, "pairwise_distance p %g", (double)p);
    return distance_new("pairwise_distance", MT_LAYER_PAIRWISE_DISTANCE, name,
                        -1, p, eps, (distance_state){.keepdim = keepdim}, out);
}
