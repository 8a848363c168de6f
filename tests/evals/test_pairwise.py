"""Pairwise judging with the order swapped: a judge that prefers the better response gives it the win
in both orders, a judge biased to the first position yields ties, and Elo follows the verdicts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentgraphs.evals.elo import TIE, elo_ratings
from agentgraphs.evals.pairwise import judge_pairs
from agentgraphs.models import get_model
from agentgraphs.testing.openai_server import OpenAITestServer, ServerBehaviour

PROMPTS = ["Write an essay on cities.", "Write an essay on rivers."]
ESSAYS = ["Cities grow because jobs cluster; clustering raises wages and draws people in.",
          "Rivers shaped where towns were built, since water meant trade, food and power."]
TITLES = ["Cities: The Future", "Rivers of Life"]


def _answer(better: str) -> str:
    return json.dumps({"reason": "scripted", "better": better})


def _prefers_essays(body: dict[str, Any]) -> str:
    text = body["messages"][-1]["content"]
    first = text.split("[Response A]\n", 1)[1].split("\n\n[Response B]", 1)[0]
    return _answer("A" if first in ESSAYS else "B")


@pytest.mark.parametrize(("reply", "expected"), [(_prefers_essays, "essays"), (lambda body: _answer("A"), TIE)])
def test_only_a_verdict_that_survives_the_swap_wins(reply: Any, expected: str) -> None:
    with OpenAITestServer(ServerBehaviour(reply=reply)) as server:
        judge = get_model(f"vllm:test-model@{server.base_url}", temperature=0.0)
        comparisons = judge_pairs(PROMPTS, TITLES, ESSAYS, model_a="titles", model_b="essays", judge=judge)
        assert len(server.requests) == 4  # each pair twice, once per order
    assert [c.winner for c in comparisons] == [expected, expected]
    ratings = elo_ratings(comparisons)
    if expected == "essays":
        assert ratings["essays"] > 1000 > ratings["titles"]
    else:
        assert ratings == {"titles": 1000.0, "essays": 1000.0}


def test_an_invalid_verdict_is_a_tie_and_mismatched_lists_are_refused() -> None:
    with OpenAITestServer(ServerBehaviour(reply="not json")) as server:
        judge = get_model(f"vllm:test-model@{server.base_url}", temperature=0.0)
        assert [c.winner for c in judge_pairs(PROMPTS[:1], TITLES[:1], ESSAYS[:1], model_a="t", model_b="e",
                                              judge=judge)] == [TIE]
    with pytest.raises(ValueError, match="one of each per prompt"):
        judge_pairs(PROMPTS, TITLES[:1], ESSAYS, model_a="t", model_b="e", judge=judge)
