/* conv3d_load.c — Conv3D by the names PyTorch's state_dict ("c1.weight"
 * OIDHW, "c1.bias"; under weight norm c1.weight_g and c1.weight_v) and
 * Keras ("c1/kernel" DHWIO, "c1/bias"; Keras 2's "c1/kernel:0") give it,
 * read as the other state_dict loaders read theirs. */
#include "state_dict_internal.h"

mt_status mt_conv3d_load(const mt_state_dict *weights, const char *prefix,
                         const mt_conv3d_options *options, mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("conv3d", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_conv3d_options o = options ? *options : (mt_conv3d_options){0};
    if (o.layout == MT_KERNEL_AUTO)   /* DHWIO and OIDHW, as Conv2D's HWIO and OIHW */
        o.layout = ld.nm->kernel;
    mt_tensor *k, *b;
    if (!(s = mt_nn_load_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &k, &b)))
        s = mt_conv3d_new(k, b, &o, out);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}
