/* optim.c — SGD, Adam and AdamW as torch.optim computes them. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "optim_internal.h"

mt_optimizer_options mt_optimizer_defaults(mt_optimizer_kind kind)
{
    mt_optimizer_options o = {.kind = kind, .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f,
                              .eps = 1e-8f};
    if (kind == MT_OPTIMIZER_SGD)
        o.lr = 0.01f;
    if (kind == MT_OPTIMIZER_ADAMW)
        o.weight_decay = 1e-2f;
    return o;
}

static mt_status check_options(const mt_optimizer_options *o)
{
    const char *bad = NULL;
    if ((unsigned)o->kind >= MT_OPTIMIZER_KIND_COUNT)
        bad = "kind";
    else if (!(o->lr >= 0.0f) || !isfinite(o->lr))   /* 0 is valid, as torch's */
        bad = "lr (must be >= 0)";
    else if (!(o->weight_decay >= 0.0f) || !isfinite(o->weight_decay))
        bad = "weight_decay (must be >= 0)";
    else if (o->kind == MT_OPTIMIZER_SGD && !(o->momentum >= 0.0f && isfinite(o->momentum)))
        bad = "momentum (must be >= 0)";
    else if (o->kind == MT_OPTIMIZER_SGD && !isfinite(o->dampening))
        bad = "dampening (must be finite)";
    else if (o->kind == MT_OPTIMIZER_SGD && o->nesterov &&
             (o->momentum <= 0.0f || o->dampening != 0.0f))
        bad = "nesterov (needs momentum > 0 and dampening 0)";
    else if (o->kind != MT_OPTIMIZER_SGD &&
             !(o->beta1 >= 0.0f && o->beta1 < 1.0f && o->beta2 >= 0.0f && o->beta2 < 1.0f))
        bad = "beta1/beta2 (must be in [0, 1))";
    else if (o->kind != MT_OPTIMIZER_SGD && !(o->eps >= 0.0f && isfinite(o->eps)))
        bad = "eps (must be >= 0)";
    return bad ? mt_fail(MT_ERR_INVALID_ARGUMENT, "optimizer_new: invalid %s", bad) : MT_OK;
}

void mt_optimizer_free(mt_optimizer *opt)
{
    if (!opt)
        return;
    for (int i = 0; i < opt->n; i++) {
        mt_tensor_free(opt->p[i].m);
        mt_tensor_free(opt->p[i].v);
    }
    mt_dealloc(opt->p);
    mt_dealloc(opt);
}

static mt_status state_tensor(const mt_value *param, mt_tensor **t)
{
    return mt_tensor_zeros(MT_DTYPE_F32, param->data->rank, param->data->shape, t);
}

mt_status mt_optimizer_new(const mt_optimizer_options *options, mt_value *const *params,
                           int n_params, mt_optimizer **out)
{
    const char *op = "optimizer_new";
    if (!options || !out || (!params && n_params))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: NULL argument", op);
    if (n_params < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: n_params %d < 0", op, n_params);
    mt_status s = check_options(options);
    if (s)
        return s;
    for (int i = 0; i < n_params; i++) {
        if (!params[i] || !params[i]->is_param_)
            return mt_fail(MT_ERR_INVALID_ARGUMENT,
                           "%s: params[%d] is not a parameter (mt_param_new)", op, i);
        /* twice (or with a shadow) it would be updated twice a step, and its
         * state tensors would share one checkpoint name */
        for (int j = 0; j < i; j++)
            if (params[j]->data == params[i]->data)
                return mt_fail(MT_ERR_INVALID_ARGUMENT,
                               "%s: params[%d] and params[%d] are the same parameter %s",
                               op, j, i, MT_SHAPE(params[i]->data));
    }
    mt_optimizer *opt = mt_alloc(sizeof *opt, _Alignof(mt_optimizer));
    param_state *p = n_params ? mt_alloc((size_t)n_params * sizeof *p, _Alignof(param_state))
                              : NULL;
    if (!opt || (n_params && !p)) {
        mt_dealloc(opt);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate", op);
    }
    if (n_params)
        memset(p, 0, (size_t)n_params * sizeof *p);
    *opt = (mt_optimizer){.o = *options, .n = n_params, .p = p};
    bool adam = options->kind != MT_OPTIMIZER_SGD;
    for (int i = 0; i < n_params && !s; i++) {
        p[i].param = params[i];
        const char *name = params[i]->data->name[0] ? params[i]->data->name : "param";
        snprintf(p[i].m_name, sizeof p[i].m_name, "%s.%s", name,
                 adam ? "exp_avg" : "momentum_buffer");
        snprintf(p[i].v_name, sizeof p[i].v_name, "%s.exp_avg_sq", name);
        if (adam || options->momentum != 0.0f)
            s = state_tensor(params[i], &p[i].m);
        if (!s && adam)
            s = state_tensor(params[i], &p[i].v);
    }
    if (s) {
        mt_optimizer_free(opt);
        return s;
    }
    *out = opt;
    return MT_OK;
}

/* The update loops read their scalars from locals and their arrays through
 * restrict pointers, so the compiler vectorises them; each element's
 * arithmetic is unchanged (torch.optim's order). */
static void sgd_update(const mt_optimizer_options *o, bool first, int64_t n,
                       float *restrict p, const float *restrict grad, float *restrict buf)
{
    const float lr = o->lr, wd = o->weight_decay, mom = o->momentum,
                damp = 1.0f - o->dampening;
    const bool nesterov = o->nesterov;
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i];
        if (wd != 0.0f)
            g = g + wd * p[i];
        if (buf) {
            buf[i] = first ? g : buf[i] * mom + damp * g;
            g = nesterov ? g + mom * buf[i] : buf[i];
        }
        p[i] = p[i] + (-lr) * g;
    }
}

/* One Adam element: torch.optim's arithmetic, in its order. */
static inline float adam_element(float g, float *m, float *v, float p, float b1, float c1,
                                 float b2, float c2, float bc2s, float eps, float step)
{
    *m = *m * b1 + c1 * g;
    *v = *v * b2 + c2 * (g * g);
    return p + step * (*m / (sqrtf(*v) / bc2s + eps));
}

static void adam_update(const mt_optimizer_options *o, int64_t t, int64_t n,
                        float *restrict p, const float *restrict grad, float *restrict m,
                        float *restrict v)
{
    /* the scalars in double, as Python computes them */
    double bc1 = 1.0 - pow((double)o->beta1, (double)t);
    double bc2_sqrt = sqrt(1.0 - pow((double)o->beta2, (double)t));
    const float step = -(float)((double)o->lr / bc1), bc2s = (float)bc2_sqrt;
    const float b1 = o->beta1, b2 = o->beta2, c1 = 1.0f - o->beta1, c2 = 1.0f - o->beta2,
                eps = o->eps;
    /* AdamW decays the weights first; Adam adds weight_decay·p to the gradient */
    const float wd = o->kind == MT_OPTIMIZER_ADAMW ? 0.0f : o->weight_decay;
    if (o->kind == MT_OPTIMIZER_ADAMW) {
        const float decay = (float)(1.0 - (double)o->lr * (double)o->weight_decay);
        for (int64_t i = 0; i < n; i++)
            p[i] *= decay;
    }
    int64_t i = 0;
#if defined(__SSE2__)
    /* The compiler will not vectorise sqrtf (it may set errno); sqrtps and
     * divps round exactly as sqrtf and / do, so the results are the same. */
    const __m128 vb1 = _mm_set1_ps(b1), vc1 = _mm_set1_ps(c1), vb2 = _mm_set1_ps(b2),
                 vc2 = _mm_set1_ps(c2), vbc = _mm_set1_ps(bc2s), veps = _mm_set1_ps(eps),
                 vstep = _mm_set1_ps(step), vwd = _mm_set1_ps(wd);
    for (; i + 4 <= n; i += 4) {
        __m128 g = _mm_loadu_ps(grad + i), pi = _mm_loadu_ps(p + i);
        if (wd != 0.0f)
            g = _mm_add_ps(g, _mm_mul_ps(vwd, pi));
        __m128 mi = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(m + i), vb1), _mm_mul_ps(vc1, g));
        __m128 vi = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + i), vb2),
                               _mm_mul_ps(vc2, _mm_mul_ps(g, g)));
        __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vi), vbc), veps);
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        _mm_storeu_ps(p + i, _mm_add_ps(pi, _mm_mul_ps(vstep, _mm_div_ps(mi, denom))));
    }
#endif
    for (; i < n; i++) {
        float g = wd != 0.0f ? grad[i] + wd * p[i] : grad[i];
        p[i] = adam_element(g, &m[i], &v[i], p[i], b1, c1, b2, c2, bc2s, eps, step);
    }
}

/* torch.optim and clip_grad_norm_ skip a parameter whose grad is None: here
 * one no backward has reached and whose gradient is all zero (a gradient
 * written by hand counts once it is not). */
static bool grad_none(const mt_value *param)
{
    if (param->grad_seen_)
        return false;
    const float *g = param->grad->data;
    for (int64_t i = 0, n = mt_tensor_numel(param->grad); i < n; i++)
        if (g[i] != 0.0f)
            return false;
    return true;
}

mt_status mt_optimizer_step(mt_optimizer *opt)
{
    if (!opt)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "optimizer_step: optimizer is NULL");
    opt->steps++;
    for (int i = 0; i < opt->n; i++) {
        param_state *ps = &opt->p[i];
        if (grad_none(ps->param))
            continue;   /* no update: no weight decay, state and step count unchanged */
        ps->steps++;
        int64_t n = mt_tensor_numel(ps->param->data);
        float *p = ps->param->data->data;
        const float *g = ps->param->grad->data;
        if (opt->o.kind == MT_OPTIMIZER_SGD)
            sgd_update(&opt->o, ps->steps == 1, n, p, g, ps->m ? ps->m->data : NULL);
        else
            adam_update(&opt->o, ps->steps, n, p, g, ps->m->data, ps->v->data);
    }
    return MT_OK;
}

void mt_optimizer_zero_grad(mt_optimizer *opt)
{
    if (!opt)
        return;
    for (int i = 0; i < opt->n; i++)
        mt_param_zero_grad(opt->p[i].param);
}

mt_status mt_optimizer_lr_set(mt_optimizer *opt, float lr)
{
    if (!opt)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "optimizer_lr_set: optimizer is NULL");
    /* 0: where a schedule ends (cosine down to min_lr 0), valid in torch */
    if (!(lr >= 0.0f) || !isfinite(lr))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "optimizer_lr_set: lr %g must be >= 0",
                       (double)lr);
    opt->o.lr = lr;
    return MT_OK;
}

mt_optimizer_options mt_optimizer_options_get(const mt_optimizer *opt)
{
    return opt ? opt->o : (mt_optimizer_options){0};
}

float mt_optimizer_lr_get(const mt_optimizer *opt) { return opt ? opt->o.lr : NAN; }

int64_t mt_optimizer_steps_get(const mt_optimizer *opt) { return opt ? opt->steps : -1; }

mt_status mt_optimizer_steps_set(mt_optimizer *opt, int64_t steps)
{
    // below 2^62, as a checkpoint's count: each step adds one
    if (!opt || steps < 0 || steps > INT64_MAX / 2)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "optimizer_steps_set: NULL optimizer or steps %lld not in 0..2^62-1",
                       (long long)steps);
    opt->steps = steps;
    for (int i = 0; i < opt->n; i++)
        opt->p[i].steps = steps;
    return MT_OK;
}

size_t mt_optimizer_state_count(const mt_optimizer *opt)
{
    if (!opt || opt->n == 0 || !opt->p[0].m)
        return 0;
    return (size_t)opt->n * (opt->o.kind == MT_OPTIMIZER_SGD ? 1u : 2u);
}

mt_status mt_optimizer_state_at(const mt_optimizer *opt, size_t index, const char **name,
                                mt_tensor **tensor)
{
    if (!opt || !name || !tensor)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "optimizer_state_at: NULL argument");
    size_t count = mt_optimizer_state_count(opt);
    if (index >= count)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "optimizer_state_at: index %zu, the optimizer has %zu state tensors",
                       index, count);
    size_t per = opt->o.kind == MT_OPTIMIZER_SGD ? 1u : 2u;
    const param_state *ps = &opt->p[index / per];
    bool second = index % per == 1;
    *name = second ? ps->v_name : ps->m_name;
    *tensor = second ? ps->v : ps->m;
    return MT_OK;
}

mt_status mt_grad_clip_norm(mt_value *const *params, int n_params, float max_norm,
                            float *total_norm)
{
    const char *op = "grad_clip_norm";
    if ((!params && n_params) || n_params < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: NULL params", op);
    if (!(max_norm > 0.0f))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: max_norm %g must be > 0", op,
                       (double)max_norm);
    double sq = 0.0;
    for (int i = 0; i < n_params; i++) {
        if (!params[i] || !params[i]->is_param_)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: params[%d] is not a parameter",
                           op, i);
        const float *g = params[i]->grad->data;
        for (int64_t k = 0, n = mt_tensor_numel(params[i]->grad); k < n; k++)
            sq += (double)g[k] * g[k];
    }
    float norm = (float)sqrt(sq);
    float coef = max_norm / (norm + 1e-6f);
    /* torch multiplies by clamp(coef, max=1): a NaN norm makes every
     * gradient NaN (an inf norm zeroes the finite ones) */
    if (coef < 1.0f || isnan(coef))
        for (int i = 0; i < n_params; i++) {
            if (grad_none(params[i]))
                continue;
            float *g = params[i]->grad->data;
            for (int64_t k = 0, n = mt_tensor_numel(params[i]->grad); k < n; k++)
                g[k] *= coef;
        }
    if (total_norm)
        *total_norm = norm;
    return MT_OK;
}

float mt_lr_step_decay(float base, int64_t step, int64_t step_size, float gamma)
{
    if (step < 0 || step_size < 1)
        return NAN;
    return (float)((double)base * pow((double)gamma, (double)(step / step_size)));
}

float mt_lr_cosine_warmup(float base, int64_t step, int64_t warmup, int64_t total_steps,
                          float min_lr)
{
    if (step < 0 || warmup < 0 || total_steps <= warmup)
        return NAN;
    if (step < warmup)
        return (float)((double)base * (double)(step + 1) / (double)(warmup + 1));
    if (step > total_steps)
        return min_lr;
    double ratio = (double)(step - warmup) / (double)(total_steps - warmup);
    double coeff = 0.5 * (1.0 + cos(3.141592653589793 * ratio));
    return (float)(min_lr + coeff * ((double)base - min_lr));
}
