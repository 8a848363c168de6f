"""The MPO loop's wiring with real GRPO steps on a tiny policy and scripted judges: k steps per visit,
the three meta stages every k steps, the new rubric used from the next step on, artefacts, the report,
the static baseline, and a judge server that dies mid-training (the run stops at the last checkpoint
and ``resume`` finishes it without training a step twice)."""

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
from conftest import mpo_reply

import agentgraphs
from agentgraphs.testing.openai_server import OpenAITestServer, ServerBehaviour

pytest.importorskip("trl", reason="the mpo graph trains with the 'train' extra (trl)")


def _inputs(policy: str, **overrides: Any) -> dict[str, Any]:
    values = {"task": "agentgraphs_demo_plugin/haiku", "steps": 4, "meta_every": 2, "policy": policy,
              "max_completion_length": 8, "num_generations": 4, "prompts_per_step": 2, "learning_rate": 3e-3,
              "meta_samples": 3, "seed": 1}
    return {**values, **overrides}


def _names(requests: list[dict[str, Any]]) -> list[str]:
    return [r.get("response_format", {}).get("json_schema", {}).get("name", "") for r in requests]


@pytest.fixture(scope="module")
def mpo_run(tmp_path_factory: pytest.TempPathFactory, tiny_policy: str) -> tuple[Path, list[dict[str, Any]]]:
    with OpenAITestServer(ServerBehaviour(reply=mpo_reply)) as server:
        result = agentgraphs.run("mpo", _inputs(tiny_policy), models={"default": f"vllm:test-model@{server.base_url}"},
                                 run_dir=tmp_path_factory.mktemp("mpo") / "run")
        requests = list(server.requests)
    assert result.status == "done"
    return result.run_dir, requests


def test_k_steps_per_visit_then_three_meta_stages(mpo_run: tuple[Path, list[dict[str, Any]]]) -> None:
    run_dir, requests = mpo_run
    names = _names(requests)
    judged = [n for n in names if n not in ("SampleAnalysis", "RubricDraft")]
    assert len(judged) == 4 * 2 * 4  # steps x prompts x completions, one judge call each
    # one meta step (after step 2; step 4 ends the budget): 3 analyses, 3 refinements, 1 merge, in that order
    meta = [n for n in names if n in ("SampleAnalysis", "RubricDraft")]
    assert meta == ["SampleAnalysis"] * 3 + ["RubricDraft"] * 4
    for name in ("diagnosis.json", "analysis.json", "refined.json", "merge.json"):
        assert (run_dir / "meta" / "step-00002" / name).is_file(), name
    assert sorted(p.name for p in (run_dir / "policy").glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]


def test_the_new_rubric_is_used_from_the_next_step_on(mpo_run: tuple[Path, list[dict[str, Any]]]) -> None:
    run_dir, requests = mpo_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [h["step"] for h in metrics["history"]] == [1, 2, 3, 4]
    assert [h["rubric_version"] for h in metrics["history"]] == [1, 1, 2, 2]
    v2 = (run_dir / "rubrics" / "v2.txt").read_text()
    assert "### Argument" in v2 and "Padding (deduction)" in v2 and "Imagery" not in v2
    judge_systems = [json.dumps(r["messages"]) for r, n in zip(requests, _names(requests))
                     if n not in ("SampleAnalysis", "RubricDraft")]
    assert all("Imagery" in text for text in judge_systems[:16])
    assert all("Argument" in text and "Imagery" not in text for text in judge_systems[16:])
    rollouts = [json.loads(line) for line in (run_dir / "rollouts" / "steps-00003-00004.jsonl").read_text().splitlines()]
    assert len(rollouts) == 16 and {r["rubric_version"] for r in rollouts} == {2}
    assert {r["prompt"] for r in rollouts} <= {f"Write a haiku about {t}." for t in
                                               ("rain on a tin roof", "the first frost", "a heron at dusk",
                                                "wind in tall grass", "a lantern at night")}


def test_report_plots_curves_and_shows_the_rubric_diff(mpo_run: tuple[Path, list[dict[str, Any]]]) -> None:
    run_dir, _ = mpo_run
    report = (run_dir / "report.md").read_text()
    assert "4 update steps; 2 rubric version(s)" in report
    assert "### v2 after step 2 (in force)" in report and "```diff" in report and "+### Argument" in report
    assert "![training curves](training.png)" in report and (run_dir / "training.png").stat().st_size > 10_000
    assert not list(run_dir.rglob("*.tmp*")), "no temporary files may be left behind"


def test_static_baseline_never_calls_the_meta_reward_model(tmp_path: Path, tiny_policy: str) -> None:
    with OpenAITestServer(ServerBehaviour(reply=mpo_reply)) as server:
        result = agentgraphs.run("mpo", _inputs(tiny_policy, meta=False, steps=2, meta_every=1),
                                 models={"default": f"vllm:test-model@{server.base_url}"}, run_dir=tmp_path / "run")
        names = _names(list(server.requests))
    assert result.status == "done"
    assert "SampleAnalysis" not in names and "RubricDraft" not in names
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [h["rubric_version"] for h in metrics["history"]] == [1, 1] and len(metrics["rubric_log"]) == 1


def test_two_training_processes_are_the_same_graph_with_other_settings(tmp_path: Path, tiny_policy: str) -> None:
    """Launched trainer ranks send their completions to the judge in the graph's process: every rollout
    carries the judge's per-criterion scores of its own completion."""
    with OpenAITestServer(ServerBehaviour(reply=mpo_reply)) as server:
        result = agentgraphs.run("mpo", _inputs(tiny_policy, steps=2, meta_every=1, processes=2),
                                 models={"default": f"vllm:test-model@{server.base_url}"}, run_dir=tmp_path / "run")
    assert result.status == "done"
    rollouts = [json.loads(line) for path in sorted((tmp_path / "run" / "rollouts").glob("*.jsonl"))
                for line in path.read_text().splitlines()]
    assert [r["step"] for r in rollouts] == [1] * 8 + [2] * 8
    assert all(r["criteria"] and r["judge"] == r["reward"] for r in rollouts)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [h["step"] for h in metrics["history"]] == [1, 2]


def test_a_dead_judge_stops_at_the_last_checkpoint_and_resume_finishes(tmp_path: Path, tiny_policy: str) -> None:
    served = 0

    def reply(body: dict[str, Any]) -> str:
        nonlocal served
        served += 1
        if served == 16:  # step 2's last judgement: from here on the server answers 503 to everything
            server.behaviour.fail_first = served + 10**6
        return mpo_reply(body)

    run_dir = tmp_path / "run"
    with OpenAITestServer(ServerBehaviour(reply=reply, fail_status=503)) as server:
        models = {"default": f"vllm:test-model@{server.base_url}"}
        with pytest.raises(Exception, match="503"):
            agentgraphs.run("mpo", _inputs(tiny_policy, meta=False), models=models, run_dir=run_dir)
        assert sorted(p.name for p in (run_dir / "policy").glob("checkpoint-*")) == ["checkpoint-2"]
        server.behaviour.fail_first = 0
        result = agentgraphs.resume(run_dir).wait()
    assert result.status == "done"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [h["step"] for h in metrics["history"]] == [1, 2, 3, 4]  # nothing trained twice, nothing skipped


def test_sigkill_during_training_then_resume_trains_each_step_once(tmp_path: Path, tiny_policy: str) -> None:
    """``agentgraphs run mpo`` killed with SIGKILL after its first checkpoint; ``resume`` finishes the run."""
    run_dir = tmp_path / "run"
    with OpenAITestServer(ServerBehaviour(reply=mpo_reply, latency_s=0.05)) as server:
        flags = [f"--{key.replace('_', '-')}={value}" for key, value in _inputs(tiny_policy).items()]
        env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
        process = subprocess.Popen([sys.executable, "-m", "agentgraphs.cli", "run", "mpo", *flags, "--run-dir", str(run_dir),
                                    "--model", f"default=vllm:test-model@{server.base_url}"],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        marker = run_dir / "policy" / "checkpoint-2" / "agentgraphs-complete.json"
        deadline = time.monotonic() + 240
        while not marker.is_file() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read()!r:.2000}"
        time.sleep(0.5)  # into the meta stages or the next segment
        process.send_signal(signal.SIGKILL)
        process.wait()
        result = agentgraphs.resume(run_dir).wait()
    assert result.status == "done"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [h["step"] for h in metrics["history"]] == [1, 2, 3, 4]
    assert [h["rubric_version"] for h in metrics["history"]] == [1, 1, 2, 2]
    assert sorted(p.name for p in (run_dir / "policy").glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
