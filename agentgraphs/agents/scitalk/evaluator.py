"""The evaluation agent: a final, independent score of the finished video.

Role ``evaluator``. It reads the same evidence as the critics (script, frame descriptions, check
facts) plus the paper's outline, and scores the four criteria with strengths and weaknesses for
the report. It does not steer the loop; the critics do.
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agentgraphs.agents.scitalk.critics import Scores
from agentgraphs.registry import register
from agentgraphs.runtime import context_of

__all__ = ["Evaluation", "evaluate_video"]

ROLE = (
    "You are an impartial reviewer of science-communication videos. Compare the video's script and "
    "frames with the paper's outline. Score content accuracy, clarity, visual sync and engagement "
    "from 1 to 5, list up to three strengths and three weaknesses, and give a one-sentence verdict."
)


class Evaluation(BaseModel):
    """The final judgement on the video."""

    scores: Scores
    strengths: list[Annotated[str, Field(max_length=200)]] = Field(max_length=3)
    weaknesses: list[Annotated[str, Field(max_length=200)]] = Field(max_length=3)
    verdict: str = Field(min_length=5, max_length=300)


@register("agent", name="scitalk-evaluator", role="evaluator")
def evaluate_video(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
    """Score the final video from the evidence in ``state``."""
    model = context_of(runtime).model("evaluator", temperature=0.0)
    evaluation = model.with_structured_output(Evaluation, agent="scitalk-evaluator").invoke([
        SystemMessage(ROLE),
        HumanMessage(
            f"Paper outline:\n{state['outline'][:3000]}\n\nScript:\n{state['script_md']}\n\nFrames:\n"
            + "\n".join(f"- {line}" for line in state["frames"])
            + "\n\nAutomatic checks:\n" + "\n".join(f"- {line}" for line in state["check_facts"])
        ),
    ])
    return {"evaluation": evaluation.model_dump()}
