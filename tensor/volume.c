/* volume.c — channels-last views and window planning for conv3d and the
 * 3-D pools. */
#include "volume.h"
#include "internal.h"

void mt_ndhwc_view(const mt_tensor *t, mt_data_layout layout, mt_tensor *v)
{
    *v = *t;
    if (layout != MT_DATA_LAYOUT_NCHW)
        return;
    static const int perm[5] = {0, 2, 3, 4, 1};
    for (int d = 0; d < 5; d++) {
        v->shape[d] = t->shape[perm[d]];
        v->stride[d] = t->stride[perm[d]];
    }
}

void mt_volume_shape(mt_data_layout layout, int64_t n, const int64_t dhw[3], int64_t c,
                     int64_t shape[5])
{
    bool nchw = layout == MT_DATA_LAYOUT_NCHW;
    shape[0] = n;
    shape[nchw ? 1 : 4] = c;
    for (int a = 0; a < 3; a++)
        shape[a + (nchw ? 2 : 1)] = dhw[a];
}

mt_status mt_volume_check_input(const char *op, const mt_tensor *input, mt_data_layout layout)
{
    mt_status s;
    if ((s = mt_tensor_check(op, "input", input)) || (s = mt_check_f32(op, input)) ||
        (s = mt_check_data_layout(op, layout)))
        return s;
    if (input->rank != 5)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s must be %s (5 dims)", op, MT_SHAPE(input),
                       layout == MT_DATA_LAYOUT_NCHW ? "[N,C,D,H,W]" : "[N,D,H,W,C]");
    return MT_OK;
}

mt_status mt_volume_plan(const char *op, const char *what, const mt_tensor *input,
                         mt_padding padding, bool ceil_mode, mt_window_axis ax[3])
{
    static const char *const names[3] = {"depth", "height", "width"};
    mt_status s;
    for (int a = 0; a < 3; a++)
        if ((s = mt_window_plan(op, names[a], padding, ceil_mode, &ax[a])))
            return s;
    for (int a = 0; a < 3; a++)
        if (ax[a].out < 1)
            return mt_fail(MT_ERR_SHAPE, "%s: the %s %lld (dilation %lld) is larger than "
                           "the %s %lld of input %s plus its pads (%lld, %lld)", op, what,
                           (long long)ax[a].k, (long long)ax[a].dilation, names[a],
                           (long long)ax[a].in, MT_SHAPE(input), (long long)ax[a].pad_before,
                           (long long)ax[a].pad_after);
    return MT_OK;
}

mt_status mt_volume_out(const char *op, const mt_tensor *input, const int64_t shape[5],
                        mt_tensor *out_into, mt_tensor **out_new, mt_tensor **t)
{
    mt_status s;
    if (out_new)
        return mt_tensor_zeros(MT_DTYPE_F32, 5, shape, t);
    if ((s = mt_tensor_check(op, "out", out_into)) || (s = mt_check_f32(op, out_into)))
        return s;
    mt_tensor want;
    mt_tensor_init_contiguous(&want, MT_DTYPE_F32, 5, shape, NULL);
    if (!mt_tensor_same_shape(out_into, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, input %s gives %s", op,
                       MT_SHAPE(out_into), MT_SHAPE(input), MT_SHAPE(&want));
    if ((s = mt_check_out(op, out_into, MT_DTYPE_F32, 5, shape)))   // stride 0: refused
        return s;
    if (mt_tensors_overlap(out_into, input))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps the input %s", op,
                       MT_SHAPE(out_into), MT_SHAPE(input));
    *t = out_into;
    return MT_OK;
}
