"""The flash-talk writer: a paper becomes a four-part spoken script whose claims cite the paper.

Role ``flashtalk_writer``. The parts follow the SciTalk paper's creator-inspired structure: a hook
that stops the scroll, the context a viewer needs, a teaser of the key result, and a call to
action. Each part is written by its own call with only the part's brief and the paper text it
needs (small local models write one focused part far better than four at once; the calls run
concurrently). The valid source ids are put into the output schema, so a constraining backend
cannot cite a section that does not exist, and an answer that parrots the instructions is sent
back through the structured-output repair loop with the reason. A part whose answers still fail
falls back to the paper's own sentence, and the script says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables.config import ContextThreadPoolExecutor
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, create_model, field_validator

from agentgraphs.agents.scitalk.originality import copies
from agentgraphs.agents.scitalk.prompts import PromptVersion, system_prompt
from agentgraphs.errors import StructuredOutputError
from agentgraphs.registry import register
from agentgraphs.runtime import context_of
from agentgraphs.tools.paper import Paper
from agentgraphs.tools.text import split_sentences

__all__ = [
    "BRIEFS", "GUIDANCE", "PARTS", "ROLE", "Claim", "FlashTalk", "ScriptPart", "part_schema", "whole_sentences",
    "write_flashtalk",
]

PARTS: tuple[str, ...] = ("hook", "context", "teaser", "call_to_action")

ROLE = (
    "You are the script writer of a science-communication channel. You write one part of a short "
    "spoken explainer video about a research paper. Use only facts from the paper text you are "
    "given. Write for the ear, in your own words: short sentences, no citations, no formulas."
)

GUIDANCE = (
    "Use plain words a first-year student understands. Prefer a concrete result over a general "
    "statement."
)

BRIEFS: dict[str, str] = {
    "hook": "Write the hook: one or two sentences that make a viewer curious, with a surprising fact or question from the paper.",
    "context": "Write the context: one or two sentences on the problem the paper addresses and why it matters.",
    "teaser": "Write the teaser: one or two sentences on the paper's key idea or result, with one number if the text gives one.",
    "call_to_action": "Write the call to action: one sentence inviting the viewer to read the paper, naming its title.",
}
"""What each part must do; shown to the model with only that part's paper text."""


class Claim(BaseModel):
    """One factual statement of the script and where in the paper it comes from."""

    text: str = Field(max_length=240)
    source: str = Field(description="A section id or figure id of the paper.")


class ScriptPart(BaseModel):
    """One part of the talk: what is said, and the claims it makes."""

    narration: str = Field(min_length=1, max_length=320)
    claims: list[Claim] = Field(min_length=1, max_length=3)
    extracted: bool = False
    """True when the model's answers failed and the paper's own sentence is spoken instead."""


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
            if part.extracted:
                lines += ["*(the paper's own sentence: the model's answers did not pass the checks)*", ""]
            lines += [f"- {claim.text} *(source: {claim.source})*" for claim in part.claims]
            lines.append("")
        return "\n".join(lines)


def whole_sentences(text: str) -> str:
    """``text`` without a trailing fragment: a string bound ends decoding mid-sentence, and a
    narrator must not stop mid-sentence. Text with no sentence end at all is kept as it is."""
    text = text.strip()
    if text.endswith((".", "!", "?")):
        return text
    cut = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    return text[:cut + 1] if cut > 0 else text


def part_schema(source_ids: list[str], instructions: str) -> type[BaseModel]:
    """The answer schema of one part: narration, and a source among ``source_ids``.

    Its validator rejects narration that repeats five words in a row from ``instructions`` or is a
    fragment, so the repair prompt tells the model exactly that.
    """
    def check(value: str) -> str:
        value = whole_sentences(value)
        if len(value.split()) < 6 or not value.endswith((".", "!", "?")):
            raise ValueError("the narration must be one or two complete sentences of at least six words")
        if copies(value, instructions):
            raise ValueError("the narration repeats the instructions; say something about the paper in your own words")
        return value

    return create_model(
        "ScriptPartDraft",
        narration=(str, Field(min_length=20, max_length=280, description="What the narrator says.")),
        source=(Literal[tuple(source_ids)], Field(description="The section or figure id the narration comes from.")),  # type: ignore[valid-type]
        __validators__={"narration_is_the_models_own": field_validator("narration")(lambda cls, v: check(v))},
    )


def _material(paper: Paper, part: str) -> tuple[str, str]:
    """The paper text a part is written from, and the source id it most likely cites.

    Each part sees different text (the abstract for the hook, the introduction for the context,
    results or conclusions for the teaser): given the same text, a small model writes the same
    sentence four times.
    """
    def section(*keys: str) -> tuple[str, str] | None:
        for s in paper.sections:
            if any(k in s.heading.lower() for k in keys) and len(s.text.strip()) > 200:
                return s.text[:1500], s.id
        return None

    chosen = {
        "hook": None,
        "context": section("introduction", "motivation", "background"),
        "teaser": section("result", "experiment", "evaluation", "finding"),
        "call_to_action": section("conclusion", "discussion", "summary"),
    }[part]
    if chosen is None:
        sentences = split_sentences(paper.abstract)
        start = {"hook": 0, "context": 1, "teaser": 2, "call_to_action": 3}[part]
        return f"Abstract: {' '.join(sentences[min(start, max(len(sentences) - 1, 0)):][:4])[:1500]}", "abstract"
    text, source = chosen
    if part == "teaser" and paper.figures:
        text += "\n\nFigures:\n" + "\n".join(f"[{f.id}] {f.caption[:200]}" for f in paper.figures[:6])
    return f"Section [{source}]: {text}", source


def _extract(material: str, source: str) -> ScriptPart:
    """The first one or two sentences of the part's paper text: the disclosed fallback."""
    body = material.split(": ", 1)[-1].split("\n\nFigures:")[0]
    sentences = split_sentences(body) or [" ".join(body.split())]
    narration = sentences[0] if len(sentences[0]) > 60 or len(sentences) == 1 else " ".join(sentences[:2])
    narration = narration[:300]
    return ScriptPart(narration=narration, claims=[Claim(text=narration[:240], source=source)], extracted=True)


@register("agent", name="scitalk-flashtalk-writer", role="flashtalk_writer")
def write_flashtalk(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
    """Write the four parts from the parsed paper under the current prompt version."""
    prompt = PromptVersion.model_validate(state["prompts"]["flashtalk_writer"])
    paper = Paper.model_validate_json(Path(state["paper_json"]).read_text(encoding="utf-8"))
    system = system_prompt(ROLE, prompt)
    model = context_of(runtime).model("flashtalk_writer", temperature=0.3)
    materials = {part: _material(paper, part) for part in PARTS}
    runnables, inputs = [], []
    for part in PARTS:
        material, _ = materials[part]
        schema = part_schema(state["source_ids"], f"{system}\n{BRIEFS[part]}")
        runnables.append(model.with_structured_output(schema, agent=f"scitalk-flashtalk-writer:{part}"))
        inputs.append([SystemMessage(system), HumanMessage(
            f"Paper: {paper.title}\nValid source ids: {', '.join(state['source_ids'])}\n\n{material}\n\n{BRIEFS[part]}")])
    def write(index: int) -> ScriptPart:
        try:
            draft = runnables[index].invoke(inputs[index])
        except StructuredOutputError:
            return _extract(*materials[PARTS[index]])
        return ScriptPart(narration=draft.narration, claims=[Claim(text=draft.narration[:240], source=draft.source)])

    # One thread per part (the local server decodes them in parallel slots); the context-copying
    # pool keeps LangGraph's callbacks, so Studio still streams each part's tokens.
    with ContextThreadPoolExecutor(max_workers=len(PARTS)) as pool:
        parts = list(pool.map(write, range(len(PARTS))))
    return {"script": FlashTalk(**dict(zip(PARTS, parts))).model_dump()}
