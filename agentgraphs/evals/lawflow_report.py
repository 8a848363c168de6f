"""The LawFlow comparison report: how the human and the LLM plans are shaped, and how they are executed.

``report.md`` holds the plan-structure table under both counting rules (the paper's table mixes
them, see :func:`agentgraphs.evals.lawflow.plan_structure`), the execution metrics of every shared
execution order with human-plan and LLM-plan means side by side, ``plans.png`` (both plans drawn as
trees, one colour per subtask) and ``executions.png`` (the metrics compared per plan).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from statistics import fmean

from agentgraphs.atomic import write_text
from agentgraphs.evals.lawflow import ExecutionMetrics, PlanStructure, execution_metrics, plan_structure
from agentgraphs.evals.lawflow_data import Plan, load_executions, load_node_mapping, load_plan
from agentgraphs.evals.plotting import pyplot, save_figure

__all__ = ["COMPARED", "plot_execution_path", "plot_executions", "plot_plans", "tree_positions", "write_report"]

COMPARED: tuple[tuple[str, str], ...] = (
    ("steps", "steps"),
    ("node_execution_rate", "share of plan nodes visited"),
    ("levenshtein_to_plan", "edit distance to the plan's order"),
    ("subtask_switches", "subtask switches"),
)


def tree_positions(plan: Plan) -> dict[str, tuple[float, float]]:
    """Node id → (x, y): leaves spread left to right in written order, a parent above the middle of its
    children, depth downwards. Deterministic, so the drawing is the same on every run."""
    positions: dict[str, tuple[float, float]] = {}
    next_x = 0.0

    def place(node_id: str, depth: int) -> float:
        nonlocal next_x
        children = plan.children(node_id)
        if not children:
            x, next_x = next_x, next_x + 1.0
        else:
            xs = [place(child.id, depth + 1) for child in children]
            x = (xs[0] + xs[-1]) / 2
        positions[node_id] = (x, -float(depth))
        return x

    for subtask in plan.subtasks:
        place(subtask.id, 0)
        next_x += 0.5  # a gap between subtasks
    return positions


def plot_plans(plans: Sequence[Plan], path: Path) -> Path:
    """Each plan as a tree, one colour per subtask, node ids as labels, in one PNG."""
    plt = pyplot(extra="eval", purpose="drawing the LawFlow report")

    fig, axes = plt.subplots(len(plans), 1, figsize=(14, 3.6 * len(plans)), dpi=100)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    layouts = [tree_positions(plan) for plan in plans]
    deepest = min(y for layout in layouts for _, y in layout.values())  # one vertical scale for every plan
    for ax, plan, positions in zip(axes if len(plans) > 1 else [axes], plans, layouts):
        subtask_of = {node.id: node.id.split(".")[0] for node in plan.nodes}
        order = [s.id for s in plan.subtasks]
        for node in plan.nodes:
            colour = colours[order.index(subtask_of[node.id]) % len(colours)]
            x, y = positions[node.id]
            if node.parent_id is not None:
                px, py = positions[node.parent_id]
                ax.plot([px, x], [py, y], color="#999999", linewidth=0.8, zorder=1)
            ax.scatter([x], [y], s=90, color=colour, zorder=2)
            ax.annotate(node.id, (x, y), xytext=(0, -11), textcoords="offset points", ha="center", fontsize=6)
        structure = plan_structure(plan)
        ax.set_title(f"{plan.name} plan: {structure.subtasks} subtasks, {len(plan.nodes)} nodes, "
                     f"depth below a subtask {structure.depth.mean:.1f} ± {structure.depth.sd:.1f}", fontsize=10)
        ax.set_ylim(deepest - 0.6, 0.4)
        ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_execution_path(plan: Plan, steps: Sequence[str], path: Path, *, flagged: Sequence[int] = (),
                        title: str = "") -> Path:
    """One execution drawn over its plan tree: the tree in grey, each move an arrow numbered by turn,
    turns in ``flagged`` (1-based) in red. Revisits and jumps between subtasks are what stand out."""
    plt = pyplot(extra="eval", purpose="drawing the LawFlow execution path")

    positions = tree_positions(plan)
    width = max(x for x, _ in positions.values()) + 1
    fig, ax = plt.subplots(figsize=(min(4 + 0.32 * width, 18), 4.2), dpi=110)
    for node in plan.nodes:
        x, y = positions[node.id]
        if node.parent_id is not None:
            px, py = positions[node.parent_id]
            ax.plot([px, x], [py, y], color="#dddddd", linewidth=0.8, zorder=1)
    visited = set(steps)
    for node in plan.nodes:
        x, y = positions[node.id]
        ax.scatter([x], [y], s=60, color="#225588" if node.id in visited else "#cccccc", zorder=2)
        ax.annotate(node.id, (x, y), xytext=(0, -10), textcoords="offset points", ha="center", fontsize=5)
    for turn, (a, b) in enumerate(zip(steps, steps[1:]), start=2):
        (xa, ya), (xb, yb) = positions[a], positions[b]
        colour = "#cc3311" if turn in flagged else "#ee7733"
        ax.annotate("", xy=(xb, yb), xytext=(xa, ya), zorder=3,
                    arrowprops={"arrowstyle": "->", "color": colour, "linewidth": 1.0, "connectionstyle": "arc3,rad=0.25"})
        ax.annotate(str(turn), ((xa + xb) / 2, (ya + yb) / 2 + 0.15), fontsize=6, color=colour, ha="center")
    ax.set_title(title or f"{len(steps)} steps over the {plan.name} plan ({len(visited)} of {len(plan.nodes)} nodes)", fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_executions(metrics: Sequence[ExecutionMetrics], path: Path) -> Path:
    """Each compared metric per execution, grouped by the plan executed (dots) with the group mean (bar)."""
    plt = pyplot(extra="eval", purpose="drawing the LawFlow report")

    groups = sorted({m.plan_name for m in metrics})
    fig, axes = plt.subplots(1, len(COMPARED), figsize=(3.4 * len(COMPARED), 3.4), dpi=110)
    for ax, (key, title) in zip(axes, COMPARED):
        for i, group in enumerate(groups):
            values = [float(getattr(m, key)) for m in metrics if m.plan_name == group]
            ax.bar(i, fmean(values), color="#BBCCEE", width=0.6)
            ax.scatter([i] * len(values), values, color="#225588", s=14, zorder=3)
        ax.set_xticks(range(len(groups)), [f"{g} plan" for g in groups])
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def _structure_row(label: str, s: PlanStructure) -> str:
    return (f"| {label} | {s.subtasks} | {s.depth.mean:.1f} ± {s.depth.sd:.1f} | {s.nodes.mean:.1f} ± {s.nodes.sd:.1f} "
            f"| {s.branches.mean:.1f} ± {s.branches.sd:.1f} | {s.total_nodes} |")


def write_report(out_dir: Path, *, data_dir: Path | str | None = None) -> Path:
    """``report.md``, ``plans.png`` and ``executions.png`` under ``out_dir``; ``data_dir`` is the LawFlow folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    human, llm = load_plan("human", data_dir=data_dir), load_plan("llm", data_dir=data_dir)
    mapping = load_node_mapping(data_dir=data_dir)
    plans = {"human": human, "llm": llm}
    metrics = [execution_metrics(e, plans[e.plan_name], node_mapping=mapping, human_plan=human)
               for e in load_executions(data_dir=data_dir)]
    plot_plans([human, llm], out_dir / "plans.png")
    plot_executions(metrics, out_dir / "executions.png")
    lines = ["# LawFlow: human and LLM workflows", "",
             "## Plan structure (per subtask, mean ± sd)", "",
             "| plan, counting rule | subtasks | depth | nodes | branches | nodes in all |", "|---|---|---|---|---|---|"]
    for name, plan in plans.items():
        lines.append(_structure_row(f"{name}, subtask node not counted", plan_structure(plan)))
        lines.append(_structure_row(f"{name}, subtask node counted", plan_structure(plan, include_subtask_node=True)))
    lines += ["", "![both plans as trees](plans.png)", "",
              "## Executions (mean per plan executed)", "",
              "| plan executed | orders | " + " | ".join(title for _, title in COMPARED) + " | cycles of 3-6 |",
              "|---|---|" + "---|" * (len(COMPARED) + 1)]
    for group in sorted({m.plan_name for m in metrics}):
        chosen = [m for m in metrics if m.plan_name == group]
        means = [f"{fmean(float(getattr(m, key)) for m in chosen):.2f}" for key, _ in COMPARED]
        lines.append(f"| {group} | {len(chosen)} | " + " | ".join(means) + f" | {sum(m.cycles for m in chosen)} |")
    lines += ["", "![execution metrics per plan](executions.png)", "", "## Every execution order", "",
              "| scenario | executed by | plan | steps | visited share | edit distance | mapped to human plan (share) "
              "| switches | hubs |", "|---|---|---|---|---|---|---|---|---|"]
    for m in metrics:
        mapped = "" if m.levenshtein_to_human_plan is None else f"{m.levenshtein_to_human_plan} ({m.mapped_share:.2f})"
        hubs = ", ".join(f"{n} {c:.2f}" for n, c in m.hubs)
        lines.append(f"| {m.scenario_id} | {m.model} | {m.plan_name} | {m.steps} | {m.node_execution_rate:.2f} "
                     f"| {m.levenshtein_to_plan} | {mapped} | {m.subtask_switches} | {hubs} |")
    path = out_dir / "report.md"
    write_text(path, "\n".join(lines) + "\n")
    return path
