"""LawFlow's agents: planner, executor, monitor, decision-point advisor and drafter (one module each)."""
