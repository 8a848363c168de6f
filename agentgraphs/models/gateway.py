"""The one place every model call goes through.

``GatewayChatModel`` wraps a backend's LangChain chat model and adds what every call needs and no
backend does the same way: a per-model concurrency limit, a timeout, retries with exponential
backoff on connection errors, 5xx and 429, an optional on-disk response cache, and a JSONL trace
record. Backends are built with their own retries off, so this policy is the only one in force.
It is itself a ``BaseChatModel``: agents use ``invoke``, ``ainvoke``, ``stream``, ``bind`` and
``with_structured_output`` on it whatever the backend.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import random
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from pydantic import ConfigDict

from agentgraphs.errors import ModelError, ModelUnavailableError
from agentgraphs.models.cache import cache_key, response_cache
from agentgraphs.models.trace import trace_writer

if TYPE_CHECKING:
    from agentgraphs.models.structured import StructuredOutput

__all__ = ["CallPolicy", "GatewayChatModel"]


@dataclass(frozen=True, kw_only=True)
class CallPolicy:
    """How calls to one model are limited, timed out and retried."""

    max_concurrency: int = 8
    """Calls in flight at once to this model, per process (per event loop for async calls)."""
    timeout_s: float = 300.0
    """Seconds one attempt may take before it counts as a failed attempt."""
    max_attempts: int = 4
    """Attempts per call, the first included, before :class:`ModelUnavailableError`."""
    backoff_s: float = 0.5
    """Wait after the first failed attempt; doubles each time, with jitter."""
    max_backoff_s: float = 8.0
    """The longest wait between two attempts."""

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return base * (0.5 + random.random() / 2)


class _Limiter:
    """A semaphore for threads and one per event loop for coroutines, with the same bound."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self.sync = threading.BoundedSemaphore(bound)
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def for_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        with self._lock:
            sem = self._async.get(loop)
            if sem is None:
                sem = self._async[loop] = asyncio.Semaphore(self.bound)
            return sem


_limiters: dict[tuple[str, int], _Limiter] = {}
_limiters_lock = threading.Lock()


def _limiter(model: str, bound: int) -> _Limiter:
    with _limiters_lock:
        key = (model, bound)
        limiter = _limiters.get(key)
        if limiter is None:
            limiter = _limiters[key] = _Limiter(bound)
        return limiter


def _status_of(exc: BaseException) -> int | None:
    for link in _chain(exc):
        status = getattr(link, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def _cut_off(exc: BaseException) -> AIMessage | None:
    """The answer inside the OpenAI client's ``LengthFinishReasonError``, if that is what ``exc`` is.

    With ``response_format`` the client raises when the answer hit ``max_tokens``, where without
    it the truncated text is simply returned. A cut-off answer is an answer, not a failed call: it
    is returned (``finish_reason: length``) so callers, structured output among them, see the same
    thing whatever the request.
    """
    for link in _chain(exc):
        if type(link).__name__ == "LengthFinishReasonError":
            completion = getattr(link, "completion", None)
            choices = getattr(completion, "choices", None) or []
            usage = getattr(completion, "usage", None)
            return AIMessage(
                content=(choices[0].message.content or "") if choices else "",
                response_metadata={"finish_reason": "length"},
                usage_metadata=None if usage is None else {
                    "input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens,
                    "total_tokens": usage.total_tokens,
                },
            )
    return None


_LENGTH_TAIL = ChatGenerationChunk(message=AIMessageChunk(content="", response_metadata={"finish_reason": "length"}))
"""The last chunk of a stream cut off at ``max_tokens``."""


_CONTEXT_EXCEEDED = ("context size has been exceeded", "exceeds the available context size",
                     "maximum context length")


def _context_exceeded(exc: BaseException) -> bool:
    """The model's context window was too small: for this prompt, or (llama.cpp, whose slots share
    one context) for all the requests running at once, which it answers with HTTP 500. Measured:
    two concurrent 4,300-token prompts on an 8,192-token local server both fail after 88 s, and
    retrying them together fails again, so this is reported at once instead of retried."""
    return any(marker in str(link).lower() for link in _chain(exc) for marker in _CONTEXT_EXCEEDED)


def _is_retryable(exc: BaseException) -> bool:
    """Connection failures, timeouts, 5xx and 429 are worth another attempt; nothing else is."""
    if _context_exceeded(exc):
        return False
    status = _status_of(exc)
    if status is not None:
        return status == 429 or status >= 500
    for link in _chain(exc):
        name = type(link).__name__
        module = type(link).__module__
        if name in {"APIConnectionError", "APITimeoutError", "OpenAITimeoutError"}:
            return True
        if module.startswith(("httpx", "httpcore")) and ("Timeout" in name or "Connect" in name or "Network" in name or "Protocol" in name):
            return True
        if isinstance(link, (ConnectionError, TimeoutError)):
            return True
    return False


class GatewayChatModel(BaseChatModel):
    """A backend chat model behind the call policy, the cache and the trace."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseChatModel
    """The backend's own chat model (ChatOpenAI, HFChatModel, ...), built with retries off."""
    model: str
    """The canonical, credential-free model string; the key for limits, cache and trace."""
    role: str = "default"
    """The agent role this instance serves, recorded in the trace."""
    policy: CallPolicy = CallPolicy()
    trace_path: str | None = None
    """Where call records go (a run's ``trace.jsonl``); None: no trace."""
    cache_path: str | None = None
    """The response cache's SQLite file; None: no cache."""
    supports_json_schema: bool = False
    """Whether the backend constrains decoding to a JSON schema (``response_format``)."""
    base_url: str | None = None
    """The OpenAI-compatible endpoint behind this model, if any (for logprob scoring)."""

    @property
    def _llm_type(self) -> str:
        return "agentgraphs-gateway"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, "role": self.role}

    @property
    def max_tokens(self) -> int | None:
        """The backend's limit on answer tokens (``max_tokens``, or ``max_new_tokens`` for ``hf:``); None: none set."""
        limit = getattr(self.inner, "max_tokens", None)
        if limit is None:
            limit = getattr(self.inner, "max_new_tokens", None)
        return limit if isinstance(limit, int) else None

    def with_role(self, role: str) -> GatewayChatModel:
        """The same model recorded under another role."""
        return self.model_copy(update={"role": role})

    # -- the call path ---------------------------------------------------------------------------

    def _key(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]) -> str:
        # The backend's own settings (get_model(..., temperature=...)) change replies as much as
        # per-call ones; its identifying params name them without endpoint or credentials.
        if not self.cache_path:
            return ""  # hashing every prompt is wasted work when nothing is cached
        backend = getattr(self.inner, "_identifying_params", {})
        return cache_key(self.model, messages, {"stop": stop, "_backend": dict(backend), **kwargs})

    def _hit(self, messages: list[BaseMessage], key: str, started: float) -> BaseMessage | None:
        """The cached reply for ``key`` (recorded in the trace), if caching is on and there is one."""
        if not self.cache_path:
            return None
        message = response_cache(self.cache_path).get(key)
        if message is not None:
            self._record(messages=messages, message=message, started=started, attempts=0, cached=True)
        return message

    def _record(self, *, messages: list[BaseMessage], message: BaseMessage | None, started: float, attempts: int,
                cached: bool, error: BaseException | None = None) -> None:
        if self.trace_path is None:
            return
        prompt = json.dumps([[m.type, m.content] for m in messages], default=str, ensure_ascii=False)
        usage = getattr(message, "usage_metadata", None) or {}
        trace_writer(self.trace_path).write({
            "role": self.role,
            "model": self.model,
            "prompt_hash": hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16],
            "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"),
            "latency_s": round(time.perf_counter() - started, 4),
            "attempts": attempts,
            "cached": cached,
            "output": None if message is None else message.content,
            "error": None if error is None else f"{type(error).__name__}: {error}",
        })

    def _retry_delay(self, exc: Exception, *, attempt: int, started: float, messages: list[BaseMessage],
                     streamed: bool) -> float:
        """Seconds to wait before the next attempt, or raise the error the caller should see.

        Once streamed text has reached the caller a retry would duplicate it, so only a failure
        before the first chunk is retried.
        """
        if streamed or attempt >= self.policy.max_attempts or not _is_retryable(exc):
            self._record(messages=messages, message=None, started=started, attempts=attempt, cached=False, error=exc)
            raise self._give_up(exc, attempt, started) from exc
        return self.policy.delay(attempt)

    def _give_up(self, exc: BaseException, attempts: int, started: float) -> ModelError:
        status = _status_of(exc)
        waited = time.perf_counter() - started
        if _is_retryable(exc):
            what = f"HTTP {status}" if status is not None else type(exc).__name__
            return ModelUnavailableError(
                f"model {self.model} (role {self.role}) failed {attempts} time(s) over {waited:.1f} s, "
                f"last with {what}: {exc}. Check that its server is running and reachable, or choose "
                f"another model with --model {self.role}=... / AGENTGRAPHS_MODEL; the run can be resumed."
            )
        if _context_exceeded(exc):
            return ModelError(
                f"model {self.model} (role {self.role}): its context window was exceeded, by this prompt or, on a "
                f"local llama.cpp server, by the requests running at the same time ({exc}). Raise "
                "AGENTGRAPHS_LLAMA_CTX, lower the concurrency, or shorten the prompt"
            )
        if status in (401, 403):
            return ModelError(
                f"model {self.model} rejected the credentials (HTTP {status}); set a valid API key "
                f"(OPENAI_API_KEY for openai:, VLLM_API_KEY for vllm:)"
            )
        return ModelError(f"model {self.model} (role {self.role}) failed: {type(exc).__name__}: {exc}")

    def _finish(self, messages: list[BaseMessage], message: BaseMessage, key: str, started: float, attempts: int) -> None:
        if self.cache_path:
            response_cache(self.cache_path).put(key, message)
        self._record(messages=messages, message=message, started=started, attempts=attempts, cached=False)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        started, key = time.perf_counter(), self._key(messages, stop, kwargs)
        if (hit := self._hit(messages, key, started)) is not None:
            return ChatResult(generations=[ChatGeneration(message=hit)])
        limiter = _limiter(self.model, self.policy.max_concurrency)
        for attempt in itertools.count(1):
            try:
                with limiter.sync:
                    result = _backend_generate(self.inner, messages, stop, run_manager, kwargs)
                break
            except Exception as exc:
                if (partial := _cut_off(exc)) is not None:
                    result = ChatResult(generations=[ChatGeneration(message=partial)])
                    break
                time.sleep(self._retry_delay(exc, attempt=attempt, started=started, messages=messages, streamed=False))
        self._finish(messages, result.generations[0].message, key, started, attempt)
        return result

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        started, key = time.perf_counter(), self._key(messages, stop, kwargs)
        if self.cache_path and (hit := await asyncio.to_thread(self._hit, messages, key, started)) is not None:
            return ChatResult(generations=[ChatGeneration(message=hit)])
        semaphore = _limiter(self.model, self.policy.max_concurrency).for_loop()
        for attempt in itertools.count(1):
            try:
                async with semaphore:
                    result = await _backend_agenerate(self.inner, messages, stop, run_manager, kwargs)
                break
            except Exception as exc:
                if (partial := _cut_off(exc)) is not None:
                    result = ChatResult(generations=[ChatGeneration(message=partial)])
                    break
                await asyncio.sleep(self._retry_delay(exc, attempt=attempt, started=started, messages=messages, streamed=False))
        self._finish(messages, result.generations[0].message, key, started, attempt)
        return result

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        started, key = time.perf_counter(), self._key(messages, stop, kwargs)
        if (hit := self._hit(messages, key, started)) is not None:
            yield _chunk_of(hit)
            return
        limiter = _limiter(self.model, self.policy.max_concurrency)
        received: ChatGenerationChunk | None = None
        for attempt in itertools.count(1):
            try:
                with limiter.sync:
                    for chunk in self.inner._stream(messages, stop=stop, run_manager=run_manager, **kwargs):
                        received = chunk if received is None else received + chunk
                        yield chunk
                break
            except Exception as exc:
                if received is not None and _cut_off(exc) is not None:  # the text is out: just end it
                    received += _LENGTH_TAIL
                    yield _LENGTH_TAIL
                    break
                time.sleep(self._retry_delay(exc, attempt=attempt, started=started, messages=messages, streamed=received is not None))
        if received is not None:
            self._finish(messages, _as_message(received.message), key, started, attempt)

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        started, key = time.perf_counter(), self._key(messages, stop, kwargs)
        if self.cache_path and (hit := await asyncio.to_thread(self._hit, messages, key, started)) is not None:
            yield _chunk_of(hit)
            return
        semaphore = _limiter(self.model, self.policy.max_concurrency).for_loop()
        received: ChatGenerationChunk | None = None
        for attempt in itertools.count(1):
            try:
                async with semaphore:
                    async for chunk in self.inner._astream(messages, stop=stop, run_manager=run_manager, **kwargs):
                        received = chunk if received is None else received + chunk
                        yield chunk
                break
            except Exception as exc:
                if received is not None and _cut_off(exc) is not None:  # the text is out: just end it
                    received += _LENGTH_TAIL
                    yield _LENGTH_TAIL
                    break
                await asyncio.sleep(self._retry_delay(exc, attempt=attempt, started=started, messages=messages, streamed=received is not None))
        if received is not None:
            self._finish(messages, _as_message(received.message), key, started, attempt)

    # -- composition -----------------------------------------------------------------------------

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        """Tools formatted by the backend, called through the gateway."""
        bound = self.inner.bind_tools(tools, **kwargs)
        return self.bind(**getattr(bound, "kwargs", {}))

    def with_structured_output(self, schema: Any, *, include_raw: bool = False, agent: str | None = None,
                               max_repairs: int = 2, **kwargs: Any) -> StructuredOutput[Any]:
        """A runnable returning validated ``schema`` instances (see :mod:`agentgraphs.models.structured`)."""
        from agentgraphs.models.structured import StructuredOutput

        if include_raw or kwargs:
            raise ModelError("agentgraphs structured output takes only schema, agent and max_repairs")
        return StructuredOutput(model=self, schema=schema, agent=agent or self.role, max_repairs=max_repairs)


def _direct_payload(inner: BaseChatModel, messages: list[BaseMessage], stop: list[str] | None,
                    kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """The request payload when one bare ``create`` can serve the call, else None.

    Measured (bench/concurrency.py, bench/mpo.py): ``ChatOpenAI`` goes through ``with_raw_response``
    (and ``parse`` when a ``response_format`` is set) and costs ~0.7 ms of client CPU a call more than
    the bare client, which on 2 cores is ~10 % of the wall time of many concurrent calls. For chat
    completions whose ``response_format`` is plain JSON (what our structured output sends; a pydantic
    class asks ChatOpenAI to parse, so it keeps ChatOpenAI's path), without the Responses API or
    response headers, ChatOpenAI's own converters build the payload and the result around one bare
    ``create``: messages, usage, logprobs and finish reasons come out the same. An answer cut at
    ``max_tokens`` then arrives as a message with finish reason ``length`` rather than an exception.
    """
    if not isinstance(inner, ChatOpenAI) or inner.include_response_headers:
        return None
    if "response_format" in kwargs and not isinstance(kwargs["response_format"], dict):
        return None
    payload = inner._get_request_payload(messages, stop=stop, **kwargs)
    if inner._use_responses_api(payload):
        return None
    payload.pop("stream", None)
    return payload


def _backend_generate(inner: BaseChatModel, messages: list[BaseMessage], stop: list[str] | None,
                      run_manager: CallbackManagerForLLMRun | None, kwargs: dict[str, Any]) -> ChatResult:
    """The backend's reply, through one bare ``create`` where :func:`_direct_payload` allows."""
    if (payload := _direct_payload(inner, messages, stop, kwargs)) is not None:
        assert isinstance(inner, ChatOpenAI)
        return inner._create_chat_result(inner.client.create(**payload))
    return inner._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


async def _backend_agenerate(inner: BaseChatModel, messages: list[BaseMessage], stop: list[str] | None,
                             run_manager: AsyncCallbackManagerForLLMRun | None, kwargs: dict[str, Any]) -> ChatResult:
    """The async twin of :func:`_backend_generate`."""
    if (payload := _direct_payload(inner, messages, stop, kwargs)) is not None:
        assert isinstance(inner, ChatOpenAI)
        return inner._create_chat_result(await inner.async_client.create(**payload))
    return await inner._agenerate(messages, stop=stop, run_manager=run_manager, **kwargs)


def _chunk_of(message: BaseMessage) -> ChatGenerationChunk:
    return ChatGenerationChunk(message=AIMessageChunk(content=message.content, usage_metadata=getattr(message, "usage_metadata", None)))


def _as_message(chunk: BaseMessage) -> AIMessage:
    if isinstance(chunk, AIMessageChunk):
        return AIMessage(content=chunk.content, usage_metadata=chunk.usage_metadata,
                         response_metadata=chunk.response_metadata)
    assert isinstance(chunk, AIMessage)
    return chunk
