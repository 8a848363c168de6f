"""LawFlow's monitor: flags unusual steps in an execution, with a reason a lawyer can check.

No model: a second-order transition model (counts of step given the two before it, backed off to
the step before, then uniform, with add-α smoothing) is fitted on reference executions of the same
plan, and a step whose probability falls under a threshold is flagged together with what the
reference would have done next. With no recorded executions at hand the reference is the plan's
written order, which for the shared human plan is the law students' own workflow; executions
fitted from the ``minnesotanlp/lawflow-reasoning-simulation`` data slot in through
:meth:`TransitionModel.fit`. Repeated visits to one node are flagged as possible loops.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from agentgraphs.evals.lawflow_data import END, Plan

__all__ = ["Flag", "TransitionModel", "flag_step"]

START = "<start>"
UNUSUAL_BELOW = 0.05
"""A step less likely than this under the reference model is flagged."""
REVISIT_LIMIT = 3
"""A node visited this many times is flagged as a possible loop."""


class Flag(BaseModel):
    turn: int
    node_id: str
    kind: str
    """``unusual_transition`` or ``repeated_visit``."""
    probability: float | None = None
    reason: str


@dataclass
class TransitionModel:
    """P(step | two previous steps) with back-off, over a fixed vocabulary (plan ids and ``END``)."""

    vocabulary: tuple[str, ...]
    alpha: float = 0.5
    sequences: int = 0
    trigrams: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    bigrams: Counter[tuple[str, str]] = field(default_factory=Counter)
    contexts2: Counter[tuple[str, str]] = field(default_factory=Counter)
    contexts1: Counter[str] = field(default_factory=Counter)

    @classmethod
    def fit(cls, plan: Plan, executions: Sequence[Sequence[str]], *, alpha: float = 0.5) -> TransitionModel:
        """Fit on node-id sequences of ``plan`` (``END`` appended where missing)."""
        model = cls(vocabulary=(*plan.order, END), alpha=alpha)
        for steps in executions:
            walk = [START, START, *steps] + ([] if steps and steps[-1] == END else [END])
            model.sequences += 1
            for a, b, c in zip(walk, walk[1:], walk[2:]):
                model.trigrams[a, b, c] += 1
                model.contexts2[a, b] += 1
                model.bigrams[b, c] += 1
                model.contexts1[b] += 1
        return model

    def _p1(self, step: str, previous: str) -> float:
        uniform = 1.0 / len(self.vocabulary)
        return (self.bigrams[previous, step] + self.alpha * uniform) / (self.contexts1[previous] + self.alpha)

    def probability(self, step: str, before: str, previous: str) -> float:
        """P(``step`` | ``before``, ``previous``), the two steps preceding it (``<start>`` at the beginning)."""
        return ((self.trigrams[before, previous, step] + self.alpha * self._p1(step, previous))
                / (self.contexts2[before, previous] + self.alpha))

    def most_likely(self, before: str, previous: str) -> tuple[str, float]:
        best = max(self.vocabulary, key=lambda s: (self.probability(s, before, previous), -self.vocabulary.index(s)))
        return best, self.probability(best, before, previous)


def flag_step(model: TransitionModel, steps: Sequence[str], *, titles: dict[str, str],
              threshold: float = UNUSUAL_BELOW) -> list[Flag]:
    """Flags for the last of ``steps`` (the execution so far, node ids)."""
    if not steps:
        return []
    walk = [START, START, *steps]
    before, previous, step = walk[-3], walk[-2], walk[-1]
    turn = len(steps)
    flags: list[Flag] = []
    p = model.probability(step, before, previous)
    if p < threshold:
        expected, q = model.most_likely(before, previous)
        after = "the start" if previous == START else f"{previous} ({titles.get(previous, previous)})"
        flags.append(Flag(turn=turn, node_id=step, kind="unusual_transition", probability=round(p, 4), reason=(
            f"going to {step} ({titles.get(step, step)}) after {after} has probability {p:.3f} under the reference "
            f"workflow ({model.sequences} execution(s)); the usual next step is {expected} "
            f"({titles.get(expected, expected)}, {q:.2f})")))
    visits = list(steps).count(step)
    if step != END and visits == REVISIT_LIMIT:
        flags.append(Flag(turn=turn, node_id=step, kind="repeated_visit", reason=(
            f"{step} ({titles.get(step, step)}) visited {visits} times: check the execution is not looping")))
    return flags
