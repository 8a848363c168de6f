"""SciTalk on every shared paper: parse time, render speed against real time, parallel vs serial
rendering, peak memory, with model time reported apart.

For each paper: ``parse_paper`` is timed alone; then the whole graph runs once on the embedded
model (``iterations=1``, 720×1280 unless ``--size``), which gives the model time (sum of call
latencies from the run's trace) and the run's peak memory; then the run's own render plan and
narration are rendered again with ``workers=2`` and ``workers=1``, interleaved ``--reps`` times, to
time render+encode against the video's length (goal ≤ 0.5× real time) and the parallel speed-up
(goal ≥ 1.6×) in a child process whose tree's resident memory is sampled (goal ≤ 2 GB; the run's own
peak, embedded model included, is reported beside it). "serial CPU cores" is the CPU time of the
serial render over its wall time: drawing frames and x264 already run side by side through a pipe.

    python bench/scitalk.py [--papers janus,MoBA,...] [--size 720x1280] [--reps 2] [--model local:qwen2.5-0.5b]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import PeakRss, console, header, median, shared_data, table  # noqa: E402

import agentgraphs  # noqa: E402
from agentgraphs.tools.paper import parse_paper  # noqa: E402
from agentgraphs.tools.render_plan import RenderPlan  # noqa: E402
from agentgraphs.tools.video import probe_video, render_video  # noqa: E402

REALTIME_GOAL, SPEEDUP_GOAL, MEMORY_GOAL_GB = 0.5, 1.6, 2.0


def model_seconds(run_dir: Path) -> tuple[float, int]:
    """Sum of model-call latencies and the number of calls, from the run's trace."""
    records = [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines() if line.strip()]
    return sum(r.get("latency_s") or 0.0 for r in records), len(records)


def render_only(round_dir: Path, out: Path, reps: int) -> None:
    """Child-process mode: time ``render_video`` of a finished round with 2 workers and 1."""
    plan = RenderPlan.model_validate_json((round_dir / "scene_plan.json").read_text())
    audio = {s.id: round_dir / "audio" / f"{s.id}.wav" for s in plan.scenes}
    times: dict[int, list[float]] = {2: [], 1: []}
    cpu: dict[int, list[float]] = {2: [], 1: []}
    with PeakRss() as peak:
        for rep in range(reps):
            for workers in ((2, 1) if rep % 2 == 0 else (1, 2)):
                started, cpu_started = time.perf_counter(), _cpu_seconds()
                render_video(plan, audio, out / f"r{rep}-w{workers}", workers=workers)
                times[workers].append(time.perf_counter() - started)
                cpu[workers].append(_cpu_seconds() - cpu_started)
    print(json.dumps({"times": times, "peak_bytes": peak.peak, "cpu": {w: median(v) for w, v in cpu.items()}}))


def _cpu_seconds() -> float:
    """CPU of this process and its finished children (render workers, ffmpeg)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", default="", help="comma-separated substrings of paper file names (default: all)")
    parser.add_argument("--size", default="720x1280")
    parser.add_argument("--reps", type=int, default=2, help="interleaved render reps per worker count")
    parser.add_argument("--model", default=None, help="model string for every role (default: the embedded model)")
    parser.add_argument("--render-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render_only:
        render_only(args.render_only, args.out, args.reps)
        return

    papers = sorted((shared_data() / "papers").glob("*.pdf"))
    if args.papers:
        papers = [p for p in papers if any(key.lower() in p.name.lower() for key in args.papers.split(","))]
    header("scitalk: parse, render, encode, memory per shared paper",
           f"size {args.size}, iterations 1, render reps {args.reps}, model {args.model or 'embedded default'}")
    rows, summary = [], []
    with tempfile.TemporaryDirectory(prefix="agentgraphs-bench-") as tmp:
        for paper in papers:
            started = time.perf_counter()
            parsed = parse_paper(paper, Path(tmp) / f"{paper.stem}-parse")
            parse_s = time.perf_counter() - started

            run_dir = Path(tmp) / f"{paper.stem}-run"
            with PeakRss() as run_peak:
                started = time.perf_counter()
                result = agentgraphs.run("scitalk", {"paper": str(paper), "size": args.size, "iterations": 1},
                                         models={"default": args.model} if args.model else None, run_dir=run_dir)
                run_s = time.perf_counter() - started
            assert result.status == "done", result.status
            model_s, calls = model_seconds(run_dir)

            plan = RenderPlan.model_validate_json((run_dir / "round-1" / "scene_plan.json").read_text())
            # Re-rendered in a child process, so its peak memory is the renderer's own and not the
            # embedded model's, which this process still holds after the run.
            measured = subprocess.run(
                [sys.executable, __file__, "--render-only", str(run_dir / "round-1"), "--reps", str(args.reps),
                 "--out", str(Path(tmp) / f"{paper.stem}-renders")],
                check=True, capture_output=True, text=True)
            render = json.loads(measured.stdout.strip().splitlines()[-1])
            times = {int(k): v for k, v in render["times"].items()}
            render_peak = render["peak_bytes"]
            length = probe_video(run_dir / "video.mp4").duration_s
            parallel, serial = median(times[2]), median(times[1])
            rows.append([paper.stem[:28], len(parsed.figures), f"{parse_s:.2f}", f"{length:.1f}", len(plan.scenes),
                         f"{parallel:.1f}", f"{parallel / length:.2f}×", f"{serial:.1f}", f"{serial / parallel:.2f}×", f"{render['cpu']['1'] / serial:.2f}",
                         f"{render_peak / 2**30:.2f}", f"{run_s:.0f}", f"{model_s:.0f} ({calls})", f"{run_peak.peak / 2**30:.2f}"])
            summary.append((parallel / length, serial / parallel, render_peak / 2**30, render["cpu"]["1"] / serial))
            console.print(f"done: {paper.name}")
    console.print(table(
        f"per paper at {args.size} (render = render+encode+join of the run's own plan; medians of {args.reps})",
        ["paper", "figs", "parse s", "video s", "scenes", "render s (2 workers)", "render / real time",
         "render s (serial)", "parallel speed-up", "serial CPU cores", "render peak GB", "run s", "model s (calls)",
         "run peak GB"], rows))
    worst_rt = max(s[0] for s in summary)
    worst_speedup = min(s[1] for s in summary)
    worst_mem = max(s[2] for s in summary)
    console.print(table("goals", ["measure", "worst paper", "goal", "met"], [
        ["render+encode / video length", f"{worst_rt:.2f}×", f"≤ {REALTIME_GOAL}×", "yes" if worst_rt <= REALTIME_GOAL else "no"],
        ["parallel (2) / serial speed-up", f"{worst_speedup:.2f}×", f"≥ {SPEEDUP_GOAL}×", "yes" if worst_speedup >= SPEEDUP_GOAL else "no"],
        ["render peak memory", f"{worst_mem:.2f} GB", f"≤ {MEMORY_GOAL_GB} GB", "yes" if worst_mem <= MEMORY_GOAL_GB else "no"],
    ]))


if __name__ == "__main__":
    main()
