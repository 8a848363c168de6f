"""The longest answer a bounded schema admits is known before the call, and a constrained call gets
the tokens to finish it: a token limit below it could only cut a valid answer short."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from agentgraphs.models import CallPolicy, get_model
from agentgraphs.models.schema_bounds import CHARS_PER_TOKEN_FLOOR, max_json_chars, max_json_tokens
from agentgraphs.models.structured import decoding_schema
from agentgraphs.testing.openai_server import OpenAITestServer

Short = Annotated[str, Field(max_length=12)]


class View(BaseModel):
    option: Literal["llc", "s_corporation"]
    pros: list[Short] = Field(min_length=1, max_length=3)


class Brief(BaseModel):
    views: list[View] = Field(max_length=2)
    confident: bool
    note: Short | None = None
    kind: Literal["memo"] = "memo"


def _compact(instance: BaseModel) -> str:
    return json.dumps(instance.model_dump(mode="json"), separators=(",", ":"))


def test_the_bound_is_the_length_of_the_longest_instance() -> None:
    """Every string at its maximum, every list full, the longest enum value and scalar: exactly the bound."""
    longest = Brief(views=[View(option="s_corporation", pros=["x" * 12] * 3)] * 2, confident=False, note="y" * 12)
    assert max_json_chars(Brief.model_json_schema()) == len(_compact(longest))
    shorter = Brief(views=[View(option="llc", pros=["x"])], confident=True)
    assert len(_compact(shorter)) < len(_compact(longest))


class Free(BaseModel):
    text: str


class Endless(BaseModel):
    items: list[Short]


class Mapping_(BaseModel):
    scores: dict[str, int]


class Tree(BaseModel):
    name: Short
    children: list[Tree] = Field(max_length=2)


@pytest.mark.parametrize("schema", [Free, Endless, Mapping_, Tree])
def test_an_unbounded_schema_has_no_bound(schema: type[BaseModel]) -> None:
    """A free string, a list without a maximum, a mapping or a recursive model can be any length."""
    assert max_json_chars(schema.model_json_schema()) is None
    assert max_json_tokens(schema.model_json_schema()) is None


def test_the_token_bound_covers_the_characters_at_the_floor() -> None:
    document = Brief.model_json_schema()
    tokens, chars = max_json_tokens(document), max_json_chars(document)
    assert tokens is not None and chars is not None
    assert tokens * CHARS_PER_TOKEN_FLOOR >= chars


def _sent_max_tokens(schema: type[BaseModel], reply: str, **model_kwargs: int) -> int | None:
    with OpenAITestServer() as server:
        server.behaviour.reply = reply
        model = get_model(f"vllm:test-model@{server.base_url}", policy=CallPolicy(max_attempts=1, timeout_s=10.0),
                          **model_kwargs)
        model.with_structured_output(schema).invoke("x")
    value = server.requests[0].get("max_tokens", server.requests[0].get("max_completion_tokens"))
    return value if isinstance(value, int) else None


BRIEF = json.dumps({"views": [{"option": "llc", "pros": ["cheap"]}], "confident": True})


def test_a_limit_below_the_longest_answer_is_raised_to_it() -> None:
    needed = max_json_tokens(decoding_schema(Brief))
    assert needed is not None and needed > 40
    assert _sent_max_tokens(Brief, BRIEF, max_tokens=40) == needed


def test_a_limit_that_fits_and_an_unbounded_schema_keep_the_users_limit() -> None:
    assert _sent_max_tokens(Brief, BRIEF, max_tokens=5000) == 5000
    assert _sent_max_tokens(Free, json.dumps({"text": "hello"}), max_tokens=40) == 40
