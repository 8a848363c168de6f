"""paper-digest: a paper PDF → a grounded Markdown digest written by the summariser agent.

The smallest real graph: a deterministic tool node (PyMuPDF), an agent node on the configured
model, and a writer node that saves the artefact. It is the README's main job until the SciTalk
video graph lands, and the graph the Studio test drives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, FilePath
from typing_extensions import TypedDict

from agentgraphs.agents.paper_summarizer import PaperDigest, summarize_paper
from agentgraphs.graph_spec import Artefacts
from agentgraphs.registry import register
from agentgraphs.runtime import RunContext, context_of
from agentgraphs.tools.pdf import read_paper_text

__all__ = ["PaperDigestInputs", "PaperDigestState", "build", "graph"]


class PaperDigestInputs(BaseModel):
    """Inputs of the paper-digest graph."""

    paper: FilePath = Field(description="Path of the paper's PDF.")
    max_pages: int = Field(default=2, ge=1, le=60, description="How many pages from the start to read.")


class PaperDigestState(TypedDict, total=False):
    paper: str
    max_pages: int
    title: str
    paper_text: str
    pages_note: str
    digest: dict[str, Any]
    artefacts: Artefacts


def read_paper(state: PaperDigestState) -> dict[str, Any]:
    """Tool node: the text of the first pages, and a note when the paper was cut."""
    paper = read_paper_text(state["paper"], max_pages=state.get("max_pages", 2))
    note = f"read pages 1–{paper.pages_read} of {paper.pages_total}" if paper.truncated else f"read all {paper.pages_total} pages"
    return {"title": paper.title, "paper_text": paper.text, "pages_note": note}


def write_digest(state: PaperDigestState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Writer node: the digest as Markdown, saved atomically in the run directory."""
    digest = PaperDigest.model_validate(state["digest"])
    lines = [
        f"# {digest.title}", "",
        f"*Source: `{Path(state['paper']).name}`, {state.get('pages_note', '')}.*", "",
        "## Problem", "", digest.problem, "",
        "## Method", "", digest.method, "",
        "## Findings", "", *[f"- {item}" for item in digest.findings], "",
        "## A question to ask", "", digest.question, "",
    ]
    path = context_of(runtime).write_artefact("digest.md", "\n".join(lines))
    return {"artefacts": {"digest": path}}


@register("graph", name="paper-digest", inputs=PaperDigestInputs, main_artefact="digest")
def build() -> StateGraph[PaperDigestState]:
    """A paper PDF to a short grounded digest (PyMuPDF + the summarizer agent)."""
    builder = StateGraph(PaperDigestState, context_schema=RunContext)
    builder.add_node("read_paper", read_paper)
    builder.add_node("summarize", summarize_paper)
    builder.add_node("write_digest", write_digest)
    builder.add_edge(START, "read_paper")
    builder.add_edge("read_paper", "summarize")
    builder.add_edge("summarize", "write_digest")
    builder.add_edge("write_digest", END)
    return builder


graph = build().compile(name="paper-digest")
"""For LangGraph Studio (``langgraph.json``); the server supplies the checkpointer."""
