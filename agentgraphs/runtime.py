"""The context every node receives: which model serves each role, and where the run's files go.

LangGraph hands it to nodes as ``runtime.context``. It is plain data so that the Studio server can
pass it as JSON; the live things it leads to (loaded models, servers) are kept per process by
:func:`agentgraphs.models.get_model` and are never put in graph state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from langgraph.runtime import Runtime

from agentgraphs.atomic import write_bytes, write_json, write_text
from agentgraphs.models import GatewayChatModel, get_model
from agentgraphs.paths import cache_root

__all__ = ["RunContext", "context_of"]


@dataclass(kw_only=True)
class RunContext:
    """Per-run configuration given to every node."""

    models: dict[str, str] = field(default_factory=dict)
    """Role → model string. Roles not named fall back to AGENTGRAPHS_MODEL_<ROLE>, then
    ``models["default"]``, then AGENTGRAPHS_MODEL, then the embedded local model."""
    run_dir: str | None = None
    """Where artefacts and ``trace.jsonl`` go. Unset (Studio): ``$AGENTGRAPHS_HOME/studio/<thread>``."""
    cache: bool = False
    """Reuse model responses from the on-disk cache for identical calls (reproducible reruns)."""

    def directory(self) -> Path:
        """The run directory, created if needed."""
        if self.run_dir is not None:
            path = Path(self.run_dir)
        else:
            config: RunnableConfig = get_config()
            thread = str(config.get("configurable", {}).get("thread_id", "default"))
            path = cache_root() / "studio" / "".join(c if c.isalnum() or c in "-_" else "_" for c in thread)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def model(self, role: str = "default", **model_kwargs: Any) -> GatewayChatModel:
        """The chat model serving ``role`` in this run, tracing into the run's ``trace.jsonl``."""
        directory = self.directory()
        return get_model(
            role=role, models=self.models, trace_path=directory / "trace.jsonl",
            cache_path=(cache_root() / "responses.sqlite") if self.cache else None, **model_kwargs,
        )

    def write_artefact(self, name: str, data: str | bytes | dict[str, Any] | list[Any]) -> str:
        """Write ``name`` under the run directory atomically; return its path for the state."""
        path = self.directory() / name
        if isinstance(data, bytes):
            write_bytes(path, data)
        elif isinstance(data, str):
            write_text(path, data)
        else:
            write_json(path, data)
        return str(path)


def context_of(runtime: Runtime[Any] | None) -> RunContext:
    """The node's :class:`RunContext`, built from a dict (Studio) or defaults when none was given."""
    context = getattr(runtime, "context", None)
    if isinstance(context, RunContext):
        return context
    if isinstance(context, dict):
        known = {k: v for k, v in context.items() if k in RunContext.__dataclass_fields__}
        return RunContext(**known)
    return RunContext(run_dir=os.environ.get("AGENTGRAPHS_RUN_DIR"))
