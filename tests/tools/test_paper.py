"""Research-paper parsing on the real papers: structure, figures cropped right, bad files refused."""

from __future__ import annotations

import re
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from agentgraphs.tools.paper import Paper, parse_paper
from agentgraphs.tools.pdf import PdfError

PAPERS = {
    # file: (title words, min sections, figure count, table count)
    "janus_pro_tech_report.pdf": ("janus-pro: unified multimodal understanding", 5, 4, 5),
    "MoBA_Tech_Report.pdf": ("moba: mixture of block attention", 8, 8, 3),
    "Moonlight_Muon_is_Scalable.pdf": ("muon is scalable for llm training", 10, 10, 10),
    "decision_tree_fields_iccv2011.pdf": ("decision tree fields", 6, 10, 2),
}


@pytest.fixture(scope="module")
def parsed(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Paper]:
    """Each shared paper parsed once for the module (parsing renders every figure)."""
    return {name: parse_paper(shared_data / "papers" / name, tmp_path_factory.mktemp(name.split(".")[0])) for name in PAPERS}


@pytest.mark.parametrize("name", list(PAPERS))
def test_structure(parsed: dict[str, Paper], name: str) -> None:
    title_words, min_sections, _, _ = PAPERS[name]
    paper = parsed[name]
    assert title_words in " ".join(paper.title.lower().split())
    assert len(paper.authors) >= 6 and all(len(a.split()) >= 2 for a in paper.authors)
    assert len(paper.abstract) > 400
    assert len(paper.sections) >= min_sections
    assert paper.sections[0].heading.lower() == "introduction"
    assert sum(len(s.text) for s in paper.sections) > 8_000
    assert not paper.truncated and paper.pages_read == paper.pages_total
    assert Path(paper.first_page).is_file()
    # numbered headings keep their numbers and levels
    numbered = [s for s in paper.sections if s.number]
    assert numbered and all(s.level == s.number.count(".") + 1 for s in numbered)


@pytest.mark.parametrize("name", list(PAPERS))
def test_references_are_not_body_text(parsed: dict[str, Paper], name: str) -> None:
    paper = parsed[name]
    assert not any(s.heading.lower() in {"references", "bibliography"} for s in paper.sections)
    text = "\n".join(s.text for s in paper.sections)
    # Bibliography entries look like "Author, A. ... In Proceedings of ... 2019." in bulk.
    assert len(re.findall(r"\bIn (?:Proceedings|Advances|International Conference|CVPR|ICCV|NeurIPS)\b", text)) < 3
    assert len(re.findall(r"arXiv preprint arXiv:\d{4}\.\d{4,5}", text)) < 3


@pytest.mark.parametrize("name", list(PAPERS))
def test_figures_paired_with_their_captions(parsed: dict[str, Paper], name: str) -> None:
    _, _, figure_count, table_count = PAPERS[name]
    paper = parsed[name]
    assert [f.id for f in paper.figures] == [f"fig{i}" for i in range(1, figure_count + 1)]
    for fig in paper.figures:
        assert re.match(rf"^(Figure|Fig\.)\s*{fig.number}\s*[:.|]", fig.caption), fig.caption[:40]
        assert "  " not in fig.caption and "\ufb01" not in fig.caption
        with Image.open(fig.path) as image:
            assert image.size == (fig.width, fig.height)
        assert min(fig.width, fig.height) >= 200, (fig.id, fig.width, fig.height)
        assert paper.figure(fig.id) is fig
    assert len(paper.tables) == table_count
    assert [t.id for t in paper.tables] == [f"tab{i}" for i in range(1, table_count + 1)]
    assert all(t.caption.startswith(f"Table {t.number}") for t in paper.tables)


def _page_px(fig_page: int, shared_data: Path, name: str, dpi: int = 150) -> tuple[float, float]:
    with pymupdf.open(shared_data / "papers" / name) as doc:
        rect = doc[fig_page - 1].rect
    return rect.width * dpi / 72, rect.height * dpi / 72


@pytest.mark.parametrize("name", list(PAPERS))
def test_figure_crops_are_not_whole_pages(parsed: dict[str, Paper], shared_data: Path, name: str) -> None:
    """A crop is the figure, not the page: only figures that really fill a page may come close."""
    paper = parsed[name]
    full_page = {("janus_pro_tech_report.pdf", "fig4"), ("MoBA_Tech_Report.pdf", "fig8")}  # page-sized in the PDF
    for fig in paper.figures:
        page_w, page_h = _page_px(fig.page, shared_data, name)
        area = fig.width * fig.height / (page_w * page_h)
        if (name, fig.id) not in full_page:
            assert area < 0.45, (fig.id, round(area, 2))


def test_known_crops(parsed: dict[str, Paper]) -> None:
    """Spot checks of crops looked at by eye: side captions, side-by-side figures, raster grids, code."""
    dtf = parsed["decision_tree_fields_iccv2011.pdf"]
    # Figures 2 and 3 stand side by side in one column: two different, column-narrow crops.
    assert dtf.figure("fig2").width < 400 and dtf.figure("fig3").width < 400
    assert dtf.figure("fig6").kind == "raster" and dtf.figure("fig4").kind == "vector"
    janus = parsed["janus_pro_tech_report.pdf"]
    assert janus.figure("fig2").kind == "raster"
    moon = parsed["Moonlight_Muon_is_Scalable.pdf"]
    assert moon.figure("fig6").caption.startswith("Figure 6: Python implementation")  # a code listing
    assert moon.figure("fig7").height > 600  # four sub-plots (a)-(d), not one
    with pytest.raises(KeyError, match="fig1"):
        moon.figure("fig99")


def test_two_column_reading_order(parsed: dict[str, Paper]) -> None:
    paper = parsed["decision_tree_fields_iccv2011.pdf"]
    assert paper.abstract.startswith("This paper introduces a new formulation")
    intro = paper.sections[0]
    assert intro.heading == "Introduction" and intro.number == "1"
    assert intro.text.startswith("The last decade has seen")
    # The abstract ends at the bottom of the left column; the introduction continues in the right
    # column. A column-blind reader interleaves the two line by line.
    assert "labeling tasks, the Decision Tree Field (DTF), that combines and generalizes random forests" in paper.abstract
    assert "The last decade" not in paper.abstract
    # Page 1: "per-pixel like-" ends the left column, "lihood functions ..." starts the right one;
    # the author e-mail printed beside the header must not land in between.
    assert "by integrating a per-pixel likelihood functions with pairwise consistency potentials" in intro.text
    assert "@" not in intro.text
    # "... image labeling methods" is a sentence broken at the bottom of a column on page 3
    related = next(s for s in paper.sections if s.heading == "Relation to other Models")
    assert "The proposed DTF generalizes a number of popular existing image labeling methods" in related.text
    for section in paper.sections:
        assert "Figure 7. Test set" not in section.text  # captions are not body text


def test_no_running_headers_or_page_numbers(parsed: dict[str, Paper]) -> None:
    moba = parsed["MoBA_Tech_Report.pdf"]
    text = "\n".join(s.text for s in moba.sections)
    assert "TECHNICAL REPORT" not in text.upper().replace("TECHNICAL REPORT, ", "")
    assert not re.search(r"^\d{1,2}$", text, re.M)


def test_outline_fits_and_names_everything(parsed: dict[str, Paper]) -> None:
    paper = parsed["Moonlight_Muon_is_Scalable.pdf"]
    for budget in (1500, 4000, 12000):
        outline = paper.outline(budget)
        assert len(outline) <= budget
    outline = paper.outline(12000)
    assert outline.startswith("Title: MUON IS SCALABLE")
    assert all(s.heading in outline for s in paper.sections)
    assert all(f"{f.id} " in outline for f in paper.figures)


def test_sample_paper(sample_paper: Path, tmp_path: Path) -> None:
    paper = parse_paper(sample_paper, tmp_path)
    assert paper.title == "Curriculum Sampling Speeds Up Small Transformer Training"
    assert paper.authors == ["Mara Lindqvist", "Tomas Okafor", "Priya Raman"]
    assert paper.abstract.startswith("Small transformer language models are cheap to train")
    assert [(s.number, s.heading) for s in paper.sections] == [
        ("1", "Introduction"), ("2", "Method"), ("3", "Experiments"), ("4", "Related Work"), ("5", "Conclusion")]
    assert "Bengio, J. Louradour" not in "".join(s.text for s in paper.sections)
    assert [f.id for f in paper.figures] == ["fig1", "fig2"]
    assert all(f.kind == "raster" and f.width > 600 for f in paper.figures)
    assert paper.figure("fig2").caption.startswith("Figure 2: Thousands of steps")
    assert [t.id for t in paper.tables] == ["tab1"]
    assert Path(paper.first_page).name == "page1.png" and Path(paper.first_page).is_file()


def _synthetic_paper(path: Path) -> Path:
    """One page: a title, numbered bold headings, prose, and two drawn charts with "Fig. N." captions,
    one caption under its chart and one over it."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    prose = "Body text of the synthetic paper runs across the whole column width here."
    page.insert_text((120, 80), "A Synthetic Paper About Captions", fontname="hebo", fontsize=20)
    page.insert_text((250, 105), "Ada Lovelace, Alan Turing", fontsize=11)
    page.insert_text((72, 135), "Abstract", fontname="hebo", fontsize=12)
    for i in range(4):
        page.insert_text((72, 152 + 12 * i), f"{prose} Abstract line {i}.", fontsize=10)
    page.insert_text((72, 220), "1 Introduction", fontname="hebo", fontsize=12)
    for i in range(3):
        page.insert_text((72, 237 + 12 * i), f"{prose} Intro line {i}.", fontsize=10)
    chart = pymupdf.Rect(150, 280, 450, 420)  # a bar chart drawn with paths
    page.draw_rect(chart, color=(0, 0, 0), width=0.8)
    for k, height in enumerate((40, 90, 120, 60)):
        page.draw_rect(pymupdf.Rect(175 + 65 * k, 420 - height, 215 + 65 * k, 420), fill=(0.2, 0.4, 0.8), color=None)
    page.insert_text((72, 438), "Fig. 1. Bars drawn as vector paths, caption below.", fontsize=9)
    for i in range(3):
        page.insert_text((72, 462 + 12 * i), f"{prose} More line {i}.", fontsize=10)
    page.insert_text((72, 510), "Fig. 2. A line chart, caption above.", fontsize=9)
    plot = pymupdf.Rect(200, 520, 400, 640)
    page.draw_rect(plot, color=(0, 0, 0), width=0.8)
    page.draw_polyline([(205, 630), (250, 600), (300, 610), (350, 560), (395, 530)], color=(0.8, 0.1, 0.1), width=1.5, lineJoin=1)
    page.insert_text((72, 662), "2 Results", fontname="hebo", fontsize=12)
    for i in range(3):
        page.insert_text((72, 679 + 12 * i), f"{prose} Result line {i}.", fontsize=10)
    page.insert_text((72, 720), "Table 1: A table caption without a table.", fontsize=9)
    doc.save(path)
    return path


def test_caption_styles_and_vector_figures(tmp_path: Path) -> None:
    paper = parse_paper(_synthetic_paper(tmp_path / "synthetic.pdf"), tmp_path / "out", dpi=150)
    assert paper.title == "A Synthetic Paper About Captions"
    assert paper.authors == ["Ada Lovelace", "Alan Turing"]
    assert paper.abstract.startswith("Body text") and "Abstract line 3." in paper.abstract
    assert [(s.number, s.heading) for s in paper.sections] == [("1", "Introduction"), ("2", "Results")]
    assert "Fig. 1" not in paper.sections[0].text and "More line 2." in paper.sections[0].text
    assert [(f.id, f.kind) for f in paper.figures] == [("fig1", "vector"), ("fig2", "vector")]
    one, two = paper.figures
    assert one.caption == "Fig. 1. Bars drawn as vector paths, caption below."
    # the crops are the drawn charts (300x140 pt and 200x120 pt at 150 dpi), give or take the padding
    # (MuPDF bounds a mitre-joined polyline ~10 pt wide of its ink, so the chart uses round joins)
    assert abs(one.width - 300 * 150 / 72) < 40 and abs(one.height - 140 * 150 / 72) < 40, (one.width, one.height)
    assert abs(two.width - 200 * 150 / 72) < 40 and abs(two.height - 120 * 150 / 72) < 40, (two.width, two.height)
    assert [(t.id, t.caption) for t in paper.tables] == [("tab1", "Table 1: A table caption without a table.")]


# --- bad input -------------------------------------------------------------------------------


def test_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_text("just some notes")
    with pytest.raises(PdfError, match="not a PDF"):
        parse_paper(path, tmp_path / "out")


def test_corrupt_pdf(tmp_path: Path, sample_paper: Path) -> None:
    path = tmp_path / "cut.pdf"
    path.write_bytes(sample_paper.read_bytes()[:600])
    with pytest.raises(PdfError, match="corrupt|no text layer"):
        parse_paper(path, tmp_path / "out")


def test_encrypted_pdf(tmp_path: Path, sample_paper: Path) -> None:
    path = tmp_path / "locked.pdf"
    with pymupdf.open(sample_paper) as doc:
        doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner")
    with pytest.raises(PdfError, match="encrypted"):
        parse_paper(path, tmp_path / "out")


def test_zero_pages(tmp_path: Path) -> None:
    # pymupdf refuses to save a document without pages, so the file is written by hand
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
                     b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    with pytest.raises(PdfError, match="no pages"):
        parse_paper(path, tmp_path / "out")


def test_scanned_pdf_without_text_layer(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 200, 200), False)
    pix.clear_with(180)
    page.insert_image(pymupdf.Rect(50, 50, 500, 500), pixmap=pix)
    path = tmp_path / "scan.pdf"
    doc.save(path)
    with pytest.raises(PdfError, match="no text layer.*OCR"):
        parse_paper(path, tmp_path / "out")


def test_long_pdf_is_truncated_with_a_note(tmp_path: Path, sample_paper: Path) -> None:
    doc = pymupdf.open()
    with pymupdf.open(sample_paper) as sample:
        for _ in range(6):
            doc.insert_pdf(sample)
    path = tmp_path / "long.pdf"
    doc.save(path)
    total = doc.page_count
    paper = parse_paper(path, tmp_path / "out", max_pages=4)
    assert paper.truncated and paper.pages_read == 4 and paper.pages_total == total
    assert f"read the first 4 of {total} pages" in paper.notes
    assert paper.title == "Curriculum Sampling Speeds Up Small Transformer Training"
    assert {f.page for f in paper.figures} <= {1, 2, 3, 4}


def test_pngs_are_written_atomically(tmp_path: Path, sample_paper: Path) -> None:
    out = tmp_path / "out"
    parse_paper(sample_paper, out)
    parse_paper(sample_paper, out)  # a rerun replaces the files in place
    assert sorted(p.name for p in out.iterdir()) == ["fig1.png", "fig2.png", "page1.png"]
