/* score.c — `charlm logits` and `charlm eval`: the model over whole texts. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "text.h"

static int fail(void)
{
    fprintf(stderr, "charlm: %s\n", mt_last_error());
    return 1;
}

/* Each line is its own sequence from position 0. The logits of every line
 * are gathered first and written atomically (mt_file_write_atomic): on any
 * failure an existing OUT_FILE is unchanged, and a device or FIFO there is
 * refused, never truncated or removed. */
static mt_status write_logits(const charlm_model *m, charlm_state *s, const int32_t *tokens,
                              int64_t lines, int64_t L, const char *out_path)
{
    size_t row = (size_t)(L * m->cfg.vocab_size);
    if ((size_t)lines > SIZE_MAX / sizeof(float) / row)
        return mt_fail(MT_ERR_OVERFLOW, "%s: %lld lines of %zu logits overflow", out_path,
                       (long long)lines, row);
    float *all = malloc((size_t)lines * row * sizeof *all);
    if (!all)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory for %lld lines of %zu logits",
                       out_path, (long long)lines, row);
    mt_status st = MT_OK;
    for (int64_t i = 0; i < lines && !st; i++) {
        const float *logits;
        charlm_state_reset(s);
        st = charlm_forward(s, tokens + i * L, L, true, &logits);
        if (!st)
            memcpy(all + (size_t)i * row, logits, row * sizeof *all);
    }
    /* float is IEEE binary32 and the hosts little-endian (as safetensors). */
    if (!st)
        st = mt_file_write_atomic(out_path, all, (size_t)lines * row * sizeof *all);
    free(all);
    return st;
}

int charlm_logits(const charlm_model *m, const char *text_path, const char *out_path)
{
    char *text = NULL;
    size_t size;
    int32_t *tokens = NULL;
    int64_t lines, L;
    charlm_state *s = NULL;
    mt_status st = charlm_read_file(text_path, &text, &size);
    if (!st)
        st = charlm_tokenize_lines(m, text, size, text_path, &tokens, &lines, &L);
    if (!st)
        st = charlm_state_new(m, &s);
    if (!st)
        st = write_logits(m, s, tokens, lines, L, out_path);
    charlm_state_free(s);
    free(tokens);
    free(text);
    return st ? fail() : 0;
}

/* -log softmax(logits)[target], in double. */
static double nll(const float *logits, int64_t V, int32_t target)
{
    float max = logits[0];
    for (int64_t i = 1; i < V; i++)
        max = logits[i] > max ? logits[i] : max;
    double sum = 0.0;
    for (int64_t i = 0; i < V; i++)
        sum += exp((double)logits[i] - max);
    return log(sum) + max - logits[target];
}

/* Windows of block_size inputs that follow one another: window w reads
 * tokens[w·B … w·B+B) and predicts the token after each, the last window
 * shorter; every token but the first is predicted once (train.py's
 * heldout_loss). */
static mt_status mean_loss(const charlm_model *m, charlm_state *s, const int32_t *tokens,
                           int64_t n, double *loss)
{
    int64_t B = m->cfg.block_size, V = m->cfg.vocab_size;
    double total = 0.0;
    for (int64_t start = 0; start < n - 1; start += B) {
        int64_t len = n - 1 - start < B ? n - 1 - start : B;
        const float *logits;
        charlm_state_reset(s);
        mt_status st = charlm_forward(s, tokens + start, len, true, &logits);
        if (st)
            return st;
        for (int64_t t = 0; t < len; t++)
            total += nll(logits + t * V, V, tokens[start + t + 1]);
    }
    *loss = total / (double)(n - 1);
    return MT_OK;
}

int charlm_eval(const charlm_model *m, const char *text_path)
{
    char *text = NULL;
    size_t size;
    int32_t *tokens = NULL;
    int64_t n = 0;
    charlm_state *s = NULL;
    double loss = 0.0;
    mt_status st = charlm_read_file(text_path, &text, &size);
    if (!st)
        st = charlm_tokenize(m, text, size, text_path, &tokens, &n);
    if (!st && n < 2)
        st = mt_fail(MT_ERR_FORMAT, "%s: %lld characters: eval needs at least 2", text_path,
                     (long long)n);
    if (!st)
        st = charlm_state_new(m, &s);
    if (!st)
        st = mean_loss(m, s, tokens, n, &loss);
    charlm_state_free(s);
    free(tokens);
    free(text);
    if (st)
        return fail();
    errno = 0;
    if (printf("%lld characters predicted: loss %.6f nats, %.6f bits per character\n",
               (long long)(n - 1), loss, loss / log(2.0)) < 0 ||
        fflush(stdout) == EOF) {
        mt_fail(MT_ERR_IO, "writing the loss to standard output: %s",
                errno ? strerror(errno) : "the stream failed");
        return fail();
    }
    return 0;
}
