"""Figure and table captions in a paper's pages, and the figure crops that belong to them.

A figure is found from its caption, not from its pixels: "Figure 3:", "Figure 3 |", "Fig. 3." start a
caption, and the figure is the union of the graphics (embedded images and vector drawings) next to
it, in the caption's column, up to the nearest body text. This pairs sub-figures (a)/(b) with their
one caption, keeps raster grids and vector charts alike, and leaves logos and table rules that no
caption claims alone. Deterministic and model-free; used by :mod:`agentgraphs.tools.paper`.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agentgraphs.atomic import atomic_path
from agentgraphs.extras import require
from agentgraphs.tools.pdf import TextLine

__all__ = ["Caption", "FigureRegion", "find_captions", "figure_regions", "render_clip"]

_CAPTION = re.compile(r"^(?P<kind>Figure|FIGURE|Fig\.|Fig|FIG\.|Table|TABLE)\s*(?P<num>(?:[A-Z]\.?)?\d+)\s*(?P<sep>[:.|]|$)")
_MIN_SHORT_SIDE_PX = 240
_SUBFIGURE_LABEL = re.compile(r"^\(?[a-z]\)")


@dataclass(frozen=True, kw_only=True)
class Caption:
    """A figure or table caption: its number, its full text and the lines it is made of."""

    kind: str
    """"figure" or "table"."""
    number: str
    text: str
    lines: tuple[TextLine, ...]

    @property
    def page(self) -> int:
        return self.lines[0].page

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (min(ln.x0 for ln in self.lines), min(ln.y0 for ln in self.lines),
                max(ln.x1 for ln in self.lines), max(ln.y1 for ln in self.lines))


@dataclass(kw_only=True)
class FigureRegion:
    """The page area a figure caption claims, and what is drawn in it."""

    caption: Caption
    rect: tuple[float, float, float, float]
    has_image: bool
    has_paths: bool
    text_lines: list[TextLine] = field(default_factory=list)

    @property
    def kind(self) -> str:
        if self.has_image and self.has_paths:
            return "mixed"
        return "raster" if self.has_image else "vector"


def _starts_paragraph(line: TextLine, prev: TextLine | None) -> bool:
    """A caption starts a paragraph; "see Table 1. This ..." inside a body paragraph does not."""
    if line.first_in_block or prev is None or prev.page != line.page:
        return True
    return abs(prev.size - line.size) > 0.6 or line.y0 - prev.y1 > 0.8 * line.size


def find_captions(lines: list[TextLine]) -> list[Caption]:
    """Figure and table captions among one page's lines, each with its continuation lines."""
    captions: list[Caption] = []
    ordered = sorted(lines, key=lambda ln: (ln.y0, ln.x0))
    for i, line in enumerate(lines):
        match = _CAPTION.match(line.text)
        if not match or line.rotated or not _starts_paragraph(line, lines[i - 1] if i else None):
            continue
        if match["sep"] == "" and not line.bold:
            continue  # a bare "Figure 3" line is a caption only when set apart in bold
        kind = "table" if match["kind"].lower().startswith("tab") else "figure"
        caption_lines = [line]
        x0, x1 = line.x0 - 3, line.x1 + 3
        last = line
        for nxt in ordered:
            if nxt.y0 <= last.y0 + 0.5 or nxt is line or nxt in caption_lines:
                continue
            if nxt.y0 - last.y1 > 0.45 * line.size + 1:
                break
            if nxt.x0 < x0 or nxt.x1 > x1 or abs(nxt.size - line.size) > 0.6 or _CAPTION.match(nxt.text):
                continue
            caption_lines.append(nxt)
            # lines on one baseline ("ciativity strength." + "Please") both belong
            same_row = [o for o in ordered if o not in caption_lines and abs(o.y0 - nxt.y0) < 2 and x0 <= o.x0 and o.x1 <= x1]
            caption_lines.extend(same_row)
            last = nxt
        caption_lines.sort(key=lambda ln: (round(ln.y0), ln.x0))
        text = " ".join(ln.text for ln in caption_lines)
        text = re.sub(r"(\w)- (?=[a-z])", r"\1", text)  # re-join words hyphenated at line ends
        captions.append(Caption(kind=kind, number=match["num"].replace(".", ""), text=" ".join(text.split()), lines=tuple(caption_lines)))
    return captions


def _bbox_log(page, display_list) -> list:  # noqa: ANN001 - pymupdf.Page, pymupdf.DisplayList
    """``page.get_bboxlog()``, read from the page's display list when there is one.

    The display list is needed for the crop anyway; reading the boxes from it saves parsing the
    page a second time (~0.45 s on a Moonlight page with 50k paths). It uses PyMuPDF's own bbox
    device, which is not public API: without it, the page is simply parsed again.
    """
    pymupdf = require("pymupdf", extra="video", purpose="reading PDF figures")
    new_device = getattr(pymupdf, "JM_new_bbox_device", None)
    if display_list is None or new_device is None or page.rotation:
        return page.get_bboxlog()
    mupdf = pymupdf.mupdf
    log: list = []
    device = new_device(log, False)
    mupdf.fz_run_display_list(display_list.this, device, mupdf.FzMatrix(),
                              mupdf.FzRect(mupdf.FzRect.Fixed_INFINITE), mupdf.FzCookie())
    mupdf.fz_close_device(device)
    return log


def _graphic_boxes(page, display_list=None) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001 - pymupdf.Page
    """Bounding boxes of everything drawn on ``page`` that is not text, and which are images.

    The bbox log gives the same boxes as ``get_drawings`` plus images, at about half the cost:
    one Moonlight page holds 50k paths and ``get_drawings`` alone took ~2 s there.
    """
    width, height = page.rect.width, page.rect.height
    boxes, images = [], []
    for kind, rect in _bbox_log(page, display_list):
        if "text" in kind or "clip" in kind:
            continue
        x0, y0, x1, y1 = rect
        w, h = x1 - x0, y1 - y0
        if w * h > 0.5 * width * height or (w < 0.5 and h < 0.5) or x1 < 0 or y1 < 0 or x0 > width or y0 > height:
            continue  # page backgrounds, specks, off-page
        if y1 < 0.05 * height or y0 > 0.95 * height:
            continue  # running-header rules and logos
        boxes.append((x0, y0, x1, y1))
        images.append("image" in kind)
    if not boxes:
        return np.zeros((0, 4)), np.zeros(0, dtype=bool)
    return np.array(boxes, dtype=float), np.array(images, dtype=bool)


def _label_grid(grid: np.ndarray) -> np.ndarray:
    """4-connected components of a boolean grid (0 = empty, 1.. = component), by row runs and union-find.

    Written out rather than taken from scipy.ndimage so the PDF tools need only numpy.
    """
    parent: list[int] = []

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    labels = np.zeros(grid.shape, dtype=np.int64)
    previous: list[tuple[int, int, int]] = []
    for y in range(grid.shape[0]):
        edges = np.diff(np.concatenate(([0], grid[y].astype(np.int8), [0])))
        runs: list[tuple[int, int, int]] = []
        j = 0
        for start, stop in zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()):
            while j < len(previous) and previous[j][1] <= start:
                j += 1
            label = -1
            k = j
            while k < len(previous) and previous[k][0] < stop:
                root = find(previous[k][2])
                if label < 0:
                    label = root
                elif root != label:
                    parent[root] = label
                k += 1
            if label < 0:
                label = len(parent)
                parent.append(label)
            runs.append((start, stop, label))
            labels[y, start:stop] = label + 1
        previous = runs
    roots = np.array([find(i) for i in range(len(parent))] or [0], dtype=np.int64)
    return np.where(labels > 0, roots[np.maximum(labels - 1, 0)] + 1, 0)


def _clusters(boxes: np.ndarray, shape: tuple[float, float], tolerance: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Group boxes that touch (within ``tolerance`` pt) on a 1-pt occupancy grid.

    Returns the cluster boxes and, for each input box, the index of its cluster. A grid keeps this
    linear in the number of boxes (50k paths on one Moonlight page).
    """
    cols, rows = int(shape[0]) + 2, int(shape[1]) + 2
    grid = np.zeros((rows, cols), dtype=bool)
    cells = np.floor(boxes + [-tolerance, -tolerance, tolerance, tolerance]).astype(int)
    cells[:, [0, 2]] = cells[:, [0, 2]].clip(0, cols - 1)
    cells[:, [1, 3]] = cells[:, [1, 3]].clip(0, rows - 1)
    for cx0, cy0, cx1, cy1 in np.unique(cells, axis=0):
        grid[cy0:cy1 + 1, cx0:cx1 + 1] = True
    _, own = np.unique(_label_grid(grid)[cells[:, 1], cells[:, 0]], return_inverse=True)
    own = own.reshape(-1)
    count = int(own.max()) + 1
    out = np.empty((count, 4))
    out[:, :2], out[:, 2:] = np.inf, -np.inf
    np.minimum.at(out[:, 0], own, boxes[:, 0])
    np.minimum.at(out[:, 1], own, boxes[:, 1])
    np.maximum.at(out[:, 2], own, boxes[:, 2])
    np.maximum.at(out[:, 3], own, boxes[:, 3])
    return out, own


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _inside(line: TextLine, box: tuple[float, float, float, float] | np.ndarray, pad: float = 2.0) -> bool:
    return box[0] - pad <= line.cx <= box[2] + pad and box[1] - pad <= line.cy <= box[3] + pad


def figure_regions(page, lines: list[TextLine], captions: list[Caption], *, body_size: float,  # noqa: ANN001
                   columns: list[tuple[float, float]], content: tuple[float, float],
                   headings: AbstractSet[int] = frozenset(), display_list=None) -> list[FigureRegion]:
    """For each figure caption on ``page``, the area of the graphics it captions.

    ``columns`` are the page's text columns (one, or two for a two-column page); a caption
    looks for its figure within its own column, first above it, then below, then beside it
    (side captions in conference papers). ``content`` is the vertical span between the running
    header and footer (their rules and logos are no figure); ``headings`` are ids of heading lines,
    which a figure never reaches past; ``display_list`` is the page's parsed content, if made already.
    """
    figure_caps = [c for c in captions if c.kind == "figure"]
    if not figure_caps:
        return []
    boxes, is_image = _graphic_boxes(page, display_list)
    if len(boxes):
        inside = (boxes[:, 1] >= content[0]) & (boxes[:, 3] <= content[1])
        boxes, is_image = boxes[inside], is_image[inside]
    caption_lines = {id(ln) for c in captions for ln in c.lines}
    # Small or rotated text (tick labels, legends) is part of whatever graphic it touches.
    label_lines = [ln for ln in lines if id(ln) not in caption_lines and (ln.rotated or ln.size < 0.85 * body_size)]
    if label_lines:
        boxes = np.vstack([boxes, [(ln.x0, ln.y0, ln.x1, ln.y1) for ln in label_lines]]) if len(boxes) else \
            np.array([(ln.x0, ln.y0, ln.x1, ln.y1) for ln in label_lines])
        is_image = np.concatenate([is_image, np.zeros(len(label_lines), dtype=bool)])
        is_text = np.concatenate([np.zeros(len(boxes) - len(label_lines), dtype=bool), np.ones(len(label_lines), dtype=bool)])
    else:
        is_text = np.zeros(len(boxes), dtype=bool)
    if not len(boxes):
        return []
    clusters, own = _clusters(boxes, (page.rect.width, page.rect.height))
    keep = [k for k in range(len(clusters)) if not is_text[own == k].all()]  # text alone is no figure
    clusters = clusters[keep]
    flags = [(bool(is_image[own == k].any()), bool((~is_image & ~is_text)[own == k].any())) for k in keep]
    col_width = max(c[1] - c[0] for c in columns)
    # Body text stops a figure. Text inside a drawing's box is the figure's own (a code listing),
    # unless it is a heading or a long prose line: an invisible white background can reach under them.
    barriers = [ln for ln in lines if id(ln) not in caption_lines and not ln.rotated and ln.size >= 0.9 * body_size
                and not _SUBFIGURE_LABEL.match(ln.text)
                and (id(ln) in headings or not any(_inside(ln, c) for c in clusters)
                     or (not ln.mono and ln.width > 0.6 * col_width))]
    other_caption_lines = [ln for c in captions for ln in c.lines]

    regions: list[FigureRegion] = []
    for cap in figure_caps:
        bx0, by0, bx1, by1 = cap.bbox
        col = next((c for c in columns if c[0] - 5 <= bx0 and bx1 <= c[1] + 5), (min(c[0] for c in columns), max(c[1] for c in columns)))
        narrow = (bx1 - bx0) < 0.7 * (col[1] - col[0])
        walls = [ln for ln in barriers + other_caption_lines if ln not in cap.lines]

        def in_band(k: int, x0: float, x1: float) -> bool:
            c = clusters[k]
            return _overlap(c[0], c[2], x0, x1) >= min(0.5 * (c[2] - c[0]), 10.0)

        def blocked(lo: float, hi: float, x0: float, x1: float) -> bool:
            return any(lo < ln.cy < hi and _overlap(ln.x0, ln.x1, x0, x1) > 0.4 * min(ln.width, x1 - x0)
                       and ln.width > 0.3 * (col[1] - col[0]) for ln in walls)

        def grow(direction: int, x0: float, x1: float) -> list[int]:
            chosen: list[int] = []
            edge = by0 if direction < 0 else by1
            cand = [k for k in range(len(clusters)) if in_band(k, x0, x1) and
                    (clusters[k][3] <= by0 + 3 if direction < 0 else clusters[k][1] >= by1 - 3)]
            cand.sort(key=lambda k: -clusters[k][3] if direction < 0 else clusters[k][1])
            for k in cand:
                c = clusters[k]
                near = c[3] if direction < 0 else c[1]
                gap = edge - near if direction < 0 else near - edge
                if gap > 60:
                    break
                lo, hi = (near, edge) if direction < 0 else (edge, near)
                if blocked(lo, hi, max(c[0], col[0]), min(c[2], col[1])):
                    if chosen:
                        break
                    continue
                chosen.append(k)
                edge = min(edge, c[1]) if direction < 0 else max(edge, c[3])
            return chosen

        # Captions side by side (two small figures in one column) split the column between them.
        x0, x1 = col
        for other in captions:
            ox0, oy0, ox1, oy1 = other.bbox
            if other is not cap and _overlap(oy0, oy1, by0, by1) > 0 and col[0] - 5 <= ox0 and ox1 <= col[1] + 5:
                if ox0 >= bx1:
                    x1 = min(x1, (bx1 + ox0) / 2)
                elif ox1 <= bx0:
                    x0 = max(x0, (ox1 + bx0) / 2)
        chosen = grow(-1, x0, x1) or grow(+1, x0, x1)
        if not chosen and narrow:  # side caption: the graphic stands left or right of it
            chosen = [k for k in range(len(clusters)) if in_band(k, *col) and _overlap(clusters[k][1], clusters[k][3], by0, by1) > 0
                      and _overlap(clusters[k][0], clusters[k][2], bx0, bx1) == 0]
        if not chosen:
            continue
        chosen = _drop_stray_rules(chosen, clusters, by0, by1)
        rect = _trim([min(clusters[k][0] for k in chosen) - 2, min(clusters[k][1] for k in chosen) - 2,
                      max(clusters[k][2] for k in chosen) + 2, max(clusters[k][3] for k in chosen) + 2], walls + list(cap.lines))
        # Sub-figure labels "(a)" and axis titles between the graphics and the caption belong to the crop.
        gap = (rect[3], by0) if by0 >= rect[3] else (by1, rect[1]) if by1 <= rect[1] else None
        if gap is not None:
            between = [ln for ln in lines if id(ln) not in caption_lines and gap[0] - 1 <= ln.cy <= gap[1]
                       and _overlap(ln.x0, ln.x1, rect[0], rect[2]) > 0.5 * ln.width and ln not in walls]
            for ln in between:
                rect = [min(rect[0], ln.x0), min(rect[1], ln.y0), max(rect[2], ln.x1), max(rect[3], ln.y1)]
        inner = [ln for ln in lines if _inside(ln, rect) and id(ln) not in caption_lines]
        regions.append(FigureRegion(caption=cap, rect=(rect[0], rect[1], rect[2], rect[3]),
                                    has_image=any(flags[k][0] for k in chosen), has_paths=any(flags[k][1] for k in chosen),
                                    text_lines=inner))
    return regions


def _drop_stray_rules(chosen: list[int], clusters: np.ndarray, cap_y0: float, cap_y1: float) -> list[int]:
    """Drop a lone horizontal/vertical rule at the far end (the bottom rule of a table or box above)."""
    while len(chosen) > 1:
        far = max(chosen, key=lambda k: abs((clusters[k][1] + clusters[k][3]) / 2 - (cap_y0 + cap_y1) / 2))
        c = clusters[far]
        if min(c[2] - c[0], c[3] - c[1]) > 2.5:
            break
        chosen = [k for k in chosen if k != far]
    return chosen


def _trim(rect: list[float], walls: list[TextLine]) -> list[float]:
    """Cut body text and other captions out of a figure's rectangle, keeping the most area.

    A drawing's invisible white background can reach under the text that wraps around it
    (side-captioned figures in conference papers); the crop should stop at the text.
    """
    for ln in sorted(walls, key=lambda ln: -ln.width):
        ox = _overlap(rect[0], rect[2], ln.x0, ln.x1)
        oy = _overlap(rect[1], rect[3], ln.y0, ln.y1)
        if ox < 2 or oy < 0.5 * (ln.y1 - ln.y0):
            continue
        cuts = [[rect[0], ln.y1, rect[2], rect[3]], [rect[0], rect[1], rect[2], ln.y0],
                [ln.x1, rect[1], rect[2], rect[3]], [rect[0], rect[1], ln.x0, rect[3]]]
        rect = max(cuts, key=lambda r: max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1]))
    return rect


def render_clip(page, rect: tuple[float, float, float, float], dest: Path, *, dpi: int, display_list=None) -> tuple[int, int]:  # noqa: ANN001
    """Render ``rect`` of ``page`` to the PNG ``dest`` atomically; return its pixel size.

    A small figure (a thumbnail beside a side caption, a one-line equation box) is rendered
    at up to 4x ``dpi`` so its short side gets ~240 px and stays legible. Pass the page's
    ``display_list`` when rendering several crops of one page: the page is then parsed once.
    """
    short_pt = max(1.0, min(rect[2] - rect[0], rect[3] - rect[1]))
    dpi = int(min(4 * dpi, max(dpi, 72 * _MIN_SHORT_SIDE_PX / short_pt)))
    if display_list is None:
        pix = page.get_pixmap(clip=rect, dpi=dpi)
    else:
        pymupdf = require("pymupdf", extra="video", purpose="rendering PDF figures")
        pix = display_list.get_pixmap(matrix=pymupdf.Matrix(dpi / 72, dpi / 72), clip=rect)
    with atomic_path(dest) as tmp:
        pix.save(str(tmp))
    return pix.width, pix.height
