"""Load a built-in model into a :class:`~suanli.runtime.server.Served` (what the server needs)."""

from __future__ import annotations

from suanli.runtime.minilm import MiniLM
from suanli.runtime.models import available, minilm_dir
from suanli.runtime.server import Served
from suanli.runtime.tinygpt import GPTConfig, PrefixCache, TinyGPT
from suanli.runtime.tokenizer import shared_tokenizer


def load(model_id: str, name: str, context_length: int, max_output_tokens: int, prefix_cache_entries: int = 8) -> Served:
    info = available(model_id)
    if info.kind == "generate":
        tok = shared_tokenizer()
        gpt = TinyGPT(GPTConfig(vocab_size=tok.vocab_size, n_ctx=info.context_length))
        return Served(name, model_id, "generate", context_length, max_output_tokens, tokenizer=tok, gpt=gpt,
                      prefix_cache=PrefixCache(gpt, prefix_cache_entries))
    d = minilm_dir()
    assert d is not None  # available() checked it
    return Served(name, model_id, "embed", context_length, max_output_tokens, embedder=MiniLM(d))
