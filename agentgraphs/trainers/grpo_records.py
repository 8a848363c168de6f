"""What GRPO training takes and gives back as plain data: reward functions, step records, samples.

Everything here is small enough for graph state, and is the same whether a segment trained in this
process or in launched workers (:mod:`agentgraphs.trainers.grpo_launch`).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

__all__ = ["RewardScorer", "RewardSpec", "Sample", "Segment", "StepRecord", "completion_text"]


@dataclass(frozen=True)
class RewardSpec:
    """One reward function and its weight in the summed reward GRPO normalises per group."""

    name: str
    """Unique among a run's rewards; the key of per-reward values in records and samples."""
    fn: Callable[[list[str], list[str], int], Sequence[float]]
    """``(prompts, completions, step) -> one float per completion``: prompts as given to
    :func:`train_segment` (without the system prompt), completions as plain text, ``step`` the 1-based
    global step being trained. Called once per step; an exception stops the segment."""
    weight: float = 1.0
    """Multiplies this reward in the sum."""


class StepRecord(BaseModel):
    """What one optimizer step did."""

    step: int
    """Global step, 1-based."""
    reward_mean: float
    """Mean over the step's completions of the weighted reward sum."""
    reward_std: float
    """Standard deviation of the weighted reward sum over all the step's completions."""
    rewards: dict[str, float]
    """Mean of each reward, by :attr:`RewardSpec.name`, unweighted."""
    completion_tokens_mean: float
    """Mean completion length in tokens."""
    loss: float
    """The GRPO loss of the step."""
    learning_rate: float
    """The learning rate the step's update used."""
    time_generate: float
    """Seconds sampling rollouts."""
    time_score: float
    """Seconds inside the reward functions."""
    time_update: float
    """Seconds for the rest of the step: log-probs, loss, backward, optimizer."""


class Sample(BaseModel):
    """One scored completion, for the meta-reward model to read."""

    step: int
    prompt: str
    completion: str
    reward: float
    """The weighted reward sum."""
    rewards: dict[str, float]
    """Each reward's own value, by name."""


class Segment(BaseModel):
    """What one :func:`train_segment` call trained; empty when the budget was already spent."""

    start_step: int
    """Global step before this call (0 on the first)."""
    end_step: int
    """Global step after it, the step of :attr:`checkpoint`."""
    checkpoint: str
    """The checkpoint directory written at ``end_step`` (a transformers checkpoint; with LoRA, an adapter)."""
    steps: list[StepRecord]
    samples: list[Sample]


def completion_text(completion: Any) -> str:
    """A TRL completion (conversational messages or a string) as plain text."""
    if isinstance(completion, str):
        return completion
    content = completion[-1]["content"] if completion else ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


class RewardScorer:
    """Scores completions with each :class:`RewardSpec`, timing it and keeping what it scored.

    Kept per (step, rank) in call order: in a launched segment every rank's completions reach the
    launching process's scorer (through :class:`~agentgraphs.trainers.grpo_launch.RewardService`), so a
    step's totals and samples cover all ranks.
    """

    def __init__(self, specs: Sequence[RewardSpec]) -> None:
        self.specs = list(specs)
        self._by_name = {spec.name: spec for spec in specs}
        self.seconds: defaultdict[int, float] = defaultdict(float)
        self.seen: dict[tuple[int, int], tuple[list[str], list[str], dict[str, list[float]]]] = {}

    def score(self, name: str, prompts: list[str], completions: list[str], step: int, rank: int = 0) -> list[float]:
        """Reward ``name``'s value of each completion of ``step``, as computed by ``rank``'s batch."""
        spec = self._by_name[name]
        started = time.perf_counter()
        values = [float(v) for v in spec.fn(list(prompts), list(completions), step)]
        self.seconds[step] += time.perf_counter() - started
        if len(values) != len(completions):
            raise ValueError(
                f"reward {name!r} returned {len(values)} values for {len(completions)} completions; "
                f"it must return one float per completion"
            )
        self.seen.setdefault((step, rank), (list(prompts), list(completions), {}))[2][name] = values
        return values

    def functions(self) -> list[Callable[..., list[float]]]:
        """The rewards as TRL reward functions."""
        return [self._function(spec.name) for spec in self.specs]

    def _function(self, name: str) -> Callable[..., list[float]]:
        def reward(completions: list[Any], prompt_text: list[str], trainer_state: Any, **_: Any) -> list[float]:
            return self.score(name, list(prompt_text), [completion_text(c) for c in completions], trainer_state.global_step + 1)

        reward.__name__ = name  # TRL logs each reward under its function's name
        return reward

    def _parts(self, step: int) -> list[tuple[list[str], list[str], dict[str, list[float]]]]:
        return [part for (at, _), part in self.seen.items() if at == step]

    def totals(self, step: int) -> list[float]:
        """The weighted reward sum of each completion of ``step``."""
        return [
            sum(spec.weight * scores[spec.name][i] for spec in self.specs)
            for _, texts, scores in self._parts(step) for i in range(len(texts))
        ]

    def stats(self, step: int) -> dict[str, Any]:
        """A step's reward fields of :class:`StepRecord`."""
        totals = self.totals(step)
        mean = sum(totals) / len(totals)
        values: defaultdict[str, list[float]] = defaultdict(list)
        for _, _, scores in self._parts(step):
            for name, scored in scores.items():
                values[name].extend(scored)
        return {"reward_mean": mean, "reward_std": math.sqrt(sum((t - mean) ** 2 for t in totals) / len(totals)),
                "rewards": {name: sum(v) / len(v) for name, v in values.items()}}

    def samples(self, step: int) -> list[Sample]:
        """The scored completions of ``step``, in the order they were scored."""
        rows = [(prompt, text, {name: values[i] for name, values in scores.items()})
                for prompts, texts, scores in self._parts(step) for i, (prompt, text) in enumerate(zip(prompts, texts, strict=True))]
        return [Sample(step=step, prompt=prompt, completion=text, reward=total, rewards=rewards)
                for (prompt, text, rewards), total in zip(rows, self.totals(step), strict=True)]
