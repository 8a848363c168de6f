"""Structured output that never trusts the model.

An agent asks for a pydantic schema. Where the backend constrains decoding to a JSON schema
(llama.cpp grammars, ``response_format`` on OpenAI-compatible servers) it is used; either way the
text is parsed and validated, a failure is shown back to the model with the validation error for a
bounded number of repairs, and the last failure becomes a :class:`StructuredOutputError` naming the
agent, the schema and what the model said.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Generic, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, ValidationError

from agentgraphs.errors import StructuredOutputError
from agentgraphs.models.schema_bounds import max_json_tokens

__all__ = ["StructuredOutput", "decoding_schema", "extract_json", "schema_instruction"]

T = TypeVar("T", bound=BaseModel)


def extract_json(text: str) -> Any:
    """The first JSON object or array in ``text`` (code fences and prose around it are ignored)."""
    decoder = json.JSONDecoder()
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError:
        pass
    for index, char in enumerate(text):
        if char in "{[":
            try:
                value, _ = decoder.raw_decode(text, index)
                return value
            except json.JSONDecodeError:
                continue
    raise ValueError("no JSON object found in the output")


def schema_instruction(schema: type[BaseModel]) -> str:
    """The system instruction that tells the model the shape to answer in."""
    compact = json.dumps(schema.model_json_schema(), separators=(",", ":"))
    return (
        "Answer with one JSON object only, no prose and no code fences. It must validate against "
        f"this JSON schema: {compact}"
    )


LIST_ITEM_MAX_CHARS = 240
"""Decode-time bound on a list item string the schema leaves unbounded (see ``decoding_schema``)."""


def decoding_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema given to a constraining backend: the model's, with list-item strings bounded.

    Small models loop inside a string that nothing ends ("1.1.1.1…" until ``max_tokens``); measured
    in bench/structured_output.py, every such failure was a list item. A ``maxLength`` in the
    grammar ends the string. Validation still uses the pydantic schema itself, so this only
    shapes decoding and never rejects an answer the schema accepts.
    """
    document = schema.model_json_schema()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            items = node.get("items")
            if node.get("type") == "array" and isinstance(items, dict) and items.get("type") == "string":
                items.setdefault("maxLength", LIST_ITEM_MAX_CHARS)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(document)
    return document


def _problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()[:5]]
        return "; ".join(parts)
    return str(exc)


class StructuredOutput(Runnable[Any, T], Generic[T]):
    """``model.with_structured_output(schema)``: input → a validated ``schema`` instance."""

    def __init__(self, *, model: BaseChatModel, schema: type[T], agent: str, max_repairs: int = 2) -> None:
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            raise TypeError(f"structured output needs a pydantic model class, got {schema!r}")
        self.model = model
        self.schema = schema
        self.agent = agent
        self.max_repairs = max_repairs

    def _bound(self, *, escape_loop: bool = False) -> Runnable[Any, BaseMessage]:
        """The model with the schema constraint, where the backend has one.

        ``escape_loop``: after an answer ran into the token limit, the same greedy decode would loop
        in the same place again (measured in bench/structured_output.py: 0 of 10 recovered), so the
        repair samples with a frequency penalty and some temperature instead.

        A bounded schema's longest answer gets the tokens to finish (see :mod:`.schema_bounds`): a
        lower limit could only cut a constrained answer short of valid JSON.
        """
        if not getattr(self.model, "supports_json_schema", False):
            return self.model
        extra: dict[str, Any] = {"frequency_penalty": 0.8, "temperature": 0.7} if escape_loop else {}
        if self._raised_token_limit is not None:
            extra["max_tokens"] = self._raised_token_limit
        return self.model.bind(response_format={
            "type": "json_schema",
            "json_schema": {"name": self.schema.__name__, "schema": self._decoding_schema, "strict": False},
        }, **extra)

    # Built on first use, once per instance: schema generation walks the whole model, and every call
    # of a batch and every repair attempt would otherwise redo it.
    @functools.cached_property
    def _decoding_schema(self) -> dict[str, Any]:
        return decoding_schema(self.schema)

    @functools.cached_property
    def _instruction(self) -> SystemMessage:
        # measured in bench/mpo.py: rebuilt per call it was ~2 ms of CPU, a fifth of a judge call's client side
        return SystemMessage(schema_instruction(self.schema))

    @functools.cached_property
    def _raised_token_limit(self) -> int | None:
        """The longest answer's tokens when the model's own limit is lower (ChatOpenAI and the gateway
        both name it ``max_tokens``); None when the limit already fits or the schema is unbounded."""
        needed = max_json_tokens(self._decoding_schema)
        limit = getattr(self.model, "max_tokens", None)
        return needed if needed is not None and isinstance(limit, int) and limit < needed else None

    def _messages(self, value: Any) -> list[BaseMessage]:
        messages = self.model._convert_input(value).to_messages()
        return [self._instruction, *messages]

    def _parse(self, text: str) -> T:
        return self.schema.model_validate(extract_json(text))

    def _repair(self, messages: list[BaseMessage], text: str, exc: Exception) -> list[BaseMessage]:
        return [*messages, AIMessage(text), HumanMessage(
            f"That answer is not valid: {_problem(exc)}. Reply again with only the corrected JSON object."
        )]

    def _fail(self, text: str, exc: Exception) -> StructuredOutputError:
        return StructuredOutputError(agent=self.agent, schema=self.schema.__name__, last_output=text,
                                     problem=_problem(exc), attempts=self.max_repairs + 1)

    def _check(self, messages: list[BaseMessage], attempt: int, reply: BaseMessage) -> tuple[T | None, list[BaseMessage]]:
        """The validated answer, or ``None`` and the messages of the repair attempt to make next.

        Raises :class:`StructuredOutputError` when the last attempt is spent.
        """
        text = _text(reply)
        try:
            return self._parse(text), messages
        except (ValueError, ValidationError) as exc:
            problem: Exception = ValueError(_CUT_OFF) if _was_cut_off(reply) else exc
        if attempt == self.max_repairs:
            raise self._fail(text, problem) from problem
        return None, self._repair(messages, text, problem)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> T:
        messages, bound = self._messages(input), self._bound()
        for attempt in range(self.max_repairs + 1):
            reply = bound.invoke(messages, config)
            answer, messages = self._check(messages, attempt, reply)
            if answer is not None:
                return answer
            bound = self._bound(escape_loop=_was_cut_off(reply))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> T:
        messages, bound = self._messages(input), self._bound()
        for attempt in range(self.max_repairs + 1):
            reply = await bound.ainvoke(messages, config)
            answer, messages = self._check(messages, attempt, reply)
            if answer is not None:
                return answer
            bound = self._bound(escape_loop=_was_cut_off(reply))
        raise AssertionError("unreachable: the last attempt returns or raises")


    def batch_answers(self, inputs: list[Any], *, concurrency: int) -> list[T | StructuredOutputError]:
        """Each input's answer, ``concurrency`` at a time, in order; a :class:`StructuredOutputError`
        in place of an answer that never validated. Any other error (an unreachable server) is
        raised: scoring many responses must survive one bad answer, not a dead backend."""
        results = self.batch(inputs, config={"max_concurrency": max(1, concurrency)}, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, StructuredOutputError):
                raise result
        return results  # type: ignore[return-value]


_CUT_OFF = "the answer was cut off at the token limit (max_tokens) before the JSON was complete; answer more briefly"


def _was_cut_off(reply: BaseMessage) -> bool:
    """Whether the model stopped at the token limit (the gateway reports it as ``finish_reason``)."""
    return reply.response_metadata.get("finish_reason") == "length"


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
