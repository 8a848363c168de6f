"""The whole render: real espeak-ng narration, real frames, real H.264/AAC encoding at preview size."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest
from PIL import Image

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from agentgraphs.tools import video  # noqa: E402
from agentgraphs.tools.layout import layout_boxes  # noqa: E402
from agentgraphs.tools.narration import synthesize  # noqa: E402
from agentgraphs.tools.render_plan import Diagram, RenderPlan, SceneCard, TextBlock  # noqa: E402
from agentgraphs.tools.video import FfmpegError, RenderResult, VideoError, probe_video, render_video  # noqa: E402
from agentgraphs.tools.video_checks import sample_frame  # noqa: E402

W, H = 360, 640


def _plan(root: Path) -> RenderPlan:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(["ours", "baseline"], [0.82, 0.64])
    fig.savefig(root / "fig1.png", dpi=60)
    plt.close(fig)
    title = layout_boxes("title_card", W, H, avatar=False)
    focus = layout_boxes("figure_focus", W, H, avatar=False)
    return RenderPlan(title="Demo", width=W, height=H, figures={"fig1": str(root / "fig1.png")}, scenes=[
        SceneCard(id="hook", part="hook", narration="Can a small model beat a large one?",
                  texts=[TextBlock(text="Small beats large", box=title["title"], size=90, bold=True, align="center")]),
        SceneCard(id="result", part="teaser", narration="Our model reaches eighty two percent [4].",
                  texts=[TextBlock(text="82% vs 64%", box=focus["title"], size=70)],
                  figure="fig1", figure_box=focus["figure"], effect="zoom_in"),
        SceneCard(id="method", part="context", narration="We parse the paper, plan the scenes and render them.",
                  texts=[TextBlock(text="How it works", box=focus["title"], size=64, kind="heading", bold=True)],
                  diagram=Diagram(steps=["Parse the paper", "Plan the scenes", "Render"], box=focus["figure"]),
                  effect="reveal"),
        SceneCard(id="cta", part="call_to_action", narration="Read the paper to learn how.", effect="fade",
                  figure="fig1", figure_box=focus["figure"]),
    ])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[RenderPlan, dict[str, Path], RenderResult, RenderResult]:
    root = tmp_path_factory.mktemp("video")
    plan = _plan(root)
    narration = {s.id: root / f"{s.id}.wav" for s in plan.scenes}
    for scene in plan.scenes:
        synthesize(scene.narration, narration[scene.id])
    serial = render_video(plan, narration, root / "serial", workers=1)
    parallel = render_video(plan, narration, root / "parallel", workers=2)
    return plan, narration, serial, parallel


def test_video_has_audio_and_lasts_as_long_as_the_narration(rendered) -> None:
    plan, _, result, _ = rendered
    info = probe_video(result.video)
    assert (info.width, info.height, info.fps) == (W, H, plan.fps)
    assert info.has_audio and info.audio_duration_s is not None
    expected = result.narration_s + result.pad_s * len(plan.scenes)  # each scene: its narration + a short pad
    assert abs(info.duration_s - expected) <= 0.5
    assert abs(info.audio_duration_s - info.duration_s) <= 0.5
    assert abs(info.duration_s - result.duration_s) <= 0.1
    for scene in result.scenes:
        assert 0 <= scene.duration_s - scene.narration_s <= result.pad_s + 1 / plan.fps


def test_subtitles_parse_and_are_timed_within_the_video(rendered) -> None:
    _, _, result, _ = rendered
    blocks = result.srt.read_text(encoding="utf-8").strip().split("\n\n")
    stamp = r"(\d\d):(\d\d):(\d\d),(\d{3})"
    last_end = 0.0
    for number, block in enumerate(blocks, 1):
        index, times, text = block.split("\n", 2)
        assert int(index) == number and text.strip()
        match = re.fullmatch(f"{stamp} --> {stamp}", times)
        assert match
        g = [int(x) for x in match.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        assert last_end - 0.001 <= start < end
        last_end = end
    assert last_end <= probe_video(result.video).duration_s
    assert "[4]" not in result.srt.read_text(encoding="utf-8")


def test_thumbnails_and_measurements_per_scene(rendered) -> None:
    plan, _, result, _ = rendered
    assert [s.id for s in result.scenes] == [s.id for s in plan.scenes]
    for scene in result.scenes:
        with Image.open(scene.thumbnail) as thumb:
            assert thumb.size == (W, H)
        assert scene.measure.scene_id == scene.id
        assert [c.text for c in scene.measure.captions] == [c.text for c in scene.cues]  # burned-in = .srt
    assert result.scenes[1].measure.figure_rect is not None


def test_parallel_and_serial_renders_are_byte_identical(rendered) -> None:
    _, _, serial, parallel = rendered
    assert serial.video.read_bytes() == parallel.video.read_bytes()
    assert serial.srt.read_text() == parallel.srt.read_text()


def test_failing_encoder_is_named_and_leaves_no_video(rendered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan, narration, _, _ = rendered
    monkeypatch.setattr(video, "ffmpeg_exe", lambda: str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(FfmpegError, match="ffmpeg not found at .*no-such-ffmpeg.*reinstall"):
        render_video(plan, narration, tmp_path / "out", workers=1)
    assert not (tmp_path / "out" / "video.mp4").exists()
    assert not list((tmp_path / "out").glob("**/*.mp4"))


def test_ffmpeg_error_carries_its_stderr_and_leaves_no_video(rendered, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    plan, narration, _, _ = rendered
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho \"Unknown encoder 'libx264'\" >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(video, "ffmpeg_exe", lambda: str(fake))
    with pytest.raises(FfmpegError, match=r"ffmpeg failed \(exit 1\) while encoding scene hook: Unknown encoder 'libx264'"):
        render_video(plan, narration, tmp_path / "out", workers=1)
    assert not (tmp_path / "out" / "video.mp4").exists()
    assert not list((tmp_path / "out").glob("**/*.mp4"))


def test_missing_narration_and_unreadable_video_are_reported(rendered, tmp_path: Path) -> None:
    plan, narration, _, _ = rendered
    with pytest.raises(VideoError, match="no narration audio for scene.*cta"):
        render_video(plan, {k: v for k, v in narration.items() if k != "cta"}, tmp_path, workers=1)
    (tmp_path / "x.mp4").write_bytes(b"junk")
    with pytest.raises(VideoError, match="cannot read"):
        probe_video(tmp_path / "x.mp4")


def test_an_animated_title_card_opens_the_video_and_shifts_the_captions(rendered, tmp_path: Path) -> None:
    """``title_animation``: our manim title card, silent, joined before the scenes without re-encoding."""
    pytest.importorskip("manim", reason="the animated title card needs the video extra (manim)")
    plan, narration, plain, _ = rendered
    result = render_video(plan.model_copy(update={"title_animation": True}), narration, tmp_path, workers=2)
    info = probe_video(result.video)
    assert result.intro_s == video.INTRO_S
    assert abs(info.duration_s - (video.INTRO_S + plain.duration_s)) <= 0.2
    assert info.has_audio and abs(info.audio_duration_s - info.duration_s) <= 0.5
    assert result.scenes[0].start_s == pytest.approx(video.INTRO_S)
    first_cue = re.search(r"(\d\d):(\d\d):(\d\d),(\d{3}) -->", result.srt.read_text())
    assert first_cue is not None
    h, m, s, ms = (int(g) for g in first_cue.groups())
    assert h * 3600 + m * 60 + s + ms / 1000 >= video.INTRO_S


def test_diagram_animation_puts_a_manim_clip_in_the_diagram_area(rendered, tmp_path: Path) -> None:
    """``diagram_animation``: the diagram scene shows our manim flow diagram; timing, audio and the
    other scenes' clips stay exactly as without it."""
    pytest.importorskip("manim", reason="the animated diagram needs the video extra (manim)")
    plan, narration, plain, _ = rendered
    result = render_video(plan.model_copy(update={"diagram_animation": True}), narration, tmp_path, workers=2)
    assert [s.duration_s for s in result.scenes] == [s.duration_s for s in plain.scenes]
    info = probe_video(result.video)
    assert abs(info.duration_s - plain.duration_s) <= 0.1 and abs(info.audio_duration_s - info.duration_s) <= 0.5
    for animated, still in zip(result.scenes, plain.scenes):
        assert (animated.clip.read_bytes() == still.clip.read_bytes()) == (animated.id != "method")
    method = next(s for s in result.scenes if s.id == "method")
    assert method.measure.blocks == next(s for s in plain.scenes if s.id == "method").measure.blocks
    left, top, right, bottom = method.measure.diagram_rect
    early = sample_frame(str(method.clip), 0.05, W, H)[top:bottom, left:right]
    late = sample_frame(str(method.clip), method.duration_s - 0.1, W, H)[top:bottom, left:right]
    assert early.std() < late.std() and late.std() > 10  # boxes grow in: more drawn at the end than at the start
