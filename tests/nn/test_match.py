"""Batched net matches play the arena's games: same seatings, openings and seeds, SPRT in game order."""
from engine.arena import play_match
from engine.nn.match import _extend, play_net_match
from engine.nn.model import NetConfig, build_model, save_model
from engine.ratings import Sprt
from engine.arena import MatchResult

TINY = {"channels": 8, "blocks": 1, "policy_channels": 4, "value_channels": 4, "value_hidden": 8}


def test_engine_players_play_the_same_games_as_the_arena():
    a = play_match("hex8", ["D1", "D2"], 6, seed=3, opening_plies=4)
    b = play_net_match("hex8", ["D1", "D2"], 6, seed=3, opening_plies=4, workers=2, concurrency=2)
    assert [g.fingerprint for g in a.games] == [g.fingerprint for g in b.games]
    assert [g.seats for g in a.games] == [g.seats for g in b.games]


def test_a_net_plays_an_engine_player_with_seats_rotated(tmp_path):
    path = tmp_path / "net.pt"
    save_model(build_model(NetConfig(board_type="hex8", num_players=2, **TINY)), path)
    m = play_net_match("hex8", [f"net:{path}", "D1"], 4, seed=1, sims=4, workers=1, concurrency=4,
                       opening_plies=2, move_cap=60)
    assert [g.index for g in m.games] == [0, 1, 2, 3]
    assert {g.seats for g in m.games} == {(0, 1), (1, 0)}
    assert all(g.moves <= 60 for g in m.games)


def test_the_sprt_stops_at_the_first_decided_rotation_even_inside_a_wave():
    won = play_match("hex8", ["D3", "D1"], 24, seed=2, opening_plies=2).games
    match = MatchResult("hex8", 2, ("D3", "D1"))
    assert _extend(match, won, Sprt(0, 200, 0.05, 0.05))  # a heuristic beats random quickly
    assert len(match.games) < 24 and len(match.games) % 2 == 0 and match.sprt.decision == "H1"


def test_net_form_recognises_search_players_the_batched_match_can_play():
    from engine.nn.match import net_form
    assert net_form("neural:model=a.pt,sims=16") == ("net:a.pt", 16, {})
    assert net_form("D9:model=a.pt") == ("net:a.pt", 64, {"root": "gumbel"})  # the ladder's D9 budget and root
    assert net_form("neural:model=a.pt,sims=16,root=gumbel") == ("net:a.pt", 16, {"root": "gumbel"})
    assert net_form("D9") is None and net_form("D3") is None
    assert net_form("neural:model=a.pt,sims=16,temperature=1") is None  # other settings: the arena plays it
