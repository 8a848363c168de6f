"""Scripted replies that satisfy whatever JSON schema a request asks for.

For control-flow tests of graphs whose agents use structured output: point the graph's models at
an :class:`~agentgraphs.testing.openai_server.OpenAITestServer` whose ``reply`` is
:func:`schema_reply`, and every agent gets a valid, deterministic answer built from the schema in
its request. It tests wiring (fan-outs, loops, resume, artefacts), never model quality.
"""

from __future__ import annotations

import json
import random
from typing import Any

__all__ = ["minimal_instance", "schema_reply"]


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = root.get("$defs", {}).get(name) or root.get("definitions", {})[name]
    return node


_WORDS = ("amber", "basalt", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
          "kelp", "lagoon", "meadow", "nectar", "orchid", "pebble", "quartz", "raven", "saffron", "tundra")


def _text(node: dict[str, Any], hint: str) -> str:
    """Deterministic text for field ``hint``; different fields share no run of five words, so a
    graph that rejects an answer repeating its instructions does not reject scripted answers."""
    low, high = int(node.get("minLength", 0)), int(node.get("maxLength", 80))
    words = random.Random(hint).sample(_WORDS, 12)
    text = f"Scripted {hint or 'text'} {' '.join(words[:5])}."
    if high >= 200:  # room for a second sentence: exercises splitting text into parts
        text += f" {words[5].capitalize()} {' '.join(words[6:11])}."
    while len(text) < low:
        text += f" {words[11]}."
    return text[:high]


def minimal_instance(node: dict[str, Any], root: dict[str, Any] | None = None, hint: str = "", index: int = 0) -> Any:
    """A value valid under JSON schema ``node``: every field, minimum list lengths, varied choices.

    The i-th item of a list takes the i-th choice of each enum in it (cycling, "none" last), and
    optionals take their non-null branch, so a graph's branches are exercised deterministically.
    """
    root = root if root is not None else node
    node = _resolve(node, root)
    if "enum" in node:
        choices = [c for c in node["enum"] if c not in ("none", None)] or node["enum"]
        return choices[index % len(choices)]
    if "const" in node:
        return node["const"]
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [o for o in node[key] if _resolve(o, root).get("type") != "null"] or node[key]
            return minimal_instance(options[0], root, hint, index)
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        return {name: minimal_instance(schema, root, name, index) for name, schema in props.items()}
    if kind == "array":
        count = max(int(node.get("minItems", 1)), 1)
        count = min(count, int(node.get("maxItems", count)))
        return [minimal_instance(node.get("items", {}), root, hint, i) for i in range(count)]
    if kind == "integer":
        return max(int(node.get("minimum", 3)), min(3, int(node.get("maximum", 3))))
    if kind == "number":
        return float(node.get("minimum", 0.5))
    if kind == "boolean":
        return False
    return _text(node, hint)


def schema_reply(body: dict[str, Any]) -> str:
    """An OpenAITestServer ``reply``: a JSON instance of the request's ``response_format`` schema."""
    response_format = body.get("response_format") or {}
    schema = (response_format.get("json_schema") or {}).get("schema")
    if schema is None:
        return "A scripted plain-text reply."
    return json.dumps(minimal_instance(schema))
