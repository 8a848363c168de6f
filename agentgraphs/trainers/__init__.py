"""trainers: anything that changes weights (see DESIGN.md).

``grpo``: GRPO policy updates k steps per graph visit, resumable after a kill (MPO's trainer node).
"""
