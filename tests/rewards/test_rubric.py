"""Rubric: parsing MPO's real rubric files, round-trips, checks, scores, diffs and errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from agentgraphs.errors import AgentgraphsError
from agentgraphs.rewards.rubric import (
    Band,
    Criterion,
    LengthRange,
    MaxRepetition,
    RequiredFormat,
    Rubric,
    RubricError,
    diff,
)

# Parametrisation happens before fixtures exist, so the files are listed from the same place the
# ``shared_data`` fixture looks; each test still takes the fixture, which skips when the data is absent.
_REPO = Path(__file__).resolve().parents[2]
PROMPTS = Path(os.environ.get("AGENTGRAPHS_SHARED_DATA", _REPO.parent / "shared" / "data")) / "mpo" / "prompts"
RUBRIC_FILES = sorted(PROMPTS.glob("*/evaluation_rubric*.txt"))


def _items(text: str) -> list[str]:
    items = [i.strip() for i in re.findall(r"<item>(.*?)</item>", text, re.S)]
    if not items:
        guidelines = re.search(r"\[Start of Meta-Level Guidelines\](.*?)\[End of Meta-Level Guidelines\]", text, re.S)
        assert guidelines is not None
        items = [guidelines.group(1).strip()]
    return [i for i in items if i]


@pytest.mark.parametrize("name", [str(p.relative_to(PROMPTS)) for p in RUBRIC_FILES] or ["(none found)"])
def test_every_real_rubric_parses_and_keeps_its_item_texts(shared_data: Path, name: str) -> None:
    path = shared_data / "mpo" / "prompts" / name
    if not path.is_file():
        pytest.skip(f"no rubric files under {PROMPTS}")
    text = path.read_text()
    rubric = Rubric.from_text(text)
    items = _items(text)
    assert len(rubric.criteria) == len(items)
    written = rubric.to_text()
    for item in items:
        assert item in written
    assert Rubric.from_text(written) == rubric


def test_real_rubrics_give_the_stated_scales(shared_data: Path) -> None:
    prompts = shared_data / "mpo" / "prompts"
    thin = Rubric.from_text((prompts / "essay_writing" / "evaluation_rubric_real_iter_0.txt").read_text())
    assert thin.criteria[0].bands == (Band(min=0, max=5),)
    assert thin.max_score() == 5
    expert = Rubric.from_text((prompts / "essay_writing" / "evaluation_rubric_expert.txt").read_text())
    assert [c.name for c in expert.criteria] == ["Ideas and Content", "Organization", "Style", "Voice", "Language Conventions"]
    assert [b.min for b in expert.criteria[0].bands] == [6, 5, 4, 3, 2, 1]
    assert "unifying theme" in expert.criteria[0].bands[0].description
    assert expert.max_score() == 6 * 4 + 4
    oracle = Rubric.from_text((prompts / "essay_writing" / "evaluation_rubric_oracle.txt").read_text())
    assert [c.name for c in oracle.criteria][0] == "Logical Flow and Structure"
    assert oracle.max_score() == 15
    math = Rubric.from_text((prompts / "math_reasoning" / "evaluation_rubric_real_iter_0.txt").read_text())
    assert math.layout == "guidelines"
    with pytest.raises(RubricError, match="no score range"):
        math.max_score()


def _own() -> Rubric:
    return Rubric(
        criteria=(
            Criterion(name="completeness", description="The response is a full essay answering the instruction.",
                      bands=(Band(min=0, max=1, description="a title or fragment"), Band(min=2, max=4, description="partial"),
                             Band(min=5, max=5, description="complete and well argued")),
                      check=LengthRange(min_words=150, max_words=400)),
            Criterion(name="fluency", description="Rate fluency from 0 to 5.", check=MaxRepetition(n=3, max_share=0.25),
                      bands=(Band(min=0, max=5),)),
            Criterion(name="structure", description="Paragraphs, each one idea (score: 3) when mostly so.",
                      bands=(Band(min=0, max=3, description="weak"),), check=RequiredFormat(unit="paragraphs", count=3)),
            Criterion(name="criterion_4", description="No name line, free text, no scale."),
        ),
        version=2, parent_version=1,
    )


def test_own_rubric_round_trips() -> None:
    rubric = _own()
    text = rubric.to_text()
    assert Rubric.from_text(text, version=2, parent_version=1) == rubric
    assert "Check: length_range min_words=150 max_words=400" in text
    assert "- 0-1: a title or fragment" in text
    assert "### fluency\nRate fluency from 0 to 5.\nCheck: max_repetition" in text  # inferred bands: no trailer
    assert Rubric.from_text(text).version == 0


def test_guidelines_layout_round_trips() -> None:
    rubric = Rubric(criteria=(Criterion(name="criterion_1", description="Judge correctness from 0 to 5."),), layout="guidelines")
    assert rubric.criteria[0].bands == ()
    rubric = rubric.model_copy(update={"criteria": (rubric.criteria[0].model_copy(update={"bands": (Band(min=0, max=5),)}),)})
    assert Rubric.from_text(rubric.to_text()) == rubric


def test_checks_are_deterministic() -> None:
    essay = ("First point is made here. " * 3 + "\n\n") + "A second idea follows. It differs.\n\nA third and last one."
    assert LengthRange(min_words=5, max_words=50).passes(essay)
    assert not LengthRange(min_words=150).passes("A Title Only")
    assert RequiredFormat(unit="paragraphs", count=3).passes(essay)
    assert not RequiredFormat(unit="paragraphs", count=2).passes("One line")
    assert not MaxRepetition(max_share=0.2).passes("the cat sat " * 20)
    assert MaxRepetition(max_share=0.2).passes("A short fresh sentence with no loops at all.")


def test_diff_shows_changed_items() -> None:
    old = _own()
    changed = old.criteria[1].model_copy(update={"description": "Rate fluency from 0 to 5; penalise titles without a body."})
    new = old.model_copy(update={"criteria": (old.criteria[0], changed, *old.criteria[2:]), "version": 3, "parent_version": 2})
    text = diff(old, new)
    assert text.startswith("--- rubric v2\n+++ rubric v3")
    assert "-Rate fluency from 0 to 5." in text and "+Rate fluency from 0 to 5; penalise titles" in text
    assert diff(old, old) == ""


@pytest.mark.parametrize(("text", "problem"), [
    ("Just score the essay from 0 to 5.", "no <rubric>"),
    ("<rubric>\n</rubric>", "zero non-empty <item>"),
    ("<rubric><item>  </item></rubric>", "zero non-empty <item>"),
    ("<rubric><item>x\nCheck: length_range min_words=lots</item></rubric>", "bad check"),
])
def test_bad_texts_raise_a_clear_error(text: str, problem: str) -> None:
    with pytest.raises(RubricError, match=problem) as info:
        Rubric.from_text(text)
    assert isinstance(info.value, AgentgraphsError) and isinstance(info.value, ValueError)


def test_unwritable_criterion_is_refused() -> None:
    with pytest.raises(RubricError, match="one line"):
        Rubric(criteria=(Criterion(name="x", description="free", bands=(Band(min=0, max=1, description="a\nb"),)),)).to_text()
    with pytest.raises(ValueError):
        Rubric(criteria=())
