#!/usr/bin/env python3
"""Write the seed corpus of the loaders fuzz target (fuzz/fuzz_loaders.c).

    make_loaders_corpus.py OUTDIR      -> OUTDIR/<loader>_<framework>

Deterministic, standard library only. The committed seeds are
fuzz/corpus/loaders/; regenerate them with
`fuzz/make_loaders_corpus.py fuzz/corpus/loaders`.

Each seed is a recipe that loads: tensors of shapes that fit the loader,
default options, and an input the layer takes, so that the fuzzer starts
from layers that build and run (random recipes rarely give the three to
four consistent tensors of an attention or an LSTM). The recipe format is
fuzz_loaders.c's: framework, loader, tensor count - 1, then per tensor its
name index, dtype index, rank and dims (each below 7) and its F32 bytes;
then the option bytes, then the input's rank, dims, dtype and values.
"""
import os
import random
import struct
import sys

NAMES = [
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
    "k_lin.weight", "v_lin.weight", "out_lin.weight"]

# the option bytes the recurrent loaders read after the common ones
# (rnn_more: merge, go_backwards, activation, recurrent_activation, act) and
# Conv3D's (conv3d_options: layout, 18 sizes, padding, act)
RNN_MORE = [0] * 5
CONV3D = [0] * 21
# the transposed 3-D loaders' 11 option bytes
TRANSPOSE3D = [0] * 11
# ConvLSTM's 11: padding, stride and dilation per dim, output, go_backwards,
# the two activations; SAME padding here
CONV_LSTM = [1] + [0] * 10
# Llama attention's 6: n_heads 2, n_kv_heads 1 (GQA), pairing, theta (0:
# 10000), offset, rotary_dim
LLAMA = [2, 1, 0, 0, 0, 0]
# the window attentions' 6: window_h, window_w, shift_h, shift_w, one head,
# torchvision's order; V1 a 1x2 window shifted by 1 along W (its bias table
# has (2·1-1)·(2·2-1) = 3 rows: dims stay below 7), V2 (windows >= 2) 2x2
# shifted by 1x1
WINDOW = [1, 2, 0, 1, 1, 0]
WINDOW_V2 = [2, 2, 1, 1, 1, 0]

# the option bytes load() reads before its switch (all 0: the defaults)
COMMON_OPTIONS = 46

# name: (loader index, keras, [(tensor, shape, positive)], extra option bytes,
#        input shape, input is I32)
SEEDS = {
    "linear_torch": (0, 0, [("weight", [3, 4]), ("bias", [3])], [], [2, 4]),
    "conv2d_torch": (1, 0, [("weight", [2, 3, 3, 3]), ("bias", [2])], [], [1, 5, 5, 3]),
    "conv1d_torch": (2, 0, [("weight", [2, 3, 3]), ("bias", [2])], [], [1, 5, 3]),
    "conv2d_keras": (1, 1, [("kernel", [3, 3, 3, 2]), ("bias", [2])], [], [1, 5, 5, 3]),
    "depthwise2d_keras": (3, 1, [("depthwise_kernel", [3, 3, 2, 1]), ("bias", [2])], [],
                          [1, 4, 4, 2]),
    "depthwise1d_keras": (4, 1, [("kernel", [3, 2, 1])], [], [1, 5, 2]),
    "separable2d_keras": (5, 1, [("depthwise_kernel", [3, 3, 2, 1]),
                                 ("pointwise_kernel", [1, 1, 2, 3]), ("bias", [3])], [],
                          [1, 4, 4, 2]),
    "separable1d_keras": (6, 1, [("depthwise_kernel", [3, 2, 1]),
                                 ("pointwise_kernel", [1, 2, 3])], [], [1, 5, 2]),
    "batch_norm_torch": (7, 0, [("running_mean", [3]), ("running_var", [3], True),
                                ("weight", [3]), ("bias", [3])], [], [2, 3]),
    "batch_norm_keras": (7, 1, [("moving_mean", [3]), ("moving_variance", [3], True),
                                ("gamma", [3])], [], [2, 2, 3]),
    "layer_norm_torch": (8, 0, [("weight", [4]), ("bias", [4])], [], [2, 4]),
    "rms_norm_keras": (9, 1, [("scale", [4])], [], [2, 4]),
    "group_norm_torch": (10, 0, [("weight", [4]), ("bias", [4])], [2], [1, 3, 4]),
    "conv_transpose2d_torch": (11, 0, [("weight", [3, 2, 3, 3]), ("bias", [2])], [],
                               [1, 3, 3, 3]),
    "conv_transpose1d_torch": (12, 0, [("weight", [3, 2, 3])], [], [1, 4, 3]),
    "conv2d_transpose_keras": (13, 1, [("kernel", [3, 3, 2, 3]), ("bias", [2])], [],
                               [1, 3, 3, 3]),
    "conv1d_transpose_keras": (14, 1, [("kernel", [3, 2, 3])], [], [1, 4, 3]),
    "einsum_dense_keras": (15, 1, [("kernel", [4, 3]), ("bias", [3])], [0, 0], [2, 4]),
    "embedding_torch": (16, 0, [("weight", [6, 3])], [], [2, 3], True),
    "mha_torch": (17, 0, [("in_proj_weight", [6, 2]), ("in_proj_bias", [6]),
                          ("out_proj.weight", [2, 2]), ("out_proj.bias", [2])], [2, 0],
                  [1, 3, 2]),
    "mha_keras": (17, 1, [("query/kernel", [2, 2, 1]), ("key/kernel", [2, 2, 1]),
                          ("value/kernel", [2, 2, 1]), ("attention_output/kernel", [2, 1, 2])],
                  [2, 1], [1, 3, 2]),
    "prelu_torch": (18, 0, [("weight", [1])], [], [2, 5]),
    "dot_attention_keras": (19, 1, [("scale", [])], [1], [1, 3, 2]),
    "lstm_torch": (20, 0, [("weight_ih_l0", [4, 3]), ("weight_hh_l0", [4, 1]),
                           ("bias_ih_l0", [4]), ("bias_hh_l0", [4])], [1] + RNN_MORE,
                   [2, 3, 3]),
    "gru_torch": (20, 0, [("weight_ih_l0", [6, 3]), ("weight_hh_l0", [6, 2]),
                          ("bias_ih_l0", [6]), ("bias_hh_l0", [6])], [0] + RNN_MORE,
                  [2, 3, 3]),
    "rnn_torch": (21, 0, [("weight_ih_l0", [3, 3]), ("weight_hh_l0", [3, 3]),
                          ("bias_ih_l0", [3]), ("bias_hh_l0", [3])], RNN_MORE, [2, 4, 3]),
    # proj_size 1 (H 1: dims stay below 7), both directions, merge_mode 'sum',
    # hard_sigmoid gates
    "lstm_proj_torch": (20, 0, [("weight_ih_l0", [4, 3]), ("weight_hh_l0", [4, 1]),
                                ("weight_hr_l0", [1, 1]), ("weight_ih_l0_reverse", [4, 3]),
                                ("weight_hh_l0_reverse", [4, 1]),
                                ("weight_hr_l0_reverse", [1, 1])], [1, 1, 0, 0, 3, 0],
                        [2, 3, 3]),
    # go_backwards, relu
    "rnn_backwards_torch": (21, 0, [("weight_ih_l0", [3, 3]), ("weight_hh_l0", [3, 3])],
                            [0, 1, 4, 0, 0], [2, 4, 3]),
    "conv3d_torch": (22, 0, [("weight", [2, 3, 2, 2, 2]), ("bias", [2])], CONV3D,
                     [1, 3, 3, 3, 3]),
    "conv3d_keras": (22, 1, [("kernel", [2, 2, 2, 3, 2])], CONV3D, [1, 3, 3, 3, 3]),
    "conv_transpose3d_torch": (23, 0, [("weight", [3, 2, 2, 2, 2]), ("bias", [2])],
                               TRANSPOSE3D, [1, 2, 3, 2, 3]),
    "conv3d_transpose_keras": (24, 1, [("kernel", [2, 2, 2, 2, 3])], TRANSPOSE3D,
                               [1, 2, 3, 2, 3]),
    "conv_lstm_keras": (25, 1, [("conv_lstm_cell/kernel", [2, 2, 2, 4]),
                                ("conv_lstm_cell/recurrent_kernel", [2, 2, 1, 4]),
                                ("conv_lstm_cell/bias", [4])], CONV_LSTM, [1, 2, 3, 3, 2]),
    # E 4, two query heads of D 2 over one key/value head
    "llama_attention_torch": (26, 0, [("q_proj.weight", [4, 4]), ("k_proj.weight", [2, 4]),
                                      ("v_proj.weight", [2, 4]), ("o_proj.weight", [4, 4])],
                              LLAMA, [1, 3, 4]),
    "llama_attention_llama2c": (26, 0, [("wq.weight", [4, 4]), ("wk.weight", [2, 4]),
                                        ("wv.weight", [2, 4]), ("wo.weight", [4, 4])],
                                LLAMA, [2, 2, 4]),
    # C 2 on a 3x3 image (padded to 3x4 or 4x4)
    "window_attention_torch": (27, 0, [("qkv.weight", [6, 2]), ("qkv.bias", [6]),
                                       ("proj.weight", [2, 2]), ("proj.bias", [2]),
                                       ("relative_position_bias_table", [3, 1])],
                               WINDOW, [1, 3, 3, 2]),
    "window_attention_v2_torch": (28, 0, [("qkv.weight", [6, 2]), ("qkv.bias", [6]),
                                          ("proj.weight", [2, 2]), ("logit_scale", [1, 1, 1]),
                                          ("cpb_mlp.0.weight", [4, 2]),
                                          ("cpb_mlp.2.weight", [1, 4])],
                                  WINDOW_V2, [1, 3, 3, 2]),
    # C 1 (4C 4) -> 2
    "patch_merging_torch": (29, 0, [("norm.weight", [4]), ("norm.bias", [4]),
                                    ("reduction.weight", [2, 4])], [], [1, 3, 3, 1]),
    "patch_merging_v2_torch": (30, 0, [("reduction.weight", [2, 4]), ("norm.weight", [2]),
                                       ("norm.bias", [2])], [], [1, 3, 3, 1]),
    # Qwen3's per-head q/k norms ([D 2])
    "llama_attention_qk_norm_torch": (26, 0, [("q_proj.weight", [4, 4]),
                                              ("k_proj.weight", [2, 4]),
                                              ("v_proj.weight", [2, 4]),
                                              ("o_proj.weight", [4, 4]),
                                              ("q_norm.weight", [2], True),
                                              ("k_norm.weight", [2], True)],
                                      LLAMA, [1, 3, 4]),
    # GPT-NeoX: one head of D 2, its q, k, v rows in turn (dims stay below 7)
    "llama_attention_neox_torch": (26, 0, [("query_key_value.weight", [6, 4]),
                                           ("query_key_value.bias", [6]),
                                           ("dense.weight", [4, 2]), ("dense.bias", [4])],
                                   [1, 0, 0, 0, 0, 0], [1, 3, 4]),
    # GPT-2's Conv1D c_attn [E, 3E], c_proj [E, E]; BERT's four Linears
    "mha_gpt2_torch": (17, 0, [("c_attn.weight", [2, 6]), ("c_attn.bias", [6]),
                               ("c_proj.weight", [2, 2]), ("c_proj.bias", [2])], [2, 1],
                       [1, 3, 2]),
    "mha_bert_torch": (17, 0, [("self.query.weight", [2, 2]), ("self.key.weight", [2, 2]),
                               ("self.value.weight", [2, 2]),
                               ("output.dense.weight", [2, 2])], [2, 0], [1, 3, 2]),
    # GPT-2's c_attn read by the llama attention (mt_gpt2's blocks, no RoPE):
    # Hugging Face's Conv1D [E, 3E] and nanoGPT's nn.Linear [3E, E]
    "llama_attention_gpt2_torch": (26, 0, [("c_attn.weight", [2, 6]), ("c_attn.bias", [6]),
                                           ("c_proj.weight", [2, 2]), ("c_proj.bias", [2])],
                                   [1, 0, 0, 0, 0, 0], [1, 3, 2]),
    "llama_attention_nanogpt_torch": (26, 0, [("c_attn.weight", [6, 2]),
                                              ("c_proj.weight", [2, 2])],
                                      [2, 0, 0, 0, 0, 0], [1, 3, 2]),
}


def recipe(rng, which, keras, tensors, extra, shape, ids=False):
    out = bytearray([keras, which, len(tensors) - 1])
    for t in tensors:
        name, dims = t[0], t[1]
        positive = len(t) > 2
        out += bytes([NAMES.index(name), 0, len(dims)] + dims)
        n = 1
        for d in dims:
            n *= d
        for _ in range(n):
            v = rng.uniform(0.1, 1.0) if positive else rng.uniform(-1.0, 1.0)
            out += struct.pack("<f", v)
    out += bytes(COMMON_OPTIONS) + bytes(extra)
    # run(): rank, dims (1 + b % 6, b % 4 (here 0) makes I32), values
    out += bytes([len(shape) - 1] + [d - 1 for d in shape] + [0 if ids else 1])
    n = 1
    for d in shape:
        n *= d
    for _ in range(n):
        out += bytes([rng.randrange(6), 0, 0, 0]) if ids else struct.pack(
            "<f", rng.uniform(-2.0, 2.0))
    return bytes(out)


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    rng = random.Random(20261207)
    for name, spec in SEEDS.items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(recipe(rng, *spec))


if __name__ == "__main__":
    main()
