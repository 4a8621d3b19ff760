// A C++17 consumer: a layer of its own (layer.h's vtable, filled member by
// member: C++17 has no designated initializers) between a Linear and a
// ReLU in a graph; y = relu(2·(x·W + b)), checked.
#include <cstdio>

#include <minitensor/minitensor.h>

namespace {

struct scale_state {
    float factor;
};

mt_status scale_infer(const mt_layer *, int, const mt_shape *in, const char *const *from,
                      mt_shape *out)
{
    if (in[0].dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_DTYPE, "expects F32, %s gives %s", from[0],
                       mt_dtype_name(in[0].dtype));
    *out = in[0];
    return MT_OK;
}

mt_status scale_forward(const mt_layer *layer, int, const mt_tensor *const *in, void *,
                        mt_tensor *out)
{
    const auto *st = static_cast<const scale_state *>(mt_layer_state(layer));
    return mt_mul_scalar_into(in[0], st->factor, out);
}

mt_layer_vtable scale_vtable()
{
    mt_layer_vtable vt{};
    vt.n_inputs = 1;
    vt.infer = scale_infer;
    vt.forward = scale_forward;
    return vt;
}

const mt_layer_vtable scale_vt = scale_vtable();
scale_state twice{2.0f};

}  // namespace

int main()
{
    float x[2] = {1, 2};                   // (1, 2)
    float w[6] = {1, -1, 0.5f, 2, 0, -3};  // (2, 3)
    float b[3] = {0, 10, 4};               // (3): x·W + b = [5, 9, 0]
    const int64_t x_shape[2] = {1, 2}, w_shape[2] = {2, 3}, b_shape[1] = {3}, features = 2;
    mt_tensor xt, wt, bt;
    mt_graph *g = nullptr;
    mt_layer *l = nullptr;
    const mt_tensor *y = nullptr;
    mt_linear_options o{};
    o.layout = MT_LAYOUT_IN_OUT;
    int in = 0, node = 0;
    mt_status s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, x_shape, x, &xt);
    if (!s) s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, w_shape, w, &wt);
    if (!s) s = mt_tensor_wrap_into(MT_DTYPE_F32, 1, b_shape, b, &bt);
    if (!s) s = mt_graph_new(&g);
    if (!s) s = mt_graph_input(g, "x", MT_DTYPE_F32, 1, &features, &in);
    if (!s) s = mt_linear_new(&wt, &bt, &o, &l);
    if (!s) s = mt_graph_add(g, "fc", l, 1, &in, &node);
    if (!s) s = mt_layer_new(&scale_vt, &twice, "scale x2", &l);
    if (!s) s = mt_graph_add(g, "scale", l, 1, &node, &node);
    if (!s) s = mt_relu_new(&l);
    if (!s) s = mt_graph_add(g, "relu", l, 1, &node, &node);
    if (!s) s = mt_graph_output(g, node);
    const mt_tensor *inputs[1] = {&xt};
    if (!s) s = mt_graph_forward(g, 1, inputs, 1, &y);
    int rc = 1;
    if (s) {
        std::fprintf(stderr, "consumer_cxx: %s\n", mt_last_error());
    } else {
        const float *v = static_cast<const float *>(y->data);
        std::printf("C++: relu(2(xW+b)) = [%g, %g, %g]\n", v[0], v[1], v[2]);
        rc = v[0] == 10.0f && v[1] == 18.0f && v[2] == 0.0f ? 0 : 1;
    }
    mt_graph_free(g);
    return rc;
}
