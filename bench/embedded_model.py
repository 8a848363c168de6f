"""Prefill and decode speed of the embedded model through the framework vs xllamacpp direct.

Both sides use the same loaded llama.cpp server: the framework through
``get_model("local:<name>").invoke(...)`` (gateway → ChatOpenAI → HTTP on loopback), the baseline
through ``llama_server(name).handle.handle_chat_completions({...})`` (in-process, no HTTP).
Rep by rep they alternate.

- prefill: ~1000 tokens of a real paper's first page, ``max_tokens=1``;
- decode: a short prompt asking for a long story, ``max_tokens=128``, ``temperature=0`` and
  ``ignore_eos`` (llama.cpp's server accepts it), so every call decodes exactly 128 tokens.

llama.cpp's prompt cache would otherwise serve a repeated prompt from memory: every request sends
``cache_prompt: false`` (the framework side through ``bind(extra_body=...)``), and the table shows
the cached-token counts each side reported, which must be 0.

Tokens per second are given from the wall clock (what a user gets, used for the ratio) and from
llama.cpp's own timings (direct side only: ChatOpenAI drops the ``timings`` field).

    python bench/embedded_model.py [--models smollm2-135m,qwen2.5-0.5b] [--reps 3] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import console, header, interleaved, median, shared_data, table  # noqa: E402

GOAL = 0.9
PAPER = "MoBA_Tech_Report.pdf"
DECODE_PROMPT = "Write a long story about a lighthouse keeper who finds an old map in a bottle."
NO_CACHE = {"cache_prompt": False}


@dataclass(frozen=True, kw_only=True)
class Call:
    """One measured request."""

    wall_s: float
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    server_prompt_tps: float | None = None
    server_decode_tps: float | None = None


def prefill_prompt(chars: int) -> str:
    """The first page of a real paper, cut to ``chars`` characters (~4 characters a token)."""
    from agentgraphs.tools.pdf import read_paper_text

    text = read_paper_text(shared_data() / "papers" / PAPER, max_pages=2).text
    return "Summarise this paper in one sentence.\n\n" + text[:chars]


def framework_call(model: Any, prompt: str) -> Call:
    started = time.perf_counter()
    message = model.invoke(prompt)
    wall = time.perf_counter() - started
    usage = message.usage_metadata or {}
    return Call(wall_s=wall, prompt_tokens=usage.get("input_tokens", 0), completion_tokens=usage.get("output_tokens", 0),
                cached_tokens=(usage.get("input_token_details") or {}).get("cache_read", 0) or 0)


def direct_call(handle: Any, prompt: str, **body: Any) -> Call:
    request = {"messages": [{"role": "user", "content": prompt}], "temperature": 0, **NO_CACHE, **body}
    started = time.perf_counter()
    answer = handle.handle_chat_completions(request)
    wall = time.perf_counter() - started
    if "error" in answer:
        raise RuntimeError(f"xllamacpp answered an error: {answer['error']}")
    usage, timings = answer["usage"], answer.get("timings") or {}
    return Call(wall_s=wall, prompt_tokens=usage["prompt_tokens"], completion_tokens=usage["completion_tokens"],
                cached_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0) or 0,
                server_prompt_tps=timings.get("prompt_per_second"), server_decode_tps=timings.get("predicted_per_second"))


def bench_model(name: str, *, reps: int, prompt: str, decode_tokens: int) -> list[tuple[Any, ...]]:
    from agentgraphs.models import get_model
    from agentgraphs.models.llamacpp import llama_server

    started = time.perf_counter()
    handle = llama_server(name).handle
    console.print(f"[dim]{name}: server ready in {time.perf_counter() - started:.1f} s[/dim]")
    prefill_fw = get_model(f"local:{name}", max_tokens=1, temperature=0).bind(extra_body=NO_CACHE)
    decode_fw = get_model(f"local:{name}", max_tokens=decode_tokens, temperature=0).bind(
        extra_body={**NO_CACHE, "ignore_eos": True})
    # Warm both client paths (HTTP connection, ChatOpenAI client) with a tiny request each.
    framework_call(get_model(f"local:{name}", max_tokens=1, temperature=0), "Hi")
    direct_call(handle, "Hi", max_tokens=1)

    calls: dict[str, list[Call]] = {k: [] for k in ("prefill fw", "prefill direct", "decode fw", "decode direct")}
    variants = {
        "prefill fw": lambda: calls["prefill fw"].append(framework_call(prefill_fw, prompt)),
        "prefill direct": lambda: calls["prefill direct"].append(direct_call(handle, prompt, max_tokens=1)),
        "decode fw": lambda: calls["decode fw"].append(framework_call(decode_fw, DECODE_PROMPT)),
        "decode direct": lambda: calls["decode direct"].append(
            direct_call(handle, DECODE_PROMPT, max_tokens=decode_tokens, ignore_eos=True)),
    }
    interleaved(variants, reps, warmup=0)

    rows = []
    for phase, count in (("prefill", "prompt_tokens"), ("decode", "completion_tokens")):
        fw, direct = calls[f"{phase} fw"], calls[f"{phase} direct"]
        rate_fw = median([getattr(c, count) / c.wall_s for c in fw])
        rate_direct = median([getattr(c, count) / c.wall_s for c in direct])
        server = median([(c.server_prompt_tps if phase == "prefill" else c.server_decode_tps) or 0.0 for c in direct])
        overhead_ms = (median([c.wall_s for c in fw]) - median([c.wall_s for c in direct])) * 1e3
        share = rate_fw / rate_direct
        rows.append((
            name, phase, median([getattr(c, count) for c in fw]),
            f"{max(c.cached_tokens for c in fw)}/{max(c.cached_tokens for c in direct)}",
            f"{rate_fw:.1f}", f"{rate_direct:.1f}", f"{server:.1f}", f"{overhead_ms:+.0f}",
            f"{share:.2f}× {'met' if share >= GOAL else 'NOT met'}",
        ))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="smollm2-135m,qwen2.5-0.5b", help="comma-separated embedded models")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions per measurement (default 3)")
    parser.add_argument("--prefill-chars", type=int, default=4000, help="characters of paper text (~1000 tokens)")
    parser.add_argument("--decode-tokens", type=int, default=128, help="tokens to decode (default 128)")
    parser.add_argument("--threads", type=int, default=None,
                        help="llama.cpp threads (sets AGENTGRAPHS_LLAMA_THREADS; default: the framework's, all cores)")
    args = parser.parse_args()
    if args.threads is not None:
        os.environ["AGENTGRAPHS_LLAMA_THREADS"] = str(args.threads)

    prompt = prefill_prompt(args.prefill_chars)
    header(f"embedded model: framework vs xllamacpp direct, {args.reps} interleaved reps",
           f"llama.cpp threads: {os.environ.get('AGENTGRAPHS_LLAMA_THREADS') or os.cpu_count()}; "
           f"prefill: {len(prompt)} characters of {PAPER}, max_tokens=1; decode: {args.decode_tokens} tokens, "
           "ignore_eos, temperature 0; cache_prompt off on both sides")
    rows = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        rows.extend(bench_model(name, reps=args.reps, prompt=prompt, decode_tokens=args.decode_tokens))
    console.print(table(
        "tokens/s (median); ratio = framework wall tok/s / direct wall tok/s",
        ["model", "phase", "tokens", "cached fw/direct", "fw wall tok/s", "direct wall tok/s",
         "direct server tok/s", "fw extra ms", f"ratio (goal ≥ {GOAL}×)"], rows))


if __name__ == "__main__":
    main()
