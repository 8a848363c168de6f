"""Structured output never trusts the model: it extracts and validates, repairs with the validation
problem shown to the model, and fails with an error naming the agent, the schema and the output.
Control flow runs on a scripted model; the capability claims run the real embedded models."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import openai
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import BaseModel, Field

from agentgraphs.errors import ModelError, StructuredOutputError
from agentgraphs.models import CallPolicy, GatewayChatModel, get_model
from agentgraphs.models.structured import LIST_ITEM_MAX_CHARS, decoding_schema, extract_json
from agentgraphs.testing.openai_server import OpenAITestServer


class Paper(BaseModel):
    """A paper's bibliographic core."""

    title: str
    year: int
    topics: list[str]


class RecordingFake(GenericFakeChatModel):
    """A scripted chat model that keeps every message list it was sent."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.seen.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def scripted(*replies: str) -> tuple[GatewayChatModel, RecordingFake]:
    fake = RecordingFake(messages=iter([AIMessage(r) for r in replies]))
    return GatewayChatModel(inner=fake, model="fake:scripted", role="tester"), fake


VALID = '{"title": "Attention Is All You Need", "year": 2017, "topics": ["transformers", "attention"]}'
EXPECTED = Paper(title="Attention Is All You Need", year=2017, topics=["transformers", "attention"])


# -- scripted model: control flow ------------------------------------------------------------------


def test_valid_first_try_needs_one_call() -> None:
    model, fake = scripted(VALID)

    result = model.with_structured_output(Paper).invoke("Describe the transformer paper.")

    assert result == EXPECTED
    assert len(fake.seen) == 1
    system, human = fake.seen[0]
    # The model is told the shape to answer in, with the schema's own field names.
    assert isinstance(system, SystemMessage) and "JSON" in system.content
    for field in ("title", "year", "topics"):
        assert f'"{field}"' in system.content
    assert isinstance(human, HumanMessage) and human.content == "Describe the transformer paper."


def test_invalid_then_valid_is_repaired_with_the_problem_shown() -> None:
    bad = '{"title": "Attention Is All You Need", "year": "twenty seventeen", "topics": ["transformers"]}'
    model, fake = scripted(bad, VALID)

    result = model.with_structured_output(Paper).invoke("Describe the transformer paper.")

    assert result == EXPECTED
    assert len(fake.seen) == 2
    repair = fake.seen[1]
    # The conversation goes on: the original request, the bad answer, then what was wrong with it.
    assert repair[: len(fake.seen[0])] == fake.seen[0]
    assert isinstance(repair[-2], AIMessage) and repair[-2].content == bad
    assert isinstance(repair[-1], HumanMessage)
    assert "year" in repair[-1].content and "valid integer" in repair[-1].content


def test_not_json_at_all_then_valid_is_repaired() -> None:
    model, fake = scripted("Sure! The paper is about transformers.", VALID)
    assert model.with_structured_output(Paper).invoke("x") == EXPECTED
    assert "no JSON object" in fake.seen[1][-1].content


def test_missing_field_is_named_in_the_repair_prompt() -> None:
    model, fake = scripted('{"title": "T", "year": 2020}', '{"title": "T", "year": 2020, "topics": []}')
    assert model.with_structured_output(Paper).invoke("x") == Paper(title="T", year=2020, topics=[])
    assert "topics" in fake.seen[1][-1].content and "Field required" in fake.seen[1][-1].content


def test_always_invalid_raises_structured_output_error() -> None:
    outputs = ["not json", '{"title": 1}', '{"title": "T", "year": "never"}']
    model, fake = scripted(*outputs)

    with pytest.raises(StructuredOutputError) as info:
        model.with_structured_output(Paper, agent="summarizer", max_repairs=2).invoke("x")

    error = info.value
    assert len(fake.seen) == 3  # one try and two repairs, no more
    assert error.agent == "summarizer" and error.schema == "Paper" and error.attempts == 3
    assert error.last_output == outputs[-1]
    message = str(error)
    assert "'summarizer'" in message and "'Paper'" in message
    assert "3 attempt(s)" in message
    assert '{"title": "T", "year": "never"}' in message
    assert "year" in message  # the last validation problem
    assert "--model summarizer=" in message  # and what to do about it
    assert isinstance(error, ModelError) and isinstance(error, ValueError)


def test_agent_defaults_to_the_model_role() -> None:
    model, _ = scripted("nope")
    with pytest.raises(StructuredOutputError, match="agent 'critic'"):
        model.with_role("critic").with_structured_output(Paper, max_repairs=0).invoke("x")


def test_max_repairs_zero_means_one_call() -> None:
    model, fake = scripted("nope", VALID)
    with pytest.raises(StructuredOutputError):
        model.with_structured_output(Paper, max_repairs=0).invoke("x")
    assert len(fake.seen) == 1


def test_long_last_output_is_shortened_in_the_message() -> None:
    long = "x" * 5000
    model, _ = scripted(long)
    with pytest.raises(StructuredOutputError) as info:
        model.with_structured_output(Paper, max_repairs=0).invoke("x")
    assert info.value.last_output == long
    assert len(str(info.value)) < 1000


@pytest.mark.parametrize(
    "reply",
    [
        f"```json\n{VALID}\n```",
        f"```\n{VALID}\n```",
        f"Here is the answer you asked for:\n{VALID}\nLet me know if you need more.",
        f"Note {{not json}} first, then: {VALID} done.",
    ],
)
def test_json_in_code_fences_or_prose_is_extracted(reply: str) -> None:
    model, fake = scripted(reply)
    assert model.with_structured_output(Paper).invoke("x") == EXPECTED
    assert len(fake.seen) == 1  # no repair was needed


def test_extract_json() -> None:
    assert extract_json('  {"a": 1}  ') == {"a": 1}
    assert extract_json('prefix [1, 2] suffix {"b": 2}') == [1, 2]
    assert extract_json('```json\n{"a": {"b": [1]}}\n```') == {"a": {"b": [1]}}
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json("no braces here")
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json("{broken: json")


def test_async_path_repairs_too() -> None:
    model, fake = scripted("garbage", VALID)
    result = asyncio.run(model.with_structured_output(Paper).ainvoke("x"))
    assert result == EXPECTED
    assert len(fake.seen) == 2


def test_async_path_fails_with_structured_output_error() -> None:
    model, _ = scripted("a", "b")
    with pytest.raises(StructuredOutputError, match="after 2 attempt"):
        asyncio.run(model.with_structured_output(Paper, max_repairs=1).ainvoke("x"))


def test_chat_message_input_is_kept_after_the_schema_instruction() -> None:
    model, fake = scripted(VALID)
    model.with_structured_output(Paper).invoke([SystemMessage("You are a librarian."), HumanMessage("Which paper?")])
    sent = fake.seen[0]
    assert [m.type for m in sent] == ["system", "system", "human"]
    assert sent[1].content == "You are a librarian."


def test_schema_must_be_a_pydantic_model() -> None:
    model, _ = scripted(VALID)
    with pytest.raises(TypeError, match="pydantic model class"):
        model.with_structured_output({"type": "object"})
    with pytest.raises(ModelError, match="only schema, agent and max_repairs"):
        model.with_structured_output(Paper, include_raw=True)


def test_json_schema_backends_get_response_format(tmp_path: Path) -> None:
    """Where the server constrains decoding, the schema is sent as ``response_format``."""
    with OpenAITestServer() as server:
        server.behaviour.reply = VALID
        model = get_model(f"vllm:test-model@{server.base_url}", policy=CallPolicy(max_attempts=1, timeout_s=10.0))
        assert model.with_structured_output(Paper).invoke("x") == EXPECTED
    response_format = server.requests[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Paper"
    sent = response_format["json_schema"]["schema"]
    assert sent["properties"]["title"] == Paper.model_json_schema()["properties"]["title"]
    assert sent["properties"]["topics"]["items"] == {"type": "string", "maxLength": LIST_ITEM_MAX_CHARS}


class Bounded(BaseModel):
    """Nested lists, one already bounded by its author."""

    terms: list[Annotated[str, Field(max_length=20)]]
    sections: list[Paper]


def test_decoding_schema_bounds_only_unbounded_list_item_strings() -> None:
    """A small model loops inside a string nothing ends; the grammar bound ends it, and only there."""
    sent = decoding_schema(Bounded)
    assert sent["properties"]["terms"]["items"]["maxLength"] == 20  # the author's bound wins
    assert sent["$defs"]["Paper"]["properties"]["topics"]["items"]["maxLength"] == LIST_ITEM_MAX_CHARS
    assert "maxLength" not in sent["$defs"]["Paper"]["properties"]["title"]
    assert Bounded.model_json_schema()["$defs"]["Paper"]["properties"]["topics"]["items"] == {"type": "string"}


def test_structured_calls_go_through_the_gateway_trace(tmp_path: Path) -> None:
    fake = RecordingFake(messages=iter([AIMessage("bad"), AIMessage(VALID)]))
    model = GatewayChatModel(inner=fake, model="fake:scripted", role="tester", trace_path=str(tmp_path / "t.jsonl"))
    model.with_structured_output(Paper).invoke("x")
    records = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [r["output"] for r in records] == ["bad", VALID]


# -- the real embedded models ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def qwen() -> Iterator[GatewayChatModel]:
    yield get_model("local:qwen2.5-0.5b", temperature=0.0, max_tokens=200)


@pytest.fixture(scope="module")
def smollm2() -> Iterator[GatewayChatModel]:
    yield get_model("local:smollm2-135m", temperature=0.0, max_tokens=120)


def test_qwen_extracts_a_schema_from_a_real_sentence(qwen: GatewayChatModel) -> None:
    sentence = (
        "In 2017 Vaswani and colleagues published 'Attention Is All You Need', a paper about "
        "transformers, self-attention and machine translation."
    )
    result = qwen.with_structured_output(Paper, agent="extractor").invoke(
        f"Extract the paper's title, year and main topics from this sentence: {sentence}"
    )
    assert isinstance(result, Paper)
    assert result.year == 2017
    assert "attention" in result.title.lower()
    assert result.topics and any("transformer" in t.lower() or "attention" in t.lower() for t in result.topics)


class Sentiment(BaseModel):
    label: str
    score: float
    reasons: list[str]


def test_smollm2_returns_a_valid_instance_under_constrained_decoding(smollm2: GatewayChatModel) -> None:
    """A 135M model cannot be trusted to write JSON; the grammar makes it anyway."""
    result = smollm2.with_structured_output(Sentiment, agent="rater", max_repairs=0).invoke(
        "Rate the sentiment of: 'I loved this film, the acting was superb.'"
    )
    assert isinstance(result, Sentiment)


class CutOffOnce(GenericFakeChatModel):
    """Raises the OpenAI client's cut-off error once (as it does with response_format), then answers."""

    calls: int = 0
    call_kwargs: list[dict[str, Any]] = Field(default_factory=list)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.calls += 1
        self.call_kwargs.append(kwargs)
        if self.calls == 1:
            completion = openai.types.chat.ChatCompletion.model_validate({
                "id": "x", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "finish_reason": "length",
                             "message": {"role": "assistant", "content": '{"title": "Attention", "year": 20'}}],
            })
            raise openai.LengthFinishReasonError(completion=completion)
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def test_an_answer_cut_off_at_max_tokens_is_repaired_not_fatal() -> None:
    fake = CutOffOnce(messages=iter([AIMessage('{"title": "Attention", "year": 2017, "topics": ["nlp"]}')]))
    model = GatewayChatModel(inner=fake, model="fake:scripted", role="tester", supports_json_schema=True)
    paper = model.with_structured_output(Paper, max_repairs=1).invoke("Attention is all you need, 2017")
    assert paper.year == 2017 and fake.calls == 2
    # The repair does not repeat the decode that looped: it samples with a frequency penalty.
    assert "frequency_penalty" not in fake.call_kwargs[0]
    assert fake.call_kwargs[1]["frequency_penalty"] > 0 and fake.call_kwargs[1]["temperature"] > 0
    assert fake.call_kwargs[1]["response_format"]["type"] == "json_schema"


def test_an_answer_always_cut_off_ends_in_structured_output_error() -> None:
    fake = CutOffOnce(messages=iter([]))
    model = GatewayChatModel(inner=fake, model="fake:scripted", role="tester")
    with pytest.raises(StructuredOutputError, match="cut off at the token limit"):
        model.with_structured_output(Paper, max_repairs=0).invoke("Attention is all you need, 2017")


class CutOffStream(GenericFakeChatModel):
    """Streams part of an answer, then raises the client's cut-off error (as ChatOpenAI does)."""

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for piece in ('{"title": ', '"Attention"'):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        completion = openai.types.chat.ChatCompletion.model_validate({
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "length",
                         "message": {"role": "assistant", "content": '{"title": "Attention"'}}],
        })
        raise openai.LengthFinishReasonError(completion=completion)


def test_a_stream_cut_off_at_max_tokens_ends_with_finish_reason_length(tmp_path: Path) -> None:
    model = GatewayChatModel(inner=CutOffStream(messages=iter([])), model="fake:scripted", role="tester",
                             trace_path=str(tmp_path / "trace.jsonl"))
    chunks = list(model.stream("hi"))
    assert "".join(str(c.content) for c in chunks) == '{"title": "Attention"'
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.response_metadata["finish_reason"] == "length"
    record = json.loads((tmp_path / "trace.jsonl").read_text().splitlines()[-1])
    assert record["error"] is None and record["output"] == '{"title": "Attention"'
