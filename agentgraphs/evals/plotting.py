"""What every report's figures share: a headless matplotlib, named by extra when missing, saved atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentgraphs.atomic import atomic_path
from agentgraphs.extras import require

__all__ = ["pyplot", "save_figure"]


def pyplot(*, extra: str, purpose: str) -> Any:
    """``matplotlib.pyplot`` on the Agg backend (reports are drawn on machines without a display)."""
    matplotlib = require("matplotlib", extra=extra, purpose=purpose)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically and free it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
