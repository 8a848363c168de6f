"""Animated title card: a real manim render at preview size, usable as a scene background."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentgraphs.tools.manim_scenes import ManimError, render_title_card
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
