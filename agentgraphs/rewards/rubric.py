"""The judge's rubric: criteria with score bands and optional deterministic checks, in MPO's text form.

MPO's judge reads a rubric as ``<rubric><item>…</item>…</rubric>`` (the math task uses a
``[Start of Meta-Level Guidelines]…[End of Meta-Level Guidelines]`` block instead, read as one item)
and the meta-reward model rewrites it. :meth:`Rubric.from_text` reads any such text, inferring each
criterion's name and score bands from its free text; :meth:`Rubric.to_text` writes it back with item
texts kept verbatim, adding a machine-readable ``Score bands:`` / ``Check:`` trailer only where the
free text would not give the same values back. Versions are bookkeeping, not part of the text.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentgraphs.errors import AgentgraphsError
from agentgraphs.rewards.diagnostics import paragraph_count, repeated_ngram_share, sentence_count, word_count

__all__ = ["Band", "Check", "Criterion", "LengthRange", "MaxRepetition", "RequiredFormat", "Rubric", "RubricError", "diff"]


class RubricError(AgentgraphsError, ValueError):
    """A rubric text cannot be read, or a rubric cannot be written or scored."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Band(_Frozen):
    """Scores ``min``..``max`` (inclusive) and what earns them."""

    min: int
    max: int
    description: str = ""


class LengthRange(_Frozen):
    """The response has between ``min_words`` and ``max_words`` words."""

    kind: Literal["length_range"] = "length_range"
    min_words: int = 0
    max_words: int | None = None

    def passes(self, response: str) -> bool:
        n = word_count(response)
        return n >= self.min_words and (self.max_words is None or n <= self.max_words)


class MaxRepetition(_Frozen):
    """At most ``max_share`` of the response's word ``n``-grams repeat an earlier one."""

    kind: Literal["max_repetition"] = "max_repetition"
    n: int = 3
    max_share: float = 0.2

    def passes(self, response: str) -> bool:
        return repeated_ngram_share(response, self.n) <= self.max_share


class RequiredFormat(_Frozen):
    """The response has at least ``count`` paragraphs or sentences (written ``paragraphs>=3``)."""

    kind: Literal["required_format"] = "required_format"
    unit: Literal["paragraphs", "sentences"] = "paragraphs"
    count: int = 1

    def passes(self, response: str) -> bool:
        counter = paragraph_count if self.unit == "paragraphs" else sentence_count
        return counter(response) >= self.count


Check = Annotated[LengthRange | MaxRepetition | RequiredFormat, Field(discriminator="kind")]


class Criterion(_Frozen):
    """One rubric item: a name, the text the judge reads, its score bands and an optional check."""

    name: str
    description: str
    bands: tuple[Band, ...] = ()
    check: Check | None = None

    def max_score(self) -> int | None:
        return max((b.max for b in self.bands), default=None)


class Rubric(_Frozen):
    """The criteria a judge scores against, with the version history the meta-reward model extends."""

    criteria: tuple[Criterion, ...] = Field(min_length=1)
    version: int = 0
    parent_version: int | None = None
    layout: Literal["rubric", "guidelines"] = "rubric"
    """``rubric``: ``<rubric><item>…``; ``guidelines``: the math task's one-block form."""

    @classmethod
    def from_text(cls, text: str, *, version: int = 0, parent_version: int | None = None) -> Rubric:
        """Parse MPO's rubric text; raises :class:`RubricError` when it has no rubric or no item."""
        block = re.search(r"<rubric>(.*?)</rubric>", text, re.S)
        if block is not None:
            items = re.findall(r"<item>(.*?)</item>", block.group(1), re.S)
            layout = "rubric"
        elif (g := re.search(r"\[Start of Meta-Level Guidelines\](.*?)\[End of Meta-Level Guidelines\]", text, re.S)):
            items, layout = [g.group(1)], "guidelines"
        else:
            raise RubricError(f"no <rubric>…</rubric> block (nor Meta-Level Guidelines) in rubric text {text[:80]!r}")
        items = [i.strip() for i in items if i.strip()]
        if not items:
            raise RubricError(f"rubric text has a <rubric> block with zero non-empty <item> elements: {text[:80]!r}")
        criteria = tuple(_parse_item(body, i) for i, body in enumerate(items, 1))
        return cls(criteria=criteria, version=version, parent_version=parent_version, layout=layout)

    def to_text(self) -> str:
        """The text a judge reads; :meth:`from_text` gives this rubric back (versions aside)."""
        items = [_render_item(c, i) for i, c in enumerate(self.criteria, 1)]
        if self.layout == "guidelines":
            if len(items) != 1:
                raise RubricError(f"the guidelines layout holds one criterion, this rubric has {len(items)}")
            return f"[Start of Meta-Level Guidelines]\n{items[0]}\n[End of Meta-Level Guidelines]"
        return "<rubric>\n" + "\n\n".join(f"<item>\n{body}\n</item>" for body in items) + "\n</rubric>"

    def max_score(self) -> int:
        """The sum of each criterion's highest score; raises when a criterion states no scores."""
        missing = [c.name for c in self.criteria if c.max_score() is None]
        if missing:
            raise RubricError(f"criteria {missing} state no score range; add bands (e.g. 'from 0 to 5')")
        return sum(c.max_score() or 0 for c in self.criteria)


def diff(old: Rubric, new: Rubric) -> str:
    """A unified diff of the two rubrics' texts, for reports; empty when the texts are equal."""
    lines = difflib.unified_diff(old.to_text().splitlines(), new.to_text().splitlines(),
                                 f"rubric v{old.version}", f"rubric v{new.version}", lineterm="")
    return "\n".join(lines)


_NAME_LINE = re.compile(r"#{1,6}[ \t]+([^:\n]+?)[ \t]*")  # a heading alone on the first line is the name
_NAME_HEADING = re.compile(r"#{1,6}[ \t]+([^:(\n]+?)[ \t]*(?:\([^)\n]*\))?[ \t]*:")  # "### Flow (flow): …"
_PER_SCORE = re.compile(r"^#+[^\n]*?Score:?\s*\**(\d+)\**[ \t]*$", re.M)  # "#### Criterion for Integer Score: **6**"
_RANGE = re.compile(r"(?<!\d)['\"]?(\d{1,3})['\"]?(?:\s*\([^)\n]{0,40}\))?\s*(?:-|–|to|through)\s*['\"]?(\d{1,3})\b")
_LABELS = re.compile(r"\[\s*['\"](\d{1,3})['\"](?:\s*,\s*['\"]\d{1,3}['\"])*\s*\]")
_SINGLE = re.compile(r"\(score:?\s*(\d{1,3})\)", re.I)
_BANDS = re.compile(r"\n*Score bands:\n((?:- \d+(?:-\d+)?:[^\n]*(?:\n|$))+)$")
_BAND_LINE = re.compile(r"- (\d+)(?:-(\d+))?:[ ]?([^\n]*)")
_CHECK = re.compile(r"\n*Check: (length_range|max_repetition|required_format)((?: [^\n]*)?)$")


def _infer_bands(text: str) -> tuple[Band, ...]:
    """Score bands stated in free text: per-score sections, else the widest stated range, else (score: N)."""
    sections = list(_PER_SCORE.finditer(text))
    if sections:
        ends = [m.start() for m in sections[1:]] + [len(text)]
        return tuple(Band(min=int(m.group(1)), max=int(m.group(1)), description=text[m.end():end].strip())
                     for m, end in zip(sections, ends))
    spans = [(int(a), int(b)) for a, b in _RANGE.findall(text) if int(a) < int(b) <= 100]
    labels = [list(map(int, re.findall(r"\d+", m.group(0)))) for m in _LABELS.finditer(text)]
    spans += [(min(ls), max(ls)) for ls in labels if len(ls) > 1]
    if spans:
        return (Band(min=min(a for a, _ in spans), max=max(b for _, b in spans)),)
    return tuple(Band(min=int(s), max=int(s)) for s in sorted(set(_SINGLE.findall(text)), key=int))


def _parse_check(kind: str, args: str) -> LengthRange | MaxRepetition | RequiredFormat:
    words = args.split()
    try:
        if kind == "required_format":
            unit, _, count = words[0].partition(">=")
            return RequiredFormat(unit=unit, count=int(count))  # type: ignore[arg-type]
        fields = dict(w.split("=", 1) for w in words)
        return LengthRange(**fields) if kind == "length_range" else MaxRepetition(**fields)  # type: ignore[arg-type]
    except (ValueError, IndexError) as exc:
        raise RubricError(f"bad check 'Check: {kind}{args}': {exc}; e.g. 'Check: length_range min_words=200 max_words=800'") from exc


def _render_check(check: LengthRange | MaxRepetition | RequiredFormat) -> str:
    if isinstance(check, RequiredFormat):
        return f"Check: required_format {check.unit}>={check.count}"
    fields = check.model_dump(exclude={"kind"}, exclude_none=True)
    return f"Check: {check.kind} " + " ".join(f"{k}={v}" for k, v in fields.items())


def _parse_item(body: str, index: int) -> Criterion:
    check = None
    if (m := _CHECK.search(body)) is not None:
        check, body = _parse_check(m.group(1), m.group(2)), body[: m.start()]
    bands = None
    if (m := _BANDS.search(body)) is not None:
        bands = tuple(Band(min=int(a), max=int(b or a), description=d) for a, b, d in _BAND_LINE.findall(m.group(1)))
        body = body[: m.start()]
    first, _, rest = body.partition("\n")
    if (m := _NAME_LINE.fullmatch(first)) is not None and rest.strip():
        name, description = m.group(1), rest.strip()
    elif (m := _NAME_HEADING.match(first)) is not None:
        name, description = m.group(1), body.strip()
    else:
        name, description = f"criterion_{index}", body.strip()
    return Criterion(name=name, description=description,
                     bands=_infer_bands(description) if bands is None else bands, check=check)


def _render_item(criterion: Criterion, index: int) -> str:
    """The item text, verbatim where possible; verified to parse back to the same criterion."""
    trailer = []
    if _infer_bands(criterion.description) != criterion.bands:
        if any("\n" in b.description for b in criterion.bands):
            raise RubricError(f"criterion {criterion.name!r}: a band description written out must be one line")
        trailer.append("Score bands:\n" + "\n".join(
            f"- {b.min}{'' if b.min == b.max else f'-{b.max}'}: {b.description}" for b in criterion.bands))
    if criterion.check is not None:
        trailer.append(_render_check(criterion.check))
    tail = "".join("\n" + t for t in trailer)
    for candidate in (criterion.description + tail, f"### {criterion.name}\n{criterion.description}{tail}"):
        if _parse_item(candidate, index) == criterion:
            return candidate
    raise RubricError(f"criterion {criterion.name!r} cannot be written so that it reads back the same; "
                      "use a name without ':' or newlines and a non-empty description")
