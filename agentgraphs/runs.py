"""Runs: a graph executed into a run directory that can be inspected and resumed.

A run directory holds ``run.json`` (graph, inputs and their file hashes, model choices),
``checkpoints.sqlite`` (LangGraph's SQLite checkpointer, written synchronously after every node),
``trace.jsonl`` (every model call), the artefacts the nodes write, and ``run.md`` (a short report). A process
killed mid-graph loses at most the node it was in: :func:`resume` continues from the last
checkpoint, and answers a human decision point (``interrupt``) when given a value.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command
from pydantic import BaseModel

from agentgraphs.atomic import write_json, write_text
from agentgraphs.errors import RunError
from agentgraphs.graph_spec import GraphSpec, load_graph
from agentgraphs.models.spec import parse_model, redact_url
from agentgraphs.runtime import RunContext

__all__ = ["Run", "RunEvent", "RunResult", "resume", "run", "stream"]

_THREAD = "main"


@dataclass(frozen=True, kw_only=True)
class RunEvent:
    """One node finished (or the graph paused at a decision point)."""

    node: str
    update: Any
    elapsed_s: float


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """What a finished (or paused) run produced."""

    run_dir: Path
    graph: str
    status: str
    """``done``, or ``interrupted`` when the graph waits for a human decision (see :func:`resume`)."""
    state: dict[str, Any]
    artefacts: dict[str, str]
    main_artefact: Path | None
    interrupts: list[Any] = field(default_factory=list)
    """The questions a paused graph asks, as the nodes raised them."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _new_run_dir(graph: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{graph.replace('/', '_')}-{stamp}-{uuid.uuid4().hex[:6]}"


def _checked_models(models: Mapping[str, str] | None) -> dict[str, str]:
    """``models`` with every string parsed now, so a typo fails before any work is done."""
    checked = dict(models or {})
    for text in checked.values():
        parse_model(text)
    return checked


def _safe_models(models: Mapping[str, str]) -> dict[str, str]:
    return {role: redact_url(text) for role, text in models.items()}


class Run:
    """A run in progress: iterate it for :class:`RunEvent` s; ``result`` is set when it stops."""

    def __init__(self, *, spec: GraphSpec, run_dir: Path, graph_input: Any, context: RunContext, progress: bool) -> None:
        self.spec = spec
        self.run_dir = run_dir
        self._input = graph_input
        self._context = context
        self._progress = progress
        self.result: RunResult | None = None

    def __iter__(self) -> Iterator[RunEvent]:
        started = time.perf_counter()
        config = {"configurable": {"thread_id": _THREAD}}
        with closing(sqlite3.connect(self.run_dir / "checkpoints.sqlite", check_same_thread=False)) as conn:
            graph = self.spec.compile(checkpointer=SqliteSaver(conn))
            display = _Progress(self.spec.name) if self._progress else None
            try:
                for chunk in graph.stream(self._input, config, context=self._context, stream_mode="updates", durability="sync"):
                    for node, update in chunk.items():
                        event = RunEvent(node=node, update=update, elapsed_s=time.perf_counter() - started)
                        if display is not None:
                            display.show(event)
                        yield event
            except BaseException as exc:
                _write_report(self.run_dir, self.spec, status=f"failed: {type(exc).__name__}: {exc}", state={}, elapsed=time.perf_counter() - started)
                raise
            snapshot = graph.get_state(config)
        state = dict(snapshot.values)
        interrupts = [i.value for task in snapshot.tasks for i in task.interrupts]
        status = "interrupted" if snapshot.next else "done"
        artefacts = dict(state.get("artefacts") or {})
        main = artefacts.get(self.spec.main_artefact) if self.spec.main_artefact else None
        _write_report(self.run_dir, self.spec, status=status, state=state, elapsed=time.perf_counter() - started)
        self.result = RunResult(run_dir=self.run_dir, graph=self.spec.name, status=status, state=state,
                                artefacts=artefacts, main_artefact=None if main is None else Path(main), interrupts=interrupts)

    def wait(self) -> RunResult:
        """Drive the run to its end (or its next decision point) and return what it made."""
        for _ in self:
            pass
        assert self.result is not None
        return self.result


def stream(graph: str | GraphSpec, inputs: Mapping[str, Any] | BaseModel | None = None, *,
           models: Mapping[str, str] | None = None, run_dir: str | Path | None = None, cache: bool = False,
           progress: bool | None = None) -> Run:
    """Start ``graph`` on ``inputs`` in a new run directory; iterate the result to drive it.

    ``models`` maps roles to model strings (``{"default": "local:smollm2-135m", "judge": ...}``).
    ``progress`` shows a live rich display on stderr; by default only when stderr is a terminal.
    """
    spec = graph if isinstance(graph, GraphSpec) else load_graph(graph)
    models = _checked_models(models)
    validated = spec.validate_inputs(dict(inputs or {}) if not isinstance(inputs, BaseModel) else inputs)
    directory = Path(run_dir) if run_dir is not None else _new_run_dir(spec.name)
    if (directory / "run.json").exists():
        raise RunError(f"{directory} already holds a run; resume it with `agentgraphs resume {directory}` or choose a new --run-dir")
    directory.mkdir(parents=True, exist_ok=True)
    write_json(directory / "run.json", {
        "graph": spec.name,
        "inputs": validated.model_dump(mode="json"),
        "input_hashes": {k: _sha256(p) for k, p in spec.input_files(validated).items()},
        "models": _safe_models(models),
        "cache": cache,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
    })
    context = RunContext(models=models, run_dir=str(directory.resolve()), cache=cache)
    return Run(spec=spec, run_dir=directory, graph_input=validated.model_dump(mode="json"), context=context,
               progress=sys.stderr.isatty() if progress is None else progress)


def run(graph: str | GraphSpec, inputs: Mapping[str, Any] | BaseModel | None = None, *,
        models: Mapping[str, str] | None = None, run_dir: str | Path | None = None, cache: bool = False,
        progress: bool = False) -> RunResult:
    """Run ``graph`` to its end (or its first decision point) and return what it made."""
    return stream(graph, inputs, models=models, run_dir=run_dir, cache=cache, progress=progress).wait()


def resume(run_dir: str | Path, *, answer: Any = None, models: Mapping[str, str] | None = None,
           progress: bool | None = None) -> Run:
    """Continue the run in ``run_dir`` from its last checkpoint; iterate the result to drive it.

    ``answer`` replies to the decision point a paused run waits at. ``models`` may swap models
    (say, the one whose server died) for the rest of the run; API keys are never stored, so
    backends that need them read the environment again.
    """
    directory = Path(run_dir)
    record_path = directory / "run.json"
    if not record_path.is_file():
        raise RunError(f"{directory} is not a run directory (no run.json); start one with `agentgraphs run`")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"{record_path} is unreadable ({exc}); the run cannot be resumed") from exc
    spec = load_graph(record["graph"])
    chosen = {**record.get("models", {}), **_checked_models(models)}
    context = RunContext(models=chosen, run_dir=str(directory.resolve()), cache=bool(record.get("cache")))
    has_checkpoint = _has_checkpoint(directory / "checkpoints.sqlite")
    graph_input: Any
    if answer is not None:
        graph_input = Command(resume=answer)
    elif has_checkpoint:
        graph_input = None  # continue from the last saved step
    else:
        graph_input = record["inputs"]  # killed before the first step was saved: start over
    return Run(spec=spec, run_dir=directory, graph_input=graph_input, context=context,
               progress=sys.stderr.isatty() if progress is None else progress)


def _has_checkpoint(path: Path) -> bool:
    if not path.is_file():
        return False
    with closing(sqlite3.connect(path)) as conn:
        try:
            return conn.execute("SELECT 1 FROM checkpoints LIMIT 1").fetchone() is not None
        except sqlite3.OperationalError:
            return False


class _Progress:
    """A one-line-per-node live display on stderr."""

    def __init__(self, graph: str) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.console.print(f"[bold]{graph}[/bold] running…")

    def show(self, event: RunEvent) -> None:
        keys = ", ".join(event.update) if isinstance(event.update, dict) else type(event.update).__name__
        self.console.print(f"  [green]✓[/green] {event.node:<24} [dim]{event.elapsed_s:7.1f} s  {keys}[/dim]")


def _trace_summary(path: Path) -> list[str]:
    if not path.is_file():
        return ["No model calls."]
    per_role: dict[tuple[str, str], list[float]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill mid-write
        row = per_role.setdefault((record.get("role", "?"), record.get("model", "?")), [0, 0, 0, 0.0, 0])
        row[0] += 1
        row[1] += record.get("input_tokens") or 0
        row[2] += record.get("output_tokens") or 0
        row[3] += record.get("latency_s") or 0.0
        row[4] += 1 if record.get("error") else 0
    lines = ["| role | model | calls | tokens in | tokens out | model time (s) | failed |", "|---|---|---|---|---|---|---|"]
    for (role, model), (calls, tin, tout, secs, failed) in sorted(per_role.items()):
        lines.append(f"| {role} | {model} | {calls} | {tin} | {tout} | {secs:.1f} | {failed} |")
    return lines


def _write_report(run_dir: Path, spec: GraphSpec, *, status: str, state: dict[str, Any], elapsed: float) -> None:
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    artefacts = state.get("artefacts") or {}
    lines = [
        f"# {spec.name} run", "",
        f"- status: {status}",
        f"- this session's wall time: {elapsed:.1f} s",
        f"- created: {record.get('created')}",
        f"- inputs: `{json.dumps(record.get('inputs'))}`",
        f"- models: `{json.dumps(record.get('models') or {'default': 'embedded default'})}`",
        "", "## Artefacts", "",
        *([f"- {name}: `{Path(path).name}`" for name, path in sorted(artefacts.items())] or ["None yet."]),
        "", "## Model calls", "", *_trace_summary(run_dir / "trace.jsonl"), "",
    ]
    write_text(run_dir / "run.md", "\n".join(lines))
