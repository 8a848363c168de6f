"""lawflow: a business-formation assistant with a plan, adaptive execution and human decision points.

The LawFlow paper (arXiv 2504.18942) found human legal workflows modular and adaptive and LLM ones
sequential and exhaustive, and that lawyers want AI for brainstorming, blind spots and
alternatives rather than for the whole workflow. So the graph plans, lets a person edit the plan,
executes it turn by turn while a monitor flags unusual steps, and at each decision point (client
conflicts, entity type, tax treatment) has the advisor lay out the options and then **stops** for
the person's choice, resumed with ``Command(resume=answer)``:

    setup → plan → review_plan ⏸ → execute ⇄ monitor → [brainstorm → decide ⏸] → … → draft → report

Three ways to answer: Studio shows the interrupts; ``agentgraphs run lawflow --scenario 11`` asks at
each one when run in a terminal; ``--decisions FILE`` answers from a JSON file, checked against the
scenario's decision points before anything runs. With neither, the run stops at the first question
and ``agentgraphs resume RUN_DIR --answer JSON`` continues it, from any process.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from langgraph.graph import END as GRAPH_END
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import BaseModel, Field, FilePath, model_validator
from typing_extensions import TypedDict

from agentgraphs.agents.lawflow import advisor, drafter, executor, planner
from agentgraphs.agents.lawflow.decisions import (
    DECISION_POINTS,
    PLAN_REVIEW,
    applicable_points,
    edited_plan,
    load_decisions,
    options_for,
    parse_answer,
    triggered_point,
)
from agentgraphs.agents.lawflow.monitor import TransitionModel, flag_step
from agentgraphs.errors import GraphInputError
from agentgraphs.evals.lawflow_data import END, LawflowDataError, Plan, Scenario, load_plan, load_scenario
from agentgraphs.graph_spec import Artefacts, merge_dicts
from agentgraphs.registry import register
from agentgraphs.runtime import RunContext, context_of

__all__ = ["LawflowInputs", "LawflowState", "build", "graph"]

T = TypeVar("T")


class LawflowInputs(BaseModel):
    """Inputs of the lawflow graph."""

    scenario: str = Field(description="A shared scenario id (11 or scenario_11) or a scenario .json file (id, title, text).")
    decisions: FilePath | None = Field(default=None, description="JSON answers to the decision points, for unattended runs.")
    plan_source: Literal["planner", "human", "llm"] = Field(
        default="planner", description="Who plans: the planner agent, or the shared human (law students') or o1 plan.")
    max_turns: int = Field(default=12, ge=1, le=200, description="Execution turns before the executor must stop.")
    review_plan: bool = Field(default=True, description="Stop for a person to accept or replace the plan.")

    @model_validator(mode="after")
    def _resolvable(self) -> LawflowInputs:
        scenario = load_scenario(self.scenario)  # an unknown id or a bad file fails before a run directory exists
        if self.decisions is not None:
            load_decisions(self.decisions, scenario)
        return self


class LawflowState(TypedDict, total=False):
    scenario: str
    decisions: str | None
    plan_source: str
    max_turns: int
    review_plan: bool
    case: dict[str, Any]
    """The scenario as a :class:`Scenario` dump."""
    answers: dict[str, Any] | None
    """The decisions file, checked (``None`` when the run asks a person)."""
    points: list[str]
    plan: dict[str, Any]
    plan_review: dict[str, Any]
    turns: Annotated[list[dict[str, Any]], operator.add]
    flags: Annotated[list[dict[str, Any]], operator.add]
    monitored: int
    """How many turns the monitor has looked at."""
    pending: str | None
    finished: bool
    briefs: Annotated[dict[str, Any], merge_dicts]
    decided: Annotated[dict[str, Any], merge_dicts]
    drafts: dict[str, Any]
    artefacts: Artefacts


def _scenario(state: LawflowState) -> Scenario:
    return Scenario.model_validate(state["case"])


def _plan(state: LawflowState) -> Plan:
    return Plan.model_validate(state["plan"])


def _undecided(state: LawflowState) -> list[str]:
    decided = state.get("decided") or {}
    return [p for p in state["points"] if p not in decided]


def _notes(state: LawflowState) -> list[str]:
    """What the executor concluded, step by step: the advisor and the drafter build on it."""
    return [f"{t['node_id']} {t['title']}: {t['analysis']}" for t in state.get("turns") or []]


def setup(state: LawflowState) -> dict[str, Any]:
    """Tool node: the scenario, its decision points and the decisions file, checked."""
    scenario = load_scenario(state["scenario"])
    answers = load_decisions(state["decisions"], scenario) if state.get("decisions") else None
    return {"case": scenario.model_dump(), "answers": answers, "points": applicable_points(scenario),
            "finished": False, "pending": None}


def make_plan(state: LawflowState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Agent node (planner), or the shared human / o1 plan."""
    context = context_of(runtime)
    source = state.get("plan_source", "planner")
    if source == "planner":
        plan, draft = planner.plan_scenario(_scenario(state), model=context.model("planner", temperature=0.2))
        context.write_artefact("plan-draft.json", draft.model_dump())
    else:
        plan = load_plan(source)  # type: ignore[arg-type]
    path = context.write_artefact("plan.txt", plan.to_text() + "\n")
    return {"plan": plan.model_dump(), "artefacts": {"plan": path}}


def _ask(question: dict[str, Any], parse: Callable[[Any], T]) -> T:
    """Interrupt with ``question`` until ``parse`` accepts the answer; a refused answer is asked again with the reason.

    Raising instead would not let the person correct it: LangGraph keeps a resume value of a node that
    failed and hands it to the same ``interrupt`` call on the next resume, so the node asks anew.
    """
    while True:
        answer = interrupt(question)
        try:
            return parse(answer)
        except (GraphInputError, LawflowDataError) as exc:
            question = {**question, "error": f"{exc}; answer again"}


def _answered_in(answer: Any) -> str:
    return str(answer.get("answered_in", "resume")) if isinstance(answer, dict) else "resume"


def review_plan(state: LawflowState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Human node: accept the plan or replace it (an ``interrupt`` unless a decisions file answers)."""
    if not state.get("review_plan", True):
        return {"plan_review": {"outcome": "not reviewed"}}
    plan = _plan(state)
    answers = state.get("answers")
    if answers is not None:
        edited, source = edited_plan(answers.get(PLAN_REVIEW, "accept"), name=f"{plan.name}-edited"), "decisions file"
    else:
        edited, source = _ask({
            "kind": "plan_review", "question": "Accept this plan, or replace it with an edited one?",
            "options": ["accept", "replace"], "details": f"```\n{plan.to_text()}\n```",
            "fields": {"plan_file": {"prompt": "path of the edited plan (numbered lines like '2.1 Title')", "when": ["replace"]}},
        }, lambda answer: (edited_plan(answer, name=f"{plan.name}-edited"), _answered_in(answer)))
    if edited is None:
        return {"plan_review": {"outcome": "accepted", "source": source}}
    path = context_of(runtime).write_artefact("plan.txt", edited.to_text() + "\n")
    return {"plan": edited.model_dump(), "plan_review": {"outcome": "replaced", "source": source},
            "artefacts": {"plan": path}}


def execute(state: LawflowState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Agent node (executor): one turn; a decision point is raised when the chosen step calls for it."""
    plan, turns = _plan(state), state.get("turns") or []
    turn = executor.next_turn(_scenario(state), plan, turns, state.get("decided") or {},
                              model=context_of(runtime).model("executor", temperature=0.3))
    step = executor.resolve_step(turn, plan, turns)
    if step == END:
        return {"finished": True}
    record = {"turn": len(turns) + 1, **turn.model_dump(), "node_id": step, "title": plan.by_id[step].title}
    pending = triggered_point(record["title"], _undecided(state))
    return {"turns": [record], "pending": pending, "finished": record["turn"] >= state.get("max_turns", 12)}


def monitor(state: LawflowState) -> dict[str, Any]:
    """Tool node: flags for the newest step against the plan's reference workflow (the plan's own order)."""
    plan, turns = _plan(state), state.get("turns") or []
    if len(turns) <= state.get("monitored", 0):
        return {}  # the executor ended without a new turn
    model = TransitionModel.fit(plan, [plan.order])
    titles = {n.id: n.title for n in plan.nodes}
    flags = flag_step(model, [t["node_id"] for t in turns], titles=titles)
    return {"flags": [f.model_dump() for f in flags], "monitored": len(turns)}


def brainstorm(state: LawflowState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Agent node (advisor): options with pros and cons, blind spots and alternatives for the pending point."""
    point = state.get("pending") or _undecided(state)[0]
    brief = advisor.brief_decision(point, _scenario(state), state.get("decided") or {}, _notes(state),
                                   model=context_of(runtime).model("advisor", temperature=0.2))
    return {"pending": point, "briefs": {point: brief.model_dump()}}


def decide(state: LawflowState) -> dict[str, Any]:
    """Human node: the person's choice at the pending decision point (an ``interrupt``), or the file's."""
    point, decided = state["pending"], state.get("decided") or {}
    assert point is not None
    answers = state.get("answers")
    if answers is not None:
        return {"decided": {point: answers[point]}, "pending": None}
    options = options_for(point, decided)
    brief = state["briefs"][point]
    decision = _ask({
        "kind": "decision", "point": point, "question": DECISION_POINTS[point].question,
        "options": list(options), "meanings": options, "brief": brief,
        "details": advisor.brief_markdown(point, brief, options),
        "fields": {"rationale": {"prompt": "why (kept in the report; optional)"}},
    }, lambda answer: parse_answer(point, answer, decided, source=_answered_in(answer)))
    return {"decided": {point: decision.model_dump()}, "pending": None}


def route(state: LawflowState) -> str:
    """After a turn or a decision: a raised point first; at the end, every open point before drafting."""
    if state.get("pending"):
        return "brainstorm"
    if state.get("finished"):
        return "brainstorm" if _undecided(state) else "draft"
    return "execute"


def draft(state: LawflowState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Agent node (drafter): the client memo outline and the governing-document clause checklist."""
    context = context_of(runtime)
    model = context.model("drafter", temperature=0.2)
    scenario, decided = _scenario(state), state.get("decided") or {}
    memo = drafter.draft_memo(scenario, decided, _notes(state), model=model)
    checklist = drafter.draft_checklist(scenario, decided, model=model)
    return {"drafts": {"memo": memo.model_dump(), "checklist": checklist.model_dump(),
                       "document": drafter.governing_document(decided)}}


def report(state: LawflowState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Tool node: ``report.md`` (plan, execution with flags, decisions and rationale, drafts, analytics)."""
    from agentgraphs.evals.lawflow_run_report import write_run_report

    context = context_of(runtime)
    paths = write_run_report(context.directory(), dict(state))
    return {"artefacts": paths}


@register("graph", name="lawflow", inputs=LawflowInputs, main_artefact="report")
def build() -> StateGraph[LawflowState]:
    """Legal workflow assistant: plan, adaptive execution, decision points for a person, drafts (LawFlow)."""
    builder = StateGraph(LawflowState, context_schema=RunContext)
    builder.add_node("setup", setup)
    builder.add_node("plan", make_plan)
    builder.add_node("review_plan", review_plan)
    builder.add_node("execute", execute)
    builder.add_node("monitor", monitor)
    builder.add_node("brainstorm", brainstorm)
    builder.add_node("decide", decide)
    builder.add_node("draft", draft)
    builder.add_node("report", report)
    builder.add_edge(START, "setup")
    builder.add_edge("setup", "plan")
    builder.add_edge("plan", "review_plan")
    builder.add_edge("review_plan", "execute")
    builder.add_edge("execute", "monitor")
    builder.add_conditional_edges("monitor", route, ["execute", "brainstorm", "draft"])
    builder.add_edge("brainstorm", "decide")
    builder.add_conditional_edges("decide", route, ["execute", "brainstorm", "draft"])
    builder.add_edge("draft", "report")
    builder.add_edge("report", GRAPH_END)
    return builder


graph = build().compile(name="lawflow")
"""For LangGraph Studio (``langgraph.json``); the server supplies the checkpointer."""
