"""LawFlow workflow analytics without a model: plan structure and execution metrics.

:func:`plan_structure` gives the paper's plan-structure table (arXiv 2504.18942): subtasks are the
top-level nodes; per subtask, ``depth`` is the number of edges on the longest path from the subtask
node down (a subtask with only children has depth 1), ``branches`` its number of children and
``nodes`` its subtree size. ``include_subtask_node`` chooses whether the subtask node itself counts
as a level and as a node; the paper's table is not reproduced by either setting for both plans (see
``tests/evals/test_lawflow.py``). Spreads are sample standard deviations (n-1), which is what
reproduces the paper's 8.8 ± 2.6 nodes for the human plan.

:func:`execution_metrics` measures one execution against its plan: node execution rate, Levenshtein
distance to the plan's written order (and, for the LLM plan, after mapping its nodes to the human
plan), simple cycles of length 3–6 in the step-transition digraph, visits per visited node, subtask
switches and betweenness-centrality hubs. :func:`decision_agreement` compares, per decision point,
the choice an AI leaned towards with the lawyer's (the paper's entity-type agreement).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from agentgraphs.evals.lawflow_data import END, Execution, Plan
from agentgraphs.extras import require

__all__ = [
    "ExecutionMetrics",
    "decision_agreement",
    "MeanSd",
    "PlanStructure",
    "execution_metrics",
    "levenshtein",
    "plan_structure",
    "transition_cycles",
]


class MeanSd(BaseModel):
    model_config = ConfigDict(frozen=True)

    mean: float
    sd: float
    """Sample standard deviation (n-1); 0 for a single value."""

    @classmethod
    def of(cls, values: Sequence[float]) -> MeanSd:
        return cls(mean=statistics.fmean(values), sd=statistics.stdev(values) if len(values) > 1 else 0.0)

    def rounded(self, digits: int = 1) -> tuple[float, float]:
        return round(self.mean, digits), round(self.sd, digits)


class PlanStructure(BaseModel):
    """One row of the plan-structure table."""

    model_config = ConfigDict(frozen=True)

    plan_name: str
    subtasks: int
    """Number of top-level nodes."""
    depth: MeanSd
    """Per subtask: longest downward path (edges, +1 with ``include_subtask_node``)."""
    branches: MeanSd
    """Per subtask: number of children of the subtask node."""
    nodes: MeanSd
    """Per subtask: descendants (+1 for the subtask node with ``include_subtask_node``)."""
    total_nodes: int


def plan_structure(plan: Plan, *, include_subtask_node: bool = False) -> PlanStructure:
    """Subtask count and per-subtask depth, branches and nodes (mean ± sample sd)."""
    extra = 1 if include_subtask_node else 0
    depths, branches, sizes = [], [], []
    for subtask in plan.subtasks:
        subtree = plan.subtree(subtask.id)
        depths.append(max(node.level for node in subtree) - subtask.level + extra)
        branches.append(len(plan.children(subtask.id)))
        sizes.append(len(subtree) - 1 + extra)
    return PlanStructure(
        plan_name=plan.name,
        subtasks=len(plan.subtasks),
        depth=MeanSd.of(depths),
        branches=MeanSd.of(branches),
        nodes=MeanSd.of(sizes),
        total_nodes=len(plan.nodes),
    )


def levenshtein(a: Sequence[str], b: Sequence[str]) -> int:
    """Edit distance between two sequences of node ids (insert, delete, substitute: cost 1 each)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def _transition_graph(steps: Sequence[str]) -> Any:  # a networkx.DiGraph
    nx = require("networkx", extra="eval", purpose="LawFlow transition-graph metrics")
    graph = nx.DiGraph()
    graph.add_nodes_from(steps)
    graph.add_edges_from((a, b) for a, b in zip(steps, steps[1:]) if a != b)
    return graph


def transition_cycles(steps: Sequence[str], *, min_length: int = 3, max_length: int = 6) -> list[list[str]]:
    """Simple cycles of ``min_length``–``max_length`` nodes in the transition digraph, each from its smallest id."""
    nx = require("networkx", extra="eval", purpose="LawFlow transition-graph metrics")
    graph = _transition_graph(steps)
    cycles = [c for c in nx.simple_cycles(graph, length_bound=max_length) if len(c) >= min_length]
    # networkx starts a cycle at an arbitrary node; rotate to the smallest id so results are stable
    rotated = [c[c.index(min(c)) :] + c[: c.index(min(c))] for c in cycles]
    return sorted(rotated, key=lambda c: (len(c), c))


class ExecutionMetrics(BaseModel):
    """What :func:`execution_metrics` measures for one execution."""

    model_config = ConfigDict(frozen=True)

    scenario_id: str | None
    model: str | None
    plan_name: str
    steps: int
    """Steps without ``END``."""
    node_execution_rate: float
    """Share of the plan's nodes visited at least once."""
    levenshtein_to_plan: int
    """Edit distance between the steps and the plan's written order."""
    levenshtein_to_human_plan: int | None
    """After mapping LLM-plan nodes to human-plan nodes (unmapped steps dropped), against the human
    plan's order; equal to ``levenshtein_to_plan`` for a human-plan execution; ``None`` without mapping."""
    mapped_share: float | None
    """Share of steps the node mapping covers (1.0 for a human-plan execution)."""
    cycles: int
    """Simple cycles of 3–6 nodes in the transition digraph."""
    visits_per_visited_node: float
    subtask_switches: int
    """Consecutive steps whose top-level subtask differs."""
    hubs: list[tuple[str, float]]
    """Up to three nodes with the highest non-zero betweenness centrality in the transition digraph."""


def execution_metrics(
    execution: Execution,
    plan: Plan,
    *,
    node_mapping: Mapping[str, str] | None = None,
    human_plan: Plan | None = None,
) -> ExecutionMetrics:
    """Metrics of ``execution`` against ``plan``; pass ``node_mapping`` and ``human_plan`` for the mapped distance."""
    nx = require("networkx", extra="eval", purpose="LawFlow transition-graph metrics")
    execution.check_against(plan)
    steps = execution.node_steps
    visits = Counter(steps)
    mapped_distance: int | None = None
    mapped_share: float | None = None
    if plan.name == "human":
        mapped_distance, mapped_share = levenshtein(steps, plan.order), 1.0
    elif node_mapping is not None and human_plan is not None:
        mapped = [node_mapping[s] for s in steps if s in node_mapping]
        mapped_share = len(mapped) / len(steps) if steps else 0.0
        mapped_distance = levenshtein(mapped, human_plan.order)
    centrality = nx.betweenness_centrality(_transition_graph(list(steps) + [END]))
    hubs = sorted(((n, c) for n, c in centrality.items() if c > 0), key=lambda item: (-item[1], item[0]))[:3]
    return ExecutionMetrics(
        scenario_id=execution.scenario_id,
        model=execution.model,
        plan_name=plan.name,
        steps=len(steps),
        node_execution_rate=len(set(steps)) / len(plan.nodes),
        levenshtein_to_plan=levenshtein(steps, plan.order),
        levenshtein_to_human_plan=mapped_distance,
        mapped_share=mapped_share,
        cycles=len(transition_cycles(steps)),
        visits_per_visited_node=len(steps) / len(visits) if visits else 0.0,
        subtask_switches=sum(a.split(".")[0] != b.split(".")[0] for a, b in zip(steps, steps[1:])),
        hubs=hubs,
    )


def decision_agreement(leanings: Mapping[str, str], decisions: Mapping[str, str]) -> dict[str, bool]:
    """Per decision point both sides answered: did the AI's option (the advisor's leaning) match the lawyer's?"""
    return {point: leanings[point] == choice for point, choice in decisions.items() if point in leanings}
