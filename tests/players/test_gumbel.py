"""The Gumbel root (engine.players.gumbel) and per-seat (max-n) values in MCTS."""
from __future__ import annotations

import numpy as np
import pytest

from engine import legal_moves
from engine.players import MCTSPlayer, make_player
from engine.players.gumbel import completed_q, halving_phases, improved_policy
from engine.players.mcts import Node
from engine.players.move_scoring import child_state

from tests.engine.helpers import make_state
from tests.players.helpers import random_position
from tests.players.test_search import _winning_position, _wins


class Spy(MCTSPlayer):
    """Keeps the root of the last search, to inspect the tree."""

    def _run_batch(self, root, size, firsts=None):
        self.root_node = root
        return super()._run_batch(root, size, firsts)


@pytest.mark.parametrize("sims", [8, 16])
@pytest.mark.parametrize("kw", [{}, {"lookahead": False, "priors": False}], ids=["heuristic", "uniform-static"])
def test_gumbel_takes_the_win_at_low_budgets_and_returns_a_policy_over_legal_moves(sims, kw):
    s = _winning_position()
    legal = legal_moves(s)
    for seed in range(3):
        p = MCTSPlayer(seed=seed, simulations=sims, root="gumbel", **kw)
        move, dist = p.search(s)
        assert _wins(s, move)
        assert p.last_simulations == sims
        assert set(dist) == set(legal) and sum(dist.values()) == pytest.approx(1.0)
        assert all(v > 0 for v in dist.values())  # the improved policy covers every legal move
        assert sum(v for m, v in dist.items() if _wins(s, m)) > 0.5


def test_uniform_priors_need_the_search_puct_misses_the_win_where_gumbel_does_not():
    """With uniform priors and a static value, PUCT's 8 visits go to the first few moves;
    the Gumbel root spreads them over 8 candidates and measures the win."""
    s = _winning_position()
    kw = {"lookahead": False, "priors": False, "simulations": 8}
    assert all(_wins(s, MCTSPlayer(seed=k, root="gumbel", **kw).choose(s)) for k in range(5))
    assert not any(_wins(s, MCTSPlayer(seed=k, **kw).choose(s)) for k in range(5))


def test_gumbel_is_deterministic_for_a_seed():
    s = random_position("square8", 2, seed=4, plies=60)
    runs = [MCTSPlayer(seed=9, simulations=24, root="gumbel", noise=True, batch_size=4).search(s)
            for _ in range(2)]
    assert runs[0][0] == runs[1][0]
    assert runs[0][1] == runs[1][1]
    others = {MCTSPlayer(seed=k, simulations=24, root="gumbel", noise=True).search(s)[0] for k in range(8)}
    assert len(others) > 1  # the Gumbel noise samples in selfplay


def test_sequential_halving_spends_the_budget_and_the_survivor_has_the_most_visits():
    s = random_position("square8", 2, seed=21, plies=90)
    assert len(legal_moves(s)) >= 8
    p = Spy(seed=3, simulations=40, root="gumbel", gumbel_k=8, batch_size=3)
    move, _ = p.search(s)
    root = p.root_node
    visits = [ch.n if ch is not None else 0 for ch in root.children]
    assert sum(visits) == p.last_simulations == 40 and root.n == 41  # + the root's own evaluation
    assert sum(v > 0 for v in visits) == 8  # exactly the k candidates were simulated
    assert visits[root.moves.index(move)] == max(visits)
    assert [halving_phases(m) for m in (1, 2, 3, 4, 5, 16)] == [1, 1, 2, 2, 3, 4]


def test_completed_q_fills_unvisited_moves_with_the_value_mix():
    priors = np.array([0.5, 0.3, 0.2])
    visits = np.array([3.0, 1.0, 0.0])
    q = np.array([0.2, 0.6, 0.0])
    cq = completed_q(priors, visits, q, root_value=0.4)
    mix = (0.4 + 4 * (0.5 * 0.2 + 0.3 * 0.6) / 0.8) / 5
    assert cq.tolist() == pytest.approx([0.2, 0.6, mix])
    assert completed_q(priors, np.zeros(3), q, 0.1).tolist() == [0.1, 0.1, 0.1]
    pol = improved_policy(np.log(np.full(3, 1 / 3)), cq, visits.max())
    assert pol.sum() == pytest.approx(1.0) and pol[1] > pol[2] > pol[0]  # 0.6 > mix (0.36) > 0.2


def test_a_node_selects_by_its_movers_own_seat_value():
    """3 players, P2 to move: child A is best for P1, B for P2, C worst for P1 (a 2-player
    negamax backup, which scores a child by the negated value of the other side, would pick C)."""
    s = random_position("square8", 3, seed=2, plies=50)
    s.current_player = 2
    node = Node(s)
    moves = legal_moves(s)[:3]
    node.expand(moves, None)
    node.n = 30
    node.w = [0.0, 0.0, 0.0]
    for i, w in enumerate([[0.9, 0.1, 0.0], [0.0, 0.7, -0.7], [-0.9, 0.3, 0.6]]):
        ch = node.children[i] = Node(child_state(s, moves[i]))
        ch.n, ch.w = 10, [10 * v for v in w]
    assert MCTSPlayer(seed=0, c_puct=0.1)._best_child(node) == 1


@pytest.mark.parametrize("root", ["puct", "gumbel"])
def test_three_player_search_backs_up_a_value_per_seat(root):
    """P1 places 1, 2 or 3 rings. Placing one is worth 0.6 to P1 (and +0.9 / -0.9 to P2 / P3);
    placing more is worth 0.4 to P1 and -1 to both opponents. Max-n chooses by P1's own seat
    (one ring); a backup of one number, P1's minus its opponents' (or the negated value of the
    next player, as 2-player negamax does), would choose two or three rings."""
    collapsed = {f"{x},{y}": 1 + (x + 8 * y) % 3 for x in range(8) for y in range(1, 8)}
    s = make_state("square8", 3, collapsed=collapsed, hands=[18, 18, 18], phase="ring_placement")
    one, more = [0.6, 0.9, -0.9], [0.4, -1.0, -1.0]
    assert one[0] - np.mean(one[1:]) < more[0] - np.mean(more[1:]) and -one[1] < -more[1]

    class ByHand:
        def evaluate(self, states):
            return [(None, [0.0] * 3 if st.status != "active" else one if st.hand[1] == 17 else more)
                    for st in states]

    for seed in range(3):
        p = Spy(seed=seed, simulations=48, evaluator=ByHand(), root=root, batch_size=4)
        assert p.choose(s).count == 1
        stack, nodes = [p.root_node], 0
        while stack:
            nd = stack.pop()
            nodes += 1
            assert len(nd.w) == 3
            stack.extend(ch for ch in nd.children if ch is not None)
        assert nodes > 40


def test_root_option_through_make_player():
    p = make_player("mcts:simulations=16,root=gumbel,gumbel_k=4", seed=0)
    assert p.root == "gumbel" and p.gumbel_k == 4
    with pytest.raises(ValueError, match="root"):
        make_player("mcts:root=alphazero", seed=0)
