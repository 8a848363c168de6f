"""The MATH exact-match reward on the 280 real MPO test problems, plus the notational edge cases."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from agentgraphs.errors import AgentgraphsError
from agentgraphs.rewards.math_answer import (
    MathAnswerError,
    MathProblem,
    answers_match,
    last_boxed,
    load_math_problems,
    math_reward,
    normalize_answer,
)


@pytest.fixture(scope="module")
def problems(shared_data: Path) -> list[MathProblem]:
    return load_math_problems(shared_data / "mpo" / "corpora" / "MATH" / "test")


def test_all_280_solutions_have_a_boxed_answer_and_match_themselves(problems: list[MathProblem]) -> None:
    assert len(problems) == 280
    assert len({p.id for p in problems}) == 280
    assert {p.subject for p in problems} == {
        "algebra", "counting_and_probability", "geometry", "intermediate_algebra",
        "number_theory", "prealgebra", "precalculus",
    }
    for p in problems:
        assert p.answer == last_boxed(p.solution)
        assert math_reward(p.solution, p.solution) == 1.0, p.id
        # A completion that only states the answer also scores, whatever the reasoning around it.
        assert math_reward(f"So the answer is $\\boxed{{{p.answer}}}$.", p.solution) == 1.0, p.id


def test_other_problems_solutions_score_zero(problems: list[MathProblem]) -> None:
    # Not 100 %: MATH answers are often small integers (0, 2, 36, ...), so two different problems
    # share an answer by coincidence; every match found must be such a coincidence.
    rng = random.Random(0)
    pairs = [tuple(rng.sample(problems, 2)) for _ in range(2000)]
    matched = [(a, b) for a, b in pairs if math_reward(a.solution, b.solution) == 1.0]
    assert len(matched) <= 0.05 * len(pairs)
    for a, b in matched:
        assert normalize_answer(a.answer) == normalize_answer(b.answer) or answers_match(a.answer, b.answer)
    assert all(math_reward(a.solution, b.solution) == 0.0 for a, b in pairs
               if normalize_answer(a.answer) != normalize_answer(b.answer))


@pytest.mark.parametrize(("text", "expected"), [
    (r"so $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
    (r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}"),
    (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),  # escaped braces do not count
    (r"\fbox{7}", "7"),
    (r"the answer is $\boxed 5$.", "5"),
    (r"first $\boxed{3}$, then on reflection $\boxed{4}$", "4"),
    ("no box here", None),
    (r"\boxed{\frac{1}{2}", None),  # unbalanced
    (r"\boxed{", None),
    (r"\boxed", None),
    (r"\boxed}{", None),
    ("\\boxed{x\\", None),  # trailing backslash
])
def test_last_boxed(text: str, expected: str | None) -> None:
    assert last_boxed(text) == expected


@pytest.mark.parametrize(("a", "b"), [
    (r"\dfrac{1}{2}", r"\frac12"),
    (r"\tfrac{3}{4}", r"\frac{3}4"),
    (r"10^\circ", "10"),
    (r"10^{\circ}", "10"),
    (r"\$5", "5"),
    ("x = 3", "3"),
    ("0.5", r"\frac{1}{2}"),
    ("-0.25", r"-\frac{1}{4}"),
    ("5.0", "5"),
    ("3/4", r"\frac{3}{4}"),
    (r"\left( 1, 2 \right)", "(1,2)"),
    (r"9 \text{ cm}", "9"),
    (r"8\pi\text{~inches}", r"8\pi"),
    (r"771,\!400", "771400"),
    (r"28\%", "28"),
    ("7.", "7"),
    (r"\text{(C)}", "C"),
    (r"2\sqrt2", r"2\sqrt{2}"),
])
def test_equivalent_answers_match(a: str, b: str) -> None:
    assert answers_match(a, b)
    assert answers_match(b, a)


@pytest.mark.parametrize(("a", "b"), [
    ("3", "4"),
    ("0.33", r"\frac{1}{3}"),  # exact, not approximate
    (r"\frac{1}{0}", r"\frac{2}{0}"),
    ("0,1", "01"),  # a list is not a thousands-separated number
    ("2", r"\sqrt{2}"),
    ("1" * 5000, "1" * 4999 + "2"),  # too long to parse as a number; still compared safely
])
def test_different_answers_do_not_match(a: str, b: str) -> None:
    assert not answers_match(a, b)


def test_reward_uses_the_last_boxed_answer_and_zero_without_one() -> None:
    solution = r"Thus $x = \boxed{\frac{1}{2}}$."
    assert math_reward(r"$\boxed{3}$ no wait, $\boxed{\dfrac12}$", solution) == 1.0
    assert math_reward(r"$\boxed{\frac12}$ no wait, $\boxed{3}$", solution) == 0.0
    assert math_reward("the answer is 1/2", solution) == 0.0
    assert math_reward(r"\boxed{\frac{1}{2}", solution) == 0.0
    assert math_reward(r"\boxed{__import__('os').system('true')}", solution) == 0.0
    with pytest.raises(MathAnswerError, match="no \\\\boxed"):
        math_reward(r"\boxed{1}", "the answer is one")


def test_load_errors_name_the_folder_and_the_file(tmp_path: Path) -> None:
    assert issubclass(MathAnswerError, AgentgraphsError) and issubclass(MathAnswerError, ValueError)
    with pytest.raises(MathAnswerError, match="not found"):
        load_math_problems(tmp_path / "missing")
    with pytest.raises(MathAnswerError, match="no <subject>"):
        load_math_problems(tmp_path)
    (tmp_path / "algebra").mkdir()
    record = {"problem": "1+1?", "level": "Level 1", "type": "Algebra", "solution": "It is 2."}
    (tmp_path / "algebra" / "7.json").write_text(json.dumps(record))
    with pytest.raises(MathAnswerError, match=r"7\.json.*no balanced"):
        load_math_problems(tmp_path)
    (tmp_path / "algebra" / "7.json").write_text(json.dumps({**record, "solution": r"$\boxed{2}$"}))
    (tmp_path / "algebra" / "8.json").write_text("{not json")
    with pytest.raises(MathAnswerError, match=r"8\.json"):
        load_math_problems(tmp_path)
    (tmp_path / "algebra" / "8.json").unlink()
    [problem] = load_math_problems(tmp_path)
    assert (problem.id, problem.subject, problem.level, problem.answer) == ("algebra/7", "algebra", "Level 1", "2")
