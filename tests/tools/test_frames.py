"""Frames: real Pillow drawing at preview size; aspect kept, text fitted or flagged, effects move."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from agentgraphs.tools.frames import FrameError, SceneFrames, caption_cues, font_path, min_legible_px  # noqa: E402
from agentgraphs.tools.render_plan import Box, RenderPlan, SceneCard, TextBlock  # noqa: E402

W, H = 360, 640
LONG = " ".join(["Transformers attend to every token in the sequence at once"] * 12)


def _figure(path: Path, w_in: float, h_in: float) -> Path:
    fig, ax = plt.subplots(figsize=(w_in, h_in))
    ax.plot([0, 1, 2, 3], [1, 3, 2, 4], linewidth=4)
    ax.set_title("Accuracy")
    fig.savefig(path, dpi=50)
    plt.close(fig)
    return path


def _plan(tmp_path: Path, scene: SceneCard, *, captions: bool = True) -> RenderPlan:
    figures = {"wide": str(_figure(tmp_path / "wide.png", 8, 3)), "tall": str(_figure(tmp_path / "tall.png", 3, 6))}
    return RenderPlan(title="t", width=W, height=H, scenes=[scene], figures=figures, captions=captions)


@pytest.mark.parametrize("figure", ["wide", "tall"])
def test_figure_keeps_its_aspect_inside_its_box(tmp_path: Path, figure: str) -> None:
    box = Box(x=0.1, y=0.2, w=0.8, h=0.4)
    scene = SceneCard(id="s", part="hook", narration="A figure.", figure=figure, figure_box=box)
    frames = SceneFrames(_plan(tmp_path, scene), scene, 1.0)
    m = frames.measure
    left, top, right, bottom = m.figure_rect
    bl, bt, br, bb = box.pixels(W, H)
    assert bl <= left and right <= br and bt <= top and bottom <= bb
    assert right - left == br - bl or bottom - top == bb - bt  # fills one dimension, letterboxed in the other
    assert m.drawn_aspect == pytest.approx(m.figure_aspect, rel=0.02)
    frame = frames.frame(0)
    assert frame.shape == (H, W, 3)
    assert frame[top:bottom, left:right].std() > 10  # the figure is really there


def test_sensible_text_keeps_its_size_and_long_text_is_cut_and_recorded(tmp_path: Path) -> None:
    box = Box(x=0.05, y=0.05, w=0.9, h=0.15)
    scene = SceneCard(id="s", part="hook", narration="Text.", texts=[
        TextBlock(text="Attention is all you need", box=box, size=60, kind="title"),
        TextBlock(text=LONG, box=Box(x=0.05, y=0.3, w=0.9, h=0.1), size=60)])
    blocks = SceneFrames(_plan(tmp_path, scene), scene, 1.0).measure.blocks
    good, long = blocks
    assert not good.overflow and not good.shrunk and good.final_px == round(60 * W / 1080)
    assert long.truncated and long.overflow and long.lines[-1].endswith("…")
    assert long.final_px >= min_legible_px(W, H)  # shrunk to the legible minimum, not below
    assert long.drawn[3] <= long.box[3] and long.drawn[2] <= long.box[2] + 1


def test_text_asked_too_small_is_drawn_as_asked_so_checks_can_flag_it(tmp_path: Path) -> None:
    scene = SceneCard(id="s", part="hook", narration="Text.",
                      texts=[TextBlock(text="footnote", box=Box(x=0.1, y=0.1, w=0.5, h=0.1), size=8)])
    block = SceneFrames(_plan(tmp_path, scene), scene, 1.0).measure.blocks[0]
    assert block.final_px < block.min_legible_px == min_legible_px(W, H)


def test_static_frames_are_reused_and_ken_burns_moves(tmp_path: Path) -> None:
    box = Box(x=0.05, y=0.2, w=0.9, h=0.4)
    still = SceneCard(id="a", part="hook", narration="one two three", figure="wide", figure_box=box)
    zoom = still.model_copy(update={"id": "b", "effect": "zoom_in"})
    frames = SceneFrames(_plan(tmp_path, still, captions=False), still, 1.0)
    assert frames.frame(1) is frames.frame(2)
    moving = SceneFrames(_plan(tmp_path, zoom, captions=False), zoom, 1.0)
    first, last = moving.frame(0).copy(), moving.frame(moving.n_frames - 1)
    assert not np.array_equal(first, last)
    assert np.array_equal(first, frames.frame(0))  # the zoom starts from the un-zoomed figure


def test_fade_starts_from_the_background_and_highlight_fades_in(tmp_path: Path) -> None:
    box = Box(x=0.05, y=0.2, w=0.9, h=0.4)
    fade = SceneCard(id="a", part="hook", narration="x", figure="wide", figure_box=box, effect="fade")
    frames = SceneFrames(_plan(tmp_path, fade, captions=False), fade, 2.0)
    assert (frames.frame(0) == frames.frame(0)[0, 0]).all()  # only the background
    highlight = fade.model_copy(update={"effect": "highlight", "highlight": Box(x=0.5, y=0.2, w=0.3, h=0.5)})
    frames = SceneFrames(_plan(tmp_path, highlight, captions=False), highlight, 2.0)
    l, t, r, b = frames.measure.highlight_rect
    fl, ft, fr, fb = frames.measure.figure_rect
    assert fl <= l < r <= fr and ft <= t < b <= fb
    edge = lambda i: frames.frame(i)[t + 1, l + 10:r - 10].astype(int)  # noqa: E731
    assert np.abs(edge(0) - edge(47)).sum() > 0


def test_caption_cues_cover_the_narration_in_order() -> None:
    cues = caption_cues("One two three. Four five six seven eight nine ten eleven twelve [3].", 6.0, offset=10.0)
    assert cues[0].start == 10.0 and cues[-1].end == pytest.approx(16.0)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(cues, cues[1:]))
    assert "[3]" not in " ".join(c.text for c in cues)


def test_font_ships_with_an_installed_package_and_missing_figure_is_named(tmp_path: Path) -> None:
    assert font_path().is_file() and "matplotlib" in str(font_path())
    scene = SceneCard(id="s", part="hook", narration="x", figure="wide", figure_box=Box(x=0, y=0, w=1, h=0.5))
    plan = _plan(tmp_path, scene)
    plan.figures["wide"] = str(tmp_path / "missing.png")
    with pytest.raises(FrameError, match="figure 'wide'"):
        SceneFrames(plan, scene, 1.0)
