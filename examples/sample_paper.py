"""Build a small, self-contained sample research paper as a PDF.

Why this exists: the demo command turns a paper PDF into a digest/video, but
the repository cannot ship the shared papers the demo is normally run on.
Rather than ship a binary fixture, the demo builds its own paper on demand
with this module.

The paper is made up but internally consistent: the numbers quoted in the prose,
the two figures and the table all come from the same constants below, so a
summariser that reads the text and one that reads the figures see the same
story.  The layout deliberately looks like a real paper (large title, bold
numbered section headings in a bigger font than the body, captioned raster
figures, a table, references) because the demo's parser relies on font sizes
to find structure, and a real text layer so ``page.get_text()`` works.

Usage::

    python examples/sample_paper.py OUT.pdf
"""

from __future__ import annotations

import html
import io
import os
import pathlib
import sys
import tempfile
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # headless: figures are rendered to bytes, never shown

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pymupdf  # noqa: E402

# --------------------------------------------------------------------------
# Page geometry and typography.  Sizes are in PDF points (1/72 inch); the
# HTML renderer used by pymupdf.Story also treats 1px as 1pt.
# --------------------------------------------------------------------------
PAGE_RECT = pymupdf.paper_rect("a4")
MARGIN = 64.0
CONTENT_RECT = PAGE_RECT + (MARGIN, MARGIN, -MARGIN, -MARGIN)

TITLE_SIZE = 20
HEADING_SIZE = 13
BODY_SIZE = 10
SMALL_SIZE = 8.5

FIGURE_WIDTH_PT = 360
FIGURE_DPI = 200

# A fixed timestamp keeps the PDF metadata identical between runs.
FIXED_PDF_DATE = "D:20240301120000Z"

TITLE = "Curriculum Sampling Speeds Up Small Transformer Training"
AUTHORS = "Mara Lindqvist, Tomas Okafor and Priya Raman"
AFFILIATION = "Example Institute for Machine Learning"
DISCLAIMER = (
    "Synthetic sample paper generated for the agentgraphs demo. "
    "The experiments and results are illustrative, not real measurements."
)


# --------------------------------------------------------------------------
# Experimental "results".  Everything the paper claims is derived from here.
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelResult:
    """Outcome for one model size under both sampling schemes."""

    name: str
    params_m: int
    baseline_steps_k: float  # thousand steps to reach the target loss
    curriculum_steps_k: float
    baseline_ppl: float  # final validation perplexity
    curriculum_ppl: float


RESULTS: tuple[ModelResult, ...] = (
    ModelResult("Tiny", 6, 41.0, 26.5, 38.6, 37.9),
    ModelResult("Small", 19, 34.0, 23.1, 29.4, 28.8),
    ModelResult("Base", 44, 30.0, 22.2, 24.1, 23.8),
)
TARGET_LOSS = 3.6
TOTAL_STEPS_K = 60
WARMUP_FRACTION = 0.4


def speedup_percent(result: ModelResult) -> int:
    """Percentage of steps saved by the curriculum, rounded for the prose."""
    return round(100 * (1 - result.curriculum_steps_k / result.baseline_steps_k))


def speedup_range() -> tuple[int, int]:
    """Smallest and largest step saving across model sizes, for the prose."""
    savings = [speedup_percent(r) for r in RESULTS]
    return min(savings), max(savings)


def loss_curve(
    steps_k: np.ndarray, steps_to_target_k: float, final_ppl: float, seed: int
) -> np.ndarray:
    """Closed-form validation loss with a little seeded noise.

    Why closed form: the curve crosses TARGET_LOSS exactly at
    ``steps_to_target_k`` and flattens towards log(final_ppl), so Figure 1
    agrees with Figure 2, Table 1 and the text.
    """
    floor, start = float(np.log(final_ppl)), 7.0
    tau = steps_to_target_k / np.log((start - floor) / (TARGET_LOSS - floor))
    clean = floor + (start - floor) * np.exp(-steps_k / tau)
    noise = np.random.default_rng(seed).normal(0.0, 0.012, size=steps_k.shape)
    return clean + noise * np.exp(-steps_k / 80.0)


# --------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------
def _figure_to_png(fig: plt.Figure) -> bytes:
    """Render a matplotlib figure to PNG bytes without touching the disk.

    The Software metadata key is dropped so the bytes do not embed a version
    string that changes when matplotlib is upgraded.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def loss_curve_figure() -> bytes:
    """Figure 1: validation loss of the Small model under both schemes."""
    small = RESULTS[1]
    steps = np.linspace(0, TOTAL_STEPS_K, 241)
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    uniform = loss_curve(steps, small.baseline_steps_k, small.baseline_ppl, seed=1)
    curriculum = loss_curve(steps, small.curriculum_steps_k, small.curriculum_ppl, seed=2)
    ax.plot(steps, uniform, label="Uniform sampling")
    ax.plot(steps, curriculum, label="Curriculum sampling")
    ax.axhline(TARGET_LOSS, color="grey", linestyle="--", linewidth=1, label="Target loss")
    ax.axvline(TOTAL_STEPS_K * WARMUP_FRACTION, color="black", linestyle=":", linewidth=1.2)
    ax.set_xlabel("Training step (thousands)")
    ax.set_ylabel("Validation loss")
    ax.set_ylim(3.2, 7.2)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _figure_to_png(fig)


def steps_bar_figure() -> bytes:
    """Figure 2: steps needed to reach the target loss, per model size."""
    labels = [f"{r.name} ({r.params_m}M)" for r in RESULTS]
    x = np.arange(len(RESULTS))
    width = 0.38
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    uniform = [r.baseline_steps_k for r in RESULTS]
    curriculum = [r.curriculum_steps_k for r in RESULTS]
    ax.bar(x - width / 2, uniform, width, label="Uniform sampling")
    ax.bar(x + width / 2, curriculum, width, label="Curriculum sampling")
    ax.set_xticks(x, labels)
    ax.set_ylabel("Steps to target (thousands)")
    ax.legend(frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _figure_to_png(fig)


# --------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------
def _section(number: int, title: str, *paragraphs: str) -> str:
    """A numbered section heading followed by body paragraphs."""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<h2>{number} {html.escape(title)}</h2>\n{body}"


def _figure(src: str, caption: str) -> str:
    """A centred raster figure with its caption underneath."""
    return (
        f'<div class="figure"><img src="{src}" width="{FIGURE_WIDTH_PT}"/></div>\n'
        f'<p class="caption">{caption}</p>'
    )


def _results_table() -> str:
    """Table 1 as an HTML table, so it stays a real, extractable text layer."""
    rows = "\n".join(
        f"<tr><td>{r.name}</td><td>{r.params_m}M</td>"
        f"<td>{r.baseline_ppl:.1f}</td><td>{r.curriculum_ppl:.1f}</td>"
        f"<td>{r.baseline_steps_k:.1f}k</td><td>{r.curriculum_steps_k:.1f}k</td></tr>"
        for r in RESULTS
    )
    header = (
        "<tr><th>Model</th><th>Params</th><th>PPL uniform</th><th>PPL curriculum</th>"
        "<th>Steps uniform</th><th>Steps curriculum</th></tr>"
    )
    caption = (
        "Table 1: Final validation perplexity after "
        f"{TOTAL_STEPS_K}k steps and steps needed to reach loss {TARGET_LOSS}."
    )
    return f'<p class="caption">{caption}</p>\n<table>{header}\n{rows}</table>'


def _abstract() -> str:
    """The abstract paragraph; quotes the headline numbers from RESULTS."""
    small = RESULTS[1]
    lo, hi = speedup_range()
    return (
        "Small transformer language models are cheap to train, yet they spend a "
        "surprising share of their early updates on sequences they cannot yet "
        "model. We study curriculum sampling, a one-line change to the data "
        "loader that draws easy sequences more often at the start of training "
        "and relaxes to uniform sampling by the time "
        f"{int(WARMUP_FRACTION * 100)}% of the budget has been spent. Difficulty "
        "is scored once, before training, by a unigram model, so the method adds "
        "no cost during training. Across three model sizes from "
        f"{RESULTS[0].params_m}M to {RESULTS[-1].params_m}M parameters, curriculum "
        f"sampling reaches a fixed validation loss in {lo}-{hi}% fewer steps and "
        "ends with slightly lower perplexity. For the "
        f"{small.params_m}M model the target is reached after "
        f"{small.curriculum_steps_k:.1f}k instead of {small.baseline_steps_k:.1f}k "
        "steps. The gains shrink as models grow, which suggests the curriculum "
        "mostly helps models that are short of capacity early in training."
    )


def _references() -> str:
    """Reference list; these are real, well-known papers in the area."""
    refs = (
        "Y. Bengio, J. Louradour, R. Collobert and J. Weston. Curriculum "
        "learning. In Proceedings of ICML, 2009.",
        "A. Vaswani, N. Shazeer, N. Parmar, J. Uszkoreit, L. Jones, A. N. Gomez, "
        "L. Kaiser and I. Polosukhin. Attention is all you need. In Advances in "
        "NeurIPS, 2017.",
        "J. Kaplan, S. McCandlish, T. Henighan, T. B. Brown, B. Chess, R. Child, "
        "S. Gray, A. Radford, J. Wu and D. Amodei. Scaling laws for neural "
        "language models. arXiv:2001.08361, 2020.",
        "E. A. Platanios, O. Stretcu, G. Neubig, B. Poczos and T. M. Mitchell. "
        "Competence-based curriculum learning for neural machine translation. "
        "In Proceedings of NAACL, 2019.",
        "X. Wu, E. Dyer and B. Neyshabur. When do curricula work? In "
        "Proceedings of ICLR, 2021.",
        "A. Katharopoulos and F. Fleuret. Not all samples are created equal: "
        "deep learning with importance sampling. In Proceedings of ICML, 2018.",
    )
    return "\n".join(
        f'<p class="ref">[{i}] {html.escape(text)}</p>' for i, text in enumerate(refs, 1)
    )


def paper_html() -> str:
    """The whole paper as one HTML document for pymupdf.Story to flow."""
    small = RESULTS[1]
    base = RESULTS[-1]
    parts = [
        f'<h1>{html.escape(TITLE)}</h1>',
        f'<p class="authors">{html.escape(AUTHORS)}</p>',
        f'<p class="affil">{html.escape(AFFILIATION)}</p>',
        f'<p class="note">{html.escape(DISCLAIMER)}</p>',
        '<p class="abstract-head">Abstract</p>',
        f'<p class="abstract">{_abstract()}</p>',
        _section(
            1,
            "Introduction",
            "Most work on training efficiency targets large models, where a few "
            "percent of compute is worth a great deal of money. Small models get "
            "less attention, even though they are trained far more often: as "
            "baselines, in ablations, in teaching and on modest hardware. In that "
            "regime a method only matters if it is simple enough to adopt without "
            "changing the rest of the pipeline.",
            "Curriculum learning, the idea of presenting examples in a meaningful "
            "order rather than at random, is an old candidate for such a method. "
            "Its results in language modelling have been mixed, partly because "
            "many curricula are expensive to compute and partly because a fixed "
            "ordering can starve the model of hard examples late in training. We "
            "revisit the idea with two constraints: difficulty must be cheap to "
            "estimate, and the sampler must converge to the ordinary uniform "
            "distribution so that the end of training is unchanged.",
            "Our contributions are a sampling scheme that satisfies both "
            "constraints, a controlled comparison on three model sizes, and an "
            "analysis showing where the saved steps come from.",
        ),
        _section(
            2,
            "Method",
            "Before training we fit a unigram model to the training corpus and "
            "score every sequence by its mean token surprisal under that model. "
            "The score is a crude proxy for difficulty: sequences made of common "
            "words score low, while code, tables and rare names score high. "
            "Scores are converted to ranks, so the method does not depend on "
            "their scale.",
            "Ranks are normalised to lie between 0 (easiest) and 1 (hardest). At "
            "step t a sequence with normalised rank r is sampled with probability "
            "proportional to exp(-b(t) r), where the sharpness b(t) falls "
            "linearly from 20 to 0 over the first "
            f"{int(WARMUP_FRACTION * 100)}% of training. A sharpness of zero "
            "is uniform sampling, so after the warm-up phase the data loader "
            "behaves exactly like the baseline. The schedule has a single "
            "hyperparameter, the warm-up fraction, which we did not tune.",
            "Because the scores are computed once and stored next to the data "
            "shards, the only run-time cost is a weighted draw in the loader, "
            "which is negligible next to a forward pass.",
        ),
        _section(
            3,
            "Experiments",
            "We train decoder-only transformers with "
            + ", ".join(f"{r.params_m}M" for r in RESULTS)
            + " parameters on a 1.2 billion token subset of filtered web text, "
            f"for {TOTAL_STEPS_K}k steps with a batch of 128 sequences of 512 "
            "tokens. Optimiser settings, learning-rate schedule and data are "
            "identical between the two arms; only the order in which sequences "
            "are drawn differs. We report the number of steps needed to reach a "
            f"validation loss of {TARGET_LOSS} and the final validation "
            "perplexity, averaged over three seeds.",
            _figure(
                "loss.png",
                f"Figure 1: Validation loss of the {small.params_m}M model. The "
                "dashed line marks the target loss and the dotted line the end "
                "of the curriculum warm-up.",
            ),
            "Figure 1 shows the effect on the "
            f"{small.params_m}M model. The curriculum run pulls ahead within the "
            "first few thousand steps and crosses the target after "
            f"{small.curriculum_steps_k:.1f}k steps, against "
            f"{small.baseline_steps_k:.1f}k for uniform sampling, a saving of "
            f"{speedup_percent(small)}%. After the warm-up ends both runs see the "
            "same distribution and the curves converge, but the curriculum run "
            "still finishes slightly lower.",
            _figure(
                "steps.png",
                "Figure 2: Thousands of steps needed to reach validation loss "
                f"{TARGET_LOSS}, for each model size.",
            ),
            "Figure 2 repeats the comparison across model sizes. The saving "
            f"falls from {speedup_percent(RESULTS[0])}% for the smallest model "
            f"to {speedup_percent(base)}% for the {base.params_m}M model. Table 1 "
            "shows that final perplexity also improves slightly in every case, "
            "so the faster start is not paid for later in training.",
            _results_table(),
        ),
        _section(
            4,
            "Related Work",
            "Bengio et al. [1] introduced curriculum learning and argued that it "
            "acts as a continuation method. Platanios et al. [4] proposed "
            "competence-based curricula for machine translation, which, like "
            "ours, widen the sampled pool over time. Wu et al. [5] found that "
            "curricula help mainly when the training budget is limited, which is "
            "consistent with the shrinking gains we observe for larger models. "
            "Importance sampling [6] also reweights examples, but it favours "
            "hard examples and needs per-step loss estimates, whereas our scores "
            "are fixed in advance. Our models follow the standard transformer "
            "architecture [2], and our size range sits at the small end of the "
            "scaling study of Kaplan et al. [3].",
        ),
        _section(
            5,
            "Conclusion",
            "A cheap, fixed difficulty score and a sampling schedule that "
            "relaxes to uniform sampling are enough to make small transformers "
            f"reach a given loss {speedup_range()[0]}-{speedup_range()[1]}% "
            "sooner, with no cost at run time and "
            "no change to the end of training. The benefit is largest for the "
            "smallest models. Future work should test richer difficulty scores "
            "and check whether the effect survives at larger scale and on other "
            "data mixtures.",
        ),
        '<h2>References</h2>',
        _references(),
    ]
    return "\n".join(parts)


PAPER_CSS = f"""
body {{ font-family: serif; font-size: {BODY_SIZE}pt; }}
p {{ text-align: justify; margin-top: 0; margin-bottom: 6pt; }}
h1 {{ font-size: {TITLE_SIZE}pt; font-weight: bold; text-align: center;
      margin-top: 0; margin-bottom: 10pt; }}
h2 {{ font-size: {HEADING_SIZE}pt; font-weight: bold;
      margin-top: 12pt; margin-bottom: 5pt; }}
p.authors {{ text-align: center; font-size: {BODY_SIZE + 1}pt; margin-bottom: 2pt; }}
p.affil {{ text-align: center; font-style: italic; margin-bottom: 4pt; }}
p.note {{ text-align: center; font-size: {SMALL_SIZE}pt; margin-bottom: 14pt; }}
p.abstract-head {{ text-align: center; font-weight: bold; margin-bottom: 4pt; }}
p.abstract {{ margin-left: 28pt; margin-right: 28pt; margin-bottom: 8pt; }}
div.figure {{ text-align: center; margin-top: 8pt; margin-bottom: 2pt; }}
p.caption {{ font-size: {SMALL_SIZE + 0.5}pt; text-align: center;
             margin-left: 20pt; margin-right: 20pt; margin-bottom: 10pt; }}
table {{ margin-left: auto; margin-right: auto; margin-bottom: 10pt;
         font-size: {SMALL_SIZE + 0.5}pt; border-collapse: collapse; }}
th, td {{ padding: 2pt 6pt; text-align: center; border-bottom: 0.5pt solid #444; }}
p.ref {{ text-align: left; margin-left: 16pt; text-indent: -16pt; margin-bottom: 4pt; }}
"""


# --------------------------------------------------------------------------
# Layout and output
# --------------------------------------------------------------------------
def _figure_archive() -> pymupdf.Archive:
    """Expose the rendered figures to the HTML renderer under their src names."""
    archive = pymupdf.Archive()
    archive.add(loss_curve_figure(), "loss.png")
    archive.add(steps_bar_figure(), "steps.png")
    return archive


def _layout(html_text: str, archive: pymupdf.Archive) -> bytes:
    """Flow the HTML across as many A4 pages as it needs; return PDF bytes."""
    story = pymupdf.Story(html=html_text, user_css=PAPER_CSS, archive=archive)
    buffer = io.BytesIO()
    writer = pymupdf.DocumentWriter(buffer)
    more = True
    while more:
        device = writer.begin_page(PAGE_RECT)
        more, _ = story.place(CONTENT_RECT)
        story.draw(device)
        writer.end_page()
    writer.close()
    return buffer.getvalue()


def _finish(pdf_bytes: bytes) -> pymupdf.Document:
    """Add page numbers and fixed metadata so repeated builds match."""
    doc = pymupdf.open("pdf", pdf_bytes)
    for page in doc:
        footer = f"{page.number + 1}"
        width = pymupdf.get_text_length(footer, fontname="tiro", fontsize=SMALL_SIZE)
        origin = pymupdf.Point((PAGE_RECT.width - width) / 2, PAGE_RECT.height - MARGIN / 2)
        page.insert_text(origin, footer, fontname="tiro", fontsize=SMALL_SIZE)
    doc.set_metadata(
        {
            "title": TITLE,
            "author": AUTHORS,
            "subject": "Sample paper for the agentgraphs demo",
            "creator": "examples/sample_paper.py",
            "producer": "PyMuPDF",
            "creationDate": FIXED_PDF_DATE,
            "modDate": FIXED_PDF_DATE,
        }
    )
    return doc


def build_sample_paper(path: pathlib.Path) -> pathlib.Path:
    """Write the sample paper to ``path`` and return it.

    The PDF is written to a temporary file in the same folder and then moved
    into place with ``os.replace``, so a reader never sees a half-written file
    and an interrupted build leaves any previous copy intact.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = _finish(_layout(paper_html(), _figure_archive()))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp_name, 0o644)  # mkstemp creates 0600; the PDF is not secret
    try:
        try:
            doc.save(tmp_name, garbage=3, deflate=True)
        finally:
            doc.close()
        os.replace(tmp_name, path)
    except BaseException:
        pathlib.Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python examples/sample_paper.py OUT.pdf`` builds and prints the path."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python examples/sample_paper.py OUT.pdf", file=sys.stderr)
        return 2
    print(build_sample_paper(pathlib.Path(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
