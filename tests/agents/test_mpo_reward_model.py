"""MPO's reward model: control flow against a scripted OpenAI-compatible server, then the real
embedded judge on real MPO essays and the real expert rubric."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentgraphs.agents.mpo.reward_model import RubricScore, judgement_schema, score_responses, score_rollouts
from agentgraphs.models import GatewayChatModel, get_model
from agentgraphs.registry import lookup
from agentgraphs.rewards.rubric import Band, Criterion, LengthRange, Rubric, RubricError
from agentgraphs.runtime import RunContext
from agentgraphs.testing.openai_server import OpenAITestServer, ServerBehaviour
from agentgraphs.testing.schema_reply import schema_reply

RUBRIC = Rubric(version=7, criteria=(
    Criterion(name="Ideas and Content", description="Score 1 to 6.", bands=(Band(min=1, max=6),)),
    Criterion(name="Language Conventions", description="Score 0 to 4.", bands=(Band(min=0, max=4),)),
))
"""schema_reply answers 3 for every integer in range: 3 + 3 = 6 of a possible 10."""


@pytest.fixture
def server() -> Iterator[OpenAITestServer]:
    with OpenAITestServer(ServerBehaviour(reply=schema_reply)) as running:
        yield running


@pytest.fixture
def judge(server: OpenAITestServer) -> GatewayChatModel:
    return get_model(f"vllm:test-model@{server.base_url}", temperature=0.0)


def test_schema_has_one_bounded_field_per_criterion() -> None:
    schema = judgement_schema(RUBRIC).model_json_schema()
    assert list(schema["properties"]) == ["ideas_and_content", "language_conventions"]
    bounds = [(d["properties"]["score"]["minimum"], d["properties"]["score"]["maximum"]) for d in schema["$defs"].values()]
    assert sorted(bounds) == [(0, 4), (1, 6)]


def test_one_call_per_response_and_sum_reward(server: OpenAITestServer, judge: GatewayChatModel) -> None:
    scores = score_responses(["p1", "p2", "p3"], ["r1", "r2", "r3"], RUBRIC, model=judge)
    assert len(server.requests) == 3
    assert all(s.reward == 6.0 and not s.failed and s.rubric_version == 7 for s in scores)
    assert scores[0].scores() == {"Ideas and Content": 3, "Language Conventions": 3}
    assert all(c.rationale for s in scores for c in s.criteria)
    # Every call asks for the rubric's schema and shows the judge the rubric and the response.
    body = server.requests[0]
    assert body["response_format"]["json_schema"]["schema"]["properties"].keys() == {"ideas_and_content", "language_conventions"}
    text = json.dumps(body["messages"])
    assert "Ideas and Content" in text and "[Response]\\nr" in text


def test_normalised_reward_divides_by_the_rubric_maximum(judge: GatewayChatModel) -> None:
    [score] = score_responses(["p"], ["r"], RUBRIC, model=judge, reduce="normalised")
    assert score.reward == pytest.approx(6 / 10)


def test_calls_overlap(server: OpenAITestServer, judge: GatewayChatModel) -> None:
    server.behaviour.latency_s = 0.5
    scores = score_responses([f"p{i}" for i in range(8)], [f"r{i}" for i in range(8)], RUBRIC, model=judge, concurrency=8)
    assert len(scores) == 8 and len(server.requests) == 8
    assert server.peak_in_flight == 8, f"{server.peak_in_flight} of 8 judge calls were in flight at once"


def test_a_failed_check_overrides_the_judge(judge: GatewayChatModel) -> None:
    rubric = RUBRIC.model_copy(update={"criteria": (
        RUBRIC.criteria[0].model_copy(update={"check": LengthRange(min_words=5)}), RUBRIC.criteria[1])})
    short, long = score_responses(["p", "p"], ["Too short.", "This one has more than five words."], rubric, model=judge)
    assert short.criteria[0].check_failed and short.criteria[0].score == 1
    assert "length_range" in short.criteria[0].rationale and "minimum 1" in short.criteria[0].rationale
    assert short.reward == 1 + 3
    assert not long.criteria[0].check_failed and long.reward == 6


def test_invalid_json_scores_zero_and_is_counted() -> None:
    with OpenAITestServer(ServerBehaviour(reply="this is not JSON {")) as server:
        judge = get_model(f"vllm:test-model@{server.base_url}", temperature=0.0)
        scores = score_responses(["p", "q"], ["r", "s"], RUBRIC, model=judge)
    assert [s.failed for s in scores] == [True, True]
    assert all(s.reward == 0 and all(c.score == 0 for c in s.criteria) for s in scores)
    assert len(server.requests) == 2 * 3  # the first attempt and two repairs each


def test_mismatched_inputs_and_unscored_criteria_are_refused(judge: GatewayChatModel) -> None:
    with pytest.raises(ValueError, match="2 prompts but 1 responses"):
        score_responses(["a", "b"], ["r"], RUBRIC, model=judge)
    unscored = Rubric(criteria=(Criterion(name="Vibes", description="Is it good?"),))
    with pytest.raises(RubricError, match="Vibes"):
        score_responses(["a"], ["r"], unscored, model=judge)


def test_node_reads_the_state_and_counts_failures(server: OpenAITestServer, tmp_path: Path) -> None:
    entry = lookup("agent", "mpo-reward-model")
    assert entry.factory is score_rollouts and entry.metadata["role"] == "judge"

    class FakeRuntime:
        context = RunContext(models={"judge": f"vllm:test-model@{server.base_url}"}, run_dir=str(tmp_path))

    state: dict[str, Any] = {"prompts": ["p"], "responses": ["r"],
                             "rubric": {"text": RUBRIC.to_text(), "version": RUBRIC.version}}
    update = score_rollouts(state, FakeRuntime())  # type: ignore[arg-type]
    assert update["judge_failures"] == 0
    [score] = [RubricScore.model_validate(s) for s in update["scores"]]
    assert score.rubric_version == 7 and score.reward == 6.0
    assert (tmp_path / "trace.jsonl").read_text().count('"role": "judge"') == 1


# -- the real embedded judge -----------------------------------------------------------------------


@pytest.mark.slow  # ~80 s of model time (two ~4k-token prompts); the scripted judge covers the same code
def test_qwen_scores_real_essays_against_the_expert_rubric(shared_data: Path) -> None:
    mpo = shared_data / "mpo"
    rubric = Rubric.from_text((mpo / "prompts/essay_writing/evaluation_rubric_expert.txt").read_text(), version=3)
    [generations] = sorted((mpo / "generations/essay_writing").glob("expert-72b*.jsonl"))
    collapsed = json.loads(generations.read_text().splitlines()[0])  # reward-hacked: only a title
    [details, *_] = sorted((mpo / "elo_scores/essay_writing").glob("*details*.json"))
    essay = json.loads(details.read_text())[0]
    judge = get_model("local:qwen2.5-0.5b", temperature=0.0, max_tokens=300)
    # One at a time: the rubric is ~4k tokens, two at once overflow the embedded model's shared
    # context, and one after the other the second call reuses the cached rubric prefix.
    scores = score_responses([collapsed["query"], essay["query"]],
                             [collapsed["model_response"], essay["model_a_response"]],
                             rubric, model=judge, concurrency=1)
    for score in scores:
        assert score.rubric_version == 3
        if score.failed:  # allowed of a 0.5B judge, but then it must be a clean zero
            assert score.reward == 0
            continue
        assert [c.name for c in score.criteria] == [c.name for c in rubric.criteria]
        for got, criterion in zip(score.criteria, rubric.criteria, strict=True):
            assert isinstance(got.score, int) and 1 <= got.score <= (criterion.max_score() or 0)
            assert got.rationale.strip()
        assert score.reward == sum(c.score for c in score.criteria)
    assert not all(s.failed for s in scores), "the judge failed on both essays"
