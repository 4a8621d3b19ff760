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
"ids" [4, 12] (I32) and the probabilities "y" [4, 2].

And the example "English-to-Spanish translation with a sequence-to-sequence
Transformer" (keras.io/examples/nlp/neural_machine_translation_with_
transformer), its PositionalEmbedding (compute_mask: ids != 0),
TransformerEncoder and TransformerDecoder (causal self-attention with
query_mask=, cross-attention with query_mask= and key_mask=) as the example
writes them, at sequence_length 8, vocab 30, embed_dim 8, latent_dim 16,
2 heads, except MultiHeadAttention(dropout=0.1) (the example's 0 takes
Keras' dot_product_attention path, which gives a padded query step the mean
of all values: docs/porting-a-keras-model.md): keras_nmt_transformer.
safetensors, and in keras_nmt_transformer_io.safetensors the padded source
and target ids "enc", "dec" [3, 8] (I32) and the softmax "y" [3, 8, 30].

Run with the repository's Keras venv (a rerun is byte-identical):

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


class TransformerEncoder(layers.Layer):
    def __init__(self, embed_dim, dense_dim, num_heads, **kwargs):
        super().__init__(**kwargs)
        self.attention = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim,
                                                   dropout=0.1)
        self.dense_proj = keras.Sequential(
            [layers.Dense(dense_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm_1 = layers.LayerNormalization()
        self.layernorm_2 = layers.LayerNormalization()
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            padding_mask = ops.cast(mask[:, None, :], dtype="int32")
        else:
            padding_mask = None
        attention_output = self.attention(query=inputs, value=inputs, key=inputs,
                                          attention_mask=padding_mask)
        proj_input = self.layernorm_1(inputs + attention_output)
        proj_output = self.dense_proj(proj_input)
        return self.layernorm_2(proj_input + proj_output)


class PositionalEmbedding(layers.Layer):
    def __init__(self, sequence_length, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_embeddings = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.position_embeddings = layers.Embedding(input_dim=sequence_length,
                                                    output_dim=embed_dim)

    def call(self, inputs):
        length = ops.shape(inputs)[-1]
        positions = ops.arange(0, length, 1)
        return self.token_embeddings(inputs) + self.position_embeddings(positions)

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, 0)


class TransformerDecoder(layers.Layer):
    def __init__(self, embed_dim, latent_dim, num_heads, **kwargs):
        super().__init__(**kwargs)
        self.attention_1 = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim,
                                                     dropout=0.1)
        self.attention_2 = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim,
                                                     dropout=0.1)
        self.dense_proj = keras.Sequential(
            [layers.Dense(latent_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm_1 = layers.LayerNormalization()
        self.layernorm_2 = layers.LayerNormalization()
        self.layernorm_3 = layers.LayerNormalization()
        self.supports_masking = True

    def call(self, inputs, mask=None):
        inputs, encoder_outputs = inputs
        causal_mask = self.get_causal_attention_mask(inputs)
        if mask is None:
            inputs_padding_mask, encoder_outputs_padding_mask = None, None
        else:
            inputs_padding_mask, encoder_outputs_padding_mask = mask
        attention_output_1 = self.attention_1(query=inputs, value=inputs, key=inputs,
                                              attention_mask=causal_mask,
                                              query_mask=inputs_padding_mask)
        out_1 = self.layernorm_1(inputs + attention_output_1)
        attention_output_2 = self.attention_2(query=out_1, value=encoder_outputs,
                                              key=encoder_outputs,
                                              query_mask=inputs_padding_mask,
                                              key_mask=encoder_outputs_padding_mask)
        out_2 = self.layernorm_2(out_1 + attention_output_2)
        proj_output = self.dense_proj(out_2)
        return self.layernorm_3(out_2 + proj_output)

    def get_causal_attention_mask(self, inputs):
        input_shape = ops.shape(inputs)
        batch_size, sequence_length = input_shape[0], input_shape[1]
        i = ops.arange(sequence_length)[:, None]
        j = ops.arange(sequence_length)
        mask = ops.cast(i >= j, dtype="int32")
        mask = ops.reshape(mask, (1, input_shape[1], input_shape[1]))
        mult = ops.concatenate(
            [ops.expand_dims(batch_size, -1), ops.convert_to_tensor([1, 1])], axis=0)
        return ops.tile(mask, mult)


def translation_transformer(out, rng):
    embed_dim, latent_dim, num_heads, vocab_size, sequence_length = 8, 16, 2, 30, 8
    encoder_inputs = keras.Input(shape=(None,), dtype="int64", name="encoder_inputs")
    x = PositionalEmbedding(sequence_length, vocab_size, embed_dim)(encoder_inputs)
    encoder_outputs = TransformerEncoder(embed_dim, latent_dim, num_heads)(x)
    decoder_inputs = keras.Input(shape=(None,), dtype="int64", name="decoder_inputs")
    x = PositionalEmbedding(sequence_length, vocab_size, embed_dim)(decoder_inputs)
    x = TransformerDecoder(embed_dim, latent_dim, num_heads)([x, encoder_outputs])
    x = layers.Dropout(0.5)(x)
    decoder_outputs = layers.Dense(vocab_size, activation="softmax")(x)
    model = keras.Model({"encoder_inputs": encoder_inputs, "decoder_inputs": decoder_inputs},
                        decoder_outputs)
    for v in model.weights:
        if v.path.endswith("gamma"):
            v.assign(rng.uniform(0.5, 1.5, v.shape))
        elif v.path.endswith(("beta", "bias")):
            v.assign(rng.uniform(-0.3, 0.3, v.shape))
    enc = rng.integers(1, vocab_size, (3, sequence_length))
    dec = rng.integers(1, vocab_size, (3, sequence_length))
    enc[0, 5:] = 0          # right-padded sources and targets
    enc[1, 7:] = 0
    dec[0, 3:] = 0
    dec[2, 6:] = 0
    y = np.asarray(model({"encoder_inputs": enc, "decoder_inputs": dec}, training=False))
    save(f"{out}/keras_nmt_transformer.safetensors", {v.path: np.asarray(v) for v in model.weights})
    save(f"{out}/keras_nmt_transformer_io.safetensors",
         {"enc": enc.astype("i4"), "dec": dec.astype("i4"), "y": y})


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
    translation_transformer(out, rng)


if __name__ == "__main__":
    main()
