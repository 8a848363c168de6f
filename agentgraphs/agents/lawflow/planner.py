"""LawFlow's planner: a hierarchical plan for one formation scenario.

Role ``planner``. The model writes nested data (subtasks → steps → sub-steps), never ids: ids are
numbered here, so every plan it produces is a valid :class:`~agentgraphs.evals.lawflow_data.Plan`
and gets the same analytics as the human and o1 plans. Each subtask names the scenario fact or
complexity tag it answers to, which keeps a small model's plan about this client rather than a
generic checklist (the LLM plans in the paper were sequential and exhaustive: depth 1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agentgraphs.evals.lawflow_data import Plan, PlanNode, Scenario
from agentgraphs.models import GatewayChatModel

__all__ = ["PLANNER_PROMPT", "PlanDraft", "StepDraft", "SubtaskDraft", "draft_to_plan", "plan_scenario", "scenario_brief"]

T = TypeVar("T")
Title = Annotated[str, Field(min_length=3, max_length=80)]

PLANNER_PROMPT = """You are a senior business lawyer planning how a junior associate should handle a client's \
business entity formation. Write a hierarchical work plan: 3 to 5 subtasks, each with concrete steps, and \
sub-steps only where a step needs them (asking the client a follow-up question, checking a statute, getting a \
colleague's review, revising a draft). Plans that work are modular: gather facts and spot complications, \
decide what to recommend and whether you can represent everyone, address tax, write the memo and the governing \
document, and loop back when a gap in knowledge appears. Ground every subtask in this client's facts and \
complexity tags; do not write steps that do not apply to this case. Titles are imperative phrases of at most \
eight words."""


class StepDraft(BaseModel):
    title: Title
    substeps: list[Title] = Field(default_factory=list, max_length=2,
                                  description="Finer actions under this step; often none.")


class SubtaskDraft(BaseModel):
    title: Title
    addresses: str = Field(max_length=100, description="The fact, issue or complexity tag of the scenario this subtask deals with.")
    steps: list[StepDraft] = Field(min_length=1, max_length=4)


class PlanDraft(BaseModel):
    """A work plan as the planner writes it: subtasks, their steps and optional sub-steps."""

    subtasks: list[SubtaskDraft] = Field(min_length=3, max_length=5)


def _clean(title: str) -> str:
    return " ".join(title.split())


def _merged(items: list[T], title: Callable[[T], str], children: Callable[[T], list[Any]]) -> list[tuple[str, list[Any]]]:
    """(title, children) per distinct (case-insensitive) title, in first-seen order, children of repeats appended.

    Small planners write one subtask several times with different steps; merging keeps every step once.
    """
    merged: dict[str, tuple[str, list[Any]]] = {}
    for item in items:
        key = _clean(title(item)).lower()
        merged.setdefault(key, (_clean(title(item)), []))[1].extend(children(item))
    return list(merged.values())


def draft_to_plan(draft: PlanDraft, *, name: str = "planner") -> Plan:
    """Number the draft (``1``, ``1.1``, ``1.1.1`` …) into a plan tree; a title repeated under one parent is merged."""
    nodes: list[PlanNode] = []
    for i, (subtask, steps) in enumerate(_merged(draft.subtasks, lambda s: s.title, lambda s: s.steps), 1):
        nodes.append(PlanNode(id=f"{i}", title=subtask))
        for j, (step, substeps) in enumerate(_merged(steps, lambda s: s.title, lambda s: s.substeps), 1):
            nodes.append(PlanNode(id=f"{i}.{j}", title=step))
            distinct = _merged(substeps, lambda s: s, lambda s: [])
            nodes.extend(PlanNode(id=f"{i}.{j}.{k}", title=sub) for k, (sub, _) in enumerate(distinct, 1))
    return Plan(name=name, nodes=nodes)


def scenario_brief(scenario: Scenario) -> str:
    """The scenario as every LawFlow agent reads it, its tags spelled out."""
    facts = [f"Clients: {scenario.clients}"]
    for label, items in (("Details", scenario.details), ("Issues", scenario.issues), ("Complexity tags", scenario.complexity_tags)):
        if items:
            facts.append(f"{label}: {'; '.join(items)}")
    return f"[Scenario {scenario.id}: {scenario.title}]\n{scenario.text.strip()}\n\n" + "\n".join(facts)


def plan_scenario(scenario: Scenario, *, model: GatewayChatModel) -> tuple[Plan, PlanDraft]:
    """The planner's plan for ``scenario``, and the draft it came from (with what each subtask addresses)."""
    draft = model.with_structured_output(PlanDraft, agent="lawflow-planner").invoke(
        [SystemMessage(PLANNER_PROMPT), HumanMessage(scenario_brief(scenario))])
    return draft_to_plan(draft), draft
