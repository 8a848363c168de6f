"""The frames of one sub-scene, drawn with Pillow, and the measurements the video checks read.

Everything that does not move (background, text blocks, avatar) is drawn once per sub-scene; per
frame only the moving parts are composed (the figure under a Ken-Burns crop, the current caption,
the highlight's fade-in, the fade from/to the background, a diagram's steps appearing or its manim
clip), and a frame identical to the previous one is not composed again. Text never silently disappears: it is wrapped into its box, shrunk step
by step down to a legible minimum, and only then cut with an ellipsis, which is recorded as an
overflow for the checks and the critic agents.
"""

from __future__ import annotations

import functools
import math
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont
from pydantic import BaseModel

from agentgraphs.errors import AgentgraphsError
from agentgraphs.tools.diagram import draw_flow, flow_rects, label_rect, reveal_times
from agentgraphs.tools.narration import clean_text
from agentgraphs.tools.render_plan import Box, Diagram, RenderPlan, SceneCard, TextBlock

__all__ = [
    "FADE_S",
    "HIGHLIGHT_FADE_S",
    "MIN_LEGIBLE_FRACTION",
    "BlockMeasure",
    "Cue",
    "FrameError",
    "SceneFrames",
    "SceneMeasure",
    "caption_cues",
    "font_path",
    "min_legible_px",
]

MIN_LEGIBLE_FRACTION = 1 / 60
"""Smallest legible text as a fraction of the frame height. On a phone held at reading distance
(screen ~15 cm tall) 1/60 is ~2.5 mm, about a 10-point printed letter, the smallest size usability
guides accept for captions; on a landscape 1080p frame it is 18 px, near the 1/50–1/60 of height
that broadcast caption guides set as their floor."""

FADE_S = 0.5
"""Length of the ``fade`` effect's fade-in and fade-out."""
HIGHLIGHT_FADE_S = 0.8
"""How long the ``highlight`` box takes to fade in."""
_ZOOM = 1.25
"""How far the Ken-Burns effects zoom: enough to notice, little enough to keep the figure readable."""
_KEN_BURNS = ("zoom_in", "zoom_out", "pan_left", "pan_right")
_SHRINK = 0.9
_LINE_SPACING = 1.2
_CAPTION_WORDS = 7
"""Words per caption cue: two short lines on a phone, readable in the ~2 s a cue stays up."""


class FrameError(AgentgraphsError):
    """A frame could not be drawn (a missing figure or avatar image, an unusable font)."""


class BlockMeasure(BaseModel):
    """How one text block was actually drawn."""

    index: int
    """Position in ``SceneCard.texts``; -1 for the burned-in captions; ``len(texts) + i`` for diagram step i."""
    kind: str
    text: str
    requested_px: int
    """The plan's size scaled to the output width."""
    final_px: int
    min_legible_px: int
    box: tuple[int, int, int, int]
    """The block's box in pixels (left, top, right, bottom), as planned."""
    drawn: tuple[int, int, int, int] | None
    """The extent of the drawn text in pixels; None when nothing was drawn."""
    lines: list[str]
    shrunk: bool
    truncated: bool
    """Cut with an ellipsis because it did not fit even at the legible minimum."""
    outside_frame: bool
    """Its planned box reaches past the frame's edge (it was clipped to the frame)."""

    @property
    def overflow(self) -> bool:
        return self.truncated or self.outside_frame


class SceneMeasure(BaseModel):
    """What was drawn in one sub-scene: the facts ``video_checks`` and the critics work from."""

    scene_id: str
    width: int
    height: int
    min_legible_px: int
    blocks: list[BlockMeasure]
    captions: list[BlockMeasure]
    """One per caption cue, in time order."""
    figure: str | None
    figure_rect: tuple[int, int, int, int] | None
    """Where the figure was fitted at its widest (before any Ken-Burns crop)."""
    figure_aspect: float | None
    """The source figure's width / height."""
    drawn_aspect: float | None
    """The fitted rectangle's width / height; equals ``figure_aspect`` up to pixel rounding."""
    highlight_rect: tuple[int, int, int, int] | None
    avatar_rect: tuple[int, int, int, int] | None
    diagram_rect: tuple[int, int, int, int] | None = None
    """The area the diagram's steps and arrows fill (even width and height, for its manim clip)."""
    effect: str


class Cue(BaseModel):
    """One caption: text shown from ``start`` to ``end`` seconds (scene-relative or absolute)."""

    start: float
    end: float
    text: str


def caption_cues(narration: str, duration: float, *, offset: float = 0.0, max_words: int = _CAPTION_WORDS) -> list[Cue]:
    """The narration cut into short cues timed by each cue's share of the words.

    Word share is a proxy for speech time that needs no aligner; with a steady TTS voice it is off by
    well under a second within a scene. Cues break after sentence ends so a cue rarely straddles two.
    """
    words = clean_text(narration).split()
    if not words or duration <= 0:
        return []
    chunks: list[list[str]] = [[]]
    for word in words:
        chunks[-1].append(word)
        if len(chunks[-1]) >= max_words or (re.search(r"[.!?]$", word) and len(chunks[-1]) >= 3):
            chunks.append([])
    chunks = [chunk for chunk in chunks if chunk]
    weights = [sum(len(w) + 2 for w in chunk) for chunk in chunks]  # letters ≈ speech time better than word counts
    total = sum(weights)
    cues, elapsed = [], 0.0
    for chunk, weight in zip(chunks, weights, strict=True):
        start = offset + duration * elapsed / total
        elapsed += weight
        cues.append(Cue(start=round(start, 3), end=round(offset + duration * elapsed / total, 3), text=" ".join(chunk)))
    return cues


def min_legible_px(width: int, height: int) -> int:
    """The smallest font size (px) the renderer shrinks to and the checks accept at this size."""
    return max(8, round(height * MIN_LEGIBLE_FRACTION))


@functools.cache
def font_path(bold: bool = False) -> Path:
    """DejaVu Sans, as shipped inside matplotlib, so rendering never depends on system fonts."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        raise FrameError("no font: the DejaVu Sans font comes with matplotlib; install 'agentgraphs[video]'")
    path = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if not path.is_file():
        raise FrameError(f"font file missing at {path}; reinstall matplotlib")
    return path


@functools.lru_cache(maxsize=256)
def _font(px: int, bold: bool) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(bold)), px)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if not line or font.getlength(candidate) <= width:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def _cut(line: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    """``line`` shortened with an ellipsis to fit ``width``."""
    while line and font.getlength(line + "…") > width:
        line = line[:-1].rstrip()
    return line + "…"


def _fit(text: str, box: tuple[int, int, int, int], requested: int, minimum: int, bold: bool) -> tuple[int, list[str], bool]:
    """(font px, lines, truncated): shrink in 10 % steps to ``minimum``, then cut with an ellipsis."""
    width, height = box[2] - box[0], box[3] - box[1]
    px = requested
    while True:
        font = _font(px, bold)
        lines = _wrap(text, font, width)
        fits_h = len(lines) * round(px * _LINE_SPACING) <= height
        fits_w = all(font.getlength(line) <= width for line in lines)
        if fits_h and fits_w:
            return px, lines, False
        smaller = int(px * _SHRINK)
        if smaller < minimum or smaller == px:
            break
        px = smaller
    rows = max(1, height // round(px * _LINE_SPACING))
    kept = [line if font.getlength(line) <= width else _cut(line, font, width) for line in lines[:rows]]
    if len(lines) > rows and not kept[-1].endswith("…"):
        kept[-1] = _cut(kept[-1], font, width)
    return px, kept, True


def _box_px(box: Box, width: int, height: int) -> tuple[tuple[int, int, int, int], bool]:
    left, top, right, bottom = box.pixels(width, height)
    clipped = (max(0, left), max(0, top), min(width, right), min(height, bottom))
    return clipped, clipped != (left, top, right, bottom)


def _draw_text(draw: ImageDraw.ImageDraw, block: TextBlock, index: int, box: tuple[int, int, int, int],
               outside: bool, scale: float, minimum: int) -> BlockMeasure:
    requested = max(1, round(block.size * scale))
    if requested < minimum:  # asked for too small: draw as asked and let the checks flag it
        px, lines, truncated = _fit(block.text, box, requested, requested, block.bold)
    else:
        px, lines, truncated = _fit(block.text, box, requested, minimum, block.bold)
    font = _font(px, block.bold)
    step = round(px * _LINE_SPACING)
    top = box[1] + (max(0, (box[3] - box[1]) - len(lines) * step) // 2 if block.kind == "label" else 0)
    extent: list[int] | None = None
    for row, line in enumerate(lines):
        if not line:
            continue
        length = font.getlength(line)
        x = box[0] + (round(((box[2] - box[0]) - length) / 2) if block.align == "center" else 0)
        y = top + row * step
        draw.text((x, y), line, font=font, fill=block.color)
        l, t, r, b = (math.floor(v) if n < 2 else math.ceil(v) for n, v in enumerate(draw.textbbox((x, y), line, font=font)))
        extent = [l, t, r, b] if extent is None else [min(extent[0], l), min(extent[1], t), max(extent[2], r), max(extent[3], b)]
    return BlockMeasure(index=index, kind=block.kind, text=block.text, requested_px=requested, final_px=px,
                        min_legible_px=minimum, box=box, drawn=tuple(extent) if extent else None, lines=lines,
                        shrunk=px < requested, truncated=truncated, outside_frame=outside)


def _fit_rect(src_w: int, src_h: int, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The largest rectangle of the source's aspect centred in ``box`` (letterboxed, never stretched)."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    scale = min(bw / src_w, bh / src_h)
    w, h = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    left, top = box[0] + (bw - w) // 2, box[1] + (bh - h) // 2
    return left, top, left + w, top + h


def _open_image(path: str, what: str) -> Image.Image:
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError) as exc:
        raise FrameError(f"cannot open the {what} image {path}: {exc}; check the path in the render plan") from exc


class SceneFrames:
    """The frames of one sub-scene of ``duration`` seconds, with what was drawn in ``measure``.

    ``speech`` is the narration's length (default: ``duration``); captions are timed over it, so the
    burned-in captions and the ``.srt`` agree and neither runs into the silent pad.
    """

    def __init__(self, plan: RenderPlan, scene: SceneCard, duration: float, *, speech: float | None = None) -> None:
        self.plan, self.scene, self.duration = plan, scene, duration
        self.width, self.height = plan.width, plan.height
        self.n_frames = max(1, round(duration * plan.fps))
        scale, minimum = plan.scale(), min_legible_px(plan.width, plan.height)
        self.background = ImageColor.getrgb(scene.background)[:3]
        base = Image.new("RGB", (self.width, self.height), self.background)
        draw = ImageDraw.Draw(base)

        avatar_rect = None
        if plan.avatar and plan.avatar_box is not None:
            avatar = _open_image(plan.avatar, "avatar")
            box, _ = _box_px(plan.avatar_box, self.width, self.height)
            avatar_rect = _fit_rect(avatar.width, avatar.height, box)
            base.paste(avatar.resize((avatar_rect[2] - avatar_rect[0], avatar_rect[3] - avatar_rect[1]), Image.LANCZOS), avatar_rect[:2])

        self.figure: Image.Image | None = None
        self.figure_rect = highlight_rect = None
        if scene.figure is not None and scene.figure_box is not None:
            self.figure = _open_image(plan.figures[scene.figure], f"figure {scene.figure!r}")
            box, _ = _box_px(scene.figure_box, self.width, self.height)
            self.figure_rect = _fit_rect(self.figure.width, self.figure.height, box)
            if scene.effect not in _KEN_BURNS:
                base.paste(self._figure_view(0.0), self.figure_rect[:2])
            if scene.effect == "highlight" and scene.highlight is not None:
                fl, ft, fr, fb = self.figure_rect
                hl = scene.highlight
                highlight_rect = (round(fl + hl.x * (fr - fl)), round(ft + hl.y * (fb - ft)),
                                  round(fl + (hl.x + hl.w) * (fr - fl)), round(ft + (hl.y + hl.h) * (fb - ft)))

        blocks = []
        for index, block in enumerate(scene.texts):
            box, outside = _box_px(block.box, self.width, self.height)
            blocks.append(_draw_text(draw, block, index, box, outside, scale, minimum))
        self.diagram_rect: tuple[int, int, int, int] | None = None
        self._steps: list[Image.Image] = []
        """For ``reveal``: the base with the first 1, 2, … steps drawn."""
        self._reveal: list[float] = []
        self._clip: Iterator[np.ndarray] | None = None
        if scene.diagram is not None:
            blocks += self._draw_diagram(base, scene.diagram, len(scene.texts), scale, minimum)
            if scene.effect == "reveal":
                self._reveal = reveal_times(len(scene.diagram.steps), speech if speech is not None else duration)
        self.base = base

        self.highlighted: Image.Image | None = None
        if highlight_rect is not None:
            self.highlighted = base.copy()
            overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
            odraw = ImageDraw.Draw(overlay)
            line = max(2, round(self.width / 180))
            odraw.rectangle(highlight_rect, fill=(250, 204, 21, 60), outline=(250, 204, 21, 255), width=line)
            self.highlighted = Image.alpha_composite(self.highlighted.convert("RGBA"), overlay).convert("RGB")

        self.cues = caption_cues(scene.narration, speech if speech is not None else duration) if plan.captions else []
        self._caption_layers: list[tuple[Image.Image, tuple[int, int]]] = []
        captions = []
        caption_block = TextBlock(text="", box=plan.caption_box, size=plan.caption_size, kind="caption", align="center")
        for cue in self.cues:
            box, outside = _box_px(plan.caption_box, self.width, self.height)
            layer = Image.new("RGB", (box[2] - box[0], box[3] - box[1]), self.background)
            measure = _draw_text(ImageDraw.Draw(layer), caption_block.model_copy(update={"text": cue.text}), -1,
                                 (0, 0, box[2] - box[0], box[3] - box[1]), outside, scale, minimum)
            shift = lambda r: (r[0] + box[0], r[1] + box[1], r[2] + box[0], r[3] + box[1])  # noqa: E731
            captions.append(measure.model_copy(update={"box": box, "drawn": shift(measure.drawn) if measure.drawn else None}))
            self._caption_layers.append((layer, box[:2]))

        aspect = self.figure.width / self.figure.height if self.figure is not None else None
        rect = self.figure_rect
        self.measure = SceneMeasure(
            scene_id=scene.id, width=self.width, height=self.height, min_legible_px=minimum, blocks=blocks,
            captions=captions, figure=scene.figure, figure_rect=rect, figure_aspect=aspect,
            drawn_aspect=(rect[2] - rect[0]) / (rect[3] - rect[1]) if rect else None,
            highlight_rect=highlight_rect, avatar_rect=avatar_rect, diagram_rect=self.diagram_rect, effect=scene.effect)
        self.ken_burns = self.figure is not None and scene.effect in _KEN_BURNS
        self._last_key: tuple | None = None
        self._last_frame: np.ndarray | None = None

    def _draw_diagram(self, base: Image.Image, diagram: Diagram, first: int, scale: float, minimum: int) -> list[BlockMeasure]:
        """Boxes, arrows and labels onto ``base``, one step at a time (kept for ``reveal``); the labels' measures."""
        (left, top, right, bottom), _ = _box_px(diagram.box, self.width, self.height)
        self.diagram_rect = (left, top, left + (right - left) // 2 * 2, top + (bottom - top) // 2 * 2)
        vertical = self.height > self.width
        rects = flow_rects(self.diagram_rect, len(diagram.steps), vertical=vertical)
        draw, measures = ImageDraw.Draw(base), []
        for index, step in enumerate(diagram.steps):
            draw_flow(draw, rects, index, vertical=vertical)
            label = TextBlock(text=step, box=diagram.box, size=diagram.size, kind="label", align="center")
            measures.append(_draw_text(draw, label, first + index, label_rect(rects[index]), False, scale, minimum))
            if self.scene.effect == "reveal":
                self._steps.append(base.copy())
        return measures

    def animate_diagram(self, clip: Iterator[np.ndarray]) -> None:
        """Show ``clip``'s frames in the diagram's place, one per frame index, in order (a manim render
        of the same steps and boxes); the still drawing and its ``reveal`` are then not shown."""
        self._clip, self._reveal = clip, []
        self._last_key = None

    def _figure_view(self, progress: float) -> Image.Image:
        """The figure at ``progress`` (0..1) through its Ken-Burns move, resized into its fitted rect."""
        assert self.figure is not None and self.figure_rect is not None
        fw, fh = self.figure.size
        effect = self.scene.effect
        eased = progress * progress * (3 - 2 * progress)  # smoothstep: no jolt at either end
        zoom, cx = 1.0, 0.5
        if effect == "zoom_in":
            zoom = 1 + (_ZOOM - 1) * eased
        elif effect == "zoom_out":
            zoom = _ZOOM - (_ZOOM - 1) * eased
        elif effect in ("pan_left", "pan_right"):
            zoom = _ZOOM
            margin = (1 - 1 / zoom) / 2
            # The camera moves left (pan_left): the window slides from the right edge to the left one.
            cx = 0.5 + margin * (1 - 2 * eased) if effect == "pan_left" else 0.5 - margin * (1 - 2 * eased)
        cw, ch = fw / zoom, fh / zoom
        left = min(max(0.0, cx * fw - cw / 2), fw - cw)
        top = (fh - ch) / 2
        size = (self.figure_rect[2] - self.figure_rect[0], self.figure_rect[3] - self.figure_rect[1])
        return self.figure.resize(size, Image.BILINEAR, box=(left, top, left + cw, top + ch))

    def _key(self, index: int) -> tuple:
        t = index / self.plan.fps
        effect = self.scene.effect
        cue = next((n for n, c in enumerate(self.cues) if c.start <= t < c.end), len(self.cues) - 1 if self.cues else -1)
        moving = index if self.ken_burns or self._clip is not None else 0
        highlight = round(min(1.0, t / HIGHLIGHT_FADE_S) * 16) if self.highlighted is not None else 0
        fade = 16
        if effect == "fade":
            fade = round(min(1.0, t / FADE_S, max(0.0, self.duration - t) / FADE_S) * 16)
        shown = sum(1 for start in self._reveal if start <= t)
        return cue, moving, highlight, fade, shown

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as an H×W×3 uint8 array (read-only; shared with the next identical frame)."""
        key = self._key(index)
        if key == self._last_key and self._last_frame is not None:
            return self._last_frame
        cue, moving, highlight, fade, shown = key
        if highlight:
            image = Image.blend(self.base, self.highlighted, highlight / 16) if highlight < 16 else self.highlighted.copy()
        else:
            image = (self._steps[shown - 1] if shown else self.base).copy()
        if self.ken_burns:
            image.paste(self._figure_view(index / max(1, self.n_frames - 1)), self.figure_rect[:2])
        if self._clip is not None and self.diagram_rect is not None:
            image.paste(Image.fromarray(next(self._clip)), self.diagram_rect[:2])
        if cue >= 0:
            layer, at = self._caption_layers[cue]
            image.paste(layer, at)
        if fade < 16:
            image = Image.blend(Image.new("RGB", image.size, self.background), image, fade / 16)
        array = np.asarray(image)
        self._last_key, self._last_frame = key, array
        return array

    def frames(self) -> Iterator[np.ndarray]:
        for index in range(self.n_frames):
            yield self.frame(index)
