"""Named layout templates: where the title, figure, body text, avatar and captions go on a frame.

Agents pick a template by name instead of inventing coordinates, so slides look consistent and no
agent has to reason about pixels. Boxes are fractions of the frame (``render_plan.Box``); the same
template has a vertical (9:16, phones) and a landscape (16:9) arrangement, chosen from the frame's
aspect. The ``captions`` slot matches the area kept free for the burned-in narration captions.
"""

from __future__ import annotations

from agentgraphs.errors import AgentgraphsError
from agentgraphs.tools.render_plan import Box

__all__ = ["TEMPLATES", "LayoutError", "layout_boxes", "split_box"]


class LayoutError(AgentgraphsError, ValueError):
    """A layout template name or slot is unknown."""


_Slots = dict[str, tuple[float, float, float, float]]

# (x, y, w, h) fractions. Vertical frames stack everything; landscape frames put text beside the
# figure. The bottom ~20 % is left to captions in both.
_VERTICAL: dict[str, _Slots] = {
    "title_card": {"title": (0.08, 0.28, 0.84, 0.24), "body": (0.08, 0.54, 0.84, 0.16)},
    "figure_focus": {"title": (0.05, 0.04, 0.90, 0.10), "figure": (0.04, 0.16, 0.92, 0.48),
                     "body": (0.05, 0.66, 0.90, 0.11)},
    "figure_with_points": {"title": (0.05, 0.04, 0.90, 0.10), "figure": (0.04, 0.15, 0.92, 0.37),
                           "body": (0.07, 0.54, 0.86, 0.24)},
    "text_only": {"title": (0.06, 0.06, 0.88, 0.14), "body": (0.08, 0.23, 0.84, 0.53)},
}
_LANDSCAPE: dict[str, _Slots] = {
    "title_card": {"title": (0.10, 0.24, 0.80, 0.26), "body": (0.10, 0.52, 0.80, 0.16)},
    "figure_focus": {"title": (0.04, 0.03, 0.92, 0.12), "figure": (0.04, 0.17, 0.62, 0.62),
                     "body": (0.68, 0.17, 0.28, 0.62)},
    "figure_with_points": {"title": (0.04, 0.03, 0.92, 0.12), "figure": (0.04, 0.17, 0.52, 0.62),
                           "body": (0.58, 0.17, 0.38, 0.62)},
    "text_only": {"title": (0.08, 0.05, 0.84, 0.15), "body": (0.10, 0.23, 0.80, 0.55)},
}
_CAPTIONS = {"vertical": (0.05, 0.80, 0.90, 0.14), "landscape": (0.10, 0.83, 0.80, 0.13)}
# The avatar sits top-right; the title is narrowed (and, on title cards, the avatar sits above it).
_AVATAR = {"vertical": (0.76, 0.025, 0.20, 0.115), "landscape": (0.87, 0.02, 0.10, 0.13)}

TEMPLATES: tuple[str, ...] = tuple(_VERTICAL)


def layout_boxes(template: str, width: int, height: int, *, avatar: bool = False) -> dict[str, Box]:
    """The template's slots as boxes for a ``width`` × ``height`` frame.

    Slots: ``title``, ``body`` and ``captions`` always; ``figure`` for the figure templates;
    ``avatar`` when asked for (the title is then narrowed so the two never overlap).
    """
    if template not in _VERTICAL:
        raise LayoutError(f"unknown layout template {template!r}; choose one of: {', '.join(TEMPLATES)}")
    orientation = "landscape" if width >= height else "vertical"
    slots = dict((_LANDSCAPE if orientation == "landscape" else _VERTICAL)[template])
    slots["captions"] = _CAPTIONS[orientation]
    if avatar:
        ax, ay, aw, ah = slots["avatar"] = _AVATAR[orientation]
        x, y, w, h = slots["title"]
        if template == "title_card":
            slots["avatar"] = (0.5 - aw / 2, max(0.02, y - ah - 0.02), aw, ah)
        elif y < ay + ah:
            slots["title"] = (x, y, min(w, ax - 0.02 - x), h)
    return {name: Box(x=x, y=y, w=w, h=h) for name, (x, y, w, h) in slots.items()}


def split_box(box: Box, parts: int, *, gap: float = 0.01) -> list[Box]:
    """``box`` cut into ``parts`` equal rows (one per bullet point), ``gap`` of the frame apart."""
    if parts < 1:
        raise LayoutError(f"cannot split a box into {parts} parts; give at least 1")
    row = (box.h - gap * (parts - 1)) / parts
    if row <= 0:
        raise LayoutError(f"box of height {box.h:.3f} is too short for {parts} rows; use fewer points")
    return [Box(x=box.x, y=box.y + index * (row + gap), w=box.w, h=row) for index in range(parts)]
