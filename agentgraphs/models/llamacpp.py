"""The embedded model server: llama.cpp (``xllamacpp``) running inside this process.

xllamacpp's ``Server`` loads a GGUF and answers OpenAI-shaped requests on a loopback port, with
JSON-schema-constrained decoding, grammars and token logprobs. Treating it as one more
OpenAI-compatible server means the ``local:``, ``vllm:`` and ``openai:`` backends share one client
path; one server per model file is kept for the life of the process, and ``serve`` exposes the
same thing on a fixed port for other processes (the Studio server, a trainer's reward function).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgraphs.errors import ModelSpecError
from agentgraphs.extras import require

__all__ = ["LlamaServer", "llama_server", "resolve_gguf"]

_DEFAULT_CTX = 16384
# Slots share the context (kv_unified), so it bounds the tokens of all concurrent requests together:
# at 8,192 two concurrent 4,300-token prompts failed. 16,384 costs ~0.2 GB of KV cache for Qwen2.5-0.5B.
_DEFAULT_SLOTS = 4


@dataclass(frozen=True, kw_only=True)
class LlamaServer:
    """A running in-process llama.cpp server."""

    model: str
    """The ``local:`` name it serves."""
    path: Path
    """The GGUF file."""
    base_url: str
    """The OpenAI-compatible endpoint, ``http://127.0.0.1:PORT/v1``."""
    handle: Any
    """The ``xllamacpp.Server``; the server stops when this is garbage-collected."""


_servers: dict[tuple[str, int], LlamaServer] = {}
_lock = threading.Lock()


def resolve_gguf(name: str) -> Path:
    """The GGUF for ``local:<name>``: an embedded name, a path to a ``.gguf`` file, or a hub file.

    Hub files (``local:<repo_id>/<file>.gguf``) are fetched only for users who are online; the
    embedded models never need the network.
    """
    from agentgraphs.models.embedded import EMBEDDED_MODELS, gguf_path

    if name in EMBEDDED_MODELS:
        return gguf_path(name)
    candidate = Path(name).expanduser()
    if candidate.is_file():
        return candidate
    if name.endswith(".gguf") and name.count("/") >= 2 and not candidate.is_absolute():
        repo_id, _, filename = name.rpartition("/")
        hub = require("huggingface_hub", extra="train", purpose="fetching a GGUF from the model hub")
        try:
            return Path(hub.hf_hub_download(repo_id=repo_id, filename=filename))
        except Exception as exc:  # offline, unknown repo, no such file: all end the same way
            raise ModelSpecError(
                f"could not fetch {filename!r} from hub repo {repo_id!r} ({type(exc).__name__}: {exc}); "
                f"download it yourself and use local:/path/to/{filename}, or use an embedded model "
                f"({', '.join(EMBEDDED_MODELS)})"
            ) from exc
    raise ModelSpecError(
        f"local model {name!r} is neither an embedded model ({', '.join(EMBEDDED_MODELS)}) nor an "
        f"existing .gguf file; check the path or pick an embedded model"
    )


def _threads() -> int:
    explicit = os.environ.get("AGENTGRAPHS_LLAMA_THREADS")
    return int(explicit) if explicit else max(1, os.cpu_count() or 1)


def _start(name: str, *, port: int, host: str = "127.0.0.1") -> LlamaServer:
    xllamacpp = require("xllamacpp", extra="local", purpose="the embedded local model")
    path = resolve_gguf(name)
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = int(os.environ.get("AGENTGRAPHS_LLAMA_CTX", _DEFAULT_CTX))
    params.n_parallel = int(os.environ.get("AGENTGRAPHS_LLAMA_SLOTS", _DEFAULT_SLOTS))
    params.kv_unified = True  # slots share the whole context instead of n_ctx / n_parallel each
    params.cpuparams.n_threads = _threads()
    params.cpuparams_batch.n_threads = _threads()
    params.verbosity = -1  # llama.cpp otherwise writes every request's timings to stderr
    params.port = port
    params.hostnames = [host]
    try:
        handle = xllamacpp.Server(params)
    except Exception as exc:
        raise ModelSpecError(f"llama.cpp could not load {path} for local:{name}: {exc}") from exc
    return LlamaServer(model=name, path=path, base_url=handle.listening_address.rstrip("/") + "/v1", handle=handle)


def llama_server(name: str, *, port: int = 0, host: str = "127.0.0.1") -> LlamaServer:
    """The process's server for ``local:<name>``, started on first use (port 0: any free port)."""
    with _lock:
        key = (name, port)
        server = _servers.get(key)
        if server is None:
            server = _servers[key] = _start(name, port=port, host=host)
        return server
