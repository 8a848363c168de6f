"""How fast SciTalk's renderer turns a plan into a video, against real time and its own serial run.

A synthetic 6-scene plan (every effect of the vocabulary, a title, a bullet and burned-in captions)
showing real figures from the shared data, at 720×1280, narrated with espeak-ng. Measured:

- narration: espeak-ng time for all six scenes, against the audio's length;
- render + encode: ``render_video`` with ``workers=2`` and ``workers=1``, interleaved rep by rep, as a
  fraction of the video's length (goal ≤ 0.5× real time) and as a speed-up (goal ≥ 1.6×);
- peak memory: the largest sum of RSS over this process and all its children (workers, ffmpeg),
  sampled every 20 ms (goal ≤ 2 GB);
- the encoder choice: one scene piped to ffmpeg as raw frames vs the same frames through moviepy.

    python bench/render.py [--reps 2] [--size 720x1280] [--no-moviepy]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import PeakRss, console, header, interleaved, median, ratio, shared_data, table  # noqa: E402

from agentgraphs.tools.layout import layout_boxes, split_box  # noqa: E402
from agentgraphs.tools.narration import audio_duration, synthesize  # noqa: E402
from agentgraphs.tools.render_plan import Box, RenderPlan, SceneCard, TextBlock, frame_size  # noqa: E402
from agentgraphs.tools.video import SCENE_PAD_S, render_video  # noqa: E402
from agentgraphs.tools.video_checks import check_video  # noqa: E402

NARRATION = [
    "Can a language model take a cognitive test the way a person does? This paper asks exactly that.",
    "The authors adapt classic experiments, such as the flanker task and the card sorting test, into prompts.",
    "Each experiment is run with many prompt variations, so a result cannot hinge on one lucky wording.",
    "Models match people on some tasks, yet fall apart on others that humans find easy.",
    "Probabilities of the target answers show how fragile those choices are under small changes.",
    "If you build or evaluate language models, read the paper and try the benchmark yourself.",
]
EFFECTS = ["fade", "zoom_in", "highlight", "pan_left", "zoom_out", "none"]


def build_plan(root: Path, width: int, height: int) -> RenderPlan:
    figures = sorted((shared_data() / "cognitive" / "figures").glob("*.png"))[:6]
    scenes = []
    for index, (text, effect) in enumerate(zip(NARRATION, EFFECTS, strict=True)):
        boxes = layout_boxes("figure_with_points", width, height, avatar=False)
        points = split_box(boxes["body"], 2)
        scenes.append(SceneCard(
            id=f"scene-{index + 1}", part="context", narration=text, effect=effect, figure=f"fig{index}",
            figure_box=boxes["figure"], highlight=Box(x=0.1, y=0.1, w=0.4, h=0.4) if effect == "highlight" else None,
            texts=[TextBlock(text=f"Part {index + 1}: {figures[index].stem.replace('_', ' ')}", box=boxes["title"],
                             size=64, bold=True, kind="title"),
                   TextBlock(text="• Classic tests, many prompts", box=points[0], size=48, kind="bullet"),
                   TextBlock(text="• Compared with human baselines", box=points[1], size=48, kind="bullet")]))
    return RenderPlan(title="bench", width=width, height=height, scenes=scenes,
                      figures={f"fig{i}": str(path) for i, path in enumerate(figures)})


def _cpu_seconds() -> float:
    """User + system CPU of this process and its waited-for children (workers, ffmpeg)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def moviepy_vs_pipe(plan: RenderPlan, wav: Path, root: Path, reps: int) -> dict[str, list[float]]:
    """One scene's frames encoded by piping to ffmpeg (ours) and by moviepy's writer (baseline)."""
    from moviepy import AudioFileClip, VideoClip

    from agentgraphs.tools.frames import SceneFrames

    one = plan.model_copy(update={"scenes": plan.scenes[1:2]})
    speech = audio_duration(wav)
    duration = speech + SCENE_PAD_S

    def via_moviepy() -> None:
        frames = SceneFrames(one, one.scenes[0], duration, speech=speech)
        clip = VideoClip(lambda t: frames.frame(min(frames.n_frames - 1, int(t * one.fps))), duration=duration)
        clip = clip.with_audio(AudioFileClip(str(wav)))
        clip.write_videofile(str(root / "moviepy.mp4"), fps=one.fps, codec="libx264", audio_codec="aac", preset="veryfast",
                             threads=1, logger=None, ffmpeg_params=["-tune", "stillimage", "-crf", "23"])

    def via_pipe() -> None:  # render_video itself: one clip, then the (copying) concat step
        render_video(one, {one.scenes[0].id: wav}, root / "pipe", workers=1)

    return interleaved({"pipe": via_pipe, "moviepy": via_moviepy}, reps, warmup=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--size", default="720x1280")
    parser.add_argument("--no-moviepy", action="store_true")
    args = parser.parse_args()
    width, height = frame_size(args.size)
    header("render", f"6 scenes at {width}×{height}, espeak-ng narration, {args.reps} reps, workers 2 vs 1 interleaved")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plan = build_plan(root, width, height)
        wavs = {scene.id: root / f"{scene.id}.wav" for scene in plan.scenes}
        started = time.perf_counter()
        spoken = sum(synthesize(scene.narration, wavs[scene.id]) for scene in plan.scenes)
        narration_s = time.perf_counter() - started

        results = {}
        peaks: dict[int, int] = {}
        cpu: dict[int, list[float]] = {1: [], 2: []}

        def run(workers: int) -> None:
            before = _cpu_seconds()
            with PeakRss() as peak:
                results[workers] = render_video(plan, wavs, root / f"w{workers}", workers=workers)
            cpu[workers].append(_cpu_seconds() - before)
            peaks[workers] = max(peaks.get(workers, 0), peak.peak)

        times = interleaved({"workers=2": lambda: run(2), "workers=1": lambda: run(1)}, args.reps, warmup=0)
        length = results[2].duration_s
        same = results[1].video.read_bytes() == results[2].video.read_bytes()
        started = time.perf_counter()
        checks = check_video(plan, results[2])
        check_s = time.perf_counter() - started

        rows = [
            ["narration (espeak-ng, 6 scenes)", f"{narration_s:.2f} s", f"{spoken:.1f} s audio", f"{narration_s / spoken:.3f}× real time", ""],
            ["render+encode workers=2", f"{median(times['workers=2']):.2f} s", f"{length:.1f} s video",
             f"{median(times['workers=2']) / length:.3f}× real time", "≤ 0.5×"],
            ["render+encode workers=1", f"{median(times['workers=1']):.2f} s", f"{length:.1f} s video",
             f"{median(times['workers=1']) / length:.3f}× real time", ""],
            ["speed-up workers=2 vs 1", "", "", f"{ratio(times['workers=1'], times['workers=2']):.2f}×", "≥ 1.6×"],
            ["CPU seconds (self + children) workers=2 / 1", f"{median(cpu[2]):.2f} s / {median(cpu[1]):.2f} s", "",
             f"{median(cpu[2]) / median(times['workers=2']):.2f} / {median(cpu[1]) / median(times['workers=1']):.2f} cores busy",
             ""],
            ["peak RSS incl. children, workers=2", f"{peaks[2] / 2**20:.0f} MiB", "", "", "≤ 2048 MiB"],
            ["peak RSS incl. children, workers=1", f"{peaks[1] / 2**20:.0f} MiB", "", "", ""],
            ["check_video (decodes samples)", f"{check_s:.2f} s", f"{len(checks.flags)} flags", "", ""],
            ["workers=1 and 2 byte-identical", str(same), "", "", ""],
        ]
        if not args.no_moviepy:
            encode = moviepy_vs_pipe(plan, wavs[plan.scenes[1].id], root, max(3, args.reps))  # ~25 % apart: needs reps
            rows.append(["one scene: moviepy / raw pipe", f"{median(encode['moviepy']):.2f} s / {median(encode['pipe']):.2f} s",
                         "", f"{ratio(encode['moviepy'], encode['pipe']):.2f}×", ""])
        console.print(table("render and encode", ["measure", "time", "media", "ratio", "goal"], rows))


if __name__ == "__main__":
    main()
