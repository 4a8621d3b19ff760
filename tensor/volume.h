/* volume.h — what conv3d and the 3-D pools share: five-dim tensors seen
 * channels last and their three window axes planned. Internal to tensor/. */
#ifndef MT_VOLUME_H
#define MT_VOLUME_H

#include "minitensor/conv3d.h"
#include "window.h"

/* v = t [N,D,H,W,C] as it is (NHWC) or t [N,C,D,H,W] permuted to
 * [N,D,H,W,C] (NCHW): a view, no copy. t must be 5-D. */
void mt_ndhwc_view(const mt_tensor *t, mt_data_layout layout, mt_tensor *v);

/* The shape in `layout` of an [n, d, h, w, c] result. */
void mt_volume_shape(mt_data_layout layout, int64_t n, const int64_t dhw[3], int64_t c,
                     int64_t shape[5]);

/* Checks that input is an F32 five-dim tensor for `layout` (named in the
 * message) and that layout is known. */
mt_status mt_volume_check_input(const char *op, const mt_tensor *input, mt_data_layout layout);

/* Plans the depth, height and width axes ax[0..2] (in, k, stride,
 * dilation and pads filled by the caller) with mt_window_plan, then fails
 * with MT_ERR_SHAPE naming `what` ("kernel", "pool window") and the input
 * if a window does not fit an axis (an empty output). */
mt_status mt_volume_plan(const char *op, const char *what, const mt_tensor *input,
                         mt_padding padding, bool ceil_mode, mt_window_axis ax[3]);

/* The output of a 3-D op on input, of `shape`: out_into checked (F32, that
 * shape, no stride-0 overlap, apart from the input) into *t, or, when
 * out_new is given, a new zeroed tensor. */
mt_status mt_volume_out(const char *op, const mt_tensor *input, const int64_t shape[5],
                        mt_tensor *out_into, mt_tensor **out_new, mt_tensor **t);

#endif
