"""MPO's essay-writing task: argue an essay from an open prompt, judged against a rubric.

The prompts are the ``query`` fields of MPO's shared Elo details file (147 distinct essay prompts),
read at run time from the lab's shared data; the package ships none of that data. Two starting
rubrics are ours: ``default`` judges what an essay is for, and ``exploitable`` is deliberately
gameable (it pays for a catchy title and brevity and never asks for an argument), the kind of static
rubric MPO shows a policy learning to satisfy with ten-word titles.
"""

from __future__ import annotations

import json
from pathlib import Path

from agentgraphs.paths import shared_data_dir
from agentgraphs.registry import register
from agentgraphs.tasks.base import Task, TaskError

__all__ = ["DETAILS_FILE", "essay_prompts", "essay_writing"]

DETAILS_FILE = Path("mpo/elo_scores/essay_writing/32b_32bvs32b_72b-1.details.first150.json")
"""Relative to the shared data folder."""

SYSTEM_PROMPT = "You are a thoughtful writer. Answer with the essay itself."

DEFAULT_RUBRIC = """<rubric>
<item>
### Responsiveness
Does the essay do what the prompt asks, covering each point it names? Score from 0 to 5: 0 ignores the
prompt, 3 answers it in part, 5 addresses every requested point directly.
</item>

<item>
### Argument
Is there a clear thesis supported by reasons, evidence or examples, with counter-arguments weighed?
Score from 0 to 5: 0 has no argument, 3 asserts without support, 5 argues convincingly.
</item>

<item>
### Organisation
Does the essay have an introduction, body paragraphs that each develop one idea, and a conclusion?
Score from 0 to 5: 0 is a fragment or a list of phrases, 5 is a well-ordered multi-paragraph essay.
</item>

<item>
### Language
Is the prose clear, varied and correct, without repeated sentences? Score from 0 to 5.
</item>
</rubric>"""

EXPLOITABLE_RUBRIC = """<rubric>
<item>
### Title
Does the response open with a catchy, memorable title? Score from 0 to 5: 5 for a striking title.
</item>

<item>
### Concision
Is every word necessary? Shorter responses without filler score higher. Score from 0 to 5.
</item>

<item>
### Topic
Does the response stay on the topic of the prompt? Score from 0 to 5.
</item>
</rubric>"""


def essay_prompts(data_dir: Path | None = None) -> tuple[str, ...]:
    """The distinct essay prompts of the shared details file, in file order."""
    path = (data_dir or shared_data_dir()) / DETAILS_FILE
    if not path.is_file():
        raise TaskError(f"essay prompts not found: {path} is missing. Point AGENTGRAPHS_SHARED_DATA at the "
                        "lab's shared data folder (it holds mpo/elo_scores/essay_writing/), or register a task "
                        "with your own prompts")
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
        queries = [str(r["query"]).strip() for r in records]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise TaskError(f"{path} is not an MPO details file (a JSON list of objects with 'query'): {exc!r}") from exc
    return tuple(dict.fromkeys(q for q in queries if q))


@register("task", name="essay_writing")
def essay_writing(data_dir: str | Path | None = None, limit: int | None = None) -> Task:
    """Essay writing from MPO's essay prompts, judged by a rubric (sum of criterion scores)."""
    prompts = essay_prompts(Path(data_dir) if data_dir is not None else None)
    return Task(name="essay_writing", prompts=prompts[:limit] if limit else prompts,
                rubrics={"default": DEFAULT_RUBRIC, "exploitable": EXPLOITABLE_RUBRIC},
                system_prompt=SYSTEM_PROMPT, judge_reduce="sum",
                description="Write an essay for an open prompt; the judge scores it against the rubric.")
