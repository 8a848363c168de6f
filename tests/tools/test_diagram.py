"""Flow diagrams drawn by Pillow: every step's box and label inside the frame, no box over another,
steps revealed one after another, labels fitted like any other text and counted by the checks."""

from __future__ import annotations

import numpy as np
import pytest

from agentgraphs.tools.diagram import flow_arrows, flow_rects, label_rect
from agentgraphs.tools.frames import SceneFrames
from agentgraphs.tools.layout import layout_boxes
from agentgraphs.tools.render_plan import FRAME_SIZES, Diagram, RenderPlan, SceneCard, TextBlock

STEPS = ["Parse the paper PDF", "Plan scenes for each part", "Narrate every sub-scene", "Render and critique"]


def _frames(size: tuple[int, int], steps: list[str], *, effect: str = "none", duration: float = 4.0) -> SceneFrames:
    width, height = size
    boxes = layout_boxes("figure_focus", width, height)
    scene = SceneCard(id="method", part="context", narration="First parse, then plan, then narrate, then render.",
                      texts=[TextBlock(text="How it works", box=boxes["title"], size=64, kind="heading", bold=True)],
                      diagram=Diagram(steps=steps, box=boxes["figure"]), effect=effect)
    return SceneFrames(RenderPlan(title="t", width=width, height=height, scenes=[scene], captions=False), scene, duration)


def _inside(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    return outer[0] <= inner[0] <= inner[2] <= outer[2] and outer[1] <= inner[1] <= inner[3] <= outer[3]


@pytest.mark.parametrize("size", sorted(FRAME_SIZES))
@pytest.mark.parametrize("count", [2, 3, 4])
def test_every_step_and_label_is_inside_the_frame_and_no_boxes_overlap(size: str, count: int) -> None:
    width, height = FRAME_SIZES[size]
    frames = _frames((width, height), STEPS[:count])
    area = frames.measure.diagram_rect
    assert area is not None and _inside(area, (0, 0, width, height))
    rects = flow_rects(area, count, vertical=height > width)
    for rect in rects:
        assert _inside(rect, area) and rect[2] > rect[0] and rect[3] > rect[1]
    for a, b in zip(rects, rects[1:]):
        assert (a[3] < b[1]) if height > width else (a[2] < b[0])  # in flow order, a gap for the arrow
    for (start, end), a, b in zip(flow_arrows(rects, vertical=height > width), rects, rects[1:]):
        assert not _inside((*start, *start), a) and not _inside((*end, *end), b)  # arrows run between the boxes
    labels = frames.measure.blocks[1:]
    assert [label.text for label in labels] == STEPS[:count] and {label.kind for label in labels} == {"label"}
    for label, rect in zip(labels, rects):
        assert label.box == label_rect(rect) and not label.overflow
        assert label.drawn is not None and _inside(label.drawn, rect)
        assert label.final_px >= label.min_legible_px
    headline = frames.measure.blocks[0]
    assert headline.drawn[3] <= area[1] if height > width else headline.drawn[3] <= rects[0][1]


def test_vertical_frames_stack_the_steps_and_landscape_ones_line_them_up() -> None:
    tall = flow_rects((0, 0, 600, 900), 3, vertical=True)
    wide = flow_rects((0, 0, 900, 600), 3, vertical=False)
    assert len({r[0] for r in tall}) == 1 and tall[0][1] < tall[1][1] < tall[2][1]
    assert len({r[1] for r in wide}) == 1 and wide[0][0] < wide[1][0] < wide[2][0]


def test_reveal_shows_fewer_steps_early_than_late() -> None:
    frames = _frames(FRAME_SIZES["preview"], STEPS[:3], effect="reveal", duration=3.0)
    rects = flow_rects(frames.measure.diagram_rect, 3, vertical=True)
    background = np.array(frames.background)

    def shown(index: int) -> int:
        frame = frames.frame(index)
        return sum(bool((frame[r[1]:r[3], r[0]:r[2]] != background).any()) for r in rects)

    assert shown(0) == 1
    assert shown(frames.n_frames // 3) == 2
    assert shown(frames.n_frames - 1) == 3
    still = _frames(FRAME_SIZES["preview"], STEPS[:3], effect="none", duration=3.0)
    assert np.array_equal(still.frame(0), frames.frame(frames.n_frames - 1))  # reveal ends on the full diagram


def test_a_label_too_long_for_its_box_is_cut_and_recorded_as_overflow() -> None:
    frames = _frames(FRAME_SIZES["preview"], ["Parse", " ".join(["an extremely long step label"] * 8), "Render", "Done"])
    long = frames.measure.blocks[2]
    assert long.truncated and long.overflow and long.final_px == long.min_legible_px


def test_a_diagram_and_a_figure_in_one_scene_are_refused() -> None:
    box = layout_boxes("figure_focus", 360, 640)["figure"]
    with pytest.raises(ValueError, match="both figure 'f' and a diagram"):
        SceneCard(id="x", part="context", narration="x", figure="f", figure_box=box, diagram=Diagram(steps=["a", "b"], box=box))
    with pytest.raises(ValueError, match="at least 2"):
        Diagram(steps=["only one"], box=box)
