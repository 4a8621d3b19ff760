/* ops_conv.c — conv2d on a tape. The backward is im2col + two GEMMs per
 * group on arena scratch:
 *   dW = im2col(x)ᵀ · dZ          [K, Cout/g]   (K = kh·kw·Cin/g)
 *   dX = col2im(dZ · Wᵀ)          [R, K] scattered back (R = N·OH·OW)
 *   db = Σ_rows dZ,   dZ = dY · act'(Z) (NONE or RELU).
 * The forward is mt_conv2d_into, except for an NHWC conv whose kernel needs
 * a gradient: it runs the same im2col + fused GEMM here and keeps the
 * patches, so dW needs no second im2col. im2col and col2im split images
 * over the matmul threads. */
#include <stdio.h>
#include <string.h>

#include "tape_internal.h"
#include "../tensor/native/native.h"
#include "../tensor/window.h"

/* The resolved geometry, saved on the tape as an I64 tensor. */
typedef struct conv_geom {
    int64_t n, h, w, cin, cout, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl, groups;
    int64_t hwio;     /* 1: HWIO kernel, 0: OIHW */
    int64_t layout;   /* mt_data_layout */
} conv_geom;

#define GEOM_WORDS ((int64_t)(sizeof(conv_geom) / sizeof(int64_t)))

/* The plain op's failure with op's name in front. The message is copied
 * first: mt_fail must not format its own buffer into itself. */
static mt_status refail(mt_status s, const char *op)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mt_last_error());
    return mt_fail(s, "%s: %s", op, msg);
}

static int64_t or_one(int64_t v) { return v == 0 ? 1 : v; }

/* Arena scratch left unzeroed: for buffers written whole before any read
 * (patches, GEMM results), 10 MB a step for the Fashion CNN. */
static mt_status scratch_raw(mt_tape *tape, const char *op, int rank, const int64_t *shape,
                             mt_tensor **out)
{
    mt_status s = mt_arena_tensor_uninit(tape->arena, MT_DTYPE_F32, rank, shape, out);
    return s ? refail(s, op) : MT_OK;
}

/* Does a kernel of shape k read as HWIO (or OIHW) fit cin, groups, bias? */
static bool fits(bool hwio, const int64_t *k, int64_t cin, int64_t groups,
                 const mt_tensor *bias)
{
    int64_t kin = hwio ? k[2] : k[1], kout = hwio ? k[3] : k[0];
    return kin * groups == cin && groups > 0 && kout % groups == 0 &&
           (!bias || bias->rank != 1 || bias->shape[0] == kout);
}

/* Output size and resolved pads; mt_conv2d_into checks the rest. */
static mt_status conv_geom_plan(const char *op, const mt_tensor *x, const mt_tensor *k,
                                const mt_tensor *bias, const mt_conv2d_params *p,
                                conv_geom *g)
{
    mt_status s;
    if ((s = mt_check_f32(op, x)) || (s = mt_check_f32(op, k)) ||
        (s = mt_check_data_layout(op, p->data_layout)))
        return s;
    if (x->rank != 4 || k->rank != 4)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s and kernel %s must be 4-D", op,
                       MT_SHAPE(x), MT_SHAPE(k));
    if (p->activation != MT_ACTIVATION_NONE && p->activation != MT_ACTIVATION_RELU)
        return mt_fail(MT_ERR_UNSUPPORTED, "%s: activation %s has no gradient here; use "
                       "NONE and a separate activation", op,
                       mt_activation_name(p->activation));
    mt_tensor xv;
    mt_nhwc_view(x, p->data_layout, &xv);
    *g = (conv_geom){.n = xv.shape[0], .h = xv.shape[1], .w = xv.shape[2],
                     .cin = xv.shape[3], .sh = or_one(p->stride_h), .sw = or_one(p->stride_w),
                     .dh = or_one(p->dilation_h), .dw = or_one(p->dilation_w),
                     .groups = or_one(p->groups), .layout = p->data_layout};
    bool hwio;
    if (p->kernel_layout == MT_KERNEL_AUTO) {
        bool h = fits(true, k->shape, g->cin, g->groups, bias);
        bool o = fits(false, k->shape, g->cin, g->groups, bias);
        if (h == o && mt_tensor_numel(k) > 1)
            return mt_fail(MT_ERR_SHAPE, "%s: kernel %s fits %s HWIO and OIHW for input %s "
                           "(groups %lld): set params.kernel_layout", op, MT_SHAPE(k),
                           h ? "both" : "neither", MT_SHAPE(x), (long long)g->groups);
        hwio = h;
    } else if (p->kernel_layout == MT_KERNEL_HWIO || p->kernel_layout == MT_KERNEL_OIHW) {
        hwio = p->kernel_layout == MT_KERNEL_HWIO;
    } else {
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown kernel_layout %d", op,
                       (int)p->kernel_layout);
    }
    g->hwio = hwio;
    g->cout = hwio ? k->shape[3] : k->shape[0];
    g->kh = hwio ? k->shape[0] : k->shape[2];
    g->kw = hwio ? k->shape[1] : k->shape[3];
    mt_window_axis ah = {.in = g->h, .k = g->kh, .stride = g->sh, .dilation = g->dh,
                         .pad_before = p->pad_top, .pad_after = p->pad_bottom};
    mt_window_axis aw = {.in = g->w, .k = g->kw, .stride = g->sw, .dilation = g->dw,
                         .pad_before = p->pad_left, .pad_after = p->pad_right};
    if ((s = mt_window_plan(op, "height", p->padding, false, &ah)) ||
        (s = mt_window_plan(op, "width", p->padding, false, &aw)))
        return s;
    g->oh = ah.out, g->ow = aw.out, g->pt = ah.pad_before, g->pl = aw.pad_before;
    return MT_OK;
}

/* ---- im2col / col2im over an NHWC view -------------------------------------------- *
 * One row per output pixel, K columns in the kernel's order: (i, j, c) for
 * HWIO, (c, i, j) for OIHW, c over group grp's channels. col2im adds the
 * rows back into the pixels they were read from. */

static void im2col(const conv_geom *g, const mt_tensor *x, int64_t grp, int64_t n0,
                   int64_t n1, float *cols)
{
    const float *px = x->data;
    const int64_t *st = x->stride, cg = g->cin / g->groups, c0 = grp * cg;
    const int64_t k = g->kh * g->kw * cg, cstep = g->hwio ? 1 : g->kh * g->kw;
    float *row = cols + n0 * g->oh * g->ow * k;
    for (int64_t n = n0; n < n1; n++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++, row += k)
                for (int64_t i = 0; i < g->kh; i++) {
                    int64_t iy = oy * g->sh - g->pt + i * g->dh;
                    for (int64_t j = 0; j < g->kw; j++) {
                        int64_t ix = ox * g->sw - g->pl + j * g->dw;
                        float *dst = row + (g->hwio ? (i * g->kw + j) * cg : i * g->kw + j);
                        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) {
                            for (int64_t c = 0; c < cg; c++)
                                dst[c * cstep] = 0.0f;
                            continue;
                        }
                        const float *src = px + n * st[0] + iy * st[1] + ix * st[2] + c0 * st[3];
                        if (cstep == 1 && st[3] == 1)
                            for (int64_t c = 0; c < cg; c++)
                                dst[c] = src[c];
                        else
                            for (int64_t c = 0; c < cg; c++)
                                dst[c * cstep] = src[c * st[3]];
                    }
                }
}

static void col2im_add(const conv_geom *g, const float *cols, int64_t grp, int64_t n0,
                       int64_t n1, mt_tensor *dx)
{
    float *px = dx->data;
    const int64_t *st = dx->stride, cg = g->cin / g->groups, c0 = grp * cg;
    const int64_t k = g->kh * g->kw * cg, cstep = g->hwio ? 1 : g->kh * g->kw;
    const float *row = cols + n0 * g->oh * g->ow * k;
    for (int64_t n = n0; n < n1; n++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++, row += k)
                for (int64_t i = 0; i < g->kh; i++) {
                    int64_t iy = oy * g->sh - g->pt + i * g->dh;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    for (int64_t j = 0; j < g->kw; j++) {
                        int64_t ix = ox * g->sw - g->pl + j * g->dw;
                        if (ix < 0 || ix >= g->w)
                            continue;
                        const float *src = row + (g->hwio ? (i * g->kw + j) * cg : i * g->kw + j);
                        float *dst = px + n * st[0] + iy * st[1] + ix * st[2] + c0 * st[3];
                        if (cstep == 1 && st[3] == 1)
                            for (int64_t c = 0; c < cg; c++)
                                dst[c] += src[c];
                        else
                            for (int64_t c = 0; c < cg; c++)
                                dst[c * st[3]] += src[c * cstep];
                    }
                }
}

/* Both split by images over the matmul threads (an image's rows and pixels
 * are its own: the parts never write the same memory). */
typedef struct col_job {
    const conv_geom *g;
    const mt_tensor *x;   /* im2col's input, or col2im's output */
    float *cols;
    int64_t grp;
    int parts;
    bool back;            /* col2im_add */
} col_job;

static void col_part(void *arg, int i)
{
    const col_job *j = arg;
    int64_t n0 = j->g->n * i / j->parts, n1 = j->g->n * (i + 1) / j->parts;
    if (j->back)
        col2im_add(j->g, j->cols, j->grp, n0, n1, (mt_tensor *)j->x);
    else
        im2col(j->g, j->x, j->grp, n0, n1, j->cols);
}

static void col_run(const conv_geom *g, const mt_tensor *x, int64_t grp, float *cols,
                    bool back)
{
    int threads = mt_num_threads_get();
    int parts = (int)(g->n < threads ? g->n : threads);
    parts = parts > 32 ? 32 : parts;
    col_job job = {g, x, cols, grp, parts, back};
    if (parts < 2 || !mt_pool_run(col_part, &job, parts, threads)) {
        job.parts = 1;
        col_part(&job, 0);
    }
}

/* ---- backward ------------------------------------------------------------------------ */

/* A kernel-shaped tensor as the [K, Cout] matrix whose rows follow the
 * column order of im2col: HWIO reshapes, OIHW reshapes to [Cout, K] and
 * transposes. Needs a contiguous kernel. */
static mt_status kernel_matrix(const conv_geom *g, const mt_tensor *t, mt_tensor *m)
{
    int64_t k = g->kh * g->kw * (g->cin / g->groups);
    if (g->hwio)
        return mt_view_into(t, 2, (int64_t[]){k, g->cout}, m);
    mt_tensor oi;
    mt_status s = mt_view_into(t, 2, (int64_t[]){g->cout, k}, &oi);
    return s ? s : mt_transpose_into(&oi, 0, 1, m);
}

/* dZ as a contiguous [R, Cout] matrix: dY masked by the ReLU and, for NCHW,
 * permuted to rows of pixels. */
static mt_status grad_rows(mt_tape *tape, const tape_node *n, const conv_geom *g,
                           mt_tensor *rows)
{
    const mt_tensor *dy = n->out->grad, *y = n->out->data;
    int64_t r = g->n * g->oh * g->ow;
    mt_status s;
    if (n->act != MT_ACTIVATION_RELU && g->layout == MT_DATA_LAYOUT_NHWC)
        return mt_view_into(dy, 2, (int64_t[]){r, g->cout}, rows);
    mt_tensor *z;
    if ((s = scratch_raw(tape, n->op, 4, (int64_t[]){g->n, g->oh, g->ow, g->cout}, &z)))
        return s;
    if (g->layout == MT_DATA_LAYOUT_NHWC) {   /* one pass: both are contiguous */
        const float *py = y->data, *pg = dy->data;
        float *pz = z->data;
        for (int64_t i = 0, count = r * g->cout; i < count; i++)
            pz[i] = py[i] > 0.0f ? pg[i] : 0.0f;
        return mt_view_into(z, 2, (int64_t[]){r, g->cout}, rows);
    }
    mt_tensor dyv, yv;
    mt_nhwc_view(dy, (mt_data_layout)g->layout, &dyv);
    mt_nhwc_view(y, (mt_data_layout)g->layout, &yv);
    if ((s = mt_tensor_copy_into(&dyv, z)))
        return s;
    if (n->act == MT_ACTIVATION_RELU) {
        /* y > 0 exactly where relu passed its input (as relu_backward) */
        float *pz = z->data;
        const float *py = yv.data;
        int64_t i = 0;
        for (int64_t a = 0; a < g->n; a++)
            for (int64_t b = 0; b < g->oh; b++)
                for (int64_t c = 0; c < g->ow; c++) {
                    const float *yp = py + a * yv.stride[0] + b * yv.stride[1] + c * yv.stride[2];
                    for (int64_t d = 0; d < g->cout; d++, i++)
                        if (!(yp[d * yv.stride[3]] > 0.0f))
                            pz[i] = 0.0f;
                }
    }
    return mt_view_into(z, 2, (int64_t[]){r, g->cout}, rows);
}

static mt_status bias_backward(mt_tape *tape, mt_value *bias, const mt_tensor *dz)
{
    mt_tensor *dst;
    mt_status s = mt_grad_target(tape, bias, &dst);
    if (s || !dst)
        return s;
    float *db = dst->data;
    const float *z = dz->data;
    int64_t rows = dz->shape[0], c = dz->shape[1];
    for (int64_t j = 0; j < c; j++)
        db[j] = 0.0f;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < c; j++)
            db[j] += z[i * c + j];
    return mt_grad_commit(tape, bias, dst);
}

static mt_status conv_backward(mt_tape *tape, const tape_node *n)
{
    conv_geom g;
    memcpy(&g, n->saved->data, sizeof g);
    mt_value *x = n->in[0], *kv = n->in[1], *bias = n->in[2];
    mt_tensor dz;
    mt_status s = grad_rows(tape, n, &g, &dz);
    if (s || (bias && (s = bias_backward(tape, bias, &dz))))
        return s;
    if (!x->requires_grad && !kv->requires_grad)
        return MT_OK;
    const int64_t og = g.cout / g.groups, kcols = g.kh * g.kw * (g.cin / g.groups);
    const int64_t r = g.n * g.oh * g.ow;
    mt_tensor *cols = NULL, *dk = NULL, *dx = NULL, *kc = NULL;
    mt_tensor km, dkm, xv, dxv;
    if ((s = mt_grad_target(tape, kv, &dk)) || (s = mt_grad_target(tape, x, &dx)))
        return s;
    /* [R, K]: the patches when the forward kept none, then dZ·Wᵀ */
    if ((!n->saved2 || dx) && (s = scratch_raw(tape, n->op, 2, (int64_t[]){r, kcols}, &cols)))
        return s;
    if (dk && (s = kernel_matrix(&g, dk, &dkm)))
        return s;
    if (dx) {   /* zeros (autograd.h: a gradient not live is zero): col2im adds */
        mt_nhwc_view(dx, (mt_data_layout)g.layout, &dxv);
        /* the kernel as a matrix: a strided kernel is copied once */
        if (kernel_matrix(&g, kv->data, &km)) {
            mt_clear_error();
            if ((s = mt_tape_scratch(tape, n->op, 4, kv->data->shape, &kc)) ||
                (s = mt_tensor_copy_into(kv->data, kc)) || (s = kernel_matrix(&g, kc, &km)))
                return s;
        }
    }
    mt_nhwc_view(x->data, (mt_data_layout)g.layout, &xv);
    for (int64_t grp = 0; grp < g.groups; grp++) {
        mt_tensor dzg, colst, dkg, kg, kgt;
        if ((s = mt_narrow_into(&dz, 1, grp * og, og, &dzg)))
            return s;
        if (dk) {
            /* the forward's patches when it kept them, else im2col again */
            mt_tensor *src = cols, kept;
            if (n->saved2) {
                mt_tensor_init_contiguous(&kept, MT_DTYPE_F32, 2, (int64_t[]){r, kcols},
                                          (float *)n->saved2->data + grp * r * kcols);
                src = &kept;
            } else {
                col_run(&g, &xv, grp, cols->data, false);
            }
            if ((s = mt_transpose_into(src, 0, 1, &colst)) ||
                (s = mt_narrow_into(&dkm, 1, grp * og, og, &dkg)) ||
                (s = mt_matmul_into(&colst, &dzg, &dkg)))
                return s;
        }
        if (dx) {
            if ((s = mt_narrow_into(&km, 1, grp * og, og, &kg)) ||
                (s = mt_transpose_into(&kg, 0, 1, &kgt)) ||
                (s = mt_matmul_into(&dzg, &kgt, cols)))
                return s;
            col_run(&g, &dxv, grp, cols->data, true);
        }
    }
    if ((s = mt_grad_commit(tape, kv, dk)))
        return s;
    return mt_grad_commit(tape, x, dx);
}

/* ---- forward ---------------------------------------------------------------------------- */

/* mt_conv2d_into's checks without its work: the call on no images. When
 * they fail, the full call fails the same way, naming the real shapes. */
static mt_status conv_check(const mt_tensor *x, const mt_tensor *kernel,
                            const mt_tensor *bias, const mt_conv2d_params *p, mt_tensor *y)
{
    mt_tensor x0, y0;
    if (!mt_narrow_into(x, 0, 0, 0, &x0) && !mt_narrow_into(y, 0, 0, 0, &y0) &&
        !mt_conv2d_into(&x0, kernel, bias, p, &y0))
        return MT_OK;
    mt_clear_error();
    return mt_conv2d_into(x, kernel, bias, p, y);
}

/* The conv of an NHWC input as mt_conv2d computes it (im2col + one fused
 * GEMM per group), with the patches [groups, R, K] left on the tape. */
static mt_status conv_forward_kept(mt_tape *tape, const char *op, const mt_tensor *x,
                                   const mt_tensor *kernel, const mt_tensor *bias,
                                   const mt_conv2d_params *p, const conv_geom *g,
                                   mt_tensor *y, mt_tensor **patches)
{
    mt_status s;
    const int64_t og = g->cout / g->groups, kcols = g->kh * g->kw * (g->cin / g->groups);
    const int64_t r = g->n * g->oh * g->ow;
    mt_tensor km, rows, *kc, *cols;
    if ((s = conv_check(x, kernel, bias, p, y)))
        return s;
    if ((s = scratch_raw(tape, op, 3, (int64_t[]){g->groups, r, kcols}, &cols)))
        return s;
    if (kernel_matrix(g, kernel, &km)) {   /* a strided kernel: copied once */
        mt_clear_error();
        if ((s = mt_tape_scratch(tape, op, 4, kernel->shape, &kc)) ||
            (s = mt_tensor_copy_into(kernel, kc)) || (s = kernel_matrix(g, kc, &km)))
            return s;
    }
    if ((s = mt_view_into(y, 2, (int64_t[]){r, g->cout}, &rows)))
        return s;
    for (int64_t grp = 0; grp < g->groups; grp++) {
        mt_tensor pg, kg, yg, bg;
        float *pdata = (float *)cols->data + grp * r * kcols;
        col_run(g, x, grp, pdata, false);
        mt_tensor_init_contiguous(&pg, MT_DTYPE_F32, 2, (int64_t[]){r, kcols}, pdata);
        if ((s = mt_narrow_into(&km, 1, grp * og, og, &kg)) ||
            (s = mt_narrow_into(&rows, 1, grp * og, og, &yg)) ||
            (bias && (s = mt_narrow_into(bias, 0, grp * og, og, &bg))) ||
            (s = mt_matmul_fused_into(&pg, &kg, bias ? &bg : NULL, p->activation, &yg)))
            return s;
    }
    *patches = cols;
    return MT_OK;
}

/* ---- entry ---------------------------------------------------------------------------- */

mt_status mt_tape_conv2d(mt_tape *tape, mt_value *x, mt_value *kernel, mt_value *bias,
                         const mt_conv2d_params *params, mt_value **out)
{
    const char *op = "tape_conv2d";
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x, kernel}, 2, out);
    if (s)
        return s;
    if (!params)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (bias && !bias->data)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: bias has no data", op);
    if (bias && (s = mt_tape_owns(op, tape, bias, "bias")))
        return s;
    const mt_tensor *tb = bias ? bias->data : NULL;
    conv_geom g;
    if ((s = conv_geom_plan(op, x->data, kernel->data, tb, params, &g)))
        return s;
    int64_t shape[4];
    mt_layout_shape(params->data_layout, g.n, g.oh, g.ow, g.cout, shape);
    mt_value *v;
    mt_tensor *saved;
    if ((s = mt_tape_value(tape, op, 4, shape, &v)))
        return s;
    mt_conv2d_params p = *params;
    p.kernel_layout = g.hwio ? MT_KERNEL_HWIO : MT_KERNEL_OIHW;
    mt_tensor *patches = NULL;
    /* mt_conv2d_into checks everything; an NHWC conv whose kernel needs a
     * gradient is then run here, keeping its patches for the backward */
    bool keep = g.layout == MT_DATA_LAYOUT_NHWC && kernel->requires_grad &&
                tape->grad_enabled;
    if (!keep && (s = mt_conv2d_into(x->data, kernel->data, tb, &p, v->data)))
        return refail(s, op);
    if (keep && (s = conv_forward_kept(tape, op, x->data, kernel->data, tb, params, &g,
                                       v->data, &patches)))
        return s;
    if ((s = mt_arena_tensor(tape->arena, MT_DTYPE_I64, 1, (int64_t[]){GEOM_WORDS}, &saved)))
        return refail(s, op);
    memcpy(saved->data, &g, sizeof g);
    tape_node node = {.op = op, .backward = conv_backward, .out = v,
                      .in = {x, kernel, bias}, .saved = saved, .saved2 = patches,
                      .act = params->activation};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}
