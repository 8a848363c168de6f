"""MPO's meta-reward model: its three stages against a scripted server, the conversion of a draft into
a rubric (duplicates dropped, deductions apart, guards kept), refusals that keep the previous rubric,
and prompts that are our own rather than copies of MPO's."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import GOOD_DRAFT, mpo_reply
from pydantic import ValidationError

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
    assert new.max_score() == 9 + 7 + 7


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
                                        Band(min=3, max=6, description="a stated thesis"),
                                        Band(min=7, max=9, description="a clear, supported thesis"))
    assert Rubric.from_text(rubric.to_text(), version=2, parent_version=1) == rubric
    # the guard overrides the judge for a short answer (its check fails), not for an essay
    assert not guard.check.passes("Remote Work: The Future") and guard.check.passes(ESSAY * 2)


def test_band_tops_have_ranges_that_keep_three_bands_apart() -> None:
    """A small judge wrote one top three times ([5, 5, 5]) in a free list; here each band's top has its
    own range, so a draft either has three distinct bands or is refused before it becomes a rubric."""
    draft = mrm.RubricDraft(**GOOD_DRAFT)
    for criterion in mrm.draft_to_rubric(draft, version=2, parent_version=1).criteria:
        assert [b.min for b in criterion.bands][0] == 0
        assert all(a.max + 1 == b.min for a, b in itertools.pairwise(criterion.bands))
    same_tops = json.loads(json.dumps(GOOD_DRAFT))
    for band in ("low", "middle", "high"):
        same_tops["criteria"][0][band]["up_to"] = 5
    with pytest.raises(ValidationError):
        mrm.RubricDraft(**same_tops)
    schema = mrm.RubricDraft.model_json_schema()["$defs"]
    assert (schema["LowBand"]["properties"]["up_to"]["maximum"] < schema["MiddleBand"]["properties"]["up_to"]["minimum"]
            and schema["MiddleBand"]["properties"]["up_to"]["maximum"] < schema["HighBand"]["properties"]["up_to"]["minimum"])
    twins = {"criteria_needed": 2, "criteria": [GOOD_DRAFT["criteria"][0], GOOD_DRAFT["criteria"][3]]}
    with pytest.raises(RubricError, match="only 1 usable criterion"):
        mrm.draft_to_rubric(mrm.RubricDraft(**twins), version=2, parent_version=1)


def test_a_criterion_whose_bands_say_the_same_thing_is_dropped() -> None:
    """What the embedded 0.5B wrote at every replayed meta step: one copied sentence in all three bands."""
    parroted = json.loads(json.dumps(GOOD_DRAFT))
    for band in ("low", "middle", "high"):
        parroted["criteria"][1][band]["description"] = "The Constitution of the  United States"
    rubric = mrm.draft_to_rubric(mrm.RubricDraft(**parroted), version=2, parent_version=1)
    assert [c.name for c in rubric.criteria] == ["Argument", "Padding (deduction)"]
    for band in ("low", "middle", "high"):
        parroted["criteria"][0][band]["description"] = f"A thesis{'' if band == 'low' else ' '}"
    with pytest.raises(RubricError, match=r"only 1 usable criterion .*bands that say nothing of their own: 'Argument', 'Structure'"):
        mrm.draft_to_rubric(mrm.RubricDraft(**parroted), version=2, parent_version=1)


def test_bands_that_copy_our_instructions_say_nothing(server: OpenAITestServer, meta_judge: GatewayChatModel) -> None:
    """What the embedded 0.5B merged at step 5 of bench/mpo_experiment.py (2026-12-05): each band the schema's
    own description of that band. The rubric was accepted then; now such bands are asked for again, one
    call per band, and a criterion whose bands still copy the instructions is dropped."""
    copied = json.loads(json.dumps(GOOD_DRAFT))
    for band in ("low", "middle", "high"):
        copied["criteria"][1][band]["description"] = f"What earns a {band} score, with a very short example"
    with pytest.raises(RubricError, match="bands that say nothing of their own: 'Structure'"):
        mrm.draft_to_rubric(mrm.RubricDraft(**{**copied, "criteria": copied["criteria"][:2]}), version=2, parent_version=1)

    def band_call(body: dict) -> str:
        if body["response_format"]["json_schema"]["name"] == "BandText":
            return json.dumps({"description": "Write about this band's level only, so that a grader can tell it apart."})
        return json.dumps(copied)

    server.behaviour.reply = band_call
    outcome = mrm.merge_drafts([mrm.RubricDraft(**GOOD_DRAFT)], RUBRIC, None, model=meta_judge)
    assert _schema_names(server) == ["RubricDraft"] + ["BandText"] * 3
    assert outcome.accepted and "dropped 'Structure' (" in outcome.reason
    assert [c.name for c in Rubric.from_text(outcome.rubric_text, version=4).criteria] == ["Argument", "Padding (deduction)"]


def test_a_copied_heading_keeps_one_deduction_marker() -> None:
    """The 0.5B copies the current rubric's headings, our "(deduction)" marker included, and its 40-character
    name limit can cut that open: three meta steps of bench/mpo_experiment.py grew "… (deduction) (ded (deduction)"."""
    draft = json.loads(json.dumps(GOOD_DRAFT))
    draft["criteria"][2]["name"] = "Padding (deduction) (ded"
    draft["criteria"][0]["name"] = "Argument (Deduction)"
    rubric = mrm.draft_to_rubric(mrm.RubricDraft(**draft), version=2, parent_version=1)
    assert [c.name for c in rubric.criteria] == ["Argument", "Structure", "Padding (deduction)"]


def _parroted_merge(body: dict) -> str:
    """A merge whose 'Structure' bands all say one thing; band calls answer after the band they were asked."""
    name = body["response_format"]["json_schema"]["name"]
    if name == "BandText":
        asked = re.search(r"\[Band to write\]\n(\w+), scores (\d+) to (\d+)", body["messages"][-1]["content"])
        assert asked is not None
        return json.dumps({"description": f"{asked[1]} band: from {asked[2]} to {asked[3]} points"})
    draft = json.loads(json.dumps(GOOD_DRAFT))
    for band in ("low", "middle", "high"):
        draft["criteria"][1][band]["description"] = "Does the response stay on the topic of the prompt?"
    return json.dumps(draft)


def test_bands_that_say_the_same_thing_are_written_again_one_band_at_a_time(
        server: OpenAITestServer, meta_judge: GatewayChatModel) -> None:
    server.behaviour.reply = _parroted_merge
    outcome = mrm.merge_drafts([mrm.RubricDraft(**GOOD_DRAFT)], RUBRIC, None, model=meta_judge)
    assert _schema_names(server) == ["RubricDraft"] + ["BandText"] * 3  # only the parroted criterion's bands
    asked = [r["messages"][-1]["content"] for r in server.requests[1:]]
    assert all("Structure (award): Introduction, body paragraphs, conclusion." in a for a in asked)
    assert outcome.accepted and "bands written again one at a time for 'Structure'" in outcome.reason
    structure = Rubric.from_text(outcome.rubric_text, version=4).criteria[1]
    assert structure.bands == (Band(min=0, max=1, description="low band: from 0 to 1 points"),
                               Band(min=2, max=4, description="middle band: from 2 to 4 points"),
                               Band(min=5, max=7, description="high band: from 5 to 7 points"))


def test_a_criterion_is_still_dropped_when_its_rewritten_bands_repeat_too(
        server: OpenAITestServer, meta_judge: GatewayChatModel) -> None:
    def same_again(body: dict) -> str:
        if body["response_format"]["json_schema"]["name"] == "BandText":
            return json.dumps({"description": "Stays on the topic of the prompt."})
        return _parroted_merge(body)

    server.behaviour.reply = same_again
    outcome = mrm.merge_drafts([mrm.RubricDraft(**GOOD_DRAFT)], RUBRIC, None, model=meta_judge)
    assert outcome.accepted and "dropped 'Structure' (" in outcome.reason and "written again" not in outcome.reason
    assert [c.name for c in Rubric.from_text(outcome.rubric_text, version=4).criteria] == ["Argument", "Padding (deduction)"]


def test_a_band_that_loops_and_a_criterion_that_quotes_a_sample_are_dropped() -> None:
    """Both written by the embedded 0.5B merging proposals for the shared collapsed run's titles."""
    looping = json.loads(json.dumps(GOOD_DRAFT))
    for band, score in (("low", 0), ("middle", 1), ("high", 5)):
        looping["criteria"][1][band]["description"] = ("The voting age of 25 is a fundamental human experience. "
                                                       f"The voting age of 25 is a {score}-")
    rubric = mrm.draft_to_rubric(mrm.RubricDraft(**looping), version=2, parent_version=1)
    assert [c.name for c in rubric.criteria] == ["Argument", "Padding (deduction)"]

    samples = [{"prompt": "You will act as an English writer. Write an essay that argues against the claim that the delay "
                          "of Merrick Garland's Supreme Court nomination is reason enough to vote against Kavanaugh.",
                "completion": "Delay and Delay: A Misguided Attack on Justice and Integrity"},
               {"prompt": "You will act as an English writer. Write an essay that argues against the claim that "
                          "the voting age should be 25.", "completion": "The Myth of the Voting Age of 25"}]
    quoting = json.loads(json.dumps(GOOD_DRAFT))
    quoting["criteria"][2]["description"] = ("The delay of Merrick Garland's Supreme Court nomination is not enough "
                                             "to vote against Brett Kavanaugh's nomination.")
    rubric = mrm.draft_to_rubric(mrm.RubricDraft(**quoting), version=2, parent_version=1, samples=samples)
    assert [c.name for c in rubric.criteria] == ["Argument", "Structure"]
    # the instructions every sampled prompt shares may be quoted: they hold for the whole task
    quoting["criteria"][2]["description"] = "Write an essay that argues against the claim, not a title."
    rubric = mrm.draft_to_rubric(mrm.RubricDraft(**quoting), version=2, parent_version=1, samples=samples)
    assert [c.name for c in rubric.criteria] == ["Argument", "Structure", "Padding (deduction)"]
    looping["criteria"][0] = quoting["criteria"][0] | {"description": "Delay and Delay: A Misguided Attack on Justice"}
    with pytest.raises(RubricError, match="only 1 usable criterion .*bands that say nothing of their own: 'Structure'; "
                                          "dropped for quoting a sampled prompt or response: 'Argument'"):
        mrm.draft_to_rubric(mrm.RubricDraft(**looping), version=2, parent_version=1, samples=samples)


def test_a_criterion_that_quotes_a_sample_gets_no_band_calls(server: OpenAITestServer,
                                                              meta_judge: GatewayChatModel) -> None:
    draft = json.loads(json.dumps(GOOD_DRAFT["criteria"][1]))
    draft["description"] = "Whether the delay of Merrick Garland's nomination was fair."
    for band in ("low", "middle", "high"):
        draft[band]["description"] = "The same sentence."
    criterion = mrm.CriterionDraft(**draft)
    quoted = [{"prompt": "Write an essay.", "completion": "The Delay of Merrick Garland's Nomination Was Fair"}]
    assert mrm.rewrite_bands([criterion], model=meta_judge, samples=quoted) == [criterion]
    assert server.requests == []


def test_a_refused_merge_keeps_the_previous_rubric_and_says_why(server: OpenAITestServer, meta_judge: GatewayChatModel) -> None:
    bad = {"criteria_needed": 2, "criteria": [GOOD_DRAFT["criteria"][0], GOOD_DRAFT["criteria"][3]]}
    server.behaviour.reply = lambda body: json.dumps(bad)
    outcome = mrm.merge_drafts([mrm.RubricDraft(**GOOD_DRAFT)], RUBRIC, None, model=meta_judge)
    assert not outcome.accepted and outcome.version == 3 and outcome.rubric_text == RUBRIC.to_text()
    assert "only 1 usable criterion" in outcome.reason
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
    for prompt in (mrm.ANALYSIS_PROMPT, mrm.REFINEMENT_PROMPT, mrm.MERGING_PROMPT, mrm.BAND_PROMPT):
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
