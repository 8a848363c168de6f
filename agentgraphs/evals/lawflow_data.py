"""LawFlow (arXiv 2504.18942) plans, scenarios and execution orders, read from the shared data.

Nothing here copies the data: every loader reads ``lawflow/lawflow_notebook_data.json`` at call time
from ``data_dir`` (default ``agentgraphs.paths.shared_data_dir() / "lawflow"``, i.e.
``$AGENTGRAPHS_SHARED_DATA/lawflow``) and raises :class:`LawflowDataError` naming the path and the
variable when it is absent.

Plans are parsed from the numbered plan texts (``human_task_plan_text``, ``llm_task_plan_text_o1``),
the only form that carries both the dotted ids and the titles. A plan is a tree whose parent is the
id with its last component dropped; parents must exist (no implicit creation: an implicit parent
would have no title, and both shared plans list every parent).
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agentgraphs.errors import AgentgraphsError
from agentgraphs.paths import shared_data_dir

__all__ = [
    "END",
    "Execution",
    "LawflowDataError",
    "Plan",
    "PlanName",
    "PlanNode",
    "Scenario",
    "lawflow_data_dir",
    "load_executions",
    "load_hf_executions",
    "load_node_mapping",
    "load_plan",
    "load_scenario",
    "load_scenarios",
    "parse_plan_text",
]

END = "END"
PlanName = Literal["human", "llm"]
_NOTEBOOK_FILE = "lawflow_notebook_data.json"
_PLAN_KEYS: dict[str, str] = {"human": "human_task_plan_text", "llm": "llm_task_plan_text_o1"}
# execution_orders keys -> (model, plan)
_EXECUTION_KEYS: dict[str, tuple[str, PlanName]] = {
    "o1_on_human_plan": ("o1", "human"),
    "o1_on_llm_plan": ("o1", "llm"),
    "deepseek_r1_on_human_plan": ("deepseek-r1", "human"),
}
_ID = re.compile(r"^\d+(\.\d+)*$")
_SECTION = re.compile(r"\s*(Details|Issues|Complexity Tags|Complexity|Context|Title)\s*:.*", flags=re.IGNORECASE)
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_PLAN_LINE = re.compile(r"^\s*(\d+(?:\.\d+)*)\.?\s+(.+?)\s*$")


class LawflowDataError(AgentgraphsError, ValueError):
    """The LawFlow data is missing or inconsistent (unknown node, bad id, duplicate id)."""


class PlanNode(BaseModel):
    """One step of a plan."""

    model_config = ConfigDict(frozen=True)

    id: str
    """Dotted id, ``"4.1.1"``; the parent is the id without its last component."""
    title: str
    """What the step says, as written in the plan."""

    @field_validator("id")
    @classmethod
    def _dotted(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"plan node id {value!r} is not dotted digits like '4.1.1'")
        return value

    @property
    def parent_id(self) -> str | None:
        return self.id.rsplit(".", 1)[0] if "." in self.id else None

    @property
    def level(self) -> int:
        """1 for a subtask (top-level node), 2 for its children, …"""
        return self.id.count(".") + 1

    @property
    def subtask_id(self) -> str:
        return self.id.split(".", 1)[0]


class Plan(BaseModel):
    """A plan as a tree of :class:`PlanNode`; ``nodes`` keep the plan's written order."""

    model_config = ConfigDict(frozen=True)

    name: str
    """``"human"`` or ``"llm"`` for the shared plans."""
    nodes: list[PlanNode]
    """In written order, which is also the order an execution is compared with."""

    @model_validator(mode="after")
    def _tree(self) -> Plan:
        seen: set[str] = set()
        for node in self.nodes:
            if node.id in seen:
                raise ValueError(f"plan {self.name!r} lists node {node.id!r} twice")
            seen.add(node.id)
        for node in self.nodes:
            if node.parent_id is not None and node.parent_id not in seen:
                raise ValueError(
                    f"plan {self.name!r}: node {node.id!r} has no parent {node.parent_id!r}; "
                    "list every parent explicitly"
                )
        return self

    @cached_property
    def by_id(self) -> dict[str, PlanNode]:
        return {node.id: node for node in self.nodes}

    @property
    def order(self) -> list[str]:
        return [node.id for node in self.nodes]

    @property
    def subtasks(self) -> list[PlanNode]:
        """The top-level nodes."""
        return [node for node in self.nodes if node.parent_id is None]

    def children(self, node_id: str) -> list[PlanNode]:
        return [node for node in self.nodes if node.parent_id == node_id]

    def to_text(self) -> str:
        """Numbered lines indented by level, the form :func:`parse_plan_text` reads back."""
        return "\n".join(f"{'    ' * (node.level - 1)}{node.id} {node.title}" for node in self.nodes)

    def subtree(self, node_id: str) -> list[PlanNode]:
        """``node_id`` and all its descendants, in written order."""
        prefix = node_id + "."
        return [node for node in self.nodes if node.id == node_id or node.id.startswith(prefix)]


class Execution(BaseModel):
    """One walk through a plan: the node ids in the order they were done, closed by ``"END"``."""

    model_config = ConfigDict(frozen=True)

    plan_name: str
    """The plan the ids refer to (``"human"`` or ``"llm"``)."""
    steps: list[str]
    """Node ids in order, the last one ``"END"``."""
    scenario_id: str | None = None
    """``"scenario_11"`` …; ``None`` for a hand-made execution."""
    model: str | None = None
    """Who executed the plan (``"o1"``, ``"deepseek-r1"``; ``None`` for a person)."""
    action_types: list[str] | None = None
    """One per step without ``END`` where known (the HF human sequences have them)."""
    timestamps: list[float] | None = None
    """One per step without ``END`` where known, seconds."""
    source: str | None = None
    """Where the order came from (notebook and cell)."""

    @model_validator(mode="after")
    def _shape(self) -> Execution:
        if not self.steps or self.steps[-1] != END:
            raise ValueError(f"execution steps must end with {END!r}, got {self.steps[-3:]!r}")
        if END in self.steps[:-1]:
            raise ValueError(f"{END!r} may only close an execution")
        for name in ("action_types", "timestamps"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.node_steps):
                raise ValueError(f"{name} has {len(values)} entries for {len(self.node_steps)} steps")
        return self

    @property
    def node_steps(self) -> list[str]:
        """The steps without the closing ``END``."""
        return self.steps[:-1]

    def check_against(self, plan: Plan) -> None:
        """Raise :class:`LawflowDataError` naming the first step that is not a node of ``plan``."""
        for step in self.node_steps:
            if step not in plan.by_id:
                raise LawflowDataError(
                    f"execution of {self.scenario_id or 'unnamed scenario'} (model {self.model}) visits node "
                    f"{step!r}, which is not in the {plan.name!r} plan"
                )


class Scenario(BaseModel):
    """A business-entity-formation case given to the students and the models.

    The shared briefs end in labelled lists (``Details:``, ``Issues:``, ``Complexity Tags:``);
    :attr:`details`, :attr:`issues` and :attr:`complexity_tags` read them, and :attr:`clients`
    comes from the "One Person" / "Two Person" detail unless a scenario file states it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    complexity: str | None = None
    """``"Low"``, ``"Medium"`` …; the notebooks give it for a few scenarios only."""
    text: str = Field(min_length=1)
    client_count: int | None = Field(default=None, ge=1)
    """How many clients seek the formation; read from the details when not given."""

    def _section(self, label: str) -> list[str]:
        lines = self.text.splitlines()
        found: list[str] = []
        for index, line in enumerate(lines):
            if re.fullmatch(rf"\s*{label}\s*:?\s*", line, flags=re.IGNORECASE):
                for item in lines[index + 1:]:
                    if not item.strip() or _SECTION.fullmatch(item):
                        break
                    found.append(re.sub(r"^\s*\d+\.\s*", "", item).strip())
        return found

    @property
    def details(self) -> list[str]:
        return self._section("Details")

    @property
    def issues(self) -> list[str]:
        return self._section("Issues")

    @property
    def complexity_tags(self) -> list[str]:
        return self._section("Complexity Tags")

    @property
    def clients(self) -> int:
        """The number of clients: ``client_count``, else the "N Person" detail, else 1."""
        if self.client_count is not None:
            return self.client_count
        for detail in self.details:
            match = re.match(r"(one|two|three|four|five|\d+)[\s-]*person", detail.strip(), flags=re.IGNORECASE)
            if match:
                word = match.group(1).lower()
                return int(word) if word.isdigit() else _NUMBERS[word]
        return 1


def lawflow_data_dir(data_dir: Path | str | None = None) -> Path:
    """``data_dir``, else ``shared_data_dir() / "lawflow"``."""
    return Path(data_dir) if data_dir is not None else shared_data_dir() / "lawflow"


def _notebook_data(data_dir: Path | str | None) -> dict[str, Any]:
    path = lawflow_data_dir(data_dir) / _NOTEBOOK_FILE
    if not path.is_file():
        raise LawflowDataError(
            f"LawFlow data not found at {path}; set AGENTGRAPHS_SHARED_DATA to the shared data folder "
            "(the one holding lawflow/) or pass data_dir"
        )
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def parse_plan_text(text: str, *, name: str) -> Plan:
    """A plan from numbered lines (``"4.1.1 Title"`` or ``"4.1.1. Title"``); other lines are ignored."""
    nodes = []
    for line in text.splitlines():
        match = _PLAN_LINE.match(line)
        if match:
            nodes.append(PlanNode(id=match.group(1), title=match.group(2)))
    try:
        return Plan(name=name, nodes=nodes)
    except ValidationError as exc:
        raise LawflowDataError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None


def load_plan(name: PlanName, *, data_dir: Path | str | None = None) -> Plan:
    """The human (law students', 44 nodes) or the o1 (48 nodes) plan as a tree with titles."""
    if name not in _PLAN_KEYS:
        raise LawflowDataError(f"unknown LawFlow plan {name!r}; choose 'human' or 'llm'")
    return parse_plan_text(_notebook_data(data_dir)[_PLAN_KEYS[name]]["value"], name=name)


def load_scenarios(*, data_dir: Path | str | None = None) -> list[Scenario]:
    """The 15 shared scenarios (``scenario_2``–``9``, ``11``–``17``)."""
    return [
        Scenario(id=s["id"], title=s["title"], complexity=s.get("complexity"), text=s["text"])
        for s in _notebook_data(data_dir)["scenarios"]
    ]


def load_scenario(reference: str | Path, *, data_dir: Path | str | None = None) -> Scenario:
    """A shared scenario by id (``scenario_11`` or ``11``), or a scenario JSON file.

    A file holds an object with ``id``, ``title`` and ``text`` (optional ``complexity`` and
    ``client_count``); a missing field or a file that is not such JSON raises
    :class:`LawflowDataError` naming the file and the problem.
    """
    text = str(reference)
    path = Path(text)
    if path.suffix.lower() == ".json" or path.is_file():
        if not path.is_file():
            raise LawflowDataError(f"scenario file {path} does not exist")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return Scenario.model_validate(raw)
        except json.JSONDecodeError as exc:
            raise LawflowDataError(f"scenario file {path} is not valid JSON: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors())
            raise LawflowDataError(f"scenario file {path} is not a scenario ({problems}); it needs "
                                   "an object with 'id', 'title' and 'text'") from None
    wanted = text if text.startswith("scenario_") else f"scenario_{text}"
    scenarios = load_scenarios(data_dir=data_dir)
    for scenario in scenarios:
        if scenario.id == wanted:
            return scenario
    raise LawflowDataError(f"unknown LawFlow scenario {text!r}; the shared ones are "
                           f"{', '.join(s.id for s in scenarios)}, or pass a scenario .json file")


def load_node_mapping(*, data_dir: Path | str | None = None) -> dict[str, str]:
    """LLM-plan node id -> human-plan node id, as the notebook's ``llm_diagram_mapping`` gives it.

    The mapping was written for a three-level o1 plan, not the ten-subtask plan of
    :func:`load_plan` ``("llm")``: many of its keys (``"1.1.1"``) are not nodes of that plan and
    the plan's subtasks 6–10 have no entry. Callers map what is mapped and report the coverage.
    """
    return dict(_notebook_data(data_dir)["llm_to_human_node_mapping"]["value"])


def load_executions(
    *, data_dir: Path | str | None = None, check: bool = True
) -> list[Execution]:
    """Every shared execution order (o1 and DeepSeek-R1, scenarios 11–17), ``END`` appended.

    With ``check`` each is validated against its plan; an id outside the plan raises
    :class:`LawflowDataError` naming the node and the scenario.
    """
    data = _notebook_data(data_dir)
    plans = {name: parse_plan_text(data[key]["value"], name=name) for name, key in _PLAN_KEYS.items()}
    executions = []
    for scenario_id, by_key in data["execution_orders"].items():
        for key, entry in by_key.items():
            if key not in _EXECUTION_KEYS:
                raise LawflowDataError(f"unknown execution kind {key!r} for {scenario_id}")
            model, plan_name = _EXECUTION_KEYS[key]
            execution = Execution(
                plan_name=plan_name,
                steps=[str(step) for step in entry["task_list"]] + [END],
                scenario_id=scenario_id,
                model=model,
                source=entry.get("source"),
            )
            if check:
                execution.check_against(plans[plan_name])
            executions.append(execution)
    return executions


def load_hf_executions(split: str = "train") -> Any:
    """The human execution sequences, ``minnesotanlp/lawflow-reasoning-simulation`` (network; not in tests)."""
    from agentgraphs.extras import require

    datasets = require("datasets", extra="train", purpose="Loading the LawFlow human executions")
    return datasets.load_dataset("minnesotanlp/lawflow-reasoning-simulation", split=split)
