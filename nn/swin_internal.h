/* swin_internal.h (nn-private) — what swin_layers.c shares with the Swin V2
 * attention (swin_v2_layer.c). */
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

#endif
