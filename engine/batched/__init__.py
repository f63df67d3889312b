"""Batched RingRift: B games of one configuration held as tensors and advanced together.

Torch only (no Prefect). Device-agnostic: everything runs on the device of the board
tables, CUDA when asked for, CPU otherwise. Entry points: `BatchedGames` (step.py),
`replay_check` (check.py), `from_states` / `read_states` (state.py).
"""
