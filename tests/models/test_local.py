"""The embedded ``local:`` backend, for real: SmolLM2 running in-process through llama.cpp, its
chat, streaming, concurrency, token logprobs and target scoring; the pinned catalogue; the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from agentgraphs.errors import ModelError, ModelSpecError
from agentgraphs.models import GatewayChatModel, get_model, target_logprob
from agentgraphs.models.embedded import EMBEDDED_MODELS, gguf_path, verify

REPO = Path(__file__).resolve().parents[2]
MAX_TOKENS = 24


@pytest.fixture(scope="module")
def smollm2() -> Iterator[GatewayChatModel]:
    """One in-process llama.cpp server for the module; greedy, short answers to keep it fast."""
    yield get_model("local:smollm2-135m", temperature=0.0, max_tokens=MAX_TOKENS)


def test_invoke_returns_text_and_usage(smollm2: GatewayChatModel, tmp_path: Path) -> None:
    model = smollm2.model_copy(update={"trace_path": str(tmp_path / "trace.jsonl")})

    message = model.invoke("What is the capital of France?")

    assert isinstance(message.content, str) and message.content.strip()
    usage = message.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 5  # the chat template and the question
    assert 0 < usage["output_tokens"] <= MAX_TOKENS
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    [record] = [json.loads(line) for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert record["model"] == "local:smollm2-135m"
    assert (record["input_tokens"], record["output_tokens"]) == (usage["input_tokens"], usage["output_tokens"])
    assert record["output"] == message.content


def test_stream_concatenates_to_text(smollm2: GatewayChatModel) -> None:
    chunks = list(smollm2.bind(max_tokens=8).stream("Name three colours."))

    text = "".join(str(c.content) for c in chunks)
    assert text.strip()
    assert len([c for c in chunks if c.content]) > 1  # it really streamed, piece by piece
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage and usage[-1]["output_tokens"] > 0


def test_concurrent_ainvoke_from_several_tasks(smollm2: GatewayChatModel) -> None:
    questions = ["Say hello.", "Name a fruit.", "Name a planet."]
    short = smollm2.bind(max_tokens=8)

    async def ask_all() -> list[str]:
        replies = await asyncio.gather(*(short.ainvoke(q) for q in questions))
        return [str(r.content) for r in replies]

    answers = asyncio.run(ask_all())
    assert len(answers) == len(questions)
    assert all(a.strip() for a in answers)


def test_token_logprobs_from_bind(smollm2: GatewayChatModel) -> None:
    message = smollm2.bind(logprobs=True, top_logprobs=2).invoke("Say hi.")

    content = message.response_metadata["logprobs"]["content"]
    assert content
    for entry in content:
        assert entry["logprob"] <= 0.0
        assert len(entry["top_logprobs"]) == 2
        # The sampled token is the most likely one at temperature 0.
        assert entry["logprob"] >= max(t["logprob"] for t in entry["top_logprobs"]) - 1e-4
    assert "".join(entry["token"] for entry in content) == message.content


def test_target_logprob_ranks_the_right_answer_higher(smollm2: GatewayChatModel) -> None:
    paris = target_logprob(smollm2, "The capital of France is", " Paris")
    banana = target_logprob(smollm2, "The capital of France is", " Banana")

    assert paris.total > banana.total
    for scored in (paris, banana):
        assert "".join(scored.tokens) == scored.target
        assert len(scored.tokens) == len(scored.logprobs) >= 1
        assert all(lp <= 0.0 for lp in scored.logprobs)
        assert 0.0 < scored.probability <= 1.0
    assert len(banana.tokens) >= 2  # multi-token targets are scored token by token
    assert banana.total == pytest.approx(sum(banana.logprobs))


def test_target_logprob_over_chat_messages(smollm2: GatewayChatModel) -> None:
    chat = [SystemMessage("You answer with one word."), HumanMessage("What is the capital of France?")]

    paris = target_logprob(smollm2, chat, "Paris")
    banana = target_logprob(smollm2, chat, "Banana")

    assert "".join(paris.tokens) == "Paris"
    assert paris.total > banana.total
    # The chat template matters: the same words as raw text score differently.
    raw = target_logprob(smollm2, "You answer with one word. What is the capital of France?", "Paris")
    assert raw.total != pytest.approx(paris.total)


def test_target_logprob_is_deterministic(smollm2: GatewayChatModel) -> None:
    first = target_logprob(smollm2, "The sky is", " blue")
    second = target_logprob(smollm2, "The sky is", " blue")
    assert first.logprobs == pytest.approx(second.logprobs, abs=1e-4)


def test_empty_target_is_refused(smollm2: GatewayChatModel) -> None:
    with pytest.raises(ModelError, match="no tokens"):
        target_logprob(smollm2, "The capital of France is", "")


def test_local_path_form_runs_the_same_file() -> None:
    path = gguf_path("smollm2-135m")
    model = get_model(f"local:{path}", temperature=0.0, max_tokens=4)
    assert model.model == f"local:{path}"
    assert str(model.invoke("Hi").content).strip()


# -- the embedded catalogue -------------------------------------------------------------------------


def test_qwen_file_exists_with_the_pinned_size() -> None:
    path = gguf_path("qwen2.5-0.5b")
    assert path.is_file()
    assert path.suffix == ".gguf"
    assert path.stat().st_size == EMBEDDED_MODELS["qwen2.5-0.5b"].size


def test_smollm2_hash_matches_its_pin() -> None:
    path = verify("smollm2-135m")
    assert path.is_file()
    assert path.stat().st_size == EMBEDDED_MODELS["smollm2-135m"].size


def test_unknown_embedded_name_lists_the_embedded_models() -> None:
    with pytest.raises(ModelSpecError) as info:
        get_model("local:no-such-model")
    for name in EMBEDDED_MODELS:
        assert name in str(info.value)
    assert "'no-such-model'" in str(info.value)

    with pytest.raises(ModelSpecError, match="qwen2.5-0.5b, smollm2-135m"):
        gguf_path("no-such-model")


def test_cli_models_lists_both_embedded_models() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTGRAPHS_MODEL")}
    env["AGENTGRAPHS_MODEL_JUDGE"] = "openai:gpt-4o-mini"
    result = subprocess.run(
        [sys.executable, "-m", "agentgraphs.cli", "models"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "local:qwen2.5-0.5b (default)  present" in out
    assert "local:smollm2-135m  present" in out
    assert "MISSING" not in out
    assert "default role → local:qwen2.5-0.5b" in out
    assert "judge role → openai:gpt-4o-mini" in out
