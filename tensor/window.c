/* window.c — sliding-window sizes (overflow-checked) and NHWC views. */
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
        a->out = 0;
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
