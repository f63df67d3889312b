"""Ratings: Elo arithmetic, anchored Bradley-Terry, SPRT decisions, openskill, no config mixing."""
from __future__ import annotations

import math
import random

import pytest

from engine.arena import play_match
from engine.ratings import (
    RatingConfigError, RatingPool, Sprt, bradley_terry, elo_from_score, elo_update,
    expected_score, score_interval,
)

from .tiny import tiny_factory


def test_elo_update_matches_hand_computed_values():
    # E = 1 / (1 + 10^(100/400)) = 0.3599350
    assert expected_score(1500, 1600) == pytest.approx(0.3599350, abs=1e-7)
    ra, rb = elo_update(1500, 1600, 1.0)  # 32 * (1 - 0.3599350) = 20.48208
    assert (ra, rb) == (pytest.approx(1520.48208, abs=1e-5), pytest.approx(1579.51792, abs=1e-5))
    ra, rb = elo_update(1500, 1600, 0.5, k=16)  # 16 * (0.5 - 0.3599350) = 2.24104
    assert (ra, rb) == (pytest.approx(1502.24104, abs=1e-5), pytest.approx(1597.75896, abs=1e-5))


def test_score_to_elo_and_interval():
    assert elo_from_score(0.5) == 0
    assert elo_from_score(0.75) == pytest.approx(190.85, abs=0.01)  # 400 log10(3)
    assert elo_from_score(1.0) == math.inf
    est = score_interval([1.0] * 60 + [0.0] * 40)
    assert est.score == 0.6 and est.lo == pytest.approx(0.6 - 1.96 * math.sqrt(0.24 * 100 / 99 / 100), abs=1e-3)
    assert est.elo_lo < est.elo < est.elo_hi
    perfect = score_interval([1.0] * 20)  # zero variance: Wilson interval, not [1, 1]
    assert perfect.hi == 1.0 and 0.8 < perfect.lo < 0.9


def _synthetic(true: dict[str, float], games_per_pair: int, seed: int) -> list[tuple[str, str, float]]:
    rng, names, out = random.Random(seed), sorted(true), []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            p = expected_score(true[a], true[b])
            out += [(a, b, 1.0 if rng.random() < p else 0.0) for _ in range(games_per_pair)]
    rng.shuffle(out)
    return out


def test_bradley_terry_recovers_known_strengths_within_its_intervals():
    true = {"random": 0.0, "p1": 120.0, "p2": 250.0, "p3": 400.0}
    fit = bradley_terry(_synthetic(true, 400, seed=1), anchors={"random": 0.0}, prior_draws=0)
    for name, elo in true.items():
        r = fit[name]
        assert r.lo <= elo <= r.hi, (name, r)
    assert fit["random"].anchored and fit["random"].elo == 0.0
    assert 20 < fit["p3"].hi - fit["p3"].lo < 120


def test_bradley_terry_is_anchored_and_order_free():
    games = _synthetic({"random": 0.0, "a": 150.0, "b": 300.0}, 100, seed=2)
    fit = bradley_terry(games, {"random": 0.0})
    again = bradley_terry(list(reversed(games)), {"random": 0.0})
    assert {k: round(v.elo, 6) for k, v in fit.items()} == {k: round(v.elo, 6) for k, v in again.items()}
    moved = bradley_terry(games, {"random": 1000.0})
    assert moved["b"].elo == pytest.approx(fit["b"].elo + 1000.0)
    perfect = bradley_terry([("a", "random", 1.0)] * 30, {"random": 0.0})  # prior keeps it finite
    assert 300 < perfect["a"].elo < 1000
    with pytest.raises(ValueError, match="anchor"):
        bradley_terry(games + [("x", "y", 1.0)], {"random": 0.0})


def _sprt_run(true_elo: float, sprt: Sprt, seed: int, cap: int = 3000) -> str:
    rng, w, d, l = random.Random(seed), 0, 0, 0
    p_win, p_draw = expected_score(true_elo, 0) - 0.1, 0.2  # 20% draws, same mean score
    for i in range(cap):
        u = rng.random()
        w, d, l = (w + 1, d, l) if u < p_win else (w, d + 1, l) if u < p_win + p_draw else (w, d, l + 1)
        if i % 4 == 3:
            res = sprt.test(w, d, l)
            if res.decision != "continue":
                return res.decision
    return "continue"


def test_sprt_accepts_h1_for_a_clearly_stronger_player_and_h0_for_equals():
    sprt = Sprt(elo0=0, elo1=70)
    strong = [_sprt_run(150, sprt, seed) for seed in range(20)]
    equal = [_sprt_run(0, sprt, seed) for seed in range(20)]
    assert strong.count("H1") >= 19, strong
    assert equal.count("H0") >= 17, equal  # alpha = 0.05: a rare false H1 is allowed
    res = sprt.test(30, 0, 0)
    assert res.decision == "H1" and res.llr == pytest.approx(30 * math.log(expected_score(70, 0) / 0.5), rel=1e-3)
    assert "accept H1" in res.describe()
    with pytest.raises(ValueError):
        Sprt(50, 10)


def test_pool_uses_openskill_for_multiplayer_and_refuses_other_configs():
    m = play_match("square8", ["greedy", "random", "first"], 12, seed=2, factory=tiny_factory)
    pool = RatingPool("square8", 3)
    pool.add_match(m)
    skill = pool.openskill(anchor="random")
    assert skill["random"][0] == 0.0
    by_score = sorted(range(3), key=lambda e: m.score(e).score)
    assert sorted(m.specs, key=lambda s: skill[s][0]) == [m.specs[e] for e in by_score]
    assert all(sigma < 25 / 3 for _, sigma in skill.values())  # games shrank the default sigma
    with pytest.raises(RatingConfigError, match="Bradley-Terry is for 2-player"):
        pool.fit({"random": 0.0})
    with pytest.raises(RatingConfigError, match="square8 3p, not hex8 3p"):
        pool.add_game("hex8", ["a", "b", "c"], [1, 2, 3])
    with pytest.raises(RatingConfigError):
        pool.add_game("square8", ["a", "b"], [1, 2])
    with pytest.raises(RatingConfigError):
        pool.merge(RatingPool("square8", 4))


def test_two_player_pool_fits_and_keeps_sequential_elo():
    pool = RatingPool("square8", 2)
    pool.add_match(play_match("square8", ["greedy", "random"], 20, seed=4, factory=tiny_factory))
    assert pool.elo["greedy"] > 1500 > pool.elo["random"]
    assert sum(pool.elo.values()) == pytest.approx(3000)
    fit = pool.fit({"random": 0.0})
    assert fit["greedy"].lo > 0 and fit["random"].elo == 0.0
    with pytest.raises(RatingConfigError):
        pool.add_match(play_match("hex8", ["random", "random"], 2, seed=0))


def test_connected_groups_split_players_that_never_met():
    from engine.ratings import connected_groups

    groups = connected_groups([("D3", "D1"), ("D4", "D2"), ("D5", "D3")])
    assert sorted(map(sorted, groups)) == [["D1", "D3", "D5"], ["D2", "D4"]]
