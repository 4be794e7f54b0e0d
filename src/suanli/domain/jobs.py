"""Bounds of a tenant's job, shared by the wire schema and every engine."""

from __future__ import annotations

MAX_TIME_LIMIT_S = 366 * 86_400
"""Longest job time limit in seconds (a job also ends with its lease)."""
MAX_ARGS = 4096
"""Most arguments in a job command."""
MAX_COMMAND_BYTES = 128 * 1024
"""Most bytes in a job command, all arguments together (well under the kernel's ``ARG_MAX``)."""
