"""The errors agentgraphs raises on purpose.

Each one says what went wrong and how to fix it; the CLI prints ``str(error)`` as its one line and
exits non-zero, so the message must stand on its own without a traceback.
"""

from __future__ import annotations

__all__ = [
    "AgentgraphsError",
    "GraphInputError",
    "MissingExtraError",
    "ModelError",
    "ModelSpecError",
    "ModelUnavailableError",
    "RegistryError",
    "RunError",
    "StructuredOutputError",
]


class AgentgraphsError(Exception):
    """Base of every error meant for the user rather than for a developer's debugger."""


class MissingExtraError(AgentgraphsError, ImportError):
    """An optional dependency group is not installed."""

    def __init__(self, *, module: str, extra: str, purpose: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{purpose} needs the Python package '{module}', which is not installed; "
            f"install it with: pip install 'agentgraphs[{extra}]'"
        )


class RegistryError(AgentgraphsError, LookupError):
    """A name is not registered, or is registered twice."""


class GraphInputError(AgentgraphsError, ValueError):
    """The inputs given to a graph do not match its input schema."""


class RunError(AgentgraphsError):
    """A run directory is missing, unreadable or not resumable."""


class ModelError(AgentgraphsError):
    """Base of the errors about chat models."""


class ModelSpecError(ModelError, ValueError):
    """A model string cannot be parsed or names an unknown model."""


class ModelUnavailableError(ModelError, ConnectionError):
    """A model could not be reached or kept failing after the retries the call policy allows."""


class StructuredOutputError(ModelError, ValueError):
    """A model's output never validated against the schema an agent asked for."""

    def __init__(self, *, agent: str, schema: str, last_output: str, problem: str, attempts: int) -> None:
        self.agent = agent
        self.schema = schema
        self.last_output = last_output
        self.attempts = attempts
        shown = last_output if len(last_output) <= 400 else last_output[:400] + "…"
        super().__init__(
            f"agent '{agent}' did not get valid '{schema}' output after {attempts} attempt(s): "
            f"{problem}. Last output: {shown!r}. Use a stronger model for this role "
            f"(--model {agent}=...) or simplify the schema."
        )
