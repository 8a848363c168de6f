"""A third-party agentgraphs plug-in, as a lab would write one.

It registers an agent (``agentgraphs_demo_plugin/echo-critic``), a graph
(``agentgraphs_demo_plugin/countdown``), a SciTalk persona and an RL task
(``agentgraphs_demo_plugin/haiku``) without agentgraphs importing it by name: the
``agentgraphs.plugins`` entry point in its pyproject is all the framework sees. The countdown graph
is a loop of deterministic, slow-enough steps, which the tests kill and resume.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from agentgraphs import register
from agentgraphs.agents.scitalk.critics import Persona
from agentgraphs.graph_spec import Artefacts
from agentgraphs.runtime import RunContext, context_of
from agentgraphs.tasks import Task


class CountdownInputs(BaseModel):
    steps: int = Field(default=5, ge=1, le=100, description="How many loop iterations to run.")
    delay: float = Field(default=0.0, ge=0, le=60, description="Seconds each step sleeps (to leave time to kill it).")
    seed: str = Field(default="agentgraphs", description="Start of the hash chain the steps extend.")


class CountdownState(TypedDict, total=False):
    steps: int
    delay: float
    seed: str
    done: int
    chain: str
    artefacts: Artefacts


def tick(state: CountdownState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """One loop step: extend the hash chain and write it as this step's artefact."""
    time.sleep(state.get("delay", 0.0))
    done = state.get("done", 0) + 1
    chain = hashlib.sha256((state.get("chain") or state["seed"]).encode()).hexdigest()
    path = context_of(runtime).write_artefact(f"step-{done:03d}.txt", f"step {done}: {chain}\n")
    return {"done": done, "chain": chain, "artefacts": {f"step-{done:03d}": path}}


def summarise(state: CountdownState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    path = context_of(runtime).write_artefact("summary.txt", f"{state['done']} steps, final {state['chain']}\n")
    return {"artefacts": {"summary": path}}


@register("graph", name="countdown", inputs=CountdownInputs, main_artefact="summary")
def build_countdown() -> StateGraph[CountdownState]:
    """A deterministic loop of hash-chain steps (for kill-and-resume tests)."""
    builder = StateGraph(CountdownState, context_schema=RunContext)
    builder.add_node("tick", tick)
    builder.add_node("summarise", summarise)
    builder.add_edge(START, "tick")
    builder.add_conditional_edges("tick", lambda s: "tick" if s["done"] < s["steps"] else "summarise")
    builder.add_edge("summarise", END)
    return builder


class Critique(BaseModel):
    score: int = Field(ge=1, le=5, description="1 (poor) to 5 (excellent).")
    comment: str


@register("agent", name="echo-critic")
def echo_critic(state: dict[str, Any], runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Scores ``state['text']`` 1–5 with a one-line comment, as role ``critic``."""
    model = context_of(runtime).model("critic").with_structured_output(Critique, agent="echo-critic")
    critique = model.invoke([HumanMessage(f"Score this text from 1 to 5 and comment briefly:\n{state['text']}")])
    return {"critique": critique.model_dump()}


@register("agent", name="skeptic", scitalk_persona=True)
def skeptic() -> Persona:
    """A SciTalk viewer persona from a third-party package."""
    return Persona(name="skeptic", description=(
        "A reviewer who doubts every claim: wants to see the figure that backs each number, "
        "and notices when a result is overstated."))


HAIKU_RUBRIC = """<rubric>
<item>
### Imagery
Does the poem show one concrete image from nature? Score from 0 to 4.
</item>

<item>
### Form
Three short lines, about five, seven and five syllables? Score from 0 to 2.
</item>
</rubric>"""


@register("task", name="haiku")
def haiku(limit: int | None = None) -> Task:
    """Write a haiku on a theme (an RL task from a third-party package)."""
    themes = ("rain on a tin roof", "the first frost", "a heron at dusk", "wind in tall grass", "a lantern at night")
    prompts = tuple(f"Write a haiku about {theme}." for theme in themes)
    return Task(name="haiku", prompts=prompts[:limit] if limit else prompts, rubrics={"default": HAIKU_RUBRIC},
                system_prompt="You are a poet. Answer with the poem only.")
