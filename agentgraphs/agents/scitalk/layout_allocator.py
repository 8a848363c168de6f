"""The layout allocator: which layout template each sub-scene uses.

Role ``layout_allocator``; one call per script part. The model chooses among named templates; the
deterministic ``tools.layout`` turns a template into boxes for the title bar, figure, text,
captions and avatar at the output's aspect ratio, so a model never places pixels.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from pydantic import BaseModel

from agentgraphs.agents.scitalk.prompts import choices_per_shot
from agentgraphs.registry import register

__all__ = ["GUIDANCE", "ROLE", "TEMPLATES", "LayoutChoice", "allocate_layout", "fitting_template"]

TEMPLATES: dict[str, str] = {
    "title_card": "the paper's title large in the middle, no figure",
    "figure_focus": "a title bar on top, the figure as large as possible, captions below",
    "figure_with_points": "a title bar, the figure in the upper half, up to three points below it",
    "text_only": "a headline and points, no figure",
}
"""The templates ``tools.layout`` knows, with the description the model chooses from."""

ROLE = (
    "You are the layout designer of a short explainer video. For each shot choose one layout "
    "template. A shot that shows a figure or a diagram must use a "
    "figure template (figure_focus or figure_with_points; a diagram takes the figure's place); a shot "
    "with neither must not. "
    "Templates:\n" + "\n".join(f"- {name}: {text}" for name, text in TEMPLATES.items())
)

GUIDANCE = "Use figure_focus for detailed charts and figure_with_points when the shot has points to show."


class LayoutChoice(BaseModel):
    """One sub-scene's layout."""

    template: Literal["title_card", "figure_focus", "figure_with_points", "text_only"]


def fitting_template(choice: LayoutChoice, *, has_figure: bool, visual: str) -> LayoutChoice:
    """The choice, corrected where it contradicts the shot (a figure or diagram needs a figure template)."""
    figure_templates = ("figure_focus", "figure_with_points")
    has_figure = has_figure or visual == "diagram"
    if has_figure and choice.template not in figure_templates:
        return choice.model_copy(update={"template": "figure_focus"})
    if not has_figure and choice.template in figure_templates:
        return choice.model_copy(update={"template": "title_card" if visual == "title" else "text_only"})
    return choice


@register("agent", name="scitalk-layout-allocator", role="layout_allocator")
def allocate_layout(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
    """Layout templates for every sub-scene of ``state['part']`` (a ``Send`` payload)."""
    answers = choices_per_shot(state, runtime, agent="layout_allocator", role=ROLE, item=LayoutChoice, schema_name="LayoutPlan")
    choices = [fitting_template(choice, has_figure=bool(s.get("figure")), visual=s["visual"]).model_dump()
               for s, choice in zip(state["subscenes"], answers)]
    return {"edits": {f"{state['iteration']}/{state['part']}/layout_allocator": choices}}
