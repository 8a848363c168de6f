"""MATH problems: the exact ``\\boxed{}`` answer match mixed with a judge scoring the reasoning, as MPO does.

The 280 problems are read at run time from the shared MPO corpus (``mpo/corpora/MATH/test``). The
exact match (0 or 1) and the judge's normalised rubric score (0 to 1) are added with equal weight,
so a right answer with muddled reasoning still beats a fluent wrong one.
"""

from __future__ import annotations

from pathlib import Path

from agentgraphs.paths import shared_data_dir
from agentgraphs.registry import register
from agentgraphs.rewards.math_answer import MathAnswerError, load_math_problems, math_reward
from agentgraphs.tasks.base import Task, TaskError

__all__ = ["MATH_DIR", "math"]

MATH_DIR = Path("mpo/corpora/MATH/test")
"""Relative to the shared data folder."""

SYSTEM_PROMPT = "Solve the problem step by step, then give the final answer as \\boxed{answer}."

DEFAULT_RUBRIC = """<rubric>
<item>
### Reasoning
Are the steps correct and each justified by the previous ones? Score from 0 to 5: 0 is wrong or absent
reasoning, 5 is a complete and correct derivation.
</item>

<item>
### Answer format
Is exactly one final answer given, in \\boxed{}, in simplest form? Score from 0 to 2.
</item>

<item>
### Clarity
Can a student follow the solution without guessing what was done? Score from 0 to 3.
</item>
</rubric>"""


@register("task", name="math")
def math(data_dir: str | Path | None = None, limit: int | None = None) -> Task:
    """MATH problems: boxed-answer exact match (weight 1) plus the judge's normalised rubric score."""
    root = (Path(data_dir) if data_dir is not None else shared_data_dir()) / MATH_DIR
    try:
        problems = load_math_problems(root)
    except MathAnswerError as exc:
        raise TaskError(f"{exc}. Point AGENTGRAPHS_SHARED_DATA at the lab's shared data folder "
                        "(it holds mpo/corpora/MATH/test/)") from exc
    problems = problems[:limit] if limit else problems
    solutions = {p.problem: p.solution for p in problems}

    def boxed_match(prompt: str, completion: str) -> float:
        solution = solutions.get(prompt)
        return 0.0 if solution is None else math_reward(completion, solution)

    return Task(name="math", prompts=tuple(solutions), rubrics={"default": DEFAULT_RUBRIC},
                system_prompt=SYSTEM_PROMPT, exact_reward=boxed_match, exact_weight=1.0,
                judge_reduce="normalised", description="MATH problems; exact answer match plus a judged solution.")
