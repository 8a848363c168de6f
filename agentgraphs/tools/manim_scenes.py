"""Animated title cards drawn by manim from parameters, never from code an agent wrote.

The plan's data (a title, a subtitle, colours) fills our own Scene class; manim's ``Text`` (Pango)
draws it, so no LaTeX install is needed. The clip has the plan's size and frame rate and no audio, so
it can stand behind a sub-scene or open the video.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from agentgraphs.atomic import atomic_path
from agentgraphs.errors import AgentgraphsError
from agentgraphs.extras import require

__all__ = ["ManimError", "render_title_card"]

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

    out = Path(out_mp4)
    with tempfile.TemporaryDirectory() as media, atomic_path(out) as tmp:
        settings = {"pixel_width": width, "pixel_height": height, "frame_rate": fps, "frame_height": _FRAME_HEIGHT,
                    "frame_width": frame_width, "background_color": background, "media_dir": media,
                    "output_file": "title_card", "disable_caching": True, "verbosity": "ERROR",
                    "progress_bar": "none", "format": "mp4"}
        try:
            with manim.tempconfig(settings):
                scene = TitleCard()
                scene.render()
                rendered = Path(scene.renderer.file_writer.movie_file_path)
        except Exception as exc:  # manim raises bare exceptions from Pango, Cairo and ffmpeg alike
            raise ManimError(f"manim failed to render the title card {title!r}: {exc}; check that manim's "
                             "system libraries are installed (apt-get install libcairo2-dev libpango1.0-dev)") from exc
        shutil.copyfile(rendered, tmp)
    return out
