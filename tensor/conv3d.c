/* conv3d.c — conv3d as im2col over chunks of output voxels + one fused
 * GEMM per chunk and group. */
#include "minitensor/conv3d.h"
#include "minitensor/view.h"
#include "internal.h"
#include "unary_ops.h"
#include "volume.h"

/* Patch buffers are kept near 2 MiB (as conv.c's) so a chunk stays in cache. */
#define PATCH_CHUNK_FLOATS (512 * 1024)

typedef struct conv3d_geometry {
    mt_window_axis ax[3];     /* depth, height, width: in, k, stride, dilation, pads, out */
    int64_t n, cin, cout, groups;
    mt_kernel_layout layout;  /* resolved: HWIO (DHWIO) or OIHW (OIDHW) */
    mt_tensor x;              /* the input as an [N,D,H,W,C] view */
} conv3d_geometry;

static int64_t or_one(int64_t v) { return v == 0 ? 1 : v; }

static mt_status conv3d_plan(const char *op, const mt_tensor *input, const mt_tensor *kernel,
                             const mt_tensor *bias, const mt_conv3d_params *p,
                             conv3d_geometry *g, int64_t shape[5])
{
    mt_status s;
    if ((s = mt_tensor_check(op, "input", input)) ||
        (s = mt_tensor_check(op, "kernel", kernel)) || (s = mt_check_f32(op, kernel)))
        return s;
    if (!p)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = mt_volume_check_input(op, input, p->data_layout)) ||
        (s = mt_activation_check(op, p->activation)))
        return s;
    if (bias && ((s = mt_tensor_check(op, "bias", bias)) || (s = mt_check_f32(op, bias))))
        return s;
    if (kernel->rank != 5)
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s must be 5-D (%s or %s)", op,
                       MT_SHAPE(kernel), mt_conv_layout_text(MT_KERNEL_HWIO, 5),
                       mt_conv_layout_text(MT_KERNEL_OIHW, 5));
    if (p->stride_d < 0 || p->stride_h < 0 || p->stride_w < 0 || p->dilation_d < 0 ||
        p->dilation_h < 0 || p->dilation_w < 0 || p->groups < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: negative stride (%lld,%lld,%lld), "
                       "dilation (%lld,%lld,%lld) or groups %lld", op,
                       (long long)p->stride_d, (long long)p->stride_h, (long long)p->stride_w,
                       (long long)p->dilation_d, (long long)p->dilation_h,
                       (long long)p->dilation_w, (long long)p->groups);
    *g = (conv3d_geometry){.groups = or_one(p->groups)};
    mt_ndhwc_view(input, p->data_layout, &g->x);
    g->n = g->x.shape[0], g->cin = g->x.shape[4];
    if (g->cin % g->groups != 0)
        return mt_fail(MT_ERR_SHAPE, "%s: groups %lld does not divide the %lld channels of "
                       "input %s", op, (long long)g->groups, (long long)g->cin,
                       MT_SHAPE(input));
    if ((s = mt_conv_resolve_layout(op, input, kernel, bias, p->kernel_layout, g->cin,
                                    g->groups, &g->layout)))
        return s;
    const int64_t *k = kernel->shape;
    bool hwio = g->layout == MT_KERNEL_HWIO;
    int64_t kin;
    mt_conv_kernel_io(g->layout, kernel, &kin, &g->cout);
    const int64_t stride[3] = {p->stride_d, p->stride_h, p->stride_w};
    const int64_t dil[3] = {p->dilation_d, p->dilation_h, p->dilation_w};
    const int64_t before[3] = {p->pad_front, p->pad_top, p->pad_left};
    const int64_t after[3] = {p->pad_back, p->pad_bottom, p->pad_right};
    for (int a = 0; a < 3; a++)
        g->ax[a] = (mt_window_axis){.in = g->x.shape[a + 1], .k = hwio ? k[a] : k[a + 2],
                                    .stride = or_one(stride[a]), .dilation = or_one(dil[a]),
                                    .pad_before = before[a], .pad_after = after[a]};
    if (g->ax[0].k < 1 || g->ax[1].k < 1 || g->ax[2].k < 1 || g->cout < 1 || g->cin < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s or input %s has no channels or taps", op,
                       MT_SHAPE(kernel), MT_SHAPE(input));
    if (bias && (bias->rank != 1 || bias->shape[0] != g->cout))
        return mt_fail(MT_ERR_SHAPE, "%s: bias is %s, expected [%lld] (kernel %s)", op,
                       MT_SHAPE(bias), (long long)g->cout, MT_SHAPE(kernel));
    if ((s = mt_volume_plan(op, "kernel", input, p->padding, false, g->ax)))
        return s;
    const int64_t out_dhw[3] = {g->ax[0].out, g->ax[1].out, g->ax[2].out};
    mt_volume_shape(p->data_layout, g->n, out_dhw, g->cout, shape);
    int64_t numel;
    if (!mt_shape_numel(5, shape, &numel))
        return mt_fail(MT_ERR_OVERFLOW, "%s: output [%lld,%lld,%lld,%lld,%lld] of input %s "
                       "and kernel %s overflows", op, (long long)shape[0], (long long)shape[1],
                       (long long)shape[2], (long long)shape[3], (long long)shape[4],
                       MT_SHAPE(input), MT_SHAPE(kernel));
    return MT_OK;
}

/* ---- im2col ---------------------------------------------------------------------- */

/* Patch rows of output voxels [r0, r0 + count) (flat over N, OD, OH, OW)
 * for group `grp`: zeros where the window hangs over the padding. Column
 * order (a, i, j, c) for DHWIO, (c, a, i, j) for OIDHW, c over the group's
 * channels: the kernel matrix's row order. */
static void im2col3d(const conv3d_geometry *g, int64_t grp, int64_t r0, int64_t count,
                     float *patches)
{
    const float *x = g->x.data;
    const int64_t *st = g->x.stride;
    const mt_window_axis *ad = &g->ax[0], *ah = &g->ax[1], *aw = &g->ax[2];
    const int64_t cg = g->cin / g->groups, taps = ad->k * ah->k * aw->k, k = taps * cg;
    const int64_t c0 = grp * cg;
    const bool dhwio = g->layout == MT_KERNEL_HWIO;
    for (int64_t r = r0; r < r0 + count; r++) {
        float *row = patches + (r - r0) * k;
        int64_t t = r;
        const int64_t ox = t % aw->out;
        t /= aw->out;
        const int64_t oy = t % ah->out;
        t /= ah->out;
        const int64_t oz = t % ad->out, n = t / ad->out;
        for (int64_t a = 0; a < ad->k; a++) {
            const int64_t iz = oz * ad->stride - ad->pad_before + a * ad->dilation;
            for (int64_t i = 0; i < ah->k; i++) {
                const int64_t iy = oy * ah->stride - ah->pad_before + i * ah->dilation;
                for (int64_t j = 0; j < aw->k; j++) {
                    const int64_t ix = ox * aw->stride - aw->pad_before + j * aw->dilation;
                    const int64_t tap = (a * ah->k + i) * aw->k + j;
                    const bool inside = iz >= 0 && iz < ad->in && iy >= 0 && iy < ah->in &&
                                        ix >= 0 && ix < aw->in;
                    const float *px = inside ? x + n * st[0] + iz * st[1] + iy * st[2] +
                                                   ix * st[3] + c0 * st[4]
                                             : x;
                    for (int64_t c = 0; c < cg; c++)
                        row[dhwio ? tap * cg + c : c * taps + tap] =
                            inside ? px[c * st[4]] : 0.0f;
                }
            }
        }
    }
}

/* ---- running ---------------------------------------------------------------------- */

/* The kernel as a [K, Cout] matrix view whose rows follow the patch
 * columns: DHWIO reshapes, OIDHW reshapes to [Cout, K] and transposes.
 * Fails if the kernel is not contiguous enough to be viewed so. */
static mt_status kernel_matrix(const mt_tensor *kernel, const conv3d_geometry *g, int64_t k,
                               mt_tensor *km)
{
    if (g->layout == MT_KERNEL_HWIO)
        return mt_view_into(kernel, 2, (int64_t[]){k, g->cout}, km);
    mt_tensor oi;
    mt_status s = mt_view_into(kernel, 2, (int64_t[]){g->cout, k}, &oi);
    return s ? s : mt_transpose_into(&oi, 0, 1, km);
}

/* rows = y [M, Cout] (M output voxels, y an [N,OD,OH,OW,Cout] view whose
 * voxels merge into one dim) = the planned conv. The kernel copy and the
 * patches come first, and the first GEMM (the first write) makes every
 * check and allocation the later ones need (no larger, the same strides):
 * a failure leaves rows untouched (test_nn_conv3d's out-of-memory test). */
static mt_status conv3d_run(const char *op, const mt_tensor *kernel, const mt_tensor *bias,
                            mt_activation act, const conv3d_geometry *g, mt_tensor *rows)
{
    const int64_t cg = g->cin / g->groups, og = g->cout / g->groups;
    const int64_t k = g->ax[0].k * g->ax[1].k * g->ax[2].k * cg, m = rows->shape[0];
    if (m == 0)
        return MT_OK;
    mt_tensor km;
    mt_tensor *copy = NULL;
    mt_status s = kernel_matrix(kernel, g, k, &km);
    if (s) {  /* a strided kernel: one contiguous copy */
        mt_clear_error();
        if ((s = mt_tensor_contiguous(kernel, &copy)) || (s = kernel_matrix(copy, g, k, &km)))
            goto done;
    }
    int64_t per_chunk = PATCH_CHUNK_FLOATS / k;
    per_chunk = per_chunk < 1 ? 1 : per_chunk > m ? m : per_chunk;
    float *patches = mt_scratch_floats(MT_SCRATCH_CONV_PATCHES, per_chunk * k);
    if (!patches) {
        s = mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate the patch buffer (%lld x "
                    "%lld floats)", op, (long long)per_chunk, (long long)k);
        goto done;
    }
    for (int64_t r0 = 0; r0 < m; r0 += per_chunk) {
        const int64_t count = m - r0 < per_chunk ? m - r0 : per_chunk;
        mt_tensor chunk;
        if ((s = mt_narrow_into(rows, 0, r0, count, &chunk)))
            goto done;
        for (int64_t grp = 0; grp < g->groups; grp++) {
            im2col3d(g, grp, r0, count, patches);
            mt_tensor pm, kg, yg, bg;
            mt_tensor_init_contiguous(&pm, MT_DTYPE_F32, 2, (int64_t[]){count, k}, patches);
            if ((s = mt_narrow_into(&km, 1, grp * og, og, &kg)) ||
                (s = mt_narrow_into(&chunk, 1, grp * og, og, &yg)) ||
                (bias && (s = mt_narrow_into(bias, 0, grp * og, og, &bg))) ||
                (s = mt_matmul_fused_into(&pm, &kg, bias ? &bg : NULL, act, &yg)))
                goto done;
        }
    }
done:
    mt_tensor_free(copy);
    return s;
}

/* Runs the planned conv into out (the result's shape in the caller's
 * layout, checked): straight into its voxel rows when its strides allow,
 * else into a contiguous temporary copied over. */
static mt_status conv3d_write(const char *op, const mt_tensor *kernel, const mt_tensor *bias,
                              const mt_conv3d_params *p, const conv3d_geometry *g,
                              mt_tensor *out)
{
    mt_tensor y, rows;
    mt_ndhwc_view(out, p->data_layout, &y);
    const int64_t m = g->n * g->ax[0].out * g->ax[1].out * g->ax[2].out;
    mt_status s = mt_view_into(&y, 2, (int64_t[]){m, g->cout}, &rows);
    if (!s)
        return conv3d_run(op, kernel, bias, p->activation, g, &rows);
    mt_clear_error();
    mt_tensor *tmp;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){m, g->cout}, &tmp)))
        return s;
    mt_tensor vox;
    if (!(s = conv3d_run(op, kernel, bias, p->activation, g, tmp)) &&
        !(s = mt_view_into(tmp, 5, y.shape, &vox)))
        s = mt_tensor_copy_into(&vox, &y);
    mt_tensor_free(tmp);
    return s;
}

mt_status mt_conv3d_into(const mt_tensor *input, const mt_tensor *kernel,
                         const mt_tensor *bias, const mt_conv3d_params *params,
                         mt_tensor *out)
{
    const char *op = "conv3d";
    conv3d_geometry g;
    int64_t shape[5];
    mt_status s = conv3d_plan(op, input, kernel, bias, params, &g, shape);
    if (s || (s = mt_tensor_check(op, "out", out)) || (s = mt_check_f32(op, out)))
        return s;
    mt_tensor want;
    mt_tensor_init_contiguous(&want, MT_DTYPE_F32, 5, shape, NULL);
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, %s * %s gives %s", op, MT_SHAPE(out),
                       MT_SHAPE(input), MT_SHAPE(kernel), MT_SHAPE(&want));
    if ((s = mt_check_out(op, out, MT_DTYPE_F32, 5, shape)))   // an expanded (stride 0) out
        return s;
    if (mt_tensors_overlap(out, input) || mt_tensors_overlap(out, kernel) ||
        (bias && mt_tensors_overlap(out, bias)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps the input, kernel or "
                       "bias", op, MT_SHAPE(out));
    return conv3d_write(op, kernel, bias, params, &g, out);
}

mt_status mt_conv3d(const mt_tensor *input, const mt_tensor *kernel, const mt_tensor *bias,
                    const mt_conv3d_params *params, mt_tensor **out)
{
    const char *op = "conv3d";
    conv3d_geometry g;
    int64_t shape[5];
    mt_status s = conv3d_plan(op, input, kernel, bias, params, &g, shape);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor *t;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 5, shape, &t)))
        return s;
    if ((s = conv3d_write(op, kernel, bias, params, &g, t))) {
        mt_tensor_free(t);
        return s;
    }
    *out = t;
    return MT_OK;
}
