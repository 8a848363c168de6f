"""The report of one lawflow run: plan, execution with the monitor's flags, decisions, drafts, analytics.

The analytics are the ones :mod:`agentgraphs.evals.lawflow` computes for the human and o1
workflows, applied to this run's plan and execution, so a run reads side by side with the paper's
numbers (``agentgraphs lawflow-report``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentgraphs.agents.lawflow.advisor import brief_markdown
from agentgraphs.agents.lawflow.drafter import MEMO_PARTS
from agentgraphs.atomic import write_json, write_text
from agentgraphs.evals.lawflow import decision_agreement, execution_metrics, plan_structure
from agentgraphs.evals.lawflow_data import END, Execution, Plan, Scenario
from agentgraphs.evals.lawflow_report import plot_execution_path
from agentgraphs.tools.text import markdown_cell

__all__ = ["run_agreement", "run_execution", "write_run_report"]


def run_execution(state: dict[str, Any]) -> Execution:
    """The run's turns as an :class:`Execution` of its plan."""
    plan = Plan.model_validate(state["plan"])
    return Execution(plan_name=plan.name, steps=[t["node_id"] for t in state.get("turns") or []] + [END],
                     scenario_id=state["case"]["id"], model="agentgraphs executor",
                     action_types=[t["action"] for t in state.get("turns") or []])


def run_agreement(state: dict[str, Any]) -> dict[str, bool]:
    """Per decision point the run answered: did the advisor lean towards the option the lawyer chose?"""
    return decision_agreement({p: b["leaning"] for p, b in (state.get("briefs") or {}).items()},
                              {p: d["choice"] for p, d in (state.get("decided") or {}).items()})


def _decision_lines(point: str, state: dict[str, Any]) -> list[str]:
    decision = (state.get("decided") or {}).get(point)
    brief = (state.get("briefs") or {}).get(point)
    lines = [f"### {point.replace('_', ' ').capitalize()}", ""]
    if decision is not None:
        lines += [f"**Decision: `{decision['choice']}`** ({decision['source']})"
                  + (f" — {decision['rationale']}" if decision.get("rationale") else " — no rationale given"), ""]
    if brief is not None:
        lines += [brief_markdown(point, brief)]
    return lines


def write_run_report(run_dir: Path, state: dict[str, Any]) -> dict[str, str]:
    """Write ``report.md``, ``execution.json`` and ``execution.png``, ``memo.md`` and ``checklist.md``; their paths by artefact name."""
    scenario = Scenario.model_validate(state["case"])
    plan = Plan.model_validate(state["plan"])
    execution = run_execution(state)
    structure = plan_structure(plan)
    metrics = execution_metrics(execution, plan)
    turns, flags = state.get("turns") or [], state.get("flags") or []
    flags_by_turn: dict[int, list[str]] = {}
    for flag in flags:
        flags_by_turn.setdefault(flag["turn"], []).append(flag["kind"])
    drafts = state.get("drafts") or {}
    memo, checklist = drafts.get("memo"), drafts.get("checklist")

    paths = {"execution": write_json(run_dir / "execution.json", {"execution": execution.model_dump(), "turns": turns, "flags": flags})}
    if turns:
        paths["execution_plot"] = plot_execution_path(plan, execution.node_steps, run_dir / "execution.png",
                                                      flagged=[f["turn"] for f in flags], title=f"{scenario.id}: {len(turns)} turns")
    if memo is not None:
        memo_lines = [f"# {memo['title']}", ""]
        for key, heading in MEMO_PARTS.items():
            if key == "representation" and scenario.clients == 1:
                continue
            memo_lines += [f"## {heading}", "", *[f"- {p}" for p in memo[key]], ""]
        paths["memo"] = write_text(run_dir / "memo.md", "\n".join(memo_lines))
    if checklist is not None:
        lines = [f"# Clause checklist: {drafts.get('document', 'governing document')}", "",
                 "| clause | provision | follows from |", "|---|---|---|"]
        lines += [f"| {markdown_cell(c['clause'])} | {markdown_cell(c['provision'])} | {c['follows_from']} |" for c in checklist["clauses"]]
        paths["checklist"] = write_text(run_dir / "checklist.md", "\n".join(lines) + "\n")

    review = state.get("plan_review") or {}
    lines = [
        f"# LawFlow run: {scenario.title} ({scenario.id})", "",
        f"Clients: {scenario.clients}. Details: {'; '.join(scenario.details) or '—'}. "
        f"Issues: {'; '.join(scenario.issues) or '—'}. Complexity tags: {'; '.join(scenario.complexity_tags) or '—'}.", "",
        f"## Plan ({plan.name}; review: {review.get('outcome', '—')}"
        + (f", {review['source']}" if review.get("source") else "") + ")", "",
        "```", plan.to_text(), "```", "",
        "| subtasks | depth per subtask | nodes per subtask | branches per subtask | nodes |", "|---|---|---|---|---|",
        f"| {structure.subtasks} | {structure.depth.mean:.1f} ± {structure.depth.sd:.1f} | {structure.nodes.mean:.1f} ± "
        f"{structure.nodes.sd:.1f} | {structure.branches.mean:.1f} ± {structure.branches.sd:.1f} | {structure.total_nodes} |", "",
        f"## Execution ({len(turns)} turns)", "",
        "| turn | step | action | analysis | client question | flags |", "|---|---|---|---|---|---|",
        *[f"| {t['turn']} | {t['node_id']} {markdown_cell(t['title'])} | {t['action']} | {markdown_cell(t['analysis'])} | "
          f"{markdown_cell(t.get('client_question') or '')} | {', '.join(flags_by_turn.get(t['turn'], []))} |" for t in turns],
        "", *(["![the execution over the plan](execution.png)", ""] if turns else []), "Monitor flags:", "", *([f"- turn {f['turn']}: {f['reason']}" for f in flags] or ["- none"]), "",
        "| node execution rate | Levenshtein to plan order | cycles (3–6) | visits per visited node | subtask switches | hubs |",
        "|---|---|---|---|---|---|",
        f"| {metrics.node_execution_rate:.2f} | {metrics.levenshtein_to_plan} | {metrics.cycles} | "
        f"{metrics.visits_per_visited_node:.2f} | {metrics.subtask_switches} | "
        f"{', '.join(f'{n} ({c:.2f})' for n, c in metrics.hubs) or '—'} |", "",
        "## Decisions", "",
    ]
    agreement = run_agreement(state)
    if agreement:
        each = ", ".join(f"{point}: {'yes' if agreed else 'no'}" for point, agreed in agreement.items())
        lines += [f"The advisor leaned towards the option the lawyer chose at {sum(agreement.values())} of "
                  f"{len(agreement)} decision points ({each}).", ""]
    for point in state.get("points") or []:
        lines += _decision_lines(point, state)
    lines += ["## Drafts", "", "- client memo outline: `memo.md`" if memo else "- no memo",
              f"- {drafts.get('document', 'governing document')} checklist: `checklist.md`" if checklist else "- no checklist", ""]
    paths["report"] = write_text(run_dir / "report.md", "\n".join(lines))
    return {name: str(path) for name, path in paths.items()}
