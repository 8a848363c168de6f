"""The effects assistant: one effect from a fixed vocabulary per sub-scene.

Role ``effects_assistant``; one call per script part. Effects are names the renderer knows
(zoom, pan, highlight box, fade, a diagram's reveal), never code, and a highlight names a region of
the figure.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from pydantic import BaseModel

from agentgraphs.agents.scitalk.prompts import choices_per_shot
from agentgraphs.registry import register

__all__ = ["GUIDANCE", "ROLE", "EffectChoice", "choose_effects", "fitting_effect"]


ROLE = (
    "You are the motion designer of a short explainer video. For each shot choose one effect: "
    "none, zoom_in, zoom_out, pan_left, pan_right (slow camera moves over the figure), highlight "
    "(a box drawn over part of the figure: say which part: top, bottom, left, right or center), "
    "fade, or reveal (a diagram's steps appear one after another). Effects on shots without a figure "
    "can only be none or fade, and reveal only on diagram shots."
)

GUIDANCE = ("Use a highlight when the narration points at one result in a figure; otherwise a slow zoom_in. "
            "Reveal a diagram's steps as the narration walks through them.")


class EffectChoice(BaseModel):
    """One sub-scene's effect."""

    effect: Literal["none", "zoom_in", "zoom_out", "pan_left", "pan_right", "highlight", "fade", "reveal"]
    region: Literal["none", "top", "bottom", "left", "right", "center"] = "none"


def fitting_effect(choice: EffectChoice, *, has_figure: bool, diagram: bool = False) -> EffectChoice:
    """The choice, corrected where it needs a figure (or a diagram) the shot does not have."""
    if diagram:
        return choice if choice.effect in ("none", "fade", "reveal") else EffectChoice(effect="reveal")
    if choice.effect == "reveal":
        return EffectChoice(effect="none" if has_figure else "fade")
    if not has_figure and choice.effect not in ("none", "fade"):
        return EffectChoice(effect="fade")
    if choice.effect == "highlight" and choice.region == "none":
        return choice.model_copy(update={"region": "center"})
    return choice


@register("agent", name="scitalk-effects-assistant", role="effects_assistant")
def choose_effects(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
    """Effects for every sub-scene of ``state['part']`` (a ``Send`` payload)."""
    answers = choices_per_shot(state, runtime, agent="effects_assistant", role=ROLE, item=EffectChoice, schema_name="EffectPlan")
    choices = [fitting_effect(choice, has_figure=bool(s.get("figure")), diagram=s["visual"] == "diagram").model_dump()
               for s, choice in zip(state["subscenes"], answers)]
    return {"edits": {f"{state['iteration']}/{state['part']}/effects_assistant": choices}}
