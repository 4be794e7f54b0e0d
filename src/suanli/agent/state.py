"""The agent's state directory: what must survive a restart of the agent.

Layout (the directory is 0700, files 0600, written atomically: temporary file, fsync, rename):

- ``state.json``: the node, the server, this install's ``agent_id``, the node credential (secret),
  the server's ``heartbeat_s``/``fence_s``, and the outbox bookkeeping: which job state the server
  has acknowledged per job (``acked``), whose usage it has (``usage_acked``), and reports the agent
  made up itself (``extra``: a job that could not start, a job cancelled before it started).
- ``engine/``: the embedded LocalDriver's data (grants, job logs, ``accounting.jsonl``): the durable
  record of every job's start and end. What the server has not acknowledged is the difference
  between that record and ``acked``/``usage_acked``, so a restart of either side loses no report.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suanli.errors import ValidationError

STATE_FILE = "state.json"


@dataclass
class AgentState:
    node: str
    server: str
    agent_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    credential: str | None = None
    heartbeat_s: float = 5.0
    fence_s: float = 20.0
    acked: dict[str, str] = field(default_factory=dict)
    """job id -> the last job state the server acknowledged."""
    usage_acked: set[str] = field(default_factory=set)
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    """job id -> a job report the agent made without running it (could not start, cancelled first)."""
    refused: dict[str, str] = field(default_factory=dict)
    """job id -> why the server refused a report of it (not held by this node): not sent again."""

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "node": self.node, "server": self.server, "agent_id": self.agent_id,
                "credential": self.credential, "heartbeat_s": self.heartbeat_s, "fence_s": self.fence_s,
                "acked": dict(sorted(self.acked.items())), "usage_acked": sorted(self.usage_acked),
                "extra": self.extra, "refused": self.refused}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AgentState:
        return cls(node=raw["node"], server=raw["server"], agent_id=raw["agent_id"], credential=raw.get("credential"),
                   heartbeat_s=float(raw.get("heartbeat_s", 5.0)), fence_s=float(raw.get("fence_s", 20.0)),
                   acked=dict(raw.get("acked", {})), usage_acked=set(raw.get("usage_acked", [])),
                   extra=dict(raw.get("extra", {})), refused=dict(raw.get("refused", {})))


class StateDir:
    """The agent's state directory (created 0700 if missing)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)

    @property
    def engine_dir(self) -> Path:
        return self.root / "engine"

    def load(self, *, node: str, server: str) -> AgentState:
        """The saved state, or a fresh one (new ``agent_id``) when there is none.

        A state directory of another node is refused: one directory per node.
        """
        path = self.root / STATE_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            state = AgentState(node=node, server=server.rstrip("/"))
            self.save(state)
            return state
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{path} is not valid JSON ({exc}); restore it or start from an empty "
                                  "state directory with a new join token") from exc
        state = AgentState.from_dict(raw)
        if state.node != node:
            raise ValidationError(f"state directory {self.root} belongs to node {state.node}, not {node}; "
                                  "use one state directory per node", field="state_dir")
        state.server = server.rstrip("/")
        return state

    def save(self, state: AgentState) -> None:
        path = self.root / STATE_FILE
        tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(state.to_dict(), fh, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        dfd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
