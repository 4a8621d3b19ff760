/* train_shards.h — data parallelism for `fashion train --threads T`.
 *
 * Each batch is split into T shards of consecutive rows (sizes differ by at
 * most one). Shard i runs on thread i (shard 0 on the caller) with its own
 * tape and its own shadows of the model's parameters (mt_param_shadow_new:
 * the weights are shared, the gradients are not); its dropout draws from a
 * generator seeded from (seed, step, i). The caller then sums the shadows'
 * gradients into the parameters in shard order, weighted by shard size /
 * batch size (mt_param_grad_reduce), so the result depends on the seed and
 * T only, never on timing. The matrix products run single-threaded inside
 * the shards: the shard threads are the only pool (no oversubscription). */
#ifndef FASHION_TRAIN_SHARDS_H
#define FASHION_TRAIN_SHARDS_H

#include "train_model.h"

typedef struct train_shards train_shards;

/* 2 <= T <= 64 shard threads for model (the model must outlive them) and
 * batches of up to `batch` images. Sets the matmul threads to 1. */
mt_status train_shards_new(int threads, train_model *model, uint64_t seed, int64_t batch,
                           train_shards **out);
void train_shards_free(train_shards *sh);

/* One step's forward and backward over x [B,28,28], y [B]: on return the
 * model's parameter gradients hold the batch-mean loss's gradient; *loss is
 * the batch-mean loss, *logits_out a [B,10] buffer of logits owned by sh
 * (valid until the next step). `step` seeds the shards' dropout. */
mt_status train_shards_step(train_shards *sh, const mt_tensor *x, const mt_tensor *y,
                            int64_t step, float *loss, const mt_tensor **logits_out);

#endif
