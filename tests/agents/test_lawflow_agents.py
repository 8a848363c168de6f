"""LawFlow's agents without a model: decision points and decisions files, planner output, monitor, schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from agentgraphs.agents.lawflow.advisor import brief_schema
from agentgraphs.agents.lawflow.decisions import (
    applicable_points,
    load_decisions,
    options_for,
    parse_answer,
    parse_plan_answer,
    triggered_point,
)
from agentgraphs.agents.lawflow.executor import next_in_plan, resolve_step, turn_schema
from agentgraphs.agents.lawflow.monitor import TransitionModel, flag_step
from agentgraphs.agents.lawflow.planner import PlanDraft, draft_to_plan
from agentgraphs.errors import GraphInputError
from agentgraphs.evals.lawflow import execution_metrics, plan_structure
from agentgraphs.evals.lawflow_data import END, Execution, LawflowDataError, load_plan, load_scenario, load_scenarios


@pytest.fixture(autouse=True)
def _lawflow_data(shared_data: Path) -> None:
    if not (shared_data / "lawflow" / "lawflow_notebook_data.json").is_file():
        pytest.skip("LawFlow notebook data not found under the shared data folder")


def _file(tmp_path: Path, value: object, name: str = "decisions.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(value) if not isinstance(value, str) else value, encoding="utf-8")
    return path


def test_scenarios_resolve_by_id_or_file_and_bad_ones_are_named(tmp_path: Path) -> None:
    assert load_scenario("11").id == load_scenario("scenario_11").id == "scenario_11"
    assert load_scenario("11").clients == 3 and load_scenario("5").clients == 1 and load_scenario("2").clients == 2
    assert load_scenario("2").issues[0] == "Addition of Members"
    with pytest.raises(LawflowDataError, match=r"unknown LawFlow scenario '99'.*scenario_2"):
        load_scenario("99")
    own = _file(tmp_path, {"id": "mine", "title": "Bakery", "text": "Two bakers form a bakery.", "client_count": 2}, "s.json")
    assert load_scenario(own).clients == 2
    with pytest.raises(LawflowDataError, match=r"s2.json is not a scenario \(text: Field required"):
        load_scenario(_file(tmp_path, {"id": "x", "title": "No text"}, "s2.json"))
    with pytest.raises(LawflowDataError, match="not valid JSON"):
        load_scenario(_file(tmp_path, "{oops", "s3.json"))
    with pytest.raises(LawflowDataError, match="does not exist"):
        load_scenario(tmp_path / "missing.json")


def test_every_shared_scenario_has_entity_and_tax_points_and_conflicts_only_with_several_clients() -> None:
    for scenario in load_scenarios():
        points = applicable_points(scenario)
        assert points[-2:] == ["entity_type", "tax_treatment"]
        assert ("client_conflicts" in points) == (scenario.clients > 1)


def test_a_decisions_file_must_answer_exactly_the_scenarios_points(tmp_path: Path) -> None:
    three = load_scenario("11")
    good = {"plan": "accept", "client_conflicts": "joint_with_consent",
            "entity_type": {"choice": "LLC", "rationale": "flexible"}, "tax_treatment": "partnership"}
    decided = load_decisions(_file(tmp_path, good), three)
    assert decided["entity_type"] == {"point": "entity_type", "choice": "llc", "rationale": "flexible", "source": "decisions file"}
    with pytest.raises(GraphInputError, match="no answer for decision point 'tax_treatment'.*options: disregarded_entity"):
        load_decisions(_file(tmp_path, {k: v for k, v in good.items() if k != "tax_treatment"}), three)
    with pytest.raises(GraphInputError, match="answers 'entity' but scenario_11 has no such decision"):
        load_decisions(_file(tmp_path, {**good, "entity": "llc"}), three)
    with pytest.raises(GraphInputError, match="'client_conflicts' but scenario_5 .*several clients"):
        load_decisions(_file(tmp_path, good), load_scenario("5"))
    with pytest.raises(GraphInputError, match="'s-corp' is not an option of decision point 'tax_treatment'"):
        load_decisions(_file(tmp_path, {**good, "tax_treatment": "s-corp"}), three)
    # tax options follow the entity: a general partnership cannot elect C-corporation tax
    with pytest.raises(GraphInputError, match="choose one of partnership$"):
        load_decisions(_file(tmp_path, {**good, "entity_type": "general_partnership", "tax_treatment": "c_corporation"}), three)
    with pytest.raises(GraphInputError, match="not readable JSON"):
        load_decisions(_file(tmp_path, "[1,"), three)
    with pytest.raises(GraphInputError, match="plan file .* does not exist"):
        load_decisions(_file(tmp_path, {**good, "plan": {"plan_file": str(tmp_path / "nope.txt")}}), three)
    with pytest.raises(GraphInputError, match="not a plan tree: .*node '2.1' has no parent '2'"):
        load_decisions(_file(tmp_path, {**good, "plan": {"plan": "1. Meet\n2.1 Orphan"}}), three)


def test_answers_and_plan_reviews_parse_or_say_what_is_allowed(tmp_path: Path) -> None:
    decision = parse_answer("entity_type", {"choice": "corporation", "rationale": " raise money ", "answered_in": "x"}, {}, source="resume")
    assert (decision.choice, decision.rationale) == ("corporation", "raise money")
    assert options_for("tax_treatment", {"entity_type": decision.model_dump()}) == {
        k: v for k, v in options_for("tax_treatment", {}).items() if k in ("c_corporation", "s_corporation")}
    with pytest.raises(GraphInputError, match="must be an option id"):
        parse_answer("entity_type", 3, {}, source="resume")
    assert parse_plan_answer("accept") is None and parse_plan_answer({"choice": "accept"}) is None
    assert parse_plan_answer({"plan": "1. Meet the client"}) == "1. Meet the client"
    edited = tmp_path / "plan.txt"
    edited.write_text("1. Meet\n1.1 Ask\n", encoding="utf-8")
    assert parse_plan_answer({"choice": "replace", "plan_file": str(edited)}) == "1. Meet\n1.1 Ask\n"
    with pytest.raises(GraphInputError, match="plan review takes"):
        parse_plan_answer(["accept"])


def test_decision_points_trigger_on_the_human_plans_steps_with_entity_before_tax() -> None:
    plan = load_plan("human")
    all_points = ["client_conflicts", "entity_type", "tax_treatment"]
    assert triggered_point(plan.by_id["2.2.1"].title, all_points) == "client_conflicts"
    assert triggered_point(plan.by_id["5.5.1"].title, all_points) == "entity_type"
    assert triggered_point(plan.by_id["5"].title, all_points) == "entity_type"  # tax needs the entity first
    assert triggered_point(plan.by_id["5"].title, ["tax_treatment"]) == "tax_treatment"
    assert triggered_point(plan.by_id["1.1.1"].title, all_points) is None


def test_planner_drafts_number_into_plans_that_get_the_analytics() -> None:
    draft = PlanDraft.model_validate({"subtasks": [
        {"title": "Gather facts", "addresses": "three clients", "steps": [
            {"title": "Interview the clients", "substeps": ["Ask about the trailer", "Ask about investors"]},
            {"title": "Spot conflicts"}]},
        {"title": "Recommend an entity", "addresses": "entity selection", "steps": [{"title": "Compare LLC and corporation"}]},
        {"title": "Write the memo", "addresses": "memo needed", "steps": [{"title": "Draft", "substeps": ["Revise"]}]},
        {"title": "gather  FACTS", "addresses": "a repeat merged into the first", "steps": [
            {"title": "Interview the clients", "substeps": ["Ask about investors", "Ask who stays"]}, {"title": "Read the lease"}]},
    ]})
    plan = draft_to_plan(draft)
    assert plan.order == ["1", "1.1", "1.1.1", "1.1.2", "1.1.3", "1.2", "1.3", "2", "2.1", "3", "3.1", "3.1.1"]
    assert plan.by_id["1.1.3"].title == "Ask who stays" and plan.by_id["1.3"].title == "Read the lease"
    structure = plan_structure(plan)
    assert structure.subtasks == 3 and structure.depth.rounded() == (1.7, 0.6)
    walk = Execution(plan_name=plan.name, steps=[*plan.order, END])
    assert execution_metrics(walk, plan).levenshtein_to_plan == 0


def test_monitor_flags_a_jump_and_a_loop_with_reasons_but_not_the_plans_order() -> None:
    plan = load_plan("human")
    titles = {n.id: n.title for n in plan.nodes}
    model = TransitionModel.fit(plan, [plan.order])
    assert all(not flag_step(model, plan.order[: i + 1], titles=titles) for i in range(len(plan.order)))
    [jump] = flag_step(model, ["1", "1.1", "5.3"], titles=titles)
    assert jump.kind == "unusual_transition" and jump.turn == 3 and jump.probability < 0.05
    assert "usual next step is 1.1.1 (Take Notes" in jump.reason
    loop = flag_step(model, ["1", "1.1", "1", "1.1", "1"], titles=titles)
    assert [f.kind for f in loop] == ["unusual_transition", "repeated_visit"]
    # a second reference execution that makes the jump makes it usual
    refit = TransitionModel.fit(plan, [plan.order, ["1", "1.1", "5.3"], ["1", "1.1", "5.3"]])
    assert not flag_step(refit, ["1", "1.1", "5.3"], titles=titles)


def test_turn_and_brief_schemas_only_admit_the_plans_nodes_and_the_points_options() -> None:
    plan = load_plan("human")
    schema = turn_schema(plan)
    assert schema(move="go_to", node_id="4.1.1.1.1", action="analyse", analysis="x", next_step=END).node_id == "4.1.1.1.1"
    with pytest.raises(ValidationError):
        schema(move="go_to", node_id="9.9", action="analyse", analysis="x", next_step=END)
    turn = schema(move="continue", node_id="5", action="analyse", analysis="x", next_step=END)
    assert resolve_step(turn, plan, []) == "1"
    # continue goes on after the last step worked on, past steps already done, wrapping round to undone ones
    done = [{"node_id": n} for n in ("1", "1.1", "1.1.1", "1.3", "5.5.2", "1.2")]
    assert resolve_step(turn, plan, done) == "1.2.1"
    assert next_in_plan(plan, [*done[:-1]]) == "1.2"
    assert next_in_plan(plan, [{"node_id": n} for n in plan.order]) == END
    assert resolve_step(turn.model_copy(update={"move": "go_to"}), plan, done) == "5"
    assert resolve_step(turn.model_copy(update={"move": "end"}), plan, done) == END
    options = options_for("entity_type", {})
    brief = brief_schema(options)
    view = {"pros": ["cheap"], "cons": ["no shield"]}
    full = {"options": [{"option": o, **view} for o in options], "blind_spots": ["venue state"],
            "alternatives": ["start as a partnership"], "leaning": "llc", "leaning_reason": "liability shield"}
    assert brief.model_validate(full).leaning == "llc"
    with pytest.raises(ValidationError):
        brief.model_validate({**full, "options": full["options"][:2]})
    with pytest.raises(ValidationError):
        brief.model_validate({**full, "leaning": "trust"})
