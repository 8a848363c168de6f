"""MPO's reward model (the "junior instructor"): a judge scores policy responses against the rubric.

Role ``judge``. One structured call per response scores every criterion at once; the output schema
is built from the rubric (one field per criterion, its score bounded by that criterion's bands), so
constrained decoding cannot give an out-of-range integer. The reward is the sum of the criterion
scores, as MPO uses it, or that sum divided by the rubric's highest total. A criterion's
deterministic check, where the rubric has one, overrides the judge: a response that fails it gets
the criterion's lowest score whatever the judge said. A response the judge never answers validly
for scores 0 and is marked ``failed``, so one bad judgement never stops a training step.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from agentgraphs.errors import StructuredOutputError
from agentgraphs.models import GatewayChatModel
from agentgraphs.registry import register
from agentgraphs.rewards.rubric import Check, Criterion, Rubric, RubricError
from agentgraphs.runtime import context_of
from agentgraphs.tools.text import clip_text

__all__ = ["CriterionScore", "RubricScore", "judgement_schema", "score_responses", "score_rollouts"]

Reduce = Literal["sum", "normalised"]

RATIONALE_MAX_CHARS = 200
"""A rationale is one sentence; the bound also ends a small model's runaway string while decoding."""


class CriterionScore(BaseModel):
    """One criterion's score for one response, and why."""

    model_config = ConfigDict(frozen=True)

    name: str
    score: int
    rationale: str
    check_failed: bool = False
    """The rubric's deterministic check failed, so ``score`` is the criterion's minimum."""


class RubricScore(BaseModel):
    """A response's reward under one rubric version, with the per-criterion judgement behind it."""

    model_config = ConfigDict(frozen=True)

    reward: float
    """Sum of the criterion scores, or that sum over ``Rubric.max_score()`` (``reduce="normalised"``)."""
    criteria: tuple[CriterionScore, ...]
    """One entry per rubric criterion, in rubric order."""
    rubric_version: int
    """The version of the rubric that produced this score (the meta-reward model rewrites it)."""
    failed: bool = False
    """The judge's output never validated; every score is 0."""

    def scores(self) -> dict[str, int]:
        """Criterion name → score (a later criterion with a repeated name wins)."""
        return {c.name: c.score for c in self.criteria}


def _clip(value: Any) -> Any:
    # A model that ignores maxLength (no constrained decoding) should not cost a repair call.
    if isinstance(value, str):
        return clip_text(value.strip(), RATIONALE_MAX_CHARS)
    return value


Rationale = Annotated[str, Field(min_length=1, max_length=RATIONALE_MAX_CHARS,
                                 description="One sentence on why the response earns this score."),
                      BeforeValidator(_clip)]


def _bounds(criterion: Criterion) -> tuple[int, int]:
    if not criterion.bands:
        raise RubricError(f"criterion {criterion.name!r} states no score range; add bands (e.g. 'from 0 to 5')")
    return min(b.min for b in criterion.bands), max(b.max for b in criterion.bands)


def _field_names(rubric: Rubric) -> list[str]:
    """A JSON key per criterion: its name in snake case, made unique (names may repeat or be empty)."""
    names: list[str] = []
    for index, criterion in enumerate(rubric.criteria, 1):
        slug = re.sub(r"[^0-9a-z]+", "_", criterion.name.lower()).strip("_") or f"criterion_{index}"
        if slug[0].isdigit() or slug.startswith("model_"):  # pydantic reserves model_*
            slug = f"criterion_{slug}"
        name, n = slug, 2
        while name in names:
            name, n = f"{slug}_{n}", n + 1
        names.append(name)
    return names


def judgement_schema(rubric: Rubric) -> type[BaseModel]:
    """The judge's output schema for ``rubric``: per criterion ``{rationale, score}``, score in its bands."""
    fields: dict[str, Any] = {}
    for index, (key, criterion) in enumerate(zip(_field_names(rubric), rubric.criteria, strict=True), 1):
        low, high = _bounds(criterion)
        item = create_model(
            f"Criterion{index}Judgement",
            rationale=(Rationale, ...),
            score=(int, Field(ge=low, le=high)),
        )
        fields[key] = (item, Field(description=criterion.name))
    return create_model("RubricJudgement", **fields)


ROLE = (
    "You are a strict writing instructor grading a student's response to a task. The rubric below "
    "lists the criteria; each states what earns each score. For every criterion, first write one "
    "short sentence naming the evidence in the response that decides the score, then give the "
    "integer score within that criterion's range. Judge only what the response actually contains: "
    "a title, a fragment or an off-topic answer gets the lowest scores however polished it is, and "
    "length alone earns nothing. Do not rewrite or continue the response."
)


def _system_prompt(rubric: Rubric, keys: list[str]) -> str:
    lines = []
    for key, criterion in zip(keys, rubric.criteria, strict=True):
        low, high = _bounds(criterion)
        lines.append(f"- {key}: {criterion.name}, score {low} to {high}")
    return f"{ROLE}\n\n{rubric.to_text()}\n\nAnswer keys and score ranges:\n" + "\n".join(lines)


def _describe(check: Check) -> str:
    fields = ", ".join(f"{k}={v}" for k, v in check.model_dump(exclude={"kind"}, exclude_none=True).items())
    return f"{check.kind}({fields})"


def _score(judgement: BaseModel, response: str, rubric: Rubric, keys: list[str], reduce: Reduce) -> RubricScore:
    criteria = []
    for key, criterion in zip(keys, rubric.criteria, strict=True):
        part = getattr(judgement, key)
        score, rationale, check_failed = part.score, part.rationale, False
        if criterion.check is not None and not criterion.check.passes(response):
            low, _ = _bounds(criterion)
            check_failed = True
            rationale = (f"Failed the rubric's check {_describe(criterion.check)}, so the score is the "
                         f"minimum {low} (the judge gave {score}: {rationale})")
            score = low
        criteria.append(CriterionScore(name=criterion.name, score=score, rationale=rationale, check_failed=check_failed))
    total = sum(c.score for c in criteria)
    reward = total / rubric.max_score() if reduce == "normalised" else float(total)
    return RubricScore(reward=reward, criteria=tuple(criteria), rubric_version=rubric.version)


def _failure(rubric: Rubric, error: StructuredOutputError) -> RubricScore:
    reason = f"The judge's output never validated ({error.attempts} attempt(s)); scored 0."
    return RubricScore(reward=0.0, rubric_version=rubric.version, failed=True, criteria=tuple(
        CriterionScore(name=c.name, score=0, rationale=reason) for c in rubric.criteria))


def score_responses(prompts: list[str], responses: list[str], rubric: Rubric, *, model: GatewayChatModel,
                    reduce: Reduce = "sum", concurrency: int = 8) -> list[RubricScore]:
    """Score each ``responses[i]`` (an answer to ``prompts[i]``) on every criterion of ``rubric``.

    One judge call per response, ``concurrency`` at a time (the gateway also bounds calls per
    model). A judgement that fails validation after the structured-output repairs scores 0 with
    ``failed=True``; any other model error (an unreachable server) is raised, since retrying the
    step is then the right thing. Raises :class:`RubricError` when a criterion has no score range.
    """
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses; give one prompt per response")
    if reduce not in ("sum", "normalised"):
        raise ValueError(f"reduce must be 'sum' or 'normalised', got {reduce!r}")
    if not responses:
        return []
    rubric.max_score()  # every criterion needs a score range, whichever reduction is used
    keys = _field_names(rubric)
    judge = model.with_structured_output(judgement_schema(rubric), agent="mpo-reward-model")
    system = SystemMessage(_system_prompt(rubric, keys))  # the same prefix for every call: cacheable
    inputs = [[system, HumanMessage(f"[Task]\n{prompt}\n\n[Response]\n{response}")]
              for prompt, response in zip(prompts, responses, strict=True)]
    return [_failure(rubric, judgement) if isinstance(judgement, StructuredOutputError)
            else _score(judgement, response, rubric, keys, reduce)
            for judgement, response in zip(judge.batch_answers(inputs, concurrency=concurrency), responses, strict=True)]


def _rubric_of(value: Any) -> Rubric:
    """The state's rubric: ``{"text", "version"[, "parent_version"]}``, a dumped Rubric, or a Rubric."""
    if isinstance(value, Rubric):
        return value
    if isinstance(value, dict) and "text" in value:
        return Rubric.from_text(value["text"], version=int(value.get("version", 0)),
                                parent_version=value.get("parent_version"))
    if isinstance(value, dict) and "criteria" in value:
        return Rubric.model_validate(value)
    raise RubricError(f"state['rubric'] must be {{'text': ..., 'version': ...}} or a Rubric, got {value!r:.120}")


@register("agent", name="mpo-reward-model", role="judge")
def score_rollouts(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
    """Score the step's rollouts against the current rubric (MPO's reward model)."""
    rubric = _rubric_of(state["rubric"])
    model = context_of(runtime).model("judge", temperature=0.0)
    scores = score_responses(list(state["prompts"]), list(state["responses"]), rubric, model=model,
                             reduce=state.get("reward_reduce", "sum"))
    return {"scores": [s.model_dump() for s in scores], "judge_failures": sum(s.failed for s in scores)}
