"""GRPO checkpoints that count only once complete, and the settings each was trained with.

transformers writes a checkpoint in place (no staging directory), ``trainer_state.json`` last and
without a rename, so a process killed mid-save leaves a directory that looks almost whole. A
checkpoint counts only once :func:`mark_complete` has written its marker file (atomically) after the
save; unmarked ``checkpoint-*`` directories are debris, removed before the next segment. The marker
also records what the checkpoint was trained with, so a resume under other settings is refused.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from agentgraphs.atomic import write_json

__all__ = ["check_resumable", "checkpoints", "latest_checkpoint", "mark_complete", "remove"]

PREFIX = "checkpoint-"
COMPLETE = "agentgraphs-complete.json"
"""Written atomically into a checkpoint directory once transformers has finished saving it."""
_CHECKPOINT = re.compile(rf"^{PREFIX}(\d+)$")


def checkpoints(output_dir: Path) -> list[tuple[int, Path, bool]]:
    """(step, dir, complete) of every ``checkpoint-<n>`` directory, by step."""
    if not output_dir.is_dir():
        return []
    found = []
    for entry in output_dir.iterdir():
        match = _CHECKPOINT.match(entry.name)
        if match and entry.is_dir():
            found.append((int(match.group(1)), entry, (entry / COMPLETE).is_file()))
    return sorted(found)


def latest_checkpoint(output_dir: Path) -> tuple[int, Path] | None:
    """(global step, directory) of the newest complete checkpoint under ``output_dir``, or None.

    A directory counts only when it carries this module's completion marker, which is written after
    transformers has saved weights, optimizer, scheduler, RNG and trainer state; a save cut short by a
    kill is ignored.
    """
    complete = [(step, path) for step, path, done in checkpoints(output_dir) if done]
    return complete[-1] if complete else None


def remove(path: Path) -> None:
    # The marker goes first, so a kill during rmtree leaves an incomplete (ignored) directory.
    (path / COMPLETE).unlink(missing_ok=True)
    shutil.rmtree(path, ignore_errors=True)


def mark_complete(output_dir: Path, step: int, trained_with: dict[str, Any]) -> None:
    """Declare ``checkpoint-<step>`` whole, recording what it was trained with; call after every rank saved."""
    write_json(Path(output_dir) / f"{PREFIX}{step}" / COMPLETE, {"step": step, **trained_with})


def check_resumable(checkpoint: Path, trained_with: dict[str, Any]) -> None:
    """Refuse to continue a checkpoint under other settings: the optimizer, LR schedule and prompt order
    it holds belong to the settings it was trained with, and a silent mix would not be the run asked for."""
    try:
        recorded = json.loads((checkpoint / COMPLETE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return  # the marker exists (latest_checkpoint checked it) but is unreadable: nothing to compare
    def flat(values: dict[str, Any]) -> dict[str, Any]:
        return {f"{k}.{name}" if isinstance(v, dict) else k: value
                for k, v in values.items() for name, value in (v.items() if isinstance(v, dict) else [(k, v)])}

    now, then = flat(trained_with), flat(recorded)
    changed = [f"{key} {then[key]!r} then, {value!r} now" for key, value in now.items() if key in then and then[key] != value]
    if changed:
        raise ValueError(f"{checkpoint} was trained with other settings ({'; '.join(changed)}); resume with the "
                         "settings it was trained with, or train into a new output directory")
