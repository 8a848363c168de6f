"""The effects assistant: one effect from a fixed vocabulary per sub-scene.

Role ``effects_assistant``; one call per script part. Effects are names the renderer knows
(zoom, pan, highlight box, fade), never code, and a highlight names a region of the figure.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, create_model

from agentgraphs.agents.scitalk.prompts import PromptVersion, system_prompt
from agentgraphs.registry import register
from agentgraphs.runtime import context_of

__all__ = ["GUIDANCE", "ROLE", "EffectChoice", "choose_effects", "fitting_effect"]


ROLE = (
    "You are the motion designer of a short explainer video. For each shot choose one effect: "
    "none, zoom_in, zoom_out, pan_left, pan_right (slow camera moves over the figure), highlight "
    "(a box drawn over part of the figure: say which part: top, bottom, left, right or center) or "
    "fade. Effects on shots without a figure can only be none or fade."
)

GUIDANCE = "Use a highlight when the narration points at one result in a figure; otherwise a slow zoom_in."


class EffectChoice(BaseModel):
    """One sub-scene's effect."""

    effect: Literal["none", "zoom_in", "zoom_out", "pan_left", "pan_right", "highlight", "fade"]
    region: Literal["none", "top", "bottom", "left", "right", "center"] = "none"


def _schema(count: int) -> type[BaseModel]:
    return create_model("EffectPlan", shots=(list[EffectChoice], Field(min_length=count, max_length=count)))


def fitting_effect(choice: EffectChoice, *, has_figure: bool) -> EffectChoice:
    """The choice, corrected where it needs a figure the shot does not have."""
    if not has_figure and choice.effect not in ("none", "fade"):
        return EffectChoice(effect="fade")
    if choice.effect == "highlight" and choice.region == "none":
        return choice.model_copy(update={"region": "center"})
    return choice


@register("agent", name="scitalk-effects-assistant", role="effects_assistant")
def choose_effects(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
    """Effects for every sub-scene of ``state['part']`` (a ``Send`` payload)."""
    scenes: list[dict[str, Any]] = state["subscenes"]
    prompt = PromptVersion.model_validate(state["prompts"]["effects_assistant"])
    shots = "\n".join(
        f"{i + 1}. shows {s['visual']}{' ' + s['figure'] if s.get('figure') else ''}; says: {s['narration']}"
        for i, s in enumerate(scenes)
    )
    model = context_of(runtime).model("effects_assistant", temperature=0.2)
    answer = model.with_structured_output(_schema(len(scenes)), agent="scitalk-effects-assistant").invoke([
        SystemMessage(system_prompt(ROLE, prompt)),
        HumanMessage(f"Script part: {state['part']}\n\nShots:\n{shots}"),
    ])
    choices = [fitting_effect(EffectChoice.model_validate(shot.model_dump()), has_figure=bool(s.get("figure"))).model_dump()
               for s, shot in zip(scenes, answer.shots)]
    return {"edits": {f"{state['iteration']}/{state['part']}/effects_assistant": choices}}
