/* test_nn_activation_shrink.c — nn.Hardshrink, nn.Softshrink, nn.Threshold,
 * nn.Softmin and nn.Softmax2d (nn/activation_shrink.c) against PyTorch 1.13
 * (reference/make_nn_activation_shrink_refs.py ->
 * nn_activation_shrink.safetensors): random values, and the edges bit for
 * bit (NaN, ±inf, ±0, values exactly at lambd and the threshold and their
 * neighbours); a strided input, in a graph, and the errors. */
#include <math.h>
#include <string.h>

#include "test_util.h"

static mt_safetensors *refs;

/* y is the reference `name` in shape and, when exact, bit for bit (NaN as
 * NaN, the sign of 0 too); else within 1e-6 */
static void matches(const mt_tensor *y, const char *name, bool exact)
{
    mt_tensor *want = ref_get(refs, name);
    assert_int_equal(y->rank, want->rank);
    for (int d = 0; d < want->rank; d++)
        assert_int_equal(y->shape[d], want->shape[d]);
    const float *a = y->data, *b = want->data;
    size_t n = (size_t)mt_tensor_numel(want);
    if (!exact) {
        assert_close(a, b, n, 1e-6, 1e-6);
    } else {
        for (size_t i = 0; i < n; i++) {
            if (isnan(b[i]) && isnan(a[i]))
                continue;
            if (memcmp(&a[i], &b[i], sizeof(float)))
                fail_msg("%s[%zu]: got %.9g, PyTorch gives %.9g", name, i, (double)a[i],
                         (double)b[i]);
        }
    }
    mt_tensor_free(want);
}

/* Layer *lp made by `made` (evaluated before *lp is read) on refs' `in`
 * gives refs' `want`; freed. */
static void alone(mt_status made, mt_layer **lp, const char *in, const char *want, bool exact)
{
    mt_layer *l = *lp;
    if (made)
        fail_msg("%s: %s", want, mt_last_error());
    mt_tensor *x = ref_get(refs, in), *y = NULL;
    assert_ok(mt_layer_forward(l, x, &y));
    matches(y, want, exact);
    mt_tensor_free(y);
    mt_tensor_free(x);
    mt_layer_free(l);
}

static void shrinks_match_pytorch(void **state)
{
    (void)state;
    static const char *const inputs[2] = {"act", "edge"};
    for (int i = 0; i < 2; i++) {
        char x[16], want[64];
        mt_layer *l = NULL;
        snprintf(x, sizeof x, "%s.x", inputs[i]);
#define CASE(make, module)                                           \
        snprintf(want, sizeof want, "%s.%s", inputs[i], module);     \
        alone(make, &l, x, want, true);
        CASE(mt_hardshrink_new(0.5f, &l), "hardshrink")
        CASE(mt_hardshrink_new(0.1f, &l), "hardshrink_0.1")
        CASE(mt_hardshrink_new(-1.0f, &l), "hardshrink_neg")
        CASE(mt_softshrink_new(0.5f, &l), "softshrink")
        CASE(mt_softshrink_new(0.1f, &l), "softshrink_0.1")
        CASE(mt_softshrink_new(0.0f, &l), "softshrink_0")
        CASE(mt_threshold_new(0.5f, -7.0f, &l), "threshold")
        CASE(mt_threshold_new(0.1f, 20.0f, &l), "threshold_0.1")
        CASE(mt_threshold_new(0.0f, INFINITY, &l), "threshold_inf")
#undef CASE
    }
}

static void softmin_softmax2d_match_pytorch(void **state)
{
    (void)state;
    mt_layer *l = NULL;
    alone(mt_softmin_new(1, &l), &l, "act.x", "act.softmin_1", false);
    /* over dim 0, the batch: refused (a model runs its batch in passes) */
    mt_tensor *x = ref_get(refs, "act.x"), *y = NULL;
    assert_ok(mt_softmin_new(0, &l));
    assert_fails(mt_layer_forward(l, x, &y), MT_ERR_SHAPE,
                 "softmin dim 0: dim 0 is the batch of the 2 dims the input gives");
    mt_layer_free(l);
    mt_tensor_free(x);
    alone(mt_softmin_new(-1, &l), &l, "big.x", "big.softmin", true);   // inf rows, NaN rows
    alone(mt_softmax2d_new(&l), &l, "img.x", "img.softmax2d", false);
    mt_layer_info info;
    assert_ok(mt_softmin_new(-2, &l));
    assert_ok(mt_layer_info_get(l, &info));
    assert_int_equal(info.kind, MT_LAYER_SOFTMIN);
    assert_int_equal(info.dim, -2);
    assert_string_equal(info.name, "softmin dim -2");
    mt_layer_free(l);
    assert_ok(mt_softmax2d_new(&l));
    assert_ok(mt_layer_info_get(l, &info));
    assert_int_equal(info.kind, MT_LAYER_SOFTMAX2D);
    mt_layer_free(l);
}

/* A transposed view in, the values of the contiguous input transposed;
 * and the layers in a graph (its planned buffers, two passes). */
static void strided_input_and_graph(void **state)
{
    (void)state;
    mt_tensor *x = ref_get(refs, "act.x"), *xt = NULL, *xc = NULL, *back = NULL, *y = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_transpose(x, 0, 1, &xt));   // [8,3]
    assert_ok(mt_tensor_contiguous(xt, &xc));
    mt_tensor_free(xt);
    assert_ok(mt_transpose(xc, 0, 1, &back));   // [3,8] with strides (1, 3)
    assert_false(mt_tensor_is_contiguous(back));
    assert_ok(mt_softshrink_new(0.5f, &l));
    assert_ok(mt_layer_forward(l, back, &y));
    matches(y, "act.softshrink", true);
    mt_tensor_free(y);
    mt_layer_free(l);
    assert_ok(mt_softmin_new(1, &l));
    assert_ok(mt_layer_forward(l, back, &y));
    matches(y, "act.softmin_1", false);
    mt_tensor_free(y);
    mt_layer_free(l);

    mt_graph *g;
    int in, a, b, c;
    const mt_tensor *out[3];
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){8}, &in));
    assert_ok(mt_hardshrink_new(0.5f, &l));
    assert_ok(mt_graph_add(g, "hard", l, 1, &in, &a));
    assert_ok(mt_threshold_new(0.5f, -7.0f, &l));
    assert_ok(mt_graph_add(g, "thr", l, 1, &in, &b));
    assert_ok(mt_softmin_new(-1, &l));
    assert_ok(mt_graph_add(g, "softmin", l, 1, &in, &c));
    assert_ok(mt_graph_output(g, a));
    assert_ok(mt_graph_output(g, b));
    assert_ok(mt_graph_output(g, c));
    for (int pass = 0; pass < 2; pass++) {
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *const[]){back}, 3, out));
        matches(out[0], "act.hardshrink", true);
        matches(out[1], "act.threshold", true);
        matches(out[2], "act.softmin_1", false);
    }
    mt_graph_free(g);
    mt_tensor_free(back);
    mt_tensor_free(xc);
    mt_tensor_free(x);
}

static void errors(void **state)
{
    (void)state;
    mt_layer *l = (mt_layer *)&l;
    assert_fails(mt_hardshrink_new(0.5f, NULL), MT_ERR_INVALID_ARGUMENT,
                 "hardshrink: out is NULL");
    assert_fails(mt_softshrink_new(0.5f, NULL), MT_ERR_INVALID_ARGUMENT,
                 "softshrink: out is NULL");
    assert_fails(mt_threshold_new(0.5f, 0.0f, NULL), MT_ERR_INVALID_ARGUMENT,
                 "threshold: out is NULL");
    assert_fails(mt_softmin_new(0, NULL), MT_ERR_INVALID_ARGUMENT, "softmin: out is NULL");
    assert_fails(mt_softmax2d_new(NULL), MT_ERR_INVALID_ARGUMENT, "softmax2d: out is NULL");
    assert_fails(mt_hardshrink_new(NAN, &l), MT_ERR_INVALID_ARGUMENT,
                 "hardshrink: lambd is NaN");
    assert_null(l);
    l = (mt_layer *)&l;
    assert_fails(mt_softshrink_new(-0.5f, &l), MT_ERR_INVALID_ARGUMENT,
                 "softshrink: lambd -0.5, expected finite and >= 0");
    assert_null(l);
    assert_fails(mt_softshrink_new(NAN, &l), MT_ERR_INVALID_ARGUMENT, "softshrink: lambd nan");
    assert_fails(mt_softshrink_new(INFINITY, &l), MT_ERR_INVALID_ARGUMENT,
                 "softshrink: lambd inf");
    assert_fails(mt_threshold_new(NAN, 1.0f, &l), MT_ERR_INVALID_ARGUMENT,
                 "threshold: threshold is NaN");
    assert_fails(mt_softmin_new(8, &l), MT_ERR_INVALID_ARGUMENT,
                 "softmin: dim 8 is out of range -8..7");
    assert_fails(mt_softmin_new(-9, &l), MT_ERR_INVALID_ARGUMENT, "softmin: dim -9");

    // shapes and dtypes the layers do not take, named when run
    mt_tensor *x3 = NULL, *y = (mt_tensor *)&y, *h = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){2, 3, 4}, &x3));
    assert_ok(mt_softmax2d_new(&l));
    assert_fails(mt_layer_forward(l, x3, &y), MT_ERR_SHAPE,
                 "expects [N,H,W,C] (rank 4), the input gives [2,3,4]");
    mt_layer_free(l);
    assert_ok(mt_softmin_new(3, &l));
    assert_fails(mt_layer_forward(l, x3, &y), MT_ERR_SHAPE,
                 "dim 3 is out of range for the 3 dims the input gives");
    mt_layer_free(l);
    assert_ok(mt_tensor_zeros(MT_DTYPE_F16, 2, (int64_t[]){2, 3}, &h));
    assert_ok(mt_hardshrink_new(0.5f, &l));
    assert_fails(mt_layer_forward(l, h, &y), MT_ERR_DTYPE, "expects F32, the input gives F16");
    mt_layer_free(l);
    mt_tensor_free(h);
    mt_tensor_free(x3);

    // out of memory at the layer's one allocation: nothing made, nothing leaked
    alloc_probe probe;
    probe_install(&probe, 0);
    l = (mt_layer *)&l;
    assert_fails(mt_threshold_new(0.5f, 1.0f, &l), MT_ERR_OUT_OF_MEMORY, "threshold");
    assert_null(l);
    assert_fails(mt_softmax2d_new(&l), MT_ERR_OUT_OF_MEMORY, "softmax2d");
    probe_remove();
    assert_null(l);
}

static int open_refs(void **state)
{
    (void)state;
    return mt_safetensors_open(REFS_DIR "/nn_activation_shrink.safetensors", &refs) ? -1 : 0;
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
        cmocka_unit_test(shrinks_match_pytorch),
        cmocka_unit_test(softmin_softmax2d_match_pytorch),
        cmocka_unit_test(strided_input_and_graph),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, open_refs, close_refs);
}
