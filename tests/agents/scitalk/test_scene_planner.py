"""The scene planner's per-shot schema: a diagram only where a part allows one, its steps bounded
data, and an unusable diagram answer falls back to text."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agentgraphs.agents.scitalk.effects_assistant import EffectChoice, fitting_effect
from agentgraphs.agents.scitalk.layout_allocator import LayoutChoice, fitting_template
from agentgraphs.agents.scitalk.scene_planner import STEP_CHARS, VISUALS, _shot_schema, diagram_steps

FIGURES = [{"id": "fig1", "caption": "Figure 1: the pipeline parses, plans and renders."}]
SHOTS = ["We parse the paper, plan the scenes and render the video."]
DIAGRAM = {"visual": "diagram", "figure": "none", "steps": ["Parse", "Plan", "Render"], "note": "a pipeline"}


def test_only_the_context_may_show_a_diagram() -> None:
    assert [part for part, visuals in VISUALS.items() if "diagram" in visuals] == ["context"]
    schema = _shot_schema("context", SHOTS, FIGURES)
    assert schema.model_validate({"shot1": DIAGRAM}).shot1.steps == ["Parse", "Plan", "Render"]
    for part in ("hook", "teaser", "call_to_action"):
        with pytest.raises(ValidationError):
            _shot_schema(part, SHOTS * 2, FIGURES).model_validate({"shot1": DIAGRAM, "shot2": DIAGRAM})


@pytest.mark.parametrize("steps", [["Parse"], ["a", "b", "c", "d", "e"], ["Parse", "x" * (STEP_CHARS + 1)]])
def test_step_lists_and_labels_are_bounded_in_the_schema(steps: list[str]) -> None:
    with pytest.raises(ValidationError):
        _shot_schema("context", SHOTS, FIGURES).model_validate({"shot1": {**DIAGRAM, "steps": steps}})
    properties = _shot_schema("context", SHOTS, FIGURES).model_json_schema()["$defs"]["Shot1"]["properties"]
    assert properties["steps"]["minItems"] == 2 and properties["steps"]["maxItems"] == 4
    assert properties["steps"]["items"]["maxLength"] == STEP_CHARS


def test_blank_steps_leave_no_diagram() -> None:
    assert diagram_steps(["  Parse   the  paper ", "", "Render"]) == ["Parse the paper", "Render"]
    assert diagram_steps(["Parse", "   "]) is None


def test_a_diagram_gets_a_figure_slot_and_a_diagram_effect() -> None:
    assert fitting_template(LayoutChoice(template="text_only"), has_figure=False, visual="diagram").template == "figure_focus"
    assert fitting_effect(EffectChoice(effect="zoom_in"), has_figure=False, diagram=True).effect == "reveal"
    assert fitting_effect(EffectChoice(effect="reveal"), has_figure=False, diagram=True).effect == "reveal"
    assert fitting_effect(EffectChoice(effect="reveal"), has_figure=False).effect == "fade"
    assert fitting_effect(EffectChoice(effect="reveal"), has_figure=True).effect == "none"
