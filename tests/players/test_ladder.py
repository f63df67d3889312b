"""The ladder table and `make_player` specs."""
from __future__ import annotations

import pytest

from engine.players import HeuristicPlayer, MCTSPlayer, RandomPlayer, make_player, parse_spec
from engine.players.ladder import TIERS, LadderError, load_ladder, parse_ladder


def test_repository_ladder_maps_every_tier():
    ladder = load_ladder()
    assert set(ladder.tiers) == set(TIERS)
    assert ladder.tiers["D1"].engine == "random"
    assert ladder.tiers["D2"].engine == ladder.tiers["D3"].engine == "heuristic"
    assert {ladder.tiers[t].engine for t in ("D4", "D5")} == {"minimax"}
    assert ladder.tiers["D6"].engine == "mcts" and ladder.tiers["D8"].engine == "descent"
    assert ladder.non_neural()[-1] == "D8"
    for t in TIERS:
        p = make_player(t, seed=3)
        assert p.name == t and callable(p.choose)


def test_tier_overrides_and_spec_strings():
    p = make_player("D6", seed=1, simulations=3)
    assert isinstance(p, MCTSPlayer) and p.simulations == 3
    q = make_player("mcts:simulations=7,noise=true,c_puct=2.5", seed=1)
    assert (q.simulations, q.noise, q.c_puct) == (7, True, 2.5)
    assert isinstance(make_player("d1"), RandomPlayer)
    assert isinstance(make_player("heuristic", seed=None), HeuristicPlayer)
    assert parse_spec("descent") == ("descent", {})


@pytest.mark.parametrize("spec,match", [
    ("alphazero", "unknown engine 'alphazero'"),
    ("mcts:simulations", "expected name=value"),
    ("mcts:sims=3", "sims"),
])
def test_bad_specs_are_refused(spec, match):
    with pytest.raises(ValueError, match=match):
        make_player(spec, seed=0)


GOOD = """
version: 1
tiers:
  D1: {engine: random}
  D2: {engine: heuristic}
  D3: {engine: heuristic}
  D4: {engine: minimax, params: {nodes: 10}}
  D5: {engine: minimax}
  D6: {engine: mcts}
  D7: {engine: descent}
  D8: {engine: mcts}
  D9: {engine: mcts, neural: true}
  D10: {engine: mcts, neural: true}
"""


def test_a_valid_ladder_parses():
    lad = parse_ladder(GOOD, "x.yaml")
    assert lad.non_neural() == [f"D{i}" for i in range(1, 9)]


@pytest.mark.parametrize("edit,match", [
    (("  D4: {engine: minimax, params: {nodes: 10}}", "  D4: {engine: minimax, params: {nodez: 10}}"),
     r"x\.yaml: tier D4: minimax has no parameter 'nodez'"),
    (("  D7: {engine: descent}\n", ""), r"x\.yaml: missing tier D7"),
    (("  D6: {engine: mcts}", "  D6: {engine: alphabeta}"), r"x\.yaml: tiers\.D6\.engine"),
    (("  D1: {engine: random}", "  D1: {engine: random}\n  D11: {engine: random}"), "unknown tier 'D11'"),
    (("version: 1", "version: [1"), "not valid YAML"),
])
def test_bad_ladders_are_refused_with_file_and_place(edit, match):
    with pytest.raises(LadderError, match=match):
        parse_ladder(GOOD.replace(*edit), "x.yaml")
