"""The MPO experiment at CPU scale: a static exploitable rubric vs the same rubric under the meta loop.

Both arms train the same 135M policy (``hf:smollm2-135m``) from the same seed for the same number of
GRPO steps on the essay task, scored by the same embedded judge, starting from the task's
``exploitable`` rubric (it pays for a catchy title and brevity). The MPO arm lets the meta-reward
model rewrite the rubric every ``--meta-every`` steps; the static arm never does. The script prints
the hack indicators (length, repetition, format violations, reward) over the first and last
quarter of steps for each arm, writes ``comparison.png`` with both arms' curves (rubric versions
marked), and leaves both run directories (with their own reports) under ``--out``.

    python bench/mpo_experiment.py [--steps 20] [--meta-every 5] [--judge local:smollm2-135m] [--learning-rate 3e-5]
        [--out runs/mpo-experiment]
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
from agentgraphs.evals.mpo_report import PANELS, plot_training, quarter_means  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--meta-every", type=int, default=5)
    parser.add_argument("--judge", default="local:smollm2-135m",
                        help="the reward model; SmolLM2 scores a step ~3x faster than Qwen 0.5B on 2 cores")
    parser.add_argument("--meta-judge", default="local:qwen2.5-0.5b")
    parser.add_argument("--prompts", type=int, default=32, help="essay prompts used (the first N)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--learning-rate", type=float, default=3e-5)
    parser.add_argument("--out", type=Path, default=Path("runs/mpo-experiment"))
    parser.add_argument("--reuse", action="store_true", help="skip an arm whose run directory already finished")
    parser.add_argument("--eval-prompts", type=int, default=8, help="held-out prompts for the Elo comparison (0 skips it)")
    parser.add_argument("--eval-tokens", type=int, default=160, help="most tokens per held-out answer")
    args = parser.parse_args()
    header("MPO experiment: static exploitable rubric vs meta-reward model",
           f"{args.steps} steps, meta every {args.meta_every}, judge {args.judge}, meta judge {args.meta_judge}")
    histories: dict[str, list[dict[str, Any]]] = {}
    versions: dict[str, list[tuple[int, int]]] = {}
    walls: dict[str, float] = {}
    for arm, meta in (("static", False), ("mpo", True)):
        started = time.perf_counter()
        if args.reuse and (args.out / arm / "metrics.json").is_file():
            console.print(f"{arm}: reusing the finished run in {args.out / arm}")
        else:
            _train(arm, meta, args)
        walls[arm] = time.perf_counter() - started
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
            row += [f"{v:.2f}" if v is not None else "n/a" for v in quarter_means(histories[arm], key)]
        rows.append(row)
    console.print(table("Hack indicators, mean over the first and last quarter of steps",
                        ["indicator", "static first", "static last", "mpo first", "mpo last"], rows))
    console.print(f"curves: {plot}")
    if args.eval_prompts:
        _elo(args)


def _train(arm: str, meta: bool, args: argparse.Namespace) -> None:
        result = agentgraphs.run("mpo", {
            "task": "essay_writing", "steps": args.steps, "meta_every": args.meta_every, "meta": meta,
            "initial_rubric": "exploitable", "judge": args.judge, "meta_judge": args.meta_judge,
            "prompt_limit": args.prompts, "seed": args.seed, "learning_rate": args.learning_rate,
        }, run_dir=args.out / arm, progress=True)
        if result.status != "done":
            raise SystemExit(f"the {arm} arm ended {result.status}, not done; see {result.run_dir}")


def _elo(args: argparse.Namespace) -> None:
    """Greedy answers of the base and both trained policies to held-out prompts, judged in pairs (both
    orders) by the meta judge, as Elo (K=4, mean over shuffled orders)."""
    from agentgraphs.evals.elo import elo_with_std
    from agentgraphs.evals.pairwise import judge_pairs
    from agentgraphs.models import get_model
    from agentgraphs.rewards.diagnostics import word_count
    from agentgraphs.tasks import load_task
    from agentgraphs.trainers.grpo import latest_checkpoint

    task = load_task("essay_writing")
    held_out = list(task.prompts[args.prompts:args.prompts + args.eval_prompts])
    policies = {"base": "hf:smollm2-135m"}
    for arm in ("static", "mpo"):
        found = latest_checkpoint(args.out / arm / "policy")
        if found is None:
            raise SystemExit(f"no checkpoint in {args.out / arm / 'policy'}")
        policies[arm] = f"hf:{found[1]}"
    answers: dict[str, list[str]] = {}
    for name, policy in policies.items():
        model = get_model(policy, temperature=0.0, max_tokens=args.eval_tokens)
        answers[name] = [str(model.invoke([("system", task.system_prompt or ""), ("user", p)]).content) for p in held_out]
        console.print(f"{name}: mean {sum(map(word_count, answers[name])) / len(held_out):.0f} words on held-out prompts")
    judge = get_model(args.meta_judge, temperature=0.0)
    names = list(policies)
    comparisons = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            comparisons += judge_pairs(held_out, answers[a], answers[b], model_a=a, model_b=b, judge=judge)
    ratings = elo_with_std(comparisons, rounds=100)
    wins = {n: sum(c.winner == n for c in comparisons) for n in names}
    ties = sum(c.winner == "tie" for c in comparisons)
    console.print(table(f"Elo on {len(held_out)} held-out prompts, judge {args.meta_judge}, pairs judged in both orders "
                        f"({len(comparisons)} comparisons, {ties} ties)", ["policy", "Elo (mean of 100 orders)", "order std", "wins"],
                        [(n, f"{ratings[n][0]:.1f}", f"{ratings[n][1]:.1f}", wins[n]) for n in names]))
    (args.out / "elo.json").write_text(json.dumps({"ratings": ratings, "answers": answers, "prompts": held_out,
                                                   "winners": [vars(c) for c in comparisons]}, indent=1))


if __name__ == "__main__":
    main()
