"""agentgraphs' own graphs; importing this package registers them."""

from agentgraphs.graphs import paper_digest, scitalk

__all__ = ["paper_digest", "scitalk"]
