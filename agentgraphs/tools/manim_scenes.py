"""Animated title cards and flow diagrams drawn by manim from parameters, never from code an agent wrote.

The plan's data (a title, step labels, colours) fills our own Scene classes; manim's ``Text`` (Pango)
draws it, so no LaTeX install is needed. A clip has the size and frame rate asked for and no audio, so
it can open the video (the title card) or stand in a sub-scene's diagram area (``frames``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from agentgraphs.atomic import atomic_path
from agentgraphs.errors import AgentgraphsError
from agentgraphs.extras import require
from agentgraphs.tools import diagram as flow

__all__ = ["ManimError", "render_flow_diagram", "render_title_card"]

_FRAME_HEIGHT = 8.0
"""manim's default frame height in scene units; the width follows the output's aspect."""


_FONT = "DejaVu Sans"
"""Asked of Pango by name; where it is missing Pango substitutes its default font, never an error."""


class ManimError(AgentgraphsError):
    """manim could not render a clip."""


def render_title_card(title: str, out_mp4: str | Path, *, subtitle: str = "", width: int = 1080, height: int = 1920,
                      fps: int = 24, duration: float = 2.5, background: str = "#0F172A", color: str = "#FFFFFF",
                      accent: str = "#FACC15") -> Path:
    """Render ``title`` writing itself on, an accent line growing under it, then ``subtitle`` fading in.

    Writes ``out_mp4`` (H.264, yuv420p, no audio) atomically and returns its path. ``duration`` is
    the clip's length; the animations take the first ~70 % of it and the card then holds still.
    """
    if duration < 0.5:
        raise ManimError(f"a title card of {duration} s is too short to animate; give at least 0.5 s")
    manim = require("manim", extra="video", purpose="animated title cards")
    frame_width = _FRAME_HEIGHT * width / height
    write_s, grow_s = 0.4 * duration, 0.1 * duration
    fade_s = 0.2 * duration if subtitle else 0.0
    hold_s = duration - write_s - grow_s - fade_s

    class TitleCard(manim.Scene):
        def construct(self) -> None:
            heading = manim.Text(title, font=_FONT, font_size=56, weight=manim.BOLD, color=color)
            fit = min(1.0, 0.9 * frame_width / heading.width)  # one factor for both lines keeps their ratio
            heading.scale(fit)
            half = min(heading.width, 0.9 * frame_width) / 2
            line = manim.Line(manim.LEFT * half, manim.RIGHT * half, color=accent, stroke_width=6)
            line.next_to(heading, manim.DOWN, buff=0.25)
            self.play(manim.Write(heading), run_time=write_s)
            self.play(manim.GrowFromCenter(line), run_time=grow_s)
            if subtitle:
                sub = manim.Text(subtitle, font=_FONT, font_size=30, color=color).scale(fit)
                if sub.width > 0.9 * frame_width:
                    sub.scale_to_fit_width(0.9 * frame_width)
                sub.next_to(line, manim.DOWN, buff=0.3)
                self.play(manim.FadeIn(sub, shift=manim.UP * 0.2), run_time=fade_s)
            self.wait(max(hold_s, 1 / fps))

    return _render(manim, TitleCard, Path(out_mp4), width=width, height=height, fps=fps, background=background,
                   what=f"the title card {title!r}")


def _render(manim: Any, scene_class: Any, out: Path, *, width: int, height: int, fps: int, background: str,
            what: str) -> Path:
    """Render ``scene_class`` into ``out`` atomically, in a private media folder (no cache, no logs)."""
    with tempfile.TemporaryDirectory() as media, atomic_path(out) as tmp:
        settings = {"pixel_width": width, "pixel_height": height, "frame_rate": fps, "frame_height": _FRAME_HEIGHT,
                    "frame_width": _FRAME_HEIGHT * width / height, "background_color": background, "media_dir": media,
                    "output_file": "clip", "disable_caching": True, "verbosity": "ERROR",
                    "progress_bar": "none", "format": "mp4"}
        try:
            with manim.tempconfig(settings):
                scene = scene_class()
                scene.render()
                rendered = Path(scene.renderer.file_writer.movie_file_path)
        except Exception as exc:  # manim raises bare exceptions from Pango, Cairo and ffmpeg alike
            raise ManimError(f"manim failed to render {what}: {exc}; check that manim's system libraries are "
                             "installed (apt-get install libcairo2-dev libpango1.0-dev)") from exc
        shutil.copyfile(rendered, tmp)
    return out


def render_flow_diagram(steps: list[str], out_mp4: str | Path, *, width: int = 1080, height: int = 1080, fps: int = 24,
                        duration: float = 4.0, speech_s: float | None = None, font_px: list[int] | int | None = None,
                        vertical: bool | None = None, background: str = "#0F172A", color: str = "#FFFFFF") -> Path:
    """Render ``steps`` as boxes that grow in one by one, each joined to the last by an arrow drawing itself.

    The boxes, arrows and timing are ``tools.diagram``'s, the same the Pillow frames use, so the clip can
    replace the still diagram exactly: step i appears at ``diagram.reveal_times(len(steps), speech_s)[i]``
    (``speech_s`` defaults to ``duration``) and the diagram then holds still. A ``\n`` in a step breaks
    its line; ``font_px`` (one for all or one per step) sizes the labels as Pillow would draw them, and
    a label too big for its box is scaled down to fit. ``vertical`` (default: taller than wide) stacks
    the steps. Writes ``out_mp4`` (H.264, no audio) with exactly ``round(duration * fps)`` frames.
    """
    if not 2 <= len(steps) <= 4 or not all(step.strip() for step in steps):
        raise ManimError(f"a flow diagram needs 2-4 non-empty steps, got {steps!r}")
    frames = round(duration * fps)
    if frames < 2 * len(steps):
        raise ManimError(f"a diagram of {len(steps)} steps needs at least {2 * len(steps) / fps:.2f} s at {fps} fps, "
                         f"got {duration} s; lengthen its narration")
    manim = require("manim", extra="video", purpose="animated diagrams")
    import numpy as np
    from PIL import ImageFont

    from agentgraphs.tools.frames import font_path

    vertical = height > width if vertical is None else vertical
    rects = flow.flow_rects((0, 0, width, height), len(steps), vertical=vertical)
    arrows = flow.flow_arrows(rects, vertical=vertical)
    sizes = font_px if isinstance(font_px, list) else [font_px or max(8, round(height / 30))] * len(steps)
    unit = _FRAME_HEIGHT / height
    stroke = flow.line_width(rects) * unit * 100  # manim strokes are 1/100 of a scene unit per width point
    times = flow.reveal_times(len(steps), speech_s if speech_s is not None else duration)
    starts = [min(round(t * fps), frames - 2 * (len(steps) - i)) for i, t in enumerate(times)]
    # Frame-exact timing: an animation of run_time (k - 0.5) / fps makes k frames, a still wait (k + 0.5) / fps too.
    lengths = [max(1, b - a) for a, b in zip(starts, [*starts[1:], frames])]

    def point(x: float, y: float) -> Any:
        return np.array([(x - width / 2) * unit, (height / 2 - y) * unit, 0.0])

    class FlowDiagram(manim.Scene):
        def construct(self) -> None:
            reference = manim.Text("Hg", font=_FONT, font_size=48)
            for index, (step, rect) in enumerate(zip(steps, rects)):
                left, top, right, bottom = rect
                box = manim.RoundedRectangle(width=(right - left) * unit, height=(bottom - top) * unit,
                                             corner_radius=min(right - left, bottom - top) / 6 * unit, stroke_width=stroke,
                                             stroke_color=flow.OUTLINE, fill_color=flow.FILL, fill_opacity=1)
                box.move_to(point((left + right) / 2, (top + bottom) / 2))
                inner = flow.label_rect(rect)
                px = sizes[index]
                glyphs = ImageFont.truetype(str(font_path()), px).getbbox("Hg")
                scale = (glyphs[3] - glyphs[1]) * unit / reference.height
                lines = [line for line in step.split("\n") if line.strip()]
                pitch = round(px * 1.2)
                label = manim.VGroup(*[
                    manim.Text(line, font=_FONT, font_size=48, color=color).scale(scale).move_to(
                        point((inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2 + (row - (len(lines) - 1) / 2) * pitch))
                    for row, line in enumerate(lines)])
                if label.width > (inner[2] - inner[0]) * unit or label.height > (inner[3] - inner[1]) * unit:
                    label.scale(min((inner[2] - inner[0]) * unit / label.width, (inner[3] - inner[1]) * unit / label.height))
                grow = manim.AnimationGroup(manim.GrowFromCenter(box), manim.FadeIn(label))
                if index:
                    (x0, y0), (x1, y1) = arrows[index - 1]
                    arrow = manim.Arrow(point(x0, y0), point(x1, y1), buff=0, color=flow.ARROW, stroke_width=stroke,
                                        tip_length=3 * flow.line_width(rects) * unit, max_tip_length_to_length_ratio=0.6,
                                        max_stroke_width_to_length_ratio=1000)
                    grow = manim.Succession(manim.Create(arrow), grow)
                run = min(lengths[index], max(2, round(0.4 * fps)))  # each step grows in at most ~0.4 s, then holds
                self.play(grow, run_time=(run - 0.5) / fps)
                if lengths[index] > run:
                    self.wait((lengths[index] - run + 0.5) / fps)

    return _render(manim, FlowDiagram, Path(out_mp4), width=width, height=height, fps=fps, background=background,
                   what=f"the flow diagram {steps!r}")
