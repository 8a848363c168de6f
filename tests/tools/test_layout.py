"""Layout templates: every slot inside the frame, no two content slots overlapping, both orientations."""

from __future__ import annotations

import itertools

import pytest

from agentgraphs.tools.layout import TEMPLATES, LayoutError, layout_boxes, split_box
from agentgraphs.tools.render_plan import Box


@pytest.mark.parametrize("size", [(1080, 1920), (1920, 1080), (360, 640)])
@pytest.mark.parametrize("avatar", [False, True])
@pytest.mark.parametrize("template", TEMPLATES)
def test_slots_fit_the_frame_and_do_not_overlap(template: str, size: tuple[int, int], avatar: bool) -> None:
    boxes = layout_boxes(template, *size, avatar=avatar)
    assert {"title", "body", "captions"} <= set(boxes)
    assert ("avatar" in boxes) == avatar
    assert ("figure" in boxes) == template.startswith("figure")
    for name, box in boxes.items():
        assert box.inside_frame(), name
    for (a, box_a), (b, box_b) in itertools.combinations(boxes.items(), 2):
        assert not box_a.overlaps(box_b), f"{template} {size}: {a} overlaps {b}"


def test_landscape_puts_text_beside_the_figure() -> None:
    boxes = layout_boxes("figure_with_points", 1920, 1080, avatar=False)
    assert boxes["body"].x >= boxes["figure"].x + boxes["figure"].w


def test_unknown_template_lists_the_templates() -> None:
    with pytest.raises(LayoutError, match="title_card, figure_focus, figure_with_points, text_only"):
        layout_boxes("collage", 1080, 1920)


def test_split_box_gives_rows_for_bullets() -> None:
    rows = split_box(Box(x=0.1, y=0.5, w=0.8, h=0.3), 3)
    assert len(rows) == 3
    assert all(not a.overlaps(b) for a, b in itertools.combinations(rows, 2))
    assert rows[-1].y + rows[-1].h == pytest.approx(0.8)
    with pytest.raises(LayoutError):
        split_box(rows[0], 0)
