"""MPO's costs: judge scoring through the framework vs the raw client, and where a training step's time goes.

1. **Judge scoring**: 64 responses scored against a 3-criterion rubric by ``score_responses``,
   against ``OpenAITestServer`` answering valid judgements after 200 ms. Variants, interleaved rep
   by rep: the framework one call at a time, the framework with 64 in flight, and the raw
   ``openai.AsyncOpenAI`` client replaying the very requests the framework sent (captured in the
   warm-up), 64 in flight, parsing each answer with the same pydantic schema. Goal: framework
   concurrent within 1.1x of raw.
2. **Training step split** (``--steps N``, default 3; 0 skips it): real GRPO steps of the 135M
   policy (``hf:smollm2-135m``) on CPU against the real embedded judge on the essay task, each step's
   seconds split into generation, scoring (judge calls) and update, as the trainer measures them.

    python bench/mpo.py [--reps 5] [--responses 64] [--latency 0.2] [--steps 3] [--judge local:qwen2.5-0.5b]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from openai import AsyncOpenAI

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import console, header, interleaved, ratio, shared_data, table  # noqa: E402

from agentgraphs.agents.mpo.reward_model import judgement_schema, score_responses  # noqa: E402
from agentgraphs.models import CallPolicy, get_model  # noqa: E402
from agentgraphs.rewards.rubric import Band, Criterion, Rubric  # noqa: E402
from agentgraphs.testing.openai_server import MODEL_ID, OpenAITestServer, ServerBehaviour  # noqa: E402
from agentgraphs.testing.schema_reply import schema_reply  # noqa: E402

GOAL = 1.1
RUBRIC = Rubric(version=1, criteria=(
    Criterion(name="Responsiveness", description="Does it answer the prompt? Score from 0 to 5.", bands=(Band(min=0, max=5),)),
    Criterion(name="Argument", description="Is the thesis supported? Score from 0 to 5.", bands=(Band(min=0, max=5),)),
    Criterion(name="Language", description="Is the prose clear? Score from 0 to 5.", bands=(Band(min=0, max=5),)),
))


def judge_scoring(args: argparse.Namespace) -> None:
    prompts = [f"Write an essay about topic {i}." for i in range(args.responses)]
    responses = [f"Essay {i}: cities grow because jobs cluster, and clustering raises wages. " * 3 for i in range(args.responses)]
    schema = judgement_schema(RUBRIC)
    with OpenAITestServer(ServerBehaviour(reply=schema_reply, latency_s=args.latency)) as server:
        url = server.base_url
        sequential = get_model(f"vllm:{MODEL_ID}@{url}", temperature=0.0, policy=CallPolicy(max_concurrency=1))
        concurrent = get_model(f"vllm:{MODEL_ID}@{url}", temperature=0.0,
                               policy=CallPolicy(max_concurrency=args.responses))
        score_responses(prompts, responses, RUBRIC, model=concurrent, concurrency=args.responses)
        bodies = [dict(b) for b in server.requests[-args.responses:]]  # exactly what the framework sent
        loop = asyncio.new_event_loop()
        raw = AsyncOpenAI(base_url=url, api_key="EMPTY", max_retries=0)

        async def replay() -> None:
            async def one(body: dict[str, Any]) -> None:
                extra = {k: v for k, v in body.items() if k not in ("model", "messages")}
                answer = await raw.chat.completions.create(model=body["model"], messages=body["messages"], **extra)
                schema.model_validate_json(answer.choices[0].message.content or "")
            await asyncio.gather(*(one(b) for b in bodies))

        times = interleaved({
            "framework, 1 in flight": lambda: score_responses(prompts, responses, RUBRIC, model=sequential, concurrency=1),
            "framework, 64 in flight": lambda: score_responses(prompts, responses, RUBRIC, model=concurrent,
                                                               concurrency=args.responses),
            "raw AsyncOpenAI, 64 in flight": lambda: loop.run_until_complete(replay()),
        }, args.reps)
        loop.run_until_complete(raw.close())
        loop.close()
    raw_times = times["raw AsyncOpenAI, 64 in flight"]
    rows = [(name, f"{median(t):.3f}", f"{ratio(t, raw_times):.2f}x") for name, t in times.items()]
    console.print(table(f"Judge scoring of {args.responses} responses, server latency {args.latency * 1000:.0f} ms, "
                        f"median of {args.reps}", ["variant", "seconds", "vs raw"], rows))
    achieved = ratio(times["framework, 64 in flight"], raw_times)
    console.print(f"framework concurrent / raw: {achieved:.2f}x (goal <= {GOAL}x): {'met' if achieved <= GOAL else 'NOT met'}")


def step_split(args: argparse.Namespace) -> None:
    from agentgraphs.tasks import load_task
    from agentgraphs.trainers.grpo import GRPOSettings, RewardSpec, train_segment

    task = load_task("essay_writing", data_dir=shared_data(), limit=16)
    rubric = task.rubric()
    judge = get_model(args.judge, temperature=0.0)

    def judge_reward(prompts: list[str], completions: list[str], _step: int) -> list[float]:
        return [s.reward for s in score_responses(prompts, completions, rubric, model=judge)]

    settings = GRPOSettings(total_steps=args.steps, num_generations=4, prompts_per_step=2, max_completion_length=96)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        segment = train_segment("hf:smollm2-135m", list(task.prompts), [RewardSpec(name="judge", fn=judge_reward)],
                                settings, Path(out), args.steps, system_prompt=task.system_prompt)
        wall = time.perf_counter() - started
    rows = []
    for s in segment.steps:
        total = s.time_generate + s.time_score + s.time_update
        rows.append((s.step, f"{s.time_generate:.1f}", f"{s.time_score:.1f}", f"{s.time_update:.1f}", f"{total:.1f}",
                     f"{s.completion_tokens_mean:.0f}", f"{s.reward_mean:.2f}"))
    console.print(table(f"GRPO steps of hf:smollm2-135m on CPU, 2 prompts x 4 completions x <= 96 tokens, judge {args.judge}",
                        ["step", "generate s", "score s", "update s", "total s", "tokens/completion", "mean reward"], rows))
    console.print(f"whole segment incl. model load and checkpoint: {wall:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--responses", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--steps", type=int, default=3, help="GRPO steps to time (0 skips the training split)")
    parser.add_argument("--judge", default="local:qwen2.5-0.5b", help="judge model for the training split")
    args = parser.parse_args()
    header("MPO benchmark")
    judge_scoring(args)
    if args.steps:
        step_split(args)


if __name__ == "__main__":
    main()
