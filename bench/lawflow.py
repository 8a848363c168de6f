"""The LawFlow assistant on every shared scenario, unattended, on the embedded model; its plans and
executions side by side with the human (law students') and o1 workflows of the paper.

Each scenario runs ``agentgraphs run lawflow --scenario ID --decisions FILE`` (the planner's own plan,
``--max-turns`` execution turns). The decisions are this script's stand-in for the lawyer's answers
(``DECISIONS`` below, one reasoned choice per scenario); they are data, the run only records them.
The script prints per scenario the plan's structure, the execution's metrics and the monitor's flags
and times, then the paper's plan-structure table (human and o1 plans from the shared data) with the
planner's plans added, and execution patterns of this executor beside the o1 and DeepSeek-R1
execution orders. Scenarios whose run directory already holds a report are read (from the run's
checkpoint), not rerun.
The advisor's leaning at each decision point is compared with the answer given (the paper's
entity-type agreement between the LLM and the lawyer).

    python bench/lawflow.py [--max-turns 6] [--model local:qwen2.5-0.5b] [--out runs/lawflow-bench] [--only 11 12]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from statistics import fmean
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import console, header, table  # noqa: E402

import agentgraphs  # noqa: E402
from agentgraphs.atomic import write_json  # noqa: E402
from agentgraphs.evals.lawflow import MeanSd, execution_metrics, plan_structure  # noqa: E402
from agentgraphs.evals.lawflow_data import Execution, Plan, load_executions, load_plan, load_scenarios  # noqa: E402
from agentgraphs.evals.lawflow_run_report import run_agreement  # noqa: E402

LLC_TWO = {"client_conflicts": ("joint_with_consent", "the owners' goals align; disclose and get written consent"),
           "entity_type": ("llc", "liability shield with flexible management and membership"),
           "tax_treatment": ("partnership", "pass-through taxation; no entity-level tax")}
LLC_ONE = {"entity_type": ("llc", "liability shield with few formalities"),
           "tax_treatment": ("disregarded_entity", "one owner reports on her own return")}
DECISIONS: dict[str, dict[str, tuple[str, str]]] = {
    "scenario_2": LLC_TWO, "scenario_3": LLC_TWO, "scenario_7": LLC_TWO, "scenario_11": LLC_TWO, "scenario_15": LLC_TWO,
    "scenario_4": {"client_conflicts": ("joint_with_consent", "A and B share the secret and the plan to sell"),
                   "entity_type": ("corporation", "outside capital and a sale to a larger company"),
                   "tax_treatment": ("c_corporation", "investors expect preferred stock; QSBS on exit")},
    "scenario_5": {"entity_type": ("sole_proprietorship", "she wants business formalities kept minimal"),
                   "tax_treatment": ("disregarded_entity", "income on her own return")},
    "scenario_6": LLC_ONE, "scenario_8": LLC_ONE, "scenario_9": LLC_ONE, "scenario_13": LLC_ONE,
    "scenario_12": {"entity_type": ("nonprofit_corporation", "no profit motive, donations and a board"),
                    "tax_treatment": ("tax_exempt", "501(c)(3) keeps proceeds off his return")},
    "scenario_14": {"client_conflicts": ("joint_with_consent", "a shared, non-profit purpose"),
                    "entity_type": ("nonprofit_corporation", "free workshops and no profit motive"),
                    "tax_treatment": ("tax_exempt", "educational purpose qualifies for 501(c)(3)")},
    "scenario_16": {"client_conflicts": ("entity_only", "the investor's and founders' interests diverge"),
                    "entity_type": ("corporation", "a $2M investment and a planned sale of the formula"),
                    "tax_treatment": ("c_corporation", "investor-friendly and a clean sale")},
}
DECISIONS["scenario_17"] = DECISIONS["scenario_14"]
EXECUTION_COLUMNS = ("steps", "node_execution_rate", "visits_per_visited_node", "subtask_switches", "cycles")


def _run(scenario_id: str, out: Path, *, max_turns: int, model: str) -> tuple[dict[str, Any], float]:
    run_dir = out / scenario_id
    if (run_dir / "report.md").is_file():
        seconds = json.loads((run_dir / "bench-time.json").read_text(encoding="utf-8"))["seconds"]
        return agentgraphs.resume(run_dir).wait().state, float(seconds)  # a finished run: its state, nothing rerun
    answers = {"plan": "accept", **{p: {"choice": c, "rationale": r} for p, (c, r) in DECISIONS[scenario_id].items()}}
    decisions = out / f"decisions-{scenario_id}.json"
    write_json(decisions, answers)
    if run_dir.exists():
        shutil.rmtree(run_dir)  # a run cut off by an earlier kill: start it again
    started = time.perf_counter()
    result = agentgraphs.run("lawflow", {"scenario": scenario_id, "decisions": str(decisions), "max_turns": max_turns},
                             models={"default": model}, run_dir=run_dir)
    seconds = time.perf_counter() - started
    if result.status != "done":
        raise SystemExit(f"{scenario_id} stopped at {result.interrupts}")
    write_json(run_dir / "bench-time.json", {"seconds": seconds})
    return result.state, seconds


def _mean_sd(values: list[float]) -> str:
    spread = MeanSd.of(values)
    return f"{spread.mean:.1f} ± {spread.sd:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-turns", type=int, default=6)
    parser.add_argument("--model", default="local:qwen2.5-0.5b")
    parser.add_argument("--out", type=Path, default=Path("runs/lawflow-bench"))
    parser.add_argument("--only", nargs="*", help="scenario ids (11 or scenario_11); default: every shared scenario")
    args = parser.parse_args()
    scenarios = load_scenarios()
    wanted = {s if s.startswith("scenario_") else f"scenario_{s}" for s in args.only or []}
    chosen = [s for s in scenarios if not wanted or s.id in wanted]
    header(f"LawFlow assistant on {len(chosen)} shared scenario(s), unattended, {args.model}, {args.max_turns} turns")

    rows, structures, ours = [], [], []
    agreements: list[dict[str, bool]] = []
    for scenario in chosen:
        state, seconds = _run(scenario.id, args.out, max_turns=args.max_turns, model=args.model)
        plan = Plan.model_validate(state["plan"])
        structure = plan_structure(plan)
        execution = Execution(plan_name=plan.name, steps=[t["node_id"] for t in state["turns"]] + ["END"],
                              scenario_id=scenario.id, model="agentgraphs")
        metrics = execution_metrics(execution, plan)
        structures.append(structure)
        ours.append(metrics)
        kinds = [f["kind"] for f in state["flags"]]
        agreement = run_agreement(state)
        agreements.append(agreement)
        rows.append([scenario.id, scenario.clients, structure.subtasks, f"{structure.depth.mean:.1f}",
                     f"{structure.nodes.mean:.1f}", len(state["turns"]), f"{metrics.node_execution_rate:.2f}",
                     metrics.subtask_switches, kinds.count("unusual_transition"), kinds.count("repeated_visit"),
                     ", ".join(d["choice"] for d in state["decided"].values()),
                     f"{sum(agreement.values())}/{len(agreement)}", f"{seconds:.0f}"])
        console.print(f"{scenario.id}: {seconds:.0f} s")
    console.print(table("per scenario (planner's plan; executor's turns; monitor's flags)",
                        ["scenario", "clients", "subtasks", "depth", "nodes/subtask", "turns", "visited share",
                         "subtask switches", "unusual steps", "loops", "decisions", "advisor agreed", "seconds"], rows))
    per_point = {p: [a[p] for a in agreements if p in a] for p in ("client_conflicts", "entity_type", "tax_treatment")}
    console.print("the advisor leaned towards the lawyer's option at "
                  + ", ".join(f"{sum(v)}/{len(v)} {p}" for p, v in per_point.items()) + " decision points")

    human, llm = load_plan("human"), load_plan("llm")
    plan_rows = [[name, s.subtasks, f"{s.depth.mean:.1f} ± {s.depth.sd:.1f}", f"{s.nodes.mean:.1f} ± {s.nodes.sd:.1f}",
                  f"{s.branches.mean:.1f} ± {s.branches.sd:.1f}"]
                 for name, s in (("human (law students)", plan_structure(human)), ("o1", plan_structure(llm)))]
    plan_rows.append([f"agentgraphs planner (mean of {len(structures)} plans)", _mean_sd([s.subtasks for s in structures]),
                      _mean_sd([s.depth.mean for s in structures]), _mean_sd([s.nodes.mean for s in structures]),
                      _mean_sd([s.branches.mean for s in structures])])
    console.print(table("plan structure per subtask, subtask node not counted (the paper: human depth 3.6 ± 0.5, nodes 8.8 ± 2.6; LLM depth 1.0, nodes 3.8 ± 0.4)",
                        ["plans", "subtasks", "depth", "nodes", "branches"], plan_rows))

    plans = {"human": human, "llm": llm}
    reference = [execution_metrics(e, plans[e.plan_name]) for e in load_executions()]
    groups = {f"{m} on the {p} plan": [r for r in reference if r.model == m and r.plan_name == p]
              for m, p in {(r.model, r.plan_name) for r in reference}}
    groups[f"agentgraphs executor ({args.max_turns} turns) on its planner's plan"] = ours
    execution_rows = [[name, len(group), *[f"{fmean(float(getattr(m, c)) for m in group):.2f}" for c in EXECUTION_COLUMNS]]
                      for name, group in sorted(groups.items()) if group]
    console.print(table("execution patterns (means per execution)", ["executed by", "executions", *EXECUTION_COLUMNS],
                        execution_rows))
    write_json(args.out / "results.json", {"per_scenario": rows, "plans": plan_rows, "executions": execution_rows})


if __name__ == "__main__":
    main()
