"""Where agentgraphs keeps files that outlive one run: converted weights, response caches."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_root", "shared_data_dir"]


def cache_root() -> Path:
    """``$AGENTGRAPHS_HOME``, else ``$XDG_CACHE_HOME/agentgraphs``, else ``~/.cache/agentgraphs``."""
    explicit = os.environ.get("AGENTGRAPHS_HOME")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "agentgraphs"


def shared_data_dir() -> Path:
    """``$AGENTGRAPHS_SHARED_DATA``, else ``../shared/data`` from the working directory (the lab's layout).

    Returned whether or not it exists; a reader that needs a file there names the path and the variable.
    """
    explicit = os.environ.get("AGENTGRAPHS_SHARED_DATA")
    if explicit:
        return Path(explicit).expanduser()
    return Path.cwd().parent / "shared" / "data"
