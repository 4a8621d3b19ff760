/* graph_build.h — what the suites that build whole models as graphs
 * (test_nn_vit.c, test_nn_tutorials.c, test_nn_keras_apps.c,
 * test_nn_swin.c, test_nn_llama.c) share: adding a layer just made, and
 * naming a tensor under a layer's prefix. */
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

#endif
