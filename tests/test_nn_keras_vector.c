/* test_nn_keras_vector.c — Keras' Attention (dot and concat scores, scale,
 * causal, query and value masks), AdditiveAttention, RepeatVector and
 * UnitNormalization against Keras' own outputs
 * (reference/make_keras_vector_refs.py -> keras_vector.safetensors), their
 * variables loaded by their Keras paths, on contiguous inputs and strided
 * views; a two-tower functional model with them and the merges; and the
 * errors: inputs, masks, axes, weights, NULLs. */
#include "graph_build.h"

static mt_safetensors *refs;
static alloc_probe counter;   /* every allocation, installed by main */

/* Layer *lp (made by `made`; freed) on refs' tensors `names` (n of them),
 * graph inputs of their shapes and dtypes, gives refs' `want` within tol; a
 * second pass allocates nothing and gives it again. A name "T:x" is x transposed (dims 1, 2)
 * twice: x's values through a strided view. */
static void runs(mt_status made, mt_layer **lp, int n, const char *const *names,
                 const char *want, double tol)
{
    if (made)
        fail_msg("%s: %s", want, mt_last_error());
    mt_layer *l = *lp;
    mt_graph *g = NULL;
    mt_tensor *xs[6] = {0}, *keep[6] = {0};
    const mt_tensor *in[6] = {0};
    int ids[6], y;
    assert_ok(mt_graph_new(&g));
    for (int j = 0; j < n; j++) {
        bool strided = !strncmp(names[j], "T:", 2);
        mt_tensor *x = ref_get(refs, names[j] + (strided ? 2 : 0));
        if (strided) {   /* a contiguous copy of x^T, viewed back as x */
            mt_tensor *t = NULL;
            assert_ok(mt_transpose(x, 1, 2, &t));
            assert_ok(mt_tensor_contiguous(t, &keep[j]));
            mt_tensor_free(t);
            mt_tensor_free(x);
            assert_ok(mt_transpose(keep[j], 1, 2, &x));
            assert_int_not_equal(x->stride[2], 1);
        }
        xs[j] = x;
        in[j] = x;
        char name[8];
        snprintf(name, sizeof name, "in%d", j);
        assert_ok(mt_graph_input(g, name, x->dtype, x->rank - 1, x->shape + 1, &ids[j]));
    }
    assert_ok(mt_graph_add(g, "l", l, n, ids, &y));
    assert_ok(mt_graph_output(g, y));
    const mt_tensor *out = NULL;
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
    for (int j = 0; j < n; j++) {
        mt_tensor_free(xs[j]);
        mt_tensor_free(keep[j]);
    }
    mt_graph_free(g);
}

#define NAMES(...) (sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), \
                   (const char *[]){__VA_ARGS__}

static void attention_matches_keras(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    const mt_keras_attention_options key = {.has_key = true};
    mt_layer *l = NULL;
    runs(mt_dot_attention_new(1, 1, NULL, &l), &l, NAMES("q", "vq"), "att_plain", 1e-5);
    runs(mt_dot_attention_new(1, 1, NULL, &l), &l, NAMES("T:q", "T:vq"), "att_plain", 1e-5);
    runs(mt_dot_attention_load(&sd, "att_s", &key, &l), &l, NAMES("q", "v", "k"),
         "att_scale", 1e-5);
    runs(mt_dot_attention_load(&sd, "att_s", &key, &l), &l, NAMES("q", "T:v", "T:k"),
         "att_scale", 1e-5);
    runs(mt_dot_attention_load(&sd, "att_c", &(mt_keras_attention_options){
             .has_key = true, .score_mode = MT_SCORE_MODE_CONCAT}, &l), &l,
         NAMES("q", "v", "k"), "att_concat", 1e-5);
    runs(mt_dot_attention_load(&sd, "att_c1", &(mt_keras_attention_options){
             .score_mode = MT_SCORE_MODE_CONCAT}, &l), &l, NAMES("q", "vq"), "att_concat1",
         1e-5);
    /* causal and both masks: sample 1's query 0 has every key masked */
    runs(mt_dot_attention_new(1, 1, &(mt_keras_attention_options){
             .has_key = true, .causal = true, .value_mask = MT_MASK_MODE_KEEP,
             .query_mask = MT_MASK_MODE_KEEP}, &l), &l,
         NAMES("q", "v", "k", "vm", "qm"), "att_masked", 1e-5);
    runs(mt_dot_attention_new(1, 1, &(mt_keras_attention_options){
             .has_key = true, .causal = true, .value_mask = MT_MASK_MODE_IGNORE,
             .query_mask = MT_MASK_MODE_IGNORE}, &l), &l,
         NAMES("q", "v", "k", "vm_ignore", "qm_ignore"), "att_masked", 1e-5);
}

static void additive_attention_matches_keras(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    const mt_keras_attention_options key = {.has_key = true};
    mt_layer *l = NULL;
    runs(mt_additive_attention_load(&sd, "add_s", &key, &l), &l, NAMES("q", "v", "k"),
         "add_scale", 1e-5);
    runs(mt_additive_attention_new(NULL, NULL, &l), &l, NAMES("T:q", "vq"), "add_plain",
         1e-5);
    runs(mt_additive_attention_load(&sd, "add_m", &(mt_keras_attention_options){
             .has_key = true, .value_mask = MT_MASK_MODE_KEEP,
             .query_mask = MT_MASK_MODE_KEEP}, &l), &l,
         NAMES("q", "v", "T:k", "vm", "qm"), "add_masked", 1e-5);
}

/* A masked query's row is Keras' row times 0: NaN where the values hold an
 * inf or a NaN (not 0), 0 elsewhere. */
static void query_mask_keeps_nan_as_keras(void **state)
{
    (void)state;
    const mt_keras_attention_options o = {.has_key = true, .query_mask = MT_MASK_MODE_KEEP};
    mt_layer *l = NULL;
    runs(mt_dot_attention_new(1, 1, &o, &l), &l, NAMES("nf_q", "nf_v", "nf_k", "nf_qm"),
         "att_nf", 1e-6);
    runs(mt_additive_attention_new(NULL, &o, &l), &l,
         NAMES("nf_q", "T:nf_v", "nf_k", "nf_qm"), "add_nf", 1e-6);
}

/* A batch of 0 samples: [0, …] out, nothing read or written. */
static void empty_batch(void **state)
{
    (void)state;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int q, v, vm, a, u;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "q", MT_DTYPE_F32, 2, (int64_t[]){3, 4}, &q));
    assert_ok(mt_graph_input(g, "v", MT_DTYPE_F32, 2, (int64_t[]){5, 4}, &v));
    assert_ok(mt_graph_input(g, "vm", MT_DTYPE_I32, 1, (int64_t[]){5}, &vm));
    assert_ok(mt_additive_attention_new(NULL, &(mt_keras_attention_options){
                  .value_mask = MT_MASK_MODE_KEEP}, &l));
    assert_ok(mt_graph_add(g, "a", l, 3, (int[]){q, v, vm}, &a));
    assert_ok(mt_unit_norm_new(1, (int[]){-1}, &l));
    assert_ok(mt_graph_add(g, "u", l, 1, &a, &u));
    assert_ok(mt_graph_output(g, u));
    mt_tensor *x[3] = {0};
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){0, 3, 4}, &x[0]));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){0, 5, 4}, &x[1]));
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 2, (int64_t[]){0, 5}, &x[2]));
    const mt_tensor *out = NULL;
    assert_ok(mt_graph_forward(g, 3, (const mt_tensor *const *)x, 1, &out));
    assert_int_equal(out->rank, 3);
    assert_int_equal(out->shape[0], 0);
    assert_int_equal(out->shape[1], 3);
    for (int j = 0; j < 3; j++)
        mt_tensor_free(x[j]);
    mt_graph_free(g);
}

static void vector_layers_match_keras(void **state)
{
    (void)state;
    mt_layer *l = NULL;
    runs(mt_repeat_vector_new(3, &l), &l, NAMES("rv_x"), "rv_y", 0);
    runs(mt_unit_norm_new(1, (int[]){-1}, &l), &l, NAMES("un_x"), "un_last", 1e-6);
    runs(mt_unit_norm_new(1, (int[]){2}, &l), &l, NAMES("T:un_x"), "un_last", 1e-6);
    runs(mt_unit_norm_new(2, (int[]){1, -1}, &l), &l, NAMES("un_x"), "un_12", 1e-6);
    runs(mt_unit_norm_new(1, (int[]){1}, &l), &l, NAMES("un_nan_x"), "un_1", 1e-6);
    /* RepeatVector on a strided [N,D]: a column slice */
    mt_tensor *x = ref_get(refs, "rv_x"), *w = ref_get(refs, "rv_y"), *wide = NULL, *cols = NULL, *y = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 10}, &wide));
    assert_ok(mt_narrow(wide, 1, 3, 5, &cols));
    assert_ok(mt_tensor_copy_into(x, cols));
    assert_ok(mt_repeat_vector_new(3, &l));
    assert_ok(mt_layer_forward(l, cols, &y));
    assert_close((const float *)y->data, (const float *)w->data, 30, 0, 0);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(cols);
    mt_tensor_free(wide);
    mt_tensor_free(w);
    mt_tensor_free(x);
}

/* A tower: Dense(tanh), self-attention, UnitNormalization, the average
 * over the steps, Dense; its layers loaded by their Keras paths (the same
 * variables for both towers). */
static int tower(mt_graph *g, const mt_state_dict *sd, const char *t, int x)
{
    char name[32];
    mt_layer *l = NULL;
    int h;
    snprintf(name, sizeof name, "enc_%s", t);
    h = node(g, name, mt_linear_load(sd, "enc", &(mt_linear_options){
                 .act = MT_ACTIVATION_TANH}, &l), &l, 1, &x);
    snprintf(name, sizeof name, "att_%s", t);
    h = node(g, name, mt_dot_attention_load(sd, "self_att", NULL, &l), &l, 2, (int[]){h, h});
    snprintf(name, sizeof name, "un_%s", t);
    h = node(g, name, mt_unit_norm_new(1, (int[]){-1}, &l), &l, 1, &h);
    snprintf(name, sizeof name, "gap_%s", t);
    h = node(g, name, mt_global_avg_pool1d_new(MT_MASK_MODE_NONE, &l), &l, 1, &h);
    snprintf(name, sizeof name, "proj_%s", t);
    return node(g, name, mt_linear_load(sd, "proj", NULL, &l), &l, 1, &h);
}

/* A Keras functional model of two towers and every merge
 * (make_keras_vector_refs.py's model()) against Keras' output. */
static void keras_model_matches(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int a, b;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "a", MT_DTYPE_F32, 2, (int64_t[]){6, 3}, &a));
    assert_ok(mt_graph_input(g, "b", MT_DTYPE_F32, 2, (int64_t[]){6, 3}, &b));
    int ta = tower(g, &sd, "a", a), tb = tower(g, &sd, "b", b);
    int cos = node(g, "cos", mt_dot_new(1, 1, true, &l), &l, 2, (int[]){ta, tb});
    int mx = node(g, "max", mt_maximum_new(&l), &l, 2, (int[]){ta, tb});
    int seq = node(g, "rep", mt_repeat_vector_new(3, &l), &l, 1, &mx);
    seq = node(g, "dec", mt_linear_load(&sd, "dec", NULL, &l), &l, 1, &seq);
    int diff = node(g, "sub", mt_subtract_new(&l), &l, 2, (int[]){ta, tb});
    diff = node(g, "dd", mt_linear_load(&sd, "dd", NULL, &l), &l, 1, &diff);
    int avg = node(g, "avg", mt_average_new(&l), &l, 2, (int[]){seq, diff});
    int y = node(g, "mul", mt_multiply_new(&l), &l, 2, (int[]){avg, cos});
    assert_ok(mt_graph_output(g, y));
    mt_tensor *xa = ref_get(refs, "model_a"), *xb = ref_get(refs, "model_b"), *want = ref_get(refs, "model_y");
    const mt_tensor *out = NULL;
    assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){xa, xb}, 1, &out));
    assert_int_equal(out->rank, 3);
    assert_int_equal(out->shape[0], want->shape[0]);
    assert_int_equal(out->shape[1], 3);
    assert_int_equal(out->shape[2], 2);
    assert_close((const float *)out->data, (const float *)want->data,
                 (size_t)mt_tensor_numel(want), 1e-5, 1e-5);
    mt_tensor_free(want);
    mt_tensor_free(xb);
    mt_tensor_free(xa);
    mt_graph_free(g);
}

/* Out of memory at every allocation while a model with every new layer is
 * loaded, built and run: MT_ERR_OUT_OF_MEMORY, nothing leaked. */
static void out_of_memory(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_tensor *q = ref_get(refs, "q"), *v = ref_get(refs, "v"), *k = ref_get(refs, "k"), *vm = ref_get(refs, "vm"), *qm = ref_get(refs, "qm");
    int failures = 0;
    bool ran = false;
    for (long n = 0; n < 1000 && !ran; n++) {
        alloc_probe probe;
        probe_install(&probe, n);
        mt_graph *g = NULL;
        mt_layer *l = NULL;
        int in[5], a, b, u, d, p, r;
        const mt_tensor *y = NULL;
        static const char *const names[5] = {"q", "v", "k", "vm", "qm"};
        static const int64_t dims[5][2] = {{4, 4}, {5, 6}, {5, 4}, {5}, {4}};
        mt_status s = mt_graph_new(&g);
        for (int j = 0; !s && j < 5; j++)
            s = mt_graph_input(g, names[j], j < 3 ? MT_DTYPE_F32 : MT_DTYPE_I32,
                               j < 3 ? 2 : 1, dims[j], &in[j]);
        const mt_keras_attention_options masked = {
            .has_key = true, .value_mask = MT_MASK_MODE_KEEP, .query_mask = MT_MASK_MODE_KEEP};
        if (!s && !(s = mt_additive_attention_load(&sd, "add_m", &masked, &l)) &&
            !(s = mt_graph_add(g, "add", l, 5, in, &a)) &&
            !(s = mt_dot_attention_load(&sd, "att_s", &masked, &l)) &&
            !(s = mt_graph_add(g, "dot", l, 5, in, &b)) &&
            !(s = mt_unit_norm_new(1, (int[]){-1}, &l)) &&
            !(s = mt_graph_add(g, "un", l, 1, &a, &u)) &&
            !(s = mt_dot_new(2, 2, true, &l)) &&
            !(s = mt_graph_add(g, "cos", l, 2, (int[]){u, b}, &d)) &&
            !(s = mt_global_avg_pool1d_new(MT_MASK_MODE_NONE, &l)) &&
            !(s = mt_graph_add(g, "pool", l, 1, &d, &p)) &&
            !(s = mt_repeat_vector_new(2, &l)) &&
            !(s = mt_graph_add(g, "rep", l, 1, &p, &r)) &&
            !(s = mt_average_new(&l)) &&
            !(s = mt_graph_add(g, "avg", l, 2, (int[]){r, p}, &r)) &&
            !(s = mt_graph_output(g, r)))
            s = mt_graph_forward(g, 5, (const mt_tensor *[]){q, v, k, vm, qm}, 1, &y);
        mt_graph_free(g);
        probe_remove();
        assert_int_equal(probe.live, 0);
        ran = s == MT_OK;
        if (!ran)
            assert_int_equal(s, MT_ERR_OUT_OF_MEMORY);
        failures += !ran;
    }
    assert_true(ran);   // the model ran within the allocations tried
    assert_true(failures > 10);
    probe_install(&counter, -1);
    mt_tensor_free(qm);
    mt_tensor_free(vm);
    mt_tensor_free(k);
    mt_tensor_free(v);
    mt_tensor_free(q);
}

/* Layer l (freed with the graph), on graph inputs of the given sample
 * shapes (rank-1 dims each, ranks[j]) and dtypes, fails with status and a
 * message holding needle. */
static void refuses(mt_layer *l, int n, const int *ranks, const int64_t dims[][3],
                    const mt_dtype *dtypes, mt_status status, const char *needle)
{
    mt_graph *g = NULL;
    int ids[6], y = -7;
    assert_ok(mt_graph_new(&g));
    for (int j = 0; j < n; j++) {
        char name[8];
        snprintf(name, sizeof name, "in%d", j);
        assert_ok(mt_graph_input(g, name, dtypes ? dtypes[j] : MT_DTYPE_F32, ranks[j],
                                 dims[j], &ids[j]));
    }
    assert_fails(mt_graph_add(g, "l", l, n, ids, &y), status, needle);
    mt_graph_free(g);
}

static void errors_named(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    const mt_state_dict torch = {refs, MT_FRAMEWORK_PYTORCH};
    mt_layer *l = NULL;
    const int r2[] = {2, 2, 2};
    /* NULL out and bad options */
    assert_fails(mt_dot_attention_new(1, 1, NULL, NULL), MT_ERR_INVALID_ARGUMENT,
                 "dot_attention: out is NULL");
    assert_fails(mt_additive_attention_new(NULL, NULL, NULL), MT_ERR_INVALID_ARGUMENT,
                 "additive_attention: out is NULL");
    assert_fails(mt_repeat_vector_new(2, NULL), MT_ERR_INVALID_ARGUMENT,
                 "repeat_vector: out is NULL");
    assert_fails(mt_unit_norm_new(1, (int[]){1}, NULL), MT_ERR_INVALID_ARGUMENT,
                 "unit_norm: out is NULL");
    assert_fails(mt_dot_attention_load(&sd, "att_s", NULL, NULL), MT_ERR_INVALID_ARGUMENT,
                 "dot_attention_load: out is NULL");
    l = (mt_layer *)&counter;   /* reset on failure */
    assert_fails(mt_dot_attention_new(NAN, 1, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "dot_attention: scale nan");
    assert_null(l);
    assert_fails(mt_dot_attention_new(1, 1, &(mt_keras_attention_options){
                     .value_mask = MT_MASK_MODE_ADD}, &l), MT_ERR_INVALID_ARGUMENT,
                 "masks must be NONE, KEEP or IGNORE");
    assert_fails(mt_dot_attention_new(1, 1, &(mt_keras_attention_options){
                     .score_mode = (mt_score_mode)7}, &l), MT_ERR_INVALID_ARGUMENT,
                 "score_mode DOT or CONCAT");
    assert_fails(mt_additive_attention_new(NULL, &(mt_keras_attention_options){
                     .score_mode = MT_SCORE_MODE_CONCAT}, &l), MT_ERR_INVALID_ARGUMENT,
                 "additive_attention: score_mode 1: AdditiveAttention has one score");
    assert_null(l);
    mt_tensor *s2 = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 2}, &s2));
    assert_fails(mt_additive_attention_new(s2, NULL, &l), MT_ERR_SHAPE,
                 "additive_attention: scale  must be [dim], is rank 2");
    mt_tensor_free(s2);
    assert_fails(mt_repeat_vector_new(0, &l), MT_ERR_INVALID_ARGUMENT,
                 "repeat_vector: n 0, expected >= 1");
    assert_fails(mt_unit_norm_new(0, (int[]){1}, &l), MT_ERR_INVALID_ARGUMENT,
                 "unit_norm: 0 axes, expected 1 to");
    assert_fails(mt_unit_norm_new(1, NULL, &l), MT_ERR_INVALID_ARGUMENT, "(NULL)");
    assert_fails(mt_unit_norm_new(2, (int[]){1, 0}, &l), MT_ERR_INVALID_ARGUMENT,
                 "unit_norm: axis 0: each must be a dim other than the batch");
    /* the loaders: missing or mismatched variables, the framework */
    assert_fails(mt_dot_attention_load(&sd, "att_plain", NULL, &l), MT_ERR_NOT_FOUND,
                 "att_plain/scale");
    assert_fails(mt_dot_attention_load(&sd, "att_c", NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "att_c/concat_score_weight is in the file: the layer has "
                 "score_mode=\"concat\"");
    assert_fails(mt_dot_attention_load(&sd, "att_s", &(mt_keras_attention_options){
                     .score_mode = MT_SCORE_MODE_CONCAT}, &l), MT_ERR_NOT_FOUND,
                 "att_s/concat_score_weight");
    assert_fails(mt_dot_attention_load(&sd, "add_s", NULL, &l), MT_ERR_SHAPE,
                 "dot_attention add_s: add_s/scale [4]: expected one number");
    assert_fails(mt_additive_attention_load(&sd, "att_x", NULL, &l), MT_ERR_NOT_FOUND,
                 "att_x/scale");
    assert_fails(mt_additive_attention_load(&torch, "add_s", NULL, &l), MT_ERR_UNSUPPORTED,
                 "reads Keras' variables");
    assert_null(l);
    /* inputs: count, rank, dtype, key and mask shapes */
    assert_ok(mt_dot_attention_new(1, 1, NULL, &l));
    refuses(l, 3, r2, (const int64_t[][3]){{4, 4}, {5, 4}, {5, 4}}, NULL, MT_ERR_SHAPE,
            "expects 2 inputs (query, value), given 3");
    assert_ok(mt_dot_attention_new(1, 1, &(mt_keras_attention_options){
                  .has_key = true, .value_mask = MT_MASK_MODE_KEEP}, &l));
    refuses(l, 2, r2, (const int64_t[][3]){{4, 4}, {5, 4}}, NULL, MT_ERR_SHAPE,
            "expects 4 inputs (query, value, key, value mask), given 2");
    assert_ok(mt_dot_attention_new(1, 1, NULL, &l));
    refuses(l, 2, (const int[]){2, 1}, (const int64_t[][3]){{4, 4}, {5}}, NULL, MT_ERR_SHAPE,
            "expects F32 [N,T,dim] query, value and key, input 'in1' gives F32 [1,5]");
    assert_ok(mt_additive_attention_new(NULL, NULL, &l));
    refuses(l, 2, r2, (const int64_t[][3]){{4, 4}, {5, 4}},
            (const mt_dtype[]){MT_DTYPE_F32, MT_DTYPE_F16}, MT_ERR_DTYPE,
            "input 'in1' gives F16 [1,5,4]");
    assert_ok(mt_dot_attention_new(1, 1, &(mt_keras_attention_options){.has_key = true}, &l));
    refuses(l, 3, r2, (const int64_t[][3]){{4, 4}, {5, 6}, {4, 4}}, NULL, MT_ERR_SHAPE,
            "expects a key [N,Tv,dim] for the query [N,Tq,dim] and the value [N,Tv,vdim], "
            "input 'in0' gives [1,4,4], input 'in1' gives [1,5,6], the key input 'in2' "
            "gives [1,4,4]");
    assert_ok(mt_dot_attention_new(1, 1, NULL, &l));
    refuses(l, 2, r2, (const int64_t[][3]){{4, 3}, {5, 4}}, NULL, MT_ERR_SHAPE,
            "input 'in0' gives [1,4,3], input 'in1' gives [1,5,4]");
    assert_ok(mt_dot_attention_new(1, 1, &(mt_keras_attention_options){
                  .value_mask = MT_MASK_MODE_KEEP, .query_mask = MT_MASK_MODE_IGNORE}, &l));
    refuses(l, 4, (const int[]){2, 2, 1, 1}, (const int64_t[][3]){{4, 4}, {5, 4}, {5}, {5}},
            (const mt_dtype[]){MT_DTYPE_F32, MT_DTYPE_F32, MT_DTYPE_BOOL, MT_DTYPE_BOOL},
            MT_ERR_SHAPE, "expects a query mask [N,Tq] = [1,4], input 'in3' gives [1,5]");
    mt_tensor *sc = ref_get(refs, "add_s/scale");
    assert_ok(mt_additive_attention_new(sc, NULL, &l));
    mt_tensor_free(sc);   /* the layer holds its own reference */
    refuses(l, 2, r2, (const int64_t[][3]){{4, 3}, {5, 3}}, NULL, MT_ERR_SHAPE,
            "expects dim 4 (its scale add_s/scale [4]), input 'in0' gives [1,4,3]");
    /* RepeatVector, UnitNormalization */
    assert_ok(mt_repeat_vector_new(3, &l));
    refuses(l, 1, r2, (const int64_t[][3]){{4, 4}}, NULL, MT_ERR_SHAPE,
            "expects F32 [N,D], input 'in0' gives F32 [1,4,4]");
    assert_ok(mt_repeat_vector_new(3, &l));   /* the dtype as such (was MT_ERR_SHAPE) */
    refuses(l, 1, (const int[]){1}, (const int64_t[][3]){{4}}, (const mt_dtype[]){MT_DTYPE_I32},
            MT_ERR_DTYPE, "expects F32 [N,D], input 'in0' gives I32 [1,4]");
    assert_ok(mt_repeat_vector_new(INT64_MAX / 2, &l));
    refuses(l, 1, (const int[]){1}, (const int64_t[][3]){{4}}, NULL, MT_ERR_SHAPE,
            "repeats of input 'in0' [1,4] overflow");
    assert_ok(mt_unit_norm_new(1, (int[]){-3}, &l));
    refuses(l, 1, r2, (const int64_t[][3]){{4, 4}}, NULL, MT_ERR_SHAPE,
            "its axes must be distinct dims of input 'in0' [1,4,4] other than the batch");
    assert_ok(mt_unit_norm_new(2, (int[]){2, -1}, &l));
    refuses(l, 1, r2, (const int64_t[][3]){{4, 4}}, NULL, MT_ERR_SHAPE, "distinct dims");
    assert_ok(mt_unit_norm_new(1, (int[]){1}, &l));
    refuses(l, 1, r2, (const int64_t[][3]){{4, 4}}, (const mt_dtype[]){MT_DTYPE_I32},
            MT_ERR_DTYPE, "expects F32, input 'in0' gives I32");
}

/* A graph: Attention(q [N,1,1], v [N,Tv,1], value mask [N,Tv]). */
static mt_graph *masked_attention(int64_t tv)
{
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int q, v, m, y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "q", MT_DTYPE_F32, 2, (int64_t[]){1, 1}, &q));
    assert_ok(mt_graph_input(g, "v", MT_DTYPE_F32, 2, (int64_t[]){tv, 1}, &v));
    assert_ok(mt_graph_input(g, "m", MT_DTYPE_I32, 1, &tv, &m));
    assert_ok(mt_dot_attention_new(1, 1, &(mt_keras_attention_options){
                                       .value_mask = MT_MASK_MODE_KEEP}, &l));
    assert_ok(mt_graph_add(g, "att", l, 3, (int[]){q, v, m}, &y));
    assert_ok(mt_graph_output(g, y));
    return g;
}

/* The scratch of an attention with masks ([N,Tv] and [N,Tq] as F32) is
 * counted without overflow: N = 16 and a value mask of Tv = 2^60 need 2^66
 * bytes, refused by the planner (was N·Tv in int64: a signed overflow that
 * wrapped to 0 and planned 2^62 bytes). */
static void attention_scratch_overflow_refused(void **state)
{
    (void)state;
    size_t bytes = 7;
    mt_graph *g = masked_attention((int64_t)1 << 60);
    assert_fails(mt_graph_bytes_needed(g, 16, &bytes), MT_ERR_OVERFLOW,
                 "graph: the workspace for a batch of 16 overflows size_t");
    mt_graph_free(g);
    /* on 64 bits, Tv = 2^59 for one sample fits: 2^59 scores and 2^59 mask
     * entries, 2^62 bytes */
    if (sizeof(size_t) == 8) {
        g = masked_attention((int64_t)1 << 59);
        assert_ok(mt_graph_bytes_needed(g, 1, &bytes));
        assert_true(bytes >= (size_t)1 << 62 && bytes < ((size_t)1 << 62) + 4096);
        mt_graph_free(g);
    }
}

/* A graph of the merges, attentions and vector layers with constants:
 * x [N,16,64], z [N,64], value mask m [N,16]; a1 = Add(z, x) (the lower rank
 * first: written through its broadcast), mu = Multiply(a1, constant
 * [1,1,64]), at = Attention(mu, mu, m) (causal, the same node as query and
 * value), d = Dot(at, at) normalized, rv = RepeatVector(UnitNorm(z)),
 * Concat(rv, at, d) [N,16,144], then ReLU(constant [1,144] - it). */
static mt_graph *passes_graph(void)
{
    enum { T = 16, C = 64, W = 144 };
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, z, m, c, c2, a1, mu, at, d, un, rv, cat, s, r;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){T, C}, &x));
    assert_ok(mt_graph_input(g, "z", MT_DTYPE_F32, 1, (int64_t[]){C}, &z));
    assert_ok(mt_graph_input(g, "m", MT_DTYPE_F32, 1, (int64_t[]){T}, &m));
    mt_tensor *ct = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){1, 1, C}, &ct));
    for (int i = 0; i < C; i++)
        ((float *)ct->data)[i] = 0.5f + 0.01f * (float)i;
    assert_ok(mt_graph_constant(g, "c", ct, &c));
    mt_tensor_free(ct);
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){1, W}, &ct));
    for (int i = 0; i < W; i++)
        ((float *)ct->data)[i] = 0.2f - 0.003f * (float)i;
    assert_ok(mt_graph_constant(g, "c2", ct, &c2));
    mt_tensor_free(ct);
    assert_ok(mt_add_new(&l));
    assert_ok(mt_graph_add(g, "a1", l, 2, (int[]){z, x}, &a1));
    assert_ok(mt_multiply_new(&l));
    assert_ok(mt_graph_add(g, "mu", l, 2, (int[]){a1, c}, &mu));
    assert_ok(mt_dot_attention_new(0.3f, 1, &(mt_keras_attention_options){
                                       .value_mask = MT_MASK_MODE_KEEP, .causal = true}, &l));
    assert_ok(mt_graph_add(g, "at", l, 3, (int[]){mu, mu, m}, &at));
    assert_ok(mt_dot_new(2, 2, true, &l));
    assert_ok(mt_graph_add(g, "d", l, 2, (int[]){at, at}, &d));
    assert_ok(mt_unit_norm_new(1, (int[]){-1}, &l));
    assert_ok(mt_graph_add(g, "un", l, 1, &z, &un));
    assert_ok(mt_repeat_vector_new(T, &l));
    assert_ok(mt_graph_add(g, "rv", l, 1, &un, &rv));
    assert_ok(mt_concat_new(-1, &l));
    assert_ok(mt_graph_add(g, "cat", l, 3, (int[]){rv, at, d}, &cat));
    assert_ok(mt_subtract_new(&l));
    assert_ok(mt_graph_add(g, "s", l, 2, (int[]){c2, cat}, &s));
    assert_ok(mt_relu_new(&l));
    assert_ok(mt_graph_add(g, "r", l, 1, &s, &r));
    assert_ok(mt_graph_output(g, r));
    return g;
}

/* None of these layers mixes samples: a batch of 300 that the planner runs
 * in passes (18688 bytes of outputs per sample, at most 2 MiB a pass: 112 +
 * 112 + 76, the last shorter) gives each sample what it gives alone, also
 * frozen. */
static void layers_in_passes_as_one_sample(void **state)
{
    (void)state;
    enum { N = 300, T = 16, C = 64 };
    mt_tensor *x = NULL, *z = NULL, *m = NULL, *all = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){N, T, C}, &x));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){N, C}, &z));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){N, T}, &m));
    for (int i = 0; i < N * T * C; i++)
        ((float *)x->data)[i] = 0.5f * sinf(0.37f * (float)i);
    for (int i = 0; i < N * C; i++)
        ((float *)z->data)[i] = 0.5f * cosf(0.23f * (float)i);
    for (int i = 0; i < N * T; i++)
        ((float *)m->data)[i] = (float)(i % 3 != 0);
    mt_graph *g = passes_graph(), *one = passes_graph();
    size_t b1 = 0, bn = 0;
    assert_ok(mt_graph_bytes_needed(g, 1, &b1));
    assert_ok(mt_graph_bytes_needed(g, N, &bn));
    assert_true(bn < (size_t)N * b1 * 3 / 4);   /* in passes: not N samples' outputs */
    for (int frozen = 0; frozen < 2; frozen++) {
        const mt_tensor *out = NULL;
        if (frozen)
            assert_ok(mt_graph_freeze(g));
        assert_ok(mt_graph_forward(g, 3, (const mt_tensor *[]){x, z, m}, 1, &out));
        assert_int_equal(out->shape[0], N);
        assert_ok(mt_tensor_contiguous(out, &all));
        const int64_t per = mt_tensor_numel(all) / N;
        for (int64_t b = 0; b < N; b++) {
            mt_tensor xs, zs, ms;
            assert_ok(mt_narrow_into(x, 0, b, 1, &xs));
            assert_ok(mt_narrow_into(z, 0, b, 1, &zs));
            assert_ok(mt_narrow_into(m, 0, b, 1, &ms));
            assert_ok(mt_graph_forward(one, 3, (const mt_tensor *[]){&xs, &zs, &ms}, 1, &out));
            assert_close((const float *)out->data, (const float *)all->data + b * per,
                         (size_t)per, 1e-6, 1e-6);
        }
        mt_tensor_free(all);
    }
    mt_graph_free(one);
    mt_graph_free(g);
    mt_tensor_free(m);
    mt_tensor_free(z);
    mt_tensor_free(x);
}

int main(void)
{
    probe_install(&counter, -1);
    if (mt_safetensors_open(REFS_DIR "/keras_vector.safetensors", &refs)) {
        fprintf(stderr, "%s\n", mt_last_error());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attention_matches_keras),
        cmocka_unit_test(additive_attention_matches_keras),
        cmocka_unit_test(query_mask_keeps_nan_as_keras),
        cmocka_unit_test(vector_layers_match_keras),
        cmocka_unit_test(keras_model_matches),
        cmocka_unit_test(empty_batch),
        cmocka_unit_test(errors_named),
        cmocka_unit_test(out_of_memory),
        cmocka_unit_test(attention_scratch_overflow_refused),
        cmocka_unit_test(layers_in_passes_as_one_sample),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mt_safetensors_close(refs);
    return failed;
}
