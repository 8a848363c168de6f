"""LawFlow's decision points: the choices a lawyer, not the assistant, makes during a formation.

The paper (arXiv 2504.18942) finds lawyers want AI to support decisions rather than take them, so
the graph stops at each of these for a person's answer (an ``interrupt``), after the advisor has
laid out options, blind spots and alternatives. The options are fixed per decision point, which is
what lets a ``--decisions`` file be checked before a run starts and lets the drafter key the
deliverables off the answers. Tax options depend on the entity chosen (an S election for a sole
proprietorship is not a thing), so :func:`options_for` narrows them once the entity is known.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentgraphs.errors import GraphInputError
from agentgraphs.evals.lawflow_data import LawflowDataError, Plan, Scenario, parse_plan_text

__all__ = [
    "DECISION_POINTS",
    "PLAN_REVIEW",
    "Decision",
    "DecisionPoint",
    "applicable_points",
    "decisions_text",
    "edited_plan",
    "load_decisions",
    "options_for",
    "parse_answer",
    "parse_plan_answer",
    "triggered_point",
]

DecisionId = Literal["client_conflicts", "entity_type", "tax_treatment"]
PLAN_REVIEW = "plan"
"""The key of the plan review in a decisions file (``"accept"``, or a replacement plan)."""


class DecisionPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: DecisionId
    question: str
    options: dict[str, str]
    """Option id → what it means, in the order the advisor and the terminal list them."""
    trigger: str
    """A regular expression over plan-node titles: visiting a matching node raises this point."""
    multi_client_only: bool = False


DECISION_POINTS: dict[str, DecisionPoint] = {p.id: p for p in (
    DecisionPoint(
        id="client_conflicts",
        question="Several people seek the formation together. Can you represent all of them?",
        options={
            "joint_with_consent": "represent all clients jointly after disclosing the conflicts and getting informed written consent",
            "entity_only": "represent the new entity only and tell each person to get their own counsel",
            "one_client": "represent one client and refer the others to separate lawyers",
            "decline": "decline the matter: the interests diverge too much to represent anyone fairly",
        },
        trigger=r"represent|conflict|all clients|interests of",
        multi_client_only=True,
    ),
    DecisionPoint(
        id="entity_type",
        question="Which form should the business take?",
        options={
            "sole_proprietorship": "no entity: the owner runs the business personally",
            "general_partnership": "a general partnership between the owners, with a partnership agreement",
            "llc": "a limited liability company with an operating agreement",
            "corporation": "a business corporation with bylaws and a shareholder agreement",
            "nonprofit_corporation": "a nonprofit corporation, possibly seeking tax exemption",
        },
        trigger=r"entity|recommendation|business form|structure",
    ),
    DecisionPoint(
        id="tax_treatment",
        question="How should the business be taxed?",
        options={
            "disregarded_entity": "income reported on the single owner's own return (Schedule C)",
            "partnership": "pass-through partnership taxation (Form 1065, K-1s to the owners)",
            "s_corporation": "an S-corporation election (Form 2553): pass-through with salary and distributions",
            "c_corporation": "taxed as a C corporation: entity-level tax, then tax on dividends",
            "tax_exempt": "apply for 501(c)(3) exemption (Form 1023)",
        },
        trigger=r"tax",
    ),
)}

_TAX_BY_ENTITY: dict[str, tuple[str, ...]] = {
    "sole_proprietorship": ("disregarded_entity",),
    "general_partnership": ("partnership",),
    "llc": ("disregarded_entity", "partnership", "s_corporation", "c_corporation"),
    "corporation": ("c_corporation", "s_corporation"),
    "nonprofit_corporation": ("tax_exempt",),
}


class Decision(BaseModel):
    """A decision taken: the option, why, and who answered (a person, a decisions file, Studio)."""

    point: DecisionId
    choice: str
    rationale: str = ""
    source: str = Field(description="'decisions file', 'terminal', or 'resume' (Studio, API, `agentgraphs resume`).")


def applicable_points(scenario: Scenario) -> list[str]:
    """The decision points this scenario raises, in the order they must be taken."""
    return [p.id for p in DECISION_POINTS.values() if not p.multi_client_only or scenario.clients > 1]


def options_for(point: str, decisions: Mapping[str, Any]) -> dict[str, str]:
    """The point's options, tax narrowed to what the entity already chosen allows."""
    options = DECISION_POINTS[point].options
    entity = decisions.get("entity_type")
    if point == "tax_treatment" and entity is not None:
        allowed = _TAX_BY_ENTITY[entity["choice"] if isinstance(entity, Mapping) else entity]
        return {k: v for k, v in options.items() if k in allowed}
    return dict(options)


def decisions_text(decisions: Mapping[str, Any]) -> str:
    """The decisions taken (:class:`Decision` dumps) as prompt lines, rationale included; "(none yet)" before any."""
    return "\n".join(f"- {d['point']}: {d['choice']}" + (f" (because {d['rationale']})" if d.get("rationale") else "")
                     for d in decisions.values()) or "(none yet)"


def triggered_point(title: str, pending: list[str]) -> str | None:
    """The first undecided point whose trigger matches ``title``; entity comes before tax."""
    for point in pending:
        if re.search(DECISION_POINTS[point].trigger, title, flags=re.IGNORECASE):
            if point == "tax_treatment" and "entity_type" in pending:
                return "entity_type"
            return point
    return None


def parse_answer(point: str, answer: Any, decisions: Mapping[str, Any], *, source: str) -> Decision:
    """A person's answer (an option id, or ``{"choice": ..., "rationale": ...}``) checked against the options.

    Raises :class:`GraphInputError` naming the point and the options it allows.
    """
    options = options_for(point, decisions)
    if isinstance(answer, Mapping):
        choice, rationale = answer.get("choice"), answer.get("rationale", "")
    else:
        choice, rationale = answer, ""
    if not isinstance(choice, str) or not isinstance(rationale, str):
        raise GraphInputError(f"the answer to decision point {point!r} must be an option id or "
                              f"{{\"choice\": ..., \"rationale\": ...}} with text values; got {answer!r}")
    key = choice.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in options:
        raise GraphInputError(f"{choice!r} is not an option of decision point {point!r}; choose one of "
                              f"{', '.join(options)}")
    return Decision(point=point, choice=key, rationale=rationale.strip(), source=source)  # type: ignore[arg-type]


def parse_plan_answer(answer: Any) -> str | None:
    """``None`` to keep the plan; else the replacement plan text (``{"plan": TEXT}`` or ``{"plan_file": PATH}``)."""
    if answer is None or (isinstance(answer, str) and answer.strip().lower() in ("accept", "ok", "yes", "")):
        return None
    if isinstance(answer, Mapping):
        if answer.get("choice", "replace") == "accept":
            return None
        if isinstance(answer.get("plan"), str):
            return str(answer["plan"])
        if isinstance(answer.get("plan_file"), str):
            path = Path(answer["plan_file"]).expanduser()
            if not path.is_file():
                raise GraphInputError(f"plan file {path} does not exist; give a numbered plan (\"1. Title\", "
                                      "\"1.1 Title\" …) or answer \"accept\"")
            return path.read_text(encoding="utf-8")
    raise GraphInputError(f"the plan review takes \"accept\", {{\"plan\": TEXT}} or {{\"plan_file\": PATH}}; got {answer!r}")


def edited_plan(answer: Any, *, name: str) -> Plan | None:
    """The plan a review answer puts in place (``None``: keep the current one); a plan that does not
    parse into a tree raises :class:`LawflowDataError` naming the problem."""
    text = parse_plan_answer(answer)
    if text is None:
        return None
    plan = parse_plan_text(text, name=name)
    if not plan.nodes:
        raise LawflowDataError("the edited plan has no numbered lines ('1. Title', '1.1 Title' …)")
    return plan


def load_decisions(path: str | Path, scenario: Scenario) -> dict[str, Any]:
    """A decisions file checked against the scenario's decision points: one answer for each, no others.

    The file is a JSON object: optional ``"plan"`` (the plan review) and, per decision point, an
    option id or ``{"choice": ..., "rationale": ...}``. Raises :class:`GraphInputError` naming the
    file and the first item that does not match.
    """
    file = Path(path)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GraphInputError(f"decisions file {file} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GraphInputError(f"decisions file {file} is not readable JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise GraphInputError(f"decisions file {file} must hold a JSON object keyed by decision point")
    points = applicable_points(scenario)
    for key in raw:
        if key != PLAN_REVIEW and key not in points:
            why = ("it applies only when several clients seek the formation"
                   if key in DECISION_POINTS else "no such decision point")
            raise GraphInputError(f"decisions file {file} answers {key!r} but {scenario.id} has no such decision "
                                  f"({why}); its decision points are {', '.join(points)} (and 'plan')")
    decided: dict[str, Any] = {}
    for point in points:
        if point not in raw:
            raise GraphInputError(f"decisions file {file} has no answer for decision point {point!r} of {scenario.id} "
                                  f"(options: {', '.join(options_for(point, decided))})")
        try:
            decided[point] = parse_answer(point, raw[point], decided, source="decisions file").model_dump()
        except GraphInputError as exc:
            raise GraphInputError(f"decisions file {file}: {exc}") from None
    if PLAN_REVIEW in raw:
        try:
            edited_plan(raw[PLAN_REVIEW], name="edited")  # a bad plan fails now, not mid-run
        except LawflowDataError as exc:
            raise GraphInputError(f"decisions file {file}: the plan under 'plan' is not a plan tree: {exc}") from None
    return {**raw, **decided}
