"""SciTalk's agents: script writer, scene planner, text editor, layout allocator, effects
assistant, viewer-persona critics, reflectors and the final evaluator (one module each)."""

from agentgraphs.agents.scitalk import (
    critics,
    effects_assistant,
    evaluator,
    flashtalk_writer,
    layout_allocator,
    reflector,
    scene_planner,
    text_editor,
)

__all__ = [
    "critics", "effects_assistant", "evaluator", "flashtalk_writer", "layout_allocator", "reflector",
    "scene_planner", "text_editor",
]
