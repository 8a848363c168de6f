"""Model strings: the one parser from ``provider:model`` text to a typed spec.

Every place that accepts a model (Python arguments, ``--model ROLE=STR``, environment variables,
Studio's context) hands the string here, so the grammar lives in one function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from agentgraphs.errors import ModelSpecError

__all__ = ["PROVIDERS", "ModelSpec", "parse_model", "redact_url"]

Provider = Literal["local", "openai", "vllm", "hf"]
PROVIDERS: tuple[Provider, ...] = ("local", "openai", "vllm", "hf")

_EXAMPLES = (
    "local:qwen2.5-0.5b, local:smollm2-135m, local:/path/model.gguf, openai:gpt-4o-mini, "
    "vllm:Qwen/Qwen2.5-7B-Instruct@http://127.0.0.1:8000/v1, hf:smollm2-135m"
)


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """A parsed model string."""

    provider: Provider
    """Which backend serves the model."""
    name: str
    """The model's name for that backend: an embedded name, a path, or the server's model id."""
    base_url: str | None = None
    """The OpenAI-compatible endpoint, for ``vllm:`` (and ``openai:`` when OPENAI_BASE_URL is set)."""

    def __str__(self) -> str:
        """The canonical string, with any credentials in the URL removed (safe for traces)."""
        if self.base_url is not None and self.provider == "vllm":
            return f"{self.provider}:{self.name}@{redact_url(self.base_url)}"
        return f"{self.provider}:{self.name}"


def redact_url(url: str) -> str:
    """Drop ``user:password@`` from a URL so it can be logged."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def parse_model(text: str) -> ModelSpec:
    """Parse ``provider:model`` (``vllm:model@base_url``) into a :class:`ModelSpec`."""
    if not isinstance(text, str) or ":" not in text:
        raise ModelSpecError(f"model string {text!r} has no provider prefix; expected one of: {_EXAMPLES}")
    provider, _, rest = text.partition(":")
    provider = provider.strip().lower()
    rest = rest.strip()
    if provider not in PROVIDERS:
        raise ModelSpecError(
            f"unknown model provider {provider!r} in {text!r}; providers are {', '.join(PROVIDERS)} "
            f"(e.g. {_EXAMPLES})"
        )
    if not rest:
        raise ModelSpecError(f"model string {text!r} names no model after '{provider}:'; e.g. {_EXAMPLES}")
    if provider == "vllm":
        # The model id itself may contain '@' rarely; the URL is what follows the last '@http'.
        match = re.match(r"^(?P<name>.+)@(?P<url>https?://\S+)$", rest)
        if match is None:
            raise ModelSpecError(
                f"vllm model string {text!r} needs a server URL: vllm:<model>@http://host:port/v1"
            )
        return ModelSpec(provider="vllm", name=match["name"], base_url=match["url"].rstrip("/"))
    return ModelSpec(provider=provider, name=rest)  # type: ignore[arg-type]
