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
- A checkpoint counts only once it carries a completion marker written after the save
  (:mod:`agentgraphs.trainers.grpo_checkpoints`); unmarked ones are debris of a kill and are deleted.
- A fresh trainer per call reads reward functions anew, so a reward that reads a mutable rubric sees
  the new rubric from the next segment on.
- The prompt order is fixed by the seed for the whole budget (not by the trainer's shuffling), so
  the prompts of step s are the same whether or not the run was killed before step s.
- Several training processes (GPUs) are launched workers that ask this process for rewards
  (:mod:`agentgraphs.trainers.grpo_launch`), since reward functions are closures over its state.

Timing per step: ``time_generate`` is the wall time of the trainer's rollout sampling
(``GRPOTrainer._generate``: tokenising, ``generate``/vLLM, decoding), ``time_score`` the wall time
spent inside the reward functions, and ``time_update`` the rest of the step from the trainer's
``on_step_begin`` to its ``on_step_end`` (log-prob forward passes, loss, backward, optimizer step).
"""

from __future__ import annotations

import contextlib
import json
import gc
import importlib.util
import logging
import math
import random
import re
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentgraphs.errors import ModelSpecError
from agentgraphs.extras import require
from agentgraphs.trainers.grpo_checkpoints import check_resumable, checkpoints, latest_checkpoint, mark_complete, remove
from agentgraphs.trainers.grpo_records import RewardScorer, RewardSpec, Sample, Segment, StepRecord

if TYPE_CHECKING:
    from transformers import TrainerCallback

__all__ = [
    "GRPOSettings",
    "RewardSpec",
    "Sample",
    "Segment",
    "StepRecord",
    "RewardScorer",
    "check_batch_split",
    "latest_checkpoint",
    "train_segment",
    "train_steps",
]

_PURPOSE = "GRPO training (agentgraphs.trainers.grpo)"


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
    processes: int = Field(default=1, ge=1)
    """Training processes, one per GPU (on CPU, gloo processes). Above 1, each segment is trained by
    launched workers (``torchrun``) while the rewards stay in this process (see
    :mod:`agentgraphs.trainers.grpo_launch`). A step still trains ``prompts_per_step`` prompts in all,
    split over the processes, so the same settings mean the same run at any process count."""
    accelerate_config: str | None = None
    """An ``accelerate`` config file (multi-GPU, DeepSpeed ZeRO, FSDP): segments are then launched with
    ``accelerate launch --config_file`` and ``--num_processes`` = :attr:`processes`."""

    @model_validator(mode="after")
    def _batch_splits(self) -> GRPOSettings:
        check_batch_split(self.prompts_per_step, self.num_generations, self.processes)
        return self

    @property
    def launched(self) -> bool:
        """Whether segments run in launched worker processes rather than in this one."""
        return self.processes > 1 or self.accelerate_config is not None

    def trained_with(self) -> dict[str, Any]:
        """What a checkpoint's training depends on: every setting except how the processes are launched,
        so a run may resume on another number of GPUs."""
        return self.model_dump(mode="json", exclude={"processes", "accelerate_config"})


def check_batch_split(prompts_per_step: int, num_generations: int, processes: int) -> None:
    """Raise ValueError unless a step's completions split evenly over the training processes."""
    if (prompts_per_step * num_generations) % processes:
        raise ValueError(f"a step's {prompts_per_step} x {num_generations} completions (prompts_per_step x "
                         f"num_generations) do not split over {processes} processes; choose values whose product "
                         "divides by processes")


def _prompt_order(prompts: Sequence[str], seed: int, count: int) -> list[str]:
    """``count`` prompts: shuffled copies of ``prompts`` one after another, fixed by ``seed``."""
    rng = random.Random(seed)
    order: list[str] = []
    while len(order) < count:
        batch = list(prompts)
        rng.shuffle(batch)
        order.extend(batch)
    return order[:count]


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
    scorer: RewardScorer,
    clock: _Clock,
    records: list[StepRecord],
    trained_with: dict[str, Any],
) -> TrainerCallback:
    """A callback that stops and saves at ``end``, marks the save complete (recording ``trained_with``)
    and turns logs into records."""

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
            generate, score = clock.generate.get(step, 0.0), scorer.seconds.get(step, 0.0)
            records.append(
                StepRecord(
                    step=step,
                    **scorer.stats(step),
                    completion_tokens_mean=float(logs.get("completions/mean_length", math.nan)),
                    loss=float(logs["loss"]),
                    learning_rate=float(logs["learning_rate"]),
                    time_generate=generate,
                    time_score=score,
                    time_update=max(self.seconds - generate - score, 0.0),
                )
            )

        def on_save(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized():
                dist.barrier()  # every rank has saved its part (RNG state, DeepSpeed shards) before the marker
            if state.is_world_process_zero:
                mark_complete(Path(args.output_dir), state.global_step, trained_with)

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
        per_device_train_batch_size=settings.prompts_per_step * settings.num_generations // settings.processes,
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
        ddp_find_unused_parameters=False,  # every trained weight is used; the check walks the graph each step
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
    vLLM is installed; on CPU the same code trains in fp32. With ``settings.processes > 1`` or an
    ``accelerate_config`` the steps are trained by launched workers, the rewards still computed here.

    An exception from a reward function propagates; the segment then leaves no checkpoint, and the
    previous one stays the latest. One process at a time may train into an ``output_dir``.
    """
    name = _check_arguments(policy, prompts, rewards, steps)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for _, path, complete in checkpoints(output_dir):
        if not complete:  # a save cut short by a kill: never resume from it, and let the step be saved anew
            remove(path)
    latest = latest_checkpoint(output_dir)
    trained_with = {"policy": policy, "settings": settings.trained_with(), "rewards": [r.name for r in rewards]}
    if latest is not None:
        check_resumable(latest[1], trained_with)
    start = latest[0] if latest else 0
    count = min(steps, settings.total_steps - start)
    if count <= 0:
        assert latest is not None  # total_steps > 0, so a spent budget means a checkpoint exists
        return Segment(start_step=start, end_step=start, checkpoint=str(latest[1]), steps=[], samples=[])
    end = start + count
    scorer = RewardScorer(rewards)
    if settings.launched:
        records = _launched_steps(name, prompts, scorer, settings, output_dir, start, end,
                                  system_prompt=system_prompt, trained_with=trained_with)
    else:
        records = train_steps(name, prompts, scorer, settings, output_dir, start, end,
                              system_prompt=system_prompt, trained_with=trained_with)
    saved = latest_checkpoint(output_dir)
    if saved is None or saved[0] != end:
        raise RuntimeError(
            f"GRPO training stopped at step {saved[0] if saved else start} instead of {end} in {output_dir}; "
            f"the trainer ended early (check that the dataset and max_steps agree)"
        )
    for _, path, _ in checkpoints(output_dir)[: -settings.keep_checkpoints]:
        remove(path)
    samples = [sample for record in records for sample in scorer.samples(record.step)]
    return Segment(start_step=start, end_step=end, checkpoint=str(saved[1]), steps=records, samples=samples)


def _launched_steps(model: str, prompts: list[str], scorer: RewardScorer, settings: GRPOSettings, output_dir: Path,
                    start: int, end: int, *, system_prompt: str | None, trained_with: dict[str, Any]) -> list[StepRecord]:
    """:func:`train_steps` in launched workers; the step records get the rewards of every rank's completions."""
    from agentgraphs.models.hf import model_source
    from agentgraphs.trainers.grpo_launch import RewardService, launch_command, run_workers

    # Resolved here, once: a missing policy fails before any launch, and ranks never race to convert
    # an embedded model into the same cache directory.
    model = model_source(model)
    request_path, result_path = output_dir / f"segment-{end}.request.json", output_dir / f"segment-{end}.steps.json"
    result_path.unlink(missing_ok=True)
    request = {"model": model, "prompts": prompts, "settings": settings.model_dump(mode="json"),
               "rewards": [{"name": spec.name, "weight": spec.weight} for spec in scorer.specs],
               "output_dir": str(output_dir), "start": start, "end": end, "system_prompt": system_prompt,
               "trained_with": trained_with, "result": str(result_path)}
    try:
        with RewardService(scorer.score) as service:
            run_workers(launch_command(settings.processes, settings.accelerate_config, request_path), request,
                        request_path, output_dir / "workers.log", service)
        try:
            records = [StepRecord.model_validate(r) for r in json.loads(result_path.read_text(encoding="utf-8"))]
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"the launched GRPO workers exited cleanly but left no readable step records at "
                               f"{result_path} ({exc}); see {output_dir / 'workers.log'}") from exc
    finally:
        request_path.unlink(missing_ok=True)
        result_path.unlink(missing_ok=True)
    return [record.model_copy(update=scorer.stats(record.step)) for record in records]


def train_steps(
    model: str,
    prompts: list[str],
    scorer: RewardScorer,
    settings: GRPOSettings,
    output_dir: Path,
    start: int,
    end: int,
    *,
    system_prompt: str | None,
    trained_with: dict[str, Any],
) -> list[StepRecord]:
    """Steps ``start+1 … end`` with TRL's ``GRPOTrainer`` in this process (one rank of a launched
    segment, or the whole of an in-process one), checkpointed at ``end``; the caller checks the arguments
    and the checkpoints (see :func:`train_segment`)."""
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
    latest = latest_checkpoint(output_dir) if start else None
    clock = _Clock()
    records: list[StepRecord] = []
    callback = _segment_callback(transformers.TrainerCallback, end, scorer, clock, records, trained_with)

    with _quiet(transformers) as tied:
        policy, tokenizer = _load_policy(model, torch.bfloat16 if cuda else torch.float32)
        tied.update(getattr(policy, "_tied_weights_keys", None) or ())
        trainer = trl.GRPOTrainer(
            model=policy,
            reward_funcs=scorer.functions(),
            args=_config(trl, settings, output_dir, cuda, [spec.weight for spec in scorer.specs]),
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
            del trainer, policy
            gc.collect()
            if cuda:
                torch.cuda.empty_cache()
    return records
