"""Parse a research-paper PDF into title, authors, abstract, sections, figures and table captions.

Deterministic and model-free (PyMuPDF only), so a summariser or a video planner gets the same
structure every time and a test can check it. Structure comes from layout, not from a model:
headings from font size, weight and numbering ("1 Introduction", "3.2 Results", "A Appendix");
reading order column by column on two-column pages; running headers, page numbers, line numbers,
figure labels and the bibliography are kept out of the body text. Figures are cropped from the
page around their captions (see :mod:`agentgraphs.tools.figures`) and written as PNGs atomically.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from agentgraphs.tools.figures import Caption, FigureRegion, figure_regions, find_captions, render_clip
from agentgraphs.tools.pdf import PdfError, TextLine, open_pdf, page_lines, page_title
from agentgraphs.tools.text import clip_text

__all__ = ["Figure", "Paper", "Section", "TableCaption", "parse_paper"]

_NUMBERED = re.compile(r"^(?P<num>(?:\d{1,2}|[A-Z])(?:\.\d{1,2})*)\.?\s+(?P<title>[A-Z0-9].*)$")
_KNOWN_HEADINGS = {
    "abstract", "introduction", "related work", "background", "method", "methods", "approach", "experiments",
    "results", "discussion", "conclusion", "conclusions", "limitations", "acknowledgements", "acknowledgments",
    "acknowledgement", "references", "bibliography", "appendix", "appendices", "supplementary material",
    "contributions", "broader impact", "ethics statement", "related works", "evaluation", "future work",
}
_REFERENCES = {"references", "bibliography", "reference"}
_ORG_WORDS = re.compile(r"\b(university|institute|lab|laboratory|research|inc|ltd|corp|department|school|college|"
                        r"academy|center|centre|ai|technical report|project page|usa|uk)\b", re.I)


class Section(BaseModel):
    """One headed section of the body, its text in reading order without figures or references."""

    model_config = ConfigDict(frozen=True)
    id: str
    number: str | None
    heading: str
    level: int
    text: str
    page: int
    """1-based page the heading is on."""


class Figure(BaseModel):
    """A captioned figure, cropped from its page to a PNG a person or a vision model can read."""

    model_config = ConfigDict(frozen=True)
    id: str
    number: str
    caption: str
    page: int
    path: str
    width: int
    height: int
    kind: Literal["raster", "vector", "mixed"]


class TableCaption(BaseModel):
    """A numbered table caption (tables stay text; only their captions are listed)."""

    model_config = ConfigDict(frozen=True)
    id: str
    number: str
    caption: str
    page: int


class Paper(BaseModel):
    """A parsed paper: what a summariser, a planner or a person needs, with its limits stated."""

    model_config = ConfigDict(frozen=True)
    title: str
    authors: list[str]
    abstract: str
    sections: list[Section]
    figures: list[Figure]
    tables: list[TableCaption]
    first_page: str
    """PNG of page 1 (the paper's face: title, authors, often a teaser figure)."""
    pages_total: int
    pages_read: int
    truncated: bool
    notes: list[str]
    """Human-readable remarks, e.g. that only the first pages were read."""

    def figure(self, id: str) -> Figure:  # noqa: A002 - the figure's id is what callers have
        """The figure with ``id`` ("fig3"); ``KeyError`` lists the ids there are."""
        for fig in self.figures:
            if fig.id == id:
                return fig
        raise KeyError(f"no figure {id!r} in {self.title!r}; known figures: {[f.id for f in self.figures]}")

    def outline(self, max_chars: int) -> str:
        """A compact text of the paper for an LLM prompt, never longer than ``max_chars``.

        Title, authors, abstract, every section heading with its id (``[sec3.2]``, for a model to
        cite) and the start of its text, every figure id with its caption, and the table captions.
        The abstract and captions are shortened first, so every section and figure stays named;
        what room is left is shared among the sections' text.
        """

        def render(abstract_len: int, caption_len: int, snippet_len: int) -> str:
            parts = [f"Title: {self.title}"]
            if self.authors:
                parts.append("Authors: " + ", ".join(self.authors))
            if abstract_len:
                parts.append(f"Abstract: {clip_text(self.abstract, abstract_len)}")
            for s in self.sections:
                heading = f"{'#' * min(s.level + 1, 4)} {s.number + ' ' if s.number else ''}{s.heading} [{s.id}]"
                parts.append(heading + (f"\n{clip_text(s.text, snippet_len)}" if snippet_len >= 20 and s.text else ""))
            if self.figures:
                parts.append("Figures:")
                parts += [f"- {f.id} (page {f.page})" + (f": {clip_text(f.caption, caption_len)}" if caption_len else "") for f in self.figures]
            if self.tables and caption_len:
                parts.append("Tables:")
                parts += [f"- {t.id} (page {t.page}): {clip_text(t.caption, caption_len)}" for t in self.tables]
            return "\n".join(parts)

        for abstract_len, caption_len in ((max_chars // 4, 200), (max_chars // 8, 100), (100, 60), (0, 0)):
            skeleton = render(abstract_len, caption_len, 0)
            if len(skeleton) <= max_chars:
                break
        with_text = sum(1 for s in self.sections if s.text)
        snippet = (max_chars - len(skeleton)) // max(1, with_text) - 1
        text = render(abstract_len, caption_len, snippet)
        return text if len(text) <= max_chars else clip_text(text, max_chars)


def _body_size(lines: list[TextLine]) -> float:
    counts: Counter[float] = Counter()
    for ln in lines:
        counts[round(ln.size * 2) / 2] += len(ln.text)
    return counts.most_common(1)[0][0]


def _margin_junk(pages: list[list[TextLine]], heights: list[float], widths: list[float]) -> set[int]:
    """Running headers/footers (text repeated in the page margins), page numbers, line numbers."""
    junk: set[int] = set()
    seen: Counter[str] = Counter()
    key = {}
    for lines, h in zip(pages, heights):
        for ln in lines:
            if ln.y1 < 0.09 * h or ln.y0 > 0.91 * h:
                key[id(ln)] = re.sub(r"\d+", "#", ln.text.lower())
        for k in {key[id(ln)] for ln in lines if id(ln) in key}:
            seen[k] += 1
    repeated = max(2, int(0.3 * len(pages)))
    for lines, w in zip(pages, widths):
        for ln in lines:
            k = key.get(id(ln))
            numeric = re.fullmatch(r"[\divxlcIVXLC]+|page \d+( of \d+)?|\d+ / \d+", ln.text, re.I) is not None
            if k is not None and (seen[k] >= repeated or numeric):
                junk.add(id(ln))
            elif ln.text.isdigit() and (ln.x1 < 0.09 * w or ln.x0 > 0.91 * w):
                junk.add(id(ln))  # line numbers of review copies
    return junk


def _content_band(lines: list[TextLine], junk: set[int], height: float) -> tuple[float, float]:
    """The vertical span between the running header and footer (and the rules under/over them)."""
    top = max((ln.y1 for ln in lines if id(ln) in junk and ln.y1 < 0.12 * height), default=0.05 * height - 4) + 4
    bottom = min((ln.y0 for ln in lines if id(ln) in junk and ln.y0 > 0.88 * height), default=0.95 * height + 4) - 4
    return top, bottom


def _footnote(ln: TextLine, body: float, height: float) -> bool:
    """A footnote ("∗Corresponding author: ...") in small type at the foot of a page."""
    return ln.size < body - 0.5 and ln.y0 > 0.75 * height and re.match(r"^[∗*†‡§¶\d]", ln.text) is not None


def _columns(lines: list[TextLine], width: float) -> list[tuple[float, float]]:
    """The page's text columns: two when most body text sits wholly left or right of the middle."""
    if not lines:
        return [(0.0, width)]
    left_edge, right_edge = min(ln.x0 for ln in lines), max(ln.x1 for ln in lines)
    mid = width / 2
    left = sum(len(ln.text) for ln in lines if ln.x1 <= mid + 4)
    right = sum(len(ln.text) for ln in lines if ln.x0 >= mid - 4)
    spanning = sum(len(ln.text) for ln in lines) - left - right
    if right > 0.25 * (left + right + spanning) and left > 0.25 * (left + right + spanning) and spanning < 0.3 * (left + right):
        return [(left_edge, mid), (mid, right_edge)]
    return [(left_edge, right_edge)]


def _reading_order(lines: list[TextLine], columns: list[tuple[float, float]]) -> list[TextLine]:
    """Lines top to bottom; on two-column pages left column then right, between full-width rows.

    A row that holds a line crossing the middle (title, author grid, wide caption) closes the
    column segment above it, with all of the row's lines: an author's e-mail beside a centred one
    stays in the header rather than landing after the left column.
    """
    ordered = sorted(lines, key=lambda ln: (ln.y0, ln.x0))
    rows: list[list[TextLine]] = []
    for ln in ordered:
        if rows and abs(ln.y0 - rows[-1][0].y0) < 3:
            rows[-1].append(ln)
        else:
            rows.append([ln])
    if len(columns) == 1:
        return [ln for row in rows for ln in sorted(row, key=lambda ln: ln.x0)]
    mid = columns[0][1]
    out: list[TextLine] = []
    left: list[TextLine] = []
    right: list[TextLine] = []
    for row in rows:
        row.sort(key=lambda ln: ln.x0)
        if any(ln.x0 < mid - 4 and ln.x1 > mid + 4 for ln in row):
            out += left + right + row
            left, right = [], []
            continue
        for ln in row:
            (left if ln.x1 <= mid + 4 else right).append(ln)
    return out + left + right


def _join(lines: list[TextLine]) -> str:
    """Lines into paragraphs: hyphenated line ends re-joined, a new block starts a new paragraph."""
    paragraphs: list[str] = []
    current = ""
    prev: TextLine | None = None
    for ln in lines:
        # A paragraph that ends in a hyphen or runs on in lower case continues across a column or page break.
        continued = current.endswith("-") or ln.text[:1].islower()
        if prev is not None and (ln.block != prev.block or ln.page != prev.page) and current and not continued:
            paragraphs.append(current)
            current = ""
        # "classi-" + "fier" joins; "text-to-" + "image" keeps its hyphen (the word had one already)
        if current.endswith("-") and ln.text[:1].islower():
            keep = "-" in current[:-1].rsplit(" ", 1)[-1]
            current = (current if keep else current[:-1]) + ln.text
        else:
            current = f"{current} {ln.text}" if current else ln.text
        prev = ln
    if current:
        paragraphs.append(current)
    return "\n".join(paragraphs)


def _is_name(token: str) -> bool:
    words = token.split()
    return (1 < len(words) <= 5 and "@" not in token and not any(c.isdigit() for c in token)
            and all(w[:1].isupper() or w.lower() in {"de", "van", "von", "der", "da", "di", "la", "le"} for w in words)
            and not _ORG_WORDS.search(token))


def _authors(front: list[TextLine]) -> list[str]:
    """Author names from the lines between the title and the abstract (affiliations, e-mails dropped)."""
    names: list[str] = []
    for text in (part for ln in front for part in ln.parts or (ln.text,)):
        text = re.sub(r"(?<=[a-z])[\d∗*†‡§¶,]+(?=\s|$|,)", ",", text)  # affiliation marks end a name
        for token in re.split(r",|\band\b|&|;|\s{2,}", text):
            token = " ".join(token.strip(" *∗†‡§¶0123456789").split())
            if _is_name(token) and token not in names:
                names.append(token)
    return names


def _heading_kind(ln: TextLine, body: float) -> tuple[str | None, str] | None:
    """``(number, title)`` when ``ln`` looks like a section heading, else None."""
    text = ln.text.strip()
    if not (2 <= len(text) <= 120) or not any(c.isalpha() for c in text):
        return None
    styled = (ln.bold and ln.size >= body - 0.6) or ln.size >= body + 1.0
    if not styled or ln.rotated:
        return None
    match = _NUMBERED.match(text)
    if match and not match["title"].endswith((".", ",", ";")):
        return match["num"], match["title"]
    bare = text.rstrip(":").strip()
    if bare.lower() in _KNOWN_HEADINGS or (ln.size >= body + 1.5 and not bare.endswith((".", ","))):
        return None, bare
    return None


def _sections(ordered: list[TextLine], body: float) -> tuple[str, list[Section]]:
    """Split the ordered body lines at headings; return the abstract and the sections."""
    heads: list[tuple[int, str | None, str, int]] = []  # (index, number, title, level)
    last_top = 0
    seen_refs = False
    for i, ln in enumerate(ordered):
        kind = _heading_kind(ln, body)
        if kind is None:
            continue
        number, title = kind
        if number is not None and number[0].isalpha():
            if not (seen_refs or any(h[2].lower().startswith("appendi") for h in heads)):
                number, title = None, ln.text  # "A Simple Baseline" before the appendix is a title, not "A"
            elif not (ln.size >= body + 1.0 or ln.bold):
                continue
        if number is not None and number[0].isdigit():
            top = int(number.split(".")[0])
            if top > last_top + 1 or top < last_top or (number.count(".") and top != last_top):
                continue  # table rows and equation numbers do not follow the section numbering
            last_top = top
        if number is None and title.lower() not in _KNOWN_HEADINGS and ln.size < body + 1.5:
            continue
        seen_refs = seen_refs or title.lower() in _REFERENCES
        heads.append((i, number, title, number.count(".") + 1 if number else 1))

    # Page-1 title, author and affiliation lines are large too: structure starts at the abstract
    # or the first numbered or well-known heading.
    start = next((k for k, h in enumerate(heads) if h[1] is not None or h[2].lower() in _KNOWN_HEADINGS), len(heads))
    heads = heads[start:]
    abstract_at = next((k for k, h in enumerate(heads) if h[2].lower() == "abstract"), None)
    abstract = ""
    if abstract_at is not None:
        end = heads[abstract_at + 1][0] if abstract_at + 1 < len(heads) else len(ordered)
        abstract = _join(ordered[heads[abstract_at][0] + 1:end])
    else:
        inline = next((i for i, ln in enumerate(ordered[:200]) if re.match(r"^abstract\b\W", ln.text, re.I)), None)
        if inline is not None:
            end = next((h[0] for h in heads if h[0] > inline), len(ordered))
            abstract = re.sub(r"^abstract\W+", "", _join(ordered[inline:end]), flags=re.I)

    sections: list[Section] = []
    in_refs = False
    ids: Counter[str] = Counter()
    for k, (i, number, title, level) in enumerate(heads):
        if title.lower() == "abstract":
            continue
        if title.lower() in _REFERENCES:
            in_refs = True
            continue
        appendix = (number is not None and number[0].isalpha()) or title.lower().startswith(("appendi", "supplementary"))
        if in_refs and not appendix:
            continue  # bibliography entries that happened to look like headings
        in_refs = False
        end = heads[k + 1][0] if k + 1 < len(heads) else len(ordered)
        base = f"sec{number}" if number else "sec-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        ids[base] += 1
        sections.append(Section(id=base if ids[base] == 1 else f"{base}-{ids[base]}", number=number, heading=title,
                                level=level, text=_join(ordered[i + 1:end]), page=ordered[i].page + 1))
    if not abstract and heads:  # no "Abstract" heading: the prose before the first section
        abstract = _join(ordered[: heads[0][0]]).split("\n")[-1] if heads[0][0] else ""
    return abstract, sections


def parse_paper(path: str | Path, out_dir: str | Path, *, max_pages: int = 60, dpi: int = 150) -> Paper:
    """Parse the paper PDF at ``path``; figure crops and the first page go to ``out_dir`` as PNGs.

    Reads at most ``max_pages`` pages (a longer PDF is truncated and the cut is noted). Raises
    :class:`PdfError` for a file that is not a PDF, corrupt, encrypted, empty or without text.
    """
    path, out_dir = Path(path), Path(out_dir)
    notes: list[str] = []
    with open_pdf(path) as doc:
        total = doc.page_count
        count = min(total, max_pages)
        if count < total:
            notes.append(f"read the first {count} of {total} pages")
        pages = [doc[i] for i in range(count)]
        raw = [page_lines(p) for p in pages]
        all_lines = [ln for lines in raw for ln in lines]
        if sum(len(ln.text) for ln in all_lines) < 100:
            raise PdfError(f"{path} has no text layer (a scan?); run OCR first, e.g. `ocrmypdf in.pdf out.pdf`")
        body = _body_size(all_lines)
        junk = _margin_junk(raw, [p.rect.height for p in pages], [p.rect.width for p in pages])

        # page index -> pymupdf.DisplayList: a figure page is parsed once for its boxes and its crops
        display_lists: dict[int, Any] = {}
        regions: list[FigureRegion] = []
        captions: list[Caption] = []
        body_lines: list[TextLine] = []
        for page, lines in zip(pages, raw):
            lines = [ln for ln in lines if id(ln) not in junk]
            caps = find_captions(lines)
            captions += caps
            text_like = [ln for ln in lines if not ln.rotated and ln.size >= 0.85 * body]
            columns = _columns(text_like, page.rect.width)
            if any(c.kind == "figure" for c in caps):
                display_lists[page.number] = page.get_displaylist()
            found = figure_regions(page, lines, caps, body_size=body, columns=columns, display_list=display_lists.get(page.number),
                                   content=_content_band(raw[page.number], junk, page.rect.height),
                                   headings={id(ln) for ln in lines if _heading_kind(ln, body) is not None})
            regions += found
            hidden = {id(ln) for c in caps for ln in c.lines} | {id(ln) for r in found for ln in r.text_lines}
            kept = [ln for ln in lines if id(ln) not in hidden and not ln.rotated and ln.size >= 0.7 * body
                    and not _footnote(ln, body, page.rect.height)]
            body_lines += _reading_order(kept, columns)

        title = " ".join(page_title(pages[0]).split())
        abstract, sections = _sections(body_lines, body)
        first_page_lines = [ln for ln in body_lines if ln.page == 0]
        title_bottom = max((ln.y1 for ln in first_page_lines if ln.size >= max(x.size for x in first_page_lines) - 0.5), default=0)
        stop = next((ln.y0 for ln in first_page_lines if ln.y0 > title_bottom and re.match(r"^abstract\b", ln.text, re.I)), None)
        if stop is None:
            stop = next((ln.y0 for ln in first_page_lines if ln.y0 > title_bottom and _heading_kind(ln, body)), title_bottom + 150)
        authors = _authors([ln for ln in first_page_lines if title_bottom < ln.y0 < stop])

        if not abstract:
            notes.append("no abstract found (no 'Abstract' heading and no prose before the first section)")
        if not sections:
            notes.append("no section headings found (no numbered or bold headings in the text)")
        figures = _render_figures(doc, regions, out_dir, dpi, display_lists)
        tables: dict[str, TableCaption] = {}
        for cap in captions:
            if cap.kind == "table" and cap.number not in tables:
                tables[cap.number] = TableCaption(id=f"tab{cap.number}", number=cap.number, caption=cap.text, page=cap.page + 1)
        figure_numbers = {c.number for c in captions if c.kind == "figure"}
        missing = sorted(figure_numbers - {f.number for f in figures}, key=lambda n: (len(n), n))
        if missing:
            notes.append(f"no graphics found next to the caption of figure(s) {', '.join(missing)}")
        first_png = out_dir / "page1.png"
        render_clip(pages[0], tuple(pages[0].rect), first_png, dpi=dpi, display_list=display_lists.get(0))
        return Paper(title=title, authors=authors, abstract=abstract, sections=sections, figures=figures,
                     tables=list(tables.values()), first_page=str(first_png), pages_total=total, pages_read=count,
                     truncated=count < total, notes=notes)


def _render_figures(doc, regions: list[FigureRegion], out_dir: Path, dpi: int, display_lists: dict[int, Any]) -> list[Figure]:  # noqa: ANN001
    """One PNG per figure number; a caption repeated on the same page ("Figure 8" in two parts) joins its crop."""
    by_number: dict[str, list[FigureRegion]] = {}
    for region in regions:
        group = by_number.setdefault(region.caption.number, [])
        if not group or group[0].caption.page == region.caption.page:
            group.append(region)
    figures = []
    lists = display_lists
    for number, group in by_number.items():
        rect = (min(r.rect[0] for r in group), min(r.rect[1] for r in group), max(r.rect[2] for r in group), max(r.rect[3] for r in group))
        first = group[0]
        caption = " ".join(r.caption.text for r in group)
        dest = out_dir / f"fig{number}.png"
        page = doc[first.caption.page]
        if first.caption.page not in lists:
            lists[first.caption.page] = page.get_displaylist()
        width, height = render_clip(page, rect, dest, dpi=dpi, display_list=lists[first.caption.page])
        kinds = {r.kind for r in group}
        kind = kinds.pop() if len(kinds) == 1 else "mixed"
        figures.append(Figure(id=f"fig{number}", number=number, caption=caption, page=first.caption.page + 1,
                              path=str(dest), width=width, height=height, kind=kind))
    figures.sort(key=lambda f: (f.page, int(re.sub(r"\D", "", f.number) or 0)))
    return figures
