"""LawFlow's drafter: the deliverables the workflow ends in, tied to the decisions taken.

Role ``drafter``. Two documents, as in the study's tasks 3 and 4: an outline of the memo to the
client, and a clause checklist for the governing document — an operating agreement for an LLC, a
partnership agreement, or bylaws with a shareholder agreement, whichever the entity decision
calls for. Every checklist clause names the decision it follows from, so a changed decision shows
which clauses to revisit.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, create_model

from agentgraphs.agents.lawflow.decisions import decisions_text
from agentgraphs.agents.lawflow.planner import scenario_brief
from agentgraphs.evals.lawflow_data import Scenario
from agentgraphs.models import GatewayChatModel

__all__ = ["CLAUSES", "GOVERNING_DOCUMENT", "MEMO_PARTS", "Checklist", "MemoOutline", "draft_checklist", "draft_memo", "governing_document"]


GOVERNING_DOCUMENT = {
    "llc": "operating agreement",
    "general_partnership": "partnership agreement",
    "corporation": "bylaws and shareholder agreement",
    "nonprofit_corporation": "bylaws and conflict-of-interest policy",
    "sole_proprietorship": "engagement letter and registration checklist",
}

_OWNERSHIP = ("Capital contributions", "Allocation of profits and losses", "Distributions", "Admission of new owners",
              "Transfer restrictions and right of first refusal", "Withdrawal, death or disability, and buyout",
              "Dissolution and winding up", "Dispute resolution", "Intellectual property ownership")
CLAUSES: dict[str, tuple[str, ...]] = {
    "operating agreement": ("Formation, name and purpose", "Members and percentage interests", *_OWNERSHIP,
                            "Management and voting", "Tax classification and partnership representative",
                            "Indemnification and exculpation"),
    "partnership agreement": ("Partnership name and purpose", "Partners and percentage interests", *_OWNERSHIP,
                              "Management and voting", "Partnership tax matters"),
    "bylaws and shareholder agreement": ("Shares and classes of stock", "Board of directors and officers",
                                         "Shareholder meetings and voting", *_OWNERSHIP, "S-corporation eligibility covenant",
                                         "Indemnification of directors and officers"),
    "bylaws and conflict-of-interest policy": ("Charitable purpose and exemption covenant", "Board of directors and officers",
                                               "Members, if any", "Conflict-of-interest policy", "Fundraising and gift acceptance",
                                               "Compensation of officers", "Dissolution and distribution of assets", "Record keeping"),
    "engagement letter and registration checklist": ("Scope of engagement", "Assumed name registration", "Business licences and permits",
                                                     "Sales tax registration", "Employer registration and payroll",
                                                     "Insurance", "Separate business bank account", "Record keeping"),
}
"""Per governing document, the clauses a checklist chooses from: the model picks the ones this client needs
and writes each provision; a clause it cannot name from the library cannot appear."""

MEMO_PROMPT = """You are a business lawyer outlining a memo to your client about forming their business. For each \
part of the memo write one to three short points in plain language, specific to this client: the facts you relied \
on, the entity recommended and why, how it will be taxed, who you represent (when there are several clients), the \
filings in order, and the questions still open for the client. State the decisions below as taken; do not reopen \
them. Write your own sentences; do not copy the scenario."""

CHECKLIST_PROMPT = """You are a business lawyer preparing the governing document for a newly formed business. From \
the clause library, choose the 6 to 10 clauses this client needs most. For each, write in one sentence of your own \
what it should provide for this client, and say which decision (or 'scenario', for a fact of the case) it follows \
from. Example: clause 'Admission of new owners', provision 'New members join only with the written consent of the \
founding member', follows from 'scenario'."""


Point = Annotated[str, Field(min_length=3, max_length=200)]


class MemoOutline(BaseModel):
    """The client memo's outline, one field per part so that each part says something different."""

    title: str = Field(min_length=3, max_length=120)
    facts: list[Point] = Field(min_length=1, max_length=3, description="The client's facts the advice relies on.")
    recommendation: list[Point] = Field(min_length=1, max_length=3, description="The entity recommended and why.")
    tax: list[Point] = Field(min_length=1, max_length=3, description="How the business will be taxed and what to elect.")
    representation: list[Point] = Field(min_length=1, max_length=2, description="Whom the lawyer represents and the consents needed.")
    filings: list[Point] = Field(min_length=1, max_length=3, description="The filings and registrations, in order.")
    open_questions: list[Point] = Field(min_length=1, max_length=3, description="Questions the client still has to answer.")


MEMO_PARTS = {"facts": "Facts", "recommendation": "Recommendation", "tax": "Tax treatment", "representation": "Representation",
              "filings": "Filings and next steps", "open_questions": "Open questions"}


class Clause(BaseModel):
    clause: str
    provision: Point
    follows_from: str


class Checklist(BaseModel):
    clauses: list[Clause] = Field(min_length=6, max_length=10)


def governing_document(decisions: dict[str, Any]) -> str:
    entity = decisions.get("entity_type", {}).get("choice", "llc")
    return GOVERNING_DOCUMENT.get(entity, "operating agreement")


def draft_memo(scenario: Scenario, decisions: dict[str, Any], notes: list[str], *, model: GatewayChatModel) -> MemoOutline:
    """The client memo's outline."""
    prompt = (f"{scenario_brief(scenario)}\n\n[Decisions taken]\n{decisions_text(decisions)}\n\n[Notes from the work]\n"
              + "\n".join(f"- {n}" for n in notes[-8:]))
    outline: MemoOutline = model.with_structured_output(MemoOutline, agent="lawflow-drafter").invoke(
        [SystemMessage(MEMO_PROMPT), HumanMessage(prompt)])
    return outline


def draft_checklist(scenario: Scenario, decisions: dict[str, Any], *, model: GatewayChatModel) -> Checklist:
    """The governing document's clause checklist: clauses from :data:`CLAUSES`, each tied to a decision or the scenario."""
    document = governing_document(decisions)
    library = CLAUSES[document]
    sources = Literal[tuple([*decisions, "scenario"])]  # type: ignore[valid-type]
    clause: type[Clause] = create_model("Clause", __base__=Clause, clause=(Literal[library], ...),  # type: ignore[valid-type]
                                        follows_from=(sources, ...))
    schema: type[Checklist] = create_model("Checklist", __base__=Checklist, clauses=(
        list[clause], Field(min_length=6, max_length=10)))  # type: ignore[valid-type]
    prompt = (f"{scenario_brief(scenario)}\n\n[Decisions taken]\n{decisions_text(decisions)}\n\n"
              f"The document: the {document}.\nClause library:\n" + "\n".join(f"- {c}" for c in library))
    checklist: Checklist = model.with_structured_output(schema, agent="lawflow-drafter").invoke(
        [SystemMessage(CHECKLIST_PROMPT), HumanMessage(prompt)])
    unique: dict[str, Clause] = {}
    for item in checklist.clauses:
        unique.setdefault(item.clause, item)  # a clause chosen twice keeps its first provision
    checklist.clauses = list(unique.values())
    return checklist
