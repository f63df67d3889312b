"""One evaluation game kept as a full record: replayed from the match seed, accepted only when every move
matches the rated game (its fingerprint), and drawable by the viewer."""
from __future__ import annotations

import json
from pathlib import Path

from engine.arena import play_match
from engine.players import make_player
from viewer.evalgame import keep_evaluation_game
from viewer.frames import replay_frames


def test_an_evaluation_game_is_replayed_exactly_and_kept(tmp_path: Path) -> None:
    specs = ["heuristic", "random"]
    match = play_match("hex8", specs, 4, seed=11, move_cap=300, opening_plies=2, factory=make_player)
    out = tmp_path / "evaluate-i1-games.jsonl"
    assert keep_evaluation_game(out, "hex8", specs, ["cand", "D1"], 11, match.games, factory=make_player,
                                move_cap=300, opening_plies=2, game_id="eval-hex8_2p-i1-vs-D1")
    record = json.loads(out.read_text().splitlines()[0])
    game = next((g for g in match.games if g.winner == 0), match.games[0])
    assert len(record["moves"]) == game.moves and record["metadata"]["matchGame"] == game.index
    assert record["players"][game.seats.index(0)]["aiType"] == "cand"  # the candidate's seat is named
    assert record["winner"] == game.winner_seat
    rep = replay_frames(record)
    assert rep.error is None and rep.final.winner == game.winner_seat


def test_a_game_that_does_not_replay_is_not_kept(tmp_path: Path) -> None:
    specs = ["heuristic", "random"]
    match = play_match("hex8", specs, 2, seed=11, move_cap=300, opening_plies=2, factory=make_player)
    out = tmp_path / "games.jsonl"
    # a different seed plays different games: the fingerprints disagree, so nothing is written
    assert not keep_evaluation_game(out, "hex8", specs, ["cand", "D1"], 12, match.games, factory=make_player,
                                    move_cap=300, opening_plies=2, game_id="x")
    assert not out.exists()
