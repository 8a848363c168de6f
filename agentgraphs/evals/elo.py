"""Elo ratings from pairwise judge decisions, as MPO (arXiv 2504.20157) reports them.

MPO's ``scripts/mpo_experiments/elo_simulation.py`` starts every model at 1000, applies K=4 updates
once over the decisions in the order they were judged (no shuffling; verdicts the judge left
unparseable are dropped, so MPO never records a tie) and writes ``<exp>-<i>.scores.json``; its
``-merged`` files hold the mean and the population std over 5 independent judging runs
(:func:`merge_runs`). ``rounds=0`` reproduces that pass; ``rounds>0`` averages over shuffled orders,
because a single pass depends on order: on the shipped 150-decision sample (75 wins each) it puts
one model 12 points ahead, while the order-free estimate is a tie.
"""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentgraphs.errors import AgentgraphsError

__all__ = [
    "TIE",
    "Comparison",
    "DetailsFileError",
    "elo_ratings",
    "elo_with_std",
    "load_details",
    "merge_runs",
    "swap_consistent",
]

TIE = "tie"
"""The ``winner`` of a drawn comparison; otherwise ``winner`` is a model name, as in MPO's files."""

_DETAIL_KEYS = ("query", "model_a", "model_b", "winner", "model_a_response", "model_b_response")


class DetailsFileError(AgentgraphsError, ValueError):
    """A ``*.details.json`` file is missing, is not JSON, or lacks the keys MPO writes."""


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """One judge decision. ``winner`` is ``model_a``'s or ``model_b``'s name, or :data:`TIE`."""

    model_a: str
    model_b: str
    winner: str

    def __post_init__(self) -> None:
        if self.model_a == self.model_b:
            raise ValueError(f"a comparison needs two different models, got {self.model_a!r} twice")
        if self.winner not in (self.model_a, self.model_b, TIE):
            raise ValueError(
                f"winner {self.winner!r} is neither {self.model_a!r}, {self.model_b!r} nor {TIE!r}"
            )


def _one_pass(comparisons: Sequence[Comparison], k: float, initial: float) -> dict[str, float]:
    ratings: dict[str, float] = {}
    for c in comparisons:
        ra, rb = ratings.setdefault(c.model_a, initial), ratings.setdefault(c.model_b, initial)
        score_a = 0.5 if c.winner == TIE else float(c.winner == c.model_a)
        # B's update is the mirror of A's (E_b = 1 - E_a), so the sum of ratings stays n * initial.
        delta = k * (score_a - 1.0 / (1.0 + 10.0 ** ((rb - ra) / 400.0)))
        ratings[c.model_a], ratings[c.model_b] = ra + delta, rb - delta
    return ratings


def _shuffled_passes(
    comparisons: Sequence[Comparison], k: float, initial: float, rounds: int, seed: int
) -> list[dict[str, float]]:
    rng, order = random.Random(seed), list(comparisons)
    passes = []
    for _ in range(rounds):
        rng.shuffle(order)
        passes.append(_one_pass(order, k, initial))
    return passes


def elo_ratings(
    comparisons: Sequence[Comparison], *, k: float = 4.0, initial: float = 1000.0, rounds: int = 0, seed: int = 0
) -> dict[str, float]:
    """Elo per model. ``rounds=0`` (the default) is MPO's single pass in the given order and so
    reproduces its ``scores.json`` from the full ``details.json``; ``rounds=n`` is the mean over ``n``
    shuffled orders (seeded), an estimate that does not depend on judging order."""
    if rounds < 0:
        raise ValueError(f"rounds must be 0 (MPO's in-order pass) or a positive count, got {rounds}")
    if rounds == 0:
        return _one_pass(comparisons, k, initial)
    return {m: mean for m, (mean, _) in merge_runs(_shuffled_passes(comparisons, k, initial, rounds, seed)).items()}


def elo_with_std(
    comparisons: Sequence[Comparison], *, k: float = 4.0, initial: float = 1000.0, rounds: int = 100, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """(mean, std) per model over ``rounds`` shuffled orders. The std measures how much one pass
    depends on order; it does not shrink with more rounds (the mean's standard error does, as
    std / sqrt(rounds)). It is not MPO's reported std, which is over judging runs (:func:`merge_runs`)."""
    if rounds < 2:
        raise ValueError(f"a std over shuffles needs rounds >= 2, got {rounds}")
    return merge_runs(_shuffled_passes(comparisons, k, initial, rounds, seed))


def merge_runs(runs: Sequence[Mapping[str, float]]) -> dict[str, tuple[float, float]]:
    """(mean, population std) per model over runs, as MPO's ``merge_results`` builds its ``-merged``
    files; a model missing from any run is an error rather than a silently smaller sample."""
    if not runs:
        raise ValueError("merge_runs needs at least one run")
    models = set(runs[0])
    if any(set(r) != models for r in runs):
        raise ValueError(f"runs rate different models: {[sorted(r) for r in runs]}")
    values = {m: [r[m] for r in runs] for m in sorted(models)}
    return {m: (statistics.fmean(v), statistics.pstdev(v)) for m, v in values.items()}


def load_details(path: str | Path) -> list[Comparison]:
    """Comparisons from an MPO ``*.details.json`` (a JSON list of objects with the keys
    ``query, model_a, model_b, winner, model_a_response, model_b_response``), in file order."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DetailsFileError(f"details file {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DetailsFileError(f"details file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise DetailsFileError(f"details file {path} must hold a JSON list, got {type(data).__name__}")
    comparisons = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise DetailsFileError(f"{path}: entry {i} is a {type(entry).__name__}, not an object")
        if missing := [key for key in _DETAIL_KEYS if key not in entry]:
            raise DetailsFileError(f"{path}: entry {i} lacks the key(s) {', '.join(missing)}")
        try:
            comparisons.append(Comparison(model_a=entry["model_a"], model_b=entry["model_b"], winner=entry["winner"]))
        except ValueError as exc:
            raise DetailsFileError(f"{path}: entry {i}: {exc}") from None
    return comparisons


def swap_consistent(first: str, second_swapped: str) -> str:
    """One verdict from a pair judged in both orders: the winner if both agree, else :data:`TIE`,
    so a judge's position bias cannot decide a comparison. Both verdicts must name the winning
    *model* (or :data:`TIE`); positional labels such as "A"/"B" must be mapped to names first,
    since "A" in the swapped judging is the other model."""
    return first if first == second_swapped else TIE
