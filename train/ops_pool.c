/* ops_pool.c — max, average and global-average pooling on a tape. The
 * forwards are pool.h's ops; the backwards walk the same windows over NHWC
 * views (NCHW is a permuted view), channels innermost. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tape_internal.h"
#include "../tensor/native/native.h"
#include "../tensor/window.h"

/* The plain op's failure with op's name in front. The message is copied
 * first: mt_fail must not format its own buffer into itself. */
static mt_status refail(mt_status s, const char *op)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mt_last_error());
    return mt_fail(s, "%s: %s", op, msg);
}

/* What a pooling backward needs, saved on the tape as an I64 tensor. */
typedef struct pool_geom {
    mt_window_axis ah, aw;
    int64_t layout;             /* mt_data_layout */
    int64_t count_include_pad;
} pool_geom;

#define POOL_WORDS ((int64_t)(sizeof(pool_geom) / sizeof(int64_t)))

/* Window sizes as pool.c plans them; the op itself checks everything else. */
static mt_status pool_geom_plan(const char *op, const mt_tensor *x, const mt_pool2d_params *p,
                                pool_geom *g)
{
    mt_status s;
    if ((s = mt_check_f32(op, x)) || (s = mt_check_data_layout(op, p->data_layout)))
        return s;
    if (x->rank != 4)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s must be 4-D", op, MT_SHAPE(x));
    mt_tensor v;
    mt_nhwc_view(x, p->data_layout, &v);
    *g = (pool_geom){
        .ah = {.in = v.shape[1], .k = p->pool_h, .dilation = p->dilation_h ? p->dilation_h : 1,
               .stride = p->stride_h ? p->stride_h : p->pool_h,
               .pad_before = p->pad_top, .pad_after = p->pad_bottom},
        .aw = {.in = v.shape[2], .k = p->pool_w, .dilation = p->dilation_w ? p->dilation_w : 1,
               .stride = p->stride_w ? p->stride_w : p->pool_w,
               .pad_before = p->pad_left, .pad_after = p->pad_right},
        .layout = p->data_layout, .count_include_pad = p->count_include_pad};
    if ((s = mt_window_plan(op, "height", p->padding, p->ceil_mode, &g->ah)) ||
        (s = mt_window_plan(op, "width", p->padding, p->ceil_mode, &g->aw)))
        return s;
    if (g->ah.k > INT32_MAX / g->aw.k)   /* the backward numbers window pixels in int32 */
        return mt_fail(MT_ERR_OVERFLOW, "%s: a %lldx%lld window has too many pixels", op,
                       (long long)g->ah.k, (long long)g->aw.k);
    return MT_OK;
}

/* Views of x, of x's gradient (zeros) and of the output's gradient, NHWC. */
typedef struct pool_views {
    mt_tensor x, dx, dy;
    mt_tensor *dst;
} pool_views;

static mt_status pool_views_of(mt_tape *tape, const tape_node *n, mt_data_layout layout,
                               pool_views *v)
{
    /* dst holds zeros (autograd.h: a gradient not live is zero) */
    mt_status s = mt_grad_target(tape, n->in[0], &v->dst);
    if (s || !v->dst)
        return s;
    mt_nhwc_view(n->in[0]->data, layout, &v->x);
    mt_nhwc_view(v->dst, layout, &v->dx);
    const mt_tensor *dy = n->out->grad;
    if (dy->rank == 2) {   /* global pooling without keepdims: [N,C] as [N,1,1,C] */
        v->dy = *dy;
        v->dy.rank = 4;
        v->dy.shape[3] = dy->shape[1], v->dy.stride[3] = dy->stride[1];
        v->dy.shape[1] = v->dy.shape[2] = 1;
        v->dy.stride[1] = v->dy.stride[2] = 0;
    } else {
        mt_nhwc_view(dy, layout, &v->dy);
    }
    return MT_OK;
}

#define AT(t, a, b, c) ((float *)(t).data + (a) * (t).stride[0] + (b) * (t).stride[1] + \
                        (c) * (t).stride[2])

/* Channels where px beats best (or is NaN) take px and window position w.
 * Selects on same-width types through restrict pointers, not branches: the
 * loop vectorises (SSE2 included). */
static inline void take_max(int64_t ch, const float *restrict px, float *restrict best,
                            int32_t *restrict at, int32_t w)
{
    for (int64_t c = 0; c < ch; c++) {
        float val = px[c];
        bool take = val > best[c] || val != val;
        best[c] = take ? val : best[c];
        at[c] = take ? w : at[c];
    }
}

/* The gradient goes to the window's maximum: the first one, or the last NaN
 * (torch's CPU max_pool2d: `val > max || isnan(val)` from -inf). Windows
 * are walked pixel by pixel with the channels innermost, each channel's
 * best value and window position kept in arena scratch; images are split
 * over the matmul threads (each writes its own images' gradient). */
typedef struct max_job {
    const pool_geom *g;
    const pool_views *v;
    float *best;       /* [parts, C] */
    int32_t *at;       /* [parts, C]: i * kw + j of the winner (fits: pool_geom_plan) */
    int parts;
} max_job;

static void maxpool_part(void *arg, int part)
{
    const max_job *job = arg;
    const pool_views *v = job->v;
    const mt_window_axis *ah = &job->g->ah, *aw = &job->g->aw;
    const int64_t ch = v->x.shape[3], sx = v->x.stride[3], sd = v->dx.stride[3];
    float *best = job->best + part * ch;
    int32_t *at = job->at + part * ch;
    const int64_t b0 = v->x.shape[0] * part / job->parts;
    const int64_t b1 = v->x.shape[0] * (part + 1) / job->parts;
    for (int64_t b = b0; b < b1; b++)
        for (int64_t oy = 0; oy < ah->out; oy++)
            for (int64_t ox = 0; ox < aw->out; ox++) {
                const int64_t y0 = oy * ah->stride - ah->pad_before;
                const int64_t x0 = ox * aw->stride - aw->pad_before;
                bool first = true;
                for (int64_t i = 0; i < ah->k; i++) {
                    int64_t iy = y0 + i * ah->dilation;
                    if (iy < 0 || iy >= ah->in)
                        continue;
                    for (int64_t j = 0; j < aw->k; j++) {
                        int64_t ix = x0 + j * aw->dilation;
                        if (ix < 0 || ix >= aw->in)
                            continue;
                        const float *px = AT(v->x, b, iy, ix);
                        int32_t w = (int32_t)(i * aw->k + j);
                        if (first) {
                            for (int64_t c = 0; c < ch; c++)
                                best[c] = px[c * sx], at[c] = w;
                            first = false;
                        } else if (sx == 1) {
                            take_max(ch, px, best, at, w);
                        } else {
                            for (int64_t c = 0; c < ch; c++)
                                take_max(1, px + c * sx, best + c, at + c, w);
                        }
                    }
                }
                if (first)
                    continue;   /* a window over padding only */
                const float *gy = AT(v->dy, b, oy, ox);
                for (int64_t c = 0; c < ch; c++) {
                    int64_t iy = y0 + at[c] / aw->k * ah->dilation;
                    int64_t ix = x0 + at[c] % aw->k * aw->dilation;
                    AT(v->dx, b, iy, ix)[c * sd] += gy[c * v->dy.stride[3]];
                }
            }
}

static mt_status maxpool_backward(mt_tape *tape, const tape_node *n)
{
    pool_geom g;
    memcpy(&g, n->saved->data, sizeof g);
    pool_views v;
    mt_status s = pool_views_of(tape, n, (mt_data_layout)g.layout, &v);
    if (s || !v.dst)
        return s;
    int threads = mt_num_threads_get();
    int64_t images = v.x.shape[0];
    int parts = (int)(images < threads ? images : threads);
    parts = parts < 1 ? 1 : parts > 32 ? 32 : parts;
    const int64_t shape[2] = {parts, v.x.shape[3]};
    mt_tensor *best, *at;
    if ((s = mt_tape_scratch(tape, n->op, 2, shape, &best)) ||
        (s = mt_arena_tensor(tape->arena, MT_DTYPE_I32, 2, shape, &at)))
        return s;
    max_job job = {&g, &v, best->data, at->data, parts};
    if (parts < 2 || !mt_pool_run(maxpool_part, &job, parts, threads)) {
        for (int i = 0; i < parts; i++)
            maxpool_part(&job, i);
    }
    return mt_grad_commit(tape, n->in[0], v.dst);
}

/* Rows [lo, hi) of the window starting at `start` and its divisor length
 * with the pads (pool.c's avg_span). */
static void avg_span(const mt_window_axis *a, int64_t start, int64_t *lo, int64_t *hi,
                     int64_t *size)
{
    int64_t end = start + a->k < a->in + a->pad_after ? start + a->k : a->in + a->pad_after;
    *size = end - start;
    *lo = start < 0 ? 0 : start;
    *hi = end > a->in ? a->in : end;
}

static mt_status avgpool_backward(mt_tape *tape, const tape_node *n)
{
    pool_geom g;
    memcpy(&g, n->saved->data, sizeof g);
    pool_views v;
    mt_status s = pool_views_of(tape, n, (mt_data_layout)g.layout, &v);
    if (s || !v.dst)
        return s;
    const mt_window_axis *ah = &g.ah, *aw = &g.aw;
    const int64_t ch = v.x.shape[3], sd = v.dx.stride[3], sy = v.dy.stride[3];
    for (int64_t b = 0; b < v.x.shape[0]; b++)
        for (int64_t oy = 0; oy < ah->out; oy++)
            for (int64_t ox = 0; ox < aw->out; ox++) {
                int64_t y0, y1, x0, x1, hy, hx;
                avg_span(ah, oy * ah->stride - ah->pad_before, &y0, &y1, &hy);
                avg_span(aw, ox * aw->stride - aw->pad_before, &x0, &x1, &hx);
                float inv = 1.0f / (float)(g.count_include_pad ? hy * hx
                                                                : (y1 - y0) * (x1 - x0));
                const float *gy = AT(v.dy, b, oy, ox);
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++) {
                        float *d = AT(v.dx, b, iy, ix);
                        for (int64_t c = 0; c < ch; c++)
                            d[c * sd] += gy[c * sy] * inv;
                    }
            }
    return mt_grad_commit(tape, n->in[0], v.dst);
}

/* Every pixel gets its image's channel gradient / (H·W). */
static mt_status global_backward(mt_tape *tape, const tape_node *n)
{
    pool_views v;
    mt_status s = pool_views_of(tape, n, (mt_data_layout)n->i, &v);
    if (s || !v.dst)
        return s;
    const int64_t h = v.x.shape[1], w = v.x.shape[2], ch = v.x.shape[3];
    const float inv = 1.0f / (float)(h * w);
    for (int64_t b = 0; b < v.x.shape[0]; b++) {
        const float *gy = AT(v.dy, b, 0, 0);
        for (int64_t iy = 0; iy < h; iy++)
            for (int64_t ix = 0; ix < w; ix++) {
                float *d = AT(v.dx, b, iy, ix);
                for (int64_t c = 0; c < ch; c++)
                    d[c * v.dx.stride[3]] = gy[c * v.dy.stride[3]] * inv;
            }
    }
    return mt_grad_commit(tape, n->in[0], v.dst);
}

/* ---- forwards ------------------------------------------------------------------------ */

static mt_status pool(const char *op, bool avg, mt_tape *tape, mt_value *x,
                      const mt_pool2d_params *p, mt_value **out)
{
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, out);
    if (s)
        return s;
    if (!p)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    pool_geom g;
    if ((s = pool_geom_plan(op, x->data, p, &g)))
        return s;
    int64_t shape[4];
    mt_layout_shape(p->data_layout, x->data->shape[0], g.ah.out, g.aw.out,
                    p->data_layout == MT_DATA_LAYOUT_NCHW ? x->data->shape[1]
                                                          : x->data->shape[3], shape);
    mt_value *v;
    mt_tensor *saved;
    if ((s = mt_tape_value(tape, op, 4, shape, &v)))
        return s;
    s = avg ? mt_avg_pool2d_into(x->data, p, v->data) : mt_max_pool2d_into(x->data, p, v->data);
    if (s)
        return refail(s, op);
    if ((s = mt_arena_tensor(tape->arena, MT_DTYPE_I64, 1, (int64_t[]){POOL_WORDS}, &saved)))
        return refail(s, op);
    memcpy(saved->data, &g, sizeof g);
    tape_node node = {.op = op, .backward = avg ? avgpool_backward : maxpool_backward,
                      .out = v, .in = {x}, .saved = saved};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}

mt_status mt_tape_max_pool2d(mt_tape *tape, mt_value *x, const mt_pool2d_params *params,
                            mt_value **out)
{ return pool("tape_max_pool2d", false, tape, x, params, out); }

mt_status mt_tape_avg_pool2d(mt_tape *tape, mt_value *x, const mt_pool2d_params *params,
                             mt_value **out)
{ return pool("tape_avg_pool2d", true, tape, x, params, out); }

mt_status mt_tape_global_avg_pool2d(mt_tape *tape, mt_value *x, mt_data_layout layout,
                                    bool keepdims, mt_value **out)
{
    const char *op = "tape_global_avg_pool2d";
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, out);
    if (s || (s = mt_check_f32(op, x->data)) || (s = mt_check_data_layout(op, layout)))
        return s;
    const mt_tensor *t = x->data;
    if (t->rank != 4)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s must be 4-D", op, MT_SHAPE(t));
    mt_tensor xv;
    mt_nhwc_view(t, layout, &xv);
    int64_t shape[4];
    int rank = keepdims ? 4 : 2;
    if (keepdims)
        mt_layout_shape(layout, xv.shape[0], 1, 1, xv.shape[3], shape);
    else
        shape[0] = xv.shape[0], shape[1] = xv.shape[3];
    mt_value *v;
    if ((s = mt_tape_value(tape, op, rank, shape, &v)) ||
        (s = mt_global_avg_pool2d_into(t, layout, keepdims, v->data)))
        return s;
    tape_node node = {.op = op, .backward = global_backward, .out = v, .in = {x},
                      .i = layout};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}
