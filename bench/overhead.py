"""What ``agentgraphs.run`` costs on top of plain LangGraph, per run and per step.

A chain of 20 trivial nodes (each adds 1 to a counter) is run three ways, interleaved rep by rep:

- ``agentgraphs.run``: a fresh run directory with ``run.json``, the SQLite checkpointer written
  synchronously after every node, ``report.md``;
- plain LangGraph with the same ``SqliteSaver`` on a fresh SQLite file and a fresh thread per run,
  ``durability="sync"`` (what the framework should cost at most 1.2× of);
- plain LangGraph compiled once without a checkpointer (the anchor: what checkpointing itself costs).

Two more variants say where checkpointing time goes (for information; not part of any goal): the
same SqliteSaver with ``PRAGMA synchronous=NORMAL`` (WAL without an fsync per commit; still safe
against a killed process, not against power loss) and on ``:memory:`` (no disk at all).

``--profile`` adds a cProfile of framework runs, to say where any extra time goes.

    python bench/overhead.py [--reps 30] [--nodes 20] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sqlite3
import sys
import tempfile
import uuid
from contextlib import closing
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel
from typing_extensions import TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import console, header, interleaved, median, ratio, table  # noqa: E402

import agentgraphs  # noqa: E402
from agentgraphs.graph_spec import GraphSpec  # noqa: E402

GOAL = 1.2


class Counter(TypedDict):
    counter: int


class CounterInputs(BaseModel):
    counter: int = 0


def _step(state: Counter) -> dict[str, int]:
    return {"counter": state["counter"] + 1}


def chain(nodes: int) -> StateGraph:
    """START → n0 → n1 → … → END, every node a trivial increment."""
    graph = StateGraph(Counter)
    names = [f"n{i}" for i in range(nodes)]
    for name in names:
        graph.add_node(name, _step)
    graph.add_edge(START, names[0])
    for left, right in zip(names, names[1:]):
        graph.add_edge(left, right)
    graph.add_edge(names[-1], END)
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=30, help="interleaved repetitions (default 30)")
    parser.add_argument("--nodes", type=int, default=20, help="nodes in the chain (default 20)")
    parser.add_argument("--profile", action="store_true", help="also cProfile framework runs")
    args = parser.parse_args()

    nodes = args.nodes
    spec = GraphSpec(name="bench-chain", description="trivial counter chain", build=lambda: chain(nodes),
                     inputs=CounterInputs, main_artefact=None)
    plain = chain(nodes).compile()

    with tempfile.TemporaryDirectory(prefix="agentgraphs-bench-") as tmp:
        root = Path(tmp)

        def framework() -> None:
            result = agentgraphs.run(spec, {"counter": 0}, run_dir=root / f"run-{uuid.uuid4().hex}")
            assert result.state["counter"] == nodes, result.state

        def sqlite_plain() -> None:
            path = root / f"plain-{uuid.uuid4().hex}.sqlite"
            with closing(sqlite3.connect(path, check_same_thread=False)) as conn:
                graph = chain(nodes).compile(checkpointer=SqliteSaver(conn))
                config = {"configurable": {"thread_id": uuid.uuid4().hex}}
                state = graph.invoke({"counter": 0}, config, durability="sync")
            assert state["counter"] == nodes, state

        def sqlite_variant(database: str, pragma: str | None) -> None:
            with closing(sqlite3.connect(database, check_same_thread=False)) as conn:
                saver = SqliteSaver(conn)
                if pragma:
                    saver.setup()  # WAL mode first, as SqliteSaver does; then the pragma on top
                    conn.execute(pragma)
                graph = chain(nodes).compile(checkpointer=saver)
                config = {"configurable": {"thread_id": uuid.uuid4().hex}}
                state = graph.invoke({"counter": 0}, config, durability="sync")
            assert state["counter"] == nodes, state

        def sqlite_normal() -> None:
            sqlite_variant(str(root / f"normal-{uuid.uuid4().hex}.sqlite"), "PRAGMA synchronous=NORMAL")

        def sqlite_memory() -> None:
            sqlite_variant(":memory:", None)

        def no_checkpointer() -> None:
            state = plain.invoke({"counter": 0})
            assert state["counter"] == nodes, state

        header(f"overhead: {nodes}-node chain, {args.reps} interleaved reps",
               "framework = agentgraphs.run (run dir, run.json, SQLite sync checkpoints, report.md); "
               "plain+SqliteSaver compiles per run (the checkpointer binds at compile), fresh file and thread")
        times = interleaved({"agentgraphs.run": framework, "LangGraph + SqliteSaver": sqlite_plain,
                             "LangGraph, no checkpointer": no_checkpointer,
                             "(info) SqliteSaver, synchronous=NORMAL": sqlite_normal,
                             "(info) SqliteSaver on :memory:": sqlite_memory}, args.reps, warmup=2)

        rows = [(name, f"{median(t) * 1e3:.2f}", f"{median(t) * 1e3 / nodes:.3f}",
                 f"{min(t) * 1e3:.2f}", f"{max(t) * 1e3:.2f}") for name, t in times.items()]
        console.print(table("ms per run (median of interleaved reps)",
                            ["variant", "ms/run", "ms/step", "min ms", "max ms"], rows))
        fw = ratio(times["agentgraphs.run"], times["LangGraph + SqliteSaver"])
        anchor = ratio(times["LangGraph + SqliteSaver"], times["LangGraph, no checkpointer"])
        extra = (median(times["agentgraphs.run"]) - median(times["LangGraph + SqliteSaver"])) * 1e3
        console.print(table("ratios (median / median)", ["ratio", "value", "goal"], [
            ("agentgraphs.run / LangGraph + SqliteSaver", f"{fw:.2f}×", f"≤ {GOAL}× {'met' if fw <= GOAL else 'NOT met'}"),
            ("framework extra per run", f"{extra:.2f} ms", ""),
            ("LangGraph + SqliteSaver / no checkpointer", f"{anchor:.2f}×", "anchor (5.35× measured before)"),
        ]))

        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(max(10, args.reps // 2)):
                framework()
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.strip_dirs().sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(15)
            print(out.getvalue())  # plain print: rich would re-wrap pstats' fixed-width columns


if __name__ == "__main__":
    main()
