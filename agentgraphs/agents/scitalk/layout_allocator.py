"""The layout allocator: which layout template each sub-scene uses.

Role ``layout_allocator``; one call per script part. The model chooses among named templates; the
deterministic ``tools.layout`` turns a template into boxes for the title bar, figure, text,
captions and avatar at the output's aspect ratio, so a model never places pixels.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, create_model

from agentgraphs.agents.scitalk.prompts import PromptVersion, system_prompt
from agentgraphs.registry import register
from agentgraphs.runtime import context_of

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
    "template. A shot that shows a figure must use a "
    "figure template (figure_focus or figure_with_points); a shot without a figure must not. "
    "Templates:\n" + "\n".join(f"- {name}: {text}" for name, text in TEMPLATES.items())
)

GUIDANCE = "Use figure_focus for detailed charts and figure_with_points when the shot has points to show."


class LayoutChoice(BaseModel):
    """One sub-scene's layout."""

    template: Literal["title_card", "figure_focus", "figure_with_points", "text_only"]


def _schema(count: int) -> type[BaseModel]:
    return create_model("LayoutPlan", shots=(list[LayoutChoice], Field(min_length=count, max_length=count)))


def fitting_template(choice: LayoutChoice, *, has_figure: bool, visual: str) -> LayoutChoice:
    """The choice, corrected where it contradicts the shot (a figure needs a figure template)."""
    figure_templates = ("figure_focus", "figure_with_points")
    if has_figure and choice.template not in figure_templates:
        return choice.model_copy(update={"template": "figure_focus"})
    if not has_figure and choice.template in figure_templates:
        return choice.model_copy(update={"template": "title_card" if visual == "title" else "text_only"})
    return choice


@register("agent", name="scitalk-layout-allocator", role="layout_allocator")
def allocate_layout(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
    """Layout templates for every sub-scene of ``state['part']`` (a ``Send`` payload)."""
    scenes: list[dict[str, Any]] = state["subscenes"]
    prompt = PromptVersion.model_validate(state["prompts"]["layout_allocator"])
    shots = "\n".join(
        f"{i + 1}. shows {s['visual']}{' ' + s['figure'] if s.get('figure') else ''} ({s.get('note', '')})"
        for i, s in enumerate(scenes)
    )
    model = context_of(runtime).model("layout_allocator", temperature=0.2)
    answer = model.with_structured_output(_schema(len(scenes)), agent="scitalk-layout-allocator").invoke([
        SystemMessage(system_prompt(ROLE, prompt)),
        HumanMessage(f"Script part: {state['part']}\n\nShots:\n{shots}"),
    ])
    choices = [
        fitting_template(LayoutChoice.model_validate(shot.model_dump()), has_figure=bool(s.get("figure")),
                         visual=s["visual"]).model_dump()
        for s, shot in zip(scenes, answer.shots)
    ]
    return {"edits": {f"{state['iteration']}/{state['part']}/layout_allocator": choices}}
