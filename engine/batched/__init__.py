"""Batched RingRift: B games of one configuration held as tensors and advanced together.

Torch only (no Prefect), device-agnostic: everything runs on the device of the board
tables (CUDA when asked for, else CPU). One step advances every unfinished game by
one move with no Python loop over games: a ray scan of every cell (scan.py), one
legal mask over a flat action index (legal.py, moves.py), one choice per game from
the mask (players.py), one batched application (apply.py and the rule modules).

Vectorized: placement (with the no-dead-placement test), movement, overtaking
captures and chains, line detection and decisions (process_line, Option 1, Option-2
windows) with the line reward, territory regions by label propagation
(territory.py) with region choice, border markers, self-elimination, forced
elimination, recovery slides (line / fallback / stack-strike, extraction costs), the
skip / no-action moves, the end of turn (victory, stalemate tiebreak, rotation,
last-player-standing rounds) and the move cap.

Fallback (fallback.py, counted): the pie-rule swap decision (off in default
self-play) and a chain capture whose position a serialized state did not carry.

Entry points: `BatchedGames` (step.py), `replay_check` (check.py), `from_states` /
`read_states` (state.py), `legal_move_lists` / `apply_each` (enumerate.py, tests).
"""
