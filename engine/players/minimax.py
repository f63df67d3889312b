"""Alpha-beta minimax with iterative deepening, move ordering and a transposition table.

Why these choices:
- Depth counts *decisions*, not recorded moves: a child is the position after a move and
  the forced bookkeeping moves that follow (`child_state`), so `no_line_action` and the
  like cost no depth. A turn is typically two decisions (placement, then movement), so
  depth 4 sees the searcher's turn and the opponent's reply.
- 3-4 players: *paranoid* search. Every other seat is assumed to minimise the searcher's
  evaluation, which keeps alpha-beta pruning valid (max-n cannot prune) at the price of
  pessimism; with 2 players it is plain minimax.
- The horizon layer is scored in one `score_moves` pass (placements by delta) instead of
  one state per move; interior nodes are ordered by that same pass (transposition-table
  move first) and only the `beam` best moves are searched, since a placement decision has
  about 140 moves on square8 and most are poor.
- Budget: `nodes` (positions created plus horizon moves scored; deterministic) and/or
  `time_limit` seconds. When it runs out mid-iteration, the deepest completed iteration
  decides, unless the interrupted one already found a better first move.
"""
from __future__ import annotations

import random

from engine.moves import Move
from engine.players.heuristic import WeightsByConfig
from engine.players.move_scoring import child_state, evaluate_state, score_moves
from engine.players.profiles import Profile
from engine.players.search_util import Budget, OutOfBudget, best_index, decision_moves, state_key
from engine.rules import legal_moves
from engine.state import GameState

EXACT, LOWER, UPPER = 0, 1, 2


class MinimaxPlayer:
    name = "minimax"

    def __init__(
        self,
        seed: int | None = None,
        *,
        max_depth: int = 4,
        nodes: int | None = 2000,
        time_limit: float | None = None,
        beam: int = 8,
        profile: Profile | None = None,
    ):
        self.rng = random.Random(seed)
        self.max_depth = max_depth
        self.nodes = nodes
        self.time_limit = time_limit
        self.beam = beam
        self.weights = WeightsByConfig(profile)
        self.last_depth = 0
        self.last_nodes = 0
        self.last_value: float | None = None  # the root's value (the searcher's evaluation) of the last choice

    def choose(self, state: GameState) -> Move:
        moves = decision_moves(state)
        if len(moves) == 1:
            self.last_nodes, self.last_value = 0, None
            return moves[0]
        self.root = state.current_player - 1
        self.w = self.weights(state)
        self.tt: dict[tuple, tuple[int, float, int, Move | None]] = {}
        self.budget = Budget(self.nodes, self.time_limit)
        ordered = self._order(state, moves, maximizing=True, limit=None)
        best = ordered[0]
        self.last_depth, self.last_value = 0, None
        try:
            for depth in range(1, self.max_depth + 1):
                self.partial = None
                self.last_value, best = self._root_search(state, ordered, depth)
                self.last_depth = depth
                ordered = [best] + [m for m in ordered if m is not best]
        except OutOfBudget:
            if self.partial is not None:
                best = self.partial
        self.last_nodes = self.budget.used
        return best

    # --- search -------------------------------------------------------------------------------

    def _root_search(self, s: GameState, moves: list[Move], depth: int) -> tuple[float, Move]:
        if depth == 1:
            scores, _ = score_moves(s, moves, self.w)
            self.budget.spend(len(moves))
            vals = [float(v) for v in scores[:, self.root]]
            return max(vals), moves[best_index(vals, self.rng)]
        alpha, beta = -float("inf"), float("inf")
        best_val, best = -float("inf"), moves[0]
        for m in moves[: max(self.beam, 1)]:
            v = self._search(self._child(s, m), depth - 1, alpha, beta)
            if v > best_val:
                best_val, best = v, m
                self.partial = best  # the first move is the previous best: any later
                alpha = v            # move that beats it is an improvement worth keeping
        return best_val, best

    def _child(self, s: GameState, m: Move) -> GameState:
        self.budget.spend()
        return child_state(s, m)

    def _search(self, s: GameState, depth: int, alpha: float, beta: float) -> float:
        if s.status != "active":
            return self._eval_leaf(s)
        key = state_key(s)
        hit = self.tt.get(key)
        tt_move = None
        if hit is not None:
            hdepth, hval, flag, tt_move = hit
            if hdepth >= depth:
                if flag == EXACT:
                    return hval
                if flag == LOWER and hval >= beta:
                    return hval
                if flag == UPPER and hval <= alpha:
                    return hval
        moves = legal_moves(s)
        maximizing = s.current_player - 1 == self.root
        if depth <= 1:
            scores, _ = score_moves(s, moves, self.w)
            self.budget.spend(len(moves))
            col = scores[:, self.root]
            val = float(col.max() if maximizing else col.min())
            self.tt[key] = (1, val, EXACT, None)
            return val
        ordered = self._order(s, moves, maximizing, self.beam, tt_move)
        a0, b0 = alpha, beta
        best_val = -float("inf") if maximizing else float("inf")
        best_move = ordered[0]
        for m in ordered:
            v = self._search(self._child(s, m), depth - 1, alpha, beta)
            if maximizing:
                if v > best_val:
                    best_val, best_move = v, m
                alpha = max(alpha, v)
            else:
                if v < best_val:
                    best_val, best_move = v, m
                beta = min(beta, v)
            if alpha >= beta:
                break
        flag = EXACT
        if best_val <= a0:
            flag = UPPER
        elif best_val >= b0:
            flag = LOWER
        self.tt[key] = (depth, best_val, flag, best_move)
        return best_val

    def _eval_leaf(self, s: GameState) -> float:
        return evaluate_state(s, self.w)[self.root]

    def _order(
        self, s: GameState, moves: list[Move], maximizing: bool, limit: int | None,
        tt_move: Move | None = None,
    ) -> list[Move]:
        """Moves by their one-ply score for the mover's side (the searcher's evaluation,
        descending where it maximises), the transposition-table move first, cut to `limit`."""
        scores, _ = score_moves(s, moves, self.w)
        col = scores[:, self.root]
        sign = -1.0 if maximizing else 1.0
        order = sorted(range(len(moves)), key=lambda i: sign * float(col[i]))
        out = [moves[i] for i in order]
        if tt_move is not None and tt_move in out:
            out.remove(tt_move)
            out.insert(0, tt_move)
        return out[:limit] if limit else out
