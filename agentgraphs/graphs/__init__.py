"""agentgraphs' own graphs; importing this package registers them."""

from agentgraphs.graphs import lawflow, mpo, paper_digest, scitalk

__all__ = ["lawflow", "mpo", "paper_digest", "scitalk"]
