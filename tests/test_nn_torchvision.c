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
 *     identity at eval) and residual adds. */
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

/* ---- the comparisons ------------------------------------------------------------------- */

/* g on name_io's x gives its logits within 1e-4 (relative and absolute),
 * twice, the second pass without the heap. */
static void logits_match(mt_graph *g, const char *io_path)
{
    mt_safetensors *io = NULL;
    mt_tensor *x = NULL, *want = NULL;
    const mt_tensor *y = NULL;
    assert_ok(mt_safetensors_open(io_path, &io));
    assert_ok(mt_safetensors_get(io, "x", &x));
    assert_ok(mt_safetensors_get(io, "logits", &want));
    for (int pass = 0; pass < 2; pass++) {
        long before = counter.allocations;
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){x}, 1, &y));
        if (pass)
            assert_int_equal(counter.allocations, before);
        assert_int_equal(y->rank, 2);
        assert_int_equal(y->shape[0], want->shape[0]);
        assert_int_equal(y->shape[1], want->shape[1]);
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
    logits_match(g, RESNET_DIR "/shufflenet_io.safetensors");
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
    logits_match(g, RESNET_DIR "/efficientnet_io.safetensors");
    mt_graph_free(g);
    mt_safetensors_close(st);
}

int main(void)
{
    probe_install(&counter, -1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shufflenet_matches_pytorch),
        cmocka_unit_test(efficientnet_matches_pytorch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
