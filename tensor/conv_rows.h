/* conv_rows.h — what conv.c and conv_rows.c share: the planned geometry of
 * one conv2d call, and the im2col-free path that runs it. Internal to
 * tensor/. */
#ifndef MT_CONV_ROWS_H
#define MT_CONV_ROWS_H

#include <stdbool.h>
#include <stdint.h>

#include "minitensor/conv.h"
#include "window.h"

typedef struct conv_geometry {
    int64_t n, h, w, cin, cout, kh, kw, oh, ow, pad_top, pad_left, sh, sw, dh, dw;
    int64_t groups;
    mt_kernel_layout layout;  /* resolved: HWIO or OIHW */
    mt_tensor x;              /* the input as an NHWC view */
} conv_geometry;

/* A max pool applied to the conv's output before it is stored (VALID, no
 * ceil mode): windows k, steps stride, taps dilation per axis; out the
 * pooled size. */
typedef struct conv_pool {
    mt_window_axis ah, aw;
} conv_pool;

/* Does g run on the row path (one group, no width dilation, each input
 * pixel's channels contiguous)? The native kernel must be the backend:
 * conv.c asks that. */
bool mt_conv_rows_fit(const conv_geometry *g);

/* y (an NHWC view, any strides; [N,OH,OW,Cout], or the pooled size when
 * pool is given) = [maxpool](act(conv(x, kernel) + bias)), computed by the
 * native micro-kernel straight from the input rows: for each output row and
 * kernel row ki, the tile's A(i, p) is input row oy·sh + ki·dh at pixel
 * i·sw, channel-tap p — a strided view of the input, so no patch matrix is
 * built (with a 2×2 stride-2 pool after a 3×3 unit-stride conv, Winograd
 * F(2×2, 3×3) where it pays; `winograd`, if not NULL, is the kernel's
 * transform [16, cin, cout], checked by the caller). g must fit
 * (mt_conv_rows_fit). Runs on
 * `threads` threads. Fails
 * only for memory (MT_ERR_OUT_OF_MEMORY, y untouched). */
mt_status mt_conv_rows_run(const char *op, const conv_geometry *g, const mt_tensor *kernel,
                           const mt_tensor *winograd, const mt_tensor *bias,
                           mt_activation act, const conv_pool *pool, int threads,
                           mt_tensor *y);

/* u [16, cin, cout] = the Winograd F(2×2, 3×3) transform of a 3×3 kernel
 * in `layout` (HWIO or OIHW, any strides): mt_conv2d_winograd_kernel. */
void mt_conv_rows_winograd_kernel(const mt_tensor *kernel, mt_kernel_layout layout,
                                  int64_t cin, int64_t cout, float *u);

#endif
