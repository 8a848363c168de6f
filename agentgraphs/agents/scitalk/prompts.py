"""Versioned generator prompts: the part of each agent's instructions that reflectors rewrite.

Every generator agent has a fixed role text (what it is, what its output means) and a *guidance*
text that starts from the agent's default and is rewritten by its reflector after each feedback
round. Versions are kept in graph state and every round's prompts are saved in the run directory,
so a user can read exactly how the feedback changed what each agent was told.
"""

from __future__ import annotations

from typing import Any, TypeVar

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, create_model

from agentgraphs.runtime import context_of

__all__ = ["GENERATORS", "PromptVersion", "choices_per_shot", "describe_shot", "system_prompt"]

M = TypeVar("M", bound=BaseModel)

GENERATORS: tuple[str, ...] = (
    "flashtalk_writer", "scene_planner", "text_editor", "layout_allocator", "effects_assistant",
)
"""The agents whose prompts the feedback loop rewrites (critics' comments are addressed to them)."""


class PromptVersion(BaseModel):
    """One version of one generator's guidance."""

    agent: str
    version: int = Field(ge=1)
    guidance: str
    reason: str = ""
    """Why the reflector changed it (empty for the default)."""


def system_prompt(role: str, prompt: PromptVersion | dict[str, Any]) -> str:
    """The system message: the fixed role, then the current guidance with its version."""
    version = PromptVersion.model_validate(prompt)
    return f"{role}\n\nGuidance (version {version.version}):\n{version.guidance}"


def describe_shot(index: int, scene: dict[str, Any]) -> str:
    """One numbered line per sub-scene, as the per-part editors see it."""
    shown = scene["visual"] + (f" {scene['figure']}" if scene.get("figure") else "")
    if scene.get("steps"):
        shown += ": " + " → ".join(scene["steps"])
    note = f" ({scene['note']})" if scene.get("note") else ""
    return f"{index + 1}. shows {shown}{note}; says: {scene['narration']}"


def choices_per_shot(state: dict[str, Any], runtime: Runtime[Any], *, agent: str, role: str, item: type[M],
                     schema_name: str) -> list[M]:
    """One ``item`` per sub-scene of ``state['part']``, from one structured call of ``agent``.

    The text editor, layout allocator and effects assistant all work this way: the current
    guidance, the part's numbered shots, and a list schema whose length is the number of shots.
    """
    scenes: list[dict[str, Any]] = state["subscenes"]
    schema = create_model(schema_name, shots=(list[item], Field(min_length=len(scenes), max_length=len(scenes))))  # type: ignore[valid-type]
    shots = "\n".join(describe_shot(i, s) for i, s in enumerate(scenes))
    model = context_of(runtime).model(agent, temperature=0.2)
    answer = model.with_structured_output(schema, agent=f"scitalk-{agent.replace('_', '-')}").invoke([
        SystemMessage(system_prompt(role, state["prompts"][agent])),
        HumanMessage(f"Paper: {state['title']}\nScript part: {state['part']}\n\nShots:\n{shots}"),
    ])
    return [item.model_validate(shot.model_dump()) for shot in answer.shots]
