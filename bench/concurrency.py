"""Many concurrent model calls: the framework's gateway vs the raw clients it wraps.

200 chat calls, at most 50 in flight, against ``OpenAITestServer`` (a real OpenAI-compatible
HTTP server on loopback) answering after 200 ms. Ideal: 4 waves × 0.2 s = 0.8 s. Variants,
interleaved rep by rep on one event loop (a client must not outlive its loop):

- framework: ``get_model("vllm:test-model@<url>", policy=CallPolicy(max_concurrency=50))``, built
  once, ``asyncio.gather`` of 200 ``ainvoke`` (the gateway's own limiter bounds concurrency);
- raw ``openai.AsyncOpenAI`` with an ``asyncio.Semaphore(50)``;
- ``langchain_openai.ChatOpenAI`` with an ``asyncio.Semaphore(50)``;
- (info) the framework writing a JSONL trace record per call, as it does inside a run.

The client's CPU is the limit on 2 cores, so the table also gives each batch's process CPU time
(the in-process test server's share is the same for every variant): steadier than wall time when
other processes compete for the cores.

``--profile`` adds a cProfile of framework reps.

    python bench/concurrency.py [--reps 5] [--calls 200] [--concurrency 50] [--latency 0.2] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from langchain_openai import ChatOpenAI
from openai import AsyncOpenAI

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import console, header, median, table  # noqa: E402

from agentgraphs.models import CallPolicy, get_model  # noqa: E402
from agentgraphs.testing.openai_server import MODEL_ID, OpenAITestServer, ServerBehaviour  # noqa: E402

GOAL = 1.1


async def bounded(concurrency: int, calls: int, one: Callable[[int], Awaitable[object]]) -> None:
    semaphore = asyncio.Semaphore(concurrency)

    async def guarded(index: int) -> object:
        async with semaphore:
            return await one(index)

    await asyncio.gather(*(guarded(i) for i in range(calls)))


async def measure(args: argparse.Namespace, base_url: str, trace_dir: Path,
                  cpu_times: dict[str, list[float]]) -> dict[str, list[float]]:
    """Wall seconds per batch for each variant; process CPU seconds go into ``cpu_times``."""
    policy = CallPolicy(max_concurrency=args.concurrency)
    framework = get_model(f"vllm:{MODEL_ID}@{base_url}", policy=policy)
    traced = get_model(f"vllm:{MODEL_ID}@{base_url}", policy=policy, trace_path=trace_dir / "trace.jsonl")
    raw = AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
    chat = ChatOpenAI(model=MODEL_ID, base_url=base_url, api_key="EMPTY", max_retries=0)

    def prompt(i: int) -> str:
        return f"Question {i}: what is {i} plus one?"

    async def run_framework() -> None:
        await asyncio.gather(*(framework.ainvoke(prompt(i)) for i in range(args.calls)))

    async def run_traced() -> None:
        await asyncio.gather(*(traced.ainvoke(prompt(i)) for i in range(args.calls)))

    async def run_raw() -> None:
        await bounded(args.concurrency, args.calls, lambda i: raw.chat.completions.create(
            model=MODEL_ID, messages=[{"role": "user", "content": prompt(i)}]))

    async def run_chat() -> None:
        await bounded(args.concurrency, args.calls, lambda i: chat.ainvoke(prompt(i)))

    variants: dict[str, Callable[[], Awaitable[None]]] = {
        "framework (gateway)": run_framework, "raw AsyncOpenAI + semaphore": run_raw,
        "ChatOpenAI + semaphore": run_chat, "(info) framework + trace": run_traced,
    }
    names = list(variants)
    cpu_times.update({name: [] for name in names})
    for name in names:  # warm-up: connection pools, imports, first pydantic validations
        await variants[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(args.reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            started, cpu = time.perf_counter(), time.process_time()
            await variants[name]()
            times[name].append(time.perf_counter() - started)
            cpu_times[name].append(time.process_time() - cpu)

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(2):
            await run_framework()
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats("tottime").print_stats(25)
        print(out.getvalue())  # plain print: rich would re-wrap pstats' fixed-width columns
    await raw.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="interleaved repetitions (default 5)")
    parser.add_argument("--calls", type=int, default=200, help="calls per repetition (default 200)")
    parser.add_argument("--concurrency", type=int, default=50, help="calls in flight at most (default 50)")
    parser.add_argument("--latency", type=float, default=0.2, help="server latency in seconds (default 0.2)")
    parser.add_argument("--profile", action="store_true", help="also cProfile two framework reps")
    args = parser.parse_args()

    ideal = -(-args.calls // args.concurrency) * args.latency
    header(f"concurrency: {args.calls} calls, ≤ {args.concurrency} in flight, {args.latency * 1e3:.0f} ms server latency, "
           f"{args.reps} interleaved reps", f"ideal {ideal:.2f} s; the server runs in this process (its own thread and loop)")
    with OpenAITestServer(ServerBehaviour(latency_s=args.latency)) as server, \
            tempfile.TemporaryDirectory(prefix="agentgraphs-bench-") as tmp:
        cpu: dict[str, list[float]] = {}
        times = asyncio.run(measure(args, server.base_url, Path(tmp), cpu))
        served = len(server.requests)
    expected = args.calls * len(times) * (args.reps + 1) + (2 * args.calls if args.profile else 0)
    assert served == expected, f"server saw {served} requests, expected {expected}"

    raw = times["raw AsyncOpenAI + semaphore"]
    raw_cpu = cpu["raw AsyncOpenAI + semaphore"]
    rows = [(name, f"{median(t):.3f}", f"{min(t):.3f}", f"{max(t):.3f}", f"{median(t) / ideal:.2f}×",
             f"{median(t) / median(raw):.2f}×", f"{median(cpu[name]):.3f}", f"{median(cpu[name]) / median(raw_cpu):.2f}×")
            for name, t in times.items()]
    console.print(table("seconds per batch (median of interleaved reps); CPU = this process's CPU time, test server included",
                        ["variant", "wall s", "min s", "max s", "wall / ideal", "wall / raw", "CPU s", "CPU / raw"], rows))
    share = median(times["framework (gateway)"]) / median(raw)
    console.print(f"framework / raw = {share:.2f}× (goal ≤ {GOAL}×: {'met' if share <= GOAL else 'NOT met'}); "
                  f"ChatOpenAI / raw = {median(times['ChatOpenAI + semaphore']) / median(raw):.2f}×")


if __name__ == "__main__":
    main()
