"""Replay one meta step of a finished MPO run with a chosen meta-judge, to see what rubric it writes.

A meta step is the expensive, model-dependent part of MPO: training to reach it takes minutes, the
three meta stages take one. This script reads what the run saved for step ``--step`` (the rollouts
of the steps before it, the rubric then in force, the diagnosis), reruns meta-analysis,
meta-refinement and meta-merging with ``--meta-judge`` and the current code, and prints whether
the merge was accepted and why, with the new rubric. Nothing in the run directory is changed;
the replay's files go to ``--out``.

    python bench/mpo_meta_replay.py runs/mpo-experiment/mpo --step 5 [--meta-judge local:qwen2.5-0.5b]

``--collapsed`` replays a meta step on real hacked rollouts instead of a run: the first ``--rollouts``
ten-word essay titles of the collapsed 72B-judged PPO run in the shared data, scored by ``--judge``
against the essay task's exploitable rubric, with the normal essays of the shared Elo details file as
the policy's normal length. That is the situation the meta loop exists for, without training to it.

    python bench/mpo_meta_replay.py --collapsed [--rollouts 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import console, header, table  # noqa: E402

from agentgraphs.agents.mpo import meta_reward_model as mrm  # noqa: E402
from agentgraphs.agents.mpo.reward_model import score_responses  # noqa: E402
from agentgraphs.atomic import write_json, write_text  # noqa: E402
from agentgraphs.graphs.mpo import _meta_batch  # noqa: E402
from agentgraphs.models import GatewayChatModel, get_model  # noqa: E402
from agentgraphs.paths import shared_data_dir  # noqa: E402
from agentgraphs.rewards.diagnostics import Diagnosis, diagnose, load_responses, word_count  # noqa: E402
from agentgraphs.rewards.rubric import Rubric, diff  # noqa: E402
from agentgraphs.tasks import load_task  # noqa: E402
from agentgraphs.tasks.essay_writing import DETAILS_FILE  # noqa: E402

COLLAPSED_RUN = Path("mpo/generations/essay_writing/expert-72b.test.generations.rows0000-0299.jsonl")
"""Relative to the shared data folder: the PPO run that collapsed into essay titles."""

Replay = tuple[list[dict[str, Any]], Diagnosis, Rubric, float | None]
"""The rollouts a meta step reads, their diagnosis, the rubric then in force, the normal median length."""


def _rubric_at(run_dir: Path, step: int) -> Rubric:
    """The newest rubric version accepted before ``step`` (v1 when none was)."""
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    version = max([e["version"] for e in metrics.get("rubric_log", []) if e["accepted"] and e["step"] < step] or [1])
    return Rubric.from_text((run_dir / "rubrics" / f"v{version}.txt").read_text(encoding="utf-8"), version=version)


def _from_run(run_dir: Path, step: int) -> Replay:
    meta_dir = run_dir / "meta" / f"step-{step:05d}"
    rollout_file = next((p for p in sorted((run_dir / "rollouts").glob("steps-*.jsonl"))
                         if int(p.stem.split("-")[-1]) == step), None)
    if rollout_file is None or not meta_dir.is_dir():
        raise SystemExit(f"{run_dir} has no rollouts ending at step {step} or no {meta_dir}")
    rollouts = [json.loads(line) for line in rollout_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    diagnosis = Diagnosis(**json.loads((meta_dir / "diagnosis.json").read_text(encoding="utf-8")))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    baseline = metrics["history"][0]["median_words"] if metrics.get("history") else None
    return rollouts, diagnosis, _rubric_at(run_dir, step), baseline


def _from_collapsed(count: int, judge: GatewayChatModel) -> Replay:
    data = shared_data_dir()
    if not (data / COLLAPSED_RUN).is_file():
        raise SystemExit(f"{data / COLLAPSED_RUN} is missing: point AGENTGRAPHS_SHARED_DATA at the shared data")
    lines = (data / COLLAPSED_RUN).read_text(encoding="utf-8").splitlines()[:count]
    records = [json.loads(line) for line in lines if line.strip()]
    prompts = [str(r["query"]).strip() for r in records]
    titles = [str(r["model_response"]) for r in records]
    rubric = Rubric.from_text(load_task("essay_writing").rubrics["exploitable"], version=1)
    scores = score_responses(prompts, titles, rubric, model=judge)
    rollouts = [{"step": 1, "prompt": p, "completion": t, "reward": s.reward,
                 "criteria": [c.model_dump() for c in s.criteria]} for p, t, s in zip(prompts, titles, scores, strict=True)]
    normal = load_responses(data / DETAILS_FILE, "model_a_response")
    baseline = statistics.median(word_count(t) for t in normal)
    console.print(f"{len(titles)} collapsed titles (median {statistics.median(word_count(t) for t in titles):.0f} words) "
                  f"scored by the judge: mean reward {statistics.mean(s.reward for s in scores):.2f} of "
                  f"{rubric.max_score()}; normal essays' median length {baseline:.0f} words")
    return rollouts, diagnose(titles, scores=[s.reward for s in scores]), rubric, baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, nargs="?", help="a finished MPO run (omit with --collapsed)")
    parser.add_argument("--step", type=int, help="the meta step to replay (one with meta/step-N/)")
    parser.add_argument("--collapsed", action="store_true", help="replay on the shared collapsed run's titles")
    parser.add_argument("--rollouts", type=int, default=8, help="--collapsed: how many titles to score")
    parser.add_argument("--judge", default="local:qwen2.5-0.5b", help="--collapsed: the judge scoring the titles")
    parser.add_argument("--meta-judge", default="local:qwen2.5-0.5b")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="default: runs/meta-replay-step-N or -collapsed")
    args = parser.parse_args()
    if args.collapsed == (args.run_dir is not None) or (args.run_dir is not None and args.step is None):
        parser.error("give either RUN_DIR --step N or --collapsed")
    out = args.out or Path(f"runs/meta-replay-{'collapsed' if args.collapsed else f'step-{args.step}'}")
    model = get_model(args.meta_judge, role="meta_judge", temperature=0.0, trace_path=out / "trace.jsonl")

    source = "the shared collapsed run" if args.collapsed else f"{args.run_dir} step {args.step}"
    header(f"MPO meta step on {source}, replayed with {args.meta_judge}")
    if args.collapsed:
        judge = get_model(args.judge, role="judge", temperature=0.0, trace_path=out / "judge-trace.jsonl")
        rollouts, diagnosis, rubric, baseline = _from_collapsed(args.rollouts, judge)
    else:
        rollouts, diagnosis, rubric, baseline = _from_run(args.run_dir, args.step)
    batch = _meta_batch(rollouts, args.samples, seed=args.seed + (args.step or 0))
    started = time.perf_counter()
    analyses = mrm.analyse_samples(batch, rubric, diagnosis, model=model)
    analysed = time.perf_counter()
    drafts = mrm.refine_rubrics(batch, analyses, rubric, model=model)
    refined = time.perf_counter()
    guards = mrm.guard_criteria(diagnosis, baseline_median_words=baseline, previous=rubric)
    outcome = mrm.merge_drafts(drafts, rubric, diagnosis, model=model, guards=guards, samples=batch)
    merged = time.perf_counter()

    write_json(out / "analysis.json", [a.model_dump() if a else None for a in analyses])
    write_json(out / "refined.json", [d.model_dump() if d else None for d in drafts])
    write_json(out / "merge.json", outcome.model_dump())
    write_text(out / f"v{outcome.version}.txt", outcome.rubric_text)
    console.print(table("meta stages", ["stage", "valid answers", "seconds"], [
        ["meta-analysis", f"{sum(a is not None for a in analyses)}/{len(analyses)}", f"{analysed - started:.1f}"],
        ["meta-refinement", f"{sum(d is not None for d in drafts)}/{len(drafts)}", f"{refined - analysed:.1f}"],
        ["meta-merging", "accepted" if outcome.accepted else "refused", f"{merged - refined:.1f}"],
    ]))
    console.print(f"reason: {outcome.reason}")
    new = Rubric.from_text(outcome.rubric_text, version=outcome.version)
    console.print(diff(rubric, new) or "(rubric unchanged)", markup=False, highlight=False)


if __name__ == "__main__":
    main()
