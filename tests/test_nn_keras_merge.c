/* test_nn_keras_merge.c — Keras' merge layers Add, Subtract, Average, Maximum,
 * Minimum, Multiply (2 or more inputs, broadcast over dims of 1, a lower
 * rank's after the batch) and Dot
 * (axes, normalize) in graphs against Keras' own outputs
 * (reference/make_keras_merge_refs.py -> keras_merge.safetensors), on
 * contiguous inputs, strided and stride-0 views; and the errors: the count
 * of inputs, shapes that do not broadcast (named by the inputs that clash),
 * axes, NULLs, Concat's dtypes and dims past INT64_MAX, outputs past
 * size_t. */
#include "test_util.h"

static mt_safetensors *refs;
static alloc_probe counter;   /* every allocation, installed by main */

/* Layer *lp (made by `made`; freed) on the n tensors xs, graph inputs of their
 * shapes, gives refs' `want` within tol; a second pass allocates nothing and
 * gives it again. */
static void runs(mt_status made, mt_layer **lp, int n, mt_tensor *const *xs, const char *want,
                 double tol)
{
    if (made)
        fail_msg("%s: %s", want, mt_last_error());
    mt_layer *l = *lp;
    mt_graph *g = NULL;
    int ids[4], y;
    assert_ok(mt_graph_new(&g));
    for (int j = 0; j < n; j++) {
        char name[8];
        snprintf(name, sizeof name, "in%d", j);
        assert_ok(mt_graph_input(g, name, MT_DTYPE_F32, xs[j]->rank - 1, xs[j]->shape + 1,
                                 &ids[j]));
    }
    assert_ok(mt_graph_add(g, "l", l, n, ids, &y));
    assert_ok(mt_graph_output(g, y));
    const mt_tensor *out = NULL, *in[4] = {0};
    for (int j = 0; j < n; j++)
        in[j] = xs[j];
    assert_ok(mt_graph_forward(g, n, in, 1, &out));
    mt_tensor *w = ref_get(refs, want);
    assert_int_equal(out->rank, w->rank);
    for (int d = 0; d < w->rank; d++)
        assert_int_equal(out->shape[d], w->shape[d]);
    assert_close((const float *)out->data, (const float *)w->data,
                 (size_t)mt_tensor_numel(w), tol, tol);
    long before = counter.allocations;
    assert_ok(mt_graph_forward(g, n, in, 1, &out));
    assert_int_equal(counter.allocations, before);
    assert_close((const float *)out->data, (const float *)w->data,
                 (size_t)mt_tensor_numel(w), tol, tol);   // the reused buffers, again
    mt_tensor_free(w);
    mt_graph_free(g);
}

static void merges_match_keras(void **state)
{
    (void)state;
    mt_tensor *a = ref_get(refs, "a"), *b = ref_get(refs, "b"), *c = ref_get(refs, "c"), *g = ref_get(refs, "g");
    mt_layer *l = NULL;
    runs(mt_subtract_new(&l), &l, 2, (mt_tensor *[]){a, b}, "sub_ab", 1e-6);
    runs(mt_subtract_new(&l), &l, 2, (mt_tensor *[]){a, g}, "sub_ag", 1e-6);
    runs(mt_average_new(&l), &l, 3, (mt_tensor *[]){a, b, c}, "avg_abc", 1e-6);
    runs(mt_average_new(&l), &l, 2, (mt_tensor *[]){a, g}, "avg_ag", 1e-6);
    runs(mt_maximum_new(&l), &l, 3, (mt_tensor *[]){a, b, c}, "max_abc", 0);
    runs(mt_maximum_new(&l), &l, 2, (mt_tensor *[]){g, b}, "max_gb", 0);
    runs(mt_minimum_new(&l), &l, 3, (mt_tensor *[]){a, b, c}, "min_abc", 0);
    runs(mt_minimum_new(&l), &l, 2, (mt_tensor *[]){g, b}, "min_gb", 0);
    runs(mt_multiply_new(&l), &l, 3, (mt_tensor *[]){a, b, c}, "mul_abc", 1e-6);
    /* v [N,4] as [N,1,4]; the first step broadcasting to what only b has */
    mt_tensor *v = ref_get(refs, "v"), *h = ref_get(refs, "h");
    runs(mt_multiply_new(&l), &l, 2, (mt_tensor *[]){a, v}, "mul_av", 1e-6);
    runs(mt_subtract_new(&l), &l, 2, (mt_tensor *[]){v, a}, "sub_va", 1e-6);
    runs(mt_maximum_new(&l), &l, 3, (mt_tensor *[]){g, h, b}, "max_ghb", 0);
    runs(mt_average_new(&l), &l, 3, (mt_tensor *[]){v, g, b}, "avg_vgb", 1e-6);
    runs(mt_add_new(&l), &l, 2, (mt_tensor *[]){a, g}, "add_ag", 1e-6);
    runs(mt_add_new(&l), &l, 3, (mt_tensor *[]){v, g, b}, "add_vgb", 1e-6);
    mt_tensor_free(h);
    mt_tensor_free(v);
    /* g broadcast by a stride-0 view: the same as by the layer */
    mt_tensor *gx = NULL;
    assert_ok(mt_expand(g, 3, (int64_t[]){2, 3, 4}, &gx));
    assert_int_equal(gx->stride[1], 0);
    runs(mt_subtract_new(&l), &l, 2, (mt_tensor *[]){a, gx}, "sub_ag", 1e-6);
    runs(mt_minimum_new(&l), &l, 2, (mt_tensor *[]){gx, b}, "min_gb", 0);
    mt_tensor_free(gx);
    mt_tensor_free(g);
    mt_tensor_free(c);
    mt_tensor_free(b);
    mt_tensor_free(a);
}

static void dot_matches_keras(void **state)
{
    (void)state;
    mt_tensor *x2 = ref_get(refs, "x2"), *y2 = ref_get(refs, "y2"), *x3 = ref_get(refs, "x3"), *y3 = ref_get(refs, "y3");
    mt_tensor *z3 = ref_get(refs, "z3"), *w2 = ref_get(refs, "w2"), *w5 = ref_get(refs, "w5"), *y3t = ref_get(refs, "y3t");
    mt_layer *l = NULL;
    runs(mt_dot_new(1, 1, false, &l), &l, 2, (mt_tensor *[]){x2, y2}, "dot2", 1e-5);
    /* x2's last row is zeros: Keras' norm floor 1e-7 makes its cosine 0, not NaN */
    runs(mt_dot_new(1, 1, true, &l), &l, 2, (mt_tensor *[]){x2, y2}, "dot2_norm", 1e-6);
    runs(mt_dot_new(2, 2, false, &l), &l, 2, (mt_tensor *[]){x3, y3}, "dot3", 1e-5);
    runs(mt_dot_new(-1, -1, true, &l), &l, 2, (mt_tensor *[]){x3, y3}, "dot3_norm", 1e-6);
    runs(mt_dot_new(1, 1, false, &l), &l, 2, (mt_tensor *[]){x3, z3}, "dot3_11", 1e-5);
    runs(mt_dot_new(1, 2, false, &l), &l, 2, (mt_tensor *[]){w2, y3}, "dot_w2_y3", 1e-5);
    runs(mt_dot_new(2, 1, true, &l), &l, 2, (mt_tensor *[]){y3, w5}, "dot_y3_w5_norm", 1e-6);
    /* y3 as a transposed view of y3t [2,5,6]: strides (30, 1, 6) */
    mt_tensor *yv = NULL;
    assert_ok(mt_transpose(y3t, 1, 2, &yv));
    assert_int_equal(yv->stride[2], 6);
    runs(mt_dot_new(2, -1, false, &l), &l, 2, (mt_tensor *[]){x3, yv}, "dot3", 1e-5);
    runs(mt_dot_new(-1, 2, true, &l), &l, 2, (mt_tensor *[]){x3, yv}, "dot3_norm", 1e-6);
    runs(mt_dot_new(2, 1, true, &l), &l, 2, (mt_tensor *[]){yv, w5}, "dot_y3_w5_norm", 1e-6);
    mt_tensor_free(yv);
    mt_tensor_free(y3t);
    mt_tensor_free(w5);
    mt_tensor_free(w2);
    mt_tensor_free(z3);
    mt_tensor_free(y3);
    mt_tensor_free(x3);
    mt_tensor_free(y2);
    mt_tensor_free(x2);
}

/* Layer l (freed with the graph) on graph inputs of [N, sample…] each fails
 * MT_ERR_SHAPE or DTYPE (status) with a message holding needle. */
static void refuses(mt_layer *l, int n, int rank, const int64_t samples[][3],
                    const mt_dtype *dtypes, mt_status status, const char *needle)
{
    mt_graph *g = NULL;
    int ids[4], y = -7;
    assert_ok(mt_graph_new(&g));
    for (int j = 0; j < n; j++) {
        char name[8];
        snprintf(name, sizeof name, "in%d", j);
        assert_ok(mt_graph_input(g, name, dtypes ? dtypes[j] : MT_DTYPE_F32, rank, samples[j],
                                 &ids[j]));
    }
    assert_fails(mt_graph_add(g, "l", l, n, ids, &y), status, needle);
    mt_graph_free(g);
}

static void errors_named(void **state)
{
    (void)state;
    mt_layer *l = NULL;
    /* NULL out */
    assert_fails(mt_subtract_new(NULL), MT_ERR_INVALID_ARGUMENT, "subtract: out is NULL");
    assert_fails(mt_average_new(NULL), MT_ERR_INVALID_ARGUMENT, "average: out is NULL");
    assert_fails(mt_maximum_new(NULL), MT_ERR_INVALID_ARGUMENT, "maximum: out is NULL");
    assert_fails(mt_minimum_new(NULL), MT_ERR_INVALID_ARGUMENT, "minimum: out is NULL");
    assert_fails(mt_multiply_new(NULL), MT_ERR_INVALID_ARGUMENT, "multiply: out is NULL");
    assert_fails(mt_dot_new(1, 1, false, NULL), MT_ERR_INVALID_ARGUMENT, "dot: out is NULL");
    /* the count of inputs */
    const int64_t s34[3][3] = {{3, 4}, {3, 4}, {3, 4}};
    assert_ok(mt_subtract_new(&l));
    refuses(l, 3, 2, s34, NULL, MT_ERR_SHAPE, "expects 2 inputs, given 3");
    assert_ok(mt_average_new(&l));
    refuses(l, 1, 2, s34, NULL, MT_ERR_SHAPE, "expects 2 or more inputs, given 1");
    assert_ok(mt_maximum_new(&l));
    refuses(l, 1, 2, s34, NULL, MT_ERR_SHAPE, "expects 2 or more inputs, given 1");
    assert_ok(mt_dot_new(1, 1, false, &l));
    mt_graph *g = NULL;
    int ids[3], y;
    assert_ok(mt_graph_new(&g));
    for (int j = 0; j < 3; j++)
        assert_ok(mt_graph_input(g, j ? (j > 1 ? "z" : "y") : "x", MT_DTYPE_F32, 1,
                                 (int64_t[]){4}, &ids[j]));
    assert_fails(mt_graph_add(g, "d", l, 3, ids, &y), MT_ERR_INVALID_ARGUMENT,
                 "takes 2 inputs, given 3");
    mt_graph_free(g);
    /* alone (one input) a merge refuses to run */
    mt_tensor *x = NULL, *out = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, &x));
    assert_ok(mt_minimum_new(&l));
    assert_fails(mt_layer_forward(l, x, &out), MT_ERR_SHAPE, "expects 2 or more inputs");
    assert_null(out);
    mt_layer_free(l);
    mt_tensor_free(x);
    /* shapes that do not broadcast: a dim neither equal nor 1, another rank */
    const int64_t bad[3][3] = {{3, 4}, {3, 4}, {2, 4}};
    assert_ok(mt_maximum_new(&l));
    refuses(l, 3, 2, bad, NULL, MT_ERR_SHAPE,
            "expects inputs that broadcast (each dim equal or 1), input 'in0' "
            "gives [1,3,4] and input 'in2' gives [1,2,4]");
    assert_ok(mt_subtract_new(&l));
    refuses(l, 2, 2, (const int64_t[][3]){{3, 4}, {4, 3}}, NULL, MT_ERR_SHAPE,
            "input 'in1' gives [1,4,3]");
    assert_ok(mt_average_new(&l));
    mt_graph *h = NULL;
    int hi[2];
    assert_ok(mt_graph_new(&h));
    assert_ok(mt_graph_input(h, "p", MT_DTYPE_F32, 2, (int64_t[]){3, 4}, &hi[0]));
    /* [N,3] is [N,1,3] (Keras refuses it with [N,3,4] too) */
    assert_ok(mt_graph_input(h, "q", MT_DTYPE_F32, 1, (int64_t[]){3}, &hi[1]));
    assert_fails(mt_graph_add(h, "avg", l, 2, hi, &y), MT_ERR_SHAPE,
                 "input 'p' gives [1,3,4] and input 'q' gives [1,3] (a lower rank gets "
                 "dims of 1 after the batch, as in Keras)");
    mt_graph_free(h);
    /* dtype */
    assert_ok(mt_minimum_new(&l));
    refuses(l, 2, 2, s34, (const mt_dtype[]){MT_DTYPE_F32, MT_DTYPE_I32}, MT_ERR_DTYPE,
            "expects F32 inputs, input 'in1' gives I32");
    assert_ok(mt_dot_new(1, 1, false, &l));
    refuses(l, 2, 1, (const int64_t[][3]){{4}, {4}},
            (const mt_dtype[]){MT_DTYPE_I64, MT_DTYPE_F32}, MT_ERR_DTYPE,
            "expects F32 inputs, input 'in0' gives I64");
    /* Dot: axes 0 (the batch) and out of range refused when made or run */
    l = (mt_layer *)&counter;   /* must be reset on failure */
    assert_fails(mt_dot_new(0, 1, false, &l), MT_ERR_INVALID_ARGUMENT,
                 "dot: axes (0, 1): each must be a dim other than the batch");
    assert_null(l);
    assert_fails(mt_dot_new(1, -9, false, &l), MT_ERR_INVALID_ARGUMENT, "axes (1, -9)");
    assert_ok(mt_dot_new(3, 1, false, &l));
    refuses(l, 2, 2, (const int64_t[][3]){{3, 4}, {4, 5}}, NULL, MT_ERR_SHAPE,
            "axis 3 must be a dim of input 'in0' [1,3,4] other than the batch");
    assert_ok(mt_dot_new(-3, 1, false, &l));
    refuses(l, 2, 1, (const int64_t[][3]){{4}, {4}}, NULL, MT_ERR_SHAPE,
            "axis -3 must be a dim of input 'in0' [1,4]");
    /* Dot: the summed dims differ */
    assert_ok(mt_dot_new(2, 1, false, &l));
    refuses(l, 2, 2, (const int64_t[][3]){{3, 4}, {5, 3}}, NULL, MT_ERR_SHAPE,
            "expects the same batch and input 'in0''s dim 2 equal to input 'in1''s dim 1, "
            "input 'in0' gives [1,3,4] and input 'in1' gives [1,5,3]");
    /* Dot: two [N,1,1,1,1,2] are [N,1,1,1,1,1,1,1,1], more than MT_MAX_RANK
     * dims: said as such (not as dims that differ) */
    assert_ok(mt_dot_new(-1, -1, false, &l));
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 5, (int64_t[]){1, 1, 1, 1, 2}, &ids[0]));
    assert_ok(mt_graph_input(g, "y", MT_DTYPE_F32, 5, (int64_t[]){1, 1, 1, 1, 2}, &ids[1]));
    assert_fails(mt_graph_add(g, "d", l, 2, ids, &y), MT_ERR_SHAPE,
                 "node 'd' (dot axes (-1, -1)) the output would have rank 9, more than 8: "
                 "input 'x' gives [1,1,1,1,1,2] and input 'y' gives [1,1,1,1,1,2]");
    mt_graph_free(g);
}

/* A batch of 0 samples: [0, …] out, nothing read or written. */
static void empty_batch(void **state)
{
    (void)state;
    mt_layer *l = NULL;
    mt_graph *g = NULL;
    int x, y, d, a;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){2, 4}, &x));
    assert_ok(mt_graph_input(g, "y", MT_DTYPE_F32, 2, (int64_t[]){3, 4}, &y));
    assert_ok(mt_dot_new(2, 2, true, &l));
    assert_ok(mt_graph_add(g, "d", l, 2, (int[]){x, y}, &d));
    assert_ok(mt_average_new(&l));
    assert_ok(mt_graph_add(g, "a", l, 2, (int[]){x, x}, &a));
    assert_ok(mt_graph_output(g, d));
    assert_ok(mt_graph_output(g, a));
    mt_tensor *xt = NULL, *yt = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){0, 2, 4}, &xt));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){0, 3, 4}, &yt));
    const mt_tensor *out[2] = {0};
    assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){xt, yt}, 2, out));
    assert_int_equal(out[0]->rank, 3);
    assert_int_equal(out[0]->shape[0], 0);
    assert_int_equal(out[0]->shape[1], 2);
    assert_int_equal(out[0]->shape[2], 3);
    assert_int_equal(out[1]->shape[0], 0);
    mt_tensor_free(yt);
    mt_tensor_free(xt);
    mt_graph_free(g);
}

/* Concat refuses joined dims past INT64_MAX (two [N,2^62]: no signed
 * overflow in its shape inference) and inputs of two dtypes (named as
 * such, not as shapes that "differ"). */
static void concat_refuses_overflow_and_dtypes(void **state)
{
    (void)state;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int a, b, c, y = -7;
    const int64_t half = (int64_t)1 << 62;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "a", MT_DTYPE_F32, 1, &half, &a));
    assert_ok(mt_graph_input(g, "b", MT_DTYPE_F32, 1, &half, &b));
    assert_ok(mt_concat_new(-1, &l));
    assert_fails(mt_graph_add(g, "cat", l, 2, (int[]){a, b}, &y), MT_ERR_OVERFLOW,
                 "graph: node 'cat' (concat dim -1) dim -1 of the joined shape overflows: "
                 "input 'a' gives [1,4611686018427387904], input 'b' gives "
                 "[1,4611686018427387904]");
    assert_int_equal(y, -7);
    /* one less fits: 2^62 + 2^62 - 1 = INT64_MAX */
    const int64_t less = half - 1;
    assert_ok(mt_graph_input(g, "c", MT_DTYPE_F32, 1, &less, &c));
    assert_ok(mt_concat_new(1, &l));
    assert_ok(mt_graph_add(g, "cat", l, 2, (int[]){a, c}, &y));
    mt_shape s;
    assert_ok(mt_graph_shape_get(g, y, &s));
    assert_true(s.dim[1] == INT64_MAX);
    mt_graph_free(g);
    /* an F32 input and an I32 constant of the same shape */
    mt_tensor *ci = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 2, (int64_t[]){1, 3}, &ci));
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){3}, &a));
    assert_ok(mt_graph_constant(g, "ci", ci, &b));
    assert_ok(mt_concat_new(1, &l));
    assert_fails(mt_graph_add(g, "cat", l, 2, (int[]){a, b}, &y), MT_ERR_DTYPE,
                 "graph: node 'cat' (concat dim 1) expects inputs of one dtype, input 'x' "
                 "gives F32 and constant 'ci' gives I32");
    mt_graph_free(g);
    mt_tensor_free(ci);
}

/* Broadcast dims whose product passes size_t ([N,1,2^40] + [N,2^40,1]) are
 * refused when planned, naming the node and its shape (was "graph: an
 * output's size overflows size_t", naming nothing). */
static void broadcast_overflow_named(void **state)
{
    (void)state;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int a, b, y;
    const int64_t t = (int64_t)1 << 40;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "a", MT_DTYPE_F32, 2, (int64_t[]){1, t}, &a));
    assert_ok(mt_graph_input(g, "b", MT_DTYPE_F32, 2, (int64_t[]){t, 1}, &b));
    assert_ok(mt_add_new(&l));
    assert_ok(mt_graph_add(g, "sum", l, 2, (int[]){a, b}, &y));
    assert_ok(mt_graph_output(g, y));
    size_t bytes = 7;
    assert_fails(mt_graph_bytes_needed(g, 2, &bytes), MT_ERR_OVERFLOW,
                 "graph: node 'sum' (add): its output [1,1099511627776,1099511627776] F32 "
                 "overflows size_t");
    mt_graph_free(g);
}

/* A clash among three inputs is named by the two that clash: in [N,4] +
 * [N,3,1] + [N,2,1] (Keras: [N,1,4], …) the second and third, in [N,3,1] +
 * [N,1,4] + [N,2,1] the first and third (was always the first and the
 * failing one, shapes that broadcast). */
static void broadcast_clash_named(void **state)
{
    (void)state;
    static const int64_t dims[4][2] = {{4}, {3, 1}, {2, 1}, {1, 4}};
    static const int ranks[4] = {1, 2, 2, 2};
    static const char *const names[4] = {"v", "p", "q", "r"};
    static const int order[2][3] = {{0, 1, 2}, {1, 3, 2}};
    static const char *const want[2] = {
        "node 'm' (maximum) expects inputs that broadcast (each dim equal or 1), input 'p' "
        "gives [1,3,1] and input 'q' gives [1,2,1]",
        "node 'm' (maximum) expects inputs that broadcast (each dim equal or 1), input 'p' "
        "gives [1,3,1] and input 'q' gives [1,2,1]"};
    for (int c = 0; c < 2; c++) {
        mt_graph *g = NULL;
        mt_layer *l = NULL;
        int ids[4], in[3], y = -7;
        assert_ok(mt_graph_new(&g));
        for (int j = 0; j < 4; j++)
            assert_ok(mt_graph_input(g, names[j], MT_DTYPE_F32, ranks[j], dims[j], &ids[j]));
        for (int j = 0; j < 3; j++)
            in[j] = ids[order[c][j]];
        assert_ok(mt_maximum_new(&l));
        assert_fails(mt_graph_add(g, "m", l, 3, in, &y), MT_ERR_SHAPE, want[c]);
        assert_int_equal(y, -7);
        mt_graph_free(g);
    }
}

int main(void)
{
    probe_install(&counter, -1);
    if (mt_safetensors_open(REFS_DIR "/keras_merge.safetensors", &refs)) {
        fprintf(stderr, "%s\n", mt_last_error());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merges_match_keras),
        cmocka_unit_test(dot_matches_keras),
        cmocka_unit_test(errors_named),
        cmocka_unit_test(empty_batch),
        cmocka_unit_test(concat_refuses_overflow_and_dtypes),
        cmocka_unit_test(broadcast_overflow_named),
        cmocka_unit_test(broadcast_clash_named),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mt_safetensors_close(refs);
    return failed;
}
