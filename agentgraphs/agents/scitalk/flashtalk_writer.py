"""The flash-talk writer: a paper becomes a four-part spoken script whose claims cite the paper.

Role ``flashtalk_writer``. The parts follow the SciTalk paper's creator-inspired structure: a hook
that stops the scroll, the context a viewer needs, a teaser of the key result, and a call to
action. Every claim names the section or figure it comes from; the set of valid ids is put into
the output schema itself, so a constraining backend cannot cite a section that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, create_model

from agentgraphs.agents.scitalk.prompts import PromptVersion, system_prompt
from agentgraphs.registry import register
from agentgraphs.runtime import context_of

__all__ = ["GUIDANCE", "PARTS", "ROLE", "Claim", "FlashTalk", "ScriptPart", "grounded_schema", "whole_sentences", "write_flashtalk"]

PARTS: tuple[str, ...] = ("hook", "context", "teaser", "call_to_action")

ROLE = (
    "You are the script writer of a science-communication channel. You turn a research paper into "
    "a flash talk: a spoken script of about 45-75 seconds in four parts. hook: one or two sentences "
    "that make a viewer stop scrolling (a surprising fact or question from the paper). context: the "
    "problem and why it matters. teaser: the key idea or result, with one number from the paper if "
    "there is one. call_to_action: one sentence telling the viewer what to do next (read the paper, "
    "try the method). Every claim must come from the paper and name its source: a section id or a "
    "figure id from the list given. Write for the ear, in your own words: at most two sentences of "
    "at most 20 words per part, no copied sentences, no citations, no formulas."
)

GUIDANCE = (
    "Use plain words a first-year student understands. Keep each part to one to three sentences. "
    "Prefer a concrete result shown in a figure over a general statement."
)


class Claim(BaseModel):
    """One factual statement of the script and where in the paper it comes from."""

    text: str = Field(max_length=140)
    source: str = Field(description="A section id or figure id of the paper.")


class ScriptPart(BaseModel):
    """One part of the talk: what is said, and the claims it makes."""

    narration: str = Field(description="What the narrator says: one or two short sentences.", min_length=10, max_length=320)
    claims: list[Claim] = Field(min_length=1, max_length=2)


class FlashTalk(BaseModel):
    """The whole script."""

    hook: ScriptPart
    context: ScriptPart
    teaser: ScriptPart
    call_to_action: ScriptPart

    def parts(self) -> list[tuple[str, ScriptPart]]:
        return [(name, getattr(self, name)) for name in PARTS]

    def markdown(self, title: str) -> str:
        """The script as the ``script.md`` a reader checks claims against."""
        lines = [f"# Flash talk: {title}", ""]
        for name, part in self.parts():
            lines += [f"## {name.replace('_', ' ').title()}", "", part.narration, ""]
            lines += [f"- {claim.text} *(source: {claim.source})*" for claim in part.claims]
            lines.append("")
        return "\n".join(lines)


def grounded_schema(source_ids: list[str]) -> type[FlashTalk]:
    """``FlashTalk`` whose claim sources may only be ``source_ids`` (enforced while decoding)."""
    source = Literal[tuple(source_ids)]  # type: ignore[valid-type]
    claim = create_model("Claim", __base__=Claim, source=(source, Field(description="A section id or figure id.")))
    part = create_model("ScriptPart", __base__=ScriptPart,
                        claims=(Annotated[list[claim], Field(min_length=1, max_length=2)], ...))  # type: ignore[valid-type]
    return create_model("FlashTalk", __base__=FlashTalk, **{name: (part, ...) for name in PARTS})  # type: ignore[call-overload]


@register("agent", name="scitalk-flashtalk-writer", role="flashtalk_writer")
def write_flashtalk(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
    """Write the four-part script from ``state['outline']`` under the current prompt version."""
    prompt = PromptVersion.model_validate(state["prompts"]["flashtalk_writer"])
    schema = grounded_schema(state["source_ids"])
    model = context_of(runtime).model("flashtalk_writer", temperature=0.3)
    talk = model.with_structured_output(schema, agent="scitalk-flashtalk-writer").invoke([
        SystemMessage(system_prompt(ROLE, prompt)),
        HumanMessage(f"Valid source ids: {', '.join(state['source_ids'])}\n\nThe paper:\n{state['outline']}"),
    ])
    script = FlashTalk.model_validate(talk.model_dump())
    for _, part in script.parts():
        part.narration = whole_sentences(part.narration)
    return {"script": script.model_dump()}


def whole_sentences(text: str) -> str:
    """``text`` without a trailing fragment: a string bound ends decoding mid-sentence, and a
    narrator must not stop mid-sentence. Text with no sentence end at all is kept as it is."""
    text = text.strip()
    if text.endswith((".", "!", "?")):
        return text
    cut = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    return text[:cut + 1] if cut > 0 else text
