"""Video checks on a real render: each planted problem is flagged on its scene, a clean scene is not."""

from __future__ import annotations


import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from agentgraphs.tools.layout import layout_boxes  # noqa: E402
from agentgraphs.tools.narration import synthesize  # noqa: E402
from agentgraphs.tools.render_plan import Box, RenderPlan, SceneCard, TextBlock  # noqa: E402
from agentgraphs.tools.video import RenderResult, render_video  # noqa: E402
from agentgraphs.tools.video_checks import VideoChecks, check_video, describe_frames  # noqa: E402

W, H = 360, 640
SAY = "This scene explains one idea of the paper in a single sentence."


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[RenderPlan, RenderResult, VideoChecks]:
    root = tmp_path_factory.mktemp("checks")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([0, 1, 2], [2, 0, 1], linewidth=3)
    fig.savefig(root / "fig.png", dpi=60)
    plt.close(fig)
    boxes = layout_boxes("figure_focus", W, H, avatar=False)
    long_text = " ".join(["Every token attends to every other token in the layer"] * 10)
    plan = RenderPlan(title="Checks", width=W, height=H, figures={"fig": str(root / "fig.png"), "unused": str(root / "fig.png")},
                      scenes=[
        SceneCard(id="clean", part="hook", narration=SAY, figure="fig", figure_box=boxes["figure"], effect="highlight",
                  highlight=Box(x=0.1, y=0.1, w=0.3, h=0.3),
                  texts=[TextBlock(text="One clear idea", box=boxes["title"], size=70, kind="title"),
                         TextBlock(text="Figure 1: loss falls", box=boxes["body"], size=48, kind="caption")]),
        SceneCard(id="overflow", part="context", narration=SAY,
                  texts=[TextBlock(text=long_text, box=Box(x=0.05, y=0.1, w=0.9, h=0.1), size=60)]),
        SceneCard(id="tiny", part="context", narration=SAY,
                  texts=[TextBlock(text="a footnote that nobody can read", box=Box(x=0.1, y=0.1, w=0.8, h=0.1), size=28)]),
        SceneCard(id="overlap", part="teaser", narration=SAY, figure="fig", figure_box=boxes["figure"],
                  texts=[TextBlock(text="Over the plot", box=Box(x=0.1, y=0.3, w=0.8, h=0.1), size=60)]),
        SceneCard(id="blank", part="call_to_action", narration=SAY),
    ])
    narration = {s.id: root / f"{s.id}.wav" for s in plan.scenes}
    for scene in plan.scenes:
        synthesize(scene.narration, narration[scene.id])
    result = render_video(plan, narration, root / "out", workers=2)
    return plan, result, check_video(plan, result)


def test_clean_scene_has_no_flags(checked) -> None:
    _, _, checks = checked
    assert checks.kinds("clean") == set(), checks.flags
    assert checks.kinds(None) >= {"text_overflow", "font_too_small", "text_overlaps_figure", "blank_frame"}


@pytest.mark.parametrize(("scene", "kind"), [
    ("overflow", "text_overflow"),
    ("overflow", "too_many_words_per_second"),
    ("tiny", "font_too_small"),
    ("overlap", "text_overlaps_figure"),
    ("blank", "blank_frame"),
])
def test_planted_problem_is_flagged_on_its_scene(checked, scene: str, kind: str) -> None:
    _, _, checks = checked
    assert kind in checks.kinds(scene)
    detail = next(f.detail for f in checks.flags if f.scene_id == scene and f.kind == kind)
    assert len(detail) > 30


def test_only_planted_scenes_are_blank_and_durations_match(checked) -> None:
    _, _, checks = checked
    assert {f.scene_id for f in checks.flags if f.kind == "blank_frame"} == {"blank"}
    assert not [f for f in checks.flags if f.kind == "duration_mismatch"]


def test_figures_and_words_per_second(checked) -> None:
    _, _, checks = checked
    assert checks.figures_used == ["fig"] and checks.figures_available == 2
    assert checks.words_per_second["overflow"] > checks.words_per_second["clean"] > 0
    assert checks.narration_words_per_second["clean"] > 1


def test_describe_frames_tells_a_blind_critic_what_is_shown(checked) -> None:
    plan, result, _ = checked
    lines = describe_frames(plan, result)
    assert len(lines) == len(plan.scenes)
    assert "One clear idea" in lines[0] and "figure 'fig'" in lines[0] and "Figure 1: loss falls" in lines[0]
    assert "highlight" in lines[0]
    assert "cut with an ellipsis" in lines[1]
    assert "only the background" in lines[4]
