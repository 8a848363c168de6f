"""Pairwise judging with the order swapped, the comparisons MPO turns into Elo.

For each prompt a judge sees two models' responses twice, once in each order, and names the better
one (or a tie). A pair counts for a model only when both orders agree (:func:`elo.swap_consistent`),
so a judge that always prefers the first answer produces ties, not a winner. The comparisons feed
:func:`agentgraphs.evals.elo.elo_ratings` / :func:`elo_with_std`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agentgraphs.evals.elo import TIE, Comparison, swap_consistent
from agentgraphs.models import GatewayChatModel
from agentgraphs.tools.text import clip_text

__all__ = ["PairVerdict", "judge_pairs"]

RESPONSE_CHARS = 2500

PAIRWISE_PROMPT = """You compare two responses to the same writing task and decide which one a careful \
teacher would grade higher: the one that does the task better, with substance, organisation and clear \
prose. Length alone is not quality, and a response that is only a title or a fragment does not do the task. \
Give one short reason, then the verdict."""


class PairVerdict(BaseModel):
    """A judge's choice between response A and response B."""

    reason: str = Field(max_length=240, description="One sentence on what decides it.")
    better: Literal["A", "B", "tie"]


def judge_pairs(prompts: Sequence[str], responses_a: Sequence[str], responses_b: Sequence[str], *,
                model_a: str, model_b: str, judge: GatewayChatModel, concurrency: int = 4) -> list[Comparison]:
    """One swap-consistent :class:`Comparison` per prompt between ``model_a``'s and ``model_b``'s responses.

    A verdict that never validates counts as a tie for its order (and so the pair is a tie): one
    bad judgement must not decide a comparison. Other model errors (a dead server) are raised.
    """
    if not len(prompts) == len(responses_a) == len(responses_b):
        raise ValueError(f"{len(prompts)} prompts, {len(responses_a)} and {len(responses_b)} responses; give one of each per prompt")
    runnable = judge.with_structured_output(PairVerdict, agent="pairwise-judge")
    system = SystemMessage(PAIRWISE_PROMPT)

    def ask(prompt: str, first: str, second: str) -> list[SystemMessage | HumanMessage]:
        return [system, HumanMessage(f"[Task]\n{prompt}\n\n[Response A]\n{clip_text(first, RESPONSE_CHARS) or '(empty)'}"
                                     f"\n\n[Response B]\n{clip_text(second, RESPONSE_CHARS) or '(empty)'}")]

    inputs = []
    for prompt, a, b in zip(prompts, responses_a, responses_b, strict=True):
        inputs += [ask(prompt, a, b), ask(prompt, b, a)]
    verdicts = runnable.batch_answers(inputs, concurrency=concurrency)

    def name(verdict: object, first: str, second: str) -> str:
        if not isinstance(verdict, PairVerdict) or verdict.better == "tie":
            return TIE
        return first if verdict.better == "A" else second

    return [Comparison(model_a=model_a, model_b=model_b,
                       winner=swap_consistent(name(verdicts[2 * i], model_a, model_b), name(verdicts[2 * i + 1], model_b, model_a)))
            for i in range(len(prompts))]
