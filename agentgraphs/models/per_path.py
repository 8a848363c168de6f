"""One shared object per file, for the things that guard a file with a lock (traces, caches)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

__all__ = ["PerPath"]

T = TypeVar("T")


class PerPath(Generic[T]):
    """Calls ``factory(path)`` once per resolved path and hands every caller that one object.

    Two objects for one file would mean two locks, and interleaved writes.
    """

    def __init__(self, factory: Callable[[Path], T]) -> None:
        self._factory = factory
        self._objects: dict[Path, T] = {}
        self._by_spelling: dict[str, T] = {}
        self._lock = threading.Lock()

    def __call__(self, path: Path | str) -> T:
        # Callers ask once per model call with the same string: look that up before touching the
        # file system, and resolve (a syscall) only the first time a spelling is seen.
        spelling = str(path)
        found = self._by_spelling.get(spelling)
        if found is not None:
            return found
        key = Path(path).resolve()
        with self._lock:
            found = self._objects.get(key)
            if found is None:
                found = self._objects[key] = self._factory(key)
            if os.path.isabs(spelling):  # a relative spelling names another file after a chdir
                self._by_spelling[spelling] = found
            return found
