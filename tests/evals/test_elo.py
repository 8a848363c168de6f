"""Elo as MPO reports it: update rules on synthetic games, and MPO's shipped judge decisions and scores."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from agentgraphs.errors import AgentgraphsError
from agentgraphs.evals.elo import (
    TIE,
    Comparison,
    DetailsFileError,
    elo_ratings,
    elo_with_std,
    load_details,
    merge_runs,
    swap_consistent,
)

ESSAY = Path("mpo/elo_scores/essay_writing")


def _games(a_wins: int, b_wins: int, ties: int = 0) -> list[Comparison]:
    return (
        [Comparison(model_a="A", model_b="B", winner="A")] * a_wins
        + [Comparison(model_a="B", model_b="A", winner="B")] * b_wins
        + [Comparison(model_a="A", model_b="B", winner=TIE)] * ties
    )


# --- update rules -------------------------------------------------------------------------------


def test_one_win_moves_both_by_half_k() -> None:
    assert elo_ratings(_games(1, 0)) == {"A": 1002.0, "B": 998.0}


@pytest.mark.parametrize("rounds", [0, 20])
def test_a_always_winning_puts_a_above_b_symmetrically_around_initial(rounds: int) -> None:
    ratings = elo_ratings(_games(50, 0), initial=1500.0, rounds=rounds)
    assert ratings["A"] > ratings["B"]
    assert ratings["A"] - 1500.0 == pytest.approx(1500.0 - ratings["B"])


def test_ties_keep_equal_ratings_equal() -> None:
    assert elo_ratings(_games(0, 0, ties=30)) == {"A": 1000.0, "B": 1000.0}
    assert elo_ratings(_games(0, 0, ties=30), rounds=5) == {"A": 1000.0, "B": 1000.0}


def test_ratings_are_deterministic_for_a_seed_and_vary_across_seeds() -> None:
    games = _games(30, 20, ties=10)
    assert elo_ratings(games, rounds=10, seed=3) == elo_ratings(games, rounds=10, seed=3)
    assert elo_ratings(games, rounds=10, seed=3) != elo_ratings(games, rounds=10, seed=4)


def test_averaging_over_more_shuffles_lowers_the_spread_of_the_estimate() -> None:
    # What shrinks is the spread of the *mean* across seeds (~ std / sqrt(rounds)); the per-order
    # std that elo_with_std reports stays put, since it measures order dependence itself.
    games = _games(30, 20)

    def spread(rounds: int) -> float:
        return statistics.pstdev(elo_ratings(games, rounds=rounds, seed=s)["A"] for s in range(12))

    assert spread(64) < spread(2) / 2
    few, many = elo_with_std(games, rounds=8)["A"][1], elo_with_std(games, rounds=256)["A"][1]
    assert many == pytest.approx(few, rel=0.75)


def test_elo_with_std_is_symmetric_for_two_models() -> None:
    stats = elo_with_std(_games(30, 20), rounds=50)
    assert stats["A"][0] + stats["B"][0] == pytest.approx(2000.0)
    assert stats["A"][1] == pytest.approx(stats["B"][1])
    with pytest.raises(ValueError, match="rounds >= 2"):
        elo_with_std(_games(1, 1), rounds=1)


def test_merge_runs_uses_the_population_std_like_mpo() -> None:
    assert merge_runs([{"A": 990.0}, {"A": 1010.0}]) == {"A": (1000.0, 10.0)}
    with pytest.raises(ValueError, match="different models"):
        merge_runs([{"A": 1.0}, {"B": 1.0}])


def test_comparison_rejects_a_winner_that_did_not_play() -> None:
    with pytest.raises(ValueError, match="'C' is neither"):
        Comparison(model_a="A", model_b="B", winner="C")


@pytest.mark.parametrize(
    ("first", "second", "verdict"),
    [("A", "A", "A"), ("B", "B", "B"), ("A", "B", TIE), ("A", TIE, TIE), (TIE, TIE, TIE)],
)
def test_swap_consistent_keeps_agreement_and_ties_disagreement(first: str, second: str, verdict: str) -> None:
    assert swap_consistent(first, second) == verdict


# --- bad files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "not valid JSON"),
        ('{"winner": "A"}', "must hold a JSON list"),
        ('[{"model_a": "A", "model_b": "B", "winner": "A"}]', "entry 0 lacks the key.*query.*model_b_response"),
        (
            '[{"query": "", "model_a": "A", "model_b": "B", "winner": "C", '
            '"model_a_response": "", "model_b_response": ""}]',
            "entry 0: winner 'C'",
        ),
    ],
)
def test_bad_details_files_raise_the_named_error(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "run-1.details.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DetailsFileError, match=message) as caught:
        load_details(path)
    assert isinstance(caught.value, AgentgraphsError) and isinstance(caught.value, ValueError)


# --- MPO's shipped data -------------------------------------------------------------------------


def test_shipped_scores_confirm_initial_1000_and_zero_sum_updates(shared_data: Path) -> None:
    # Mirrored updates keep the sum of ratings at n * initial, so the shipped files pin initial=1000
    # exactly, and in two-model sets both models have the same std over runs.
    scores = json.loads((shared_data / ESSAY / "32b_32bvs32b_72b-1.scores.json").read_text())
    assert sum(scores.values()) == pytest.approx(2 * 1000.0)
    for path in (shared_data / "mpo/elo_scores").glob("*/*-merged.scores.json"):
        merged = json.loads(path.read_text())
        assert sum(merged["mean elo"].values()) == pytest.approx(1000.0 * len(merged["mean elo"])), path.name
        if len(merged["mean stds"]) == 2:
            assert len({round(s, 6) for s in merged["mean stds"].values()}) == 1, path.name


def test_the_150_decision_sample_is_a_tie_so_it_cannot_reproduce_the_shipped_gap(shared_data: Path) -> None:
    """The shipped run rates 32b_72b 20.4 above 32b_32b over 500 decisions; the first 150 split 75-75.

    So the ranking and the gap cannot be checked on this sample: the order-free estimate is a tie
    (|gap| under 5 points for any seed, against a per-order std of ~11 and a shipped gap of 20.4),
    and MPO's in-order pass over these 150 even ranks the pair the other way (-12.5). What is
    checked: ratings stay zero-sum, the averaged gap is far below the shipped one, and the in-order
    pass differs from the averaged one by about one per-order std (it is one draw of the order).
    """
    comparisons = load_details(shared_data / ESSAY / "32b_32bvs32b_72b-1.details.first150.json")
    shipped = json.loads((shared_data / ESSAY / "32b_32bvs32b_72b-1.scores.json").read_text())
    assert len(comparisons) == 150
    wins = {m: sum(c.winner == m for c in comparisons) for m in shipped}
    assert wins == {"32b_32b": 75, "32b_72b": 75}

    shipped_gap = shipped["32b_72b"] - shipped["32b_32b"]
    stats = elo_with_std(comparisons, rounds=100)
    gap = stats["32b_72b"][0] - stats["32b_32b"][0]
    assert sum(mean for mean, _ in stats.values()) == pytest.approx(2000.0)
    assert abs(gap) < 5.0 < shipped_gap
    in_order = elo_ratings(comparisons)
    in_order_gap = in_order["32b_72b"] - in_order["32b_32b"]
    assert in_order_gap == pytest.approx(-12.49, abs=0.01)
    assert abs(in_order_gap - gap) < 3 * 2 * stats["32b_72b"][1]
