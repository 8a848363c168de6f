"""agentgraphs' own graphs; importing this package registers them."""

from agentgraphs.graphs import mpo, paper_digest, scitalk

__all__ = ["mpo", "paper_digest", "scitalk"]
