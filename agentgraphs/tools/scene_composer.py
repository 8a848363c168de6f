"""Turns the agents' choices for each sub-scene into the renderer's :class:`RenderPlan`.

Deterministic: the scene planner's visual (and a diagram's steps), the text editor's words and size, the layout
allocator's template and the effects assistant's effect are merged here, boxes come from
``tools.layout``, and font sizes from a small fixed table. Keeping this out of the agents means a
model only ever makes named choices, and the same choices always give the same plan.
"""

from __future__ import annotations

import re
from typing import Any

from agentgraphs.tools.layout import layout_boxes
from agentgraphs.tools.render_plan import Box, Diagram, RenderPlan, SceneCard, TextBlock, frame_size
from agentgraphs.tools.text import clip_text

__all__ = ["CAPTION_PX", "HEADLINE_PX", "POINT_PX", "TITLE_PX", "compose_plan", "short_caption"]

# Pixel sizes at a 1080-wide frame. The smallest (40 px) is still above the legible minimum the
# video checks use at every named output size, so the text editor's "small" is never illegible.
HEADLINE_PX: dict[str, int] = {"small": 56, "medium": 64, "large": 76}
POINT_PX: dict[str, int] = {"small": 40, "medium": 44, "large": 50}
TITLE_PX: dict[str, int] = {"small": 64, "medium": 76, "large": 88}

HIGHLIGHT_REGIONS: dict[str, Box] = {
    "top": Box(x=0.02, y=0.02, w=0.96, h=0.48),
    "bottom": Box(x=0.02, y=0.50, w=0.96, h=0.48),
    "left": Box(x=0.02, y=0.02, w=0.48, h=0.96),
    "right": Box(x=0.50, y=0.02, w=0.48, h=0.96),
    "center": Box(x=0.25, y=0.25, w=0.50, h=0.50),
}
"""Named parts of a figure a highlight box can mark (fractions of the figure)."""


CAPTION_PX = 36
"""The paper's own figure caption under a figure (figure_focus), at a 1080-wide frame."""
CAPTION_CHARS = 110


def short_caption(caption: str, limit: int = CAPTION_CHARS) -> str:
    """The caption's label and first sentence ("Figure 3: Loss falls…"), cut at a word if long."""
    caption = " ".join(caption.split())
    label = re.match(r"(Fig(?:ure)?\.?\s*\d+[a-z]?\s*[:|.]?)\s*", caption, re.IGNORECASE)
    head, rest = (label.group(1), caption[label.end():]) if label else ("", caption)
    sentence = re.match(r"(.{16,}?[.!?])(?:\s|$)", rest)  # not "e.g." or "(a)."
    first = f"{head} {sentence.group(1) if sentence else rest}".strip()
    return clip_text(first, limit)


def _card(scene: dict[str, Any], text: dict[str, Any], layout: dict[str, Any], effect: dict[str, Any], *,
          title: str, width: int, height: int, avatar: bool, captions: dict[str, str]) -> SceneCard:
    boxes = layout_boxes(layout["template"], width, height, avatar=avatar)
    size = text.get("size", "medium")
    texts: list[TextBlock] = []
    if layout["template"] == "title_card":
        texts.append(TextBlock(text=title, box=boxes["title"], size=TITLE_PX[size], kind="title", bold=True, align="center"))
        if text.get("headline") and text["headline"].strip().lower() != title.strip().lower() and "body" in boxes:
            texts.append(TextBlock(text=text["headline"], box=boxes["body"], size=POINT_PX[size], kind="heading", align="center"))
    else:
        texts.append(TextBlock(text=text["headline"], box=boxes["title"], size=HEADLINE_PX[size], kind="heading", bold=True))
        points = [p for p in text.get("points", []) if p.strip()]
        figure_caption = captions.get(scene.get("figure") or "")
        if layout["template"] == "figure_focus" and figure_caption:
            # The paper's own words under its figure: the viewer sees what the figure is.
            texts.append(TextBlock(text=short_caption(figure_caption), box=boxes["body"], size=CAPTION_PX,
                                   kind="caption", color="#CBD5E1"))
        elif points and "body" in boxes:
            texts.append(TextBlock(text="\n".join(f"• {p}" for p in points), box=boxes["body"], size=POINT_PX[size], kind="bullet"))
    figure = scene.get("figure") if "figure" in boxes else None
    steps = [step for step in scene.get("steps", []) if step.strip()]
    diagram = (Diagram(steps=steps, box=boxes["figure"], size=POINT_PX[size])
               if scene.get("visual") == "diagram" and "figure" in boxes and 2 <= len(steps) <= 4 else None)
    region, chosen = effect.get("region", "none"), effect.get("effect", "none")
    fits = chosen == "fade" or (figure is not None and chosen != "reveal") or (diagram is not None and chosen in ("none", "reveal"))
    return SceneCard(
        id=scene["id"], part=scene["part"], narration=scene["narration"], texts=texts,
        figure=figure, figure_box=boxes["figure"] if figure else None, diagram=diagram,
        effect=chosen if fits else "none",
        highlight=HIGHLIGHT_REGIONS.get(region) if figure and chosen == "highlight" else None,
    )


def compose_plan(*, title: str, scenes: list[dict[str, Any]], texts: list[dict[str, Any]],
                 layouts: list[dict[str, Any]], effects: list[dict[str, Any]], figures: dict[str, str],
                 size: str, avatar: str | None = None, captions: dict[str, str] | None = None,
                 title_animation: bool = False, diagram_animation: bool = False) -> RenderPlan:
    """The render plan for sub-scenes given in order, with one choice of each kind per sub-scene."""
    if not (len(scenes) == len(texts) == len(layouts) == len(effects)):
        raise ValueError(
            f"every sub-scene needs one text, layout and effect choice; got {len(scenes)} scenes, "
            f"{len(texts)} texts, {len(layouts)} layouts, {len(effects)} effects"
        )
    width, height = frame_size(size)
    cards = [
        _card(scene, text, layout, effect, title=title, width=width, height=height, avatar=avatar is not None,
              captions=captions or {})
        for scene, text, layout, effect in zip(scenes, texts, layouts, effects)
    ]
    any_boxes = layout_boxes("figure_focus", width, height, avatar=avatar is not None)
    used = {card.figure for card in cards if card.figure}
    return RenderPlan(
        title=title, width=width, height=height, scenes=cards,
        figures={fid: path for fid, path in figures.items() if fid in used},
        avatar=avatar, avatar_box=any_boxes.get("avatar") if avatar else None,
        caption_box=any_boxes.get("captions", RenderPlan.model_fields["caption_box"].default),
        title_animation=title_animation, diagram_animation=diagram_animation,
    )
