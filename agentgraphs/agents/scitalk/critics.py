"""Viewer-persona critics: simulated viewers score a rendered video and say what to change.

Role ``critic``; one call per persona (the graph fans them out with ``Send``). A persona is a
registered component, so a lab adds its own viewer (``@register("agent", name="skeptic",
scitalk_persona=True)`` returning a :class:`Persona`) and names it in ``--personas``. Critics see
sampled frames as images only when told the model takes images (``critic_images``); otherwise
they read frame descriptions and the video checks' facts, which every model can use.
"""

from __future__ import annotations

import base64
from pathlib import Path
from statistics import mean
from typing import Annotated, Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agentgraphs.agents.scitalk.originality import copies
from agentgraphs.errors import RegistryError
from agentgraphs.registry import lookup, register
from agentgraphs.runtime import context_of

__all__ = ["Comment", "Critique", "Persona", "Scores", "critique_video", "resolve_persona"]

Generator = Literal["flashtalk_writer", "scene_planner", "text_editor", "layout_allocator", "effects_assistant"]


class Persona(BaseModel):
    """A simulated viewer: who they are and what they pay attention to."""

    name: str
    description: str


class Scores(BaseModel):
    """The four SciTalk criteria, 1 (poor) to 5 (excellent)."""

    content_accuracy: int = Field(ge=1, le=5)
    clarity: int = Field(ge=1, le=5)
    visual_sync: int = Field(ge=1, le=5, description="Do the visuals match what is being said when?")
    engagement: int = Field(ge=1, le=5)

    def mean(self) -> float:
        return mean([self.content_accuracy, self.clarity, self.visual_sync, self.engagement])


class Comment(BaseModel):
    """One actionable change, addressed to the agent that can make it."""

    target: Generator
    text: Annotated[str, Field(min_length=5, max_length=220)]


class Critique(BaseModel):
    """A persona's verdict on one video (comments first: a model that has named the problems
    scores more honestly than one that scores first)."""

    comments: list[Comment] = Field(min_length=1, max_length=4)
    scores: Scores


ROLE = (
    "You watch a short explainer video about a research paper, as the viewer described below, and "
    "critique it. Score content accuracy, clarity, visual sync and engagement from 1 to 5, and give "
    "one to four concrete changes. Address each change to the agent that can make it: "
    "flashtalk_writer (the spoken script), scene_planner (which visual is shown when), text_editor "
    "(on-screen words), layout_allocator (where things sit) or effects_assistant (zooms, highlights, "
    "fades). Use the automatic checks: a flagged problem deserves a comment and a lower score. "
    "Scores: 5 = nothing to improve, 3 = watchable with clear problems, 1 = wrong or confusing. "
    "Write each comment in your own words as an instruction, e.g. 'show the results figure when "
    "the numbers are spoken'; never copy the script."
)


@register("agent", name="scitalk-critic-student", scitalk_persona=True)
def student() -> Persona:
    """An undergraduate who wants to understand the idea."""
    return Persona(name="student", description=(
        "An undergraduate student in the field. Wants to understand the main idea and why it works; "
        "gets lost with jargon, unexplained acronyms and text that goes by too fast."))


@register("agent", name="scitalk-critic-domain-expert", scitalk_persona=True)
def domain_expert() -> Persona:
    """A researcher in the paper's area who checks accuracy."""
    return Persona(name="domain-expert", description=(
        "A researcher in the paper's area. Checks that every claim matches the paper, that numbers "
        "are right and that the figures shown support what is said; dislikes hype."))


@register("agent", name="scitalk-critic-general-viewer", scitalk_persona=True)
def general_viewer() -> Persona:
    """Someone scrolling a feed, who stays only if hooked."""
    return Persona(name="general-viewer", description=(
        "Someone scrolling a video feed with no science background. Stays only if the first seconds "
        "are interesting; wants big readable text, motion and a clear takeaway."))


def resolve_persona(name: str) -> Persona:
    """The persona registered as ``name`` (built-in short names, or ``package/name`` plug-ins)."""
    for candidate in ([name] if "/" in name else [f"scitalk-critic-{name}", name]):
        try:
            entry = lookup("agent", candidate)
        except RegistryError:
            continue
        if entry.metadata.get("scitalk_persona"):
            return Persona.model_validate(entry.factory())
    raise RegistryError(
        f"no SciTalk persona named {name!r}; built-in: student, domain-expert, general-viewer; a plug-in "
        "registers one with @register('agent', name=..., scitalk_persona=True) and is named package/name"
    )


def _image_parts(paths: list[str]) -> list[dict[str, Any]]:
    parts = []
    for path in paths:
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        parts.append({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}})
    return parts


@register("agent", name="scitalk-critic", role="critic")
def critique_video(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
    """One persona's critique of the current iteration's video (a ``Send`` payload)."""
    persona = resolve_persona(state["persona"])
    facts = (
        f"Paper: {state['title']}\n\nScript:\n{state['script_md']}\n\nFrames sampled from the video:\n"
        + "\n".join(f"- {line}" for line in state["frames"])
        + "\n\nAutomatic checks:\n" + "\n".join(f"- {line}" for line in state["check_facts"])
    )
    content: Any = facts
    if state.get("critic_images") and state.get("thumbnails"):
        content = [{"type": "text", "text": facts}, *_image_parts(state["thumbnails"])]
    model = context_of(runtime).model("critic", temperature=0.3)
    agent = f"scitalk-critic:{persona.name}"
    critique = model.with_structured_output(Critique, agent=agent).invoke([
        SystemMessage(f"{ROLE}\n\nYou are: {persona.description}"), HumanMessage(content)])
    # A comment that copies eight words in a row of the script, the checks or the instructions
    # (their example included) is not an instruction any agent can act on (small models do this a
    # lot); it is dropped, and the drop is recorded. Asking again costs a full call per critic and
    # rarely helps at this model size.
    usable = [c for c in critique.comments if not copies(c.text, f"{ROLE}\n{facts}", run=8)]
    record = {"persona": persona.name, "scores": critique.scores.model_dump(),
              "comments": [c.model_dump() for c in usable], "dropped_comments": len(critique.comments) - len(usable)}
    return {"critiques": {f"{state['iteration']}/{persona.name}": record}}
