"""Animated title card: a real manim render at preview size, usable as a scene background."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentgraphs.tools.manim_scenes import ManimError, render_flow_diagram, render_title_card
from agentgraphs.tools.video import probe_video
from agentgraphs.tools.video_checks import sample_frame


def test_title_card_has_the_plan_size_and_length(tmp_path: Path) -> None:
    out = render_title_card("Small models beat large ones", tmp_path / "card.mp4", subtitle="in 60 seconds",
                            width=360, height=640, fps=24, duration=2.0)
    info = probe_video(out)
    assert (info.width, info.height, info.fps) == (360, 640, 24)
    assert info.duration_s == pytest.approx(2.0, abs=0.15)
    assert sample_frame(str(out), 1.8, 360, 640).std() > 5  # the text is on the last frames
    assert [p.name for p in tmp_path.iterdir()] == ["card.mp4"]


def test_too_short_card_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManimError, match="too short"):
        render_title_card("x", tmp_path / "c.mp4", duration=0.1)


def test_flow_diagram_has_the_size_and_frame_count_asked_for_and_grows_in(tmp_path: Path) -> None:
    out = render_flow_diagram(["Parse the paper", "Plan scenes\nper part", "Render"], tmp_path / "flow.mp4",
                              width=360, height=640, fps=24, duration=1.5)
    info = probe_video(out)
    assert (info.width, info.height, info.fps, info.has_audio) == (360, 640, 24, False)
    assert abs(info.duration_s - 1.5) <= 1 / 24 + 1e-6
    early, late = sample_frame(str(out), 0.02, 360, 640), sample_frame(str(out), 1.45, 360, 640)
    rows = lambda frame: int((frame.std(axis=1) > 3).sum())  # noqa: E731  rows with something drawn on them
    assert rows(early) < rows(late) / 2
    assert [p.name for p in tmp_path.iterdir()] == ["flow.mp4"]


def test_flow_diagram_refuses_unusable_steps(tmp_path: Path) -> None:
    with pytest.raises(ManimError, match="2-4 non-empty steps"):
        render_flow_diagram(["only one"], tmp_path / "f.mp4")
    with pytest.raises(ManimError, match="lengthen its narration"):
        render_flow_diagram(["a", "b", "c"], tmp_path / "f.mp4", fps=24, duration=0.1)
