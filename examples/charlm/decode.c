/* decode.c — sampling characters one at a time over the KV cache. */
#include <string.h>

#include "decode.h"
#include "sample.h"

mt_status charlm_decode(charlm_state *s, const charlm_generate_options *o, int32_t *ctx,
                        int64_t n_ctx, float *scratch, charlm_emit emit, void *user)
{
    const charlm_model *m = charlm_state_model(s);
    int64_t B = m->cfg.block_size;
    const float *logits;
    charlm_rng rng;
    charlm_rng_seed(&rng, o->seed);
    charlm_state_reset(s);
    mt_status st = charlm_forward(s, ctx, n_ctx, false, &logits);
    for (int64_t i = 0; i < o->tokens && !st; i++) {
        int32_t next = charlm_sample(logits, m->cfg.vocab_size, o->temperature, o->top_k, &rng,
                                     scratch);
        if ((st = emit(next, user)) || i + 1 == o->tokens)
            break;
        int64_t pos = charlm_state_pos(s);
        if (pos < B) {
            ctx[pos] = next;
            st = charlm_forward(s, &ctx[pos], 1, false, &logits);
            continue;
        }
        int64_t keep = B / 2 > 0 ? B / 2 : 1;
        memmove(ctx, ctx + B - (keep - 1), (size_t)(keep - 1) * sizeof *ctx);
        ctx[keep - 1] = next;
        charlm_state_reset(s);
        st = charlm_forward(s, ctx, keep, false, &logits);
    }
    return st;
}
