"""PUCT Monte Carlo tree search with priors and values from a pluggable `Evaluator`.

Why these choices:
- Values are backed up per seat (max-n): every node keeps the summed value of each seat,
  and a node's mover selects by its own seat's mean. That is correct for 2 to 4 players
  without assuming the opponents gang up on the searcher.
- Tree nodes are decision points: a child is the position after the move *and* the forced
  bookkeeping moves that follow (`no_line_action`, ...), so simulations are not spent on
  single-move positions, and a root with one legal move is played without search.
- Leaves are evaluated in batches of `batch_size` (virtual loss keeps a batch's paths
  apart), so a neural evaluator can answer a batch in one forward pass.
- The budget is a number of simulations (deterministic for a seed); `time_limit` can cap
  it as well. Dirichlet noise at the root (`noise=True`, selfplay) and the move temperature
  (visit counts to the power 1/T; 0 = most visited) draw from the seeded generator.
- `root="gumbel"` replaces PUCT at the root only by Gumbel-top-k sampling and sequential
  halving (engine.players.gumbel): at 8 to 32 simulations PUCT's visit counts say little,
  while the Gumbel root still improves on the prior. Below the root both use PUCT.

`search(state)` returns the move and the policy target over the root's legal moves (the
visit distribution, or with the Gumbel root its improved policy); `choose(state)` returns
the move.
"""
from __future__ import annotations

import math
import time
from typing import Mapping

import numpy as np

from engine.moves import Move
from engine.players.gumbel import search_root as gumbel_root
from engine.players.evaluator import Evaluator, HeuristicEvaluator, terminal_values
from engine.players.move_scoring import child_state
from engine.players.profiles import Profile
from engine.players.search_util import decision_moves
from engine.rules import legal_moves
from engine.state import GameState


class Node:
    __slots__ = ("state", "moves", "_priors", "_given", "children", "n", "w", "vl", "expanded")

    def __init__(self, state: GameState):
        self.state = state
        self.moves: list[Move] = []
        self._priors: list[float] | None = None
        self._given: Mapping[Move, float] | None = None
        self.children: list[Node | None] = []
        self.n = 0
        self.w = [0.0] * state.num_players
        self.vl = 0  # virtual visits of the pending batch
        self.expanded = False

    def expand(self, moves: list[Move], priors: Mapping[Move, float] | None) -> None:
        """Record the moves; the priors are read when the node is first searched through,
        so an evaluator that computes them on demand (`LazyPriors`) pays only for nodes
        visited twice, not for every leaf."""
        self.moves = moves
        self._given = priors
        self._priors = None
        self.children = [None] * len(moves)
        self.expanded = True

    @property
    def priors(self) -> list[float]:
        if self._priors is None:
            moves, given = self.moves, self._given
            p = [1.0] * len(moves) if given is None else [
                max(0.0, float(given.get(m, 0.0))) for m in moves
            ]
            total = sum(p)
            self._priors = [v / total for v in p] if total > 0 else [1.0 / len(p)] * len(p)
            self._given = None
        return self._priors

    @priors.setter
    def priors(self, value: list[float]) -> None:
        self._priors = value


class MCTSPlayer:
    name = "mcts"

    def __init__(
        self,
        seed: int | None = None,
        *,
        simulations: int = 200,
        evaluator: Evaluator | None = None,
        c_puct: float = 1.5,
        fpu_reduction: float = 0.2,
        noise: bool = False,
        dirichlet_alpha: float = 0.3,
        noise_fraction: float = 0.25,
        temperature: float = 0.0,
        batch_size: int = 1,
        time_limit: float | None = None,
        value_scale: float = 4.0,
        prior_temperature: float = 0.25,
        priors: bool = True,
        lookahead: bool = True,
        root: str = "puct",
        gumbel_k: int = 16,
        gumbel_scale: float | None = None,
        profile: Profile | None = None,
    ):
        if root not in ("puct", "gumbel"):
            raise ValueError(f"root must be 'puct' or 'gumbel', got {root!r}")
        self.rng = np.random.default_rng(seed)
        self.simulations = simulations
        # `profile` and the value/prior settings configure the default heuristic evaluator;
        # a given `evaluator` brings its own, so a profile beside it would be silently unused.
        if evaluator is not None and profile is not None:
            raise ValueError("MCTSPlayer: give a profile or an evaluator, not both (the evaluator has its own weights)")
        self.evaluator = evaluator or HeuristicEvaluator(
            profile, scale=value_scale, priors=priors, prior_temperature=prior_temperature,
            lookahead=lookahead,
        )
        self.c_puct = c_puct
        self.fpu_reduction = fpu_reduction
        self.noise = noise
        self.dirichlet_alpha = dirichlet_alpha
        self.noise_fraction = noise_fraction
        self.temperature = temperature
        self.batch_size = max(1, batch_size)
        self.time_limit = time_limit
        self.root = root
        self.gumbel_k = gumbel_k
        # Gumbel noise samples the move in selfplay; a player that plays to win leaves it out
        # (mctx's advice for perfect-information games): None = 1 with `noise`, else 0.
        self.gumbel_scale = (1.0 if noise else 0.0) if gumbel_scale is None else gumbel_scale
        self.last_simulations = 0
        self.last_values: list[float] | None = None  # the last search's root value per seat (seat 1 first)

    def choose(self, state: GameState) -> Move:
        return self.search(state)[0]

    # --- search -------------------------------------------------------------------------------

    def search(self, state: GameState) -> tuple[Move, dict[Move, float]]:
        moves = decision_moves(state)
        if len(moves) == 1:
            self.last_simulations = 0
            return moves[0], {moves[0]: 1.0}
        root = Node(state.copy())
        (priors, values), = self.evaluator.evaluate([root.state])
        root.expand(moves, priors)
        self._backup([root], values)
        deadline = time.perf_counter() + self.time_limit if self.time_limit else None
        if self.root == "gumbel":  # its Gumbel noise replaces Dirichlet noise and temperature
            picked = gumbel_root(self, root, values[state.current_player - 1], deadline)
            self.last_values = [w / root.n for w in root.w]
            return picked
        if self.noise:
            noise = self.rng.dirichlet([self.dirichlet_alpha] * len(moves))
            f = self.noise_fraction
            root.priors = [(1 - f) * p + f * float(z) for p, z in zip(root.priors, noise)]
        done = 0
        while done < self.simulations:
            done += self._run_batch(root, min(self.batch_size, self.simulations - done))
            if deadline is not None and time.perf_counter() >= deadline:
                break
        self.last_simulations = done
        self.last_values = [w / root.n for w in root.w]
        return self._pick(root)

    def _run_batch(self, root: Node, size: int, firsts: list[int] | None = None) -> int:
        """Select `size` leaves under virtual loss, evaluate them together, back up.
        `firsts[j]`, when given, is the root child simulation j must go through (the
        Gumbel root allocates its simulations itself; PUCT takes over below)."""
        pending: list[tuple[list[Node], Node]] = []
        seen: set[int] = set()
        terminal: list[list[Node]] = []
        for j in range(size):
            path = self._select(root, firsts[j] if firsts is not None else None)
            leaf = path[-1]
            for nd in path:
                nd.vl += 1
            if leaf.state.status != "active":
                terminal.append(path)
            elif id(leaf) in seen:
                pending.append((path, leaf))  # a collision: backed up with the same values
            else:
                seen.add(id(leaf))
                pending.append((path, leaf))
        leaves = []
        for _, leaf in pending:
            if not leaf.expanded and all(leaf is not x for x in leaves):
                leaves.append(leaf)
        results = self.evaluator.evaluate([lf.state for lf in leaves]) if leaves else []
        values_of: dict[int, list[float]] = {}
        for leaf, (priors, values) in zip(leaves, results):
            leaf.expand(legal_moves(leaf.state), priors)
            values_of[id(leaf)] = values
        for path in terminal:
            self._release(path)
            self._backup(path, terminal_values(path[-1].state))
        for path, leaf in pending:
            self._release(path)
            vals = values_of.get(id(leaf))
            if vals is None:  # already expanded in an earlier batch: use its mean value
                vals = [w / max(leaf.n, 1) for w in leaf.w]
            self._backup(path, vals)
        return size

    def _select(self, root: Node, first: int | None = None) -> list[Node]:
        node = root
        path = [node]
        while node.expanded and node.state.status == "active":
            if first is not None:
                i, first = first, None
            else:
                i = self._best_child(node)
            child = node.children[i]
            if child is None:
                child = node.children[i] = Node(child_state(node.state, node.moves[i]))
            node = child
            path.append(node)
        return path

    def _best_child(self, node: Node) -> int:
        me = node.state.current_player - 1
        n_parent = node.n + node.vl
        sq = self.c_puct * math.sqrt(max(n_parent, 1))
        parent_q = node.w[me] / node.n if node.n else 0.0
        fpu = parent_q - self.fpu_reduction
        best, best_i = -1e18, 0
        for i, (p, ch) in enumerate(zip(node.priors, node.children)):
            if ch is None or ch.n + ch.vl == 0:
                q, visits = fpu, 0
            else:
                visits = ch.n + ch.vl
                q = (ch.w[me] - ch.vl) / visits
            u = q + sq * p / (1 + visits)
            if u > best:
                best, best_i = u, i
        return best_i

    @staticmethod
    def _release(path: list[Node]) -> None:
        for nd in path:
            nd.vl -= 1

    @staticmethod
    def _backup(path: list[Node], values: list[float]) -> None:
        for nd in path:
            nd.n += 1
            w = nd.w
            for k, v in enumerate(values):
                w[k] += v

    def _pick(self, root: Node) -> tuple[Move, dict[Move, float]]:
        visits = [ch.n if ch is not None else 0 for ch in root.children]
        total = sum(visits)
        dist: dict[Move, float] = {}
        for m, v in zip(root.moves, visits):
            dist[m] = dist.get(m, 0.0) + (v / total if total else 1.0 / len(visits))
        if self.temperature > 0 and total:
            ws = np.array([v ** (1.0 / self.temperature) for v in visits], dtype=float)
            i = int(self.rng.choice(len(visits), p=ws / ws.sum()))
        else:
            me = root.state.current_player - 1
            top = max(visits)

            def q(i: int) -> float:
                ch = root.children[i]
                return ch.w[me] / ch.n if ch is not None and ch.n else -2.0

            cands = [i for i, v in enumerate(visits) if v == top]
            bq = max(q(i) for i in cands)
            cands = [i for i in cands if q(i) >= bq]
            i = cands[int(self.rng.integers(len(cands)))] if len(cands) > 1 else cands[0]
        return root.moves[i], dist
