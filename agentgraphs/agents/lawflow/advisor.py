"""LawFlow's decision-point advisor: brainstorm, blind spots and alternatives, never the decision.

Role ``advisor``. Lawyers in the LawFlow study wanted AI to widen what they consider, not to choose
for them; so at each decision point this agent lays out every option with pros and cons for this
client, what may be missed (jurisdiction, conflicts between clients, the tax election, downstream
effects on transfer, funding or exit) and alternatives outside the listed options. It may lean
towards an option, but the graph then stops for a person's answer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, create_model

from agentgraphs.agents.lawflow.decisions import DECISION_POINTS, decisions_text, options_for
from agentgraphs.agents.lawflow.planner import scenario_brief
from agentgraphs.evals.lawflow_data import Scenario
from agentgraphs.models import GatewayChatModel
from agentgraphs.tools.text import markdown_cell

__all__ = ["ADVISOR_PROMPT", "DecisionBrief", "OptionView", "brief_decision", "brief_markdown", "brief_schema"]

Point = Annotated[str, Field(min_length=3, max_length=160)]

ADVISOR_PROMPT = """You support a business lawyer at a decision point of a client's entity formation. You do not \
decide. For each option, give one or two pros and cons for this client specifically, each a short sentence. Then \
list blind spots: what the lawyer may be missing (which state's law applies and where the business operates, \
conflicts between the clients, the tax election and its deadlines, downstream effects on adding members, raising \
money, transferring or selling the business). Then give alternatives beyond the listed options (staged \
approaches, agreements, referrals). Say which option you lean towards and why, in one sentence."""


class OptionView(BaseModel):
    option: str
    pros: list[Point] = Field(min_length=1, max_length=2)
    cons: list[Point] = Field(min_length=1, max_length=2)


class DecisionBrief(BaseModel):
    """What the lawyer reads before answering a decision point."""

    options: list[OptionView]
    blind_spots: list[Point] = Field(min_length=1, max_length=3)
    alternatives: list[Point] = Field(min_length=1, max_length=2)
    leaning: str
    leaning_reason: str = Field(max_length=240)


def brief_schema(options: dict[str, str]) -> type[DecisionBrief]:
    """:class:`DecisionBrief` with option ids limited to ``options`` and one view per option."""
    ids = Literal[tuple(options)]  # type: ignore[valid-type]
    view: type[OptionView] = create_model("OptionView", __base__=OptionView, option=(ids, ...))
    return create_model(  # type: ignore[no-any-return]
        "DecisionBrief", __base__=DecisionBrief,
        options=(list[view], Field(min_length=len(options), max_length=len(options),  # type: ignore[valid-type]
                                   description="One entry per option, in the order listed.")),
        leaning=(ids, Field(description="The option you lean towards; the lawyer decides.")),
    )


def brief_decision(point: str, scenario: Scenario, decisions: dict[str, Any], notes: list[str], *,
                   model: GatewayChatModel) -> DecisionBrief:
    """The brief for ``point`` given the decisions already taken and the executor's notes so far."""
    options = options_for(point, decisions)
    listed = "\n".join(f"- {key}: {meaning}" for key, meaning in options.items())
    prompt = (f"{scenario_brief(scenario)}\n\n[Work so far]\n" + ("\n".join(f"- {n}" for n in notes[-6:]) or "(none)")
              + f"\n\n[Decisions already taken]\n{decisions_text(decisions)}\n\n[Decision point]\n{DECISION_POINTS[point].question}\n"
              f"Options:\n{listed}")
    brief: DecisionBrief = model.with_structured_output(brief_schema(options), agent="lawflow-advisor").invoke(
        [SystemMessage(ADVISOR_PROMPT), HumanMessage(prompt)])
    unique: dict[str, OptionView] = {}
    for view in brief.options:
        unique.setdefault(view.option, view)  # a repeated option keeps its first view
    brief.options = list(unique.values())
    return brief


def brief_markdown(point: str, brief: dict[str, Any], meanings: dict[str, str] | None = None) -> str:
    """A brief (a :class:`DecisionBrief` dump) as Markdown, for the terminal, Studio and the report."""
    lines = [f"**{DECISION_POINTS[point].question}**", "", "| option | pros | cons |", "|---|---|---|"]
    for view in brief["options"]:
        label = f"{view['option']} ({meanings[view['option']]})" if meanings and view["option"] in meanings else view["option"]
        lines.append(f"| {markdown_cell(label)} | {markdown_cell('; '.join(view['pros']))} | {markdown_cell('; '.join(view['cons']))} |")
    lines += ["", "Blind spots:", *[f"- {b}" for b in brief["blind_spots"]], "",
              "Alternatives:", *[f"- {a}" for a in brief["alternatives"]], "",
              f"The advisor leans towards `{brief['leaning']}`: {brief['leaning_reason']}", ""]
    return "\n".join(lines)
