"""RL tasks (prompts + how responses are rewarded); importing this package registers the built-ins."""

from agentgraphs.tasks import essay_writing, math
from agentgraphs.tasks.base import Task, TaskError, load_task

__all__ = ["Task", "TaskError", "essay_writing", "load_task", "math"]
