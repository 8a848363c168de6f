"""The agents' named choices become a render plan: boxes from the layout, the paper's caption
under its figure, sizes that stay legible at every output size."""

from __future__ import annotations

import pytest

from agentgraphs.tools.frames import min_legible_px
from agentgraphs.tools.render_plan import FRAME_SIZES
from agentgraphs.tools.scene_composer import compose_plan, short_caption

SCENES = [
    {"id": "hook-1", "part": "hook", "narration": "Training can be twice as fast.", "visual": "title", "figure": None},
    {"id": "hook-2", "part": "hook", "narration": "Figure one shows it.", "visual": "figure", "figure": "fig1"},
    {"id": "teaser-1", "part": "teaser", "narration": "Three points.", "visual": "figure", "figure": "fig1"},
]
TEXTS = [{"headline": "2x faster", "points": [], "size": "large"},
         {"headline": "Loss curves", "points": ["ignored under a caption"], "size": "small"},
         {"headline": "Why", "points": ["easy first", "hard later"], "size": "medium"}]
LAYOUTS = [{"template": "title_card"}, {"template": "figure_focus"}, {"template": "figure_with_points"}]
EFFECTS = [{"effect": "fade", "region": "none"}, {"effect": "highlight", "region": "top"}, {"effect": "zoom_in", "region": "none"}]
CAPTIONS = {"fig1": "Figure 1: Validation loss falls faster with curriculum sampling. Shaded: std over seeds."}


def _plan(size: str = "vertical"):
    return compose_plan(title="Curriculum Sampling", scenes=SCENES, texts=TEXTS, layouts=LAYOUTS, effects=EFFECTS,
                        figures={"fig1": "/tmp/fig1.png", "fig9": "/tmp/unused.png"}, size=size, captions=CAPTIONS)


def test_each_template_gets_its_text_and_the_figure_its_caption() -> None:
    title, focus, points = _plan().scenes
    assert [t.kind for t in title.texts] == ["title", "heading"] and title.texts[0].text == "Curriculum Sampling"
    assert title.figure is None and title.effect == "fade"
    assert focus.texts[1].kind == "caption"
    assert focus.texts[1].text == "Figure 1: Validation loss falls faster with curriculum sampling."
    assert focus.highlight is not None and focus.highlight.y == pytest.approx(0.02)
    assert points.texts[1].text == "• easy first\n• hard later" and points.effect == "zoom_in"
    for scene in (focus, points):
        assert scene.figure == "fig1" and scene.figure_box is not None
        assert not any(t.box.overlaps(scene.figure_box) for t in scene.texts)


def test_only_figures_shown_are_in_the_plan() -> None:
    assert set(_plan().figures) == {"fig1"}


@pytest.mark.parametrize("size", sorted(FRAME_SIZES))
def test_every_chosen_size_is_legible_at_every_output_size(size: str) -> None:
    plan = _plan(size)
    floor = min_legible_px(plan.width, plan.height)
    assert all(text.size * plan.scale() >= floor for scene in plan.scenes for text in scene.texts)


def test_a_missing_choice_is_an_error_that_counts_them() -> None:
    with pytest.raises(ValueError, match="3 scenes, 2 texts"):
        compose_plan(title="t", scenes=SCENES, texts=TEXTS[:2], layouts=LAYOUTS, effects=EFFECTS, figures={}, size="preview")


def test_short_caption_keeps_the_label_and_first_sentence() -> None:
    assert short_caption("Figure 2 | A long comparison. Second sentence.") == "Figure 2 | A long comparison."
    long = short_caption("Fig. 3: " + "word " * 60)
    assert long.startswith("Fig. 3: word") and long.endswith("…") and len(long) <= 110


def _diagram_plan(layout: str, effect: str, steps: list[str]):
    scene = {"id": "context-1", "part": "context", "narration": "We parse, plan and render.", "visual": "diagram",
             "figure": None, "steps": steps}
    return compose_plan(title="t", scenes=[scene], texts=[{"headline": "How it works", "points": [], "size": "medium"}],
                        layouts=[{"template": layout}], effects=[{"effect": effect, "region": "none"}], figures={},
                        size="vertical").scenes[0]


def test_a_diagram_takes_the_figure_slot_and_keeps_its_reveal() -> None:
    card = _diagram_plan("figure_focus", "reveal", ["Parse", "Plan", "Render"])
    assert card.diagram is not None and card.diagram.steps == ["Parse", "Plan", "Render"]
    assert card.figure is None and card.effect == "reveal"
    assert not any(t.box.overlaps(card.diagram.box) for t in card.texts)
    assert _diagram_plan("figure_with_points", "zoom_in", ["Parse", "Plan"]).effect == "none"  # a figure's effect


def test_a_diagram_without_a_slot_or_steps_falls_back_to_text() -> None:
    assert _diagram_plan("text_only", "reveal", ["Parse", "Plan"]).diagram is None
    card = _diagram_plan("figure_focus", "reveal", ["Parse", "  "])
    assert card.diagram is None and card.effect == "none" and card.texts[0].text == "How it works"
