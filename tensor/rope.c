/* rope.c — rotary position embedding (RoPE) over strided views: each pair
 * (a, b) of a head vector turned by the angle pos·theta^(-2i/d) (semantics
 * in attention.h). The angles are computed once per position and block of
 * pairs, then applied to every row (batch, head) at that position. */
#include <math.h>
#include <stdio.h>

#include "minitensor/attention.h"
#include "internal.h"

#define OP "rotary_embedding"
#define PAIR_BLOCK 64   /* angles on the stack per pass over the rows */

typedef struct rope_plan {
    int seq, last;            /* resolved dims */
    int64_t half;             /* pairs rotated: rotary_dim / 2 */
    int64_t offset;
    float theta;
    mt_rope_pairing pairing;
    mt_rope_scaling scaling;  /* defaults filled in */
    int n_other;              /* the dims other than seq and last */
    int other_dim[MT_MAX_RANK];
    int64_t other_shape[MT_MAX_RANK];
} rope_plan;

static float inv_freq(const rope_plan *p, int64_t i);

/* The scaling's fields checked, LLAMA3's zeroes replaced by Llama 3.1's
 * values. */
static mt_status check_scaling(mt_rope_scaling *sc)
{
    if ((unsigned)sc->type > MT_ROPE_SCALING_LLAMA3)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: scaling type %d is not NONE, LINEAR or "
                       "LLAMA3", OP, (int)sc->type);
    if (sc->type == MT_ROPE_SCALING_NONE)
        return MT_OK;
    if (!(sc->factor > 0.0f) || isinf(sc->factor))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: scaling factor %g must be finite and > 0",
                       OP, (double)sc->factor);
    if (sc->type == MT_ROPE_SCALING_LINEAR)
        return MT_OK;
    if (sc->low_freq_factor == 0.0f)
        sc->low_freq_factor = 1.0f;
    if (sc->high_freq_factor == 0.0f)
        sc->high_freq_factor = 4.0f;
    if (sc->original_max_position == 0)
        sc->original_max_position = 8192;
    if (!(sc->low_freq_factor > 0.0f) || !(sc->high_freq_factor > sc->low_freq_factor) ||
        isinf(sc->high_freq_factor) || sc->original_max_position < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: llama3 scaling needs finite 0 < "
                       "low_freq_factor < high_freq_factor and original_max_position > 0, "
                       "given %g, %g and %lld", OP, (double)sc->low_freq_factor,
                       (double)sc->high_freq_factor, (long long)sc->original_max_position);
    return MT_OK;
}

static mt_status plan_rope(const mt_tensor *x, int seq_dim, const mt_rope_options *o,
                           rope_plan *p)
{
    mt_rope_options opt = o ? *o : (mt_rope_options){0};
    mt_status s = mt_tensor_check(OP, "x", x);
    if (s || (s = mt_check_f32(OP, x)))
        return s;
    if (x->rank < 2)
        return mt_fail(MT_ERR_SHAPE, "%s: x %s needs rank >= 2 (positions, then the head dim "
                       "last)", OP, MT_SHAPE(x));
    p->last = x->rank - 1;
    if (!mt_dim_resolve(seq_dim, x->rank, &p->seq) || p->seq == p->last)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: seq_dim %d is not a dim of x %s other "
                       "than the last (the head dim)", OP, seq_dim, MT_SHAPE(x));
    if ((unsigned)opt.pairing > MT_ROPE_PAIRING_INTERLEAVED)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: pairing %d is not HALF or INTERLEAVED",
                       OP, (int)opt.pairing);
    if (opt.theta == 0.0f)
        opt.theta = 10000.0f;
    if (!(opt.theta > 0.0f) || isinf(opt.theta))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: theta %g must be finite and > 0", OP,
                       (double)opt.theta);
    if (opt.offset < 0 || opt.offset > INT64_MAX - x->shape[p->seq])
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: offset %lld is negative or its last "
                       "position (%lld steps) overflows", OP, (long long)opt.offset,
                       (long long)x->shape[p->seq]);
    if ((s = check_scaling(&opt.scaling)))
        return s;
    int64_t d = x->shape[p->last], rd = opt.rotary_dim ? opt.rotary_dim : d;
    if (rd < 0 || rd > d || rd % 2)
        return mt_fail(MT_ERR_SHAPE, "%s: x %s: the rotated dims (%s %lld) must be even and "
                       "at most the head dim %lld", OP, MT_SHAPE(x),
                       opt.rotary_dim ? "rotary_dim" : "head dim", (long long)rd,
                       (long long)d);
    p->half = rd / 2;
    p->offset = opt.offset;
    p->theta = opt.theta;
    p->pairing = opt.pairing;
    p->scaling = opt.scaling;
    // a tiny theta or scaling factor makes a frequency, or the angle of the
    // last position, overflow float: every cos and sin would be NaN
    // Without llama3's bands the frequencies are monotone in i: the two ends
    // bound them, and the check costs two powf per call, not one per pair
    float top = 0.0f;
    int64_t step = p->scaling.type == MT_ROPE_SCALING_LLAMA3 || p->half < 2 ? 1 : p->half - 1;
    for (int64_t i = 0; i < p->half; i += step) {
        float f = inv_freq(p, i);
        top = !(f <= top) ? f : top;   /* NaN and inf stay */
    }
    int64_t len = x->shape[p->seq];
    float last = len ? (float)(p->offset + len - 1) : 0.0f;
    if (!isfinite(top) || !isfinite(last * top)) {
        char factor[48] = "";
        if (p->scaling.type)
            snprintf(factor, sizeof factor, " and scaling factor %g",
                     (double)p->scaling.factor);
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: theta %g%s give frequencies up to %g: "
                       "the angles (up to position %lld) overflow float", OP,
                       (double)p->theta, factor, (double)top,
                       (long long)(len ? p->offset + len - 1 : 0));
    }
    p->n_other = 0;
    for (int k = 0; k < p->last; k++)
        if (k != p->seq) {
            p->other_dim[p->n_other] = k;
            p->other_shape[p->n_other++] = x->shape[k];
        }
    return MT_OK;
}

/* inv_freq of pair i in float32, step by step as transformers computes it
 * (where torch evaluates `scalar / tensor` as the tensor's reciprocal times
 * the scalar, and a Python scalar meets a float32 tensor as a float). */
static float inv_freq(const rope_plan *p, int64_t i)
{
    const mt_rope_scaling *sc = &p->scaling;
    float inv = 1.0f / powf(p->theta, (float)(2 * i) / (float)(2 * p->half));
    if (sc->type == MT_ROPE_SCALING_LINEAR)
        return inv / sc->factor;
    if (sc->type != MT_ROPE_SCALING_LLAMA3)
        return inv;
    double old = (double)sc->original_max_position;
    float wavelen = (1.0f / inv) * (float)(2.0 * 3.14159265358979323846);
    if (wavelen < (float)(old / sc->high_freq_factor))
        return inv;
    if (wavelen > (float)(old / sc->low_freq_factor))
        return inv / sc->factor;
    float smooth = ((1.0f / wavelen) * (float)old - sc->low_freq_factor) /
                   (float)((double)sc->high_freq_factor - (double)sc->low_freq_factor);
    return (1.0f - smooth) * inv / sc->factor + smooth * inv;
}

/* cos and sin of the angles of pairs i0 .. i0+n-1 at position pos, in
 * float32 as PyTorch's references (HF's LlamaRotaryEmbedding, llama2.c's
 * precompute_freqs_cis) compute them: inv_freq and the angle pos·inv_freq
 * each rounded to float, then cos and sin of it. */
static void angles(const rope_plan *p, int64_t pos, int64_t i0, int64_t n, float *c,
                   float *sn)
{
    float fpos = (float)pos;
    for (int64_t i = 0; i < n; i++) {
        double a = (double)(fpos * inv_freq(p, i0 + i));
        c[i] = (float)cos(a);
        sn[i] = (float)sin(a);
    }
}

/* The pairs of block i0 .. i0+n-1 of one row: x (stride xs) into o (os). */
static void rotate_row(const rope_plan *p, const float *x, int64_t xs, float *o, int64_t os,
                       int64_t i0, int64_t n, const float *c, const float *sn)
{
    // a's and b's element index, as stride multiples: HALF pairs i with
    // i + half, INTERLEAVED pairs 2i with 2i + 1
    int64_t step = p->pairing == MT_ROPE_PAIRING_HALF ? 1 : 2;
    int64_t gap = p->pairing == MT_ROPE_PAIRING_HALF ? p->half : 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t ia = (i0 + i) * step, ib = ia + gap;
        float a = x[ia * xs], b = x[ib * xs];
        o[ia * os] = a * c[i] - b * sn[i];
        o[ib * os] = b * c[i] + a * sn[i];
    }
}

static void apply(const rope_plan *p, const mt_tensor *x, mt_tensor *out)
{
    const float *xd = x->data;
    float *od = out->data;
    int64_t len = x->shape[p->seq], d = x->shape[p->last];
    int64_t xs = x->stride[p->last], os = out->stride[p->last];
    float c[PAIR_BLOCK], sn[PAIR_BLOCK];
    for (int64_t t = 0; t < len; t++) {
        int64_t xt = t * x->stride[p->seq], ot = t * out->stride[p->seq];
        for (int64_t i0 = 0; i0 < p->half; i0 += PAIR_BLOCK) {
            int64_t n = p->half - i0 < PAIR_BLOCK ? p->half - i0 : PAIR_BLOCK;
            angles(p, p->offset + t, i0, n, c, sn);
            int64_t idx[MT_MAX_RANK] = {0};
            do {
                int64_t xo = xt, oo = ot;
                for (int k = 0; k < p->n_other; k++) {
                    xo += idx[k] * x->stride[p->other_dim[k]];
                    oo += idx[k] * out->stride[p->other_dim[k]];
                }
                rotate_row(p, xd + xo, xs, od + oo, os, i0, n, c, sn);
                // the dims past rotary_dim pass through, once per row
                if (i0 == 0 && od + oo != xd + xo)
                    for (int64_t j = 2 * p->half; j < d; j++)
                        od[oo + j * os] = xd[xo + j * xs];
            } while (mt_index_next(p->n_other, p->other_shape, idx));
        }
    }
}

mt_status mt_rotary_embedding_into(const mt_tensor *x, int seq_dim,
                                   const mt_rope_options *options, mt_tensor *out)
{
    rope_plan p;
    mt_status s = plan_rope(x, seq_dim, options, &p);
    if (s || (s = mt_check_out(OP, out, MT_DTYPE_F32, x->rank, x->shape)))
        return s;
    if (!mt_tensors_same_view(x, out) && mt_tensors_overlap(x, out))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps x %s (only out == x, "
                       "the same view, may share its memory)", OP, MT_SHAPE(out),
                       MT_SHAPE(x));
    if (mt_tensor_numel(x) > 0)
        apply(&p, x, out);
    return MT_OK;
}

mt_status mt_rotary_embedding(const mt_tensor *x, int seq_dim, const mt_rope_options *options,
                              mt_tensor **out)
{
    rope_plan p;
    mt_status s = plan_rope(x, seq_dim, options, &p);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", OP);
    mt_tensor *r;
    if ((s = mt_tensor_alloc(OP, MT_DTYPE_F32, x->rank, x->shape, &r)))
        return s;
    if (mt_tensor_numel(x) > 0)
        apply(&p, x, r);
    *out = r;
    return MT_OK;
}
