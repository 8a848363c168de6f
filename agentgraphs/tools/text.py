"""Cutting text to fit: a prompt's budget, a screen's caption, a narrator's sentences.

One place for the cuts several agents and tools make, so a caption, an outline and a judge's
rationale are shortened the same way, sentence splitting has one rule, and text put into a Markdown
table cell stays in its cell.
"""

from __future__ import annotations

import re

__all__ = ["clip_text", "markdown_cell", "split_sentences"]

# A sentence ends at . ! or ? followed by a capital, digit, quote or bracket: "e.g. the" and
# "Fig. 3" stay whole more often than with a plain split on the punctuation.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def clip_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters at a word boundary, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[: max(0, limit)]
    cut = text[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut.rsplit(" ", 1)[0]
    return cut + "…"


def markdown_cell(text: str) -> str:
    """``text`` as one Markdown table cell: on one line, its pipes (which would split the cell) turned to slashes."""
    return " ".join(str(text).split()).replace("|", "/")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, whitespace collapsed; empty text gives an empty list."""
    return [s for s in _SENTENCE_END.split(" ".join(text.split())) if s]
