"""MPO's meta-reward model (the "senior instructor"): it reads scored rollouts and rewrites the rubric.

Role ``meta_judge``. Three stages, each its own prompt and output schema, as in the MPO paper:

- **meta-analysis**, one call per sampled rollout: is the judge's score inflated, what in the
  response games the rubric, what the rubric misses, which score ranges are too coarse;
- **meta-refinement**, one call per analysed rollout: decide how many criteria the task needs and
  write each, awards and deductions kept apart, with scored bands and short examples;
- **meta-merging**, one call: fold the per-sample proposals into one rubric without overlaps. A merged
  criterion whose bands all say the same thing gets its bands written again, one call per band.

Every stage also sees the deterministic hack indicators of :mod:`agentgraphs.rewards.diagnostics`,
and those indicators add *guard* criteria with deterministic checks (a minimum length, a repetition
limit, a sentence count) that the judge cannot be talked out of. The model writes data — names,
texts, integer bands — never code, and the merged proposal becomes a rubric only if it converts
and reads back; otherwise the previous version stays in force and the reason is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field

from agentgraphs.errors import StructuredOutputError
from agentgraphs.models import GatewayChatModel
from agentgraphs.rewards.diagnostics import FORMAT_VIOLATION_LIMIT, REPETITION_LIMIT, Diagnosis, word_ngrams
from agentgraphs.rewards.rubric import Band, Check, Criterion, LengthRange, MaxRepetition, RequiredFormat, Rubric, RubricError
from agentgraphs.tools.text import clip_text

__all__ = [
    "CriterionDraft",
    "MergeOutcome",
    "RubricDraft",
    "SampleAnalysis",
    "BandText",
    "analyse_samples",
    "draft_to_rubric",
    "guard_criteria",
    "merge_drafts",
    "refine_rubrics",
    "rewrite_bands",
]

RESPONSE_CHARS = 1500
"""A response is clipped to this in meta prompts: enough to judge an essay's shape, bounded context."""
MAX_SCORE = 10
"""Highest band score a drafted criterion may use; keeps totals comparable across versions."""
COLLAPSE_RATIO = 0.6
"""A guard on length is added once the median response falls below this share of the first step's."""
LOOP_WORDS = 4
"""A band that repeats a run of this many words within itself is a loop, not a description."""
QUOTE_WORDS = 6
"""A criterion whose name or description shares this many words in a row with one sampled prompt or
response (beyond the wording all sampled prompts share) is about that essay, not a quality of essays."""


class SampleAnalysis(BaseModel):
    """The senior instructor's verdict on how one rollout was scored."""

    score_inflated: bool = Field(description="True when the judge gave more than the response deserves.")
    exploit: str = Field(max_length=200, description="What in the response games the rubric, or 'none'.")
    missing: str = Field(max_length=200, description="What the rubric fails to check that matters here, or 'none'.")
    narrow_ranges: str = Field(max_length=200, description="Criteria whose score range is too coarse, or 'none'.")


class LowBand(BaseModel):
    up_to: int = Field(ge=0, le=3, description="The low band's highest score (0 to 3); it starts at 0.")
    description: str = Field(max_length=140, description="What earns a low score, with a very short example.")


class MiddleBand(BaseModel):
    up_to: int = Field(ge=4, le=6, description="The middle band's highest score (4 to 6).")
    description: str = Field(max_length=140, description="What earns a middle score, with a very short example.")


class HighBand(BaseModel):
    up_to: int = Field(ge=7, le=MAX_SCORE, description=f"The criterion's highest score (7 to {MAX_SCORE}): its weight.")
    description: str = Field(max_length=140, description="What earns a high score, with a very short example.")


class CriterionDraft(BaseModel):
    """A criterion with three score bands, each given by its top score.

    Each band's top has its own range (low 0–3, middle 4–6, high 7–10), so a band starts one above the
    previous top and every drafted criterion has three distinct, non-overlapping bands. Small judges
    given a free list of bands wrote overlapping ranges (as ``min``/``max`` pairs) or one top three
    times (as tops, ``[5, 5, 5]`` from the embedded 0.5B model in bench/mpo_meta_replay.py), and the
    merge had to be refused.
    """

    name: str = Field(max_length=40, description="A short heading, e.g. 'Argument'.")
    kind: Literal["award", "deduction"] = Field(description="award: points for a quality; deduction: points lost for a flaw.")
    description: str = Field(max_length=200, description="What this criterion measures, in one or two sentences.")
    low: LowBand
    middle: MiddleBand
    high: HighBand


class BandText(BaseModel):
    """One band's wording, asked for on its own when a merged criterion's bands did not differ."""

    description: str = Field(min_length=8, max_length=140,
                             description="What a response in this band does on the criterion, with a very short example.")


class RubricDraft(BaseModel):
    """A proposed rubric: how many criteria are needed, then each one."""

    model_config = ConfigDict(extra="ignore")

    criteria_needed: int = Field(ge=2, le=5, description="How many criteria this task needs.")
    criteria: list[CriterionDraft] = Field(min_length=2, max_length=5)


class MergeOutcome(BaseModel):
    """What meta-merging produced: the rubric now in force and whether it is a new version."""

    rubric_text: str
    version: int
    accepted: bool
    reason: str
    """Why the proposal was kept or refused (refusals keep the previous version)."""


ANALYSIS_PROMPT = """You supervise a junior grader who scores students' responses against a rubric. Students \
learn to please the grader, and a rubric's wording can reward responses that do not do the task: answers that \
are very short, that repeat themselves, that are only a title, or that echo the rubric's words. For the \
response below, decide whether the grader's score is inflated, name the trick (if any) that earned points, \
name what the rubric fails to check, and name criteria whose score range is too coarse to tell this response \
from an excellent one. Answer 'none' where nothing applies. Be concrete and brief."""

REFINEMENT_PROMPT = """You are a senior instructor rewriting a grading rubric so that the weakness found in \
the analysis can no longer earn points. First decide how many criteria the task needs (2 to 5). Then write \
each criterion: a short heading; 'award' if it gives points for a quality or 'deduction' if it takes points \
away for a flaw; what it measures; and its low, middle and high score bands, each given by its top score \
(low up to 0-3, middle up to 4-6, high up to 7-10; a higher top weighs the criterion more) and saying what \
earns it with a very short example. One quality per criterion; awards and deductions apart."""

MERGING_PROMPT = """You merge several proposed grading rubrics for the same task into one. Keep each distinct \
quality exactly once, combine criteria that measure the same thing, drop duplicates and vague criteria, keep \
awards and deductions as separate criteria, and end with 2 to 5 criteria, each with its low, middle and high \
score bands given by their top scores."""


BAND_PROMPT = """You are finishing a grading rubric. Write the wording of one score band of one criterion: what \
a response that lands in this band does, or fails to do, on this criterion, in one sentence with a very short \
example. Write about this band's level only, so that a grader can tell it from the criterion's other bands; do \
not restate the criterion's description."""

BAND_LEVELS = {
    "award": {"low": "the quality is missing or badly done", "middle": "the quality is partly there",
              "high": "the quality is fully there"},
    "deduction": {"low": "the flaw is severe", "middle": "the flaw shows in places", "high": "the flaw is absent"},
}
"""What each level means, so the band asked for is unambiguous; the model writes the concrete wording."""


def _instruction_ngrams() -> frozenset[tuple[str, ...]]:
    """Runs of :data:`QUOTE_WORDS` words from what the meta stages tell the model about bands: its
    prompts and the band fields' descriptions in the schemas it fills."""
    texts = [REFINEMENT_PROMPT, MERGING_PROMPT, BAND_PROMPT,
             *(str(f.description) for m in (LowBand, MiddleBand, HighBand, BandText) for f in m.model_fields.values())]
    return frozenset(g for t in texts for g in word_ngrams(t, QUOTE_WORDS))


_INSTRUCTION_NGRAMS = _instruction_ngrams()


def _indicators(diagnosis: Diagnosis | None) -> str:
    if diagnosis is None:
        return "(no diagnostics yet)"
    facts = (f"median length {diagnosis.median_words:.0f} words, repeated 3-gram share {diagnosis.repetition:.2f}, "
             f"distinct-2 {diagnosis.distinct_2:.2f}, format violations {diagnosis.format_violation_share:.0%}")
    evidence = "; ".join(diagnosis.evidence) or "no hack indicator fired"
    return f"{facts}. {evidence}."


def _scores_text(sample: dict[str, Any]) -> str:
    lines = [f"- {c['name']}: {c['score']} ({c.get('rationale', '')})" for c in sample.get("criteria", [])]
    return "\n".join(lines + [f"Total reward: {sample.get('reward', 0.0):g}"])


def analyse_samples(samples: Sequence[dict[str, Any]], rubric: Rubric, diagnosis: Diagnosis | None, *,
                    model: GatewayChatModel, concurrency: int = 4) -> list[SampleAnalysis | None]:
    """Meta-analysis of each scored rollout (``prompt``, ``completion``, ``reward``, ``criteria``).

    A sample whose analysis never validates gives ``None`` (counted by the caller); any other model
    error is raised, so the graph stops and resumes at this stage.
    """
    system = SystemMessage(ANALYSIS_PROMPT)
    inputs = [[system, HumanMessage(
        f"[Task]\n{s['prompt']}\n\n[Response]\n{clip_text(s['completion'], RESPONSE_CHARS) or '(empty)'}\n\n"
        f"[Rubric]\n{rubric.to_text()}\n\n[Grader's scores]\n{_scores_text(s)}\n\n"
        f"[Training diagnostics]\n{_indicators(diagnosis)}")] for s in samples]
    return _batch(model, SampleAnalysis, "mpo-meta-analysis", inputs, concurrency)


def refine_rubrics(samples: Sequence[dict[str, Any]], analyses: Sequence[SampleAnalysis | None], rubric: Rubric, *,
                   model: GatewayChatModel, concurrency: int = 4) -> list[RubricDraft | None]:
    """Meta-refinement: one proposed rubric per analysed sample (``None`` where none validated)."""
    system = SystemMessage(REFINEMENT_PROMPT)
    pairs = [(s, a) for s, a in zip(samples, analyses, strict=True) if a is not None]
    inputs = [[system, HumanMessage(
        f"[Task]\n{s['prompt']}\n\n[Current rubric]\n{rubric.to_text()}\n\n[Response that was graded]\n"
        f"{clip_text(s['completion'], RESPONSE_CHARS // 2) or '(empty)'}\n\n[Analysis]\n"
        f"Score inflated: {'yes' if a.score_inflated else 'no'}\nExploit: {a.exploit}\nRubric misses: {a.missing}\n"
        f"Too-coarse ranges: {a.narrow_ranges}")] for s, a in pairs]
    return _batch(model, RubricDraft, "mpo-meta-refinement", inputs, concurrency)


def merge_drafts(drafts: Sequence[RubricDraft | None], rubric: Rubric, diagnosis: Diagnosis | None, *,
                 model: GatewayChatModel, guards: Sequence[Criterion] = (),
                 samples: Sequence[dict[str, Any]] = ()) -> MergeOutcome:
    """Meta-merging: one rubric from the proposals, plus ``guards``.

    When no usable rubric comes out of the model the previous criteria stay, and the reason is
    recorded; the deterministic ``guards`` are still applied, since they never depend on the model.
    ``samples`` are the rollouts the meta step read: a merged criterion that quotes one of them is
    dropped (see :func:`draft_to_rubric`).
    """
    proposals = [d for d in drafts if d is not None]
    if not proposals:
        return _kept(rubric, guards, "no valid proposal from meta-refinement")
    listing = "\n\n".join(f"[Proposal {i}]\n{_draft_text(d)}" for i, d in enumerate(proposals, 1))
    messages = [SystemMessage(MERGING_PROMPT), HumanMessage(
        f"[Current rubric]\n{rubric.to_text()}\n\n{listing}\n\n[Training diagnostics]\n{_indicators(diagnosis)}")]
    try:
        merged = model.with_structured_output(RubricDraft, agent="mpo-meta-merging").invoke(messages)
    except StructuredOutputError as exc:
        return _kept(rubric, guards, f"meta-merging never gave a valid rubric ({exc.attempts} attempt(s))")
    repeated = [c.name for c in merged.criteria if _bands_say_nothing(c)]
    if repeated:
        merged = merged.model_copy(update={"criteria": rewrite_bands(merged.criteria, model=model, samples=samples)})
    try:
        new = draft_to_rubric(merged, version=rubric.version + 1, parent_version=rubric.version, guards=guards,
                              samples=samples)
    except RubricError as exc:
        return _kept(rubric, guards, f"the merged rubric was refused: {exc}")
    return MergeOutcome(rubric_text=new.to_text(), version=new.version, accepted=True,
                        reason=f"merged {len(proposals)} proposal(s) into {len(new.criteria)} criteria"
                               f"{_merge_note(repeated, merged, new)}")


def rewrite_bands(criteria: Sequence[CriterionDraft], *, model: GatewayChatModel,
                  samples: Sequence[dict[str, Any]] = (), concurrency: int = 4) -> list[CriterionDraft]:
    """``criteria`` with every band of a criterion whose bands say the same thing written again.

    One call per band, each told its level and score range: a small judge that copies one sentence
    into all three bands of a whole-rubric answer (the embedded 0.5B model did at every replayed
    meta step) still has to answer a different question for each band. The new wording must differ,
    too: a band whose answer failed keeps its old text, and :func:`draft_to_rubric` then drops the
    criterion as before. A criterion that quotes one of ``samples`` is left alone: it is dropped
    whatever its bands say, and on the embedded model each band call costs tens of seconds.
    """
    quotable = _sample_ngrams(samples)
    todo = [(i, level) for i, c in enumerate(criteria) if _bands_say_nothing(c) and not _quotes(c, quotable)
            for level in ("low", "middle", "high")]
    system = SystemMessage(BAND_PROMPT)
    inputs = []
    for i, level in todo:
        c = criteria[i]
        low = {"low": 0, "middle": c.low.up_to + 1, "high": c.middle.up_to + 1}[level]
        top = getattr(c, level).up_to
        inputs.append([system, HumanMessage(
            f"[Criterion]\n{c.name} ({c.kind}): {c.description}\n\n[Band to write]\n{level}, scores {low} to {top} "
            f"of {c.high.up_to}: {BAND_LEVELS[c.kind][level]}")])
    answers: list[BandText | None] = _batch(model, BandText, "mpo-meta-bands", inputs, concurrency)
    updated = list(criteria)
    for (i, level), answer in zip(todo, answers, strict=True):
        if answer is not None:
            band = getattr(updated[i], level)
            updated[i] = updated[i].model_copy(update={level: band.model_copy(update={"description": answer.description})})
    return updated


def _merge_note(repeated: Sequence[str], merged: RubricDraft, new: Rubric) -> str:
    """What happened to the merged criteria on the way to ``new``, for the merge's recorded reason."""
    kept = {c.name.lower().removesuffix(" (deduction)") for c in new.criteria}
    names = list(dict.fromkeys(_heading(c.name) for c in merged.criteria))
    fixed = [repr(_heading(n)) for n in repeated if _heading(n).lower() in kept]
    lost = [repr(n) for n in names if n.lower() not in kept]
    parts = [f"bands written again one at a time for {', '.join(fixed)}"] if fixed else []
    parts += [f"dropped {', '.join(lost)} (a duplicate, bands that say nothing of their own, or a quoted sample)"] if lost else []
    return "".join(f"; {p}" for p in parts)


def _heading(name: str) -> str:
    """A drafted name as a rubric heading: one line, no colon (the text form reads one as a separator),
    without the "(deduction)" marker we add ourselves or a parenthesis the name's length limit cut open.
    Kept, the 0.5B's copies of a previous heading grew "… (deduction) (ded (deduction)" over three meta
    steps of bench/mpo_experiment.py."""
    name = re.sub(r"\(\s*deduction\s*\)", " ", name, flags=re.IGNORECASE)
    name = re.sub(r"\([^)]*$", " ", name)
    return " ".join(name.replace(":", " ").split()) or "Criterion"


def _bands_say_nothing(criterion: CriterionDraft) -> bool:
    """Whether the bands say nothing of their own: two with one wording (case and spacing aside), one
    that loops on its own words, or one that copies our instructions (the embedded 0.5B model wrote
    the schema's "What earns a low score, with a very short example." as the band, and bench/mpo_experiment.py
    accepted that rubric before this check)."""
    bands = _bands(criterion)
    if len({b.description.lower() for b in bands}) < len(bands):
        return True
    if any(_INSTRUCTION_NGRAMS & set(word_ngrams(b.description, QUOTE_WORDS)) for b in bands):
        return True
    return any(len(grams) != len(set(grams)) for grams in (word_ngrams(b.description, LOOP_WORDS) for b in bands))


def _quotes(criterion: CriterionDraft, quotable: set[tuple[str, ...]]) -> bool:
    """Whether the criterion's name or description quotes a sample (``quotable``: :func:`_sample_ngrams`)."""
    return bool(quotable & set(word_ngrams(f"{criterion.name}. {criterion.description}", QUOTE_WORDS)))


def _sample_ngrams(samples: Sequence[dict[str, Any]]) -> set[tuple[str, ...]]:
    """Runs of :data:`QUOTE_WORDS` words particular to one sample: its response, and its prompt less the
    wording every sampled prompt shares (task instructions a criterion may rightly repeat)."""
    prompts = [set(word_ngrams(str(s.get("prompt", "")), QUOTE_WORDS)) for s in samples]
    grams: set[tuple[str, ...]] = set()
    if len(prompts) > 1:  # with one prompt nothing tells its topic from the task's instructions
        common = set.intersection(*prompts)
        grams = set().union(*(p - common for p in prompts))
    for s in samples:
        grams.update(word_ngrams(str(s.get("completion", "")), QUOTE_WORDS))
    return grams


def _kept(rubric: Rubric, guards: Sequence[Criterion], why: str) -> MergeOutcome:
    """The previous criteria; a new version only when the guards differ from the rubric's own."""
    criteria = (*(c for c in rubric.criteria if c.check is None), *guards)
    if criteria == rubric.criteria or not guards:
        return MergeOutcome(rubric_text=rubric.to_text(), version=rubric.version, accepted=False,
                            reason=f"{why}; the rubric is unchanged")
    new = Rubric(criteria=criteria, version=rubric.version + 1, parent_version=rubric.version, layout=rubric.layout)
    names = ", ".join(g.name for g in guards)
    return MergeOutcome(rubric_text=new.to_text(), version=new.version, accepted=True,
                        reason=f"{why}; the criteria are kept and the deterministic guards applied ({names})")


def _batch(model: GatewayChatModel, schema: type[BaseModel], agent: str, inputs: list[list[Any]],
           concurrency: int) -> list[Any]:
    answers = model.with_structured_output(schema, agent=agent).batch_answers(inputs, concurrency=concurrency)
    return [None if isinstance(a, StructuredOutputError) else a for a in answers]


def _draft_text(draft: RubricDraft) -> str:
    lines = []
    for c in draft.criteria:
        lines.append(f"### {c.name} ({c.kind}): {c.description}")
        lines.extend(f"- {b.min}-{b.max}: {b.description}" for b in _bands(c))
    return "\n".join(lines)


def _bands(criterion: CriterionDraft) -> tuple[Band, ...]:
    """The low, middle and high bands, each from one above the previous top (the schema keeps them apart)."""
    tops = [(criterion.low, 0), (criterion.middle, criterion.low.up_to + 1), (criterion.high, criterion.middle.up_to + 1)]
    return tuple(Band(min=low, max=band.up_to, description=" ".join(band.description.split())) for band, low in tops)


def draft_to_rubric(draft: RubricDraft, *, version: int, parent_version: int | None,
                    guards: Sequence[Criterion] = (), samples: Sequence[dict[str, Any]] = ()) -> Rubric:
    """A drafted rubric as a :class:`Rubric`, duplicates dropped, deductions last, ``guards`` appended.

    Two kinds of criterion are dropped too, both written by the embedded 0.5B model in
    bench/mpo_meta_replay.py. One whose bands do not each say something of their own (one copied
    sentence in all three, a band looping on itself, or a band copying our instructions): a judge
    reading it cannot tell a weak response from a strong one. And one whose name or description quotes one of ``samples`` (the
    rollouts the meta step read), such as "The delay of Merrick Garland's Supreme Court nomination":
    the rubric scores every prompt of the task, so a criterion about one essay's topic misjudges the rest.
    Raises :class:`RubricError` when fewer than 2 usable criteria are left or the result would not read back.
    """
    seen: set[str] = set()
    dropped: dict[str, list[str]] = {"bands that say nothing of their own": [], "quoting a sampled prompt or response": []}
    quotable = _sample_ngrams(samples)
    awards: list[Criterion] = []
    deductions: list[Criterion] = []
    for c in draft.criteria:
        name = _heading(c.name)
        key = name.lower()
        if key in seen or not c.description.strip():
            continue
        seen.add(key)
        if _bands_say_nothing(c):
            dropped["bands that say nothing of their own"].append(name)
            continue
        if _quotes(c, quotable):
            dropped["quoting a sampled prompt or response"].append(name)
            continue
        bands = _bands(c)
        if c.kind == "deduction":
            text = f"Deduction: the top score means the flaw is absent; lower scores take points away. {c.description.strip()}"
            deductions.append(Criterion(name=f"{name} (deduction)", description=text, bands=bands))
        else:
            awards.append(Criterion(name=name, description=c.description.strip(), bands=bands))
    criteria = [*awards, *deductions]
    if len(criteria) < 2:
        why = "".join(f"; dropped for {reason}: {', '.join(repr(n) for n in names)}" for reason, names in dropped.items() if names)
        what = "criterion" if len(criteria) == 1 else "criteria"
        raise RubricError(f"only {len(criteria)} usable {what} left after dropping duplicates{why}; need at least 2")
    names = {c.name.lower() for c in criteria}
    criteria += [g for g in guards if g.name.lower() not in names]
    rubric = Rubric(criteria=tuple(criteria), version=version, parent_version=parent_version)
    if Rubric.from_text(rubric.to_text(), version=version, parent_version=parent_version) != rubric:
        raise RubricError("the merged rubric does not read back the same from its text")
    return rubric


def guard_criteria(diagnosis: Diagnosis, *, baseline_median_words: float | None,
                   previous: Rubric | None = None) -> list[Criterion]:
    """Deterministic guards the indicators call for, keeping the previous rubric's guards.

    A guard is a criterion with a check: failing it sets the criterion to 0 whatever the judge says.
    Length is guarded relative to the first step's median (the policy's own normal length, which
    a small completion budget bounds), repetition and format against the diagnostics' limits.
    """
    guards: dict[str, Criterion] = {}
    if previous is not None:
        for c in previous.criteria:
            if c.check is not None:
                guards[c.check.kind] = c
    if baseline_median_words and diagnosis.median_words < COLLAPSE_RATIO * baseline_median_words:
        floor = max(1, round(COLLAPSE_RATIO * baseline_median_words))
        guards["length_range"] = _guard("Length guard", f"The response has at least {floor} words, so it is "
                                        "a full answer rather than a title or a fragment.", LengthRange(min_words=floor))
    if diagnosis.repetition >= REPETITION_LIMIT:
        guards["max_repetition"] = _guard("Repetition guard", "The response does not loop: few repeated phrases.",
                                          MaxRepetition(n=3, max_share=round(REPETITION_LIMIT * 0.67, 2)))
    if diagnosis.format_violation_share >= FORMAT_VIOLATION_LIMIT:
        guards["required_format"] = _guard("Prose guard", "The response is prose of at least three sentences.",
                                           RequiredFormat(unit="sentences", count=3))
    return list(guards.values())


def _guard(name: str, text: str, check: Check) -> Criterion:
    return Criterion(name=name, description=f"{text} Score from 0 to 5.", bands=(Band(min=0, max=5),), check=check)
