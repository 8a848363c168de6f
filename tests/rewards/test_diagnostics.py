"""Reward-hacking diagnostics: the real collapsed MPO run is flagged, the normal essays are not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentgraphs.errors import AgentgraphsError
from agentgraphs.rewards.diagnostics import DiagnosisError, diagnose, load_responses, repeated_ngram_share

HACKED = "mpo/generations/essay_writing/expert-72b.test.generations.rows0000-0299.jsonl"
NORMAL = "mpo/elo_scores/essay_writing"

ESSAY = ("Cities should invest in public transport because it cuts congestion and pollution. "
         "Buses and trains move many people in little space, which frees roads for deliveries.\n\n"
         "Critics argue that the cost is too high. Yet every study of car dependence shows hidden costs: "
         "accidents, parking land and lost hours, which taxpayers already carry.\n\n"
         "In short, good transit pays for itself over a generation, and a city that builds it grows fairer. "
         "Each new line opens jobs to people who cannot afford a car, and that matters most of all.")


def _normal_essays(shared_data: Path) -> list[str]:
    files = sorted((shared_data / NORMAL).glob("*details*.json"))
    assert files, f"no *details*.json under {shared_data / NORMAL}"
    return [r for f in files for field in ("model_a_response", "model_b_response") for r in load_responses(f, field)]


def test_flags_the_real_collapsed_run(shared_data: Path) -> None:
    diagnosis = diagnose(load_responses(shared_data / HACKED, "model_response"))
    assert diagnosis.n_responses == 300
    assert diagnosis.hacking
    assert diagnosis.median_words < 20 and diagnosis.short_share > 0.9
    assert any("length" in line for line in diagnosis.evidence)
    assert any("title" in line for line in diagnosis.evidence)


def test_does_not_flag_the_normal_essays(shared_data: Path) -> None:
    essays = _normal_essays(shared_data)
    diagnosis = diagnose(essays)
    assert not diagnosis.hacking, diagnosis.evidence
    assert diagnosis.evidence == []
    assert diagnosis.median_words > 150 and diagnosis.short_share == 0
    for side in ("model_a_response", "model_b_response"):
        files = sorted((shared_data / NORMAL).glob("*details*.json"))
        assert not diagnose(load_responses(files[0], side)).hacking


def test_repetitive_set_is_flagged_for_repetition() -> None:
    loops = [f"The answer is clear. {'The answer is very good and the answer is very good. ' * 12}Case {i}." for i in range(20)]
    diagnosis = diagnose(loops)
    assert diagnosis.hacking
    assert diagnosis.repetition > 0.5
    assert any(line.startswith("repetition") for line in diagnosis.evidence)
    assert not any("length collapse" in line for line in diagnosis.evidence)
    assert repeated_ngram_share("one two three four five") == 0.0


def test_normal_synthetic_essays_are_clean() -> None:
    diagnosis = diagnose([ESSAY.replace("Cities", f"Cities of region {i}") for i in range(5)])
    assert not diagnosis.hacking, diagnosis.evidence
    assert diagnosis.format_violation_share == 0


def test_scores_that_track_length_are_evidence() -> None:
    responses = [" ".join(["word"] * 0) + ESSAY * (1 + i % 4) for i in range(20)]
    scores = [float(1 + i % 4) for i in range(20)]
    diagnosis = diagnose(responses, scores=scores)
    assert diagnosis.score_length_corr is not None and diagnosis.score_length_corr > 0.99
    assert any("tracks length" in line for line in diagnosis.evidence)
    assert diagnose(responses, scores=[1.0] * 20).score_length_corr is None  # constant scores: undefined


def test_length_collapse_over_steps(shared_data: Path) -> None:
    titles = load_responses(shared_data / HACKED, "model_response")[:20]
    responses = [ESSAY] * 20 + titles
    steps = [i // 5 for i in range(40)]  # steps 0-3 essays, 4-7 titles
    diagnosis = diagnose(responses, steps=steps)
    assert diagnosis.length_trend is not None and diagnosis.length_trend < 0.2
    assert any("over training" in line for line in diagnosis.evidence)
    assert diagnose([ESSAY] * 8, steps=list(range(8))).length_trend == pytest.approx(1.0)


def test_bad_arguments() -> None:
    with pytest.raises(DiagnosisError, match="no responses"):
        diagnose([])
    with pytest.raises(DiagnosisError, match="scores has 1 values for 2 responses"):
        diagnose(["a", "b"], scores=[1.0])


def test_load_responses_errors(tmp_path: Path) -> None:
    with pytest.raises(DiagnosisError, match="not found"):
        load_responses(tmp_path / "absent.jsonl", "x")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DiagnosisError, match="not valid JSON"):
        load_responses(bad, "x")
    lines = tmp_path / "ok.jsonl"
    lines.write_text(json.dumps({"query": "q", "model_response": "r1"}) + "\n\n" + json.dumps({"query": "q", "model_response": "r2"}) + "\n")
    assert load_responses(lines, "model_response") == ["r1", "r2"]
    with pytest.raises(DiagnosisError, match=r"no field 'response'; its fields are \['model_response', 'query'\]") as info:
        load_responses(lines, "response")
    assert isinstance(info.value, AgentgraphsError)
    obj = tmp_path / "obj.json"
    obj.write_text(json.dumps({"model_response": "r"}))
    with pytest.raises(DiagnosisError, match="list of JSON objects"):
        load_responses(obj, "model_response")
