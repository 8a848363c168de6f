"""The scene planner: one script part becomes 1-5 timed sub-scenes, each with the visual to show.

Role ``scene_planner``; one call per script part (the graph fans the parts out with ``Send``). The
part's narration is split into sentence groups by a deterministic rule, and the model chooses, for
each group, what the viewer sees: the title card, one of the paper's own figures, key text, or (for
the method overview) a flow diagram of 2-4 short steps, whose labels are bounded strings in the
schema: data the renderer draws, never code.
The narration itself is never rewritten here, so what is spoken is exactly what the writer wrote
and its timing comes from the audio (audio first).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, create_model

from agentgraphs.agents.scitalk.prompts import PromptVersion, system_prompt
from agentgraphs.registry import register
from agentgraphs.runtime import context_of
from agentgraphs.tools.text import split_sentences

__all__ = ["GUIDANCE", "MAX_SUBSCENES", "ROLE", "STEP_CHARS", "SubScene", "VISUALS", "diagram_steps", "figure_candidates",
           "plan_scenes", "split_narration"]

MAX_SUBSCENES = 5
STEP_CHARS = 28
"""Longest diagram step label: one line in a vertical frame's step box at the text editor's sizes."""

ROLE = (
    "You are the scene planner of a short explainer video about a research paper. You get one part "
    "of the spoken script, already cut into numbered shots, and the paper's figures with their "
    "captions. For each shot choose what the viewer sees: 'title' (the paper's title card), "
    "'figure' (one of the paper's own figures: give its id), 'text' (key words on screen) or, where "
    "offered, 'diagram' (the method as 2-4 short steps in boxes joined by arrows: give the steps). "
    "Also say in a few words what the viewer sees. Only use figure ids from the list."
)

GUIDANCE = (
    "Show a figure whenever the shot talks about a result, a method diagram or a number that a "
    "figure shows. Use the title card for the opening shot of the hook. Do not show the same figure "
    "in two shots in a row unless the narration keeps talking about it. Use a diagram when the shot "
    "walks through how the method works step by step and no figure shows it."
)


class SubScene(BaseModel):
    """A planned sub-scene: its narration and the visual chosen for it."""

    id: str
    part: str
    narration: str
    visual: Literal["title", "figure", "text", "diagram"]
    figure: str | None = None
    steps: list[str] = Field(default_factory=list)
    """The diagram's step labels, in order (only for ``visual="diagram"``)."""
    note: str = ""


def split_narration(text: str, *, max_chunks: int = MAX_SUBSCENES) -> list[str]:
    """The narration as sentence groups: sentences, with the shortest neighbours merged to fit."""
    chunks = split_sentences(text) or [text.strip()]
    while len(chunks) > max_chunks:
        # Merge the pair with the fewest words: keeps sub-scenes balanced in length.
        index = min(range(len(chunks) - 1), key=lambda i: len(chunks[i].split()) + len(chunks[i + 1].split()))
        chunks[index:index + 2] = [f"{chunks[index]} {chunks[index + 1]}"]
    return chunks


VISUALS: dict[str, tuple[str, ...]] = {
    "hook": ("figure", "text"),
    "context": ("figure", "diagram", "text"),
    "teaser": ("figure",),
    "call_to_action": ("title", "text", "figure"),
}
"""Visuals each part may use. The hook opens on the title card and the teaser always shows one of
the paper's figures (the key result is shown, not told); a diagram is the method overview, so only
the context (the method) may draw one; the rest is the planner's choice."""


def diagram_steps(steps: list[str]) -> list[str] | None:
    """The usable step labels (whitespace collapsed, empties dropped), or None when fewer than 2 remain."""
    kept = [" ".join(step.split()) for step in steps if step.strip()]
    return kept[:4] if len(kept) >= 2 else None


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z0-9-]{2,}", text.lower())}


def figure_candidates(narration: str, figures: list[dict[str, str]], *, limit: int = 3) -> list[str]:
    """The figures whose captions share most words with ``narration`` (ties: paper order)."""
    spoken = _words(narration)
    ranked = sorted(range(len(figures)), key=lambda i: (-len(spoken & _words(figures[i]["caption"])), i))
    return [figures[i]["id"] for i in ranked[:limit]]


def _shot_schema(part: str, chunks: list[str], figures: list[dict[str, str]]) -> type[BaseModel]:
    """One field per shot, each with the visuals and figure candidates allowed for that shot."""
    fields: dict[str, Any] = {}
    for index, chunk in enumerate(chunks):
        visuals = ("title",) if part == "hook" and index == 0 else VISUALS[part]
        candidates = figure_candidates(chunk, figures)
        if not candidates:
            visuals = tuple(v for v in visuals if v != "figure") or ("text",)
        figure_choices = tuple(candidates) if visuals == ("figure",) else (*candidates, "none")
        extra: dict[str, Any] = {}
        if "diagram" in visuals:
            extra["steps"] = (list[Annotated[str, Field(max_length=STEP_CHARS)]], Field(
                min_length=2, max_length=4, description="The method's steps in order, a few words each; drawn "
                                                        "only when visual is 'diagram'."))
        shot = create_model(
            f"Shot{index + 1}",
            visual=(Literal[visuals], ...),  # type: ignore[valid-type]
            figure=(Literal[figure_choices], Field(description="A figure id when visual is 'figure', else 'none'.")),  # type: ignore[valid-type]
            **extra,
            note=(str, Field(max_length=120, description="What the viewer sees, in a few words.")),
        )
        fields[f"shot{index + 1}"] = (shot, ...)
    return create_model("ShotPlan", **fields)


@register("agent", name="scitalk-scene-planner", role="scene_planner")
def plan_scenes(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
    """Plan the sub-scenes of ``state['part']`` (a ``Send`` payload from the graph)."""
    part, chunks = state["part"], split_narration(state["narration"])
    figures: list[dict[str, str]] = state.get("figures", [])
    prompt = PromptVersion.model_validate(state["prompts"]["scene_planner"])
    numbered = "\n".join(f"{i + 1}. {chunk}" for i, chunk in enumerate(chunks))
    listing = "\n".join(f"- {f['id']}: {f['caption'][:160]}" for f in figures) or "(the paper has no figures)"
    model = context_of(runtime).model("scene_planner", temperature=0.2)
    answer = model.with_structured_output(_shot_schema(part, chunks, figures), agent="scitalk-scene-planner").invoke([
        SystemMessage(system_prompt(ROLE, prompt)),
        HumanMessage(f"Paper: {state['title']}\nScript part: {part}\n\nShots:\n{numbered}\n\nFigures:\n{listing}"),
    ])
    planned = []
    shots = [getattr(answer, f"shot{i + 1}") for i in range(len(chunks))]
    for index, (chunk, shot) in enumerate(zip(chunks, shots)):
        figure = shot.figure if shot.figure != "none" else None
        visual, steps = shot.visual, diagram_steps(getattr(shot, "steps", []))
        if (visual == "figure" and figure is None) or (visual == "diagram" and steps is None):
            visual = "text"  # a figure or diagram shot without one: show its words instead
        planned.append(SubScene(id=f"{part}-{index + 1}", part=part, narration=chunk, visual=visual,
                                figure=figure if visual == "figure" else None,
                                steps=steps if visual == "diagram" and steps else [], note=shot.note).model_dump())
    return {"scenes": {f"{state['iteration']}/{part}": planned}}
