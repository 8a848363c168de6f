"""The lawflow graph's control flow with scripted models: unattended, interrupted and resumed, terminal.

The scripted executor walks the plan in its written order (the n-th turn takes the n-th node), so
which decision points fire and when is known; every other agent answers a valid instance of its
schema. The real-model run is in ``test_lawflow_embedded.py``.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import agentgraphs
from agentgraphs.cli import main
from agentgraphs.agents.lawflow.decisions import applicable_points, options_for
from agentgraphs.evals.lawflow_data import END, Execution, LawflowDataError, Plan, load_scenario, load_scenarios
from agentgraphs.testing.openai_server import OpenAITestServer, ServerBehaviour
from agentgraphs.testing.schema_reply import schema_reply

ANSWERS = {
    "plan": "accept",
    "client_conflicts": {"choice": "joint_with_consent", "rationale": "A leads; B and C consent in writing"},
    "entity_type": {"choice": "llc", "rationale": "members will come and go"},
    "tax_treatment": {"choice": "partnership", "rationale": "profits interests for investors"},
}


@pytest.fixture(autouse=True)
def _lawflow_data(shared_data: Path) -> None:
    if not (shared_data / "lawflow" / "lawflow_notebook_data.json").is_file():
        pytest.skip("LawFlow notebook data not found under the shared data folder")


def walking_reply() -> Callable[[dict[str, Any]], str]:
    """Executor turns that go to each node in plan order (then end); a valid instance of any other schema."""
    turns = iter(range(10_000))

    def reply(body: dict[str, Any]) -> str:
        schema = ((body.get("response_format") or {}).get("json_schema") or {})
        if schema.get("name") != "ExecutorTurn":
            return schema_reply(body)
        ids = [i for i in schema["schema"]["properties"]["node_id"]["enum"] if i != END]
        n = next(turns)
        node = ids[n] if n < len(ids) else END
        return json.dumps({"move": "go_to" if node != END else "end", "node_id": node, "action": "analyse", "analysis": f"worked on {node}",
                           "client_question": "", "next_step": ids[n + 1] if n + 1 < len(ids) else END})
    return reply


@pytest.fixture
def model() -> Iterator[str]:
    with OpenAITestServer(ServerBehaviour(reply=walking_reply())) as server:
        yield f"vllm:test-model@{server.base_url}"


def _decisions(tmp_path: Path, answers: dict[str, Any] = ANSWERS) -> Path:
    path = tmp_path / "decisions.json"
    path.write_text(json.dumps(answers), encoding="utf-8")
    return path


def test_unattended_run_answers_from_the_file_and_reports_each_decision(tmp_path: Path, model: str) -> None:
    result = agentgraphs.run("lawflow", {"scenario": "11", "decisions": str(_decisions(tmp_path)), "plan_source": "human",
                                         "max_turns": 60}, models={"default": model}, run_dir=tmp_path / "run")
    assert result.status == "done" and not result.interrupts
    state = result.state
    plan = Plan.model_validate(state["plan"])
    # the walk reaches 2.1 "Think about recommendations" (entity), 2.2.1 (conflicts), 5 "Address Tax…" (tax)
    triggers = {t["node_id"]: t for t in state["turns"]}
    assert list(state["briefs"]) == ["entity_type", "client_conflicts", "tax_treatment"]
    assert {"2.1", "2.2.1", "5"} <= set(triggers) and state["turns"][-1]["node_id"] == plan.order[-1]
    assert {p: (d["choice"], d["source"]) for p, d in state["decided"].items()} == {
        "client_conflicts": ("joint_with_consent", "decisions file"), "entity_type": ("llc", "decisions file"),
        "tax_treatment": ("partnership", "decisions file")}
    assert not state["flags"], "a walk in the plan's own order is never unusual"
    report = Path(result.main_artefact).read_text(encoding="utf-8")
    for decision in ANSWERS.values():
        if isinstance(decision, dict):
            assert f"**Decision: `{decision['choice']}`** (decisions file) — {decision['rationale']}" in report
    assert "| 1.00 | 0 | 0 | 1.00 | 4 |" in report
    # the scripted advisor leans to each point's first option: only the conflicts answer matches it
    assert ("leaned towards the option the lawyer chose at 1 of 3 decision points "
            "(entity_type: no, client_conflicts: yes, tax_treatment: no)") in report  # every node once, in order: the analytics of the plan itself
    recorded = json.loads(Path(result.artefacts["execution"]).read_text(encoding="utf-8"))
    Execution.model_validate(recorded["execution"]).check_against(plan)
    assert Path(result.artefacts["memo"]).read_text(encoding="utf-8").startswith("# ")
    assert "operating agreement" in Path(result.artefacts["checklist"]).read_text(encoding="utf-8")
    assert Path(result.artefacts["execution_plot"]).read_bytes()[:4] == b"\x89PNG" and "(execution.png)" in report


def _cli(*args: str, cwd: Path, data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTGRAPHS_MODEL")}
    env["AGENTGRAPHS_SHARED_DATA"] = str(data)  # the commands run in a temp folder, away from ../shared/data
    return subprocess.run([sys.executable, "-m", "agentgraphs.cli", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def test_without_a_terminal_or_file_it_stops_and_other_processes_resume_it(tmp_path: Path, model: str,
                                                                            shared_data: Path) -> None:
    run_dir = tmp_path / "run"
    started = _cli("run", "lawflow", "--scenario", "scenario_11", "--plan-source", "human", "--max-turns", "3",
                   "--model", model, "--run-dir", str(run_dir), cwd=tmp_path, data=shared_data)
    assert started.returncode == 0, started.stderr
    assert '"kind": "plan_review"' in started.stdout and "agentgraphs resume" in started.stdout
    assert not (run_dir / "report.md").exists()
    asked: list[str] = []
    answer: Any = "accept"
    for _ in range(5):
        step = _cli("resume", str(run_dir), "--answer", json.dumps(answer), cwd=tmp_path, data=shared_data)
        assert step.returncode == 0, step.stderr
        if "waiting for a decision" not in step.stdout:
            break
        waiting = json.loads(step.stdout.split("waiting for a decision: ", 1)[1].splitlines()[0])[0]
        asked.append(waiting["point"])
        assert waiting["options"] and "Blind spots:" in waiting["details"]
        answer = ANSWERS[waiting["point"]]
    # three turns end the budget before any trigger: the points are asked in their own order
    assert asked == ["client_conflicts", "entity_type", "tax_treatment"]
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "**Decision: `llc`** (resume) — members will come and go" in report
    assert "review: accepted, resume" in report


def test_bad_inputs_fail_before_any_run_directory_is_made(tmp_path: Path, model: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    cases = [
        (["--scenario", "99"], "unknown LawFlow scenario '99'"),
        (["--scenario", str(tmp_path / "missing.json")], "does not exist"),
        (["--scenario", "5", "--decisions", str(_decisions(tmp_path))], "answers 'client_conflicts' but scenario_5"),
    ]
    (tmp_path / "no-text.json").write_text(json.dumps({"id": "x", "title": "t"}), encoding="utf-8")
    cases.append((["--scenario", str(tmp_path / "no-text.json")], "text: Field required"))
    for flags, message in cases:
        assert main(["run", "lawflow", *flags, "--model", model, "--run-dir", str(run_dir)]) == 2
        assert message in capsys.readouterr().err
        assert not run_dir.exists()


def test_a_wrong_answer_is_refused_and_the_same_question_can_be_answered_again(tmp_path: Path, model: str) -> None:
    paused = agentgraphs.run("lawflow", {"scenario": "5", "plan_source": "llm", "max_turns": 1, "review_plan": False},
                             models={"default": model}, run_dir=tmp_path / "run")
    assert [q["point"] for q in paused.interrupts] == ["entity_type"]
    refused = agentgraphs.resume(paused.run_dir, answer="trust").wait()
    assert refused.status == "interrupted" and refused.interrupts[0]["point"] == "entity_type"
    assert refused.interrupts[0]["error"].startswith("'trust' is not an option of decision point 'entity_type'; choose one of")
    again = agentgraphs.resume(paused.run_dir, answer="sole_proprietorship").wait()
    # the tax question offers only what a sole proprietorship allows
    assert [(q["point"], q["options"]) for q in again.interrupts] == [("tax_treatment", ["disregarded_entity"])]
    done = agentgraphs.resume(paused.run_dir, answer={"choice": "disregarded_entity", "rationale": "one owner"}).wait()
    assert done.status == "done" and done.state["decided"]["tax_treatment"]["rationale"] == "one owner"
    assert "engagement letter" in Path(done.artefacts["checklist"]).read_text(encoding="utf-8")


def test_the_monitor_flags_a_jump_once_and_the_report_gives_the_reason(tmp_path: Path) -> None:
    moves = iter([("continue", "1"), ("go_to", "5.3"), ("end", "1")])

    def reply(body: dict[str, Any]) -> str:
        schema = ((body.get("response_format") or {}).get("json_schema") or {})
        if schema.get("name") != "ExecutorTurn":
            return schema_reply(body)
        move, node = next(moves)
        return json.dumps({"move": move, "node_id": node, "action": "search resources", "analysis": "a",
                           "client_question": "", "next_step": "END"})

    with OpenAITestServer(ServerBehaviour(reply=reply)) as server:
        result = agentgraphs.run("lawflow", {"scenario": "5", "plan_source": "human", "review_plan": False,
                                             "decisions": str(_decisions(tmp_path, {"entity_type": "llc", "tax_treatment": "disregarded_entity"}))},
                                 models={"default": f"vllm:test-model@{server.base_url}"}, run_dir=tmp_path / "run")
    assert [t["node_id"] for t in result.state["turns"]] == ["1", "5.3"]
    [flag] = result.state["flags"]
    assert (flag["turn"], flag["node_id"], flag["kind"]) == (2, "5.3", "unusual_transition")
    report = Path(result.main_artefact).read_text(encoding="utf-8")
    assert "| 2 | 5.3 Identify gaps in knowledge (#5) | search resources | a |  | unusual_transition |" in report
    assert "- turn 2: going to 5.3 (Identify gaps in knowledge (#5)) after 1 (Gather basic information" in report


def test_an_edited_plan_replaces_the_planned_one_for_the_rest_of_the_run(tmp_path: Path, model: str) -> None:
    paused = agentgraphs.run("lawflow", {"scenario": "11", "plan_source": "human", "max_turns": 3},
                             models={"default": model}, run_dir=tmp_path / "run")
    edited = "1. Meet the three clients\n1.1 Ask who stays in the business\n2. Recommend an entity\n2.1 Weigh LLC against corporation\n"
    resumed = agentgraphs.resume(paused.run_dir, answer={"choice": "replace", "plan": edited}).wait()
    state = resumed.state
    assert state["plan_review"] == {"outcome": "replaced", "source": "resume"}
    assert [t["node_id"] for t in state["turns"]] == ["1", "1.1", "2"]
    assert (tmp_path / "run" / "plan.txt").read_text(encoding="utf-8").startswith("1 Meet the three clients\n    1.1 Ask")
    # "2 Recommend an entity" raised the entity question at the third turn
    assert [q["point"] for q in resumed.interrupts] == ["entity_type"]


def _read_until(fd: int, markers: tuple[str, ...], seen: list[str], timeout: float = 90.0) -> str | None:
    """Read the CLI's output until one of ``markers`` shows (which one), or ``None`` when it exits."""
    deadline = time.monotonic() + timeout
    while True:
        text = "".join(seen)
        for marker in markers:
            if marker in text:
                return marker
        if time.monotonic() > deadline:
            raise AssertionError(f"none of {markers} from the CLI; it printed:\n{text[-3000:]}")
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return None
            if not chunk:
                return None
            seen.append(chunk.decode(errors="replace"))


def run_in_terminal(args: list[str], choices: list[str], *, cwd: Path) -> list[str]:
    """Run the CLI on a pseudo-terminal, typing ``choices`` in turn at each "choose" prompt (Enter at "why");
    returns what each question showed."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTGRAPHS_MODEL")}
    env.update({"COLUMNS": "200", "TERM": "dumb"})
    process = subprocess.Popen([sys.executable, "-m", "agentgraphs.cli", *args], stdin=slave, stdout=slave,
                               stderr=slave, env=env, cwd=cwd)
    os.close(slave)
    shown: list[str] = []
    typed = iter(choices)
    try:
        seen: list[str] = []
        while (marker := _read_until(master, ("choose", "why"), seen)) is not None:
            text = "".join(seen)
            seen.clear()
            if marker == "choose":
                shown.append(text)
                os.write(master, next(typed).encode() + b"\n")
            else:
                os.write(master, b"typed at the terminal\n")
        assert process.wait(timeout=120) == 0, "".join(seen)[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    return shown


def test_in_a_terminal_the_cli_asks_at_each_decision_point(tmp_path: Path, model: str) -> None:
    # plan review: accept; conflicts: entity_only; entity: general_partnership; tax: partnership (its only option)
    shown = run_in_terminal(["run", "lawflow", "--scenario", "11", "--plan-source", "human", "--max-turns", "2",
                             "--model", model, "--run-dir", str(tmp_path / "run")], ["1", "2", "2", "1"], cwd=Path.cwd())
    assert len(shown) == 4 and "2.3.1.1 Ask follow-up questions" in shown[0] and "Blind spots:" in shown[1]
    state = agentgraphs.resume(tmp_path / "run").wait().state
    assert {p: (d["choice"], d["source"]) for p, d in state["decided"].items()} == {
        "client_conflicts": ("entity_only", "terminal"), "entity_type": ("general_partnership", "terminal"),
        "tax_treatment": ("partnership", "terminal")}
    assert state["decided"]["tax_treatment"]["rationale"] == "typed at the terminal"


def _scenario_ids() -> list[str]:
    try:
        return [s.id for s in load_scenarios()]
    except LawflowDataError:
        return ["no-shared-data"]  # skipped by the autouse fixture


def _first_options(scenario_id: str) -> dict[str, Any]:
    decided: dict[str, Any] = {}
    for point in applicable_points(load_scenario(scenario_id)):
        decided[point] = {"choice": next(iter(options_for(point, decided))), "rationale": f"first option for {point}"}
    return decided


@pytest.mark.parametrize("scenario_id", _scenario_ids())
def test_every_shared_scenario_runs_from_a_file_and_by_interrupt_and_resume(scenario_id: str, tmp_path: Path,
                                                                            model: str) -> None:
    answers = _first_options(scenario_id)
    inputs = {"scenario": scenario_id, "plan_source": "human", "max_turns": 2}
    unattended = agentgraphs.run("lawflow", {**inputs, "decisions": str(_decisions(tmp_path, answers))},
                                 models={"default": model}, run_dir=tmp_path / "file")
    assert unattended.status == "done"
    assert {p: d["choice"] for p, d in unattended.state["decided"].items()} == {p: a["choice"] for p, a in answers.items()}
    result = agentgraphs.run("lawflow", inputs, models={"default": model}, run_dir=tmp_path / "resume")
    asked = []
    while result.status == "interrupted":
        [question] = result.interrupts
        asked.append(question.get("point", question["kind"]))
        result = agentgraphs.resume(result.run_dir, answer=answers.get(question.get("point"), "accept")).wait()
    assert asked == ["plan_review", *answers]
    assert result.state["decided"] == {p: {**d, "source": "resume"} for p, d in unattended.state["decided"].items()}


@pytest.mark.slow
@pytest.mark.parametrize("scenario_id", _scenario_ids())
def test_every_shared_scenario_runs_in_the_terminal(scenario_id: str, tmp_path: Path, model: str) -> None:
    points = applicable_points(load_scenario(scenario_id))
    shown = run_in_terminal(["run", "lawflow", "--scenario", scenario_id, "--plan-source", "human", "--max-turns", "2",
                             "--model", model, "--run-dir", str(tmp_path / "run")], ["1"] * (1 + len(points)), cwd=Path.cwd())
    assert len(shown) == 1 + len(points)
    state = agentgraphs.resume(tmp_path / "run").wait().state
    assert list(state["decided"]) == points and all(d["source"] == "terminal" for d in state["decided"].values())
