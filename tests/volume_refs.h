/* volume_refs.h — what the 3-D suites (test_nn_conv3d.c,
 * test_nn_conv_transpose3d.c, test_nn_conv_lstm.c) share: a result (any view) against a
 * reference, PyTorch's NCDHW references seen channels last, and adding a
 * layer just built to a Sequential. */
#ifndef MT_TEST_VOLUME_REFS_H
#define MT_TEST_VOLUME_REFS_H

#include "test_util.h"

/* y (any view) has the shape and values of `name` in refs. */
static inline void matches(const mt_safetensors *refs, const mt_tensor *y, const char *name)
{
    mt_tensor *want = ref_get(refs, name), *c = NULL;
    assert_int_equal(y->rank, want->rank);
    for (int d = 0; d < want->rank; d++)
        if (y->shape[d] != want->shape[d])
            fail_msg("%s: dim %d is %lld, expected %lld", name, d, (long long)y->shape[d],
                     (long long)want->shape[d]);
    assert_ok(mt_tensor_contiguous(y, &c));
    assert_close((const float *)c->data, (const float *)want->data,
                 (size_t)mt_tensor_numel(want), 1e-5, 1e-4);
    mt_tensor_free(c);
    mt_tensor_free(want);
}

static const int to_ndhwc[5] = {0, 2, 3, 4, 1}, to_ncdhw[5] = {0, 4, 1, 2, 3};

/* refs' NCDHW `name` as a [N,D,H,W,C] permuted view, owning it through
 * *base. */
static inline mt_tensor *ndhwc_of(const mt_safetensors *refs, const char *name, mt_tensor **base)
{
    mt_tensor *v = NULL;
    *base = ref_get(refs, name);
    assert_ok(mt_permute(*base, to_ndhwc, &v));
    return v;
}

/* Adds *lp (read after `made`, the call that built it, has run). */
static inline void add(mt_sequential *m, mt_status made, mt_layer **lp)
{
    if (made)
        fail_msg("%s", mt_last_error());
    assert_ok(mt_sequential_add(m, *lp));
}

#endif
