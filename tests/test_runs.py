"""Runs: run directories, checkpoints, resume after SIGKILL, decision points, bad inputs, secrets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from pydantic import BaseModel
from typing_extensions import TypedDict

import agentgraphs
from agentgraphs.errors import GraphInputError, ModelUnavailableError, RunError
from agentgraphs.registry import register
from agentgraphs.testing.openai_server import OpenAITestServer, ServerBehaviour

COUNTDOWN = "agentgraphs_demo_plugin/countdown"


def _files(run_dir: Path, pattern: str) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(run_dir.glob(pattern))}


def test_run_directory_holds_everything(tmp_path: Path) -> None:
    result = agentgraphs.run(COUNTDOWN, {"steps": 3}, run_dir=tmp_path / "run")
    run_dir = result.run_dir
    assert result.status == "done"
    assert result.main_artefact == (run_dir / "summary.txt").resolve()
    assert result.main_artefact.read_text().startswith("3 steps, final ")
    assert sorted(result.artefacts) == ["step-001", "step-002", "step-003", "summary"]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["graph"] == COUNTDOWN and record["inputs"]["steps"] == 3
    assert (run_dir / "checkpoints.sqlite").stat().st_size > 0
    report = (run_dir / "run.md").read_text()
    assert "status: done" in report and "summary.txt" in report
    assert not list(run_dir.glob("*.tmp*")), "no temporary files may be left behind"


def test_bad_inputs_name_the_flag(tmp_path: Path) -> None:
    with pytest.raises(GraphInputError, match=r"--steps: .*greater than or equal to 1"):
        agentgraphs.run(COUNTDOWN, {"steps": 0}, run_dir=tmp_path / "a")
    with pytest.raises(GraphInputError, match=r"--paper: .*(not point to a file|does not exist)"):
        agentgraphs.run("paper-digest", {"paper": str(tmp_path / "missing.pdf")}, run_dir=tmp_path / "b")
    assert not (tmp_path / "a").exists(), "a run that never started leaves no directory"


def test_a_run_directory_is_not_reused(tmp_path: Path) -> None:
    agentgraphs.run(COUNTDOWN, {"steps": 1}, run_dir=tmp_path / "run")
    with pytest.raises(RunError, match="resume"):
        agentgraphs.run(COUNTDOWN, {"steps": 1}, run_dir=tmp_path / "run")


def test_resume_needs_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="not a run directory"):
        agentgraphs.resume(tmp_path)


def test_sigkill_mid_graph_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    """A real process killed with SIGKILL between steps resumes from its last finished node."""
    reference = agentgraphs.run(COUNTDOWN, {"steps": 6, "seed": "kill-test"}, run_dir=tmp_path / "reference")
    run_dir = tmp_path / "killed"
    command = [sys.executable, "-m", "agentgraphs.cli", "run", COUNTDOWN, "--steps", "6", "--delay", "0.7",
               "--seed", "kill-test", "--run-dir", str(run_dir)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (run_dir / "step-003.txt").exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the run never reached step 3"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert not (run_dir / "summary.txt").exists(), "killed before the end"
    finished_before = {p.name: p.stat().st_mtime_ns for p in run_dir.glob("step-*.txt")}

    out = subprocess.run([sys.executable, "-m", "agentgraphs.cli", "resume", str(run_dir)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == str((run_dir / "summary.txt").resolve())
    assert _files(run_dir, "*.txt") == _files(reference.run_dir, "*.txt")
    # Steps that had finished were not run again (their files were not rewritten).
    for name, mtime in finished_before.items():
        if name != max(finished_before):  # the newest may have been mid-checkpoint when killed
            assert (run_dir / name).stat().st_mtime_ns == mtime, f"{name} was redone"


def test_resuming_a_finished_run_changes_nothing(tmp_path: Path) -> None:
    result = agentgraphs.run(COUNTDOWN, {"steps": 2}, run_dir=tmp_path / "run")
    before = _files(result.run_dir, "*.txt")
    handle = agentgraphs.resume(result.run_dir)
    assert list(handle) == []
    assert handle.result is not None and handle.result.status == "done"
    assert _files(result.run_dir, "*.txt") == before


class DecisionInputs(BaseModel):
    matter: str


class DecisionState(TypedDict, total=False):
    matter: str
    choice: str
    outcome: str


def _ask(state: DecisionState) -> dict[str, Any]:
    return {"choice": interrupt({"question": f"Which entity for {state['matter']}?", "options": ["LLC", "C-corp"]})}


def _act(state: DecisionState) -> dict[str, Any]:
    return {"outcome": f"form a {state['choice']}"}


@register("graph", name="decision", inputs=DecisionInputs)
def build_decision() -> StateGraph[DecisionState]:
    """A graph that stops for a human decision."""
    builder = StateGraph(DecisionState)
    builder.add_node("ask", _ask)
    builder.add_node("act", _act)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", "act")
    builder.add_edge("act", END)
    return builder


def test_decision_point_pauses_and_resume_answers_it(tmp_path: Path) -> None:
    paused = agentgraphs.run("test_runs/decision", {"matter": "a food truck"}, run_dir=tmp_path / "run")
    assert paused.status == "interrupted"
    assert paused.interrupts == [{"question": "Which entity for a food truck?", "options": ["LLC", "C-corp"]}]
    handle = agentgraphs.resume(paused.run_dir, answer="LLC")
    list(handle)
    assert handle.result is not None and handle.result.status == "done"
    assert handle.result.state["outcome"] == "form a LLC"


def _digest_reply(body: dict[str, Any]) -> str:
    return json.dumps({"title": "A Test Paper", "problem": "p", "method": "m", "findings": ["f"], "question": "q"})


def test_unreachable_model_fails_clearly_and_the_run_resumes_on_another(tmp_path: Path, sample_paper: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTGRAPHS_MODEL_SUMMARIZER", "vllm:down@http://127.0.0.1:9/v1")  # discard port: refused
    run_dir = tmp_path / "run"
    with pytest.raises(ModelUnavailableError, match=r"vllm:down@http://127.0.0.1:9/v1.*resumed"):
        agentgraphs.run("paper-digest", {"paper": str(sample_paper), "max_pages": 1}, run_dir=run_dir)
    assert "status: failed" in (run_dir / "run.md").read_text()
    with OpenAITestServer(ServerBehaviour(reply=_digest_reply)) as server:
        handle = agentgraphs.resume(run_dir, models={"summarizer": f"vllm:test-model@{server.base_url}"})
        events = [event.node for event in handle]
    assert events == ["summarize", "write_digest"], "read_paper had finished and was not redone"
    assert handle.result is not None
    assert handle.result.main_artefact.read_text().startswith("# A Test Paper")


def test_no_secret_reaches_any_file_of_a_run(tmp_path: Path, sample_paper: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-fake-9f8e7d6c5b4a39281706"
    monkeypatch.setenv("VLLM_API_KEY", secret)
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    with OpenAITestServer(ServerBehaviour(reply=_digest_reply)) as server:
        result = agentgraphs.run("paper-digest", {"paper": str(sample_paper), "max_pages": 1},
                                 models={"default": f"vllm:test-model@{server.base_url}"}, run_dir=tmp_path / "run")
        assert server.headers[-1]["authorization"] == f"Bearer {secret}"  # it was used...
    files = [p for p in result.run_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"run.json", "checkpoints.sqlite", "trace.jsonl", "run.md", "digest.md"}
    for path in files:  # ...and written nowhere
        assert secret.encode() not in path.read_bytes(), f"the API key leaked into {path.name}"


def test_paper_digest_on_the_embedded_model(tmp_path: Path, sample_paper: Path, no_model_env: None) -> None:
    """The README's main job, end to end on the real default model (Qwen2.5-0.5B via llama.cpp)."""
    result = agentgraphs.run("paper-digest", {"paper": str(sample_paper), "max_pages": 1}, run_dir=tmp_path / "run")
    digest = result.main_artefact.read_text()
    assert digest.startswith("# ") and len(digest.splitlines()[0]) > 5
    assert "## Findings" in digest and "\n- " in digest
    assert "curriculum" in digest.lower(), "the digest is about the paper it read"
    records = [json.loads(line) for line in (result.run_dir / "trace.jsonl").read_text().splitlines()]
    assert records and records[0]["role"] == "summarizer" and records[0]["model"] == "local:qwen2.5-0.5b"
    assert records[-1]["output_tokens"] > 20
    assert "local:qwen2.5-0.5b" in (result.run_dir / "run.md").read_text()
