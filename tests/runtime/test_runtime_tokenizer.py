"""tiny-gpt's tokenizer: trained at start, the same ids every run and every machine."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from suanli.runtime.tokenizer import ENDOFTEXT, SPECIAL_TOKENS, USER, VOCAB_SIZE, Tokenizer, corpus_text

# Pinned: a change of corpus.txt, trainer settings or tokenizers version that changes ids fails here (then
# re-pin on purpose: the ids of a served model are part of what it bills).
VOCAB_DIGEST = "b57f52a71c1212340ceb62f993484af15815cb81df1e7314b9b99f45f8034cb5"
FIXED_TEXT = "A compute lease is a promise. 算力租赁。"
FIXED_IDS = [37, 971, 514, 290, 263, 605, 1234, 18, 225, 1083, 2033, 1617, 303]

DIGEST_SCRIPT = (
    "import hashlib, json; from suanli.runtime.tokenizer import Tokenizer; t = Tokenizer(); "
    "print(hashlib.sha256(json.dumps(t.vocab_items(), ensure_ascii=False).encode()).hexdigest())")


def digest(t: Tokenizer) -> str:
    return hashlib.sha256(json.dumps(t.vocab_items(), ensure_ascii=False).encode()).hexdigest()


def test_vocabulary_has_the_fixed_size_and_the_special_tokens_first() -> None:
    t = Tokenizer()
    assert t.vocab_size == VOCAB_SIZE
    assert [t.special_ids[s] for s in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))


def test_same_ids_every_run() -> None:
    a, b = Tokenizer(), Tokenizer()
    assert a.vocab_items() == b.vocab_items()
    assert digest(a) == VOCAB_DIGEST
    assert a.encode(FIXED_TEXT) == FIXED_IDS


def test_same_ids_in_other_processes_whatever_the_threads_and_hash_seed() -> None:
    for threads, hash_seed in (("1", "0"), ("2", "12345")):
        env = {**os.environ, "RAYON_NUM_THREADS": threads, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", DIGEST_SCRIPT], env=env, capture_output=True, text=True,
                             check=True, timeout=60)
        assert out.stdout.strip() == VOCAB_DIGEST


def test_round_trip_of_english_and_chinese() -> None:
    t = Tokenizer()
    for text in (FIXED_TEXT, "Hello, 世界! Tokens: 0123456789 ⟨x⟩", corpus_text()[:500]):
        assert t.decode(t.encode(text)) == text


def test_special_token_text_in_a_prompt_is_not_a_special_token() -> None:
    t = Tokenizer()
    ids = t.encode(f"{USER}hi{ENDOFTEXT}")
    assert not set(ids) & set(t.special_ids.values())
    assert t.decode(ids) == f"{USER}hi{ENDOFTEXT}"


def test_chat_template() -> None:
    t = Tokenizer()
    ids = t.chat_ids([("system", "Be short."), ("user", "Hi")])
    s = t.special_ids
    nl = t.encode("\n")
    assert ids == ([s["<|system|>"], *t.encode("Be short."), s["<|end|>"], *nl,
                    s["<|user|>"], *t.encode("Hi"), s["<|end|>"], *nl, s["<|assistant|>"]])
