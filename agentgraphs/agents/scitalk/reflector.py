"""Reflectors: each generator's guidance is rewritten from the feedback addressed to it.

Role ``reflector``; one call per generator that received comments (the graph fans them out with
``Send``). The reflector sees the current guidance, the critics' comments for that agent, the
round's scores and the automatic check flags that concern it, and writes the next version. A
generator nobody commented on keeps its prompt, so versions only move when feedback asks.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agentgraphs.agents.scitalk.prompts import PromptVersion
from agentgraphs.registry import register
from agentgraphs.runtime import context_of

__all__ = ["CHECK_OWNERS", "PromptRewrite", "reflect_prompt"]

CHECK_OWNERS: dict[str, str] = {
    "text_overflow": "text_editor",
    "font_too_small": "text_editor",
    "too_many_words_per_second": "text_editor",
    "text_overlaps_figure": "layout_allocator",
    "duration_mismatch": "scene_planner",
    "blank_frame": "scene_planner",
}
"""Which generator can fix each kind of video-check flag."""

ROLE = (
    "You improve the instructions of one agent in a video-making team. You get the agent's job, "
    "its current guidance, and what viewers and automatic checks said about the last video. Write "
    "new guidance (at most 6 short sentences) that keeps what worked and tells the agent exactly "
    "what to do differently. Say in one sentence what you changed."
)


class PromptRewrite(BaseModel):
    """The next guidance for one agent."""

    guidance: str = Field(min_length=20, max_length=700)
    change: str = Field(min_length=5, max_length=220)


@register("agent", name="scitalk-reflector", role="reflector")
def reflect_prompt(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
    """The next version of ``state['agent']``'s prompt (a ``Send`` payload)."""
    current = PromptVersion.model_validate(state["prompt"])
    feedback = "\n".join(f"- {line}" for line in state["feedback"])
    model = context_of(runtime).model("reflector", temperature=0.3)
    rewrite = model.with_structured_output(PromptRewrite, agent=f"scitalk-reflector:{current.agent}").invoke([
        SystemMessage(ROLE),
        HumanMessage(
            f"Agent: {current.agent}\nIts job: {state['role']}\n\nCurrent guidance:\n{current.guidance}\n\n"
            f"Mean viewer scores this round: {state['scores']}\n\nFeedback for this agent:\n{feedback}"
        ),
    ])
    updated = PromptVersion(agent=current.agent, version=current.version + 1, guidance=rewrite.guidance,
                            reason=rewrite.change)
    return {"prompts": {current.agent: updated.model_dump()}}
