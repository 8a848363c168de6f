"""The render plan and its narration turned into ``video.mp4``, ``subtitles.srt`` and thumbnails.

Each sub-scene is its own clip, as long as its narration plus a short pad, drawn by ``frames`` and
piped as raw RGB straight into the bundled ffmpeg (H.264 yuv420p + AAC). Piping beats moviepy here:
moviepy adds a per-frame Python compositing layer and its own ffmpeg writer around the same pipe.
Clips render in parallel processes and are joined with the concat demuxer without re-encoding. With
``diagram_animation`` a diagram's area shows our manim clip of it, decoded into the same frames.
Output is deterministic for the same inputs (bit-exact flags, no metadata, one x264 thread per
clip: parallelism comes from clips), so a resumed run produces the same bytes.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel

from agentgraphs.atomic import atomic_path, write_text
from agentgraphs.errors import AgentgraphsError
from agentgraphs.extras import require
from agentgraphs.tools.frames import Cue, SceneFrames, SceneMeasure, caption_cues
from agentgraphs.tools.narration import audio_duration
from agentgraphs.tools.render_plan import RenderPlan

__all__ = [
    "SCENE_PAD_S",
    "FfmpegError",
    "RenderResult",
    "SceneResult",
    "VideoError",
    "VideoInfo",
    "ffmpeg_exe",
    "probe_video",
    "render_video",
    "srt_text",
]

SCENE_PAD_S = 0.25
"""Silence after each sub-scene's narration: a breath between scenes; the checks allow for it."""
INTRO_S = 2.5
"""Length of the optional animated title card (``RenderPlan.title_animation``)."""

_X264 = ["-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-crf", "23", "-pix_fmt", "yuv420p",
         "-threads", "1"]
"""veryfast: measured at 720×1280, the slower presets cost more time than the slide-like content
saves in size; one thread per clip keeps the bytes independent of the worker count. A keyframe
every 2 s (-g) keeps seeking cheap for the checks that sample frames."""
_AAC = ["-c:a", "aac", "-b:a", "96k", "-ar", "44100", "-ac", "1"]
_BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1"]


class VideoError(AgentgraphsError):
    """A video could not be rendered or read."""


class FfmpegError(VideoError):
    """The ffmpeg binary failed or is missing."""


class SceneResult(BaseModel):
    """One rendered sub-scene."""

    id: str
    clip: Path
    start_s: float
    """Where it starts in the whole video."""
    narration_s: float
    duration_s: float
    """The clip's length: narration + pad, rounded up to whole frames."""
    thumbnail: Path
    measure: SceneMeasure
    cues: list[Cue]
    """Its captions, timed within the whole video."""


class RenderResult(BaseModel):
    """What ``render_video`` produced."""

    video: Path
    srt: Path
    duration_s: float
    """Sum of the scene clips (the concatenated file's own length is ``probe_video(video)``)."""
    narration_s: float
    """Total narration audio."""
    pad_s: float
    scenes: list[SceneResult]
    intro_s: float = 0.0
    """Length of the silent animated title card before the first scene (0 without one)."""


class VideoInfo(BaseModel):
    """What the bundled ffmpeg reports about a video file."""

    duration_s: float
    width: int
    height: int
    fps: float
    has_audio: bool
    audio_duration_s: float | None


def ffmpeg_exe() -> str:
    """The ffmpeg binary bundled with imageio-ffmpeg (this machine has no system ffmpeg)."""
    module = require("imageio_ffmpeg", extra="video", purpose="encoding video")
    return module.get_ffmpeg_exe()


def _run_ffmpeg(exe: str, args: list[str], what: str) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run([exe, "-hide_banner", "-nostdin", *args], capture_output=True, timeout=600)
    except FileNotFoundError as exc:
        raise FfmpegError(f"ffmpeg not found at {exe} while {what}; reinstall it with "
                          "pip install --force-reinstall imageio-ffmpeg") from exc
    if proc.returncode != 0:
        raise FfmpegError(f"ffmpeg failed (exit {proc.returncode}) while {what}: "
                          f"{proc.stderr.decode('utf-8', 'replace')[-600:].strip()}; check the inputs named "
                          "above, or reinstall ffmpeg with pip install --force-reinstall imageio-ffmpeg")
    return proc


def _encode_clip(job: dict) -> dict:
    """Worker: draw one sub-scene's frames and pipe them into ffmpeg. Runs in a child process."""
    plan: RenderPlan = job["plan"]
    scene = plan.scenes[job["index"]]
    frames = SceneFrames(plan, scene, job["duration"], speech=job["speech"])
    clip, thumb = Path(job["clip"]), Path(job["thumb"])
    with atomic_path(clip) as tmp, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as scratch:
        animated = None
        if plan.diagram_animation and scene.diagram is not None:
            animated = _diagram_frames(job, frames, Path(scratch))
            frames.animate_diagram(animated)
        cmd = [job["ffmpeg"], "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{plan.width}x{plan.height}", "-r", str(plan.fps),
               "-i", "pipe:0", "-i", job["wav"], "-map", "0:v:0", "-map", "1:a:0", *_X264, "-g", str(2 * plan.fps), *_AAC,
               "-af", "apad", "-t", f"{job['duration']:.6f}", *_BITEXACT, "-f", "mp4", str(tmp)]
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        except (FileNotFoundError, PermissionError) as exc:
            raise FfmpegError(f"ffmpeg not found at {job['ffmpeg']} while encoding scene {scene.id}; reinstall it "
                              "with pip install --force-reinstall imageio-ffmpeg") from exc
        middle, thumbnail = frames.n_frames // 2, None
        try:
            assert proc.stdin is not None
            for index in range(frames.n_frames):
                frame = frames.frame(index)
                if index == middle:
                    thumbnail = Image.fromarray(frame)
                proc.stdin.write(frame.data)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg died; its exit code and stderr below say why
        finally:
            code = proc.wait()
            if animated is not None:
                animated.close()
        if code != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace")[-600:].strip()
            raise FfmpegError(f"ffmpeg failed (exit {code}) while encoding scene {scene.id}: {tail}; check the "
                              "narration file and the frame size, or reinstall ffmpeg with "
                              "pip install --force-reinstall imageio-ffmpeg")
    assert thumbnail is not None
    with atomic_path(thumb) as tmp_png:
        thumbnail.save(tmp_png)
    return {"index": job["index"], "measure": frames.measure}


def _diagram_frames(job: dict, frames: SceneFrames, scratch: Path) -> Iterator[np.ndarray]:
    """The scene's diagram drawn by our manim Scene (the same boxes, label lines and sizes the still one
    was measured with), decoded frame by frame; a short clip holds its last frame."""
    from agentgraphs.tools.manim_scenes import render_flow_diagram

    plan: RenderPlan = job["plan"]
    scene = plan.scenes[job["index"]]
    assert frames.diagram_rect is not None
    left, top, right, bottom = frames.diagram_rect
    width, height = right - left, bottom - top
    labels = frames.measure.blocks[len(scene.texts):]
    clip = render_flow_diagram(["\n".join(label.lines) for label in labels], scratch / "diagram.mp4", width=width,
                               height=height, fps=plan.fps, duration=frames.n_frames / plan.fps, speech_s=job["speech"],
                               font_px=[label.final_px for label in labels], vertical=plan.height > plan.width,
                               background=scene.background)
    return _decoded(job["ffmpeg"], clip, width, height)


def _decoded(exe: str, clip: Path, width: int, height: int) -> Iterator[np.ndarray]:
    proc = subprocess.Popen([exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(clip), "-f", "rawvideo",
                             "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    size, last = width * height * 3, None
    try:
        assert proc.stdout is not None
        while len(data := proc.stdout.read(size)) == size:
            last = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
            yield last
        if last is None:
            raise VideoError(f"ffmpeg decoded no frame of the diagram clip {clip}; check manim's output")
        while True:
            yield last
    finally:
        proc.kill()
        proc.wait()


def srt_text(cues: list[Cue]) -> str:
    """Cues as SubRip text (numbered from 1, ``HH:MM:SS,mmm`` times)."""
    def stamp(seconds: float) -> str:
        ms = round(seconds * 1000)
        return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"
    return "".join(f"{n}\n{stamp(c.start)} --> {stamp(c.end)}\n{c.text}\n\n" for n, c in enumerate(cues, 1))


def render_video(plan: RenderPlan, narration: dict[str, Path], out_dir: Path, *, workers: int = 2) -> RenderResult:
    """Render every sub-scene, join them into ``out_dir/video.mp4`` and write the subtitles.

    ``narration`` maps scene id → its WAV (from ``narration.synthesize``). ``workers=1`` renders
    serially in this process; more uses that many processes. Raises :class:`FfmpegError` naming
    ffmpeg's own message; ``video.mp4`` only ever appears complete.
    """
    missing = [scene.id for scene in plan.scenes if scene.id not in narration]
    if missing:
        raise VideoError(f"no narration audio for scene(s) {', '.join(missing)}; synthesize them before rendering")
    exe = ffmpeg_exe()
    out_dir = Path(out_dir)
    clip_dir = out_dir / "scenes"
    clip_dir.mkdir(parents=True, exist_ok=True)
    # A render killed mid-way (a run resumed after SIGKILL) leaves its temporary files behind.
    for stale in [*clip_dir.glob(".*.tmp*"), *out_dir.glob(".video.*.tmp*"), *out_dir.glob("tmp*.txt")]:
        stale.unlink(missing_ok=True)

    intro = clip_dir / "intro.mp4" if plan.title_animation else None
    jobs, start = [], INTRO_S if intro is not None else 0.0
    timing: list[tuple[float, float, float]] = []
    for index, scene in enumerate(plan.scenes):
        spoken = audio_duration(narration[scene.id])
        duration = math.ceil(round((spoken + SCENE_PAD_S) * plan.fps, 6)) / plan.fps
        timing.append((start, spoken, duration))
        jobs.append({"plan": plan, "index": index, "duration": duration, "speech": spoken, "wav": str(Path(narration[scene.id]).resolve()),
                     "clip": str(clip_dir / f"{scene.id}.mp4"), "thumb": str(clip_dir / f"{scene.id}.png"), "ffmpeg": exe})
        start += duration

    if intro is not None:
        _encode_intro(plan, intro, exe)
    if workers <= 1:
        done = [_encode_clip(job) for job in jobs]
    else:
        # spawn, not fork: the caller may hold threads (LangGraph, an HTTP client) that fork would copy broken.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
            longest_first = sorted(jobs, key=lambda job: -job["duration"])
            done = list(pool.map(_encode_clip, longest_first))
    measures = {item["index"]: item["measure"] for item in done}

    scenes = []
    for index, scene in enumerate(plan.scenes):
        begin, spoken, duration = timing[index]
        cues = caption_cues(scene.narration, spoken, offset=begin)  # word share of the speech, not of the pad
        scenes.append(SceneResult(id=scene.id, clip=Path(jobs[index]["clip"]), start_s=round(begin, 6), narration_s=spoken,
                                  duration_s=duration, thumbnail=Path(jobs[index]["thumb"]), measure=measures[index], cues=cues))

    video = out_dir / "video.mp4"
    with atomic_path(video) as tmp, tempfile.NamedTemporaryFile("w", suffix=".txt", dir=out_dir, delete=False) as listing:
        for item in ([intro] if intro is not None else []) + [scene.clip for scene in scenes]:
            listing.write("file '{}'\n".format(str(item.resolve()).replace("'", r"'\''")))
        listing.close()
        try:
            _run_ffmpeg(exe, ["-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", listing.name, "-c", "copy",
                              *_BITEXACT, "-movflags", "+faststart", "-f", "mp4", str(tmp)], "joining the scene clips")
        finally:
            os.unlink(listing.name)
    srt = write_text(out_dir / "subtitles.srt", srt_text([cue for item in scenes for cue in item.cues]))
    return RenderResult(video=video, srt=srt, duration_s=round(start, 6), narration_s=sum(t[1] for t in timing),
                        pad_s=SCENE_PAD_S, scenes=scenes, intro_s=INTRO_S if intro is not None else 0.0)


def _encode_intro(plan: RenderPlan, out: Path, exe: str) -> None:
    """The animated title card, re-encoded with silence exactly like a scene clip so the join can copy."""
    from agentgraphs.tools.manim_scenes import render_title_card

    with tempfile.TemporaryDirectory() as tmp:
        raw = render_title_card(plan.title, Path(tmp) / "title.mp4", width=plan.width, height=plan.height,
                                fps=plan.fps, duration=INTRO_S, background=plan.scenes[0].background)
        with atomic_path(out) as clip:
            _run_ffmpeg(exe, ["-loglevel", "error", "-y", "-i", str(raw), "-f", "lavfi", "-i",
                              "anullsrc=r=44100:cl=mono", "-map", "0:v:0", "-map", "1:a:0", *_X264,
                              "-g", str(2 * plan.fps), *_AAC, "-t", f"{INTRO_S:.6f}", *_BITEXACT, "-f", "mp4", str(clip)],
                        "encoding the animated title card")


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: .*?(\d{2,5})x(\d{2,5}).*?(\d+(?:\.\d+)?) (?:fps|tbr)")
_TIME = re.compile(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)")


def _seconds(match: re.Match[str]) -> float:
    return int(match.group(1)) * 3600 + int(match.group(2)) * 60 + float(match.group(3))


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Duration, size, fps and audio of a video, read with the bundled ffmpeg (there is no ffprobe).

    The audio's length is measured by decoding the audio stream, not taken from the header.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"no video at {path}; render it first")
    exe = ffmpeg_exe()
    info = subprocess.run([exe, "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, timeout=60)
    text = info.stderr.decode("utf-8", "replace")
    duration, video = _DURATION.search(text), _VIDEO.search(text)
    if duration is None or video is None:
        raise VideoError(f"ffmpeg cannot read {path} as a video: {text[-400:].strip()}; render it again")
    has_audio = bool(re.search(r"Stream #\S+.*?: Audio:", text))
    audio_s = None
    if has_audio:
        decoded = _run_ffmpeg(exe, ["-i", str(path), "-map", "0:a:0", "-f", "null", "-"], f"decoding the audio of {path}")
        times = list(_TIME.finditer(decoded.stderr.decode("utf-8", "replace")))
        audio_s = _seconds(times[-1]) if times else None
    return VideoInfo(duration_s=_seconds(duration), width=int(video.group(1)), height=int(video.group(2)),
                     fps=float(video.group(3)), has_audio=has_audio, audio_duration_s=audio_s)
