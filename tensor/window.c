/* window.c — sliding-window sizes (overflow-checked), NHWC views, and the
 * conv kernel layouts conv.c and conv3d.c share. */
#include "window.h"
#include "internal.h"

static bool mul_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static bool add_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r); }

mt_status mt_window_plan(const char *op, const char *axis, mt_padding padding,
                         bool ceil_mode, mt_window_axis *a)
{
    if (a->in < 0 || a->k < 1 || a->stride < 1 || a->dilation < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: %s: invalid size %lld, window %lld, stride %lld or dilation %lld",
                       op, axis, (long long)a->in, (long long)a->k, (long long)a->stride,
                       (long long)a->dilation);
    if (padding != MT_PADDING_VALID && padding != MT_PADDING_SAME &&
        padding != MT_PADDING_EXPLICIT)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown padding %d", op, (int)padding);
    if (a->pad_before < 0 || a->pad_after < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s: negative padding (%lld, %lld)", op,
                       axis, (long long)a->pad_before, (long long)a->pad_after);
    if (padding != MT_PADDING_EXPLICIT && (a->pad_before || a->pad_after))
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: %s: pads (%lld, %lld) given but padding is not "
                       "MT_PADDING_EXPLICIT", op, axis, (long long)a->pad_before,
                       (long long)a->pad_after);
    int64_t dk, span, end;
    if (!mul_ok(a->dilation, a->k - 1, &dk) || !add_ok(dk, 1, &dk))
        return mt_fail(MT_ERR_OVERFLOW, "%s: %s: window %lld with dilation %lld overflows",
                       op, axis, (long long)a->k, (long long)a->dilation);
    if (padding == MT_PADDING_SAME) {
        a->out = a->in / a->stride + (a->in % a->stride != 0);
        // (out - 1) * stride <= in - 1: only adding dk can overflow
        int64_t last = a->out > 0 ? (a->out - 1) * a->stride : 0;
        if (!add_ok(last, dk, &end))
            return mt_fail(MT_ERR_OVERFLOW, "%s: %s: SAME padding for window %lld "
                           "overflows", op, axis, (long long)dk);
        int64_t total = end - a->in > 0 ? end - a->in : 0;
        a->pad_before = total / 2;
        a->pad_after = total - a->pad_before;
        return MT_OK;
    }
    if (padding == MT_PADDING_VALID)
        a->pad_before = a->pad_after = 0;
    if (!add_ok(a->in, a->pad_before, &span) || !add_ok(span, a->pad_after, &span))
        return mt_fail(MT_ERR_OVERFLOW, "%s: %s: size %lld plus pads (%lld, %lld) overflows",
                       op, axis, (long long)a->in, (long long)a->pad_before,
                       (long long)a->pad_after);
    if (span < dk) {
        // PyTorch's ceil_mode keeps one window less than a stride wider than
        // the padded input (max_pool2d of a 2x2 image under a window of 3,
        // stride 2, is 1x1); it covers what there is
        a->out = ceil_mode && a->in > 0 && dk - span < a->stride;
        return MT_OK;
    }
    int64_t q = (span - dk) / a->stride;
    if (ceil_mode && (span - dk) % a->stride != 0) {
        q++;
        // PyTorch: the last window must start inside the input or the top pad
        if (q * a->stride >= a->in + a->pad_before)
            q--;
    }
    a->out = q + 1;
    // the last window ends at q * stride + dk - pad_before: must fit
    if (!mul_ok(q, a->stride, &end) || !add_ok(end, dk, &end))
        return mt_fail(MT_ERR_OVERFLOW, "%s: %s: window positions overflow", op, axis);
    return MT_OK;
}

void mt_nhwc_view(const mt_tensor *t, mt_data_layout layout, mt_tensor *v)
{
    *v = *t;
    if (layout != MT_DATA_LAYOUT_NCHW)
        return;
    static const int perm[4] = {0, 2, 3, 1};
    for (int d = 0; d < 4; d++) {
        v->shape[d] = t->shape[perm[d]];
        v->stride[d] = t->stride[perm[d]];
    }
}

void mt_layout_shape(mt_data_layout layout, int64_t n, int64_t h, int64_t w, int64_t c,
                     int64_t shape[4])
{
    shape[0] = n;
    if (layout == MT_DATA_LAYOUT_NCHW) {
        shape[1] = c, shape[2] = h, shape[3] = w;
    } else {
        shape[1] = h, shape[2] = w, shape[3] = c;
    }
}

mt_status mt_check_data_layout(const char *op, mt_data_layout layout)
{
    if (layout != MT_DATA_LAYOUT_NHWC && layout != MT_DATA_LAYOUT_NCHW)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown data_layout %d", op, (int)layout);
    return MT_OK;
}

/* ---- conv kernel layouts (conv.c, conv3d.c) -------------------------------------------- */

const char *mt_conv_layout_text(mt_kernel_layout layout, int rank)
{
    bool hwio = layout == MT_KERNEL_HWIO;
    if (rank == 5)
        return hwio ? "DHWIO (kd,kh,kw,in/groups,out)" : "OIDHW (out,in/groups,kd,kh,kw)";
    return hwio ? "HWIO (kh,kw,in/groups,out)" : "OIHW (out,in/groups,kh,kw)";
}

void mt_conv_kernel_io(mt_kernel_layout layout, const mt_tensor *kernel, int64_t *kin,
                       int64_t *kout)
{
    bool hwio = layout == MT_KERNEL_HWIO;
    *kin = kernel->shape[hwio ? kernel->rank - 2 : 1];
    *kout = kernel->shape[hwio ? kernel->rank - 1 : 0];
}

/* groups >= 1 divides cin: cin / groups, not kin · groups, which a huge
 * groups over 0 channels overflowed. */
static bool layout_fits(mt_kernel_layout layout, const mt_tensor *kernel, int64_t cin,
                        int64_t groups, const mt_tensor *bias)
{
    int64_t kin, kout;
    mt_conv_kernel_io(layout, kernel, &kin, &kout);
    return cin / groups == kin && kout % groups == 0 &&
           (!bias || bias->rank != 1 || bias->shape[0] == kout);
}

mt_status mt_conv_resolve_layout(const char *op, const mt_tensor *input,
                                 const mt_tensor *kernel, const mt_tensor *bias,
                                 mt_kernel_layout want, int64_t cin, int64_t groups,
                                 mt_kernel_layout *layout)
{
    int r = kernel->rank;
    if (want == MT_KERNEL_HWIO || want == MT_KERNEL_OIHW) {
        int64_t kin, kout;
        mt_conv_kernel_io(want, kernel, &kin, &kout);
        if (cin / groups != kin)
            return mt_fail(MT_ERR_SHAPE, "%s: input %s has %lld channels, kernel %s (%s) "
                           "expects %lld per group (groups %lld)", op, MT_SHAPE(input),
                           (long long)cin, MT_SHAPE(kernel), mt_conv_layout_text(want, r),
                           (long long)kin, (long long)groups);
        if (kout % groups != 0)
            return mt_fail(MT_ERR_SHAPE, "%s: groups %lld does not divide the %lld output "
                           "channels of kernel %s (%s)", op, (long long)groups,
                           (long long)kout, MT_SHAPE(kernel), mt_conv_layout_text(want, r));
        *layout = want;
        return MT_OK;
    }
    if (want != MT_KERNEL_AUTO)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown kernel_layout %d", op, (int)want);
    bool hwio = layout_fits(MT_KERNEL_HWIO, kernel, cin, groups, bias);
    bool oihw = layout_fits(MT_KERNEL_OIHW, kernel, cin, groups, bias);
    const char *ht = mt_conv_layout_text(MT_KERNEL_HWIO, r);
    const char *ot = mt_conv_layout_text(MT_KERNEL_OIHW, r);
    if (hwio && oihw && mt_tensor_numel(kernel) > 1)
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s fits both %s and %s for input %s "
                       "(groups %lld): set params.kernel_layout to MT_KERNEL_HWIO or "
                       "MT_KERNEL_OIHW", op, MT_SHAPE(kernel), ht, ot, MT_SHAPE(input),
                       (long long)groups);
    if (!hwio && !oihw)
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s fits neither %s nor %s for input %s "
                       "with %lld channels (groups %lld, bias %s)", op, MT_SHAPE(kernel), ht,
                       ot, MT_SHAPE(input), (long long)cin, (long long)groups,
                       bias ? MT_SHAPE(bias) : "none");
    *layout = hwio ? MT_KERNEL_HWIO : MT_KERNEL_OIHW;
    return MT_OK;
}

void mt_window_taps(const mt_window_axis *a, int64_t start, int64_t *lo, int64_t *hi)
{
    const int64_t d = a->dilation;
    // most windows lie inside (the planned end start + d·(k - 1) fits)
    if (start >= 0 && start + d * (a->k - 1) < a->in) {
        *lo = 0;
        *hi = a->k;
        return;
    }
    // (start < 0: -start <= pad_before fits; divisions round toward the input)
    *lo = start < 0 ? -start / d + (-start % d != 0) : 0;
    *hi = start >= a->in ? 0 : (a->in - 1 - start) / d + 1;
    if (*hi > a->k)
        *hi = a->k;
    if (*lo > *hi)
        *lo = *hi;
}
