/* decoder_common.c — what llama_decoder.c and gpt2_decoder.c share
 * (decoder_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder_internal.h"
#include "minitensor/tensor.h"

bool mt_nn_decoder_has(const mt_safetensors *f, const char *name)
{
    size_t index;
    bool found = mt_safetensors_find(f, name, &index) == MT_OK;
    mt_clear_error();
    return found;
}

mt_status mt_nn_decoder_infer(const char *op, const mt_layer *l, const mt_shape *in,
                              mt_shape *out)
{
    const char *from = "the layer before";
    mt_clear_error();
    mt_status s = l->vt->infer(l, 1, in, &from, out);
    if (!s)
        return MT_OK;
    char why[512];
    snprintf(why, sizeof why, "%s", mt_last_error()[0] ? mt_last_error() : mt_status_name(s));
    return mt_fail(s, "%s: %s: %s", op, l->name, why);
}

mt_status mt_nn_decoder_infer_as(const char *op, const mt_layer *l, const mt_shape *in,
                                 int64_t width, const char *what, mt_shape *out)
{
    mt_status s = mt_nn_decoder_infer(op, l, in, out);
    if (!s && (out->rank != 3 || out->dim[2] != width))
        s = mt_fail(MT_ERR_SHAPE, "%s: %s gives %lld features, expected %lld (%s)", op,
                    l->name, (long long)(out->rank ? out->dim[out->rank - 1] : 0),
                    (long long)width, what);
    return s;
}

size_t mt_nn_decoder_scratch(const mt_layer *l, const mt_shape *in)
{
    return l->vt->scratch_bytes ? l->vt->scratch_bytes(l, 1, in) : 0;
}

bool mt_nn_decoder_add_floats(size_t *total, int64_t a, int64_t b, int64_t c)
{
    const uint64_t cap = SIZE_MAX / sizeof(float);
    if (a < 0 || b < 0 || c < 0)
        return false;
    uint64_t n = (uint64_t)a;
    if ((b && n > cap / (uint64_t)b) || (n *= (uint64_t)b, c && n > cap / (uint64_t)c))
        return false;
    n *= (uint64_t)c;
    if (n > cap - *total)
        return false;
    *total += (size_t)n;
    return true;
}

mt_status mt_nn_decoder_run(const mt_layer *l, const mt_tensor *x, float *out, int64_t width,
                            void *scratch, mt_tensor *y)
{
    mt_status s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){1, x->shape[1], width},
                                      out, y);
    return s ? s : l->vt->forward(l, 1, (const mt_tensor *const[]){x}, scratch, y);
}

mt_status mt_nn_decoder_logits(const mt_layer *norm, const mt_layer *head, const float *h,
                                int64_t n, int64_t first, int64_t e, int64_t vocab, float *x,
                                void *scratch, float *out)
{
    mt_tensor rows, normed, logits;
    mt_status s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){1, n - first, e},
                                      (float *)h + first * e, &rows);
    if (!s)
        s = mt_nn_decoder_run(norm, &rows, x, e, scratch, &normed);
    return s ? s : mt_nn_decoder_run(head, &normed, out, vocab, scratch, &logits);
}

mt_status mt_nn_decoder_check_feed(const char *op, const char *reset, int64_t n,
                                   const int64_t *tokens, int64_t pos, int64_t max_len,
                                   int64_t vocab)
{
    if (n < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: n %lld, expected >= 1", op, (long long)n);
    if (n > max_len - pos)
        return mt_fail(MT_ERR_SHAPE, "%s: %lld tokens at position %lld: the cache holds %lld "
                       "positions (%s, then a shorter context)", op, (long long)n,
                       (long long)pos, (long long)max_len, reset);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: token %lld (%lld of %lld) is not in "
                           "0..%lld", op, (long long)tokens[i], (long long)i, (long long)n,
                           (long long)(vocab - 1));
    return MT_OK;
}

mt_status mt_nn_decoder_count_blocks(const char *op, const mt_safetensors *f,
                                     const char *layers, const char *q_weight,
                                     int64_t *n_layers)
{
    char name[1024];
    int64_t n = 0;
    do
        snprintf(name, sizeof name, "%s.%lld.%s", layers, (long long)n, q_weight);
    while (mt_nn_decoder_has(f, name) && ++n);
    if (n == 0)
        return mt_fail(MT_ERR_NOT_FOUND, "%s_load: no block: %s is not in the file", op, name);
    size_t pn = strlen(layers), count = mt_safetensors_count(f);
    for (size_t i = 0; i < count; i++) {
        mt_safetensors_entry e;
        if (mt_safetensors_info(f, i, &e) || e.name_len <= pn + 1 ||
            memcmp(e.name, layers, pn) || e.name[pn] != '.')
            continue;
        char *end;
        long long index = strtoll(e.name + pn + 1, &end, 10);
        if (end != e.name + pn + 1 && *end == '.' && index >= n)
            return mt_fail(MT_ERR_FORMAT, "%s_load: %s is in the file, but block %lld has no "
                           "%s: the blocks stop at %lld", op, e.name, (long long)n, q_weight,
                           (long long)n);
    }
    *n_layers = n;
    return MT_OK;
}
