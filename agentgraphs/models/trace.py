"""The JSONL record of every model call: what a run asked, of whom, and what it cost.

A record holds the role, the model string, a hash of the prompt (not the prompt), token counts,
latency, attempts and the output. Secrets never enter it: model strings are redacted by
:class:`ModelSpec`, and every known secret value (API keys from the environment or given to a
client) is masked in whatever text is written, in case a model echoes one back.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agentgraphs.models.per_path import PerPath

__all__ = ["TraceWriter", "known_secrets", "redact", "trace_writer"]

_SECRET_ENV = re.compile(r"(API_KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
_extra_secrets: set[str] = set()
_extra_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Register a secret given in code (not the environment) so traces and logs mask it."""
    if value and len(value) >= 6:
        with _extra_lock:
            _extra_secrets.add(value)


def known_secrets() -> set[str]:
    """Values of secret-looking environment variables plus secrets registered in code."""
    found = {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and v and len(v) >= 6}
    with _extra_lock:
        return found | _extra_secrets


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every known secret value replaced by ``***``."""
    for secret in secrets if secrets is not None else known_secrets():
        if secret in text:
            text = text.replace(secret, "***")
    return text


class TraceWriter:
    """Appends one JSON line per model call to a file; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        record = {"ts": round(time.time(), 3), **record}
        line = redact(json.dumps(record, ensure_ascii=False, default=str))
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")


trace_writer = PerPath(TraceWriter)
"""The process's one writer per trace file (so concurrent calls share its lock)."""
