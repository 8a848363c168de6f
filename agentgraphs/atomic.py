"""Atomic file writes: a reader (or a resumed run) never sees a half-written artefact."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "write_bytes", "write_json", "write_text"]


class atomic_path:  # noqa: N801 - used like a function: `with atomic_path(dest) as tmp:`
    """A temporary path beside ``dest`` that is renamed onto it only if the block succeeds.

    For tools (ffmpeg, matplotlib, PyMuPDF) that want a file name rather than bytes. The temporary
    file keeps ``dest``'s suffix because some of them choose the format from it.
    """

    def __init__(self, dest: str | os.PathLike[str]) -> None:
        self.dest = Path(dest)
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{self.dest.stem}.", suffix=f".tmp{self.dest.suffix}", dir=self.dest.parent)
        os.close(fd)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self.tmp is not None
        if exc_type is None:
            os.replace(self.tmp, self.dest)
        else:
            self.tmp.unlink(missing_ok=True)


def write_bytes(dest: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``dest`` through a temporary file and a rename, fsynced first."""
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(dest)


def write_text(dest: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``dest`` atomically."""
    return write_bytes(dest, text.encode("utf-8"))


def write_json(dest: str | os.PathLike[str], value: Any) -> Path:
    """Write ``value`` as indented JSON to ``dest`` atomically."""
    return write_text(dest, json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
