#!/usr/bin/env python3
"""References for tests/test_nn_tutorials.c: the Keras example "Text
classification with Transformer" (keras.io/examples/nlp/
text_classification_with_transformer), its TransformerBlock and
TokenAndPositionEmbedding layers copied as the example writes them, at
maxlen 12, vocab 100, embed_dim 8, 2 heads, ff_dim 16, with seeded random
weights (biases, LayerNorm gamma and beta moved off 0 and 1):

  TokenAndPositionEmbedding: Embedding(ids) + Embedding(arange(maxlen)),
  TransformerBlock: MultiHeadAttention(2, key_dim=8), Dropout,
  LayerNormalization(1e-6)(x + attn), Dense(16, relu) -> Dense(8), Dropout,
  LayerNormalization(1e-6); GlobalAveragePooling1D, Dropout, Dense(20,
  relu), Dropout, Dense(2, softmax).

keras_text_transformer.safetensors holds every variable by its path
({v.path: v}); keras_text_transformer_io.safetensors 4 token sequences
"ids" [4, 12] (I32) and the probabilities "y" [4, 2]. Run with the
repository's Keras venv (a rerun is byte-identical):

  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_tutorial_refs.py tests/reference
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_keras_models_refs import save  # noqa: E402


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    maxlen, vocab_size, embed_dim, num_heads, ff_dim = 12, 100, 8, 2, 16
    inputs = layers.Input(shape=(maxlen,))
    x = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)(inputs)
    x = TransformerBlock(embed_dim, num_heads, ff_dim)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    for v in model.weights:
        if v.path.endswith("gamma"):
            v.assign(rng.uniform(0.5, 1.5, v.shape))
        elif v.path.endswith(("beta", "bias")):
            v.assign(rng.uniform(-0.3, 0.3, v.shape))
    ids = rng.integers(0, vocab_size, (4, maxlen)).astype("i4")
    y = np.asarray(model(ids, training=False))
    print("y", y)
    save(f"{out}/keras_text_transformer.safetensors", {v.path: np.asarray(v) for v in model.weights})
    save(f"{out}/keras_text_transformer_io.safetensors", {"ids": ids, "y": y})


if __name__ == "__main__":
    main()
