"""Shared fixtures: the shared data folder, a sample paper, scripted models for control-flow tests."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("AGENTGRAPHS_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real papers, rubrics, scenarios); the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (set AGENTGRAPHS_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_paper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's sample paper PDF, built once per session."""
    spec = importlib.util.spec_from_file_location("sample_paper", REPO / "examples" / "sample_paper.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sample_paper"] = module
    spec.loader.exec_module(module)
    return module.build_sample_paper(tmp_path_factory.mktemp("paper") / "sample_paper.pdf")


@pytest.fixture
def no_model_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Clear AGENTGRAPHS_MODEL* so role resolution is tested from a known state."""
    for key in list(os.environ):
        if key.startswith("AGENTGRAPHS_MODEL"):
            monkeypatch.delenv(key)
    yield
