"""GRPO policy updates, k steps per graph visit, that survive a killed process.

MPO's training node calls :func:`train_segment` once per visit: it trains the next ``steps``
optimizer steps of one fixed budget (``GRPOSettings.total_steps``) with TRL's ``GRPOTrainer``, writes a
checkpoint, and returns plain records (metrics per step, scored samples) small enough for graph state.
Everything that must outlive the process — weights, optimizer, LR scheduler, RNG state, the step count —
lives in ``checkpoint-<step>`` directories under ``output_dir``, so a run killed anywhere resumes from
the last complete checkpoint by calling :func:`train_segment` again with the same arguments.

Why it is built this way (measured on trl 1.16 / transformers 5.25, see TOOLCHAIN "RL on CPU"):

- ``max_steps`` is the whole budget in every segment and a callback stops each segment; raising
  ``max_steps`` per segment restarts a linear LR schedule.
- transformers writes a checkpoint in place (no staging directory), ``trainer_state.json`` last and
  without a rename, so a process killed mid-save leaves a directory that looks almost whole. A
  checkpoint counts only once this module has written its marker file (atomically) after the save;
  unmarked ``checkpoint-*`` directories are debris and are deleted before the next segment.
- A fresh trainer per call reads reward functions anew, so a reward that reads a mutable rubric sees
  the new rubric from the next segment on.
- The prompt order is fixed by the seed for the whole budget (not by the trainer's shuffling), so
  the prompts of step s are the same whether or not the run was killed before step s.

Timing per step: ``time_generate`` is the wall time of the trainer's rollout sampling
(``GRPOTrainer._generate``: tokenising, ``generate``/vLLM, decoding), ``time_score`` the wall time
spent inside the reward functions, and ``time_update`` the rest of the step from the trainer's
``on_step_begin`` to its ``on_step_end`` (log-prob forward passes, loss, backward, optimizer step).
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import math
import random
import re
import shutil
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from agentgraphs.atomic import write_json
from agentgraphs.errors import ModelSpecError
from agentgraphs.extras import require

if TYPE_CHECKING:
    from transformers import TrainerCallback

__all__ = [
    "GRPOSettings",
    "RewardSpec",
    "Sample",
    "Segment",
    "StepRecord",
    "latest_checkpoint",
    "train_segment",
]

_PURPOSE = "GRPO training (agentgraphs.trainers.grpo)"
_PREFIX = "checkpoint-"
_COMPLETE = "agentgraphs-complete.json"
"""Written atomically into a checkpoint directory once transformers has finished saving it."""
_CHECKPOINT = re.compile(rf"^{_PREFIX}(\d+)$")


class GRPOSettings(BaseModel):
    """How a GRPO run trains: plain data, so it can sit in graph state and be compared across visits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    total_steps: int = Field(gt=0)
    """The whole budget of optimizer steps. Every segment's trainer gets ``max_steps`` = this, so the LR
    schedule spans the whole run instead of restarting per segment."""
    num_generations: int = Field(default=4, ge=2)
    """Completions sampled per prompt: the GRPO group whose rewards are normalised together."""
    prompts_per_step: int = Field(default=2, ge=1)
    """Distinct prompts per optimizer step; the batch is ``prompts_per_step * num_generations``."""
    max_completion_length: int = Field(default=64, gt=0)
    """The most tokens one completion may have."""
    learning_rate: float = Field(default=1e-5, gt=0)
    """Peak learning rate of AdamW."""
    lr_scheduler: str = "constant"
    """A transformers scheduler name (``constant``, ``linear``, ``cosine``, …) over ``total_steps``."""
    beta: float = Field(default=0.0, ge=0)
    """KL coefficient; 0 loads no reference model, which halves memory and saves a forward pass."""
    temperature: float = Field(default=1.0, gt=0)
    """Sampling temperature of the rollouts."""
    seed: int = 0
    """Seeds the prompt order, sampling and any LoRA initialisation."""
    lora: bool = False
    """Train a LoRA adapter (r=16 on every linear layer) instead of all weights; needs ``peft``.
    Checkpoints then hold the adapter only."""
    keep_checkpoints: int = Field(default=2, ge=1)
    """How many complete checkpoints to keep; older ones are deleted after each segment."""


@dataclass(frozen=True)
class RewardSpec:
    """One reward function and its weight in the summed reward GRPO normalises per group."""

    name: str
    """Unique among a run's rewards; the key of per-reward values in records and samples."""
    fn: Callable[[list[str], list[str], int], Sequence[float]]
    """``(prompts, completions, step) -> one float per completion``: prompts as given to
    :func:`train_segment` (without the system prompt), completions as plain text, ``step`` the 1-based
    global step being trained. Called once per step; an exception stops the segment."""
    weight: float = 1.0
    """Multiplies this reward in the sum."""


class StepRecord(BaseModel):
    """What one optimizer step did."""

    step: int
    """Global step, 1-based."""
    reward_mean: float
    """Mean over the step's completions of the weighted reward sum."""
    reward_std: float
    """Standard deviation of the weighted reward sum over all the step's completions."""
    rewards: dict[str, float]
    """Mean of each reward, by :attr:`RewardSpec.name`, unweighted."""
    completion_tokens_mean: float
    """Mean completion length in tokens."""
    loss: float
    """The GRPO loss of the step."""
    learning_rate: float
    """The learning rate the step's update used."""
    time_generate: float
    """Seconds sampling rollouts."""
    time_score: float
    """Seconds inside the reward functions."""
    time_update: float
    """Seconds for the rest of the step: log-probs, loss, backward, optimizer."""


class Sample(BaseModel):
    """One scored completion, for the meta-reward model to read."""

    step: int
    prompt: str
    completion: str
    reward: float
    """The weighted reward sum."""
    rewards: dict[str, float]
    """Each reward's own value, by name."""


class Segment(BaseModel):
    """What one :func:`train_segment` call trained; empty when the budget was already spent."""

    start_step: int
    """Global step before this call (0 on the first)."""
    end_step: int
    """Global step after it, the step of :attr:`checkpoint`."""
    checkpoint: str
    """The checkpoint directory written at ``end_step`` (a transformers checkpoint; with LoRA, an adapter)."""
    steps: list[StepRecord]
    samples: list[Sample]


def _checkpoints(output_dir: Path) -> list[tuple[int, Path, bool]]:
    """(step, dir, complete) of every ``checkpoint-<n>`` directory, by step."""
    if not output_dir.is_dir():
        return []
    found = []
    for entry in output_dir.iterdir():
        match = _CHECKPOINT.match(entry.name)
        if match and entry.is_dir():
            found.append((int(match.group(1)), entry, (entry / _COMPLETE).is_file()))
    return sorted(found)


def latest_checkpoint(output_dir: Path) -> tuple[int, Path] | None:
    """(global step, directory) of the newest complete checkpoint under ``output_dir``, or None.

    A directory counts only when it carries this module's completion marker, which is written after
    transformers has saved weights, optimizer, scheduler, RNG and trainer state; a save cut short by a
    kill is ignored.
    """
    complete = [(step, path) for step, path, done in _checkpoints(output_dir) if done]
    return complete[-1] if complete else None


def _remove(path: Path) -> None:
    # The marker goes first, so a kill during rmtree leaves an incomplete (ignored) directory.
    (path / _COMPLETE).unlink(missing_ok=True)
    shutil.rmtree(path, ignore_errors=True)


def _prompt_order(prompts: Sequence[str], seed: int, count: int) -> list[str]:
    """``count`` prompts: shuffled copies of ``prompts`` one after another, fixed by ``seed``."""
    rng = random.Random(seed)
    order: list[str] = []
    while len(order) < count:
        batch = list(prompts)
        rng.shuffle(batch)
        order.extend(batch)
    return order[:count]


def _text(completion: Any) -> str:
    """A TRL completion (conversational messages or a string) as plain text."""
    if isinstance(completion, str):
        return completion
    content = completion[-1]["content"] if completion else ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


class _Scorer:
    """Wraps each :class:`RewardSpec` into a TRL reward function that times it and keeps what it scored."""

    def __init__(self, specs: Sequence[RewardSpec]) -> None:
        self.specs = list(specs)
        self.seconds: defaultdict[int, float] = defaultdict(float)
        self.seen: dict[int, tuple[list[str], list[str], dict[str, list[float]]]] = {}

    def functions(self) -> list[Callable[..., list[float]]]:
        return [self._function(spec) for spec in self.specs]

    def _function(self, spec: RewardSpec) -> Callable[..., list[float]]:
        def reward(completions: list[Any], prompt_text: list[str], trainer_state: Any, **_: Any) -> list[float]:
            step = trainer_state.global_step + 1
            texts = [_text(c) for c in completions]
            started = time.perf_counter()
            values = [float(v) for v in spec.fn(list(prompt_text), texts, step)]
            self.seconds[step] += time.perf_counter() - started
            if len(values) != len(texts):
                raise ValueError(
                    f"reward {spec.name!r} returned {len(values)} values for {len(texts)} completions; "
                    f"it must return one float per completion"
                )
            self.seen.setdefault(step, (list(prompt_text), texts, {}))[2][spec.name] = values
            return values

        reward.__name__ = spec.name  # TRL logs each reward under its function's name
        return reward

    def totals(self, step: int) -> list[float]:
        _, _, scores = self.seen[step]
        return [
            sum(spec.weight * scores[spec.name][i] for spec in self.specs)
            for i in range(len(scores[self.specs[0].name]))
        ]

    def samples(self, step: int) -> list[Sample]:
        prompts, texts, scores = self.seen[step]
        return [
            Sample(
                step=step,
                prompt=prompt,
                completion=text,
                reward=total,
                rewards={name: values[i] for name, values in scores.items()},
            )
            for i, (prompt, text, total) in enumerate(zip(prompts, texts, self.totals(step), strict=True))
        ]


class _Clock:
    """Seconds of rollout sampling per step, from a wrapper around the trainer's ``_generate``."""

    def __init__(self) -> None:
        self.step = 0
        self.generate: defaultdict[int, float] = defaultdict(float)

    def timed(self, generate: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
        def timed_generate(batch: list[Any]) -> Any:
            started = time.perf_counter()
            try:
                return generate(batch)
            finally:
                self.generate[self.step] += time.perf_counter() - started

        return timed_generate


def _segment_callback(
    base: type[TrainerCallback],
    end: int,
    scorer: _Scorer,
    clock: _Clock,
    records: list[StepRecord],
) -> TrainerCallback:
    """A callback that stops and saves at ``end``, marks the save complete and turns logs into records."""

    class SegmentCallback(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            self.began = 0.0
            self.seconds = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            self.began = time.perf_counter()
            clock.step = state.global_step + 1

        def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            self.seconds = time.perf_counter() - self.began
            if state.global_step >= end:
                control.should_training_stop = True
                control.should_save = True

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any) -> None:
            if not logs or "loss" not in logs:  # the end-of-training summary has train_loss instead
                return
            step = state.global_step
            totals = scorer.totals(step)
            mean = sum(totals) / len(totals)
            _, _, scores = scorer.seen[step]
            generate, score = clock.generate.get(step, 0.0), scorer.seconds.get(step, 0.0)
            records.append(
                StepRecord(
                    step=step,
                    reward_mean=mean,
                    reward_std=math.sqrt(sum((t - mean) ** 2 for t in totals) / len(totals)),
                    rewards={name: sum(v) / len(v) for name, v in scores.items()},
                    completion_tokens_mean=float(logs.get("completions/mean_length", math.nan)),
                    loss=float(logs["loss"]),
                    learning_rate=float(logs["learning_rate"]),
                    time_generate=generate,
                    time_score=score,
                    time_update=max(self.seconds - generate - score, 0.0),
                )
            )

        def on_save(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            directory = Path(args.output_dir) / f"{_PREFIX}{state.global_step}"
            write_json(directory / _COMPLETE, {"step": state.global_step})

    return SegmentCallback()


class _TiedKeysFilter(logging.Filter):
    """Drops transformers' "missing keys" warning when the only missing keys are tied to saved ones.

    A checkpoint of a model with tied embeddings (Qwen2.5-0.5B, SmolLM2) stores ``lm_head.weight`` once,
    as the embeddings; loading it fills both, yet the trainer warns on every resume.
    """

    def __init__(self, tied: set[str]) -> None:
        super().__init__()
        self.tied = tied

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith("There were missing keys in the checkpoint model loaded"):
            return True
        missing = set(re.findall(r"'([^']+)'", message))
        return not missing or not missing <= self.tied


@contextlib.contextmanager
def _quiet(transformers: Any) -> Iterator[set[str]]:
    """No progress bars, and none of the warnings that say nothing about this run.

    Yields the set of tied weight names that the missing-keys warning may omit; fill it once the
    model is loaded.
    """
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()
    trainer_log = logging.getLogger("transformers.trainer")
    tied = _TiedKeysFilter(set())
    trainer_log.addFilter(tied)
    try:
        with warnings.catch_warnings():
            # TRL 1.16 still calls the renamed is_gradient_checkpointing; nothing a caller can change.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            yield tied.tied
    finally:
        trainer_log.removeFilter(tied)
        if bars:
            transformers.utils.logging.enable_progress_bar()


def _check_arguments(policy: str, prompts: list[str], rewards: Sequence[RewardSpec], steps: int) -> str:
    """The model name after ``hf:``, once the arguments are known to make sense."""
    if not policy.startswith("hf:") or not policy[3:].strip():
        raise ModelSpecError(
            f"GRPO updates torch weights in this process, so the policy must be an hf: model string "
            f"(hf:smollm2-135m, hf:qwen2.5-0.5b, hf:/path/to/transformers/dir or hf:<org>/<model>); got "
            f"{policy!r}. For an embedded model write hf:<name> instead of local:<name>."
        )
    if not prompts:
        raise ValueError("train_segment needs at least one prompt")
    if not rewards:
        raise ValueError("train_segment needs at least one RewardSpec")
    names = [spec.name for spec in rewards]
    if len(set(names)) != len(names):
        raise ValueError(f"reward names must be unique; got {names}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1; got {steps}")
    return policy[3:].strip()


def _load_policy(name: str, dtype: Any) -> tuple[Any, Any]:
    """A trainable copy of the policy and its tokenizer (padding on the left, as TRL wants for generation)."""
    from agentgraphs.models.hf import model_source

    transformers = require("transformers", extra="train", purpose=_PURPOSE)
    source = model_source(name)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, padding_side="left", truncation_side="left")
        model = transformers.AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise ModelSpecError(f"could not load the GRPO policy hf:{name} from {source}: {exc}") from exc
    if not tokenizer.chat_template:
        raise ModelSpecError(
            f"the GRPO policy hf:{name} has no chat template, and prompts are given to it as chat turns; "
            f"use an instruct model or save a tokenizer with a chat_template into {source}"
        )
    return model, tokenizer


def _config(trl: Any, settings: GRPOSettings, output_dir: Path, cuda: bool, weights: list[float]) -> Any:
    """The ``GRPOConfig`` of every segment: one step per generation, whole-budget ``max_steps``, quiet."""
    return trl.GRPOConfig(
        output_dir=str(output_dir),
        max_steps=settings.total_steps,
        per_device_train_batch_size=settings.prompts_per_step * settings.num_generations,
        gradient_accumulation_steps=1,
        steps_per_generation=1,
        num_iterations=1,
        num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=0,
        beta=settings.beta,
        temperature=settings.temperature,
        seed=settings.seed,
        data_seed=settings.seed,
        shuffle_dataset=False,  # _prompt_order already shuffled, the same way in every segment
        # Only the segment callback saves; transformers' own rotation would count half-written checkpoints.
        save_strategy="no",
        save_total_limit=None,
        logging_steps=1,
        report_to="none",
        disable_tqdm=True,
        log_completions=False,
        # TRL turns it on by default; it trades a second forward pass for memory these models don't need.
        activation_checkpointing=False,
        bf16=cuda,
        use_cpu=not cuda,
        use_vllm=cuda and importlib.util.find_spec("vllm") is not None,
        vllm_mode="colocate",
        reward_weights=weights,
    )


def train_segment(
    policy: str,
    prompts: list[str],
    rewards: Sequence[RewardSpec],
    settings: GRPOSettings,
    output_dir: Path,
    steps: int,
    *,
    system_prompt: str | None = None,
) -> Segment:
    """Train the next ``min(steps, total_steps - done)`` GRPO steps and checkpoint them under ``output_dir``.

    Starts from the latest complete checkpoint in ``output_dir`` (from ``policy`` when there is none),
    so calling it again after a kill, with the same arguments, resumes where the last complete
    checkpoint left off; with the budget spent it returns an empty segment naming that checkpoint.
    Prompts become chat turns (with ``system_prompt`` first when given) and are cycled in an order fixed
    by ``settings.seed``. On a CUDA GPU it trains in bf16 and samples through vLLM (colocated) where
    vLLM is installed; on CPU the same code trains in fp32.

    An exception from a reward function propagates; the segment then leaves no checkpoint, and the
    previous one stays the latest. One process at a time may train into an ``output_dir``.
    """
    name = _check_arguments(policy, prompts, rewards, steps)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for _, path, complete in _checkpoints(output_dir):
        if not complete:  # a save cut short by a kill: never resume from it, and let the step be saved anew
            _remove(path)
    latest = latest_checkpoint(output_dir)
    start = latest[0] if latest else 0
    count = min(steps, settings.total_steps - start)
    if count <= 0:
        assert latest is not None  # total_steps > 0, so a spent budget means a checkpoint exists
        return Segment(start_step=start, end_step=start, checkpoint=str(latest[1]), steps=[], samples=[])
    end = start + count

    torch = require("torch", extra="train", purpose=_PURPOSE)
    transformers = require("transformers", extra="train", purpose=_PURPOSE)
    datasets = require("datasets", extra="train", purpose=_PURPOSE)
    trl = require("trl", extra="train", purpose=_PURPOSE)
    peft_config = None
    if settings.lora:
        peft = require("peft", extra="train", purpose=f"{_PURPOSE} with lora=True")
        peft_config = peft.LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
    cuda = bool(torch.cuda.is_available())
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    rows = [
        {"prompt": [*system, {"role": "user", "content": text}], "prompt_text": text}
        for text in _prompt_order(prompts, settings.seed, settings.total_steps * settings.prompts_per_step)
    ]
    scorer, clock = _Scorer(rewards), _Clock()
    records: list[StepRecord] = []
    callback = _segment_callback(transformers.TrainerCallback, end, scorer, clock, records)

    with _quiet(transformers) as tied:
        model, tokenizer = _load_policy(name, torch.bfloat16 if cuda else torch.float32)
        tied.update(getattr(model, "_tied_weights_keys", None) or ())
        trainer = trl.GRPOTrainer(
            model=model,
            reward_funcs=scorer.functions(),
            args=_config(trl, settings, output_dir, cuda, [spec.weight for spec in rewards]),
            train_dataset=datasets.Dataset.from_list(rows),
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[callback],
        )
        trainer.remove_callback(transformers.PrinterCallback)  # disable_tqdm swaps the bars for printed logs
        trainer._generate = clock.timed(trainer._generate)
        try:
            trainer.train(resume_from_checkpoint=str(latest[1]) if latest else None)
        except Exception as exc:
            where = f"{latest[1]} is still the latest checkpoint" if latest else "no checkpoint was written"
            exc.add_note(f"GRPO segment {start}->{end} of {output_dir} stopped; {where}")
            raise
        finally:
            # The trainer refers to itself through the timed _generate: collect the cycle so GPU memory
            # (and a colocated vLLM engine) is freed before the next visit builds its own.
            trainer._generate = None
            del trainer, model
            gc.collect()
            if cuda:
                torch.cuda.empty_cache()

    saved = latest_checkpoint(output_dir)
    if saved is None or saved[0] != end:
        raise RuntimeError(
            f"GRPO training stopped at step {saved[0] if saved else start} instead of {end} in {output_dir}; "
            f"the trainer ended early (check that the dataset and max_steps agree)"
        )
    for _, path, _ in _checkpoints(output_dir)[: -settings.keep_checkpoints]:
        _remove(path)
    samples = [sample for record in records for sample in scorer.samples(record.step)]
    return Segment(start_step=start, end_step=end, checkpoint=str(saved[1]), steps=records, samples=samples)
