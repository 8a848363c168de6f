"""PDF reading: real papers read, bad files refused with the reason and the fix."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from agentgraphs.tools.pdf import PdfError, read_paper_text


def test_sample_paper_text_and_title(sample_paper: Path) -> None:
    paper = read_paper_text(sample_paper, max_pages=1)
    assert paper.title == "Curriculum Sampling Speeds Up Small Transformer Training"
    assert "Abstract" in paper.text
    assert paper.pages_read == 1 and paper.truncated


@pytest.mark.parametrize("name, title_words", [
    ("MoBA_Tech_Report.pdf", "moba: mixture of block attention for long-context llms"),
    ("Moonlight_Muon_is_Scalable.pdf", "muon is scalable for llm training"),
    ("decision_tree_fields_iccv2011.pdf", "decision tree fields"),
    ("janus_pro_tech_report.pdf", "janus-pro: unified multimodal understanding"),
])
def test_shared_papers_titles(shared_data: Path, name: str, title_words: str) -> None:
    paper = read_paper_text(shared_data / "papers" / name, max_pages=2)
    assert title_words in " ".join(paper.title.lower().split())
    assert paper.pages_total >= 8 and paper.truncated
    assert len(paper.text) > 2000


def test_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_text("just some notes")
    with pytest.raises(PdfError, match="not a PDF"):
        read_paper_text(path)


def test_corrupt_pdf(tmp_path: Path, sample_paper: Path) -> None:
    path = tmp_path / "cut.pdf"
    path.write_bytes(sample_paper.read_bytes()[:600])
    with pytest.raises(PdfError, match="corrupt|no text layer"):
        read_paper_text(path)


def test_encrypted_pdf(tmp_path: Path, sample_paper: Path) -> None:
    doc = pymupdf.open(sample_paper)
    path = tmp_path / "locked.pdf"
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner")
    with pytest.raises(PdfError, match="encrypted"):
        read_paper_text(path)


def test_scanned_pdf_without_text_layer(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    page.draw_rect(pymupdf.Rect(50, 50, 300, 300), color=(0, 0, 0), fill=(0.5, 0.5, 0.5))
    path = tmp_path / "scan.pdf"
    doc.save(path)
    with pytest.raises(PdfError, match="no text layer"):
        read_paper_text(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PdfError, match="does not exist"):
        read_paper_text(tmp_path / "nope.pdf")


def test_ligatures_become_letters(sample_paper: Path) -> None:
    text = read_paper_text(sample_paper, max_pages=3).text
    assert "\ufb01" not in text and "\ufb02" not in text
    assert "fixed" in text
