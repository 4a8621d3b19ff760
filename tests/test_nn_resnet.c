/* test_nn_resnet.c — a residual CNN made in PyTorch (tests/resnet/
 * make_resnet.py: conv -> BatchNorm -> ReLU -> conv -> BatchNorm, + skip ->
 * ReLU -> global average pool -> Linear) loaded by its state_dict names and
 * run as a graph: logits within 1e-4 of PyTorch's on 8 held-out inputs,
 * the same argmax; once with the BatchNorms folded into the convolutions
 * (a frozen graph), once with them run on their own; no heap after the
 * first pass. And a
 * downsampling CNN (tests/resnet/make_resnet_down.py) whose convolutions
 * and max pool have PyTorch's explicit padding, stride 2, dilation and
 * groups; and an encoder-decoder (tests/resnet/make_decoder.py) with
 * GroupNorm, ConvTranspose2d, a skip joined by torch.cat, SiLU, ELU and
 * Hardswish; a VGG-style CNN (tests/resnet/make_vgg.py) whose padded
 * convolutions run fused with the max pools after them, also frozen; and a
 * CNN that flattens and unflattens NCHW activations
 * (tests/resnet/make_flatten.py), its weights used as PyTorch saved them;
 * a 1-D CNN (tests/resnet/make_conv1d.py); and a MobileNetV3-style block
 * with a squeeze-and-excitation gate (tests/resnet/make_mobilenet.py). */
#include <string.h>
#include "test_util.h"

static alloc_probe counter;   /* every allocation, installed by main */

/* y has want's shape and values (PyTorch's), within rtol/atol. */
static void matches(const mt_tensor *y, const mt_tensor *want, double rtol, double atol)
{
    assert_int_equal(y->rank, want->rank);
    for (int d = 0; d < want->rank; d++)
        assert_int_equal(y->shape[d], want->shape[d]);
    assert_close((const float *)y->data, (const float *)want->data,
                 (size_t)mt_tensor_numel(want), rtol, atol);
}

/* Graph g on x gives want, and a second pass allocates nothing. */
static void graph_matches(mt_graph *g, const mt_tensor *x, const mt_tensor *want, double rtol,
                          double atol)
{
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
    matches(y, want, rtol, atol);
    long before = counter.allocations;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
    assert_int_equal(counter.allocations, before);
}

/* The same for a Sequential. */
static void sequential_matches(mt_sequential *m, const mt_tensor *x, const mt_tensor *want,
                               double rtol, double atol)
{
    const mt_tensor *y = NULL;
    assert_ok(mt_sequential_forward(m, x, &y));
    matches(y, want, rtol, atol);
    long before = counter.allocations;
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_int_equal(counter.allocations, before);
}

/* Add node `name` on `input`: the layer *l, which `made` made. */
static int node(mt_graph *g, const char *name, mt_status made, mt_layer **l, int input)
{
    if (made)
        fail_msg("%s: %s", name, mt_last_error());
    int id = -1;
    assert_ok(mt_graph_add(g, name, *l, 1, &input, &id));
    return id;
}

/* The block by PyTorch's names. `fold`: BatchNorm with channels last (the
 * default), which a frozen graph folds into the conv before it; otherwise
 * the channel dim given as 3, which it does not fold (it runs alone). */
static mt_graph *build(const mt_state_dict *sd, bool fold)
{
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, h;
    const mt_conv2d_options same = {.padding = MT_PADDING_SAME};   /* 3x3, pad 1 */
    const mt_batch_norm_options bn = {.channel_dim = fold ? 0 : 3};
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){6, 6, 4}, &x));
    h = node(g, "conv1", mt_conv2d_load(sd, "conv1", &same, &l), &l, x);
    h = node(g, "bn1", mt_batch_norm_load(sd, "bn1", &bn, &l), &l, h);
    h = node(g, "relu1", mt_relu_new(&l), &l, h);
    h = node(g, "conv2", mt_conv2d_load(sd, "conv2", &same, &l), &l, h);
    h = node(g, "bn2", mt_batch_norm_load(sd, "bn2", &bn, &l), &l, h);
    assert_ok(mt_add_new(&l));
    assert_ok(mt_graph_add(g, "skip", l, 2, (int[]){h, x}, &h));
    h = node(g, "relu2", mt_relu_new(&l), &l, h);
    h = node(g, "pool", mt_global_avg_pool2d_new(&l), &l, h);
    h = node(g, "fc", mt_linear_load(sd, "fc", NULL, &l), &l, h);   /* [4,4]: no flag */
    assert_ok(mt_graph_output(g, h));
    return g;
}

static void resnet_block_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = NULL, *io = NULL;
    mt_tensor *x = NULL, *want = NULL;
    assert_ok(mt_safetensors_open(RESNET_DIR "/resnet_block.safetensors", &st));
    assert_ok(mt_safetensors_open(RESNET_DIR "/resnet_block_io.safetensors", &io));
    assert_ok(mt_safetensors_get(io, "x", &x));          /* [8,6,6,4] NHWC */
    assert_ok(mt_safetensors_get(io, "logits", &want));  /* [8,4] */
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    for (int fold = 0; fold < 2; fold++) {
        mt_graph *g = build(&sd, fold);
        if (fold)
            assert_ok(mt_graph_freeze(g));
        const mt_tensor *y = NULL;
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
        assert_int_equal(y->rank, 2);
        assert_int_equal(y->shape[0], 8);
        assert_int_equal(y->shape[1], 4);
        const float *got = y->data, *ref = want->data;
        assert_close(got, ref, 32, 1e-4, 0);
        for (int i = 0; i < 8; i++) {
            int a = 0, b = 0;
            for (int c = 1; c < 4; c++) {
                a = got[i * 4 + c] > got[i * 4 + a] ? c : a;
                b = ref[i * 4 + c] > ref[i * 4 + b] ? c : b;
            }
            assert_int_equal(a, b);
        }
        long before = counter.allocations;
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
        assert_int_equal(counter.allocations, before);
        assert_close((const float *)y->data, ref, 32, 1e-4, 0);
        mt_graph_free(g);
    }
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* An explicit kernel layout wins over the framework's: conv1.weight
 * [4,4,3,3] (OIHW) read as HWIO has 3 out channels, which its bias [4]
 * does not fit. */
static void conv2d_load_keeps_an_explicit_layout(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_open(RESNET_DIR "/resnet_block.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){6, 6, 4}, &x));
    /* NCHW declared by mistake: the message says so */
    int nchw;
    assert_ok(mt_graph_input(g, "nchw", MT_DTYPE_F32, 3, (int64_t[]){4, 6, 6}, &nchw));
    assert_ok(mt_conv2d_load(&sd, "conv1", NULL, &l));
    assert_fails(mt_graph_add(g, "conv1", l, 1, &nchw, &h), MT_ERR_SHAPE,
                 "expects 4 input channels, input 'nchw' gives 6 (NCHW? the layer takes "
                 "NHWC: permute {0,2,3,1})");
    const mt_conv2d_options hwio = {.layout = MT_KERNEL_HWIO};
    assert_int_equal(mt_conv2d_load(&sd, "conv1", &hwio, &l), MT_ERR_SHAPE);
    assert_non_null(strstr(mt_last_error(), "kernel conv1.weight [4,4,3,3], Keras"));
    assert_null(l);
    assert_ok(mt_conv2d_load(&sd, "conv1", NULL, &l));   /* AUTO: PyTorch's OIHW */
    assert_ok(mt_graph_add(g, "conv1", l, 1, &x, &h));
    mt_graph_free(g);
    mt_safetensors_close(st);
}

/* make_resnet_down.py's CNN by its state_dict names: PyTorch's padding=p
 * is explicit padding (stride 2 and padding=1 is not Keras' 'same', which
 * puts the extra row at the bottom), dilation and groups as PyTorch's. */
static mt_graph *build_down(const mt_state_dict *sd)
{
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, h, r;
    const mt_conv2d_options pad1 = {.padding = MT_PADDING_EXPLICIT, .pad_top = 1,
                                    .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
    mt_conv2d_options s2 = pad1;
    s2.stride_h = s2.stride_w = 2;
    const mt_conv2d_options dw = {.padding = MT_PADDING_EXPLICIT, .pad_top = 2,
                                  .pad_bottom = 2, .pad_left = 2, .pad_right = 2,
                                  .dilation_h = 2, .dilation_w = 2, .groups = 16};
    const mt_conv2d_options pw = {.padding = MT_PADDING_EXPLICIT, .pad_left = 1,
                                  .pad_right = 1};   /* padding=(0,1) */
    const mt_max_pool2d_options pool = {3, 3, 2, 2, .pad_h = 1, .pad_w = 1};
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){10, 10, 3}, &x));
    h = node(g, "stem", mt_conv2d_load(sd, "stem", &pad1, &l), &l, x);
    h = node(g, "bn0", mt_batch_norm_load(sd, "bn0", NULL, &l), &l, h);
    h = node(g, "relu0", mt_relu_new(&l), &l, h);
    h = node(g, "pool", mt_max_pool2d_new(&pool, &l), &l, h);
    r = node(g, "down", mt_conv2d_load(sd, "down", &(mt_conv2d_options){.stride_h = 2,
                                                                         .stride_w = 2},
                                       &l), &l, h);
    r = node(g, "bnd", mt_batch_norm_load(sd, "bnd", NULL, &l), &l, r);
    h = node(g, "c1", mt_conv2d_load(sd, "c1", &s2, &l), &l, h);
    h = node(g, "bn1", mt_batch_norm_load(sd, "bn1", NULL, &l), &l, h);
    h = node(g, "relu1", mt_relu_new(&l), &l, h);
    h = node(g, "c2", mt_conv2d_load(sd, "c2", &pad1, &l), &l, h);
    h = node(g, "bn2", mt_batch_norm_load(sd, "bn2", NULL, &l), &l, h);
    assert_ok(mt_add_new(&l));
    assert_ok(mt_graph_add(g, "skip", l, 2, (int[]){h, r}, &h));
    h = node(g, "relu2", mt_relu_new(&l), &l, h);
    h = node(g, "dw", mt_conv2d_load(sd, "dw", &dw, &l), &l, h);
    h = node(g, "bn3", mt_batch_norm_load(sd, "bn3", NULL, &l), &l, h);
    h = node(g, "relu3", mt_relu_new(&l), &l, h);
    h = node(g, "pw", mt_conv2d_load(sd, "pw", &pw, &l), &l, h);
    h = node(g, "gap", mt_global_avg_pool2d_new(&l), &l, h);
    h = node(g, "fc", mt_linear_load(sd, "fc", NULL, &l), &l, h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

static void downsampling_cnn_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = NULL, *io = NULL;
    mt_tensor *x = NULL, *want = NULL;
    assert_ok(mt_safetensors_open(RESNET_DIR "/resnet_down.safetensors", &st));
    assert_ok(mt_safetensors_open(RESNET_DIR "/resnet_down_io.safetensors", &io));
    assert_ok(mt_safetensors_get(io, "x", &x));          /* [4,10,10,3] NHWC */
    assert_ok(mt_safetensors_get(io, "logits", &want));  /* [4,5] */
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_graph *g = build_down(&sd);
    mt_shape shape;
    assert_ok(mt_graph_shape_get(g, mt_graph_find(g, "pool"), &shape));
    assert_int_equal(shape.dim[1], 5);   /* (10 + 2 - 3) / 2 + 1 */
    assert_ok(mt_graph_shape_get(g, mt_graph_find(g, "c1"), &shape));
    assert_int_equal(shape.dim[1], 3);
    for (int frozen = 0; frozen < 2; frozen++) {
        if (frozen)
            assert_ok(mt_graph_freeze(g));
        graph_matches(g, x, want, 1e-4, 1e-4);
    }
    mt_graph_free(g);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* The new options are checked when the layer is made, naming the layer. */
static void conv2d_padding_groups_refused(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_safetensors_open(RESNET_DIR "/resnet_down.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    assert_fails(mt_conv2d_load(&sd, "c1", &(mt_conv2d_options){.pad_top = 1}, &l),
                 MT_ERR_INVALID_ARGUMENT, "conv2d c1.weight: pads (top 1, bottom 0");
    assert_fails(mt_conv2d_load(&sd, "dw", &(mt_conv2d_options){.groups = 3}, &l),
                 MT_ERR_SHAPE, "groups 3 does not divide the 16 output channels");
    assert_fails(mt_conv2d_load(&sd, "stem", &(mt_conv2d_options){.groups = INT64_MAX}, &l),
                 MT_ERR_SHAPE, "groups 9223372036854775807 does not divide");
    assert_fails(mt_conv2d_load(&sd, "dw", &(mt_conv2d_options){.groups = 16,
                                                                .in_channels = 8}, &l),
                 MT_ERR_SHAPE, "groups 16 does not divide");
    assert_fails(mt_conv2d_load(&sd, "dw", &(mt_conv2d_options){.dilation_h = -1}, &l),
                 MT_ERR_INVALID_ARGUMENT, "dilation (-1,0)");
    assert_null(l);
    /* depthwise [16,1,3,3] on 8 channels: the layer says what it expects */
    mt_graph *g = NULL;
    int x;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){5, 5, 8}, &x));
    assert_ok(mt_conv2d_load(&sd, "dw", &(mt_conv2d_options){.groups = 16}, &l));
    assert_fails(mt_graph_add(g, "dw", l, 1, &x, NULL), MT_ERR_SHAPE,
                 "expects 16 input channels, input 'x' gives 8");
    assert_ok(mt_conv2d_load(&sd, "dw", &(mt_conv2d_options){.groups = 16,
                                                             .dilation_h = 3}, &l));
    assert_ok(mt_graph_input(g, "z", MT_DTYPE_F32, 3, (int64_t[]){6, 5, 16}, &x));
    assert_fails(mt_graph_add(g, "dw", l, 1, &x, NULL), MT_ERR_SHAPE,
                 "its kernel 3x3 (dilation 3x1) does not fit the 6x5 image");
    assert_fails(mt_max_pool2d_new(&(mt_max_pool2d_options){3, 3, 2, 2, .pad_h = 2}, &l),
                 MT_ERR_INVALID_ARGUMENT, "pads (2,0) for pool size (3,3)");
    mt_graph_free(g);
    mt_safetensors_close(st);
}

/* make_decoder.py's network by its state_dict names. */
static mt_graph *build_decoder(const mt_state_dict *sd)
{
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, h, skip;
    const mt_conv2d_options pad1 = {.padding = MT_PADDING_EXPLICIT, .pad_top = 1,
                                    .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
    mt_conv2d_options s2 = pad1;
    s2.stride_h = s2.stride_w = 2;
    const mt_conv_transpose2d_params up = {.stride_h = 2, .stride_w = 2, .pad_top = 1,
                                           .pad_bottom = 1, .pad_left = 1, .pad_right = 1,
                                           .output_padding_h = 1, .output_padding_w = 1};
    const mt_conv_transpose2d_params ct2 = {.stride_h = 2, .stride_w = 2, .pad_top = 1,
                                            .pad_bottom = 1, .pad_left = 1, .pad_right = 1,
                                            .groups = 2};
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){8, 8, 3}, &x));
    h = node(g, "enc", mt_conv2d_load(sd, "enc", &pad1, &l), &l, x);
    h = node(g, "gn1", mt_group_norm_load(sd, "gn1", 2, NULL, &l), &l, h);
    skip = node(g, "silu", mt_activation_layer_new(MT_ACTIVATION_SILU, &l), &l, h);
    h = node(g, "down", mt_conv2d_load(sd, "down", &s2, &l), &l, skip);
    h = node(g, "gn2", mt_group_norm_load(sd, "gn2", 4, NULL, &l), &l, h);
    h = node(g, "elu", mt_elu_new(1.0f, &l), &l, h);
    h = node(g, "up", mt_conv_transpose2d_load(sd, "up", &up, &l), &l, h);
    assert_ok(mt_concat_new(-1, &l));
    assert_ok(mt_graph_add(g, "cat", l, 2, (int[]){h, skip}, &h));
    h = node(g, "ct2", mt_conv_transpose2d_load(sd, "ct2", &ct2, &l), &l, h);
    h = node(g, "hardswish", mt_hardswish_new(&l), &l, h);
    h = node(g, "head", mt_conv2d_load(sd, "head", NULL, &l), &l, h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

static void decoder_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = NULL, *io = NULL;
    mt_tensor *x = NULL, *want = NULL;
    assert_ok(mt_safetensors_open(RESNET_DIR "/decoder.safetensors", &st));
    assert_ok(mt_safetensors_open(RESNET_DIR "/decoder_io.safetensors", &io));
    assert_ok(mt_safetensors_get(io, "x", &x));   /* [3,8,8,3] NHWC */
    assert_ok(mt_safetensors_get(io, "y", &want));   /* [3,16,16,2] NHWC */
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_graph *g = build_decoder(&sd);
    graph_matches(g, x, want, 1e-5, 1e-4);
    mt_graph_free(g);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* Wrong GroupNorm and ConvTranspose2D weights and options fail when the
 * layer is made or added, naming it. */
static void decoder_layers_refused(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_safetensors_open(RESNET_DIR "/decoder.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    const mt_state_dict keras = {st, MT_FRAMEWORK_KERAS};
    assert_fails(mt_group_norm_load(&sd, "gn1", 3, NULL, &l), MT_ERR_SHAPE,
                 "group_norm gn1.weight: weight gn1.weight [8] and bias gn1.bias [8] must be "
                 "the same [C], C a multiple of num_groups 3");
    assert_fails(mt_group_norm_load(&sd, "gn1", 0, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "num_groups 0");
    assert_fails(mt_conv_transpose2d_load(&sd, "ct2", &(mt_conv_transpose2d_params){
                     .groups = 3}, &l), MT_ERR_SHAPE, "weight ct2.weight [16,2,4,4], expected");
    assert_fails(mt_conv_transpose2d_load(&sd, "up", &(mt_conv_transpose2d_params){
                     .stride_h = 2, .output_padding_h = 2}, &l), MT_ERR_INVALID_ARGUMENT,
                 "output_padding (2,0) out of range");
    assert_fails(mt_conv_transpose2d_load(&sd, "up", &(mt_conv_transpose2d_params){
                     .data_layout = MT_DATA_LAYOUT_NCHW}, &l), MT_ERR_INVALID_ARGUMENT,
                 "runs on NHWC activations");
    assert_fails(mt_conv_transpose2d_load(&keras, "up", NULL, &l), MT_ERR_UNSUPPORTED,
                 "a Keras Conv2DTranspose is mt_conv2d_transpose_load");
    assert_null(l);
    mt_graph *g = NULL;
    int x;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){4, 4, 8}, &x));
    assert_ok(mt_conv_transpose2d_load(&sd, "up", NULL, &l));
    assert_fails(mt_graph_add(g, "up", l, 1, &x, NULL), MT_ERR_SHAPE,
                 "expects 16 input channels, input 'x' gives 8");
    int x16;
    assert_ok(mt_graph_input(g, "x16", MT_DTYPE_F32, 3, (int64_t[]){4, 4, 16}, &x16));
    assert_ok(mt_conv_transpose2d_load(&sd, "up", &(mt_conv_transpose2d_params){
        .pad_top = INT64_MAX, .pad_bottom = INT64_MAX}, &l));
    assert_fails(mt_graph_add(g, "up", l, 1, &x16, NULL), MT_ERR_OVERFLOW,
                 "its output size for the 4x4 image input 'x16' gives overflows");
    assert_ok(mt_conv_transpose2d_load(&sd, "up", &(mt_conv_transpose2d_params){
        .pad_top = 30}, &l));
    assert_fails(mt_graph_add(g, "up", l, 1, &x16, NULL), MT_ERR_SHAPE,
                 "its padding leaves no output for the 4x4 image input 'x16' gives");
    assert_ok(mt_group_norm_load(&sd, "gn2", 4, NULL, &l));
    assert_fails(mt_graph_add(g, "gn2", l, 1, &x, NULL), MT_ERR_SHAPE,
                 "expects F32 [N,...,C] with C = 16, input 'x' gives F32 with 4 dims and C = 8");
    mt_graph_free(g);
    mt_safetensors_close(st);
}

/* A PyTorch BatchNorm with its weight but not its bias (a partial or
 * misnamed file) and one with a negative running variance are refused,
 * naming the tensors; Keras' BatchNormalization(center=False) has gamma
 * alone, which loads. */
static void batch_norm_statistics_refused(void **state)
{
    (void)state;
    mt_safetensors *st = NULL, *part = NULL;
    mt_tensor *t[3] = {0}, *neg = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_safetensors_open(RESNET_DIR "/resnet_down.safetensors", &st));
    const char *names[3] = {"bn2.running_mean", "bn2.running_var", "bn2.weight"};
    for (int i = 0; i < 3; i++)
        assert_ok(mt_safetensors_get(st, names[i], &t[i]));
    mt_safetensors_item items[3];
    for (int i = 0; i < 3; i++)
        items[i] = (mt_safetensors_item){names[i], 0, t[i]};
    void *buf = NULL;
    size_t size = 0;
    assert_ok(mt_safetensors_serialize(items, 3, NULL, 0, &buf, &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &part));
    assert_fails(mt_batch_norm_load(&(mt_state_dict){part, MT_FRAMEWORK_PYTORCH}, "bn2", NULL,
                                    &l),
                 MT_ERR_NOT_FOUND, "batch_norm bn2: bn2.weight is in the file but bn2.bias "
                 "is not");
    assert_null(l);
    assert_ok(mt_tensor_contiguous(t[1], &neg));
    ((float *)neg->data)[3] = -0.5f;
    mt_tensor_name_set(neg, "bn2.running_var");
    assert_fails(mt_batch_norm_new(t[0], neg, t[2], NULL, NULL, &l), MT_ERR_FORMAT,
                 "var bn2.running_var [16] is -0.5 at index 3, expected >= 0");
    /* also when eps would make var + eps positive: the statistics are corrupt */
    assert_fails(mt_batch_norm_new(t[0], neg, t[2], NULL,
                                   &(mt_batch_norm_options){.eps = 1.0f}, &l),
                 MT_ERR_FORMAT, "is -0.5 at index 3, expected >= 0");
    assert_fails(mt_batch_norm_new(t[0], t[1], t[2], NULL,
                                   &(mt_batch_norm_options){.eps = INFINITY}, &l),
                 MT_ERR_INVALID_ARGUMENT, "eps inf");
    assert_fails(mt_layer_norm_new(t[2], NULL, &(mt_norm_options){.eps = INFINITY}, &l),
                 MT_ERR_INVALID_ARGUMENT, "eps inf");
    assert_fails(mt_rms_norm_new(t[2], &(mt_norm_options){.eps = INFINITY}, &l),
                 MT_ERR_INVALID_ARGUMENT, "eps inf");
    assert_fails(mt_group_norm_new(4, t[2], NULL, &(mt_norm_options){.eps = INFINITY}, &l),
                 MT_ERR_INVALID_ARGUMENT, "eps inf");
    assert_null(l);
    mt_safetensors_close(part);
    mt_safetensors_buffer_free(buf);
    for (int i = 0; i < 3; i++)
        items[i].name = (const char *[]){"bn/moving_mean", "bn/moving_variance",
                                         "bn/gamma"}[i];
    assert_ok(mt_safetensors_serialize(items, 3, NULL, 0, &buf, &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &part));
    assert_ok(mt_batch_norm_load(&(mt_state_dict){part, MT_FRAMEWORK_KERAS}, "bn", NULL, &l));
    mt_layer_free(l);
    mt_safetensors_close(part);
    mt_safetensors_buffer_free(buf);
    mt_tensor_free(neg);
    for (int i = 0; i < 3; i++)
        mt_tensor_free(t[i]);
    mt_safetensors_close(st);
}

/* make_vgg.py's CNN: each padding=1 conv (one grouped, one dilated in
 * height) fused with the 2x2 max pool after it, frozen (Winograd) and not,
 * at batch 1 and 5; no heap after the first pass. */
static void vgg_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = NULL, *io = NULL;
    mt_tensor *x = NULL, *want = NULL, one;
    assert_ok(mt_safetensors_open(RESNET_DIR "/vgg.safetensors", &st));
    assert_ok(mt_safetensors_open(RESNET_DIR "/vgg_io.safetensors", &io));
    assert_ok(mt_safetensors_get(io, "x", &x));            /* [5,33,32,3] NHWC */
    assert_ok(mt_safetensors_get(io, "logits", &want));    /* [5,4] */
    assert_ok(mt_narrow_into(x, 0, 0, 1, &one));
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    const mt_max_pool2d_options pool = {.pool_h = 2, .pool_w = 2};
    mt_conv2d_options pad1 = {.padding = MT_PADDING_EXPLICIT, .pad_top = 1, .pad_bottom = 1,
                              .pad_left = 1, .pad_right = 1};
    mt_conv2d_options grouped = pad1, dilated = pad1;
    grouped.groups = 4;
    dilated.pad_top = dilated.pad_bottom = dilated.dilation_h = 2;   /* padding=(2,1) */
    for (int frozen = 0; frozen < 2; frozen++) {
        mt_sequential *m = NULL;
        mt_layer *l = NULL;
        assert_ok(mt_sequential_new(3, (int64_t[]){33, 32, 3}, &m));
        const struct { const char *prefix; const mt_conv2d_options *o; bool bn, relu; } c[] = {
            {"0", &pad1, false, true}, {"3", &pad1, true, true},
            {"7", &grouped, false, true}, {"10", &dilated, false, false}};
        for (int i = 0; i < 4; i++) {
            assert_ok(mt_conv2d_load(&sd, c[i].prefix, c[i].o, &l));
            assert_ok(mt_sequential_add(m, l));
            if (c[i].bn) {
                assert_ok(mt_batch_norm_load(&sd, "4", NULL, &l));
                assert_ok(mt_sequential_add(m, l));
            }
            if (c[i].relu) {
                assert_ok(mt_relu_new(&l));
                assert_ok(mt_sequential_add(m, l));
            }
            assert_ok(mt_max_pool2d_new(&pool, &l));
            assert_ok(mt_sequential_add(m, l));
        }
        assert_ok(mt_global_avg_pool2d_new(&l));
        assert_ok(mt_sequential_add(m, l));
        assert_ok(mt_linear_load(&sd, "14", NULL, &l));
        assert_ok(mt_sequential_add(m, l));
        if (frozen)
            assert_ok(mt_sequential_freeze(m));
        const mt_tensor *y = NULL;
        assert_ok(mt_sequential_forward(m, &one, &y));
        assert_close((const float *)y->data, (const float *)want->data, 4, 1e-5, 1e-4);
        assert_ok(mt_sequential_forward(m, x, &y));
        long before = counter.allocations;
        assert_ok(mt_sequential_forward(m, x, &y));
        assert_int_equal(counter.allocations, before);
        assert_close((const float *)y->data, (const float *)want->data, 20, 1e-5, 1e-4);
        mt_sequential_free(m);
    }
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* make_flatten.py's CNN with its Linear weights as saved: a Permute to
 * NCHW before each Flatten gives PyTorch's (c, h, w) order, a Reshape and a
 * Permute back to NHWC stand for nn.Unflatten(1, (2, 6, 6)). */
static void flatten_order_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = NULL, *io = NULL;
    mt_tensor *x = NULL, *want = NULL;
    assert_ok(mt_safetensors_open(RESNET_DIR "/flatten.safetensors", &st));
    assert_ok(mt_safetensors_open(RESNET_DIR "/flatten_io.safetensors", &io));
    assert_ok(mt_safetensors_get(io, "x", &x));          /* [4,8,8,3] NHWC */
    assert_ok(mt_safetensors_get(io, "logits", &want));  /* [4,5] */
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    const int to_nchw[4] = {0, 3, 1, 2}, to_nhwc[4] = {0, 2, 3, 1};
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_sequential_new(3, (int64_t[]){8, 8, 3}, &m));
    mt_status made[] = {
        mt_conv2d_load(&sd, "0", NULL, &l), mt_sequential_add(m, l),
        mt_relu_new(&l), mt_sequential_add(m, l),
        mt_permute_new(4, to_nchw, &l), mt_sequential_add(m, l),
        mt_flatten_new(1, -1, &l), mt_sequential_add(m, l),
        mt_linear_load(&sd, "3", NULL, &l), mt_sequential_add(m, l),
        mt_relu_new(&l), mt_sequential_add(m, l),
        mt_reshape_new(3, (int64_t[]){2, -1, 6}, &l), mt_sequential_add(m, l),
        mt_permute_new(4, to_nhwc, &l), mt_sequential_add(m, l),
        mt_conv2d_load(&sd, "6", NULL, &l), mt_sequential_add(m, l),
        mt_permute_new(4, to_nchw, &l), mt_sequential_add(m, l),
        mt_flatten_new(1, -1, &l), mt_sequential_add(m, l),
        mt_linear_load(&sd, "8", NULL, &l), mt_sequential_add(m, l)};
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++)
        assert_int_equal(made[i], MT_OK);
    sequential_matches(m, x, want, 1e-5, 1e-4);
    /* what is refused, naming the layer */
    assert_fails(mt_reshape_new(2, (int64_t[]){-1, -1}, &l), MT_ERR_INVALID_ARGUMENT,
                 "reshape: dim 1 of the sample shape is -1 (>= 0, or one -1)");
    assert_fails(mt_permute_new(4, (const int[]){1, 0, 2, 3}, &l), MT_ERR_INVALID_ARGUMENT,
                 "permute: perm[0] = 1: expected a permutation of 0..3 that keeps the batch");
    assert_fails(mt_permute_new(3, (const int[]){0, 1, 1}, &l), MT_ERR_INVALID_ARGUMENT,
                 "perm[2] = 1");
    assert_ok(mt_reshape_new(2, (int64_t[]){3, 7}, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "(reshape [N,3,7]) cannot view the 5 values per sample the previous layer "
                 "gives as [N,3,7]");
    assert_ok(mt_permute_new(3, (const int[]){0, 2, 1}, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "(permute (0,2,1)) expects 3 dims, the previous layer gives 2");
    mt_sequential_free(m);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* make_conv1d.py's 1-D CNN on channels-last sequences: Conv1d with
 * stride, padding, dilation and groups, BatchNorm1d, the mean over the
 * length as a global average pool over [N,1,L,C]. */
static void conv1d_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = NULL, *io = NULL;
    mt_tensor *x = NULL, *want = NULL;
    assert_ok(mt_safetensors_open(RESNET_DIR "/conv1d.safetensors", &st));
    assert_ok(mt_safetensors_open(RESNET_DIR "/conv1d_io.safetensors", &io));
    assert_ok(mt_safetensors_get(io, "x", &x));          /* [4,20,4] */
    assert_ok(mt_safetensors_get(io, "logits", &want));  /* [4,3] */
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    const mt_conv2d_options c1 = {.stride_w = 2, .padding = MT_PADDING_EXPLICIT,
                                  .pad_left = 2, .pad_right = 2};
    const mt_conv2d_options c2 = {.padding = MT_PADDING_EXPLICIT, .pad_left = 2,
                                  .pad_right = 2, .dilation_w = 2, .groups = 2};
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_sequential_new(2, (int64_t[]){20, 4}, &m));
    mt_status made[] = {
        mt_conv1d_load(&sd, "c1", &c1, &l), mt_sequential_add(m, l),
        mt_batch_norm_load(&sd, "bn", NULL, &l), mt_sequential_add(m, l),
        mt_relu_new(&l), mt_sequential_add(m, l),
        mt_conv1d_load(&sd, "c2", &c2, &l), mt_sequential_add(m, l),
        mt_relu_new(&l), mt_sequential_add(m, l),
        mt_reshape_new(3, (int64_t[]){1, -1, 8}, &l), mt_sequential_add(m, l),
        mt_global_avg_pool2d_new(&l), mt_sequential_add(m, l),
        mt_linear_load(&sd, "fc", NULL, &l), mt_sequential_add(m, l)};
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++)
        assert_int_equal(made[i], MT_OK);
    sequential_matches(m, x, want, 1e-5, 1e-4);
    /* refused, naming the layer and the shapes */
    assert_fails(mt_conv1d_load(&sd, "c1", &(mt_conv2d_options){.stride_h = 2}, &l),
                 MT_ERR_INVALID_ARGUMENT, "conv1d c1.weight: options out of range (the _h");
    assert_fails(mt_conv1d_load(&sd, "c2", &(mt_conv2d_options){.groups = 3}, &l),
                 MT_ERR_SHAPE, "kernel c2.weight [8,4,3] does not fit PyTorch "
                 "(out,in/groups,k) with groups 3");
    assert_fails(mt_conv1d_load(&sd, "fc", NULL, &l), MT_ERR_SHAPE,
                 "conv1d fc.weight: kernel fc.weight [3,8], expected 3 dims");
    assert_ok(mt_conv1d_load(&sd, "c2", NULL, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "(conv1d c2.weight) expects F32 [N,L,C] input (3 dims), the previous layer "
                 "gives 2 dims");
    mt_sequential_free(m);
    assert_ok(mt_sequential_new(2, (int64_t[]){3, 4}, &m));
    assert_ok(mt_conv1d_load(&sd, "c1", NULL, &l));
    assert_fails(mt_sequential_add(m, l), MT_ERR_SHAPE,
                 "its kernel 5 (dilation 1) does not fit the length 3 the input gives");
    mt_sequential_free(m);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* make_mobilenet.py's block: Hardswish, ReLU6 and Hardtanh as clamps, a
 * depthwise conv, the squeeze-and-excitation gate as a pool, a Reshape to
 * [N,1,1,16], 1x1 convs, Hardsigmoid and a broadcast Multiply. */
static void mobilenet_block_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = NULL, *io = NULL;
    mt_tensor *x = NULL, *want = NULL;
    assert_ok(mt_safetensors_open(RESNET_DIR "/mobilenet.safetensors", &st));
    assert_ok(mt_safetensors_open(RESNET_DIR "/mobilenet_io.safetensors", &io));
    assert_ok(mt_safetensors_get(io, "x", &x));          /* [4,12,12,3] NHWC */
    assert_ok(mt_safetensors_get(io, "logits", &want));  /* [4,5] */
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_conv2d_options s2 = {.stride_h = 2, .stride_w = 2, .padding = MT_PADDING_EXPLICIT,
                            .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
    mt_conv2d_options dw = s2;
    dw.stride_h = dw.stride_w = 0;
    dw.groups = 16;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int in, x0, h, s, y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){12, 12, 3}, &in));
    x0 = node(g, "stem", mt_conv2d_load(&sd, "stem", &s2, &l), &l, in);
    x0 = node(g, "bn0", mt_batch_norm_load(&sd, "bn0", NULL, &l), &l, x0);
    x0 = node(g, "hardswish", mt_hardswish_new(&l), &l, x0);
    h = node(g, "expand", mt_conv2d_load(&sd, "expand", NULL, &l), &l, x0);
    h = node(g, "bn1", mt_batch_norm_load(&sd, "bn1", NULL, &l), &l, h);
    h = node(g, "relu6a", mt_clamp_new(0, 6, &l), &l, h);
    h = node(g, "dw", mt_conv2d_load(&sd, "dw", &dw, &l), &l, h);
    h = node(g, "bn2", mt_batch_norm_load(&sd, "bn2", NULL, &l), &l, h);
    h = node(g, "relu6b", mt_clamp_new(0, 6, &l), &l, h);
    s = node(g, "squeeze", mt_global_avg_pool2d_new(&l), &l, h);
    s = node(g, "as_image", mt_reshape_new(3, (int64_t[]){1, 1, 16}, &l), &l, s);
    s = node(g, "fc1", mt_conv2d_load(&sd, "fc1", NULL, &l), &l, s);
    s = node(g, "relu", mt_relu_new(&l), &l, s);
    s = node(g, "fc2", mt_conv2d_load(&sd, "fc2", NULL, &l), &l, s);
    s = node(g, "gate", mt_hardsigmoid_new(&l), &l, s);
    assert_ok(mt_multiply_new(&l));
    assert_ok(mt_graph_add(g, "excite", l, 2, (int[]){h, s}, &h));
    h = node(g, "project", mt_conv2d_load(&sd, "project", NULL, &l), &l, h);
    h = node(g, "bn3", mt_batch_norm_load(&sd, "bn3", NULL, &l), &l, h);
    assert_ok(mt_add_new(&l));
    assert_ok(mt_graph_add(g, "skip", l, 2, (int[]){h, x0}, &h));
    y = node(g, "pool", mt_global_avg_pool2d_new(&l), &l, h);
    y = node(g, "hardtanh", mt_clamp_new(-0.5f, 0.5f, &l), &l, y);
    y = node(g, "fc", mt_linear_load(&sd, "fc", NULL, &l), &l, y);
    assert_ok(mt_graph_output(g, y));
    for (int frozen = 0; frozen < 2; frozen++) {
        if (frozen)
            assert_ok(mt_graph_freeze(g));
        graph_matches(g, x, want, 1e-5, 1e-4);
    }
    /* refused, naming the inputs */
    assert_ok(mt_multiply_new(&l));
    assert_fails(mt_graph_add(g, "bad", l, 2, (int[]){h, mt_graph_find(g, "squeeze")}, NULL),
                 MT_ERR_SHAPE, "expects inputs that broadcast (each dim equal or 1), node "
                 "'skip' gives [1,6,6,8] and node 'squeeze' gives [1,16]");
    assert_fails(mt_clamp_new(1, 0, &l), MT_ERR_INVALID_ARGUMENT,
                 "clamp: bounds [1, 0], expected lo <= hi");
    mt_graph_free(g);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

int main(void)
{
    probe_install(&counter, -1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resnet_block_matches_pytorch),
        cmocka_unit_test(conv2d_load_keeps_an_explicit_layout),
        cmocka_unit_test(downsampling_cnn_matches_pytorch),
        cmocka_unit_test(conv2d_padding_groups_refused),
        cmocka_unit_test(decoder_matches_pytorch),
        cmocka_unit_test(decoder_layers_refused),
        cmocka_unit_test(batch_norm_statistics_refused),
        cmocka_unit_test(vgg_matches_pytorch),
        cmocka_unit_test(flatten_order_matches_pytorch),
        cmocka_unit_test(conv1d_matches_pytorch),
        cmocka_unit_test(mobilenet_block_matches_pytorch),
    };
    return cmocka_run_group_tests_name("nn_resnet", tests, NULL, NULL);
}
