"""RL tasks: real prompts from the shared MPO data, usable starting rubrics, MATH's exact reward,
clear errors for missing data, and third-party tasks registered like the built-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentgraphs.errors import RegistryError
from agentgraphs.registry import names
from agentgraphs.rewards.math_answer import load_math_problems
from agentgraphs.tasks import Task, TaskError, load_task


def test_essay_prompts_are_the_distinct_queries_of_the_details_file(shared_data: Path) -> None:
    task = load_task("essay_writing", data_dir=shared_data)
    assert len(task.prompts) == 147  # 150 decisions, three prompts asked twice
    assert len(set(task.prompts)) == len(task.prompts)
    assert task.prompts[0].startswith("Write an essay that refutes the claim that printing money")
    assert len(load_task("essay_writing", data_dir=shared_data, limit=5).prompts) == 5


def test_the_task_rubrics_parse_with_score_ranges(shared_data: Path) -> None:
    task = load_task("essay_writing", data_dir=shared_data)
    default, exploitable = task.rubric(), task.rubric("exploitable")
    assert default.version == 1 and default.max_score() == 20
    assert [c.name for c in exploitable.criteria] == ["Title", "Concision", "Topic"]
    assert "argument" not in exploitable.to_text().lower()  # what makes it gameable
    assert load_task("math", data_dir=shared_data).rubric().max_score() == 10


def test_math_mixes_an_exact_boxed_match_with_the_judge(shared_data: Path) -> None:
    task = load_task("math", data_dir=shared_data)
    problems = load_math_problems(shared_data / "mpo" / "corpora" / "MATH" / "test")
    assert len(task.prompts) == 280 and task.exact_weight == 1.0 and task.judge_reduce == "normalised"
    first = problems[0]
    assert task.exact_reward is not None
    assert task.exact_reward(first.problem, f"So the answer is \\boxed{{{first.answer}}}.") == 1.0
    assert task.exact_reward(first.problem, "I think it is \\boxed{not-the-answer}") == 0.0
    assert task.exact_reward("a prompt the task never asked", f"\\boxed{{{first.answer}}}") == 0.0


def test_missing_data_names_the_path_and_the_variable(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="AGENTGRAPHS_SHARED_DATA") as caught:
        load_task("essay_writing", data_dir=tmp_path)
    assert str(tmp_path) in str(caught.value)
    with pytest.raises(TaskError, match="MATH folder not found"):
        load_task("math", data_dir=tmp_path)


def test_a_rubric_file_or_an_unknown_name(shared_data: Path, tmp_path: Path) -> None:
    task = load_task("essay_writing", data_dir=shared_data)
    mine = tmp_path / "rubric.txt"
    mine.write_text("<rubric><item>### Wit\nIs it witty? Score from 0 to 3.</item></rubric>")
    assert task.rubric(str(mine)).max_score() == 3
    with pytest.raises(TaskError, match="neither one of task 'essay_writing'"):
        task.rubric("no-such-rubric")
    (tmp_path / "bad.txt").write_text("just prose, no rubric block")
    with pytest.raises(TaskError, match="not a usable rubric"):
        task.rubric(str(tmp_path / "bad.txt"))


def test_a_third_party_task_registers_and_loads_like_a_built_in() -> None:
    assert "agentgraphs_demo_plugin/haiku" in names("task")  # found through the plug-in's entry point
    task = load_task("agentgraphs_demo_plugin/haiku", limit=2)
    assert len(task.prompts) == 2 and task.rubric().max_score() == 6
    with pytest.raises(RegistryError, match="no task named 'nobody/nothing'"):
        load_task("nobody/nothing")


def test_a_task_without_prompts_or_default_rubric_is_refused() -> None:
    with pytest.raises(TaskError, match="no prompts"):
        Task(name="empty", prompts=(), rubrics={"default": "x"})
    with pytest.raises(TaskError, match="no 'default' rubric"):
        Task(name="nameless", prompts=("p",), rubrics={"other": "x"})
