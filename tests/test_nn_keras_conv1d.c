/* test_nn_keras_conv1d.c — Keras 3's Conv1DTranspose, DepthwiseConv1D and
 * SeparableConv1D loaded by their variable paths, a Sequential of them,
 * Dense on rank-3/4 inputs, TimeDistributed(Dense), TimeDistributed(Conv2D)
 * (contiguous and sliced steps), CenterCrop, EinsumDense and grouped
 * Conv1D/Conv2D, against Keras' own outputs
 * (reference/make_keras_conv1d_refs.py -> keras_conv1d.safetensors); and
 * the errors. */
#include "test_util.h"

static mt_safetensors *refs;
static alloc_probe counter;   /* every allocation, installed by main */

/* The chain of n layers ls (made by `made`; the graph frees them) on x, a
 * graph input of its shape, gives refs' `want` within tol; a second pass
 * allocates nothing and gives it again. */
static void chain(mt_status made, int n, mt_layer **ls, const mt_tensor *x, const char *want,
                  double tol)
{
    if (made)
        fail_msg("%s: %s", want, mt_last_error());
    mt_graph *g = NULL;
    int y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, x->rank - 1, x->shape + 1, &y));
    for (int i = 0; i < n; i++) {
        char name[8];
        snprintf(name, sizeof name, "l%d", i);
        if (mt_graph_add(g, name, ls[i], 1, &y, &y))
            fail_msg("%s: %s", want, mt_last_error());
    }
    assert_ok(mt_graph_output(g, y));
    const mt_tensor *out = NULL;
    assert_ok(mt_graph_forward(g, 1, &x, 1, &out));
    mt_tensor *w = ref_get(refs, want);
    assert_int_equal(out->rank, w->rank);
    for (int d = 0; d < w->rank; d++)
        assert_int_equal(out->shape[d], w->shape[d]);
    assert_close((const float *)out->data, (const float *)w->data,
                 (size_t)mt_tensor_numel(w), tol, tol);
    long before = counter.allocations;
    assert_ok(mt_graph_forward(g, 1, &x, 1, &out));
    assert_int_equal(counter.allocations, before);
    assert_close((const float *)out->data, (const float *)w->data,
                 (size_t)mt_tensor_numel(w), tol, tol);   // the reused buffers, again
    mt_tensor_free(w);
    mt_graph_free(g);
}

static const mt_state_dict keras = {NULL, MT_FRAMEWORK_KERAS};

static void conv1d_transpose_matches_keras(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(refs, "x");
    const mt_conv2d_transpose_options o[] = {
        {.kernel_w = 3},
        {.stride_w = 2, .padding = MT_PADDING_SAME},
        {.stride_w = 2, .in_channels = 4, .out_channels = 3},
        {.stride_w = 3},
        {.padding = MT_PADDING_SAME, .dilation_w = 2},
        {.padding = MT_PADDING_SAME},   /* k 4: the odd step cropped at the end */
        {.stride_w = 2, .padding = MT_PADDING_SAME, .has_output_padding = true,
         .output_padding_w = 1},
        {.stride_w = 3, .has_output_padding = true, .output_padding_w = 2},
        {.stride_w = 2, .padding = MT_PADDING_SAME, .has_output_padding = true},
    };
    for (int i = 0; i < 9; i++) {
        char p[8], y[8];
        snprintf(p, sizeof p, "ct%d", i);
        snprintf(y, sizeof y, "y_ct%d", i);
        mt_layer *l = NULL;
        chain(mt_conv1d_transpose_load(&sd, p, &o[i], &l), 1, &l, x, y, 1e-5);
    }
    mt_tensor_free(x);
}

static void depthwise_conv1d_matches_keras(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(refs, "x");
    const mt_conv2d_options o[] = {
        {.kernel_w = 3},
        {.stride_w = 2, .padding = MT_PADDING_SAME},
        {.padding = MT_PADDING_SAME, .dilation_w = 2, .out_channels = 12},
        {.stride_w = 2, .act = MT_ACTIVATION_RELU},
    };
    for (int i = 0; i < 4; i++) {
        char p[8], y[8];
        snprintf(p, sizeof p, "dw%d", i);
        snprintf(y, sizeof y, "y_dw%d", i);
        mt_layer *l = NULL;
        chain(mt_depthwise_conv1d_load(&sd, p, &o[i], &l), 1, &l, x, y, 1e-5);
    }
    mt_tensor_free(x);
}

static void separable_conv1d_matches_keras(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(refs, "x");
    const mt_conv2d_options o[] = {
        {.stride_w = 2, .padding = MT_PADDING_SAME, .act = MT_ACTIVATION_RELU,
         .out_channels = 5},
        {.dilation_w = 2, .kernel_w = 3},
        {0},
    };
    for (int i = 0; i < 3; i++) {
        char p[8], y[8];
        snprintf(p, sizeof p, "sc%d", i);
        snprintf(y, sizeof y, "y_sc%d", i);
        mt_layer *ls[2] = {0};
        chain(mt_separable_conv1d_load(&sd, p, &o[i], &ls[0], &ls[1]), 2, ls, x, y, 1e-5);
    }
    mt_tensor_free(x);
}

/* Keras' Sequential of the three, then Dense(2) on [N,L,4], as a
 * minitensor Sequential by the "seq1d/…" paths */
static void sequential_matches_keras(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(refs, "x"), *want = ref_get(refs, "y_seq1d");
    mt_sequential *m = NULL;
    mt_layer *dw = NULL, *pw = NULL, *l = NULL;
    assert_ok(mt_sequential_new(2, (int64_t[]){7, 4}, &m));
    assert_ok(mt_separable_conv1d_load(&sd, "seq1d/sep",
                                       &(mt_conv2d_options){.padding = MT_PADDING_SAME}, &dw,
                                       &pw));
    assert_ok(mt_sequential_add(m, dw));
    assert_ok(mt_sequential_add(m, pw));
    assert_ok(mt_depthwise_conv1d_load(&sd, "seq1d/dw", &(mt_conv2d_options){.stride_w = 2},
                                       &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_conv1d_transpose_load(&sd, "seq1d/ct",
                                       &(mt_conv2d_transpose_options){
                                           .stride_w = 2, .padding = MT_PADDING_SAME},
                                       &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_linear_load(&sd, "seq1d/head", NULL, &l));
    assert_ok(mt_sequential_add(m, l));
    const mt_tensor *y = NULL;
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_int_equal(y->rank, 3);
    assert_int_equal(y->shape[0], want->shape[0]);
    assert_int_equal(y->shape[1], 6);
    assert_int_equal(y->shape[2], 2);
    assert_close((const float *)y->data, (const float *)want->data,
                 (size_t)mt_tensor_numel(want), 1e-5, 1e-5);
    mt_sequential_free(m);
    mt_tensor_free(want);
    mt_tensor_free(x);
}

/* Dense takes any rank (the last dim); TimeDistributed(Dense) is the same
 * Dense; TimeDistributed(Conv2D) on videos [N,T,H,W,C] folds the steps */
static void time_distributed_matches_keras(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_tensor *xt = ref_get(refs, "xt"), *xi = ref_get(refs, "xi"), *xv = ref_get(refs, "xv");
    mt_layer *ls[3] = {0};
    chain(mt_linear_load(&sd, "dense3", NULL, &ls[0]), 1, ls, xt, "y_dense3", 1e-5);
    chain(mt_linear_load(&sd, "dense3", NULL, &ls[0]), 1, ls, xi, "y_dense4", 1e-5);
    chain(mt_linear_load(&sd, "td_dense/tdd", &(mt_linear_options){.act = MT_ACTIVATION_TANH},
                         &ls[0]),
          1, ls, xt, "y_td_dense", 1e-5);
    const mt_conv2d_options co = {.stride_h = 2, .stride_w = 2, .padding = MT_PADDING_SAME,
                                  .act = MT_ACTIVATION_RELU};
    mt_layer *c = NULL;
    assert_ok(mt_conv2d_load(&sd, "td_conv/tdc", &co, &c));
    chain(mt_time_distributed_new(c, &ls[0]), 1, ls, xv, "y_td_conv", 1e-5);
    /* TimeDistributed(Conv2D), TimeDistributed(Flatten()), Dense */
    assert_ok(mt_conv2d_load(&sd, "td_model/tc/c", NULL, &c));
    assert_ok(mt_time_distributed_new(c, &ls[0]));
    assert_ok(mt_flatten_new(2, -1, &ls[1]));
    chain(mt_linear_load(&sd, "td_model/head", NULL, &ls[2]), 3, ls, xv, "y_td_model", 1e-5);
    /* the steps sliced out of [2,4,…]: not one stride apart, folded from a copy */
    mt_tensor *big = NULL, v;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 5, (int64_t[]){2, 4, 5, 6, 2}, &big));
    assert_ok(mt_narrow_into(big, 1, 1, 3, &v));
    assert_ok(mt_tensor_copy_into(xv, &v));
    assert_int_not_equal(v.stride[0], v.stride[1] * v.shape[1]);
    assert_ok(mt_conv2d_load(&sd, "td_conv/tdc", &co, &c));
    chain(mt_time_distributed_new(c, &ls[0]), 1, ls, &v, "y_td_conv", 1e-5);
    mt_tensor_free(big);
    mt_tensor_free(xv);
    mt_tensor_free(xi);
    mt_tensor_free(xt);
}

/* a video classifier: TimeDistributed Conv2D, MaxPooling2D and Flatten,
 * then LSTM and Dense, by the Sequential's variable paths */
static void cnn_lstm_matches_keras(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_tensor *xv = ref_get(refs, "xv");
    mt_layer *ls[5] = {0}, *c = NULL;
    assert_ok(mt_conv2d_load(&sd, "cnnlstm/tc/c", &(mt_conv2d_options){
                                                      .act = MT_ACTIVATION_RELU}, &c));
    assert_ok(mt_time_distributed_new(c, &ls[0]));
    assert_ok(mt_max_pool2d_new(&(mt_max_pool2d_options){.pool_h = 2, .pool_w = 2}, &c));
    assert_ok(mt_time_distributed_new(c, &ls[1]));
    assert_ok(mt_flatten_new(2, -1, &ls[2]));
    assert_ok(mt_lstm_load(&sd, "cnnlstm/lstm",
                           &(mt_rnn_options){.output = MT_RNN_RETURN_FINAL_STATE}, &ls[3]));
    chain(mt_linear_load(&sd, "cnnlstm/head", NULL, &ls[4]), 5, ls, xv, "y_cnnlstm", 1e-5);
    mt_tensor_free(xv);
}

/* CenterCrop(h, w) on [N,H,W,C]: top (H - h) / 2 rows, left (W - w) / 2
 * columns dropped (rounded down), the rest at the bottom and right */
static void center_crop_matches_keras(void **state)
{
    (void)state;
    mt_tensor *xc = ref_get(refs, "xc"), *xc2 = ref_get(refs, "xc2");
    mt_layer *l = NULL;
    /* 7x8 -> 4x5: rows 1 + 2, columns 1 + 2 */
    chain(mt_pad_new(6, (int64_t[]){0, 0, -1, -2, -1, -2}, MT_PAD_CONSTANT, 0, &l), 1, &l,
          xc, "y_crop", 0);
    /* 6x5 -> 3x3: rows 1 + 2, columns 1 + 1 */
    chain(mt_pad_new(6, (int64_t[]){0, 0, -1, -1, -1, -2}, MT_PAD_CONSTANT, 0, &l), 1, &l,
          xc2, "y_crop2", 0);
    /* or mt_narrow_new twice */
    mt_layer *ls[2] = {0};
    assert_ok(mt_narrow_new(1, 1, 4, &ls[0]));
    chain(mt_narrow_new(2, 1, 5, &ls[1]), 2, ls, xc, "y_crop", 0);
    mt_tensor_free(xc2);
    mt_tensor_free(xc);
}

static void einsum_dense_matches_keras(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_tensor *x2 = ref_get(refs, "x2"), *xt = ref_get(refs, "xt_e"), *xe = ref_get(refs, "xe"), *xi = ref_get(refs, "xi_e");
    mt_layer *l = NULL;
    chain(mt_einsum_dense_load(&sd, "e0", "ab,bc->ac", MT_ACTIVATION_NONE, &l), 1, &l, x2,
          "y_e0", 1e-5);
    chain(mt_einsum_dense_load(&sd, "e1", "abc,cd->abd", MT_ACTIVATION_RELU, &l), 1, &l, xt,
          "y_e1", 1e-5);
    chain(mt_einsum_dense_load(&sd, "e2", "abc,cde->abde", MT_ACTIVATION_NONE, &l), 1, &l, xt,
          "y_e2", 1e-5);
    /* bias_axes "d": a bias [2,1] broadcast over e */
    chain(mt_einsum_dense_load(&sd, "e3", "abc,cde->abde", MT_ACTIVATION_NONE, &l), 1, &l, xt,
          "y_e3", 1e-5);
    chain(mt_einsum_dense_load(&sd, "e4", "abde,def->abf", MT_ACTIVATION_NONE, &l), 1, &l, xe,
          "y_e4", 1e-5);
    chain(mt_einsum_dense_load(&sd, "e5", "...b,bc->...c", MT_ACTIVATION_NONE, &l), 1, &l, xi,
          "y_e5", 1e-5);
    /* xe's last two dims transposed from [2,4,3,2]: merged from a copy */
    mt_tensor *big = NULL, v;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){2, 4, 3, 2}, &big));
    assert_ok(mt_transpose_into(big, 2, 3, &v));
    assert_ok(mt_tensor_copy_into(xe, &v));
    chain(mt_einsum_dense_load(&sd, "e4", "abde,def->abf", MT_ACTIVATION_NONE, &l), 1, &l, &v,
          "y_e4", 1e-5);
    mt_tensor_free(big);
    /* the kernel a view that cannot be merged in place (a transposed copy
     * transposed back): copied, same values */
    mt_tensor *k = ref_get(refs, "e2/kernel"), *kb = ref_get(refs, "e2/bias"), *kt = NULL, *kc = NULL, *kv = NULL;
    assert_ok(mt_permute(k, (const int[]){2, 1, 0}, &kt));
    assert_ok(mt_tensor_contiguous(kt, &kc));
    assert_ok(mt_permute(kc, (const int[]){2, 1, 0}, &kv));
    assert_false(mt_tensor_is_contiguous(kv));
    chain(mt_einsum_dense_new(kv, kb, "abc,cde->abde", MT_ACTIVATION_NONE, &l), 1, &l, xt,
          "y_e2", 1e-5);
    mt_tensor_free(kv);
    mt_tensor_free(kc);
    mt_tensor_free(kt);
    mt_tensor_free(kb);
    mt_tensor_free(k);
    mt_tensor_free(xi);
    mt_tensor_free(xe);
    mt_tensor_free(xt);
    mt_tensor_free(x2);
}

static void einsum_dense_errors(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    const mt_state_dict torch = {refs, MT_FRAMEWORK_PYTORCH};
    mt_layer *l = (mt_layer *)&counter;
    long live = counter.live;
    assert_fails(mt_einsum_dense_load(&sd, "e2", NULL, MT_ACTIVATION_NONE, &l),
                 MT_ERR_INVALID_ARGUMENT, "einsum_dense: equation is NULL");
    assert_null(l);
    assert_fails(mt_einsum_dense_load(&torch, "e2", "abc,cde->abde", MT_ACTIVATION_NONE, &l),
                 MT_ERR_UNSUPPORTED, "einsum_dense_load e2: Keras only");
    assert_fails(mt_einsum_dense_load(&sd, "e2", "abc,cde->abde", (mt_activation)-1, &l),
                 MT_ERR_INVALID_ARGUMENT, "einsum_dense e2/kernel: unknown activation -1");
    assert_null(l);
    assert_fails(mt_einsum_dense_load(&sd, "e2", "abc;cde->abde", MT_ACTIVATION_NONE, &l),
                 MT_ERR_INVALID_ARGUMENT, "einsum_dense e2/kernel: equation \"abc;cde->abde\": "
                 "expected \"<input>,<kernel>-><output>\"");
    assert_fails(mt_einsum_dense_load(&sd, "e2", "abb,bde->abde", MT_ACTIVATION_NONE, &l),
                 MT_ERR_INVALID_ARGUMENT, "each once per term");
    /* a transposing equation, the output in another order */
    assert_fails(mt_einsum_dense_load(&sd, "e2", "abc,cde->abed", MT_ACTIVATION_NONE, &l),
                 MT_ERR_UNSUPPORTED, "einsum_dense e2/kernel: equation \"abc,cde->abed\": only "
                 "a Dense over the input's last dims is supported");
    assert_fails(mt_einsum_dense_load(&sd, "e2", "abc,dce->abde", MT_ACTIVATION_NONE, &l),
                 MT_ERR_UNSUPPORTED, "only a Dense over the input's last dims");
    assert_fails(mt_einsum_dense_load(&sd, "e2", "abc,cd->abd", MT_ACTIVATION_NONE, &l),
                 MT_ERR_SHAPE, "einsum_dense e2/kernel: kernel e2/kernel [5,2,3] for \"cd\": "
                 "expected 2 dims");
    /* e2's bias [2,3] on e0's kernel [5,3]: does not broadcast */
    mt_tensor *k = ref_get(refs, "e0/kernel"), *b = ref_get(refs, "e2/bias");
    assert_fails(mt_einsum_dense_new(k, b, "ab,bc->ac", MT_ACTIVATION_NONE, &l), MT_ERR_SHAPE,
                 "einsum_dense e0/kernel: bias e2/bias [2,3] does not broadcast to the "
                 "kernel's output dims c of kernel e0/kernel [5,3]");
    mt_tensor_free(b);
    mt_tensor_free(k);
    assert_int_equal(counter.live, live);
    /* inputs: the rank and the dims the kernel contracts */
    assert_ok(mt_einsum_dense_load(&sd, "e2", "abc,cde->abde", MT_ACTIVATION_NONE, &l));
    mt_graph *g = NULL;
    int a, y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){4, 6}, &a));
    assert_fails(mt_graph_add(g, "e", l, 1, &a, &y), MT_ERR_SHAPE,
                 "expects F32 input of 3 dims ending in the kernel's [5], input 'x' gives F32 "
                 "[1,4,6]");
    assert_ok(mt_einsum_dense_load(&sd, "e5", "...b,bc->...c", MT_ACTIVATION_NONE, &l));
    assert_ok(mt_graph_input(g, "z", MT_DTYPE_F32, 1, (int64_t[]){4}, &a));
    assert_fails(mt_graph_add(g, "e5", l, 1, &a, &y), MT_ERR_SHAPE,
                 "expects F32 input of at least 2 dims ending in the kernel's [5]");
    mt_graph_free(g);
}

/* Keras' Conv1D and Conv2D with groups=: kernel [k, in/groups, out] */
static void grouped_conv_matches_keras(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(refs, "xg1"), *xg = ref_get(refs, "xg");
    mt_layer *l = NULL;
    chain(mt_conv1d_load(&sd, "g1", &(mt_conv2d_options){.groups = 2}, &l), 1, &l, x, "y_g1",
          1e-5);
    chain(mt_conv2d_load(&sd, "g2",
                         &(mt_conv2d_options){.groups = 3, .stride_h = 2, .stride_w = 2,
                                              .padding = MT_PADDING_SAME},
                         &l),
          1, &l, xg, "y_g2", 1e-5);
    mt_tensor_free(xg);
    mt_tensor_free(x);
}

static void errors_named(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    const mt_state_dict torch = {refs, MT_FRAMEWORK_PYTORCH};
    mt_layer *l = (mt_layer *)&counter, *pw = (mt_layer *)&counter;
    /* Conv1DTranspose */
    assert_fails(mt_conv1d_transpose_load(&sd, "ct0", NULL, NULL), MT_ERR_INVALID_ARGUMENT,
                 "conv1d_transpose_load: out is NULL");
    assert_fails(mt_conv1d_transpose_load(&keras, "ct0", NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "conv1d_transpose_load: NULL argument");
    assert_null(l);
    assert_fails(mt_conv1d_transpose_load(&torch, "ct0", NULL, &l), MT_ERR_UNSUPPORTED,
                 "conv1d_transpose_load ct0: Keras only (a PyTorch ConvTranspose1d is "
                 "mt_conv_transpose1d_load)");
    assert_fails(mt_conv_transpose1d_load(&sd, "ct0", NULL, &l), MT_ERR_UNSUPPORTED,
                 "a Keras Conv1DTranspose is mt_conv1d_transpose_load");
    assert_fails(mt_conv1d_transpose_load(&sd, "ct0",
                                          &(mt_conv2d_transpose_options){.stride_h = 2}, &l),
                 MT_ERR_INVALID_ARGUMENT, "conv1d_transpose_load ct0: the _h fields 0");
    assert_fails(mt_conv1d_transpose_load(&sd, "ct0",
                                          &(mt_conv2d_transpose_options){
                                              .stride_w = 2, .has_output_padding = true,
                                              .output_padding_w = 2},
                                          &l),
                 MT_ERR_INVALID_ARGUMENT, "output_padding 2 >= 0 and below the strides");
    assert_fails(mt_conv1d_transpose_load(&sd, "ct0",
                                          &(mt_conv2d_transpose_options){.in_channels = 3},
                                          &l),
                 MT_ERR_SHAPE, "conv1d_transpose ct0: kernel ct0/kernel [3,3,4], "
                 "expected [k, out, in] (Keras) with kernel 0, 0 out and 3 in channels");
    assert_fails(mt_conv1d_transpose_load(&sd, "td_conv/tdc", NULL, &l), MT_ERR_SHAPE,
                 "kernel td_conv/tdc/kernel [2,2,2,3], expected [k, out, in]");
    /* a dilation (or output_padding) whose padding would overflow int64 */
    assert_fails(mt_conv1d_transpose_load(&sd, "ct0",
                                          &(mt_conv2d_transpose_options){.dilation_w = INT64_MAX},
                                          &l),
                 MT_ERR_OVERFLOW, "conv1d_transpose ct0: kernel ct0/kernel [3,3,4] with "
                 "dilation 9223372036854775807 and output_padding 0: the dilated kernel "
                 "(plus output_padding) overflows");
    assert_null(l);
    assert_fails(mt_conv1d_transpose_load(&sd, "ct0",
                                          &(mt_conv2d_transpose_options){
                                              .stride_w = INT64_MAX, .has_output_padding = true,
                                              .output_padding_w = INT64_MAX - 1},
                                          &l),
                 MT_ERR_OVERFLOW, "ct0/kernel [3,3,4] with dilation 1 and output_padding "
                 "9223372036854775806: the dilated kernel (plus output_padding) overflows");
    assert_null(l);
    assert_fails(mt_conv2d_transpose_load(&sd, "td_model/tc/c",
                                          &(mt_conv2d_transpose_options){.dilation_w = INT64_MAX},
                                          &l),
                 MT_ERR_OVERFLOW, "conv2d_transpose td_model/tc/c: kernel td_model/tc/c/kernel "
                 "[3,3,2,2] with dilation (1,9223372036854775807) and output_padding (0,0): the "
                 "dilated kernel (plus output_padding) overflows");
    assert_null(l);
    /* the largest dilation that fits still loads (its run fails on the length) */
    assert_ok(mt_conv1d_transpose_load(&sd, "ct0",
                                       &(mt_conv2d_transpose_options){.dilation_w = INT64_MAX / 2},
                                       &l));
    mt_layer_free(l);
    assert_fails(mt_conv1d_transpose_load(&sd, "nope", NULL, &l), MT_ERR_NOT_FOUND, "nope/kernel");
    assert_null(l);
    /* the run: a [N,L,C] input of the kernel's channels */
    assert_ok(mt_conv1d_transpose_load(&sd, "ct0", NULL, &l));
    mt_graph *g = NULL;
    int id, y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){7, 5}, &id));
    assert_fails(mt_graph_add(g, "ct", l, 1, &id, &y), MT_ERR_SHAPE, "ct0/kernel");
    mt_graph_free(g);
    /* DepthwiseConv1D */
    l = (mt_layer *)&counter;
    assert_fails(mt_depthwise_conv1d_load(&torch, "dw0", NULL, &l), MT_ERR_UNSUPPORTED,
                 "depthwise_conv1d_load dw0: Keras only (a PyTorch depthwise conv is "
                 "mt_conv1d_load with .groups = its channels)");
    assert_null(l);
    assert_fails(mt_depthwise_conv1d_load(&sd, "sc0", NULL, &l), MT_ERR_UNSUPPORTED,
                 "depthwise_conv1d_load sc0: sc0/pointwise_kernel is in the file: a "
                 "SeparableConv1D is mt_separable_conv1d_load");
    assert_fails(mt_depthwise_conv1d_load(&sd, "dw0", &(mt_conv2d_options){.groups = 4}, &l),
                 MT_ERR_INVALID_ARGUMENT, "layout and groups come from the kernel");
    assert_fails(mt_depthwise_conv1d_load(&sd, "td_conv/tdc", NULL, &l), MT_ERR_SHAPE,
                 "depthwise_conv1d td_conv/tdc: kernel td_conv/tdc/kernel [2,2,2,3], "
                 "expected [k, channels, multiplier]");
    assert_fails(mt_depthwise_conv1d_load(&sd, "dw0", &(mt_conv2d_options){.stride_h = 2}, &l),
                 MT_ERR_INVALID_ARGUMENT, "the _h fields must be 0");
    /* SeparableConv1D */
    assert_fails(mt_separable_conv1d_load(&sd, "sc0", NULL, &l, NULL), MT_ERR_INVALID_ARGUMENT,
                 "separable_conv1d_load: out is NULL");
    assert_fails(mt_separable_conv1d_load(&sd, "sc0", NULL, &l, &l), MT_ERR_INVALID_ARGUMENT,
                 "separable_conv1d_load: depthwise_out and pointwise_out are the same "
                 "pointer");
    assert_fails(mt_separable_conv2d_load(&sd, "sc0", NULL, &l, &l), MT_ERR_INVALID_ARGUMENT,
                 "separable_conv2d_load: depthwise_out and pointwise_out are the same "
                 "pointer");
    assert_null(l);
    assert_fails(mt_separable_conv1d_load(&sd, "dw0", NULL, &l, &pw), MT_ERR_NOT_FOUND,
                 "dw0/depthwise_kernel");
    assert_null(l);
    assert_null(pw);
    assert_fails(mt_separable_conv1d_load(&sd, "sc0",
                                          &(mt_conv2d_options){.padding = MT_PADDING_EXPLICIT},
                                          &l, &pw),
                 MT_ERR_INVALID_ARGUMENT, "separable_conv1d_load sc0: layout and groups");
    /* filters that are not the pointwise kernel's: the depthwise step freed */
    assert_fails(mt_separable_conv1d_load(&sd, "sc0", &(mt_conv2d_options){.out_channels = 4},
                                          &l, &pw),
                 MT_ERR_SHAPE, "sc0/pointwise_kernel [1,8,5]");
    assert_null(l);
    assert_null(pw);
    /* the 2-D loaders name the 2-D layers, as before */
    assert_fails(mt_separable_conv2d_load(&torch, "sc0", NULL, &l, &pw), MT_ERR_UNSUPPORTED,
                 "separable_conv2d_load sc0: Keras only");
    assert_fails(mt_depthwise_conv2d_load(&sd, "dw0", NULL, &l), MT_ERR_SHAPE,
                 "depthwise_conv2d dw0: kernel dw0/kernel [3,4,2], expected [kh, kw, "
                 "channels, multiplier]");
}

static void time_distributed_errors(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_layer *l = (mt_layer *)&counter, *c = NULL;
    long live = counter.live;
    assert_fails(mt_time_distributed_new(NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "time_distributed: layer is NULL");
    assert_null(l);
    /* the layer is freed on failure (counted by the probe) */
    assert_ok(mt_conv2d_load(&sd, "td_conv/tdc", NULL, &c));
    assert_fails(mt_time_distributed_new(c, NULL), MT_ERR_INVALID_ARGUMENT,
                 "time_distributed: out is NULL");
    assert_ok(mt_flatten_new(1, -1, &c));
    assert_fails(mt_time_distributed_new(c, &l), MT_ERR_UNSUPPORTED,
                 "time_distributed: flatten is a view");
    /* a layer of any number of inputs is given one: Add says it wants more
     * when the model adds it (and frees it) */
    assert_ok(mt_add_new(&c));
    assert_ok(mt_time_distributed_new(c, &l));
    {
        mt_sequential *m = NULL;
        assert_ok(mt_sequential_new(2, (int64_t[]){3, 4}, &m));
        assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                     "add (on each step, as [3,4]): expects 2 or more inputs, given 1");
        mt_sequential_free(m);
    }
    assert_ok(mt_dot_new(1, 1, false, &c));
    assert_fails(mt_time_distributed_new(c, &l), MT_ERR_UNSUPPORTED, "takes 2 inputs");
    /* TimeDistributed(Dropout(r)): the Dropout itself, which a model runs
     * as the identity on [N,T,C] */
    assert_ok(mt_dropout_new(0.5f, &c));
    assert_ok(mt_time_distributed_new(c, &l));
    assert_ptr_equal(l, c);
    {
        mt_sequential *m = NULL;
        const mt_tensor *y = NULL;
        mt_tensor *x = ref_get(refs, "x2");   /* [N, 5] seen as [N, 1, 5] */
        mt_tensor v;
        assert_ok(mt_view_into(x, 3, (int64_t[]){x->shape[0], 1, x->shape[1]}, &v));
        assert_ok(mt_sequential_new(2, (int64_t[]){1, x->shape[1]}, &m));
        assert_ok(mt_sequential_add(m, l));
        assert_ok(mt_sequential_forward(m, &v, &y));
        assert_close((const float *)y->data, (const float *)x->data,
                     (size_t)mt_tensor_numel(x), 0.0, 0.0);
        mt_sequential_free(m);
        mt_tensor_free(x);
    }
    assert_int_equal(counter.live, live);
    /* inputs: 3 or more dims, the inner layer's check with the steps folded */
    assert_ok(mt_conv2d_load(&sd, "td_conv/tdc", NULL, &c));
    assert_ok(mt_time_distributed_new(c, &l));
    mt_graph *g = NULL;
    int a, b, y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "flat", MT_DTYPE_F32, 1, (int64_t[]){5}, &a));
    assert_ok(mt_graph_input(g, "thin", MT_DTYPE_F32, 4, (int64_t[]){3, 5, 6, 7}, &b));
    assert_fails(mt_graph_add(g, "td", l, 1, &a, &y), MT_ERR_SHAPE,
                 "expects steps [N,T,…] (3 or more dims), input 'flat' gives [1,5]");
    assert_ok(mt_conv2d_load(&sd, "td_conv/tdc", NULL, &c));   /* the graph freed l */
    assert_ok(mt_time_distributed_new(c, &l));
    assert_fails(mt_graph_add(g, "td", l, 1, &b, &y), MT_ERR_SHAPE,
                 "conv2d td_conv/tdc/kernel (on each step, as [3,5,6,7]): expects 2 input "
                 "channels");
    /* a layer in a model is refused and left to it */
    assert_ok(mt_conv2d_load(&sd, "td_conv/tdc", NULL, &c));
    assert_ok(mt_time_distributed_new(c, &l));
    assert_ok(mt_graph_input(g, "ok", MT_DTYPE_F32, 4, (int64_t[]){3, 5, 6, 2}, &b));
    assert_ok(mt_graph_add(g, "td", l, 1, &b, &y));
    mt_layer *l2 = NULL;
    assert_fails(mt_time_distributed_new(l, &l2), MT_ERR_INVALID_ARGUMENT,
                 "already belongs to a model");
    mt_graph_free(g);
    assert_int_equal(counter.live, live);
}

/* Out of memory at every allocation while a graph of the new layers is
 * loaded, planned and run: MT_ERR_OUT_OF_MEMORY, nothing leaked; the first
 * allocation count that suffices gives Keras' outputs. */
static void out_of_memory(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(refs, "x"), *xv = ref_get(refs, "xv"), *xt = ref_get(refs, "xt_e");
    mt_tensor *w1 = ref_get(refs, "y_seq1d"), *w2 = ref_get(refs, "y_td_conv"), *w3 = ref_get(refs, "y_e2");
    int failures = 0;
    bool ran = false;
    for (long n = 0; n < 2000 && !ran; n++) {
        alloc_probe probe;
        probe_install(&probe, n);
        mt_graph *g = NULL;
        mt_layer *l = NULL, *pw = NULL, *c = NULL;
        int in[3], a, b, e;
        const mt_tensor *y[3] = {0};
        mt_status s = mt_graph_new(&g);
        if (!s)
            s = mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){7, 4}, &in[0]);
        if (!s)
            s = mt_graph_input(g, "xv", MT_DTYPE_F32, 4, (int64_t[]){3, 5, 6, 2}, &in[1]);
        if (!s)
            s = mt_graph_input(g, "xt", MT_DTYPE_F32, 2, (int64_t[]){4, 5}, &in[2]);
        if (!s && !(s = mt_separable_conv1d_load(&sd, "seq1d/sep",
                                                 &(mt_conv2d_options){
                                                     .padding = MT_PADDING_SAME},
                                                 &l, &pw)) &&
            !(s = mt_graph_add(g, "dw", l, 1, &in[0], &a)))
            s = mt_graph_add(g, "pw", pw, 1, &a, &a);
        else
            mt_layer_free(pw);
        if (!s && !(s = mt_depthwise_conv1d_load(&sd, "seq1d/dw",
                                                 &(mt_conv2d_options){.stride_w = 2}, &l)))
            s = mt_graph_add(g, "dw2", l, 1, &a, &a);
        if (!s && !(s = mt_conv1d_transpose_load(&sd, "seq1d/ct",
                                                 &(mt_conv2d_transpose_options){
                                                     .stride_w = 2,
                                                     .padding = MT_PADDING_SAME},
                                                 &l)))
            s = mt_graph_add(g, "ct", l, 1, &a, &a);
        if (!s && !(s = mt_linear_load(&sd, "seq1d/head", NULL, &l)))
            s = mt_graph_add(g, "head", l, 1, &a, &a);
        if (!s && !(s = mt_conv2d_load(&sd, "td_conv/tdc",
                                       &(mt_conv2d_options){
                                           .stride_h = 2, .stride_w = 2,
                                           .padding = MT_PADDING_SAME,
                                           .act = MT_ACTIVATION_RELU},
                                       &c)) &&
            !(s = mt_time_distributed_new(c, &l)))
            s = mt_graph_add(g, "td", l, 1, &in[1], &b);
        if (!s && !(s = mt_einsum_dense_load(&sd, "e2", "abc,cde->abde", MT_ACTIVATION_NONE,
                                             &l)))
            s = mt_graph_add(g, "e2", l, 1, &in[2], &e);
        if (!s && !(s = mt_graph_output(g, a)) && !(s = mt_graph_output(g, b)) &&
            !(s = mt_graph_output(g, e)))
            s = mt_graph_forward(g, 3, (const mt_tensor *[]){x, xv, xt}, 3, y);
        if (s == MT_OK) {
            assert_close((const float *)y[0]->data, (const float *)w1->data,
                         (size_t)mt_tensor_numel(w1), 1e-5, 1e-5);
            assert_close((const float *)y[1]->data, (const float *)w2->data,
                         (size_t)mt_tensor_numel(w2), 1e-5, 1e-5);
            assert_close((const float *)y[2]->data, (const float *)w3->data,
                         (size_t)mt_tensor_numel(w3), 1e-5, 1e-5);
        }
        mt_graph_free(g);
        probe_remove();
        assert_int_equal(probe.live, 0);
        ran = s == MT_OK;
        if (!ran && s != MT_ERR_OUT_OF_MEMORY)   /* not a shape error of a failed allocation */
            fail_msg("allocation %ld: status %d: %s", n, (int)s, mt_last_error());
        failures += !ran;
    }
    assert_true(ran);   // the model ran (and matched Keras) within the allocations tried
    assert_true(failures > 10);
    probe_install(&counter, -1);
    mt_tensor_free(w3);
    mt_tensor_free(w2);
    mt_tensor_free(w1);
    mt_tensor_free(xt);
    mt_tensor_free(xv);
    mt_tensor_free(x);
}

/* TimeDistributed of layers whose other inputs are optional, run on their
 * one: an LSTM encoding each sentence of a document [N,S,W,E] -> [N,S,H],
 * a GlobalAveragePooling1D over each sentence's words; against Keras. */
static void time_distributed_optional_inputs(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_tensor *xh = ref_get(refs, "xh");
    mt_layer *in = NULL, *l = NULL;
    assert_ok(mt_lstm_load(&sd, "td_lstm/lstm",
                           &(mt_rnn_options){.output = MT_RNN_RETURN_FINAL_STATE}, &in));
    chain(mt_time_distributed_new(in, &l), 1, &l, xh, "y_td_lstm", 1e-5);
    assert_ok(mt_global_avg_pool1d_new(MT_MASK_MODE_NONE, &in));
    chain(mt_time_distributed_new(in, &l), 1, &l, xh, "y_td_gap", 1e-5);
    mt_tensor_free(xh);
}

/* A SeparableConv whose pointwise kernel does not take the depthwise
 * step's C·m channels: refused by the loader, naming both kernels (it
 * returned two layers that do not chain) */
static void separable_kernels_must_chain(void **state)
{
    (void)state;
    mt_tensor *t[4];
    const int64_t shapes[4][4] = {{3, 4, 2}, {1, 7, 5}, {3, 3, 4, 2}, {1, 1, 7, 5}};
    for (int i = 0; i < 4; i++)
        assert_ok(mt_tensor_zeros(MT_DTYPE_F32, i < 2 ? 3 : 4, shapes[i], &t[i]));
    const char *names[4] = {"s1/depthwise_kernel", "s1/pointwise_kernel",
                            "s2/depthwise_kernel", "s2/pointwise_kernel"};
    mt_safetensors_item items[4];
    for (int i = 0; i < 4; i++)
        items[i] = (mt_safetensors_item){names[i], strlen(names[i]), t[i]};
    void *buf = NULL;
    size_t size = 0;
    mt_safetensors *f = NULL;
    assert_ok(mt_safetensors_serialize(items, 4, NULL, 0, &buf, &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    const mt_state_dict sd = {f, MT_FRAMEWORK_KERAS};
    mt_layer *dw = NULL, *pw = NULL;
    assert_fails(mt_separable_conv1d_load(&sd, "s1", NULL, &dw, &pw), MT_ERR_SHAPE,
                 "separable_conv1d s1: pointwise kernel s1/pointwise_kernel [1,7,5] takes 7 "
                 "channels, depthwise kernel s1/depthwise_kernel [3,4,2] gives 8 (channels x "
                 "multiplier)");
    assert_null(dw);
    assert_null(pw);
    assert_fails(mt_separable_conv2d_load(&sd, "s2", NULL, &dw, &pw), MT_ERR_SHAPE,
                 "separable_conv2d s2: pointwise kernel s2/pointwise_kernel [1,1,7,5] takes 7 "
                 "channels, depthwise kernel s2/depthwise_kernel [3,3,4,2] gives 8");
    assert_null(dw);
    assert_null(pw);
    mt_safetensors_close(f);
    mt_safetensors_buffer_free(buf);
    for (int i = 0; i < 4; i++)
        mt_tensor_free(t[i]);
}

/* A sample far larger than memory (a broadcast view can be one): the
 * copy TimeDistributed and EinsumDense keep room for, 2^64 bytes, is
 * refused when the model is planned, not wrapped to a 0-byte scratch. */
static void huge_input_copy_refused(void **state)
{
    (void)state;
    const int64_t big = (int64_t)1 << 31;
    mt_sequential *m = NULL;
    mt_layer *p = NULL, *l = NULL;
    size_t bytes = 1;
    /* on a 32-bit size_t (wasm32) the outputs overflow first */
    const char *refused = (uint64_t)SIZE_MAX > UINT32_MAX
                              ? "sequential: the workspace for a batch of 1 overflows size_t"
                              : "overflows size_t";
    /* TimeDistributed(MaxPooling1D(1, strides=2^31)): [N, 2^31, 2^31, 1] ->
     * [N, 2^31, 1, 1], an output of 8 GiB a sample, an input of 16 EiB */
    assert_ok(mt_sequential_new(3, (int64_t[]){big, big, 1}, &m));
    assert_ok(mt_max_pool1d_new(&(mt_pool1d_options){.pool = 1, .stride = big}, &p));
    assert_ok(mt_time_distributed_new(p, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_fails(mt_sequential_bytes_needed(m, 1, &bytes), MT_ERR_OVERFLOW, refused);
    mt_sequential_free(m);
    /* EinsumDense "abc,cd->abd", kernel [2^20, 1]: [N, 2^42, 2^20] -> [N, 2^42, 1] */
    mt_tensor *k;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){(int64_t)1 << 20, 1}, &k));
    assert_ok(mt_sequential_new(2, (int64_t[]){(int64_t)1 << 42, (int64_t)1 << 20}, &m));
    assert_ok(mt_einsum_dense_new(k, NULL, "abc,cd->abd", MT_ACTIVATION_NONE, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_fails(mt_sequential_bytes_needed(m, 1, &bytes), MT_ERR_OVERFLOW, refused);
    mt_sequential_free(m);
    mt_tensor_free(k);
}

int main(void)
{
    probe_install(&counter, -1);
    if (mt_safetensors_open(REFS_DIR "/keras_conv1d.safetensors", &refs)) {
        fprintf(stderr, "%s\n", mt_last_error());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv1d_transpose_matches_keras),
        cmocka_unit_test(depthwise_conv1d_matches_keras),
        cmocka_unit_test(separable_conv1d_matches_keras),
        cmocka_unit_test(sequential_matches_keras),
        cmocka_unit_test(time_distributed_matches_keras),
        cmocka_unit_test(cnn_lstm_matches_keras),
        cmocka_unit_test(center_crop_matches_keras),
        cmocka_unit_test(einsum_dense_matches_keras),
        cmocka_unit_test(einsum_dense_errors),
        cmocka_unit_test(grouped_conv_matches_keras),
        cmocka_unit_test(errors_named),
        cmocka_unit_test(time_distributed_errors),
        cmocka_unit_test(out_of_memory),
        cmocka_unit_test(huge_input_copy_refused),
        cmocka_unit_test(separable_kernels_must_chain),
        cmocka_unit_test(time_distributed_optional_inputs),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mt_safetensors_close(refs);
    return failed;
}
