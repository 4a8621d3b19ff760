/* minitensor/grid_sample.h — sampling an image at given points: PyTorch's
 * F.affine_grid and F.grid_sample (2-D), the two steps of a spatial
 * transformer network.
 *
 *     // grid = F.affine_grid(theta, x.size()); y = F.grid_sample(x, grid)
 *     mt_affine_grid(theta, h, w, false, &grid);          // [N,h,w,2]
 *     mt_grid_sample(x, grid, NULL, &y);                  // [N,h,w,C]
 *
 * Images are NHWC, [N,H,W,C]; a grid holds, per output pixel, the point
 * (x, y) to read, -1 the left/top edge and +1 the right/bottom edge of
 * the input. F32; any strides. */
#ifndef MINITENSOR_GRID_SAMPLE_H
#define MINITENSOR_GRID_SAMPLE_H

#include <stdbool.h>

#include "minitensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_grid_sample_mode {
    MT_GRID_SAMPLE_MODE_BILINEAR = 0,   /* PyTorch's default */
    MT_GRID_SAMPLE_MODE_NEAREST,        /* the nearest pixel, halves to even */
    MT_GRID_SAMPLE_MODE_BICUBIC         /* 4x4 pixels, cubic convolution A = -0.75 */
} mt_grid_sample_mode;

typedef enum mt_grid_sample_padding {
    MT_GRID_SAMPLE_PADDING_ZEROS = 0,   /* points outside read 0 (default) */
    MT_GRID_SAMPLE_PADDING_BORDER,      /* points clamped to the edge pixels */
    MT_GRID_SAMPLE_PADDING_REFLECTION   /* points mirrored at the edges (see below) */
} mt_grid_sample_padding;

/* mode, padding_mode and align_corners of F.grid_sample; NULL or all zero:
 * PyTorch's defaults (bilinear, zeros, align_corners=False). align_corners
 * true: -1 and +1 are the centres of the corner pixels; false: their outer
 * edges. The values are PyTorch's enum order (mode 0/1/2, padding_mode
 * 0/1/2). */
typedef struct mt_grid_sample_params {
    mt_grid_sample_mode mode;
    mt_grid_sample_padding padding;
    bool align_corners;
} mt_grid_sample_params;

/* F.affine_grid(theta, (N, C, h, w), align_corners): theta [N,2,3] ->
 * grid [N,h,w,2], grid[n,i,j] = theta[n] · (x_j, y_i, 1) with x_j, y_i the
 * pixel centres in [-1, 1] (align_corners: the corner pixels at ±1; a
 * size of 1 puts its one pixel at 0). Fails (MT_ERR_SHAPE) on another
 * theta shape, MT_ERR_INVALID_ARGUMENT on h or w < 1 or NULLs; *out is
 * new, the caller's to free. */
mt_status mt_affine_grid(const mt_tensor *theta, int64_t h, int64_t w, bool align_corners,
                         mt_tensor **out);
mt_status mt_affine_grid_into(const mt_tensor *theta, int64_t h, int64_t w,
                              bool align_corners, mt_tensor *out);

/* F.grid_sample(input, grid, mode, padding_mode, align_corners) on NHWC:
 * input [N,H,W,C], grid [N,OH,OW,2] -> [N,OH,OW,C]; each output pixel
 * reads the input at its grid point (x across W, y down H), bilinearly
 * from the 4 pixels around it, from the nearest one or bicubically from
 * the 4x4 around it, as PyTorch 1.13's CPU kernel computes them (in float).
 * Padding: ZEROS reads 0 outside the input; BORDER clamps the point to
 * the edge pixels; REFLECTION mirrors it at the borders (align_corners:
 * at the corner pixels' centres; else at the image's outer edges) until
 * it lands inside, then clamps. Bicubic pads each of its 16 taps on its
 * own, as PyTorch: with ZEROS a tap outside reads 0, with BORDER and
 * REFLECTION it reads the clamped or mirrored pixel.
 * NaN and ±inf grid points (each checked against torch 1.13 on CPU):
 * bicubic gives NaN (every padding, as PyTorch); with bilinear or
 * nearest, REFLECTION reads such a coordinate as pixel 0 of its axis and
 * BORDER reads NaN and -inf as pixel 0, +inf as the last pixel (both as
 * PyTorch); ZEROS gives 0 with nearest and NaN with bilinear (as PyTorch,
 * whose bilinear weights of such a point are NaN).
 * PyTorch's AVX2 build fuses (g + 1)·scale - 0.5 into one FMA where its
 * default (ATEN_CPU_CAPABILITY=default) kernel and this one round twice:
 * far outside the image (|g| from a few hundred on, reflected) the two
 * weigh the pixels slightly differently or pick others; this kernel
 * matches the default one.
 * Fails on NULLs,
 * another rank, an input with H or W = 0 or a grid of another batch or
 * last dim (MT_ERR_SHAPE), a bad option (MT_ERR_INVALID_ARGUMENT),
 * non-F32 (MT_ERR_DTYPE); out (the _into form: any strides, no overlap
 * with the inputs) untouched then. */
mt_status mt_grid_sample(const mt_tensor *input, const mt_tensor *grid,
                         const mt_grid_sample_params *params, mt_tensor **out);
mt_status mt_grid_sample_into(const mt_tensor *input, const mt_tensor *grid,
                              const mt_grid_sample_params *params, mt_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
