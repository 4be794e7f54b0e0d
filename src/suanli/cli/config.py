"""Where the CLI finds its server and token.

Precedence, per value: ``--server``/``--token`` flag > ``SUANLI_SERVER``/``SUANLI_TOKEN`` env >
the config file (``$SUANLI_CONFIG``, else ``~/.config/suanli/config.json``, written by
``suanli login``) > the default server ``http://127.0.0.1:8000`` (no token).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from suanli.client import DEFAULT_SERVER


@dataclass(frozen=True)
class Config:
    server: str
    token: str | None
    server_from: str
    """Where the server came from: flag, env, file or default (shown by ``suanli login --show``)."""
    token_from: str


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("SUANLI_CONFIG"):
        return Path(env["SUANLI_CONFIG"]).expanduser()
    return Path.home() / ".config" / "suanli" / "config.json"


def read_file(path: Path) -> dict[str, str]:
    """The config file's values; a missing file is empty, a broken one is an error that names it."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"config file {path} is not valid JSON ({e}); fix it or run `suanli login` again") from e
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a JSON object with server and token")
    return {k: str(v) for k, v in data.items() if k in ("server", "token") and v}


def resolve(server: str | None, token: str | None, env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    file: dict[str, str] | None = None

    def pick(flag: str | None, var: str, key: str, default: str | None) -> tuple[str | None, str]:
        nonlocal file
        if flag:
            return flag, "flag"
        if env.get(var):
            return env[var], "env"
        if file is None:
            file = read_file(config_path(env))
        if file.get(key):
            return file[key], "file"
        return default, "default"

    s, s_from = pick(server, "SUANLI_SERVER", "server", DEFAULT_SERVER)
    t, t_from = pick(token, "SUANLI_TOKEN", "token", None)
    assert s is not None
    return Config(s.rstrip("/"), t, s_from, t_from)


def write_file(path: Path, server: str, token: str) -> None:
    """Write the config file readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"server": server.rstrip("/"), "token": token}, f, indent=2)
        f.write("\n")
    tmp.replace(path)
