"""Reading research-paper PDFs (PyMuPDF): the text a model can summarise, with clear refusals.

Deterministic and model-free. Bad files are refused with the reason and the fix: not a PDF,
corrupt, encrypted, no pages, no text layer (scanned); long papers are cut to the first pages and
the cut is reported, not hidden.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from agentgraphs.errors import AgentgraphsError
from agentgraphs.extras import require

__all__ = ["PaperText", "PdfError", "TextLine", "join_spans", "open_pdf", "page_lines", "page_title", "read_paper_text"]


class PdfError(AgentgraphsError, ValueError):
    """A PDF cannot be used as a paper."""


@dataclass(frozen=True, kw_only=True)
class PaperText:
    """The readable text of a paper's first pages."""

    title: str
    """The largest-font line of page 1 (the PDF's metadata title is often empty or a file name)."""
    text: str
    pages_read: int
    pages_total: int

    @property
    def truncated(self) -> bool:
        return self.pages_read < self.pages_total


def open_pdf(path: Path):  # -> pymupdf.Document; untyped library
    """Open ``path`` with PyMuPDF, or raise :class:`PdfError` naming the problem and its fix."""
    pymupdf = require("pymupdf", extra="video", purpose="reading PDFs")
    if not path.is_file():
        raise PdfError(f"{path} does not exist or is not a file; give the path of a PDF")
    with open(path, "rb") as fh:
        if not fh.read(1024).lstrip().startswith(b"%PDF"):
            raise PdfError(f"{path} is not a PDF (no %PDF header); give a PDF file")
    try:
        doc = pymupdf.open(path)
    except Exception as exc:
        raise PdfError(f"{path} is a corrupt PDF that PyMuPDF cannot open ({exc}); re-download or re-export it") from exc
    if doc.needs_pass:
        raise PdfError(f"{path} is encrypted; save an unencrypted copy first (e.g. `qpdf --decrypt in.pdf out.pdf`)")
    if doc.page_count == 0:
        raise PdfError(f"{path} has no pages; export the paper again (the file may have been cut) or give another PDF")
    return doc


def join_spans(spans: list[dict]) -> str:
    """Span texts of one line, with the spaces that layout gaps imply (PDFs often omit them)."""
    text = spans[0]["text"]
    for prev, span in zip(spans, spans[1:]):
        gap = span["bbox"][0] - prev["bbox"][2]
        if gap > 0.15 * span["size"] and not text.endswith(" ") and not span["text"].startswith(" "):
            text += " "
        text += span["text"]
    return text.strip()


_BOLD_FONT_WORDS = ("bold", "medi", "semibold", "black", "heavy", "demi")


@dataclass(frozen=True, kw_only=True)
class TextLine:
    """One visible line of text with the layout facts a structure parser needs."""

    page: int
    """0-based page index."""
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    """NFKC-normalised text, spans joined with the spaces their gaps imply."""
    size: float
    """Font size of the span that holds most of the line's characters."""
    bold: bool
    """Every span with letters is set in a bold face (flag or font name)."""
    block: int
    """Index of PyMuPDF's text block on the page: a paragraph break changes it."""
    first_in_block: bool
    rotated: bool
    """Not left-to-right horizontal (axis labels, margin stamps)."""
    mono: bool = False
    """Set in a monospaced font (code listings)."""
    parts: tuple[str, ...] = ()
    """The pieces PyMuPDF saw as separate lines on this row (names in an author list)."""

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2


def _is_bold(span: dict) -> bool:
    return bool(span["flags"] & 16) or any(word in span["font"].lower() for word in _BOLD_FONT_WORDS)


def page_lines(page) -> list[TextLine]:  # noqa: ANN001 - pymupdf.Page
    """The visible text lines of ``page`` in PyMuPDF's order; near-transparent watermarks dropped.

    Pieces of one row that PyMuPDF splits ("1" and "Introduction" of a heading) are joined when
    the gap is under 1.5 em; ``parts`` keeps the pieces (author lists are split on them).
    """
    out: list[TextLine] = []
    for bno, block in enumerate(page.get_text("dict")["blocks"]):
        rows: list[tuple[list[dict], list[str], tuple[float, float, float, float], tuple[float, float]]] = []
        for line in block.get("lines", []):
            spans = [s for s in line["spans"] if s["text"].strip() and s.get("alpha", 255) >= 128]
            if not spans:
                continue
            x0, y0, x1, y1 = line["bbox"]
            size = max(s["size"] for s in spans)
            if rows:
                pspans, parts, (px0, py0, px1, py1), pdir = rows[-1]
                if (pdir == tuple(line["dir"]) and abs(py0 - y0) < 0.3 * size and abs(py1 - y1) < 0.3 * size
                        and 0 <= x0 - px1 <= 1.5 * size):
                    rows[-1] = (pspans + spans, parts + [join_spans(spans)], (px0, min(py0, y0), x1, max(py1, y1)), pdir)
                    continue
            rows.append((spans, [join_spans(spans)], (x0, y0, x1, y1), tuple(line["dir"])))
        for i, (spans, parts, (x0, y0, x1, y1), direction) in enumerate(rows):
            text = unicodedata.normalize("NFKC", join_spans(spans))
            main = max(spans, key=lambda s: len(s["text"].strip()))
            lettered = [s for s in spans if any(c.isalpha() for c in s["text"])]
            out.append(TextLine(page=page.number, x0=x0, y0=y0, x1=x1, y1=y1, text=" ".join(text.split()),
                                size=round(main["size"], 1), bold=bool(lettered) and all(_is_bold(s) for s in lettered),
                                block=bno, first_in_block=i == 0, rotated=abs(direction[1]) > 0.01,
                                mono=bool(main["flags"] & 8) or any(m in main["font"].lower() for m in ("mono", "courier", "tt")),
                                parts=tuple(" ".join(unicodedata.normalize("NFKC", p).split()) for p in parts)))
    return out


def page_title(page) -> str:  # noqa: ANN001 - pymupdf.Page
    """The lines set in the page's largest visible font, whole (small-caps titles mix sizes)."""
    lines: list[tuple[float, str]] = []
    for block in page.get_text("dict")["blocks"]:
        for line in block.get("lines", []):
            # Near-transparent spans are watermarks ("Created in ... PDF Editor"), not the title.
            spans = [s for s in line["spans"] if s["text"].strip() and s.get("alpha", 255) >= 128]
            if spans:
                lines.append((max(s["size"] for s in spans), join_spans(spans)))
    if not lines:
        return ""
    largest = max(size for size, _ in lines)
    return " ".join(text for size, text in lines if size >= largest - 0.5)[:300]


def read_paper_text(path: str | Path, *, max_pages: int = 3) -> PaperText:
    """The title and the text of the first ``max_pages`` pages of the PDF at ``path``."""
    path = Path(path)
    with open_pdf(path) as doc:
        pages = min(max_pages, doc.page_count)
        # NFKC turns typesetting ligatures ("ﬁ") back into letters models and searches understand.
        text = unicodedata.normalize("NFKC", "\n".join(doc[i].get_text("text", sort=True) for i in range(pages))).strip()
        if len(text) < 100:
            raise PdfError(f"{path} has no text layer (a scan?); run OCR first, e.g. `ocrmypdf in.pdf out.pdf`")
        return PaperText(title=unicodedata.normalize("NFKC", page_title(doc[0])), text=text, pages_read=pages, pages_total=doc.page_count)
