/* test_nn_distance_lrn.c — nn.CosineSimilarity, nn.PairwiseDistance (two
 * inputs, in graphs) and nn.LocalResponseNorm (channels last) against
 * PyTorch 1.13 (reference/make_nn_distance_lrn_refs.py ->
 * nn_distance_lrn.safetensors): broadcasting, norms below eps (where the
 * eps placement shows), p = 0, 1, 2, 3, 0.5, ±inf, keepdim, LRN windows
 * odd, even and wider than C; squares past float's range; strided
 * inputs; and the errors. */
#include <math.h>

#include "test_util.h"

static mt_safetensors *refs;

static void matches(const mt_tensor *y, const char *name)
{
    mt_tensor *want = ref_get(refs, name);
    assert_int_equal(y->rank, want->rank);
    for (int d = 0; d < want->rank; d++)
        assert_int_equal(y->shape[d], want->shape[d]);
    assert_close((const float *)y->data, (const float *)want->data,
                 (size_t)mt_tensor_numel(want), 1e-6, 1e-5);
    mt_tensor_free(want);
}

/* Layer l (freed) in a graph on refs' a and b (or the tensors ta, tb when
 * given) gives refs' `want` */
static void pair(mt_status made, mt_layer **lp, const char *a, const char *b,
                 const mt_tensor *ta, const mt_tensor *tb, const char *want)
{
    if (made)
        fail_msg("%s: %s", want, mt_last_error());
    mt_tensor *x = ta ? NULL : ref_get(refs, a), *y = tb ? NULL : ref_get(refs, b);
    const mt_tensor *in[2] = {ta ? ta : x, tb ? tb : y}, *out;
    mt_graph *g;
    int ids[2], o;
    assert_ok(mt_graph_new(&g));
    for (int i = 0; i < 2; i++)
        assert_ok(mt_graph_input(g, i ? "b" : "a", MT_DTYPE_F32, in[i]->rank - 1,
                                 in[i]->shape + 1, &ids[i]));
    assert_ok(mt_graph_add(g, "pair", *lp, 2, ids, &o));
    assert_ok(mt_graph_output(g, o));
    assert_ok(mt_graph_forward(g, 2, in, 1, &out));
    matches(out, want);
    mt_graph_free(g);
    mt_tensor_free(y);
    mt_tensor_free(x);
}

static void cosine_similarity_matches_pytorch(void **state)
{
    (void)state;
    mt_layer *l = NULL;
    pair(mt_cosine_similarity_new(1, 1e-8f, &l), &l, "cos.x1", "cos.x2", NULL, NULL, "cos.y");
    pair(mt_cosine_similarity_new(-1, 1e-8f, &l), &l, "cos.x1", "cos.x2", NULL, NULL, "cos.y");
    pair(mt_cosine_similarity_new(-1, 1e-8f, &l), &l, "cosb.a", "cosb.b", NULL, NULL, "cosb.y");
    pair(mt_cosine_similarity_new(-1, 1e-8f, &l), &l, "cosb.b", "cosb.a", NULL, NULL, "cosb.y");
    pair(mt_cosine_similarity_new(3, 1e-8f, &l), &l, "cosimg.x1", "cosimg.x2", NULL, NULL,
         "cosimg.y");
    // each norm clamped to eps on its own (PyTorch 1.13), not their product
    pair(mt_cosine_similarity_new(1, 1e-8f, &l), &l, "costiny.x1", "costiny.x2", NULL, NULL,
         "costiny.y");
    pair(mt_cosine_similarity_new(1, 1e-3f, &l), &l, "costiny.x1", "costiny.x2", NULL, NULL,
         "costiny.y_eps");
    // a transposed (strided) first input
    mt_tensor *x = ref_get(refs, "cos.x1"), *t = NULL, *c = NULL, *back = NULL;
    assert_ok(mt_transpose(x, 0, 1, &t));
    assert_ok(mt_tensor_contiguous(t, &c));
    assert_ok(mt_transpose(c, 0, 1, &back));
    assert_false(mt_tensor_is_contiguous(back));
    pair(mt_cosine_similarity_new(1, 1e-8f, &l), &l, NULL, "cos.x2", back, NULL, "cos.y");
    mt_tensor_free(back);
    mt_tensor_free(c);
    mt_tensor_free(t);
    mt_tensor_free(x);
}

static void pairwise_distance_matches_pytorch(void **state)
{
    (void)state;
    mt_layer *l = NULL;
    static const struct {
        float p;
        const char *want;
    } ps[] = {{2.0f, "pd.p2"},   {1.0f, "pd.p1"},         {3.0f, "pd.p3"},
              {0.0f, "pd.p0"},   {INFINITY, "pd.pinf"},   {-INFINITY, "pd.pninf"},
              {0.5f, "pd.phalf"}};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        pair(mt_pairwise_distance_new(ps[i].p, 1e-6f, false, &l), &l, "pd.x1", "pd.x2", NULL,
             NULL, ps[i].want);
    pair(mt_pairwise_distance_new(2.0f, 1e-6f, true, &l), &l, "pd.x1", "pd.x2", NULL, NULL,
         "pd.keepdim");
    pair(mt_pairwise_distance_new(2.0f, 0.0f, false, &l), &l, "pd.x1", "pd.x2", NULL, NULL,
         "pd.eps0");
    pair(mt_pairwise_distance_new(0.0f, 0.0f, false, &l), &l, "pd.x1", "pd.x2", NULL, NULL,
         "pd.eps0_p0");
    pair(mt_pairwise_distance_new(2.0f, 1e-6f, false, &l), &l, "pdb.a", "pdb.b", NULL, NULL,
         "pdb.y");
    pair(mt_pairwise_distance_new(1.5f, 1e-6f, false, &l), &l, "pd3.x1", "pd3.x2", NULL, NULL,
         "pd3.y");
    mt_layer_info info;
    assert_ok(mt_pairwise_distance_new(3.0f, 1e-6f, false, &l));
    assert_ok(mt_layer_info_get(l, &info));
    assert_int_equal(info.kind, MT_LAYER_PAIRWISE_DISTANCE);
    assert_string_equal(info.name, "pairwise_distance p 3");
    mt_layer_free(l);
}

static void alone(mt_status made, mt_layer **lp, const mt_tensor *x, const char *want)
{
    if (made)
        fail_msg("%s: %s", want, mt_last_error());
    mt_tensor *y = NULL;
    assert_ok(mt_layer_forward(*lp, x, &y));
    matches(y, want);
    mt_tensor_free(y);
    mt_layer_free(*lp);
}

static void local_response_norm_matches_pytorch(void **state)
{
    (void)state;
    mt_layer *l = NULL;
    mt_tensor *x = ref_get(refs, "lrn.x"), *s = ref_get(refs, "lrn3.x");
    alone(mt_local_response_norm_new(5, 1e-4f, 0.75f, 2.0f, &l), &l, x, "lrn.alexnet");
    alone(mt_local_response_norm_new(2, 0.1f, 0.75f, 1.0f, &l), &l, x, "lrn.even");
    alone(mt_local_response_norm_new(10, 0.5f, 0.5f, 1.0f, &l), &l, x, "lrn.wide");
    alone(mt_local_response_norm_new(3, 0.2f, 0.75f, 1.0f, &l), &l, s, "lrn3.y");
    // NHWC with the channels strided (an NCHW-contiguous copy permuted)
    mt_tensor *p = NULL, *c = NULL, *back = NULL;
    assert_ok(mt_permute(x, (const int[]){0, 3, 1, 2}, &p));
    assert_ok(mt_tensor_contiguous(p, &c));
    assert_ok(mt_permute(c, (const int[]){0, 2, 3, 1}, &back));
    assert_false(mt_tensor_is_contiguous(back));
    alone(mt_local_response_norm_new(2, 0.1f, 0.75f, 1.0f, &l), &l, back, "lrn.even");
    mt_tensor_free(back);
    mt_tensor_free(c);
    mt_tensor_free(p);
    mt_tensor_free(s);
    mt_tensor_free(x);
}

/* Layer l (freed) refuses inputs a and b when added to a graph */
/* Squares past FLT_MAX (1.5e19² summed, 3e38²) and below the smallest
 * subnormal (1e-23²) as PyTorch's F32 sums take them: an inf norm (cosine
 * 0, distance inf), a 0 one (LRN with k = 0: x / 0 = inf), not the values
 * a double sum gives (cosine 1, a finite distance, 1e23). */
static void float_range_as_pytorch(void **state)
{
    (void)state;
    mt_layer *l = NULL;
    pair(mt_cosine_similarity_new(1, 1e-8f, &l), &l, "range.x", "range.x", NULL, NULL,
         "range.cos");
    pair(mt_pairwise_distance_new(2.0f, 0.0f, false, &l), &l, "range.x", "range.zeros", NULL,
         NULL, "range.pd2");
    pair(mt_pairwise_distance_new(1.0f, 0.0f, false, &l), &l, "range.x", "range.zeros", NULL,
         NULL, "range.pd1");
    pair(mt_pairwise_distance_new(3.0f, 0.0f, false, &l), &l, "range.x", "range.zeros", NULL,
         NULL, "range.pd3");
    mt_tensor *x = ref_get(refs, "range.lrn_x");
    alone(mt_local_response_norm_new(2, 1e-30f, 1.0f, 1.0f, &l), &l, x, "range.lrn_a");
    alone(mt_local_response_norm_new(1, 1.0f, 1.0f, 0.0f, &l), &l, x, "range.lrn_b");
    mt_tensor_free(x);
    x = ref_get(refs, "range.lrn_tiny");   /* squares 0 in float: x / 0 */
    alone(mt_local_response_norm_new(2, 1.0f, 1.0f, 0.0f, &l), &l, x, "range.lrn_c");
    mt_tensor_free(x);
}

static void refuses_pair(mt_layer *l, int rank_a, const int64_t *a, int rank_b,
                         const int64_t *b, mt_dtype tb, const char *needle)
{
    mt_graph *g;
    int ids[2], o;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "a", MT_DTYPE_F32, rank_a, a, &ids[0]));
    assert_ok(mt_graph_input(g, "b", tb, rank_b, b, &ids[1]));
    mt_status s = mt_graph_add(g, "pair", l, 2, ids, &o);
    assert_int_not_equal(s, MT_OK);
    if (!strstr(mt_last_error(), needle))
        fail_msg("got \"%s\", expected it to contain \"%s\"", mt_last_error(), needle);
    mt_graph_free(g);
}

static void errors(void **state)
{
    (void)state;
    mt_layer *l = (mt_layer *)&l;
    assert_fails(mt_cosine_similarity_new(1, 1e-8f, NULL), MT_ERR_INVALID_ARGUMENT,
                 "cosine_similarity: out is NULL");
    assert_fails(mt_pairwise_distance_new(2.0f, 1e-6f, false, NULL), MT_ERR_INVALID_ARGUMENT,
                 "pairwise_distance: out is NULL");
    assert_fails(mt_local_response_norm_new(5, 1e-4f, 0.75f, 1.0f, NULL),
                 MT_ERR_INVALID_ARGUMENT, "local_response_norm: out is NULL");
    assert_fails(mt_cosine_similarity_new(8, 1e-8f, &l), MT_ERR_INVALID_ARGUMENT,
                 "cosine_similarity: dim 8 is out of range");
    assert_null(l);
    assert_fails(mt_cosine_similarity_new(1, -1.0f, &l), MT_ERR_INVALID_ARGUMENT,
                 "cosine_similarity: eps -1, expected finite and >= 0");
    assert_fails(mt_cosine_similarity_new(1, NAN, &l), MT_ERR_INVALID_ARGUMENT, "eps nan");
    assert_fails(mt_pairwise_distance_new(NAN, 1e-6f, false, &l), MT_ERR_INVALID_ARGUMENT,
                 "pairwise_distance: p nan");
    assert_fails(mt_pairwise_distance_new(2.0f, INFINITY, false, &l), MT_ERR_INVALID_ARGUMENT,
                 "eps inf");
    assert_fails(mt_local_response_norm_new(0, 1e-4f, 0.75f, 1.0f, &l),
                 MT_ERR_INVALID_ARGUMENT, "local_response_norm: size 0");
    assert_fails(mt_local_response_norm_new(5, 1e-4f, NAN, 1.0f, &l),
                 MT_ERR_INVALID_ARGUMENT, "beta nan");
    assert_null(l);

    // inputs that do not fit, named when the layer is added to a graph
    assert_ok(mt_cosine_similarity_new(1, 1e-8f, &l));
    refuses_pair(l, 1, (int64_t[]){6}, 1, (int64_t[]){5}, MT_DTYPE_F32,
                 "expects inputs of one rank that broadcast (each dim equal or 1), input 'a' "
                 "gives [1,6] and input 'b' gives [1,5]");
    assert_ok(mt_cosine_similarity_new(-1, 1e-8f, &l));
    refuses_pair(l, 2, (int64_t[]){3, 6}, 1, (int64_t[]){6}, MT_DTYPE_F32, "of one rank");
    assert_ok(mt_cosine_similarity_new(0, 1e-8f, &l));
    refuses_pair(l, 1, (int64_t[]){6}, 1, (int64_t[]){6}, MT_DTYPE_F32,
                 "dim 0 is the batch for the inputs [1,6]");
    assert_ok(mt_cosine_similarity_new(2, 1e-8f, &l));
    refuses_pair(l, 1, (int64_t[]){6}, 1, (int64_t[]){6}, MT_DTYPE_F32,
                 "dim 2 is out of range for the inputs [1,6]");
    assert_ok(mt_pairwise_distance_new(2.0f, 1e-6f, false, &l));
    refuses_pair(l, 1, (int64_t[]){6}, 1, (int64_t[]){6}, MT_DTYPE_F16,
                 "expects F32 inputs, input 'b' gives F16");
    assert_ok(mt_pairwise_distance_new(2.0f, 1e-6f, false, &l));
    refuses_pair(l, 0, NULL, 0, NULL, MT_DTYPE_F32, "expects [N, …, D] (rank 2 or more)");

    mt_tensor *x = NULL, *y = (mt_tensor *)&y;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 7}, &x));
    assert_ok(mt_local_response_norm_new(5, 1e-4f, 0.75f, 1.0f, &l));
    assert_fails(mt_layer_forward(l, x, &y), MT_ERR_SHAPE,
                 "expects [N, …, C] with 3 dims or more (PyTorch's 3-D or more input), "
                 "the input gives [2,7]");
    mt_tensor_free(x);
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 3, (int64_t[]){2, 7, 3}, &x));
    assert_fails(mt_layer_forward(l, x, &y), MT_ERR_DTYPE,
                 "expects F32, the input gives I32");
    mt_layer_free(l);
    mt_tensor_free(x);

    alloc_probe probe;
    probe_install(&probe, 0);
    l = (mt_layer *)&l;
    assert_fails(mt_pairwise_distance_new(2.0f, 1e-6f, false, &l), MT_ERR_OUT_OF_MEMORY,
                 "pairwise_distance");
    assert_null(l);
    assert_fails(mt_local_response_norm_new(5, 1e-4f, 0.75f, 1.0f, &l), MT_ERR_OUT_OF_MEMORY,
                 "local_response_norm");
    probe_remove();
}

static int open_refs(void **state)
{
    (void)state;
    return mt_safetensors_open(REFS_DIR "/nn_distance_lrn.safetensors", &refs) ? -1 : 0;
}

static int close_refs(void **state)
{
    (void)state;
    mt_safetensors_close(refs);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cosine_similarity_matches_pytorch),
        cmocka_unit_test(pairwise_distance_matches_pytorch),
        cmocka_unit_test(local_response_norm_matches_pytorch),
        cmocka_unit_test(float_range_as_pytorch),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, open_refs, close_refs);
}
