/* test_nn_layers_more.c — the layers added for models ported from PyTorch
 * and Keras: PReLU, SELU, CELU, Mish, Softsign, LogSigmoid, Tanhshrink,
 * LogSoftmax, GLU, Narrow (torch.chunk), ChannelShuffle, PixelShuffle,
 * PixelUnshuffle, MaxPool1D, AvgPool1D, GlobalMax/AveragePooling1D,
 * Rescaling, Scale, Bias, ConvTranspose1D; PyTorch weight-norm pairs loaded as weights.
 * Each against PyTorch (reference/make_nn_layers_more_refs.py ->
 * nn_layers_more.safetensors); three small Keras models and Keras'
 * activations (reference/make_keras_layers_refs.py -> keras_layers
 * .safetensors) loaded by their variable paths and run as graphs; and the
 * errors for inputs and weights that do not fit. */
#include "test_util.h"

static mt_safetensors *refs, *keras;

static void refuses(mt_layer *l, int rank, const int64_t *sample, mt_dtype dtype,
                    const char *needle);
static alloc_probe counter;   /* every allocation, installed by main */

/* y has want's shape and values within tol */
static void matches(const mt_tensor *y, const mt_tensor *want, double tol)
{
    assert_int_equal(y->rank, want->rank);
    for (int d = 0; d < want->rank; d++)
        assert_int_equal(y->shape[d], want->shape[d]);
    assert_close((const float *)y->data, (const float *)want->data,
                 (size_t)mt_tensor_numel(want), tol, tol);
}

/* Layer l (made by `made`) alone on refs' `in` gives refs' `want`; freed. */
static void alone(mt_status made, mt_layer **lp, const char *in, const char *want, double tol)
{
    mt_layer *l = *lp;
    if (made)
        fail_msg("%s: %s", want, mt_last_error());
    mt_tensor *x = ref_get(refs, in), *w = ref_get(refs, want), *y = NULL;
    assert_ok(mt_layer_forward(l, x, &y));
    matches(y, w, tol);
    mt_tensor_free(y);
    mt_tensor_free(w);
    mt_tensor_free(x);
    mt_layer_free(l);
}

static void activations_match_pytorch(void **state)
{
    (void)state;
    mt_layer *l = NULL;
    alone(mt_selu_new(&l), &l, "act.x", "act.selu", 1e-6);
    alone(mt_celu_new(0.7f, &l), &l, "act.x", "act.celu", 1e-6);
    alone(mt_mish_new(&l), &l, "act.x", "act.mish", 1e-6);
    alone(mt_softsign_new(&l), &l, "act.x", "act.softsign", 1e-6);
    alone(mt_log_sigmoid_new(&l), &l, "act.x", "act.log_sigmoid", 1e-6);
    alone(mt_tanhshrink_new(&l), &l, "act.x", "act.tanhshrink", 1e-6);
    alone(mt_log_softmax_new(1, &l), &l, "act.x", "act.log_softmax", 1e-6);
    alone(mt_glu_new(-1, &l), &l, "act.x", "act.glu", 1e-6);
    /* Softplus(beta=2): softplus(2x) / 2 (PyTorch's threshold 20 applies to 2x
     * either way); RReLU(0.1, 0.3) at eval: a LeakyReLU of slope 0.2 */
    mt_tensor *x = ref_get(refs, "act.x"), *want = ref_get(refs, "act.softplus_beta2");
    mt_tensor *a = NULL, *b = NULL, *c = NULL;
    mt_layer *up = NULL, *sp = NULL, *down = NULL;
    assert_ok(mt_rescaling_new(2.0f, 0.0f, &up));
    assert_ok(mt_softplus_new(&sp));
    assert_ok(mt_rescaling_new(0.5f, 0.0f, &down));
    assert_ok(mt_layer_forward(up, x, &a));
    assert_ok(mt_layer_forward(sp, a, &b));
    assert_ok(mt_layer_forward(down, b, &c));
    matches(c, want, 1e-6);
    mt_layer_free(down);
    mt_layer_free(sp);
    mt_layer_free(up);
    mt_tensor_free(c);
    mt_tensor_free(b);
    mt_tensor_free(a);
    mt_tensor_free(want);
    mt_tensor_free(x);
    alone(mt_leaky_relu_new(0.2f, &l), &l, "act.x", "act.rrelu", 1e-6);
    /* far tails: no log(0), no overflow */
    alone(mt_log_sigmoid_new(&l), &l, "tail.x", "tail.log_sigmoid", 1e-6);
    alone(mt_log_softmax_new(-1, &l), &l, "tail.x", "tail.log_softmax", 1e-5);
    alone(mt_mish_new(&l), &l, "tail.x", "tail.mish", 1e-6);
    /* CELU picks its branch by x's sign (alpha < 0 differs from x/alpha's)
     * and passes x > 0 as is (x/alpha overflowed to inf for 3e38) */
    alone(mt_celu_new(-1.5f, &l), &l, "tail.x", "tail.celu_neg", 1e-6);
    alone(mt_celu_new(0.05f, &l), &l, "celu.x", "celu.small", 1e-6);
}

static void prelu_matches_pytorch(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    mt_layer *l = NULL;
    alone(mt_prelu_load(&sd, "prelu_1", &l), &l, "img.x", "img.prelu_1", 1e-6);
    alone(mt_prelu_load(&sd, "prelu_c", &l), &l, "img.x", "img.prelu_c", 1e-6);
    /* a transposed (strided) input gives the same values */
    mt_tensor *x = ref_get(refs, "img.x"), *w = ref_get(refs, "img.prelu_c"), *t = NULL, *back = NULL;
    mt_tensor *y = NULL;
    assert_ok(mt_transpose(x, 1, 2, &t));            /* [2,6,5,4] view */
    assert_ok(mt_tensor_contiguous(t, &back));       /* its own layout */
    mt_tensor_free(t);
    assert_ok(mt_transpose(back, 1, 2, &t));         /* [2,5,6,4], strided */
    assert_ok(mt_prelu_load(&sd, "prelu_c", &l));
    assert_ok(mt_layer_forward(l, t, &y));
    matches(y, w, 1e-6);
    mt_layer_info info;
    assert_ok(mt_layer_info_get(l, &info));
    assert_int_equal(info.kind, MT_LAYER_PRELU);
    assert_string_equal(info.name, "prelu prelu_c.weight");
    mt_layer_free(l);
    mt_tensor_free(y);
    mt_tensor_free(t);
    mt_tensor_free(back);
    mt_tensor_free(w);
    mt_tensor_free(x);
}

/* nn.InstanceNorm2d(C) is GroupNorm with C groups (no layer of its own) */
static void instance_norm_is_group_norm(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    mt_layer *l = NULL;
    alone(mt_group_norm_load(&sd, "inorm", 4, NULL, &l), &l, "img.x31", "img.inorm_affine",
          1e-5);
    alone(mt_group_norm_new(4, NULL, NULL, NULL, &l), &l, "img.x31", "img.inorm", 1e-5);
}

/* Every constructor refuses a NULL out (and the loader a NULL state dict),
 * naming itself. */
static void nulls_refused(void **state)
{
    (void)state;
    mt_layer *l = NULL;
    const mt_pool1d_options p = {.pool = 2};
    assert_fails(mt_prelu_new(NULL, NULL), MT_ERR_INVALID_ARGUMENT, "prelu: out is NULL");
    assert_fails(mt_prelu_load(NULL, "p", &l), MT_ERR_INVALID_ARGUMENT, "prelu_load");
    assert_fails(mt_prelu_load(&(mt_state_dict){refs, MT_FRAMEWORK_PYTORCH}, NULL, &l),
                 MT_ERR_INVALID_ARGUMENT, "prelu_load");
    assert_fails(mt_selu_new(NULL), MT_ERR_INVALID_ARGUMENT, "selu: out is NULL");
    assert_fails(mt_celu_new(1.0f, NULL), MT_ERR_INVALID_ARGUMENT, "celu: out is NULL");
    assert_fails(mt_mish_new(NULL), MT_ERR_INVALID_ARGUMENT, "mish: out is NULL");
    assert_fails(mt_softsign_new(NULL), MT_ERR_INVALID_ARGUMENT, "softsign: out is NULL");
    assert_fails(mt_log_sigmoid_new(NULL), MT_ERR_INVALID_ARGUMENT, "log_sigmoid: out");
    assert_fails(mt_tanhshrink_new(NULL), MT_ERR_INVALID_ARGUMENT, "tanhshrink: out");
    assert_fails(mt_log_softmax_new(-1, NULL), MT_ERR_INVALID_ARGUMENT, "log_softmax: out");
    assert_fails(mt_log_softmax_new(9, &l), MT_ERR_INVALID_ARGUMENT, "log_softmax: dim 9");
    assert_fails(mt_glu_new(-1, NULL), MT_ERR_INVALID_ARGUMENT, "glu: out is NULL");
    assert_fails(mt_narrow_new(1, 0, 1, NULL), MT_ERR_INVALID_ARGUMENT, "narrow: out");
    assert_fails(mt_channel_shuffle_new(2, NULL), MT_ERR_INVALID_ARGUMENT, "channel_shuffle");
    assert_fails(mt_channel_shuffle_new(0, &l), MT_ERR_INVALID_ARGUMENT, "groups 0");
    assert_fails(mt_pixel_shuffle_new(2, NULL), MT_ERR_INVALID_ARGUMENT, "pixel_shuffle");
    assert_fails(mt_pixel_unshuffle_new(0, &l), MT_ERR_INVALID_ARGUMENT, "pixel_unshuffle");
    assert_fails(mt_max_pool1d_new(&p, NULL), MT_ERR_INVALID_ARGUMENT, "max_pool1d: out");
    assert_fails(mt_avg_pool1d_new(&p, NULL), MT_ERR_INVALID_ARGUMENT, "avg_pool1d: out");
    assert_fails(mt_global_max_pool1d_new(MT_MASK_MODE_NONE, NULL), MT_ERR_INVALID_ARGUMENT, "global_max_pool1d");
    assert_fails(mt_global_avg_pool1d_new(MT_MASK_MODE_NONE, NULL), MT_ERR_INVALID_ARGUMENT, "global_avg_pool1d");
    assert_null(l);
}

/* ConvNeXt's layer scale gamma [4,1,1] (NCHW) viewed as [4] on NHWC; a
 * position embedding [1,5,6] added to [N,5,6] tokens */
static void scale_and_bias_match_pytorch(void **state)
{
    (void)state;
    mt_tensor *gamma = ref_get(refs, "ls.gamma"), *c = NULL, *pos = ref_get(refs, "tok.pos_embedding");
    mt_layer *l = NULL;
    assert_ok(mt_view(gamma, 1, (int64_t[]){4}, &c));
    alone(mt_scale_new(c, &l), &l, "img.x", "img.layer_scale", 1e-6);
    alone(mt_bias_new(pos, &l), &l, "tok.x", "tok.pos", 1e-6);
    assert_ok(mt_scale_new(gamma, &l));   /* [4,1,1] is NCHW's: it does not fit NHWC */
    refuses(l, 3, (int64_t[]){5, 6, 4}, MT_DTYPE_F32, "fit weight ls.gamma [4,1,1]");
    assert_ok(mt_bias_new(pos, &l));
    refuses(l, 2, (int64_t[]){4, 6}, MT_DTYPE_F32, "input 'x' gives F32 [N,4,6]");
    assert_fails(mt_scale_new(NULL, &l), MT_ERR_INVALID_ARGUMENT, "scale: weight is NULL");
    assert_fails(mt_bias_new(pos, NULL), MT_ERR_INVALID_ARGUMENT, "bias: out is NULL");
    mt_tensor_free(pos);
    mt_tensor_free(c);
    mt_tensor_free(gamma);
}

static void channel_layers_match_pytorch(void **state)
{
    (void)state;
    mt_layer *l = NULL;
    alone(mt_glu_new(-1, &l), &l, "img.x", "img.glu1", 1e-6);       /* nn.GLU(1), NCHW */
    alone(mt_narrow_new(-1, 0, 2, &l), &l, "img.x", "img.chunk0", 0);
    alone(mt_narrow_new(3, 2, 2, &l), &l, "img.x", "img.chunk1", 0);
    alone(mt_channel_shuffle_new(3, &l), &l, "six.x", "six.shuffle3", 0);
    alone(mt_channel_shuffle_new(2, &l), &l, "six.x", "six.shuffle2", 0);
    alone(mt_pixel_shuffle_new(2, &l), &l, "ps.x", "ps.shuffle", 0);
    alone(mt_pixel_unshuffle_new(2, &l), &l, "pu.x", "pu.unshuffle", 0);
}

static void pool1d_matches_pytorch(void **state)
{
    (void)state;
    mt_layer *l = NULL;
    alone(mt_max_pool1d_new(&(mt_pool1d_options){.pool = 3, .stride = 2, .pad = 1}, &l), &l,
          "seq.x", "seq.max3_2_1", 0);
    alone(mt_max_pool1d_new(&(mt_pool1d_options){.pool = 2, .ceil_mode = true}, &l), &l,
          "seq.x", "seq.max2_ceil", 0);
    alone(mt_avg_pool1d_new(&(mt_pool1d_options){.pool = 3, .stride = 2, .pad = 1,
                                                  .count_include_pad = true}, &l),
          &l, "seq.x", "seq.avg3_2_1", 1e-6);
    alone(mt_global_max_pool1d_new(MT_MASK_MODE_NONE, &l), &l, "seq.x", "seq.gmax", 0);
    alone(mt_global_avg_pool1d_new(MT_MASK_MODE_NONE, &l), &l, "seq.x", "seq.gavg", 1e-6);
}

/* PyTorch weight norm pairs load as the weight they stand for */
static void weight_norm_loads(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    mt_layer *l = NULL;
    const mt_conv2d_options tcn = {.layout = MT_KERNEL_OIHW, .padding = MT_PADDING_EXPLICIT,
                                   .pad_left = 2, .pad_right = 2, .dilation_w = 2};
    alone(mt_conv1d_load(&sd, "wn_conv", &tcn, &l), &l, "seq.x", "seq.wn_conv", 1e-5);
    alone(mt_linear_load(&sd, "wn_lin", NULL, &l), &l, "seq.x", "seq.wn_lin", 1e-5);
    alone(mt_linear_load(&sd, "wn_lin2", NULL, &l), &l, "seq.x", "seq.wn_lin2", 1e-5);
    assert_ok(mt_linear_load(&sd, "wn_lin2", NULL, &l));
    mt_layer_info info;
    assert_ok(mt_layer_info_get(l, &info));
    assert_string_equal(info.name, "linear wn_lin2.weight");
    mt_layer_free(l);
    /* norms of dim 1 (weight_norm(dim=1)), and a direction of zeros */
    mt_tensor *g = NULL, *v = NULL, *z = NULL;
    assert_ok(mt_tensor_full(2, (int64_t[]){1, 3}, 1.0f, &g));
    assert_ok(mt_tensor_full(2, (int64_t[]){2, 3}, 1.0f, &v));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, &z));
    const mt_safetensors_item items[] = {{"a.weight_g", 10, g}, {"a.weight_v", 10, v},
                                         {"b.weight_g", 10, v}, {"b.weight_v", 10, z}};
    void *buf = NULL;
    size_t size = 0;
    assert_ok(mt_safetensors_serialize(items, 4, NULL, 0, &buf, &size));
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_open_memory(buf, size, &st));
    const mt_state_dict bad = {st, MT_FRAMEWORK_PYTORCH};
    assert_fails(mt_linear_load(&bad, "a", NULL, &l), MT_ERR_UNSUPPORTED,
                 "linear a: weight norm a.weight_g [1,3] and a.weight_v [2,3]: expected the "
                 "norms of dim 0");
    assert_fails(mt_linear_load(&bad, "b", NULL, &l), MT_ERR_UNSUPPORTED, "b.weight_g [2,3]");
    mt_tensor_free(g);
    assert_ok(mt_tensor_full(2, (int64_t[]){2, 1}, 1.0f, &g));
    const mt_safetensors_item zero[] = {{"c.weight_g", 10, g}, {"c.weight_v", 10, z}};
    mt_safetensors_close(st);
    mt_safetensors_buffer_free(buf);
    assert_ok(mt_safetensors_serialize(zero, 2, NULL, 0, &buf, &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &st));
    const mt_state_dict zeros = {st, MT_FRAMEWORK_PYTORCH};
    assert_fails(mt_linear_load(&zeros, "c", NULL, &l), MT_ERR_FORMAT,
                 "linear c: weight norm c.weight_v [2,3]: slice 0 of dim 0 is all zeros");
    assert_null(l);
    mt_safetensors_close(st);
    mt_safetensors_buffer_free(buf);
    mt_tensor_free(z);
    mt_tensor_free(v);
    mt_tensor_free(g);
}

/* nn.ConvTranspose1d on [N,L,C]; a weight-normed one after it (HiFi-GAN's
 * upsampler) */
static void conv_transpose1d_matches_pytorch(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    mt_layer *l = NULL, *up = NULL;
    const mt_conv_transpose2d_params p = {.stride_w = 2, .pad_left = 1, .pad_right = 1,
                                          .output_padding_w = 1};
    alone(mt_conv_transpose1d_load(&sd, "ct1", &p, &l), &l, "seq.x", "seq.ct1", 1e-5);
    mt_graph *g = NULL;
    int h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){9, 3}, &h));
    assert_ok(mt_conv_transpose1d_load(&sd, "ct1", &p, &l));
    assert_ok(mt_graph_add(g, "ct1", l, 1, &h, &h));
    assert_ok(mt_conv_transpose1d_load(&sd, "wn_up", &(mt_conv_transpose2d_params){
        .stride_w = 4, .pad_left = 2, .pad_right = 2}, &up));
    assert_ok(mt_graph_add(g, "up", up, 1, &h, &h));
    assert_ok(mt_graph_output(g, h));
    mt_tensor *x = ref_get(refs, "seq.x"), *want = ref_get(refs, "seq.wn_up");
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
    matches(y, want, 1e-5);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_graph_free(g);
    /* the _h fields, a 4-D weight, 2-D inputs, Keras: refused by name */
    assert_fails(mt_conv_transpose1d_load(&sd, "ct1", &(mt_conv_transpose2d_params){
        .stride_h = 2}, &l), MT_ERR_INVALID_ARGUMENT, "the _h ones must be 0");
    assert_fails(mt_conv_transpose1d_load(&(mt_state_dict){refs, MT_FRAMEWORK_KERAS}, "ct1",
                                          NULL, &l), MT_ERR_UNSUPPORTED, "Conv1DTranspose");
    mt_tensor *w4 = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){3, 4, 1, 5}, &w4));
    assert_fails(mt_conv_transpose1d_new(w4, NULL, NULL, &l), MT_ERR_SHAPE,
                 "expected [in, out/groups, k] (PyTorch)");
    mt_tensor_free(w4);
    assert_ok(mt_conv_transpose1d_load(&sd, "ct1", &p, &l));
    refuses(l, 3, (int64_t[]){9, 1, 3}, MT_DTYPE_F32, "expects F32 channels-last sequences");
    assert_ok(mt_conv_transpose1d_load(&sd, "ct1", &p, &l));
    refuses(l, 2, (int64_t[]){3, 9}, MT_DTYPE_F32, "expects 3 input channels");
}

/* PyTorch modules with no layer of their own: nn.EmbeddingBag over bags of
 * one length is an Embedding and a 1-D global pool; nn.AdaptiveAvgPool1d(3)
 * the 2-D one on [N,L,1,C]; Conv2d(padding='same') (stride 1) is
 * MT_PADDING_SAME, an even kernel's extra pad after, as Keras */
static void pytorch_compositions(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    for (int max = 0; max < 2; max++) {
        mt_graph *g = NULL;
        mt_layer *l = NULL;
        int h;
        assert_ok(mt_graph_new(&g));
        assert_ok(mt_graph_input(g, "ids", MT_DTYPE_I64, 1, (int64_t[]){5}, &h));
        assert_ok(mt_embedding_load(&sd, "bag", &l));
        assert_ok(mt_graph_add(g, "bag", l, 1, &h, &h));
        assert_ok(max ? mt_global_max_pool1d_new(MT_MASK_MODE_NONE, &l) : mt_global_avg_pool1d_new(MT_MASK_MODE_NONE, &l));
        assert_ok(mt_graph_add(g, "pool", l, 1, &h, &h));
        assert_ok(mt_graph_output(g, h));
        mt_tensor *ids = ref_get(refs, "bag.ids"), *want = ref_get(refs, max ? "bag.max" : "bag.mean");
        const mt_tensor *y = NULL;
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){ids}, 1, &y));
        matches(y, want, 1e-6);
        mt_tensor_free(want);
        mt_tensor_free(ids);
        mt_graph_free(g);
    }
    mt_layer *a = NULL, *b = NULL, *c = NULL, *l = NULL;
    mt_sequential *m = NULL;
    assert_ok(mt_sequential_new(2, (int64_t[]){9, 3}, &m));
    assert_ok(mt_reshape_new(3, (int64_t[]){9, 1, 3}, &a));
    assert_ok(mt_sequential_add(m, a));
    assert_ok(mt_adaptive_avg_pool2d_new(3, 1, &b));
    assert_ok(mt_sequential_add(m, b));
    assert_ok(mt_reshape_new(2, (int64_t[]){3, 3}, &c));
    assert_ok(mt_sequential_add(m, c));
    mt_tensor *x = ref_get(refs, "seq.x"), *want = ref_get(refs, "seq.adaptive3");
    const mt_tensor *y = NULL;
    assert_ok(mt_sequential_forward(m, x, &y));
    matches(y, want, 1e-6);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_sequential_free(m);
    alone(mt_conv2d_load(&sd, "same", &(mt_conv2d_options){.padding = MT_PADDING_SAME,
                                                          .dilation_h = 2, .dilation_w = 2},
                         &l), &l, "img.x", "img.same", 1e-5);
}

/* ---- Keras ---------------------------------------------------------------------- */

/* Add node `name` on `input`: the layer *l, which `made` made. */
static int node(mt_graph *g, const char *name, mt_status made, mt_layer **l, int input)
{
    if (made)
        fail_msg("%s: %s", name, mt_last_error());
    int id = -1;
    assert_ok(mt_graph_add(g, name, *l, 1, &input, &id));
    return id;
}

/* Graph g with output node `out` on keras' `in` gives keras' `want` within tol; a second pass
 * allocates nothing. Frees g. */
static void graph_matches(mt_graph *g, int out, const char *in, const char *want, double tol)
{
    mt_tensor *x = ref_get(keras, in), *w = ref_get(keras, want);
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_output(g, out));
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
    matches(y, w, tol);
    long before = counter.allocations;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
    assert_int_equal(counter.allocations, before);
    mt_graph_free(g);
    mt_tensor_free(w);
    mt_tensor_free(x);
}

/* Conv2D, PReLU(shared_axes=[1, 2]), Conv2D, PReLU(), LayerNormalization over
 * [H,W,C], Flatten, Dense */
static void keras_prelu_model(void **state)
{
    (void)state;
    const mt_state_dict sd = {keras, MT_FRAMEWORK_KERAS};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){6, 6, 3}, &h));
    h = node(g, "pc1", mt_conv2d_load(&sd, "pc1", NULL, &l), &l, h);
    h = node(g, "pr1", mt_prelu_load(&sd, "pr1", &l), &l, h);       /* alpha [1,1,4] */
    h = node(g, "pc2", mt_conv2d_load(&sd, "pc2", NULL, &l), &l, h);
    h = node(g, "pr2", mt_prelu_load(&sd, "pr2", &l), &l, h);       /* alpha [2,2,4] */
    h = node(g, "ln3", mt_layer_norm_load(&sd, "ln3", NULL, &l), &l, h);
    h = node(g, "flat", mt_flatten_new(1, -1, &l), &l, h);
    h = node(g, "pd", mt_linear_load(&sd, "pd", NULL, &l), &l, h);
    graph_matches(g, h, "prelu_x", "prelu_y", 1e-5);
}

/* Embedding, Conv1D(relu), MaxPooling1D, Conv1D(same), AveragePooling1D(same),
 * GlobalMaxPooling1D and GlobalAveragePooling1D concatenated, Dense */
static void keras_text_cnn(void **state)
{
    (void)state;
    const mt_state_dict sd = {keras, MT_FRAMEWORK_KERAS};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int h, gmax, gavg;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "ids", MT_DTYPE_I32, 1, (int64_t[]){12}, &h));
    h = node(g, "emb", mt_embedding_load(&sd, "emb", &l), &l, h);
    h = node(g, "t1", mt_conv1d_load(&sd, "t1", NULL, &l), &l, h);
    h = node(g, "relu", mt_relu_new(&l), &l, h);
    h = node(g, "mp", mt_max_pool1d_new(&(mt_pool1d_options){.pool = 2}, &l), &l, h);
    h = node(g, "t2", mt_conv1d_load(&sd, "t2", &(mt_conv2d_options){.padding = MT_PADDING_SAME},
                                     &l), &l, h);
    h = node(g, "ap", mt_avg_pool1d_new(&(mt_pool1d_options){.pool = 2,
                                                             .padding = MT_PADDING_SAME}, &l),
             &l, h);
    gmax = node(g, "gmax", mt_global_max_pool1d_new(MT_MASK_MODE_NONE, &l), &l, h);
    gavg = node(g, "gavg", mt_global_avg_pool1d_new(MT_MASK_MODE_NONE, &l), &l, h);
    assert_ok(mt_concat_new(-1, &l));
    assert_ok(mt_graph_add(g, "cat", l, 2, (int[]){gmax, gavg}, &h));
    h = node(g, "td", mt_linear_load(&sd, "td", NULL, &l), &l, h);
    graph_matches(g, h, "text_ids", "text_y", 1e-5);
}

/* ZeroPadding2D, Cropping2D, UpSampling2D, Conv2D, LayerNormalization */
static void keras_pad_crop_upsample(void **state)
{
    (void)state;
    const mt_state_dict sd = {keras, MT_FRAMEWORK_KERAS};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){5, 6, 3}, &h));
    /* ((top, bottom), (left, right)): NHWC pads list the last dim first */
    h = node(g, "zp", mt_pad_new(6, (int64_t[]){0, 0, 0, 1, 1, 2}, MT_PAD_CONSTANT, 0, &l),
             &l, h);
    h = node(g, "crop", mt_pad_new(6, (int64_t[]){0, 0, -2, -1, -1, 0}, MT_PAD_CONSTANT, 0,
                                   &l), &l, h);
    h = node(g, "up", mt_upsample_new(&(mt_interpolate_params){.scale_h = 2, .scale_w = 2},
                                      &l), &l, h);
    h = node(g, "kc", mt_conv2d_load(&sd, "kc", NULL, &l), &l, h);
    h = node(g, "kln", mt_layer_norm_load(&sd, "kln", NULL, &l), &l, h);
    graph_matches(g, h, "pads_x", "pads_y", 1e-5);
}

/* Rescaling(1/255, offset=-0.5), then Normalization as a BatchNorm */
static void keras_rescaling_normalization(void **state)
{
    (void)state;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    mt_tensor *mean = ref_get(keras, "norm/mean"), *var = ref_get(keras, "norm/variance");
    int h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){4, 4, 3}, &h));
    h = node(g, "rs", mt_rescaling_new(1.0f / 255, -0.5f, &l), &l, h);
    h = node(g, "norm", mt_batch_norm_new(mean, var, NULL, NULL,
                                          &(mt_batch_norm_options){.eps = 1e-14f}, &l), &l, h);
    mt_tensor_free(var);
    mt_tensor_free(mean);
    graph_matches(g, h, "rescale_x", "rescale_y", 1e-5);
    assert_fails(mt_rescaling_new(NAN, 0, &l), MT_ERR_INVALID_ARGUMENT, "rescaling: scale nan");
}

/* Keras nests layers in name scopes: NASNetMobile's variable paths reach
 * 143 bytes ("reduction_A_block_stem_1/block_1/separable_conv_block_…/
 * depthwise_kernel"); the loaders find such names. */
static void long_keras_paths_load(void **state)
{
    (void)state;
    char prefix[200], alpha[220], kernel[220], huge[600];
    memset(prefix, 'a', sizeof prefix);
    memcpy(prefix + 60, "/block_1/", 9);
    prefix[150] = '\0';
    snprintf(alpha, sizeof alpha, "%s/alpha", prefix);
    snprintf(kernel, sizeof kernel, "%s/kernel", prefix);
    mt_tensor *a = NULL, *k = NULL;
    assert_ok(mt_tensor_full(1, (int64_t[]){2}, 0.5f, &a));
    assert_ok(mt_tensor_full(4, (int64_t[]){1, 1, 2, 2}, 1.0f, &k));
    const mt_safetensors_item items[] = {{alpha, strlen(alpha), a}, {kernel, strlen(kernel), k}};
    void *buf = NULL;
    size_t size = 0;
    assert_ok(mt_safetensors_serialize(items, 2, NULL, 0, &buf, &size));
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_open_memory(buf, size, &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_layer *l = NULL;
    assert_ok(mt_prelu_load(&sd, prefix, &l));
    mt_layer_free(l);
    assert_ok(mt_conv2d_load(&sd, prefix, NULL, &l));
    mt_layer_free(l);
    memset(huge, 'b', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    assert_fails(mt_prelu_load(&sd, huge, &l), MT_ERR_INVALID_ARGUMENT,
                 "prelu_load: prefix of 599 bytes, at most 448");
    mt_safetensors_close(st);
    mt_safetensors_buffer_free(buf);
    mt_tensor_free(k);
    mt_tensor_free(a);
}

/* ZeroPadding1D((1, 2)) is a pad of the length, Cropping1D((2, 1)) a Narrow,
 * UpSampling1D(2) a nearest upsample of [N,L,1,C] */
static void keras_1d_pad_crop_upsample(void **state)
{
    (void)state;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){5, 3}, &h));
    h = node(g, "zp", mt_pad_new(4, (int64_t[]){0, 0, 1, 2}, MT_PAD_CONSTANT, 0, &l), &l, h);
    h = node(g, "crop", mt_narrow_new(1, 2, 8 - 2 - 1, &l), &l, h);
    h = node(g, "as_image", mt_reshape_new(3, (int64_t[]){5, 1, 3}, &l), &l, h);
    h = node(g, "up", mt_upsample_new(&(mt_interpolate_params){.scale_h = 2, .scale_w = 1},
                                      &l), &l, h);
    h = node(g, "back", mt_reshape_new(2, (int64_t[]){10, 3}, &l), &l, h);
    graph_matches(g, h, "seq1d_x", "seq1d_y", 0);
}

/* GroupNormalization(groups=-1): one group per channel */
static void keras_instance_norm(void **state)
{
    (void)state;
    const mt_state_dict sd = {keras, MT_FRAMEWORK_KERAS};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){4, 5, 3}, &h));
    h = node(g, "kgn", mt_group_norm_load(&sd, "kgn", 3, NULL, &l), &l, h);
    graph_matches(g, h, "inorm_x", "inorm_y", 1e-5);
}

static void keras_activations(void **state)
{
    (void)state;
    static const char *const names[] = {"selu", "mish", "softsign", "log_sigmoid", "celu",
                                        "tanh_shrink", "log_softmax", "glu"};
    mt_tensor *x = ref_get(keras, "acts_x");
    for (int i = 0; i < 8; i++) {
        mt_layer *l = NULL;
        mt_status s = i == 0 ? mt_selu_new(&l) : i == 1 ? mt_mish_new(&l)
                    : i == 2 ? mt_softsign_new(&l) : i == 3 ? mt_log_sigmoid_new(&l)
                    : i == 4 ? mt_celu_new(1.0f, &l) : i == 5 ? mt_tanhshrink_new(&l)
                    : i == 6 ? mt_log_softmax_new(-1, &l) : mt_glu_new(-1, &l);
        assert_ok(s);
        char key[64];
        snprintf(key, sizeof key, "acts_%s", names[i]);
        mt_tensor *w = ref_get(keras, key), *y = NULL;
        assert_ok(mt_layer_forward(l, x, &y));
        matches(y, w, 1e-5);
        mt_tensor_free(y);
        mt_tensor_free(w);
        mt_layer_free(l);
    }
    mt_tensor_free(x);
}

/* ---- errors ------------------------------------------------------------------------ */

/* Layer l (freed) refuses a graph input of [N, sample…], with a message
 * holding needle. */
static void refuses(mt_layer *l, int rank, const int64_t *sample, mt_dtype dtype,
                    const char *needle)
{
    mt_graph *g = NULL;
    int x, y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", dtype, rank, sample, &x));
    assert_fails(mt_graph_add(g, "l", l, 1, &x, &y), MT_ERR_SHAPE, needle);
    mt_graph_free(g);
}

static void bad_inputs_and_weights_named(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    mt_layer *l = NULL;
    /* a per-channel PReLU on the wrong channels, or NCHW activations */
    assert_ok(mt_prelu_load(&sd, "prelu_c", &l));
    refuses(l, 3, (int64_t[]){4, 5, 6}, MT_DTYPE_F32,
            "expects F32 [N, …] whose last dims fit weight prelu_c.weight [4] (each equal "
            "or 1; PyTorch's [C] is the channels, last in NHWC), input 'x' gives F32 "
            "[N,4,5,6]");
    assert_fails(mt_prelu_load(&sd, "prelu_x", &l), MT_ERR_NOT_FOUND, "prelu_x.weight");
    assert_null(l);
    assert_fails(mt_prelu_new(NULL, &l), MT_ERR_INVALID_ARGUMENT, "prelu: weight is NULL");
    mt_tensor *nan = NULL;
    assert_ok(mt_tensor_full(1, (int64_t[]){3}, NAN, &nan));
    assert_ok(mt_tensor_name_set(nan, "a"));
    assert_fails(mt_prelu_new(nan, &l), MT_ERR_FORMAT, "prelu a: a [3] holds NaN");
    mt_tensor_free(nan);
    assert_fails(mt_celu_new(0.0f, &l), MT_ERR_INVALID_ARGUMENT, "celu: alpha 0");
    /* 1/alpha overflows a float (PyTorch: "cannot be converted to type float") */
    assert_fails(mt_celu_new(1e-40f, &l), MT_ERR_INVALID_ARGUMENT,
                 "expected finite, not 0, and 1/alpha finite as a float");
    assert_null(l);
    /* CELU rewrites its output as floats: integer input is refused */
    mt_graph *g = NULL;
    int gx, gy;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "ids", MT_DTYPE_I32, 1, (int64_t[]){3}, &gx));
    assert_ok(mt_celu_new(1.0f, &l));
    assert_fails(mt_graph_add(g, "celu", l, 1, &gx, &gy), MT_ERR_DTYPE,
                 "expects F32, input 'ids' gives I32");
    mt_graph_free(g);
    assert_fails(mt_narrow_new(0, 0, 1, &l), MT_ERR_INVALID_ARGUMENT,
                 "a dim other than the batch");
    assert_ok(mt_narrow_new(-1, 2, 3, &l));
    refuses(l, 3, (int64_t[]){2, 2, 4}, MT_DTYPE_F32,
            "expects a dim -1 (not the batch) holding at least 5 entries, input 'x' gives "
            "[N,2,2,4]");
    assert_ok(mt_channel_shuffle_new(3, &l));
    refuses(l, 3, (int64_t[]){2, 2, 4}, MT_DTYPE_F32, "C a multiple of 3 groups");
    /* 8 dims (C = 4 is a multiple of 2): it said "C a multiple of 2 groups" */
    assert_ok(mt_channel_shuffle_new(2, &l));
    refuses(l, 7, (int64_t[]){1, 1, 1, 1, 1, 1, 4}, MT_DTYPE_F32,
            "expects [N, …, C] with 2 to 7 dims, input 'x' gives [N,1,1,1,1,1,1,4]");
    assert_ok(mt_channel_shuffle_new(2, &l));
    refuses(l, 0, NULL, MT_DTYPE_F32, "expects [N, …, C] with 2 to 7 dims, input 'x' gives [N]");
    assert_ok(mt_pixel_shuffle_new(2, &l));
    refuses(l, 3, (int64_t[]){2, 2, 6}, MT_DTYPE_F32, "C a multiple of the factor squared");
    assert_ok(mt_pixel_unshuffle_new(2, &l));
    refuses(l, 3, (int64_t[]){3, 2, 6}, MT_DTYPE_F32, "H and W multiples of the factor");
    assert_ok(mt_glu_new(-1, &l));
    refuses(l, 1, (int64_t[]){5}, MT_DTYPE_F32, "halves dim -1, input 'x' gives it 5");
    /* over the batch: a Sequential's passes of 2 MiB made LogSoftmax(0) one
     * over each pass (every value off for [4096, 256]) */
    assert_ok(mt_log_softmax_new(0, &l));
    refuses(l, 1, (int64_t[]){256}, MT_DTYPE_F32,
            "dim 0 is the batch of the 2 dims input 'x' gives (a dim other than 0 expected");
    assert_ok(mt_log_softmax_new(-3, &l));
    refuses(l, 2, (int64_t[]){2, 4}, MT_DTYPE_F32, "dim -3 is the batch of the 3 dims");
    assert_ok(mt_max_pool1d_new(&(mt_pool1d_options){.pool = 2}, &l));
    refuses(l, 3, (int64_t[]){4, 4, 3}, MT_DTYPE_F32, "expects F32 channels-last sequences");
    assert_ok(mt_avg_pool1d_new(&(mt_pool1d_options){.pool = 5}, &l));
    refuses(l, 2, (int64_t[]){4, 3}, MT_DTYPE_F32, "its window 5 does not fit the length 4");
    assert_fails(mt_max_pool1d_new(&(mt_pool1d_options){.pool = 2, .pad = 2}, &l),
                 MT_ERR_INVALID_ARGUMENT, "pad at most half the window");
    /* 2·pad would wrap to a negative number */
    assert_fails(mt_max_pool1d_new(&(mt_pool1d_options){.pool = 1, .pad = INT64_MAX / 2 + 1},
                                   &l), MT_ERR_INVALID_ARGUMENT,
                 "max_pool1d: pool 1, stride 0 or pad 4611686018427387904 out of range");
    assert_null(l);
    assert_fails(mt_max_pool1d_new(NULL, &l), MT_ERR_INVALID_ARGUMENT, "options is NULL");
    /* pads whose sum wraps int64 were taken (as [N,3], [N,5], [N,4]) and failed
     * only when run */
    const int64_t wrap[3][2] = {{INT64_MAX, INT64_MAX}, {INT64_MIN, INT64_MIN},
                                {INT64_MAX, INT64_MIN}};
    const char *wrap_msg[3] = {"pads (9223372036854775807,9223372036854775807) do not fit",
                               "pads (-9223372036854775808,-9223372036854775808) do not fit",
                               "pads (9223372036854775807,-9223372036854775808) do not fit"};
    for (int i = 0; i < 3; i++)
        for (int mode = MT_PAD_CONSTANT; mode <= MT_PAD_CIRCULAR; mode++) {
            assert_ok(mt_pad_new(2, wrap[i], (mt_pad_mode)mode, 0, &l));
            refuses(l, 1, (int64_t[]){5}, MT_DTYPE_F32, wrap_msg[i]);
        }
    assert_ok(mt_global_avg_pool1d_new(MT_MASK_MODE_NONE, &l));
    refuses(l, 3, (int64_t[]){4, 4, 3}, MT_DTYPE_F32,
            "(global_avg_pool1d) expects F32 [N,L,C], input 'x' gives F32 [1,4,4,3]");
}

int main(void)
{
    probe_install(&counter, -1);
    if (mt_safetensors_open(REFS_DIR "/nn_layers_more.safetensors", &refs) ||
        mt_safetensors_open(REFS_DIR "/keras_layers.safetensors", &keras)) {
        fprintf(stderr, "%s\n", mt_last_error());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(activations_match_pytorch),
        cmocka_unit_test(prelu_matches_pytorch),
        cmocka_unit_test(instance_norm_is_group_norm),
        cmocka_unit_test(nulls_refused),
        cmocka_unit_test(scale_and_bias_match_pytorch),
        cmocka_unit_test(channel_layers_match_pytorch),
        cmocka_unit_test(pool1d_matches_pytorch),
        cmocka_unit_test(weight_norm_loads),
        cmocka_unit_test(conv_transpose1d_matches_pytorch),
        cmocka_unit_test(pytorch_compositions),
        cmocka_unit_test(keras_prelu_model),
        cmocka_unit_test(keras_text_cnn),
        cmocka_unit_test(keras_pad_crop_upsample),
        cmocka_unit_test(keras_rescaling_normalization),
        cmocka_unit_test(long_keras_paths_load),
        cmocka_unit_test(keras_activations),
        cmocka_unit_test(keras_1d_pad_crop_upsample),
        cmocka_unit_test(keras_instance_norm),
        cmocka_unit_test(bad_inputs_and_weights_named),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mt_safetensors_close(keras);
    mt_safetensors_close(refs);
    return failed;
}
