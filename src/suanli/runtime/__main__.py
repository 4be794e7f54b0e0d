"""``python -m suanli.runtime serve --model tiny-gpt|all-minilm-l6-v2 (--uds PATH | --port N) [--name NAME]
[--context-length N] [--max-output-tokens N] [--threads N]`` and ``python -m suanli.runtime models``."""

from __future__ import annotations

import sys

from suanli.runtime.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
