"""LawFlow's executor: adaptive, turn-by-turn execution of a plan.

Role ``executor``. Each turn the model chooses how to move — ``continue`` to the plan's next step
not yet done, ``go_to`` any step (revisit, skip ahead or go back, as the law students did), or
``end`` — then records its analysis and the lawyer action it takes (or the question it asks the
client), and suggests the step after. Naming "continue" rather than an id keeps a small model on the
plan unless it has a reason to leave it (given free choice, the 0.5B default jumped about). The ids
it may name are the plan's own plus ``END``, given to the decoder as an enum, so a turn never refers
to a node that is not in the plan.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, create_model

from agentgraphs.agents.lawflow.decisions import decisions_text
from agentgraphs.agents.lawflow.planner import scenario_brief
from agentgraphs.evals.lawflow_data import END, Plan, Scenario
from agentgraphs.models import GatewayChatModel

__all__ = ["ACTIONS", "EXECUTOR_PROMPT", "ExecutorTurn", "next_in_plan", "next_turn", "resolve_step", "turn_schema"]

ACTIONS = ("take notes", "ask the client", "search resources", "consult a colleague", "draft or edit a document",
           "analyse", "file forms")
"""Lawyer actions, close to the action types logged in the LawFlow study (note taking, search, edit …)."""

EXECUTOR_PROMPT = """You are a business lawyer working through a formation matter one step at a time. You have \
a plan, the steps done so far and the decisions taken. Choose the plan step to work on now: usually the next \
one not yet done ('continue'), but go back when a new fact calls for it and skip steps that do not apply to this \
client ('go_to' with the step's id). Say in your own words, in one or two sentences, what you conclude at this \
step for this client; name the action you take, the question you put to the client when the action is asking \
the client, and the step you would take next. Choose 'end' once the memo and the governing document are done."""


class ExecutorTurn(BaseModel):
    """One execution turn (the node and suggestion fields are narrowed to the plan by :func:`turn_schema`)."""

    move: Literal["continue", "go_to", "end"] = Field(
        description="continue: the plan's next step not yet done; go_to: the step named in node_id; end: the matter is done.")
    node_id: str = Field(description="The step to go to (read only when move is go_to).")
    action: Literal[ACTIONS]  # type: ignore[valid-type]
    analysis: str = Field(max_length=500, description="What you conclude at this step, for this client.")
    client_question: str = Field(default="", max_length=240,
                                 description="The question you ask the client, when the action is 'ask the client'; else empty.")
    next_step: str = Field(description="The step you would take after this one.")


def turn_schema(plan: Plan) -> type[ExecutorTurn]:
    """:class:`ExecutorTurn` with ``node_id`` and ``next_step`` limited to the plan's ids and ``END``."""
    return _turn_schema((*plan.order, END))


@functools.lru_cache(maxsize=32)
def _turn_schema(ids: tuple[str, ...]) -> type[ExecutorTurn]:
    """Built once per plan: every turn of a run asks with the same schema."""
    fields = ExecutorTurn.model_fields
    narrowed = Literal[ids]  # type: ignore[valid-type]
    model: type[ExecutorTurn] = create_model(
        "ExecutorTurn", __base__=ExecutorTurn,
        node_id=(narrowed, Field(description=fields["node_id"].description)),
        next_step=(narrowed, Field(description=fields["next_step"].description)),
    )
    return model


def next_in_plan(plan: Plan, turns: list[dict[str, Any]]) -> str:
    """The first step after the last one worked on that is not yet done, in written order; else the first undone; else END."""
    done = {t["node_id"] for t in turns}
    start = plan.order.index(turns[-1]["node_id"]) + 1 if turns else 0
    for node_id in [*plan.order[start:], *plan.order[:start]]:
        if node_id not in done:
            return node_id
    return END


def resolve_step(turn: ExecutorTurn, plan: Plan, turns: list[dict[str, Any]]) -> str:
    """The node a turn works on: ``node_id`` for go_to, the plan's next undone step for continue, END for end."""
    if turn.move == "end":
        return END
    if turn.move == "go_to":
        return turn.node_id
    return next_in_plan(plan, turns)


def _progress(plan: Plan, turns: list[dict[str, Any]]) -> str:
    done = {t["node_id"] for t in turns}
    return "\n".join(f"{'    ' * (n.level - 1)}[{'x' if n.id in done else ' '}] {n.id} {n.title}" for n in plan.nodes)


def next_turn(scenario: Scenario, plan: Plan, turns: list[dict[str, Any]], decisions: dict[str, Any], *,
              model: GatewayChatModel, recent: int = 4) -> ExecutorTurn:
    """The executor's next turn given the plan (done steps marked) and the last ``recent`` turns."""
    history = "\n".join(f"- turn {t['turn']}: {t['node_id']} ({t['action']}): {t['analysis']}" for t in turns[-recent:])
    suggested = turns[-1]["next_step"] if turns else plan.order[0]
    following = next_in_plan(plan, turns)
    prompt = (f"{scenario_brief(scenario)}\n\n[Plan, done steps marked x]\n{_progress(plan, turns)}\n\n"
              f"[Recent turns]\n{history or '(none yet)'}\n\n[Decisions taken]\n{decisions_text(decisions)}\n\n"
              f"Turn {len(turns) + 1}. 'continue' works on {following}"
              + (f" ({plan.by_id[following].title})" if following != END else " (every step is done)")
              + f"; the last turn suggested {suggested}.")
    schema = turn_schema(plan)
    return model.with_structured_output(schema, agent="lawflow-executor").invoke(
        [SystemMessage(EXECUTOR_PROMPT), HumanMessage(prompt)])
