"""agentgraphs: research workflows of cooperating LLM agents, as LangGraph graphs.

The public API. Names are imported lazily so ``import agentgraphs`` stays fast and a missing
optional extra only matters to the code that needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "run": "agentgraphs.runs",
    "stream": "agentgraphs.runs",
    "resume": "agentgraphs.runs",
    "RunResult": "agentgraphs.runs",
    "RunEvent": "agentgraphs.runs",
    "load_graph": "agentgraphs.graph_spec",
    "list_graphs": "agentgraphs.graph_spec",
    "GraphSpec": "agentgraphs.graph_spec",
    "register": "agentgraphs.registry",
    "create": "agentgraphs.registry",
    "get_model": "agentgraphs.models",
    "target_logprob": "agentgraphs.models",
    "RunContext": "agentgraphs.runtime",
    "context_of": "agentgraphs.runtime",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from agentgraphs.graph_spec import GraphSpec, list_graphs, load_graph
    from agentgraphs.models import get_model, target_logprob
    from agentgraphs.registry import create, register
    from agentgraphs.runs import RunEvent, RunResult, resume, run, stream
    from agentgraphs.runtime import RunContext, context_of


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agentgraphs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
