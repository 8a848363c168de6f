"""Chat models from strings: ``local:``, ``openai:``, ``vllm:...@url``, ``hf:``.

Agents ask for a role; :func:`get_model` resolves it to a model string and returns a LangChain
chat model behind agentgraphs' call policy, cache and trace.
"""

from agentgraphs.models.backends import DEFAULT_MODEL, default_policy, get_model, resolve_model_string
from agentgraphs.models.gateway import CallPolicy, GatewayChatModel
from agentgraphs.models.logprobs import TargetLogprob, target_logprob
from agentgraphs.models.spec import ModelSpec, parse_model

__all__ = [
    "DEFAULT_MODEL",
    "CallPolicy",
    "GatewayChatModel",
    "ModelSpec",
    "TargetLogprob",
    "default_policy",
    "get_model",
    "parse_model",
    "resolve_model_string",
    "target_logprob",
]
