"""Catching answers that parrot their input: small models often copy the prompt instead of doing
the task, and a copied instruction or script line is no use as narration or as feedback."""

from __future__ import annotations

import re

__all__ = ["copies"]


def _runs(text: str, n: int) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def copies(text: str, source: str, *, run: int = 5) -> bool:
    """Whether ``text`` repeats ``run`` or more words in a row from ``source``."""
    return bool(_runs(text, run) & _runs(source, run))
