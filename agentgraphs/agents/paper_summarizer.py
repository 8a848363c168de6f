"""The paper summariser: reads a paper's first pages and writes a short, grounded digest.

Role ``summarizer``. Its output schema keeps the model to claims it can point at in the text,
which the small embedded models need and larger ones respect.
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agentgraphs.registry import register
from agentgraphs.runtime import context_of

__all__ = ["PROMPT", "PaperDigest", "summarize_paper"]

PROMPT = (
    "You are a careful science communicator. You read the beginning of a research paper and "
    "write a digest for a curious reader. Use only facts stated in the text; do not invent "
    "numbers, names or results."
)


class PaperDigest(BaseModel):
    """What a reader should take away from a paper."""

    # Length bounds become grammar limits under constrained decoding: a small model that starts to
    # loop inside a string is stopped there instead of running to max_tokens (seen in bench/).
    title: str = Field(description="The paper's title.", max_length=300)
    problem: str = Field(description="One sentence: the problem the paper addresses.", max_length=400)
    method: str = Field(description="One or two sentences: what the paper does about it.", max_length=600)
    findings: list[Annotated[str, Field(max_length=300)]] = Field(
        description="Two to four key findings or contributions, one sentence each.", min_length=1, max_length=5)
    question: str = Field(description="One question the digest leaves a reader wanting to ask.", max_length=300)


@register("agent", name="paper-summarizer")
def summarize_paper(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
    """Summarise ``state['paper_text']`` into a :class:`PaperDigest`."""
    context = context_of(runtime)
    model = context.model("summarizer", temperature=0.2).with_structured_output(PaperDigest, agent="paper-summarizer")
    text = state["paper_text"][: int(state.get("max_chars", 6000))]
    digest = model.invoke([
        SystemMessage(PROMPT),
        HumanMessage(f"Title (from the layout): {state.get('title', '')}\n\nPaper text:\n{text}"),
    ])
    return {"digest": digest.model_dump()}
