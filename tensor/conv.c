/* conv.c — conv2d / conv1d as im2col + one fused GEMM per chunk of images
 * and group. */
#include <assert.h>
#include <string.h>

#include "minitensor/conv.h"
#include "minitensor/view.h"
#include "internal.h"
#include "unary_ops.h"
#include "backend_select.h"
#include "conv_rows.h"
#include "native/native.h"

/* Patch buffers are kept near 2 MiB so a chunk of them stays in cache. */
#define PATCH_CHUNK_FLOATS (512 * 1024)

mt_status mt_conv_output_size(int64_t in, int64_t k, int64_t stride,
                              mt_padding padding, int64_t *out)
{
    const char *op = "conv_output_size";
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    if (padding == MT_PADDING_EXPLICIT)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: padding must be VALID or SAME "
                       "(EXPLICIT pads are not arguments here)", op);
    mt_window_axis a = {.in = in, .k = k, .stride = stride, .dilation = 1};
    mt_status s = mt_window_plan(op, "axis", padding, false, &a);
    if (s)
        return s;
    *out = a.out;
    return MT_OK;
}

/* ---- planning ------------------------------------------------------------------ */

static int64_t or_one(int64_t v) { return v == 0 ? 1 : v; }

/* The failure of a kernel (dilated) larger than axis a of the padded
 * input, as PyTorch raises it (an empty output is no answer). conv1d runs
 * as a conv2d over a unit height: its message names the length and the
 * caller's 3-D input. */
static mt_status window_too_large(const char *op, const mt_tensor *input,
                                  mt_data_layout layout, const mt_window_axis *a,
                                  const char *axis)
{
    mt_tensor shown = *input;
    if (strcmp(op, "conv1d") == 0) {
        const int unit = layout == MT_DATA_LAYOUT_NCHW ? 2 : 1;
        for (int d = unit; d < 3; d++)
            shown.shape[d] = input->shape[d + 1], shown.stride[d] = input->stride[d + 1];
        shown.rank = 3;
        axis = "length";
    }
    return mt_fail(MT_ERR_SHAPE, "%s: the kernel %lld (dilation %lld) is larger than the %s "
                   "%lld of input %s plus its pads (%lld, %lld)", op, (long long)a->k,
                   (long long)a->dilation, axis, (long long)a->in, MT_SHAPE(&shown),
                   (long long)a->pad_before, (long long)a->pad_after);
}

static mt_status conv_plan(const char *op, const mt_tensor *input, const mt_tensor *kernel,
                           const mt_tensor *bias, const mt_conv2d_params *p,
                           conv_geometry *g)
{
    mt_status s;
    if ((s = mt_tensor_check(op, "input", input)) || (s = mt_check_f32(op, input)) ||
        (s = mt_tensor_check(op, "kernel", kernel)) || (s = mt_check_f32(op, kernel)))
        return s;
    if (!p)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = mt_activation_check(op, p->activation)) ||
        (s = mt_check_data_layout(op, p->data_layout)))
        return s;
    if (bias && ((s = mt_tensor_check(op, "bias", bias)) || (s = mt_check_f32(op, bias))))
        return s;
    bool nchw = p->data_layout == MT_DATA_LAYOUT_NCHW;
    if (input->rank != 4 || kernel->rank != 4)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s must be %s and kernel %s 4-D", op,
                       MT_SHAPE(input), nchw ? "[N,C,H,W]" : "[N,H,W,C]", MT_SHAPE(kernel));
    if (p->stride_h < 0 || p->stride_w < 0 || p->dilation_h < 0 || p->dilation_w < 0 ||
        p->groups < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: negative stride (%lld,%lld), dilation "
                       "(%lld,%lld) or groups %lld", op, (long long)p->stride_h,
                       (long long)p->stride_w, (long long)p->dilation_h,
                       (long long)p->dilation_w, (long long)p->groups);
    *g = (conv_geometry){.groups = or_one(p->groups), .sh = or_one(p->stride_h),
                         .sw = or_one(p->stride_w), .dh = or_one(p->dilation_h),
                         .dw = or_one(p->dilation_w)};
    mt_nhwc_view(input, p->data_layout, &g->x);
    g->n = g->x.shape[0], g->h = g->x.shape[1], g->w = g->x.shape[2], g->cin = g->x.shape[3];
    // images with no rows or columns: PyTorch refuses them (only an empty
    // batch is an empty result); the kernels would read the padding off a
    // NULL data pointer
    if (g->n > 0 && (g->h < 1 || g->w < 1))
        return mt_fail(MT_ERR_SHAPE, "%s: input %s has an empty height or width", op,
                       MT_SHAPE(input));
    if (g->cin % g->groups != 0)
        return mt_fail(MT_ERR_SHAPE, "%s: groups %lld does not divide the %lld channels of "
                       "input %s", op, (long long)g->groups, (long long)g->cin,
                       MT_SHAPE(input));
    if ((s = mt_conv_resolve_layout(op, input, kernel, bias, p->kernel_layout, g->cin,
                                    g->groups, &g->layout)))
        return s;
    const int64_t *k = kernel->shape;
    bool hwio = g->layout == MT_KERNEL_HWIO;
    g->cout = hwio ? k[3] : k[0];
    g->kh = hwio ? k[0] : k[2];
    g->kw = hwio ? k[1] : k[3];
    if (g->kh < 1 || g->kw < 1 || g->cout < 1 || g->cin < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s or input %s has no channels or taps", op,
                       MT_SHAPE(kernel), MT_SHAPE(input));
    mt_window_axis ah = {.in = g->h, .k = g->kh, .stride = g->sh, .dilation = g->dh,
                         .pad_before = p->pad_top, .pad_after = p->pad_bottom};
    mt_window_axis aw = {.in = g->w, .k = g->kw, .stride = g->sw, .dilation = g->dw,
                         .pad_before = p->pad_left, .pad_after = p->pad_right};
    if ((s = mt_window_plan(op, "height", p->padding, false, &ah)) ||
        (s = mt_window_plan(op, "width", p->padding, false, &aw)))
        return s;
    if (ah.out < 1 || aw.out < 1)
        return window_too_large(op, input, p->data_layout, ah.out < 1 ? &ah : &aw,
                                ah.out < 1 ? "height" : "width");
    g->oh = ah.out, g->ow = aw.out, g->pad_top = ah.pad_before, g->pad_left = aw.pad_before;
    if (bias && (bias->rank != 1 || bias->shape[0] != g->cout))
        return mt_fail(MT_ERR_SHAPE, "%s: bias is %s, expected [%lld]", op, MT_SHAPE(bias),
                       (long long)g->cout);
    const mt_tensor *u = p->winograd;
    if (u && ((s = mt_tensor_check(op, "winograd", u)) || (s = mt_check_f32(op, u))))
        return s;
    if (u && (u->rank != 3 || u->shape[0] != 16 || u->shape[1] != g->cin ||
              u->shape[2] != g->cout || g->groups != 1 || !mt_tensor_is_contiguous(u)))
        return mt_fail(MT_ERR_SHAPE, "%s: winograd is %s%s, expected a contiguous "
                       "[16,%lld,%lld] for kernel %s", op, MT_SHAPE(u),
                       mt_tensor_is_contiguous(u) ? "" : " (strided)", (long long)g->cin,
                       (long long)g->cout, MT_SHAPE(kernel));
    int64_t numel;
    if (!mt_shape_numel(5, (int64_t[]){g->n, g->oh, g->ow, g->cout, 1}, &numel) ||
        !mt_shape_numel(4, (int64_t[]){g->kh, g->kw, g->cin, g->oh * g->ow}, &numel))
        return mt_fail(MT_ERR_OVERFLOW, "%s: output %lldx%lld or patch size overflows", op,
                       (long long)g->oh, (long long)g->ow);
    return MT_OK;
}

/* ---- im2col ---------------------------------------------------------------------- */

/* im2col of group `grp` for images [n0, n0+count): one row per output pixel,
 * zeros where the window hangs over the padding. Column order: (i, j, c) for
 * HWIO, (c, i, j) for OIHW, c over the group's channels. */
static void im2col_general(const conv_geometry *g, int64_t grp, int64_t n0, int64_t count,
                           float *patches)
{
    const float *x = g->x.data;
    const int64_t *st = g->x.stride;
    const int64_t cg = g->cin / g->groups, k = g->kh * g->kw * cg, c0 = grp * cg;
    float *row = patches;
    for (int64_t n = n0; n < n0 + count; n++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++, row += k)
                for (int64_t i = 0; i < g->kh; i++) {
                    int64_t iy = oy * g->sh - g->pad_top + i * g->dh;
                    for (int64_t j = 0; j < g->kw; j++) {
                        int64_t ix = ox * g->sw - g->pad_left + j * g->dw;
                        bool inside = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
                        const float *px =
                            inside ? x + n * st[0] + iy * st[1] + ix * st[2] + c0 * st[3] : x;
                        for (int64_t c = 0; c < cg; c++) {
                            int64_t col = g->layout == MT_KERNEL_HWIO
                                              ? (i * g->kw + j) * cg + c
                                              : (c * g->kh + i) * g->kw + j;
                            row[col] = inside ? px[c * st[3]] : 0.0f;
                        }
                    }
                }
}

/* The same for HWIO, one group, no width dilation, with each image row's
 * pixels and channels contiguous (a contiguous NHWC input): kernel row i of
 * a patch is then one run of kw·cin input floats, copied as a run, with
 * zeros for the columns over the padding. Plain loops, not memcpy/memset: a
 * 1-channel input's runs are 3 floats, shorter than a call. Per image of
 * examples/fashion (one thread, bench_fashion --conv-compare): conv1 21 ->
 * 15 us, conv2 65 -> 46 us against the element-by-element copy. */
static void im2col_rows(const conv_geometry *g, int64_t n0, int64_t count, float *patches)
{
    const float *x = g->x.data;
    const int64_t *st = g->x.stride;
    const int64_t run = g->kw * g->cin, k = g->kh * run;
    float *row = patches;
    for (int64_t n = n0; n < n0 + count; n++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++, row += k) {
                const int64_t ix0 = ox * g->sw - g->pad_left;
                // the kernel columns [j0, j1) that fall inside the image
                const int64_t j0 = ix0 < 0 ? -ix0 : 0;
                const int64_t j1 = g->w - ix0 < g->kw ? g->w - ix0 : g->kw;
                for (int64_t i = 0; i < g->kh; i++) {
                    float *dst = row + i * run;
                    const int64_t iy = oy * g->sh - g->pad_top + i * g->dh;
                    if (iy < 0 || iy >= g->h || j0 >= j1) {
                        memset(dst, 0, (size_t)run * sizeof(float));
                        continue;
                    }
                    const float *src = x + n * st[0] + iy * st[1] + ix0 * st[2];
                    for (int64_t t = 0; t < j0 * g->cin; t++)
                        dst[t] = 0.0f;
                    for (int64_t t = j0 * g->cin; t < j1 * g->cin; t++)
                        dst[t] = src[t];
                    for (int64_t t = j1 * g->cin; t < run; t++)
                        dst[t] = 0.0f;
                }
            }
}

static void im2col(const conv_geometry *g, int64_t grp, int64_t n0, int64_t count,
                   float *patches)
{
    if (g->layout == MT_KERNEL_HWIO && g->groups == 1 && g->dw == 1 &&
        g->x.stride[3] == 1 && g->x.stride[2] == g->cin)
        im2col_rows(g, n0, count, patches);
    else
        im2col_general(g, grp, n0, count, patches);
}

/* ---- running ---------------------------------------------------------------------- */

/* The kernel as a [K, Cout] matrix view whose row order matches the patch
 * order: HWIO reshapes, OIHW reshapes to [Cout, K] and transposes. Fails if
 * the kernel is not contiguous enough to be viewed so. */
static mt_status kernel_matrix(const mt_tensor *kernel, const conv_geometry *g,
                               mt_tensor *km)
{
    int64_t k = g->kh * g->kw * (g->cin / g->groups);
    if (g->layout == MT_KERNEL_HWIO)
        return mt_view_into(kernel, 2, (int64_t[]){k, g->cout}, km);
    mt_tensor oi;
    mt_status s = mt_view_into(kernel, 2, (int64_t[]){g->cout, k}, &oi);
    return s ? s : mt_transpose_into(&oi, 0, 1, km);
}

/* The output as rows [images * OH*OW, Cout] if its strides allow one matrix
 * for several images (NHWC), else per image ([OH*OW, Cout]: NCHW). */
static bool out_rows(const mt_tensor *y, const conv_geometry *g, int64_t n0, int64_t count,
                     mt_tensor *rows)
{
    mt_tensor part;
    int64_t rpi = g->oh * g->ow;
    mt_status s = mt_narrow_into(y, 0, n0, count, &part);
    if (!s)
        s = mt_view_into(&part, 2, (int64_t[]){count * rpi, g->cout}, rows);
    mt_clear_error();
    return s == MT_OK;
}

/* The row path (conv_rows.c) when the native kernel is the backend and the
 * geometry fits, with rows of at least half a register tile (MR): narrower
 * output rows waste most of each tile, and im2col's GEMM packs pixels of
 * several rows and images into full tiles instead. Other backends (the
 * naive reference, a BLAS) keep im2col + their GEMM. */
static bool rows_wanted(const conv_geometry *g, mt_backend backend)
{
    return (backend == MT_BACKEND_AUTO || backend == MT_BACKEND_NATIVE) &&
           mt_conv_rows_fit(g) && 2 * g->ow >= mt_gemm_native_kernel()->mr;
}

/* Runs the planned conv into y (an NHWC view of the result, any strides,
 * mergeable per image). As conv3d's: the copies and buffers first, and
 * the first GEMM makes every check and allocation the later ones need, so
 * a failure leaves y untouched (test_conv's out-of-memory test). */
static mt_status conv_run(const char *op, const mt_tensor *kernel, const mt_tensor *bias,
                          mt_activation act, const conv_geometry *g, mt_tensor *y)
{
    int64_t rpi = g->oh * g->ow, cg = g->cin / g->groups, og = g->cout / g->groups;
    int64_t k = g->kh * g->kw * cg;
    if (g->n == 0 || rpi == 0)
        return MT_OK;
    mt_backend backend;
    int threads;
    mt_status s = mt_backend_current(&backend, &threads);
    if (s)
        return s;
    if (rows_wanted(g, backend))
        return (s = mt_gemm_native_env_check())
                   ? s
                   : mt_conv_rows_run(op, g, kernel, NULL, bias, act, NULL, threads, y);
    mt_tensor km, probe;
    mt_tensor *copy = NULL;
    s = kernel_matrix(kernel, g, &km);
    if (s) {  /* a strided kernel: one contiguous copy */
        mt_clear_error();
        if ((s = mt_tensor_contiguous(kernel, &copy)) || (s = kernel_matrix(copy, g, &km)))
            goto done;
    }
    int64_t per_chunk = PATCH_CHUNK_FLOATS / (rpi * k);
    per_chunk = per_chunk < 1 ? 1 : per_chunk > g->n ? g->n : per_chunk;
    if (!out_rows(y, g, 0, per_chunk, &probe))
        per_chunk = 1;
    float *patches = mt_scratch_floats(MT_SCRATCH_CONV_PATCHES, per_chunk * rpi * k);
    if (!patches) {
        s = mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate the patch buffer", op);
        goto done;
    }
    for (int64_t n0 = 0; n0 < g->n; n0 += per_chunk) {
        int64_t count = g->n - n0 < per_chunk ? g->n - n0 : per_chunk;
        mt_tensor rows;
        bool ok = out_rows(y, g, n0, count, &rows);
        assert(ok);  // checked with the first chunk: all images share strides
        (void)ok;
        for (int64_t grp = 0; grp < g->groups; grp++) {
            im2col(g, grp, n0, count, patches);
            mt_tensor pm, kg, yg, bg;
            mt_tensor_init_contiguous(&pm, MT_DTYPE_F32, 2, (int64_t[]){count * rpi, k},
                                      patches);
            if ((s = mt_narrow_into(&km, 1, grp * og, og, &kg)) ||
                (s = mt_narrow_into(&rows, 1, grp * og, og, &yg)) ||
                (bias && (s = mt_narrow_into(bias, 0, grp * og, og, &bg))) ||
                (s = mt_matmul_fused_into(&pm, &kg, bias ? &bg : NULL, act, &yg)))
                goto done;
        }
    }
done:
    mt_tensor_free(copy);
    return s;
}

/* Plans, checks out (the result's shape in the caller's layout) and runs;
 * an out whose strides cannot hold per-image matrices gets a contiguous
 * result copied into it. */
static mt_status conv_into(const char *op, const mt_tensor *input, const mt_tensor *kernel,
                           const mt_tensor *bias, const mt_conv2d_params *p, mt_tensor *out)
{
    conv_geometry g;
    mt_status s = conv_plan(op, input, kernel, bias, p, &g);
    if (s || (s = mt_tensor_check(op, "out", out)) || (s = mt_check_f32(op, out)))
        return s;
    mt_tensor want;
    int64_t shape[4];
    mt_layout_shape(p->data_layout, g.n, g.oh, g.ow, g.cout, shape);
    mt_tensor_init_contiguous(&want, MT_DTYPE_F32, 4, shape, NULL);
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, %s * %s gives %s", op, MT_SHAPE(out),
                       MT_SHAPE(input), MT_SHAPE(kernel), MT_SHAPE(&want));
    if ((s = mt_check_out(op, out, MT_DTYPE_F32, 4, shape)))   // an expanded (stride 0) out
        return s;
    if (mt_tensors_overlap(out, input) || mt_tensors_overlap(out, kernel) ||
        (bias && mt_tensors_overlap(out, bias)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps the input, kernel or "
                       "bias", op, MT_SHAPE(out));
    mt_tensor y, probe;
    mt_nhwc_view(out, p->data_layout, &y);
    if (g.n == 0 || out_rows(&y, &g, 0, 1, &probe))
        return conv_run(op, kernel, bias, p->activation, &g, &y);
    mt_tensor *tmp;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 4, shape, &tmp)))
        return s;
    mt_nhwc_view(tmp, p->data_layout, &y);
    if (!(s = conv_run(op, kernel, bias, p->activation, &g, &y)))
        s = mt_tensor_copy_into(tmp, out);
    mt_tensor_free(tmp);
    return s;
}

static mt_status conv_new(const char *op, const mt_tensor *input, const mt_tensor *kernel,
                          const mt_tensor *bias, const mt_conv2d_params *p, mt_tensor **out)
{
    conv_geometry g;
    mt_status s = conv_plan(op, input, kernel, bias, p, &g);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor *t, y;
    int64_t shape[4];
    mt_layout_shape(p->data_layout, g.n, g.oh, g.ow, g.cout, shape);
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 4, shape, &t)))
        return s;
    mt_nhwc_view(t, p->data_layout, &y);
    if ((s = conv_run(op, kernel, bias, p->activation, &g, &y))) {
        mt_tensor_free(t);
        return s;
    }
    *out = t;
    return MT_OK;
}

mt_status mt_conv2d_into(const mt_tensor *input, const mt_tensor *kernel,
                         const mt_tensor *bias, const mt_conv2d_params *params,
                         mt_tensor *out)
{
    return conv_into("conv2d", input, kernel, bias, params, out);
}

mt_status mt_conv2d(const mt_tensor *input, const mt_tensor *kernel, const mt_tensor *bias,
                    const mt_conv2d_params *params, mt_tensor **out)
{
    return conv_new("conv2d", input, kernel, bias, params, out);
}

/* ---- conv2d followed by a max pool --------------------------------------------------- */

/* The pool over the conv output of g: its axes planned (fails as
 * max_pool2d on bad params), *fused whether every window lies inside the
 * conv output with no padding before it, the result's shape. */
static mt_status pool_plan_after(const char *op, const conv_geometry *g,
                                 const mt_conv2d_params *cp, const mt_pool2d_params *pp,
                                 conv_pool *pool, bool *fused, int64_t shape[4])
{
    if (!pp)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: pool params are NULL", op);
    if (pp->data_layout != cp->data_layout)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: the pool's data_layout %d differs from "
                       "the conv's %d", op, (int)pp->data_layout, (int)cp->data_layout);
    *pool = (conv_pool){
        .ah = {.in = g->oh, .k = pp->pool_h, .stride = pp->stride_h ? pp->stride_h : pp->pool_h,
               .dilation = or_one(pp->dilation_h), .pad_before = pp->pad_top,
               .pad_after = pp->pad_bottom},
        .aw = {.in = g->ow, .k = pp->pool_w, .stride = pp->stride_w ? pp->stride_w : pp->pool_w,
               .dilation = or_one(pp->dilation_w), .pad_before = pp->pad_left,
               .pad_after = pp->pad_right}};
    if (pp->stride_h < 0 || pp->stride_w < 0 || pp->dilation_h < 0 || pp->dilation_w < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: negative pool stride (%lld,%lld) or "
                       "dilation (%lld,%lld)", op, (long long)pp->stride_h,
                       (long long)pp->stride_w, (long long)pp->dilation_h,
                       (long long)pp->dilation_w);
    mt_status s;
    if ((s = mt_window_plan(op, "pool height", pp->padding, pp->ceil_mode, &pool->ah)) ||
        (s = mt_window_plan(op, "pool width", pp->padding, pp->ceil_mode, &pool->aw)))
        return s;
    const mt_window_axis *ax[2] = {&pool->ah, &pool->aw};
    *fused = true;
    for (int i = 0; i < 2; i++)
        *fused = *fused && ax[i]->pad_before == 0 &&
                 (ax[i]->out == 0 || (ax[i]->out - 1) * ax[i]->stride +
                                             (ax[i]->k - 1) * ax[i]->dilation < ax[i]->in);
    mt_layout_shape(cp->data_layout, g->n, pool->ah.out, pool->aw.out, g->cout, shape);
    return MT_OK;
}

/* conv_plan, then pool_plan_after: the geometry, the pool, whether they
 * fuse and the pooled shape (what both forms of mt_conv2d_max_pool2d check
 * first). */
static mt_status conv_pool_plan(const char *op, const mt_tensor *input,
                                const mt_tensor *kernel, const mt_tensor *bias,
                                const mt_conv2d_params *conv, const mt_pool2d_params *pool,
                                conv_geometry *g, conv_pool *cp, bool *fused,
                                int64_t shape[4])
{
    mt_status s = conv_plan(op, input, kernel, bias, conv, g);
    return s ? s : pool_plan_after(op, g, conv, pool, cp, fused, shape);
}

/* The unfused way: the conv into this thread's scratch (kept: no
 * allocation once warm), then the pool. */
static mt_status conv_then_pool(const char *op, const conv_geometry *g,
                                const mt_tensor *kernel, const mt_tensor *bias,
                                const mt_conv2d_params *cp, const mt_pool2d_params *pp,
                                mt_tensor *out)
{
    int64_t shape[4] = {g->n, g->oh, g->ow, g->cout};
    float *buf = mt_scratch_floats(MT_SCRATCH_CONV_UNPOOLED, g->n * g->oh * g->ow * g->cout);
    if (!buf && g->n * g->oh * g->ow * g->cout > 0)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate the conv output", op);
    mt_tensor tmp, pool_in;
    mt_tensor_init_contiguous(&tmp, MT_DTYPE_F32, 4, shape, buf);
    mt_status s = conv_run(op, kernel, bias, cp->activation, g, &tmp);
    if (s)
        return s;
    // the pool reads the NHWC result in the caller's layout (a view)
    mt_pool2d_params p = *pp;
    if (cp->data_layout == MT_DATA_LAYOUT_NCHW) {
        if ((s = mt_permute_into(&tmp, (int[]){0, 3, 1, 2}, &pool_in)))
            return s;
    } else {
        pool_in = tmp;
    }
    return mt_max_pool2d_into(&pool_in, &p, out);
}

mt_status mt_conv2d_max_pool2d_into(const mt_tensor *input, const mt_tensor *kernel,
                                   const mt_tensor *bias, const mt_conv2d_params *conv,
                                   const mt_pool2d_params *pool, mt_tensor *out)
{
    const char *op = "conv2d_max_pool2d";
    conv_geometry g;
    conv_pool cp;
    bool fused = false;
    int64_t shape[4];
    mt_status s;
    if ((s = conv_pool_plan(op, input, kernel, bias, conv, pool, &g, &cp, &fused, shape)) ||
        (s = mt_tensor_check(op, "out", out)) || (s = mt_check_f32(op, out)))
        return s;
    mt_tensor want, y;
    mt_tensor_init_contiguous(&want, MT_DTYPE_F32, 4, shape, NULL);
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, %s * %s pooled gives %s", op,
                       MT_SHAPE(out), MT_SHAPE(input), MT_SHAPE(kernel), MT_SHAPE(&want));
    if ((s = mt_check_out(op, out, MT_DTYPE_F32, 4, shape)))   // an expanded (stride 0) out
        return s;
    if (mt_tensors_overlap(out, input) || mt_tensors_overlap(out, kernel) ||
        (bias && mt_tensors_overlap(out, bias)) ||
        (conv->winograd && mt_tensors_overlap(out, conv->winograd)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps the input, kernel, "
                       "bias or winograd", op, MT_SHAPE(out));
    mt_backend backend;
    int threads;
    if ((s = mt_backend_current(&backend, &threads)))
        return s;
    if (!fused || !rows_wanted(&g, backend))
        return conv_then_pool(op, &g, kernel, bias, conv, pool, out);
    if ((s = mt_gemm_native_env_check()))
        return s;
    mt_nhwc_view(out, conv->data_layout, &y);
    return mt_conv_rows_run(op, &g, kernel, conv->winograd, bias, conv->activation, &cp,
                            threads, &y);
}

mt_status mt_conv2d_max_pool2d(const mt_tensor *input, const mt_tensor *kernel,
                              const mt_tensor *bias, const mt_conv2d_params *conv,
                              const mt_pool2d_params *pool, mt_tensor **out)
{
    const char *op = "conv2d_max_pool2d";
    conv_geometry g;
    conv_pool cp;
    bool fused = false;
    int64_t shape[4];
    mt_status s = conv_pool_plan(op, input, kernel, bias, conv, pool, &g, &cp, &fused, shape);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor *t;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 4, shape, &t)))
        return s;
    if ((s = mt_conv2d_max_pool2d_into(input, kernel, bias, conv, pool, t))) {
        mt_tensor_free(t);
        return s;
    }
    *out = t;
    return MT_OK;
}

mt_status mt_conv2d_winograd_kernel(const mt_tensor *kernel, mt_kernel_layout layout,
                                    mt_tensor **out)
{
    const char *op = "conv2d_winograd_kernel";
    mt_status s;
    if ((s = mt_tensor_check(op, "kernel", kernel)) || (s = mt_check_f32(op, kernel)))
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    if (layout != MT_KERNEL_HWIO && layout != MT_KERNEL_OIHW)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: layout %d: give HWIO or OIHW", op,
                       (int)layout);
    const bool hwio = layout == MT_KERNEL_HWIO;
    const int64_t *k = kernel->shape;
    if (kernel->rank != 4 || (hwio ? k[0] != 3 || k[1] != 3 : k[2] != 3 || k[3] != 3) ||
        mt_tensor_numel(kernel) == 0)
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s is not a 3x3 kernel in %s", op,
                       MT_SHAPE(kernel), hwio ? "HWIO (3,3,c_in,c_out)"
                                              : "OIHW (c_out,c_in,3,3)");
    const int64_t cin = hwio ? k[2] : k[1], cout = hwio ? k[3] : k[0];
    mt_tensor *u;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){16, cin, cout}, &u)))
        return s;
    mt_conv_rows_winograd_kernel(kernel, layout, cin, cout, u->data);
    *out = u;
    return MT_OK;
}

/* ---- conv1d: conv2d over H = 1 ------------------------------------------------------ */

/* t with a unit dim inserted before dim `at` (a view of the same data). */
static void unit_dim(const mt_tensor *t, int at, mt_tensor *v)
{
    *v = *t;
    for (int d = t->rank; d > at; d--) {
        v->shape[d] = t->shape[d - 1];
        v->stride[d] = t->stride[d - 1];
    }
    v->shape[at] = 1;
    v->stride[at] = 0;
    v->rank = t->rank + 1;
}

/* The 4-D views and params of a conv1d call, or a failure naming the 3-D
 * shapes. */
static mt_status conv1d_plan(const char *op, const mt_tensor *input, const mt_tensor *kernel,
                             const mt_tensor *bias, const mt_conv2d_params *p,
                             mt_tensor *x4, mt_tensor *k4, mt_conv2d_params *p2)
{
    mt_status s;
    if ((s = mt_tensor_check(op, "input", input)) || (s = mt_tensor_check(op, "kernel", kernel)))
        return s;
    if (!p)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = mt_check_data_layout(op, p->data_layout)))
        return s;
    if (bias && (s = mt_tensor_check(op, "bias", bias)))
        return s;
    bool nchw = p->data_layout == MT_DATA_LAYOUT_NCHW;
    if (input->rank != 3 || kernel->rank != 3)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s must be %s and kernel %s 3-D", op,
                       MT_SHAPE(input), nchw ? "[N,C,L]" : "[N,L,C]", MT_SHAPE(kernel));
    if ((p->stride_h != 0 && p->stride_h != 1) || (p->dilation_h != 0 && p->dilation_h != 1) ||
        p->pad_top || p->pad_bottom)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: the _h params (stride_h %lld, dilation_h "
                       "%lld, pad_top %lld, pad_bottom %lld) must be 0: the _w ones give the "
                       "length axis", op, (long long)p->stride_h, (long long)p->dilation_h,
                       (long long)p->pad_top, (long long)p->pad_bottom);
    // 1-D kernels: HWIO (k, in/g, out), OIHW (out, in/g, k); the unit kh
    // goes where each layout keeps it, so the layout is settled here
    int64_t groups = or_one(p->groups), cin = input->shape[nchw ? 1 : 2];
    const int64_t *k = kernel->shape;
    mt_kernel_layout layout = p->kernel_layout;
    if (layout == MT_KERNEL_AUTO && groups > 0) {
        // in/groups · groups == cin, tested without the product (overflow)
        bool fits_in = cin % groups == 0 && k[1] == cin / groups;
        bool hwio = fits_in && k[2] % groups == 0 &&
                    (!bias || bias->rank != 1 || bias->shape[0] == k[2]);
        bool oihw = fits_in && k[0] % groups == 0 &&
                    (!bias || bias->rank != 1 || bias->shape[0] == k[0]);
        if (hwio && oihw && mt_tensor_numel(kernel) > 1)
            return mt_fail(MT_ERR_SHAPE, "%s: kernel %s fits both HWIO (k,in/groups,out) and "
                           "OIHW (out,in/groups,k) for input %s: set params.kernel_layout "
                           "to MT_KERNEL_HWIO or MT_KERNEL_OIHW", op, MT_SHAPE(kernel),
                           MT_SHAPE(input));
        layout = oihw && !hwio ? MT_KERNEL_OIHW : MT_KERNEL_HWIO;
    }
    *p2 = *p;
    p2->kernel_layout = layout;
    unit_dim(input, nchw ? 2 : 1, x4);
    unit_dim(kernel, layout == MT_KERNEL_OIHW ? 2 : 0, k4);
    return MT_OK;
}

mt_status mt_conv1d_into(const mt_tensor *input, const mt_tensor *kernel,
                         const mt_tensor *bias, const mt_conv2d_params *params,
                         mt_tensor *out)
{
    const char *op = "conv1d";
    mt_tensor x4, k4, y4;
    mt_conv2d_params p2;
    mt_status s = conv1d_plan(op, input, kernel, bias, params, &x4, &k4, &p2);
    if (s || (s = mt_tensor_check(op, "out", out)))
        return s;
    if (out->rank != 3)
        return mt_fail(MT_ERR_SHAPE, "%s: out %s must be 3-D", op, MT_SHAPE(out));
    unit_dim(out, params->data_layout == MT_DATA_LAYOUT_NCHW ? 2 : 1, &y4);
    return conv_into(op, &x4, &k4, bias, &p2, &y4);
}

mt_status mt_conv1d(const mt_tensor *input, const mt_tensor *kernel, const mt_tensor *bias,
                    const mt_conv2d_params *params, mt_tensor **out)
{
    const char *op = "conv1d";
    mt_tensor x4, k4;
    mt_conv2d_params p2;
    conv_geometry g;
    mt_status s = conv1d_plan(op, input, kernel, bias, params, &x4, &k4, &p2);
    if (s || (s = conv_plan(op, &x4, &k4, bias, &p2, &g)))
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    bool nchw = params->data_layout == MT_DATA_LAYOUT_NCHW;
    mt_tensor *t;
    int64_t shape[3] = {g.n, nchw ? g.cout : g.ow, nchw ? g.ow : g.cout};
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 3, shape, &t)))
        return s;
    if ((s = mt_conv1d_into(input, kernel, bias, params, t))) {
        mt_tensor_free(t);
        return s;
    }
    *out = t;
    return MT_OK;
}
