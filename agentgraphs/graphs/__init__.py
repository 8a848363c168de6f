"""agentgraphs' own graphs; importing this package registers them."""

from agentgraphs.graphs import paper_digest

__all__ = ["paper_digest"]
