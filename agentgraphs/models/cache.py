"""An on-disk cache of model responses, so that a rerun of the same calls is reproducible and free.

Keyed by (model string, messages, call parameters); off unless a run or the user turns it on
(``cache=True`` or ``AGENTGRAPHS_CACHE=path``). SQLite, because several threads and processes may
share one cache file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict

from agentgraphs.models.per_path import PerPath
from agentgraphs.models.trace import redact

__all__ = ["ResponseCache", "cache_key", "response_cache"]


def cache_key(model: str, messages: list[BaseMessage], params: dict[str, Any]) -> str:
    """A stable hash of what determines a response."""
    payload = {
        "model": model,
        "messages": [message_to_dict(m)["data"] | {"type": m.type} for m in messages],
        "params": params,
    }
    for entry in payload["messages"]:
        entry.pop("id", None)
    text = json.dumps(payload, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """Maps a :func:`cache_key` to the model's reply message."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, message TEXT NOT NULL)")
        self._conn.commit()

    def get(self, key: str) -> BaseMessage | None:
        with self._lock:
            row = self._conn.execute("SELECT message FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else messages_from_dict([json.loads(row[0])])[0]

    def put(self, key: str, message: BaseMessage) -> None:
        # Masked like the trace: a model that echoes a key back must not store it on disk.
        text = redact(json.dumps(message_to_dict(message), default=repr))
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO responses (key, message) VALUES (?, ?)", (key, text))
            self._conn.commit()


response_cache = PerPath(ResponseCache)
"""The process's one cache object per cache file."""
