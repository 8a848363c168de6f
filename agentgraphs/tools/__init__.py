"""Deterministic tool nodes: no model inside, testable on their own."""
