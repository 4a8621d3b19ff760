/* test_nn_resnet.c — a residual CNN made in PyTorch (tests/resnet/
 * make_resnet.py: conv -> BatchNorm -> ReLU -> conv -> BatchNorm, + skip ->
 * ReLU -> global average pool -> Linear) loaded by its state_dict names and
 * run as a graph: logits within 1e-4 of PyTorch's on 8 held-out inputs,
 * the same argmax; once with the BatchNorms folded into the convolutions,
 * once with them run on their own; no heap after the first pass. */
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

/* The block by PyTorch's names. `fold`: BatchNorm with channels last (the
 * default), which the graph folds into the conv before it; otherwise the
 * channel dim given as 3, which it does not fold (it runs alone). */
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
    const mt_conv2d_options hwio = {.layout = MT_KERNEL_HWIO};
    assert_int_equal(mt_conv2d_load(&sd, "conv1", &hwio, &l), MT_ERR_SHAPE);
    assert_non_null(strstr(mt_last_error(), "kernel conv1.weight [4,4,3,3], Keras"));
    assert_null(l);
    assert_ok(mt_conv2d_load(&sd, "conv1", NULL, &l));   /* AUTO: PyTorch's OIHW */
    assert_ok(mt_graph_add(g, "conv1", l, 1, &x, &h));
    mt_graph_free(g);
    mt_safetensors_close(st);
}

int main(void)
{
    probe_install(&counter, -1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resnet_block_matches_pytorch),
        cmocka_unit_test(conv2d_load_keeps_an_explicit_layout),
    };
    return cmocka_run_group_tests_name("nn_resnet", tests, NULL, NULL);
}
