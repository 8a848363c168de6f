"""Checks that the demo's sample paper looks like a paper to a font-size parser.

The demo's PDF parser finds the title and section headings by font size, so
these tests read the built PDF back with PyMuPDF and assert on exactly the
signals the parser relies on, rather than on the HTML the module generates.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
import sys
from collections import Counter
from collections.abc import Iterator
from types import ModuleType

import pymupdf
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULE_PATH = REPO_ROOT / "examples" / "sample_paper.py"
MODULE_NAME = "agentgraphs_examples_sample_paper"
NUMBERED_HEADING = re.compile(r"^\d+\s+[A-Z][A-Za-z ]+$")


def _load_module() -> ModuleType:
    """Import examples/sample_paper.py by path; ``examples`` is not a package.

    The module is registered in ``sys.modules`` before it runs because
    ``dataclasses`` looks its defining module up there.
    """
    spec = importlib.util.spec_from_file_location(MODULE_NAME, MODULE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample_paper() -> ModuleType:
    return _load_module()


@pytest.fixture(scope="module")
def pdf_path(sample_paper: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("paper") / "sample.pdf"
    returned = sample_paper.build_sample_paper(out)
    assert returned == out
    return out


@pytest.fixture(scope="module")
def doc(pdf_path: pathlib.Path) -> Iterator[pymupdf.Document]:
    document = pymupdf.open(pdf_path)
    yield document
    document.close()


def _lines(page: pymupdf.Page) -> list[tuple[str, float]]:
    """Each text line on the page with the largest font size used in it."""
    lines: list[tuple[str, float]] = []
    for block in page.get_text("dict")["blocks"]:
        for line in block.get("lines", []):
            text = "".join(span["text"] for span in line["spans"]).strip()
            if text:
                lines.append((text, max(span["size"] for span in line["spans"])))
    return lines


def _body_size(doc: pymupdf.Document) -> float:
    """The font size carrying the most characters, i.e. the body text size."""
    sizes: Counter[float] = Counter()
    for page in doc:
        for text, size in _lines(page):
            sizes[round(size, 1)] += len(text)
    return sizes.most_common(1)[0][0]


def test_page_count(doc: pymupdf.Document) -> None:
    assert 3 <= doc.page_count <= 4


def test_title_is_largest_text_on_first_page(
    doc: pymupdf.Document, sample_paper: ModuleType
) -> None:
    lines = _lines(doc[0])
    largest = max(size for _, size in lines)
    title_text = " ".join(text for text, size in lines if size == largest)
    assert title_text == sample_paper.TITLE


def test_abstract_and_references_present(doc: pymupdf.Document) -> None:
    text = "".join(page.get_text() for page in doc)
    assert "Abstract" in text
    assert "References" in text


def test_numbered_section_headings_use_larger_font(doc: pymupdf.Document) -> None:
    body = _body_size(doc)
    headings = [
        text
        for page in doc
        for text, size in _lines(page)
        if size > body and NUMBERED_HEADING.match(text)
    ]
    assert len(headings) >= 5, headings
    assert [h.split()[0] for h in headings[:5]] == ["1", "2", "3", "4", "5"]


def test_has_embedded_figures_with_captions(doc: pymupdf.Document) -> None:
    images = sum(len(page.get_images(full=True)) for page in doc)
    assert images >= 2
    text = "".join(page.get_text() for page in doc)
    assert "Figure 1:" in text
    assert "Figure 2:" in text
    assert "Table 1:" in text


def test_text_layer_is_deterministic(
    sample_paper: ModuleType, pdf_path: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    second = sample_paper.build_sample_paper(tmp_path / "again.pdf")
    with pymupdf.open(pdf_path) as first_doc, pymupdf.open(second) as second_doc:
        assert [p.get_text() for p in first_doc] == [p.get_text() for p in second_doc]


def test_no_temp_files_left_behind(pdf_path: pathlib.Path) -> None:
    assert sorted(p.name for p in pdf_path.parent.iterdir()) == [pdf_path.name]
