"""The SciTalk run report: what each feedback round scored, what the checks found, what changed.

``report.md`` is what a researcher opens after a run: the scores per round and persona, the video
checks' flags, how each generator's prompt changed and why, the final evaluation, thumbnails of
the chosen round's frames, and ``scores.png`` (matplotlib) plotting all of it per round.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agentgraphs.atomic import write_text
from agentgraphs.evals.plotting import pyplot, save_figure

__all__ = ["plot_rounds", "write_report"]

CRITERIA = ("content_accuracy", "clarity", "visual_sync", "engagement")


def plot_rounds(rounds: list[dict[str, Any]], path: Path) -> Path:
    """Scores per criterion and per persona, and check flags, for each round, as one PNG."""
    plt = pyplot(extra="video", purpose="plotting the SciTalk report")

    xs = [r["round"] for r in rounds]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(13, 3.8), dpi=110)
    for criterion in CRITERIA:
        left.plot(xs, [r["criteria_mean"][criterion] for r in rounds], marker="o", label=criterion.replace("_", " "))
    left.set(title="mean score per criterion", xlabel="round", ylim=(0.8, 5.2), xticks=xs)
    left.legend(fontsize=7)
    personas = sorted({name for r in rounds for name in r["scores"]})
    for name in personas:
        values = [sum(r["scores"][name].values()) / len(CRITERIA) if name in r["scores"] else float("nan") for r in rounds]
        middle.plot(xs, values, marker="s", label=name)
    middle.set(title="mean score per persona", xlabel="round", ylim=(0.8, 5.2), xticks=xs)
    middle.legend(fontsize=7)
    kinds = sorted({kind for r in rounds for kind in r["flags"]})
    bottom = [0] * len(rounds)
    for kind in kinds:
        counts = [r["flags"].get(kind, 0) for r in rounds]
        right.bar(xs, counts, bottom=bottom, label=kind.replace("_", " "))
        bottom = [b + c for b, c in zip(bottom, counts)]
    right.set(title="video-check flags", xlabel="round", xticks=xs)
    if kinds:
        right.legend(fontsize=7)
    else:
        right.text(0.5, 0.5, "no flags", ha="center", va="center", transform=right.transAxes)
    fig.tight_layout()
    return save_figure(fig, path)


def _relative(path: str | Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def write_report(run_dir: Path, *, title: str, paper: str, rounds: list[dict[str, Any]], best_round: int,
                 stop_reason: str, evaluation: dict[str, Any] | None, notes: list[str],
                 prompt_history: list[dict[str, Any]]) -> Path:
    """``report.md`` (and ``scores.png``) in ``run_dir``; returns the report's path."""
    plot = plot_rounds(rounds, run_dir / "scores.png")
    lines = [f"# SciTalk: {title}", "", f"Paper: `{Path(paper).name}`. Rounds: {len(rounds)} ({stop_reason}). "
             f"The video is round {best_round}'s: the best mean critic score, then the fewest check flags.", ""]
    lines += [f"> {note}" for note in notes] + ([""] if notes else [])
    lines += ["## Scores per round", "", f"![scores per round]({_relative(plot, run_dir)})", "",
              "| round | mean | " + " | ".join(c.replace("_", " ") for c in CRITERIA) + " | check flags | video s | prompt versions |",
              "|---|---|" + "---|" * len(CRITERIA) + "---|---|---|"]
    for r in rounds:
        flags = ", ".join(f"{k} ×{v}" for k, v in sorted(r["flags"].items())) or "none"
        versions = ", ".join(f"{k.split('_')[0]} v{v}" for k, v in r["prompt_versions"].items())
        duration = f"{r['duration_s']:.1f}" if r.get("duration_s") is not None else "?"
        lines.append(f"| {r['round']} | {r['mean']:.2f} | " + " | ".join(f"{r['criteria_mean'][c]:.2f}" for c in CRITERIA)
                     + f" | {flags} | {duration} | {versions} |")
    lines += ["", "### Per persona", "", "| round | persona | " + " | ".join(c.replace("_", " ") for c in CRITERIA) + " |",
              "|---|---|" + "---|" * len(CRITERIA)]
    for r in rounds:
        for name, scores in r["scores"].items():
            lines.append(f"| {r['round']} | {name} | " + " | ".join(str(scores[c]) for c in CRITERIA) + " |")
    lines += ["", "## What the critics asked for", ""]
    for r in rounds:
        lines.append(f"**Round {r['round']}**")
        lines += [f"- {c['persona']} → {c['target']}: {c['text']}" for c in r["comments"]]
        if r.get("dropped_comments"):
            lines.append(f"- ({r['dropped_comments']} comment(s) dropped: they copied the script or the checks)")
        lines.append("")
    changes = [p for p in prompt_history if p.get("version", 1) > 1]
    lines += ["## How the prompts changed", ""]
    if changes:
        lines += [f"- round {p['round']}: {p['agent']} v{p['version']}: {p.get('reason', '')}" for p in changes]
    else:
        lines.append("No prompt was rewritten (a single round, or no feedback reached a generator).")
    lines.append("")
    if evaluation:
        scores = evaluation["scores"]
        lines += ["## Final evaluation", "", " · ".join(f"{c.replace('_', ' ')} {scores[c]}/5" for c in CRITERIA), "",
                  evaluation["verdict"], ""]
        lines += [f"- strength: {s}" for s in evaluation.get("strengths", [])]
        lines += [f"- weakness: {w}" for w in evaluation.get("weaknesses", [])]
        lines.append("")
    thumbnails = next((r.get("thumbnails", []) for r in rounds if r["round"] == best_round), [])
    if thumbnails:
        lines += ["## Frames", "", " ".join(f'<img src="{_relative(t, run_dir)}" alt="{Path(t).stem}" width="160">' for t in thumbnails), ""]
    lines += ["## Files", "", "`video.mp4`, `subtitles.srt`, `script.md`, `scene_plan.json`; every round in `round-N/` "
              "(its video, prompts, checks and critiques); every model call in `trace.jsonl`.", ""]
    return write_text(run_dir / "report.md", "\n".join(lines))
