"""The declarative video plan that the agents write and the renderer interprets.

Agents never write code that draws: they fill these models (texts, boxes, a figure id, an effect
from a fixed vocabulary) and the deterministic tools in this package turn them into frames,
narration, an mp4 and checks. Geometry is in fractions of the frame, so one plan renders at any
output size; font sizes are in pixels at a 1080-pixel-wide reference frame and scale with width.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "EFFECTS",
    "FRAME_SIZES",
    "REFERENCE_WIDTH",
    "Box",
    "Diagram",
    "Effect",
    "RenderPlan",
    "SceneCard",
    "TextBlock",
    "frame_size",
]

FRAME_SIZES: dict[str, tuple[int, int]] = {
    "vertical": (1080, 1920),
    "landscape": (1920, 1080),
    "preview": (360, 640),
}
"""Named output sizes (width, height); ``frame_size`` also takes ``"WxH"``."""

REFERENCE_WIDTH = 1080
"""Font sizes in a plan are pixels at this frame width; the renderer scales them to the output."""

Effect = Literal["none", "zoom_in", "zoom_out", "pan_left", "pan_right", "highlight", "fade", "reveal"]
EFFECTS: tuple[str, ...] = ("none", "zoom_in", "zoom_out", "pan_left", "pan_right", "highlight", "fade", "reveal")
"""``reveal`` is for diagrams: their steps appear one after another."""


def frame_size(size: str) -> tuple[int, int]:
    """(width, height) for a named size or ``"WxH"``; even numbers, as H.264 needs."""
    if size in FRAME_SIZES:
        return FRAME_SIZES[size]
    match = re.fullmatch(r"(\d{2,5})x(\d{2,5})", size.strip())
    if not match:
        raise ValueError(f"unknown video size {size!r}; use one of {', '.join(FRAME_SIZES)} or WIDTHxHEIGHT")
    width, height = int(match.group(1)), int(match.group(2))
    if width % 2 or height % 2:
        raise ValueError(f"video size {size!r} must have even width and height (H.264 needs them)")
    return width, height


class Box(BaseModel):
    """A rectangle in fractions of the frame (or of a figure, for a highlight), origin top-left."""

    model_config = ConfigDict(frozen=True)

    x: float = Field(ge=0.0, le=1.0)
    y: float = Field(ge=0.0, le=1.0)
    w: float = Field(gt=0.0, le=1.0)
    h: float = Field(gt=0.0, le=1.0)

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in pixels of a ``width`` × ``height`` frame."""
        return (round(self.x * width), round(self.y * height),
                round((self.x + self.w) * width), round((self.y + self.h) * height))

    def overlaps(self, other: Box) -> bool:
        return (self.x < other.x + other.w and other.x < self.x + self.w
                and self.y < other.y + other.h and other.y < self.y + self.h)

    def inside_frame(self) -> bool:
        return self.x + self.w <= 1.0 + 1e-6 and self.y + self.h <= 1.0 + 1e-6


class TextBlock(BaseModel):
    """One piece of on-screen text, wrapped inside its box."""

    text: str
    box: Box
    size: int = Field(default=48, ge=4, le=240)
    """Font size in pixels at a 1080-pixel-wide frame."""
    kind: Literal["title", "heading", "body", "bullet", "caption", "label"] = "body"
    bold: bool = False
    color: str = "#FFFFFF"
    align: Literal["left", "center"] = "left"


class Diagram(BaseModel):
    """A method drawn as 2-4 step boxes joined by arrows (top to bottom on vertical frames, else left to right)."""

    steps: list[str] = Field(min_length=2, max_length=4)
    """The step labels in order: short text, drawn and measured like any other text."""
    box: Box
    """The area the whole diagram is fitted into."""
    size: int = Field(default=44, ge=4, le=240)
    """Label font size in pixels at a 1080-pixel-wide frame."""


class SceneCard(BaseModel):
    """One sub-scene: a visual held for as long as its narration lasts."""

    id: str
    """Unique within the plan, e.g. ``hook-1``; names its files."""
    part: str
    """The script part it belongs to (hook, context, teaser, call_to_action)."""
    narration: str
    """Spoken over the sub-scene; its audio length sets the sub-scene's duration."""
    texts: list[TextBlock] = Field(default_factory=list)
    figure: str | None = None
    """A key of ``RenderPlan.figures``: the paper's own figure to show."""
    figure_box: Box | None = None
    """Where the figure is fitted (aspect kept, never stretched)."""
    effect: Effect = "none"
    highlight: Box | None = None
    """For ``effect="highlight"``: the region of the figure to mark, in fractions of the figure."""
    diagram: Diagram | None = None
    """A flow diagram shown instead of a figure."""
    background: str = "#0F172A"

    @model_validator(mode="after")
    def _figure_has_a_box(self) -> SceneCard:
        if self.figure is not None and self.figure_box is None:
            raise ValueError(f"scene {self.id}: figure {self.figure!r} has no figure_box")
        if self.figure is not None and self.diagram is not None:
            raise ValueError(f"scene {self.id} shows both figure {self.figure!r} and a diagram; keep one")
        return self


class RenderPlan(BaseModel):
    """Everything the renderer needs; plain data, saved as ``scene_plan.json``."""

    title: str
    width: int = Field(ge=64, le=4096)
    height: int = Field(ge=64, le=4096)
    fps: int = Field(default=24, ge=1, le=60)
    scenes: list[SceneCard]
    figures: dict[str, str] = Field(default_factory=dict)
    """Figure id → PNG path (the paper's own figures, extracted by ``tools.paper``)."""
    avatar: str | None = None
    """An optional presenter image shown in ``avatar_box`` on every sub-scene."""
    avatar_box: Box | None = None
    captions: bool = True
    """Burn the narration into the frame as timed captions (an ``.srt`` is written either way)."""
    caption_box: Box = Box(x=0.05, y=0.80, w=0.90, h=0.14)
    caption_size: int = 44
    """Caption font size in pixels at a 1080-pixel-wide frame."""
    title_animation: bool = False
    """Open with an animated title card (our own manim Scene, ``tools.manim_scenes``), silent."""
    diagram_animation: bool = False
    """Draw diagrams with our own manim Scene (boxes grow in, arrows draw) instead of Pillow's reveal."""

    @model_validator(mode="after")
    def _consistent(self) -> RenderPlan:
        ids = [scene.id for scene in self.scenes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"scene ids must be unique, got {ids}")
        for scene in self.scenes:
            if scene.figure is not None and scene.figure not in self.figures:
                raise ValueError(f"scene {scene.id} shows figure {scene.figure!r}, which is not in the plan's figures")
        if not self.scenes:
            raise ValueError("a render plan needs at least one scene")
        return self

    def scale(self) -> float:
        """Pixels per plan font-size unit at this output width."""
        return self.width / REFERENCE_WIDTH
