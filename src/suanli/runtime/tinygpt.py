"""tiny-gpt: a GPT-2-style decoder in numpy, with weights drawn from a fixed seed.

Formulation (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners", GPT-2): token
plus learned position embeddings; :attr:`GPTConfig.n_layer` pre-LayerNorm blocks, each
``x += Attn(LN(x)); x += MLP(LN(x))`` with causal multi-head self-attention and a GELU (tanh form) MLP of
width 4·d; a final LayerNorm; the output head is the token embedding transposed (tied weights).

Weights come from ``np.random.default_rng(seed)`` in a fixed order (GPT-2's initialisation: N(0, 0.02),
residual projections scaled by 1/sqrt(2·n_layer)), so every process on every machine builds the same model;
it is untrained — its text is gibberish, but its tokens, timings and code paths are those of a real decoder.

KV cache: :meth:`TinyGPT.forward` appends the keys and values of the new positions to a :class:`KVCache`
and attends over the cached ones, so generating token t costs O(t) (one row of attention per layer) instead
of recomputing all t positions; :meth:`TinyGPT.logits_full` is the cache-free reference the tests compare to.

Decoding (:func:`generate`): greedy (argmax) at temperature 0; otherwise softmax(logits / temperature),
nucleus-filtered to the smallest set of tokens whose probability reaches ``top_p``, sampled with
``np.random.default_rng(seed)`` (a seed makes it repeatable; no seed draws fresh entropy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float32]


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 2048
    n_layer: int = 4
    d_model: int = 128
    n_head: int = 4
    n_ctx: int = 256
    seed: int = 16


@dataclass
class _Block:
    ln1_g: Array
    ln1_b: Array
    w_qkv: Array
    b_qkv: Array
    w_o: Array
    b_o: Array
    ln2_g: Array
    ln2_b: Array
    w_fc: Array
    b_fc: Array
    w_proj: Array
    b_proj: Array


class KVCache:
    """Keys and values of the positions seen so far: ``k[layer, head, pos, :]``; ``length`` positions filled."""

    def __init__(self, cfg: GPTConfig) -> None:
        hd = cfg.d_model // cfg.n_head
        self.k = np.zeros((cfg.n_layer, cfg.n_head, cfg.n_ctx, hd), dtype=np.float32)
        self.v = np.zeros_like(self.k)
        self.length = 0


def _layer_norm(x: Array, g: Array, b: Array) -> Array:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    out: Array = ((x - mu) / np.sqrt(var + np.float32(1e-5)) * g + b).astype(np.float32, copy=False)
    return out


def _gelu(x: Array) -> Array:
    inner = np.float32(math.sqrt(2.0 / math.pi)) * (x + np.float32(0.044715) * x**3)
    out: Array = (np.float32(0.5) * x * (np.float32(1.0) + np.tanh(inner))).astype(np.float32, copy=False)
    return out


class TinyGPT:
    def __init__(self, cfg: GPTConfig | None = None) -> None:
        self.cfg = cfg = cfg or GPTConfig()
        if cfg.d_model % cfg.n_head:
            raise ValueError("d_model must be a multiple of n_head")
        rng = np.random.default_rng(cfg.seed)
        d = cfg.d_model

        def normal(shape: tuple[int, ...], std: float) -> Array:
            return rng.normal(0.0, std, size=shape).astype(np.float32)

        def zeros(n: int) -> Array:
            return np.zeros(n, dtype=np.float32)

        def ones(n: int) -> Array:
            return np.ones(n, dtype=np.float32)

        self.wte = normal((cfg.vocab_size, d), 0.02)
        self.wpe = normal((cfg.n_ctx, d), 0.01)
        proj_std = 0.02 / math.sqrt(2 * cfg.n_layer)
        self.blocks = [
            _Block(ones(d), zeros(d), normal((d, 3 * d), 0.02), zeros(3 * d), normal((d, d), proj_std), zeros(d),
                   ones(d), zeros(d), normal((d, 4 * d), 0.02), zeros(4 * d), normal((4 * d, d), proj_std), zeros(d))
            for _ in range(cfg.n_layer)]
        self.lnf_g, self.lnf_b = ones(d), zeros(d)

    def new_cache(self) -> KVCache:
        return KVCache(self.cfg)

    def forward(self, ids: Sequence[int], cache: KVCache) -> Array:
        """Logits ``(len(ids), vocab)`` of the new positions ``ids``, which follow the ``cache.length`` cached
        ones; their keys and values are appended to the cache."""
        cfg = self.cfg
        t0, n = cache.length, len(ids)
        if n == 0 or t0 + n > cfg.n_ctx:
            raise ValueError(f"positions {t0}..{t0 + n} outside the context of {cfg.n_ctx}")
        h, hd = cfg.n_head, cfg.d_model // cfg.n_head
        x: Array = self.wte[np.asarray(ids)] + self.wpe[t0:t0 + n]
        t1 = t0 + n
        # causal mask of the new rows over all t1 positions: row i (absolute t0+i) sees columns <= t0+i
        mask = np.arange(t1)[None, :] > (t0 + np.arange(n))[:, None]
        scale = np.float32(1.0 / math.sqrt(hd))
        for li, blk in enumerate(self.blocks):
            a = _layer_norm(x, blk.ln1_g, blk.ln1_b) @ blk.w_qkv + blk.b_qkv
            q, k, v = (a[:, i * cfg.d_model:(i + 1) * cfg.d_model].reshape(n, h, hd).transpose(1, 0, 2)
                       for i in range(3))
            cache.k[li, :, t0:t1] = k
            cache.v[li, :, t0:t1] = v
            keys, vals = cache.k[li, :, :t1], cache.v[li, :, :t1]
            s = (q @ keys.transpose(0, 2, 1)) * scale  # (h, n, t1)
            if n > 1:
                s = np.where(mask[None], np.float32(-1e30), s)
            s = s - s.max(-1, keepdims=True)
            p = np.exp(s)
            p /= p.sum(-1, keepdims=True)
            o = (p @ vals).transpose(1, 0, 2).reshape(n, cfg.d_model)
            x = x + (o @ blk.w_o + blk.b_o)
            m = _gelu(_layer_norm(x, blk.ln2_g, blk.ln2_b) @ blk.w_fc + blk.b_fc)
            x = x + (m @ blk.w_proj + blk.b_proj)
        cache.length = t1
        logits: Array = _layer_norm(x, self.lnf_g, self.lnf_b) @ self.wte.T
        return logits

    def logits_full(self, ids: Sequence[int]) -> Array:
        """Reference without reuse: logits of every position of ``ids`` from a fresh cache in one pass."""
        return self.forward(ids, self.new_cache())


def sample(logits: Array, temperature: float, top_p: float, rng: np.random.Generator) -> int:
    """Next token id: argmax at temperature 0, else nucleus sampling (see the module docstring)."""
    if temperature <= 0.0:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature
    z -= z.max()
    p = np.exp(z)
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    ps = p[order]
    if top_p < 1.0:
        keep = int(np.searchsorted(np.cumsum(ps), top_p)) + 1
        order, ps = order[:keep], ps[:keep]
        ps = ps / ps.sum()
    i = int(np.searchsorted(np.cumsum(ps), rng.random(), side="right"))
    return int(order[min(i, len(order) - 1)])


def generate(model: TinyGPT, prompt_ids: Sequence[int], max_tokens: int, *, temperature: float = 0.0,
             top_p: float = 1.0, seed: int | None = None, stop_ids: frozenset[int] = frozenset(),
             banned_ids: frozenset[int] = frozenset(), cancelled: Callable[[], bool] = lambda: False,
             cache: KVCache | None = None) -> Iterator[int]:
    """Yield up to ``max_tokens`` new token ids after ``prompt_ids``; a token of ``stop_ids`` is yielded and
    ends the generation; ``banned_ids`` are never produced (their logits are set to -inf). ``cancelled`` is
    asked before each token (a client that went away). ``cache`` may already hold the first
    ``cache.length`` (< len(prompt_ids)) prompt positions (:class:`PrefixCache`); it ends holding every
    position that was forwarded."""
    rng = np.random.default_rng(seed)
    cache = cache if cache is not None else model.new_cache()
    if not 0 <= cache.length < len(prompt_ids):
        raise ValueError("the cache must hold fewer positions than the prompt")
    banned = np.fromiter(sorted(banned_ids), dtype=np.int64, count=len(banned_ids))
    logits = model.forward(prompt_ids[cache.length:], cache)[-1]
    for i in range(max_tokens):
        if cancelled():
            return
        logits[banned] = -np.inf
        tok = sample(logits, temperature, top_p, rng)
        yield tok
        if tok in stop_ids or i + 1 == max_tokens:
            return
        logits = model.forward([tok], cache)[-1]


class PrefixCache:
    """The KV caches of the last ``entries`` requests, per scope (least recently used out first): a prompt
    that begins like one of them reuses its keys and values instead of recomputing them, and the positions
    reused are what the response reports as ``cached_tokens``.

    Reuse is exact: position i's keys and values depend only on tokens 0..i (causal attention), so a common
    prefix computes the same numbers (to float rounding: ``tests/runtime/test_runtime_prefix_cache.py``).
    At least the prompt's last token is always forwarded (its logits choose the first new token).
    Scopes keep tenants apart: a cache hit is observable (faster, cheaper), so a prefix is reused only for
    the scope that computed it. Used by the worker thread only (no locking).
    """

    def __init__(self, model: TinyGPT, entries: int) -> None:
        self._model = model
        self._entries = entries
        self._items: list[tuple[str, NDArray[np.int64], KVCache]] = []

    def take(self, scope: str, prompt_ids: Sequence[int]) -> tuple[KVCache, int]:
        """A cache holding the longest prefix of ``prompt_ids`` this scope computed before (copied), and its length."""
        prompt = np.asarray(prompt_ids, dtype=np.int64)
        best, best_n = -1, 0
        for i, (s, ids, _) in enumerate(self._items):
            if s != scope:
                continue
            m = min(len(ids), len(prompt) - 1)
            diff = np.flatnonzero(ids[:m] != prompt[:m])
            n = int(diff[0]) if diff.size else m
            if n > best_n:
                best, best_n = i, n
        cache = self._model.new_cache()
        if best >= 0:
            src = self._items[best][2]
            cache.k[:, :, :best_n] = src.k[:, :, :best_n]
            cache.v[:, :, :best_n] = src.v[:, :, :best_n]
            cache.length = best_n
            self._items.append(self._items.pop(best))  # most recently used last
        return cache, best_n

    def put(self, scope: str, ids: Sequence[int], cache: KVCache) -> None:
        """Keep ``cache`` (holding the first ``cache.length`` of ``ids``) for later prompts of ``scope``."""
        if self._entries <= 0 or cache.length == 0:
            return
        self._items.append((scope, np.asarray(ids[:cache.length], dtype=np.int64), cache))
        del self._items[:-self._entries]
