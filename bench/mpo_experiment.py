"""The MPO experiment at CPU scale: a static exploitable rubric vs the same rubric under the meta loop.

Both arms train the same 135M policy (``hf:smollm2-135m``) from the same seed for the same number of
GRPO steps on the essay task, scored by the same embedded judge, starting from the task's
``exploitable`` rubric (it pays for a catchy title and brevity). The MPO arm lets the meta-reward
model rewrite the rubric every ``--meta-every`` steps; the static arm never does. The script prints
the hack indicators (length, repetition, format violations, reward) over the first and last
quarter of steps for each arm, writes ``comparison.png`` with both arms' curves (rubric versions
marked), and leaves both run directories (with their own reports) under ``--out``.

    python bench/mpo_experiment.py [--steps 16] [--meta-every 4] [--judge local:qwen2.5-0.5b] [--out runs/mpo-experiment]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import console, header, table  # noqa: E402

import agentgraphs  # noqa: E402
from agentgraphs.evals.mpo_report import PANELS, plot_training  # noqa: E402


def _quarter_means(history: list[dict[str, Any]], key: str) -> tuple[float, float]:
    quarter = max(1, len(history) // 4)
    first = [h[key] for h in history[:quarter] if h.get(key) is not None]
    last = [h[key] for h in history[-quarter:] if h.get(key) is not None]
    return sum(first) / max(1, len(first)), sum(last) / max(1, len(last))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--meta-every", type=int, default=4)
    parser.add_argument("--judge", default="local:qwen2.5-0.5b")
    parser.add_argument("--meta-judge", default="local:qwen2.5-0.5b")
    parser.add_argument("--prompts", type=int, default=32, help="essay prompts used (the first N)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/mpo-experiment"))
    args = parser.parse_args()
    header("MPO experiment: static exploitable rubric vs meta-reward model",
           f"{args.steps} steps, meta every {args.meta_every}, judge {args.judge}, meta judge {args.meta_judge}")
    histories: dict[str, list[dict[str, Any]]] = {}
    versions: dict[str, list[tuple[int, int]]] = {}
    walls: dict[str, float] = {}
    for arm, meta in (("static", False), ("mpo", True)):
        started = time.perf_counter()
        result = agentgraphs.run("mpo", {
            "task": "essay_writing", "steps": args.steps, "meta_every": args.meta_every, "meta": meta,
            "initial_rubric": "exploitable", "judge": args.judge, "meta_judge": args.meta_judge,
            "prompt_limit": args.prompts, "seed": args.seed,
        }, run_dir=args.out / arm, progress=True)
        walls[arm] = time.perf_counter() - started
        if result.status != "done":
            raise SystemExit(f"the {arm} arm ended {result.status}, not done; see {result.run_dir}")
        metrics = json.loads((args.out / arm / "metrics.json").read_text())
        histories[arm] = metrics["history"]
        versions[arm] = [(e["step"], e["version"]) for e in metrics["rubric_log"] if e["accepted"] and e["step"] > 0]
        console.print(f"{arm}: {walls[arm] / 60:.1f} min, {len(versions[arm])} rubric rewrite(s) accepted, "
                      f"{metrics['judge_failures']} judge failure(s)")
    plot = plot_training(histories, args.out / "comparison.png", versions)
    rows = []
    for key, title in PANELS:
        row: list[str] = [title]
        for arm in histories:
            first, last = _quarter_means(histories[arm], key)
            row += [f"{first:.2f}", f"{last:.2f}"]
        rows.append(row)
    console.print(table("Hack indicators, mean over the first and last quarter of steps",
                        ["indicator", "static first", "static last", "mpo first", "mpo last"], rows))
    console.print(f"curves: {plot}")


if __name__ == "__main__":
    main()
