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

__all__ = ["PaperText", "PdfError", "read_paper_text"]


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


def _open(path: Path):  # -> pymupdf.Document; untyped library
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
        raise PdfError(f"{path} has no pages")
    return doc


def _join_spans(spans: list[dict]) -> str:
    """Span texts of one line, with the spaces that layout gaps imply (PDFs often omit them)."""
    text = spans[0]["text"]
    for prev, span in zip(spans, spans[1:]):
        gap = span["bbox"][0] - prev["bbox"][2]
        if gap > 0.15 * span["size"] and not text.endswith(" ") and not span["text"].startswith(" "):
            text += " "
        text += span["text"]
    return text.strip()


def _title(page) -> str:  # noqa: ANN001 - pymupdf.Page
    """The lines set in the page's largest visible font, whole (small-caps titles mix sizes)."""
    lines: list[tuple[float, str]] = []
    for block in page.get_text("dict")["blocks"]:
        for line in block.get("lines", []):
            # Near-transparent spans are watermarks ("Created in ... PDF Editor"), not the title.
            spans = [s for s in line["spans"] if s["text"].strip() and s.get("alpha", 255) >= 128]
            if spans:
                lines.append((max(s["size"] for s in spans), _join_spans(spans)))
    if not lines:
        return ""
    largest = max(size for size, _ in lines)
    return " ".join(text for size, text in lines if size >= largest - 0.5)[:300]


def read_paper_text(path: str | Path, *, max_pages: int = 3) -> PaperText:
    """The title and the text of the first ``max_pages`` pages of the PDF at ``path``."""
    path = Path(path)
    with _open(path) as doc:
        pages = min(max_pages, doc.page_count)
        # NFKC turns typesetting ligatures ("ﬁ") back into letters models and searches understand.
        text = unicodedata.normalize("NFKC", "\n".join(doc[i].get_text("text", sort=True) for i in range(pages))).strip()
        if len(text) < 100:
            raise PdfError(f"{path} has no text layer (a scan?); run OCR first, e.g. `ocrmypdf in.pdf out.pdf`")
        return PaperText(title=unicodedata.normalize("NFKC", _title(doc[0])), text=text, pages_read=pages, pages_total=doc.page_count)
