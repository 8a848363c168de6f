"""The MPO run report: did the policy learn, did it start gaming the judge, and how the rubric changed.

``training.png`` plots, per update step, the reward, response length, repetition and format
violations with a vertical line where each new rubric version took effect; ``report.md`` adds the
numbers, every rubric version with its diff from the one before, refused rewrites with their reason,
and the judge failures (scored 0 and counted, never raised).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agentgraphs.atomic import write_text
from agentgraphs.evals.plotting import pyplot, save_figure

__all__ = ["PANELS", "plot_training", "quarter_means", "write_report"]

PANELS: tuple[tuple[str, str], ...] = (
    ("reward_mean", "mean reward"),
    ("mean_words", "mean response length (words)"),
    ("repetition", "repeated 3-gram share"),
    ("format_violation_share", "format-violation share"),
)


def plot_training(runs: dict[str, list[dict[str, Any]]], path: Path,
                  versions: dict[str, list[tuple[int, int]]] | None = None) -> Path:
    """One panel per indicator, one line per run (``label → history``), rubric changes as dotted lines.

    ``versions`` maps a run label to ``(step, version)`` pairs: the step after which that version
    took effect. Several runs on one figure is how the static-vs-MPO experiment compares them.
    """
    plt = pyplot(extra="eval", purpose="plotting the MPO report")

    fig, axes = plt.subplots(1, len(PANELS), figsize=(4 * len(PANELS), 3.6), dpi=110)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (label, history), colour in zip(runs.items(), colours):
        steps = [h["step"] for h in history]
        for ax, (key, title) in zip(axes, PANELS):
            ax.plot(steps, [h.get(key, float("nan")) for h in history], marker=".", color=colour, label=label)
            ax.set(title=title, xlabel="update step")
            for step, version in (versions or {}).get(label, []):
                ax.axvline(step + 0.5, color=colour, linestyle=":", linewidth=1)
                ax.annotate(f"v{version}", (step + 0.5, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                            color=colour, ha="left", va="top")
    if len(runs) > 1:
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def _changes(rubric_log: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return [(e["step"], e["version"]) for e in rubric_log if e["accepted"] and e["step"] > 0]


def quarter_means(history: list[dict[str, Any]], key: str) -> tuple[float | None, float | None]:
    """Mean of ``key`` over the first and over the last quarter of steps (None where no step has it)."""
    quarter = max(1, len(history) // 4)

    def mean(part: list[dict[str, Any]]) -> float | None:
        values = [h[key] for h in part if h.get(key) is not None]
        return sum(values) / len(values) if values else None

    return mean(history[:quarter]), mean(history[-quarter:])


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def write_report(run_dir: Path, *, task: str, meta: bool, history: list[dict[str, Any]],
                 rubric_log: list[dict[str, Any]], final_diagnosis: dict[str, Any] | None,
                 judge_failures: int) -> Path:
    """``report.md`` and ``training.png`` under ``run_dir``; returns the report's path."""
    plot = plot_training({"mpo" if meta else "static": history}, run_dir / "training.png",
                         {"mpo" if meta else "static": _changes(rubric_log)})
    lines = [f"# MPO run: {task} ({'meta-reward model on' if meta else 'static rubric'})", "",
             f"{len(history)} update steps; {sum(e['accepted'] for e in rubric_log)} rubric version(s); "
             f"{judge_failures} judge answer(s) failed validation and scored 0.", "",
             f"![training curves]({Path(os.path.relpath(plot, run_dir)).as_posix()})", "",
             "| indicator | first quarter of steps | last quarter of steps |", "|---|---|---|"]
    for key, title in PANELS:
        first, last = quarter_means(history, key)
        lines.append(f"| {title} | {_cell(first)} | {_cell(last)} |")
    if final_diagnosis is not None:
        verdict = "yes" if final_diagnosis["hacking"] else "no"
        lines += ["", f"**Hack indicators on the last segment's rollouts:** {verdict}"]
        lines += [f"- {e}" for e in final_diagnosis["evidence"]]
    lines += ["", "## Rubric versions", ""]
    for entry in rubric_log:
        if entry["accepted"]:
            lines.append(f"### v{entry['version']} after step {entry['step']} (in force)")
        else:
            lines.append(f"### After step {entry['step']}: rewrite refused, v{entry['version']} stays in force")
        lines.append(f"{entry['reason']}")
        if entry.get("diff"):
            lines += ["", "```diff", entry["diff"], "```"]
        lines.append("")
    path = run_dir / "report.md"
    write_text(path, "\n".join(lines) + "\n")
    return path
