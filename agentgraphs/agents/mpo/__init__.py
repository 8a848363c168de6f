"""MPO's agents: the reward model that scores rollouts against the rubric (one module each)."""

from agentgraphs.agents.mpo import reward_model

__all__ = ["reward_model"]
