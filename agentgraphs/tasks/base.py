"""What an RL task gives a training graph: prompts, the judge's starting rubrics, an optional exact reward.

A task is registered as ``@register("task", name=...)`` on a factory returning :class:`Task`, so a
third-party package adds its own through the ``agentgraphs.plugins`` entry points exactly like the
built-ins. The task object holds callables and is never put in graph state: state keeps the task's
name and :func:`load_task` rebuilds it in each process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agentgraphs.errors import AgentgraphsError
from agentgraphs.registry import create
from agentgraphs.rewards.rubric import Rubric, RubricError

__all__ = ["Task", "TaskError", "load_task"]


class TaskError(AgentgraphsError, ValueError):
    """A task cannot be built: its data is missing or malformed, or a rubric it names does not exist."""


ExactReward = Callable[[str, str], float]
"""``(prompt, completion) → reward`` computed without a model (e.g. MATH's boxed-answer match)."""


@dataclass(frozen=True, kw_only=True)
class Task:
    """Prompts to train on and how a response to them is rewarded."""

    name: str
    prompts: tuple[str, ...]
    rubrics: Mapping[str, str]
    """Named starting rubrics in MPO's text form; ``default`` is used unless the run names another."""
    system_prompt: str | None = None
    exact_reward: ExactReward | None = None
    exact_weight: float = 0.0
    """Weight of ``exact_reward`` beside the judge's (weight 1); 0 when the task has none."""
    judge_reduce: Literal["sum", "normalised"] = "sum"
    """How the judge's criterion scores become one reward: MPO's sum, or normalised to [0, 1]."""
    description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.prompts:
            raise TaskError(f"task {self.name!r} has no prompts")
        if "default" not in self.rubrics:
            raise TaskError(f"task {self.name!r} names no 'default' rubric (it has {sorted(self.rubrics)})")
        if self.exact_weight and self.exact_reward is None:
            raise TaskError(f"task {self.name!r} weights an exact reward it does not define")

    def rubric(self, name_or_path: str | None = None) -> Rubric:
        """The starting rubric: one of the task's by name, a rubric file by path, or ``default``."""
        key = name_or_path or "default"
        if key in self.rubrics:
            text, origin = self.rubrics[key], f"task {self.name!r} rubric {key!r}"
        else:
            path = Path(key).expanduser()
            if not path.is_file():
                raise TaskError(f"initial rubric {key!r} is neither one of task {self.name!r}'s rubrics "
                                f"({', '.join(sorted(self.rubrics))}) nor a file")
            text, origin = path.read_text(encoding="utf-8"), str(path)
        try:
            rubric = Rubric.from_text(text, version=1)
            rubric.max_score()
        except RubricError as exc:
            raise TaskError(f"{origin} is not a usable rubric: {exc}") from exc
        return rubric


def load_task(name: str, **kwargs: Any) -> Task:
    """The registered task ``name`` built with ``kwargs`` (a plug-in's as ``package/name``)."""
    task = create("task", name, **kwargs)
    if not isinstance(task, Task):
        raise TaskError(f"task factory {name!r} returned {type(task).__name__}, not agentgraphs.tasks.Task")
    return task
