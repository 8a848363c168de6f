"""The fake OpenAI server must look real to the clients the project uses, and stay concurrent."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI

from agentgraphs.testing.openai_server import OpenAITestServer, ServerBehaviour

MESSAGES: list[dict[str, str]] = [{"role": "user", "content": "say ok please"}]


@pytest.fixture
def server() -> Any:
    with OpenAITestServer() as srv:
        yield srv


def _client(srv: OpenAITestServer, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0, **kwargs)


def test_openai_client_gets_content_usage_and_records_request(server: OpenAITestServer) -> None:
    result = _client(server).chat.completions.create(model="test-model", messages=MESSAGES)
    assert result.object == "chat.completion"
    assert result.choices[0].message.content == "ok"
    assert result.choices[0].finish_reason == "stop"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (3, 1)
    assert result.usage.total_tokens == 4
    assert server.requests[0]["messages"] == MESSAGES
    assert server.headers[0]["authorization"] == "Bearer sk-test"
    assert [m.id for m in _client(server).models.list()] == ["test-model"]


def test_openai_client_stream_with_usage(server: OpenAITestServer) -> None:
    server.behaviour.reply = "one two  three\nfour"
    chunks = list(
        _client(server).chat.completions.create(
            model="test-model", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two  three\nfour"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 4
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4


def test_langchain_invoke_and_stream(server: OpenAITestServer) -> None:
    server.behaviour.reply = "hello from the fake server"
    llm = ChatOpenAI(model="test-model", base_url=server.base_url, api_key="sk-test", max_retries=0)
    message = llm.invoke("hi")
    assert message.content == "hello from the fake server"
    assert message.usage_metadata is not None and message.usage_metadata["output_tokens"] == 5
    streamed = "".join(str(chunk.content) for chunk in llm.stream("hi"))
    assert streamed == "hello from the fake server"
    assert server.requests[-1]["stream"] is True


def test_fail_first_then_succeed_and_rate_limit() -> None:
    with OpenAITestServer(ServerBehaviour(fail_first=2, fail_status=500)) as srv:
        client = _client(srv)
        for _ in range(2):
            with pytest.raises(openai.InternalServerError) as info:
                client.chat.completions.create(model="test-model", messages=MESSAGES)
            assert info.value.status_code == 500
            assert info.value.body is not None and info.value.body["type"] == "server_error"
        ok = client.chat.completions.create(model="test-model", messages=MESSAGES)
        assert ok.choices[0].message.content == "ok"

    with OpenAITestServer(ServerBehaviour(fail_first=1, fail_status=429)) as srv:
        with pytest.raises(openai.RateLimitError) as rate:
            _client(srv).chat.completions.create(model="test-model", messages=MESSAGES)
        assert rate.value.response.headers["retry-after"] == "0"
        assert rate.value.code == "rate_limit_exceeded"
        # With retries on, the client honours retry-after: 0 and the second attempt succeeds.
        retried = openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=1)
        srv.behaviour.fail_first = 2
        assert retried.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "ok"
        assert len(srv.requests) == 3


def test_latency_does_not_block_concurrent_requests() -> None:
    async def main(base_url: str) -> None:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
        results = await asyncio.gather(
            *(client.chat.completions.create(model="test-model", messages=MESSAGES) for _ in range(50))
        )
        await client.close()
        assert all(r.choices[0].message.content == "ok" for r in results)

    with OpenAITestServer(ServerBehaviour(latency_s=0.2)) as srv:
        asyncio.run(main(srv.base_url))
        assert len(srv.requests) == 50
    # the client's pool allows more than one connection; a server that blocked on latency would show 1
    assert srv.peak_in_flight > 10, f"only {srv.peak_in_flight} of 50 concurrent requests were in flight at once"


def test_reply_callable_receives_request_json(server: OpenAITestServer) -> None:
    def echo(body: dict[str, Any]) -> str:
        return f"echo: {body['messages'][-1]['content']}"

    server.behaviour.reply = echo
    messages = [{"role": "system", "content": "be terse"}, {"role": "user", "content": "ping 42"}]
    result = _client(server).chat.completions.create(model="test-model", messages=messages)
    assert result.choices[0].message.content == "echo: ping 42"


def test_hang_triggers_client_timeout_and_stop_is_quick() -> None:
    srv = OpenAITestServer(ServerBehaviour(hang_s=30))
    with srv:
        with pytest.raises(openai.APITimeoutError):
            _client(srv, timeout=0.3).chat.completions.create(model="test-model", messages=MESSAGES)
        started = time.perf_counter()
    assert time.perf_counter() - started < 2.0  # a request still hanging must not delay shutdown
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{srv.base_url}/models", timeout=1.0)


def test_bad_json_is_an_openai_error(server: OpenAITestServer) -> None:
    response = httpx.post(f"{server.base_url}/chat/completions", content=b"{nope", timeout=5.0)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
