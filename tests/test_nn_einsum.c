/* test_nn_einsum.c — the einsum layer (mt_einsum_new) in graphs against
 * PyTorch 1.13 (reference/make_einsum_refs.py): attention written with
 * einsum, an ellipsis batch, one-input diagonals, transposes and sums, three
 * inputs; a batch large enough to run in passes; the equations a layer
 * refuses. */
#include "test_util.h"

static mt_safetensors *refs;

static void matches(const mt_tensor *y, const char *name)
{
    mt_tensor *want = ref_get(refs, name);
    assert_int_equal(y->rank, want->rank);
    for (int d = 0; d < want->rank; d++)
        assert_int_equal(y->shape[d], want->shape[d]);
    assert_close((const float *)y->data, (const float *)want->data,
                 (size_t)mt_tensor_numel(want), 1e-5, 1e-5);
    mt_tensor_free(want);
}

static mt_layer *einsum(const char *eq)
{
    mt_layer *l = NULL;
    if (mt_einsum_new(eq, &l))
        fail_msg("%s: %s", eq, mt_last_error());
    return l;
}

static int input(mt_graph *g, const char *name, const mt_tensor *t)
{
    int id;
    assert_ok(mt_graph_input(g, name, MT_DTYPE_F32, t->rank - 1, t->shape + 1, &id));
    return id;
}

/* softmax(q·kᵀ)·v as two einsum layers and a softmax, out [N,Lq,H,D] */
static void attention_matches_pytorch(void **state)
{
    (void)state;
    mt_tensor *q = ref_get(refs, "attn.q"), *k = ref_get(refs, "attn.k"),
              *v = ref_get(refs, "attn.v");
    mt_graph *g;
    mt_layer *sm;
    int in[3], s, p, y;
    assert_ok(mt_graph_new(&g));
    in[0] = input(g, "q", q);
    in[1] = input(g, "k", k);
    in[2] = input(g, "v", v);
    assert_ok(mt_graph_add(g, "scores", einsum("bhqd,bhkd->bhqk"), 2, in, &s));
    assert_ok(mt_softmax_new(-1, &sm));
    assert_ok(mt_graph_add(g, "p", sm, 1, &s, &p));
    assert_ok(mt_graph_add(g, "y", einsum("bhqk,bhkd->bqhd"), 2, (int[]){p, in[2]}, &y));
    assert_ok(mt_graph_output(g, y));
    const mt_tensor *out;
    assert_ok(mt_graph_forward(g, 3, (const mt_tensor *[]){q, k, v}, 1, &out));
    matches(out, "attn.y");
    /* k transposed in memory (a strided input) gives the same */
    mt_tensor *kt, *kc, *kb;
    assert_ok(mt_transpose(k, 2, 3, &kt));
    assert_ok(mt_tensor_contiguous(kt, &kc));
    assert_ok(mt_transpose(kc, 2, 3, &kb));
    assert_ok(mt_graph_forward(g, 3, (const mt_tensor *[]){q, kb, v}, 1, &out));
    matches(out, "attn.y");
    mt_graph_free(g);
    mt_tensor *all[] = {q, k, v, kt, kc, kb};
    for (int i = 0; i < 6; i++)
        mt_tensor_free(all[i]);
}

static void ellipsis_and_one_input(void **state)
{
    (void)state;
    mt_tensor *x = ref_get(refs, "ell.x"), *w = ref_get(refs, "ell.w"),
              *o = ref_get(refs, "one.x");
    mt_graph *g;
    int in[3], ids[4];
    assert_ok(mt_graph_new(&g));
    in[0] = input(g, "x", x);
    in[1] = input(g, "w", w);
    in[2] = input(g, "o", o);
    assert_ok(mt_graph_add(g, "ell", einsum("...ij,...jk"), 2, in, &ids[0]));
    assert_ok(mt_graph_add(g, "diag", einsum("bii->bi"), 1, &in[2], &ids[1]));
    assert_ok(mt_graph_add(g, "tr", einsum(" b i j -> b j i "), 1, &in[2], &ids[2]));
    assert_ok(mt_graph_add(g, "sum", einsum("bij->b"), 1, &in[2], &ids[3]));
    for (int i = 0; i < 4; i++)
        assert_ok(mt_graph_output(g, ids[i]));
    const mt_tensor *out[4];
    assert_ok(mt_graph_forward(g, 3, (const mt_tensor *[]){x, w, o}, 4, out));
    matches(out[0], "ell.y");
    matches(out[1], "one.diag");
    matches(out[2], "one.tr");
    matches(out[3], "one.sum");
    mt_graph_free(g);
    mt_tensor_free(x);
    mt_tensor_free(w);
    mt_tensor_free(o);
}

/* Three inputs: a per-sample bilinear form, and the same with an ellipsis
 * batch and the contracted letters kept */
static void three_inputs(void **state)
{
    (void)state;
    mt_tensor *x = ref_get(refs, "three.x"), *u = ref_get(refs, "three.u"),
              *v = ref_get(refs, "three.v");
    mt_graph *g;
    int in[3], ids[2];
    assert_ok(mt_graph_new(&g));
    in[0] = input(g, "x", x);
    in[1] = input(g, "u", u);
    in[2] = input(g, "v", v);
    assert_ok(mt_graph_add(g, "form", einsum("bi,bij,bj->b"), 3, in, &ids[0]));
    assert_ok(mt_graph_add(g, "keep", einsum("...i,...ij,...j->...ij"), 3, in, &ids[1]));
    assert_ok(mt_graph_output(g, ids[0]));
    assert_ok(mt_graph_output(g, ids[1]));
    const mt_tensor *out[2];
    assert_ok(mt_graph_forward(g, 3, (const mt_tensor *[]){x, u, v}, 2, out));
    matches(out[0], "three.y");
    matches(out[1], "three.z");
    mt_graph_free(g);
    mt_tensor_free(x);
    mt_tensor_free(u);
    mt_tensor_free(v);
}

/* The outer product of each sample's x [32] and y [32]: N = 700 gives
 * 2.9 MB of output, which the graph runs in passes of fewer samples. The
 * reference is x[n,i]·y[n,j] itself. */
static void batch_in_passes(void **state)
{
    (void)state;
    enum { N = 700, D = 32 };
    mt_tensor *x, *y;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){N, D}, &x));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){N, D}, &y));
    uint64_t seed = 7;
    for (int i = 0; i < N * D; i++) {
        ((float *)x->data)[i] = rand_unit(&seed) - 0.5f;
        ((float *)y->data)[i] = rand_unit(&seed) - 0.5f;
    }
    mt_graph *g;
    int in[2], o;
    assert_ok(mt_graph_new(&g));
    in[0] = input(g, "x", x);
    in[1] = input(g, "y", y);
    assert_ok(mt_graph_add(g, "outer", einsum("ni,nj->nij"), 2, in, &o));
    assert_ok(mt_graph_output(g, o));
    const mt_tensor *out;
    assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){x, y}, 1, &out));
    assert_int_equal(out->rank, 3);
    const float *xp = x->data, *yp = y->data, *op = out->data;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++)
                assert_true(op[(n * D + i) * D + j] == xp[n * D + i] * yp[n * D + j]);
    mt_graph_free(g);
    mt_tensor_free(x);
    mt_tensor_free(y);
}

static void refused(const char *eq, mt_status status, const char *msg)
{
    mt_layer *l = (mt_layer *)(uintptr_t)1;
    assert_int_equal(mt_einsum_new(eq, &l), status);
    assert_null(l);
    assert_string_equal(mt_last_error(), msg);
}

#define BATCH_RULE "the batch (dim 0 of every input) must pass through: the ellipsis or " \
    "one letter, leading every input and the output and not repeated ('bhqd,bhkd->bhqk', " \
    "'...ij,...jk->...ik')"

static void errors(void **state)
{
    (void)state;
    refused("ij,jk->ik", MT_ERR_INVALID_ARGUMENT, "einsum 'ij,jk->ik': " BATCH_RULE);
    refused("bij,bjk->ik", MT_ERR_INVALID_ARGUMENT, "einsum 'bij,bjk->ik': " BATCH_RULE);
    refused("bij,bjk->ibk", MT_ERR_INVALID_ARGUMENT, "einsum 'bij,bjk->ibk': " BATCH_RULE);
    refused("bij,bjk", MT_ERR_INVALID_ARGUMENT, "einsum 'bij,bjk': " BATCH_RULE);
    refused("bb->b", MT_ERR_INVALID_ARGUMENT, "einsum 'bb->b': " BATCH_RULE);
    refused("bib->bi", MT_ERR_INVALID_ARGUMENT, "einsum 'bib->bi': " BATCH_RULE);
    refused("...ij,jk->...ik", MT_ERR_INVALID_ARGUMENT, "einsum '...ij,jk->...ik': " BATCH_RULE);
    refused("...ij->ij", MT_ERR_INVALID_ARGUMENT, "einsum '...ij->ij': " BATCH_RULE);
    refused("bi,bi,bi,bi,bi,bi,bi,bi,bi->b", MT_ERR_UNSUPPORTED,
            "einsum 'bi,bi,bi,bi,bi,bi,bi,bi,bi->b': a layer takes 1 to 8 inputs");
    refused("bi,bi,ib->b", MT_ERR_INVALID_ARGUMENT, "einsum 'bi,bi,ib->b': " BATCH_RULE);
    refused("bi+->b", MT_ERR_INVALID_ARGUMENT, "einsum 'bi+->b': invalid character '+'");
    refused(NULL, MT_ERR_INVALID_ARGUMENT, "einsum: equation is NULL");
    assert_int_equal(mt_einsum_new("bi->b", NULL), MT_ERR_INVALID_ARGUMENT);
    /* shapes are checked when the layer is added */
    mt_graph *g;
    int in[3];
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){4, 5}, &in[0]));
    assert_ok(mt_graph_input(g, "w", MT_DTYPE_F32, 3, (int64_t[]){2, 5, 3}, &in[1]));
    assert_ok(mt_graph_input(g, "v", MT_DTYPE_F32, 2, (int64_t[]){6, 3}, &in[2]));
    assert_int_equal(mt_graph_add(g, "ell", einsum("...ij,...jk"), 2, in, NULL), MT_ERR_SHAPE);
    assert_string_equal(mt_last_error(), "graph: node 'ell' (einsum ...ij,...jk->...ik) "
                        "'...ij,...jk->...ik' batches over the ellipsis's first dim: the inputs "
                        "need as many dims under '...' (at least 1); input 'x' gives [1,4,5] and "
                        "input 'w' gives [1,2,5,3]");
    assert_int_equal(mt_graph_add(g, "bad", einsum("bij,bjk->bik"), 2, (int[]){in[0], in[2]},
                                  NULL), MT_ERR_SHAPE);
    assert_string_equal(mt_last_error(), "graph: node 'bad' (einsum bij,bjk->bik) einsum "
                        "'bij,bjk->bik': subscript j is 5 in operand 0 [1,4,5] but 6 in "
                        "operand 1 [1,6,3]");
    mt_graph_free(g);
}

static int open_refs(void **state)
{
    (void)state;
    return mt_safetensors_open(REFS_DIR "/einsum_refs.safetensors", &refs) ? -1 : 0;
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
        cmocka_unit_test(attention_matches_pytorch),
        cmocka_unit_test(ellipsis_and_one_input),
        cmocka_unit_test(three_inputs),
        cmocka_unit_test(batch_in_passes),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, open_refs, close_refs);
}
