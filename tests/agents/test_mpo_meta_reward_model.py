"""MPO's meta-reward model: its three stages against a scripted server, the conversion of a draft into
a rubric (duplicates dropped, deductions apart, guards kept), refusals that keep the previous rubric,
and prompts that are our own rather than copies of MPO's."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import GOOD_DRAFT, mpo_reply

from agentgraphs.agents.mpo import meta_reward_model as mrm
from agentgraphs.models import GatewayChatModel, get_model
from agentgraphs.rewards.diagnostics import diagnose
from agentgraphs.rewards.rubric import Band, Criterion, LengthRange, Rubric, RubricError
from agentgraphs.testing.openai_server import OpenAITestServer, ServerBehaviour

RUBRIC = Rubric(version=3, criteria=(
    Criterion(name="Title", description="A catchy title. Score from 0 to 5.", bands=(Band(min=0, max=5),)),
    Criterion(name="Concision", description="Shorter is better. Score from 0 to 5.", bands=(Band(min=0, max=5),)),
))
SAMPLES = [
    {"prompt": "Write an essay on remote work.", "completion": "Remote Work: The Future", "reward": 10.0,
     "criteria": [{"name": "Title", "score": 5, "rationale": "catchy"}, {"name": "Concision", "score": 5, "rationale": "short"}]},
    {"prompt": "Write an essay on cities.", "completion": "Cities grow because jobs cluster. " * 8, "reward": 4.0,
     "criteria": [{"name": "Title", "score": 0, "rationale": "none"}, {"name": "Concision", "score": 4, "rationale": "ok"}]},
]
ESSAY = ("Cities attract people because jobs cluster where firms share suppliers and workers. "
         "That clustering raises wages, which draws more people, which in turn draws more firms.")


@pytest.fixture
def server() -> Iterator[OpenAITestServer]:
    with OpenAITestServer(ServerBehaviour(reply=mpo_reply)) as running:
        yield running


@pytest.fixture
def meta_judge(server: OpenAITestServer) -> GatewayChatModel:
    return get_model(f"vllm:test-model@{server.base_url}", temperature=0.0)


def _schema_names(server: OpenAITestServer) -> list[str]:
    return [r["response_format"]["json_schema"]["name"] for r in server.requests]


def test_three_stages_make_a_new_version_from_the_proposals(server: OpenAITestServer, meta_judge: GatewayChatModel) -> None:
    diagnosis = diagnose([s["completion"] for s in SAMPLES])
    analyses = mrm.analyse_samples(SAMPLES, RUBRIC, diagnosis, model=meta_judge)
    drafts = mrm.refine_rubrics(SAMPLES, analyses, RUBRIC, model=meta_judge)
    outcome = mrm.merge_drafts(drafts, RUBRIC, diagnosis, model=meta_judge)
    assert _schema_names(server) == ["SampleAnalysis"] * 2 + ["RubricDraft"] * 3
    # every stage sees the rubric in force and the diagnostics; analysis also sees the scores
    first = next(text for r in server.requests[:2] if "Remote Work" in (text := json.dumps(r["messages"])))
    assert "Concision" in first and "Total reward: 10" in first
    assert "length collapse" in first  # the diagnostics' evidence reaches the meta-reward model
    assert "[Proposal 2]" in json.dumps(server.requests[-1]["messages"])
    assert outcome.accepted and outcome.version == 4
    new = Rubric.from_text(outcome.rubric_text, version=4)
    assert [c.name for c in new.criteria] == ["Argument", "Structure", "Padding (deduction)"]
    assert new.max_score() == 6 + 4 + 3


def test_a_failed_analysis_skips_that_sample_and_is_not_refined(meta_judge: GatewayChatModel) -> None:
    analyses: list[mrm.SampleAnalysis | None] = [None, mrm.SampleAnalysis(score_inflated=True, exploit="a title only",
                                                                           missing="length", narrow_ranges="none")]
    drafts = mrm.refine_rubrics(SAMPLES, analyses, RUBRIC, model=meta_judge)
    assert len(drafts) == 1 and drafts[0] is not None


def test_draft_conversion_drops_duplicates_orders_deductions_and_appends_guards() -> None:
    guard = Criterion(name="Length guard", description="At least 40 words. Score from 0 to 5.",
                      bands=(Band(min=0, max=5),), check=LengthRange(min_words=40))
    rubric = mrm.draft_to_rubric(mrm.RubricDraft(**GOOD_DRAFT), version=2, parent_version=1, guards=[guard])
    assert [c.name for c in rubric.criteria] == ["Argument", "Structure", "Padding (deduction)", "Length guard"]
    assert rubric.criteria[2].description.startswith("Deduction:")
    assert rubric.criteria[0].bands == (Band(min=0, max=2, description="no argument, e.g. a title"),
                                        Band(min=3, max=6, description="a clear, supported thesis"))
    assert Rubric.from_text(rubric.to_text(), version=2, parent_version=1) == rubric
    # the guard overrides the judge for a short answer (its check fails), not for an essay
    assert not guard.check.passes("Remote Work: The Future") and guard.check.passes(ESSAY * 2)


def test_overlapping_bands_or_too_few_criteria_are_refused() -> None:
    overlapping = json.loads(json.dumps(GOOD_DRAFT))
    overlapping["criteria"][0]["bands"][1]["min"] = 1
    with pytest.raises(RubricError, match="overlapping score bands"):
        mrm.draft_to_rubric(mrm.RubricDraft(**overlapping), version=2, parent_version=1)
    twins = {"criteria_needed": 2, "criteria": [GOOD_DRAFT["criteria"][0], GOOD_DRAFT["criteria"][3]]}
    with pytest.raises(RubricError, match="only 1 distinct criterion"):
        mrm.draft_to_rubric(mrm.RubricDraft(**twins), version=2, parent_version=1)


def test_a_refused_merge_keeps_the_previous_rubric_and_says_why(server: OpenAITestServer, meta_judge: GatewayChatModel) -> None:
    bad = json.loads(json.dumps(GOOD_DRAFT))
    bad["criteria"][1]["bands"] = [{"min": 0, "max": 3, "description": "a"}, {"min": 2, "max": 4, "description": "b"}]
    server.behaviour.reply = lambda body: json.dumps(bad)
    outcome = mrm.merge_drafts([mrm.RubricDraft(**GOOD_DRAFT)], RUBRIC, None, model=meta_judge)
    assert not outcome.accepted and outcome.version == 3 and outcome.rubric_text == RUBRIC.to_text()
    assert "overlapping score bands" in outcome.reason
    server.behaviour.reply = "this is not JSON at all"
    outcome = mrm.merge_drafts([mrm.RubricDraft(**GOOD_DRAFT)], RUBRIC, None, model=meta_judge)
    assert not outcome.accepted and "never gave a valid rubric" in outcome.reason
    outcome = mrm.merge_drafts([None, None], RUBRIC, None, model=meta_judge)
    assert not outcome.accepted and "no valid proposal" in outcome.reason


def test_guards_follow_the_indicators_and_persist() -> None:
    essays = diagnose([ESSAY] * 8)
    assert mrm.guard_criteria(essays, baseline_median_words=30.0) == []
    titles = diagnose(["Remote Work: The Future"] * 8)
    guards = mrm.guard_criteria(titles, baseline_median_words=30.0)
    assert {g.check.kind for g in guards if g.check} == {"length_range", "required_format"}
    length = next(g for g in guards if g.check and g.check.kind == "length_range")
    assert length.check == LengthRange(min_words=18)  # 60 % of the policy's own starting median
    looping = diagnose(["the cat sat on the mat " * 10] * 4)
    previous = Rubric(criteria=(*RUBRIC.criteria, length), version=4)
    kinds = {g.check.kind for g in mrm.guard_criteria(looping, baseline_median_words=30.0, previous=previous) if g.check}
    assert {"length_range", "max_repetition"} <= kinds  # an earlier guard stays; repetition adds one


def test_our_meta_prompts_are_not_copies_of_mpos(shared_data: Path) -> None:
    """MPO's prompt files are reference data: no run of 8 words of theirs appears in ours."""
    def grams(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"[a-z']+", text.lower())
        return {tuple(words[i:i + 8]) for i in range(len(words) - 7)}

    theirs: set[tuple[str, ...]] = set()
    files = sorted((shared_data / "mpo" / "prompts").glob("*/mrm_*.txt"))
    assert files, "the shared MPO meta-prompts are missing"
    for file in files:
        theirs |= grams(file.read_text(encoding="utf-8"))
    for prompt in (mrm.ANALYSIS_PROMPT, mrm.REFINEMENT_PROMPT, mrm.MERGING_PROMPT):
        assert not grams(prompt) & theirs


def test_guards_apply_even_when_the_models_rubric_is_refused(meta_judge: GatewayChatModel) -> None:
    guard = mrm.guard_criteria(diagnose(["Remote Work: The Future"] * 8), baseline_median_words=30.0)
    outcome = mrm.merge_drafts([None], RUBRIC, None, model=meta_judge, guards=guard)
    assert outcome.accepted and outcome.version == 4 and "no valid proposal" in outcome.reason
    new = Rubric.from_text(outcome.rubric_text, version=4)
    assert [c.name for c in new.criteria] == ["Title", "Concision", "Length guard", "Prose guard"]
    # the same guards again change nothing: no new version
    again = mrm.merge_drafts([None], new, None, model=meta_judge, guards=[c for c in new.criteria if c.check])
    assert not again.accepted and again.version == 4
