/* fuzz_loaders.c — libFuzzer target: the state_dict loaders on hostile
 * weights. The input is a recipe, not a file: a framework, a loader, a
 * few tensors (named from the loaders' own vocabulary, in any dtype and
 * small shape, their raw bytes: NaN, inf and subnormals included) and the
 * loader's options. The tensors become a safetensors file in memory, the
 * loader reads it, and a layer it builds runs once on an input of a
 * fuzzed shape. Build and run with fuzz/run.sh SECONDS loaders.
 *
 * Besides the sanitizers' checks, a loader or forward that fails must
 * leave its output NULL and say why (mt_last_error()); anything else
 * aborts, and the fuzzer reports it like a crash. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minitensor/minitensor.h"

#define CHECK(cond)           \
    do {                      \
        if (!(cond))          \
            abort();          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The recipe's bytes, read front to back; zeros once they run out. */
typedef struct recipe {
    const uint8_t *p;
    size_t left;
} recipe;

static uint8_t byte(recipe *r)
{
    if (!r->left)
        return 0;
    r->left--;
    return *r->p++;
}

/* A small option value: mostly 0..4 (0 is "the default"), sometimes -1
 * or a value near INT64_MAX. */
static int64_t option(recipe *r)
{
    uint8_t b = byte(r);
    return b < 200 ? b % 5 : b < 230 ? -1 : b < 250 ? (int64_t)(b - 200) : INT64_MAX - b;
}

/* The tensor names the loaders look for (the prefix is "p"). */
static const char *const names[] = {
    "weight", "bias", "running_mean", "running_var", "kernel", "gamma", "beta",
    "moving_mean", "moving_variance", "embeddings", "depthwise_kernel", "pointwise_kernel",
    "scale", "alpha", "concat_score_weight", "weight_g", "weight_v", "in_proj_weight",
    "in_proj_bias", "out_proj.weight", "out_proj.bias", "q_proj_weight", "k_proj_weight",
    "v_proj_weight", "query/kernel", "key/kernel", "value/kernel",
    "attention_output/kernel", "query/bias", "key/bias", "value/bias",
    "attention_output/bias", "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
    "weight_ih_l0_reverse", "weight_hh_l0_reverse", "weight_ih_l1", "cell/kernel",
    "cell/recurrent_kernel", "cell/bias", "kernel:0", "bias:0", "weight_hr_l0",
    "weight_hr_l0_reverse", "conv_lstm_cell/kernel", "conv_lstm_cell/recurrent_kernel",
    "conv_lstm_cell/bias", "recurrent_kernel", "q_proj.weight", "k_proj.weight",
    "v_proj.weight", "o_proj.weight", "q_proj.bias", "k_proj.bias", "v_proj.bias",
    "o_proj.bias", "wq.weight", "wk.weight", "wv.weight", "wo.weight", "qkv.weight",
    "qkv.bias", "proj.weight", "proj.bias", "relative_position_bias_table",
    "relative_position_index", "logit_scale", "cpb_mlp.0.weight", "cpb_mlp.0.bias",
    "cpb_mlp.2.weight", "relative_coords_table", "norm.weight", "norm.bias",
    "reduction.weight", "reduction.bias", "q_norm.weight", "k_norm.weight",
    "query_key_value.weight", "query_key_value.bias", "dense.weight", "dense.bias",
    "c_attn.weight", "c_attn.bias", "c_proj.weight", "c_proj.bias", "self.query.weight",
    "self.key.weight", "self.value.weight", "output.dense.weight", "q_lin.weight",
    "k_lin.weight", "v_lin.weight", "out_lin.weight"};
enum { NAMES = sizeof names / sizeof *names, TENSORS = 6 };

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {{"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I8", 1}, {"I32", 4},
              {"BOOL", 1}};

/* The recipe's tensors as a safetensors file in buf (at most cap bytes);
 * its size, 0 if it does not fit. */
static size_t write_file(recipe *r, const char *sep, uint8_t *buf, size_t cap)
{
    char header[4096];
    size_t hlen = 0, offset = 0;
    uint8_t blob[TENSORS][2048];
    size_t blen[TENSORS];
    bool used[NAMES] = {0};
    int count = 1 + byte(r) % TENSORS;
    hlen += (size_t)snprintf(header + hlen, sizeof header - hlen, "{");
    for (int t = 0; t < count; t++) {
        int name = byte(r) % NAMES, dt = byte(r) % 7, rank = byte(r) % 6;
        // two tensors of one name make an invalid file: the reader's
        // business, not the loaders'; the second takes the next free name
        while (used[name])
            name = (name + 1) % NAMES;
        used[name] = true;
        int64_t shape[5], numel = 1;
        char dims[64] = "";
        size_t dl = 0;
        for (int d = 0; d < rank; d++) {
            shape[d] = byte(r) % 7;
            numel *= shape[d];
            dl += (size_t)snprintf(dims + dl, sizeof dims - dl, "%s%lld", d ? "," : "",
                                   (long long)shape[d]);
        }
        blen[t] = (size_t)numel * dtypes[dt].size;
        if (blen[t] > sizeof blob[t])
            return 0;
        for (size_t i = 0; i < blen[t]; i++)
            blob[t][i] = byte(r);
        hlen += (size_t)snprintf(header + hlen, sizeof header - hlen,
                                 "%s\"p%s%s\":{\"dtype\":\"%s\",\"shape\":[%s],"
                                 "\"data_offsets\":[%zu,%zu]}",
                                 t ? "," : "", sep, names[name], dtypes[dt].name, dims,
                                 offset, offset + blen[t]);
        offset += blen[t];
        if (hlen >= sizeof header - 200)
            return 0;
    }
    hlen += (size_t)snprintf(header + hlen, sizeof header - hlen, "}");
    if (8 + hlen + offset > cap)
        return 0;
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    size_t at = 8 + hlen;
    for (int t = 0; t < count; t++) {
        memcpy(buf + at, blob[t], blen[t]);
        at += blen[t];
    }
    return at;
}

/* The recurrent options past the first few, read in this order: merge,
 * go_backwards, activation, recurrent_activation, act. */
static mt_rnn_options rnn_more(mt_rnn_options o, recipe *r)
{
    o.merge = (mt_rnn_merge)(byte(r) % 6);
    o.go_backwards = byte(r) & 1;
    o.activation = (mt_rnn_activation)(byte(r) % 7);
    o.recurrent_activation = (mt_rnn_activation)(byte(r) % 7);
    o.act = (mt_activation)(byte(r) % (MT_ACTIVATION_COUNT + 1));
    return o;
}

/* Conv3D's options, one recipe byte or option() each, in field order. */
static mt_conv3d_options conv3d_options(recipe *r)
{
    mt_conv3d_options o = {.layout = (mt_kernel_layout)(byte(r) % 4)};
    int64_t *const v[] = {&o.in_channels, &o.out_channels, &o.kernel_d, &o.kernel_h,
                          &o.kernel_w, &o.stride_d, &o.stride_h, &o.stride_w, &o.pad_front,
                          &o.pad_back, &o.pad_top, &o.pad_bottom, &o.pad_left, &o.pad_right,
                          &o.dilation_d, &o.dilation_h, &o.dilation_w, &o.groups};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        *v[i] = option(r);
    o.padding = (mt_padding)(byte(r) % 4);
    o.act = (mt_activation)(byte(r) % (MT_ACTIVATION_COUNT + 1));
    return o;
}

/* Calls loader `which` (of LOADERS) on sd with options from the recipe;
 * a second layer (a separable conv's pointwise step) into *second. */
enum { LOADERS = 31 };
static mt_status load(int which, recipe *r, const mt_state_dict *sd, mt_layer **l,
                      mt_layer **second)
{
    // (the order in which an initializer's expressions read the recipe is
    // the compiler's: the seeds leave these bytes 0)
    const mt_conv2d_options conv = {
        .kernel_h = option(r), .kernel_w = option(r), .stride_h = option(r),
        .stride_w = option(r), .padding = (mt_padding)(byte(r) % 4),
        .act = (mt_activation)(byte(r) % (MT_ACTIVATION_COUNT + 1)), .pad_top = option(r),
        .pad_bottom = option(r), .pad_left = option(r), .pad_right = option(r),
        .dilation_h = option(r), .dilation_w = option(r), .groups = option(r),
        .out_channels = option(r), .in_channels = option(r)};
    const mt_conv2d_transpose_options kt = {
        .kernel_h = option(r), .kernel_w = option(r), .stride_h = option(r),
        .stride_w = option(r), .padding = (mt_padding)(byte(r) % 4),
        .dilation_h = option(r), .dilation_w = option(r), .has_output_padding = byte(r) & 1,
        .output_padding_h = option(r), .output_padding_w = option(r)};
    const mt_conv_transpose2d_params pt = {
        .stride_h = option(r), .stride_w = option(r), .pad_top = option(r),
        .pad_bottom = option(r), .pad_left = option(r), .pad_right = option(r),
        .output_padding_h = option(r), .output_padding_w = option(r),
        .dilation_h = option(r), .dilation_w = option(r), .groups = option(r)};
    const mt_keras_attention_options ka = {
        .causal = byte(r) & 1, .score_mode = (mt_score_mode)(byte(r) % 3)};
    const mt_rnn_options rnn = {
        .num_layers = (int)option(r), .bidirectional = byte(r) & 1,
        .output = (mt_rnn_return)(byte(r) % 8), .reset_before = byte(r) & 1};
    const mt_norm_options norm = {.normalized_rank = (int)option(r)};
    const mt_batch_norm_options bn = {.channel_dim = (int)option(r)};
    const mt_linear_options lin = {.layout = (mt_weight_layout)(byte(r) % 4),
                                   .act = (mt_activation)(byte(r) % MT_ACTIVATION_COUNT)};
    static const char *const equations[] = {"ab,bc->ac", "abc,cde->abde", "...b,bc->...c",
                                            "abc,cd->abd", "ab,cb->ac"};
    switch (which) {
    case 0: return mt_linear_load(sd, "p", &lin, l);
    case 1: return mt_conv2d_load(sd, "p", &conv, l);
    case 2: return mt_conv1d_load(sd, "p", &conv, l);
    case 3: return mt_depthwise_conv2d_load(sd, "p", &conv, l);
    case 4: return mt_depthwise_conv1d_load(sd, "p", &conv, l);
    case 5: return mt_separable_conv2d_load(sd, "p", &conv, l, second);
    case 6: return mt_separable_conv1d_load(sd, "p", &conv, l, second);
    case 7: return mt_batch_norm_load(sd, "p", &bn, l);
    case 8: return mt_layer_norm_load(sd, "p", &norm, l);
    case 9: return mt_rms_norm_load(sd, "p", &norm, l);
    case 10: return mt_group_norm_load(sd, "p", (int)option(r), &norm, l);
    case 11: return mt_conv_transpose2d_load(sd, "p", &pt, l);
    case 12: return mt_conv_transpose1d_load(sd, "p", &pt, l);
    case 13: return mt_conv2d_transpose_load(sd, "p", &kt, l);
    case 14: return mt_conv1d_transpose_load(sd, "p", &kt, l);
    case 15: {
        const char *equation = equations[byte(r) % 5];
        return mt_einsum_dense_load(sd, "p", equation,
                                    (mt_activation)(byte(r) % MT_ACTIVATION_COUNT), l);
    }
    case 16: return mt_embedding_load(sd, "p", l);
    case 17: {
        int64_t heads = option(r);
        return mt_multihead_attention_load(sd, "p", heads, byte(r) & 1, l);
    }
    case 18: return mt_prelu_load(sd, "p", l);
    case 19: return byte(r) & 1 ? mt_dot_attention_load(sd, "p", &ka, l)
                                : mt_additive_attention_load(sd, "p", &ka, l);
    case 20: {
        bool lstm = byte(r) & 1;
        const mt_rnn_options o = rnn_more(rnn, r);
        return lstm ? mt_lstm_load(sd, "p", &o, l) : mt_gru_load(sd, "p", &o, l);
    }
    case 21: {
        const mt_rnn_options o = rnn_more(rnn, r);
        return mt_rnn_load(sd, "p", &o, l);
    }
    case 22: {
        const mt_conv3d_options o = conv3d_options(r);
        return mt_conv3d_load(sd, "p", &o, l);
    }
    case 23: {
        const mt_conv_transpose3d_params p3 = {
            .stride_d = option(r), .stride_h = option(r), .stride_w = option(r),
            .pad_front = option(r), .pad_back = option(r), .pad_left = option(r),
            .output_padding_d = option(r), .output_padding_w = option(r),
            .dilation_d = option(r), .dilation_w = option(r), .groups = option(r)};
        return mt_conv_transpose3d_load(sd, "p", &p3, l);
    }
    case 25: {
        mt_conv_lstm_options o = {.padding = (mt_padding)(byte(r) % 3)};
        for (int d = 0; d < 3; d++) {
            o.stride[d] = option(r);
            o.dilation[d] = option(r);
        }
        o.output = (mt_rnn_return)(byte(r) % 8);
        o.go_backwards = byte(r) & 1;
        o.activation = (mt_rnn_activation)(byte(r) % 7);
        o.recurrent_activation = (mt_rnn_activation)(byte(r) % 7);
        return mt_conv_lstm_load(sd, "p", &o, l);
    }
    case 26: {
        mt_llama_attention_options o = {.n_heads = option(r), .n_kv_heads = option(r)};
        o.rope.pairing = (mt_rope_pairing)(byte(r) % 3);
        o.rope.theta = (float)option(r) * 5000.0f;
        o.rope.offset = option(r);
        o.rope.rotary_dim = option(r);
        return mt_llama_attention_load(sd, "p", &o, l);
    }
    case 27:
    case 28: {
        mt_window_attention_options o = {.window_h = option(r), .window_w = option(r)};
        o.shift_h = option(r);
        o.shift_w = option(r);
        o.num_heads = option(r);
        o.roll_before_pad = byte(r) & 1;
        return which == 27 ? mt_shifted_window_attention_load(sd, "p", &o, l)
                           : mt_shifted_window_attention_v2_load(sd, "p", &o, l);
    }
    case 29: return mt_patch_merging_load(sd, "p", &norm, l);
    case 30: return mt_patch_merging_v2_load(sd, "p", &norm, l);
    default: {
        const mt_conv3d_transpose_options k3 = {
            .kernel_d = option(r), .stride_d = option(r), .stride_w = option(r),
            .padding = (mt_padding)(byte(r) % 4), .dilation_d = option(r),
            .dilation_h = option(r), .has_output_padding = byte(r) & 1,
            .output_padding_d = option(r), .output_padding_h = option(r),
            .out_channels = option(r), .in_channels = option(r)};
        return mt_conv3d_transpose_load(sd, "p", &k3, l);
    }
    }
}

/* Runs l once on an input of a shape (and dtype) from the recipe: dims 1..6,
 * or 0 for the byte 255 (an empty input; the seeds' dim bytes are below 6,
 * so their meaning is kept). */
static void run(mt_layer *l, recipe *r)
{
    int rank = 1 + byte(r) % 5;
    int64_t shape[5];
    for (int d = 0; d < rank; d++) {
        uint8_t b = byte(r);
        shape[d] = b == 255 ? 0 : 1 + b % 6;
    }
    mt_dtype dtype = byte(r) % 4 ? MT_DTYPE_F32 : MT_DTYPE_I32;
    mt_tensor *x = NULL, *y = (mt_tensor *)&y;
    if (mt_tensor_zeros(dtype, rank, shape, &x))
        return;
    uint8_t *bytes = x->data;
    for (int64_t i = 0, n = mt_tensor_numel(x) * 4; i < n; i++)
        bytes[i] = dtype == MT_DTYPE_I32 ? (uint8_t)(byte(r) % 8 * (i % 4 == 0)) : byte(r);
    mt_status s = mt_layer_forward(l, x, &y);
    CHECK(s ? y == NULL && mt_last_error()[0] : y != NULL);
    mt_tensor_free(y);
    mt_tensor_free(x);
}

/* The library's allocator, capped: a layer built from hostile options may
 * rightly ask for an output of exabytes, which the library must refuse
 * (MT_ERR_OUT_OF_MEMORY) when the allocator says no; the sanitizers'
 * allocator would instead report the request itself as a crash. */
enum { ALLOC_CAP = 256 << 20 };

static void *capped_alloc(size_t size, size_t align, void *user)
{
    (void)user;
    if (size > ALLOC_CAP)
        return NULL;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void capped_free(void *ptr, void *user)
{
    (void)user;
    free(ptr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t file[8 + 4096 + 6 * 2048];
    static bool capped;
    if (!capped) {
        mt_allocator_set(&(mt_allocator){capped_alloc, capped_free, NULL});
        capped = true;
    }
    recipe r = {data, size};
    bool keras = byte(&r) & 1;
    int which = byte(&r) % LOADERS;
    size_t n = write_file(&r, keras ? "/" : ".", file, sizeof file);
    mt_safetensors *st = NULL;
    if (!n || mt_safetensors_open_memory(file, n, &st))
        return 0;
    const mt_state_dict sd = {st, keras ? MT_FRAMEWORK_KERAS : MT_FRAMEWORK_PYTORCH};
    mt_layer *l = (mt_layer *)&l, *second = (mt_layer *)&second;
    mt_status s = load(which, &r, &sd, &l, &second);
    if (s) {
        CHECK(l == NULL && mt_last_error()[0]);
        CHECK(which != 5 && which != 6 ? true : second == NULL);
    } else {
        run(l, &r);
        mt_layer_free(l);
        if (which == 5 || which == 6)
            mt_layer_free(second);
    }
    mt_safetensors_close(st);
    return 0;
}
