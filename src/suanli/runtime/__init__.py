"""The built-in CPU runtime: a process that serves one small model over an OpenAI-compatible HTTP API on a
Unix socket (or 127.0.0.1), run as the job of an inference replica (``python -m suanli.runtime serve``).

Modules: :mod:`~suanli.runtime.models` (the built-in models and whether their weights are here),
:mod:`~suanli.runtime.tokenizer` (tiny-gpt's BPE, trained at start on ``corpus.txt``),
:mod:`~suanli.runtime.tinygpt` (GPT-2-style decoder in numpy with a KV cache),
:mod:`~suanli.runtime.minilm` (all-MiniLM-L6-v2 in numpy), :mod:`~suanli.runtime.engine` (the worker thread,
load counts, stop strings), :mod:`~suanli.runtime.server` (the HTTP API and its wire format),
:mod:`~suanli.runtime.main` (the command line).

Layer: imports only ``suanli.domain`` and ``suanli.errors`` of the package (import-linter contract), plus
numpy, tokenizers, safetensors, starlette and uvicorn. Nothing is downloaded at run time.
"""
