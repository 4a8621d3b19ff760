/* generate.c — `charlm generate`: stream sampled text with a KV cache. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "decode.h"
#include "text.h"
#include "utf8.h"

static int fail(void)
{
    fprintf(stderr, "charlm: %s\n", mt_last_error());
    return 1;
}

/* A failed write (a full disk, a closed pipe with SIGPIPE ignored) stops
 * the generation: nobody reads what would follow. */
static mt_status write_failed(void)
{
    return mt_fail(MT_ERR_IO, "writing the text to standard output: %s",
                   errno ? strerror(errno) : "the stream failed");
}

static mt_status print_token(int32_t token, void *user)
{
    const charlm_model *m = user;
    char buf[4];
    size_t n = utf8_put(m->vocab[token], buf);
    errno = 0;
    // stream each character as it comes
    if (fwrite(buf, 1, n, stdout) != n || fflush(stdout) == EOF)
        return write_failed();
    return MT_OK;
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
        st = charlm_decode(s, o, ctx, n_ctx, scratch, print_token, (void *)m);
    }
    charlm_state_free(s);
    free(scratch);
    free(ctx);
    free(prompt);
    if (st) {
        fflush(stdout);
        return fail();
    }
    errno = 0;
    if (putchar('\n') == EOF || fflush(stdout) == EOF || ferror(stdout)) {
        write_failed();
        return fail();
    }
    return 0;
}
