"""Agents: one module per role (prompt, output schema, node function)."""
