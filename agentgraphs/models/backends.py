"""Model string → backend chat model, wrapped in the gateway; and role → model string.

This is the only place that knows how each provider is built. Backends get their own retries
turned off: the gateway's :class:`CallPolicy` is the single retry policy in force.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel

from agentgraphs.errors import ModelSpecError
from agentgraphs.models.embedded import DEFAULT_EMBEDDED
from agentgraphs.models.gateway import CallPolicy, GatewayChatModel
from agentgraphs.models.spec import ModelSpec, parse_model
from agentgraphs.models.trace import remember_secret

__all__ = ["DEFAULT_MODEL", "default_policy", "get_model", "resolve_model_string"]

DEFAULT_MODEL = f"local:{DEFAULT_EMBEDDED}"
"""The model every role gets when nothing else is configured: a real model, no network."""


def resolve_model_string(role: str = "default", models: Mapping[str, str] | None = None) -> str:
    """The model string for ``role``.

    Most specific first: ``models[role]`` (Python or ``--model ROLE=...``), then
    ``AGENTGRAPHS_MODEL_<ROLE>``, then ``models["default"]``, then ``AGENTGRAPHS_MODEL``, then the
    embedded default.
    """
    models = models or {}
    env_role = f"AGENTGRAPHS_MODEL_{role.upper().replace('-', '_')}"
    for candidate in (models.get(role), os.environ.get(env_role), models.get("default"), os.environ.get("AGENTGRAPHS_MODEL")):
        if candidate:
            return candidate
    return DEFAULT_MODEL


def default_policy(spec: ModelSpec) -> CallPolicy:
    """Limits that suit each kind of backend: local ones are bounded by their slots and cores."""
    if spec.provider == "local":
        return CallPolicy(max_concurrency=int(os.environ.get("AGENTGRAPHS_LLAMA_SLOTS", 4)), timeout_s=600.0)
    if spec.provider == "hf":
        return CallPolicy(max_concurrency=1, timeout_s=600.0, max_attempts=1)
    return CallPolicy(max_concurrency=32, timeout_s=120.0)


_inner_cache: dict[tuple[str, str, float], tuple[BaseChatModel, str | None]] = {}
_inner_lock = threading.Lock()


def _openai_compatible(*, model: str, base_url: str | None, api_key: str, timeout_s: float, **kwargs: Any) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    remember_secret(api_key)
    return ChatOpenAI(
        model=model, base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout_s,
        stream_usage=True, **kwargs,
    )


def _build_inner(spec: ModelSpec, policy: CallPolicy, kwargs: dict[str, Any]) -> tuple[BaseChatModel, str | None]:
    if spec.provider == "local":
        from agentgraphs.models.llamacpp import llama_server

        server = llama_server(spec.name)
        # llama.cpp's own default is "until the context is full": minutes of rambling on 2 cores.
        kwargs.setdefault("max_tokens", 1024)
        # The key is a placeholder: the in-process server checks none.
        return _openai_compatible(model=spec.name, base_url=server.base_url, api_key="no-key-local",
                                  timeout_s=policy.timeout_s, **kwargs), server.base_url
    if spec.provider == "openai":
        key = os.environ.get("OPENAI_API_KEY")
        if not key:
            raise ModelSpecError(f"model {spec} needs OPENAI_API_KEY in the environment (and OPENAI_BASE_URL for other endpoints)")
        base_url = os.environ.get("OPENAI_BASE_URL")
        return _openai_compatible(model=spec.name, base_url=base_url, api_key=key, timeout_s=policy.timeout_s, **kwargs), base_url
    if spec.provider == "vllm":
        key = os.environ.get("VLLM_API_KEY", "EMPTY")
        return _openai_compatible(model=spec.name, base_url=spec.base_url, api_key=key, timeout_s=policy.timeout_s, **kwargs), spec.base_url
    from agentgraphs.models.hf import HFChatModel

    return HFChatModel(model_name=spec.name, **kwargs), None


def get_model(model: str | None = None, *, role: str = "default", models: Mapping[str, str] | None = None,
              trace_path: str | os.PathLike[str] | None = None, cache_path: str | os.PathLike[str] | None = None,
              policy: CallPolicy | None = None, **model_kwargs: Any) -> GatewayChatModel:
    """A chat model for ``model`` (or for ``role``, resolved as :func:`resolve_model_string` says).

    ``model_kwargs`` go to the backend (``temperature``, ``max_tokens``, ...). Backends are built
    once per process and configuration; the gateway around them is cheap.
    """
    text = model or resolve_model_string(role, models)
    spec = parse_model(text)
    policy = policy or default_policy(spec)
    if cache_path is None and os.environ.get("AGENTGRAPHS_CACHE"):
        cache_path = os.environ["AGENTGRAPHS_CACHE"]
    # JSON, not a tuple of items: values such as extra_body={...} or stop=[...] are unhashable.
    key = (text, json.dumps(model_kwargs, sort_keys=True, default=repr), policy.timeout_s)
    with _inner_lock:
        built = _inner_cache.get(key)
    if built is None:
        built = _build_inner(spec, policy, dict(model_kwargs))
        with _inner_lock:
            built = _inner_cache.setdefault(key, built)
    inner, base_url = built
    return GatewayChatModel(
        inner=inner, model=str(spec), role=role, policy=policy,
        trace_path=None if trace_path is None else str(trace_path),
        cache_path=None if cache_path is None else str(cache_path),
        supports_json_schema=spec.provider in ("local", "vllm", "openai"),
        base_url=base_url,
    )
