"""tiny-gpt: seeded weights, the KV cache equals recomputation, decoding rules, speed."""

from __future__ import annotations

import time

import numpy as np

from suanli.runtime.tinygpt import GPTConfig, TinyGPT, generate, sample
from suanli.runtime.tokenizer import shared_tokenizer


def test_same_seed_same_weights_and_output_other_seed_other_weights() -> None:
    a, b, c = TinyGPT(), TinyGPT(), TinyGPT(GPTConfig(seed=17))
    assert np.array_equal(a.wte, b.wte) and np.array_equal(a.blocks[-1].w_proj, b.blocks[-1].w_proj)
    assert not np.array_equal(a.wte, c.wte)
    prompt = shared_tokenizer().encode("A compute lease is")
    assert list(generate(a, prompt, 40)) == list(generate(b, prompt, 40))
    assert list(generate(a, prompt, 40, temperature=0.9, top_p=0.9, seed=5)) == \
        list(generate(b, prompt, 40, temperature=0.9, top_p=0.9, seed=5))
    assert list(generate(a, prompt, 40, temperature=1.0, seed=5)) != list(generate(a, prompt, 40, temperature=1.0, seed=6))


def test_kv_cache_logits_equal_the_cache_free_forward_pass() -> None:
    m = TinyGPT()
    prompt = shared_tokenizer().encode("The gateway sends each request to the ready replica")
    out = list(generate(m, prompt, 60, temperature=1.0, seed=1))
    full = m.logits_full(prompt + out)
    cache = m.new_cache()
    step = [m.forward(prompt, cache)[-1]] + [m.forward([t], cache)[-1] for t in out]
    np.testing.assert_allclose(np.stack(step), full[len(prompt) - 1:], atol=1e-4)
    # and greedy decoding with the cache picks what the cache-free argmax picks at every step
    greedy = list(generate(m, prompt, 30))
    seq = list(prompt)
    for tok in greedy:
        assert int(np.argmax(m.logits_full(seq)[-1])) == tok
        seq.append(tok)


def test_stop_ids_banned_ids_and_max_tokens() -> None:
    m = TinyGPT()
    prompt = shared_tokenizer().encode("Hello")
    free = list(generate(m, prompt, 20))
    assert len(free) == 20
    stop = frozenset({free[3]})
    stopped = list(generate(m, prompt, 20, stop_ids=stop))
    assert stopped == free[:free.index(free[3]) + 1]
    banned = list(generate(m, prompt, 20, banned_ids=frozenset(free)))
    assert not set(banned) & set(free)


def test_top_p_keeps_the_smallest_likely_set() -> None:
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05], dtype=np.float32))
    rng = np.random.default_rng(0)
    picks = {sample(logits, 1.0, 0.7, rng) for _ in range(300)}
    assert picks == {0, 1}
    assert sample(logits, 0.0, 1.0, rng) == 0


def test_kv_cache_makes_a_token_cost_o_t_and_speed_is_over_200_tokens_per_second() -> None:
    m = TinyGPT()
    prompt = shared_tokenizer().encode("A")
    list(generate(m, prompt, 8))  # warm up
    t0 = time.perf_counter()
    n = len(list(generate(m, prompt, 250)))
    rate = n / (time.perf_counter() - t0)
    assert rate >= 200, f"{rate:.0f} tokens/s"
