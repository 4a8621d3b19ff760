/* test_api_nulls.c — every public function of tensor/ called with a NULL in
 * each pointer argument (inputs, params, out-pointers): a status other than
 * MT_OK and a message naming the operation, never a crash. One table row
 * per call; a new public function gets its rows here. */
#include "test_util.h"

static mt_tensor *x, *w, *bias, *img, *kern, *dst, *vol, *vkern, *vtw;
static mt_arena *arena;
static const mt_conv2d_params conv_p = {.kernel_layout = MT_KERNEL_HWIO};
static const mt_pool2d_params pool_p = {.pool_h = 2, .pool_w = 2};
static const mt_conv3d_params conv3_p = {.kernel_layout = MT_KERNEL_HWIO};
static const mt_pool3d_params pool3_p = {.pool_d = 2, .pool_h = 2, .pool_w = 2};
static const mt_conv_transpose3d_params tconv3_p = {0};
static const int64_t shape2[2] = {2, 2};
static const float data4[4] = {1, 2, 3, 4};
static float wdata[4];

typedef struct row {
    const char *call;
    const char *needle;   /* the operation's name in the message */
    mt_status (*fn)(void);
} row;

#define ROW(id, needle, expr) \
    static mt_status row_##id(void) { return (expr); }
#define R(id, needle, expr) {#expr, needle, row_##id},

/* X-macro: each line is one call with one NULL. */
/* einsum's operands: x alone, or x and b */
#define X_ONLY ((const mt_tensor *const *)&x)
static mt_status einsum_with(const char *eq, const mt_tensor *b, mt_tensor **out)
{
    const mt_tensor *ops[2] = {x, b};
    return mt_einsum(eq, 2, ops, out);
}

#define ROWS(X)                                                                     \
    X(zeros_out, "tensor_zeros", mt_tensor_zeros(MT_DTYPE_F32, 2, shape2, NULL))   \
    X(zeros_shape, "tensor_zeros", mt_tensor_zeros(MT_DTYPE_F32, 2, NULL, &dst)) \
    X(full_out, "tensor_full", mt_tensor_full(2, shape2, 1.0f, NULL))              \
    X(from_data_out, "tensor_from_data", mt_tensor_from_data(MT_DTYPE_F32, 2, shape2, data4, NULL)) \
    X(from_data_data, "tensor_from_data", mt_tensor_from_data(MT_DTYPE_F32, 2, shape2, NULL, &dst)) \
    X(wrap_out, "tensor_wrap", mt_tensor_wrap(MT_DTYPE_F32, 2, shape2, wdata, NULL)) \
    X(wrap_into_t, "tensor_wrap", mt_tensor_wrap_into(MT_DTYPE_F32, 2, shape2, wdata, NULL)) \
    X(from_u8_out, "tensor_from_u8", mt_tensor_from_u8(1, (int64_t[]){2}, (const uint8_t *)"ab", 1.0f, NULL)) \
    X(from_u8_pixels, "tensor_from_u8", mt_tensor_from_u8(1, (int64_t[]){2}, NULL, 1.0f, &dst)) \
    X(from_u8_into_dst, "tensor_from_u8", mt_tensor_from_u8_into((const uint8_t *)"ab", 1.0f, NULL)) \
    X(contiguous_out, "tensor_contiguous", mt_tensor_contiguous(x, NULL))          \
    X(contiguous_src, "tensor_contiguous", mt_tensor_contiguous(NULL, &dst))       \
    X(to_f32_out, "tensor_to_f32", mt_tensor_to_f32(x, NULL))                      \
    X(to_f32_src, "tensor_to_f32", mt_tensor_to_f32(NULL, &dst))                   \
    X(copy_src, "tensor_copy", mt_tensor_copy_into(NULL, x))                       \
    X(copy_dst, "tensor_copy", mt_tensor_copy_into(x, NULL))                       \
    X(fill, "tensor_fill", mt_tensor_fill(NULL, 1.0f))                             \
    X(get_value, "tensor_get_f32", mt_tensor_get_f32(x, (int64_t[]){0, 0}, NULL))  \
    X(get_index, "tensor_get_f32", mt_tensor_get_f32(x, NULL, (float[1]){0}))      \
    X(get_t, "tensor_get_f32", mt_tensor_get_f32(NULL, (int64_t[]){0, 0}, (float[1]){0})) \
    X(set_t, "tensor_set_f32", mt_tensor_set_f32(NULL, (int64_t[]){0, 0}, 1.0f))   \
    X(set_index, "tensor_set_f32", mt_tensor_set_f32(x, NULL, 1.0f))               \
    X(name_t, "tensor_name_set", mt_tensor_name_set(NULL, "n"))                    \
    X(name_name, "tensor_name_set", mt_tensor_name_set(x, NULL))                   \
    X(check_finite, "tensor_check_finite", mt_tensor_check_finite(NULL))           \
    X(dtype_name, "dtype_from_name", mt_dtype_from_name(NULL, &(mt_dtype){0}))     \
    X(dtype_out, "dtype_from_name", mt_dtype_from_name("F32", NULL))               \
    X(backend_name, "backend_from_name", mt_backend_from_name(NULL, &(mt_backend){0})) \
    X(backend_out, "backend_from_name", mt_backend_from_name("naive", NULL))       \
    X(arena_out, "arena_new", mt_arena_new(1024, NULL))                            \
    X(arena_tensor_arena, "arena_tensor", mt_arena_tensor(NULL, MT_DTYPE_F32, 2, shape2, &dst)) \
    X(arena_tensor_out, "arena_tensor", mt_arena_tensor(arena, MT_DTYPE_F32, 2, shape2, NULL)) \
    X(arena_tensor_shape, "arena_tensor", mt_arena_tensor(arena, MT_DTYPE_F32, 2, NULL, &dst)) \
    X(reshape_out, "reshape", mt_reshape(x, 1, (int64_t[]){4}, NULL))              \
    X(reshape_t, "reshape", mt_reshape(NULL, 1, (int64_t[]){4}, &dst))             \
    X(reshape_shape, "reshape", mt_reshape(x, 1, NULL, &dst))                      \
    X(reshape_into, "reshape", mt_reshape_into(x, 1, (int64_t[]){4}, NULL))        \
    X(flatten_out, "flatten", mt_flatten(x, 0, -1, NULL))                          \
    X(flatten_t, "flatten", mt_flatten(NULL, 0, -1, &dst))                         \
    X(flatten_into, "flatten", mt_flatten_into(x, 0, -1, NULL))                    \
    X(transpose_out, "transpose", mt_transpose(x, 0, 1, NULL))                     \
    X(transpose_t, "transpose", mt_transpose(NULL, 0, 1, &dst))                    \
    X(transpose_into, "transpose", mt_transpose_into(x, 0, 1, NULL))               \
    X(permute_out, "permute", mt_permute(x, (int[]){1, 0}, NULL))                  \
    X(permute_perm, "permute", mt_permute(x, NULL, &dst))                          \
    X(permute_into, "permute", mt_permute_into(x, (int[]){1, 0}, NULL))            \
    X(narrow_out, "narrow", mt_narrow(x, 0, 0, 1, NULL))                           \
    X(narrow_t, "narrow", mt_narrow(NULL, 0, 0, 1, &dst))                          \
    X(narrow_into, "narrow", mt_narrow_into(x, 0, 0, 1, NULL))                     \
    X(slice_out, "slice", mt_slice(x, 0, 0, 1, 1, NULL))                           \
    X(slice_t, "slice", mt_slice(NULL, 0, 0, 1, 1, &dst))                          \
    X(slice_into, "slice", mt_slice_into(x, 0, 0, 1, 1, NULL))                     \
    X(matmul_out, "matmul", mt_matmul(x, w, NULL))                                 \
    X(matmul_a, "matmul", mt_matmul(NULL, w, &dst))                                \
    X(matmul_b, "matmul", mt_matmul(x, NULL, &dst))                                \
    X(matmul_into, "matmul", mt_matmul_into(x, w, NULL))                           \
    X(einsum_eq, "einsum", mt_einsum(NULL, 1, X_ONLY, &dst))                       \
    X(einsum_ops, "einsum", mt_einsum("ij", 1, NULL, &dst))                        \
    X(einsum_b, "einsum", einsum_with("ij,jk", NULL, &dst))                        \
    X(einsum_out, "einsum", mt_einsum("ij", 1, X_ONLY, NULL))                      \
    X(einsum_into, "einsum", mt_einsum_into("ij", 1, X_ONLY, NULL))                \
    X(einsum_shape, "einsum", mt_einsum_shape("ij", 1, X_ONLY, NULL, (int64_t[8]){0})) \
    X(fused_out, "matmul", mt_matmul_fused(x, w, bias, MT_ACTIVATION_RELU, NULL))  \
    X(fused_a, "matmul", mt_matmul_fused(NULL, w, bias, MT_ACTIVATION_RELU, &dst)) \
    X(fused_into, "matmul", mt_matmul_fused_into(x, w, bias, MT_ACTIVATION_RELU, NULL)) \
    X(fused2s_out, "matmul_fused2_sparse", mt_matmul_fused2_sparse(x, w, NULL, MT_ACTIVATION_RELU, w, NULL, MT_ACTIVATION_NONE, NULL)) \
    X(fused2s_x, "matmul_fused2_sparse", mt_matmul_fused2_sparse(NULL, w, NULL, MT_ACTIVATION_RELU, w, NULL, MT_ACTIVATION_NONE, &dst)) \
    X(fused2s_w2, "matmul_fused2_sparse", mt_matmul_fused2_sparse(x, w, NULL, MT_ACTIVATION_RELU, NULL, NULL, MT_ACTIVATION_NONE, &dst)) \
    X(fused2s_into, "matmul_fused2_sparse", mt_matmul_fused2_sparse_into(x, w, NULL, MT_ACTIVATION_RELU, w, NULL, MT_ACTIVATION_NONE, NULL)) \
    X(fused_s_out, "matmul_fused_sparse", mt_matmul_fused_sparse(x, w, bias, MT_ACTIVATION_RELU, NULL)) \
    X(fused_s_w, "matmul_fused_sparse", mt_matmul_fused_sparse(x, NULL, bias, MT_ACTIVATION_RELU, &dst)) \
    X(fused_s_into, "matmul_fused_sparse", mt_matmul_fused_sparse_into(x, w, bias, MT_ACTIVATION_RELU, NULL)) \
    X(winograd_out, "conv2d_winograd_kernel", mt_conv2d_winograd_kernel(kern, MT_KERNEL_HWIO, NULL)) \
    X(winograd_kernel, "conv2d_winograd_kernel", mt_conv2d_winograd_kernel(NULL, MT_KERNEL_HWIO, &dst)) \
    X(add_out, "add", mt_add(x, w, NULL))                                          \
    X(add_a, "add", mt_add(NULL, w, &dst))                                         \
    X(add_into, "add", mt_add_into(x, w, NULL))                                    \
    X(sub_out, "sub", mt_sub(x, w, NULL))                                          \
    X(sub_b, "sub", mt_sub(x, NULL, &dst))                                         \
    X(sub_into, "sub", mt_sub_into(x, w, NULL))                                    \
    X(mul_out, "mul", mt_mul(x, w, NULL))                                          \
    X(mul_a, "mul", mt_mul(NULL, w, &dst))                                         \
    X(mul_into, "mul", mt_mul_into(x, w, NULL))                                    \
    X(mul_scalar_out, "mul_scalar", mt_mul_scalar(x, 2.0f, NULL))                  \
    X(mul_scalar_t, "mul_scalar", mt_mul_scalar(NULL, 2.0f, &dst))                 \
    X(mul_scalar_into, "mul_scalar", mt_mul_scalar_into(x, 2.0f, NULL))            \
    X(relu_out, "relu", mt_relu(x, NULL))                                          \
    X(relu_t, "relu", mt_relu(NULL, &dst))                                         \
    X(relu_into, "relu", mt_relu_into(x, NULL))                                    \
    X(softmax_out, "softmax", mt_softmax(x, -1, NULL))                             \
    X(softmax_t, "softmax", mt_softmax(NULL, -1, &dst))                            \
    X(softmax_into, "softmax", mt_softmax_into(x, -1, NULL))                       \
    X(log_softmax_out, "log_softmax", mt_log_softmax(x, -1, NULL))                 \
    X(log_softmax_t, "log_softmax", mt_log_softmax(NULL, -1, &dst))                \
    X(log_softmax_into, "log_softmax", mt_log_softmax_into(x, -1, NULL))           \
    X(sum_out, "sum", mt_sum(x, 0, false, NULL))                                   \
    X(sum_t, "sum", mt_sum(NULL, 0, false, &dst))                                  \
    X(sum_into, "sum", mt_sum_into(x, 0, false, NULL))                             \
    X(max_out, "max", mt_max(x, 0, false, NULL))                                   \
    X(max_t, "max", mt_max(NULL, 0, false, &dst))                                  \
    X(max_into, "max", mt_max_into(x, 0, false, NULL))                             \
    X(argmax_out, "argmax", mt_argmax(x, 0, false, NULL))                          \
    X(argmax_t, "argmax", mt_argmax(NULL, 0, false, &dst))                         \
    X(argmax_into, "argmax", mt_argmax_into(x, 0, false, NULL))                    \
    X(sort_t, "sort", mt_sort(NULL, 0, false, &dst, NULL))                         \
    X(sort_outs, "sort", mt_sort(x, 0, false, NULL, NULL))                         \
    X(sort_into, "sort", mt_sort_into(x, 0, false, NULL, NULL))                    \
    X(topk_t, "topk", mt_topk(NULL, 1, 0, true, &dst, NULL))                       \
    X(topk_into, "topk", mt_topk_into(x, 1, 0, true, NULL, NULL))                  \
    X(conv_out_size, "conv_output_size", mt_conv_output_size(5, 3, 1, MT_PADDING_VALID, NULL)) \
    X(conv_out, "conv2d", mt_conv2d(img, kern, NULL, &conv_p, NULL))               \
    X(conv_input, "conv2d", mt_conv2d(NULL, kern, NULL, &conv_p, &dst))            \
    X(conv_kernel, "conv2d", mt_conv2d(img, NULL, NULL, &conv_p, &dst))            \
    X(conv_params, "conv2d", mt_conv2d(img, kern, NULL, NULL, &dst))               \
    X(conv_into, "conv2d", mt_conv2d_into(img, kern, NULL, &conv_p, NULL))         \
    X(pool_out, "max_pool2d", mt_max_pool2d(img, &pool_p, NULL))                     \
    X(pool_input, "max_pool2d", mt_max_pool2d(NULL, &pool_p, &dst))                  \
    X(pool_params, "max_pool2d", mt_max_pool2d(img, NULL, &dst))                     \
    X(pool_into, "max_pool2d", mt_max_pool2d_into(img, &pool_p, NULL))               \
    X(cpool_out, "conv2d_max_pool2d", mt_conv2d_max_pool2d(img, kern, NULL, &conv_p, &pool_p, NULL)) \
    X(cpool_input, "conv2d_max_pool2d", mt_conv2d_max_pool2d(NULL, kern, NULL, &conv_p, &pool_p, &dst)) \
    X(cpool_kernel, "conv2d_max_pool2d", mt_conv2d_max_pool2d(img, NULL, NULL, &conv_p, &pool_p, &dst)) \
    X(cpool_conv, "conv2d_max_pool2d", mt_conv2d_max_pool2d(img, kern, NULL, NULL, &pool_p, &dst)) \
    X(cpool_pool, "conv2d_max_pool2d", mt_conv2d_max_pool2d(img, kern, NULL, &conv_p, NULL, &dst)) \
    X(cpool_into, "conv2d_max_pool2d", mt_conv2d_max_pool2d_into(img, kern, NULL, &conv_p, &pool_p, NULL)) \
    X(cpool_into_pool, "conv2d_max_pool2d", mt_conv2d_max_pool2d_into(img, kern, NULL, &conv_p, NULL, dst)) \
    X(conv3_out, "conv3d", mt_conv3d(vol, vkern, NULL, &conv3_p, NULL))          \
    X(conv3_input, "conv3d", mt_conv3d(NULL, vkern, NULL, &conv3_p, &dst))       \
    X(conv3_kernel, "conv3d", mt_conv3d(vol, NULL, NULL, &conv3_p, &dst))        \
    X(conv3_params, "conv3d", mt_conv3d(vol, vkern, NULL, NULL, &dst))           \
    X(conv3_into, "conv3d", mt_conv3d_into(vol, vkern, NULL, &conv3_p, NULL))    \
    X(mpool3_out, "max_pool3d", mt_max_pool3d(vol, &pool3_p, NULL))              \
    X(mpool3_input, "max_pool3d", mt_max_pool3d(NULL, &pool3_p, &dst))           \
    X(mpool3_params, "max_pool3d", mt_max_pool3d(vol, NULL, &dst))               \
    X(mpool3_into, "max_pool3d", mt_max_pool3d_into(vol, &pool3_p, NULL))        \
    X(apool3_out, "avg_pool3d", mt_avg_pool3d(vol, &pool3_p, NULL))              \
    X(apool3_input, "avg_pool3d", mt_avg_pool3d(NULL, &pool3_p, &dst))           \
    X(apool3_params, "avg_pool3d", mt_avg_pool3d(vol, NULL, &dst))               \
    X(apool3_into, "avg_pool3d", mt_avg_pool3d_into(vol, &pool3_p, NULL))        \
    X(tconv3_out, "conv_transpose3d", mt_conv_transpose3d(vol, vtw, NULL, &tconv3_p, NULL)) \
    X(tconv3_input, "conv_transpose3d", mt_conv_transpose3d(NULL, vtw, NULL, &tconv3_p, &dst)) \
    X(tconv3_weight, "conv_transpose3d", mt_conv_transpose3d(vol, NULL, NULL, &tconv3_p, &dst)) \
    X(tconv3_params, "conv_transpose3d", mt_conv_transpose3d(vol, vtw, NULL, NULL, &dst)) \
    X(tconv3_into, "conv_transpose3d", mt_conv_transpose3d_into(vol, vtw, NULL, &tconv3_p, NULL)) \
    X(aapool3_out, "adaptive_avg_pool3d", mt_adaptive_avg_pool3d(vol, 2, 2, 2, 0, NULL)) \
    X(aapool3_input, "adaptive_avg_pool3d", mt_adaptive_avg_pool3d(NULL, 2, 2, 2, 0, &dst)) \
    X(aapool3_into, "adaptive_avg_pool3d", mt_adaptive_avg_pool3d_into(vol, 2, 2, 2, 0, NULL)) \
    X(ampool3_out, "adaptive_max_pool3d", mt_adaptive_max_pool3d(vol, 2, 2, 2, 0, NULL)) \
    X(ampool3_input, "adaptive_max_pool3d", mt_adaptive_max_pool3d(NULL, 2, 2, 2, 0, &dst)) \
    X(ampool3_into, "adaptive_max_pool3d", mt_adaptive_max_pool3d_into(vol, 2, 2, 2, 0, NULL)) \
    X(backend_current, "backend", mt_backend_set((mt_backend)-1))

ROWS(ROW)
static const row rows[] = {ROWS(R)};

static int setup(void **state)
{
    (void)state;
    return mt_tensor_from_data(MT_DTYPE_F32, 2, shape2, data4, &x) ||
           mt_tensor_from_data(MT_DTYPE_F32, 2, shape2, data4, &w) ||
           mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){2}, &bias) ||
           mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){1, 4, 4, 1}, &img) ||
           mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){3, 3, 1, 2}, &kern) ||
           mt_tensor_zeros(MT_DTYPE_F32, 5, (int64_t[]){1, 4, 4, 4, 1}, &vol) ||
           mt_tensor_zeros(MT_DTYPE_F32, 5, (int64_t[]){3, 3, 3, 1, 2}, &vkern) ||
           mt_tensor_zeros(MT_DTYPE_F32, 5, (int64_t[]){1, 2, 2, 2, 2}, &vtw) ||
           mt_arena_new(4096, &arena);
}

static int teardown(void **state)
{
    (void)state;
    mt_tensor *all[] = {x, w, bias, img, kern, vol, vkern, vtw};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mt_tensor_free(all[i]);
    mt_arena_free(arena);
    return 0;
}

static void test_every_row_fails_cleanly(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dst = NULL;
        mt_clear_error();
        mt_status s = rows[i].fn();
        if (s == MT_OK || !strstr(mt_last_error(), rows[i].needle)) {
            print_error("%s: %s \"%s\" (expected a failure naming \"%s\")\n", rows[i].call,
                        mt_status_name(s), mt_last_error(), rows[i].needle);
            bad++;
        }
        mt_tensor_free(dst);   /* a wrongly successful call must not leak */
    }
    assert_int_equal(bad, 0);
}

/* The functions without a status take NULL quietly: a neutral answer. */
static void test_no_status_functions_take_null(void **state)
{
    (void)state;
    char buf[16];
    assert_int_equal(mt_tensor_numel(NULL), -1);
    assert_false(mt_tensor_is_contiguous(NULL));
    assert_false(mt_tensor_same_shape(NULL, x));
    assert_false(mt_tensor_same_shape(x, NULL));
    assert_string_equal(mt_tensor_describe(NULL, buf, sizeof buf), "(null)");
    assert_null(mt_tensor_describe(x, NULL, 8));
    assert_int_equal(mt_arena_used(NULL), 0);
    assert_int_equal(mt_arena_capacity(NULL), 0);
    mt_arena_reset(NULL);
    mt_arena_free(NULL);
    mt_tensor_free(NULL);
    mt_dealloc(NULL);
    assert_null(mt_alloc(0, 64));
    assert_string_equal(mt_backend_name((mt_backend)99), "invalid");
    assert_string_equal(mt_backend_describe((mt_backend)99), "not built in");
}

/* mt_fail with no format still leaves a message: the status's name. */
static void test_fail_without_message(void **state)
{
    (void)state;
    mt_clear_error();
    assert_int_equal(mt_fail(MT_ERR_SHAPE, NULL), MT_ERR_SHAPE);
    assert_non_null(strstr(mt_last_error(), "MT_ERR_SHAPE"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_row_fails_cleanly),
        cmocka_unit_test(test_no_status_functions_take_null),
        cmocka_unit_test(test_fail_without_message),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
