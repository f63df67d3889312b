"""Descent: best-first search that keeps extending the most promising line.

Descent (Cohen-Solal, "Learning to Play Two-Player Perfect-Information Games without
Knowledge", and the "descent" engine of RingRift's ai-service) is a variant of unbounded
best-first minimax (UBFM). Each iteration starts at the root and walks down the current
principal line, at every position stepping into the child that is best for the player to
move; a position met for the first time is expanded (every child evaluated at once); then
the values are backed up along the line, each node taking its best child's value.
Iterations repeat until the budget is spent or the root is solved; the move played is the
root's best child by value.

How far an iteration goes is `max_line`, the number of new positions it may expand: the
original Descent continues to the end of the game (a large `max_line`), which is what it
needs to produce training targets; UBFM expands one. At the budgets of play (tens of
expansions) one expansion per iteration was clearly stronger on square8 (12-0 against
2-ply minimax where 3 per iteration scored 9-3), so 1 is the default.

Our implementation:
- Values are per seat (max-n): a node's value is the value vector of the child that is
  best for the node's mover, so it works for 2-4 players. Leaf values are the heuristic
  evaluation squashed by tanh(score / scale), kept inside (-1, 1); +-1 means a finished game.
- Children are decision points (forced bookkeeping applied), evaluated in one
  `score_moves` pass (placements by delta), so expanding a 140-placement node is cheap.
- Solved nodes (a won child for the mover, or every child solved) are not descended again.
- `exploration` > 0 adds a UCB bonus to the descent choice (0 = the original greedy rule).
- The table of expanded positions (exact state keys) is kept between moves of one game,
  so the line the game follows keeps its work; it is cleared when it grows past `max_table`.
- Budget: `nodes` expansions (deterministic), optionally capped by `time_limit` seconds.
"""
from __future__ import annotations

import math
import random
import time

from engine.moves import Move
from engine.players.evaluator import terminal_values
from engine.players.heuristic import WeightsByConfig
from engine.players.move_scoring import child_state, evaluate_state, score_moves
from engine.players.profiles import Profile
from engine.players.search_util import best_index, decision_moves, state_key
from engine.rules import legal_moves
from engine.state import GameState


class _Entry:
    __slots__ = ("moves", "values", "solved", "visits", "children")

    def __init__(self, moves: list[Move], values: list[list[float]], solved: list[bool],
                 children: dict[int, GameState]):
        self.moves = moves
        self.values = values
        self.solved = solved
        self.visits = [0] * len(moves)
        self.children = children  # child states built during expansion, reused on descent


class DescentPlayer:
    name = "descent"

    def __init__(
        self,
        seed: int | None = None,
        *,
        nodes: int = 200,
        time_limit: float | None = None,
        max_line: int = 1,
        exploration: float = 0.0,
        scale: float = 4.0,
        max_table: int = 50_000,
        profile: Profile | None = None,
    ):
        self.rng = random.Random(seed)
        self.nodes = nodes
        self.time_limit = time_limit
        self.max_line = max_line
        self.exploration = exploration
        self.scale = scale
        self.max_table = max_table
        self.weights = WeightsByConfig(profile)
        self.table: dict[tuple, _Entry] = {}
        self._last_move_count = -1
        self.last_iterations = 0
        self.last_nodes = 0

    def choose(self, state: GameState) -> Move:
        moves = decision_moves(state)
        if len(moves) == 1:
            self.last_nodes = 0
            return moves[0]
        if state.move_count < self._last_move_count or len(self.table) > self.max_table:
            self.table.clear()  # a new game, or too much kept
        self._last_move_count = state.move_count
        self.w = self.weights(state)
        self.expanded = 0
        deadline = time.perf_counter() + self.time_limit if self.time_limit else None
        root_key = state_key(state)
        iterations = 0
        while self.expanded < self.nodes and iterations < 4 * self.nodes:
            self.line_expansions = 0
            _, solved = self._descend(state)
            iterations += 1
            if solved or (deadline is not None and time.perf_counter() >= deadline):
                break
        self.last_iterations = iterations
        self.last_nodes = self.expanded
        entry = self.table[root_key]
        me = state.current_player - 1
        return entry.moves[best_index([v[me] for v in entry.values], self.rng, tol=1e-12)]

    # --- search -------------------------------------------------------------------------------

    def _leaf(self, s: GameState) -> list[float]:
        if s.status != "active":
            return terminal_values(s)
        return self._squash(evaluate_state(s, self.w))

    def _squash(self, scores) -> list[float]:
        # Leaf estimates stay strictly inside (-1, 1): +-1 means a finished game.
        return [max(-0.999, min(0.999, math.tanh(float(v) / self.scale))) for v in scores]

    def _expand(self, s: GameState, key: tuple) -> _Entry:
        moves = legal_moves(s)
        children: dict[int, GameState] = {}
        scores, _ = score_moves(s, moves, self.w, children=children)
        values, solved = [], []
        for i in range(len(moves)):
            ch = children.get(i)
            if ch is not None and ch.status != "active":
                values.append(terminal_values(ch))
                solved.append(True)
            else:
                values.append(self._squash(scores[i]))
                solved.append(False)
        entry = _Entry(moves, values, solved, children)
        self.table[key] = entry
        self.expanded += 1
        return entry

    def _descend(self, s: GameState) -> tuple[list[float], bool]:
        """One iteration below `s`: its backed-up value vector and whether it is solved.

        The line goes through known positions for free and stops after `max_line` new
        expansions (or at the end of the game, or when the budget is spent)."""
        if s.status != "active":
            return terminal_values(s), True
        key = state_key(s)
        entry = self.table.get(key)
        if entry is None:
            entry = self._expand(s, key)
            self.line_expansions += 1
        me = s.current_player - 1
        if self.line_expansions < self.max_line and self.expanded < self.nodes:
            i = self._select(entry, me)
            if i is not None:
                child = entry.children.pop(i, None) or child_state(s, entry.moves[i])
                entry.values[i], entry.solved[i] = self._descend(child)
                entry.visits[i] += 1
        return self._backed_up(entry, me)

    def _select(self, entry: _Entry, me: int) -> int | None:
        """The unsolved child best for the mover (with the optional UCB bonus)."""
        total = sum(entry.visits) + 1
        c = self.exploration
        best, best_i = -float("inf"), None
        for i, (v, done) in enumerate(zip(entry.values, entry.solved)):
            if done:
                continue
            u = v[me]
            if c:
                u += c * math.sqrt(math.log(total + 1) / (entry.visits[i] + 1))
            if u > best:
                best, best_i = u, i
        return best_i

    @staticmethod
    def _backed_up(entry: _Entry, me: int) -> tuple[list[float], bool]:
        best_i = max(range(len(entry.values)), key=lambda i: entry.values[i][me])
        v = entry.values[best_i]
        solved = all(entry.solved) or (entry.solved[best_i] and v[me] >= 1.0)
        return list(v), solved
