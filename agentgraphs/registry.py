"""One registry for every kind of component: agents, graphs, rewards, trainers, evals, tasks.

A component is registered by name with ``@register(kind, name=...)``. Built-in components live in
agentgraphs' own modules, imported on first lookup; third-party packages declare a module in the
``agentgraphs.plugins`` entry-point group and their names are prefixed ``package/``. Plug-ins load
lazily, on a lookup miss or a listing, and a broken one is logged, not fatal. ``create`` records
the arguments a component was made with, so a run can be re-created from its record.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal, TypeVar, get_args

from agentgraphs.errors import RegistryError

__all__ = [
    "PLUGIN_GROUP",
    "Kind",
    "RegistryEntry",
    "create",
    "created_with",
    "entries",
    "load_plugins",
    "lookup",
    "names",
    "register",
]

Kind = Literal["agent", "graph", "reward", "trainer", "eval", "task"]
KINDS: tuple[str, ...] = get_args(Kind)
PLUGIN_GROUP = "agentgraphs.plugins"

# Modules that register agentgraphs' own components, imported before the first lookup.
_BUILTIN_MODULES: tuple[str, ...] = ("agentgraphs.graphs", "agentgraphs.tasks")

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, kw_only=True)
class RegistryEntry:
    """A registered component."""

    kind: Kind
    name: str
    """The full name: ``name`` for built-ins, ``package/name`` for plug-ins."""
    factory: Callable[..., Any]
    """Builds the component (for a graph: returns the uncompiled ``StateGraph``)."""
    description: str
    """One line, from the factory's docstring unless given."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Kind-specific facts (a graph's input schema and main artefact, ...)."""


_entries: dict[tuple[str, str], RegistryEntry] = {}
_lock = threading.RLock()
_builtins_loaded = False
_plugins_loaded = False


def _namespace(factory: Callable[..., Any], name: str) -> str:
    if "/" in name:
        return name
    package = (getattr(factory, "__module__", "") or "").split(".")[0]
    if package in ("agentgraphs", "__main__", ""):
        return name
    return f"{package}/{name}"


def register(kind: Kind, *, name: str | None = None, description: str | None = None, **metadata: Any) -> Callable[[F], F]:
    """Register the decorated factory as a ``kind`` component.

    ``name`` defaults to the factory's ``__name__``; a factory outside agentgraphs is namespaced
    with its top-level package (``mypkg/name``). Registering a different factory under a taken
    name is an error; re-registering the same one (a module imported twice) is not.
    """
    if kind not in KINDS:
        raise RegistryError(f"unknown component kind {kind!r}; kinds are {', '.join(KINDS)}")

    def decorate(factory: F) -> F:
        full = _namespace(factory, name or factory.__name__)
        lines = (factory.__doc__ or "").strip().splitlines()
        summary = description if description is not None else (lines[0] if lines else "")
        entry = RegistryEntry(kind=kind, name=full, factory=factory, description=summary, metadata=dict(metadata))
        with _lock:
            existing = _entries.get((kind, full))
            if existing is not None and _qualname(existing.factory) != _qualname(factory):
                raise RegistryError(
                    f"{kind} {full!r} is already registered by {_qualname(existing.factory)}; "
                    f"choose another name for {_qualname(factory)}"
                )
            _entries[(kind, full)] = entry
        return factory

    return decorate


def _qualname(obj: Callable[..., Any]) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _load_builtins() -> None:
    global _builtins_loaded
    with _lock:
        if _builtins_loaded:
            return
        _builtins_loaded = True
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def load_plugins() -> list[str]:
    """Import every module in the ``agentgraphs.plugins`` entry-point group (once); their names."""
    global _plugins_loaded
    with _lock:
        if _plugins_loaded:
            return []
        _plugins_loaded = True
    loaded = []
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            ep.load()
            loaded.append(ep.name)
        except Exception as exc:  # a broken plug-in must not take the framework down with it
            log.warning("agentgraphs plug-in %r (%s) failed to load: %s: %s", ep.name, ep.value, type(exc).__name__, exc)
    return loaded


def lookup(kind: Kind, name: str) -> RegistryEntry:
    """The entry for ``name``; built-ins first, then plug-ins are loaded on a miss."""
    _load_builtins()
    with _lock:
        entry = _entries.get((kind, name))
    if entry is None:
        load_plugins()
        with _lock:
            entry = _entries.get((kind, name))
    if entry is None:
        known = ", ".join(names(kind)) or "none"
        raise RegistryError(f"no {kind} named {name!r}; registered {kind}s: {known}")
    return entry


def names(kind: Kind) -> list[str]:
    """Every registered ``kind`` name, plug-ins included, sorted."""
    _load_builtins()
    load_plugins()
    with _lock:
        return sorted(n for k, n in _entries if k == kind)


def entries(kind: Kind) -> list[RegistryEntry]:
    """Every registered ``kind`` entry, sorted by name."""
    return [lookup(kind, n) for n in names(kind)]


def create(kind: Kind, name: str, /, **kwargs: Any) -> Any:
    """Build component ``name`` with ``kwargs`` and record them on it (see :func:`created_with`)."""
    entry = lookup(kind, name)
    component = entry.factory(**kwargs)
    try:
        component.__agentgraphs_created_with__ = {"kind": kind, "name": name, "args": dict(kwargs)}
    except (AttributeError, TypeError):
        pass  # objects without a __dict__ (builtins, slotted classes) just are not recorded
    return component


def created_with(component: Any) -> dict[str, Any] | None:
    """The ``{"kind", "name", "args"}`` a component was created with by :func:`create`, if any."""
    return getattr(component, "__agentgraphs_created_with__", None)
