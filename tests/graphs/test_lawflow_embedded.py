"""lawflow end to end on the embedded local model: a shared scenario, the planner's own plan, a decisions file.

What is asserted is what the graph guarantees whatever a 0.5B model writes: the planner's plan is a
valid tree that gets the paper's analytics, every turn names a node of that plan, every decision is
the file's with its rationale in the report, the checklist's clauses come from the clause library
of the decided entity's governing document, and the report's analytics match the execution.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import agentgraphs
from agentgraphs.agents.lawflow.drafter import CLAUSES
from agentgraphs.evals.lawflow import execution_metrics, plan_structure
from agentgraphs.evals.lawflow_data import Execution, Plan

# ~3 min of model time (more on a slow host); tests/graphs/test_lawflow_flow.py
# covers the same graph with scripted agents in the default run
pytestmark = pytest.mark.slow

DECISIONS = {
    "plan": "accept",
    "client_conflicts": {"choice": "joint_with_consent", "rationale": "A leads and B and C may leave: disclose and get consent"},
    "entity_type": {"choice": "llc", "rationale": "members will change and investors want profit interests"},
    "tax_treatment": {"choice": "partnership", "rationale": "pass-through taxation suits profits interests"},
}


@pytest.fixture(scope="module")
def embedded_run(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> agentgraphs.RunResult:
    if not (shared_data / "lawflow" / "lawflow_notebook_data.json").is_file():
        pytest.skip("LawFlow notebook data not found under the shared data folder")
    folder = tmp_path_factory.mktemp("lawflow-embedded")
    decisions = folder / "decisions.json"
    decisions.write_text(json.dumps(DECISIONS), encoding="utf-8")
    return agentgraphs.run("lawflow", {"scenario": "11", "decisions": str(decisions), "max_turns": 2},
                           run_dir=folder / "run")


def test_the_planners_plan_is_a_tree_that_gets_the_analytics(embedded_run: agentgraphs.RunResult) -> None:
    assert embedded_run.status == "done", embedded_run.interrupts
    plan = Plan.model_validate(embedded_run.state["plan"])
    # 3–5 subtasks as drafted; fewer once subtasks the model repeated are merged
    assert plan.name == "planner" and 1 <= len(plan.subtasks) <= 5 and len(plan.nodes) > len(plan.subtasks)
    structure = plan_structure(plan)
    assert structure.total_nodes == len(plan.nodes) and structure.depth.mean >= 1
    draft = json.loads((embedded_run.run_dir / "plan-draft.json").read_text(encoding="utf-8"))
    assert all(s["addresses"].strip() for s in draft["subtasks"])


def test_turns_stay_in_the_plan_and_the_report_carries_decisions_and_analytics(embedded_run: agentgraphs.RunResult) -> None:
    state: dict[str, Any] = embedded_run.state
    plan = Plan.model_validate(state["plan"])
    assert 1 <= len(state["turns"]) <= 2 and all(t["node_id"] in plan.by_id for t in state["turns"])
    assert {p: d["choice"] for p, d in state["decided"].items()} == {
        p: a["choice"] for p, a in DECISIONS.items() if isinstance(a, dict)}
    assert set(state["briefs"]) == {"client_conflicts", "entity_type", "tax_treatment"}
    report = Path(embedded_run.main_artefact).read_text(encoding="utf-8")
    for point, answer in DECISIONS.items():
        if isinstance(answer, dict):
            assert f"**Decision: `{answer['choice']}`** (decisions file) — {answer['rationale']}" in report, point
    recorded = Execution.model_validate(json.loads(Path(embedded_run.artefacts["execution"]).read_text(encoding="utf-8"))["execution"])
    metrics = execution_metrics(recorded, plan)
    assert f"| {metrics.node_execution_rate:.2f} | {metrics.levenshtein_to_plan} | {metrics.cycles} |" in report


def test_the_checklist_draws_on_the_operating_agreement_clauses(embedded_run: agentgraphs.RunResult) -> None:
    checklist = Path(embedded_run.artefacts["checklist"]).read_text(encoding="utf-8")
    assert checklist.startswith("# Clause checklist: operating agreement")
    rows = [line.split(" | ")[0].lstrip("| ") for line in checklist.splitlines()[4:] if line.startswith("| ")]
    assert rows and all(clause in CLAUSES["operating agreement"] for clause in rows)
    memo = Path(embedded_run.artefacts["memo"]).read_text(encoding="utf-8")
    assert "## Recommendation" in memo and "## Representation" in memo  # three clients: who is represented
