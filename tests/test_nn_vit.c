/* test_nn_vit.c — torchvision 0.14's VisionTransformer (a tiny one from
 * its own class, tests/resnet/make_vit.py: 32×32 images, 8×8 patches,
 * hidden 32, 2 heads, MLP 64, 2 blocks, 10 classes) ported by its
 * state_dict names as a user would port vit_b_16, the graph following
 * torchvision's forward:
 *   conv_proj (a Conv2d with stride = kernel = patch) -> [N, 4, 4, 32] NHWC,
 *     viewed as [N, 16, 32]: NHWC's (h, w) order is PyTorch's
 *     reshape(n, E, h·w).permute(0, 2, 1);
 *   torch.cat([class_token.expand(n, -1, -1), x], dim=1): the class token a
 *     graph constant, concatenated in front;
 *   + encoder.pos_embedding: a constant [1, 17, 32], added;
 *   EncoderBlock: x = x + attention(ln_1(x)); x = x + mlp(ln_2(x)), the
 *     LayerNorms eps 1e-6, mlp Linear -> GELU (erf) -> Linear;
 *   encoder.ln, x[:, 0] (FirstStep), heads.head.
 * Logits must match PyTorch's within 1e-4, at the file's batch of 3 and at
 * a batch of 1 (its second image). */
#include <string.h>
#include "graph_build.h"

static alloc_probe counter;   /* every allocation, installed by main */

enum { HIDDEN = 32, HEADS = 2, LAYERS = 2, PATCH = 8, IMAGE = 32 };

/* torchvision.models.vision_transformer.EncoderBlock "p" on h [N, L, E] */
static int encoder_block(mt_graph *g, const mt_state_dict *sd, const char *p, int h)
{
    const mt_norm_options ln = {.eps = 1e-6f};
    mt_layer *l = NULL;
    int x = node(g, at(p, "ln_1"), mt_layer_norm_load(sd, at(p, "ln_1"), &ln, &l), &l, 1, &h);
    x = node(g, at(p, "self_attention"),
             mt_multihead_attention_load(sd, at(p, "self_attention"), HEADS, false, &l), &l,
             1, &x);
    x = node(g, at(p, "add_1"), mt_add_new(&l), &l, 2, (int[]){x, h});
    int y = node(g, at(p, "ln_2"), mt_layer_norm_load(sd, at(p, "ln_2"), &ln, &l), &l, 1, &x);
    y = node(g, at(p, "mlp.0"),
             mt_linear_load(sd, at(p, "mlp.0"),
                            &(mt_linear_options){.act = MT_ACTIVATION_GELU}, &l),
             &l, 1, &y);
    y = node(g, at(p, "mlp.3"), mt_linear_load(sd, at(p, "mlp.3"), NULL, &l), &l, 1, &y);
    return node(g, at(p, "add_2"), mt_add_new(&l), &l, 2, (int[]){x, y});
}

/* torchvision.models.VisionTransformer on NHWC images [N, IMAGE, IMAGE, 3] */
static mt_graph *vision_transformer(const mt_safetensors *st)
{
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    const int64_t side = IMAGE / PATCH, tokens = side * side;
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    mt_tensor *class_token = NULL, *pos_embedding = NULL;
    int h, cls, pos;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 3, (int64_t[]){IMAGE, IMAGE, 3}, &h));
    mt_conv2d_options patches = {.stride_h = PATCH, .stride_w = PATCH};   /* VALID */
    h = node(g, "conv_proj", mt_conv2d_load(&sd, "conv_proj", &patches, &l), &l, 1, &h);
    h = node(g, "tokens", mt_reshape_new(2, (int64_t[]){tokens, HIDDEN}, &l), &l, 1, &h);
    /* the graph copies both constants: the tensors may go at once */
    assert_ok(mt_safetensors_get(st, "class_token", &class_token));
    assert_ok(mt_graph_constant(g, "class_token", class_token, &cls));
    mt_tensor_free(class_token);
    h = node(g, "cat", mt_concat_new(1, &l), &l, 2, (int[]){cls, h});
    assert_ok(mt_safetensors_get(st, "encoder.pos_embedding", &pos_embedding));
    assert_ok(mt_graph_constant(g, "encoder.pos_embedding", pos_embedding, &pos));
    mt_tensor_free(pos_embedding);
    h = node(g, "encoder.add_pos", mt_add_new(&l), &l, 2, (int[]){h, pos});
    for (int i = 0; i < LAYERS; i++) {
        char p[64];
        snprintf(p, sizeof p, "encoder.layers.encoder_layer_%d", i);
        h = encoder_block(g, &sd, p, h);
    }
    h = node(g, "encoder.ln",
             mt_layer_norm_load(&sd, "encoder.ln", &(mt_norm_options){.eps = 1e-6f}, &l), &l,
             1, &h);
    h = node(g, "x[:, 0]", mt_first_step_new(MT_MASK_MODE_NONE, &l), &l, 1, &h);
    h = node(g, "heads.head", mt_linear_load(&sd, "heads.head", NULL, &l), &l, 1, &h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

/* The ViT matches PyTorch's logits: three images, one, and frozen. */
static void vit_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = NULL, *io = NULL;
    mt_tensor *x = NULL, *want = NULL, *x1 = NULL;
    assert_ok(mt_safetensors_open(RESNET_DIR "/vit.safetensors", &st));
    assert_ok(mt_safetensors_open(RESNET_DIR "/vit_io.safetensors", &io));
    assert_ok(mt_safetensors_get(io, "x", &x));
    assert_ok(mt_safetensors_get(io, "logits", &want));
    assert_int_equal(want->shape[0], 3);
    mt_graph *g = vision_transformer(st);
    output_matches(g, x, want->data, 2, (int64_t[]){3, 10}, 1e-4,
                   1e-4, &counter);
    assert_ok(mt_narrow(x, 0, 1, 1, &x1));   /* the second image alone */
    output_matches(g, x1, (const float *)want->data + 10, 2, (int64_t[]){1, 10}, 1e-4,
                   1e-4, &counter);
    assert_ok(mt_graph_freeze(g));
    output_matches(g, x, want->data, 2, (int64_t[]){3, 10}, 1e-4,
                   1e-4, &counter);
    mt_graph_free(g);
    mt_tensor_free(x1);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

int main(void)
{
    probe_install(&counter, -1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vit_matches_pytorch),
    };
    return cmocka_run_group_tests_name("nn_vit", tests, NULL, NULL);
}
