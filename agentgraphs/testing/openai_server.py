"""A small, real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

Mocks of the client library cannot show how retries, timeouts, connection pooling or
streaming behave, so this serves the real wire protocol from a background thread.
Every delay is an ``asyncio.sleep``, so concurrent requests overlap as they would
against a real API (the concurrency benchmark depends on that).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODEL_ID = "test-model"


@dataclass(kw_only=True)
class ServerBehaviour:
    """How the server answers; tests may mutate it between calls (read per request)."""

    latency_s: float = 0.0  # non-blocking sleep before every answer, failures included
    fail_first: int = 0  # the first N requests answer `fail_status`
    fail_status: int = 500  # 500, 503, 429 ...
    fail_message: str = ""  # the failures' error message ("" = "injected failure (STATUS)")
    reply: str | Callable[[dict[str, Any]], str] = "ok"  # content, or a function of the request JSON
    hang_s: float = 0.0  # extra sleep before answering, to trigger client timeouts


def _words(text: str) -> int:
    """Approximate token count: tests only need stable, plausible usage numbers."""
    return len(text.split())


def _prompt_text(body: dict[str, Any]) -> str:
    """Flatten message contents (plain strings or lists of text parts) for usage counting."""
    parts: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return " ".join(parts)


def _error(status: int, message: str) -> JSONResponse:
    """OpenAI's error shape, so the client raises the matching typed exception."""
    if status == 429:
        err_type, code = "requests", "rate_limit_exceeded"
    elif status >= 500:
        err_type, code = "server_error", None
    else:
        err_type, code = "invalid_request_error", None
    headers = {"retry-after": "0"} if status == 429 else None  # clients retry at once
    payload = {"error": {"message": message, "type": err_type, "param": None, "code": code}}
    return JSONResponse(payload, status_code=status, headers=headers)


class OpenAITestServer:
    """Context manager running the fake API in a daemon thread; records what it received."""

    def __init__(self, behaviour: ServerBehaviour | None = None, port: int = 0) -> None:
        self.behaviour: ServerBehaviour = behaviour or ServerBehaviour()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()  # handlers run on the server thread, tests read on theirs
        self._seen = 0
        self._in_flight = 0
        self.peak_in_flight = 0  # the most chat requests handled at once: overlap, seen by the server
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str = ""
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    async def _models(self, request: Request) -> Response:
        """Some clients probe the model list before use."""
        model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "agentgraphs"}
        return JSONResponse({"object": "list", "data": [model]})

    async def _chat(self, request: Request) -> Response:
        """Record the call, apply the behaviour, answer as JSON or as an SSE stream."""
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _error(400, "request body is not a JSON object")
        behaviour = self.behaviour
        with self._lock:  # count on arrival so fail_first is deterministic under concurrency
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            self._seen += 1
            failing = self._seen <= behaviour.fail_first
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            await asyncio.sleep(behaviour.latency_s + behaviour.hang_s)
        finally:
            with self._lock:
                self._in_flight -= 1
        if failing:
            return _error(behaviour.fail_status, behaviour.fail_message or f"injected failure ({behaviour.fail_status})")
        reply = behaviour.reply
        content = reply(body) if callable(reply) else reply
        model = str(body.get("model") or MODEL_ID)
        prompt_tokens, completion_tokens = _words(_prompt_text(body)), _words(content)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": model}
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            stream = self._stream(base, content, usage if include_usage else None)
            return StreamingResponse(stream, media_type="text/event-stream")
        message = {"role": "assistant", "content": content}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        return JSONResponse({**base, "object": "chat.completion", "choices": [choice], "usage": usage})

    @staticmethod
    async def _stream(
        base: dict[str, Any], content: str, usage: dict[str, int] | None
    ) -> AsyncIterator[str]:
        """Emit OpenAI chunk events: role, word pieces, stop, optional usage, [DONE]."""

        def event(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            chunk: dict[str, Any] = {**base, "object": "chat.completion.chunk", "choices": [choice]}
            if usage is not None:
                chunk["usage"] = None  # OpenAI sends usage: null on every chunk but the last
            return f"data: {json.dumps(chunk)}\n\n"

        yield event({"role": "assistant", "content": ""})
        # Split before each word that follows whitespace: the pieces join back exactly.
        for piece in [p for p in re.split(r"(?<=\s)(?=\S)", content) if p]:
            yield event({"content": piece})
            await asyncio.sleep(0)  # let other requests interleave, as a real stream would
        yield event({}, "stop")
        if usage is not None:
            chunk = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"

    def __enter__(self) -> OpenAITestServer:
        """Bind first (so port 0 resolves before anyone connects), then serve in a thread."""
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets whose proto says
        # TCP, and without it every keep-alive request stalls ~40 ms on Nagle + delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        port = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        # log_config=None: never reconfigure the test process's logging from here.
        config = uvicorn.Config(
            self.app, lifespan="off", log_config=None, log_level="warning",
            access_log=False, loop="asyncio", timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)  # off the main thread it installs no signal handlers
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"openai-test-server-{port}", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + 10.0
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise RuntimeError(f"OpenAI test server failed to start on port {port}")
            time.sleep(0.005)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop without waiting for hanging requests: force_exit skips the graceful drain."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=5.0)
        if self._thread.is_alive():
            raise RuntimeError("OpenAI test server thread did not stop within 5 s")
        self._server = self._thread = None
