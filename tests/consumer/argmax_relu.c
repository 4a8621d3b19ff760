/* A consumer of the installed library: argmax(relu(x·W + b)), checked. */
#include <stdio.h>

#include <minitensor/minitensor.h>

int main(void)
{
    float x[2] = {1, 2};                       /* (1, 2)  */
    float w[6] = {1, -1, 0.5f, 2, 0, -3};      /* (2, 3)  */
    float b[3] = {0, 10, 4};                   /* (3)     */
    mt_tensor xt, wt, bt, *h = NULL, *label = NULL;
    int rc = 1;
    if (mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){1, 2}, x, &xt) ||
        mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, w, &wt) ||
        mt_tensor_wrap_into(MT_DTYPE_F32, 1, (int64_t[]){3}, b, &bt) ||
        mt_matmul_fused(&xt, &wt, &bt, MT_ACTIVATION_RELU, &h) ||   /* [5, 9, 0] */
        mt_argmax(h, 1, false, &label)) {
        fprintf(stderr, "consumer: %s\n", mt_last_error());
        goto done;
    }
    float *hv = h->data;
    long long got = (long long)((int64_t *)label->data)[0];
    printf("minitensor %s: relu(xW+b) = [%g, %g, %g], argmax = %lld\n", mt_version(),
           hv[0], hv[1], hv[2], got);
    rc = (got == 1 && hv[0] == 5.0f && hv[1] == 9.0f && hv[2] == 0.0f) ? 0 : 1;
done:
    mt_tensor_free(h);
    mt_tensor_free(label);
    return rc;
}
