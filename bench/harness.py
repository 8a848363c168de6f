"""What the benchmarks here share: the shared data folder, interleaved repetitions, medians, tables.

The machines these run on are small and often shared with test runs, so absolute timings swing by
30–50 %. Every benchmark therefore measures the framework and its baseline in the same process,
alternating them rep by rep (ABAB…), and reports medians and ratios: noise then hits both sides.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from statistics import median
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

__all__ = ["PeakRss", "console", "header", "interleaved", "median", "ratio", "shared_data", "table"]

# Wide enough for the tables when the output is piped to a file (rich's default there is 80).
console = Console(width=max(150, shutil.get_terminal_size().columns))


def shared_data() -> Path:
    """The real test data (``../shared/data`` beside the repo), or ``$AGENTGRAPHS_SHARED_DATA``."""
    explicit = os.environ.get("AGENTGRAPHS_SHARED_DATA")
    path = Path(explicit) if explicit else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not path.is_dir():
        raise SystemExit(f"shared data not found at {path}; set AGENTGRAPHS_SHARED_DATA to the data folder")
    return path


def interleaved(variants: Mapping[str, Callable[[], Any]], reps: int, *, warmup: int = 1) -> dict[str, list[float]]:
    """Wall seconds of each variant, ``reps`` times, the variants alternating within every rep.

    ``warmup`` untimed rounds first (imports, first compilations, connection pools). The order of
    the variants rotates each rep so none always runs right after the same neighbour.
    """
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - started)
    return times


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Median over median: the ratio the README quotes."""
    return median(numerator) / median(denominator)


def header(title: str, note: str = "") -> None:
    """The benchmark's name, the time and the machine's load, which tells how noisy the run was."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    console.print(f"[bold]{title}[/bold]  {stamp}, {os.cpu_count()} cores, load average "
                  f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if note:
        console.print(note)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A rich table; numbers right-aligned."""
    out = Table(title=title)
    for index, column in enumerate(columns):
        out.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        out.add_row(*(str(cell) for cell in row))
    return out


class PeakRss:
    """Largest RSS of this process plus all its descendants, sampled in a background thread."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
