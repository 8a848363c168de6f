"""The `agentgraphs` command: listing, running with flags from the input schema, clear failures."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agentgraphs.models import get_model

CLI = [sys.executable, "-m", "agentgraphs.cli"]


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def test_list_shows_builtin_and_plugin_graphs() -> None:
    out = _cli("list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(re.match(r"^paper-digest\s+A paper PDF", line) for line in lines)
    assert any(line.startswith("agentgraphs_demo_plugin/countdown ") for line in lines)


def test_run_flags_come_from_the_input_schema() -> None:
    out = _cli("run", "agentgraphs_demo_plugin/countdown", "--help")
    assert out.returncode == 0
    for flag in ("--steps", "--delay", "--seed", "--model", "--run-dir"):
        assert flag in out.stdout
    assert "How many loop iterations" in out.stdout


def test_run_prints_the_main_artefact_last(tmp_path: Path) -> None:
    out = _cli("run", "agentgraphs_demo_plugin/countdown", "--steps", "2", "--run-dir", str(tmp_path / "run"))
    assert out.returncode == 0, out.stderr
    last = Path(out.stdout.strip().splitlines()[-1])
    assert last == (tmp_path / "run" / "summary.txt").resolve()
    assert last.read_text().startswith("2 steps")


@pytest.mark.parametrize("args, message", [
    (["run", "no-such-graph"], "no graph named 'no-such-graph'"),
    (["run", "agentgraphs_demo_plugin/countdown", "--steps", "0"], "--steps"),
    (["run", "paper-digest", "--paper", "/nonexistent/paper.pdf"], "--paper"),
    (["run", "paper-digest", "--paper", "x.pdf", "--model", "summarizer=gpt4"], "no provider prefix"),
    (["resume", "/nonexistent/run"], "not a run directory"),
    (["run", "mpo", "--processes", "3"], "do not split over 3 processes"),
])
def test_errors_are_one_clear_line_and_nonzero(args: list[str], message: str, tmp_path: Path) -> None:
    if "x.pdf" in args:
        paper = tmp_path / "x.pdf"
        paper.write_bytes(b"%PDF-1.4\n")
        args = [str(paper) if a == "x.pdf" else a for a in args]
    out = _cli(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_not_a_pdf_fails_without_a_half_written_artefact(tmp_path: Path) -> None:
    paper = tmp_path / "paper.pdf"
    paper.write_text("this is not a pdf")
    run_dir = tmp_path / "run"
    out = _cli("run", "paper-digest", "--paper", str(paper), "--run-dir", str(run_dir))
    assert out.returncode == 2
    assert "not a PDF" in out.stderr and "Traceback" not in out.stderr
    assert not (run_dir / "digest.md").exists()
    assert "status: failed" in (run_dir / "run.md").read_text()


def test_debug_shows_the_traceback() -> None:
    out = _cli("--debug", "run", "no-such-graph")
    assert out.returncode != 0 and "Traceback" in out.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_model_shares_the_embedded_model_over_http() -> None:
    port = _free_port()
    proc = subprocess.Popen([*CLI, "serve-model", "local:smollm2-135m", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/v1" in first, proc.stderr.read() if proc.poll() is not None else first
        model = get_model(f"vllm:smollm2-135m@http://127.0.0.1:{port}/v1", max_tokens=16, temperature=0)
        reply = model.invoke("Name a colour.")
        assert reply.content.strip() and reply.usage_metadata["output_tokens"] > 0
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert proc.returncode == 0
