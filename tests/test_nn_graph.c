/* test_nn_graph.c — graphs against values derived by hand: a residual add,
 * a branch joined by a concat, two inputs and three outputs; fusion only
 * where an output has one reader; the memory planner's bytes; shape errors
 * naming the node; BatchNorm folded and alone; the state-dict loaders;
 * frozen models (private weights, the sparse-input path); constants (a
 * fixed bias, a ViT's class token, over passes). */
#include "test_util.h"

static alloc_probe counter;   /* every allocation, installed by main */

static mt_tensor *tensor(const char *name, int rank, const int64_t *shape, const float *v)
{
    mt_tensor *t = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, rank, shape, v, &t));
    if (name)
        assert_ok(mt_tensor_name_set(t, name));
    return t;
}

static mt_layer *linear(const char *name, int64_t in, int64_t out, const float *w,
                        const float *b, mt_activation act)
{
    mt_tensor *wt = tensor(name, 2, (int64_t[]){in, out}, w);
    mt_tensor *bt = b ? tensor(NULL, 1, (int64_t[]){out}, b) : NULL;
    mt_layer *l = NULL;
    assert_ok(mt_linear_new(wt, bt, &(mt_linear_options){.layout = MT_LAYOUT_IN_OUT,
                                                          .act = act}, &l));
    mt_tensor_free(wt);
    mt_tensor_free(bt);
    return l;
}

static mt_layer *relu(void)
{
    mt_layer *l = NULL;
    assert_ok(mt_relu_new(&l));
    return l;
}

/* Inputs x [N,2], z [N,3]; W1 [2,3] (Keras (in,out)), b1; W2 [5,1], b2:
 *   x = [[1, 2], [-1, 0.5]]          z = [[0.5, -4, 1], [1, 1, -1]]
 *   W1 = [[1, 0, -1], [1, 1, 0]]     b1 = [0, -1, 0.5]
 *   p = x·W1 + b1 = [[3, 1, -0.5], [-0.5, -0.5, 1.5]]
 *   h = relu(p)   = [[3, 1, 0], [0, 0, 1.5]]
 *   r = relu(h + z) = relu([[3.5, -3, 1], [1, 1, 0.5]]) = [[3.5, 0, 1], [1, 1, 0.5]]
 *   c = concat(r, x) = [[3.5, 0, 1, 1, 2], [1, 1, 0.5, -1, 0.5]]
 *   y = c·[1,2,3,4,5]ᵀ + 0.25 = [[20.75], [3.25]]
 *   s = p + relu(p) = [[6, 2, -0.5], [-0.5, -0.5, 3]]   (p has two readers:
 *       its ReLU must not be fused into it) */
static const float XV[] = {1, 2, -1, 0.5f}, ZV[] = {0.5f, -4, 1, 1, 1, -1};
static const float W1[] = {1, 0, -1, 1, 1, 0}, B1[] = {0, -1, 0.5f};
static const float W2[] = {1, 2, 3, 4, 5}, B2[] = {0.25f};
static const float Y_OUT[] = {20.75f, 3.25f};
static const float R_OUT[] = {3.5f, 0, 1, 1, 1, 0.5f};
static const float S_OUT[] = {6, 2, -0.5f, -0.5f, -0.5f, 3};

static mt_graph *branchy_graph(void)
{
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, z, h, r, y, p, q, s;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){2}, &x));
    assert_ok(mt_graph_input(g, "z", MT_DTYPE_F32, 1, (int64_t[]){3}, &z));
    assert_ok(mt_graph_add(g, "fc1", linear("w1", 2, 3, W1, B1, MT_ACTIVATION_NONE), 1,
                           &x, NULL));
    assert_ok(mt_graph_add_named(g, "h", relu(), 1, (const char *[]){"fc1"}, &h));
    assert_ok(mt_add_new(&l));
    assert_ok(mt_graph_add(g, "sum", l, 2, (int[]){h, z}, NULL));
    assert_ok(mt_graph_add_named(g, "r", relu(), 1, (const char *[]){"sum"}, &r));
    assert_ok(mt_concat_new(-1, &l));
    assert_ok(mt_graph_add(g, "cat", l, 2, (int[]){r, x}, NULL));
    assert_ok(mt_graph_add_named(g, "y", linear("w2", 5, 1, W2, B2, MT_ACTIVATION_NONE), 1,
                                 (const char *[]){"cat"}, &y));
    assert_ok(mt_graph_add(g, "p", linear("w1", 2, 3, W1, B1, MT_ACTIVATION_NONE), 1, &x,
                           &p));
    assert_ok(mt_graph_add(g, "q", relu(), 1, &p, &q));
    assert_ok(mt_add_new(&l));
    assert_ok(mt_graph_add(g, "s", l, 2, (int[]){p, q}, &s));
    assert_ok(mt_graph_output(g, y));
    assert_ok(mt_graph_output(g, r));
    assert_ok(mt_graph_output(g, s));
    return g;
}

static void graph_residual_branch_concat(void **state)
{
    (void)state;
    mt_graph *g = branchy_graph();
    assert_int_equal(mt_graph_count(g), 11);
    assert_int_equal(mt_graph_input_count(g), 2);
    assert_int_equal(mt_graph_output_count(g), 3);
    assert_int_equal(mt_graph_find(g, "cat"), 6);
    assert_int_equal(mt_graph_find(g, "nope"), -1);
    mt_shape shape;
    assert_ok(mt_graph_shape_get(g, 6, &shape));
    assert_int_equal(shape.rank, 2);
    assert_int_equal(shape.dim[1], 5);

    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 2}, XV);
    mt_tensor *z = tensor(NULL, 2, (int64_t[]){2, 3}, ZV);
    const mt_tensor *out[3];
    for (int rep = 0; rep < 2; rep++) {
        long before = counter.allocations;
        assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){x, z}, 3, out));
        if (rep)
            assert_int_equal(counter.allocations, before);   /* no heap on a second pass */
        assert_close((const float *)out[0]->data, Y_OUT, 2, 1e-6, 0);
        assert_close((const float *)out[1]->data, R_OUT, 6, 1e-6, 0);
        assert_close((const float *)out[2]->data, S_OUT, 6, 1e-6, 0);
    }
    /* One sample, a view into the batch (row 1 of x and z). */
    mt_tensor x1, z1;
    assert_ok(mt_narrow_into(x, 0, 1, 1, &x1));
    assert_ok(mt_narrow_into(z, 0, 1, 1, &z1));
    assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){&x1, &z1}, 3, out));
    assert_close((const float *)out[0]->data, Y_OUT + 1, 1, 1e-6, 0);
    assert_close((const float *)out[2]->data, S_OUT + 3, 3, 1e-6, 0);

    /* Wrong inputs. */
    assert_fails(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 3, out),
                 MT_ERR_INVALID_ARGUMENT, "graph: given 1 inputs and 3 outputs, the graph "
                 "has 2 and 3");
    assert_fails(mt_graph_forward(g, 2, (const mt_tensor *[]){z, x}, 3, out), MT_ERR_SHAPE,
                 "graph: input 'x' is [2,3], expected [N,2] with N = 2");
    assert_fails(mt_graph_forward(g, 2, (const mt_tensor *[]){x, &z1}, 3, out), MT_ERR_SHAPE,
                 "graph: input 'z' is [1,3], expected [N,3] with N = 2");
    /* a first input without a batch dim (was "… with N = -1") */
    mt_tensor scalar;
    float one = 1;
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 0, NULL, &one, &scalar));
    assert_fails(mt_graph_forward(g, 2, (const mt_tensor *[]){&scalar, z}, 3, out),
                 MT_ERR_SHAPE, "graph: input 'x' is [], expected [N,2]");
    assert_null(strstr(mt_last_error(), "N = -1"));
    mt_tensor_free(z);
    mt_tensor_free(x);
    mt_graph_free(g);
}

/* A node with more inputs than a graph has inputs (16), given by name as
 * by id: a concat of 20 (this was refused by name only). */
static void graph_add_named_many_inputs(void **state)
{
    (void)state;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, y;
    const char *names[20];
    for (int j = 0; j < 20; j++)
        names[j] = j % 2 ? "a" : "x";
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){1}, &x));
    assert_ok(mt_graph_add(g, "a", relu(), 1, &x, NULL));
    assert_ok(mt_concat_new(-1, &l));
    assert_ok(mt_graph_add_named(g, "cat", l, 20, names, &y));
    assert_ok(mt_graph_output(g, y));
    mt_tensor *in = tensor(NULL, 2, (int64_t[]){2, 1}, (const float[]){-1.5f, 2.0f});
    const mt_tensor *out;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){in}, 1, &out));
    assert_int_equal(out->shape[1], 20);
    const float *v = out->data;
    for (int j = 0; j < 20; j++) {
        assert_float_equal(v[j], (j % 2 ? 0.0f : -1.5f), 0); /* relu(-1.5) = 0 */
        assert_float_equal(v[20 + j], 2.0f, 0);
    }
    names[19] = "nope";
    assert_ok(mt_concat_new(-1, &l));
    assert_fails(mt_graph_add_named(g, "cat2", l, 20, names, NULL), MT_ERR_NOT_FOUND,
                 "graph_add_named: node 'cat2': no node named 'nope'");
    mt_tensor_free(in);
    mt_graph_free(g);
}

/* Errors when building, each naming the node. */
static void graph_build_errors(void **state)
{
    (void)state;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, z, a;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){2}, &x));
    assert_ok(mt_graph_input(g, "z", MT_DTYPE_F32, 1, (int64_t[]){3}, &z));
    assert_ok(mt_add_new(&l));
    assert_fails(mt_graph_add(g, "skip", l, 2, (int[]){x, z}, NULL), MT_ERR_SHAPE,
                 "graph: node 'skip' (add) expects inputs that broadcast (each dim equal or 1), "
                 "input 'x' gives [1,2] and input 'z' gives [1,3]");
    assert_ok(mt_graph_add(g, "fc", linear("w1", 2, 3, W1, B1, MT_ACTIVATION_NONE), 1, &x,
                           &a));
    assert_fails(mt_graph_add(g, "fc2", linear("w2", 5, 1, W2, B2, MT_ACTIVATION_NONE), 1,
                              &a, NULL),
                 MT_ERR_SHAPE, "graph: node 'fc2' (linear w2) expects 5 input features, "
                 "node 'fc' gives 3");
    assert_ok(mt_concat_new(0, &l));
    assert_fails(mt_graph_add(g, "cat", l, 2, (int[]){a, x}, NULL), MT_ERR_SHAPE,
                 "graph: node 'cat' (concat dim 0) expects inputs that differ only in dim "
                 "0, node 'fc' gives [1,3] and input 'x' gives [1,2]");
    assert_fails(mt_graph_add(g, "fc", relu(), 1, &a, NULL), MT_ERR_INVALID_ARGUMENT,
                 "graph_add: there is already a node 'fc'");
    assert_fails(mt_graph_add(g, "r", relu(), 1, (int[]){7}, NULL), MT_ERR_INVALID_ARGUMENT,
                 "graph_add: node 'r' (relu): input 0 is node 7, which does not exist");
    assert_fails(mt_graph_add(g, "r", relu(), 2, (int[]){a, a}, NULL),
                 MT_ERR_INVALID_ARGUMENT, "graph_add: node 'r' (relu) takes 1 input, given 2");
    assert_fails(mt_graph_output(NULL, 0), MT_ERR_INVALID_ARGUMENT,
                 "graph_output: graph is NULL");
    assert_fails(mt_graph_output(g, 99), MT_ERR_INVALID_ARGUMENT,
                 "graph_output: node 99 does not exist");
    assert_ok(mt_add_new(&l));
    assert_fails(mt_graph_add(g, "r", l, 1, &a, NULL), MT_ERR_SHAPE,
                 "graph: node 'r' (add) expects 2 or more inputs, given 1");
    assert_fails(mt_graph_add_named(g, "r", relu(), 1, (const char *[]){"fcx"}, NULL),
                 MT_ERR_NOT_FOUND, "graph_add_named: node 'r': no node named 'fcx'");
    assert_fails(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){2}, NULL),
                 MT_ERR_INVALID_ARGUMENT, "graph_input: there is already a node 'x'");
    /* a sample no tensor could hold */
    assert_fails(mt_graph_input(g, "huge", MT_DTYPE_F32, 2,
                                (int64_t[]){INT64_C(1) << 62, INT64_C(1) << 62}, NULL),
                 MT_ERR_OVERFLOW, "graph_input: the sample shape's element count overflows "
                 "(dim 1 is 4611686018427387904)");
    assert_fails(mt_graph_shape_get(g, a, NULL), MT_ERR_INVALID_ARGUMENT,
                 "graph_shape_get: shape is NULL");
    const mt_tensor *out = NULL;
    mt_tensor *in = tensor(NULL, 2, (int64_t[]){1, 2}, XV);
    mt_tensor *in3 = tensor(NULL, 2, (int64_t[]){1, 3}, ZV);
    assert_fails(mt_graph_forward(g, 2, (const mt_tensor *[]){in, in3}, 0, &out),
                 MT_ERR_INVALID_ARGUMENT, "(mark outputs with graph_output)");
    size_t bytes;
    assert_fails(mt_graph_bytes_needed(g, 4, &bytes), MT_ERR_INVALID_ARGUMENT,
                 "graph: the graph has no outputs");
    assert_int_equal(mt_graph_count(g), 3);
    mt_tensor_free(in3);
    mt_tensor_free(in);
    mt_graph_free(g);
}

/* A chain of four Linears 16 -> 16 at N = 8: each output is 8·16·4 = 512
 * bytes; each is dead once the next has been computed from it, so the third
 * takes the first's place and the fourth the second's: 2 places, not 4. The workspace a pass then holds is what
 * the planner said, and later passes allocate nothing. */
static void planner_reuses_memory(void **state)
{
    (void)state;
    static float w[16 * 16];
    for (int i = 0; i < 16; i++)
        w[i * 16 + i] = 0.5f;   /* W = I/2 */
    mt_graph *g = NULL;
    int id;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){16}, &id));
    for (int i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof name, "fc%d", i);
        assert_ok(mt_graph_add(g, name, linear("w", 16, 16, w, NULL, MT_ACTIVATION_NONE), 1,
                               &id, &id));
    }
    assert_ok(mt_graph_output(g, id));
    size_t bytes = 0, small = 0;
    assert_ok(mt_graph_bytes_needed(g, 8, &bytes));
    assert_int_equal(bytes, 2 * 512);
    assert_ok(mt_graph_bytes_needed(g, 1, &small));
    assert_int_equal(small, 2 * 64);
    assert_int_equal(mt_graph_workspace_size(g), 0);   /* nothing ran yet */

    float xv[8 * 16];
    for (int i = 0; i < 8 * 16; i++)
        xv[i] = (float)i;
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){8, 16}, xv);
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
    assert_int_equal(mt_graph_workspace_size(g), bytes);
    for (int i = 0; i < 8 * 16; i++)
        assert_true(((const float *)y->data)[i] == xv[i] / 16);
    long before = counter.allocations;
    mt_tensor one;
    assert_ok(mt_narrow_into(x, 0, 3, 1, &one));
    for (int rep = 0; rep < 3; rep++) {
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){&one}, 1, &y));
    }
    assert_int_equal(counter.allocations, before);
    assert_int_equal(mt_graph_workspace_size(g), bytes);   /* kept, not shrunk */
    mt_tensor_free(x);
    mt_graph_free(g);

    /* The Sequential is the same planner. */
    mt_sequential *m = NULL;
    assert_ok(mt_sequential_new(1, (int64_t[]){16}, &m));
    for (int i = 0; i < 4; i++)
        assert_ok(mt_sequential_add(m, linear("w", 16, 16, w, NULL, MT_ACTIVATION_NONE)));
    assert_ok(mt_sequential_bytes_needed(m, 8, &bytes));
    assert_int_equal(bytes, 2 * 512);
    mt_sequential_free(m);
}

/* A batch whose outputs exceed the 2 MiB per-pass budget goes through the
 * nodes in passes (2048 + 3 + 4 floats per sample: 255 per pass, 600 =
 * 255 + 255 + 90), every output gathered: y(i, k) = (i % 7)(k + 1) exactly
 * (x(i, :) = i % 7, W1 = 1/4, W2(:, k) = (k + 1)/2048), and the second
 * output, a Dropout view of the input x, is x again. */
static void graph_large_batch_in_passes(void **state)
{
    (void)state;
    enum { N = 600, IN = 4, HIDDEN = 2048, OUT = 3 };
    float *xd = malloc(sizeof(float) * N * IN), *w1 = malloc(sizeof(float) * IN * HIDDEN);
    float *w2 = malloc(sizeof(float) * HIDDEN * OUT);
    assert_non_null(xd);
    assert_non_null(w1);
    assert_non_null(w2);
    for (int i = 0; i < N * IN; i++)
        xd[i] = (float)(i / IN % 7);
    for (int i = 0; i < IN * HIDDEN; i++)
        w1[i] = 1.0f / IN;
    for (int i = 0; i < HIDDEN * OUT; i++)
        w2[i] = (float)(i % OUT + 1) / HIDDEN;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, h, y, copy;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){IN}, &x));
    assert_ok(mt_graph_add(g, "h", linear("w1", IN, HIDDEN, w1, NULL, MT_ACTIVATION_RELU), 1,
                           &x, &h));
    assert_ok(mt_graph_add(g, "y", linear("w2", HIDDEN, OUT, w2, NULL, MT_ACTIVATION_NONE), 1,
                           &h, &y));
    assert_ok(mt_dropout_new(0.5f, &l));
    assert_ok(mt_graph_add(g, "copy", l, 1, &x, &copy));
    assert_ok(mt_graph_output(g, y));
    assert_ok(mt_graph_output(g, copy));
    mt_tensor *xt = tensor(NULL, 2, (int64_t[]){N, IN}, xd);
    const mt_tensor *out[2];
    for (int rep = 0; rep < 2; rep++) {
        long before = counter.allocations;
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){xt}, 2, out));
        if (rep)
            assert_int_equal(counter.allocations, before);
        assert_int_equal(out[0]->shape[0], N);
        assert_int_equal(out[1]->shape[0], N);
        const float *yv = out[0]->data, *cv = out[1]->data;
        for (int i = 0; i < N; i++) {
            for (int k = 0; k < OUT; k++)
                if (yv[i * OUT + k] != (float)((i % 7) * (k + 1)))
                    fail_msg("sample %d, output %d: got %g", i, k, (double)yv[i * OUT + k]);
            for (int k = 0; k < IN; k++)
                assert_true(cv[i * IN + k] == xd[i * IN + k]);
        }
    }
    mt_tensor_free(xt);
    mt_graph_free(g);
    free(w2);
    free(w1);
    free(xd);
}

/* A batch of broadcast rows (stride 0: no memory) whose two gathered
 * outputs take 2^63 - 64 bytes each (2^31 - 64 with a 32-bit size_t): their
 * sum wraps size_t. It is refused; the planner summed without a check,
 * allocated the wrapped (small) size and the first pass wrote outside it. */
static void graph_workspace_overflow(void **state)
{
    (void)state;
    /* × 4 floats = SIZE_MAX/2 + 1 - 64 bytes */
    const int64_t n = (int64_t)(((uint64_t)SIZE_MAX >> 5) + 1) - 4;
    char message[100];
    snprintf(message, sizeof message, "graph: the workspace for a batch of %lld overflows size_t",
             (long long)n);
    mt_graph *g = NULL;
    int x, a, b;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){4}, &x));
    assert_ok(mt_graph_add(g, "a", relu(), 1, &x, &a));
    assert_ok(mt_graph_add(g, "b", relu(), 1, &x, &b));
    assert_ok(mt_graph_output(g, a));
    assert_ok(mt_graph_output(g, b));
    size_t bytes = 1;
    assert_fails(mt_graph_bytes_needed(g, n, &bytes), MT_ERR_OVERFLOW, message);
    float zeros[4] = {0};
    mt_tensor *row = tensor(NULL, 2, (int64_t[]){1, 4}, zeros), *rows = NULL;
    assert_ok(mt_expand(row, 2, (int64_t[]){n, 4}, &rows));
    const mt_tensor *out[2];
    assert_fails(mt_graph_forward(g, 1, (const mt_tensor *[]){rows}, 2, out), MT_ERR_OVERFLOW,
                 "overflows size_t");
    assert_null(out[0]);
    mt_tensor_free(rows);
    mt_tensor_free(row);
    mt_graph_free(g);
}

/* A layer's scratch past size_t: self-attention (E 256) over one sample of
 * 2^20 rows needs 2·2^20·512 floats of projections, 2^32 bytes, beside an
 * output of 2^30. With a 32-bit size_t (wasm32) the count wrapped to 0 and
 * the plan fit in 1 GiB; it is refused now. With a 64-bit one it counts. */
static void graph_scratch_overflow(void **state)
{
    (void)state;
    const int64_t rows = (int64_t)1 << 20, e = 256;
    mt_tensor *w_in = NULL, *w_out = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){3 * e, e}, &w_in));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){e, e}, &w_out));
    mt_layer *mha = NULL;
    assert_ok(mt_multihead_attention_new(
        &(mt_attention_weights){.in_proj_weight = w_in, .out_weight = w_out}, 4, false, &mha));
    mt_graph *g = NULL;
    int x, y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){rows, e}, &x));
    assert_ok(mt_graph_add(g, "attn", mha, 1, &x, &y));
    assert_ok(mt_graph_output(g, y));
    size_t bytes = 0;
    if ((uint64_t)SIZE_MAX > UINT32_MAX) {
        assert_ok(mt_graph_bytes_needed(g, 1, &bytes));
        assert_true(bytes >= ((size_t)1 << 30) + ((size_t)4 << 30));
    } else {
        assert_fails(mt_graph_bytes_needed(g, 1, &bytes), MT_ERR_OVERFLOW,
                     "graph: the workspace for a batch of 1 overflows size_t");
    }
    mt_graph_free(g);
    mt_tensor_free(w_out);
    mt_tensor_free(w_in);

    /* the same for a fused Linear pair over rows, its hidden block:
     * [2^20, 1] -> 1024 -> 1 needs 2^32 bytes beside an output of 4 MiB */
    mt_sequential *m = NULL;
    assert_ok(mt_sequential_new(2, (int64_t[]){rows, 1}, &m));
    for (int i = 0; i < 2; i++) {
        mt_tensor *w = NULL;
        mt_layer *l = NULL;
        assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, i ? (int64_t[]){1024, 1} : (int64_t[]){1, 1024},
                                  &w));
        assert_ok(mt_linear_new(w, NULL, &(mt_linear_options){.layout = MT_LAYOUT_IN_OUT}, &l));
        mt_tensor_free(w);
        assert_ok(mt_sequential_add(m, l));
    }
    if ((uint64_t)SIZE_MAX > UINT32_MAX) {
        assert_ok(mt_sequential_bytes_needed(m, 1, &bytes));
        assert_true(bytes >= ((size_t)4 << 30));
    } else {
        assert_fails(mt_sequential_bytes_needed(m, 1, &bytes), MT_ERR_OVERFLOW,
                     "sequential: the workspace for a batch of 1 overflows size_t");
    }
    mt_sequential_free(m);
}

/* An output fed back as the next input (an iterative loop) lies in the
 * workspace the pass writes: refused with a message saying to copy it.
 * softmax -> tanh -> add(·, x) -> softmax gave wrong values silently
 * (softmax's output went where x was, before the add read x); other graphs
 * worked or failed on an overlap, depending on the plan. */
static void output_fed_back(void **state)
{
    (void)state;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, a, b, y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){4}, &x));
    assert_ok(mt_softmax_new(-1, &l));
    assert_ok(mt_graph_add(g, "sm", l, 1, &x, &a));
    assert_ok(mt_activation_layer_new(MT_ACTIVATION_TANH, &l));
    assert_ok(mt_graph_add(g, "t", l, 1, &a, &b));
    assert_ok(mt_add_new(&l));
    assert_ok(mt_graph_add(g, "add", l, 2, (int[]){b, x}, &y));
    assert_ok(mt_softmax_new(-1, &l));
    assert_ok(mt_graph_add(g, "sm2", l, 1, &y, &y));
    assert_ok(mt_graph_output(g, y));
    static const float X[8] = {1, -2, 3, 0.5f, 0, 1, -1, 2};
    mt_tensor *xt = tensor(NULL, 2, (int64_t[]){2, 4}, X), *copy = NULL;
    const mt_tensor *out = NULL, *again = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){xt}, 1, &out));
    assert_fails(mt_graph_forward(g, 1, (const mt_tensor *[]){out}, 1, &again),
                 MT_ERR_INVALID_ARGUMENT, "graph: input 'x' lies in the graph's workspace (an "
                 "output of an earlier pass, valid until the next one): copy it first");
    mt_tensor narrowed;   /* a view into it too */
    assert_ok(mt_narrow_into(out, 0, 1, 1, &narrowed));
    assert_fails(mt_graph_forward(g, 1, (const mt_tensor *[]){&narrowed}, 1, &again),
                 MT_ERR_INVALID_ARGUMENT, "lies in the graph's workspace");
    assert_ok(mt_tensor_contiguous(out, &copy));
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){copy}, 1, &again));
    mt_tensor_free(copy);

    mt_sequential *m = NULL;
    const mt_tensor *y1 = NULL, *y2 = NULL;
    assert_ok(mt_sequential_new(1, (int64_t[]){4}, &m));
    assert_ok(mt_softmax_new(-1, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_sequential_forward(m, xt, &y1));
    assert_fails(mt_sequential_forward(m, y1, &y2), MT_ERR_INVALID_ARGUMENT,
                 "sequential: the input lies in the model's workspace");
    mt_sequential_free(m);
    mt_tensor_free(xt);
    mt_graph_free(g);
}

/* BatchNorm: y = (x - mean)/sqrt(var + eps)·w + b with mean [1,-1], var
 * [4, 0.25], w [2, 1], b [0, 1], eps 1e-12 (negligible):
 *   x = [[3, 0], [1, -1.5]] -> [[2, 3], [0, 0]]
 * alone, and folded into a Linear (W = I) before it (the same values). */
static void batch_norm_alone_and_folded(void **state)
{
    (void)state;
    mt_tensor *mean = tensor("bn.mean", 1, (int64_t[]){2}, (const float[]){1, -1});
    mt_tensor *var = tensor("bn.var", 1, (int64_t[]){2}, (const float[]){4, 0.25f});
    mt_tensor *w = tensor(NULL, 1, (int64_t[]){2}, (const float[]){2, 1});
    mt_tensor *b = tensor(NULL, 1, (int64_t[]){2}, (const float[]){0, 1});
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 2}, (const float[]){3, 0, 1, -1.5f});
    const float want[] = {2, 3, 0, 0};
    const mt_batch_norm_options o = {.eps = 1e-12f};
    mt_layer *l = NULL;
    assert_ok(mt_batch_norm_new(mean, var, w, b, &o, &l));
    mt_layer_info info;
    assert_ok(mt_layer_info_get(l, &info));
    assert_int_equal(info.kind, MT_LAYER_BATCH_NORM);
    assert_string_equal(info.name, "batch_norm bn.mean");
    mt_tensor *y = NULL;
    assert_ok(mt_layer_forward(l, x, &y));
    assert_close((const float *)y->data, want, 4, 1e-6, 0);
    mt_tensor_free(y);

    for (int fold = 0; fold < 2; fold++) {
        mt_sequential *m = NULL;
        assert_ok(mt_sequential_new(1, (int64_t[]){2}, &m));
        if (fold)
            assert_ok(mt_sequential_add(m, linear("eye", 2, 2, (const float[]){1, 0, 0, 1},
                                                  NULL, MT_ACTIVATION_NONE)));
        assert_ok(mt_sequential_add(m, l));
        const mt_tensor *out = NULL;
        assert_ok(mt_sequential_forward(m, x, &out));
        assert_close((const float *)out->data, want, 4, 1e-6, 0);
        mt_sequential_free(m);
        if (!fold)   /* the model freed it: make another */
            assert_ok(mt_batch_norm_new(mean, var, w, b, &o, &l));
    }

    /* A change of the Linear's weight reaches the next pass of a model that
     * is not frozen (the BatchNorm then runs on its own: folding it would
     * copy the weight); a frozen model folds it and keeps its copy. Weight
     * 2·I: y = (2x - mean) / sqrt(var) · w + b. */
    const float doubled[] = {5, 3, 1, -3};
    for (int frozen = 0; frozen < 2; frozen++) {
        mt_tensor *wt = tensor("w", 2, (int64_t[]){2, 2}, (const float[]){1, 0, 0, 1});
        mt_layer *lin = NULL, *bn = NULL;
        assert_ok(mt_linear_new(wt, NULL, &(mt_linear_options){.layout = MT_LAYOUT_IN_OUT},
                                &lin));
        assert_ok(mt_batch_norm_new(mean, var, w, b, &o, &bn));
        mt_sequential *m = NULL;
        assert_ok(mt_sequential_new(1, (int64_t[]){2}, &m));
        assert_ok(mt_sequential_add(m, lin));
        assert_ok(mt_sequential_add(m, bn));
        if (frozen)
            assert_ok(mt_sequential_freeze(m));
        const mt_tensor *out = NULL;
        assert_ok(mt_sequential_forward(m, x, &out));
        assert_close((const float *)out->data, want, 4, 1e-6, 0);
        ((float *)wt->data)[0] = ((float *)wt->data)[3] = 2.0f;
        assert_ok(mt_sequential_forward(m, x, &out));
        assert_close((const float *)out->data, frozen ? want : doubled, 4, 1e-6, 0);
        mt_sequential_free(m);
        mt_tensor_free(wt);
    }

    /* Channels in dim 1 of [N,2,1]; and shape errors. */
    assert_ok(mt_batch_norm_new(mean, var, w, b, &(mt_batch_norm_options){1e-12f, 1}, &l));
    mt_tensor *x3 = tensor(NULL, 3, (int64_t[]){2, 2, 1}, (const float[]){3, 0, 1, -1.5f});
    assert_ok(mt_layer_forward(l, x3, &y));
    assert_close((const float *)y->data, want, 4, 1e-6, 0);
    mt_tensor_free(y);
    mt_tensor *x4 = tensor(NULL, 2, (int64_t[]){2, 3}, ZV);
    assert_fails(mt_layer_forward(l, x4, &y), MT_ERR_SHAPE,
                 "batch_norm bn.mean: expects 2 channels in dim 1, the input gives 3");
    mt_layer_free(l);
    assert_fails(mt_batch_norm_new(mean, w, x, b, NULL, &l), MT_ERR_SHAPE,
                 "batch_norm bn.mean: weight [2,2], expected [2]");
    mt_tensor_free(x4);
    mt_tensor_free(x3);
    mt_tensor_free(x);
    mt_tensor_free(b);
    mt_tensor_free(w);
    mt_tensor_free(var);
    mt_tensor_free(mean);
}

/* ---- the state-dict loaders ------------------------------------------------------------ */

static mt_safetensors *file_of(const mt_safetensors_item *items, size_t n, void **buf)
{
    size_t size = 0;
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_serialize(items, n, NULL, 0, buf, &size));
    assert_ok(mt_safetensors_open_memory(*buf, size, &st));
    return st;
}

/* The same square Linear (y = x·A + c with A = [[1,2],[3,4]]) as PyTorch
 * writes it ("0.weight" = Aᵀ, out-by-in) and as Keras does ("dense/kernel"
 * = A): neither needs a layout flag. x = [1, 1] -> [4, 6] + c = [5, 5]. */
static void loaders_by_framework(void **state)
{
    (void)state;
    mt_tensor *wt = tensor(NULL, 2, (int64_t[]){2, 2}, (const float[]){1, 3, 2, 4});
    mt_tensor *k = tensor(NULL, 2, (int64_t[]){2, 2}, (const float[]){1, 2, 3, 4});
    mt_tensor *c = tensor(NULL, 1, (int64_t[]){2}, (const float[]){1, -1});
    mt_tensor *bad = tensor(NULL, 1, (int64_t[]){2}, (const float[]){1, NAN});
    mt_safetensors_item items[] = {{"0.weight", 0, wt}, {"0.bias", 0, c},
                                   {"dense/kernel", 0, k}, {"dense/bias", 0, c},
                                   {"nobias.weight", 0, wt}, {"nan.weight", 0, wt},
                                   {"nan.bias", 0, bad}};
    void *buf = NULL;
    mt_safetensors *st = file_of(items, 7, &buf);
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){1, 2}, (const float[]){1, 1}), *y = NULL;
    const mt_state_dict torch = {st, MT_FRAMEWORK_PYTORCH}, keras = {st, MT_FRAMEWORK_KERAS};
    mt_layer *l = NULL;
    mt_layer_info info;

    assert_ok(mt_linear_load(&torch, "0", NULL, &l));
    assert_ok(mt_layer_info_get(l, &info));
    assert_int_equal(info.layout, MT_LAYOUT_OUT_IN);
    assert_ok(mt_layer_forward(l, x, &y));
    assert_close((const float *)y->data, ((const float[]){5, 5}), 2, 1e-6, 0);
    mt_tensor_free(y);
    mt_layer_free(l);

    assert_ok(mt_linear_load(&keras, "dense", NULL, &l));
    assert_ok(mt_layer_info_get(l, &info));
    assert_int_equal(info.layout, MT_LAYOUT_IN_OUT);
    assert_ok(mt_layer_forward(l, x, &y));
    assert_close((const float *)y->data, ((const float[]){5, 5}), 2, 1e-6, 0);
    mt_tensor_free(y);
    mt_layer_free(l);

    assert_ok(mt_linear_load(&torch, "nobias", NULL, &l));   /* bias=False */
    assert_ok(mt_layer_info_get(l, &info));
    assert_false(info.has_bias);
    mt_layer_free(l);

    assert_fails(mt_linear_load(&torch, "fc", NULL, &l), MT_ERR_NOT_FOUND,
                 "linear fc: ");
    assert_true(strstr(mt_last_error(), "'fc.weight'") != NULL);
    assert_null(l);
    assert_fails(mt_linear_load(&torch, "nan", NULL, &l), MT_ERR_FORMAT,
                 "linear nan: nan.bias [2] holds NaN at flat index 1 ([1])");
    assert_fails(mt_linear_load(&(mt_state_dict){st, 0}, "0", NULL, &l),
                 MT_ERR_INVALID_ARGUMENT, "linear_load 0: unknown framework 0");

    /* Keras BatchNormalization names, and its default eps of 1e-3:
     * (x - 0)/sqrt(1 + 1e-3) for x = 1. */
    mt_tensor *zero = tensor(NULL, 1, (int64_t[]){2}, (const float[]){0, 0});
    mt_tensor *one = tensor(NULL, 1, (int64_t[]){2}, (const float[]){1, 1});
    mt_safetensors_item bn_items[] = {{"bn/moving_mean", 0, zero},
                                      {"bn/moving_variance", 0, one}};
    void *buf2 = NULL;
    mt_safetensors *st2 = file_of(bn_items, 2, &buf2);
    assert_ok(mt_batch_norm_load(&(mt_state_dict){st2, MT_FRAMEWORK_KERAS}, "bn", NULL, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    float v = (float)(1.0 / sqrt(1.001));
    assert_close((const float *)y->data, ((const float[]){v, v}), 2, 1e-7, 0);
    mt_tensor_free(y);
    mt_layer_free(l);
    assert_fails(mt_batch_norm_load(&(mt_state_dict){st2, MT_FRAMEWORK_PYTORCH}, "bn", NULL,
                                    &l),
                 MT_ERR_NOT_FOUND, "'bn.running_mean'");
    mt_safetensors_close(st2);
    mt_safetensors_buffer_free(buf2);

    mt_tensor_free(one);
    mt_tensor_free(zero);
    mt_tensor_free(x);
    mt_safetensors_close(st);
    mt_safetensors_buffer_free(buf);
    mt_tensor_free(bad);
    mt_tensor_free(c);
    mt_tensor_free(k);
    mt_tensor_free(wt);
}

/* Every allocation failing in turn, while a graph is built (Linear, BatchNorm
 * folded into it, ReLU, a skip Add with a constant), run, frozen and run again: each failure is a clean
 * MT_ERR_OUT_OF_MEMORY, and nothing leaks (ASan and valgrind check). */
static mt_status build_and_run(const mt_tensor *x)
{
    static const float w[4] = {1, 2, 3, 4}, one[2] = {1, 1}, zero[2] = {0, 0};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    mt_tensor *wt = NULL, *ones = NULL, *zeros = NULL, *one_row = NULL;
    int in, h, y, c;
    const mt_tensor *out = NULL;
    mt_status s = mt_graph_new(&g);
    if (!s) s = mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){2}, &in);
    if (!s) s = mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){2, 2}, w, &wt);
    if (!s) s = mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){2}, one, &ones);
    if (!s) s = mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){2}, zero, &zeros);
    if (!s) s = mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){1, 2}, one, &one_row);
    if (!s) s = mt_linear_new(wt, NULL, &(mt_linear_options){.layout = MT_LAYOUT_IN_OUT}, &l);
    if (!s) s = mt_graph_add(g, "fc", l, 1, &in, &h);
    if (!s) s = mt_batch_norm_new(zeros, ones, NULL, NULL, NULL, &l);
    if (!s) s = mt_graph_add(g, "bn", l, 1, &h, &h);
    if (!s) s = mt_relu_new(&l);
    if (!s) s = mt_graph_add(g, "relu", l, 1, &h, &h);
    if (!s) s = mt_graph_constant(g, "c", one_row, &c);   /* the graph's copy */
    if (!s) s = mt_add_new(&l);
    if (!s) s = mt_graph_add(g, "skip", l, 3, (int[]){h, in, c}, &y);
    if (!s) s = mt_graph_output(g, y);
    if (!s) s = mt_graph_forward(g, 1, &x, 1, &out);
    if (!s) s = mt_graph_freeze(g);
    if (!s) s = mt_graph_forward(g, 1, &x, 1, &out);
    mt_tensor_free(one_row);
    mt_tensor_free(zeros);
    mt_tensor_free(ones);
    mt_tensor_free(wt);
    mt_graph_free(g);
    return s;
}

static void graph_out_of_memory(void **state)
{
    (void)state;
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){3, 2}, (const float[]){1, 2, 3, 4, 5, 6});
    alloc_probe probe;
    int failures = 0;
    for (long k = 0; k < 200; k++) {
        probe_install(&probe, k);
        mt_status s = build_and_run(x);
        probe_remove();   /* hands the ops' kept scratch back first */
        assert_int_equal(probe.live, 0);
        if (s == MT_OK)
            break;
        assert_int_equal(s, MT_ERR_OUT_OF_MEMORY);
        failures++;
    }
    assert_true(failures > 10);   /* the sweep went through the whole build */
    probe_install(&counter, -1);
    mt_tensor_free(x);
}

/* Linear -> Dropout -> Linear runs as one layer (mt_matmul_fused2): the
 * hidden activations take no workspace. With W1, b1 and h from above and
 *   W3 = [[1, -1], [2, 0], [0, 3]]   b3 = [0.5, -0.5]
 *   y = h·W3 + b3 = [[3+2, -3] + b3, [0, 4.5] + b3] = [[5.5, -3.5], [0.5, 4]] */
static const float W3[] = {1, -1, 2, 0, 0, 3}, B3[] = {0.5f, -0.5f};
static const float Y3[] = {5.5f, -3.5f, 0.5f, 4};

static mt_sequential *two_linears(int sample_rank, const int64_t *sample)
{
    mt_sequential *m = NULL;
    mt_layer *drop = NULL;
    assert_ok(mt_sequential_new(sample_rank, sample, &m));
    assert_ok(mt_sequential_add(m, linear("w1", 2, 3, W1, B1, MT_ACTIVATION_RELU)));
    assert_ok(mt_dropout_new(0.5f, &drop));
    assert_ok(mt_sequential_add(m, drop));
    assert_ok(mt_sequential_add(m, linear("w3", 3, 2, W3, B3, MT_ACTIVATION_NONE)));
    return m;
}

static void linear_chain_fused(void **state)
{
    (void)state;
    mt_sequential *m = two_linears(1, (int64_t[]){2});
    size_t bytes = 0;
    assert_ok(mt_sequential_bytes_needed(m, 2, &bytes));
    assert_int_equal(bytes, 64);   /* the output alone: no hidden buffer */
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 2}, XV);
    const mt_tensor *y = NULL;
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_int_equal(y->shape[0], 2);
    assert_int_equal(y->shape[1], 2);
    assert_close(y->data, Y3, 4, 1e-6, 1e-6);
    mt_tensor row;   /* batch 1: the second sample */
    assert_ok(mt_narrow_into(x, 0, 1, 1, &row));
    assert_ok(mt_sequential_forward(m, &row, &y));
    assert_close(y->data, Y3 + 2, 2, 1e-6, 1e-6);
    mt_tensor_free(x);
    mt_sequential_free(m);

    /* A separate ReLU layer: absorbed into the first Linear, then the pair */
    assert_ok(mt_sequential_new(1, (int64_t[]){2}, &m));
    assert_ok(mt_sequential_add(m, linear("w1", 2, 3, W1, B1, MT_ACTIVATION_NONE)));
    assert_ok(mt_sequential_add(m, relu()));
    assert_ok(mt_sequential_add(m, linear("w3", 3, 2, W3, B3, MT_ACTIVATION_NONE)));
    assert_ok(mt_sequential_bytes_needed(m, 2, &bytes));
    assert_int_equal(bytes, 64);
    x = tensor(NULL, 2, (int64_t[]){2, 2}, XV);
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_close(y->data, Y3, 4, 1e-6, 1e-6);
    mt_tensor_free(x);
    mt_sequential_free(m);

    /* [N, 2, 2] samples: the Linears act on the last dim (the hidden
     * activations in the layer's scratch) */
    m = two_linears(2, (int64_t[]){2, 2});
    x = tensor(NULL, 3, (int64_t[]){1, 2, 2}, XV);
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_int_equal(y->rank, 3);
    assert_close(y->data, Y3, 4, 1e-6, 1e-6);
    mt_tensor_free(x);
    mt_sequential_free(m);
}

/* The hidden activations are an output too: the two Linears stay apart. */
static void linear_chain_not_fused_when_read_twice(void **state)
{
    (void)state;
    mt_graph *g = NULL;
    int in, fc1, fc2;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){2}, &in));
    assert_ok(mt_graph_add(g, "fc1", linear("w1", 2, 3, W1, B1, MT_ACTIVATION_RELU), 1,
                           &in, &fc1));
    assert_ok(mt_graph_add(g, "fc2", linear("w3", 3, 2, W3, B3, MT_ACTIVATION_NONE), 1,
                           &fc1, &fc2));
    assert_ok(mt_graph_output(g, fc1));
    assert_ok(mt_graph_output(g, fc2));
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 2}, XV);
    const mt_tensor *y[2] = {NULL, NULL};
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 2, y));
    static const float H[] = {3, 1, 0, 0, 0, 1.5f};
    assert_close(y[0]->data, H, 6, 1e-6, 1e-6);
    assert_close(y[1]->data, Y3, 4, 1e-6, 1e-6);
    mt_tensor_free(x);
    mt_graph_free(g);
}

/* A frozen model: sparse inputs (2 of 12 entries nonzero) through a
 * Linear pair, by hand, with W1 and b1 from above widened to 6 inputs:
 *   W6 = [[1,0,-1], [1,1,0], [2,0,0], [0,2,0], [0,0,2], [-1,-1,-1]]
 *   x  = [[0,0,0,1.5,0,0], [0,0,0,0,0,2]]
 *   h  = relu(x·W6 + b1) = relu([[0,3,0] + b1, [-2,-2,-2] + b1])
 *      = [[0,2,0.5], [0,0,0]]
 *   y  = h·W3 + b3 = [[4,1.5] + b3, [0,0] + b3] = [[4.5,1], [0.5,-0.5]]
 * With W6[3] = [0,4,0] instead: h0 = [0,5,0.5], y0 = [10.5,1]. */
static const float W6[] = {1, 0, -1, 1, 1, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, -1, -1, -1};
static const float X6[] = {0, 0, 0, 1.5f, 0, 0, 0, 0, 0, 0, 0, 2};
static const float H6[] = {0, 2, 0.5f, 0, 0, 0};
static const float Y6[] = {4.5f, 1, 0.5f, -0.5f}, Y6_CHANGED[] = {10.5f, 1, 0.5f, -0.5f};

static mt_sequential *sparse_pair(mt_tensor *w6)
{
    mt_sequential *m = NULL;
    mt_tensor *b1 = tensor(NULL, 1, (int64_t[]){3}, B1);
    mt_layer *l = NULL;
    assert_ok(mt_sequential_new(1, (int64_t[]){6}, &m));
    assert_ok(mt_linear_new(w6, b1, &(mt_linear_options){.layout = MT_LAYOUT_IN_OUT,
                                                          .act = MT_ACTIVATION_RELU}, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_sequential_add(m, linear("w3", 3, 2, W3, B3, MT_ACTIVATION_NONE)));
    mt_tensor_free(b1);
    return m;
}

static void frozen_model(void **state)
{
    (void)state;
    mt_tensor *w6 = tensor("w6", 2, (int64_t[]){6, 3}, W6);
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 6}, X6);
    mt_sequential *m = sparse_pair(w6);
    const mt_tensor *y = NULL;
    assert_ok(mt_sequential_freeze(m));
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_close(y->data, Y6, 4, 1e-6, 1e-6);
    long before = counter.allocations;   /* a warm pass allocates nothing */
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_int_equal(counter.allocations, before);

    /* the weight changes: unseen until the model is frozen again */
    float *w = w6->data;
    w[3 * 3 + 1] = 4;
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_close(y->data, Y6, 4, 1e-6, 1e-6);
    assert_ok(mt_sequential_freeze(m));
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_close(y->data, Y6_CHANGED, 4, 1e-6, 1e-6);

    /* an infinite weight under an input that is 0 in every row: NaN, as
     * unfrozen (0 × inf), not skipped */
    w[0 * 3 + 1] = INFINITY;
    assert_ok(mt_sequential_freeze(m));
    assert_ok(mt_sequential_forward(m, x, &y));
    for (int i = 0; i < 4; i++)
        assert_true(isnan(((const float *)y->data)[i]));
    mt_sequential_free(m);
    m = sparse_pair(w6);   /* unfrozen, the same */
    assert_ok(mt_sequential_forward(m, x, &y));
    for (int i = 0; i < 4; i++)
        assert_true(isnan(((const float *)y->data)[i]));
    mt_sequential_free(m);

    assert_fails(mt_sequential_freeze(NULL), MT_ERR_INVALID_ARGUMENT,
                 "sequential_freeze: model is NULL");
    assert_fails(mt_graph_freeze(NULL), MT_ERR_INVALID_ARGUMENT,
                 "graph_freeze: graph is NULL");
    mt_tensor_free(x);
    mt_tensor_free(w6);
}

/* One frozen Linear on its own, its weight in PyTorch's [out,in] layout
 * (copied [in,out] when frozen); then a node added to the frozen graph:
 * the next pass freezes the new plan. */
static void frozen_graph_grows(void **state)
{
    (void)state;
    float wt[18];   /* W6 transposed: [3,6] */
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++)
            wt[j * 6 + i] = W6[i * 3 + j];
    mt_tensor *w = tensor("w6", 2, (int64_t[]){3, 6}, wt);
    mt_tensor *b1 = tensor(NULL, 1, (int64_t[]){3}, B1);
    mt_tensor *x = tensor(NULL, 2, (int64_t[]){2, 6}, X6);
    mt_layer *fc = NULL;
    assert_ok(mt_linear_new(w, b1, &(mt_linear_options){.layout = MT_LAYOUT_OUT_IN,
                                                         .act = MT_ACTIVATION_RELU}, &fc));
    mt_graph *g = NULL;
    int in, h, y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){6}, &in));
    assert_ok(mt_graph_add(g, "fc1", fc, 1, &in, &h));
    assert_ok(mt_graph_output(g, h));
    assert_ok(mt_graph_freeze(g));
    const mt_tensor *out[2] = {NULL, NULL};
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, out));
    assert_close(out[0]->data, H6, 6, 1e-6, 1e-6);
    assert_ok(mt_graph_add(g, "fc2", linear("w3", 3, 2, W3, B3, MT_ACTIVATION_NONE), 1,
                           &h, &y));
    assert_ok(mt_graph_output(g, y));
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 2, out));
    assert_close(out[0]->data, H6, 6, 1e-6, 1e-6);
    assert_close(out[1]->data, Y6, 4, 1e-6, 1e-6);
    mt_graph_free(g);
    mt_tensor_free(x);
    mt_tensor_free(b1);
    mt_tensor_free(w);
}

/* ---- constants -------------------------------------------------------------------------- */

/* A constant [1,3] added to every sample of x [N,3] (a fixed bias):
 *   c = [10, -20, 0.5], given as the transpose of a [3,1] column (strides)
 *   x = [[1, 2, 3], [-1, 0, 4], [0.5, 0.5, -2]]
 *   y = x + c = [[11, -18, 3.5], [9, -20, 4.5], [10.5, -19.5, -1.5]]
 * at N = 3 and N = 1; the graph keeps its own copy: a change to the
 * caller's data is not seen, the caller may free it, frozen or not. */
static const float CX[] = {1, 2, 3, -1, 0, 4, 0.5f, 0.5f, -2};
static const float CY[] = {11, -18, 3.5f, 9, -20, 4.5f, 10.5f, -19.5f, -1.5f};

static void constant_added_to_input(void **state)
{
    (void)state;
    mt_tensor *col = tensor(NULL, 2, (int64_t[]){3, 1}, (const float[]){10, -20, 0.5f});
    mt_tensor *c = NULL;
    float *cv = col->data;
    assert_ok(mt_transpose(col, 0, 1, &c));
    mt_tensor *x3 = tensor(NULL, 2, (int64_t[]){3, 3}, CX);
    mt_tensor *x1 = tensor(NULL, 2, (int64_t[]){1, 3}, CX + 3);
    for (int frozen = 0; frozen < 2; frozen++) {
        mt_graph *g = NULL;
        mt_layer *l = NULL;
        int x, k, y;
        assert_ok(mt_graph_new(&g));
        assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){3}, &x));
        assert_ok(mt_graph_constant(g, "bias", c, &k));
        assert_ok(mt_add_new(&l));
        assert_ok(mt_graph_add(g, "y", l, 2, (int[]){x, k}, &y));
        assert_ok(mt_graph_output(g, y));
        assert_int_equal(mt_graph_count(g), 3);
        assert_int_equal(mt_graph_input_count(g), 1);
        assert_null(mt_graph_layer(g, k));
        mt_shape sh;
        assert_ok(mt_graph_shape_get(g, k, &sh));
        assert_int_equal(sh.rank, 2);
        assert_int_equal(sh.dim[0], 1);
        assert_int_equal(sh.dim[1], 3);
        if (frozen)
            assert_ok(mt_graph_freeze(g));
        cv[1] = 1000;   /* after the declaration: not seen */
        const mt_tensor *out = NULL;
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x3}, 1, &out));
        assert_int_equal(out->shape[0], 3);
        assert_close(out->data, CY, 9, 0, 0);
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x1}, 1, &out));
        assert_int_equal(out->shape[0], 1);
        assert_close(out->data, CY + 3, 3, 0, 0);
        cv[1] = -20;
        mt_graph_free(g);
    }
    /* the caller frees its tensor and data right after declaring */
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, k, y;
    mt_tensor *own = NULL;
    assert_ok(mt_tensor_contiguous(c, &own));
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){3}, &x));
    assert_ok(mt_graph_constant(g, "bias", own, &k));
    mt_tensor_free(own);
    assert_ok(mt_add_new(&l));
    assert_ok(mt_graph_add(g, "y", l, 2, (int[]){k, x}, &y));
    assert_ok(mt_graph_output(g, y));
    const mt_tensor *out = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x3}, 1, &out));
    assert_close(out->data, CY, 9, 0, 0);
    assert_ok(mt_graph_freeze(g));
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x3}, 1, &out));
    assert_close(out->data, CY, 9, 0, 0);
    mt_graph_free(g);
    mt_tensor_free(x1);
    mt_tensor_free(x3);
    mt_tensor_free(c);
    mt_tensor_free(col);
}

/* A ViT's class token: a constant cls [1,1,4] = [1, 2, 3, 4] concatenated
 * in front of the tokens x [N,2,4], x(n, t, :) = n % 7 + t, then a Linear
 * 4 -> 2048 (W = 1/4, ReLU) and 2048 -> 1 (W = 1/2048): per token the sum
 * of its entries / 4 (every hidden unit, and y), exactly:
 *   y(n, 0) = 10/4 = 2.5,   y(n, 1 + t) = n % 7 + t.
 * The hidden layer is an output (so not fused into the next Linear): its
 * [3, 2048] floats per sample (24 KiB) make a batch of 200 run in passes
 * of 84 (84 + 84 + 32, the last one shorter); N = 1 and 3 in one pass.
 * Every output checked, the concat itself too. */
static void constant_class_token_in_passes(void **state)
{
    (void)state;
    enum { E = 4, L = 2, T = L + 1, HIDDEN = 2048 };
    static const float CLS[] = {1, 2, 3, 4};
    float *w1 = malloc(sizeof(float) * E * HIDDEN), *w2 = malloc(sizeof(float) * HIDDEN);
    assert_non_null(w1);
    assert_non_null(w2);
    for (int i = 0; i < E * HIDDEN; i++)
        w1[i] = 1.0f / E;
    for (int i = 0; i < HIDDEN; i++)
        w2[i] = 1.0f / HIDDEN;
    mt_tensor *cls = tensor(NULL, 3, (int64_t[]){1, 1, E}, CLS);
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, c, cat, h, y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){L, E}, &x));
    assert_ok(mt_graph_constant(g, "cls", cls, &c));
    assert_ok(mt_concat_new(1, &l));
    assert_ok(mt_graph_add(g, "cat", l, 2, (int[]){c, x}, &cat));
    assert_ok(mt_graph_add(g, "h", linear("w1", E, HIDDEN, w1, NULL, MT_ACTIVATION_RELU), 1,
                           &cat, &h));
    assert_ok(mt_graph_add(g, "y", linear("w2", HIDDEN, 1, w2, NULL, MT_ACTIVATION_NONE), 1,
                           &h, &y));
    assert_ok(mt_graph_output(g, y));
    assert_ok(mt_graph_output(g, cat));
    assert_ok(mt_graph_output(g, h));
    static const int64_t batches[] = {1, 3, 200, 3};
    for (int b = 0; b < 4; b++) {
        const int64_t n = batches[b];
        float *xd = malloc(sizeof(float) * (size_t)(n * L * E));
        assert_non_null(xd);
        for (int64_t i = 0; i < n * L * E; i++)
            xd[i] = (float)(i / (L * E) % 7 + i / E % L);
        mt_tensor *xt = tensor(NULL, 3, (int64_t[]){n, L, E}, xd);
        const mt_tensor *out[3];
        for (int rep = 0; rep < 2; rep++) {
            long before = counter.allocations;
            assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){xt}, 3, out));
            if (rep)   /* warm: no heap */
                assert_int_equal(counter.allocations, before);
            for (int o = 0; o < 3; o++) {
                assert_int_equal(out[o]->rank, 3);
                assert_int_equal(out[o]->shape[0], n);
                assert_int_equal(out[o]->shape[1], T);
            }
            const float *yv = out[0]->data, *cv = out[1]->data, *hv = out[2]->data;
            for (int64_t i = 0; i < n; i++)
                for (int t = 0; t < T; t++) {
                    const int64_t at = i * T + t;
                    const float want = t ? (float)(i % 7 + t - 1) : 2.5f;
                    if (yv[at] != want)
                        fail_msg("N = %lld, y(%lld, %d): got %g, expected %g", (long long)n,
                                 (long long)i, t, (double)yv[at], (double)want);
                    for (int k = 0; k < HIDDEN; k++)
                        if (hv[at * HIDDEN + k] != want)
                            fail_msg("N = %lld, h(%lld, %d, %d): got %g, expected %g",
                                     (long long)n, (long long)i, t, k,
                                     (double)hv[at * HIDDEN + k], (double)want);
                    for (int e = 0; e < E; e++) {
                        const float wc = t ? (float)(i % 7 + t - 1) : CLS[e];
                        if (cv[at * E + e] != wc)
                            fail_msg("N = %lld, cat(%lld, %d, %d): got %g, expected %g",
                                     (long long)n, (long long)i, t, e,
                                     (double)cv[at * E + e], (double)wc);
                    }
                }
        }
        mt_tensor_free(xt);
        free(xd);
    }
    mt_graph_free(g);
    mt_tensor_free(cls);
    free(w2);
    free(w1);
}

static void constant_errors(void **state)
{
    (void)state;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, k, y;
    mt_tensor *c = tensor(NULL, 3, (int64_t[]){1, 1, 4}, (const float[]){1, 2, 3, 4});
    mt_tensor *c2 = tensor(NULL, 3, (int64_t[]){2, 1, 2}, (const float[]){1, 2, 3, 4});
    mt_tensor *c0 = tensor(NULL, 0, NULL, (const float[]){1});
    mt_tensor *c5 = tensor(NULL, 3, (int64_t[]){1, 1, 5}, (const float[]){1, 2, 3, 4, 5});
    assert_ok(mt_graph_new(&g));
    assert_fails(mt_graph_constant(NULL, "c", c, NULL), MT_ERR_INVALID_ARGUMENT,
                 "graph_constant: graph is NULL");
    assert_fails(mt_graph_constant(g, NULL, c, NULL), MT_ERR_INVALID_ARGUMENT,
                 "graph_constant: name is NULL");
    assert_fails(mt_graph_constant(g, "c", NULL, NULL), MT_ERR_INVALID_ARGUMENT,
                 "graph_constant: value is NULL");
    assert_fails(mt_graph_constant(g, "c", c2, NULL), MT_ERR_SHAPE,
                 "graph_constant: constant 'c' is [2,1,2], expected [1, sample...]");
    assert_fails(mt_graph_constant(g, "c", c0, NULL), MT_ERR_SHAPE,
                 "graph_constant: constant 'c' is [], expected [1, sample...]");
    // a hand-filled struct: no data, a rank past MT_MAX_RANK (its shape was
    // read up to that rank), an unknown dtype
    mt_tensor bare = {.dtype = MT_DTYPE_F32, .rank = 2, .shape = {1, 4}, .stride = {4, 1},
                      .name = "pos_emb"};
    assert_fails(mt_graph_constant(g, "c", &bare, NULL), MT_ERR_INVALID_ARGUMENT,
                 "graph_constant: constant 'c': value pos_emb [1,4] has no data");
    bare.rank = 1000;
    assert_fails(mt_graph_constant(g, "c", &bare, NULL), MT_ERR_INVALID_ARGUMENT,
                 "graph_constant: constant 'c': value pos_emb is not a valid tensor (rank "
                 "1000");
    bare.rank = 2, bare.dtype = (mt_dtype)77;
    assert_fails(mt_graph_constant(g, "c", &bare, NULL), MT_ERR_INVALID_ARGUMENT,
                 "graph_constant: constant 'c': value pos_emb is not a valid tensor (rank 2, "
                 "dtype 77)");
    assert_int_equal(mt_graph_count(g), 0);
    /* a graph of constants alone has no batch size */
    assert_ok(mt_graph_constant(g, "c", c, &k));
    assert_fails(mt_graph_output(g, k), MT_ERR_INVALID_ARGUMENT,
                 "graph_output: node 'c' is a constant");
    assert_ok(mt_relu_new(&l));
    assert_ok(mt_graph_add(g, "r", l, 1, &k, &y));
    assert_ok(mt_graph_output(g, y));
    const mt_tensor *out = NULL;
    assert_fails(mt_graph_forward(g, 0, NULL, 1, &out), MT_ERR_INVALID_ARGUMENT,
                 "graph: the graph has no inputs");
    assert_null(out);
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){2, 4}, &x));
    assert_fails(mt_graph_constant(g, "x", c, NULL), MT_ERR_INVALID_ARGUMENT,
                 "graph_constant: there is already a node 'x'");
    assert_fails(mt_graph_constant(g, "c", c, NULL), MT_ERR_INVALID_ARGUMENT,
                 "graph_constant: there is already a node 'c'");
    assert_fails(mt_graph_input(g, "c", MT_DTYPE_F32, 1, (int64_t[]){4}, NULL),
                 MT_ERR_INVALID_ARGUMENT, "graph_input: there is already a node 'c'");
    /* a layer's shape error names the constant */
    assert_ok(mt_graph_constant(g, "c5", c5, &k));
    assert_ok(mt_concat_new(1, &l));
    assert_fails(mt_graph_add(g, "cat", l, 2, (int[]){k, x}, NULL), MT_ERR_SHAPE,
                 "constant 'c5' gives [1,1,5] and input 'x' gives [1,2,4]");
    /* forward takes the inputs alone, not the constants */
    mt_tensor *xt = tensor(NULL, 3, (int64_t[]){1, 2, 4}, (const float[]){1, 2, 3, 4, 5, 6,
                                                                            7, 8});
    assert_fails(mt_graph_forward(g, 2, (const mt_tensor *[]){xt, c}, 1, &out),
                 MT_ERR_INVALID_ARGUMENT, "graph: given 2 inputs and 1 outputs, the graph "
                 "has 1 and 1");
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){xt}, 1, &out));
    assert_int_equal(out->shape[0], 1);
    static const float RELU_C[] = {1, 2, 3, 4};
    assert_close(out->data, RELU_C, 4, 0, 0);
    assert_int_equal(mt_graph_count(g), 4);
    assert_int_equal(mt_graph_input_count(g), 1);
    mt_tensor_free(xt);
    mt_graph_free(g);
    mt_tensor_free(c5);
    mt_tensor_free(c0);
    mt_tensor_free(c2);
    mt_tensor_free(c);
}

int main(void)
{
    probe_install(&counter, -1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(graph_residual_branch_concat),
        cmocka_unit_test(graph_build_errors),
        cmocka_unit_test(graph_add_named_many_inputs),
        cmocka_unit_test(planner_reuses_memory),
        cmocka_unit_test(graph_large_batch_in_passes),
        cmocka_unit_test(graph_workspace_overflow),
        cmocka_unit_test(graph_scratch_overflow),
        cmocka_unit_test(output_fed_back),
        cmocka_unit_test(graph_out_of_memory),
        cmocka_unit_test(batch_norm_alone_and_folded),
        cmocka_unit_test(loaders_by_framework),
        cmocka_unit_test(linear_chain_fused),
        cmocka_unit_test(linear_chain_not_fused_when_read_twice),
        cmocka_unit_test(frozen_model),
        cmocka_unit_test(frozen_graph_grows),
        cmocka_unit_test(constant_added_to_input),
        cmocka_unit_test(constant_class_token_in_passes),
        cmocka_unit_test(constant_errors),
    };
    return cmocka_run_group_tests_name("nn_graph", tests, NULL, NULL);
}
