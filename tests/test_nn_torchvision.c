/* test_nn_torchvision.c — two models built from torchvision 0.14's own
 * classes (tests/resnet/make_torchvision.py), width-reduced so that their
 * weights are small, ported by their state_dict names as a user would port
 * shufflenet_v2_x0_5 and efficientnet_b0: the builders below follow
 * torchvision's code (the same functions, given the full models' stage
 * sizes, build the full models) and the logits must match PyTorch's.
 *   ShuffleNetV2: x.chunk(2, dim=1) (two Narrow layers), depthwise branches,
 *     torch.cat, channel_shuffle(x, 2) (ChannelShuffle), x.mean([2, 3]).
 *   EfficientNet: MBConv blocks with SiLU, squeeze-and-excitation (pooled
 *     1x1 convs, a sigmoid gate multiplied in), StochasticDepth (the
 *     identity at eval) and residual adds.
 *   LRASPP (tests/resnet/make_lraspp.py, lraspp_mobilenet_v3_large's
 *     segmentation model): a MobileNetV3 backbone (hardswish, SE with a
 *     hardsigmoid gate, its last stage dilated instead of strided), two of
 *     its feature maps, a pooled sigmoid gate, F.interpolate(bilinear) to
 *     sizes that are not whole multiples, per-pixel logits. */
#include <string.h>
#include "test_util.h"

static alloc_probe counter;   /* every allocation, installed by main */

/* Add node `name` on `input`: the layer *l, which `made` made. */
static int node(mt_graph *g, const char *name, mt_status made, mt_layer **l, int input)
{
    if (made)
        fail_msg("%s: %s", name, mt_last_error());
    int id = -1;
    assert_ok(mt_graph_add(g, name, *l, 1, &input, &id));
    return id;
}

/* A two-input node (add, multiply, concat) */
static int node2(mt_graph *g, const char *name, mt_status made, mt_layer **l, int a, int b)
{
    if (made)
        fail_msg("%s: %s", name, mt_last_error());
    int id = -1;
    assert_ok(mt_graph_add(g, name, *l, 2, (int[]){a, b}, &id));
    return id;
}

/* PyTorch's Conv2d(k, stride, padding=(k-1)/2, groups) "prefix.conv", then
 * BatchNorm2d "prefix.bn" (the graph folds it into the conv), then `act`
 * (NONE, RELU, SILU) */
static int conv_bn(mt_graph *g, const mt_state_dict *sd, const char *conv, const char *bn,
                   int64_t k, int64_t stride, int64_t groups, mt_activation act, int h)
{
    mt_layer *l = NULL;
    int64_t p = (k - 1) / 2;
    mt_conv2d_options o = {.padding = MT_PADDING_EXPLICIT, .pad_top = p, .pad_bottom = p,
                           .pad_left = p, .pad_right = p, .stride_h = stride,
                           .stride_w = stride, .groups = groups};
    h = node(g, conv, mt_conv2d_load(sd, conv, &o, &l), &l, h);
    h = node(g, bn, mt_batch_norm_load(sd, bn, NULL, &l), &l, h);
    if (act != MT_ACTIVATION_NONE) {
        char name[160];
        snprintf(name, sizeof name, "%s.act", bn);
        h = node(g, name, mt_activation_layer_new(act, &l), &l, h);
    }
    return h;
}

/* "prefix.suffix", in a ring of 16 buffers: a name lives until 16 more are
 * made (the graph copies node names, the loaders read them at once) */
static const char *at(const char *prefix, const char *suffix)
{
    static char ring[16][160];
    static int next;
    char *s = ring[next++ % 16];
    snprintf(s, 160, "%s.%s", prefix, suffix);
    return s;
}

/* ---- ShuffleNetV2 ------------------------------------------------------------------ */

/* torchvision.models.shufflenetv2.InvertedResidual "p" on h with c channels */
static int shuffle_unit(mt_graph *g, const mt_state_dict *sd, const char *p, int64_t inp,
                        int64_t oup, int64_t stride, int h)
{
    mt_layer *l = NULL;
    int64_t bf = oup / 2;
    int left, right;
    if (stride == 1) {   /* x1, x2 = x.chunk(2, dim=1) */
        left = node(g, at(p, "x1"), mt_narrow_new(-1, 0, bf, &l), &l, h);
        right = node(g, at(p, "x2"), mt_narrow_new(-1, bf, bf, &l), &l, h);
    } else {             /* branch1: depthwise 3x3 stride 2, BN, 1x1, BN, ReLU */
        left = conv_bn(g, sd, at(p, "branch1.0"), at(p, "branch1.1"), 3, stride, inp,
                       MT_ACTIVATION_NONE, h);
        left = conv_bn(g, sd, at(p, "branch1.2"), at(p, "branch1.3"), 1, 1, 1,
                       MT_ACTIVATION_RELU, left);
        right = h;
    }
    right = conv_bn(g, sd, at(p, "branch2.0"), at(p, "branch2.1"), 1, 1, 1, MT_ACTIVATION_RELU,
                    right);
    right = conv_bn(g, sd, at(p, "branch2.3"), at(p, "branch2.4"), 3, stride, bf,
                    MT_ACTIVATION_NONE, right);
    right = conv_bn(g, sd, at(p, "branch2.5"), at(p, "branch2.6"), 1, 1, 1, MT_ACTIVATION_RELU,
                    right);
    h = node2(g, at(p, "cat"), mt_concat_new(-1, &l), &l, left, right);
    return node(g, at(p, "shuffle"), mt_channel_shuffle_new(2, &l), &l, h);
}

/* torchvision.models.ShuffleNetV2(repeats, channels) on [size,size,3] */
static mt_graph *shufflenet(const mt_state_dict *sd, const int *repeats, const int64_t *ch,
                            int64_t size)
{
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){size, size, 3}, &h));
    h = conv_bn(g, sd, "conv1.0", "conv1.1", 3, 2, 1, MT_ACTIVATION_RELU, h);
    h = node(g, "maxpool", mt_max_pool2d_new(&(mt_max_pool2d_options){3, 3, 2, 2, .pad_h = 1,
                                                                       .pad_w = 1}, &l), &l, h);
    int64_t in = ch[0];
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < repeats[s]; i++) {
            char p[32];
            snprintf(p, sizeof p, "stage%d.%d", s + 2, i);
            h = shuffle_unit(g, sd, p, i ? ch[s + 1] : in, ch[s + 1], i ? 1 : 2, h);
            in = ch[s + 1];
        }
    h = conv_bn(g, sd, "conv5.0", "conv5.1", 1, 1, 1, MT_ACTIVATION_RELU, h);
    h = node(g, "mean", mt_global_avg_pool2d_new(&l), &l, h);          /* x.mean([2, 3]) */
    h = node(g, "fc", mt_linear_load(sd, "fc", NULL, &l), &l, h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

/* ---- EfficientNet -------------------------------------------------------------------- */

typedef struct mbconv {
    int64_t expand, kernel, stride, in, out;
    int layers;
} mbconv;

/* torchvision.models.efficientnet.MBConv "p" */
static int mbconv_block(mt_graph *g, const mt_state_dict *sd, const char *p, const mbconv *c,
                        int64_t in, int64_t stride, int h)
{
    mt_layer *l = NULL;
    char b[64];
    int k = 0, x = h;
    int64_t exp = in * c->expand;
    if (exp != in) {
        snprintf(b, sizeof b, "%s.block.%d", p, k++);
        h = conv_bn(g, sd, at(b, "0"), at(b, "1"), 1, 1, 1, MT_ACTIVATION_SILU, h);
    }
    snprintf(b, sizeof b, "%s.block.%d", p, k++);
    h = conv_bn(g, sd, at(b, "0"), at(b, "1"), c->kernel, stride, exp, MT_ACTIVATION_SILU, h);
    /* SqueezeExcitation: avgpool, fc1 (1x1 conv), SiLU, fc2, sigmoid, * x */
    snprintf(b, sizeof b, "%s.block.%d", p, k++);
    int s = node(g, at(b, "avgpool"), mt_adaptive_avg_pool2d_new(1, 1, &l), &l, h);
    s = node(g, at(b, "fc1"), mt_conv2d_load(sd, at(b, "fc1"), NULL, &l), &l, s);
    s = node(g, at(b, "silu"), mt_activation_layer_new(MT_ACTIVATION_SILU, &l), &l, s);
    s = node(g, at(b, "fc2"), mt_conv2d_load(sd, at(b, "fc2"), NULL, &l), &l, s);
    s = node(g, at(b, "gate"), mt_activation_layer_new(MT_ACTIVATION_SIGMOID, &l), &l, s);
    h = node2(g, at(b, "scale"), mt_multiply_new(&l), &l, h, s);
    snprintf(b, sizeof b, "%s.block.%d", p, k);
    h = conv_bn(g, sd, at(b, "0"), at(b, "1"), 1, 1, 1, MT_ACTIVATION_NONE, h);
    if (stride == 1 && in == c->out)   /* StochasticDepth is the identity at eval */
        h = node2(g, at(p, "add"), mt_add_new(&l), &l, h, x);
    return h;
}

static mt_graph *efficientnet(const mt_state_dict *sd, const mbconv *cfg, int stages,
                              int64_t size)
{
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int h;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){size, size, 3}, &h));
    h = conv_bn(g, sd, "features.0.0", "features.0.1", 3, 2, 1, MT_ACTIVATION_SILU, h);
    for (int s = 0; s < stages; s++)
        for (int i = 0; i < cfg[s].layers; i++) {
            char p[32];
            snprintf(p, sizeof p, "features.%d.%d", s + 1, i);
            h = mbconv_block(g, sd, p, &cfg[s], i ? cfg[s].out : cfg[s].in,
                             i ? 1 : cfg[s].stride, h);
        }
    char a[32], b[32];
    snprintf(a, sizeof a, "features.%d.0", stages + 1);
    snprintf(b, sizeof b, "features.%d.1", stages + 1);
    h = conv_bn(g, sd, a, b, 1, 1, 1, MT_ACTIVATION_SILU, h);
    h = node(g, "avgpool", mt_global_avg_pool2d_new(&l), &l, h);
    h = node(g, "dropout", mt_dropout_new(0.2f, &l), &l, h);
    h = node(g, "classifier.1", mt_linear_load(sd, "classifier.1", NULL, &l), &l, h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

/* ---- LRASPP on a MobileNetV3 ------------------------------------------------------------- */

enum { ACT_NONE, ACT_RELU, ACT_HARDSWISH };

/* torchvision's InvertedResidualConfig, its channels as torchvision adjusted
 * them (_make_divisible(c, 8)) */
typedef struct bneck {
    int64_t in, kernel, expanded, out;
    bool se;
    int act;
    int64_t stride, dilation;
} bneck;

typedef struct size2 {
    int64_t h, w;
} size2;

/* Conv2dNormActivation "p" (p.0 with padding (k-1)/2·dilation, p.1) on h,
 * then `act`; *size follows the conv. MobileNetV3's norm_layer is
 * partial(nn.BatchNorm2d, eps=0.001): an eps the state_dict does not hold. */
static int conv_norm_act(mt_graph *g, const mt_state_dict *sd, const char *p, int64_t k,
                         int64_t stride, int64_t dilation, int64_t groups, int act, size2 *size,
                         int h)
{
    mt_layer *l = NULL;
    int64_t pad = (k - 1) / 2 * dilation;
    mt_conv2d_options o = {.padding = MT_PADDING_EXPLICIT, .pad_top = pad, .pad_bottom = pad,
                           .pad_left = pad, .pad_right = pad, .stride_h = stride,
                           .stride_w = stride, .dilation_h = dilation, .dilation_w = dilation,
                           .groups = groups};
    h = node(g, at(p, "0"), mt_conv2d_load(sd, at(p, "0"), &o, &l), &l, h);
    h = node(g, at(p, "1"), mt_batch_norm_load(sd, at(p, "1"), &(mt_batch_norm_options){
                                                   .eps = 1e-3f}, &l), &l, h);
    size->h = (size->h + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
    size->w = (size->w + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
    if (act == ACT_RELU)
        h = node(g, at(p, "relu"), mt_relu_new(&l), &l, h);
    else if (act == ACT_HARDSWISH)
        h = node(g, at(p, "hardswish"), mt_hardswish_new(&l), &l, h);
    return h;
}

/* torchvision.models.mobilenetv3.InvertedResidual "p" */
static int inverted_residual(mt_graph *g, const mt_state_dict *sd, const char *p, const bneck *c,
                             size2 *size, int h)
{
    mt_layer *l = NULL;
    char b[64];
    int k = 0, x = h;
    if (c->expanded != c->in) {
        snprintf(b, sizeof b, "%s.block.%d", p, k++);
        h = conv_norm_act(g, sd, b, 1, 1, 1, 1, c->act, size, h);
    }
    snprintf(b, sizeof b, "%s.block.%d", p, k++);   /* dilated blocks do not stride */
    h = conv_norm_act(g, sd, b, c->kernel, c->dilation > 1 ? 1 : c->stride, c->dilation,
                      c->expanded, c->act, size, h);
    if (c->se) {   /* SqueezeExcitation: pool, fc1, ReLU, fc2, Hardsigmoid, * x */
        snprintf(b, sizeof b, "%s.block.%d", p, k++);
        int s = node(g, at(b, "avgpool"), mt_adaptive_avg_pool2d_new(1, 1, &l), &l, h);
        s = node(g, at(b, "fc1"), mt_conv2d_load(sd, at(b, "fc1"), NULL, &l), &l, s);
        s = node(g, at(b, "relu"), mt_relu_new(&l), &l, s);
        s = node(g, at(b, "fc2"), mt_conv2d_load(sd, at(b, "fc2"), NULL, &l), &l, s);
        s = node(g, at(b, "gate"), mt_hardsigmoid_new(&l), &l, s);
        h = node2(g, at(b, "scale"), mt_multiply_new(&l), &l, h, s);
    }
    snprintf(b, sizeof b, "%s.block.%d", p, k);
    h = conv_norm_act(g, sd, b, 1, 1, 1, 1, ACT_NONE, size, h);
    if (c->stride == 1 && c->in == c->out)
        h = node2(g, at(p, "add"), mt_add_new(&l), &l, x, h);
    return h;
}

/* F.interpolate(x, size, mode="bilinear", align_corners=False) */
static int bilinear_to(mt_graph *g, const char *name, size2 size, int h)
{
    mt_layer *l = NULL;
    const mt_interpolate_params to = {.mode = MT_INTERPOLATE_BILINEAR, .out_h = size.h,
                                      .out_w = size.w};
    return node(g, name, mt_upsample_new(&to, &l), &l, h);
}

/* torchvision's LRASPP(IntermediateLayerGetter(MobileNetV3(cfg).features,
 * {low: "low", last: "high"}), …) on [size,3]: -> [size, classes] */
static mt_graph *lraspp(const mt_state_dict *sd, const bneck *cfg, int blocks, int low,
                        size2 size)
{
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int h, low_h = -1;
    size2 at_low = size, s = size;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){size.h, size.w, 3}, &h));
    h = conv_norm_act(g, sd, "backbone.0", 3, 2, 1, 1, ACT_HARDSWISH, &s, h);
    for (int i = 0; i < blocks; i++) {
        char p[32];
        snprintf(p, sizeof p, "backbone.%d", i + 1);
        h = inverted_residual(g, sd, p, &cfg[i], &s, h);
        if (i + 1 == low) {
            low_h = h;
            at_low = s;
        }
    }
    char last[32];   /* the last conv: 6x the channels */
    snprintf(last, sizeof last, "backbone.%d", blocks + 1);
    h = conv_norm_act(g, sd, last, 1, 1, 1, 1, ACT_HARDSWISH, &s, h);
    /* LRASPPHead: cbr(high) * scale(high), up to low's size, the two classifiers added */
    int gate = node(g, "classifier.scale.0", mt_adaptive_avg_pool2d_new(1, 1, &l), &l, h);
    gate = node(g, "classifier.scale.1",
                mt_conv2d_load(sd, "classifier.scale.1", NULL, &l), &l, gate);
    gate = node(g, "classifier.scale.2", mt_activation_layer_new(MT_ACTIVATION_SIGMOID, &l), &l,
                gate);
    h = node(g, "classifier.cbr.0", mt_conv2d_load(sd, "classifier.cbr.0", NULL, &l), &l, h);
    h = node(g, "classifier.cbr.1", mt_batch_norm_load(sd, "classifier.cbr.1", NULL, &l), &l,
             h);   /* the head's BatchNorm2d has PyTorch's default eps, 1e-5 */
    h = node(g, "classifier.cbr.2", mt_relu_new(&l), &l, h);
    h = node2(g, "classifier.gated", mt_multiply_new(&l), &l, h, gate);
    h = bilinear_to(g, "classifier.up", at_low, h);
    h = node(g, "classifier.high_classifier",
             mt_conv2d_load(sd, "classifier.high_classifier", NULL, &l), &l, h);
    int lo = node(g, "classifier.low_classifier",
                  mt_conv2d_load(sd, "classifier.low_classifier", NULL, &l), &l, low_h);
    h = node2(g, "classifier.sum", mt_add_new(&l), &l, lo, h);
    h = bilinear_to(g, "out", size, h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

/* ---- the comparisons ------------------------------------------------------------------- */

/* g on io_path's x gives its tensor `name` within 1e-4 (relative and
 * absolute), twice, the second pass without the heap. */
static void outputs_match(mt_graph *g, const char *io_path, const char *name)
{
    mt_safetensors *io = NULL;
    mt_tensor *x = NULL, *want = NULL;
    const mt_tensor *y = NULL;
    assert_ok(mt_safetensors_open(io_path, &io));
    assert_ok(mt_safetensors_get(io, "x", &x));
    assert_ok(mt_safetensors_get(io, name, &want));
    for (int pass = 0; pass < 2; pass++) {
        long before = counter.allocations;
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
        if (pass)
            assert_int_equal(counter.allocations, before);
        assert_int_equal(y->rank, want->rank);
        for (int d = 0; d < want->rank; d++)
            assert_int_equal(y->shape[d], want->shape[d]);
        assert_close((const float *)y->data, (const float *)want->data,
                     (size_t)mt_tensor_numel(want), 1e-4, 1e-4);
    }
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_safetensors_close(io);
}

static void shufflenet_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_open(RESNET_DIR "/shufflenet.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_graph *g = shufflenet(&sd, (const int[]){2, 1, 1}, (const int64_t[]){8, 16, 32, 64, 96},
                             32);
    outputs_match(g, RESNET_DIR "/shufflenet_io.safetensors", "logits");
    mt_graph_free(g);
    mt_safetensors_close(st);
}

static void efficientnet_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_open(RESNET_DIR "/efficientnet.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    /* torchvision rounds 12 channels to 16 (_make_divisible(12, 8)) */
    static const mbconv cfg[] = {{1, 3, 1, 8, 8, 1}, {4, 3, 2, 8, 16, 2}, {4, 5, 2, 16, 16, 1}};
    mt_graph *g = efficientnet(&sd, cfg, 3, 32);
    outputs_match(g, RESNET_DIR "/efficientnet_io.safetensors", "logits");
    mt_graph_free(g);
    mt_safetensors_close(st);
}

static void lraspp_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_open(RESNET_DIR "/lraspp.safetensors", &st));
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    /* make_lraspp.py's blocks; "low" is backbone.1's output (stride 4) */
    static const bneck cfg[] = {{8, 3, 8, 8, true, ACT_RELU, 2, 1},
                                {8, 3, 24, 16, false, ACT_RELU, 2, 1},
                                {16, 3, 32, 16, false, ACT_RELU, 1, 1},
                                {16, 5, 48, 16, true, ACT_HARDSWISH, 2, 1},
                                {16, 5, 64, 16, true, ACT_HARDSWISH, 1, 2},
                                {16, 5, 64, 16, true, ACT_HARDSWISH, 1, 2}};
    mt_graph *g = lraspp(&sd, cfg, 6, 1, (size2){42, 54});
    outputs_match(g, RESNET_DIR "/lraspp_io.safetensors", "out");
    mt_graph_free(g);
    mt_safetensors_close(st);
}

int main(void)
{
    probe_install(&counter, -1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shufflenet_matches_pytorch),
        cmocka_unit_test(efficientnet_matches_pytorch),
        cmocka_unit_test(lraspp_matches_pytorch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
