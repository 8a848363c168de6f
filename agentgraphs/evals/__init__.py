"""evals: see DESIGN.md; filled by the issues that build them."""
