"""The gateway's reliability promises, against a real OpenAI-compatible HTTP server on loopback:
retries on 5xx / 429 / connection failures / timeouts and nothing else, a clear error once the
attempts run out, a per-model concurrency limit, a response cache, and a trace without secrets."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentgraphs.errors import ModelError, ModelUnavailableError
from agentgraphs.models import CallPolicy, GatewayChatModel, get_model
from agentgraphs.testing.openai_server import OpenAITestServer, ServerBehaviour


@pytest.fixture
def server() -> Iterator[OpenAITestServer]:
    with OpenAITestServer() as srv:
        yield srv


def _model(server_url: str, tmp_path: Path, *, max_attempts: int = 3, timeout_s: float = 10.0,
           max_concurrency: int = 8, **kwargs: Any) -> GatewayChatModel:
    policy = CallPolicy(max_attempts=max_attempts, backoff_s=0.01, max_backoff_s=0.05, timeout_s=timeout_s,
                        max_concurrency=max_concurrency)
    return get_model(f"vllm:test-model@{server_url}", role="tester", policy=policy,
                     trace_path=tmp_path / "trace.jsonl", **kwargs)


def _trace(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "trace.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- retries --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_failures_are_retried_until_success(server: OpenAITestServer, tmp_path: Path, status: int) -> None:
    server.behaviour.fail_first, server.behaviour.fail_status = 2, status
    server.behaviour.reply = "recovered"
    model = _model(server.base_url, tmp_path, max_attempts=3)

    assert model.invoke("hello").content == "recovered"

    assert len(server.requests) == 3
    [record] = _trace(tmp_path)
    assert record["attempts"] == 3
    assert record["cached"] is False and record["error"] is None
    assert record["output"] == "recovered"
    assert record["role"] == "tester"
    assert record["model"] == f"vllm:test-model@{server.base_url}"
    assert record["input_tokens"] == 1 and record["output_tokens"] == 1


def test_persistent_5xx_gives_up_after_max_attempts(server: OpenAITestServer, tmp_path: Path) -> None:
    server.behaviour.fail_first, server.behaviour.fail_status = 100, 500
    model = _model(server.base_url, tmp_path, max_attempts=4)

    with pytest.raises(ModelUnavailableError) as info:
        model.invoke("hello")

    assert len(server.requests) == 4
    message = str(info.value)
    assert f"vllm:test-model@{server.base_url}" in message
    assert "role tester" in message
    assert "4 time(s)" in message and "HTTP 500" in message
    assert "can be resumed" in message
    # Users catching the broad classes still see it.
    assert isinstance(info.value, ModelError) and isinstance(info.value, ConnectionError)
    [record] = _trace(tmp_path)
    assert record["attempts"] == 4 and record["output"] is None
    assert "Error code: 500" in record["error"]


def test_unreachable_server_raises_model_unavailable(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    model = _model(url, tmp_path, max_attempts=2)

    with pytest.raises(ModelUnavailableError) as info:
        model.invoke("hello")

    message = str(info.value)
    assert url in message
    assert "2 time(s)" in message
    assert "ConnectionError: Connection error" in message
    assert "Check that its server is running and reachable" in message


def test_slow_server_times_out_is_retried_then_unavailable(server: OpenAITestServer, tmp_path: Path) -> None:
    server.behaviour.hang_s = 5.0
    model = _model(server.base_url, tmp_path, max_attempts=2, timeout_s=0.3)

    started = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as info:
        model.invoke("hello")
    elapsed = time.perf_counter() - started

    assert len(server.requests) == 2
    assert "TimeoutError" in str(info.value)
    # Each attempt was cut at the timeout, not left to wait out the server's 5 s.
    assert elapsed < 3.0


def test_timeout_then_fast_answer_succeeds(server: OpenAITestServer, tmp_path: Path) -> None:
    server.behaviour.hang_s = 5.0
    server.behaviour.reply = lambda body: "fast now"
    model = _model(server.base_url, tmp_path, max_attempts=5, timeout_s=0.3)

    def speed_up() -> None:
        while not server.requests:
            time.sleep(0.01)
        server.behaviour.hang_s = 0.0

    helper = threading.Thread(target=speed_up)
    helper.start()
    assert model.invoke("hello").content == "fast now"
    helper.join()
    assert len(server.requests) >= 2
    assert _trace(tmp_path)[0]["attempts"] == len(server.requests)


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_errors_are_not_retried(server: OpenAITestServer, tmp_path: Path, status: int) -> None:
    server.behaviour.fail_first, server.behaviour.fail_status = 100, status
    model = _model(server.base_url, tmp_path, max_attempts=4)

    with pytest.raises(ModelError) as info:
        model.invoke("hello")

    assert len(server.requests) == 1
    # Retrying would not help, so the run is not told the model is merely unavailable.
    assert not isinstance(info.value, ModelUnavailableError)
    assert f"vllm:test-model@{server.base_url}" in str(info.value)
    if status == 401:
        assert "credentials" in str(info.value) and "VLLM_API_KEY" in str(info.value)
    [record] = _trace(tmp_path)
    assert record["attempts"] == 1 and record["error"]



@pytest.mark.parametrize(("status", "message"), [
    (500, "Context size has been exceeded."),  # llama.cpp: concurrent requests overflowed the shared context
    (400, "request (9030 tokens) exceeds the available context size (8192 tokens), try increasing it"),
])
def test_an_exceeded_context_fails_at_once_with_the_fix(server: OpenAITestServer, tmp_path: Path, status: int,
                                                        message: str) -> None:
    server.behaviour.fail_first, server.behaviour.fail_status, server.behaviour.fail_message = 100, status, message
    model = _model(server.base_url, tmp_path, max_attempts=4)

    with pytest.raises(ModelError, match="context window was exceeded.*AGENTGRAPHS_LLAMA_CTX") as info:
        model.invoke("hello")

    assert len(server.requests) == 1, "retrying the same overflow wastes minutes and fails again"
    assert not isinstance(info.value, ModelUnavailableError)

def test_ainvoke_retries_too(server: OpenAITestServer, tmp_path: Path) -> None:
    server.behaviour.fail_first, server.behaviour.fail_status = 2, 503
    server.behaviour.reply = "async ok"
    model = _model(server.base_url, tmp_path, max_attempts=3)

    message = asyncio.run(model.ainvoke("hello"))

    assert message.content == "async ok"
    assert len(server.requests) == 3
    assert _trace(tmp_path)[0]["attempts"] == 3


def test_ainvoke_gives_up_with_model_unavailable(server: OpenAITestServer, tmp_path: Path) -> None:
    server.behaviour.fail_first, server.behaviour.fail_status = 100, 429
    model = _model(server.base_url, tmp_path, max_attempts=2)

    with pytest.raises(ModelUnavailableError, match="HTTP 429"):
        asyncio.run(model.ainvoke("hello"))
    assert len(server.requests) == 2


# -- streaming ------------------------------------------------------------------------------------


def test_stream_yields_pieces_and_is_traced(server: OpenAITestServer, tmp_path: Path) -> None:
    server.behaviour.reply = "one two three four"
    model = _model(server.base_url, tmp_path)

    chunks = list(model.stream("count"))

    assert len([c for c in chunks if c.content]) == 4
    assert "".join(str(c.content) for c in chunks) == "one two three four"
    assert server.requests[0]["stream"] is True
    [record] = _trace(tmp_path)
    assert record["output"] == "one two three four"
    assert record["attempts"] == 1
    assert record["output_tokens"] == 4


def test_stream_retries_failures_before_any_text(server: OpenAITestServer, tmp_path: Path) -> None:
    server.behaviour.fail_first, server.behaviour.fail_status = 1, 502
    server.behaviour.reply = "streamed after retry"
    model = _model(server.base_url, tmp_path, max_attempts=2)

    text = "".join(str(c.content) for c in model.stream("hello"))

    assert text == "streamed after retry"
    assert len(server.requests) == 2
    assert _trace(tmp_path)[0]["attempts"] == 2


def test_astream_yields_and_is_traced(server: OpenAITestServer, tmp_path: Path) -> None:
    server.behaviour.reply = "async stream text"
    model = _model(server.base_url, tmp_path)

    async def collect() -> str:
        return "".join([str(c.content) async for c in model.astream("hello")])

    assert asyncio.run(collect()) == "async stream text"
    assert _trace(tmp_path)[0]["output"] == "async stream text"


# -- concurrency ----------------------------------------------------------------------------------


def test_async_concurrency_limit_is_respected(tmp_path: Path) -> None:
    srv = OpenAITestServer(ServerBehaviour(latency_s=0.2, reply="done"))
    with srv:
        model = _model(srv.base_url, tmp_path, max_concurrency=3)

        async def burst() -> list[Any]:
            return await asyncio.gather(*(model.ainvoke(f"question {i}") for i in range(10)))

        replies = asyncio.run(burst())

    assert [r.content for r in replies] == ["done"] * 10
    assert len(srv.requests) == 10
    assert srv.peak_in_flight == 3  # the limit is used, and never exceeded
    assert len(_trace(tmp_path)) == 10


def test_thread_concurrency_limit_is_respected(tmp_path: Path) -> None:
    srv = OpenAITestServer(ServerBehaviour(latency_s=0.15, reply="done"))
    with srv:
        model = _model(srv.base_url, tmp_path, max_concurrency=2)
        replies = model.batch([f"question {i}" for i in range(6)], config={"max_concurrency": 6})

    assert [r.content for r in replies] == ["done"] * 6
    assert srv.peak_in_flight == 2


# -- response cache -------------------------------------------------------------------------------


def test_identical_call_is_served_from_cache(server: OpenAITestServer, tmp_path: Path) -> None:
    server.behaviour.reply = lambda body: f"reply number {len(server.requests)}"
    cache = tmp_path / "cache.sqlite"
    model = _model(server.base_url, tmp_path, cache_path=cache)

    first = model.invoke("what is two plus two?")
    second = model.invoke("what is two plus two?")

    assert first.content == second.content == "reply number 1"
    assert len(server.requests) == 1
    records = _trace(tmp_path)
    assert [r["cached"] for r in records] == [False, True]
    assert records[1]["attempts"] == 0 and records[1]["output"] == "reply number 1"

    # A new process (a fresh gateway on the same file) gets the same answer for free.
    again = _model(server.base_url, tmp_path, cache_path=cache)
    assert again.invoke("what is two plus two?").content == "reply number 1"
    assert len(server.requests) == 1

    # A different prompt is a different call.
    assert model.invoke("what is three plus three?").content == "reply number 2"
    assert len(server.requests) == 2


def test_different_temperature_is_a_cache_miss(server: OpenAITestServer, tmp_path: Path) -> None:
    server.behaviour.reply = lambda body: f"temperature {body.get('temperature')}"
    cache = tmp_path / "cache.sqlite"

    cold = _model(server.base_url, tmp_path, cache_path=cache, temperature=0.0)
    hot = _model(server.base_url, tmp_path, cache_path=cache, temperature=1.0)
    assert cold.invoke("same prompt").content == "temperature 0.0"
    assert hot.invoke("same prompt").content == "temperature 1.0"
    assert len(server.requests) == 2

    # Set per call (bind) rather than on the model, the same holds.
    assert cold.bind(temperature=0.7).invoke("same prompt").content == "temperature 0.7"
    assert len(server.requests) == 3
    assert cold.invoke("same prompt").content == "temperature 0.0"
    assert len(server.requests) == 3


def test_stream_uses_and_fills_cache(server: OpenAITestServer, tmp_path: Path) -> None:
    server.behaviour.reply = "cached stream"
    model = _model(server.base_url, tmp_path, cache_path=tmp_path / "cache.sqlite")

    assert "".join(str(c.content) for c in model.stream("hi")) == "cached stream"
    assert "".join(str(c.content) for c in model.stream("hi")) == "cached stream"
    assert model.invoke("hi").content == "cached stream"
    assert len(server.requests) == 1
    assert [r["cached"] for r in _trace(tmp_path)] == [False, True, True]


def test_failures_are_not_cached(server: OpenAITestServer, tmp_path: Path) -> None:
    server.behaviour.fail_first, server.behaviour.fail_status = 100, 500
    model = _model(server.base_url, tmp_path, max_attempts=1, cache_path=tmp_path / "cache.sqlite")
    with pytest.raises(ModelUnavailableError):
        model.invoke("hi")
    server.behaviour.fail_first = 0
    server.behaviour.reply = "fine now"
    assert model.invoke("hi").content == "fine now"
    assert len(server.requests) == 2


# -- secrets --------------------------------------------------------------------------------------


SECRET = "sk-test-SECRET-123456"
OPENAI_SECRET = "sk-openai-SECRET-654321"


def test_api_keys_reach_the_server_but_never_the_trace(
    server: OpenAITestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)

    def echo_keys(body: dict[str, Any]) -> str:
        return f"your keys are {SECRET} and {OPENAI_SECRET}, thanks"

    server.behaviour.reply = echo_keys
    vllm = _model(server.base_url, tmp_path)
    openai_model = get_model("openai:test-model", role="writer", trace_path=tmp_path / "trace.jsonl",
                             policy=CallPolicy(max_attempts=2, backoff_s=0.01, timeout_s=10.0))

    # The caller gets the model's reply as it was; only what is written down is masked.
    assert SECRET in str(vllm.invoke("hi").content)
    assert OPENAI_SECRET in str(openai_model.invoke("hi").content)
    assert "".join(str(c.content) for c in vllm.stream("stream it")).endswith("thanks")
    # A failing call's error text is traced too.
    server.behaviour.fail_first, server.behaviour.fail_status = len(server.requests) + 1, 401
    with pytest.raises(ModelError):
        vllm.invoke("fail")

    auth = [h["authorization"] for h in server.headers]
    assert auth == [f"Bearer {SECRET}", f"Bearer {OPENAI_SECRET}", f"Bearer {SECRET}", f"Bearer {SECRET}"]

    records = _trace(tmp_path)
    assert len(records) == 4
    assert "***" in records[0]["output"]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        assert SECRET.encode() not in data, f"{path} holds the vLLM key"
        assert OPENAI_SECRET.encode() not in data, f"{path} holds the OpenAI key"


def test_credentials_in_url_stay_out_of_trace_and_errors(tmp_path: Path) -> None:
    port = _closed_port()
    model = _model(f"http://alice:url-password-987@127.0.0.1:{port}/v1", tmp_path, max_attempts=1)
    assert "url-password-987" not in model.model

    with pytest.raises(ModelUnavailableError) as info:
        model.invoke("hi")

    assert "url-password-987" not in str(info.value)
    assert "url-password-987" not in (tmp_path / "trace.jsonl").read_text(encoding="utf-8")


def test_target_scoring_uses_the_models_own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``target_logprob`` on an OpenAI-compatible endpoint sends the key that model's chat calls send."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from agentgraphs.models import target_logprob

    seen: list[str | None] = []

    async def completions(request: Request) -> JSONResponse:
        seen.append(request.headers.get("authorization"))
        body = await request.json()
        assert body["echo"] is True and body["prompt"] == "The sky is blue"
        scored = {"text_offset": [0, 3, 7, 10], "tokens": ["The", " sky", " is", " blue"],
                  "token_logprobs": [None, -1.0, -0.5, -0.25]}
        return JSONResponse({"choices": [{"text": "", "logprobs": scored}]})

    srv = OpenAITestServer()
    srv.app.add_route("/v1/completions", completions, methods=["POST"])
    monkeypatch.setenv("VLLM_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)
    with srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        vllm_score = target_logprob(_model(srv.base_url, tmp_path), "The sky is", " blue")
        openai_score = target_logprob(get_model("openai:test-model"), "The sky is", " blue")

    assert vllm_score.tokens == openai_score.tokens == (" blue",)
    assert vllm_score.total == openai_score.total == -0.25
    assert seen == [f"Bearer {SECRET}", f"Bearer {OPENAI_SECRET}"]
