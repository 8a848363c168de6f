"""What the framework knows about a registered graph: its builder, inputs and main artefact.

Graph modules register a builder with ``@register("graph", name=..., inputs=Model,
main_artefact=key)``; :func:`load_graph` turns the registry entry into a :class:`GraphSpec` that
``run``, the CLI (flags from ``inputs``) and Studio (``compile()`` without a checkpointer) share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, ValidationError

from agentgraphs.errors import GraphInputError, RegistryError
from agentgraphs.registry import entries, lookup

__all__ = ["Artefacts", "GraphSpec", "list_graphs", "load_graph", "merge_dicts"]


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer for state keys that parallel nodes each add entries to (artefacts, per-branch results)."""
    return {**(left or {}), **(right or {})}


Artefacts = Annotated[dict[str, str], merge_dicts]
"""State type for artefact name → path; every graph that writes files keeps one under ``artefacts``."""


class NoInputs(BaseModel):
    """For graphs that take no inputs."""


@dataclass(frozen=True, kw_only=True)
class GraphSpec:
    """A runnable graph: how to build it and what it takes and makes."""

    name: str
    description: str
    build: Callable[[], StateGraph[Any]]
    """Returns the uncompiled graph; ``compile`` attaches a checkpointer or not."""
    inputs: type[BaseModel]
    """The pydantic schema of the graph's inputs; the CLI derives its flags from it."""
    main_artefact: str | None
    """The key in ``state["artefacts"]`` of the file a user wants first (printed last by the CLI)."""

    def compile(self, checkpointer: BaseCheckpointSaver[Any] | None = None) -> CompiledStateGraph[Any, Any, Any, Any]:
        """The compiled graph; without a checkpointer for Studio, whose server supplies one."""
        return self.build().compile(checkpointer=checkpointer, name=self.name)

    def validate_inputs(self, values: dict[str, Any] | BaseModel) -> BaseModel:
        """``values`` checked against :attr:`inputs`, or a :class:`GraphInputError` naming each problem."""
        if isinstance(values, self.inputs):
            return values
        try:
            return self.inputs.model_validate(values if isinstance(values, dict) else values.model_dump())
        except ValidationError as exc:
            problems = "; ".join(
                f"--{'.'.join(str(p) for p in err['loc']).replace('_', '-')}: {err['msg']}"
                + (f" (got {err['input']!r})" if err["type"] != "missing" else "")
                for err in exc.errors()
            )
            raise GraphInputError(f"graph {self.name!r} got bad inputs: {problems}") from None

    def input_files(self, inputs: BaseModel) -> dict[str, Path]:
        """The inputs that are files, whose hashes a run records."""
        found = {}
        for key, value in inputs:
            if isinstance(value, Path) and value.is_file():
                found[key] = value
        return found


def _spec(entry: Any) -> GraphSpec:
    return GraphSpec(
        name=entry.name, description=entry.description, build=entry.factory,
        inputs=entry.metadata.get("inputs", NoInputs), main_artefact=entry.metadata.get("main_artefact"),
    )


def load_graph(name: str) -> GraphSpec:
    """The registered graph ``name`` (built-in, or ``package/name`` from a plug-in)."""
    try:
        return _spec(lookup("graph", name))
    except RegistryError as exc:
        raise RegistryError(f"{exc}. `agentgraphs list` shows them") from None


def list_graphs() -> list[GraphSpec]:
    """Every registered graph, plug-ins included."""
    return [_spec(entry) for entry in entries("graph")]
