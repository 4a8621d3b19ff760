/* fd_rows_ops.h — tests of the differentiable op set (unary table, binary,
 * reductions, views, gathers, norms, attention): finite-difference rows,
 * PyTorch's conventions at ties and kinks, batch_norm's running statistics
 * and the error paths. Included by tests/test_autograd.c after its fd_case
 * type and harness. */

/* positive inputs for ops defined on x > 0: 2 + x, x in [-1.5, 1.5) */
static mt_status shift_up(mt_tape *t, mt_value *x, mt_value **o) { return mt_tape_add_scalar(t, x, 2.0f, o); }

static mt_status row_gelu(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_gelu(t, p[0], o); }
static mt_status row_gelu_tanh(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_gelu_tanh(t, p[0], o); }
static mt_status row_tanh(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_tanh(t, p[0], o); }
static mt_status row_sigmoid(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_sigmoid(t, p[0], o); }
static mt_status row_silu(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_silu(t, p[0], o); }
static mt_status row_neg(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_neg(t, p[0], o); }
static mt_status row_abs(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_abs(t, p[0], o); }
static mt_status row_exp(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_exp(t, p[0], o); }
static mt_status row_square(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_square(t, p[0], o); }
static mt_status row_softplus(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_softplus(t, p[0], o); }
static mt_status row_leaky_relu(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_leaky_relu(t, p[0], 0.1f, o); }
static mt_status row_elu(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_elu(t, p[0], 1.3f, o); }
static mt_status row_add_scalar(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_add_scalar(t, p[0], 0.7f, o); }
static mt_status row_clamp(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_clamp(t, p[0], -0.6f, 0.5f, o); }
static mt_status row_sin(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_sin(t, p[0], o); }
static mt_status row_cos(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_cos(t, p[0], o); }
static mt_status row_erf(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_erf(t, p[0], o); }
static mt_status row_expm1(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_expm1(t, p[0], o); }
/* the steps: a zero gradient (the inputs are not within a difference step
 * of a jump) */
static mt_status row_floor(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_floor(t, p[0], o); }
static mt_status row_ceil(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_ceil(t, p[0], o); }
static mt_status row_round(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_round(t, p[0], o); }
static mt_status row_trunc(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_trunc(t, p[0], o); }
static mt_status row_sign(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_sign(t, p[0], o); }
/* hardswish is piecewise on [-3, 3]: stretch x to reach every piece */
static mt_status row_hardswish(mt_tape *t, mt_value **p, mt_value **o)
{
    mt_value *wide;
    mt_status s = mt_tape_mul_scalar(t, p[0], 3.0f, &wide);
    return s ? s : mt_tape_hardswish(t, wide, o);
}
#define POSITIVE_ROW(name, call)                                          \
    static mt_status row_##name(mt_tape *t, mt_value **p, mt_value **o)  \
    {                                                                     \
        mt_value *x;                                                      \
        mt_status s = shift_up(t, p[0], &x);                              \
        return s ? s : (call);                                            \
    }
POSITIVE_ROW(log, mt_tape_log(t, x, o))
POSITIVE_ROW(sqrt, mt_tape_sqrt(t, x, o))
POSITIVE_ROW(rsqrt, mt_tape_rsqrt(t, x, o))
POSITIVE_ROW(log1p, mt_tape_log1p(t, x, o))
POSITIVE_ROW(reciprocal, mt_tape_reciprocal(t, x, o))
POSITIVE_ROW(pow_scalar, mt_tape_pow_scalar(t, x, 1.7f, o))
/* a strided (transposed) input to a unary op */
static mt_status row_tanh_strided(mt_tape *t, mt_value **p, mt_value **o)
{
    mt_value *xt;
    mt_status s = mt_tape_transpose(t, p[0], 0, 1, &xt);
    return s ? s : mt_tape_tanh(t, xt, o);
}

#define LINEAR_ROW(name, act)                                                    \
    static mt_status row_linear_##name(mt_tape *t, mt_value **p, mt_value **o)  \
    { return mt_tape_linear(t, p[0], p[1], p[2], act, o); }
LINEAR_ROW(gelu, MT_ACTIVATION_GELU)
LINEAR_ROW(gelu_tanh, MT_ACTIVATION_GELU_TANH)
LINEAR_ROW(tanh, MT_ACTIVATION_TANH)
LINEAR_ROW(sigmoid, MT_ACTIVATION_SIGMOID)
LINEAR_ROW(silu, MT_ACTIVATION_SILU)

/* ---- binary ---- */
static mt_status row_div(mt_tape *t, mt_value **p, mt_value **o)
{
    mt_value *b;
    mt_status s = shift_up(t, p[1], &b);
    return s ? s : mt_tape_div(t, p[0], b, o);
}
static mt_status row_maximum(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_maximum(t, p[0], p[1], o); }
static mt_status row_minimum(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_minimum(t, p[0], p[1], o); }
static mt_status row_pow(mt_tape *t, mt_value **p, mt_value **o)
{
    mt_value *a;
    mt_status s = shift_up(t, p[0], &a);
    return s ? s : mt_tape_pow(t, a, p[1], o);
}
static const bool where_cond[12] = {1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0};
static mt_status row_where(mt_tape *t, mt_value **p, mt_value **o)
{
    static mt_tensor cond;   /* [3,4]; a [3,1] and b [4] broadcast to it */
    mt_tensor_wrap_into(MT_DTYPE_BOOL, 2, (int64_t[]){3, 4}, (void *)where_cond, &cond);
    return mt_tape_where(t, &cond, p[0], p[1], o);
}

/* ---- views ---- */
static mt_status row_narrow(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_narrow(t, p[0], -1, 1, 3, o); }
static mt_status row_slice(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_slice(t, p[0], 0, 0, 5, 2, o); }
static mt_status row_expand(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_expand(t, p[0], 3, (int64_t[]){2, 3, 4}, o); }
static mt_status row_squeeze(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_squeeze(t, p[0], 1, o); }
static mt_status row_unsqueeze(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_unsqueeze(t, p[0], -1, o); }
static mt_status row_permute(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_permute(t, p[0], (int[]){2, 0, 1}, o); }
/* split pieces feeding different ops, joined again */
static mt_status row_split_concat(mt_tape *t, mt_value **p, mt_value **o)
{
    mt_value *piece[3], *parts[3];
    int n;
    mt_status s = mt_tape_split(t, p[0], 2, 0, 3, piece, &n);
    if (s || (s = mt_tape_tanh(t, piece[0], &parts[0])) ||
        (s = mt_tape_square(t, piece[1], &parts[1])) ||
        (s = mt_tape_mul(t, piece[2], p[1], &parts[2])))
        return s;
    return mt_tape_concat(t, parts, 3, 0, o);
}
static mt_status row_concat(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_concat(t, (mt_value *[]){p[0], p[1]}, 2, -1, o); }
static mt_status row_chunk(mt_tape *t, mt_value **p, mt_value **o)
{
    mt_value *c[3], *prod;
    int n;
    mt_status s = mt_tape_chunk(t, p[0], 3, -1, 3, c, &n);
    if (s || (s = mt_tape_mul(t, c[0], c[2], &prod)))
        return s;
    return mt_tape_add(t, prod, c[1], o);
}

/* ---- reductions ---- */
static mt_status row_sum_dims(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_sum(t, p[0], (int[]){0, -1}, 2, false, o); }
static mt_status row_sum_keep(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_sum(t, p[0], (int[]){1}, 1, true, o); }
static mt_status row_mean_dim(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_mean(t, p[0], (int[]){-2}, 1, false, o); }
static mt_status row_mean_all(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_mean(t, p[0], NULL, 0, true, o); }
static mt_status row_var(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_var(t, p[0], (int[]){-1}, 1, 1.0f, false, o); }
static mt_status row_var_pop(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_var(t, p[0], (int[]){0, 2}, 2, 0.0f, true, o); }
static mt_status row_std(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_std(t, p[0], (int[]){0}, 1, 1.0f, false, o); }
static mt_status row_logsumexp(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_logsumexp(t, p[0], (int[]){-1}, 1, false, o); }
static mt_status row_max_dim(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_max(t, p[0], 1, false, o); }
static mt_status row_amax(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_amax(t, p[0], (int[]){0, 2}, 2, false, o); }
static mt_status row_amin_all(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_amin(t, p[0], NULL, 0, false, o); }
static mt_status row_min_dim(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_min(t, p[0], -1, true, o); }

/* ---- gathers (repeated indices: their gradients add up) ---- */
static const int64_t emb_ids[6] = {3, 0, 3, 1, 3, 0};
static const int32_t sel_ids[4] = {2, 0, 2, 1};
static const int64_t along_ids[6] = {1, 0, 2, 2, 2, 0};
static mt_status row_embedding(mt_tape *t, mt_value **p, mt_value **o)
{
    static mt_tensor ids;   /* [2,3] into a [5,4] table */
    mt_tensor_wrap_into(MT_DTYPE_I64, 2, (int64_t[]){2, 3}, (void *)emb_ids, &ids);
    return mt_tape_embedding(t, &ids, p[0], o);
}
static mt_status row_index_select(mt_tape *t, mt_value **p, mt_value **o)
{
    static mt_tensor ids;
    mt_tensor_wrap_into(MT_DTYPE_I32, 1, (int64_t[]){4}, (void *)sel_ids, &ids);
    return mt_tape_index_select(t, p[0], -1, &ids, o);
}
static mt_status row_take_along_dim(mt_tape *t, mt_value **p, mt_value **o)
{
    static mt_tensor ids;   /* [1,2,3] against x [2,1,3]: dims 0 and 1 broadcast */
    mt_tensor_wrap_into(MT_DTYPE_I64, 3, (int64_t[]){1, 2, 3}, (void *)along_ids, &ids);
    return mt_tape_take_along_dim(t, p[0], &ids, 2, o);
}

/* ---- normalisation ---- */
static mt_status row_layer_norm(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_layer_norm(t, p[0], 1, p[1], p[2], 1e-5f, o); }
static mt_status row_layer_norm_2d(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_layer_norm(t, p[0], 2, p[1], NULL, 1e-5f, o); }
static mt_status row_layer_norm_plain(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_layer_norm(t, p[0], 1, NULL, NULL, 1e-5f, o); }
static mt_status row_layer_norm_strided(mt_tape *t, mt_value **p, mt_value **o)
{
    mt_value *xt;
    mt_status s = mt_tape_transpose(t, p[0], 0, 1, &xt);
    return s ? s : mt_tape_layer_norm(t, xt, 1, p[1], p[2], 1e-5f, o);
}
static mt_status row_rms_norm(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_rms_norm(t, p[0], 1, p[1], 1e-6f, o); }
static float bn_mean[3], bn_var[3];
static mt_status row_batch_norm(mt_tape *t, mt_value **p, mt_value **o)
{
    static mt_tensor rm, rv;
    mt_tensor_wrap_into(MT_DTYPE_F32, 1, (int64_t[]){3}, bn_mean, &rm);
    mt_tensor_wrap_into(MT_DTYPE_F32, 1, (int64_t[]){3}, bn_var, &rv);
    return mt_tape_batch_norm(t, p[0], &rm, &rv, p[1], p[2], 0.1f, 1e-5f, o);
}
static mt_status row_group_norm(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_group_norm(t, p[0], 2, p[1], p[2], 1e-5f, o); }

/* ---- attention ---- */
static mt_status row_attention_causal(mt_tape *t, mt_value **p, mt_value **o) { return mt_tape_scaled_dot_product_attention(t, p[0], p[1], p[2], NULL, true, 0.0f, o); }
static const bool attn_keep[6] = {1, 0, 1, 1, 1, 0};
static mt_status row_attention_mask(mt_tape *t, mt_value **p, mt_value **o)
{
    static mt_tensor mask;   /* [2,3]: every query keeps a key */
    mt_tensor_wrap_into(MT_DTYPE_BOOL, 2, (int64_t[]){2, 3}, (void *)attn_keep, &mask);
    return mt_tape_scaled_dot_product_attention(t, p[0], p[1], p[2], &mask, false, 0.7f, o);
}
static const float attn_bias[3] = {0.5f, -1.0f, 0.25f};
static mt_status row_attention_additive(mt_tape *t, mt_value **p, mt_value **o)
{
    static mt_tensor bias;   /* [3]: one bias per key, broadcast over queries and heads */
    mt_tensor_wrap_into(MT_DTYPE_F32, 1, (int64_t[]){3}, (void *)attn_bias, &bias);
    return mt_tape_scaled_dot_product_attention(t, p[0], p[1], p[2], &bias, false, 0.0f, o);
}
static mt_status row_contiguous(mt_tape *t, mt_value **p, mt_value **o)
{
    mt_value *xt;
    mt_status s = mt_tape_transpose(t, p[0], 0, 1, &xt);
    return s ? s : mt_tape_contiguous(t, xt, o);
}

static const fd_case fd_cases_ops[] = {
    {"gelu", 1, {{3, 5}}, {2}, row_gelu},
    {"gelu_tanh", 1, {{3, 5}}, {2}, row_gelu_tanh},
    {"tanh", 1, {{3, 5}}, {2}, row_tanh},
    {"tanh of a transposed view", 1, {{3, 5}}, {2}, row_tanh_strided},
    {"sigmoid", 1, {{3, 5}}, {2}, row_sigmoid},
    {"silu", 1, {{3, 5}}, {2}, row_silu},
    {"neg", 1, {{4}}, {1}, row_neg},
    {"abs", 1, {{3, 5}}, {2}, row_abs},
    {"exp", 1, {{3, 5}}, {2}, row_exp},
    {"log", 1, {{3, 5}}, {2}, row_log},
    {"sqrt", 1, {{3, 5}}, {2}, row_sqrt},
    {"rsqrt", 1, {{3, 5}}, {2}, row_rsqrt},
    {"square", 1, {{3, 5}}, {2}, row_square},
    {"reciprocal", 1, {{3, 5}}, {2}, row_reciprocal},
    {"softplus", 1, {{3, 5}}, {2}, row_softplus},
    {"hardswish", 1, {{3, 5}}, {2}, row_hardswish},
    {"leaky_relu", 1, {{3, 5}}, {2}, row_leaky_relu},
    {"elu", 1, {{3, 5}}, {2}, row_elu},
    {"add_scalar", 1, {{1, 5}}, {2}, row_add_scalar},
    {"pow_scalar", 1, {{3, 5}}, {2}, row_pow_scalar},
    {"clamp", 1, {{3, 5}}, {2}, row_clamp},
    {"sin", 1, {{3, 5}}, {2}, row_sin},
    {"cos", 1, {{3, 5}}, {2}, row_cos},
    {"erf", 1, {{3, 5}}, {2}, row_erf},
    {"log1p", 1, {{3, 5}}, {2}, row_log1p},
    {"expm1", 1, {{3, 5}}, {2}, row_expm1},
    {"floor", 1, {{3, 5}}, {2}, row_floor},
    {"ceil", 1, {{3, 5}}, {2}, row_ceil},
    {"round", 1, {{3, 5}}, {2}, row_round},
    {"trunc", 1, {{3, 5}}, {2}, row_trunc},
    {"sign", 1, {{3, 5}}, {2}, row_sign},
    {"linear gelu", 3, {{4, 6}, {6, 3}, {3}}, {2, 2, 1}, row_linear_gelu},
    {"linear gelu_tanh", 3, {{4, 6}, {6, 3}, {3}}, {2, 2, 1}, row_linear_gelu_tanh},
    {"linear tanh", 3, {{4, 6}, {6, 3}, {3}}, {2, 2, 1}, row_linear_tanh},
    {"linear sigmoid", 3, {{4, 6}, {6, 3}, {3}}, {2, 2, 1}, row_linear_sigmoid},
    {"linear silu", 3, {{4, 6}, {6, 3}, {3}}, {2, 2, 1}, row_linear_silu},
    {"div broadcast", 2, {{3, 4}, {4}}, {2, 1}, row_div},
    {"maximum broadcast", 2, {{3, 1}, {1, 4}}, {2, 2}, row_maximum},
    {"minimum broadcast", 2, {{2, 3, 4}, {3, 1}}, {3, 2}, row_minimum},
    {"pow broadcast", 2, {{3, 4}, {1}}, {2, 1}, row_pow},
    {"where broadcast", 2, {{3, 1}, {4}}, {2, 1}, row_where},
    {"narrow dim -1", 1, {{3, 5}}, {2}, row_narrow},
    {"slice step 2", 1, {{5, 3}}, {2}, row_slice},
    {"expand size-1 and new dims", 1, {{3, 1}}, {2}, row_expand},
    {"squeeze", 1, {{3, 1, 4}}, {3}, row_squeeze},
    {"unsqueeze -1", 1, {{3, 4}}, {2}, row_unsqueeze},
    {"permute", 1, {{2, 3, 4}}, {3}, row_permute},
    {"split pieces into different ops, concat", 2, {{5, 3}, {1, 3}}, {2, 2}, row_split_concat},
    {"concat dim -1", 2, {{2, 3}, {2, 1}}, {2, 2}, row_concat},
    {"chunk", 1, {{2, 6}}, {2}, row_chunk},
    {"sum dims 0,-1", 1, {{2, 3, 4}}, {3}, row_sum_dims},
    {"sum keepdim size-1 dim", 1, {{3, 1, 2}}, {3}, row_sum_keep},
    {"mean dim -2", 1, {{2, 3, 4}}, {3}, row_mean_dim},
    {"mean all keepdim", 1, {{3, 4}}, {2}, row_mean_all},
    {"var correction 1", 1, {{3, 5}}, {2}, row_var},
    {"var correction 0 dims 0,2 keepdim", 1, {{2, 3, 4}}, {3}, row_var_pop},
    {"std", 1, {{4, 3}}, {2}, row_std},
    {"logsumexp", 1, {{3, 5}}, {2}, row_logsumexp},
    {"max over dim 1", 1, {{2, 4, 3}}, {3}, row_max_dim},
    {"min over dim -1 keepdim", 1, {{3, 5}}, {2}, row_min_dim},
    {"amax dims 0,2", 1, {{3, 2, 2}}, {3}, row_amax},
    {"amin all", 1, {{3, 5}}, {2}, row_amin_all},
    {"embedding repeated ids", 1, {{5, 4}}, {2}, row_embedding},
    {"index_select dim -1, I32, repeated", 1, {{2, 3}}, {2}, row_index_select},
    {"take_along_dim broadcast", 1, {{2, 1, 3}}, {3}, row_take_along_dim},
    {"layer_norm", 3, {{3, 5}, {5}, {5}}, {2, 1, 1}, row_layer_norm},
    {"layer_norm 2 dims, no bias", 2, {{2, 2, 3}, {2, 3}}, {3, 2}, row_layer_norm_2d},
    {"layer_norm no affine", 1, {{2, 4}}, {2}, row_layer_norm_plain},
    {"layer_norm of a transposed view", 3, {{5, 3}, {5}, {5}}, {2, 1, 1}, row_layer_norm_strided},
    {"rms_norm", 2, {{3, 4}, {4}}, {2, 1}, row_rms_norm},
    {"batch_norm training", 3, {{4, 3, 2}, {3}, {3}}, {3, 1, 1}, row_batch_norm},
    {"group_norm", 3, {{2, 4, 3}, {4}, {4}}, {3, 1, 1}, row_group_norm},
    {"attention causal, batch broadcast", 3, {{2, 3, 4}, {3, 4}, {3, 2}}, {3, 2, 2}, row_attention_causal},
    {"attention bool mask, Lq != Lk", 3, {{2, 4}, {3, 4}, {3, 5}}, {2, 2, 2}, row_attention_mask},
    {"attention additive mask, heads", 3, {{2, 2, 4}, {2, 3, 4}, {2, 3, 2}}, {3, 3, 3}, row_attention_additive},
    {"contiguous of a transposed view", 1, {{3, 4}}, {2}, row_contiguous},
};

/* ---- conventions finite differences cannot see (values from PyTorch 1.13) ----
 * torch.maximum/minimum split a tie's gradient in halves; torch.max(dim)
 * sends it to the first maximum (index 1 of [1,3,3,2]), torch.amax splits
 * it evenly; clamp passes the
 * gradient at its bounds; relu'(0) = abs'(0) = 0. */
static const float *grad_of(mt_tape *t, mt_value *x, mt_value *y)
{
    mt_value *loss;
    assert_ok(mt_tape_sum(t, y, NULL, 0, false, &loss));
    assert_ok(mt_tape_backward(t, loss));
    return x->grad->data;
}

static void test_op_conventions(void **state)
{
    (void)state;
    mt_tape *t;
    assert_ok(mt_tape_new(&t));
    mt_tensor *a0, *b0, *r0, *c0;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){2}, (float[]){1, 2}, &a0));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){2}, (float[]){1, 3}, &b0));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){1, 4}, (float[]){1, 3, 3, 2}, &r0));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){4}, (float[]){-1, 0.5f, 2, 0}, &c0));
    mt_value *a, *b, *r, *c, *y;
    assert_ok(mt_param_new(a0, "a", &a));
    assert_ok(mt_param_new(b0, "b", &b));
    assert_ok(mt_param_new(r0, "r", &r));
    assert_ok(mt_param_new(c0, "c", &c));
    const float *g;

    assert_ok(mt_tape_maximum(t, a, b, &y));
    g = grad_of(t, a, y);
    assert_close(g, ((float[]){0.5f, 0}), 2, 0, 0);
    assert_close(b->grad->data, ((float[]){0.5f, 1}), 2, 0, 0);
    mt_param_zero_grad(a), mt_param_zero_grad(b), mt_tape_reset(t);
    assert_ok(mt_tape_minimum(t, a, b, &y));
    g = grad_of(t, a, y);
    assert_close(g, ((float[]){0.5f, 1}), 2, 0, 0);
    mt_tape_reset(t);

    assert_ok(mt_tape_max(t, r, 1, false, &y));
    assert_close(grad_of(t, r, y), ((float[]){0, 1, 0, 0}), 4, 0, 0);
    mt_param_zero_grad(r), mt_tape_reset(t);
    assert_ok(mt_tape_min(t, r, -1, true, &y));
    assert_close(grad_of(t, r, y), ((float[]){1, 0, 0, 0}), 4, 0, 0);
    mt_param_zero_grad(r), mt_tape_reset(t);
    assert_ok(mt_tape_amax(t, r, NULL, 0, false, &y));   /* torch.amax: ties share */
    assert_close(grad_of(t, r, y), ((float[]){0, 0.5f, 0.5f, 0}), 4, 0, 0);
    mt_tape_reset(t);
    /* torch: a row whose max is NaN gets NaN everywhere (no element equals
     * it); the std of a constant row passes 0, not 0/0 */
    mt_tensor *n0, *s0;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){2, 3},
                                  (float[]){1, NAN, 3, 1, 2, 2}, &n0));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){2, 2},
                                  (float[]){0.5f, 0.5f, 1, 2}, &s0));
    mt_value *nv, *sv;
    assert_ok(mt_param_new(n0, "n", &nv));
    assert_ok(mt_param_new(s0, "s", &sv));
    assert_ok(mt_tape_amax(t, nv, (int[]){1}, 1, false, &y));
    g = grad_of(t, nv, y);
    for (int i = 0; i < 3; i++)
        assert_true(isnan(g[i]));
    assert_close(g + 3, ((float[]){0, 0.5f, 0.5f}), 3, 0, 0);
    mt_tape_reset(t);
    assert_ok(mt_tape_std(t, sv, (int[]){1}, 1, 1.0f, false, &y));
    assert_close(grad_of(t, sv, y), ((float[]){0, 0, -0.70710678f, 0.70710678f}), 4, 1e-6,
                 0);
    mt_tape_reset(t);
    mt_param_free(nv);
    mt_param_free(sv);
    mt_tensor_free(n0);
    mt_tensor_free(s0);

    assert_ok(mt_tape_clamp(t, c, -1.0f, 2.0f, &y));
    assert_close(grad_of(t, c, y), ((float[]){1, 1, 1, 1}), 4, 0, 0);
    mt_param_zero_grad(c), mt_tape_reset(t);
    assert_ok(mt_tape_relu(t, c, &y));
    assert_close(grad_of(t, c, y), ((float[]){0, 1, 1, 0}), 4, 0, 0);
    mt_param_zero_grad(c), mt_tape_reset(t);
    assert_ok(mt_tape_abs(t, c, &y));
    assert_close(grad_of(t, c, y), ((float[]){-1, 1, 1, 0}), 4, 0, 0);

    mt_tape_reset(t);

    /* attention: a query with no key to attend to gives NaN, as torch */
    static const bool none[2] = {0, 0};
    mt_tensor no_keys;
    mt_tensor_wrap_into(MT_DTYPE_BOOL, 2, (int64_t[]){1, 2}, (void *)none, &no_keys);
    mt_value *q, *kv;
    assert_ok(mt_tape_reshape(t, a, 2, (int64_t[]){1, 2}, &q));
    assert_ok(mt_tape_reshape(t, r, 2, (int64_t[]){2, 2}, &kv));
    assert_ok(mt_tape_scaled_dot_product_attention(t, q, kv, kv, &no_keys, false, 0.0f, &y));
    assert_true(isnan(((float *)y->data->data)[0]));
    /* a mask that does not broadcast to the scores [1, 2] names itself */
    static const bool three[3] = {1, 1, 1};
    mt_tensor wide;
    mt_tensor_wrap_into(MT_DTYPE_BOOL, 2, (int64_t[]){1, 3}, (void *)three, &wide);
    assert_fails(mt_tape_scaled_dot_product_attention(t, q, kv, kv, &wide, false, 0.0f, &y),
                 MT_ERR_SHAPE, "tape_scaled_dot_product_attention: mask [1,3] does not "
                 "broadcast to the scores [1,2] ([.., Lq, Lk])");

    mt_param_free(a), mt_param_free(b), mt_param_free(r), mt_param_free(c);
    mt_tensor_free(a0), mt_tensor_free(b0), mt_tensor_free(r0), mt_tensor_free(c0);
    mt_tape_free(t);
}

/* batch_norm's running statistics, by hand as torch computes them: one
 * channel holding 1, 2, 3, 4 (mean 2.5, unbiased variance 5/3), momentum
 * 0.1 from (0, 1): running_mean 0.25, running_var 0.9 + 1/6. Evaluation
 * mode then normalises with those. */
static void test_batch_norm_running_statistics(void **state)
{
    (void)state;
    mt_tape *t;
    assert_ok(mt_tape_new(&t));
    mt_tensor *x0, *rm, *rv;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){4, 1}, (float[]){1, 2, 3, 4}, &x0));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){1}, &rm));
    assert_ok(mt_tensor_full(1, (int64_t[]){1}, 1.0f, &rv));
    mt_value *x, *y;
    assert_ok(mt_param_new(x0, "x", &x));
    assert_ok(mt_tape_batch_norm(t, x, rm, rv, NULL, NULL, 0.1f, 1e-5f, &y));
    assert_float_equal(*(float *)rm->data, 0.25f, 1e-7);
    assert_float_equal(*(float *)rv->data, 0.9f + 1.0f / 6.0f, 1e-6);
    /* training output: (x - 2.5) / sqrt(1.25 + eps) */
    assert_float_equal(((float *)y->data->data)[0], (float)(-1.5 / sqrt(1.25 + 1e-5)), 1e-6);
    /* one tensor for both statistics, or only one of them: refused, nothing
     * written */
    mt_value *none = NULL;
    assert_fails(mt_tape_batch_norm(t, x, rm, rm, NULL, NULL, 0.1f, 1e-5f, &none),
                 MT_ERR_INVALID_ARGUMENT, "running_mean [1] and running_var [1] must be two");
    assert_fails(mt_tape_batch_norm(t, x, NULL, rv, NULL, NULL, 0.1f, 1e-5f, &none),
                 MT_ERR_INVALID_ARGUMENT, "running_mean NULL and running_var [1]");
    /* eps and momentum as the plain ops check them (a NaN momentum would
     * have written NaN into the running statistics) */
    assert_fails(mt_tape_batch_norm(t, x, rm, rv, NULL, NULL, NAN, 1e-5f, &none),
                 MT_ERR_INVALID_ARGUMENT, "momentum nan must be in [0, 1]");
    assert_fails(mt_tape_batch_norm(t, x, rm, rv, NULL, NULL, 0.1f, INFINITY, &none),
                 MT_ERR_INVALID_ARGUMENT, "eps inf must be finite and >= 0");
    assert_fails(mt_tape_layer_norm(t, x, 1, NULL, NULL, NAN, &none), MT_ERR_INVALID_ARGUMENT,
                 "eps nan must be finite and >= 0");
    assert_null(none);
    assert_float_equal(*(float *)rm->data, 0.25f, 1e-7);
    mt_tape_reset(t);
    mt_tape_training_set(t, false);
    assert_ok(mt_tape_batch_norm(t, x, rm, rv, NULL, NULL, 0.1f, 1e-5f, &y));
    assert_float_equal(*(float *)rm->data, 0.25f, 1e-7);   /* unchanged */
    double rstd = 1.0 / sqrt(0.9 + 1.0 / 6.0 + 1e-5);
    assert_float_equal(((float *)y->data->data)[3], (float)((4.0 - 0.25) * rstd), 1e-6);
    /* eval-mode gradient: rstd everywhere (the statistics are constants) */
    assert_close(grad_of(t, x, y), ((float[]){(float)rstd, (float)rstd, (float)rstd, (float)rstd}),
                 4, 1e-6, 0);
    mt_param_free(x);
    mt_tensor_free(x0), mt_tensor_free(rm), mt_tensor_free(rv);
    mt_tape_free(t);
}

/* ---- errors: a clear message, *out untouched ---- */
static void test_errors_ops(void **state)
{
    (void)state;
    mt_tape *t;
    assert_ok(mt_tape_new(&t));
    mt_tensor *a0, *b0, *e0, *f_ids, *big_ids;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, &a0));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){4, 5}, &b0));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){0, 3}, &e0));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){2}, &f_ids));
    assert_ok(mt_tensor_from_data(MT_DTYPE_I64, 1, (int64_t[]){1}, (int64_t[]){7}, &big_ids));
    mt_value *a, *b, *e, *v = NULL, *pieces[2];
    int n;
    assert_ok(mt_param_new(a0, "a", &a));
    assert_ok(mt_param_new(b0, "b", &b));
    assert_ok(mt_param_new(e0, "e", &e));
    assert_fails(mt_tape_div(t, a, b, &v), MT_ERR_SHAPE, "tape_div: shapes do not broadcast: a [2,3] and b [4,5]");
    assert_fails(mt_tape_where(t, NULL, a, a, &v), MT_ERR_INVALID_ARGUMENT, "cond");
    assert_fails(mt_tape_sum(t, a, (int[]){2}, 1, false, &v), MT_ERR_INVALID_ARGUMENT, "tape_sum: dim 2 out of range or repeated for a [2,3]");
    assert_fails(mt_tape_mean(t, a, (int[]){1, -1}, 2, false, &v), MT_ERR_INVALID_ARGUMENT, "repeated");
    assert_fails(mt_tape_max(t, e, 0, false, &v), MT_ERR_SHAPE, "tape_max: reducing an empty dim of e [0,3]");
    assert_fails(mt_tape_narrow(t, a, 1, 2, 2, &v), MT_ERR_INVALID_ARGUMENT, "tape_narrow");
    assert_fails(mt_tape_split(t, b, 2, 0, 1, pieces, &n), MT_ERR_INVALID_ARGUMENT, "tape_split: 2 pieces, room for 1");
    assert_fails(mt_tape_chunk(t, e, 3, 0, 2, pieces, &n), MT_ERR_INVALID_ARGUMENT, "3 pieces, room for 2");
    mt_value *three[3];   /* torch.chunk of a size-0 dim: `chunks` empty pieces */
    assert_ok(mt_tape_chunk(t, e, 3, 0, 3, three, &n));
    assert_int_equal(n, 3);
    assert_int_equal(three[2]->data->shape[0], 0);
    assert_fails(mt_tape_concat(t, (mt_value *[]){a, b}, 2, 0, &v), MT_ERR_SHAPE, "");
    assert_fails(mt_tape_concat(t, NULL, 0, 0, &v), MT_ERR_INVALID_ARGUMENT, "tape_concat: 0 inputs");
    assert_fails(mt_tape_embedding(t, f_ids, b, &v), MT_ERR_DTYPE, "tape_embedding: indices must be I32 or I64");
    assert_fails(mt_tape_embedding(t, big_ids, b, &v), MT_ERR_INVALID_ARGUMENT, "7");
    assert_fails(mt_tape_layer_norm(t, a, 1, b, NULL, 1e-5f, &v), MT_ERR_SHAPE, "tape_layer_norm: weight b [4,5] does not fit x a [2,3]");
    assert_fails(mt_tape_group_norm(t, b, 3, NULL, NULL, 1e-5f, &v), MT_ERR_SHAPE, "3 groups do not divide the 5 channels");
    assert_fails(mt_tape_scaled_dot_product_attention(t, a, b, b, NULL, false, 0.0f, &v), MT_ERR_SHAPE, "q a [2,3], k b [4,5]");
    assert_fails(mt_tape_linear(t, a, b, NULL, (mt_activation)99, &v), MT_ERR_INVALID_ARGUMENT, "unknown activation 99");
    mt_value *c;
    assert_ok(mt_tape_constant(t, big_ids, &c));
    assert_fails(mt_tape_gelu(t, c, &v), MT_ERR_DTYPE, "");
    assert_null(v);
    /* torch.var(x, correction=N): Σ/0 -> inf; of equal values 0/0 -> NaN */
    mt_value *va, *vb;
    assert_ok(mt_tape_var(t, b, (int[]){1}, 1, 5.0f, false, &va));
    assert_true(isnan(((float *)va->data->data)[0]));   /* b is all zeros */
    assert_ok(mt_tape_std(t, e, NULL, 0, 0.0f, false, &vb));
    assert_true(isnan(((float *)vb->data->data)[0]));   /* empty: 0/0 */
    mt_tensor *two0;
    mt_value *two, *vc;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){2}, (float[]){1, 2}, &two0));
    assert_ok(mt_tape_constant(t, two0, &two));
    assert_ok(mt_tape_var(t, two, NULL, 0, 2.0f, false, &vc));
    assert_true(isinf(((float *)vc->data->data)[0]));   /* torch: tensor(inf) */
    mt_tensor_free(two0);
    mt_param_free(a), mt_param_free(b), mt_param_free(e);
    mt_tensor_free(a0), mt_tensor_free(b0), mt_tensor_free(e0), mt_tensor_free(f_ids);
    mt_tensor_free(big_ids);
    mt_tape_free(t);
}

/* ---- every row against PyTorch (tests/train/make_ops_refs.py) ----
 * The same parameters as the finite-difference harness (seed 99); the
 * output and the gradients of sum(out * weights) must match torch's float64
 * values: finite differences check a gradient against its own forward, this
 * checks the forward (and so the op's definition) too. */

/* `file` beside tests/train/train_refs.safetensors */
static void sibling_path(const char *file, char *path, size_t size)
{
    snprintf(path, size, "%s", REFS);
    char *slash = strrchr(path, '/');
    char *base = slash ? slash + 1 : path;
    snprintf(base, size - (size_t)(base - path), "%s", file);
}

static void check_case_torch(const fd_case *c, mt_safetensors *refs)
{
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    mt_value *p[3];
    uint64_t seed = 99;
    for (int k = 0; k < c->n_params; k++) {
        mt_tensor *init;
        assert_ok(mt_tensor_zeros(MT_DTYPE_F32, c->ranks[k], c->shapes[k], &init));
        float *d = init->data;
        for (int64_t i = 0; i < mt_tensor_numel(init); i++)
            d[i] = rand_unit(&seed) * 1.5f;
        assert_ok(mt_param_new(init, "p", &p[k]));
        mt_tensor_free(init);
    }
    mt_value *out, *weights, *prod, *loss;
    assert_ok(c->build(tape, p, &out));
    char name[128];
    snprintf(name, sizeof name, "%s.out", c->name);
    mt_tensor *want, *got;
    if (mt_safetensors_get(refs, name, &want) != MT_OK)
        fail_msg("%s: no PyTorch reference (run tests/train/make_ops_refs.py)", c->name);
    assert_ok(mt_tensor_contiguous(out->data, &got));
    assert_tensor_close(got, want, 1e-5, 1e-4);
    mt_tensor_free(got);
    mt_tensor_free(want);
    mt_tensor *w;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, out->data->rank, out->data->shape, &w));
    for (int64_t i = 0; i < mt_tensor_numel(w); i++)
        ((float *)w->data)[i] = (float)(0.5 + 0.37 * (double)((i * 7) % 5));
    assert_ok(mt_tape_constant(tape, w, &weights));
    assert_ok(mt_tape_mul(tape, out, weights, &prod));
    assert_ok(mt_tape_sum_all(tape, prod, &loss));
    assert_ok(mt_tape_backward(tape, loss));
    for (int k = 0; k < c->n_params; k++) {
        snprintf(name, sizeof name, "%s.grad%d", c->name, k);
        assert_ok(mt_safetensors_get(refs, name, &want));
        assert_tensor_close(p[k]->grad, want, 1e-5, 1e-4);
        mt_tensor_free(want);
    }
    mt_tensor_free(w);
    for (int k = 0; k < c->n_params; k++)
        mt_param_free(p[k]);
    mt_tape_free(tape);
}

static void test_ops_match_pytorch(void **state)
{
    (void)state;
    char path[4096];
    sibling_path("ops_refs.safetensors", path, sizeof path);
    mt_safetensors *refs;
    assert_ok(mt_safetensors_open(path, &refs));
    for (size_t i = 0; i < sizeof fd_cases_ops / sizeof fd_cases_ops[0]; i++)
        check_case_torch(&fd_cases_ops[i], refs);
    mt_safetensors_close(refs);
}

/* ---- the unary table and its tape ops stay in step ----
 * Every row of MT_UNARY_OPS has a declared mt_tape_<name> (a row without
 * one fails to compile here: implicit declarations are errors) and a
 * finite-difference row named after it ("<name>" or "<name> …"). */
#include "../../tensor/unary_ops.h"

#define UNARY_TAPE_FN(name, params, kind, act, fn, grad) {#name, (void (*)(void))mt_tape_##name},
static const struct { const char *name; void (*fn)(void); } unary_tape_fns[] = {
    MT_UNARY_OPS(UNARY_TAPE_FN)};

static bool has_fd_row(const fd_case *rows, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (strncmp(rows[i].name, name, len) == 0 &&
            (rows[i].name[len] == '\0' || rows[i].name[len] == ' '))
            return true;
    return false;
}

static void test_every_unary_op_has_a_tape_op_and_a_row(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof unary_tape_fns / sizeof unary_tape_fns[0]; i++) {
        const char *name = unary_tape_fns[i].name;
        assert_non_null(unary_tape_fns[i].fn);
        if (!has_fd_row(fd_cases, sizeof fd_cases / sizeof fd_cases[0], name) &&
            !has_fd_row(fd_cases_ops, sizeof fd_cases_ops / sizeof fd_cases_ops[0], name))
            fail_msg("unary op %s has no finite-difference row", name);
    }
}
