"""Facts about a rendered video that a critic agent cannot see for itself: overflow, tiny fonts,
crowded slides, timing drift and blank frames, each flagged with its scene and a plain sentence.

The checks read what ``frames`` measured while drawing (exact boxes and font sizes, not OCR guesses)
and, for timing and blankness, the encoded mp4 itself, so a bug between drawing and encoding shows.
``describe_frames`` turns the same facts into sentences for critics that only read text.
"""

from __future__ import annotations

import subprocess
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from agentgraphs.tools.render_plan import RenderPlan
from agentgraphs.tools.video import RenderResult, SceneResult, VideoError, ffmpeg_exe, probe_video

__all__ = [
    "BLANK_STD",
    "DURATION_TOLERANCE_S",
    "MAX_WORDS_PER_SECOND",
    "FlagKind",
    "VideoChecks",
    "VideoFlag",
    "check_video",
    "describe_frames",
    "sample_frame",
]

FlagKind = Literal["text_overflow", "text_overlaps_figure", "font_too_small", "too_many_words_per_second",
                   "duration_mismatch", "blank_frame"]

MAX_WORDS_PER_SECOND = 2.5
"""On-screen words (captions excluded) per second of the scene. Adults read silently at ~4 words/s
(238 wpm, Brysbaert 2019) but here they also listen to different words and look at a figure; about
two thirds of reading speed leaves room for both."""
DURATION_TOLERANCE_S = 0.5
"""Drift between a clip and its narration (+ pad) that a viewer notices as a lip-less but audible lag."""
BLANK_STD = 2.0
"""Standard deviation of grey levels (0–255) below which a frame is near-uniform. Encoding noise on a
flat colour stays under 1; one line of title text on a flat background already gives ~15."""
_SAMPLES = (0.25, 0.5, 0.75)
"""Where in each scene frames are sampled: away from the ends, where a fade is blank on purpose."""


class VideoFlag(BaseModel):
    """One problem, with the scene it is in."""

    kind: FlagKind
    scene_id: str | None
    """None for a problem of the whole video."""
    detail: str


class VideoChecks(BaseModel):
    """All flags, plus the numbers critics ask about."""

    flags: list[VideoFlag] = Field(default_factory=list)
    figures_used: list[str]
    figures_available: int
    words_per_second: dict[str, float]
    """On-screen words per second, by scene id."""
    narration_words_per_second: dict[str, float]

    @property
    def ok(self) -> bool:
        return not self.flags

    def kinds(self, scene_id: str | None = None) -> set[str]:
        """The kinds flagged (for one scene, if given)."""
        return {flag.kind for flag in self.flags if scene_id is None or flag.scene_id == scene_id}


def sample_frame(video: str, t: float, width: int, height: int) -> np.ndarray:
    """The grey frame of ``video`` at ``t`` seconds, as a height × width uint8 array."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-ss", f"{t:.3f}",
                           "-i", video, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                          capture_output=True, timeout=120)
    if proc.returncode != 0 or len(proc.stdout) < width * height:
        raise VideoError(f"ffmpeg could not decode a frame of {video} at {t:.2f} s: "
                         f"{proc.stderr.decode('utf-8', 'replace')[-300:].strip()}; render the video again")
    return np.frombuffer(proc.stdout[: width * height], dtype=np.uint8).reshape(height, width)


def _intersects(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check_video(plan: RenderPlan, result: RenderResult, *, frames: bool = True) -> VideoChecks:
    """Flag what a viewer would notice. ``frames=False`` skips decoding the mp4 (blank frames, clip lengths)."""
    flags: list[VideoFlag] = []
    wps: dict[str, float] = {}
    narration_wps: dict[str, float] = {}
    cards = {scene.id: scene for scene in plan.scenes}
    for scene in result.scenes:
        card, measure = cards[scene.id], scene.measure
        for block in [*measure.blocks, *measure.captions]:
            name = f"caption {block.text!r}" if block.index < 0 else f"text {block.index} ({block.kind}) {block.text[:60]!r}"
            box = block.box
            spills = block.drawn is not None and not (box[0] - 1 <= block.drawn[0] and block.drawn[2] <= box[2] + 1)
            if block.truncated or block.outside_frame or spills:
                why = ("cut with an ellipsis at the legible minimum" if block.truncated
                       else "its box reaches past the frame" if block.outside_frame else "drawn wider than its box")
                flags.append(VideoFlag(kind="text_overflow", scene_id=scene.id,
                                       detail=f"{name} does not fit: {why}; shorten it or give it a larger box"))
            if block.final_px < block.min_legible_px:
                flags.append(VideoFlag(kind="font_too_small", scene_id=scene.id,
                                       detail=f"{name} is {block.final_px} px, below the legible {block.min_legible_px} px "
                                              f"at {measure.width}×{measure.height}; raise its size"))
            if measure.figure_rect is not None and block.drawn is not None and _intersects(block.drawn, measure.figure_rect):
                flags.append(VideoFlag(kind="text_overlaps_figure", scene_id=scene.id,
                                       detail=f"{name} is drawn over figure {measure.figure!r}; move one of them"))
        steps = card.diagram.steps if card.diagram is not None else []  # diagram labels are on-screen words too
        on_screen = sum(len(text.split()) for text in [*(block.text for block in card.texts), *steps])
        wps[scene.id] = round(on_screen / scene.duration_s, 2)
        narration_wps[scene.id] = round(len(card.narration.split()) / max(scene.narration_s, 1e-6), 2)
        if wps[scene.id] > MAX_WORDS_PER_SECOND:
            flags.append(VideoFlag(kind="too_many_words_per_second", scene_id=scene.id,
                                   detail=f"{on_screen} words on screen for {scene.duration_s:.1f} s = {wps[scene.id]} words/s "
                                          f"(max {MAX_WORDS_PER_SECOND}); cut the text or lengthen the narration"))
        if frames:
            _check_clip(plan, scene, result.pad_s, flags)

    if frames:
        info = probe_video(result.video)
        expected = result.intro_s + result.narration_s + result.pad_s * len(result.scenes)
        if abs(info.duration_s - expected) > DURATION_TOLERANCE_S:
            flags.append(VideoFlag(kind="duration_mismatch", scene_id=None,
                                   detail=f"the video lasts {info.duration_s:.2f} s but the narration (+ pads) {expected:.2f} s; "
                                          "render it again"))
        if info.audio_duration_s is None or abs(info.audio_duration_s - info.duration_s) > DURATION_TOLERANCE_S:
            flags.append(VideoFlag(kind="duration_mismatch", scene_id=None,
                                   detail=f"the video's audio lasts {info.audio_duration_s} s of {info.duration_s:.2f} s; "
                                          "render it again"))
    used = sorted({scene.figure for scene in plan.scenes if scene.figure is not None})
    return VideoChecks(flags=flags, figures_used=used, figures_available=len(plan.figures),
                       words_per_second=wps, narration_words_per_second=narration_wps)


def _check_clip(plan: RenderPlan, scene: SceneResult, pad_s: float, flags: list[VideoFlag]) -> None:
    info = probe_video(scene.clip)
    expected = scene.narration_s + pad_s
    if abs(info.duration_s - expected) > DURATION_TOLERANCE_S:
        flags.append(VideoFlag(kind="duration_mismatch", scene_id=scene.id,
                               detail=f"the clip lasts {info.duration_s:.2f} s but its narration (+ pad) {expected:.2f} s"))
    # Captions and the avatar are masked out: a frame showing only them has no content of its own.
    mask = np.ones((plan.height, plan.width), dtype=bool)
    captions = plan.caption_box.pixels(plan.width, plan.height) if plan.captions else None
    for rect in (captions, scene.measure.avatar_rect):
        if rect is not None:
            mask[rect[1]:rect[3], rect[0]:rect[2]] = False
    stds = [float(sample_frame(str(scene.clip), share * info.duration_s, plan.width, plan.height)[mask].std())
            for share in _SAMPLES]
    if max(stds) < BLANK_STD:
        flags.append(VideoFlag(kind="blank_frame", scene_id=scene.id,
                               detail=f"sampled frames are near-uniform (grey std {max(stds):.2f} < {BLANK_STD}): "
                                      "nothing but the background is shown; add a figure or text"))


def describe_frames(plan: RenderPlan, result: RenderResult) -> list[str]:
    """One sentence per scene describing its middle frame: text on screen, figure, effect, caption."""
    cards = {scene.id: scene for scene in plan.scenes}
    lines = []
    for scene in result.scenes:
        card, measure = cards[scene.id], scene.measure
        middle = scene.start_s + scene.narration_s / 2
        parts = [f"Scene {scene.id} ({card.part}, {scene.start_s:.1f}–{scene.start_s + scene.duration_s:.1f} s, "
                 f"middle frame at {middle:.1f} s)"]
        texts = []
        for block in measure.blocks:
            shown = " / ".join(block.lines)
            note = ", cut with an ellipsis" if block.truncated else ", shrunk to fit" if block.shrunk else ""
            texts.append(f"{block.kind} \"{shown}\" at {block.final_px} px{note}")
        parts.append("text on screen: " + ("; ".join(texts) if texts else "none"))
        if measure.figure_rect is not None:
            l, t, r, b = measure.figure_rect
            captions = [block.text for block in card.texts if block.kind == "caption"]
            parts.append(f"figure {measure.figure!r} fills {100 * (r - l) / measure.width:.0f}% of the width and "
                         f"{100 * (b - t) / measure.height:.0f}% of the height"
                         + (f", captioned \"{captions[0]}\"" if captions else ", with no caption"))
        elif card.diagram is not None:
            parts.append(f"a flow diagram of {len(card.diagram.steps)} boxes joined by arrows: "
                         + " → ".join(card.diagram.steps)
                         + (", drawn by manim, growing in one by one" if plan.diagram_animation
                            else ", the steps appearing one by one" if card.effect == "reveal" else ""))
        else:
            parts.append("no figure")
        effect = card.effect
        if effect == "highlight" and measure.highlight_rect is not None:
            effect = "highlight (a yellow box fades in over part of the figure)"
        parts.append(f"effect: {effect}")
        if card.texts == [] and measure.figure_rect is None and card.diagram is None:
            parts.append("the frame shows only the background")
        spoken = next((cue.text for cue in scene.cues if cue.start <= middle < cue.end), None)
        if plan.captions and spoken:
            parts.append(f"burned-in caption: \"{spoken}\"")
        if measure.avatar_rect is not None:
            parts.append("the presenter avatar is shown")
        lines.append("; ".join(parts) + ".")
    return lines
