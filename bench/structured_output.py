"""Schema-valid structured output from the embedded models on real text.

Extraction tasks built from real data: the first page of each paper in ``shared/data/papers``,
split into chunks (the chunk holding the title asks for :class:`PaperFacts`, the others for
:class:`PassageFacts`), and the LawFlow entity-formation scenarios (:class:`ScenarioFacts`),
mixed round-robin so a small ``--tasks`` still covers every kind. Each task goes through
``model.with_structured_output(schema, max_repairs=2)`` on each model (JSON-schema-constrained
decoding, validation, repair retries). A per-task trace file counts the model calls, which says
whether the answer was valid at the first try or after repairs; a ``StructuredOutputError`` is a
failure. Goal: 100 % schema-valid. ``--bounded-items`` also bounds the length of every list item
(key terms, issues), which the constrained decoding then enforces.

    python bench/structured_output.py [--tasks 50] [--models qwen2.5-0.5b,smollm2-135m] [--max-tokens 256] [--bounded-items] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import console, header, shared_data, table  # noqa: E402

from agentgraphs.errors import StructuredOutputError  # noqa: E402
from agentgraphs.models import get_model  # noqa: E402
from agentgraphs.tools.pdf import read_paper_text  # noqa: E402


class PaperFacts(BaseModel):
    """The opening of a research paper."""

    title: str = Field(min_length=3, max_length=200, description="the paper's title")
    field: str = Field(min_length=2, max_length=80, description="the research field, e.g. machine learning")
    key_terms: list[str] = Field(min_length=3, max_length=3, description="three key technical terms")


class PassageFacts(BaseModel):
    """A passage from a research paper."""

    topic: str = Field(min_length=2, max_length=120, description="what the passage is about, in a few words")
    key_terms: list[str] = Field(min_length=3, max_length=3, description="three key technical terms from the passage")


class ScenarioFacts(BaseModel):
    """A client's business-formation scenario."""

    business_type: str = Field(min_length=2, max_length=80, description="the kind of business, e.g. food truck")
    number_of_owners: int = Field(ge=1, le=20, description="how many people own or start the business")
    jurisdiction: str | None = Field(default=None, max_length=60, description="the state or jurisdiction if stated, else null")
    issues: list[str] = Field(min_length=1, max_length=6, description="the legal issues the scenario raises")


# The same schemas with every list item's length bounded too, which JSON-schema-constrained
# decoding enforces: a small model then cannot copy whole sentences into a list item or loop in
# one until max_tokens (``--bounded-items``).
Term = Annotated[str, Field(max_length=60)]
Issue = Annotated[str, Field(max_length=160)]


class BoundedPaperFacts(PaperFacts):
    key_terms: list[Term] = Field(min_length=3, max_length=3, description="three key technical terms")


class BoundedPassageFacts(PassageFacts):
    key_terms: list[Term] = Field(min_length=3, max_length=3, description="three key technical terms from the passage")


class BoundedScenarioFacts(ScenarioFacts):
    issues: list[Issue] = Field(min_length=1, max_length=6, description="the legal issues the scenario raises")


SCHEMAS = {False: (PaperFacts, PassageFacts, ScenarioFacts), True: (BoundedPaperFacts, BoundedPassageFacts, BoundedScenarioFacts)}


@dataclass(frozen=True, kw_only=True)
class Task:
    source: str
    schema: type[BaseModel]
    prompt: str


def _chunks(text: str, count: int) -> list[str]:
    """``text`` cut into ``count`` pieces of about equal length, at whitespace."""
    words = text.split()
    size = math.ceil(len(words) / count)
    return [" ".join(words[i:i + size]) for i in range(0, len(words), size)]


def build_tasks(limit: int, *, bounded: bool = False) -> list[Task]:
    paper_facts, passage_facts, scenario_facts = SCHEMAS[bounded]
    data = shared_data()
    scenarios, seen = [], set()
    for scenario in json.loads((data / "lawflow" / "lawflow_notebook_data.json").read_text(encoding="utf-8"))["scenarios"]:
        if scenario["text"] in seen:  # scenario_17 repeats scenario_14 in the notebook
            continue
        seen.add(scenario["text"])
        scenarios.append(Task(source=scenario["id"], schema=scenario_facts, prompt=(
            "Extract the facts of this business-formation scenario.\n\n" + scenario["text"])))
    papers = sorted((data / "papers").glob("*.pdf"))
    per_paper = max(1, math.ceil(max(0, limit - len(scenarios)) / len(papers)))
    streams: list[list[Task]] = [scenarios]
    for pdf in papers:
        pieces = _chunks(read_paper_text(pdf, max_pages=1).text, per_paper)
        streams.append([
            Task(source=f"{pdf.stem}#{i}", schema=paper_facts if i == 0 else passage_facts, prompt=(
                ("Extract the facts of this research paper's opening.\n\n" if i == 0
                 else "Extract the facts of this passage from a research paper.\n\n") + piece))
            for i, piece in enumerate(pieces)
        ])
    mixed = [stream[i] for i in range(max(map(len, streams))) for stream in streams if i < len(stream)]
    return mixed[:limit]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    calls: int
    ok: bool
    error: str | None
    latency_s: float


def run_task(model_name: str, task: Task, trace: Path, max_tokens: int, max_repairs: int) -> Outcome:
    model = get_model(f"local:{model_name}", max_tokens=max_tokens, temperature=0, trace_path=trace)
    extractor = model.with_structured_output(task.schema, agent="bench-extract", max_repairs=max_repairs)
    started = time.perf_counter()
    error = None
    try:
        extractor.invoke(task.prompt)
    except StructuredOutputError as exc:
        error = f"StructuredOutputError: {exc}"
    latency = time.perf_counter() - started
    calls = len(trace.read_text(encoding="utf-8").splitlines()) if trace.is_file() else 0
    return Outcome(calls=calls, ok=error is None, error=error, latency_s=latency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=50, help="extraction tasks per model (default 50)")
    parser.add_argument("--models", default="qwen2.5-0.5b,smollm2-135m", help="comma-separated embedded models")
    parser.add_argument("--max-tokens", type=int, default=256, help="bound on each answer (default 256)")
    parser.add_argument("--max-repairs", type=int, default=2, help="repair retries after the first answer (default 2)")
    parser.add_argument("--show-failures", action="store_true", help="print each failure's error")
    parser.add_argument("--bounded-items", action="store_true",
                        help="bound each list item's length in the schemas too (see BoundedPassageFacts)")
    parser.add_argument("--threads", type=int, default=None,
                        help="llama.cpp threads (sets AGENTGRAPHS_LLAMA_THREADS; default: the framework's, all cores)")
    args = parser.parse_args()
    if args.threads is not None:
        os.environ["AGENTGRAPHS_LLAMA_THREADS"] = str(args.threads)

    tasks = build_tasks(args.tasks, bounded=args.bounded_items)
    kinds = {schema.__name__: sum(t.schema is schema for t in tasks) for schema in SCHEMAS[args.bounded_items]}
    header(f"structured output: {len(tasks)} extraction tasks from real text per model",
           f"tasks: {kinds}; max_tokens {args.max_tokens}, max_repairs {args.max_repairs}, temperature 0; "
           f"llama.cpp threads: {os.environ.get('AGENTGRAPHS_LLAMA_THREADS') or os.cpu_count()}")
    rows, failures = [], []
    with tempfile.TemporaryDirectory(prefix="agentgraphs-bench-") as tmp:
        for name in [m.strip() for m in args.models.split(",") if m.strip()]:
            get_model(f"local:{name}", max_tokens=1).invoke("Hi")  # load the server outside the timings
            started = time.perf_counter()
            outcomes = []
            for index, task in enumerate(tasks):
                outcome = run_task(name, task, Path(tmp) / f"{name}-{index}.jsonl", args.max_tokens, args.max_repairs)
                outcomes.append(outcome)
                if outcome.error:
                    failures.append((name, task.source, task.schema.__name__, outcome.error))
            total = time.perf_counter() - started
            first = sum(o.ok and o.calls == 1 for o in outcomes)
            repaired = sum(o.ok and o.calls > 1 for o in outcomes)
            failed = len(outcomes) - first - repaired
            latencies = [o.latency_s for o in outcomes]
            rows.append((
                name, len(outcomes), f"{first} ({100 * first / len(outcomes):.0f} %)", repaired,
                failed, f"{100 * (first + repaired) / len(outcomes):.0f} %", f"{sum(o.calls for o in outcomes) / len(outcomes):.2f}",
                f"{statistics.mean(latencies):.2f}", f"{statistics.median(latencies):.2f}", f"{max(latencies):.2f}", f"{total:.0f}",
            ))
    console.print(table("structured output per model (goal: 100 % schema-valid)", [
        "model", "tasks", "valid first try", "valid after repair", "failed", "schema-valid", "calls/task",
        "mean s", "median s", "max s", "total s"], rows))
    if failures:
        console.print(table("failures", ["model", "task", "schema", "error"],
                            [(m, s, k, e if args.show_failures else e[:160]) for m, s, k, e in failures]))


if __name__ == "__main__":
    main()
