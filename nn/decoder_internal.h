/* decoder_internal.h (nn-private) — what the generation decoders
 * (llama_decoder.c, gpt2_decoder.c) share: their blocks are library layers
 * run through their vtables into buffers made once at load, so a layer's
 * shapes are checked by its own infer and its scratch sized by its own
 * scratch_bytes. `op` ("llama", "gpt2") starts the messages. */
#ifndef MT_NN_DECODER_INTERNAL_H
#define MT_NN_DECODER_INTERNAL_H

#include "layer_internal.h"
#include "minitensor/safetensors.h"

/* Whether tensor `name` is in f (no error left set). */
NN_INTERNAL bool mt_nn_decoder_has(const mt_safetensors *f, const char *name);

/* l's output shape for *in, or a failure naming the layer. */
NN_INTERNAL mt_status mt_nn_decoder_infer(const char *op, const mt_layer *l,
                                          const mt_shape *in, mt_shape *out);

/* The same, and the output must be [1, L, width] (`what` says why). */
NN_INTERNAL mt_status mt_nn_decoder_infer_as(const char *op, const mt_layer *l,
                                             const mt_shape *in, int64_t width,
                                             const char *what, mt_shape *out);

/* l's scratch for input *in (0 if it needs none). */
NN_INTERNAL size_t mt_nn_decoder_scratch(const mt_layer *l, const mt_shape *in);

/* *total += a·b·c floats, false (total unchanged) if a dim is negative or
 * the bytes would pass SIZE_MAX. */
NN_INTERNAL bool mt_nn_decoder_add_floats(size_t *total, int64_t a, int64_t b, int64_t c);

/* x [1, n, …] -> y, wrapped on `out` as [1, n, width], through l's vtable. */
NN_INTERNAL mt_status mt_nn_decoder_run(const mt_layer *l, const mt_tensor *x, float *out,
                                        int64_t width, void *scratch, mt_tensor *y);

/* The logits of rows first..n-1 of the stream h ([1, n, e] floats):
 * through the final norm into x, then the head into out ([1, n - first,
 * vocab] floats). */
NN_INTERNAL mt_status mt_nn_decoder_logits(const mt_layer *norm, const mt_layer *head,
                                           const float *h, int64_t n, int64_t first, int64_t e,
                                           int64_t vocab, float *x, void *scratch, float *out);

/* The checks of a feed: n >= 1 tokens, each in 0..vocab-1, that fit in
 * the cache from position pos (max_len positions); `op` names the call,
 * `reset` the function that starts over. */
NN_INTERNAL mt_status mt_nn_decoder_check_feed(const char *op, const char *reset, int64_t n,
                                               const int64_t *tokens, int64_t pos,
                                               int64_t max_len, int64_t vocab);

/* The blocks "<layers>.0.", "<layers>.1.", … while "<layers>.<i>.<q_weight>"
 * is in f: at least one, and no tensor of a block past them (a block whose
 * q weight is missing, a gap in the numbering: the model would be cut
 * short). */
NN_INTERNAL mt_status mt_nn_decoder_count_blocks(const char *op, const mt_safetensors *f,
                                                 const char *layers, const char *q_weight,
                                                 int64_t *n_layers);

#endif
