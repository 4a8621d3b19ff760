/* swin_internal.h (nn-private) — what the Swin layers share: the window
 * attention (swin_layers.c) with the Swin V2 one (swin_v2_layer.c), and
 * weight checks with PatchMerging (patch_merging_layer.c). */
#ifndef MT_NN_SWIN_INTERNAL_H
#define MT_NN_SWIN_INTERNAL_H

#include "layer_internal.h"

/* ShiftedWindowAttention from w (as mt_shifted_window_attention_new), named
 * `kind` in messages; with cos_scale ([heads] F32, referenced) Swin V2's
 * cosine attention: q and k normalised per head, q·kᵀ times cos_scale[h]
 * instead of 1/sqrt(D). */
NN_INTERNAL mt_status mt_nn_swa_new(const mt_window_attention_weights *w,
                                    const mt_window_attention_options *options,
                                    const mt_tensor *cos_scale, const char *kind,
                                    mt_layer **out);

/* t is [d0] (rank 1) or [d0, d1]; else MT_ERR_SHAPE: "name: t, expected
 * want". */
NN_INTERNAL mt_status mt_nn_check_shape(const char *name, const mt_tensor *t, int rank,
                                        int64_t d0, int64_t d1, const char *want);

/* w (a PyTorch (out, in) matrix) as an (in, out) view the layer owns. */
NN_INTERNAL mt_status mt_nn_hold_transposed(const mt_tensor *w, mt_tensor **out);

#endif
