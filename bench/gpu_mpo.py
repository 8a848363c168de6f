"""Throughput of MPO's trainer node: GRPO steps per second and where each step's time goes.

Builds a randomly initialised policy the size of Qwen2.5-0.5B (hidden 896, 24 layers, 14 heads, 2 KV
heads, MLP 4864, tied embeddings) with the real tokenizer and chat template of the embedded Qwen
(read from its GGUF, so nothing is downloaded), saves it to a temporary directory, and trains it with
:func:`agentgraphs.trainers.grpo.train_segment` in visits of ``--segment`` steps, as the MPO graph
does, until ``--steps`` are done. The reward is cheap and deterministic (no judge), so the table shows
the trainer's own cost: sampling (vLLM colocated where installed, else transformers ``generate``),
scoring, and the update, plus the per-visit overhead of building a trainer and resuming a checkpoint.

Random weights never stop early, so every completion runs to ``--max-completion`` tokens: a worst case
for generation length, and a stable one to compare machines by.

    python bench/gpu_mpo.py [--steps 20] [--segment 10] [--prompts-per-step 8] [--generations 8]
                            [--max-completion 128] [--lora] [--tiny]
                            [--processes N] [--accelerate-config examples/accelerate/deepspeed_zero2.yaml]

``--processes`` trains with that many ranks (torchrun; one per GPU), ``--accelerate-config`` launches
them with an accelerate config instead (multi-GPU, DeepSpeed ZeRO, FSDP), the reward computed in the
launching process either way, as in the MPO graph.

``--tiny`` swaps in a 2-layer, 64-wide Llama with SmolLM2's tokenizer and small batches: a smoke check
that the script runs, on CPU, in about a minute. Meant for a GPU machine without network; see
``bench/gpu_mpo.sh`` for the environment it sets.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import console, header, table  # noqa: E402

from agentgraphs.models.embedded import gguf_path  # noqa: E402
from agentgraphs.trainers.grpo import GRPOSettings, RewardSpec, StepRecord, train_segment  # noqa: E402

PROMPTS = [
    "Explain what a hash table is in two sentences.",
    "Write a haiku about gradient descent.",
    "List three uses of a priority queue.",
    "What is the difference between a process and a thread?",
    "Summarise the idea of reinforcement learning for a child.",
    "Give a one-line Python function that reverses a string.",
    "Why do neural networks need non-linear activations?",
    "Name two sorting algorithms and their complexity.",
    "Describe a rubric for grading a short essay.",
    "What makes a good unit test?",
    "Translate 'good morning' into French and Spanish.",
    "Write a limerick about a lost semicolon.",
    "What is the capital of Australia, and why is it not Sydney?",
    "Explain overfitting with an analogy.",
    "Suggest a title for a paper on reward hacking.",
    "How does a checkpoint make a long job resumable?",
]


def word_target(prompts: list[str], completions: list[str], step: int) -> list[float]:
    """Closer to 40 words is better (0 at exactly 40, -1 at 0 or 80+)."""
    return [-min(abs(len(c.split()) - 40) / 40, 1.0) for c in completions]


def ascii_share(prompts: list[str], completions: list[str], step: int) -> list[float]:
    """The share of ASCII letters and spaces: rewards readable text over random byte tokens."""
    return [sum(ch.isascii() and (ch.isalpha() or ch == " ") for ch in c) / max(len(c), 1) for c in completions]


def build_policy(directory: Path, tiny: bool) -> str:
    """Save a random policy with a real tokenizer into ``directory``; return its ``hf:`` string."""
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    gguf = gguf_path("smollm2-135m" if tiny else "qwen2.5-0.5b")
    started = time.perf_counter()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    special = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
               "pad_token_id": tokenizer.pad_token_id}
    if tiny:
        config = transformers.LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, **special,
        )
    else:
        config = transformers.Qwen2Config(
            vocab_size=len(tokenizer), hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
            num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
            rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, **special,
        )
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):  # initialising 0.5B parameters on the GPU takes seconds, not a minute
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    params = sum(p.numel() for p in model.parameters())
    del model
    console.print(f"policy: {type(config).__name__}, {params / 1e6:.1f}M parameters, vocab {len(tokenizer)}, "
                  f"built in {time.perf_counter() - started:.1f} s → {directory}")
    return f"hf:{directory}"


def environment() -> str:
    import importlib.util

    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        vllm = "vLLM colocated" if importlib.util.find_spec("vllm") else "transformers generate (vLLM not installed)"
        return f"{name}, bf16, rollouts by {vllm}"
    return f"CPU ({torch.get_num_threads()} torch threads), fp32, rollouts by transformers generate"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="GRPO steps in all (default 20)")
    parser.add_argument("--segment", type=int, default=10, help="steps per train_segment call, as one MPO visit")
    parser.add_argument("--prompts-per-step", type=int, default=8)
    parser.add_argument("--generations", type=int, default=8, help="completions per prompt (the GRPO group)")
    parser.add_argument("--max-completion", type=int, default=128, help="tokens per completion")
    parser.add_argument("--learning-rate", type=float, default=1e-6)
    parser.add_argument("--lora", action="store_true", help="train a LoRA adapter (r=16) instead of all weights")
    parser.add_argument("--processes", type=int, default=1,
                        help="training processes, one per GPU (torchrun; rewards stay in this process)")
    parser.add_argument("--accelerate-config", default=None,
                        help="an accelerate config to launch with (examples/accelerate/*.yaml: multi-GPU, DeepSpeed ZeRO-2)")
    parser.add_argument("--tiny", action="store_true", help="CPU smoke check: 2-layer 64-wide model, small batches")
    args = parser.parse_args()
    if args.tiny:
        args.steps, args.segment = min(args.steps, 4), min(args.segment, 2)
        args.prompts_per_step, args.generations, args.max_completion = 2, 4, 16

    import torch

    if not torch.cuda.is_available():
        torch.set_num_threads(1 if args.tiny else torch.get_num_threads())
    header("GRPO trainer node (MPO)", environment())
    settings = GRPOSettings(
        total_steps=args.steps,
        num_generations=args.generations,
        prompts_per_step=args.prompts_per_step,
        max_completion_length=args.max_completion,
        learning_rate=args.learning_rate,
        lora=args.lora,
        processes=args.processes,
        accelerate_config=args.accelerate_config,
    )
    rewards = [RewardSpec("word_target", word_target), RewardSpec("ascii_share", ascii_share, weight=0.5)]
    with tempfile.TemporaryDirectory(prefix="gpu_mpo.") as tmp:
        policy = build_policy(Path(tmp) / "policy", args.tiny)
        records: list[StepRecord] = []
        visits: list[tuple[int, int, float, float]] = []  # start, end, wall, overhead
        while not records or records[-1].step < args.steps:
            started = time.perf_counter()
            segment = train_segment(policy, PROMPTS, rewards, settings, Path(tmp) / "run", args.segment)
            wall = time.perf_counter() - started
            stepped = sum(r.time_generate + r.time_score + r.time_update for r in segment.steps)
            visits.append((segment.start_step, segment.end_step, wall, wall - stepped))
            records.extend(segment.steps)
            if not segment.steps:
                break
    report(records, visits, args)


def report(records: list[StepRecord], visits: list[tuple[int, int, float, float]], args: Any) -> None:
    batch = args.prompts_per_step * args.generations
    console.print(table(
        f"per step ({args.prompts_per_step} prompts × {args.generations} completions × ≤{args.max_completion} tokens)",
        ["step", "reward", "tokens", "generate s", "score s", "update s", "step s", "lr"],
        [[r.step, f"{r.reward_mean:.3f}", f"{r.completion_tokens_mean:.0f}", f"{r.time_generate:.2f}",
          f"{r.time_score:.4f}", f"{r.time_update:.2f}",
          f"{r.time_generate + r.time_score + r.time_update:.2f}", f"{r.learning_rate:.2e}"] for r in records],
    ))
    console.print(table(
        "per visit (train_segment call)",
        ["steps", "wall s", "overhead s (build trainer, load, resume, save)"],
        [[f"{start}→{end}", f"{wall:.1f}", f"{overhead:.1f}"] for start, end, wall, overhead in visits],
    ))
    # The first step of each visit carries warm-up (CUDA graphs, vLLM's first batch): the medians skip it.
    steady = [r for r in records if (r.step - 1) % args.segment != 0] or records
    step_s = [r.time_generate + r.time_score + r.time_update for r in steady]
    total = sum(step_s)
    split = {
        "generate": sum(r.time_generate for r in steady) / total,
        "score": sum(r.time_score for r in steady) / total,
        "update": sum(r.time_update for r in steady) / total,
    }
    tokens = median(r.completion_tokens_mean for r in steady) * batch
    all_wall = sum(wall for _, _, wall, _ in visits)
    console.print(table(
        "summary (steady steps: all but each visit's first)",
        ["metric", "value"],
        [
            ["median step s", f"{median(step_s):.2f}"],
            ["steps/s (steady)", f"{1 / median(step_s):.3f}"],
            ["steps/s (all visits, wall)", f"{len(records) / all_wall:.3f}"],
            ["completion tokens/s (steady)", f"{tokens / median(step_s):.0f}"],
            ["split generate / score / update", " / ".join(f"{100 * v:.0f}%" for v in split.values())],
            ["median visit overhead s", f"{median(o for *_, o in visits):.1f}"],
        ],
    ))


if __name__ == "__main__":
    main()
