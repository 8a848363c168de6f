"""Token log-probabilities of a given continuation, whatever the backend.

CognitivEval scores a model by the probability it gives a target answer, and MPO's diagnostics
read the judge's confidence; both need ``log p(target | prompt)`` rather than a sampled text.
Each backend computes it its own way (llama.cpp: a grammar that forces the target's tokens;
transformers: one forward pass; OpenAI-compatible servers: ``echo`` with ``logprobs``) and returns
this one value type.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from langchain_core.messages import BaseMessage

from agentgraphs.errors import ModelError

if TYPE_CHECKING:
    from agentgraphs.models.gateway import GatewayChatModel

__all__ = ["TargetLogprob", "target_logprob"]


@dataclass(frozen=True, kw_only=True)
class TargetLogprob:
    """The log-probability of ``target`` after a prompt, token by token."""

    target: str
    """The continuation that was scored."""
    tokens: tuple[str, ...]
    """The target's tokens, in the scoring model's own tokenisation."""
    logprobs: tuple[float, ...]
    """Natural-log probability of each token given everything before it."""

    @property
    def total(self) -> float:
        """log p(target | prompt): the sum over the target's tokens."""
        return float(sum(self.logprobs))

    @property
    def probability(self) -> float:
        """p(target | prompt)."""
        return math.exp(self.total)


def _root(base_url: str) -> str:
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


def _llamacpp(base_url: str, prompt: str | Sequence[BaseMessage], target: str, timeout_s: float) -> TargetLogprob:
    """Force the target's own tokens with a token-id grammar and read each one's raw logprob.

    llama.cpp reports pre-sampling probabilities, so forcing changes what is generated but not the
    numbers reported; forcing token ids (not text) keeps the target's canonical tokenisation.
    """
    root = _root(base_url)
    with httpx.Client(timeout=timeout_s) as client:
        if not isinstance(prompt, str):
            roles = {"human": "user", "ai": "assistant", "system": "system"}
            messages = [{"role": roles.get(m.type, m.type), "content": m.content} for m in prompt]
            prompt = client.post(f"{root}/apply-template", json={"messages": messages}).raise_for_status().json()["prompt"]
        ids = [t if isinstance(t, int) else t["id"] for t in client.post(
            f"{root}/tokenize", json={"content": target, "add_special": False}).raise_for_status().json()["tokens"]]
        if not ids:
            raise ModelError(f"target {target!r} has no tokens; score a non-empty continuation")
        grammar = "root ::= " + " ".join(f"<[{i}]>" for i in ids)
        body = client.post(f"{base_url}/completions", json={
            "prompt": prompt, "max_tokens": len(ids), "logprobs": 1, "grammar": grammar, "temperature": 0,
        }).raise_for_status().json()
    content = body["choices"][0]["logprobs"]["content"][: len(ids)]
    return TargetLogprob(target=target, tokens=tuple(t["token"] for t in content),
                         logprobs=tuple(float(t["logprob"]) for t in content))


def _echo(base_url: str, model_name: str, prompt: str | Sequence[BaseMessage], target: str, timeout_s: float,
          api_key: str) -> TargetLogprob:
    """OpenAI-compatible servers that score a prompt (vLLM, SGLang): ``echo`` with ``logprobs``."""
    if not isinstance(prompt, str):
        raise ModelError("target log-probabilities over chat messages need a local: or hf: model; pass the prompt as text")
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(timeout=timeout_s, headers=headers) as client:
        body = client.post(f"{base_url}/completions", json={
            "model": model_name, "prompt": prompt + target, "max_tokens": 1, "echo": True, "logprobs": 1,
        }).raise_for_status().json()
    scored = body["choices"][0].get("logprobs") or {}
    offsets, tokens, values = scored.get("text_offset"), scored.get("tokens"), scored.get("token_logprobs")
    if not (offsets and tokens and values):
        raise ModelError(f"the server at {base_url} returned no prompt logprobs; it must support echo with logprobs (vLLM does)")
    picked = [(tok, lp) for off, tok, lp in zip(offsets, tokens, values) if len(prompt) <= off < len(prompt) + len(target)]
    return TargetLogprob(target=target, tokens=tuple(t for t, _ in picked), logprobs=tuple(float(v) for _, v in picked))


def _api_key(model: GatewayChatModel, provider: str) -> str:
    """The key the model's chat calls use (openai: models send OPENAI_API_KEY, not VLLM_API_KEY)."""
    secret = getattr(model.inner, "openai_api_key", None)
    if hasattr(secret, "get_secret_value"):
        return secret.get_secret_value()
    if provider == "openai":
        return os.environ.get("OPENAI_API_KEY", "")
    return os.environ.get("VLLM_API_KEY", "EMPTY")


def target_logprob(model: GatewayChatModel, prompt: str | Sequence[BaseMessage], target: str) -> TargetLogprob:
    """log p(``target`` | ``prompt``) under ``model`` (a :func:`get_model` result).

    ``prompt`` is raw text, or chat messages (formatted with the model's chat template, generation
    prompt added, so the target is scored as the start of the assistant's reply).
    """
    provider = model.model.split(":", 1)[0]
    if provider == "hf":
        return model.inner.target_logprob(prompt, target)  # type: ignore[attr-defined]
    if model.base_url is None:
        raise ModelError(f"model {model.model} has no endpoint to score a target with")
    try:
        if provider == "local":
            return _llamacpp(model.base_url, prompt, target, model.policy.timeout_s)
        return _echo(model.base_url, model.model.split(":", 1)[1].rsplit("@", 1)[0], prompt, target,
                     model.policy.timeout_s, _api_key(model, provider))
    except httpx.HTTPError as exc:
        raise ModelError(f"scoring a target with {model.model} failed: {exc}") from exc
