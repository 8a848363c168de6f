"""The exact-match half of MPO's MATH reward: compare a completion's last ``\\boxed{}`` with the solution's.

MPO (arXiv 2504.20157) scores math answers against the MATH reference before any judge sees the
reasoning; this module is that deterministic part. Model text is only ever matched with regular
expressions and parsed with :class:`fractions.Fraction`, never evaluated, so a hostile completion can
at worst score 0.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from agentgraphs.errors import AgentgraphsError

__all__ = [
    "MathAnswerError", "MathProblem", "answers_match", "last_boxed", "load_math_problems", "math_reward",
    "normalize_answer",
]

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
# Rewrites applied in order; each names a habit of MATH solutions or of models imitating them.
_REWRITES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"\\(?:left|right)(?![A-Za-z])"), ""),  # sizing only: \left( means (
    (re.compile(r"\\(?:text|mbox|mathrm)\{[\s~][^{}]*\}"), ""),  # units: \text{ cm}, \text{~inches}
    (re.compile(r"(?<!\\)\\[!,;: ]|~"), ""),  # thin spaces (771,\!400), not the row break \\
    (re.compile(r"\\(?:text|textbf|mbox|mathrm)\{([^{}]*)\}"), r"\1"),  # words kept: \text{Devon}
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\degree"), ""),  # 10^\circ and 10^{\circ} mean 10
    (re.compile(r"\\?\$|\\?%"), ""),  # \$5 means 5, 75\% means 75
    (re.compile(r"\\[dt]frac(?![A-Za-z])"), r"\\frac"),
    (re.compile(r"\s+"), ""),
    (re.compile(r"\\frac(\d|\{[^{}]*\})(\d|\{[^{}]*\})"),
     lambda m: r"\frac" + "".join(a if a[0] == "{" else "{" + a + "}" for a in m.groups())),  # \frac12
    (re.compile(r"\\sqrt(\d)"), r"\\sqrt{\1}"),
    (re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?=(?!=)"), ""),  # x=3 means 3; y=... for a line too
    (re.compile(r"\.+$"), ""),
    (re.compile(r"^\(([A-Ea-e])\)$"), r"\1"),  # multiple choice: (C) means C
]
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_FRACTION = re.compile(r"(-?)(?:\\frac\{(-?\d+)\}\{(-?\d+)\}|(-?\d+)/(-?\d+))")


class MathAnswerError(AgentgraphsError, ValueError):
    """The MATH corpus is missing, or a reference solution has no boxed answer to score against."""


class MathProblem(BaseModel):
    """One MATH test problem with its reference answer already extracted."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    """``<subject>/<file stem>``, e.g. ``algebra/10``: unique across the corpus."""
    subject: str
    level: str
    """As in the data, e.g. ``"Level 3"`` (MATH has a few ``"Level ?"``, so not an int)."""
    problem: str
    solution: str
    answer: str
    """The raw content of the solution's last ``\\boxed{}``, not normalised."""


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{…}``/``\\fbox{…}`` (or ``\\boxed 5``), or None if absent or unbalanced.

    Only the last box counts because solutions and models box intermediate results on the way.
    Braces are counted, skipping escaped ``\\{``/``\\}``, so ``\\boxed{\\frac{1}{2}}`` is whole.
    """
    matches = list(_BOX.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end():]
    if rest[:1] == " " and (m := re.match(r" +([^\s${}]+)", rest)):
        return m.group(1)
    rest = rest.lstrip()
    if not rest.startswith("{"):
        return None
    depth, i = 0, 0
    while i < len(rest):
        char = rest[i]
        if char == "\\":
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return rest[1:i].strip()
        i += 1
    return None


def normalize_answer(ans: str) -> str:
    """Canonical text of an answer, so that notational variants of one value compare equal as strings."""
    out = ans.strip()
    for pattern, repl in _REWRITES:
        out = pattern.sub(repl, out)
    if _THOUSANDS.fullmatch(out):
        out = out.replace(",", "")
    return out


def _as_fraction(norm: str) -> Fraction | None:
    # Length cap: int() refuses over 4300 digits, and no MATH answer is near this long.
    if len(norm) > 100:
        return None
    if _DECIMAL.fullmatch(norm):
        return Fraction(norm)
    if m := _FRACTION.fullmatch(norm):
        num, den = (m.group(2), m.group(3)) if m.group(2) is not None else (m.group(4), m.group(5))
        if int(den) == 0:
            return None
        return Fraction(int(num), int(den)) * (-1 if m.group(1) else 1)
    return None


def answers_match(predicted: str, reference: str) -> bool:
    """True when both answers normalise to the same text, or both are numbers of equal exact value.

    Numeric equality is exact (``0.5`` equals ``\\frac{1}{2}``, ``0.33`` does not equal ``\\frac13``).
    """
    p, r = normalize_answer(predicted), normalize_answer(reference)
    if p == r:
        return True
    pf, rf = _as_fraction(p), _as_fraction(r)
    return pf is not None and pf == rf


def math_reward(completion: str, solution: str) -> float:
    """1.0 if the completion's last boxed answer matches the solution's, else 0.0 (also when unboxed).

    A solution without a boxed answer raises :class:`MathAnswerError`: that is broken reference data,
    and scoring it 0 would silently punish the policy.
    """
    reference = last_boxed(solution)
    if reference is None:
        raise MathAnswerError(f"reference solution has no \\boxed{{}} answer: {solution[:200]!r}")
    predicted = last_boxed(completion)
    return float(predicted is not None and answers_match(predicted, reference))


def load_math_problems(root: str | Path) -> list[MathProblem]:
    """Every ``<root>/<subject>/<id>.json`` MATH problem, sorted by subject then numeric id."""
    root = Path(root)
    if not root.is_dir():
        raise MathAnswerError(f"MATH folder not found: {root}; pass the folder holding <subject>/<id>.json")
    files = sorted(root.glob("*/*.json"), key=lambda f: (f.parent.name, len(f.stem), f.stem))  # 9 before 10
    if not files:
        raise MathAnswerError(f"no <subject>/<id>.json files under {root}")
    problems = []
    for file in files:
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
            answer = last_boxed(raw["solution"])
            if answer is None:
                raise MathAnswerError(f"{file}: solution has no balanced \\boxed{{}} answer")
            problems.append(MathProblem(
                id=f"{file.parent.name}/{file.stem}", subject=file.parent.name, level=raw["level"],
                problem=raw["problem"], solution=raw["solution"], answer=answer,
            ))
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValidationError) as error:
            raise MathAnswerError(f"{file}: not a MATH problem record ({error!r})") from error
    return problems
