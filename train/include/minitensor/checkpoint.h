/* minitensor/checkpoint.h — a training run's whole state in one safetensors
 * file, saved atomically, restored exactly.
 *
 * A checkpoint holds the parameters (under their tensor names, so the file
 * is also a model file PyTorch, Keras and mt_safetensors_open read), the
 * optimizer's state (tensors "optim.<param>.exp_avg", …), its step count
 * (and each parameter's own when one lags it: backward reached it later),
 * generator states and the epoch, plus your own metadata (string pairs:
 * model kind, batch size, seed…). Restoring it and training on gives the
 * same bytes as a run that was never interrupted.
 *
 *     mt_checkpoint ck = {.params = params, .n_params = 4, .optimizer = opt,
 *                         .rngs = &rng, .n_rngs = 1, .epoch = epoch};
 *     mt_checkpoint_save("run.ckpt", &ck, meta, n_meta);
 *     …
 *     mt_checkpoint_load("run.ckpt", &ck, meta, n_meta);  // fills ck
 *
 * Loading checks everything before it changes anything: every parameter
 * and optimizer tensor present with its exact shape and F32 values that are
 * finite, the optimizer kind, generator count and every expected metadata
 * pair equal; a mismatch is an error naming what differs, and the state is
 * left as it was. ck->optimizer NULL restores the parameters, the epoch and
 * the n_rngs generators asked for only (to evaluate, or to fine-tune with a
 * new optimizer); with an optimizer (a resume) the file must hold exactly
 * n_rngs generators. The optimizer's parameters must be among ck->params,
 * when saving and when loading. The file carries a checksum (minitensor.checksum) over
 * every tensor and the epoch, step count and generator states: a file
 * damaged or edited after it was saved is refused, whatever part is loaded.
 */
#ifndef MINITENSOR_CHECKPOINT_H
#define MINITENSOR_CHECKPOINT_H

#include <stdint.h>

#include "minitensor/autograd.h"
#include "minitensor/optim.h"
#include "minitensor/random.h"
#include "minitensor/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_checkpoint {
    mt_value *const *params;   /* parameters, each with a unique tensor name */
    int n_params;
    mt_optimizer *optimizer;   /* may be NULL */
    mt_rng *rngs;              /* generators to save and restore (may be NULL) */
    int n_rngs;
    int64_t epoch;             /* epochs completed */
} mt_checkpoint;

/* Save ck (and `metadata`: n_metadata string pairs, keys other than the
 * ones minitensor uses: "minitensor.*") to path through the atomic writer.
 * What mt_checkpoint_load would refuse is not written: an epoch outside
 * 0..2^62-1 or a NaN or infinite parameter or optimizer tensor
 * (MT_ERR_INVALID_ARGUMENT naming it). */
mt_status mt_checkpoint_save(const char *path, const mt_checkpoint *ck,
                             const mt_safetensors_kv *metadata, size_t n_metadata);

/* Restore ck's parameters, optimizer state, generators and epoch from path.
 * `expected` pairs (may be NULL with n_expected 0; no NULL key or value)
 * must be present in the file with equal values (a run's configuration: a checkpoint of another
 * model or batch size is refused). */
mt_status mt_checkpoint_load(const char *path, mt_checkpoint *ck,
                             const mt_safetensors_kv *expected, size_t n_expected);

#ifdef __cplusplus
}
#endif
#endif
