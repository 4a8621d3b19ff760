/* ops_unary.c — every unary op and activation on a tape, generated from
 * MT_UNARY_OPS (tensor/unary_ops.h): one row gives the forward (its scalar
 * function) and the backward (its derivative column). */
#include <string.h>

#include "tape_ops_internal.h"
#include "../tensor/unary_ops.h"

typedef float (*scalar_fn)(float x, float p, float q);
typedef float (*deriv_fn)(float x, float y, float p, float q);

typedef struct unary_def {
    const char *op;
    scalar_fn f;
    deriv_fn d;
} unary_def;

#define UNARY_INDEX(name, params, kind, act, fn, grad) UNARY_##name,
enum { MT_UNARY_OPS(UNARY_INDEX) UNARY_COUNT };

#define UNARY_DEF(name, params, kind, act, fn, grad) [UNARY_##name] = {"tape_" #name, fn, grad},
static const unary_def unary_defs[UNARY_COUNT] = {MT_UNARY_OPS(UNARY_DEF)};

/* x's element k in row-major order: contiguous x directly, any other strides
 * through the multi-index `index` (advanced by the caller's walk). */
#define WALK(x, n, body)                                                       \
    do {                                                                       \
        if (mt_tensor_is_contiguous(x)) {                                      \
            const float *xs_ = (x)->data;                                      \
            for (int64_t k = 0; k < (n); k++) {                                \
                float xv = xs_[k];                                             \
                body;                                                          \
            }                                                                  \
        } else if ((n) > 0) {                                                  \
            int64_t index_[MT_MAX_RANK] = {0}, k = 0;                          \
            do {                                                               \
                float xv = *(const float *)mt_element_ptr((x), index_);        \
                body;                                                          \
                k++;                                                           \
            } while (mt_index_next((x)->rank, (x)->shape, index_));            \
        }                                                                      \
    } while (0)

/* The node's integer: the row (high 32 bits) and q's bits (low 32). */
static int64_t pack(int row, float q)
{
    uint32_t bits;
    memcpy(&bits, &q, sizeof bits);
    return (int64_t)row << 32 | bits;
}

static mt_status unary_backward(mt_tape *tape, const tape_node *n)
{
    mt_value *x = n->in[0];
    mt_tensor *dst;
    mt_status s = mt_grad_target(tape, x, &dst);
    if (s || !dst)
        return s;
    const unary_def *def = &unary_defs[n->i >> 32];
    uint32_t bits = (uint32_t)(n->i & 0xffffffff);
    float p = n->f, q;
    memcpy(&q, &bits, sizeof q);
    const float *y = n->out->data->data, *g = n->out->grad->data;
    float *d = dst->data;
    int64_t count = mt_tensor_numel(dst);
    WALK(x->data, count, d[k] = g[k] * def->d(xv, y[k], p, q));
    return mt_grad_commit(tape, x, dst);
}

static mt_status unary(int row, mt_tape *tape, mt_value *x, float p, float q, mt_value **out)
{
    const unary_def *def = &unary_defs[row];
    mt_status s = mt_tape_check(def->op, tape, (const mt_value *[]){x}, 1, out);
    if (s || (s = mt_check_f32(def->op, x->data)))
        return s;
    mt_value *v;
    if ((s = mt_tape_value(tape, def->op, x->data->rank, x->data->shape, &v)))
        return s;
    float *y = v->data->data;
    int64_t count = mt_tensor_numel(v->data);
    WALK(x->data, count, y[k] = def->f(xv, p, q));
    tape_node node = {.op = def->op, .backward = unary_backward, .out = v, .in = {x},
                      .f = p, .i = pack(row, q)};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}

#define TAPE_UNARY_0(name)                                                    \
    mt_status mt_tape_##name(mt_tape *tape, mt_value *x, mt_value **out)      \
    { return unary(UNARY_##name, tape, x, 0.0f, 0.0f, out); }
#define TAPE_UNARY_1(name)                                                    \
    mt_status mt_tape_##name(mt_tape *tape, mt_value *x, float p, mt_value **out) \
    { return unary(UNARY_##name, tape, x, p, 0.0f, out); }
#define TAPE_UNARY_2(name)                                                    \
    mt_status mt_tape_##name(mt_tape *tape, mt_value *x, float p, float q,    \
                             mt_value **out)                                  \
    { return unary(UNARY_##name, tape, x, p, q, out); }
#define TAPE_UNARY(name, params, kind, act, fn, grad) TAPE_UNARY_##params(name)
MT_UNARY_OPS(TAPE_UNARY)

/* ---- activations for the fused linear layer --------------------------------- */

#define ACT_DERIV(name, params, kind, act, fn, grad) ACT_DERIV_##kind(act, grad)
#define ACT_DERIV_ACT(act, grad) [MT_ACTIVATION_##act] = grad,
#define ACT_DERIV_OP(act, grad)
static const deriv_fn activation_derivs[MT_ACTIVATION_COUNT] = {MT_UNARY_OPS(ACT_DERIV)};

void mt_tape_activation_backward(mt_activation act, const mt_tensor *z, const mt_tensor *y,
                                 const mt_tensor *g, mt_tensor *dz)
{
    deriv_fn d = activation_derivs[act];
    const float *pz = z->data, *py = y->data, *pg = g->data;
    float *out = dz->data;
    for (int64_t k = 0, count = mt_tensor_numel(dz); k < count; k++)
        out[k] = pg[k] * d(pz[k], py[k], 0.0f, 0.0f);
}
