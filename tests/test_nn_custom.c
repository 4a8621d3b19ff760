/* test_nn_custom.c — layers written by a user, against the installed public
 * headers only (<minitensor/minitensor.h>, linked to the shared library):
 * they run inside a Sequential and a graph with build-time shape checks,
 * scratch memory from the model's planner, fusion by capability (a ReLU
 * absorbed by a user layer) and no heap allocation per pass. Values by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <minitensor/minitensor.h>

/* ---- a counting allocator ------------------------------------------------------ */

static size_t n_allocs, n_frees;

static void *counting_alloc(size_t size, size_t align, void *user)
{
    (void)user;
    n_allocs++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void counting_free(void *p, void *user)
{
    (void)user;
    n_frees++;
    free(p);
}

#define assert_fails(call, status, text)                                           \
    do {                                                                           \
        mt_status s_ = (call);                                                     \
        assert_int_equal(s_, (status));                                            \
        if (!strstr(mt_last_error(), (text)))                                      \
            fail_msg("message \"%s\" lacks \"%s\"", mt_last_error(), (text));      \
    } while (0)

#define assert_ok(call)                                                            \
    do {                                                                           \
        if ((call) != MT_OK)                                                       \
            fail_msg("%s: %s", #call, mt_last_error());                            \
    } while (0)

static void assert_floats(const mt_tensor *t, const float *want, int64_t n)
{
    assert_int_equal(mt_tensor_numel(t), n);
    for (int64_t i = 0; i < n; i++) {
        int64_t idx[2] = {i / t->shape[t->rank - 1], i % t->shape[t->rank - 1]};
        float got;
        assert_ok(mt_tensor_get_f32(t, idx, &got));
        if (got != want[i])
            fail_msg("element %lld: got %g, want %g", (long long)i, (double)got,
                     (double)want[i]);
    }
}

/* ---- user layer 1: y = act(a·x + b), scalar a and b, for inputs [..., F] -------- */

static int absorbed;   /* times scale_shift took in a following ReLU */
static int ss_runs;    /* times scale_shift's forward ran */

typedef struct scale_shift {
    float a, b;
    int64_t features;
    bool relu;
} scale_shift;

static mt_status ss_infer(const mt_layer *l, int n, const mt_shape *in,
                          const char *const *from, mt_shape *out)
{
    (void)n;
    const scale_shift *st = mt_layer_state(l);
    if (in[0].dtype != MT_DTYPE_F32 || in[0].rank < 1 ||
        in[0].dim[in[0].rank - 1] != st->features)
        return mt_fail(MT_ERR_SHAPE, "expects %lld features, %s gives %lld",
                       (long long)st->features, from[0],
                       (long long)(in[0].rank ? in[0].dim[in[0].rank - 1] : 0));
    *out = in[0];
    return MT_OK;
}

static mt_status ss_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                            void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    ss_runs++;
    const scale_shift *st = mt_layer_state(l);
    mt_status s = mt_mul_scalar_into(in[0], st->a, out);
    mt_tensor b;
    float bv = st->b;
    if (!s)
        s = mt_tensor_wrap_into(MT_DTYPE_F32, 0, NULL, &bv, &b);   /* a broadcast scalar */
    if (!s)
        s = mt_add_into(out, &b, out);
    if (!s && st->relu)
        s = mt_relu_into(out, out);
    return s;
}

static void ss_release(void *state) { free(state); }

static mt_status scale_shift_new(float a, float b, int64_t features, bool relu,
                                 mt_layer **out);

/* Capability: a following ReLU runs inside this layer. */
static mt_status ss_absorb(const mt_layer *l, const mt_layer_epilogue *e, mt_layer **fused)
{
    const scale_shift *st = mt_layer_state(l);
    if (e->scale || e->shift || e->act != MT_ACTIVATION_RELU || st->relu)
        return MT_ERR_UNSUPPORTED;
    absorbed++;
    return scale_shift_new(st->a, st->b, st->features, true, fused);
}

static const mt_layer_vtable ss_vtable = {
    .n_inputs = 1,
    .infer = ss_infer,
    .forward = ss_forward,
    .absorb = ss_absorb,
    .release = ss_release,
};

static mt_status scale_shift_new(float a, float b, int64_t features, bool relu,
                                 mt_layer **out)
{
    scale_shift *st = malloc(sizeof *st);
    if (!st)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "scale_shift: out of memory");
    *st = (scale_shift){a, b, features, relu};
    mt_status s = mt_layer_new(&ss_vtable, st, relu ? "scale_shift+relu" : "scale_shift",
                               out);
    if (s)
        free(st);
    return s;
}

/* ---- user layer 2: y = x - mean(x) along the last dim, the means in scratch ----- */

static int center_calls;

static mt_status center_infer(const mt_layer *l, int n, const mt_shape *in,
                              const char *const *from, mt_shape *out)
{
    (void)l, (void)n;
    if (in[0].dtype != MT_DTYPE_F32 || in[0].rank != 2)
        return mt_fail(MT_ERR_SHAPE, "expects F32 [N,F], %s gives %d dims", from[0],
                       in[0].rank);
    *out = in[0];
    return MT_OK;
}

static size_t center_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    (void)l, (void)n;
    return (size_t)in[0].dim[0] * sizeof(float);
}

static mt_status center_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                void *scratch, mt_tensor *out)
{
    (void)l, (void)n;
    center_calls++;
    const mt_tensor *x = in[0];
    mt_tensor means;   /* [N,1] in the planner's scratch */
    mt_status s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){x->shape[0], 1}, scratch,
                                      &means);
    if (!s)
        s = mt_sum_into(x, -1, true, &means);
    if (!s)
        s = mt_mul_scalar_into(&means, 1.0f / (float)x->shape[1], &means);
    if (!s)
        s = mt_sub_into(x, &means, out);
    return s;
}

static const mt_layer_vtable center_vtable = {
    .n_inputs = 1,
    .infer = center_infer,
    .forward = center_forward,
    .scratch_bytes = center_scratch,
};

/* ---- the tests ---------------------------------------------------------------------- */

/* x = [[1,2,3,6],[0,0,4,-4]]; Linear(I, b = 1): [[2,3,4,7],[1,1,5,-3]];
 * center (row means 4 and 1): [[-2,-1,0,3],[0,0,4,-4]]; 2x - 1:
 * [[-5,-3,-1,5],[-1,-1,7,-9]]; ReLU: [[0,0,0,5],[0,0,7,0]]. */
static const float X[] = {1, 2, 3, 6, 0, 0, 4, -4};
static const float Y[] = {0, 0, 0, 5, 0, 0, 7, 0};

static mt_layer *identity_linear(void)
{
    static const float eye[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    static const float ones[4] = {1, 1, 1, 1};
    mt_tensor *w = NULL, *b = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){4, 4}, eye, &w));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){4}, ones, &b));
    assert_ok(mt_linear_new(w, b, &(mt_linear_options){.layout = MT_LAYOUT_IN_OUT}, &l));
    mt_tensor_free(w);
    mt_tensor_free(b);
    return l;
}

static void custom_layers_in_a_sequential(void **state)
{
    (void)state;
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_sequential_new(1, (int64_t[]){4}, &m));
    assert_ok(mt_sequential_add(m, identity_linear()));
    assert_ok(mt_layer_new(&center_vtable, NULL, "center", &l));
    assert_ok(mt_sequential_add(m, l));

    /* Shape checked when added: the model says where, the layer says what. */
    assert_ok(scale_shift_new(2, -1, 5, false, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "sequential: layer 3 (scale_shift) expects 5 features, the previous "
                 "layer gives 4");
    assert_int_equal(mt_sequential_count(m), 2);

    assert_ok(scale_shift_new(2, -1, 4, false, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_relu_new(&l));
    assert_ok(mt_sequential_add(m, l));

    mt_tensor *x = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){2, 4}, X, &x));
    const mt_tensor *y = NULL;
    absorbed = 0;
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_int_equal(absorbed, 1);   /* the ReLU went into scale_shift */
    assert_floats(y, Y, 8);

    /* Passes after the first allocate nothing, at this size or a smaller one. */
    mt_tensor one;
    assert_ok(mt_narrow_into(x, 0, 1, 1, &one));
    assert_ok(mt_sequential_forward(m, &one, &y));
    size_t before = n_allocs;
    center_calls = 0;
    for (int rep = 0; rep < 3; rep++) {
        assert_ok(mt_sequential_forward(m, x, &y));
        assert_floats(y, Y, 8);
        assert_ok(mt_sequential_forward(m, &one, &y));
        assert_floats(y, Y + 4, 4);
    }
    assert_int_equal(n_allocs, before);
    assert_int_equal(center_calls, 6);

    /* A layer belongs to one model: adding it again is refused, and it stays. */
    mt_sequential *other = NULL;
    assert_ok(mt_sequential_new(1, (int64_t[]){4}, &other));
    assert_fails(mt_sequential_add(other, (mt_layer *)mt_sequential_layer(m, 1)),
                 MT_ERR_INVALID_ARGUMENT, "layer 1 (center) already belongs to a model");
    mt_sequential_free(other);
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_floats(y, Y, 8);

    /* Alone, the unfused layer: no ReLU. */
    mt_tensor *alone = NULL;
    assert_ok(mt_layer_forward(mt_sequential_layer(m, 2), x, &alone));
    assert_floats(alone, (const float[]){1, 3, 5, 11, -1, -1, 7, -9}, 8);
    mt_tensor_free(alone);

    mt_tensor_free(x);
    mt_sequential_free(m);
}

static void custom_layers_in_a_graph(void **state)
{
    (void)state;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, fc, c;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){4}, &x));
    assert_ok(mt_graph_add(g, "fc", identity_linear(), 1, &x, &fc));
    assert_ok(mt_layer_new(&center_vtable, NULL, "center", &l));
    assert_ok(mt_graph_add(g, "center", l, 1, &fc, &c));
    assert_ok(scale_shift_new(2, -1, 3, false, &l));
    assert_fails(mt_graph_add(g, "ss", l, 1, &c, NULL), MT_ERR_SHAPE,
                 "graph: node 'ss' (scale_shift) expects 3 features, node 'center' gives 4");
    assert_ok(scale_shift_new(2, -1, 4, false, &l));
    assert_ok(mt_graph_add_named(g, "ss", l, 1, (const char *[]){"center"}, NULL));
    assert_ok(mt_relu_new(&l));
    int out;
    assert_ok(mt_graph_add_named(g, "relu", l, 1, (const char *[]){"ss"}, &out));
    assert_ok(mt_graph_output(g, out));

    /* "How big?" before running: fc, center (+ its scratch) and ss+relu
     * outputs of [2,4] floats (32 bytes, 64 once aligned) and 8 bytes of
     * means (64): fc's place is free again once center has run, so ss+relu
     * reuses it while center's output is read: 3 places of 64 bytes. */
    size_t bytes = 0;
    assert_ok(mt_graph_bytes_needed(g, 2, &bytes));
    assert_int_equal(bytes, 3 * 64);
    mt_tensor *in = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){2, 4}, X, &in));
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){in}, 1, &y));
    assert_int_equal(mt_graph_workspace_size(g), bytes);
    assert_floats(y, Y, 8);
    size_t before = n_allocs;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){in}, 1, &y));
    assert_int_equal(n_allocs, before);
    assert_floats(y, Y, 8);
    mt_tensor_free(in);
    mt_graph_free(g);
}

static void layer_new_errors(void **state)
{
    (void)state;
    mt_layer *l = (mt_layer *)1;
    assert_fails(mt_layer_new(&(mt_layer_vtable){.infer = center_infer}, NULL, "half", &l),
                 MT_ERR_INVALID_ARGUMENT, "layer_new half: the vtable needs infer and "
                 "forward");
    assert_null(l);
    assert_fails(mt_layer_new(NULL, NULL, "x", NULL), MT_ERR_INVALID_ARGUMENT,
                 "layer_new: out is NULL");
}

/* ---- user layers that break their contract ---------------------------------------
 * One vtable, its misdeed chosen by the state (an int, not freed). */

enum { LIE_NONE, LIE_RANK, LIE_DTYPE, LIE_DIM, LIE_SHAPE, MUTE_FAILURE };

static mt_status liar_infer(const mt_layer *l, int n, const mt_shape *in,
                            const char *const *from, mt_shape *out)
{
    (void)n, (void)from;
    const int *lie = mt_layer_state(l);
    *out = in[0];
    if (*lie == LIE_RANK)
        out->rank = MT_MAX_RANK + 1;
    else if (*lie == LIE_DTYPE)
        out->dtype = (mt_dtype)99;
    else if (*lie == LIE_DIM)
        out->dim[1] = -5;
    else if (*lie == LIE_SHAPE)   /* forward writes the input's shape */
        out->dim[1] -= 1;
    return MT_OK;
}

static mt_status liar_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                              void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const int *lie = mt_layer_state(l);
    if (*lie == MUTE_FAILURE)
        return MT_ERR_FORMAT;   /* no message */
    return mt_tensor_copy_into(in[0], out);
}

static bool liar_as_relu(const mt_layer *l, mt_layer_epilogue *e)
{
    (void)l;
    *e = (mt_layer_epilogue){.act = MT_ACTIVATION_RELU};
    return true;
}

/* "Absorbs" an epilogue: says MT_OK, gives no layer. */
static mt_status liar_absorb(const mt_layer *l, const mt_layer_epilogue *e, mt_layer **fused)
{
    (void)l, (void)e;
    *fused = NULL;
    return MT_OK;
}

static const mt_layer_vtable liar_vtable = {
    .n_inputs = 1, .infer = liar_infer, .forward = liar_forward, .absorb = liar_absorb};
static const mt_layer_vtable liar_epilogue_vtable = {
    .n_inputs = 1, .infer = liar_infer, .forward = liar_forward,
    .as_epilogue = liar_as_relu};

static int lies[] = {LIE_NONE, LIE_RANK, LIE_DTYPE, LIE_DIM, LIE_SHAPE, MUTE_FAILURE};

/* x [N,4] -> node "liar" running liar_vtable with `lie`. */
static mt_status liar_graph(int lie, mt_graph **g, int *id)
{
    mt_layer *l = NULL;
    int x;
    mt_status s = mt_graph_new(g);
    if (!s)
        s = mt_graph_input(*g, "x", MT_DTYPE_F32, 1, (int64_t[]){4}, &x);
    if (!s)
        s = mt_layer_new(&liar_vtable, &lies[lie], "liar", &l);
    return s ? s : mt_graph_add(*g, "liar", l, 1, &x, id);
}

static void user_layers_that_lie(void **state)
{
    (void)state;
    mt_graph *g = NULL;
    int id = -1;
    /* What infer says is checked when the node is added: a rank, dtype or
     * dim the planner cannot place is refused there, naming the node (it was
     * accepted, and mt_graph_bytes_needed then sized rank 9 from past the
     * end of mt_shape.dim). */
    assert_fails(liar_graph(LIE_RANK, &g, &id), MT_ERR_SHAPE,
                 "graph: node 'liar' (liar) infers rank 9, outside 0..8");
    mt_graph_free(g);
    assert_fails(liar_graph(LIE_DTYPE, &g, &id), MT_ERR_DTYPE,
                 "graph: node 'liar' (liar) infers an invalid dtype 99");
    mt_graph_free(g);
    assert_fails(liar_graph(LIE_DIM, &g, &id), MT_ERR_SHAPE,
                 "graph: node 'liar' (liar) infers dim 1 = -5, expected >= 0");
    mt_graph_free(g);

    /* A forward failing without a message is reported with its status, not
     * with whatever failed before it. */
    float xv[8] = {-1, 2, -3, 4, 5, -6, 7, -8};
    mt_tensor *x = NULL;
    const mt_tensor *y = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){2, 4}, xv, &x));
    assert_ok(liar_graph(MUTE_FAILURE, &g, &id));
    assert_ok(mt_graph_output(g, id));
    mt_fail(MT_ERR_SHAPE, "an older failure");
    assert_fails(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y), MT_ERR_FORMAT,
                 "graph: node 'liar' (liar): failed: MT_ERR_FORMAT");
    assert_null(strstr(mt_last_error(), "older"));
    mt_graph_free(g);

    /* An absorb that says MT_OK without a layer is an error: the ReLU after
     * it was dropped (relu(-1) came out -1), two of them crashed. */
    for (int relus = 1; relus <= 2; relus++) {
        mt_layer *l = NULL;
        assert_ok(liar_graph(LIE_NONE, &g, &id));
        for (int r = 0; r < relus; r++) {
            assert_ok(mt_relu_new(&l));
            assert_ok(mt_graph_add(g, r ? "relu2" : "relu", l, 1, &id, &id));
        }
        assert_ok(mt_graph_output(g, id));
        assert_fails(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y),
                     MT_ERR_INVALID_ARGUMENT,
                     "graph: node 'liar' (liar): its absorb returned MT_OK without a layer");
        mt_graph_free(g);
    }

    /* An "epilogue" whose infer changes the shape is not fused into the
     * Linear before it: it runs on its own, and its own failure names it
     * (it was fused, and the Linear failed on a shape nobody had asked). */
    mt_layer *l = NULL;
    int in, fc;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){4}, &in));
    assert_ok(mt_graph_add(g, "fc", identity_linear(), 1, &in, &fc));
    assert_ok(mt_layer_new(&liar_epilogue_vtable, &lies[LIE_SHAPE], "shrink", &l));
    assert_ok(mt_graph_add(g, "e", l, 1, &fc, &id));
    assert_ok(mt_graph_output(g, id));
    assert_fails(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y), MT_ERR_SHAPE,
                 "graph: node 'e' (shrink): tensor_copy: shapes differ");
    mt_graph_free(g);
    mt_tensor_free(x);
}

/* A layer whose output is empty is not run, alone or in a graph: there is
 * nothing to compute, and its inputs' data and its scratch may be NULL
 * (fuzz_loaders found layers offsetting them). */
static void empty_outputs_skip_the_layer(void **state)
{
    (void)state;
    mt_layer *l = NULL;
    mt_tensor *x = NULL, *y = NULL;
    assert_ok(scale_shift_new(2.0f, 1.0f, 3, false, &l));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){0, 3}, &x));
    int runs = ss_runs;
    assert_ok(mt_layer_forward(l, x, &y));
    assert_int_equal(y->rank, 2);
    assert_int_equal(y->shape[0], 0);
    assert_int_equal(y->shape[1], 3);
    assert_int_equal(ss_runs, runs);
    mt_tensor_free(y);
    mt_graph *g = NULL;
    int in = -1, id = -1;
    const mt_tensor *out = NULL;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){3}, &in));
    assert_ok(mt_graph_add(g, "ss", l, 1, &in, &id));
    assert_ok(mt_graph_output(g, id));
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &out));
    assert_int_equal(out->shape[0], 0);
    assert_int_equal(ss_runs, runs);
    mt_graph_free(g);
    mt_tensor_free(x);
}

/* mt_layer_free on a layer a model owns leaves it to the model (it was
 * freed, and freed again with the model). */
static void freeing_a_model_layer(void **state)
{
    (void)state;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, id;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){4}, &x));
    assert_ok(mt_relu_new(&l));
    assert_ok(mt_graph_add(g, "relu", l, 1, &x, &id));
    assert_ok(mt_graph_output(g, id));
    size_t frees = n_frees;
    mt_layer_free(l);
    assert_int_equal(n_frees, frees);
    mt_tensor *in = NULL;
    const mt_tensor *y = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){2, 4}, X, &in));
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){in}, 1, &y));
    assert_floats(y, (const float[]){1, 2, 3, 6, 0, 0, 4, 0}, 8);
    mt_tensor_free(in);
    mt_graph_free(g);
}

int main(void)
{
    mt_allocator_set(&(mt_allocator){counting_alloc, counting_free, NULL});
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(custom_layers_in_a_sequential),
        cmocka_unit_test(custom_layers_in_a_graph),
        cmocka_unit_test(layer_new_errors),
        cmocka_unit_test(user_layers_that_lie),
        cmocka_unit_test(freeing_a_model_layer),
        cmocka_unit_test(empty_outputs_skip_the_layer),
    };
    return cmocka_run_group_tests_name("nn_custom", tests, NULL, NULL);
}
