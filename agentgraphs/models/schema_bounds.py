"""How long a JSON answer to a schema can be, so that a constrained answer is never cut off.

With decoding constrained to a bounded schema (every string has a ``maxLength`` or an enum, every
array a ``maxItems``), the longest answer is known before the call. A token limit below it can only
turn an answer the grammar would have finished into a truncated one that fails validation (seen in
CI: the LawFlow advisor's pros ran into the default 1024 tokens on every repair). Structured output
therefore raises the limit to :func:`max_json_tokens` for such schemas.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["CHARS_PER_TOKEN_FLOOR", "max_json_chars", "max_json_tokens"]

CHARS_PER_TOKEN_FLOOR = 2.5
"""Fewest characters a token of a JSON answer carries. Measured on the embedded model's LawFlow
answers (traces of bench/lawflow.py): 3.2 at the lowest, 4–8 typically, since indentation runs are
single tokens; 2.5 leaves room for digit and punctuation runs, which tokenise finer."""

_SCALAR_CHARS = {"integer": 20, "number": 24, "boolean": 5, "null": 4}
"""The longest compact JSON text of each scalar type (an int64, a float in exponent form)."""

_TEMPLATE_TOKENS = 32
"""Slack for the chat template's end-of-turn tokens and the whitespace around the outermost value."""


def max_json_chars(document: dict[str, Any]) -> int | None:
    """The longest compact JSON text that ``document`` (a JSON schema) admits; None when unbounded.

    Whitespace the grammar lets a model put between tokens is not counted here; the token floor
    covers it, since indentation tokenises into few tokens. An escaped character counts as one.
    """
    definitions = document.get("$defs", {})

    def size(node: dict[str, Any], seen: frozenset[str]) -> int | None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name in seen or name not in definitions:
                return None  # a recursive schema has no bound
            return size(definitions[name], seen | {name})
        if "const" in node:
            return len(json.dumps(node["const"]))
        if "enum" in node:
            return max(len(json.dumps(value)) for value in node["enum"])
        for key in ("anyOf", "oneOf"):
            if key in node:
                sizes = [size(option, seen) for option in node[key]]
                return None if None in sizes else max(s for s in sizes if s is not None)
        if "allOf" in node:
            sizes = [size(part, seen) for part in node["allOf"]]
            return None if None in sizes else min(s for s in sizes if s is not None)
        kind = node.get("type")
        if kind == "string":
            return node["maxLength"] + 2 if "maxLength" in node else None
        if kind == "array":
            item = size(node.get("items", {}), seen)
            if item is None or "maxItems" not in node:
                return None
            count = node["maxItems"]
            return 2 + count * item + max(count - 1, 0)
        if kind == "object":
            if node.get("additionalProperties") not in (None, False):
                return None
            total = 2 + max(len(node.get("properties", {})) - 1, 0)  # braces and commas
            for name, value in node.get("properties", {}).items():
                value_size = size(value, seen)
                if value_size is None:
                    return None
                total += len(json.dumps(name)) + 1 + value_size
            return total
        if isinstance(kind, str) and kind in _SCALAR_CHARS:
            return _SCALAR_CHARS[kind]
        return None

    return size(document, frozenset())


def max_json_tokens(document: dict[str, Any]) -> int | None:
    """The token limit that lets the longest answer to ``document`` finish; None when unbounded."""
    chars = max_json_chars(document)
    return None if chars is None else math.ceil(chars / CHARS_PER_TOKEN_FLOOR) + _TEMPLATE_TOKENS
