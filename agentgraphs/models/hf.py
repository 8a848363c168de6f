"""The ``hf:`` backend: transformers models in this process.

Trainer nodes need torch weights they can update, and a user may want an agent served by a
transformers model rather than llama.cpp. ``hf:<name>`` takes an embedded name (its GGUF is
dequantised to fp32 once and cached as safetensors under ``cache_root()/hf/<name>/``), a local
directory written by ``save_pretrained``, or a Hugging Face Hub id (only when online).

torch and transformers are imported inside the functions, so importing this module costs nothing
for users without the ``train`` extra.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ChatMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import AliasChoices, Field

from agentgraphs.errors import ModelSpecError
from agentgraphs.extras import require
from agentgraphs.models.embedded import EMBEDDED_MODELS, gguf_path
from agentgraphs.models.logprobs import TargetLogprob
from agentgraphs.paths import cache_root

if TYPE_CHECKING:
    from langchain_core.callbacks import CallbackManagerForLLMRun
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["HFChatModel", "converted_dir", "load_causal_lm", "model_source"]

_PURPOSE = "the hf: model backend"
_loaded: dict[tuple[str, str], tuple[PreTrainedModel, PreTrainedTokenizerBase]] = {}
_source_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


def converted_dir(name: str) -> Path:
    """Where the torch weights of embedded model ``name`` are cached (present once converted)."""
    return cache_root() / "hf" / name


def _offline() -> bool:
    # huggingface_hub reads HF_HUB_OFFLINE once at import; the environment is read again here so a
    # process that sets it later (tests, the CLI's --offline) is still honoured.
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return constants.HF_HUB_OFFLINE or any(f.strip().upper() in {"1", "ON", "YES", "TRUE"} for f in flags)


def _convert_embedded(name: str, target: Path) -> None:
    """Dequantise the GGUF of ``name`` to fp32 and save it at ``target``, atomically.

    The save goes to a temporary directory beside ``target`` that is renamed onto it, so a killed
    conversion leaves no half cache; a process that loses a race keeps the winner's copy.
    """
    torch = require("torch", extra="train", purpose=_PURPOSE)
    transformers = require("transformers", extra="train", purpose=_PURPOSE)
    gguf = gguf_path(name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    quantised = transformers.AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    # save_pretrained refuses a model whose config carries the GGUF quantization_config (measured
    # with transformers 5.25): rebuild a plain model from the config and copy the weights across.
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantised.state_dict(), strict=True)
    plain.generation_config = quantised.generation_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=target.parent))
    try:
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _source(name: str) -> tuple[str, bool]:
    """(what to hand to from_pretrained, whether it is on disk) for an ``hf:`` name."""
    if name in EMBEDDED_MODELS:
        return str(converted_dir(name)), True
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelSpecError(
                f"hf model directory {str(path)!r} holds no config.json; hf: needs a transformers model "
                f"directory (config.json + weights, as written by save_pretrained) or an embedded name "
                f"({', '.join(EMBEDDED_MODELS)})"
            )
        return str(path.resolve()), True
    if name.startswith(("/", ".", "~")) or name.endswith(".gguf"):
        raise ModelSpecError(
            f"hf model {name!r} looks like a path but is no directory; hf: takes a transformers model "
            f"directory, an embedded name ({', '.join(EMBEDDED_MODELS)}) or a Hub id "
            f"(for a .gguf file use local:{name})"
        )
    # A Hub id; offline it can still come from the local Hugging Face cache (local_files_only).
    return name, False


def model_source(name: str) -> str:
    """What ``from_pretrained`` takes for ``hf:<name>``: a local directory, or a Hub id as given.

    For a trainer that loads its own trainable copy (and lets TRL or vLLM open the same path) rather
    than sharing :func:`load_causal_lm`'s cached object. An embedded name is converted on first use,
    under the same per-source lock as :func:`load_causal_lm`, so the two never convert it twice;
    nothing is loaded into that cache.
    """
    source, _ = _source(name)
    if name in EMBEDDED_MODELS and not (Path(source) / "config.json").is_file():
        with _registry_lock:
            lock = _source_locks.setdefault(source, threading.Lock())
        with lock:
            if not (Path(source) / "config.json").is_file():
                _convert_embedded(name, Path(source))
    return source


def load_causal_lm(
    name: str, *, dtype: torch.dtype | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The causal LM and tokenizer for ``hf:<name>``, in eval mode, on the CPU; ``dtype`` None = fp32.

    Loading costs seconds, so one copy per (source, dtype) is kept per process and every caller gets
    that same object. A trainer that changes weights must take its own copy
    (``copy.deepcopy(model)``) or every agent reading the same name sees the update.
    The first load of an embedded name converts its GGUF (SmolLM2 ~20-30 s, Qwen 0.5B ~60 s);
    later loads read the cached safetensors in well under a second.
    """
    torch = require("torch", extra="train", purpose=_PURPOSE)
    transformers = require("transformers", extra="train", purpose=_PURPOSE)
    dtype = torch.float32 if dtype is None else dtype
    source, on_disk = _source(name)
    key = (source, str(dtype))
    with _registry_lock:
        if key in _loaded:
            return _loaded[key]
        lock = _source_locks.setdefault(source, threading.Lock())
    with lock:  # one loader per source, so two threads never convert or download the same model twice
        if key in _loaded:
            return _loaded[key]
        if name in EMBEDDED_MODELS and not (Path(source) / "config.json").is_file():
            _convert_embedded(name, Path(source))
        offline = _offline()
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=offline)
            model = transformers.AutoModelForCausalLM.from_pretrained(
                source, dtype=dtype, local_files_only=offline
            )
        except (OSError, ValueError) as exc:
            if on_disk:
                hint = f"; delete {source} to rebuild it" if name in EMBEDDED_MODELS else ""
                raise ModelSpecError(f"could not load hf model {name!r} from {source}: {exc}{hint}") from exc
            if offline:
                raise ModelSpecError(
                    f"hf model {name!r} is not an embedded model ({', '.join(EMBEDDED_MODELS)}), not a local "
                    f"directory, and not in the Hugging Face cache, and HF_HUB_OFFLINE=1 forbids downloading "
                    f"it. Use an embedded name (hf:smollm2-135m), a directory holding config.json and weights, "
                    f"or unset HF_HUB_OFFLINE to fetch it from the Hub."
                ) from exc
            raise ModelSpecError(
                f"could not load hf model {name!r} from the Hugging Face Hub: {exc}. Check the id "
                f"(hf:<org>/<model>), the network and HF_TOKEN for gated models, or use an embedded name "
                f"({', '.join(EMBEDDED_MODELS)}) or a local directory."
            ) from exc
        model.eval()
        with _registry_lock:
            _loaded[key] = (model, tokenizer)
        return _loaded[key]


def _chat_text(tokenizer: PreTrainedTokenizerBase, messages: Sequence[BaseMessage], name: str) -> str:
    """The chat template applied to LangChain messages, ending with the assistant's turn opened."""
    if not tokenizer.chat_template:
        raise ModelSpecError(f"hf model {name!r} has no chat template; use an instruct model for chat")
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    turns = []
    for message in messages:
        role = message.role if isinstance(message, ChatMessage) else roles.get(message.type)
        if role is None:
            raise ValueError(
                f"HFChatModel takes system, human and ai messages; got a {message.type!r} message: "
                f"{message.text[:80]!r}"
            )
        turns.append({"role": role, "content": message.text})
    return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)


def _cut_at_stop(text: str, stop: Sequence[str] | None) -> tuple[str, bool]:
    """``text`` up to the earliest stop sequence, and whether one was found."""
    hits = [i for i in (text.find(s) for s in stop or ()) if i >= 0]
    return (text[: min(hits)], True) if hits else (text, False)


def _held_back(text: str, stop: Sequence[str]) -> int:
    """How many trailing characters of ``text`` could still begin a stop sequence (so wait for more)."""
    return max((k for s in stop for k in range(1, len(s)) if text.endswith(s[:k])), default=0)


class HFChatModel(BaseChatModel):
    """A LangChain chat model over :func:`load_causal_lm`: ``hf:<name>`` for agents.

    With ``temperature`` 0 decoding is greedy, so the same messages give the same reply every time
    (tests and cached runs rely on it). Stop sequences end generation early and are cut from the text.
    """

    model_name: str
    """An embedded name, a local transformers directory or a Hub id."""
    max_new_tokens: int = Field(default=512, gt=0, validation_alias=AliasChoices("max_new_tokens", "max_tokens"))
    """The most tokens one reply may generate; reaching it gives ``finish_reason`` "length".

    ``max_tokens`` is accepted too, so the kwargs an agent passes to any backend mean the same here."""
    temperature: float = Field(default=0.0, ge=0.0)
    """Sampling temperature; 0 means greedy decoding."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    """Nucleus sampling mass, used only when ``temperature`` > 0."""

    @property
    def _llm_type(self) -> str:
        return "agentgraphs-hf"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }

    def _prepare(self, messages: list[BaseMessage]) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, Any]:
        model, tokenizer = load_causal_lm(self.model_name)
        text = _chat_text(tokenizer, messages, self.model_name)
        # The template already wrote every special token, so the tokenizer must not add a BOS again.
        inputs = tokenizer(text, add_special_tokens=False, return_tensors="pt").to(model.device)
        return model, tokenizer, inputs

    def _generation_kwargs(self, tokenizer: PreTrainedTokenizerBase, stop: list[str] | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "pad_token_id": tokenizer.eos_token_id if tokenizer.pad_token_id is None else tokenizer.pad_token_id,
        }
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
        else:
            # None overrides sampling defaults a model's generation_config may carry (Qwen's has them),
            # which would otherwise warn that they are ignored under greedy decoding.
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if stop:
            kwargs.update(stop_strings=list(stop), tokenizer=tokenizer)
        return kwargs

    def _metadata(self, n_in: int, n_out: int, stopped: bool) -> dict[str, Any]:
        finish = "length" if n_out >= self.max_new_tokens and not stopped else "stop"
        return {
            "usage_metadata": {"input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out},
            "response_metadata": {"model_name": self.model_name, "finish_reason": finish},
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        torch = require("torch", extra="train", purpose=_PURPOSE)
        model, tokenizer, inputs = self._prepare(messages)
        n_in = inputs["input_ids"].shape[1]
        with torch.inference_mode():
            output = model.generate(**inputs, **self._generation_kwargs(tokenizer, stop))
        new = output[0, n_in:]
        text, stopped = _cut_at_stop(tokenizer.decode(new, skip_special_tokens=True), stop)
        ended = len(new) > 0 and int(new[-1]) in _eos_ids(model, tokenizer)
        message = AIMessage(content=text, **self._metadata(n_in, len(new), stopped or ended))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        torch = require("torch", extra="train", purpose=_PURPOSE)
        transformers = require("transformers", extra="train", purpose=_PURPOSE)
        model, tokenizer, inputs = self._prepare(messages)
        n_in = inputs["input_ids"].shape[1]
        streamer = transformers.TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancel = threading.Event()

        class _Cancelled(transformers.StoppingCriteria):  # ends generate() when the reader stops early
            def __call__(self, input_ids: Any, scores: Any, **_: Any) -> Any:
                rows = input_ids.shape[0]
                return torch.full((rows,), cancel.is_set(), dtype=torch.bool, device=input_ids.device)

        result: dict[str, Any] = {}

        def work() -> None:
            try:
                with torch.inference_mode():
                    result["ids"] = model.generate(
                        **inputs,
                        **self._generation_kwargs(tokenizer, stop),
                        streamer=streamer,
                        stopping_criteria=transformers.StoppingCriteriaList([_Cancelled()]),
                    )
            except BaseException as exc:  # re-raised in the reader's thread below
                result["error"] = exc
                streamer.end()

        def chunk(text: str, **fields: Any) -> ChatGenerationChunk:
            piece = ChatGenerationChunk(message=AIMessageChunk(content=text, **fields))
            if run_manager is not None and text:
                run_manager.on_llm_new_token(text, chunk=piece)
            return piece

        thread = threading.Thread(target=work, name="hf-generate", daemon=True)
        thread.start()
        stopped, pending = False, ""
        try:
            for text in streamer:
                pending += text
                pending, stopped = _cut_at_stop(pending, stop)
                if stopped:
                    break
                keep = _held_back(pending, stop or ())
                if len(pending) > keep:
                    yield chunk(pending[: len(pending) - keep])
                    pending = pending[len(pending) - keep :]
            if pending:
                yield chunk(pending)
        finally:
            cancel.set()
            thread.join()
        if "error" in result:
            raise result["error"]
        new = result["ids"][0, n_in:]
        ended = len(new) > 0 and int(new[-1]) in _eos_ids(model, tokenizer)
        yield chunk("", **self._metadata(n_in, len(new), stopped or ended))

    def target_logprob(self, prompt: str | list[BaseMessage], target: str) -> TargetLogprob:
        """log p(``target`` | ``prompt``) from one forward pass over the prompt's and target's tokens.

        A message list is rendered with the chat template, assistant turn opened; a plain string is
        tokenised as the tokenizer does by default (a BOS where the model uses one). The target's
        tokens are those of ``prompt + target`` beyond the prompt's own tokens, so they are the tokens
        the model would really produce. Where the tokenizer merges across the boundary (the prompt's
        tokens are then no prefix of the whole), the target is tokenised alone and its ids appended to
        the prompt's: a tokenisation the model would rarely emit, but the only one that keeps the
        prompt exactly as given.
        """
        torch = require("torch", extra="train", purpose=_PURPOSE)
        if not target:
            raise ValueError("target_logprob needs a non-empty target")
        model, tokenizer = load_causal_lm(self.model_name)
        if isinstance(prompt, str):
            text, special = prompt, True
        else:
            text, special = _chat_text(tokenizer, prompt, self.model_name), False
        prompt_ids = tokenizer(text, add_special_tokens=special)["input_ids"]
        full_ids = tokenizer(text + target, add_special_tokens=special)["input_ids"]
        if not prompt_ids:
            raise ValueError(f"the prompt gives no tokens for {self.model_name!r}; give at least one word")
        if full_ids[: len(prompt_ids)] != prompt_ids or len(full_ids) == len(prompt_ids):
            full_ids = prompt_ids + tokenizer(target, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([full_ids], device=model.device)
        with torch.inference_mode():
            logits = model(ids).logits[0].float()
        # The logits at position i predict token i + 1.
        logprobs = torch.log_softmax(logits[len(prompt_ids) - 1 : -1], dim=-1)
        target_ids = full_ids[len(prompt_ids) :]
        rows = torch.arange(len(target_ids), device=model.device)
        picked = logprobs[rows, torch.tensor(target_ids, device=model.device)]
        return TargetLogprob(
            target=target,
            tokens=tuple(tokenizer.decode([i]) for i in target_ids),
            logprobs=tuple(float(x) for x in picked),
        )


def _eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> set[int]:
    """Every token id that ends a reply, from the generation config and the tokenizer."""
    configured = model.generation_config.eos_token_id
    ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids
