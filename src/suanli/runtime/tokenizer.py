"""The tiny-gpt tokenizer: byte-level BPE trained at start on ``corpus.txt`` (our own text, shipped in the
package), with a fixed vocabulary of :data:`VOCAB_SIZE` ids.

Determinism: the trainer of the ``tokenizers`` library is deterministic for a given corpus and settings
(merges are chosen by count, ties by the pair itself), the corpus is read as UTF-8 from the package, and
nothing depends on the machine: the same text gets the same ids every run and on every machine
(``tests/runtime/test_runtime_tokenizer.py`` pins a digest of the vocabulary and the ids of fixed text).
Byte-level means every string encodes (no unknown token): Chinese falls back to byte tokens where
the corpus did not teach a merge.

Special tokens (ids 0..4, in this order): ``<|endoftext|>`` (end of a completion), ``<|system|>``,
``<|user|>``, ``<|assistant|>`` (the start of a turn), ``<|end|>`` (the end of a turn).
They are never produced from user text: :meth:`Tokenizer.encode` encodes a literal ``"<|user|>"`` in a
prompt as ordinary bytes (``encode_special_tokens``), so a prompt cannot forge a turn.

Chat template (:meth:`Tokenizer.chat_ids`), as token ids, for messages m1..mn::

    <|system|> content <|end|> "\\n" <|user|> content <|end|> "\\n" … <|assistant|>

each turn being its role's token, the encoded content, ``<|end|>`` and an encoded newline; the prompt
ends with ``<|assistant|>`` so that the model writes the assistant's turn. Roles ``system`` and
``developer`` use ``<|system|>``; ``tool`` messages use ``<|user|>``. A chat completion stops at
``<|end|>`` or ``<|endoftext|>``; a text completion at ``<|endoftext|>``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib import resources

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

VOCAB_SIZE = 2048
ENDOFTEXT = "<|endoftext|>"
SYSTEM = "<|system|>"
USER = "<|user|>"
ASSISTANT = "<|assistant|>"
END = "<|end|>"
SPECIAL_TOKENS = (ENDOFTEXT, SYSTEM, USER, ASSISTANT, END)
ROLE_TOKEN = {"system": SYSTEM, "developer": SYSTEM, "user": USER, "tool": USER, "assistant": ASSISTANT}
"""Chat roles accepted and the special token that opens their turn."""


def corpus_text() -> str:
    """The training corpus shipped in the package (``suanli/runtime/corpus.txt``)."""
    return resources.files("suanli.runtime").joinpath("corpus.txt").read_text(encoding="utf-8")


class Tokenizer:
    """Byte-level BPE of :data:`VOCAB_SIZE` ids trained on :func:`corpus_text`."""

    def __init__(self, corpus: str | None = None) -> None:
        tok = HFTokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=VOCAB_SIZE, min_frequency=1, show_progress=False,
            special_tokens=list(SPECIAL_TOKENS), initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        lines = (corpus if corpus is not None else corpus_text()).splitlines(keepends=True)
        tok.train_from_iterator(lines, trainer=trainer, length=len(lines))
        tok.encode_special_tokens = True
        self._tok = tok
        self.vocab_size = tok.get_vocab_size()
        self.special_ids = {name: self._id(name) for name in SPECIAL_TOKENS}
        self.eot_id = self.special_ids[ENDOFTEXT]
        self.end_id = self.special_ids[END]
        self._newline = self.encode("\n")

    def _id(self, token: str) -> int:
        tid = self._tok.token_to_id(token)
        if tid is None:  # pragma: no cover - the trainer always adds the special tokens
            raise RuntimeError(f"special token {token} missing from the vocabulary")
        return int(tid)

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``; special-token look-alikes in the text are encoded as plain bytes."""
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``, special tokens left out. Bytes of an unfinished UTF-8 character decode to U+FFFD."""
        return str(self._tok.decode(list(ids), skip_special_tokens=True))

    def chat_ids(self, messages: Sequence[tuple[str, str]]) -> list[int]:
        """Prompt ids of a conversation of ``(role, content)`` pairs (the template in the module docstring)."""
        ids: list[int] = []
        for role, content in messages:
            ids.append(self.special_ids[ROLE_TOKEN[role]])
            ids.extend(self.encode(content))
            ids.append(self.end_id)
            ids.extend(self._newline)
        ids.append(self.special_ids[ASSISTANT])
        return ids

    def vocab_items(self) -> list[tuple[str, int]]:
        """The whole vocabulary, sorted by id (what the determinism test digests)."""
        return sorted(self._tok.get_vocab().items(), key=lambda kv: kv[1])


_shared: Tokenizer | None = None
_lock = threading.Lock()


def shared_tokenizer() -> Tokenizer:
    """The process's tokenizer, trained once on first use (a few tens of milliseconds)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = Tokenizer()
        return _shared
