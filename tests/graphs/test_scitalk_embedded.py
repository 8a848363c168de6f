"""SciTalk end to end on the embedded local model and a real shared paper, killed during rendering
and resumed: the main job as a user runs it, at the preview size with one feedback round."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import agentgraphs
from agentgraphs.tools.narration import audio_duration
from agentgraphs.tools.render_plan import RenderPlan
from agentgraphs.tools.video import SCENE_PAD_S, probe_video, render_video

# ~4 min of model time and rendering (more on a slow host). In the default run the same graph runs with
# scripted agents (tests/graphs/test_scitalk_flow.py), and a graph runs on the embedded model (tests/test_runs.py).
pytestmark = pytest.mark.slow

PAPER = "papers/decision_tree_fields_iccv2011.pdf"
SRT_CUE = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+?)(?:\n\n|\n?$)", re.S)


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_srt(text: str) -> list[tuple[int, float, float, str]]:
    """(number, start, end, text) per cue; raises if any part of the file is not a cue."""
    cues, position = [], 0
    for match in SRT_CUE.finditer(text):
        assert match.start() == position, f"unparseable SRT near {text[position:position + 80]!r}"
        g = match.groups()
        cues.append((int(g[0]), _seconds(*g[1:5]), _seconds(*g[5:9]), g[9].strip()))
        position = match.end()
    assert position == len(text), f"unparseable SRT tail {text[position:position + 80]!r}"
    return cues


def _kill_when_rendering(process: subprocess.Popen[bytes], scenes_dir: Path, timeout_s: float) -> bool:
    """SIGKILL the run (and its render workers) once the first scene clip is being written."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if scenes_dir.is_dir() and any(scenes_dir.iterdir()):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError(f"the run did not reach rendering within {timeout_s:.0f} s")


@pytest.fixture(scope="module")
def resumed_run(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The run directory, and how many model calls it had made when it was killed."""
    run_dir = tmp_path_factory.mktemp("scitalk-embedded") / "run"
    command = [sys.executable, "-m", "agentgraphs.cli", "run", "scitalk", "--paper", str(shared_data / PAPER),
               "--size", "preview", "--iterations", "1", "--run-dir", str(run_dir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    killed = _kill_when_rendering(process, run_dir / "round-1" / "scenes", timeout_s=1200)
    assert killed, f"the run ended before it could be killed: {process.stderr.read().decode()[-2000:]}"  # type: ignore[union-attr]
    assert not (run_dir / "round-1" / "video.mp4").exists(), "killed during rendering: no video yet"
    calls_before = len((run_dir / "trace.jsonl").read_text().splitlines())
    result = agentgraphs.resume(run_dir).wait()
    assert result.status == "done"
    return run_dir, calls_before


def test_the_video_has_narration_and_matches_its_length(resumed_run: tuple[Path, int]) -> None:
    run_dir = resumed_run[0]
    info = probe_video(run_dir / "video.mp4")
    plan = RenderPlan.model_validate_json((run_dir / "scene_plan.json").read_text())
    narration = sum(audio_duration(run_dir / "round-1" / "audio" / f"{scene.id}.wav") for scene in plan.scenes)
    assert info.has_audio and (info.width, info.height) == (360, 640)
    # Each sub-scene lasts as long as its narration plus a fixed breath between scenes.
    assert abs(info.duration_s - (narration + SCENE_PAD_S * len(plan.scenes))) <= 0.5
    assert info.audio_duration_s is not None and abs(info.audio_duration_s - info.duration_s) <= 0.5


def test_subtitles_parse_and_stay_within_the_video(resumed_run: tuple[Path, int]) -> None:
    run_dir = resumed_run[0]
    cues = parse_srt((run_dir / "subtitles.srt").read_text())
    duration = probe_video(run_dir / "video.mp4").duration_s
    assert [c[0] for c in cues] == list(range(1, len(cues) + 1))
    assert all(start < end for _, start, end, _ in cues)
    assert all(a[2] <= b[1] + 1e-3 for a, b in zip(cues, cues[1:])), "cues overlap"
    assert cues[-1][2] <= duration + 0.05


def test_no_text_overflows_and_real_figures_are_shown(resumed_run: tuple[Path, int]) -> None:
    run_dir = resumed_run[0]
    checks = json.loads((run_dir / "round-1" / "checks.json").read_text())
    assert not [f for f in checks["flags"] if f["kind"] == "text_overflow"], checks["flags"]
    plan = json.loads((run_dir / "scene_plan.json").read_text())
    shown = {s["figure"] for s in plan["scenes"] if s["figure"]}
    assert shown, "the teaser always shows one of the paper's own figures"
    for figure in shown:
        assert Path(plan["figures"][figure]).is_file()


def test_resume_did_not_redo_finished_model_work(resumed_run: tuple[Path, int]) -> None:
    run_dir, calls_before = resumed_run
    roles = [json.loads(line)["role"] for line in (run_dir / "trace.jsonl").read_text().splitlines()]
    before, after = roles[:calls_before], roles[calls_before:]
    assert {"flashtalk_writer", "scene_planner", "text_editor", "layout_allocator", "effects_assistant"} <= set(before)
    assert set(after) == {"critic", "evaluator"}, "after the kill only the nodes after rendering call a model"


def test_the_resumed_video_is_the_video_an_uninterrupted_render_makes(resumed_run: tuple[Path, int], tmp_path: Path) -> None:
    run_dir = resumed_run[0]
    plan = RenderPlan.model_validate_json((run_dir / "round-1" / "scene_plan.json").read_text())
    audio = {scene.id: run_dir / "round-1" / "audio" / f"{scene.id}.wav" for scene in plan.scenes}
    fresh = render_video(plan, audio, tmp_path, workers=2)
    assert fresh.video.read_bytes() == (run_dir / "round-1" / "video.mp4").read_bytes()
    assert not list((run_dir / "round-1").rglob("*.tmp*")), "a killed render's temporary files are cleaned up"


def test_report_has_scores_thumbnails_and_the_plot(resumed_run: tuple[Path, int]) -> None:
    run_dir = resumed_run[0]
    report = (run_dir / "report.md").read_text()
    assert "## Scores per round" in report and "| 1 |" in report
    assert "<img src=\"round-1/scenes/" in report
    assert (run_dir / "scores.png").stat().st_size > 5_000
