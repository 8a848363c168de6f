"""Flow diagrams: the geometry of step boxes and arrows, shared by the Pillow frames and the manim scene.

A diagram is 2-4 steps in a row: stacked top to bottom on a vertical frame, left to right on a
landscape one. Both renderers take their boxes, arrows and reveal times from here, so the animated
diagram (``manim_scenes.render_flow_diagram``) lands exactly where the still one is drawn and
measured (``frames``). Everything is in pixels of the area the diagram is fitted into.
"""

from __future__ import annotations

from PIL import ImageDraw

__all__ = ["ARROW", "FILL", "OUTLINE", "REVEAL_SHARE", "draw_flow", "flow_arrows", "flow_rects", "label_rect",
           "line_width", "reveal_times"]

Rect = tuple[int, int, int, int]
Point = tuple[int, int]

FILL = "#1E293B"
OUTLINE = "#38BDF8"
ARROW = "#FACC15"
REVEAL_SHARE = 0.6
"""Share of the narration over which the steps appear: the last one is up well before the scene ends."""
_ACROSS = {True: 0.9, False: 0.6}
"""Box extent across the flow, as a share of the area (vertical flow: wide boxes; landscape: columns)."""
_ALONG_CAP = {True: 0.33, False: 1.5}
"""Longest box along the flow, relative to its extent across: two steps do not become two slabs."""


def flow_rects(area: Rect, count: int, *, vertical: bool) -> list[Rect]:
    """``count`` equal step boxes in ``area``, centred, with room for an arrow between neighbours."""
    if count < 1:
        raise ValueError(f"a flow diagram needs at least one step, got {count}")
    left, top, right, bottom = area
    along, across = (bottom - top, right - left) if vertical else (right - left, bottom - top)
    gap = max(12, round(0.08 * along))
    breadth = round(_ACROSS[vertical] * across)
    extent = min((along - gap * (count - 1)) // count, round(_ALONG_CAP[vertical] * breadth))
    start = (along - extent * count - gap * (count - 1)) // 2
    offset = (across - breadth) // 2
    rects = []
    for index in range(count):
        a0 = start + index * (extent + gap)
        if vertical:
            rects.append((left + offset, top + a0, left + offset + breadth, top + a0 + extent))
        else:
            rects.append((left + a0, top + offset, left + a0 + extent, top + offset + breadth))
    return rects


def flow_arrows(rects: list[Rect], *, vertical: bool) -> list[tuple[Point, Point]]:
    """(start, end) of the arrow from each box to the next, leaving a small margin at both ends."""
    arrows = []
    for a, b in zip(rects, rects[1:]):
        if vertical:
            x, margin = (a[0] + a[2]) // 2, max(2, (b[1] - a[3]) // 8)
            arrows.append(((x, a[3] + margin), (x, b[1] - margin)))
        else:
            y, margin = (a[1] + a[3]) // 2, max(2, (b[0] - a[2]) // 8)
            arrows.append(((a[2] + margin, y), (b[0] - margin, y)))
    return arrows


def label_rect(rect: Rect) -> Rect:
    """Where a step's label may go: its box less a padding that keeps text off the outline."""
    pad = max(3, round(0.08 * min(rect[2] - rect[0], rect[3] - rect[1])))
    return rect[0] + pad, rect[1] + pad, rect[2] - pad, rect[3] - pad


def reveal_times(count: int, speech_s: float) -> list[float]:
    """When each step appears (seconds): the first at once, the rest evenly over ``REVEAL_SHARE`` of the speech."""
    return [index * REVEAL_SHARE * speech_s / count for index in range(count)]


def line_width(rects: list[Rect]) -> int:
    """Outline and arrow thickness for boxes of this size."""
    return max(2, round(min(min(r[2] - r[0], r[3] - r[1]) for r in rects) / 30))


def draw_flow(draw: ImageDraw.ImageDraw, rects: list[Rect], step: int, *, vertical: bool) -> None:
    """Box ``step`` and, from the second on, the arrow into it (labels are drawn by ``frames``)."""
    width = line_width(rects)
    if step > 0:
        (x0, y0), (x1, y1) = flow_arrows(rects, vertical=vertical)[step - 1]
        head = 3 * width
        draw.line([(x0, y0), (x1 - head if not vertical else x1, y1 - head if vertical else y1)], fill=ARROW, width=width)
        tip = ([(x1 - head, y1 - head), (x1 + head, y1 - head), (x1, y1)] if vertical
               else [(x1 - head, y1 - head), (x1 - head, y1 + head), (x1, y1)])
        draw.polygon(tip, fill=ARROW)
    radius = max(4, round(min(rects[step][2] - rects[step][0], rects[step][3] - rects[step][1]) / 6))
    draw.rounded_rectangle(rects[step], radius=radius, fill=FILL, outline=OUTLINE, width=width)
