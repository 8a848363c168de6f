"""The registry: registration, namespacing, plug-ins found through the entry point, recorded args."""

from __future__ import annotations

import logging
import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest

from agentgraphs import registry
from agentgraphs.errors import RegistryError
from agentgraphs.graph_spec import load_graph


def test_register_lookup_and_namespace() -> None:
    @registry.register("reward", name="length-bonus")
    def length_bonus(scale: float = 1.0) -> object:
        """Rewards longer answers."""
        return lambda text: scale * len(text)

    # Defined in a test module, outside agentgraphs: namespaced by its top-level module.
    entry = registry.lookup("reward", "test_registry/length-bonus")
    assert entry.factory is length_bonus
    assert entry.description == "Rewards longer answers."
    assert "test_registry/length-bonus" in registry.names("reward")


def test_taken_name_is_refused_but_reimport_is_fine() -> None:
    def first() -> None:
        """One."""

    def second() -> None:
        """Two."""

    registry.register("eval", name="dup-eval")(first)
    registry.register("eval", name="dup-eval")(first)  # the same factory again: a module re-import
    with pytest.raises(RegistryError, match="already registered"):
        registry.register("eval", name="dup-eval")(second)


def test_unknown_kind_and_name_errors_list_what_exists() -> None:
    with pytest.raises(RegistryError, match="kinds are"):
        registry.register("widget", name="x")  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="paper-digest"):
        registry.lookup("graph", "no-such-graph")


def test_create_records_its_arguments() -> None:
    class Judge:
        def __init__(self, rubric: str, threshold: float) -> None:
            self.rubric = rubric
            self.threshold = threshold

    registry.register("agent", name="recorded-judge")(Judge)
    judge = registry.create("agent", "test_registry/recorded-judge", rubric="be kind", threshold=0.5)
    assert isinstance(judge, Judge)
    assert registry.created_with(judge) == {
        "kind": "agent", "name": "test_registry/recorded-judge", "args": {"rubric": "be kind", "threshold": 0.5},
    }


def test_installed_plugin_is_found_by_name_without_importing_it() -> None:
    """The dummy plug-in (tests/plugin_pkg, pip-installed) is found only through its entry point."""
    code = (
        "import sys\n"
        "from agentgraphs.registry import lookup\n"
        "assert 'agentgraphs_demo_plugin' not in sys.modules\n"
        "agent = lookup('agent', 'agentgraphs_demo_plugin/echo-critic')\n"
        "graph = lookup('graph', 'agentgraphs_demo_plugin/countdown')\n"
        "assert 'agentgraphs_demo_plugin' in sys.modules\n"
        "print(agent.name, graph.name, graph.metadata['main_artefact'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["agentgraphs_demo_plugin/echo-critic", "agentgraphs_demo_plugin/countdown", "summary"]
    spec = load_graph("agentgraphs_demo_plugin/countdown")
    assert set(spec.inputs.model_fields) == {"steps", "delay", "seed"}


def test_broken_plugin_is_logged_not_fatal(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    good = EntryPoint(name="demo", value="agentgraphs_demo_plugin", group=registry.PLUGIN_GROUP)
    broken = EntryPoint(name="broken", value="no_such_module_for_agentgraphs", group=registry.PLUGIN_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [broken, good])
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    with caplog.at_level(logging.WARNING, logger="agentgraphs.registry"):
        loaded = registry.load_plugins()
    assert loaded == ["demo"]
    assert "broken" in caplog.text and "no_such_module_for_agentgraphs" in caplog.text
