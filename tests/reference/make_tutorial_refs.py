#!/usr/bin/env python3
"""References for tests/test_nn_tutorials.c: two models written as the
official PyTorch tutorials write them (their classes copied, smaller sizes,
seeded random weights), saved by their state_dict names as
docs/porting-a-pytorch-model.md §1 tells users to.

tutorial_lm.safetensors: "Language modeling with nn.Transformer and
  torchtext": TransformerModel(ntoken=50, d_model=16, nhead=2, d_hid=32,
  nlayers=2), Embedding * sqrt(d_model) + PositionalEncoding (its `pe`
  buffer [max_len=64, 1, 16] is in the state_dict), a TransformerEncoder
  run with generate_square_subsequent_mask (float, -inf above the
  diagonal), a Linear decoder. The tutorial's data is sequence-first
  [L, N]; the io file holds it batch-first: "src" [3, 10] (I64) and the
  logits "logits" [3, 10, 50].
tutorial_s2s.safetensors: "NLP From Scratch: Translation with a Sequence
  to Sequence Network and Attention": EncoderRNN(30, 16) (Embedding, GRU,
  batch_first) and AttnDecoderRNN(16, 25) with BahdanauAttention (Wa, Ua,
  Va, softmax, bmm, cat, GRU from the encoder's hidden), run greedily for
  6 steps from SOS = 0 as the tutorial's forward does. Keys "encoder.*",
  "decoder.*"; io: "ids" [3, 9] (I64), "enc_out" [3, 9, 16] and the
  decoder's log-probabilities "logp" [3, 6, 25].

Run with Debian's PyTorch 1.13 (a rerun is byte-identical):

    /usr/bin/python3 tests/reference/make_tutorial_refs.py tests/reference
"""
import math
import pathlib
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer('pe', pe)

    def forward(self, x):
        x = x + self.pe[:x.size(0)]
        return self.dropout(x)


class TransformerModel(nn.Module):
    def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, dropout=0.5):
        super().__init__()
        self.pos_encoder = PositionalEncoding(d_model, dropout, max_len=64)
        encoder_layers = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(encoder_layers, nlayers)
        self.encoder = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.decoder = nn.Linear(d_model, ntoken)

    def forward(self, src, src_mask):
        src = self.encoder(src) * math.sqrt(self.d_model)
        src = self.pos_encoder(src)
        output = self.transformer_encoder(src, src_mask)
        return self.decoder(output)


def generate_square_subsequent_mask(sz):
    return torch.triu(torch.ones(sz, sz) * float('-inf'), diagonal=1)


class BahdanauAttention(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query, keys):
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))
        scores = scores.squeeze(2).unsqueeze(1)
        weights = F.softmax(scores, dim=-1)
        context = torch.bmm(weights, keys)
        return context, weights


class EncoderRNN(nn.Module):
    def __init__(self, input_size, hidden_size, dropout_p=0.1):
        super().__init__()
        self.embedding = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, input):
        return self.gru(self.dropout(self.embedding(input)))


class AttnDecoderRNN(nn.Module):
    def __init__(self, hidden_size, output_size, dropout_p=0.1):
        super().__init__()
        self.embedding = nn.Embedding(output_size, hidden_size)
        self.attention = BahdanauAttention(hidden_size)
        self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, output_size)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, encoder_outputs, encoder_hidden, steps):
        decoder_input = torch.zeros(encoder_outputs.size(0), 1, dtype=torch.long)  # SOS
        decoder_hidden = encoder_hidden
        decoder_outputs = []
        for _ in range(steps):
            decoder_output, decoder_hidden, _ = self.forward_step(
                decoder_input, decoder_hidden, encoder_outputs)
            decoder_outputs.append(decoder_output)
            _, topi = decoder_output.topk(1)
            decoder_input = topi.squeeze(-1).detach()
        decoder_outputs = torch.cat(decoder_outputs, dim=1)
        return F.log_softmax(decoder_outputs, dim=-1), decoder_hidden

    def forward_step(self, input, hidden, encoder_outputs):
        embedded = self.dropout(self.embedding(input))
        query = hidden.permute(1, 0, 2)
        context, attn_weights = self.attention(query, encoder_outputs)
        input_gru = torch.cat((embedded, context), dim=2)
        output, hidden = self.gru(input_gru, hidden)
        return self.out(output), hidden, attn_weights


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    lm = TransformerModel(50, 16, 2, 32, 2).eval()
    src = torch.randint(0, 50, (10, 3))               # [L, N], as the tutorial's batches
    with torch.no_grad():
        logits = lm(src, generate_square_subsequent_mask(10))   # [L, N, ntoken]
    save(f"{out}/tutorial_lm.safetensors", lm.state_dict())
    save(f"{out}/tutorial_lm_io.safetensors",
         {"src": src.t(), "logits": logits.permute(1, 0, 2)})

    enc, dec = EncoderRNN(30, 16).eval(), AttnDecoderRNN(16, 25).eval()
    ids = torch.randint(1, 30, (3, 9))
    with torch.no_grad():
        enc_out, enc_hidden = enc(ids)
        logp, _ = dec(enc_out, enc_hidden, 6)
    print("greedy tokens", logp.argmax(-1).tolist())
    save(f"{out}/tutorial_s2s.safetensors",
         {**{"encoder." + k: v for k, v in enc.state_dict().items()},
          **{"decoder." + k: v for k, v in dec.state_dict().items()}})
    save(f"{out}/tutorial_s2s_io.safetensors", {"ids": ids, "enc_out": enc_out, "logp": logp})


if __name__ == "__main__":
    main()
