"""Imports of optional dependency groups, with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from agentgraphs.errors import MissingExtraError

__all__ = ["require"]


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``agentgraphs[extra]``.

    Heavy libraries are imported inside the factories that need them, through this, so that the
    core installs small and a missing group is reported by name rather than as a bare ImportError.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] != module.split(".")[0]:
            raise  # the module exists but one of its own imports is broken: show the real cause
        raise MissingExtraError(module=module, extra=extra, purpose=purpose) from exc
