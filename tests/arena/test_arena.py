"""Matches: seats rotate fairly, results are a function of the seed alone, SPRT stops early."""
from __future__ import annotations

import itertools
from collections import Counter

import pytest

from engine import new_game
from engine.arena import finishing_ranks, play_match, seating
from engine.ratings import Sprt

from .tiny import tiny_factory


@pytest.mark.parametrize("n", [2, 3, 4])
def test_every_entrant_sits_every_seat_equally_often_in_each_block(n):
    for block in range(8):
        games = [seating(n, block * n + r) for r in range(n)]
        for seat in range(n):
            assert sorted(g[seat] for g in games) == list(range(n))
        assert all(sorted(g) == list(range(n)) for g in games)


@pytest.mark.parametrize("n", [3, 4])
def test_multiplayer_seatings_cover_every_ordering(n):
    """Who follows whom matters with 3-4 players: n! games hold every seating exactly once."""
    seen = Counter(seating(n, i) for i in range(len(list(itertools.permutations(range(n))))))
    assert set(seen) == set(itertools.permutations(range(n)))
    assert set(seen.values()) == {1}


def test_match_counts_seats_and_wins_consistently():
    m = play_match("square8", ["greedy", "random", "first"], 12, seed=5, factory=tiny_factory)
    assert m.seat_counts() == [[4, 4, 4]] * 3
    assert sum(m.wins()) + m.draws == 12 == sum(m.seat_wins()) + m.draws
    for g in m.games:
        assert g.specs == tuple(m.specs[e] for e in g.seats)
        assert g.winner_spec in (None, *m.specs) and g.moves > 0
    # Rank scores: each game hands out n(n-1)/2 / (n-1) = 1.5 points among 3 players.
    assert sum(sum(m.scores(e)) for e in range(3)) == pytest.approx(12 * 1.5)


def test_same_seed_same_games_for_any_worker_count():
    kw = dict(seed=11, factory=tiny_factory, opening_plies=2)
    one = play_match("square8", ["greedy", "random"], 8, workers=1, **kw)
    two = play_match("square8", ["greedy", "random"], 8, workers=2, **kw)
    assert one.games == two.games
    assert play_match("square8", ["greedy", "random"], 8, **{**kw, "seed": 12}).games != one.games


def test_sprt_early_stop_is_deterministic_and_on_a_block_boundary():
    sprt = Sprt(0, 100)
    runs = [play_match("square8", ["greedy", "random"], 200, seed=3, workers=w, sprt=sprt,
                       factory=tiny_factory) for w in (1, 2)]
    a, b = runs
    assert a.sprt.decision == "H1" and len(a.games) < 200 and len(a.games) % 2 == 0
    assert a.games == b.games and a.sprt == b.sprt


def test_deterministic_players_repeat_without_a_random_opening():
    plain = play_match("square8", ["first", "first"], 6, seed=1, factory=tiny_factory)
    assert plain.distinct_games == 1  # the same deterministic player in both seats: one game
    varied = play_match("square8", ["first", "first"], 6, seed=1, factory=tiny_factory,
                        opening_plies=4)
    assert varied.distinct_games == 3  # one opening per seat-rotation block
    assert varied.labels == ["first (a)", "first (b)"]


def test_finishing_ranks_put_the_winner_first_and_share_ties():
    s = new_game("square8", 3)
    assert finishing_ranks(s) == (2.0, 2.0, 2.0)  # no winner: all level
    s.winner, s.elim = 2, [0, 5, 9, 1]
    assert finishing_ranks(s) == (2.0, 1.0, 3.0)
    s.elim = [0, 3, 9, 3]
    assert finishing_ranks(s) == (2.5, 1.0, 2.5)


def test_bad_requests_fail_before_any_game():
    with pytest.raises(ValueError, match="2 to 4"):
        play_match("square8", ["random"], 2)
    with pytest.raises(ValueError, match="unknown engine"):
        play_match("square8", ["random", "nonsense"], 2)
    with pytest.raises(Exception):
        play_match("nosuchboard", ["random", "random"], 2)


def test_on_game_can_stop_a_match_at_the_end_of_a_rotation_block():
    m = play_match("square8", ["random", "random", "random"], 30, seed=1,
                   on_game=lambda g, m: len(m.games) >= 4)
    assert len(m.games) == 6


def test_summary_is_json_ready():
    import json

    m = play_match("square8", ["greedy", "random"], 4, seed=1, factory=tiny_factory, sprt=Sprt())
    d = json.loads(json.dumps(m.as_dict()))
    assert d["games"] == 4 and [e["spec"] for e in d["entrants"]] == ["greedy", "random"]
    assert d["sprt"]["decision"] in ("H0", "H1", "continue") and len(d["seatWinRates"]) == 2


def test_workers_are_spawned_once_this_process_has_started_cuda(monkeypatch):
    """A forked child cannot use CUDA its parent started, so neural players in match workers would
    fail: the pool spawns instead, and forks (the fast default) otherwise."""
    import multiprocessing

    import torch

    from engine import arena

    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    assert arena._pool_context().get_start_method() == "spawn"
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    assert arena._pool_context().get_start_method() == multiprocessing.get_start_method()


def _threads() -> int:
    import torch
    return torch.get_num_threads()


def test_match_workers_run_one_torch_thread():
    """Two workers with torch's default thread count each oversubscribe the cores (OpenMP spins)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from engine.arena import _one_thread_per_worker
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_one_thread_per_worker) as pool:
        assert pool.submit(_threads).result() == 1
