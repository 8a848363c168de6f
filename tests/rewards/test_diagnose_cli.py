"""`agentgraphs diagnose FILE --field NAME`: JSON verdict on stdout, exit 0; bad input exits 2 with one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HACKED = "mpo/generations/essay_writing/expert-72b.test.generations.rows0000-0299.jsonl"
NORMAL = "mpo/elo_scores/essay_writing/32b_32bvs32b_72b-1.details.first150.json"


def _diagnose(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agentgraphs.cli", "diagnose", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_hacked_file_reports_hacking(shared_data: Path) -> None:
    done = _diagnose(shared_data / HACKED, "--field", "model_response")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["hacking"] is True
    assert result["n_responses"] == 300
    assert any("length" in line for line in result["evidence"])


def test_normal_file_with_two_fields(shared_data: Path) -> None:
    done = _diagnose(shared_data / NORMAL, "--field", "model_a_response", "--field", "model_b_response")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["hacking"] is False and result["evidence"] == []
    assert result["n_responses"] == 300


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    records = tmp_path / "r.jsonl"
    records.write_text(json.dumps({"text": "hello"}) + "\n")
    done = _diagnose(records, "--field", "response")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
    assert "no field 'response'" in done.stderr and "['text']" in done.stderr
    missing = _diagnose(tmp_path / "absent.json", "--field", "x")
    assert missing.returncode == 2 and "not found" in missing.stderr
    assert _diagnose(records).returncode == 2  # --field is required
