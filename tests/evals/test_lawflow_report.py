"""The LawFlow report from the shared data: both counting rules' plan tables, execution means per plan,
tree drawings whose parents sit above their children, and the CLI's exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agentgraphs.evals.lawflow_data import load_plan
from agentgraphs.evals.lawflow_report import tree_positions, write_report


def test_report_tables_and_plots(shared_data: Path, tmp_path: Path) -> None:
    path = write_report(tmp_path / "out", data_dir=shared_data / "lawflow")
    report = path.read_text()
    assert "| human, subtask node counted | 5 | 3.8 ± 0.8 | 8.8 ± 2.6 |" in report
    assert "| llm, subtask node not counted | 10 | 1.0 ± 0.0 | 3.8 ± 0.4 |" in report
    assert "| human | 8 | 33.38 | 0.76 | 18.50 | 4.12 | 0 |" in report  # 7 o1 orders + 1 DeepSeek-R1
    assert report.count("| scenario_") == 15
    for name in ("plans.png", "executions.png"):
        assert (tmp_path / "out" / name).stat().st_size > 20_000, name


def test_tree_positions_put_parents_above_the_middle_of_their_children(shared_data: Path) -> None:
    plan = load_plan("human", data_dir=shared_data / "lawflow")
    positions = tree_positions(plan)
    assert set(positions) == {node.id for node in plan.nodes}
    for node in plan.nodes:
        children = plan.children(node.id)
        if children:
            xs = [positions[c.id][0] for c in children]
            assert positions[node.id][0] == (xs[0] + xs[-1]) / 2
            assert all(positions[c.id][1] == positions[node.id][1] - 1 for c in children)
    leaves = [positions[n.id][0] for n in plan.nodes if not plan.children(n.id)]
    assert leaves == sorted(leaves) and len(set(leaves)) == len(leaves)  # written order, no two on one spot


def test_cli_writes_the_report_or_names_the_missing_data(shared_data: Path, tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "agentgraphs.cli", "lawflow-report"]
    done = subprocess.run([*cli, "--out", str(tmp_path / "r"), "--data", str(shared_data / "lawflow")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("report.md")
    missing = subprocess.run([*cli, "--out", str(tmp_path / "m"), "--data", str(tmp_path / "nowhere")],
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "AGENTGRAPHS_SHARED_DATA" in missing.stderr
    assert not (tmp_path / "m" / "report.md").exists()
