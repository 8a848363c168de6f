"""Versioned generator prompts: the part of each agent's instructions that reflectors rewrite.

Every generator agent has a fixed role text (what it is, what its output means) and a *guidance*
text that starts from the agent's default and is rewritten by its reflector after each feedback
round. Versions are kept in graph state and every round's prompts are saved in the run directory,
so a user can read exactly how the feedback changed what each agent was told.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["GENERATORS", "PromptVersion", "system_prompt"]

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
