/* graph_build.h — what the suites that build whole models as graphs
 * (test_nn_vit.c, test_nn_tutorials.c, test_nn_keras_apps.c,
 * test_nn_swin.c, test_nn_llama.c, test_nn_grid_sample.c,
 * test_nn_keras_vector.c) share: adding a layer just made,
 * naming a tensor under a layer's prefix, and checking a classifier's
 * logits. */
#ifndef MT_TEST_GRAPH_BUILD_H
#define MT_TEST_GRAPH_BUILD_H

#include "test_util.h"

/* Add node `name` reading inputs[0..n-1]: the layer *l, which `made` made. */
static inline int node(mt_graph *g, const char *name, mt_status made, mt_layer **l, int n,
                       const int *inputs)
{
    if (made)
        fail_msg("%s: %s", name, mt_last_error());
    int id = -1;
    assert_ok(mt_graph_add(g, name, *l, n, inputs, &id));
    return id;
}

/* "prefix.suffix" in a ring of 8 buffers (the graph copies node names, the
 * loaders read them at once) */
static inline const char *at(const char *prefix, const char *suffix)
{
    static char ring[8][160];
    static int next;
    char *s = ring[next++ % 8];
    snprintf(s, 160, "%s.%s", prefix, suffix);
    return s;
}

/* prefix + suffix (a Keras path's "/…", a prefix ending in "."), the same
 * ring */
static inline const char *join(const char *prefix, const char *suffix)
{
    static char ring[8][160];
    static int next;
    char *s = ring[next++ % 8];
    snprintf(s, 160, "%s%s", prefix, suffix);
    return s;
}

/* g's output for x (its one input) is want, of shape shape[0..rank),
 * within atol + rtol·|want|, twice: the second pass allocates nothing
 * (counter counts every allocation). */
static inline void output_matches(mt_graph *g, const mt_tensor *x, const float *want, int rank,
                                  const int64_t *shape, double atol, double rtol,
                                  const alloc_probe *counter)
{
    const mt_tensor *y = NULL;
    for (int pass = 0; pass < 2; pass++) {
        long before = counter->allocations;
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
        if (pass)
            assert_int_equal(counter->allocations, before);
        assert_int_equal(y->rank, rank);
        int64_t count = 1;
        for (int d = 0; d < rank; d++) {
            assert_int_equal(y->shape[d], shape[d]);
            count *= shape[d];
        }
        assert_close((const float *)y->data, want, (size_t)count, atol, rtol);
    }
}

#endif
