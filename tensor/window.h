/* window.h — what conv, pooling and resizing share: one spatial axis of a
 * sliding window planned with overflow checks, and NCHW tensors seen as
 * NHWC views. Internal to tensor/. */
#ifndef MT_WINDOW_H
#define MT_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "minitensor/conv.h"

/* One axis: in, k, stride, dilation and (EXPLICIT) pads in; out and the
 * resolved pads out. Every window start (o * stride - pad_before) and end
 * (start + dilation * (k - 1)) fits int64_t once planned. */
typedef struct mt_window_axis {
    int64_t in, k, stride, dilation, pad_before, pad_after;
    int64_t out;
} mt_window_axis;

/* Plans axis `axis` ("height", "width") of op; fails with a message naming
 * the op and the values: k < 1, stride < 1, dilation < 1, in < 0, negative
 * pads or pads given without EXPLICIT (MT_ERR_INVALID_ARGUMENT), sizes past
 * int64_t (MT_ERR_OVERFLOW). */
mt_status mt_window_plan(const char *op, const char *axis, mt_padding padding,
                         bool ceil_mode, mt_window_axis *a);

/* The taps [*lo, *hi) of a window starting at row `start` (o * stride -
 * pad_before) whose rows start + i * dilation fall inside the input: the
 * rest are padding, and are not visited (a window of 2^62 taps over 3 rows
 * costs 3). */
void mt_window_taps(const mt_window_axis *a, int64_t start, int64_t *lo, int64_t *hi);

/* v = t [N,H,W,C] as it is (NHWC) or t [N,C,H,W] permuted to [N,H,W,C]
 * (NCHW): a view, no copy. t must be 4-D. */
void mt_nhwc_view(const mt_tensor *t, mt_data_layout layout, mt_tensor *v);

/* The shape in `layout` of an [n, h, w, c] result. */
void mt_layout_shape(mt_data_layout layout, int64_t n, int64_t h, int64_t w, int64_t c,
                     int64_t shape[4]);

/* Fails unless layout is one of mt_data_layout's values. */
mt_status mt_check_data_layout(const char *op, mt_data_layout layout);

/* A conv kernel layout as messages name it, for a 4-D ("HWIO (kh,kw,
 * in/groups,out)") or 5-D kernel ("DHWIO (kd,kh,kw,in/groups,out)"). */
const char *mt_conv_layout_text(mt_kernel_layout layout, int rank);

/* A conv kernel's input channels per group and output channels, read in
 * `layout` (HWIO: its last two dims; OIHW: its first two). */
void mt_conv_kernel_io(mt_kernel_layout layout, const mt_tensor *kernel, int64_t *kin,
                       int64_t *kout);

/* Settles a conv kernel's layout for an input of cin channels: `want` if it
 * fits, AUTO as whichever of HWIO and OIHW fits (the bias's length
 * included), asking when both do; fails naming op, the shapes and the
 * layouts. kernel is 4-D or 5-D, groups >= 1 divides cin. */
mt_status mt_conv_resolve_layout(const char *op, const mt_tensor *input,
                                 const mt_tensor *kernel, const mt_tensor *bias,
                                 mt_kernel_layout want, int64_t cin, int64_t groups,
                                 mt_kernel_layout *layout);

#endif
