"""LawFlow plan structure and execution metrics on the shared notebook data (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentgraphs.errors import AgentgraphsError
from agentgraphs.evals.lawflow import execution_metrics, levenshtein, plan_structure, transition_cycles
from agentgraphs.evals.lawflow_data import (
    END,
    Execution,
    LawflowDataError,
    Plan,
    PlanNode,
    load_executions,
    load_node_mapping,
    load_plan,
    load_scenarios,
)


@pytest.fixture(scope="module")
def lawflow_dir(shared_data: Path) -> Path:
    path = shared_data / "lawflow"
    if not (path / "lawflow_notebook_data.json").is_file():
        pytest.skip(f"LawFlow notebook data not found under {path}")
    return path


def test_plans_parse_as_trees(lawflow_dir: Path) -> None:
    human, llm = load_plan("human", data_dir=lawflow_dir), load_plan("llm", data_dir=lawflow_dir)
    assert len(human.nodes) == 44 and len(llm.nodes) == 48
    assert human.by_id["4.1.1.1.1"].title == "Revise operating agreement"
    assert [n.id for n in human.children("2.3")] == ["2.3.1", "2.3.2", "2.3.3", "2.3.4", "2.3.5"]
    assert len(load_scenarios(data_dir=lawflow_dir)) == 15


def test_plan_structure_table(lawflow_dir: Path) -> None:
    """Paper table: human 5 subtasks, depth 3.6±0.5, 8.8±2.6 nodes; o1 10 subtasks, depth 1.0, 3.8±0.4 nodes.

    The shared plans reproduce the subtask counts, the o1 row with the subtask node excluded
    (depth 1.0±0.0, 3.8±0.4 nodes) and the human node count with it included (8.8±2.6). No single
    counting rule gives both rows, and no rule gives the human depth 3.6±0.5: the human subtrees
    reach 3, 4, 4, 5, 3 levels (2, 3, 3, 4, 2 edges), so 3.8±0.8 or 2.8±0.8.
    """
    human, llm = load_plan("human", data_dir=lawflow_dir), load_plan("llm", data_dir=lawflow_dir)
    with_node = plan_structure(human, include_subtask_node=True)
    assert with_node.subtasks == 5
    assert with_node.nodes.rounded() == (8.8, 2.6)
    assert with_node.depth.rounded() == (3.8, 0.8)  # paper: 3.6 ± 0.5
    assert plan_structure(human).depth.rounded() == (2.8, 0.8)
    without_node = plan_structure(llm)
    assert without_node.subtasks == 10
    assert without_node.depth.rounded() == (1.0, 0.0)
    assert without_node.nodes.rounded() == (3.8, 0.4)
    assert plan_structure(llm, include_subtask_node=True).nodes.rounded() == (4.8, 0.4)


def test_execution_metrics_on_every_shared_execution(lawflow_dir: Path) -> None:
    plans = {name: load_plan(name, data_dir=lawflow_dir) for name in ("human", "llm")}
    mapping = load_node_mapping(data_dir=lawflow_dir)
    executions = load_executions(data_dir=lawflow_dir)
    assert len(executions) == 15
    assert {(e.model, e.plan_name) for e in executions} == {("o1", "human"), ("o1", "llm"), ("deepseek-r1", "human")}
    for execution in executions:
        metrics = execution_metrics(
            execution, plans[execution.plan_name], node_mapping=mapping, human_plan=plans["human"]
        )
        assert metrics.steps == len(execution.steps) - 1
        assert 0 < metrics.node_execution_rate <= 1
        assert metrics.levenshtein_to_human_plan is not None and metrics.mapped_share is not None
        assert metrics.visits_per_visited_node >= 1
        if execution.plan_name == "human":
            assert metrics.levenshtein_to_human_plan == metrics.levenshtein_to_plan
    first = next(e for e in executions if e.scenario_id == "scenario_11" and e.plan_name == "llm")
    metrics = execution_metrics(first, plans["llm"])
    assert metrics.node_execution_rate == 1.0 and metrics.levenshtein_to_plan == 0
    assert metrics.subtask_switches == 9 and metrics.cycles == 0


def test_unknown_node_is_named(lawflow_dir: Path, tmp_path: Path) -> None:
    data = json.loads((lawflow_dir / "lawflow_notebook_data.json").read_text(encoding="utf-8"))
    data["execution_orders"]["scenario_13"]["o1_on_human_plan"]["task_list"].append("9.9.9")
    (tmp_path / "lawflow_notebook_data.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(LawflowDataError, match=r"scenario_13.*'9\.9\.9'.*'human'"):
        load_executions(data_dir=tmp_path)


def test_missing_data_names_path_and_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTGRAPHS_SHARED_DATA", str(tmp_path))
    with pytest.raises(LawflowDataError) as caught:
        load_plan("human")
    assert isinstance(caught.value, AgentgraphsError) and isinstance(caught.value, ValueError)
    assert str(tmp_path / "lawflow" / "lawflow_notebook_data.json") in str(caught.value)
    assert "AGENTGRAPHS_SHARED_DATA" in str(caught.value)


def test_plan_rejects_orphans_and_duplicates() -> None:
    with pytest.raises(ValueError, match="no parent '2'"):
        Plan(name="x", nodes=[PlanNode(id="1", title="a"), PlanNode(id="2.1", title="b")])
    with pytest.raises(ValueError, match="twice"):
        Plan(name="x", nodes=[PlanNode(id="1", title="a"), PlanNode(id="1", title="b")])
    with pytest.raises(ValueError, match="END"):
        Execution(plan_name="x", steps=["1"])


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ([], [], 0),
        (["1"], [], 1),
        (["1", "1.1", "2"], ["1", "1.1", "2"], 0),
        (["1", "2", "1.1"], ["1", "1.1", "2"], 2),
        (["1", "1.1", "2"], ["1", "2"], 1),
        (["1", "3", "2"], ["1", "1.1", "2"], 1),
    ],
)
def test_levenshtein(a: list[str], b: list[str], distance: int) -> None:
    assert levenshtein(a, b) == distance
    assert levenshtein(b, a) == distance


def test_cycles_switches_and_visits_on_a_hand_walk() -> None:
    plan = Plan(name="human", nodes=[PlanNode(id=i, title=i) for i in ("1", "1.1", "2", "2.1", "3")])
    steps = ["1", "1.1", "2", "1", "1.1", "2", "2.1", "3", "2", END]
    assert transition_cycles(steps[:-1]) == [["1", "1.1", "2"], ["2", "2.1", "3"]]
    metrics = execution_metrics(Execution(plan_name="human", steps=steps), plan)
    assert metrics.cycles == 2
    assert metrics.subtask_switches == 5
    assert metrics.visits_per_visited_node == pytest.approx(9 / 5)
    assert metrics.node_execution_rate == 1.0
    assert metrics.hubs[0][0] == "2"
