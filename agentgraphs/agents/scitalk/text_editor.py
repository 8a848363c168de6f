"""The text editor: the on-screen words of each sub-scene and their size.

Role ``text_editor``; one call per script part. On-screen text supports the narration rather than
repeating it: a headline and up to three short points. Lengths are bounded in the schema so the
text fits its box at a legible size (the video checks flag it when it does not).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agentgraphs.agents.scitalk.prompts import choices_per_shot
from agentgraphs.registry import register

__all__ = ["GUIDANCE", "ROLE", "OnScreenText", "edit_text"]

ROLE = (
    "You are the on-screen text editor of a short vertical explainer video. For each shot you get "
    "the narration and what is shown. Write a headline (at most 6 words) and zero to three points "
    "(at most 7 words each) that a viewer can read in the time the narration takes. Choose the text "
    "size (small, medium, large). Never copy the whole "
    "narration onto the screen."
)

GUIDANCE = (
    "Fewer words are better: a figure shot needs only a headline. Put a number from the narration "
    "in the headline when there is one."
)


class OnScreenText(BaseModel):
    """The words shown during one sub-scene."""

    headline: str = Field(min_length=1, max_length=48)
    points: list[Annotated[str, Field(max_length=56)]] = Field(default_factory=list, max_length=3)
    size: Literal["small", "medium", "large"] = "medium"


@register("agent", name="scitalk-text-editor", role="text_editor")
def edit_text(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
    """On-screen text for every sub-scene of ``state['part']`` (a ``Send`` payload)."""
    texts = choices_per_shot(state, runtime, agent="text_editor", role=ROLE, item=OnScreenText, schema_name="OnScreenTextPlan")
    return {"edits": {f"{state['iteration']}/{state['part']}/text_editor": [t.model_dump() for t in texts]}}
