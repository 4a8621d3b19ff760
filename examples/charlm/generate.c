/* generate.c — `charlm generate`: stream sampled text with a KV cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "sample.h"
#include "text.h"
#include "utf8.h"

static int fail(void)
{
    fprintf(stderr, "charlm: %s\n", mt_last_error());
    return 1;
}

static void put(const charlm_model *m, int32_t tok)
{
    char buf[4];
    fwrite(buf, 1, utf8_put(m->vocab[tok], buf), stdout);
}

/* The cache holds ctx[0..pos). Once it is full, the model (absolute position
 * embeddings) must see its context from position 0 again: the newest half
 * of the context is run once more as a new prefix, and generation goes on
 * from there. Every other token costs one position of the cache. */
static mt_status run(const charlm_model *m, charlm_state *s, const charlm_generate_options *o,
                     int32_t *ctx, int64_t n_ctx, float *scratch)
{
    int64_t B = m->cfg.block_size;
    const float *logits;
    charlm_rng rng;
    charlm_rng_seed(&rng, o->seed);
    mt_status st = charlm_forward(s, ctx, n_ctx, false, &logits);
    for (int64_t i = 0; i < o->tokens && !st; i++) {
        int32_t next = charlm_sample(logits, m->cfg.vocab_size, o->temperature, o->top_k, &rng,
                                     scratch);
        put(m, next);
        fflush(stdout);
        if (i + 1 == o->tokens)
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

int charlm_generate(const charlm_model *m, const charlm_generate_options *o)
{
    int64_t B = m->cfg.block_size, n = 0;
    int32_t *prompt = NULL;
    size_t len = strlen(o->prompt);
    if (charlm_tokenize(m, o->prompt, len, "--prompt", &prompt, &n))
        return fail();
    if (n == 0) {   /* nanoGPT's samples start from a newline */
        int32_t nl = charlm_token(m, '\n');
        prompt[0] = nl >= 0 ? nl : 0;
        n = 1;
    } else {
        fwrite(o->prompt, 1, len, stdout);
    }
    /* The context: the prompt's last block_size tokens, then what follows. */
    int64_t n_ctx = n < B ? n : B;
    int32_t *ctx = malloc((size_t)B * sizeof *ctx);
    float *scratch = malloc((size_t)m->cfg.vocab_size * sizeof *scratch);
    charlm_state *s = NULL;
    mt_status st = MT_OK;
    if (!ctx || !scratch)
        st = mt_fail(MT_ERR_OUT_OF_MEMORY, "out of memory");
    else if (!(st = charlm_state_new(m, &s))) {
        memcpy(ctx, prompt + n - n_ctx, (size_t)n_ctx * sizeof *ctx);
        st = run(m, s, o, ctx, n_ctx, scratch);
    }
    charlm_state_free(s);
    free(scratch);
    free(ctx);
    free(prompt);
    if (st) {
        fflush(stdout);
        return fail();
    }
    putchar('\n');
    return ferror(stdout) ? 1 : 0;
}
